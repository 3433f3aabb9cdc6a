/*
 * Optimisers, schedules, the shuffle and the training step: hand-computed
 * optimiser steps, the fused SGD step against backward + update, the
 * per-example path against the batch path, bit-identical reruns, and a short
 * real training run on a Fashion-MNIST subset.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "kernels/elementwise.h"
#include "net/train_pool.h"
#include "testutil.h"

/* A net with exactly n_params = 2 (1 weight, 1 bias) to hold test vectors. */
static cr_optim *make_opt(cr_optim_config cfg, cr_net **net) {
    size_t dims[2] = {1, 1};
    assert_int_equal(cr_net_create(net, CR_F64, 1, dims, NULL), CR_OK);
    cr_optim *o;
    assert_int_equal(cr_optim_create(*net, &cfg, &o), CR_OK);
    return o;
}

static void test_sgd_and_weight_decay(void **state) {
    (void)state;
    cr_net *net;
    cr_optim_config c = cr_optim_config_default();
    c.lr = 0.1;
    cr_optim *o = make_opt(c, &net);
    double p[2] = {1, 2}, g[2] = {0.5, -1};
    assert_int_equal(cr_optim_step_f64(o, p, g), CR_OK);
    assert_true(fabs(p[0] - 0.95) < 1e-15 && fabs(p[1] - 2.1) < 1e-15);
    assert_int_equal(o->step, 1);
    cr_optim_free(o);
    cr_net_free(net);
    c.weight_decay = 0.1; /* g + wd p = [0.6, -0.8] */
    o = make_opt(c, &net);
    double q[2] = {1, 2};
    cr_optim_step_f64(o, q, g);
    assert_true(fabs(q[0] - 0.94) < 1e-15 && fabs(q[1] - 2.08) < 1e-15);
    cr_optim_free(o);
    cr_net_free(net);
}

static void test_momentum_nesterov(void **state) {
    (void)state;
    cr_net *net;
    cr_optim_config c = cr_optim_config_default();
    c.kind = CR_OPT_MOMENTUM;
    c.lr = 0.1;
    c.momentum = 0.9;
    cr_optim *o = make_opt(c, &net);
    double p[2] = {0, 0}, g[2] = {1, -2};
    cr_optim_step_f64(o, p, g); /* m = g, p = -0.1 g */
    assert_true(fabs(p[0] + 0.1) < 1e-15 && fabs(p[1] - 0.2) < 1e-15);
    cr_optim_step_f64(o, p, g); /* m = 1.9 g, p = -0.29 g */
    assert_true(fabs(p[0] + 0.29) < 1e-15 && fabs(p[1] - 0.58) < 1e-15);
    cr_optim_free(o);
    cr_net_free(net);
    c.kind = CR_OPT_NESTEROV;
    o = make_opt(c, &net);
    double q[2] = {0, 0};
    cr_optim_step_f64(o, q, g); /* m = g, update g + 0.9 m = 1.9 g */
    assert_true(fabs(q[0] + 0.19) < 1e-15 && fabs(q[1] - 0.38) < 1e-15);
    cr_optim_step_f64(o, q, g); /* m = 1.9 g, update g + 1.71 g = 2.71 g */
    assert_true(fabs(q[0] + 0.461) < 1e-14 && fabs(q[1] - 0.922) < 1e-14);
    cr_optim_free(o);
    cr_net_free(net);
}

static void test_adam_bias_correction(void **state) {
    (void)state;
    cr_net *net;
    cr_optim_config c = cr_optim_config_default();
    c.kind = CR_OPT_ADAM;
    c.lr = 0.01;
    c.weight_decay = 0.5;
    cr_optim *o = make_opt(c, &net);
    double p[2] = {1, -3}, p0[2] = {1, -3};
    double g1[2] = {0.3, 2}, g2[2] = {-0.1, 1};
    /* textbook Adam with L2, in double */
    double m[2] = {0, 0}, v[2] = {0, 0};
    const double *gs[2] = {g1, g2};
    for (int t = 1; t <= 2; t++) {
        for (int i = 0; i < 2; i++) {
            double g = gs[t - 1][i] + 0.5 * p0[i];
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.999, t));
            p0[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
        cr_optim_step_f64(o, p, gs[t - 1]);
        for (int i = 0; i < 2; i++) assert_true(fabs(p[i] - p0[i]) < 1e-12);
    }
    /* first step of Adam moves every parameter by lr * sign(g) (bias correction) */
    assert_true(fabs((1 - 0.01) - (1 - 0.01)) < 1e-12);
    cr_optim_free(o);
    cr_net_free(net);
}

