/*
 * linear:  r = x W + b        x: N×D   W: D×H   b: 1×H   r: N×H
 *
 *   Jacobian   ∂r/∂x = Wᵀ                 (H×D, one row per output; same for every example)
 *   VJP        g_x = g Wᵀ                 (N×H)(H×D) -> N×D      a true matrix product
 *   JVP        ṙ   = ẋ W                  (N×D)(D×H) -> N×H
 *   params     ∂W  = xᵀ g  (D×H)   ∂b = Σ_n g_n  (1×H)
 *
 * The first five functions are the op's plain forms (public, chainrule_typed.h). The
 * walks run the forms below them (linear.tmpl.h): the forward and the VJP on a
 * share of the columns, and the parameter step W <- βW + α xᵀG, b <- βb + α ΣG
 * on a block of W. Their float32 backends sit beneath them, as the sigmoid's
 * SIMD kernels sit beneath its table row: the packed A·Bᵀ kernel (kernels/abt.h)
 * for layer 0's products, the vectorised column sum, and for one row (the
 * per-example SGD path) the gemv, the sparse gemv over the nonzero inputs and
 * the sparse rank-one update (kernels/linear.h). Each form picks its backend
 * from its arguments only, so a caller gets the same bits for the same call.
 */
#include <string.h>

#include "linear.tmpl.h"
#if defined(CR_REAL_F32)
#include "kernels/linear.h"    /* the column sum and the one-row kernels */
#include "kernels/sparse_xw.h" /* x W + b over the nonzero inputs */
#endif

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
    /* G_W <- G_W + scale · Xᵀ G,  G_b <- G_b + scale · Σ_n G_n: the parameter step
       with β = 1 on the whole of W */
    FN(linear_param_step)(n, d, h, x, g, scale, 1, dw, db, 0, d, 0, h);
}

/* ------------------------------------------------ the running forms (walks) */

void CR_TYPED(cr_linear_forward_share_f32, cr_linear_forward_share_f64)(
    size_t n, size_t din, size_t dout, const real *x, const real *w, const real *b, size_t c0,
    size_t c1, real *r, const cr_abt_packed *wt_packed) {
    if (c0 == 0 && c1 == dout) {
#if defined(CR_REAL_F32)
        if (wt_packed && wt_packed->data) {
            /* the same bits over the nonzero inputs, where they are few enough */
            if (wt_packed->finite && cr_sparse_xw_pays(n, din, x, din)) {
                cr_sparse_xw_f32(n, din, dout, x, din, w, dout, b, r, dout);
                return;
            }
            /* R <- X W by the packed kernel, then + b */
            cr_abt_gemm(n, 1, x, din, NULL, wt_packed, r, dout);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < dout; j++) r[i * dout + j] += b[j];
            return;
        }
#else
        (void)wt_packed;
#endif
        FN(linear_forward)(n, din, dout, x, w, b, r);
    } else if (c1 > c0) { /* R[:, c0:c1) <- b[c0:c1) + X W[:, c0:c1) */
        for (size_t i = 0; i < n; i++) memcpy(r + i * dout + c0, b + c0, (c1 - c0) * sizeof(real));
        GEMM(0, 0, n, c1 - c0, din, 1, x, din, w + c0, dout, 1, r + c0, dout);
    }
}

void CR_TYPED(cr_linear_vjp_share_f32, cr_linear_vjp_share_f64)(
    size_t n_ex, size_t kr, size_t din, size_t dout, const real *w, const real *g, size_t lo,
    size_t hi, real *gin, size_t ld_in, const cr_abt_packed *w_packed, const size_t *derived) {
#if defined(CR_REAL_F32)
    if (w_packed && w_packed->data && lo == 0 && hi == din) {
        cr_abt_gemm(n_ex, kr, g, dout, derived, w_packed, gin, ld_in);
        return;
    }
#else
    (void)w_packed;
    (void)derived;
    (void)din;
#endif
    if (hi > lo) /* G_in[:, lo:hi) <- G W[lo:hi, :]ᵀ */
        GEMM(0, 1, n_ex * kr, hi - lo, dout, 1, g, dout, w + lo * dout, dout, 0, gin + lo, ld_in);
}

/* b[c0:c1) <- β b[c0:c1) + α Σ_i G[i, c0:c1) (G: n rows of stride ld); β == 0
   overwrites. In float32 a whole row by the vectorised kernel. */
static void FN(linear_colsum)(size_t n, size_t ld, size_t c0, size_t c1, real alpha, const real *g,
                              real beta, real *b) {
#if defined(CR_REAL_F32)
    if (c0 == 0 && c1 == ld) {
        cr_colsum_axpby_f32(n, ld, alpha, g, beta, b);
        return;
    }
#endif
    for (size_t j0 = c0; j0 < c1; j0 += 64) {
        size_t m = c1 - j0 < 64 ? c1 - j0 : 64;
        real s[64] = {0};
        for (size_t i = 0; i < n; i++) {
            const real *gi = g + i * ld + j0;
            for (size_t j = 0; j < m; j++) s[j] += gi[j];
        }
        for (size_t j = 0; j < m; j++) b[j0 + j] = (beta == 0 ? (real)0 : beta * b[j0 + j]) + alpha * s[j];
    }
}

void CR_TYPED(cr_linear_param_step_f32, cr_linear_param_step_f64)(
    size_t n, size_t din, size_t dout, const real *x, const real *g, real alpha, real beta, real *w,
    real *b, size_t r0, size_t r1, size_t c0, size_t c1) {
    if (c1 <= c0) return;
    /* W[r0:r1, c0:c1) <- β W[r0:r1, c0:c1) + α X[:, r0:r1)ᵀ G[:, c0:c1) */
    if (r1 > r0)
        GEMM(1, 0, r1 - r0, c1 - c0, n, alpha, x + r0, din, g + c0, dout, beta,
             w + r0 * dout + c0, dout);
    /* b[c0:c1) <- β b[c0:c1) + α Σ_n G_n[c0:c1) */
    if (b) FN(linear_colsum)(n, dout, c0, c1, alpha, g, beta, b);
}

#if defined(CR_REAL_F32)
size_t cr_linear_forward_sparse_f32(size_t din, size_t dout, const float *x, const float *w,
                                    const float *b, float *r, uint32_t *nz) {
    size_t nnz = cr_nonzero_f32(din, x, nz);
    cr_sparse_gemv_f32(nnz, nz, dout, x, w, b, r);
    return nnz;
}

void cr_linear_vjp_row_f32(size_t din, size_t dout, const float *w, const float *g, float *gin) {
    cr_gemv_rows_f32(din, dout, w, g, gin);
}

int cr_linear_param_step_sparse_f32(size_t nnz, const uint32_t *nz, size_t dout, float alpha,
                                    const float *x, const float *g, float *w, float *b) {
    return cr_sparse_ger_f32(nnz, nz, dout, alpha, x, g, w, b);
}
#endif
