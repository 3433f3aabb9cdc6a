/*
 * Models: safetensors with fc{i}.weight [out, in] and fc{i}.bias [out]
 * (PyTorch nn.Linear layout, i 1-based), all F32 or all F64, metadata
 * "format" = "chainrule/1", "activations" = "sigmoid,...,softmax" and, as
 * written by cr_model_save, "layers" = "784,128,10". The core's cr_net keeps
 * W as [in x out] (r = x W + b), so weights are transposed on load and save.
 *
 * The output and the head: the last entry of "activations" is "softmax" for
 * today's classifier (o = θ, softmax + cross-entropy on top; no "head" key,
 * so such files are byte for byte what they always were). Otherwise it names
 * the output activation ("relu", "sigmoid", ..., or "none" for o = θ) and the
 * metadata "head" says what the loss does with o: "softmax-cross-entropy" or
 * "squared-error" (cr_head_name). Readers that predate this refuse such a
 * file (its last activation is not "softmax") instead of misreading it.
 *
 * BatchNorm (inference) after linear layer i is stored under PyTorch's
 * BatchNorm1d names, bn{i}.weight, .bias, .running_mean, .running_var and
 * metadata "bn{i}.eps" (model_batchnorm.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

#define MODEL_FORMAT "chainrule/1"

/* "fc<i>.weight" / "fc<i>.bias" with i a decimal without leading zero; returns i (> 0)
   and sets *is_bias, or 0 when the name is not a layer tensor. Large i saturate. */
static int parse_fc(const char *name, int *is_bias) {
    if (strncmp(name, "fc", 2) != 0 || name[2] < '1' || name[2] > '9') return 0;
    const char *p = name + 2;
    long v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v < 1000000) v = v * 10 + (*p - '0');
        p++;
    }
    if (strcmp(p, ".weight") == 0) *is_bias = 0;
    else if (strcmp(p, ".bias") == 0) *is_bias = 1;
    else return 0;
    return (int)v;
}

static int is_model_tensor(const char *name) {
    int b;
    return parse_fc(name, &b) > 0 || cr_io_bn_tensor(name, NULL) > 0 || strcmp(name, "input.mean") == 0 ||
           strcmp(name, "input.std") == 0;
}

static int is_model_meta(const char *key) {
    return strcmp(key, "format") == 0 || strcmp(key, "activations") == 0 ||
           strcmp(key, "layers") == 0 || strcmp(key, "head") == 0 || cr_io_bn_meta(key) > 0;
}

