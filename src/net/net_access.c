/*
 * Accessors of a network and whole-batch forward/JVP calls that take and return
 * plain pointers and sizes (chainrule.h, "Accessors for bindings"): what the Python
 * module calls, so that a field added to cr_net or cr_tape cannot break a binding.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "chainrule_typed.h"
#include "core/parallel.h"

cr_dtype cr_net_dtype(const cr_net *net) { return net ? net->dtype : CR_F32; }

int cr_net_n_layers(const cr_net *net) { return net ? net->n_layers : 0; }

size_t cr_net_width(const cr_net *net, int i) {
    return net && i >= 0 && i <= net->n_layers ? net->dims[i] : 0;
}

int cr_net_hidden_activation(const cr_net *net, int l, cr_activation *act) {
    if (!net || !act || l < 0 || l >= net->n_layers - 1) return 0;
    *act = net->act[l];
    return 1;
}

int cr_net_output_activation(const cr_net *net, cr_activation *act) {
    if (!net || !net->has_out_act) return 0;
    if (act) *act = net->out_act;
    return 1;
}

cr_head cr_net_head(const cr_net *net) { return net->head; }

cr_status cr_net_set_head(cr_net *net, cr_head head) {
    if (!net) return CR_FAIL(CR_ERR_ARG);
    return cr_net_set_output(net, net->has_out_act, net->out_act, head);
}

/* Rows per tape: one tape for the whole call, batches of at most this many rows. */
#define CR_ACCESS_BATCH 1024

static cr_status forward(const cr_net *net, cr_tape *tape, size_t m, const void *x) {
    return net->dtype == CR_F64 ? cr_net_forward_f64(net, tape, m, x) : cr_net_forward_f32(net, tape, m, x);
}

cr_status cr_net_predict(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, int of_probs, void *out) {
    if (!net || !x || !out || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG);
    const size_t d = net->dims[0], k = net->dims[net->n_layers], es = cr_dtype_size(net->dtype);
    cr_tape *tape = NULL;
    const int hold = cr_blas_enter(ctx); /* the context's BLAS threads, fixed for the call */
    cr_status st = cr_tape_create(net, n < CR_ACCESS_BATCH ? n : CR_ACCESS_BATCH, &tape);
    for (size_t a = 0; st == CR_OK && a < n; a += CR_ACCESS_BATCH) {
        size_t m = n - a < CR_ACCESS_BATCH ? n - a : CR_ACCESS_BATCH;
        st = forward(net, tape, m, (const char *)x + a * d * es);
        if (st == CR_OK)
            memcpy((char *)out + a * k * es, of_probs ? tape->post[net->n_layers - 1] : tape->out, m * k * es);
    }
    cr_blas_leave(hold);
    cr_tape_free(tape);
    return st;
}

cr_status cr_net_input_jvp(const cr_net *net, size_t n, const void *x, const void *xd, int of_probs, void *out) {
    if (!net || !x || !xd || !out || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG);
    const size_t d = net->dims[0], k = net->dims[net->n_layers], es = cr_dtype_size(net->dtype);
    cr_tape *tape = NULL;
    cr_blas_serial_enter(); /* one BLAS thread: the call's bits fixed whatever runs beside it */
    cr_status st = cr_tape_create(net, n < CR_ACCESS_BATCH ? n : CR_ACCESS_BATCH, &tape);
    for (size_t a = 0; st == CR_OK && a < n; a += CR_ACCESS_BATCH) {
        size_t m = n - a < CR_ACCESS_BATCH ? n - a : CR_ACCESS_BATCH;
        st = forward(net, tape, m, (const char *)x + a * d * es);
        const void *v = (const char *)xd + a * d * es;
        void *o = (char *)out + a * k * es;
        if (st == CR_OK)
            st = net->dtype == CR_F64 ? cr_net_jvp_f64(net, tape, v, of_probs ? NULL : o, of_probs ? o : NULL)
                                      : cr_net_jvp_f32(net, tape, v, of_probs ? NULL : o, of_probs ? o : NULL);
    }
    cr_blas_serial_leave();
    cr_tape_free(tape);
    return st;
}

