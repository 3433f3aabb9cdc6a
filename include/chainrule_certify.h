/*
 * chainrule_certify.h: proofs over regions (part of the core library, libchainrule).
 *
 * An input gradient answers "which way does the loss rise at x?"; this header answers "can anything in a box
 * change the answer?". Sound bounds of linear functions of a network's output over a box of inputs (IBP, CROWN),
 * output specifications as VNN-LIB states them, and the certify driver: falsification first (a margin attack whose
 * witness is re-checked), then bounds, then a verdict that is never wrong (unknown when unsure).
 *
 * Semantics (docs/certification.md): the network is the model's weights read as real numbers (float32 weights are
 * exact in double) evaluated exactly, link 0 (input standardisation) and BatchNorm links as the file states them. A
 * bound that decides a verdict holds for that real-arithmetic network whatever the rounding of the computation:
 * bounds are computed in float64 with an a-posteriori rounding slack per product, relaxation lines are checked and
 * widened, inputs rounded outward.
 *
 * Conventions: row vectors (o is 1 x K); a spec row (c, rhs) with c in R^K reads c·o <= rhs. The UNSAFE region of a
 * spec part is an OR of clauses, each an AND of rows: the property holds (unsat) iff no point of the box satisfies
 * every row of some clause.
 */
#ifndef CHAINRULE_CERTIFY_H
#define CHAINRULE_CERTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* ---------------------------------------------------------------- bounds */

typedef enum {
    CR_BOUND_IBP = 0,       /* interval bound propagation */
    CR_BOUND_CROWN_IBP = 1, /* CROWN for the spec rows, IBP for the intermediate layers */
    CR_BOUND_CROWN = 2,     /* CROWN with full CROWN intermediate bounds */
    CR_BOUND_ALPHA = 3      /* α-CROWN: CROWN with lower-line slopes / tangent points optimised per spec row by
                               projected gradient ascent (closed-form gradients); any α gives a valid CROWN bound,
                               and the returned one is never looser than CROWN's (docs/certification.md) */
} cr_bound_method;

typedef struct {
    cr_bound_method method; /* zero: IBP */
    int no_slack;           /* test-only: 1 drops the rounding slack (a bound may then be wrong) */
    int no_intersect;       /* test-only: 1 keeps CROWN's own rows and intermediates, not their
                               intersection with IBP's (to compare with auto_LiRPA) */
    /* α-CROWN (method CR_BOUND_ALPHA); zero: defaults */
    size_t alpha_iters;     /* optimisation steps per bound (0: 20; each costs one CROWN pass and its gradient) */
    double alpha_lr;        /* Adam step size in α units (0: 0.25 for ReLU slopes; tangent points scale it by
                               their range u − l) */
    double alpha_lr_decay;  /* step size multiplied by this after every step (0: 0.98) */
    int alpha_intermediate; /* 0: default (optimise the intermediate layers' bounds too, each for itself),
                               1: optimise them, -1: only the spec rows (intermediates as CROWN's) */
} cr_bound_options;

/*
 * Sound bounds of the m rows C·o over lo <= x <= hi (x in the model's RAW input space: link 0 applied inside).
 *   net: float32 or float64 (float32 weights are widened exactly).  lo, hi: D values each, lo <= hi, finite.
 *   c: m x K row-major.  lb, ub: m values each, or NULL when not wanted.
 * Each row is bounded directly (last-layer elision), not as a difference of output bounds. Returns CR_ERR_ARG for
 * an activation without a relaxation (message via the row's name; GELU, SiLU) or an empty box, CR_ERR_NONFINITE
 * when a bound is not finite (never a comparison with NaN).
 */
/* 1 when activation act has a bound relaxation in its op table row (a net whose activations all have one can be
   bounded and certified), else 0 (gelu, silu: refused with CR_ERR_ARG by cr_net_bound and cr_certify). */
int cr_activation_has_relaxation(cr_activation act);

