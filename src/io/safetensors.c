/*
 * safetensors: an 8-byte little-endian header length N, N bytes of UTF-8 JSON,
 * then the data section. Every tensor entry is checked (dtype, shape, offsets,
 * size) and the tensors must tile the data section exactly: no overlap, no hole.
 * Nothing is allocated for tensor data before the whole header has been checked
 * against the real size of the data section.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

/* The reference implementation refuses headers over 100 MB; so do we. */
#define ST_MAX_HEADER 100000000u
/* Largest integer a JSON number (a double in cJSON) holds exactly. */
#define ST_MAX_INT 9007199254740992.0

static const struct {
    const char *name;
    cr_array_dtype dtype;
} st_dtypes[] = {
    {"F32", CR_ARRAY_F32}, {"F64", CR_ARRAY_F64}, {"U8", CR_ARRAY_U8},
    {"I32", CR_ARRAY_I32}, {"I64", CR_ARRAY_I64},
};
#define ST_N_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static const char *st_dtype_name(cr_array_dtype dtype) {
    for (size_t i = 0; i < ST_N_DTYPES; i++)
        if (st_dtypes[i].dtype == dtype) return st_dtypes[i].name;
    return NULL;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) k = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else
            return 0;
        if (n - i <= k) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf) return 0;
        i += k + 1;
    }
    return 1;
}

/* ------------------------------------------------------------ containers */

/* Capacity of the tensors/meta arrays holding n entries: the next power of two. */
static size_t st_capacity(size_t n) {
    size_t c = 1;
    if (n == 0) return 0;
    while (c < n) c <<= 1;
    return c;
}

/* Makes room for one more entry after n; 0 on success. */
static int st_grow(void **arr, size_t n, size_t elem) {
    if (n < st_capacity(n)) return 0;
    size_t cap = n ? 2 * n : 1, bytes;
    if (cr_mul_size(cap, elem, &bytes) != CR_OK) return -1;
    void *p = realloc(*arr, bytes);
    if (!p) return -1;
    *arr = p;
    return 0;
}

static char *st_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void cr_safetensors_free(cr_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++) {
        free(st->tensors[i].name);
        cr_array_free(&st->tensors[i].array);
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->tensors);
    free(st->meta);
    memset(st, 0, sizeof *st);
}

