/*
 * CROWN and CROWN-IBP for cr_net_bound (bound.h; the note's §2.3), as a client of
 * the one reverse walk (net_private.tmpl.h, docs/chain.md "Plugging another
 * diagonal step into the walk"): the walk's linear steps (G W_lᵀ by the linear
 * op, BatchNorm links' G ∘ a) run unchanged; its diagonal step is relax_step:
 * each unit's slope chosen by the sign of the incoming coefficient (lower line
 * where G ≥ 0: every row here is a lower bound; an upper bound is the lower bound
 * of −C), plus the lines' intercepts, the links' constants and the biases G·b
 * collected into a per-row constant.
 *
 * The walk needs no new option. Two views of the net (a struct copy sharing its
 * parameters) give what bounds need:
 *   - link 0 cleared: the walk ends with ∂/∂z_0 (z_0 = link_0(x)), concretised
 *     over z_0's box, which is exactly the image of the x box (per feature,
 *     monotone), rounded outward;
 *   - n_layers = k + 1 and no output activation: the walk starts at the
 *     cotangent ±I on z_k, the input of activation k, for its intermediate bounds
 *     (full CROWN).
 *
 * Floating point (note §5.4): a backward pass is valid for whatever cotangent it
 * used, so each rounding is a residual charged against the known interval of what
 * the rounded quantity multiplies:
 *   sign-selected scaling fl(g s)            ε Σ_j |out_ij| M_z_j        (M = max(|l|, |u|))
 *   link VJP fl(G_z ∘ a)                     16ε Σ_j |G_z_ij| (M_z_j + |c_j|)
 *   gemm Â = fl(Ĝ W_lᵀ)                      γ_d Σ_k |Ĝ_ik| v_k,   v = M_h |W_l|
 *   the constant's sum (intercepts, link constants, biases, the concretisation)
 *                                            γ_{n+1} Σ |terms|
 * each multiplied by 1 + 4(n + 8)ε for its own rounding; underflow adds η per term.
 * Relaxation lines come from the activation's row (cr_act_entry.relax,
 * ops/relax.h): built, inflated, checked at their end points (and at 0 where the
 * curvature changes sign) and replaced by constant lines when the check fails.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CR_REAL_F64
#include "ops/real.h"

#include "net/bound.h"
#include "net/net_private.tmpl.h"
#include "ops/act_table.h"

#define EPS (DBL_EPSILON / 2)
#define ETA (DBL_TRUE_MIN)

struct crown_run {
    cr_bound_ctx *b;
    cr_tape *tape;
    const cr_bound_rowlines *rl; /* α-CROWN's per-row lines, or NULL */
    const cr_net *view; /* the net the walk runs on */
    size_t n;           /* rows */
    /* relaxation lines of activation l (width dims[l + 1]) */
    double *sl[CR_MAX_LAYERS], *tl[CR_MAX_LAYERS], *su[CR_MAX_LAYERS], *tu[CR_MAX_LAYERS];
    double *cst, *abs_sum, *slack; /* per row */
    size_t n_terms;                /* terms summed into each cst (the same for every row) */
    double *gr;                    /* scratch: n x maxdim */
    double *v;                     /* scratch: maxdim */
    double *ml;                    /* scratch: maxdim */
    size_t score_rows;             /* the spec pass: its first rows feed split->score (bound.h) */
};
typedef struct crown_run crown_run;

int cr_bound_test_fault = 0;

static double slack_factor(size_t n) { return 1 + 4 * ((double)n + 8) * EPS; }

/* M_h of h_{l−1}, what layer l reads: [act(zl[l]), act(zu[l])], or z_0's box for l = 0 */
static void h_magnitude(const crown_run *c, int l, double *mh) {
    const cr_bound_ctx *b = c->b;
    const size_t din = b->net->dims[l];
    for (size_t i = 0; i < din; i++) {
        double lo = b->zl[l][i], hi = b->zu[l][i];
        if (l > 0) {
            lo = cr_bound_act_lo(b, b->net->act[l - 1], lo);
            hi = cr_bound_act_hi(b, b->net->act[l - 1], hi);
        }
        mh[i] = fmax(fabs(lo), fabs(hi));
    }
}

/* The constants and slacks of linear layer l given G on z_l (n x dout): the link
   l + 1's constant and VJP residual, the bias G_r·b_l, the gemm's residual. */
