/* Model files: safetensors <-> cr_net, with transposition, validation and extras. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "chainrule_typed.h"
#include "chainrule_io.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

static double param(const cr_net *net, size_t i) {
    return cr_net_dtype(net) == CR_F64 ? ((const double *)cr_net_params_const(net))[i]
                                : (double)((const float *)cr_net_params_const(net))[i];
}

/* A network whose every parameter (biases included) is a distinct random value. */
static cr_net *make_net(cr_dtype dt, int L, const size_t *dims, const cr_activation *act,
                        uint64_t seed) {
    cr_net *net;
    assert_int_equal(cr_net_create(&net, dt, L, dims, act), CR_OK);
    double *v = malloc(cr_net_n_params(net) * sizeof *v);
    assert_non_null(v);
    tu_fill_uniform(v, cr_net_n_params(net), -2.0, 2.0, seed);
    for (size_t i = 0; i < cr_net_n_params(net); i++) {
        if (dt == CR_F64)
            ((double *)cr_net_params(net))[i] = v[i];
        else
            ((float *)cr_net_params(net))[i] = (float)v[i];
    }
    free(v);
    return net;
}

static void assert_nets_identical(const cr_net *a, const cr_net *b) {
    assert_int_equal(cr_net_dtype(a), cr_net_dtype(b));
    assert_int_equal(cr_net_n_layers(a), cr_net_n_layers(b));
    for (int l = 0; l <= cr_net_n_layers(a); l++) assert_int_equal(cr_net_width(a, l), cr_net_width(b, l));
    for (int l = 0; l + 1 < cr_net_n_layers(a); l++) assert_int_equal(cr_net_activation(a, l), cr_net_activation(b, l));
    assert_int_equal(cr_net_n_params(a), cr_net_n_params(b));
    assert_memory_equal(cr_net_params_const(a), cr_net_params_const(b), cr_net_n_params(a) * cr_dtype_size(cr_net_dtype(a)));
}

/* Adds fc{i}.weight [out, in] and fc{i}.bias [out] of dtype dt with small values. */
static void add_layer(cr_safetensors *st, int i, cr_array_dtype dt, size_t out, size_t in) {
    cr_array w, b;
    size_t ws[2] = {out, in}, bs[1] = {out};
    char name[32];
    assert_int_equal(cr_array_alloc(&w, dt, 2, ws), 0);
    assert_int_equal(cr_array_alloc(&b, dt, 1, bs), 0);
    for (size_t k = 0; k < w.count; k++) {
        if (dt == CR_ARRAY_F64) ((double *)w.data)[k] = (double)k + 0.5;
        if (dt == CR_ARRAY_F32) ((float *)w.data)[k] = (float)k + 0.5f;
    }
    snprintf(name, sizeof name, "fc%d.weight", i);
    assert_int_equal(cr_safetensors_add(st, name, &w), 0);
    snprintf(name, sizeof name, "fc%d.bias", i);
    assert_int_equal(cr_safetensors_add(st, name, &b), 0);
    cr_array_free(&w);
    cr_array_free(&b);
}

static void add_vec(cr_safetensors *st, const char *name, cr_array_dtype dt, size_t n, double v) {
    cr_array a;
    assert_int_equal(cr_array_alloc(&a, dt, 1, &n), 0);
    for (size_t k = 0; k < n; k++) {
        if (dt == CR_ARRAY_F64) ((double *)a.data)[k] = v;
        if (dt == CR_ARRAY_F32) ((float *)a.data)[k] = (float)v;
    }
    assert_int_equal(cr_safetensors_add(st, name, &a), 0);
    cr_array_free(&a);
}

static void set_meta(cr_safetensors *st, const char *k, const char *v) {
    assert_int_equal(cr_safetensors_set_meta(st, k, v), 0);
}

/* The standard valid model: 4 -> 3 -> 2, sigmoid, softmax. */
static void good_model(cr_safetensors *st, cr_array_dtype dt) {
    memset(st, 0, sizeof *st);
    add_layer(st, 1, dt, 3, 4);
    add_layer(st, 2, dt, 2, 3);
    set_meta(st, "format", "chainrule/1");
    set_meta(st, "activations", "sigmoid,softmax");
}

static cr_tensor *tensor(cr_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    fail_msg("no tensor %s", name);
    return NULL;
}

