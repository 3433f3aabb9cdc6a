/*
 * chainrule_typed.h — the typed and op-level API of the chainrule core library.
 *
 * include/chainrule.h is the main header: one function per operation, data in
 * the net's dtype as `const void *` / `void *`. This header adds, for callers
 * who want them, the functions behind it:
 *   - every numeric function twice, for float (_f32) and double (_f64), both
 *     generated from one source (src/ops/ *.tmpl.c, src/net/ *.tmpl.c) and
 *     declared here by their full names, the _f32 one first. Their
 *     definitions are found by the same names: a template defines
 *     CR_TYPED(cr_NAME_f32, cr_NAME_f64)(...) (src/ops/real.h). An _f32 call
 *     on a float64 net (or the other way round) returns CR_ERR_DTYPE;
 *   - the op-level functions: each op's forward, explicit Jacobian, VJP and
 *     JVP (src/ops/), the gemm, and the kernel sets.
 * The conventions of chainrule.h (row vectors, numerator layout, ownership,
 * cr_status) hold here too.
 */
#ifndef CHAINRULE_TYPED_H
#define CHAINRULE_TYPED_H

#include "chainrule.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Part of the shared library's ABI like chainrule.h (tests/lib_exports.sh). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---------------------------------------------------------------- gemm */

/*
 * C <- alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n. Goes through CBLAS when the
 * library was built with it (cr_have_cblas() == 1), a portable loop otherwise.
 */
void cr_gemm_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                 const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                 size_t ldc);
void cr_gemm_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                 const double *a, size_t lda, const double *b, size_t ldb, double beta,
                 double *c, size_t ldc);
int cr_have_cblas(void);
/* The context's BLAS policy (docs/api.md "Contexts") around op-level calls made from this
   thread (the tape functions and gemm take no context and otherwise find the BLAS as the
   process has it): from cr_ctx_blas_begin to cr_ctx_blas_end the BLAS runs ctx's threads
   (NULL: one) while no other context uses it. Begin returns the token to give end; pairs
   nest. Do not call it from inside a context's workers. */
int cr_ctx_blas_begin(cr_ctx *ctx);
void cr_ctx_blas_end(int token);

/* ---------------------------------------------------------------- kernel sets */

/* ---------------------------------------------------------------- kernel sets */
/*
 * chainrule's own float32 kernels (per-example SGD, the element-wise loops and
 * optimiser updates of training, the packed products with W_1 of the input
 * derivatives) exist once per instruction set: portable C, AVX2 + FMA and
 * AVX-512 (docs/kernels.md). One set is used for all of them. It is chosen
 * at the first call that needs it: the one the environment variable
 * CHAINRULE_ISA names ("portable", "avx2", "avx512") if this build and CPU
 * can run it, else the best they can run (the library never prints: an
 * unusable value is ignored; the command refuses it with exit status 2).
 * The portable set multiplies with W_1 through cr_gemm_f32 instead.
 */
typedef enum { CR_ISA_PORTABLE = 0, CR_ISA_AVX2 = 1, CR_ISA_AVX512 = 2 } cr_isa;
#define CR_ISA_COUNT 3

/* "portable", "avx2" or "avx512" (static); "unknown" for other values. */
const char *cr_isa_name(cr_isa isa);
/* CR_OK and *out set when name is one of the names above; CR_ERR_ARG otherwise. */
cr_status cr_isa_from_name(const char *name, cr_isa *out);
/* 1 if this build and CPU can run the set. */
int cr_isa_supported(cr_isa isa);
/* The best set this build and CPU can run. */
cr_isa cr_isa_best(void);
/* The set in use (making the choice described above if not made yet). */
cr_isa cr_isa_current(void);
/* Uses `isa` from now on; CR_ERR_ARG (and no change) if it is not supported.
   Call it while no other thread is inside the library. */
cr_status cr_isa_select(cr_isa isa);

/* ---------------------------------------------------------------- ops */

/* ---------------------------------------------------------------- ops */
/*
 * One file per op under src/ops/, each with forward, explicit Jacobian, VJP
 * and JVP side by side. Notation: g is the incoming row gradient dJ/d(out),
 * a dot (xd, rd) is a forward-mode tangent. Batched functions take N rows.
 * Per-example Jacobians are written into a dense row-major matrix.
 * Each function is declared twice, _f32 (float) and then _f64 (double), with
 * the same signature otherwise.
 */
/* linear: r = x W + b;  dr/dx = W^T (H x D);  VJP g W^T;  JVP xd W. */
void cr_linear_forward_f32(size_t n, size_t d, size_t h, const float *x, const float *w,
                           const float *b, float *r);
void cr_linear_forward_f64(size_t n, size_t d, size_t h, const double *x, const double *w,
                           const double *b, double *r);
void cr_linear_jacobian_f32(size_t d, size_t h, const float *w, float *jac /* h x d */);
void cr_linear_jacobian_f64(size_t d, size_t h, const double *w, double *jac /* h x d */);
void cr_linear_vjp_f32(size_t n, size_t d, size_t h, const float *w, const float *g,
                       float *gx /* n x d, overwritten */);
