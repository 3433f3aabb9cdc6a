/*
 * The element-wise kernels (elementwise.h), once per kernel set (chainrule_typed.h,
 * cr_isa): the portable C loops below are the reference, and
 * elementwise_simd.tmpl.h instantiates the same loops for AVX2 and AVX-512.
 * Every variant performs, for every element, the same operations in the same
 * order as the reference, so all three give the same bits
 * (tests/test_kernels.c compares them byte for byte). The sigmoid VJP's
 * reference is not here but the op's own (src/ops/sigmoid.tmpl.c): the
 * portable set has no VJP kernel, and the op layer runs the op's function.
 */
#include "kernels/elementwise.h"

#include <stdint.h>
#include <string.h>

#include "chainrule_typed.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* a*b + c stays two roundings, as in the reference */
#endif

/* ------------------------------------------------------------ portable reference */

/* σ(r) with e = exp(−|r|): n = round(x log2 e) by the 1.5·2^23 trick, f = x − n ln 2
   in two parts, Cephes' expf polynomial, 2^n built in the exponent bits; x is
   clamped at −87 so that 2^n stays normal. h = 1/(1+e) for r ≥ 0 (sign bit
   clear), e/(1+e) otherwise. The vector variants do exactly these steps. */
static float sigmoid1(float r) {
    uint32_t bits, nb;
    memcpy(&bits, &r, sizeof bits);
    const int neg = (bits >> 31) != 0;
    const uint32_t xbits = bits | 0x80000000u; /* −|r| */
    float x;
    memcpy(&x, &xbits, sizeof x);
    if (x < -87.0f) x = -87.0f;
    const float magic = 12582912.0f, t = x * 1.44269504088896341f + magic;
    uint32_t tb, mb;
    memcpy(&tb, &t, sizeof tb);
    memcpy(&mb, &magic, sizeof mb);
    const float nf = t - magic;
    const float f = x - nf * 0.693359375f + nf * 2.12194440e-4f, f2 = f * f;
    float p = 1.9875691500e-4f * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * f2 + f + 1.0f;
    nb = (tb - mb + 127u) << 23;
    float scale;
    memcpy(&scale, &nb, sizeof scale);
    const float e = p * scale;
    return neg ? e / (1.0f + e) : 1.0f / (1.0f + e);
}
static void sigmoid_portable(size_t count, const float *r, float *h) {
    for (size_t i = 0; i < count; i++) h[i] = sigmoid1(r[i]);
}

/* x * 0 is ±0 for finite x and NaN for NaN and ±inf: a sum of them is 0 exactly
   when every x is finite, in any order. */
static int finite_portable(size_t count, const float *x) {
    float s = 0;
    for (size_t i = 0; i < count; i++) s += x[i] * 0.0f;
    return s == 0;
}

/* ------------------------------------------------------------ the sets */

typedef struct {
    void (*sigmoid)(size_t, const float *, float *);
    void (*sigmoid_vjp)(size_t, const float *, const float *, float *);
    int (*finite)(size_t, const float *);
} kernels;

#define CR_KERNEL_TABLE(S) {sigmoid_##S, sigmoid_vjp_##S, finite_##S}

/* no VJP: the op's reference is the portable backend (elementwise.h) */
static const kernels k_portable = {sigmoid_portable, NULL, finite_portable};

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define CR_SIMD_AVX2 1
#include "elementwise_simd.tmpl.h"
#undef CR_SIMD_AVX2
static const kernels k_avx2 = CR_KERNEL_TABLE(avx2);

#define CR_SIMD_AVX512 1
#include "elementwise_simd.tmpl.h"
#undef CR_SIMD_AVX512
static const kernels k_avx512 = CR_KERNEL_TABLE(avx512);

static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, &k_avx2, &k_avx512};
#else
static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, NULL, NULL};
#endif

/* cr_isa_current() only returns sets this build has */
static const kernels *K(void) { return sets[cr_isa_current()]; }

void cr_sigmoid_fast_f32(size_t count, const float *r, float *h) { K()->sigmoid(count, r, h); }
int cr_sigmoid_vjp_simd_f32(size_t count, const float *h, const float *g, float *gr) {
    const kernels *k = K();
    if (!k->sigmoid_vjp) return 0;
    k->sigmoid_vjp(count, h, g, gr);
    return 1;
}
int cr_all_finite_f32(size_t count, const float *x) { return K()->finite(count, x); }
