/*
 * test_jacobian — full input Jacobians and the network JVP (issue 4).
 *
 *   - rev, fwd and closed give the same K x D Jacobians (float64, 1e-10 relative),
 *     of the logits and of the probabilities, for several depths, activations and
 *     edge shapes (D = 1, H = 1, K = 2, N = 1), and match central finite differences;
 *   - they equal cr_net_input_jacobian_chain (explicit per-op Jacobian product);
 *   - auto picks rev when K < D and fwd otherwise;
 *   - the network JVP equals finite differences along v and J v;
 *   - float32 agrees with float64.
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

static double worst_modes, worst_fd, worst_jvp, worst_f32;

static cr_net *make_net(int L, const size_t *dims, cr_activation act, uint64_t seed) {
    cr_activation acts[CR_MAX_LAYERS];
    for (int l = 0; l < CR_MAX_LAYERS; l++) acts[l] = act;
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, L, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, seed);
    /* non-zero biases so that nothing is accidentally symmetric */
    double *p = cr_net_params_f64(net);
    for (int l = 0; l < L; l++) tu_fill_uniform(p + cr_net_bias_offset(net, l), dims[l + 1], -0.5, 0.5, seed + 7 + (uint64_t)l);
    return net;
}

/* Output (logits or probs) of one example, for finite differences. */
static void output_of(const cr_net *net, cr_tape *tape, const double *x, int of_probs, double *out) {
    assert_int_equal(cr_net_forward_f64(net, tape, 1, x), CR_OK);
    size_t k = cr_net_output_dim(net);
    memcpy(out, of_probs ? cr_tape_prediction(tape) : cr_tape_logits(tape), k * sizeof(double));
}

static void check_case(int L, const size_t *dims, cr_activation act, size_t n, uint64_t seed) {
    cr_net *net = make_net(L, dims, act, seed);
    size_t d = dims[0], k = dims[L];
    double *x = malloc(n * d * sizeof(double));
    tu_fill_uniform(x, n * d, -1.5, 1.5, seed + 1);
    double *jr = malloc(n * k * d * sizeof(double)), *jf = malloc(n * k * d * sizeof(double));
    double *jc = malloc(n * k * d * sizeof(double)), *jch = malloc(k * d * sizeof(double));
    double *fd = malloc(k * d * sizeof(double)), *op = malloc(k * sizeof(double)),
           *om = malloc(k * sizeof(double)), *xp = malloc(d * sizeof(double));
    cr_tape *tape, *one;
    assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
    assert_int_equal(cr_tape_create(net, 1, &one), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    for (int probs = 0; probs <= 1; probs++) {
        assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, probs, CR_JAC_REV, jr), CR_OK);
        assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, probs, CR_JAC_FWD, jf), CR_OK);
        assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, probs, CR_JAC_CLOSED, jc), CR_OK);
        assert_true(tu_max_abs(jr, n * k * d) > 1e-6);
        double e1 = tu_max_rel_err(jf, jr, n * k * d), e2 = tu_max_rel_err(jc, jr, n * k * d);
        worst_modes = fmax(worst_modes, fmax(e1, e2));
        if (!(e1 <= 1e-10 && e2 <= 1e-10))
            fail_msg("L=%d D=%zu K=%zu n=%zu probs=%d: fwd vs rev %.3g, closed vs rev %.3g", L, d, k, n, probs, e1, e2);
        for (size_t i = 0; i < n; i++) {
            /* the explicit per-op Jacobian product of the core */
            assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, probs, jch), CR_OK);
            double e = tu_max_rel_err(jr + i * k * d, jch, k * d);
            worst_modes = fmax(worst_modes, e);
            assert_true(e <= 1e-10);
            /* central differences */
            for (size_t j = 0; j < d; j++) {
                memcpy(xp, x + i * d, d * sizeof(double));
                double h = 1e-6 * fmax(1.0, fabs(xp[j]));
                xp[j] += h;
                output_of(net, one, xp, probs, op);
                xp[j] -= 2 * h;
                output_of(net, one, xp, probs, om);
                for (size_t c = 0; c < k; c++) fd[c * d + j] = (op[c] - om[c]) / (2 * h);
            }
            double ef = tu_max_rel_err(jr + i * k * d, fd, k * d);
            worst_fd = fmax(worst_fd, ef);
            if (!(ef <= 1e-7)) fail_msg("FD: relative error %.3g", ef);
        }
    }
    cr_tape_free(tape);
    cr_tape_free(one);
    cr_net_free(net);
    free(x); free(jr); free(jf); free(jc); free(jch); free(fd); free(op); free(om); free(xp);
}

