/*
 * Output activations and heads (issue 11): x -> ... -> θ -> o = a_out(θ) -> head,
 * with the head softmax + cross-entropy on o or the squared error ½‖o − t‖².
 *
 * Independent oracle: a plain-loop float64 forward written here (not the
 * library's walks or the check library's), differentiated by central
 * differences. For each variant (output relu / sigmoid / tanh with the softmax
 * head; a regressor with and without an output activation) in float64 and
 * float32:
 *   - the forward pass: tape->out = a_out(θ), the prediction softmax(o) or o;
 *   - dJ_n/dx_n of cr_net_input_grad and cr_net_backward against central
 *     differences of the oracle's loss (not trivially zero);
 *   - the parameter gradients of cr_net_backward against differences;
 *   - the input Jacobian (rev, fwd, closed, and the chain of explicit
 *     Jacobians) of the outputs o and, for the softmax head, of the
 *     probabilities, against differences;
 *   - cr_check_net: zero failures, the output activation and the head checked
 *     as ops of their own;
 *   - planted faults: a wrong VJP of the output activation (cr_act_replace:
 *     the chain runs it) is caught at the output activation's position, a
 *     wrong squared-error VJP given to cr_check_op_run is caught and named;
 *   - model files keep the output and the head bit for bit; training, attacks
 *     and the probabilities of a regressor refuse.
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
#include "chainrule_io.h"
#include "ops/act_table.h"
#include "testutil.h"

enum { N = 5, D = 6, H = 7, K = 4 };

typedef struct {
    const char *name;
    int has_act;
    cr_activation act;
    cr_head head;
} variant;

static const variant variants[] = {
    {"output relu, softmax head", 1, CR_ACT_RELU, CR_HEAD_SOFTMAX_CE},
    {"output sigmoid, softmax head", 1, CR_ACT_SIGMOID, CR_HEAD_SOFTMAX_CE},
    {"output tanh, softmax head", 1, CR_ACT_TANH, CR_HEAD_SOFTMAX_CE},
    {"regressor (o = theta)", 0, CR_ACT_SIGMOID, CR_HEAD_SQUARED_ERROR},
    {"regressor, output tanh", 1, CR_ACT_TANH, CR_HEAD_SQUARED_ERROR},
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

/* A 6-7-4 tanh network with varied weights and biases, float64, with the variant's output. */
static cr_net *make_net(const variant *v, uint64_t seed) {
    size_t dims[3] = {D, H, K};
    cr_activation act[1] = {CR_ACT_TANH};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, seed);
    double *p = cr_net_params_f64(net);
    double tmp[H + K];
    tu_fill_uniform(tmp, H + K, -0.5, 0.5, seed + 7);
    for (size_t j = 0; j < H; j++) p[cr_net_bias_offset(net, 0) + j] = tmp[j];
    for (size_t j = 0; j < K; j++) p[cr_net_bias_offset(net, 1) + j] = tmp[H + j];
    for (size_t i = 0; i < cr_net_n_params(net); i++) p[i] *= 1.7; /* outputs of size ~1 */
    assert_int_equal(cr_net_set_output(net, v->has_act, v->act, v->head), CR_OK);
    return net;
}

static double act64(cr_activation a, double r) {
    switch (a) {
    case CR_ACT_RELU: return r > 0 ? r : 0;
    case CR_ACT_SIGMOID: return 1 / (1 + exp(-r));
    case CR_ACT_TANH: return tanh(r);
    default: fail_msg("activation %d not in the oracle", (int)a); return 0;
    }
}

/* The oracle: plain loops in float64 on params p of the 6-7-4 net; o (K), pred (K:
   softmax(o), or o), returns J (CE or ½‖o − t‖²). */
