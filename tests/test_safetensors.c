/* safetensors reading (strict), writing and the in-memory API. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "chainrule_io.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* An image: u64 LE length of `json` (+ `pad` spaces), the JSON, then `data`. */
static unsigned char *make_st(const char *json, size_t pad, const void *data, size_t dlen,
                              size_t *len) {
    size_t jl = strlen(json), n = 8 + jl + pad + dlen;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    uint64_t h = jl + pad;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(h >> (8 * i));
    memcpy(buf + 8, json, jl);
    memset(buf + 8 + jl, ' ', pad);
    if (dlen) memcpy(buf + 8 + jl + pad, data, dlen);
    *len = n;
    return buf;
}

static void expect_st_error_buf(const unsigned char *buf, size_t len, const char *want) {
    cr_safetensors st;
    int rc = cr_safetensors_parse("m.safetensors", buf, len, &st);
    if (rc == 0 || !strstr(cr_last_error(), want) || strncmp(cr_last_error(), "m.safetensors: ", 15) != 0) {
        print_error("expected error containing '%s', got rc=%d '%s'\n", want, rc, cr_last_error());
        if (rc == 0) cr_safetensors_free(&st);
        fail();
    }
    assert_int_equal(st.n_tensors, 0);
    assert_null(st.tensors);
    assert_null(st.meta);
    assert_null(strchr(cr_last_error(), '\n'));
}

static void expect_st_error(const char *json, size_t dlen, const char *want) {
    static unsigned char zeros[4096];
    size_t len;
    assert_true(dlen <= sizeof zeros);
    unsigned char *buf = make_st(json, 0, zeros, dlen, &len);
    expect_st_error_buf(buf, len, want);
    free(buf);
}

