/*
 * CROWN's rows in fixed chunks on the library's workers (net/bound_crown.c): the bounds of
 * cr_net_bound are bit-identical with 1, 2 and 3 workers, for CROWN-IBP, CROWN and α-CROWN
 * (4 steps, intermediates optimised: its per-row lines follow the chunks), on
 * relu, sigmoid and tanh nets with a standardised input and a BatchNorm link, wide enough
 * that every intermediate pass (2·width rows) and the spec pass span several chunks.
 * Against a vacuous pass: the chunk count is checked to be > 1 for every pass, the bounds
 * are finite, ordered and not all equal, and a box 1e-9 wider gives other bits (the
 * comparison can fail).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "chainrule_certify.h"
#include "core/parallel.h"
#include "net/bound.h"
#include "testutil.h"

static uint64_t rng = 0x243f6a8885a308d3ULL;
static double urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53 * 2 - 1; /* [-1, 1) */
}

enum { D = 12, K = 10, M = 40 };

static cr_net *make_net(cr_activation act, const size_t *dims, int L) {
    cr_activation acts[CR_MAX_LAYERS];
    for (int l = 0; l + 1 < L; l++) acts[l] = act;
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, CR_F64, L, dims, acts), CR_OK);
    double *P = cr_net_params(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) P[i] = urand() / sqrt(20.0);
    double mu[D], sd[D];
    for (size_t j = 0; j < D; j++) {
        mu[j] = 0.3 * urand();
        sd[j] = 0.5 + 0.25 * (urand() + 1);
    }
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
    double mean[128], var[128], g[128], beta[128];
    for (size_t j = 0; j < dims[1]; j++) {
        mean[j] = 0.2 * urand();
        var[j] = 0.5 + 0.5 * (urand() + 1);
        g[j] = urand();
        beta[j] = 0.2 * urand();
    }
    assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mean, var, g, beta, 1e-5), CR_OK);
    return net;
}

static void bounds(const cr_net *net, int threads, cr_bound_method method, const double *lo, const double *hi,
                   const double *c, double *lb, double *ub) {
    cr_ctx *ctx = NULL;
    assert_int_equal(cr_ctx_create(&ctx, threads), CR_OK);
    assert_int_equal(cr_ctx_threads(ctx), threads);
    cr_bound_options o = {.method = method, .alpha_iters = 4}; /* α-CROWN: a few steps suffice here */
    assert_int_equal(cr_net_bound(ctx, net, lo, hi, M, c, &o, lb, ub), CR_OK);
    cr_ctx_free(ctx);
}

static void test_worker_count_independence(void **state) {
    (void)state;
    const size_t dims[] = {D, 90, 70, 80, K};
    const int L = 4;
    /* every pass spans several chunks: 2·70 intermediate rows at the least, 2·M spec rows */
    assert_true(cr_even_chunk(2 * 70, CR_BOUND_CROWN_ROWS) < 2 * 70);
    assert_true(cr_even_chunk(2 * M, CR_BOUND_CROWN_ROWS) < 2 * M);
    const cr_activation acts[] = {CR_ACT_RELU, CR_ACT_SIGMOID, CR_ACT_TANH};
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        cr_net *net = make_net(acts[a], dims, L);
        double lo[D], hi[D], c[M * K];
        for (size_t j = 0; j < D; j++) {
            const double x = urand(), e = 0.05 + 0.05 * (urand() + 1);
            lo[j] = x - e;
            hi[j] = x + e;
        }
        for (size_t i = 0; i < M * K; i++) c[i] = urand();
        for (cr_bound_method m = CR_BOUND_CROWN_IBP; m <= CR_BOUND_ALPHA; m++) {
            double lb1[M], ub1[M], lb[M], ub[M];
            bounds(net, 1, m, lo, hi, c, lb1, ub1);
            int distinct = 0;
            for (size_t i = 0; i < M; i++) {
                assert_true(isfinite(lb1[i]) && isfinite(ub1[i]) && lb1[i] <= ub1[i]);
                distinct += lb1[i] != lb1[0];
            }
            assert_true(distinct > 0);
            for (int t = 2; t <= 3; t++) {
                bounds(net, t, m, lo, hi, c, lb, ub);
                assert_memory_equal(lb, lb1, sizeof lb);
                assert_memory_equal(ub, ub1, sizeof ub);
            }
            /* the comparison can fail: another box gives other bits */
            double lo2[D];
            for (size_t j = 0; j < D; j++) lo2[j] = lo[j] - 1e-9;
            bounds(net, 2, m, lo2, hi, c, lb, ub);
            assert_true(memcmp(lb, lb1, sizeof lb) != 0);
        }
        cr_net_free(net);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_worker_count_independence)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
