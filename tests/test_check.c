/*
 * The verification library (include/chainrule_check.h) on both sides:
 *
 *   no false alarms: a 784-128-10 sigmoid network trained here on Fashion-MNIST
 *   (one epoch on 12,000 training images) is checked on 1,000 test images, as
 *   float32 and float64: dJ_n/dx_n of every image (cr_net_input_grad and
 *   cr_net_backward), explain's agreements on every image, the input Jacobian
 *   in every mode, the training step's parameter gradients, the per-op checks
 *   at several operating points and the adjoint tests. Zero failures.
 *
 *   real faults fail: wrong VJPs and JVPs of every activation of the op table
 *   (and a wrong fast sigmoid kernel), planted through the table's test hook
 *   cr_act_replace so that the chain itself runs them; wrong linear and
 *   softmax+cross-entropy derivatives given to cr_check_op_run; wrong versions
 *   of the packed W_1 kernel (kernels/abt.h) planted through cr_abt_replace.
 *   Each is caught and named by its layer and op (or Jacobian mode).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "chainrule_check.h"
#include "chainrule_data.h"
#include "kernels/abt.h"
#include "ops/act_table.h"
#include "ops/affine.h"
#include "testutil.h"

/* ------------------------------------------------------------ the trained model */

static cr_net *g_net32, *g_net64;
static float *g_x32;  /* 1000 test images */
static double *g_x64;
static float *g_y32;  /* one-hot */
static double *g_y64;
/* 1,000 images; CR_TEST_QUICK=1 (set for the sanitizer and valgrind runs, 20-50x
   slower) checks 100 images of a net trained on 2,000. */
static size_t N_TEST = 1000, N_TRAIN = 12000;

static int setup_model(void **state) {
    (void)state;
    cr_dataset tr = {0}, te = {0};
    cr_dataset_options o = cr_dataset_options_default();
    const char *quick = getenv("CR_TEST_QUICK");
    if (quick && *quick == '1') N_TEST = 100, N_TRAIN = 2000;
    o.limit = N_TRAIN;
    if (cr_dataset_load("fashion-mnist:train", &tr, &o) != 0) return 0; /* tests skip */
    o.limit = N_TEST;
    if (cr_dataset_load("fashion-mnist:test", &te, &o) != 0 || te.n < N_TEST) {
        cr_dataset_free(&tr);
        return 0;
    }
    size_t dims[3] = {784, 128, 10};
    cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_optim_config cfg = cr_optim_config_default();
    cfg.kind = CR_OPT_ADAM;
    cfg.lr = 0.002;
    cr_optim *opt = NULL;
    cr_train_ws *ws = NULL;
    cr_rng rng;
    cr_rng_seed(&rng, 1);
    cr_train_stats stats = {0};
    if (cr_net_create(&g_net32, CR_F32, 2, dims, act) != CR_OK) return -1;
    cr_net_init(g_net32, CR_INIT_AUTO, 1);
    if (cr_optim_create(g_net32, &cfg, &opt) != CR_OK || cr_train_ws_create(g_net32, 64, tr.n, &ws) != CR_OK ||
        cr_train_epoch_f32(NULL, g_net32, opt, ws, tr.n, tr.x, tr.labels, 64, &rng, &stats, NULL, 0, NULL) != CR_OK)
        return -1;
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    if (cr_net_convert(g_net32, CR_F64, &g_net64) != CR_OK) return -1;
    g_x32 = malloc(N_TEST * 784 * sizeof *g_x32), g_x64 = malloc(N_TEST * 784 * sizeof *g_x64);
    g_y32 = calloc(N_TEST * 10, sizeof *g_y32), g_y64 = calloc(N_TEST * 10, sizeof *g_y64);
    if (!g_x32 || !g_x64 || !g_y32 || !g_y64) return -1;
    for (size_t i = 0; i < N_TEST * 784; i++) g_x32[i] = te.x[i], g_x64[i] = te.x[i];
    for (size_t i = 0; i < N_TEST; i++) g_y32[i * 10 + te.labels[i]] = 1, g_y64[i * 10 + te.labels[i]] = 1;
    cr_dataset_free(&tr);
    cr_dataset_free(&te);
    return 0;
}

static int teardown_model(void **state) {
    (void)state;
    cr_net_free(g_net32), cr_net_free(g_net64);
    free(g_x32), free(g_x64), free(g_y32), free(g_y64);
    return 0;
}

