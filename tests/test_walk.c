/*
 * test_walk — the reverse walk's diagonal step is a parameter (src/net/net_private.tmpl.h,
 * docs/chain.md "Plugging another diagonal step into the walk"):
 *
 *   - a client that records its calls and then runs the default step: called once
 *     per activation, top down (the output activation first, when the net has one),
 *     with the layer's activation, rows, width, whole share, the tape's r_l and h_l,
 *     and the same dx, bit for bit, as cr_net_vjp;
 *   - a linear relaxation (certification's backward pass): sign-selected slopes and
 *     intercepts collected into a per-row constant; dx and the constant == an
 *     independent chain written with plain loops; a planted wrong slope changes dx;
 *   - the per-half share: cr_net_diag_vjp on two shares of the columns == on the whole;
 *   - the linear op's running forms (src/ops/linear.tmpl.h) on shares and blocks, as
 *     training's two workers cut them, == plain loops: the forward on a share of
 *     columns, the VJP on a share of inputs, the parameter step on row and column
 *     blocks (b stepped or not, β = 0 overwriting); cr_linear_param_grads == the step
 *     with β = 1, bit for bit.
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

#define CR_REAL_F64
#include "chainrule_typed.h"
#include "ops/real.h"
#include "net/net_private.tmpl.h"
#include "testutil.h"

static double worst;

static cr_net *make_net(int L, const size_t *dims, const cr_activation *act, uint64_t seed) {
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, CR_F64, L, dims, act), CR_OK);
    tu_fill_uniform(cr_net_params(net), cr_net_n_params(net), -0.8, 0.8, seed);
    return net;
}

/* ------------------------------------------------------------ recording client */

typedef struct {
    const cr_tape *tape;
    int calls, layer[CR_MAX_LAYERS + 1];
} rec_ctx;

static void rec_step(void *ctx, const cr_diag_link_f64 *k) {
    rec_ctx *c = ctx;
    const cr_net *net = k->net;
    const int L = cr_net_n_layers(net), l = k->layer;
    assert_true(c->calls <= L);
    c->layer[c->calls++] = l;
    assert_int_equal(k->n, cr_tape_rows(c->tape));
    assert_int_equal(k->width, cr_net_width(net, l + 1));
    assert_int_equal(k->lo, 0);
    assert_int_equal(k->hi, k->width);
    assert_int_equal(k->act, l < L - 1 ? cr_net_activation(net, l) : cr_net_activation(net, cr_net_n_layers(net) - 1));
    assert_ptr_equal(k->r, cr_tape_pre(c->tape, l));
    assert_ptr_equal(k->h, l < L - 1 ? cr_tape_post(c->tape, l) : cr_tape_output(c->tape));
    cr_net_diag_vjp_f64(NULL, k);
}

static void check_recording(int out_act) {
    const size_t dims[] = {7, 9, 6, 5, 4}, n = 11;
    const cr_activation act[] = {CR_ACT_TANH, CR_ACT_RELU, CR_ACT_GELU};
    cr_net *net = make_net(4, dims, act, 21 + out_act);
    if (out_act) assert_int_equal(cr_net_set_output(net, 1, CR_ACT_SIGMOID, CR_HEAD_SQUARED_ERROR), CR_OK);
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
    double *x = tu_dalloc(n * 7), *g = tu_dalloc(n * 4), *dx = tu_dalloc(n * 7), *dx2 = tu_dalloc(n * 7);
    tu_fill_uniform(x, n * 7, -1, 1, 3);
    tu_fill_uniform(g, n * 4, -1, 1, 4);
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    assert_int_equal(cr_net_vjp_f64(net, tape, g, dx), CR_OK);
    tu_check_nontrivial(dx, n * 7, "vjp dx");
    rec_ctx c = {.tape = tape};
    cr_net_reverse_walk_f64(net, tape, n, g,
                            &(cr_reverse_opts_f64){.dx = dx2, .diag = {rec_step, &c}});
    /* top down: the output activation (layer 3) only when there is one, then 2, 1, 0 */
    assert_int_equal(c.calls, out_act ? 4 : 3);
    for (int i = 0; i < c.calls; i++) assert_int_equal(c.layer[i], c.calls - 1 - i);
    assert_memory_equal(dx, dx2, n * 7 * sizeof(double));
    free(x), free(g), free(dx), free(dx2);
    cr_tape_free(tape);
    cr_net_free(net);
}

