/*
 * certify's escalation runs CROWN once (src/check/certify.c, certify_linf.c, certify_prior.h): cr_certify_linf's
 * cheap bounds (IBP, CROWN) are handed to cr_certify, which goes on from them (α-CROWN clamped by CROWN's
 * intermediates and intersected with CROWN's rows, branch and bound's root clamped by the last intermediates).
 *   - the same answers: for every example, ε and method, cr_certify_linf's verdict, proved_by and margin equal
 *     cr_certify's on the same spec (which computes everything itself), bit for bit;
 *   - CROWN once: an example left to cr_certify's α-CROWN by the cheap bounds costs one CROWN run
 *     (cr_bound_test_runs), where it cost three (the cheap step's, cr_certify's, α's second run); cr_certify alone
 *     runs it once too;
 * not vacuous: the examples reach unsat by ibp, crown and alpha, and sat.
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
#include "net/bound.h"
#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1.0p-53 * 2 - 1; /* [-1, 1) */
}

enum { D = 8, K = 3, N = 12 };

static cr_net *make_net(cr_activation act) {
    const size_t dims[] = {D, 24, 16, K};
    cr_activation acts[2] = {act, act};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
    double *P = cr_net_params(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) P[i] = urand() * 6 / sqrt(12.0);
    return net;
}

static int same(double a, double b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

/* A random centre in [0, 1]^D and the class the net gives it. */
static int64_t centre_label(const cr_net *net, double *x) {
    double o[K];
    for (size_t j = 0; j < D; j++) x[j] = 0.5 + 0.5 * urand();
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, 1, &tape), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, tape, 1, x), CR_OK);
    memcpy(o, cr_tape_output(tape), sizeof o);
    cr_tape_free(tape);
    int64_t label = 0;
    for (int c = 1; c < K; c++) label = o[c] > o[label] ? c : label;
    return label;
}

static void test_escalation_reuse(void **state) {
    (void)state;
    const cr_activation acts[] = {CR_ACT_RELU, CR_ACT_SIGMOID};
    const double eps[] = {0.03, 0.08, 0.15, 0.3};
    int seen[5] = {0}; /* unsat by ibp, crown, alpha; sat; cr_certify reached */
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        cr_net *net = make_net(acts[a]);
        for (int n = 0; n < N; n++) {
            double x[D];
            const int64_t label = centre_label(net, x);
            for (size_t e = 0; e < sizeof eps / sizeof *eps; e++) {
                for (cr_bound_method m = CR_BOUND_CROWN; m <= CR_BOUND_ALPHA; m++) {
                    cr_certify_options opt = {.bound = {.method = m, .alpha_iters = 6}, .attack_restarts = 2,
                                              .attack_steps = 10, .seed = 7};
                    cr_certify_result r1 = {0}, r2 = {0};
                    memset(cr_bound_test_runs, 0, sizeof cr_bound_test_runs);
                    assert_int_equal(cr_certify_linf(NULL, net, x, eps[e], 0, 1, label, &opt, &r1), CR_OK);
                    const size_t crown1 = cr_bound_test_runs[CR_BOUND_CROWN], alpha1 = cr_bound_test_runs[CR_BOUND_ALPHA];
                    cr_spec spec;
                    assert_int_equal(cr_spec_linf(D, K, x, eps[e], 0, 1, label, &spec), CR_OK);
                    memset(cr_bound_test_runs, 0, sizeof cr_bound_test_runs);
                    assert_int_equal(cr_certify(NULL, net, &spec, &opt, &r2), CR_OK);
                    const size_t crown2 = cr_bound_test_runs[CR_BOUND_CROWN];
                    cr_spec_free(&spec);
                    if (r1.proved_by && !strcmp(r1.proved_by, "centre")) continue; /* cr_certify's attack finds it */
                    assert_int_equal(r1.verdict, r2.verdict);
                    assert_true((r1.proved_by == NULL) == (r2.proved_by == NULL));
                    if (r1.proved_by) assert_string_equal(r1.proved_by, r2.proved_by);
                    assert_true(same(r1.best_margin, r2.best_margin));
                    if (r1.verdict == CR_VERDICT_SAT) seen[3] = 1;
                    if (r1.verdict == CR_VERDICT_UNSAT)
                        seen[!strcmp(r1.proved_by, "ibp") ? 0 : !strcmp(r1.proved_by, "crown") ? 1 : 2] = 1;
                    if (m == CR_BOUND_ALPHA && alpha1 > 0) { /* the cheap step left it to cr_certify's α */
                        seen[4] = 1;
                        assert_int_equal(crown1, 1); /* the cheap step's, reused (there were 3: the cheap step's,
                                                        cr_certify's and α's second run) */
                        assert_int_equal(crown2, 1); /* cr_certify alone: its own, reused by α */
                    }
                }
            }
        }
        cr_net_free(net);
    }
    for (int i = 0; i < 5; i++) assert_true(seen[i]);
}

