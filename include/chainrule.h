/*
 * chainrule.h — the public API of the chainrule core library.
 *
 * The core computes forward passes and derivatives of small neural networks
 *
 *     x -> r1 = x W1 + b1 -> h1 = act(r1) -> ... -> theta = h W_L + b_L
 *       -> yhat = softmax(theta) -> J = -sum_i y_i log yhat_i
 *
 * and above all the gradient of the loss with respect to the input x.
 *
 * Conventions (see docs/design.md):
 *   - Row vectors. A batch is an N x D row-major matrix whose rows are examples.
 *   - Inside the library a linear layer's weight W is stored D_in x D_out
 *     (row convention: r = x W + b). Files store PyTorch's [out, in] = W^T;
 *     the io layer transposes.
 *   - Jacobians are in numerator layout: one row per output, one column per input.
 *   - The loss of a batch is the MEAN of the per-example losses; parameter
 *     gradients are of that mean. The input gradient for example n is
 *     dJ_n/dx_n, the gradient of that example's own loss.
 *   - Every numeric function exists for float (_f32) and double (_f64), both
 *     generated from one source (src/ops/ *.tmpl.c, src/net/ *.tmpl.c), and
 *     both are declared here by their full names, the _f32 one first. Their
 *     definitions are found by the same names: a template defines
 *     CR_TYPED(cr_NAME_f32, cr_NAME_f64)(...) (src/ops/real.h).
 *
 * Ownership: every pointer argument is borrowed for the duration of the call
 * unless a comment says otherwise. Objects returned through `**out` are owned
 * by the caller and freed with the matching _free function. Errors are
 * returned as cr_status; the library never prints.
 *
 * Dependencies: libc, libm and optionally CBLAS.
 */
#ifndef CHAINRULE_H
#define CHAINRULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every declaration below is part of the shared library's ABI: the library is
   built with -fvisibility=hidden and exports exactly what its public headers
   declare (tests/lib_exports.sh checks this with nm -D). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define CR_VERSION_STRING "0.1.0"
#define CR_MAX_LAYERS 16 /* linear layers in one network */

/* ---------------------------------------------------------------- status */

typedef enum {
    CR_OK = 0,
    CR_ERR_NOMEM,     /* an allocation failed */
    CR_ERR_ARG,       /* an argument is invalid: NULL, a zero count or size (n = 0 rows,
                         a zero width, max_batch or batch 0), a bad enum or option value,
                         a label or class out of range, a tape of another net */
    CR_ERR_SHAPE,     /* shapes do not fit together: more rows than a tape or workspace
                         holds, a row index past the last forward pass */
    CR_ERR_OVERFLOW,  /* a size computation would overflow */
    CR_ERR_NONFINITE, /* NaN or Inf where a finite number is required */
    CR_ERR_DTYPE      /* the net, tape or optimiser is not of the function's dtype (an
                         _f32 call on a float64 net), or the dtype is not supported */
} cr_status;

/* A short static English description of a status ("out of memory", ...). */
const char *cr_status_string(cr_status status);

/* ---------------------------------------------------------------- dtypes */

typedef enum { CR_F32 = 0, CR_F64 = 1 } cr_dtype;

/* Size in bytes of one scalar of this dtype (4 or 8). */
size_t cr_dtype_size(cr_dtype dtype);
const char *cr_dtype_name(cr_dtype dtype); /* "float32" / "float64" */

/* Checked size arithmetic: *out = a * b; returns 0 on overflow, 1 on success. */
int cr_mul_size(size_t a, size_t b, size_t *out);

/* ---------------------------------------------------------------- random */

/* xoshiro256** seeded with splitmix64: fast, reproducible on every platform. */
typedef struct {
    uint64_t s[4];
} cr_rng;

void cr_rng_seed(cr_rng *rng, uint64_t seed);
uint64_t cr_rng_next(cr_rng *rng);
double cr_rng_uniform(cr_rng *rng);        /* in [0, 1) */
double cr_rng_normal(cr_rng *rng);         /* standard normal (Box-Muller) */
uint64_t cr_rng_below(cr_rng *rng, uint64_t n); /* uniform in [0, n), n > 0 */

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
/* ---------------------------------------------------------------- context */
/*
 * A context owns the library's workers and its policy for the BLAS (docs/api.md
 * "Contexts"). Every function that spreads work over threads takes one as its
 * first argument: the input derivatives (gradients, Jacobians, attributions,
 * attacks), training and evaluation, the bounds, branch and bound and certify.
 * NULL stands for a default context of one thread (everything on the calling
 * thread). Results never depend on the context: the work is cut into chunks
 * fixed by the problem, not by the thread count (training's own second worker,
 * cr_train_ws_set_threads, is the one documented exception).
 *
 * The BLAS: OpenBLAS's thread count is one number for the whole process, so
 * the context's workers call the BLAS single-threaded (the count is held at 1
 * while any context's workers run), and only gemms a context runs from the
 * calling thread alone (evaluation; a training step with one worker) may use
 * the context's threads, while no other context uses the BLAS (such a call
 * waits for the others and they wait for it). So two contexts used at once
 * from two threads each give the results they give alone, bit for bit. A
 * context may be used by several threads at once; it must outlive the calls.
 */
