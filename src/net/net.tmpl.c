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

#include "net_private.tmpl.h"
#if defined(CR_REAL_F32)
#include "kernels/linear.h" /* column sums and the per-example kernels */
#endif

static const real *FN(net_w)(const cr_net *net, int l) {
    return (const real *)net->params + net->w_offset[l];
}
static const real *FN(net_b)(const cr_net *net, int l) {
    return (const real *)net->params + net->b_offset[l];
}

/* A tape fits a net made with the same dtype and widths (else buffers would overflow):
   CR_ERR_ARG for NULL or a tape of other widths, CR_ERR_DTYPE when the net or the
   tape is not of this function's dtype (an _f32 call on a float64 net). */
static cr_status FN(tape_check)(const cr_net *net, const cr_tape *tape) {
    if (!net || !tape) return CR_ERR_ARG;
    if (net->dtype != R_DTYPE || tape->dtype != R_DTYPE) return CR_ERR_DTYPE;
    if (tape->n_layers != net->n_layers) return CR_ERR_ARG;
    if (tape->has_out_act != net->has_out_act || tape->head != net->head) return CR_ERR_ARG;
    for (int l = 0; l <= net->n_layers; l++)
        if (tape->dims[l] != net->dims[l]) return CR_ERR_ARG;
    return CR_OK;
}

/* b[lo:hi) <- beta b[lo:hi) + alpha Σ_i G[i, lo:hi) (G: n rows of stride ld); beta == 0
   overwrites. In float32 a whole row by the vectorised kernel of kernels/linear.c. */
static void FN(colsum_share)(size_t n, size_t ld, size_t lo, size_t hi, real alpha,
                             const real *g, real beta, real *b) {
#if defined(CR_REAL_F32)
    if (lo == 0 && hi == ld) {
        cr_colsum_axpby_f32(n, ld, alpha, g, beta, b);
        return;
    }
#endif
    for (size_t j0 = lo; j0 < hi; j0 += 64) {
        size_t m = hi - j0 < 64 ? hi - j0 : 64;
        real s[64] = {0};
        for (size_t i = 0; i < n; i++) {
            const real *gi = g + i * ld + j0;
            for (size_t j = 0; j < m; j++) s[j] += gi[j];
        }
        for (size_t j = 0; j < m; j++) b[j0 + j] = (beta == 0 ? (real)0 : beta * b[j0 + j]) + alpha * s[j];
    }
}

void CR_TYPED(cr_linear_vjp_share_f32, cr_linear_vjp_share_f64)(
    size_t n_ex, size_t kr, size_t din, size_t dout, const real *w, const real *g, size_t lo,
    size_t hi, real *gin, size_t ld_in, const cr_abt_packed *w_packed, const size_t *derived) {
#if defined(CR_REAL_F32)
    if (w_packed && w_packed->data && lo == 0 && hi == din) {
        cr_abt_gemm(n_ex, kr, g, dout, derived, w_packed, gin, ld_in);
        return;
    }
#else
    (void)w_packed;
    (void)derived;
    (void)din;
#endif
    if (hi > lo) /* G_in[:, lo:hi) <- G W[lo:hi, :]ᵀ */
        GEMM(0, 1, n_ex * kr, hi - lo, dout, 1, g, dout, w + lo * dout, dout, 0, gin + lo, ld_in);
}

/* The output link of the forward walk on rows [i0, i1): o = a_out(θ) into tape->out
   (o is θ itself without an output activation), then the head's prediction into
   post[L−1]: ŷ = S(o), or o (squared error: out is post[L−1]). */
