/*
 * affine: a per-feature affine link z = a ∘ x + c, element-wise on each row       x, z: N×d
 *
 * It is kept in the form the model file states, never as a pre-rounded a and c,
 * so that z is exactly the arithmetic of the file (a certificate evaluates what
 * the file says):
 *
 *   form         z_j                                   a_j = ∂z_j/∂x_j        ONNX
 *   SUB_DIV      (x_j − p_j) / q_j                     1 / q_j                Sub, Div   (standardisation)
 *   SUB_MUL      (x_j − p_j) · q_j                     q_j                    Sub, Mul
 *   MUL_ADD      x_j · p_j + q_j                       p_j                    Mul, Add
 *   BATCHNORM    (x_j − p_j) / √(q_j + ε) · s_j + t_j   s_j / √(q_j + ε)       BatchNormalization
 *                (p mean, q var, s γ, t β: inference mode)
 *   NONE         x_j                                   1                      (no link)
 *
 *   Jacobian   ∂z/∂x = diag(a)                      (d×d, diagonal, the same for every row)
 *   VJP        g_x = g ∘ a      computed as the form's own arithmetic on g: g / q (SUB_DIV),
 *                               g · q, g · p, g / √(q + ε) · s, so that the VJP rounds once
 *                               where the forward rounds once
 *   JVP        ż   = ẋ ∘ a      (the same products on the tangent)
 *
 * a does not depend on x: the VJP and JVP need no forward pass, and n·k rows of a
 * closed Jacobian are scaled by the same a. Each line is written as one
 * expression in the order of the file's nodes; no FMA contraction (ISO C11, see
 * CMakeLists.txt), so x·p + q rounds twice as ONNX Mul then Add does.
 */
#include <string.h>

#include "ops/affine.h"

void CR_TYPED(cr_affine_forward_f32, cr_affine_forward_f64)(const FN(affine) *a, size_t n,
                                                            size_t d, const real *x, real *z) {
    const real *p = a->p, *q = a->q, *s = a->s, *t = a->t;
    const real eps = a->eps;
    for (size_t i = 0; i < n; i++) {
        const real *xi = x + i * d;
        real *zi = z + i * d;
        switch (a->form) {
        case CR_AFFINE_SUB_DIV:
            for (size_t j = 0; j < d; j++) zi[j] = (xi[j] - p[j]) / q[j];
            break;
        case CR_AFFINE_SUB_MUL:
            for (size_t j = 0; j < d; j++) zi[j] = (xi[j] - p[j]) * q[j];
            break;
        case CR_AFFINE_MUL_ADD:
            for (size_t j = 0; j < d; j++) zi[j] = xi[j] * p[j] + q[j];
            break;
        case CR_AFFINE_BATCHNORM:
            for (size_t j = 0; j < d; j++) zi[j] = (xi[j] - p[j]) / R_SQRT(q[j] + eps) * s[j] + t[j];
            break;
        default:
            if (zi != xi) memmove(zi, xi, d * sizeof(real));
            break;
        }
    }
}

/* g ∘ a on n rows (the VJP and, on a tangent, the JVP: the same diagonal product);
   out may alias g. */
static void FN(affine_scale)(const FN(affine) *a, size_t n, size_t d, const real *g, real *out) {
    const real *p = a->p, *q = a->q, *s = a->s;
    const real eps = a->eps;
    for (size_t i = 0; i < n; i++) {
        const real *gi = g + i * d;
        real *oi = out + i * d;
        switch (a->form) {
        case CR_AFFINE_SUB_DIV:
            for (size_t j = 0; j < d; j++) oi[j] = gi[j] / q[j];
            break;
        case CR_AFFINE_SUB_MUL:
            for (size_t j = 0; j < d; j++) oi[j] = gi[j] * q[j];
            break;
        case CR_AFFINE_MUL_ADD:
            for (size_t j = 0; j < d; j++) oi[j] = gi[j] * p[j];
            break;
        case CR_AFFINE_BATCHNORM:
            for (size_t j = 0; j < d; j++) oi[j] = gi[j] / R_SQRT(q[j] + eps) * s[j];
            break;
        default:
            if (oi != gi) memmove(oi, gi, d * sizeof(real));
            break;
        }
    }
}

void CR_TYPED(cr_affine_diag_f32, cr_affine_diag_f64)(const FN(affine) *a, size_t d, real *diag) {
    for (size_t j = 0; j < d; j++) diag[j] = 1;
    FN(affine_scale)(a, 1, d, diag, diag);
}

void CR_TYPED(cr_affine_jacobian_f32, cr_affine_jacobian_f64)(const FN(affine) *a, size_t d,
                                                              real *jac) {
    for (size_t i = 0; i < d * d; i++) jac[i] = 0;
    for (size_t j = 0; j < d; j++) jac[j * d + j] = 1;
    for (size_t j = 0; j < d; j++) FN(affine_scale)(a, 1, d, jac + j * d, jac + j * d);
}

/* The VJP a mutation test planted (ops/affine.h), or NULL. */
static FN(affine_vjp_fn) FN(affine_planted);

void CR_TYPED(cr_affine_replace_vjp_f32, cr_affine_replace_vjp_f64)(FN(affine_vjp_fn) planted) {
    FN(affine_planted) = planted;
}

void CR_TYPED(cr_affine_vjp_f32, cr_affine_vjp_f64)(const FN(affine) *a, size_t n, size_t d,
                                                    const real *g, real *gx) {
    if (FN(affine_planted)) {
        FN(affine_planted)(a, n, d, g, gx);
        return;
    }
    FN(affine_scale)(a, n, d, g, gx);
}

void CR_TYPED(cr_affine_jvp_f32, cr_affine_jvp_f64)(const FN(affine) *a, size_t n, size_t d,
                                                    const real *xd, real *zd) {
    FN(affine_scale)(a, n, d, xd, zd);
}
