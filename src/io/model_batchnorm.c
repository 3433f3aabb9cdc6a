/*
 * BatchNorm (inference) in chainrule's safetensors models (docs/batchnorm.md):
 * the affine link after linear layer i (form batchnorm) is stored under
 * PyTorch's BatchNorm1d names, bn{i}.weight (γ), bn{i}.bias (β),
 * bn{i}.running_mean (μ), bn{i}.running_var (v), [out] in the model's dtype,
 * and metadata "bn{i}.eps" (ε, 17 significant digits: strtod gives the same
 * double back; a float32 model reads it as the float it adds). model.c calls
 * these when it reads and writes a model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

/* The stored vectors of the link in cr_net order p q s t are BN_KEYS[BN_OF_VEC[k]]. */
static const char *const BN_KEYS[4] = {"weight", "bias", "running_mean", "running_var"};
static const int BN_OF_VEC[4] = {2, 3, 0, 1}; /* p = μ, q = v, s = γ, t = β */

/* "bn<i>.<key>" with key one of keys: returns i (> 0; large i saturate) and sets
   *which (its index in keys), or 0. */
static int parse_bn_key(const char *name, const char *const *keys, int nkeys, int *which) {
    if (strncmp(name, "bn", 2) != 0 || name[2] < '1' || name[2] > '9') return 0;
    const char *p = name + 2;
    long v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v < 1000000) v = v * 10 + (*p - '0');
        p++;
    }
    if (*p++ != '.') return 0;
    for (int k = 0; k < nkeys; k++)
        if (strcmp(p, keys[k]) == 0) {
            *which = k;
            return (int)v;
        }
    return 0;
}

int cr_io_bn_tensor(const char *name, int *which) {
    int w;
    return parse_bn_key(name, BN_KEYS, 4, which ? which : &w);
}

int cr_io_bn_meta(const char *key) {
    static const char *const eps[1] = {"eps"};
    int w;
    return parse_bn_key(key, eps, 1, &w);
}

static double get(cr_array_dtype t, const void *p, size_t i) {
    return t == CR_ARRAY_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}

