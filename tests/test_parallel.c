/*
 * test_parallel — the chunked, multi-worker input derivatives.
 *
 *   - cr_parallel_for runs every task exactly once on workers in range, stops
 *     at a failure and returns the lowest failed task's status, and gives the
 *     BLAS its thread count back;
 *   - a task's failure on a worker thread reaches the calling thread: its detail
 *     line (cr_last_error) and status, the lowest failed task's, and a line
 *     naming the task when the task wrote none;
 *   - cr_net_input_grad equals the tape API's forward + backward (dx per
 *     example and the losses) and central finite differences, in float64, for
 *     batches that are not a multiple of the chunk;
 *   - float32 input and class gradients at the seed network's shape (the packed
 *     kernel's path) agree with float64;
 *   - the input gradient, class gradients, the three Jacobian modes, the
 *     attacks, integrated gradients and SmoothGrad give bit-identical float32
 *     results with 1, 2 and 3 workers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "chainrule_io.h"
#include "chainrule_typed.h"
#include "core/fail.h"
#include "core/parallel.h"
#include "testutil.h"

/* ------------------------------------------------------------ the loop */

enum { TASKS = 1000 };

typedef struct {
    atomic_int runs[TASKS];
    atomic_int bad_worker;
    int workers;
    size_t fail_a, fail_b; /* tasks that fail (TASKS: none) */
    atomic_int blas_inside; /* the BLAS thread count seen inside a task, max */
} loop_ctx;

static cr_status count_task(void *ctx, size_t t, int w) {
    loop_ctx *c = ctx;
    atomic_fetch_add(&c->runs[t], 1);
    if (w < 0 || w >= c->workers) atomic_store(&c->bad_worker, 1);
    int b = cr_blas_threads();
    if (b > atomic_load(&c->blas_inside)) atomic_store(&c->blas_inside, b);
    if (t == c->fail_a) return CR_ERR_SHAPE;
    if (t == c->fail_b) return CR_ERR_NOMEM;
    return CR_OK;
}

static void test_loop_runs_each_task_once(void **state) {
    (void)state;
    cr_blas_set_threads(2);
    int before = cr_blas_threads();
    for (int workers = 1; workers <= 4; workers++) {
        loop_ctx *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->workers = workers;
        c->fail_a = c->fail_b = TASKS;
        cr_ctx *ctx = NULL;
        assert_int_equal(cr_ctx_create(&ctx, workers), CR_OK);
        assert_int_equal(cr_parallel_workers(ctx, TASKS), workers);
        assert_int_equal(cr_parallel_for(ctx, TASKS, count_task, c), CR_OK);
        cr_ctx_free(ctx);
        for (size_t t = 0; t < TASKS; t++) assert_int_equal(atomic_load(&c->runs[t]), 1);
        assert_int_equal(atomic_load(&c->bad_worker), 0);
        if (workers > 1 && cr_have_cblas()) /* each worker's gemms single-threaded */
            assert_int_equal(atomic_load(&c->blas_inside), 1);
        assert_int_equal(cr_blas_threads(), before); /* and given back */
        free(c);
    }
    assert_int_equal(cr_parallel_for(NULL, 0, count_task, NULL), CR_OK); /* nothing to do */
    assert_int_equal(cr_parallel_workers(NULL, 0), 1);
    assert_int_equal(cr_parallel_workers(NULL, 1), 1);
    assert_int_equal(cr_parallel_workers(NULL, 1000), 1); /* NULL: one thread */
    cr_ctx *ctx = NULL;
    assert_int_equal(cr_ctx_create(&ctx, 0), CR_OK); /* the cores available */
    assert_true(cr_ctx_threads(ctx) >= 1); /* test_cpu_budget: the CPU budget */
    assert_int_equal(cr_parallel_workers(ctx, 1), 1);
    cr_ctx_free(ctx);
    assert_int_equal(cr_ctx_create(&ctx, -1), CR_ERR_ARG);
    assert_null(ctx);
    assert_int_equal(cr_ctx_create(NULL, 1), CR_ERR_ARG);
    assert_int_equal(cr_ctx_threads(NULL), 1);
}

