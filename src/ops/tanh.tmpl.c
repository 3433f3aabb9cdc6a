/*
 * tanh:  t = tanh(r), element-wise                          r, t: N×H
 *
 *   Jacobian   ∂t/∂r = diag(1 − t²)               (H×H, diagonal)
 *   VJP        g_r = g ∘ (1 − t²)
 *   JVP        ṫ   = ṙ ∘ (1 − t²)
 *   a'(r)      1 − t²          a''(r) = −2t(1 − t²)
 */

void FN(tanh_forward)(size_t count, const real *r, real *h) {
    for (size_t i = 0; i < count; i++) h[i] = R_TANH(r[i]);
}

void FN(tanh_deriv)(size_t count, const real *r, const real *h, real *d) {
    (void)r;
    for (size_t i = 0; i < count; i++) d[i] = 1 - h[i] * h[i];
}

void FN(tanh_deriv2)(size_t count, const real *r, const real *h, real *d2) {
    (void)r;
    for (size_t i = 0; i < count; i++) d2[i] = -2 * h[i] * (1 - h[i] * h[i]);
}

void FN(tanh_jacobian)(size_t d, const real *r, const real *h, real *jac) {
    (void)r;
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t i = 0; i < d; i++) jac[i * d + i] = 1 - h[i] * h[i];
}

void FN(tanh_vjp)(size_t count, const real *r, const real *h, const real *g, real *gr) {
    (void)r;
    for (size_t i = 0; i < count; i++) gr[i] = g[i] * (1 - h[i] * h[i]);
}

void FN(tanh_jvp)(size_t count, const real *r, const real *h, const real *rd, real *hd) {
    (void)r;
    for (size_t i = 0; i < count; i++) hd[i] = rd[i] * (1 - h[i] * h[i]);
}
