/* .npy arrays, whole-file reads, atomic writes and array conversions. */
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
#include <time.h>

#include "chainrule_io.h"
#include "testutil.h"

/* ------------------------------------------------------------ helpers */

/* Builds a .npy image: magic, version major.0, the dict padded with spaces + '\n'
   so that the preamble+header is a multiple of `align`, then `data`. */
static size_t make_npy(unsigned char *buf, size_t cap, int major, const char *dict, size_t align,
                       const void *data, size_t dlen) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = (pre + dl + 1 + align - 1) / align * align, hlen = total - pre;
    assert_true(total + dlen <= cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (major == 1) {
        buf[8] = (unsigned char)(hlen & 0xff);
        buf[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
    }
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    if (dlen) memcpy(buf + total, data, dlen);
    return total + dlen;
}

/* Parses buf and expects failure with `want` in the message (and the name). */
static void expect_npy_error(const unsigned char *buf, size_t len, const char *want) {
    cr_array a;
    memset(&a, 0x5a, sizeof a);
    int rc = cr_npy_parse("bad.npy", buf, len, &a);
    if (rc == 0 || !strstr(cr_last_error(), want) || strncmp(cr_last_error(), "bad.npy: ", 9) != 0) {
        print_error("expected error containing '%s', got rc=%d '%s'\n", want, rc, cr_last_error());
        if (rc == 0) cr_array_free(&a);
        fail();
    }
    assert_null(a.data); /* nothing left allocated */
    assert_null(strchr(cr_last_error(), '\n'));
}

static void expect_dict_error(const char *dict, const void *data, size_t dlen, const char *want) {
    unsigned char buf[1024];
    size_t n = make_npy(buf, sizeof buf, 1, dict, 64, data, dlen);
    expect_npy_error(buf, n, want);
}

static void fill_pattern(cr_array *a) {
    for (size_t i = 0; i < a->count; i++) {
        switch (a->dtype) {
        case CR_ARRAY_F32: ((float *)a->data)[i] = (float)i * 0.25f - 3.5f; break;
        case CR_ARRAY_F64: ((double *)a->data)[i] = (double)i / 3.0 - 1e300 * (i == 1); break;
        case CR_ARRAY_U8: ((uint8_t *)a->data)[i] = (uint8_t)(i * 37 + 255); break;
        case CR_ARRAY_I32: ((int32_t *)a->data)[i] = (int32_t)i * -100000 + INT32_MAX - 5; break;
        case CR_ARRAY_I64: ((int64_t *)a->data)[i] = (int64_t)i * -7 + INT64_MIN / 3; break;
        }
    }
}

/* ------------------------------------------------------------ round trips */

static void test_roundtrip_all_dtypes_and_ndims(void **state) {
    (void)state;
    static const size_t shapes[4][3] = {{0, 0, 0}, {5, 0, 0}, {3, 4, 0}, {2, 3, 4}};
    static const char *const descrs[] = {"<f4", "<f8", "|u1", "<i4", "<i8"};
    static const char *const shape_txt[] = {"()", "(5,)", "(3, 4)", "(2, 3, 4)"};
    for (int dt = 0; dt < 5; dt++)
        for (int nd = 0; nd <= 3; nd++) {
            cr_array a, b;
            char name[64];
            snprintf(name, sizeof name, "rt_%d_%d.npy", dt, nd);
            const char *path = tu_path(name);
            assert_int_equal(cr_array_alloc(&a, (cr_array_dtype)dt, nd, shapes[nd]), 0);
            fill_pattern(&a);
            if (cr_npy_write(path, &a)) {
                print_error("%s\n", cr_last_error());
                fail();
            }
            assert_int_equal(cr_npy_read(path, &b), 0);
            assert_int_equal(b.dtype, a.dtype);
            assert_int_equal(b.ndim, nd);
            assert_int_equal(b.count, a.count);
            for (int i = 0; i < nd; i++) assert_int_equal(b.shape[i], a.shape[i]);
            assert_memory_equal(a.data, b.data, a.count * cr_array_dtype_size(a.dtype));

            /* the file is what numpy writes: v1.0, header padded to 64 bytes, ending '\n' */
            size_t len;
            unsigned char *raw = tu_slurp(path, &len);
            assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
            size_t hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
            assert_int_equal((10 + hlen) % 64, 0);
            assert_int_equal(raw[10 + hlen - 1], '\n');
            assert_int_equal(len, 10 + hlen + a.count * cr_array_dtype_size(a.dtype));
            char want[128];
            snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descrs[dt], shape_txt[nd]);
            assert_memory_equal(raw + 10, want, strlen(want));
            for (size_t i = 10 + strlen(want); i < 10 + hlen - 1; i++) assert_int_equal(raw[i], ' ');
            free(raw);
            cr_array_free(&a);
            cr_array_free(&b);
            assert_null(b.data);
        }
    assert_int_equal(tu_count_tmp_files(), 0);
}

