/*
 * test_errors — the one error convention (chainrule.h, cr_last_error; docs/api.md, "Errors"):
 *
 *   - a failing call returns its cr_status and leaves a detail line that names the
 *     argument and the index (labels[1] = 12, opt->eps, x[1], n = 9 rows, the file);
 *   - the io layer's failures are CR_ERR_IO (cannot open/read/write) or CR_ERR_FORMAT
 *     (malformed content), their line naming the file;
 *   - the rule "meaningful only after a failure" holds without stale lines: every
 *     failure overwrites the previous failure's line, also a failure that has nothing
 *     more to say than its function and status; the line is the calling thread's own
 *     (another thread's failure does not touch it);
 *   - the predicates that return 1/0 with an out parameter (cr_net_hidden_activation,
 *     cr_net_output_activation, cr_model_standardization) cannot fail: a NULL or an
 *     index out of range is answered 0, no line is written and the out is untouched;
 *   - every status has its own cr_status_string.
 * Each failing call is paired with the same call corrected, which succeeds: the error
 * comes from the one argument that was changed.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_certify.h"
#include "chainrule_io.h"
#include "chainrule_typed.h"
#include "testutil.h"

enum { N = 3, D = 4, H = 5, K = 3 };

#define ASSERT_DETAIL(needle)                                                             \
    do {                                                                                  \
        if (!strstr(cr_last_error(), (needle)))                                           \
            fail_msg("detail \"%s\" does not contain \"%s\"", cr_last_error(), (needle)); \
    } while (0)

static cr_net *make_net(cr_dtype dt) {
    const size_t dims[3] = {D, H, K};
    const cr_activation act[1] = {CR_ACT_TANH};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, dt, 2, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_XAVIER, 3);
    return net;
}

static cr_attack_options attack_opts(void) {
    cr_attack_options o;
    memset(&o, 0, sizeof o);
    o.method = CR_ATTACK_FGSM;
    o.norm = CR_NORM_LINF;
    o.eps = 0.1;
    o.lo = -1;
    o.hi = 1;
    return o;
}

static void test_labels_named(void **state) {
    (void)state;
    cr_net *net = make_net(CR_F64);
    double x[N * D], x_adv[N * D];
    tu_fill_uniform(x, N * D, -1, 1, 5);
    cr_label labels[N] = {0, 12, 2};
    cr_attack_options o = attack_opts();
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, NULL, &o, x_adv, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("cr_attack: labels[1] = 12 is not in [0, 3)");
    labels[1] = -1;
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, NULL, &o, x_adv, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("labels[1] = -1 is not in [0, 3)");
    labels[1] = 1;
    cr_label target[N] = {1, 2, 3};
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, target, &o, x_adv, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("cr_attack: target[2] = 3 is not in [0, 3)");
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, NULL, &o, x_adv, NULL), CR_OK);

    /* class gradients and one-hot targets name theirs too */
    double grad[N * D], y[N * K];
    cr_label cls[N] = {0, 1, 7};
    assert_int_equal(cr_net_class_grad_f64(NULL, net, N, x, cls, 0, grad, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("cls[2] = 7 is not in [0, 3)");
    assert_int_equal(cr_onehot_f64(N, K, cls, y), CR_ERR_ARG);
    ASSERT_DETAIL("labels[2] = 7 is not in [0, 3)");
    cls[2] = 2;
    assert_int_equal(cr_net_class_grad_f64(NULL, net, N, x, cls, 0, grad, NULL), CR_OK);
    cr_net_free(net);
}

static void test_training_labels_named(void **state) {
    (void)state;
    cr_net *net = make_net(CR_F32);
    cr_optim *opt = NULL;
    cr_train_ws *ws = NULL;
    cr_optim_config cfg = cr_optim_config_default();
    assert_int_equal(cr_optim_create(net, &cfg, &opt), CR_OK);
    assert_int_equal(cr_train_ws_create(net, N, N, &ws), CR_OK);
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)(i % 7) / 7.0f - 0.5f;
    cr_label labels[N] = {0, 1, 3};
    double loss = 0;
    size_t correct = 0;
    assert_int_equal(cr_train_step_f32(NULL, net, opt, ws, N, x, labels, &loss, &correct), CR_ERR_ARG);
    ASSERT_DETAIL("cr_train_step: labels[2] = 3 is not in [0, 3)");
    assert_int_equal(cr_train_step_f32(NULL, net, opt, ws, N + 1, x, labels, &loss, &correct), CR_ERR_SHAPE);
    ASSERT_DETAIL("n = 4 rows exceed the workspace's max_batch 3");
    labels[2] = 2;
    assert_int_equal(cr_train_step_f32(NULL, net, opt, ws, N, x, labels, &loss, &correct), CR_OK);
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    cr_net_free(net);
}

