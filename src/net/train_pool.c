/*
 * Training's two workers (cr_train_ws_set_threads): worker 0, the caller, and
 * a persistent second thread run each minibatch step together, layer by layer,
 * every layer cut into two halves that either worker may compute. The
 * arithmetic is the chain's own steps, the same calls as the one-worker step's
 * walks (net.tmpl.c) on each half's share: the linear op's running forms
 * (ops/linear.tmpl.h: the forward and the VJP on a share of columns, the
 * parameter step on a block of W) and the activation's row of the op table
 * (the forward, and the reverse walk's default diagonal step cr_net_diag_vjp).
 * What this file adds is only the schedule: who computes which half, and when
 * a phase ends.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "chainrule_typed.h"
#include "core/parallel.h"
#include "train_pool.h"
/* the chain's steps, float32 (net_private.tmpl.h) */
#define CR_REAL_F32
#include "ops/real.h"
#include "net_private.tmpl.h"

static float *wptr(const cr_net *net, int l) { return (float *)net->params + net->w_offset[l]; }
static float *bptr(const cr_net *net, int l) { return (float *)net->params + net->b_offset[l]; }

/*
 * Two workers run a step in phases (step2 below): worker 0, the caller,
 * publishes each step's job; worker 1, a persistent thread, copies it and
 * joins in. In every phase each worker computes the halves of the layer it
 * claims (pool_claim): its own first, then the other's if that is
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
    int rows0; /* layer 0's step by rows in a phase of its own (the sparse step) */
    float decay, a, inv_n;
    const cr_label *labels;
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

/* The half `prev` (if any, else -1) is done; the next half for this worker in
   the current phase: its own, then the other's, if unclaimed; -1 when none is left. */