static void test_modes_agree(void **state) {
    (void)state;
    size_t seed_net[] = {12, 7, 4};
    check_case(2, seed_net, CR_ACT_SIGMOID, 5, 1);
    size_t deep[] = {9, 8, 6, 5, 3};
    check_case(4, deep, CR_ACT_TANH, 3, 2);
    check_case(4, deep, CR_ACT_RELU, 4, 3);
    size_t edge1[] = {1, 1, 2};
    check_case(2, edge1, CR_ACT_SIGMOID, 1, 4);
    size_t edge2[] = {3, 2};
    check_case(1, edge2, CR_ACT_SIGMOID, 2, 5);
    size_t wide_k[] = {3, 5, 6}; /* K > D: auto would pick fwd */
    check_case(2, wide_k, CR_ACT_SIGMOID, 3, 6);
    /* many examples: crosses the internal chunk boundaries of every mode */
    size_t big[] = {20, 9, 10};
    cr_net *net = make_net(2, big, CR_ACT_SIGMOID, 9);
    size_t n = 1100, d = 20, k = 10;
    double *x = malloc(n * d * sizeof(double)), *a = malloc(n * k * d * sizeof(double)),
           *b = malloc(n * k * d * sizeof(double));
    tu_fill_uniform(x, n * d, -1, 1, 10);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 1, CR_JAC_REV, a), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 1, CR_JAC_CLOSED, b), CR_OK);
    assert_true(tu_max_rel_err(b, a, n * k * d) <= 1e-10);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, 1, CR_JAC_FWD, b), CR_OK);
    assert_true(tu_max_rel_err(b, a, n * k * d) <= 1e-10);
    free(x); free(a); free(b);
    cr_net_free(net);
}

static void test_auto(void **state) {
    (void)state;
    assert_int_equal(cr_jac_mode_resolve(CR_JAC_AUTO, 10, 784), CR_JAC_REV);
    assert_int_equal(cr_jac_mode_resolve(CR_JAC_AUTO, 10, 3), CR_JAC_FWD);
    assert_int_equal(cr_jac_mode_resolve(CR_JAC_CLOSED, 10, 3), CR_JAC_CLOSED);
    cr_jac_mode m;
    assert_true(cr_jac_mode_parse("closed", &m) == CR_OK && m == CR_JAC_CLOSED);
    assert_false(cr_jac_mode_parse("sideways", &m) == CR_OK);
}

static void test_jvp(void **state) {
    (void)state;
    size_t dims[] = {7, 6, 5, 4};
    cr_net *net = make_net(3, dims, CR_ACT_TANH, 21);
    size_t n = 4, d = 7, k = 4;
    double x[4 * 7], v[4 * 7], ld[4 * 4], pd[4 * 4], jac[4 * 4 * 7], ref[4 * 4], xp[7], op[4], om[4];
    tu_fill_uniform(x, n * d, -1, 1, 22);
    tu_fill_uniform(v, n * d, -1, 1, 23);
    cr_tape *tape, *one;
    assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
    assert_int_equal(cr_tape_create(net, 1, &one), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    assert_int_equal(cr_net_jvp_f64(net, tape, v, ld, pd), CR_OK);
    for (int probs = 0; probs <= 1; probs++) {
        const double *got = probs ? pd : ld;
        assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, probs, CR_JAC_REV, jac), CR_OK);
        for (size_t i = 0; i < n; i++) /* J v */
            for (size_t c = 0; c < k; c++) {
                double s = 0;
                for (size_t j = 0; j < d; j++) s += jac[(i * k + c) * d + j] * v[i * d + j];
                ref[i * k + c] = s;
            }
        double e = tu_max_rel_err(got, ref, n * k);
        worst_jvp = fmax(worst_jvp, e);
        assert_true(e <= 1e-12);
        for (size_t i = 0; i < n; i++) { /* (f(x + h v) - f(x - h v)) / 2h */
            double h = 1e-6;
            for (size_t j = 0; j < d; j++) xp[j] = x[i * d + j] + h * v[i * d + j];
            output_of(net, one, xp, probs, op);
            for (size_t j = 0; j < d; j++) xp[j] = x[i * d + j] - h * v[i * d + j];
            output_of(net, one, xp, probs, om);
            for (size_t c = 0; c < k; c++) ref[c] = (op[c] - om[c]) / (2 * h);
            double ef = tu_max_rel_err(got + i * k, ref, k);
            worst_jvp = fmax(worst_jvp, ef);
            if (!(ef <= 1e-7)) fail_msg("JVP vs FD: %.3g", ef);
        }
    }
    cr_tape_free(tape);
    cr_tape_free(one);
    cr_net_free(net);
}

