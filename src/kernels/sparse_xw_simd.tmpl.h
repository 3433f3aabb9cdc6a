/*
 * The kernel of sparse_xw.c for one instruction set, included once with
 * CR_SIMD_AVX2 and once with CR_SIMD_AVX512 (simd_begin.tmpl.h). Rows go R = 3
 * at a time: the union of their nonzero inputs is listed (a vector compare
 * per register of inputs, the indices compressed: vpcompressd on AVX-512, a
 * 16-entry table per 4 lanes on AVX2), then for each register-sized group of
 * columns R × NV accumulators run the chain over the list: per input, NV loads
 * of W's row, R broadcasts and R·NV fused multiply-adds. An input zero in one
 * row of the group adds fma(0, w, c) = c there, so each value is the
 * reference's chain (sparse_xw.c) with some zero terms kept: the same bits.
 *
 * Measured (docs/benchmarks.md): with R = 2 each row of W (512 B for 128
 * columns) comes from L2 for 16 multiply-adds and the loop runs at ~70% of
 * the FMA peak; R = 3 (24 of the 32 zmm registers) runs near the peak; R = 4
 * needs two passes over the list for 128 columns and lists more inputs.
 * AVX2 (16 ymm registers): R = 3 × 4 registers (32 columns per pass).
 */
#include "simd_begin.tmpl.h"

#if defined(CR_SIMD_AVX2)
#define XW_R 3
#define XW_NV 4 /* 3 × 4 accumulators + W + 3 broadcasts: the 16 registers */
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
/* bit l set where lane l is ±0 */
#define VZERO_LANES(v) ((unsigned)_mm256_movemask_ps(_mm256_cmp_ps((v), VZERO(), _CMP_EQ_OQ)))

