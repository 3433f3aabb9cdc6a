/*
 * certify: the witness checker (planted wrong witnesses must be rejected) and cr_certify's verdicts against the
 * exact answer on small ReLU and leaky-ReLU nets (D = 2, one hidden layer: the margin is piecewise linear on the cells of the
 * hidden units' lines, so its minimum over the box is at a vertex of that arrangement: the box's corners, the lines'
 * crossings of its edges and the lines' pairwise crossings inside it, all enumerated and evaluated in long double).
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
#include "testutil.h"

/* One part: box [lo, hi] (inward = outward), one clause of one row c·o <= rhs. */
typedef struct {
    double lo[2], hi[2], c[2], rhs;
    size_t clause[2];
    cr_spec_part part;
    cr_spec spec;
} one_spec;

/* cr_witness_check's verdict as one number: 1 accepted, 0 rejected, -1 an error (its status). */
static int witness(const cr_net *net, const cr_spec_part *part, const double *x, double *out, double *worst) {
    int accepted = 0;
    return cr_witness_check(net, part, x, out, worst, &accepted) != CR_OK ? -1 : accepted;
}

static void spec_init(one_spec *s, double lo0, double hi0, double lo1, double hi1, double c0, double c1,
                      double rhs) {
    memset(s, 0, sizeof *s);
    s->lo[0] = lo0, s->hi[0] = hi0, s->lo[1] = lo1, s->hi[1] = hi1;
    s->c[0] = c0, s->c[1] = c1, s->rhs = rhs;
    s->clause[0] = 0, s->clause[1] = 1;
    s->part = (cr_spec_part){.d = 2, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = s->lo, .hi = s->hi,
                             .lo_in = s->lo, .hi_in = s->hi, .c = s->c, .rhs = &s->rhs, .rhs_in = &s->rhs,
                             .clause = s->clause};
    s->spec = (cr_spec){.n_parts = 1, .parts = &s->part};
}

/* o0 = a x0 − a x1, o1 = 0 (one linear layer) */
static cr_net *linear_net(double a) {
    size_t dims[2] = {2, 2};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 1, dims, NULL), CR_OK);
    double *p = cr_net_params_f64(net);
    memset(p, 0, cr_net_n_params(net) * sizeof *p);
    p[cr_net_weight_offset(net, 0) + 0] = a;  /* W[0][0]: x0 -> o0 */
    p[cr_net_weight_offset(net, 0) + 2] = -a; /* W[1][0]: x1 -> o0 */
    return net;
}

static void test_witness_checker(void **state) {
    (void)state;
    cr_net *net = linear_net(1);
    one_spec s;
    spec_init(&s, -1, 1, -1, 1, 1, -1, 0); /* unsafe: x0 − x1 <= 0 */
    double out[2], worst;
    /* guard: a true witness well inside is accepted, with its output */
    assert_int_equal(witness(net, &s.part, (double[]){-0.5, 0.25}, out, &worst), 1);
    assert_true(fabs(out[0] + 0.75) < 1e-15 && worst < -0.7);
    /* planted: violating but outside the box */
    assert_int_equal(witness(net, &s.part, (double[]){-1.5, 0}, NULL, &worst), 0);
    assert_int_equal(witness(net, &s.part, (double[]){0, nextafter(1, 2)}, NULL, NULL), 0);
    /* planted: in the box, not violating, and a tie */
    assert_int_equal(witness(net, &s.part, (double[]){0.5, 0.25}, NULL, NULL), 0);
    assert_int_equal(witness(net, &s.part, (double[]){0.25, 0.25}, NULL, NULL), 0);
    /* planted: outside the INWARD box though inside the outward one */
    double lo_in[2] = {-0.5, -0.5};
    s.part.lo_in = lo_in;
    assert_int_equal(witness(net, &s.part, (double[]){-0.75, 0}, NULL, NULL), 0);
    s.part.lo_in = s.lo;
    cr_net_free(net);
    /* planted: within noise. o0 = 1e8 (x0 − x1): x1 one ulp above x0 violates by 1e8 ulp(0.3) ≈ 5.6e-9, less
       than the rounding of terms of size 3e7: rejected; a violation of 1e-1 (x1 − x0 = 1e-9) is accepted */
    net = linear_net(1e8);
    assert_int_equal(witness(net, &s.part, (double[]){0.3, nextafter(0.3, 1)}, out, &worst), 0);
    assert_true(out[0] < 0); /* the net's own evaluation says violated: the checker refuses it anyway */
    assert_int_equal(witness(net, &s.part, (double[]){0.3, 0.3 + 1e-9}, NULL, NULL), 1);
    /* and cr_certify, on a box whose only violating points are within noise, never says sat */
    spec_init(&s, 0.3, nextafter(0.3, 1), 0.3, nextafter(0.3, 1), 1, -1, -1e-9);
    cr_certify_result res = {0};
    assert_int_equal(cr_certify(NULL, net, &s.spec, NULL, &res), CR_OK);
    assert_int_not_equal(res.verdict, CR_VERDICT_SAT);
    assert_int_not_equal(res.verdict, CR_VERDICT_UNSAT); /* x = (0.3, 0.3⁺) violates by 5.6e-9 > 1e-9 */
    cr_net_free(net);
}

