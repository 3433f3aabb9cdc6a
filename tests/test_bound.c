/*
 * test_bound — cr_net_bound (include/chainrule_certify.h, src/net/bound*.c):
 *
 *   - golden toy (note §7.1, auto_LiRPA's examples/simple/toy.py): W1 = [[1,−1],[2,−1]]
 *     (as torch's out x in; stored din x dout here), W2 = [[1,−1]], no biases, box
 *     [−1,2]x[−2,1]: IBP [−6,4], CROWN [−3,3], to 1e-12;
 *   - soundness by sampling: random nets of relu, sigmoid, tanh, softplus, leaky-relu (depth 1–4, width 2–32,
 *     link 0 and a BatchNorm link in some, an output activation in some), 10^4 sampled
 *     points + the box's corners (D ≤ 10) evaluated in long double never beat a bound;
 *     IBP, CROWN-IBP and CROWN; against vacuous passes, CROWN closes at least half of
 *     IBP's gap to the sampled range on small boxes (median over nets) and is never
 *     looser than IBP row by row;
 *   - the relaxation lines hold on their interval (dense long-double sampling) and are
 *     real lines (not the constant fallback) on 3000 random intervals each;
 *   - planted unsound relaxations, each caught by the sampling test: a wrong ReLU
 *     intercept, the sign selection inverted, a chord in the wrong case (sigmoid), the
 *     tangent point d_L + 0.3, a missing bias term, a missing link constant;
 *   - the rounding slack is necessary: weights ±1e8 and 1 whose sums cancel; the exact
 *     extremes are known by hand (below); without the slack (test-only switch) the bound is
 *     wrong, with it sound;
 *   - bad input: GELU and SiLU refused (CR_ERR_ARG, hidden or output), an empty box, non-finite input, overflowing
 *     weights (CR_ERR_NONFINITE); a float32 net is bounded as its exact widening.
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
#include "chainrule_certify.h"
#include "net/bound.h"
#include "ops/act_table.h"
#include "ops/relax.h"
#include "testutil.h"

#define CR_TEST_CROWN 1

/* ---------------------------------------------------------------- an independent evaluator */

static long double ld_act(cr_activation a, long double x) {
    switch (a) {
    case CR_ACT_SIGMOID:
        return 1.0L / (1.0L + expl(-x));
    case CR_ACT_TANH:
        return tanhl(x);
    case CR_ACT_SOFTPLUS:
        return x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x));
    case CR_ACT_LEAKY_RELU:
        return x > 0 ? x : (long double)0.01 * x;
    default:
        return x > 0 ? x : 0;
    }
}

static void ld_link(const cr_net *net, int k, size_t d, long double *v) {
    cr_affine_form f;
    double p[64], q[64], s[64], t[64], eps;
    if (cr_net_get_affine(net, k, &f, p, q, s, t, &eps) != CR_OK || f == CR_AFFINE_NONE) return;
    for (size_t j = 0; j < d; j++) {
        switch (f) {
        case CR_AFFINE_SUB_DIV:
            v[j] = (v[j] - p[j]) / q[j];
            break;
        case CR_AFFINE_SUB_MUL:
            v[j] = (v[j] - p[j]) * q[j];
            break;
        case CR_AFFINE_MUL_ADD:
            v[j] = v[j] * p[j] + q[j];
            break;
        case CR_AFFINE_BATCHNORM:
            v[j] = (v[j] - p[j]) / sqrtl((long double)q[j] + eps) * s[j] + t[j];
            break;
        default:
            break;
        }
    }
}

