/*
 * linear:  r = x W + b        x: N×D   W: D×H   b: 1×H   r: N×H
 *
 *   Jacobian   ∂r/∂x = Wᵀ                 (H×D, one row per output; same for every example)
 *   VJP        g_x = g Wᵀ                 (N×H)(H×D) -> N×D      a true matrix product
 *   JVP        ṙ   = ẋ W                  (N×D)(D×H) -> N×H
 *   params     ∂W  = xᵀ g  (D×H)   ∂b = Σ_n g_n  (1×H)
 */

void CR_TYPED(cr_linear_forward_f32, cr_linear_forward_f64)(
    size_t n, size_t d, size_t h, const real *x, const real *w, const real *b, real *r) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++) r[i * h + j] = b[j];
    /* R <- X W + R */
    GEMM(0, 0, n, h, d, 1, x, d, w, h, 1, r, h);
}

void CR_TYPED(cr_linear_jacobian_f32, cr_linear_jacobian_f64)(size_t d, size_t h, const real *w,
                                                              real *jac) {
    /* jac[j][i] = ∂r_j/∂x_i = W[i][j] */
    for (size_t j = 0; j < h; j++)
        for (size_t i = 0; i < d; i++) jac[j * d + i] = w[i * h + j];
}

void CR_TYPED(cr_linear_vjp_f32, cr_linear_vjp_f64)(size_t n, size_t d, size_t h, const real *w,
                                                    const real *g, real *gx) {
    /* G_x <- G Wᵀ */
    GEMM(0, 1, n, d, h, 1, g, h, w, h, 0, gx, d);
}

void CR_TYPED(cr_linear_jvp_f32, cr_linear_jvp_f64)(size_t n, size_t d, size_t h, const real *w,
                                                    const real *xd, real *rd) {
    /* Ṙ <- Ẋ W  (the bias is constant: no tangent) */
    GEMM(0, 0, n, h, d, 1, xd, d, w, h, 0, rd, h);
}

void CR_TYPED(cr_linear_param_grads_f32, cr_linear_param_grads_f64)(
    size_t n, size_t d, size_t h, const real *x, const real *g, real scale, real *dw, real *db) {
    /* G_W <- G_W + scale · Xᵀ G */
    GEMM(1, 0, d, h, n, scale, x, d, g, h, 1, dw, h);
    /* G_b <- G_b + scale · Σ_n G_n */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++) db[j] += scale * g[i * h + j];
}
