/*
 * Kernels of the training loop, see train_kernels.h. The per-example path is
 * latency bound: a 784-128-10 step touches ~400 nonzero rows of W1 twice, so
 * the inner loops work on 16-float vectors and keep up to 64 accumulators of
 * the forward product in registers while streaming the rows of W.
 */
#include "train_kernels.h"

#include <stdint.h>

#include "chainrule.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#endif

size_t cr_nonzero_f32(size_t n, const float *x, uint32_t *idx) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) { /* branch-free compaction */
        idx[c] = (uint32_t)i;
        c += x[i] != 0;
    }
    return c;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CR_KERNEL_DISPATCH 1
#else
#define CR_KERNEL_DISPATCH 0
#endif

#if defined(__GNUC__)
typedef float v16 __attribute__((vector_size(64)));
#define V16_LOAD(dst, p) memcpy(&(dst), (p), sizeof(v16))
#define V16_STORE(p, src) memcpy((p), &(src), sizeof(v16))

/* One source, instantiated per instruction set by TARGET. */
#define CR_DEFINE_KERNELS(SUFFIX, TARGET, WIDE)                                                \
    TARGET static void sparse_gemv_##SUFFIX(size_t nnz, const uint32_t *idx, size_t dout,     \
                                            const float *x, const float *w, const float *b,   \
                                            float *r) {                                       \
        size_t j0 = 0;                                                                         \
        /* with 32 vector registers: 128 outputs (8 x 16 lanes) per pass over the rows */     \
        for (; WIDE && j0 + 128 <= dout; j0 += 128) {                                          \
            v16 a0, a1, a2, a3, a4, a5, a6, a7, w0, w1, w2, w3, w4, w5, w6, w7;                \
            V16_LOAD(a0, b + j0);                                                              \
            V16_LOAD(a1, b + j0 + 16);                                                         \
            V16_LOAD(a2, b + j0 + 32);                                                         \
            V16_LOAD(a3, b + j0 + 48);                                                         \
            V16_LOAD(a4, b + j0 + 64);                                                         \
            V16_LOAD(a5, b + j0 + 80);                                                         \
            V16_LOAD(a6, b + j0 + 96);                                                         \
            V16_LOAD(a7, b + j0 + 112);                                                        \
            for (size_t q = 0; q < nnz; q++) {                                                 \
                size_t i = idx[q];                                                             \
                float xi = x[i];                                                               \
                const float *wr = w + i * dout + j0;                                           \
                V16_LOAD(w0, wr);                                                              \
                V16_LOAD(w1, wr + 16);                                                         \
                V16_LOAD(w2, wr + 32);                                                         \
                V16_LOAD(w3, wr + 48);                                                         \
                V16_LOAD(w4, wr + 64);                                                         \
                V16_LOAD(w5, wr + 80);                                                         \
                V16_LOAD(w6, wr + 96);                                                         \
                V16_LOAD(w7, wr + 112);                                                        \
                a0 += xi * w0;                                                                 \
                a1 += xi * w1;                                                                 \
                a2 += xi * w2;                                                                 \
                a3 += xi * w3;                                                                 \
                a4 += xi * w4;                                                                 \
                a5 += xi * w5;                                                                 \
                a6 += xi * w6;                                                                 \
                a7 += xi * w7;                                                                 \
            }                                                                                  \
            V16_STORE(r + j0, a0);                                                             \
            V16_STORE(r + j0 + 16, a1);                                                        \
            V16_STORE(r + j0 + 32, a2);                                                        \
            V16_STORE(r + j0 + 48, a3);                                                        \
            V16_STORE(r + j0 + 64, a4);                                                        \
            V16_STORE(r + j0 + 80, a5);                                                        \
            V16_STORE(r + j0 + 96, a6);                                                        \
            V16_STORE(r + j0 + 112, a7);                                                       \
        }                                                                                      \
        for (; j0 + 64 <= dout; j0 += 64) {                                                    \
            v16 a0, a1, a2, a3;                                                                \
            V16_LOAD(a0, b + j0);                                                              \
            V16_LOAD(a1, b + j0 + 16);                                                         \
            V16_LOAD(a2, b + j0 + 32);                                                         \
            V16_LOAD(a3, b + j0 + 48);                                                         \
            for (size_t q = 0; q < nnz; q++) {                                                 \
                size_t i = idx[q];                                                             \
                float xi = x[i];                                                               \
                const float *wr = w + i * dout + j0;                                           \
                v16 w0, w1, w2, w3;                                                            \
                V16_LOAD(w0, wr);                                                              \
                V16_LOAD(w1, wr + 16);                                                         \
                V16_LOAD(w2, wr + 32);                                                         \
                V16_LOAD(w3, wr + 48);                                                         \
                a0 += xi * w0;                                                                 \
                a1 += xi * w1;                                                                 \
                a2 += xi * w2;                                                                 \
                a3 += xi * w3;                                                                 \
            }                                                                                  \
            V16_STORE(r + j0, a0);                                                             \
            V16_STORE(r + j0 + 16, a1);                                                        \
            V16_STORE(r + j0 + 32, a2);                                                        \
            V16_STORE(r + j0 + 48, a3);                                                        \
        }                                                                                      \
        for (; j0 + 16 <= dout; j0 += 16) {                                                    \
            v16 a0;                                                                            \
            V16_LOAD(a0, b + j0);                                                              \
            for (size_t q = 0; q < nnz; q++) {                                                 \
                size_t i = idx[q];                                                             \
                float xi = x[i];                                                               \
                v16 w0;                                                                        \
                V16_LOAD(w0, w + i * dout + j0);                                               \
                a0 += xi * w0;                                                                 \
            }                                                                                  \
            V16_STORE(r + j0, a0);                                                             \
        }                                                                                      \
        if (j0 < dout) {                                                                       \
            for (size_t j = j0; j < dout; j++) r[j] = b[j];                                    \
            for (size_t q = 0; q < nnz; q++) {                                                 \
                size_t i = idx[q];                                                             \
                float xi = x[i];                                                               \
                const float *wr = w + i * dout;                                                \
                for (size_t j = j0; j < dout; j++) r[j] += xi * wr[j];                         \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    TARGET static void gemv_rows_##SUFFIX(size_t din, size_t dout, const float *w,            \
                                          const float *g, float *out) {                       \
        for (size_t i = 0; i < din; i++) {                                                     \
            const float *wr = w + i * dout;                                                    \
            size_t j = 0;                                                                      \
            float s = 0;                                                                       \
            if (dout >= 16) {                                                                  \
                v16 acc = {0}, wv, gv;                                                         \
                for (; j + 16 <= dout; j += 16) {                                              \
                    V16_LOAD(wv, wr + j);                                                      \
                    V16_LOAD(gv, g + j);                                                       \
                    acc += wv * gv;                                                            \
                }                                                                              \
                for (int u = 0; u < 16; u++) s += acc[u];                                      \
            }                                                                                  \
            for (; j < dout; j++) s += wr[j] * g[j];                                           \
            out[i] = s;                                                                        \
        }                                                                                      \
    }                                                                                          \
    TARGET static int sparse_ger_##SUFFIX(size_t nnz, const uint32_t *idx, size_t dout,       \
                                          float a, const float *h, const float *g, float *w,  \
                                          float *b) {                                         \
        v16 chk = {0};                                                                         \
        float cs = 0;                                                                          \
        for (size_t q = 0; q < nnz; q++) {                                                     \
            size_t i = idx[q];                                                                 \
            float ai = a * h[i];                                                               \
            float *wr = w + i * dout;                                                          \
            size_t j = 0;                                                                      \
            for (; j + 16 <= dout; j += 16) {                                                  \
                v16 wv, gv;                                                                    \
                V16_LOAD(wv, wr + j);                                                          \
                V16_LOAD(gv, g + j);                                                           \
                wv += ai * gv;                                                                 \
                chk += wv * 0.0f;                                                              \
                V16_STORE(wr + j, wv);                                                         \
            }                                                                                  \
            for (; j < dout; j++) {                                                            \
                wr[j] += ai * g[j];                                                            \
                cs += wr[j] * 0.0f;                                                            \
            }                                                                                  \
        }                                                                                      \
        for (size_t j = 0; j < dout; j++) {                                                    \
            b[j] += a * g[j];                                                                  \
            cs += b[j] * 0.0f;                                                                 \
        }                                                                                      \
        for (int u = 0; u < 16; u++) cs += chk[u];                                             \
        return cs == 0;                                                                        \
    }

/* Optimiser loops. Scalar expressions are written once (OPT_*_EXPR) and used
   for both the 16-lane body and the tail, so every element sees the same
   operations whatever the instruction set. */
#define CR_DEFINE_OPT_KERNELS(SUFFIX, TARGET, SQRT16)                                         \
    TARGET static void opt_sgd_##SUFFIX(size_t n, float lr, float wd, float *p,              \
                                        const float *g) {                                    \
        size_t i = 0;                                                                        \
        for (; i + 16 <= n; i += 16) {                                                       \
            v16 pv, gv;                                                                      \
            V16_LOAD(pv, p + i);                                                             \
            V16_LOAD(gv, g + i);                                                             \
            pv = pv - lr * (gv + wd * pv);                                                   \
            V16_STORE(p + i, pv);                                                            \
        }                                                                                    \
        for (; i < n; i++) p[i] = p[i] - lr * (g[i] + wd * p[i]);                            \
    }                                                                                        \
    TARGET static void opt_momentum_##SUFFIX(size_t n, float lr, float wd, float mu,         \
                                             int nesterov, float *p, const float *g,         \
                                             float *m) {                                     \
        size_t i = 0;                                                                        \
        for (; i + 16 <= n; i += 16) {                                                       \
            v16 pv, gv, mv;                                                                  \
            V16_LOAD(pv, p + i);                                                             \
            V16_LOAD(gv, g + i);                                                             \
            V16_LOAD(mv, m + i);                                                             \
            gv = gv + wd * pv;                                                               \
            mv = mu * mv + gv;                                                               \
            pv = pv - lr * (nesterov ? gv + mu * mv : mv);                                   \
            V16_STORE(m + i, mv);                                                            \
            V16_STORE(p + i, pv);                                                            \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            float gi = g[i] + wd * p[i];                                                     \
            m[i] = mu * m[i] + gi;                                                           \
            p[i] = p[i] - lr * (nesterov ? gi + mu * m[i] : m[i]);                           \
        }                                                                                    \
    }                                                                                        \
    TARGET static void opt_adam_##SUFFIX(size_t n, float step_size, float wd, float b1,      \
                                         float b2, float sbc2, float eps, float *p,          \
                                         const float *g, float *m, float *v) {               \
        size_t i = 0;                                                                        \
        const float c1 = 1 - b1, c2 = 1 - b2;                                                \
        for (; i + 16 <= n; i += 16) {                                                       \
            v16 pv, gv, mv, vv;                                                              \
            V16_LOAD(pv, p + i);                                                             \
            V16_LOAD(gv, g + i);                                                             \
            V16_LOAD(mv, m + i);                                                             \
            V16_LOAD(vv, v + i);                                                             \
            gv = gv + wd * pv;                                                               \
            mv = b1 * mv + c1 * gv;                                                          \
            vv = b2 * vv + c2 * gv * gv;                                                     \
            v16 sv = vv;                                                                      \
            SQRT16(&sv);                                                                     \
            pv = pv - step_size * mv / (sv / sbc2 + eps);                            \
            V16_STORE(m + i, mv);                                                            \
            V16_STORE(v + i, vv);                                                            \
            V16_STORE(p + i, pv);                                                            \
        }                                                                                    \
        for (; i < n; i++) {                                                                 \
            float gi = g[i] + wd * p[i];                                                     \
            m[i] = b1 * m[i] + c1 * gi;                                                      \
            v[i] = b2 * v[i] + c2 * gi * gi;                                                 \
            p[i] = p[i] - step_size * m[i] / (sqrtf(v[i]) / sbc2 + eps);                     \
        }                                                                                    \
    }

