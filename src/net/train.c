/*
 * The training step and loop (float32): a minibatch step through the gemms,
 * the per-example SGD path, an epoch with a seeded shuffle, and evaluation.
 * Everything works in a workspace allocated once (cr_train_ws): nothing in
 * here allocates.
 *
 * Backward for one step, layer l from the top (G = dJ/dr_l, N x dout, of the
 * SUMMED loss; the mean's gradient is G / N):
 *     G_in  = G W_lᵀ ∘ act'(r_(l-1))       (before W_l changes)
 *     W_l  <- (1 - lr wd) W_l - (lr/N) H_(l-1)ᵀ G     (plain SGD, one gemm)
 *     or  dW_l = (1/N) H_(l-1)ᵀ G, db_l = (1/N) Σ G   (then cr_optim_step_f32)
 *
 * With two workers (cr_train_ws_set_threads) the same step is split between
 * the calling thread (worker 0) and a persistent second thread (worker 1);
 * see step2 below.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "core/parallel.h"
#include "train_kernels.h"
/* the one forward walk and the one reverse walk, float32 (net_private.tmpl.h) */
#define CR_REAL_F32
#include "ops/real.h"
#include "net_private.tmpl.h"

static float *wptr(cr_net *net, int l) { return (float *)net->params + net->w_offset[l]; }
static float *bptr(cr_net *net, int l) { return (float *)net->params + net->b_offset[l]; }

static void prefetch_row(const float *row, size_t d) {
#if defined(__GNUC__)
    const char *p = (const char *)row, *end = (const char *)(row + d);
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 1);
#else
    (void)row;
    (void)d;
#endif
}

static size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

cr_status cr_train_ws_create(const cr_net *net, size_t max_batch, size_t n_examples,
                             cr_train_ws **out) {
    *out = NULL;
    if (!net || max_batch == 0 || !cr_net_is_plain_classifier(net)) return CR_ERR_ARG;
    if (net->dtype != CR_F32) return CR_ERR_DTYPE;
    if (n_examples > UINT32_MAX) return CR_ERR_OVERFLOW;
    size_t d = net->dims[0], xb, gb, yb, pb, zb, maxdim = 0; /* maxdim: Σ input widths */
    for (int l = 0; l < net->n_layers; l++) maxdim += net->dims[l];
    if (!cr_mul_size(max_batch, d, &xb) || !cr_mul_size(xb, sizeof(float), &xb) ||
        !cr_mul_size(net->n_params, sizeof(float), &gb) ||
        !cr_mul_size(max_batch, sizeof(int32_t), &yb) ||
        !cr_mul_size(n_examples, sizeof(uint32_t), &pb) ||
        !cr_mul_size(maxdim, sizeof(uint32_t), &zb))
        return CR_ERR_OVERFLOW;
    size_t header = align64(sizeof(cr_train_ws));
    xb = align64(xb);
    gb = align64(gb);
    yb = align64(yb);
    pb = align64(pb);
    zb = align64(zb);
    if (xb > SIZE_MAX / 8 || gb > SIZE_MAX / 8 || pb > SIZE_MAX / 8 || zb > SIZE_MAX / 8)
        return CR_ERR_OVERFLOW;
    size_t total = header + xb + gb + yb + pb + zb;
    char *mem = aligned_alloc(64, total);
    if (!mem) return CR_ERR_NOMEM;
    memset(mem, 0, total);
    cr_train_ws *ws = (cr_train_ws *)mem;
    ws->max_batch = max_batch;
    ws->n_examples = n_examples;
    ws->grads = (float *)(mem + header);
    ws->xb = (float *)(mem + header + gb);
    ws->yb = (int32_t *)(mem + header + gb + xb);
    ws->perm = (uint32_t *)(mem + header + gb + xb + yb);
    ws->nz = (uint32_t *)(mem + header + gb + xb + yb + pb);
    ws->workers = 1;
    cr_status st = cr_tape_create(net, max_batch, &ws->tape);
    if (st != CR_OK) {
        free(mem);
        return st;
    }
    *out = ws;
    return CR_OK;
}

void cr_train_ws_free(cr_train_ws *ws) {
    if (!ws) return;
    cr_train_ws_set_threads(ws, 1);
    cr_tape_free(ws->tape);
    free(ws);
}