static int pool_claim(pool_worker *c, int prev) {
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

/* Both halves of the phase are done; on to the next. */
static void pool_barrier(pool_worker *c) {
    const pool_cond k = {0, 0, pool_key(c), pool_key(c), pool_closed(c->job.step)};
    pool_wait(c->p, &k);
    c->phase++;
}

/* After the half's rows [i0, i1) of the last layer: their loss, accuracy and G. */
static void pool_rows_done(pool_worker *c, int half, size_t i0, size_t i1) {
    struct cr_train_pool *p = c->p;
    int fault = cr_train_forward_loss_f32(&c->job.net, c->job.ws->tape, i0, i1, c->job.labels, &p->loss[half],
                             &p->correct[half]);
    atomic_store_explicit(&p->fault[half], fault, memory_order_relaxed);
}

/*
 * The two halves of each layer. A step runs in phases, one per layer, ended
 * by the barrier; in each phase the layer is cut into two halves,
 * half_share(h, d): the block [lo, hi) of d rows or columns of half h, rounded
 * to 16 floats (a 64-byte line) so that two halves of a row-major matrix never
 * share a cache line. A worker computes every half it claims (pool_claim): its
 * own first, then the other's if the other worker has not claimed it (it may be
 * off its core: waiting for it would stall both on a loaded host). The halves,
 * not the workers, fix the arithmetic, so the results do not depend on who
 * computed what. The loops below read
 *     for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) { ... half h ... }
 *     pool_barrier(c);
 */
static void half_share(int h, size_t d, size_t *lo, size_t *hi) {
    size_t mid = d >= 32 ? (d / 2 + 8) / 16 * 16 : (d + 1) / 2;
    *lo = h ? mid : 0;
    *hi = h ? d : mid;
}

/* Rows [i0, i1) of half h of n (the batch's rows, as the gather and the last layer cut them). */
static void half_rows(int h, size_t n, size_t *i0, size_t *i1) {
    *i0 = h ? (n + 1) / 2 : 0;
    *i1 = h ? n : (n + 1) / 2;
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
 *                     G[:, C_h], which is half h's R_h of layer 1: one phase;
 *                     or, when layer 0's step is the sparse one (job.rows0), layer 1
 *                     alone, then a phase of its own for W_0[R_h, :] (b_0 with half 0):
 *                     the sparse step walks G's whole rows, and a barrier costs
 *                     less than the halves of columns lose (docs/benchmarks.md).
 * C_h and R_h are half_share of dims[l+1] and dims[l]; every block of W_l is
 * read and written by one half within a step, and every block a half reads
 * that another half wrote was written in an earlier phase.
 */
static void step2(pool_worker *c) {
    const pool_job *j = &c->job;
    const cr_net *net = &j->net;
    const int L = net->n_layers;
    cr_tape *tape = j->ws->tape;
    const size_t n = j->n;
    /* link 0 (the input standardisation): each half its rows R_h of z, with the gather
       when there is one (no phase of its own), else in a phase before layer 0 */
    const int link = net->link_form[0] != CR_AFFINE_NONE;
    if (j->src) {
        const size_t d = net->dims[0], m = j->next_n;
        float *xb = j->ws->xb;
        for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) {
            size_t i0, i1, j0, j1;
            half_rows(h, n, &i0, &i1);
            for (size_t i = i0; i < i1; i++)
                memcpy(xb + i * d, j->src + (size_t)j->idx[i] * d, d * sizeof(float));
            if (link) cr_net_input_link_f32(net, tape, i0, i1, xb);
            half_rows(h, m, &j0, &j1);
            for (size_t q = j0; q < j1; q++)
                cr_train_prefetch_row(j->src + (size_t)j->next_idx[q] * d, d);
        }
        pool_barrier(c);
    } else if (link) {
        for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) {
            size_t i0, i1;
            half_rows(h, n, &i0, &i1);
            cr_net_input_link_f32(net, tape, i0, i1, j->x);
        }
        pool_barrier(c);
    }
    /* forward: the columns C_h of each hidden layer (the linear op, then the activation) */
    const float *in = link ? (const float *)tape->input_z : j->x;
    for (int l = 0; l + 1 < L; l++) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        float *r = tape->pre[l], *hl = tape->post[l];
        const cr_act_ops_f32 *act = cr_act_f32(net->act[l]);
        for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) {
            size_t c0, c1;
            half_share(h, dout, &c0, &c1);
            if (l == 0) /* training's forward product x W_1 (train.c) */
                cr_train_forward0_f32(n, din, dout, in, wptr(net, 0), bptr(net, 0), c0, c1, r);
            else
                cr_linear_forward_share_f32(n, din, dout, in, wptr(net, l), bptr(net, l), c0, c1, r,
                                            NULL);
            if (c0 == 0 && c1 == dout)
                act->forward(n * dout, r, hl);
            else
                for (size_t i = 0; c1 > c0 && i < n; i++)
                    act->forward(c1 - c0, r + i * dout + c0, hl + i * dout + c0);
        }
        pool_barrier(c);
        in = hl;
    }
    /* the last layer on the rows R_h of the batch, its output, then their loss and G */
    {
        const size_t din = net->dims[L - 1], dout = net->dims[L];
        float *theta = tape->pre[L - 1];
        for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) {
            size_t i0, i1;
            half_rows(h, n, &i0, &i1);
            if (i1 > i0) {
                cr_linear_forward_f32(i1 - i0, din, dout, in + i0 * din, wptr(net, L - 1),
                                      bptr(net, L - 1), theta + i0 * dout);
                cr_net_output_rows_f32(net, tape, i0, i1);
            }
            pool_rows_done(c, h, i0, i1);
        }
        pool_barrier(c);
    }
    if (atomic_load_explicit(&c->p->fault[0], memory_order_relaxed) ||
        atomic_load_explicit(&c->p->fault[1], memory_order_relaxed))
        return;
    /* backward: the inputs R_h of each layer (with the layer below's columns C_h at
       l = 1), each half the reverse walk's steps on its share; the parameter step
       into the parameters (fused SGD) or the gradient block */
    float *dst = j->fused ? (float *)net->params : j->ws->grads;
    const float alpha = j->fused ? j->a : j->inv_n, beta = j->fused ? j->decay : 0.0f;
    float *buf0 = tape->grad_a, *buf1 = tape->grad_b, *g = buf0;
    for (int l = L - 1; l >= 0; l--) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        float *gh = g == buf0 ? buf1 : buf0;
        for (int h = pool_claim(c, -1); h >= 0; h = pool_claim(c, h)) {
            size_t lo, hi;
            half_share(h, din, &lo, &hi);
            if (l > 0) {
                /* G_h[:, R_h] <- G W_l[R_h, :]ᵀ, then ∘ a'(r_{l−1}) on R_h */
                cr_linear_vjp_share_f32(n, 1, din, dout, wptr(net, l), g, lo, hi, gh, din, NULL,
                                        NULL);
                cr_net_diag_vjp_f32(NULL, &(cr_diag_link_f32){net, l - 1, net->act[l - 1], n, din,
                                                              lo, hi, tape->pre[l - 1],
                                                              tape->post[l - 1], gh, gh});
                /* W_l[R_h, :] <- β W_l[R_h, :] + α H_{l−1}[:, R_h]ᵀ G; b_l with half 0 */
                cr_linear_param_step_f32(n, din, dout, tape->post[l - 1], g, alpha, beta,
                                         dst + net->w_offset[l],
                                         h == 0 ? dst + net->b_offset[l] : NULL, lo, hi, 0, dout);
            }
            const float *x0 = link ? tape->input_z : tape->input;
            if (l == 0 && j->rows0) { /* W_0[R_h, :] by the sparse step; b_0 with half 0 */
                cr_train_step0_f32(n, din, dout, x0, g, alpha, beta, dst + net->w_offset[0],
                                   h == 0 ? dst + net->b_offset[0] : NULL, lo, hi, 0, dout);
            } else if (l <= 1 && !j->rows0) {
                /* layer 0's columns C_h: its G is G_h[:, R_h] of layer 1, just made */
                const float *g0 = l == 1 ? gh : g;
                const size_t d0 = net->dims[0], h0 = net->dims[1];
                size_t c0, c1;
                half_share(h, h0, &c0, &c1);
                cr_train_step0_f32(n, d0, h0, x0, g0, alpha, beta, dst + net->w_offset[0],
                                   dst + net->b_offset[0], 0, d0, c0, c1);
            }
        }
        /* layer 0 went with layer 1 (or was the only one), or had its own phase */
        if (l == 0 || (l == 1 && !j->rows0)) break;
        pool_barrier(c);
        g = gh;
    }
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
    if (!ws) return CR_FAIL(CR_ERR_ARG);
    if (n >= 2 && !ws->pool) {
        struct cr_train_pool *p = calloc(1, sizeof *p);
        if (!p) return CR_FAIL(CR_ERR_NOMEM);
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
            return CR_FAIL(CR_ERR_NOMEM);
        }
        if (pthread_cond_init(&p->cv, NULL) != 0) {
            pthread_mutex_destroy(&p->mu);
            free(p);
            return CR_FAIL(CR_ERR_NOMEM);
        }
        if (pthread_create(&p->thread, NULL, worker_main, p) != 0) {
            pthread_cond_destroy(&p->cv);
            pthread_mutex_destroy(&p->mu);
            free(p);
            return CR_FAIL(CR_ERR_NOMEM);
        }
        ws->pool = p;
        ws->workers = 2;
    } else if (n < 2 && ws->pool) {
        struct cr_train_pool *p = ws->pool;
        pool_run(p, (pool_job){.quit = 1});
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        ws->pool = NULL;
        ws->workers = 1;
    }
    return CR_OK;
}