/* ---------------------------------------------------------------- the handles' fields */

size_t cr_net_n_params(const cr_net *net) { return net ? net->n_params : 0; }

void *cr_net_params(cr_net *net) { return net ? net->params : NULL; }

const void *cr_net_params_const(const cr_net *net) { return net ? net->params : NULL; }

static int layer_ok(const cr_net *net, int l) { return net && l >= 0 && l < net->n_layers; }

size_t cr_net_weight_offset(const cr_net *net, int l) { return layer_ok(net, l) ? net->w_offset[l] : 0; }

size_t cr_net_bias_offset(const cr_net *net, int l) { return layer_ok(net, l) ? net->b_offset[l] : 0; }

const void *cr_net_weight_const(const cr_net *net, int l) {
    return layer_ok(net, l) ? (const char *)net->params + net->w_offset[l] * cr_dtype_size(net->dtype) : NULL;
}

const void *cr_net_bias_const(const cr_net *net, int l) {
    return layer_ok(net, l) ? (const char *)net->params + net->b_offset[l] * cr_dtype_size(net->dtype) : NULL;
}

void *cr_net_weight(cr_net *net, int l) {
    return layer_ok(net, l) ? (char *)net->params + net->w_offset[l] * cr_dtype_size(net->dtype) : NULL;
}

void *cr_net_bias(cr_net *net, int l) {
    return layer_ok(net, l) ? (char *)net->params + net->b_offset[l] * cr_dtype_size(net->dtype) : NULL;
}

cr_activation cr_net_activation(const cr_net *net, int l) {
    if (!layer_ok(net, l)) return CR_ACT_COUNT;
    if (l < net->n_layers - 1) return net->act[l];
    return net->has_out_act ? net->out_act : CR_ACT_COUNT;
}

cr_dtype cr_tape_dtype(const cr_tape *tape) { return tape ? tape->dtype : CR_F32; }

size_t cr_tape_max_batch(const cr_tape *tape) { return tape ? tape->max_batch : 0; }

size_t cr_tape_rows(const cr_tape *tape) { return tape ? tape->n : 0; }

const void *cr_tape_pre(const cr_tape *tape, int l) {
    return tape && l >= 0 && l < tape->n_layers ? tape->pre[l] : NULL;
}

const void *cr_tape_post(const cr_tape *tape, int l) {
    return tape && l >= 0 && l < tape->n_layers ? tape->post[l] : NULL;
}

const void *cr_tape_output(const cr_tape *tape) { return tape ? tape->out : NULL; }

const void *cr_tape_logits(const cr_tape *tape) { return tape ? tape->pre[tape->n_layers - 1] : NULL; }

const void *cr_tape_prediction(const cr_tape *tape) { return tape ? tape->post[tape->n_layers - 1] : NULL; }

const void *cr_tape_loss(const cr_tape *tape) { return tape ? tape->loss : NULL; }

const void *cr_tape_input(const cr_tape *tape) { return tape ? tape->input : NULL; }

cr_tape *cr_train_ws_tape(cr_train_ws *ws) { return ws ? ws->tape : NULL; }

size_t cr_train_ws_max_batch(const cr_train_ws *ws) { return ws ? ws->max_batch : 0; }

int cr_train_ws_threads(const cr_train_ws *ws) { return ws ? ws->workers : 0; }

int cr_train_ws_fault_layer(const cr_train_ws *ws) { return ws ? ws->fault_layer : 0; }

const void *cr_net_link_vector(const cr_net *net, int link, int k) {
    if (!net || link < 0 || link > net->n_layers || k < 0 || k > 3) return NULL;
    return (const char *)net->link_params +
           (net->link_offset[link] + (size_t)k * cr_net_link_width(net, link)) * cr_dtype_size(net->dtype);
}

double cr_net_link_eps(const cr_net *net, int link) {
    return net && link >= 0 && link <= net->n_layers ? net->link_eps[link] : 0.0;
}

const void *cr_tape_input_link(const cr_tape *tape) { return tape ? tape->input_z : NULL; }