static void test_default_step_recorded(void **state) {
    (void)state;
    check_recording(0);
    check_recording(1);
}

/* ------------------------------------------------------------ a linear relaxation */

enum { RL = 3 }; /* layers */
typedef struct {
    const double *lo_s[RL], *up_s[RL], *lo_c[RL], *up_c[RL]; /* per hidden layer, width each */
    double *constant;                                         /* per row */
} relax_ctx;

/* docs/chain.md's example, in float64 */
static void relax_step(void *ctx, const cr_diag_link_f64 *k) {
    relax_ctx *c = ctx;
    const int l = k->layer;
    for (size_t i = 0; i < k->n; i++)
        for (size_t j = k->lo; j < k->hi; j++) {
            const double g = k->g[i * k->width + j];
            const int up = g >= 0;
            c->constant[i] += g * (up ? c->up_c[l][j] : c->lo_c[l][j]);
            k->out[i * k->width + j] = g * (up ? c->up_s[l][j] : c->lo_s[l][j]);
        }
}

/* The same backward pass by plain loops: G on h_l, per layer from the top. */
static void relax_oracle(const cr_net *net, size_t n, const double *g_out, const relax_ctx *c,
                         double *dx, double *constant) {
    const int L = cr_net_n_layers(net);
    size_t widest = 0;
    for (int l = 0; l <= L; l++) widest = cr_net_width(net, l) > widest ? cr_net_width(net, l) : widest;
    double *g = tu_dalloc(widest), *gh = tu_dalloc(widest);
    for (size_t i = 0; i < n; i++) {
        constant[i] = 0;
        memcpy(g, g_out + i * cr_net_width(net, L), cr_net_width(net, L) * sizeof(double));
        for (int l = L - 1; l >= 0; l--) {
            const size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
            const double *w = (const double *)cr_net_params_const(net) + cr_net_weight_offset(net, l);
            if (l < L - 1)
                for (size_t j = 0; j < dout; j++) {
                    const int up = g[j] >= 0;
                    constant[i] += g[j] * (up ? c->up_c[l][j] : c->lo_c[l][j]);
                    g[j] *= up ? c->up_s[l][j] : c->lo_s[l][j];
                }
            for (size_t a = 0; a < din; a++) {
                double s = 0;
                for (size_t b = 0; b < dout; b++) s += g[b] * w[a * dout + b];
                gh[a] = s;
            }
            memcpy(g, gh, din * sizeof(double));
        }
        memcpy(dx + i * cr_net_width(net, 0), g, cr_net_width(net, 0) * sizeof(double));
    }
    free(g), free(gh);
}

static void test_relaxation_client(void **state) {
    (void)state;
    const size_t dims[] = {6, 8, 7, 3}, n = 9;
    const cr_activation act[] = {CR_ACT_RELU, CR_ACT_RELU};
    cr_net *net = make_net(RL, dims, act, 31);
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
    double *x = tu_dalloc(n * 6), *g = tu_dalloc(n * 3);
    tu_fill_uniform(x, n * 6, -1, 1, 5);
    tu_fill_uniform(g, n * 3, -1, 1, 6);
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    relax_ctx c = {.constant = tu_dalloc(n)};
    double *slopes = tu_dalloc(4 * (8 + 7));
    tu_fill_uniform(slopes, 4 * (8 + 7), 0.1, 1.0, 7);
    for (int l = 0, off = 0; l < RL - 1; off += (int)dims[l + 1] * 4, l++) {
        c.lo_s[l] = slopes + off;
        c.up_s[l] = slopes + off + dims[l + 1];
        c.lo_c[l] = slopes + off + 2 * dims[l + 1];
        c.up_c[l] = slopes + off + 3 * dims[l + 1];
    }
    double *dx = tu_dalloc(n * 6), *ref = tu_dalloc(n * 6), *cref = tu_dalloc(n);
    cr_net_reverse_walk_f64(net, tape, n, g,
                            &(cr_reverse_opts_f64){.dx = dx, .diag = {relax_step, &c}});
    relax_oracle(net, n, g, &c, ref, cref);
    tu_check_nontrivial(ref, n * 6, "relaxation dx");
    tu_check_nontrivial(cref, n, "relaxation constant");
    tu_check_close(dx, ref, n * 6, 1e-12, &worst, "relaxation dx vs plain loops");
    tu_check_close(c.constant, cref, n, 1e-12, &worst, "relaxation constant vs plain loops");

    /* planted: the lower slope of one unit of layer 1 halved; the walk must see it */
    ((double *)c.lo_s[1])[2] *= 0.5;
    memset(c.constant, 0, n * sizeof(double));
    double *dx_bad = tu_dalloc(n * 6);
    cr_net_reverse_walk_f64(net, tape, n, g,
                            &(cr_reverse_opts_f64){.dx = dx_bad, .diag = {relax_step, &c}});
    assert_true(tu_max_rel_err(dx_bad, ref, n * 6) > 1e-6);
    free(x), free(g), free(slopes), free(c.constant), free(dx), free(ref), free(cref), free(dx_bad);
    cr_tape_free(tape);
    cr_net_free(net);
}

