/*
 * test_attribute — attribution maps (issue 4), float64:
 *   - saliency is the gradient of the class logit / probability (against finite
 *     differences), --abs its absolute value; input x gradient = x o saliency;
 *   - integrated gradients: the completeness gap |sum attr - (f(x) - f(b))|
 *     shrinks as the steps grow (Riemann and trapezoid), tol adds steps until
 *     every gap is below it, a non-zero baseline works;
 *   - SmoothGrad with zero noise is saliency; seeded noise is reproducible.
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

#include "chainrule_typed.h"
#include "testutil.h"

#define N 5
#define D 12
#define K 4

static cr_net *make_net(cr_activation act) {
    size_t dims[] = {D, 9, 7, K};
    cr_activation acts[] = {act, act};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, 5);
    double *p = cr_net_params_f64(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] *= 2.0; /* curvier paths */
    return net;
}

static double score_of(const cr_net *net, const double *x, int64_t c, int probs) {
    cr_tape *t;
    assert_int_equal(cr_tape_create(net, 1, &t), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, t, 1, x), CR_OK);
    double v = (probs ? (double *)cr_tape_prediction(t) : (double *)cr_tape_logits(t))[c];
    cr_tape_free(t);
    return v;
}

static double x[N * D];
static const int64_t cls[N] = {0, 3, 1, 2, 3};

static void test_saliency_and_ixg(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_TANH);
    tu_fill_uniform(x, N * D, 0, 1, 3);
    double sal[N * D], ab[N * D], ixg[N * D], fd[D], xp[D], score[N];
    for (int probs = 0; probs <= 1; probs++) {
        cr_attr_options o = {0};
        o.method = CR_ATTR_SALIENCY;
        o.of_probs = probs;
        cr_attr_report rep = {0};
        rep.score = score;
        assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, sal, &rep), CR_OK);
        o.absolute = 1;
        assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, ab, NULL), CR_OK);
        o.absolute = 0;
        o.method = CR_ATTR_INPUT_X_GRAD;
        assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, ixg, NULL), CR_OK);
        for (size_t i = 0; i < N; i++) {
            assert_true(fabs(score[i] - score_of(net, x + i * D, cls[i], probs)) < 1e-14);
            for (size_t j = 0; j < D; j++) {
                memcpy(xp, x + i * D, sizeof xp);
                xp[j] += 1e-6;
                double a = score_of(net, xp, cls[i], probs);
                xp[j] -= 2e-6;
                fd[j] = (a - score_of(net, xp, cls[i], probs)) / 2e-6;
                assert_true(fabs(ab[i * D + j] - fabs(sal[i * D + j])) == 0);
                assert_true(fabs(ixg[i * D + j] - x[i * D + j] * sal[i * D + j]) <= 1e-15);
            }
            assert_true(tu_max_rel_err(sal + i * D, fd, D) < 1e-7);
        }
    }
    cr_net_free(net);
}

static double total_gap(const cr_net *net, size_t steps, int trap, int probs, const double *base) {
    double attr[N * D], gap[N], fx[N], fb[N];
    cr_attr_options o = {0};
    o.method = CR_ATTR_IG;
    o.steps = steps;
    o.trapezoid = trap;
    o.of_probs = probs;
    o.baseline = base;
    cr_attr_report rep = {fx, fb, gap, NULL};
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, attr, &rep), CR_OK);
    double s = 0;
    for (size_t i = 0; i < N; i++) {
        double sum = 0;
        for (size_t j = 0; j < D; j++) sum += attr[i * D + j];
        assert_true(fabs(fabs(sum - (fx[i] - fb[i])) - gap[i]) < 1e-12); /* gap as defined */
        assert_true(fabs(fb[i] - score_of(net, base ? base : (double[D]){0}, cls[i], probs)) < 1e-14);
        s += gap[i];
    }
    return s;
}

static void test_ig_completeness(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_SIGMOID);
    tu_fill_uniform(x, N * D, 0, 1, 4);
    double base[D];
    tu_fill_uniform(base, D, -0.5, 0.5, 5);
    for (int probs = 0; probs <= 1; probs++)
        for (int trap = 0; trap <= 1; trap++)
            for (int b = 0; b <= 1; b++) {
                double g4 = total_gap(net, 4, trap, probs, b ? base : NULL);
                double g16 = total_gap(net, 16, trap, probs, b ? base : NULL);
                double g64 = total_gap(net, 64, trap, probs, b ? base : NULL);
                double g256 = total_gap(net, 256, trap, probs, b ? base : NULL);
                print_message("IG probs=%d %s baseline=%s: gap 4:%.3e 16:%.3e 64:%.3e 256:%.3e\n",
                              probs, trap ? "trapezoid" : "riemann", b ? "random" : "zero", g4, g16, g64, g256);
                assert_true(g16 < g4 && g64 < g16 && g256 < g64);
                if (trap) assert_true(g256 < g4 * 1e-2); /* second order */
            }
    cr_net_free(net);
}

static void test_ig_tol(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_SIGMOID);
    tu_fill_uniform(x, N * D, 0, 1, 6);
    double attr[N * D], gap[N];
    size_t used[N];
    cr_attr_options o = {0};
    o.method = CR_ATTR_IG;
    o.steps = 2;
    o.tol = 1e-4;
    cr_attr_report rep = {NULL, NULL, gap, used};
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, attr, &rep), CR_OK);
    size_t maxu = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(gap[i] <= 1e-4);
        maxu = used[i] > maxu ? used[i] : maxu;
    }
    assert_true(maxu > 2); /* it had to add steps */
    cr_net_free(net);
}

static void test_smoothgrad(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_RELU);
    tu_fill_uniform(x, N * D, 0, 1, 7);
    double sal[N * D], sg[N * D], sg2[N * D];
    cr_attr_options o = {0};
    o.method = CR_ATTR_SALIENCY;
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, sal, NULL), CR_OK);
    o.method = CR_ATTR_SMOOTHGRAD;
    o.samples = 7;
    o.noise = 0;
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, sg, NULL), CR_OK);
    assert_true(tu_max_rel_err(sg, sal, N * D) < 1e-14);
    o.noise = 0.2;
    o.seed = 11;
    o.samples = 300; /* more than one batch of rows */
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, sg, NULL), CR_OK);
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, cls, &o, sg2, NULL), CR_OK);
    assert_memory_equal(sg, sg2, sizeof sg);
    assert_true(tu_max_rel_err(sg, sal, N * D) > 1e-6); /* the noise did something */
    cr_net_free(net);
}

static void test_bad_class(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_SIGMOID);
    double attr[N * D];
    int64_t bad[N] = {0, 1, 2, 4, 0};
    cr_attr_options o = {0};
    assert_int_equal(cr_attribute_f64(NULL, net, N, x, bad, &o, attr, NULL), CR_ERR_ARG);
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saliency_and_ixg), cmocka_unit_test(test_ig_completeness),
        cmocka_unit_test(test_ig_tol),           cmocka_unit_test(test_smoothgrad),
        cmocka_unit_test(test_bad_class),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
