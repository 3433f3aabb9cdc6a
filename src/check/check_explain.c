/*
 * explain's agreements for one example of a float64 net: four ways to ∂J/∂x
 * against the VJP chain that `grad` runs (cr_net_input_grad), and the
 * unfused head against the fused one.
 *
 *   product of explicit Jacobians  ∂J/∂ŷ · ∂ŷ/∂θ · ∂θ/∂h · … · ∂r1/∂z · ∂z/∂x
 *   finite differences             of J(x), two steps (Richardson), float64
 *   closed form                    ((ŷ − y) W_Lᵀ ∘ a'(r_(L−1))) … W1ᵀ, plain loops
 * With an input standardisation z = (x − μ) ⊘ σ the chain starts with
 * ∂z/∂x = diag(1/σ): each way ends with the element-wise ⊘ σ.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_internal.h"

/* The closed form in plain loops, independent of the library's ops and walks. */
static void closed_form(const cr_net *net, const cr_tape *tape, const double *y, double *out,
                        double *g, double *gn) {
    const int L = net->n_layers;
    const size_t K = net->dims[L];
    const double *P = net->params, *yhat = tape->post[L - 1];
    for (size_t i = 0; i < K; i++) g[i] = yhat[i] - y[i];
    for (int l = L - 1; l >= 0; l--) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        const double *W = P + net->w_offset[l];
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
    memcpy(out, g, net->dims[0] * sizeof *out);
}

cr_status cr_check_explain(const cr_net *net, const double *x, const double *y,
                           const double *mean, const double *std,
                           const cr_check_options *opt, cr_check_explain_out *out,
                           cr_check_report *rep) {
    if (!net || net->dtype != CR_F64 || !x || !y || !out || !rep || !out->vjp || !out->jac ||
        !out->fd || !out->closed || !out->head_fused || !out->head_unfused || (!mean != !std) ||
        !cr_net_is_plain_classifier(net)) /* explain's chain is softmax + CE on θ */
        return CR_ERR_ARG;
    cr_check_options o = chk_opts(opt);
    const int L = net->n_layers;
    const size_t D = net->dims[0], K = net->dims[L];
    size_t maxw = 0;
    for (int l = 0; l <= L; l++) maxw = net->dims[l] > maxw ? net->dims[l] : maxw;
    double *z = malloc(D * sizeof *z), *inv = std ? malloc(D * sizeof *inv) : NULL;
    double *jp = malloc(K * D * sizeof *jp), *gce = malloc(K * sizeof *gce);
    double *jsm = malloc(K * K * sizeof *jsm), *err = malloc(D * sizeof *err);
    double *g = malloc(maxw * sizeof *g), *gn = malloc(maxw * sizeof *gn);
    cr_tape *tape = NULL;
    chk_oracle orc;
    memset(&orc, 0, sizeof orc);
    cr_status st = CR_ERR_NOMEM;
    if (!z || (std && !inv) || !jp || !gce || !jsm || !err || !g || !gn) goto done;
    for (size_t j = 0; j < D; j++) {
        if (std) {
            if (!(std[j] > 0)) {
                st = CR_ERR_ARG;
                goto done;
            }
            inv[j] = 1 / std[j];
        }
        z[j] = std ? (x[j] - mean[j]) / std[j] : x[j];
    }
    if ((st = cr_tape_create(net, 1, &tape)) || (st = cr_net_forward_f64(net, tape, 1, z))) goto done;
    out->loss = cr_net_loss_f64(net, tape, y);
    const double *yhat = tape->post[L - 1];
    /* the reference: the VJP chain that `grad` runs, then ∂z/∂x = diag(1/σ) */
    if ((st = cr_net_input_grad_f64(net, 1, z, y, out->vjp, NULL))) goto done;
    /* the product of the explicit Jacobians: ∂J/∂ŷ · [∂ŷ/∂θ · … · ∂r1/∂z] */
    if ((st = cr_net_input_jacobian_chain_f64(net, tape, 0, 1, jp))) goto done;
    cr_cross_entropy_jacobian_f64(K, yhat, y, gce);
    for (size_t j = 0; j < D; j++) {
        double s = 0;
        for (size_t i = 0; i < K; i++) s += gce[i] * jp[i * D + j];
        out->jac[j] = s;
    }
    closed_form(net, tape, y, out->closed, g, gn);
    if (std)
        for (size_t j = 0; j < D; j++) out->vjp[j] *= inv[j], out->jac[j] *= inv[j], out->closed[j] *= inv[j];
    /* finite differences of J(x), the steps taken in x */
    if ((st = chk_oracle_make(&orc, net, 1, z, y)) || (st = chk_fd_input(&orc, 0, inv, out->fd, err, NULL, NULL)))
        goto done;
    /* the unfused head */
    cr_softmax_jacobian_f64(K, yhat, jsm);
    for (size_t j = 0; j < K; j++) {
        double s = 0;
        for (size_t i = 0; i < K; i++) s += gce[i] * jsm[i * K + j];
        out->head_unfused[j] = s;
    }
    cr_softmax_ce_jacobian_f64(K, yhat, y, out->head_fused);

    /* the size of the terms of ∂J/∂x (the abs chain), ⊘ σ */
    double *scale = orc.abs[CR_MAX_LAYERS];
    if (std)
        for (size_t j = 0; j < D; j++) scale[j] *= inv[j];
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
    id.op = "softmax+cross-entropy";
    id.what = "unfused head (-y/yhat)(diag(yhat) - yhat^T yhat) vs fused yhat - y";
    st = chk_compare(rep, &id, 1, K, out->head_unfused, out->head_fused, NULL, NULL, 1.0, geps, &o, 0);
done:
    chk_oracle_free(&orc);
    cr_tape_free(tape);
    free(z), free(inv), free(jp), free(gce), free(jsm), free(err), free(g), free(gn);
    return st;
}