static void test_loop_reports_lowest_failure(void **state) {
    (void)state;
    for (int workers = 1; workers <= 3; workers++) {
        loop_ctx *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->workers = workers;
        c->fail_a = 437;
        c->fail_b = 900;
        cr_ctx *ctx = NULL;
        assert_int_equal(cr_ctx_create(&ctx, workers), CR_OK);
        assert_int_equal(cr_parallel_for(ctx, TASKS, count_task, c), CR_ERR_SHAPE);
        for (size_t t = 0; t <= 437; t++) /* every task before the failure ran */
            assert_int_equal(atomic_load(&c->runs[t]), 1);
        free(c);
        c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->workers = workers;
        c->fail_a = TASKS;
        c->fail_b = 3;
        assert_int_equal(cr_parallel_for(ctx, TASKS, count_task, c), CR_ERR_NOMEM);
        cr_ctx_free(ctx);
        free(c);
    }
}

/* ------------------------------------------------------------ nets and data */

static cr_net *make_net(cr_dtype dt, int L, const size_t *dims, cr_activation act, uint64_t seed) {
    cr_activation acts[CR_MAX_LAYERS];
    for (int l = 0; l < CR_MAX_LAYERS; l++) acts[l] = act;
    cr_net *net64, *net;
    assert_int_equal(cr_net_create(&net64, CR_F64, L, dims, acts), CR_OK);
    cr_net_init(net64, CR_INIT_XAVIER, seed);
    double *p = cr_net_params_f64(net64);
    for (int l = 0; l < L; l++) /* non-zero biases */
        tu_fill_uniform(p + cr_net_bias_offset(net64, l), dims[l + 1], -0.5, 0.5, seed + 3 + (uint64_t)l);
    if (dt == CR_F64) return net64;
    assert_int_equal(cr_net_convert(net64, CR_F32, &net), CR_OK);
    cr_net_free(net64);
    return net;
}

static void onehot64(size_t n, size_t k, const int64_t *lab, double *y) {
    for (size_t i = 0; i < n * k; i++) y[i] = 0;
    for (size_t i = 0; i < n; i++) y[i * k + (size_t)lab[i]] = 1;
}

/* ------------------------------------------------------------ input gradient */

/* Two tasks that run at once on the two workers of a two-thread context: each waits
   (at most ~10 s) until the other has started, then the task on worker 1 (a thread
   the loop started) or both fail. */
typedef struct {
    atomic_int started;
    atomic_int on_worker1_failed; /* the task that failed on worker 1 + 1 (0: none) */
    int mode; /* 0: the task on worker 1 fails with a line; 1: both fail with lines; 2: worker 1's fails without */
} pair_ctx;

static cr_status pair_task(void *arg, size_t t, int w) {
    pair_ctx *c = arg;
    atomic_fetch_add(&c->started, 1);
    const time_t t0 = time(NULL);
    while (atomic_load(&c->started) < 2 && time(NULL) - t0 < 10) {
    }
    if (w == 1 || c->mode == 1) {
        if (w == 1) atomic_store(&c->on_worker1_failed, (int)t + 1);
        if (c->mode == 2) return CR_ERR_NOMEM;
        return cr_fail(t == 0 ? CR_ERR_NONFINITE : CR_ERR_SHAPE, "pair_task: task %zu on worker %d failed", t, w);
    }
    return CR_OK;
}

static void test_worker_detail_reaches_caller(void **state) {
    (void)state;
    cr_ctx *ctx = NULL;
    assert_int_equal(cr_ctx_create(&ctx, 2), CR_OK);
    assert_int_equal(cr_parallel_workers(ctx, 2), 2);
    char want[128];
    for (int mode = 0; mode < 3; mode++) {
        pair_ctx c = {.mode = mode};
        atomic_init(&c.started, 0);
        atomic_init(&c.on_worker1_failed, 0);
        cr_fail(CR_ERR_IO, "a stale line from an earlier failure");
        cr_status st = cr_parallel_for(ctx, 2, pair_task, &c);
        const int t1 = atomic_load(&c.on_worker1_failed) - 1; /* the task worker 1 ran */
        assert_int_equal(atomic_load(&c.started), 2);
        assert_true(t1 == 0 || t1 == 1); /* the guard: a task failed on the second thread */
        if (mode == 0) { /* only worker 1's task failed: its line and status on the caller's thread */
            snprintf(want, sizeof want, "pair_task: task %d on worker 1 failed", t1);
            assert_int_equal(st, t1 == 0 ? CR_ERR_NONFINITE : CR_ERR_SHAPE);
        } else if (mode == 1) { /* both failed: task 0's line and status, whichever thread ran it */
            snprintf(want, sizeof want, "pair_task: task 0 on worker %d failed", t1 == 0 ? 1 : 0);
            assert_int_equal(st, CR_ERR_NONFINITE);
        } else { /* a failure without a line of its own: a line naming the task, never the stale one */
            snprintf(want, sizeof want, "cr_parallel_for: task %d of 2: %s", t1, cr_status_string(CR_ERR_NOMEM));
            assert_int_equal(st, CR_ERR_NOMEM);
        }
        assert_string_equal(cr_last_error(), want);
        assert_int_equal(cr_last_status(), st);
    }
    cr_ctx_free(ctx);
    /* one worker: a task's failure without a line gets one too */
    loop_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->workers = 1;
    c->fail_a = 5;
    c->fail_b = TASKS;
    cr_fail(CR_ERR_IO, "a stale line from an earlier failure");
    assert_int_equal(cr_parallel_for(NULL, TASKS, count_task, c), CR_ERR_SHAPE);
    snprintf(want, sizeof want, "cr_parallel_for: task 5 of %d: %s", TASKS, cr_status_string(CR_ERR_SHAPE));
    assert_string_equal(cr_last_error(), want);
    free(c);
}

