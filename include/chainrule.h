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

const char *cr_affine_form_name(cr_affine_form form); /* "sub-div", ... "none" */
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

/* ================================================================ accessors of the handles
 * cr_net, cr_tape and cr_train_ws are opaque (their fields are the library's own,
 * src/net/net_internal.h): everything outside libchainrule reads them through these
 * functions (src/net/net_access.c), which cost a call and a bounds check and are meant
 * to be called outside inner loops (take the pointer once, then loop). A NULL handle or
 * an index out of range gives 0, NULL or CR_ACT_COUNT; nothing here allocates or fails.
 * The pointers returned are views into the handle's one allocation, valid until it is
 * freed; a const handle gives const views (the _const variants).
 */
/* The number of scalars (of the net's dtype) in the flat parameter block. */
size_t cr_net_n_params(const cr_net *net);
/* The flat parameter block: layer l's W_l at scalar cr_net_weight_offset(net, l), b_l at
   cr_net_bias_offset(net, l); a gradient block of cr_net_n_params scalars has the same layout. */
void *cr_net_params(cr_net *net);
const void *cr_net_params_const(const cr_net *net);
/* The scalar offset of W_l / b_l in the parameter block (0 for a bad l). */
size_t cr_net_weight_offset(const cr_net *net, int l);
size_t cr_net_bias_offset(const cr_net *net, int l);
/* Views of W_l (dims[l] x dims[l+1], row-major: r = h W + b) and b_l (dims[l+1]) in the
   net's dtype, 0 <= l < n_layers; NULL for a bad l. */
void *cr_net_weight(cr_net *net, int l);
const void *cr_net_weight_const(const cr_net *net, int l);
void *cr_net_bias(cr_net *net, int l);
const void *cr_net_bias_const(const cr_net *net, int l);
/* The activation after linear layer l: the hidden activation for l < n_layers - 1, the
   output activation for l = n_layers - 1 (CR_ACT_COUNT when o = θ), CR_ACT_COUNT for a bad l. */
cr_activation cr_net_activation(const cr_net *net, int l);

/* A view of the vector k (0 p, 1 q, 2 s, 3 t: see cr_net_set_affine) of affine link `link`,
   cr_net_link_width scalars in the net's dtype, as stored (NULL for a bad link or k), and the
   link's eps (BATCHNORM; 0 for the others or a bad link). */
const void *cr_net_link_vector(const cr_net *net, int link, int k);
double cr_net_link_eps(const cr_net *net, int link);

/* The tape's dtype, its capacity in rows and the rows of its last forward pass (0 before any). */
cr_dtype cr_tape_dtype(const cr_tape *tape);
size_t cr_tape_max_batch(const cr_tape *tape);
size_t cr_tape_rows(const cr_tape *tape);
/* The views of the last forward pass (see cr_tape), rows x width in the tape's dtype:
   pre(l) = r_l and post(l) = h_l (0 <= l < n_layers, NULL otherwise); the output o; the
   logits pre(L-1) = θ; the head's prediction post(L-1) (the probabilities for the softmax
   head); the per-example losses of the last cr_net_loss (rows scalars); the input X of the
   last forward pass (borrowed from its caller). */
const void *cr_tape_pre(const cr_tape *tape, int l);
const void *cr_tape_post(const cr_tape *tape, int l);
const void *cr_tape_output(const cr_tape *tape);
const void *cr_tape_logits(const cr_tape *tape);
const void *cr_tape_prediction(const cr_tape *tape);
const void *cr_tape_loss(const cr_tape *tape);
const void *cr_tape_input(const cr_tape *tape);
/* What linear layer 0 read in the last forward pass when the net has an input link: z =
   link_0(x), rows x D; NULL when the net it was made for has no input link. */
const void *cr_tape_input_link(const cr_tape *tape);

/* The workspace's tape (its forward pass of the last step: ws's batch rows), its batch
   capacity, its workers (1 or 2, cr_train_ws_set_threads) and, after CR_ERR_NONFINITE, the
   1-based layer where NaN/Inf appeared first (in its outputs r_l or in its parameters after
   the update), else 0. */
cr_tape *cr_train_ws_tape(cr_train_ws *ws);
size_t cr_train_ws_max_batch(const cr_train_ws *ws);
int cr_train_ws_threads(const cr_train_ws *ws);
int cr_train_ws_fault_layer(const cr_train_ws *ws);

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
