/*
 * test_ctx — contexts (cr_ctx) used from two threads at once.
 *
 *   - two contexts of different thread counts (1 and 2), and of the same (2 and 2), each
 *     driven by its own thread at the same time on the same net, run input gradients,
 *     one training epoch on a copy of the net (one training worker: the context's BLAS
 *     policy decides its gemms' threads) and a CROWN bound; every result is bit-identical
 *     to the same call run alone with the same context;
 *   - the BLAS policy itself: while one thread holds a context of 2 threads the BLAS runs
 *     2 threads there, and the tasks of another context's workers, running at the same
 *     time, always find it at 1 (on this CPU OpenBLAS's 1- and 2-thread sgemm give the
 *     same bits, so the bit-identity above alone would not see a context hold that does
 *     not wait for the serial ones: this part fails then);
 *   - against a vacuous pass: the gradients are not all zero, the input gradient, the
 *     CROWN passes and the epoch span several chunks / batches, the epoch moves the
 *     weights, the bounds are finite and not all equal.
 * It runs under ThreadSanitizer in scripts/test.sh (stage 5).
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule.h"
#include "chainrule_certify.h"
#include "core/parallel.h"
#include "net/bound.h"
#include "testutil.h"

/* the input gradient's chunk (GRAD_ROWS in src/net/input_grad.tmpl.c) */
enum { GRAD_CHUNK = 512 };
enum { D = 24, H1 = 40, H2 = 32, K = 6, N = 1300, BATCH = 50, M = 30, ROUNDS = 3 };
/* CR_TEST_QUICK (valgrind, sanitizers): one round together instead of ROUNDS */
static int rounds(void) { return getenv("CR_TEST_QUICK") ? 1 : ROUNDS; }
static const size_t dims[] = {D, H1, H2, K};
enum { NPARAMS = D * H1 + H1 + H1 * H2 + H2 + H2 * K + K };

/* What one context computes: the same calls for every run. */
typedef struct {
    float dx[N * D], loss[N];
    float params[NPARAMS]; /* after one epoch on a copy of the net */
    double train_loss;
    double lb[M], ub[M];
} results;

typedef struct {
    cr_net *net;
    const float *x, *y;
    const cr_label *labels;
    const double *lo, *hi, *c;
} problem;

/* CK: in run (also called from the driver threads, where cmocka's asserts must not
   jump), a failed check returns its line. */
#define CK(cond)                                                                               \
    do {                                                                                       \
        if (!(cond)) return __LINE__;                                                          \
    } while (0)

static int run(cr_ctx *ctx, const problem *p, results *r) {
    CK(cr_net_input_grad_f32(ctx, p->net, N, p->x, p->y, r->dx, r->loss) == CR_OK);

    cr_net *copy = NULL;
    CK(cr_net_convert(p->net, CR_F32, &copy) == CR_OK);
    cr_optim_config cfg = cr_optim_config_default();
    cfg.lr = 0.05;
    cr_optim *opt = NULL;
    cr_train_ws *ws = NULL;
    cr_train_stats stats;
    cr_rng rng;
    cr_rng_seed(&rng, 11);
    int ok = cr_optim_create(copy, &cfg, &opt) == CR_OK &&
             cr_train_ws_create(copy, BATCH, N, &ws) == CR_OK &&
             cr_train_epoch_f32(ctx, copy, opt, ws, N, p->x, p->labels, BATCH, &rng, &stats, NULL, 0,
                                NULL) == CR_OK &&
             stats.seen == N;
    if (ok) {
        r->train_loss = stats.loss_sum;
        memcpy(r->params, cr_net_params_f32(copy), sizeof r->params);
    }
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    cr_net_free(copy);
    CK(ok);

    cr_bound_options bo = {.method = CR_BOUND_CROWN};
    CK(cr_net_bound(ctx, p->net, p->lo, p->hi, M, p->c, &bo, r->lb, r->ub) == CR_OK);
    return 0;
}

static void same(const results *a, const results *b) {
    assert_memory_equal(a->dx, b->dx, sizeof a->dx);
    assert_memory_equal(a->loss, b->loss, sizeof a->loss);
    assert_memory_equal(a->params, b->params, sizeof a->params);
    assert_memory_equal(&a->train_loss, &b->train_loss, sizeof a->train_loss);
    assert_memory_equal(a->lb, b->lb, sizeof a->lb);
    assert_memory_equal(a->ub, b->ub, sizeof a->ub);
}

/* ------------------------------------------------------------ two threads */