/* cr_model_from_safetensors must fail with exactly `want` inside the message. */
static void expect_model_error(cr_safetensors *st, const char *want) {
    cr_model m;
    memset(&m, 0x5a, sizeof m);
    int rc = cr_model_from_safetensors("model.safetensors", st, &m);
    if (rc == 0 || !strstr(cr_last_error(), want) || strncmp(cr_last_error(), "model.safetensors: ", 19) != 0) {
        print_error("expected error containing '%s', got rc=%d '%s'\n", want, rc, cr_last_error());
        if (rc == 0) cr_model_free(&m);
        fail();
    }
    assert_null(m.net);
    assert_null(m.input_mean.data);
    assert_null(m.extra.tensors);
    cr_safetensors_free(st);
}

/* ------------------------------------------------------------ round trips */

static void roundtrip(cr_dtype dt, int L, const size_t *dims, const cr_activation *act,
                      const char *acts_str, const char *layers_str) {
    cr_net *net = make_net(dt, L, dims, act, 42 + (uint64_t)L), *back = NULL;
    const char *path = tu_path("rt.safetensors");
    if (cr_model_save(path, net)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    if (cr_model_load(path, &back)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    assert_nets_identical(net, back);

    /* the raw file holds PyTorch's layout: fc{l}.weight[j][i] == W_l[i][j] */
    cr_safetensors st;
    assert_int_equal(cr_safetensors_read(path, &st), 0);
    assert_string_equal(cr_safetensors_meta(&st, "format"), "chainrule/1");
    assert_string_equal(cr_safetensors_meta(&st, "activations"), acts_str);
    assert_string_equal(cr_safetensors_meta(&st, "layers"), layers_str);
    assert_int_equal(st.n_tensors, 2 * (size_t)L);
    assert_int_equal(st.n_meta, 3);
    cr_array_dtype adt = dt == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    for (int l = 0; l < L; l++) {
        char name[32];
        size_t in = dims[l], out = dims[l + 1];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        const cr_tensor *w = cr_safetensors_find(&st, name);
        assert_non_null(w);
        assert_int_equal(w->array.dtype, adt);
        assert_int_equal(w->array.ndim, 2);
        assert_int_equal(w->array.shape[0], out);
        assert_int_equal(w->array.shape[1], in);
        for (size_t i = 0; i < in; i++)
            for (size_t j = 0; j < out; j++) {
                double fw = dt == CR_F64 ? ((const double *)w->array.data)[j * in + i]
                                         : (double)((const float *)w->array.data)[j * in + i];
                assert_true(fw == param(net, cr_net_weight_offset(net, l) + i * out + j));
            }
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        const cr_tensor *b = cr_safetensors_find(&st, name);
        assert_non_null(b);
        assert_int_equal(b->array.ndim, 1);
        assert_int_equal(b->array.shape[0], out);
        assert_memory_equal(b->array.data,
                            (const char *)cr_net_params(net) + cr_net_bias_offset(net, l) * cr_dtype_size(dt),
                            out * cr_dtype_size(dt));
    }
    cr_safetensors_free(&st);
    cr_net_free(net);
    cr_net_free(back);
    assert_int_equal(tu_count_tmp_files(), 0);
}

static void test_roundtrip_f32_f64(void **state) {
    (void)state;
    const size_t d2[3] = {5, 4, 3}, d4[5] = {7, 6, 5, 4, 3}, d1[2] = {4, 2};
    const cr_activation a2[1] = {CR_ACT_SIGMOID};
    const cr_activation a4[3] = {CR_ACT_RELU, CR_ACT_TANH, CR_ACT_SIGMOID};
    for (int t = 0; t < 2; t++) {
        cr_dtype dt = t ? CR_F64 : CR_F32;
        roundtrip(dt, 2, d2, a2, "sigmoid,softmax", "5,4,3");
        roundtrip(dt, 4, d4, a4, "relu,tanh,sigmoid,softmax", "7,6,5,4,3");
        roundtrip(dt, 1, d1, NULL, "softmax", "4,2");
    }
}

static void test_roundtrip_max_layers(void **state) {
    (void)state;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation act[CR_MAX_LAYERS];
    char acts[256] = "", layers[256] = "";
    for (int l = 0; l <= CR_MAX_LAYERS; l++) {
        dims[l] = 2 + (size_t)(l % 3);
        snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%zu", l ? "," : "",
                 dims[l]);
    }
    for (int l = 0; l < CR_MAX_LAYERS - 1; l++) {
        act[l] = (cr_activation)(l % 3);
        snprintf(acts + strlen(acts), sizeof acts - strlen(acts), "%s,",
                 cr_activation_name(act[l]));
    }
    strcat(acts, "softmax");
    roundtrip(CR_F64, CR_MAX_LAYERS, dims, act, acts, layers);
}

/* cr_model_load keeps a file's standardisation as the net's link 0, the stored
   values: the net of the raw input gives the full model's outputs on (x − μ)/σ bit
   for bit, with W1 as stored. cr_model_fold_standardization, a utility off the load
   path, folds it into layer 1 instead: the same function up to rounding. */
static void test_load_keeps_standardization_as_link0(void **state) {
    (void)state;
    const size_t dims[3] = {3, 4, 2}, d = 3;
    const cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_model m = {0};
    m.net = make_net(CR_F64, 2, dims, act, 9);
    assert_int_equal(cr_array_alloc(&m.input_mean, CR_ARRAY_F64, 1, &d), 0);
    assert_int_equal(cr_array_alloc(&m.input_std, CR_ARRAY_F64, 1, &d), 0);
    const double mu[3] = {0.5, -1, 2}, sd[3] = {2, 0.25, 3}, x[3] = {0.3, -0.7, 1.9};
    memcpy(m.input_mean.data, mu, sizeof mu);
    memcpy(m.input_std.data, sd, sizeof sd);
    const char *path = tu_path("std.safetensors");
    assert_int_equal(cr_model_save_full(path, &m), 0);
    cr_net *raw = NULL;
    assert_int_equal(cr_model_load(path, &raw), 0);
    double z[3], a[2], b[2];
    for (int j = 0; j < 3; j++) z[j] = (x[j] - mu[j]) / sd[j];
    cr_tape *t1 = NULL, *t2 = NULL;
    assert_int_equal(cr_tape_create(m.net, 1, &t1), CR_OK);
    assert_int_equal(cr_tape_create(raw, 1, &t2), CR_OK);
    assert_int_equal(cr_net_forward_f64(m.net, t1, 1, z), CR_OK);
    assert_int_equal(cr_net_forward_f64(raw, t2, 1, x), CR_OK);
    memcpy(a, cr_tape_pre(t1, 1), sizeof a), memcpy(b, cr_tape_pre(t2, 1), sizeof b);
    assert_memory_equal(a, b, sizeof a); /* exactly the file's arithmetic */
    assert_memory_equal(cr_net_params(raw), cr_net_params(m.net), cr_net_n_params(raw) * sizeof(double));
    double lm[3], ls[3];
    cr_affine_form form;
    assert_int_equal(cr_net_get_affine(raw, 0, &form, lm, ls, NULL, NULL, NULL), CR_OK);
    assert_int_equal(form, CR_AFFINE_SUB_DIV);
    assert_memory_equal(lm, mu, sizeof mu);
    assert_memory_equal(ls, sd, sizeof sd);
    /* saved again (cr_model_save: the net alone), the link is input.mean/input.std */
    const char *path2 = tu_path("std2.safetensors");
    assert_int_equal(cr_model_save(path2, raw), 0);
    cr_model back = {0};
    assert_int_equal(cr_model_load_full(path2, &back), 0);
    assert_memory_equal(back.input_mean.data, mu, sizeof mu);
    assert_memory_equal(back.input_std.data, sd, sizeof sd);
    cr_model_free(&back);
    /* cr_model_fold_standardization: on a copy of the raw net, the same function */
    cr_net *copy = NULL, *f32 = NULL;
    assert_int_equal(cr_net_convert(raw, CR_F64, &copy), CR_OK);
    assert_int_equal(cr_model_fold_standardization(&m, copy), 0);
    assert_int_equal(cr_net_affine_form(copy, 0), CR_AFFINE_NONE); /* folded: no link left */
    cr_tape_free(t1);
    assert_int_equal(cr_tape_create(copy, 1, &t1), CR_OK);
    assert_int_equal(cr_net_forward_f64(copy, t1, 1, x), CR_OK);
    for (int k = 0; k < 2; k++)
        assert_true(fabs(((double *)cr_tape_pre(t1, 1))[k] - a[k]) <= 1e-12 * (1 + fabs(a[k])));
    cr_tape_free(t1), cr_tape_free(t2);
    /* ... and on a float32 copy, the same function of the raw input, in float */
    assert_int_equal(cr_net_convert(m.net, CR_F32, &f32), CR_OK);
    assert_int_equal(cr_model_fold_standardization(&m, f32), 0);
    const float xf[3] = {0.3f, -0.7f, 1.9f};
    assert_int_equal(cr_tape_create(f32, 1, &t1), CR_OK);
    assert_int_equal(cr_net_forward_f32(f32, t1, 1, xf), CR_OK);
    for (int k = 0; k < 2; k++) assert_true(fabs(((float *)cr_tape_pre(t1, 1))[k] - a[k]) <= 1e-4 * (1 + fabs(a[k])));
    cr_tape_free(t1);
    cr_net_free(f32);
    /* a net of another input width is refused, and left as it was */
    const size_t dims4[3] = {4, 4, 2};
    cr_net *wide = make_net(CR_F64, 2, dims4, act, 9), *before = NULL;
    assert_int_equal(cr_net_convert(wide, CR_F64, &before), CR_OK);
    assert_int_not_equal(cr_model_fold_standardization(&m, wide), CR_OK);
    assert_non_null(strstr(cr_last_error(), "input.mean/input.std have 3 values but the model takes 4"));
    assert_memory_equal(cr_net_params(wide), cr_net_params(before), cr_net_n_params(wide) * sizeof(double));
    /* without a standardisation the net is unchanged */
    cr_model plain = {0};
    assert_int_equal(cr_model_fold_standardization(&plain, wide), 0);
    assert_memory_equal(cr_net_params(wide), cr_net_params(before), cr_net_n_params(wide) * sizeof(double));
    cr_net_free(wide), cr_net_free(before), cr_net_free(copy);
    cr_net_free(raw);
    cr_model_free(&m);
}

static void test_full_roundtrip_with_extras(void **state) {
    (void)state;
    const size_t dims[3] = {3, 4, 2};
    const cr_activation act[1] = {CR_ACT_TANH};
    for (int t = 0; t < 2; t++) {
        cr_dtype dt = t ? CR_F64 : CR_F32;
        cr_array_dtype adt = t ? CR_ARRAY_F64 : CR_ARRAY_F32;
        cr_model m = {0}, back;
        m.net = make_net(dt, 2, dims, act, 7);
        size_t d = 3;
        assert_int_equal(cr_array_alloc(&m.input_mean, adt, 1, &d), 0);
        assert_int_equal(cr_array_alloc(&m.input_std, adt, 1, &d), 0);
        for (size_t i = 0; i < 3; i++) {
            if (t) {
                ((double *)m.input_mean.data)[i] = 0.1 * (double)i;
                ((double *)m.input_std.data)[i] = 1.0 + (double)i;
            } else {
                ((float *)m.input_mean.data)[i] = 0.1f * (float)i;
                ((float *)m.input_std.data)[i] = 1.0f + (float)i;
            }
        }
        size_t ms[2] = {3, 4}, steps = 1;
        cr_array moment, count;
        assert_int_equal(cr_array_alloc(&moment, adt, 2, ms), 0);
        assert_int_equal(cr_array_alloc(&count, CR_ARRAY_I64, 1, &steps), 0);
        ((int64_t *)count.data)[0] = 12345;
        ((unsigned char *)moment.data)[5] = 77;
        assert_int_equal(cr_safetensors_add(&m.extra, "adam.m.fc1.weight", &moment), 0);
        assert_int_equal(cr_safetensors_add(&m.extra, "adam.step", &count), 0);
        assert_int_equal(cr_safetensors_set_meta(&m.extra, "epoch", "3"), 0);
        assert_int_equal(cr_safetensors_set_meta(&m.extra, "optimizer", "adam"), 0);
        cr_array_free(&moment);
        cr_array_free(&count);

        const char *path = tu_path("full.safetensors");
        if (cr_model_save_full(path, &m)) {
            print_error("%s\n", cr_last_error());
            fail();
        }
        assert_int_equal(cr_model_load_full(path, &back), 0);
        assert_nets_identical(m.net, back.net);
        assert_int_equal(back.input_mean.dtype, adt);
        assert_int_equal(back.input_mean.count, 3);
        assert_memory_equal(back.input_mean.data, m.input_mean.data, 3 * cr_array_dtype_size(adt));
        assert_memory_equal(back.input_std.data, m.input_std.data, 3 * cr_array_dtype_size(adt));
        assert_int_equal(back.extra.n_tensors, 2);
        assert_string_equal(back.extra.tensors[0].name, "adam.m.fc1.weight");
        assert_memory_equal(back.extra.tensors[0].array.data, m.extra.tensors[0].array.data,
                            12 * cr_array_dtype_size(adt));
        assert_int_equal(((int64_t *)cr_safetensors_find(&back.extra, "adam.step")->array.data)[0],
                         12345);
        assert_int_equal(back.extra.n_meta, 2); /* format/activations/layers are not extras */
        assert_string_equal(cr_safetensors_meta(&back.extra, "epoch"), "3");
        assert_string_equal(cr_safetensors_meta(&back.extra, "optimizer"), "adam");

        /* the plain loader reads the same file, ignores the extras and folds the
           standardisation into layer 1 (test_load_folds_standardization): the
           layers after it are as saved */
        cr_net *net;
        assert_int_equal(cr_model_load(path, &net), 0);
        size_t es = cr_dtype_size(dt), off = cr_net_weight_offset(m.net, 1);
        assert_memory_equal((char *)cr_net_params(m.net) + off * es, (char *)cr_net_params(net) + off * es,
                            (cr_net_n_params(m.net) - off) * es);
        cr_net_free(net);

        /* save_full of the loaded model reproduces the file byte for byte */
        const char *path2 = tu_path("full2.safetensors");
        assert_int_equal(cr_model_save_full(path2, &back), 0);
        size_t l1, l2;
        unsigned char *b1 = tu_slurp(path, &l1), *b2 = tu_slurp(path2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(b1, b2, l1);
        free(b1);
        free(b2);
        cr_model_free(&m);
        cr_model_free(&back);
        cr_model_free(&back);
    }
    assert_int_equal(tu_count_tmp_files(), 0);
}

/* A file made the PyTorch way (nn.Linear weights [out, in], no "layers" key). */
static void test_load_pytorch_layout(void **state) {
    (void)state;
    cr_safetensors st = {0};
    size_t ws1[2] = {3, 2}, bs1[1] = {3}, ws2[2] = {2, 3}, bs2[1] = {2};
    cr_array a;
    const float w1[6] = {1, 2, 3, 4, 5, 6}; /* [[1,2],[3,4],[5,6]] */
    const float b1[3] = {0.5f, -0.5f, 0.25f};
    const float w2[6] = {7, 8, 9, 10, 11, 12};
    const float b2[2] = {-1, 1};
    const float *src[4] = {w1, b1, w2, b2};
    const size_t *shapes[4] = {ws1, bs1, ws2, bs2};
    const char *names[4] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    for (int k = 0; k < 4; k++) {
        int nd = k % 2 ? 1 : 2;
        assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F32, nd, shapes[k]), 0);
        memcpy(a.data, src[k], a.count * sizeof(float));
        assert_int_equal(cr_safetensors_add(&st, names[k], &a), 0);
        cr_array_free(&a);
    }
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "relu,softmax");
    const char *path = tu_path("torch.safetensors");
    assert_int_equal(cr_safetensors_write(path, &st), 0);
    cr_safetensors_free(&st);

    cr_net *net;
    if (cr_model_load(path, &net)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    assert_int_equal(cr_net_n_layers(net), 2);
    assert_int_equal(cr_net_width(net, 0), 2);
    assert_int_equal(cr_net_width(net, 1), 3);
    assert_int_equal(cr_net_width(net, 2), 2);
    assert_int_equal(cr_net_activation(net, 0), CR_ACT_RELU);
    const float *p = cr_net_params_f32(net);
    assert_non_null(p);
    const float W1[6] = {1, 3, 5, 2, 4, 6}; /* W1 = fc1.weight^T, 2 x 3 */
    const float W2[6] = {7, 10, 8, 11, 9, 12};
    assert_memory_equal(p + cr_net_weight_offset(net, 0), W1, sizeof W1);
    assert_memory_equal(p + cr_net_bias_offset(net, 0), b1, sizeof b1);
    assert_memory_equal(p + cr_net_weight_offset(net, 1), W2, sizeof W2);
    assert_memory_equal(p + cr_net_bias_offset(net, 1), b2, sizeof b2);
    cr_net_free(net);
}