/* rows C·o at x, in long double (float64 nets only) */
static void ld_rows(const cr_net *net, const double *x, size_t m, const double *c, long double *out) {
    long double a[64], b[64];
    const int L = cr_net_n_layers(net);
    const double *P = cr_net_params_const(net);
    for (size_t j = 0; j < cr_net_width(net, 0); j++) a[j] = x[j];
    ld_link(net, 0, cr_net_width(net, 0), a);
    for (int l = 0; l < L; l++) {
        const size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        const double *w = P + cr_net_weight_offset(net, l), *bias = P + cr_net_bias_offset(net, l);
        for (size_t j = 0; j < dout; j++) {
            long double s = bias[j];
            for (size_t i = 0; i < din; i++) s += a[i] * (long double)w[i * dout + j];
            b[j] = s;
        }
        ld_link(net, l + 1, dout, b);
        for (size_t j = 0; j < dout; j++)
            a[j] = l + 1 < L ? ld_act(cr_net_activation(net, l), b[j]) : (cr_net_output_activation(net, NULL) ? ld_act(cr_net_activation(net, cr_net_n_layers(net) - 1), b[j]) : b[j]);
    }
    const size_t k = cr_net_width(net, L);
    for (size_t i = 0; i < m; i++) {
        long double s = 0;
        for (size_t q = 0; q < k; q++) s += (long double)c[i * k + q] * a[q];
        out[i] = s;
    }
}

/* ---------------------------------------------------------------- random nets */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double urand(void) { /* [0, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}
static double urange(double a, double b) { return a + (b - a) * urand(); }

typedef struct {
    cr_net *net;
    size_t d, k, m;
    double lo[64], hi[64], c[8 * 64];
} bcase;

static void make_case(bcase *bc, cr_activation act, int case_no, double box_width) {
    const int L = 1 + case_no % 4;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation acts[CR_MAX_LAYERS];
    dims[0] = 2 + (size_t)(urand() * 9); /* D ≤ 10: corners */
    for (int l = 1; l < L; l++) dims[l] = 2 + (size_t)(urand() * 31);
    dims[L] = 2 + (size_t)(urand() * 4);
    for (int l = 0; l + 1 < L; l++) acts[l] = act;
    assert_int_equal(cr_net_create(&bc->net, CR_F64, L, dims, acts), CR_OK);
    double *P = cr_net_params(bc->net);
    for (size_t i = 0; i < cr_net_n_params(bc->net); i++) P[i] = urange(-1, 1);
    if (case_no % 3 == 1) { /* link 0: (x − μ)/σ */
        double mu[64], sd[64];
        for (size_t j = 0; j < dims[0]; j++) {
            mu[j] = urange(-0.5, 0.5);
            sd[j] = urange(0.3, 2) * (urand() < 0.2 ? -1 : 1);
        }
        assert_int_equal(cr_net_set_input_affine(bc->net, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
    }
    if (case_no % 5 == 2 && L > 1) { /* BatchNorm after layer 0, a negative γ among them */
        double mean[64], var[64], g[64], beta[64];
        for (size_t j = 0; j < dims[1]; j++) {
            mean[j] = urange(-0.5, 0.5);
            var[j] = urange(0.2, 2);
            g[j] = urange(-2, 2);
            beta[j] = urange(-0.5, 0.5);
        }
        assert_int_equal(cr_net_set_affine(bc->net, 1, CR_AFFINE_BATCHNORM, mean, var, g, beta, 1e-5), CR_OK);
    }
    if (case_no % 7 == 3)
        assert_int_equal(cr_net_set_output(bc->net, 1, act, CR_HEAD_SQUARED_ERROR), CR_OK);
    bc->d = dims[0];
    bc->k = dims[L];
    for (size_t j = 0; j < bc->d; j++) {
        const double x0 = urange(-1, 1), e = box_width * urange(0.2, 1);
        bc->lo[j] = x0 - e;
        bc->hi[j] = x0 + e;
    }
    /* rows: each output and the margins o_0 − o_j */
    bc->m = 0;
    for (size_t q = 0; q < bc->k; q++, bc->m++)
        for (size_t r = 0; r < bc->k; r++) bc->c[bc->m * bc->k + r] = r == q;
    for (size_t q = 1; q < bc->k; q++, bc->m++)
        for (size_t r = 0; r < bc->k; r++) bc->c[bc->m * bc->k + r] = (r == 0) - (double)(r == q);
}

/* the sampled range of every row: 10^4 uniform points + the corners */
static void sampled_range(const bcase *bc, long double *smin, long double *smax) {
    long double v[64];
    double x[64];
    for (size_t i = 0; i < bc->m; i++) {
        smin[i] = INFINITY;
        smax[i] = -INFINITY;
    }
    const size_t corners = (size_t)1 << bc->d;
    for (size_t s = 0; s < 10000 + corners; s++) {
        for (size_t j = 0; j < bc->d; j++)
            x[j] = s < corners ? ((s >> j) & 1 ? bc->hi[j] : bc->lo[j]) : urange(bc->lo[j], bc->hi[j]);
        ld_rows(bc->net, x, bc->m, bc->c, v);
        for (size_t i = 0; i < bc->m; i++) {
            if (v[i] < smin[i]) smin[i] = v[i];
            if (v[i] > smax[i]) smax[i] = v[i];
        }
    }
}

/* Runs the sampling check of one method over many nets; returns the number of rows
   where a bound was beaten (0 for a sound method). ibp_gap/gap: the summed widths. */
static int sampling_violations(cr_bound_method method, cr_activation act, int cases, double box_width,
                               double *closed_median) {
    int bad = 0;
    double closed[512];
    size_t n_closed = 0;
    rng_state = 0x1234567ULL + (uint64_t)act * 7919 + (uint64_t)method;
    for (int cs = 0; cs < cases; cs++) {
        bcase bc;
        make_case(&bc, act, cs, box_width);
        double lb[64], ub[64], ilb[64], iub[64];
        cr_bound_options o = {.method = method};
        assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &o, lb, ub), CR_OK);
        long double smin[64], smax[64];
        sampled_range(&bc, smin, smax);
        for (size_t i = 0; i < bc.m; i++) {
            if ((long double)lb[i] > smin[i] || (long double)ub[i] < smax[i] || lb[i] > ub[i]) bad++;
        }
        if (method != CR_BOUND_IBP) { /* CROWN alone (no intersection with IBP) is sound too */
            double nl[64], nu[64];
            cr_bound_options no = {.method = method, .no_intersect = 1};
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &no, nl, nu), CR_OK);
            for (size_t i = 0; i < bc.m; i++)
                if ((long double)nl[i] > smin[i] || (long double)nu[i] < smax[i]) bad++;
        }
        if (method != CR_BOUND_IBP) { /* never looser than IBP; closes its gap */
            cr_bound_options io = {.method = CR_BOUND_IBP};
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &io, ilb, iub), CR_OK);
            double gi = 0, gc = 0;
            for (size_t i = 0; i < bc.m; i++) {
                assert_true(lb[i] >= ilb[i] && ub[i] <= iub[i]);
                gi += (double)(smin[i] - ilb[i]) + (double)(iub[i] - smax[i]);
                gc += (double)(smin[i] - lb[i]) + (double)(ub[i] - smax[i]);
            }
            if (gi > 1e-9 && n_closed < 512) closed[n_closed++] = 1 - gc / gi;
        }
        cr_net_free(bc.net);
    }
    if (closed_median) {
        for (size_t i = 0; i < n_closed; i++) /* insertion sort */
            for (size_t j = i; j > 0 && closed[j] < closed[j - 1]; j--) {
                const double t = closed[j];
                closed[j] = closed[j - 1];
                closed[j - 1] = t;
            }
        *closed_median = n_closed ? closed[n_closed / 2] : -1;
    }
    return bad;
}

