/*
 * Branch and bound in cr_certify (src/check/bab.c) against a complete oracle on tiny ReLU nets (D = 2 or 3, two
 * hidden layers of 3-6 units, K = 2). The oracle: for every activation pattern of the hidden units, the region
 * where the net follows it is a polytope (the box and one half-space per unit, linear in x once the pattern is
 * fixed) on which the margin is linear, so its minimum over the box is the smallest value at a vertex of some
 * pattern's polytope: every D of the polytope's constraints solved as equalities, the point kept when it meets all
 * of them (within 1e-9), then the margin evaluated by an independent long-double forward pass at it (clipped into
 * the box: every value is one the net takes). Specs are put near the decision boundary (rhs = the exact minimum
 * ± a fraction of CROWN's gap), so that CROWN alone leaves many unknown; BaB must never contradict the oracle, must
 * decide a minimum share of them, and planted faults in the splits must be caught by the same comparison. Every
 * other instance has a second clause (o1 − o0 <= rhs2, unsafe nowhere but left open by CROWN): branch and bound
 * must refute both in every subdomain.
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
#include "check/bab.h"
#include "net/bound.h"
#include "net/spec_attack.h"
#include "testutil.h"

#define MAXD 3
#define MAXH 6

typedef struct {
    size_t d, clause[3];
    double lo[MAXD], hi[MAXD], c[4], rhs[2];
    cr_spec_part part;
    cr_spec spec;
} tspec;

/* n_clauses one-row clauses (1 or 2): row q is c[2q..2q+1]·o <= rhs[q] */
static void tspec_init(tspec *s, size_t d, size_t n_clauses) {
    s->d = d;
    s->clause[0] = 0, s->clause[1] = 1, s->clause[2] = 2;
    s->part = (cr_spec_part){.d = d, .k = 2, .n_rows = n_clauses, .n_clauses = n_clauses, .lo = s->lo, .hi = s->hi,
                             .lo_in = s->lo, .hi_in = s->hi, .c = s->c, .rhs = s->rhs, .rhs_in = s->rhs,
                             .clause = s->clause};
    s->spec = (cr_spec){.n_parts = 1, .parts = &s->part};
}

/* c·o(x) by plain loops in long double (independent of the library's passes) */
static long double row_ld(const cr_net *net, const double *c, const long double *x) {
    long double o[64];
    tu_forward_ld(net, x, NULL, 0, o);
    return c[0] * o[0] + c[1] * o[1];
}

/* Solves the d x d system a x = b (row-major) by Gaussian elimination with partial pivoting; 0 when singular. */
static int solve(size_t d, long double *a, long double *b, long double *x) {
    for (size_t col = 0; col < d; col++) {
        size_t piv = col;
        for (size_t r = col + 1; r < d; r++)
            if (fabsl(a[r * d + col]) > fabsl(a[piv * d + col])) piv = r;
        if (fabsl(a[piv * d + col]) < 1e-12L) return 0;
        for (size_t j = 0; j < d; j++) {
            long double t = a[col * d + j];
            a[col * d + j] = a[piv * d + j];
            a[piv * d + j] = t;
        }
        long double t = b[col];
        b[col] = b[piv];
        b[piv] = t;
        for (size_t r = col + 1; r < d; r++) {
            const long double f = a[r * d + col] / a[col * d + col];
            for (size_t j = col; j < d; j++) a[r * d + j] -= f * a[col * d + j];
            b[r] -= f * b[col];
        }
    }
    for (size_t r = d; r-- > 0;) {
        long double s = b[r];
        for (size_t j = r + 1; j < d; j++) s -= a[r * d + j] * x[j];
        x[r] = s / a[r * d + r];
    }
    return 1;
}

