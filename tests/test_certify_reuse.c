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

static void test_escalation_reuse(void **state) {
    (void)state;
    const cr_activation acts[] = {CR_ACT_RELU, CR_ACT_SIGMOID};
    const double eps[] = {0.03, 0.08, 0.15, 0.3};
    int seen[5] = {0}; /* unsat by ibp, crown, alpha; sat; cr_certify reached */
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        cr_net *net = make_net(acts[a]);
        for (int n = 0; n < N; n++) {
            double x[D], o[K];
            for (size_t j = 0; j < D; j++) x[j] = 0.5 + 0.5 * urand();
            cr_tape *tape = NULL;
            assert_int_equal(cr_tape_create(net, 1, &tape), CR_OK);
            assert_int_equal(cr_net_forward_f64(net, tape, 1, x), CR_OK);
            memcpy(o, cr_tape_output(tape), sizeof o);
            cr_tape_free(tape);
            int64_t label = 0;
            for (int c = 1; c < K; c++) label = o[c] > o[label] ? c : label;
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

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_escalation_reuse)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
