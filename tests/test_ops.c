/*
 * test_ops — every op's forward, explicit Jacobian, VJP and JVP (docs/design.md §3, §5).
 *
 * For each op, in float64, on seeded non-trivial inputs:
 *   - explicit Jacobian == central finite differences of the forward
 *     (step 1e-6 max(1,|x|), relative error < 1e-7), and it is not trivially zero;
 *   - VJP(g) == g · Jacobian and JVP(xd) == Jacobian · xd (relative ~1e-12),
 *     per row and batched (N = 3..5 rows);
 *   - the adjoint identity <JVP(u), v> == <u, VJP(v)>;
 * plus linear's parameter gradients, softmax/log-softmax identities, the fused
 * softmax+CE against the unfused pair, extreme-logit stability, sigmoid
 * stability and float32 agreement with float64.
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

#define FD_TOL 1e-7     /* explicit Jacobian vs central differences (f64) */
#define EXACT_TOL 1e-12 /* VJP/JVP vs products with the explicit Jacobian (f64) */
#define F32_TOL 1e-5    /* float32 op vs float64 op */

/* Worst errors seen, printed at the end so that a run reports its margins. */
static double worst_fd, worst_exact, worst_adjoint, worst_f32;

static void to_f32(const double *a, float *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (float)a[i];
}
static void to_f64(const float *a, double *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = (double)a[i];
}

/* out (1 x d) = g (1 x m) · J (m x d) */
static void row_times_mat(const double *g, const double *jac, size_t m, size_t d, double *out) {
    for (size_t j = 0; j < d; j++) {
        double s = 0;
        for (size_t i = 0; i < m; i++) s += g[i] * jac[i * d + j];
        out[j] = s;
    }
}

/* out (m) = J (m x d) · v (d) */
static void mat_times_vec(const double *jac, const double *v, size_t m, size_t d, double *out) {
    for (size_t i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += jac[i * d + j] * v[j];
        out[i] = s;
    }
}

/* ------------------------------------------------------------ finite differences */

typedef void (*vec_fn)(const void *ctx, const double *x, double *out);

/* jac (m x d) <- central differences of f at x0, step 1e-6 max(1, |x|), in float64. */
static void fd_jacobian(vec_fn f, const void *ctx, size_t d, size_t m, const double *x0,
                        double *jac) {
    double *x = tu_dalloc(d), *fp = tu_dalloc(m), *fm = tu_dalloc(m);
    memcpy(x, x0, d * sizeof(double));
    for (size_t j = 0; j < d; j++) {
        double h = 1e-6 * fmax(1.0, fabs(x0[j]));
        double xp = x0[j] + h, xm = x0[j] - h;
        x[j] = xp;
        f(ctx, x, fp);
        x[j] = xm;
        f(ctx, x, fm);
        x[j] = x0[j];
        for (size_t i = 0; i < m; i++) jac[i * d + j] = (fp[i] - fm[i]) / (xp - xm);
    }
    free(x);
    free(fp);
    free(fm);
}

/* ------------------------------------------------------------ op descriptors (f64) */

/*
 * A uniform view of one op: per-row input width din, output width dout.
 * `row0` selects the target rows (y) for the loss ops.
 */
typedef struct opcase {
    const char *name;
    size_t din, dout;
    const double *w, *b; /* linear */
    const double *y;     /* loss targets, N x k */
    void (*forward)(const struct opcase *c, size_t row0, size_t n, const double *x, double *out);
    void (*jacobian)(const struct opcase *c, size_t row, const double *x, const double *out,
                     double *jac /* dout x din */);
    void (*vjp)(const struct opcase *c, size_t n, const double *x, const double *out,
                const double *g, double *gx);
    void (*jvp)(const struct opcase *c, size_t n, const double *x, const double *out,
                const double *xd, double *od); /* NULL: the op has no JVP */
} opcase;

/* linear */
static void lin_fwd(const opcase *c, size_t row0, size_t n, const double *x, double *out) {
    (void)row0;
    cr_linear_forward_f64(n, c->din, c->dout, x, c->w, c->b, out);
}
static void lin_jac(const opcase *c, size_t row, const double *x, const double *out, double *j) {
    (void)row, (void)x, (void)out;
    cr_linear_jacobian_f64(c->din, c->dout, c->w, j);
}
static void lin_vjp(const opcase *c, size_t n, const double *x, const double *out,
                    const double *g, double *gx) {
    (void)x, (void)out;
    cr_linear_vjp_f64(n, c->din, c->dout, c->w, g, gx);
}
static void lin_jvp(const opcase *c, size_t n, const double *x, const double *out,
                    const double *xd, double *od) {
    (void)x, (void)out;
    cr_linear_jvp_f64(n, c->din, c->dout, c->w, xd, od);
}

/* element-wise activations */
#define ACT_CASE(act)                                                                          \
    static void act##_fwd(const opcase *c, size_t row0, size_t n, const double *x,             \
                          double *out) {                                                       \
        (void)row0;                                                                            \
        cr_##act##_forward_f64(n * c->din, x, out);                                            \
    }                                                                                          \
    static void act##_jac(const opcase *c, size_t row, const double *x, const double *out,     \
                          double *j) {                                                         \
        (void)row;                                                                             \
        cr_##act##_jacobian_f64(c->din, x, out, j);                                            \
    }                                                                                          \
    static void act##_vjpw(const opcase *c, size_t n, const double *x, const double *out,      \
                           const double *g, double *gx) {                                      \
        cr_##act##_vjp_f64(n * c->din, x, out, g, gx);                                         \
    }                                                                                          \
    static void act##_jvpw(const opcase *c, size_t n, const double *x, const double *out,      \
                           const double *xd, double *od) {                                     \
        cr_##act##_jvp_f64(n * c->din, x, out, xd, od);                                        \
    }
ACT_CASE(sigmoid)
ACT_CASE(tanh)
ACT_CASE(relu)

/* softmax: Jacobian and VJP/JVP take the output ŷ */
static void sm_fwd(const opcase *c, size_t row0, size_t n, const double *x, double *out) {
    (void)row0;
    cr_softmax_forward_f64(n, c->din, x, out);
}
static void sm_jac(const opcase *c, size_t row, const double *x, const double *out, double *j) {
    (void)row, (void)x;
    cr_softmax_jacobian_f64(c->din, out, j);
}
static void sm_vjp(const opcase *c, size_t n, const double *x, const double *out,
                   const double *g, double *gx) {
    (void)x;
    cr_softmax_vjp_f64(n, c->din, out, g, gx);
}
static void sm_jvp(const opcase *c, size_t n, const double *x, const double *out,
                   const double *xd, double *od) {
    (void)x;
    cr_softmax_jvp_f64(n, c->din, out, xd, od);
}

