/*
 * α-CROWN for cr_net_bound (bound.h; the note's §2.5; docs/certification.md "α-CROWN").
 *
 * CROWN (bound_crown.c) bounds a row with one line per unit and side: the lower line
 * where the row's coefficient on the unit's output is >= 0, else the upper line. Those
 * lines come from families: ReLU / leaky ReLU's lower line p·x with p in [0, 1] (or
 * [α, 1]); a smooth activation's tangent at p on the side where it is convex (or in
 * [l, d_L] / [d_U, u] on an interval across 0). Every member is a valid line (and is
 * checked like CROWN's own), so the CROWN pass at ANY parameters is a sound bound:
 * α-CROWN picks, per row, the parameters that make that row's bound largest by
 * projected gradient ascent (Adam). The search builds its tangents as computed (one
 * exp each, no widening or check: ops/relax.h's heuristic mode) and keeps each row's
 * best parameters; the bound reported for a row is then the full rigorous pass of
 * bound_crown.c (checked lines, rounding slack) at those parameters, or CROWN's own
 * rigorous bound (the first evaluation, at CROWN's lines) when that is larger: never
 * below CROWN, and α is only a parameter of a bound computed as CROWN's is.
 *
 * The gradient in closed form. For a fixed choice of lines the pass computes
 *     lb_i = min over the box of  g_i · N_i(x)
 * where N_i is the LINEAR network whose activation l is replaced, unit by unit, by the
 * line the pass chose for row i: ĥ_l = S_l[i] ∘ ẑ_l + T_l[i]. The minimum is at the
 * corner x*_i (z_0 = zl[0] where the row's coefficient on z_0 is >= 0, else zu[0]). With
 * A_l[i, j] the row's cotangent on h_l (what the walk hands the diagonal step), the
 * bound is linear in each line: lb_i = A_l[i, j]·(s·ẑ_l[i, j] + t) + (terms free of the
 * line), where ẑ_l[i, j] is the value of z_l in N_i at x*_i. The minimiser x* does not
 * move to first order (envelope theorem; where a coefficient is 0 both corners give the
 * same value), nor does the sign selection (where A changes sign its term is 0). So
 *     ∂lb_i/∂p = A_l[i, j] · (ds/dp · ẑ_l[i, j] + dt/dp)
 *       ReLU slope:          A·ẑ
 *       tangent at p:        s = a'(p), t = a(p) − a'(p)p:  A·a''(p)·(ẑ − p)
 * (for the parameter of the line the row uses; 0 for the other side's). ẑ is one forward
 * walk of N_i from x*_i: the same gemms as the forward pass with the activation replaced
 * by each row's chosen line (no second reverse walk: the backward pass is the CROWN walk
 * itself, through its pluggable diagonal step, which also hands A_l over).
 *
 * Intermediate bounds (rows ±I on z_k) are optimised the same way, each for itself
 * (greedy, layer by layer: cr_bound_options.alpha_intermediate); the spec rows then use
 * the tighter intermediates. Buffers are allocated once per call; an iteration
 * allocates nothing.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CR_REAL_F64
#include "net_internal.h"
#include "ops/real.h"

#include "core/parallel.h"
#include "net/bound.h"
#include "net/net_private.tmpl.h"
#include "ops/act_table.h"

enum { ALPHA_ITERS = 20 };
#define ALPHA_LR 0.25
#define ALPHA_LR_DECAY 0.98

struct cr_alpha_problem {
    cr_bound_ctx *b;
    cr_crown_run *run;
    int top, thr, R; /* R: the last relaxed activation */
    size_t n;
    const double *g;
    const struct cr_act_relax *rx[CR_MAX_LAYERS];
    size_t w[CR_MAX_LAYERS], off[CR_MAX_LAYERS + 1]; /* widths, parameter offsets (2 w per layer) */
    /* per unit: the ranges of the lower and upper line's parameter (min > max: none) */
    double *rlo[CR_MAX_LAYERS], *rhi[CR_MAX_LAYERS]; /* 2 w: [lower's, upper's] */
    double *par[CR_MAX_LAYERS];                      /* n x 2w: each row's parameters */
    double *ds[CR_MAX_LAYERS], *dt[CR_MAX_LAYERS];   /* n x 2w: the lines' derivatives */
    double *grad[CR_MAX_LAYERS];                     /* n x 2w */
    double *m1[CR_MAX_LAYERS], *m2[CR_MAX_LAYERS];   /* Adam's moments, n x 2w */
    double *bpar[CR_MAX_LAYERS];                     /* n x 2w: each row's best parameters */
    cr_bound_rowlines rl;
    double *v, *r, *dx; /* n x maxdim, n x maxdim, n x D */
    double *val;        /* n: the latest evaluation */
    double *best;       /* n: each row's best value in the search */
    cr_relax_mode mode; /* the lines' mode: heuristic in the search, checked for a reported bound */
    double *mem;
};

