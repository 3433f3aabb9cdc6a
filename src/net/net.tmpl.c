/*
 * The chain of a network, for one scalar type (instantiated by net_f32.c and
 * net_f64.c). For the seed network (L = 2, sigmoid) this is
 *
 *   forward    r = xW1 + b1,  h = σ(r),  θ = hW2 + b2,  ŷ = S(θ),  J = −Σ y log ŷ
 *
 *   backward   ∂J/∂θ = ŷ − y                           fused softmax + CE     (N×K)
 *              ∂J/∂h = (ŷ − y) W2ᵀ                      VJP of linear 2        (N×H)
 *              ∂J/∂r = (ŷ − y) W2ᵀ ∘ h∘(1−h)            VJP of sigmoid         (N×H)
 *              ∂J/∂x = ((ŷ − y) W2ᵀ ∘ h∘(1−h)) W1ᵀ      VJP of linear 1        (N×D)
 *
 * and the same loop for any depth. Every step is a row gradient times the op's
 * Jacobian; "∘" is what that product becomes when the Jacobian is diagonal.
 *
 * The output link: θ is followed by the output o = a_out(θ) (or o = θ) and the
 * head on o (net->head): ŷ = S(o) with J = CE(ŷ, y), ∂J/∂o = ŷ − y, or the
 * regression head J = ½‖o − t‖², ∂J/∂o = o − t. The reverse walk starts from
 * a cotangent on o and takes the output activation's VJP first,
 * ∂J/∂θ = ∂J/∂o ∘ a_out'(θ).
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "net_private.tmpl.h"

static const real *FN(net_w)(const cr_net *net, int l) {
    return (const real *)net->params + net->w_offset[l];
}
static const real *FN(net_b)(const cr_net *net, int l) {
    return (const real *)net->params + net->b_offset[l];
}

/* The affine link after linear layer l (link l + 1) as a view of its vectors from
   column c0 on; 0 when layer l has none. */
static int FN(link_view)(const cr_net *net, int l, size_t c0, FN(affine) *a) {
    if (net->link_form[l + 1] == CR_AFFINE_NONE || FN(net_affine)(net, l + 1, a) != CR_OK)
        return 0;
    a->p += c0, a->q += c0, a->s += c0, a->t += c0;
    return 1;
}

/* One step of the affine op file (forward, VJP, JVP: the same signature). */
typedef void (*FN(link_step_fn))(const FN(affine) *a, size_t n, size_t d, const real *in, real *out);

void CR_TYPED(cr_net_link_apply_f32, cr_net_link_apply_f64)(const cr_net *net, int l, int step,
                                                           size_t m, size_t d, size_t c0,
                                                           size_t c1, real *v) {
    FN(affine) a;
    if (c1 <= c0 || !FN(link_view)(net, l, c0, &a)) return;
    FN(link_step_fn) f = step == LINK_FORWARD ? FN(affine_forward)
                         : step == LINK_VJP   ? FN(affine_vjp) /* (a planted one: ops/affine.h) */
                                              : FN(affine_jvp);
    if (c0 == 0 && c1 == d)
        f(&a, m, d, v, v);
    else
        for (size_t i = 0; i < m; i++) f(&a, 1, c1 - c0, v + i * d + c0, v + i * d + c0);
}

/* A tape fits a net made with the same dtype and widths (else buffers would overflow):
   CR_ERR_ARG for NULL or a tape of other widths, CR_ERR_DTYPE when the net or the
   tape is not of this function's dtype (an _f32 call on a float64 net). */
static cr_status FN(tape_check)(const cr_net *net, const cr_tape *tape) {
    if (!net || !tape) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE || tape->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (tape->n_layers != net->n_layers)
        return cr_fail(CR_ERR_ARG, "the tape has %d layers, the net %d: a tape of another net", tape->n_layers,
                       net->n_layers);
    if (tape->has_out_act != net->has_out_act || tape->head != net->head) return CR_FAIL(CR_ERR_ARG);
    for (int l = 0; l <= net->n_layers; l++)
        if (tape->dims[l] != net->dims[l])
            return cr_fail(CR_ERR_ARG, "the tape's width %d is %zu, the net's %zu: a tape of another net", l,
                           tape->dims[l], net->dims[l]);
    if (!cr_tape_fits_links(net, tape)) return CR_FAIL(CR_ERR_ARG);
    return CR_OK;
}

