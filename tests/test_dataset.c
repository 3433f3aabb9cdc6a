/*
 * test_dataset — loading datasets by name (IDX folders raw/gzip, X,Y pairs of
 * .npy or IDX files, CSV, the real Fashion-MNIST when installed), labels and
 * k, limit, the seeded train/validation split and standardisation.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "chainrule_data.h"
#include "testutil.h"

#define ASSERT_ERR(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("error '%s' lacks '%s'", (msg), (sub));           \
    } while (0)

/* Writes an IDX u8 file (gzip if gz) with the given dims and data. */
static void write_idx(const char *path, int gz, int ndim, const uint32_t *dims,
                      const unsigned char *data, size_t n) {
    unsigned char hdr[4 + 4 * 3] = {0, 0, 0x08, (unsigned char)ndim};
    for (int i = 0; i < ndim; i++) {
        hdr[4 + 4 * i] = (unsigned char)(dims[i] >> 24);
        hdr[5 + 4 * i] = (unsigned char)(dims[i] >> 16);
        hdr[6 + 4 * i] = (unsigned char)(dims[i] >> 8);
        hdr[7 + 4 * i] = (unsigned char)dims[i];
    }
    size_t hl = 4 + 4 * (size_t)ndim;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, hdr, (unsigned)hl), (int)hl);
        assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(hdr, 1, hl, f), hl);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

/* A folder with train (gz, 6 images 2x3) and t10k (raw, 4 images). */
static const char *make_idx_dir(void) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_path("idxdir"));
    mkdir(dir, 0755);
    char p[600];
    unsigned char px[6 * 6], lab[6];
    for (int i = 0; i < 36; i++) px[i] = (unsigned char)(i * 7);
    px[5] = 255;
    for (int i = 0; i < 6; i++) lab[i] = (unsigned char)(i % 3);
    uint32_t d3[3] = {6, 2, 3}, d1[1] = {6};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    write_idx(p, 1, 3, d3, px, 36);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    write_idx(p, 1, 1, d1, lab, 6);
    uint32_t t3[3] = {4, 2, 3}, t1[1] = {4};
    unsigned char tlab[4] = {4, 0, 1, 2};
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    write_idx(p, 0, 3, t3, px, 24);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    write_idx(p, 0, 1, t1, tlab, 4);
    return dir;
}

