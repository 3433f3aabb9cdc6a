/*
 * The first layer's forward product over the nonzero inputs, for many rows:
 *
 *     r_i = (Σ_{k: x_ik ≠ 0} x_ik W[k, :]) + b        (i < n; W: d × h row-major)
 *
 * Each value is the same chain as the packed kernel's (kernels/abt.h, B = W
 * packed as Wᵀ): one fused multiply-add per input k, in order of k, starting
 * from +0, then + b. Skipping a term with x_ik = ±0 leaves the chain's value
 * unchanged when W is finite (fma(±0, w, c) = c + (±0) = c), except for the
 * sign of a zero: where a result would be a zero sum plus a zero bias (or no
 * bias), the value is recomputed over every k, so the bits are those of the
 * dense chain (docs/kernels.md, "Zero inputs in the batched first layer").
 * With a NaN or infinite weight the dense chain differs (0 · inf = NaN): the
 * caller checks W once (cr_sparse_xw_finite) and takes the dense kernel then.
 *
 * The AVX2 and AVX-512 variants (sparse_xw_simd.tmpl.h) take the rows three
 * at a time over the union of their nonzero inputs (an input zero in one of
 * the three rows contributes its fma(0, w, c) = c there): each row of W is
 * loaded once per group. The portable variant is the reference, one row at a time, with
 * fmaf; all three give the same bits, and those of cr_abt_gemm + b.
 *
 * Private to the library (src/kernels). For training's forward (r = x W_1 + b
 * on a batch), call cr_sparse_xw_pays on the batch and, if it says so,
 * cr_sparse_xw_f32 with the finiteness of W_1 checked once per step.
 */
#ifndef CR_KERNELS_SPARSE_XW_H
#define CR_KERNELS_SPARSE_XW_H

#include <stddef.h>

/* The largest input width d the kernel takes (its index list lives on the stack). */
enum { CR_SPARSE_XW_MAX_D = 4096 };

/* 1 if every value of W (d × h, row stride ldw) is finite. */
int cr_sparse_xw_finite(size_t d, size_t h, const float *w, size_t ldw);

/* 1 if the kernel set in use has the fast variant (AVX2 or AVX-512) and the
   n rows of x (row stride ldx) are sparse enough for it to beat the dense
   packed kernel: measured on the first rows (up to 48, grouped as the kernel
   groups them), whose unions of nonzero inputs must be small enough for the
   set (sparse_xw.c). */
int cr_sparse_xw_pays(size_t n, size_t d, const float *x, size_t ldx);

/* r (n × h, row stride ldr) <- x W + b over the nonzero x_ik, b NULL: no
   bias (r = x W). W must be finite (else the result may differ from the
   dense product); d <= CR_SPARSE_XW_MAX_D. Under the kernel set in use. */
void cr_sparse_xw_f32(size_t n, size_t d, size_t h, const float *x, size_t ldx, const float *w,
                      size_t ldw, const float *b, float *r, size_t ldr);

/* Test hook (planted fault): with `skip` ≠ 0, every variant drops the last
   nonzero input of each row (or group of rows) from its chain, until called
   with 0. The tests check that their comparisons catch it. Not thread-safe. */
void cr_sparse_xw_plant_fault(int skip);
/* Test switch: with `off` ≠ 0, cr_sparse_xw_pays says 0 (every caller takes
   the dense kernel), until called with 0. Not thread-safe. */
void cr_sparse_xw_disable(int off);

#endif