static double oracle(const cr_net *net, const double *p, const double *x, const double *y,
                     double *o, double *pred) {
    double h[H];
    for (size_t j = 0; j < H; j++) {
        double s = p[cr_net_bias_offset(net, 0) + j];
        for (size_t i = 0; i < D; i++) s += x[i] * p[cr_net_weight_offset(net, 0) + i * H + j];
        h[j] = tanh(s);
    }
    for (size_t c = 0; c < K; c++) {
        double s = p[cr_net_bias_offset(net, 1) + c];
        for (size_t j = 0; j < H; j++) s += h[j] * p[cr_net_weight_offset(net, 1) + j * K + c];
        o[c] = cr_net_output_activation(net, NULL) ? act64(cr_net_activation(net, cr_net_n_layers(net) - 1), s) : s;
    }
    if (cr_net_head(net) == CR_HEAD_SQUARED_ERROR) {
        double J = 0;
        for (size_t c = 0; c < K; c++) {
            pred[c] = o[c];
            J += 0.5 * (o[c] - y[c]) * (o[c] - y[c]);
        }
        return J;
    }
    double m = o[0], s = 0, J = 0;
    for (size_t c = 1; c < K; c++) m = fmax(m, o[c]);
    for (size_t c = 0; c < K; c++) s += exp(o[c] - m);
    for (size_t c = 0; c < K; c++) {
        pred[c] = exp(o[c] - m) / s;
        J -= y[c] * log(pred[c]);
    }
    return J;
}

/* Inputs in [-1, 1] and targets: one-hot labels, or regression targets in [-1, 1]. */
static void make_data(const cr_net *net, uint64_t seed, double *x, double *y) {
    tu_fill_uniform(x, N * D, -1, 1, seed);
    if (cr_net_head(net) == CR_HEAD_SQUARED_ERROR) {
        tu_fill_uniform(y, N * K, -1, 1, seed + 1);
    } else {
        memset(y, 0, N * K * sizeof *y);
        for (size_t i = 0; i < N; i++) y[i * K + (i * 3 + seed) % K] = 1;
    }
}

/* ∂J_n/∂x_n and ∂o/∂x, ∂pred/∂x by central differences of the oracle (step 1e-6). */
static void fd_input(const cr_net *net, const double *x, const double *y, double *g,
                     double *jo, double *jp) {
    const double *p = cr_net_params_f64((cr_net *)net);
    const double h = 1e-6;
    for (size_t i = 0; i < N; i++) {
        double xp[D], op[K], om[K], pp[K], pm[K];
        for (size_t j = 0; j < D; j++) {
            memcpy(xp, x + i * D, sizeof xp);
            xp[j] += h;
            double Jp = oracle(net, p, xp, y + i * K, op, pp);
            xp[j] -= 2 * h;
            double Jm = oracle(net, p, xp, y + i * K, om, pm);
            g[i * D + j] = (Jp - Jm) / (2 * h);
            for (size_t c = 0; c < K; c++) {
                jo[(i * K + c) * D + j] = (op[c] - om[c]) / (2 * h);
                jp[(i * K + c) * D + j] = (pp[c] - pm[c]) / (2 * h);
            }
        }
    }
}

