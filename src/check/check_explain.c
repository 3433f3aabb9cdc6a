/*
 * explain's agreements for one example of a float64 net: four ways to ∂J/∂x
 * against the VJP chain that `grad` runs (cr_net_input_grad), and the
 * unfused head against the fused one.
 *
 *   product of explicit Jacobians  ∂J/∂ŷ · ∂ŷ/∂θ · ∂θ/∂h · … · ∂r1/∂z · ∂z/∂x
 *   finite differences             of J(x), two steps (Richardson), float64
 *   closed form                    ((ŷ − y) W_Lᵀ ∘ a'(r_(L−1))) … W1ᵀ, plain loops
 *                                  (∘ γ ⊘ √(v + ε) before W_lᵀ after a BatchNorm link)
 * A regressor (the squared-error head, J = ½‖o − t‖², y holding the targets t): the
 * chain starts at ∂J/∂o = o − t and, with an output activation o = a(θ), its
 * diagonal link ∂o/∂θ = diag(a′(θ)) (the textbook sigmoid + squared error); the closed
 * form starts at (o − t) ∘ a′(θ), and the head check compares the unfused
 * (o − t) · ∂o/∂θ, the activation's explicit Jacobian, with the element-wise
 * (o − t) ∘ a′(θ) of the row's derivative.
 * With an input link (link 0, e.g. the standardisation z = (x − μ) ⊘ σ) the chain
 * starts with ∂z/∂x = diag(a): the VJP chain and the product of Jacobians include it
 * (the net's own link), the closed form ends with ∘ a written out here
 * (chk_link_deriv64), and the finite differences step the raw x.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "check_internal.h"

/* The closed form in plain loops, independent of the library's ops and walks. */
static void closed_form(const cr_net *net, const cr_tape *tape, const double *y, double *out,
                        double *g, double *gn) {
    const int L = net->n_layers;
    const size_t K = net->dims[L];
    const double *P = net->params, *yhat = tape->post[L - 1];
    for (size_t i = 0; i < K; i++) g[i] = yhat[i] - y[i]; /* ŷ − y, or o − t */
    if (net->head == CR_HEAD_SQUARED_ERROR && net->has_out_act) /* ∘ a′(θ): the output's diagonal */
        for (size_t i = 0; i < K; i++)
            g[i] *= chk_act_deriv64_at(net->out_act, ((const double *)tape->pre[L - 1])[i], yhat[i]);
    for (int l = L - 1; l >= 0; l--) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        const double *W = P + net->w_offset[l];
        if (chk_layer_link_diag64(net, l, gn)) /* g ∘ γ ⊘ √(v + ε): the link after layer l */
            for (size_t j = 0; j < dout; j++) g[j] *= gn[j];
        for (size_t i = 0; i < din; i++) { /* (g Wᵀ)_i = Σ_j g_j W[i][j] */
            double s = 0;
            for (size_t j = 0; j < dout; j++) s += g[j] * W[i * dout + j];
            gn[i] = s;
        }
        if (l > 0) {
            const double *h = tape->post[l - 1], *r = tape->pre[l - 1];
            for (size_t i = 0; i < din; i++) {
                double d = chk_act_deriv64_at(net->act[l - 1], r[i], h[i]); /* the row's formula */
                gn[i] *= d;
            }
        }
        memcpy(g, gn, din * sizeof *g);
    }
    for (size_t j = 0; j < net->dims[0]; j++) out[j] = g[j] * chk_link_deriv64(net, 0, j); /* link 0 */
}

