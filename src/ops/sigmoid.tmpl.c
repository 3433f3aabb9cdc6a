/*
 * sigmoid:  h = σ(r) = 1 / (1 + e^(−r)), element-wise     r, h: N×H
 *
 *   Jacobian   ∂h/∂r = diag(h ∘ (1 − h))          (H×H, diagonal)
 *   VJP        g_r = g diag(h∘(1−h)) = g ∘ h ∘ (1 − h)
 *   JVP        ḣ   = diag(h∘(1−h)) ṙ  = ṙ ∘ h ∘ (1 − h)
 *   a'(r)      σ' = σ(1 − σ): d/dr (1 + e^(−r))^(−1) = e^(−r)/(1 + e^(−r))² = σ · (1 − σ)
 *   a''(r)     σ'' = σ'(1 − 2σ) = h(1 − h)(1 − 2h)
 *
 * The Jacobian is diagonal, and a row times a diagonal matrix is the
 * element-wise product with the diagonal: this is where "∘" comes from.
 * Stable: e^(−r) is only evaluated for r ≥ 0, e^(r) only for r < 0.
 */

static inline real FN(sigmoid_scalar)(real r) {
    if (r >= 0) return 1 / (1 + R_EXP(-r));
    real e = R_EXP(r);
    return e / (1 + e);
}

void CR_TYPED(cr_sigmoid_forward_f32, cr_sigmoid_forward_f64)(size_t count, const real *r,
                                                              real *h) {
    for (size_t i = 0; i < count; i++) h[i] = FN(sigmoid_scalar)(r[i]);
}

void CR_TYPED(cr_sigmoid_deriv_f32, cr_sigmoid_deriv_f64)(size_t count, const real *r,
                                                          const real *h, real *d) {
    (void)r;
    for (size_t i = 0; i < count; i++) d[i] = h[i] * (1 - h[i]);
}

void CR_TYPED(cr_sigmoid_deriv2_f32, cr_sigmoid_deriv2_f64)(size_t count, const real *r,
                                                            const real *h, real *d2) {
    (void)r;
    for (size_t i = 0; i < count; i++) d2[i] = h[i] * (1 - h[i]) * (1 - 2 * h[i]);
}

void CR_TYPED(cr_sigmoid_jacobian_f32, cr_sigmoid_jacobian_f64)(size_t d, const real *r,
                                                                const real *h, real *jac) {
    (void)r;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = h[i] * (1 - h[i]);
}

void CR_TYPED(cr_sigmoid_vjp_f32, cr_sigmoid_vjp_f64)(size_t count, const real *r, const real *h,
                                                      const real *g, real *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * h[i] * (1 - h[i]);
}

void CR_TYPED(cr_sigmoid_jvp_f32, cr_sigmoid_jvp_f64)(size_t count, const real *r, const real *h,
                                                      const real *rd, real *hd) {
    (void)r;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * h[i] * (1 - h[i]);
}

#ifdef CR_REAL_F64
/* Bound relaxation (ops/relax.h; float64, once): convex on x ≤ 0, concave on x ≥ 0;
   values in [0, 1]; lines by cr_relax_smooth_lines (the note's §2.4). */
#include "ops/relax.h"

static double sigmoid_relax_v(double x) {
    if (x >= 0) return 1 / (1 + exp(-x));
    const double e = exp(x);
    return e / (1 + e);
}
static double sigmoid_relax_d(double x) {
    const double v = sigmoid_relax_v(x);
    return v * (1 - v);
}
static double sigmoid_relax_d2(double x) {
    const double v = sigmoid_relax_v(x);
    return v * (1 - v) * (1 - 2 * v);
}
static double sigmoid_relax_lo(const cr_relax_mode *m, double x) {
    return cr_relax_widen_lo(m, sigmoid_relax_v(x), 0);
}
static double sigmoid_relax_hi(const cr_relax_mode *m, double x) {
    return cr_relax_widen_hi(m, sigmoid_relax_v(x), 1);
}
static void sigmoid_relax_lines(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                                double *su, double *tu) {
    const cr_relax_smooth f = {sigmoid_relax_v, sigmoid_relax_d, &cr_sigmoid_relax, 1, sigmoid_relax_d2};
    cr_relax_smooth_lines(m, &f, l, u, sl, tl, su, tu);
}

static void sigmoid_relax_range(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                                double *pmax, double *pdef) {
    const cr_relax_smooth f = {sigmoid_relax_v, sigmoid_relax_d, &cr_sigmoid_relax, 1, sigmoid_relax_d2};
    cr_relax_smooth_range(m, &f, l, u, dir, pmin, pmax, pdef);
}
static void sigmoid_relax_param_line(const cr_relax_mode *m, double l, double u, int dir, double p,
                                     double *s, double *t, double *ds, double *dt) {
    const cr_relax_smooth f = {sigmoid_relax_v, sigmoid_relax_d, &cr_sigmoid_relax, 1, sigmoid_relax_d2};
    cr_relax_smooth_tangent(m, &f, l, u, dir, p, s, t, ds, dt);
}

const struct cr_act_relax cr_sigmoid_relax = {sigmoid_relax_lo, sigmoid_relax_hi, sigmoid_relax_lines,
                                              sigmoid_relax_range, sigmoid_relax_param_line};
#endif