/* The exact minimum of c·o over the box (see the top). */
static long double oracle_min(const cr_net *net, const tspec *s, const double *c) {
    const size_t d = s->d, n1 = cr_net_width(net, 1), n2 = cr_net_width(net, 2), nh = n1 + n2;
    const double *p = cr_net_params_const(net), *w0 = p + cr_net_weight_offset(net, 0), *b0 = p + cr_net_bias_offset(net, 0),
                 *w1 = p + cr_net_weight_offset(net, 1), *b1 = p + cr_net_bias_offset(net, 1);
    enum { MAXC = 2 * MAXD + 2 * MAXH };
    long double A[MAXC][MAXD], B[MAXC], best = INFINITY;
    for (unsigned long pat = 0; pat < (1ul << nh); pat++) {
        size_t nc = 0;
        for (size_t q = 0; q < d; q++) { /* lo <= x_q <= hi */
            for (size_t r = 0; r < d; r++) A[nc][r] = A[nc + 1][r] = 0;
            A[nc][q] = -1, B[nc] = -s->lo[q];
            A[nc + 1][q] = 1, B[nc + 1] = s->hi[q];
            nc += 2;
        }
        long double a1[MAXH][MAXD + 1]; /* z1_j = a1·x + a1[d] */
        for (size_t j = 0; j < n1; j++) {
            for (size_t q = 0; q < d; q++) a1[j][q] = w0[q * n1 + j];
            a1[j][d] = b0[j];
            const long double sg = (pat >> j) & 1 ? -1 : 1; /* active: −z <= 0; inactive: z <= 0 */
            for (size_t q = 0; q < d; q++) A[nc][q] = sg * a1[j][q];
            B[nc++] = -sg * a1[j][d];
        }
        for (size_t k = 0; k < n2; k++) {
            long double a2[MAXD + 1] = {0};
            a2[d] = b1[k];
            for (size_t j = 0; j < n1; j++)
                if ((pat >> j) & 1)
                    for (size_t q = 0; q <= d; q++) a2[q] += a1[j][q] * w1[j * n2 + k];
            const long double sg = (pat >> (n1 + k)) & 1 ? -1 : 1;
            for (size_t q = 0; q < d; q++) A[nc][q] = sg * a2[q];
            B[nc++] = -sg * a2[d];
        }
        size_t pick[MAXD];
        for (size_t i = 0; i < d; i++) pick[i] = i;
        for (;;) { /* every d-subset of the nc constraints */
            long double M[MAXD * MAXD], rb[MAXD], x[MAXD];
            for (size_t i = 0; i < d; i++) {
                for (size_t q = 0; q < d; q++) M[i * d + q] = A[pick[i]][q];
                rb[i] = B[pick[i]];
            }
            if (solve(d, M, rb, x)) {
                int ok = 1;
                for (size_t r = 0; r < nc && ok; r++) {
                    long double v = -B[r], sc = fabsl(B[r]);
                    for (size_t q = 0; q < d; q++) v += A[r][q] * x[q], sc += fabsl(A[r][q] * x[q]);
                    ok = v <= 1e-9L * (1 + sc);
                }
                if (ok) {
                    for (size_t q = 0; q < d; q++) x[q] = fminl(fmaxl(x[q], s->lo[q]), s->hi[q]);
                    const long double v = row_ld(net, c, x);
                    if (v < best) best = v;
                }
            }
            size_t i = d; /* next subset */
            while (i-- > 0 && pick[i] == nc - d + i) {}
            if (i == (size_t)-1) break;
            pick[i]++;
            for (size_t j = i + 1; j < d; j++) pick[j] = pick[j - 1] + 1;
        }
    }
    return best;
}

typedef struct {
    int trials, crown_unknown, bab_decided, bab_unsat, bab_sat, wrong, sat_by_bab;
    size_t domains;
} tally;

static int quick(void) {
    const char *q = getenv("CR_TEST_QUICK");
    return q && *q && strcmp(q, "0");
}

/* One random instance near the boundary; runs CROWN alone and BaB with the given split; tallies against the
   oracle. wrong counts verdicts contradicting it (the test fails on any unless a fault is planted). */
