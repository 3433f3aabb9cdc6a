/*
 * ONNX models in and out (https://onnx.ai, onnx/onnx.proto).
 *
 * Reading: the ModelProto is decoded by the bounded protobuf reader
 * (protobuf.c) into the few messages an MLP needs (graph, nodes, attributes,
 * initializers, value infos), then the graph is walked as one chain from its
 * single input to its single output:
 *
 *   [Sub|Add|Mul|Div by constants, Flatten, Reshape to [N, D]]   -> input.mean/std
 *   (Gemm | MatMul [+ Add])  (Relu|Sigmoid|Tanh)                  -> hidden layers
 *   ... (Gemm | MatMul [+ Add])  [Relu|Sigmoid|Tanh]  [Softmax | LogSoftmax]
 *                                     -> θ, the output activation, the head
 *
 * The network's output is what the graph outputs: an activation after the
 * last linear layer is the output activation (o = a_out(θ)); a final Softmax
 * or LogSoftmax is the softmax + cross-entropy head on o; a graph that ends
 * in o gets the softmax head too (PyTorch classifiers export their logits),
 * unless its metadata_props say "chainrule.head" = "squared-error" (what
 * chainrule writes for a regressor) or the user says so (--head).
 *
 * with Identity, Dropout (inference: identity) and Constant anywhere. Field
 * numbers (checked against python3-onnx's descriptors):
 *   ModelProto      ir_version 1, producer_name 2, graph 7, opset_import 8
 *   OperatorSetId   domain 1, version 2
 *   GraphProto      node 1, name 2, initializer 5, input 11, output 12
 *   NodeProto       input 1, output 2, name 3, op_type 4, attribute 5, domain 7
 *   AttributeProto  name 1, f 2, i 3, t 5, floats 7, ints 8, type 20
 *   TensorProto     dims 1, data_type 2, segment 3, float_data 4, int32_data 5,
 *                   int64_data 7, name 8, raw_data 9, double_data 10,
 *                   external_data 13, data_location 14 (EXTERNAL 1)
 *   StringStringEntryProto key 1, value 2 (external_data: location, offset, length)
 *   ValueInfoProto  name 1, type 2;  TypeProto tensor_type 1;
 *   TypeProto.Tensor elem_type 1, shape 2;  TensorShapeProto dim 1;
 *   Dimension       dim_value 1, dim_param 2
 *   TensorProto.DataType FLOAT 1, INT32 6, INT64 7, FLOAT16 10, DOUBLE 11,
 *                   BFLOAT16 16 (16-bit types: raw_data, or one pattern per int32_data)
 *
 * Writing: Gemm (transB = 1, the [out, in] weights as they are) per layer,
 * Relu/Sigmoid/Tanh between, Sub/Div first when the model standardises its
 * input, output "logits" [N, K], opset 13, weights in raw_data. A net with an
 * output activation or the squared-error head ends in that activation (the
 * last Gemm's "theta", then "output") or the last Gemm ("output"), and
 * metadata_props "chainrule.head" names its head.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "io_internal.h"
#include "protobuf.h"

#define OX_MAX_NODES 4096
#define OX_MAX_TENSORS 4096
#define OX_MAX_VALUES 256 /* graph inputs, outputs */
#define OX_MAX_IO 16      /* inputs or outputs of one node */
#define OX_MAX_ATTRS 64
#define OX_MAX_NAME 4096
#define OX_MAX_DIMS 8
#define OX_MIN_OPSET 7
#define OX_MAX_OPSET 22

enum {
    OX_FLOAT = 1, OX_INT32 = 6, OX_INT64 = 7, OX_FLOAT16 = 10, OX_DOUBLE = 11, OX_BFLOAT16 = 16
};

typedef struct {
    char *name;
    int dtype; /* OX_FLOAT (float data), OX_DOUBLE (double), OX_INT32/OX_INT64 (int64_t) */
    int file_dtype; /* as in the file: also OX_FLOAT16, OX_BFLOAT16 (stored as float) */
    int ndim;
    int64_t dims[OX_MAX_DIMS];
    size_t count;
    void *data; /* owned */
} ox_tensor;

typedef struct {
    char *name;
    int type;
    int has_f, has_i;
    float f;
    int64_t i;
    size_t n_ints, n_floats;
    int64_t *ints;
    float *floats;
    ox_tensor *t; /* owned, or NULL */
} ox_attr;

typedef struct {
    char *name, *op, *domain;
    size_t n_in, n_out, n_attr;
    char *in[OX_MAX_IO], *out[OX_MAX_IO];
    ox_attr *attr; /* n_attr */
} ox_node;

typedef struct {
    char *name;
    int elem_type; /* 0 when not given */
    int ndim;      /* -1 when the shape is not given */
    int64_t dims[OX_MAX_DIMS]; /* -1 for a symbolic or unknown dimension */
} ox_value;

typedef struct {
    int64_t opset;
    int head; /* metadata_props "chainrule.head" (a cr_head), or -1 */
    size_t n_nodes, n_inits, n_inputs, n_outputs;
    ox_node *nodes;
    ox_tensor *inits;
    ox_value *inputs, *outputs;
} ox_model;

/* A parse context: the file name for messages and where the error goes. */
typedef struct {
    const char *file;
    const char *dir; /* the model file's folder ("" for the current one), NULL for a buffer */
    cr_error *err;
} ox_ctx;

/* An untrusted name fit for a one-line message: control bytes become '?',
   long names are cut. */
typedef struct {
    char s[84];
} ox_pname;
static ox_pname pn(const char *name) {
    ox_pname p;
    size_t n = 0;
    if (!name) name = "";
    for (; name[n] && n < 80; n++) {
        unsigned char c = (unsigned char)name[n];
        p.s[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (name[n]) memcpy(p.s + 77, "...", 3), n = 80;
    p.s[n] = '\0';
    return p;
}

static const char *dtype_name(int t) {
    return t == OX_DOUBLE ? "double" : t == OX_FLOAT16 ? "float16"
                                     : t == OX_BFLOAT16 ? "bfloat16" : "float";
}

static int bad(ox_ctx *c, const char *where, const char *why) {
    return cr_error_set(c->err, "%s: not a valid ONNX file: %s: %s", c->file, where, why);
}

/* ------------------------------------------------------------ decoding */

static int get_string(ox_ctx *c, const cr_pb_field *f, const char *where, char **out) {
    if (f->wire != CR_PB_LEN) return bad(c, where, "expected a string");
    if (f->s.len > OX_MAX_NAME) return bad(c, where, "string longer than 4096 bytes");
    if (memchr(f->s.p, 0, f->s.len)) return bad(c, where, "string contains a NUL byte");
    char *s = malloc(f->s.len + 1);
    if (!s) return cr_error_set(c->err, "%s: out of memory", c->file);
    memcpy(s, f->s.p, f->s.len);
    s[f->s.len] = '\0';
    free(*out); /* protobuf: the last occurrence wins */
    *out = s;
    return 0;
}

static void tensor_free(ox_tensor *t) {
    if (!t) return;
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

/* IEEE half (1 sign, 5 exponent, 10 mantissa bits) -> float, exactly: every half
   is a float (subnormals m 2^-24, normals (1024 + m) 2^(e - 25)); inf and NaN stay
   (build_model refuses them in weights). bfloat16 is a float's upper 16 bits. */
static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 0x400), e - 25);
    return h & 0x8000 ? -v : v;
}
static float bfloat16_to_float(uint16_t h) { return cr_pb_f32((uint64_t)h << 16); }

/* Decimal digits only, no sign, at most UINT64_MAX. */
static int parse_u64(const char *s, uint64_t *v) {
    uint64_t x = 0;
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return 0;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 1;
}

/* TensorProto.external_data: location, offset, length (checksum and other keys
   are ignored). */
typedef struct {
    char *location;
    int has_offset, has_length;
    uint64_t offset, length;
} ox_external;

static int decode_external_entry(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *ef,
                                 ox_external *x, const char *tensor) {
    const char *why, *W = "StringStringEntryProto";
    cr_pb_reader r;
    cr_pb_field f;
    char *key = NULL, *value = NULL;
    int rc, e = -1;
    if (cr_pb_open(parent, ef, &r, &why)) return bad(c, W, why);
    while ((rc = cr_pb_next(&r, &f, &why)) == 1)
        if ((f.field == 1 && get_string(c, &f, W, &key)) ||
            (f.field == 2 && get_string(c, &f, W, &value)))
            goto done;
    if (rc < 0) {
        bad(c, W, why);
        goto done;
    }
    if (!key || !value) {
        bad(c, W, "an external_data entry without a key or a value");
        goto done;
    }
    if (!strcmp(key, "location")) {
        free(x->location);
        x->location = value;
        value = NULL;
    } else if (!strcmp(key, "offset") || !strcmp(key, "length")) {
        int off = key[0] == 'o';
        if (!parse_u64(value, off ? &x->offset : &x->length)) {
            cr_error_set(c->err, "%s: tensor '%s': external data %s '%s' is not a byte count",
                         c->file, pn(tensor).s, key, pn(value).s);
            goto done;
        }
        *(off ? &x->has_offset : &x->has_length) = 1;
    }
    e = 0;
done:
    free(key);
    free(value);
    return e;
}

/* Reads bytes [offset, offset + need) of the external file x->location in the
   model's folder into *out (malloc'd). The location must be a plain file name
   (no folder, no "..", not absolute) naming a regular file that is not a
   symbolic link; offset and length are checked against its size before the
   buffer is allocated. */
