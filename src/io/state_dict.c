/*
 * PyTorch state dicts saved as safetensors (safetensors.torch.save_file(
 * model.state_dict(), path)) -> chainrule models.
 *
 * The linear layers are the tensor pairs "<prefix>.weight" [out, in] and
 * "<prefix>.bias" [out] (the bias may be missing: nn.Linear(bias=False)),
 * taken in the natural order of their prefixes: nn.Sequential's "0", "2", "4"
 * (or "1", "3" after a leading Flatten, which has no parameters), named
 * modules "fc1", "fc2", ..., "layers.0", "layers.1", ... (digit runs compare
 * as numbers, so "fc10" follows "fc9"). Their shapes must chain (each
 * layer's in = the previous layer's out). "input.mean"/"input.std", if
 * present, are the input standardisation. The result is built and checked
 * by the model loader itself (cr_model_from_safetensors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

typedef struct {
    char prefix[CR_IO_NAME_MAX + 1];
    const cr_tensor *w, *b;
} sd_layer;

/* Natural order: runs of digits compare as numbers, the rest byte by byte. */
static int natural_cmp(const char *a, const char *b) {
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0' && a[1] >= '0' && a[1] <= '9') a++;
            while (*b == '0' && b[1] >= '0' && b[1] <= '9') b++;
            size_t na = strspn(a, "0123456789"), nb = strspn(b, "0123456789");
            if (na != nb) return na < nb ? -1 : 1;
            int c = strncmp(a, b, na);
            if (c) return c;
            a += na;
            b += nb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int cmp_layers(const void *x, const void *y) {
    return natural_cmp(((const sd_layer *)x)->prefix, ((const sd_layer *)y)->prefix);
}

/* "'0.weight' [20, 4]" */
static const char *tdesc(const cr_tensor *t, char *buf, size_t size) {
    char shp[96];
    snprintf(buf, size, "'%.*s' %s", 60, t->name,
             cr_io_shape_str(t->array.shape, t->array.ndim, shp, sizeof shp));
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    return buf;
}

/* The layers in order with their shapes, for messages. */
static const char *layer_list(const sd_layer *ly, int n, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int l = 0; l < n && used + 8 < size; l++) {
        char d[128];
        int k = snprintf(buf + used, size - used, "%s%s", l ? ", " : "", tdesc(ly[l].w, d, sizeof d));
        if (k < 0) break;
        used += (size_t)k;
    }
    return buf;
}

