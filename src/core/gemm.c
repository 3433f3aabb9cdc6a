/*
 * gemm: C <- alpha op(A) op(B) + beta C, row-major.
 * Through CBLAS (OpenBLAS) when built with it; otherwise a portable loop in
 * i-k-j order, which streams rows of B and C and vectorises well.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "chainrule_typed.h"
#include "core/parallel.h"

#if CR_HAVE_CBLAS
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/cpu_budget.h"
#endif

int cr_have_cblas(void) { return CR_HAVE_CBLAS; }

#if CR_HAVE_CBLAS
/* The default count, once: OpenBLAS's (the CPUs it found, or OPENBLAS_NUM_THREADS /
   OMP_NUM_THREADS), at most the CPUs this process may keep busy (core/cpu_budget.h:
   the affinity mask and the cgroup's CPU quota, which OpenBLAS does not read). A count
   the user gave through the environment is kept. It is what gemms called outside any
   context's hold (the op-level functions) find. */
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_threads(void) {
    if (getenv("OPENBLAS_NUM_THREADS") || getenv("GOTO_NUM_THREADS") || getenv("OMP_NUM_THREADS"))
        return;
    int budget = cr_cpu_budget();
    if (budget < openblas_get_num_threads()) openblas_set_num_threads(budget);
}
#endif

/* The BLAS's own thread count: only the holds of core/parallel.c set it. */
int cr_blas_threads(void) {
#if CR_HAVE_CBLAS
    pthread_once(&default_once, default_threads);
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

void cr_blas_set_threads(int n) {
#if CR_HAVE_CBLAS
    pthread_once(&default_once, default_threads); /* not later: it would undo n */
    if (n > 0) openblas_set_num_threads(n);
#else
    (void)n;
#endif
}

#define CR_GEMM_PORTABLE(T)                                                                    \
    for (size_t i = 0; i < m; i++) {                                                           \
        T *ci = c + i * ldc;                                                                   \
        if (beta == 0) {                                                                       \
            for (size_t j = 0; j < n; j++) ci[j] = 0;                                          \
        } else if (beta != 1) {                                                                \
            for (size_t j = 0; j < n; j++) ci[j] *= beta;                                      \
        }                                                                                      \
        for (size_t p = 0; p < k; p++) {                                                       \
            T aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);                       \
            if (aip == 0) continue;                                                            \
            if (!trans_b) {                                                                    \
                const T *bp = b + p * ldb;                                                     \
                for (size_t j = 0; j < n; j++) ci[j] += aip * bp[j];                           \
            } else {                                                                           \
                for (size_t j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];                  \
            }                                                                                  \
        }                                                                                      \
    }

void cr_gemm_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc) {
    if (m == 0 || n == 0) return;
#if CR_HAVE_CBLAS
    if (k > 0) {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                    (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
#endif
    CR_GEMM_PORTABLE(float)
}

void cr_gemm_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                 const double *a, size_t lda, const double *b, size_t ldb, double beta,
                 double *c, size_t ldc) {
    if (m == 0 || n == 0) return;
#if CR_HAVE_CBLAS
    if (k > 0) {
        cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                    (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
#endif
    CR_GEMM_PORTABLE(double)
}