/* Every item passed; prints the failures to make a red test readable. */
static void assert_all_pass(const cr_check_report *rep, const char *what) {
    for (size_t i = 0; i < rep->n; i++)
        if (!rep->items[i].pass)
            print_error("%s: FAIL layer %d (%s) %s: err %.3g > tol %.3g (row %zu)\n", what, rep->items[i].layer,
                        rep->items[i].op, rep->items[i].what, rep->items[i].max_err, rep->items[i].tol,
                        rep->items[i].worst);
    assert_int_equal(rep->failures, 0);
}

/* 1,000 real images, both dtypes: no false FAIL, and no vacuous pass. */
static void test_no_false_alarms(void **state) {
    (void)state;
    if (!g_net32) skip();
    for (int t = 0; t < 2; t++) {
        const cr_net *net = t ? g_net64 : g_net32;
        const void *x = t ? (const void *)g_x64 : g_x32, *y = t ? (const void *)g_y64 : g_y32;
        cr_check_options o = cr_check_options_default();
        o.samples = 24;
        o.jac_examples = 3;
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net_input(net, N_TEST, x, y, &o, &rep), CR_OK);
        assert_int_equal(cr_check_net_params(net, N_TEST, x, y, &o, &rep), CR_OK);
        assert_int_equal(cr_check_net_adjoint(net, N_TEST, x, &o, &rep), CR_OK);
        for (size_t e = 0; e < N_TEST; e += 250) { /* per-op checks at 4 operating points */
            o.op_example = e;
            assert_int_equal(cr_check_net_ops(net, N_TEST, x, y, &o, &rep), CR_OK);
        }
        assert_all_pass(&rep, t ? "float64" : "float32");
        for (size_t i = 0; i < rep.n; i++)
            if (rep.items[i].kind == CR_CHECK_INPUT_GRAD) assert_false(rep.items[i].trivial);
        cr_check_report_free(&rep);
    }
}

/* explain's agreements on every one of the 1,000 images (float64, as explain runs). */
static void test_explain_agreements(void **state) {
    (void)state;
    if (!g_net64) skip();
    double vjp[784], jac[784], fd[784], closed[784], hf[10], hu[10];
    cr_check_explain_out out = {vjp, jac, fd, closed, hf, hu, 0};
    size_t nontrivial = 0;
    for (size_t i = 0; i < N_TEST; i++) {
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_explain(g_net64, g_x64 + i * 784, g_y64 + i * 10, NULL, &out, &rep),
                         CR_OK);
        assert_int_equal(rep.n, 4);
        if (rep.failures) print_error("image %zu\n", i);
        assert_all_pass(&rep, "explain");
        nontrivial += !rep.items[1].trivial;
        cr_check_report_free(&rep);
    }
    assert_true(nontrivial == N_TEST); /* a trained sigmoid net has no zero gradient */
}

/* ------------------------------------------------------------ mutations of the op table */

/* The row the chain ran before a mutation, per dtype (the wrappers call it). */
static const cr_act_ops_f32 *g_orig32;
static const cr_act_ops_f64 *g_orig64;

#define MUT_FNS(S, T, ORIG)                                                                    \
    static void vjp_sign_##S(size_t n, const T *r, const T *h, const T *g, T *gr) {            \
        ORIG->vjp(n, r, h, g, gr);                                                             \
        for (size_t i = 0; i < n; i++) gr[i] = -gr[i];                                         \
    }                                                                                          \
    static void vjp_nofactor_##S(size_t n, const T *r, const T *h, const T *g, T *gr) {        \
        (void)r, (void)h; /* forgets a'(r): g passes through */                               \
        memmove(gr, g, n * sizeof *gr);                                                        \
    }                                                                                          \
    static void vjp_half_##S(size_t n, const T *r, const T *h, const T *g, T *gr) {            \
        ORIG->vjp(n, r, h, g, gr);                                                             \
        for (size_t i = 0; i < n; i++) gr[i] *= (T)0.5;                                        \
    }                                                                                          \
    static void jvp_sign_##S(size_t n, const T *r, const T *h, const T *rd, T *hd) {           \
        ORIG->jvp(n, r, h, rd, hd);                                                            \
        for (size_t i = 0; i < n; i++) hd[i] = -hd[i];                                         \
    }                                                                                          \
    static void jvp_shift_##S(size_t n, const T *r, const T *h, const T *rd, T *hd) {          \
        /* a'(r_{i+1}) used for unit i: the derivative of the wrong unit */                   \
        T *d = malloc(n * sizeof *d);                                                          \
        if (!d) return;                                                                        \
        ORIG->deriv(n, r, h, d);                                                               \
        for (size_t i = 0; i < n; i++) hd[i] = d[(i + 1) % n] * rd[i];                         \
        free(d);                                                                               \
    }                                                                                          \
    /* the σ' of a learner's slip: h instead of h (1 − h) */                                  \
    static void vjp_sigma_##S(size_t n, const T *r, const T *h, const T *g, T *gr) {           \
        (void)r;                                                                               \
        for (size_t i = 0; i < n; i++) gr[i] = g[i] * h[i];                                    \
    }                                                                                          \
    /* a vectorised kernel that drops its tail: the last n % 8 entries untouched (zero) */    \
    static void vjp_tail_##S(size_t n, const T *r, const T *h, const T *g, T *gr) {            \
        size_t m = n - n % 8;                                                                  \
        ORIG->vjp(m, r, h, g, gr);                                                             \
        for (size_t i = m; i < n; i++) gr[i] = 0;                                              \
    }                                                                                          \
    /* a forward kernel 1% off (the fast sigmoid's polynomial gone wrong): the VJP, which    \
       reads h, is then wrong too */                                                          \
    static void fwd_off_##S(size_t n, const T *r, T *h) {                                      \
        ORIG->forward(n, r, h);                                                                \
        for (size_t i = 0; i < n; i++) h[i] *= (T)1.01;                                        \
    }