static void layer_terms(crown_run *c, int l, const double *gz) {
    cr_bound_ctx *b = c->b;
    const cr_net *net = b->net;
    const size_t din = net->dims[l], dout = net->dims[l + 1], n = c->n;
    const double *gr = gz;
    const cr_bound_link *k = &b->link[l + 1];
    if (k->form != CR_AFFINE_NONE) {
        cr_affine_f64 a;
        cr_net_affine_f64(c->view, l + 1, &a);
        cr_affine_vjp_f64(&a, n, dout, gz, c->gr); /* the walk's own arithmetic */
        gr = c->gr;
        double *cc = c->v, *ce = c->ml;
        for (size_t j = 0; j < dout; j++) { /* c_j = link(0), with its error bound */
            double e;
            double z;
            switch (k->form) {
            case CR_AFFINE_SUB_DIV:
                z = (0 - k->p[j]) / k->q[j];
                e = 4 * EPS * fabs(z) + 2 * ETA;
                break;
            case CR_AFFINE_SUB_MUL:
                z = (0 - k->p[j]) * k->q[j];
                e = 4 * EPS * fabs(z) + 2 * ETA;
                break;
            case CR_AFFINE_MUL_ADD:
                z = k->q[j];
                e = 0;
                break;
            default: {
                const double t3 = (0 - k->p[j]) / sqrt(k->q[j] + k->eps) * k->s[j];
                z = t3 + k->t[j];
                e = 16 * EPS * fabs(t3) + 4 * EPS * fabs(z) + 4 * ETA;
            }
            }
            cc[j] = z;
            ce[j] = e;
        }
        const double g16 = 16 * EPS * slack_factor(dout);
        for (size_t i = 0; i < n; i++) {
            double s = 0, sa = 0, res = 0, ce_sum = 0;
            for (size_t j = 0; j < dout; j++) {
                const double g = gz[i * dout + j];
                const double mz = fmax(fabs(b->zl[l + 1][j]), fabs(b->zu[l + 1][j]));
                s += g * cc[j];
                sa += fabs(g * cc[j]);
                ce_sum += fabs(g) * ce[j];
                res += fabs(g) * (mz + fabs(cc[j]) + ce[j]);
            }
            if (cr_bound_test_fault != CR_BOUND_FAULT_NO_LINK_CONST) c->cst[i] += s;
            c->abs_sum[i] += sa;
            c->slack[i] += (ce_sum + g16 * res) * slack_factor(dout) + (double)(4 * dout) * ETA;
        }
        c->n_terms += dout;
    }
    const double *bias = cr_bound_b(b, l), *w = cr_bound_w(b, l);
    /* v = M_h |W_l| (dout) */
    h_magnitude(c, l, c->ml);
    for (size_t j = 0; j < dout; j++) c->v[j] = 0;
    for (size_t i = 0; i < din; i++)
        for (size_t j = 0; j < dout; j++) c->v[j] += c->ml[i] * fabs(w[i * dout + j]);
    const double gd = cr_bound_gamma(dout) * slack_factor(dout) * slack_factor(din);
    for (size_t i = 0; i < n; i++) {
        double s = 0, sa = 0, res = 0;
        for (size_t j = 0; j < dout; j++) {
            const double g = gr[i * dout + j];
            s += g * bias[j];
            sa += fabs(g * bias[j]);
            res += fabs(g) * c->v[j];
        }
        if (cr_bound_test_fault != CR_BOUND_FAULT_NO_BIAS) c->cst[i] += s;
        c->abs_sum[i] += sa;
        c->slack[i] += gd * res + (double)(2 * din * dout) * ETA;
    }
    c->n_terms += dout;
}

/* The diagonal step: out = g ∘ (g ≥ 0 ? s_lower : s_upper), cst += g ∘ t, then the
   layer's constants (link, bias) and the residuals of this and the next product. */
static void relax_step(void *ctx, const cr_diag_link_f64 *k) {
    crown_run *c = ctx;
    const cr_bound_ctx *b = c->b;
    const int l = k->layer;
    const size_t w = k->width;
    const double *sl = c->sl[l], *tl = c->tl[l], *su = c->su[l], *tu = c->tu[l];
    const double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
    const cr_bound_rowlines *rl = c->rl;
    const int per_row = rl && rl->sl[l]; /* α-CROWN: each row's own lines */
    for (size_t i = 0; i < k->n; i++) {
        double s = 0, sa = 0, res = 0;
        if (per_row) {
            sl = rl->sl[l] + i * w, tl = rl->tl[l] + i * w;
            su = rl->su[l] + i * w, tu = rl->tu[l] + i * w;
        }
        if (rl && rl->keep[l])
            memcpy(rl->keep[l] + i * w + k->lo, k->g + i * w + k->lo, (k->hi - k->lo) * sizeof(double));
        for (size_t j = k->lo; j < k->hi; j++) {
            const double g = k->g[i * w + j];
            const int lower = g >= 0;
            const double t = g * (lower ? tl[j] : tu[j]);
            s += t;
            sa += fabs(t);
            const double o = g * (lower ? sl[j] : su[j]);
            res += fabs(o) * fmax(fabs(zl[j]), fabs(zu[j]));
            k->out[i * w + j] = o;
        }
        c->cst[i] += s;
        c->abs_sum[i] += sa;
        c->slack[i] += EPS * slack_factor(w) * res + (double)(2 * w) * ETA;
    }
    c->n_terms += w;
    double *score = c->score_rows && b->split ? b->split->score[l] : NULL;
    for (size_t i = 0; score && i < c->score_rows; i++)
        for (size_t j = k->lo; j < k->hi; j++) {
            const double g = k->g[i * w + j];
            if (g < 0) score[j] -= g * tu[j];
        }
    layer_terms(c, l, k->out);
}

