/*
 * The protobuf reader's bounds and the ONNX reader/writer: a model written
 * with cr_onnx_encode reads back bit for bit; every truncation of it and
 * every single-byte corruption of its first bytes is refused with one line
 * naming the file (or read as some valid model), never a crash; lying
 * lengths, overlong varints, groups and deep nesting are errors. Every finite
 * float16 and bfloat16 value (raw_data and int32_data) is read exactly; Inf
 * and NaN weights are refused; external data is refused from a buffer and
 * read from the model's folder.
 * (The graphs of real exporters are checked against PyTorch and onnxruntime
 * in tests/torch_onnx.py.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/protobuf.h"
#include "chainrule_typed.h"
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
            size_t i = cr_net_bias_offset(m.net, l) + j;
            if (dt == CR_F64) ((double *)cr_net_params(m.net))[i] = 0.1 * (double)(j + 1);
            else ((float *)cr_net_params(m.net))[i] = 0.1f * (float)(j + 1);
        }
    size_t shape[1] = {5};
    cr_array_dtype adt = dt == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    assert_int_equal(cr_array_alloc(&m.input_mean, adt, 1, shape), 0);
    assert_int_equal(cr_array_alloc(&m.input_std, adt, 1, shape), 0);
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
        unsigned char *buf;
        size_t len;
        assert_int_equal(cr_onnx_encode("m.onnx", &m, &buf, &len), 0);
        assert_int_equal(cr_model_file_detect(buf, len), CR_MODEL_FILE_ONNX);
        if (cr_onnx_parse("m.onnx", buf, len, &back)) fail_msg("%s", cr_last_error());
        size_t es = cr_dtype_size(dt);
        assert_int_equal(cr_net_n_params(back.net), cr_net_n_params(m.net));
        assert_int_equal(cr_net_activation(back.net, 0), CR_ACT_TANH);
        assert_memory_equal(cr_net_params(back.net), cr_net_params(m.net), cr_net_n_params(m.net) * es);
        assert_memory_equal(back.input_mean.data, m.input_mean.data, 5 * es);
        assert_memory_equal(back.input_std.data, m.input_std.data, 5 * es);
        cr_model_free(&back);
        /* every truncation: an error naming the file, nothing allocated */
        for (size_t cut = 0; cut < len; cut++) {
            cr_model t;
            memset(&t, 0x5a, sizeof t);
            (void)cr_fail(CR_OK, "%s", "");
            if (cr_onnx_parse("m.onnx", buf, cut, &t) == 0) {
                cr_model_free(&t); /* a prefix can be a valid, smaller message */
                continue;
            }
            assert_null(t.net);
            assert_null(t.input_mean.data);
            assert_int_equal(strncmp(cr_last_error(), "m.onnx: ", 8), 0);
            assert_null(strchr(cr_last_error(), '\n'));
        }
        /* single-byte corruptions of the first 200 bytes */
        for (size_t pos = 0; pos < len && pos < 200; pos++) {
            unsigned char *c = malloc(len);
            assert_non_null(c);
            memcpy(c, buf, len);
            c[pos] ^= 0xa5;
            cr_model t;
            if (cr_onnx_parse("m.onnx", c, len, &t) == 0) cr_model_free(&t);
            else assert_int_equal(strncmp(cr_last_error(), "m.onnx: ", 8), 0);
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
    /* a safetensors header of 0x280 bytes begins with 0x80 0x02, a pickle's protocol mark */
    unsigned char st280[8 + 0x280] = {0x80, 0x02, 0, 0, 0, 0, 0, 0, '{'};
    assert_int_equal(cr_model_file_detect(st280, sizeof st280), CR_MODEL_FILE_SAFETENSORS);
    assert_int_equal(cr_model_file_detect(st280, 9), CR_MODEL_FILE_PICKLE); /* a length past the end */
    cr_model m;
    assert_int_not_equal(cr_model_parse("m.pt", zip, sizeof zip, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "m.pt: a PyTorch pickle"));
    assert_non_null(strstr(cr_last_error(), "torch.onnx.export"));
}

/* A one-layer ONNX model, opset 13: y = Gemm(x, W [2, din], b, transB = 1),
   W of data type wtype given as raw bytes, as int32_data values or as external
   data (location ext, whole file); b = [0.25, -0.5] float. */
typedef struct {
    int wtype;
    size_t din;
    const unsigned char *raw;
    size_t raw_len;
    const uint32_t *i32;
    size_t n_i32;
    const char *ext, *ext_length; /* ext_length NULL: no "length" entry */
} wspec;

