/*
 * Relaxation lines of the activations for CROWN (bound.h; the note's §2.4 and
 * §5.5): s_lo·x + t_lo ≤ a(x) ≤ s_up·x + t_up on [l, u], for the exact a.
 *
 *   relu      upper: the chord u/(u−l), intercept max(u(1−s), −s·l)·(1 + 4ε) + η, valid
 *             whatever s rounded to (ReLU is convex); lower: slope 1 if u > −l else 0
 *             ("adaptive"), intercept 0; exact on stable units.
 *   sigmoid,  convex on x ≤ 0, concave on x ≥ 0. u ≤ 0: lower the tangent at the
 *   tanh      midpoint m, upper the chord; l ≥ 0: the mirror. l < 0 < u: lower the chord
 *             if its slope k ≤ a'(l), else the tangent at d_L, the largest d ≤ 0 whose
 *             tangent stays below a(u) (bisection from the valid d = l), or at m if
 *             d_L ≥ m; upper the chord if k ≤ a'(u), else the tangent at d_U, the
 *             smallest d ≥ 0 whose tangent stays above a(l), or at m if d_U < m.
 *             Every line is moved outward by Δ = 64ε(|t| + |s|·max(|l|, |u|, |d|) +
 *             |a(d)|) + 4η (libm's few ulp, the rounding of s and t, and more than the
 *             check's own margin of ≈ 36ε·|line|, so that a correct line passes), then checked at
 *             l, u and 0 (where the curvature changes sign) against the libm-covered
 *             bounds of a, its own evaluation error included; a line that fails
 *             becomes the constant a_lo(l) / a_hi(u) (valid: a is monotone).
 *
 * The lines live here until the activation table rows carry a relaxation slot
 * (the acts branch); cr_bound_relax_replace plants a wrong one for the tests.
 */
#include <float.h>
#include <math.h>

#include "net/bound.h"

#define EPS (DBL_EPSILON / 2)
#define ETA (DBL_TRUE_MIN)

static void relu_relax(const cr_bound_ctx *b, double l, double u, double *sl, double *tl,
                       double *su, double *tu) {
    if (u <= 0) {
        *sl = *tl = *su = *tu = 0;
    } else if (l >= 0) {
        *sl = *su = 1;
        *tl = *tu = 0;
    } else {
        *sl = u > -l ? 1 : 0;
        *tl = 0;
        const double s = u / (u - l);
        *su = s;
        if (b->no_slack) {
            *tu = -s * l;
        } else {
            const double a = u * (1 - s), c = -s * l;
            *tu = (a > c ? a : c) * (1 + 4 * EPS) + ETA;
        }
    }
}

static double deriv(cr_activation act, double x) {
    const double v = cr_bound_act_value(act, x);
    return act == CR_ACT_SIGMOID ? v * (1 - v) : 1 - v * v;
}

/* checks a line at x: lower (dir −1) line(x) + err ≤ a_lo(x); upper (dir +1) line(x) − err ≥ a_hi(x) */
static int line_ok(const cr_bound_ctx *b, cr_activation act, int dir, double s, double t, double x) {
    const double v = s * x + t;
    const double err = b->no_slack ? 0 : 4 * EPS * (fabs(s * x) + fabs(t)) + ETA;
    if (!isfinite(v)) return 0;
    return dir < 0 ? v + err <= cr_bound_act_lo(b, act, x) : v - err >= cr_bound_act_hi(b, act, x);
}

/* a line through (d, a(d)) with slope s, moved outward (dir −1 down, +1 up) and checked */
static int make_line(const cr_bound_ctx *b, cr_activation act, int dir, double l, double u, double d,
                     double s, double *so, double *to) {
    const double fd = cr_bound_act_value(act, d);
    double t = fd - s * d;
    if (!b->no_slack) {
        const double mx = fmax(fmax(fabs(l), fabs(u)), fabs(d));
        const double delta = 64 * EPS * (fabs(t) + fabs(s) * mx + fabs(fd)) + 4 * ETA;
        t += dir * delta;
    }
    if (!line_ok(b, act, dir, s, t, l) || !line_ok(b, act, dir, s, t, u)) return 0;
    if (l < 0 && u > 0 && !line_ok(b, act, dir, s, t, 0)) return 0;
    *so = s;
    *to = t;
    return 1;
}