/* margin c·o − rhs at x, in long double (o = relu(x W0 + b0) W1 + b1) */
static long double margin_ld(const cr_net *net, const one_spec *s, long double x0, long double x1) {
    const double *p = cr_net_params_const(net);
    const size_t h = cr_net_width(net, 1);
    const double *w0 = p + cr_net_weight_offset(net, 0), *b0 = p + cr_net_bias_offset(net, 0), *w1 = p + cr_net_weight_offset(net, 1),
                 *b1 = p + cr_net_bias_offset(net, 1);
    long double o[2] = {b1[0], b1[1]};
    for (size_t j = 0; j < h; j++) {
        long double r = x0 * w0[j] + x1 * w0[h + j] + b0[j];
        if (cr_net_activation(net, 0) == CR_ACT_LEAKY_RELU && r < 0) r *= 0.01L;
        if (r > 0 || cr_net_activation(net, 0) == CR_ACT_LEAKY_RELU)
            for (size_t k = 0; k < 2; k++) o[k] += r * w1[j * 2 + k];
    }
    return s->c[0] * o[0] + s->c[1] * o[1] - s->rhs;
}

/* exact minimum of the margin over the box (see the top) */
static long double exact_min(const cr_net *net, const one_spec *s) {
    const double *p = cr_net_params_const(net);
    const size_t h = cr_net_width(net, 1);
    const double *w0 = p + cr_net_weight_offset(net, 0), *b0 = p + cr_net_bias_offset(net, 0);
    long double best = INFINITY, lo[2] = {s->lo[0], s->lo[1]}, hi[2] = {s->hi[0], s->hi[1]};
#define TRY(a, b)                                                                                       \
    do {                                                                                                \
        long double xa = (a), xb = (b);                                                                 \
        if (xa >= lo[0] && xa <= hi[0] && xb >= lo[1] && xb <= hi[1]) {                                 \
            long double m = margin_ld(net, s, xa, xb);                                                  \
            best = m < best ? m : best;                                                                 \
        }                                                                                               \
    } while (0)
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) TRY(a ? hi[0] : lo[0], b ? hi[1] : lo[1]);
    for (size_t j = 0; j < h; j++) { /* line w0j x0 + w1j x1 + bj = 0 */
        long double u = w0[j], v = w0[h + j], c = b0[j];
        for (int e = 0; e < 2; e++) {
            long double x0 = e ? hi[0] : lo[0], x1 = e ? hi[1] : lo[1];
            if (v != 0) TRY(x0, -(c + u * x0) / v);
            if (u != 0) TRY(-(c + v * x1) / u, x1);
        }
        for (size_t i = 0; i < j; i++) {
            long double u2 = w0[i], v2 = w0[h + i], c2 = b0[i], det = u * v2 - v * u2;
            if (det != 0) TRY((-c * v2 + v * c2) / det, (-u * c2 + c * u2) / det);
        }
    }
