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
 *   - This is the main header. The typed functions (every numeric function
 *     for float, _f32, and double, _f64) and the op-level functions (each
 *     op's forward, Jacobian, VJP and JVP, the gemm, the kernel sets) are in
 *     chainrule_typed.h, which includes this one.
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

#define CR_VERSION_STRING "0.2.0"
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
    CR_ERR_DTYPE,     /* the net, tape or optimiser is not of the function's dtype (an
                         _f32 call on a float64 net), or the dtype is not supported */
    CR_ERR_IO,        /* a file cannot be opened, read or written */
    CR_ERR_FORMAT     /* a file's or buffer's content is malformed or not supported */
} cr_status;

/* A short static English description of a status ("out of memory", ...). */
const char *cr_status_string(cr_status status);

/*
 * The error convention (docs/api.md, "Errors"): every fallible function of every
 * public header returns cr_status, CR_OK (0) on success. A failing call also
 * leaves one line of detail on the calling thread, read with cr_last_error():
 * which argument, which index, which file ("cr_attack: labels[5] = 12 is not in
 * [0, 10)", "model.onnx: node 3 (Gemm): transB = 0 not supported"). It is
 * meaningful only right after a call that returned a status other than CR_OK:
 * every failure overwrites it, a success may leave an earlier failure's line in
 * place (read it after a failure, never to find out whether a call failed).
 * The string is the thread's own (C11 _Thread_local), valid until the thread's
 * next failing call; "" when nothing on the thread has failed yet.
 */
const char *cr_last_error(void);

/* ---------------------------------------------------------------- labels */

/* A class index in [0, K): the one label type of training, datasets
   (cr_dataset.labels), evaluation, attacks, attributions, class gradients and
   certification. One-hot or soft targets are float matrices, taken only by the
   functions named "targets" (chainrule_typed.h). */
typedef int64_t cr_label;

/* ---------------------------------------------------------------- dtypes */

typedef enum { CR_F32 = 0, CR_F64 = 1 } cr_dtype;

/* Size in bytes of one scalar of this dtype (4 or 8). */
size_t cr_dtype_size(cr_dtype dtype);
const char *cr_dtype_name(cr_dtype dtype); /* "float32" / "float64" */

/* ---------------------------------------------------------------- random */

/* xoshiro256** seeded with splitmix64: fast, reproducible on every platform. */
typedef struct {
    uint64_t s[4];
} cr_rng;

void cr_rng_seed(cr_rng *rng, uint64_t seed);

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

/* ---------------------------------------------------------------- affine links */
/* The forms of a per-feature affine link z = a ∘ x + c (the input standardisation,
   ONNX Sub/Div/Mul/Add, BatchNorm in inference mode): see cr_net_set_affine and,
   for the op itself, chainrule_typed.h. */
typedef enum {
    CR_AFFINE_NONE = 0,
    CR_AFFINE_SUB_DIV = 1,
    CR_AFFINE_SUB_MUL = 2,
    CR_AFFINE_MUL_ADD = 3,
    CR_AFFINE_BATCHNORM = 4,
    CR_AFFINE_FORM_COUNT
} cr_affine_form;

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
/* Parses a name: CR_OK and *out set, or CR_ERR_ARG for an unknown name. */
cr_status cr_activation_parse(const char *name, cr_activation *out);

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
/* Parses a name: CR_OK and *out set, or CR_ERR_ARG for an unknown name. */
cr_status cr_head_parse(const char *name, cr_head *out);