static void put_entry(cr_pb_writer *t, const char *key, const char *value) {
    cr_pb_writer e = {0};
    cr_pb_put_string(&e, 1, key);
    cr_pb_put_string(&e, 2, value);
    cr_pb_put_message(t, 13, &e);
    cr_pb_writer_free(&e);
}

static unsigned char *build_gemm(const wspec *w, size_t *len) {
    cr_pb_writer g = {0}, m = {0}, ops = {0}, node = {0}, attr = {0}, wt = {0}, bt = {0},
                 vi = {0}, vo = {0};
    cr_pb_put_string(&node, 1, "x");
    cr_pb_put_string(&node, 1, "W");
    cr_pb_put_string(&node, 1, "b");
    cr_pb_put_string(&node, 2, "y");
    cr_pb_put_string(&node, 3, "fc");
    cr_pb_put_string(&node, 4, "Gemm");
    cr_pb_put_string(&attr, 1, "transB");
    cr_pb_put_varint(&attr, 3, 1);
    cr_pb_put_varint(&attr, 20, 2);
    cr_pb_put_message(&node, 5, &attr);
    cr_pb_put_message(&g, 1, &node);
    cr_pb_put_varint(&wt, 1, 2);
    cr_pb_put_varint(&wt, 1, w->din);
    cr_pb_put_varint(&wt, 2, (uint64_t)w->wtype);
    cr_pb_put_string(&wt, 8, "W");
    if (w->raw) cr_pb_put_bytes(&wt, 9, w->raw, w->raw_len);
    for (size_t i = 0; i < w->n_i32; i++) cr_pb_put_varint(&wt, 5, w->i32[i]);
    if (w->ext) {
        put_entry(&wt, "location", w->ext);
        put_entry(&wt, "offset", "0");
        if (w->ext_length) put_entry(&wt, "length", w->ext_length);
        cr_pb_put_varint(&wt, 14, 1);
    }
    cr_pb_put_message(&g, 5, &wt);
    const float bias[2] = {0.25f, -0.5f};
    cr_pb_put_varint(&bt, 1, 2);
    cr_pb_put_varint(&bt, 2, 1);
    cr_pb_put_string(&bt, 8, "b");
    cr_pb_put_bytes(&bt, 9, bias, sizeof bias); /* little-endian hosts (x86, aarch64) */
    cr_pb_put_message(&g, 5, &bt);
    cr_pb_put_string(&vi, 1, "x");
    cr_pb_put_message(&g, 11, &vi);
    cr_pb_put_string(&vo, 1, "y");
    cr_pb_put_message(&g, 12, &vo);
    cr_pb_put_varint(&m, 1, 7);
    cr_pb_put_message(&m, 7, &g);
    cr_pb_put_varint(&ops, 2, 13);
    cr_pb_put_message(&m, 8, &ops);
    assert_false(m.oom);
    *len = m.len;
    unsigned char *out = m.p;
    cr_pb_writer *all[] = {&g, &ops, &node, &attr, &wt, &bt, &vi, &vo};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cr_pb_writer_free(all[i]);
    return out;
}

/* Independent of the reader's bit manipulation: the value by its definition. */
static double half_value(unsigned h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    return h & 0x8000 ? -v : v;
}
static double bfloat16_value(unsigned h) {
    int e = (h >> 7) & 255, m = h & 127;
    double v = e ? ldexp(1.0 + m / 128.0, e - 127) : ldexp(m / 128.0, -126);
    return h & 0x8000 ? -v : v;
}

/* Every finite 16-bit pattern as one weight each, raw and in int32_data: the
   float32 weight is the value exactly (bits compared: -0, subnormals). */
