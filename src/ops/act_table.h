/*
 * The activation op table (private to the core library: src/ops, src/net,
 * src/check).
 *
 * Every element-wise activation h = a(r) is one row of CR_ACT_ROWS below and
 * one op file, src/ops/NAME.tmpl.c, that holds the math in a comment and the
 * reference implementation of six functions, for float and double from one
 * source:
 *
 *   forward    h = a(r)
 *   deriv      d = a'(r), the diagonal of the Jacobian ∂h/∂r = diag(a'(r))
 *   vjp        g_r = g diag(a'(r)) = g ∘ a'(r)
 *   jvp        ḣ   = diag(a'(r)) ṙ = a'(r) ∘ ṙ
 *   jacobian   the explicit d × d matrix diag(a'(r))
 *   deriv2     a''(r), for what later ops need (second-order terms)
 *
 * Each takes r and h = a(r) of the same forward pass (an op reads whichever
 * it needs: the sigmoid's derivative is h(1 − h), ReLU's 1[r > 0]); the
 * output may be the same array as g or ṙ (in place).
 *
 * The chain never names an activation: it asks cr_act_f32(act) or
 * cr_act_f64(act) for the ops it runs. By default that is the reference row,
 * except where a fast kernel is a backend of its op: in float32 the sigmoid's
 * forward and VJP run the vectorised kernels of src/kernels/elementwise.c, which
 * pick their AVX-512, AVX2 or portable variant for the CPU at the first call
 * (act_table.c). gradcheck and the mutation tests reach exactly those
 * pointers, so a check of "the sigmoid VJP" checks the code that runs.
 *
 * To add an activation: write src/ops/NAME.tmpl.c with the six functions
 * (copy tanh.tmpl.c) and include it in act_table.tmpl.c; add its row here,
 * its enum value to cr_activation and its twelve prototypes to
 * include/chainrule_typed.h (test_act_table checks every row has them). Every
 * walk, command, check, name list, explain and ONNX import/export then has
 * it (see docs/chain.md).
 */
#ifndef CR_ACT_TABLE_H
#define CR_ACT_TABLE_H

#include <math.h>
#include <stddef.h>

#include "chainrule_typed.h"

/*
 * The rows. Everything a user sees of an activation is in its row:
 *
 *   X(enum value, op name, name, init,
 *     onnx_op, onnx_opset, onnx_alpha, onnx_pattern,
 *     symbol_text, symbol_tex, deriv_text, deriv_tex,
 *     oracle_h, oracle_d)
 *
 * op name     the prefix of the op file's functions, cr_NAME_forward_f32 ...
 *             cr_NAME_deriv2_f64 (an identifier: leaky_relu).
 * name        the name that cr_activation_name prints, cr_activation_parse
 *             reads, models store and every list of activations shows.
 * init        what CR_INIT_AUTO picks for the weights of a layer feeding it.
 * onnx_op     the ONNX op that is this activation (import, and export when
 *             onnx_opset <= the writer's opset), or NULL; onnx_opset the
 *             first opset that has it; onnx_alpha the value its `alpha`
 *             attribute must have (LeakyRelu), NAN when it has none.
 * onnx_pattern  how exporters write it as several nodes (cr_act_onnx_pattern
 *             in chainrule_typed.h: PyTorch's GELU as Div, Erf, Add, Mul, Mul; SiLU
 *             as Sigmoid then Mul), imported by the ONNX reader and, for
 *             CR_ACT_ONNX_SIGMOID_MUL, written by the writer.
 * symbol_*    explain's symbol, in text and LaTeX.
 * deriv_*     explain's a'(r) as the diagonal of the Jacobian, in text and
 *             LaTeX: {r} and {h} stand for the layer's pre- and
 *             post-activation names. NULL: explain writes SYMBOL'(r).
 * oracle_h/d  an independent float64 formula of a(r) and a'(r), in the
 *             variables r and h (h = oracle_h), expanded only by the check
 *             library (src/check/check_core.c), which uses it as the oracle,
 *             so a row is never checked against its own op file. (NAN) for
 *             a row without one: the check then reports it and fails.
 */
