/*
 * JSON models: a small network typed by hand (README "Typing a model as JSON").
 *
 *   {"layers": [{"W": [[0.1, 0.2], [0.3, 0.4]], "b": [0, 0], "activation": "sigmoid"},
 *               {"W": [[1], [-1]], "b": [0.5], "activation": "sigmoid"}],
 *    "head": "squared-error"}
 *
 * Layer l computes r = x W + b (W is [in][out]: row i holds the weights from
 * input i, W[i][j] joins input i to unit j, as in `chainrule explain`), or,
 * with "weight" instead of "W", PyTorch's nn.Linear layout [out][in]. "b" is
 * optional (zeros). "activation": a hidden layer's activation; the last
 * layer's is "softmax" (a classifier: softmax + cross-entropy, o = θ), or the
 * output activation ("sigmoid", ..., "none"/"identity") with the head
 * "head" (or "loss"), "squared-error" by default, or "softmax-cross-entropy".
 * Optional: "dtype" "float64" (default) or "float32"; "input": {"mean": [D],
 * "std": [D]} the input standardisation (x − mean) ⊘ std.
 *
 * Bounded like every parser: at most CR_MODEL_JSON_MAX_BYTES bytes, a nesting
 * depth of JSON_MAX_DEPTH and JSON_MAX_VALUES values, all counted by a scan of
 * the bytes before cJSON builds its tree (so the tree's size is bounded too);
 * unknown keys refused (a misspelt key is an error, not a default); every
 * number finite (and within float32's range for "dtype": "float32"); shapes
 * checked against each other before anything is allocated from them. The
 * parsed layers become a safetensors model in memory and go through the same
 * builder as a .safetensors file (model.c), so both give the same net.
 */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

#define JSON_MAX_DEPTH 8
#define JSON_MAX_VALUES 1000000u

int cr_model_json_looks_like(const unsigned char *buf, size_t len) {
    size_t i = 0;
    if (!buf) return 0;
    if (len >= 3 && buf[0] == 0xef && buf[1] == 0xbb && buf[2] == 0xbf) i = 3; /* UTF-8 BOM */
    /* text: no control byte below TAB in the first 8 (a safetensors header length has zeros) */
    for (size_t k = 0; k < len && k < 8; k++)
        if (buf[k] < 0x09) return 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')) i++;
    return i < len && buf[i] == '{';
}

static double real_of(cr_dtype t, const void *p, size_t i) {
    return t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

/* s for a one-line message: at most CR_IO_NAME_MAX bytes, control characters as '?'. */
static const char *printable(const char *s, char *buf, size_t size) {
    size_t n = 0;
    for (; s && s[n] && n + 1 < size && n < CR_IO_NAME_MAX; n++)
        buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    buf[n] = '\0';
    return buf;
}

/* The line (1-based) of byte pos. */
static size_t line_of(const unsigned char *buf, size_t pos) {
    size_t line = 1;
    for (size_t i = 0; i < pos; i++) line += buf[i] == '\n';
    return line;
}

/* Depth and value count of the JSON text, outside strings; NUL bytes refused. */
static int json_scan(const char *name, const unsigned char *buf, size_t len) {
    size_t depth = 0, values = 1;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = buf[i];
        if (c == 0)
            return cr_fail(CR_ERR_FORMAT, "%s: line %zu: a NUL byte (not a JSON text)", name,
                                line_of(buf, i));
        if (in_str) {
            if (esc) esc = 0;
            else if (c == '\\') esc = 1;
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') in_str = 1;
        else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH)
                return cr_fail(CR_ERR_FORMAT, "%s: line %zu: JSON nested deeper than %d levels (a "
                                         "model needs 4)", name, line_of(buf, i), JSON_MAX_DEPTH);
            values++;
        } else if (c == ']' || c == '}') {
            if (depth) depth--;
        } else if (c == ',' && ++values > JSON_MAX_VALUES) {
            return cr_fail(CR_ERR_FORMAT, "%s: more than %u JSON values (a JSON model is for small "
                                     "networks: save larger ones as safetensors or ONNX)", name,
                                JSON_MAX_VALUES);
        }
    }
    return 0;
}

typedef struct {
    const char *name; /* the file, for messages */
    int f32;          /* "dtype": "float32" */
} jctx;