static void add_or_fail(cr_safetensors *st, const char *name, cr_array_dtype dt, int ndim,
                        const size_t *shape, int seed) {
    cr_array a;
    assert_int_equal(cr_array_alloc(&a, dt, ndim, shape), 0);
    unsigned char *p = a.data;
    for (size_t i = 0; i < a.count * cr_array_dtype_size(dt); i++) p[i] = (unsigned char)(i * 31 + seed);
    if (cr_safetensors_add(st, name, &a)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    cr_array_free(&a);
}

/* ------------------------------------------------------------ round trips */

static void test_roundtrip(void **state) {
    (void)state;
    cr_safetensors st = {0}, back;
    static const size_t shapes[4][3] = {{0}, {5}, {3, 4}, {2, 3, 2}};
    char name[32];
    int seed = 1;
    for (int dt = 0; dt < 5; dt++)
        for (int nd = 0; nd <= 3; nd++) {
            snprintf(name, sizeof name, "t%d.d%d", dt, nd);
            add_or_fail(&st, name, (cr_array_dtype)dt, nd, shapes[nd], seed++);
        }
    size_t zero[2] = {0, 7};
    add_or_fail(&st, "empty", CR_ARRAY_F32, 2, zero, 0);
    add_or_fail(&st, "weird \"name\"\\\n\xc3\xa9", CR_ARRAY_U8, 1, shapes[1], 9);
    assert_int_equal(cr_safetensors_set_meta(&st, "format", "pt"), 0);
    assert_int_equal(cr_safetensors_set_meta(&st, "note", "a \"quoted\"\tvalue"), 0);
    assert_int_equal(cr_safetensors_set_meta(&st, "format", "chainrule/1"), 0); /* replaces */
    assert_int_equal(st.n_meta, 2);

    const char *path = tu_path("rt.safetensors");
    if (cr_safetensors_write(path, &st)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    assert_int_equal(cr_safetensors_read(path, &back), 0);
    assert_int_equal(back.n_tensors, st.n_tensors);
    for (size_t i = 0; i < st.n_tensors; i++) {
        const cr_tensor *a = &st.tensors[i], *b = &back.tensors[i]; /* file order kept */
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->array.dtype, b->array.dtype);
        assert_int_equal(a->array.ndim, b->array.ndim);
        assert_int_equal(a->array.count, b->array.count);
        for (int d = 0; d < a->array.ndim; d++) assert_int_equal(a->array.shape[d], b->array.shape[d]);
        assert_memory_equal(a->array.data, b->array.data,
                            a->array.count * cr_array_dtype_size(a->array.dtype));
        assert_ptr_equal(cr_safetensors_find(&back, a->name), b);
    }
    assert_int_equal(back.n_meta, 2);
    assert_string_equal(cr_safetensors_meta(&back, "format"), "chainrule/1");
    assert_string_equal(cr_safetensors_meta(&back, "note"), "a \"quoted\"\tvalue");
    assert_null(cr_safetensors_meta(&back, "nope"));
    assert_null(cr_safetensors_find(&back, "nope"));

    /* raw layout: 8-byte aligned header, "__metadata__" first, space padding */
    size_t len;
    unsigned char *raw = tu_slurp(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i];
    assert_int_equal(n % 8, 0);
    assert_memory_equal(raw + 8, "{\"__metadata__\":{\"format\":\"chainrule/1\"", 39);
    size_t k = 8 + (size_t)n;
    while (raw[k - 1] == ' ') k--;
    assert_int_equal(raw[k - 1], '}');
    const char *rest = ",\"note\":\"a \\\"quoted\\\"\\tvalue\"},\"t0.d0\":{\"dtype\":\"F32\","
                       "\"shape\":[],\"data_offsets\":[0,4]}";
    assert_memory_equal(raw + 8 + 39, rest, strlen(rest));
    free(raw);
    assert_int_equal(tu_count_tmp_files(), 0);

    cr_safetensors_free(&st);
    cr_safetensors_free(&back);
    cr_safetensors_free(&back); /* idempotent */
    cr_safetensors_free(NULL);
}

/* A file laid out the way Python's `safetensors` writes it: keys sorted by name,
   data ordered differently (by dtype alignment), metadata optional. */
static void test_parse_pytorch_style(void **state) {
    (void)state;
    unsigned char data[16 + 24];
    int64_t i64[3] = {-1, 2, -3};
    float f32[4] = {1.5f, -2.0f, 0.0f, 3.25f};
    memcpy(data, i64, 24);
    memcpy(data + 24, f32, 16);
    const char *json =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]},"
        "\"b.idx\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]}}";
    size_t jl = strlen(json), pad = (8 - jl % 8) % 8, len;
    unsigned char *buf = make_st(json, pad, data, sizeof data, &len);
    cr_safetensors st;
    if (cr_safetensors_parse("pt.safetensors", buf, len, &st)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    assert_int_equal(st.n_tensors, 2);
    assert_string_equal(st.tensors[0].name, "a.weight");
    assert_string_equal(st.tensors[1].name, "b.idx");
    assert_int_equal(st.tensors[0].array.dtype, CR_ARRAY_F32);
    assert_memory_equal(st.tensors[0].array.data, f32, 16);
    assert_memory_equal(st.tensors[1].array.data, i64, 24);
    assert_string_equal(cr_safetensors_meta(&st, "format"), "pt");
    cr_safetensors_free(&st);
    free(buf);

    /* pretty-printed JSON, no metadata, a scalar, a U8 and an empty tensor */
    const char *json2 = "{\n  \"s\" : { \"dtype\": \"F64\", \"shape\": [], \"data_offsets\": [0, 8] },\n"
                        "  \"u\": {\"shape\": [3], \"dtype\": \"U8\", \"data_offsets\": [8, 11]},\n"
                        "  \"z\": {\"dtype\": \"I32\", \"shape\": [0, 4], \"data_offsets\": [11, 11]}\n}\n";
    unsigned char d2[11] = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 7, 8, 9};
    buf = make_st(json2, 3, d2, sizeof d2, &len);
    assert_int_equal(cr_safetensors_parse("pt2.safetensors", buf, len, &st), 0);
    assert_int_equal(st.n_tensors, 3);
    assert_int_equal(st.n_meta, 0);
    assert_true(*(double *)st.tensors[0].array.data == 1.0);
    assert_int_equal(st.tensors[0].array.ndim, 0);
    assert_int_equal(st.tensors[0].array.count, 1);
    assert_int_equal(((uint8_t *)st.tensors[1].array.data)[2], 9);
    assert_int_equal(st.tensors[2].array.count, 0);
    cr_safetensors_free(&st);
    free(buf);

    /* an empty file: {} and no data */
    buf = make_st("{}", 6, NULL, 0, &len);
    assert_int_equal(cr_safetensors_parse("e.safetensors", buf, len, &st), 0);
    assert_int_equal(st.n_tensors, 0);
    cr_safetensors_free(&st);
    free(buf);
}

/* ------------------------------------------------------------ malformed files */

static void test_err_short_file(void **state) {
    (void)state;
    expect_st_error_buf((const unsigned char *)"\x02\0\0\0", 4,
                        "file too short for a safetensors header (4 bytes, need at least 8)");
    expect_st_error_buf((const unsigned char *)"", 0, "file too short");
}

static void test_err_header_length_exceeds_file(void **state) {
    (void)state;
    size_t len;
    unsigned char *buf = make_st("{}", 6, NULL, 0, &len);
    buf[0] = 0x0f;
    buf[1] = 0x27; /* 9999 */
    expect_st_error_buf(buf, len, "header length 9999 exceeds file size 16");
    memset(buf, 0xff, 8); /* 2^64 - 1 */
    expect_st_error_buf(buf, len, "header length 18446744073709551615 exceeds file size 16");
    free(buf);
}