void cr_linear_vjp_f64(size_t n, size_t d, size_t h, const double *w, const double *g,
                       double *gx /* n x d, overwritten */);
void cr_linear_jvp_f32(size_t n, size_t d, size_t h, const float *w, const float *xd,
                       float *rd /* n x h */);
void cr_linear_jvp_f64(size_t n, size_t d, size_t h, const double *w, const double *xd,
                       double *rd /* n x h */);
/* dW += scale * X^T G (d x h), db += scale * colsum(G) (h): the parameter step
   W <- beta W + alpha X^T G, b <- beta b + alpha colsum(G) that the chain runs
   (src/ops/linear.tmpl.c), with alpha = scale and beta = 1. */
void cr_linear_param_grads_f32(size_t n, size_t d, size_t h, const float *x, const float *g,
                               float scale, float *dw, float *db);
void cr_linear_param_grads_f64(size_t n, size_t d, size_t h, const double *x, const double *g,
                               double scale, double *dw, double *db);

/*
 * affine: a per-feature affine link z = a ∘ x + c on rows of width d, kept in the
 * form its file states (src/ops/affine.tmpl.c), so that z is exactly that
 * arithmetic: SUB_DIV z = (x − p)/q (the input standardisation, ONNX Sub, Div),
 * SUB_MUL z = (x − p)·q, MUL_ADD z = x·p + q, BATCHNORM z = (x − p)/√(q + ε)·s + t
 * (inference mode: p mean, q var, s γ, t β), NONE z = x. Jacobian diag(a), a the
 * form's ∂z/∂x (1/q, q, p, s/√(q + ε), 1); VJP g ∘ a; JVP ẋ ∘ a. Vectors a form
 * does not use may be NULL. The VJP/JVP output may alias its input.
 */
typedef struct {
    cr_affine_form form;
    const float *p, *q, *s, *t; /* d each; s, t for BATCHNORM only */
    float eps;                  /* BATCHNORM only */
} cr_affine_f32;
typedef struct {
    cr_affine_form form;
    const double *p, *q, *s, *t;
    double eps;
} cr_affine_f64;

void cr_affine_forward_f32(const cr_affine_f32 *a, size_t n, size_t d, const float *x, float *z);
void cr_affine_forward_f64(const cr_affine_f64 *a, size_t n, size_t d, const double *x,
                           double *z);
void cr_affine_diag_f32(const cr_affine_f32 *a, size_t d, float *diag /* d: the a above */);
void cr_affine_diag_f64(const cr_affine_f64 *a, size_t d, double *diag);
void cr_affine_jacobian_f32(const cr_affine_f32 *a, size_t d, float *jac /* d x d */);
void cr_affine_jacobian_f64(const cr_affine_f64 *a, size_t d, double *jac /* d x d */);
void cr_affine_vjp_f32(const cr_affine_f32 *a, size_t n, size_t d, const float *g, float *gx);
void cr_affine_vjp_f64(const cr_affine_f64 *a, size_t n, size_t d, const double *g, double *gx);
void cr_affine_jvp_f32(const cr_affine_f32 *a, size_t n, size_t d, const float *xd, float *zd);
void cr_affine_jvp_f64(const cr_affine_f64 *a, size_t n, size_t d, const double *xd,
                       double *zd);

/* element-wise activations h = f(r). Jacobian diag(f'(r)), VJP g o f', JVP rd o f',
   deriv f'(r), deriv2 f''(r). Each takes both r and h = f(r) and uses whichever its
   derivative needs. The chain calls them through the op table (src/ops/act_table.h).
   Declared for every row of the table (test_act_table checks it). */
void cr_sigmoid_forward_f32(size_t count, const float *r, float *h);
void cr_sigmoid_forward_f64(size_t count, const double *r, double *h);
void cr_sigmoid_jacobian_f32(size_t d, const float *r, const float *h, float *jac /* d x d */);
void cr_sigmoid_jacobian_f64(size_t d, const double *r, const double *h, double *jac /* d x d */);
void cr_sigmoid_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_sigmoid_vjp_f64(size_t count, const double *r, const double *h, const double *g,
                        double *gr);
void cr_sigmoid_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_sigmoid_jvp_f64(size_t count, const double *r, const double *h, const double *rd,
                        double *hd);
