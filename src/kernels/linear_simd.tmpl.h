/*
 * The training kernels of kernels/linear.c for one instruction set, included
 * once with CR_SIMD_AVX2 (8 floats per register) and once with CR_SIMD_AVX512
 * (16 floats). Each loop is the portable reference of kernels/linear.c with
 * whole registers of columns, the last columns loaded and stored under a mask
 * (no scalar tail): the same operations per element, in the same order.
 * Arithmetic is written with GCC/Clang vector operators on the intrinsics'
 * own types (__m256, __m512), which stay in registers at this width.
 */
#if defined(CR_SIMD_AVX2)
#define S(name) name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VL 8
typedef __m256 vf_avx2;
typedef uint32_t vu_avx2 __attribute__((vector_size(32)));
#define VF vf_avx2
#define VU vu_avx2
#define VMASK __m256i
#define VMASK_NONE _mm256_setzero_si256()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO() _mm256_setzero_ps()
#define VSQRT(v) _mm256_sqrt_ps(v)
#define VMAX(a, b) _mm256_max_ps((a), (b))
/* the first n lanes (0 < n < VL) */
#define VMASK_N(n) \
    _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLOAD_M(p, m) _mm256_maskload_ps((p), (m))
#define VSTORE_M(p, m, v) _mm256_maskstore_ps((p), (m), (v))
/* b where the sign bit of s is set, else a */
#define VSELECT_SIGN(s, a, b) _mm256_blendv_ps((a), (b), (s))
/* 1 if every lane is zero (not NaN) */
#define VALL_ZERO(v) (_mm256_movemask_ps(_mm256_cmp_ps((v), VZERO(), _CMP_NEQ_UQ)) == 0)
/* 1 if no lane of the uint32 vector u has a bit set other than the sign bit */
#define VBITS_SIGN_ONLY(u) _mm256_testz_si256((__m256i)(u), _mm256_set1_epi32(INT32_MAX))
#elif defined(CR_SIMD_AVX512)
#define S(name) name##_avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define VL 16
typedef __m512 vf_avx512;
typedef uint32_t vu_avx512 __attribute__((vector_size(64)));
#define VF vf_avx512
#define VU vu_avx512
#define VMASK __mmask16
#define VMASK_NONE ((__mmask16)0)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VSQRT(v) _mm512_sqrt_ps(v)
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VMASK_N(n) ((__mmask16)((1u << (n)) - 1))
#define VLOAD_M(p, m) _mm512_maskz_loadu_ps((m), (p))
#define VSTORE_M(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define VSELECT_SIGN(s, a, b)                                                                  \
    _mm512_mask_blend_ps(_mm512_test_epi32_mask(_mm512_castps_si512(s),                       \
                                                _mm512_set1_epi32(INT32_MIN)),                \
                         (a), (b))
#define VALL_ZERO(v) (_mm512_cmp_ps_mask((v), VZERO(), _CMP_NEQ_UQ) == 0)
#define VBITS_SIGN_ONLY(u) (_mm512_test_epi32_mask((__m512i)(u), _mm512_set1_epi32(INT32_MAX)) == 0)
#else
#error "include with CR_SIMD_AVX2 or CR_SIMD_AVX512 defined"
#endif

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

TARGET static void S(sigmoid)(size_t count, const float *r, float *h) {
    const VF lo = VSET1(-87.0f), magic = VSET1(12582912.0f), one = VSET1(1.0f);
    const VU sign = (VU)VSET1(-0.0f), bias = (VU)VSET1(0.0f) + 127u;
    for (size_t i = 0; i < count; i += VL) {
        const size_t lanes = count - i < VL ? count - i : VL;
        const VMASK m = lanes < VL ? VMASK_N(lanes) : VMASK_NONE;
        const VF rv = lanes < VL ? VLOAD_M(r + i, m) : VLOAD(r + i);
        const VF x = VMAX(lo, (VF)((VU)rv | sign)); /* −|r|, clamped; NaN stays NaN */
        const VF t = x * 1.44269504088896341f + magic;
        const VU n = (VU)t - (VU)magic;
        const VF nf = t - magic;
        const VF f = x - nf * 0.693359375f + nf * 2.12194440e-4f, f2 = f * f;
        VF p = 1.9875691500e-4f * f + 1.3981999507e-3f;
        p = p * f + 8.3334519073e-3f;
        p = p * f + 4.1665795894e-2f;
        p = p * f + 1.6666665459e-1f;
        p = p * f + 5.0000001201e-1f;
        p = p * f2 + f + one;
        const VF e = p * (VF)((n + bias) << 23);
        const VF out = VSELECT_SIGN(rv, one / (one + e), e / (one + e));
        if (lanes < VL)
            VSTORE_M(h + i, m, out);
        else
            VSTORE(h + i, out);
    }
}