static void s_shaped_relax(const cr_bound_ctx *b, cr_activation act, double l, double u, double *sl,
                           double *tl, double *su, double *tu) {
    /* the constant fallbacks */
    *sl = 0;
    *tl = cr_bound_act_lo(b, act, l);
    *su = 0;
    *tu = cr_bound_act_hi(b, act, u);
    if (!(u - l > 1e-12 * (1 + fabs(l) + fabs(u)))) return; /* tiny interval: constants */
    const double fl_ = cr_bound_act_value(act, l), fu = cr_bound_act_value(act, u);
    const double k = (fu - fl_) / (u - l), m = 0.5 * l + 0.5 * u;
    double s, t;
    /* lower line */
    double dl;
    int chord;
    if (u <= 0) {
        chord = 0;
        dl = m;
    } else if (l >= 0) {
        chord = 1;
        dl = l;
    } else if (k <= deriv(act, l)) {
        chord = 1;
        dl = l;
    } else {
        double a = l, c = 0; /* a valid, c not */
        for (int it = 0; it < 60; it++) {
            const double mid = 0.5 * a + 0.5 * c;
            if (cr_bound_act_value(act, mid) + deriv(act, mid) * (u - mid) <= fu)
                a = mid;
            else
                c = mid;
        }
        chord = 0;
        dl = a >= m ? m : a;
    }
    if (make_line(b, act, -1, l, u, dl, chord ? k : deriv(act, dl), &s, &t)) {
        *sl = s;
        *tl = t;
    }
    /* upper line */
    double du;
    if (l >= 0) {
        chord = 0;
        du = m;
    } else if (u <= 0) {
        chord = 1;
        du = l;
    } else if (k <= deriv(act, u)) {
        chord = 1;
        du = l;
    } else {
        double a = u, c = 0; /* a valid, c not */
        for (int it = 0; it < 60; it++) {
            const double mid = 0.5 * a + 0.5 * c;
            if (cr_bound_act_value(act, mid) + deriv(act, mid) * (l - mid) >= fl_)
                a = mid;
            else
                c = mid;
        }
        chord = 0;
        du = a < m ? m : a;
    }
    if (make_line(b, act, 1, l, u, du, chord ? k : deriv(act, du), &s, &t)) {
        *su = s;
        *tu = t;
    }
}

static void sigmoid_relax(const cr_bound_ctx *b, double l, double u, double *sl, double *tl,
                          double *su, double *tu) {
    s_shaped_relax(b, CR_ACT_SIGMOID, l, u, sl, tl, su, tu);
}

static void tanh_relax(const cr_bound_ctx *b, double l, double u, double *sl, double *tl,
                       double *su, double *tu) {
    s_shaped_relax(b, CR_ACT_TANH, l, u, sl, tl, su, tu);
}

static const cr_bound_relax_fn reference[CR_ACT_COUNT] = {
    [CR_ACT_SIGMOID] = sigmoid_relax, [CR_ACT_TANH] = tanh_relax, [CR_ACT_RELU] = relu_relax};
static cr_bound_relax_fn running[CR_ACT_COUNT] = {
    [CR_ACT_SIGMOID] = sigmoid_relax, [CR_ACT_TANH] = tanh_relax, [CR_ACT_RELU] = relu_relax};

int cr_bound_relax_supported(cr_activation act) {
    return (unsigned)act < CR_ACT_COUNT && running[act] != NULL;
}

void cr_bound_relax(const cr_bound_ctx *b, cr_activation act, double l, double u, double *sl,
                    double *tl, double *su, double *tu) {
    running[act](b, l, u, sl, tl, su, tu);
}

void cr_bound_relax_replace(cr_activation act, cr_bound_relax_fn fn) {
    if ((unsigned)act < CR_ACT_COUNT) running[act] = fn;
}

void cr_bound_relax_restore(cr_activation act) {
    if ((unsigned)act < CR_ACT_COUNT) running[act] = reference[act];
}