/* Lower bounds of the n rows G (on z_top, the input of activation top; top = L−1:
   the output θ) over the box: one walk. rows_out: n values. */
static cr_status crown_pass(crown_run *c, cr_tape *tape, int top, int through_out_act, size_t n,
                            const double *g, double *rows_out, double *dx) {
    cr_bound_ctx *b = c->b;
    cr_net view = *b->net;
    view.link_form[0] = CR_AFFINE_NONE;
    view.n_layers = top + 1;
    view.has_out_act = through_out_act;
    c->view = &view;
    c->n = n;
    memset(c->cst, 0, n * sizeof(double));
    memset(c->abs_sum, 0, n * sizeof(double));
    memset(c->slack, 0, n * sizeof(double));
    c->n_terms = 0;
    if (!through_out_act) layer_terms(c, top, g); /* the top layer's constants */
    cr_net_reverse_walk_f64(&view, tape, n, g,
                            &(cr_reverse_opts_f64){.dx = dx, .diag = {relax_step, c}});
    const size_t d = b->net->dims[0];
    const double *zl = b->zl[0], *zu = b->zu[0];
    for (size_t i = 0; i < n; i++) {
        double s = c->cst[i], sa = c->abs_sum[i];
        for (size_t q = 0; q < d; q++) {
            const double a = dx[i * d + q];
            const double t = a >= 0 ? a * zl[q] : a * zu[q];
            s += t;
            sa += fabs(t);
        }
        const size_t nt = c->n_terms + d + 1;
        double slack = c->slack[i] + cr_bound_gamma(nt + 1) * slack_factor(nt) * sa + (double)(2 * nt) * ETA;
        if (b->no_slack) slack = 0;
        const double r = s - slack;
        rows_out[i] = b->no_slack ? r : nextafter(r, -INFINITY);
    }
    return CR_OK;
}

cr_status cr_bound_crown_pass(cr_crown_run *c, int top, int through_out_act, size_t n,
                              const double *g, const cr_bound_rowlines *rl, double *rows_out,
                              double *dx) {
    c->rl = rl;
    const cr_status st = crown_pass(c, c->tape, top, through_out_act, n, g, rows_out, dx);
    c->rl = NULL;
    return st;
}

void cr_bound_crown_lines(const cr_crown_run *c, int l, const double **sl, const double **tl,
                          const double **su, const double **tu) {
    *sl = c->sl[l], *tl = c->tl[l], *su = c->su[l], *tu = c->tu[l];
}

