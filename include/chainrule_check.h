/*
 * chainrule_check.h — verification of derivatives, as a library.
 *
 * Every check compares an analytic derivative, computed by the code the
 * commands run (the activation backend the chain selected for this CPU,
 * cr_net_input_grad, cr_net_input_jacobian in every mode, the training step's
 * gradient block), with a reference: central finite differences in float64,
 * or another analytic route. The library returns structured results and
 * prints nothing; `chainrule gradcheck` and `chainrule explain` print them.
 *
 * Tolerances (docs/verification.md). A central difference D(h) of f has a
 * truncation error ~h²|f'''|/6 and a rounding error ~ε|f|/h. Every finite
 * difference here is taken at two steps, h and 2h; the reference is the
 * Richardson extrapolation R = (4 D(h) − D(2h)) / 3 and its error is
 * estimated per entry as |D(h) − D(2h)| + 4 ε₆₄ (1 + |f|) / h, which covers
 * both terms (the difference of the two steps is 3× the truncation error of
 * D(h) plus their rounding noise). The analytic side is allowed the rounding
 * of its own dtype: γ ε_dtype S, with γ = 4 (Σ widths + 16) and S the size of
 * the terms it sums (for dJ/dx: the VJP chain run on |W| from |ŷ| + |y|).
 * A comparison passes when max |analytic − reference| <= safety × (fd error)
 * + analytic allowance, row by row (per example). A reference within its own
 * tolerance of zero passes but is flagged `trivial`: agreement proves little.
 *
 * Ownership: inputs are borrowed for the call; a report owns its items
 * (cr_check_report_free). Not thread-safe across concurrent calls on one
 * report. Dependencies: the core library (chainrule.h), libc, libm.
 */
#ifndef CHAINRULE_CHECK_H
#define CHAINRULE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported by the shared library, like everything chainrule.h declares. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef enum {
    CR_CHECK_JACOBIAN = 0,   /* an op's explicit Jacobian vs finite differences */
    CR_CHECK_VJP,            /* an op's VJP g J vs g (finite-difference J) */
    CR_CHECK_JVP,            /* an op's JVP J u vs (finite-difference J) u */
    CR_CHECK_ADJOINT,        /* <JVP(u), v> = <u, VJP(v)> of one op */
    CR_CHECK_HEAD_UNFUSED,   /* (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) vs the fused ŷ − y */
    CR_CHECK_INPUT_GRAD,     /* dJ_n/dx_n of every example (cr_net_input_grad) vs FD */
    CR_CHECK_BACKWARD_DX,    /* cr_net_backward's dx vs FD */
    CR_CHECK_INPUT_JACOBIAN, /* cr_net_input_jacobian (one mode) vs FD of the outputs */
    CR_CHECK_PARAM_GRAD,     /* one parameter tensor of the training step's gradient vs FD */
    CR_CHECK_NET_ADJOINT,    /* <J u, v> = <u, Jᵀ v> between cr_net_jvp and cr_net_vjp */
    CR_CHECK_JACOBIAN_PRODUCT, /* explain: ∂J/∂ŷ · ∂ŷ/∂θ · … · ∂r/∂x vs the VJP chain */
    CR_CHECK_CLOSED_FORM,    /* explain: ((ŷ − y)W_Lᵀ ∘ a'(r)) … W1ᵀ in plain loops vs the VJP chain */
    CR_CHECK_KIND_COUNT
} cr_check_kind;

/* "Jacobian", "VJP", ..., for printing. */
const char *cr_check_kind_name(cr_check_kind kind);

