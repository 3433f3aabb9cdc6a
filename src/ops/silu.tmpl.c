/*
 * silu:  h = r σ(r), element-wise (SiLU, "swish")              r, h: N×H
 *        σ(r) = 1/(1 + e^(−r))
 *
 *   a'(r)      σ(r) + r σ(r)(1 − σ(r)) = σ(r)(1 + r(1 − σ(r)))     (product rule; σ' = σ(1 − σ))
 *   a''(r)     σ(1 − σ)(2 + r(1 − 2σ))
 *   Jacobian   ∂h/∂r = diag(a'(r))                 (H×H, diagonal)
 *   VJP        g_r = g ∘ a'(r)
 *   JVP        ḣ   = ṙ ∘ a'(r)
 *
 * The derivative is a function of r (not monotone: a' < 0 for r < −1.28), so
 * every function reads r; σ is evaluated on the side of r where its
 * exponential cannot overflow, so h = r σ(r) goes to −0 smoothly for r ≪ 0.
 * ONNX has no SiLU op before opset 24: it is written, and read, as PyTorch
 * exports nn.SiLU(), Sigmoid(r) then Mul(r, σ(r)).
 */

static inline real FN(silu_sigma)(real r) {
    if (r >= 0) return 1 / (1 + R_EXP(-r));
    real e = R_EXP(r);
    return e / (1 + e);
}
static inline real FN(silu_d)(real r) {
    real s = FN(silu_sigma)(r);
    return s * (1 + r * (1 - s));
}

void CR_TYPED(cr_silu_forward_f32, cr_silu_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] * FN(silu_sigma)(r[i]);
}

void CR_TYPED(cr_silu_deriv_f32, cr_silu_deriv_f64)(size_t count, const real *r, const real *h,
                                                    real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = FN(silu_d)(r[i]);
}

void CR_TYPED(cr_silu_deriv2_f32, cr_silu_deriv2_f64)(size_t count, const real *r, const real *h,
                                                      real *d2) {
    (void)h;
    for (size_t i = 0; i < count; i++) {
        real s = FN(silu_sigma)(r[i]);
        d2[i] = s * (1 - s) * (2 + r[i] * (1 - 2 * s));
    }
}

void CR_TYPED(cr_silu_jacobian_f32, cr_silu_jacobian_f64)(size_t d, const real *r, const real *h,
                                                          real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = FN(silu_d)(r[i]);
}

void CR_TYPED(cr_silu_vjp_f32, cr_silu_vjp_f64)(size_t count, const real *r, const real *h,
                                                const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * FN(silu_d)(r[i]);
}

void CR_TYPED(cr_silu_jvp_f32, cr_silu_jvp_f64)(size_t count, const real *r, const real *h,
                                                const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * FN(silu_d)(r[i]);
}