static void test_zero_size_array(void **state) {
    (void)state;
    cr_array a, b;
    size_t shape[2] = {0, 3};
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F32, 2, shape), 0);
    assert_non_null(a.data);
    assert_int_equal(a.count, 0);
    assert_int_equal(cr_npy_write(tu_path("empty.npy"), &a), 0);
    assert_int_equal(cr_npy_read(tu_path("empty.npy"), &b), 0);
    assert_int_equal(b.ndim, 2);
    assert_int_equal(b.shape[0], 0);
    assert_int_equal(b.shape[1], 3);
    assert_int_equal(b.count, 0);
    assert_non_null(b.data);
    cr_array_free(&a);
    cr_array_free(&b);
}

/* A file exactly as numpy 1.x writes np.arange(6, dtype='<f4').reshape(2, 3). */
static void test_parse_numpy_made_file(void **state) {
    (void)state;
    float data[6] = {0, 1, 2, 3, 4, 5};
    unsigned char buf[512];
    size_t n = make_npy(buf, sizeof buf, 1,
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 64, data,
                        sizeof data);
    assert_int_equal(n, 128 + 24);
    cr_array a;
    assert_int_equal(cr_npy_parse("np.npy", buf, n, &a), 0);
    assert_int_equal(a.dtype, CR_ARRAY_F32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 2);
    assert_int_equal(a.shape[1], 3);
    assert_memory_equal(a.data, data, sizeof data);
    cr_array_free(&a);
}

static void test_parse_versions_and_dict_variants(void **state) {
    (void)state;
    int64_t data[4] = {1, -2, 3, -4};
    const char *dicts[] = {
        "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (4,)}",   /* no trailing comma */
        "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (4,)}", /* double quotes */
        "{'shape': (4,), 'fortran_order': False, 'descr': '<i8'}",   /* any key order */
        "{'descr':'<i8','fortran_order':False,'shape':(4L,),}",      /* Python 2 long */
        "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
    };
    for (size_t d = 0; d < sizeof dicts / sizeof dicts[0]; d++)
        for (int major = 1; major <= 3; major++)
            for (size_t align = 16; align <= 64; align *= 4) {
                unsigned char buf[512];
                size_t n = make_npy(buf, sizeof buf, major, dicts[d], align, data, sizeof data);
                cr_array a;
                if (cr_npy_parse("v.npy", buf, n, &a)) {
                    print_error("%s: %s\n", dicts[d], cr_last_error());
                    fail();
                }
                assert_int_equal(a.dtype, CR_ARRAY_I64);
                assert_int_equal(a.count, 4);
                assert_memory_equal(a.data, data, sizeof data);
                cr_array_free(&a);
            }
}

/* ------------------------------------------------------------ malformed files */

static const float four[4] = {1, 2, 3, 4};

static void test_err_wrong_magic(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                        64, four, sizeof four);
    buf[1] = 'n';
    expect_npy_error(buf, n, "not a .npy file (bad magic)");
    expect_npy_error((const unsigned char *)"PK\x03\x04", 4, "bad magic");
    expect_npy_error((const unsigned char *)"", 0, "truncated header");
}