cr_status cr_net_bound(cr_ctx *ctx, const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                       const cr_bound_options *opt, double *lb, double *ub);

/*
 * The pieces of one CROWN bound, for showing it (`chainrule explain --certify`): the intervals, the relaxation
 * lines and the rows' backward substitution exactly as cr_net_bound computed them (CR_BOUND_CROWN, the default
 * intersection with IBP). Row vectors; z_0 = link_0(x) (x itself without a standardisation), z_{l+1} the input of
 * activation l, h_l = a(z_{l+1}) its output. Every array is owned (cr_bound_explanation_free).
 */
typedef struct {
    size_t m;     /* rows */
    int n_relaxed; /* relaxed activations: layers 0 .. n_relaxed − 1 (the hidden ones, and the output's) */
    double *zl[CR_MAX_LAYERS + 1], *zu[CR_MAX_LAYERS + 1]; /* [0]: z_0's box (D); [l + 1]: activation l's input */
    /* activation l's lines on [zl[l + 1], zu[l + 1]]: sl z + tl <= a(z) <= su z + tu */
    double *sl[CR_MAX_LAYERS], *tl[CR_MAX_LAYERS], *su[CR_MAX_LAYERS], *tu[CR_MAX_LAYERS];
    /* the lower bounds of the rows c·o, from the output back (layer l: dims[l] inputs, dims[l + 1] outputs): */
    double *a[CR_MAX_LAYERS];    /* m x dims[l + 1]: the coefficients on h_l reaching activation l */
    double *g[CR_MAX_LAYERS];    /* m x dims[l + 1]: after it, on z_{l+1}: a ∘ (a >= 0 ? sl : su) */
    double *icpt[CR_MAX_LAYERS]; /* m: the lines' intercepts Σ_j a_j (a_j >= 0 ? tl_j : tu_j) */
    double *cst[CR_MAX_LAYERS];  /* m: the constant after layer l's bias (and link) terms were added */
    double *dx;                  /* m x D: the coefficients on z_0 */
    double *box;                 /* m: min over z_0's box of dx·z_0, Σ_q dx_q (dx_q >= 0 ? zl_q : zu_q) */
    double *slack;               /* m: the rounding slack subtracted (docs/certification.md) */
    double *crown;               /* m: CROWN's bound of the row: cst[0] + box − slack, rounded down */
    double *lb;                  /* m: cr_net_bound's lower bound (CROWN's row, or IBP's where tighter) */
    int recorded;                /* 1 once the rows' pass was recorded */
} cr_bound_explanation;

/* Fills *out for the m rows c (m x K) over lo <= x <= hi as cr_net_bound(..., CR_BOUND_CROWN) computes them.
   Errors as cr_net_bound's; *out is then zeroed. */
cr_status cr_bound_explain(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                           cr_bound_explanation *out);
void cr_bound_explanation_free(cr_bound_explanation *out); /* NULL-safe; zeroes *out */

/* ---------------------------------------------------------------- specifications */

/* One box and its unsafe region: an OR of n_clauses clauses, clause q = rows clause[q] .. clause[q+1]−1, each row
   c·o <= rhs (c: K values). Where a file's decimal or x ± eps is not a double, two roundings are kept:
     lo/hi, rhs         rounded outward: a superset of the real box and of the real unsafe region (for proofs);
     lo_in/hi_in, rhs_in rounded inward: a subset of each (a witness in the inward box whose output meets the rows
                        with rhs_in meets the real spec).
   lo_in[i] > hi_in[i] only when no double lies in the real interval (a point box at an inexact decimal): no witness
   exists in that part (never sat from it). */
typedef struct {
    size_t d, k, n_rows, n_clauses;
    double *lo, *hi, *lo_in, *hi_in; /* d each */
    double *c, *rhs, *rhs_in;        /* n_rows x k, n_rows, n_rows */
    size_t *clause;                  /* n_clauses + 1 row offsets */
} cr_spec_part;