void cr_sigmoid_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_sigmoid_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_sigmoid_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_sigmoid_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_tanh_forward_f32(size_t count, const float *r, float *h);
void cr_tanh_forward_f64(size_t count, const double *r, double *h);
void cr_tanh_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_tanh_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_tanh_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_tanh_vjp_f64(size_t count, const double *r, const double *h, const double *g, double *gr);
void cr_tanh_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_tanh_jvp_f64(size_t count, const double *r, const double *h, const double *rd, double *hd);
void cr_tanh_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_tanh_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_tanh_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_tanh_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_relu_forward_f32(size_t count, const float *r, float *h);
void cr_relu_forward_f64(size_t count, const double *r, double *h);
void cr_relu_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_relu_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_relu_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_relu_vjp_f64(size_t count, const double *r, const double *h, const double *g, double *gr);
void cr_relu_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_relu_jvp_f64(size_t count, const double *r, const double *h, const double *rd, double *hd);
void cr_relu_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_relu_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_relu_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_relu_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_gelu_forward_f32(size_t count, const float *r, float *h);
void cr_gelu_forward_f64(size_t count, const double *r, double *h);
void cr_gelu_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_gelu_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_gelu_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_gelu_vjp_f64(size_t count, const double *r, const double *h, const double *g, double *gr);
void cr_gelu_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_gelu_jvp_f64(size_t count, const double *r, const double *h, const double *rd, double *hd);
void cr_gelu_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_gelu_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_gelu_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_gelu_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_softplus_forward_f32(size_t count, const float *r, float *h);
void cr_softplus_forward_f64(size_t count, const double *r, double *h);
void cr_softplus_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_softplus_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_softplus_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_softplus_vjp_f64(size_t count, const double *r, const double *h, const double *g,
                         double *gr);
void cr_softplus_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_softplus_jvp_f64(size_t count, const double *r, const double *h, const double *rd,
                         double *hd);
void cr_softplus_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_softplus_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_softplus_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_softplus_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_leaky_relu_forward_f32(size_t count, const float *r, float *h);
void cr_leaky_relu_forward_f64(size_t count, const double *r, double *h);
void cr_leaky_relu_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_leaky_relu_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_leaky_relu_vjp_f32(size_t count, const float *r, const float *h, const float *g,
                           float *gr);
void cr_leaky_relu_vjp_f64(size_t count, const double *r, const double *h, const double *g,
                           double *gr);
void cr_leaky_relu_jvp_f32(size_t count, const float *r, const float *h, const float *rd,
                           float *hd);
void cr_leaky_relu_jvp_f64(size_t count, const double *r, const double *h, const double *rd,
                           double *hd);
void cr_leaky_relu_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_leaky_relu_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_leaky_relu_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_leaky_relu_deriv2_f64(size_t count, const double *r, const double *h, double *d2);
void cr_silu_forward_f32(size_t count, const float *r, float *h);
void cr_silu_forward_f64(size_t count, const double *r, double *h);
void cr_silu_jacobian_f32(size_t d, const float *r, const float *h, float *jac);
void cr_silu_jacobian_f64(size_t d, const double *r, const double *h, double *jac);
void cr_silu_vjp_f32(size_t count, const float *r, const float *h, const float *g, float *gr);
void cr_silu_vjp_f64(size_t count, const double *r, const double *h, const double *g, double *gr);
void cr_silu_jvp_f32(size_t count, const float *r, const float *h, const float *rd, float *hd);
void cr_silu_jvp_f64(size_t count, const double *r, const double *h, const double *rd, double *hd);
void cr_silu_deriv_f32(size_t count, const float *r, const float *h, float *d);
void cr_silu_deriv_f64(size_t count, const double *r, const double *h, double *d);
void cr_silu_deriv2_f32(size_t count, const float *r, const float *h, float *d2);
void cr_silu_deriv2_f64(size_t count, const double *r, const double *h, double *d2);

/* softmax per row: yhat = S(theta). Jacobian diag(yhat) - yhat^T yhat (K x K, full),
   VJP yhat o (g - <g, yhat>), JVP yhat o (td - <td, yhat>). */
void cr_softmax_forward_f32(size_t n, size_t k, const float *theta, float *yhat);
void cr_softmax_forward_f64(size_t n, size_t k, const double *theta, double *yhat);
void cr_log_softmax_forward_f32(size_t n, size_t k, const float *theta, float *logp);
void cr_log_softmax_forward_f64(size_t n, size_t k, const double *theta, double *logp);
void cr_softmax_jacobian_f32(size_t k, const float *yhat, float *jac /* k x k */);
void cr_softmax_jacobian_f64(size_t k, const double *yhat, double *jac /* k x k */);
void cr_softmax_vjp_f32(size_t n, size_t k, const float *yhat, const float *g, float *gtheta);
void cr_softmax_vjp_f64(size_t n, size_t k, const double *yhat, const double *g, double *gtheta);
void cr_softmax_jvp_f32(size_t n, size_t k, const float *yhat, const float *td, float *yd);
void cr_softmax_jvp_f64(size_t n, size_t k, const double *yhat, const double *td, double *yd);

/* cross-entropy per row (unfused): J = -sum y log yhat; dJ/dyhat = -(y / yhat). */
void cr_cross_entropy_forward_f32(size_t n, size_t k, const float *yhat, const float *y,
                                  float *loss /* n */);
void cr_cross_entropy_forward_f64(size_t n, size_t k, const double *yhat, const double *y,
                                  double *loss /* n */);
void cr_cross_entropy_jacobian_f32(size_t k, const float *yhat, const float *y,
                                   float *jac /* 1xk */);
void cr_cross_entropy_jacobian_f64(size_t k, const double *yhat, const double *y,
                                   double *jac /* 1xk */);