const real *CR_TYPED(cr_net_input_link_f32, cr_net_input_link_f64)(const cr_net *net,
                                                                   cr_tape *tape, size_t i0,
                                                                   size_t i1, const real *x) {
    if (net->link_form[0] == CR_AFFINE_NONE) return x;
    FN(affine) a;
    FN(net_affine)(net, 0, &a);
    const size_t d = net->dims[0];
    real *z = tape->input_z;
    if (i1 > i0) FN(affine_forward)(&a, i1 - i0, d, x + i0 * d, z + i0 * d);
    return z;
}

void CR_TYPED(cr_net_output_rows_f32, cr_net_output_rows_f64)(const cr_net *net, cr_tape *tape,
                                                             size_t i0, size_t i1) {
    const int L = net->n_layers;
    const size_t k = net->dims[L], m = i1 - i0;
    const real *theta = (const real *)tape->pre[L - 1] + i0 * k;
    real *o = (real *)tape->out + i0 * k;
    if (net->has_out_act)
        R_ACT(net->out_act)->forward(m * k, theta, o);
    else if (o != theta)
        memcpy(o, theta, m * k * sizeof(real));
    if (net->head == CR_HEAD_SOFTMAX_CE)
        FN(softmax_forward)(m, k, o, (real *)tape->post[L - 1] + i0 * k);
}

void CR_TYPED(cr_net_head_loss_f32, cr_net_head_loss_f64)(const cr_net *net, const cr_tape *tape,
                                                         size_t n, const real *y, real *loss) {
    const size_t k = net->dims[net->n_layers];
    if (net->head == CR_HEAD_SQUARED_ERROR)
        FN(squared_error_forward)(n, k, tape->out, y, loss);
    else
        FN(softmax_ce_forward)(n, k, tape->out, y, NULL, loss);
}

void CR_TYPED(cr_net_head_vjp_f32, cr_net_head_vjp_f64)(const cr_net *net, const cr_tape *tape,
                                                        size_t n, const real *y, real *g) {
    const size_t k = net->dims[net->n_layers];
    if (net->head == CR_HEAD_SQUARED_ERROR) /* G_o <- o − t */
        FN(squared_error_vjp)(n, k, tape->out, y, NULL, g);
    else /* G_o <- ŷ − y : the fused softmax + cross-entropy VJP */
        FN(softmax_ce_vjp)(n, k, tape->post[net->n_layers - 1], y, NULL, g);
}

void CR_TYPED(cr_net_forward_walk_f32, cr_net_forward_walk_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_abt_packed *w0t) {
    const int L = net->n_layers;
    const real *in = FN(net_input_link)(net, tape, 0, n, x); /* link 0: z = (x − μ) ⊘ σ */
    for (int l = 0; l < L; l++) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        real *r = tape->pre[l], *h = tape->post[l];
        /* r_l = h_{l−1} W_l + b_l: the linear op (layer 0 of a deep net by the packed kernel) */
        FN(linear_forward_share)(n, din, dout, in, FN(net_w)(net, l), FN(net_b)(net, l), 0, dout,
                                 r, l == 0 && L > 1 ? w0t : NULL);
        /* z_l = (r_l − μ)/√(v + ε)·γ + β: the affine link after layer l (BatchNorm), if any */
        FN(net_link_apply)(net, l, LINK_FORWARD, n, dout, 0, dout, r);
        if (l + 1 < L) /* h_l = act(r_l), through the op table */
            R_ACT(net->act[l])->forward(n * dout, r, h);
        in = h;
    }
    FN(net_output_rows)(net, tape, 0, n); /* o = a_out(θ), and ŷ = S(o) */
}

cr_status CR_TYPED(cr_net_forward_packed_f32, cr_net_forward_packed_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_abt_packed *w0t) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!x || n == 0) return cr_fail(CR_ERR_ARG, "cr_net_forward: %s", n == 0 ? "n = 0 rows" : "x is NULL");
    if (n > tape->max_batch)
        return cr_fail(CR_ERR_SHAPE, "cr_net_forward: n = %zu rows exceed the tape's max_batch %zu", n,
                       tape->max_batch);
    FN(net_forward_walk)(net, tape, n, x, w0t);
    tape->n = n;
    tape->input = x;
    return CR_OK;
}

