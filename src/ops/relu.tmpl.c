/*
 * relu:  h = max(r, 0), element-wise                        r, h: N×H
 *
 *   Jacobian   ∂h/∂r = diag(1[r > 0])             (H×H, diagonal; 0 is taken at r = 0)
 *   VJP        g_r = g ∘ 1[r > 0]
 *   JVP        ḣ   = ṙ ∘ 1[r > 0]
 *   a'(r)      1[r > 0]        a''(r) = 0 (away from the kink)
 */

void CR_TYPED(cr_relu_forward_f32, cr_relu_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] > 0 ? r[i] : 0;
}

void CR_TYPED(cr_relu_deriv_f32, cr_relu_deriv_f64)(size_t count, const real *r, const real *h,
                                                    real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = r[i] > 0 ? 1 : 0;
}

void CR_TYPED(cr_relu_deriv2_f32, cr_relu_deriv2_f64)(size_t count, const real *r, const real *h,
                                                      real *d2) {
    (void)r;
    (void)h;
    for (size_t i = 0; i < count; i++) d2[i] = 0;
}

void CR_TYPED(cr_relu_jacobian_f32, cr_relu_jacobian_f64)(size_t d, const real *r, const real *h,
                                                          real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = r[i] > 0 ? 1 : 0;
}

void CR_TYPED(cr_relu_vjp_f32, cr_relu_vjp_f64)(size_t count, const real *r, const real *h,
                                                const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = r[i] > 0 ? g[i] : 0;
}

void CR_TYPED(cr_relu_jvp_f32, cr_relu_jvp_f64)(size_t count, const real *r, const real *h,
                                                const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = r[i] > 0 ? rd[i] : 0;
}

#ifdef CR_REAL_F64
/*
 * Bound relaxation (ops/relax.h; float64, once): relu is exact on an interval's ends;
 * on l < 0 < u the upper line is the chord s = u/(u − l) with the intercept
 * max(u(1 − s), −s·l)·(1 + 4ε) + η, above both ends whatever s rounded to (relu is
 * convex), and the lower line s·x with s = 1 if u > −l else 0 ("adaptive"), exact.
 */
#include <float.h>

#include "ops/relax.h"

static double relu_relax_bound(const cr_relax_mode *m, double x) {
    (void)m;
    return x > 0 ? x : 0;
}

static void relu_relax_lines(const cr_relax_mode *m, double l, double u, double *sl, double *tl,
                             double *su, double *tu) {
    if (u <= 0) {
        *sl = *tl = *su = *tu = 0;
    } else if (l >= 0) {
        *sl = *su = 1;
        *tl = *tu = 0;
    } else {
        *sl = u > -l ? 1 : 0;
        *tl = 0;
        const double s = u / (u - l), a = u * (1 - s), c = -s * l;
        *su = s;
        *tu = m->no_slack ? c : (a > c ? a : c) * (1 + 2 * DBL_EPSILON) + DBL_TRUE_MIN;
    }
}

/* α-CROWN: on l < 0 < u the lower line p·x, p ∈ [0, 1] (exact: below relu for any such p) */
static void relu_relax_range(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                             double *pmax, double *pdef) {
    (void)m;
    *pmin = 1, *pmax = 0, *pdef = 0;
    if (dir < 0 && l < 0 && u > 0) *pmin = 0, *pmax = 1, *pdef = u > -l ? 1 : 0;
}

static void relu_relax_param_line(const cr_relax_mode *m, double l, double u, int dir, double p,
                                  double *s, double *t, double *ds, double *dt) {
    (void)m, (void)l, (void)u, (void)dir;
    *s = p >= 0 ? (p <= 1 ? p : 1) : 0; /* NaN: 0 */
    *t = 0;
    *ds = 1;
    *dt = 0;
}

const struct cr_act_relax cr_relu_relax = {relu_relax_bound, relu_relax_bound, relu_relax_lines,
                                           relu_relax_range, relu_relax_param_line};
#endif