static inline void sqrt16_base(v16 *x) {
    for (int u = 0; u < 16; u++) (*x)[u] = sqrtf((*x)[u]);
}
#if CR_KERNEL_DISPATCH
__attribute__((target("avx2,fma"))) static inline void sqrt16_avx2(v16 *x) {
    __m256 lo, hi;
    memcpy(&lo, x, 32);
    memcpy(&hi, (char *)x + 32, 32);
    lo = _mm256_sqrt_ps(lo);
    hi = _mm256_sqrt_ps(hi);
    memcpy(x, &lo, 32);
    memcpy((char *)x + 32, &hi, 32);
}
__attribute__((target("avx512f,avx2,fma"))) static inline void sqrt16_avx512(v16 *x) {
    __m512 y;
    memcpy(&y, x, 64);
    y = _mm512_sqrt_ps(y);
    memcpy(x, &y, 64);
}
#endif

CR_DEFINE_KERNELS(base, , 0)
#if CR_KERNEL_DISPATCH
CR_DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))), 0)
CR_DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx2,fma"))), 1)
#endif

/* σ over 16 lanes: e = exp(-|r|) by range reduction (n = round(x log2 e),
   f = x - n ln 2 in two parts) and Cephes' expf polynomial, 2^n built in the
   exponent bits. x is clamped at -87 so that 2^n stays a normal number. */
