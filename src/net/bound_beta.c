/*
 * β-CROWN's multipliers for branch and bound's split constraints (bound.h; the note's §2.6;
 * docs/certification.md "β-CROWN"), optimised with α by bound_alpha.c.
 *
 * A subdomain of branch and bound (cr_bound_split) is the set of x in the box whose pre-activations
 * z_l(x) lie in the clamps [zlo, zhi]. A ReLU split leaves a clamp at 0: zlo_j = 0 (the child z_j >= 0)
 * or zhi_j = 0 (z_j <= 0), i.e. s_j·z_j(x) >= 0 on the subdomain with s_j = +1 / −1. CROWN uses the
 * clamp only through the intervals (the unit becomes stable); the constraint itself, a half-space in
 * x, is lost when the linear bound is minimised over the box. β-CROWN keeps it by Lagrangian duality:
 * for x in the subdomain and any β >= 0,
 *     g·o(x)  >=  g·o(x) − Σ_j β_j s_j z_j(x),
 * so a lower bound of the right-hand side over the box (with the same relaxation) is a lower bound of
 * g·o over the subdomain: weak duality, sound for EVERY β >= 0. In the backward walk this subtracts
 * s_j β_j from the row's coefficient on z_l (bound_crown.c's relax_step, rl.beta), after the slope
 * diagonal; the rounding of that subtraction is charged like the slope product's (ε |result| M_z).
 *
 * The gradient. As for α (bound_alpha.c's header), the row's bound is the value at its minimising
 * corner x* of the linear function g·N_i(x) − Σ β_j s_j ẑ_l,j(x), where ẑ_l is z_l of the row's linear
 * network N_i; x* and the sign selections do not move to first order, so
 *     ∂lb_i/∂β_ij = −s_j · ẑ_l[i, j]
 * with ẑ from α's forward walk (no new pass). β is optimised jointly with α by the same projected
 * Adam ascent (projection: β >= 0), per row, starting at 0 (where the bound is CROWN's / α's). Its
 * step is alpha_lr times the row's mean |cotangent| on the layer's output at the first evaluation (a
 * multiplier trades against those coefficients). The reported bound is the rigorous pass at the
 * row's best (α, β), or the bound at β = 0 when larger: bound_alpha.c's rule, unchanged.
 *
 * Which constraints: every unit of a hidden layer whose clamp is exactly 0 on one side (a split, or a
 * split inherited through the parent's intervals). Any clamp-implied inequality holds on the subdomain
 * by its definition, so the choice affects only tightness and cost, never soundness.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "net/bound.h"
#include "net/net_internal.h"

struct cr_beta {
    size_t n, nb; /* rows (in use), split constraints */
    size_t cap;   /* rows allocated */
    int *layer;
    size_t *unit;
    double *sign;                             /* nb each */
    double *val, *grad, *m1, *m2, *best, *sc; /* n x nb */
    int scaled;                               /* sc set (at the first gradient) */
    size_t w[CR_MAX_LAYERS];
    double *rowb[CR_MAX_LAYERS]; /* n x w: s·β per unit (0 off the constraints), rl.beta */
    void *mem;
};

int cr_bound_beta_on = 1;

void cr_beta_free(cr_beta *bt) {
    if (!bt) return;
    free(bt->mem);
    free(bt);
}

