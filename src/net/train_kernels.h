/*
 * Small float32 kernels of the training loop (private to src/net). The
 * per-example kernels are written once with GCC/Clang vector extensions and
 * compiled for AVX-512, AVX2 and the baseline ISA; the best one the CPU
 * supports is picked at the first call.
 */
#ifndef CR_TRAIN_KERNELS_H
#define CR_TRAIN_KERNELS_H

#include <stddef.h>

/* b <- beta b + a colsum(G) (G: n x h row-major); beta == 0 overwrites b. */
void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b);
/* r <- b + Σ_{i: x_i ≠ 0} x_i W[i,:]   (W: din x dout row-major) */
void cr_sparse_gemv_f32(size_t din, size_t dout, const float *x, const float *w,
                        const float *b, float *r);
/* out[i] <- <W[i,:], g>   (out = W g) */
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out);
/* W[i,:] += (a h_i) g for every h_i ≠ 0;  b += a g */
void cr_sparse_ger_f32(size_t din, size_t dout, float a, const float *h, const float *g,
                       float *w, float *b);

#endif
