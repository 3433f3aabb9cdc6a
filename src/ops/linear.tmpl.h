/*
 * The running forms of the linear op r = x W + b (src/ops/linear.tmpl.c),
 * private to the library: what the walks call for a linear layer, with the
 * backend chosen beneath them. One scalar type per translation unit: include
 * after ops/real.h. W is din × dout row-major, rows of x and r of stride din
 * and dout.
 */
#ifndef CR_LINEAR_TMPL_H
#define CR_LINEAR_TMPL_H

#include <stdint.h>

#include "kernels/abt.h" /* cr_abt_packed: the packed A·Bᵀ kernel */

/*
 * Forward on the share [c0, c1) of the outputs: r[:, c0:c1) <- x W[:, c0:c1) + b[c0:c1)
 * for n rows. The whole row (c0 = 0, c1 = dout) is cr_linear_forward, or in
 * float32, when wt_packed holds Wᵀ packed (kernels/abt.h), x W by the packed
 * kernel and then + b; a part of it one gemm after b is copied in.
 */
void CR_TYPED(cr_linear_forward_share_f32, cr_linear_forward_share_f64)(
    size_t n, size_t din, size_t dout, const real *x, const real *w, const real *b, size_t c0,
    size_t c1, real *r, const cr_abt_packed *wt_packed);

/*
 * The VJP G_in = G Wᵀ (G: n_ex·kr rows × dout, G_in of row stride ld_in) on the
 * share [lo, hi) of the inputs: G_in[:, lo:hi) <- G W[lo:hi, :]ᵀ. kr is the rows
 * of G per example (1, or K for the closed Jacobian). In float32, when w_packed
 * holds W packed (kernels/abt.h) and the share is whole, one pass of the packed
 * kernel (with `derived` as cr_abt_gemm: each example's row derived from the
 * others, or NULL); otherwise one gemm.
 */
void CR_TYPED(cr_linear_vjp_share_f32, cr_linear_vjp_share_f64)(
    size_t n_ex, size_t kr, size_t din, size_t dout, const real *w, const real *g, size_t lo,
    size_t hi, real *gin, size_t ld_in, const cr_abt_packed *w_packed, const size_t *derived);

/*
 * The parameter step on the block rows [r0, r1) × columns [c0, c1) of W, from
 * the layer's n input rows x (stride din) and the cotangent G on its outputs
 * (stride dout):
 *     W[r0:r1, c0:c1) <- β W[r0:r1, c0:c1) + α x[:, r0:r1)ᵀ G[:, c0:c1)
 *     b[c0:c1)        <- β b[c0:c1)        + α Σ_n G_n[c0:c1)      (b NULL: not stepped)
 * β = 0 overwrites. W, b may be a gradient block (α 1/N, β 0) or the
 * parameters themselves (the fused SGD update α −lr/N, β 1 − lr·wd; take the
 * layer's VJP first, with the old W). In float32 the whole row of b is summed
 * by the vectorised column-sum kernel.
 */
void CR_TYPED(cr_linear_param_step_f32, cr_linear_param_step_f64)(
    size_t n, size_t din, size_t dout, const real *x, const real *g, real alpha, real beta, real *w,
    real *b, size_t r0, size_t r1, size_t c0, size_t c1);

#if defined(CR_REAL_F32)
/* One row (training's per-example SGD path), float32 backends of the forms above. */
/* r <- x W + b, skipping the zero inputs: their indices go to nz (din slots);
   returns their number. */
size_t cr_linear_forward_sparse_f32(size_t din, size_t dout, const float *x, const float *w,
                                    const float *b, float *r, uint32_t *nz);
/* g_in <- g Wᵀ = W g by the gemv kernel. */
void cr_linear_vjp_row_f32(size_t din, size_t dout, const float *w, const float *g, float *gin);
/* The step with β = 1 on the rows of the nz[0..nnz) nonzero inputs only (the
   others' rows of xᵀg are zero): W[i, :] += α x_i g, b += α g. Returns 1 if
   every value it wrote is finite (a NaN can hide from the loss). */
int cr_linear_param_step_sparse_f32(size_t nnz, const uint32_t *nz, size_t dout, float alpha,
                                    const float *x, const float *g, float *w, float *b);
#endif

#endif
