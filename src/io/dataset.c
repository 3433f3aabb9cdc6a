/*
 * dataset.c — labelled datasets: the type (options, free, from arrays),
 * seeded train/validation split and per-feature standardisation. Loading by
 * name is in dataset_load.c.
 */
#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "io_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cr_dataset_options cr_dataset_options_default(void) {
    cr_dataset_options o = CR_DATASET_OPTIONS_INIT;
    return o;
}

void cr_dataset_free(cr_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* ---------------------------------------------------------------- from arrays */

/* Element i of a as double. */
static double array_get(const cr_array *a, size_t i) {
    switch (a->dtype) {
    case CR_ARRAY_F32: return ((const float *)a->data)[i];
    case CR_ARRAY_F64: return ((const double *)a->data)[i];
    case CR_ARRAY_U8: return ((const uint8_t *)a->data)[i];
    case CR_ARRAY_I32: return ((const int32_t *)a->data)[i];
    case CR_ARRAY_I64: return (double)((const int64_t *)a->data)[i];
    }
    return NAN;
}

/* One label from element i: a non-negative integer below 2^31. */
static int label_at(const char *name, const cr_array *a, size_t i, cr_label *out) {
    if (a->dtype == CR_ARRAY_I64) {
        int64_t v = ((const int64_t *)a->data)[i];
        if (v < 0 || v > INT32_MAX)
            return cr_fail(CR_ERR_FORMAT, "%s: label %lld at index %zu is not a class index >= 0", name,
                                (long long)v, i);
        *out = (cr_label)v;
        return 0;
    }
    double v = array_get(a, i);
    if (!(v >= 0 && v <= INT32_MAX) || v != floor(v))
        return cr_fail(CR_ERR_FORMAT, "%s: label %g at index %zu is not a class index >= 0", name, v, i);
    *out = (cr_label)v;
    return 0;
}

cr_status cr_dataset_from_arrays(const char *x_name, const cr_array *x, const char *y_name,
                           const cr_array *labels, const cr_dataset_options *opt,
                           cr_dataset *out) {
    memset(out, 0, sizeof *out);
    cr_dataset_options defaults = cr_dataset_options_default();
    if (!opt) opt = &defaults;
    if (x->ndim < 1 || x->count == 0 || x->shape[0] == 0)
        return cr_fail(CR_ERR_FORMAT, "%s: no examples", x_name);
    size_t n_all = x->shape[0], d = x->count / n_all;
    if (labels->ndim < 1 || labels->ndim > 2)
        return cr_fail(CR_ERR_FORMAT, "%s: labels must be a vector [n] or a one-hot matrix [n, k], not %d-dimensional",
                            y_name, labels->ndim);
    if (labels->shape[0] != n_all)
        return cr_fail(CR_ERR_FORMAT, "%s: %zu labels for %zu examples in %s", y_name, labels->shape[0],
                            n_all, x_name);
    size_t n = opt->limit && opt->limit < n_all ? opt->limit : n_all;
    int onehot = labels->ndim == 2;
    size_t kk = onehot ? labels->shape[1] : 0;
    if (onehot && kk == 0) return cr_fail(CR_ERR_FORMAT, "%s: one-hot labels with 0 classes", y_name);
    if (onehot && opt->k && opt->k != kk)
        return cr_fail(CR_ERR_FORMAT, "%s: one-hot labels have %zu classes, expected k = %zu", y_name,
                            kk, opt->k);

    size_t nd;
    if (cr_mul_size(n, d, &nd) != CR_OK || nd > SIZE_MAX / sizeof(float))
        return cr_fail(CR_ERR_FORMAT, "%s: too large", x_name);
    out->x = malloc(nd * sizeof(float));
    out->labels = malloc(n * sizeof(cr_label));
    if (!out->x || !out->labels) {
        cr_dataset_free(out);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory for %zu x %zu values", x_name, n, d);
    }
    out->n = n;
    out->d = d;
    if (x->ndim == 3) {
        out->height = x->shape[1];
        out->width = x->shape[2];
    }

    /* inputs: uint8 pixels are scaled to [0, 1], everything else taken as is */
    if (x->dtype == CR_ARRAY_U8) {
        const uint8_t *p = x->data;
        for (size_t i = 0; i < nd; i++) out->x[i] = (float)p[i] / 255.0f;
    } else {
        for (size_t i = 0; i < nd; i++) {
            double v = array_get(x, i);
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                cr_dataset_free(out);
                return cr_fail(CR_ERR_FORMAT, "%s: value %g at example %zu, feature %zu is not a finite float32",
                                    x_name, v, i / d, i % d);
            }
            out->x[i] = (float)v;
        }
    }

    /* labels */
    cr_label max_label = 0;
    for (size_t i = 0; i < n; i++) {
        cr_label lab = -1;
        if (onehot) {
            size_t ones = 0;
            for (size_t j = 0; j < kk; j++) {
                double v = array_get(labels, i * kk + j);
                if (v == 1.0) {
                    ones++;
                    lab = (cr_label)j;
                } else if (v != 0.0) {
                    ones = 2;
                    break;
                }
            }
            if (ones != 1 || kk - 1 > INT32_MAX) {
                cr_dataset_free(out);
                return cr_fail(CR_ERR_FORMAT, "%s: row %zu of the label matrix is not one-hot", y_name, i);
            }
        } else {
            if (label_at(y_name, labels, i, &lab)) {
                cr_dataset_free(out);
                return cr_io_status(-1);
            }
            if (opt->k && (size_t)lab >= opt->k) {
                cr_dataset_free(out);
                return cr_fail(CR_ERR_FORMAT, "%s: label %d at index %zu is out of range for k = %zu",
                                    y_name, (int)lab, i, opt->k);
            }
        }
        if (lab > max_label) max_label = lab;
        out->labels[i] = lab;
    }
    out->k = opt->k ? opt->k : onehot ? kk : (size_t)max_label + 1;
    return CR_OK;
}