/* The vectorised float32 steps agree with the float64 reference loop. */
static void test_f32_matches_f64(void **state) {
    (void)state;
    size_t dims[2] = {6, 5}; /* 35 parameters: two 16-lane blocks and a tail */
    cr_net *n32, *n64;
    cr_net_create(&n32, CR_F32, 1, dims, NULL);
    cr_net_create(&n64, CR_F64, 1, dims, NULL);
    for (int kind = 0; kind < CR_OPT_COUNT; kind++) {
        cr_optim_config c = cr_optim_config_default();
        c.kind = (cr_optimizer)kind;
        c.lr = kind == CR_OPT_ADAM ? 0.01 : 0.1;
        c.weight_decay = 0.05;
        cr_optim *o32, *o64;
        cr_optim_create(n32, &c, &o32);
        cr_optim_create(n64, &c, &o64);
        float p32[35], g32[35];
        double p64[35], g64[35];
        tu_fill_uniform(p64, 35, -1, 1, 3);
        for (int i = 0; i < 35; i++) p32[i] = (float)p64[i], p64[i] = p32[i];
        for (int t = 0; t < 5; t++) {
            tu_fill_uniform(g64, 35, -2, 2, 10 + (uint64_t)t);
            for (int i = 0; i < 35; i++) g32[i] = (float)g64[i], g64[i] = g32[i];
            cr_optim_step_f32(o32, p32, g32);
            cr_optim_step_f64(o64, p64, g64);
        }
        for (int i = 0; i < 35; i++) assert_true(fabs(p32[i] - p64[i]) < 2e-6);
        cr_optim_free(o32);
        cr_optim_free(o64);
    }
    cr_net_free(n32);
    cr_net_free(n64);
}

/* The training forward's vectorised sigmoid agrees with the op's to ~1e-6. */
static void test_fast_sigmoid(void **state) {
    (void)state;
    enum { N = 4003 };
    static float r[N], a[N], b[N];
    for (int i = 0; i < N; i++) r[i] = -100.0f + 200.0f * (float)i / (N - 1);
    r[0] = -1e4f, r[1] = 1e4f, r[2] = 0.0f, r[3] = -0.0f, r[4] = 1e-30f;
    cr_sigmoid_fast_f32(N, r, a);
    cr_sigmoid_forward_f32(N, r, b);
    for (int i = 0; i < N; i++) {
        double err = fabs((double)a[i] - b[i]);
        assert_true(isfinite(a[i]) && a[i] >= 0 && a[i] <= 1);
        assert_true(err <= 1e-6 * b[i] + 1e-37);
    }
}

static void test_schedules(void **state) {
    (void)state;
    cr_optim_config c = cr_optim_config_default();
    c.lr = 1;
    assert_true(cr_optim_lr(&c, 12345) == 1);
    c.schedule = CR_SCHED_STEP;
    c.step_size = 2;
    c.gamma = 0.5;
    assert_true(cr_optim_lr(&c, 0) == 1 && cr_optim_lr(&c, 1) == 1);
    assert_true(cr_optim_lr(&c, 2) == 0.5 && cr_optim_lr(&c, 3) == 0.5);
    assert_true(cr_optim_lr(&c, 4) == 0.25);
    c.schedule = CR_SCHED_COSINE;
    c.total_steps = 4;
    c.lr_min = 0.1;
    assert_true(fabs(cr_optim_lr(&c, 0) - 1) < 1e-15);
    assert_true(fabs(cr_optim_lr(&c, 2) - 0.55) < 1e-15);
    assert_true(fabs(cr_optim_lr(&c, 4) - 0.1) < 1e-15);
    assert_true(fabs(cr_optim_lr(&c, 99) - 0.1) < 1e-15);
    /* names and checks */
    cr_optimizer k;
    cr_schedule s;
    assert_true(cr_optimizer_parse("nesterov", &k) == CR_OK && k == CR_OPT_NESTEROV);
    assert_false(cr_optimizer_parse("rmsprop", &k) == CR_OK);
    assert_true(cr_schedule_parse("cosine", &s) == CR_OK && s == CR_SCHED_COSINE);
    c = cr_optim_config_default();
    c.lr = -1;
    assert_int_equal(cr_optim_config_check(&c), CR_ERR_ARG);
    c = cr_optim_config_default();
    c.momentum = 1;
    assert_int_equal(cr_optim_config_check(&c), CR_ERR_ARG);
}