static void dims_str(const size_t *dims, int n_layers, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l <= n_layers && used < size; l++) {
        int n = snprintf(buf + used, size - used, "%s%zu", l ? "," : "", dims[l]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* Finite check of a F32/F64 array; on failure names the tensor. */
static int check_finite(const char *name, const char *tname, const cr_array *a) {
    for (size_t i = 0; i < a->count; i++) {
        double v = a->dtype == CR_ARRAY_F64 ? ((const double *)a->data)[i]
                                            : (double)((const float *)a->data)[i];
        if (isnan(v))
            return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' contains NaN at index %zu", name, tname, i);
        if (isinf(v))
            return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' contains Inf at index %zu", name, tname, i);
    }
    return 0;
}

/* Scalar i of a real buffer of dtype t, as double / stored from a double. */
static double real_get(cr_dtype t, const void *p, size_t i) {
    return t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

static int copy_array(cr_array *dst, const cr_array *src) {
    size_t bytes;
    *dst = *src;
    dst->data = NULL;
    if (!cr_io_array_bytes(src, &bytes) || !(dst->data = malloc(bytes ? bytes : 1))) return -1;
    if (bytes) memcpy(dst->data, src->data, bytes);
    return 0;
}

/* Splits the activations list; returns the number of entries (<= max stored). */
static int split_acts(const char *s, char tok[][16], int max, int *too_long) {
    int n = 0;
    *too_long = 0;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        const char *a = s, *b = s + len;
        while (a < b && *a == ' ') a++;
        while (b > a && b[-1] == ' ') b--;
        if (n < max) {
            size_t m = (size_t)(b - a);
            if (m >= 16) {
                *too_long = 1;
                m = 15;
            }
            memcpy(tok[n], a, m);
            tok[n][m] = '\0';
        }
        n++;
        if (!c) break;
        s = c + 1;
    }
    return n;
}

/* A safetensors file without chainrule metadata: most likely a PyTorch state
   dict. Says what a model needs and that `convert` reads state dicts. */
static int state_dict_hint(const char *name, const cr_safetensors *st) {
    char list[200] = "";
    size_t used = 0;
    for (size_t t = 0; t < st->n_tensors && t < 3 && used < sizeof list; t++) {
        int n = snprintf(list + used, sizeof list - used, "%s'%.40s'", t ? ", " : "",
                         st->tensors[t].name);
        if (n > 0) used += (size_t)n;
    }
    for (size_t i = 0; i < used && i < sizeof list; i++)
        if ((unsigned char)list[i] < 0x20) list[i] = '?';
    if (st->n_tensors > 3 && used + 6 < sizeof list) strcat(list, ", ...");
    return cr_fail(CR_ERR_FORMAT, "%s: missing metadata \"format\" (expected \"" MODEL_FORMAT "\"); "
                             "not a chainrule model (fc1.weight, fc1.bias, ... with metadata "
                             "\"activations\") but tensors %s: if this is a PyTorch state dict, "
                             "chainrule convert --model %s --activations relu --out "
                             "model.safetensors reads it", name, st->n_tensors ? list : "(none)",
                        name);
}

cr_status cr_io_model_build(const char *name, const cr_safetensors *st, cr_model *out, int keep_extra) {
    memset(out, 0, sizeof *out);
    const char *fmt = cr_safetensors_meta(st, "format");
    if (!fmt)
        return cr_io_status(state_dict_hint(name, st));
    if (strcmp(fmt, MODEL_FORMAT) != 0)
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported format '%.*s' (expected '" MODEL_FORMAT "')",
                            name, CR_IO_NAME_MAX, fmt);

    const cr_tensor *W[CR_MAX_LAYERS] = {0}, *B[CR_MAX_LAYERS] = {0};
    const cr_tensor *mean = NULL, *sd = NULL;
    int L = 0;
    for (size_t t = 0; t < st->n_tensors; t++) {
        const cr_tensor *tn = &st->tensors[t];
        int is_bias, i = parse_fc(tn->name, &is_bias);
        if (i > CR_MAX_LAYERS)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': too many layers (at most %d)", name,
                                CR_IO_NAME_MAX, tn->name, CR_MAX_LAYERS);
        if (i > 0) {
            (is_bias ? B : W)[i - 1] = tn;
            if (i > L) L = i;
        } else if (strcmp(tn->name, "input.mean") == 0) {
            mean = tn;
        } else if (strcmp(tn->name, "input.std") == 0) {
            sd = tn;
        }
    }
    if (L == 0) return cr_fail(CR_ERR_FORMAT, "%s: no layers (missing tensor 'fc1.weight')", name);
    for (int l = 0; l < L; l++) {
        if (!W[l]) return cr_fail(CR_ERR_FORMAT, "%s: missing tensor 'fc%d.weight'", name, l + 1);
        if (!B[l]) return cr_fail(CR_ERR_FORMAT, "%s: missing tensor 'fc%d.bias'", name, l + 1);
    }

    /* arrays handed in directly (not parsed) must be self-consistent before we index them */
    for (int l = 0; l < L + 1; l++) {
        const cr_tensor *ts[2] = {l < L ? W[l] : mean, l < L ? B[l] : sd};
        for (int k = 0; k < 2; k++) {
            size_t bytes;
            if (ts[k] && (!cr_io_array_bytes(&ts[k]->array, &bytes) || (bytes && !ts[k]->array.data)))
                return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': inconsistent array (count, shape or "
                                         "data)", name, CR_IO_NAME_MAX, ts[k]->name);
        }
    }

    /* activations: L entries, hidden ones known, the last "softmax" */
    const char *acts = cr_safetensors_meta(st, "activations");
    if (!acts) return cr_fail(CR_ERR_FORMAT, "%s: missing metadata \"activations\"", name);
    char tok[CR_MAX_LAYERS][16];
    int too_long, na = split_acts(acts, tok, CR_MAX_LAYERS, &too_long);
    if (na != L)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata activations '%.*s' lists %d entries but the model "
                                 "has %d layers", name, CR_IO_NAME_MAX, acts, na, L);
    cr_activation act[CR_MAX_LAYERS];
    char names[256]; /* every activation's name, from the op table */
    cr_activation_list_names(names, sizeof names, ", ", " or ");
    for (int l = 0; l + 1 < L; l++)
        if (too_long || cr_activation_parse(tok[l], &act[l]) != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "%s: unknown activation '%s' for layer %d (expected %s)", name,
                                tok[l], l + 1, names);
    /* the output: "softmax" (o = θ, the softmax head), or the output activation ("none"
       for o = θ) with the head in the metadata "head" */
    int has_out_act = 0;
    cr_activation out_act = (cr_activation)0;
    cr_head head = CR_HEAD_SOFTMAX_CE;
    const char *head_s = cr_safetensors_meta(st, "head");
    if (too_long || (strcmp(tok[L - 1], "softmax") != 0 && strcmp(tok[L - 1], "none") != 0 &&
                     cr_activation_parse(tok[L - 1], &out_act) != CR_OK))
        return cr_fail(CR_ERR_FORMAT, "%s: last activation must be 'softmax' (a classifier), or the "
                                 "output activation (%s or none) with the metadata \"head\", "
                                 "got '%s'", name, (cr_activation_list_names(names, sizeof names, ", ", ", "), names),
                            tok[L - 1]);
    if (strcmp(tok[L - 1], "softmax") != 0) has_out_act = strcmp(tok[L - 1], "none") != 0;
    if (head_s && cr_head_parse(head_s, &head) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata head '%.*s' is not softmax-cross-entropy or "
                                 "squared-error", name, CR_IO_NAME_MAX, head_s);
    if (head_s && strcmp(tok[L - 1], "softmax") == 0)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata head '%.*s' with a last activation 'softmax' (a "
                                 "head goes with an output activation or 'none')", name,
                            CR_IO_NAME_MAX, head_s);

    /* dtypes */
    cr_array_dtype adt = W[0]->array.dtype;
    if (adt != CR_ARRAY_F32 && adt != CR_ARRAY_F64)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor 'fc1.weight' is %s; model weights must be float32 or "
                                 "float64", name, cr_array_dtype_name(adt));
    for (int l = 0; l < L; l++)
        for (int b = 0; b < 2; b++) {
            const cr_tensor *t = b ? B[l] : W[l];
            if (t->array.dtype != adt)
                return cr_fail(CR_ERR_FORMAT, "%s: mixed dtypes: tensor '%s' is %s but 'fc1.weight' "
                                         "is %s", name, t->name,
                                    cr_array_dtype_name(t->array.dtype), cr_array_dtype_name(adt));
        }

    /* shapes chain: fc{i}.weight [out, in] with in == previous out */
    size_t dims[CR_MAX_LAYERS + 1];
    char shp[160];
    for (int l = 0; l < L; l++) {
        const cr_array *w = &W[l]->array, *b = &B[l]->array;
        if (w->ndim != 2)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor 'fc%d.weight' must be 2-D [out, in], got shape %s",
                                name, l + 1, cr_io_shape_str(w->shape, w->ndim, shp, sizeof shp));
        if (w->shape[0] == 0 || w->shape[1] == 0)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor 'fc%d.weight' has an empty shape %s", name, l + 1,
                                cr_io_shape_str(w->shape, w->ndim, shp, sizeof shp));
        if (l == 0) {
            dims[0] = w->shape[1];
        } else if (w->shape[1] != dims[l]) {
            return cr_fail(CR_ERR_FORMAT, "%s: shape mismatch: tensor 'fc%d.weight' has shape %s but "
                                     "fc%d has %zu outputs (expected [%zu, %zu])", name, l + 1,
                                cr_io_shape_str(w->shape, w->ndim, shp, sizeof shp), l, dims[l],
                                w->shape[0], dims[l]);
        }
        dims[l + 1] = w->shape[0];
        if (b->ndim != 1 || b->shape[0] != dims[l + 1])
            return cr_fail(CR_ERR_FORMAT, "%s: shape mismatch: tensor 'fc%d.bias' has shape %s but "
                                     "fc%d.weight has %zu outputs (expected [%zu])", name, l + 1,
                                cr_io_shape_str(b->shape, b->ndim, shp, sizeof shp), l + 1,
                                dims[l + 1], dims[l + 1]);
    }
    char ds[CR_MAX_LAYERS * 24];
    dims_str(dims, L, ds, sizeof ds);
    const char *layers = cr_safetensors_meta(st, "layers");
    if (layers) {
        /* "784,128,10", also written as "[784, 128, 10]": compare the numbers only */
        char norm[CR_MAX_LAYERS * 24];
        size_t n = 0;
        for (const char *p = layers; *p && n + 1 < sizeof norm; p++)
            if (*p != '[' && *p != ']' && *p != ' ') norm[n++] = *p;
        norm[n] = '\0';
        if (strcmp(norm, ds) != 0)
            return cr_fail(CR_ERR_FORMAT, "%s: metadata layers '%.*s' does not match the tensor shapes "
                                     "%s (the widths fc1.weight [out, in], ... give: input, then "
                                     "each layer's outputs)", name, CR_IO_NAME_MAX, layers, ds);
    }

    for (int l = 0; l < L; l++)
        if (check_finite(name, W[l]->name, &W[l]->array) ||
            check_finite(name, B[l]->name, &B[l]->array))
            return cr_io_status(-1);

    /* optional input standardisation */
    const cr_tensor *in[2] = {mean, sd};
    for (int k = 0; k < 2; k++) {
        const cr_tensor *t = in[k];
        if (!t) continue;
        if (t->array.dtype != adt)
            return cr_fail(CR_ERR_FORMAT, "%s: mixed dtypes: tensor '%s' is %s but 'fc1.weight' is %s",
                                name, t->name, cr_array_dtype_name(t->array.dtype),
                                cr_array_dtype_name(adt));
        if (t->array.ndim != 1 || t->array.shape[0] != dims[0])
            return cr_fail(CR_ERR_FORMAT, "%s: shape mismatch: tensor '%s' has shape %s but the model "
                                     "has %zu inputs (expected [%zu])", name, t->name,
                                cr_io_shape_str(t->array.shape, t->array.ndim, shp, sizeof shp),
                                dims[0], dims[0]);
        if (check_finite(name, t->name, &t->array)) return cr_io_status(-1);
        if (k == 1)
            for (size_t i = 0; i < t->array.count; i++) {
                double v = adt == CR_ARRAY_F64 ? ((const double *)t->array.data)[i]
                                               : (double)((const float *)t->array.data)[i];
                if (!(v > 0))
                    return cr_fail(CR_ERR_FORMAT, "%s: tensor 'input.std' has non-positive value %g at "
                                             "index %zu", name, v, i);
            }
    }

    cr_dtype dt = adt == CR_ARRAY_F64 ? CR_F64 : CR_F32;
    cr_net *net;
    cr_status s = cr_net_create(&net, dt, L, dims, act);
    if (s == CR_OK && (s = cr_net_set_output(net, has_out_act, out_act, head)) != CR_OK)
        cr_net_free(net);
    if (s == CR_ERR_NOMEM) /* cr_net_create's line says how much */
        return cr_fail(CR_ERR_NOMEM, "%s: cannot create the network %s: %s", name, ds, cr_last_error());
    if (s != CR_OK)
        return cr_fail(CR_ERR_IO, "%s: cannot create the network %s: %s", name, ds,
                            cr_status_string(s));
    out->net = net;
    for (int l = 0; l < L; l++) {
        size_t din = dims[l], dout = dims[l + 1];
        if (dt == CR_F64) {
            double *pw = cr_net_weight(net, l);
            const double *w = W[l]->array.data, *b = B[l]->array.data;
            for (size_t i = 0; i < din; i++)
                for (size_t j = 0; j < dout; j++) pw[i * dout + j] = w[j * din + i];
            memcpy(cr_net_bias(net, l), b, dout * sizeof *b);
        } else {
            float *pw = cr_net_weight(net, l);
            const float *w = W[l]->array.data, *b = B[l]->array.data;
            for (size_t i = 0; i < din; i++)
                for (size_t j = 0; j < dout; j++) pw[i * dout + j] = w[j * din + i];
            memcpy(cr_net_bias(net, l), b, dout * sizeof *b);
        }
    }
    if (cr_io_bn_read(name, st, net)) { /* BatchNorm links (model_batchnorm.c) */
        cr_model_free(out);
        return cr_io_status(-1);
    }
    if ((mean && copy_array(&out->input_mean, &mean->array)) ||
        (sd && copy_array(&out->input_std, &sd->array))) {
        cr_model_free(out);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
    }
    if (mean && sd) { /* link 0 of the chain: z = (x − mean) ⊘ std, the stored values */
        double *mv = malloc(dims[0] * sizeof *mv), *sv = malloc(dims[0] * sizeof *sv);
        if (!mv || !sv) {
            free(mv), free(sv);
            cr_model_free(out);
            return cr_fail(CR_ERR_NOMEM, "%s: input.mean/input.std: out of memory for 2 x %zu doubles", name, dims[0]);
        }
        cr_status ls = CR_OK;
        for (size_t j = 0; ls == CR_OK && j < dims[0]; j++) {
            mv[j] = real_get(dt, mean->array.data, j);
            sv[j] = real_get(dt, sd->array.data, j);
        }
        if (ls == CR_OK) ls = cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, mv, sv);
        free(mv), free(sv);
        if (ls != CR_OK) {
            cr_model_free(out);
            return cr_fail(CR_ERR_FORMAT, "%s: input.mean/input.std: %s", name, cr_status_string(ls));
        }
    }
    if (keep_extra) {
        for (size_t t = 0; t < st->n_tensors; t++) {
            const cr_tensor *tn = &st->tensors[t];
            int is_bias, i = parse_fc(tn->name, &is_bias);
            if (i > 0 || cr_io_bn_tensor(tn->name, NULL) > 0 || tn == mean || tn == sd) continue;
            if (cr_safetensors_add(&out->extra, tn->name, &tn->array)) {
                cr_model_free(out);
                return cr_fail(cr_last_status(), "%s: %s", name, cr_last_error());
            }
        }
        for (size_t m = 0; m < st->n_meta; m++) {
            if (is_model_meta(st->meta[m].key)) continue;
            if (cr_safetensors_set_meta(&out->extra, st->meta[m].key, st->meta[m].value)) {
                cr_model_free(out);
                return cr_fail(cr_last_status(), "%s: %s", name, cr_last_error());
            }
        }
    }
    return CR_OK;
}