void cr_cross_entropy_vjp_f32(size_t n, size_t k, const float *yhat, const float *y,
                              const float *g /* n */, float *gyhat);
void cr_cross_entropy_vjp_f64(size_t n, size_t k, const double *yhat, const double *y,
                              const double *g /* n */, double *gyhat);

/* fused softmax + cross-entropy per row: J = (sum y) logsumexp(theta) - <y, theta>;
   dJ/dtheta = (sum y) yhat - y  (= yhat - y for one-hot y). Never log(0) or 0/0. */
void cr_softmax_ce_forward_f32(size_t n, size_t k, const float *theta, const float *y,
                               float *yhat /* n x k, may be NULL */, float *loss /* n */);
void cr_softmax_ce_forward_f64(size_t n, size_t k, const double *theta, const double *y,
                               double *yhat /* n x k, may be NULL */, double *loss /* n */);
void cr_softmax_ce_jacobian_f32(size_t k, const float *yhat, const float *y,
                                float *jac /* 1 x k */);
void cr_softmax_ce_jacobian_f64(size_t k, const double *yhat, const double *y,
                                double *jac /* 1 x k */);
void cr_softmax_ce_vjp_f32(size_t n, size_t k, const float *yhat, const float *y,
                           const float *g /* n, or NULL for all ones */, float *gtheta);
void cr_softmax_ce_vjp_f64(size_t n, size_t k, const double *yhat, const double *y,
                           const double *g /* n, or NULL for all ones */, double *gtheta);
/* its JVP: J̇ = <(Σy) ŷ − y, θ̇> per row. */
void cr_softmax_ce_jvp_f32(size_t n, size_t k, const float *yhat, const float *y, const float *td,
                           float *jd /* n */);
void cr_softmax_ce_jvp_f64(size_t n, size_t k, const double *yhat, const double *y,
                           const double *td, double *jd /* n */);

/* squared error per row, the regression head: J = ½ Σ_j (o_j − t_j)²; dJ/do = o − t
   (1 x k Jacobian), VJP g (o − t), JVP <o − t, ȯ>. */
void cr_squared_error_forward_f32(size_t n, size_t k, const float *o, const float *t,
                                  float *loss /* n */);
void cr_squared_error_forward_f64(size_t n, size_t k, const double *o, const double *t,
                                  double *loss /* n */);
void cr_squared_error_jacobian_f32(size_t k, const float *o, const float *t, float *jac /* 1 x k */);
void cr_squared_error_jacobian_f64(size_t k, const double *o, const double *t,
                                   double *jac /* 1 x k */);
void cr_squared_error_vjp_f32(size_t n, size_t k, const float *o, const float *t,
                              const float *g /* n, or NULL for all ones */, float *go);
void cr_squared_error_vjp_f64(size_t n, size_t k, const double *o, const double *t,
                              const double *g /* n, or NULL for all ones */, double *go);
void cr_squared_error_jvp_f32(size_t n, size_t k, const float *o, const float *t, const float *od,
                              float *jd /* n */);
void cr_squared_error_jvp_f64(size_t n, size_t k, const double *o, const double *t,
                              const double *od, double *jd /* n */);

/* ---------------------------------------------------------------- activations by enum value (the op table) */

/* How ONNX exporters write an activation as several nodes of x (its input). */
typedef enum {
    CR_ACT_ONNX_NODE = 0,    /* one node only: the row's onnx_op */
    CR_ACT_ONNX_ERF = 1,     /* x·½(1 + erf(x/√2)): Div(x, √2), Erf, Add(·, 1), Mul(x, ·),
                                Mul(·, 0.5) in any order of the operands (PyTorch's GELU) */
    CR_ACT_ONNX_SIGMOID_MUL = 2 /* Sigmoid(x), Mul(x, ·) (PyTorch's SiLU) */
} cr_act_onnx_pattern;

/*
 * What a user sees of an activation, from its row of the op table
 * (src/ops/act_table.h describes every field): its ONNX forms and explain's
 * notation. cr_activation_info_get returns the row's (borrowed, valid for the
 * program's life), or NULL for a value outside the enum.
 */
typedef struct {
    const char *name;                 /* as cr_activation_name */
    int init;                         /* the cr_init that CR_INIT_AUTO picks for it */
    const char *onnx_op;              /* the ONNX op that is this activation, or NULL */
    int onnx_opset;                   /* the first opset with onnx_op */
    double onnx_alpha;                /* the value onnx_op's alpha must have; NaN: no alpha */
    cr_act_onnx_pattern onnx_pattern; /* how exporters write it as several nodes */
    const char *symbol_text, *symbol_tex; /* "σ", "\\sigma" */
    /* a'(r) as explain writes it, {r} and {h} for the layer's names; NULL: none */
    const char *deriv_text, *deriv_tex;
} cr_activation_info;
const cr_activation_info *cr_activation_info_get(cr_activation act);

/*
 * Any activation by its enum value, exactly as the network's chain runs it
 * (the op table's row, with the fast kernels the CPU selected): h = a(r),
 * d = a'(r), the VJP g ∘ a'(r), the JVP a'(r) ∘ rd, and the d × d Jacobian
 * diag(a'(r)). h is a(r) of the same r; the output may alias g or rd. act
 * must be a valid cr_activation.
 */