cr_status cr_beta_create(const cr_bound_ctx *b, int R, size_t n, cr_bound_rowlines *rl, cr_beta **out) {
    *out = NULL;
    const cr_bound_split *sp = b->split;
    const cr_net *net = b->net;
    if (!sp || !cr_bound_beta_on) return CR_OK;
    size_t nb = 0, dense = 0;
    for (int l = 0; l <= R && l + 1 < net->n_layers; l++) {
        const size_t w = net->dims[l + 1];
        size_t here = 0;
        for (size_t j = 0; j < w; j++)
            here += (sp->zlo[l] && sp->zlo[l][j] == 0) || (sp->zhi[l] && sp->zhi[l][j] == 0);
        nb += here;
        if (here) dense += n * w;
    }
    if (nb == 0) return CR_OK;
    cr_beta *bt = calloc(1, sizeof *bt);
    const size_t nd = 6 * n * nb + nb + dense;
    if (bt) bt->mem = calloc(1, nd * sizeof(double) + nb * (sizeof(int) + sizeof(size_t)));
    if (!bt || !bt->mem) {
        free(bt);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    double *q = bt->mem;
    bt->n = n, bt->cap = n, bt->nb = nb;
    bt->val = q, q += n * nb;
    bt->grad = q, q += n * nb;
    bt->m1 = q, q += n * nb;
    bt->m2 = q, q += n * nb;
    bt->best = q, q += n * nb;
    bt->sc = q, q += n * nb;
    bt->sign = q, q += nb;
    for (int l = 0; l <= R && l + 1 < net->n_layers; l++) {
        const size_t w = net->dims[l + 1];
        bt->w[l] = w;
        for (size_t j = 0; j < w && !bt->rowb[l]; j++)
            if ((sp->zlo[l] && sp->zlo[l][j] == 0) || (sp->zhi[l] && sp->zhi[l][j] == 0)) bt->rowb[l] = q, q += n * w;
    }
    bt->unit = (size_t *)q;
    bt->layer = (int *)(bt->unit + nb);
    size_t k = 0;
    for (int l = 0; l <= R && l + 1 < net->n_layers; l++)
        for (size_t j = 0; j < bt->w[l]; j++) {
            const int up = sp->zlo[l] && sp->zlo[l][j] == 0, down = sp->zhi[l] && sp->zhi[l][j] == 0;
            if (!up && !down) continue;
            bt->layer[k] = l, bt->unit[k] = j;
            bt->sign[k++] = up ? 1 : -1; /* z >= 0 (if both, z = 0: either holds) */
        }
    for (int l = 0; l < CR_MAX_LAYERS; l++) rl->beta[l] = bt->rowb[l];
    *out = bt;
    return CR_OK;
}

size_t cr_beta_params(const cr_beta *bt) { return bt ? bt->nb : 0; }

void cr_beta_write(cr_beta *bt) {
    for (size_t i = 0; i < bt->n; i++)
        for (size_t k = 0; k < bt->nb; k++) {
            const int l = bt->layer[k];
            bt->rowb[l][i * bt->w[l] + bt->unit[k]] = bt->sign[k] * bt->val[i * bt->nb + k]; /* exact: s = ±1 */
        }
}

void cr_beta_gradient(cr_beta *bt, int l, const double *zhat, const double *A) {
    if (!bt->rowb[l]) return;
    const size_t w = bt->w[l], nb = bt->nb;
    for (size_t i = 0; i < bt->n; i++) {
        double mean = 0;
        if (!bt->scaled) {
            for (size_t j = 0; j < w; j++) mean += fabs(A[i * w + j]);
            mean /= (double)w;
        }
        for (size_t k = 0; k < nb; k++) {
            if (bt->layer[k] != l) continue;
            double g = -bt->sign[k] * zhat[i * w + bt->unit[k]];
            if (cr_bound_test_fault == CR_BOUND_FAULT_BETA_GRAD_SIGN || cr_bound_test_fault == CR_BOUND_FAULT_BETA_SIGN)
                g = -g; /* BETA_SIGN: the gradient of its (wrong) term, so that the search pursues it */
            bt->grad[i * nb + k] = g;
            if (!bt->scaled) bt->sc[i * nb + k] = mean;
        }
    }
}

void cr_beta_scaled(cr_beta *bt) { bt->scaled = 1; }

void cr_beta_step(cr_beta *bt, double b1, double b2, double b1t, double b2t, double lr) {
    for (size_t e = 0; e < bt->n * bt->nb; e++) {
        const double gk = bt->grad[e];
        if (gk == 0 && bt->m1[e] == 0) continue;
        bt->m1[e] = b1 * bt->m1[e] + (1 - b1) * gk;
        bt->m2[e] = b2 * bt->m2[e] + (1 - b2) * gk * gk;
        const double den = sqrt(bt->m2[e] / (1 - b2t));
        if (!(den > 0)) continue;
        double x = bt->val[e] + lr * bt->sc[e] * (bt->m1[e] / (1 - b1t)) / den;
        x = x > 0 ? x : 0; /* the projection on β >= 0: what makes the bound sound */
        if (isfinite(x)) bt->val[e] = x;
    }
}

void cr_beta_keep(cr_beta *bt, size_t i) {
    memcpy(bt->best + i * bt->nb, bt->val + i * bt->nb, bt->nb * sizeof(double));
}

void cr_beta_use_best(cr_beta *bt) { memcpy(bt->val, bt->best, bt->n * bt->nb * sizeof(double)); }

void cr_beta_get(const cr_beta *bt, size_t i, double *val, double *grad) {
    if (val) memcpy(val, bt->val + i * bt->nb, bt->nb * sizeof(double));
    if (grad) memcpy(grad, bt->grad + i * bt->nb, bt->nb * sizeof(double));
}

void cr_beta_set(cr_beta *bt, size_t i, const double *val) {
    for (size_t k = 0; k < bt->nb; k++) bt->val[i * bt->nb + k] = val[k] > 0 ? val[k] : 0;
}

/* α-CROWN's blocks (bound_alpha.c): a block of at most the capacity's rows is searched on one worker, and a row
   leaves it once proved. */
void cr_beta_rows(cr_beta *bt, size_t n) { bt->n = n; } /* the rows in use, <= the capacity */

void cr_beta_reset(cr_beta *bt) { /* a new block: β = 0, no moments, the step scale set again */
    const size_t e = bt->cap * bt->nb;
    memset(bt->val, 0, e * sizeof(double));
    memset(bt->grad, 0, e * sizeof(double));
    memset(bt->m1, 0, e * sizeof(double));
    memset(bt->m2, 0, e * sizeof(double));
    memset(bt->best, 0, e * sizeof(double));
    bt->scaled = 0;
}

void cr_beta_move_row(cr_beta *bt, size_t dst, size_t src) {
    double *a[] = {bt->val, bt->grad, bt->m1, bt->m2, bt->best, bt->sc};
    for (size_t k = 0; k < sizeof a / sizeof *a; k++)
        memcpy(a[k] + dst * bt->nb, a[k] + src * bt->nb, bt->nb * sizeof(double));
}

/* Warm start (cr_bound_split.warm_in / warm_out): row i's β from / to dense per-hidden-unit values (off[l]: layer l's
   offset among the hidden units). In: NaN or negative values give 0 (projected on β >= 0, as any β is sound); the
   row's best is set to it too. Out: the row's best β on the constrained units, 0 elsewhere. */
void cr_beta_warm_in(cr_beta *bt, size_t i, const double *dense, const size_t *off) {
    for (size_t k = 0; k < bt->nb; k++) {
        const double v = dense[off[bt->layer[k]] + bt->unit[k]];
        bt->val[i * bt->nb + k] = bt->best[i * bt->nb + k] = v > 0 && isfinite(v) ? v : 0;
    }
}

void cr_beta_warm_out(const cr_beta *bt, size_t i, double *dense, const size_t *off) {
    for (size_t k = 0; k < bt->nb; k++) dense[off[bt->layer[k]] + bt->unit[k]] = bt->best[i * bt->nb + k];
}