/* Element-wise loops over count floats: BODY(i, m, L, S) with L(p) the load
   and S(p, v) the store of the registers at i (masked by m in the last one). */
#define CR_SIMD_ELEMENTWISE(count, BODY)                                                       \
    do {                                                                                       \
        size_t i_ = 0;                                                                         \
        for (; i_ + VL <= (count); i_ += VL) {                                                 \
            BODY(i_, VLOAD, VSTORE_ALL)                                                        \
        }                                                                                      \
        if (i_ < (count)) {                                                                    \
            const VMASK m_ = VMASK_N((count) - i_);                                            \
            BODY(i_, VLOAD_TAIL, VSTORE_TAIL)                                                  \
        }                                                                                      \
    } while (0)
#define VSTORE_ALL(p, v) VSTORE((p), (v))
#define VLOAD_TAIL(p) VLOAD_M((p), m_)
#define VSTORE_TAIL(p, v) VSTORE_M((p), m_, (v))

TARGET static void S(sigmoid_vjp)(size_t count, const float *hh, const float *g, float *gr) {
    const VF one = VSET1(1.0f);
#define CR_BODY(i, LD, ST)                                                                     \
    const VF hv = LD(hh + i);                                                                  \
    ST(gr + i, LD(g + i) * hv * (one - hv));
    CR_SIMD_ELEMENTWISE(count, CR_BODY);
#undef CR_BODY
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

TARGET static int S(finite)(size_t count, const float *x) {
    VF a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
    const VF zero = VZERO();
    size_t i = 0;
    for (; i + 4 * VL <= count; i += 4 * VL) { /* x * 0 is NaN for NaN and ±inf, else ±0 */
        a0 = a0 + VLOAD(x + i) * zero;
        a1 = a1 + VLOAD(x + i + VL) * zero;
        a2 = a2 + VLOAD(x + i + 2 * VL) * zero;
        a3 = a3 + VLOAD(x + i + 3 * VL) * zero;
    }
#define CR_BODY(j, LD, ST) a0 = a0 + LD(x + i + j) * zero;
    CR_SIMD_ELEMENTWISE(count - i, CR_BODY);
#undef CR_BODY
    return VALL_ZERO(a0 + a1 + a2 + a3);
}

TARGET static void S(opt_sgd)(size_t n, float lr, float wd, float *p, const float *g) {
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i);                                                                   \
    ST(p + i, pv - lr * (LD(g + i) + wd * pv));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

TARGET static void S(opt_momentum)(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                                   const float *g, float *m) {
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i), gv = LD(g + i) + wd * pv, mv = mu * LD(m + i) + gv;               \
    ST(m + i, mv);                                                                             \
    ST(p + i, pv - lr * (nesterov ? (VF)(gv + mu * mv) : mv));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

TARGET static void S(opt_adam)(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                               float eps, float *p, const float *g, float *m, float *v) {
    const float c1 = 1 - b1, c2 = 1 - b2;
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i), gv = LD(g + i) + wd * pv;                                         \
    const VF mv = b1 * LD(m + i) + c1 * gv, vv = b2 * LD(v + i) + c2 * gv * gv;                \
    ST(m + i, mv);                                                                             \
    ST(v + i, vv);                                                                             \
    ST(p + i, pv - step_size * mv / (VSQRT(vv) / sbc2 + eps));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

#undef CR_SIMD_ELEMENTWISE
#undef VSTORE_ALL
#undef VLOAD_TAIL
#undef VSTORE_TAIL
#undef S
#undef TARGET
#undef VL
#undef VF
#undef VU
#undef VMASK
#undef VMASK_NONE
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VZERO
#undef VSQRT
#undef VMAX
#undef VMASK_N
#undef VLOAD_M
#undef VSTORE_M
#undef VSELECT_SIGN
#undef VALL_ZERO
#undef VBITS_SIGN_ONLY
