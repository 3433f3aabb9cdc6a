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

typedef struct cr_alpha_problem cr_alpha_problem; /* bound_alpha.c */

/* An affine link's vectors as double (cr_net_get_affine), in the form the file states. */
typedef struct {
    cr_affine_form form;
    const double *p, *q, *s, *t;
    double eps;
} cr_bound_link;

typedef struct {
    cr_ctx *cx;        /* the workers of CROWN's passes (NULL: one) */
    const cr_net *net; /* float64: the caller's or owned */
    cr_net *owned;     /* the widened copy of a float32 net, or NULL */
    cr_bound_method method;
    int no_slack, no_intersect;
    cr_relax_mode mode; /* for the rows' relaxations */
    cr_bound_options opt; /* the caller's options (α-CROWN's iterations, step, ...), zero if none */
    /* the check library's visit of the α-CROWN problem (cr_alpha_problem_visit), or NULL */
    cr_status (*alpha_visit)(void *ctx, cr_alpha_problem *p);
    void *alpha_visit_ctx;
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
/* CROWN / CROWN-IBP / α-CROWN rows (bound_crown.c). A pass's rows run in fixed chunks of at
   most CR_BOUND_CROWN_ROWS rows (cr_even_chunk), one walk each, on the library's workers:
   bounds are bit-identical whatever the worker count. */
enum { CR_BOUND_CROWN_ROWS = 50 };
cr_status cr_bound_crown_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub);

/* α-CROWN's hooks into CROWN's pass (bound_crown.c; bound_alpha.c uses them). One CROWN run
   (its workers' job) holds the shared lines of every relaxed activation and the tapes. */
typedef struct crown_job cr_crown_run;
typedef struct {
    /* per-row lines of activation l (n x width, row-major), or NULL: the shared lines */
    double *sl[CR_MAX_LAYERS], *tl[CR_MAX_LAYERS], *su[CR_MAX_LAYERS], *tu[CR_MAX_LAYERS];
    /* n x width, or NULL: receives each row's cotangent on h_l (before the slopes) */
    double *keep[CR_MAX_LAYERS];
} cr_bound_rowlines;
/* The rigorous CROWN lower bounds (rounding slack included) of the n rows g on z_top (top = L−1
   with through_out_act: on the output o) with the lines rl (NULL: the shared ones); dx: n x D,
   the rows' coefficients on z_0 (the minimising corner is zl[0] where dx >= 0, else zu[0]). */
cr_status cr_bound_crown_pass(cr_crown_run *c, int top, int through_out_act, size_t n,
                              const double *g, const cr_bound_rowlines *rl, double *rows_out,
                              double *dx);
/* the shared (CROWN's) lines of relaxed activation l, width dims[l + 1] */
void cr_bound_crown_lines(const cr_crown_run *c, int l, const double **sl, const double **tl,
                          const double **su, const double **tu);
/* α-CROWN (bound_alpha.c): the same rows optimised over the lines' parameters per row; each row's
   result is the best of the rigorous bounds met, the first being CROWN's (never below it). */
cr_status cr_bound_alpha_rows(cr_bound_ctx *b, cr_crown_run *c, int top, int through_out_act,
                              size_t n, const double *g, double *rows_out);

/* α-CROWN's objective with its closed-form gradient, for the check library's finite
   differences (bound_alpha.c): visit calls fn once with the spec rows [C; −C] of
   cr_net_bound's α-CROWN (intermediates as CROWN's), whose bound is a function of the
   parameters alpha (rows x params per row; a row's bound depends on its own block only). */
cr_status cr_alpha_problem_visit(const cr_net *net, const double *lo, const double *hi, size_t m,
                                 const double *c, const cr_bound_options *opt,
                                 cr_status (*fn)(void *ctx, cr_alpha_problem *p), void *ctx);
/* rows (2m) and parameters per row; parameter k's range (min > max: none, the line is fixed);
   CROWN's parameters */
size_t cr_alpha_problem_rows(const cr_alpha_problem *p);
size_t cr_alpha_problem_params(const cr_alpha_problem *p);
void cr_alpha_problem_range(const cr_alpha_problem *p, size_t k, double *pmin, double *pmax);
void cr_alpha_problem_default(const cr_alpha_problem *p, double *alpha);
/* the rows' bounds at alpha and their gradients (grad may be NULL), grad[i·P + k] = ∂lb_i/∂α_ik */
cr_status cr_alpha_problem_eval(cr_alpha_problem *p, const double *alpha, double *lb, double *grad);



/* cr_bound_explain's recorder (bound_explain.c): while set (in the calling thread; the workers get it through
   their crown_run), cr_bound_crown_rows (CR_BOUND_CROWN) copies what it computes into its arrays, allocated by
   the caller for out->m rows: activation l's interval and lines for l < n_relaxed, the spec rows' pass; it sets
   recorded. NULL otherwise. */
extern _Thread_local cr_bound_explanation *cr_bound_recorder;
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
cr_status cr_net_bound_split(cr_ctx *cx, const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                             const cr_bound_options *opt, cr_bound_split *split, double *lb, double *ub);
/* Intersects zl/zu[l + 1] with the split's clamps of layer l; 1 when an interval became empty (then b->split->empty
   is set). No-op without a split. */
int cr_bound_clamp(cr_bound_ctx *b, int l);

/* Test hook: a planted fault in CROWN's constants (0: none). */
enum { CR_BOUND_FAULT_NO_BIAS = 1, CR_BOUND_FAULT_NO_LINK_CONST = 2,
       CR_BOUND_FAULT_ALPHA_GRAD_SIGN = 3,   /* α-CROWN's gradient negated */
       CR_BOUND_FAULT_ALPHA_GRAD_FACTOR = 4  /* α-CROWN's gradient halved */ };
extern int cr_bound_test_fault;
#endif
