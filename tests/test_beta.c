/*
 * test_beta — β-CROWN's multipliers for branch and bound's split constraints (src/net/bound_beta.c, optimised
 * with α by src/net/bound_alpha.c; docs/certification.md "β-CROWN"):
 *
 *   - the closed-form gradient ∂lb/∂β = −s·ẑ against central finite differences (chk_beta_gradient) on random
 *     ReLU nets with random split clamps; a negated gradient (test hook) fails on the nonzero pairs;
 *   - soundness on subdomains by sampling: on random D = 2 ReLU nets and random splits of unstable units, the
 *     α+β lower bound never exceeds the margin at any of 20000 points of the box that satisfy the clamps (a long
 *     double forward pass independent of the library); β never loosens the bound (>= α's on the same subdomain)
 *     and, against a vacuous pass, is strictly tighter on a share of them;
 *   - a planted unsound multiplier (the constraint's sign flipped in the pass and the gradient, so that the search
 *     pursues it) is caught by the same sampling.
 * The verdicts of branch and bound with β against an exact oracle are in test_bab (alpha subdomains, β on and off).
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
#include "chainrule_check.h"
#include "check/bab.h"
#include "net/bound.h"
#include "testutil.h"

#define MAXW 16

static int quick(void) {
    const char *q = getenv("CR_TEST_QUICK");
    return q && *q && strcmp(q, "0");
}

static cr_net *random_net(cr_rng *rng, size_t d, size_t w1, size_t w2, size_t k) {
    size_t dims[4] = {d, w1, w2, k};
    cr_activation acts[2] = {CR_ACT_RELU, CR_ACT_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
    double *p = cr_net_params_f64(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] = 2 * cr_rng_uniform(rng) - 1;
    return net;
}

/* Clamps for a random subdomain: 1 to 4 of the root's unstable units split to a random side. The root's
   intervals come from cr_net_bound_split without clamps. Returns the number of splits (0: none unstable). */
static int random_split(cr_rng *rng, const cr_net *net, const double *lo, const double *hi, size_t m,
                        const double *c, double zlo[2][MAXW], double zhi[2][MAXW]) {
    double zl[2][MAXW], zu[2][MAXW], lb[4];
    cr_bound_split sp = {0};
    for (int l = 0; l < 2; l++) {
        sp.zl_out[l] = zl[l];
        sp.zu_out[l] = zu[l];
        for (size_t j = 0; j < MAXW; j++) zlo[l][j] = -INFINITY, zhi[l][j] = INFINITY;
    }
    cr_bound_options bo = {.method = CR_BOUND_CROWN};
    assert_int_equal(cr_net_bound_split(NULL, net, lo, hi, m, c, &bo, &sp, lb, NULL), CR_OK);
    int unstable[2 * MAXW], nu = 0;
    for (int l = 0; l < 2; l++)
        for (size_t j = 0; j < cr_net_width(net, l + 1); j++)
            if (zl[l][j] < 0 && zu[l][j] > 0) unstable[nu++] = l * MAXW + (int)j;
    if (nu == 0) return 0;
    const int want = 1 + (int)cr_rng_below(rng, 4);
    int made = 0;
    for (int t = 0; t < want; t++) {
        const int u = unstable[cr_rng_below(rng, (uint64_t)nu)], l = u / MAXW, j = u % MAXW;
        if (zlo[l][j] == 0 || zhi[l][j] == 0) continue;
        if (cr_rng_below(rng, 2)) zlo[l][j] = 0;
        else zhi[l][j] = 0;
        made++;
    }
    return made;
}