MUT_FNS(f32, float, g_orig32)
MUT_FNS(f64, double, g_orig64)

typedef struct {
    const char *name;
    int vjp;    /* 1: replaces the VJP, 0: the JVP, 2: the forward (caught in the VJP) */
    int sigmoid_only;
    void (*f32)(void);
    void (*f64)(void);
} mutation;

#define MUT(name, vjp, sig) {#name, vjp, sig, (void (*)(void))name##_f32, (void (*)(void))name##_f64}
static const mutation mutations[] = {
    MUT(vjp_sign, 1, 0), MUT(vjp_nofactor, 1, 0), MUT(vjp_half, 1, 0), MUT(jvp_sign, 0, 0),
    MUT(jvp_shift, 0, 0), MUT(vjp_sigma, 1, 1), MUT(vjp_tail, 1, 0), MUT(fwd_off, 2, 1),
};

/* A small net with this activation and varied weights and inputs; the
   widths are not multiples of 8 so that a kernel's tail matters. One hidden
   layer: with two, a sign flipped in both would cancel in dJ/dx. */
static cr_net *mutation_net(cr_activation act, cr_dtype t, void **x, void **y, size_t n) {
    size_t dims[3] = {13, 11, 5};
    cr_activation acts[1] = {act};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, t, 2, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, 7);
    cr_rng rng;
    cr_rng_seed(&rng, 11);
    size_t es = cr_dtype_size(t);
    for (size_t i = 0; i < cr_net_n_params(net); i++) { /* nonzero biases, varied weights */
        double v = (t == CR_F32 ? ((float *)cr_net_params(net))[i] : ((double *)cr_net_params(net))[i]) * 1.5 +
                   0.2 * (2 * cr_rng_uniform(&rng) - 1);
        if (t == CR_F32) ((float *)cr_net_params(net))[i] = (float)v;
        else ((double *)cr_net_params(net))[i] = v;
    }
    *x = malloc(n * 13 * es), *y = calloc(n * 5, es);
    assert_non_null(*x), assert_non_null(*y);
    for (size_t i = 0; i < n * 13; i++) {
        double v = 2 * cr_rng_uniform(&rng) - 1;
        if (t == CR_F32) ((float *)*x)[i] = (float)v;
        else ((double *)*x)[i] = v;
    }
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)cr_rng_below(&rng, 5);
        if (t == CR_F32) ((float *)*y)[i * 5 + c] = 1;
        else ((double *)*y)[i * 5 + c] = 1;
    }
    return net;
}

