/*
 * Small float32 kernels of the training loop, whose sigmoid and sigmoid VJP
 * the float32 network chain (net.tmpl.c) also uses (private to src/net). Each
 * exists in every kernel set (chainrule.h, cr_isa): the portable C reference
 * and its AVX2 and AVX-512 instantiations (linear_simd.tmpl.h), which
 * give the same bits as the reference; the set in use is cr_isa_current().
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


/* h = σ(r) for the training forward: exp through a Cephes-style polynomial
   (relative error ~2e-7, i.e. within 2 ulp of expf), stable form
   e = exp(−|r|), h = 1/(1+e) for r ≥ 0 and e/(1+e) for r < 0. */
void cr_sigmoid_fast_f32(size_t count, const float *r, float *h);
/* gr = g ∘ h ∘ (1 − h), the sigmoid VJP (same expression as the op's). */
void cr_sigmoid_vjp_fast_f32(size_t count, const float *h, const float *g, float *gr);

/* 1 if all count values are finite (one pass, x * 0 accumulated). */
int cr_all_finite_f32(size_t count, const float *x);

/* Optimiser updates over n parameters (see chainrule.h for the formulas);
   wd is the L2 coefficient. */
void cr_opt_sgd_f32(size_t n, float lr, float wd, float *p, const float *g);
void cr_opt_momentum_f32(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                         const float *g, float *m);
void cr_opt_adam_f32(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                     float eps, float *p, const float *g, float *m, float *v);

#endif