static void one_trial(cr_rng *rng, int trial, cr_bab_split split, cr_bound_method method, int force_sat, tally *t) {
    const size_t d = 2 + (size_t)(trial % 2);
    const size_t n1 = 3 + (size_t)cr_rng_below(rng, d == 2 ? 4 : 3), n2 = 3 + (size_t)cr_rng_below(rng, d == 2 ? 4 : 3);
    size_t dims[4] = {d, n1, n2, 2};
    cr_activation acts[2] = {CR_ACT_RELU, CR_ACT_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
    double *p = cr_net_params_f64(net);
    for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] = 2 * cr_rng_uniform(rng) - 1;
    tspec s;
    const size_t nq = 1 + (size_t)(trial % 2); /* odd trials: a second clause, always refuted in truth */
    tspec_init(&s, d, nq);
    for (size_t q = 0; q < d; q++) {
        const double c0 = 2 * cr_rng_uniform(rng) - 1, w = 0.2 + 1.3 * cr_rng_uniform(rng);
        s.lo[q] = c0 - w / 2;
        s.hi[q] = c0 + w / 2;
    }
    s.c[0] = 1, s.c[1] = -1, s.c[2] = -1, s.c[3] = 1;
    long double m2 = 0;
    double lb[2];
    cr_bound_options bo = {.method = CR_BOUND_CROWN};
    assert_int_equal(cr_net_bound(NULL, net, s.lo, s.hi, nq, s.c, &bo, lb, NULL), CR_OK);
    if (nq == 2) { /* o1 − o0 <= rhs[1]: the exact minimum less 0.1-0.6 of CROWN's gap (unsafe nowhere) */
        m2 = oracle_min(net, &s, s.c + 2);
        if (!(lb[1] <= m2 + 1e-9L)) fail_msg("trial %d: CROWN's bound above the exact minimum", trial);
        s.rhs[1] = (double)m2 - (0.1 + 0.5 * cr_rng_uniform(rng)) * (double)(m2 - lb[1]) - 1e-9;
    }
    const long double m = oracle_min(net, &s, s.c);
    if (!(lb[0] <= m + 1e-9L)) fail_msg("trial %d: CROWN's bound %.17g above the exact minimum %.17Lg", trial, lb[0], m);
    const double gap = (double)(m - lb[0]);
    const int want_sat = force_sat || cr_rng_below(rng, 3) == 0;
    const double u = 0.02 + 0.5 * cr_rng_uniform(rng);
    s.rhs[0] = want_sat ? (double)m + (force_sat ? 1e-7 : u * 0.2 * gap + 1e-6) : (double)m - u * gap - 1e-9;
    const int truth_sat = m <= s.rhs[0] || (nq == 2 && m2 <= s.rhs[1]); /* unsafe: some row <= rhs somewhere */
    double x[MAXD], o[2];
    cr_certify_result res = {.witness = x, .witness_out = o};
    cr_certify_options opt = {.seed = (uint64_t)trial, .attack_restarts = 1, .attack_steps = 2};
    opt.bound.method = CR_BOUND_CROWN;
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
    const cr_verdict v0 = res.verdict;
    opt.bab = 1;
    opt.bab_split = split;
    opt.bab_max_domains = quick() ? 400 : 3000;
    opt.bound.method = method;
    assert_int_equal(cr_certify(NULL, net, &s.spec, &opt, &res), CR_OK);
    t->trials++;
    t->domains += res.domains;
    int wrong = (v0 == CR_VERDICT_UNSAT && truth_sat) || (v0 == CR_VERDICT_SAT && !truth_sat);
    if (wrong) fail_msg("trial %d: CROWN alone says %s, the oracle disagrees", trial, cr_verdict_name(v0));
    if (res.verdict == CR_VERDICT_UNSAT && truth_sat) wrong = 1;
    if (res.verdict == CR_VERDICT_SAT) {
        long double xl[MAXD];
        for (size_t q = 0; q < d; q++) {
            xl[q] = x[q];
            if (!(x[q] >= s.lo[q] && x[q] <= s.hi[q])) wrong = 1;
        }
        if (!(row_ld(net, s.c, xl) <= s.rhs[0] || (nq == 2 && row_ld(net, s.c + 2, xl) <= s.rhs[1])) || !truth_sat)
            wrong = 1;
        if (res.proved_by && !strcmp(res.proved_by, "bab")) t->sat_by_bab++;
    }
    t->wrong += wrong;
    if (v0 == CR_VERDICT_UNKNOWN) {
        t->crown_unknown++;
        if (res.verdict == CR_VERDICT_UNSAT || res.verdict == CR_VERDICT_SAT) t->bab_decided++;
        t->bab_unsat += res.verdict == CR_VERDICT_UNSAT;
        t->bab_sat += res.verdict == CR_VERDICT_SAT;
    }
    if (wrong && !chk_bab_test_fault)
        fail_msg("trial %d (d %zu, split %d): BaB says %s, the exact minimum %.17Lg vs rhs %.17g", trial, d,
                 (int)split, cr_verdict_name(res.verdict), m, s.rhs[0]);
    cr_net_free(net);
}