static void test_err_not_json(void **state) {
    (void)state;
    expect_st_error("{\"a\": {\"dtype\": \"F32\"", 0, "header is not valid JSON");
    expect_st_error("not json at all", 0, "header is not valid JSON");
    expect_st_error("{} x", 0, "header is not valid JSON (unexpected text at byte 3)");
    size_t len;
    unsigned char *buf = make_st("{}", 6, NULL, 0, &len);
    buf[8 + 3] = 0; /* NUL in the padding */
    expect_st_error_buf(buf, len, "header is not valid JSON (NUL byte at 3)");
    free(buf);
    expect_st_error("{\"\xff\": 1}", 0, "header is not valid UTF-8");
    expect_st_error("", 0, "header is not valid JSON");
}

static void test_err_not_object(void **state) {
    (void)state;
    expect_st_error("[1, 2]", 0, "header is not a JSON object");
    expect_st_error("\"str\"", 0, "header is not a JSON object");
    expect_st_error("{\"a\": [1]}", 0, "tensor 'a': entry is not a JSON object");
    expect_st_error("{\"__metadata__\": [1]}", 0, "\"__metadata__\" is not a JSON object");
    expect_st_error("{\"__metadata__\": {\"k\": 1}}", 0,
                    "\"__metadata__\" value of 'k' is not a string");
    expect_st_error("{\"__metadata__\": {\"k\": \"a\", \"k\": \"b\"}}", 0,
                    "duplicate \"__metadata__\" key 'k'");
    expect_st_error("{\"__metadata__\": {}, \"__metadata__\": {}}", 0,
                    "duplicate key \"__metadata__\"");
}

static void test_err_unknown_dtype(void **state) {
    (void)state;
    expect_st_error("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                    "tensor 'w': unsupported dtype 'BF16' (expected F32, F64, U8, I32 or I64)");
    expect_st_error("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    "unsupported dtype 'f32'");
    expect_st_error("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    "tensor 'w': missing or non-string \"dtype\"");
    expect_st_error("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    "tensor 'w': missing or non-string \"dtype\"");
}

static void test_err_size_mismatch(void **state) {
    (void)state;
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
                    "tensor 'w': shape [2, 2] F32 needs 16 bytes but data_offsets [0, 12] span 12");
    expect_st_error("{\"w\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                    "shape [] I64 needs 8 bytes");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
                    "missing or non-array \"shape\"");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                    "shape entries must be non-negative integers");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                    "shape entries must be non-negative integers");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,4]}}", 4,
                    "shape entries must be non-negative integers");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
                    4, "9 dimensions (at most 8 supported)");
}

static void test_err_offsets_out_of_range(void **state) {
    (void)state;
    expect_st_error("{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[10,10],\"data_offsets\":[0,400]}}",
                    120, "m.safetensors: tensor 'fc1.weight' data_offsets [0, 400] exceed data size 120");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
                    "data_offsets [8, 4] end before they begin");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
                    "\"data_offsets\" must be two non-negative integers");
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
                    "\"data_offsets\" must be two non-negative integers");
    expect_st_error("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[1e300,1e300]}}", 4,
                    "\"data_offsets\" must be two non-negative integers");
}

static void test_err_overlap(void **state) {
    (void)state;
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
                    24, "tensors 'a' [0, 16] and 'b' [8, 24] overlap");
    /* full aliasing: both cover the whole data section */
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                    16, "overlap");
}

static void test_err_hole(void **state) {
    (void)state;
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                    20, "hole in the data section: bytes [8, 12) before tensor 'b' belong to no tensor");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                    "bytes [0, 4) before tensor 'a'");
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                    "hole in the data section: bytes [8, 12) after the last tensor");
    expect_st_error("{}", 5, "data section has 5 bytes but no tensors");
}

static void test_err_duplicate_names(void **state) {
    (void)state;
    expect_st_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                    12, "duplicate tensor name 'a'");
}

static void test_err_huge_shape(void **state) {
    (void)state;
    expect_st_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],\"data_offsets\":[0,16]}}",
                    16, "shape [1048576, 1048576] F32 needs 4398046511104 bytes but data_offsets "
                        "[0, 16] span 16");
    expect_st_error("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":"
                    "[0,16]}}", 16, "shape [4294967296, 4294967296] overflows the address space");
    /* a size that matches the shape but not the file */
    expect_st_error("{\"w\":{\"dtype\":\"U8\",\"shape\":[1099511627776],\"data_offsets\":"
                    "[0,1099511627776]}}", 16,
                    "data_offsets [0, 1099511627776] exceed data size 16");
}

/* ------------------------------------------------------------ API and files */