/* cross-entropy (unfused): input ŷ (positive), output the scalar loss per row */
static void ce_fwd(const opcase *c, size_t row0, size_t n, const double *x, double *out) {
    cr_cross_entropy_forward_f64(n, c->din, x, c->y + row0 * c->din, out);
}
static void ce_jac(const opcase *c, size_t row, const double *x, const double *out, double *j) {
    (void)out;
    cr_cross_entropy_jacobian_f64(c->din, x, c->y + row * c->din, j);
}
static void ce_vjp(const opcase *c, size_t n, const double *x, const double *out,
                   const double *g, double *gx) {
    (void)out;
    cr_cross_entropy_vjp_f64(n, c->din, x, c->y, g, gx);
}

/* fused softmax + CE: input θ, output the loss per row. Its Jacobian and VJP
 * take ŷ = S(θ), which the wrappers recompute through the fused forward. */
static void sce_fwd(const opcase *c, size_t row0, size_t n, const double *x, double *out) {
    cr_softmax_ce_forward_f64(n, c->din, x, c->y + row0 * c->din, NULL, out);
}
static void sce_jac(const opcase *c, size_t row, const double *x, const double *out, double *j) {
    (void)out;
    double *yhat = tu_dalloc(c->din), loss;
    cr_softmax_ce_forward_f64(1, c->din, x, c->y + row * c->din, yhat, &loss);
    cr_softmax_ce_jacobian_f64(c->din, yhat, c->y + row * c->din, j);
    free(yhat);
}
static void sce_vjp(const opcase *c, size_t n, const double *x, const double *out,
                    const double *g, double *gx) {
    (void)out;
    double *yhat = tu_dalloc(n * c->din), *loss = tu_dalloc(n);
    cr_softmax_ce_forward_f64(n, c->din, x, c->y, yhat, loss);
    cr_softmax_ce_vjp_f64(n, c->din, yhat, c->y, g, gx);
    free(yhat);
    free(loss);
}

typedef struct {
    const opcase *c;
    size_t row;
} fd_ctx;

static void fd_row_forward(const void *ctx, const double *x, double *out) {
    const fd_ctx *f = ctx;
    f->c->forward(f->c, f->row, 1, x, out);
}

/*
 * The common checks for one op on an N-row batch x:
 *   Jacobian vs FD, VJP vs g·J, JVP vs J·xd (per row and batched), adjoint identity.
 */
static void run_op_checks(const opcase *c, size_t n, const double *x) {
    const size_t din = c->din, dout = c->dout;
    double *out = tu_dalloc(n * dout), *jac = tu_dalloc(dout * din), *fd = tu_dalloc(dout * din);
    double *g = tu_dalloc(n * dout), *xd = tu_dalloc(n * din);
    double *ref_vjp = tu_dalloc(n * din), *ref_jvp = tu_dalloc(n * dout);
    double *row_vjp = tu_dalloc(n * din), *row_jvp = tu_dalloc(n * dout);
    double *bat_vjp = tu_dalloc(n * din), *bat_jvp = tu_dalloc(n * dout);
    char what[160];

    /* outputs are overwritten, not accumulated: start them as NaN so leftovers show */
    for (size_t a = 0; a < n * din; a++) row_vjp[a] = bat_vjp[a] = NAN;
    for (size_t a = 0; a < n * dout; a++) row_jvp[a] = bat_jvp[a] = NAN;
    tu_fill_uniform(g, n * dout, -1, 1, 1001 + din * 7 + dout);
    tu_fill_uniform(xd, n * din, -1, 1, 2002 + din * 7 + dout);
    c->forward(c, 0, n, x, out);

    for (size_t i = 0; i < n; i++) {
        const double *xi = x + i * din, *oi = out + i * dout;
        c->jacobian(c, i, xi, oi, jac);
        fd_ctx ctx = {c, i};
        fd_jacobian(fd_row_forward, &ctx, din, dout, xi, fd);
        snprintf(what, sizeof what, "%s row %zu: Jacobian vs finite differences", c->name, i);
        tu_check_nontrivial(jac, dout * din, what);
        tu_check_close(jac, fd, dout * din, FD_TOL, &worst_fd, what);

        /* references from the explicit Jacobian */
        row_times_mat(g + i * dout, jac, dout, din, ref_vjp + i * din);
        if (c->jvp) mat_times_vec(jac, xd + i * din, dout, din, ref_jvp + i * dout);

        /* one-row calls (the loss ops read targets from row 0: give them this row's view) */
        opcase ci = *c;
        if (c->y) ci.y = c->y + i * din;
        ci.vjp(&ci, 1, xi, oi, g + i * dout, row_vjp + i * din);
        snprintf(what, sizeof what, "%s row %zu: VJP(g) vs g·Jacobian", c->name, i);
        tu_check_nontrivial(ref_vjp + i * din, din, what);
        tu_check_close(row_vjp + i * din, ref_vjp + i * din, din, EXACT_TOL, &worst_exact, what);
        if (c->jvp) {
            ci.jvp(&ci, 1, xi, oi, xd + i * din, row_jvp + i * dout);
            snprintf(what, sizeof what, "%s row %zu: JVP(xd) vs Jacobian·xd", c->name, i);
            tu_check_nontrivial(ref_jvp + i * dout, dout, what);
            tu_check_close(row_jvp + i * dout, ref_jvp + i * dout, dout, EXACT_TOL, &worst_exact,
                        what);
        }
    }

    /* batched: one call over N rows equals the per-row results stacked */
    c->vjp(c, n, x, out, g, bat_vjp);
    snprintf(what, sizeof what, "%s: batched VJP (N=%zu) vs per-row calls", c->name, n);
    tu_check_close(bat_vjp, row_vjp, n * din, EXACT_TOL, &worst_exact, what);
    snprintf(what, sizeof what, "%s: batched VJP (N=%zu) vs g·Jacobian per row", c->name, n);
    tu_check_close(bat_vjp, ref_vjp, n * din, EXACT_TOL, &worst_exact, what);
    if (c->jvp) {
        c->jvp(c, n, x, out, xd, bat_jvp);
        snprintf(what, sizeof what, "%s: batched JVP (N=%zu) vs per-row calls", c->name, n);
        tu_check_close(bat_jvp, row_jvp, n * dout, EXACT_TOL, &worst_exact, what);
        snprintf(what, sizeof what, "%s: batched JVP (N=%zu) vs Jacobian·xd per row", c->name, n);
        tu_check_close(bat_jvp, ref_jvp, n * dout, EXACT_TOL, &worst_exact, what);

        /* adjoint identity <JVP(u), v> == <u, VJP(v)> with u = xd, v = g over the batch */
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t a = 0; a < n * dout; a++) {
            lhs += bat_jvp[a] * g[a];
            scale += fabs(bat_jvp[a] * g[a]);
        }
        for (size_t a = 0; a < n * din; a++) {
            rhs += xd[a] * bat_vjp[a];
            scale += fabs(xd[a] * bat_vjp[a]);
        }
        assert_true(scale > 1e-6);
        double e = fabs(lhs - rhs) / scale;
        if (e > worst_adjoint) worst_adjoint = e;
        if (!(e <= EXACT_TOL)) {
            print_error("%s: adjoint <Ju,v>=%.17g <u,J^T v>=%.17g rel %.3g\n", c->name, lhs,
                        rhs, e);
            fail();
        }
    }
    free(out), free(jac), free(fd), free(g), free(xd), free(ref_vjp), free(ref_jvp);
    free(row_vjp), free(row_jvp), free(bat_vjp), free(bat_jvp);
}

