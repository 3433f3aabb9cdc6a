/*
 * The accessors for bindings (chainrule.h "accessors for bindings", chainrule_io.h
 * "handles for bindings"): what python/chainrule calls instead of mirroring structs.
 *   - cr_struct_set/get write and read exactly the named field (checked against the
 *     struct itself, every field of every table), refuse unknown types and fields and
 *     values a field cannot hold, and cr_struct_new's defaults are the library's;
 *   - cr_net_predict and cr_net_input_jvp (whole batches, past one tape's 1024 rows)
 *     equal cr_net_forward / cr_net_jvp on one tape, both dtypes;
 *   - the net accessors report what cr_net_create was given;
 *   - cr_model_open: the message of a missing file, the head override, the
 *     standardisation; cr_labels_to_targets_buffer: one-hot rows, an out-of-range
 *     label named.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "chainrule_certify.h"
#include "chainrule_check.h"
#include "chainrule_io.h"
#include "testutil.h"

static void test_struct_fields(void **state) {
    (void)state;
    cr_attack_options *ao = cr_struct_new("cr_attack_options");
    assert_non_null(ao);
    assert_true(ao->lo == 0 && ao->hi == 1 && ao->eps == 0);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "eps", 0.25), CR_OK);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "steps", 7), CR_OK);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "method", CR_ATTACK_PGD), CR_OK);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "norm", CR_NORM_L2), CR_OK);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "seed", 12345), CR_OK);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "hi", 2.5), CR_OK);
    assert_true(ao->eps == 0.25 && ao->steps == 7 && ao->method == CR_ATTACK_PGD && ao->norm == CR_NORM_L2 &&
                ao->seed == 12345 && ao->hi == 2.5 && ao->lo == 0 && ao->step_size == 0 && !ao->random_start);
    double v = -1;
    assert_int_equal(cr_struct_get("cr_attack_options", ao, "steps", &v), CR_OK);
    assert_true(v == 7);
    /* refusals: unknown type / field, a fractional or negative size, NaN */
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "nope", 1), CR_ERR_ARG);
    assert_int_equal(cr_struct_set("cr_attack_option", ao, "eps", 1), CR_ERR_ARG);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "steps", 1.5), CR_ERR_ARG);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "steps", -1), CR_ERR_ARG);
    assert_int_equal(cr_struct_set("cr_attack_options", ao, "eps", NAN), CR_ERR_ARG);
    assert_true(ao->steps == 7 && ao->eps == 0.25);
    cr_struct_free("cr_attack_options", ao);
    assert_null(cr_struct_new("cr_nothing"));

    cr_check_options *co = cr_struct_new("cr_check_options");
    cr_check_options def = cr_check_options_default();
    assert_non_null(co);
    assert_true(co->seed == def.seed && co->samples == def.samples && co->safety == def.safety &&
                co->jac_examples == def.jac_examples);
    assert_int_equal(cr_struct_set("cr_check_options", co, "inject_kind", CR_CHECK_JVP), CR_OK);
    assert_int_equal(cr_struct_set("cr_check_options", co, "inject_layer", 3), CR_OK);
    assert_true(co->inject_kind == CR_CHECK_JVP && co->inject_layer == 3 && co->samples == def.samples);
    cr_struct_free("cr_check_options", co);

    cr_attr_options *at = cr_struct_new("cr_attr_options");
    assert_int_equal(cr_struct_set("cr_attr_options", at, "noise", 0.5), CR_OK);
    assert_int_equal(cr_struct_set("cr_attr_options", at, "samples", 9), CR_OK);
    assert_int_equal(cr_struct_set("cr_attr_options", at, "baseline", 1), CR_ERR_ARG); /* a pointer */
    double base[2] = {1, 2};
    cr_attr_options_set_baseline(at, base);
    assert_true(at->noise == 0.5 && at->samples == 9 && at->baseline == base && at->steps == 0);
    cr_struct_free("cr_attr_options", at);

    cr_bound_options *bo = cr_struct_new("cr_bound_options");
    assert_int_equal(cr_struct_set("cr_bound_options", bo, "method", CR_BOUND_CROWN), CR_OK);
    assert_true(bo->method == CR_BOUND_CROWN && !bo->no_slack && !bo->no_intersect);
    cr_struct_free("cr_bound_options", bo);

    cr_attack_stats st;
    memset(&st, 0, sizeof st);
    st.correct_adv = 41;
    st.max_dist = 0.125;
    assert_int_equal(cr_struct_get("cr_attack_stats", &st, "correct_adv", &v), CR_OK);
    assert_true(v == 41);
    assert_int_equal(cr_struct_get("cr_attack_stats", &st, "max_dist", &v), CR_OK);
    assert_true(v == 0.125);

    cr_check_result r;
    memset(&r, 0, sizeof r);
    strcpy(r.op, "linear");
    strcpy(r.what, "VJP");
    r.pass = 1;
    r.tol = 3e-9;
    assert_string_equal(cr_struct_get_string("cr_check_result", &r, "op"), "linear");
    assert_string_equal(cr_struct_get_string("cr_check_result", &r, "what"), "VJP");
    assert_null(cr_struct_get_string("cr_check_result", &r, "tol"));
    assert_int_equal(cr_struct_get("cr_check_result", &r, "pass", &v), CR_OK);
    assert_true(v == 1);
    assert_int_equal(cr_struct_get("cr_check_result", &r, "op", &v), CR_ERR_ARG);

    cr_check_report *rep = cr_struct_new("cr_check_report");
    assert_non_null(rep);
    assert_null(cr_check_report_item(rep, 0));
    cr_struct_free("cr_check_report", rep);
}

