/*
 * The vector vocabulary of the kernels' SIMD templates (linear_simd.tmpl.h,
 * elementwise_simd.tmpl.h, optim_simd.tmpl.h), each of which includes this
 * file first and simd_end.tmpl.h last, and is itself included once with
 * CR_SIMD_AVX2 (8 floats per register) and once with CR_SIMD_AVX512 (16
 * floats) defined. S(name) names the variant (name_avx2, name_avx512), TARGET
 * enables the instruction set for one function. Arithmetic is written with
 * GCC/Clang vector operators on the intrinsics' own types (__m256, __m512),
 * which stay in registers at this width; the last columns are loaded and
 * stored under a mask (no scalar tail).
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
