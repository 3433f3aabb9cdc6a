/*
 * relu:  h = max(r, 0), element-wise                        r, h: N×H
 *
 *   Jacobian   ∂h/∂r = diag(1[r > 0])             (H×H, diagonal; 0 is taken at r = 0)
 *   VJP        g_r = g ∘ 1[r > 0]
 *   JVP        ḣ   = ṙ ∘ 1[r > 0]
 *   a'(r)      1[r > 0]        a''(r) = 0 (away from the kink)
 */

void CR_TYPED(cr_relu_forward_f32, cr_relu_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] > 0 ? r[i] : 0;
}

void CR_TYPED(cr_relu_deriv_f32, cr_relu_deriv_f64)(size_t count, const real *r, const real *h,
                                                    real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = r[i] > 0 ? 1 : 0;
}

void CR_TYPED(cr_relu_deriv2_f32, cr_relu_deriv2_f64)(size_t count, const real *r, const real *h,
                                                      real *d2) {
    (void)r;
    (void)h;
    for (size_t i = 0; i < count; i++) d2[i] = 0;
}

void CR_TYPED(cr_relu_jacobian_f32, cr_relu_jacobian_f64)(size_t d, const real *r, const real *h,
                                                          real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = r[i] > 0 ? 1 : 0;
}

void CR_TYPED(cr_relu_vjp_f32, cr_relu_vjp_f64)(size_t count, const real *r, const real *h,
                                                const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = r[i] > 0 ? g[i] : 0;
}

void CR_TYPED(cr_relu_jvp_f32, cr_relu_jvp_f64)(size_t count, const real *r, const real *h,
                                                const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = r[i] > 0 ? rd[i] : 0;
}