typedef struct cr_ctx cr_ctx;
/* threads >= 1 workers, or 0: the cores available to this process (its CPU
   affinity, at most its cgroup's CPU quota). CR_ERR_ARG for threads < 0 or
   out == NULL, CR_ERR_NOMEM. */
cr_status cr_ctx_create(cr_ctx **out, int threads);
void cr_ctx_free(cr_ctx *ctx); /* NULL-safe */
/* The context's thread count (1 for NULL). */
int cr_ctx_threads(const cr_ctx *ctx);

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
/* 1 and *out set when name is one of the names above; 0 otherwise. */
int cr_isa_from_name(const char *name, cr_isa *out);
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
typedef enum {
    CR_AFFINE_NONE = 0,
    CR_AFFINE_SUB_DIV = 1,
    CR_AFFINE_SUB_MUL = 2,
    CR_AFFINE_MUL_ADD = 3,
    CR_AFFINE_BATCHNORM = 4,
    CR_AFFINE_FORM_COUNT
} cr_affine_form;

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

const char *cr_affine_form_name(cr_affine_form form); /* "sub-div", ... "none" */
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

/* ---------------------------------------------------------------- network */

typedef enum {
    CR_ACT_SIGMOID = 0,
    CR_ACT_TANH = 1,
    CR_ACT_RELU = 2,
    CR_ACT_GELU = 3, /* r Φ(r), the exact (erf) form */
    CR_ACT_SOFTPLUS = 4, /* ln(1 + e^r) */
    CR_ACT_LEAKY_RELU = 5, /* r for r > 0, 0.01 r otherwise ("leaky-relu") */
    CR_ACT_SILU = 6, /* r σ(r) */
    CR_ACT_COUNT
} cr_activation;

/* The activation's name ("sigmoid", ...: cr_activation_list_names lists them). */
const char *cr_activation_name(cr_activation act);
/* Parses a name; returns 1 and sets *out on success, 0 for an unknown name. */
int cr_activation_parse(const char *name, cr_activation *out);
/*
 * Writes every activation's name, in enum order, to buf (a C string of at
 * most size bytes, cut if longer), separated by sep, with last_sep before the
 * last one ("sigmoid, tanh, relu or gelu" for ", " and " or "). Returns the
 * length the whole list needs (as snprintf). For help and error messages.
 */
size_t cr_activation_list_names(char *buf, size_t size, const char *sep, const char *last_sep);

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

/*
 * The head: what the loss does with the network's output o (N x K).
 *   CR_HEAD_SOFTMAX_CE     (default) a classifier: ŷ = softmax(o), J_n = CE(ŷ_n, y_n),
 *                          y one-hot or soft labels; ∂J/∂o = (Σy) ŷ − y.
 *   CR_HEAD_SQUARED_ERROR  a regressor: the prediction is o itself, J_n = ½‖o_n − t_n‖²
 *                          with N x K float targets t; ∂J/∂o = o − t.
 */
typedef enum {
    CR_HEAD_SOFTMAX_CE = 0,
    CR_HEAD_SQUARED_ERROR = 1,
    CR_HEAD_COUNT
} cr_head;

const char *cr_head_name(cr_head head); /* "softmax-cross-entropy", "squared-error" */
/* Parses a name; returns 1 and sets *out on success, 0 for an unknown name. */
int cr_head_parse(const char *name, cr_head *out);

/*
 * A network: L linear layers, dims[0] = D (input) ... dims[L] = K (outputs),
 * activation act[l] after linear layer l for l < L-1; after the last,
 * θ = h W_L + b_L, the output o = out_act(θ) (or θ itself) and the head on o:
 *
 *     x -> ... -> θ = h W_L + b_L -> o = a_out(θ) -> head (softmax + CE, or ½‖o − t‖²)
 *
 * All parameters live in one flat block `params` (dtype `dtype`) so that
 * zeroing, optimiser steps, saving and finite-difference sweeps are single
 * loops. Layer l's views: W_l at params + w_offset[l] (dims[l] x dims[l+1],
 * row-major), b_l at params + b_offset[l] (dims[l+1]); offsets in scalars.
 * One allocation holds the struct and the parameters (free with cr_net_free).
 */
