/* The parallel task loop and the BLAS serial hold (see parallel.h). */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t serial_mu = PTHREAD_MUTEX_INITIALIZER;
static int serial_holds;    /* guarded by serial_mu */
static int serial_restore;  /* the BLAS thread count the first hold found */

void cr_blas_serial_enter(void) {
    pthread_mutex_lock(&serial_mu);
    if (serial_holds++ == 0) {
        serial_restore = cr_get_threads();
        cr_set_threads(1);
    }
    pthread_mutex_unlock(&serial_mu);
}

void cr_blas_serial_leave(void) {
    pthread_mutex_lock(&serial_mu);
    if (serial_holds > 0 && --serial_holds == 0) cr_set_threads(serial_restore);
    pthread_mutex_unlock(&serial_mu);
}

int cr_parallel_workers(size_t n_tasks) {
    int w = cr_get_threads();
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
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;   /* the next task to claim */
    atomic_size_t failed; /* lowest failed task index, n_tasks while none failed */
    /* the task a worker failed on (n_tasks: none) and its status; a worker stops at its first failure */
    size_t failed_task[CR_MAX_WORKERS];
    cr_status status[CR_MAX_WORKERS];
} loop_state;

typedef struct {
    loop_state *s;
    int worker;
} worker_arg;

static void run_worker(loop_state *s, int w) {
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&s->next, 1, memory_order_relaxed);
        if (t >= s->n_tasks || t > atomic_load_explicit(&s->failed, memory_order_acquire)) return;
        cr_status st = s->task(s->ctx, t, w);
        if (st != CR_OK) {
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

cr_status cr_parallel_for(size_t n_tasks, int workers, cr_task_fn task, void *ctx) {
    if (!task) return CR_ERR_ARG;
    if (workers > CR_MAX_WORKERS) workers = CR_MAX_WORKERS;
    if ((size_t)workers > n_tasks) workers = (int)n_tasks;
    if (workers <= 1) {
        /* one worker runs its gemms single-threaded too: a task's numbers must not
           depend on how many threads the BLAS would use (OpenBLAS's threaded dgemm
           rounds differently from its serial one on some CPUs) */
        cr_status st = CR_OK;
        cr_blas_serial_enter();
        for (size_t t = 0; t < n_tasks && st == CR_OK; t++) st = task(ctx, t, 0);
        cr_blas_serial_leave();
        return st;
    }
    loop_state s = {.task = task, .ctx = ctx, .n_tasks = n_tasks};
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
    return st;
}