/* ------------------------------------------------------------ malformed models */

static void test_err_missing_bias(void **state) {
    (void)state;
    cr_safetensors st = {0};
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    cr_array w;
    size_t ws[2] = {2, 3};
    assert_int_equal(cr_array_alloc(&w, CR_ARRAY_F32, 2, ws), 0);
    assert_int_equal(cr_safetensors_add(&st, "fc2.weight", &w), 0);
    cr_array_free(&w);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "sigmoid,softmax");
    expect_model_error(&st, "model.safetensors: missing tensor 'fc2.bias'");

    /* a gap: fc3 present, fc2 absent */
    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 3, CR_ARRAY_F32, 2, 3);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "sigmoid,sigmoid,softmax");
    expect_model_error(&st, "missing tensor 'fc2.weight'");
}

static void test_err_shape_chain(void **state) {
    (void)state;
    cr_safetensors st = {0};
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 2, CR_ARRAY_F32, 2, 5);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "sigmoid,softmax");
    expect_model_error(&st, "shape mismatch: tensor 'fc2.weight' has shape [2, 5] but fc1 has 3 "
                            "outputs (expected [2, 3])");

    good_model(&st, CR_ARRAY_F32);
    tensor(&st, "fc1.bias")->array.shape[0] = 2;
    tensor(&st, "fc1.bias")->array.count = 2;
    expect_model_error(&st, "shape mismatch: tensor 'fc1.bias' has shape [2] but fc1.weight has 3 "
                            "outputs (expected [3])");

    good_model(&st, CR_ARRAY_F32);
    cr_tensor *w = tensor(&st, "fc1.weight");
    w->array.ndim = 1;
    w->array.shape[0] = 12;
    expect_model_error(&st, "tensor 'fc1.weight' must be 2-D [out, in], got shape [12]");

    good_model(&st, CR_ARRAY_F32);
    tensor(&st, "fc2.weight")->array.shape[1] = 1000; /* shape disagrees with count */
    expect_model_error(&st, "tensor 'fc2.weight': inconsistent array");

    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_F32, 0, 4);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "softmax");
    expect_model_error(&st, "tensor 'fc1.weight' has an empty shape [0, 4]");

    good_model(&st, CR_ARRAY_F64);
    set_meta(&st, "layers", "4,5,2");
    expect_model_error(&st, "metadata layers '4,5,2' does not match the tensor shapes 4,3,2");

    /* the same widths written as a JSON-style list are not a mismatch */
    good_model(&st, CR_ARRAY_F64);
    set_meta(&st, "layers", "[4, 3, 2]");
    {
        cr_model m;
        assert_int_equal(cr_model_from_safetensors("model.safetensors", &st, &m), 0);
        cr_model_free(&m);
        cr_safetensors_free(&st);
    }
}