/* Per-row loss lse(θ) − θ_label (in double: finite for every finite θ) and
   argmax of θ; returns 0 if the loss is not finite. */
static int row_loss(size_t k, const float *theta, int32_t label, double *loss_sum,
                    size_t *correct) {
    float m = theta[0];
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (theta[j] > m) {
            m = theta[j];
            am = j;
        }
    double s = 0;
    for (size_t j = 0; j < k; j++) s += exp((double)theta[j] - (double)m);
    double loss = (double)m + log(s) - (double)theta[label];
    if (loss_sum) *loss_sum += loss;
    if (correct && am == (size_t)label) (*correct)++;
    return isfinite(loss) != 0;
}

/* The training loss of a row from the softmax already computed: −log ŷ_label
   (float, one log); when ŷ_label is tiny or not finite, the exact form above. */
static int row_loss_fast(size_t k, const float *theta, const float *probs, int32_t label,
                         double *loss_sum, size_t *correct) {
    float p = probs[label];
    if (!(p > 1e-30f)) return row_loss(k, theta, label, loss_sum, correct);
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (theta[j] > theta[am]) am = j;
    if (loss_sum) *loss_sum += -(double)logf(p);
    if (correct && am == (size_t)label) (*correct)++;
    return 1;
}

/* The first layer (1-based) whose outputs r_l (n rows) hold NaN/Inf, else L. */
static int first_bad_output(const cr_net *net, const cr_tape *tape, size_t n) {
    for (int l = 0; l < net->n_layers; l++)
        if (!cr_all_finite_f32(n * net->dims[l + 1], tape->pre[l])) return l + 1;
    return net->n_layers;
}

/* After an update: 0 if every parameter is finite, else the first bad layer (1-based). */
static int first_bad_params(cr_net *net) {
    if (cr_all_finite_f32(net->n_params, net->params)) return 0;
    for (int l = 0; l < net->n_layers; l++)
        if (!cr_all_finite_f32(net->dims[l] * net->dims[l + 1], wptr(net, l)) ||
            !cr_all_finite_f32(net->dims[l + 1], bptr(net, l)))
            return l + 1;
    return net->n_layers;
}

/* After the forward pass, for its rows [i0, i1): the finiteness check, the
   loss, accuracy and G_θ = ŷ − y (of the summed loss) into tape->grad_a.
   Returns 0, or the 1-based layer where NaN/Inf appeared first (see
   cr_train_ws.fault_layer). */
static int forward_loss(const cr_net *net, cr_tape *tape, size_t i0, size_t i1,
                        const int32_t *labels, double *loss_sum, size_t *correct) {
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    /* NaN/Inf anywhere in the forward pass, including parameters that the
       previous update made non-finite: every weight and bias of a layer feeds
       every row of its output r_l (0 · inf = NaN), so checking the small r_l
       replaces a pass over the whole parameter block */
    for (int l = 0; l < L; l++) {
        size_t dl = net->dims[l + 1];
        if (!cr_all_finite_f32((i1 - i0) * dl, (const float *)tape->pre[l] + i0 * dl))
            return l + 1;
    }
    const float *theta = tape->pre[L - 1], *probs = tape->post[L - 1];
    float *g = tape->grad_a;
    int finite = 1;
    for (size_t i = i0; i < i1; i++) {
        finite &= row_loss_fast(k, theta + i * k, probs + i * k, labels[i], loss_sum, correct);
        memcpy(g + i * k, probs + i * k, k * sizeof(float));
        g[i * k + (size_t)labels[i]] -= 1.0f;
    }
    return finite ? 0 : L;
}

/* ------------------------------------------------------------ two workers */

/* A barrier for the two workers: the last to arrive bumps a generation
   counter; the other spins on it for a while (the wait between two layers is
   a few microseconds), then sleeps on a condition variable. */
typedef struct {
    atomic_uint gen;
    atomic_uint count;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} cr_barrier;

static void cpu_relax(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#endif
}

enum { BARRIER_SPIN = 1 << 15 };