/* The hand-over when the cheap bounds wrote no intermediates (found by review): with IBP as the bound method,
   or CROWN failing, cr_certify_linf's buffer for them stays unwritten, and cr_certify must not take it as α's and
   branch and bound's clamps. The net o0 = 1 - 10 relu(x - 0.85), o1 = 0 on x in [-1, 1] is misclassified at
   x = 1 (o0 - o1 = -0.5), so no answer may be unsat; the old code answered unsat (proved by bab) from whatever
   the buffer held. */
static void test_no_intermediates_handed_over(void **state) {
    (void)state;
    size_t dims[3] = {1, 1, 2};
    cr_activation acts[1] = {CR_ACT_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, acts), CR_OK);
    double *p = cr_net_params(net);
    p[cr_net_weight_offset(net, 0)] = 1, p[cr_net_bias_offset(net, 0)] = -0.85;
    p[cr_net_weight_offset(net, 1)] = -10, p[cr_net_weight_offset(net, 1) + 1] = 0;
    p[cr_net_bias_offset(net, 1)] = 1, p[cr_net_bias_offset(net, 1) + 1] = 0;
    const double x[1] = {0};
    for (int rep = 0; rep < 50; rep++) { /* the old fault read recycled heap memory: repeat to meet it */
        cr_certify_options o = {.bab = 1, .attack_restarts = 1, .attack_steps = 1};
        o.bound.method = CR_BOUND_IBP;
        cr_certify_result r = {0};
        assert_int_equal(cr_certify_linf(NULL, net, x, 1.0, -1, 1, 0, &o, &r), CR_OK);
        assert_int_not_equal(r.verdict, CR_VERDICT_UNSAT);
        double *junk = malloc(64 * sizeof *junk); /* leave a freed block of large values for the next malloc */
        assert_non_null(junk);
        for (int i = 0; i < 64; i++) junk[i] = (i % 2 ? 1e6 : -1e6);
        free(junk);
    }
    cr_net_free(net);
}

/* Dataset mode has one deadline per example (found by review): cr_certify_linf's cheap bounds ran without one and
   cr_certify then started the clock again, so an example could take its CROWN bound plus the whole timeout. Now the
   cheap bounds get the deadline (a bound it interrupts is void: no verdict from it) and cr_certify what is left: an
   example the cheap bounds prove is unsat without a timeout and a timeout with one that has passed before they end
   (the old code: unsat, after the timeout). */
static void test_one_deadline(void **state) {
    (void)state;
    cr_net *net = make_net(CR_ACT_RELU);
    int checked = 0;
    for (int n = 0; n < N && !checked; n++) {
        double x[D];
        const int64_t label = centre_label(net, x);
        cr_certify_options opt = {.bound = {.method = CR_BOUND_CROWN}, .attack_restarts = 2, .attack_steps = 10,
                                  .seed = 7, .timeout_s = 60};
        cr_certify_result r = {0};
        assert_int_equal(cr_certify_linf(NULL, net, x, 0.03, 0, 1, label, &opt, &r), CR_OK);
        if (r.verdict != CR_VERDICT_UNSAT || !r.proved_by || !strcmp(r.proved_by, "attack")) continue;
        opt.timeout_s = 1e-9; /* passed by the first check point inside the bounds */
        cr_certify_result t = {0};
        assert_int_equal(cr_certify_linf(NULL, net, x, 0.03, 0, 1, label, &opt, &t), CR_OK);
        assert_int_equal(t.verdict, CR_VERDICT_TIMEOUT);
        assert_null(t.proved_by);
        checked = 1;
    }
    assert_true(checked); /* not vacuous: an example the cheap bounds prove */
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_escalation_reuse),
                                       cmocka_unit_test(test_no_intermediates_handed_over),
                                       cmocka_unit_test(test_one_deadline)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
