/*
 * test_act_table — the activation op table (src/ops/act_table.h).
 *
 * For every row of the table, in float64, on seeded points away from kinks:
 *   - deriv a'(r) against central differences of forward, deriv2 a''(r)
 *     against central differences of deriv (not trivially zero where the
 *     activation has curvature);
 *   - jvp, vjp and the explicit Jacobian are diag(a'(r)) applied;
 *   - the running float32 row (with its fast backends) against the float64
 *     reference.
 * And the test hook: a planted wrong VJP or JVP installed with cr_act_replace
 * is what every walk then runs (the input gradient, backward, the Jacobian
 * modes, training), and cr_act_restore brings back the exact numbers.
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
#include "ops/act_table.h"
#include "ops/relax.h"
#include "testutil.h"

enum { N = 64 };

/* r uniform in ±[0.05, 3] with random sign: away from ReLU's kink at 0. */
static void points(double *r, uint64_t seed) {
    double u[N], s[N];
    tu_fill_uniform(u, N, 0.05, 3.0, seed);
    tu_fill_uniform(s, N, -1, 1, seed + 1);
    for (int i = 0; i < N; i++) r[i] = s[i] < 0 ? -u[i] : u[i];
}

static void test_rows_against_differences(void **state) {
    (void)state;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_act_entry *e = cr_act_reference((cr_activation)a);
        assert_non_null(e);
        assert_int_equal(e->act, a);
        assert_string_equal(cr_activation_name((cr_activation)a), e->name);
        const cr_act_ops_f64 *o = e->f64;
        double r[N], h[N], d[N], d2[N], fd[N], fd2[N], rp[N], rm[N], hp[N], hm[N];
        points(r, 10 + (uint64_t)a);
        o->forward(N, r, h);
        o->deriv(N, r, h, d);
        o->deriv2(N, r, h, d2);
        for (int i = 0; i < N; i++) {
            double step = 1e-6 * fmax(1, fabs(r[i]));
            rp[i] = r[i] + step;
            rm[i] = r[i] - step;
        }
        o->forward(N, rp, hp);
        o->forward(N, rm, hm);
        for (int i = 0; i < N; i++) fd[i] = (hp[i] - hm[i]) / (rp[i] - rm[i]);
        tu_check_nontrivial(d, N, e->name);
        double worst = 0;
        tu_check_close(d, fd, N, 1e-7, &worst, e->name);
        /* a'' by differences of a' (a' evaluated at r ± step, with h there) */
        double dp[N], dm[N];
        o->deriv(N, rp, hp, dp);
        o->deriv(N, rm, hm, dm);
        for (int i = 0; i < N; i++) fd2[i] = (dp[i] - dm[i]) / (rp[i] - rm[i]);
        double scale = tu_max_abs(fd2, N);
        for (int i = 0; i < N; i++) assert_true(fabs(d2[i] - fd2[i]) <= 1e-6 * fmax(1, scale));
        /* vjp, jvp, jacobian = diag(a') */
        double g[N], out[N], jac[16 * 16];
        tu_fill_uniform(g, N, -1, 1, 99);
        o->vjp(N, r, h, g, out);
        for (int i = 0; i < N; i++) assert_true(out[i] == g[i] * d[i] || fabs(out[i] - g[i] * d[i]) <= 1e-15);
        o->jvp(N, r, h, g, out);
        for (int i = 0; i < N; i++) assert_true(fabs(out[i] - g[i] * d[i]) <= 1e-15);
        o->jacobian(16, r, h, jac);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) assert_true(jac[i * 16 + j] == (i == j ? jac[i * 17] : 0));
        for (int i = 0; i < 16; i++) assert_true(fabs(jac[i * 17] - d[i]) <= 1e-15);
    }
}

