/*
 * test_net — the chain of a whole network (docs/design.md §1, §3-5).
 *
 *   - the seed network D→H→K sigmoid: backward dx == the closed form
 *     ((ŷ − y)W2ᵀ ∘ h∘(1−h))W1ᵀ by plain loops == central FD of the loss ==
 *     (−y⊘ŷ)·(product of explicit Jacobians); logits Jacobian chain == FD;
 *   - parameter gradients of the MEAN loss == FD over every parameter, for random
 *     shapes including D=1, H=1, K=2, N=1, and 3-4 layer nets of each activation;
 *   - batch == per-example results stacked (dx) / averaged (parameter grads);
 *   - JVP == Jacobian chain · ẋ == FD directional derivative; <Ju, v> == <u, Jᵀv>;
 *   - float32 net == float64 net to float32 precision;
 *   - creation / tape errors, initialisation, gemm in all transpose combinations.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "testutil.h"

#define FD_TOL 1e-7     /* analytic vs central differences (f64) */
#define EXACT_TOL 1e-12 /* two exact formulas for the same numbers (f64) */
#define F32_TOL 1e-5    /* float32 net vs float64 net */

static double worst_fd, worst_exact, worst_adjoint, worst_f32, worst_gemm64, worst_gemm32, worst_link;

static double fd_step(double x) { return 1e-6 * fmax(1.0, fabs(x)); }

/* ------------------------------------------------------------ building test nets */

/* Non-trivial parameters: weights uniform ±s/sqrt(fan_in), biases uniform ±1, with
 * s = 4 after a sigmoid (whose slope is at most 1/4) and 2 otherwise, so that gradients
 * stay O(1e-2..1) through deep nets and central differences resolve them to < 1e-7. */
static void fill_params(cr_net *net, uint64_t seed) {
    double *p = cr_net_params_f64(net);
    assert_non_null(p);
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (int l = 0; l < cr_net_n_layers(net); l++) {
        int after_sigmoid = l > 0 && cr_net_activation(net, l - 1) == CR_ACT_SIGMOID;
        double s = (after_sigmoid ? 4.0 : 2.0) / sqrt((double)cr_net_width(net, l));
        for (size_t i = 0; i < cr_net_width(net, l) * cr_net_width(net, l + 1); i++)
            p[cr_net_weight_offset(net, l) + i] = s * (2 * cr_rng_uniform(&rng) - 1);
        for (size_t j = 0; j < cr_net_width(net, l + 1); j++)
            p[cr_net_bias_offset(net, l) + j] = 2 * cr_rng_uniform(&rng) - 1;
    }
}

static cr_net *make_net(int L, const size_t *dims, const cr_activation *act, uint64_t seed) {
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, CR_F64, L, dims, act), CR_OK);
    assert_non_null(net);
    fill_params(net, seed);
    return net;
}

static void fill_onehot(double *y, size_t n, size_t k, uint64_t seed) {
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    int64_t *lab = malloc(n * sizeof *lab);
    assert_non_null(lab);
    for (size_t i = 0; i < n; i++) lab[i] = (int64_t)cr_rng_below(&rng, k);
    assert_int_equal(cr_onehot_f64(n, k, lab, y), CR_OK);
    free(lab);
}

static size_t max_dim(const cr_net *net) {
    size_t m = 0;
    for (int l = 0; l <= cr_net_n_layers(net); l++) m = cr_net_width(net, l) > m ? cr_net_width(net, l) : m;
    return m;
}

/* Smallest |pre-activation| over every hidden unit of every row of the last forward. */
static double min_abs_hidden_pre(const cr_net *net, const cr_tape *tape) {
    double m = INFINITY;
    for (int l = 0; l + 1 < cr_net_n_layers(net); l++) {
        const double *r = cr_tape_pre(tape, l);
        for (size_t a = 0; a < cr_tape_rows(tape) * cr_net_width(net, l + 1); a++) m = fmin(m, fabs(r[a]));
    }
    return m;
}

static int has_relu(const cr_net *net) {
    for (int l = 0; l + 1 < cr_net_n_layers(net); l++)
        if (cr_net_activation(net, l) == CR_ACT_RELU) return 1;
    return 0;
}

/* mean loss of the batch after a fresh forward */
static double eval_loss(const cr_net *net, cr_tape *tape, size_t n, const double *x,
                        const double *y) {
    assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
    return cr_net_loss_f64(net, tape, y);
}

static void act_vjp(cr_activation act, size_t count, const double *r, const double *h,
                    const double *g, double *gr) {
    switch (act) {
    case CR_ACT_SIGMOID: cr_sigmoid_vjp_f64(count, r, h, g, gr); break;
    case CR_ACT_TANH: cr_tanh_vjp_f64(count, r, h, g, gr); break;
    case CR_ACT_RELU: cr_relu_vjp_f64(count, r, h, g, gr); break;
    default: fail();
    }
}

/*
 * out (N×D) = v Jᵀ-chain: v (N×K) pulled back through the last forward by the per-op VJPs
 * of the library (softmax VJP if of_probs, then linear / activation VJPs down to x).
 * Written here in the test, independently of cr_net_backward (which only takes targets).
 */
static void vjp_chain(const cr_net *net, const cr_tape *tape, const double *v, int of_probs,
                      double *out) {
    const int L = cr_net_n_layers(net);
    const size_t n = cr_tape_rows(tape), k = cr_net_width(net, L), md = max_dim(net);
    double *a = tu_dalloc(n * md), *b = tu_dalloc(n * md);
    if (of_probs)
        cr_softmax_vjp_f64(n, k, cr_tape_post(tape, L - 1), v, a);
    else
        memcpy(a, v, n * k * sizeof(double));
    const double *p = cr_net_params_f64((cr_net *)net);
    for (int l = L - 1; l >= 0; l--) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        double *dst = l > 0 ? b : out;
        cr_linear_vjp_f64(n, din, dout, p + cr_net_weight_offset(net, l), a, dst);
        if (l > 0) {
            act_vjp(cr_net_activation(net, l - 1), n * din, cr_tape_pre(tape, l - 1), cr_tape_post(tape, l - 1), dst, dst);
            double *t = a;
            a = b;
            b = t;
        }
    }
    free(a);
    free(b);
}

/* ------------------------------------------------------------ the seed network */

static double sigm(double r) { return 1.0 / (1.0 + exp(-r)); }