#undef TRY
    return best;
}

static void test_verdicts_exact(void **state) {
    (void)state;
    cr_rng rng;
    cr_rng_seed(&rng, 16);
    int n_unsat = 0, n_sat = 0, n_unknown = 0, n_alpha = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t h = 2 + cr_rng_below(&rng, 5), dims[3] = {2, h, 2};
        cr_activation act = trial % 2 ? CR_ACT_LEAKY_RELU : CR_ACT_RELU; /* both piecewise linear */
        cr_net *net;
        assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, &act), CR_OK);
        double *p = cr_net_params_f64(net);
        for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] = 2 * cr_rng_uniform(&rng) - 1;
        one_spec s;
        double c0 = 2 * cr_rng_uniform(&rng) - 1, c1 = 2 * cr_rng_uniform(&rng) - 1;
        double a = cr_rng_uniform(&rng), b = cr_rng_uniform(&rng), w = 0.02 + cr_rng_uniform(&rng);
        spec_init(&s, a, a + w, b, b + w, c0, c1, 0);
        s.rhs = (double)margin_ld(net, &s, a + w / 2, b + w / 2) - 0.3 * w * (2 * cr_rng_uniform(&rng) - 1);
        long double m = exact_min(net, &s);
        double x[2], o[2];
        cr_certify_result res = {.witness = x, .witness_out = o};
        cr_certify_options opt = {.seed = (uint64_t)trial};
        opt.bound.method = trial % 3 == 0 ? CR_BOUND_IBP : trial % 3 == 1 ? CR_BOUND_CROWN_IBP : CR_BOUND_CROWN;
        if (trial % 6 == 5) opt.bound.method = CR_BOUND_ALPHA; /* IBP, CROWN, then α-CROWN */
        assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
        if (res.verdict == CR_VERDICT_UNSAT && !strcmp(res.proved_by, "alpha")) n_alpha++;
        if (res.verdict == CR_VERDICT_UNSAT) {
            n_unsat++;
            if (!(m > 0)) fail_msg("trial %d: unsat but the exact minimum margin is %Lg", trial, m);
        } else if (res.verdict == CR_VERDICT_SAT) {
            n_sat++;
            if (!(m <= 0)) fail_msg("trial %d: sat but the exact minimum margin is %Lg", trial, m);
            assert_true(x[0] >= s.lo[0] && x[0] <= s.hi[0] && x[1] >= s.lo[1] && x[1] <= s.hi[1]);
            assert_true(margin_ld(net, &s, x[0], x[1]) < 0);
        } else {
            n_unknown++;
        }
        cr_net_free(net);
    }
    print_message("exact cross-check: %d unsat (%d proved by alpha-CROWN), %d sat, %d unknown of 300\n", n_unsat,
                  n_alpha, n_sat, n_unknown);
    assert_true(n_unsat >= 20 && n_sat >= 20); /* both verdicts occur: the comparison is not vacuous */
}

static void test_timeout(void **state) {
    (void)state;
    cr_net *net = linear_net(1);
    one_spec s;
    spec_init(&s, 0.1, 1, -1, -0.1, 1, -1, 0); /* x0 − x1 >= 0.2: unsat */
    cr_certify_result res = {0};
    assert_int_equal(cr_certify(NULL, net, &s.spec, NULL, &res), CR_OK);
    assert_int_equal(res.verdict, CR_VERDICT_UNSAT); /* guard: the verdict without a deadline */
    assert_true(res.best_margin >= 0.2 - 1e-12 && res.proved_by && !strcmp(res.proved_by, "ibp"));
    cr_certify_options opt = {.timeout_s = 1e-9, .attack_steps = 100000};
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
    assert_int_equal(res.verdict, CR_VERDICT_TIMEOUT);
    cr_net_free(net);
}