static void test_shapes_options_nonfinite(void **state) {
    (void)state;
    cr_net *net = make_net(CR_F64);
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, 2, &tape), CR_OK);
    double x[N * D];
    tu_fill_uniform(x, N * D, -1, 1, 6);
    assert_int_equal(cr_net_forward_f64(net, tape, N, x), CR_ERR_SHAPE);
    ASSERT_DETAIL("n = 3 rows exceed the tape's max_batch 2");
    assert_int_equal(cr_net_forward_f64(net, tape, 2, x), CR_OK);
    cr_tape_free(tape);

    double x_adv[N * D];
    cr_label labels[N] = {0, 1, 2};
    cr_attack_options o = attack_opts();
    o.eps = -0.5;
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, NULL, &o, x_adv, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("opt->eps = -0.5 is not >= 0");
    o = attack_opts();
    o.lo = 1;
    assert_int_equal(cr_attack_f64(NULL, net, N, x, labels, NULL, &o, x_adv, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("opt->lo = 1 is not below opt->hi = 1");

    cr_spec spec;
    double c[D] = {0.1, NAN, 0.3, 0.4};
    assert_int_equal(cr_spec_linf(D, K, c, 0.1, -1, 1, 0, &spec), CR_ERR_NONFINITE);
    ASSERT_DETAIL("cr_spec_linf: x[1] = nan is not finite");
    c[1] = 0.2;
    assert_int_equal(cr_spec_linf(D, K, c, 0.1, -1, 1, 5, &spec), CR_ERR_ARG);
    ASSERT_DETAIL("cr_spec_linf: label[0] = 5 is not in [0, 3)");
    assert_int_equal(cr_spec_linf(D, K, c, 0.1, -1, 1, 2, &spec), CR_OK);
    cr_spec_free(&spec);
    cr_net_free(net);
}

static void test_io_status_and_file(void **state) {
    (void)state;
    cr_array a;
    const char *missing = tu_path("no-such.npy");
    assert_int_equal(cr_npy_read(missing, &a), CR_ERR_IO);
    ASSERT_DETAIL(missing);
    const char *bad = tu_path("bad.npy");
    assert_int_equal(tu_write_file(bad, "\x93NUMPY\x01\x00garbage", 16), 0);
    assert_int_equal(cr_npy_read(bad, &a), CR_ERR_FORMAT);
    ASSERT_DETAIL(bad);
    cr_net *net = NULL;
    assert_int_equal(cr_model_load(bad, &net), CR_ERR_FORMAT);
    ASSERT_DETAIL(bad);
    assert_null(net);
    /* an unknown name is an argument error naming the name */
    cr_activation act;
    assert_int_equal(cr_activation_parse("mish", &act), CR_ERR_ARG);
    ASSERT_DETAIL("'mish'");
    assert_int_equal(cr_activation_parse("tanh", &act), CR_OK);
}

/* The rule: cr_last_error() is read after a failure. Every failure overwrites it, so
   no failure shows another one's line: a failure with no specific message (a NULL
   tape) names its own function, not the labels of the failure before it. */
static void test_no_stale_detail(void **state) {
    (void)state;
    cr_net *net = make_net(CR_F64);
    double y[N * K];
    cr_label bad[N] = {0, 1, 9};
    assert_int_equal(cr_onehot_f64(N, K, bad, y), CR_ERR_ARG);
    ASSERT_DETAIL("labels[2] = 9");
    /* a success in between, then another failure */
    cr_label good[N] = {0, 1, 2};
    assert_int_equal(cr_onehot_f64(N, K, good, y), CR_OK);
    cr_tape *tape = NULL;
    assert_int_equal(cr_tape_create(net, 0, &tape), CR_ERR_ARG);
    assert_null(strstr(cr_last_error(), "labels"));
    ASSERT_DETAIL("cr_tape_create: max_batch = 0");
    assert_int_equal(cr_tape_create(net, 1, NULL), CR_ERR_ARG); /* no crash on a NULL out */
    ASSERT_DETAIL("cr_tape_create: out is NULL");
    /* a failure with nothing more to say than its function and status */
    assert_int_equal(cr_onehot_f64(N, K, bad, y), CR_ERR_ARG);
    assert_int_equal(cr_tape_create(net, 1, &tape), CR_OK);
    float xf[D] = {0};
    assert_int_equal(cr_net_forward_f32(net, tape, 1, xf), CR_ERR_DTYPE);
    assert_null(strstr(cr_last_error(), "labels"));
    ASSERT_DETAIL(cr_status_string(CR_ERR_DTYPE));
    cr_tape_free(tape);
    assert_int_equal(cr_onehot_f64(N, K, bad, y), CR_ERR_ARG);
    cr_optim *opt = NULL;
    cr_optim_config cfg = cr_optim_config_default();
    cfg.lr = -1;
    assert_int_not_equal(cr_optim_create(net, &cfg, &opt), CR_OK);
    ASSERT_DETAIL("cr_optim_config: lr = -1 is not a finite number > 0");
    assert_null(opt);
    /* an io failure after a core failure */
    assert_int_equal(cr_onehot_f64(N, K, bad, y), CR_ERR_ARG);
    cr_array a;
    assert_int_equal(cr_npy_read(tu_path("still-missing.npy"), &a), CR_ERR_IO);
    assert_null(strstr(cr_last_error(), "labels"));
    ASSERT_DETAIL("still-missing.npy");
    cr_net_free(net);
}

static void *fail_elsewhere(void *arg) {
    (void)arg;
    cr_label bad[1] = {42};
    double y[K];
    static int ok;
    ok = cr_onehot_f64(1, K, bad, y) == CR_ERR_ARG && strstr(cr_last_error(), "labels[0] = 42") != NULL;
    return &ok;
}

static void test_thread_own_line(void **state) {
    (void)state;
    cr_activation act;
    assert_int_equal(cr_activation_parse("sideways", &act), CR_ERR_ARG);
    char mine[512];
    snprintf(mine, sizeof mine, "%s", cr_last_error());
    pthread_t t;
    void *res = NULL;
    assert_int_equal(pthread_create(&t, NULL, fail_elsewhere, NULL), 0);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_true(*(int *)res); /* the other thread saw its own line */
    assert_string_equal(cr_last_error(), mine);
}

/* The label-taking input gradient is the targets one at the labels' one-hot rows, bit for
   bit, in both dtypes and through the dispatcher; a regressor's labels are refused. */
static void test_input_grad_labels(void **state) {
    (void)state;
    cr_net *n64 = make_net(CR_F64), *n32 = NULL;
    assert_int_equal(cr_net_convert(n64, CR_F32, &n32), CR_OK);
    double x[N * D], y[N * K], a[N * D], b[N * D], la[N], lb[N];
    float xf[N * D], yf[N * K], af[N * D], bf[N * D];
    tu_fill_uniform(x, N * D, -1, 1, 8);
    for (int i = 0; i < N * D; i++) xf[i] = (float)x[i];
    cr_label labels[N] = {2, 0, 1};
    assert_int_equal(cr_onehot_f64(N, K, labels, y), CR_OK);
    assert_int_equal(cr_onehot_f32(N, K, labels, yf), CR_OK);
    assert_int_equal(cr_net_input_grad_f64(NULL, n64, N, x, labels, a, la), CR_OK);
    assert_int_equal(cr_net_input_grad_targets_f64(NULL, n64, N, x, y, b, lb), CR_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(la, lb, sizeof la);
    tu_check_nontrivial(a, N * D, "dJ/dx from labels");
    assert_int_equal(cr_net_input_grad(NULL, n32, N, xf, labels, af, NULL), CR_OK);
    assert_int_equal(cr_net_input_grad_targets(NULL, n32, N, xf, yf, bf, NULL), CR_OK);
    assert_memory_equal(af, bf, sizeof af);
    labels[0] = 3;
    assert_int_equal(cr_net_input_grad_f64(NULL, n64, N, x, labels, a, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("cr_net_input_grad: labels[0] = 3 is not in [0, 3)");
    labels[0] = 2;
    assert_int_equal(cr_net_set_head(n64, CR_HEAD_SQUARED_ERROR), CR_OK);
    assert_int_equal(cr_net_input_grad_f64(NULL, n64, N, x, labels, a, NULL), CR_ERR_ARG);
    ASSERT_DETAIL("cr_net_input_grad_targets");
    assert_int_equal(cr_net_input_grad_targets_f64(NULL, n64, N, x, y, a, NULL), CR_OK);
    cr_net_free(n32);
    cr_net_free(n64);
}

/* The three 1/0 queries with an out parameter are predicates (docs/api.md, "Errors"): they
   answer 0 for a NULL or an index out of range, write no detail line and leave the out
   untouched; they answer 1 with the out written for a question that has the answer yes. */
static void test_predicates_cannot_fail(void **state) {
    (void)state;
    const char *mark = "test_predicates: the line before the queries";
    cr_fail(CR_ERR_IO, "%s", mark);
    cr_net *net = make_net(CR_F64);
    cr_activation act = CR_ACT_COUNT;
    assert_int_equal(cr_net_hidden_activation(net, 0, &act), 1);
    assert_int_equal(act, CR_ACT_TANH);
    act = CR_ACT_COUNT;
    assert_int_equal(cr_net_hidden_activation(net, 1, &act), 0); /* layer 1 is the output layer */
    assert_int_equal(cr_net_hidden_activation(net, -1, &act), 0);
    assert_int_equal(cr_net_hidden_activation(NULL, 0, &act), 0);
    assert_int_equal(cr_net_hidden_activation(net, 0, NULL), 0);
    assert_int_equal(act, CR_ACT_COUNT);
    assert_int_equal(cr_net_output_activation(net, &act), 0); /* o = θ */
    assert_int_equal(cr_net_output_activation(NULL, &act), 0);
    assert_int_equal(act, CR_ACT_COUNT);
    assert_int_equal(cr_net_set_output(net, 1, CR_ACT_SIGMOID, CR_HEAD_SQUARED_ERROR), CR_OK);
    assert_int_equal(cr_net_output_activation(net, NULL), 1);
    assert_int_equal(cr_net_output_activation(net, &act), 1);
    assert_int_equal(act, CR_ACT_SIGMOID);
    /* a model without and with input.mean/input.std */
    double mean[D], sd[D];
    for (int i = 0; i < D; i++) mean[i] = sd[i] = -7;
    const char *path = tu_path("predicates.safetensors");
    cr_model *model = NULL;
    assert_int_equal(cr_model_save(path, net), CR_OK);
    assert_int_equal(cr_model_open(path, NULL, &model), CR_OK);
    assert_int_equal(cr_model_standardization(model, mean, sd), 0);
    assert_true(mean[0] == -7 && sd[D - 1] == -7);
    cr_model_close(model);
    assert_int_equal(cr_model_standardization(NULL, mean, sd), 0);
    const double p[D] = {0.5, 1, 2, 3}, q[D] = {2, 4, 8, 16};
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, p, q), CR_OK);
    assert_int_equal(cr_model_save(path, net), CR_OK);
    assert_int_equal(cr_model_open(path, NULL, &model), CR_OK);
    assert_int_equal(cr_model_standardization(model, NULL, NULL), 1);
    assert_int_equal(cr_model_standardization(model, mean, sd), 1);
    for (int i = 0; i < D; i++) assert_true(mean[i] == p[i] && sd[i] == q[i]);
    cr_model_close(model);
    cr_net_free(net);
    assert_string_equal(cr_last_error(), mark); /* no query wrote a line */
}

static void test_status_strings(void **state) {
    (void)state;
    const cr_status all[] = {CR_OK, CR_ERR_NOMEM, CR_ERR_ARG, CR_ERR_SHAPE, CR_ERR_OVERFLOW,
                             CR_ERR_NONFINITE, CR_ERR_DTYPE, CR_ERR_IO, CR_ERR_FORMAT};
    const size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = cr_status_string(all[i]);
        assert_string_not_equal(s, "unknown status");
        for (size_t j = 0; j < i; j++) assert_string_not_equal(s, cr_status_string(all[j]));
    }
    assert_string_equal(cr_status_string((cr_status)99), "unknown status");
    size_t r = 7;
    assert_int_equal(cr_mul_size(SIZE_MAX / 2, 3, &r), CR_ERR_OVERFLOW);
    assert_int_equal(r, 7);
    assert_int_equal(cr_mul_size(6, 7, &r), CR_OK);
    assert_int_equal(r, 42);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels_named),
        cmocka_unit_test(test_training_labels_named),
        cmocka_unit_test(test_shapes_options_nonfinite),
        cmocka_unit_test(test_io_status_and_file),
        cmocka_unit_test(test_no_stale_detail),
        cmocka_unit_test(test_thread_own_line),
        cmocka_unit_test(test_input_grad_labels),
        cmocka_unit_test(test_predicates_cannot_fail),
        cmocka_unit_test(test_status_strings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