#define CR_ACT_ROWS(X)                                                                                                 \
    X(CR_ACT_SIGMOID, sigmoid, "sigmoid", CR_INIT_XAVIER, "Sigmoid", 1, NAN, CR_ACT_ONNX_NODE, "σ", "\\sigma",         \
      "{h}∘(1−{h})", "{h} \\circ (1 - {h})", (r >= 0 ? 1 / (1 + exp(-r)) : exp(r) / (1 + exp(r))), (h * (1 - h)))      \
    X(CR_ACT_TANH, tanh, "tanh", CR_INIT_XAVIER, "Tanh", 1, NAN, CR_ACT_ONNX_NODE, "tanh", "\\tanh", "(1−{h}∘{h})",    \
      "(1 - {h} \\circ {h})", (tanh(r)), (1 - h * h))                                                                  \
    X(CR_ACT_RELU, relu, "relu", CR_INIT_HE, "Relu", 1, NAN, CR_ACT_ONNX_NODE, "relu", "\\mathrm{relu}", "1[{r}>0]",   \
      "\\mathbb{1}[{r} > 0]", (r > 0 ? r : 0), (r > 0 ? 1 : 0))                                                        \
    X(CR_ACT_GELU, gelu, "gelu", CR_INIT_HE, "Gelu", 20, NAN, CR_ACT_ONNX_ERF, "gelu", "\\mathrm{gelu}",               \
      "(Φ({r})+{r}∘φ({r}))", "(\\Phi({r}) + {r} \\circ \\varphi({r}))", (0.5 * r * (1 + erf(r / sqrt(2.0)))),          \
      (0.5 * (1 + erf(r / sqrt(2.0))) + r * exp(-0.5 * r * r) / sqrt(2 * 3.14159265358979323846)))                     \
    X(CR_ACT_SOFTPLUS, softplus, "softplus", CR_INIT_HE, "Softplus", 1, NAN, CR_ACT_ONNX_NODE, "softplus",             \
      "\\mathrm{softplus}", "σ({r})", "\\sigma({r})", (r > 0 ? r + log1p(exp(-r)) : log1p(exp(r))),                    \
      (1 / (1 + exp(-r))))                                                                                             \
    X(CR_ACT_LEAKY_RELU, leaky_relu, "leaky-relu", CR_INIT_HE, "LeakyRelu", 1, 0.01, CR_ACT_ONNX_NODE, "lrelu",        \
      "\\mathrm{lrelu}", "(1[{r}>0]+0.01·1[{r}≤0])", "(\\mathbb{1}[{r} > 0] + 0.01\\,\\mathbb{1}[{r} \\le 0])",        \
      (r > 0 ? r : r / 100), (r > 0 ? 1 : 1 / 100.0))                                                                  \
    X(CR_ACT_SILU, silu, "silu", CR_INIT_HE, NULL, 0, NAN, CR_ACT_ONNX_SIGMOID_MUL, "silu", "\\mathrm{silu}",          \
      "(σ({r})∘(1+{r}∘(1−σ({r}))))", "(\\sigma({r}) \\circ (1 + {r} \\circ (1 - \\sigma({r}))))",                      \
      (r >= 0 ? r / (1 + exp(-r)) : r * exp(r) / (1 + exp(r))),                                                        \
      (r >= 0 ? (1 + exp(-r) + r * exp(-r)) / ((1 + exp(-r)) * (1 + exp(-r))) :                                        \
                exp(r) * (1 + exp(r) + r) / ((1 + exp(r)) * (1 + exp(r)))))

/* The functions of one activation for one scalar type (see above). */
typedef struct {
    void (*forward)(size_t count, const float *r, float *h);
    void (*deriv)(size_t count, const float *r, const float *h, float *d);
    void (*vjp)(size_t count, const float *r, const float *h, const float *g, float *gr);
    void (*jvp)(size_t count, const float *r, const float *h, const float *rd, float *hd);
    void (*jacobian)(size_t d, const float *r, const float *h, float *jac /* d x d */);
    void (*deriv2)(size_t count, const float *r, const float *h, float *d2);
    const char *backend; /* "reference", or the name of the fast kernel */
} cr_act_ops_f32;