static void test_seed_network(void **state) {
    (void)state;
    static const size_t shapes[][4] = {{5, 4, 3, 3}, {1, 1, 2, 1}, {7, 6, 4, 1}, {3, 8, 2, 4}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t D = shapes[s][0], H = shapes[s][1], K = shapes[s][2], N = shapes[s][3];
        const size_t dims[3] = {D, H, K};
        const cr_activation act[1] = {CR_ACT_SIGMOID};
        cr_net *net = make_net(2, dims, act, 1000 + s);
        cr_tape *tape = NULL;
        assert_int_equal(cr_tape_create(net, N, &tape), CR_OK);
        const double *p = cr_net_params_f64(net);
        const double *W1 = p + cr_net_weight_offset(net, 0), *b1 = p + cr_net_bias_offset(net, 0);
        const double *W2 = p + cr_net_weight_offset(net, 1), *b2 = p + cr_net_bias_offset(net, 1);

        double *x = tu_dalloc(N * D), *y = tu_dalloc(N * K), *dx = tu_dalloc(N * D),
               *closed = tu_dalloc(N * D), *fd = tu_dalloc(N * D), *via_chain = tu_dalloc(N * D);
        tu_fill_uniform(x, N * D, -2, 2, 2000 + s);
        fill_onehot(y, N, K, 3000 + s);

        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        double loss = cr_net_loss_f64(net, tape, y);
        assert_int_equal(cr_net_backward_f64(net, tape, y, dx, NULL), CR_OK);

        double *r = tu_dalloc(H), *h = tu_dalloc(H), *th = tu_dalloc(K), *yh = tu_dalloc(K),
               *gh = tu_dalloc(H), *jac = tu_dalloc(K * D), *jac_closed = tu_dalloc(K * D),
               *jl = tu_dalloc(K * D), *jl_fd = tu_dalloc(K * D), *xp = tu_dalloc(D);
        double loss_closed = 0;
        for (size_t i = 0; i < N; i++) {
            const double *xi = x + i * D, *yi = y + i * K;
            /* forward by plain loops, independent of the library */
            for (size_t j = 0; j < H; j++) {
                double acc = b1[j];
                for (size_t a = 0; a < D; a++) acc += xi[a] * W1[a * H + j];
                r[j] = acc;
                h[j] = sigm(acc);
            }
            double mx = -INFINITY, z = 0;
            for (size_t c = 0; c < K; c++) {
                double acc = b2[c];
                for (size_t j = 0; j < H; j++) acc += h[j] * W2[j * K + c];
                th[c] = acc;
                mx = fmax(mx, acc);
            }
            for (size_t c = 0; c < K; c++) z += exp(th[c] - mx);
            for (size_t c = 0; c < K; c++) {
                yh[c] = exp(th[c] - mx) / z;
                if (yi[c] != 0) loss_closed -= yi[c] * log(yh[c]);
            }
            /* ∂J/∂x = ((ŷ − y) W2ᵀ ∘ h∘(1−h)) W1ᵀ */
            for (size_t j = 0; j < H; j++) {
                double acc = 0;
                for (size_t c = 0; c < K; c++) acc += (yh[c] - yi[c]) * W2[j * K + c];
                gh[j] = acc * h[j] * (1 - h[j]);
            }
            for (size_t a = 0; a < D; a++) {
                double acc = 0;
                for (size_t j = 0; j < H; j++) acc += gh[j] * W1[a * H + j];
                closed[i * D + a] = acc;
            }

            /* the product of explicit Jacobians: (−y⊘ŷ) · ∂ŷ/∂x */
            assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, 1, jac), CR_OK);
            const double *yh_lib = (const double *)cr_tape_post(tape, 1) + i * K;
            for (size_t a = 0; a < D; a++) {
                double acc = 0;
                for (size_t c = 0; c < K; c++)
                    if (yi[c] != 0) acc += -yi[c] / yh_lib[c] * jac[c * D + a];
                via_chain[i * D + a] = acc;
            }
            /* and the closed-form Jacobian (diag(ŷ) − ŷᵀŷ) W2ᵀ diag(h∘(1−h)) W1ᵀ by loops */
            for (size_t c = 0; c < K; c++)
                for (size_t a = 0; a < D; a++) {
                    double acc = 0;
                    for (size_t j = 0; j < H; j++) {
                        double sw = 0; /* Σ_c' (diag(ŷ) − ŷᵀŷ)[c][c'] W2[j][c'] */
                        for (size_t c2 = 0; c2 < K; c2++)
                            sw += ((c == c2 ? yh[c] : 0) - yh[c] * yh[c2]) * W2[j * K + c2];
                        acc += sw * h[j] * (1 - h[j]) * W1[a * H + j];
                    }
                    jac_closed[c * D + a] = acc;
                }
            tu_check_nontrivial(jac, K * D, "seed: probs Jacobian chain");
            tu_check_close(jac, jac_closed, K * D, EXACT_TOL, &worst_exact,
                        "seed: Jacobian chain vs closed-form Jacobian");

            /* logits Jacobian chain vs FD of the logits */
            assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, 0, jl), CR_OK);
            memcpy(xp, xi, D * sizeof(double));
            cr_tape *t1 = NULL;
            assert_int_equal(cr_tape_create(net, 1, &t1), CR_OK);
            for (size_t a = 0; a < D; a++) {
                double hs = fd_step(xi[a]), lo = xi[a] - hs, hi = xi[a] + hs;
                double tp[16], tm[16];
                assert_true(K <= 16);
                xp[a] = hi;
                assert_int_equal(cr_net_forward_f64(net, t1, 1, xp), CR_OK);
                memcpy(tp, cr_tape_pre(t1, 1), K * sizeof(double));
                xp[a] = lo;
                assert_int_equal(cr_net_forward_f64(net, t1, 1, xp), CR_OK);
                memcpy(tm, cr_tape_pre(t1, 1), K * sizeof(double));
                xp[a] = xi[a];
                for (size_t c = 0; c < K; c++) jl_fd[c * D + a] = (tp[c] - tm[c]) / (hi - lo);
            }
            cr_tape_free(t1);
            tu_check_nontrivial(jl, K * D, "seed: logits Jacobian chain");
            tu_check_close(jl, jl_fd, K * D, FD_TOL, &worst_fd, "seed: logits Jacobian chain vs FD");
        }
        assert_true(fabs(loss - loss_closed / (double)N) <= 1e-14 * fabs(loss));

        /* FD of the summed loss N·mean w.r.t. every x entry = ∂J_n/∂x_n */
        double *xw = tu_dalloc(N * D);
        memcpy(xw, x, N * D * sizeof(double));
        for (size_t a = 0; a < N * D; a++) {
            double hs = fd_step(x[a]), lo = x[a] - hs, hi = x[a] + hs;
            xw[a] = hi;
            double lp = eval_loss(net, tape, N, xw, y) * (double)N;
            xw[a] = lo;
            double lm = eval_loss(net, tape, N, xw, y) * (double)N;
            xw[a] = x[a];
            fd[a] = (lp - lm) / (hi - lo);
        }
        tu_check_nontrivial(dx, N * D, "seed: dx");
        tu_check_close(dx, closed, N * D, EXACT_TOL, &worst_exact, "seed: backward dx vs closed form");
        tu_check_close(dx, fd, N * D, FD_TOL, &worst_fd, "seed: backward dx vs FD");
        tu_check_close(dx, via_chain, N * D, EXACT_TOL, &worst_exact,
                    "seed: backward dx vs (-y/yhat)·Jacobian chain");

        free(x), free(y), free(dx), free(closed), free(fd), free(via_chain), free(r), free(h);
        free(th), free(yh), free(gh), free(jac), free(jac_closed), free(jl), free(jl_fd), free(xp);
        free(xw);
        cr_tape_free(tape);
        cr_net_free(net);
    }
}

/* ------------------------------------------------------------ gradients vs FD, many shapes */

typedef struct {
    int L;
    size_t dims[6];
    cr_activation act[5];
    size_t n;
    int soft_targets;
    cr_affine_form link0; /* the input link (0: none), seeded vectors */
} netcase;

/* Every layer's weight gradient and dx are clearly non-zero (relu can kill a layer). */
static int gradients_nontrivial(const cr_net *net, cr_tape *tape, const double *y) {
    const size_t N = cr_tape_rows(tape), D = cr_net_width(net, 0);
    double *g = tu_dalloc(cr_net_n_params(net)), *dx = tu_dalloc(N * D);
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx, g), CR_OK);
    int ok = tu_max_abs(dx, N * D) > 1e-2;
    for (int l = 0; l < cr_net_n_layers(net); l++)
        ok = ok && tu_max_abs(g + cr_net_weight_offset(net, l), cr_net_width(net, l) * cr_net_width(net, l + 1)) > 1e-2;
    free(g);
    free(dx);
    return ok;
}

/* Random parameters/inputs for a case; resample until no hidden relu pre-activation
 * is within 1e-4 of the kink and no layer's gradient vanishes (a dead relu layer would
 * make the checks vacuous). Returns the net; fills x, y. */
static cr_net *setup_case(const netcase *nc, uint64_t seed, double **px, double **py,
                          cr_tape **ptape) {
    const size_t D = nc->dims[0], K = nc->dims[nc->L], N = nc->n;
    double *x = tu_dalloc(N * D), *y = tu_dalloc(N * K);
    cr_net *net = NULL;
    if (nc->soft_targets) {
        tu_fill_uniform(y, N * K, 0.05, 1, seed + 2);
        for (size_t i = 0; i < N; i++) {
            double s = 0;
            for (size_t c = 0; c < K; c++) s += y[i * K + c];
            for (size_t c = 0; c < K; c++) y[i * K + c] /= s;
        }
    } else {
        fill_onehot(y, N, K, seed + 2);
    }
    cr_tape *tape = NULL;
    for (int attempt = 0; attempt < 200; attempt++, seed += 7919) {
        if (net) cr_net_free(net), cr_tape_free(tape);
        net = make_net(nc->L, nc->dims, nc->act, seed);
        if (nc->link0) { /* derivatives w.r.t. the raw x through the link */
            double p[8], q[8];
            tu_fill_uniform(p, D, -1, 1, seed + 3);
            tu_fill_uniform(q, D, 0.4, 2.5, seed + 4);
            for (size_t j = 0; j < D; j += 2) q[j] = -q[j]; /* either sign */
            assert_int_equal(cr_net_set_input_affine(net, nc->link0, p, q), CR_OK);
        }
        assert_int_equal(cr_tape_create(net, N, &tape), CR_OK);
        tu_fill_uniform(x, N * D, -2, 2, seed + 1);
        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        int ok = !has_relu(net) || min_abs_hidden_pre(net, tape) > 1e-4;
        if (ok) ok = gradients_nontrivial(net, tape, y);
        if (ok) break;
        assert_true(attempt < 199);
    }
    *px = x, *py = y, *ptape = tape;
    return net;
}