/*
 * A network: L linear layers, dims[0] = D (input) ... dims[L] = K (outputs),
 * activation act[l] after linear layer l for l < L-1; after the last,
 * θ = h W_L + b_L, the output o = out_act(θ) (or θ itself) and the head on o:
 *
 *     x -> ... -> θ = h W_L + b_L -> o = a_out(θ) -> head (softmax + CE, or ½‖o − t‖²)
 *
 * An opaque handle: read and write it through the accessors ("accessors of the
 * handles" below: cr_net_dtype, cr_net_width, cr_net_weight, cr_net_params, ...).
 * All parameters live in one flat block (cr_net_params, cr_net_n_params scalars of
 * the net's dtype) so that zeroing, optimiser steps, saving and finite-difference
 * sweeps are single loops; layer l's W_l (dims[l] x dims[l+1], row-major) and b_l
 * (dims[l+1]) are views into it (cr_net_weight, cr_net_bias). The affine links
 * (cr_net_set_affine) are not parameters. One allocation holds the net and its
 * parameters (free with cr_net_free).
 */
typedef struct cr_net cr_net;

cr_status cr_net_create(cr_net **out, cr_dtype dtype, int n_layers, const size_t *dims,
                        const cr_activation *act /* n_layers - 1 entries */);
void cr_net_free(cr_net *net);
/* Sets the output activation (has_act 0: o = θ) and the head. CR_ERR_ARG for an
   invalid activation or head. */
cr_status cr_net_set_output(cr_net *net, int has_act, cr_activation act, cr_head head);
/* A copy of net converted to dtype (float64 <-> float32). */
cr_status cr_net_convert(const cr_net *net, cr_dtype dtype, cr_net **out);
size_t cr_net_input_dim(const cr_net *net);
size_t cr_net_output_dim(const cr_net *net);
/* The input standardisation z = link_0(x) before linear layer 0 (form SUB_DIV:
   (x − p)/q, SUB_MUL, MUL_ADD; NONE clears it), p and q of D values stored in the
   net's dtype; derivatives stay w.r.t. the raw x. Set it before making a tape.
   CR_ERR_ARG for a bad form, a missing vector, a non-finite value or a zero divisor.
   The links after the linear layers (BatchNorm): chainrule_typed.h. */
cr_status cr_net_set_input_affine(cr_net *net, cr_affine_form form, const double *p,
                                  const double *q);
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
 * forward/backward never allocate. An opaque handle; its views (cr_tape_pre,
 * cr_tape_post, cr_tape_output, ... below) are, for the n rows of the last
 * forward pass (cr_tape_rows):
 *   pre(l)  = r_l  (N x dims[l+1]) pre-activation of layer l (pre(L-1) = θ, the logits)
 *   post(l) = h_l  (N x dims[l+1]) activation; post(L-1) = the head's prediction:
 *             softmax(o) for the softmax head (the probabilities), o for squared error
 *   output  = o    (N x K) the network's output a_out(θ): pre(L-1) when there is no
 *             output activation and the head is softmax, post(L-1) for squared error,
 *             else a block of its own
 *   loss    = the N per-example losses of the last cr_net_loss
 */
typedef struct cr_tape cr_tape;

/* A tape is tied to the widths of the net it was made for, and to whether it has an
   input link (set the links before making the tape); the typed functions
   reject a tape of another net (CR_ERR_ARG) or of another dtype (CR_ERR_DTYPE). */
cr_status cr_tape_create(const cr_net *net, size_t max_batch, cr_tape **out);
void cr_tape_free(cr_tape *tape);

/* ================================================================ training
 * Optimisers, learning-rate schedules, a seeded shuffle and the training step
 * (src/net/optim.c, src/net/train.c). Training is float32: the training
 * functions return CR_ERR_DTYPE for a float64 net or optimiser state, CR_ERR_ARG
 * for a NULL argument or a zero count (n = 0, batch 0, max_batch 0), and CR_ERR_ARG
 * for a net that is not a plain classifier (cr_net_is_plain_classifier: an output
 * activation or the squared-error head), which they do not train. Evaluation
 * (cr_evaluate_f32/_f64) takes any net with the softmax head (loss and argmax on its
 * output o), float32 or float64.
 *
 * Optimiser state is kept as flat arrays parallel to cr_net_params(net), so a step
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
/*
 * Training workspace: the tape, the gradient block, the gathered batch and
 * the permutation, allocated once; the training loop never allocates. An
 * opaque handle (accessors: cr_train_ws_fault_layer, cr_train_ws_tape, ...).
 */