cr_status cr_bound_crown_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub) {
    const cr_net *net = b->net;
    const int L = net->n_layers;
    const size_t K = net->dims[L], D = net->dims[0], md = b->maxdim;
    cr_status st;
    /* IBP first: CROWN-IBP's intermediates, and a second valid bound for CROWN's */
    const int last_relaxed = net->has_out_act ? L - 1 : L - 2;
    if (last_relaxed >= 0) {
        st = cr_bound_ibp_layers(b, last_relaxed);
        if (st != CR_OK || (b->split && b->split->empty)) return st;
    }
    for (int l = 0; l <= last_relaxed; l++) {
        const cr_activation act = l < L - 1 ? net->act[l] : net->out_act;
        if (!cr_bound_act_supported(act)) return CR_ERR_ARG;
    }
    const size_t rows = 2 * (m > md ? m : md);
    crown_run run = {.b = b};
    size_t need = 3 * rows + rows * md + 2 * md + 2 * rows;
    for (int l = 0; l <= last_relaxed; l++) need += 4 * net->dims[l + 1];
    double *mem = calloc(need, sizeof(double));
    cr_net view = *net;
    view.link_form[0] = CR_AFFINE_NONE;
    cr_tape *tape = NULL;
    if (!mem) return CR_ERR_NOMEM;
    st = cr_tape_create(&view, rows, &tape);
    if (st != CR_OK) {
        free(mem);
        return st;
    }
    run.tape = tape;
    double *p = mem;
    run.cst = p, p += rows;
    run.abs_sum = p, p += rows;
    run.slack = p, p += rows;
    run.gr = p, p += rows * md;
    run.v = p, p += md;
    run.ml = p, p += md;
    double *out = p;
    p += 2 * rows;
    for (int l = 0; l <= last_relaxed; l++) {
        const size_t w = net->dims[l + 1];
        run.sl[l] = p, p += w;
        run.tl[l] = p, p += w;
        run.su[l] = p, p += w;
        run.tu[l] = p, p += w;
    }
    /* intermediates and relaxations, layer by layer */
    for (int l = 0; l <= last_relaxed && st == CR_OK; l++) {
        const size_t w = net->dims[l + 1];
        if ((b->method == CR_BOUND_CROWN || b->method == CR_BOUND_ALPHA) && l > 0) { /* rows ±I on z_l */
            double *gi = calloc(2 * w * w, sizeof(double)), *o2 = malloc(2 * w * sizeof(double));
            double *dx2 = malloc(2 * w * D * sizeof(double));
            if (!gi || !o2 || !dx2) {
                free(gi);
                free(o2);
                free(dx2);
                st = CR_ERR_NOMEM;
                break;
            }
            for (size_t j = 0; j < w; j++) {
                gi[j * w + j] = 1;
                gi[(w + j) * w + j] = -1;
            }
            if (b->method == CR_BOUND_ALPHA && b->opt.alpha_intermediate >= 0)
                st = cr_bound_alpha_rows(b, &run, l, 0, 2 * w, gi, o2);
            else
                crown_pass(&run, tape, l, 0, 2 * w, gi, o2, dx2);
            for (size_t j = 0; j < w && st == CR_OK; j++) {
                const double lo = o2[j], hi = -o2[w + j];
                if (b->no_intersect || (isfinite(lo) && lo > b->zl[l + 1][j])) b->zl[l + 1][j] = lo;
                if (b->no_intersect || (isfinite(hi) && hi < b->zu[l + 1][j])) b->zu[l + 1][j] = hi;
            }
            free(gi);
            free(o2);
            free(dx2);
            if (st != CR_OK) break;
            if (!cr_bound_finite(b->zl[l + 1], w) || !cr_bound_finite(b->zu[l + 1], w)) {
                st = CR_ERR_NONFINITE;
                break;
            }
            if (cr_bound_clamp(b, l)) break; /* an empty subdomain (bound.h) */
        }
        const cr_activation act = l < L - 1 ? net->act[l] : net->out_act;
        const struct cr_act_relax *rx = cr_act_running(act)->relax; /* the row's relaxation */
        for (size_t j = 0; j < w; j++)
            rx->lines(&b->mode, b->zl[l + 1][j], b->zu[l + 1][j], &run.sl[l][j], &run.tl[l][j],
                      &run.su[l][j], &run.tu[l][j]);
    }
    if (st == CR_OK && !(b->split && b->split->empty)) { /* the spec rows: [C; −C] on o */
        double *gc = malloc(2 * m * K * sizeof(double)), *dxc = malloc(2 * m * D * sizeof(double));
        if (!gc || !dxc) {
            st = CR_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < m * K; i++) {
                gc[i] = c[i];
                gc[m * K + i] = -c[i];
            }
            for (int l = 0; b->split && l + 1 < L; l++)
                if (b->split->score[l]) memset(b->split->score[l], 0, net->dims[l + 1] * sizeof(double));
            if (b->method == CR_BOUND_ALPHA) {
                st = cr_bound_alpha_rows(b, &run, L - 1, net->has_out_act, 2 * m, gc, out);
                if (st == CR_OK && b->split) { /* branch and bound's corners and scores: CROWN's lines */
                    run.score_rows = m;
                    crown_pass(&run, tape, L - 1, net->has_out_act, 2 * m, gc, out + 2 * m, dxc);
                    run.score_rows = 0;
                }
            } else {
                run.score_rows = m;
                crown_pass(&run, tape, L - 1, net->has_out_act, 2 * m, gc, out, dxc);
                run.score_rows = 0;
            }
            for (size_t i = 0; i < m; i++) {
                lb[i] = out[i];
                ub[i] = -out[m + i];
            }
            double *corner = b->split ? b->split->corner : NULL;
            for (size_t i = 0; corner && i < m * D; i++) corner[i] = dxc[i] >= 0 ? b->xlo[i % D] : b->xhi[i % D];
        }
        free(gc);
        free(dxc);
    }
    cr_tape_free(tape);
    free(mem);
    return st;
}
