/*
 * idx.c — the IDX format of MNIST and Fashion-MNIST, raw or gzip.
 *
 * Layout: 0x00 0x00 TYPE NDIM, then NDIM big-endian u32 dimensions, then the
 * elements in C order, big-endian. Everything the header claims is checked
 * against overflow, against CR_IDX_MAX_BYTES and against the bytes actually
 * present; a gzip stream is inflated incrementally so that a lying header can
 * never make us allocate more than the data that really arrives.
 */
#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

typedef struct {
    int type;             /* IDX type byte */
    size_t esize;         /* bytes per element in the file */
    cr_array_dtype dtype; /* dtype of the resulting array */
    int ndim;
    size_t shape[CR_ARRAY_MAX_DIMS];
    size_t count;       /* elements */
    size_t data_bytes;  /* count * esize */
    size_t header_len;  /* 4 + 4 * ndim */
} idx_header;

static int idx_type_info(int type, size_t *esize, cr_array_dtype *dtype) {
    switch (type) {
    case 0x08: *esize = 1; *dtype = CR_ARRAY_U8; return 1;
    case 0x09: *esize = 1; *dtype = CR_ARRAY_I32; return 1;
    case 0x0B: *esize = 2; *dtype = CR_ARRAY_I32; return 1;
    case 0x0C: *esize = 4; *dtype = CR_ARRAY_I32; return 1;
    case 0x0D: *esize = 4; *dtype = CR_ARRAY_F32; return 1;
    case 0x0E: *esize = 8; *dtype = CR_ARRAY_F64; return 1;
    default: return 0;
    }
}

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Validates the header held in buf[0..len) (the data may or may not follow). */
static int idx_parse_header(const char *name, const unsigned char *buf, size_t len,
                            idx_header *h) {
    memset(h, 0, sizeof *h);
    if (len < 4) return cr_fail(CR_ERR_FORMAT, "%s: too short for an IDX header (%zu bytes)", name, len);
    if (buf[0] != 0 || buf[1] != 0)
        return cr_fail(CR_ERR_FORMAT, "%s: not an IDX file (magic bytes %02x %02x, expected 00 00)",
                            name, buf[0], buf[1]);
    h->type = buf[2];
    if (!idx_type_info(h->type, &h->esize, &h->dtype))
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported IDX element type 0x%02x (supported: 0x08 uint8, "
                            "0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)",
                            name, h->type);
    h->ndim = buf[3];
    if (h->ndim < 1 || h->ndim > CR_ARRAY_MAX_DIMS)
        return cr_fail(CR_ERR_FORMAT, "%s: IDX has %d dimensions (supported: 1 to %d)", name, h->ndim,
                            CR_ARRAY_MAX_DIMS);
    h->header_len = 4 + 4 * (size_t)h->ndim;
    if (len < h->header_len)
        return cr_fail(CR_ERR_FORMAT, "%s: truncated IDX header (%zu bytes, %d dimensions need %zu)",
                            name, len, h->ndim, h->header_len);
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->shape[i] = be32(buf + 4 + 4 * (size_t)i);
        if (h->shape[i] == 0) return cr_fail(CR_ERR_FORMAT, "%s: IDX dimension %d is 0", name, i + 1);
        if (cr_mul_size(h->count, h->shape[i], &h->count) != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "%s: IDX dimensions overflow", name);
    }
    if (cr_mul_size(h->count, h->esize, &h->data_bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: IDX dimensions overflow", name);
    return 0;
}

static int idx_check_limit(const char *name, const idx_header *h) {
    if (h->data_bytes > CR_IDX_MAX_BYTES)
        return cr_fail(CR_ERR_FORMAT, "%s: IDX header claims %zu data bytes, more than the limit of %zu",
                            name, h->data_bytes, CR_IDX_MAX_BYTES);
    return 0;
}

cr_status cr_idx_parse(const char *name, const unsigned char *buf, size_t len, cr_array *out) {
    memset(out, 0, sizeof *out);
    idx_header h;
    if (idx_parse_header(name, buf, len, &h)) return cr_io_status(-1);
    size_t have = len - h.header_len;
    if (have < h.data_bytes)
        return cr_fail(CR_ERR_FORMAT, "%s: truncated: IDX header claims %zu data bytes, only %zu present",
                            name, h.data_bytes, have);
    if (have > h.data_bytes)
        return cr_fail(CR_ERR_FORMAT, "%s: trailing data after the %zu data bytes the IDX header claims",
                            name, h.data_bytes);
    if (idx_check_limit(name, &h)) return cr_io_status(-1);
    if (cr_array_alloc(out, h.dtype, h.ndim, h.shape)) return cr_io_status(-1);
    const unsigned char *p = buf + h.header_len;
    size_t n = h.count;
    switch (h.type) {
    case 0x08:
        memcpy(out->data, p, n);
        break;
    case 0x09: {
        int32_t *d = out->data;
        for (size_t i = 0; i < n; i++) d[i] = (int32_t)(int8_t)p[i];
        break;
    }
    case 0x0B: {
        int32_t *d = out->data;
        for (size_t i = 0; i < n; i++)
            d[i] = (int32_t)(int16_t)(uint16_t)(((unsigned)p[2 * i] << 8) | p[2 * i + 1]);
        break;
    }
    case 0x0C: {
        int32_t *d = out->data;
        for (size_t i = 0; i < n; i++) d[i] = (int32_t)be32(p + 4 * i);
        break;
    }
    case 0x0D: {
        float *d = out->data;
        for (size_t i = 0; i < n; i++) {
            uint32_t u = be32(p + 4 * i);
            memcpy(&d[i], &u, 4);
        }
        break;
    }
    case 0x0E: {
        double *d = out->data;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = ((uint64_t)be32(p + 8 * i) << 32) | be32(p + 8 * i + 4);
            memcpy(&d[i], &u, 8);
        }
        break;
    }
    default: /* unreachable: checked by idx_parse_header */
        cr_array_free(out);
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported IDX element type", name);
    }
    return CR_OK;
}

