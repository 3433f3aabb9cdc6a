/*
 * leaky-relu:  h = r for r > 0, 0.01 r otherwise, element-wise    r, h: N×H
 *
 *   a'(r)      1 for r > 0, 0.01 otherwise         (0.01 is taken at r = 0, as PyTorch)
 *   a''(r)     0 (away from the kink)
 *   Jacobian   ∂h/∂r = diag(a'(r))                 (H×H, diagonal)
 *   VJP        g_r = g ∘ a'(r)
 *   JVP        ḣ   = ṙ ∘ a'(r)
 *
 * The slope 0.01 is PyTorch's nn.LeakyReLU() default and ONNX LeakyRelu's
 * default alpha; in float32 it is the float nearest 0.01, as both compute it.
 * The derivative reads r (h has r's sign, but r is what the op file states).
 */

#define CR_LEAKY_SLOPE ((real)0.01)

void CR_TYPED(cr_leaky_relu_forward_f32, cr_leaky_relu_forward_f64)(size_t count, const real *r,
                                                                    real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] > 0 ? r[i] : r[i] * CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_deriv_f32, cr_leaky_relu_deriv_f64)(size_t count, const real *r,
                                                                const real *h, real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = r[i] > 0 ? 1 : CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_deriv2_f32, cr_leaky_relu_deriv2_f64)(size_t count, const real *r,
                                                                  const real *h, real *d2) {
    (void)r, (void)h;
    for (size_t i = 0; i < count; i++) d2[i] = 0;
}

void CR_TYPED(cr_leaky_relu_jacobian_f32, cr_leaky_relu_jacobian_f64)(size_t d, const real *r,
                                                                      const real *h, real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = r[i] > 0 ? 1 : CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_vjp_f32, cr_leaky_relu_vjp_f64)(size_t count, const real *r,
                                                            const real *h, const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = r[i] > 0 ? g[i] : g[i] * CR_LEAKY_SLOPE;
}

void CR_TYPED(cr_leaky_relu_jvp_f32, cr_leaky_relu_jvp_f64)(size_t count, const real *r,
                                                            const real *h, const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = r[i] > 0 ? rd[i] : rd[i] * CR_LEAKY_SLOPE;
}

#undef CR_LEAKY_SLOPE