static void test_beta_gradient(void **state) {
    (void)state;
    cr_rng rng;
    cr_rng_seed(&rng, 1900);
    cr_check_alpha_report tot = {0}, bad = {0};
    size_t nets = 0;
    for (int trial = 0; trial < (quick() ? 6 : 20); trial++) {
        const size_t d = 3 + (size_t)cr_rng_below(&rng, 3), k = 3;
        cr_net *net = random_net(&rng, d, 8 + (size_t)cr_rng_below(&rng, 8), 8 + (size_t)cr_rng_below(&rng, 8), k);
        double lo[8], hi[8], c[6] = {1, -1, 0, 1, 0, -1};
        for (size_t q = 0; q < d; q++) {
            lo[q] = 2 * cr_rng_uniform(&rng) - 1;
            hi[q] = lo[q] + 0.5 + cr_rng_uniform(&rng);
        }
        double zlo[2][MAXW], zhi[2][MAXW];
        if (!random_split(&rng, net, lo, hi, 2, c, zlo, zhi)) {
            cr_net_free(net);
            continue;
        }
        const double *cl[2] = {zlo[0], zlo[1]}, *cu[2] = {zhi[0], zhi[1]};
        cr_check_alpha_report rep;
        size_t nb = 0;
        assert_int_equal(chk_beta_gradient(net, lo, hi, 2, c, cl, cu, 60, 7 + (uint64_t)trial, &rep, &nb), CR_OK);
        if (nb) nets++;
        tot.checked += rep.checked, tot.nonzero += rep.nonzero, tot.failed += rep.failed;
        tot.nonsmooth += rep.nonsmooth;
        if (rep.max_err > tot.max_err) tot.max_err = rep.max_err;
        cr_bound_test_fault = CR_BOUND_FAULT_BETA_GRAD_SIGN; /* planted: the gradient negated */
        assert_int_equal(chk_beta_gradient(net, lo, hi, 2, c, cl, cu, 60, 7 + (uint64_t)trial, &rep, &nb), CR_OK);
        cr_bound_test_fault = 0;
        bad.checked += rep.checked, bad.nonzero += rep.nonzero, bad.failed += rep.failed;
        cr_net_free(net);
    }
    print_message("beta gradient: %zu subdomains, %zu pairs checked (%zu nonzero, %zu near a kink), %zu failed, "
                  "max rel err %.2g; negated: %zu of %zu nonzero failed\n",
                  nets, tot.checked, tot.nonzero, tot.nonsmooth, tot.failed, tot.max_err, bad.failed, bad.nonzero);
    assert_int_equal(tot.failed, 0);
    assert_true(tot.nonzero >= (quick() ? 30u : 150u)); /* guard: not vacuous */
    assert_true(bad.failed >= bad.nonzero * 9 / 10 && bad.nonzero > 0);
}

/* The sampled minimum of row c over the points of the box in the subdomain (clamps); INFINITY if none. */
static long double sampled_min(cr_rng *rng, const cr_net *net, const double *lo, const double *hi, const double *c,
                               double zlo[2][MAXW], double zhi[2][MAXW], int n, int *inside) {
    const size_t d = cr_net_width(net, 0), k = cr_net_width(net, 3);
    long double best = INFINITY, x[4], z[2][MAXW], o[4];
    *inside = 0;
    for (int s = 0; s < n; s++) {
        for (size_t q = 0; q < d; q++) {
            const double u = s < 4096 ? (double)((s >> (6 * q)) & 63) / 63 : cr_rng_uniform(rng);
            x[q] = lo[q] + (long double)u * (hi[q] - lo[q]);
        }
        tu_forward_ld(net, x, &z[0][0], MAXW, o); /* z[l][j]: the hidden layers' pre-activations */
        int ok = 1;
        for (int l = 0; l < 2 && ok; l++)
            for (size_t j = 0; j < cr_net_width(net, l + 1) && ok; j++) ok = z[l][j] >= zlo[l][j] && z[l][j] <= zhi[l][j];
        if (!ok) continue;
        (*inside)++;
        long double v = 0;
        for (size_t q = 0; q < k; q++) v += c[q] * o[q];
        best = v < best ? v : best;
    }
    return best;
}

/* n subdomains of random nets: the α+β bound (20 steps) never above the sampled minimum over the subdomain;
   returns the number of rows above it (wrong), and counts rows where β is strictly tighter than α alone. */
