/*
 * test_status — the status codes chainrule.h promises, for every typed entry point:
 *
 *   - an _f32 call on a float64 net (and an _f64 call on a float32 net) returns
 *     CR_ERR_DTYPE, also when the net is right and the tape or optimiser state is not;
 *   - n = 0 rows (and a zero batch or max_batch) returns CR_ERR_ARG;
 *   - more rows than a tape or workspace holds returns CR_ERR_SHAPE;
 *   - the same call with the right dtype and n returns CR_OK, so each error above
 *     comes from the one argument that was changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "testutil.h"

enum { N = 3, D = 4, H = 5, K = 3 };

typedef struct {
    cr_net *net64, *net32;
    double x[N * D], y[N * K], dx[N * D], jac[N * K * D], loss[N], out[N * D];
    int64_t cls[N];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    const size_t dims[3] = {D, H, K};
    const cr_activation act[1] = {CR_ACT_TANH};
    if (cr_net_create(&f->net64, CR_F64, 2, dims, act) != CR_OK) return -1;
    cr_net_init(f->net64, CR_INIT_XAVIER, 11);
    if (cr_net_convert(f->net64, CR_F32, &f->net32) != CR_OK) return -1;
    tu_fill_uniform(f->x, N * D, -1, 1, 12);
    for (int i = 0; i < N; i++) f->cls[i] = i % K;
    if (cr_onehot_f64(N, K, f->cls, f->y) != CR_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    cr_net_free(f->net64);
    cr_net_free(f->net32);
    free(f);
    return 0;
}

/* The buffers are doubles, large enough for either dtype; the wrong-dtype calls
   must fail before touching them. */
#define F32(p) ((float *)(void *)(p))