cr_status cr_model_from_safetensors(const char *name, const cr_safetensors *st, cr_model *out) {
    if (!name) name = "(model)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if (!st) {
        memset(out, 0, sizeof *out);
        return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    }
    return cr_io_status(cr_io_model_build(name, st, out, 1));
}

void cr_model_free(cr_model *model) {
    if (!model) return;
    cr_net_free(model->net);
    cr_array_free(&model->input_mean);
    cr_array_free(&model->input_std);
    cr_safetensors_free(&model->extra);
    memset(model, 0, sizeof *model);
}

static void real_set(cr_dtype t, void *p, size_t i, double v) {
    if (t == CR_F64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}

/* r = ((x − μ) ⊘ σ) W1 + b1 = x (diag(1/σ) W1) + (b1 − (μ ⊘ σ) W1): the same
   function of the raw input (model_read checked both are [D], finite, σ > 0). */
cr_status cr_model_fold_standardization(const cr_model *m, cr_net *net) {
    if (!m || !net) return cr_fail(CR_ERR_ARG, "model: invalid argument");
    if (!m->input_mean.data || !m->input_std.data) return CR_OK;
    const size_t d = cr_net_width(net, 0), h = cr_net_width(net, 1);
    if (m->input_mean.count != d || m->input_std.count != d)
        return cr_fail(CR_ERR_FORMAT, "model: input.mean/input.std have %zu values but the model takes %zu",
                            m->input_mean.count, d);
    const cr_dtype st = m->input_std.dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32, t = cr_net_dtype(net);
    void *w0 = cr_net_weight(net, 0), *b0 = cr_net_bias(net, 0);
    for (size_t q = 0; q < h; q++) {
        double b = real_get(t, b0, q);
        for (size_t j = 0; j < d; j++) {
            size_t wi = j * h + q;
            double w = real_get(t, w0, wi) / real_get(st, m->input_std.data, j);
            b -= real_get(st, m->input_mean.data, j) * w;
            real_set(t, w0, wi, w);
        }
        real_set(t, b0, q, b);
    }
    cr_net_set_input_affine(net, CR_AFFINE_NONE, NULL, NULL); /* folded: no link 0 left */
    return cr_io_status(CR_OK);
}

/* ------------------------------------------------------------ saving */

static int check_net(const char *path, const cr_net *net) {
    if (!net) return cr_fail(CR_ERR_ARG, "%s: no network to save", path);
    if (cr_net_n_layers(net) < 1 || cr_net_n_layers(net) > CR_MAX_LAYERS)
        return cr_fail(CR_ERR_FORMAT, "%s: network has %d layers (expected 1..%d)", path,
                            cr_net_n_layers(net), CR_MAX_LAYERS);
    if (cr_net_dtype(net) != CR_F32 && cr_net_dtype(net) != CR_F64)
        return cr_fail(CR_ERR_FORMAT, "%s: network has an unknown dtype", path);
    for (int l = 0; l <= cr_net_n_layers(net); l++)
        if (cr_net_width(net, l) == 0) return cr_fail(CR_ERR_FORMAT, "%s: network has a zero dimension", path);
    for (int l = 0; l + 1 < cr_net_n_layers(net); l++)
        if ((unsigned)cr_net_activation(net, l) >= CR_ACT_COUNT)
            return cr_fail(CR_ERR_FORMAT, "%s: network has an unknown activation", path);
    if ((cr_net_output_activation(net, NULL) &&
         (unsigned)cr_net_activation(net, cr_net_n_layers(net) - 1) >= CR_ACT_COUNT) ||
        (unsigned)cr_net_head(net) >= CR_HEAD_COUNT)
        return cr_fail(CR_ERR_FORMAT, "%s: network has an unknown output activation or head", path);
    if (!cr_net_params_const(net)) return cr_fail(CR_ERR_FORMAT, "%s: network has no parameters", path);
    for (int l = 0; l < cr_net_n_layers(net); l++)
        if (cr_net_affine_form(net, l + 1) != CR_AFFINE_NONE && cr_net_affine_form(net, l + 1) != CR_AFFINE_BATCHNORM)
            return cr_fail(CR_ERR_FORMAT, "%s: the affine link after layer %d (%s) has no safetensors "
                                     "form (only batchnorm)", path, l + 1,
                                cr_affine_form_name(cr_net_affine_form(net, l + 1)));
    const void *params = cr_net_params_const(net);
    const size_t n_params = cr_net_n_params(net);
    const int f64 = cr_net_dtype(net) == CR_F64;
    for (size_t i = 0; i < n_params; i++) {
        double v = f64 ? ((const double *)params)[i] : (double)((const float *)params)[i];
        if (!isfinite(v))
            return cr_fail(CR_ERR_FORMAT, "%s: refusing to save a network whose parameters contain "
                                     "%s (parameter %zu)", path, isnan(v) ? "NaN" : "Inf", i);
    }
    return 0;
}

static int check_input_array(const char *path, const char *what, const cr_array *a,
                             const cr_net *net) {
    cr_array_dtype want = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    size_t bytes;
    if (!a->data) return 0;
    if (a->dtype != want || a->ndim != 1 || a->shape[0] != cr_net_width(net, 0) ||
        !cr_io_array_bytes(a, &bytes))
        return cr_fail(CR_ERR_FORMAT, "%s: %s must be %s [%zu]", path, what,
                            cr_array_dtype_name(want), cr_net_width(net, 0));
    if (check_finite(path, what, a)) return -1;
    if (strcmp(what, "input.std") == 0)
        for (size_t i = 0; i < a->count; i++) {
            double v = a->dtype == CR_ARRAY_F64 ? ((const double *)a->data)[i]
                                                : (double)((const float *)a->data)[i];
            if (!(v > 0))
                return cr_fail(CR_ERR_FORMAT, "%s: input.std has non-positive value %g at index %zu (a "
                                         "chainrule safetensors file stores the input link as (x − "
                                         "mean)/std with std > 0: keep this model in ONNX)", path, v,
                                    i);
        }
    return 0;
}

/* A float32/float64 input statistic in the other float dtype is converted to the
   network's, so that the file keeps one dtype (the loader insists on it). *conv
   receives the converted copy (caller frees) and *use the array to write. */
static int input_in_net_dtype(const char *path, const char *what, const cr_array *a,
                              const cr_net *net, cr_array *conv, const cr_array **use) {
    cr_array_dtype want = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    size_t bytes;
    *use = a;
    if (!a || !a->data || a->dtype == want) return 0;
    if ((a->dtype != CR_ARRAY_F32 && a->dtype != CR_ARRAY_F64) || !cr_io_array_bytes(a, &bytes))
        return 0; /* check_input_array reports it */
    if (cr_array_alloc(conv, want, a->ndim, a->shape))
        return cr_fail(CR_ERR_NOMEM, "%s: %s: out of memory", path, what);
    for (size_t i = 0; i < a->count; i++) {
        if (want == CR_ARRAY_F64)
            ((double *)conv->data)[i] = (double)((const float *)a->data)[i];
        else
            ((float *)conv->data)[i] = (float)((const double *)a->data)[i];
    }
    *use = conv;
    return 0;
}

static int model_write_checked(const char *path, const cr_net *net, const cr_array *mean,
                               const cr_array *sd, const cr_safetensors *extra);

static int model_write(const char *path, const cr_net *net, const cr_array *mean,
                       const cr_array *sd, const cr_safetensors *extra) {
    if (!path) return cr_fail(CR_ERR_ARG, "(null): invalid output path");
    if (check_net(path, net)) return -1;
    cr_array cm = {0}, cs = {0};
    const cr_array *um, *us;
    int rc = -1;
    /* another form (an ONNX model's (x − a)·b or x·a + b) is written as the model's
       folded input.mean/input.std, rounded as before: only ONNX keeps it exactly */
    const int other = cr_net_affine_form(net, 0) != CR_AFFINE_NONE && cr_net_affine_form(net, 0) != CR_AFFINE_SUB_DIV;
    if (other && !(mean && mean->data && sd && sd->data))
        return cr_fail(CR_ERR_FORMAT, "%s: the network's input link is %s; a model file stores "
                                 "only (x − input.mean) / input.std (save it as ONNX)",
                            path, cr_affine_form_name(cr_net_affine_form(net, 0)));
    if (cr_net_affine_form(net, 0) == CR_AFFINE_SUB_DIV) {
        /* the net's link 0 is what it evaluates: it is what the file stores */
        size_t shape[1] = {cr_net_width(net, 0)};
        cr_array_dtype adt = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
        if (cr_array_alloc(&cm, adt, 1, shape) || cr_array_alloc(&cs, adt, 1, shape)) {
            cr_array_free(&cm);
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
        }
        const size_t es = cr_dtype_size(cr_net_dtype(net));
        memcpy(cm.data, cr_net_link_vector(net, 0, 0), shape[0] * es);
        memcpy(cs.data, cr_net_link_vector(net, 0, 1), shape[0] * es);
        rc = model_write_checked(path, net, &cm, &cs, extra);
    } else if (input_in_net_dtype(path, "input.mean", mean, net, &cm, &um) == 0 &&
               input_in_net_dtype(path, "input.std", sd, net, &cs, &us) == 0) {
        rc = model_write_checked(path, net, um, us, extra);
    }
    cr_array_free(&cm);
    cr_array_free(&cs);
    return rc;
}

static int model_write_checked(const char *path, const cr_net *net, const cr_array *mean,
                               const cr_array *sd, const cr_safetensors *extra) {
    if (mean && check_input_array(path, "input.mean", mean, net)) return -1;
    if (sd && check_input_array(path, "input.std", sd, net)) return -1;
    if (extra) {
        for (size_t t = 0; t < extra->n_tensors; t++)
            if (is_model_tensor(extra->tensors[t].name))
                return cr_fail(CR_ERR_FORMAT, "%s: extra tensor '%.*s' clashes with a model tensor",
                                    path, CR_IO_NAME_MAX, extra->tensors[t].name);
        for (size_t m = 0; m < extra->n_meta; m++)
            if (is_model_meta(extra->meta[m].key))
                return cr_fail(CR_ERR_FORMAT, "%s: extra metadata '%s' clashes with the model's own",
                                    path, extra->meta[m].key);
    }

    int L = cr_net_n_layers(net), rc = -1;
    cr_array_dtype adt = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    size_t n_extra_t = extra ? extra->n_tensors : 0, n_extra_m = extra ? extra->n_meta : 0;
    const size_t n_bn = cr_io_bn_count(net); /* BatchNorm links: 4 tensors and an eps each */
    size_t nt = 2 * (size_t)L + 4 * n_bn + 2 + n_extra_t,
           nm = 3 + (cr_net_is_plain_classifier(net) ? 0 : 1) + n_bn + n_extra_m;
    char (*tnames)[32] = calloc((size_t)L * 2, sizeof *tnames);
    cr_io_bn_names *bn_names = calloc((size_t)L, sizeof *bn_names);
    cr_array(*bn_arrs)[4] = calloc((size_t)L, sizeof *bn_arrs);
    const char *bn_key[CR_MAX_LAYERS], *bn_value[CR_MAX_LAYERS];
    cr_array *arrs = calloc((size_t)L * 2, sizeof *arrs);
    const char **names = malloc(nt * sizeof *names), **keys = malloc(nm * sizeof *keys),
               **values = malloc(nm * sizeof *values);
    const cr_array **views = malloc(nt * sizeof *views);
    if (!tnames || !bn_names || !bn_arrs || !arrs || !names || !keys || !values || !views) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t k = 0;
    for (int l = 0; l < L; l++) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        cr_array *w = &arrs[2 * l], *b = &arrs[2 * l + 1];
        size_t wshape[2] = {dout, din};
        if (cr_array_alloc(w, adt, 2, wshape)) goto done;
        if (cr_net_dtype(net) == CR_F64) {
            const double *p = (const double *)cr_net_weight_const(net, l);
            double *q = w->data;
            for (size_t j = 0; j < dout; j++)
                for (size_t i = 0; i < din; i++) q[j * din + i] = p[i * dout + j];
        } else {
            const float *p = (const float *)cr_net_weight_const(net, l);
            float *q = w->data;
            for (size_t j = 0; j < dout; j++)
                for (size_t i = 0; i < din; i++) q[j * din + i] = p[i * dout + j];
        }
        /* the bias is a borrowed view of the net's parameters (never written through) */
        b->dtype = adt;
        b->ndim = 1;
        b->shape[0] = dout;
        b->count = dout;
        b->data = (void *)cr_net_bias_const(net, l); /* a borrowed view, not written */
        snprintf(tnames[2 * l], sizeof tnames[0], "fc%d.weight", l + 1);
        snprintf(tnames[2 * l + 1], sizeof tnames[0], "fc%d.bias", l + 1);
        names[k] = tnames[2 * l];
        views[k++] = w;
        names[k] = tnames[2 * l + 1];
        views[k++] = b;
        if (cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM) { /* bn{l+1}.*, borrowed views */
            cr_io_bn_views(net, l, &bn_names[l], bn_arrs[l], names + k, views + k, &bn_key[l],
                           &bn_value[l]);
            k += 4;
        }
    }
    if (mean && mean->data) {
        names[k] = "input.mean";
        views[k++] = mean;
    }
    if (sd && sd->data) {
        names[k] = "input.std";
        views[k++] = sd;
    }
    for (size_t t = 0; t < n_extra_t; t++) {
        names[k] = extra->tensors[t].name;
        views[k++] = &extra->tensors[t].array;
    }

    char acts[CR_MAX_LAYERS * 16] = "", ds[CR_MAX_LAYERS * 24];
    size_t used = 0;
    for (int l = 0; l + 1 < L; l++)
        used += (size_t)snprintf(acts + used, sizeof acts - used, "%s,",
                                 cr_activation_name(cr_net_activation(net, l)));
    const int plain = cr_net_is_plain_classifier(net);
    snprintf(acts + used, sizeof acts - used, "%s",
             plain ? "softmax" :
                 cr_net_output_activation(net, NULL) ?
                     cr_activation_name(cr_net_activation(net, cr_net_n_layers(net) - 1)) :
                     "none");
    size_t dims[CR_MAX_LAYERS + 1];
    for (int l = 0; l <= L; l++) dims[l] = cr_net_width(net, l);
    dims_str(dims, L, ds, sizeof ds);
    keys[0] = "format";
    values[0] = MODEL_FORMAT;
    keys[1] = "activations";
    values[1] = acts;
    keys[2] = "layers";
    values[2] = ds;
    size_t nk = 3;
    if (!plain) {
        keys[nk] = "head";
        values[nk++] = cr_head_name(cr_net_head(net));
    }
    for (int l = 0; l < L; l++)
        if (cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM) keys[nk] = bn_key[l], values[nk++] = bn_value[l];
    for (size_t m = 0; m < n_extra_m; m++) /* the ONNX import's note of its graph's input shape is not written */
        if (strcmp(extra->meta[m].key, CR_IO_ONNX_INPUT_SHAPE))
            keys[nk] = extra->meta[m].key, values[nk++] = extra->meta[m].value;
    rc = cr_io_safetensors_write_views(path, k, names, views, nk, keys, values);
done:
    if (arrs)
        for (int l = 0; l < L; l++) free(arrs[2 * l].data); /* biases are views */
    free(arrs);
    free(tnames);
    free(bn_names);
    free(bn_arrs);
    free(names);
    free(keys);
    free(values);
    free(views);
    return rc;
}

cr_status cr_model_save(const char *path, const cr_net *net) {
    return cr_io_status(model_write(path, net, NULL, NULL, NULL));
}

cr_status cr_model_save_full(const char *path, const cr_model *model) {
    if (!model) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    return cr_io_status(model_write(path, model->net, &model->input_mean, &model->input_std, &model->extra));
}