/* A specification: unsafe = OR over its parts (VNN-LIB's disjunctions over input boxes give several). */
typedef struct {
    size_t n_parts;
    cr_spec_part *parts;
} cr_spec;

/* The L∞ robustness spec of a classifier at x (D values): box [max(x−eps, lo), min(x+eps, hi)], unsafe = OR over
   j != label of (o_label − o_j <= 0): one part, K − 1 one-row clauses (rhs = rhs_in = 0). x ± eps is computed in
   double and, when inexact, rounded outward for lo/hi and inward for lo_in/hi_in (nextafter). lo/hi may be ∓inf.
   CR_ERR_ARG: d or k zero, k < 2, label outside [0, k), eps < 0, lo > hi, an empty box; CR_ERR_NONFINITE: x or eps
   not finite, NaN lo/hi. On failure *out is zeroed. Free with cr_spec_free (NULL-safe, leaves *spec zeroed). */
cr_status cr_spec_linf(size_t d, size_t k, const double *x, double eps, double lo, double hi, cr_label label,
                       cr_spec *out);
void cr_spec_free(cr_spec *spec);

/* ---------------------------------------------------------------- certify */

typedef enum { CR_VERDICT_UNSAT = 0, CR_VERDICT_SAT = 1, CR_VERDICT_UNKNOWN = 2, CR_VERDICT_TIMEOUT = 3 } cr_verdict;
const char *cr_verdict_name(cr_verdict v); /* "unsat", "sat", "unknown", "timeout" */

/* What branch and bound splits (cr_certify_options.bab_split). */
typedef enum {
    CR_BAB_SPLIT_AUTO = 0,  /* input splits when the input has at most 10 dimensions, else unit splits */
    CR_BAB_SPLIT_RELU = 1,  /* unit splits: unstable ReLU / leaky-ReLU units (z >= 0 | z <= 0), sigmoid, tanh and
                               softplus units at 0 or their interval's midpoint (z >= m | z <= m) */
    CR_BAB_SPLIT_INPUT = 2  /* bisect the input box (every activation) */
} cr_bab_split;

typedef struct {
    cr_bound_options bound; /* the bound method (zero: IBP; CR_BOUND_ALPHA: IBP, CROWN, then α-CROWN,
                               each on the rows the previous left; the CLI's auto) */
    double timeout_s;       /* 0: none */
    size_t attack_restarts; /* margin PGD restarts (0: default) */
    size_t attack_steps;    /* PGD steps per restart (0: default) */
    uint64_t seed;
    /* 1: the spec's outputs are the softmax head's probabilities (an ONNX graph ending in Softmax or LogSoftmax).
       Softmax keeps the order of its inputs, so an order row a·(y_i − y_j) <= 0 (a > 0) is read on o as it stands;
       any other row (a threshold on a probability) is CR_ERR_ARG. 0: rows on o. */
    int outputs_are_probs;
    /* 1: branch and bound on what the bounds left (docs/certification.md "Branch and bound"): subdomains bounded
       by CROWN, or with bound.method CR_BOUND_ALPHA by α-CROWN on the spec rows (5 steps, intermediates by CROWN),
       depth first, each candidate witness re-checked; proved_by "bab". 0: none. */
    int bab;
    cr_bab_split bab_split;
    size_t bab_max_domains; /* subdomains bounded at most per part (0: 100000 without a timeout, else unlimited) */
} cr_certify_options;

typedef struct {
    cr_verdict verdict;
    double *witness;     /* D values, caller's buffer or NULL: the counterexample when sat (raw input space) */
    double *witness_out; /* K values, caller's buffer or NULL: the network's output at the witness */
    double best_margin;  /* unsat: the smallest proved margin (lb − rhs); sat: the witness's worst violation */
    double seconds;
    const char *proved_by; /* "ibp", "crown", "alpha", "attack", "bab", or NULL */
    size_t domains;        /* subdomains branch and bound bounded (0 without it) */
} cr_certify_result;