static void test_activation_mutations(void **state) {
    (void)state;
    const size_t n = 6;
    int caught = 0, planted = 0;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        for (int t = 0; t < 2; t++) {
            cr_dtype dt = t ? CR_F64 : CR_F32;
            void *x, *y;
            cr_net *net = mutation_net((cr_activation)a, dt, &x, &y, n);
            /* the unmutated chain passes */
            cr_check_report rep;
            cr_check_report_init(&rep);
            assert_int_equal(cr_check_net(net, n, x, y, NULL, &rep), CR_OK);
            assert_all_pass(&rep, cr_activation_name((cr_activation)a));
            cr_check_report_free(&rep);
            for (size_t m = 0; m < sizeof mutations / sizeof *mutations; m++) {
                const mutation *mu = &mutations[m];
                if (mu->sigmoid_only && a != CR_ACT_SIGMOID) continue;
                cr_act_ops_f32 o32;
                cr_act_ops_f64 o64;
                if (dt == CR_F32) {
                    g_orig32 = cr_act_f32((cr_activation)a);
                    o32 = *g_orig32;
                    if (mu->vjp == 2) o32.forward = (void (*)(size_t, const float *, float *))mu->f32;
                    else if (mu->vjp) o32.vjp = (void (*)(size_t, const float *, const float *, const float *, float *))mu->f32;
                    else o32.jvp = (void (*)(size_t, const float *, const float *, const float *, float *))mu->f32;
                    assert_int_equal(cr_act_replace((cr_activation)a, dt, &o32), CR_OK);
                } else {
                    g_orig64 = cr_act_f64((cr_activation)a);
                    o64 = *g_orig64;
                    if (mu->vjp == 2) o64.forward = (void (*)(size_t, const double *, double *))mu->f64;
                    else if (mu->vjp) o64.vjp = (void (*)(size_t, const double *, const double *, const double *, double *))mu->f64;
                    else o64.jvp = (void (*)(size_t, const double *, const double *, const double *, double *))mu->f64;
                    assert_int_equal(cr_act_replace((cr_activation)a, dt, &o64), CR_OK);
                }
                cr_check_report_init(&rep);
                cr_status st = cr_check_net(net, n, x, y, NULL, &rep);
                cr_act_restore((cr_activation)a, dt);
                assert_int_equal(st, CR_OK);
                planted++;
                /* caught, and the first failure names an activation layer of this op */
                const cr_check_result *f = cr_check_report_first_failure(&rep);
                int ok = f && f->layer == 2 && !strcmp(f->op, cr_activation_name((cr_activation)a)) &&
                         (mu->vjp == 2 ? f->kind <= CR_CHECK_JVP : f->kind == (mu->vjp ? CR_CHECK_VJP : CR_CHECK_JVP));
                /* and the chain ran it: a check of what the chain computes (input gradient,
                   Jacobian modes, training-step gradient, network adjoint) fails too */
                int net_fail = 0;
                for (size_t i = 0; i < rep.n; i++) {
                    cr_check_kind k = rep.items[i].kind;
                    if (!rep.items[i].pass && (k == CR_CHECK_INPUT_GRAD || k == CR_CHECK_BACKWARD_DX ||
                                               k == CR_CHECK_INPUT_JACOBIAN || k == CR_CHECK_PARAM_GRAD ||
                                               k == CR_CHECK_NET_ADJOINT))
                        net_fail = 1;
                }
                printf("  %-8s %-7s %-13s -> %s at layer %d (%s) %s%s\n", cr_activation_name((cr_activation)a),
                       cr_dtype_name(dt), mu->name, f ? "FAIL" : "pass", f ? f->layer : 0, f ? f->op : "-",
                       f ? cr_check_kind_name(f->kind) : "", net_fail ? ", network check fails too" : "");
                if (!ok) print_error("mutation %s of %s (%s) not localised\n", mu->name,
                                     cr_activation_name((cr_activation)a), cr_dtype_name(dt));
                assert_true(ok);
                assert_true(net_fail);
                caught++;
                cr_check_report_free(&rep);
            }
            cr_net_free(net);
            free(x), free(y);
        }
    }
    assert_int_equal(caught, planted);
    assert_true(planted >= 6 * CR_ACT_COUNT);
}

/* ------------------------------------------------------------ linear and head mutations */

typedef struct {
    size_t d, h;
    const double *w; /* d x h */
    const double *b;
    const double *y; /* head: targets */
    int fault;
} lin_ctx;

static void lin_fwd(const void *c, const double *in, double *out) {
    const lin_ctx *l = c;
    cr_linear_forward_f64(1, l->d, l->h, in, l->w, l->b, out);
}
/* fault 1: Wᵀ read transposed as if square-ish (w[j][i] for w[i][j]); 2: shifted
   by one column; 3: wrong sign; 4: missing the factor (uses 2W) */
