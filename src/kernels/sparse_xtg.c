/*
 * The sparse parameter step W <- βW + α XᵀG over the nonzero inputs
 * (sparse_xtg.h), once per kernel set: the portable reference below (fmaf, one
 * element at a time, the rows with x_ik ≠ 0 in increasing order) and its AVX2
 * and AVX-512 instantiations (sparse_xtg_simd.tmpl.h), which perform the same
 * operations per element in the same order (tests/test_sparse_xtg.c compares
 * them byte for byte).
 */
#include "kernels/sparse_xtg.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chainrule_typed.h"

/* W_kj = fma(α, acc, β'), β' as in sparse_xtg.h */
static float epilogue(float alpha, float acc, float beta, float w) {
    const float b = beta == 1.0f ? w : beta == 0.0f ? 0.0f : beta * w;
    return fmaf(alpha, acc, b);
}

static void sparse_xtg_portable(size_t n, size_t r0, size_t r1, size_t c0, size_t c1,
                                const float *x, size_t ldx, const float *g, size_t ldg,
                                float alpha, float beta, float *w, size_t ldw) {
    for (size_t k = r0; k < r1; k++)
        for (size_t j = c0; j < c1; j++) {
            float acc = 0.0f;
            for (size_t i = 0; i < n; i++)
                if (x[i * ldx + k] != 0.0f) acc = fmaf(x[i * ldx + k], g[i * ldg + j], acc);
            w[k * ldw + j] = epilogue(alpha, acc, beta, w[k * ldw + j]);
        }
}

typedef void (*xtg_fn)(size_t, size_t, size_t, size_t, size_t, const float *, size_t,
                       const float *, size_t, float, float, float *, size_t);

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define CR_SIMD_AVX2 1
#include "sparse_xtg_simd.tmpl.h"
#undef CR_SIMD_AVX2

#define CR_SIMD_AVX512 1
#include "sparse_xtg_simd.tmpl.h"
#undef CR_SIMD_AVX512

static const xtg_fn sets[CR_ISA_COUNT] = {sparse_xtg_portable, sparse_xtg_avx2,
                                          sparse_xtg_avx512};
#else
static const xtg_fn sets[CR_ISA_COUNT] = {sparse_xtg_portable, NULL, NULL};
#endif

int cr_sparse_xtg_f32(size_t n, size_t r0, size_t r1, size_t c0, size_t c1, const float *x,
                      size_t ldx, const float *g, size_t ldg, float alpha, float beta, float *w,
                      size_t ldw) {
    if (n > CR_SPARSE_XTG_MAX_ROWS) return 0;
    if (r1 > r0 && c1 > c0) sets[cr_isa_current()](n, r0, r1, c0, c1, x, ldx, g, ldg, alpha, beta, w, ldw);
    return 1;
}

int cr_sparse_xtg_pays(void) { return cr_isa_current() != CR_ISA_PORTABLE; }