/* A copy of doubles in dtype t (malloc'd) and back. */
static void *to_dtype(cr_dtype t, const double *a, size_t n) {
    void *p = malloc(n * cr_dtype_size(t));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        if (t == CR_F64) ((double *)p)[i] = a[i];
        else ((float *)p)[i] = (float)a[i];
    return p;
}
static void to_f64(cr_dtype t, const void *p, size_t n, double *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static void test_derivatives(void **state) {
    (void)state;
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        const variant *v = &variants[vi];
        cr_net *net64 = make_net(v, 11 + vi);
        double x[N * D], y[N * K], g_fd[N * D], jo_fd[N * K * D], jp_fd[N * K * D];
        make_data(net64, 3 + vi, x, y);
        fd_input(net64, x, y, g_fd, jo_fd, jp_fd);
        char what[160];
        snprintf(what, sizeof what, "%s: dJ/dx by differences", v->name);
        tu_check_nontrivial(g_fd, N * D, what);
        for (int ti = 0; ti < 2; ti++) {
            const cr_dtype t = ti ? CR_F32 : CR_F64;
            const double tol = t == CR_F64 ? 1e-7 : 2e-4; /* FD of step 1e-6 in float64 */
            cr_net *net;
            assert_int_equal(cr_net_convert(net64, t, &net), CR_OK);
            assert_int_equal(cr_net_output_activation(net, NULL), v->has_act);
            assert_int_equal(cr_net_head(net), v->head);
            void *tx = to_dtype(t, x, N * D), *ty = to_dtype(t, y, N * K);
            void *dx = malloc(N * D * 8), *loss = malloc(N * 8), *jac = malloc(N * K * D * 8);
            void *grads = malloc(cr_net_n_params(net) * 8);
            double a[N * K * D], worst = 0;
            assert_non_null(dx), assert_non_null(loss), assert_non_null(jac), assert_non_null(grads);
            /* the forward pass: out = a_out(θ), the prediction */
            cr_tape *tape;
            assert_int_equal(cr_tape_create(net, N, &tape), CR_OK);
            assert_int_equal(t == CR_F64 ? cr_net_forward_f64(net, tape, N, tx)
                                         : cr_net_forward_f32(net, tape, N, tx), CR_OK);
            double o_ref[N * K], p_ref[N * K], J_ref[N];
            for (size_t i = 0; i < N; i++)
                J_ref[i] = oracle(net64, cr_net_params_f64(net64), x + i * D, y + i * K,
                                  o_ref + i * K, p_ref + i * K);
            to_f64(t, cr_tape_output(tape), N * K, a);
            snprintf(what, sizeof what, "%s %s: outputs o", v->name, cr_dtype_name(t));
            tu_check_close(a, o_ref, N * K, t == CR_F64 ? 1e-14 : 1e-6, &worst, what);
            to_f64(t, cr_tape_post(tape, 1), N * K, a);
            snprintf(what, sizeof what, "%s %s: prediction", v->name, cr_dtype_name(t));
            tu_check_close(a, p_ref, N * K, t == CR_F64 ? 1e-14 : 1e-6, &worst, what);
            double mean = 0;
            for (size_t i = 0; i < N; i++) mean += J_ref[i] / N;
            double lm = t == CR_F64 ? cr_net_loss_f64(net, tape, ty) : cr_net_loss_f32(net, tape, ty);
            assert_true(fabs(lm - mean) <= (t == CR_F64 ? 1e-13 : 1e-5) * fmax(1, fabs(mean)));
            /* dJ_n/dx_n: cr_net_input_grad and cr_net_backward */
            assert_int_equal(t == CR_F64 ? cr_net_input_grad_f64(NULL, net, N, tx, ty, dx, loss)
                                         : cr_net_input_grad_f32(NULL, net, N, tx, ty, dx, loss), CR_OK);
            to_f64(t, dx, N * D, a);
            snprintf(what, sizeof what, "%s %s: cr_net_input_grad", v->name, cr_dtype_name(t));
            tu_check_close(a, g_fd, N * D, tol, &worst, what);
            to_f64(t, loss, N, a);
            tu_check_close(a, J_ref, N, t == CR_F64 ? 1e-13 : 1e-5, &worst, "losses");
            assert_int_equal(t == CR_F64 ? cr_net_backward_f64(net, tape, ty, dx, grads)
                                         : cr_net_backward_f32(net, tape, ty, dx, grads), CR_OK);
            to_f64(t, dx, N * D, a);
            snprintf(what, sizeof what, "%s %s: cr_net_backward dx", v->name, cr_dtype_name(t));
            tu_check_close(a, g_fd, N * D, tol, &worst, what);
            /* parameter gradients of the mean loss, against differences of the oracle */
            double *p64 = cr_net_params_f64(net64), *pg = tu_dalloc(cr_net_n_params(net));
            double *pfd = tu_dalloc(cr_net_n_params(net));
            for (size_t q = 0; q < cr_net_n_params(net); q++) {
                double keep = p64[q], hq = 1e-6, o1[K], p1[K], Jp = 0, Jm = 0;
                p64[q] = keep + hq;
                for (size_t i = 0; i < N; i++) Jp += oracle(net64, p64, x + i * D, y + i * K, o1, p1);
                p64[q] = keep - hq;
                for (size_t i = 0; i < N; i++) Jm += oracle(net64, p64, x + i * D, y + i * K, o1, p1);
                p64[q] = keep;
                pfd[q] = (Jp - Jm) / (2 * hq) / N;
            }
            to_f64(t, grads, cr_net_n_params(net), pg);
            snprintf(what, sizeof what, "%s %s: parameter gradients", v->name, cr_dtype_name(t));
            tu_check_nontrivial(pfd, cr_net_n_params(net), what);
            tu_check_close(pg, pfd, cr_net_n_params(net), tol, &worst, what);
            free(pg), free(pfd);
            /* the input Jacobians: of o in every mode (and the chain), of probs for softmax */
            for (int probs = 0; probs <= (v->head == CR_HEAD_SOFTMAX_CE); probs++) {
                const double *ref = probs ? jp_fd : jo_fd;
                static const cr_jac_mode modes[3] = {CR_JAC_REV, CR_JAC_FWD, CR_JAC_CLOSED};
                for (int md = 0; md < 3; md++) {
                    assert_int_equal(t == CR_F64 ? cr_net_input_jacobian_f64(NULL, net, N, tx, probs, modes[md], jac)
                                                 : cr_net_input_jacobian_f32(NULL, net, N, tx, probs, modes[md], jac),
                                     CR_OK);
                    to_f64(t, jac, N * K * D, a);
                    snprintf(what, sizeof what, "%s %s: d%s/dx (%s)", v->name, cr_dtype_name(t),
                             probs ? "probs" : "o", cr_jac_mode_name(modes[md]));
                    tu_check_nontrivial(ref, N * K * D, what);
                    tu_check_close(a, ref, N * K * D, tol, &worst, what);
                }
                for (size_t i = 0; i < N; i++) {
                    assert_int_equal(t == CR_F64 ? cr_net_input_jacobian_chain_f64(net, tape, i, probs, jac)
                                                 : cr_net_input_jacobian_chain_f32(net, tape, i, probs, jac),
                                     CR_OK);
                    to_f64(t, jac, K * D, a);
                    snprintf(what, sizeof what, "%s %s: chain of Jacobians", v->name, cr_dtype_name(t));
                    tu_check_close(a, ref + i * K * D, K * D, tol, &worst, what);
                }
            }
            /* a regressor has no probabilities; training and attacks take classifiers */
            if (v->head == CR_HEAD_SQUARED_ERROR) {
                assert_int_equal(t == CR_F64 ? cr_net_input_jacobian_f64(NULL, net, N, tx, 1, CR_JAC_REV, jac)
                                             : cr_net_input_jacobian_f32(NULL, net, N, tx, 1, CR_JAC_REV, jac),
                                 CR_ERR_ARG);
                int64_t lab[N] = {0};
                cr_attack_options ao = {0};
                ao.eps = 0.1, ao.lo = -1, ao.hi = 1;
                void *adv = malloc(N * D * 8);
                assert_int_equal(t == CR_F64 ? cr_attack_f64(NULL, net, N, tx, lab, NULL, &ao, adv, NULL)
                                             : cr_attack_f32(NULL, net, N, tx, lab, NULL, &ao, adv, NULL),
                                 CR_ERR_ARG);
                free(adv);
            }
            if (t == CR_F32) {
                cr_train_ws *ws;
                assert_int_equal(cr_train_ws_create(net, N, N, &ws), CR_ERR_ARG);
            }
            cr_tape_free(tape);
            free(tx), free(ty), free(dx), free(loss), free(jac), free(grads);
            cr_net_free(net);
            print_message("  %-32s %s: worst relative error %.1e\n", v->name, cr_dtype_name(t), worst);
        }
        cr_net_free(net64);
    }
}

