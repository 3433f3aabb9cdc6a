/*
 * NumPy .npy arrays, versions 1.0, 2.0 and 3.0, little-endian <f4 <f8 |u1 <i4 <i8,
 * C order. The header dict is parsed strictly (exactly the keys 'descr',
 * 'fortran_order' and 'shape'); the shape is checked for overflow and against
 * the bytes that actually follow the header before anything is allocated.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct {
    cr_array_dtype dtype;
    int ndim;
    size_t shape[CR_ARRAY_MAX_DIMS];
    size_t count;
    size_t bytes;  /* count * element size */
    size_t offset; /* where the data starts */
} npy_info;

static const struct {
    const char *descr;
    cr_array_dtype dtype;
} npy_dtypes[] = {
    {"<f4", CR_ARRAY_F32}, {"<f8", CR_ARRAY_F64}, {"|u1", CR_ARRAY_U8},
    {"<i4", CR_ARRAY_I32}, {"<i8", CR_ARRAY_I64},
};

static const char *npy_descr(cr_array_dtype dtype) {
    for (size_t i = 0; i < sizeof npy_dtypes / sizeof npy_dtypes[0]; i++)
        if (npy_dtypes[i].dtype == dtype) return npy_dtypes[i].descr;
    return NULL;
}

/* ------------------------------------------------------------ header dict */

typedef struct {
    const char *start, *p, *end;
    const char *name;
} dict_parser;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(dict_parser *d) {
    while (d->p < d->end && is_space(*d->p)) d->p++;
}

static int bad_dict(dict_parser *d, const char *what) {
    return cr_fail(CR_ERR_FORMAT, "%s: bad header dict: %s (at byte %td of the header)", d->name,
                        what, d->p - d->start);
}

/* Parses a Python string literal '...' or "..." (no escapes) into out[size]. */
static int parse_str(dict_parser *d, char *out, size_t size, const char *what) {
    skip_ws(d);
    if (d->p >= d->end || (*d->p != '\'' && *d->p != '"')) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected a quoted string for %s", what);
        return bad_dict(d, msg);
    }
    char q = *d->p++;
    size_t n = 0;
    while (d->p < d->end && *d->p != q) {
        if (*d->p == '\\' || *d->p == '\n') return bad_dict(d, "unsupported character in string");
        if (n + 1 < size) out[n] = *d->p;
        n++;
        d->p++;
    }
    if (d->p >= d->end) return bad_dict(d, "unterminated string");
    d->p++;
    if (n + 1 > size) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is too long", what);
        return bad_dict(d, msg);
    }
    out[n] = '\0';
    return 0;
}

static int parse_bool(dict_parser *d, int *out) {
    skip_ws(d);
    size_t left = (size_t)(d->end - d->p);
    if (left >= 4 && memcmp(d->p, "True", 4) == 0) {
        d->p += 4;
        *out = 1;
    } else if (left >= 5 && memcmp(d->p, "False", 5) == 0) {
        d->p += 5;
        *out = 0;
    } else {
        return bad_dict(d, "'fortran_order' must be True or False");
    }
    if (d->p < d->end && ((*d->p >= 'A' && *d->p <= 'Z') || (*d->p >= 'a' && *d->p <= 'z') ||
                          (*d->p >= '0' && *d->p <= '9') || *d->p == '_'))
        return bad_dict(d, "'fortran_order' must be True or False");
    return 0;
}

static int parse_shape(dict_parser *d, npy_info *info) {
    skip_ws(d);
    if (d->p >= d->end || *d->p != '(') return bad_dict(d, "'shape' must be a tuple");
    d->p++;
    int n = 0, trailing_comma = 0;
    for (;;) {
        skip_ws(d);
        if (d->p >= d->end) return bad_dict(d, "unterminated shape tuple");
        if (*d->p == ')') {
            d->p++;
            break;
        }
        if (n > 0 && !trailing_comma) return bad_dict(d, "expected ',' or ')' in shape");
        if (*d->p == '-') {
            /* report the value as written, then fail */
            const char *s = d->p + 1;
            uintmax_t v = 0;
            while (s < d->end && *s >= '0' && *s <= '9' && v < UINTMAX_MAX / 10)
                v = v * 10 + (uintmax_t)(*s++ - '0');
            return cr_fail(CR_ERR_FORMAT, "%s: negative dimension -%ju in shape", d->name, v);
        }
        if (*d->p < '0' || *d->p > '9') return bad_dict(d, "shape entries must be integers");
        size_t v = 0;
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
            size_t digit = (size_t)(*d->p - '0');
            if (v > (SIZE_MAX - digit) / 10)
                return cr_fail(CR_ERR_FORMAT, "%s: shape dimension too large (overflows size_t)",
                                    d->name);
            v = v * 10 + digit;
            d->p++;
        }
        if (d->p < d->end && *d->p == 'L') d->p++; /* Python 2 long literal */
        if (n >= CR_ARRAY_MAX_DIMS)
            return cr_fail(CR_ERR_FORMAT, "%s: more than %d dimensions are not supported", d->name,
                                CR_ARRAY_MAX_DIMS);
        info->shape[n++] = v;
        skip_ws(d);
        trailing_comma = 0;
        if (d->p < d->end && *d->p == ',') {
            d->p++;
            trailing_comma = 1;
        }
    }
    if (n == 1 && !trailing_comma) return bad_dict(d, "'shape' must be a tuple, e.g. (5,)");
    info->ndim = n;
    return 0;
}