/* ---------------------------------------------------------------- tests */

static cr_net *toy_net(void) {
    size_t dims[3] = {2, 2, 1};
    cr_activation act = CR_ACT_RELU;
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, &act), CR_OK);
    double *P = cr_net_params(net);
    /* torch W1 (out x in) = [[1,−1],[2,−1]]: stored W[i][j] = torch[j][i] */
    double *w1 = P + cr_net_weight_offset(net, 0), *w2 = P + cr_net_weight_offset(net, 1);
    w1[0 * 2 + 0] = 1;
    w1[1 * 2 + 0] = -1;
    w1[0 * 2 + 1] = 2;
    w1[1 * 2 + 1] = -1;
    w2[0] = 1;
    w2[1] = -1;
    for (size_t j = 0; j < 2; j++) (P + cr_net_bias_offset(net, 0))[j] = 0;
    (P + cr_net_bias_offset(net, 1))[0] = 0;
    return net;
}

static void test_toy(void **state) {
    (void)state;
    cr_net *net = toy_net();
    const double lo[2] = {-1, -2}, hi[2] = {2, 1}, c[1] = {1};
    double lb, ub;
    cr_bound_options o = {.method = CR_BOUND_IBP};
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
    printf("toy IBP [%.17g, %.17g]\n", lb, ub);
    assert_true(lb <= -6 && lb > -6 - 1e-12);
    assert_true(ub >= 4 && ub < 4 + 1e-12);
    o.no_slack = 1;
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
    assert_true(lb == -6 && ub == 4);
#ifdef CR_TEST_CROWN
    o = (cr_bound_options){.method = CR_BOUND_CROWN};
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
    printf("toy CROWN [%.17g, %.17g]\n", lb, ub);
    assert_true(lb <= -3 && lb > -3 - 1e-12);
    assert_true(ub >= 3 && ub < 3 + 1e-12);
#endif
    cr_net_free(net);
}