static void test_err_truncated_header(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                        64, four, sizeof four);
    (void)n;
    expect_npy_error(buf, 9, "truncated header (file is 9 bytes)");
    expect_npy_error(buf, 40, "truncated header: header length 118 exceeds the 30 bytes");
    n = make_npy(buf, sizeof buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                 64, four, sizeof four);
    expect_npy_error(buf, 11, "truncated header (file is 11 bytes)");
    buf[11] = 0x7f; /* a v2 header length of ~2 GB */
    expect_npy_error(buf, n, "truncated header: header length");
}

static void test_err_truncated_data(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                        64, four, sizeof four);
    expect_npy_error(buf, n - 1, "truncated data: shape [4] <f4 needs 16 bytes, the file has 15");
}

static void test_err_trailing_data(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                        64, four, sizeof four);
    expect_npy_error(buf, n, "trailing data: 16 bytes after the header but shape [3] <f4 needs 12");
}

static void test_err_bad_dict(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "['descr', '<f4']",
        "{'descr': '<f4', 'fortran_order': False}",                        /* missing shape */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}",  /* extra key */
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': false, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4)}",           /* not a tuple */
        "{'descr': '<f4', 'fortran_order': False, 'shape': [4]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)",            /* unterminated */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} x",         /* trailing text */
        "{'descr': '<f4 , 'fortran_order': False, 'shape': (4,)}",
        "{'descr' '<f4', 'fortran_order': False, 'shape': (4,)}",
        "{'descr': <f4, 'fortran_order': False, 'shape': (4,)}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_dict_error(bad[i], four, 16, "bad header dict");
    expect_dict_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}", four, 16,
                      "structured dtypes are not supported");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9)}", four,
                      16, "more than 8 dimensions");
}

static void test_err_unsupported_dtype(void **state) {
    (void)state;
    expect_dict_error("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", four, 8,
                      "unsupported dtype '<f2'");
    expect_dict_error("{'descr': '<u1', 'fortran_order': False, 'shape': (4,), }", four, 4,
                      "unsupported dtype '<u1'");
    expect_dict_error("{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", four, 4,
                      "unsupported dtype '|b1'");
    expect_dict_error("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", four, 12,
                      "unsupported dtype '<U3'");
}

static void test_err_big_endian(void **state) {
    (void)state;
    expect_dict_error("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four, 16,
                      "unsupported dtype '>f4' (big-endian");
    expect_dict_error("{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", four, 16,
                      "unsupported dtype '>i8' (big-endian");
}

static void test_err_fortran_order(void **state) {
    (void)state;
    expect_dict_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four, 16,
                      "Fortran order not supported");
}

static void test_err_huge_shape_fails_fast(void **state) {
    (void)state;
    /* 2^40 elements: must be refused from the header alone, before any allocation */
    clock_t t0 = clock();
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", four,
                      16, "truncated data: shape [1048576, 1048576] <f4 needs 4398046511104 bytes");
    expect_dict_error("{'descr': '|u1', 'fortran_order': False, 'shape': (1099511627776,), }", four,
                      16, "needs 1099511627776 bytes, the file has 16");
    /* products that overflow size_t */
    expect_dict_error("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, "
                      "1099511627776, 1099511627776), }", four, 16, "overflows the address space");
    expect_dict_error("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }",
                      four, 16, "overflows the address space");
    expect_dict_error("{'descr': '<f8', 'fortran_order': False, 'shape': "
                      "(99999999999999999999999,), }", four, 16, "dimension too large");
    /* a zero dimension makes the product 0 however large the others are */
    expect_dict_error("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 18446744073709551615), }",
                      four, 16, "trailing data");
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
}

static void test_err_negative_dim(void **state) {
    (void)state;
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }", four, 16,
                      "negative dimension -1 in shape");
    expect_dict_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4, -2), }", four, 16,
                      "negative dimension -2");
}

static void test_err_unsupported_version(void **state) {
    (void)state;
    unsigned char buf[256];
    size_t n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                        64, four, sizeof four);
    buf[6] = 4;
    expect_npy_error(buf, n, "unsupported .npy version 4.0");
    buf[6] = 1;
    buf[7] = 1;
    expect_npy_error(buf, n, "unsupported .npy version 1.1");
}

/* ------------------------------------------------------------ files */

