/* The context, its parallel task loop and the BLAS holds (see parallel.h). */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu_budget.h"
#include "core/fail.h"

/* ------------------------------------------------------------ the context */

static const cr_ctx default_ctx = {.threads = 1};

const cr_ctx *cr_ctx_or_default(const cr_ctx *ctx) { return ctx ? ctx : &default_ctx; }

cr_status cr_ctx_create(cr_ctx **out, int threads) {
    if (!out) return cr_fail(CR_ERR_ARG, "cr_ctx_create: out is NULL");
    *out = NULL;
    if (threads < 0) return cr_fail(CR_ERR_ARG, "cr_ctx_create: threads = %d is not >= 0 (0: the cores available)", threads);
    cr_ctx *c = malloc(sizeof *c);
    if (!c) return cr_fail_nomem("cr_ctx_create", sizeof *c);
    c->threads = threads ? threads : cr_cpu_budget();
    *out = c;
    return CR_OK;
}

void cr_ctx_free(cr_ctx *ctx) { free(ctx); }

int cr_ctx_threads(const cr_ctx *ctx) { return cr_ctx_or_default(ctx)->threads; }

/* ------------------------------------------------------------ the BLAS holds */

static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t blas_cv = PTHREAD_COND_INITIALIZER;
static int serial_holds;   /* guarded by blas_mu */
static int ctx_held;       /* a context hold is held; guarded by blas_mu */
static int ctx_waiting;    /* context holds waiting; guarded by blas_mu */
static int blas_restore;   /* the BLAS thread count the first hold found; guarded by blas_mu */
static _Thread_local int ctx_depth;    /* this thread's context hold and the holds nested in it */
static _Thread_local int serial_depth; /* this thread's serial holds */

enum { TOKEN_SERIAL = 0, TOKEN_CTX = 1, TOKEN_NESTED = 2 };

void cr_blas_serial_enter(void) {
    if (ctx_depth > 0) { /* inside this thread's own context hold */
        ctx_depth++;
        return;
    }
    serial_depth++;
    pthread_mutex_lock(&blas_mu);
    /* a first serial hold lets a waiting context hold go first (else a thread running
       parallel loops back to back would starve it); one joining holds that are held
       never waits for it (a worker inside a held loop must not wait for the loop) */
    while (ctx_held || (serial_holds == 0 && ctx_waiting > 0)) pthread_cond_wait(&blas_cv, &blas_mu);
    if (serial_holds++ == 0) {
        blas_restore = cr_blas_threads();
        cr_blas_set_threads(1);
    }
    pthread_mutex_unlock(&blas_mu);
}

void cr_blas_serial_leave(void) {
    if (ctx_depth > 1) {
        ctx_depth--;
        return;
    }
    if (serial_depth > 0) serial_depth--;
    pthread_mutex_lock(&blas_mu);
    if (serial_holds > 0 && --serial_holds == 0) {
        cr_blas_set_threads(blas_restore);
        pthread_cond_broadcast(&blas_cv);
    }
    pthread_mutex_unlock(&blas_mu);
}

int cr_blas_enter(const cr_ctx *ctx) {
    int n = cr_ctx_or_default(ctx)->threads;
    if (ctx_depth > 0) {
        ctx_depth++;
        return TOKEN_NESTED;
    }
    /* one thread, or inside a serial hold of this thread (waiting for it to end would never end) */
    if (n <= 1 || !cr_have_cblas() || serial_depth > 0) {
        cr_blas_serial_enter();
        return TOKEN_SERIAL;
    }
    pthread_mutex_lock(&blas_mu);
    ctx_waiting++;
    while (ctx_held || serial_holds > 0) pthread_cond_wait(&blas_cv, &blas_mu);
    ctx_waiting--;
    ctx_held = 1;
    blas_restore = cr_blas_threads();
    cr_blas_set_threads(n);
    pthread_mutex_unlock(&blas_mu);
    ctx_depth = 1;
    return TOKEN_CTX;
}

void cr_blas_leave(int token) {
    if (token == TOKEN_SERIAL) {
        cr_blas_serial_leave();
        return;
    }
    if (token == TOKEN_NESTED) {
        ctx_depth--;
        return;
    }
    ctx_depth = 0;
    pthread_mutex_lock(&blas_mu);
    cr_blas_set_threads(blas_restore);
    ctx_held = 0;
    pthread_cond_broadcast(&blas_cv);
    pthread_mutex_unlock(&blas_mu);
}

int cr_ctx_blas_begin(cr_ctx *ctx) { return cr_blas_enter(ctx); }

void cr_ctx_blas_end(int token) { cr_blas_leave(token); }

/* ------------------------------------------------------------ the loop */

int cr_parallel_workers(const cr_ctx *ctx, size_t n_tasks) {
    int w = cr_ctx_or_default(ctx)->threads;
    if (w > CR_MAX_WORKERS) w = CR_MAX_WORKERS;
    if ((size_t)w > n_tasks) w = (int)n_tasks;
    return w < 1 ? 1 : w;
}