static void barrier_wait(cr_barrier *b) {
    unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == 1) {
        /* the other worker cannot arrive again before it sees the new gen */
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        pthread_mutex_lock(&b->mu);
        atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->mu);
        return;
    }
    for (int i = 0; i < BARRIER_SPIN; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g) return;
        cpu_relax();
    }
    pthread_mutex_lock(&b->mu);
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == g)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

struct cr_train_pool {
    pthread_t thread;
    cr_barrier bar;
    /* the job of the current step: written by worker 0 before the start
       barrier, read by both after it */
    int quit;
    cr_net *net;
    cr_train_ws *ws;
    const float *x;
    size_t n;
    int fused;
    float decay, a, inv_n;
    const int32_t *labels;
    const float *src;        /* if not NULL: gather rows idx[0..n) of src into x first */
    const uint32_t *idx;
    const uint32_t *next_idx; /* the next batch's rows (next_n), to prefetch */
    size_t next_n;
    /* each worker's share of the step's loss, correct count and fault layer */
    double loss[2];
    size_t correct[2];
    int fault[2];
};

static void pool_barrier(void *ctx) { barrier_wait(ctx); }

/*
 * Worker w's part of a step (both run it between the start and end barriers).
 *   forward l < L-1:  r_l[:, C_w] = H W_l[:, C_w] + b_l[C_w], act on C_w;  barrier
 *   worker 0:         the last layer, the finiteness check, loss and G;    barrier
 *   backward l >= 1:  G_in[:, R_w] = G W_l[R_w, :]ᵀ ∘ act', then W_l[R_w, :] (or
 *                     dW_l[R_w, :]); b_l on worker 0;  barrier if l - 1 >= 1
 *   backward l = 0:   W_0[:, C_w] and b_0[C_w] from G[:, C_w], which is
 *                     the worker's own R_w of layer 1: no barrier before it.
 * C_w and R_w are split(dims[l+1]) and split(dims[l]); every block of W_l is
 * read and written by one worker within a step, and every block read by the
 * other worker was written before a barrier.
 */
static void step2(struct cr_train_pool *p, int w) {
    cr_net *net = p->net;
    cr_tape *tape = p->ws->tape;
    const size_t n = p->n;
    const float *x = p->x;
    if (p->src) {
        /* the batch's rows (and a prefetch of the next batch's), half each */
        size_t d = net->dims[0], i0 = w ? (n + 1) / 2 : 0, i1 = w ? n : (n + 1) / 2;
        float *xb = p->ws->xb;
        for (size_t i = i0; i < i1; i++)
            memcpy(xb + i * d, p->src + (size_t)p->idx[i] * d, d * sizeof(float));
        size_t m = p->next_n, j0 = w ? (m + 1) / 2 : 0, j1 = w ? m : (m + 1) / 2;
        for (size_t j = j0; j < j1; j++) prefetch_row(p->src + (size_t)p->next_idx[j] * d, d);
        barrier_wait(&p->bar);
    }
    /* forward: the worker's columns of each hidden layer, its rows of the last */
    const cr_walk_split split = {w, 2, pool_barrier, &p->bar};
    cr_net_forward_walk_f32(net, tape, n, x, &(cr_forward_opts_f32){.split = &split});
    {
        size_t i0 = w ? (n + 1) / 2 : 0, i1 = w ? n : (n + 1) / 2;
        p->fault[w] = forward_loss(net, tape, i0, i1, p->labels, &p->loss[w], &p->correct[w]);
    }
    barrier_wait(&p->bar); /* p->fault[] are written before this barrier */
    if (p->fault[0] || p->fault[1]) return;
    /* backward: the worker's inputs of each layer (the columns of layer 0) */
    cr_net_reverse_walk_f32(net, tape, n, tape->grad_a,
                            &(cr_reverse_opts_f32){.pdst = p->fused ? (float *)net->params
                                                                    : p->ws->grads,
                                                   .alpha = p->fused ? p->a : p->inv_n,
                                                   .beta = p->fused ? p->decay : 0.0f,
                                                   .split = &split});
}

static void *worker_main(void *arg) {
    struct cr_train_pool *p = arg;
    for (;;) {
        barrier_wait(&p->bar); /* the start of a step, or quit */
        if (p->quit) break;
        step2(p, 1);
        barrier_wait(&p->bar); /* the end of the step */
    }
    return NULL;
}