static double lin_w(const lin_ctx *l, size_t i, size_t j) {
    switch (l->fault) {
    case 1: return l->w[(j % l->d) * l->h + (i % l->h)];
    case 2: return l->w[i * l->h + (j + 1) % l->h];
    case 3: return -l->w[i * l->h + j];
    case 4: return 2 * l->w[i * l->h + j];
    default: return l->w[i * l->h + j];
    }
}
static void lin_jac(const void *c, const void *in, void *jac) {
    const lin_ctx *l = c;
    (void)in;
    double *J = jac;
    for (size_t j = 0; j < l->h; j++)
        for (size_t i = 0; i < l->d; i++) J[j * l->d + i] = lin_w(l, i, j);
}
static void lin_vjp(const void *c, const void *in, const void *gv, void *gin) {
    const lin_ctx *l = c;
    const double *g = gv;
    double *o = gin;
    (void)in;
    for (size_t i = 0; i < l->d; i++) {
        double s = 0;
        for (size_t j = 0; j < l->h; j++) s += g[j] * lin_w(l, i, j);
        o[i] = s;
    }
}
static void lin_jvp(const void *c, const void *in, const void *uv, void *out) {
    const lin_ctx *l = c;
    const double *u = uv;
    double *o = out;
    (void)in;
    for (size_t j = 0; j < l->h; j++) {
        double s = 0;
        for (size_t i = 0; i < l->d; i++) s += u[i] * lin_w(l, i, j);
        o[j] = s;
    }
}
/* the head J(θ) with a wrong dJ/dθ: 1: y − ŷ, 2: ŷ (forgets − y), 3: (ŷ − y) / 2 */
static void head_fwd(const void *c, const double *in, double *out) {
    const lin_ctx *l = c;
    cr_softmax_ce_forward_f64(1, l->h, in, l->y, NULL, out);
}
static void head_grad(const lin_ctx *l, const double *theta, double *g) {
    double yh[16], loss;
    cr_softmax_ce_forward_f64(1, l->h, theta, l->y, yh, &loss);
    for (size_t k = 0; k < l->h; k++)
        g[k] = l->fault == 1 ? l->y[k] - yh[k] : l->fault == 2 ? yh[k] : l->fault == 3 ? (yh[k] - l->y[k]) / 2 : yh[k] - l->y[k];
}
static void head_jac(const void *c, const void *in, void *jac) { head_grad(c, in, jac); }
static void head_vjp(const void *c, const void *in, const void *gv, void *gin) {
    const lin_ctx *l = c;
    head_grad(l, in, gin);
    for (size_t k = 0; k < l->h; k++) ((double *)gin)[k] *= *(const double *)gv;
}
static void head_jvp(const void *c, const void *in, const void *uv, void *out) {
    const lin_ctx *l = c;
    double g[16], s = 0;
    head_grad(l, in, g);
    for (size_t k = 0; k < l->h; k++) s += g[k] * ((const double *)uv)[k];
    *(double *)out = s;
}

static void test_linear_and_head_mutations(void **state) {
    (void)state;
    enum { D = 7, H = 6 };
    double w[D * H], b[H], in[D], th[H], y[H] = {0, 0, 1, 0, 0, 0};
    tu_fill_uniform(w, D * H, -1, 1, 3);
    tu_fill_uniform(b, H, -0.5, 0.5, 4);
    tu_fill_uniform(in, D, -1, 1, 5);
    tu_fill_uniform(th, H, -2, 2, 6);
    for (int fault = 0; fault <= 4; fault++) {
        lin_ctx c = {D, H, w, b, NULL, fault};
        cr_check_op op = {"linear", 3, CR_F64, D, H, &c, lin_fwd, lin_jac, lin_vjp, lin_jvp, 0};
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_op_run(&op, in, NULL, &rep), CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        printf("  linear fault %d -> %s %s\n", fault, f ? "FAIL at" : "pass", f ? f->what : "");
        if (fault == 0) assert_null(f);
        else {
            assert_non_null(f);
            assert_int_equal(f->layer, 3);
            assert_string_equal(f->op, "linear");
            /* the Jacobian, VJP and JVP all fail */
            assert_true(rep.failures >= 3);
        }
        cr_check_report_free(&rep);
    }
    for (int fault = 0; fault <= 3; fault++) {
        lin_ctx c = {H, H, NULL, NULL, y, fault};
        cr_check_op op = {"softmax+cross-entropy", 4, CR_F64, H, 1, &c, head_fwd, head_jac, head_vjp, head_jvp, 1.0};
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_op_run(&op, th, NULL, &rep), CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        printf("  head fault %d -> %s %s\n", fault, f ? "FAIL at" : "pass", f ? f->what : "");
        if (fault == 0) assert_null(f);
        else {
            assert_non_null(f);
            assert_int_equal(f->layer, 4);
            assert_string_equal(f->op, "softmax+cross-entropy");
        }
        cr_check_report_free(&rep);
    }
}

/* ------------------------------------------------------------ packed kernel mutations */