static cr_net *make_net(cr_dtype t, size_t d, size_t k) {
    size_t dims[3] = {d, 5, k};
    cr_activation act[1] = {CR_ACT_TANH};
    cr_net *net = NULL;
    assert_int_equal(cr_net_create(&net, t, 2, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 3);
    /* non-zero biases */
    for (int l = 0; l < 2; l++)
        for (size_t j = 0; j < dims[l + 1]; j++) {
            double b = 0.1 * (double)(j + 1) - 0.2 * l;
            if (t == CR_F64) cr_net_params_f64(net)[cr_net_bias_offset(net, l) + j] = b;
            else cr_net_params_f32(net)[cr_net_bias_offset(net, l) + j] = (float)b;
        }
    return net;
}

static void test_net_batches(void **state) {
    (void)state;
    const size_t d = 3, k = 4, n = 1500; /* more rows than one tape of cr_net_predict */
    for (int ti = 0; ti < 2; ti++) {
        cr_dtype t = ti ? CR_F64 : CR_F32;
        size_t es = cr_dtype_size(t);
        cr_net *net = make_net(t, d, k);
        assert_int_equal(cr_net_dtype(net), t);
        assert_int_equal(cr_net_n_layers(net), 2);
        assert_int_equal(cr_net_width(net, 0), d);
        assert_int_equal(cr_net_width(net, 1), 5);
        assert_int_equal(cr_net_width(net, 2), k);
        assert_int_equal(cr_net_width(net, 3), 0);
        cr_activation a;
        assert_int_equal(cr_net_hidden_activation(net, 0, &a), 1);
        assert_int_equal(a, CR_ACT_TANH);
        assert_int_equal(cr_net_hidden_activation(net, 1, &a), 0);
        assert_int_equal(cr_net_output_activation(net, &a), 0);
        assert_int_equal(cr_net_head(net), CR_HEAD_SOFTMAX_CE);

        double *xd = tu_dalloc(n * d), *vd = tu_dalloc(n * d);
        tu_fill_uniform(xd, n * d, -1, 1, 7);
        tu_fill_uniform(vd, n * d, -1, 1, 8);
        void *x = malloc(n * d * es), *v = malloc(n * d * es);
        for (size_t i = 0; i < n * d; i++) {
            if (t == CR_F64) ((double *)x)[i] = xd[i], ((double *)v)[i] = vd[i];
            else ((float *)x)[i] = (float)xd[i], ((float *)v)[i] = (float)vd[i];
        }
        cr_tape *tape = NULL;
        assert_int_equal(cr_tape_create(net, n, &tape), CR_OK);
        assert_int_equal(t == CR_F64 ? cr_net_forward_f64(net, tape, n, x) : cr_net_forward_f32(net, tape, n, x), CR_OK);
        void *got = malloc(n * k * es), *ref = malloc(n * k * es);
        for (int probs = 0; probs < 2; probs++) {
            assert_int_equal(cr_net_predict(NULL, net, n, x, probs, got), CR_OK);
            memcpy(ref, probs ? cr_tape_post(tape, 1) : cr_tape_output(tape), n * k * es);
            assert_memory_equal(got, ref, n * k * es);
            assert_int_equal(cr_net_input_jvp(net, n, x, v, probs, got), CR_OK);
            assert_int_equal(t == CR_F64 ? cr_net_jvp_f64(net, tape, v, probs ? NULL : ref, probs ? ref : NULL)
                                         : cr_net_jvp_f32(net, tape, v, probs ? NULL : ref, probs ? ref : NULL),
                             CR_OK);
            assert_memory_equal(got, ref, n * k * es);
            double mx = 0;
            for (size_t i = 0; i < n * k; i++) {
                double e = t == CR_F64 ? ((double *)got)[i] : ((float *)got)[i];
                mx = fabs(e) > mx ? fabs(e) : mx;
            }
            assert_true(mx > 1e-3); /* not vacuous */
        }
        assert_int_equal(cr_net_predict(NULL, net, 0, x, 0, got), CR_ERR_ARG);
        /* a regressor has no probabilities */
        assert_int_equal(cr_net_set_head(net, CR_HEAD_SQUARED_ERROR), CR_OK);
        assert_int_equal(cr_net_head(net), CR_HEAD_SQUARED_ERROR);
        assert_int_equal(cr_net_predict(NULL, net, 2, x, 1, got), CR_ERR_ARG);
        assert_int_equal(cr_net_input_jvp(net, 2, x, v, 1, got), CR_ERR_ARG);
        cr_tape_free(tape);
        free(got), free(ref), free(x), free(v), free(xd), free(vd);
        cr_net_free(net);
    }
}

static void test_model_handles(void **state) {
    (void)state;
    const char *missing = tu_path("missing.safetensors");
    cr_model *m = (cr_model *)&m;
    assert_int_equal(cr_model_open(missing, NULL, &m), CR_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(cr_last_error(), missing));
    assert_int_equal(cr_model_open(missing, "sideways", &m), CR_ERR_ARG);
    assert_non_null(strstr(cr_last_error(), "sideways"));

    cr_net *net = make_net(CR_F32, 3, 2);
    double mean[3] = {0.5, -1, 2}, sd[3] = {2, 0.5, 4};
    assert_int_equal(cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mean, sd), CR_OK);
    const char *path = tu_path("m.safetensors");
    assert_int_equal(cr_model_save(path, net), 0);
    cr_net_free(net);

    assert_int_equal(cr_model_open(path, NULL, &m), CR_OK);
    assert_non_null(m);
    assert_int_equal(cr_net_head(cr_model_net(m)), CR_HEAD_SOFTMAX_CE);
    double gm[3], gs[3];
    assert_int_equal(cr_model_standardization(m, gm, gs), 1);
    assert_memory_equal(gm, mean, sizeof mean);
    assert_memory_equal(gs, sd, sizeof sd);
    cr_model_close(m);
    assert_int_equal(cr_model_open(path, "squared-error", &m), CR_OK);
    assert_non_null(m);
    assert_int_equal(cr_net_head(cr_model_net(m)), CR_HEAD_SQUARED_ERROR);
    cr_model_close(m);
    cr_model_close(NULL);

    int64_t labels[3] = {1, 0, 1};
    size_t shape[1] = {3};
    void *out = NULL;
    assert_int_equal(cr_labels_to_targets_buffer("y", CR_ARRAY_I64, 1, shape, labels, 3, 2, CR_F64, &out), 0);
    const double want[6] = {0, 1, 1, 0, 0, 1};
    assert_memory_equal(out, want, sizeof want);
    free(out);
    labels[2] = 2;
    assert_int_not_equal(cr_labels_to_targets_buffer("y", CR_ARRAY_I64, 1, shape, labels, 3, 2, CR_F64, &out), 0);
    assert_non_null(strstr(cr_last_error(), "out of range"));
    assert_int_not_equal(cr_labels_to_targets_buffer("y", CR_ARRAY_I64, 9, shape, labels, 3, 2, CR_F64, &out), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_struct_fields),
        cmocka_unit_test(test_net_batches),
        cmocka_unit_test(test_model_handles),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
