/*
 * The protobuf reader's bounds and the ONNX reader/writer: a model written
 * with cr_onnx_encode reads back bit for bit; every truncation of it and
 * every single-byte corruption of its first bytes is refused with one line
 * naming the file (or read as some valid model), never a crash; lying
 * lengths, overlong varints, groups and deep nesting are errors.
 * (The graphs of real exporters are checked against PyTorch and onnxruntime
 * in tests/torch_onnx.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "io/protobuf.h"
#include "chainrule_io.h"

static void test_varints(void **state) {
    (void)state;
    const char *why = NULL;
    cr_pb_field f;
    /* field 1, varint 300 */
    const unsigned char ok[] = {0x08, 0xac, 0x02};
    cr_pb_reader r = cr_pb_reader_init(ok, sizeof ok);
    assert_int_equal(cr_pb_next(&r, &f, &why), 1);
    assert_int_equal(f.field, 1);
    assert_int_equal(f.v, 300);
    assert_int_equal(cr_pb_next(&r, &f, &why), 0);
    /* the largest 64-bit varint, then one that overflows */
    unsigned char max[11] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    r = cr_pb_reader_init(max, sizeof max);
    assert_int_equal(cr_pb_next(&r, &f, &why), 1);
    assert_true(f.v == UINT64_MAX);
    max[10] = 0x02;
    r = cr_pb_reader_init(max, sizeof max);
    assert_int_equal(cr_pb_next(&r, &f, &why), -1);
    assert_string_equal(why, "varint overflows 64 bits");
    const unsigned char trunc[] = {0x08, 0x80};
    r = cr_pb_reader_init(trunc, sizeof trunc);
    assert_int_equal(cr_pb_next(&r, &f, &why), -1);
    assert_string_equal(why, "truncated varint");
}

static void test_lengths_groups_depth(void **state) {
    (void)state;
    const char *why = NULL;
    cr_pb_field f;
    /* field 2, length 5 but only 3 bytes left */
    const unsigned char lie[] = {0x12, 0x05, 'a', 'b', 'c'};
    cr_pb_reader r = cr_pb_reader_init(lie, sizeof lie);
    assert_int_equal(cr_pb_next(&r, &f, &why), -1);
    assert_string_equal(why, "length-delimited field longer than the bytes left");
    const unsigned char group[] = {0x0b, 0x0c};
    r = cr_pb_reader_init(group, sizeof group);
    assert_int_equal(cr_pb_next(&r, &f, &why), -1);
    const unsigned char zero[] = {0x00, 0x01};
    r = cr_pb_reader_init(zero, sizeof zero);
    assert_int_equal(cr_pb_next(&r, &f, &why), -1);
    assert_string_equal(why, "invalid field number");
    /* nested messages: depth CR_PB_MAX_DEPTH opens, one more does not */
    unsigned char deep[2 * (CR_PB_MAX_DEPTH + 2)];
    size_t n = CR_PB_MAX_DEPTH + 2;
    for (size_t i = 0; i < n; i++) {
        deep[2 * i] = 0x0a;
        deep[2 * i + 1] = (unsigned char)(2 * (n - i - 1));
    }
    r = cr_pb_reader_init(deep, 2 * n);
    int depth = 0;
    for (;;) {
        assert_int_equal(cr_pb_next(&r, &f, &why), 1);
        cr_pb_reader child;
        if (cr_pb_open(&r, &f, &child, &why)) break;
        r = child;
        depth++;
    }
    assert_int_equal(depth, CR_PB_MAX_DEPTH);
    assert_string_equal(why, "messages nested too deeply");
    /* packed fixed32 with a length that is not a multiple of 4 */
    const unsigned char packed[] = {0x22, 0x05, 0, 0, 0x80, 0x3f, 0};
    r = cr_pb_reader_init(packed, sizeof packed);
    assert_int_equal(cr_pb_next(&r, &f, &why), 1);
    assert_int_equal(cr_pb_scalars(&f, CR_PB_FIXED32, NULL, 0, &why), -1);
}

