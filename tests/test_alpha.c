/*
 * test_alpha — α-CROWN in cr_net_bound (CR_BOUND_ALPHA; src/net/bound_alpha.c):
 *
 *   - golden toy (note §7.1): α-CROWN [−3, 2] to 1e-12 (auto_LiRPA 0.3 gives the same;
 *     tests/lirpa_bounds.py), CROWN's [−3, 3] is not its answer;
 *   - soundness by sampling on random nets of every relaxable activation (test_bound's
 *     sampler and long-double evaluator): 10^4 points + the corners never beat a bound;
 *     α-CROWN ≥ CROWN ≥ IBP row by row; against a vacuous pass (α-CROWN = CROWN), α-CROWN
 *     is strictly tighter on some rows for every activation;
 *   - the closed-form gradient against central finite differences
 *     (cr_check_alpha_gradient), on nets of every activation; planted faults (the
 *     gradient negated, halved) are caught;
 *   - planted unsound members of the families (a ReLU slope + 0.3, a sigmoid or tanh tangent moved
 *     inward by 0.05), each caught by the sampling test;
 *   - options: more iterations never give a looser bound than fewer (the first evaluation
 *     is CROWN's and the best is kept), intermediates optimised or not both sound.
 *
 * test_bound's evaluator, random nets and sampler are reused by including its source
 * with its main renamed (its tests are not run here).
 */
#define main test_bound_main
#include "test_bound.c"
#undef main

#include "chainrule_check.h"

static int quick(void) { return getenv("CR_TEST_QUICK") != NULL; }

static void test_alpha_toy(void **state) {
    (void)state;
    cr_net *net = toy_net();
    const double lo[2] = {-1, -2}, hi[2] = {2, 1}, c[1] = {1};
    double lb, ub;
    cr_bound_options o = {.method = CR_BOUND_ALPHA};
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
    printf("toy alpha-CROWN [%.17g, %.17g]\n", lb, ub);
    assert_true(lb <= -3 && lb > -3 - 1e-12);
    assert_true(ub >= 2 && ub < 2 + 1e-12);
    o.no_slack = 1;
    assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &o, &lb, &ub), CR_OK);
    printf("toy alpha-CROWN without slack [%.17g, %.17g]\n", lb, ub);
    assert_true(lb == -3 && fabs(ub - 2) < 1e-12); /* rounding either way without the slack */
    cr_net_free(net);
}

/* α-CROWN against CROWN and IBP on the sampler's nets: sound, ordered, tighter somewhere */
static void test_alpha_sound_ordered(void **state) {
    (void)state;
    const int cases = quick() ? 6 : 20;
    for (int a = 0; a < 5; a++) {
        const cr_activation act = all_acts[a];
        const int bad = sampling_violations(CR_BOUND_ALPHA, act, cases, 0.3, NULL);
        assert_int_equal(bad, 0); /* sound, and never looser than IBP (asserted inside) */
        rng_state = 0xabcdef12345ULL + (uint64_t)act;
        int tighter = 0, rows = 0;
        double gain = 0;
        for (int cs = 0; cs < cases; cs++) {
            bcase bc;
            make_case(&bc, act, cs, cs % 2 ? 0.3 : 1.0);
            double al[64], au[64], cl[64], cu[64];
            cr_bound_options oa = {.method = CR_BOUND_ALPHA}, oc = {.method = CR_BOUND_CROWN};
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &oa, al, au), CR_OK);
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &oc, cl, cu), CR_OK);
            long double smin[64], smax[64];
            sampled_range(&bc, smin, smax);
            for (size_t i = 0; i < bc.m; i++, rows++) {
                assert_true(al[i] >= cl[i] && au[i] <= cu[i]);
                assert_true((long double)al[i] <= smin[i] && (long double)au[i] >= smax[i]);
                if (al[i] > cl[i] + 1e-9 || au[i] < cu[i] - 1e-9) tighter++;
                gain += (al[i] - cl[i]) + (cu[i] - au[i]);
            }
            cr_net_free(bc.net);
        }
        printf("alpha-CROWN %-10s tighter than CROWN on %d of %d rows (summed gain %.4g)\n",
               cr_activation_name(act), tighter, rows, gain);
        assert_true(tighter > 0);
    }
}