static void FN(net_output_rows)(const cr_net *net, cr_tape *tape, size_t i0, size_t i1) {
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
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const FN(forward_opts) *o) {
    const int L = net->n_layers;
    const cr_abt_packed *w0t = o ? o->w0t : NULL;
    const cr_walk_split *split = o ? o->split : NULL;
    const real *in = x;
    size_t nz_off = 0;
    for (int l = 0; l < L; l++) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        real *r = tape->pre[l], *h = tape->post[l];
        const real *w = FN(net_w)(net, l), *b = FN(net_b)(net, l);
#if defined(CR_REAL_F32)
        if (o && o->nz) { /* one row: skip zero inputs (pixels, dead units) */
            o->nnz[l] = cr_nonzero_f32(din, in, o->nz + nz_off);
            cr_sparse_gemv_f32(o->nnz[l], o->nz + nz_off, dout, in, w, b, r);
            nz_off += din;
            if (l + 1 < L)
                R_ACT(net->act[l])->forward(dout, r, h);
            else
                FN(net_output_rows)(net, tape, 0, 1);
            in = h;
            continue;
        }
#else
        (void)nz_off;
#endif
        if (l + 1 == L) { /* θ = h W + b, o and the prediction, on each half's rows of the batch */
            for (cr_walk_split hf = cr_walk_next(split, NULL); hf.worker >= 0;
                 hf = cr_walk_next(split, &hf)) {
                size_t i0 = 0, i1 = n;
                if (hf.workers >= 2) {
                    i0 = hf.worker ? (n + 1) / 2 : 0;
                    i1 = hf.worker ? n : (n + 1) / 2;
                }
                if (i1 > i0) {
                    FN(linear_forward)(i1 - i0, din, dout, in + i0 * din, w, b, r + i0 * dout);
                    FN(net_output_rows)(net, tape, i0, i1);
                }
                if (o && o->rows_done) o->rows_done(o->rows_ctx, hf.worker, i0, i1);
            }
            break;
        }
        for (cr_walk_split hf = cr_walk_next(split, NULL); hf.worker >= 0;
             hf = cr_walk_next(split, &hf)) {
            size_t c0, c1; /* the half's columns of r_l */
            cr_walk_share(&hf, dout, &c0, &c1);
#if defined(CR_REAL_F32)
            if (l == 0 && w0t && w0t->data && c0 == 0 && c1 == dout) {
                /* r_0 <- x W_0 + b_0, x W_0 by the packed kernel */
                cr_abt_gemm(n, 1, x, din, NULL, w0t, r, dout);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < dout; j++) r[i * dout + j] += b[j];
            } else
#else
            (void)w0t;
#endif
                if (c0 == 0 && c1 == dout) {
                FN(linear_forward)(n, din, dout, in, w, b, r);
            } else if (c1 > c0) { /* r[:, c0:c1) <- b[c0:c1) + H W[:, c0:c1) */
                for (size_t i = 0; i < n; i++)
                    memcpy(r + i * dout + c0, b + c0, (c1 - c0) * sizeof(real));
                GEMM(0, 0, n, c1 - c0, din, 1, in, din, w + c0, dout, 1, r + c0, dout);
            }
            /* h_l = act(r_l), through the op table */
            if (c0 == 0 && c1 == dout)
                R_ACT(net->act[l])->forward(n * dout, r, h);
            else
                for (size_t i = 0; c1 > c0 && i < n; i++)
                    R_ACT(net->act[l])->forward(c1 - c0, r + i * dout + c0, h + i * dout + c0);
        }
        cr_walk_barrier(split);
        in = h;
    }
}

cr_status CR_TYPED(cr_net_forward_packed_f32, cr_net_forward_packed_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_abt_packed *w0t) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!x || n == 0) return CR_ERR_ARG;
    if (n > tape->max_batch) return CR_ERR_SHAPE;
    FN(net_forward_walk)(net, tape, n, x, &(FN(forward_opts)){.w0t = w0t});
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

/*
 * One layer l of the reverse walk, on half hf of it (the whole layer without a
 * split): with a product (l > 0, or dx), G_h <- G W_lᵀ on the half's inputs
 * [lo, hi) into gh, and for l > 0 G_r <- G_h ∘ a'(r_{l−1}) there; then the
 * parameter step of the half's block of W_l (rows [lo, hi); for l = 0 with
 * two halves its columns, which are layer 1's inputs of the same half) and b_l.
 */
