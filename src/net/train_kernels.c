/*
 * Kernels of the training loop, see train_kernels.h. The per-example path is
 * latency bound: a 784-128-10 step touches ~400 nonzero rows of W1 twice, so
 * the inner loops work on 16-float vectors and keep up to 64 accumulators of
 * the forward product in registers while streaming the rows of W.
 */
#include "train_kernels.h"

#include <string.h>

void cr_colsum_axpby_f32(size_t n, size_t h, float a, const float *g, float beta, float *b) {
    for (size_t j = 0; j < h; j++) {
        float s = 0;
        for (size_t i = 0; i < n; i++) s += g[i * h + j];
        b[j] = (beta == 0 ? 0.0f : beta * b[j]) + a * s;
    }
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
#define CR_DEFINE_KERNELS(SUFFIX, TARGET)                                                      \
    TARGET static void sparse_gemv_##SUFFIX(size_t din, size_t dout, const float *x,          \
                                            const float *w, const float *b, float *r) {       \
        size_t j0 = 0;                                                                         \
        for (; j0 + 64 <= dout; j0 += 64) {                                                    \
            v16 a0, a1, a2, a3;                                                                \
            V16_LOAD(a0, b + j0);                                                              \
            V16_LOAD(a1, b + j0 + 16);                                                         \
            V16_LOAD(a2, b + j0 + 32);                                                         \
            V16_LOAD(a3, b + j0 + 48);                                                         \
            for (size_t i = 0; i < din; i++) {                                                 \
                float xi = x[i];                                                               \
                if (xi == 0) continue;                                                         \
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
            for (size_t i = 0; i < din; i++) {                                                 \
                float xi = x[i];                                                               \
                if (xi == 0) continue;                                                         \
                v16 w0;                                                                        \
                V16_LOAD(w0, w + i * dout + j0);                                               \
                a0 += xi * w0;                                                                 \
            }                                                                                  \
            V16_STORE(r + j0, a0);                                                             \
        }                                                                                      \
        if (j0 < dout) {                                                                       \
            for (size_t j = j0; j < dout; j++) r[j] = b[j];                                    \
            for (size_t i = 0; i < din; i++) {                                                 \
                float xi = x[i];                                                               \
                if (xi == 0) continue;                                                         \
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
    TARGET static void sparse_ger_##SUFFIX(size_t din, size_t dout, float a, const float *h,  \
                                           const float *g, float *w, float *b) {              \
        for (size_t i = 0; i < din; i++) {                                                     \
            float ai = a * h[i];                                                               \
            if (ai == 0) continue;                                                             \
            float *wr = w + i * dout;                                                          \
            size_t j = 0;                                                                      \
            for (; j + 16 <= dout; j += 16) {                                                  \
                v16 wv, gv;                                                                    \
                V16_LOAD(wv, wr + j);                                                          \
                V16_LOAD(gv, g + j);                                                           \
                wv += ai * gv;                                                                 \
                V16_STORE(wr + j, wv);                                                         \
            }                                                                                  \
            for (; j < dout; j++) wr[j] += ai * g[j];                                          \
        }                                                                                      \
        for (size_t j = 0; j < dout; j++) b[j] += a * g[j];                                    \
    }

CR_DEFINE_KERNELS(base, )
#if CR_KERNEL_DISPATCH
CR_DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
CR_DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx2,fma"))))
#endif

typedef struct {
    void (*sparse_gemv)(size_t, size_t, const float *, const float *, const float *, float *);
    void (*gemv_rows)(size_t, size_t, const float *, const float *, float *);
    void (*sparse_ger)(size_t, size_t, float, const float *, const float *, float *, float *);
} kernels;

static const kernels k_base = {sparse_gemv_base, gemv_rows_base, sparse_ger_base};
#if CR_KERNEL_DISPATCH
static const kernels k_avx2 = {sparse_gemv_avx2, gemv_rows_avx2, sparse_ger_avx2};
static const kernels k_avx512 = {sparse_gemv_avx512, gemv_rows_avx512, sparse_ger_avx512};
#endif

static const kernels *pick(void) {
    static const kernels *chosen;
    if (!chosen) {
#if CR_KERNEL_DISPATCH
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            chosen = &k_avx512;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            chosen = &k_avx2;
        else
#endif
            chosen = &k_base;
    }
    return chosen;
}

void cr_sparse_gemv_f32(size_t din, size_t dout, const float *x, const float *w,
                        const float *b, float *r) {
    pick()->sparse_gemv(din, dout, x, w, b, r);
}
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out) {
    pick()->gemv_rows(din, dout, w, g, out);
}
void cr_sparse_ger_f32(size_t din, size_t dout, float a, const float *h, const float *g,
                       float *w, float *b) {
    pick()->sparse_ger(din, dout, a, h, g, w, b);
}

#else /* portable C */

void cr_sparse_gemv_f32(size_t din, size_t dout, const float *x, const float *w,
                        const float *b, float *r) {
    for (size_t j = 0; j < dout; j++) r[j] = b[j];
    for (size_t i = 0; i < din; i++)
        if (x[i] != 0)
            for (size_t j = 0; j < dout; j++) r[j] += x[i] * w[i * dout + j];
}
void cr_gemv_rows_f32(size_t din, size_t dout, const float *w, const float *g, float *out) {
    for (size_t i = 0; i < din; i++) {
        float s = 0;
        for (size_t j = 0; j < dout; j++) s += w[i * dout + j] * g[j];
        out[i] = s;
    }
}
void cr_sparse_ger_f32(size_t din, size_t dout, float a, const float *h, const float *g,
                       float *w, float *b) {
    for (size_t i = 0; i < din; i++) {
        float ai = a * h[i];
        if (ai != 0)
            for (size_t j = 0; j < dout; j++) w[i * dout + j] += ai * g[j];
    }
    for (size_t j = 0; j < dout; j++) b[j] += a * g[j];
}
#endif