typedef int32_t v16i __attribute__((vector_size(64)));
#define CR_DEFINE_SIGMOID(SUFFIX, TARGET)                                                     \
    TARGET static void sigmoid_##SUFFIX(size_t count, const float *r, float *h) {             \
        size_t i = 0;                                                                         \
        const v16 lo = (v16){0} + -87.0f, magic = lo * 0 + 12582912.0f, one = lo * 0 + 1.0f;        \
        const v16i sign = (v16i){0} + INT32_MIN;                                   \
        for (; i + 16 <= count; i += 16) {                                                    \
            v16 rv;                                                                           \
            V16_LOAD(rv, r + i);                                                              \
            v16i neg = (v16i)rv & sign;                                                       \
            v16 x = (v16)((v16i)rv | sign); /* -|r| */                                        \
            v16i small = x < lo;                                                              \
            x = (v16)(((v16i)x & ~small) | ((v16i)lo & small));                              \
            v16 t = x * 1.44269504088896341f + magic;                                         \
            v16i n = (v16i)t - (v16i)magic;                                                   \
            v16 nf = t - magic;                                                               \
            v16 f = x - nf * 0.693359375f + nf * 2.12194440e-4f;                              \
            v16 f2 = f * f;                                                                   \
            v16 p = 1.9875691500e-4f * f + 1.3981999507e-3f;                                  \
            p = p * f + 8.3334519073e-3f;                                                     \
            p = p * f + 4.1665795894e-2f;                                                     \
            p = p * f + 1.6666665459e-1f;                                                     \
            p = p * f + 5.0000001201e-1f;                                                     \
            p = p * f2 + f + one;                                                             \
            v16 e = p * (v16)((n + 127) << 23);                                               \
            v16 hp = one / (one + e), hn = e / (one + e);                                     \
            v16i isneg = neg != 0;                                                            \
            v16 out = (v16)(((v16i)hp & ~isneg) | ((v16i)hn & isneg));                        \
            V16_STORE(h + i, out);                                                            \
        }                                                                                     \
        for (; i < count; i++) {                                                              \
            float x = r[i];                                                                   \
            if (x >= 0) {                                                                     \
                h[i] = 1.0f / (1.0f + expf(-x));                                              \
            } else {                                                                          \
                float e = expf(x);                                                            \
                h[i] = e / (1.0f + e);                                                        \
            }                                                                                 \
        }                                                                                     \
    }
