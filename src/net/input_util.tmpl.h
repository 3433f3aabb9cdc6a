/*
 * Private helpers shared by jacobian.tmpl.c, attribute.tmpl.c and
 * attack.tmpl.c (one scalar type per translation unit, see ops/real.h).
 */
#ifndef CR_INPUT_UTIL_TMPL_H
#define CR_INPUT_UTIL_TMPL_H

#include <stdlib.h>
#include <string.h>

#include "abt_kernel.h"
#include "act_dispatch.tmpl.h"

static inline const real *FN(iu_w)(const cr_net *net, int l) {
    return (const real *)net->params + net->w_offset[l];
}

/* d <- act'(r): the diagonal of the activation's Jacobian, obtained as its
   JVP in the all-ones direction (diag(a') 1 = a'), with the op's own code. */
static inline void FN(iu_act_deriv)(cr_activation act, size_t count, const real *r,
                                    const real *h, real *d) {
    for (size_t i = 0; i < count; i++) d[i] = 1;
    switch (act) {
    case CR_ACT_SIGMOID: FN(sigmoid_jvp)(count, r, h, d, d); break;
    case CR_ACT_TANH: FN(tanh_jvp)(count, r, h, d, d); break;
    case CR_ACT_RELU: FN(relu_jvp)(count, r, h, d, d); break;
    default: break;
    }
}

/* Row c of every example i of m: m[(i k + c) din + j] *= s[i din + j], the
   product of each example's K rows with its diag(s). */
static inline void FN(iu_scale_rows)(size_t m, size_t k, size_t din, const real *restrict s,
                                     real *restrict rows) {
    for (size_t i = 0; i < m; i++) {
        const real *si = s + i * din;
        for (size_t c = 0; c < k; c++) {
            real *row = rows + (i * k + c) * din;
            for (size_t j = 0; j < din; j++) row[j] *= si[j];
        }
    }
}

/* dst's rows (i reps + j), j < reps, become copies of src's row i0 + i, for
   every tape array, so that a VJP/JVP on dst sees each example `reps` times. */
static inline void FN(iu_replicate)(const cr_net *net, const cr_tape *src, size_t i0,
                                    size_t count, size_t reps, cr_tape *dst) {
    for (int l = 0; l < net->n_layers; l++) {
        size_t w = net->dims[l + 1];
        for (int which = 0; which < 2; which++) {
            const real *s = (const real *)(which ? src->post[l] : src->pre[l]) + i0 * w;
            real *d = which ? dst->post[l] : dst->pre[l];
            for (size_t i = 0; i < count; i++)
                for (size_t j = 0; j < reps; j++)
                    memcpy(d + (i * reps + j) * w, s + i * w, w * sizeof(real));
        }
    }
    dst->n = count * reps;
    dst->input = NULL; /* only parameter gradients would read it */
}

/* Row g (K) <- the cotangent on the logits whose pullback is the gradient of
   logit c (e_c), or of probability c (e_c (diag(yhat) - yhat^T yhat), by the
   softmax VJP). */
static inline void FN(iu_class_cotangent)(size_t k, size_t c, const real *yhat, int of_probs,
                                          real *g) {
    for (size_t j = 0; j < k; j++) g[j] = j == c ? 1 : 0;
    if (of_probs) FN(softmax_vjp)(1, k, yhat, g, g);
}

/* W_0 packed for the fused last step of an input VJP (float32, AVX-512, W_0
   within a core's L2: see abt_kernel.h), lined up with an output that starts
   at `out`; otherwise p->data stays NULL and the chain ends with a gemm. */
static inline cr_status FN(iu_pack_w0)(const cr_net *net, const real *out, cr_abt_packed *p) {
    memset(p, 0, sizeof *p);
#if defined(CR_REAL_F32)
    const size_t d = net->dims[0], h = net->dims[1];
    if (net->n_layers >= 2 && cr_abt_available() && d * h * sizeof(float) <= (1u << 20))
        return cr_abt_pack(d, h, FN(iu_w)(net, 0), h, cr_abt_shift_for(out, d), p);
#else
    (void)net;
    (void)out;
#endif
    return CR_OK;
}

/*
 * dx <- G_θ pulled back to the input through the m rows of the tape: the VJP
 * chain of cr_net_vjp,
 *     G_in <- G W_lᵀ,  then ∘ a'(r_{l−1})      for l = L−1, ..., 1
 * with the last step, (G_h ∘ a'(r_0)) W_0ᵀ, as one pass of the packed kernel
 * when w0 holds W_0 (iu_pack_w0): dx written once, the ∘ fused into it.
 * deriv (m × d_1) and scratch (d_1 × CR_ABT_ROWS floats) are the kernel's.
 */
static inline cr_status FN(iu_vjp_input)(const cr_net *net, cr_tape *tape, const real *g_theta,
                                         real *dx, const cr_abt_packed *w0, real *deriv,
                                         float *scratch) {
#if defined(CR_REAL_F32)
    const int L = net->n_layers;
    if (!w0->data || L < 2 || tape->n == 0) return FN(net_vjp)(net, tape, g_theta, dx);
    const size_t m = tape->n;
    real *g = tape->grad_a, *g_next = tape->grad_b;
    memcpy(g, g_theta, m * net->dims[L] * sizeof(real));
    for (int l = L - 1; l >= 1; l--) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        FN(linear_vjp)(m, din, dout, FN(iu_w)(net, l), g, g_next); /* G_in <- G W_lᵀ */
        if (l > 1) /* G_r <- G_h ∘ act'(r) */
            FN(act_vjp)(net->act[l - 1], m * din, tape->pre[l - 1], tape->post[l - 1], g_next, g_next);
        real *t = g;
        g = g_next;
        g_next = t;
    }
    /* G_x <- (G_h ∘ a'(r_0)) W_0ᵀ, one row per example */
    FN(iu_act_deriv)(net->act[0], m * net->dims[1], tape->pre[0], tape->post[0], deriv);
    cr_abt_gemm(m, 1, g, net->dims[1], deriv, NULL, w0, dx, net->dims[0], scratch);
    return CR_OK;
#else
    (void)w0;
    (void)deriv;
    (void)scratch;
    return FN(net_vjp)(net, tape, g_theta, dx);
#endif
}

/* One batched pass over m ≤ tape->max_batch rows: gradient and score of the
   class cls[r] of each row (score may be NULL). g is scratch of m × K; w0,
   deriv and scratch as iu_vjp_input (w0 NULL: the plain chain). */
static inline cr_status FN(iu_grad_rows)(const cr_net *net, cr_tape *tape, real *g, size_t m,
                                         const real *pts, const int64_t *cls, int of_probs,
                                         real *grad, real *score, const cr_abt_packed *w0,
                                         real *deriv, float *scratch) {
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    cr_status st = FN(net_forward)(net, tape, m, pts);
    if (st != CR_OK) return st;
    const real *logits = tape->pre[L - 1], *yhat = tape->post[L - 1];
    for (size_t r = 0; r < m; r++) {
        if (cls[r] < 0 || (uint64_t)cls[r] >= k) return CR_ERR_ARG;
        size_t c = (size_t)cls[r];
        FN(iu_class_cotangent)(k, c, yhat + r * k, of_probs, g + r * k);
        if (score) score[r] = of_probs ? yhat[r * k + c] : logits[r * k + c];
    }
    if (!w0) return FN(net_vjp)(net, tape, g, grad);
    return FN(iu_vjp_input)(net, tape, g, grad, w0, deriv, scratch);
}

static inline size_t FN(iu_argmax)(size_t k, const real *v) {
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

#endif