/* The fault abt_planted plants (see below). */
static int g_abt_fault;
enum { ABT_NONE, ABT_LAST_TERM, ABT_SHIFT, ABT_DERIVED_SIGN, ABT_TAIL, ABT_FAULTS };
static const char *const abt_fault_names[ABT_FAULTS] = {"none", "last term dropped",
                                                        "columns shifted by one",
                                                        "derived row +sum", "masked tail dropped"};

/* cr_abt_gemm's contract (kernels/abt.h: C = A Bᵀ over the packed panels, the
   derived row of each example minus the sum of its other rows) in plain
   loops, with one fault of a vectorised kernel planted: each sum stops one
   term short; every column read from the next column of the panel; the
   derived row the sum instead of minus it; the last n mod 8 columns (a
   masked last register) never computed, left 0. */
static void abt_planted(size_t n_ex, size_t kr, const float *a, size_t lda, const size_t *derived,
                        const cr_abt_packed *b, float *c, size_t ldc) {
    const int f = g_abt_fault;
    const size_t k = b->k, terms = f == ABT_LAST_TERM ? k - 1 : k;
    const size_t live = f == ABT_TAIL ? b->n - b->n % 8 : b->n, width = b->panels * CR_ABT_PANEL;
    const int der = derived && kr >= 2 && kr <= CR_ABT_ROWS;
    for (size_t e = 0; e < n_ex; e++) {
        for (size_t r = 0; r < kr; r++) {
            if (der && r == derived[e]) continue;
            const float *ai = a + (e * kr + r) * lda;
            float *ci = c + (e * kr + r) * ldc;
            for (size_t j = 0; j < b->n; j++) {
                const size_t v = j + b->shift + (f == ABT_SHIFT);
                float s = 0;
                if (j < live && v < width) {
                    const float *bp = b->data + (v / CR_ABT_PANEL) * k * CR_ABT_PANEL + v % CR_ABT_PANEL;
                    for (size_t h = 0; h < terms; h++) s += ai[h] * bp[h * CR_ABT_PANEL];
                }
                ci[j] = s;
            }
        }
        if (!der) continue;
        float *cd = c + (e * kr + derived[e]) * ldc;
        for (size_t j = 0; j < b->n; j++) {
            float s = 0;
            for (size_t r = 0; r < kr; r++)
                if (r != derived[e]) s -= c[(e * kr + r) * ldc + j];
            cd[j] = f == ABT_DERIVED_SIGN ? -s : s;
        }
    }
}

/* The packed kernel of the products with W_1 (the input gradient's last
   step, the forward product x W_1 and the closed-form Jacobian) replaced
   through its test hook cr_abt_replace: the plain-loop version passes every
   check; each planted fault is caught, the product faults named by layer 1's
   "linear, packed kernel" op, the derived-row fault by the closed-mode
   Jacobian, and the network checks fail with them. */
