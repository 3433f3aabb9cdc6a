/*
 * Private helpers shared by jacobian.tmpl.c, attribute.tmpl.c, attack.tmpl.c
 * and spec_attack.c (one scalar type per translation unit, see ops/real.h).
 */
#ifndef CR_INPUT_UTIL_TMPL_H
#define CR_INPUT_UTIL_TMPL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "kernels/abt.h"
#include "net_private.tmpl.h"

static inline const real *FN(iu_w)(const cr_net *net, int l) {
    return (const real *)net->params + net->w_offset[l];
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
    const size_t k = net->dims[net->n_layers];
    if (dst->out != dst->pre[net->n_layers - 1] && dst->out != dst->post[net->n_layers - 1])
        for (size_t i = 0; i < count; i++) /* the output's block of its own (act_out(θ)) */
            for (size_t j = 0; j < reps; j++)
                memcpy((real *)dst->out + (i * reps + j) * k, (const real *)src->out + (i0 + i) * k,
                       k * sizeof(real));
    dst->n = count * reps;
    dst->input = NULL; /* only parameter gradients would read it */
}

/* Row g (K) <- the cotangent on the output o whose pullback is the gradient of
   output c (e_c; logit c without an output activation), or of probability c (e_c (diag(yhat) - yhat^T yhat), by the
   softmax VJP). */
static inline void FN(iu_class_cotangent)(size_t k, size_t c, const real *yhat, int of_probs,
                                          real *g) {
    for (size_t j = 0; j < k; j++) g[j] = j == c ? 1 : 0;
    if (of_probs) FN(softmax_vjp)(1, k, yhat, g, g);
}

/* W_0 packed both ways for the float32 kernel (kernels/abt.h): w0 (B = W_0)
   for the VJP chain's last step, lined up with an output that starts at
   `out`, and w0t (B = W_0ᵀ) for the forward product x W_0. Both stay without
   data where the kernel does not pay (float64, or not cr_abt_pays). */
typedef struct {
    cr_abt_packed w0, w0t;
} iu_packs;

static inline void iu_packs_free(iu_packs *p) {
    cr_abt_free(&p->w0);
    cr_abt_free(&p->w0t);
}

static inline cr_status FN(iu_pack)(const cr_net *net, const real *out, iu_packs *p) {
    memset(p, 0, sizeof *p);
#if defined(CR_REAL_F32)
    const size_t d = net->dims[0], h = net->dims[1];
    if (net->n_layers < 2 || !cr_abt_pays(d, h)) return CR_OK;
    cr_status st = cr_abt_pack(d, h, FN(iu_w)(net, 0), h, 0, cr_abt_shift_for(out, d), &p->w0);
    if (st == CR_OK) st = cr_abt_pack(h, d, FN(iu_w)(net, 0), h, 1, 0, &p->w0t);
    if (st != CR_OK) iu_packs_free(p);
    return st;
#else
    (void)net;
    (void)out;
    return CR_OK;
#endif
}

/* The forward pass of m rows, x W_0 by the kernel where pk has it (pk may be NULL). */
static inline cr_status FN(iu_forward)(const cr_net *net, cr_tape *tape, size_t m, const real *x,
                                       const iu_packs *pk) {
    return FN(net_forward_packed)(net, tape, m, x, pk ? &pk->w0t : NULL);
}

/*
 * dx <- G_θ pulled back to the input through the m rows of the tape: the one
 * reverse walk (cr_net_reverse_walk), with the last product, (G_h ∘ a'(r_0)) W_0ᵀ,
 * by the packed kernel when pk->w0 holds W_0 (iu_pack): dx written once.
 */
static inline cr_status FN(iu_vjp_input)(const cr_net *net, cr_tape *tape, const real *g_theta,
                                         real *dx, const iu_packs *pk) {
    if (tape->n == 0) return CR_FAIL(CR_ERR_ARG);
    FN(net_reverse_walk)(net, tape, tape->n, g_theta,
                         &(FN(reverse_opts)){.dx = dx, .w0 = pk && pk->w0.data ? &pk->w0 : NULL});
    return CR_OK;
}

/* One batched pass over m ≤ tape->max_batch rows: gradient and score of the
   class cls[r] of each row (score may be NULL). g is scratch of m × K; pk as
   iu_vjp_input (NULL: the plain chain). */
static inline cr_status FN(iu_grad_rows)(const cr_net *net, cr_tape *tape, real *g, size_t m,
                                         const real *pts, const cr_label *cls, int of_probs,
                                         real *grad, real *score, const iu_packs *pk) {
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG); /* no probabilities */
    cr_status st = FN(iu_forward)(net, tape, m, pts, pk);
    if (st != CR_OK) return st;
    const real *logits = tape->out, *yhat = tape->post[L - 1]; /* o (θ or a_out(θ)), S(o) */
    for (size_t r = 0; r < m; r++) {
        if (cls[r] < 0 || (uint64_t)cls[r] >= k) return CR_FAIL(CR_ERR_ARG);
        size_t c = (size_t)cls[r];
        FN(iu_class_cotangent)(k, c, yhat + r * k, of_probs, g + r * k);
        if (score) score[r] = of_probs ? yhat[r * k + c] : logits[r * k + c];
    }
    return FN(iu_vjp_input)(net, tape, g, grad, pk);
}

static inline size_t FN(iu_argmax)(size_t k, const real *v) {
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* The step helpers of the attacks (attack.tmpl.c, spec_attack.c). */
static inline double FN(norm_of)(cr_norm norm, size_t d, const real *v) {
    double s = 0;
    for (size_t q = 0; q < d; q++) {
        double a = v[q] < 0 ? -(double)v[q] : (double)v[q];
        if (norm == CR_NORM_LINF)
            s = a > s ? a : s;
        else
            s += a * a;
    }
    return norm == CR_NORM_LINF ? s : sqrt(s);
}

/* xa <- xa + sgn · size · step(g), step = sign (L∞) or g / ‖g‖₂ (L2). */
static inline void FN(take_step)(cr_norm norm, size_t d, real *xa, const real *g, double size,
                          double sgn) {
    if (norm == CR_NORM_LINF) {
        real s = (real)(sgn * size);
        for (size_t q = 0; q < d; q++) { /* without branches: the sign of g is random */
            real st = g[q] > 0 ? s : 0;
            xa[q] += g[q] < 0 ? -s : st;
        }
    } else {
        double nrm = FN(norm_of)(CR_NORM_L2, d, g);
        if (!(nrm > 0)) return; /* no direction: stay */
        real s = (real)(sgn * size / nrm);
        for (size_t q = 0; q < d; q++) xa[q] += s * g[q];
    }
}

#endif