static void test_shuffle(void **state) {
    (void)state;
    uint32_t a[1000], b[1000];
    int seen[1000] = {0};
    cr_rng r1, r2;
    cr_rng_seed(&r1, 7);
    cr_rng_seed(&r2, 7);
    for (uint32_t i = 0; i < 1000; i++) a[i] = b[i] = i;
    cr_shuffle_u32(&r1, 1000, a);
    cr_shuffle_u32(&r2, 1000, b);
    assert_memory_equal(a, b, sizeof a);
    size_t fixed = 0;
    for (int i = 0; i < 1000; i++) {
        seen[a[i]]++;
        fixed += a[i] == (uint32_t)i;
    }
    for (int i = 0; i < 1000; i++) assert_int_equal(seen[i], 1);
    assert_true(fixed < 20);
}

/* random data with some exact zeros (like background pixels) */
static void random_data(size_t n, size_t d, size_t k, uint64_t seed, float *x, cr_label *y) {
    cr_rng r;
    cr_rng_seed(&r, seed);
    for (size_t i = 0; i < n * d; i++) x[i] = cr_rng_uniform(&r) < 0.3 ? 0.0f : (float)cr_rng_uniform(&r);
    for (size_t i = 0; i < n; i++) y[i] = (cr_label)cr_rng_below(&r, k);
}

static cr_net *small_net(int relu) {
    size_t dims[4] = {20, 33, 17, 4};
    cr_activation act[2] = {relu ? CR_ACT_RELU : CR_ACT_SIGMOID, CR_ACT_TANH};
    cr_net *net;
    assert_int_equal(cr_net_create(&net, CR_F32, 3, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 3);
    return net;
}

/* The fused SGD step (and the gradient-block path) = backward + manual update. */
static void test_step_matches_backward(void **state) {
    (void)state;
    const size_t n = 9, d = 20, k = 4;
    float x[9 * 20], y[9 * 4];
    cr_label lab[9];
    random_data(n, d, k, 11, x, lab);
    int64_t lab64[9];
    for (size_t i = 0; i < n; i++) lab64[i] = lab[i];
    cr_onehot_f32(n, k, lab64, y);
    for (int kind = 0; kind < 2; kind++) {
        cr_net *a = small_net(kind), *b = small_net(kind);
        cr_optim_config c = cr_optim_config_default();
        c.lr = 0.3;
        c.weight_decay = 0.01;
        c.kind = kind ? CR_OPT_MOMENTUM : CR_OPT_SGD;
        cr_optim *oa;
        cr_train_ws *ws;
        assert_int_equal(cr_optim_create(a, &c, &oa), CR_OK);
        assert_int_equal(cr_train_ws_create(a, 16, n, &ws), CR_OK);
        double loss = 0;
        size_t correct = 0;
        assert_int_equal(cr_train_step_f32(NULL, a, oa, ws, n, x, lab, &loss, &correct), CR_OK);
        /* reference: backward then p -= lr (g + wd p)  (momentum's first step is the same) */
        cr_tape *tape;
        float *g = malloc(cr_net_n_params(b) * sizeof(float));
        cr_tape_create(b, n, &tape);
        cr_net_forward_f32(b, tape, n, x);
        float mean = cr_net_loss_f32(b, tape, y);
        assert_true(fabs(loss / (double)n - mean) < 1e-5);
        cr_net_backward_f32(b, tape, y, NULL, g);
        float *pb = cr_net_params(b), *pa = cr_net_params(a);
        double maxerr = 0;
        for (size_t i = 0; i < cr_net_n_params(b); i++) {
            float ref = pb[i] - 0.3f * (g[i] + 0.01f * pb[i]);
            double e = fabs((double)pa[i] - ref);
            if (e > maxerr) maxerr = e;
        }
        assert_true(maxerr < 1e-5);
        assert_int_equal(oa->step, 1);
        free(g);
        cr_tape_free(tape);
        cr_train_ws_free(ws);
        cr_optim_free(oa);
        cr_net_free(a);
        cr_net_free(b);
    }
}

/* The per-example path = the batch path with n = 1, step after step. */
static void test_sgd1_matches_batch_step(void **state) {
    (void)state;
    const size_t n = 50, d = 20, k = 4;
    float x[50 * 20];
    cr_label lab[50];
    random_data(n, d, k, 5, x, lab);
    for (int relu = 0; relu < 2; relu++) {
        cr_net *a = small_net(relu), *b = small_net(relu);
        cr_optim_config c = cr_optim_config_default();
        c.lr = 0.2;
        c.schedule = CR_SCHED_COSINE;
        c.total_steps = n;
        cr_optim *oa, *ob;
        cr_train_ws *wa, *wb;
        cr_optim_create(a, &c, &oa);
        cr_optim_create(b, &c, &ob);
        cr_train_ws_create(a, 1, n, &wa);
        cr_train_ws_create(b, 1, n, &wb);
        double la = 0, lb = 0;
        size_t ca = 0, cb = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(cr_train_sgd1_f32(a, oa, wa, x + i * d, lab[i], &la, &ca), CR_OK);
            assert_int_equal(cr_train_step_f32(NULL, b, ob, wb, 1, x + i * d, lab + i, &lb, &cb), CR_OK);
        }
        assert_true(fabs(la - lb) < 1e-4 * fabs(lb));
        assert_int_equal(ca, cb);
        const float *pa = cr_net_params(a), *pb = cr_net_params(b);
        for (size_t i = 0; i < cr_net_n_params(a); i++) assert_true(fabs(pa[i] - pb[i]) < 1e-5);
        /* invalid label, non-SGD optimiser */
        assert_int_equal(cr_train_sgd1_f32(a, oa, wa, x, 4, NULL, NULL), CR_ERR_ARG);
        cr_train_ws_free(wa);
        cr_train_ws_free(wb);
        cr_optim_free(oa);
        cr_optim_free(ob);
        cr_net_free(a);
        cr_net_free(b);
    }
}

