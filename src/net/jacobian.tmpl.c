/*
 * Full input Jacobians, K x D per example (numerator layout: row c is the
 * gradient of output c), three ways that must agree:
 *
 *   rev     K VJPs per example. The forward pass is done once; its activations
 *           are replicated K times and the K basis cotangents (e_c on the logits,
 *           or e_c (diag(ŷ) − ŷᵀŷ) through the softmax VJP) are pulled back
 *           together by cr_net_vjp: every layer is one (N·K)-row gemm.
 *   fwd     D JVPs per example: tangents = the rows of I_D, pushed forward
 *           together by cr_net_jvp (one (N·D)-row gemm per layer), transposed.
 *   closed  the product of the Jacobians, as DESIGN.md section 3 writes it:
 *             M = (diag(ŷ) − ŷᵀŷ  or  I) W_Lᵀ diag(a'_{L−1}) ... W_2ᵀ diag(a'_1) W_1ᵀ
 *           left to right, all examples stacked: each "· W_lᵀ" is one gemm
 *           with (N·K) rows and each "· diag(a')" scales the columns of every
 *           example's K rows by its own a' (no diagonal matrix is formed).
 *
 * Cost per example: rev and closed ~ K·(Σ d_l d_{l+1}) multiply-adds, fwd
 * ~ D·(Σ d_l d_{l+1}); for D = 784, K = 10 reverse is ~80× cheaper, which is
 * what `auto` decides from K and D.
 */
#include "input_util.tmpl.h"

static cr_status FN(jac_rev)(const cr_net *net, size_t n, const real *x, int of_probs,
                             real *jac) {
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    size_t chunk = 4096 / k;
    if (chunk == 0) chunk = 1;
    if (chunk > n) chunk = n;
    cr_tape *t1 = NULL, *tk = NULL;
    real *g = malloc(chunk * k * k * sizeof(real));
    cr_status st = CR_ERR_NOMEM;
    if (!g || cr_tape_create(net, chunk, &t1) != CR_OK || cr_tape_create(net, chunk * k, &tk) != CR_OK)
        goto done;
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        if ((st = FN(net_forward)(net, t1, m, x + i0 * d)) != CR_OK) goto done;
        FN(iu_replicate)(net, t1, 0, m, k, tk);
        const real *yhat = tk->post[L - 1];
        for (size_t r = 0; r < m * k; r++) /* row (i, c): cotangent for output c */
            FN(iu_class_cotangent)(k, r % k, yhat + r * k, of_probs, g + r * k);
        if ((st = FN(net_vjp)(net, tk, g, jac + i0 * k * d)) != CR_OK) goto done;
    }
    st = CR_OK;
done:
    free(g);
    cr_tape_free(t1);
    cr_tape_free(tk);
    return st;
}

static cr_status FN(jac_fwd)(const cr_net *net, size_t n, const real *x, int of_probs,
                             real *jac) {
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    size_t chunk = 2048 / d;
    if (chunk == 0) chunk = 1;
    if (chunk > n) chunk = n;
    cr_tape *t1 = NULL, *td = NULL;
    real *tangent = calloc(chunk * d * d, sizeof(real));
    real *out = malloc(chunk * d * k * sizeof(real));
    cr_status st = CR_ERR_NOMEM;
    if (!tangent || !out || cr_tape_create(net, chunk, &t1) != CR_OK ||
        cr_tape_create(net, chunk * d, &td) != CR_OK)
        goto done;
    for (size_t i = 0; i < chunk; i++) /* chunk stacked copies of I_D */
        for (size_t j = 0; j < d; j++) tangent[(i * d + j) * d + j] = 1;
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        if ((st = FN(net_forward)(net, t1, m, x + i0 * d)) != CR_OK) goto done;
        FN(iu_replicate)(net, t1, 0, m, d, td);
        st = FN(net_jvp)(net, td, tangent, of_probs ? NULL : out, of_probs ? out : NULL);
        if (st != CR_OK) goto done;
        /* out row (i, j) = ∂output/∂x_j of example i (a column of the Jacobian) */
        for (size_t i = 0; i < m; i++) {
            real *ji = jac + (i0 + i) * k * d;
            const real *oi = out + i * d * k;
            for (size_t j = 0; j < d; j++)
                for (size_t c = 0; c < k; c++) ji[c * d + j] = oi[j * k + c];
        }
    }
    st = CR_OK;