/* ---------------------------------------------------------------- split */

static int dataset_alloc(cr_dataset *ds, const cr_dataset *like, size_t n) {
    memset(ds, 0, sizeof *ds);
    ds->d = like->d;
    ds->k = like->k;
    ds->height = like->height;
    ds->width = like->width;
    if (n == 0) return 0;
    size_t nd;
    if (cr_mul_size(n, like->d, &nd) != CR_OK || nd > SIZE_MAX / sizeof(float))
        return cr_fail(CR_ERR_FORMAT, "dataset too large");
    ds->x = malloc(nd * sizeof(float));
    ds->labels = malloc(n * sizeof(cr_label));
    if (!ds->x || !ds->labels) {
        cr_dataset_free(ds);
        return cr_fail(CR_ERR_NOMEM, "out of memory splitting a dataset of %zu examples", n);
    }
    ds->n = n;
    return 0;
}

cr_status cr_dataset_split(const cr_dataset *all, double val_fraction, uint64_t seed,
                     cr_dataset *train, cr_dataset *val) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return cr_fail(CR_ERR_FORMAT, "validation fraction %g is not in [0, 1)", val_fraction);
    size_t n = all->n;
    size_t n_val = (size_t)floor(val_fraction * (double)n + 0.5);
    if (val_fraction > 0 && n_val == 0) n_val = 1;
    if (n == 0 || n_val >= n)
        return cr_fail(CR_ERR_FORMAT, "cannot split %zu examples with validation fraction %g: no "
                            "training examples would remain",
                            n, val_fraction);
    unsigned char *in_val = calloc(n, 1);
    size_t *perm = malloc(n * sizeof *perm);
    if (!in_val || !perm) {
        free(in_val);
        free(perm);
        return cr_fail(CR_ERR_NOMEM, "out of memory splitting a dataset of %zu examples", n);
    }
    /* partial Fisher-Yates: the first n_val entries are a uniform random subset */
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < n_val; i++) {
        size_t j = i + (size_t)cr_rng_below(&rng, (uint64_t)(n - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        in_val[perm[i]] = 1;
    }
    free(perm);
    if (dataset_alloc(train, all, n - n_val) || dataset_alloc(val, all, n_val)) {
        cr_dataset_free(train);
        free(in_val);
        return cr_io_status(-1);
    }
    size_t it = 0, iv = 0, d = all->d;
    for (size_t i = 0; i < n; i++) {
        cr_dataset *dst = in_val[i] ? val : train;
        size_t r = in_val[i] ? iv++ : it++;
        memcpy(dst->x + r * d, all->x + i * d, d * sizeof(float));
        dst->labels[r] = all->labels[i];
    }
    free(in_val);
    return CR_OK;
}

/* ---------------------------------------------------------------- standardise */

cr_status cr_dataset_standardize_stats(const cr_dataset *ds, float *mean, float *std) {
    size_t n = ds->n, d = ds->d;
    if (n == 0 || d == 0 || !ds->x)
        return cr_fail(CR_ERR_ARG, "cr_dataset_standardize_stats: an empty dataset (%zu x %zu)", n, d);
    double *acc = calloc(d, sizeof *acc);
    if (!acc) return cr_fail(CR_ERR_NOMEM, "cr_dataset_standardize_stats: out of memory");
    for (size_t i = 0; i < n; i++) {
        const float *r = ds->x + i * d;
        for (size_t j = 0; j < d; j++) acc[j] += r[j];
    }
    for (size_t j = 0; j < d; j++) {
        acc[j] /= (double)n;
        mean[j] = (float)acc[j];
    }
    /* second pass for the variance (numerically safe) */
    double *var = calloc(d, sizeof *var);
    if (!var) {
        free(acc);
        return cr_fail(CR_ERR_NOMEM, "cr_dataset_standardize_stats: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const float *r = ds->x + i * d;
        for (size_t j = 0; j < d; j++) {
            double c = r[j] - acc[j];
            var[j] += c * c;
        }
    }
    for (size_t j = 0; j < d; j++) {
        double s = sqrt(var[j] / (double)n);
        std[j] = s < CR_STD_FLOOR ? 1.0f : (float)s;
    }
    free(var);
    free(acc);
    return CR_OK;
}

void cr_dataset_apply_standardize(cr_dataset *ds, const float *mean, const float *std) {
    size_t n = ds->n, d = ds->d;
    for (size_t i = 0; i < n; i++) {
        float *r = ds->x + i * d;
        for (size_t j = 0; j < d; j++) r[j] = (r[j] - mean[j]) / std[j];
    }
}