static void test_float16_exhaustive(void **state) {
    (void)state;
    for (int bf = 0; bf < 2; bf++) {
        unsigned emask = bf ? 0x7f80 : 0x7c00;
        size_t n = 0;
        uint32_t *pat = malloc(65536 * sizeof *pat);
        unsigned char *raw = malloc(2 * 65536);
        assert_non_null(pat);
        assert_non_null(raw);
        for (unsigned h = 0; h < 65536; h++)
            if ((h & emask) != emask) {
                pat[n] = h;
                raw[2 * n] = (unsigned char)(h & 0xff);
                raw[2 * n + 1] = (unsigned char)(h >> 8);
                n++;
            }
        assert_int_equal(n, bf ? 65280 : 63488);
        for (int as_i32 = 0; as_i32 < 2; as_i32++) {
            wspec w = {bf ? 16 : 10, n / 2, as_i32 ? NULL : raw, 2 * n, as_i32 ? pat : NULL,
                       as_i32 ? n : 0, NULL, NULL};
            size_t len;
            unsigned char *buf = build_gemm(&w, &len);
            cr_model m;
            if (cr_onnx_parse("h.onnx", buf, len, &m)) fail_msg("%s", cr_last_error());
            assert_int_equal(cr_net_dtype(m.net), CR_F32);
            const float *p = (const float *)cr_net_params(m.net) + cr_net_weight_offset(m.net, 0);
            size_t bad = 0, din = n / 2;
            for (size_t k = 0; k < n; k++) { /* W[o][a] = pattern k = o din + a; net: [in, out] */
                float want = (float)(bf ? bfloat16_value(pat[k]) : half_value(pat[k]));
                if (memcmp(&p[(k % din) * 2 + k / din], &want, 4)) bad++;
            }
            assert_int_equal(bad, 0);
            cr_model_free(&m);
            free(buf);
        }
        free(pat);
        free(raw);
    }
    /* Inf and NaN weights are refused, naming the tensor and the index; an
       int32_data value wider than 16 bits is malformed */
    const unsigned char inf[] = {0, 0x3c, 0, 0x7c}, nan[] = {0, 0x3c, 0, 0x7e};
    const uint32_t wide[] = {0x3c00, 0x10000};
    const char *want[] = {"h.onnx: tensor 'W' contains Inf at index 1",
                          "h.onnx: tensor 'W' contains NaN at index 1",
                          ("h.onnx: tensor 'W': int32_data value 65536 at index 1 is not a "
                           "16-bit float16")};
    for (int c = 0; c < 3; c++) {
        wspec w = {10, 1, c < 2 ? (c ? nan : inf) : NULL, 4, c == 2 ? wide : NULL, c == 2 ? 2 : 0,
                   NULL, NULL};
        size_t len;
        unsigned char *buf = build_gemm(&w, &len);
        cr_model m;
        assert_int_not_equal(cr_onnx_parse("h.onnx", buf, len, &m), CR_OK);
        assert_null(m.net);
        assert_non_null(strstr(cr_last_error(), want[c]));
        free(buf);
    }
}

/* External data: refused from a buffer (no folder), read from the folder of a
   file (cr_onnx_parse_file and cr_model_load_full); without a "length" the
   rest of the file must be the tensor. */
static void test_external_data(void **state) {
    (void)state;
    const float wv[6] = {1.5f, -2.0f, 0.125f, 3.0f, -0.75f, 0.5f};
    wspec w = {1, 3, NULL, 0, NULL, 0, "w.bin", "24"};
    size_t len;
    unsigned char *buf = build_gemm(&w, &len);
    cr_model m;
    assert_int_not_equal(cr_onnx_parse("e.onnx", buf, len, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "e.onnx: tensor 'W' keeps its data in the external file "
                                    "'w.bin'"));
    char dir[] = "/tmp/cr-test-onnx-XXXXXX", path[64], wpath[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/e.onnx", dir);
    snprintf(wpath, sizeof wpath, "%s/w.bin", dir);
    FILE *f = fopen(wpath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(wv, 4, 6, f), 6);
    assert_int_equal(fclose(f), 0);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    if (cr_onnx_parse_file(path, buf, len, &m)) fail_msg("%s", cr_last_error());
    const float *p = (const float *)cr_net_params(m.net) + cr_net_weight_offset(m.net, 0);
    for (size_t k = 0; k < 6; k++) assert_true(p[(k % 3) * 2 + k / 3] == wv[k]);
    cr_model_free(&m);
    if (cr_model_load_full(path, &m)) fail_msg("%s", cr_last_error());
    assert_true(((const float *)cr_net_params(m.net))[cr_net_weight_offset(m.net, 0) + 2] == wv[1]);
    cr_model_free(&m);
    free(buf);
    /* no length: the 24 bytes are the whole file; 4 more bytes are refused */
    w.ext_length = NULL;
    buf = build_gemm(&w, &len);
    if (cr_onnx_parse_file(path, buf, len, &m)) fail_msg("%s", cr_last_error());
    cr_model_free(&m);
    f = fopen(wpath, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(wv, 4, 1, f), 1);
    assert_int_equal(fclose(f), 0);
    assert_int_not_equal(cr_onnx_parse_file(path, buf, len, &m), CR_OK);
    assert_non_null(strstr(cr_last_error(), "'w.bin' holds 28 bytes after offset 0"));
    free(buf);
    unlink(wpath);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float16_exhaustive),
        cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_varints),
        cmocka_unit_test(test_lengths_groups_depth),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