/* x uniform in ±[lo, hi] with random sign (lo > 0 keeps relu away from its kink). */
static void fill_signed(double *x, size_t n, double lo, double hi, uint64_t seed) {
    tu_fill_uniform(x, n, -1, 1, seed);
    for (size_t i = 0; i < n; i++) x[i] = (x[i] < 0 ? -1 : 1) * (lo + (hi - lo) * fabs(x[i]));
}

/* ------------------------------------------------------------ the op tests */

static void test_linear(void **state) {
    (void)state;
    static const size_t shapes[][3] = {{4, 3, 3}, {1, 5, 4}, {5, 1, 5}, {7, 6, 3}}; /* D, H, N */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t d = shapes[s][0], h = shapes[s][1], n = shapes[s][2];
        double *w = tu_dalloc(d * h), *b = tu_dalloc(h), *x = tu_dalloc(n * d);
        tu_fill_uniform(w, d * h, -1.5, 1.5, 11 + s);
        tu_fill_uniform(b, h, -0.5, 0.5, 21 + s);
        tu_fill_uniform(x, n * d, -2, 2, 31 + s);
        opcase c = {"linear", d, h, w, b, NULL, lin_fwd, lin_jac, lin_vjp, lin_jvp};
        run_op_checks(&c, n, x);
        free(w), free(b), free(x);
    }
}

static void test_sigmoid(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        size_t d = 1 + 3 * s, n = 3 + s;
        double *x = tu_dalloc(n * d);
        tu_fill_uniform(x, n * d, -4, 4, 41 + s);
        opcase c = {"sigmoid", d, d, NULL, NULL, NULL, sigmoid_fwd, sigmoid_jac, sigmoid_vjpw,
                    sigmoid_jvpw};
        run_op_checks(&c, n, x);
        free(x);
    }
}

static void test_tanh(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        size_t d = 1 + 3 * s, n = 3 + s;
        double *x = tu_dalloc(n * d);
        tu_fill_uniform(x, n * d, -2.5, 2.5, 51 + s);
        opcase c = {"tanh", d, d, NULL, NULL, NULL, tanh_fwd, tanh_jac, tanh_vjpw, tanh_jvpw};
        run_op_checks(&c, n, x);
        free(x);
    }
}

static void test_relu(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        size_t d = 2 + 3 * s, n = 3 + s;
        double *x = tu_dalloc(n * d);
        fill_signed(x, n * d, 0.1, 3, 61 + s); /* away from the kink at 0 */
        opcase c = {"relu", d, d, NULL, NULL, NULL, relu_fwd, relu_jac, relu_vjpw, relu_jvpw};
        run_op_checks(&c, n, x);
        /* both branches were exercised */
        size_t pos = 0;
        for (size_t i = 0; i < n * d; i++) pos += x[i] > 0;
        assert_true(pos > 0 && pos < n * d);
        free(x);
    }
    /* the convention at the kink: derivative 0 at r = 0 */
    double r = 0, h, jac, gr, g = 1;
    cr_relu_forward_f64(1, &r, &h);
    cr_relu_jacobian_f64(1, &r, &h, &jac);
    cr_relu_vjp_f64(1, &r, &h, &g, &gr);
    assert_true(h == 0 && jac == 0 && gr == 0);
}

/* affine: the op of the current case (the opcase has no slot for it) */
static cr_affine_f64 affine_case;
static void affine_fwd(const opcase *c, size_t row0, size_t n, const double *x, double *out) {
    (void)row0;
    cr_affine_forward_f64(&affine_case, n, c->din, x, out);
}
static void affine_jac(const opcase *c, size_t row, const double *x, const double *out,
                       double *j) {
    (void)row, (void)x, (void)out;
    cr_affine_jacobian_f64(&affine_case, c->din, j);
}
static void affine_vjpw(const opcase *c, size_t n, const double *x, const double *out,
                        const double *g, double *gx) {
    (void)x, (void)out;
    cr_affine_vjp_f64(&affine_case, n, c->din, g, gx);
}
static void affine_jvpw(const opcase *c, size_t n, const double *x, const double *out,
                        const double *xd, double *od) {
    (void)x, (void)out;
    cr_affine_jvp_f64(&affine_case, n, c->din, xd, od);
}

/* Every form against finite differences, VJP/JVP against its explicit Jacobian; the
   forward is exactly the file's arithmetic, in order (bit for bit); float32 from the
   same source agrees. */