typedef struct cr_net {
    cr_dtype dtype;
    int n_layers;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation act[CR_MAX_LAYERS];
    size_t w_offset[CR_MAX_LAYERS];
    size_t b_offset[CR_MAX_LAYERS];
    size_t n_params;
    void *params; /* points into the same allocation */
    /* The output and the head (zero: today's classifier, o = θ and softmax + CE).
       Set them with cr_net_set_output; cr_net_create leaves them zero. */
    int has_out_act;      /* 1: o = out_act(θ); 0: o = θ */
    cr_activation out_act; /* the output activation when has_out_act */
    cr_head head;          /* what the loss does with o */
    /* The affine links (src/ops/affine.tmpl.c), set with cr_net_set_affine; all
       CR_AFFINE_NONE from cr_net_create. Link 0 acts on the input x before linear
       layer 0 (the input standardisation: derivatives are w.r.t. the raw x);
       link l + 1 on r_l, after linear layer l and before its activation (BatchNorm
       in inference mode). Link k's vectors p, q, s, t (dtype `dtype`, width
       cr_net_link_width) are at link_params + link_offset[k] + {0, 1, 2, 3}·width,
       in the same allocation. They are not parameters: not in params / n_params,
       so training, optimisers and gradient blocks leave them fixed. */
    cr_affine_form link_form[CR_MAX_LAYERS + 1];
    double link_eps[CR_MAX_LAYERS + 1];
    size_t link_offset[CR_MAX_LAYERS + 1];
    void *link_params;
} cr_net;

cr_status cr_net_create(cr_net **out, cr_dtype dtype, int n_layers, const size_t *dims,
                        const cr_activation *act /* n_layers - 1 entries */);
void cr_net_free(cr_net *net);
/* Sets the output activation (has_act 0: o = θ) and the head. CR_ERR_ARG for an
   invalid activation or head. */
cr_status cr_net_set_output(cr_net *net, int has_act, cr_activation act, cr_head head);
/* 1 when the net is today's classifier: no output activation, the softmax + CE head
   (what training, attacks and cr_evaluate_f32 take). */
int cr_net_is_plain_classifier(const cr_net *net);
/* A copy of net converted to dtype (float64 <-> float32). */
cr_status cr_net_convert(const cr_net *net, cr_dtype dtype, cr_net **out);
size_t cr_net_input_dim(const cr_net *net);
size_t cr_net_output_dim(const cr_net *net);
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
cr_status cr_net_set_input_affine(cr_net *net, cr_affine_form form, const double *p,
                                  const double *q);
cr_affine_form cr_net_affine_form(const cr_net *net, int link); /* NONE for a bad link */
cr_status cr_net_get_affine(const cr_net *net, int link, cr_affine_form *form, double *p,
                            double *q, double *s, double *t, double *eps);
cr_status cr_net_affine_f32(const cr_net *net, int link, cr_affine_f32 *view);
cr_status cr_net_affine_f64(const cr_net *net, int link, cr_affine_f64 *view);

typedef enum {
    CR_INIT_AUTO = 0,   /* per layer, what its activation's row picks: Xavier or He */
    CR_INIT_XAVIER = 1, /* uniform(+-sqrt(6/(fan_in+fan_out))) */
    CR_INIT_HE = 2      /* normal(0, sqrt(2/fan_in)) */
} cr_init;

/* Random weights (scheme), zero biases, reproducible from seed. */
void cr_net_init(cr_net *net, cr_init scheme, uint64_t seed);

/*
 * Tape: the activations of one forward pass and scratch for backward, sized
 * for batches of up to max_batch rows. One allocation; create once, reuse:
 * forward/backward never allocate.
 *   pre[l]  = r_l  (N x dims[l+1]) pre-activation of layer l (pre[L-1] = θ, the logits)
 *   post[l] = h_l  (N x dims[l+1]) activation; post[L-1] = the head's prediction:
 *             softmax(o) for the softmax head (the probabilities), o for squared error
 *   out     = o    (N x K) the network's output a_out(θ): pre[L-1] when there is no
 *             output activation and the head is softmax, post[L-1] for squared error,
 *             else a block of its own
 */