typedef struct {
    cr_check_kind kind;
    int layer;        /* 1-based position of the op in the chain (linear 1, activation 2,
                         linear 3, ..., the output activation if any ("relu (output)"),
                         the head last: softmax+cross-entropy or squared-error); 0 for a check
                         of the whole network */
    char op[32];      /* the op: "linear", "sigmoid", "softmax+cross-entropy"; "network" */
    char what[96];    /* what was compared: "VJP", "fc1.weight [128, 784]", "dJ/dx [N, D]" */
    double max_err;   /* max |analytic − reference| in the worst row */
    double ref_max;   /* max |reference| in that row */
    double tol;       /* the tolerance max_err was held to, same units */
    double rel_err;   /* max_err / ref_max (0 when both are 0) */
    size_t checked;   /* entries compared */
    size_t total;     /* entries of the tensor (more than checked when sampled) */
    size_t worst;     /* row (example) with the largest max_err / tol */
    int pass;         /* max_err <= tol in every row */
    int trivial;      /* the reference is within its tolerance of zero in every row */
} cr_check_result;

typedef struct {
    cr_check_result *items; /* owned */
    size_t n, cap;
    int failures;           /* items with pass == 0 */
} cr_check_report;

void cr_check_report_init(cr_check_report *rep);
void cr_check_report_free(cr_check_report *rep);
/* The first failed item, or NULL. */
const cr_check_result *cr_check_report_first_failure(const cr_check_report *rep);
/* Item i of the report, or NULL past its end (for bindings; src/check/struct_fields.c). */
const cr_check_result *cr_check_report_item(const cr_check_report *rep, size_t i);

typedef struct {
    uint64_t seed;      /* random directions and parameter samples (default 1) */
    size_t samples;     /* parameter entries per tensor (0 = all; default 256) */
    size_t op_example;  /* example whose activations are the per-op operating point (0) */
    size_t jac_examples; /* examples whose full input Jacobian is checked (default 4) */
    double safety;      /* factor on the estimated finite-difference error (default 4) */
    double tol_override; /* > 0: a fixed relative tolerance instead (tol = t · ref_max) */
    /* Testing aid (gradcheck --inject-fault): perturb the analytic Jacobian, VJP or JVP
       (inject_kind) of the op at chain position inject_layer (1-based; 0 = none) by 1%
       of its largest entry, to show how a faulty op is reported. */
    int inject_layer;
    cr_check_kind inject_kind;
} cr_check_options;

cr_check_options cr_check_options_default(void);

/*
 * One op at an operating point: the function under test, in dtype, and its
 * float64 forward for the finite differences. Buffers passed to the analytic
 * functions are of `dtype`; any of jacobian/vjp/jvp may be NULL (not checked).
 * ctx is passed through. The per-network checks build these from the running
 * code; a test builds them to plant a fault in one op (mutation tests).
 */
typedef struct {
    const char *name; /* op name for the results */
    int layer;        /* its position in the chain for the results (0 if none) */
    cr_dtype dtype;
    size_t din, dout;
    const void *ctx;
    void (*forward64)(const void *ctx, const double *in, double *out);
    void (*jacobian)(const void *ctx, const void *in, void *jac /* dout x din */);
    void (*vjp)(const void *ctx, const void *in, const void *g /* dout */, void *gin /* din */);
    void (*jvp)(const void *ctx, const void *in, const void *u /* din */, void *out /* dout */);
    double floor_abs; /* size of the terms the analytic outputs are computed from, when it
                         exceeds the outputs (the head: ŷ − y from ŷ and y, so 1); else 0 */
} cr_check_op;

/* The number of ops in net's chain (linear, activation, ..., linear, [the output
   activation,] head): 2 L, plus 1 with an output activation. The head is the
   fused softmax + cross-entropy, or the squared error ½‖o − t‖² ("squared-error"). */
int cr_check_net_op_count(const cr_net *net);

/* Jacobian, VJP, JVP of one op against finite differences of forward64 at
   `in` (din values), and the adjoint identity, appended to rep. */
cr_status cr_check_op_run(const cr_check_op *op, const double *in, const cr_check_options *opt,
                          cr_check_report *rep);