CR_DEFINE_SIGMOID(base, )
#if CR_KERNEL_DISPATCH
CR_DEFINE_SIGMOID(avx2, __attribute__((target("avx2,fma"))))
CR_DEFINE_SIGMOID(avx512, __attribute__((target("avx512f,avx2,fma"))))
#endif

/* colsum (column sums accumulated row by row in 16-lane registers, the same
   order of additions as the scalar loop) and the sigmoid VJP g ∘ h ∘ (1 − h). */
#define CR_DEFINE_MISC(SUFFIX, TARGET)                                                        \
    TARGET static void colsum_##SUFFIX(size_t n, size_t h, float a, const float *g,          \
                                       float beta, float *b) {                               \
        size_t j = 0;                                                                        \
        for (; j + 16 <= h; j += 16) {                                                       \
            v16 acc = {0}, gv, bv;                                                           \
            for (size_t i = 0; i < n; i++) {                                                 \
                V16_LOAD(gv, g + i * h + j);                                                 \
                acc += gv;                                                                   \
            }                                                                                \
            if (beta == 0) {                                                                 \
                bv = a * acc;                                                                \
            } else {                                                                         \
                V16_LOAD(bv, b + j);                                                         \
                bv = beta * bv + a * acc;                                                    \
            }                                                                                \
            V16_STORE(b + j, bv);                                                            \
        }                                                                                    \
        for (; j < h; j++) {                                                                 \
            float acc = 0;                                                                   \
            for (size_t i = 0; i < n; i++) acc += g[i * h + j];                              \
            b[j] = (beta == 0 ? 0.0f : beta * b[j]) + a * acc;                               \
        }                                                                                    \
    }                                                                                        \
    TARGET static int finite_##SUFFIX(size_t count, const float *x) {                        \
        size_t i = 0;                                                                        \
        v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, x0, x1, x2, x3;                          \
        for (; i + 64 <= count; i += 64) { /* x * 0 is NaN for NaN and +-inf, else 0 */    \
            V16_LOAD(x0, x + i);                                                             \
            V16_LOAD(x1, x + i + 16);                                                        \
            V16_LOAD(x2, x + i + 32);                                                        \
            V16_LOAD(x3, x + i + 48);                                                        \
            a0 += x0 * 0.0f;                                                                 \
            a1 += x1 * 0.0f;                                                                 \
            a2 += x2 * 0.0f;                                                                 \
            a3 += x3 * 0.0f;                                                                 \
        }                                                                                    \
        for (; i + 16 <= count; i += 16) {                                                   \
            V16_LOAD(x0, x + i);                                                             \
            a0 += x0 * 0.0f;                                                                 \
        }                                                                                    \
        a0 += a1 + a2 + a3;                                                                  \
        float s = 0;                                                                         \
        for (int u = 0; u < 16; u++) s += a0[u];                                             \
        for (; i < count; i++) s += x[i] * 0.0f;                                             \
        return s == 0;                                                                       \
    }                                                                                        \
    TARGET static void sigmoid_vjp_##SUFFIX(size_t count, const float *hh, const float *g,   \
                                            float *gr) {                                     \
        size_t i = 0;                                                                        \
        const v16 one = (v16){0} + 1.0f;                                                     \
        for (; i + 16 <= count; i += 16) {                                                   \
            v16 hv, gv;                                                                      \
            V16_LOAD(hv, hh + i);                                                            \
            V16_LOAD(gv, g + i);                                                             \
            gv = gv * hv * (one - hv);                                                       \
            V16_STORE(gr + i, gv);                                                           \
        }                                                                                    \
        for (; i < count; i++) gr[i] = g[i] * hh[i] * (1 - hh[i]);                           \
    }