typedef struct cr_train_ws cr_train_ws;

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

typedef struct {
    double loss_sum; /* summed per-example training losses */
    size_t correct;  /* correct argmax predictions (before each step) */
    size_t seen;     /* examples processed */
} cr_train_stats;

/* Called every `every` steps and at the end of the epoch; return nonzero to stop. */
typedef int (*cr_train_progress_fn)(void *user, const cr_train_stats *stats, size_t total);

/* ============================================================ end training */

/* ================================================================ input derivatives
 * Full input Jacobians, attribution maps and adversarial examples (issue 4).
 * Sources: src/net/jacobian.tmpl.c, attribute.tmpl.c, attack.tmpl.c, each
 * instantiated for f32 and f64. All work on the network's raw input space: a
 * net's input link (link 0, e.g. the standardisation (x − mean) / std of a model)
 * is the first link of every chain, so boxes, clips and derivatives are in x.
 * Every function allocates its own scratch (CR_ERR_NOMEM on failure) and
 * splits its examples into fixed chunks run on the context's workers (its first
 * argument; NULL: one), each calling the BLAS single-threaded (the BLAS is held at
 * one thread meanwhile); the chunks, and so the results, do not depend on the
 * number of workers.
 * Errors: CR_ERR_DTYPE when the net is not of the function's dtype (an _f32
 * call on a float64 net); CR_ERR_ARG for a NULL argument, n = 0, a class or
 * label outside [0, K), or an invalid option.
 *
 * The output and the head: "logits" below are the network's output o (θ when
 * there is no output activation; a_out(θ) otherwise), "probabilities" softmax(o)
 * and exist for the softmax head only (of_probs = 1 on a squared-error net is
 * CR_ERR_ARG). cr_net_input_grad differentiates the softmax head's CE at class
 * labels (cr_label, in [0, K)); one-hot or soft targets, and a regressor's ½‖o − t‖²
 * with t the N x K targets, go to cr_net_input_grad_targets (chainrule_typed.h);
 * attacks need the softmax head (CR_ERR_ARG otherwise).
 */

typedef enum {
    CR_JAC_AUTO = 0,  /* rev when K < D, else fwd (jacrev vs jacfwd) */
    CR_JAC_REV = 1,   /* K VJPs per example, stacked into one (N K)-row gemm chain */
    CR_JAC_FWD = 2,   /* D JVPs per example (tangents = rows of I_D), batched */
    CR_JAC_CLOSED = 3 /* (diag(yhat) - yhat^T yhat or I) W_L^T diag(act') ... W_1^T */
} cr_jac_mode;

const char *cr_jac_mode_name(cr_jac_mode mode); /* "auto", "rev", "fwd", "closed" */
cr_status cr_jac_mode_parse(const char *name, cr_jac_mode *out); /* CR_ERR_ARG: unknown */

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
cr_status cr_attr_method_parse(const char *name, cr_attr_method *out);

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

/* ================================================================ end input derivatives */