static void test_affine(void **state) {
    (void)state;
    for (int form = CR_AFFINE_NONE; form < CR_AFFINE_FORM_COUNT; form++) {
        const size_t d = 5, n = 4;
        double p[5], q[5], s[5], t[5], x[20], z[20], diag[5];
        tu_fill_uniform(p, d, -2, 2, 71 + (uint64_t)form);
        fill_signed(q, d, 0.3, 3, 81 + (uint64_t)form); /* divisors away from 0 */
        tu_fill_uniform(s, d, -1.5, 1.5, 91 + (uint64_t)form);
        tu_fill_uniform(t, d, -1, 1, 101 + (uint64_t)form);
        if (form == CR_AFFINE_BATCHNORM)
            for (size_t j = 0; j < d; j++) q[j] = fabs(q[j]); /* a variance */
        tu_fill_uniform(x, n * d, -3, 3, 111 + (uint64_t)form);
        affine_case = (cr_affine_f64){(cr_affine_form)form, p, q, s, t, 1e-5};
        opcase c = {"affine", d, d, NULL, NULL, NULL, affine_fwd, affine_jac, affine_vjpw,
                    affine_jvpw};
        run_op_checks(&c, n, x);
        cr_affine_forward_f64(&affine_case, n, d, x, z);
        cr_affine_diag_f64(&affine_case, d, diag);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                double xv = x[i * d + j], want = xv, a = 1;
                switch (form) {
                case CR_AFFINE_SUB_DIV: want = (xv - p[j]) / q[j], a = 1 / q[j]; break;
                case CR_AFFINE_SUB_MUL: want = (xv - p[j]) * q[j], a = q[j]; break;
                case CR_AFFINE_MUL_ADD: want = xv * p[j] + q[j], a = p[j]; break;
                case CR_AFFINE_BATCHNORM:
                    want = (xv - p[j]) / sqrt(q[j] + 1e-5) * s[j] + t[j];
                    a = 1 / sqrt(q[j] + 1e-5) * s[j];
                    break;
                default: break;
                }
                assert_true(memcmp(&z[i * d + j], &want, sizeof want) == 0); /* bit for bit */
                assert_true(fabs(diag[j] - a) <= 1e-15 * fabs(a));
            }
        /* float32 from the same source: exact arithmetic of float vectors */
        float pf[5], qf[5], sf[5], tf[5], xf[20], zf[20], gf[20];
        to_f32(p, pf, d), to_f32(q, qf, d), to_f32(s, sf, d), to_f32(t, tf, d);
        to_f32(x, xf, n * d);
        cr_affine_f32 af = {(cr_affine_form)form, pf, qf, sf, tf, 1e-5f};
        cr_affine_forward_f32(&af, n, d, xf, zf);
        for (size_t a = 0; a < n * d; a++) {
            size_t j = a % d;
            float want = xf[a];
            if (form == CR_AFFINE_SUB_DIV) want = (xf[a] - pf[j]) / qf[j];
            if (form == CR_AFFINE_SUB_MUL) want = (xf[a] - pf[j]) * qf[j];
            if (form == CR_AFFINE_MUL_ADD) want = xf[a] * pf[j] + qf[j];
            if (form == CR_AFFINE_BATCHNORM)
                want = (xf[a] - pf[j]) / sqrtf(qf[j] + 1e-5f) * sf[j] + tf[j];
            assert_true(memcmp(&zf[a], &want, sizeof want) == 0);
            double err = fabs((double)zf[a] - z[a]) / fmax(1, fabs(z[a]));
            worst_f32 = fmax(worst_f32, err);
            assert_true(err < F32_TOL);
        }
        cr_affine_vjp_f32(&af, n, d, xf, gf); /* in place allowed; here out of place */
        for (size_t a = 0; a < n * d; a++) {
            double ref = (double)xf[a] * diag[a % d];
            assert_true(fabs((double)gf[a] - ref) <= F32_TOL * fmax(1, fabs(ref)));
        }
    }
    assert_string_equal(cr_affine_form_name(CR_AFFINE_SUB_DIV), "sub-div");
}

static void test_softmax(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        size_t k = 2 + 2 * s, n = 3 + s;
        double *x = tu_dalloc(n * k), *yh = tu_dalloc(n * k), *lp = tu_dalloc(n * k);
        tu_fill_uniform(x, n * k, -3, 3, 71 + s);
        opcase c = {"softmax", k, k, NULL, NULL, NULL, sm_fwd, sm_jac, sm_vjp, sm_jvp};
        run_op_checks(&c, n, x);

        /* rows sum to 1, entries in (0, 1); log_softmax == log(softmax) */
        cr_softmax_forward_f64(n, k, x, yh);
        cr_log_softmax_forward_f64(n, k, x, lp);
        for (size_t i = 0; i < n; i++) {
            double sum = 0;
            for (size_t j = 0; j < k; j++) {
                double p = yh[i * k + j];
                assert_true(p > 0 && p < 1);
                sum += p;
                assert_true(fabs(lp[i * k + j] - log(p)) <= 1e-14 * fmax(1, fabs(log(p))));
            }
            assert_true(fabs(sum - 1) <= 1e-15 * (double)k);
        }
        /* shift invariance: S(θ + c) == S(θ) */
        double *xs = tu_dalloc(n * k), *ys = tu_dalloc(n * k);
        for (size_t a = 0; a < n * k; a++) xs[a] = x[a] + 123.25;
        cr_softmax_forward_f64(n, k, xs, ys);
        tu_check_close(ys, yh, n * k, 1e-13, &worst_exact, "softmax shift invariance");
        free(x), free(yh), free(lp), free(xs), free(ys);
    }
}

/* log-softmax: forward only in the API. Its Jacobian by the chain rule through log is
 * diag(1/ŷ)·(diag(ŷ) − ŷᵀŷ) = I − 1ŷ (built here from the library's softmax Jacobian). */
typedef struct {
    size_t k;
} lsm_ctx;
static void lsm_fn(const void *ctx, const double *x, double *out) {
    cr_log_softmax_forward_f64(1, ((const lsm_ctx *)ctx)->k, x, out);
}

