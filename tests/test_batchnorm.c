/*
 * BatchNorm in inference mode after a linear layer: the affine link l + 1 of
 * the net (src/ops/affine.tmpl.c, form CR_AFFINE_BATCHNORM) in every walk.
 *
 *   the forward pass evaluates z = (r − μ) / √(v + ε) · γ + β as stated: the
 *   logits equal a plain-loop forward here with the same expression;
 *   gradcheck (cr_check_net: per-op checks, dJ/dx, the Jacobian in every mode,
 *   the training step's gradient, the network adjoint, explain's four ways for
 *   float64) passes on nets with a BN link after a hidden layer and after the
 *   last one, float32 and float64, and names the link as its own op;
 *   planted faults in the BN link's VJP (without γ, without ε, with γ/(v + ε),
 *   none at all), installed with the affine op's test hook (ops/affine.h) so
 *   that every walk runs them, are caught by the network checks and named by
 *   the batchnorm op's VJP check;
 *   malformed links (negative variance with small ε, NaN, ε < 0) are refused.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "chainrule_check.h"
#include "ops/affine.h"
#include "testutil.h"

enum { D = 7, H1 = 9, H2 = 6, K = 4, N = 5 };

/* The float64 values of the links (layer l = 0, 1, 2: after linear layer l). */
static void bn_vectors(int l, size_t d, double *mu, double *var, double *g, double *b) {
    tu_fill_uniform(mu, d, -0.8, 0.8, 100 + (uint64_t)l);
    tu_fill_uniform(var, d, 0.05, 3.0, 200 + (uint64_t)l);
    tu_fill_uniform(g, d, 0.3, 2.0, 300 + (uint64_t)l);
    tu_fill_uniform(b, d, -0.7, 0.7, 400 + (uint64_t)l);
    for (size_t j = 0; j < d; j += 3) g[j] = -g[j]; /* a negative scale too */
}

/* A 7-9-6-4 net (tanh, relu) with BN links after layer 0, and after 2 when last_bn. */
static cr_net *bn_net(cr_dtype t, int last_bn, void **x, void **y) {
    size_t dims[4] = {D, H1, H2, K};
    cr_activation acts[2] = {CR_ACT_TANH, CR_ACT_RELU};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, t, 3, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, 5);
    double *p = tu_dalloc(cr_net_n_params(net));
    tu_fill_uniform(p, cr_net_n_params(net), -0.9, 0.9, 9);
    for (size_t i = 0; i < cr_net_n_params(net); i++) {
        if (t == CR_F32) ((float *)cr_net_params(net))[i] = (float)p[i];
        else ((double *)cr_net_params(net))[i] = p[i];
    }
    free(p);
    for (int l = 0; l < 3; l++) {
        if (l == 1 || (l == 2 && !last_bn)) continue;
        size_t d = dims[l + 1];
        double mu[16], var[16], g[16], b[16];
        bn_vectors(l, d, mu, var, g, b);
        assert_int_equal(cr_net_set_affine(net, l + 1, CR_AFFINE_BATCHNORM, mu, var, g, b,
                                           l ? 1e-3 : 9.999999747378752e-06),
                         CR_OK);
    }
    size_t es = cr_dtype_size(t);
    double *xv = tu_dalloc(N * D);
    tu_fill_uniform(xv, N * D, -1.5, 1.5, 17);
    *x = malloc(N * D * es), *y = calloc(N * K, es);
    assert_non_null(*x), assert_non_null(*y);
    for (size_t i = 0; i < N * D; i++) {
        if (t == CR_F32) ((float *)*x)[i] = (float)xv[i];
        else ((double *)*x)[i] = xv[i];
    }
    for (size_t i = 0; i < N; i++) {
        if (t == CR_F32) ((float *)*y)[i * K + (i * 3) % K] = 1;
        else ((double *)*y)[i * K + (i * 3) % K] = 1;
    }
    free(xv);
    return net;
}

static double getv(cr_dtype t, const void *p, size_t i) {
    return t == CR_F32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
}