/*
 * The whole network on data x (n x D) with targets y (n x K), both of
 * the net's dtype (cr_net_dtype):
 *   cr_check_net_ops:       every op of the chain (linear, the activation the
 *                           chain runs, the fused head, the unfused head) at
 *                           example opt->op_example;
 *   cr_check_net_input:     dJ_n/dx_n of every example from cr_net_input_grad
 *                           and from cr_net_backward, and the input Jacobian
 *                           of the probabilities in every mode (rev, fwd,
 *                           closed) on the first opt->jac_examples examples;
 *   cr_check_net_params:    every parameter tensor of the training step's
 *                           gradient (float32: cr_train_step_f32's block;
 *                           float64: cr_net_backward) against FD of the mean loss;
 *   cr_check_net_adjoint:   <J u, v> = <u, Jᵀ v> on the outputs o;
 * With the squared-error head y holds the targets t and the input Jacobian is
 * that of the outputs o; explain (below) takes plain classifiers only.
 *   cr_check_net:           all four.
 */
cr_status cr_check_net_ops(const cr_net *net, size_t n, const void *x, const void *y,
                           const cr_check_options *opt, cr_check_report *rep);
cr_status cr_check_net_input(const cr_net *net, size_t n, const void *x, const void *y,
                             const cr_check_options *opt, cr_check_report *rep);
cr_status cr_check_net_params(const cr_net *net, size_t n, const void *x, const void *y,
                              const cr_check_options *opt, cr_check_report *rep);
cr_status cr_check_net_adjoint(const cr_net *net, size_t n, const void *x,
                               const cr_check_options *opt, cr_check_report *rep);
cr_status cr_check_net(const cr_net *net, size_t n, const void *x, const void *y,
                       const cr_check_options *opt, cr_check_report *rep);

/*
 * explain's agreements for one example x (D, raw: the net's input link, if any,
 * is the chain's first link ∂z/∂x = diag(a)), y (K) of a float64 net.
 * Fills the four ways to ∂J/∂x (each D values, caller-allocated) and appends
 * to rep: the product of explicit Jacobians, finite differences of J(x), the
 * closed form in plain loops, each against the VJP chain (cr_net_input_grad,
 * what `grad` runs), and the unfused head against the fused one. The net is a
 * plain classifier (softmax + cross-entropy on θ, y the one-hot label) or a
 * regressor (the squared-error head on o = θ or o = a(θ), y the targets t).
 */
typedef struct {
    double *vjp;       /* D: the VJP chain (reference) */
    double *jac;       /* D: the product of the explicit Jacobians */
    double *fd;        /* D: finite differences of J (Richardson) */
    double *closed;    /* D: the closed form */
    double *head_fused;   /* K: ŷ − y (a regressor: (o − t) ∘ a′(θ), or o − t) */
    double *head_unfused; /* K: (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) (a regressor: (o − t) · ∂o/∂θ) */
    double loss;
} cr_check_explain_out;

cr_status cr_check_explain(const cr_net *net64, const double *x, const double *y,
                           const cr_check_options *opt, cr_check_explain_out *out,
                           cr_check_report *rep);

/*
 * α-CROWN's closed-form gradient (cr_net_bound, CR_BOUND_ALPHA; docs/certification.md) against
 * central finite differences (Richardson, as gradcheck's): the spec rows [C; −C] (C: m x K) over
 * lo <= x <= hi, at parameters drawn inside their ranges (seed), without the rounding slack (the
 * bound is then a smooth function of the parameters away from sign switches). `samples`
 * (row, parameter) pairs are compared; a pair whose two difference quotients disagree (a kink
 * within 2h: a switch of sign or of the minimising corner) is counted non-smooth, not compared.
 * A pair fails when |analytic − fd| > 1e-6 (1 + |fd|) + 4 err (err: Richardson's estimate).
 */
typedef struct {
    size_t checked;   /* pairs compared */
    size_t nonsmooth; /* pairs skipped at a kink */
    size_t failed;    /* pairs that disagree */
    size_t nonzero;   /* compared pairs whose gradient is not 0 (against a vacuous pass) */
    double max_err;   /* the largest |analytic − fd| / (1 + |fd|) compared */
} cr_check_alpha_report;

cr_status cr_check_alpha_gradient(const cr_net *net, const double *lo, const double *hi, size_t m,
                                  const double *c, size_t samples, uint64_t seed,
                                  cr_check_alpha_report *rep);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_CHECK_H */