static void test_log_softmax(void **state) {
    (void)state;
    for (size_t s = 0; s < 3; s++) {
        size_t k = 2 + 3 * s;
        double *x = tu_dalloc(k), *yh = tu_dalloc(k), *js = tu_dalloc(k * k), *jl = tu_dalloc(k * k),
               *fd = tu_dalloc(k * k);
        tu_fill_uniform(x, k, -4, 4, 81 + s);
        cr_softmax_forward_f64(1, k, x, yh);
        cr_softmax_jacobian_f64(k, yh, js);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++) {
                jl[i * k + j] = js[i * k + j] / yh[i];
                /* and equals I − 1ŷ */
                double closed = (i == j ? 1.0 : 0.0) - yh[j];
                assert_true(fabs(jl[i * k + j] - closed) <= 1e-13);
            }
        lsm_ctx ctx = {k};
        fd_jacobian(lsm_fn, &ctx, k, k, x, fd);
        tu_check_nontrivial(jl, k * k, "log_softmax Jacobian");
        tu_check_close(jl, fd, k * k, FD_TOL, &worst_fd, "log_softmax Jacobian vs FD");
        free(x), free(yh), free(js), free(jl), free(fd);
    }
    /* stable at extreme logits where log(softmax) would give -inf */
    const double t[3] = {1e4, -1e4, 0};
    double lp[3];
    cr_log_softmax_forward_f64(1, 3, t, lp);
    assert_true(lp[0] == 0 && lp[1] == -2e4 && lp[2] == -1e4);
    const float tf[3] = {1e4f, -1e4f, 0};
    float lpf[3];
    cr_log_softmax_forward_f32(1, 3, tf, lpf);
    assert_true(lpf[0] == 0 && lpf[1] == -2e4f && lpf[2] == -1e4f);
}

/* soft targets: positive rows summing to `total` (1 = a distribution) */
static void fill_soft_targets(double *y, size_t n, size_t k, double total, uint64_t seed) {
    tu_fill_uniform(y, n * k, 0.05, 1, seed);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < k; j++) s += y[i * k + j];
        for (size_t j = 0; j < k; j++) y[i * k + j] *= total / s;
    }
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

static void test_cross_entropy(void **state) {
    (void)state;
    for (size_t s = 0; s < 4; s++) {
        size_t k = 2 + 2 * s, n = 3 + (s % 3);
        double *yhat = tu_dalloc(n * k), *y = tu_dalloc(n * k);
        /* ŷ: a probability vector (positive, away from 0) */
        tu_fill_uniform(yhat, n * k, -2, 2, 91 + s);
        cr_softmax_forward_f64(n, k, yhat, yhat);
        if (s % 2)
            fill_onehot(y, n, k, 95 + s);
        else
            fill_soft_targets(y, n, k, 1.0, 97 + s);
        opcase c = {"cross_entropy", k, 1, NULL, NULL, y, ce_fwd, ce_jac, ce_vjp, NULL};
        run_op_checks(&c, n, yhat);
        free(yhat), free(y);
    }
}

static void test_softmax_ce(void **state) {
    (void)state;
    for (size_t s = 0; s < 4; s++) {
        size_t k = 2 + 2 * s, n = 3 + (s % 3);
        double *theta = tu_dalloc(n * k), *y = tu_dalloc(n * k);
        tu_fill_uniform(theta, n * k, -3, 3, 101 + s);
        if (s == 1)
            fill_onehot(y, n, k, 105 + s);
        else /* Σy = 1, and Σy = 1.7 to exercise the general (Σy) ŷ − y */
            fill_soft_targets(y, n, k, s == 3 ? 1.7 : 1.0, 107 + s);
        opcase c = {"softmax_ce", k, 1, NULL, NULL, y, sce_fwd, sce_jac, sce_vjp, NULL};
        run_op_checks(&c, n, theta);

        /* g = NULL means all ones */
        double *yhat = tu_dalloc(n * k), *loss = tu_dalloc(n), *ones = tu_dalloc(n), *g1 = tu_dalloc(n * k),
               *gn = tu_dalloc(n * k);
        for (size_t i = 0; i < n; i++) ones[i] = 1;
        cr_softmax_ce_forward_f64(n, k, theta, y, yhat, loss);
        cr_softmax_ce_vjp_f64(n, k, yhat, y, ones, g1);
        cr_softmax_ce_vjp_f64(n, k, yhat, y, NULL, gn);
        assert_memory_equal(g1, gn, n * k * sizeof(double));
        free(theta), free(y), free(yhat), free(loss), free(ones), free(g1), free(gn);
    }
}

/* ------------------------------------------------------------ linear parameter grads */

typedef struct {
    size_t n, d, h;
    const double *x, *w, *b, *gout;
    int wrt_b;
} lp_ctx;

/* L(W, b) = Σ G ∘ (X W + b): its gradient is (Xᵀ G, colsum G). */
static void lp_fn(const void *ctx, const double *p, double *out) {
    const lp_ctx *c = ctx;
    double *r = tu_dalloc(c->n * c->h);
    cr_linear_forward_f64(c->n, c->d, c->h, c->x, c->wrt_b ? c->w : p, c->wrt_b ? p : c->b, r);
    double s = 0;
    for (size_t a = 0; a < c->n * c->h; a++) s += c->gout[a] * r[a];
    *out = s;
    free(r);
}