/* ------------------------------------------------------------ a share of the columns */

static void test_default_step_shares(void **state) {
    (void)state;
    const size_t n = 5, w = 37, split = 16;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        double *r = tu_dalloc(n * w), *h = tu_dalloc(n * w), *g = tu_dalloc(n * w);
        double *whole = tu_dalloc(n * w), *halves = tu_dalloc(n * w);
        tu_fill_uniform(r, n * w, -3, 3, 40 + (uint64_t)a);
        tu_fill_uniform(g, n * w, -1, 1, 50 + (uint64_t)a);
        R_ACT((cr_activation)a)->forward(n * w, r, h);
        cr_diag_link_f64 k = {NULL, 0, (cr_activation)a, n, w, 0, w, r, h, g, whole};
        cr_net_diag_vjp_f64(NULL, &k);
        k.out = halves;
        k.hi = split;
        cr_net_diag_vjp_f64(NULL, &k);
        k.lo = split;
        k.hi = w;
        cr_net_diag_vjp_f64(NULL, &k);
        tu_check_nontrivial(whole, n * w, "diag step");
        assert_memory_equal(whole, halves, n * w * sizeof(double));
        free(r), free(h), free(g), free(whole), free(halves);
    }
}

/* ------------------------------------------------------------ the linear op's steps */

