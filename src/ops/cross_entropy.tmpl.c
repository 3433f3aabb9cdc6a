/*
 * cross-entropy (unfused):  J = −Σ_i y_i log ŷ_i, per row         ŷ, y: N×K, J: N
 *
 *   Jacobian   ∂J/∂ŷ = −(y ⊘ ŷ)                   (1×K: J is a scalar)
 *   VJP        g_ŷ = g · (−(y ⊘ ŷ))                (g: the scalar gradient of each row's J)
 *   JVP        (not needed: nothing follows the loss)
 *
 * Composed with softmax: −(y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) = −y + (Σy) ŷ = ŷ − y.
 * This pair exists to show that identity; training uses softmax_ce (fused),
 * since log ŷ and y ⊘ ŷ overflow once a probability underflows to 0.
 * Terms with y_i = 0 contribute nothing and are skipped (no 0·log 0).
 */

void CR_TYPED(cr_cross_entropy_forward_f32, cr_cross_entropy_forward_f64)(
    size_t n, size_t k, const real *yhat, const real *y, real *loss) {
    for (size_t i = 0; i < n; i++) {
        real s = 0;
        for (size_t j = 0; j < k; j++)
            if (y[i * k + j] != 0) s -= y[i * k + j] * R_LOG(yhat[i * k + j]);
        loss[i] = s;
    }
}

void CR_TYPED(cr_cross_entropy_jacobian_f32, cr_cross_entropy_jacobian_f64)(
    size_t k, const real *yhat, const real *y, real *jac) {
    for (size_t j = 0; j < k; j++) jac[j] = y[j] != 0 ? -y[j] / yhat[j] : 0;
}

void CR_TYPED(cr_cross_entropy_vjp_f32, cr_cross_entropy_vjp_f64)(
    size_t n, size_t k, const real *yhat, const real *y, const real *g, real *gyhat) {
    for (size_t i = 0; i < n; i++)
        FN(cross_entropy_jacobian)(k, yhat + i * k, y + i * k, gyhat + i * k);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) gyhat[i * k + j] *= g[i];
}