static void test_linear_param_grads(void **state) {
    (void)state;
    static const size_t shapes[][3] = {{4, 3, 5}, {1, 2, 3}, {3, 1, 4}, {6, 5, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t d = shapes[s][0], h = shapes[s][1], n = shapes[s][2];
        double *x = tu_dalloc(n * d), *w = tu_dalloc(d * h), *b = tu_dalloc(h), *g = tu_dalloc(n * h);
        double *dw = tu_dalloc(d * h), *db = tu_dalloc(h), *fdw = tu_dalloc(d * h), *fdb = tu_dalloc(h);
        double *ref_w = tu_dalloc(d * h), *ref_b = tu_dalloc(h);
        tu_fill_uniform(x, n * d, -2, 2, 111 + s);
        tu_fill_uniform(w, d * h, -1, 1, 121 + s);
        tu_fill_uniform(b, h, -1, 1, 131 + s);
        tu_fill_uniform(g, n * h, -1, 1, 141 + s);

        /* plain-loop references dW = Xᵀ G, db = colsum G */
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < h; j++) {
                double acc = 0;
                for (size_t r = 0; r < n; r++) acc += x[r * d + i] * g[r * h + j];
                ref_w[i * h + j] = acc;
            }
        for (size_t j = 0; j < h; j++) {
            double acc = 0;
            for (size_t r = 0; r < n; r++) acc += g[r * h + j];
            ref_b[j] = acc;
        }

        cr_linear_param_grads_f64(n, d, h, x, g, 1.0, dw, db);
        lp_ctx cw = {n, d, h, x, w, b, g, 0}, cb = {n, d, h, x, w, b, g, 1};
        fd_jacobian(lp_fn, &cw, d * h, 1, w, fdw);
        fd_jacobian(lp_fn, &cb, h, 1, b, fdb);
        tu_check_nontrivial(dw, d * h, "linear dW");
        tu_check_nontrivial(db, h, "linear db");
        tu_check_close(dw, fdw, d * h, FD_TOL, &worst_fd, "linear dW vs FD");
        tu_check_close(db, fdb, h, FD_TOL, &worst_fd, "linear db vs FD");
        tu_check_close(dw, ref_w, d * h, EXACT_TOL, &worst_exact, "linear dW vs X^T G");
        tu_check_close(db, ref_b, h, EXACT_TOL, &worst_exact, "linear db vs colsum G");

        /* accumulation with a scale: dW += s Xᵀ G, db += s colsum G */
        double *dw2 = tu_dalloc(d * h), *db2 = tu_dalloc(h), *exp_w = tu_dalloc(d * h), *exp_b = tu_dalloc(h);
        tu_fill_uniform(dw2, d * h, -1, 1, 151 + s);
        tu_fill_uniform(db2, h, -1, 1, 161 + s);
        for (size_t a = 0; a < d * h; a++) exp_w[a] = dw2[a] + 0.25 * ref_w[a];
        for (size_t a = 0; a < h; a++) exp_b[a] = db2[a] + 0.25 * ref_b[a];
        cr_linear_param_grads_f64(n, d, h, x, g, 0.25, dw2, db2);
        tu_check_close(dw2, exp_w, d * h, EXACT_TOL, &worst_exact, "linear dW accumulate");
        tu_check_close(db2, exp_b, h, EXACT_TOL, &worst_exact, "linear db accumulate");

        free(x), free(w), free(b), free(g), free(dw), free(db), free(fdw), free(fdb);
        free(ref_w), free(ref_b), free(dw2), free(db2), free(exp_w), free(exp_b);
    }
}

/* ------------------------------------------------------------ fused vs unfused */

static void test_fused_equals_unfused(void **state) {
    (void)state;
    for (size_t s = 0; s < 4; s++) {
        size_t k = 2 + 3 * s, n = 4;
        double *theta = tu_dalloc(n * k), *y = tu_dalloc(n * k), *yhat = tu_dalloc(n * k),
               *yhat_f = tu_dalloc(n * k), *loss_f = tu_dalloc(n), *loss_u = tu_dalloc(n),
               *ones = tu_dalloc(n), *g_yhat = tu_dalloc(n * k), *g_u = tu_dalloc(n * k),
               *g_f = tu_dalloc(n * k), *ref = tu_dalloc(n * k);
        tu_fill_uniform(theta, n * k, -5, 5, 171 + s);
        if (s % 2)
            fill_onehot(y, n, k, 175 + s);
        else
            fill_soft_targets(y, n, k, 1.0, 177 + s);
        for (size_t i = 0; i < n; i++) ones[i] = 1;

        cr_softmax_ce_forward_f64(n, k, theta, y, yhat_f, loss_f);
        cr_softmax_forward_f64(n, k, theta, yhat);
        cr_cross_entropy_forward_f64(n, k, yhat, y, loss_u);
        tu_check_close(loss_f, loss_u, n, 1e-13, &worst_exact, "fused loss vs CE(softmax)");
        tu_check_close(yhat_f, yhat, n * k, 1e-13, &worst_exact, "fused ŷ vs softmax");

        /* −(y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) = ŷ − y : CE VJP pushed through the softmax VJP */
        cr_cross_entropy_vjp_f64(n, k, yhat, y, ones, g_yhat);
        cr_softmax_vjp_f64(n, k, yhat, g_yhat, g_u);
        cr_softmax_ce_vjp_f64(n, k, yhat, y, NULL, g_f);
        for (size_t a = 0; a < n * k; a++) ref[a] = yhat[a] - y[a];
        tu_check_nontrivial(g_f, n * k, "fused gradient");
        tu_check_close(g_f, ref, n * k, EXACT_TOL, &worst_exact, "fused gradient vs ŷ − y");
        tu_check_close(g_u, ref, n * k, 1e-12, &worst_exact, "unfused VJP chain vs ŷ − y");
        free(theta), free(y), free(yhat), free(yhat_f), free(loss_f), free(loss_u), free(ones);
        free(g_yhat), free(g_u), free(g_f), free(ref);
    }
}

/* ------------------------------------------------------------ extreme logits */