static void test_err_mixed_dtypes(void **state) {
    (void)state;
    cr_safetensors st = {0};
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 2, CR_ARRAY_F64, 2, 3);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "sigmoid,softmax");
    expect_model_error(&st, "mixed dtypes: tensor 'fc2.weight' is float64 but 'fc1.weight' is float32");

    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_U8, 3, 4);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "softmax");
    expect_model_error(&st, "tensor 'fc1.weight' is uint8; model weights must be float32 or float64");

    good_model(&st, CR_ARRAY_F32);
    add_vec(&st, "input.mean", CR_ARRAY_F64, 4, 0.0);
    expect_model_error(&st, "mixed dtypes: tensor 'input.mean' is float64");
}

static void test_err_activations(void **state) {
    (void)state;
    cr_safetensors st;
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "swish,softmax");
    char names[256], msg[512]; /* the messages list every activation of the op table */
    cr_activation_list_names(names, sizeof names, ", ", " or ");
    assert_non_null(strstr(names, "sigmoid, tanh, relu"));
    snprintf(msg, sizeof msg, "unknown activation 'swish' for layer 1 (expected %s)", names);
    expect_model_error(&st, msg);
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "softmax,softmax");
    expect_model_error(&st, "unknown activation 'softmax' for layer 1");
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "sigmoid,mish"); /* not softmax nor an output activation */
    cr_activation_list_names(names, sizeof names, ", ", ", ");
    assert_non_null(strstr(names, "sigmoid, tanh, relu, gelu"));
    snprintf(msg, sizeof msg, "last activation must be 'softmax' (a classifier), or the output "
                              "activation (%s or none) with the metadata \"head\", got 'mish'", names);
    expect_model_error(&st, msg);
    good_model(&st, CR_ARRAY_F32); /* a head goes with an output activation or 'none' */
    set_meta(&st, "head", "squared-error");
    expect_model_error(&st, "metadata head 'squared-error' with a last activation 'softmax'");
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "sigmoid,none");
    set_meta(&st, "head", "mse");
    expect_model_error(&st, "metadata head 'mse' is not softmax-cross-entropy or squared-error");
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "softmax");
    expect_model_error(&st, "metadata activations 'softmax' lists 1 entries but the model has 2 layers");
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "sigmoid,softmax,");
    expect_model_error(&st, "lists 3 entries");
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", "averyveryverylongname,softmax");
    expect_model_error(&st, "unknown activation");

    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    set_meta(&st, "format", "chainrule/1");
    expect_model_error(&st, "missing metadata \"activations\"");

    /* spaces around names are tolerated */
    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "activations", " tanh , softmax ");
    cr_model m;
    assert_int_equal(cr_model_from_safetensors("model.safetensors", &st, &m), 0);
    assert_int_equal(cr_net_activation(m.net, 0), CR_ACT_TANH);
    cr_model_free(&m);
    cr_safetensors_free(&st);
}