typedef struct cr_tape {
    cr_dtype dtype;
    size_t max_batch;
    size_t n; /* rows of the last forward pass */
    int n_layers;
    size_t dims[CR_MAX_LAYERS + 1]; /* the widths of the net it was made for */
    const void *input; /* borrowed X of the last forward pass */
    void *pre[CR_MAX_LAYERS];
    void *post[CR_MAX_LAYERS];
    void *grad_a; /* scratch N x max(dims) */
    void *grad_b; /* scratch N x max(dims) */
    void *loss;   /* N per-example losses of the last cr_net_loss */
    void *out;    /* N x K: the output o (see above) */
    int has_out_act; /* the output of the net it was made for */
    cr_activation out_act;
    cr_head head;
    /* N x D: z = link 0 applied to the input of the last forward pass, when the net it
       was made for has an input link (net->link_form[0] != CR_AFFINE_NONE), else NULL */
    void *input_z;
} cr_tape;

/* A tape is tied to the widths of the net it was made for, and to whether it has an
   input link (set the links before making the tape); the typed functions
   reject a tape of another net (CR_ERR_ARG) or of another dtype (CR_ERR_DTYPE). */
cr_status cr_tape_create(const cr_net *net, size_t max_batch, cr_tape **out);
void cr_tape_free(cr_tape *tape);

/*
 * The typed network functions. X is N x D, Y is N x K targets (one-hot or any
 * rows summing to 1; see cr_onehot_*), all of the net's dtype.
 *
 * With the squared-error head Y is N x K float targets t instead.
 *
 * forward:  fills tape (keeps a borrowed pointer to X until the next forward).
 * loss:     per-example losses of the head (fused softmax+CE on o, or ½‖o − t‖²)
 *           into tape->loss; returns mean (NaN if the tape holds no forward pass
 *           of this net).
 * backward: chain of VJPs from dJ/do = yhat - y (or o - t), through the output
 *           activation's VJP when there is one, back to the input.
 *           dx (N x D, may be NULL) receives dJ_n/dx_n per example;
 *           grads (n_params, may be NULL) receives d(mean J)/d(params) in the
 *           same flat layout as net->params (overwritten, not accumulated).
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
 * pass yet; CR_ERR_SHAPE for n > tape->max_batch or a row i >= tape->n.
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
cr_status cr_onehot_f32(size_t n, size_t k, const int64_t *labels, float *y);
cr_status cr_onehot_f64(size_t n, size_t k, const int64_t *labels, double *y);

/* Typed views of a net's parameters (NULL when the dtype does not match). */
float *cr_net_params_f32(cr_net *net);
double *cr_net_params_f64(cr_net *net);

/* ================================================================ training
 * Optimisers, learning-rate schedules, a seeded shuffle and the training step
 * (src/net/optim.c, src/net/train.c). Training is float32: the training
 * functions return CR_ERR_DTYPE for a float64 net or optimiser state, CR_ERR_ARG
 * for a NULL argument or a zero count (n = 0, batch 0, max_batch 0), and CR_ERR_ARG
 * for a net that is not a plain classifier (cr_net_is_plain_classifier: an output
 * activation or the squared-error head), which they do not train. cr_evaluate_f32
 * takes any net with the softmax head (loss and argmax on its output o).
 *
 * Optimiser state is kept as flat arrays parallel to net->params, so a step
 * is one loop over n_params. The semantics follow PyTorch's torch.optim:
 *   g      <- grad + weight_decay * p                  (L2, coupled)
 *   SGD        p <- p - lr g
 *   momentum   m <- mu m + g;           p <- p - lr m           (m starts at 0)
 *   Nesterov   m <- mu m + g;           p <- p - lr (g + mu m)
 *   Adam       m <- b1 m + (1-b1) g;    v <- b2 v + (1-b2) g^2;  t = step + 1
 *              p <- p - (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * Learning rate of step s (0-based), cr_optim_lr:
 *   constant   lr
 *   step       lr * gamma^floor(s / step_size)
 *   cosine     lr_min + (lr - lr_min) (1 + cos(pi min(s, T) / T)) / 2,  T = total_steps
 * ------------------------------------------------------------------------- */

typedef enum {
    CR_OPT_SGD = 0,
    CR_OPT_MOMENTUM = 1,
    CR_OPT_NESTEROV = 2,
    CR_OPT_ADAM = 3,
    CR_OPT_COUNT
} cr_optimizer;

typedef enum { CR_SCHED_CONSTANT = 0, CR_SCHED_STEP = 1, CR_SCHED_COSINE = 2, CR_SCHED_COUNT } cr_schedule;

const char *cr_optimizer_name(cr_optimizer kind); /* "sgd", "momentum", "nesterov", "adam" */
int cr_optimizer_parse(const char *name, cr_optimizer *out); /* 1 on success */
const char *cr_schedule_name(cr_schedule s);                /* "constant", "step", "cosine" */
int cr_schedule_parse(const char *name, cr_schedule *out);

