/*
 * Full input Jacobians, K x D per example (numerator layout: row c is the
 * gradient of output c), three ways that must agree:
 *
 * of the probabilities ŷ = S(o) or of the outputs o (the logits θ when the net
 * has no output activation, a_out(θ) otherwise; the first factor then gains
 * diag(a_out'(θ))):
 *
 *   rev     K VJPs per example. The forward pass is done once; its activations
 *           are replicated K times and the K basis cotangents (e_c on the outputs,
 *           or e_c (diag(ŷ) − ŷᵀŷ) through the softmax VJP) are pulled back
 *           together by cr_net_vjp: every layer is one (N·K)-row gemm.
 *   fwd     D JVPs per example: tangents = the rows of I_D, pushed forward
 *           together by cr_net_jvp (one (N·D)-row gemm per layer), transposed.
 *   closed  the product of the Jacobians, as docs/design.md section 4 writes it:
 *             M = (diag(ŷ) − ŷᵀŷ  or  I) W_Lᵀ diag(a'_{L−1}) ... W_2ᵀ diag(a'_1) W_1ᵀ
 *           left to right, all examples stacked: each "· W_lᵀ" is one gemm
 *           with (N·K) rows and each "· diag(a')" scales the columns of every
 *           example's K rows by its own a' (no diagonal matrix is formed). The
 *           first factor is never formed either: (diag(ŷ) − ŷᵀŷ) W_Lᵀ is a
 *           diagonal scaling minus a rank-one term. In float32 the last step,
 *           "· diag(a'_1) W_1ᵀ", is one pass of kernels/abt.h, which writes each
 *           value of the Jacobian once and, for the probabilities, derives one
 *           row per example from the others (the rows of ∂ŷ/∂x sum to zero).
 *
 * The examples are cut into fixed chunks, one task each (core/parallel.h): a
 * worker runs its chunk's forward pass and chain with single-threaded gemms,
 * so "N" above is a chunk, and the split does not change the numbers.
 *
 * Cost per example: rev and closed ~ K·(Σ d_l d_{l+1}) multiply-adds, fwd
 * ~ D·(Σ d_l d_{l+1}); for D = 784, K = 10 reverse is ~80× cheaper, which is
 * what `auto` decides from K and D.
 */
#include "core/fail.h"
#include "kernels/abt.h"
#include "core/parallel.h"
#include "input_util.tmpl.h"

/* Examples per task: closed and rev run (chunk·K)-row gemms, fwd (chunk·D)-row
   ones; a chunk's scratch stays within a core's L2. */
enum { JAC_CLOSED_CHUNK = 128, JAC_REV_ROWS = 1280, JAC_FWD_ROWS = 2048 };

/* One worker's scratch, allocated by its first task. */
typedef struct {
    int ready;
    cr_tape *t1;     /* the forward pass of the chunk's examples */
    cr_tape *rep;    /* rev, fwd: the examples replicated K (rev) or D (fwd) times */
    real *a, *b, *c; /* the mode's buffers, see jac_scratch_init */
    size_t *derived; /* closed, float32 with pk: the row of each example left to the zero row sum */
} FN(jac_scratch);

typedef struct {
    const cr_net *net;
    const real *x;
    int of_probs;
    real *jac;
    size_t n, chunk;
    cr_jac_mode mode;
    /* closed: the last layer's weights transposed (K × d_{L−1}); float32: W_0 packed
       for the forward product and the fused last step M diag(a'(r_0)) W_0ᵀ (iu_pack) */
    real *w_last_t;
    iu_packs pk;
    FN(jac_scratch) s[CR_MAX_WORKERS];
} FN(jac_job);

static void FN(jac_scratch_free)(FN(jac_scratch) *s) {
    cr_tape_free(s->t1);
    cr_tape_free(s->rep);
    free(s->a);
    free(s->b);
    free(s->c);
    free(s->derived);
}

static size_t FN(jac_widest)(const cr_net *net) { /* widest factor left of W_1ᵀ */
    size_t w = net->dims[net->n_layers];
    for (int l = 1; l < net->n_layers; l++) w = net->dims[l] > w ? net->dims[l] : w;
    /* and v = ŷ W_{L−1}ᵀ (top = dims[L−1] values), which is D wide for one layer */
    const size_t top = net->dims[net->n_layers - 1];
    return top > w ? top : w;
}

