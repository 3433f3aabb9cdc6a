/*
 * Protobuf wire format (https://protobuf.dev/programming-guides/encoding/):
 * a message is a sequence of fields, each a varint tag = (number << 3) | wire
 * type followed by a varint (0), 8 bytes (1), a varint length and that many
 * bytes (2), or 4 bytes (5). Varints are little-endian groups of 7 bits, the
 * high bit set on every byte but the last; at most 10 bytes for 64 bits.
 * See protobuf.h for the bounds this reader enforces.
 */
#include "protobuf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

cr_pb_reader cr_pb_reader_init(const unsigned char *buf, size_t len) {
    cr_pb_reader r;
    r.p = buf;
    r.end = buf ? buf + len : buf;
    r.depth = 0;
    return r;
}

/* Reads a varint from [*p, end); 0 on success. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v,
                      const char **why) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (*p >= end) {
            *why = "truncated varint";
            return -1;
        }
        unsigned char b = *(*p)++;
        if (i == 9 && b > 1) {
            *why = "varint overflows 64 bits";
            return -1;
        }
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    *why = "varint longer than 10 bytes";
    return -1;
}

static uint64_t le_bytes(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int cr_pb_next(cr_pb_reader *r, cr_pb_field *f, const char **why) {
    if (r->p >= r->end) return 0;
    uint64_t tag;
    if (get_varint(&r->p, r->end, &tag, why)) return -1;
    uint64_t num = tag >> 3;
    if (num == 0 || num > 536870911u) {
        *why = "invalid field number";
        return -1;
    }
    f->field = (uint32_t)num;
    f->wire = (int)(tag & 7);
    f->v = 0;
    f->s.p = NULL;
    f->s.len = 0;
    size_t left;
    switch (f->wire) {
    case CR_PB_VARINT: return get_varint(&r->p, r->end, &f->v, why) ? -1 : 1;
    case CR_PB_FIXED64:
    case CR_PB_FIXED32: {
        size_t n = f->wire == CR_PB_FIXED64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            *why = "truncated fixed-size field";
            return -1;
        }
        f->v = le_bytes(r->p, (int)n);
        r->p += n;
        return 1;
    }
    case CR_PB_LEN: {
        uint64_t n;
        if (get_varint(&r->p, r->end, &n, why)) return -1;
        left = (size_t)(r->end - r->p);
        if (n > left) {
            *why = "length-delimited field longer than the bytes left";
            return -1;
        }
        f->s.p = r->p;
        f->s.len = (size_t)n;
        r->p += n;
        return 1;
    }
    case 3:
    case 4: *why = "groups (wire types 3 and 4) are not supported"; return -1;
    default: *why = "invalid wire type"; return -1;
    }
}

int cr_pb_open(const cr_pb_reader *parent, const cr_pb_field *f, cr_pb_reader *child,
               const char **why) {
    if (f->wire != CR_PB_LEN) {
        *why = "expected a message (length-delimited field)";
        return -1;
    }
    if (parent->depth + 1 > CR_PB_MAX_DEPTH) {
        *why = "messages nested too deeply";
        return -1;
    }
    child->p = f->s.p;
    child->end = f->s.p + f->s.len;
    child->depth = parent->depth + 1;
    return 0;
}

long cr_pb_scalars(const cr_pb_field *f, int elem_wire, uint64_t *out, size_t room,
                   const char **why) {
    if (f->wire == elem_wire) { /* one unpacked value */
        if (out) {
            if (room < 1) {
                *why = "more values than counted";
                return -1;
            }
            out[0] = f->v;
        }
        return 1;
    }
    if (f->wire != CR_PB_LEN) {
        *why = "repeated field has the wrong wire type";
        return -1;
    }
    const unsigned char *p = f->s.p, *end = f->s.p + f->s.len;
    size_t n = 0;
    if (elem_wire == CR_PB_FIXED32 || elem_wire == CR_PB_FIXED64) {
        size_t es = elem_wire == CR_PB_FIXED32 ? 4 : 8;
        if (f->s.len % es) {
            *why = "packed fixed-size field length is not a multiple of the element size";
            return -1;
        }
        n = f->s.len / es;
        if (out) {
            if (n > room) {
                *why = "more values than counted";
                return -1;
            }
            for (size_t i = 0; i < n; i++) out[i] = le_bytes(p + i * es, (int)es);
        }
    } else {
        while (p < end) {
            uint64_t v;
            if (get_varint(&p, end, &v, why)) return -1;
            if (out) {
                if (n >= room) {
                    *why = "more values than counted";
                    return -1;
                }
                out[n] = v;
            }
            n++;
        }
    }
    if (n > (size_t)LONG_MAX) {
        *why = "too many values";
        return -1;
    }
    return (long)n;
}

/* ---------------------------------------------------------------- writing */

static void reserve(cr_pb_writer *w, size_t more) {
    if (w->oom) return;
    if (more > SIZE_MAX - w->len) {
        w->oom = 1;
        return;
    }
    if (w->len + more <= w->cap) return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + more) {
        if (cap > SIZE_MAX / 2) {
            w->oom = 1;
            return;
        }
        cap *= 2;
    }
    unsigned char *p = realloc(w->p, cap);
    if (!p) {
        w->oom = 1;
        return;
    }
    w->p = p;
    w->cap = cap;
}

static void raw_varint(cr_pb_writer *w, uint64_t v) {
    reserve(w, 10);
    if (w->oom) return;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        w->p[w->len++] = b | (v ? 0x80 : 0);
    } while (v);
}

static void raw_bytes(cr_pb_writer *w, const void *data, size_t len) {
    reserve(w, len);
    if (w->oom || !len) return;
    memcpy(w->p + w->len, data, len);
    w->len += len;
}

void cr_pb_put_varint(cr_pb_writer *w, uint32_t field, uint64_t v) {
    raw_varint(w, (uint64_t)field << 3 | CR_PB_VARINT);
    raw_varint(w, v);
}

void cr_pb_put_fixed32(cr_pb_writer *w, uint32_t field, uint32_t bits) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(bits >> (8 * i));
    raw_varint(w, (uint64_t)field << 3 | CR_PB_FIXED32);
    raw_bytes(w, b, 4);
}

void cr_pb_put_bytes(cr_pb_writer *w, uint32_t field, const void *data, size_t len) {
    raw_varint(w, (uint64_t)field << 3 | CR_PB_LEN);
    raw_varint(w, len);
    raw_bytes(w, data, len);
}

void cr_pb_put_string(cr_pb_writer *w, uint32_t field, const char *s) {
    cr_pb_put_bytes(w, field, s, strlen(s));
}

void cr_pb_put_message(cr_pb_writer *w, uint32_t field, const cr_pb_writer *sub) {
    if (sub->oom) {
        w->oom = 1;
        return;
    }
    cr_pb_put_bytes(w, field, sub->p, sub->len);
}

void cr_pb_writer_free(cr_pb_writer *w) {
    free(w->p);
    memset(w, 0, sizeof *w);
}
