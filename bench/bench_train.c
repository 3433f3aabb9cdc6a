/*
 * bench_train: chainrule's side of bench/run.sh. Trains the seed network
 * 784-H-10 (sigmoid) on Fashion-MNIST and prints figures as "key value" lines:
 *   sgemm_2048_gflops        2-thread (or --threads) OpenBLAS sgemm, 2048^3
 *   sgemm_step_gflops        the step's own gemm shapes (fwd X W1, dW1 = Xᵀ G)
 *   epoch_s                  median epoch time at --batch (plain SGD, lr 0.1)
 *   epoch_gflops             useful FLOPs of an epoch / epoch_s
 *   sgd1_us                  median µs per example of per-example SGD
 *   peak_rss_mb              getrusage peak resident set (before the sgemm runs)
 *   test_acc                 test accuracy after the timed epochs
 * Usage: bench_train [--runs 5] [--batch 64] [--hidden 128] [--threads 2] [--workers W]
 *                    [--sgd1-examples 20000] [--data fashion-mnist] [--skip-sgemm 0|1]
 *                    [--init MODEL.safetensors]
 * --init: start both the epochs and per-example SGD from that model's weights (the peers
 * of bench/compare.py load the same file) instead of cr_net_init's seed-1 weights.
 * --workers: the training step's workers (cr_train_ws_set_threads; default
 * min(--threads, 2)); with 2 the BLAS runs 1 thread inside the step, and
 * --workers 1 --threads 2 times OpenBLAS's own 2-thread split instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "chainrule_io.h"

void openblas_set_num_threads(int n); /* OpenBLAS (linked through pkg-config openblas) */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
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

/* Best-of-reps throughput of one gemm shape, GFLOP/s. */
static double gemm_gflops(int ta, size_t m, size_t n, size_t k, int reps) {
    float *a = malloc(m * k * sizeof(float)), *b = malloc(k * n * sizeof(float)),
          *c = calloc(m * n, sizeof(float));
    if (!a || !b || !c) exit(1);
    for (size_t i = 0; i < m * k; i++) a[i] = (float)(i % 17) * 0.01f;
    for (size_t i = 0; i < k * n; i++) b[i] = (float)(i % 13) * 0.01f;
    size_t lda = ta ? m : k;
    cr_gemm_f32(ta, 0, m, n, k, 1e-6f, a, lda, b, n, 1, c, n);
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        double t0 = now();
        for (int r = 0; r < reps; r++) cr_gemm_f32(ta, 0, m, n, k, 1e-6f, a, lda, b, n, 1, c, n);
        double t = (now() - t0) / reps;
        if (t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)m * (double)n * (double)k / best / 1e9;
}

/* The weights every run starts from: the --init model's (init_params) or cr_net_init's. */
static void start_weights(cr_net *net, const float *init_params) {
    if (init_params) memcpy(cr_net_params_f32(net), init_params, cr_net_n_params(net) * sizeof(float));
    else cr_net_init(net, CR_INIT_AUTO, 1);
}

