/*
 * A small, bounded protobuf wire-format reader and writer (private to the io
 * layer; used by the ONNX reader and writer, src/io/onnx_*.c).
 *
 * Reading never copies: a field's payload is a slice of the caller's buffer.
 * Every length is checked against the bytes left in the enclosing message
 * before it is used; varints longer than 10 bytes, field number 0, the
 * deprecated group wire types (3, 4) and unknown wire types are errors; a
 * sub-message opened with cr_pb_open is one level deeper, and depth is
 * limited to CR_PB_MAX_DEPTH. Errors are static strings (no allocation).
 *
 * Writing appends to a growable buffer; a failed allocation sets `oom` and
 * makes every later call a no-op, so callers check once at the end.
 */
#ifndef CR_IO_PROTOBUF_H
#define CR_IO_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

#define CR_PB_MAX_DEPTH 16

enum { CR_PB_VARINT = 0, CR_PB_FIXED64 = 1, CR_PB_LEN = 2, CR_PB_FIXED32 = 5 };

typedef struct {
    const unsigned char *p;
    size_t len;
} cr_pb_slice;

/* A message being read: the bytes [p, end) and its nesting depth (0 = top). */
typedef struct {
    const unsigned char *p, *end;
    int depth;
} cr_pb_reader;

/* One field: its number, wire type and value (v for varint / fixed32 / fixed64,
   s for length-delimited). */
typedef struct {
    uint32_t field;
    int wire;
    uint64_t v;
    cr_pb_slice s;
} cr_pb_field;

cr_pb_reader cr_pb_reader_init(const unsigned char *buf, size_t len);
/* Reads the next field: 1 read, 0 at the end of the message, -1 malformed
   (*why says what, e.g. "truncated varint"). */
int cr_pb_next(cr_pb_reader *r, cr_pb_field *f, const char **why);
/* A reader over a length-delimited field's payload, one level deeper than
   parent; -1 (and *why) if the field is not length-delimited or too deep. */
int cr_pb_open(const cr_pb_reader *parent, const cr_pb_field *f, cr_pb_reader *child,
               const char **why);

/*
 * Repeated scalars, packed (one CR_PB_LEN field) or not (one field per value).
 * cr_pb_scalars counts (out == NULL) or stores (out != NULL, room for *count
 * on entry) the values of one field occurrence f whose element wire type is
 * elem_wire (CR_PB_VARINT, CR_PB_FIXED32 or CR_PB_FIXED64). Values are stored
 * raw: varints as uint64, fixed32 as its 32 bits, fixed64 as its 64 bits.
 * Returns the number of values, or -1 (and *why) if malformed.
 */
long cr_pb_scalars(const cr_pb_field *f, int elem_wire, uint64_t *out, size_t room,
                   const char **why);

static inline float cr_pb_f32(uint64_t bits) {
    union { uint32_t u; float f; } c;
    c.u = (uint32_t)bits;
    return c.f;
}
static inline double cr_pb_f64(uint64_t bits) {
    union { uint64_t u; double d; } c;
    c.u = bits;
    return c.d;
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    unsigned char *p; /* owned; free with cr_pb_writer_free */
    size_t len, cap;
    int oom;
} cr_pb_writer;

void cr_pb_put_varint(cr_pb_writer *w, uint32_t field, uint64_t v);
void cr_pb_put_fixed32(cr_pb_writer *w, uint32_t field, uint32_t bits);
void cr_pb_put_bytes(cr_pb_writer *w, uint32_t field, const void *data, size_t len);
void cr_pb_put_string(cr_pb_writer *w, uint32_t field, const char *s);
/* Appends sub's bytes as a length-delimited field (sub is left as it was). */
void cr_pb_put_message(cr_pb_writer *w, uint32_t field, const cr_pb_writer *sub);
void cr_pb_writer_free(cr_pb_writer *w);

#endif