/* The check library on every variant: zero failures, the output and the head as ops. */
static void test_gradcheck(void **state) {
    (void)state;
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        const variant *v = &variants[vi];
        cr_net *net64 = make_net(v, 21 + vi);
        double x[N * D], y[N * K];
        make_data(net64, 5 + vi, x, y);
        for (int ti = 0; ti < 2; ti++) {
            const cr_dtype t = ti ? CR_F32 : CR_F64;
            cr_net *net;
            assert_int_equal(cr_net_convert(net64, t, &net), CR_OK);
            void *tx = to_dtype(t, x, N * D), *ty = to_dtype(t, y, N * K);
            cr_check_report rep;
            cr_check_report_init(&rep);
            cr_check_options o = cr_check_options_default();
            o.samples = 0;
            assert_int_equal(cr_check_net(net, N, tx, ty, &o, &rep), CR_OK);
            int saw_out = 0, saw_head = 0;
            for (size_t i = 0; i < rep.n; i++) {
                const cr_check_result *r = &rep.items[i];
                if (!r->pass)
                    fail_msg("%s %s: layer %d (%s) %s failed: %g > %g", v->name, cr_dtype_name(t),
                             r->layer, r->op, r->what, r->max_err, r->tol);
                if (strstr(r->op, "(output)")) saw_out = 1, assert_int_equal(r->layer, 4);
                if (!strcmp(r->op, v->head == CR_HEAD_SQUARED_ERROR ? "squared-error" : "softmax+cross-entropy")) {
                    saw_head = 1;
                    assert_int_equal(r->layer, cr_check_net_op_count(net));
                }
            }
            assert_int_equal(saw_out, v->has_act);
            assert_true(saw_head);
            assert_int_equal(cr_check_net_op_count(net), 4 + v->has_act);
            cr_check_report_free(&rep);
            free(tx), free(ty);
            cr_net_free(net);
        }
        cr_net_free(net64);
    }
}