size_t cr_even_chunk(size_t n, size_t max_chunk) {
    if (n == 0 || max_chunk == 0) return 1;
    size_t parts = (n + max_chunk - 1) / max_chunk;
    return (n + parts - 1) / parts;
}

typedef struct {
    cr_task_fn task;
    void *arg;
    size_t n_tasks;
    atomic_size_t next;   /* the next task to claim */
    atomic_size_t failed; /* lowest failed task index, n_tasks while none failed */
    /* the task a worker failed on (n_tasks: none) and its status; a worker stops at its first failure */
    size_t failed_task[CR_MAX_WORKERS];
    cr_status status[CR_MAX_WORKERS];
    /* the detail line (cr_last_error) of the lowest failed task, copied on its worker's
       thread so that the caller's thread can have it; guarded by detail_mu */
    pthread_mutex_t detail_mu;
    size_t detail_task; /* n_tasks: none yet */
    char detail[CR_DETAIL_MAX];
} loop_state;

typedef struct {
    loop_state *s;
    int worker;
} worker_arg;

/* The detail of a task that failed with st on this thread: the line it wrote, or one
   saying which task when it wrote none (count: cr_fail_count before the task). */
static void task_detail(char *out, size_t t, size_t n_tasks, cr_status st, unsigned long count) {
    if (cr_fail_count() != count)
        snprintf(out, CR_DETAIL_MAX, "%s", cr_last_error());
    else
        snprintf(out, CR_DETAIL_MAX, "cr_parallel_for: task %zu of %zu: %s", t, n_tasks, cr_status_string(st));
}

static void run_worker(loop_state *s, int w) {
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
        if (t >= s->n_tasks || t > atomic_load_explicit(&s->failed, memory_order_acquire)) return;
        const unsigned long count = cr_fail_count();
        cr_status st = s->task(s->arg, t, w);
        if (st != CR_OK) {
            pthread_mutex_lock(&s->detail_mu);
            if (t < s->detail_task) {
                s->detail_task = t;
                task_detail(s->detail, t, s->n_tasks, st, count);
            }
            pthread_mutex_unlock(&s->detail_mu);
            s->failed_task[w] = t;
            s->status[w] = st;
            /* lower the bound: tasks after the lowest failure do not start */
            size_t cur = atomic_load_explicit(&s->failed, memory_order_acquire);
            while (t < cur && !atomic_compare_exchange_weak_explicit(
                                  &s->failed, &cur, t, memory_order_acq_rel, memory_order_acquire)) {
            }
            return;
        }
    }
}

static void *worker_main(void *arg) {
    worker_arg *a = arg;
    run_worker(a->s, a->worker);
    return NULL;
}

cr_status cr_parallel_for(const cr_ctx *ctx, size_t n_tasks, cr_task_fn task, void *arg) {
    if (!task) return CR_ERR_ARG;
    int workers = n_tasks ? cr_parallel_workers(ctx, n_tasks) : 0;
    if (workers <= 1) {
        /* one worker runs its gemms single-threaded too: a task's numbers must not
           depend on how many threads the BLAS would use (OpenBLAS's threaded dgemm
           rounds differently from its serial one on some CPUs) */
        cr_status st = CR_OK;
        cr_blas_serial_enter();
        for (size_t t = 0; t < n_tasks; t++) {
            const unsigned long count = cr_fail_count();
            if ((st = task(arg, t, 0)) != CR_OK) {
                if (cr_fail_count() == count) /* a failure without a line of its own */
                    cr_fail(st, "cr_parallel_for: task %zu of %zu: %s", t, n_tasks, cr_status_string(st));
                break;
            }
        }
        cr_blas_serial_leave();
        return st;
    }
    loop_state s = {.task = task, .arg = arg, .n_tasks = n_tasks, .detail_mu = PTHREAD_MUTEX_INITIALIZER,
                    .detail_task = n_tasks};
    atomic_init(&s.next, 0);
    atomic_init(&s.failed, n_tasks);
    for (int w = 0; w < workers; w++) {
        s.failed_task[w] = n_tasks;
        s.status[w] = CR_OK;
    }
    pthread_t threads[CR_MAX_WORKERS];
    worker_arg args[CR_MAX_WORKERS];
    int started = 1; /* workers 1 .. started-1 run on threads of their own */
    cr_blas_serial_enter();
    for (int w = 1; w < workers; w++) {
        args[w] = (worker_arg){&s, w};
        if (pthread_create(&threads[w], NULL, worker_main, &args[w]) != 0) break;
        started = w + 1;
    }
    run_worker(&s, 0);
    for (int w = 1; w < started; w++) pthread_join(threads[w], NULL);
    cr_blas_serial_leave();
    cr_status st = CR_OK;
    size_t lowest = n_tasks;
    for (int w = 0; w < started; w++)
        if (s.failed_task[w] < lowest) {
            lowest = s.failed_task[w];
            st = s.status[w];
        }
    /* the failed task's line on the caller's thread, whichever thread ran it (the
       status and the line are the lowest failed task's, as with one worker) */
    if (st != CR_OK) cr_fail(st, "%s", s.detail);
    return st;
}
