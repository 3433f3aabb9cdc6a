/* n-dimensional arrays owned by the io layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

size_t cr_array_dtype_size(cr_array_dtype dtype) {
    switch (dtype) {
    case CR_ARRAY_F32: return 4;
    case CR_ARRAY_F64: return 8;
    case CR_ARRAY_U8: return 1;
    case CR_ARRAY_I32: return 4;
    case CR_ARRAY_I64: return 8;
    }
    return 0;
}

const char *cr_array_dtype_name(cr_array_dtype dtype) {
    switch (dtype) {
    case CR_ARRAY_F32: return "float32";
    case CR_ARRAY_F64: return "float64";
    case CR_ARRAY_U8: return "uint8";
    case CR_ARRAY_I32: return "int32";
    case CR_ARRAY_I64: return "int64";
    }
    return "unknown";
}

int cr_io_array_bytes(const cr_array *a, size_t *bytes) {
    size_t es = cr_array_dtype_size(a->dtype), count = 1;
    if (es == 0 || a->ndim < 0 || a->ndim > CR_ARRAY_MAX_DIMS) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (cr_mul_size(count, a->shape[i], &count) != CR_OK) return 0;
    if (count != a->count) return 0;
    return cr_mul_size(count, es, bytes) == CR_OK;
}

const char *cr_io_shape_str(const size_t *shape, int ndim, char *buf, size_t size) {
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    int n = snprintf(buf, size, "[");
    if (n > 0) used = (size_t)n;
    for (int i = 0; i < ndim && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%zu", i ? ", " : "", shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    if (used + 1 >= size && size > 4) memcpy(buf + size - 4, "...", 4);
    return buf;
}

cr_status cr_array_alloc(cr_array *a, cr_array_dtype dtype, int ndim, const size_t *shape) {
    if (!a) return cr_fail(CR_ERR_ARG, "array: invalid argument");
    memset(a, 0, sizeof *a);
    size_t es = cr_array_dtype_size(dtype);
    if (es == 0) return cr_fail(CR_ERR_FORMAT, "array: unknown dtype %d", (int)dtype);
    if (ndim < 0 || ndim > CR_ARRAY_MAX_DIMS)
        return cr_fail(CR_ERR_FORMAT, "array: %d dimensions (at most %d supported)", ndim,
                            CR_ARRAY_MAX_DIMS);
    if (ndim > 0 && !shape) return cr_fail(CR_ERR_FORMAT, "array: missing shape");
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (cr_mul_size(count, shape[i], &count) != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "array: shape overflows the address space");
    if (cr_mul_size(count, es, &bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "array: %zu elements of %zu bytes overflow the address space",
                            count, es);
    void *data = calloc(bytes ? bytes : 1, 1); /* never NULL: NULL means "no array" */
    if (!data) return cr_fail(CR_ERR_NOMEM, "array: out of memory allocating %zu bytes", bytes);
    a->dtype = dtype;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->count = count;
    a->data = data;
    return CR_OK;
}

void cr_array_free(cr_array *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
