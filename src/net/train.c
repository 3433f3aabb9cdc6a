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
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "core/parallel.h"
#include "kernels/elementwise.h"
#include "train_pool.h"
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

/*
 * Two workers run a step in phases (step2 below): worker 0, the caller,
 * publishes each step's job; worker 1, a persistent thread, copies it and
 * joins in. In every phase each worker computes the halves of the layer it
 * claims (cr_walk_split.claim): its own first, then the other's if that is
 * still unclaimed. So a worker that the host has taken off its core holds up
 * nothing it has not started: the other one does its half, with the same
 * arithmetic (the halves, not the workers, fix the numbers). A phase ends when
 * both of its halves are done (the barrier). Worker 0 ends a step by closing
 * it (no half of it can be claimed any more) and waiting for the halves worker
 * 1 did claim; worker 1 may still be inside the step then, claiming nothing:
 * outside its claims it reads only its copy of the job (with the net's struct:
 * the caller may free the net once the step has returned), the workspace's
 * tape struct, and the fault flags (atomic).
 *
 * Claims and completions are per half, as keys step << 8 | phase that only
 * grow. A wait spins briefly (a phase's half takes microseconds), then yields
 * the core a few times, then sleeps on a condition variable.
 */
enum { PHASE_BITS = 8, WAIT_SPINS = 2048, WAIT_YIELDS = 16 };

typedef struct {
    cr_net net; /* the struct (shape and params pointer), copied: the caller may free the net
                   once the step has returned, while worker 1 may still be walking through
                   the closed step */
    cr_train_ws *ws;
    const float *x;
    size_t n;
    int fused, quit;
    float decay, a, inv_n;
    const int32_t *labels;
    const float *src;        /* if not NULL: gather rows idx[0..n) of src into x first */
    const uint32_t *idx;
    const uint32_t *next_idx; /* the next batch's rows (next_n), to prefetch */
    size_t next_n;
    uint64_t step;           /* 1, 2, ... */
} pool_job;

struct cr_train_pool {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool_job job;                    /* the current step's; guarded by mu */
    atomic_uint_fast64_t published;  /* job.step, once it is written */
    atomic_uint_fast64_t claimed[2]; /* the last key for which half h was claimed */
    atomic_uint_fast64_t done[2];    /* the last key whose half h is done */
    atomic_int sleepers;             /* workers waiting on cv */
    atomic_int mode;                 /* cr_pool_mode (train_pool.h) */
    atomic_uint_fast64_t halves[2];  /* halves computed by each worker */
    uint64_t steps;                  /* worker 0's: steps published */
    /* each half's share of the step's loss, correct count and fault layer: written in
       the claim of the half, read after the phase's barrier */
    double loss[2];
    size_t correct[2];
    atomic_int fault[2];
};

/* A worker's view: its copy of the job and where it is in the step. */
typedef struct {
    struct cr_train_pool *p;
    pool_job job;
    unsigned phase;
    int w;
} pool_worker;