static void check_case_gradients(const netcase *nc, uint64_t seed, const char *label) {
    double *x, *y;
    cr_tape *tape;
    cr_net *net = setup_case(nc, seed, &x, &y, &tape);
    const size_t D = nc->dims[0], K = nc->dims[nc->L], N = nc->n, P = cr_net_n_params(net);
    double *grads = tu_dalloc(P), *fdg = tu_dalloc(P), *dx = tu_dalloc(N * D), *fdx = tu_dalloc(N * D),
           *chain = tu_dalloc(N * D), *jac = tu_dalloc(K * D);
    char what[200];

    assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
    (void)cr_net_loss_f64(net, tape, y);
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx, grads), CR_OK);
    if (has_relu(net)) assert_true(min_abs_hidden_pre(net, tape) > 1e-4);

    /* (−y⊘ŷ)·(product of explicit Jacobians) per row */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, 1, jac), CR_OK);
        const double *yh = (const double *)cr_tape_post(tape, nc->L - 1) + i * K;
        for (size_t a = 0; a < D; a++) {
            double acc = 0;
            for (size_t c = 0; c < K; c++)
                if (y[i * K + c] != 0) acc += -y[i * K + c] / yh[c] * jac[c * D + a];
            chain[i * D + a] = acc;
        }
    }

    /* FD over every parameter: one loop over the flat block */
    double *p = cr_net_params_f64(net);
    for (size_t q = 0; q < P; q++) {
        double p0 = p[q], hs = fd_step(p0), lo = p0 - hs, hi = p0 + hs;
        p[q] = hi;
        double lp = eval_loss(net, tape, N, x, y);
        p[q] = lo;
        double lm = eval_loss(net, tape, N, x, y);
        p[q] = p0;
        fdg[q] = (lp - lm) / (hi - lo);
    }
    /* FD over x of example n's own loss J_n (tape->loss[n]) gives ∂J_n/∂x_n; the other
     * examples' losses do not depend on x_n, so this is also ∂(Σ J)/∂x_n */
    for (size_t a = 0; a < N * D; a++) {
        const size_t row = a / D;
        double x0 = x[a], hs = fd_step(x0), lo = x0 - hs, hi = x0 + hs;
        x[a] = hi;
        (void)eval_loss(net, tape, N, x, y);
        double lp = ((const double *)cr_tape_loss(tape))[row];
        x[a] = lo;
        (void)eval_loss(net, tape, N, x, y);
        double lm = ((const double *)cr_tape_loss(tape))[row];
        x[a] = x0;
        fdx[a] = (lp - lm) / (hi - lo);
    }
    if (getenv("CR_TEST_VERBOSE"))
        print_message("%s: params vs FD %.2e (max|g| %.2g), dx vs FD %.2e (max|dx| %.2g)\n", label,
                      tu_max_rel_err(grads, fdg, P), tu_max_abs(grads, P),
                      tu_max_rel_err(dx, fdx, N * D), tu_max_abs(dx, N * D));
    snprintf(what, sizeof what, "%s: param grads of the mean loss vs FD (%zu params)", label, P);
    tu_check_nontrivial(grads, P, what);
    tu_check_close(grads, fdg, P, FD_TOL, &worst_fd, what);
    /* and every layer's block is non-trivial, so no layer passes vacuously */
    for (int l = 0; l < nc->L; l++) {
        snprintf(what, sizeof what, "%s: layer %d weight grads", label, l);
        tu_check_nontrivial(grads + cr_net_weight_offset(net, l), nc->dims[l] * nc->dims[l + 1], what);
    }
    snprintf(what, sizeof what, "%s: dx vs FD", label);
    tu_check_nontrivial(dx, N * D, what);
    tu_check_close(dx, fdx, N * D, FD_TOL, &worst_fd, what);
    snprintf(what, sizeof what, "%s: dx vs (-y/yhat)·Jacobian chain", label);
    tu_check_close(dx, chain, N * D, EXACT_TOL, &worst_exact, what);

    free(grads), free(fdg), free(dx), free(fdx), free(chain), free(jac), free(x), free(y);
    cr_tape_free(tape);
    cr_net_free(net);
}

static void test_gradients_vs_fd(void **state) {
    (void)state;
    const cr_activation S = CR_ACT_SIGMOID, T = CR_ACT_TANH, R = CR_ACT_RELU;
    const netcase fixed[] = {
        /* edges of the seed shape */
        {2, {1, 1, 2}, {S}, 1, 0, CR_AFFINE_NONE},
        {2, {1, 3, 2}, {S}, 2, 0, CR_AFFINE_NONE},
        {2, {4, 1, 2}, {S}, 3, 0, CR_AFFINE_NONE},
        {2, {3, 4, 3}, {S}, 1, 1, CR_AFFINE_NONE},
        {2, {5, 6, 4}, {S}, 5, 0, CR_AFFINE_NONE},
        {1, {4, 3}, {S}, 3, 0, CR_AFFINE_NONE}, /* no hidden layer: softmax regression */
        {1, {1, 2}, {S}, 1, 0, CR_AFFINE_NONE},
        /* deeper nets, each activation */
        {3, {4, 5, 3, 3}, {S, S}, 3, 0, CR_AFFINE_NONE},
        {4, {3, 4, 5, 3, 2}, {S, S, S}, 2, 0, CR_AFFINE_NONE},
        {3, {4, 5, 3, 3}, {T, T}, 3, 0, CR_AFFINE_NONE},
        {4, {3, 4, 5, 3, 2}, {T, T, T}, 4, 1, CR_AFFINE_NONE},
        {3, {4, 6, 5, 3}, {R, R}, 3, 0, CR_AFFINE_NONE},
        {4, {3, 6, 5, 4, 2}, {R, R, R}, 2, 0, CR_AFFINE_NONE},
        {4, {2, 5, 4, 3, 3}, {R, T, S}, 3, 0, CR_AFFINE_NONE},
        {3, {1, 1, 1, 2}, {T, S}, 1, 0, CR_AFFINE_NONE},
        /* with an input link (link 0): (x − p)/q, (x − p)·q, x·p + q */
        {2, {3, 4, 3}, {S}, 3, 0, CR_AFFINE_SUB_DIV},
        {1, {4, 3}, {S}, 2, 0, CR_AFFINE_SUB_DIV},
        {3, {4, 5, 3, 3}, {T, R}, 3, 1, CR_AFFINE_SUB_MUL},
        {2, {5, 3, 2}, {S}, 2, 0, CR_AFFINE_MUL_ADD},
    };
    char label[96];
    for (size_t c = 0; c < sizeof fixed / sizeof fixed[0]; c++) {
        snprintf(label, sizeof label, "fixed case %zu (L=%d)", c, fixed[c].L);
        check_case_gradients(&fixed[c], 5000 + 31 * c, label);
    }
    /* random shapes, seeded */
    cr_rng rng;
    cr_rng_seed(&rng, 77);
    for (int c = 0; c < 12; c++) {
        netcase nc = {0};
        nc.L = 1 + (int)cr_rng_below(&rng, 4);
        for (int l = 0; l < nc.L; l++) nc.dims[l] = 1 + cr_rng_below(&rng, 6);
        nc.dims[nc.L] = 2 + cr_rng_below(&rng, 4);
        cr_activation a = (cr_activation)cr_rng_below(&rng, CR_ACT_COUNT);
        for (int l = 0; l + 1 < nc.L; l++) nc.act[l] = a;
        nc.n = 1 + cr_rng_below(&rng, 5);
        nc.soft_targets = c % 3 == 0;
        snprintf(label, sizeof label, "random case %d (L=%d, %s)", c, nc.L, cr_activation_name(a));
        check_case_gradients(&nc, 9000 + 17 * (uint64_t)c, label);
    }
}

/* ------------------------------------------------------------ batch == per-example */

static void test_batch_equals_per_example(void **state) {
    (void)state;
    const cr_activation S = CR_ACT_SIGMOID, T = CR_ACT_TANH, R = CR_ACT_RELU;
    const netcase cases[] = {
        {2, {5, 4, 3}, {S}, 5, 0, CR_AFFINE_NONE},
        {3, {4, 6, 5, 3}, {T, T}, 4, 1, CR_AFFINE_NONE},
        {3, {4, 6, 5, 3}, {R, R}, 3, 0, CR_AFFINE_NONE},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double *x, *y;
        cr_tape *tape, *t1;
        cr_net *net = setup_case(&cases[c], 12000 + c, &x, &y, &tape);
        const size_t D = cases[c].dims[0], K = cases[c].dims[cases[c].L], N = cases[c].n,
                     P = cr_net_n_params(net);
        double *dx = tu_dalloc(N * D), *g = tu_dalloc(P), *dx1 = tu_dalloc(N * D), *g1 = tu_dalloc(P),
               *gmean = tu_dalloc(P), *loss_rows = tu_dalloc(N);
        assert_int_equal(cr_tape_create(net, 1, &t1), CR_OK);
        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        double loss = cr_net_loss_f64(net, tape, y);
        assert_int_equal(cr_net_backward_f64(net, tape, y, dx, g), CR_OK);
        double loss_sum = 0;
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(cr_net_forward_f64(net, t1, 1, x + i * D), CR_OK);
            loss_rows[i] = cr_net_loss_f64(net, t1, y + i * K);
            loss_sum += loss_rows[i];
            assert_true(fabs(loss_rows[i] - ((double *)cr_tape_loss(tape))[i]) <= 1e-14 * loss_rows[i]);
            assert_int_equal(cr_net_backward_f64(net, t1, y + i * K, dx1 + i * D, g1), CR_OK);
            for (size_t q = 0; q < P; q++) gmean[q] += g1[q] / (double)N;
        }
        assert_true(fabs(loss - loss_sum / (double)N) <= 1e-14 * loss);
        tu_check_nontrivial(dx, N * D, "batch dx");
        tu_check_nontrivial(g, P, "batch grads");
        tu_check_close(dx, dx1, N * D, EXACT_TOL, &worst_exact, "batch dx vs per-example stacked");
        tu_check_close(g, gmean, P, EXACT_TOL, &worst_exact, "batch grads vs mean of per-example");

        /* backward with only one of dx / grads requested gives the same numbers */
        double *dx_only = tu_dalloc(N * D), *g_only = tu_dalloc(P);
        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        assert_int_equal(cr_net_backward_f64(net, tape, y, dx_only, NULL), CR_OK);
        assert_int_equal(cr_net_backward_f64(net, tape, y, NULL, g_only), CR_OK);
        assert_memory_equal(dx_only, dx, N * D * sizeof(double));
        assert_memory_equal(g_only, g, P * sizeof(double));

        free(dx), free(g), free(dx1), free(g1), free(gmean), free(loss_rows), free(x), free(y);
        free(dx_only), free(g_only);
        cr_tape_free(t1);
        cr_tape_free(tape);
        cr_net_free(net);
    }
}

