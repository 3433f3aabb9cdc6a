/*
 * The parameter step of a layer whose inputs are mostly zero (training's first
 * layer on images with a blank background), float32:
 *     W[r0:r1, c0:c1) <- β W[r0:r1, c0:c1) + α X[:, r0:r1)ᵀ G[:, c0:c1)
 * X: n rows of stride ldx (the layer's inputs), G: n rows of stride ldg (the
 * cotangent on its outputs), W: stride ldw. Row k of the product is
 * Σ_i x_ik G[i, :], and only the rows i with x_ik ≠ 0 add anything: the kernel
 * walks, for two inputs k, k+1 at once, the rows where either is nonzero (a
 * bit mask per pair, built once per block of 16 inputs), loads G's row once
 * for both and keeps 2 × (up to 8) registers of accumulators.
 *
 * Each element is computed as OpenBLAS's sgemm computes it (checked on its
 * Cooperlake/SkylakeX kernels, the ones a Zen 4 runs): acc = 0, then
 * acc = fma(x_ik, G_ij, acc) for the rows i in increasing order, then
 * W_kj = fma(α, acc, β' ) with β' = W_kj for β = 1, 0 for β = 0, else β W_kj.
 * Skipping a row with x_ik = 0 leaves acc as it was (acc + ±0 = acc: acc is
 * never −0), so when G is finite the bits are those of the full sum; with an
 * Inf or NaN in G's row i the skipped products would have been NaN (the step's
 * callers catch non-finite values in the next forward pass or the epoch's
 * end, from the pixels that are not zero).
 *
 * One kernel per set (chainrule.h, cr_isa): the portable C loop (fmaf) and
 * AVX2 and AVX-512 instantiations of sparse_xtg_simd.tmpl.h, all with the
 * same bits. Private to the library (src/kernels, below src/ops).
 */
#ifndef CR_KERNELS_SPARSE_XTG_H
#define CR_KERNELS_SPARSE_XTG_H

#include <stddef.h>

/* The most rows (n) the kernel takes; above, cr_sparse_xtg_f32 returns 0. */
#define CR_SPARSE_XTG_MAX_ROWS 2048

/* The step above by the current kernel set. Returns 1, or 0 without writing
   anything when n > CR_SPARSE_XTG_MAX_ROWS (then take the gemm). */
int cr_sparse_xtg_f32(size_t n, size_t r0, size_t r1, size_t c0, size_t c1, const float *x,
                      size_t ldx, const float *g, size_t ldg, float alpha, float beta, float *w,
                      size_t ldw);

/* 1 if the current kernel set's sparse step is faster than the gemm on
   Fashion-MNIST-like inputs (the SIMD sets; the portable one calls fmaf per
   element and is the reference only). */
int cr_sparse_xtg_pays(void);

#endif
