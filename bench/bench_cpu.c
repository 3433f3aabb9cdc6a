/*
 * CPU time of one input-derivative call on one worker, for before/after comparisons on a
 * loaded machine (where wall-clock time measures the neighbours), and a byte hash of the
 * output so that two builds can be checked to compute the same bits:
 *
 *   bench_cpu MODEL.safetensors REPS WHAT WORKERS
 *     WHAT: grad | jac-closed | jac-rev (1,000 images) | fgsm | fgsm-l2 | pgd | pgd-rs |
 *           pgd-l2-rs | ... (l2: L2 norm, eps 1.5, else L-inf eps 0.1; rs: random start;
 *           tg: targeted at (label + 3) mod 10; PGD 5 steps, or CR_BENCH_STEPS: PGD at 1 step
 *           minus grad is at most one forward pass, its best-iterate copy and one step)
 *   prints the best wall and CPU time over REPS calls, the attack statistics and the hash.
 *
 * Build against a build's static libraries as bench/compare.sh does with bench_jacobian.c;
 * docs/benchmarks.md (issue 18) runs two builds alternately, 7 rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_typed.h"
#include "chainrule_data.h"

static double clock_s(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_cpu MODEL.safetensors REPS WHAT WORKERS\n");
        return 2;
    }
    const int reps = atoi(argv[2]);
    const char *what = argv[3];
    cr_ctx *ctx = NULL; /* WORKERS threads */
    if (cr_ctx_create(&ctx, atoi(argv[4])) != CR_OK) return 2;
    cr_net *n64, *net;
    cr_dataset ds;
    if (cr_model_load(argv[1], &n64) || cr_net_convert(n64, CR_F32, &net) != CR_OK ||
        cr_dataset_load("fashion-mnist:test", &ds, NULL)) {
        fprintf(stderr, "bench_cpu: cannot load the model or the data\n");
        return 2;
    }
    const size_t n = ds.n, d = ds.d, k = 10;
    int64_t *lab = malloc(n * sizeof *lab), *tg = NULL;
    float *y = malloc(n * k * sizeof *y), *out = malloc(n * d * sizeof *out);
    if (!lab || !y || !out) return 1;
    for (size_t i = 0; i < n; i++) lab[i] = ds.labels[i];
    cr_onehot_f32(n, k, lab, y);
    cr_attack_options o = {0};
    o.method = strncmp(what, "pgd", 3) ? CR_ATTACK_FGSM : CR_ATTACK_PGD;
    o.norm = strstr(what, "l2") ? CR_NORM_L2 : CR_NORM_LINF;
    o.eps = o.norm == CR_NORM_L2 ? 1.5 : 0.1;
    o.lo = 0;
    o.hi = 1;
    o.steps = getenv("CR_BENCH_STEPS") ? (size_t)atoi(getenv("CR_BENCH_STEPS")) : 5;
    o.random_start = strstr(what, "rs") != NULL;
    o.seed = 7;
    if (strstr(what, "tg")) {
        if (!(tg = malloc(n * sizeof *tg))) return 1;
        for (size_t i = 0; i < n; i++) tg[i] = (lab[i] + 3) % 10;
    }
    cr_attack_stats s = {0};
    double best = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        cr_status st;
        if (!strcmp(what, "grad")) st = cr_net_input_grad_f32(ctx, net, n, ds.x, y, out, NULL);
        else if (!strcmp(what, "jac-closed"))
            st = cr_net_input_jacobian_f32(ctx, net, 1000, ds.x, 1, CR_JAC_CLOSED, out);
        else if (!strcmp(what, "jac-rev"))
            st = cr_net_input_jacobian_f32(ctx, net, 1000, ds.x, 1, CR_JAC_REV, out);
        else st = cr_attack_f32(ctx, net, n, ds.x, lab, tg, &o, out, &s);
        if (st != CR_OK) return 1;
        double t = clock_s(CLOCK_MONOTONIC) - t0, c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        best = t < best ? t : best;
        best_cpu = c < best_cpu ? c : best_cpu;
    }
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a over the output's bytes */
    const unsigned char *pb = (const unsigned char *)out;
    for (size_t i = 0; i < n * d * sizeof *out; i++) h = (h ^ pb[i]) * 1099511628211ULL;
    printf("%s best %.2f ms wall, %.2f ms cpu; clean %zu adv %zu hit %zu loss %.17g %.17g "
           "pd %.17g %.17g dist %.17g min %.17g max %.17g hash %llx\n",
           what, best * 1e3, best_cpu * 1e3, s.correct_clean, s.correct_adv, s.hit_target,
           s.loss_clean, s.loss_adv, s.pred_dloss, s.pred_dloss_clip, s.max_dist, s.min_value,
           s.max_value, h);
    free(lab);
    free(tg);
    free(y);
    free(out);
    cr_dataset_free(&ds);
    cr_net_free(net);
    cr_net_free(n64);
    return 0;
}
