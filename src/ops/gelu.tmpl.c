/*
 * gelu:  h = r Φ(r), element-wise (the exact form, PyTorch's default)    r, h: N×H
 *        Φ(r) = ½ erfc(−r/√2)  the standard normal CDF,   φ(r) = e^(−r²/2)/√(2π) its density
 *
 *   a'(r)      Φ(r) + r φ(r)                      (product rule; Φ' = φ)
 *   a''(r)     2φ(r) + r φ'(r) = φ(r)(2 − r²)     (φ'(r) = −r φ(r))
 *   Jacobian   ∂h/∂r = diag(Φ(r) + r φ(r))        (H×H, diagonal)
 *   VJP        g_r = g ∘ (Φ(r) + r φ(r))
 *   JVP        ḣ   = ṙ ∘ (Φ(r) + r φ(r))
 *
 * Unlike σ and tanh, the derivative is a function of r, not of h (it is not
 * monotone: a' < 0 for r < −0.75), so every function reads r. Φ is written
 * with erfc, which keeps its relative accuracy for r ≪ 0 where ½(1 + erf)
 * would cancel; a' and a'' are < 1e−30 there and h = r Φ(r) underflows to
 * −0 smoothly.
 */

static inline real FN(gelu_cdf)(real r) { return (real)0.5 * R_ERFC(-r * (real)0.70710678118654752440); }
static inline real FN(gelu_pdf)(real r) { return (real)0.39894228040143267794 * R_EXP(-(real)0.5 * r * r); }
static inline real FN(gelu_d)(real r) { return FN(gelu_cdf)(r) + r * FN(gelu_pdf)(r); }

void CR_TYPED(cr_gelu_forward_f32, cr_gelu_forward_f64)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = r[i] * FN(gelu_cdf)(r[i]);
}

void CR_TYPED(cr_gelu_deriv_f32, cr_gelu_deriv_f64)(size_t count, const real *r, const real *h,
                                                    real *d) {
    (void)h;
    for (size_t i = 0; i < count; i++) d[i] = FN(gelu_d)(r[i]);
}

void CR_TYPED(cr_gelu_deriv2_f32, cr_gelu_deriv2_f64)(size_t count, const real *r, const real *h,
                                                      real *d2) {
    (void)h;
    for (size_t i = 0; i < count; i++) d2[i] = FN(gelu_pdf)(r[i]) * (2 - r[i] * r[i]);
}

void CR_TYPED(cr_gelu_jacobian_f32, cr_gelu_jacobian_f64)(size_t d, const real *r, const real *h,
                                                          real *jac) {
    (void)h;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = FN(gelu_d)(r[i]);
}

void CR_TYPED(cr_gelu_vjp_f32, cr_gelu_vjp_f64)(size_t count, const real *r, const real *h,
                                                const real *g, real *gr) {
    (void)h;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * FN(gelu_d)(r[i]);
}

void CR_TYPED(cr_gelu_jvp_f32, cr_gelu_jvp_f64)(size_t count, const real *r, const real *h,
                                                const real *rd, real *hd) {
    (void)h;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * FN(gelu_d)(r[i]);
}