static int read_external(ox_ctx *c, const char *tensor, const ox_external *x, size_t need,
                         unsigned char **out) {
    const char *loc = x->location;
    *out = NULL;
    if (!c->dir)
        return cr_error_set(c->err, "%s: tensor '%s' keeps its data in the external file '%s', "
                                    "which is read only when the model is loaded from its file",
                            c->file, pn(tensor).s, pn(loc).s);
    if (!loc[0] || strchr(loc, '/') || strchr(loc, '\\') || !strcmp(loc, ".") ||
        !strcmp(loc, ".."))
        return cr_error_set(c->err, "%s: tensor '%s': external data location '%s' is not a plain "
                                    "file name in the model's folder (no folders, no absolute "
                                    "path, no '..')", c->file, pn(tensor).s, pn(loc).s);
    if (x->has_length && x->length != need)
        return cr_error_set(c->err, "%s: tensor '%s': external data length %llu in '%s', but the "
                                    "tensor needs %zu bytes", c->file, pn(tensor).s,
                            (unsigned long long)x->length, pn(loc).s, need);
    size_t dl = strlen(c->dir), ll = strlen(loc);
    char *path = malloc(dl + ll + 2);
    if (!path) return cr_error_set(c->err, "%s: out of memory", c->file);
    if (dl) memcpy(path, c->dir, dl), path[dl++] = '/';
    memcpy(path + dl, loc, ll + 1);
    /* O_NONBLOCK: a FIFO in a hostile folder must not block the open (fstat then refuses it);
       it does not change reads of a regular file */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    free(path);
    struct stat st;
    const char *problem = NULL;
    if (fd < 0) problem = errno == ELOOP ? "is a symbolic link (not followed)" : strerror(errno);
    else if (fstat(fd, &st) != 0) problem = strerror(errno);
    else if (!S_ISREG(st.st_mode)) problem = "is not a regular file";
    else if (st.st_size < 0 || (uint64_t)st.st_size < x->offset ||
             (uint64_t)st.st_size - x->offset < need) {
        cr_error_set(c->err, "%s: tensor '%s': external data at offset %llu, %zu bytes, lies "
                             "beyond the end of '%s' (%lld bytes)", c->file, pn(tensor).s,
                     (unsigned long long)x->offset, need, pn(loc).s, (long long)st.st_size);
        close(fd);
        return -1;
    } else if (!x->has_length && (uint64_t)st.st_size - x->offset != need) {
        /* onnx reads to the end of the file when no length is given */
        cr_error_set(c->err, "%s: tensor '%s': external data file '%s' holds %llu bytes after "
                             "offset %llu, but the tensor needs %zu (and no length is given)",
                     c->file, pn(tensor).s, pn(loc).s,
                     (unsigned long long)((uint64_t)st.st_size - x->offset),
                     (unsigned long long)x->offset, need);
        close(fd);
        return -1;
    }
    unsigned char *buf = problem ? NULL : malloc(need ? need : 1);
    if (!problem && !buf) problem = "out of memory";
    for (size_t got = 0; !problem && got < need;) {
        ssize_t n = pread(fd, buf + got, need - got, (off_t)(x->offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) problem = n < 0 ? strerror(errno) : "file shrank while being read";
        else got += (size_t)n;
    }
    if (fd >= 0) close(fd);
    if (problem) {
        free(buf);
        return cr_error_set(c->err, "%s: tensor '%s': external data file '%s': %s", c->file,
                            pn(tensor).s, pn(loc).s, problem);
    }
    *out = buf;
    return 0;
}

/* TensorProto -> t (data converted to float, double or int64_t; float16 and
   bfloat16 to float). */
static int decode_tensor(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *tf,
                         ox_tensor *t) {
    const char *why, *W = "TensorProto";
    cr_pb_reader r;
    cr_pb_field f;
    memset(t, 0, sizeof *t);
    if (cr_pb_open(parent, tf, &r, &why)) return bad(c, W, why);
    cr_pb_reader r0 = r;
    size_t n_dims = 0, n_typed[4] = {0}; /* float, int32, int64, double */
    cr_pb_slice raw = {NULL, 0};
    int have_raw = 0, rc;
    uint64_t data_type = 0, location = 0;
    ox_external ext = {0};
    unsigned char *ext_buf = NULL;
    /* pass 1: counts, type, name, raw data, external data */
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        long n;
        int k = -1, ew = CR_PB_VARINT;
        switch (f.field) {
        case 1:
            if ((n = cr_pb_scalars(&f, CR_PB_VARINT, NULL, 0, &why)) < 0) goto malformed;
            n_dims += (size_t)n;
            break;
        case 2:
            if (f.wire != CR_PB_VARINT) {
                why = "data_type is not a varint";
                goto malformed;
            }
            data_type = f.v;
            break;
        case 3:
            cr_error_set(c->err, "%s: segmented tensors are not supported", c->file);
            goto fail;
        case 4: k = 0, ew = CR_PB_FIXED32; break;
        case 5: k = 1; break;
        case 7: k = 2; break;
        case 10: k = 3, ew = CR_PB_FIXED64; break;
        case 8:
            if (get_string(c, &f, "TensorProto.name", &t->name)) goto fail;
            break;
        case 9:
            if (f.wire != CR_PB_LEN) {
                why = "raw_data is not bytes";
                goto malformed;
            }
            raw = f.s;
            have_raw = 1;
            break;
        case 13:
            if (decode_external_entry(c, &r, &f, &ext, t->name)) goto fail;
            break;
        case 14:
            if (f.wire != CR_PB_VARINT) {
                why = "data_location is not a varint";
                goto malformed;
            }
            location = f.v;
            break;
        default: break;
        }
        if (k >= 0) {
            if ((n = cr_pb_scalars(&f, ew, NULL, 0, &why)) < 0) goto malformed;
            n_typed[k] += (size_t)n;
        }
    }
    if (rc < 0) goto malformed;
    if (n_dims > OX_MAX_DIMS) {
        cr_error_set(c->err, "%s: tensor '%s' has %zu dimensions (at most %d)", c->file,
                     pn(t->name).s, n_dims, OX_MAX_DIMS);
        goto fail;
    }
    int dt = (int)data_type, k = -1;
    size_t es = 0, store = 0;
    switch (data_type) {
    case OX_FLOAT: k = 0, es = 4, store = sizeof(float); break;
    case OX_INT32: k = 1, es = 4, store = sizeof(int64_t); break;
    case OX_INT64: k = 2, es = 8, store = sizeof(int64_t); break;
    case OX_DOUBLE: k = 3, es = 8, store = sizeof(double); break;
    case OX_FLOAT16:
    case OX_BFLOAT16: k = 1, es = 2, store = sizeof(float); break; /* bits in int32_data */
    default:
        cr_error_set(c->err, "%s: tensor '%s' has data type %llu; supported: float (1), double "
                             "(11), float16 (10), bfloat16 (16), int32 (6), int64 (7)", c->file,
                     pn(t->name).s, (unsigned long long)data_type);
        goto fail;
    }
    t->file_dtype = dt;
    t->dtype = dt == OX_FLOAT16 || dt == OX_BFLOAT16 ? OX_FLOAT : dt;
    /* pass 2: dims, then the element count against the bytes present */
    r = r0;
    size_t nd = 0;
    while (cr_pb_next(&r, &f, &why) == 1)
        if (f.field == 1) {
            uint64_t v[OX_MAX_DIMS];
            long n = cr_pb_scalars(&f, CR_PB_VARINT, v, OX_MAX_DIMS - nd, &why);
            if (n < 0) goto malformed;
            for (long i = 0; i < n; i++) t->dims[nd++] = (int64_t)v[i];
        }
    t->ndim = (int)nd;
    size_t count = 1;
    for (size_t i = 0; i < nd; i++) {
        if (t->dims[i] < 0) {
            cr_error_set(c->err, "%s: tensor '%s' has a negative dimension %lld", c->file,
                         pn(t->name).s, (long long)t->dims[i]);
            goto fail;
        }
        if ((uint64_t)t->dims[i] > SIZE_MAX || !cr_mul_size(count, (size_t)t->dims[i], &count)) {
            cr_error_set(c->err, "%s: tensor '%s': the element count overflows", c->file,
                         pn(t->name).s);
            goto fail;
        }
    }
    t->count = count;
    if (location > 1) {
        cr_error_set(c->err, "%s: tensor '%s': data_location %llu is neither DEFAULT (0) nor "
                             "EXTERNAL (1)", c->file, pn(t->name).s, (unsigned long long)location);
        goto fail;
    }
    if (location == 1) { /* the data is raw_data kept in another file */
        size_t need;
        if (have_raw || n_typed[0] || n_typed[1] || n_typed[2] || n_typed[3] || !ext.location) {
            cr_error_set(c->err, "%s: tensor '%s' is marked external but %s", c->file,
                         pn(t->name).s, ext.location ? "also holds data in the file"
                                                     : "names no location");
            goto fail;
        }
        if (!cr_mul_size(count, es, &need)) {
            cr_error_set(c->err, "%s: tensor '%s': the byte count overflows", c->file,
                         pn(t->name).s);
            goto fail;
        }
        if (read_external(c, t->name, &ext, need, &ext_buf)) goto fail;
        raw.p = ext_buf;
        raw.len = need;
        have_raw = 1;
    }
    size_t have = have_raw ? raw.len / es : n_typed[k];
    if ((have_raw && raw.len % es) || have != count) {
        char shp[160];
        size_t sh[OX_MAX_DIMS];
        for (size_t i = 0; i < nd; i++) sh[i] = (size_t)t->dims[i];
        cr_error_set(c->err, "%s: tensor '%s' of shape %s needs %zu values but holds %s%zu%s",
                     c->file, pn(t->name).s, cr_io_shape_str(sh, (int)nd, shp, sizeof shp), count,
                     have_raw ? "" : "", have_raw ? raw.len : have,
                     have_raw ? " bytes of raw_data" : "");
        goto fail;
    }
    /* count <= bytes present, so this allocation is bounded by the file */
    t->data = malloc(count ? count * store : 1);
    if (!t->data) {
        cr_error_set(c->err, "%s: out of memory", c->file);
        goto fail;
    }
    if (have_raw) {
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = raw.p + i * es;
            if (dt == OX_FLOAT) ((float *)t->data)[i] = cr_pb_f32(cr_io_le32(p));
            else if (dt == OX_DOUBLE) ((double *)t->data)[i] = cr_pb_f64(cr_io_le64(p));
            else if (dt == OX_INT32) ((int64_t *)t->data)[i] = (int32_t)cr_io_le32(p);
            else if (dt == OX_INT64) ((int64_t *)t->data)[i] = (int64_t)cr_io_le64(p);
            else {
                uint16_t h = (uint16_t)(p[0] | p[1] << 8);
                ((float *)t->data)[i] = dt == OX_FLOAT16 ? half_to_float(h) : bfloat16_to_float(h);
            }
        }
    } else if (count) {
        static const uint32_t fields[4] = {4, 5, 7, 10};
        static const int wires[4] = {CR_PB_FIXED32, CR_PB_VARINT, CR_PB_VARINT, CR_PB_FIXED64};
        uint64_t *vals = malloc(count * sizeof *vals);
        if (!vals) {
            cr_error_set(c->err, "%s: out of memory", c->file);
            goto fail;
        }
        size_t got = 0;
        r = r0;
        while (cr_pb_next(&r, &f, &why) == 1)
            if (f.field == fields[k]) {
                long n = cr_pb_scalars(&f, wires[k], vals + got, count - got, &why);
                if (n < 0) {
                    free(vals);
                    goto malformed;
                }
                got += (size_t)n;
            }
        for (size_t i = 0; i < count; i++) {
            if (dt == OX_FLOAT) ((float *)t->data)[i] = cr_pb_f32(vals[i]);
            else if (dt == OX_DOUBLE) ((double *)t->data)[i] = cr_pb_f64(vals[i]);
            else if (dt == OX_INT32) ((int64_t *)t->data)[i] = (int32_t)(uint32_t)vals[i];
            else if (dt == OX_INT64) ((int64_t *)t->data)[i] = (int64_t)vals[i];
            else if (vals[i] > 0xffff) { /* int32_data holds a 16-bit pattern per value */
                cr_error_set(c->err, "%s: tensor '%s': int32_data value %llu at index %zu is not "
                                     "a 16-bit %s", c->file, pn(t->name).s,
                             (unsigned long long)vals[i], i,
                             dt == OX_FLOAT16 ? "float16" : "bfloat16");
                free(vals);
                goto fail;
            } else {
                uint16_t h = (uint16_t)vals[i];
                ((float *)t->data)[i] = dt == OX_FLOAT16 ? half_to_float(h) : bfloat16_to_float(h);
            }
        }
        free(vals);
    }
    free(ext.location);
    free(ext_buf);
    return 0;
malformed:
    bad(c, W, why);
fail:
    free(ext.location);
    free(ext_buf);
    tensor_free(t);
    return -1;
}

static void attr_free(ox_attr *a) {
    free(a->name);
    free(a->ints);
    free(a->floats);
    if (a->t) tensor_free(a->t);
    free(a->t);
}

