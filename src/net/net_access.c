/*
 * Accessors of a network and whole-batch forward/JVP calls that take and return
 * plain pointers and sizes (chainrule.h, "Accessors for bindings"): what the Python
 * module calls, so that a field added to cr_net or cr_tape cannot break a binding.
 */
#include <stdlib.h>
#include <string.h>

#include "chainrule.h"
#include "core/parallel.h"

cr_dtype cr_net_dtype(const cr_net *net) { return net->dtype; }

int cr_net_n_layers(const cr_net *net) { return net->n_layers; }

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
    if (!net) return CR_ERR_ARG;
    return cr_net_set_output(net, net->has_out_act, net->out_act, head);
}

/* Rows per tape: one tape for the whole call, batches of at most this many rows. */
#define CR_ACCESS_BATCH 1024

static cr_status forward(const cr_net *net, cr_tape *tape, size_t m, const void *x) {
    return net->dtype == CR_F64 ? cr_net_forward_f64(net, tape, m, x) : cr_net_forward_f32(net, tape, m, x);
}

cr_status cr_net_predict(cr_ctx *ctx, const cr_net *net, size_t n, const void *x, int of_probs, void *out) {
    if (!net || !x || !out || n == 0) return CR_ERR_ARG;
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_ERR_ARG;
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
    if (!net || !x || !xd || !out || n == 0) return CR_ERR_ARG;
    if (of_probs && net->head != CR_HEAD_SOFTMAX_CE) return CR_ERR_ARG;
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