/* A finite number (within float32's range for a float32 model) into *v. */
static int json_real(const jctx *c, const cJSON *it, const char *what, double *v) {
    if (!cJSON_IsNumber(it))
        return cr_fail(CR_ERR_FORMAT, "%s: %s is not a number", c->name, what);
    *v = it->valuedouble;
    if (!isfinite(*v))
        return cr_fail(CR_ERR_FORMAT, "%s: %s is not a finite number", c->name, what);
    if (c->f32 && !isfinite((float)*v))
        return cr_fail(CR_ERR_FORMAT, "%s: %s = %g is out of float32's range (\"dtype\": "
                                    "\"float32\")", c->name, what, *v);
    return 0;
}

/* A non-empty array of numbers; *out (malloc'd) has *n values. */
static int json_vector(const jctx *c, const cJSON *a, const char *what, size_t *n, double **out) {
    *out = NULL;
    if (!cJSON_IsArray(a))
        return cr_fail(CR_ERR_FORMAT, "%s: %s must be an array of numbers", c->name, what);
    int m = cJSON_GetArraySize(a);
    if (m <= 0) return cr_fail(CR_ERR_FORMAT, "%s: %s is empty", c->name, what);
    double *v = malloc((size_t)m * sizeof *v);
    if (!v) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
    size_t i = 0;
    char w[96];
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        snprintf(w, sizeof w, "%s[%zu]", what, i);
        if (json_real(c, it, w, &v[i])) {
            free(v);
            return -1;
        }
    }
    *n = (size_t)m;
    *out = v;
    return 0;
}

/* A non-empty array of equally long non-empty arrays of numbers: rows × cols, row-major. */
static int json_matrix(const jctx *c, const cJSON *a, const char *what, size_t *rows,
                       size_t *cols, double **out) {
    *out = NULL;
    if (!cJSON_IsArray(a) || !a->child)
        return cr_fail(CR_ERR_FORMAT, "%s: %s must be a non-empty array of rows (arrays of numbers)",
                            c->name, what);
    size_t r = (size_t)cJSON_GetArraySize(a), k = 0;
    if (!cJSON_IsArray(a->child))
        return cr_fail(CR_ERR_FORMAT, "%s: %s[0] must be an array of numbers (a row)", c->name, what);
    size_t n = (size_t)cJSON_GetArraySize(a->child), i = 0;
    if (n == 0) return cr_fail(CR_ERR_FORMAT, "%s: %s[0] is empty", c->name, what);
    for (const cJSON *row = a->child; row; row = row->next, i++)
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) != n)
            return cr_fail(CR_ERR_FORMAT, "%s: %s[%zu] must be a row of %zu numbers (as %s[0])",
                                c->name, what, i, n, what);
    double *v = malloc(r * n * sizeof *v); /* r·n ≤ JSON_MAX_VALUES: no overflow */
    if (!v) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
    char w[96];
    i = 0;
    for (const cJSON *row = a->child; row; row = row->next, i++) {
        size_t j = 0;
        for (const cJSON *it = row->child; it; it = it->next, j++, k++) {
            snprintf(w, sizeof w, "%s[%zu][%zu]", what, i, j);
            if (json_real(c, it, w, &v[k])) {
                free(v);
                return -1;
            }
        }
    }
    *rows = r;
    *cols = n;
    *out = v;
    return 0;
}

/* Refuses a key of obj not in keys (NULL-terminated), naming the place and the keys. */
static int json_keys(const jctx *c, const cJSON *obj, const char *where,
                     const char *const *keys, const char *list) {
    char pb[CR_IO_NAME_MAX + 1];
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (size_t k = 0; keys[k] && !ok; k++) ok = it->string && !strcmp(it->string, keys[k]);
        if (!ok)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: unknown key \"%s\" (expected %s)", c->name,
                                where, printable(it->string, pb, sizeof pb), list);
    }
    return 0;
}