static void test_err_format_metadata(void **state) {
    (void)state;
    cr_safetensors st = {0};
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 2, CR_ARRAY_F32, 2, 3);
    expect_model_error(&st, "model.safetensors: missing metadata \"format\" (expected \"chainrule/1\")");

    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 2, CR_ARRAY_F32, 2, 3);
    set_meta(&st, "activations", "sigmoid,softmax");
    expect_model_error(&st, "missing metadata \"format\"");

    good_model(&st, CR_ARRAY_F32);
    set_meta(&st, "format", "pt");
    expect_model_error(&st, "unsupported format 'pt' (expected 'chainrule/1')");
}

static void test_err_nonfinite(void **state) {
    (void)state;
    cr_safetensors st;
    good_model(&st, CR_ARRAY_F32);
    ((float *)tensor(&st, "fc2.weight")->array.data)[4] = NAN;
    expect_model_error(&st, "model.safetensors: tensor 'fc2.weight' contains NaN at index 4");
    good_model(&st, CR_ARRAY_F64);
    ((double *)tensor(&st, "fc1.bias")->array.data)[1] = -INFINITY;
    expect_model_error(&st, "tensor 'fc1.bias' contains Inf at index 1");

    /* the same through a file: the message names the path */
    good_model(&st, CR_ARRAY_F32);
    ((float *)tensor(&st, "fc2.weight")->array.data)[0] = NAN;
    const char *path = tu_path("model.safetensors");
    assert_int_equal(cr_safetensors_write(path, &st), 0);
    cr_safetensors_free(&st);
    cr_net *net = (cr_net *)&net; /* not NULL: the loader must clear it */
    assert_int_not_equal(cr_model_load(path, &net), CR_OK);
    assert_null(net);
    char want[600];
    snprintf(want, sizeof want, "%s: tensor 'fc2.weight' contains NaN", path);
    assert_non_null(strstr(cr_last_error(), want));
    cr_model m;
    assert_int_not_equal(cr_model_load_full(path, &m), CR_OK);
    assert_null(m.net);
}