static void test_read_errors_name_the_file(void **state) {
    (void)state;
    cr_array a;
    const char *missing = tu_path("does_not_exist.npy");
    assert_int_not_equal(cr_npy_read(missing, &a), CR_OK);
    assert_non_null(strstr(cr_last_error(), "does_not_exist.npy: No such file or directory"));
    assert_null(a.data);
    assert_int_not_equal(cr_npy_read(tu_tmpdir(), &a), CR_OK);
    assert_non_null(strstr(cr_last_error(), ": is a directory"));
    assert_int_equal(strncmp(cr_last_error(), tu_tmpdir(), strlen(tu_tmpdir())), 0);

    unsigned char *buf;
    size_t len;
    assert_int_equal(tu_write_file(tu_path("ten.bin"), "0123456789", 10), 0);
    assert_int_not_equal(cr_read_file(tu_path("ten.bin"), 9, &buf, &len), CR_OK);
    assert_non_null(strstr(cr_last_error(), "ten.bin: file size 10 exceeds the limit of 9 bytes"));
    assert_null(buf);
    assert_int_equal(cr_read_file(tu_path("ten.bin"), 10, &buf, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "0123456789", 10);
    free(buf);
    assert_int_not_equal(cr_read_file("/dev/null", 10, &buf, &len), CR_OK);
    assert_non_null(strstr(cr_last_error(), "/dev/null: not a regular file"));

    /* a malformed file on disk reports its path */
    assert_int_equal(tu_write_file(tu_path("junk.npy"), "hello world", 11), 0);
    assert_int_not_equal(cr_npy_read(tu_path("junk.npy"), &a), CR_OK);
    assert_non_null(strstr(cr_last_error(), "junk.npy: not a .npy file (bad magic)"));
}

/* Runs fn with the file-size limit lowered so that writes fail with EFBIG. */
static int with_fsize_limit(rlim_t limit, int (*fn)(void *), void *arg) {
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = limit;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = fn(arg);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    return rc;
}

static int write_big(void *arg) { return cr_npy_write(tu_path("keep.npy"), arg); }

static void test_failed_write_keeps_previous_file(void **state) {
    (void)state;
    cr_array small, big;
    size_t s1[1] = {4}, s2[2] = {300, 300};
    assert_int_equal(cr_array_alloc(&small, CR_ARRAY_F64, 1, s1), 0);
    fill_pattern(&small);
    assert_int_equal(cr_npy_write(tu_path("keep.npy"), &small), 0);
    size_t len0;
    unsigned char *before = tu_slurp(tu_path("keep.npy"), &len0);

    assert_int_equal(cr_array_alloc(&big, CR_ARRAY_F64, 2, s2), 0);
    assert_int_equal(with_fsize_limit(100000, write_big, &big), CR_ERR_IO);
    assert_non_null(strstr(cr_last_error(), "keep.npy: write failed: File too large"));
    size_t len1;
    unsigned char *after = tu_slurp(tu_path("keep.npy"), &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(tu_count_tmp_files(), 0);

    /* an invalid array fails before anything is created */
    cr_array bogus = small;
    bogus.count = 5;
    assert_int_not_equal(cr_npy_write(tu_path("never.npy"), &bogus), CR_OK);
    assert_non_null(strstr(cr_last_error(), "never.npy: invalid array"));
    assert_false(tu_file_exists(tu_path("never.npy")));
    /* a folder that does not exist */
    assert_int_not_equal(cr_npy_write(tu_path("no/such/dir/x.npy"), &small), CR_OK);
    assert_non_null(strstr(cr_last_error(), "x.npy: cannot create temporary file: No such file or directory"));
    assert_int_equal(tu_count_tmp_files(), 0);
    free(before);
    free(after);
    cr_array_free(&small);
    cr_array_free(&big);
}

static void test_atomic_api(void **state) {
    (void)state;
    cr_atomic_file af;
    const char *path = tu_path("atomic.txt");
    assert_int_equal(cr_atomic_open(&af, path), 0);
    assert_non_null(strstr(af.tmp_path, "atomic.txt.tmp."));
    assert_true(tu_file_exists(af.tmp_path));
    fputs("hello", (FILE *)af.fp);
    assert_false(tu_file_exists(path));
    assert_int_equal(cr_atomic_commit(&af), 0);
    assert_null(af.fp);
    assert_null(af.tmp_path);
    size_t len;
    unsigned char *buf = tu_slurp(path, &len);
    assert_int_equal(len, 5);
    free(buf);
    assert_int_equal(cr_atomic_open(&af, path), 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", af.tmp_path);
    fputs("overwritten", (FILE *)af.fp);
    cr_atomic_abort(&af);
    cr_atomic_abort(&af); /* idempotent */
    assert_false(tu_file_exists(tmp));
    buf = tu_slurp(path, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    free(buf);
    assert_int_equal(tu_count_tmp_files(), 0);
}

/* ------------------------------------------------------------ arrays, conversions */

static void test_array_alloc(void **state) {
    (void)state;
    cr_array a;
    size_t huge[2] = {SIZE_MAX / 2, 3};
    assert_int_not_equal(cr_array_alloc(&a, CR_ARRAY_F32, 2, huge), CR_OK);
    assert_non_null(strstr(cr_last_error(), "overflow"));
    assert_null(a.data);
    assert_int_not_equal(cr_array_alloc(&a, CR_ARRAY_F32, 9, huge), CR_OK);
    assert_int_not_equal(cr_array_alloc(&a, (cr_array_dtype)7, 1, huge), CR_OK);
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_U8, 0, NULL), 0);
    assert_int_equal(a.count, 1);
    cr_array_free(&a);
    cr_array_free(NULL);
    assert_string_equal(cr_array_dtype_name(CR_ARRAY_U8), "uint8");
    assert_string_equal(cr_array_dtype_name(CR_ARRAY_I64), "int64");
    assert_int_equal(cr_array_dtype_size(CR_ARRAY_I32), 4);
}

static void test_array_to_real(void **state) {
    (void)state;
    cr_array a;
    size_t shape[1] = {4};
    void *out;
    for (int dt = 0; dt < 5; dt++) {
        assert_int_equal(cr_array_alloc(&a, (cr_array_dtype)dt, 1, shape), 0);
        for (size_t i = 0; i < 4; i++) {
            switch (a.dtype) {
            case CR_ARRAY_F32: ((float *)a.data)[i] = (float)i + 0.5f; break;
            case CR_ARRAY_F64: ((double *)a.data)[i] = (double)i + 0.5; break;
            case CR_ARRAY_U8: ((uint8_t *)a.data)[i] = (uint8_t)(250 + i); break;
            case CR_ARRAY_I32: ((int32_t *)a.data)[i] = -(int32_t)i; break;
            case CR_ARRAY_I64: ((int64_t *)a.data)[i] = (int64_t)i * 1000; break;
            }
        }
        assert_int_equal(cr_array_to_real("x.npy", &a, CR_F64, &out), 0);
        double *d = out;
        assert_true(d[3] == (dt == 0 || dt == 1 ? 3.5 : dt == 2 ? 253.0 : dt == 3 ? -3.0 : 3000.0));
        free(out);
        assert_int_equal(cr_array_to_real("x.npy", &a, CR_F32, &out), 0);
        float *f = out;
        assert_true(f[2] == (dt == 0 || dt == 1 ? 2.5f : dt == 2 ? 252.0f : dt == 3 ? -2.0f : 2000.0f));
        free(out);
        cr_array_free(&a);
    }
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F64, 1, shape), 0);
    ((double *)a.data)[2] = NAN;
    assert_int_not_equal(cr_array_to_real("x.npy", &a, CR_F64, &out), CR_OK);
    assert_string_equal(cr_last_error(), "x.npy: contains NaN at index 2");
    assert_null(out);
    ((double *)a.data)[2] = 1e300;
    assert_int_not_equal(cr_array_to_real("x.npy", &a, CR_F32, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "x.npy: value 1e+300 at index 2 overflows float32"));
    ((double *)a.data)[2] = -INFINITY;
    assert_int_not_equal(cr_array_to_real("x.npy", &a, CR_F64, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "contains Inf at index 2"));
    cr_array_free(&a);
}