static void test_abt_kernel_mutations(void **state) {
    (void)state;
    if (!cr_abt_pays(13, 11)) {
        printf("  the kernel set %s has no packed kernel: the products are sgemm\n",
               cr_isa_name(cr_isa_current()));
        skip();
    }
    const size_t n = 6;
    void *x, *y;
    cr_net *net = mutation_net(CR_ACT_SIGMOID, CR_F32, &x, &y, n);
    for (int fault = 0; fault < ABT_FAULTS; fault++) {
        g_abt_fault = fault;
        assert_int_equal(cr_abt_replace(abt_planted), CR_OK);
        cr_check_report rep;
        cr_check_report_init(&rep);
        cr_status st = cr_check_net(net, n, x, y, NULL, &rep);
        cr_abt_restore();
        assert_int_equal(st, CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        int packed_op = 0, net_fail = 0;
        for (size_t i = 0; i < rep.n; i++) {
            const cr_check_result *r = &rep.items[i];
            if (r->layer == 1 && !strcmp(r->op, "linear, packed kernel")) packed_op++;
            if (!r->pass && r->layer == 0) net_fail = 1;
        }
        printf("  packed kernel, %-22s -> %s %s%s%s%s\n", abt_fault_names[fault], f ? "FAIL at" : "pass",
               f && f->layer ? "layer 1 (" : "", f ? (f->layer ? f->op : f->what) : "",
               f && f->layer ? "): " : "", f && f->layer ? cr_check_kind_name(f->kind) : "");
        assert_true(packed_op >= 3); /* its VJP, JVP and adjoint are checked */
        if (fault == ABT_NONE) {
            assert_all_pass(&rep, "plain-loop packed kernel");
        } else if (fault == ABT_DERIVED_SIGN) {
            /* only the closed form uses derived rows: its Jacobian check names it */
            assert_non_null(f);
            assert_int_equal(f->kind, CR_CHECK_INPUT_JACOBIAN);
            assert_non_null(strstr(f->what, "closed"));
            for (size_t i = 0; i < rep.n; i++)
                if (!rep.items[i].pass) assert_non_null(strstr(rep.items[i].what, "closed"));
        } else {
            assert_non_null(f);
            assert_int_equal(f->layer, 1);
            assert_string_equal(f->op, "linear, packed kernel");
            assert_true(f->kind == CR_CHECK_VJP || f->kind == CR_CHECK_JVP);
            assert_true(net_fail); /* and the chain ran it */
        }
        cr_check_report_free(&rep);
    }
    /* restored: the kernel selected for the CPU passes again */
    cr_check_report rep;
    cr_check_report_init(&rep);
    assert_int_equal(cr_check_net(net, n, x, y, NULL, &rep), CR_OK);
    assert_all_pass(&rep, "restored packed kernel");
    cr_check_report_free(&rep);
    cr_net_free(net);
    free(x), free(y);
}

/* The testing aid names the op it perturbed; a zero gradient is flagged trivial. */
/* ------------------------------------------------------------ the input link (link 0) */

/* (x − p) ⊘ q and its derivatives in plain loops, with one fault planted: the VJP
   multiplies by q instead of dividing (fault 1), the JVP forgets the division (2), the
   Jacobian's diagonal is q (3). */
typedef struct {
    const double *p, *q;
    size_t d;
    int fault;
} link_ctx;
static void link_fwd(const void *c, const double *in, double *out) {
    const link_ctx *l = c;
    for (size_t j = 0; j < l->d; j++) out[j] = (in[j] - l->p[j]) / l->q[j];
}
static void link_jac(const void *c, const void *in, void *jac) {
    const link_ctx *l = c;
    (void)in;
    double *J = jac;
    for (size_t i = 0; i < l->d * l->d; i++) J[i] = 0;
    for (size_t j = 0; j < l->d; j++) J[j * l->d + j] = l->fault == 3 ? l->q[j] : 1 / l->q[j];
}
static void link_vjp(const void *c, const void *in, const void *g, void *gin) {
    const link_ctx *l = c;
    (void)in;
    const double *G = g;
    double *o = gin;
    for (size_t j = 0; j < l->d; j++) o[j] = l->fault == 1 ? G[j] * l->q[j] : G[j] / l->q[j];
}
static void link_jvp(const void *c, const void *in, const void *u, void *out) {
    const link_ctx *l = c;
    (void)in;
    const double *U = u;
    double *o = out;
    for (size_t j = 0; j < l->d; j++) o[j] = l->fault == 2 ? U[j] : U[j] / l->q[j];
}

/* Planted VJPs of the link (z = (x − p)/q): multiplies by q instead of dividing. */
static void planted_link_vjp32(const cr_affine_f32 *a, size_t n, size_t d, const float *g,
                               float *gx) {
    for (size_t i = 0; i < n * d; i++) gx[i] = g[i] * a->q[i % d];
}
static void planted_link_vjp64(const cr_affine_f64 *a, size_t n, size_t d, const double *g,
                               double *gx) {
    for (size_t i = 0; i < n * d; i++) gx[i] = g[i] * a->q[i % d];
}

/* A net with an input link: every check passes on the raw x (float32 and float64),
   the link is the chain's first op; a fault injected into it, or planted into its VJP,
   JVP or Jacobian, is caught and named. */
static void test_input_link_checks(void **state) {
    (void)state;
    double mu[13], sd[13];
    tu_fill_uniform(mu, 13, -1, 1, 21);
    tu_fill_uniform(sd, 13, 0.3, 3, 22);
    for (int ti = 0; ti < 2; ti++) {
        const cr_dtype t = ti ? CR_F64 : CR_F32;
        void *x, *y;
        cr_net *net = mutation_net(CR_ACT_TANH, t, &x, &y, 3);
        if (t == CR_F32) /* float values: the float32 link holds them exactly */
            for (int j = 0; j < 13; j++) mu[j] = (float)mu[j], sd[j] = (float)sd[j];
        assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
        assert_int_equal(cr_check_net_op_count(net), 5);
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net(net, 3, x, y, NULL, &rep), CR_OK);
        assert_int_equal(rep.failures, 0);
        int seen = 0;
        for (size_t i = 0; i < rep.n; i++)
            seen += rep.items[i].layer == 1 && !strcmp(rep.items[i].op, "affine sub-div (input)");
        assert_true(seen >= 3); /* its Jacobian, VJP and JVP */
        cr_check_report_free(&rep);
        /* a fault injected into link 0's VJP is caught there */
        cr_check_options o = cr_check_options_default();
        o.inject_layer = 1;
        o.inject_kind = CR_CHECK_VJP;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net_ops(net, 3, x, y, &o, &rep), CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        assert_non_null(f);
        assert_int_equal(f->layer, 1);
        assert_int_equal(f->kind, CR_CHECK_VJP);
        cr_check_report_free(&rep);
        /* a wrong VJP planted into the op that runs (every walk's link 0 step): the
           link's op check and the network's dJ/dx both fail */
        if (t == CR_F32) cr_affine_replace_vjp_f32(planted_link_vjp32);
        else cr_affine_replace_vjp_f64(planted_link_vjp64);
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net(net, 3, x, y, NULL, &rep), CR_OK);
        cr_affine_replace_vjp_f32(NULL), cr_affine_replace_vjp_f64(NULL);
        int op_vjp = 0, net_dx = 0;
        for (size_t i = 0; i < rep.n; i++) {
            const cr_check_result *r = &rep.items[i];
            op_vjp += !r->pass && r->layer == 1 && r->kind == CR_CHECK_VJP;
            net_dx += !r->pass && (r->kind == CR_CHECK_INPUT_GRAD || r->kind == CR_CHECK_BACKWARD_DX);
        }
        printf("  planted link VJP (%s): %d failures, op 1 VJP %d, network dJ/dx %d\n",
               cr_dtype_name(t), rep.failures, op_vjp, net_dx);
        assert_int_equal(op_vjp, 1);
        assert_int_equal(net_dx, 2);
        cr_check_report_free(&rep);
        /* and put back, everything passes again */
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net(net, 3, x, y, NULL, &rep), CR_OK);
        assert_int_equal(rep.failures, 0);
        cr_check_report_free(&rep);
        cr_net_free(net);
        free(x), free(y);
    }
    /* planted faults of the link op, given to cr_check_op_run */
    double in[13];
    tu_fill_uniform(in, 13, -2, 2, 23);
    static const cr_check_kind want[4] = {0, CR_CHECK_VJP, CR_CHECK_JVP, CR_CHECK_JACOBIAN};
    for (int fault = 0; fault <= 3; fault++) {
        link_ctx c = {mu, sd, 13, fault};
        cr_check_op op = {"affine", 1, CR_F64, 13, 13, &c, link_fwd, link_jac, link_vjp, link_jvp, 0};
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_op_run(&op, in, NULL, &rep), CR_OK);
        int caught = 0;
        for (size_t i = 0; i < rep.n; i++) caught += !rep.items[i].pass && rep.items[i].kind == want[fault];
        printf("  input link fault %d -> %d failures\n", fault, rep.failures);
        if (fault == 0) assert_int_equal(rep.failures, 0);
        else assert_true(caught >= 1);
        cr_check_report_free(&rep);
    }
}