static void FN(reverse_layer)(const cr_net *net, const cr_tape *tape, size_t n, int l,
                              const real *g, real *gh, const FN(reverse_opts) *o,
                              const cr_walk_split *hf, const size_t *nz_off) {
    const size_t din = net->dims[l], dout = net->dims[l + 1];
    const size_t reps = o->reps > 1 ? o->reps : 1;
    const int product = l > 0 || o->dx;
    size_t lo, hi; /* the half's inputs of layer l */
    cr_walk_share(hf, din, &lo, &hi);
#if !defined(CR_REAL_F32)
    (void)nz_off;
#endif
    if (product) { /* G_h <- G W_lᵀ, with the W_l of the forward pass */
#if defined(CR_REAL_F32)
        if (o->nz) /* one row: G Wᵀ = W g by the gemv kernel */
            cr_gemv_rows_f32(din, dout, FN(net_w)(net, l), g, gh);
        else
#endif
            FN(linear_vjp_share)(n, reps, din, dout, FN(net_w)(net, l), g, lo, hi, gh, din,
                                 l == 0 ? o->w0 : NULL, l == 0 ? o->derived : NULL);
    }
    if (l > 0) { /* G_r <- G_h ∘ a'(r_{l−1}): a diagonal Jacobian, so element-wise */
        const real *r = tape->pre[l - 1], *h = tape->post[l - 1];
        const real_act_ops *act = R_ACT(net->act[l - 1]);
        if (reps > 1) { /* each example's a' on its reps rows */
            act->deriv(n * din, r, h, o->deriv_scratch);
            FN(scale_rows)(n, reps, din, o->deriv_scratch, gh);
        } else if (lo == 0 && hi == din) {
            act->vjp(n * din, r, h, gh, gh);
        } else {
            for (size_t i = 0; hi > lo && i < n; i++)
                act->vjp(hi - lo, r + i * din + lo, h + i * din + lo, gh + i * din + lo,
                         gh + i * din + lo);
        }
    }
    if (!o->pdst) return;
    /* W_l <- beta W_l + alpha H_{l−1}ᵀ G,  b_l <- beta b_l + alpha Σ_n G_n; with two
       halves, rows [lo, hi) of W_l (l > 0, b_l with half 0) or its columns (l = 0) */
    const real *in = l > 0 ? (const real *)tape->post[l - 1] : (const real *)tape->input;
    real *dw = o->pdst + net->w_offset[l], *db = o->pdst + net->b_offset[l];
    const int one = hf->workers < 2;
#if defined(CR_REAL_F32)
    if (o->nz) {
        /* W_l[i, :] += alpha h_i g for the nonzero inputs i, b_l += alpha g; the
           kernel checks the values it wrote: a NaN can hide from the loss */
        if (!cr_sparse_ger_f32(o->nnz[l], o->nz + nz_off[l], dout, o->alpha, in, g, dw, db) &&
            !*o->fault)
            *o->fault = l + 1;
        return;
    }
#endif
    if (l > 0 || one) {
        if (hi > lo)
            GEMM(1, 0, hi - lo, dout, n, o->alpha, in + lo, din, g, dout, o->beta, dw + lo * dout,
                 dout);
        if (one || hf->worker == 0) FN(colsum_share)(n, dout, 0, dout, o->alpha, g, o->beta, db);
    } else {
        size_t c0, c1;
        cr_walk_share(hf, dout, &c0, &c1);
        if (c1 > c0) {
            GEMM(1, 0, din, c1 - c0, n, o->alpha, in, din, g + c0, dout, o->beta, dw + c0, dout);
            FN(colsum_share)(n, dout, c0, c1, o->alpha, g, o->beta, db);
        }
    }
}

void CR_TYPED(cr_net_reverse_walk_f32, cr_net_reverse_walk_f64)(
    const cr_net *net, const cr_tape *tape, size_t n, const real *g_in, const FN(reverse_opts) *o) {
    const int L = net->n_layers;
    const size_t reps = o->reps > 1 ? o->reps : 1;
    const cr_walk_split *split = o->split;
    const int halves = split && split->workers >= 2;
    real *buf0 = o->buf0 ? o->buf0 : tape->grad_a, *buf1 = o->buf1 ? o->buf1 : tape->grad_b;
    /* g: the cotangent on r_l (or, with skip_top, already on h_{L−2}: scaled in place) */
    real *g = (real *)g_in;
    if (net->has_out_act && !o->skip_top) {
        /* G_θ <- G_o ∘ a_out'(θ), the output activation's VJP: in place when g is the
           scratch buf0, else into buf1 (the first product then writes buf0) */
        const size_t k = net->dims[L];
        const real *th = tape->pre[L - 1], *out = tape->out;
        real *gt = g == buf0 ? buf0 : buf1;
        const real_act_ops *act = R_ACT(net->out_act);
        if (reps > 1) /* each example's a_out' on its reps rows */
            for (size_t i = 0; i < n; i++)
                for (size_t c = 0; c < reps; c++)
                    act->vjp(k, th + i * k, out + i * k, g + (i * reps + c) * k,
                             gt + (i * reps + c) * k);
        else
            act->vjp(n * k, th, out, g, gt);
        g = gt;
    }
    size_t nz_off[CR_MAX_LAYERS], off = 0; /* the per-example path's nonzero inputs */
    for (int l = 0; l < L; l++) nz_off[l] = off, off += net->dims[l];
    for (int l = L - 1; l >= 0; l--) {
        const size_t din = net->dims[l];
        real *gh = g; /* the cotangent on h_{l−1} */
        if (!(o->skip_top && l == L - 1)) {
            const int product = l > 0 || o->dx;
            if (product) gh = l == 0 ? o->dx : g == buf0 ? buf1 : buf0;
            /* with two halves, layer 0 follows layer 1 in the same phase: its columns
               are layer 1's inputs, which the same half has just computed */
            const int then_first = halves && l == 1;
            for (cr_walk_split hf = cr_walk_next(split, NULL); hf.worker >= 0;
                 hf = cr_walk_next(split, &hf)) {
                FN(reverse_layer)(net, tape, n, l, g, gh, o, &hf, nz_off);
                if (then_first) FN(reverse_layer)(net, tape, n, 0, gh, o->dx, o, &hf, nz_off);
            }
            if (!product || then_first) break;
        } else if (l > 0) { /* skip_top: G is on h_{L−2} already; its activation step */
            const real *r = tape->pre[l - 1], *h = tape->post[l - 1];
            const real_act_ops *act = R_ACT(net->act[l - 1]);
            if (reps > 1) {
                act->deriv(n * din, r, h, o->deriv_scratch);
                FN(scale_rows)(n, reps, din, o->deriv_scratch, gh);
            } else {
                act->vjp(n * din, r, h, gh, gh);
            }
        }
        if (l > 1) cr_walk_barrier(split);
        g = gh;
    }
}