/* ------------------------------------------------------------ forward mode */

static void test_jvp(void **state) {
    (void)state;
    const cr_activation S = CR_ACT_SIGMOID, T = CR_ACT_TANH, R = CR_ACT_RELU;
    const netcase cases[] = {
        {2, {5, 4, 3}, {S}, 4, 0, CR_AFFINE_NONE},  {2, {1, 1, 2}, {S}, 1, 0, CR_AFFINE_NONE},
        {3, {4, 6, 5, 3}, {T, T}, 3, 0, CR_AFFINE_NONE}, {4, {3, 6, 5, 4, 4}, {R, R, R}, 3, 0, CR_AFFINE_NONE},
        {1, {3, 4}, {S}, 2, 0, CR_AFFINE_NONE},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double *x, *y;
        cr_tape *tape, *tf;
        cr_net *net = setup_case(&cases[c], 15000 + c, &x, &y, &tape);
        const int L = cases[c].L;
        const size_t D = cases[c].dims[0], K = cases[c].dims[L], N = cases[c].n;
        double *xd = tu_dalloc(N * D), *ld = tu_dalloc(N * K), *pd = tu_dalloc(N * K),
               *ref_l = tu_dalloc(N * K), *ref_p = tu_dalloc(N * K), *fd_l = tu_dalloc(N * K),
               *fd_p = tu_dalloc(N * K), *jac = tu_dalloc(K * D), *xs = tu_dalloc(N * D),
               *lp = tu_dalloc(N * K), *lm = tu_dalloc(N * K), *pp = tu_dalloc(N * K), *pm = tu_dalloc(N * K);
        tu_fill_uniform(xd, N * D, -1, 1, 16000 + c);
        assert_int_equal(cr_tape_create(net, N, &tf), CR_OK);

        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        assert_int_equal(cr_net_jvp_f64(net, tape, xd, ld, pd), CR_OK);
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, 0, jac), CR_OK);
            for (size_t k = 0; k < K; k++) {
                double acc = 0;
                for (size_t a = 0; a < D; a++) acc += jac[k * D + a] * xd[i * D + a];
                ref_l[i * K + k] = acc;
            }
            assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, 1, jac), CR_OK);
            for (size_t k = 0; k < K; k++) {
                double acc = 0;
                for (size_t a = 0; a < D; a++) acc += jac[k * D + a] * xd[i * D + a];
                ref_p[i * K + k] = acc;
            }
        }
        /* FD directional derivative: (f(x + h ẋ) − f(x − h ẋ)) / 2h */
        const double hs = 1e-6 * fmax(1.0, tu_max_abs(x, N * D));
        for (size_t a = 0; a < N * D; a++) xs[a] = x[a] + hs * xd[a];
        assert_int_equal(cr_net_forward_f64(net, tf, N, xs), CR_OK);
        memcpy(lp, cr_tape_pre(tf, L - 1), N * K * sizeof(double));
        memcpy(pp, cr_tape_post(tf, L - 1), N * K * sizeof(double));
        for (size_t a = 0; a < N * D; a++) xs[a] = x[a] - hs * xd[a];
        assert_int_equal(cr_net_forward_f64(net, tf, N, xs), CR_OK);
        memcpy(lm, cr_tape_pre(tf, L - 1), N * K * sizeof(double));
        memcpy(pm, cr_tape_post(tf, L - 1), N * K * sizeof(double));
        for (size_t a = 0; a < N * K; a++) {
            fd_l[a] = (lp[a] - lm[a]) / (2 * hs);
            fd_p[a] = (pp[a] - pm[a]) / (2 * hs);
        }
        tu_check_nontrivial(ld, N * K, "jvp logits_dot");
        tu_check_nontrivial(pd, N * K, "jvp probs_dot");
        tu_check_close(ld, ref_l, N * K, EXACT_TOL, &worst_exact, "jvp logits_dot vs chain·xd");
        tu_check_close(pd, ref_p, N * K, EXACT_TOL, &worst_exact, "jvp probs_dot vs chain·xd");
        tu_check_close(ld, fd_l, N * K, FD_TOL, &worst_fd, "jvp logits_dot vs FD");
        tu_check_close(pd, fd_p, N * K, FD_TOL, &worst_fd, "jvp probs_dot vs FD");
        /* softmax output sums to 1, so its tangent rows sum to 0 */
        for (size_t i = 0; i < N; i++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) s += pd[i * K + k];
            assert_true(fabs(s) <= 1e-14 * (1 + tu_max_abs(pd, N * K)));
        }
        /* either output may be NULL */
        double *ld2 = tu_dalloc(N * K), *pd2 = tu_dalloc(N * K);
        assert_int_equal(cr_net_jvp_f64(net, tape, xd, ld2, NULL), CR_OK);
        assert_int_equal(cr_net_jvp_f64(net, tape, xd, NULL, pd2), CR_OK);
        assert_memory_equal(ld2, ld, N * K * sizeof(double));
        assert_memory_equal(pd2, pd, N * K * sizeof(double));

        /* adjoint: <J u, v> == <u, Jᵀ v>, Jᵀv from the per-op VJP chain (probs and logits) */
        double *v = tu_dalloc(N * K), *jtv = tu_dalloc(N * D);
        tu_fill_uniform(v, N * K, -1, 1, 17000 + c);
        for (int of_probs = 0; of_probs < 2; of_probs++) {
            const double *ju = of_probs ? pd : ld;
            vjp_chain(net, tape, v, of_probs, jtv);
            tu_check_nontrivial(jtv, N * D, "adjoint J^T v");
            double lhs = 0, rhs = 0, scale = 0;
            for (size_t a = 0; a < N * K; a++) lhs += ju[a] * v[a], scale += fabs(ju[a] * v[a]);
            for (size_t a = 0; a < N * D; a++)
                rhs += xd[a] * jtv[a], scale += fabs(xd[a] * jtv[a]);
            double e = fabs(lhs - rhs) / scale;
            if (e > worst_adjoint) worst_adjoint = e;
            if (!(e <= EXACT_TOL)) {
                print_error("adjoint (%s): <Ju,v>=%.17g <u,J^T v>=%.17g rel %.3g\n",
                            of_probs ? "probs" : "logits", lhs, rhs, e);
                fail();
            }
            /* Jᵀv per row also equals v_i · (explicit Jacobian chain) */
            double *vj = tu_dalloc(N * D);
            for (size_t i = 0; i < N; i++) {
                assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, i, of_probs, jac),
                                 CR_OK);
                for (size_t a = 0; a < D; a++) {
                    double acc = 0;
                    for (size_t k = 0; k < K; k++) acc += v[i * K + k] * jac[k * D + a];
                    vj[i * D + a] = acc;
                }
            }
            tu_check_close(jtv, vj, N * D, EXACT_TOL, &worst_exact, "VJP chain vs v·Jacobian chain");
            /* the library's logits VJP (cr_net_vjp), after the softmax VJP for the probs */
            double *gl = tu_dalloc(N * K), *lib = tu_dalloc(N * D);
            if (of_probs)
                cr_softmax_vjp_f64(N, K, cr_tape_post(tape, L - 1), v, gl);
            else
                memcpy(gl, v, N * K * sizeof(double));
            assert_int_equal(cr_net_vjp_f64(net, tape, gl, lib), CR_OK);
            tu_check_close(lib, jtv, N * D, EXACT_TOL, &worst_exact, "cr_net_vjp vs VJP chain");
            free(vj), free(gl), free(lib);
        }
        /* The library's own reverse pass as a logits VJP: backward computes
         * G_θ = (Σy) ŷ − y, so targets y = −v with Σ_k v_k = 0 give G_θ = v and dx = v·J_logits. */
        {
            double *vz = tu_dalloc(N * K), *negv = tu_dalloc(N * K), *dx = tu_dalloc(N * D);
            memcpy(vz, v, N * K * sizeof(double));
            for (size_t i = 0; i < N; i++) {
                double s = 0;
                for (size_t k = 0; k < K; k++) s += vz[i * K + k];
                for (size_t k = 0; k < K; k++) vz[i * K + k] -= s / (double)K;
                for (size_t k = 0; k < K; k++) negv[i * K + k] = -vz[i * K + k];
            }
            assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
            assert_int_equal(cr_net_backward_f64(net, tape, negv, dx, NULL), CR_OK);
            vjp_chain(net, tape, vz, 0, jtv);
            tu_check_nontrivial(dx, N * D, "backward as logits VJP");
            tu_check_close(dx, jtv, N * D, 1e-11, &worst_exact, "backward(y=-v) vs VJP chain");
            free(vz), free(negv), free(dx);
        }

        free(xd), free(ld), free(pd), free(ref_l), free(ref_p), free(fd_l), free(fd_p), free(jac);
        free(xs), free(lp), free(lm), free(pp), free(pm), free(ld2), free(pd2), free(v), free(jtv);
        free(x), free(y);
        cr_tape_free(tf);
        cr_tape_free(tape);
        cr_net_free(net);
    }
}