static void run_oracle(cr_bab_split split, cr_bound_method method, const char *name, int n, int min_unknown,
                       int min_decided) {
    cr_rng rng;
    cr_rng_seed(&rng, 1600 + (uint64_t)split);
    tally t = {0};
    for (int trial = 0; trial < n; trial++) one_trial(&rng, trial, split, method, 0, &t);
    print_message("%s: %d instances, CROWN left %d unknown, BaB decided %d of them (%d unsat, %d sat; "
                  "%d witnesses from BaB), %zu subdomains\n",
                  name, t.trials, t.crown_unknown, t.bab_decided, t.bab_unsat, t.bab_sat, t.sat_by_bab, t.domains);
    assert_int_equal(t.wrong, 0);
    /* guards against a vacuous pass: CROWN leaves many unknown, BaB decides a good share of them */
    assert_true(t.crown_unknown >= min_unknown);
    assert_true(t.bab_decided >= min_decided);
    assert_true(t.bab_unsat >= 1);
}

static void test_relu_splits_oracle(void **state) {
    (void)state;
    const int n = quick() ? 12 : 60;
    run_oracle(CR_BAB_SPLIT_RELU, CR_BOUND_CROWN, "ReLU splits", n, n / 3, n / 6);
}

static void test_input_splits_oracle(void **state) {
    (void)state;
    const int n = quick() ? 12 : 60;
    run_oracle(CR_BAB_SPLIT_INPUT, CR_BOUND_CROWN, "input splits", n, n / 3, n / 4);
}

/* α-CROWN in the subdomains (cr_certify's choice when bound.method is CR_BOUND_ALPHA), ReLU splits */
static void test_alpha_subdomains_oracle(void **state) {
    (void)state;
    const int n = quick() ? 8 : 30;
    run_oracle(CR_BAB_SPLIT_RELU, CR_BOUND_ALPHA, "ReLU splits, alpha subdomains", n, n / 4, n / 6);
}

/* β-CROWN's multipliers in α's subdomains (bound_beta.c; children keep their parent's intermediates,
   cr_bound_split.reuse) against the same oracle, beside α alone with intermediates recomputed, on the same
   instances: never wrong, either way. */
static void test_beta_subdomains_oracle(void **state) {
    (void)state;
    const int n = quick() ? 8 : 30;
    size_t dom[2];
    int decided[2];
    for (int on = 0; on < 2; on++) {
        cr_rng rng;
        cr_rng_seed(&rng, 1650);
        tally t = {0};
        cr_bound_beta_on = on;
        for (int trial = 0; trial < n; trial++) one_trial(&rng, trial, CR_BAB_SPLIT_RELU, CR_BOUND_ALPHA, 0, &t);
        cr_bound_beta_on = 1;
        assert_int_equal(t.wrong, 0);
        dom[on] = t.domains;
        decided[on] = t.bab_decided;
        print_message("alpha subdomains, beta %s: %d instances, CROWN left %d unknown, BaB decided %d, %zu subdomains\n",
                      on ? "on" : "off", t.trials, t.crown_unknown, t.bab_decided, t.domains);
    }
    /* guards: both decide most of what CROWN left (β's tightness itself: test_beta) */
    assert_true(decided[0] >= n / 2 && decided[1] >= n / 2);
    assert_true(dom[0] > 0 && dom[1] > 0);
}

/* Planted faults: a split that loses part of its subdomain must give a wrong unsat the oracle catches (on sat
   instances whose violating set is tiny: rhs = the exact minimum + 1e-7, so that the witness lies in one place). */
static void test_planted_faults(void **state) {
    (void)state;
    const struct {
        int fault;
        cr_bab_split split;
    } plants[] = {{CHK_BAB_FAULT_SAME_SIDE, CR_BAB_SPLIT_RELU}, {CHK_BAB_FAULT_DROP_GAP, CR_BAB_SPLIT_INPUT}};
    for (size_t i = 0; i < sizeof plants / sizeof plants[0]; i++) {
        cr_rng rng;
        cr_rng_seed(&rng, 1700 + i);
        tally t = {0};
        chk_bab_test_fault = plants[i].fault;
        for (int trial = 0; trial < (quick() ? 16 : 40) && t.wrong == 0; trial++)
            one_trial(&rng, trial, plants[i].split, CR_BOUND_CROWN, 1, &t);
        chk_bab_test_fault = 0;
        print_message("fault %d: %d wrong verdicts in %d instances\n", plants[i].fault, t.wrong, t.trials);
        assert_true(t.wrong >= 1);
        /* guard: the same instances without the fault are never wrong (one_trial fails the test otherwise), so
           the wrong verdict is the fault's, not the oracle's */
        const int n = t.trials;
        cr_rng_seed(&rng, 1700 + i);
        t = (tally){0};
        for (int trial = 0; trial < n; trial++) one_trial(&rng, trial, plants[i].split, CR_BOUND_CROWN, 1, &t);
        assert_int_equal(t.wrong, 0);
    }
}

