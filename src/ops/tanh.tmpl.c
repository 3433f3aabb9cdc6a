/*
 * tanh:  t = tanh(r), element-wise                          r, t: N×H
 *
 *   Jacobian   ∂t/∂r = diag(1 − t²)               (H×H, diagonal)
 *   VJP        g_r = g ∘ (1 − t²)
 *   JVP        ṫ   = ṙ ∘ (1 − t²)
 *   a'(r)      1 − t²          a''(r) = −2t(1 − t²)
 */

void CR_TYPED(cr_tanh_forward_f32, cr_tanh_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = R_TANH(r[i]);
}

void CR_TYPED(cr_tanh_deriv_f32, cr_tanh_deriv_f64)(size_t count, const real *r, const real *h,
                                                    real *d) {
    (void)r;
    for (size_t i = 0; i < count; i++) d[i] = 1 - h[i] * h[i];
}

void CR_TYPED(cr_tanh_deriv2_f32, cr_tanh_deriv2_f64)(size_t count, const real *r, const real *h,
                                                      real *d2) {
    (void)r;
    for (size_t i = 0; i < count; i++) d2[i] = -2 * h[i] * (1 - h[i] * h[i]);
}

void CR_TYPED(cr_tanh_jacobian_f32, cr_tanh_jacobian_f64)(size_t d, const real *r, const real *h,
                                                          real *jac) {
    (void)r;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = 1 - h[i] * h[i];
}

void CR_TYPED(cr_tanh_vjp_f32, cr_tanh_vjp_f64)(size_t count, const real *r, const real *h,
                                                const real *g, real *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * (1 - h[i] * h[i]);
}

void CR_TYPED(cr_tanh_jvp_f32, cr_tanh_jvp_f64)(size_t count, const real *r, const real *h,
                                                const real *rd, real *hd) {
    (void)r;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * (1 - h[i] * h[i]);
}

#ifdef CR_REAL_F64
/* Bound relaxation (ops/relax.h; float64, once): convex on x ≤ 0, concave on x ≥ 0;
   values in [−1, 1]; lines by cr_relax_smooth_lines (the note's §2.4). */
#include "ops/relax.h"

static double tanh_relax_v(double x) { return tanh(x); }
static double tanh_relax_d(double x) {
    const double v = tanh(x);
    return 1 - v * v;
}
static double tanh_relax_d2(double x) {
    const double v = tanh(x);
    return -2 * v * (1 - v * v);
}
static double tanh_relax_lo(const cr_relax_mode *m, double x) { return cr_relax_widen_lo(m, tanh(x), -1); }
static double tanh_relax_hi(const cr_relax_mode *m, double x) { return cr_relax_widen_hi(m, tanh(x), 1); }
static void tanh_relax_lines(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                             double *su, double *tu) {
    const cr_relax_smooth f = {tanh_relax_v, tanh_relax_d, &cr_tanh_relax, 1, tanh_relax_d2};
    cr_relax_smooth_lines(m, &f, l, u, sl, tl, su, tu);
}

static void tanh_relax_range(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                             double *pmax, double *pdef) {
    const cr_relax_smooth f = {tanh_relax_v, tanh_relax_d, &cr_tanh_relax, 1, tanh_relax_d2};
    cr_relax_smooth_range(m, &f, l, u, dir, pmin, pmax, pdef);
}
static void tanh_relax_param_line(const cr_relax_mode *m, double l, double u, int dir, double p,
                                  double *s, double *t, double *ds, double *dt) {
    const cr_relax_smooth f = {tanh_relax_v, tanh_relax_d, &cr_tanh_relax, 1, tanh_relax_d2};
    cr_relax_smooth_tangent(m, &f, l, u, dir, p, s, t, ds, dt);
}

const struct cr_act_relax cr_tanh_relax = {tanh_relax_lo, tanh_relax_hi, tanh_relax_lines,
                                           tanh_relax_range, tanh_relax_param_line};
#endif
