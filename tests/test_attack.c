/*
 * test_attack — adversarial examples (issue 4), on a small network trained in
 * the test (plain SGD with cr_net_backward_f64, a few hundred steps, on a
 * synthetic separable dataset in [0, 1]^D):
 *   - the model is accurate; FGSM (L_inf and L2) lowers the accuracy a lot and
 *     raises the loss; for a tiny eps the realised loss change matches the
 *     first-order prediction g . (x' - x);
 *   - PGD (both norms, with and without random start) stays inside the eps-ball
 *     and the valid range, and is no weaker than FGSM;
 *   - a targeted attack reaches its target more often than chance;
 *   - eps = 0 changes nothing; float32 runs too;
 *   - the statistics in float32 are the in-order scans of x' and of ∂J/∂x, bit for bit,
 *     signed zeros included;
 *   - PGD's clean and adversarial loss and accuracy, taken from its iterations' forward
 *     passes, equal separate forward passes of x and x', bit for bit.
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

#define D 24
#define K 4
#define NTRAIN 800
#define NTEST 400

static cr_net *net;
static double xtr[NTRAIN * D], xte[NTEST * D];
static int64_t ytr[NTRAIN], yte[NTEST];

static void make_data(double *x, int64_t *y, size_t n, uint64_t seed) {
    double centers[K * D];
    tu_fill_uniform(centers, K * D, 0.4, 0.6, 99); /* the same classes for train and test */
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int64_t)cr_rng_below(&rng, K);
        for (size_t j = 0; j < D; j++) {
            double v = centers[y[i] * D + j] + 0.08 * cr_rng_normal(&rng);
            x[i * D + j] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
    }
}

static int setup(void **state) {
    (void)state;
    make_data(xtr, ytr, NTRAIN, 1);
    make_data(xte, yte, NTEST, 2);
    size_t dims[] = {D, 16, K};
    cr_activation act[] = {CR_ACT_SIGMOID};
    if (cr_net_create(&net, CR_F64, 2, dims, act) != CR_OK) return -1;
    cr_net_init(net, CR_INIT_AUTO, 3);
    /* plain minibatch SGD */
    const size_t b = 32;
    cr_tape *tape;
    double *grads = malloc(cr_net_n_params(net) * sizeof(double)), y[32 * K];
    if (cr_tape_create(net, b, &tape) != CR_OK || !grads) return -1;
    double *p = cr_net_params_f64(net);
    for (size_t step = 0; step < 600; step++) {
        size_t i0 = (step * b) % NTRAIN;
        cr_onehot_f64(b, K, ytr + i0, y);
        cr_net_forward_f64(net, tape, b, xtr + i0 * D);
        cr_net_backward_f64(net, tape, y, NULL, grads);
        for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] -= 1.0 * grads[i];
    }
    cr_tape_free(tape);
    free(grads);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    cr_net_free(net);
    return 0;
}

static cr_attack_options opts(cr_attack_method m, cr_norm norm, double eps) {
    cr_attack_options o = {0};
    o.method = m;
    o.norm = norm;
    o.eps = eps;
    o.lo = 0;
    o.hi = 1;
    o.seed = 7;
    return o;
}

static double xadv[NTEST * D];

static void check_inside(const cr_attack_options *o) {
    for (size_t i = 0; i < NTEST; i++) {
        double linf = 0, l2 = 0;
        for (size_t j = 0; j < D; j++) {
            double v = xadv[i * D + j], dv = v - xte[i * D + j];
            assert_true(v >= o->lo && v <= o->hi);
            linf = fmax(linf, fabs(dv));
            l2 += dv * dv;
        }
        double dist = o->norm == CR_NORM_LINF ? linf : sqrt(l2);
        assert_true(dist <= o->eps * (1 + 1e-12));
    }
}