const cr_tensor *cr_safetensors_find(const cr_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *cr_safetensors_meta(const cr_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

cr_status cr_safetensors_add(cr_safetensors *st, const char *name, const cr_array *array) {
    size_t bytes;
    if (!st || !name || !array) return cr_fail(CR_ERR_ARG, "safetensors: invalid argument");
    if (strcmp(name, "__metadata__") == 0)
        return cr_fail(CR_ERR_FORMAT, "safetensors: '__metadata__' cannot name a tensor");
    if (!utf8_valid((const unsigned char *)name, strlen(name)))
        return cr_fail(CR_ERR_FORMAT, "safetensors: tensor name is not valid UTF-8");
    if (!cr_io_array_bytes(array, &bytes) || (bytes && !array->data))
        return cr_fail(CR_ERR_ARG, "safetensors: tensor '%.*s': invalid array", CR_IO_NAME_MAX, name);
    if (cr_safetensors_find(st, name))
        return cr_fail(CR_ERR_FORMAT, "safetensors: duplicate tensor name '%.*s'", CR_IO_NAME_MAX, name);
    if (st_grow((void **)&st->tensors, st->n_tensors, sizeof *st->tensors))
        return cr_fail(CR_ERR_NOMEM, "safetensors: out of memory");
    cr_tensor *t = &st->tensors[st->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = st_strdup(name);
    t->array = *array;
    t->array.data = malloc(bytes ? bytes : 1);
    if (!t->name || !t->array.data) {
        free(t->name);
        free(t->array.data);
        memset(t, 0, sizeof *t);
        return cr_fail(CR_ERR_NOMEM, "safetensors: out of memory");
    }
    if (bytes) memcpy(t->array.data, array->data, bytes);
    st->n_tensors++;
    return CR_OK;
}

cr_status cr_safetensors_set_meta(cr_safetensors *st, const char *key, const char *value) {
    if (!st || !key || !value) return cr_fail(CR_ERR_ARG, "safetensors: invalid argument");
    if (!utf8_valid((const unsigned char *)key, strlen(key)) ||
        !utf8_valid((const unsigned char *)value, strlen(value)))
        return cr_fail(CR_ERR_FORMAT, "safetensors: metadata is not valid UTF-8");
    char *v = st_strdup(value);
    if (!v) return cr_fail(CR_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) {
            free(st->meta[i].value);
            st->meta[i].value = v;
            return CR_OK;
        }
    char *k = st_strdup(key);
    if (!k || st_grow((void **)&st->meta, st->n_meta, sizeof *st->meta)) {
        free(k);
        free(v);
        return cr_fail(CR_ERR_NOMEM, "safetensors: out of memory");
    }
    st->meta[st->n_meta].key = k;
    st->meta[st->n_meta].value = v;
    st->n_meta++;
    return CR_OK;
}

/* ------------------------------------------------------------ reading */

typedef struct {
    const char *name; /* borrowed from the cJSON tree */
    cr_array_dtype dtype;
    int ndim;
    size_t shape[CR_ARRAY_MAX_DIMS];
    size_t count;
    uint64_t begin, end;
} st_entry;

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int cmp_entry_offsets(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A JSON number that is a non-negative integer held exactly; 1 on success. */
static int json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double d = item->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_INT) return 0;
    uint64_t v = (uint64_t)d;
    if ((double)v != d) return 0;
    *out = v;
    return 1;
}

#define TN CR_IO_NAME_MAX, e->name

static int parse_entry(const char *name, const cJSON *item, st_entry *e) {
    if (!cJSON_IsObject(item))
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': entry is not a JSON object", name, TN);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt))
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': missing or non-string \"dtype\"", name, TN);
    size_t i;
    for (i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(dt->valuestring, st_dtypes[i].name) == 0) break;
    if (i == ST_N_DTYPES)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': unsupported dtype '%.*s' (expected F32, F64, "
                                 "U8, I32 or I64)", name, TN, 16, dt->valuestring);
    e->dtype = st_dtypes[i].dtype;

    if (!cJSON_IsArray(shape))
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': missing or non-array \"shape\"", name, TN);
    int nd = cJSON_GetArraySize(shape);
    if (nd > CR_ARRAY_MAX_DIMS)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': %d dimensions (at most %d supported)", name,
                            TN, nd, CR_ARRAY_MAX_DIMS);
    e->ndim = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_uint(dim, &v) || v > SIZE_MAX)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': shape entries must be non-negative "
                                     "integers", name, TN);
        e->shape[e->ndim++] = (size_t)v;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &e->end))
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': \"data_offsets\" must be two non-negative "
                                 "integers [begin, end]", name, TN);
    if (e->begin > e->end)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': data_offsets [%ju, %ju] end before they "
                                 "begin", name, TN, (uintmax_t)e->begin, (uintmax_t)e->end);

    char shp[160];
    size_t count = 1, bytes;
    int ok = 1;
    for (int d = 0; d < e->ndim && ok; d++) ok = cr_mul_size(count, e->shape[d], &count) == CR_OK;
    if (!ok || cr_mul_size(count, cr_array_dtype_size(e->dtype), &bytes) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': shape %s overflows the address space", name,
                            TN, cr_io_shape_str(e->shape, e->ndim, shp, sizeof shp));
    if ((uint64_t)bytes != e->end - e->begin)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': shape %s %s needs %zu bytes but "
                                 "data_offsets [%ju, %ju] span %ju", name, TN,
                            cr_io_shape_str(e->shape, e->ndim, shp, sizeof shp),
                            st_dtypes[i].name, bytes, (uintmax_t)e->begin, (uintmax_t)e->end,
                            (uintmax_t)(e->end - e->begin));
    e->count = count;
    return 0;
}

