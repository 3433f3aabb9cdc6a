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
    const double *target; /* n_target values, or NULL: α-CROWN stops optimising spec row i (< n_target) once its
                             rigorous lower bound exceeds target[i] (cr_bound_split.target) */
    size_t n_target;
    int no_ub;            /* the rows' upper bounds are not wanted: the spec pass bounds C only, not [C; −C] */
    double deadline;      /* cr_bound_now_s() seconds, 0: none (cr_bound_split.deadline) */
    size_t n_warm;        /* the spec rows with a warm start or out (cr_bound_split.warm_in / warm_out), or 0 */
    int timed_out;        /* set when a check point found the deadline passed: the call's results are void */
} cr_bound_ctx;

/* CLOCK_MONOTONIC seconds (the deadlines' clock; check/bab.c's chk_now_s is the same clock) */
double cr_bound_now_s(void);
/* 1 (and b->timed_out set) when b has a deadline and it has passed */
int cr_bound_late(cr_bound_ctx *b);

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
    /* n x width, or NULL: β-CROWN's signed multipliers s_j·β_ij (β >= 0, s = ±1 the side of split unit j
       of activation l, 0 elsewhere), subtracted from each row's coefficient on z_l (bound_beta.c) */
    double *beta[CR_MAX_LAYERS];
} cr_bound_rowlines;
/* The rigorous CROWN lower bounds (rounding slack included) of the n rows g on z_top (top = L−1
   with through_out_act: on the output o) with the lines rl (NULL: the shared ones); dx: n x D,
   the rows' coefficients on z_0 (the minimising corner is zl[0] where dx >= 0, else zu[0]). */
cr_status cr_bound_crown_pass(cr_crown_run *c, int top, int through_out_act, size_t n,
                              const double *g, const cr_bound_rowlines *rl, double *rows_out,
                              double *dx);
/* α-CROWN's own chunks: sets up the pass (top, through_out_act) and runs task(ctx, t, worker), t < n_tasks, on the
   run's workers (cr_parallel_for); a task calls cr_bound_crown_walk with its worker: one walk of n <=
   CR_BOUND_CROWN_ROWS rows g with the lines rl (their rows numbered from the walk's first, NULL: the shared
   lines), rows_out and dx (n x D) as cr_bound_crown_pass's. */
cr_status cr_bound_crown_for(cr_crown_run *c, int top, int through_out_act, size_t n_tasks,
                             cr_status (*task)(void *ctx, size_t t, int worker), void *ctx);
void cr_bound_crown_walk(cr_crown_run *c, int worker, size_t n, const double *g, const cr_bound_rowlines *rl,
                         double *rows_out, double *dx);
/* the shared (CROWN's) lines of relaxed activation l, width dims[l + 1] */
void cr_bound_crown_lines(const cr_crown_run *c, int l, const double **sl, const double **tl,
                          const double **su, const double **tu);
/* α-CROWN (bound_alpha.c): the same rows optimised over the lines' parameters per row; each row's
   result is the best of the rigorous bounds met, the first being CROWN's (never below it). */
cr_status cr_bound_alpha_rows(cr_bound_ctx *b, cr_crown_run *c, int top, int through_out_act,
                              size_t n, const double *g, double *rows_out);

/* β-CROWN (bound_beta.c): the multipliers of a subdomain's split constraints s_j·z_j >= 0 (its clamps at 0),
   per row, optimised with α by cr_bound_alpha_rows on the spec rows of a split bound (b->split). */
typedef struct cr_beta cr_beta;
extern int cr_bound_beta_on; /* 1 (default): β terms in branch and bound's α bounds; 0: α alone (tests, bench) */
/* NULL (*out) when b has no split, no clamp at 0 on layers 0..R, or β is off; else sets rl->beta */
cr_status cr_beta_create(const cr_bound_ctx *b, int R, size_t n, cr_bound_rowlines *rl, cr_beta **out);
void cr_beta_free(cr_beta *bt);
size_t cr_beta_params(const cr_beta *bt); /* multipliers per row (0 for NULL) */
void cr_beta_write(cr_beta *bt);          /* rl->beta from the current β */
/* ∂lb/∂β = −s·ẑ_l (zhat: n x w, the rows' linear networks' z_l at their corners); A: the rows' cotangents on
   h_l (n x w), read at the first call for the step scale */
void cr_beta_gradient(cr_beta *bt, int l, const double *zhat, const double *A);
void cr_beta_scaled(cr_beta *bt); /* the step scale is set: later gradients leave it */
void cr_beta_step(cr_beta *bt, double b1, double b2, double b1t, double b2t, double lr); /* Adam, β >= 0 */
void cr_beta_keep(cr_beta *bt, size_t i); /* row i's current β is its best */
void cr_beta_use_best(cr_beta *bt);
void cr_beta_get(const cr_beta *bt, size_t i, double *val, double *grad); /* row i's (either may be NULL) */
void cr_beta_set(cr_beta *bt, size_t i, const double *val);              /* projected on β >= 0 */
/* α's blocks of rows (bound_alpha.c): the rows in use (<= n of cr_beta_create), a new block (β = 0, no moments,
   the step scale to be set), a row moved (a proved one leaves) */
