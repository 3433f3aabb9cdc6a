/*
 * softmax:  ŷ = S(θ),  ŷ_i = e^(θ_i) / Σ_j e^(θ_j), per row        θ, ŷ: N×K
 *
 *   Jacobian   ∂ŷ/∂θ = diag(ŷ) − ŷᵀ ŷ            (K×K, NOT diagonal: every ŷ_i
 *                                                  depends on every θ_j)
 *   VJP        g_θ = g (diag(ŷ) − ŷᵀŷ) = ŷ ∘ (g − ⟨g, ŷ⟩)
 *   JVP        ẏ   = (diag(ŷ) − ŷᵀŷ) θ̇ = ŷ ∘ (θ̇ − ⟨θ̇, ŷ⟩)
 *
 * Stable: the row maximum is subtracted before exponentiating.
 */

void CR_TYPED(cr_softmax_forward_f32, cr_softmax_forward_f64)(size_t n, size_t k, const real *theta,
                                                              real *yhat) {
    for (size_t i = 0; i < n; i++) {
        const real *t = theta + i * k;
        real *y = yhat + i * k, m = t[0], sum = 0;
        for (size_t j = 1; j < k; j++) m = t[j] > m ? t[j] : m;
        for (size_t j = 0; j < k; j++) sum += (y[j] = R_EXP(t[j] - m));
        for (size_t j = 0; j < k; j++) y[j] /= sum;
    }
}

void CR_TYPED(cr_log_softmax_forward_f32, cr_log_softmax_forward_f64)(
    size_t n, size_t k, const real *theta, real *logp) {
    for (size_t i = 0; i < n; i++) {
        const real *t = theta + i * k;
        real *lp = logp + i * k, m = t[0], sum = 0;
        for (size_t j = 1; j < k; j++) m = t[j] > m ? t[j] : m;
        for (size_t j = 0; j < k; j++) sum += R_EXP(t[j] - m);
        /* log ŷ_j = (θ_j − m) − log Σ e^(θ − m); forming lse = m + log Σ first would
           round log Σ away when |m| ≫ 1 */
        real log_sum = R_LOG(sum);
        for (size_t j = 0; j < k; j++) lp[j] = (t[j] - m) - log_sum;
    }
}

void CR_TYPED(cr_softmax_jacobian_f32, cr_softmax_jacobian_f64)(size_t k, const real *yhat,
                                                                real *jac) {
    /* jac[i][j] = ∂ŷ_i/∂θ_j = ŷ_i (δ_ij − ŷ_j) */
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) jac[i * k + j] = (i == j ? yhat[i] : 0) - yhat[i] * yhat[j];
}

void CR_TYPED(cr_softmax_vjp_f32, cr_softmax_vjp_f64)(size_t n, size_t k, const real *yhat,
                                                      const real *g, real *gtheta) {
    for (size_t i = 0; i < n; i++) {
        const real *y = yhat + i * k, *gi = g + i * k;
        real dot = 0;
        for (size_t j = 0; j < k; j++) dot += gi[j] * y[j];
        for (size_t j = 0; j < k; j++) gtheta[i * k + j] = y[j] * (gi[j] - dot);
    }
}

void CR_TYPED(cr_softmax_jvp_f32, cr_softmax_jvp_f64)(size_t n, size_t k, const real *yhat,
                                                      const real *td, real *yd) {
    for (size_t i = 0; i < n; i++) {
        const real *y = yhat + i * k, *ti = td + i * k;
        real dot = 0;
        for (size_t j = 0; j < k; j++) dot += ti[j] * y[j];
        for (size_t j = 0; j < k; j++) yd[i * k + j] = y[j] * (ti[j] - dot);
    }
}