static void test_fgsm_lowers_accuracy(void **state) {
    (void)state;
    for (int norm = 0; norm <= 1; norm++) {
        double eps = norm == CR_NORM_LINF ? 0.1 : 0.5;
        cr_attack_options o = opts(CR_ATTACK_FGSM, (cr_norm)norm, eps);
        cr_attack_stats s;
        assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &o, xadv, &s), CR_OK);
        double clean = (double)s.correct_clean / NTEST, adv = (double)s.correct_adv / NTEST;
        print_message("FGSM %s eps=%g: clean %.3f adversarial %.3f, loss %.3f -> %.3f, "
                      "predicted dJ %.3f (clipped %.3f)\n",
                      norm ? "L2" : "Linf", eps, clean, adv, s.loss_clean / NTEST,
                      s.loss_adv / NTEST, s.pred_dloss / NTEST, s.pred_dloss_clip / NTEST);
        assert_true(clean >= 0.95);
        assert_true(adv <= clean - 0.4);
        assert_true(s.loss_adv > s.loss_clean);
        assert_true(s.pred_dloss >= s.pred_dloss_clip - 1e-12); /* the clip only removes */
        check_inside(&o);
    }
    /* first order: a tiny step changes the loss by g . (x' - x) */
    cr_attack_options o = opts(CR_ATTACK_FGSM, CR_NORM_LINF, 1e-5);
    cr_attack_stats s;
    assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &o, xadv, &s), CR_OK);
    double real_d = s.loss_adv - s.loss_clean;
    assert_true(fabs(real_d - s.pred_dloss_clip) <= 1e-3 * fabs(s.pred_dloss_clip));
}

static void test_pgd_inside_and_stronger(void **state) {
    (void)state;
    for (int norm = 0; norm <= 1; norm++) {
        double eps = norm == CR_NORM_LINF ? 0.05 : 0.3;
        cr_attack_options f = opts(CR_ATTACK_FGSM, (cr_norm)norm, eps);
        cr_attack_stats sf, sp;
        assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &f, xadv, &sf), CR_OK);
        for (int rs = 0; rs <= 1; rs++) {
            cr_attack_options o = opts(CR_ATTACK_PGD, (cr_norm)norm, eps);
            o.steps = 10;
            o.random_start = rs;
            assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &o, xadv, &sp), CR_OK);
            print_message("%s eps=%g: FGSM acc %zu/%d, PGD%s acc %zu/%d, max dist %.6f\n",
                          norm ? "L2" : "Linf", eps, sf.correct_adv, NTEST,
                          rs ? " (random start)" : "", sp.correct_adv, NTEST, sp.max_dist);
            check_inside(&o);
            assert_true(sp.max_dist <= eps * (1 + 1e-12));
            assert_true(sp.min_value >= 0 && sp.max_value <= 1);
            if (rs && norm == CR_NORM_L2) {
                /* A uniform point of the L2 ball lies almost on its surface in a random
                   direction; 10 steps must first walk back along the sphere. Not a
                   theorem that this beats FGSM: it must be about as strong. */
                assert_true(sp.correct_adv <= sf.correct_adv + NTEST / 50);
            } else {
                assert_true(sp.correct_adv <= sf.correct_adv);
            }
        }
    }
}

static void test_targeted(void **state) {
    (void)state;
    int64_t target[NTEST];
    for (size_t i = 0; i < NTEST; i++) target[i] = (yte[i] + 1) % K;
    cr_attack_options o = opts(CR_ATTACK_PGD, CR_NORM_LINF, 0.15);
    cr_attack_stats s;
    assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, target, &o, xadv, &s), CR_OK);
    print_message("targeted PGD eps=0.15: hit %zu/%d, target loss %.3f -> %.3f\n", s.hit_target,
                  NTEST, s.loss_clean / NTEST, s.loss_adv / NTEST);
    assert_true(s.hit_target > NTEST / 2);
    assert_true(s.loss_adv < s.loss_clean);
    check_inside(&o);
}