static void test_fused_extreme_logits(void **state) {
    (void)state;
    static const double mags[] = {1e4, 1e30};
    for (size_t m = 0; m < 2; m++) {
        const double M = mags[m];
        /* three rows: logits [M, −M, 0] with labels 0, 1, 2 → losses 0, 2M, M */
        const size_t n = 3, k = 3;
        double theta[9], y[9] = {0}, yhat[9], loss[3], gr[9];
        float thetaf[9], yf[9], yhatf[9], lossf[3], grf[9];
        for (size_t i = 0; i < n; i++) {
            theta[i * k + 0] = M, theta[i * k + 1] = -M, theta[i * k + 2] = 0;
            y[i * k + i] = 1;
        }
        const double expect[3] = {0, 2 * M, M};

        cr_softmax_ce_forward_f64(n, k, theta, y, yhat, loss);
        cr_softmax_ce_vjp_f64(n, k, yhat, y, NULL, gr);
        for (size_t i = 0; i < n; i++) {
            assert_true(isfinite(loss[i]));
            assert_true(loss[i] == expect[i]);
        }
        for (size_t a = 0; a < n * k; a++) {
            assert_true(isfinite(yhat[a]) && isfinite(gr[a]));
            /* ŷ = [1, 0, 0] exactly, so ŷ − y is exact */
            double want = (a % k == 0 ? 1.0 : 0.0) - y[a];
            assert_true(gr[a] == want);
        }

        to_f32(theta, thetaf, 9);
        to_f32(y, yf, 9);
        cr_softmax_ce_forward_f32(n, k, thetaf, yf, yhatf, lossf);
        cr_softmax_ce_vjp_f32(n, k, yhatf, yf, NULL, grf);
        for (size_t i = 0; i < n; i++) {
            assert_true(isfinite(lossf[i]));
            assert_true(lossf[i] == (float)expect[i]);
        }
        for (size_t a = 0; a < n * k; a++) {
            assert_true(isfinite(yhatf[a]) && isfinite(grf[a]));
            float want = (a % k == 0 ? 1.0f : 0.0f) - yf[a];
            assert_true(grf[a] == want);
        }

        /* softmax itself stays finite and normalised */
        cr_softmax_forward_f64(n, k, theta, yhat);
        cr_softmax_forward_f32(n, k, thetaf, yhatf);
        for (size_t a = 0; a < n * k; a++) {
            assert_true(isfinite(yhat[a]) && isfinite(yhatf[a]));
            assert_true(yhat[a] == (a % k == 0 ? 1.0 : 0.0));
            assert_true(yhatf[a] == (a % k == 0 ? 1.0f : 0.0f));
        }
    }
    /* all-equal huge logits: uniform probabilities, loss log K */
    {
        double t[4] = {-1e30, -1e30, -1e30, -1e30}, y[4] = {0, 0, 1, 0}, yh[4], l;
        cr_softmax_ce_forward_f64(1, 4, t, y, yh, &l);
        assert_true(fabs(l - log(4.0)) < 1e-15 && yh[2] == 0.25);
    }
    /* large but close logits: the loss is O(1) and must keep its relative precision
       (regression: lse = m + log Σ rounded at |m| = 65536 lost 4e-3 in float32) */
    {
        const double want = log1p(exp(0.5)); /* −log S([65536.5, 65536])_1 */
        double t[2] = {65536.5, 65536}, y[2] = {0, 1}, l, lp[2];
        float tf[2] = {65536.5f, 65536.0f}, yf[2] = {0, 1}, lf, lpf[2];
        cr_softmax_ce_forward_f64(1, 2, t, y, NULL, &l);
        cr_softmax_ce_forward_f32(1, 2, tf, yf, NULL, &lf);
        cr_log_softmax_forward_f64(1, 2, t, lp);
        cr_log_softmax_forward_f32(1, 2, tf, lpf);
        assert_true(fabs(l - want) <= 1e-15 * want);
        assert_true(fabs((double)lf - want) <= 1e-6 * want);
        assert_true(fabs(-lp[1] - want) <= 1e-15 * want);
        assert_true(fabs(-(double)lpf[1] - want) <= 1e-6 * want);
    }
    /* why the fused op exists: the unfused pair gives −log(0) = inf here */
    {
        double t[3] = {1e4, -1e4, 0}, y[3] = {0, 1, 0}, yh[3], l;
        cr_softmax_forward_f64(1, 3, t, yh);
        cr_cross_entropy_forward_f64(1, 3, yh, y, &l);
        assert_true(isinf(l));
        cr_softmax_ce_forward_f64(1, 3, t, y, NULL, &l);
        assert_true(l == 2e4);
    }
}

/* ------------------------------------------------------------ sigmoid stability */

static void test_sigmoid_stable(void **state) {
    (void)state;
    double r[4] = {-1000, 1000, -750, 40}, h[4], g[4] = {1, 1, 1, 1}, gr[4];
    cr_sigmoid_forward_f64(4, r, h);
    assert_true(h[0] == 0.0); /* not NaN */
    assert_true(h[1] == 1.0);
    assert_true(isfinite(h[2]) && h[2] >= 0 && h[2] < 1e-300);
    assert_true(h[3] == 1.0 / (1.0 + exp(-40.0)));
    cr_sigmoid_vjp_f64(4, r, h, g, gr);
    for (int i = 0; i < 4; i++) assert_true(isfinite(gr[i]));
    assert_true(gr[0] == 0 && gr[1] == 0);

    float rf[5] = {-100.0f, -1000.0f, 1000.0f, 100.0f, -88.0f}, hf[5], gf[5] = {1, 1, 1, 1, 1},
          grf[5];
    cr_sigmoid_forward_f32(5, rf, hf);
    for (int i = 0; i < 5; i++) assert_true(isfinite(hf[i]) && hf[i] >= 0 && hf[i] <= 1);
    assert_true(hf[0] < 1e-40f); /* e^-100 ≈ 3.7e-44 (subnormal), not NaN */
    assert_true(hf[1] == 0.0f && hf[2] == 1.0f && hf[3] == 1.0f);
    assert_true(fabs((double)hf[4] - exp(-88.0) / (1 + exp(-88.0))) <= 1e-6 * exp(-88.0));
    cr_sigmoid_vjp_f32(5, rf, hf, gf, grf);
    for (int i = 0; i < 5; i++) assert_true(isfinite(grf[i]));

    /* symmetric: σ(−r) = 1 − σ(r) */
    double rs[6] = {0.5, 1.5, 3, -0.5, -1.5, -3}, hs[6];
    cr_sigmoid_forward_f64(6, rs, hs);
    for (int i = 0; i < 3; i++) assert_true(fabs(hs[i] + hs[i + 3] - 1) < 1e-15);

    double tr[2] = {-1000, 1000}, th[2];
    cr_tanh_forward_f64(2, tr, th);
    assert_true(th[0] == -1 && th[1] == 1);
}

/* ------------------------------------------------------------ float32 vs float64 */

static void check_f32(const float *a32, const double *a64, size_t n, const char *what) {
    double *t = tu_dalloc(n);
    to_f64(a32, t, n);
    tu_check_close(t, a64, n, F32_TOL, &worst_f32, what);
    free(t);
}