cr_status CR_TYPED(cr_net_backward_f32, cr_net_backward_f64)(const cr_net *net, cr_tape *tape,
                                                             const real *y, real *dx, real *grads) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!y || tape->n == 0) return CR_ERR_ARG;
    const int L = net->n_layers;
    /* G_o <- ŷ − y (the fused softmax + cross-entropy VJP) or o − t, one row per example */
    (void)L;
    FN(net_head_vjp)(net, tape, tape->n, y, tape->grad_a);
    /* parameters of the MEAN loss: alpha 1/N, overwriting (beta 0) */
    FN(net_reverse_walk)(net, tape, tape->n, tape->grad_a,
                         &(FN(reverse_opts)){.dx = dx, .pdst = grads, .alpha = (real)1 / (real)tape->n});
    return CR_OK;
}

cr_status CR_TYPED(cr_net_vjp_f32, cr_net_vjp_f64)(const cr_net *net, cr_tape *tape,
                                                   const real *g_logits, real *dx) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!g_logits || !dx || tape->n == 0) return CR_ERR_ARG;
    FN(net_reverse_walk)(net, tape, tape->n, g_logits, &(FN(reverse_opts)){.dx = dx});
    return CR_OK;
}

cr_status CR_TYPED(cr_net_jvp_f32, cr_net_jvp_f64)(const cr_net *net, cr_tape *tape, const real *xd,
                                                   real *logits_dot, real *probs_dot) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!xd || tape->n == 0) return CR_ERR_ARG;
    if (probs_dot && net->head != CR_HEAD_SOFTMAX_CE) return CR_ERR_ARG; /* no probabilities */
    const int L = net->n_layers;
    const size_t n = tape->n, k = net->dims[L];
    const real *t = xd;
    real *out = tape->grad_a, *spare = tape->grad_b;
    for (int l = 0; l < L; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        /* Ṙ <- Ṫ W */
        FN(linear_jvp)(n, din, dout, FN(net_w)(net, l), t, out);
        if (l + 1 < L) /* Ḣ <- Ṙ ∘ act'(r) */
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
    if (!jac) return CR_ERR_ARG;
    if (i >= tape->n) return CR_ERR_SHAPE;
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_ERR_ARG; /* no probabilities */
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
        return CR_ERR_NOMEM;
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
    memcpy(jac, m, k * net->dims[0] * sizeof(real));
    free(m);
    free(m_next);
    free(op_jac);
    return CR_OK;
}

cr_status CR_TYPED(cr_onehot_f32, cr_onehot_f64)(size_t n, size_t k, const int64_t *labels,
                                                 real *y) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (uint64_t)labels[i] >= k) return CR_ERR_ARG;
        for (size_t j = 0; j < k; j++) y[i * k + j] = 0;
        y[i * k + (size_t)labels[i]] = 1;
    }
    return CR_OK;
}