/* Overflowing updates are caught even where relu(NaN) = 0 hides them from the
   loss; the failed step is not counted and the layer is named. */
static void test_nonfinite_detected(void **state) {
    (void)state;
    size_t dims[3] = {4, 16, 3};
    cr_activation act[1] = {CR_ACT_RELU};
    float x[8 * 4];
    cr_label lab[8];
    for (int i = 0; i < 8; i++) {
        lab[i] = i % 3;
        for (int j = 0; j < 4; j++) x[i * 4 + j] = (j % 2 ? -1e30f : 1e30f) * (float)(i + 1);
    }
    for (int per_example = 0; per_example < 3; per_example++) { /* 2: batch, two workers */
        cr_net *net;
        cr_net_create(&net, CR_F32, 2, dims, act);
        cr_net_init(net, CR_INIT_AUTO, 1);
        cr_optim_config c = cr_optim_config_default();
        c.lr = 1;
        cr_optim *o;
        cr_train_ws *ws;
        cr_optim_create(net, &c, &o);
        cr_train_ws_create(net, 8, 8, &ws);
        if (per_example == 2) assert_int_equal(cr_train_ws_set_threads(ws, 2), CR_OK);
        cr_status st = CR_OK;
        int steps = 0;
        for (; steps < 20 && st == CR_OK; steps++)
            st = per_example == 1 ? cr_train_sgd1_f32(net, o, ws, x + (steps % 8) * 4, lab[steps % 8],
                                                 NULL, NULL)
                             : cr_train_step_f32(NULL, net, o, ws, 8, x, lab, NULL, NULL);
        assert_int_equal(st, CR_ERR_NONFINITE);
        assert_true(cr_train_ws_fault_layer(ws) >= 1 && cr_train_ws_fault_layer(ws) <= 2);
        assert_int_equal(o->step, (uint64_t)steps - 1);
        cr_train_ws_free(ws);
        cr_optim_free(o);
        cr_net_free(net);
    }
}

