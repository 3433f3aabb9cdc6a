/* Training checkpoints in the io library (cr_checkpoint_*): a run stopped after
   2 epochs, saved, loaded and resumed as include/chainrule_io.h shows ends with
   the same parameters, bit for bit, as 4 epochs without a stop; without the
   optimiser's restored state it does not (the test can tell); the run state
   round-trips; files that are not checkpoints are refused with a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "chainrule_io.h"
#include "testutil.h"

enum { N = 96, D = 5, K = 3, EPOCHS = 4 };

static float X[N * D];
static cr_label Y[N];

static void make_data(void) {
    double v[N * D];
    tu_fill_uniform(v, N * D, -1, 1, 7);
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t j = 0; j < D; j++) X[i * D + j] = (float)v[i * D + j], s += v[i * D + j] * (double)(j + 1);
        Y[i] = s < -0.5 ? 0 : s < 0.5 ? 1 : 2;
    }
}

/* A new run's model and state: adam with a cosine schedule, batch 16. */
static void new_run(cr_model *m, cr_checkpoint *ck) {
    memset(m, 0, sizeof *m);
    memset(ck, 0, sizeof *ck);
    size_t dims[3] = {D, 8, K};
    cr_activation act[1] = {CR_ACT_TANH};
    assert_int_equal(cr_net_create(&m->net, CR_F32, 2, dims, act), CR_OK);
    cr_net_init(m->net, CR_INIT_AUTO, 3);
    ck->cfg = cr_optim_config_default();
    ck->cfg.kind = CR_OPT_ADAM;
    ck->cfg.lr = 0.01;
    ck->cfg.schedule = CR_SCHED_COSINE;
    ck->cfg.total_steps = EPOCHS * (N / 16);
    ck->seed = 3;
    ck->epochs = EPOCHS;
    ck->batch = 16;
    snprintf(ck->data, sizeof ck->data, "%s", "synthetic");
    snprintf(ck->init, sizeof ck->init, "%s", "auto");
    cr_rng_seed(&ck->rng, 99);
}

/* Trains the run until `until` epochs are complete. */
static void train_until(cr_model *m, cr_optim *opt, cr_checkpoint *ck, long until) {
    cr_train_ws *ws;
    assert_int_equal(cr_train_ws_create(m->net, 64, N, &ws), CR_OK);
    cr_train_stats stats;
    for (; ck->epoch < until; ck->epoch++)
        assert_int_equal(cr_train_epoch_f32(NULL, m->net, opt, ws, N, X, Y, (size_t)ck->batch, &ck->rng,
                                            &stats, NULL, 0, NULL),
                         CR_OK);
    cr_train_ws_free(ws);
}

/* Trains EPOCHS epochs, stopping after 2 and resuming from the file when stop. */
static cr_net *run(int stop, int restore) {
    cr_model m;
    cr_checkpoint ck;
    cr_optim *opt;
    new_run(&m, &ck);
    assert_int_equal(cr_optim_create(m.net, &ck.cfg, &opt), CR_OK);
    if (stop) {
        const char *path = tu_path("run.safetensors");
        train_until(&m, opt, &ck, 2);
        assert_int_equal(cr_checkpoint_save(path, &m, opt, &ck), 0);
        cr_optim_free(opt);
        cr_model_free(&m);
        memset(&ck, 0, sizeof ck);
        /* the resume of include/chainrule_io.h */
        assert_int_equal(cr_model_load_full(path, &m), 0);
        assert_int_equal(cr_checkpoint_read(&m, path, &ck), 0);
        assert_int_equal(ck.epoch, 2);
        assert_int_equal(ck.epochs, EPOCHS);
        assert_int_equal(cr_optim_create(m.net, &ck.cfg, &opt), CR_OK);
        if (restore) {
            assert_int_equal(cr_checkpoint_restore_optim(&m, path, opt), 0);
            assert_int_equal(opt->step, 2 * (N / 16));
        }
    }
    train_until(&m, opt, &ck, ck.epochs);
    cr_optim_free(opt);
    cr_net *net = m.net;
    m.net = NULL;
    cr_model_free(&m);
    return net;
}

static void test_resume_is_bit_exact(void **state) {
    (void)state;
    cr_net *whole = run(0, 0), *resumed = run(1, 1), *no_state = run(1, 0);
    size_t bytes = cr_net_n_params(whole) * sizeof(float);
    assert_memory_equal(cr_net_params(whole), cr_net_params(resumed), bytes);
    /* not vacuous: the optimiser state matters, and training moved the weights */
    assert_memory_not_equal(cr_net_params(whole), cr_net_params(no_state), bytes);
    cr_model fresh;
    cr_checkpoint ck;
    new_run(&fresh, &ck);
    assert_memory_not_equal(cr_net_params(whole), cr_net_params(fresh.net), bytes);
    cr_model_free(&fresh);
    cr_net_free(whole), cr_net_free(resumed), cr_net_free(no_state);
}