/* The logits of example i in plain float64 loops, the BN written out here. */
static void plain_logits(const cr_net *net64, const double *x, double *out) {
    double a[16], r[16];
    memcpy(a, x, D * sizeof *a);
    for (int l = 0; l < cr_net_n_layers(net64); l++) {
        size_t din = cr_net_width(net64, l), dout = cr_net_width(net64, l + 1);
        const double *w = (const double *)cr_net_params_const(net64) + cr_net_weight_offset(net64, l);
        const double *b = (const double *)cr_net_params_const(net64) + cr_net_bias_offset(net64, l);
        for (size_t k = 0; k < dout; k++) {
            double s = b[k];
            for (size_t j = 0; j < din; j++) s += a[j] * w[j * dout + k];
            r[k] = s;
        }
        if (cr_net_affine_form(net64, l + 1) == CR_AFFINE_BATCHNORM) {
            double mu[16], var[16], g[16], be[16], eps;
            cr_affine_form f;
            assert_int_equal(cr_net_get_affine(net64, l + 1, &f, mu, var, g, be, &eps), CR_OK);
            for (size_t k = 0; k < dout; k++) r[k] = (r[k] - mu[k]) / sqrt(var[k] + eps) * g[k] + be[k];
        }
        for (size_t k = 0; k < dout; k++)
            a[k] = l + 1 == cr_net_n_layers(net64) ? r[k]
                   : cr_net_activation(net64, l) == CR_ACT_TANH ? tanh(r[k]) : (r[k] > 0 ? r[k] : 0);
    }
    memcpy(out, a, K * sizeof *out);
}

static void test_forward_as_stated(void **state) {
    (void)state;
    for (int t = 0; t < 2; t++) {
        cr_dtype dt = t ? CR_F64 : CR_F32;
        void *x, *y;
        cr_net *net = bn_net(dt, 1, &x, &y), *n64 = NULL;
        assert_int_equal(cr_net_convert(net, CR_F64, &n64), CR_OK);
        cr_tape *tape = NULL;
        assert_int_equal(cr_tape_create(net, N, &tape), CR_OK);
        assert_int_equal(dt == CR_F32 ? cr_net_forward_f32(net, tape, N, x)
                                      : cr_net_forward_f64(net, tape, N, x),
                         CR_OK);
        double worst = 0, big = 0;
        for (size_t i = 0; i < N; i++) {
            double xi[D], ref[K];
            for (size_t j = 0; j < D; j++) xi[j] = getv(dt, x, i * D + j);
            plain_logits(n64, xi, ref);
            for (size_t k = 0; k < K; k++) {
                double v = getv(dt, cr_tape_pre(tape, 2), i * K + k);
                worst = fmax(worst, fabs(v - ref[k]));
                big = fmax(big, fabs(ref[k]));
            }
        }
        printf("  %s: logits vs plain loops with the BN written out: %.2e relative\n",
               cr_dtype_name(dt), worst / big);
        assert_true(worst / big <= (t ? 1e-13 : 1e-5));
        assert_true(big > 0.1);
        cr_tape_free(tape);
        cr_net_free(net);
        cr_net_free(n64);
        free(x), free(y);
    }
}

static void assert_all_pass(const cr_check_report *rep, const char *what) {
    for (size_t i = 0; i < rep->n; i++)
        if (!rep->items[i].pass)
            print_error("%s: FAIL layer %d (%s) %s: err %.3g > tol %.3g\n", what, rep->items[i].layer,
                        rep->items[i].op, rep->items[i].what, rep->items[i].max_err, rep->items[i].tol);
    assert_int_equal(rep->failures, 0);
}

static void test_gradcheck(void **state) {
    (void)state;
    for (int t = 0; t < 2; t++)
        for (int last = 0; last < 2; last++) {
            cr_dtype dt = t ? CR_F64 : CR_F32;
            void *x, *y;
            cr_net *net = bn_net(dt, last, &x, &y);
            cr_check_report rep;
            cr_check_report_init(&rep);
            assert_int_equal(cr_check_net(net, N, x, y, NULL, &rep), CR_OK);
            assert_all_pass(&rep, cr_dtype_name(dt));
            int bn_ops = 0, grads = 0;
            for (size_t i = 0; i < rep.n; i++) {
                bn_ops += !strcmp(rep.items[i].op, "batchnorm");
                grads += rep.items[i].kind == CR_CHECK_INPUT_GRAD && !rep.items[i].trivial;
            }
            printf("  %s, BN after layer 1%s: %zu checks pass, %d of the batchnorm ops\n",
                   cr_dtype_name(dt), last ? " and 3" : "", rep.n, bn_ops);
            assert_int_equal(cr_check_net_op_count(net), 3 * 2 + 1 + last);
            assert_true(bn_ops >= 4 * (1 + last)); /* Jacobian, VJP, JVP, adjoint per link */
            assert_true(grads > 0);
            cr_check_report_free(&rep);
            cr_net_free(net);
            free(x), free(y);
        }
}

/* ------------------------------------------------------------ planted faults */

static int g_fault;
static const char *const fault_names[] = {"none", "γ dropped", "ε dropped", "γ/(v + ε), no √",
                                          "no BN step at all"};
