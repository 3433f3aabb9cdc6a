/* C = A Bᵀ with B packed once: see kernels/abt.h. */
#include "core/fail.h"
#include "chainrule_typed.h"
#include "kernels/abt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define CR_ABT_X86 1
#include <immintrin.h>
#else
#define CR_ABT_X86 0
#endif

size_t cr_abt_shift_for(const float *c, size_t ldc) {
    return ldc % 16 == 0 ? (size_t)((uintptr_t)c & 63) / sizeof(float) : 0;
}

cr_status cr_abt_pack(size_t n, size_t k, const float *b, size_t ldb, int trans, size_t shift,
                      cr_abt_packed *out) {
    memset(out, 0, sizeof *out);
    if (n == 0 || k == 0 || shift >= 16) return CR_FAIL(CR_ERR_SHAPE);
    if (n > SIZE_MAX - CR_ABT_PANEL - shift) return CR_FAIL(CR_ERR_OVERFLOW);
    const size_t panels = (n + shift + CR_ABT_PANEL - 1) / CR_ABT_PANEL;
    size_t count;
    if (cr_mul_size(panels * CR_ABT_PANEL, k, &count) != CR_OK || count > SIZE_MAX / sizeof(float) - 64)
        return CR_FAIL(CR_ERR_OVERFLOW);
    /* aligned_alloc wants a multiple of the alignment */
    size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    float *d = aligned_alloc(64, bytes);
    if (!d) return CR_FAIL(CR_ERR_NOMEM);
    /* zero, then copy each column of C's panel, reading B along its rows (or, from
       Bᵀ, along h) so that the reads are contiguous */
    memset(d, 0, bytes);
    for (size_t p = 0; p < panels; p++) {
        float *panel = d + p * k * CR_ABT_PANEL;
        for (size_t c = 0; c < CR_ABT_PANEL; c++) {
            const size_t v = p * CR_ABT_PANEL + c, j = v - shift; /* column j of C */
            if (v < shift || j >= n) continue;
            if (trans)
                for (size_t h = 0; h < k; h++) panel[h * CR_ABT_PANEL + c] = b[h * ldb + j];
            else
                for (size_t h = 0; h < k; h++) panel[h * CR_ABT_PANEL + c] = b[j * ldb + h];
        }
    }
    /* finite: no value with an all-ones exponent (NaN, ±inf); an integer OR
       over the bits, which the compiler vectorises */
    uint32_t bad = 0;
    for (size_t i = 0; i < panels * CR_ABT_PANEL * k; i++) {
        uint32_t u;
        memcpy(&u, &d[i], sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    *out = (cr_abt_packed){
        .n = n, .k = k, .shift = shift, .panels = panels, .data = d, .finite = !bad};
    return CR_OK;
}

void cr_abt_free(cr_abt_packed *p) {
    if (!p) return;
    free(p->data);
    p->data = NULL;
}

/* The kernel a test installed in place of this one (cr_abt_replace), or NULL. */
static cr_abt_gemm_fn abt_replaced;

cr_status cr_abt_replace(cr_abt_gemm_fn kernel) {
    if (!kernel) return CR_FAIL(CR_ERR_ARG);
    abt_replaced = kernel;
    return CR_OK;
}

void cr_abt_restore(void) { abt_replaced = NULL; }

/* below; the portable set's loops, on every CPU */
static void abt_portable(size_t n_ex, size_t kr, const float *a, size_t lda,
                         const cr_abt_packed *b, float *c, size_t ldc);

#if CR_ABT_X86

int cr_abt_available(void) { return cr_isa_current() != CR_ISA_PORTABLE; }

/* Stores panel p of a C row (crow = the row's column 0): the two registers
   hold the columns 32 p − shift + [0, 32). A whole panel is two stores, on a
   64-byte line when the packing's shift matches C (streamed if allowed); the
   first and last panels keep only their columns inside [0, n). */
__attribute__((target("avx512f"))) static inline void store_panel(float *crow, size_t p,
                                                                  const cr_abt_packed *b,
                                                                  int stream, __m512 lo, __m512 hi) {
    const size_t v0 = p * CR_ABT_PANEL; /* virtual column of lane 0; column = v − shift */
    if (v0 >= b->shift && v0 - b->shift + CR_ABT_PANEL <= b->n) {
        float *c = crow + (v0 - b->shift);
        if (stream) {
            _mm512_stream_ps(c, lo);
            _mm512_stream_ps(c + 16, hi);
        } else {
            _mm512_storeu_ps(c, lo);
            _mm512_storeu_ps(c + 16, hi);
        }
        return;
    }
    /* the lanes inside [0, n), moved down to lane 0 and stored under a mask */
    const size_t first = v0 < b->shift ? b->shift - v0 : 0; /* lanes left of column 0 */
    const size_t j0 = v0 + first - b->shift;
    const size_t count = b->n - j0 < CR_ABT_PANEL - first ? b->n - j0 : CR_ABT_PANEL - first;
    const uint32_t lanes = (uint32_t)((((uint64_t)1 << count) - 1) << first);
    const __mmask16 m_lo = (__mmask16)lanes, m_hi = (__mmask16)(lanes >> 16);
    const unsigned n_lo = (unsigned)__builtin_popcount(m_lo), n_hi = (unsigned)__builtin_popcount(m_hi);
    _mm512_mask_storeu_ps(crow + j0, (__mmask16)((1u << n_lo) - 1), _mm512_maskz_compress_ps(m_lo, lo));
    _mm512_mask_storeu_ps(crow + j0 + n_lo, (__mmask16)((1u << n_hi) - 1),
                          _mm512_maskz_compress_ps(m_hi, hi));
}

/* The rows of one block: where each computed row of A is read and where it
   goes in C, and with `group` > 0 the C row of each run of `group` rows that
   is minus their sum. */
typedef struct {
    size_t rows; /* computed rows in the block, <= R */
    const float *src[CR_ABT_ROWS];
    float *out[CR_ABT_ROWS];
    size_t group;
    float *derived[CR_ABT_ROWS];
} abt_rows;

/* One block of R rows, R a compile-time constant (the accumulators must live
   in registers): for every panel, 2R accumulators hold the block's R × 32
   values of C over the whole k; per h, two loads of the panel, R broadcasts
   straight from the rows of A and 2R fused multiply-adds. Then the rows are
   stored, and the derived rows (minus the sum of each group) are formed in
   registers and stored. Rows past br->rows repeat row 0 and are not stored. */
#define CR_ABT_BLOCK(R)                                                                        \
    __attribute__((target("avx512f"))) static void abt_block_##R(                              \
        const abt_rows *br, const cr_abt_packed *b, int stream) {                              \
        const size_t k = b->k;                                                                 \
        const float *r[R];                                                                     \
        for (size_t i = 0; i < R; i++) r[i] = i < br->rows ? br->src[i] : br->src[0];          \
        for (size_t p = 0; p < b->panels; p++) {                                               \
            const float *bp = b->data + p * k * CR_ABT_PANEL;                                  \
            __m512 acc[2 * R];                                                                 \
            for (int i = 0; i < 2 * R; i++) acc[i] = _mm512_setzero_ps();                      \
            for (size_t h = 0; h < k; h++) {                                                   \
                const __m512 b0 = _mm512_load_ps(bp + h * CR_ABT_PANEL);                       \
                const __m512 b1 = _mm512_load_ps(bp + h * CR_ABT_PANEL + 16);                  \
                _Pragma("GCC unroll 14") for (int i = 0; i < R; i++) {                         \
                    const __m512 av = _mm512_set1_ps(r[i][h]);                                 \
                    acc[2 * i] = _mm512_fmadd_ps(av, b0, acc[2 * i]);                          \
                    acc[2 * i + 1] = _mm512_fmadd_ps(av, b1, acc[2 * i + 1]);                  \
                }                                                                              \
            }                                                                                  \
            for (size_t i = 0; i < br->rows; i++)                                              \
                store_panel(br->out[i], p, b, stream, acc[2 * i], acc[2 * i + 1]);             \
            for (size_t g0 = 0; br->group && g0 < br->rows; g0 += br->group) {                 \
                __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();                     \
                for (size_t i = g0; i < g0 + br->group; i++) {                                 \
                    lo = _mm512_sub_ps(lo, acc[2 * i]);                                        \
                    hi = _mm512_sub_ps(hi, acc[2 * i + 1]);                                    \
                }                                                                              \
                store_panel(br->derived[g0 / br->group], p, b, stream, lo, hi);                \
            }                                                                                  \
        }                                                                                      \
    }
CR_ABT_BLOCK(8)
CR_ABT_BLOCK(9)
CR_ABT_BLOCK(10)
CR_ABT_BLOCK(11)
CR_ABT_BLOCK(12)
CR_ABT_BLOCK(13)
CR_ABT_BLOCK(14)

/* AVX2 (16 registers of 8 floats): the same blocks of rows as AVX-512, taken
   16 columns (half a panel) at a time in sub-blocks of at most 6 rows, whose
   2 × 6 accumulators, 2 panel registers and a broadcast fill 15 registers:
   per h, 2 loads of the panel, R broadcasts and 2R fused multiply-adds. Each
   value of C is the same chain of fused multiply-adds over h as in the
   AVX-512 blocks, and the derived rows the same subtractions in the same
   order, so both sets give the same bits. */
__attribute__((target("avx2,fma"))) static void store_slice(float *crow, size_t v0,
                                                            const cr_abt_packed *b, int stream,
                                                            __m256 x) {
    if (v0 >= b->shift && v0 - b->shift + 8 <= b->n) {
        float *c = crow + (v0 - b->shift);
        if (stream)
            _mm256_stream_ps(c, x); /* 32-byte aligned when the shift matches C */
        else
            _mm256_storeu_ps(c, x);
        return;
    }
    if (v0 + 8 <= b->shift || v0 >= b->shift + b->n) return; /* wholly outside C */
    float lanes[8]; /* the first or last slice: only the columns inside [0, n) */
    _mm256_storeu_ps(lanes, x);
    for (size_t l = 0; l < 8; l++)
        if (v0 + l >= b->shift && v0 + l - b->shift < b->n) crow[v0 + l - b->shift] = lanes[l];
}

/* R rows (a compile-time constant after inlining) × 16 columns over the whole k */
__attribute__((target("avx2,fma"), always_inline)) static inline void abt2_sub(
    const float *const *r, const int R, const float *bp, size_t k, __m256 (*out)[2]) {
    __m256 acc[12];
    _Pragma("GCC unroll 12") for (int i = 0; i < 2 * R; i++) acc[i] = _mm256_setzero_ps();
    for (size_t h = 0; h < k; h++) {
        const __m256 b0 = _mm256_load_ps(bp + h * CR_ABT_PANEL);
        const __m256 b1 = _mm256_load_ps(bp + h * CR_ABT_PANEL + 8);
        _Pragma("GCC unroll 6") for (int i = 0; i < R; i++) {
            const __m256 av = _mm256_set1_ps(r[i][h]);
            acc[2 * i] = _mm256_fmadd_ps(av, b0, acc[2 * i]);
            acc[2 * i + 1] = _mm256_fmadd_ps(av, b1, acc[2 * i + 1]);
        }
    }
    _Pragma("GCC unroll 6") for (int i = 0; i < R; i++) {
        out[i][0] = acc[2 * i];
        out[i][1] = acc[2 * i + 1];
    }
}

__attribute__((target("avx2,fma"))) static void abt2_block(const abt_rows *br,
                                                           const cr_abt_packed *b, int stream) {
    const size_t k = b->k, n = br->rows;
    const size_t subs = (n + 5) / 6; /* sub-blocks of n / subs or one more rows */
    __m256 acc[CR_ABT_ROWS][2];
    for (size_t p = 0; p < b->panels; p++)
        for (size_t half = 0; half < 2; half++) {
            const size_t v0 = p * CR_ABT_PANEL + half * 16; /* virtual column of lane 0 */
            if (v0 + 16 <= b->shift || v0 >= b->shift + b->n) continue; /* outside C */
            const float *bp = b->data + p * k * CR_ABT_PANEL + half * 16;
            for (size_t q = 0, i0 = 0; q < subs; q++) {
                const size_t rows = n / subs + (q < n % subs);
                const float *const *r = br->src + i0;
                switch (rows) {
                case 1: abt2_sub(r, 1, bp, k, acc + i0); break;
                case 2: abt2_sub(r, 2, bp, k, acc + i0); break;
                case 3: abt2_sub(r, 3, bp, k, acc + i0); break;
                case 4: abt2_sub(r, 4, bp, k, acc + i0); break;
                case 5: abt2_sub(r, 5, bp, k, acc + i0); break;
                default: abt2_sub(r, 6, bp, k, acc + i0); break;
                }
                i0 += rows;
            }
            for (size_t i = 0; i < n; i++) {
                store_slice(br->out[i], v0, b, stream, acc[i][0]);
                store_slice(br->out[i], v0 + 8, b, stream, acc[i][1]);
            }
            for (size_t g0 = 0; br->group && g0 < n; g0 += br->group) {
                __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
                for (size_t i = g0; i < g0 + br->group; i++) {
                    lo = _mm256_sub_ps(lo, acc[i][0]);
                    hi = _mm256_sub_ps(hi, acc[i][1]);
                }
                store_slice(br->derived[g0 / br->group], v0, b, stream, lo);
                store_slice(br->derived[g0 / br->group], v0 + 8, b, stream, hi);
            }
        }
}

typedef void (*abt_block_fn)(const abt_rows *, const cr_abt_packed *, int);
/* AVX-512: blocks[R - 8] for R in [8, 14] rows; AVX2 takes any R */
static const abt_block_fn abt_blocks[] = {abt_block_8,  abt_block_9,  abt_block_10, abt_block_11,
                                          abt_block_12, abt_block_13, abt_block_14};

void cr_abt_gemm(size_t n_ex, size_t kr, const float *a, size_t lda, const size_t *derived,
                 const cr_abt_packed *b, float *c, size_t ldc) {
    if (abt_replaced) {
        abt_replaced(n_ex, kr, a, lda, derived, b, c, ldc);
        return;
    }
    const cr_isa isa = cr_isa_current();
    if (isa == CR_ISA_PORTABLE) {
        abt_portable(n_ex, kr, a, lda, b, c, ldc);
        return;
    }
    const size_t m = n_ex * kr;
    /* stream a large C when the panels line up with its 64-byte lines */
    const int stream = m * b->n >= (1u << 18) && cr_abt_shift_for(c, ldc) == b->shift &&
                       ((uintptr_t)c & 3) == 0;
    abt_rows br;
    if (derived && kr >= 2 && kr <= CR_ABT_ROWS) {
        /* blocks of whole examples, kr − 1 computed rows each: R = E (kr − 1) in [8, 14] */
        const size_t g = kr - 1, per = g >= 8 ? 1 : CR_ABT_ROWS / g, R = per * g;
        for (size_t e0 = 0; e0 < n_ex; e0 += per) {
            const size_t ne = n_ex - e0 < per ? n_ex - e0 : per;
            br.rows = 0;
            br.group = g;
            for (size_t e = 0; e < ne; e++) {
                const size_t ex = e0 + e;
                for (size_t r = 0; r < kr; r++) {
                    float *out = c + (ex * kr + r) * ldc;
                    if (r == derived[ex]) {
                        br.derived[e] = out;
                        continue;
                    }
                    br.src[br.rows] = a + (ex * kr + r) * lda;
                    br.out[br.rows++] = out;
                }
            }
            if (isa == CR_ISA_AVX512)
                abt_blocks[R - 8](&br, b, stream);
            else
                abt2_block(&br, b, stream);
        }
    } else {
        br.group = 0;
        for (size_t r0 = 0; r0 < m; r0 += CR_ABT_ROWS) {
            br.rows = m - r0 < CR_ABT_ROWS ? m - r0 : CR_ABT_ROWS;
            for (size_t i = 0; i < br.rows; i++) {
                br.src[i] = a + (r0 + i) * lda;
                br.out[i] = c + (r0 + i) * ldc;
            }
            if (isa == CR_ISA_AVX512)
                abt_block_14(&br, b, stream);
            else
                abt2_block(&br, b, stream);
        }
    }
    if (stream) _mm_sfence(); /* streamed stores are weakly ordered: publish them */
}

#else /* no kernel: cr_abt_available() is 0 and callers use cr_gemm_f32 */

int cr_abt_available(void) { return 0; }

void cr_abt_gemm(size_t n_ex, size_t kr, const float *a, size_t lda, const size_t *derived,
                 const cr_abt_packed *b, float *c, size_t ldc) {
    if (abt_replaced) {
        abt_replaced(n_ex, kr, a, lda, derived, b, c, ldc);
        return;
    }
    (void)derived; /* every row multiplied out */
    abt_portable(n_ex, kr, a, lda, b, c, ldc);
}

#endif

/* Plain loops over the packed layout, correct but slow (the portable set's
   callers use cr_gemm_f32 instead). */
static void abt_portable(size_t n_ex, size_t kr, const float *a, size_t lda,
                         const cr_abt_packed *b, float *c, size_t ldc) {
    const size_t k = b->k;
    for (size_t i = 0; i < n_ex * kr; i++)
        for (size_t j = 0; j < b->n; j++) {
            const size_t v = j + b->shift;
            const float *bp = b->data + (v / CR_ABT_PANEL) * k * CR_ABT_PANEL + v % CR_ABT_PANEL;
            float sum = 0;
            for (size_t h = 0; h < k; h++) sum += a[i * lda + h] * bp[h * CR_ABT_PANEL];
            c[i * ldc + j] = sum;
        }
}
