/*
 * sparse_xtg.c's kernel for one instruction set, included once with
 * CR_SIMD_AVX2 and once with CR_SIMD_AVX512 (simd_begin.tmpl.h): the portable
 * reference with whole registers of columns, the same fma per element in the
 * same order of rows.
 *
 * Inputs are taken in blocks of up to 16 (k0 .. k0+16): first, for every row
 * i, the bits of the block's nonzero inputs (R[i], bit q for x_i,k0+q ≠ 0,
 * NaN included); then for each pair of inputs (k0+2p, k0+2p+1) a 64-bit mask
 * per 64 rows of the rows where either is nonzero. For each pair and each
 * chunk of up to NVMAX registers of columns, the rows of the mask in
 * increasing order add x_ik G[i, :] and x_ik' G[i, :] into two sets of
 * accumulators (x_ik = 0 on a row that only k' needs adds ±0: no change).
 */
#include "simd_begin.tmpl.h"

#if defined(CR_SIMD_AVX2)
#define NVMAX 4 /* 2 x 4 accumulators + 4 of G + 2 broadcasts of the 16 ymm */
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#else
#define NVMAX 8 /* 2 x 8 accumulators + 8 of G + 2 broadcasts of the 32 zmm */
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#endif

/* BODY(v) for v = 0 .. NV-1, written out (NV is a constant: the accumulator
   arrays stay in registers, which GCC's unroll pragma does not achieve here) */
#define XTG_FOR_V(BODY)                                                                        \
    do {                                                                                       \
        if (NV > 0) BODY(0)                                                                    \
        if (NV > 1) BODY(1)                                                                    \
        if (NV > 2) BODY(2)                                                                    \
        if (NV > 3) BODY(3)                                                                    \
        if (NV > 4) BODY(4)                                                                    \
        if (NV > 5) BODY(5)                                                                    \
        if (NV > 6) BODY(6)                                                                    \
        if (NV > 7) BODY(7)                                                                    \
    } while (0)

/* G's register is loaded once for both inputs of a pair: without this the
   compiler folds the load into each of the two FMAs (two loads per register of
   G, and the loop is bound by loads instead of FMAs) */
#if defined(__GNUC__)
#define XTG_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define XTG_IN_REGISTER(v) ((void)0)
#endif

/* R[i] for rows [0, n) of inputs [k0, k0 + npx) (npx <= 16), zero up to nblk·64 rows */
TARGET static void S(xtg_row_bits)(size_t n, const float *x, size_t ldx, size_t k0, size_t npx,
                                  uint32_t *R, size_t nblk) {
#if defined(CR_SIMD_AVX2)
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(npx < 8 ? npx : 8)), lanes);
    const __m256i m_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(npx > 8 ? npx - 8 : 0)), lanes);
    for (size_t i = 0; i < n; i++) {
        const float *xr = x + i * ldx + k0;
        const __m256 lo = _mm256_maskload_ps(xr, m_lo);
        const __m256 hi = npx > 8 ? _mm256_maskload_ps(xr + 8, m_hi) : _mm256_setzero_ps();
        R[i] = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(lo, _mm256_setzero_ps(), _CMP_NEQ_UQ)) |
               (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(hi, _mm256_setzero_ps(), _CMP_NEQ_UQ)) << 8;
    }
#else
    const __mmask16 m = (__mmask16)(npx >= 16 ? 0xffffu : (1u << npx) - 1);
    for (size_t i = 0; i < n; i++)
        R[i] = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, x + i * ldx + k0), _mm512_setzero_ps(),
                                  _CMP_NEQ_UQ);
#endif
    for (size_t i = n; i < nblk * 64; i++) R[i] = 0;
}

/* The mask of the rows [64 b, 64 b + 64) where bit 2p or 2p+1 of R is set. */
TARGET static uint64_t S(xtg_pair_mask)(const uint32_t *R, size_t b, unsigned p) {
    uint64_t m = 0;
#if defined(CR_SIMD_AVX2)
    /* bits 2p and 2p+1 to the sign bit, OR-ed; movemask gives 8 rows */
    const __m128i s0 = _mm_cvtsi32_si128((int)(31 - 2 * p)), s1 = _mm_cvtsi32_si128((int)(30 - 2 * p));
    for (unsigned q = 0; q < 8; q++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(R + b * 64 + q * 8));
        const __m256i t = _mm256_or_si256(_mm256_sll_epi32(v, s0), _mm256_sll_epi32(v, s1));
        m |= (uint64_t)(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(t)) << (8 * q);
    }
#else
    const __m512i t = _mm512_set1_epi32((int)(3u << (2 * p)));
    for (unsigned q = 0; q < 4; q++)
        m |= (uint64_t)_mm512_test_epi32_mask(_mm512_loadu_si512(R + b * 64 + q * 16), t) << (16 * q);
#endif
    return m;
}

/* The pair (k, k+1) (two: 1 with k+1, 0 for k alone) on columns [j0, j0 + NV·VL),
   the last register masked by m when `masked`. Inlined with constant NV, two, masked. */
