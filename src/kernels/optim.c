/*
 * The optimiser updates (optim.h), once per kernel set (chainrule.h, cr_isa):
 * the portable C loops below are the reference, and optim_simd.tmpl.h
 * instantiates the same loops for AVX2 and AVX-512. Every variant performs,
 * for every element, the same operations in the same order as the reference,
 * so all three give the same bits (tests/test_kernels.c compares them byte
 * for byte).
 */
#include "kernels/optim.h"

#include <math.h>
#include <stdint.h>

#include "chainrule_typed.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* a*b + c stays two roundings, as in the reference */
#endif

/* ------------------------------------------------------------ portable reference */

static void opt_sgd_portable(size_t n, float lr, float wd, float *p, const float *g) {
    for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * (g[i] + wd * p[i]);
}
static void opt_momentum_portable(size_t n, float lr, float wd, float mu, int nesterov,
                                  float *p, const float *g, float *m) {
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] + wd * p[i];
        m[i] = mu * m[i] + gi;
        p[i] = p[i] - lr * (nesterov ? gi + mu * m[i] : m[i]);
    }
}
static void opt_adam_portable(size_t n, float step_size, float wd, float b1, float b2,
                              float sbc2, float eps, float *p, const float *g, float *m,
                              float *v) {
    const float c1 = 1 - b1, c2 = 1 - b2;
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + c1 * gi;
        v[i] = b2 * v[i] + c2 * gi * gi;
        p[i] = p[i] - step_size * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}

/* ------------------------------------------------------------ the sets */

typedef struct {
    void (*sgd)(size_t, float, float, float *, const float *);
    void (*momentum)(size_t, float, float, float, int, float *, const float *, float *);
    void (*adam)(size_t, float, float, float, float, float, float, float *, const float *, float *,
                 float *);
} kernels;

#define CR_KERNEL_TABLE(S) {opt_sgd_##S, opt_momentum_##S, opt_adam_##S}

static const kernels k_portable = CR_KERNEL_TABLE(portable);

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define CR_SIMD_AVX2 1
#include "optim_simd.tmpl.h"
#undef CR_SIMD_AVX2
static const kernels k_avx2 = CR_KERNEL_TABLE(avx2);

#define CR_SIMD_AVX512 1
#include "optim_simd.tmpl.h"
#undef CR_SIMD_AVX512
static const kernels k_avx512 = CR_KERNEL_TABLE(avx512);

static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, &k_avx2, &k_avx512};
#else
static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, NULL, NULL};
#endif

/* cr_isa_current() only returns sets this build has */
static const kernels *K(void) { return sets[cr_isa_current()]; }

void cr_opt_sgd_f32(size_t n, float lr, float wd, float *p, const float *g) {
    K()->sgd(n, lr, wd, p, g);
}
void cr_opt_momentum_f32(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                         const float *g, float *m) {
    K()->momentum(n, lr, wd, mu, nesterov, p, g, m);
}
void cr_opt_adam_f32(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                     float eps, float *p, const float *g, float *m, float *v) {
    K()->adam(n, step_size, wd, b1, b2, sbc2, eps, p, g, m, v);
}
