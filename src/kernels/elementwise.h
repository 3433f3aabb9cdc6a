/*
 * Float32 element-wise kernels: the sigmoid's forward and VJP, which the
 * sigmoid op's float32 row runs as its backends (src/ops/act_table.c), and
 * the finiteness scan of the training step. The set in use is
 * cr_isa_current() (chainrule_typed.h, cr_isa). σ and the scan exist in every
 * kernel set: the portable C reference (elementwise.c) and its AVX2 and
 * AVX-512 instantiations (elementwise_simd.tmpl.h), which give the same bits
 * as the reference. The VJP exists only as AVX2 and AVX-512 variants: its
 * portable backend is the op's own reference function (cr_sigmoid_vjp_f32,
 * src/ops/sigmoid.tmpl.c), which the op layer puts in the row. Private to the
 * library (src/kernels, below src/ops).
 */
#ifndef CR_KERNELS_ELEMENTWISE_H
#define CR_KERNELS_ELEMENTWISE_H

#include <stddef.h>

/* h = σ(r) for the training forward: exp through a Cephes-style polynomial
   (relative error ~2e-7, i.e. within 2 ulp of expf), stable form
   e = exp(−|r|), h = 1/(1+e) for r ≥ 0 and e/(1+e) for r < 0. */
void cr_sigmoid_fast_f32(size_t count, const float *r, float *h);
/* gr = g ∘ h ∘ (1 − h), the sigmoid VJP, by the vector variant of the set in
   use: returns 1 after writing gr, or 0 without touching anything under the
   portable set, which has no variant (the caller runs the op's reference,
   cr_sigmoid_vjp_f32). The variants compute the op's expression in the op's
   order, (g h)(1 − h), with the same roundings: the same bits as the op. */
int cr_sigmoid_vjp_simd_f32(size_t count, const float *h, const float *g, float *gr);

/* 1 if all count values are finite (one pass, x * 0 accumulated). */
int cr_all_finite_f32(size_t count, const float *x);

#endif
