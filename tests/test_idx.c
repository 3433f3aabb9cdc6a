/*
 * test_idx — the IDX reader (MNIST format), raw and gzip: round trips for every
 * element type, and the strict checks: magic, type, dimensions, overflow,
 * truncation, trailing data, huge header claims, corrupt/truncated gzip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "chainrule_data.h"
#include "testutil.h"

#define ASSERT_ERR(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("error '%s' lacks '%s'", (msg), (sub));           \
    } while (0)

/* An IDX image: header for (type, dims) followed by data_len bytes of data. */
static unsigned char *make_idx(int type, int ndim, const uint32_t *dims, const void *data,
                               size_t data_len, size_t *len) {
    size_t hl = 4 + 4 * (size_t)ndim;
    unsigned char *b = malloc(hl + data_len + 1);
    assert_non_null(b);
    b[0] = 0;
    b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        b[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        b[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        b[7 + 4 * i] = (unsigned char)dims[i];
    }
    if (data_len) memcpy(b + hl, data, data_len);
    *len = hl + data_len;
    return b;
}

static void write_gz(const char *path, const void *data, size_t len) {
    gzFile gz = gzopen(path, "wb9");
    assert_non_null(gz);
    if (len) assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static unsigned char *u8_pattern(size_t n) {
    unsigned char *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + 3);
    return p;
}

static void check_u8_array(const cr_array *a, const unsigned char *expect) {
    assert_int_equal(a->dtype, CR_ARRAY_U8);
    assert_int_equal(a->ndim, 3);
    assert_int_equal(a->shape[0], 3);
    assert_int_equal(a->shape[1], 4);
    assert_int_equal(a->shape[2], 5);
    assert_int_equal(a->count, 60);
    assert_memory_equal(a->data, expect, 60);
}

static void test_raw_roundtrip(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 4, 5};
    unsigned char *data = u8_pattern(60);
    size_t len;
    unsigned char *img = make_idx(0x08, 3, dims, data, 60, &len);
    const char *path = tu_path("raw-idx3-ubyte");
    assert_int_equal(tu_write_file(path, img, len), 0);
    cr_array a;
    assert_int_equal(cr_idx_read(path, &a), 0);
    check_u8_array(&a, data);
    cr_array_free(&a);
    /* the same bytes in memory */
    assert_int_equal(cr_idx_parse("mem", img, len, &a), 0);
    check_u8_array(&a, data);
    cr_array_free(&a);
    free(img);
    free(data);
}

static void test_gzip_roundtrip(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 4, 5};
    unsigned char *data = u8_pattern(60);
    size_t len;
    unsigned char *img = make_idx(0x08, 3, dims, data, 60, &len);
    const char *path = tu_path("gz-idx3-ubyte.gz");
    write_gz(path, img, len);
    cr_array a;
    assert_int_equal(cr_idx_read(path, &a), 0);
    check_u8_array(&a, data);
    cr_array_free(&a);
    free(img);
    free(data);
}

/* A larger gzip file (several inflate buffers, incremental growth). */
static void test_gzip_large(void **state) {
    (void)state;
    uint32_t dims[2] = {1000, 784};
    size_t n = 1000 * 784;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        data[i] = (unsigned char)(s >> 24);
    }
    size_t len;
    unsigned char *img = make_idx(0x08, 2, dims, data, n, &len);
    const char *path = tu_path("large-idx.gz");
    write_gz(path, img, len);
    cr_array a;
    assert_int_equal(cr_idx_read(path, &a), 0);
    assert_int_equal(a.shape[0], 1000);
    assert_int_equal(a.shape[1], 784);
    assert_memory_equal(a.data, data, n);
    cr_array_free(&a);
    free(img);
    free(data);
}

