/*
 * The element-wise activation in the middle of the chain, dispatched to its op
 * file (forward, VJP, JVP, explicit Jacobian). Private to src/net, included by
 * net.tmpl.c and input_util.tmpl.h (one scalar type per translation unit).
 */
#ifndef CR_ACT_DISPATCH_TMPL_H
#define CR_ACT_DISPATCH_TMPL_H

#if defined(CR_REAL_F32)
#include "train_kernels.h" /* the vectorised σ and σ-VJP that training uses */
#endif

/* In float32 the sigmoid runs through the training loop's vectorised kernels
   (exp by a polynomial within 2 ulp of expf; the same VJP expression); float64
   uses the op files as written. */
static inline void FN(act_forward)(cr_activation act, size_t count, const real *r, real *h) {
    switch (act) {
#if defined(CR_REAL_F32)
    case CR_ACT_SIGMOID: cr_sigmoid_fast_f32(count, r, h); break;
#else
    case CR_ACT_SIGMOID: FN(sigmoid_forward)(count, r, h); break;
#endif
    case CR_ACT_TANH: FN(tanh_forward)(count, r, h); break;
    case CR_ACT_RELU: FN(relu_forward)(count, r, h); break;
    default: break;
    }
}

static inline void FN(act_vjp)(cr_activation act, size_t count, const real *r, const real *h,
                        const real *g, real *gr) {
    switch (act) {
#if defined(CR_REAL_F32)
    case CR_ACT_SIGMOID: cr_sigmoid_vjp_fast_f32(count, h, g, gr); break;
#else
    case CR_ACT_SIGMOID: FN(sigmoid_vjp)(count, r, h, g, gr); break;
#endif
    case CR_ACT_TANH: FN(tanh_vjp)(count, r, h, g, gr); break;
    case CR_ACT_RELU: FN(relu_vjp)(count, r, h, g, gr); break;
    default: break;
    }
}

static inline void FN(act_jvp)(cr_activation act, size_t count, const real *r, const real *h,
                        const real *rd, real *hd) {
    switch (act) {
    case CR_ACT_SIGMOID: FN(sigmoid_jvp)(count, r, h, rd, hd); break;
    case CR_ACT_TANH: FN(tanh_jvp)(count, r, h, rd, hd); break;
    case CR_ACT_RELU: FN(relu_jvp)(count, r, h, rd, hd); break;
    default: break;
    }
}

static inline void FN(act_jacobian)(cr_activation act, size_t d, const real *r, const real *h,
                             real *jac) {
    switch (act) {
    case CR_ACT_SIGMOID: FN(sigmoid_jacobian)(d, r, h, jac); break;
    case CR_ACT_TANH: FN(tanh_jacobian)(d, r, h, jac); break;
    case CR_ACT_RELU: FN(relu_jacobian)(d, r, h, jac); break;
    default: break;
    }
}

#endif
