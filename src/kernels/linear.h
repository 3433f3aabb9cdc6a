/*
 * The float32 per-example kernels of the linear op r = x W + b and its
 * derivatives: the sparse forward (only the nonzero inputs), the VJP's
 * W g per example, the parameter step of one example, and the bias gradient
 * as a column sum. Each exists in every kernel set (chainrule.h, cr_isa): the
 * portable C reference (linear.c) and its AVX2 and AVX-512 instantiations
 * (linear_simd.tmpl.h), which give the same bits as the reference; the set in
 * use is cr_isa_current(). Private to the library (src/kernels, below src/ops).
 */
#ifndef CR_KERNELS_LINEAR_H
#define CR_KERNELS_LINEAR_H

#include <stddef.h>
#include <stdint.h>

/* b <- beta b + a colsum(G) (G: n x h row-major); beta == 0 overwrites b. */
void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b);
/* Writes the indices i with x_i ≠ 0 to idx; returns their number. */
size_t cr_nonzero_f32(size_t n, const float *x, uint32_t *idx);
/* r <- b + Σ_{i in idx} x_i W[i,:]   (W: din x dout row-major) */
void cr_sparse_gemv_f32(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                        const float *w, const float *b, float *r);
/* out[i] <- <W[i,:], g>   (out = W g) */
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out);
/* W[i,:] += (a h_i) g for every i in idx;  b += a g. Returns 1 if every
   updated value is finite. */
int cr_sparse_ger_f32(size_t nnz, const uint32_t *idx, size_t dout, float a, const float *h,
                      const float *g, float *w, float *b);

#endif