typedef struct {
    void (*forward)(size_t count, const double *r, double *h);
    void (*deriv)(size_t count, const double *r, const double *h, double *d);
    void (*vjp)(size_t count, const double *r, const double *h, const double *g, double *gr);
    void (*jvp)(size_t count, const double *r, const double *h, const double *rd, double *hd);
    void (*jacobian)(size_t d, const double *r, const double *h, double *jac /* d x d */);
    void (*deriv2)(size_t count, const double *r, const double *h, double *d2);
    const char *backend;
} cr_act_ops_f64;

/* The bound relaxations of an activation (linear lower and upper bounds of
   a(r) over an interval, ops/relax.h): certification's slot in the row, filled
   from the op files (relu, sigmoid, tanh, softplus, leaky-relu); NULL for an
   activation without one (gelu, silu). */
struct cr_act_relax;

/* One row of the table: the activation, its name, its default initialisation,
   its ops for both scalar types, what a user sees of it, and the slot for
   bound relaxations. */
typedef struct {
    cr_activation act;
    const char *name;
    cr_init init; /* CR_INIT_XAVIER or CR_INIT_HE */
    const cr_act_ops_f32 *f32;
    const cr_act_ops_f64 *f64;
    cr_activation_info info;           /* ONNX form and explain notation (chainrule_typed.h) */
    const struct cr_act_relax *relax; /* NULL: no bound relaxation (ops/relax.h) */
} cr_act_entry;

/* The reference rows, defined by ops_f32.c / ops_f64.c from the op files. */
extern const cr_act_ops_f32 cr_act_reference_f32[CR_ACT_COUNT];
extern const cr_act_ops_f64 cr_act_reference_f64[CR_ACT_COUNT];

/* The rows the chain runs (act_table.c); read them through the functions below. */
extern cr_act_entry cr_act_table[CR_ACT_COUNT];

/* The entry the chain actually runs for act (its selected backends), or NULL
   for a value outside the enum. Borrowed, valid for the program's life. */
const cr_act_entry *cr_act_running(cr_activation act);
/* The entry of the op file's plain implementation (never replaced), or NULL. */
const cr_act_entry *cr_act_reference(cr_activation act);

/* The ops the float32 / float64 chain calls for act (act must be valid: the
   net constructor checks it). Inline: one load per layer. */
static inline const cr_act_ops_f32 *cr_act_f32(cr_activation act) {
    return cr_act_table[act].f32;
}
static inline const cr_act_ops_f64 *cr_act_f64(cr_activation act) {
    return cr_act_table[act].f64;
}

/*
 * Test hook (mutation tests): from now on the chain runs `ops` for act in
 * this dtype — every walk, input gradient, Jacobian mode, attack,
 * attribution and training step — until cr_act_restore. ops (a
 * cr_act_ops_f32 or cr_act_ops_f64, matching dtype) is borrowed and must stay
 * valid until then; every function pointer must be set. Typical use: copy
 * *cr_act_running(act)->f32, replace .vjp with a wrong one, install, check
 * that the checks catch it, restore. Not thread-safe: call it while no other
 * thread is inside the library. Returns CR_ERR_ARG for a bad act, dtype or
 * a NULL pointer in ops.
 */
cr_status cr_act_replace(cr_activation act, cr_dtype dtype, const void *ops);
/* Puts back the backend selected for the CPU (undoes cr_act_replace). */
void cr_act_restore(cr_activation act, cr_dtype dtype);
/* The same for the row's bound relaxation (planted unsound relaxations in
   tests/test_bound.c): borrowed until cr_act_restore_relax. */
cr_status cr_act_replace_relax(cr_activation act, const struct cr_act_relax *relax);
void cr_act_restore_relax(cr_activation act);

#endif