static const cr_activation all_acts[5] = {CR_ACT_RELU, CR_ACT_SIGMOID, CR_ACT_TANH, CR_ACT_SOFTPLUS,
                                          CR_ACT_LEAKY_RELU};

static void test_ibp_sound(void **state) {
    (void)state;
    const cr_activation *acts = all_acts;
    for (int a = 0; a < 5; a++) {
        const int bad = sampling_violations(CR_BOUND_IBP, acts[a], 40, 0.3, NULL);
        printf("IBP %s: %d rows beaten\n", cr_activation_name(acts[a]), bad);
        assert_int_equal(bad, 0);
    }
}

/*
 * The slack is necessary. o = 1e8·x0 + x1 − 1e8·x2 (one linear layer; in this order
 * the float sum absorbs x1 into 1e8). Box x0 = x2 = 1, x1 ∈ [−2e-9, −1e-9]: the exact
 * range is [x1lo, x1hi] as reals = [−2e-9, −1e-9] (the doubles nearest those decimals),
 * by hand: 1e8 − 1e8 cancels exactly. Float IBP without slack: m' = fl(fl(1e8 − 1.5e-9)
 * − 1e8) = 0, ρ' = 5e-10, so [−5e-10, 5e-10]: both ends wrong.
 * A hidden ReLU (the same sum into relu, then identity; x1 ∈ [1e-9, 2e-9]) makes the upper
 * end wrong through an activation: exact max relu(2e-9) = 2e-9, float without slack 5e-10.
 */
static void test_slack_necessary(void **state) {
    (void)state;
    cr_net *net;
    size_t dims[2] = {3, 1};
    assert_int_equal(cr_net_create(&net, CR_F64, 1, dims, NULL), CR_OK);
    double *P = cr_net_params(net);
    P[cr_net_weight_offset(net, 0) + 0] = 1e8;
    P[cr_net_weight_offset(net, 0) + 1] = 1;
    P[cr_net_weight_offset(net, 0) + 2] = -1e8;
    P[cr_net_bias_offset(net, 0)] = 0;
    const double lo[3] = {1, -2e-9, 1}, hi[3] = {1, -1e-9, 1}, c[1] = {1};
    const long double exact_min = -2e-9, exact_max = -1e-9; /* by hand, above */
    double lb, ub;
    for (int method = 0; method <= 2; method++) {
#ifndef CR_TEST_CROWN
        if (method) break;
#endif
        cr_bound_options o = {.method = (cr_bound_method)method, .no_slack = 1};
        assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
        printf("slack off, method %d: [%.17g, %.17g], exact [-2e-9, -1e-9]\n", method, lb, ub);
        assert_true((long double)lb > exact_min || (long double)ub < exact_max); /* wrong */
        o.no_slack = 0;
        assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
        printf("slack on,  method %d: [%.17g, %.17g]\n", method, lb, ub);
        assert_true((long double)lb <= exact_min && (long double)ub >= exact_max);
        assert_true(lb > -1e-6 && ub < 1e-6); /* and not absurdly wide */
    }
    cr_net_free(net);

    size_t dims2[3] = {3, 1, 1};
    cr_activation relu = CR_ACT_RELU;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims2, &relu), CR_OK);
    P = cr_net_params(net);
    P[cr_net_weight_offset(net, 0) + 0] = 1e8;
    P[cr_net_weight_offset(net, 0) + 1] = 1;
    P[cr_net_weight_offset(net, 0) + 2] = -1e8;
    P[cr_net_bias_offset(net, 0)] = 0;
    P[cr_net_weight_offset(net, 1)] = 1;
    P[cr_net_bias_offset(net, 1)] = 0;
    const double lo2[3] = {1, 1e-9, 1}, hi2[3] = {1, 2e-9, 1};
    for (int method = 0; method <= 2; method++) {
#ifndef CR_TEST_CROWN
        if (method) break;
#endif
        cr_bound_options o = {.method = (cr_bound_method)method, .no_slack = 1};
        assert_int_equal(cr_net_bound(NULL, net, lo2, hi2, 1, c, &o, &lb, &ub), CR_OK);
        assert_true((long double)ub < 2e-9L); /* wrong: the exact max is relu(2e-9) */
        o.no_slack = 0;
        assert_int_equal(cr_net_bound(NULL, net, lo2, hi2, 1, c, &o, &lb, &ub), CR_OK);
        printf("relu, slack on, method %d: [%.17g, %.17g], exact [1e-9, 2e-9]\n", method, lb, ub);
        assert_true((long double)ub >= (long double)2e-9 && (long double)lb <= (long double)1e-9);
    }
    cr_net_free(net);
}