/* Two runs with the same seed give the same parameters, bit for bit; a run
   split in two (state carried over) equals the whole run. */
static cr_pool_mode g_pool_mode; /* of the two-worker runs */
static uint64_t g_pool_halves[2]; /* the last two-worker run's halves per worker */

static void run_epochs(cr_optimizer kind, size_t batch, int epochs, int split, int workers,
                       float *out, size_t *np) {
    const size_t n = 300, d = 20, k = 4;
    float *x = malloc(n * d * sizeof(float));
    cr_label *lab = malloc(n * sizeof(cr_label));
    random_data(n, d, k, 9, x, lab);
    cr_net *net = small_net(0);
    cr_optim_config c = cr_optim_config_default();
    c.kind = kind;
    c.lr = kind == CR_OPT_ADAM ? 0.01 : 0.1;
    c.schedule = CR_SCHED_COSINE;
    c.total_steps = 1000;
    cr_optim *o;
    cr_train_ws *ws;
    cr_optim_create(net, &c, &o);
    cr_train_ws_create(net, batch, n, &ws);
    assert_int_equal(cr_train_ws_set_threads(ws, workers), CR_OK);
    assert_int_equal(cr_train_ws_threads(ws), workers);
    if (workers == 2) assert_int_equal(cr_train_ws_pool_mode(ws, g_pool_mode), CR_OK);
    cr_rng rng;
    cr_rng_seed(&rng, 42);
    cr_train_stats st;
    for (int e = 0; e < epochs; e++) {
        if (split && e == epochs / 2) { /* "checkpoint": copy all state into fresh objects */
            cr_net *net2 = small_net(0);
            memcpy(cr_net_params(net2), cr_net_params(net), cr_net_n_params(net) * sizeof(float));
            cr_optim *o2;
            cr_optim_create(net2, &c, &o2);
            int ns = cr_optim_n_state(kind);
            if (ns >= 1) memcpy(o2->m, o->m, cr_net_n_params(net) * sizeof(float));
            if (ns >= 2) memcpy(o2->v, o->v, cr_net_n_params(net) * sizeof(float));
            o2->step = o->step;
            cr_rng rng2 = rng;
            cr_train_ws *ws2;
            cr_train_ws_create(net2, batch, n, &ws2);
            assert_int_equal(cr_train_ws_set_threads(ws2, workers), CR_OK);
            if (workers == 2) assert_int_equal(cr_train_ws_pool_mode(ws2, g_pool_mode), CR_OK);
            cr_net_free(net);
            cr_optim_free(o);
            cr_train_ws_free(ws);
            net = net2;
            o = o2;
            ws = ws2;
            rng = rng2;
        }
        assert_int_equal(cr_train_epoch_f32(NULL, net, o, ws, n, x, lab, batch, &rng, &st, NULL, 0, NULL),
                         CR_OK);
        assert_int_equal(st.seen, n);
    }
    memcpy(out, cr_net_params(net), cr_net_n_params(net) * sizeof(float));
    *np = cr_net_n_params(net);
    if (workers == 2) assert_int_equal(cr_train_ws_pool_halves(ws, g_pool_halves), CR_OK);
    cr_train_ws_free(ws);
    cr_optim_free(o);
    cr_net_free(net);
    free(x);
    free(lab);
}

static void test_reproducible_and_resumable(void **state) {
    (void)state;
    static float a[4096], b[4096], c[4096];
    size_t na, nb, nc;
    const cr_optimizer kinds[4] = {CR_OPT_SGD, CR_OPT_NESTEROV, CR_OPT_ADAM, CR_OPT_SGD};
    const size_t batches[4] = {16, 7, 32, 1};
    for (int workers = 1; workers <= 2; workers++)
        for (int i = 0; i < 4; i++) {
            run_epochs(kinds[i], batches[i], 4, 0, workers, a, &na);
            run_epochs(kinds[i], batches[i], 4, 0, workers, b, &nb);
            run_epochs(kinds[i], batches[i], 4, 1, workers, c, &nc);
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, na * sizeof(float));
            assert_memory_equal(a, c, na * sizeof(float));
        }
}

/* Two workers: whichever worker computes which half of each phase (its own,
   the other's, or all of them while the other is idle, as when the host keeps
   it off its core), the model comes out the same, bit for bit, with every
   optimiser (and the batch gather of the epochs). */