static int decode_attr(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *af,
                       ox_attr *a) {
    const char *why, *W = "AttributeProto";
    cr_pb_reader r;
    cr_pb_field f;
    memset(a, 0, sizeof *a);
    if (cr_pb_open(parent, af, &r, &why)) return bad(c, W, why);
    cr_pb_reader r0 = r;
    size_t n_ints = 0, n_floats = 0;
    int rc;
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        long n;
        switch (f.field) {
        case 1:
            if (get_string(c, &f, "AttributeProto.name", &a->name)) return -1;
            break;
        case 2:
            if (f.wire != CR_PB_FIXED32) return bad(c, W, "f is not a float");
            a->f = cr_pb_f32(f.v);
            a->has_f = 1;
            break;
        case 3:
            if (f.wire != CR_PB_VARINT) return bad(c, W, "i is not a varint");
            a->i = (int64_t)f.v;
            a->has_i = 1;
            break;
        case 5:
            if (a->t) return bad(c, W, "more than one tensor");
            if (!(a->t = malloc(sizeof *a->t)))
                return cr_error_set(c->err, "%s: out of memory", c->file);
            if (decode_tensor(c, &r, &f, a->t)) {
                free(a->t);
                a->t = NULL;
                return -1;
            }
            break;
        case 7:
            if ((n = cr_pb_scalars(&f, CR_PB_FIXED32, NULL, 0, &why)) < 0) return bad(c, W, why);
            n_floats += (size_t)n;
            break;
        case 8:
            if ((n = cr_pb_scalars(&f, CR_PB_VARINT, NULL, 0, &why)) < 0) return bad(c, W, why);
            n_ints += (size_t)n;
            break;
        case 20:
            if (f.wire != CR_PB_VARINT) return bad(c, W, "type is not a varint");
            a->type = (int)(f.v & 0xff);
            break;
        default: break;
        }
    }
    if (rc < 0) return bad(c, W, why);
    if (!a->name) return bad(c, W, "attribute without a name");
    if (n_ints || n_floats) {
        a->ints = malloc((n_ints ? n_ints : 1) * sizeof *a->ints);
        a->floats = malloc((n_floats ? n_floats : 1) * sizeof *a->floats);
        uint64_t *tmp = malloc((n_ints + n_floats) * sizeof *tmp);
        if (!a->ints || !a->floats || !tmp) {
            free(tmp);
            return cr_error_set(c->err, "%s: out of memory", c->file);
        }
        r = r0;
        while (cr_pb_next(&r, &f, &why) == 1) {
            if (f.field == 7) {
                long n = cr_pb_scalars(&f, CR_PB_FIXED32, tmp, n_floats - a->n_floats, &why);
                for (long i = 0; i < n; i++) a->floats[a->n_floats++] = cr_pb_f32(tmp[i]);
            } else if (f.field == 8) {
                long n = cr_pb_scalars(&f, CR_PB_VARINT, tmp, n_ints - a->n_ints, &why);
                for (long i = 0; i < n; i++) a->ints[a->n_ints++] = (int64_t)tmp[i];
            }
        }
        free(tmp);
    }
    return 0;
}

static void node_free(ox_node *n) {
    free(n->name);
    free(n->op);
    free(n->domain);
    for (size_t i = 0; i < n->n_in; i++) free(n->in[i]);
    for (size_t i = 0; i < n->n_out; i++) free(n->out[i]);
    for (size_t i = 0; i < n->n_attr; i++) attr_free(&n->attr[i]);
    free(n->attr);
}

static int decode_node(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *nf,
                       ox_node *n) {
    const char *why, *W = "NodeProto";
    cr_pb_reader r;
    cr_pb_field f;
    memset(n, 0, sizeof *n);
    if (cr_pb_open(parent, nf, &r, &why)) return bad(c, W, why);
    cr_pb_reader r0 = r;
    size_t n_attr = 0;
    int rc;
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        char **slot = NULL;
        switch (f.field) {
        case 1:
        case 2: {
            size_t *cnt = f.field == 1 ? &n->n_in : &n->n_out;
            if (*cnt >= OX_MAX_IO) return bad(c, W, "more than 16 inputs or outputs");
            slot = f.field == 1 ? &n->in[*cnt] : &n->out[*cnt];
            (*cnt)++;
            break;
        }
        case 3: slot = &n->name; break;
        case 4: slot = &n->op; break;
        case 7: slot = &n->domain; break;
        case 5:
            if (++n_attr > OX_MAX_ATTRS) return bad(c, W, "more than 64 attributes");
            break;
        default: break;
        }
        if (slot && get_string(c, &f, "NodeProto", slot)) return -1;
    }
    if (rc < 0) return bad(c, W, why);
    if (!n->op) return bad(c, W, "node without op_type");
    if (n_attr) {
        if (!(n->attr = calloc(n_attr, sizeof *n->attr)))
            return cr_error_set(c->err, "%s: out of memory", c->file);
        r = r0;
        while (cr_pb_next(&r, &f, &why) == 1)
            if (f.field == 5) {
                if (decode_attr(c, &r, &f, &n->attr[n->n_attr])) {
                    attr_free(&n->attr[n->n_attr]);
                    return -1;
                }
                n->n_attr++;
            }
    }
    return 0;
}

/* ValueInfoProto: name and, when given, the tensor's element type and shape. */
static int decode_value(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *vf,
                        ox_value *v) {
    const char *why, *W = "ValueInfoProto";
    cr_pb_reader r, tr, tt, sr, dr;
    cr_pb_field f, g, h, k, d;
    memset(v, 0, sizeof *v);
    v->ndim = -1;
    if (cr_pb_open(parent, vf, &r, &why)) return bad(c, W, why);
    int rc;
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        if (f.field == 1 && get_string(c, &f, "ValueInfoProto.name", &v->name)) return -1;
        if (f.field != 2) continue;
        if (cr_pb_open(&r, &f, &tr, &why)) return bad(c, "TypeProto", why);
        while ((rc = cr_pb_next(&tr, &g, &why)) == 1) {
            if (g.field != 1) continue;
            if (cr_pb_open(&tr, &g, &tt, &why)) return bad(c, "TypeProto.Tensor", why);
            while ((rc = cr_pb_next(&tt, &h, &why)) == 1) {
                if (h.field == 1 && h.wire == CR_PB_VARINT) v->elem_type = (int)(h.v & 0xffff);
                if (h.field != 2) continue;
                if (cr_pb_open(&tt, &h, &sr, &why)) return bad(c, "TensorShapeProto", why);
                v->ndim = 0;
                while ((rc = cr_pb_next(&sr, &k, &why)) == 1) {
                    if (k.field != 1) continue;
                    if (v->ndim >= OX_MAX_DIMS)
                        return cr_error_set(c->err, "%s: value '%s' has more than %d dimensions",
                                            c->file, pn(v->name).s, OX_MAX_DIMS);
                    if (cr_pb_open(&sr, &k, &dr, &why)) return bad(c, "Dimension", why);
                    int64_t val = -1;
                    while ((rc = cr_pb_next(&dr, &d, &why)) == 1)
                        if (d.field == 1 && d.wire == CR_PB_VARINT) val = (int64_t)d.v;
                        else if (d.field == 2) val = -1;
                    if (rc < 0) return bad(c, "Dimension", why);
                    v->dims[v->ndim++] = val > 0 ? val : -1;
                }
                if (rc < 0) return bad(c, "TensorShapeProto", why);
            }
            if (rc < 0) return bad(c, "TypeProto.Tensor", why);
        }
        if (rc < 0) return bad(c, "TypeProto", why);
    }
    if (rc < 0) return bad(c, W, why);
    if (!v->name) return bad(c, W, "value without a name");
    return 0;
}

static void model_free(ox_model *m) {
    for (size_t i = 0; i < m->n_nodes; i++) node_free(&m->nodes[i]);
    for (size_t i = 0; i < m->n_inits; i++) tensor_free(&m->inits[i]);
    for (size_t i = 0; i < m->n_inputs; i++) free(m->inputs[i].name);
    for (size_t i = 0; i < m->n_outputs; i++) free(m->outputs[i].name);
    free(m->nodes);
    free(m->inits);
    free(m->inputs);
    free(m->outputs);
    memset(m, 0, sizeof *m);
}

static int decode_graph(ox_ctx *c, const cr_pb_reader *parent, const cr_pb_field *gf,
                        ox_model *m) {
    const char *why, *W = "GraphProto";
    cr_pb_reader r;
    cr_pb_field f;
    if (cr_pb_open(parent, gf, &r, &why)) return bad(c, W, why);
    cr_pb_reader r0 = r;
    size_t nn = 0, ni = 0, nin = 0, nout = 0;
    int rc;
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        if (f.field == 1) nn++;
        else if (f.field == 5) ni++;
        else if (f.field == 11) nin++;
        else if (f.field == 12) nout++;
        else if (f.field == 15)
            return cr_error_set(c->err, "%s: sparse initializers are not supported", c->file);
    }
    if (rc < 0) return bad(c, W, why);
    if (nn > OX_MAX_NODES || ni > OX_MAX_TENSORS || nin > OX_MAX_VALUES || nout > OX_MAX_VALUES)
        return cr_error_set(c->err, "%s: graph too large (%zu nodes, %zu initializers, %zu "
                                    "inputs, %zu outputs; at most %d, %d, %d, %d)", c->file, nn,
                            ni, nin, nout, OX_MAX_NODES, OX_MAX_TENSORS, OX_MAX_VALUES,
                            OX_MAX_VALUES);
    m->nodes = calloc(nn ? nn : 1, sizeof *m->nodes);
    m->inits = calloc(ni ? ni : 1, sizeof *m->inits);
    m->inputs = calloc(nin ? nin : 1, sizeof *m->inputs);
    m->outputs = calloc(nout ? nout : 1, sizeof *m->outputs);
    if (!m->nodes || !m->inits || !m->inputs || !m->outputs)
        return cr_error_set(c->err, "%s: out of memory", c->file);
    r = r0;
    while (cr_pb_next(&r, &f, &why) == 1) {
        int e = 0;
        if (f.field == 1) {
            e = decode_node(c, &r, &f, &m->nodes[m->n_nodes]);
            m->n_nodes++; /* freed by model_free even when partial */
        } else if (f.field == 5) {
            e = decode_tensor(c, &r, &f, &m->inits[m->n_inits]);
            if (!e) m->n_inits++;
        } else if (f.field == 11) {
            e = decode_value(c, &r, &f, &m->inputs[m->n_inputs]);
            m->n_inputs++;
        } else if (f.field == 12) {
            e = decode_value(c, &r, &f, &m->outputs[m->n_outputs]);
            m->n_outputs++;
        }
        if (e) return -1;
    }
    return 0;
}