typedef struct {
    cr_optimizer kind;
    double lr;           /* base learning rate */
    double momentum;     /* momentum and Nesterov */
    double beta1, beta2; /* Adam */
    double eps;          /* Adam */
    double weight_decay; /* L2 coefficient added to the gradient (0 = none) */
    cr_schedule schedule;
    uint64_t step_size; /* CR_SCHED_STEP: steps between decays */
    double gamma;       /* CR_SCHED_STEP: decay factor */
    uint64_t total_steps; /* CR_SCHED_COSINE: length of the cosine */
    double lr_min;        /* CR_SCHED_COSINE: final learning rate */
} cr_optim_config;

/* sgd, lr 0.1, momentum 0.9, betas 0.9/0.999, eps 1e-8, no weight decay,
   constant schedule (step_size 1, gamma 0.1, total_steps 1, lr_min 0). */
cr_optim_config cr_optim_config_default(void);
/* Checks ranges (lr > 0, 0 <= momentum < 1, 0 <= betas < 1, eps > 0, ...). */
cr_status cr_optim_config_check(const cr_optim_config *cfg);
/* The learning rate used by step number `step` (0-based). */
double cr_optim_lr(const cr_optim_config *cfg, uint64_t step);
/* Number of state vectors of n_params each: 0 (sgd), 1 (momentum), 2 (adam). */
int cr_optim_n_state(cr_optimizer kind);

typedef struct {
    cr_optim_config cfg;
    cr_dtype dtype;
    size_t n_params;
    uint64_t step; /* steps taken so far */
    void *m;       /* momentum buffer / Adam first moment (n_params) or NULL */
    void *v;       /* Adam second moment (n_params) or NULL */
} cr_optim;

/* State sized for net (zeroed, step 0); one allocation. */
cr_status cr_optim_create(const cr_net *net, const cr_optim_config *cfg, cr_optim **out);
void cr_optim_free(cr_optim *opt);
/* One step: params <- update(params, grads) with lr = cr_optim_lr(cfg, step); step++. */
cr_status cr_optim_step_f32(cr_optim *opt, float *params, const float *grads);
cr_status cr_optim_step_f64(cr_optim *opt, double *params, const double *grads);

/* Fisher-Yates shuffle of perm[0..n) driven by rng (reproducible everywhere). */
void cr_shuffle_u32(cr_rng *rng, size_t n, uint32_t *perm);

/*
 * Training workspace: the tape, the gradient block, the gathered batch and
 * the permutation, allocated once; the training loop never allocates.
 */
typedef struct {
    size_t max_batch;
    size_t n_examples;
    cr_tape *tape;
    float *grads;     /* n_params */
    float *xb;        /* max_batch x D gathered inputs */
    int32_t *yb;      /* max_batch gathered labels */
    uint32_t *perm;   /* n_examples */
    uint32_t *nz;     /* Σ_l dims[l], l < L: indices of each layer's nonzero inputs */
    /* After CR_ERR_NONFINITE: the 1-based layer where NaN/Inf appeared first
       (in its outputs r_l or in its parameters after the update), else 0. */
    int fault_layer;
    int workers;                 /* 1, or 2 after cr_train_ws_set_threads(ws, 2) */
    struct cr_train_pool *pool;  /* private: the second worker */
} cr_train_ws;

/* CR_ERR_ARG for a net that is not a plain classifier or that has an affine link
   after a linear layer (BatchNorm: not trained, docs/batchnorm.md). */
cr_status cr_train_ws_create(const cr_net *net, size_t max_batch, size_t n_examples,
                             cr_train_ws **out);
/* Joins the second worker, if any, and frees the workspace. */
void cr_train_ws_free(cr_train_ws *ws);
/*
 * Workers of cr_train_step_f32 (and so of cr_train_epoch_f32): 1 (the default:
 * the calling thread) or 2 (n >= 2; the calling thread and a persistent second
 * thread, started here and joined by cr_train_ws_free or a later call with
 * n = 1). Two workers split every layer's gemms between them (forward: the
 * output columns of W_l, and the batch rows for the last layer, its softmax
 * and loss; backward: the input rows of W_l, and the first layer's output
 * columns; cr_train_epoch_f32's batch gather too): each worker computes its
 * own half of a layer first and then the other half if no one has claimed it,
 * so a worker kept off its core stalls only the halves it has claimed (the
 * bits depend on the halves, not on who computes them). Optimisers other than plain SGD write the gradient block
 * the same way and then step on the calling thread. While two workers run,
 * the BLAS is set to 1 thread (its previous count is restored on n = 1 or
 * free). The split is fixed, so results are deterministic for a given worker
 * count, but the model's bits differ (by float rounding) between 1 and 2
 * workers. The per-example path (cr_train_sgd1_f32) always runs on the
 * calling thread. Returns CR_ERR_NOMEM if the thread cannot be started (the
 * workspace then keeps 1 worker). A workspace with 2 workers must be used by
 * one thread at a time.
 */