cr_status cr_train_ws_set_threads(cr_train_ws *ws, int n) {
    if (!ws) return CR_ERR_ARG;
    if (n >= 2 && !ws->pool) {
        struct cr_train_pool *p = calloc(1, sizeof *p);
        if (!p) return CR_ERR_NOMEM;
        atomic_init(&p->bar.gen, 0);
        atomic_init(&p->bar.count, 0);
        if (pthread_mutex_init(&p->bar.mu, NULL) != 0) {
            free(p);
            return CR_ERR_NOMEM;
        }
        if (pthread_cond_init(&p->bar.cv, NULL) != 0) {
            pthread_mutex_destroy(&p->bar.mu);
            free(p);
            return CR_ERR_NOMEM;
        }
        p->ws = ws;
        if (pthread_create(&p->thread, NULL, worker_main, p) != 0) {
            pthread_cond_destroy(&p->bar.cv);
            pthread_mutex_destroy(&p->bar.mu);
            free(p);
            return CR_ERR_NOMEM;
        }
        cr_blas_serial_enter(); /* each worker's gemms single-threaded, until the pool ends */
        ws->pool = p;
        ws->workers = 2;
    } else if (n < 2 && ws->pool) {
        struct cr_train_pool *p = ws->pool;
        p->quit = 1;
        barrier_wait(&p->bar);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->bar.cv);
        pthread_mutex_destroy(&p->bar.mu);
        cr_blas_serial_leave();
        free(p);
        ws->pool = NULL;
        ws->workers = 1;
    }
    return CR_OK;
}

static cr_status step_args(const cr_net *net, const cr_optim *opt, const cr_train_ws *ws,
                           size_t n, const float *x, const int32_t *labels) {
    if (!net || !opt || !ws || !x || !labels || n == 0) return CR_ERR_ARG;
    if (net->dtype != CR_F32 || opt->dtype != CR_F32) return CR_ERR_DTYPE;
    if (opt->n_params != net->n_params || ws->tape->n_layers != net->n_layers ||
        !cr_net_is_plain_classifier(net))
        return CR_ERR_ARG;
    if (n > ws->max_batch) return CR_ERR_SHAPE;
    const size_t k = net->dims[net->n_layers];
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= k) return CR_ERR_ARG;
    return CR_OK;
}

/* The step on two workers; the checks of cr_train_step_f32 are done. With
   src, x is ws->xb and the workers first gather its rows src[idx[i]]. */
static cr_status train_step2(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const int32_t *labels, double *loss_sum,
                             size_t *correct, const float *src, const uint32_t *idx,
                             const uint32_t *next_idx, size_t next_n) {
    struct cr_train_pool *p = ws->pool;
    const cr_optim_config *c = &opt->cfg;
    const float lr = (float)cr_optim_lr(c, opt->step);
    p->net = net;
    p->x = x;
    p->n = n;
    p->labels = labels;
    p->src = src;
    p->idx = idx;
    p->next_idx = next_idx;
    p->next_n = next_n;
    p->loss[0] = p->loss[1] = 0;
    p->correct[0] = p->correct[1] = 0;
    p->fault[0] = p->fault[1] = 0;
    p->fused = c->kind == CR_OPT_SGD;
    p->inv_n = 1.0f / (float)n;
    p->decay = 1.0f - lr * (float)c->weight_decay;
    p->a = -lr * p->inv_n;
    ws->tape->n = n;
    ws->tape->input = x;
    ws->fault_layer = 0;
    barrier_wait(&p->bar); /* start */
    step2(p, 0);
    barrier_wait(&p->bar); /* end */
    if (loss_sum) *loss_sum += p->loss[0] + p->loss[1];
    if (correct) *correct += p->correct[0] + p->correct[1];
    int f0 = p->fault[0], f1 = p->fault[1];
    if (f0 || f1) {
        ws->fault_layer = !f0 ? f1 : !f1 ? f0 : f0 < f1 ? f0 : f1;
        return CR_ERR_NONFINITE;
    }
    if (p->fused) {
        opt->step++;
        return CR_OK;
    }
    return cr_optim_step_f32(opt, net->params, ws->grads);
}