void cr_beta_rows(cr_beta *bt, size_t n);
void cr_beta_reset(cr_beta *bt);
void cr_beta_move_row(cr_beta *bt, size_t dst, size_t src);
/* warm start (cr_bound_split.warm_in): row i's β from / to dense values per hidden unit (off[l]: layer l's first) */
void cr_beta_warm_in(cr_beta *bt, size_t i, const double *dense, const size_t *off);
void cr_beta_warm_out(const cr_beta *bt, size_t i, double *dense, const size_t *off);

/* α-CROWN's objective with its closed-form gradient, for the check library's finite
   differences (bound_alpha.c): visit calls fn once with the spec rows [C; −C] of
   cr_net_bound's α-CROWN (intermediates as CROWN's), whose bound is a function of the
   parameters alpha (rows x params per row; a row's bound depends on its own block only). */
cr_status cr_alpha_problem_visit(const cr_net *net, const double *lo, const double *hi, size_t m,
                                 const double *c, const cr_bound_options *opt,
                                 cr_status (*fn)(void *ctx, cr_alpha_problem *p), void *ctx);
/* the same on a subdomain (split: its clamps, as cr_net_bound_split's): the parameters are α's, then the
   β multipliers of its split constraints (range [0, +inf)); fn is not called when the clamps leave no point */
cr_status cr_alpha_problem_visit_split(const cr_net *net, const double *lo, const double *hi, size_t m,
                                       const double *c, const cr_bound_options *opt, struct cr_bound_split *split,
                                       cr_status (*fn)(void *ctx, cr_alpha_problem *p), void *ctx);
/* rows (2m) and parameters per row; parameter k's range (min > max: none, the line is fixed);
   CROWN's parameters (β: 0) */
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
    /* m values, or NULL: α-CROWN stops optimising row i once its rigorous lower bound exceeds target[i] (a verdict's
       rhs: the row is proved) and its bound is then that rigorous bound, above target[i] but maybe below the one
       the whole search would reach. Intermediate rows of a ReLU layer stop once they prove their unit stable. */
    const double *target;
    int crown_known; /* 1: the caller has CROWN's rows of this box and intersects α's with them itself (cr_certify's
                        escalation): α-CROWN skips its own second CROWN run */
    /* 1: the clamps are a parent's final intermediates (a child inherits them): CROWN's intermediate passes are
       skipped and the intervals are IBP's intersected with the clamps (sound: both hold on the subdomain); the
       split's effect on later layers then comes through β (bound_beta.c) instead. 0: recomputed. */
    int reuse;
    int lower_only; /* 1: the rows' lower bounds only (ub: IBP's); the rows C alone, not [C; −C], in every pass */
    /* cr_bound_now_s() seconds, 0: none. Checked inside the call (after IBP, before every intermediate layer, at
       every α-CROWN iteration of every block, before the spec pass); once it has passed the call stops with
       timed_out = 1 and CR_OK, and its results are void: lb = −inf, ub = +inf, zl_out / zu_out, corner and score
       not written. An interrupted bound is never a verdict's. (α-CROWN's optional last pass, CROWN's rows to
       intersect with, is skipped instead when the deadline comes before or inside it: α's rows stand, not void.) */
    double deadline;
    int timed_out; /* out */
    /* α/β warm start (branch and bound: a child starts its search from its parent's optimised values), for the spec
       rows of α-CROWN (CR_BOUND_ALPHA), m rows of cr_bound_warm_stride(net) values each, or NULL. A row: each
       relaxed layer's α parameters (2 w: the lower line's, the upper line's), then β per hidden unit. warm_in: the
       search starts there, α projected on this box's ranges and β on >= 0 (any such values give a sound bound: a
       start changes tightness only; the result is still the rigorous pass at the best values met, never below
       CROWN's when targets are set); a NaN first value: no start (CROWN's). warm_out: receives each searched row's
       best values (the rows CROWN proves first are not written). Only with lower_only. */
    const double *warm_in;
    double *warm_out;
} cr_bound_split;
/* the values per row of cr_bound_split.warm_in / warm_out */
size_t cr_bound_warm_stride(const cr_net *net);
cr_status cr_net_bound_split(cr_ctx *cx, const cr_net *net, const double *lo, const double *hi, size_t m,
                             const double *c, const cr_bound_options *opt, cr_bound_split *split, double *lb,
                             double *ub);
/* Intersects zl/zu[l + 1] with the split's clamps of layer l; 1 when an interval became empty (then b->split->empty
   is set). No-op without a split. */
int cr_bound_clamp(cr_bound_ctx *b, int l);

/* Test hook: a planted fault in CROWN's constants (0: none). */
enum { CR_BOUND_FAULT_NO_BIAS = 1, CR_BOUND_FAULT_NO_LINK_CONST = 2,
       CR_BOUND_FAULT_ALPHA_GRAD_SIGN = 3,   /* α-CROWN's gradient negated */
       CR_BOUND_FAULT_ALPHA_GRAD_FACTOR = 4, /* α-CROWN's gradient halved */
       CR_BOUND_FAULT_BETA_GRAD_SIGN = 5,    /* β-CROWN's gradient negated */
       CR_BOUND_FAULT_BETA_SIGN = 6          /* β's term added with the wrong sign (an unsound bound) */ };
extern int cr_bound_test_fault;
/* Test hook: cr_bound_crown_rows calls on this thread, by cr_bound_method (CROWN's second run inside α included). */
extern _Thread_local size_t cr_bound_test_runs[4];
#endif