cr_status CR_TYPED(cr_net_forward_f32, cr_net_forward_f64)(const cr_net *net, cr_tape *tape,
                                                           size_t n, const real *x) {
    return FN(net_forward_packed)(net, tape, n, x, NULL);
}

real CR_TYPED(cr_net_loss_f32, cr_net_loss_f64)(const cr_net *net, cr_tape *tape, const real *y) {
    if (FN(tape_check)(net, tape) != CR_OK || !y || tape->n == 0) return (real)NAN; /* no forward pass */
    const int L = net->n_layers;
    size_t n = tape->n, k = net->dims[L];
    real *loss = tape->loss;
    (void)k;
    FN(net_head_loss)(net, tape, n, y, loss);
    double sum = 0; /* accumulate in double: the mean of 60000 float losses */
    for (size_t i = 0; i < n; i++) sum += loss[i];
    return (real)(sum / (double)n);
}

void CR_TYPED(cr_net_diag_vjp_f32, cr_net_diag_vjp_f64)(void *ctx, const FN(diag_link) *k) {
    (void)ctx;
    const real_act_ops *act = R_ACT(k->act);
    if (k->lo == 0 && k->hi == k->width) {
        act->vjp(k->n * k->width, k->r, k->h, k->g, k->out);
        return;
    }
    for (size_t i = 0, o = k->lo; k->hi > k->lo && i < k->n; i++, o += k->width)
        act->vjp(k->hi - k->lo, k->r + o, k->h + o, k->g + o, k->out + o);
}

/* The backward pass, as llm.c's gpt2_backward: the layers in reverse order of
   the forward pass, each a list of calls to its ops' steps. */
void CR_TYPED(cr_net_reverse_walk_f32, cr_net_reverse_walk_f64)(
    const cr_net *net, const cr_tape *tape, size_t n, const real *g_in, const FN(reverse_opts) *o) {
    const int L = net->n_layers;
    const FN(diag_step) diag = o->diag.fn ? o->diag : (FN(diag_step)){FN(net_diag_vjp), NULL};
    real *buf0 = tape->grad_a, *buf1 = tape->grad_b; /* G alternates between them */
    const real *g = g_in;                            /* G on h_l: ∂J/∂o for l = L−1 */
    for (int l = L - 1; l >= 0; l--) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        if (l < L - 1 || net->has_out_act) { /* G <- G ∘ a'(r_l): the diagonal step */
            real *gr = g == buf0 || g == buf1 ? (real *)g : buf1;
            diag.fn(diag.ctx, &(FN(diag_link)){net, l, l < L - 1 ? net->act[l] : net->out_act, n,
                                              dout, 0, dout, tape->pre[l],
                                              l < L - 1 ? tape->post[l] : tape->out, g, gr});
            g = gr;
        }
        if (net->link_form[l + 1] != CR_AFFINE_NONE) { /* G <- G ∘ γ/√(v + ε): the link after l */
            real *gr = g == buf0 || g == buf1 ? (real *)g : buf1;
            if (gr != g) memcpy(gr, g, n * dout * sizeof(real));
            FN(net_link_apply)(net, l, LINK_VJP, n, dout, 0, dout, gr);
            g = gr;
        }
        real *gh = l > 0 ? (g == buf0 ? buf1 : buf0) : o->dx; /* G on h_{l−1} (x for l = 0) */
        if (gh) /* G_h <- G W_lᵀ, with the W_l of the forward pass */
            FN(linear_vjp_share)(n, 1, din, dout, FN(net_w)(net, l), g, 0, din, gh, din,
                                 l == 0 ? o->w0 : NULL, NULL);
        if (o->step.dst && l == 0 && o->step0)
            o->step0(n, din, dout, FN(net_layer0_input)(net, tape), g, o->step.alpha, o->step.beta,
                     o->step.dst + net->w_offset[0], o->step.dst + net->b_offset[0]);
        else if (o->step.dst) /* W_l <- β W_l + α H_{l−1}ᵀ G,  b_l <- β b_l + α Σ_n G_n */
            FN(linear_param_step)(n, din, dout, l > 0 ? tape->post[l - 1] : FN(net_layer0_input)(net, tape), g,
                                  o->step.alpha, o->step.beta, o->step.dst + net->w_offset[l],
                                  o->step.dst + net->b_offset[l], 0, din, 0, dout);
        g = gh;
    }
    if (o->dx && net->link_form[0] != CR_AFFINE_NONE) { /* link 0: dx <- dx ∘ a (÷ σ) */
        FN(affine) a;
        FN(net_affine)(net, 0, &a);
        FN(affine_vjp)(&a, n, net->dims[0], o->dx, o->dx);
    }
}

