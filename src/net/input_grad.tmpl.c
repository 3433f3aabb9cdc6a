/*
 * The gradient with respect to the input, for many examples at once:
 *
 *   cr_net_input_grad   ∂J_i/∂x_i, J_i = −Σ y_i log ŷ_i: the seed question,
 *                       ((ŷ − y) W_Lᵀ ∘ a'_{L−1}) ... W_1ᵀ  (cr_net_backward's dx);
 *                       through a_out' first with an output activation, and from
 *                       o − t with the squared-error head
 *   cr_net_class_grad   ∂f_i/∂x_i of one class score, f = θ_c (the cotangent e_c
 *                       on the logits) or ŷ_c (e_c (diag(ŷ) − ŷᵀŷ), the softmax VJP)
 *
 * Each is a forward pass and one VJP chain per chunk of GRAD_ROWS examples;
 * the chunks are tasks spread over the workers (core/parallel.h), each worker
 * with its own tape, so that every gemm is single-threaded and a chunk's
 * activations stay in its core's cache. In float32 the two large products,
 * x W_0 forward and (G_h ∘ a'(r_0)) W_0ᵀ at the end of the chain, are passes
 * of kernels/abt.h with W_0 packed once per call (iu_pack).
 */
#include "core/fail.h"
#include "core/parallel.h"
#include "input_util.tmpl.h"

enum { GRAD_ROWS = 512 };

typedef struct {
    cr_ctx *cx;
    const cr_net *net;
    size_t n, chunk; /* chunk: rows per task (cr_even_chunk of n, at most GRAD_ROWS) */
    const real *x;
    const real *y;      /* input_grad: targets (n x K) */
    const cr_label *cls; /* class_grad: classes (n) */
    int of_probs;
    real *grad, *out; /* n x D; n losses (input_grad) or scores (class_grad), may be NULL */
    iu_packs pk;      /* W_0 packed for the kernel (iu_pack) */
    struct {
        cr_tape *tape;
        real *g; /* the chunk's cotangents on the logits (GRAD_ROWS x K) */
    } ws[CR_MAX_WORKERS];
} FN(grad_job);

static cr_status FN(grad_job_scratch)(FN(grad_job) *job, int w) {
    if (job->ws[w].tape) return CR_OK;
    const cr_net *net = job->net;
    cr_status st = cr_tape_create(net, GRAD_ROWS, &job->ws[w].tape);
    if (st != CR_OK) return st;
    const size_t bytes = GRAD_ROWS * net->dims[net->n_layers] * sizeof(real);
    job->ws[w].g = malloc(bytes);
    return job->ws[w].g ? CR_OK : cr_fail_nomem("cr_net_input_grad: a worker's cotangents", bytes);
}

static cr_status FN(grad_task)(void *ctx, size_t t, int w) {
    FN(grad_job) *job = ctx;
    const cr_net *net = job->net;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    const size_t i0 = t * job->chunk, m = job->n - i0 < job->chunk ? job->n - i0 : job->chunk;
    cr_status st = FN(grad_job_scratch)(job, w);
    if (st != CR_OK) return st;
    cr_tape *tape = job->ws[w].tape;
    real *g = job->ws[w].g, *dx = job->grad + i0 * d;
    if (job->cls)
        return FN(iu_grad_rows)(net, tape, g, m, job->x + i0 * d, job->cls + i0, job->of_probs,
                                dx, job->out ? job->out + i0 : NULL, &job->pk);
    if ((st = FN(iu_forward)(net, tape, m, job->x + i0 * d, &job->pk)) != CR_OK) return st;
    const real *y = job->y + i0 * k;
    if (job->out) {
        FN(net_loss)(net, tape, y);
        memcpy(job->out + i0, tape->loss, m * sizeof(real));
    }
    /* G_o <- ŷ − y (the fused softmax + CE VJP) or o − t (the head link), then G_x <- the
       VJP chain: row i is ∂J_i/∂x_i */
    FN(net_head_vjp)(net, tape, m, y, g);
    return FN(iu_vjp_input)(net, tape, g, dx, &job->pk);
}

/* Runs the job described by `spec` (its scratch slots empty) on the workers. */
static cr_status FN(grad_run)(const FN(grad_job) *spec) {
    FN(grad_job) *job = malloc(sizeof *job); /* large (per-worker slots): on the heap */
    if (!job) return CR_FAIL(CR_ERR_NOMEM);
    *job = *spec;
    job->chunk = cr_even_chunk(job->n, GRAD_ROWS);
    const size_t tasks = (job->n + job->chunk - 1) / job->chunk;
    cr_status st = FN(iu_pack)(job->net, job->grad, &job->pk);
    if (st == CR_OK) st = cr_parallel_for(job->cx, tasks, FN(grad_task), job);
    for (int w = 0; w < CR_MAX_WORKERS; w++) {
        cr_tape_free(job->ws[w].tape);
        free(job->ws[w].g);
    }
    iu_packs_free(&job->pk);
    free(job);
    return st;
}

cr_status CR_TYPED(cr_net_input_grad_targets_f32, cr_net_input_grad_targets_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const real *y, real *dx, real *loss) {
    if (!net || !x || !y || !dx || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    return FN(grad_run)(&(FN(grad_job)){.cx = cx, .net = net, .n = n, .x = x, .y = y, .grad = dx, .out = loss});
}

/* The class labels' one-hot targets, then the targets' gradient: the same numbers. */
cr_status CR_TYPED(cr_net_input_grad_f32, cr_net_input_grad_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const cr_label *labels, real *dx, real *loss) {
    if (!net || !x || !labels || !dx || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (net->head != CR_HEAD_SOFTMAX_CE)
        return cr_fail(CR_ERR_ARG, "cr_net_input_grad: class labels need the softmax head; a regressor's "
                                   "targets go to cr_net_input_grad_targets");
    const size_t k = net->dims[net->n_layers];
    if (cr_check_labels("cr_net_input_grad", "labels", n, labels, k) != CR_OK) return CR_ERR_ARG;
    size_t count;
    if (cr_mul_size(n, k, &count) != CR_OK || count > SIZE_MAX / sizeof(real)) return CR_ERR_OVERFLOW;
    real *y = malloc(count * sizeof *y);
    if (!y) return cr_fail(CR_ERR_NOMEM, "cr_net_input_grad: out of memory for %zu x %zu targets", n, k);
    cr_status st = FN(onehot)(n, k, labels, y);
    if (st == CR_OK) st = FN(net_input_grad_targets)(cx, net, n, x, y, dx, loss);
    free(y);
    return st;
}

cr_status CR_TYPED(cr_net_class_grad_f32, cr_net_class_grad_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const cr_label *cls, int of_probs, real *grad,
    real *score) {
    if (!net || !x || !cls || !grad || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (cr_check_labels("cr_net_class_grad", "cls", n, cls, net->dims[net->n_layers]) != CR_OK) return CR_ERR_ARG;
    return FN(grad_run)(&(FN(grad_job)){.cx = cx, .net = net, .n = n, .x = x, .cls = cls,
                                        .of_probs = of_probs, .grad = grad, .out = score});
}
