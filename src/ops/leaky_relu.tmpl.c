/*
 * leaky-relu:  h = r for r > 0, 0.01 r otherwise, element-wise    r, h: N×H
 *
 *   a'(r)      1 for r > 0, 0.01 otherwise         (0.01 is taken at r = 0, as PyTorch)
 *   a''(r)     0 (away from the kink)
 *   Jacobian   ∂h/∂r = diag(a'(r))                 (H×H, diagonal)
 *   VJP        g_r = g ∘ a'(r)
 *   JVP        ḣ   = ṙ ∘ a'(r)
 *
 * The slope 0.01 is PyTorch's nn.LeakyReLU() default and ONNX LeakyRelu's
 * default alpha; in float32 it is the float nearest 0.01, as both compute it.
 * The derivative reads r (h has r's sign, but r is what the op file states).
 */

#define CR_LEAKY_SLOPE ((real)0.01)

void CR_TYPED(cr_leaky_relu_forward_f32, cr_leaky_relu_forward_f64)(size_t count, const real *r,
                                                                    real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] > 0 ? r[i] : r[i] * CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_deriv_f32, cr_leaky_relu_deriv_f64)(size_t count, const real *r,
                                                                const real *h, real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = r[i] > 0 ? 1 : CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_deriv2_f32, cr_leaky_relu_deriv2_f64)(size_t count, const real *r,
                                                                  const real *h, real *d2) {
    (void)r, (void)h;
    for (size_t i = 0; i < count; i++) d2[i] = 0;
}

void CR_TYPED(cr_leaky_relu_jacobian_f32, cr_leaky_relu_jacobian_f64)(size_t d, const real *r,
                                                                      const real *h, real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = r[i] > 0 ? 1 : CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_vjp_f32, cr_leaky_relu_vjp_f64)(size_t count, const real *r,
                                                            const real *h, const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = r[i] > 0 ? g[i] : g[i] * CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_jvp_f32, cr_leaky_relu_jvp_f64)(size_t count, const real *r,
                                                            const real *h, const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = r[i] > 0 ? rd[i] : rd[i] * CR_LEAKY_SLOPE;
}

#undef CR_LEAKY_SLOPE

#ifdef CR_REAL_F64
/*
 * Bound relaxation (ops/relax.h; float64, once). The slope α is 0.01 rounded to the
 * net's dtype (the float nearest 0.01 for a float32 net), read as a real. Stable
 * intervals: the exact lines x or α·x. On l < 0 < u the upper line is the chord
 * s = (u − αl)/(u − l) with the intercept max(u(1 − s), l(α − s))·(1 + 4ε) + η (above
 * both ends: the function is convex), the lower line s·x with s = 1 if u > −l else α.
 */
#include <float.h>

#include "ops/relax.h"

static double leaky_relu_alpha(const cr_relax_mode *m) {
    return m->dtype == CR_F32 ? (double)0.01f : 0.01;
}

static double leaky_relu_relax_lo(const cr_relax_mode *m, double x) {
    return x > 0 ? x : cr_relax_widen_lo(m, leaky_relu_alpha(m) * x, NAN);
}

static double leaky_relu_relax_hi(const cr_relax_mode *m, double x) {
    return x > 0 ? x : cr_relax_widen_hi(m, leaky_relu_alpha(m) * x, 0);
}

static void leaky_relu_relax_lines(const cr_relax_mode *m, double l, double u, double *sl,
                                   double *tl, double *su, double *tu) {
    const double al = leaky_relu_alpha(m);
    if (u <= 0) {
        *sl = *su = al;
        *tl = *tu = 0;
    } else if (l >= 0) {
        *sl = *su = 1;
        *tl = *tu = 0;
    } else {
        *sl = u > -l ? 1 : al;
        *tl = 0;
        const double s = (u - al * l) / (u - l), a = u * (1 - s), c = l * (al - s);
        *su = s;
        *tu = m->no_slack ? c : (a > c ? a : c) * (1 + 2 * DBL_EPSILON) + DBL_TRUE_MIN;
    }
}

/* α-CROWN: on l < 0 < u the lower line p·x, p ∈ [α, 1] (exact: below the function for any such p) */
static void leaky_relu_relax_range(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                                   double *pmax, double *pdef) {
    const double al = leaky_relu_alpha(m);
    *pmin = 1, *pmax = 0, *pdef = 0;
    if (dir < 0 && l < 0 && u > 0) *pmin = al, *pmax = 1, *pdef = u > -l ? 1 : al;
}

static void leaky_relu_relax_param_line(const cr_relax_mode *m, double l, double u, int dir, double p,
                                        double *s, double *t, double *ds, double *dt) {
    (void)l, (void)u, (void)dir;
    const double al = leaky_relu_alpha(m);
    *s = p >= al ? (p <= 1 ? p : 1) : al; /* NaN: α */
    *t = 0;
    *ds = 1;
    *dt = 0;
}

const struct cr_act_relax cr_leaky_relu_relax = {leaky_relu_relax_lo, leaky_relu_relax_hi,
                                                 leaky_relu_relax_lines, leaky_relu_relax_range,
                                                 leaky_relu_relax_param_line};
#endif