/* Every relaxable activation, input splits (D = 2 to 4, sigmoid / tanh / ReLU, two hidden layers of 8): BaB never
   says unsat where sampling (a grid and random points, 4000, in long double) finds a violation, never sat without a
   witness in the box that violates by the independent evaluation; rhs just under the sampled minimum, so that
   CROWN alone leaves most unknown; guard: BaB decides a share of them. */
static void sampling_oracle(cr_bab_split split, cr_bound_method method, uint64_t seed, const char *name, int share) {
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    const cr_activation kinds[3] = {CR_ACT_SIGMOID, CR_ACT_TANH, CR_ACT_RELU};
    int crown_unknown = 0, decided = 0, n = quick() ? 6 : 30;
    for (int trial = 0; trial < n; trial++) {
        const size_t d = 2 + (size_t)(trial % 3);
        size_t dims[4] = {d, 8, 8, 2};
        cr_activation acts[2] = {kinds[trial % 3], kinds[trial % 3]};
        cr_net *net;
        assert_int_equal(cr_net_create(&net, CR_F64, 3, dims, acts), CR_OK);
        double *p = cr_net_params_f64(net);
        for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] = 3 * (2 * cr_rng_uniform(&rng) - 1);
        double lo[4], hi[4], c[2] = {1, -1}, rhs, x[4], o[2];
        long double xl[4], smin = INFINITY;
        for (size_t q = 0; q < d; q++) lo[q] = -1 + 0.5 * cr_rng_uniform(&rng), hi[q] = lo[q] + 0.3 + cr_rng_uniform(&rng);
        for (int i = 0; i < 4000; i++) {
            for (size_t q = 0; q < d; q++) {
                const double u = i < 1000 ? (double)((i >> (3 * q)) & 7) / 7 : cr_rng_uniform(&rng);
                xl[q] = lo[q] + u * (hi[q] - lo[q]);
            }
            const long double v = row_ld(net, c, xl);
            smin = v < smin ? v : smin;
        }
        double lb;
        cr_bound_options bo = {.method = CR_BOUND_CROWN};
        assert_int_equal(cr_net_bound(NULL, net, lo, hi, 1, c, &bo, &lb, NULL), CR_OK);
        rhs = (double)smin - (trial % 2 ? 0.3 : -0.02) * ((double)smin - lb); /* odd: just under; even: over */
        size_t clause[2] = {0, 1};
        cr_spec_part part = {.d = d, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = lo, .hi = hi, .lo_in = lo,
                             .hi_in = hi, .c = c, .rhs = &rhs, .rhs_in = &rhs, .clause = clause};
        cr_spec spec = {.n_parts = 1, .parts = &part};
        cr_certify_options opt = {.seed = 1, .attack_restarts = 1, .attack_steps = 2};
        opt.bound.method = CR_BOUND_CROWN;
        cr_certify_result res = {.witness = x, .witness_out = o};
        assert_int_equal(cr_certify(NULL, net, &spec, &opt, &res), CR_OK);
        const cr_verdict v0 = res.verdict;
        opt.bab = 1;
        opt.bab_split = split;
        opt.bab_max_domains = quick() ? 300 : 3000;
        opt.bound.method = method;
        assert_int_equal(cr_certify(NULL, net, &spec, &opt, &res), CR_OK);
        if (res.verdict == CR_VERDICT_UNSAT && smin <= rhs)
            fail_msg("trial %d (%s): unsat, but a sample has margin %.17Lg <= rhs %.17g", trial,
                     cr_activation_name(acts[0]), smin, rhs);
        if (res.verdict == CR_VERDICT_SAT) {
            for (size_t q = 0; q < d; q++) {
                assert_true(x[q] >= lo[q] && x[q] <= hi[q]);
                xl[q] = x[q];
            }
            assert_true(row_ld(net, c, xl) <= rhs);
        }
        if (v0 == CR_VERDICT_UNKNOWN) {
            crown_unknown++;
            decided += res.verdict == CR_VERDICT_UNSAT || res.verdict == CR_VERDICT_SAT;
        }
        cr_net_free(net);
    }
    print_message("every activation, %s: %d instances, CROWN left %d unknown, BaB decided %d\n", name, n,
                  crown_unknown, decided);
    assert_true(crown_unknown >= n / 2 && decided >= crown_unknown / share);
}