/* Adds name = v (n0 × n1, or a vector when n1 == 0) to st in the model's dtype. */
static int st_add(const jctx *c, cr_safetensors *st, const char *name, const double *v, size_t n0,
                  size_t n1) {
    cr_array a = {0};
    size_t shape[2] = {n0, n1};
    if (cr_array_alloc(&a, c->f32 ? CR_ARRAY_F32 : CR_ARRAY_F64, n1 ? 2 : 1, shape))
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
    for (size_t i = 0; i < a.count; i++) {
        if (c->f32) ((float *)a.data)[i] = (float)v[i];
        else ((double *)a.data)[i] = v[i];
    }
    int rc = cr_safetensors_add(st, name, &a);
    cr_array_free(&a);
    return rc ? cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name) : 0;
}

static const char *string_of(const cJSON *o, const char *key) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Layer l of the JSON: its tensors fc{l+1}.weight [out, in] and .bias into st; dims[l] is
   its input width (0 for the first layer: taken from W), dims[l + 1] set; act its name. */
static int json_layer(const jctx *c, const cJSON *ly, int l, int L, size_t *dims,
                      cr_safetensors *st, char *act, size_t act_size) {
    static const char *const keys[] = {"W", "weight", "b", "bias", "activation", NULL};
    char where[48], what[64], tn[32];
    snprintf(where, sizeof where, "layers[%d]", l);
    if (!cJSON_IsObject(ly))
        return cr_fail(CR_ERR_FORMAT, "%s: %s must be an object {\"W\": ..., \"b\": ..., "
                                    "\"activation\": ...}", c->name, where);
    if (json_keys(c, ly, where, keys, "W (or weight), b (or bias), activation")) return -1;
    const cJSON *W = cJSON_GetObjectItemCaseSensitive(ly, "W"),
                *Wt = cJSON_GetObjectItemCaseSensitive(ly, "weight"),
                *b = cJSON_GetObjectItemCaseSensitive(ly, "b"),
                *bt = cJSON_GetObjectItemCaseSensitive(ly, "bias"),
                *a = cJSON_GetObjectItemCaseSensitive(ly, "activation");
    if (!W == !Wt)
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs one of \"W\" ([in][out]: row i holds input i's "
                                    "weights) or \"weight\" ([out][in], PyTorch's nn.Linear)",
                            c->name, where);
    if (b && bt)
        return cr_fail(CR_ERR_FORMAT, "%s: %s has both \"b\" and \"bias\"", c->name, where);
    if (!cJSON_IsString(a))
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs \"activation\": a name such as \"sigmoid\"%s",
                            c->name, where, l + 1 == L ? ", \"softmax\" or \"none\"" : "");
    snprintf(act, act_size, "%s", a->valuestring);
    snprintf(what, sizeof what, "%s.%s", where, W ? "W" : "weight");
    size_t r = 0, k = 0, din, dout;
    double *w, *bv = NULL;
    if (json_matrix(c, W ? W : Wt, what, &r, &k, &w)) return -1;
    din = W ? r : k;
    dout = W ? k : r;
    if (l > 0 && din != dims[l]) {
        free(w);
        return cr_fail(CR_ERR_FORMAT, "%s: %s has %zu %s (inputs) but layers[%d] has %zu outputs",
                            c->name, what, din, W ? "rows" : "columns", l - 1, dims[l]);
    }
    dims[l] = din;
    dims[l + 1] = dout;
    if (W) { /* [in][out] -> [out][in] */
        double *t = malloc(din * dout * sizeof *t);
        if (!t) {
            free(w);
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
        }
        for (size_t i = 0; i < din; i++)
            for (size_t j = 0; j < dout; j++) t[j * din + i] = w[i * dout + j];
        free(w);
        w = t;
    }
    size_t nb = dout;
    snprintf(what, sizeof what, "%s.%s", where, bt ? "bias" : "b");
    if ((b || bt) && json_vector(c, b ? b : bt, what, &nb, &bv)) {
        free(w);
        return -1;
    }
    if (nb != dout) {
        free(w), free(bv);
        return cr_fail(CR_ERR_FORMAT, "%s: %s has %zu values but the layer has %zu outputs", c->name,
                            what, nb, dout);
    }
    if (!bv && !(bv = calloc(dout, sizeof *bv))) {
        free(w);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
    }
    snprintf(tn, sizeof tn, "fc%d.weight", l + 1);
    int rc = st_add(c, st, tn, w, dout, din);
    snprintf(tn, sizeof tn, "fc%d.bias", l + 1);
    if (!rc) rc = st_add(c, st, tn, bv, dout, 0);
    free(w), free(bv);
    return rc;
}

