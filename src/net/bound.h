/*
 * The pieces of cr_net_bound (bound.c: IBP and the shared parts; bound_crown.c:
 * CROWN), private to the core library. Everything is float64: a float32 net is
 * widened exactly first (cr_net_convert).
 */
#ifndef CR_NET_BOUND_H
#define CR_NET_BOUND_H

#include <stddef.h>

#include "chainrule.h"
#include "chainrule_certify.h"
#include "ops/relax.h"

/* An affine link's vectors as double (cr_net_get_affine), in the form the file states. */
typedef struct {
    cr_affine_form form;
    const double *p, *q, *s, *t;
    double eps;
} cr_bound_link;

typedef struct {
    const cr_net *net; /* float64: the caller's or owned */
    cr_net *owned;     /* the widened copy of a float32 net, or NULL */
    cr_bound_method method;
    int no_slack, no_intersect;
    cr_relax_mode mode; /* for the rows' relaxations */
    size_t maxdim;
    /* zl/zu[0]: bounds of z_0 = link_0(x), what layer 0 reads; zl/zu[l + 1]: bounds of
       z_l = link_{l+1}(r_l), the input of activation l (θ for l = L−1) */
    double *zl[CR_MAX_LAYERS + 1], *zu[CR_MAX_LAYERS + 1];
    cr_bound_link link[CR_MAX_LAYERS + 1];
    double *mem;
    struct cr_bound_split *split; /* branch and bound's clamps (cr_net_bound_split), or NULL */
    const double *xlo, *xhi;      /* the raw box */
} cr_bound_ctx;

double cr_bound_gamma(size_t n); /* γ_n = nε/(1 − nε), ε = 2^-53 */
cr_status cr_bound_prepare(const cr_net *net, const double *lo, const double *hi, size_t m,
                           const double *c, const cr_bound_options *opt, cr_bound_ctx *b);
void cr_bound_release(cr_bound_ctx *b);
const double *cr_bound_w(const cr_bound_ctx *b, int l);
const double *cr_bound_b(const cr_bound_ctx *b, int l);
int cr_bound_finite(const double *v, size_t n);
int cr_bound_act_supported(cr_activation act);
/* sound lower / upper bounds of the exact a(x) (libm's error covered) */
double cr_bound_act_lo(const cr_bound_ctx *b, cr_activation act, double x);
double cr_bound_act_hi(const cr_bound_ctx *b, cr_activation act, double x);
/* [l, u] <- link([l, u]) per feature, rounded outward (monotone per feature) */
void cr_bound_link_interval(const cr_bound_ctx *b, const cr_bound_link *k, size_t d, double *l,
                            double *u);
void cr_bound_ibp_linear(const cr_bound_ctx *b, size_t din, size_t dout, const double *w,
                         const double *bias, const double *l, const double *u, double *lo,
                         double *hi, double *scratch /* 2 din */);
void cr_bound_rows_of_interval(const cr_bound_ctx *b, size_t m, size_t k, const double *c,
                               const double *ol, const double *oh, double *lb, double *ub);
/* IBP through linear layers 0 .. upto: fills zl/zu[1 .. upto + 1] */
cr_status cr_bound_ibp_layers(cr_bound_ctx *b, int upto);
/* CROWN / CROWN-IBP rows (bound_crown.c) */
cr_status cr_bound_crown_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub);



/*
 * Branch and bound's interface (src/check/bab.c; docs/certification.md "Branch and bound"). A subdomain is the set
 * of x in the box whose pre-activations z_l (the input of activation l, l <= L−2) lie in [zlo[l], zhi[l]] per
 * unit: a ReLU split sets zlo = 0 (active) or zhi = 0 (inactive) for one unit, and a child inherits its parent's
 * intermediates as clamps. Every intermediate interval is intersected with the clamps as soon as it is computed
 * (IBP and CROWN): both are sound for every x of the subdomain, so the intersection is, and so is every bound
 * built on it. An interval left empty (lower > upper) means the subdomain has no point: *empty = 1 and the rows'
 * bounds are not computed.
 */
typedef struct cr_bound_split {
    const double *zlo[CR_MAX_LAYERS], *zhi[CR_MAX_LAYERS]; /* dims[l + 1] values each, or NULL: no clamp */
    double *zl_out[CR_MAX_LAYERS], *zu_out[CR_MAX_LAYERS]; /* receive the final intermediates, or NULL */
    double *corner; /* m x D, or NULL: each row's minimising corner of the raw box by CROWN's
                       final coefficients (a candidate witness only: the link's direction is assumed) */
    double *score[CR_MAX_LAYERS]; /* dims[l + 1] values each, or NULL: Σ over the m rows of what each unit's
                                     upper-line intercept costs the lower bound, max(−λ, 0)·t_up (λ: the row's
                                     coefficient on the unit's output; BaBSR's intercept score) */
    int empty;      /* out */
} cr_bound_split;
cr_status cr_net_bound_split(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                             const cr_bound_options *opt, cr_bound_split *split, double *lb, double *ub);
/* Intersects zl/zu[l + 1] with the split's clamps of layer l; 1 when an interval became empty (then b->split->empty
   is set). No-op without a split. */
int cr_bound_clamp(cr_bound_ctx *b, int l);

/* Test hook: a planted fault in CROWN's constants (0: none). */
enum { CR_BOUND_FAULT_NO_BIAS = 1, CR_BOUND_FAULT_NO_LINK_CONST = 2 };
extern int cr_bound_test_fault;
#endif
