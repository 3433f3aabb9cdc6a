/*
 * The kernels of linear.c for one instruction set, included once with
 * CR_SIMD_AVX2 and once with CR_SIMD_AVX512 (simd_begin.tmpl.h). Each loop is
 * the portable reference of linear.c with whole registers of columns: the
 * same operations per element, in the same order.
 */
#include "simd_begin.tmpl.h"

/* Columns [j0, j0 + NV·VL) of r = b + Σ_q x_{i_q} W[i_q, :], NV registers of
   accumulators held over all rows; with `masked`, the last register holds only
   the lanes of m. Inlined with constant NV and masked. */
__attribute__((always_inline)) TARGET static inline void S(gemv_cols)(
    size_t nnz, const uint32_t *idx, size_t dout, const float *x, const float *w, const float *b,
    float *r, size_t j0, const int NV, const int masked, VMASK m) {
    VF acc[8];
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++)
        acc[v] = masked && v == NV - 1 ? VLOAD_M(b + j0 + v * VL, m) : VLOAD(b + j0 + v * VL);
    for (size_t q = 0; q < nnz; q++) {
        const VF xi = VSET1(x[idx[q]]);
        const float *wr = w + (size_t)idx[q] * dout + j0;
        _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) {
            const VF wv = masked && v == NV - 1 ? VLOAD_M(wr + v * VL, m) : VLOAD(wr + v * VL);
            acc[v] = acc[v] + xi * wv;
        }
    }
    _Pragma("GCC unroll 8") for (int v = 0; v < NV; v++) {
        if (masked && v == NV - 1)
            VSTORE_M(r + j0 + v * VL, m, acc[v]);
        else
            VSTORE(r + j0 + v * VL, acc[v]);
    }
}

TARGET static void S(sparse_gemv)(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                                  const float *w, const float *b, float *r) {
    size_t j0 = 0;
    for (; j0 + 8 * VL <= dout; j0 += 8 * VL) S(gemv_cols)(nnz, idx, dout, x, w, b, r, j0, 8, 0, VMASK_NONE);
    const size_t rest = dout - j0, last = rest % VL;
    const VMASK m = last ? VMASK_N(last) : VMASK_NONE;
    /* the remaining columns in one pass: whole registers and a masked one */
#define CR_GEMV_CASE(NV)                                                                       \
    case NV:                                                                                   \
        if (last)                                                                              \
            S(gemv_cols)(nnz, idx, dout, x, w, b, r, j0, NV, 1, m);                            \
        else                                                                                   \
            S(gemv_cols)(nnz, idx, dout, x, w, b, r, j0, NV, 0, m);                            \
        break;
    switch ((rest + VL - 1) / VL) {
        CR_GEMV_CASE(1)
        CR_GEMV_CASE(2)
        CR_GEMV_CASE(3)
        CR_GEMV_CASE(4)
        CR_GEMV_CASE(5)
        CR_GEMV_CASE(6)
        CR_GEMV_CASE(7)
    default: break; /* 0: nothing left */
    }
#undef CR_GEMV_CASE
}

/* 16 partial sums per row (gemv_rows_portable): 16 / VL registers */
TARGET static void S(gemv_rows)(size_t din, size_t dout, const float *w, const float *g,
                                float *out) {
    enum { G = 16 / VL };
    const size_t whole = dout / 16 * 16, rest = dout - whole;
    for (size_t i = 0; i < din; i++) {
        const float *wr = w + i * dout;
        VF acc[G];
        _Pragma("GCC unroll 2") for (int v = 0; v < G; v++) acc[v] = VZERO();
        for (size_t j = 0; j < whole; j += 16)
            _Pragma("GCC unroll 2") for (int v = 0; v < G; v++)
                acc[v] = acc[v] + VLOAD(wr + j + v * VL) * VLOAD(g + j + v * VL);
        _Pragma("GCC unroll 2") for (int v = 0; v < G; v++) {
            if ((size_t)v * VL >= rest) break;
            const size_t lanes = rest - (size_t)v * VL;
            if (lanes >= VL) {
                acc[v] = acc[v] + VLOAD(wr + whole + v * VL) * VLOAD(g + whole + v * VL);
            } else {
                const VMASK m = VMASK_N(lanes);
                acc[v] = acc[v] + VLOAD_M(wr + whole + v * VL, m) * VLOAD_M(g + whole + v * VL, m);
            }
        }
        /* the tree: 16 -> 8 lanes (s_u + s_{u+8}), then 8 -> 4 -> 2 -> 1 */
#if VL == 16
        const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(acc[0]),
                                        _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                            _mm512_castps_pd(acc[0]), 1)));
#else
        const __m256 s8 = _mm256_add_ps(acc[0], acc[1]);
#endif
        const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
        out[i] = _mm_cvtss_f32(s1);
    }
}

/* The check ORs the bits of w * 0 (±0 for finite w, NaN otherwise): one
   cycle of latency per register instead of an addition's. */
TARGET static int S(sparse_ger)(size_t nnz, const uint32_t *idx, size_t dout, float a,
                                const float *h, const float *g, float *w, float *b) {
    const size_t whole = dout / VL * VL, last = dout - whole;
    const VMASK m = last ? VMASK_N(last) : VMASK_NONE;
    VU chk = (VU)VZERO();
    const VF zero = VZERO();
    for (size_t q = 0; q <= nnz; q++) { /* the nnz rows of W, then b (with a) */
        const VF ai = VSET1(q < nnz ? a * h[idx[q]] : a);
        float *wr = q < nnz ? w + (size_t)idx[q] * dout : b;
        _Pragma("GCC unroll 4") for (size_t j = 0; j < whole; j += VL) {
            const VF wv = VLOAD(wr + j) + ai * VLOAD(g + j);
            chk = chk | (VU)(wv * zero);
            VSTORE(wr + j, wv);
        }
        if (last) {
            const VF wv = VLOAD_M(wr + whole, m) + ai * VLOAD_M(g + whole, m);
            chk = chk | (VU)(wv * zero);
            VSTORE_M(wr + whole, m, wv);
        }
    }
    return VBITS_SIGN_ONLY(chk);
}

TARGET static void S(colsum)(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    const VF av = VSET1(a), bv = VSET1(beta);
#define CR_BODY(j, LD, ST)                                                                     \
    VF acc = VZERO();                                                                          \
    for (size_t i = 0; i < n; i++) acc = acc + LD(g + i * h + j);                              \
    ST(b + j, beta == 0 ? (VF)(av * acc) : (VF)(bv * LD(b + j) + av * acc));
    CR_SIMD_ELEMENTWISE(h, CR_BODY);
#undef CR_BODY
}

#include "simd_end.tmpl.h"