/* ---------------------------------------------------------------- gzip */

typedef struct {
    gzFile gz;
    unsigned char *buf;
    size_t len, cap;
} gz_reader;

/* Reads until r->len >= target or the stream ends. Grows the buffer only as
   data arrives (doubling, never past target). */
static int gz_fill(const char *name, gz_reader *r, size_t target) {
    while (r->len < target) {
        if (r->len == r->cap) {
            size_t ncap = r->cap ? r->cap * 2 : (size_t)1 << 16;
            if (ncap < r->cap || ncap > target) ncap = target;
            unsigned char *nb = realloc(r->buf, ncap);
            if (!nb) return cr_fail(CR_ERR_NOMEM, "%s: out of memory after %zu bytes", name, r->len);
            r->buf = nb;
            r->cap = ncap;
        }
        size_t want = r->cap - r->len;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        int got = gzread(r->gz, r->buf + r->len, (unsigned)want);
        int zerr = Z_OK;
        const char *zmsg = gzerror(r->gz, &zerr);
        if (got < 0 || (zerr != Z_OK && zerr != Z_STREAM_END))
            return cr_fail(CR_ERR_FORMAT, "%s: corrupt or truncated gzip stream (%s)", name,
                                zmsg && *zmsg ? zmsg : "zlib error");
        if (got == 0) break; /* end of the stream */
        r->len += (size_t)got;
    }
    return 0;
}

static int idx_read_gzip(const char *path, cr_array *out) {
    gz_reader r = {0};
    r.gz = gzopen(path, "rb");
    if (!r.gz) return cr_fail(CR_ERR_IO, "%s: cannot open: %s", path, strerror(errno ? errno : EIO));
    gzbuffer(r.gz, 1u << 17);
    int rc = -1;
    idx_header h;
    if (gz_fill(path, &r, 4)) goto done;
    if (r.len >= 4 && r.buf[3] <= CR_ARRAY_MAX_DIMS && gz_fill(path, &r, 4 + 4 * (size_t)r.buf[3]))
        goto done;
    if (idx_parse_header(path, r.buf, r.len, &h)) goto done;
    if (idx_check_limit(path, &h)) goto done;
    /* one byte more than needed, to detect trailing data */
    if (gz_fill(path, &r, h.header_len + h.data_bytes + 1)) goto done;
    rc = cr_idx_parse(path, r.buf, r.len, out);
done:
    gzclose(r.gz);
    free(r.buf);
    return rc;
}

cr_status cr_idx_read(const char *path, cr_array *out) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return cr_fail(CR_ERR_IO, "%s: is a directory, not an IDX file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char magic[2] = {0, 0};
    size_t got = fread(magic, 1, 2, f);
    fclose(f);
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) return cr_io_status(idx_read_gzip(path, out));
    unsigned char *buf = NULL;
    size_t len = 0;
    if (cr_read_file(path, CR_IDX_MAX_BYTES + 4 + 4 * CR_ARRAY_MAX_DIMS, &buf, &len))
        return cr_io_status(-1);
    int rc = cr_idx_parse(path, buf, len, out);
    free(buf);
    return cr_io_status(rc);
}