void cr_activation_forward_f32(cr_activation act, size_t count, const float *r, float *h);
void cr_activation_forward_f64(cr_activation act, size_t count, const double *r, double *h);
void cr_activation_deriv_f32(cr_activation act, size_t count, const float *r, const float *h,
                             float *d);
void cr_activation_deriv_f64(cr_activation act, size_t count, const double *r, const double *h,
                             double *d);
void cr_activation_vjp_f32(cr_activation act, size_t count, const float *r, const float *h,
                           const float *g, float *gr);
void cr_activation_vjp_f64(cr_activation act, size_t count, const double *r, const double *h,
                           const double *g, double *gr);
void cr_activation_jvp_f32(cr_activation act, size_t count, const float *r, const float *h,
                           const float *rd, float *hd);
void cr_activation_jvp_f64(cr_activation act, size_t count, const double *r, const double *h,
                           const double *rd, double *hd);
void cr_activation_jacobian_f32(cr_activation act, size_t d, const float *r, const float *h,
                                float *jac /* d x d */);
void cr_activation_jacobian_f64(cr_activation act, size_t d, const double *r, const double *h,
                                double *jac /* d x d */);

/* ---------------------------------------------------------------- typed views of a net's affine links */

cr_status cr_net_affine_f32(const cr_net *net, int link, cr_affine_f32 *view);
cr_status cr_net_affine_f64(const cr_net *net, int link, cr_affine_f64 *view);

/* ---------------------------------------------------------------- the typed network functions */

/*
 * The typed network functions. X is N x D, Y is N x K targets (one-hot or any
 * rows summing to 1; see cr_onehot_*), all of the net's dtype.
 *
 * With the squared-error head Y is N x K float targets t instead.
 *
 * forward:  fills tape (keeps a borrowed pointer to X until the next forward).
 * loss:     per-example losses of the head (fused softmax+CE on o, or ½‖o − t‖²)
 *           into cr_tape_loss(tape); returns mean (NaN if the tape holds no forward pass
 *           of this net).
 * backward: chain of VJPs from dJ/do = yhat - y (or o - t), through the output
 *           activation's VJP when there is one, back to the input.
 *           dx (N x D, may be NULL) receives dJ_n/dx_n per example;
 *           grads (n_params, may be NULL) receives d(mean J)/d(params) in the
 *           same flat layout as cr_net_params(net) (overwritten, not accumulated).
 * vjp:      reverse mode from any cotangent on the output o ("logits": o = θ
 *           without an output activation): dx (N x D) <- G_o (N x K) pulled back
 *           through the chain (no softmax, no loss). With G_o = e_c it gives the
 *           gradient of output c.
 * jvp:      forward-mode: given tangent XD (N x D) writes d(outputs o) and/or
 *           d(probs) (N x K, either may be NULL; probs only for the softmax head,
 *           else CR_ERR_ARG). Needs a prior forward.
 * input_jacobian_chain: for row i of the last forward pass, the K x D Jacobian
 *           of the probabilities (of_probs=1, softmax head only, else CR_ERR_ARG)
 *           or outputs o (0) w.r.t. x, formed by
 *           multiplying the explicit per-op Jacobians (no VJPs). Allocates
 *           its scratch; returns CR_ERR_NOMEM on failure.
 * Errors: CR_ERR_DTYPE when the net or the tape is not of the function's dtype;
 * CR_ERR_ARG for a NULL argument, n = 0, a tape of another net, or no forward
 * pass yet; CR_ERR_SHAPE for n > cr_tape_max_batch(tape) or a row i >= cr_tape_rows(tape).
 */
cr_status cr_net_forward_f32(const cr_net *net, cr_tape *tape, size_t n, const float *x);
cr_status cr_net_forward_f64(const cr_net *net, cr_tape *tape, size_t n, const double *x);
float cr_net_loss_f32(const cr_net *net, cr_tape *tape, const float *y);
double cr_net_loss_f64(const cr_net *net, cr_tape *tape, const double *y);
cr_status cr_net_backward_f32(const cr_net *net, cr_tape *tape, const float *y, float *dx,
                              float *grads);
cr_status cr_net_backward_f64(const cr_net *net, cr_tape *tape, const double *y, double *dx,
                              double *grads);
cr_status cr_net_vjp_f32(const cr_net *net, cr_tape *tape, const float *g_logits, float *dx);
cr_status cr_net_vjp_f64(const cr_net *net, cr_tape *tape, const double *g_logits, double *dx);
cr_status cr_net_jvp_f32(const cr_net *net, cr_tape *tape, const float *xd, float *logits_dot,
                         float *probs_dot);
cr_status cr_net_jvp_f64(const cr_net *net, cr_tape *tape, const double *xd, double *logits_dot,
                         double *probs_dot);
cr_status cr_net_input_jacobian_chain_f32(const cr_net *net, const cr_tape *tape, size_t i,
                                          int of_probs, float *jac);
