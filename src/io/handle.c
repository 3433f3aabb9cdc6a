/*
 * Models, errors and label arrays through plain pointers (chainrule_io.h, "Handles for
 * bindings"): what the Python module calls, so that it mirrors no struct of the headers.
 */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

cr_status cr_model_open(const char *path, const char *head, cr_model **out) {
    if (!out) return cr_fail(CR_ERR_ARG, "cr_model_open: out is NULL");
    *out = NULL;
    cr_head h = CR_HEAD_SOFTMAX_CE;
    if (head && cr_head_parse(head, &h) != CR_OK)
        return cr_fail(CR_ERR_ARG, "head '%s' is not softmax-cross-entropy or squared-error", head);
    cr_model *m = calloc(1, sizeof *m);
    if (!m) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path ? path : "(null)");
    cr_status st = cr_model_load_full(path, m);
    if (st != CR_OK) {
        free(m);
        return st;
    }
    if (head && cr_net_set_head(m->net, h) != CR_OK) {
        cr_model_close(m);
        return cr_fail(CR_ERR_FORMAT, "%s: cannot set the head %s", path, head);
    }
    *out = m;
    return CR_OK;
}

void cr_model_close(cr_model *model) {
    if (!model) return;
    cr_model_free(model);
    free(model);
}

cr_net *cr_model_net(const cr_model *model) { return model ? model->net : NULL; }

static double get(const cr_array *a, size_t i) {
    return a->dtype == CR_ARRAY_F64 ? ((const double *)a->data)[i] : ((const float *)a->data)[i];
}

int cr_model_standardization(const cr_model *model, double *mean, double *std) {
    if (!model || !model->net || !model->input_mean.data || !model->input_std.data) return 0;
    const size_t d = cr_net_input_dim(model->net);
    if (model->input_mean.count != d || model->input_std.count != d) return 0;
    for (size_t i = 0; i < d; i++) {
        if (mean) mean[i] = get(&model->input_mean, i);
        if (std) std[i] = get(&model->input_std, i);
    }
    return 1;
}

cr_status cr_labels_to_targets_buffer(const char *name, cr_array_dtype dtype, int ndim, const size_t *shape,
                                const void *data, size_t n, size_t k, cr_dtype out_dtype, void **out) {
    if (ndim < 0 || ndim > CR_ARRAY_MAX_DIMS || (ndim && !shape) || !data)
        return cr_fail(CR_ERR_ARG, "%s: %d dimensions (at most %d)", name, ndim, CR_ARRAY_MAX_DIMS);
    cr_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dtype;
    a.ndim = ndim;
    a.count = 1;
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        a.count *= shape[i];
    }
    a.data = (void *)data; /* borrowed: never freed here */
    return cr_io_status(cr_labels_to_targets(name, &a, n, k, out_dtype, out));
}