#define PLANTED(T, SQRT)                                                                     \
    static void planted_##T(const cr_affine_##T *a, size_t n, size_t d, const T##_real *g,  \
                            T##_real *out) {                                                 \
        for (size_t i = 0; i < n; i++)                                                       \
            for (size_t j = 0; j < d; j++) {                                                 \
                T##_real v = g[i * d + j], q = a->q[j] + a->eps;                             \
                out[i * d + j] = g_fault == 1   ? v / SQRT(q)                                \
                                 : g_fault == 2 ? v / SQRT(a->q[j]) * a->s[j]                \
                                 : g_fault == 3 ? v / q * a->s[j]                            \
                                 : g_fault == 4 ? v                                          \
                                                : v / SQRT(q) * a->s[j];                     \
            }                                                                                \
    }
typedef float f32_real;
typedef double f64_real;
PLANTED(f32, sqrtf)
PLANTED(f64, sqrt)

static void test_planted_faults(void **state) {
    (void)state;
    int planted = 0, caught = 0;
    for (int t = 0; t < 2; t++)
        for (int fault = 0; fault < 5; fault++) {
            cr_dtype dt = t ? CR_F64 : CR_F32;
            void *x, *y;
            cr_net *net = bn_net(dt, 1, &x, &y);
            g_fault = fault;
            if (dt == CR_F32) cr_affine_replace_vjp_f32(planted_f32);
            else cr_affine_replace_vjp_f64(planted_f64);
            cr_check_report rep;
            cr_check_report_init(&rep);
            cr_status st = cr_check_net(net, N, x, y, NULL, &rep);
            cr_affine_replace_vjp_f32(NULL);
            cr_affine_replace_vjp_f64(NULL);
            assert_int_equal(st, CR_OK);
            int net_fail = 0, op_fail = 0;
            const char *first = NULL;
            for (size_t i = 0; i < rep.n; i++) /* the op check names the link */
                op_fail |= !rep.items[i].pass && rep.items[i].kind == CR_CHECK_VJP &&
                           !strcmp(rep.items[i].op, "batchnorm");
            for (size_t i = 0; i < rep.n; i++) {
                cr_check_kind k = rep.items[i].kind;
                if (!rep.items[i].pass && (k == CR_CHECK_INPUT_GRAD || k == CR_CHECK_BACKWARD_DX ||
                                           k == CR_CHECK_INPUT_JACOBIAN ||
                                           k == CR_CHECK_PARAM_GRAD || k == CR_CHECK_NET_ADJOINT)) {
                    net_fail = 1;
                    if (!first) first = cr_check_kind_name(k);
                }
            }
            printf("  %s, planted %-18s -> %s%s%s\n", cr_dtype_name(dt), fault_names[fault],
                   net_fail ? "FAIL at " : "pass", net_fail ? first : "",
                   op_fail ? ", and the batchnorm op's VJP check" : "");
            if (fault == 0) {
                assert_false(net_fail || op_fail); /* the planted copy of the right VJP passes */
                assert_int_equal(rep.failures, 0);
            } else {
                planted++;
                caught += net_fail && op_fail;
                assert_true(net_fail);
                assert_true(op_fail); /* and named: the batchnorm op's VJP check fails */
            }
            cr_check_report_free(&rep);
            cr_net_free(net);
            free(x), free(y);
        }
    assert_int_equal(caught, planted);
    assert_int_equal(planted, 8);
}

/* ------------------------------------------------------------ malformed links */

static void test_malformed(void **state) {
    (void)state;
    size_t dims[3] = {3, 4, 2};
    cr_activation act = CR_ACT_RELU;
    for (int t = 0; t < 2; t++) {
        cr_net *net = NULL;
        assert_int_equal(cr_net_create(&net, t ? CR_F64 : CR_F32, 2, dims, &act), CR_OK);
        double mu[4] = {0, 0.5, -1, 2}, var[4] = {1, 2, 0.5, 1}, g[4] = {1, 1, -1, 2},
               b[4] = {0, 0, 0, 1};
        assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mu, var, g, b, 1e-5), CR_OK);
        double neg[4] = {1, -0.5, 1, 1}, nan_[4] = {1, NAN, 1, 1};
        assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mu, neg, g, b, 1e-5),
                         CR_ERR_ARG); /* var + eps <= 0 */
        assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mu, var, nan_, b, 1e-5),
                         CR_ERR_ARG);
        assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mu, var, g, b, -1e-5),
                         CR_ERR_ARG);
        assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, mu, var, g, b, NAN),
                         CR_ERR_ARG);
        /* the refused calls left the link as it was */
        assert_int_equal(cr_net_affine_form(net, 1), CR_AFFINE_BATCHNORM);
        cr_net_free(net);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_as_stated),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_planted_faults),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