/* net with its hidden activation replaced by act (the same parameters, output and head);
   *P follows the new parameter block. */
static void set_act(cr_net **net, double **P, cr_activation act) {
    size_t dims[CR_MAX_LAYERS + 1];
    const int L = cr_net_n_layers(*net);
    for (int l = 0; l <= L; l++) dims[l] = cr_net_width(*net, l);
    cr_activation acts[CR_MAX_LAYERS], out;
    for (int l = 0; l + 1 < L; l++) acts[l] = act;
    cr_net *n;
    assert_int_equal(cr_net_create(&n, CR_F64, L, dims, acts), CR_OK);
    const int has_out = cr_net_output_activation(*net, &out);
    assert_int_equal(cr_net_set_output(n, has_out, has_out ? out : CR_ACT_SIGMOID, cr_net_head(*net)), CR_OK);
    memcpy(cr_net_params(n), cr_net_params_const(*net), cr_net_n_params(n) * sizeof(double));
    cr_net_free(*net);
    *net = n;
    *P = cr_net_params(n);
}

static void test_bad_input(void **state) {
    (void)state;
    size_t dims[3] = {2, 3, 2};
    cr_activation gelu = CR_ACT_GELU;
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, &gelu), CR_OK);
    double *P = cr_net_params(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) P[i] = 0.5;
    const double lo[2] = {0, 0}, hi[2] = {1, 1}, c[2] = {1, -1};
    double lb, ub;
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, NULL, &lb, &ub), CR_ERR_ARG);
    set_act(&net, &P, CR_ACT_SILU);
    for (int method = 0; method <= 2; method++) {
        cr_bound_options o = {.method = (cr_bound_method)method};
        assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_ERR_ARG);
    }
    set_act(&net, &P, CR_ACT_TANH);
    assert_int_equal(cr_net_set_output(net, 1, CR_ACT_GELU, CR_HEAD_SQUARED_ERROR), CR_OK);
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, NULL, &lb, &ub), CR_ERR_ARG);
    assert_int_equal(cr_net_set_output(net, 0, CR_ACT_SIGMOID, CR_HEAD_SOFTMAX_CE), CR_OK);
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, NULL, &lb, &ub), CR_OK);
    const double elo[2] = {0, 2};
    assert_int_equal(cr_net_bound(NULL, net, elo, hi, 1, c, NULL, &lb, &ub), CR_ERR_ARG);
    const double nlo[2] = {0, NAN};
    assert_int_equal(cr_net_bound(NULL, net, nlo, hi, 1, c, NULL, &lb, &ub), CR_ERR_NONFINITE);
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 0, c, NULL, &lb, &ub), CR_ERR_ARG);
    assert_int_equal(cr_net_bound(NULL, NULL, lo, hi, 1, c, NULL, &lb, &ub), CR_ERR_ARG);
    set_act(&net, &P, CR_ACT_RELU);
    for (size_t i = 0; i < cr_net_n_params(net); i++) P[i] = 1e300;
    for (int method = 0; method <= 2; method++) {
#ifndef CR_TEST_CROWN
        if (method) break;
#endif
        cr_bound_options o = {.method = (cr_bound_method)method};
        const double big[2] = {1e10, 1e10};
        assert_int_equal(cr_net_bound(NULL, net, lo, big, 1, c, &o, &lb, &ub), CR_ERR_NONFINITE);
    }
    cr_net_free(net);
}