cr_status cr_train_ws_set_threads(cr_train_ws *ws, int n);

/*
 * One optimiser step on the batch x (n x D, contiguous) with class labels.
 * Forward, fused softmax+CE, backward, update. Plain SGD (with or without
 * weight decay) is fused into the gemms (W <- (1 - lr wd) W - (lr/n) Xᵀ G, no
 * gradient block); the other optimisers go through ws->grads and
 * cr_optim_step_f32. Adds the batch's summed loss to *loss_sum and its
 * number of correct argmax predictions to *correct (either may be NULL).
 * Returns CR_ERR_ARG for a label outside [0, K), CR_ERR_NONFINITE if NaN or
 * Inf appears in the forward pass (ws->fault_layer names the first layer whose
 * outputs r_l are not finite; the step is then not taken). Parameters that an
 * update makes non-finite are caught by the next step's forward pass (every
 * parameter of a layer feeds every row of r_l, and 0 * inf = NaN) and by
 * cr_train_epoch_f32's check of the whole block at the end of each epoch; the
 * parameters are then garbage: keep the last checkpoint.
 */
cr_status cr_train_step_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                            const float *x, const int32_t *labels, double *loss_sum,
                            size_t *correct);
/*
 * The per-example SGD path (batch 1, plain SGD, no weight decay): one loop per
 * layer over the nonzero inputs (a sparse row update), no gemm, no per-call
 * set-up. Same mathematics as cr_train_step_f32 with n = 1.
 */
cr_status cr_train_sgd1_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, const float *x,
                            int32_t label, double *loss_sum, size_t *correct);

typedef struct {
    double loss_sum; /* summed per-example training losses */
    size_t correct;  /* correct argmax predictions (before each step) */
    size_t seen;     /* examples processed */
} cr_train_stats;

/* Called every `every` steps and at the end of the epoch; return nonzero to stop. */
typedef int (*cr_train_progress_fn)(void *user, const cr_train_stats *stats, size_t total);

/*
 * One epoch over n examples x (n x D) / labels: perm <- identity, shuffled
 * with rng, then batches of `batch` (the last one smaller) gathered into
 * ws->xb and stepped; batch 1 with plain SGD and no weight decay takes the
 * per-example path. stats is zeroed first. progress may be NULL.
 */
cr_status cr_train_epoch_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const int32_t *labels, size_t batch, cr_rng *rng,
                             cr_train_stats *stats, cr_train_progress_fn progress,
                             size_t every, void *user);

/*
 * Evaluation in batches of ws->max_batch: mean loss, correct count, and
 * (if confusion != NULL) the K x K confusion matrix [true][predicted]
 * accumulated (not zeroed); probs (n x K, may be NULL) receives the
 * probabilities.
 */
cr_status cr_evaluate_f32(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n, const float *x,
                          const int32_t *labels, double *loss_sum, size_t *correct,
                          uint64_t *confusion, float *probs);

/* ============================================================ end training */

/* ================================================================ input derivatives
 * Full input Jacobians, attribution maps and adversarial examples (issue 4).
 * Sources: src/net/jacobian.tmpl.c, attribute.tmpl.c, attack.tmpl.c, each
 * instantiated for f32 and f64. All work on the network's raw input space: a
 * net's input link (link 0, e.g. the standardisation (x − mean) / std of a model)
 * is the first link of every chain, so boxes, clips and derivatives are in x.
 * Every function allocates its own scratch (CR_ERR_NOMEM on failure) and
 * splits its examples into fixed chunks run on cr_get_threads() workers, each
 * calling the BLAS single-threaded (the BLAS is held at one thread meanwhile);
 * the chunks, and so the results, do not depend on the number of workers.
 * Errors: CR_ERR_DTYPE when the net is not of the function's dtype (an _f32
 * call on a float64 net); CR_ERR_ARG for a NULL argument, n = 0, a class or
 * label outside [0, K), or an invalid option.
 *
 * The output and the head: "logits" below are the network's output o (θ when
 * there is no output activation; a_out(θ) otherwise), "probabilities" softmax(o)
 * and exist for the softmax head only (of_probs = 1 on a squared-error net is
 * CR_ERR_ARG). cr_net_input_grad differentiates the net's head (softmax + CE, or
 * ½‖o − t‖² with y the N x K targets); attacks need the softmax head (CR_ERR_ARG
 * otherwise).
 */

