/*
 * The network object: creation (one allocation holding struct and flat
 * parameter block), initialisation, dtype conversion, and the tape of
 * activations. The typed forward/backward chain is in net.tmpl.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "chainrule_typed.h"
#include "core/fail.h"
#include "ops/act_table.h"

/* Names and default initialisations come from the activation op table. */
const char *cr_activation_name(cr_activation act) {
    const cr_act_entry *e = cr_act_running(act);
    return e ? e->name : "unknown";
}

cr_status cr_activation_parse(const char *name, cr_activation *out) {
    for (int i = 0; i < CR_ACT_COUNT; i++)
        if (name && strcmp(name, cr_act_running((cr_activation)i)->name) == 0) {
            *out = (cr_activation)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown activation '%s'", __func__, name ? name : "(null)");
}

const char *cr_head_name(cr_head head) {
    switch (head) {
    case CR_HEAD_SOFTMAX_CE: return "softmax-cross-entropy";
    case CR_HEAD_SQUARED_ERROR: return "squared-error";
    default: return "unknown";
    }
}

cr_status cr_head_parse(const char *name, cr_head *out) {
    for (int i = 0; i < CR_HEAD_COUNT; i++)
        if (name && strcmp(name, cr_head_name((cr_head)i)) == 0) {
            *out = (cr_head)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown head '%s'", __func__, name ? name : "(null)");
}

cr_status cr_net_set_output(cr_net *net, int has_act, cr_activation act, cr_head head) {
    if (!net || (has_act && (unsigned)act >= CR_ACT_COUNT) || (unsigned)head >= CR_HEAD_COUNT)
        return CR_FAIL(CR_ERR_ARG);
    net->has_out_act = has_act ? 1 : 0;
    net->out_act = has_act ? act : (cr_activation)0;
    net->head = head;
    return CR_OK;
}

int cr_net_is_plain_classifier(const cr_net *net) {
    return net && !net->has_out_act && net->head == CR_HEAD_SOFTMAX_CE;
}

/* Rounds n up to a multiple of 64 bytes' worth of scalars; 0 on overflow. */
static int align_up(size_t n, size_t align, size_t *out) {
    if (n > SIZE_MAX - (align - 1)) return 0;
    *out = (n + align - 1) / align * align;
    return 1;
}

cr_status cr_net_create(cr_net **out, cr_dtype dtype, int n_layers, const size_t *dims,
                        const cr_activation *act) {
    *out = NULL;
    if (n_layers < 1 || n_layers > CR_MAX_LAYERS || !dims) return CR_FAIL(CR_ERR_ARG);
    if (dtype != CR_F32 && dtype != CR_F64) return CR_FAIL(CR_ERR_DTYPE);
    for (int l = 0; l <= n_layers; l++)
        if (dims[l] == 0) return CR_FAIL(CR_ERR_ARG);
    for (int l = 0; l + 1 < n_layers; l++)
        if (!act || (unsigned)act[l] >= CR_ACT_COUNT) return CR_FAIL(CR_ERR_ARG);

    size_t n_params = 0, w_offset[CR_MAX_LAYERS], b_offset[CR_MAX_LAYERS];
    for (int l = 0; l < n_layers; l++) {
        size_t wn;
        if (cr_mul_size(dims[l], dims[l + 1], &wn) != CR_OK) return CR_FAIL(CR_ERR_OVERFLOW);
        w_offset[l] = n_params;
        if (n_params > SIZE_MAX - wn) return CR_FAIL(CR_ERR_OVERFLOW);
        n_params += wn;
        b_offset[l] = n_params;
        if (n_params > SIZE_MAX - dims[l + 1]) return CR_FAIL(CR_ERR_OVERFLOW);
        n_params += dims[l + 1];
    }
    /* the affine links' vectors after the parameters: 4 of each link's width */
    size_t n_link = 0, link_offset[CR_MAX_LAYERS + 1];
    for (int k = 0; k <= n_layers; k++) {
        link_offset[k] = n_link;
        if (dims[k] > (SIZE_MAX - n_link) / 4) return CR_FAIL(CR_ERR_OVERFLOW);
        n_link += 4 * dims[k];
    }
    size_t header, bytes, lbytes, total;
    if (!align_up(sizeof(cr_net), 64, &header) || cr_mul_size(n_params, cr_dtype_size(dtype), &bytes) != CR_OK ||
        cr_mul_size(n_link, cr_dtype_size(dtype), &lbytes) != CR_OK || bytes > SIZE_MAX - header ||
        lbytes > SIZE_MAX - header - bytes)
        return CR_FAIL(CR_ERR_OVERFLOW);
    total = header + bytes + lbytes;
    cr_net *net = calloc(1, total);
    if (!net) return cr_fail_nomem("cr_net_create", total);
    net->dtype = dtype;
    net->n_layers = n_layers;
    for (int l = 0; l <= n_layers; l++) net->dims[l] = dims[l];
    for (int l = 0; l + 1 < n_layers; l++) net->act[l] = act[l];
    memcpy(net->w_offset, w_offset, sizeof(size_t) * (size_t)n_layers);
    memcpy(net->b_offset, b_offset, sizeof(size_t) * (size_t)n_layers);
    net->n_params = n_params;
    net->params = (char *)net + header;
    memcpy(net->link_offset, link_offset, sizeof(size_t) * (size_t)(n_layers + 1));
    net->link_params = (char *)net + header + bytes;
    *out = net;
    return CR_OK;
}

void cr_net_free(cr_net *net) { free(net); }

size_t cr_net_input_dim(const cr_net *net) { return net->dims[0]; }
size_t cr_net_output_dim(const cr_net *net) { return net->dims[net->n_layers]; }

float *cr_net_params_f32(cr_net *net) { return net->dtype == CR_F32 ? net->params : NULL; }
double *cr_net_params_f64(cr_net *net) { return net->dtype == CR_F64 ? net->params : NULL; }

static void store(cr_net *net, size_t i, double v) {
    if (net->dtype == CR_F64)
        ((double *)net->params)[i] = v;
    else
        ((float *)net->params)[i] = (float)v;
}

void cr_net_init(cr_net *net, cr_init scheme, uint64_t seed) {
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (int l = 0; l < net->n_layers; l++) {
        size_t fan_in = net->dims[l], fan_out = net->dims[l + 1];
        cr_init s = scheme;
        if (s == CR_INIT_AUTO) {
            /* the activation this layer feeds (its row's choice); the last layer feeds the
               output activation, or softmax / the identity */
            s = l + 1 < net->n_layers ? cr_act_running(net->act[l])->init
                : net->has_out_act    ? cr_act_running(net->out_act)->init
                                      : CR_INIT_XAVIER;
        }
        double limit = sqrt(6.0 / (double)(fan_in + fan_out)), sd = sqrt(2.0 / (double)fan_in);
        for (size_t i = 0; i < fan_in * fan_out; i++) {
            double v = s == CR_INIT_HE ? sd * cr_rng_normal(&rng)
                                       : limit * (2.0 * cr_rng_uniform(&rng) - 1.0);
            store(net, net->w_offset[l] + i, v);
        }
        for (size_t j = 0; j < fan_out; j++) store(net, net->b_offset[l] + j, 0.0);
    }
}

cr_status cr_net_convert(const cr_net *net, cr_dtype dtype, cr_net **out) {
    cr_status st = cr_net_create(out, dtype, net->n_layers, net->dims, net->act);
    if (st != CR_OK) return st;
    (*out)->has_out_act = net->has_out_act;
    (*out)->out_act = net->out_act;
    (*out)->head = net->head;
    for (int k = 0; k <= net->n_layers; k++) {
        (*out)->link_form[k] = net->link_form[k];
        (*out)->link_eps[k] = net->link_eps[k];
    }
    size_t n_link = net->link_offset[net->n_layers] + 4 * net->dims[net->n_layers];
    for (size_t i = 0; i < n_link; i++) { /* float32 -> float64 exact; the other way rounds */
        double v = net->dtype == CR_F64 ? ((const double *)net->link_params)[i]
                                        : (double)((const float *)net->link_params)[i];
        if (dtype == CR_F64) ((double *)(*out)->link_params)[i] = v;
        else ((float *)(*out)->link_params)[i] = (float)v;
    }
    for (size_t i = 0; i < net->n_params; i++) {
        double v = net->dtype == CR_F64 ? ((const double *)net->params)[i]
                                        : (double)((const float *)net->params)[i];
        store(*out, i, v);
    }
    return CR_OK;
}

/* ------------------------------------------------------------ affine links */

const char *cr_affine_form_name(cr_affine_form form) {
    switch (form) {
    case CR_AFFINE_NONE: return "none";
    case CR_AFFINE_SUB_DIV: return "sub-div";
    case CR_AFFINE_SUB_MUL: return "sub-mul";
    case CR_AFFINE_MUL_ADD: return "mul-add";
    case CR_AFFINE_BATCHNORM: return "batchnorm";
    default: return "unknown";
    }
}

size_t cr_net_link_width(const cr_net *net, int link) {
    if (!net || link < 0 || link > net->n_layers) return 0;
    return net->dims[link];
}

/* the vectors each form uses: p q (s t) */
static int form_vectors(cr_affine_form form) {
    return form == CR_AFFINE_BATCHNORM ? 4 : form == CR_AFFINE_NONE ? 0 : 2;
}

cr_status cr_net_set_affine(cr_net *net, int link, cr_affine_form form, const double *p,
                            const double *q, const double *s, const double *t, double eps) {
    if (!net || link < 0 || link > net->n_layers || (unsigned)form >= CR_AFFINE_FORM_COUNT)
        return CR_FAIL(CR_ERR_ARG);
    const size_t d = net->dims[link];
    const double *vec[4] = {p, q, s, t};
    const int nv = form_vectors(form);
    if (form == CR_AFFINE_BATCHNORM && !(isfinite(eps) && eps >= 0)) return CR_FAIL(CR_ERR_ARG);
    for (int k = 0; k < nv; k++) {
        if (!vec[k]) return CR_FAIL(CR_ERR_ARG);
        for (size_t j = 0; j < d; j++) {
            double v = vec[k][j];
            if (!isfinite(v)) return CR_FAIL(CR_ERR_ARG);
            if (k == 1 && form == CR_AFFINE_SUB_DIV && v == 0) return CR_FAIL(CR_ERR_ARG);
            if (k == 1 && form == CR_AFFINE_BATCHNORM && !(v + eps > 0)) return CR_FAIL(CR_ERR_ARG);
        }
    }
    for (int k = 0; k < 4; k++)
        for (size_t j = 0; j < d; j++) {
            size_t i = net->link_offset[link] + (size_t)k * d + j;
            double v = k < nv ? vec[k][j] : 0;
            if (net->dtype == CR_F64) ((double *)net->link_params)[i] = v;
            else ((float *)net->link_params)[i] = (float)v;
        }
    net->link_form[link] = form;
    net->link_eps[link] = form == CR_AFFINE_BATCHNORM ? eps : 0;
    return CR_OK;
}

cr_status cr_net_set_input_affine(cr_net *net, cr_affine_form form, const double *p,
                                  const double *q) {
    if (form == CR_AFFINE_BATCHNORM) return CR_FAIL(CR_ERR_ARG);
    return cr_net_set_affine(net, 0, form, p, q, NULL, NULL, 0);
}

cr_affine_form cr_net_affine_form(const cr_net *net, int link) {
    if (!net || link < 0 || link > net->n_layers) return CR_AFFINE_NONE;
    return net->link_form[link];
}

cr_status cr_net_get_affine(const cr_net *net, int link, cr_affine_form *form, double *p,
                            double *q, double *s, double *t, double *eps) {
    if (!net || link < 0 || link > net->n_layers) return CR_FAIL(CR_ERR_ARG);
    const size_t d = net->dims[link];
    double *vec[4] = {p, q, s, t};
    for (int k = 0; k < 4; k++)
        for (size_t j = 0; vec[k] && j < d; j++) {
            size_t i = net->link_offset[link] + (size_t)k * d + j;
            vec[k][j] = net->dtype == CR_F64 ? ((const double *)net->link_params)[i]
                                             : (double)((const float *)net->link_params)[i];
        }
    if (form) *form = net->link_form[link];
    if (eps) *eps = net->link_eps[link];
    return CR_OK;
}

cr_status cr_net_affine_f32(const cr_net *net, int link, cr_affine_f32 *view) {
    if (!net || !view || link < 0 || link > net->n_layers) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F32) return CR_FAIL(CR_ERR_DTYPE);
    const size_t d = net->dims[link];
    const float *v = (const float *)net->link_params + net->link_offset[link];
    *view = (cr_affine_f32){net->link_form[link], v, v + d, v + 2 * d, v + 3 * d,
                            (float)net->link_eps[link]};
    return CR_OK;
}

cr_status cr_net_affine_f64(const cr_net *net, int link, cr_affine_f64 *view) {
    if (!net || !view || link < 0 || link > net->n_layers) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F64) return CR_FAIL(CR_ERR_DTYPE);
    const size_t d = net->dims[link];
    const double *v = (const double *)net->link_params + net->link_offset[link];
    *view = (cr_affine_f64){net->link_form[link], v, v + d, v + 2 * d, v + 3 * d,
                            net->link_eps[link]};
    return CR_OK;
}