static void test_state_round_trips(void **state) {
    (void)state;
    cr_model m, back;
    cr_checkpoint ck, ck2;
    cr_optim *opt;
    new_run(&m, &ck);
    ck.cfg.weight_decay = 1e-4;
    ck.val = 0.25;
    ck.standardize = 1;
    ck.epoch = 1;
    snprintf(ck.test, sizeof ck.test, "%s", "t.csv");
    snprintf(ck.label_column, sizeof ck.label_column, "%s", "-1");
    snprintf(ck.header, sizeof ck.header, "%s", "yes");
    snprintf(ck.limit, sizeof ck.limit, "%s", "50");
    snprintf(ck.classes, sizeof ck.classes, "%s", "3");
    assert_int_equal(cr_optim_create(m.net, &ck.cfg, &opt), CR_OK);
    const char *path = tu_path("state.safetensors");
    assert_int_equal(cr_checkpoint_save(path, &m, opt, &ck), 0);
    assert_int_equal(cr_model_load_full(path, &back), 0);
    assert_int_equal(cr_checkpoint_read(&back, path, &ck2), 0);
    assert_memory_equal(&ck.cfg, &ck2.cfg, sizeof ck.cfg);
    assert_memory_equal(&ck.rng, &ck2.rng, sizeof ck.rng);
    assert_true(ck2.seed == ck.seed && ck2.epochs == ck.epochs && ck2.epoch == 1 &&
                ck2.batch == ck.batch && ck2.val == 0.25 && ck2.standardize == 1);
    const char *a[] = {ck.data, ck.test, ck.init, ck.label_column, ck.header, ck.limit, ck.classes};
    const char *b[] = {ck2.data, ck2.test, ck2.init, ck2.label_column, ck2.header, ck2.limit, ck2.classes};
    for (int i = 0; i < 7; i++) assert_string_equal(a[i], b[i]);
    cr_optim_free(opt);
    cr_model_free(&back);
    cr_model_free(&m);
}

static void test_refusals(void **state) {
    (void)state;
    cr_model m, back;
    cr_checkpoint ck;
    cr_optim *opt, *adam;
    new_run(&m, &ck);
    /* a plain model is not a checkpoint */
    const char *plain = tu_path("plain.safetensors");
    assert_int_equal(cr_model_save_full(plain, &m), 0);
    assert_int_equal(cr_model_load_full(plain, &back), 0);
    assert_int_not_equal(cr_checkpoint_read(&back, plain, &ck), CR_OK);
    assert_non_null(strstr(cr_last_error(), "not a training checkpoint (no metadata train.epoch)"));
    assert_non_null(strstr(cr_last_error(), plain));
    cr_model_free(&back);
    cr_model_free(&m);
    /* an SGD run's checkpoint has no moments: an adam optimiser is refused them */
    new_run(&m, &ck);
    ck.cfg.kind = CR_OPT_SGD;
    assert_int_equal(cr_optim_create(m.net, &ck.cfg, &opt), CR_OK);
    const char *sgd = tu_path("sgd.safetensors");
    assert_int_equal(cr_checkpoint_save(sgd, &m, opt, &ck), 0);
    assert_int_equal(cr_model_load_full(sgd, &back), 0);
    cr_optim_config c = ck.cfg;
    c.kind = CR_OPT_ADAM;
    assert_int_equal(cr_optim_create(back.net, &c, &adam), CR_OK);
    assert_int_not_equal(cr_checkpoint_restore_optim(&back, sgd, adam), CR_OK);
    assert_non_null(strstr(cr_last_error(), "tensor optim.m is missing or has the wrong size"));
    /* a batch of 0 is refused with a message */
    assert_int_equal(cr_safetensors_set_meta(&back.extra, "train.batch", "0"), 0);
    assert_int_not_equal(cr_checkpoint_read(&back, sgd, &ck), CR_OK);
    assert_non_null(strstr(cr_last_error(), "train.batch"));
    cr_optim_free(adam);
    cr_optim_free(opt);
    cr_model_free(&back);
    cr_model_free(&m);
}

int main(void) {
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_is_bit_exact),
        cmocka_unit_test(test_state_round_trips),
        cmocka_unit_test(test_refusals),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