/* ------------------------------------------------------------ float32 vs float64 */

static void check_f32(const float *a32, const double *a64, size_t n, const char *what) {
    double *t = tu_dalloc(n);
    for (size_t i = 0; i < n; i++) t[i] = a32[i];
    tu_check_close(t, a64, n, F32_TOL, &worst_f32, what);
    free(t);
}

static void test_f32_matches_f64(void **state) {
    (void)state;
    const cr_activation S = CR_ACT_SIGMOID, T = CR_ACT_TANH, R = CR_ACT_RELU;
    const netcase cases[] = {
        {2, {6, 5, 4}, {S}, 4, 0, CR_AFFINE_NONE},
        {3, {5, 6, 5, 3}, {T, T}, 3, 0, CR_AFFINE_NONE},
        {4, {5, 6, 5, 4, 3}, {R, R, R}, 3, 0, CR_AFFINE_NONE},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double *x, *y;
        cr_tape *tape, *tape32;
        cr_net *net = setup_case(&cases[c], 18000 + c, &x, &y, &tape), *net32 = NULL, *back = NULL;
        const int L = cases[c].L;
        const size_t D = cases[c].dims[0], K = cases[c].dims[L], N = cases[c].n,
                     P = cr_net_n_params(net);
        /* round the float64 parameters and inputs to float so both nets see the same numbers */
        assert_int_equal(cr_net_convert(net, CR_F32, &net32), CR_OK);
        assert_int_equal(cr_net_dtype(net32), CR_F32);
        assert_null(cr_net_params_f64(net32));
        assert_int_equal(cr_net_convert(net32, CR_F64, &back), CR_OK);
        memcpy(cr_net_params_f64(net), cr_net_params_f64(back), P * sizeof(double));
        for (size_t q = 0; q < P; q++)
            assert_true(cr_net_params_f32(net32)[q] == (float)cr_net_params_f64(net)[q]);
        float *xf = tu_falloc(N * D), *yf = tu_falloc(N * K), *dxf = tu_falloc(N * D), *gf = tu_falloc(P),
              *jf = tu_falloc(K * D), *ldf = tu_falloc(N * K), *pdf = tu_falloc(N * K), *xdf = tu_falloc(N * D);
        double *dx = tu_dalloc(N * D), *g = tu_dalloc(P), *j = tu_dalloc(K * D), *ld = tu_dalloc(N * K),
               *pd = tu_dalloc(N * K), *xd = tu_dalloc(N * D);
        tu_fill_uniform(xd, N * D, -1, 1, 19000 + c);
        for (size_t a = 0; a < N * D; a++) {
            xf[a] = (float)x[a], x[a] = xf[a];
            xdf[a] = (float)xd[a], xd[a] = xdf[a];
        }
        for (size_t a = 0; a < N * K; a++) yf[a] = (float)y[a];
        assert_int_equal(cr_tape_create(net32, N, &tape32), CR_OK);

        assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_OK);
        double loss = cr_net_loss_f64(net, tape, y);
        assert_int_equal(cr_net_backward_f64(net, tape, y, dx, g), CR_OK);
        assert_int_equal(cr_net_jvp_f64(net, tape, xd, ld, pd), CR_OK);
        assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, N - 1, 1, j), CR_OK);
        assert_int_equal(cr_net_forward_f32(net32, tape32, N, xf), CR_OK);
        float lossf = cr_net_loss_f32(net32, tape32, yf);
        assert_int_equal(cr_net_backward_f32(net32, tape32, yf, dxf, gf), CR_OK);
        assert_int_equal(cr_net_jvp_f32(net32, tape32, xdf, ldf, pdf), CR_OK);
        assert_int_equal(cr_net_input_jacobian_chain_f32(net32, tape32, N - 1, 1, jf), CR_OK);

        tu_check_nontrivial(dx, N * D, "f64 dx");
        check_f32(&lossf, &loss, 1, "f32 vs f64 loss");
        check_f32((const float *)cr_tape_post(tape32, L - 1), cr_tape_post(tape, L - 1), N * K, "f32 vs f64 probs");
        check_f32(dxf, dx, N * D, "f32 vs f64 dx");
        check_f32(gf, g, P, "f32 vs f64 param grads");
        check_f32(ldf, ld, N * K, "f32 vs f64 jvp logits");
        check_f32(pdf, pd, N * K, "f32 vs f64 jvp probs");
        check_f32(jf, j, K * D, "f32 vs f64 Jacobian chain");

        free(x), free(y), free(xf), free(yf), free(dxf), free(gf), free(jf), free(ldf), free(pdf);
        free(xdf), free(dx), free(g), free(j), free(ld), free(pd), free(xd);
        cr_tape_free(tape32);
        cr_tape_free(tape);
        cr_net_free(net32);
        cr_net_free(back);
        cr_net_free(net);
    }
}

/* ------------------------------------------------------------ errors */

static void test_create_errors(void **state) {
    (void)state;
    cr_net *net = (cr_net *)(uintptr_t)1;
    const size_t dims[CR_MAX_LAYERS + 2] = {3, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    cr_activation acts[CR_MAX_LAYERS + 1];
    for (int i = 0; i <= CR_MAX_LAYERS; i++) acts[i] = CR_ACT_TANH;

    assert_int_equal(cr_net_create(&net, CR_F64, 0, dims, acts), CR_ERR_ARG);
    assert_null(net);
    assert_int_equal(cr_net_create(&net, CR_F64, -1, dims, acts), CR_ERR_ARG);
    assert_null(net);
    assert_int_equal(cr_net_create(&net, CR_F64, CR_MAX_LAYERS + 1, dims, acts), CR_ERR_ARG);
    assert_null(net);
    assert_int_equal(cr_net_create(&net, CR_F64, 2, NULL, acts), CR_ERR_ARG);
    assert_null(net);
    assert_int_equal(cr_net_create(&net, (cr_dtype)7, 2, dims, acts), CR_ERR_DTYPE);
    assert_null(net);
    /* a missing or unknown activation */
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, NULL), CR_ERR_ARG);
    cr_activation bad[1] = {CR_ACT_COUNT};
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, bad), CR_ERR_ARG);
    assert_null(net);
    /* a zero dimension anywhere (input, hidden, output): a zero size, CR_ERR_ARG */
    const size_t z0[3] = {0, 4, 2}, z1[3] = {3, 0, 2}, z2[3] = {3, 4, 0};
    assert_int_equal(cr_net_create(&net, CR_F64, 2, z0, acts), CR_ERR_ARG);
    assert_int_equal(cr_net_create(&net, CR_F64, 2, z1, acts), CR_ERR_ARG);
    assert_int_equal(cr_net_create(&net, CR_F32, 2, z2, acts), CR_ERR_ARG);
    assert_null(net);
    /* sizes whose products or byte counts overflow size_t */
    const size_t o1[2] = {SIZE_MAX / 2, SIZE_MAX / 2}, o2[2] = {SIZE_MAX / 2, 1},
                 o3[2] = {1, SIZE_MAX}, o4[3] = {SIZE_MAX / 2, 4, 2},
                 o5[3] = {2, SIZE_MAX / 4, 2},
                 o6[2] = {(SIZE_MAX >> 2) + 1, 4}; /* product wraps to exactly 0 */
    assert_int_equal(cr_net_create(&net, CR_F64, 1, o1, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F64, 1, o2, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F32, 1, o2, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F64, 1, o3, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F64, 2, o4, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F64, 2, o5, acts), CR_ERR_OVERFLOW);
    assert_int_equal(cr_net_create(&net, CR_F64, 1, o6, acts), CR_ERR_OVERFLOW);
    assert_null(net);

    /* the limits themselves are fine: L = 1 needs no activation, L = CR_MAX_LAYERS works */
    assert_int_equal(cr_net_create(&net, CR_F64, 1, dims, NULL), CR_OK);
    assert_int_equal(cr_net_n_params(net), 3 * 4 + 4);
    cr_net_free(net);
    assert_int_equal(cr_net_create(&net, CR_F32, CR_MAX_LAYERS, dims, acts), CR_OK);
    assert_int_equal(cr_net_input_dim(net), 3);
    assert_int_equal(cr_net_output_dim(net), 2);
    assert_non_null(cr_net_params_f32(net));
    assert_null(cr_net_params_f64(net));
    /* the flat layout: W_l then b_l, contiguous, in order */
    size_t off = 0;
    for (int l = 0; l < cr_net_n_layers(net); l++) {
        assert_int_equal(cr_net_weight_offset(net, l), off);
        off += cr_net_width(net, l) * cr_net_width(net, l + 1);
        assert_int_equal(cr_net_bias_offset(net, l), off);
        off += cr_net_width(net, l + 1);
    }
    assert_int_equal(cr_net_n_params(net), off);
    cr_net_free(net);

    /* activation names round-trip */
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        cr_activation back;
        assert_int_equal(cr_activation_parse(cr_activation_name((cr_activation)a), &back), CR_OK);
        assert_int_equal(back, a);
    }
    cr_activation dummy;
    assert_int_equal(cr_activation_parse("mish", &dummy), CR_ERR_ARG); /* not a row */
    assert_int_equal(cr_activation_parse(NULL, &dummy), CR_ERR_ARG);
}