cr_status cr_model_from_state_dict(const char *name, const cr_safetensors *st, int n_act,
                             const cr_activation *act, cr_model *out) {
    if (!name) name = "(state dict)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!st || n_act < 0 || (n_act > 0 && !act))
        return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    sd_layer ly[CR_MAX_LAYERS];
    int L = 0;
    const cr_tensor *mean = NULL, *sd = NULL;
    char d1[160], d2[160], list[600];
    for (size_t t = 0; t < st->n_tensors; t++) {
        const cr_tensor *tn = &st->tensors[t];
        const char *nm = tn->name;
        if (!strcmp(nm, "input.mean") || !strcmp(nm, "input.std")) {
            if (nm[6] == 'm') mean = tn;
            else sd = tn;
            continue;
        }
        size_t len = strlen(nm);
        if ((len > 13 && !strcmp(nm + len - 13, ".running_mean")) ||
            (len > 12 && !strcmp(nm + len - 12, ".running_var")))
            return cr_fail(CR_ERR_FORMAT, "%s: tensor %s belongs to a BatchNorm layer, which a state "
                                     "dict does not describe fully (its epsilon is not stored): "
                                     "export the model with torch.onnx.export after .eval() and "
                                     "convert the .onnx (BatchNormalization is read)", name,
                                tdesc(tn, d1, sizeof d1));
        int is_w = len > 7 && !strcmp(nm + len - 7, ".weight");
        int is_b = len > 5 && !strcmp(nm + len - 5, ".bias");
        if (!is_w && !is_b)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor %s is not a layer's weight or bias (expected the "
                                     "state dict of nn.Linear layers: '0.weight', '0.bias', "
                                     "'2.weight', ... or 'fc1.weight', ...)", name,
                                tdesc(tn, d1, sizeof d1));
        size_t plen = len - (is_w ? 7 : 5);
        if (plen > CR_IO_NAME_MAX)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor name '%.60s...' is too long", name, nm);
        int l = 0;
        while (l < L && (strlen(ly[l].prefix) != plen || strncmp(ly[l].prefix, nm, plen))) l++;
        if (l == L) {
            if (L == CR_MAX_LAYERS)
                return cr_fail(CR_ERR_FORMAT, "%s: more than %d layers", name, CR_MAX_LAYERS);
            memcpy(ly[L].prefix, nm, plen);
            ly[L].prefix[plen] = '\0';
            ly[L].w = ly[L].b = NULL;
            L++;
        }
        if (is_w) ly[l].w = tn;
        else ly[l].b = tn;
    }
    if (L == 0)
        return cr_fail(CR_ERR_FORMAT, "%s: no layers: expected nn.Linear weights such as '0.weight' "
                                 "or 'fc1.weight' [out, in]", name);
    for (int l = 0; l < L; l++) {
        if (!ly[l].w)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor %s has no weight '%.60s.weight'", name,
                                tdesc(ly[l].b, d1, sizeof d1), ly[l].prefix);
        if (ly[l].w->array.ndim != 2)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor %s is not a linear layer's weight [out, in] "
                                     "(only nn.Linear layers are read; BatchNorm, LayerNorm, "
                                     "convolutions are not)", name,
                                tdesc(ly[l].w, d1, sizeof d1));
    }
    qsort(ly, (size_t)L, sizeof ly[0], cmp_layers);
    /* shapes chain in that order */
    for (int l = 0; l < L; l++) {
        const cr_array *w = &ly[l].w->array;
        if (l > 0) {
            size_t prev = ly[l - 1].w->array.shape[0];
            if (w->shape[1] != prev)
                return cr_fail(CR_ERR_FORMAT, "%s: the layers do not chain: %s (as [out, in]) takes %zu "
                                         "inputs but the layer before it, %s, has %zu outputs%s; "
                                         "layers in order: %s", name,
                                    tdesc(ly[l].w, d1, sizeof d1), w->shape[1],
                                    tdesc(ly[l - 1].w, d2, sizeof d2), prev,
                                    w->shape[0] == prev ? " (is it transposed? nn.Linear stores "
                                                          "[out, in])" : "",
                                    layer_list(ly, L, list, sizeof list));
        }
        const cr_tensor *b = ly[l].b;
        if (b && (b->array.ndim != 1 || b->array.shape[0] != w->shape[0]))
            return cr_fail(CR_ERR_FORMAT, "%s: bias %s does not fit weight %s, which has %zu outputs "
                                     "(expected [%zu])", name, tdesc(b, d1, sizeof d1),
                                tdesc(ly[l].w, d2, sizeof d2), w->shape[0], w->shape[0]);
        if (ly[l].w->array.dtype != ly[0].w->array.dtype ||
            (b && b->array.dtype != ly[0].w->array.dtype))
            return cr_fail(CR_ERR_FORMAT, "%s: mixed dtypes: %s is %s but %s is %s", name,
                                tdesc(b && b->array.dtype != ly[0].w->array.dtype ? b : ly[l].w,
                                      d1, sizeof d1),
                                cr_array_dtype_name((b && b->array.dtype != ly[0].w->array.dtype
                                                         ? b : ly[l].w)->array.dtype),
                                tdesc(ly[0].w, d2, sizeof d2),
                                cr_array_dtype_name(ly[0].w->array.dtype));
    }
    cr_array_dtype adt = ly[0].w->array.dtype;
    if (adt != CR_ARRAY_F32 && adt != CR_ARRAY_F64)
        return cr_fail(CR_ERR_FORMAT, "%s: weights are %s; float32 or float64 expected", name,
                            cr_array_dtype_name(adt));
    if (L > 1 && n_act != 1 && n_act != L - 1)
        return cr_fail(CR_ERR_FORMAT, "%s: %d activation%s given for %d hidden layer%s (%d linear "
                                 "layers: %s); give one for all or one per hidden layer", name,
                            n_act, n_act == 1 ? "" : "s", L - 1, L - 1 == 1 ? "" : "s", L,
                            layer_list(ly, L, list, sizeof list));

    /* the chainrule model's tensors: fc{i}.weight/bias (zeros for a missing bias) */
    cr_safetensors m = {0};
    cr_array zeros[CR_MAX_LAYERS] = {{0}};
    int rc = -1;
    char acts[CR_MAX_LAYERS * 16] = "", tname[32];
    size_t used = 0;
    for (int l = 0; l < L; l++) {
        snprintf(tname, sizeof tname, "fc%d.weight", l + 1);
        if (cr_safetensors_add(&m, tname, &ly[l].w->array)) goto done;
        const cr_array *b = ly[l].b ? &ly[l].b->array : NULL;
        if (!b) {
            size_t shape[1] = {ly[l].w->array.shape[0]};
            if (cr_array_alloc(&zeros[l], adt, 1, shape)) goto done;
            b = &zeros[l];
        }
        snprintf(tname, sizeof tname, "fc%d.bias", l + 1);
        if (cr_safetensors_add(&m, tname, b)) goto done;
        used += (size_t)snprintf(acts + used, sizeof acts - used, "%s%s", l ? "," : "",
                                 l + 1 == L ? "softmax"
                                            : cr_activation_name(act[n_act == 1 ? 0 : l]));
    }
    if ((mean && cr_safetensors_add(&m, "input.mean", &mean->array)) ||
        (sd && cr_safetensors_add(&m, "input.std", &sd->array)) ||
        cr_safetensors_set_meta(&m, "format", "chainrule/1") ||
        cr_safetensors_set_meta(&m, "activations", acts))
        goto done;
    rc = cr_model_from_safetensors(name, &m, out);
done:
    if (rc && strncmp(cr_last_error(), name, strlen(name)) != 0) {
        cr_fail(cr_last_status(), "%s: %s", name, cr_last_error());
    }
    for (int l = 0; l < L; l++) cr_array_free(&zeros[l]);
    cr_safetensors_free(&m);
    return cr_io_status(rc);
}
