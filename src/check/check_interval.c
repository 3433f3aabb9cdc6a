/*
 * Centred-interval evaluation of a float64 net by plain loops (the witness checker's evaluator, and until the bounds
 * branch's cr_net_bound is merged, the IBP of certify): every quantity is a pair (m, e), the real-arithmetic value
 * of the net lies within m ± e for every input of the box mid ± rad. The loops are written out here, independent of
 * the library's forward pass (src/net, src/ops), and each step adds a rigorous bound on its own rounding:
 *
 *   linear   r_j = b_j + Σ_i m_i w_ij (any order):  e_j = Σ_i e_i |w_ij| + γ_{n+1} (|b_j| + Σ_i |m_i w_ij|)
 *            (Higham, Accuracy and Stability of Numerical Algorithms, §3.1), the bound itself computed in double
 *            from non-negative terms and inflated by (1 + 2γ_{n+2}), plus an absolute (n+2)·1e-300 for underflow;
 *   affine   z = a x + c per feature (link 0, BatchNorm links): e_z = |a| e (1 + γ_4) + γ_8 (size of the terms);
 *   act      monotone f (ReLU, leaky ReLU, sigmoid, tanh, softplus): [f(m − e), f(m + e)] with the endpoints rounded
 * outward and libm's error taken as 8 ulp of the result (glibc documents ≤ 2 ulp for exp and tanh), then re-centred.
 *
 * u = 2^-53, γ_n = n u / (1 − n u) ≤ 1.01 n u for the sizes here. Activations without a monotone form with a known
 * error (GELU, SiLU) are refused: CR_ERR_ARG.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "check_internal.h"
#include "check_interval.h"

#define U_RND (DBL_EPSILON / 2)
#define TINY 1e-300

static double gam(double n) { return 1.01 * n * U_RND; }
static double up(double v) { return nextafter(v, INFINITY); }
static double down(double v) { return nextafter(v, -INFINITY); }

int chk_interval_supported(cr_activation act) {
    return act == CR_ACT_RELU || act == CR_ACT_SIGMOID || act == CR_ACT_TANH || act == CR_ACT_SOFTPLUS ||
           act == CR_ACT_LEAKY_RELU;
}

/* f(v) rounded down (dir < 0) or up (dir > 0), f monotone increasing. */
static double act_dir(cr_activation act, double v, int dir) {
    if (act == CR_ACT_RELU) return v > 0 ? v : 0; /* exact */
    if (act == CR_ACT_LEAKY_RELU) { /* slope 0.01 as a real, as a double or as a float (0.01f is 2.2e-8
                                       relative below 0.01): within 1e-7 relative */
        if (v >= 0) return v;
        double h = 0.01 * v;
        return dir < 0 ? down(h * (1 + 1e-7)) : up(h * (1 - 1e-7));
    }
    double h = act == CR_ACT_SIGMOID ? chk_act64(CR_ACT_SIGMOID, v)
               : act == CR_ACT_TANH  ? tanh(v)
                                     : (v > 0 ? v + log1p(exp(-v)) : log1p(exp(v))); /* softplus */
    double err = up(8 * DBL_EPSILON * fabs(h) + TINY);
    return dir < 0 ? down(h - err) : up(h + err);
}

/* (m, e) <- f over [m − e, m + e], re-centred. */
static void act_interval(cr_activation act, double *m, double *e) {
    double a = act_dir(act, down(*m - *e), -1), b = act_dir(act, up(*m + *e), +1);
    double c = 0.5 * a + 0.5 * b;
    double r = fmax(b - c, c - a);
    *m = c;
    *e = up(up(r) * (1 + 4 * U_RND));
}

/* The affine link `link` on feature j: (m, e) in place. */
static void link_interval(const cr_net *net64, int link, size_t j, double *m, double *e) {
    cr_affine_form form = net64->link_form[link];
    if (form == CR_AFFINE_NONE) return;
    const size_t d = net64->dims[link];
    const double *v = (const double *)net64->link_params + net64->link_offset[link];
    double z = chk_link64(net64, link, j, *m), a = fabs(chk_link_deriv64(net64, link, j)), size;
    switch (form) {
    case CR_AFFINE_MUL_ADD: size = fabs(*m * v[j]) + fabs(v[d + j]); break;
    case CR_AFFINE_BATCHNORM: size = fabs(z) + 2 * fabs(v[3 * d + j]); break;
    default: size = fabs(z); break; /* SUB_DIV, SUB_MUL: a product of the operands' rounding */
    }
    *e = up((a * *e * (1 + gam(4)) + gam(8) * size) * (1 + gam(4)) + TINY);
    *m = z;
}

