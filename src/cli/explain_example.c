/*
 * The numbers explain prints for one example, all computed by the library:
 * the four ways to ∂J/∂x and the head from the verification library
 * (cr_check_explain), the forward pass from the raw input (link 0 makes z), the loss
 * and the head's two Jacobians. What is derived here is only bookkeeping for
 * the text: the label, whether the gradient is zero, the ReLU units at rest.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "explain.h"

void explain_example_free(explain_example *ex) {
    cr_check_explain_out *w = &ex->ways;
    free(w->vjp), free(w->jac), free(w->fd), free(w->closed), free(w->head_fused), free(w->head_unfused);
    free(ex->dJ_dyhat), free(ex->dyhat_dtheta);
    cr_tape_free(ex->tape);
    cr_check_report_free(&ex->rep);
    memset(ex, 0, sizeof *ex);
}

/* ReLU units of the hidden layers, those inactive (r < 0) and those at the kink (r = 0). */
static void count_relu(explain_example *ex) {
    const cr_net *net = ex->net;
    for (int l = 0; l + 1 < cr_net_n_layers(net); l++)
        if (cr_net_activation(net, l) == CR_ACT_RELU)
            for (size_t i = 0; i < cr_net_width(net, l + 1); i++) {
                double r = ((const double *)cr_tape_pre(ex->tape, l))[i];
                ex->relu_units++;
                ex->relu_off += r < 0, ex->relu_kink += r == 0;
            }
}

cr_status explain_example_compute(const cr_net *net, const double *x, const double *y,
                                  const double *mean, const double *sd, int from_model,
                                  explain_example *ex) {
    memset(ex, 0, sizeof *ex);
    ex->net = net, ex->x = x, ex->y = y, ex->mean = mean, ex->sd = sd, ex->from_model = from_model;
    cr_check_report_init(&ex->rep);
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    cr_check_explain_out *w = &ex->ways;
    w->vjp = malloc(D * sizeof(double)), w->jac = malloc(D * sizeof(double));
    w->fd = malloc(D * sizeof(double)), w->closed = malloc(D * sizeof(double));
    w->head_fused = malloc(K * sizeof(double)), w->head_unfused = malloc(K * sizeof(double));
    ex->dJ_dyhat = malloc(K * sizeof(double)), ex->dyhat_dtheta = malloc(K * K * sizeof(double));
    double *z = malloc(D * sizeof(double));
    cr_status st = CR_ERR_NOMEM;
    if (!w->vjp || !w->jac || !w->fd || !w->closed || !w->head_fused || !w->head_unfused ||
        !ex->dJ_dyhat || !ex->dyhat_dtheta || !z || cr_tape_create(net, 1, &ex->tape) != CR_OK)
        goto fail;

    /* the checks (the verification library) */
    cr_check_options opt = cr_check_options_default();
    if ((st = cr_check_explain(net, x, y, &opt, w, &ex->rep)) != CR_OK) goto fail;
    /* the forward pass printed, from the raw x (the net's input link makes z) */
    cr_net_forward_f64(net, ex->tape, 1, x);
    ex->loss = cr_net_loss_f64(net, ex->tape, y);
    ex->yhat = cr_tape_post(ex->tape, L - 1);
    ex->regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    if (ex->regress) { /* ∂J/∂o = o − t; ∂o/∂θ = diag(a′(θ)), or the identity */
        for (size_t j = 0; j < K; j++) ex->dJ_dyhat[j] = ex->yhat[j] - y[j];
        if (cr_net_output_activation(net, NULL))
            cr_activation_jacobian_f64(cr_net_activation(net, cr_net_n_layers(net) - 1), K,
                                       cr_tape_pre(ex->tape, L - 1), ex->yhat, ex->dyhat_dtheta);
        else
            for (size_t j = 0; j < K * K; j++) ex->dyhat_dtheta[j] = j % (K + 1) == 0;
    } else {
        cr_cross_entropy_jacobian_f64(K, ex->yhat, y, ex->dJ_dyhat);
        cr_softmax_jacobian_f64(K, ex->yhat, ex->dyhat_dtheta);
    }

    ex->label = -1;
    for (size_t j = 0; !ex->regress && j < K; j++)
        if (y[j] == 1.0) ex->label = (int)j;
    double gmax = 0;
    for (size_t j = 0; j < D; j++) gmax = fmax(gmax, fabs(w->vjp[j]));
    ex->gradient_is_zero = !(gmax > 0);
    ex->pass = ex->rep.failures == 0;
    const cr_check_result *res = ex->rep.items; /* jacobian product, fd, closed form, head */
    ex->nonzero = !(res[0].trivial && res[1].trivial && res[2].trivial);
    count_relu(ex);
    free(z);
    return CR_OK;
fail:
    free(z);
    explain_example_free(ex);
    return st;
}