static void test_running_f32_matches_reference(void **state) {
    (void)state;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_act_ops_f32 *o = cr_act_running((cr_activation)a)->f32;
        const cr_act_ops_f64 *ref = cr_act_reference((cr_activation)a)->f64;
        assert_ptr_equal(o, cr_act_f32((cr_activation)a));
        double r[N], h[N], g[N], gr[N], d[N];
        float rf[N], hf[N], gf[N], grf[N], df[N];
        points(r, 40 + (uint64_t)a);
        tu_fill_uniform(g, N, -1, 1, 41);
        for (int i = 0; i < N; i++) rf[i] = (float)r[i], gf[i] = (float)g[i];
        ref->forward(N, r, h);
        ref->vjp(N, r, h, g, gr);
        ref->deriv(N, r, h, d);
        o->forward(N, rf, hf);
        o->vjp(N, rf, hf, gf, grf);
        o->deriv(N, rf, hf, df);
        for (int i = 0; i < N; i++) {
            assert_true(fabs(hf[i] - h[i]) <= 1e-6 * fmax(1, fabs(h[i])));
            assert_true(fabs(grf[i] - gr[i]) <= 1e-6);
            assert_true(fabs(df[i] - d[i]) <= 1e-6);
        }
    }
    /* the float32 sigmoid runs its vectorised kernels, not the op file's loop */
    assert_ptr_not_equal(cr_act_f32(CR_ACT_SIGMOID), &cr_act_reference_f32[CR_ACT_SIGMOID]);
    assert_ptr_not_equal(cr_act_f32(CR_ACT_SIGMOID)->vjp, cr_sigmoid_vjp_f32);
    assert_ptr_equal(cr_act_reference(CR_ACT_SIGMOID)->f32->vjp, cr_sigmoid_vjp_f32);
}

/* Planted faults: a VJP missing its factor h (g ∘ (1 − h)) and a JVP with the wrong sign. */
static void bad_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * (1 - h[i]);
}
static void bad_vjp_f64(size_t count, const double *r, const double *h, const double *g,
                        double *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * (1 - h[i]);
}
static void bad_jvp_f64(size_t count, const double *r, const double *h, const double *rd,
                        double *hd) {
    (void)r;
    for (size_t i = 0; i < count; i++) hd[i] = -rd[i] * h[i] * (1 - h[i]);
}

/* not fmax(m, ...): GCC 12 for aarch64 crashes vectorising an fmax reduction over
   float values widened to double (internal compiler error in vect_transform_reduction) */