static cr_model make_model(cr_dtype dt) {
    cr_model m;
    memset(&m, 0, sizeof m);
    size_t dims[] = {5, 4, 3};
    cr_activation act[] = {CR_ACT_TANH};
    assert_int_equal(cr_net_create(&m.net, dt, 2, dims, act), CR_OK);
    cr_net_init(m.net, CR_INIT_XAVIER, 11);
    for (size_t l = 0; l < 2; l++)
        for (size_t j = 0; j < dims[l + 1]; j++) {
            size_t i = m.net->b_offset[l] + j;
            if (dt == CR_F64) ((double *)m.net->params)[i] = 0.1 * (double)(j + 1);
            else ((float *)m.net->params)[i] = 0.1f * (float)(j + 1);
        }
    cr_error err;
    size_t shape[1] = {5};
    cr_array_dtype adt = dt == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    assert_int_equal(cr_array_alloc(&m.input_mean, adt, 1, shape, &err), 0);
    assert_int_equal(cr_array_alloc(&m.input_std, adt, 1, shape, &err), 0);
    for (size_t i = 0; i < 5; i++) {
        if (dt == CR_F64) {
            ((double *)m.input_mean.data)[i] = 0.5 - 0.25 * (double)i;
            ((double *)m.input_std.data)[i] = 1.0 + (double)i;
        } else {
            ((float *)m.input_mean.data)[i] = 0.5f - 0.25f * (float)i;
            ((float *)m.input_std.data)[i] = 1.0f + (float)i;
        }
    }
    return m;
}

static void test_round_trip(void **state) {
    (void)state;
    for (int d = 0; d < 2; d++) {
        cr_dtype dt = d ? CR_F64 : CR_F32;
        cr_model m = make_model(dt), back;
        cr_error err;
        unsigned char *buf;
        size_t len;
        assert_int_equal(cr_onnx_encode("m.onnx", &m, &buf, &len, &err), 0);
        assert_int_equal(cr_model_file_detect(buf, len), CR_MODEL_FILE_ONNX);
        if (cr_onnx_parse("m.onnx", buf, len, &back, &err)) fail_msg("%s", err.msg);
        size_t es = cr_dtype_size(dt);
        assert_int_equal(back.net->n_params, m.net->n_params);
        assert_int_equal(back.net->act[0], CR_ACT_TANH);
        assert_memory_equal(back.net->params, m.net->params, m.net->n_params * es);
        assert_memory_equal(back.input_mean.data, m.input_mean.data, 5 * es);
        assert_memory_equal(back.input_std.data, m.input_std.data, 5 * es);
        cr_model_free(&back);
        /* every truncation: an error naming the file, nothing allocated */
        for (size_t cut = 0; cut < len; cut++) {
            cr_model t;
            memset(&t, 0x5a, sizeof t);
            err.msg[0] = '\0';
            if (cr_onnx_parse("m.onnx", buf, cut, &t, &err) == 0) {
                cr_model_free(&t); /* a prefix can be a valid, smaller message */
                continue;
            }
            assert_null(t.net);
            assert_null(t.input_mean.data);
            assert_int_equal(strncmp(err.msg, "m.onnx: ", 8), 0);
            assert_null(strchr(err.msg, '\n'));
        }
        /* single-byte corruptions of the first 200 bytes */
        for (size_t pos = 0; pos < len && pos < 200; pos++) {
            unsigned char *c = malloc(len);
            assert_non_null(c);
            memcpy(c, buf, len);
            c[pos] ^= 0xa5;
            cr_model t;
            if (cr_onnx_parse("m.onnx", c, len, &t, &err) == 0) cr_model_free(&t);
            else assert_int_equal(strncmp(err.msg, "m.onnx: ", 8), 0);
            free(c);
        }
        free(buf);
        cr_model_free(&m);
    }
}

static void test_detect(void **state) {
    (void)state;
    const unsigned char zip[] = "PK\3\4rest", pickle[] = {0x80, 0x02, 'c'},
                        st[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(cr_model_file_detect(zip, sizeof zip), CR_MODEL_FILE_TORCH_ZIP);
    assert_int_equal(cr_model_file_detect(pickle, sizeof pickle), CR_MODEL_FILE_PICKLE);
    assert_int_equal(cr_model_file_detect(st, sizeof st), CR_MODEL_FILE_SAFETENSORS);
    cr_model m;
    cr_error err;
    assert_int_equal(cr_model_parse("m.pt", zip, sizeof zip, &m, &err), -1);
    assert_non_null(strstr(err.msg, "m.pt: a PyTorch pickle"));
    assert_non_null(strstr(err.msg, "torch.onnx.export"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_lengths_groups_depth),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