/* the checker's evaluator agrees with the library's forward pass on every activation it takes, with a standardised
   input (link 0), for every other one an output activation (o = σ(θ)), for every third a BatchNorm link; GELU and SiLU (no monotone form with an error bound) are refused: -1, never accepted */
static void test_checker_activations(void **state) {
    (void)state;
    cr_rng rng;
    cr_rng_seed(&rng, 7);
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        size_t dims[4] = {3, 6, 5, 2};
        cr_activation acts[2] = {(cr_activation)a, (cr_activation)a};
        cr_net *net;
        assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
        cr_net_init(net, CR_INIT_AUTO, 3);
        if (a % 2) assert_int_equal(cr_net_set_output(net, 1, CR_ACT_SIGMOID, CR_HEAD_SOFTMAX_CE), CR_OK);
        double bp[6] = {0.1, -0.2, 0.3, 0, 0.5, -0.1}, bq[6] = {1, 2, 0.5, 1.5, 1, 3};
        double bs[6] = {1.2, -0.7, 0.9, 1, 2, 0.3}, bt[6] = {0, 0.1, -0.3, 0.2, 0, 1};
        if (a % 3 == 0) /* a BatchNorm link after the first layer */
            assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, bp, bq, bs, bt, 1e-5), CR_OK);
        double mean[3] = {0.1, -0.2, 0.3}, sd[3] = {2, 0.5, 1.5};
        assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mean, sd), CR_OK);
        double lo[3] = {-1, -1, -1}, hi[3] = {1, 1, 1}, c[2] = {1, -1}, rhs = 100, x[3], out[2];
        size_t clause[2] = {0, 1};
        cr_spec_part part = {.d = 3, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = lo, .hi = hi, .lo_in = lo,
                             .hi_in = hi, .c = c, .rhs = &rhs, .rhs_in = &rhs, .clause = clause};
        cr_tape *tape;
        assert_int_equal(cr_tape_create(net, 1, &tape), CR_OK);
        for (int t = 0; t < 20; t++) {
            for (int j = 0; j < 3; j++) x[j] = 2 * cr_rng_uniform(&rng) - 1;
            int rc = witness(net, &part, x, out, NULL);
            if (a == CR_ACT_GELU || a == CR_ACT_SILU) {
                assert_int_equal(rc, -1);
                continue;
            }
            assert_int_equal(rc, 1); /* o0 − o1 <= 100 holds by far */
            assert_int_equal(cr_net_forward_f64(net, tape, 1, x), CR_OK);
            const double *o = cr_tape_output(tape);
            for (int k = 0; k < 2; k++)
                if (!(fabs(out[k] - o[k]) <= 1e-12 * (1 + fabs(o[k]))))
                    fail_msg("%s: checker %.17g, forward %.17g", cr_activation_name((cr_activation)a), out[k], o[k]);
        }
        cr_tape_free(tape);
        cr_net_free(net);
    }
}

/* bounds that overflow are no proof and no error: unknown */
static void test_overflow(void **state) {
    (void)state;
    cr_net *net = linear_net(1e308);
    one_spec s;
    spec_init(&s, 0.5, 1.5, -1.5, -0.5, 1, -1, 0); /* x0 − x1 >= 1: the property holds, o0 reaches 3e308 */
    cr_certify_result res = {0};
    cr_certify_options opt = {.attack_restarts = 2, .attack_steps = 5};
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
    assert_int_equal(res.verdict, CR_VERDICT_UNKNOWN);
    cr_net_free(net);
}