cr_status cr_train_step_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                            const float *x, const int32_t *labels, double *loss_sum,
                            size_t *correct) {
    cr_status ast = step_args(net, opt, ws, n, x, labels);
    if (ast != CR_OK) return ast;
    if (ws->pool)
        return train_step2(net, opt, ws, n, x, labels, loss_sum, correct, NULL, NULL, NULL, 0);
    cr_tape *tape = ws->tape;
    cr_net_forward_walk_f32(net, tape, n, x, NULL);
    tape->n = n;
    tape->input = x;
    ws->fault_layer = 0;
    if ((ws->fault_layer = forward_loss(net, tape, 0, n, labels, loss_sum, correct)) != 0)
        return CR_ERR_NONFINITE;
    /* backward, with the update fused into the gemms for plain SGD:
         W <- (1 − lr wd) W − (lr/N) Hᵀ G,  b <- (1 − lr wd) b − (lr/N) Σ G
       else the mean loss's gradients into ws->grads for the optimiser */
    const cr_optim_config *c = &opt->cfg;
    const int fused = c->kind == CR_OPT_SGD;
    const float lr = (float)cr_optim_lr(c, opt->step);
    const float inv_n = 1.0f / (float)n;
    cr_net_reverse_walk_f32(net, tape, n, tape->grad_a,
                            &(cr_reverse_opts_f32){.pdst = fused ? (float *)net->params : ws->grads,
                                                   .alpha = fused ? -lr * inv_n : inv_n,
                                                   .beta = fused ? 1.0f - lr * (float)c->weight_decay
                                                                 : 0.0f});
    if (fused) {
        opt->step++;
    } else {
        cr_status st = cr_optim_step_f32(opt, net->params, ws->grads);
        if (st != CR_OK) return st;
    }
    /* parameters this update made non-finite are caught by the next forward
       pass (above) or by cr_train_epoch_f32's check at the end of the epoch */
    return CR_OK;
}

cr_status cr_train_sgd1_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, const float *x,
                            int32_t label, double *loss_sum, size_t *correct) {
    if (!net || !opt || !ws || !x) return CR_ERR_ARG;
    if (net->dtype != CR_F32 || opt->dtype != CR_F32) return CR_ERR_DTYPE;
    if (opt->cfg.kind != CR_OPT_SGD || opt->cfg.weight_decay != 0 ||
        ws->tape->n_layers != net->n_layers || !cr_net_is_plain_classifier(net))
        return CR_ERR_ARG;
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    if (label < 0 || (size_t)label >= k) return CR_ERR_ARG;
    cr_tape *tape = ws->tape;

    /* forward: r = b + Σ_{i: h_i ≠ 0} h_i W[i,:] (skips zero pixels / dead units); the
       nonzero inputs of each layer are kept for its update in the backward pass */
    size_t nnz[CR_MAX_LAYERS];
    cr_net_forward_walk_f32(net, tape, 1, x, &(cr_forward_opts_f32){.nz = ws->nz, .nnz = nnz});
    tape->n = 1;
    tape->input = x;
    ws->fault_layer = 0;
    if (!row_loss_fast(k, tape->pre[L - 1], tape->post[L - 1], label, loss_sum, correct)) {
        ws->fault_layer = first_bad_output(net, tape, 1);
        return CR_ERR_NONFINITE;
    }
    float *g = tape->grad_a;
    memcpy(g, tape->post[L - 1], k * sizeof(float));
    g[label] -= 1.0f;
    /* backward: gin = W g (old W), ∘ a'; W -= lr hᵀ g on the nonzero rows, b -= lr g */
    const float lr = (float)cr_optim_lr(&opt->cfg, opt->step);
    cr_net_reverse_walk_f32(net, tape, 1, g,
                            &(cr_reverse_opts_f32){.pdst = (float *)net->params, .alpha = -lr,
                                                   .beta = 1.0f, .nz = ws->nz, .nnz = nnz,
                                                   .fault = &ws->fault_layer});
    if (ws->fault_layer) return CR_ERR_NONFINITE; /* not counted, as above */
    opt->step++;
    return CR_OK;
}