/* the lanes set in a 4-bit mask, in order (a 4-lane compress) */
static const uint32_t xw_nibble[16][4] = {
    {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {2, 0, 0, 0}, {0, 2, 0, 0},
    {1, 2, 0, 0}, {0, 1, 2, 0}, {3, 0, 0, 0}, {0, 3, 0, 0}, {1, 3, 0, 0}, {0, 1, 3, 0},
    {2, 3, 0, 0}, {0, 2, 3, 0}, {1, 2, 3, 0}, {0, 1, 2, 3}};

/* u <- the k < d with x0[k] ≠ 0 or x1[k] ≠ 0 (NaN counts as nonzero), in
   order; u has room for d + 16. Returns their number. */
TARGET static size_t S(xw_union)(size_t d, const float *const *xs, uint32_t *u) {
    size_t c = 0, k = 0;
    for (; k + 8 <= d; k += 8) {
        __m256 nz = _mm256_cmp_ps(VLOAD(xs[0] + k), VZERO(), _CMP_NEQ_UQ);
        for (int i = 1; i < XW_R; i++)
            nz = _mm256_or_ps(nz, _mm256_cmp_ps(VLOAD(xs[i] + k), VZERO(), _CMP_NEQ_UQ));
        const unsigned m = (unsigned)_mm256_movemask_ps(nz), lo = m & 15, hi = m >> 4;
        _mm_storeu_si128((__m128i *)(u + c),
                         _mm_add_epi32(_mm_loadu_si128((const __m128i *)xw_nibble[lo]),
                                       _mm_set1_epi32((int)k)));
        c += (size_t)__builtin_popcount(lo);
        _mm_storeu_si128((__m128i *)(u + c),
                         _mm_add_epi32(_mm_loadu_si128((const __m128i *)xw_nibble[hi]),
                                       _mm_set1_epi32((int)k + 4)));
        c += (size_t)__builtin_popcount(hi);
    }
    for (; k < d; k++) { /* branch-free compaction of the last inputs */
        int nz = 0;
        for (int i = 0; i < XW_R; i++) nz |= xs[i][k] != 0;
        u[c] = (uint32_t)k;
        c += (size_t)nz;
    }
    return c;
}
#else
#define XW_R 3
#define XW_NV 8 /* 3 × 8 accumulators: 128 columns of three rows */
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VZERO_LANES(v) ((unsigned)_mm512_cmp_ps_mask((v), VZERO(), _CMP_EQ_OQ))

TARGET static size_t S(xw_union)(size_t d, const float *const *xs, uint32_t *u) {
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    size_t c = 0, k = 0;
    for (; k + 16 <= d; k += 16) {
        __mmask16 m = 0;
        for (int i = 0; i < XW_R; i++) m |= _mm512_cmp_ps_mask(VLOAD(xs[i] + k), VZERO(), _CMP_NEQ_UQ);
        /* compress in a register, then a plain store (a compressing store to
           memory is slow on Zen 4) */
        _mm512_storeu_si512((void *)(u + c), _mm512_maskz_compress_epi32(m, idx));
        c += (size_t)__builtin_popcount(m);
        idx = _mm512_add_epi32(idx, step);
    }
    if (k < d) {
        const __mmask16 t = VMASK_N(d - k);
        __mmask16 m = 0;
        for (int i = 0; i < XW_R; i++)
            m |= _mm512_mask_cmp_ps_mask(t, VLOAD_M(xs[i] + k, t), VZERO(), _CMP_NEQ_UQ);
        _mm512_storeu_si512((void *)(u + c), _mm512_maskz_compress_epi32(m, idx));
        c += (size_t)__builtin_popcount(m);
    }
    return c;
}
#endif

/* The lanes of x[k, k + VL) that are nonzero (NaN counts), those past d off */
TARGET static inline unsigned S(xw_nz)(const float *x, size_t k, size_t d) {
#if defined(CR_SIMD_AVX2)
    if (k + VL <= d)
        return (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(VLOAD(x + k), VZERO(), _CMP_NEQ_UQ));
    unsigned m = 0;
    for (size_t l = 0; k + l < d; l++) m |= (unsigned)(x[k + l] != 0) << l;
    return m;
#else
    const __mmask16 t = k + VL <= d ? (__mmask16)0xffff : VMASK_N(d - k);
    return (unsigned)_mm512_mask_cmp_ps_mask(t, VLOAD_M(x + k, t), VZERO(), _CMP_NEQ_UQ);
#endif
}

/* The sort key of a row (xw_order): the span from its first to its last
   nonzero input (scanned from both ends), scaled to 20 bits; all-zero rows 0. */
TARGET static uint32_t S(xw_key)(size_t d, const float *x) {
    size_t k = 0;
    unsigned m = 0;
    for (; k < d; k += VL)
        if ((m = S(xw_nz)(x, k, d))) break;
    if (!m) return 0;
    const size_t first = k + (unsigned)__builtin_ctz(m);
    for (k = (d - 1) / VL * VL;; k -= VL) /* stops at the register of `first` at the latest */
        if ((m = S(xw_nz)(x, k, d))) break;
    const size_t last = k + 31 - (unsigned)__builtin_clz(m);
    unsigned sh = 0;
    while ((d >> sh) >= (1u << 20)) sh++;
    return (uint32_t)((last - first) >> sh);
}

/* Row r's columns [j0, j0 + NV·VL) from its accumulators: + b, and the lanes
   whose sum and bias are both zeros recomputed over every input (the sign of
   a zero sum). */
__attribute__((always_inline)) TARGET static inline void S(xw_store)(
    const VF *acc, const int NV, const int masked, VMASK m, unsigned lanes_last, const float *b,
    float *r, size_t j0, size_t d, const float *x, const float *w, size_t ldw) {
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) {
        const int tail = masked && v == NV - 1;
        const size_t j = j0 + (size_t)v * VL;
        VF out = acc[v];
        unsigned zero = VZERO_LANES(acc[v]);
        if (b) {
            const VF bv = tail ? VLOAD_M(b + j, m) : VLOAD(b + j);
            out = out + bv;
            zero &= VZERO_LANES(bv);
        }
        if (tail) {
            VSTORE_M(r + j, m, out);
            zero &= lanes_last;
        } else {
            VSTORE(r + j, out);
        }
        while (zero) { /* rare: W's column or the inputs give an exact zero */
            const unsigned l = (unsigned)__builtin_ctz(zero);
            zero &= zero - 1;
            r[j + l] = xw_dense_value(d, x, w, ldw, b, j + l);
        }
    }
}

/* Columns [j0, j0 + NV·VL) of the R rows xs (rows < R of them stored; the
   others repeat row 0) over the c inputs listed in u (R, NV, masked constant
   after inlining; the last register holds the lanes of m). */
__attribute__((always_inline)) TARGET static inline void S(xw_cols)(
    size_t c, const uint32_t *u, const float *const *xs, float *const *rs, size_t rows, const int R,
    size_t d, const float *w, size_t ldw, const float *b, size_t j0, const int NV,
    const int masked, VMASK m, unsigned lanes_last) {
    VF a[XW_R][XW_NV];
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) a[i][v] = VZERO();
    for (size_t q = 0; q < c; q++) {
        const size_t k = u[q];
        const float *wr = w + k * ldw + j0;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) {
            VF wv = masked && v == NV - 1 ? VLOAD_M(wr + v * VL, m) : VLOAD(wr + v * VL);
            /* one load of W per register: without this GCC folds the load into
               every multiply-add, and the loop is bound by the loads */
            __asm__("" : "+v"(wv));
            _Pragma("GCC unroll 4") for (int i = 0; i < R; i++)
                a[i][v] = VFMA(VSET1(xs[i][k]), wv, a[i][v]);
        }
    }
    /* R constant: the accumulators stay in registers */
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) if ((size_t)i < rows)
        S(xw_store)(a[i], NV, masked, m, lanes_last, b, rs[i], j0, d, xs[i], w, ldw);
}

