/*
 * The context's workers and the BLAS policy (private to the library; the
 * public face is cr_ctx in chainrule.h).
 *
 * The input-derivative functions split their examples into fixed-size chunks
 * and run one chunk per task: each task is a forward pass and a few gemms on
 * its own rows, with its worker's own scratch. Each worker calls the BLAS
 * single-threaded, which at these shapes beats one multi-threaded gemm per
 * layer (that pays OpenBLAS's thread hand-offs at every call). Chunk
 * boundaries do not depend on the number of workers, so neither do results.
 *
 * The BLAS policy. OpenBLAS's thread count is one number for the whole
 * process, so the library treats it as a shared resource with two kinds of
 * hold:
 *   - serial holds (cr_blas_serial_enter): the BLAS at one thread. Shared:
 *     any number of threads, of any contexts, may hold it at once, nested too;
 *     the first restores the count the BLAS had when the last one leaves.
 *   - context holds (cr_blas_enter with a context of n > 1 threads): the BLAS
 *     at n threads for gemms called from one thread (evaluation, a training
 *     step on one worker). Exclusive: it waits until no serial hold and no
 *     other context hold is held, and serial holds wait while it is held (and
 *     a first serial hold waits while one is waiting, so that loops run back to
 *     back do not starve it). A context of one thread takes a serial hold
 *     instead. A thread holding a serial hold never waits for a context hold
 *     (its cr_blas_enter nests a serial hold instead), and a worker thread must
 *     not take a context hold while its loop runs.
 * So every gemm the library runs under a hold runs at a thread count its own
 * context fixes, whatever other contexts do at the same time: a call's bits
 * never depend on what runs beside it. A thread holding a context hold may
 * nest any hold inside it (counted; the count stays n).
 */
#ifndef CR_PARALLEL_H
#define CR_PARALLEL_H

#include <stddef.h>

#include "chainrule_typed.h"

enum { CR_MAX_WORKERS = 64 };

struct cr_ctx {
    int threads; /* >= 1: workers of cr_parallel_for, and the BLAS's threads in a context hold */
};

/* The context a NULL cr_ctx * stands for: one thread. */
const cr_ctx *cr_ctx_or_default(const cr_ctx *ctx);

/* task(arg, t, worker) computes task t on worker `worker` (0 <= worker < workers). */
typedef cr_status (*cr_task_fn)(void *arg, size_t t, int worker);

/* How many workers cr_parallel_for(ctx, n_tasks, ...) uses: the context's
   thread count (1 for NULL), at most n_tasks and CR_MAX_WORKERS, at least 1.
   Callers size per-worker scratch with it. */
int cr_parallel_workers(const cr_ctx *ctx, size_t n_tasks);

/* The size of chunks of at most max_chunk items that cut n items into equal
   parts (the last one at most one item smaller): ceil(n / ceil(n / max_chunk)).
   It depends on n only, so results stay independent of the worker count, and
   the workers' last tasks end together. */
size_t cr_even_chunk(size_t n, size_t max_chunk);

/* Runs every task in [0, n_tasks) on cr_parallel_workers(ctx, n_tasks)
   threads: the caller is worker 0, the others are started for the call and
   joined before it returns. Tasks are claimed in increasing order; once a task
   fails no new task starts, and the status of the lowest-numbered failed task
   is returned, with its detail line (cr_last_error) set on the calling thread
   whichever worker's thread wrote it (a task that failed without writing one
   gets "cr_parallel_for: task T of N: STATUS"). A serial hold is taken meanwhile, with one worker too, so that
   a task's numbers depend on its chunk only, never on the BLAS thread count.
   If a thread cannot be started, the tasks run on the threads there are. */
cr_status cr_parallel_for(const cr_ctx *ctx, size_t n_tasks, cr_task_fn task, void *arg);

/* The serial hold (above). */
void cr_blas_serial_enter(void);
void cr_blas_serial_leave(void);
/* The hold for gemms called from this thread under ctx (NULL: one thread):
   a context hold for a context of more than one thread, else a serial hold.
   Returns the token to give cr_blas_leave. */
int cr_blas_enter(const cr_ctx *ctx);
void cr_blas_leave(int token);

/* The BLAS's own thread count (gemm.c): openblas_get/set_num_threads, or 1
   and nothing without CBLAS. Only the holds above call the setter. */
int cr_blas_threads(void);
void cr_blas_set_threads(int n);

#endif