CR_DEFINE_MISC(base, )
#if CR_KERNEL_DISPATCH
CR_DEFINE_MISC(avx2, __attribute__((target("avx2,fma"))))
CR_DEFINE_MISC(avx512, __attribute__((target("avx512f,avx2,fma"))))
#endif
CR_DEFINE_OPT_KERNELS(base, , sqrt16_base)
#if CR_KERNEL_DISPATCH
CR_DEFINE_OPT_KERNELS(avx2, __attribute__((target("avx2,fma"))), sqrt16_avx2)
CR_DEFINE_OPT_KERNELS(avx512, __attribute__((target("avx512f,avx2,fma"))), sqrt16_avx512)
#endif

typedef struct {
    void (*sparse_gemv)(size_t, const uint32_t *, size_t, const float *, const float *,
                        const float *, float *);
    void (*gemv_rows)(size_t, size_t, const float *, const float *, float *);
    int (*sparse_ger)(size_t, const uint32_t *, size_t, float, const float *, const float *,
                      float *, float *);
    void (*sgd)(size_t, float, float, float *, const float *);
    void (*momentum)(size_t, float, float, float, int, float *, const float *, float *);
    void (*adam)(size_t, float, float, float, float, float, float, float *, const float *, float *,
                 float *);
    void (*sigmoid)(size_t, const float *, float *);
    void (*colsum)(size_t, size_t, float, const float *, float, float *);
    void (*sigmoid_vjp)(size_t, const float *, const float *, float *);
    int (*finite)(size_t, const float *);
} kernels;

static const kernels k_base = {sparse_gemv_base, gemv_rows_base, sparse_ger_base,
                                 opt_sgd_base, opt_momentum_base, opt_adam_base,
                                 sigmoid_base, colsum_base, sigmoid_vjp_base,
                                 finite_base};
#if CR_KERNEL_DISPATCH
static const kernels k_avx2 = {sparse_gemv_avx2, gemv_rows_avx2, sparse_ger_avx2,
                                 opt_sgd_avx2, opt_momentum_avx2, opt_adam_avx2,
                                 sigmoid_avx2, colsum_avx2, sigmoid_vjp_avx2,
                                 finite_avx2};
static const kernels k_avx512 = {sparse_gemv_avx512, gemv_rows_avx512, sparse_ger_avx512,
                                 opt_sgd_avx512, opt_momentum_avx512, opt_adam_avx512,
                                 sigmoid_avx512, colsum_avx512, sigmoid_vjp_avx512,
                                 finite_avx512};
#endif

/* The choice is made once; workers of the input-derivative functions may
   race to make it, so the pointer is atomic (they all store the same value). */