static double max_diff_f32(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
    }
    return m;
}
static double max_diff_f64(const double *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

static void test_hook_f32(void **state) {
    (void)state;
    const size_t dims[] = {12, 9, 7, 4}, n = 6, D = 12, K = 4;
    cr_activation act[] = {CR_ACT_SIGMOID, CR_ACT_SIGMOID};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F32, 3, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 3);
    double xd[6 * 12];
    tu_fill_uniform(xd, n * D, -1, 1, 5);
    float x[6 * 12], y[6 * 4] = {0}, dx0[6 * 12], dx1[6 * 12], dx2[6 * 12];
    float jac0[6 * 4 * 12], jac1[6 * 4 * 12];
    for (size_t i = 0; i < n * D; i++) x[i] = (float)xd[i];
    for (size_t i = 0; i < n; i++) y[i * K + i % K] = 1;
    assert_int_equal(cr_net_input_grad_f32(NULL, net, n, x, y, dx0, NULL), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, net, n, x, 1, CR_JAC_REV, jac0), CR_OK);
    float zero[6 * 12] = {0};
    assert_true(max_diff_f32(dx0, zero, n * D) > 1e-4); /* not trivially zero */

    cr_act_ops_f32 bad = *cr_act_running(CR_ACT_SIGMOID)->f32;
    bad.vjp = bad_vjp_f32;
    assert_int_equal(cr_act_replace(CR_ACT_SIGMOID, CR_F32, &bad), CR_OK);
    assert_ptr_equal(cr_act_f32(CR_ACT_SIGMOID), &bad);
    { /* the public cr_activation_* functions run the same row */
        float r[3] = {-1, 0.5f, 2}, h[3], g[3] = {1, 1, 1}, gr[3], want[3];
        cr_activation_forward_f32(CR_ACT_SIGMOID, 3, r, h);
        cr_activation_vjp_f32(CR_ACT_SIGMOID, 3, r, h, g, gr);
        bad_vjp_f32(3, r, h, g, want);
        assert_memory_equal(gr, want, sizeof gr);
    }
    assert_int_equal(cr_net_input_grad_f32(NULL, net, n, x, y, dx1, NULL), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, net, n, x, 1, CR_JAC_REV, jac1), CR_OK);
    assert_true(max_diff_f32(dx0, dx1, n * D) > 1e-3);
    assert_true(max_diff_f32(jac0, jac1, n * K * D) > 1e-3);
    /* training runs the planted VJP too: its update differs */
    cr_net *a = NULL, *b = NULL;
    assert_int_equal(cr_net_convert(net, CR_F32, &a), CR_OK);
    assert_int_equal(cr_net_convert(net, CR_F32, &b), CR_OK);
    cr_optim_config cfg = cr_optim_config_default();
    cr_optim *opt;
    cr_train_ws *ws;
    cr_label labels[6];
    for (size_t i = 0; i < n; i++) labels[i] = (cr_label)(i % K);
    assert_int_equal(cr_optim_create(a, &cfg, &opt), CR_OK);
    assert_int_equal(cr_train_ws_create(a, n, n, &ws), CR_OK);
    assert_int_equal(cr_train_step_f32(NULL, a, opt, ws, n, x, labels, NULL, NULL), CR_OK);
    cr_act_restore(CR_ACT_SIGMOID, CR_F32);
    opt->step = 0;
    assert_int_equal(cr_train_step_f32(NULL, b, opt, ws, n, x, labels, NULL, NULL), CR_OK);
    assert_true(max_diff_f32(cr_net_params_f32(a), cr_net_params_f32(b), cr_net_n_params(a)) > 1e-6);

    /* restored: the numbers of the selected backend, exactly */
    assert_ptr_equal(cr_act_f32(CR_ACT_SIGMOID), cr_act_running(CR_ACT_SIGMOID)->f32);
    assert_int_equal(cr_net_input_grad_f32(NULL, net, n, x, y, dx2, NULL), CR_OK);
    assert_memory_equal(dx0, dx2, sizeof dx0);
    assert_ptr_not_equal(cr_act_f32(CR_ACT_SIGMOID), &cr_act_reference_f32[CR_ACT_SIGMOID]);

    /* an incomplete row is refused */
    bad.deriv2 = NULL;
    assert_int_equal(cr_act_replace(CR_ACT_SIGMOID, CR_F32, &bad), CR_ERR_ARG);
    assert_int_equal(cr_act_replace(CR_ACT_COUNT, CR_F32, cr_act_f32(CR_ACT_TANH)), CR_ERR_ARG);
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    cr_net_free(a);
    cr_net_free(b);
    cr_net_free(net);
}

static void test_hook_f64(void **state) {
    (void)state;
    const size_t dims[] = {5, 6, 3}, n = 4, D = 5, K = 3;
    cr_activation act[] = {CR_ACT_SIGMOID};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 4);
    double x[4 * 5], y[4 * 3] = {0}, dx0[20], dx1[20], jf0[4 * 3 * 5], jf1[4 * 3 * 5];
    double jc0[4 * 3 * 5], jc1[4 * 3 * 5];
    tu_fill_uniform(x, n * D, -1, 1, 6);
    for (size_t i = 0; i < n; i++) y[i * K + i % K] = 1;
    cr_tape *tape;
    assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx0, NULL), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 0, CR_JAC_FWD, jf0), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 0, CR_JAC_CLOSED, jc0), CR_OK);

    cr_act_ops_f64 bad = *cr_act_running(CR_ACT_SIGMOID)->f64;
    bad.vjp = bad_vjp_f64;
    bad.jvp = bad_jvp_f64;
    assert_int_equal(cr_act_replace(CR_ACT_SIGMOID, CR_F64, &bad), CR_OK);
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx1, NULL), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 0, CR_JAC_FWD, jf1), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 0, CR_JAC_CLOSED, jc1), CR_OK);
    cr_act_restore(CR_ACT_SIGMOID, CR_F64);
    assert_true(max_diff_f64(dx0, dx1, n * D) > 1e-4);
    assert_true(max_diff_f64(jf0, jf1, n * K * D) > 1e-4);
    /* the closed form uses deriv, which was left alone */
    assert_memory_equal(jc0, jc1, sizeof jc0);
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx1, NULL), CR_OK);
    assert_memory_equal(dx0, dx1, sizeof dx0);
    cr_tape_free(tape);
    cr_net_free(net);
}