typedef struct {
    cr_ctx *ctx;
    const problem *p;
    results *out; /* ROUNDS of them */
    pthread_barrier_t *start;
    int failed_line; /* run's, 0: none */
} driver;

static void *drive(void *arg) {
    driver *d = arg;
    pthread_barrier_wait(d->start);
    for (int r = 0; r < rounds() && !d->failed_line; r++) d->failed_line = run(d->ctx, d->p, &d->out[r]);
    return NULL;
}

static void two_contexts(const problem *p, int threads_a, int threads_b) {
    cr_ctx *a = NULL, *b = NULL;
    assert_int_equal(cr_ctx_create(&a, threads_a), CR_OK);
    assert_int_equal(cr_ctx_create(&b, threads_b), CR_OK);
    assert_int_equal(cr_ctx_threads(a), threads_a);
    assert_int_equal(cr_ctx_threads(b), threads_b);
    /* alone: each context by itself */
    results *alone_a = malloc(sizeof *alone_a), *alone_b = malloc(sizeof *alone_b);
    results *ra = malloc(ROUNDS * sizeof *ra), *rb = malloc(ROUNDS * sizeof *rb);
    assert_non_null(alone_a);
    assert_non_null(alone_b);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_int_equal(run(a, p, alone_a), 0);
    assert_int_equal(run(b, p, alone_b), 0);
    /* together: each from its own thread, at once */
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    driver da = {a, p, ra, &start, 0}, db = {b, p, rb, &start, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, drive, &da), 0);
    assert_int_equal(pthread_create(&tb, NULL, drive, &db), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&start);
    assert_int_equal(da.failed_line, 0);
    assert_int_equal(db.failed_line, 0);
    for (int r = 0; r < rounds(); r++) {
        same(&ra[r], alone_a);
        same(&rb[r], alone_b);
    }
    /* the input derivatives and the bounds do not depend on the thread count at all */
    assert_memory_equal(alone_a->dx, alone_b->dx, sizeof alone_a->dx);
    assert_memory_equal(alone_a->lb, alone_b->lb, sizeof alone_a->lb);

    /* not vacuous: gradients, weights that moved, bounds that differ between rows */
    double gmax = 0;
    for (size_t i = 0; i < (size_t)N * D; i++) gmax = fmax(gmax, fabs((double)alone_a->dx[i]));
    assert_true(gmax > 1e-4);
    assert_true(memcmp(alone_a->params, cr_net_params_f32(p->net), sizeof alone_a->params) != 0);
    assert_true(isfinite(alone_a->train_loss) && alone_a->train_loss > 0);
    int distinct = 0;
    for (size_t i = 0; i < M; i++) {
        assert_true(isfinite(alone_a->lb[i]) && isfinite(alone_a->ub[i]) && alone_a->lb[i] <= alone_a->ub[i]);
        distinct += alone_a->lb[i] != alone_a->lb[0];
    }
    assert_true(distinct > 0);
    free(alone_a);
    free(alone_b);
    free(ra);
    free(rb);
    cr_ctx_free(a);
    cr_ctx_free(b);
}

static problem *make_problem(void) {
    problem *p = calloc(1, sizeof *p);
    assert_non_null(p);
    const cr_activation acts[] = {CR_ACT_RELU, CR_ACT_TANH};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, CR_F32, 3, dims, acts), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 5);
    float *w = cr_net_params_f32(net);
    double *b = tu_dalloc(NPARAMS);
    tu_fill_uniform(b, NPARAMS, -0.1, 0.1, 6);
    for (size_t i = 0; i < NPARAMS; i++) w[i] += (float)b[i]; /* non-zero biases too */
    free(b);
    p->net = net;
    double *x64 = tu_dalloc((size_t)N * D);
    tu_fill_uniform(x64, (size_t)N * D, -1, 1, 7);
    float *x = tu_falloc((size_t)N * D), *y = tu_falloc((size_t)N * K);
    cr_label *labels = malloc(N * sizeof *labels);
    assert_non_null(labels);
    for (size_t i = 0; i < (size_t)N * D; i++) x[i] = (float)x64[i];
    for (size_t i = 0; i < N; i++) {
        labels[i] = (cr_label)((i * 7 + 3) % K);
        y[i * K + (size_t)labels[i]] = 1;
    }
    free(x64);
    double *lo = tu_dalloc(D), *hi = tu_dalloc(D), *c = tu_dalloc(M * K);
    for (size_t j = 0; j < D; j++) {
        lo[j] = x[j] - 0.05;
        hi[j] = x[j] + 0.05;
    }
    tu_fill_uniform(c, M * K, -1, 1, 8);
    p->x = x;
    p->y = y;
    p->labels = labels;
    p->lo = lo;
    p->hi = hi;
    p->c = c;
    /* several chunks in every pass: the input gradient's, CROWN's intermediate (2·H rows) and
       spec (M rows) passes, and many batches in the epoch */
    assert_true(cr_even_chunk(N, GRAD_CHUNK) < N);
    assert_true(cr_even_chunk(2 * H2, CR_BOUND_CROWN_ROWS) < 2 * H2);
    assert_true(N / BATCH > 10);
    return p;
}