static void test_f32_matches_f64(void **state) {
    (void)state;
    const size_t n = 4, d = 6, h = 5, k = 5;
    double *x = tu_dalloc(n * d), *w = tu_dalloc(d * h), *b = tu_dalloc(h), *g = tu_dalloc(n * h),
           *gd = tu_dalloc(n * d), *r = tu_dalloc(n * h), *o = tu_dalloc(n * h), *dw = tu_dalloc(d * h),
           *db = tu_dalloc(h), *y = tu_dalloc(n * k), *yh = tu_dalloc(n * k), *loss = tu_dalloc(n),
           *jac = tu_dalloc(k * k);
    float *xf = tu_falloc(n * d), *wf = tu_falloc(d * h), *bf = tu_falloc(h), *gf = tu_falloc(n * h),
          *gdf = tu_falloc(n * d), *rf = tu_falloc(n * h), *of = tu_falloc(n * h), *dwf = tu_falloc(d * h),
          *dbf = tu_falloc(h), *yf = tu_falloc(n * k), *yhf = tu_falloc(n * k), *lossf = tu_falloc(n),
          *jacf = tu_falloc(k * k);
    tu_fill_uniform(x, n * d, -2, 2, 181);
    tu_fill_uniform(w, d * h, -1, 1, 182);
    tu_fill_uniform(b, h, -1, 1, 183);
    tu_fill_uniform(g, n * h, -1, 1, 184);
    fill_soft_targets(y, n, k, 1.0, 185);
    /* round the inputs to float first so that both types see the same numbers */
    to_f32(x, xf, n * d), to_f64(xf, x, n * d);
    to_f32(w, wf, d * h), to_f64(wf, w, d * h);
    to_f32(b, bf, h), to_f64(bf, b, h);
    to_f32(g, gf, n * h), to_f64(gf, g, n * h);
    to_f32(y, yf, n * k), to_f64(yf, y, n * k);

    cr_linear_forward_f64(n, d, h, x, w, b, r);
    cr_linear_forward_f32(n, d, h, xf, wf, bf, rf);
    check_f32(rf, r, n * h, "f32 linear forward");
    cr_linear_vjp_f64(n, d, h, w, g, gd);
    cr_linear_vjp_f32(n, d, h, wf, gf, gdf);
    check_f32(gdf, gd, n * d, "f32 linear vjp");
    cr_linear_jvp_f64(n, d, h, w, x, r);
    cr_linear_jvp_f32(n, d, h, wf, xf, rf);
    check_f32(rf, r, n * h, "f32 linear jvp");
    cr_linear_param_grads_f64(n, d, h, x, g, 0.5, dw, db);
    cr_linear_param_grads_f32(n, d, h, xf, gf, 0.5f, dwf, dbf);
    check_f32(dwf, dw, d * h, "f32 linear dW");
    check_f32(dbf, db, h, "f32 linear db");

    /* activations on r (use the linear outputs as inputs) */
    cr_linear_forward_f64(n, d, h, x, w, b, r);
    to_f32(r, rf, n * h), to_f64(rf, r, n * h);
#define ACT_F32(act)                                                                           \
    cr_##act##_forward_f64(n * h, r, o);                                                       \
    cr_##act##_forward_f32(n * h, rf, of);                                                     \
    check_f32(of, o, n * h, "f32 " #act " forward");                                           \
    cr_##act##_vjp_f64(n * h, r, o, g, gd);                                                    \
    cr_##act##_vjp_f32(n * h, rf, of, gf, gdf);                                                \
    check_f32(gdf, gd, n * h, "f32 " #act " vjp");                                             \
    cr_##act##_jvp_f64(n * h, r, o, g, gd);                                                    \
    cr_##act##_jvp_f32(n * h, rf, of, gf, gdf);                                                \
    check_f32(gdf, gd, n * h, "f32 " #act " jvp");
    ACT_F32(sigmoid)
    ACT_F32(tanh)
    ACT_F32(relu)
#undef ACT_F32

    /* softmax family on k = h logits */
    cr_softmax_forward_f64(n, k, r, yh);
    cr_softmax_forward_f32(n, k, rf, yhf);
    check_f32(yhf, yh, n * k, "f32 softmax forward");
    cr_log_softmax_forward_f64(n, k, r, o);
    cr_log_softmax_forward_f32(n, k, rf, of);
    check_f32(of, o, n * k, "f32 log_softmax forward");
    cr_softmax_jacobian_f64(k, yh, jac);
    cr_softmax_jacobian_f32(k, yhf, jacf);
    check_f32(jacf, jac, k * k, "f32 softmax jacobian");
    cr_softmax_vjp_f64(n, k, yh, g, gd);
    cr_softmax_vjp_f32(n, k, yhf, gf, gdf);
    check_f32(gdf, gd, n * k, "f32 softmax vjp");
    cr_softmax_jvp_f64(n, k, yh, g, gd);
    cr_softmax_jvp_f32(n, k, yhf, gf, gdf);
    check_f32(gdf, gd, n * k, "f32 softmax jvp");
    cr_cross_entropy_forward_f64(n, k, yh, y, loss);
    cr_cross_entropy_forward_f32(n, k, yhf, yf, lossf);
    check_f32(lossf, loss, n, "f32 cross_entropy forward");
    cr_cross_entropy_vjp_f64(n, k, yh, y, loss, gd);
    cr_cross_entropy_vjp_f32(n, k, yhf, yf, lossf, gdf);
    check_f32(gdf, gd, n * k, "f32 cross_entropy vjp");
    cr_softmax_ce_forward_f64(n, k, r, y, yh, loss);
    cr_softmax_ce_forward_f32(n, k, rf, yf, yhf, lossf);
    check_f32(lossf, loss, n, "f32 softmax_ce loss");
    check_f32(yhf, yh, n * k, "f32 softmax_ce yhat");
    cr_softmax_ce_vjp_f64(n, k, yh, y, NULL, gd);
    cr_softmax_ce_vjp_f32(n, k, yhf, yf, NULL, gdf);
    check_f32(gdf, gd, n * k, "f32 softmax_ce vjp");

    free(x), free(w), free(b), free(g), free(gd), free(r), free(o), free(dw), free(db), free(y);
    free(yh), free(loss), free(jac);
    free(xf), free(wf), free(bf), free(gf), free(gdf), free(rf), free(of), free(dwf), free(dbf);
    free(yf), free(yhf), free(lossf), free(jacf);
}

static int report(void **state) {
    (void)state;
    print_message("worst errors: Jacobian vs FD %.3g (tol %.0e), VJP/JVP vs Jacobian %.3g "
                  "(tol %.0e), adjoint %.3g, f32 vs f64 %.3g (tol %.0e)\n",
                  worst_fd, FD_TOL, worst_exact, EXACT_TOL, worst_adjoint, worst_f32, F32_TOL);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_affine),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_log_softmax),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_linear_param_grads),
        cmocka_unit_test(test_fused_equals_unfused),
        cmocka_unit_test(test_fused_extreme_logits),
        cmocka_unit_test(test_sigmoid_stable),
        cmocka_unit_test(test_f32_matches_f64),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, report);
}