/* A wrong VJP of the output activation, run by the chain itself. */
static void bad_sigmoid_vjp(size_t count, const double *r, const double *h, const double *g,
                            double *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * h[i] * (1 - h[i]) * 1.03;
}

static void test_planted_output_act(void **state) {
    (void)state;
    const variant v = {"output sigmoid", 1, CR_ACT_SIGMOID, CR_HEAD_SQUARED_ERROR};
    cr_net *net = make_net(&v, 31); /* hidden tanh, so only the output runs the sigmoid */
    double x[N * D], y[N * K];
    make_data(net, 9, x, y);
    cr_act_ops_f64 bad = *cr_act_running(CR_ACT_SIGMOID)->f64;
    bad.vjp = bad_sigmoid_vjp;
    assert_int_equal(cr_act_replace(CR_ACT_SIGMOID, CR_F64, &bad), CR_OK);
    cr_check_report rep;
    cr_check_report_init(&rep);
    cr_status st = cr_check_net(net, N, x, y, NULL, &rep);
    cr_act_restore(CR_ACT_SIGMOID, CR_F64);
    assert_int_equal(st, CR_OK);
    int named = 0, input = 0;
    for (size_t i = 0; i < rep.n; i++) {
        const cr_check_result *r = &rep.items[i];
        if (r->pass) continue;
        if (r->layer == 4 && r->kind == CR_CHECK_VJP && !strcmp(r->op, "sigmoid (output)")) named = 1;
        if (r->kind == CR_CHECK_INPUT_GRAD) input = 1;
        /* no other op is blamed (the parameter gradients, wrong through it, name their tensor) */
        assert_true(r->layer == 0 || r->layer == 4 || r->kind == CR_CHECK_PARAM_GRAD);
    }
    assert_true(named);
    assert_true(input);
    cr_check_report_free(&rep);
    /* restored: clean again */
    cr_check_report_init(&rep);
    assert_int_equal(cr_check_net(net, N, x, y, NULL, &rep), CR_OK);
    assert_int_equal(rep.failures, 0);
    cr_check_report_free(&rep);
    cr_net_free(net);
}

/* The squared-error head as an op, right and wrong, through cr_check_op_run. */
static const double *g_t;
static void se_fwd64(const void *c, const double *in, double *out) {
    (void)c;
    cr_squared_error_forward_f64(1, K, in, g_t, out);
}
static void se_vjp(const void *c, const void *in, const void *g, void *gin) {
    (void)c;
    cr_squared_error_vjp_f64(1, K, in, g_t, g, gin);
}
static void se_vjp_bad(const void *c, const void *in, const void *g, void *gin) { /* t − o */
    (void)c;
    cr_squared_error_vjp_f64(1, K, g_t, in, g, gin);
}
static void se_jvp(const void *c, const void *in, const void *u, void *out) {
    (void)c;
    cr_squared_error_jvp_f64(1, K, in, g_t, u, out);
}
static void se_jac(const void *c, const void *in, void *jac) {
    (void)c;
    cr_squared_error_jacobian_f64(K, in, g_t, jac);
}

