/* The shared construction of relaxation lines (relax.h; the note's §2.4, §5.5). */
#include <float.h>
#include <math.h>

#include "ops/relax.h"

#define EPS (DBL_EPSILON / 2) /* unit roundoff 2^-53 */
#define ETA (DBL_TRUE_MIN)    /* underflow: 2^-1074 */

double cr_relax_widen_lo(const cr_relax_mode *m, double v, double floor) {
    if (m->no_slack) return v;
    const double w = v - (32 * EPS * fabs(v) + ETA);
    return !isnan(floor) && w < floor ? floor : w;
}

double cr_relax_widen_hi(const cr_relax_mode *m, double v, double ceil) {
    if (m->no_slack) return v;
    const double w = v + (32 * EPS * fabs(v) + ETA);
    return !isnan(ceil) && w > ceil ? ceil : w;
}

/* the line at x: lower (dir −1) line(x) + err ≤ lo(x); upper (dir +1) line(x) − err ≥ hi(x) */
static int line_ok(const cr_relax_mode *m, const cr_relax_smooth *f, int dir, double s, double t,
                   double x) {
    const double v = s * x + t;
    const double err = m->no_slack ? 0 : 4 * EPS * (fabs(s * x) + fabs(t)) + ETA;
    if (!isfinite(v)) return 0;
    return dir < 0 ? v + err <= f->self->lo(m, x) : v - err >= f->self->hi(m, x);
}

/* a line through (d, a(d)) with slope s, moved outward by Δ (dir −1 down, +1 up), then
   checked at l, u and 0 (where the curvature of an S-shaped a changes sign). Δ =
   64ε(|t| + |s|·max(|l|, |u|, |d|) + |a(d)|) + 4η: libm's few ulp, the rounding of s
   and t (|s − a'(d)|·|x − d|), and more than the check's own margin (≈ 36ε|line|), so
   that a correct line passes. Between the check points the line is valid by shape:
   where a − line is concave (or line − a for an upper line) its minimum is at an end
   point; where it is convex the line touches at d (or is a chord with slope below
   a'(l)), covered by Δ. */
static int make_line(const cr_relax_mode *m, const cr_relax_smooth *f, int dir, double l, double u,
                     double d, double s, double *so, double *to) {
    const double fd = f->v(d);
    double t = fd - s * d;
    if (!m->no_slack) {
        const double mx = fmax(fmax(fabs(l), fabs(u)), fabs(d));
        t += dir * (64 * EPS * (fabs(t) + fabs(s) * mx + fabs(fd)) + 4 * ETA);
    }
    if (!line_ok(m, f, dir, s, t, l) || !line_ok(m, f, dir, s, t, u)) return 0;
    if (l < 0 && u > 0 && !line_ok(m, f, dir, s, t, 0)) return 0;
    *so = s;
    *to = t;
    return 1;
}

/*
 * Convex on x ≤ 0, concave on x ≥ 0 (the note's table; convex everywhere: the u ≤ 0 row):
 *   u ≤ 0      lower: tangent at m = (l + u)/2          upper: chord
 *   l ≥ 0      lower: chord                             upper: tangent at m
 *   l < 0 < u  lower: chord if k ≤ a'(l), else the tangent at d_L, the largest d ≤ 0 with
 *              T_d(u) ≤ a(u) (bisection from the valid d = l), or at m if d_L ≥ m;
 *              upper: chord if k ≤ a'(u), else the tangent at d_U, the smallest d ≥ 0 with
 *              T_d(l) ≥ a(l), or at m if d_U < m.
 */
/* The plan of one line (dir −1 lower, +1 upper) on [l, u] as the table above says: 0 for
   the constant line (a tiny interval); else *chord (slope k) or the tangent at *d, whose
   valid tangent points are [*dmin, *dmax] (*dmin > *dmax for a chord). */
