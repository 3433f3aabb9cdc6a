/*
 * softmax + cross-entropy, fused:   J = −Σ_i y_i log S(θ)_i = Σ_i y_i (lse(θ) − θ_i)
 *                                   lse(θ) = log Σ_j e^(θ_j) = m + log Σ_j e^(θ_j − m)
 *                                   computed as (m − θ_i) + log Σ_j e^(θ_j − m)
 *                                   θ, y: N×K   J: N
 *
 *   Jacobian   ∂J/∂θ = (Σy) ŷ − y  = ŷ − y  for one-hot y      (1×K)
 *   VJP        g_θ = g (ŷ − y)      (g: scalar per row; NULL means 1)
 *   JVP        J̇ = ⟨(Σy) ŷ − y, θ̇⟩  (one scalar per row)
 *
 * Each term y_i (lse − θ_i) is ≥ 0, so there is no cancellation, no log(0)
 * and no 0/0, even for logits of ±1e4.
 */

void CR_TYPED(cr_softmax_ce_forward_f32, cr_softmax_ce_forward_f64)(
    size_t n, size_t k, const real *theta, const real *y, real *yhat, real *loss) {
    for (size_t i = 0; i < n; i++) {
        const real *t = theta + i * k, *yi = y + i * k;
        real m = t[0], sum = 0, s = 0;
        for (size_t j = 1; j < k; j++) m = t[j] > m ? t[j] : m;
        for (size_t j = 0; j < k; j++) sum += R_EXP(t[j] - m);
        /* lse − θ_j = (m − θ_j) + log Σ e^(θ − m): never form lse = m + log Σ itself,
           whose rounding at |m| ≫ 1 would swamp log Σ (e.g. θ = [1e5+0.5, 1e5] in f32) */
        real log_sum = R_LOG(sum);
        for (size_t j = 0; j < k; j++)
            if (yi[j] != 0) s += yi[j] * ((m - t[j]) + log_sum);
        loss[i] = s;
        if (yhat) /* the same numbers as softmax_forward */
            for (size_t j = 0; j < k; j++) yhat[i * k + j] = R_EXP(t[j] - m) / sum;
    }
}

void CR_TYPED(cr_softmax_ce_jacobian_f32, cr_softmax_ce_jacobian_f64)(size_t k, const real *yhat,
                                                                      const real *y, real *jac) {
    real sy = 0;
    for (size_t j = 0; j < k; j++) sy += y[j];
    for (size_t j = 0; j < k; j++) jac[j] = sy * yhat[j] - y[j];
}

void CR_TYPED(cr_softmax_ce_vjp_f32, cr_softmax_ce_vjp_f64)(
    size_t n, size_t k, const real *yhat, const real *y, const real *g, real *gtheta) {
    for (size_t i = 0; i < n; i++) {
        FN(softmax_ce_jacobian)(k, yhat + i * k, y + i * k, gtheta + i * k);
        if (g)
            for (size_t j = 0; j < k; j++) gtheta[i * k + j] *= g[i];
    }
}

void CR_TYPED(cr_softmax_ce_jvp_f32, cr_softmax_ce_jvp_f64)(
    size_t n, size_t k, const real *yhat, const real *y, const real *td, real *jd) {
    for (size_t i = 0; i < n; i++) {
        const real *yh = yhat + i * k, *yi = y + i * k, *t = td + i * k;
        real sy = 0, s = 0;
        for (size_t j = 0; j < k; j++) sy += yi[j];
        for (size_t j = 0; j < k; j++) s += (sy * yh[j] - yi[j]) * t[j];
        jd[i] = s;
    }
}