static void put_be(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

static void test_other_types(void **state) {
    (void)state;
    cr_array a;
    uint32_t dims[1] = {3};
    size_t len;
    unsigned char raw[24];

    /* int8 */
    unsigned char i8[3] = {0x80, 0x00, 0x7f};
    unsigned char *img = make_idx(0x09, 1, dims, i8, 3, &len);
    assert_int_equal(cr_idx_parse("i8", img, len, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_I32);
    assert_int_equal(((int32_t *)a.data)[0], -128);
    assert_int_equal(((int32_t *)a.data)[2], 127);
    cr_array_free(&a);
    free(img);

    /* int16 */
    int16_t v16[3] = {-2, 300, 32767};
    for (int i = 0; i < 3; i++) put_be(raw + 2 * i, (uint16_t)v16[i], 2);
    img = make_idx(0x0B, 1, dims, raw, 6, &len);
    assert_int_equal(cr_idx_parse("i16", img, len, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_I32);
    for (int i = 0; i < 3; i++) assert_int_equal(((int32_t *)a.data)[i], v16[i]);
    cr_array_free(&a);
    free(img);

    /* int32 */
    int32_t v32[3] = {-70000, 0, 2000000000};
    for (int i = 0; i < 3; i++) put_be(raw + 4 * i, (uint32_t)v32[i], 4);
    img = make_idx(0x0C, 1, dims, raw, 12, &len);
    assert_int_equal(cr_idx_parse("i32", img, len, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_I32);
    for (int i = 0; i < 3; i++) assert_int_equal(((int32_t *)a.data)[i], v32[i]);
    cr_array_free(&a);
    free(img);

    /* float32 */
    float f32[3] = {-1.5f, 0.25f, 3e30f};
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f32[i], 4);
        put_be(raw + 4 * i, u, 4);
    }
    img = make_idx(0x0D, 1, dims, raw, 12, &len);
    assert_int_equal(cr_idx_parse("f32", img, len, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_F32);
    assert_memory_equal(a.data, f32, sizeof f32);
    cr_array_free(&a);
    free(img);

    /* float64 */
    double f64[3] = {-1.0 / 3.0, 1e-300, 6.02e23};
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &f64[i], 8);
        put_be(raw + 8 * i, u, 8);
    }
    img = make_idx(0x0E, 1, dims, raw, 24, &len);
    assert_int_equal(cr_idx_parse("f64", img, len, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_F64);
    assert_memory_equal(a.data, f64, sizeof f64);
    cr_array_free(&a);
    free(img);
}

/* Parses buf expecting failure with the substring sub; checks *out is empty. */
static void expect_parse_error(const unsigned char *buf, size_t len, const char *sub) {
    cr_array a;
    assert_int_not_equal(cr_idx_parse("bad.idx", buf, len, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "bad.idx: ");
    ASSERT_ERR(cr_last_error(), sub);
    assert_null(a.data);
}

static void test_bad_headers(void **state) {
    (void)state;
    uint32_t dims[3] = {2, 2, 2};
    unsigned char data[8] = {0};
    size_t len;
    unsigned char *img = make_idx(0x08, 3, dims, data, 8, &len);

    expect_parse_error(img, 3, "too short for an IDX header (3 bytes)");
    img[0] = 0x01;
    expect_parse_error(img, len, "not an IDX file (magic bytes 01 00, expected 00 00)");
    img[0] = 0;
    img[2] = 0x07;
    expect_parse_error(img, len, "unsupported IDX element type 0x07");
    img[2] = 0x08;
    img[3] = 0;
    expect_parse_error(img, len, "IDX has 0 dimensions (supported: 1 to 8)");
    img[3] = 9;
    expect_parse_error(img, len, "IDX has 9 dimensions");
    img[3] = 3;
    expect_parse_error(img, 10, "truncated IDX header (10 bytes, 3 dimensions need 16)");
    put_be(img + 8, 0, 4);
    expect_parse_error(img, len, "IDX dimension 2 is 0");
    free(img);

    /* three dimensions of 2^32-1 overflow size_t */
    uint32_t big[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    img = make_idx(0x08, 3, big, NULL, 0, &len);
    expect_parse_error(img, len, "IDX dimensions overflow");
    free(img);
}

static void test_truncated_and_trailing(void **state) {
    (void)state;
    uint32_t dims[3] = {3, 4, 5};
    unsigned char *data = u8_pattern(61);
    size_t len;
    unsigned char *img = make_idx(0x08, 3, dims, data, 61, &len);
    expect_parse_error(img, len - 2, "truncated: IDX header claims 60 data bytes, only 59 present");
    expect_parse_error(img, len, "trailing data after the 60 data bytes the IDX header claims");

    /* the same through files, raw and gzip */
    cr_array a;
    const char *p = tu_path("trunc.idx");
    assert_int_equal(tu_write_file(p, img, len - 2), 0);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "trunc.idx: truncated: IDX header claims 60 data bytes, only 59 present");
    p = tu_path("trunc.idx.gz");
    write_gz(p, img, len - 2);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "trunc.idx.gz: truncated: IDX header claims 60 data bytes, only 59 present");
    p = tu_path("trail.idx");
    assert_int_equal(tu_write_file(p, img, len), 0);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "trail.idx: trailing data after the 60 data bytes");
    p = tu_path("trail.idx.gz");
    write_gz(p, img, len);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "trail.idx.gz: trailing data after the 60 data bytes");
    /* an empty gzip stream */
    p = tu_path("empty.gz");
    write_gz(p, "", 0);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "empty.gz: too short for an IDX header (0 bytes)");
    free(img);
    free(data);
}