static int line_plan(const cr_relax_smooth *f, double l, double u, int dir, int *chord, double *d,
                     double *dmin, double *dmax, double *k) {
    if (!(u - l > 1e-12 * (1 + fabs(l) + fabs(u)))) return 0; /* tiny interval: constants */
    const double fl_ = f->v(l), fu = f->v(u), mid = 0.5 * l + 0.5 * u;
    *k = (fu - fl_) / (u - l);
    const int convex = !f->s_shaped || u <= 0, concave = f->s_shaped && l >= 0;
    *chord = 0;
    *dmin = 1, *dmax = 0;
    if (dir < 0 ? convex : concave) { /* tangent anywhere in [l, u] */
        *d = mid;
        *dmin = l, *dmax = u;
    } else if (dir < 0 ? (concave || *k <= f->d(l)) : (convex || *k <= f->d(u))) {
        *chord = 1;
        *d = l;
    } else if (dir < 0) {
        double a = l, c = 0; /* a valid, c not */
        for (int it = 0; it < 60; it++) {
            const double x = 0.5 * a + 0.5 * c;
            if (f->v(x) + f->d(x) * (u - x) <= fu)
                a = x;
            else
                c = x;
        }
        *d = a >= mid ? mid : a;
        *dmin = l, *dmax = a;
    } else {
        double a = u, c = 0; /* a valid, c not */
        for (int it = 0; it < 60; it++) {
            const double x = 0.5 * a + 0.5 * c;
            if (f->v(x) + f->d(x) * (l - x) >= fl_)
                a = x;
            else
                c = x;
        }
        *d = a < mid ? mid : a;
        *dmin = a, *dmax = u;
    }
    return 1;
}

void cr_relax_smooth_lines(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                           double *sl, double *tl, double *su, double *tu) {
    *sl = 0; /* the constant fallbacks */
    *tl = f->self->lo(m, l);
    *su = 0;
    *tu = f->self->hi(m, u);
    int chord;
    double d, dmin, dmax, k, s, t;
    if (line_plan(f, l, u, -1, &chord, &d, &dmin, &dmax, &k) &&
        make_line(m, f, -1, l, u, d, chord ? k : f->d(d), &s, &t)) {
        *sl = s;
        *tl = t;
    }
    if (line_plan(f, l, u, 1, &chord, &d, &dmin, &dmax, &k) &&
        make_line(m, f, 1, l, u, d, chord ? k : f->d(d), &s, &t)) {
        *su = s;
        *tu = t;
    }
}

void cr_relax_smooth_range(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                           int dir, double *pmin, double *pmax, double *pdef) {
    (void)m;
    int chord;
    double k;
    *pmin = 1, *pmax = 0, *pdef = 0;
    if (!line_plan(f, l, u, dir, &chord, pdef, pmin, pmax, &k)) *pmin = 1, *pmax = 0;
}

/* The tangent at p: s = a'(p), t = a(p) − a'(p)·p, so ds/dp = a''(p), dt/dp = −a''(p)·p;
   built and checked by make_line (the constant line on failure, ds = dt = 0). make_line's
   check at l, u and 0 proves a line only for a tangent point the table allows (its "valid by
   shape" argument), so the rigorous path clamps p into [pmin, pmax] itself, whatever the
   caller did (where the table gives a chord, the chord); the search's heuristic path only
   clamps p to [l, u]. */
void cr_relax_smooth_tangent(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                             int dir, double p, double *s, double *t, double *ds, double *dt) {
    *ds = *dt = 0;
    *s = 0;
    *t = dir < 0 ? f->self->lo(m, l) : f->self->hi(m, u);
    if (!(p >= l)) p = l; /* NaN too */
    if (p > u) p = u;
    if (m->heuristic) { /* the exact tangent as computed, for the search */
        *s = f->d(p);
        *t = f->v(p) - *s * p;
        *ds = f->d2(p);
        *dt = -*ds * p;
        return;
    }
    int chord;
    double d, dmin, dmax, k;
    if (!line_plan(f, l, u, dir, &chord, &d, &dmin, &dmax, &k)) return; /* a tiny interval: constants */
    if (chord) { /* no tangent family: the chord, as cr_relax_smooth_lines builds it */
        make_line(m, f, dir, l, u, d, k, s, t);
        return;
    }
    if (p < dmin) p = dmin;
    if (p > dmax) p = dmax;
    if (make_line(m, f, dir, l, u, p, f->d(p), s, t)) {
        *ds = f->d2(p);
        *dt = -*ds * p;
    }
}
