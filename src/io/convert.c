/* Conversions from io arrays to the core's float32/float64 buffers. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

/* Element i of a (any dtype) as double; integers beyond 2^53 round. */
static double elem(const cr_array *a, size_t i) {
    switch (a->dtype) {
    case CR_ARRAY_F32: return (double)((const float *)a->data)[i];
    case CR_ARRAY_F64: return ((const double *)a->data)[i];
    case CR_ARRAY_U8: return (double)((const uint8_t *)a->data)[i];
    case CR_ARRAY_I32: return (double)((const int32_t *)a->data)[i];
    case CR_ARRAY_I64: return (double)((const int64_t *)a->data)[i];
    }
    return NAN;
}

static int valid_array(const cr_array *a) {
    size_t bytes;
    return a && cr_io_array_bytes(a, &bytes) && (bytes == 0 || a->data);
}

cr_status cr_array_to_real(const char *name, const cr_array *a, cr_dtype dtype, void **out) {
    if (!name) name = "(array)";
    if (out) *out = NULL;
    if (!out || !valid_array(a)) return cr_fail(CR_ERR_ARG, "%s: invalid array", name);
    if (dtype != CR_F32 && dtype != CR_F64)
        return cr_fail(CR_ERR_ARG, "%s: unsupported target dtype", name);
    size_t bytes;
    if (cr_mul_size(a->count, cr_dtype_size(dtype), &bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: %zu elements overflow the address space", name, a->count);
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) return cr_fail(CR_ERR_NOMEM, "%s: out of memory allocating %zu bytes", name, bytes);
    if (a->dtype == CR_ARRAY_F64 && dtype == CR_F64 && bytes) {
        memcpy(buf, a->data, bytes);
    } else if (a->dtype == CR_ARRAY_F32 && dtype == CR_F32 && bytes) {
        memcpy(buf, a->data, bytes);
    } else {
        for (size_t i = 0; i < a->count; i++) {
            double v = elem(a, i);
            if (dtype == CR_F64)
                ((double *)buf)[i] = v;
            else if (fabs(v) > FLT_MAX && isfinite(v)) {
                free(buf);
                return cr_fail(CR_ERR_FORMAT, "%s: value %g at index %zu overflows float32", name, v, i);
            } else
                ((float *)buf)[i] = (float)v;
        }
    }
    if (a->dtype == CR_ARRAY_F32 || a->dtype == CR_ARRAY_F64)
        for (size_t i = 0; i < a->count; i++) {
            double v = elem(a, i);
            if (!isfinite(v)) {
                free(buf);
                return cr_fail(CR_ERR_FORMAT, "%s: contains %s at index %zu", name,
                                    isnan(v) ? "NaN" : "Inf", i);
            }
        }
    *out = buf;
    return CR_OK;
}

cr_status cr_labels_to_targets(const char *name, const cr_array *labels, size_t n, size_t k,
                         cr_dtype dtype, void **out) {
    if (!name) name = "(labels)";
    if (out) *out = NULL;
    if (!out || !valid_array(labels)) return cr_fail(CR_ERR_ARG, "%s: invalid array", name);
    if (dtype != CR_F32 && dtype != CR_F64)
        return cr_fail(CR_ERR_ARG, "%s: unsupported target dtype", name);
    if (k == 0) return cr_fail(CR_ERR_FORMAT, "%s: the number of classes must be positive", name);
    int is_int = labels->dtype == CR_ARRAY_U8 || labels->dtype == CR_ARRAY_I32 ||
                 labels->dtype == CR_ARRAY_I64;
    int int_vec = is_int && labels->ndim == 1 && labels->shape[0] == n;
    int float_mat = !is_int && labels->ndim == 2 && labels->shape[0] == n && labels->shape[1] == k;
    if (!int_vec && !float_mat) {
        char shp[160];
        return cr_fail(CR_ERR_FORMAT, "%s: labels have shape %s (%s) but expected an integer vector "
                                 "[%zu] of class indices or a float matrix [%zu, %zu]", name,
                            cr_io_shape_str(labels->shape, labels->ndim, shp, sizeof shp),
                            cr_array_dtype_name(labels->dtype), n, n, k);
    }
    size_t count, bytes;
    if (cr_mul_size(n, k, &count) != CR_OK || cr_mul_size(count, cr_dtype_size(dtype), &bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: %zu x %zu targets overflow the address space", name, n, k);
    void *buf = calloc(bytes ? bytes : 1, 1);
    if (!buf) return cr_fail(CR_ERR_NOMEM, "%s: out of memory allocating %zu bytes", name, bytes);
    for (size_t r = 0; r < n; r++) {
        if (int_vec) {
            int64_t v = labels->dtype == CR_ARRAY_U8    ? ((const uint8_t *)labels->data)[r]
                        : labels->dtype == CR_ARRAY_I32 ? ((const int32_t *)labels->data)[r]
                                                        : ((const int64_t *)labels->data)[r];
            if (v < 0 || (uint64_t)v >= k) {
                free(buf);
                return cr_fail(CR_ERR_FORMAT, "%s: label %lld at index %zu is out of range [0, %zu)",
                                    name, (long long)v, r, k);
            }
            if (dtype == CR_F64)
                ((double *)buf)[r * k + (size_t)v] = 1.0;
            else
                ((float *)buf)[r * k + (size_t)v] = 1.0f;
        } else {
            double sum = 0;
            for (size_t c = 0; c < k; c++) {
                double v = elem(labels, r * k + c);
                if (!(v >= 0.0 && v <= 1.0)) {
                    free(buf);
                    return cr_fail(CR_ERR_FORMAT, "%s: target %g at row %zu, column %zu is not a "
                                             "probability in [0, 1]", name, v, r, c);
                }
                sum += v;
                if (dtype == CR_F64)
                    ((double *)buf)[r * k + c] = v;
                else
                    ((float *)buf)[r * k + c] = (float)v;
            }
            if (fabs(sum - 1.0) > 1e-3) {
                free(buf);
                return cr_fail(CR_ERR_FORMAT, "%s: targets in row %zu sum to %g, not 1", name, r, sum);
            }
        }
    }
    *out = buf;
    return CR_OK;
}