static const struct cr_act_relax *relax_of(const cr_net *net, int l) {
    const cr_activation act = l < net->n_layers - 1 ? net->act[l] : net->out_act;
    return cr_act_running(act)->relax;
}

static void problem_free(cr_alpha_problem *p) {
    if (!p) return;
    free(p->mem);
    free(p);
}

/* Buffers, the ranges and CROWN's parameters; fixed lines (no parameter) copied once. */
static cr_status problem_init(cr_bound_ctx *b, cr_crown_run *run, int top, int thr, size_t n,
                              const double *g, cr_alpha_problem **out) {
    const cr_net *net = b->net;
    cr_alpha_problem *p = calloc(1, sizeof *p);
    if (!p) return CR_FAIL(CR_ERR_NOMEM);
    p->b = b, p->run = run, p->top = top, p->thr = thr, p->n = n, p->g = g;
    p->R = thr ? top : top - 1;
    size_t need = 2 * n * b->maxdim + n * net->dims[0] + 2 * n;
    p->off[0] = 0;
    for (int l = 0; l <= p->R; l++) {
        p->rx[l] = relax_of(net, l);
        p->w[l] = net->dims[l + 1];
        p->off[l + 1] = p->off[l] + 2 * p->w[l];
        need += 4 * p->w[l] + 7 * n * 2 * p->w[l] + 5 * n * p->w[l];
    }
    p->mem = calloc(need ? need : 1, sizeof(double));
    if (!p->mem) {
        free(p);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    double *q = p->mem;
    p->v = q, q += n * b->maxdim;
    p->r = q, q += n * b->maxdim;
    p->dx = q, q += n * net->dims[0];
    p->val = q, q += n;
    p->best = q, q += n;
    p->mode = b->mode;
    for (int l = 0; l <= p->R; l++) {
        const size_t w = p->w[l], w2 = 2 * w;
        p->rlo[l] = q, q += w2;
        p->rhi[l] = q, q += w2;
        p->par[l] = q, q += n * w2;
        p->ds[l] = q, q += n * w2;
        p->dt[l] = q, q += n * w2;
        p->grad[l] = q, q += n * w2;
        p->m1[l] = q, q += n * w2;
        p->m2[l] = q, q += n * w2;
        p->bpar[l] = q, q += n * w2;
        p->rl.sl[l] = q, q += n * w;
        p->rl.tl[l] = q, q += n * w;
        p->rl.su[l] = q, q += n * w;
        p->rl.tu[l] = q, q += n * w;
        p->rl.keep[l] = q, q += n * w;
        const double *sl, *tl, *su, *tu;
        cr_bound_crown_lines(run, l, &sl, &tl, &su, &tu);
        const double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
        for (size_t j = 0; j < w; j++) {
            double def[2] = {0, 0};
            for (int side = 0; side < 2; side++) {
                double a = 1, c = 0;
                if (p->rx[l]->param_range)
                    p->rx[l]->param_range(&b->mode, zl[j], zu[j], side ? 1 : -1, &a, &c, &def[side]);
                p->rlo[l][side * w + j] = a;
                p->rhi[l][side * w + j] = c;
            }
            for (size_t i = 0; i < n; i++) {
                p->par[l][i * w2 + j] = def[0];
                p->par[l][i * w2 + w + j] = def[1];
                p->rl.sl[l][i * w + j] = sl[j], p->rl.tl[l][i * w + j] = tl[j];
                p->rl.su[l][i * w + j] = su[j], p->rl.tu[l][i * w + j] = tu[j];
            }
        }
    }
    *out = p;
    return CR_OK;
}

/* each row's lines at its parameters (only the units with a parameter change) */
static void build_lines(cr_alpha_problem *p) {
    const cr_bound_ctx *b = p->b;
    for (int l = 0; l <= p->R; l++) {
        const size_t w = p->w[l], w2 = 2 * w;
        const double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
        for (int side = 0; side < 2; side++) {
            double *S = side ? p->rl.su[l] : p->rl.sl[l], *T = side ? p->rl.tu[l] : p->rl.tl[l];
            for (size_t j = 0; j < w; j++) {
                const size_t k = side * w + j;
                if (!(p->rlo[l][k] <= p->rhi[l][k])) continue;
                for (size_t i = 0; i < p->n; i++)
                    p->rx[l]->param_line(&p->mode, zl[j], zu[j], side ? 1 : -1, p->par[l][i * w2 + k],
                                         &S[i * w + j], &T[i * w + j], &p->ds[l][i * w2 + k],
                                         &p->dt[l][i * w2 + k]);
            }
        }
    }
}

/* The gradient of each row's bound in its parameters (the header's formula): one forward
   walk of each row's linear network from its minimising corner. Needs the last pass's dx
   and A (rl.keep). */
static void gradient(cr_alpha_problem *p) {
    const cr_bound_ctx *b = p->b;
    const cr_net *net = b->net;
    const size_t n = p->n, D = net->dims[0];
    double *v = p->v, *r = p->r;
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < D; q++) v[i * D + q] = p->dx[i * D + q] >= 0 ? b->zl[0][q] : b->zu[0][q];
    cr_blas_serial_enter(); /* the BLAS's path for n rows must not depend on its thread count */
    for (int l = 0; l <= p->R; l++) {
        const size_t din = net->dims[l], w = p->w[l], w2 = 2 * w;
        const double *bias = cr_bound_b(b, l);
        for (size_t i = 0; i < n; i++) memcpy(r + i * w, bias, w * sizeof(double));
        cr_gemm_f64(0, 0, n, w, din, 1, v, din, cr_bound_w(b, l), w, 1, r, w);
        cr_net_link_apply_f64(net, l, LINK_FORWARD, n, w, 0, w, r); /* ẑ_l */
        const double *A = p->rl.keep[l];
        for (size_t i = 0; i < n; i++) {
            double *gr = p->grad[l] + i * w2;
            const double *ds = p->ds[l] + i * w2, *dt = p->dt[l] + i * w2;
            for (size_t j = 0; j < w; j++) {
                const double a = A[i * w + j], z = r[i * w + j];
                const int up = !(a >= 0); /* the pass's selection: lower line where A >= 0 */
                const size_t k = up * w + j;
                gr[j] = gr[w + j] = 0;
                gr[k] = a * (ds[k] * z + dt[k]);
                if (cr_bound_test_fault == CR_BOUND_FAULT_ALPHA_GRAD_SIGN) gr[k] = -gr[k];
                if (cr_bound_test_fault == CR_BOUND_FAULT_ALPHA_GRAD_FACTOR) gr[k] *= 0.5;
                v[i * w + j] = up ? p->rl.su[l][i * w + j] * z + p->rl.tu[l][i * w + j]
                                  : p->rl.sl[l][i * w + j] * z + p->rl.tl[l][i * w + j];
            }
        }
    }
    cr_blas_serial_leave();
}

