/*
 * The first layer's forward product r = x W_1 + b of 10,000 rows × 784 × 128 on one thread, by
 * the packed kernel (cr_abt_gemm, then + b, as the forward did before) and by the kernel over
 * the nonzero inputs (cr_sparse_xw_f32), in chunks of 512 rows as ∂J/∂x takes them; CPU time,
 * best of REPS, and whether both gave the same bytes. docs/benchmarks.md ("the first layer's
 * product over the nonzero inputs") has its figures.
 *
 *   bench_sparse_xw [REPS] [images | random P]   (P: percent of nonzero inputs, 1..100)
 *
 * It reads library-private headers, so build it against a build tree:
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/bench_sparse_xw.c \
 *      build/rel/libchainrule_io.a build/rel/libchainrule.a \
 *      $(pkg-config --libs openblas libpng zlib libcjson) -lm -pthread -o bench_sparse_xw
 * CHAINRULE_ISA=avx2 forces the AVX2 variants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_data.h"
#include "chainrule_typed.h"
#include "kernels/abt.h"
#include "kernels/sparse_xw.h"

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t state = 88172645463325252ull;
static double unif(void) { /* [0, 1) */
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    const int random = argc > 2 && !strcmp(argv[2], "random");
    const double p = argc > 3 ? atof(argv[3]) / 100 : 1;
    const size_t n = 10000, d = 784, h = 128, chunk = 512;
    float *x = malloc(n * d * sizeof *x), *w = malloc(d * h * sizeof *w), *b = malloc(h * sizeof *b);
    float *r1 = malloc(n * h * sizeof *r1), *r2 = malloc(n * h * sizeof *r2);
    if (!x || !w || !b || !r1 || !r2 || reps < 1) return 2;
    if (random) {
        for (size_t i = 0; i < n * d; i++) x[i] = unif() < p ? (float)unif() + 0.01f : 0.0f;
    } else {
        cr_dataset te = {0};
        cr_dataset_options o = cr_dataset_options_default();
        o.limit = n;
        if (cr_dataset_load("fashion-mnist:test", &te, &o) != CR_OK || te.n < n || te.d != d) {
            fprintf(stderr, "bench_sparse_xw: fashion-mnist:test not available\n");
            return 2;
        }
        memcpy(x, te.x, n * d * sizeof *x);
        cr_dataset_free(&te);
    }
    for (size_t i = 0; i < d * h; i++) w[i] = (float)(unif() - 0.5) * 0.1f;
    for (size_t j = 0; j < h; j++) b[j] = (float)(unif() - 0.5) * 0.1f;
    size_t nz = 0;
    for (size_t i = 0; i < n * d; i++) nz += x[i] != 0;
    cr_abt_packed wt;
    if (cr_abt_pack(h, d, w, h, 1, 0, &wt) != CR_OK) return 2;
    double best_d = 1e30, best_s = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        const double t0 = cpu_s();
        for (size_t i0 = 0; i0 < n; i0 += chunk) {
            const size_t m = n - i0 < chunk ? n - i0 : chunk;
            float *r = r1 + i0 * h;
            cr_abt_gemm(m, 1, x + i0 * d, d, NULL, &wt, r, h);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < h; j++) r[i * h + j] += b[j];
        }
        const double t1 = cpu_s();
        for (size_t i0 = 0; i0 < n; i0 += chunk) {
            const size_t m = n - i0 < chunk ? n - i0 : chunk;
            cr_sparse_xw_f32(m, d, h, x + i0 * d, d, w, h, b, r2 + i0 * h, h);
        }
        const double t2 = cpu_s();
        best_d = t1 - t0 < best_d ? t1 - t0 : best_d;
        best_s = t2 - t1 < best_s ? t2 - t1 : best_s;
    }
    printf("%s: %s, %.1f%% nonzero inputs; packed + b %.2f ms, over the nonzeros %.2f ms "
           "(%.3f); the choice: %s; same bytes: %s\n",
           cr_isa_name(cr_isa_current()), random ? "random" : "fashion-mnist test", 100.0 * (double)nz / (double)(n * d),
           best_d * 1e3, best_s * 1e3, best_s / best_d,
           cr_sparse_xw_pays(chunk, d, x, d) ? "sparse" : "packed",
           memcmp(r1, r2, n * h * sizeof *r1) ? "NO" : "yes");
    cr_abt_free(&wt);
    free(x);
    free(w);
    free(b);
    free(r1);
    free(r2);
    return 0;
}