typedef enum {
    CR_JAC_AUTO = 0,  /* rev when K < D, else fwd (jacrev vs jacfwd) */
    CR_JAC_REV = 1,   /* K VJPs per example, stacked into one (N K)-row gemm chain */
    CR_JAC_FWD = 2,   /* D JVPs per example (tangents = rows of I_D), batched */
    CR_JAC_CLOSED = 3 /* (diag(yhat) - yhat^T yhat or I) W_L^T diag(act') ... W_1^T */
} cr_jac_mode;

const char *cr_jac_mode_name(cr_jac_mode mode); /* "auto", "rev", "fwd", "closed" */
int cr_jac_mode_parse(const char *name, cr_jac_mode *out); /* 1 on success */
/* The mode `auto` resolves to for K outputs and D inputs. */
cr_jac_mode cr_jac_mode_resolve(cr_jac_mode mode, size_t k, size_t d);

/*
 * Attribution methods (target class c per example; score f = logit c, or
 * probability c with of_probs):
 *   SALIENCY        df/dx (|df/dx| with absolute)
 *   INPUT_X_GRAD    x o df/dx
 *   IG              (x - b) o mean over the path of df/dx at b + a (x - b)
 *                   (right Riemann sum a = j/S, j = 1..S, or trapezoid j = 0..S)
 *   SMOOTHGRAD      mean over samples of df/dx at x + N(0, noise^2) (|.| with absolute)
 */
typedef enum {
    CR_ATTR_SALIENCY = 0,
    CR_ATTR_INPUT_X_GRAD = 1,
    CR_ATTR_IG = 2,
    CR_ATTR_SMOOTHGRAD = 3
} cr_attr_method;

const char *cr_attr_method_name(cr_attr_method m); /* "saliency", "input-x-gradient", ... */
int cr_attr_method_parse(const char *name, cr_attr_method *out);

typedef struct {
    cr_attr_method method;
    int of_probs;         /* 1: attribute the class probability; 0: the logit */
    int absolute;         /* saliency / smoothgrad: absolute values */
    size_t steps;         /* IG: path steps (0 = 50) */
    int trapezoid;        /* IG: trapezoid rule instead of the right Riemann sum */
    double tol;           /* IG: > 0 doubles the steps of an example until its gap <= tol */
    size_t max_steps;     /* IG: limit for tol (0 = 8192) */
    const void *baseline; /* IG: D values of the net's dtype, or NULL for zeros */
    size_t samples;       /* smoothgrad: samples (0 = 50) */
    double noise;         /* smoothgrad: noise standard deviation (absolute) */
    uint64_t seed;        /* smoothgrad noise */
} cr_attr_options;

/* Per-example diagnostics of an attribution (arrays of n, each may be NULL). */
typedef struct {
    double *score;      /* f(x) */
    double *score_base; /* IG: f(baseline) */
    double *gap;        /* IG: |sum attr - (f(x) - f(baseline))|, the completeness gap */
    size_t *steps_used; /* IG: steps finally used */
} cr_attr_report;

/*
 * Attack: maximise CE(label) (untargeted) or minimise CE(target) (targeted),
 * always through the fused softmax + cross-entropy on the logits.
 *   FGSM  x' = clip(x + eps sign(g))           (L_inf)   x + eps g/|g|_2 (L2)
 *   PGD   steps of step_size (sign / normalised gradient), each followed by the
 *         projection onto the eps-ball around x and the clip to [lo, hi]; with
 *         random_start from a uniform point of the ball; returns, per example,
 *         the iterate with the best attack loss seen.
 */
typedef enum { CR_ATTACK_FGSM = 0, CR_ATTACK_PGD = 1 } cr_attack_method;
typedef enum { CR_NORM_LINF = 0, CR_NORM_L2 = 1 } cr_norm;

typedef struct {
    cr_attack_method method;
    cr_norm norm;
    double eps;
    double step_size; /* PGD; 0 = 2.5 eps / steps */
    size_t steps;     /* PGD; 0 = 20 */
    int random_start; /* PGD */
    double lo, hi;    /* valid input range, lo < hi */
    uint64_t seed;
} cr_attack_options;