int main(int argc, char **argv) {
    int runs = 5, threads = 2, workers = -1, skip_sgemm = 0;
    size_t batch = 64, hidden = 128, sgd1_n = 20000;
    const char *data = "fashion-mnist", *init = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--hidden")) hidden = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sgd1-examples")) sgd1_n = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--skip-sgemm")) skip_sgemm = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--init")) init = argv[i + 1];
        else {
            fprintf(stderr, "bench_train: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100 || batch == 0) return 2;
    if (workers < 0) workers = threads >= 2 ? 2 : 1;
    cr_ctx *ctx = NULL; /* the step's BLAS threads with one worker */
    if (cr_ctx_create(&ctx, threads < 1 ? 1 : threads) != CR_OK) return 1;
    cr_dataset train, test;
    char spec[600];
    snprintf(spec, sizeof spec, "%s:train", data);
    if (cr_dataset_load(spec, &train, NULL)) {
        fprintf(stderr, "bench_train: %s\n", cr_last_error());
        return 2;
    }
    snprintf(spec, sizeof spec, "%s:test", data);
    if (cr_dataset_load(spec, &test, NULL)) {
        fprintf(stderr, "bench_train: %s\n", cr_last_error());
        return 2;
    }
    const size_t d = train.d, k = 10;
    printf("machine_threads %d\n", threads);
    printf("workers %d\n", workers);

    size_t dims[3] = {d, hidden, k};
    cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_net *net;
    cr_optim *opt;
    cr_train_ws *ws;
    cr_optim_config cfg = cr_optim_config_default();
    if (cr_net_create(&net, CR_F32, 2, dims, act) != CR_OK ||
        cr_optim_create(net, &cfg, &opt) != CR_OK ||
        cr_train_ws_create(net, batch, train.n, &ws) != CR_OK ||
        cr_train_ws_set_threads(ws, workers) != CR_OK)
        return 1;
    float *init_params = NULL; /* owned; the weights every run starts from */
    if (init) {
        cr_net *loaded, *loaded32;
        if (cr_model_load(init, &loaded) != 0) {
            fprintf(stderr, "bench_train: %s\n", cr_last_error());
            return 2;
        }
        if (cr_net_convert(loaded, CR_F32, &loaded32) != CR_OK) return 1;
        if (cr_net_n_layers(loaded32) != 2 || cr_net_n_params(loaded32) != cr_net_n_params(net) ||
            cr_net_activation(loaded32, 0) != CR_ACT_SIGMOID || cr_net_width(loaded32, 0) != d) {
            fprintf(stderr, "bench_train: %s: not a %zu-%zu-%zu sigmoid network\n", init, d, hidden, k);
            return 2;
        }
        init_params = malloc(cr_net_n_params(net) * sizeof(float));
        if (!init_params) return 1;
        memcpy(init_params, cr_net_params_f32(loaded32), cr_net_n_params(net) * sizeof(float));
        cr_net_free(loaded32);
        cr_net_free(loaded);
    }
    start_weights(net, init_params);
    cr_rng rng;
    cr_rng_seed(&rng, 1);
    cr_train_stats stats;
    double *times = malloc(sizeof(double) * (size_t)runs);
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (cr_train_epoch_f32(ctx, net, opt, ws, train.n, train.x, train.labels, batch, &rng, &stats,
                               NULL, 0, NULL) != CR_OK)
            return 1;
        times[r] = now() - t0;
        printf("epoch_run %d %.4f s loss %.4f\n", r, times[r], stats.loss_sum / (double)stats.seen);
    }
    double ep = median(times, runs);
    /* useful FLOPs: forward (all layers) + parameter gradients (all) + input
       gradients of the layers above the first */
    double flops = 0;
    for (int l = 0; l < 2; l++) flops += 2.0 * 2.0 * (double)dims[l] * (double)dims[l + 1];
    flops += 2.0 * (double)dims[1] * (double)dims[2];
    flops *= (double)train.n;
    printf("epoch_s %.4f\n", ep);
    printf("epoch_gflop %.2f\n", flops / 1e9);
    printf("epoch_gflops %.1f\n", flops / ep / 1e9);
    size_t correct = 0;
    double loss = 0;
    cr_evaluate_f32(ctx, net, cr_train_ws_tape(ws), test.n, test.x, test.labels, &loss, &correct, NULL, NULL);
    printf("test_acc %.4f\n", (double)correct / (double)test.n);
    cr_train_ws_set_threads(ws, 1); /* joins the worker; the BLAS gets its threads back */

    /* per-example SGD */
    cr_train_ws *ws1;
    start_weights(net, init_params);
    if (cr_train_ws_create(net, 1, train.n, &ws1) != CR_OK) return 1;
    if (sgd1_n > train.n) sgd1_n = train.n;
    double *cpu = malloc(sizeof(double) * (size_t)runs);
    for (int r = 0; r < runs; r++) {
        double t0 = now(), c0 = cpu_now(), ls = 0;
        size_t c = 0;
        for (size_t i = 0; i < sgd1_n; i++)
            cr_train_sgd1_f32(net, opt, ws1, train.x + i * d, train.labels[i], &ls, &c);
        times[r] = (now() - t0) / (double)sgd1_n * 1e6;
        cpu[r] = (cpu_now() - c0) / (double)sgd1_n * 1e6;
    }
    printf("sgd1_us %.2f\n", median(times, runs));
    printf("sgd1_cpu_us %.2f\n", median(cpu, runs)); /* thread CPU time: robust to a busy machine */
    free(cpu);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024.0);
    printf("dataset_mb %.1f\n", (double)(train.n + test.n) * (double)d * 4.0 / 1048576.0);
    /* the machine's sgemm throughput, measured after the peak-memory reading */
    if (!skip_sgemm) {
        openblas_set_num_threads(threads); /* the raw BLAS, as the library's callers find it */
        printf("sgemm_2048_gflops %.1f\n", gemm_gflops(0, 2048, 2048, 2048, 3));
        double g_fwd = gemm_gflops(0, batch, hidden, d, 500);
        double g_dw = gemm_gflops(1, d, hidden, batch, 500);
        /* harmonic combination: both shapes have the same FLOPs */
        printf("sgemm_step_gflops %.1f\n", 2.0 / (1.0 / g_fwd + 1.0 / g_dw));
    }
    free(times);
    free(init_params);
    cr_train_ws_free(ws);
    cr_train_ws_free(ws1);
    cr_optim_free(opt);
    cr_net_free(net);
    cr_ctx_free(ctx);
    cr_dataset_free(&train);
    cr_dataset_free(&test);
    return 0;
}