/* ================================================================ computing
 * One function per operation, on the net's dtype: every array is `const void *` /
 * `void *` of the net's dtype (float for a float32 net, double for a float64 one;
 * cr_net_dtype), and each call runs the typed twin of that dtype (chainrule_typed.h,
 * the same name with _f32 / _f64), bit for bit, with its errors (CR_ERR_ARG for a
 * NULL argument, n = 0, a label or class outside [0, K), a tape of another net;
 * CR_ERR_SHAPE for more rows than a tape holds). Source: src/net/api.c.
 *
 * With a tape (made by cr_tape_create for this net, batches of at most max_batch):
 *   forward   fills the tape from x (N x D); keeps a borrowed pointer to x.
 *   loss      *mean = the mean over the rows of the head's loss J_n (softmax + CE
 *             against targets y, N x K one-hot or soft rows; ½‖o − t‖² against N x K
 *             targets t for a regressor); CR_ERR_ARG when the tape holds no forward pass.
 *   backward  dx (N x D, may be NULL) <- dJ_n/dx_n per row; grads (cr_net_n_params,
 *             may be NULL) <- d(mean J)/d(params), in the parameter block's layout.
 *   vjp       dx <- g_out (N x K, a cotangent on the output o) pulled back to x.
 *   jvp       out_dot and/or probs_dot (N x K, either may be NULL; probs for the
 *             softmax head only) <- the derivative along the tangent xd (N x D).
 * Whole batches (the library makes its own tape and scratch, and splits the rows
 * over the workers; the results do not depend on their number):
 *   input_grad      dx <- dJ_n/dx_n of the softmax head at class labels[n] (loss: the N J_n,
 *                   may be NULL); N x K targets (soft labels, a regressor's t):
 *                   cr_net_input_grad_targets, chainrule_typed.h.
 *   class_grad      grad <- the gradient of the logit (or probability, of_probs) of
 *                   class cls[n] at row n; score (may be NULL) <- that score.
 *   input_jacobian  jac (N x K x D) <- ∂o/∂x (or ∂softmax(o)/∂x with of_probs) per row.
 *   attribute       attr (N x D) <- the attribution map of opt->method (cr_attr_options).
 *   attack          x_adv (N x D) <- FGSM or PGD (cr_attack_options) from x, raising
 *                   CE(labels) or, with target (may be NULL), lowering CE(target).
 *   attack_regress  the same for a regressor: raises ½‖o − t‖² (t: N x K targets).
 */
cr_status cr_net_forward(const cr_net *net, cr_tape *tape, size_t n, const void *x);
cr_status cr_net_loss(const cr_net *net, cr_tape *tape, const void *y, double *mean);
cr_status cr_net_backward(const cr_net *net, cr_tape *tape, const void *y, void *dx,
                          void *grads);
cr_status cr_net_vjp(const cr_net *net, cr_tape *tape, const void *g_out, void *dx);
cr_status cr_net_jvp(const cr_net *net, cr_tape *tape, const void *xd, void *out_dot,
                     void *probs_dot);
cr_status cr_net_input_grad(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *labels,
                            void *dx, void *loss);
cr_status cr_net_class_grad(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *cls,
                            int of_probs, void *grad, void *score);
cr_status cr_net_input_jacobian(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, int of_probs,
                                cr_jac_mode mode, void *jac);
cr_status cr_attribute(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *cls,
                       const cr_attr_options *opt, void *attr,
                       cr_attr_report *report /* may be NULL */);
cr_status cr_attack(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const cr_label *labels,
                    const cr_label *target, const cr_attack_options *opt, void *x_adv,
                    cr_attack_stats *stats /* may be NULL */);
cr_status cr_attack_regress(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, const void *t,
                            const cr_attack_options *opt, void *x_adv,
                            cr_attack_stats *stats /* may be NULL */);

/*
 * Training (float32 nets: a float64 net is CR_ERR_DTYPE; cr_net_convert makes a
 * float32 copy; evaluation runs in either dtype). optim_step: params <- update(params, grads) in the optimiser's
 * dtype. train_step: one optimiser step on the batch x (n x D) with class labels
 * (forward, softmax + CE, backward, update), adding the batch's summed loss and
 * correct count to *loss_sum and *correct (either may be NULL). train_epoch: one
 * shuffled pass over n examples in batches of `batch` (stats zeroed first; progress,
 * may be NULL, called every `every` steps and at the end: nonzero stops). evaluate:
 * in batches of the tape's max_batch, the summed loss and correct count, the K x K
 * confusion matrix [true][predicted] accumulated (may be NULL) and the n x K
 * probabilities (may be NULL). CR_ERR_NONFINITE when NaN or Inf appears
 * (cr_train_ws_fault_layer names the layer). Details: chainrule_typed.h.
 */