/* Sums over the examples of one call (divide by n for means). */
typedef struct {
    size_t n;
    size_t correct_clean;  /* argmax(x) == label */
    size_t correct_adv;    /* argmax(x') == label */
    size_t hit_target;     /* targeted: argmax(x') == target */
    /* attack loss J: CE(label) untargeted, CE(target) targeted; g = dJ/dx at x */
    double loss_clean;      /* sum of J at x */
    double loss_adv;        /* sum of J at x' (realised change: loss_adv - loss_clean) */
    double pred_dloss;      /* FGSM: sum of +-eps |g|_1 (L_inf) or +-eps |g|_2 (L2), the
                               first-order prediction of the change (- when targeted) */
    double pred_dloss_clip; /* FGSM: sum of g . (x' - x), the same after the clip */
    double max_dist;       /* max over examples of |x' - x| in the attack's norm */
    double min_value, max_value; /* range of x' */
} cr_attack_stats;

/* jac (n x K x D): Jacobian of probabilities (of_probs) or logits w.r.t. each row of x. */
cr_status cr_net_input_jacobian_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, int of_probs,
                                    cr_jac_mode mode, float *jac);
cr_status cr_net_input_jacobian_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, int of_probs,
                                    cr_jac_mode mode, double *jac);
/* dJ_i/dx_i of J_i = CE(softmax(f(x_i)), y_i) for every row (N x D): the input gradient
   (y: N x K targets, one-hot or soft; loss: the N J_i, may be NULL). */
cr_status cr_net_input_grad_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const float *y,
                                float *dx, float *loss);
cr_status cr_net_input_grad_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const double *y,
                                double *dx, double *loss);
/* Gradient of the score of class cls[i] at row i (N x D), and the scores (may be NULL). */
cr_status cr_net_class_grad_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const int64_t *cls,
                                int of_probs, float *grad, float *score);
cr_status cr_net_class_grad_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const int64_t *cls,
                                int of_probs, double *grad, double *score);
cr_status cr_attribute_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const int64_t *cls,
                           const cr_attr_options *opt, float *attr /* n x D */,
                           cr_attr_report *report /* may be NULL */);
cr_status cr_attribute_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const int64_t *cls,
                           const cr_attr_options *opt, double *attr /* n x D */,
                           cr_attr_report *report /* may be NULL */);
/* x_adv (n x D) from x with labels; target NULL (untargeted) or n target classes. */
cr_status cr_attack_f32(cr_ctx *ctx, const cr_net *net, size_t n, const float *x, const int64_t *labels,
                        const int64_t *target, const cr_attack_options *opt, float *x_adv,
                        cr_attack_stats *stats /* may be NULL */);
cr_status cr_attack_f64(cr_ctx *ctx, const cr_net *net, size_t n, const double *x, const int64_t *labels,
                        const int64_t *target, const cr_attack_options *opt, double *x_adv,
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

/* ================================================================ end input derivatives */

/* ================================================================ accessors for bindings
 * Functions that take and return plain pointers, sizes and names, so that a binding
 * (python/chainrule, ctypes) mirrors no struct of these headers and a field added to
 * one cannot break it. Sources: src/net/net_access.c, src/check/struct_fields.c.
 */
cr_dtype cr_net_dtype(const cr_net *net);
int cr_net_n_layers(const cr_net *net);
/* dims[i], 0 <= i <= n_layers (0: the input width D, n_layers: the outputs K); 0 otherwise. */
size_t cr_net_width(const cr_net *net, int i);
/* The activation after hidden layer l (0 <= l < n_layers - 1) into *act: 1, or 0 for another l. */
int cr_net_hidden_activation(const cr_net *net, int l, cr_activation *act);
/* 1 and *act (may be NULL) when the output is o = a_out(θ); 0 when o = θ. */
int cr_net_output_activation(const cr_net *net, cr_activation *act);
cr_head cr_net_head(const cr_net *net);
/* cr_net_set_output with the net's own output activation (before any tape is made). */
cr_status cr_net_set_head(cr_net *net, cr_head head);
/* The n rows' probabilities softmax(o) (of_probs; softmax head only, else CR_ERR_ARG) or outputs o,
   n x K in the net's dtype, from n x D inputs x in the net's dtype (one tape, batches of 1024). */
cr_status cr_net_predict(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, int of_probs, void *out);
/* The directional derivatives J(x_i) xd_i (n x K) of the probabilities (of_probs, as above) or outputs
   at each row x_i of x along the row xd_i of xd (n x D each), in the net's dtype (cr_net_jvp). */
cr_status cr_net_input_jvp(const cr_net *net, size_t n, const void *x, const void *xd, int of_probs,
                           void *out);

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

/* ================================================================ end accessors for bindings */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_H */