static void test_inject_and_trivial(void **state) {
    (void)state;
    void *x, *y;
    cr_net *net = mutation_net(CR_ACT_TANH, CR_F64, &x, &y, 3);
    for (int layer = 1; layer <= cr_check_net_op_count(net); layer++) {
        cr_check_options o = cr_check_options_default();
        o.inject_layer = layer;
        o.inject_kind = CR_CHECK_VJP;
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_net_ops(net, 3, x, y, &o, &rep), CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        assert_non_null(f);
        assert_int_equal(f->layer, layer);
        assert_int_equal(f->kind, CR_CHECK_VJP);
        cr_check_report_free(&rep);
    }
    /* all-zero last-layer weights: dJ/dx = 0 exactly; passes, flagged trivial, finite rel err */
    double *p = cr_net_params(net);
    memset(p + cr_net_weight_offset(net, 1), 0, 11 * 5 * sizeof *p);
    cr_check_report rep;
    cr_check_report_init(&rep);
    assert_int_equal(cr_check_net_input(net, 3, x, y, NULL, &rep), CR_OK);
    assert_int_equal(rep.failures, 0);
    assert_true(rep.items[0].trivial);
    assert_true(isfinite(rep.items[0].rel_err));
    cr_check_report_free(&rep);
    cr_net_free(net);
    free(x), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_false_alarms),
        cmocka_unit_test(test_explain_agreements),
        cmocka_unit_test(test_activation_mutations),
        cmocka_unit_test(test_linear_and_head_mutations),
        cmocka_unit_test(test_abt_kernel_mutations),
        cmocka_unit_test(test_input_link_checks),
        cmocka_unit_test(test_inject_and_trivial),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