/* "input": {"mean": [D], "std": [D]} into st as input.mean/input.std. */
static int json_input(const jctx *c, const cJSON *in, size_t D, cr_safetensors *st) {
    static const char *const keys[] = {"mean", "std", NULL};
    if (!cJSON_IsObject(in))
        return cr_fail(CR_ERR_FORMAT, "%s: \"input\" must be an object {\"mean\": [...], \"std\": "
                                    "[...]}", c->name);
    if (json_keys(c, in, "input", keys, "mean, std")) return -1;
    const char *nm[2] = {"mean", "std"};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(in, nm[k]);
        char what[32], tn[32];
        snprintf(what, sizeof what, "input.%s", nm[k]);
        if (!a) return cr_fail(CR_ERR_FORMAT, "%s: \"input\" needs both \"mean\" and \"std\"", c->name);
        size_t n;
        double *v;
        if (json_vector(c, a, what, &n, &v)) return -1;
        int rc = 0;
        if (n != D)
            rc = cr_fail(CR_ERR_FORMAT, "%s: %s has %zu values but the model has %zu inputs",
                              c->name, what, n, D);
        for (size_t i = 0; !rc && k == 1 && i < n; i++)
            if (!(v[i] > 0))
                rc = cr_fail(CR_ERR_FORMAT, "%s: input.std[%zu] is %g; a standard deviation must "
                                          "be > 0", c->name, i, v[i]);
        snprintf(tn, sizeof tn, "input.%s", nm[k]);
        if (!rc) rc = st_add(c, st, tn, v, n, 0);
        free(v);
        if (rc) return -1;
    }
    return 0;
}

/* The JSON tree as a chainrule safetensors model in st. */
static int json_to_st(jctx *c, const cJSON *root, cr_safetensors *st) {
    static const char *const keys[] = {"layers", "head", "loss", "dtype", "input", NULL};
    if (!cJSON_IsObject(root))
        return cr_fail(CR_ERR_FORMAT, "%s: a JSON model is an object {\"layers\": [...]}", c->name);
    if (json_keys(c, root, "the model", keys, "layers, head (or loss), dtype, input")) return -1;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "dtype");
    if (dt) {
        if (cJSON_IsString(dt) && !strcmp(dt->valuestring, "float32")) c->f32 = 1;
        else if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "float64") != 0)
            return cr_fail(CR_ERR_FORMAT, "%s: \"dtype\" must be \"float64\" (the default) or "
                                        "\"float32\"", c->name);
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers) || !layers->child)
        return cr_fail(CR_ERR_FORMAT, "%s: \"layers\" must be a non-empty array of layers {\"W\": "
                                    "[[...]], \"b\": [...], \"activation\": \"sigmoid\"}", c->name);
    int L = cJSON_GetArraySize(layers);
    if (L > CR_MAX_LAYERS)
        return cr_fail(CR_ERR_FORMAT, "%s: %d layers (at most %d)", c->name, L, CR_MAX_LAYERS);
    size_t dims[CR_MAX_LAYERS + 1] = {0};
    char acts[CR_MAX_LAYERS * 24] = "", act[24];
    size_t used = 0;
    int l = 0;
    for (const cJSON *ly = layers->child; ly; ly = ly->next, l++) {
        if (json_layer(c, ly, l, L, dims, st, act, sizeof act)) return -1;
        if (!strcmp(act, "identity") || !strcmp(act, "linear")) strcpy(act, "none");
        cr_activation a;
        const int last = l + 1 == L,
                  ok = cr_activation_parse(act, &a) == CR_OK ||
                       (last && (!strcmp(act, "softmax") || !strcmp(act, "none")));
        if (!ok) {
            char names[256], pb[CR_IO_NAME_MAX + 1];
            cr_activation_list_names(names, sizeof names, ", ", last ? ", " : " or ");
            return cr_fail(CR_ERR_FORMAT, "%s: layers[%d].activation \"%s\" is not %s (%s%s)",
                                c->name, l, printable(string_of(ly, "activation"), pb, sizeof pb),
                                last ? "an output activation" : "a hidden layer's activation",
                                names, last ? ", softmax or none" : "");
        }
        used += (size_t)snprintf(acts + used, sizeof acts - used, "%s%s", l ? "," : "", act);
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "head"),
                *ls = cJSON_GetObjectItemCaseSensitive(root, "loss");
    if (h && ls) return cr_fail(CR_ERR_FORMAT, "%s: both \"head\" and \"loss\" (give one)", c->name);
    if (!h) h = ls;
    cr_head head = CR_HEAD_SQUARED_ERROR;
    if (h && (!cJSON_IsString(h) || cr_head_parse(h->valuestring, &head) != CR_OK))
        return cr_fail(CR_ERR_FORMAT, "%s: \"%s\" must be \"squared-error\" or "
                                    "\"softmax-cross-entropy\"", c->name, ls ? "loss" : "head");
    const int softmax = !strcmp(act, "softmax");
    if (softmax && h && head != CR_HEAD_SOFTMAX_CE)
        return cr_fail(CR_ERR_FORMAT, "%s: the last activation \"softmax\" makes a classifier "
                                    "(softmax + cross-entropy); for squared error give the "
                                    "output activation (\"sigmoid\", \"none\", ...)", c->name);
    if (cr_safetensors_set_meta(st, "format", "chainrule/1") ||
        cr_safetensors_set_meta(st, "activations", acts) ||
        (!softmax && cr_safetensors_set_meta(st, "head", cr_head_name(head))))
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->name);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    return in ? json_input(c, in, dims[0], st) : 0;
}