static void test_api_errors(void **state) {
    (void)state;
    cr_safetensors st = {0};
    size_t s[1] = {2};
    add_or_fail(&st, "a", CR_ARRAY_F32, 1, s, 0);
    cr_array a;
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F32, 1, s), 0);
    assert_int_not_equal(cr_safetensors_add(&st, "a", &a), CR_OK);
    assert_non_null(strstr(cr_last_error(), "duplicate tensor name 'a'"));
    assert_int_not_equal(cr_safetensors_add(&st, "__metadata__", &a), CR_OK);
    a.count = 3; /* inconsistent with the shape */
    assert_int_not_equal(cr_safetensors_add(&st, "b", &a), CR_OK);
    assert_non_null(strstr(cr_last_error(), "tensor 'b': invalid array"));
    a.count = 2;
    /* many adds exercise the growth of the tensor list */
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%03d", i);
        assert_int_equal(cr_safetensors_add(&st, name, &a), 0);
    }
    for (int i = 0; i < 40; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(cr_safetensors_set_meta(&st, key, "v"), 0);
    }
    assert_int_equal(st.n_tensors, 101);
    assert_int_equal(st.n_meta, 40);
    assert_int_equal(cr_safetensors_write(tu_path("many.safetensors"), &st), 0);
    cr_safetensors back;
    assert_int_equal(cr_safetensors_read(tu_path("many.safetensors"), &back), 0);
    assert_int_equal(back.n_tensors, 101);
    assert_string_equal(back.tensors[100].name, "t099");
    assert_string_equal(cr_safetensors_meta(&back, "k39"), "v");
    /* a parsed file can be extended too */
    assert_int_equal(cr_safetensors_add(&back, "extra", &a), 0);
    assert_int_equal(cr_safetensors_set_meta(&back, "k40", "w"), 0);
    assert_non_null(cr_safetensors_find(&back, "extra"));
    cr_safetensors_free(&back);
    cr_array_free(&a);
    cr_safetensors_free(&st);
}

static int write_st(void *arg) {
    return cr_safetensors_write(tu_path("keep.safetensors"), arg);
}

static void test_failed_write_keeps_previous_file(void **state) {
    (void)state;
    cr_safetensors st = {0};
    size_t small[1] = {3}, big[2] = {200, 200};
    add_or_fail(&st, "x", CR_ARRAY_F64, 1, small, 3);
    const char *path = tu_path("keep.safetensors");
    assert_int_equal(cr_safetensors_write(path, &st), 0);
    size_t len0, len1;
    unsigned char *before = tu_slurp(path, &len0);
    add_or_fail(&st, "y", CR_ARRAY_F64, 2, big, 4);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 50000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = write_st(&st);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, CR_ERR_IO);
    assert_non_null(strstr(cr_last_error(), "keep.safetensors: write failed: File too large"));

    unsigned char *after = tu_slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(tu_count_tmp_files(), 0);
    free(before);
    free(after);

    /* invalid contents: refused before any file is created */
    st.tensors[1].array.count = 7;
    assert_int_not_equal(cr_safetensors_write(tu_path("never.safetensors"), &st), CR_OK);
    assert_non_null(strstr(cr_last_error(), "never.safetensors: tensor 'y': invalid array"));
    assert_false(tu_file_exists(tu_path("never.safetensors")));
    assert_int_equal(tu_count_tmp_files(), 0);
    st.tensors[1].array.count = 40000;
    cr_safetensors_free(&st);
}

static void test_read_errors_name_the_file(void **state) {
    (void)state;
    cr_safetensors st;
    assert_int_not_equal(cr_safetensors_read(tu_path("missing.safetensors"), &st), CR_OK);
    assert_non_null(strstr(cr_last_error(), "missing.safetensors: No such file or directory"));
    assert_int_not_equal(cr_safetensors_read(tu_tmpdir(), &st), CR_OK);
    assert_non_null(strstr(cr_last_error(), ": is a directory"));
    assert_int_equal(tu_write_file(tu_path("short.safetensors"), "abc", 3), 0);
    assert_int_not_equal(cr_safetensors_read(tu_path("short.safetensors"), &st), CR_OK);
    assert_non_null(strstr(cr_last_error(), "short.safetensors: file too short"));
    assert_null(st.tensors);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_parse_pytorch_style),
        cmocka_unit_test(test_err_short_file),
        cmocka_unit_test(test_err_header_length_exceeds_file),
        cmocka_unit_test(test_err_not_json),
        cmocka_unit_test(test_err_not_object),
        cmocka_unit_test(test_err_unknown_dtype),
        cmocka_unit_test(test_err_size_mismatch),
        cmocka_unit_test(test_err_offsets_out_of_range),
        cmocka_unit_test(test_err_overlap),
        cmocka_unit_test(test_err_hole),
        cmocka_unit_test(test_err_duplicate_names),
        cmocka_unit_test(test_err_huge_shape),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_failed_write_keeps_previous_file),
        cmocka_unit_test(test_read_errors_name_the_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