static cr_status FN(jac_scratch_init)(const cr_net *net, cr_jac_mode mode, size_t chunk,
                                      int packed, FN(jac_scratch) *s) {
    const size_t d = net->dims[0], k = net->dims[net->n_layers], r = sizeof(real);
    const unsigned long fails = cr_fail_count(); /* a tape's own failure line is kept */
    int ok = cr_tape_create(net, chunk, &s->t1) == CR_OK;
    switch (mode) {
    case CR_JAC_REV: /* a: the K cotangents of each example */
        ok = ok && cr_tape_create(net, chunk * k, &s->rep) == CR_OK;
        ok = ok && (s->a = malloc(chunk * k * k * r));
        break;
    case CR_JAC_FWD: /* a: chunk stacked copies of I_D; b: the pushed-forward outputs */
        ok = ok && cr_tape_create(net, chunk * d, &s->rep) == CR_OK;
        ok = ok && (s->a = calloc(chunk * d * d, r)) && (s->b = malloc(chunk * d * k * r));
        if (ok)
            for (size_t i = 0; i < chunk; i++)
                for (size_t j = 0; j < d; j++) s->a[(i * d + j) * d + j] = 1;
        break;
    default: { /* closed, a/b: the product so far (two buffers); c: act' of a layer */
        size_t w = FN(jac_widest)(net);
        ok = ok && (s->a = malloc(chunk * k * w * r)) && (s->b = malloc(chunk * k * w * r)) &&
             (s->c = malloc((chunk * w + k) * r)); /* + a_out'(θ) of one example */
        if (packed) ok = ok && (s->derived = malloc(chunk * sizeof(size_t)));
    }
    }
    s->ready = 1; /* freed by the caller even when incomplete */
    if (ok) return CR_OK;
    return cr_fail_count() != fails ? cr_last_status() : cr_fail_nomem("cr_net_input_jacobian: a worker's scratch", 0);
}

/* rev: K VJPs for each of the m examples of x, all in one (m·K)-row chain
   (in float32 with its two large products by the packed kernel, iu_pack). */
static cr_status FN(jac_rev)(const FN(jac_job) *job, FN(jac_scratch) *s, size_t m,
                             const real *x, real *jac) {
    const cr_net *net = job->net;
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    cr_status st = FN(iu_forward)(net, s->t1, m, x, &job->pk);
    if (st != CR_OK) return st;
    FN(iu_replicate)(net, s->t1, 0, m, k, s->rep);
    const real *yhat = s->rep->post[L - 1];
    for (size_t r = 0; r < m * k; r++) /* row (i, c): cotangent for output c */
        FN(iu_class_cotangent)(k, r % k, yhat + r * k, job->of_probs, s->a + r * k);
    return FN(iu_vjp_input)(net, s->rep, s->a, jac, &job->pk);
}

/* fwd: D JVPs for each of the m examples, one (m·D)-row chain, transposed. */
static cr_status FN(jac_fwd)(const cr_net *net, FN(jac_scratch) *s, size_t m, const real *x,
                             int of_probs, real *jac) {
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    cr_status st = FN(net_forward)(net, s->t1, m, x);
    if (st != CR_OK) return st;
    FN(iu_replicate)(net, s->t1, 0, m, d, s->rep);
    real *out = s->b;
    st = FN(net_jvp)(net, s->rep, s->a, of_probs ? NULL : out, of_probs ? out : NULL);
    if (st != CR_OK) return st;
    /* out row (i, j) = ∂output/∂x_j of example i (a column of the Jacobian) */
    for (size_t i = 0; i < m; i++) {
        real *ji = jac + i * k * d;
        const real *oi = out + i * d * k;
        for (size_t j = 0; j < d; j++)
            for (size_t c = 0; c < k; c++) ji[c * d + j] = oi[j * k + c];
    }
    return CR_OK;
}

/* Row c of every example i of rows: rows[(i k + c) d + j] *= s[i d + j], the
   product of each example's k rows with its diag(s). */
static void FN(scale_rows)(size_t m, size_t k, size_t d, const real *restrict s,
                           real *restrict rows) {
    for (size_t i = 0; i < m; i++) {
        const real *si = s + i * d;
        for (size_t c = 0; c < k; c++) {
            real *row = rows + (i * k + c) * d;
            for (size_t j = 0; j < d; j++) row[j] *= si[j];
        }
    }
}

/* closed: the product of the Jacobians for the m examples, stacked. In code
   indices (W_l = FN(iu_w)(net, l), r_l = pre[l]) the chain is
     M = ∂ŷ/∂θ W_{L−1}ᵀ diag(a'(r_{L−2})) W_{L−2}ᵀ ... diag(a'(r_0)) W_0ᵀ,
   with diag(a_l) of an affine link after layer l (BatchNorm) before W_lᵀ: after the
   last layer in job->w_last_t, the others in the loop below. */