cr_status cr_model_json_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out) {
    if (!name) name = "(model)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if (len > CR_MODEL_JSON_MAX_BYTES)
        return cr_fail(CR_ERR_FORMAT, "%s: a JSON model of %zu bytes (at most %u: save larger models as "
                                 "safetensors or ONNX)", name, len, CR_MODEL_JSON_MAX_BYTES);
    if (!cr_model_json_looks_like(buf, len))
        return cr_fail(CR_ERR_FORMAT, "%s: not a JSON model (expected an object {\"layers\": [...]})",
                            name);
    if (json_scan(name, buf, len)) return cr_io_status(-1);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf, len, &end, 0);
    if (!root) {
        size_t pos = end && end >= (const char *)buf && end <= (const char *)buf + len
                         ? (size_t)(end - (const char *)buf) : 0;
        return cr_fail(CR_ERR_FORMAT, "%s: line %zu: JSON syntax error", name, line_of(buf, pos));
    }
    size_t pos = (size_t)(end - (const char *)buf);
    while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t' || buf[pos] == '\n' || buf[pos] == '\r'))
        pos++;
    if (pos < len) {
        cJSON_Delete(root);
        return cr_fail(CR_ERR_FORMAT, "%s: line %zu: text after the JSON object", name,
                            line_of(buf, pos));
    }
    cr_safetensors st = {0};
    jctx c = {name, 0};
    int rc = json_to_st(&c, root, &st);
    cJSON_Delete(root);
    if (!rc) rc = cr_io_model_build(name, &st, out, 0);
    cr_safetensors_free(&st);
    return cr_io_status(rc);
}

/* ------------------------------------------------------------ writing */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} jbuf;