/* float32 against float64, every mode, logits and probabilities; the second
   net has the seed network's shape, where the closed form of float32 runs the
   packed kernel (kernels/abt.h) with streamed stores and the zero-row-sum row. */
static void test_f32(void **state) {
    (void)state;
    static const size_t shapes[2][3] = {{30, 16, 10}, {784, 128, 10}};
    static const size_t counts[2] = {6, 37};
    for (int sh = 0; sh < 2; sh++) {
        const size_t *dims = shapes[sh], n = counts[sh], d = dims[0], k = dims[2];
        cr_net *net = make_net(2, dims, CR_ACT_SIGMOID, 31), *n32;
        assert_int_equal(cr_net_convert(net, CR_F32, &n32), CR_OK);
        double *x = tu_dalloc(n * d), *j64 = tu_dalloc(n * k * d), *j32d = tu_dalloc(n * k * d);
        float *x32 = tu_falloc(n * d), *j32 = tu_falloc(n * k * d);
        tu_fill_uniform(x, n * d, 0, 1, 32);
        for (size_t i = 0; i < n * d; i++) x32[i] = (float)x[i];
        for (int probs = 0; probs <= 1; probs++)
            for (int mode = CR_JAC_REV; mode <= CR_JAC_CLOSED; mode++) {
                if (mode == CR_JAC_FWD && d > 100) continue; /* D JVPs: slow, and tested above */
                assert_int_equal(cr_net_input_jacobian_f64(NULL, net, n, x, probs, (cr_jac_mode)mode, j64), CR_OK);
                assert_int_equal(cr_net_input_jacobian_f32(NULL, n32, n, x32, probs, (cr_jac_mode)mode, j32), CR_OK);
                tu_check_nontrivial(j64, n * k * d, "float64 jacobian");
                for (size_t i = 0; i < n; i++) { /* per example, relative to its largest entry */
                    for (size_t q = 0; q < k * d; q++) j32d[i * k * d + q] = j32[i * k * d + q];
                    double e = tu_max_rel_err(j32d + i * k * d, j64 + i * k * d, k * d);
                    worst_f32 = fmax(worst_f32, e);
                    if (!(e <= 1e-5))
                        fail_msg("D=%zu probs=%d mode %s example %zu: float32 error %.3g", d, probs,
                                 cr_jac_mode_name((cr_jac_mode)mode), i, e);
                }
            }
        free(x);
        free(j64);
        free(j32d);
        free(x32);
        free(j32);
        cr_net_free(net);
        cr_net_free(n32);
    }
}

static void test_bad_args(void **state) {
    (void)state;
    size_t dims[] = {3, 2};
    cr_net *net = make_net(1, dims, CR_ACT_SIGMOID, 1);
    double x[3], jac[6];
    float jf[6];
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, 0, x, 0, CR_JAC_REV, jac), CR_ERR_ARG);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, 1, NULL, 0, CR_JAC_REV, jac), CR_ERR_ARG);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, net, 1, (float *)x, 0, CR_JAC_REV, jf), CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, 1, x, 0, (cr_jac_mode)9, jac), CR_ERR_ARG);
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_agree), cmocka_unit_test(test_auto),
        cmocka_unit_test(test_jvp),         cmocka_unit_test(test_f32),
        cmocka_unit_test(test_bad_args),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("worst relative errors: modes %.2e, finite differences %.2e, jvp %.2e, f32 %.2e\n",
           worst_modes, worst_fd, worst_jvp, worst_f32);
    return rc;
}