static void test_eps_zero_and_f32(void **state) {
    (void)state;
    cr_attack_options o = opts(CR_ATTACK_PGD, CR_NORM_L2, 0);
    o.random_start = 1;
    cr_attack_stats s;
    assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &o, xadv, &s), CR_OK);
    assert_memory_equal(xadv, xte, sizeof xte);
    assert_int_equal(s.correct_adv, s.correct_clean);
    cr_net *n32;
    assert_int_equal(cr_net_convert(net, CR_F32, &n32), CR_OK);
    float *x32 = malloc(sizeof(float) * NTEST * D), *a32 = malloc(sizeof(float) * NTEST * D);
    for (size_t i = 0; i < NTEST * D; i++) x32[i] = (float)xte[i];
    o = opts(CR_ATTACK_FGSM, CR_NORM_LINF, 0.1);
    cr_attack_stats s32, s64;
    assert_int_equal(cr_attack_f32(NULL, n32, NTEST, x32, yte, NULL, &o, a32, &s32), CR_OK);
    assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, NULL, &o, xadv, &s64), CR_OK);
    assert_true(labs((long)s32.correct_adv - (long)s64.correct_adv) <= 2);
    o.lo = 1; /* empty range */
    assert_int_equal(cr_attack_f32(NULL, n32, NTEST, x32, yte, NULL, &o, a32, NULL), CR_ERR_ARG);
    free(x32);
    free(a32);
    cr_net_free(n32);
}

/* The statistics in float32 against the in-order scans of the output and of ∂J/∂x
   (cr_net_input_grad_f32, the same gradient bit for bit): min/max of x' (a zero extremum
   keeps the sign of the first zero of the scan), the largest distance, and for FGSM L∞
   ε Σ_i ‖g_i‖₁ and Σ_i g_i·(x'_i − x_i) with each row's sums in float, in order. The data
   have −0 and +0 in the background, in both orders, and rows that start with −0; PGD with
   ε = 0 returns them as they are (its first iterate is x), so there the minimum is the
   −0 of row 0, whose +0 at column 10 comes later but in a lower lane of 8: a lane-wise
   minimum that kept another zero would show (guard below). */
/* PGD's statistics come from its iterations' forward passes (the first is the clean pass
   when it starts at x; x' is an iterate already evaluated): they must equal one separate
   forward pass of x and of x' (NTEST rows: one chunk, the same rows, the same bits). */
static void test_pgd_stats_are_forward_passes(void **state) {
    (void)state;
    cr_tape *tape;
    double *y = malloc(sizeof(double) * NTEST * K);
    int64_t tg[NTEST];
    for (size_t i = 0; i < NTEST; i++) tg[i] = (yte[i] + 1) % K;
    assert_true(y != NULL);
    assert_int_equal(cr_tape_create(net, NTEST, &tape), CR_OK);
    for (int c = 0; c < 6; c++) {
        const int rs = c & 1, targeted = c >= 4;
        cr_attack_options o = opts(CR_ATTACK_PGD, c & 2 ? CR_NORM_L2 : CR_NORM_LINF,
                                   c & 2 ? 0.6 : 0.1);
        o.random_start = rs;
        o.steps = 4;
        cr_attack_stats s;
        assert_int_equal(cr_attack_f64(NULL, net, NTEST, xte, yte, targeted ? tg : NULL, &o, xadv, &s),
                         CR_OK);
        cr_onehot_f64(NTEST, K, targeted ? tg : yte, y); /* the attack's loss */
        for (int side = 0; side < 2; side++) {
            assert_int_equal(cr_net_forward_f64(net, tape, NTEST, side ? xadv : xte), CR_OK);
            cr_net_loss_f64(net, tape, y);
            const double *loss = cr_tape_loss(tape), *out = cr_tape_output(tape);
            double sum = 0;
            size_t correct = 0, hit = 0;
            for (size_t i = 0; i < NTEST; i++) {
                size_t best = 0;
                for (size_t j = 1; j < K; j++)
                    if (out[i * K + j] > out[i * K + best]) best = j;
                correct += best == (size_t)yte[i];
                hit += best == (size_t)tg[i];
                sum += loss[i];
            }
            assert_true(memcmp(&sum, side ? &s.loss_adv : &s.loss_clean, sizeof sum) == 0);
            assert_int_equal(correct, side ? s.correct_adv : s.correct_clean);
            if (side) assert_int_equal(targeted ? hit : 0, s.hit_target);
        }
        assert_true(targeted ? s.hit_target > 0 : s.correct_adv < s.correct_clean); /* not vacuous */
    }
    cr_tape_free(tape);
    free(y);
}