static void test_sampling_every_activation(void **state) {
    (void)state;
    sampling_oracle(CR_BAB_SPLIT_INPUT, CR_BOUND_CROWN, 1800, "input splits", 2);
}

/* Unit splits of every activation (sigmoid and tanh units split at 0 or at their interval's midpoint, ReLUs at 0),
   the subdomains by CROWN and by α (with β on the clamps at 0): the same sampling oracle. At D <= 4 input splits
   decide more (they also try the box centres as witnesses); the guard asks a quarter. */
static void test_sampling_unit_splits(void **state) {
    (void)state;
    sampling_oracle(CR_BAB_SPLIT_RELU, CR_BOUND_CROWN, 1810, "unit splits, CROWN", 4);
    sampling_oracle(CR_BAB_SPLIT_RELU, CR_BOUND_ALPHA, 1820, "unit splits, alpha+beta", 4);
}

/* --timeout is honoured inside the phases: branch and bound checks the deadline before each subdomain, the attack
   at each step. A net whose property BaB cannot settle in 0.2 s (D = 20, three hidden layers of 30 ReLUs, rhs
   just under the smallest sampled margin): timeout, after at least 0.2 s and within a small margin. */
static void test_timeout_inside_phases(void **state) {
    (void)state;
    size_t dims[5] = {20, 30, 30, 30, 2};
    cr_activation acts[3] = {CR_ACT_RELU, CR_ACT_RELU, CR_ACT_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 4, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 5);
    double lo[20], hi[20], c[2] = {1, -1}, rhs, x[20];
    for (size_t q = 0; q < 20; q++) lo[q] = -1, hi[q] = 1;
    rhs = 0;
    size_t clause[2] = {0, 1};
    cr_spec_part part = {.d = 20, .k = 2, .n_rows = 1, .n_clauses = 1, .lo = lo, .hi = hi, .lo_in = lo,
                         .hi_in = hi, .c = c, .rhs = &rhs, .rhs_in = &rhs, .clause = clause};
    cr_spec spec = {.n_parts = 1, .parts = &part};
    double best;
    int stopped;
    assert_int_equal(cr_spec_attack_f64(net, &part, 30, 200, 7, NULL, NULL, x, &best, &stopped), CR_OK);
    rhs = best - 0.05 * fabs(best); /* below the smallest margin a strong attack finds */
    const double slack = quick() ? 1.5 : 0.3; /* valgrind and the sanitizers run 10-50x slower */
    /* under valgrind the phases before branch and bound can take 0.2 s, and the deadline now also stops them
       inside a bound: 1 s there, so that the time still goes into branch and bound */
    const double tmo = quick() ? 1.0 : 0.2;
    cr_certify_options opt = {.timeout_s = tmo, .bab = 1, .seed = 1, .attack_restarts = 1, .attack_steps = 1};
    opt.bound.method = CR_BOUND_CROWN;
    cr_certify_result res = {0};
    assert_int_equal(cr_certify(NULL, net, &spec, &opt, &res), CR_OK);
    print_message("BaB: %s after %.3f s, %zu subdomains\n", cr_verdict_name(res.verdict), res.seconds, res.domains);
    assert_int_equal(res.verdict, CR_VERDICT_TIMEOUT);
    assert_true(res.seconds >= tmo && res.seconds < tmo + slack);
    assert_true(res.domains >= (quick() ? 1u : 10u)); /* guard: the time went into branch and bound */
    /* the attack phase: a million steps per restart, stopped at the deadline */
    cr_certify_options att = {.timeout_s = 0.2, .attack_steps = 1000000, .seed = 1};
    assert_int_equal(cr_certify(NULL, net, &spec, &att, &res), CR_OK);
    print_message("attack: %s after %.3f s\n", cr_verdict_name(res.verdict), res.seconds);
    assert_int_equal(res.verdict, CR_VERDICT_TIMEOUT);
    assert_true(res.seconds >= 0.2 && res.seconds < 0.2 + slack);
    cr_net_free(net);
}