cr_status cr_check_explain(const cr_net *net, const double *x, const double *y,
                           const cr_check_options *opt, cr_check_explain_out *out,
                           cr_check_report *rep) {
    if (!net || net->dtype != CR_F64 || !x || !y || !out || !rep || !out->vjp || !out->jac ||
        !out->fd || !out->closed || !out->head_fused || !out->head_unfused)
        return CR_FAIL(CR_ERR_ARG);
    /* explain's chain: softmax + CE on θ, or squared error on o = θ or a(θ) */
    const int regress = net->head == CR_HEAD_SQUARED_ERROR;
    if (!regress && !cr_net_is_plain_classifier(net)) return CR_FAIL(CR_ERR_ARG);
    cr_check_options o = chk_opts(opt);
    const int L = net->n_layers;
    const size_t D = net->dims[0], K = net->dims[L];
    size_t maxw = 0;
    for (int l = 0; l <= L; l++) maxw = net->dims[l] > maxw ? net->dims[l] : maxw;
    double *jp = malloc(K * D * sizeof *jp), *gce = malloc(K * sizeof *gce);
    double *jsm = malloc(K * K * sizeof *jsm), *err = malloc(D * sizeof *err);
    double *g = malloc(maxw * sizeof *g), *gn = malloc(maxw * sizeof *gn);
    cr_tape *tape = NULL;
    chk_oracle orc;
    memset(&orc, 0, sizeof orc);
    cr_status st = CR_OK;
    if (!jp || !gce || !jsm || !err || !g || !gn) {
        st = cr_fail_nomem("cr_check_explain", (K * D + K + K * K + D + 2 * maxw) * sizeof(double));
        goto done;
    }
    if ((st = cr_tape_create(net, 1, &tape)) || (st = cr_net_forward_f64(net, tape, 1, x))) goto done;
    out->loss = cr_net_loss_f64(net, tape, y);
    const double *yhat = tape->post[L - 1];
    /* the reference: the VJP chain that `grad` runs, down to the raw x */
    if ((st = cr_net_input_grad_targets_f64(NULL, net, 1, x, y, out->vjp, NULL))) goto done;
    /* the product of the explicit Jacobians: ∂J/∂ŷ · [∂ŷ/∂θ · … · ∂r1/∂z · ∂z/∂x], or for a
       regressor ∂J/∂o · [∂o/∂θ · … ] with ∂J/∂o = o − t */
    if ((st = cr_net_input_jacobian_chain_f64(net, tape, 0, !regress, jp))) goto done;
    if (regress)
        for (size_t i = 0; i < K; i++) gce[i] = yhat[i] - y[i];
    else
        cr_cross_entropy_jacobian_f64(K, yhat, y, gce);
    for (size_t j = 0; j < D; j++) {
        double s = 0;
        for (size_t i = 0; i < K; i++) s += gce[i] * jp[i * D + j];
        out->jac[j] = s;
    }
    closed_form(net, tape, y, out->closed, g, gn);
    /* finite differences of J(x), the steps taken in the raw x */
    if ((st = chk_oracle_make(&orc, net, 1, x, y)) || (st = chk_fd_input(&orc, 0, out->fd, err, NULL, NULL)))
        goto done;
    /* the unfused head: ∂J/∂ŷ · ∂ŷ/∂θ with the explicit matrix, against the fused ŷ − y; for
       a regressor (o − t) · ∂o/∂θ (the output activation's explicit Jacobian, or the identity)
       against the element-wise (o − t) ∘ a′(θ) */
    if (!regress) {
        cr_softmax_jacobian_f64(K, yhat, jsm);
        cr_softmax_ce_jacobian_f64(K, yhat, y, out->head_fused);
    } else if (net->has_out_act) {
        const double *th = tape->pre[L - 1];
        cr_activation_jacobian_f64(net->out_act, K, th, yhat, jsm);
        for (size_t i = 0; i < K; i++)
            out->head_fused[i] = gce[i] * chk_act_deriv64_at(net->out_act, th[i], yhat[i]);
    } else {
        for (size_t i = 0; i < K * K; i++) jsm[i] = i % (K + 1) == 0;
        memcpy(out->head_fused, gce, K * sizeof *gce);
    }
    for (size_t j = 0; j < K; j++) {
        double s = 0;
        for (size_t i = 0; i < K; i++) s += gce[i] * jsm[i * K + j];
        out->head_unfused[j] = s;
    }

    /* the size of the terms of ∂J/∂x (the abs chain, ∘ |a| of link 0) */
    double *scale = orc.abs[CR_MAX_LAYERS];
    const double geps = chk_gamma_eps(net, CR_F64);
    chk_id id = {CR_CHECK_JACOBIAN_PRODUCT, 0, "network", "product of the explicit Jacobians"};
    if ((st = chk_compare(rep, &id, 1, D, out->jac, out->vjp, NULL, scale, 0, geps, &o, 0))) goto done;
    id.kind = CR_CHECK_INPUT_GRAD;
    id.what = "central finite differences (float64, steps h and 2h, Richardson)";
    /* here the finite differences are the reference's error: compare vjp against fd */
    if ((st = chk_compare(rep, &id, 1, D, out->vjp, out->fd, err, scale, 0, geps, &o, 0))) goto done;
    id.kind = CR_CHECK_CLOSED_FORM;
    id.what = "closed form, written out with plain loops";
    if ((st = chk_compare(rep, &id, 1, D, out->closed, out->vjp, NULL, scale, 0, geps, &o, 0))) goto done;
    id.kind = CR_CHECK_HEAD_UNFUSED;
    id.layer = 2 * L;
    id.op = regress ? "squared-error" : "softmax+cross-entropy";
    id.what = regress ? "unfused head (o - t) do/dtheta vs element-wise (o - t) * a'(theta)"
                      : "unfused head (-y/yhat)(diag(yhat) - yhat^T yhat) vs fused yhat - y";
    st = chk_compare(rep, &id, 1, K, out->head_unfused, out->head_fused, NULL, NULL, 1.0, geps, &o, 0);
done:
    chk_oracle_free(&orc);
    cr_tape_free(tape);
    free(jp), free(gce), free(jsm), free(err), free(g), free(gn);
    return st;
}