cr_status cr_net_input_jacobian_chain_f64(const cr_net *net, const cr_tape *tape, size_t i,
                                          int of_probs, double *jac);
/* one-hot rows from class indices; returns CR_ERR_ARG for a label outside [0, k). */
cr_status cr_onehot_f32(size_t n, size_t k, const cr_label *labels, float *y);
cr_status cr_onehot_f64(size_t n, size_t k, const cr_label *labels, double *y);

/* Typed views of a net's parameters (NULL when the dtype does not match). */
float *cr_net_params_f32(cr_net *net);
double *cr_net_params_f64(cr_net *net);

/* ---------------------------------------------------------------- training, typed */

/* One step: params <- update(params, grads) with lr = cr_optim_lr(cfg, step); step++. */
cr_status cr_optim_step_f32(cr_optim *opt, float *params, const float *grads);
cr_status cr_optim_step_f64(cr_optim *opt, double *params, const double *grads);

/* Fisher-Yates shuffle of perm[0..n) driven by rng (reproducible everywhere). */
void cr_shuffle_u32(cr_rng *rng, size_t n, uint32_t *perm);

/*
 * One optimiser step on the batch x (n x D, contiguous) with class labels.
 * Forward, fused softmax+CE, backward, update. Plain SGD (with or without
 * weight decay) is fused into the gemms (W <- (1 - lr wd) W - (lr/n) Xᵀ G, no
 * gradient block); the other optimisers go through the workspace's gradient block and
 * cr_optim_step_f32. Adds the batch's summed loss to *loss_sum and its
 * number of correct argmax predictions to *correct (either may be NULL).
 * Returns CR_ERR_ARG for a label outside [0, K), CR_ERR_NONFINITE if NaN or
 * Inf appears in the forward pass (cr_train_ws_fault_layer(ws) names the first layer whose
 * outputs r_l are not finite; the step is then not taken). Parameters that an
 * update makes non-finite are caught by the next step's forward pass (every
 * parameter of a layer feeds every row of r_l, and 0 * inf = NaN) and by
 * cr_train_epoch_f32's check of the whole block at the end of each epoch; the
 * parameters are then garbage: keep the last checkpoint.
 */
cr_status cr_train_step_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                            const float *x, const cr_label *labels, double *loss_sum,
                            size_t *correct);
/*
 * The per-example SGD path (batch 1, plain SGD, no weight decay): one loop per
 * layer over the nonzero inputs (a sparse row update), no gemm, no per-call
 * set-up. Same mathematics as cr_train_step_f32 with n = 1.
 */
cr_status cr_train_sgd1_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, const float *x,
                            cr_label label, double *loss_sum, size_t *correct);

/*
 * One epoch over n examples x (n x D) / labels: perm <- identity, shuffled
 * with rng, then batches of `batch` (the last one smaller) gathered into
 * the workspace and stepped; batch 1 with plain SGD and no weight decay takes the
 * per-example path. stats is zeroed first. progress may be NULL.
 */
cr_status cr_train_epoch_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const cr_label *labels, size_t batch, cr_rng *rng,
                             cr_train_stats *stats, cr_train_progress_fn progress,
                             size_t every, void *user);

/*
 * Evaluation in batches of the tape's max_batch: the summed loss and the correct
 * count added to *loss_sum and *correct (either may be NULL), and (if confusion !=
 * NULL) the K x K confusion matrix [true][predicted] accumulated (not zeroed); probs
 * (n x K, may be NULL) receives the probabilities. labels may be NULL (probabilities
 * only). The net must have the softmax + CE head (CR_ERR_ARG), net and tape the
 * function's dtype (CR_ERR_DTYPE). cr_evaluate_f64 (added after 0.2.0) evaluates a float64
 * net in double from the same source.
 */
cr_status cr_evaluate_f32(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n, const float *x,
                          const cr_label *labels, double *loss_sum, size_t *correct,
                          uint64_t *confusion, float *probs);
cr_status cr_evaluate_f64(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n, const double *x,
                          const cr_label *labels, double *loss_sum, size_t *correct,
                          uint64_t *confusion, double *probs);

/* ---------------------------------------------------------------- input derivatives, typed */

/* jac (n x K x D): Jacobian of probabilities (of_probs) or logits w.r.t. each row of x. */
cr_status cr_net_input_jacobian_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, int of_probs,
                                    cr_jac_mode mode, float *jac);
cr_status cr_net_input_jacobian_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, int of_probs,
                                    cr_jac_mode mode, double *jac);
/* dJ_i/dx_i of J_i = CE(softmax(f(x_i)), labels_i) for every row (N x D): the input
   gradient of a classifier (labels in [0, K); loss: the N J_i, may be NULL). */
cr_status cr_net_input_grad_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const cr_label *labels,
                                float *dx, float *loss);
cr_status cr_net_input_grad_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const cr_label *labels,
                                double *dx, double *loss);
/* The same for N x K targets y: one-hot or soft labels (J_i = −Σ y_i log ŷ_i), or the
   squared-error head's targets t (J_i = ½‖o_i − t_i‖²). cr_net_input_grad_targets
   dispatches on the net's dtype (x, y, dx, loss in it). */