static void test_planted_squared_error(void **state) {
    (void)state;
    static const double t[K] = {0.1, 0.4, -0.5, 1.0};
    double o[K] = {0.3, -1.2, 0.8, 2.0};
    g_t = t;
    for (int badv = 0; badv < 2; badv++) {
        cr_check_op op = {"squared-error", 5, CR_F64, K, 1, NULL, se_fwd64, se_jac,
                          badv ? se_vjp_bad : se_vjp, se_jvp, 3.0};
        cr_check_report rep;
        cr_check_report_init(&rep);
        assert_int_equal(cr_check_op_run(&op, o, NULL, &rep), CR_OK);
        const cr_check_result *f = cr_check_report_first_failure(&rep);
        if (!badv) {
            assert_null(f);
        } else {
            assert_non_null(f);
            assert_int_equal(f->kind, CR_CHECK_VJP);
            assert_string_equal(f->op, "squared-error");
            assert_int_equal(f->layer, 5);
        }
        cr_check_report_free(&rep);
    }
}

/* 1 if the bytes contain s. */
static int contains(const unsigned char *b, size_t len, const char *s) {
    size_t m = strlen(s);
    for (size_t i = 0; i + m <= len; i++)
        if (!memcmp(b + i, s, m)) return 1;
    return 0;
}

/* Model files: the output and the head survive save/load bit for bit; an old file
   ("softmax" last) is a plain classifier; contradictions are refused. */
static void test_model_files(void **state) {
    (void)state;
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        cr_net *net = make_net(&variants[vi], 41 + vi), *back = NULL;
        const char *path = tu_path("head.safetensors");
        assert_int_equal(cr_model_save(path, net), 0);
        assert_int_equal(cr_model_load(path, &back), 0);
        assert_int_equal(cr_net_output_activation(back, NULL), cr_net_output_activation(net, NULL));
        if (cr_net_output_activation(net, NULL)) assert_int_equal(cr_net_activation(back, cr_net_n_layers(back) - 1), cr_net_activation(net, cr_net_n_layers(net) - 1));
        assert_int_equal(cr_net_head(back), cr_net_head(net));
        assert_memory_equal(cr_net_params(back), cr_net_params(net), cr_net_n_params(net) * sizeof(double));
        cr_net_free(back);
        /* and through ONNX */
        const char *op = tu_path("head.onnx");
        cr_model m = {0}, mb = {0};
        m.net = net;
        assert_int_equal(cr_onnx_write(op, &m), 0);
        assert_int_equal(cr_model_load_full(op, &mb), 0);
        assert_int_equal(cr_net_output_activation(mb.net, NULL), cr_net_output_activation(net, NULL));
        assert_int_equal(cr_net_head(mb.net), cr_net_head(net));
        assert_memory_equal(cr_net_params(mb.net), cr_net_params(net), cr_net_n_params(net) * sizeof(double));
        cr_model_free(&mb);
        cr_net_free(net);
    }
    /* a plain classifier's file has no "head" key (the same bytes as before) */
    size_t dims[3] = {D, H, K};
    cr_activation act[1] = {CR_ACT_TANH};
    cr_net *plain;
    assert_int_equal(cr_net_create(&plain, CR_F32, 2, dims, act), CR_OK);
    cr_net_init(plain, CR_INIT_AUTO, 1);
    assert_true(cr_net_is_plain_classifier(plain));
    const char *pp = tu_path("plain.safetensors");
    assert_int_equal(cr_model_save(pp, plain), 0);
    size_t len;
    unsigned char *bytes = tu_slurp(pp, &len);
    assert_false(contains(bytes, len, "\"head\""));
    assert_true(contains(bytes, len, "tanh,softmax"));
    free(bytes);
    cr_net_free(plain);
    /* contradictions and unknown names */
    assert_int_equal(cr_net_set_output(NULL, 0, CR_ACT_RELU, CR_HEAD_SOFTMAX_CE), CR_ERR_ARG);
    cr_head h;
    assert_int_equal(cr_head_parse("squared-error", &h), CR_OK);
    assert_int_equal(h, CR_HEAD_SQUARED_ERROR);
    assert_int_equal(cr_head_parse("mse", &h), CR_ERR_ARG);
    assert_string_equal(cr_head_name(CR_HEAD_SOFTMAX_CE), "softmax-cross-entropy");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derivatives),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_planted_output_act),
        cmocka_unit_test(test_planted_squared_error),
        cmocka_unit_test(test_model_files),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