static void test_float32_widened(void **state) {
    (void)state;
    rng_state = 42;
    bcase bc;
    make_case(&bc, CR_ACT_SIGMOID, 5, 0.5);
    cr_net *f32, *back;
    assert_int_equal(cr_net_convert(bc.net, CR_F32, &f32), CR_OK);
    assert_int_equal(cr_net_convert(f32, CR_F64, &back), CR_OK);
    for (int method = 0; method <= 2; method++) {
#ifndef CR_TEST_CROWN
        if (method) break;
#endif
        double a[64], b[64], a2[64], b2[64];
        cr_bound_options o = {.method = (cr_bound_method)method};
        assert_int_equal(cr_net_bound(NULL, f32, bc.lo, bc.hi, bc.m, bc.c, &o, a, b), CR_OK);
        assert_int_equal(cr_net_bound(NULL, back, bc.lo, bc.hi, bc.m, bc.c, &o, a2, b2), CR_OK);
        assert_memory_equal(a, a2, bc.m * sizeof(double));
        assert_memory_equal(b, b2, bc.m * sizeof(double));
    }
    cr_net_free(f32);
    cr_net_free(back);
    cr_net_free(bc.net);
}


static void test_crown_sound_and_tight(void **state) {
    (void)state;
    const cr_activation *acts = all_acts;
    for (int a = 0; a < 5; a++)
        for (int method = CR_BOUND_CROWN_IBP; method <= CR_BOUND_CROWN; method++) {
            double median = -1;
            int bad = sampling_violations((cr_bound_method)method, acts[a], 30, 0.3, NULL);
            printf("%s %s: %d rows beaten (box 0.3)\n", method == CR_BOUND_CROWN ? "CROWN" : "CROWN-IBP",
                   cr_activation_name(acts[a]), bad);
            assert_int_equal(bad, 0);
            bad = sampling_violations((cr_bound_method)method, acts[a], 30, 0.02, &median);
            printf("%s %s: %d rows beaten (box 0.02), median share of IBP's gap closed %.3f\n",
                   method == CR_BOUND_CROWN ? "CROWN" : "CROWN-IBP", cr_activation_name(acts[a]), bad, median);
            assert_int_equal(bad, 0);
            if (method == CR_BOUND_CROWN) assert_true(median >= 0.5);
        }
}


/* The relaxation lines hold on their interval (dense long-double sampling, the end points
   and 0), and are real lines, not the constant fallback, almost always. */
static void test_relax_lines(void **state) {
    (void)state;
    const cr_activation acts[5] = {CR_ACT_RELU, CR_ACT_SIGMOID, CR_ACT_TANH, CR_ACT_SOFTPLUS, CR_ACT_LEAKY_RELU};
    const cr_relax_mode mode = {0, CR_F64, 0};
    rng_state = 777;
    for (int a = 0; a < 5; a++) {
        int bad = 0, constant = 0, n = 3000;
        for (int it = 0; it < n; it++) {
            const double l = urange(-6, 6), u = l + pow(10, urange(-6, 1.3));
            double sl, tl, su, tu;
            cr_act_running(acts[a])->relax->lines(&mode, l, u, &sl, &tl, &su, &tu);
            if (acts[a] != CR_ACT_RELU && acts[a] != CR_ACT_LEAKY_RELU && sl == 0 && su == 0) constant++;
            for (int q = 0; q <= 202; q++) {
                double x = q == 201 ? u : q == 202 ? (l < 0 && u > 0 ? 0 : l) : l + (u - l) * q / 200.0;
                x = x > u ? u : x; /* the rounding of l + (u − l) may step past u */
                const long double f = ld_act(acts[a], x);
                if ((long double)sl * x + tl > f || (long double)su * x + tu < f) {
                    bad++;
                    if (bad < 4)
                        printf("  [%.17g, %.17g] at %.17g: %.17Lg <= %.17Lg <= %.17Lg?\n", l, u, x,
                               (long double)sl * x + tl, f, (long double)su * x + tu);
                }
            }
        }
        printf("%s: %d violations, %d of %d intervals with constant lines\n", cr_activation_name(acts[a]), bad,
               constant, n);
        assert_int_equal(bad, 0);
        assert_true(constant < n / 100);
    }
}