/* out (dout) <- in W_l + b_l with their error bounds. */
static void linear_interval(const cr_net *net64, int l, const double *im, const double *ie, double *om,
                            double *oe) {
    const double *p = net64->params, *w = p + net64->w_offset[l], *b = p + net64->b_offset[l];
    const size_t din = net64->dims[l], dout = net64->dims[l + 1];
    const double g = gam((double)din + 1), inflate = 1 + 2 * gam((double)din + 2);
    for (size_t k = 0; k < dout; k++) {
        double acc = b[k], mag = fabs(b[k]), rad = 0;
        for (size_t i = 0; i < din; i++) {
            double wk = w[i * dout + k], t = im[i] * wk;
            acc += t;
            mag += fabs(t);
            rad += ie[i] * fabs(wk);
        }
        om[k] = acc;
        oe[k] = up((rad + g * mag) * inflate + ((double)din + 2) * TINY);
    }
}

cr_status chk_interval_forward64(const cr_net *net64, const double *mid, const double *rad, double *o_mid,
                                 double *o_rad) {
    if (!net64 || net64->dtype != CR_F64 || !mid || !rad || !o_mid || !o_rad) return CR_FAIL(CR_ERR_ARG);
    const int L = net64->n_layers;
    for (int l = 0; l < L - 1; l++)
        if (!chk_interval_supported(net64->act[l])) return CR_FAIL(CR_ERR_ARG);
    if (net64->has_out_act && !chk_interval_supported(net64->out_act)) return CR_FAIL(CR_ERR_ARG);
    size_t maxw = 0;
    for (int l = 0; l <= L; l++) maxw = net64->dims[l] > maxw ? net64->dims[l] : maxw;
    double *buf = malloc(4 * maxw * sizeof *buf);
    if (!buf) return CR_FAIL(CR_ERR_NOMEM);
    double *am = buf, *ae = buf + maxw, *bm = buf + 2 * maxw, *be = buf + 3 * maxw;
    const size_t d = net64->dims[0];
    cr_status st = CR_OK;
    for (size_t j = 0; j < d; j++) {
        if (!isfinite(mid[j]) || !(rad[j] >= 0) || !isfinite(rad[j])) st = CR_ERR_NONFINITE;
        am[j] = mid[j];
        ae[j] = rad[j];
        link_interval(net64, 0, j, &am[j], &ae[j]);
    }
    for (int l = 0; l < L && st == CR_OK; l++) {
        linear_interval(net64, l, am, ae, bm, be);
        const size_t w = net64->dims[l + 1];
        for (size_t k = 0; k < w; k++) {
            link_interval(net64, l + 1, k, &bm[k], &be[k]);
            if (l < L - 1) act_interval(net64->act[l], &bm[k], &be[k]);
            else if (net64->has_out_act) act_interval(net64->out_act, &bm[k], &be[k]);
            if (!isfinite(bm[k]) || !isfinite(be[k])) st = CR_ERR_NONFINITE;
        }
        double *t = am;
        am = bm;
        bm = t;
        t = ae;
        ae = be;
        be = t;
    }
    if (st == CR_OK) {
        memcpy(o_mid, am, net64->dims[L] * sizeof *o_mid);
        memcpy(o_rad, ae, net64->dims[L] * sizeof *o_rad);
    }
    free(buf);
    return st;
}

void chk_interval_row(size_t k, const double *c, double rhs, const double *o_mid, const double *o_rad, double *lb,
                      double *ub) {
    double v = -rhs, mag = fabs(rhs), rad = 0;
    for (size_t j = 0; j < k; j++) {
        double t = c[j] * o_mid[j];
        v += t;
        mag += fabs(t);
        rad += fabs(c[j]) * o_rad[j];
    }
    /* γ_{K+2}: the sum's rounding plus one rounding of the spec's decimals (c, rhs) */
    double e = up((rad + gam((double)k + 2) * mag) * (1 + 2 * gam((double)k + 3)) + ((double)k + 2) * TINY);
    if (lb) *lb = down(v - e);
    if (ub) *ub = up(v + e);
}