static void test_input_grad_matches_tape_and_fd(void **state) {
    (void)state;
    double worst = 0;
    static const size_t dims[] = {30, 17, 11, 6};
    const int L = 3;
    const size_t d = 30, k = 6;
    for (int a = 0; a < 3; a++) {
        cr_activation act = a == 0 ? CR_ACT_SIGMOID : a == 1 ? CR_ACT_TANH : CR_ACT_RELU;
        cr_net *net = make_net(CR_F64, L, dims, act, 11 + (uint64_t)a);
        const size_t ns[] = {1, 511, 512, 1300}; /* chunks of <= 512: one, exact, several */
        for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
            size_t n = ns[c];
            double *x = tu_dalloc(n * d), *y = tu_dalloc(n * k), *dx = tu_dalloc(n * d),
                   *ref = tu_dalloc(n * d), *loss = tu_dalloc(n);
            int64_t *lab = malloc(n * sizeof *lab);
            assert_non_null(lab);
            tu_fill_uniform(x, n * d, -2, 2, 100 + n);
            for (size_t i = 0; i < n; i++) lab[i] = (int64_t)((i * 7 + 3) % k);
            onehot64(n, k, lab, y);
            assert_int_equal(cr_net_input_grad_targets_f64(NULL, net, n, x, y, dx, loss), CR_OK);
            cr_tape *tape;
            assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
            assert_int_equal(cr_net_forward_f64(net, tape, n, x), CR_OK);
            cr_net_loss_f64(net, tape, y);
            assert_int_equal(cr_net_backward_f64(net, tape, y, ref, NULL), CR_OK);
            tu_check_nontrivial(dx, n * d, "input grad");
            tu_check_close(dx, ref, n * d, 1e-12, &worst, "input grad vs tape backward");
            tu_check_close(loss, (const double *)cr_tape_loss(tape), n, 1e-12, &worst, "losses");
            /* central differences of J_i for a few examples and coordinates */
            cr_tape *one;
            assert_int_equal(cr_tape_create(net, 1, &one), CR_OK);
            double xp[30], fd[30];
            for (size_t i = 0; i < n; i += n / 3 + 1) {
                for (size_t j = 0; j < d; j++) {
                    double h = 1e-5, lp, lm;
                    memcpy(xp, x + i * d, d * sizeof(double));
                    xp[j] += h;
                    cr_net_forward_f64(net, one, 1, xp);
                    lp = cr_net_loss_f64(net, one, y + i * k);
                    xp[j] -= 2 * h;
                    cr_net_forward_f64(net, one, 1, xp);
                    lm = cr_net_loss_f64(net, one, y + i * k);
                    fd[j] = (lp - lm) / (2 * h);
                }
                tu_check_close(dx + i * d, fd, d, 1e-6, &worst, "input grad vs central differences");
            }
            cr_tape_free(one);
            cr_tape_free(tape);
            free(x);
            free(y);
            free(dx);
            free(ref);
            free(loss);
            free(lab);
        }
        cr_net_free(net);
    }
    print_message("input grad: worst relative error %.2g (tape backward, losses, central differences)\n", worst);
}

/* float32 at the seed network's shape, where the chain's last step is the packed
   kernel (kernels/abt.h), against float64: the input gradient and class gradients. */