static int sampling_run(int n, int *tighter, int *rows, int *looser) {
    cr_rng rng;
    cr_rng_seed(&rng, 2000);
    int wrong = 0;
    *tighter = *rows = *looser = 0;
    for (int trial = 0; trial < n; trial++) {
        const size_t d = 2;
        cr_net *net = random_net(&rng, d, 6 + (size_t)cr_rng_below(&rng, 6), 6 + (size_t)cr_rng_below(&rng, 6), 2);
        double lo[2], hi[2], c[4] = {1, -1, -1, 1};
        for (size_t q = 0; q < d; q++) {
            lo[q] = 2 * cr_rng_uniform(&rng) - 1;
            hi[q] = lo[q] + 0.5 + 1.5 * cr_rng_uniform(&rng);
        }
        double zlo[2][MAXW], zhi[2][MAXW], lb[2], lb0[2];
        if (!random_split(&rng, net, lo, hi, 2, c, zlo, zhi)) {
            cr_net_free(net);
            continue;
        }
        cr_bound_split sp = {0};
        for (int l = 0; l < 2; l++) sp.zlo[l] = zlo[l], sp.zhi[l] = zhi[l];
        cr_bound_options bo = {.method = CR_BOUND_ALPHA, .alpha_intermediate = -1, .alpha_iters = 20};
        const int fault = cr_bound_test_fault;
        cr_bound_test_fault = 0;
        cr_bound_beta_on = 0;
        const cr_status s0 = cr_net_bound_split(NULL, net, lo, hi, 2, c, &bo, &sp, lb0, NULL);
        cr_bound_beta_on = 1;
        cr_bound_test_fault = fault;
        assert_true(s0 == CR_OK || s0 == CR_ERR_NONFINITE);
        if (sp.empty || s0 != CR_OK) {
            cr_net_free(net);
            continue;
        }
        assert_int_equal(cr_net_bound_split(NULL, net, lo, hi, 2, c, &bo, &sp, lb, NULL), CR_OK);
        for (int r = 0; r < 2; r++) {
            int inside;
            const long double m = sampled_min(&rng, net, lo, hi, c + 2 * r, zlo, zhi, quick() ? 6000 : 20000, &inside);
            if (!inside) continue;
            (*rows)++;
            if (lb[r] < lb0[r] - 1e-9 * (1 + fabs(lb0[r]))) looser++; /* the joint search can end elsewhere */
            if (lb[r] > lb0[r] + 1e-9 * (1 + fabs(lb0[r]))) (*tighter)++;
            if (lb[r] > m) {
                wrong++;
                if (!fault)
                    fail_msg("trial %d row %d: the α+β bound %.17g is above a sampled margin %.17Lg", trial, r, lb[r], m);
            }
        }
        cr_net_free(net);
    }
    return wrong;
}

static void test_beta_sound_by_sampling(void **state) {
    (void)state;
    int tighter, rows, looser;
    const int wrong = sampling_run(quick() ? 20 : 60, &tighter, &rows, &looser);
    print_message("beta sampling: %d subdomain rows, alpha+beta strictly tighter than alpha alone on %d, looser on %d "
                  "(the joint search ends elsewhere), %d wrong\n", rows, tighter, looser, wrong);
    assert_int_equal(wrong, 0);
    assert_true(rows >= (quick() ? 10 : 40));
    assert_true(tighter >= rows / 3);  /* guard: β does something */
    assert_true(looser <= rows / 10);
}

static void test_beta_planted_sign(void **state) {
    (void)state;
    int tighter, rows, looser;
    cr_bound_test_fault = CR_BOUND_FAULT_BETA_SIGN;
    const int wrong = sampling_run(quick() ? 20 : 60, &tighter, &rows, &looser);
    cr_bound_test_fault = 0;
    print_message("planted: the constraint's sign flipped: %d of %d rows above a sampled margin\n", wrong, rows);
    assert_true(wrong >= 1);
}

/* Warm start (cr_bound_split.warm_in, branch and bound's children start from their parent's α and β): sound for
   ANY start: α is projected on the subdomain's ranges and β on >= 0, and the reported bound is the rigorous pass,
   which checks every line at its interval's ends (an unprojected α, tried as a planted fault, was caught there: no
   row went wrong, so that fault is not observable and not kept). On random subdomains: the bound from a garbage start
   (values in ±5, ±1e300, ±inf, NaN, per parameter) and from the parent's optimised values (warm_out of the unsplit
   box) is never above the sampled minimum; the parent's start changes the bound on some rows (the guard: it is
   used). */
