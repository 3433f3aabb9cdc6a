/*
 * test_evaluate64 — evaluation of a float64 net (cr_evaluate_f64, and cr_evaluate on a
 * float64 net; one source with float32: src/net/evaluate.tmpl.c):
 *
 *   - against an independent double forward written here from the weights (x W + b,
 *     tanh, ReLU, log-sum-exp), over batches cut by the tape's max_batch: the summed
 *     loss, the correct count, the confusion matrix and the probabilities;
 *   - against the float32 path on the float64 copy of a float32 net (exact widening)
 *     and float32 inputs: the same counts and matrix, losses and probabilities to ~1e-6;
 *   - the dispatcher gives cr_evaluate_f64's bits, with one or two threads; the errors
 *     (a float32 tape, a label out of range) name what is wrong; training a float64
 *     net is still CR_ERR_DTYPE.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_io.h"
#include "chainrule_typed.h"
#include "testutil.h"

enum { N = 37, D = 6, H1 = 7, H2 = 5, K = 4, BATCH = 16 };

static cr_net *make_net(cr_dtype dt, uint64_t seed) {
    const size_t dims[4] = {D, H1, H2, K};
    const cr_activation act[2] = {CR_ACT_TANH, CR_ACT_RELU};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, dt, 3, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, seed);
    /* biases away from zero: the ReLU's both sides and a less uniform softmax */
    for (int l = 0; l < 3; l++) {
        const size_t w = cr_net_width(net, l + 1);
        for (size_t j = 0; j < w; j++) {
            const double v = 0.3 * sin(1.7 * (double)(j + 1) + l);
            if (dt == CR_F64) ((double *)cr_net_bias(net, l))[j] = v;
            else ((float *)cr_net_bias(net, l))[j] = (float)v;
        }
    }
    return net;
}

static void make_data(double *x, cr_label *y) {
    tu_fill_uniform(x, (size_t)N * D, -2, 2, 11);
    for (int i = 0; i < N; i++) y[i] = (cr_label)((i * 7 + 3) % K);
}

/* The reference: the network's forward in double from its weights, one row at a time. */
static void reference(const cr_net *net, const double *x, const cr_label *y, double *loss_sum, size_t *correct,
                      uint64_t *confusion, double *probs) {
    const size_t dims[4] = {D, H1, H2, K};
    *loss_sum = 0;
    *correct = 0;
    memset(confusion, 0, K * K * sizeof *confusion);
    for (int i = 0; i < N; i++) {
        double a[8], r[8];
        memcpy(a, x + (size_t)i * D, D * sizeof(double));
        for (int l = 0; l < 3; l++) {
            const double *W = cr_net_weight_const(net, l), *b = cr_net_bias_const(net, l);
            for (size_t j = 0; j < dims[l + 1]; j++) {
                double s = b[j];
                for (size_t q = 0; q < dims[l]; q++) s += a[q] * W[q * dims[l + 1] + j];
                r[j] = s;
            }
            for (size_t j = 0; j < dims[l + 1]; j++)
                a[j] = l == 0 ? tanh(r[j]) : l == 1 ? (r[j] > 0 ? r[j] : 0) : r[j];
        }
        size_t am = 0;
        for (int j = 1; j < K; j++)
            if (a[j] > a[am]) am = (size_t)j;
        double z = 0;
        for (int j = 0; j < K; j++) z += exp(a[j] - a[am]);
        for (int j = 0; j < K; j++) probs[(size_t)i * K + j] = exp(a[j] - a[am]) / z;
        *loss_sum += a[am] + log(z) - a[y[i]];
        if (am == (size_t)y[i]) (*correct)++;
        confusion[(size_t)y[i] * K + am]++;
    }
}