cr_status cr_tape_create(const cr_net *net, size_t max_batch, cr_tape **out) {
    if (!out) return cr_fail(CR_ERR_ARG, "cr_tape_create: out is NULL");
    *out = NULL;
    if (!net || max_batch == 0)
        return cr_fail(CR_ERR_ARG, "cr_tape_create: %s", !net ? "net is NULL" : "max_batch = 0");
    size_t es = cr_dtype_size(net->dtype), maxdim = 0;
    for (int l = 0; l <= net->n_layers; l++) maxdim = net->dims[l] > maxdim ? net->dims[l] : maxdim;

    /* layout: header | pre[0] post[0] ... | grad_a | grad_b | loss, each 64-byte aligned */
    size_t off, total;
    if (!align_up(sizeof(cr_tape), 64, &off)) return CR_FAIL(CR_ERR_OVERFLOW);
    size_t offsets[2 * CR_MAX_LAYERS + 5], k = 0;
    /* the output o gets a block of its own when it is neither θ nor the prediction */
    const int own_out = net->has_out_act && net->head == CR_HEAD_SOFTMAX_CE;
    for (int l = 0; l < net->n_layers; l++) {
        for (int twice = 0; twice < 2; twice++) {
            size_t bytes;
            if (cr_mul_size(max_batch, net->dims[l + 1], &bytes) != CR_OK || cr_mul_size(bytes, es, &bytes) != CR_OK ||
                !align_up(bytes, 64, &bytes) || off > SIZE_MAX - bytes)
                return CR_FAIL(CR_ERR_OVERFLOW);
            offsets[k++] = off;
            off += bytes;
        }
    }
    const int own_z = net->link_form[0] != CR_AFFINE_NONE;
    for (int i = 0; i < 3 + own_out + own_z; i++) {
        size_t bytes;
        if (cr_mul_size(max_batch,
                        i < 2                 ? maxdim :
                            i == 2            ? 1 :
                            i == 3 && own_out ? net->dims[net->n_layers] :
                                                net->dims[0],
                        &bytes) != CR_OK ||
            cr_mul_size(bytes, es, &bytes) != CR_OK || !align_up(bytes, 64, &bytes) || off > SIZE_MAX - bytes)
            return CR_FAIL(CR_ERR_OVERFLOW);
        offsets[k++] = off;
        off += bytes;
    }
    total = off;
    char *mem = aligned_alloc(64, total);
    if (!mem) return cr_fail_nomem("cr_tape_create", total);
    memset(mem, 0, total);
    cr_tape *tape = (cr_tape *)mem;
    tape->dtype = net->dtype;
    tape->max_batch = max_batch;
    tape->n_layers = net->n_layers;
    memcpy(tape->dims, net->dims, sizeof(size_t) * (size_t)(net->n_layers + 1));
    k = 0;
    for (int l = 0; l < net->n_layers; l++) {
        tape->pre[l] = mem + offsets[k++];
        tape->post[l] = mem + offsets[k++];
    }
    tape->grad_a = mem + offsets[k++];
    tape->grad_b = mem + offsets[k++];
    tape->loss = mem + offsets[k++];
    tape->out = own_out                                 ? (void *)(mem + offsets[k++])
                : net->head == CR_HEAD_SQUARED_ERROR    ? tape->post[net->n_layers - 1]
                                                        : tape->pre[net->n_layers - 1];
    tape->input_z = own_z ? (void *)(mem + offsets[k++]) : NULL;
    tape->has_out_act = net->has_out_act;
    tape->out_act = net->out_act;
    tape->head = net->head;
    *out = tape;
    return CR_OK;
}

void cr_tape_free(cr_tape *tape) { free(tape); }