static cr_status FN(jac_closed)(const FN(jac_job) *job, FN(jac_scratch) *s, size_t m,
                                const real *x, real *jac) {
    const cr_net *net = job->net;
    const int L = net->n_layers;
    const size_t k = net->dims[L], top = net->dims[L - 1];
    cr_tape *t1 = s->t1;
    cr_status st = FN(iu_forward)(net, t1, m, x, &job->pk);
    if (st != CR_OK) return st;
    /* M_i <- ∂ŷ_i/∂θ W_{L−1}ᵀ (K × top) without forming the softmax Jacobian:
       (diag(ŷ) − ŷᵀŷ) W_{L−1}ᵀ has rows ŷ_c (W_{L−1}ᵀ[c] − v), v = ŷ W_{L−1}ᵀ
       (diagonal minus rank one); of the logits, M_i = W_{L−1}ᵀ itself. */
    real *cur = L == 1 ? jac : s->a, *v = s->c;
    const real *wt = job->w_last_t; /* W_{L−1}ᵀ, K × top */
    /* with an output activation ∂o/∂θ = diag(a_out'(θ)) =: diag(d) comes first:
       M_i = ∂ŷ/∂o diag(d) W_{L−1}ᵀ, whose row c is ŷ_c (d_c W_{L−1}ᵀ[c] − v) with
       v = Σ_c ŷ_c d_c W_{L−1}ᵀ[c]; of the outputs, d_c W_{L−1}ᵀ[c] */
    real *d = net->has_out_act ? s->c + job->chunk * FN(jac_widest)(net) : NULL;
    for (size_t i = 0; i < m; i++) {
        real *mi = cur + i * k * top;
        if (d)
            R_ACT(net->out_act)->deriv(k, (const real *)t1->pre[L - 1] + i * k,
                                       (const real *)t1->out + i * k, d);
        if (!job->of_probs) {
            memcpy(mi, wt, k * top * sizeof(real));
            for (size_t c = 0; d && c < k; c++)
                for (size_t j = 0; j < top; j++) mi[c * top + j] *= d[c];
            continue;
        }
        const real *yhat = (const real *)t1->post[L - 1] + i * k;
        if (d) {
            for (size_t j = 0; j < top; j++) v[j] = 0;
            for (size_t c = 0; c < k; c++)
                for (size_t j = 0; j < top; j++) v[j] += yhat[c] * d[c] * wt[c * top + j];
            for (size_t c = 0; c < k; c++)
                for (size_t j = 0; j < top; j++)
                    mi[c * top + j] = yhat[c] * (d[c] * wt[c * top + j] - v[j]);
            continue;
        }
        for (size_t j = 0; j < top; j++) v[j] = 0;
        for (size_t c = 0; c < k; c++)
            for (size_t j = 0; j < top; j++) v[j] += yhat[c] * wt[c * top + j];
        for (size_t c = 0; c < k; c++)
            for (size_t j = 0; j < top; j++) mi[c * top + j] = yhat[c] * (wt[c * top + j] - v[j]);
    }
    /* M <- M diag(a'(r_{L−2})) W_{L−2}ᵀ ... diag(a'(r_0)) W_0ᵀ: the reverse walk's
       steps with K rows per example, each scaled by its example's a' (the table's
       deriv). In float32 the last product is one pass of the packed kernel, each
       value of the Jacobian written once; the K rows of ∂ŷ/∂x sum to zero
       (Σ_c ŷ_c = 1 whatever x), so for the probabilities the row of the most
       probable class is minus the sum of the others instead of one more row of
       products. */
    const cr_abt_packed *w0 = job->pk.w0.data ? &job->pk.w0 : NULL;
    if (w0 && job->of_probs)
        for (size_t i = 0; i < m; i++)
            s->derived[i] = FN(iu_argmax)(k, (const real *)t1->post[L - 1] + i * k);
    for (int l = L - 2; l >= 0; l--) { /* M on h_l (m·K rows) */
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        /* M <- M diag(a'(r_l)): each example's K rows times its a'(r_l) */
        R_ACT(net->act[l])->deriv(m * dout, t1->pre[l], t1->post[l], s->c);
        FN(scale_rows)(m, k, dout, s->c, cur);
        /* M <- M diag(γ/√(v + ε)): the affine link after layer l (BatchNorm), if any */
        FN(net_link_apply)(net, l, LINK_VJP, m * k, dout, 0, dout, cur);
        /* M <- M W_lᵀ, the linear op's VJP on K rows per example */
        real *next = l == 0 ? jac : cur == s->a ? s->b : s->a;
        FN(linear_vjp_share)(m, k, din, dout, FN(iu_w)(net, l), cur, 0, din, next, din,
                             l == 0 ? w0 : NULL, l == 0 && job->of_probs ? s->derived : NULL);
        cur = next;
    }
    if (net->link_form[0] != CR_AFFINE_NONE) { /* link 0: M <- M diag(a), the m·K rows */
        FN(affine) a;
        FN(net_affine)(net, 0, &a);
        FN(affine_vjp)(&a, m * k, net->dims[0], jac, jac);
    }
    return CR_OK;
}

