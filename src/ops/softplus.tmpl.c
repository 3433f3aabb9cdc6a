/*
 * softplus:  h = ln(1 + e^r), element-wise                   r, h: N×H
 *            computed as max(r, 0) + ln(1 + e^(−|r|)): e^(−|r|) ≤ 1 never
 *            overflows, and log1p keeps the small term exact for r ≪ 0
 *            (h ≈ e^r there, never 0 before it underflows).
 *
 *   a'(r)      σ(r) = 1/(1 + e^(−r))              (d/dr ln(1 + e^r) = e^r/(1 + e^r))
 *   a''(r)     σ(r)(1 − σ(r))
 *   Jacobian   ∂h/∂r = diag(σ(r))                 (H×H, diagonal)
 *   VJP        g_r = g ∘ σ(r)
 *   JVP        ḣ   = ṙ ∘ σ(r)
 *
 * The derivative is a function of r (σ(r), not of h), so every function reads
 * r; σ is evaluated on the side of r where its exponential cannot overflow.
 * ONNX Softplus; PyTorch's nn.Softplus() (beta 1) with its linear branch above
 * r = 20 differs from ln(1 + e^r) by less than 2.1e−9 there.
 */

static inline real FN(softplus_log1p)(real x) {
    return sizeof(real) == sizeof(float) ? (real)log1pf((float)x) : (real)log1p((double)x);
}
static inline real FN(softplus_sigma)(real r) {
    if (r >= 0) return 1 / (1 + R_EXP(-r));
    real e = R_EXP(r);
    return e / (1 + e);
}

void CR_TYPED(cr_softplus_forward_f32, cr_softplus_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) {
        real v = r[i];
        h[i] = (v > 0 ? v : 0) + FN(softplus_log1p)(R_EXP(v > 0 ? -v : v));
    }
}

void CR_TYPED(cr_softplus_deriv_f32, cr_softplus_deriv_f64)(size_t count, const real *r,
                                                            const real *h, real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = FN(softplus_sigma)(r[i]);
}

void CR_TYPED(cr_softplus_deriv2_f32, cr_softplus_deriv2_f64)(size_t count, const real *r,
                                                              const real *h, real *d2) {
    (void)h;
    for (size_t i = 0; i < count; i++) {
        real s = FN(softplus_sigma)(r[i]);
        d2[i] = s * (1 - s);
    }
}

void CR_TYPED(cr_softplus_jacobian_f32, cr_softplus_jacobian_f64)(size_t d, const real *r,
                                                                  const real *h, real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = FN(softplus_sigma)(r[i]);
}

void CR_TYPED(cr_softplus_vjp_f32, cr_softplus_vjp_f64)(size_t count, const real *r, const real *h,
                                                        const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * FN(softplus_sigma)(r[i]);
}

void CR_TYPED(cr_softplus_jvp_f32, cr_softplus_jvp_f64)(size_t count, const real *r, const real *h,
                                                        const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * FN(softplus_sigma)(r[i]);
}

#ifdef CR_REAL_F64
/* Bound relaxation (ops/relax.h; float64, once): convex everywhere, values > 0;
   lower line the tangent at the midpoint, upper the chord (cr_relax_smooth_lines). */
#include "ops/relax.h"

static double softplus_relax_v(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }
static double softplus_relax_d(double x) {
    if (x >= 0) return 1 / (1 + exp(-x));
    const double e = exp(x);
    return e / (1 + e);
}
static double softplus_relax_d2(double x) {
    const double v = softplus_relax_d(x);
    return v * (1 - v);
}
static double softplus_relax_lo(const cr_relax_mode *m, double x) {
    return cr_relax_widen_lo(m, softplus_relax_v(x), 0);
}
static double softplus_relax_hi(const cr_relax_mode *m, double x) {
    return cr_relax_widen_hi(m, softplus_relax_v(x), NAN);
}
static void softplus_relax_lines(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                                 double *su, double *tu) {
    const cr_relax_smooth f = {softplus_relax_v, softplus_relax_d, &cr_softplus_relax, 0, softplus_relax_d2};
    cr_relax_smooth_lines(m, &f, l, u, sl, tl, su, tu);
}

static void softplus_relax_range(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                                 double *pmax, double *pdef) {
    const cr_relax_smooth f = {softplus_relax_v, softplus_relax_d, &cr_softplus_relax, 0, softplus_relax_d2};
    cr_relax_smooth_range(m, &f, l, u, dir, pmin, pmax, pdef);
}
static void softplus_relax_param_line(const cr_relax_mode *m, double l, double u, int dir, double p,
                                      double *s, double *t, double *ds, double *dt) {
    const cr_relax_smooth f = {softplus_relax_v, softplus_relax_d, &cr_softplus_relax, 0, softplus_relax_d2};
    cr_relax_smooth_tangent(m, &f, l, u, dir, p, s, t, ds, dt);
}

const struct cr_act_relax cr_softplus_relax = {softplus_relax_lo, softplus_relax_hi, softplus_relax_lines,
                                               softplus_relax_range, softplus_relax_param_line};
#endif