static void cpu_relax(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t pool_key(const pool_worker *c) {
    return c->job.step << PHASE_BITS | c->phase;
}

/* The key that closes a step: above every phase of it, below the next step's. */
static uint64_t pool_closed(uint64_t step) {
    return step << PHASE_BITS | ((1u << PHASE_BITS) - 1);
}

/* What a worker waits for: with for_job, a job newer than step `job`; else
   half 0 done up to done0 and half 1 up to done1, or, if closed is not 0, the
   step closed (claimed[] at `closed`: a worker still inside a closed step has
   nothing left to wait for). */
typedef struct {
    int for_job;
    uint64_t job, done0, done1, closed;
} pool_cond;

static int pool_ready(struct cr_train_pool *p, const pool_cond *k) {
    if (k->for_job) return atomic_load(&p->published) > k->job;
    if (atomic_load(&p->done[0]) >= k->done0 && atomic_load(&p->done[1]) >= k->done1) return 1;
    return k->closed && atomic_load(&p->claimed[0]) >= k->closed;
}

static void pool_wait(struct cr_train_pool *p, const pool_cond *k) {
    for (int i = 0; i < WAIT_SPINS; i++) {
        if (pool_ready(p, k)) return;
        cpu_relax();
    }
    for (int i = 0; i < WAIT_YIELDS; i++) {
        if (pool_ready(p, k)) return;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (!pool_ready(p, k)) pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
}

/* After a store the other worker may be waiting for (seq_cst, like the
   sleepers count: either it sees the store or this sees it asleep). */
static void pool_wake(struct cr_train_pool *p) {
    if (atomic_load(&p->sleepers) == 0) return;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* cr_walk_split.claim: the half `prev` (if any) is done; the next half for
   this worker in the current phase: its own, then the other's, if unclaimed. */
static int pool_claim(void *ctx, int prev) {
    pool_worker *c = ctx;
    struct cr_train_pool *p = c->p;
    const uint64_t key = pool_key(c);
    if (prev >= 0) {
        atomic_store(&p->done[prev], key);
        pool_wake(p);
    }
    const int mode = atomic_load_explicit(&p->mode, memory_order_relaxed);
    if (mode == CR_POOL_ONE_IDLE && c->w == 1) return -1;
    const int first = mode == CR_POOL_SWAPPED ? 1 - c->w : c->w;
    for (int i = prev < 0 ? 0 : prev == first ? 1 : 2; i < 2; i++) {
        const int h = i == 0 ? first : 1 - first;
        uint_fast64_t old = atomic_load_explicit(&p->claimed[h], memory_order_relaxed);
        while (old < key)
            if (atomic_compare_exchange_weak_explicit(&p->claimed[h], &old, key,
                                                      memory_order_acq_rel, memory_order_relaxed)) {
                atomic_fetch_add_explicit(&p->halves[c->w], 1, memory_order_relaxed);
                return h;
            }
    }
    return -1;
}

/* cr_walk_split.barrier: both halves of the phase are done; on to the next. */
static void pool_barrier(void *ctx) {
    pool_worker *c = ctx;
    const pool_cond k = {0, 0, pool_key(c), pool_key(c), pool_closed(c->job.step)};
    pool_wait(c->p, &k);
    c->phase++;
}

/* forward_opts.rows_done: the loss, accuracy and G of the half's rows. */
static void pool_rows_done(void *ctx, int half, size_t i0, size_t i1) {
    pool_worker *c = ctx;
    struct cr_train_pool *p = c->p;
    int fault = forward_loss(&c->job.net, c->job.ws->tape, i0, i1, c->job.labels, &p->loss[half],
                             &p->correct[half]);
    atomic_store_explicit(&p->fault[half], fault, memory_order_relaxed);
}

/*
 * A worker's part of a step, phase by phase (each ends at a barrier; h is a half,
 * computed by whichever worker claimed it):
 *   the gather:       half h of the batch's rows (and a prefetch of the next batch's)
 *   forward l < L-1:  r_l[:, C_h] = H W_l[:, C_h] + b_l[C_h], act on C_h
 *   the last layer:   rows R_h of the batch, then their loss and G
 *   backward l >= 2:  G_in[:, R_h] = G W_l[R_h, :]ᵀ ∘ act', then W_l[R_h, :] (or
 *                     dW_l[R_h, :]); b_l with half 0
 *   backward l = 1, 0: the same for layer 1, then W_0[:, C_h] and b_0[C_h] from
 *                     G[:, C_h], which is half h's R_h of layer 1: one phase.
 * C_h and R_h are cr_walk_share of dims[l+1] and dims[l]; every block of W_l is
 * read and written by one half within a step, and every block a half reads
 * that another half wrote was written in an earlier phase.
 */
static void step2(pool_worker *c) {
    const pool_job *j = &c->job;
    const cr_net *net = &j->net;
    cr_tape *tape = j->ws->tape;
    const size_t n = j->n;
    const cr_walk_split split = {c->w, 2, pool_barrier, pool_claim, c};
    if (j->src) {
        const size_t d = net->dims[0], m = j->next_n;
        float *xb = j->ws->xb;
        for (cr_walk_split hf = cr_walk_next(&split, NULL); hf.worker >= 0;
             hf = cr_walk_next(&split, &hf)) {
            const int h = hf.worker;
            size_t i0 = h ? (n + 1) / 2 : 0, i1 = h ? n : (n + 1) / 2;
            for (size_t i = i0; i < i1; i++)
                memcpy(xb + i * d, j->src + (size_t)j->idx[i] * d, d * sizeof(float));
            size_t j0 = h ? (m + 1) / 2 : 0, j1 = h ? m : (m + 1) / 2;
            for (size_t q = j0; q < j1; q++) prefetch_row(j->src + (size_t)j->next_idx[q] * d, d);
        }
        cr_walk_barrier(&split);
    }
    /* forward: the columns of each hidden layer, the rows of the last with their loss */
    cr_net_forward_walk_f32(net, tape, n, j->x,
                            &(cr_forward_opts_f32){.split = &split, .rows_done = pool_rows_done,
                                                   .rows_ctx = c});
    cr_walk_barrier(&split);
    if (atomic_load_explicit(&c->p->fault[0], memory_order_relaxed) ||
        atomic_load_explicit(&c->p->fault[1], memory_order_relaxed))
        return;
    /* backward: the inputs of each layer (the columns of layer 0) */
    cr_net_reverse_walk_f32(net, tape, n, tape->grad_a,
                            &(cr_reverse_opts_f32){.pdst = j->fused ? (float *)net->params
                                                                    : j->ws->grads,
                                                   .alpha = j->fused ? j->a : j->inv_n,
                                                   .beta = j->fused ? j->decay : 0.0f,
                                                   .split = &split});
}

static void *worker_main(void *arg) {
    struct cr_train_pool *p = arg;
    pool_worker c = {.p = p, .w = 1};
    uint64_t seen = 0;
    for (;;) {
        const pool_cond k = {1, seen, 0, 0, 0};
        pool_wait(p, &k); /* a newer step, or quit */
        pthread_mutex_lock(&p->mu);
        c.job = p->job;
        pthread_mutex_unlock(&p->mu);
        seen = c.job.step;
        if (c.job.quit) break;
        c.phase = 0;
        step2(&c);
    }
    return NULL;
}

/* Worker 0: publishes job (its step number set here), runs its part of the
   step, closes it and waits for the halves worker 1 claimed. */
static void pool_run(struct cr_train_pool *p, pool_job job) {
    job.step = ++p->steps;
    p->loss[0] = p->loss[1] = 0;
    p->correct[0] = p->correct[1] = 0;
    atomic_store_explicit(&p->fault[0], 0, memory_order_relaxed);
    atomic_store_explicit(&p->fault[1], 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    p->job = job;
    atomic_store(&p->published, job.step);
    pthread_mutex_unlock(&p->mu);
    pool_wake(p);
    if (job.quit) return;
    pool_worker c = {.p = p, .job = job, .w = 0};
    step2(&c);
    const uint64_t closed = pool_closed(job.step);
    const pool_cond k = {0, 0, atomic_exchange(&p->claimed[0], closed),
                         atomic_exchange(&p->claimed[1], closed), 0};
    pool_wait(p, &k);
}

cr_status cr_train_ws_set_threads(cr_train_ws *ws, int n) {
    if (!ws) return CR_ERR_ARG;
    if (n >= 2 && !ws->pool) {
        struct cr_train_pool *p = calloc(1, sizeof *p);
        if (!p) return CR_ERR_NOMEM;
        atomic_init(&p->published, 0);
        atomic_init(&p->sleepers, 0);
        atomic_init(&p->mode, CR_POOL_OWN_FIRST);
        for (int h = 0; h < 2; h++) {
            atomic_init(&p->claimed[h], 0);
            atomic_init(&p->done[h], 0);
            atomic_init(&p->fault[h], 0);
            atomic_init(&p->halves[h], 0);
        }
        if (pthread_mutex_init(&p->mu, NULL) != 0) {
            free(p);
            return CR_ERR_NOMEM;
        }
        if (pthread_cond_init(&p->cv, NULL) != 0) {
            pthread_mutex_destroy(&p->mu);
            free(p);
            return CR_ERR_NOMEM;
        }
        if (pthread_create(&p->thread, NULL, worker_main, p) != 0) {
            pthread_cond_destroy(&p->cv);
            pthread_mutex_destroy(&p->mu);
            free(p);
            return CR_ERR_NOMEM;
        }
        cr_blas_serial_enter(); /* each worker's gemms single-threaded, until the pool ends */
        ws->pool = p;
        ws->workers = 2;
    } else if (n < 2 && ws->pool) {
        struct cr_train_pool *p = ws->pool;
        pool_run(p, (pool_job){.quit = 1});
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        cr_blas_serial_leave();
        free(p);
        ws->pool = NULL;
        ws->workers = 1;
    }
    return CR_OK;
}

cr_status cr_train_ws_pool_mode(cr_train_ws *ws, cr_pool_mode mode) {
    if (!ws || !ws->pool || (unsigned)mode > CR_POOL_SWAPPED) return CR_ERR_ARG;
    atomic_store_explicit(&ws->pool->mode, (int)mode, memory_order_relaxed);
    return CR_OK;
}

cr_status cr_train_ws_pool_halves(const cr_train_ws *ws, uint64_t halves[2]) {
    if (!ws || !ws->pool || !halves) return CR_ERR_ARG;
    for (int w = 0; w < 2; w++)
        halves[w] = atomic_load_explicit(&ws->pool->halves[w], memory_order_relaxed);
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
    const float lr = (float)cr_optim_lr(c, opt->step), inv_n = 1.0f / (float)n;
    const int fused = c->kind == CR_OPT_SGD;
    ws->tape->n = n;
    ws->tape->input = x;
    ws->fault_layer = 0;
    pool_run(p, (pool_job){.net = *net, .ws = ws, .x = x, .n = n, .fused = fused,
                           .decay = 1.0f - lr * (float)c->weight_decay, .a = -lr * inv_n,
                           .inv_n = inv_n, .labels = labels, .src = src, .idx = idx,
                           .next_idx = next_idx, .next_n = next_n});
    if (loss_sum) *loss_sum += p->loss[0] + p->loss[1];
    if (correct) *correct += p->correct[0] + p->correct[1];
    int f0 = atomic_load_explicit(&p->fault[0], memory_order_relaxed);
    int f1 = atomic_load_explicit(&p->fault[1], memory_order_relaxed);
    if (f0 || f1) {
        ws->fault_layer = !f0 ? f1 : !f1 ? f0 : f0 < f1 ? f0 : f1;
        return CR_ERR_NONFINITE;
    }
    if (fused) {
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