static int decode_model(ox_ctx *c, const unsigned char *buf, size_t len, ox_model *m) {
    const char *why, *W = "ModelProto";
    cr_pb_reader r = cr_pb_reader_init(buf, len), o;
    cr_pb_field f, g;
    memset(m, 0, sizeof *m);
    m->opset = -1;
    m->head = -1;
    int rc, have_graph = 0;
    cr_pb_field graph;
    while ((rc = cr_pb_next(&r, &f, &why)) == 1) {
        if (f.field == 7) {
            if (f.wire != CR_PB_LEN) return bad(c, W, "graph is not a message");
            graph = f;
            have_graph = 1;
        } else if (f.field == 8) {
            if (cr_pb_open(&r, &f, &o, &why)) return bad(c, "OperatorSetIdProto", why);
            int default_domain = 1;
            int64_t version = -1;
            while ((rc = cr_pb_next(&o, &g, &why)) == 1) {
                if (g.field == 1) {
                    if (g.wire != CR_PB_LEN) return bad(c, "OperatorSetIdProto", "bad domain");
                    default_domain = g.s.len == 0 || (g.s.len == 7 && !memcmp(g.s.p, "ai.onnx", 7));
                } else if (g.field == 2 && g.wire == CR_PB_VARINT) {
                    version = (int64_t)g.v;
                }
            }
            if (rc < 0) return bad(c, "OperatorSetIdProto", why);
            if (default_domain) m->opset = version;
        } else if (f.field == 14) { /* metadata_props: StringStringEntryProto key 1, value 2 */
            if (cr_pb_open(&r, &f, &o, &why)) return bad(c, "StringStringEntryProto", why);
            cr_pb_slice key = {0}, value = {0};
            while ((rc = cr_pb_next(&o, &g, &why)) == 1)
                if (g.wire == CR_PB_LEN && (g.field == 1 || g.field == 2))
                    *(g.field == 1 ? &key : &value) = g.s;
            if (rc < 0) return bad(c, "StringStringEntryProto", why);
            static const char hk[] = "chainrule.head";
            if (key.len == sizeof hk - 1 && !memcmp(key.p, hk, key.len)) {
                char v[32] = "";
                cr_head h;
                if (value.len && value.len < sizeof v) /* value.p is NULL when absent */
                    memcpy(v, value.p, value.len), v[value.len] = '\0';
                if (!cr_head_parse(v, &h))
                    return cr_error_set(c->err, "%s: metadata_props chainrule.head is not "
                                                "softmax-cross-entropy or squared-error", c->file);
                m->head = (int)h;
            }
        }
    }
    if (rc < 0) return bad(c, W, why);
    if (!have_graph) return bad(c, W, "no graph");
    if (m->opset < 0)
        return cr_error_set(c->err, "%s: the model imports no opset of the default ONNX domain",
                            c->file);
    if (m->opset < OX_MIN_OPSET || m->opset > OX_MAX_OPSET)
        return cr_error_set(c->err, "%s: opset %lld is not supported (opsets %d to %d are)",
                            c->file, (long long)m->opset, OX_MIN_OPSET, OX_MAX_OPSET);
    return decode_graph(c, &r, &graph, m);
}

/* ------------------------------------------------------------ the chain */

enum { ST_INPUT, ST_LINEAR, ST_ACT, ST_SOFTMAX };

typedef struct {
    const ox_tensor *w; /* 2-D */
    int w_out_in;       /* 1: w is [out, in] (Gemm transB = 1), 0: [in, out] */
    double alpha, beta;
    const ox_tensor *b; /* or NULL */
    size_t din, dout;
    int act; /* cr_activation after this layer, -1 for none */
    size_t node;
    int from_matmul;
} ox_layer;

/* An int64 scalar or vector computed from the chain's shape (op_shapeval). */
typedef struct {
    const char *name; /* borrowed from its node */
    int rank;         /* 0 (scalar) or 1 */
    int n;            /* entries (1 for a scalar) */
    int64_t v[OX_MAX_DIMS];
} ox_shapeval;

typedef struct {
    ox_ctx *c;
    const ox_model *m;
    const ox_tensor **consts; /* initializers and Constant outputs (borrowed) */
    size_t n_consts;
    ox_tensor **owned; /* Constant values built from float/int attributes (owned) */
    size_t n_owned;
    ox_shapeval *svals; /* values computed from the chain's shape (owned array) */
    size_t n_svals;
    const char *cur; /* the chain's current value */
    int rank;
    int64_t shape[OX_MAX_DIMS]; /* shape[0] the batch (-1 symbolic) */
    size_t feat;                /* product of shape[1..] */
    double *mean, *std;         /* the standardisation folded so far (feat entries) */
    int L, stage, dtype;
    int file_dtype; /* the first weight's type in the file (OX_FLOAT16 for a half model) */
    ox_layer layer[CR_MAX_LAYERS];
} ox_chain;

static const ox_tensor *find_const(const ox_chain *ch, const char *name) {
    for (size_t i = ch->n_consts; i-- > 0;)
        if (!strcmp(ch->consts[i]->name, name)) return ch->consts[i];
    return NULL;
}

static const ox_attr *find_attr(const ox_node *n, const char *name) {
    for (size_t i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, name)) return &n->attr[i];
    return NULL;
}
static int64_t attr_i(const ox_node *n, const char *name, int64_t dflt) {
    const ox_attr *a = find_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}
