/* Status strings, dtypes, checked sizes. */
#include "chainrule_typed.h"
#include "fail.h"

#include <stdint.h>

const char *cr_status_string(cr_status status) {
    switch (status) {
    case CR_OK: return "ok";
    case CR_ERR_NOMEM: return "out of memory";
    case CR_ERR_ARG: return "invalid argument";
    case CR_ERR_SHAPE: return "shapes do not fit together";
    case CR_ERR_OVERFLOW: return "size overflow";
    case CR_ERR_NONFINITE: return "NaN or Inf where a finite number is required";
    case CR_ERR_DTYPE: return "unsupported dtype";
    case CR_ERR_IO: return "cannot open, read or write a file";
    case CR_ERR_FORMAT: return "malformed or unsupported content";
    }
    return "unknown status";
}

size_t cr_dtype_size(cr_dtype dtype) { return dtype == CR_F64 ? sizeof(double) : sizeof(float); }

const char *cr_dtype_name(cr_dtype dtype) { return dtype == CR_F64 ? "float64" : "float32"; }

cr_status cr_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return cr_fail(CR_ERR_OVERFLOW, "%zu x %zu overflows size_t", a, b);
    *out = a * b;
    return CR_OK;
}