cr_status cr_train_epoch_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const int32_t *labels, size_t batch, cr_rng *rng,
                             cr_train_stats *stats, cr_train_progress_fn progress,
                             size_t every, void *user) {
    if (!net || !opt || !ws || !x || !labels || !rng || !stats || n == 0 || batch == 0)
        return CR_ERR_ARG;
    if (net->dtype != CR_F32) return CR_ERR_DTYPE;
    if (n > ws->n_examples || batch > ws->max_batch) return CR_ERR_SHAPE;
    memset(stats, 0, sizeof *stats);
    const size_t d = net->dims[0];
    uint32_t *perm = ws->perm;
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    cr_shuffle_u32(rng, n, perm);
    const int per_example =
        batch == 1 && opt->cfg.kind == CR_OPT_SGD && opt->cfg.weight_decay == 0;
    size_t steps = 0;
    for (size_t start = 0; start < n; start += batch) {
        size_t nb = n - start < batch ? n - start : batch;
        cr_status st;
        if (per_example) {
            size_t e = perm[start];
            st = cr_train_sgd1_f32(net, opt, ws, x + e * d, labels[e], &stats->loss_sum,
                                   &stats->correct);
        } else if (ws->pool) {
            /* two workers: they gather the rows themselves, half each */
            for (size_t i = 0; i < nb; i++) ws->yb[i] = labels[perm[start + i]];
            size_t next = start + nb, nn = n - next < batch ? n - next : batch;
            st = step_args(net, opt, ws, nb, ws->xb, ws->yb);
            if (st == CR_OK)
                st = train_step2(net, opt, ws, nb, ws->xb, ws->yb, &stats->loss_sum,
                             &stats->correct, x, perm + start, perm + next, nn);
        } else {
            for (size_t i = 0; i < nb; i++) {
                size_t e = perm[start + i];
                memcpy(ws->xb + i * d, x + e * d, d * sizeof(float));
                ws->yb[i] = labels[e];
            }
            /* the next batch's rows are scattered over the dataset: ask for them
               now, so that they arrive while this step's gemms run */
            size_t next = start + nb, nn = n - next < batch ? n - next : batch;
            for (size_t i = 0; i < nn; i++) prefetch_row(x + (size_t)perm[next + i] * d, d);
            st = cr_train_step_f32(net, opt, ws, nb, ws->xb, ws->yb, &stats->loss_sum,
                                   &stats->correct);
        }
        if (st != CR_OK) return st;
        stats->seen += nb;
        steps++;
        if (progress && every && steps % every == 0 && stats->seen < n &&
            progress(user, stats, n))
            return CR_OK;
    }
    /* the last update of the epoch has no next forward pass to reveal it */
    if ((ws->fault_layer = first_bad_params(net)) != 0) {
        opt->step--; /* not counted: opt->step + 1 names the step */
        return CR_ERR_NONFINITE;
    }
    if (progress) progress(user, stats, n);
    return CR_OK;
}

cr_status cr_evaluate_f32(const cr_net *net, cr_tape *tape, size_t n, const float *x,
                          const int32_t *labels, double *loss_sum, size_t *correct,
                          uint64_t *confusion, float *probs) {
    if (!net || !tape || !x || net->head != CR_HEAD_SOFTMAX_CE) return CR_ERR_ARG;
    if (net->dtype != CR_F32 || tape->dtype != CR_F32) return CR_ERR_DTYPE;
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    if (labels)
        for (size_t i = 0; i < n; i++)
            if (labels[i] < 0 || (size_t)labels[i] >= k) return CR_ERR_ARG;
    for (size_t start = 0; start < n; start += tape->max_batch) {
        size_t nb = n - start < tape->max_batch ? n - start : tape->max_batch;
        cr_status st = cr_net_forward_f32(net, tape, nb, x + start * d);
        if (st != CR_OK) return st;
        const float *theta = tape->out; /* o: θ, or a_out(θ) with an output activation */
        if (probs) memcpy(probs + start * k, tape->post[L - 1], nb * k * sizeof(float));
        if (!labels) continue;
        for (size_t i = 0; i < nb; i++) {
            const float *t = theta + i * k;
            size_t am = 0;
            for (size_t j = 1; j < k; j++)
                if (t[j] > t[am]) am = j;
            row_loss(k, t, labels[start + i], loss_sum, correct);
            if (confusion) confusion[(size_t)labels[start + i] * k + am]++;
        }
    }
    return CR_OK;
}