static int warm_run(int n, int *rows, int *changed) {
    cr_rng rng;
    cr_rng_seed(&rng, 2100);
    int wrong = 0;
    *rows = *changed = 0;
    for (int trial = 0; trial < n; trial++) {
        cr_net *net = random_net(&rng, 2, 6 + (size_t)cr_rng_below(&rng, 6), 6 + (size_t)cr_rng_below(&rng, 6), 2);
        double lo[2], hi[2], c[4] = {1, -1, -1, 1};
        for (size_t q = 0; q < 2; q++) {
            lo[q] = 2 * cr_rng_uniform(&rng) - 1;
            hi[q] = lo[q] + 0.5 + 1.5 * cr_rng_uniform(&rng);
        }
        double zlo[2][MAXW], zhi[2][MAXW], lb[2], lbc[2];
        if (!random_split(&rng, net, lo, hi, 2, c, zlo, zhi)) {
            cr_net_free(net);
            continue;
        }
        const size_t S = cr_bound_warm_stride(net);
        double *wpar = malloc(2 * S * sizeof *wpar), *wgar = malloc(2 * S * sizeof *wgar);
        assert_non_null(wpar);
        assert_non_null(wgar);
        cr_bound_options bo = {.method = CR_BOUND_ALPHA, .alpha_intermediate = -1, .alpha_iters = 20};
        cr_bound_split root = {.lower_only = 1, .warm_out = wpar}; /* the parent: the unsplit box */
        for (size_t i = 0; i < 2 * S; i++) wpar[i] = NAN;
        cr_status st = cr_net_bound_split(NULL, net, lo, hi, 2, c, &bo, &root, lb, NULL);
        cr_bound_split sp = {.lower_only = 1};
        for (int l = 0; l < 2; l++) sp.zlo[l] = zlo[l], sp.zhi[l] = zhi[l];
        const cr_status s0 = cr_net_bound_split(NULL, net, lo, hi, 2, c, &bo, &sp, lbc, NULL); /* cold */
        if (st != CR_OK || s0 != CR_OK || sp.empty || isnan(wpar[0]) || isnan(wpar[S])) {
            free(wpar), free(wgar);
            cr_net_free(net);
            continue;
        }
        static const double odd[] = {5, -5, 1e300, -1e300, INFINITY, -INFINITY, NAN, 0.5, -0.5, 2};
        for (size_t i = 0; i < 2 * S; i++)
            wgar[i] = i % S == 0 ? 10 * cr_rng_uniform(&rng) - 5 : odd[cr_rng_below(&rng, 10)];
        for (int start = 0; start < 2; start++) {
            sp.warm_in = start ? wgar : wpar;
            assert_int_equal(cr_net_bound_split(NULL, net, lo, hi, 2, c, &bo, &sp, lb, NULL), CR_OK);
            for (int r = 0; r < 2; r++) {
                int inside;
                const long double m = sampled_min(&rng, net, lo, hi, c + 2 * r, zlo, zhi, quick() ? 6000 : 20000, &inside);
                if (!inside) continue;
                (*rows)++;
                if (!start && lb[r] != lbc[r]) (*changed)++;
                if (lb[r] > m) {
                    wrong++;
                    fail_msg("trial %d row %d start %d: the warm bound %.17g is above a sampled margin %.17Lg", trial,
                             r, start, lb[r], m);
                }
            }
        }
        free(wpar), free(wgar);
        cr_net_free(net);
    }
    return wrong;
}

static void test_beta_warm_start(void **state) {
    (void)state;
    int rows, changed;
    const int wrong = warm_run(quick() ? 20 : 60, &rows, &changed);
    print_message("warm start: %d subdomain rows (parent's and garbage starts), the parent's start changed %d, "
                  "%d wrong\n", rows, changed, wrong);
    assert_int_equal(wrong, 0);
    assert_true(rows >= (quick() ? 10 : 40));
    assert_true(changed >= 1); /* guard: the start is used */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beta_gradient),
        cmocka_unit_test(test_beta_sound_by_sampling),
        cmocka_unit_test(test_beta_planted_sign),
        cmocka_unit_test(test_beta_warm_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