static void test_labels_to_targets(void **state) {
    (void)state;
    cr_array a;
    void *out;
    size_t n3[1] = {3};
    for (int dt = 2; dt <= 4; dt++) {
        assert_int_equal(cr_array_alloc(&a, (cr_array_dtype)dt, 1, n3), 0);
        int64_t lab[3] = {2, 0, 1};
        for (int i = 0; i < 3; i++) {
            if (dt == 2) ((uint8_t *)a.data)[i] = (uint8_t)lab[i];
            if (dt == 3) ((int32_t *)a.data)[i] = (int32_t)lab[i];
            if (dt == 4) ((int64_t *)a.data)[i] = lab[i];
        }
        assert_int_equal(cr_labels_to_targets("y.npy", &a, 3, 3, CR_F32, &out), 0);
        const float want[9] = {0, 0, 1, 1, 0, 0, 0, 1, 0};
        assert_memory_equal(out, want, sizeof want);
        free(out);
        /* out of range */
        assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 3, 2, CR_F64, &out), CR_OK);
        assert_string_equal(cr_last_error(), "y.npy: label 2 at index 0 is out of range [0, 2)");
        assert_null(out);
        /* wrong N */
        assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 4, 3, CR_F64, &out), CR_OK);
        assert_non_null(strstr(cr_last_error(), "y.npy: labels have shape [3] ("));
        assert_non_null(strstr(cr_last_error(), "expected an integer vector [4] of class indices or a float "
                                        "matrix [4, 3]"));
        cr_array_free(&a);
    }
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_I32, 1, n3), 0);
    ((int32_t *)a.data)[1] = -1;
    assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 3, 3, CR_F64, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "label -1 at index 1 is out of range"));
    cr_array_free(&a);

    /* float one-hot / probability matrix */
    size_t nk[2] = {2, 3};
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F64, 2, nk), 0);
    double *p = a.data;
    p[0] = 0.25; p[1] = 0.75; p[2] = 0; p[3] = 0; p[4] = 0; p[5] = 1;
    assert_int_equal(cr_labels_to_targets("y.npy", &a, 2, 3, CR_F64, &out), 0);
    assert_memory_equal(out, p, 6 * sizeof(double));
    free(out);
    assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 2, 4, CR_F64, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "labels have shape [2, 3] (float64)"));
    p[5] = 0.5;
    assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 2, 3, CR_F32, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "y.npy: targets in row 1 sum to 0.5, not 1"));
    p[5] = NAN;
    assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 2, 3, CR_F32, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "is not a probability"));
    cr_array_free(&a);
    /* a float vector is not a label vector */
    assert_int_equal(cr_array_alloc(&a, CR_ARRAY_F32, 1, n3), 0);
    assert_int_not_equal(cr_labels_to_targets("y.npy", &a, 3, 3, CR_F32, &out), CR_OK);
    assert_non_null(strstr(cr_last_error(), "labels have shape [3] (float32)"));
    cr_array_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_dtypes_and_ndims),
        cmocka_unit_test(test_zero_size_array),
        cmocka_unit_test(test_parse_numpy_made_file),
        cmocka_unit_test(test_parse_versions_and_dict_variants),
        cmocka_unit_test(test_err_wrong_magic),
        cmocka_unit_test(test_err_truncated_header),
        cmocka_unit_test(test_err_truncated_data),
        cmocka_unit_test(test_err_trailing_data),
        cmocka_unit_test(test_err_bad_dict),
        cmocka_unit_test(test_err_unsupported_dtype),
        cmocka_unit_test(test_err_big_endian),
        cmocka_unit_test(test_err_fortran_order),
        cmocka_unit_test(test_err_huge_shape_fails_fast),
        cmocka_unit_test(test_err_negative_dim),
        cmocka_unit_test(test_err_unsupported_version),
        cmocka_unit_test(test_read_errors_name_the_file),
        cmocka_unit_test(test_failed_write_keeps_previous_file),
        cmocka_unit_test(test_atomic_api),
        cmocka_unit_test(test_array_alloc),
        cmocka_unit_test(test_array_to_real),
        cmocka_unit_test(test_labels_to_targets),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