TARGET static void S(sparse_xw)(size_t n, size_t d, size_t h, const float *x, size_t ldx,
                                const float *w, size_t ldw, const float *b, float *r, size_t ldr) {
    uint32_t u[CR_SPARSE_XW_MAX_D + 16], key[XW_BLOCK];
    uint16_t order[XW_BLOCK];
    enum { R = XW_R };
    for (size_t b0 = 0; b0 < n; b0 += XW_BLOCK) {
    const size_t nb = n - b0 < XW_BLOCK ? n - b0 : XW_BLOCK;
    /* the block's rows in order of their keys: similar rows share a group */
    for (size_t i = 0; i < nb; i++) key[i] = S(xw_key)(d, x + (b0 + i) * ldx);
    xw_order(nb, key, order);
    for (size_t i0 = 0; i0 < nb; i0 += R) {
        const size_t rows = nb - i0 < R ? nb - i0 : R;
        const float *xs[XW_R];
        float *rs[XW_R];
        for (size_t i = 0; i < R; i++) {
            const size_t row = b0 + order[i0 + (i < rows ? i : 0)];
            xs[i] = x + row * ldx;
            rs[i] = r + row * ldr;
        }
        size_t c = S(xw_union)(d, xs, u);
        if (xw_fault && c > 0) c--; /* planted: the last nonzero input left out */
        /* the next group's rows into L2 while this one computes: in the key's
           order they are not the hardware prefetcher's next lines */
        for (size_t i = i0 + R; i < i0 + 2 * R && i < nb; i++)
            for (size_t k = 0; k < d; k += 16)
                _mm_prefetch((const char *)(x + (b0 + order[i]) * ldx + k), _MM_HINT_T1);
        for (size_t j0 = 0; j0 < h; j0 += XW_NV * VL) {
            const size_t cols = h - j0 < XW_NV * VL ? h - j0 : XW_NV * VL;
            const size_t last = cols % VL;
            const VMASK m = last ? VMASK_N(last) : VMASK_NONE;
            const unsigned lanes_last = last ? (1u << last) - 1 : ~0u;
#define CR_XW_CASE(NV)                                                                         \
    case NV:                                                                                   \
        if (last)                                                                              \
            S(xw_cols)(c, u, xs, rs, rows, R, d, w, ldw, b, j0, NV, 1, m, lanes_last);         \
        else                                                                                   \
            S(xw_cols)(c, u, xs, rs, rows, R, d, w, ldw, b, j0, NV, 0, m, lanes_last);         \
        break;
            switch ((cols + VL - 1) / VL) {
                CR_XW_CASE(1)
                CR_XW_CASE(2)
                CR_XW_CASE(3)
                CR_XW_CASE(4)
#if XW_NV > 4
                CR_XW_CASE(5)
                CR_XW_CASE(6)
#endif
#if XW_NV > 6
                CR_XW_CASE(7)
                CR_XW_CASE(8)
#endif
            default: break;
            }
#undef CR_XW_CASE
        }
    }
    }
}

/* The share (‰ of d) of the inputs listed for the groups of R of the first
   rows (up to XW_SAMPLE of them, in the kernel's order); 1000 when n < R
   (cr_sparse_xw_pays). */
TARGET static size_t S(xw_sample)(size_t n, size_t d, const float *x, size_t ldx) {
    uint32_t u[CR_SPARSE_XW_MAX_D + 16], key[XW_SAMPLE];
    uint16_t order[XW_SAMPLE];
    const size_t m = n < XW_SAMPLE ? n : XW_SAMPLE, groups = m / XW_R;
    if (!groups) return 1000;
    for (size_t i = 0; i < m; i++) key[i] = S(xw_key)(d, x + i * ldx);
    xw_order(m, key, order);
    size_t total = 0;
    for (size_t g = 0; g < groups; g++) {
        const float *xs[XW_R];
        for (size_t i = 0; i < XW_R; i++) xs[i] = x + order[g * XW_R + i] * ldx;
        total += S(xw_union)(d, xs, u);
    }
    return total * 1000 / (groups * d);
}

#undef XW_NV
#undef XW_R
#undef VFMA
#undef VZERO_LANES
#include "simd_end.tmpl.h"