cr_status cr_train_ws_pool_mode(cr_train_ws *ws, cr_pool_mode mode) {
    if (!ws || !ws->pool || (unsigned)mode > CR_POOL_SWAPPED) return CR_FAIL(CR_ERR_ARG);
    atomic_store_explicit(&ws->pool->mode, (int)mode, memory_order_relaxed);
    return CR_OK;
}

cr_status cr_train_ws_pool_halves(const cr_train_ws *ws, uint64_t halves[2]) {
    if (!ws || !ws->pool || !halves) return CR_FAIL(CR_ERR_ARG);
    for (int w = 0; w < 2; w++)
        halves[w] = atomic_load_explicit(&ws->pool->halves[w], memory_order_relaxed);
    return CR_OK;
}

/* The step on two workers; the checks of cr_train_step_f32 are done. With
   src, x is ws->xb and the workers first gather its rows src[idx[i]]. */
cr_status cr_train_step2_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const cr_label *labels, double *loss_sum,
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
                           .rows0 = cr_train_step0_sparse(n),
                           .decay = 1.0f - lr * (float)c->weight_decay, .a = -lr * inv_n,
                           .inv_n = inv_n, .labels = labels, .src = src, .idx = idx,
                           .next_idx = next_idx, .next_n = next_n});
    if (loss_sum) *loss_sum += p->loss[0] + p->loss[1];
    if (correct) *correct += p->correct[0] + p->correct[1];
    int f0 = atomic_load_explicit(&p->fault[0], memory_order_relaxed);
    int f1 = atomic_load_explicit(&p->fault[1], memory_order_relaxed);
    if (f0 || f1) {
        ws->fault_layer = !f0 ? f1 : !f1 ? f0 : f0 < f1 ? f0 : f1;
        return CR_FAIL(CR_ERR_NONFINITE);
    }
    if (fused) {
        opt->step++;
        return CR_OK;
    }
    return cr_optim_step_f32(opt, net->params, ws->grads);
}