cr_status CR_TYPED(cr_net_backward_f32, cr_net_backward_f64)(const cr_net *net, cr_tape *tape,
                                                             const real *y, real *dx, real *grads) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!y || tape->n == 0) return CR_FAIL(CR_ERR_ARG);
    const int L = net->n_layers;
    /* G_o <- ŷ − y (the fused softmax + cross-entropy VJP) or o − t, one row per example */
    (void)L;
    FN(net_head_vjp)(net, tape, tape->n, y, tape->grad_a);
    /* parameters of the MEAN loss: alpha 1/N, overwriting (beta 0) */
    FN(net_reverse_walk)(net, tape, tape->n, tape->grad_a,
                         &(FN(reverse_opts)){.dx = dx, .step = {grads, (real)1 / (real)tape->n, 0}});
    return CR_OK;
}

cr_status CR_TYPED(cr_net_vjp_f32, cr_net_vjp_f64)(const cr_net *net, cr_tape *tape,
                                                   const real *g_logits, real *dx) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!g_logits || !dx || tape->n == 0) return CR_FAIL(CR_ERR_ARG);
    FN(net_reverse_walk)(net, tape, tape->n, g_logits, &(FN(reverse_opts)){.dx = dx});
    return CR_OK;
}

cr_status CR_TYPED(cr_net_jvp_f32, cr_net_jvp_f64)(const cr_net *net, cr_tape *tape, const real *xd,
                                                   real *logits_dot, real *probs_dot) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!xd || tape->n == 0) return CR_FAIL(CR_ERR_ARG);
    if (probs_dot && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG); /* no probabilities */
    const int L = net->n_layers;
    const size_t n = tape->n, k = net->dims[L];
    const real *t = xd;
    real *out = tape->grad_a, *spare = tape->grad_b;
    if (net->link_form[0] != CR_AFFINE_NONE) { /* ż <- ẋ ∘ a, link 0's JVP */
        FN(affine) a;
        FN(net_affine)(net, 0, &a);
        FN(affine_jvp)(&a, n, net->dims[0], xd, spare);
        t = spare;
    }
    for (int l = 0; l < L; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        /* Ṙ <- Ṫ W */
        FN(linear_jvp)(n, din, dout, FN(net_w)(net, l), t, out);
        FN(net_link_apply)(net, l, LINK_JVP, n, dout, 0, dout, out); /* Ż <- Ṙ ∘ a, a link after l */
        if (l + 1 < L) /* Ḣ <- Ż ∘ act'(z) */
            R_ACT(net->act[l])->jvp(n * dout, tape->pre[l], tape->post[l], out, out);
        t = out;
        real *s = out;
        out = spare;
        spare = s;
    }
    /* t now holds θ̇ (N×K); ȯ <- θ̇ ∘ a_out'(θ) */
    if (net->has_out_act)
        R_ACT(net->out_act)->jvp(n * k, tape->pre[L - 1], tape->out, t, (real *)t);
    if (logits_dot) memcpy(logits_dot, t, n * k * sizeof(real));
    if (probs_dot) FN(softmax_jvp)(n, k, tape->post[L - 1], t, probs_dot);
    return CR_OK;
}