static int parse_metadata(const char *name, const cJSON *md, cr_safetensors *out) {
    if (!cJSON_IsObject(md))
        return cr_fail(CR_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", name);
    size_t n = (size_t)cJSON_GetArraySize(md);
    if (n == 0) return 0;
    out->meta = calloc(st_capacity(n), sizeof *out->meta);
    const char **keys = malloc(n * sizeof *keys);
    if (!out->meta || !keys) {
        free(keys);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
    }
    const cJSON *kv;
    size_t i = 0;
    cJSON_ArrayForEach(kv, md) {
        if (!cJSON_IsString(kv)) {
            free(keys);
            return cr_fail(CR_ERR_FORMAT, "%s: \"__metadata__\" value of '%.*s' is not a string", name,
                                CR_IO_NAME_MAX, kv->string);
        }
        keys[i++] = kv->string;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            int rc = cr_fail(CR_ERR_FORMAT, "%s: duplicate \"__metadata__\" key '%.*s'", name,
                                  CR_IO_NAME_MAX, keys[i]);
            free(keys);
            return rc;
        }
    free(keys);
    cJSON_ArrayForEach(kv, md) {
        cr_meta_entry *m = &out->meta[out->n_meta];
        m->key = st_strdup(kv->string);
        m->value = st_strdup(kv->valuestring);
        out->n_meta++;
        if (!m->key || !m->value) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
    }
    return 0;
}

static int parse_tree(const char *name, const cJSON *root, const unsigned char *data,
                      size_t dsize, cr_safetensors *out) {
    const cJSON *item, *md = NULL;
    size_t n = 0;
    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (md) return cr_fail(CR_ERR_FORMAT, "%s: duplicate key \"__metadata__\"", name);
            md = item;
        } else {
            n++;
        }
    }
    if (md && parse_metadata(name, md, out)) return -1;
    if (n == 0) {
        if (dsize != 0)
            return cr_fail(CR_ERR_FORMAT, "%s: data section has %zu bytes but no tensors", name, dsize);
        return 0;
    }

    int rc = -1;
    st_entry *ents = calloc(n, sizeof *ents);
    st_entry **idx = malloc(n * sizeof *idx);
    if (!ents || !idx) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    size_t k = 0;
    cJSON_ArrayForEach(item, root) {
        if (item == md) continue;
        st_entry *e = &ents[k];
        e->name = item->string;
        if (parse_entry(name, item, e)) goto done;
        if (e->end > dsize) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s' data_offsets [%ju, %ju] exceed data size %zu",
                         name, TN, (uintmax_t)e->begin, (uintmax_t)e->end, dsize);
            goto done;
        }
        idx[k] = e;
        k++;
    }
    qsort(idx, n, sizeof *idx, cmp_entry_name);
    for (k = 1; k < n; k++)
        if (strcmp(idx[k - 1]->name, idx[k]->name) == 0) {
            cr_fail(CR_ERR_FORMAT, "%s: duplicate tensor name '%.*s'", name, CR_IO_NAME_MAX,
                         idx[k]->name);
            goto done;
        }
    /* The tensors must tile [0, dsize) exactly. */
    qsort(idx, n, sizeof *idx, cmp_entry_offsets);
    uint64_t pos = 0;
    for (k = 0; k < n; k++) {
        const st_entry *e = idx[k];
        if (e->begin < pos) {
            const st_entry *p = idx[k - 1];
            cr_fail(CR_ERR_FORMAT, "%s: tensors '%.*s' [%ju, %ju] and '%.*s' [%ju, %ju] overlap", name,
                         CR_IO_NAME_MAX, p->name, (uintmax_t)p->begin, (uintmax_t)p->end, TN,
                         (uintmax_t)e->begin, (uintmax_t)e->end);
            goto done;
        }
        if (e->begin > pos) {
            cr_fail(CR_ERR_FORMAT, "%s: hole in the data section: bytes [%ju, %ju) before tensor '%.*s' "
                              "belong to no tensor", name, (uintmax_t)pos, (uintmax_t)e->begin, TN);
            goto done;
        }
        pos = e->end;
    }
    if (pos != dsize) {
        cr_fail(CR_ERR_FORMAT, "%s: hole in the data section: bytes [%ju, %zu) after the last tensor "
                          "belong to no tensor", name, (uintmax_t)pos, dsize);
        goto done;
    }

    /* Checked: the tensors together hold exactly dsize bytes. Copy them out. */
    out->tensors = calloc(st_capacity(n), sizeof *out->tensors);
    if (!out->tensors) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    for (k = 0; k < n; k++) {
        const st_entry *e = &ents[k];
        cr_tensor *t = &out->tensors[k];
        size_t bytes = (size_t)(e->end - e->begin);
        t->name = st_strdup(e->name);
        t->array.data = malloc(bytes ? bytes : 1);
        out->n_tensors++;
        if (!t->name || !t->array.data) {
            cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
            goto done;
        }
        t->array.dtype = e->dtype;
        t->array.ndim = e->ndim;
        memcpy(t->array.shape, e->shape, sizeof e->shape);
        t->array.count = e->count;
        if (bytes) memcpy(t->array.data, data + e->begin, bytes);
        if (!cr_io_host_is_le())
            cr_io_swap_bytes(t->array.data, e->count, cr_array_dtype_size(e->dtype));
    }
    rc = 0;
done:
    free(idx);
    free(ents);
    return rc;
}