static void test_input_derivatives(void **state) {
    fixture *f = *state;
    cr_net *n64 = f->net64, *n32 = f->net32;
    float xf[N * D], yf[N * K];
    for (int i = 0; i < N * D; i++) xf[i] = (float)f->x[i];
    for (int i = 0; i < N * K; i++) yf[i] = (float)f->y[i];

    /* input Jacobian */
    assert_int_equal(cr_net_input_jacobian_f64(NULL, n64, N, f->x, 1, CR_JAC_AUTO, f->jac), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, n32, N, xf, 1, CR_JAC_AUTO, F32(f->jac)), CR_OK);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, n64, N, xf, 1, CR_JAC_AUTO, F32(f->jac)),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, n32, N, f->x, 1, CR_JAC_AUTO, f->jac),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_jacobian_f64(NULL, n64, 0, f->x, 1, CR_JAC_AUTO, f->jac), CR_ERR_ARG);
    assert_int_equal(cr_net_input_jacobian_f32(NULL, n32, 0, xf, 1, CR_JAC_AUTO, F32(f->jac)),
                     CR_ERR_ARG);

    /* input gradient */
    assert_int_equal(cr_net_input_grad_f64(NULL, n64, N, f->x, f->y, f->dx, f->loss), CR_OK);
    assert_int_equal(cr_net_input_grad_f32(NULL, n32, N, xf, yf, F32(f->dx), NULL), CR_OK);
    assert_int_equal(cr_net_input_grad_f32(NULL, n64, N, xf, yf, F32(f->dx), NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_grad_f64(NULL, n32, N, f->x, f->y, f->dx, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_grad_f64(NULL, n64, 0, f->x, f->y, f->dx, NULL), CR_ERR_ARG);

    /* class gradient */
    assert_int_equal(cr_net_class_grad_f64(NULL, n64, N, f->x, f->cls, 0, f->dx, NULL), CR_OK);
    assert_int_equal(cr_net_class_grad_f32(NULL, n64, N, xf, f->cls, 0, F32(f->dx), NULL),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_net_class_grad_f64(NULL, n64, 0, f->x, f->cls, 0, f->dx, NULL), CR_ERR_ARG);

    /* attribution */
    cr_attr_options ao = {.method = CR_ATTR_SALIENCY};
    assert_int_equal(cr_attribute_f64(NULL, n64, N, f->x, f->cls, &ao, f->out, NULL), CR_OK);
    assert_int_equal(cr_attribute_f32(NULL, n64, N, xf, f->cls, &ao, F32(f->out), NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_attribute_f64(NULL, n32, N, f->x, f->cls, &ao, f->out, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_attribute_f64(NULL, n64, 0, f->x, f->cls, &ao, f->out, NULL), CR_ERR_ARG);

    /* attack */
    cr_attack_options ko = {.method = CR_ATTACK_FGSM, .norm = CR_NORM_LINF, .eps = 0.1,
                            .lo = -1, .hi = 1};
    assert_int_equal(cr_attack_f64(NULL, n64, N, f->x, f->cls, NULL, &ko, f->out, NULL), CR_OK);
    assert_int_equal(cr_attack_f32(NULL, n64, N, xf, f->cls, NULL, &ko, F32(f->out), NULL),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_attack_f64(NULL, n32, N, f->x, f->cls, NULL, &ko, f->out, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_attack_f64(NULL, n64, 0, f->x, f->cls, NULL, &ko, f->out, NULL), CR_ERR_ARG);
}

static void test_tape_functions(void **state) {
    fixture *f = *state;
    cr_net *n64 = f->net64, *n32 = f->net32;
    cr_tape *t64, *t32;
    assert_int_equal(cr_tape_create(n64, N, &t64), CR_OK);
    assert_int_equal(cr_tape_create(n32, N, &t32), CR_OK);
    float xf[N * D] = {0};

    assert_int_equal(cr_net_forward_f32(n64, t32, N, xf), CR_ERR_DTYPE); /* net f64 */
    assert_int_equal(cr_net_forward_f32(n32, t64, N, xf), CR_ERR_DTYPE); /* tape f64 */
    assert_int_equal(cr_net_forward_f64(n64, t64, 0, f->x), CR_ERR_ARG);
    assert_int_equal(cr_net_forward_f64(n64, t64, N + 1, f->x), CR_ERR_SHAPE);
    assert_int_equal(cr_net_forward_f64(n64, t64, N, f->x), CR_OK);
    assert_int_equal(cr_net_forward_f32(n32, t32, N, xf), CR_OK);

    float gf[N * K] = {0}, dxf[N * D];
    assert_int_equal(cr_net_backward_f64(n64, t64, f->y, f->dx, NULL), CR_OK);
    assert_int_equal(cr_net_backward_f32(n64, t32, gf, dxf, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_net_vjp_f32(n64, t32, gf, dxf), CR_ERR_DTYPE);
    assert_int_equal(cr_net_jvp_f32(n64, t32, xf, gf, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_jacobian_chain_f32(n64, t32, 0, 1, F32(f->jac)), CR_ERR_DTYPE);
    assert_int_equal(cr_net_input_jacobian_chain_f64(n64, t64, 0, 1, f->jac), CR_OK);
    assert_int_equal(cr_net_input_jacobian_chain_f64(n64, t64, N, 1, f->jac), CR_ERR_SHAPE);

    /* evaluation (float32 only) */
    cr_label lab[N] = {0, 1, 2};
    double loss_sum;
    size_t correct;
    assert_int_equal(cr_evaluate_f32(NULL, n32, t32, N, xf, lab, &loss_sum, &correct, NULL, NULL), CR_OK);
    assert_int_equal(cr_evaluate_f32(NULL, n64, t64, N, xf, lab, &loss_sum, &correct, NULL, NULL),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_evaluate_f32(NULL, n32, t64, N, xf, lab, &loss_sum, &correct, NULL, NULL),
                     CR_ERR_DTYPE);
    cr_tape_free(t64);
    cr_tape_free(t32);
}

static void test_training(void **state) {
    fixture *f = *state;
    cr_net *n64 = f->net64, *n32 = f->net32;
    cr_train_ws *ws = (cr_train_ws *)(uintptr_t)1;
    assert_int_equal(cr_train_ws_create(n64, 2, N, &ws), CR_ERR_DTYPE);
    assert_null(ws);
    assert_int_equal(cr_train_ws_create(n32, 0, N, &ws), CR_ERR_ARG);
    assert_int_equal(cr_train_ws_create(n32, 2, N, &ws), CR_OK);

    cr_optim_config cfg = cr_optim_config_default();
    cr_optim *o32, *o64;
    assert_int_equal(cr_optim_create(n32, &cfg, &o32), CR_OK);
    assert_int_equal(cr_optim_create(n64, &cfg, &o64), CR_OK);

    float xf[N * D] = {0};
    cr_label lab[N] = {0, 1, 2};
    assert_int_equal(cr_train_step_f32(NULL, n32, o32, ws, 2, xf, lab, NULL, NULL), CR_OK);
    assert_int_equal(cr_train_step_f32(NULL, n32, o64, ws, 2, xf, lab, NULL, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_train_step_f32(NULL, n64, o32, ws, 2, xf, lab, NULL, NULL), CR_ERR_DTYPE);
    assert_int_equal(cr_train_step_f32(NULL, n32, o32, ws, 0, xf, lab, NULL, NULL), CR_ERR_ARG);
    assert_int_equal(cr_train_step_f32(NULL, n32, o32, ws, 3, xf, lab, NULL, NULL), CR_ERR_SHAPE);
    assert_int_equal(cr_train_sgd1_f32(n64, o32, ws, xf, 0, NULL, NULL), CR_ERR_DTYPE);

    cr_rng rng;
    cr_rng_seed(&rng, 1);
    cr_train_stats st;
    assert_int_equal(cr_train_epoch_f32(NULL, n32, o32, ws, N, xf, lab, 2, &rng, &st, NULL, 0, NULL),
                     CR_OK);
    assert_int_equal(cr_train_epoch_f32(NULL, n64, o32, ws, N, xf, lab, 2, &rng, &st, NULL, 0, NULL),
                     CR_ERR_DTYPE);
    assert_int_equal(cr_train_epoch_f32(NULL, n32, o32, ws, 0, xf, lab, 2, &rng, &st, NULL, 0, NULL),
                     CR_ERR_ARG);
    assert_int_equal(cr_train_epoch_f32(NULL, n32, o32, ws, N, xf, lab, 0, &rng, &st, NULL, 0, NULL),
                     CR_ERR_ARG);

    /* optimiser steps: the state's dtype must be the function's */
    float pf[64] = {0}, gf[64] = {0};
    double pd[64] = {0}, gd[64] = {0};
    assert_true(o32->n_params <= 64);
    assert_int_equal(cr_optim_step_f32(o64, pf, gf), CR_ERR_DTYPE);
    assert_int_equal(cr_optim_step_f64(o32, pd, gd), CR_ERR_DTYPE);
    assert_int_equal(cr_optim_step_f32(o32, pf, gf), CR_OK);
    assert_int_equal(cr_optim_step_f64(o64, pd, gd), CR_OK);

    cr_optim_free(o32);
    cr_optim_free(o64);
    cr_train_ws_free(ws);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_derivatives),
        cmocka_unit_test(test_tape_functions),
        cmocka_unit_test(test_training),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
