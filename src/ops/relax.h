/*
 * Bound relaxations of the activations (certification's slot in the op table's
 * rows, act_table.h: cr_act_entry.relax). float64 only, for the exact real a:
 *
 *   lo(x), hi(x)     a lower / upper bound of the exact a(x) from the computed value
 *                    (libm's exp, tanh, log1p are within a few ulp: glibc manual
 *                    §19.7; the bounds widen by 32ε|a| + η)
 *   lines(l, u)      s_lo·x + t_lo ≤ a(x) ≤ s_up·x + t_up for every real x in [l, u]
 *
 * Every activation with a relaxation is monotone non-decreasing, so an interval
 * maps to [lo(l), hi(u)] (IBP). The lines follow the note's §2.4 and §5.5: built,
 * moved outward, checked at l, u and 0 against lo/hi with their own rounding,
 * replaced by the constant lines (0, lo(l)) / (0, hi(u)) when the check fails.
 * mode.no_slack (test-only) drops every widening. The op files define their rows'
 * relaxations (cr_NAME_relax, in relu.tmpl.c, sigmoid.tmpl.c, tanh.tmpl.c,
 * softplus.tmpl.c, leaky_relu.tmpl.c); relax.c holds the shared construction.
 */
#ifndef CR_OPS_RELAX_H
#define CR_OPS_RELAX_H

#include "chainrule.h"

typedef struct {
    int no_slack;   /* test-only: no widening (a bound may then be wrong) */
    cr_dtype dtype; /* the net's own dtype (leaky-relu's slope is 0.01 rounded to it) */
    int heuristic;  /* α-CROWN's search only: param_line's tangents neither widened nor checked (the
                       bound it reports is recomputed with checked lines; never a verdict's) */
} cr_relax_mode;

struct cr_act_relax {
    double (*lo)(const cr_relax_mode *m, double x);
    double (*hi)(const cr_relax_mode *m, double x);
    void (*lines)(const cr_relax_mode *m, double l, double u, double *s_lo, double *t_lo,
                  double *s_up, double *t_up);
    /* α-CROWN's family of lines (NULL: the lines are fixed). param_range: the range
       [*pmin, *pmax] of the parameter p of the lower (dir −1) or upper (dir +1) line on
       [l, u] and the p that lines() takes (*pmin > *pmax: no parameter, the line of
       lines() is fixed): ReLU / leaky ReLU the lower slope, S-shaped and convex
       functions the tangent point. param_line (only where there is a parameter, p in
       its range): the line at p (built, moved outward and checked like lines(); the
       constant line when the check fails: valid whatever p is) and the derivatives
       ds/dp, dt/dp of the exact line (0 for a constant). */
    void (*param_range)(const cr_relax_mode *m, double l, double u, int dir, double *pmin,
                        double *pmax, double *pdef);
    void (*param_line)(const cr_relax_mode *m, double l, double u, int dir, double p, double *s,
                       double *t, double *ds, double *dt);
};

/* The shared construction for a smooth a (value v, derivative d, both float64 with
   libm's few ulp): shape 1 convex on x ≤ 0 and concave on x ≥ 0 (sigmoid, tanh),
   shape 0 convex everywhere (softplus). */
typedef struct {
    double (*v)(double x);
    double (*d)(double x);
    const struct cr_act_relax *self; /* its lo, hi */
    int s_shaped;
    double (*d2)(double x); /* the second derivative (α-CROWN's gradient of a tangent) */
} cr_relax_smooth;
void cr_relax_smooth_lines(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                           double *s_lo, double *t_lo, double *s_up, double *t_up);
/* α-CROWN: the tangent point's range, and the tangent line at p (cr_act_relax.param_*) */
void cr_relax_smooth_range(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                           int dir, double *pmin, double *pmax, double *pdef);
void cr_relax_smooth_tangent(const cr_relax_mode *m, const cr_relax_smooth *f, double l, double u,
                             int dir, double p, double *s, double *t, double *ds, double *dt);
/* v widened down / up by 32ε|v| + η and clamped to [floor, ceil] (NAN: none) */
double cr_relax_widen_lo(const cr_relax_mode *m, double v, double floor);
double cr_relax_widen_hi(const cr_relax_mode *m, double v, double ceil);

extern const struct cr_act_relax cr_relu_relax, cr_sigmoid_relax, cr_tanh_relax, cr_softplus_relax,
    cr_leaky_relu_relax;

#endif