cr_status cr_optim_step(cr_optim *opt, void *params, const void *grads);
cr_status cr_train_step(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const void *x,
                        const cr_label *labels, double *loss_sum, size_t *correct);
cr_status cr_train_epoch(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const void *x,
                         const cr_label *labels, size_t batch, cr_rng *rng,
                         cr_train_stats *stats, cr_train_progress_fn progress, size_t every,
                         void *user);
cr_status cr_evaluate(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n, const void *x,
                      const cr_label *labels, double *loss_sum, size_t *correct,
                      uint64_t *confusion, void *probs);

/* ================================================================ accessors for bindings
 * Functions that take and return plain pointers, sizes and names, so that a binding
 * (python/chainrule, ctypes) mirrors no struct of these headers and a field added to
 * one cannot break it. Sources: src/net/net_access.c, src/check/struct_fields.c.
 */
cr_dtype cr_net_dtype(const cr_net *net);
int cr_net_n_layers(const cr_net *net);
/* dims[i], 0 <= i <= n_layers (0: the input width D, n_layers: the outputs K); 0 otherwise. */
size_t cr_net_width(const cr_net *net, int i);
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

/* ================================================================ accessors of the handles
 * cr_net, cr_tape and cr_train_ws are opaque (their fields are the library's own,
 * src/net/net_internal.h): everything outside libchainrule reads them through these
 * functions (src/net/net_access.c), which cost a call and a bounds check and are meant
 * to be called outside inner loops (take the pointer once, then loop). A NULL handle or
 * an index out of range gives 0, NULL or CR_ACT_COUNT; nothing here allocates or fails.
 * The pointers returned are views into the handle's one allocation, valid until it is
 * freed; a const net gives const views (the _const variants); a tape's views are read-only.
 */
/* The number of scalars (of the net's dtype) in the flat parameter block. */
size_t cr_net_n_params(const cr_net *net);
/* The flat parameter block: layer l's W_l then b_l for l = 0, 1, ... (offsets:
   cr_net_weight_offset, chainrule_typed.h); a gradient block of cr_net_n_params scalars
   has the same layout. */
void *cr_net_params(cr_net *net);
const void *cr_net_params_const(const cr_net *net);
/* Views of W_l (dims[l] x dims[l+1], row-major: r = h W + b) and b_l (dims[l+1]) in the
   net's dtype, 0 <= l < n_layers; NULL for a bad l. */
void *cr_net_weight(cr_net *net, int l);
const void *cr_net_weight_const(const cr_net *net, int l);
void *cr_net_bias(cr_net *net, int l);
const void *cr_net_bias_const(const cr_net *net, int l);
/* The activation after linear layer l: the hidden activation for l < n_layers - 1, the
   output activation for l = n_layers - 1 (CR_ACT_COUNT when o = θ), CR_ACT_COUNT for a bad l. */
cr_activation cr_net_activation(const cr_net *net, int l);

/* The tape's dtype and the rows of its last forward pass (0 before any). */
cr_dtype cr_tape_dtype(const cr_tape *tape);
size_t cr_tape_rows(const cr_tape *tape);
/* The views of the last forward pass (see cr_tape), rows x K in the tape's dtype: the
   output o; the head's prediction (the probabilities softmax(o) for the softmax head, o
   for squared error); the per-example losses of the last cr_net_loss (rows scalars).
   Every layer's r_l and h_l: chainrule_typed.h. */
const void *cr_tape_output(const cr_tape *tape);
const void *cr_tape_prediction(const cr_tape *tape);
const void *cr_tape_loss(const cr_tape *tape);

/* The workspace's tape (its forward pass of the last step: ws's batch rows) and, after
   CR_ERR_NONFINITE, the 1-based layer where NaN/Inf appeared first (in its outputs r_l or
   in its parameters after the update), else 0. */
cr_tape *cr_train_ws_tape(cr_train_ws *ws);
int cr_train_ws_fault_layer(const cr_train_ws *ws);

/* ================================================================ end accessors for bindings */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_H */
