/*
 * A parallel loop over independent tasks (private to the library).
 *
 * The input-derivative functions split their examples into fixed-size chunks
 * and run one chunk per task: each task is a forward pass and a few gemms on
 * its own rows, with its worker's own scratch. Each worker calls the BLAS
 * single-threaded, which at these shapes beats one multi-threaded gemm per
 * layer (that pays OpenBLAS's thread hand-offs at every call). Chunk
 * boundaries do not depend on the number of workers, so neither do results.
 */
#ifndef CR_PARALLEL_H
#define CR_PARALLEL_H

#include <stddef.h>

#include "chainrule.h"

enum { CR_MAX_WORKERS = 64 };

/* task(ctx, t, worker) computes task t on worker `worker` (0 <= worker < workers). */
typedef cr_status (*cr_task_fn)(void *ctx, size_t t, int worker);

/* How many workers cr_parallel_for would use for n_tasks tasks: the library's
   thread count (cr_get_threads), at most n_tasks and CR_MAX_WORKERS, at least 1.
   Callers size per-worker scratch with it. */
int cr_parallel_workers(size_t n_tasks);

/* The size of chunks of at most max_chunk items that cut n items into equal
   parts (the last one at most one item smaller): ceil(n / ceil(n / max_chunk)).
   It depends on n only, so results stay independent of the worker count, and
   the workers' last tasks end together. */
size_t cr_even_chunk(size_t n, size_t max_chunk);

/* Runs every task in [0, n_tasks) on `workers` threads: the caller is worker
   0, the others are started for the call and joined before it returns. Tasks
   are claimed in increasing order; once a task fails no new task starts, and
   the status of the lowest-numbered failed task is returned. The BLAS is held
   at one thread meanwhile (cr_blas_serial_enter), with one worker too, so that
   a task's numbers depend on its chunk only, never on the BLAS thread count. If a thread
   cannot be started, the tasks run on the threads there are. */
cr_status cr_parallel_for(size_t n_tasks, int workers, cr_task_fn task, void *ctx);

/* Hold the BLAS at one thread while several of our threads call it; nested
   and concurrent holds are counted, and the last leave restores the count
   the first enter found. */
void cr_blas_serial_enter(void);
void cr_blas_serial_leave(void);

#endif