static void test_tape_errors(void **state) {
    (void)state;
    const size_t dims[3] = {3, 4, 2}, dims3[4] = {3, 4, 4, 2};
    const cr_activation act[2] = {CR_ACT_SIGMOID, CR_ACT_SIGMOID};
    cr_net *net = make_net(2, dims, act, 1), *net3 = make_net(3, dims3, act, 2), *net32 = NULL;
    assert_int_equal(cr_net_convert(net, CR_F32, &net32), CR_OK);
    cr_tape *tape = (cr_tape *)(uintptr_t)1, *tape32 = NULL, *tape3 = NULL;

    assert_int_equal(cr_tape_create(net, 0, &tape), CR_ERR_ARG);
    assert_null(tape);
    assert_int_equal(cr_tape_create(NULL, 4, &tape), CR_ERR_ARG);
    assert_int_equal(cr_tape_create(net, SIZE_MAX / 2, &tape), CR_ERR_OVERFLOW);
    assert_null(tape);
    assert_int_equal(cr_tape_create(net, 4, &tape), CR_OK);
    assert_int_equal(cr_tape_create(net32, 4, &tape32), CR_OK);
    assert_int_equal(cr_tape_create(net3, 4, &tape3), CR_OK);

    double x[5 * 3], y[5 * 2], dx[5 * 3], jac[2 * 3], xd[5 * 3], out[5 * 2];
    float xf[5 * 3] = {0};
    tu_fill_uniform(x, 15, -1, 1, 3);
    tu_fill_uniform(xd, 15, -1, 1, 4);
    fill_onehot(y, 5, 2, 5);

    /* before any forward pass there is nothing to differentiate */
    assert_int_equal(cr_net_backward_f64(net, tape, y, dx, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_jvp_f64(net, tape, xd, out, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, 0, 1, jac), CR_ERR_SHAPE);

    /* batch size: 0 is an invalid argument, > max_batch a shape error, max_batch is fine */
    assert_int_equal(cr_net_forward_f64(net, tape, 5, x), CR_ERR_SHAPE);
    assert_int_equal(cr_net_forward_f64(net, tape, 0, x), CR_ERR_ARG);
    assert_int_equal(cr_net_forward_f64(net, tape, 4, x), CR_OK);
    assert_int_equal(cr_tape_rows(tape), 4);
    assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, 4, 1, jac), CR_ERR_SHAPE);
    assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, 3, 1, jac), CR_OK);
    assert_int_equal(cr_net_input_jacobian_chain_f64(net, tape, 3, 1, NULL), CR_ERR_ARG);

    /* mismatched dtypes (CR_ERR_DTYPE), tapes and NULLs (CR_ERR_ARG) */
    assert_int_equal(cr_net_forward_f64(net, tape32, 2, x), CR_ERR_DTYPE);
    assert_int_equal(cr_net_forward_f32(net32, tape, 2, xf), CR_ERR_DTYPE);
    assert_int_equal(cr_net_forward_f32(net, tape32, 2, xf), CR_ERR_DTYPE);
    assert_int_equal(cr_net_forward_f64(net, tape3, 2, x), CR_ERR_ARG);
    assert_int_equal(cr_net_forward_f64(net, NULL, 2, x), CR_ERR_ARG);
    assert_int_equal(cr_net_forward_f64(net, tape, 2, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_backward_f64(net, tape, NULL, dx, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_jvp_f64(net, tape, NULL, out, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_backward_f64(net, tape3, y, dx, NULL), CR_ERR_ARG);
    {
        /* same layer count, other widths: the tape's buffers would be too small */
        const size_t wide[3] = {3, 9, 2};
        cr_net *netw = make_net(2, wide, act, 3);
        assert_int_equal(cr_net_forward_f64(netw, tape, 2, x), CR_ERR_ARG);
        assert_true(isnan(cr_net_loss_f64(netw, tape, y)));
        cr_net_free(netw);
    }

    /* one-hot labels out of range */
    int64_t good[3] = {0, 1, 1}, big[2] = {0, 2}, neg[2] = {-1, 0};
    double oh[3 * 2];
    float ohf[2 * 2];
    assert_int_equal(cr_onehot_f64(3, 2, good, oh), CR_OK);
    assert_true(oh[0] == 1 && oh[1] == 0 && oh[2] == 0 && oh[3] == 1 && oh[5] == 1);
    assert_int_equal(cr_onehot_f64(2, 2, big, oh), CR_ERR_ARG);
    assert_int_equal(cr_onehot_f32(2, 2, neg, ohf), CR_ERR_ARG);

    /* status strings exist for every status */
    for (int s = CR_OK; s <= CR_ERR_DTYPE; s++) {
        assert_non_null(cr_status_string((cr_status)s));
        assert_true(strlen(cr_status_string((cr_status)s)) > 0);
    }

    cr_tape_free(tape);
    cr_tape_free(tape32);
    cr_tape_free(tape3);
    cr_net_free(net);
    cr_net_free(net3);
    cr_net_free(net32);
}

/* ------------------------------------------------------------ initialisation */

static void moments(const double *w, size_t n, double *mean, double *sd, double *maxabs) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += w[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) s2 += (w[i] - *mean) * (w[i] - *mean);
    *sd = sqrt(s2 / (double)(n - 1));
    *maxabs = tu_max_abs(w, n);
}

/* The affine links' representation: set, read back, copied by cr_net_convert, not
   parameters (n_params unchanged), refused when malformed; a tape made for a net with
   an input link has the block for z. */
static void test_affine_links(void **state) {
    (void)state;
    const size_t dims[] = {3, 4, 2};
    const cr_activation act[] = {CR_ACT_SIGMOID};
    cr_net *net, *f32;
    assert_int_equal(cr_net_create(&net, CR_F64, 2, dims, act), CR_OK);
    const size_t n_params = cr_net_n_params(net);
    for (int k = 0; k <= 2; k++) assert_int_equal(cr_net_affine_form(net, k), CR_AFFINE_NONE);
    const double mu[] = {0.1, -0.2, 0.3}, sd[] = {0.5, 2.0, 0.1}, zero[] = {1, 0, 1};
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, zero), CR_ERR_ARG);
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, NULL), CR_ERR_ARG);
    assert_int_equal(cr_net_set_affine(net, 3, CR_AFFINE_SUB_DIV, mu, sd, NULL, NULL, 0),
                     CR_ERR_ARG);
    const double m4[] = {1, 2, 3, 4}, v4[] = {0.5, 1, 2, 4}, g4[] = {1, -1, 2, 3}, b4[] = {0, 1, 0, 1};
    assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, m4, v4, g4, b4, -1),
                     CR_ERR_ARG);
    assert_int_equal(cr_net_set_affine(net, 1, CR_AFFINE_BATCHNORM, m4, v4, g4, b4, 1e-5), CR_OK);
    assert_int_equal(cr_net_n_params(net), n_params);
    double p[4], q[4], s[4], t[4], eps;
    cr_affine_form form;
    assert_int_equal(cr_net_get_affine(net, 0, &form, p, q, NULL, NULL, &eps), CR_OK);
    assert_int_equal(form, CR_AFFINE_SUB_DIV);
    assert_memory_equal(p, mu, sizeof mu);
    assert_memory_equal(q, sd, sizeof sd);
    assert_int_equal(cr_net_convert(net, CR_F32, &f32), CR_OK);
    assert_int_equal(cr_net_get_affine(f32, 1, &form, p, q, s, t, &eps), CR_OK);
    assert_int_equal(form, CR_AFFINE_BATCHNORM);
    assert_true(eps == 1e-5 && p[3] == 4 && q[0] == 0.5 && s[1] == -1 && t[3] == 1);
    cr_affine_f32 view;
    assert_int_equal(cr_net_affine_f64(f32, 0, &(cr_affine_f64){0}), CR_ERR_DTYPE);
    assert_int_equal(cr_net_affine_f32(f32, 0, &view), CR_OK);
    assert_true(view.form == CR_AFFINE_SUB_DIV && view.q[2] == 0.1f);
    cr_tape *tape;
    assert_int_equal(cr_tape_create(net, 3, &tape), CR_OK);
    assert_non_null(cr_tape_input_link(tape));
    cr_tape_free(tape);
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_NONE, NULL, NULL), CR_OK);
    assert_int_equal(cr_tape_create(net, 3, &tape), CR_OK);
    assert_null(cr_tape_input_link(tape));
    cr_tape_free(tape);
    cr_net_free(f32);
    cr_net_free(net);
}

/* A net with link 0 = (x − μ)/σ against its twin without a link fed z = (x − μ)/σ by
   hand: the forward pass and parameter gradients are the same bits, dx is the twin's
   dx / σ (the link's VJP is the last step: derivatives w.r.t. the raw x), the JVP the
   twin's JVP of ẋ/σ, every Jacobian mode the twin's with each column / σ; float32
   training steps (one worker and two, and the per-example path) give the same
   parameters bit for bit as training the twin on z. */
