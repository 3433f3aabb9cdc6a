/*
 * bench_jacobian: chainrule's side of bench/run_jacobian.sh. Input-derivative
 * figures of the seed network 784-128-10 (sigmoid) in float32 on the
 * Fashion-MNIST test set, printed as "key value" lines (medians of --runs):
 *   grad10k_ms           dJ_n/dx_n for all 10,000 test images (cr_net_input_grad: chunks
 *                        of forward + VJP chain on the workers)
 *   grad10k_tape_ms      the same through the tape API, one 10,000-row forward and backward
 *                        (OpenBLAS's own threads inside each gemm)
 *   jac_closed_us        full 10x784 Jacobian of the probabilities, per image, closed form
 *                        (1,000 images in one call)
 *   jac_rev_us           the same by K batched VJPs
 *   jac_fwd_us           the same by D batched JVPs (on --fwd-images images)
 *   fgsm10k_ms           FGSM (L_inf, eps 0.1) over the 10,000 test images, including the
 *                        evaluation pass of the adversarial examples
 *   fgsm_acc             accuracy under that attack (with clean_acc)
 *   grad10k_abs_sum      sum of |dJ_n/dx_n| over all images, jac_abs_sum the same over the
 *                        1,000 Jacobians: compare.py checks that the peers computed the same
 *   sgemm_jac_gflops     OpenBLAS sgemm at the Jacobian's main shape (10240 x 784 x 128)
 *   sgemm_2048_gflops    and at 2048^3, to show what the machine gives at the moment
 * Usage: bench_jacobian MODEL.safetensors [--runs 7] [--fwd-images 20] [--threads N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_typed.h"
#include "chainrule_data.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double abs_sum(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += fabs((double)v[i]);
    return s;
}

static double gemm_gflops(size_t m, size_t n, size_t k, int runs) {
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = malloc(m * n * 4);
    if (!a || !b || !c) exit(1);
    for (size_t i = 0; i < m * k; i++) a[i] = (float)(i % 17) * 0.01f;
    for (size_t i = 0; i < k * n; i++) b[i] = (float)(i % 13) * 0.01f;
    double t[32];
    cr_gemm_f32(0, 0, m, n, k, 1, a, k, b, n, 0, c, n);
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        cr_gemm_f32(0, 0, m, n, k, 1, a, k, b, n, 0, c, n);
        t[r] = now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)m * (double)n * (double)k / median(t, runs) / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_jacobian MODEL.safetensors [--runs 7] [--fwd-images 20] [--threads N]\n");
        return 2;
    }
    int runs = 7, threads = 0; /* 0: the cores available */
    size_t fwd_images = 20;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fwd-images")) fwd_images = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    cr_ctx *ctx = NULL;
    if (cr_ctx_create(&ctx, threads < 0 ? 0 : threads) != CR_OK) return 2;
    if (runs < 1 || runs > 31) runs = 7;
    cr_net *net64, *net;
    if (cr_model_load(argv[1], &net64) != 0) {
        fprintf(stderr, "bench_jacobian: %s\n", cr_last_error());
        return 2;
    }
    if (cr_net_convert(net64, CR_F32, &net) != CR_OK) return 1;
    cr_dataset ds;
    if (cr_dataset_load("fashion-mnist:test", &ds, NULL) != 0) {
        fprintf(stderr, "bench_jacobian: %s\n", cr_last_error());
        return 2;
    }
    const size_t n = ds.n, d = ds.d, k = cr_net_output_dim(net);
    if (d != cr_net_input_dim(net)) {
        fprintf(stderr, "bench_jacobian: the model takes %zu inputs, the data has %zu\n",
                cr_net_input_dim(net), d);
        return 2;
    }
    printf("threads %d (workers; OpenBLAS single-threaded in each), runs %d, images %zu, model %zu-%zu-%zu\n", cr_ctx_threads(ctx), runs, n, d,
           cr_net_width(net, 1), k);
    int64_t *labels = malloc(n * sizeof(int64_t));
    float *y = malloc(n * k * 4), *dx = malloc(n * d * 4), *adv = malloc(n * d * 4);
    const size_t nj = n < 1000 ? n : 1000;
    float *jac = malloc(nj * k * d * 4);
    cr_tape *tape;
    if (!labels || !y || !dx || !adv || !jac || cr_tape_create(net, n, &tape) != CR_OK) return 1;
    for (size_t i = 0; i < n; i++) labels[i] = ds.labels[i];
    cr_onehot_f32(n, k, labels, y);
    double t[32];

    /* dJ/dx for all test images: forward + VJP chain (no parameter gradients) */
    for (int r = 0; r <= runs; r++) {
        double t0 = now();
        cr_net_input_grad_f32(ctx, net, n, ds.x, y, dx, NULL);
        if (r) t[r - 1] = now() - t0; /* run 0 warms up */
    }
    printf("grad10k_ms %.3f\n", 1e3 * median(t, runs));
    printf("grad10k_abs_sum %.9e\n", abs_sum(dx, n * d));

    static const struct { cr_jac_mode mode; const char *key; } modes[] = {
        {CR_JAC_CLOSED, "jac_closed_us"}, {CR_JAC_REV, "jac_rev_us"}};
    for (int m = 0; m < 2; m++) {
        for (int r = 0; r <= runs; r++) {
            double t0 = now();
            cr_net_input_jacobian_f32(ctx, net, nj, ds.x, 1, modes[m].mode, jac);
            if (r) t[r - 1] = now() - t0;
        }
        printf("%s %.3f\n", modes[m].key, 1e6 * median(t, runs) / (double)nj);
        if (m == 0) printf("jac_abs_sum %.9e\n", abs_sum(jac, nj * k * d));
    }
    {
        int fr = runs < 3 ? runs : 3;
        for (int r = 0; r < fr; r++) {
            double t0 = now();
            cr_net_input_jacobian_f32(ctx, net, fwd_images, ds.x, 1, CR_JAC_FWD, jac);
            t[r] = now() - t0;
        }
        printf("jac_fwd_us %.3f\n", 1e6 * median(t, fr) / (double)fwd_images);
    }

    cr_attack_options o = {0};
    o.method = CR_ATTACK_FGSM;
    o.norm = CR_NORM_LINF;
    o.eps = 0.1;
    o.lo = 0;
    o.hi = 1;
    cr_attack_stats s = {0};
    for (int r = 0; r <= runs; r++) {
        double t0 = now();
        cr_attack_f32(ctx, net, n, ds.x, labels, NULL, &o, adv, &s);
        if (r) t[r - 1] = now() - t0;
    }
    printf("fgsm10k_ms %.3f\n", 1e3 * median(t, runs));
    printf("clean_acc %.4f\n", (double)s.correct_clean / (double)n);
    printf("fgsm_acc %.4f\n", (double)s.correct_adv / (double)n);
    /* dJ/dx again as one batch on the tape API: forward, then backward of all rows. Last,
       because it runs OpenBLAS's own threads, which then spin for ~0.1 s waiting for
       more work and would take a core from the workers of the next measurement. */
    for (int r = 0; r <= runs; r++) {
        double t0 = now();
        cr_net_forward_f32(net, tape, n, ds.x);
        cr_net_backward_f32(net, tape, y, dx, NULL);
        if (r) t[r - 1] = now() - t0;
    }
    printf("grad10k_tape_ms %.3f\n", 1e3 * median(t, runs));
    printf("sgemm_jac_gflops %.1f\n", gemm_gflops(nj * k, d, cr_net_width(net, 1), runs));
    printf("sgemm_2048_gflops %.1f\n", gemm_gflops(2048, 2048, 2048, runs < 5 ? runs : 5));
    cr_tape_free(tape);
    free(labels);
    free(y);
    free(dx);
    free(adv);
    free(jac);
    cr_dataset_free(&ds);
    cr_net_free(net);
    cr_net_free(net64);
    return 0;
}