static void test_linear_steps(void **state) {
    (void)state;
    const size_t shapes[][3] = {{7, 40, 33}, {1, 5, 3}, {12, 64, 2}, {3, 1, 48}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t n = shapes[s][0], din = shapes[s][1], dout = shapes[s][2];
        const size_t cmid = dout / 2, rmid = din / 2;
        double *x = tu_dalloc(n * din), *w = tu_dalloc(din * dout), *b = tu_dalloc(dout);
        double *g = tu_dalloc(n * dout), *r = tu_dalloc(n * dout), *ref = tu_dalloc(n * dout);
        double *gin = tu_dalloc(n * din), *gref = tu_dalloc(n * din);
        tu_fill_uniform(x, n * din, -1, 1, 60 + s);
        tu_fill_uniform(w, din * dout, -1, 1, 70 + s);
        tu_fill_uniform(b, dout, -1, 1, 80 + s);
        tu_fill_uniform(g, n * dout, -1, 1, 90 + s);
        /* forward on [0, cmid) and [cmid, dout) == x W + b */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dout; j++) {
                double a = b[j];
                for (size_t q = 0; q < din; q++) a += x[i * din + q] * w[q * dout + j];
                ref[i * dout + j] = a;
            }
        cr_linear_forward_share_f64(n, din, dout, x, w, b, 0, cmid, r, NULL);
        cr_linear_forward_share_f64(n, din, dout, x, w, b, cmid, dout, r, NULL);
        tu_check_close(r, ref, n * dout, 1e-12, &worst, "forward on two shares");
        cr_linear_forward_share_f64(n, din, dout, x, w, b, 0, dout, r, NULL);
        double *r2 = tu_dalloc(n * dout);
        cr_linear_forward_f64(n, din, dout, x, w, b, r2);
        assert_memory_equal(r, r2, n * dout * sizeof(double)); /* the whole row is the op's forward */
        /* VJP on [0, rmid) and [rmid, din) == G Wᵀ */
        for (size_t i = 0; i < n; i++)
            for (size_t q = 0; q < din; q++) {
                double a = 0;
                for (size_t j = 0; j < dout; j++) a += g[i * dout + j] * w[q * dout + j];
                gref[i * din + q] = a;
            }
        cr_linear_vjp_share_f64(n, 1, din, dout, w, g, 0, rmid, gin, din, NULL, NULL);
        cr_linear_vjp_share_f64(n, 1, din, dout, w, g, rmid, din, gin, din, NULL, NULL);
        tu_check_nontrivial(gin, n * din, "linear VJP");
        tu_check_close(gin, gref, n * din, 1e-12, &worst, "VJP on two shares");
        /* the parameter step on the four blocks (b with the first column block's and
           the second's), α = −0.3, β = 0.9 == plain loops; then β = 0 overwrites */
        for (int beta0 = 0; beta0 < 2; beta0++) {
            const double alpha = -0.3, beta = beta0 ? 0 : 0.9;
            double *pw = tu_dalloc(din * dout), *pb = tu_dalloc(dout);
            double *ew = tu_dalloc(din * dout), *eb = tu_dalloc(dout);
            tu_fill_uniform(pw, din * dout, -1, 1, 100 + s);
            tu_fill_uniform(pb, dout, -1, 1, 110 + s);
            for (size_t q = 0; q < din; q++)
                for (size_t j = 0; j < dout; j++) {
                    double a = 0;
                    for (size_t i = 0; i < n; i++) a += x[i * din + q] * g[i * dout + j];
                    ew[q * dout + j] = beta * pw[q * dout + j] + alpha * a;
                }
            for (size_t j = 0; j < dout; j++) {
                double a = 0;
                for (size_t i = 0; i < n; i++) a += g[i * dout + j];
                eb[j] = beta * pb[j] + alpha * a;
            }
            cr_linear_param_step_f64(n, din, dout, x, g, alpha, beta, pw, pb, 0, rmid, 0, cmid);
            cr_linear_param_step_f64(n, din, dout, x, g, alpha, beta, pw, NULL, rmid, din, 0, cmid);
            cr_linear_param_step_f64(n, din, dout, x, g, alpha, beta, pw, NULL, 0, rmid, cmid, dout);
            cr_linear_param_step_f64(n, din, dout, x, g, alpha, beta, pw, pb, rmid, din, cmid, dout);
            tu_check_close(pw, ew, din * dout, 1e-12, &worst, "parameter step W on blocks");
            tu_check_close(pb, eb, dout, 1e-12, &worst, "parameter step b on blocks");
            free(pw), free(pb), free(ew), free(eb);
        }
        /* cr_linear_param_grads is the step with β = 1 */
        double *aw = tu_dalloc(din * dout), *ab = tu_dalloc(dout), *sw = tu_dalloc(din * dout),
               *sb = tu_dalloc(dout);
        tu_fill_uniform(aw, din * dout, -1, 1, 120 + s);
        tu_fill_uniform(ab, dout, -1, 1, 130 + s);
        memcpy(sw, aw, din * dout * sizeof(double));
        memcpy(sb, ab, dout * sizeof(double));
        cr_linear_param_grads_f64(n, din, dout, x, g, 0.25, aw, ab);
        cr_linear_param_step_f64(n, din, dout, x, g, 0.25, 1, sw, sb, 0, din, 0, dout);
        assert_memory_equal(aw, sw, din * dout * sizeof(double));
        assert_memory_equal(ab, sb, dout * sizeof(double));
        free(x), free(w), free(b), free(g), free(r), free(ref), free(gin), free(gref), free(r2);
        free(aw), free(ab), free(sw), free(sb);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_step_recorded),
        cmocka_unit_test(test_relaxation_client),
        cmocka_unit_test(test_default_step_shares),
        cmocka_unit_test(test_linear_steps),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("test_walk: worst relative error against the plain loops %.3g\n", worst);
    tu_cleanup();
    return rc;
}