cr_status cr_net_input_grad_targets_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const float *y,
                                        float *dx, float *loss);
cr_status cr_net_input_grad_targets_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const double *y,
                                        double *dx, double *loss);
cr_status cr_net_input_grad_targets(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const void *y,
                                    void *dx, void *loss);
/* Gradient of the score of class cls[i] at row i (N x D), and the scores (may be NULL). */
cr_status cr_net_class_grad_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const cr_label *cls,
                                int of_probs, float *grad, float *score);
cr_status cr_net_class_grad_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const cr_label *cls,
                                int of_probs, double *grad, double *score);
cr_status cr_attribute_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const cr_label *cls,
                           const cr_attr_options *opt, float *attr /* n x D */,
                           cr_attr_report *report /* may be NULL */);
cr_status cr_attribute_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const cr_label *cls,
                           const cr_attr_options *opt, double *attr /* n x D */,
                           cr_attr_report *report /* may be NULL */);
/* x_adv (n x D) from x with labels; target NULL (untargeted) or n target classes. */
cr_status cr_attack_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const cr_label *labels,
                        const cr_label *target, const cr_attack_options *opt, float *x_adv,
                        cr_attack_stats *stats /* may be NULL */);
cr_status cr_attack_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const cr_label *labels,
                        const cr_label *target, const cr_attack_options *opt, double *x_adv,
                        cr_attack_stats *stats /* may be NULL */);
/* A regressor (the squared-error head): x_adv raises J = ½‖o − t‖², t the n x K
   targets; the same FGSM/PGD steps from ∂J/∂o = o − t. stats: n and the losses and
   distances (no accuracy: correct_* and hit_target stay 0). CR_ERR_ARG for a net
   with another head. */
cr_status cr_attack_regress_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const float *t,
                                const cr_attack_options *opt, float *x_adv,
                                cr_attack_stats *stats /* may be NULL */);
cr_status cr_attack_regress_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const double *t,
                                const cr_attack_options *opt, double *x_adv,
                                cr_attack_stats *stats /* may be NULL */);

/* ---------------------------------------------------------------- utilities */

/* Checked size arithmetic: *out = a * b; CR_OK, or CR_ERR_OVERFLOW (*out unchanged). */
cr_status cr_mul_size(size_t a, size_t b, size_t *out);
/* The generator behind cr_rng_seed (chainrule.h): raw 64 bits, uniform, normal, below n. */
uint64_t cr_rng_next(cr_rng *rng);
double cr_rng_uniform(cr_rng *rng);        /* in [0, 1) */
double cr_rng_normal(cr_rng *rng);         /* standard normal (Box-Muller) */
uint64_t cr_rng_below(cr_rng *rng, uint64_t n); /* uniform in [0, n), n > 0 */


/* ---------------------------------------------------------------- names and lists */

const char *cr_affine_form_name(cr_affine_form form); /* "sub-div", ... "none" */
/*
 * Writes every activation's name, in enum order, to buf (a C string of at
 * most size bytes, cut if longer), separated by sep, with last_sep before the
 * last one ("sigmoid, tanh, relu or gelu" for ", " and " or "). Returns the
 * length the whole list needs (as snprintf). For help and error messages.
 */
size_t cr_activation_list_names(char *buf, size_t size, const char *sep, const char *last_sep);
const char *cr_optimizer_name(cr_optimizer kind); /* "sgd", "momentum", "nesterov", "adam" */
cr_status cr_optimizer_parse(const char *name, cr_optimizer *out); /* CR_ERR_ARG: unknown */
const char *cr_schedule_name(cr_schedule s);                /* "constant", "step", "cosine" */
cr_status cr_schedule_parse(const char *name, cr_schedule *out);
/* The mode `auto` resolves to for K outputs and D inputs. */
cr_jac_mode cr_jac_mode_resolve(cr_jac_mode mode, size_t k, size_t d);


/* ---------------------------------------------------------------- optimiser details */

/* The learning rate used by step number `step` (0-based). */
double cr_optim_lr(const cr_optim_config *cfg, uint64_t step);
/* Number of state vectors of n_params each: 0 (sgd), 1 (momentum), 2 (adam). */
int cr_optim_n_state(cr_optimizer kind);


/* ---------------------------------------------------------------- the net's output and links in detail */

/* 1 when the net is today's classifier: no output activation, the softmax + CE head
   (what training, attacks and cr_evaluate_f32 take). */
int cr_net_is_plain_classifier(const cr_net *net);
/* Predicates (docs/api.md, "Errors": they cannot fail and write no cr_last_error line).
   cr_net_hidden_activation: 1 and the activation after hidden layer l in *act when
   0 <= l < n_layers - 1; 0 for another l, a NULL net or a NULL act (*act untouched).
   cr_net_output_activation: 1 and *act (act may be NULL) when the output is o = a_out(θ);
   0 when o = θ or net is NULL. */