/* the options: more iterations never looser; intermediates fixed (−1) sound too */
static void test_alpha_options(void **state) {
    (void)state;
    for (int a = 0; a < 5; a++) {
        rng_state = 0x5555ULL + (uint64_t)a;
        for (int cs = 0; cs < (quick() ? 2 : 6); cs++) {
            bcase bc;
            make_case(&bc, all_acts[a], cs + 1, 0.5);
            double l5[64], u5[64], l40[64], u40[64], lf[64], uf[64];
            cr_bound_options o = {.method = CR_BOUND_ALPHA, .alpha_iters = 5, .alpha_intermediate = -1};
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &o, l5, u5), CR_OK);
            o.alpha_iters = 40;
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &o, l40, u40), CR_OK);
            o = (cr_bound_options){.method = CR_BOUND_ALPHA, .alpha_intermediate = 1, .alpha_lr = 0.1,
                                   .alpha_lr_decay = 0.9};
            assert_int_equal(cr_net_bound(NULL, bc.net, bc.lo, bc.hi, bc.m, bc.c, &o, lf, uf), CR_OK);
            long double smin[64], smax[64];
            sampled_range(&bc, smin, smax);
            for (size_t i = 0; i < bc.m; i++) {
                /* the same run continued: Adam's path is the same for the first 5 steps */
                assert_true(l40[i] >= l5[i] && u40[i] <= u5[i]);
                assert_true((long double)lf[i] <= smin[i] && (long double)uf[i] >= smax[i]);
            }
            cr_net_free(bc.net);
        }
    }
}

/* the closed-form gradient against finite differences, and planted faults caught */
static void test_alpha_gradient(void **state) {
    (void)state;
    for (int fault = 0; fault <= 2; fault++) {
        size_t checked = 0, failed = 0, nonzero = 0, nonsmooth = 0;
        double worst = 0;
        for (int a = 0; a < 5; a++) {
            rng_state = 0x777ULL + (uint64_t)a;
            for (int cs = 0; cs < (quick() ? 2 : 4); cs++) {
                bcase bc;
                make_case(&bc, all_acts[a], cs + 1, 0.5);
                cr_check_alpha_report rep;
                cr_bound_test_fault = fault == 0 ? 0 : fault == 1 ? CR_BOUND_FAULT_ALPHA_GRAD_SIGN
                                                                   : CR_BOUND_FAULT_ALPHA_GRAD_FACTOR;
                const cr_status st = cr_check_alpha_gradient(bc.net, bc.lo, bc.hi, bc.m, bc.c, 60,
                                                             (uint64_t)(cs * 31 + a + 1), &rep);
                cr_bound_test_fault = 0;
                assert_int_equal(st, CR_OK);
                checked += rep.checked, failed += rep.failed, nonzero += rep.nonzero;
                nonsmooth += rep.nonsmooth;
                if (rep.max_err > worst) worst = rep.max_err;
                cr_net_free(bc.net);
            }
        }
        printf("alpha gradient%s: %zu pairs checked (%zu nonzero, %zu at kinks), %zu failed, worst %.3g\n",
               fault == 0 ? "" : fault == 1 ? " (planted: negated)" : " (planted: halved)", checked,
               nonzero, nonsmooth, failed, worst);
        assert_true(checked >= 100 && nonzero >= 50);
        if (fault == 0)
            assert_int_equal(failed, 0);
        else
            assert_true(failed >= nonzero / 2);
    }
}

/* planted unsound α lines (the family's members, not CROWN's lines): each caught by sampling */
static void (*orig_param_line)(const cr_relax_mode *, double, double, int, double, double *, double *, double *,
                               double *);
static void bad_slope(const cr_relax_mode *m, double l, double u, int dir, double p, double *s, double *t,
                      double *ds, double *dt) {
    orig_param_line(m, l, u, dir, p, s, t, ds, dt);
    *s += 0.3; /* relu lower slope above 1 where p is near 1: above relu for x > 0 */
}
static void bad_tangent(const cr_relax_mode *m, double l, double u, int dir, double p, double *s, double *t,
                        double *ds, double *dt) {
    orig_param_line(m, l, u, dir, p, s, t, ds, dt);
    *t += dir < 0 ? 0.05 : -0.05; /* lower line raised, upper line lowered */
}

static void test_alpha_planted(void **state) {
    (void)state;
    struct {
        cr_activation act;
        void (*fn)(const cr_relax_mode *, double, double, int, double, double *, double *, double *, double *);
        const char *what;
    } plants[] = {
        {CR_ACT_RELU, bad_slope, "relu alpha slope + 0.3"},
        {CR_ACT_SIGMOID, bad_tangent, "sigmoid alpha tangent moved inward by 0.05"},
        {CR_ACT_TANH, bad_tangent, "tanh alpha tangent moved inward by 0.05"},
    };
    for (size_t p = 0; p < sizeof plants / sizeof plants[0]; p++) {
        static struct cr_act_relax planted;
        planted = *cr_act_reference(plants[p].act)->relax;
        orig_param_line = planted.param_line;
        planted.param_line = plants[p].fn;
        assert_int_equal(cr_act_replace_relax(plants[p].act, &planted), CR_OK);
        const int bad = sampling_violations(CR_BOUND_ALPHA, plants[p].act, quick() ? 8 : 20, 0.5, NULL);
        cr_act_restore_relax(plants[p].act);
        printf("planted %-44s %d rows beaten\n", plants[p].what, bad);
        assert_true(bad > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alpha_toy),
        cmocka_unit_test(test_alpha_sound_ordered),
        cmocka_unit_test(test_alpha_options),
        cmocka_unit_test(test_alpha_gradient),
        cmocka_unit_test(test_alpha_planted),
    };
    (void)test_bound_main;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