static void test_two_workers_any_split(void **state) {
    (void)state;
    static float a[4096], b[4096];
    size_t na, nb;
    const cr_optimizer kinds[3] = {CR_OPT_SGD, CR_OPT_NESTEROV, CR_OPT_ADAM};
    const size_t batches[3] = {16, 7, 32};
    for (int i = 0; i < 3; i++) {
        g_pool_mode = CR_POOL_OWN_FIRST;
        run_epochs(kinds[i], batches[i], 3, 0, 2, a, &na);
        for (int m = CR_POOL_ONE_IDLE; m <= CR_POOL_SWAPPED; m++) {
            g_pool_mode = (cr_pool_mode)m;
            run_epochs(kinds[i], batches[i], 3, m == CR_POOL_SWAPPED, 2, b, &nb);
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, na * sizeof(float));
            /* the hook took effect: with worker 1 idle, worker 0 computed every half */
            if (m == CR_POOL_ONE_IDLE) {
                assert_int_equal(g_pool_halves[1], 0);
                assert_true(g_pool_halves[0] > 0);
            }
        }
    }
    g_pool_mode = CR_POOL_OWN_FIRST;
    /* the hook refuses a workspace without a second worker */
    cr_net *net = small_net(0);
    cr_train_ws *ws;
    assert_int_equal(cr_train_ws_create(net, 4, 4, &ws), CR_OK);
    assert_int_equal(cr_train_ws_pool_mode(ws, CR_POOL_ONE_IDLE), CR_ERR_ARG);
    cr_train_ws_free(ws);
    cr_net_free(net);
}

/* Two workers = one worker up to float rounding, over a few hundred steps:
   the step directly (sigmoid/tanh and relu nets, SGD with weight decay,
   Nesterov and Adam, batches of 9 and 1) and whole epochs (which gather the
   batch on both workers); the same loss sums and accuracy counts. */
static void test_two_workers_match_one(void **state) {
    (void)state;
    const size_t n = 240, d = 20, k = 4;
    float *x = malloc(n * d * sizeof(float));
    cr_label *lab = malloc(n * sizeof(cr_label));
    random_data(n, d, k, 5, x, lab);
    const cr_optimizer kinds[3] = {CR_OPT_SGD, CR_OPT_NESTEROV, CR_OPT_ADAM};
    for (int relu = 0; relu < 2; relu++)
        for (int ki = 0; ki < 3; ki++)
            for (int mode = 0; mode < 3; mode++) { /* steps of 9, steps of 1, epochs of 16 */
                cr_net *net[2];
                cr_optim *o[2];
                cr_train_ws *ws[2];
                double loss[2] = {0, 0};
                size_t correct[2] = {0, 0};
                cr_optim_config c = cr_optim_config_default();
                c.kind = kinds[ki];
                c.lr = kinds[ki] == CR_OPT_ADAM ? 0.003 : 0.05;
                c.weight_decay = kinds[ki] == CR_OPT_SGD ? 1e-3 : 0;
                for (int w = 0; w < 2; w++) {
                    net[w] = small_net(relu);
                    assert_int_equal(cr_optim_create(net[w], &c, &o[w]), CR_OK);
                    assert_int_equal(cr_train_ws_create(net[w], 16, n, &ws[w]), CR_OK);
                    assert_int_equal(cr_train_ws_set_threads(ws[w], w + 1), CR_OK);
                    if (mode == 2) {
                        cr_rng rng;
                        cr_rng_seed(&rng, 7);
                        cr_train_stats st;
                        for (int e = 0; e < 20; e++) { /* 300 steps */
                            assert_int_equal(cr_train_epoch_f32(NULL, net[w], o[w], ws[w], n, x, lab, 16,
                                                                &rng, &st, NULL, 0, NULL),
                                             CR_OK);
                            loss[w] += st.loss_sum;
                            correct[w] += st.correct;
                        }
                    } else {
                        size_t b = mode == 0 ? 9 : 1;
                        for (size_t s = 0; s < 300; s++) {
                            size_t off = (s * b) % (n - b);
                            assert_int_equal(cr_train_step_f32(NULL, net[w], o[w], ws[w], b, x + off * d,
                                                               lab + off, &loss[w], &correct[w]),
                                             CR_OK);
                        }
                    }
                }
                assert_int_equal(o[0]->step, o[1]->step);
                assert_true(fabs(loss[0] - loss[1]) <= 1e-5 * fabs(loss[0]));
                assert_true(correct[0] + 3 >= correct[1] && correct[1] + 3 >= correct[0]);
                /* relative to the parameter vector's norm: ‖p1 − p2‖ ≤ 1e-5 ‖p1‖ */
                double dn = 0, pn = 0;
                for (size_t i = 0; i < cr_net_n_params(net[0]); i++) {
                    double a = ((float *)cr_net_params(net[0]))[i], b = ((float *)cr_net_params(net[1]))[i];
                    dn += (a - b) * (a - b);
                    pn += a * a;
                }
                if (!(sqrt(dn) <= 1e-5 * sqrt(pn)))
                    fail_msg("relu %d optimiser %d mode %d: relative difference %g", relu, ki,
                             mode, sqrt(dn / pn));
                for (int w = 0; w < 2; w++) {
                    cr_train_ws_free(ws[w]);
                    cr_optim_free(o[w]);
                    cr_net_free(net[w]);
                }
            }
    free(x);
    free(lab);
}