static cr_status evaluate(cr_alpha_problem *p, double *out, int want_grad) {
    build_lines(p);
    const cr_status st =
        cr_bound_crown_pass(p->run, p->top, p->thr, p->n, p->g, &p->rl, out, p->dx);
    if (st == CR_OK && want_grad) gradient(p);
    return st;
}

cr_status cr_bound_alpha_rows(cr_bound_ctx *b, cr_crown_run *run, int top, int through_out_act,
                              size_t n, const double *g, double *rows_out) {
    if (b->alpha_visit && top == b->net->n_layers - 1) { /* the check library's visit */
        cr_alpha_problem *p;
        cr_status st = problem_init(b, run, top, through_out_act, n, g, &p);
        if (st != CR_OK) return st;
        st = b->alpha_visit(b->alpha_visit_ctx, p);
        if (st == CR_OK) st = cr_bound_crown_pass(run, top, through_out_act, n, g, NULL, rows_out, p->dx);
        problem_free(p);
        return st;
    }
    const cr_bound_options *o = &b->opt;
    const size_t iters = o->alpha_iters ? o->alpha_iters : ALPHA_ITERS;
    double lr = o->alpha_lr > 0 ? o->alpha_lr : ALPHA_LR;
    const double decay = o->alpha_lr_decay > 0 ? o->alpha_lr_decay : ALPHA_LR_DECAY;
    cr_alpha_problem *p;
    cr_status st = problem_init(b, run, top, through_out_act, n, g, &p);
    if (st != CR_OK) return st;
    /* the first evaluation: CROWN's lines, rigorous (the result never goes below it) */
    st = evaluate(p, rows_out, iters > 0);
    memcpy(p->best, rows_out, n * sizeof(double));
    p->mode.heuristic = 1; /* the search: tangents as computed, unchecked (fast) */
    const double b1 = 0.9, b2 = 0.999;
    double b1t = 1, b2t = 1;
    int improved = 0;
    for (size_t it = 1; it <= iters && st == CR_OK; it++) {
        b1t *= b1, b2t *= b2;
        for (int l = 0; l <= p->R; l++) { /* Adam ascent, projected on each unit's range */
            const size_t w2 = 2 * p->w[l];
            if (it == 1) memcpy(p->bpar[l], p->par[l], n * w2 * sizeof(double));
            for (size_t i = 0; i < n; i++) {
                const double *gr = p->grad[l] + i * w2;
                double *m1 = p->m1[l] + i * w2, *m2 = p->m2[l] + i * w2, *par = p->par[l] + i * w2;
                for (size_t k = 0; k < w2; k++) {
                    const double lo = p->rlo[l][k], hi = p->rhi[l][k], gk = gr[k];
                    if (!(lo <= hi) || (gk == 0 && m1[k] == 0)) continue; /* no parameter, or no move */
                    m1[k] = b1 * m1[k] + (1 - b1) * gk;
                    m2[k] = b2 * m2[k] + (1 - b2) * gk * gk;
                    const double den = sqrt(m2[k] / (1 - b2t));
                    if (!(den > 0)) continue;
                    double x = par[k] + lr * (hi - lo) * (m1[k] / (1 - b1t)) / den;
                    x = x < lo ? lo : x > hi ? hi : x;
                    if (isfinite(x)) par[k] = x;
                }
            }
        }
        lr *= decay;
        st = evaluate(p, p->val, it < iters);
        for (size_t i = 0; i < n && st == CR_OK; i++)
            if (p->val[i] > p->best[i]) { /* NaN never kept */
                p->best[i] = p->val[i];
                improved = 1;
                for (int l = 0; l <= p->R; l++) {
                    const size_t w2 = 2 * p->w[l];
                    memcpy(p->bpar[l] + i * w2, p->par[l] + i * w2, w2 * sizeof(double));
                }
            }
    }
    if (st == CR_OK && improved) { /* the bound at each row's best parameters, rigorous */
        p->mode.heuristic = 0;
        for (int l = 0; l <= p->R; l++) memcpy(p->par[l], p->bpar[l], n * 2 * p->w[l] * sizeof(double));
        st = evaluate(p, p->val, 0);
        for (size_t i = 0; i < n && st == CR_OK; i++)
            if (p->val[i] > rows_out[i]) rows_out[i] = p->val[i];
    }
    problem_free(p);
    return st;
}