int cr_net_hidden_activation(const cr_net *net, int l, cr_activation *act);
int cr_net_output_activation(const cr_net *net, cr_activation *act);
/*
 * The affine links (see cr_net). link 0: the input link; link l + 1: after
 * linear layer l (l < n_layers). Its width: dims[0] for link 0, dims[l + 1] after.
 * cr_net_set_affine stores the form and the vectors it uses (p, q; s, t and eps for
 * BATCHNORM; NULL for the others) in the net's dtype: a float32 net rounds a double
 * to float, so pass float values for an exact float32 link. CR_AFFINE_NONE clears
 * the link. CR_ERR_ARG for a bad link, form, missing vector, non-finite value, a
 * zero divisor (SUB_DIV q), or q + eps <= 0 / eps < 0 (BATCHNORM).
 * cr_net_set_input_affine(net, form, p, q) is link 0 (not BATCHNORM).
 * cr_net_affine_f32/_f64 fill a view of link k for the op functions (CR_ERR_DTYPE
 * for the other dtype); cr_net_get_affine copies the form, the vectors (as double,
 * each output may be NULL) and eps.
 */
size_t cr_net_link_width(const cr_net *net, int link);
cr_status cr_net_set_affine(cr_net *net, int link, cr_affine_form form, const double *p,
                            const double *q, const double *s, const double *t, double eps);
cr_affine_form cr_net_affine_form(const cr_net *net, int link); /* NONE for a bad link */
cr_status cr_net_get_affine(const cr_net *net, int link, cr_affine_form *form, double *p,
                            double *q, double *s, double *t, double *eps);


/* ---------------------------------------------------------------- option and statistics structs by name (for bindings) */

/*
 * The option and statistics structs of the library by name: "cr_attack_options",
 * "cr_attack_stats", "cr_attr_options", "cr_check_options", "cr_check_report",
 * "cr_check_result", "cr_bound_options", "cr_certify_options" (its bound.method as "method"),
 * "cr_certify_result". cr_struct_new allocates one with its defaults
 * (cr_check_options_default; a cr_check_report initialised; the others zero, lo = 0, hi = 1
 * for an attack) and returns NULL for an unknown name or no memory; cr_struct_free frees it
 * (a cr_check_report's items too). cr_struct_set / cr_struct_get write / read one numeric
 * field by its C name (enums, ints and sizes as numbers; a cr_attr_options' "baseline" is
 * not settable this way: see cr_attr_options_set_baseline); CR_ERR_ARG for an unknown type
 * or field, or a value the field cannot hold (a negative or fractional size, say).
 * cr_struct_get_string reads a char-array field ("op", "what" of a cr_check_result) or a
 * string pointer ("proved_by" of a cr_certify_result; NULL when unset), NULL for another. cr_check_report_item: the report's item i, NULL past the end.
 */
void *cr_struct_new(const char *type);
void cr_struct_free(const char *type, void *obj);
cr_status cr_struct_set(const char *type, void *obj, const char *field, double value);
cr_status cr_struct_get(const char *type, const void *obj, const char *field, double *value);
const char *cr_struct_get_string(const char *type, const void *obj, const char *field);
/* The baseline of integrated gradients: D values of the net's dtype, borrowed (NULL: zeros). */
void cr_attr_options_set_baseline(cr_attr_options *opt, const void *baseline);


/* ---------------------------------------------------------------- more accessors of the handles
 * As chainrule.h's (src/net/net_access.c): views valid until the handle is freed. */
/* The scalar offset of W_l / b_l in the parameter block (0 for a bad l). */
size_t cr_net_weight_offset(const cr_net *net, int l);
size_t cr_net_bias_offset(const cr_net *net, int l);
/* A view of the vector k (0 p, 1 q, 2 s, 3 t: see cr_net_set_affine) of affine link `link`,
   cr_net_link_width scalars in the net's dtype, as stored (NULL for a bad link or k), and the
   link's eps (BATCHNORM; 0 for the others or a bad link). */
const void *cr_net_link_vector(const cr_net *net, int link, int k);
double cr_net_link_eps(const cr_net *net, int link);
/* What linear layer 0 read in the last forward pass when the net has an input link: z =
   link_0(x), rows x D; NULL when the net it was made for has no input link. */
const void *cr_tape_input_link(const cr_tape *tape);
/* The tape's capacity in rows, and the views of its last forward pass, rows x width in
   the tape's dtype: pre(l) = r_l and post(l) = h_l (0 <= l < n_layers, NULL otherwise);
   the logits pre(L-1) = θ; the input X of the last forward pass (borrowed from its
   caller). */
size_t cr_tape_max_batch(const cr_tape *tape);
const void *cr_tape_pre(const cr_tape *tape, int l);
const void *cr_tape_post(const cr_tape *tape, int l);
const void *cr_tape_logits(const cr_tape *tape);
const void *cr_tape_input(const cr_tape *tape);
/* The workspace's batch capacity and its workers (1 or 2, cr_train_ws_set_threads). */
size_t cr_train_ws_max_batch(const cr_train_ws *ws);
int cr_train_ws_threads(const cr_train_ws *ws);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_TYPED_H */