static int parse_header_dict(const char *name, const char *text, size_t len, npy_info *info) {
    dict_parser d = {text, text, text + len, name};
    char descr[32] = {0}, key[32];
    int fortran = 0, have_descr = 0, have_fortran = 0, have_shape = 0;
    skip_ws(&d);
    if (d.p >= d.end || *d.p != '{') return bad_dict(&d, "expected '{'");
    d.p++;
    for (;;) {
        skip_ws(&d);
        if (d.p < d.end && *d.p == '}') {
            d.p++;
            break;
        }
        if (parse_str(&d, key, sizeof key, "a key")) return -1;
        skip_ws(&d);
        if (d.p >= d.end || *d.p != ':') return bad_dict(&d, "expected ':' after a key");
        d.p++;
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) return bad_dict(&d, "duplicate key 'descr'");
            skip_ws(&d);
            if (d.p < d.end && (*d.p == '[' || *d.p == '{'))
                return cr_fail(CR_ERR_FORMAT, "%s: structured dtypes are not supported", name);
            if (parse_str(&d, descr, sizeof descr, "'descr'")) return -1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) return bad_dict(&d, "duplicate key 'fortran_order'");
            if (parse_bool(&d, &fortran)) return -1;
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) return bad_dict(&d, "duplicate key 'shape'");
            if (parse_shape(&d, info)) return -1;
        } else {
            return cr_fail(CR_ERR_FORMAT, "%s: bad header dict: unexpected key '%s'", name, key);
        }
        skip_ws(&d);
        if (d.p < d.end && *d.p == ',') {
            d.p++;
            continue;
        }
        if (d.p < d.end && *d.p == '}') {
            d.p++;
            break;
        }
        return bad_dict(&d, "expected ',' or '}'");
    }
    skip_ws(&d);
    if (d.p != d.end) return bad_dict(&d, "unexpected text after the dict");
    if (!have_descr) return bad_dict(&d, "missing key 'descr'");
    if (!have_fortran) return bad_dict(&d, "missing key 'fortran_order'");
    if (!have_shape) return bad_dict(&d, "missing key 'shape'");

    size_t i, n = sizeof npy_dtypes / sizeof npy_dtypes[0];
    for (i = 0; i < n; i++)
        if (strcmp(descr, npy_dtypes[i].descr) == 0) break;
    if (i == n) {
        if (descr[0] == '>')
            return cr_fail(CR_ERR_FORMAT, "%s: unsupported dtype '%s' (big-endian; expected one of "
                                     "<f4 <f8 |u1 <i4 <i8)", name, descr);
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported dtype '%s' (expected one of <f4 <f8 |u1 <i4 <i8)",
                            name, descr);
    }
    info->dtype = npy_dtypes[i].dtype;
    if (fortran) return cr_fail(CR_ERR_FORMAT, "%s: Fortran order not supported", name);
    return 0;
}