/* A header claiming 2^40 bytes must fail at once, raw or gzip. */
static void test_huge_claim(void **state) {
    (void)state;
    uint32_t dims[2] = {1u << 20, 1u << 20};
    unsigned char data[16] = {0};
    size_t len;
    unsigned char *img = make_idx(0x08, 2, dims, data, sizeof data, &len);
    cr_array a;
    const char *p = tu_path("huge.idx");
    assert_int_equal(tu_write_file(p, img, len), 0);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "truncated: IDX header claims 1099511627776 data bytes, only 16 present");
    p = tu_path("huge.idx.gz");
    write_gz(p, img, len);
    assert_int_not_equal(cr_idx_read(p, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "IDX header claims 1099511627776 data bytes, more than the limit of 2147483648");
    assert_null(a.data);
    free(img);
}

static unsigned char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 20);
    assert_non_null(b);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static void test_truncated_gzip(void **state) {
    (void)state;
    uint32_t dims[2] = {50, 100};
    size_t n = 5000, len;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        data[i] = (unsigned char)(s >> 24);
    }
    unsigned char *img = make_idx(0x08, 2, dims, data, n, &len);
    const char *p = tu_path("good.gz");
    write_gz(p, img, len);
    size_t glen;
    unsigned char *gz = read_whole(p, &glen);
    cr_array a;
    /* cut inside the deflate data, and inside the 8-byte trailer */
    size_t cuts[3] = {glen / 2, glen - 6, 12};
    for (int i = 0; i < 3; i++) {
        const char *q = tu_path("cut.gz");
        assert_int_equal(tu_write_file(q, gz, cuts[i]), 0);
        assert_int_not_equal(cr_idx_read(q, &a), CR_OK);
        ASSERT_ERR(cr_last_error(), "cut.gz: corrupt or truncated gzip stream");
        assert_null(a.data);
    }
    /* a flipped byte in the compressed data: CRC or inflate error */
    gz[glen / 2] ^= 0x55;
    const char *q = tu_path("flip.gz");
    assert_int_equal(tu_write_file(q, gz, glen), 0);
    assert_int_not_equal(cr_idx_read(q, &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "flip.gz: ");
    free(gz);
    free(img);
    free(data);
}

static void test_files(void **state) {
    (void)state;
    cr_array a;
    assert_int_not_equal(cr_idx_read(tu_tmpdir(), &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "is a directory, not an IDX file");
    assert_int_not_equal(cr_idx_read(tu_path("does-not-exist"), &a), CR_OK);
    ASSERT_ERR(cr_last_error(), "does-not-exist: No such file or directory");
}

/* Every prefix and some byte flips of a valid image: no crash, no leak. */
static void test_parse_robust(void **state) {
    (void)state;
    uint32_t dims[2] = {2, 3};
    unsigned char data[24];
    for (int i = 0; i < 24; i++) data[i] = (unsigned char)(i * 37);
    int types[2] = {0x08, 0x0E};
    for (int t = 0; t < 2; t++) {
        size_t dl = types[t] == 0x08 ? 6 : 24, len;
        unsigned char *img = make_idx(types[t], 2, dims, data, dl, &len);
        for (size_t cut = 0; cut <= len + 2; cut++) {
            unsigned char *b = calloc(cut ? cut : 1, 1);
            assert_non_null(b);
            memcpy(b, img, cut < len ? cut : len);
            for (int flip = -1; flip < (int)cut && flip < 12; flip++) {
                if (flip >= 0) b[flip] ^= 0xA5;
                cr_array a;
                if (cr_idx_parse("f", b, cut, &a) == 0)
                    cr_array_free(&a);
                else
                    assert_true(cr_last_error()[0] != 0);
                if (flip >= 0) b[flip] ^= 0xA5;
            }
            free(b);
        }
        free(img);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_roundtrip),
        cmocka_unit_test(test_gzip_roundtrip),
        cmocka_unit_test(test_gzip_large),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_huge_claim),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_parse_robust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