/* ------------------------------------------------------------ the check library's view */

size_t cr_alpha_problem_rows(const cr_alpha_problem *p) { return p->n; }
size_t cr_alpha_problem_params(const cr_alpha_problem *p) { return p->off[p->R + 1]; }

static void locate(const cr_alpha_problem *p, size_t k, int *l, size_t *kk) {
    int a = 0;
    while (a < p->R && k >= p->off[a + 1]) a++;
    *l = a;
    *kk = k - p->off[a];
}

void cr_alpha_problem_range(const cr_alpha_problem *p, size_t k, double *pmin, double *pmax) {
    int l;
    size_t kk;
    locate(p, k, &l, &kk);
    *pmin = p->rlo[l][kk];
    *pmax = p->rhi[l][kk];
}

void cr_alpha_problem_default(const cr_alpha_problem *p, double *alpha) {
    const size_t P = cr_alpha_problem_params(p);
    for (size_t i = 0; i < p->n; i++)
        for (int l = 0; l <= p->R; l++)
            memcpy(alpha + i * P + p->off[l], p->par[l] + i * 2 * p->w[l], 2 * p->w[l] * sizeof(double));
}

cr_status cr_alpha_problem_eval(cr_alpha_problem *p, const double *alpha, double *lb, double *grad) {
    const size_t P = cr_alpha_problem_params(p);
    for (size_t i = 0; i < p->n; i++)
        for (int l = 0; l <= p->R; l++)
            memcpy(p->par[l] + i * 2 * p->w[l], alpha + i * P + p->off[l], 2 * p->w[l] * sizeof(double));
    const cr_status st = evaluate(p, lb, grad != NULL);
    if (st == CR_OK && grad)
        for (size_t i = 0; i < p->n; i++)
            for (int l = 0; l <= p->R; l++)
                memcpy(grad + i * P + p->off[l], p->grad[l] + i * 2 * p->w[l], 2 * p->w[l] * sizeof(double));
    return st;
}

cr_status cr_alpha_problem_visit(const cr_net *net, const double *lo, const double *hi, size_t m,
                                 const double *c, const cr_bound_options *opt,
                                 cr_status (*fn)(void *ctx, cr_alpha_problem *p), void *ctx) {
    cr_bound_options o = opt ? *opt : (cr_bound_options){0};
    o.method = CR_BOUND_ALPHA;
    o.alpha_intermediate = -1;
    cr_bound_ctx b;
    cr_status st = cr_bound_prepare(net, lo, hi, m, c, &o, &b);
    if (st != CR_OK) return st;
    double *tmp = malloc(2 * m * sizeof(double));
    if (!tmp) {
        cr_bound_release(&b);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    b.alpha_visit = fn;
    b.alpha_visit_ctx = ctx;
    st = cr_bound_crown_rows(&b, m, c, tmp, tmp + m);
    free(tmp);
    cr_bound_release(&b);
    return st;
}
