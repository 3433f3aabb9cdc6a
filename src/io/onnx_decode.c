/*
 * ONNX decoding: the ModelProto is decoded by the bounded protobuf reader
 * (protobuf.c) into the few messages an MLP needs (graph, nodes, attributes,
 * initializers, value infos). Field numbers (checked against python3-onnx's
 * descriptors):
 *   ModelProto      ir_version 1, producer_name 2, graph 7, opset_import 8
 *   OperatorSetId   domain 1, version 2
 *   GraphProto      node 1, name 2, initializer 5, input 11, output 12
 *   NodeProto       input 1, output 2, name 3, op_type 4, attribute 5, domain 7
 *   AttributeProto  name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
 *   TensorProto     dims 1, data_type 2, segment 3, float_data 4, int32_data 5,
 *                   int64_data 7, name 8, raw_data 9, double_data 10,
 *                   external_data 13, data_location 14 (EXTERNAL 1)
 *   StringStringEntryProto key 1, value 2 (external_data: location, offset, length)
 *   ValueInfoProto  name 1, type 2;  TypeProto tensor_type 1;
 *   TypeProto.Tensor elem_type 1, shape 2;  TensorShapeProto dim 1;
 *   Dimension       dim_value 1, dim_param 2
 *   TensorProto.DataType FLOAT 1, INT32 6, INT64 7, FLOAT16 10, DOUBLE 11,
 *                   BFLOAT16 16 (16-bit types: raw_data, or one pattern per int32_data)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "onnx_internal.h"
#include "protobuf.h"

static int get_string(ox_ctx *c, const cr_pb_field *f, const char *where, char **out) {
    if (f->wire != CR_PB_LEN) return bad(c, where, "expected a string");
    if (f->s.len > OX_MAX_NAME) return bad(c, where, "string longer than 4096 bytes");
    if (memchr(f->s.p, 0, f->s.len)) return bad(c, where, "string contains a NUL byte");
    char *s = malloc(f->s.len + 1);
    if (!s) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    memcpy(s, f->s.p, f->s.len);
    s[f->s.len] = '\0';
    free(*out); /* protobuf: the last occurrence wins */
    *out = s;
    return 0;
}

void ox_tensor_free(ox_tensor *t) {
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
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data %s '%s' is not a byte count",
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
            cr_fail(CR_ERR_FORMAT, "%s: segmented tensors are not supported", c->file);
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
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' has %zu dimensions (at most %d)", c->file,
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
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' has data type %llu; supported: float (1), double "
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
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' has a negative dimension %lld", c->file,
                         pn(t->name).s, (long long)t->dims[i]);
            goto fail;
        }
        if ((uint64_t)t->dims[i] > SIZE_MAX || cr_mul_size(count, (size_t)t->dims[i], &count) != CR_OK) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': the element count overflows", c->file,
                         pn(t->name).s);
            goto fail;
        }
    }
    t->count = count;
    if (location > 1) {
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': data_location %llu is neither DEFAULT (0) nor "
                             "EXTERNAL (1)", c->file, pn(t->name).s, (unsigned long long)location);
        goto fail;
    }
    if (location == 1) { /* the data is raw_data kept in another file */
        size_t need;
        if (have_raw || n_typed[0] || n_typed[1] || n_typed[2] || n_typed[3] || !ext.location) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' is marked external but %s", c->file,
                         pn(t->name).s, ext.location ? "also holds data in the file"
                                                     : "names no location");
            goto fail;
        }
        if (cr_mul_size(count, es, &need) != CR_OK) {
            cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': the byte count overflows", c->file,
                         pn(t->name).s);
            goto fail;
        }
        if (ox_read_external(c, t->name, &ext, need, &ext_buf)) goto fail;
        raw.p = ext_buf;
        raw.len = need;
        have_raw = 1;
    }
    size_t have = have_raw ? raw.len / es : n_typed[k];
    if ((have_raw && raw.len % es) || have != count) {
        char shp[160];
        size_t sh[OX_MAX_DIMS];
        for (size_t i = 0; i < nd; i++) sh[i] = (size_t)t->dims[i];
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' of shape %s needs %zu values but holds %s%zu%s",
                     c->file, pn(t->name).s, cr_io_shape_str(sh, (int)nd, shp, sizeof shp), count,
                     have_raw ? "" : "", have_raw ? raw.len : have,
                     have_raw ? " bytes of raw_data" : "");
        goto fail;
    }
    /* count <= bytes present, so this allocation is bounded by the file */
    t->data = malloc(count ? count * store : 1);
    if (!t->data) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
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
            cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
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
                cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': int32_data value %llu at index %zu is not "
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
    ox_tensor_free(t);
    return -1;
}

