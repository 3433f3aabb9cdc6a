/*
 * squared error, the regression head:   J = ½ Σ_j (o_j − t_j)²   per row
 *                                       o (the network's output), t (targets): N×K   J: N
 *
 *   Jacobian   ∂J/∂o = o − t                      (1×K; mirrors the classifier's ŷ − y)
 *   VJP        g_o = g (o − t)                    (g: scalar per row; NULL means 1)
 *   JVP        J̇ = <o − t, ȯ>
 *
 * The loss of a batch is the mean of the rows' J (as for cross-entropy), so
 * PyTorch's equivalent is 0.5 * ((o - t)**2).sum(1).mean().
 */

void CR_TYPED(cr_squared_error_forward_f32, cr_squared_error_forward_f64)(
    size_t n, size_t k, const real *o, const real *t, real *loss) {
    for (size_t i = 0; i < n; i++) {
        real s = 0;
        for (size_t j = 0; j < k; j++) {
            real d = o[i * k + j] - t[i * k + j];
            s += d * d;
        }
        loss[i] = s / 2;
    }
}

void CR_TYPED(cr_squared_error_jacobian_f32, cr_squared_error_jacobian_f64)(
    size_t k, const real *o, const real *t, real *jac) {
    for (size_t j = 0; j < k; j++) jac[j] = o[j] - t[j];
}

void CR_TYPED(cr_squared_error_vjp_f32, cr_squared_error_vjp_f64)(
    size_t n, size_t k, const real *o, const real *t, const real *g, real *go) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++)
            go[i * k + j] = g ? g[i] * (o[i * k + j] - t[i * k + j]) : o[i * k + j] - t[i * k + j];
}

void CR_TYPED(cr_squared_error_jvp_f32, cr_squared_error_jvp_f64)(
    size_t n, size_t k, const real *o, const real *t, const real *od, real *jd) {
    for (size_t i = 0; i < n; i++) {
        real s = 0;
        for (size_t j = 0; j < k; j++) s += (o[i * k + j] - t[i * k + j]) * od[i * k + j];
        jd[i] = s;
    }
}