/* ---------------------------------------------------------------- planted unsound relaxations */

static const struct cr_act_relax *ref_relax(cr_activation a) { return cr_act_reference(a)->relax; }

static void bad_relu_intercept(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                               double *su, double *tu) {
    ref_relax(CR_ACT_RELU)->lines(m, l, u, sl, tl, su, tu);
    if (l < 0 && u > 0) *tu -= 0.05 * (u - l);
}

static void bad_relu_swapped(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                             double *su, double *tu) { /* the sign selection inverted */
    ref_relax(CR_ACT_RELU)->lines(m, l, u, su, tu, sl, tl);
}

static double sig(double x) { return 1 / (1 + exp(-x)); }
static double dsig(double x) { return sig(x) * (1 - sig(x)); }

static void bad_sigmoid_chord(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                              double *su, double *tu) { /* chord as the LOWER line on the convex side */
    ref_relax(CR_ACT_SIGMOID)->lines(m, l, u, sl, tl, su, tu);
    if (u <= 0 && u - l > 1e-6) {
        *sl = (sig(u) - sig(l)) / (u - l);
        *tl = sig(l) - *sl * l;
    }
}

static void bad_sigmoid_tangent(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                                double *su, double *tu) { /* l < 0 < u: lower tangent at d_L + 0.3 */
    ref_relax(CR_ACT_SIGMOID)->lines(m, l, u, sl, tl, su, tu);
    const double k = (sig(u) - sig(l)) / (u - l);
    if (l < 0 && u > 0 && k > dsig(l)) {
        double a = l, c = 0; /* d_L by bisection, as the note's §2.4 */
        for (int it = 0; it < 60; it++) {
            const double mid = 0.5 * (a + c);
            if (sig(mid) + dsig(mid) * (u - mid) <= sig(u))
                a = mid;
            else
                c = mid;
        }
        const double d = a + 0.3;
        *sl = dsig(d);
        *tl = sig(d) - *sl * d;
    }
}

static void test_planted(void **state) {
    (void)state;
    struct {
        cr_activation act;
        void (*fn)(const cr_relax_mode *, double, double, double *, double *, double *, double *);
        int fault;
        const char *what;
    } plants[] = {
        {CR_ACT_RELU, bad_relu_intercept, 0, "relu intercept - 0.05"},
        {CR_ACT_RELU, bad_relu_swapped, 0, "relu sign selection inverted"},
        {CR_ACT_SIGMOID, bad_sigmoid_chord, 0, "sigmoid chord in the wrong case"},
        {CR_ACT_SIGMOID, bad_sigmoid_tangent, 0, "sigmoid tangent point d_L + 0.3"},
        {CR_ACT_TANH, NULL, CR_BOUND_FAULT_NO_BIAS, "missing bias term G·b"},
        {CR_ACT_RELU, NULL, CR_BOUND_FAULT_NO_LINK_CONST, "missing link constant"},
    };
    for (size_t p = 0; p < sizeof plants / sizeof plants[0]; p++) {
        static struct cr_act_relax planted;
        planted = *ref_relax(plants[p].act);
        if (plants[p].fn) {
            planted.lines = plants[p].fn;
            assert_int_equal(cr_act_replace_relax(plants[p].act, &planted), CR_OK);
        }
        cr_bound_test_fault = plants[p].fault;
        const int bad = sampling_violations(CR_BOUND_CROWN, plants[p].act, 20, 0.5, NULL);
        cr_bound_test_fault = 0;
        cr_act_restore_relax(plants[p].act);
        printf("planted %-36s %d rows beaten\n", plants[p].what, bad);
        assert_true(bad > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toy),
        cmocka_unit_test(test_ibp_sound),
        cmocka_unit_test(test_crown_sound_and_tight),
        cmocka_unit_test(test_relax_lines),
        cmocka_unit_test(test_planted),
        cmocka_unit_test(test_slack_necessary),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_float32_widened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