static void test_err_zero_layers(void **state) {
    (void)state;
    cr_safetensors st = {0};
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "softmax");
    add_vec(&st, "something.else", CR_ARRAY_F32, 3, 1.0);
    add_vec(&st, "fc01.weight", CR_ARRAY_F32, 3, 1.0); /* not a layer name */
    expect_model_error(&st, "model.safetensors: no layers (missing tensor 'fc1.weight')");

    cr_safetensors empty = {0};
    expect_model_error(&empty, "missing metadata \"format\"");

    memset(&st, 0, sizeof st);
    add_layer(&st, 1, CR_ARRAY_F32, 3, 4);
    add_layer(&st, 17, CR_ARRAY_F32, 3, 3);
    set_meta(&st, "format", "chainrule/1");
    set_meta(&st, "activations", "softmax");
    expect_model_error(&st, "tensor 'fc17.weight': too many layers (at most 16)");
}

static void test_err_input_standardisation(void **state) {
    (void)state;
    cr_safetensors st;
    good_model(&st, CR_ARRAY_F32);
    add_vec(&st, "input.mean", CR_ARRAY_F32, 5, 0.0);
    expect_model_error(&st, "shape mismatch: tensor 'input.mean' has shape [5] but the model has 4 "
                            "inputs (expected [4])");
    good_model(&st, CR_ARRAY_F32);
    add_vec(&st, "input.std", CR_ARRAY_F32, 4, 0.0);
    expect_model_error(&st, "tensor 'input.std' has non-positive value 0 at index 0");
    good_model(&st, CR_ARRAY_F64);
    add_vec(&st, "input.std", CR_ARRAY_F64, 4, NAN);
    expect_model_error(&st, "tensor 'input.std' contains NaN at index 0");

    /* valid: both present, kept; other tensors go to extra */
    good_model(&st, CR_ARRAY_F64);
    add_vec(&st, "input.mean", CR_ARRAY_F64, 4, 0.5);
    add_vec(&st, "input.std", CR_ARRAY_F64, 4, 2.0);
    add_vec(&st, "fc1.weight_decay", CR_ARRAY_F64, 1, 0.5);
    set_meta(&st, "note", "hi");
    cr_model m;
    assert_int_equal(cr_model_from_safetensors("model.safetensors", &st, &m), 0);
    assert_true(((double *)m.input_mean.data)[3] == 0.5);
    assert_true(((double *)m.input_std.data)[0] == 2.0);
    assert_int_equal(m.extra.n_tensors, 1);
    assert_string_equal(m.extra.tensors[0].name, "fc1.weight_decay");
    assert_int_equal(m.extra.n_meta, 1);
    cr_model_free(&m);
    cr_safetensors_free(&st);
}