cr_status cr_io_bn_read(const char *name, const cr_safetensors *st, cr_net *net) {
    const int L = cr_net_n_layers(net);
    const cr_array_dtype adt = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    const cr_tensor *BN[CR_MAX_LAYERS][4] = {{0}}; /* bn{l+1}: BN_KEYS */
    char shp[160];
    for (size_t t = 0; t < st->n_tensors; t++) {
        int which, i = cr_io_bn_tensor(st->tensors[t].name, &which);
        if (i > CR_MAX_LAYERS)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': too many layers (at most %d)", name,
                                CR_IO_NAME_MAX, st->tensors[t].name, CR_MAX_LAYERS);
        if (i > 0) BN[i - 1][which] = &st->tensors[t];
    }
    for (size_t m = 0; m < st->n_meta; m++) {
        int i = cr_io_bn_meta(st->meta[m].key);
        if (i > 0 && (i > L || !BN[i - 1][0]))
            return cr_fail(CR_ERR_FORMAT, "%s: metadata \"%.*s\" without the tensors of a BatchNorm "
                                     "after fc%d", name, CR_IO_NAME_MAX, st->meta[m].key, i);
    }
    for (int l = 0; l < CR_MAX_LAYERS; l++) {
        int have = 0;
        for (int k = 0; k < 4; k++) have += BN[l][k] != NULL;
        if (!have) continue;
        if (l >= L)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor 'bn%d.%s' follows linear layer %d, but the model "
                                     "has %d", name, l + 1, BN[l][0] ? "weight" : "...", l + 1, L);
        const size_t d = cr_net_width(net, l + 1);
        for (int k = 0; k < 4; k++) {
            const cr_tensor *t = BN[l][k];
            size_t bytes;
            if (!t)
                return cr_fail(CR_ERR_FORMAT, "%s: missing tensor 'bn%d.%s' (a BatchNorm after fc%d "
                                         "needs weight, bias, running_mean and running_var)",
                                    name, l + 1, BN_KEYS[k], l + 1);
            if (!cr_io_array_bytes(&t->array, &bytes) || (bytes && !t->array.data))
                return cr_fail(CR_ERR_FORMAT, "%s: tensor '%.*s': inconsistent array (count, shape or "
                                         "data)", name, CR_IO_NAME_MAX, t->name);
            if (t->array.dtype != adt)
                return cr_fail(CR_ERR_FORMAT, "%s: mixed dtypes: tensor '%s' is %s but 'fc1.weight' is "
                                         "%s", name, t->name, cr_array_dtype_name(t->array.dtype),
                                    cr_array_dtype_name(adt));
            if (t->array.ndim != 1 || t->array.shape[0] != d)
                return cr_fail(CR_ERR_FORMAT, "%s: shape mismatch: tensor '%s' has shape %s but fc%d "
                                         "has %zu outputs (expected [%zu])", name, t->name,
                                    cr_io_shape_str(t->array.shape, t->array.ndim, shp, sizeof shp),
                                    l + 1, d, d);
            for (size_t i = 0; i < d; i++) {
                double v = get(adt, t->array.data, i);
                if (!isfinite(v))
                    return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' contains %s at index %zu", name,
                                        t->name, isnan(v) ? "NaN" : "Inf", i);
            }
        }
        char key[32];
        snprintf(key, sizeof key, "bn%d.eps", l + 1);
        const char *es = cr_safetensors_meta(st, key);
        char *end = NULL;
        if (!es) return cr_fail(CR_ERR_FORMAT, "%s: missing metadata \"%s\" (the epsilon of the "
                                          "BatchNorm after fc%d)", name, key, l + 1);
        double eps = strtod(es, &end);
        if (end == es || *end || !isfinite(eps) || eps < 0 ||
            (adt == CR_ARRAY_F32 && !isfinite((float)eps)))
            return cr_fail(CR_ERR_FORMAT, "%s: metadata %s '%.*s' is not a finite number >= 0", name,
                                key, CR_IO_NAME_MAX, es);
        if (adt == CR_ARRAY_F32) eps = (float)eps; /* what a float32 net adds */
        const cr_array *v = &BN[l][3]->array;
        for (size_t i = 0; i < d; i++) {
            double q = get(adt, v->data, i);
            double qe = adt == CR_ARRAY_F64 ? q + eps : (double)((float)q + (float)eps);
            if (!(qe > 0))
                return cr_fail(CR_ERR_FORMAT, "%s: tensor 'bn%d.running_var' has %g at index %zu: "
                                         "var + eps = %g is not positive", name, l + 1, q, i, qe);
        }
        /* the link, exactly (float -> double -> float) */
        double *vec = malloc(4 * d * sizeof *vec);
        if (!vec) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
        for (int k = 0; k < 4; k++)
            for (size_t i = 0; i < d; i++) vec[k * d + i] = get(adt, BN[l][BN_OF_VEC[k]]->array.data, i);
        cr_status s = cr_net_set_affine(net, l + 1, CR_AFFINE_BATCHNORM, vec, vec + d, vec + 2 * d,
                                        vec + 3 * d, eps);
        free(vec);
        if (s != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "%s: the BatchNorm after fc%d: %s", name, l + 1,
                                cr_status_string(s));
    }
    return cr_io_status(CR_OK);
}

size_t cr_io_bn_count(const cr_net *net) {
    size_t n = 0;
    for (int l = 0; l < cr_net_n_layers(net); l++) n += cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM;
    return n;
}

void cr_io_bn_views(const cr_net *net, int l, cr_io_bn_names *nm, cr_array arrs[4],
                    const char **names, const cr_array **views, const char **key,
                    const char **value) {
    const size_t dout = cr_net_width(net, l + 1);
    for (int v = 0; v < 4; v++) { /* borrowed views of the link's vectors (p μ, q v, s γ, t β) */
        cr_array *a = &arrs[v];
        memset(a, 0, sizeof *a);
        a->dtype = cr_net_dtype(net) == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
        a->ndim = 1;
        a->shape[0] = dout;
        a->count = dout;
        a->data = (void *)cr_net_link_vector(net, l + 1, v); /* borrowed for writing, not written */
        snprintf(nm->tensor[v], sizeof nm->tensor[v], "bn%d.%s", l + 1, BN_KEYS[BN_OF_VEC[v]]);
        names[v] = nm->tensor[v];
        views[v] = a;
    }
    snprintf(nm->key, sizeof nm->key, "bn%d.eps", l + 1);
    snprintf(nm->value, sizeof nm->value, "%.17g", cr_net_link_eps(net, l + 1));
    *key = nm->key;
    *value = nm->value;
}