/*
 * Falsification first (a margin PGD over the inward box of each part, every candidate re-checked by
 * cr_witness_check), then bounds on the outward box (IBP, then opt->bound.method when stronger, CROWN before
 * α-CROWN; each on the clauses the previous left; proved_by names the last that ran) : a clause is
 * refuted when one of its rows has lb(c·o) > rhs; unsat iff every clause of every part is refuted, sat with a
 * checked witness, else (with opt->bab) branch and bound on the clauses left, else unknown (timeout once
 * opt->timeout_s has passed: checked at every attack step, before every subdomain and inside every bound, whose
 * interrupted result is never used). opt may be NULL (defaults). Errors:
 * CR_ERR_ARG for a bad spec (shapes, empty box), a probability threshold (outputs_are_probs), or an activation
 * without a relaxation when no witness was found; *res is then untouched except seconds.
 */
cr_status cr_certify(cr_ctx *ctx, const cr_net *net, const cr_spec *spec, const cr_certify_options *opt, cr_certify_result *res);

/*
 * Dataset mode, one labelled example (the CLI's `certify --eps` and Python's Model.certify): the L∞ ball
 * cr_spec_linf(d, k, x, eps, lo, hi, label) decided with the cheapest evidence first: the centre itself when it is a
 * counterexample (cr_witness_check; proved_by "centre"), then IBP and opt->bound.method (CROWN for a method beyond
 * it), and only when they do not prove it cr_certify (the attack, then the bounds). The verdicts are cr_certify's on
 * the same spec and options (a proof excludes every witness); the attack runs only on the examples not proved.
 * opt->outputs_are_probs must be 0. Errors as cr_spec_linf and cr_certify.
 */
cr_status cr_certify_linf(cr_ctx *ctx, const cr_net *net, const double *x, double eps, double lo, double hi, cr_label label,
                          const cr_certify_options *opt, cr_certify_result *res);

/*
 * The bracket of one example's robustness radius by bisection on [0, eps_max] down to tol (> 0):
 *   *certified: the largest ε at which the bounds (IBP, then opt->bound.method, α-CROWN included) proved the
 *               ball (eps_max when proved there; NaN when not even ε = 0 was proved: a misclassified example);
 *   *attacked:  the smallest ε at which cr_certify_linf found a checked counterexample (0 for a misclassified
 *               example; +inf when none up to eps_max).
 * The true radius lies in [*certified, *attacked]; *certified < *attacked whenever *certified is a number (a
 * witness inside a proved ball cannot exist). About log2(eps_max / tol) bound passes and as many attacks.
 */
cr_status cr_certify_radius_linf(cr_ctx *ctx, const cr_net *net, const double *x, double lo, double hi, cr_label label,
                                 double eps_max, double tol, const cr_certify_options *opt, double *certified,
                                 double *attacked);

/*
 * The witness checker: re-evaluates x (D values) by plain loops in float64 with a rigorous bound on the evaluation
 * error (independent of the library's forward pass) and accepts it (returns 1) only when x lies in part's inward
 * box (lo_in <= x <= hi_in) and, for some clause, every row satisfies c·o(x) − rhs < 0 by more than that bound
 * (o(x): the real-arithmetic network). *worst (may be NULL): the accepted clause's largest row upper bound
 * (negative), or when rejected the smallest such bound over the clauses; out (K, may be NULL): the evaluated
 * output. 0: rejected (outside the box, not violating, or within noise); -1: the net cannot be evaluated with an
 * error bound (GELU), a non-finite value, or bad arguments (the old return values, now the status below).
 * The verdict goes to *accepted (1 accepted, 0 rejected); the return is CR_OK, or CR_ERR_ARG (bad arguments, a net
 * the checker cannot bound), CR_ERR_NONFINITE or CR_ERR_NOMEM with *accepted = 0 and cr_last_error() saying why.
 */
cr_status cr_witness_check(const cr_net *net, const cr_spec_part *part, const double *x, double *out, double *worst,
                           int *accepted);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