/* Task t: the examples [t·chunk, ...) of the job, on worker w. */
static cr_status FN(jac_task)(void *ctx, size_t t, int w) {
    FN(jac_job) *job = ctx;
    const cr_net *net = job->net;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    const size_t i0 = t * job->chunk, m = job->n - i0 < job->chunk ? job->n - i0 : job->chunk;
    FN(jac_scratch) *s = &job->s[w];
    if (!s->ready) {
        cr_status st = FN(jac_scratch_init)(net, job->mode, job->chunk,
                                            job->pk.w0.data != NULL, s);
        if (st != CR_OK) return st;
    }
    const real *x = job->x + i0 * d;
    real *jac = job->jac + i0 * k * d;
    switch (job->mode) {
    case CR_JAC_REV: return FN(jac_rev)(job, s, m, x, jac);
    case CR_JAC_FWD: return FN(jac_fwd)(net, s, m, x, job->of_probs, jac);
    default: return FN(jac_closed)(job, s, m, x, jac);
    }
}

cr_status CR_TYPED(cr_net_input_jacobian_f32, cr_net_input_jacobian_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, int of_probs, cr_jac_mode mode, real *jac) {
    if (!net || !x || !jac || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG); /* no probabilities */
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    size_t tmp;
    if (cr_mul_size(n, k, &tmp) != CR_OK || cr_mul_size(tmp, d, &tmp) != CR_OK) return CR_FAIL(CR_ERR_OVERFLOW);
    mode = cr_jac_mode_resolve(mode, k, d);
    size_t chunk;
    switch (mode) {
    case CR_JAC_REV: chunk = JAC_REV_ROWS / k; break;
    case CR_JAC_FWD: chunk = JAC_FWD_ROWS / d; break;
    case CR_JAC_CLOSED: chunk = JAC_CLOSED_CHUNK; break;
    default: return CR_FAIL(CR_ERR_ARG);
    }
    chunk = cr_even_chunk(n, chunk == 0 ? 1 : chunk);
    /* the job is large (per-worker scratch slots): on the heap */
    FN(jac_job) *job = calloc(1, sizeof *job);
    if (!job) return CR_FAIL(CR_ERR_NOMEM);
    *job = (FN(jac_job)){.net = net, .x = x, .of_probs = of_probs, .jac = jac, .n = n,
                         .chunk = chunk, .mode = mode};
    const size_t tasks = (n + chunk - 1) / chunk;
    cr_status st = CR_OK;
    if (mode != CR_JAC_FWD) /* the large products by the packed kernel where it pays */
        st = FN(iu_pack)(net, jac, &job->pk);
    if (st == CR_OK && mode == CR_JAC_CLOSED) {
        const int L = net->n_layers;
        const size_t top = net->dims[L - 1];
        const real *w = FN(iu_w)(net, L - 1); /* top × K */
        if (!(job->w_last_t = malloc(k * top * sizeof(real))))
            st = cr_fail_nomem("cr_net_input_jacobian: W_L transposed", k * top * sizeof(real));
        for (size_t c = 0; st == CR_OK && c < k; c++)
            for (size_t j = 0; j < top; j++) job->w_last_t[c * top + j] = w[j * k + c];
        FN(affine) a; /* an affine link after the last layer (BatchNorm): ∂θ/∂h = diag(a) W_{L−1}ᵀ */
        if (st == CR_OK && net->link_form[L] != CR_AFFINE_NONE && FN(net_affine)(net, L, &a) == CR_OK) {
            real *diag = malloc(k * sizeof(real));
            if (!diag) st = cr_fail_nomem("cr_net_input_jacobian: the last link's diagonal", k * sizeof(real));
            else FN(affine_diag)(&a, k, diag);
            for (size_t c = 0; st == CR_OK && c < k; c++)
                for (size_t j = 0; j < top; j++) job->w_last_t[c * top + j] *= diag[c];
            free(diag);
        }
    }
    if (st == CR_OK) st = cr_parallel_for(cx, tasks, FN(jac_task), job);
    for (int w = 0; w < CR_MAX_WORKERS; w++) FN(jac_scratch_free)(&job->s[w]);
    iu_packs_free(&job->pk);
    free(job->w_last_t);
    free(job);
    return st;
}