static void test_f64_against_reference(void **state) {
    (void)state;
    cr_net *net = make_net(CR_F64, 5);
    double *x = tu_dalloc((size_t)N * D), *probs = tu_dalloc((size_t)N * K), *pref = tu_dalloc((size_t)N * K);
    cr_label y[N];
    make_data(x, y);
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, BATCH, &tape), CR_OK); /* batches of 16, 16 and 5 rows */
    double loss = 0, lref;
    size_t correct = 0, cref;
    uint64_t conf[K * K] = {0}, cfref[K * K];
    assert_int_equal(cr_evaluate_f64(NULL, net, tape, N, x, y, &loss, &correct, conf, probs), CR_OK);
    reference(net, x, y, &lref, &cref, cfref, pref);
    /* not vacuous: a loss, some right and some wrong, probabilities far from uniform */
    assert_true(lref > 1 && cref > 0 && cref < N);
    assert_true(tu_max_abs(pref, (size_t)N * K) > 0.5);
    assert_true(fabs(loss - lref) <= 1e-12 * lref);
    assert_int_equal(correct, cref);
    assert_memory_equal(conf, cfref, sizeof conf);
    double worst = 0;
    for (size_t i = 0; i < (size_t)N * K; i++) worst = fmax(worst, fabs(probs[i] - pref[i]));
    assert_true(worst <= 1e-14);
    printf("float64 evaluation: loss %.6f (reference %.6f), %zu of %d correct, worst probability error %.1e\n",
           loss, lref, correct, N, worst);

    /* labels NULL: probabilities only; the confusion matrix accumulates */
    double *p2 = tu_dalloc((size_t)N * K);
    assert_int_equal(cr_evaluate_f64(NULL, net, tape, N, x, NULL, NULL, NULL, NULL, p2), CR_OK);
    assert_memory_equal(p2, probs, (size_t)N * K * sizeof(double));
    assert_int_equal(cr_evaluate_f64(NULL, net, tape, N, x, y, NULL, NULL, conf, NULL), CR_OK);
    for (int i = 0; i < K * K; i++) assert_true(conf[i] == 2 * cfref[i]);
    free(p2);

    /* the dispatcher: cr_evaluate_f64's bits, with one and two threads */
    for (int threads = 1; threads <= 2; threads++) {
        cr_ctx *ctx = NULL;
        assert_int_equal(cr_ctx_create(&ctx, threads), CR_OK);
        double l2 = 0;
        size_t c2 = 0;
        uint64_t cf2[K * K] = {0};
        double *p3 = tu_dalloc((size_t)N * K);
        assert_int_equal(cr_evaluate(ctx, net, tape, N, x, y, &l2, &c2, cf2, p3), CR_OK);
        assert_true(l2 == loss);
        assert_int_equal(c2, correct);
        assert_memory_equal(cf2, cfref, sizeof cf2);
        assert_memory_equal(p3, probs, (size_t)N * K * sizeof(double));
        free(p3);
        cr_ctx_free(ctx);
    }
    cr_tape_free(tape);
    free(x);
    free(probs);
    free(pref);
    cr_net_free(net);
}

static void test_f64_against_f32_path(void **state) {
    (void)state;
    cr_net *n32 = make_net(CR_F32, 9), *n64 = NULL;
    assert_int_equal(cr_net_convert(n32, CR_F64, &n64), CR_OK); /* exact widening */
    double *x = tu_dalloc((size_t)N * D), *p64 = tu_dalloc((size_t)N * K);
    float *xf = tu_falloc((size_t)N * D), *p32 = tu_falloc((size_t)N * K);
    cr_label y[N];
    make_data(x, y);
    for (size_t i = 0; i < (size_t)N * D; i++) x[i] = xf[i] = (float)x[i]; /* the same inputs */
    cr_tape *t32 = NULL, *t64 = NULL;
    assert_int_equal(cr_tape_create(n32, BATCH, &t32), CR_OK);
    assert_int_equal(cr_tape_create(n64, BATCH, &t64), CR_OK);
    double l32 = 0, l64 = 0;
    size_t c32 = 0, c64 = 0;
    uint64_t cf32[K * K] = {0}, cf64[K * K] = {0};
    assert_int_equal(cr_evaluate(NULL, n32, t32, N, xf, y, &l32, &c32, cf32, p32), CR_OK);
    assert_int_equal(cr_evaluate(NULL, n64, t64, N, x, y, &l64, &c64, cf64, p64), CR_OK);
    assert_true(c64 > 0 && c64 < N && l64 > 1);
    assert_int_equal(c32, c64);
    assert_memory_equal(cf32, cf64, sizeof cf32);
    double worst = 0;
    for (size_t i = 0; i < (size_t)N * K; i++) worst = fmax(worst, fabs((double)p32[i] - p64[i]));
    const double rel = fabs(l32 - l64) / l64;
    printf("float32 path against float64 on the same weights: loss relative difference %.1e, probabilities %.1e\n",
           rel, worst);
    assert_true(rel <= 2e-6);
    assert_true(worst <= 2e-6);
    assert_true(worst > 0); /* the two really are different computations */

    /* errors: the tape of the other dtype, a label out of range, training a float64 net */
    assert_int_equal(cr_evaluate(NULL, n64, t32, N, x, y, &l64, NULL, NULL, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_evaluate_f64(NULL, n32, t32, N, x, y, &l64, NULL, NULL, NULL), CR_ERR_DTYPE);
    y[5] = K + 5;
    assert_int_equal(cr_evaluate(NULL, n64, t64, N, x, y, &l64, NULL, NULL, NULL), CR_ERR_ARG);
    assert_non_null(strstr(cr_last_error(), "cr_evaluate: labels[5] = 9 is not in [0, 4)"));
    y[5] = 0;
    cr_optim *opt = NULL;
    cr_optim_config cfg = cr_optim_config_default();
    cr_train_ws *ws = NULL;
    assert_int_equal(cr_optim_create(n64, &cfg, &opt), CR_OK);
    if (cr_train_ws_create(n64, BATCH, N, &ws) == CR_OK) {
        assert_int_equal(cr_train_step(NULL, n64, opt, ws, BATCH, x, y, NULL, NULL), CR_ERR_DTYPE);
        cr_train_ws_free(ws);
    }
    cr_optim_free(opt);
    cr_tape_free(t32);
    cr_tape_free(t64);
    free(x);
    free(xf);
    free(p32);
    free(p64);
    cr_net_free(n32);
    cr_net_free(n64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f64_against_reference),
        cmocka_unit_test(test_f64_against_f32_path),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