static void test_probabilities(void **state) {
    (void)state;
    cr_net *net = linear_net(1);
    one_spec s;
    spec_init(&s, -1, 1, -1, 1, 1, -1, 0); /* an order row: p0 <= p1 iff o0 <= o1 */
    cr_certify_options opt = {.outputs_are_probs = 1};
    cr_certify_result res = {0};
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
    assert_int_equal(res.verdict, CR_VERDICT_SAT);
    spec_init(&s, -1, 1, -1, 1, 1, 0, 0.5); /* a threshold p0 <= 0.5: refused */
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_ERR_ARG);
    cr_net_free(net);
}

/* A float32 leaky-ReLU net's slope is the float nearest 0.01 (2.2e-8 relative below 0.01), and cr_certify must
   decide for that net, not for its float64 widening (slope 0.01): x in [−1, −0.9], z = x, o0 = leaky(z).
   (a) −o0 <= 0.0089999999 holds at x = −0.9 for slope 0.01f (−o0 = 0.0089999997988): sat or unknown, never unsat
       (it was unsat by IBP when the bounds ran on the widened net);
   (b) o0 <= −0.0099999998 holds nowhere for slope 0.01f (min o0 = −0.00999999977): never sat (the checker took
       x = −1 as a witness when its slope interval was 1e-8 relative wide). Both verdicts of (b) are checked to be
       decided by the bounds: unsat. From a review of this session's change. */
static cr_net *leaky32_net(void) {
    size_t dims[3] = {1, 1, 2};
    cr_activation act[1] = {CR_ACT_LEAKY_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F32, 2, dims, act), CR_OK);
    float *p = cr_net_params(net);
    memset(p, 0, cr_net_n_params(net) * sizeof *p);
    p[cr_net_weight_offset(net, 0)] = 1;     /* z = x */
    p[cr_net_weight_offset(net, 1) + 0] = 1; /* o0 = h */
    return net;
}

static void test_float32_leaky_slope(void **state) {
    (void)state;
    cr_net *net = leaky32_net();
    double lo[1] = {-1}, hi[1] = {-0.9};
    size_t clause[2] = {0, 1};
    for (int m = 0; m < 3; m++) {
        const cr_bound_method method = m == 0 ? CR_BOUND_IBP : m == 1 ? CR_BOUND_CROWN : CR_BOUND_ALPHA;
        double c_a[2] = {-1, 0}, rhs_a = 0.0089999999; /* (a): violated at x = −0.9 */
        cr_spec_part pa = {.d = 1, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = lo, .hi = hi, .lo_in = lo,
                           .hi_in = hi, .c = c_a, .rhs = &rhs_a, .rhs_in = &rhs_a, .clause = clause};
        cr_spec sa = {.n_parts = 1, .parts = &pa};
        assert_true(-((double)0.01f * -0.9) <= rhs_a); /* guard: the f32 net violates (a) */
        cr_certify_options o = {.bound = {.method = method}, .bab = 1};
        cr_certify_result r = {0};
        assert_int_equal(cr_certify(NULL, net, &sa, &o, &r), CR_OK);
        assert_int_not_equal(r.verdict, CR_VERDICT_UNSAT);

        double c_b[2] = {1, 0}, rhs_b = -0.0099999998; /* (b): holds nowhere */
        cr_spec_part pb = {.d = 1, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = lo, .hi = hi, .lo_in = lo,
                           .hi_in = hi, .c = c_b, .rhs = &rhs_b, .rhs_in = &rhs_b, .clause = clause};
        cr_spec sb = {.n_parts = 1, .parts = &pb};
        assert_true((double)0.01f * -1.0 > rhs_b); /* guard: the f32 net never meets (b) */
        double x[1] = {-1};
        assert_int_not_equal(witness(net, &pb, x, NULL, NULL), 1);
        memset(&r, 0, sizeof r);
        assert_int_equal(cr_certify(NULL, net, &sb, &o, &r), CR_OK);
        assert_int_equal(r.verdict, CR_VERDICT_UNSAT);
    }
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_witness_checker),
        cmocka_unit_test(test_verdicts_exact),
        cmocka_unit_test(test_checker_activations),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_probabilities),
        cmocka_unit_test(test_float32_leaky_slope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