done:
    free(tangent);
    free(out);
    cr_tape_free(t1);
    cr_tape_free(td);
    return st;
}

static cr_status FN(jac_closed)(const cr_net *net, size_t n, const real *x, int of_probs,
                                real *jac) {
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    size_t hmax = k; /* widest factor left of W_1ᵀ */
    for (int l = 1; l < L; l++) hmax = net->dims[l] > hmax ? net->dims[l] : hmax;
    size_t chunk = n < 1024 ? n : 1024;
    cr_tape *t1 = NULL;
    real *za = malloc(chunk * k * hmax * sizeof(real));
    real *zb = malloc(chunk * k * hmax * sizeof(real));
    real *deriv = malloc(chunk * hmax * sizeof(real));
    cr_status st = CR_ERR_NOMEM;
    if (!za || !zb || !deriv || cr_tape_create(net, chunk, &t1) != CR_OK) goto done;
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        if ((st = FN(net_forward)(net, t1, m, x + i0 * d)) != CR_OK) goto done;
        /* M_i <- diag(ŷ_i) − ŷ_iᵀŷ_i (the softmax Jacobian) or I, stacked: (m·K)×K */
        for (size_t i = 0; i < m; i++) {
            real *a = za + i * k * k;
            if (of_probs)
                FN(softmax_jacobian)(k, (const real *)t1->post[L - 1] + i * k, a);
            else
                for (size_t c = 0; c < k * k; c++) a[c] = c % (k + 1) == 0 ? 1 : 0;
        }
        real *cur = za, *next = zb;
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l], dout = net->dims[l + 1];
            real *dest = l == 0 ? jac + i0 * k * d : next;
            /* M <- M W_lᵀ : (m·K × dout)(dout × din), W_l stored din × dout */
            GEMM(0, 1, m * k, din, dout, 1, cur, dout, FN(iu_w)(net, l), dout, 0, dest, din);
            if (l > 0) {
                /* M <- M diag(a'(r_{l−1})) : scale the columns of each example's K rows */
                FN(iu_act_deriv)(net->act[l - 1], m * din, t1->pre[l - 1], t1->post[l - 1], deriv);
                for (size_t i = 0; i < m; i++) {
                    const real *di = deriv + i * din;
                    for (size_t c = 0; c < k; c++) {
                        real *row = dest + (i * k + c) * din;
                        for (size_t j = 0; j < din; j++) row[j] *= di[j];
                    }
                }
                next = cur;
                cur = dest;
            }
        }
    }
    st = CR_OK;
done:
    free(za);
    free(zb);
    free(deriv);
    cr_tape_free(t1);
    return st;
}

cr_status FN(net_input_jacobian)(const cr_net *net, size_t n, const real *x, int of_probs,
                                 cr_jac_mode mode, real *jac) {
    if (!net || !x || !jac || net->dtype != R_DTYPE) return CR_ERR_ARG;
    if (n == 0) return CR_ERR_SHAPE;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    size_t tmp;
    if (!cr_mul_size(n, k, &tmp) || !cr_mul_size(tmp, d, &tmp)) return CR_ERR_OVERFLOW;
    switch (cr_jac_mode_resolve(mode, k, d)) {
    case CR_JAC_REV: return FN(jac_rev)(net, n, x, of_probs, jac);
    case CR_JAC_FWD: return FN(jac_fwd)(net, n, x, of_probs, jac);
    case CR_JAC_CLOSED: return FN(jac_closed)(net, n, x, of_probs, jac);
    default: return CR_ERR_ARG;
    }
}