static void test_input_grad_f32_at_seed_shape(void **state) {
    (void)state;
    static const size_t dims[] = {784, 128, 10};
    const size_t n = 300, d = 784, k = 10;
    cr_net *net = make_net(CR_F64, 2, dims, CR_ACT_SIGMOID, 41), *n32;
    assert_int_equal(cr_net_convert(net, CR_F32, &n32), CR_OK);
    double *x = tu_dalloc(n * d), *y = tu_dalloc(n * k), *g64 = tu_dalloc(n * d), *g = tu_dalloc(n * d);
    float *x32 = tu_falloc(n * d), *y32 = tu_falloc(n * k), *g32 = tu_falloc(n * d);
    int64_t *lab = malloc(n * sizeof *lab);
    assert_non_null(lab);
    tu_fill_uniform(x, n * d, 0, 1, 42);
    for (size_t i = 0; i < n; i++) lab[i] = (int64_t)(i % k);
    onehot64(n, k, lab, y);
    for (size_t i = 0; i < n * d; i++) x32[i] = (float)x[i];
    for (size_t i = 0; i < n * k; i++) y32[i] = (float)y[i];
    double worst = 0;
    for (int which = 0; which < 3; which++) {
        if (which == 0) {
            assert_int_equal(cr_net_input_grad_targets_f64(NULL, net, n, x, y, g64, NULL), CR_OK);
            assert_int_equal(cr_net_input_grad_targets_f32(NULL, n32, n, x32, y32, g32, NULL), CR_OK);
        } else {
            assert_int_equal(cr_net_class_grad_f64(NULL, net, n, x, lab, which == 2, g64, NULL), CR_OK);
            assert_int_equal(cr_net_class_grad_f32(NULL, n32, n, x32, lab, which == 2, g32, NULL), CR_OK);
        }
        tu_check_nontrivial(g64, n * d, "float64 input gradient");
        for (size_t i = 0; i < n * d; i++) g[i] = g32[i];
        for (size_t i = 0; i < n; i++) /* per example, relative to its largest entry */
            tu_check_close(g + i * d, g64 + i * d, d, 1e-5, &worst, "float32 input gradient");
    }
    print_message("float32 input/class gradients at 784-128-10: worst relative error %.2g\n", worst);
    free(x);
    free(y);
    free(g64);
    free(g);
    free(x32);
    free(y32);
    free(g32);
    free(lab);
    cr_net_free(net);
    cr_net_free(n32);
}

/* ------------------------------------------------------------ worker invariance */

/* Runs every chunked float32 function with `workers` threads on the same
   inputs; the caller compares the outputs of different worker counts. */
typedef struct {
    float *dx, *loss, *cgrad, *score, *jrev, *jfwd, *jclosed, *adv_fgsm, *adv_pgd, *ig, *sg;
    cr_attack_stats s_fgsm, s_pgd;
} outputs;

enum { IN = 1100, ID = 20, IK = 5, JN = 300 };

static void run_all(const cr_net *net, int workers, const float *x, const float *y,
                    const int64_t *lab, outputs *o) {
    cr_ctx *ctx = NULL;
    assert_int_equal(cr_ctx_create(&ctx, workers), CR_OK);
    o->dx = tu_falloc(IN * ID);
    o->loss = tu_falloc(IN);
    o->cgrad = tu_falloc(IN * ID);
    o->score = tu_falloc(IN);
    o->jrev = tu_falloc(JN * IK * ID);
    o->jfwd = tu_falloc(JN * IK * ID);
    o->jclosed = tu_falloc(JN * IK * ID);
    o->adv_fgsm = tu_falloc(IN * ID);
    o->adv_pgd = tu_falloc(IN * ID);
    o->ig = tu_falloc(IN * ID);
    o->sg = tu_falloc(IN * ID);
    assert_int_equal(cr_net_input_grad_targets_f32(ctx, net, IN, x, y, o->dx, o->loss), CR_OK);
    assert_int_equal(cr_net_class_grad_f32(ctx, net, IN, x, lab, 1, o->cgrad, o->score), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(ctx, net, JN, x, 1, CR_JAC_REV, o->jrev), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(ctx, net, JN, x, 1, CR_JAC_FWD, o->jfwd), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(ctx, net, JN, x, 1, CR_JAC_CLOSED, o->jclosed), CR_OK);
    cr_attack_options a = {0};
    a.method = CR_ATTACK_FGSM;
    a.eps = 0.1;
    a.lo = -1;
    a.hi = 1;
    assert_int_equal(cr_attack_f32(ctx, net, IN, x, lab, NULL, &a, o->adv_fgsm, &o->s_fgsm), CR_OK);
    a.method = CR_ATTACK_PGD;
    a.steps = 3;
    a.random_start = 1;
    a.seed = 5;
    assert_int_equal(cr_attack_f32(ctx, net, IN, x, lab, NULL, &a, o->adv_pgd, &o->s_pgd), CR_OK);
    cr_attr_options at = {0};
    at.method = CR_ATTR_IG;
    at.steps = 16;
    at.trapezoid = 1;
    assert_int_equal(cr_attribute_f32(ctx, net, IN, x, lab, &at, o->ig, NULL), CR_OK);
    at.method = CR_ATTR_SMOOTHGRAD;
    at.samples = 30;
    at.noise = 0.1;
    at.seed = 3;
    assert_int_equal(cr_attribute_f32(ctx, net, IN, x, lab, &at, o->sg, NULL), CR_OK);
    cr_ctx_free(ctx);
}