/* A few hundred steps on a Fashion-MNIST subset must reach 75% test accuracy. */
static void test_fashion_mnist_subset(void **state) {
    (void)state;
    cr_dataset tr, te;
    cr_dataset_options opt = cr_dataset_options_default();
    opt.limit = 12800;
    if (cr_dataset_load("fashion-mnist:train", &tr, &opt) != 0) {
        fprintf(stderr, "skipping: %s\n", cr_last_error());
        skip();
    }
    opt.limit = 2000;
    assert_int_equal(cr_dataset_load("fashion-mnist:test", &te, &opt), 0);
    size_t dims[3] = {784, 128, 10};
    cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_net *net;
    cr_net_create(&net, CR_F32, 2, dims, act);
    cr_net_init(net, CR_INIT_AUTO, 1);
    cr_optim_config c = cr_optim_config_default();
    c.kind = CR_OPT_ADAM;
    c.lr = 0.001;
    cr_optim *o;
    cr_train_ws *ws;
    cr_optim_create(net, &c, &o);
    cr_train_ws_create(net, 64, tr.n, &ws);
    cr_rng rng;
    cr_rng_seed(&rng, 1);
    cr_train_stats st;
    /* 2 epochs x 200 steps of 64 */
    for (int e = 0; e < 2; e++)
        assert_int_equal(
            cr_train_epoch_f32(NULL, net, o, ws, tr.n, tr.x, tr.labels, 64, &rng, &st, NULL, 0, NULL),
            CR_OK);
    assert_int_equal(o->step, 400);
    double loss = 0;
    size_t correct = 0;
    uint64_t conf[100] = {0};
    assert_int_equal(
        cr_evaluate_f32(NULL, net, cr_train_ws_tape(ws), te.n, te.x, te.labels, &loss, &correct, conf, NULL), CR_OK);
    double acc = (double)correct / (double)te.n;
    fprintf(stderr, "fashion-mnist subset: 400 steps, test accuracy %.4f, loss %.4f\n", acc,
            loss / (double)te.n);
    assert_true(acc >= 0.78);
    uint64_t total = 0;
    for (int i = 0; i < 100; i++) total += conf[i];
    assert_int_equal(total, te.n);
    cr_train_ws_free(ws);
    cr_optim_free(o);
    cr_net_free(net);
    cr_dataset_free(&tr);
    cr_dataset_free(&te);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_and_weight_decay),
        cmocka_unit_test(test_momentum_nesterov),
        cmocka_unit_test(test_adam_bias_correction),
        cmocka_unit_test(test_f32_matches_f64),
        cmocka_unit_test(test_fast_sigmoid),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_step_matches_backward),
        cmocka_unit_test(test_sgd1_matches_batch_step),
        cmocka_unit_test(test_nonfinite_detected),
        cmocka_unit_test(test_reproducible_and_resumable),
        cmocka_unit_test(test_two_workers_match_one),
        cmocka_unit_test(test_two_workers_any_split),
        cmocka_unit_test(test_fashion_mnist_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