static void attr_free(ox_attr *a) {
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    if (a->t) ox_tensor_free(a->t);
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
        case 4: /* a short string (Gelu's approximate); others are kept as NULL, as before */
            free(a->s);
            a->s = NULL;
            if (f.wire == CR_PB_LEN && f.s.len <= 64 && !memchr(f.s.p, 0, f.s.len)) {
                if (!(a->s = malloc(f.s.len + 1)))
                    return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
                memcpy(a->s, f.s.p, f.s.len);
                a->s[f.s.len] = '\0';
            }
            break;
        case 5:
            if (a->t) return bad(c, W, "more than one tensor");
            if (!(a->t = malloc(sizeof *a->t)))
                return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
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
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
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
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
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
                        return cr_fail(CR_ERR_FORMAT, "%s: value '%s' has more than %d dimensions",
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

void ox_model_free(ox_model *m) {
    for (size_t i = 0; i < m->n_nodes; i++) node_free(&m->nodes[i]);
    for (size_t i = 0; i < m->n_inits; i++) ox_tensor_free(&m->inits[i]);
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
            return cr_fail(CR_ERR_FORMAT, "%s: sparse initializers are not supported", c->file);
    }
    if (rc < 0) return bad(c, W, why);
    if (nn > OX_MAX_NODES || ni > OX_MAX_TENSORS || nin > OX_MAX_VALUES || nout > OX_MAX_VALUES)
        return cr_fail(CR_ERR_FORMAT, "%s: graph too large (%zu nodes, %zu initializers, %zu "
                                    "inputs, %zu outputs; at most %d, %d, %d, %d)", c->file, nn,
                            ni, nin, nout, OX_MAX_NODES, OX_MAX_TENSORS, OX_MAX_VALUES,
                            OX_MAX_VALUES);
    m->nodes = calloc(nn ? nn : 1, sizeof *m->nodes);
    m->inits = calloc(ni ? ni : 1, sizeof *m->inits);
    m->inputs = calloc(nin ? nin : 1, sizeof *m->inputs);
    m->outputs = calloc(nout ? nout : 1, sizeof *m->outputs);
    if (!m->nodes || !m->inits || !m->inputs || !m->outputs)
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    r = r0;
    while (cr_pb_next(&r, &f, &why) == 1) {
        int e = 0;
        if (f.field == 1) {
            e = decode_node(c, &r, &f, &m->nodes[m->n_nodes]);
            m->n_nodes++; /* freed by ox_model_free even when partial */
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

int ox_decode_model(ox_ctx *c, const unsigned char *buf, size_t len, ox_model *m) {
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
                if (cr_head_parse(v, &h) != CR_OK)
                    return cr_fail(CR_ERR_FORMAT, "%s: metadata_props chainrule.head is not "
                                                "softmax-cross-entropy or squared-error", c->file);
                m->head = (int)h;
            }
        }
    }
    if (rc < 0) return bad(c, W, why);
    if (!have_graph) return bad(c, W, "no graph");
    if (m->opset < 0)
        return cr_fail(CR_ERR_FORMAT, "%s: the model imports no opset of the default ONNX domain",
                            c->file);
    if (m->opset < OX_MIN_OPSET || m->opset > OX_MAX_OPSET)
        return cr_fail(CR_ERR_FORMAT, "%s: opset %lld is not supported (opsets %d to %d are)",
                            c->file, (long long)m->opset, OX_MIN_OPSET, OX_MAX_OPSET);
    return decode_graph(c, &r, &graph, m);
}
