/*
 * The per-example kernels of the linear op (linear.h), once per kernel set
 * (chainrule.h, cr_isa): the portable C loops below are the reference, and
 * linear_simd.tmpl.h instantiates the same loops for AVX2 (8 floats
 * per register) and AVX-512 (16 floats), with masked loads and stores for
 * the last columns. Every variant performs, for every element, the same
 * operations in the same order as the reference (no contraction to FMA, no
 * reordered sums), so all three give the same bits (tests/test_kernels.c
 * compares them byte for byte).
 */
#include "kernels/linear.h"

#include <stdint.h>

#include "chainrule_typed.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* a*b + c stays two roundings, as in the reference */
#endif

size_t cr_nonzero_f32(size_t n, const float *x, uint32_t *idx) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) { /* branch-free compaction */
        idx[c] = (uint32_t)i;
        c += x[i] != 0;
    }
    return c;
}

/* ------------------------------------------------------------ portable reference */

/* r_j = b_j + Σ_q x_{i_q} W[i_q, j], added in the order of idx */
static void sparse_gemv_portable(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                                 const float *w, const float *b, float *r) {
    for (size_t j = 0; j < dout; j++) r[j] = b[j];
    for (size_t q = 0; q < nnz; q++) {
        const float xi = x[idx[q]], *wr = w + (size_t)idx[q] * dout;
        for (size_t j = 0; j < dout; j++) r[j] = r[j] + xi * wr[j];
    }
}

/* out_i = <W[i,:], g>: 16 partial sums (column j goes to partial j mod 16, in
   order of j), then summed as a tree: s_u += s_{u+8}, s_u += s_{u+4}, s_u +=
   s_{u+2}, s_0 += s_1. AVX2 holds the 16 partials in two registers, AVX-512
   in one; the order is the same. */
static float hsum16_portable(float *s) {
    for (int width = 8; width >= 1; width /= 2)
        for (int u = 0; u < width; u++) s[u] = s[u] + s[u + width];
    return s[0];
}
static void gemv_rows_portable(size_t din, size_t dout, const float *w, const float *g,
                               float *out) {
    for (size_t i = 0; i < din; i++) {
        const float *wr = w + i * dout;
        float s[16] = {0};
        for (size_t j = 0; j < dout; j++) s[j % 16] = s[j % 16] + wr[j] * g[j];
        out[i] = hsum16_portable(s);
    }
}

/* x * 0 is ±0 for finite x and NaN for NaN and ±inf: a sum of them is 0 exactly
   when every x is finite, in any order. */
static int sparse_ger_portable(size_t nnz, const uint32_t *idx, size_t dout, float a,
                               const float *h, const float *g, float *w, float *b) {
    float chk = 0;
    for (size_t q = 0; q < nnz; q++) {
        const float ai = a * h[idx[q]];
        float *wr = w + (size_t)idx[q] * dout;
        for (size_t j = 0; j < dout; j++) {
            wr[j] = wr[j] + ai * g[j];
            chk += wr[j] * 0.0f;
        }
    }
    for (size_t j = 0; j < dout; j++) {
        b[j] = b[j] + a * g[j];
        chk += b[j] * 0.0f;
    }
    return chk == 0;
}

/* b_j = a Σ_i G[i,j] (beta == 0) or beta b_j + a Σ_i G[i,j], rows added in order */
static void colsum_portable(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    for (size_t j = 0; j < h; j++) {
        float acc = 0;
        for (size_t i = 0; i < n; i++) acc = acc + g[i * h + j];
        b[j] = beta == 0 ? a * acc : beta * b[j] + a * acc;
    }
}

/* ------------------------------------------------------------ the sets */

typedef struct {
    void (*sparse_gemv)(size_t, const uint32_t *, size_t, const float *, const float *,
                        const float *, float *);
    void (*gemv_rows)(size_t, size_t, const float *, const float *, float *);
    int (*sparse_ger)(size_t, const uint32_t *, size_t, float, const float *, const float *,
                      float *, float *);
    void (*colsum)(size_t, size_t, float, const float *, float, float *);
} kernels;

#define CR_KERNEL_TABLE(S) {sparse_gemv_##S, gemv_rows_##S, sparse_ger_##S, colsum_##S}

static const kernels k_portable = CR_KERNEL_TABLE(portable);

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define CR_SIMD_AVX2 1
#include "linear_simd.tmpl.h"
#undef CR_SIMD_AVX2
static const kernels k_avx2 = CR_KERNEL_TABLE(avx2);

#define CR_SIMD_AVX512 1
#include "linear_simd.tmpl.h"
#undef CR_SIMD_AVX512
static const kernels k_avx512 = CR_KERNEL_TABLE(avx512);

static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, &k_avx2, &k_avx512};
#else
static const kernels *const sets[CR_ISA_COUNT] = {&k_portable, NULL, NULL};
#endif

/* cr_isa_current() only returns sets this build has */
static const kernels *K(void) { return sets[cr_isa_current()]; }

void cr_sparse_gemv_f32(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                        const float *w, const float *b, float *r) {
    K()->sparse_gemv(nnz, idx, dout, x, w, b, r);
}
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out) {
    K()->gemv_rows(din, dout, w, g, out);
}
int cr_sparse_ger_f32(size_t nnz, const uint32_t *idx, size_t dout, float a, const float *h,
                      const float *g, float *w, float *b) {
    return K()->sparse_ger(nnz, idx, dout, a, h, g, w, b);
}
void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    K()->colsum(n, h, a, g, beta, b);
}