#undef TN

cr_status cr_safetensors_parse(const char *name, const unsigned char *buf, size_t len,
                         cr_safetensors *out) {
    if (!name) name = "(safetensors)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if (len < 8)
        return cr_fail(CR_ERR_FORMAT, "%s: file too short for a safetensors header (%zu bytes, need "
                                 "at least 8)", name, len);
    uint64_t n = cr_io_le64(buf);
    if (n > (uint64_t)(len - 8))
        return cr_fail(CR_ERR_FORMAT, "%s: header length %ju exceeds file size %zu", name,
                            (uintmax_t)n, len);
    if (n > ST_MAX_HEADER)
        return cr_fail(CR_ERR_FORMAT, "%s: header length %ju exceeds the limit of %u bytes", name,
                            (uintmax_t)n, ST_MAX_HEADER);
    const char *hdr = (const char *)buf + 8;
    size_t hlen = (size_t)n;
    if (!utf8_valid((const unsigned char *)hdr, hlen))
        return cr_fail(CR_ERR_FORMAT, "%s: header is not valid UTF-8", name);
    for (size_t i = 0; i < hlen; i++)
        if (hdr[i] == '\0') return cr_fail(CR_ERR_FORMAT, "%s: header is not valid JSON (NUL byte at "
                                                     "%zu)", name, i);
    const char *end = NULL;
    cJSON *root = hlen ? cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0) : NULL;
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        return cr_fail(CR_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %zu)", name,
                            at, hlen);
    }
    int rc = -1;
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cr_fail(CR_ERR_FORMAT, "%s: header is not valid JSON (unexpected text at byte %td)", name,
                         p - hdr);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        cr_fail(CR_ERR_FORMAT, "%s: header is not a JSON object", name);
        goto done;
    }
    rc = parse_tree(name, root, buf + 8 + hlen, len - 8 - hlen, out);
done:
    cJSON_Delete(root);
    if (rc) cr_safetensors_free(out);
    return cr_io_status(rc);
}

cr_status cr_safetensors_read(const char *path, cr_safetensors *out) {
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (cr_read_file(path, SIZE_MAX, &buf, &len)) return cr_io_status(-1);
    int rc = cr_safetensors_parse(path, buf, len, out);
    free(buf);
    return cr_io_status(rc);
}