static void test_input_link_equals_twin(void **state) {
    (void)state;
    const size_t dims[] = {40, 33, 20, 4}, D = 40, K = 4, N = 37;
    const cr_activation act[] = {CR_ACT_TANH, CR_ACT_RELU};
    cr_net *twin = make_net(3, dims, act, 4242), *net;
    assert_int_equal(cr_net_convert(twin, CR_F64, &net), CR_OK);
    double mu[40], sd[40], *x = tu_dalloc(N * D), *z = tu_dalloc(N * D), *y = tu_dalloc(N * K);
    tu_fill_uniform(mu, D, -1, 1, 1);
    tu_fill_uniform(sd, D, 0.2, 3, 2);
    tu_fill_uniform(x, N * D, -2, 2, 3);
    fill_onehot(y, N, K, 4);
    for (size_t a = 0; a < N * D; a++) z[a] = (x[a] - mu[a % D]) / sd[a % D];
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
    cr_tape *t1, *t2;
    assert_int_equal(cr_tape_create(net, N, &t1), CR_OK);
    assert_int_equal(cr_tape_create(twin, N, &t2), CR_OK);
    assert_int_equal(cr_net_forward_f64(net, t2, N, x), CR_ERR_ARG); /* a tape without z */
    assert_int_equal(cr_net_forward_f64(net, t1, N, x), CR_OK);
    assert_int_equal(cr_net_forward_f64(twin, t2, N, z), CR_OK);
    assert_memory_equal(cr_tape_output(t1), cr_tape_output(t2), N * K * sizeof(double));
    double *dx1 = tu_dalloc(N * D), *dx2 = tu_dalloc(N * D), *g1 = tu_dalloc(cr_net_n_params(net)),
           *g2 = tu_dalloc(cr_net_n_params(net));
    (void)cr_net_loss_f64(net, t1, y);
    (void)cr_net_loss_f64(twin, t2, y);
    assert_int_equal(cr_net_backward_f64(net, t1, y, dx1, g1), CR_OK);
    assert_int_equal(cr_net_backward_f64(twin, t2, y, dx2, g2), CR_OK);
    assert_memory_equal(g1, g2, cr_net_n_params(net) * sizeof(double));
    for (size_t a = 0; a < N * D; a++) dx2[a] /= sd[a % D];
    assert_memory_equal(dx1, dx2, N * D * sizeof(double));
    tu_check_nontrivial(dx1, N * D, "dx through link 0");
    /* the JVP */
    double *xd = tu_dalloc(N * D), *zd = tu_dalloc(N * D), *o1 = tu_dalloc(N * K),
           *o2 = tu_dalloc(N * K);
    tu_fill_uniform(xd, N * D, -1, 1, 5);
    for (size_t a = 0; a < N * D; a++) zd[a] = xd[a] / sd[a % D];
    assert_int_equal(cr_net_jvp_f64(net, t1, xd, o1, NULL), CR_OK);
    assert_int_equal(cr_net_jvp_f64(twin, t2, zd, o2, NULL), CR_OK);
    assert_memory_equal(o1, o2, N * K * sizeof(double));
    /* the Jacobian: the chain of explicit Jacobians and the three modes */
    double *j1 = tu_dalloc(3 * K * D), *j2 = tu_dalloc(3 * K * D);
    assert_int_equal(cr_net_input_jacobian_chain_f64(net, t1, 2, 1, j1), CR_OK);
    assert_int_equal(cr_net_input_jacobian_chain_f64(twin, t2, 2, 1, j2), CR_OK);
    for (size_t a = 0; a < K * D; a++) j2[a] /= sd[a % D];
    tu_check_close(j1, j2, K * D, 1e-13, &worst_link, "Jacobian chain with link 0");
    static const cr_jac_mode modes[3] = {CR_JAC_REV, CR_JAC_FWD, CR_JAC_CLOSED};
    for (int md = 0; md < 3; md++) {
        assert_int_equal(cr_net_input_jacobian_f64(NULL, net, 3, x, 1, modes[md], j1), CR_OK);
        assert_int_equal(cr_net_input_jacobian_f64(NULL, twin, 3, z, 1, modes[md], j2), CR_OK);
        for (size_t a = 0; a < 3 * K * D; a++) j2[a] /= sd[a % D];
        tu_check_close(j1, j2, 3 * K * D, 1e-13, &worst_link, cr_jac_mode_name(modes[md]));
    }
    /* one layer: the closed mode has no walk, the link's step alone */
    {
        const size_t d1[] = {40, 4};
        cr_net *a1 = make_net(1, d1, NULL, 7), *b1;
        assert_int_equal(cr_net_convert(a1, CR_F64, &b1), CR_OK);
        assert_int_equal(cr_net_set_input_affine(b1, CR_AFFINE_SUB_DIV, mu, sd), CR_OK);
        for (int md = 0; md < 3; md++) {
            assert_int_equal(cr_net_input_jacobian_f64(NULL, b1, 3, x, 1, modes[md], j1), CR_OK);
            assert_int_equal(cr_net_input_jacobian_f64(NULL, a1, 3, z, 1, modes[md], j2), CR_OK);
            for (size_t a = 0; a < 3 * K * D; a++) j2[a] /= sd[a % D];
            tu_check_close(j1, j2, 3 * K * D, 1e-13, &worst_link, "one layer");
        }
        cr_net_free(a1), cr_net_free(b1);
    }
    assert_int_equal(cr_net_input_grad_f64(NULL, net, N, x, y, dx1, NULL), CR_OK);
    assert_int_equal(cr_net_input_grad_f64(NULL, twin, N, z, y, dx2, NULL), CR_OK);
    for (size_t a = 0; a < N * D; a++) dx2[a] /= sd[a % D];
    tu_check_close(dx1, dx2, N * D, 1e-14, &worst_link, "cr_net_input_grad with link 0");

    /* float32 training: the link per batch gives the twin-on-z's numbers, bit for bit */
    for (int mode = 0; mode < 3; mode++) { /* one worker, two workers, per-example SGD */
        cr_net *n32, *w32;
        assert_int_equal(cr_net_convert(net, CR_F32, &n32), CR_OK);
        assert_int_equal(cr_net_convert(twin, CR_F32, &w32), CR_OK);
        float *xf = malloc(N * D * sizeof *xf), *zf = malloc(N * D * sizeof *zf), muf[40], sdf[40];
        cr_label lab[37];
        for (size_t j = 0; j < D; j++) muf[j] = (float)mu[j], sdf[j] = (float)sd[j];
        for (size_t a = 0; a < N * D; a++) {
            xf[a] = (float)x[a];
            zf[a] = (xf[a] - muf[a % D]) / sdf[a % D];
        }
        for (size_t i = 0; i < N; i++) lab[i] = (cr_label)(i % K);
        cr_optim_config cfg = cr_optim_config_default();
        cr_optim *op1, *op2;
        cr_train_ws *ws1, *ws2;
        assert_int_equal(cr_optim_create(n32, &cfg, &op1), CR_OK);
        assert_int_equal(cr_optim_create(w32, &cfg, &op2), CR_OK);
        assert_int_equal(cr_train_ws_create(n32, N, N, &ws1), CR_OK);
        assert_int_equal(cr_train_ws_create(w32, N, N, &ws2), CR_OK);
        if (mode == 1) {
            assert_int_equal(cr_train_ws_set_threads(ws1, 2), CR_OK);
            assert_int_equal(cr_train_ws_set_threads(ws2, 2), CR_OK);
        }
        for (int step = 0; step < 3; step++) {
            if (mode < 2) {
                assert_int_equal(cr_train_step_f32(NULL, n32, op1, ws1, N, xf, lab, NULL, NULL), CR_OK);
                assert_int_equal(cr_train_step_f32(NULL, w32, op2, ws2, N, zf, lab, NULL, NULL), CR_OK);
            } else {
                assert_int_equal(cr_train_sgd1_f32(n32, op1, ws1, xf + step * D, lab[step], NULL, NULL), CR_OK);
                assert_int_equal(cr_train_sgd1_f32(w32, op2, ws2, zf + step * D, lab[step], NULL, NULL), CR_OK);
            }
        }
        assert_memory_equal(cr_net_params(n32), cr_net_params(w32), cr_net_n_params(n32) * sizeof(float));
        size_t moved = 0; /* the steps did something */
        for (size_t q = 0; q < cr_net_n_params(n32); q++)
            moved += ((float *)cr_net_params(n32))[q] != (float)((double *)cr_net_params(twin))[q];
        assert_true(moved > cr_net_n_params(n32) / 2);
        cr_optim_free(op1), cr_optim_free(op2), cr_train_ws_free(ws1), cr_train_ws_free(ws2);
        cr_net_free(n32), cr_net_free(w32), free(xf), free(zf);
    }
    cr_tape_free(t1), cr_tape_free(t2);
    cr_net_free(net), cr_net_free(twin);
    free(x), free(z), free(y), free(dx1), free(dx2), free(g1), free(g2), free(xd), free(zd), free(o1),
        free(o2), free(j1), free(j2);
}