/* The deadline inside one bound (cr_bound_split.deadline): α-CROWN with optimised intermediates on a net where one
   root bound takes T (measured here, ~0.5 s in Release). Before, the deadline was checked only between subdomains
   and phases, so a timeout came one whole root bound late (26 s under load on the 9x200 net). Now:
   - a deadline already passed: timed_out, every lb −inf, the intermediates' outputs not written;
   - a deadline a quarter into the bound: timed_out within a quarter of T after it, or 0.1 s on a fast run (a check
     at every α iteration and between intermediate layers);
   - at any deadline the result is either the full bound, bit for bit, or void (−inf): never a partial one (on 1
     or 3 workers: each α block checks the deadline itself);
   - cr_certify with α and a timeout inside the root bound answers timeout promptly;
   - warm_out (branch and bound's warm start) with 120 rows in three blocks is the same bits on 1 and 3 workers. */
static void test_timeout_inside_one_bound(void **state) {
    (void)state;
    const size_t w = quick() ? 24 : 60, D = quick() ? 30 : 100;
    size_t dims[6] = {D, w, w, w, w, 10};
    cr_activation acts[4] = {CR_ACT_RELU, CR_ACT_RELU, CR_ACT_RELU, CR_ACT_RELU};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 5, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 11);
    double lo[100], hi[100], c[9 * 10] = {0}, lb[9], lb_full[9], zl[4 * 60], zu[4 * 60];
    for (size_t q = 0; q < D; q++) lo[q] = -0.3 + 0.001 * (double)q, hi[q] = lo[q] + 0.5;
    for (size_t r = 0; r < 9; r++) c[r * 10] = 1, c[r * 10 + r + 1] = -1; /* o_0 − o_j */
    /* the steps sized so that one bound takes ~0.3 s whatever the build (valgrind, TSan: 20 steps) */
    cr_bound_options bo = {.method = CR_BOUND_ALPHA, .alpha_iters = 10};
    double t = cr_bound_now_s();
    assert_int_equal(cr_net_bound_split(NULL, net, lo, hi, 9, c, &bo, NULL, lb_full, NULL), CR_OK);
    const double t10 = cr_bound_now_s() - t, want = 10 * 0.3 / (t10 > 1e-6 ? t10 : 1e-6);
    bo.alpha_iters = want > 150 ? 150 : want < 20 ? 20 : (size_t)want;
    cr_ctx *cx; /* three workers: each α block checks the deadline on its own (per-worker flags, TSan) */
    assert_int_equal(cr_ctx_create(&cx, 3), CR_OK);
    cr_bound_split sp = {0};
    for (int l = 0; l < 4; l++) sp.zl_out[l] = zl + l * w, sp.zu_out[l] = zu + l * w;
    t = cr_bound_now_s();
    assert_int_equal(cr_net_bound_split(NULL, net, lo, hi, 9, c, &bo, &sp, lb_full, NULL), CR_OK);
    const double T = cr_bound_now_s() - t, allow = fmax(0.25 * T, 0.1); /* how late an answer may come */
    assert_false(sp.timed_out);
    for (size_t r = 0; r < 9; r++) assert_true(isfinite(lb_full[r]));
    print_message("one α bound with intermediates, %zu steps: %.3f s\n", bo.alpha_iters, T);
    /* a deadline already passed */
    for (size_t i = 0; i < 4 * w; i++) zl[i] = zu[i] = NAN;
    sp.deadline = cr_bound_now_s();
    t = cr_bound_now_s();
    assert_int_equal(cr_net_bound_split(cx, net, lo, hi, 9, c, &bo, &sp, lb, NULL), CR_OK);
    assert_true(sp.timed_out);
    assert_true(cr_bound_now_s() - t < allow);
    for (size_t r = 0; r < 9; r++) assert_true(lb[r] == -INFINITY);
    for (size_t i = 0; i < 4 * w; i++) assert_true(isnan(zl[i]) && isnan(zu[i]));
    /* a quarter into it */
    t = cr_bound_now_s();
    sp.deadline = t + 0.25 * T;
    assert_int_equal(cr_net_bound_split(cx, net, lo, hi, 9, c, &bo, &sp, lb, NULL), CR_OK);
    const double late = cr_bound_now_s() - sp.deadline;
    print_message("deadline at T/4: timed_out %d, answered %.4f s after it\n", sp.timed_out, late);
    assert_true(sp.timed_out);
    assert_true(late < allow);
    for (size_t r = 0; r < 9; r++) assert_true(lb[r] == -INFINITY);
    /* anywhere: the full bound or none */
    int full = 0, none = 0;
    for (int k = 1; k <= 6; k++) {
        sp.deadline = cr_bound_now_s() + (double)k * 0.2 * T;
        assert_int_equal(cr_net_bound_split(k % 2 ? cx : NULL, net, lo, hi, 9, c, &bo, &sp, lb, NULL), CR_OK);
        for (size_t r = 0; r < 9; r++)
            assert_true(sp.timed_out ? lb[r] == -INFINITY : lb[r] == lb_full[r]);
        full += !sp.timed_out, none += sp.timed_out;
    }
    print_message("deadlines 0.2T..1.2T: %d full, %d void\n", full, none);
    assert_true(none >= 1); /* guard: some were interrupted */
    /* cr_certify: a timeout inside the root α bound (rhs just under α's bound: not falsifiable, and left open by IBP
       and CROWN, checked below, so that α runs and proves it without a timeout) */
    double rhs[9];
    size_t clause[10];
    for (size_t r = 0; r < 9; r++) rhs[r] = lb_full[r] - 1e-6 * fabs(lb_full[r]), clause[r] = r;
    clause[9] = 9;
    cr_spec_part part = {.d = D, .k = 10, .n_rows = 9, .n_clauses = 9, .lo = lo, .hi = hi, .lo_in = lo,
                         .hi_in = hi, .c = c, .rhs = rhs, .rhs_in = rhs, .clause = clause};
    cr_spec spec = {.n_parts = 1, .parts = &part};
    cr_certify_options opt = {.timeout_s = 0.1 * T, .seed = 1, .attack_restarts = 1, .attack_steps = 1};
    opt.bound = bo;
    cr_certify_result res = {0};
    assert_int_equal(cr_certify(NULL, net, &spec, &opt, &res), CR_OK);
    print_message("cr_certify, α, timeout %.3f s: %s after %.3f s\n", opt.timeout_s, cr_verdict_name(res.verdict),
                  res.seconds);
    assert_int_equal(res.verdict, CR_VERDICT_TIMEOUT);
    assert_true(res.seconds < 0.1 * T + allow);
    opt.timeout_s = 0; /* guard: without the timeout α decides it, after CROWN could not */
    assert_int_equal(cr_certify(NULL, net, &spec, &opt, &res), CR_OK);
    print_message("without a timeout: %s by %s after %.3f s\n", cr_verdict_name(res.verdict),
                  res.proved_by ? res.proved_by : "-", res.seconds);
    assert_int_equal(res.verdict, CR_VERDICT_UNSAT);
    assert_string_equal(res.proved_by, "alpha");
    /* the warm start's values out with 120 spec rows in three blocks on three workers: each row's written by its
       own block, the same bits as with one worker */
    enum { MW = 120 };
    const size_t S = cr_bound_warm_stride(net);
    double *cw = malloc(MW * 10 * sizeof *cw), *w1 = malloc(2 * MW * S * sizeof *w1), *w3 = w1 + MW * S, lw1[MW], lw3[MW];
    assert_non_null(cw);
    assert_non_null(w1);
    cr_rng rng;
    cr_rng_seed(&rng, 77);
    for (size_t i = 0; i < MW * 10; i++) cw[i] = 2 * cr_rng_uniform(&rng) - 1;
    cr_bound_options wo = {.method = CR_BOUND_ALPHA, .alpha_intermediate = -1, .alpha_iters = 5};
    for (int pass = 0; pass < 2; pass++) {
        double *wout = pass ? w3 : w1;
        for (size_t i = 0; i < MW * S; i++) wout[i] = NAN;
        cr_bound_split ws = {.lower_only = 1, .warm_out = wout};
        assert_int_equal(cr_net_bound_split(pass ? cx : NULL, net, lo, hi, MW, cw, &wo, &ws, pass ? lw3 : lw1, NULL),
                         CR_OK);
    }
    assert_memory_equal(lw1, lw3, sizeof lw1);
    assert_memory_equal(w1, w3, MW * S * sizeof *w1);
    assert_false(isnan(w1[0]) || isnan(w1[(MW - 1) * S])); /* guard: written */
    free(cw);
    free(w1);
    cr_ctx_free(cx);
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_splits_oracle),
        cmocka_unit_test(test_input_splits_oracle),
        cmocka_unit_test(test_alpha_subdomains_oracle),
        cmocka_unit_test(test_beta_subdomains_oracle),
        cmocka_unit_test(test_planted_faults),
        cmocka_unit_test(test_sampling_every_activation),
        cmocka_unit_test(test_sampling_unit_splits),
        cmocka_unit_test(test_timeout_inside_phases),
        cmocka_unit_test(test_timeout_inside_one_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