static double attr_f(const ox_node *n, const char *name, double dflt) {
    const ox_attr *a = find_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

static double tval(const ox_tensor *t, size_t i) {
    switch (t->dtype) {
    case OX_FLOAT: return ((const float *)t->data)[i];
    case OX_DOUBLE: return ((const double *)t->data)[i];
    default: return (double)((const int64_t *)t->data)[i];
    }
}

/* "node 3 'Gemm_3' (Gemm)" */
typedef struct {
    char s[200];
} ox_where;
static ox_where where(const ox_node *n, size_t i) {
    ox_where w;
    snprintf(w.s, sizeof w.s, "node %zu '%s' (%s)", i, pn(n->name).s, pn(n->op).s);
    return w;
}

static int add_const(ox_chain *ch, const ox_tensor *t) {
    const ox_tensor **p = realloc(ch->consts, (ch->n_consts + 1) * sizeof *p);
    if (!p) return cr_error_set(ch->c->err, "%s: out of memory", ch->c->file);
    ch->consts = p;
    p[ch->n_consts++] = t;
    return 0;
}

static const ox_shapeval *find_shapeval(const ox_chain *ch, const char *name);

/* Constant: value (a tensor), value_float(s), value_int(s). */
static int op_constant(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    if (n->n_out < 1 || !n->out[0][0])
        return cr_error_set(c->err, "%s: %s has no output", c->file, where(n, i).s);
    if (find_const(ch, n->out[0]) || find_shapeval(ch, n->out[0]) ||
        (ch->cur && !strcmp(n->out[0], ch->cur)))
        return cr_error_set(c->err, "%s: %s: output '%s' redefines an existing value", c->file,
                            where(n, i).s, pn(n->out[0]).s);
    const ox_attr *a = n->n_attr == 1 ? &n->attr[0] : NULL;
    if (!a)
        return cr_error_set(c->err, "%s: %s needs exactly one attribute", c->file, where(n, i).s);
    if (!strcmp(a->name, "value") && a->t) {
        free(a->t->name);
        if (!(a->t->name = malloc(strlen(n->out[0]) + 1)))
            return cr_error_set(c->err, "%s: out of memory", c->file);
        strcpy(a->t->name, n->out[0]);
        return add_const(ch, a->t);
    }
    int is_f = !strcmp(a->name, "value_float") || !strcmp(a->name, "value_floats");
    int is_i = !strcmp(a->name, "value_int") || !strcmp(a->name, "value_ints");
    int scalar = !strcmp(a->name, "value_float") || !strcmp(a->name, "value_int");
    if (!is_f && !is_i)
        return cr_error_set(c->err, "%s: %s: attribute '%s' is not supported (value, "
                                    "value_float(s), value_int(s) are)", c->file, where(n, i).s,
                            pn(a->name).s);
    size_t cnt = scalar ? 1 : is_f ? a->n_floats : a->n_ints;
    if (scalar && !(is_f ? a->has_f : a->has_i))
        return cr_error_set(c->err, "%s: %s: attribute '%s' has no value", c->file, where(n, i).s,
                            a->name);
    ox_tensor **o = realloc(ch->owned, (ch->n_owned + 1) * sizeof *o);
    if (!o) return cr_error_set(c->err, "%s: out of memory", c->file);
    ch->owned = o;
    ox_tensor *t = calloc(1, sizeof *t);
    if (!t) return cr_error_set(c->err, "%s: out of memory", c->file);
    o[ch->n_owned++] = t;
    t->dtype = t->file_dtype = is_f ? OX_FLOAT : OX_INT64;
    t->ndim = scalar ? 0 : 1;
    t->dims[0] = (int64_t)cnt;
    t->count = cnt;
    t->name = malloc(strlen(n->out[0]) + 1);
    t->data = malloc(cnt ? cnt * 8 : 1);
    if (!t->name || !t->data) return cr_error_set(c->err, "%s: out of memory", c->file);
    strcpy(t->name, n->out[0]);
    for (size_t k = 0; k < cnt; k++) {
        if (is_f) ((float *)t->data)[k] = scalar ? a->f : a->floats[k];
        else ((int64_t *)t->data)[k] = scalar ? a->i : a->ints[k];
    }
    return add_const(ch, t);
}

/* The constant operand of a binary op whose other operand is the chain. Sets
   *chain_first to 1 when the chain is the first operand. */
static int binary_operands(ox_chain *ch, const ox_node *n, size_t i, const ox_tensor **k,
                           int *chain_first) {
    ox_ctx *c = ch->c;
    if (n->n_in != 2)
        return cr_error_set(c->err, "%s: %s needs 2 inputs", c->file, where(n, i).s);
    int a = !strcmp(n->in[0], ch->cur), b = !strcmp(n->in[1], ch->cur);
    *k = find_const(ch, a ? n->in[1] : n->in[0]);
    if (a == b || !*k)
        return cr_error_set(c->err, "%s: %s: one input must be the chain's value '%s' and the "
                                    "other a constant", c->file, where(n, i).s, pn(ch->cur).s);
    *chain_first = a;
    return 0;
}

/* Sub/Add/Mul/Div by a constant before the first layer, folded into
   x' = (x - mean) / std:  - c: mean += c std;  + c: mean -= c std;
   / c: std *= c;  * c: std /= c  (c broadcast onto the input's shape). */
static int op_normalise(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    const ox_tensor *k;
    int first;
    if (binary_operands(ch, n, i, &k, &first)) return -1;
    int op = n->op[0]; /* 'S'ub, 'A'dd, 'M'ul, 'D'iv */
    if (!first && (op == 'S' || op == 'D'))
        return cr_error_set(c->err, "%s: %s: a constant %s the input is not an input "
                                    "standardisation (only x - c and x / c are)", c->file,
                            where(n, i).s, op == 'S' ? "minus" : "divided by");
    if (ch->rank < 2)
        return cr_error_set(c->err, "%s: %s: the graph input's shape is not given, so the "
                                    "constant '%s' cannot be broadcast onto it", c->file,
                            where(n, i).s, pn(k->name).s);
    if (k->dtype != OX_FLOAT && k->dtype != OX_DOUBLE)
        return cr_error_set(c->err, "%s: %s: constant '%s' is not float", c->file, where(n, i).s,
                            pn(k->name).s);
    /* numpy broadcasting of k onto the chain's shape; the batch axis must be 1 in k */
    int r = ch->rank;
    if (k->ndim > r)
        return cr_error_set(c->err, "%s: %s: constant '%s' has more dimensions than the input",
                            c->file, where(n, i).s, pn(k->name).s);
    size_t kstride[OX_MAX_DIMS] = {0}; /* k's stride along each axis of the chain (0: broadcast) */
    size_t s = 1;
    for (int j = k->ndim - 1; j >= 0; j--) {
        int ax = r - k->ndim + j;
        int64_t kd = k->dims[j];
        if (kd != 1 && (ax == 0 || kd != ch->shape[ax])) {
            char shp[160];
            size_t sh[OX_MAX_DIMS];
            for (int q = 0; q < k->ndim; q++) sh[q] = (size_t)k->dims[q];
            return cr_error_set(c->err, "%s: %s: constant '%s' of shape %s does not broadcast "
                                        "per example onto the input (%zu features)", c->file,
                                where(n, i).s, pn(k->name).s,
                                cr_io_shape_str(sh, k->ndim, shp, sizeof shp), ch->feat);
        }
        kstride[ax] = kd == 1 ? 0 : s;
        s *= (size_t)kd;
    }
    if (!ch->mean) {
        ch->mean = calloc(ch->feat, sizeof *ch->mean);
        ch->std = malloc(ch->feat * sizeof *ch->std);
        if (!ch->mean || !ch->std) return cr_error_set(c->err, "%s: out of memory", c->file);
        for (size_t f = 0; f < ch->feat; f++) ch->std[f] = 1.0;
    }
    for (size_t f = 0; f < ch->feat; f++) {
        size_t rem = f, ki = 0;
        for (int ax = r - 1; ax >= 1; ax--) {
            size_t d = (size_t)ch->shape[ax];
            ki += (rem % d) * kstride[ax];
            rem /= d;
        }
        double v = tval(k, ki);
        if (!isfinite(v))
            return cr_error_set(c->err, "%s: %s: constant '%s' is not finite at index %zu",
                                c->file, where(n, i).s, pn(k->name).s, ki);
        if ((op == 'M' || op == 'D') && !(v > 0))
            return cr_error_set(c->err, "%s: %s: scaling by %g (constant '%s', index %zu): only a "
                                        "positive scale is an input standardisation", c->file,
                                where(n, i).s, v, pn(k->name).s, ki);
        if (op == 'S') ch->mean[f] += v * ch->std[f];
        else if (op == 'A') ch->mean[f] -= v * ch->std[f];
        else if (op == 'D') ch->std[f] *= v;
        else ch->std[f] /= v;
        if (!isfinite(ch->mean[f]) || !(ch->std[f] > 0) || !isfinite(ch->std[f]))
            return cr_error_set(c->err, "%s: %s: the folded standardisation overflows", c->file,
                                where(n, i).s);
    }
    ch->cur = n->out[0];
    return 0;
}

static int is_op(const ox_node *n, const char *op) { return !strcmp(n->op, op); }

/* ------------------------------------------------------------ shape arithmetic
 * x.view(x.size(0), -1) is exported as Shape(x) -> Gather(indices 0) ->
 * Unsqueeze -> Concat(with [-1]) -> Reshape(x, .). These small int64 values
 * are tracked exactly: each entry is a known integer or OX_BATCH, the batch
 * size N taken from entry 0 of the chain's shape; Reshape accepts such a
 * value only when it is provably [N, D] or [N, -1] (op_flatten). Only Shape
 * (of the chain's current value), Gather (axis 0), Unsqueeze/Squeeze (a
 * scalar to [1] and back), Concat (axis 0) and Cast to int32/int64 are
 * evaluated, on such values and int constants of at most 8 entries. */
#define OX_BATCH INT64_MIN

static const ox_shapeval *find_shapeval(const ox_chain *ch, const char *name) {
    for (size_t i = ch->n_svals; i-- > 0;)
        if (!strcmp(ch->svals[i].name, name)) return &ch->svals[i];
    return NULL;
}

/* A shape value or an int constant of rank <= 1 and at most 8 entries -> *v. */
static int shapeval_input(const ox_chain *ch, const char *name, ox_shapeval *v) {
    const ox_shapeval *s = find_shapeval(ch, name);
    if (s) {
        *v = *s;
        return 1;
    }
    const ox_tensor *t = find_const(ch, name);
    if (!t || (t->dtype != OX_INT64 && t->dtype != OX_INT32) || t->ndim > 1 ||
        t->count > OX_MAX_DIMS)
        return 0;
    memset(v, 0, sizeof *v);
    v->rank = t->ndim;
    v->n = (int)t->count;
    for (size_t k = 0; k < t->count; k++) {
        v->v[k] = ((const int64_t *)t->data)[k];
        if (v->v[k] == OX_BATCH) return 0; /* not a size anyway */
    }
    return 1;
}

/* The int list of attribute `name`, or of input `in` (opset >= 13 moved Unsqueeze's
   and Squeeze's axes there); *n = -1 when neither is given. */
static int axes_of(const ox_chain *ch, const ox_node *n, size_t in, int64_t *ax, int *cnt) {
    const ox_attr *a = find_attr(n, "axes");
    ox_shapeval v;
    *cnt = -1;
    if (a) {
        if (a->n_ints > OX_MAX_DIMS) return 0;
        *cnt = (int)a->n_ints;
        for (size_t k = 0; k < a->n_ints; k++) ax[k] = a->ints[k];
    } else if (n->n_in > in && n->in[in][0]) {
        if (!shapeval_input(ch, n->in[in], &v) || v.rank != 1) return 0;
        for (int k = 0; k < v.n; k++)
            if (v.v[k] == OX_BATCH) return 0;
        *cnt = v.n;
        memcpy(ax, v.v, (size_t)v.n * sizeof *ax);
    }
    return 1;
}

static int op_shapeval(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    ox_shapeval r, a;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    if (n->n_out != 1 || !n->out[0][0] || n->n_in < 1)
        return cr_error_set(c->err, "%s: %s needs an input and one output", c->file,
                            where(n, i).s);
    if (find_const(ch, n->out[0]) || find_shapeval(ch, n->out[0]) || !strcmp(n->out[0], ch->cur))
        return cr_error_set(c->err, "%s: %s: output '%s' redefines an existing value", c->file,
                            where(n, i).s, pn(n->out[0]).s);
    if (is_op(n, "Shape")) {
        if (n->n_in != 1 || strcmp(n->in[0], ch->cur))
            why = "only the shape of the chain's current value is supported";
        else if (ch->rank < 1)
            why = "the chain's shape is not known here (give the graph input a shape)";
        else {
            int64_t rank = ch->rank, s = attr_i(n, "start", 0), e = attr_i(n, "end", rank);
            if (s < 0) s += rank;
            if (e < 0) e += rank;
            s = s < 0 ? 0 : s > rank ? rank : s;
            e = e < 0 ? 0 : e > rank ? rank : e;
            r.rank = 1;
            for (int64_t d = s; d < e; d++) r.v[r.n++] = d == 0 ? OX_BATCH : ch->shape[d];
        }
    } else if (!shapeval_input(ch, n->in[0], &a)) {
        why = "its first input is neither a value computed from the chain's shape nor a small "
              "int constant";
    } else if (is_op(n, "Gather")) {
        ox_shapeval idx;
        int64_t axis = attr_i(n, "axis", 0);
        if (n->n_in != 2 || !shapeval_input(ch, n->in[1], &idx))
            why = "the indices must be an int constant";
        else if (a.rank != 1 || (axis != 0 && axis != -1))
            why = "only a gather from a 1-D shape along axis 0 is supported";
        else {
            r.rank = idx.rank;
            for (int k = 0; k < idx.n && !why; k++) {
                int64_t q = idx.v[k];
                if (q == OX_BATCH || q < -(int64_t)a.n || q >= a.n) why = "index out of range";
                else r.v[r.n++] = a.v[q < 0 ? q + a.n : q];
            }
        }
    } else if (is_op(n, "Unsqueeze") || is_op(n, "Squeeze")) {
        int64_t ax[OX_MAX_DIMS];
        int cnt, unsq = n->op[0] == 'U';
        if (!axes_of(ch, n, 1, ax, &cnt)) why = "its axes must be an int constant";
        else if (unsq ? a.rank != 0 || cnt != 1 || (ax[0] != 0 && ax[0] != -1)
                      : a.rank != 1 || a.n != 1 || cnt > 1 ||
                            (cnt == 1 && ax[0] != 0 && ax[0] != -1))
            why = unsq ? "only a scalar to [1] is supported" : "only [1] to a scalar is supported";
        else r = a, r.rank = unsq;
    } else if (is_op(n, "Concat")) {
        int64_t axis = attr_i(n, "axis", 0);
        if (axis != 0 && axis != -1) why = "only axis 0 is supported";
        r.rank = 1;
        for (size_t q = 0; q < n->n_in && !why; q++) {
            if (!shapeval_input(ch, n->in[q], &a) || a.rank != 1)
                why = "every input must be a 1-D value computed from the chain's shape or an int "
                      "constant";
            else if (r.n + a.n > OX_MAX_DIMS) why = "more than 8 entries";
            else memcpy(r.v + r.n, a.v, (size_t)a.n * sizeof *a.v), r.n += a.n;
        }
    } else { /* Cast */
        int64_t to = attr_i(n, "to", 0);
        if (to != OX_INT64 && to != OX_INT32) why = "only a cast to int64 or int32 is supported";
        for (int k = 0; k < a.n && !why; k++)
            if (to == OX_INT32 && a.v[k] != OX_BATCH && (a.v[k] < INT32_MIN || a.v[k] > INT32_MAX))
                why = "the value does not fit int32";
        r = a;
    }
    if (why)
        return cr_error_set(c->err, "%s: %s: %s (shape arithmetic is read only as in "
                                    "x.view(x.size(0), -1))", c->file, where(n, i).s, why);
    ox_shapeval *p = realloc(ch->svals, (ch->n_svals + 1) * sizeof *p);
    if (!p) return cr_error_set(c->err, "%s: out of memory", c->file);
    ch->svals = p;
    r.name = n->out[0];
    p[ch->n_svals++] = r;
    return 0;
}

static int is_shape_op(const ox_node *n) {
    return is_op(n, "Shape") || is_op(n, "Gather") || is_op(n, "Unsqueeze") ||
           is_op(n, "Squeeze") || is_op(n, "Concat") || is_op(n, "Cast");
}

/* Flatten (axis 1) or Reshape to [N, D]: the chain becomes [N, feat]. The
   shape is an int constant or a value computed from the chain's shape. */
static int op_flatten(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    int reshape = !strcmp(n->op, "Reshape");
    if (!reshape) {
        int64_t axis = attr_i(n, "axis", 1);
        if (axis < 0 && ch->rank > 0) axis += ch->rank;
        if (axis != 1)
            return cr_error_set(c->err, "%s: %s: axis %lld would mix examples (only axis 1, "
                                        "[N, D], is supported)", c->file, where(n, i).s,
                                (long long)attr_i(n, "axis", 1));
    } else {
        ox_shapeval s; /* OX_BATCH entries only when computed from the chain's shape */
        if (n->n_in != 2 || !shapeval_input(ch, n->in[1], &s) || s.rank != 1 || s.n != 2)
            return cr_error_set(c->err, "%s: %s: the shape must be a constant [2] of int64, or "
                                        "[N, -1] computed from the input's shape (a reshape to "
                                        "[N, D])", c->file, where(n, i).s);
        int64_t a = s.v[0], b = s.v[1];
        int zero_is_copy = attr_i(n, "allowzero", 0) == 0;
        int a_ok = a == OX_BATCH || a == -1 || (a == 0 && zero_is_copy) ||
                   (a > 0 && a == ch->shape[0]);
        int b_ok = (b > 0 && ch->feat > 0 && (uint64_t)b == ch->feat) || (b == -1 && a != -1);
        if (ch->rank < 2 || !a_ok || !b_ok) {
            char as[24], bs[24];
            snprintf(as, sizeof as, a == OX_BATCH ? "N" : "%lld", (long long)a);
            snprintf(bs, sizeof bs, b == OX_BATCH ? "N" : "%lld", (long long)b);
            return cr_error_set(c->err, "%s: %s: reshape to [%s, %s] is not [N, %zu] (N the "
                                        "batch)", c->file, where(n, i).s, as, bs, ch->feat);
        }
    }
    if (ch->rank >= 2) {
        ch->rank = 2;
        ch->shape[1] = (int64_t)ch->feat;
    }
    ch->cur = n->out[0];
    return 0;
}

static int op_linear(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    int gemm = !strcmp(n->op, "Gemm");
    if (ch->stage == ST_LINEAR)
        return cr_error_set(c->err, "%s: %s follows node %zu, a linear layer, without an "
                                    "activation between them (not supported)", c->file,
                            where(n, i).s, ch->layer[ch->L - 1].node);
    if (ch->stage == ST_SOFTMAX)
        return cr_error_set(c->err, "%s: %s comes after the output softmax", c->file,
                            where(n, i).s);
    if (ch->L >= CR_MAX_LAYERS)
        return cr_error_set(c->err, "%s: %s: more than %d linear layers", c->file, where(n, i).s,
                            CR_MAX_LAYERS);
    if (n->n_in < 2 || n->n_in > (gemm ? 3u : 2u) || strcmp(n->in[0], ch->cur))
        return cr_error_set(c->err, "%s: %s: its first input must be the chain's value '%s' and "
                                    "then the weight%s", c->file, where(n, i).s, pn(ch->cur).s,
                            gemm ? " (and the bias)" : "");
    const ox_tensor *w = find_const(ch, n->in[1]);
    const ox_tensor *b = gemm && n->n_in == 3 && n->in[2][0] ? find_const(ch, n->in[2]) : NULL;
    if (!w || w->ndim != 2 || (w->dtype != OX_FLOAT && w->dtype != OX_DOUBLE))
        return cr_error_set(c->err, "%s: %s: the weight '%s' must be a 2-D float or double "
                                    "constant", c->file, where(n, i).s, pn(n->in[1]).s);
    if (gemm && n->n_in == 3 && n->in[2][0] && !b)
        return cr_error_set(c->err, "%s: %s: the bias '%s' must be a constant", c->file,
                            where(n, i).s, pn(n->in[2]).s);
    if (ch->dtype && w->dtype != ch->dtype)
        return cr_error_set(c->err, "%s: %s: weight '%s' is %s but the network is %s", c->file,
                            where(n, i).s, pn(w->name).s, w->dtype == OX_FLOAT ? "float" : "double",
                            ch->dtype == OX_FLOAT ? "float" : "double");
    ch->dtype = w->dtype;
    if (!ch->file_dtype) ch->file_dtype = w->file_dtype;
    if (gemm && attr_i(n, "transA", 0) != 0)
        return cr_error_set(c->err, "%s: %s: transA = 1 (the batch transposed) is not supported",
                            c->file, where(n, i).s);
    ox_layer *ly = &ch->layer[ch->L];
    memset(ly, 0, sizeof *ly);
    ly->w = w;
    ly->w_out_in = gemm && attr_i(n, "transB", 0) != 0;
    ly->alpha = gemm ? attr_f(n, "alpha", 1.0) : 1.0;
    ly->beta = gemm ? attr_f(n, "beta", 1.0) : 1.0;
    ly->din = (size_t)w->dims[ly->w_out_in ? 1 : 0];
    ly->dout = (size_t)w->dims[ly->w_out_in ? 0 : 1];
    ly->act = -1;
    ly->node = i;
    ly->from_matmul = !gemm;
    if (ly->din == 0 || ly->dout == 0)
        return cr_error_set(c->err, "%s: %s: weight '%s' is empty", c->file, where(n, i).s,
                            pn(w->name).s);
    if (!isfinite(ly->alpha) || !isfinite(ly->beta))
        return cr_error_set(c->err, "%s: %s: alpha or beta is not finite", c->file, where(n, i).s);
    if (ch->rank > 2)
        return cr_error_set(c->err, "%s: %s: its input has %d dimensions; add a Flatten to [N, "
                                    "D] before it", c->file, where(n, i).s, ch->rank);
    if (ch->feat && ly->din != ch->feat)
        return cr_error_set(c->err, "%s: %s: weight '%s' of shape [%lld, %lld] (%s) takes %zu "
                                    "inputs but the chain has %zu features here", c->file,
                            where(n, i).s, pn(w->name).s, (long long)w->dims[0],
                            (long long)w->dims[1], ly->w_out_in ? "[out, in], transB = 1"
                                                                : "[in, out]",
                            ly->din, ch->feat);
    if (b && b->count != ly->dout && b->count != 1)
        return cr_error_set(c->err, "%s: %s: bias '%s' has %zu values but the layer has %zu "
                                    "outputs", c->file, where(n, i).s, pn(b->name).s, b->count,
                            ly->dout);
    if (b && b->dtype != OX_FLOAT && b->dtype != OX_DOUBLE)
        return cr_error_set(c->err, "%s: %s: bias '%s' is not float", c->file, where(n, i).s,
                            pn(b->name).s);
    ly->b = b;
    ch->L++;
    ch->stage = ST_LINEAR;
    ch->rank = 2;
    ch->shape[1] = (int64_t)ly->dout;
    ch->feat = ly->dout;
    ch->cur = n->out[0];
    return 0;
}

/* Add after MatMul: the layer's bias. */
static int op_bias(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    const ox_tensor *k;
    int first;
    if (binary_operands(ch, n, i, &k, &first)) return -1;
    ox_layer *ly = &ch->layer[ch->L - 1];
    if (k->count != ly->dout || (k->dtype != OX_FLOAT && k->dtype != OX_DOUBLE) ||
        (k->ndim == 2 && k->dims[0] != 1) || k->ndim > 2)
        return cr_error_set(c->err, "%s: %s: the bias '%s' must be %zu float values ([%zu] or "
                                    "[1, %zu]) for the MatMul of node %zu", c->file,
                            where(n, i).s, pn(k->name).s, ly->dout, ly->dout, ly->dout, ly->node);
    ly->b = k;
    ly->from_matmul = 0;
    ch->cur = n->out[0];
    return 0;
}

static int op_activation(ox_chain *ch, const ox_node *n, size_t i, cr_activation act) {
    ox_ctx *c = ch->c;
    if (ch->stage != ST_LINEAR)
        return cr_error_set(c->err, "%s: %s is not right after a linear layer (only one "
                                    "activation follows each Gemm or MatMul)", c->file,
                            where(n, i).s);
    ch->layer[ch->L - 1].act = (int)act;
    ch->layer[ch->L - 1].from_matmul = 0;
    ch->stage = ST_ACT;
    ch->cur = n->out[0];
    return 0;
}

static int op_softmax(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    if (ch->stage != ST_LINEAR && ch->stage != ST_ACT)
        return cr_error_set(c->err, "%s: %s must follow the last linear layer or its activation",
                            c->file, where(n, i).s);
    int64_t axis = attr_i(n, "axis", ch->m->opset >= 13 ? -1 : 1);
    if (axis != 1 && axis != -1)
        return cr_error_set(c->err, "%s: %s: axis %lld is not the class axis of [N, K]", c->file,
                            where(n, i).s, (long long)axis);
    ch->layer[ch->L - 1].from_matmul = 0;
    ch->stage = ST_SOFTMAX;
    ch->cur = n->out[0];
    return 0;
}

static int walk_node(ox_chain *ch, size_t i) {
    ox_ctx *c = ch->c;
    const ox_node *n = &ch->m->nodes[i];
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return cr_error_set(c->err, "%s: unsupported op '%s.%s' (node %zu '%s')", c->file,
                            pn(n->domain).s, pn(n->op).s, i, pn(n->name).s);
    if (is_op(n, "Constant")) return op_constant(ch, n, i);
    if (is_shape_op(n)) return op_shapeval(ch, n, i);
    static const char *const known[] = {"Gemm",    "MatMul",     "Add",     "Sub",     "Mul",
                                        "Div",     "Relu",       "Sigmoid", "Tanh",    "Softmax",
                                        "LogSoftmax", "Flatten", "Reshape", "Identity", "Dropout"};
    int k = -1;
    for (size_t q = 0; q < sizeof known / sizeof known[0]; q++)
        if (is_op(n, known[q])) k = (int)q;
    if (k < 0)
        return cr_error_set(c->err, "%s: unsupported op '%s' (node %zu '%s'); chainrule reads "
                                    "MLPs: Gemm, MatMul, Add, Sub, Mul, Div, Relu, Sigmoid, Tanh, "
                                    "Softmax, LogSoftmax, Flatten, Reshape, Identity, Dropout, "
                                    "Constant (and Shape, Gather, Unsqueeze, Squeeze, Concat, "
                                    "Cast for a reshape to [N, -1])", c->file, pn(n->op).s, i,
                            pn(n->name).s);
    if (n->n_out < 1 || !n->out[0][0])
        return cr_error_set(c->err, "%s: %s has no output", c->file, where(n, i).s);
    /* every input is the chain's value or a constant (or omitted: "") */
    int uses_chain = 0;
    for (size_t q = 0; q < n->n_in; q++) {
        if (!n->in[q][0]) continue;
        if (!strcmp(n->in[q], ch->cur)) uses_chain = 1;
        else if (!find_const(ch, n->in[q]) && !find_shapeval(ch, n->in[q]))
            return cr_error_set(c->err, "%s: %s: input '%s' is neither the chain's current value "
                                        "'%s' nor a constant (the graph must be one chain from "
                                        "its input to its output)", c->file, where(n, i).s,
                                pn(n->in[q]).s, pn(ch->cur).s);
    }
    for (size_t q = 0; q < n->n_out; q++)
        if (n->out[q][0] && (find_const(ch, n->out[q]) || find_shapeval(ch, n->out[q]) ||
                             !strcmp(n->out[q], ch->cur)))
            return cr_error_set(c->err, "%s: %s: output '%s' redefines an existing value",
                                c->file, where(n, i).s, pn(n->out[q]).s);
    if (!uses_chain)
        return cr_error_set(c->err, "%s: %s computes on constants only (not supported)", c->file,
                            where(n, i).s);
    if (is_op(n, "Identity") || is_op(n, "Dropout")) {
        if (strcmp(n->in[0], ch->cur))
            return cr_error_set(c->err, "%s: %s: its first input must be the chain's value",
                                c->file, where(n, i).s);
        if (is_op(n, "Dropout") && n->n_in == 3 && n->in[2][0]) {
            const ox_tensor *tm = find_const(ch, n->in[2]);
            if (!tm || tm->count != 1 || tval(tm, 0) != 0)
                return cr_error_set(c->err, "%s: %s: training_mode must be false", c->file,
                                    where(n, i).s);
        }
        ch->cur = n->out[0];
        return 0;
    }
    if (is_op(n, "Flatten") || is_op(n, "Reshape")) {
        if (strcmp(n->in[0], ch->cur))
            return cr_error_set(c->err, "%s: %s: its first input must be the chain's value",
                                c->file, where(n, i).s);
        return op_flatten(ch, n, i);
    }
    if (is_op(n, "Gemm") || is_op(n, "MatMul")) return op_linear(ch, n, i);
    if (is_op(n, "Relu")) return op_activation(ch, n, i, CR_ACT_RELU);
    if (is_op(n, "Sigmoid")) return op_activation(ch, n, i, CR_ACT_SIGMOID);
    if (is_op(n, "Tanh")) return op_activation(ch, n, i, CR_ACT_TANH);
    if (is_op(n, "Softmax") || is_op(n, "LogSoftmax")) return op_softmax(ch, n, i);
    /* Add, Sub, Mul, Div */
    if (ch->stage == ST_INPUT) return op_normalise(ch, n, i);
    if (ch->stage == ST_LINEAR && ch->layer[ch->L - 1].from_matmul && is_op(n, "Add"))
        return op_bias(ch, n, i);
    return cr_error_set(c->err, "%s: %s: arithmetic on the chain is supported only before the "
                                "first layer (folded into the input standardisation) and as the "
                                "bias right after a MatMul", c->file, where(n, i).s);
}

/* Builds the cr_net and the standardisation from a walked chain. */
static int build_model(ox_chain *ch, cr_model *out) {
    ox_ctx *c = ch->c;
    int L = ch->L;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation act[CR_MAX_LAYERS];
    dims[0] = ch->layer[0].din;
    for (int l = 0; l < L; l++) {
        dims[l + 1] = ch->layer[l].dout;
        if (l + 1 < L) act[l] = (cr_activation)ch->layer[l].act;
    }
    for (int l = 0; l < L; l++) {
        const ox_tensor *ts[2] = {ch->layer[l].w, ch->layer[l].b};
        for (int q = 0; q < 2; q++)
            for (size_t e = 0; ts[q] && e < ts[q]->count; e++)
                if (!isfinite(tval(ts[q], e)))
                    return cr_error_set(c->err, "%s: tensor '%s' contains %s at index %zu",
                                        c->file, pn(ts[q]->name).s,
                                        isnan(tval(ts[q], e)) ? "NaN" : "Inf", e);
    }
    cr_dtype dt = ch->dtype == OX_DOUBLE ? CR_F64 : CR_F32;
    cr_net *net;
    cr_status s = cr_net_create(&net, dt, L, dims, act);
    /* the last layer's activation is the output activation; the head as the file says */
    const int out_act = ch->layer[L - 1].act;
    if (s == CR_OK &&
        (s = cr_net_set_output(net, out_act >= 0, out_act >= 0 ? (cr_activation)out_act : CR_ACT_SIGMOID,
                               ch->m->head >= 0 ? (cr_head)ch->m->head : CR_HEAD_SOFTMAX_CE)) != CR_OK)
        cr_net_free(net);
    if (s != CR_OK)
        return cr_error_set(c->err, "%s: cannot create the network: %s", c->file,
                            cr_status_string(s));
    for (int l = 0; l < L; l++) {
        const ox_layer *ly = &ch->layer[l];
        size_t din = ly->din, dout = ly->dout;
        for (size_t a = 0; a < din; a++)
            for (size_t b = 0; b < dout; b++) {
                size_t src = ly->w_out_in ? b * din + a : a * dout + b, dst = net->w_offset[l] + a * dout + b;
                if (dt == CR_F64) {
                    double v = ((const double *)ly->w->data)[src];
                    ((double *)net->params)[dst] = ly->alpha == 1.0 ? v : ly->alpha * v;
                } else {
                    float v = ((const float *)ly->w->data)[src];
                    ((float *)net->params)[dst] = ly->alpha == 1.0 ? v : (float)ly->alpha * v;
                }
            }
        for (size_t b = 0; b < dout; b++) {
            double v = ly->b ? tval(ly->b, ly->b->count == 1 ? 0 : b) : 0.0;
            if (ly->b && ly->beta != 1.0) v *= ly->beta;
            if (dt == CR_F64) ((double *)net->params)[net->b_offset[l] + b] = v;
            else ((float *)net->params)[net->b_offset[l] + b] = (float)v;
        }
    }
    for (size_t p = 0; p < net->n_params; p++) {
        double v = dt == CR_F64 ? ((double *)net->params)[p] : ((float *)net->params)[p];
        if (!isfinite(v)) {
            cr_net_free(net);
            return cr_error_set(c->err, "%s: a weight times alpha (or a bias times beta) "
                                        "overflows", c->file);
        }
    }
    memset(out, 0, sizeof *out);
    out->net = net;
    if (ch->mean) {
        cr_array_dtype adt = dt == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
        size_t shape[1] = {dims[0]};
        if (cr_array_alloc(&out->input_mean, adt, 1, shape, c->err) ||
            cr_array_alloc(&out->input_std, adt, 1, shape, c->err)) {
            cr_model_free(out);
            return cr_error_set(c->err, "%s: out of memory", c->file);
        }
        for (size_t f = 0; f < dims[0]; f++) {
            if (dt == CR_F64) {
                ((double *)out->input_mean.data)[f] = ch->mean[f];
                ((double *)out->input_std.data)[f] = ch->std[f];
            } else {
                float sd = (float)ch->std[f];
                if (!(sd > 0) || !isfinite(sd) || !isfinite((float)ch->mean[f])) {
                    cr_model_free(out);
                    return cr_error_set(c->err, "%s: the input standardisation does not fit "
                                                "float32", c->file);
                }
                ((float *)out->input_mean.data)[f] = (float)ch->mean[f];
                ((float *)out->input_std.data)[f] = sd;
            }
        }
    }
    return 0;
}

static int walk_graph(ox_ctx *c, ox_model *m, cr_model *out) {
    ox_chain ch;
    memset(&ch, 0, sizeof ch);
    ch.c = c;
    ch.m = m;
    ch.rank = -1;
    int rc = -1;
    for (size_t t = 0; t < m->n_inits; t++)
        if (!m->inits[t].name || !m->inits[t].name[0]) {
            cr_error_set(c->err, "%s: initializer %zu has no name", c->file, t);
            goto done;
        } else if (add_const(&ch, &m->inits[t]))
            goto done;
    /* the one graph input that is not an initializer (old opsets list both) */
    const ox_value *in = NULL;
    for (size_t v = 0; v < m->n_inputs; v++) {
        if (find_const(&ch, m->inputs[v].name)) continue;
        if (in) {
            cr_error_set(c->err, "%s: the graph has more than one input that is not an "
                                 "initializer ('%s', '%s'); chainrule networks take one", c->file,
                         pn(in->name).s, pn(m->inputs[v].name).s);
            goto done;
        }
        in = &m->inputs[v];
    }
    if (!in) {
        cr_error_set(c->err, "%s: the graph has no input (besides initializers)", c->file);
        goto done;
    }
    if (m->n_outputs != 1) {
        cr_error_set(c->err, "%s: the graph has %zu outputs; chainrule networks have one",
                     c->file, m->n_outputs);
        goto done;
    }
    if (in->elem_type && in->elem_type != OX_FLOAT && in->elem_type != OX_DOUBLE &&
        in->elem_type != OX_FLOAT16 && in->elem_type != OX_BFLOAT16) {
        cr_error_set(c->err, "%s: input '%s' has element type %d; float (1), double (11), "
                             "float16 (10) or bfloat16 (16) expected", c->file, pn(in->name).s,
                     in->elem_type);
        goto done;
    }
    ch.cur = in->name;
    if (in->ndim >= 0) {
        if (in->ndim < 2) {
            cr_error_set(c->err, "%s: input '%s' has %d dimension%s; expected [N, D] or [N, C, "
                                 "H, W] (N the batch)", c->file, pn(in->name).s, in->ndim,
                         in->ndim == 1 ? "" : "s");
            goto done;
        }
        ch.rank = in->ndim;
        ch.feat = 1;
        ch.shape[0] = in->dims[0];
        for (int d = 1; d < in->ndim; d++) {
            if (in->dims[d] <= 0 || !cr_mul_size(ch.feat, (size_t)in->dims[d], &ch.feat)) {
                cr_error_set(c->err, "%s: input '%s': dimension %d is not a fixed size (only the "
                                     "batch may be symbolic)", c->file, pn(in->name).s, d);
                goto done;
            }
            ch.shape[d] = in->dims[d];
        }
        /* the first layer's weight holds at least one value per feature, so a shape that
           claims more features than the largest tensor of the file is a lie (and the
           standardisation is never sized by an unchecked claim) */
        size_t most = 0;
        for (size_t t = 0; t < m->n_inits; t++)
            if (m->inits[t].count > most) most = m->inits[t].count;
        for (size_t i = 0; i < m->n_nodes; i++)
            for (size_t a = 0; a < m->nodes[i].n_attr; a++)
                if (m->nodes[i].attr[a].t && m->nodes[i].attr[a].t->count > most)
                    most = m->nodes[i].attr[a].t->count;
        if (ch.feat > most) {
            cr_error_set(c->err, "%s: input '%s' claims %zu features per example, more values "
                                 "than any weight in the file holds (%zu)", c->file,
                         pn(in->name).s, ch.feat, most);
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        if (walk_node(&ch, i)) goto done;
    if (ch.L == 0) {
        cr_error_set(c->err, "%s: the graph has no linear layer (Gemm or MatMul)", c->file);
        goto done;
    }
    if (strcmp(m->outputs[0].name, ch.cur)) {
        cr_error_set(c->err, "%s: the graph's output '%s' is not the end of the chain ('%s')",
                     c->file, pn(m->outputs[0].name).s, pn(ch.cur).s);
        goto done;
    }
    if (ch.stage == ST_SOFTMAX && m->head == CR_HEAD_SQUARED_ERROR) {
        cr_error_set(c->err, "%s: the graph ends in a softmax but its metadata_props say "
                             "chainrule.head = squared-error", c->file);
        goto done;
    }
    if (in->elem_type && in->elem_type != ch.file_dtype) {
        cr_error_set(c->err, "%s: input '%s' is %s but the weights are %s", c->file,
                     pn(in->name).s, dtype_name(in->elem_type), dtype_name(ch.file_dtype));
        goto done;
    }
    rc = build_model(&ch, out);
done:
    free(ch.consts);
    free(ch.svals);
    for (size_t t = 0; t < ch.n_owned; t++) {
        tensor_free(ch.owned[t]);
        free(ch.owned[t]);
    }
    free(ch.owned);
    free(ch.mean);
    free(ch.std);
    return rc;
}

/* dir: where external data files are (NULL: refused). */
static int onnx_parse(const char *name, const char *dir, const unsigned char *buf, size_t len,
                      cr_model *out, cr_error *err) {
    if (!out) return cr_error_set(err, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return cr_error_set(err, "%s: invalid argument", name);
    ox_ctx c = {name, dir, err};
    ox_model m;
    int rc = decode_model(&c, buf, len, &m);
    if (rc == 0) rc = walk_graph(&c, &m, out);
    model_free(&m);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

int cr_onnx_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out,
                  cr_error *err) {
    return onnx_parse(name ? name : "(onnx)", NULL, buf, len, out, err);
}

int cr_onnx_parse_file(const char *path, const unsigned char *buf, size_t len, cr_model *out,
                       cr_error *err) {
    if (!path) return cr_onnx_parse(NULL, buf, len, out, err);
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + (slash == path) : 0; /* "/m.onnx": "/" */
    char *dir = malloc(n + 1);
    if (!dir) {
        if (out) memset(out, 0, sizeof *out);
        return cr_error_set(err, "%s: out of memory", path);
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = onnx_parse(path, dir, buf, len, out, err);
    free(dir);
    return rc;
}

int cr_onnx_looks_like(const unsigned char *buf, size_t len) {
    /* the first field of a ModelProto: ir_version (varint 1), producer_name (2),
       producer_version (3), domain (4), model_version (varint 5), doc_string (6),
       graph (7) or opset_import (8) */
    if (len < 2) return 0;
    static const unsigned char tags[] = {0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42};
    return memchr(tags, buf[0], sizeof tags) != NULL;
}

/* ------------------------------------------------------------ writing */

/* TensorProto: name, dims, data type, raw little-endian data. */
static void put_tensor(cr_pb_writer *w, const char *name, int ndim, const size_t *dims,
                       cr_dtype dt, const void *data, size_t count) {
    cr_pb_writer t = {0};
    for (int d = 0; d < ndim; d++) cr_pb_put_varint(&t, 1, dims[d]);
    cr_pb_put_varint(&t, 2, dt == CR_F64 ? OX_DOUBLE : OX_FLOAT);
    cr_pb_put_string(&t, 8, name);
    size_t es = cr_dtype_size(dt), bytes = count * es;
    unsigned char *raw = malloc(bytes ? bytes : 1);
    if (!raw) {
        t.oom = 1;
    } else {
        for (size_t i = 0; i < count; i++) {
            const unsigned char *src = (const unsigned char *)data + i * es;
            if (dt == CR_F64) {
                uint64_t u;
                memcpy(&u, src, 8);
                cr_io_put_le64(raw + i * 8, u);
            } else {
                uint32_t u;
                memcpy(&u, src, 4);
                cr_io_put_le32(raw + i * 4, u);
            }
        }
        cr_pb_put_bytes(&t, 9, raw, bytes);
        free(raw);
    }
    cr_pb_put_message(w, 5, &t);
    cr_pb_writer_free(&t);
}

/* NodeProto with up to 3 inputs and an optional int attribute. */
static void put_node(cr_pb_writer *g, const char *op, const char *name, const char *const *in,
                     int n_in, const char *out, const char *attr, int64_t attr_value) {
    cr_pb_writer n = {0};
    for (int i = 0; i < n_in; i++) cr_pb_put_string(&n, 1, in[i]);
    cr_pb_put_string(&n, 2, out);
    cr_pb_put_string(&n, 3, name);
    cr_pb_put_string(&n, 4, op);
    if (attr) {
        cr_pb_writer a = {0};
        cr_pb_put_string(&a, 1, attr);
        cr_pb_put_varint(&a, 3, (uint64_t)attr_value);
        cr_pb_put_varint(&a, 20, 2); /* AttributeProto.INT */
        cr_pb_put_message(&n, 5, &a);
        cr_pb_writer_free(&a);
    }
    cr_pb_put_message(g, 1, &n);
    cr_pb_writer_free(&n);
}

/* ValueInfoProto name: tensor of elem type, shape [batch (symbolic), d]. */
static void put_value(cr_pb_writer *g, uint32_t field, const char *name, cr_dtype dt, size_t d) {
    cr_pb_writer v = {0}, type = {0}, tt = {0}, shape = {0}, d0 = {0}, d1 = {0};
    cr_pb_put_string(&d0, 2, "N");
    cr_pb_put_varint(&d1, 1, d);
    cr_pb_put_message(&shape, 1, &d0);
    cr_pb_put_message(&shape, 1, &d1);
    cr_pb_put_varint(&tt, 1, dt == CR_F64 ? OX_DOUBLE : OX_FLOAT);
    cr_pb_put_message(&tt, 2, &shape);
    cr_pb_put_message(&type, 1, &tt);
    cr_pb_put_string(&v, 1, name);
    cr_pb_put_message(&v, 2, &type);
    cr_pb_put_message(g, field, &v);
    cr_pb_writer_free(&v);
    cr_pb_writer_free(&type);
    cr_pb_writer_free(&tt);
    cr_pb_writer_free(&shape);
    cr_pb_writer_free(&d0);
    cr_pb_writer_free(&d1);
}

int cr_onnx_encode(const char *path, const cr_model *model, unsigned char **out, size_t *out_len,
                   cr_error *err) {
    if (!path) path = "(onnx)";
    if (!out || !out_len) return cr_error_set(err, "%s: invalid argument", path);
    *out = NULL;
    *out_len = 0;
    if (!model || !model->net) return cr_error_set(err, "%s: no network to save", path);
    const cr_net *net = model->net;
    int L = net->n_layers;
    if (L < 1 || L > CR_MAX_LAYERS || (net->dtype != CR_F32 && net->dtype != CR_F64))
        return cr_error_set(err, "%s: invalid network", path);
    for (int l = 0; l + 1 < L; l++)
        if (net->act[l] != CR_ACT_RELU && net->act[l] != CR_ACT_TANH &&
            net->act[l] != CR_ACT_SIGMOID)
            return cr_error_set(err, "%s: hidden layer %d's activation %s is not written to ONNX "
                                     "(relu, tanh and sigmoid are)", path, l + 1,
                                cr_activation_name(net->act[l]));
    cr_dtype dt = net->dtype;
    size_t es = cr_dtype_size(dt), D = net->dims[0];
    int norm = model->input_mean.data && model->input_std.data;
    if (norm && (model->input_mean.count != D || model->input_std.count != D))
        return cr_error_set(err, "%s: input.mean/std do not have %zu entries", path, D);
    const int plain = cr_net_is_plain_classifier(net);
    static const char *const onnx_act[CR_ACT_COUNT] = {[CR_ACT_RELU] = "Relu",
                                                      [CR_ACT_SIGMOID] = "Sigmoid",
                                                      [CR_ACT_TANH] = "Tanh"};
    if (net->has_out_act && ((unsigned)net->out_act >= CR_ACT_COUNT || !onnx_act[net->out_act]))
        return cr_error_set(err, "%s: the output activation %s has no ONNX op in opset 13", path,
                            cr_activation_name(net->out_act));
    const char *out_name = plain ? "logits" : "output";
    cr_pb_writer g = {0}, m = {0}, ops = {0};
    char prev[32] = "input", cur[32], wn[32], bn[32], nm[32];
    cr_pb_put_string(&g, 2, "chainrule");
    /* standardisation: (input - mean) / std, constants in the net's dtype */
    void *mean = NULL, *sd = NULL;
    if (norm) {
        mean = malloc(D * es);
        sd = malloc(D * es);
        if (!mean || !sd) g.oom = 1;
        for (size_t f = 0; mean && sd && f < D; f++) {
            double mv = model->input_mean.dtype == CR_ARRAY_F64
                            ? ((const double *)model->input_mean.data)[f]
                            : ((const float *)model->input_mean.data)[f];
            double sv = model->input_std.dtype == CR_ARRAY_F64
                            ? ((const double *)model->input_std.data)[f]
                            : ((const float *)model->input_std.data)[f];
            if (dt == CR_F64) ((double *)mean)[f] = mv, ((double *)sd)[f] = sv;
            else ((float *)mean)[f] = (float)mv, ((float *)sd)[f] = (float)sv;
        }
        const char *sub_in[2] = {"input", "input.mean"}, *div_in[2] = {"centered", "input.std"};
        put_node(&g, "Sub", "standardise_sub", sub_in, 2, "centered", NULL, 0);
        put_node(&g, "Div", "standardise_div", div_in, 2, "standardised", NULL, 0);
        strcpy(prev, "standardised");
    }
    for (int l = 0; l < L; l++) {
        snprintf(wn, sizeof wn, "fc%d.weight", l + 1);
        snprintf(bn, sizeof bn, "fc%d.bias", l + 1);
        snprintf(nm, sizeof nm, "fc%d", l + 1);
        snprintf(cur, sizeof cur, "%s", l + 1 < L ? nm : net->has_out_act ? "theta" : out_name);
        const char *in[3] = {prev, wn, bn};
        put_node(&g, "Gemm", nm, in, 3, cur, "transB", 1);
        strcpy(prev, cur);
        if (l + 1 < L) {
            const char *an = cr_activation_name(net->act[l]);
            const char *op = net->act[l] == CR_ACT_RELU ? "Relu"
                             : net->act[l] == CR_ACT_TANH ? "Tanh" : "Sigmoid";
            snprintf(cur, sizeof cur, "%s%d", an, l + 1);
            const char *ain[1] = {prev};
            put_node(&g, op, cur, ain, 1, cur, NULL, 0);
            strcpy(prev, cur);
        }
    }
    if (net->has_out_act) { /* o = a_out(θ) */
        const char *ain[1] = {"theta"};
        put_node(&g, onnx_act[net->out_act], "output_activation", ain, 1, out_name, NULL, 0);
    }
    /* initializers: the weights [out, in] (transposed back from the net's [in, out]) */
    for (int l = 0; l < L && !g.oom; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1], shape[2] = {dout, din};
        unsigned char *wt = malloc(din * dout * es);
        if (!wt) {
            g.oom = 1;
            break;
        }
        const unsigned char *p = (const unsigned char *)net->params + net->w_offset[l] * es;
        for (size_t j = 0; j < dout; j++)
            for (size_t i = 0; i < din; i++) memcpy(wt + (j * din + i) * es, p + (i * dout + j) * es, es);
        snprintf(wn, sizeof wn, "fc%d.weight", l + 1);
        snprintf(bn, sizeof bn, "fc%d.bias", l + 1);
        put_tensor(&g, wn, 2, shape, dt, wt, din * dout);
        free(wt);
        put_tensor(&g, bn, 1, &dout, dt, (const unsigned char *)net->params + net->b_offset[l] * es,
                   dout);
    }
    if (norm && mean && sd) {
        put_tensor(&g, "input.mean", 1, &D, dt, mean, D);
        put_tensor(&g, "input.std", 1, &D, dt, sd, D);
    }
    free(mean);
    free(sd);
    put_value(&g, 11, "input", dt, D);
    put_value(&g, 12, out_name, dt, net->dims[L]);
    cr_pb_put_varint(&m, 1, 7); /* ir_version 7 (opset 13) */
    cr_pb_put_string(&m, 2, "chainrule");
    cr_pb_put_string(&m, 3, CR_VERSION_STRING);
    cr_pb_put_message(&m, 7, &g);
    cr_pb_put_string(&ops, 1, "");
    cr_pb_put_varint(&ops, 2, 13);
    cr_pb_put_message(&m, 8, &ops);
    cr_pb_writer meta = {0};
    if (!plain) { /* metadata_props: StringStringEntryProto {key 1, value 2} */
        cr_pb_put_string(&meta, 1, "chainrule.head");
        cr_pb_put_string(&meta, 2, cr_head_name(net->head));
        cr_pb_put_message(&m, 14, &meta);
    }
    cr_pb_writer_free(&meta);
    int rc = -1;
    if (m.oom) {
        cr_error_set(err, "%s: out of memory", path);
    } else {
        *out = m.p;
        *out_len = m.len;
        m.p = NULL;
        rc = 0;
    }
    cr_pb_writer_free(&g);
    cr_pb_writer_free(&m);
    cr_pb_writer_free(&ops);
    return rc;
}

int cr_onnx_write(const char *path, const cr_model *model, cr_error *err) {
    if (!path) return cr_error_set(err, "(null): invalid output path");
    unsigned char *buf;
    size_t len;
    if (cr_onnx_encode(path, model, &buf, &len, err)) return -1;
    cr_atomic_file af;
    int rc = -1;
    if (cr_atomic_open(&af, path, err) == 0) {
        if (fwrite(buf, 1, len, (FILE *)af.fp) != len) {
            cr_atomic_abort(&af);
            cr_error_set(err, "%s: write error", path);
        } else {
            rc = cr_atomic_commit(&af, err);
        }
    }
    free(buf);
    return rc;
}