/* ------------------------------------------------------------ saving */

static int save_big(void *arg) { return cr_model_save(tu_path("keep.safetensors"), arg); }

static void test_failed_save_keeps_previous_file(void **state) {
    (void)state;
    const size_t small[3] = {3, 3, 2}, large[3] = {300, 100, 10};
    const cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_net *a = make_net(CR_F64, 2, small, act, 1), *b = make_net(CR_F64, 2, large, act, 2);
    const char *path = tu_path("keep.safetensors");
    assert_int_equal(cr_model_save(path, a), 0);
    size_t len0, len1;
    unsigned char *before = tu_slurp(path, &len0);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 20000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = save_big(b);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, CR_ERR_IO);
    assert_non_null(strstr(cr_last_error(), "keep.safetensors: write failed: File too large"));
    unsigned char *after = tu_slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(after);

    /* a network with NaN parameters is refused, the file untouched */
    ((double *)cr_net_params(b))[7] = NAN;
    assert_int_not_equal(cr_model_save(path, b), CR_OK);
    assert_non_null(strstr(cr_last_error(), "keep.safetensors: refusing to save a network whose parameters "
                                    "contain NaN (parameter 7)"));
    after = tu_slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(tu_count_tmp_files(), 0);
    free(after);

    /* float32 input statistics of a float64 network are stored as float64 */
    {
        cr_model fm = {0}, fb;
        size_t d3 = 3;
        fm.net = a;
        assert_int_equal(cr_array_alloc(&fm.input_mean, CR_ARRAY_F32, 1, &d3), 0);
        assert_int_equal(cr_array_alloc(&fm.input_std, CR_ARRAY_F32, 1, &d3), 0);
        for (int i = 0; i < 3; i++) {
            ((float *)fm.input_mean.data)[i] = 0.1f * (float)i;
            ((float *)fm.input_std.data)[i] = 1.5f;
        }
        const char *p2 = tu_path("conv.safetensors");
        assert_int_equal(cr_model_save_full(p2, &fm), 0);
        assert_int_equal(cr_model_load_full(p2, &fb), 0);
        assert_int_equal(fb.input_mean.dtype, CR_ARRAY_F64);
        assert_true(((double *)fb.input_mean.data)[2] == (double)(0.1f * 2.0f));
        assert_true(((double *)fb.input_std.data)[1] == 1.5);
        cr_model_free(&fb);
        cr_array_free(&fm.input_mean);
        cr_array_free(&fm.input_std);
    }

    /* extras may not shadow model tensors or metadata */
    cr_model m = {0};
    m.net = a;
    add_vec(&m.extra, "fc1.bias", CR_ARRAY_F64, 3, 0.0);
    assert_int_not_equal(cr_model_save_full(path, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "extra tensor 'fc1.bias' clashes with a model tensor"));
    cr_safetensors_free(&m.extra);
    set_meta(&m.extra, "activations", "relu,softmax");
    assert_int_not_equal(cr_model_save_full(path, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "extra metadata 'activations' clashes"));
    cr_safetensors_free(&m.extra);
    /* input.std must be positive and match the input width */
    size_t d = 2;
    assert_int_equal(cr_array_alloc(&m.input_std, CR_ARRAY_F64, 1, &d), 0);
    assert_int_not_equal(cr_model_save_full(path, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "input.std must be float64 [3]"));
    cr_array_free(&m.input_std);
    d = 3;
    assert_int_equal(cr_array_alloc(&m.input_std, CR_ARRAY_F64, 1, &d), 0);
    assert_int_not_equal(cr_model_save_full(path, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "input.std has non-positive value 0 at index 0"));
    cr_array_free(&m.input_std);
    after = tu_slurp(path, &len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(tu_count_tmp_files(), 0);
    free(after);
    free(before);
    cr_net_free(a);
    cr_net_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_f32_f64),
        cmocka_unit_test(test_roundtrip_max_layers),
        cmocka_unit_test(test_full_roundtrip_with_extras),
        cmocka_unit_test(test_load_keeps_standardization_as_link0),
        cmocka_unit_test(test_load_pytorch_layout),
        cmocka_unit_test(test_err_missing_bias),
        cmocka_unit_test(test_err_shape_chain),
        cmocka_unit_test(test_err_mixed_dtypes),
        cmocka_unit_test(test_err_activations),
        cmocka_unit_test(test_err_format_metadata),
        cmocka_unit_test(test_err_nonfinite),
        cmocka_unit_test(test_err_zero_layers),
        cmocka_unit_test(test_err_input_standardisation),
        cmocka_unit_test(test_failed_save_keeps_previous_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