static void test_idx_dir(void **state) {
    (void)state;
    const char *dir = make_idx_dir();
    cr_dataset ds;
    assert_int_equal(cr_dataset_load(dir, &ds, NULL), 0);
    assert_int_equal(ds.n, 6);
    assert_int_equal(ds.d, 6);
    assert_int_equal(ds.k, 3);
    assert_int_equal(ds.height, 2);
    assert_int_equal(ds.width, 3);
    assert_true(ds.x[1] == 7.0f / 255.0f);
    assert_true(ds.x[5] == 1.0f);
    assert_int_equal(ds.labels[4], 1);
    cr_dataset_free(&ds);

    char spec[600];
    snprintf(spec, sizeof spec, "%s:test", dir);
    assert_int_equal(cr_dataset_load(spec, &ds, NULL), 0);
    assert_int_equal(ds.n, 4);
    assert_int_equal(ds.k, 5);
    assert_int_equal(ds.labels[0], 4);
    cr_dataset_free(&ds);

    /* limit and k */
    cr_dataset_options o = cr_dataset_options_default();
    o.limit = 2;
    o.k = 10;
    snprintf(spec, sizeof spec, "%s:train", dir);
    assert_int_equal(cr_dataset_load(spec, &ds, &o), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.k, 10);
    cr_dataset_free(&ds);
    o.limit = 0;
    o.k = 4;
    snprintf(spec, sizeof spec, "%s:test", dir);
    assert_int_not_equal(cr_dataset_load(spec, &ds, &o), CR_OK);
    ASSERT_ERR(cr_last_error(), "t10k-labels-idx1-ubyte: label 4 at index 0 is out of range for k = 4");
    assert_null(ds.x);

    /* a folder without the files */
    assert_int_not_equal(cr_dataset_load(tu_tmpdir(), &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "no train-images-idx3-ubyte[.gz] in this folder");
}

static void test_pairs(void **state) {
    (void)state;
    cr_dataset ds;
    /* IDX pair with mismatched counts */
    const char *dir = make_idx_dir();
    char spec[1300];
    snprintf(spec, sizeof spec, "%s/train-images-idx3-ubyte.gz,%s/t10k-labels-idx1-ubyte", dir,
             dir);
    assert_int_not_equal(cr_dataset_load(spec, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "t10k-labels-idx1-ubyte: 4 labels for 6 examples in");

    /* npy: float inputs [5, 3] taken as is, int64 labels */
    cr_array x = {0}, y = {0};
    size_t xs[2] = {5, 3}, ys[1] = {5};
    assert_int_equal(cr_array_alloc(&x, CR_ARRAY_F32, 2, xs), 0);
    assert_int_equal(cr_array_alloc(&y, CR_ARRAY_I64, 1, ys), 0);
    for (int i = 0; i < 15; i++) ((float *)x.data)[i] = (float)i - 7.5f;
    for (int i = 0; i < 5; i++) ((int64_t *)y.data)[i] = 4 - i;
    char xp[512], yp[512];
    snprintf(xp, sizeof xp, "%s", tu_path("X.npy"));
    snprintf(yp, sizeof yp, "%s", tu_path("y.npy"));
    assert_int_equal(cr_npy_write(xp, &x), 0);
    assert_int_equal(cr_npy_write(yp, &y), 0);
    snprintf(spec, sizeof spec, "%s,%s", xp, yp);
    assert_int_equal(cr_dataset_load(spec, &ds, NULL), 0);
    assert_int_equal(ds.n, 5);
    assert_int_equal(ds.d, 3);
    assert_int_equal(ds.k, 5);
    assert_int_equal(ds.height, 0);
    assert_true(ds.x[0] == -7.5f && ds.x[14] == 6.5f);
    assert_int_equal(ds.labels[0], 4);
    cr_dataset_free(&ds);

    /* negative label */
    ((int64_t *)y.data)[2] = -1;
    assert_int_equal(cr_npy_write(yp, &y), 0);
    assert_int_not_equal(cr_dataset_load(spec, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "y.npy: label -1 at index 2 is not a class index >= 0");
    cr_array_free(&y);

    /* one-hot float labels [5, 4] */
    size_t os[2] = {5, 4};
    assert_int_equal(cr_array_alloc(&y, CR_ARRAY_F32, 2, os), 0);
    for (int i = 0; i < 5; i++) ((float *)y.data)[i * 4 + (i % 4)] = 1.0f;
    assert_int_equal(cr_npy_write(yp, &y), 0);
    assert_int_equal(cr_dataset_load(spec, &ds, NULL), 0);
    assert_int_equal(ds.k, 4);
    assert_int_equal(ds.labels[4], 0);
    assert_int_equal(ds.labels[3], 3);
    cr_dataset_free(&ds);
    ((float *)y.data)[1] = 0.5f;
    assert_int_equal(cr_npy_write(yp, &y), 0);
    assert_int_not_equal(cr_dataset_load(spec, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "y.npy: row 0 of the label matrix is not one-hot");
    cr_array_free(&y);

    /* NaN input */
    ((float *)x.data)[4] = NAN;
    assert_int_equal(cr_npy_write(xp, &x), 0);
    size_t ls[1] = {5};
    assert_int_equal(cr_array_alloc(&y, CR_ARRAY_U8, 1, ls), 0);
    assert_int_equal(cr_npy_write(yp, &y), 0);
    assert_int_not_equal(cr_dataset_load(spec, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "X.npy: value nan at example 1, feature 1 is not a finite float32");
    cr_array_free(&x);
    cr_array_free(&y);

    /* uint8 images [2, 2, 2] scaled to [0, 1] with height and width */
    size_t is[3] = {2, 2, 2}, l2[1] = {2};
    assert_int_equal(cr_array_alloc(&x, CR_ARRAY_U8, 3, is), 0);
    assert_int_equal(cr_array_alloc(&y, CR_ARRAY_I32, 1, l2), 0);
    ((uint8_t *)x.data)[3] = 255;
    ((uint8_t *)x.data)[7] = 51;
    ((int32_t *)y.data)[1] = 1;
    assert_int_equal(cr_dataset_from_arrays("x", &x, "y", &y, NULL, &ds), 0);
    assert_int_equal(ds.height, 2);
    assert_int_equal(ds.width, 2);
    assert_int_equal(ds.d, 4);
    assert_true(ds.x[3] == 1.0f && ds.x[7] == 0.2f && ds.x[0] == 0.0f);
    cr_dataset_free(&ds);
    cr_array_free(&x);
    cr_array_free(&y);
}

static void test_spec_errors(void **state) {
    (void)state;
    cr_dataset ds;
    assert_int_not_equal(cr_dataset_load("", &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "empty dataset name");
    assert_int_not_equal(cr_dataset_load(tu_path("nowhere"), &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "nowhere: No such file or directory");
    assert_int_not_equal(cr_dataset_load("a.npy,", &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "a.npy,: expected X,Y: two files, inputs and labels");
    const char *f = tu_path("plain.txt");
    assert_int_equal(tu_write_file(f, "x", 1), 0);
    assert_int_not_equal(cr_dataset_load(f, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "plain.txt: not a dataset: expected a folder of IDX files, a .csv file");
    /* CSV through the loader, and a folder named like a CSV file */
    const char *c = tu_path("d.CSV");
    assert_int_equal(tu_write_file(c, "y,a\n1,2\n", 8), 0);
    assert_int_equal(cr_dataset_load(c, &ds, NULL), 0);
    assert_int_equal(ds.n, 1);
    cr_dataset_free(&ds);
    const char *cd = tu_path("dir.csv");
    mkdir(cd, 0755);
    assert_int_not_equal(cr_dataset_load(cd, &ds, NULL), CR_OK);
    ASSERT_ERR(cr_last_error(), "dir.csv: is a directory, not a CSV file");
}

static void test_fashion_mnist(void **state) {
    (void)state;
    struct stat st;
    if (stat(CR_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", &st) != 0) {
        skip();
        return;
    }
    cr_dataset ds;
    if (cr_dataset_load("fashion-mnist", &ds, NULL)) fail_msg("%s", cr_last_error());
    assert_int_equal(ds.n, 60000);
    assert_int_equal(ds.d, 784);
    assert_int_equal(ds.k, 10);
    assert_int_equal(ds.height, 28);
    assert_int_equal(ds.width, 28);
    float mn = 1, mx = 0;
    for (size_t i = 0; i < ds.n * ds.d; i++) {
        if (ds.x[i] < mn) mn = ds.x[i];
        if (ds.x[i] > mx) mx = ds.x[i];
    }
    assert_true(mn == 0.0f && mx == 1.0f);
    size_t counts[10] = {0};
    for (size_t i = 0; i < ds.n; i++) {
        assert_true(ds.labels[i] >= 0 && ds.labels[i] < 10);
        counts[ds.labels[i]]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(counts[c], 6000); /* balanced */
    cr_dataset_free(&ds);

    if (cr_dataset_load("fashion-mnist:test", &ds, NULL)) fail_msg("%s", cr_last_error());
    assert_int_equal(ds.n, 10000);
    assert_int_equal(ds.d, 784);
    assert_int_equal(ds.k, 10);
    cr_dataset_free(&ds);
    cr_dataset_options o = cr_dataset_options_default();
    o.limit = 100;
    if (cr_dataset_load("fashion-mnist:train", &ds, &o)) fail_msg("%s", cr_last_error());
    assert_int_equal(ds.n, 100);
    cr_dataset_free(&ds);
}

/* A dataset whose feature 0 of example i is i (to follow examples). */
static void make_ids(cr_dataset *ds, size_t n, size_t d) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->k = 3;
    ds->x = calloc(n * d, sizeof(float));
    ds->labels = calloc(n, sizeof(cr_label));
    assert_non_null(ds->x);
    assert_non_null(ds->labels);
    for (size_t i = 0; i < n; i++) {
        ds->x[i * d] = (float)i;
        for (size_t j = 1; j < d; j++) ds->x[i * d + j] = (float)(i * j % 5);
        ds->labels[i] = (cr_label)(i % 3);
    }
}

static void test_split(void **state) {
    (void)state;
    cr_dataset all, tr, va, tr2, va2;
    make_ids(&all, 100, 3);
    assert_int_equal(cr_dataset_split(&all, 0.2, 42, &tr, &va), 0);
    assert_int_equal(tr.n, 80);
    assert_int_equal(va.n, 20);
    assert_int_equal(tr.d, 3);
    assert_int_equal(va.k, 3);
    /* disjoint and complete, each in the original order, rows intact */
    int seen[100] = {0};
    float prev = -1;
    for (size_t i = 0; i < tr.n; i++) {
        int id = (int)tr.x[i * 3];
        assert_true(tr.x[i * 3] > prev);
        prev = tr.x[i * 3];
        seen[id]++;
        assert_int_equal(tr.labels[i], id % 3);
        assert_true(tr.x[i * 3 + 2] == (float)(id * 2 % 5));
    }
    prev = -1;
    for (size_t i = 0; i < va.n; i++) {
        int id = (int)va.x[i * 3];
        assert_true(va.x[i * 3] > prev);
        prev = va.x[i * 3];
        seen[id]++;
        assert_int_equal(va.labels[i], id % 3);
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);

    /* reproducible with the seed, different with another seed */
    assert_int_equal(cr_dataset_split(&all, 0.2, 42, &tr2, &va2), 0);
    assert_memory_equal(va.x, va2.x, va.n * 3 * sizeof(float));
    assert_memory_equal(tr.labels, tr2.labels, tr.n * sizeof(cr_label));
    cr_dataset_free(&tr2);
    cr_dataset_free(&va2);
    assert_int_equal(cr_dataset_split(&all, 0.2, 43, &tr2, &va2), 0);
    assert_true(memcmp(va.x, va2.x, va.n * 3 * sizeof(float)) != 0);
    cr_dataset_free(&tr2);
    cr_dataset_free(&va2);
    cr_dataset_free(&tr);
    cr_dataset_free(&va);

    /* edges */
    assert_int_equal(cr_dataset_split(&all, 0.0, 1, &tr, &va), 0);
    assert_int_equal(tr.n, 100);
    assert_int_equal(va.n, 0);
    assert_null(va.x);
    cr_dataset_free(&tr);
    cr_dataset_free(&va);
    assert_int_equal(cr_dataset_split(&all, 0.001, 1, &tr, &va), 0);
    assert_int_equal(va.n, 1);
    cr_dataset_free(&tr);
    cr_dataset_free(&va);
    assert_int_not_equal(cr_dataset_split(&all, 1.0, 1, &tr, &va), CR_OK);
    ASSERT_ERR(cr_last_error(), "validation fraction 1 is not in [0, 1)");
    assert_int_not_equal(cr_dataset_split(&all, NAN, 1, &tr, &va), CR_OK);
    ASSERT_ERR(cr_last_error(), "is not in [0, 1)");
    assert_int_not_equal(cr_dataset_split(&all, 0.999, 1, &tr, &va), CR_OK);
    ASSERT_ERR(cr_last_error(), "no training examples would remain");
    assert_null(tr.x);
    assert_null(va.x);
    cr_dataset_free(&all);
}

static void test_standardize(void **state) {
    (void)state;
    cr_dataset ds;
    make_ids(&ds, 50, 4);
    for (size_t i = 0; i < 50; i++) ds.x[i * 4 + 3] = 2.5f; /* constant feature */
    float mean[4], sd[4];
    assert_int_equal(cr_dataset_standardize_stats(&ds, mean, sd), 0);
    assert_true(fabsf(mean[0] - 24.5f) < 1e-5f);
    assert_true(fabsf(sd[0] - sqrtf((50.0f * 50.0f - 1.0f) / 12.0f)) < 1e-4f);
    assert_true(mean[3] == 2.5f && sd[3] == 1.0f);
    cr_dataset_apply_standardize(&ds, mean, sd);
    for (size_t j = 0; j < 4; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < 50; i++) m += ds.x[i * 4 + j];
        m /= 50;
        for (size_t i = 0; i < 50; i++) v += (ds.x[i * 4 + j] - m) * (ds.x[i * 4 + j] - m);
        v /= 50;
        assert_true(fabs(m) < 1e-6);
        if (j < 3) assert_true(fabs(v - 1.0) < 1e-5);
        else assert_true(v == 0.0);
    }
    cr_dataset empty = {0};
    assert_int_equal(cr_dataset_standardize_stats(&empty, mean, sd), CR_ERR_ARG);
    cr_dataset_free(&ds);
    cr_dataset_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_dir),      cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_spec_errors),  cmocka_unit_test(test_fashion_mnist),
        cmocka_unit_test(test_split),        cmocka_unit_test(test_standardize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