static void free_outputs(outputs *o) {
    free(o->dx);
    free(o->loss);
    free(o->cgrad);
    free(o->score);
    free(o->jrev);
    free(o->jfwd);
    free(o->jclosed);
    free(o->adv_fgsm);
    free(o->adv_pgd);
    free(o->ig);
    free(o->sg);
}

#define SAME(field, count)                                                                     \
    assert_memory_equal(a->field, b->field, (count) * sizeof(float))

static void test_results_do_not_depend_on_workers(void **state) {
    (void)state;
    static const size_t dims[] = {ID, 16, IK};
    cr_net *net = make_net(CR_F32, 2, dims, CR_ACT_SIGMOID, 21);
    float *x = tu_falloc(IN * ID), *y = tu_falloc(IN * IK);
    int64_t lab[IN];
    double *x64 = tu_dalloc(IN * ID);
    tu_fill_uniform(x64, IN * ID, -1, 1, 8);
    for (size_t i = 0; i < IN * ID; i++) x[i] = (float)x64[i];
    for (size_t i = 0; i < IN; i++) {
        lab[i] = (int64_t)((i * 3 + 1) % IK);
        y[i * IK + (size_t)lab[i]] = 1;
    }
    outputs runs[3];
    for (int w = 1; w <= 3; w++) run_all(net, w, x, y, lab, &runs[w - 1]);
    for (int r = 1; r < 3; r++) {
        const outputs *a = &runs[0], *b = &runs[r];
        SAME(dx, IN * ID);
        SAME(loss, IN);
        SAME(cgrad, IN * ID);
        SAME(score, IN);
        SAME(jrev, JN * IK * ID);
        SAME(jfwd, JN * IK * ID);
        SAME(jclosed, JN * IK * ID);
        SAME(adv_fgsm, IN * ID);
        SAME(adv_pgd, IN * ID);
        SAME(ig, IN * ID);
        SAME(sg, IN * ID);
        assert_int_equal(a->s_fgsm.correct_adv, b->s_fgsm.correct_adv);
        assert_true(a->s_fgsm.loss_adv == b->s_fgsm.loss_adv);
        assert_true(a->s_pgd.loss_adv == b->s_pgd.loss_adv);
    }
    /* and the attack did something, so that equality is not vacuous */
    assert_true(runs[0].s_fgsm.loss_adv > runs[0].s_fgsm.loss_clean);
    assert_true(runs[0].s_pgd.loss_adv > runs[0].s_pgd.loss_clean);
    /* not fmax(max, ...): GCC 12 for aarch64 crashes vectorising an fmax reduction over
       float values widened to double (internal compiler error in vect_transform_reduction) */
    float jmax = 0, imax = 0, smax = 0;
    for (size_t i = 0; i < JN * IK * ID; i++) jmax = fmaxf(jmax, fabsf(runs[0].jclosed[i]));
    assert_true(jmax > 1e-3f);
    for (size_t i = 0; i < IN * ID; i++) {
        imax = fmaxf(imax, fabsf(runs[0].ig[i]));
        smax = fmaxf(smax, fabsf(runs[0].sg[i]));
    }
    assert_true(imax > 1e-3f && smax > 1e-3f);
    for (int r = 0; r < 3; r++) free_outputs(&runs[r]);
    free(x);
    free(y);
    free(x64);
    cr_net_free(net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_runs_each_task_once),
        cmocka_unit_test(test_loop_reports_lowest_failure),
        cmocka_unit_test(test_worker_detail_reaches_caller),
        cmocka_unit_test(test_input_grad_matches_tape_and_fd),
        cmocka_unit_test(test_input_grad_f32_at_seed_shape),
        cmocka_unit_test(test_results_do_not_depend_on_workers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