static const kernels *pick(void) {
    static _Atomic(const kernels *) chosen;
    const kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
    if (!k) {
#if CR_KERNEL_DISPATCH
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            k = &k_avx512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            k = &k_avx2;
        else
#endif
            k = &k_base;
        atomic_store_explicit(&chosen, k, memory_order_release);
    }
    return k;
}

void cr_sparse_gemv_f32(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                        const float *w, const float *b, float *r) {
    pick()->sparse_gemv(nnz, idx, dout, x, w, b, r);
}
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out) {
    pick()->gemv_rows(din, dout, w, g, out);
}
int cr_sparse_ger_f32(size_t nnz, const uint32_t *idx, size_t dout, float a, const float *h,
                      const float *g, float *w, float *b) {
    return pick()->sparse_ger(nnz, idx, dout, a, h, g, w, b);
}
void cr_sigmoid_fast_f32(size_t count, const float *r, float *h) {
    pick()->sigmoid(count, r, h);
}
void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    pick()->colsum(n, h, a, g, beta, b);
}
void cr_sigmoid_vjp_fast_f32(size_t count, const float *h, const float *g, float *gr) {
    pick()->sigmoid_vjp(count, h, g, gr);
}
int cr_all_finite_f32(size_t count, const float *x) { return pick()->finite(count, x); }
void cr_opt_sgd_f32(size_t n, float lr, float wd, float *p, const float *g) {
    pick()->sgd(n, lr, wd, p, g);
}
void cr_opt_momentum_f32(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                         const float *g, float *m) {
    pick()->momentum(n, lr, wd, mu, nesterov, p, g, m);
}
void cr_opt_adam_f32(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                     float eps, float *p, const float *g, float *m, float *v) {
    pick()->adam(n, step_size, wd, b1, b2, sbc2, eps, p, g, m, v);
}

#else /* portable C */

void cr_sparse_gemv_f32(size_t nnz, const uint32_t *idx, size_t dout, const float *x,
                        const float *w, const float *b, float *r) {
    for (size_t j = 0; j < dout; j++) r[j] = b[j];
    for (size_t q = 0; q < nnz; q++)
        for (size_t j = 0; j < dout; j++) r[j] += x[idx[q]] * w[idx[q] * dout + j];
}
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out) {
    for (size_t i = 0; i < din; i++) {
        float s = 0;
        for (size_t j = 0; j < dout; j++) s += w[i * dout + j] * g[j];
        out[i] = s;
    }
}
int cr_sparse_ger_f32(size_t nnz, const uint32_t *idx, size_t dout, float a, const float *h,
                      const float *g, float *w, float *b) {
    float cs = 0;
    for (size_t q = 0; q < nnz; q++) {
        float ai = a * h[idx[q]];
        for (size_t j = 0; j < dout; j++) {
            w[idx[q] * dout + j] += ai * g[j];
            cs += w[idx[q] * dout + j] * 0.0f;
        }
    }
    for (size_t j = 0; j < dout; j++) {
        b[j] += a * g[j];
        cs += b[j] * 0.0f;
    }
    return cs == 0;
}
void cr_sigmoid_fast_f32(size_t count, const float *r, float *h) {
    cr_sigmoid_forward_f32(count, r, h);
}
void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    for (size_t j = 0; j < h; j++) {
        float s = 0;
        for (size_t i = 0; i < n; i++) s += g[i * h + j];
        b[j] = (beta == 0 ? 0.0f : beta * b[j]) + a * s;
    }
}
void cr_sigmoid_vjp_fast_f32(size_t count, const float *h, const float *g, float *gr) {
    cr_sigmoid_vjp_f32(count, NULL, h, g, gr);
}
int cr_all_finite_f32(size_t count, const float *x) {
    float s = 0;
    for (size_t i = 0; i < count; i++) s += x[i] * 0.0f;
    return s == 0;
}
void cr_opt_sgd_f32(size_t n, float lr, float wd, float *p, const float *g) {
    for (size_t i = 0; i < n; i++) p[i] = p[i] - lr * (g[i] + wd * p[i]);
}
void cr_opt_momentum_f32(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                         const float *g, float *m) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        m[i] = mu * m[i] + gi;
        p[i] = p[i] - lr * (nesterov ? gi + mu * m[i] : m[i]);
    }
}
void cr_opt_adam_f32(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                     float eps, float *p, const float *g, float *m, float *v) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] = p[i] - step_size * m[i] / (sqrtf(v[i]) / sbc2 + eps);
    }
}
#endif