static void test_init(void **state) {
    (void)state;
    /* Xavier on a sigmoid net: |w| <= sqrt(6/(fan_in+fan_out)), ~uniform, zero biases */
    const size_t dx_[3] = {200, 100, 10};
    const cr_activation sig[1] = {CR_ACT_SIGMOID}, relu[1] = {CR_ACT_RELU};
    cr_net *net = make_net(2, dx_, sig, 1); /* garbage first: init must overwrite biases */
    for (int scheme = 0; scheme < 2; scheme++) {
        cr_net_init(net, scheme ? CR_INIT_XAVIER : CR_INIT_AUTO, 42);
        const double *p = cr_net_params_f64(net);
        for (int l = 0; l < 2; l++) {
            size_t fi = cr_net_width(net, l), fo = cr_net_width(net, l + 1), cnt = fi * fo;
            double lim = sqrt(6.0 / (double)(fi + fo)), mean, sd, mx;
            moments(p + cr_net_weight_offset(net, l), cnt, &mean, &sd, &mx);
            assert_true(mx <= lim);
            assert_true(mx >= 0.98 * lim); /* the range is used, not a tiny scale */
            assert_true(fabs(mean) <= 4 * lim / sqrt(3.0 * (double)cnt));
            assert_true(fabs(sd - lim / sqrt(3.0)) <= 0.05 * lim / sqrt(3.0));
            for (size_t j = 0; j < fo; j++) assert_true(p[cr_net_bias_offset(net, l) + j] == 0.0);
        }
    }
    /* He on a relu net: normal with sd sqrt(2/fan_in) (AUTO: He for the relu layer,
       Xavier for the layer that feeds softmax) */
    const size_t dh[3] = {400, 200, 10};
    cr_net *hn = make_net(2, dh, relu, 2);
    for (int scheme = 0; scheme < 2; scheme++) {
        cr_net_init(hn, scheme ? CR_INIT_HE : CR_INIT_AUTO, 43);
        const double *p = cr_net_params_f64(hn);
        size_t cnt = 400 * 200;
        double want = sqrt(2.0 / 400.0), mean, sd, mx;
        moments(p + cr_net_weight_offset(hn, 0), cnt, &mean, &sd, &mx);
        assert_true(fabs(sd - want) <= 0.02 * want);
        assert_true(fabs(mean) <= 4 * want / sqrt((double)cnt));
        assert_true(mx > sqrt(6.0 / 600.0)); /* a normal's tails exceed the Xavier bound */
        for (size_t j = 0; j < 200; j++) assert_true(p[cr_net_bias_offset(hn, 0) + j] == 0.0);
        moments(p + cr_net_weight_offset(hn, 1), 200 * 10, &mean, &sd, &mx);
        if (scheme == 0)
            assert_true(mx <= sqrt(6.0 / 210.0)); /* AUTO: last layer Xavier */
        else
            assert_true(fabs(sd - sqrt(2.0 / 200.0)) <= 0.06 * sqrt(2.0 / 200.0));
    }

    /* reproducible: same seed → identical bits; different seed → different weights */
    cr_net *a = make_net(2, dx_, sig, 3), *b = make_net(2, dx_, sig, 4), *f = NULL, *f2 = NULL;
    cr_net_init(a, CR_INIT_AUTO, 7);
    cr_net_init(b, CR_INIT_AUTO, 7);
    assert_memory_equal(cr_net_params(a), cr_net_params(b), cr_net_n_params(a) * sizeof(double));
    cr_net_init(b, CR_INIT_AUTO, 8);
    size_t differ = 0, nw = 0;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < cr_net_width(a, l) * cr_net_width(a, l + 1); i++, nw++)
            differ += cr_net_params_f64(a)[cr_net_weight_offset(a, l) + i] !=
                      cr_net_params_f64(b)[cr_net_weight_offset(b, l) + i];
    assert_true(differ > nw * 99 / 100);
    /* float32 init: the same draws rounded to float, and reproducible too */
    assert_int_equal(cr_net_create(&f, CR_F32, 2, dx_, sig), CR_OK);
    assert_int_equal(cr_net_create(&f2, CR_F32, 2, dx_, sig), CR_OK);
    cr_net_init(f, CR_INIT_AUTO, 7);
    cr_net_init(f2, CR_INIT_AUTO, 7);
    assert_memory_equal(cr_net_params(f), cr_net_params(f2), cr_net_n_params(f) * sizeof(float));
    for (size_t q = 0; q < cr_net_n_params(a); q++)
        assert_true(cr_net_params_f32(f)[q] == (float)cr_net_params_f64(a)[q]);

    cr_net_free(net), cr_net_free(hn), cr_net_free(a), cr_net_free(b), cr_net_free(f);
    cr_net_free(f2);
}

/* ------------------------------------------------------------ gemm */

static void naive_gemm(int ta, int tb, size_t m, size_t n, size_t k, double alpha,
                       const double *a, size_t lda, const double *b, size_t ldb, double beta,
                       double *c, size_t ldc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
        }
}

static void test_gemm(void **state) {
    (void)state;
    static const size_t sizes[][3] = {{7, 5, 3}, {1, 9, 4}, {13, 1, 11}, {5, 6, 1},
                                      {1, 1, 1}, {17, 19, 23}, {3, 4, 0}};
    static const double alphas[] = {1.0, 0.75, -2.5};
    static const double betas[] = {0.0, 1.0, -1.25};
    print_message("gemm via CBLAS: %d\n", cr_have_cblas());
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int ab = 0; ab < 3; ab++) {
                    const size_t m = sizes[s][0], n = sizes[s][1], k = sizes[s][2];
                    const double alpha = alphas[ab], beta = betas[(ab + s) % 3];
                    /* padded leading dimensions: stored A is (ta ? k×m : m×k), etc. */
                    const size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k,
                                 bc = tb ? k : n;
                    const size_t lda = ac + 2, ldb = bc + 1, ldc = n + 3;
                    const size_t na = ar * lda + 1, nb = br * ldb + 1, nc = m * ldc;
                    double *A = tu_dalloc(na), *B = tu_dalloc(nb), *C = tu_dalloc(nc), *R = tu_dalloc(nc);
                    float *Af = tu_falloc(na), *Bf = tu_falloc(nb), *Cf = tu_falloc(nc);
                    uint64_t seed = 100 * s + 10 * (uint64_t)ta + 2 * (uint64_t)tb + (uint64_t)ab;
                    tu_fill_uniform(A, na, -1, 1, seed);
                    tu_fill_uniform(B, nb, -1, 1, seed + 5000);
                    tu_fill_uniform(C, nc, -1, 1, seed + 9000);
                    /* beta = 0 means C is output only: NaN in C must not leak through */
                    if (beta == 0)
                        for (size_t i = 0; i < m; i++)
                            for (size_t j = 0; j < n; j++) C[i * ldc + j] = NAN;
                    for (size_t i = 0; i < na; i++) Af[i] = (float)A[i], A[i] = Af[i];
                    for (size_t i = 0; i < nb; i++) Bf[i] = (float)B[i], B[i] = Bf[i];
                    for (size_t i = 0; i < nc; i++) Cf[i] = (float)C[i], C[i] = (double)Cf[i];
                    memcpy(R, C, nc * sizeof(double));
                    naive_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, R, ldc);

                    cr_gemm_f64(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
                    cr_gemm_f32(ta, tb, m, n, k, (float)alpha, Af, lda, Bf, ldb, (float)beta, Cf,
                                ldc);
                    /* compare the m×n block; the padding columns must be untouched */
                    double *got = tu_dalloc(m * n), *gotf = tu_dalloc(m * n), *ref = tu_dalloc(m * n);
                    for (size_t i = 0; i < m; i++) {
                        for (size_t j = 0; j < n; j++) {
                            got[i * n + j] = C[i * ldc + j];
                            gotf[i * n + j] = Cf[i * ldc + j];
                            ref[i * n + j] = R[i * ldc + j];
                        }
                        for (size_t j = n; j < ldc; j++) {
                            assert_true(C[i * ldc + j] == R[i * ldc + j]);
                            assert_true((double)Cf[i * ldc + j] == R[i * ldc + j]);
                        }
                    }
                    char what[128];
                    snprintf(what, sizeof what, "gemm_f64 ta=%d tb=%d %zux%zux%zu a=%g b=%g", ta,
                             tb, m, n, k, alpha, beta);
                    if (k > 0 || beta != 0) tu_check_nontrivial(ref, m * n, what);
                    tu_check_close(got, ref, m * n, 1e-14, &worst_gemm64, what);
                    snprintf(what, sizeof what, "gemm_f32 ta=%d tb=%d %zux%zux%zu a=%g b=%g", ta,
                             tb, m, n, k, alpha, beta);
                    tu_check_close(gotf, ref, m * n, 1e-5, &worst_gemm32, what);
                    free(A), free(B), free(C), free(R), free(Af), free(Bf), free(Cf);
                    free(got), free(gotf), free(ref);
                }
}

static int report(void **state) {
    (void)state;
    print_message("worst errors: vs FD %.3g (tol %.0e), exact pairs %.3g (tol %.0e), adjoint "
                  "%.3g, f32 net vs f64 %.3g (tol %.0e), gemm f64 %.3g, gemm f32 %.3g\n",
                  worst_fd, FD_TOL, worst_exact, EXACT_TOL, worst_adjoint, worst_f32, F32_TOL,
                  worst_gemm64, worst_gemm32);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_network),
        cmocka_unit_test(test_gradients_vs_fd),
        cmocka_unit_test(test_batch_equals_per_example),
        cmocka_unit_test(test_jvp),
        cmocka_unit_test(test_f32_matches_f64),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_tape_errors),
        cmocka_unit_test(test_affine_links),
        cmocka_unit_test(test_input_link_equals_twin),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_gemm),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, report);
}