static void free_problem(problem *p) {
    cr_net_free(p->net);
    free((void *)p->x);
    free((void *)p->y);
    free((void *)p->labels);
    free((void *)p->lo);
    free((void *)p->hi);
    free((void *)p->c);
    free(p);
}

static void test_one_and_two_threads_at_once(void **state) {
    (void)state;
    problem *p = make_problem();
    two_contexts(p, 1, 2);
    free_problem(p);
}

static void test_two_and_two_threads_at_once(void **state) {
    (void)state;
    problem *p = make_problem();
    two_contexts(p, 2, 2);
    free_problem(p);
}

/* ------------------------------------------------------------ the BLAS policy */

enum { HOLDS = 50 };

typedef struct {
    cr_ctx *ctx;
    atomic_int stop, wrong, seen_tasks, held;
    pthread_barrier_t start;
} policy;

static cr_status look_task(void *arg, size_t t, int w) {
    (void)t;
    (void)w;
    policy *p = arg;
    if (cr_blas_threads() != 1) atomic_store(&p->wrong, 1); /* a worker must find one BLAS thread */
    atomic_fetch_add(&p->seen_tasks, 1);
    return CR_OK;
}

static void *hold_loop(void *arg) {
    policy *p = arg;
    pthread_barrier_wait(&p->start);
    for (int i = 0; i < HOLDS || atomic_load(&p->seen_tasks) < 8 * 20; i++) {
        const int tok = cr_blas_enter(p->ctx);
        if (cr_have_cblas() && cr_blas_threads() != cr_ctx_threads(p->ctx)) atomic_store(&p->wrong, 2);
        atomic_fetch_add(&p->held, 1);
        cr_blas_leave(tok);
    }
    atomic_store(&p->stop, 1);
    return NULL;
}

static void *workers_loop(void *arg) {
    policy *p = arg;
    pthread_barrier_wait(&p->start);
    while (!atomic_load(&p->stop))
        if (cr_parallel_for(p->ctx, 8, look_task, p) != CR_OK) atomic_store(&p->wrong, 3);
    return NULL;
}

static void test_blas_policy(void **state) {
    (void)state;
    policy *p = calloc(1, sizeof *p);
    assert_non_null(p);
    assert_int_equal(cr_ctx_create(&p->ctx, 2), CR_OK);
    assert_int_equal(pthread_barrier_init(&p->start, NULL, 2), 0);
    const int before = cr_blas_threads();
    pthread_t th, tw;
    assert_int_equal(pthread_create(&th, NULL, hold_loop, p), 0);
    assert_int_equal(pthread_create(&tw, NULL, workers_loop, p), 0);
    pthread_join(th, NULL);
    pthread_join(tw, NULL);
    assert_int_equal(atomic_load(&p->wrong), 0);
    assert_true(atomic_load(&p->held) >= HOLDS);
    assert_true(atomic_load(&p->seen_tasks) >= 8 * 20);
    assert_int_equal(cr_blas_threads(), before); /* given back */
    /* nested holds on one thread: a context hold inside a serial one stays serial, and a
       serial hold inside a context hold keeps the context's count (no wait on itself) */
    cr_blas_serial_enter();
    int tok = cr_blas_enter(p->ctx);
    assert_int_equal(cr_blas_threads(), 1);
    cr_blas_leave(tok);
    cr_blas_serial_leave();
    tok = cr_blas_enter(p->ctx);
    cr_blas_serial_enter();
    if (cr_have_cblas()) assert_int_equal(cr_blas_threads(), 2);
    cr_blas_serial_leave();
    cr_blas_leave(tok);
    assert_int_equal(cr_blas_threads(), before);
    pthread_barrier_destroy(&p->start);
    cr_ctx_free(p->ctx);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_and_two_threads_at_once),
        cmocka_unit_test(test_two_and_two_threads_at_once),
        cmocka_unit_test(test_blas_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