__attribute__((always_inline)) TARGET static inline void S(xtg_pair)(
    size_t nblk, const uint64_t *mask, size_t mstride, const float *x, size_t ldx, size_t k,
    const float *g, size_t ldg, float alpha, float beta, float *w, size_t ldw, size_t j0,
    const int NV, const int two, const int masked, VMASK m) {
    VF a0[8], a1[8];
#define XTG_ZERO(v) { a0[v] = VZERO(); a1[v] = VZERO(); }
    XTG_FOR_V(XTG_ZERO);
#undef XTG_ZERO
    for (size_t b = 0; b < nblk; b++) {
        uint64_t bits = mask[b * mstride];
        while (bits) {
            const size_t i = b * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const float *xr = x + i * ldx + k, *gr = g + i * ldg + j0;
            const VF x0 = VSET1(xr[0]);
            const VF x1 = two ? VSET1(xr[1]) : VZERO();
#define XTG_ROW(v)                                                                             \
    {                                                                                          \
        VF gv = masked && (v) == NV - 1 ? VLOAD_M(gr + (v) * VL, m) : VLOAD(gr + (v) * VL);   \
        if (two) XTG_IN_REGISTER(gv);                                                          \
        a0[v] = VFMA(x0, gv, a0[v]);                                                           \
        if (two) a1[v] = VFMA(x1, gv, a1[v]);                                                  \
    }
            XTG_FOR_V(XTG_ROW);
#undef XTG_ROW
        }
    }
    const VF va = VSET1(alpha), vb = VSET1(beta);
    float *w0 = w + k * ldw + j0, *w1 = w0 + ldw;
#define XTG_OUT(wr, acc, v)                                                                    \
    {                                                                                          \
        const int last = masked && (v) == NV - 1;                                              \
        VF u = beta == 0.0f ? VZERO() : last ? VLOAD_M(wr + (v) * VL, m) : VLOAD(wr + (v) * VL); \
        if (beta != 1.0f && beta != 0.0f) u = vb * u;                                          \
        u = VFMA(va, acc, u);                                                                  \
        if (last)                                                                              \
            VSTORE_M(wr + (v) * VL, m, u);                                                     \
        else                                                                                   \
            VSTORE(wr + (v) * VL, u);                                                          \
    }
#define XTG_EPI(v)                                                                             \
    {                                                                                          \
        XTG_OUT(w0, a0[v], v)                                                                  \
        if (two) XTG_OUT(w1, a1[v], v)                                                         \
    }
    XTG_FOR_V(XTG_EPI);
#undef XTG_EPI
#undef XTG_OUT
}

/* One pair (or single input) on every column chunk of [c0, c1); inlined with constant two. */
__attribute__((always_inline)) TARGET static inline void S(xtg_cols)(size_t nblk, const uint64_t *mask, size_t mstride, const float *x,
                               size_t ldx, size_t k, const float *g, size_t ldg, float alpha,
                               float beta, float *w, size_t ldw, size_t c0, size_t c1,
                               const int two) {
    size_t j0 = c0;
    for (; j0 + NVMAX * VL <= c1; j0 += NVMAX * VL)
        S(xtg_pair)(nblk, mask, mstride, x, ldx, k, g, ldg, alpha, beta, w, ldw, j0, NVMAX, two, 0,
                    VMASK_NONE);
    const size_t rest = c1 - j0, last = rest % VL;
    const VMASK m = last ? VMASK_N(last) : VMASK_NONE;
#define CR_XTG_CASE(NV)                                                                        \
    case NV:                                                                                   \
        if (last)                                                                              \
            S(xtg_pair)(nblk, mask, mstride, x, ldx, k, g, ldg, alpha, beta, w, ldw, j0, NV, two, \
                        1, m);                                                                 \
        else                                                                                   \
            S(xtg_pair)(nblk, mask, mstride, x, ldx, k, g, ldg, alpha, beta, w, ldw, j0, NV, two, \
                        0, m);                                                                 \
        break;
    switch ((rest + VL - 1) / VL) {
        CR_XTG_CASE(1)
        CR_XTG_CASE(2)
        CR_XTG_CASE(3)
        CR_XTG_CASE(4) /* NVMAX registers with a masked last one */
#if NVMAX > 4
        CR_XTG_CASE(5)
        CR_XTG_CASE(6)
        CR_XTG_CASE(7)
        CR_XTG_CASE(8)
#endif
    default: break; /* 0: nothing left */
    }
#undef CR_XTG_CASE
}

TARGET static void S(sparse_xtg)(size_t n, size_t r0, size_t r1, size_t c0, size_t c1,
                                 const float *x, size_t ldx, const float *g, size_t ldg,
                                 float alpha, float beta, float *w, size_t ldw) {
    enum { MAXBLK = CR_SPARSE_XTG_MAX_ROWS / 64 };
    uint32_t R[CR_SPARSE_XTG_MAX_ROWS];
    uint64_t mask[MAXBLK * 8]; /* mask[b * 8 + p]: pair p's rows of block b */
    const size_t nblk = (n + 63) / 64;
    for (size_t k0 = r0; k0 < r1; k0 += 16) {
        const size_t npx = r1 - k0 < 16 ? r1 - k0 : 16;
        S(xtg_row_bits)(n, x, ldx, k0, npx, R, nblk);
        const unsigned npair = (unsigned)(npx + 1) / 2;
        for (size_t b = 0; b < nblk; b++)
            for (unsigned p = 0; p < npair; p++) mask[b * 8 + p] = S(xtg_pair_mask)(R, b, p);
        for (unsigned p = 0; p < npair; p++) {
            const size_t k = k0 + 2 * p;
            if (k + 1 < r1)
                S(xtg_cols)(nblk, mask + p, 8, x, ldx, k, g, ldg, alpha, beta, w, ldw, c0, c1, 1);
            else
                S(xtg_cols)(nblk, mask + p, 8, x, ldx, k, g, ldg, alpha, beta, w, ldw, c0, c1, 0);
        }
    }
}

#undef NVMAX
#undef XTG_FOR_V
#undef XTG_IN_REGISTER
#undef VFMA
#include "simd_end.tmpl.h"