/* Every row's twelve functions are declared in include/chainrule_typed.h (this file
   sees only the public prototypes of the op files: a row without them does not
   compile here) and are the functions of its reference row. */
static void test_every_row_public(void **state) {
    (void)state;
/* the bound relaxation each row has (ops/relax.h): none for gelu and silu */
#define ROW_RELAX(e)                                                                       \
    ((e) == CR_ACT_RELU         ? &cr_relu_relax                                           \
     : (e) == CR_ACT_SIGMOID    ? &cr_sigmoid_relax                                        \
     : (e) == CR_ACT_TANH       ? &cr_tanh_relax                                           \
     : (e) == CR_ACT_SOFTPLUS   ? &cr_softplus_relax                                       \
     : (e) == CR_ACT_LEAKY_RELU ? &cr_leaky_relu_relax                                     \
                                : NULL)
#define CHECK_ROW(e, name, ...)                                                            \
    do {                                                                                   \
        const cr_act_entry *r = cr_act_reference(e);                                      \
        assert_ptr_equal(r->f32->forward, cr_##name##_forward_f32);                        \
        assert_ptr_equal(r->f32->deriv, cr_##name##_deriv_f32);                            \
        assert_ptr_equal(r->f32->vjp, cr_##name##_vjp_f32);                                \
        assert_ptr_equal(r->f32->jvp, cr_##name##_jvp_f32);                                \
        assert_ptr_equal(r->f32->jacobian, cr_##name##_jacobian_f32);                      \
        assert_ptr_equal(r->f32->deriv2, cr_##name##_deriv2_f32);                          \
        assert_ptr_equal(r->f64->forward, cr_##name##_forward_f64);                        \
        assert_ptr_equal(r->f64->deriv, cr_##name##_deriv_f64);                            \
        assert_ptr_equal(r->f64->vjp, cr_##name##_vjp_f64);                                \
        assert_ptr_equal(r->f64->jvp, cr_##name##_jvp_f64);                                \
        assert_ptr_equal(r->f64->jacobian, cr_##name##_jacobian_f64);                      \
        assert_ptr_equal(r->f64->deriv2, cr_##name##_deriv2_f64);                          \
        assert_ptr_equal(r->relax, ROW_RELAX(e)); /* certification's slot: the op file's */  \
        assert_ptr_equal(cr_act_running(e)->relax, r->relax);                              \
    } while (0);
    CR_ACT_ROWS(CHECK_ROW)
#undef CHECK_ROW
#undef ROW_RELAX
}

/* What a user sees of a row: the name, the ONNX form, explain's notation, the
   list of names that help and messages print. */
static void test_info(void **state) {
    (void)state;
    char all[512];
    size_t len = cr_activation_list_names(all, sizeof all, ", ", " or ");
    assert_int_equal(len, strlen(all));
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
        assert_non_null(in);
        assert_string_equal(in->name, cr_activation_name((cr_activation)a));
        assert_non_null(strstr(all, in->name));
        assert_true(in->init == CR_INIT_XAVIER || in->init == CR_INIT_HE);
        assert_true(in->onnx_op || in->onnx_pattern != CR_ACT_ONNX_NODE); /* ONNX can read it */
        assert_non_null(in->symbol_text);
        assert_non_null(in->symbol_tex);
        assert_non_null(in->deriv_text); /* every row today has explain's formula */
        assert_non_null(in->deriv_tex);
        assert_true(strstr(in->deriv_text, "{r}") || strstr(in->deriv_text, "{h}"));
    }
    assert_null(cr_activation_info_get(CR_ACT_COUNT));
    char small[8]; /* cut, never overflowed; the length still the whole list's */
    assert_int_equal(cr_activation_list_names(small, sizeof small, ", ", " or "), len);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_string_equal(cr_activation_name(CR_ACT_SIGMOID), "sigmoid");
    cr_activation_list_names(all, sizeof all, ", ", ", ");
    assert_int_equal(strncmp(all, "sigmoid, tanh, relu, gelu", 25), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_against_differences),
        cmocka_unit_test(test_running_f32_matches_reference),
        cmocka_unit_test(test_hook_f32),
        cmocka_unit_test(test_hook_f64),
        cmocka_unit_test(test_every_row_public),
        cmocka_unit_test(test_info),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