static void test_stats_are_the_scans(void **state) {
    (void)state;
    cr_net *n32;
    assert_int_equal(cr_net_convert(net, CR_F32, &n32), CR_OK);
    float *x = malloc(sizeof(float) * NTEST * D), *a = malloc(sizeof(float) * NTEST * D);
    float *g = malloc(sizeof(float) * NTEST * D), *y = calloc(NTEST * K, sizeof(float));
    assert_true(x && a && g && y);
    for (size_t i = 0; i < NTEST; i++)
        for (size_t j = 0; j < D; j++) {
            float v = (float)xte[i * D + j];
            if ((i + j) % 5 == 0) v = (i + j) % 2 ? -0.0f : 0.0f; /* background zeros */
            /* row 0: 0.5, then −0 at 5 before +0 at 10 (lanes 5 and 2 of 8) */
            if (i % 3 == 0 && j == 0) v = i ? -0.0f : 0.5f;
            x[i * D + j] = v;
        }
    cr_onehot_f32(NTEST, K, yte, y);
    assert_int_equal(cr_net_input_grad_f32(NULL, n32, NTEST, x, y, g, NULL), CR_OK);
    for (int c = 0; c < 3; c++) {
        /* FGSM L∞, FGSM L2, PGD L2 with ε = 0 (below 0 allowed: −0 is not clipped) */
        cr_attack_options o = opts(c == 2 ? CR_ATTACK_PGD : CR_ATTACK_FGSM,
                                   c ? CR_NORM_L2 : CR_NORM_LINF, c == 0 ? 0.1 : c == 1 ? 0.5 : 0);
        o.lo = c ? -1 : 0;
        cr_attack_stats s;
        assert_int_equal(cr_attack_f32(NULL, n32, NTEST, x, yte, NULL, &o, a, &s), CR_OK);
        float mn = INFINITY, mx = -INFINITY;
        double dist = 0, pred = 0, clip = 0;
        size_t zero_min_rows = 0;
        for (size_t i = 0; i < NTEST; i++) {
            const float *ai = a + i * D, *xi = x + i * D, *gi = g + i * D;
            float rmn = ai[0], rmx = ai[0], linf = 0, l2 = 0, l1 = 0, gd = 0;
            for (size_t j = 0; j < D; j++) {
                float v = ai[j], dv = v - xi[j];
                rmn = v < rmn ? v : rmn;
                rmx = v > rmx ? v : rmx;
                dv = dv < 0 ? -dv : dv;
                linf = dv > linf ? dv : linf;
                l2 += dv * dv;
                l1 += gi[j] < 0 ? -gi[j] : gi[j];
                gd += gi[j] * (v - xi[j]);
            }
            zero_min_rows += rmn == 0;
            mn = rmn < mn ? rmn : mn;
            mx = rmx > mx ? rmx : mx;
            double dd = o.norm == CR_NORM_L2 ? sqrt((double)l2) : (double)linf;
            dist = dd > dist ? dd : dist;
            pred += o.eps * (double)l1;
            clip += (double)gd;
        }
        print_message("%s %s eps %g float32: min %g (sign %d), max %g, dist %.9g; %zu rows with "
                      "a zero minimum\n",
                      c == 2 ? "PGD" : "FGSM", c ? "L2" : "Linf", o.eps, (double)s.min_value,
                      signbit(s.min_value) ? 1 : 0, s.max_value, s.max_dist, zero_min_rows);
        assert_true(s.min_value == mn && !signbit(s.min_value) == !signbit(mn));
        assert_true(s.max_value == mx && !signbit(s.max_value) == !signbit(mx));
        assert_true(s.max_dist == dist);
        if (c == 0) {
            assert_true(s.pred_dloss == pred);
            assert_true(s.pred_dloss_clip == clip);
        }
        if (c == 2) { /* guard: the zeros decide the minimum, and it is the −0 of row 0 */
            assert_memory_equal(a, x, sizeof(float) * NTEST * D);
            assert_true(zero_min_rows > NTEST / 4 && mn == 0 && signbit(mn));
        }
    }
    free(x);
    free(a);
    free(g);
    free(y);
    cr_net_free(n32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fgsm_lowers_accuracy), cmocka_unit_test(test_pgd_inside_and_stronger),
        cmocka_unit_test(test_targeted), cmocka_unit_test(test_eps_zero_and_f32),
        cmocka_unit_test(test_stats_are_the_scans), cmocka_unit_test(test_pgd_stats_are_forward_passes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