static void jb_put(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_put(jbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* The shortest %.Ng that reads back (strtod, then rounded to float for a float32 model,
   as the parser does) to the same value: 0.1f is written 0.1, not 0.100000001. */
static void jb_real(jbuf *b, cr_dtype t, const void *p, size_t i) {
    const double v = t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
    char num[40];
    for (int prec = t == CR_F64 ? 15 : 6; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        double back = strtod(num, NULL);
        if (t == CR_F64 ? back == v : (float)back == (float)v) break;
    }
    jb_put(b, "%s", num);
}

static void jb_vector(jbuf *b, cr_dtype t, const void *p, size_t off, size_t n) {
    jb_put(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) jb_put(b, ", ");
        jb_real(b, t, p, off + i);
    }
    jb_put(b, "]");
}

cr_status cr_model_json_encode(const char *name, const cr_model *model, char **buf, size_t *len) {
    if (!name) name = "(model)";
    if (!buf || !len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    *buf = NULL;
    *len = 0;
    const cr_net *net = model ? model->net : NULL;
    if (!net || cr_net_n_layers(net) < 1 || !cr_net_params_const(net))
        return cr_fail(CR_ERR_ARG, "%s: no network to save", name);
    const cr_dtype t = cr_net_dtype(net);
    for (int l = 1; l <= cr_net_n_layers(net); l++)
        if (cr_net_affine_form(net, l) != CR_AFFINE_NONE)
            return cr_fail(CR_ERR_FORMAT, "%s: the %s after layer %d has no JSON form (save the model "
                                     "as safetensors or ONNX)", name,
                                cr_affine_form_name(cr_net_affine_form(net, l)), l);
    const void *mean = NULL, *sd = NULL;
    if (cr_net_affine_form(net, 0) == CR_AFFINE_SUB_DIV) {
        mean = cr_net_link_vector(net, 0, 0);
        sd = cr_net_link_vector(net, 0, 1);
    } else if (cr_net_affine_form(net, 0) != CR_AFFINE_NONE) {
        return cr_fail(CR_ERR_FORMAT, "%s: the network's input link is %s; a JSON model stores only "
                                 "(x − mean) / std (save it as ONNX)", name,
                            cr_affine_form_name(cr_net_affine_form(net, 0)));
    } else if (model->input_mean.data && model->input_std.data) {
        return cr_fail(CR_ERR_FORMAT, "%s: the model's input.mean/input.std are not its network's "
                                 "input link (save it as safetensors)", name);
    }
    const void *params = cr_net_params_const(net);
    for (size_t i = 0, n_params = cr_net_n_params(net); i < n_params; i++)
        if (!isfinite(real_of(t, params, i)))
            return cr_fail(CR_ERR_FORMAT, "%s: refusing to save a network whose parameter %zu is not "
                                     "finite", name, i);
    jbuf b = {0};
    jb_put(&b, "{\n");
    if (t == CR_F32) jb_put(&b, "  \"dtype\": \"float32\",\n");
    jb_put(&b, "  \"layers\": [\n");
    const int L = cr_net_n_layers(net), plain = cr_net_is_plain_classifier(net);
    for (int l = 0; l < L; l++) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        jb_put(&b, "    {\"W\": [");
        for (size_t i = 0; i < din; i++) {
            jb_put(&b, "%s", i ? ",\n           " : "");
            jb_vector(&b, t, cr_net_weight_const(net, l), i * dout, dout);
        }
        jb_put(&b, "],\n     \"b\": ");
        jb_vector(&b, t, cr_net_bias_const(net, l), 0, dout);
        const char *a = l + 1 < L               ? cr_activation_name(cr_net_activation(net, l)) :
            plain                               ? "softmax" :
            cr_net_output_activation(net, NULL) ? cr_activation_name(cr_net_activation(net, cr_net_n_layers(net) - 1)) :
                                                  "none";
        jb_put(&b, ",\n     \"activation\": \"%s\"}%s\n", a, l + 1 < L ? "," : "");
    }
    jb_put(&b, "  ]");
    if (!plain) jb_put(&b, ",\n  \"head\": \"%s\"", cr_head_name(cr_net_head(net)));
    if (mean) {
        jb_put(&b, ",\n  \"input\": {\"mean\": ");
        jb_vector(&b, t, mean, 0, cr_net_width(net, 0));
        jb_put(&b, ",\n            \"std\": ");
        jb_vector(&b, t, sd, 0, cr_net_width(net, 0));
        jb_put(&b, "}");
    }
    jb_put(&b, "\n}\n");
    if (b.oom) {
        free(b.p);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
    }
    *buf = b.p;
    *len = b.len;
    return CR_OK;
}

cr_status cr_model_json_write(const char *path, const cr_model *model) {
    if (!path) return cr_fail(CR_ERR_ARG, "(null): invalid output path");
    char *buf;
    size_t len;
    if (cr_model_json_encode(path, model, &buf, &len)) return cr_io_status(-1);
    cr_atomic_file af;
    if (cr_atomic_open(&af, path)) {
        free(buf);
        return cr_io_status(-1);
    }
    if (fwrite(buf, 1, len, (FILE *)af.fp) != len) {
        cr_atomic_abort(&af);
        free(buf);
        return cr_fail(CR_ERR_IO, "%s: write failed", path);
    }
    free(buf);
    return cr_io_status(cr_atomic_commit(&af));
}
