/*
 * bench_epoch: the training epoch alone, for before/after comparisons on a shared
 * machine. Trains the seed network 784-128-10 (sigmoid, cr_net_init seed 1, plain SGD
 * lr 0.1, the default optimiser) on Fashion-MNIST's 60,000 training images and prints,
 * per epoch, the CPU time of the process (all its threads), the wall time and the mean
 * loss, then the medians and a hash of the trained weights (FNV-1a over their bytes:
 * the same bits give the same hash):
 *   bench_epoch [--workers 1|2] [--epochs 5] [--batch 64] [--pool-mode 0|1|2]
 * --pool-mode (two workers): 0 each worker its own half first (the default), 1 worker 1
 * idle (worker 0 computes every half: the two-worker schedule's CPU time on one core,
 * what the schedule costs without the neighbours' noise), 2 swapped (train_pool.h).
 * Built against the static libraries (the pool mode is a private test hook):
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/bench_epoch.c \
 *      BUILD/libchainrule_io.a BUILD/libchainrule.a $(pkg-config --libs openblas libpng zlib libcjson) -lm -pthread
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_data.h"
#include "chainrule_io.h"
#include "chainrule_typed.h"

cr_status cr_train_ws_pool_mode(cr_train_ws *ws, int mode); /* src/net/train_pool.h */

static double clk(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int workers = 1, epochs = 5, mode = -1;
    size_t batch = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--pool-mode")) mode = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_epoch: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (epochs < 1 || epochs > 100 || batch == 0 || workers < 1 || workers > 2) {
        fprintf(stderr, "bench_epoch: --epochs 1-100, --batch > 0, --workers 1 or 2\n");
        return 2;
    }
    cr_ctx *ctx = NULL;
    cr_dataset train;
    if (cr_ctx_create(&ctx, 1) != CR_OK) return 1;
    if (cr_dataset_load("fashion-mnist:train", &train, NULL)) {
        fprintf(stderr, "bench_epoch: %s\n", cr_last_error());
        return 2;
    }
    size_t dims[3] = {train.d, 128, 10};
    cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_net *net;
    cr_optim *opt;
    cr_train_ws *ws;
    cr_optim_config cfg = cr_optim_config_default();
    if (cr_net_create(&net, CR_F32, 2, dims, act) != CR_OK || cr_optim_create(net, &cfg, &opt) != CR_OK ||
        cr_train_ws_create(net, batch, train.n, &ws) != CR_OK || cr_train_ws_set_threads(ws, workers) != CR_OK)
        return 1;
    if (workers == 2 && mode >= 0 && cr_train_ws_pool_mode(ws, mode) != CR_OK) return 2;
    cr_net_init(net, CR_INIT_AUTO, 1);
    cr_rng rng;
    cr_rng_seed(&rng, 1);
    cr_train_stats st;
    double cpu[100], wall[100];
    for (int e = 0; e < epochs; e++) {
        double c0 = clk(CLOCK_PROCESS_CPUTIME_ID), w0 = clk(CLOCK_MONOTONIC);
        if (cr_train_epoch_f32(ctx, net, opt, ws, train.n, train.x, train.labels, batch, &rng, &st, NULL, 0,
                               NULL) != CR_OK) {
            fprintf(stderr, "bench_epoch: %s\n", cr_last_error());
            return 1;
        }
        cpu[e] = clk(CLOCK_PROCESS_CPUTIME_ID) - c0;
        wall[e] = clk(CLOCK_MONOTONIC) - w0;
        printf("epoch %d cpu_s %.4f wall_s %.4f loss %.6f\n", e, cpu[e], wall[e],
               st.loss_sum / (double)st.seen);
    }
    const float *p = cr_net_params_f32(net);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < cr_net_n_params(net); i++) {
        uint32_t u;
        memcpy(&u, p + i, 4);
        h = (h ^ u) * 1099511628211ull;
    }
    qsort(cpu, (size_t)epochs, sizeof(double), cmpd);
    qsort(wall, (size_t)epochs, sizeof(double), cmpd);
    printf("cpu_s %.4f\nwall_s %.4f\nweights_hash %016llx\n", cpu[epochs / 2], wall[epochs / 2],
           (unsigned long long)h);
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    cr_net_free(net);
    cr_ctx_free(ctx);
    cr_dataset_free(&train);
    return 0;
}