cr_status CR_TYPED(cr_net_input_jacobian_chain_f32, cr_net_input_jacobian_chain_f64)(
    const cr_net *net, const cr_tape *tape, size_t i, int of_probs, real *jac) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!jac) return CR_FAIL(CR_ERR_ARG);
    if (i >= tape->n) return CR_FAIL(CR_ERR_SHAPE);
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG); /* no probabilities */
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    size_t maxdim = 0;
    for (int l = 0; l <= L; l++) maxdim = net->dims[l] > maxdim ? net->dims[l] : maxdim;

    /* M (K × d_l) is the product of the Jacobians from the output down to layer l. */
    real *m = malloc(k * maxdim * sizeof(real)), *m_next = malloc(k * maxdim * sizeof(real));
    real *op_jac = malloc(maxdim * maxdim * sizeof(real));
    if (!m || !m_next || !op_jac) {
        free(m);
        free(m_next);
        free(op_jac);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    /* M <- ∂ŷ/∂θ = diag(ŷ) − ŷᵀŷ, or the identity for the logits */
    const real *yhat = (const real *)tape->post[L - 1] + i * k;
    if (of_probs) {
        FN(softmax_jacobian)(k, yhat, m);
    } else {
        for (size_t a = 0; a < k * k; a++) m[a] = 0;
        for (size_t a = 0; a < k; a++) m[a * k + a] = 1;
    }
    if (net->has_out_act) { /* M <- M · ∂o/∂θ = M · diag(a_out'(θ)), as a full matrix */
        const real *th = (const real *)tape->pre[L - 1] + i * k, *o = (const real *)tape->out + i * k;
        R_ACT(net->out_act)->jacobian(k, th, o, op_jac);
        GEMM(0, 0, k, k, k, 1, m, k, op_jac, k, 0, m_next, k);
        real *s = m;
        m = m_next;
        m_next = s;
    }
    size_t cols = k;
    for (int l = L - 1; l >= 0; l--) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        FN(affine) a;
        if (FN(link_view)(net, l, 0, &a)) {
            /* M <- M · ∂z_l/∂r_l = M · diag(a), the link after layer l, as a full matrix */
            FN(affine_jacobian)(&a, dout, op_jac);
            GEMM(0, 0, k, dout, dout, 1, m, cols, op_jac, dout, 0, m_next, dout);
            real *s = m;
            m = m_next;
            m_next = s;
        }
        /* M <- M · ∂r_l/∂h_(l−1) = M · W_lᵀ      (K×dout)(dout×din) */
        FN(linear_jacobian)(din, dout, FN(net_w)(net, l), op_jac);
        GEMM(0, 0, k, din, dout, 1, m, cols, op_jac, din, 0, m_next, din);
        real *s = m;
        m = m_next;
        m_next = s;
        cols = din;
        if (l > 0) {
            /* M <- M · ∂h/∂r = M · diag(act'(r)), multiplied as a full matrix on purpose */
            const real *r = (const real *)tape->pre[l - 1] + i * din;
            const real *h = (const real *)tape->post[l - 1] + i * din;
            R_ACT(net->act[l - 1])->jacobian(din, r, h, op_jac);
            GEMM(0, 0, k, din, din, 1, m, din, op_jac, din, 0, m_next, din);
            s = m;
            m = m_next;
            m_next = s;
        }
    }
    if (net->link_form[0] != CR_AFFINE_NONE) { /* M <- M · diag(a), link 0, as a full matrix */
        const size_t d = net->dims[0];
        FN(affine) a;
        FN(net_affine)(net, 0, &a);
        FN(affine_jacobian)(&a, d, op_jac);
        GEMM(0, 0, k, d, d, 1, m, d, op_jac, d, 0, m_next, d);
        real *s = m;
        m = m_next;
        m_next = s;
    }
    memcpy(jac, m, k * net->dims[0] * sizeof(real));
    free(m);
    free(m_next);
    free(op_jac);
    return CR_OK;
}

cr_status CR_TYPED(cr_onehot_f32, cr_onehot_f64)(size_t n, size_t k, const cr_label *labels,
                                                 real *y) {
    for (size_t i = 0; i < n; i++) {
        if (cr_check_labels("cr_onehot", "labels", 1, labels + i, k) != CR_OK)
            return cr_fail(CR_ERR_ARG, "cr_onehot: labels[%zu] = %lld is not in [0, %zu)", i, (long long)labels[i], k);
        for (size_t j = 0; j < k; j++) y[i * k + j] = 0;
        y[i * k + (size_t)labels[i]] = 1;
    }
    return CR_OK;
}