/* Validates magic, version, header dict and data size; fills info. Allocates nothing. */
static int npy_parse_header(const char *name, const unsigned char *buf, size_t len,
                            npy_info *info) {
    memset(info, 0, sizeof *info);
    size_t m = len < 6 ? len : 6;
    if (memcmp(buf, npy_magic, m) != 0)
        return cr_fail(CR_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    if (len < 10) return cr_fail(CR_ERR_FORMAT, "%s: truncated header (file is %zu bytes)", name, len);
    unsigned major = buf[6], minor = buf[7];
    if (!((major == 1 || major == 2 || major == 3) && minor == 0))
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported .npy version %u.%u", name, major, minor);
    size_t start, hlen;
    if (major == 1) {
        start = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else {
        if (len < 12)
            return cr_fail(CR_ERR_FORMAT, "%s: truncated header (file is %zu bytes)", name, len);
        start = 12;
        hlen = cr_io_le32(buf + 8);
    }
    if (hlen > len - start)
        return cr_fail(CR_ERR_FORMAT, "%s: truncated header: header length %zu exceeds the %zu bytes "
                                 "left in the file", name, hlen, len - start);
    if (parse_header_dict(name, (const char *)buf + start, hlen, info)) return -1;

    char shp[160];
    size_t count = 1, bytes, es = cr_array_dtype_size(info->dtype);
    for (int i = 0; i < info->ndim; i++)
        if (cr_mul_size(count, info->shape[i], &count) != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "%s: shape %s overflows the address space", name,
                                cr_io_shape_str(info->shape, info->ndim, shp, sizeof shp));
    if (cr_mul_size(count, es, &bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: shape %s overflows the address space", name,
                            cr_io_shape_str(info->shape, info->ndim, shp, sizeof shp));
    size_t left = len - start - hlen;
    if (bytes > left)
        return cr_fail(CR_ERR_FORMAT, "%s: truncated data: shape %s %s needs %zu bytes, the file has %zu",
                            name, cr_io_shape_str(info->shape, info->ndim, shp, sizeof shp),
                            npy_descr(info->dtype), bytes, left);
    if (bytes < left)
        return cr_fail(CR_ERR_FORMAT, "%s: trailing data: %zu bytes after the header but shape %s %s "
                                 "needs %zu", name, left,
                            cr_io_shape_str(info->shape, info->ndim, shp, sizeof shp),
                            npy_descr(info->dtype), bytes);
    info->count = count;
    info->bytes = bytes;
    info->offset = start + hlen;
    return 0;
}

static void npy_fill(cr_array *out, const npy_info *info, void *data) {
    memset(out, 0, sizeof *out);
    out->dtype = info->dtype;
    out->ndim = info->ndim;
    for (int i = 0; i < info->ndim; i++) out->shape[i] = info->shape[i];
    out->count = info->count;
    out->data = data;
    if (!cr_io_host_is_le()) cr_io_swap_bytes(data, info->count, cr_array_dtype_size(info->dtype));
}

cr_status cr_npy_parse(const char *name, const unsigned char *buf, size_t len, cr_array *out) {
    if (!name) name = "(npy)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if (!buf) buf = (const unsigned char *)"";
    npy_info info;
    if (npy_parse_header(name, buf, len, &info)) return cr_io_status(-1);
    void *data = malloc(info.bytes ? info.bytes : 1);
    if (!data) return cr_fail(CR_ERR_NOMEM, "%s: out of memory allocating %zu bytes", name, info.bytes);
    if (info.bytes) memcpy(data, buf + info.offset, info.bytes);
    npy_fill(out, &info, data);
    return CR_OK;
}

cr_status cr_npy_read(const char *path, cr_array *out) {
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (cr_read_file(path, SIZE_MAX, &buf, &len)) return cr_io_status(-1);
    npy_info info;
    if (npy_parse_header(path, buf, len, &info)) {
        free(buf);
        return cr_io_status(-1);
    }
    /* Reuse the file buffer: move the data to its front and shrink it. */
    if (info.bytes) memmove(buf, buf + info.offset, info.bytes);
    unsigned char *data = realloc(buf, info.bytes ? info.bytes : 1);
    npy_fill(out, &info, data ? data : buf);
    return CR_OK;
}

cr_status cr_npy_write(const char *path, const cr_array *a) {
    if (!path) return cr_fail(CR_ERR_ARG, "(null): invalid output path");
    size_t bytes;
    const char *descr = a ? npy_descr(a->dtype) : NULL;
    if (!a || !descr || !cr_io_array_bytes(a, &bytes) || (bytes && !a->data))
        return cr_fail(CR_ERR_FORMAT, "%s: invalid array (dtype, shape or data)", path);

    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < a->ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%zu", i ? ", " : "", a->shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", a->ndim == 1 ? "," : "");
    /* numpy pads with spaces so that the data starts 64-byte aligned; '\n' ends the header */
    size_t dlen = (size_t)n, pre = 10;
    size_t total = (pre + dlen + 1 + 63) / 64 * 64;
    if (total - pre > 65535) {
        pre = 12;
        total = (pre + dlen + 1 + 63) / 64 * 64;
    }
    size_t hlen = total - pre;
    unsigned char head[12 + 576];
    if (total > sizeof head) return cr_fail(CR_ERR_FORMAT, "%s: header too long", path);
    memcpy(head, npy_magic, 6);
    head[6] = pre == 10 ? 1 : 2;
    head[7] = 0;
    if (pre == 10) {
        head[8] = (unsigned char)(hlen & 0xff);
        head[9] = (unsigned char)(hlen >> 8);
    } else {
        cr_io_put_le32(head + 8, (uint32_t)hlen);
    }
    memcpy(head + pre, dict, dlen);
    memset(head + pre + dlen, ' ', hlen - dlen - 1);
    head[total - 1] = '\n';

    cr_atomic_file af;
    if (cr_atomic_open(&af, path)) return cr_io_status(-1);
    FILE *fp = af.fp;
    if (fwrite(head, 1, total, fp) != total ||
        cr_io_write_le(fp, a->data, a->count, cr_array_dtype_size(a->dtype)) != 0) {
        cr_fail(CR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        cr_atomic_abort(&af);
        return cr_io_status(-1);
    }
    return cr_io_status(cr_atomic_commit(&af));
}