/* ------------------------------------------------------------ writing */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_str(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            const char *shortesc = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                                 : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (shortesc) {
                sb_put(b, shortesc, 2);
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_put(b, esc, 6);
            }
        } else {
            sb_put(b, p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

cr_status cr_io_safetensors_write_views(const char *path, size_t n_tensors, const char *const *names,
                                  const cr_array *const *arrays, size_t n_meta,
                                  const char *const *keys, const char *const *values) {
    if (!path) return cr_fail(CR_ERR_ARG, "(null): invalid output path");
    if ((n_tensors && (!names || !arrays)) || (n_meta && (!keys || !values)))
        return cr_fail(CR_ERR_ARG, "%s: invalid argument", path);
    int rc = -1;
    strbuf hb = {0};
    const char **sorted = NULL;
    size_t n_sorted = n_tensors > n_meta ? n_tensors : n_meta;
    if (n_sorted && !(sorted = malloc(n_sorted * sizeof *sorted)))
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);

    /* Validate everything before touching the file system. */
    for (size_t i = 0; i < n_meta; i++) {
        if (!keys[i] || !values[i]) {
            cr_fail(CR_ERR_FORMAT, "%s: metadata entry %zu is NULL", path, i);
            goto done;
        }
        if (!utf8_valid((const unsigned char *)keys[i], strlen(keys[i])) ||
            !utf8_valid((const unsigned char *)values[i], strlen(values[i]))) {
            cr_fail(CR_ERR_FORMAT, "%s: metadata '%.*s' is not valid UTF-8", path, CR_IO_NAME_MAX,
                         keys[i]);
            goto done;
        }
        sorted[i] = keys[i];
    }
    if (n_meta) qsort(sorted, n_meta, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n_meta; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            cr_fail(CR_ERR_FORMAT, "%s: duplicate metadata key '%.*s'", path, CR_IO_NAME_MAX, sorted[i]);
            goto done;
        }
    for (size_t i = 0; i < n_tensors; i++) {
        size_t bytes;
        if (!names[i] || !arrays[i]) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor %zu is NULL", path, i);
            goto done;
        }
        if (strcmp(names[i], "__metadata__") == 0 ||
            !utf8_valid((const unsigned char *)names[i], strlen(names[i]))) {
            cr_fail(CR_ERR_FORMAT, "%s: invalid tensor name '%.*s'", path, CR_IO_NAME_MAX, names[i]);
            goto done;
        }
        if (!st_dtype_name(arrays[i]->dtype) || !cr_io_array_bytes(arrays[i], &bytes) ||
            (bytes && !arrays[i]->data)) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': invalid array (dtype, shape or data)", path,
                         CR_IO_NAME_MAX, names[i]);
            goto done;
        }
        sorted[i] = names[i];
    }
    if (n_tensors) qsort(sorted, n_tensors, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n_tensors; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            cr_fail(CR_ERR_FORMAT, "%s: duplicate tensor name '%.*s'", path, CR_IO_NAME_MAX, sorted[i]);
            goto done;
        }

    /* Header: "__metadata__" first, then the tensors in the given order. */
    sb_puts(&hb, "{");
    if (n_meta) {
        sb_puts(&hb, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_puts(&hb, ",");
            sb_json_str(&hb, keys[i]);
            sb_puts(&hb, ":");
            sb_json_str(&hb, values[i]);
        }
        sb_puts(&hb, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n_tensors; i++) {
        const cr_array *a = arrays[i];
        size_t bytes;
        char num[64];
        cr_io_array_bytes(a, &bytes);
        if (n_meta || i) sb_puts(&hb, ",");
        sb_json_str(&hb, names[i]);
        sb_puts(&hb, ":{\"dtype\":\"");
        sb_puts(&hb, st_dtype_name(a->dtype));
        sb_puts(&hb, "\",\"shape\":[");
        for (int d = 0; d < a->ndim; d++) {
            snprintf(num, sizeof num, "%s%zu", d ? "," : "", a->shape[d]);
            sb_puts(&hb, num);
        }
        if ((uint64_t)bytes > UINT64_MAX - off) {
            cr_fail(CR_ERR_FORMAT, "%s: total tensor size overflows", path);
            goto done;
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%ju,%ju]}", (uintmax_t)off,
                 (uintmax_t)(off + bytes));
        sb_puts(&hb, num);
        off += bytes;
    }
    sb_puts(&hb, "}");
    while (!hb.oom && hb.len % 8 != 0) sb_puts(&hb, " "); /* data starts 8-byte aligned */
    if (hb.oom) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory building the header", path);
        goto done;
    }

    cr_atomic_file af;
    if (cr_atomic_open(&af, path)) goto done;
    unsigned char lenbuf[8];
    cr_io_put_le64(lenbuf, (uint64_t)hb.len);
    int ok = fwrite(lenbuf, 1, 8, af.fp) == 8 && fwrite(hb.p, 1, hb.len, af.fp) == hb.len;
    for (size_t i = 0; ok && i < n_tensors; i++)
        ok = cr_io_write_le(af.fp, arrays[i]->data, arrays[i]->count,
                            cr_array_dtype_size(arrays[i]->dtype)) == 0;
    if (!ok) {
        cr_fail(CR_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        cr_atomic_abort(&af);
        goto done;
    }
    rc = cr_atomic_commit(&af);
done:
    free(sorted);
    free(hb.p);
    return cr_io_status(rc);
}

cr_status cr_safetensors_write(const char *path, const cr_safetensors *st) {
    if (!st) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    const char **names = NULL, **keys = NULL, **values = NULL;
    const cr_array **arrays = NULL;
    int rc = -1;
    if (st->n_tensors) {
        names = malloc(st->n_tensors * sizeof *names);
        arrays = malloc(st->n_tensors * sizeof *arrays);
    }
    if (st->n_meta) {
        keys = malloc(st->n_meta * sizeof *keys);
        values = malloc(st->n_meta * sizeof *values);
    }
    if ((st->n_tensors && (!names || !arrays)) || (st->n_meta && (!keys || !values))) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", path ? path : "(null)");
        goto done;
    }
    for (size_t i = 0; i < st->n_tensors; i++) {
        names[i] = st->tensors[i].name;
        arrays[i] = &st->tensors[i].array;
    }
    for (size_t i = 0; i < st->n_meta; i++) {
        keys[i] = st->meta[i].key;
        values[i] = st->meta[i].value;
    }
    rc = cr_io_safetensors_write_views(path, st->n_tensors, names, arrays, st->n_meta, keys,
                                       values);
done:
    free(names);
    free(arrays);
    free(keys);
    free(values);
    return cr_io_status(rc);
}
