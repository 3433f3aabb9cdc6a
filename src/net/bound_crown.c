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
 *
 * Speed: a pass's rows (2·d_l rows ±I for an intermediate layer, 2m spec rows)
 * are cut into fixed chunks of at most CR_BOUND_CROWN_ROWS (cr_even_chunk: the cut depends
 * on the row count only), each chunk one walk on its worker's tape and scratch, so
 * G·W_lᵀ is one gemm per layer per chunk, the chunks run on the library's workers
 * (cr_parallel_for, BLAS single-threaded) and every row's bound is bit-identical
 * whatever the worker count (test_bound_workers). M_h|W_l| (the gemm residual's
 * weights) is computed once per layer per call, when z_l's bounds are final.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include <float.h>
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

#define EPS (DBL_EPSILON / 2)
#define ETA (DBL_TRUE_MIN)

typedef struct {
    cr_bound_ctx *b;
    const cr_net *view; /* the net the walk runs on */
    size_t n;           /* rows */
    /* relaxation lines of activation l (width dims[l + 1]) */
    double *sl[CR_MAX_LAYERS], *tl[CR_MAX_LAYERS], *su[CR_MAX_LAYERS], *tu[CR_MAX_LAYERS];
    double *cst, *abs_sum, *slack; /* per row */
    size_t n_terms;                /* terms summed into each cst (the same for every row) */
    double *gr;                    /* scratch: n x maxdim */
    double *v;                     /* scratch: maxdim */
    double *ml;                    /* scratch: maxdim */
    double *vl[CR_MAX_LAYERS];     /* M_h |W_l| (dims[l + 1]) of layer l, shared, once z_l's bounds are final */
    double *mz[CR_MAX_LAYERS];     /* M_z = max(|l|, |u|) of z_l, the input of activation l, shared */
    const cr_bound_rowlines *rl;   /* α-CROWN's per-row lines (rows of the whole pass), or NULL */
    size_t r0;                     /* the chunk's first row in the pass */
    cr_bound_explanation *rec;     /* cr_bound_explain's recorder (cr_bound_recorder of the calling thread) */
    size_t record;                 /* rows of this pass recorded into rec (the first m: the spec rows), or 0 */
} crown_run;

_Thread_local cr_bound_explanation *cr_bound_recorder = NULL;


int cr_bound_test_fault = 0;
_Thread_local size_t cr_bound_test_runs[4];

static double slack_factor(size_t n) { return 1 + 4 * ((double)n + 8) * EPS; }

/* The row sums of the diagonal step, the biases and the concretisation go through LANES partial
   sums (added in a fixed order at the end), so that the element-wise work
   vectorises: the γ bounds on the sums hold for any order of addition. */
enum { LANES = 8 };

static double lanes_sum(const double *v) {
    double s = 0;
    for (int q = 0; q < LANES; q++) s += v[q];
    return s;
}

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

/* vl[l] = M_h |W_l|, the weights of layer l's gemm residual: once z_l's bounds are final */
static void layer_weights(crown_run *c, int l, double *mh) {
    const cr_bound_ctx *b = c->b;
    const size_t din = b->net->dims[l], dout = b->net->dims[l + 1];
    const double *w = cr_bound_w(b, l);
    double *v = c->vl[l];
    h_magnitude(c, l, mh);
    for (size_t j = 0; j < dout; j++) v[j] = 0;
    for (size_t i = 0; i < din; i++)
        for (size_t j = 0; j < dout; j++) v[j] += mh[i] * fabs(w[i * dout + j]);
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
    const double *bias = cr_bound_b(b, l), *v = c->vl[l]; /* v = M_h |W_l| (dout) */
    const double gd = cr_bound_gamma(dout) * slack_factor(dout) * slack_factor(din);
    for (size_t i = 0; i < n; i++) {
        const double *gi = gr + i * dout;
        double s[LANES] = {0}, sa[LANES] = {0}, res[LANES] = {0};
        size_t j = 0;
        for (; j + LANES <= dout; j += LANES)
            for (int q = 0; q < LANES; q++) {
                const double g = gi[j + q];
                s[q] += g * bias[j + q];
                sa[q] += fabs(g * bias[j + q]);
                res[q] += fabs(g) * v[j + q];
            }
        for (; j < dout; j++) {
            s[0] += gi[j] * bias[j];
            sa[0] += fabs(gi[j] * bias[j]);
            res[0] += fabs(gi[j]) * v[j];
        }
        if (cr_bound_test_fault != CR_BOUND_FAULT_NO_BIAS) c->cst[i] += lanes_sum(s);
        c->abs_sum[i] += lanes_sum(sa);
        c->slack[i] += gd * lanes_sum(res) + (double)(2 * din * dout) * ETA;
    }
    c->n_terms += dout;
}

/* The diagonal step: out = g ∘ (g ≥ 0 ? s_lower : s_upper), cst += g ∘ t, then the
   layer's constants (link, bias) and the residuals of this and the next product. */
static void relax_step(void *ctx, const cr_diag_link_f64 *k) {
    crown_run *c = ctx;
    const int l = k->layer;
    const size_t w = k->width;
    const double *sl = c->sl[l], *tl = c->tl[l], *su = c->su[l], *tu = c->tu[l], *mz = c->mz[l];
    const cr_bound_rowlines *rl = c->rl;
    const int per_row = rl && rl->sl[l]; /* α-CROWN: each row's own lines */
    for (size_t i = 0; i < k->n; i++) {
        const double *gi = k->g + i * w;
        const size_t row = (c->r0 + i) * w; /* the row in the pass */
        if (per_row) sl = rl->sl[l] + row, tl = rl->tl[l] + row, su = rl->su[l] + row, tu = rl->tu[l] + row;
        if (rl && rl->keep[l]) memcpy(rl->keep[l] + row + k->lo, gi + k->lo, (k->hi - k->lo) * sizeof(double));
        double *oi = k->out + i * w; /* may be gi itself */
        const int rec = c->r0 + i < c->record; /* explain: before the products (oi may be gi) */
        if (rec) memcpy(c->rec->a[l] + row + k->lo, gi + k->lo, (k->hi - k->lo) * sizeof(double));
        double s[LANES] = {0}, sa[LANES] = {0}, res[LANES] = {0};
        size_t j = k->lo;
        for (; j + LANES <= k->hi; j += LANES) {
            double g[LANES], o[LANES];
            for (int q = 0; q < LANES; q++) g[q] = gi[j + q];
            for (int q = 0; q < LANES; q++) { /* both loaded: a select, not a branch on the sign */
                const int lower = g[q] >= 0;
                const double tlq = tl[j + q], tuq = tu[j + q], slq = sl[j + q], suq = su[j + q];
                const double t = g[q] * (lower ? tlq : tuq);
                o[q] = g[q] * (lower ? slq : suq);
                s[q] += t;
                sa[q] += fabs(t);
                res[q] += fabs(o[q]) * mz[j + q];
            }
            for (int q = 0; q < LANES; q++) oi[j + q] = o[q];
        }
        for (; j < k->hi; j++) {
            const double g = gi[j];
            const int lower = g >= 0;
            const double t = g * (lower ? tl[j] : tu[j]);
            const double o = g * (lower ? sl[j] : su[j]);
            s[0] += t;
            sa[0] += fabs(t);
            res[0] += fabs(o) * mz[j];
            oi[j] = o;
        }
        if (rl && rl->beta[l]) { /* β-CROWN: out − s·β on the split units (bound_beta.c) */
            const double *bt = rl->beta[l] + row;
            double rb = 0;
            for (size_t jj = k->lo; jj < k->hi; jj++)
                if (bt[jj] != 0) {
                    oi[jj] = cr_bound_test_fault == CR_BOUND_FAULT_BETA_SIGN ? oi[jj] + bt[jj] : oi[jj] - bt[jj];
                    rb += fabs(oi[jj]) * mz[jj]; /* the subtraction's rounding, as the product's */
                }
            c->slack[i] += EPS * slack_factor(w) * rb + (double)w * ETA;
        }
        c->cst[i] += lanes_sum(s);
        c->abs_sum[i] += lanes_sum(sa);
        c->slack[i] += EPS * slack_factor(w) * lanes_sum(res) + (double)(2 * w) * ETA;
        if (rec) {
            memcpy(c->rec->g[l] + row + k->lo, oi + k->lo, (k->hi - k->lo) * sizeof(double));
            c->rec->icpt[l][c->r0 + i] = lanes_sum(s);
        }
    }
    c->n_terms += w;
    layer_terms(c, l, k->out);
    for (size_t i = 0; c->r0 + i < c->record && i < k->n; i++) c->rec->cst[l][c->r0 + i] = c->cst[i];
}

/* Lower bounds of the n rows G (on z_top, the input of activation top; top = L−1:
   the output θ) over the box: one walk over one chunk of rows. rows_out: n values;
   dx: n x D scratch. */
static void crown_chunk(crown_run *c, cr_tape *tape, const cr_net *view, int top, int through_out_act, size_t n,
                        const double *g, double *rows_out, double *dx) {
    cr_bound_ctx *b = c->b;
    c->view = view;
    c->n = n;
    memset(c->cst, 0, n * sizeof(double));
    memset(c->abs_sum, 0, n * sizeof(double));
    memset(c->slack, 0, n * sizeof(double));
    c->n_terms = 0;
    if (!through_out_act) layer_terms(c, top, g); /* the top layer's constants */
    for (size_t i = 0; !through_out_act && c->r0 + i < c->record && i < n; i++) c->rec->cst[top][c->r0 + i] = c->cst[i];
    cr_net_reverse_walk_f64(view, tape, n, g, &(cr_reverse_opts_f64){.dx = dx, .diag = {relax_step, c}});
    const size_t d = b->net->dims[0];
    const double *zl = b->zl[0], *zu = b->zu[0];
    for (size_t i = 0; i < n; i++) {
        const double *ai = dx + i * d;
        double sq[LANES] = {0}, saq[LANES] = {0};
        size_t q = 0;
        for (; q + LANES <= d; q += LANES)
            for (int e = 0; e < LANES; e++) {
                const double a = ai[q + e], zle = zl[q + e], zue = zu[q + e];
                const double t = a * (a >= 0 ? zle : zue);
                sq[e] += t;
                saq[e] += fabs(t);
            }
        for (; q < d; q++) {
            const double t = ai[q] >= 0 ? ai[q] * zl[q] : ai[q] * zu[q];
            sq[0] += t;
            saq[0] += fabs(t);
        }
        const double s = c->cst[i] + lanes_sum(sq), sa = c->abs_sum[i] + lanes_sum(saq);
        const size_t nt = c->n_terms + d + 1;
        double slack = c->slack[i] + cr_bound_gamma(nt + 1) * slack_factor(nt) * sa + (double)(2 * nt) * ETA;
        if (b->no_slack) slack = 0;
        const double r = s - slack;
        rows_out[i] = b->no_slack ? r : nextafter(r, -INFINITY);
        if (c->r0 + i < c->record) { /* explain: the row's last terms */
            cr_bound_explanation *e = c->rec;
            const size_t gr = c->r0 + i;
            memcpy(e->dx + gr * d, ai, d * sizeof(double));
            e->box[gr] = s - c->cst[i];
            e->slack[gr] = slack;
            e->crown[gr] = rows_out[i];
        }
    }
}

/* The workers' state for the passes of one cr_bound_crown_rows call. */
struct crown_job {
    int workers;
    crown_run run[CR_MAX_WORKERS]; /* each with its own cst, abs_sum, slack, gr, v, ml */
    cr_tape *tape[CR_MAX_WORKERS]; /* CR_BOUND_CROWN_ROWS rows each */
    double *dx[CR_MAX_WORKERS];    /* CR_BOUND_CROWN_ROWS x D each */
    /* the pass being run */
    cr_net view;
    int top, through_out_act;
    size_t n, chunk, width;
    const double *g;
    double *out;
    const cr_bound_rowlines *rl; /* α-CROWN's per-row lines, or NULL */
    double *dx_out;              /* n x D: the rows' coefficients on z_0, or NULL */
    size_t record;               /* the pass's first rows recorded for cr_bound_explain, or 0 */
};
typedef struct crown_job crown_job;

static cr_status crown_task(void *ctx, size_t t, int worker) {
    crown_job *j = ctx;
    const size_t r0 = t * j->chunk, n = j->n - r0 < j->chunk ? j->n - r0 : j->chunk;
    j->run[worker].rl = j->rl;
    j->run[worker].r0 = r0;
    j->run[worker].record = j->record;
    crown_chunk(&j->run[worker], j->tape[worker], &j->view, j->top, j->through_out_act, n, j->g + r0 * j->width,
                j->out + r0, j->dx[worker]);
    if (j->dx_out) {
        const size_t D = j->view.dims[0];
        memcpy(j->dx_out + r0 * D, j->dx[worker], n * D * sizeof(double));
    }
    return CR_OK;
}

/* The net the walks of a pass see: layers 0..top, link 0 cleared (the walk ends at z_0,
   concretised over z_0's box), the output activation only when the pass goes through it. */
static void pass_setup(crown_job *j, int top, int through_out_act) {
    j->view = *j->run[0].b->net;
    j->view.link_form[0] = CR_AFFINE_NONE;
    j->view.n_layers = top + 1;
    j->view.has_out_act = through_out_act;
    j->top = top;
    j->through_out_act = through_out_act;
}

/* Lower bounds of the n rows G (n x d_{top+1}, on z_top; top = L−1: the output θ)
   over the box, in fixed chunks on the workers. rows_out: n values. */
static cr_status crown_pass(crown_job *j, int top, int through_out_act, size_t n, const double *g,
                            double *rows_out) {
    const cr_net *net = j->run[0].b->net;
    pass_setup(j, top, through_out_act);
    j->n = n;
    j->chunk = cr_even_chunk(n, CR_BOUND_CROWN_ROWS);
    j->width = net->dims[top + 1];
    j->g = g;
    j->out = rows_out;
    const size_t tasks = (n + j->chunk - 1) / j->chunk;
    /* at most j->workers = cr_parallel_workers(cx, CR_MAX_WORKERS) workers: one scratch each */
    return cr_parallel_for(j->run[0].b->cx, tasks, crown_task, j);
}

cr_status cr_bound_crown_pass(cr_crown_run *j, int top, int through_out_act, size_t n,
                              const double *g, const cr_bound_rowlines *rl, double *rows_out,
                              double *dx) {
    j->rl = rl;
    j->dx_out = dx;
    const cr_status st = crown_pass(j, top, through_out_act, n, g, rows_out);
    j->rl = NULL;
    j->dx_out = NULL;
    return st;
}

/* α-CROWN's own chunks (bound.h): the pass for (top, through_out_act) set up, task(ctx, t, worker) for every t <
   n_tasks on the run's workers; inside, cr_bound_crown_walk runs one walk on the task's worker. */
cr_status cr_bound_crown_for(cr_crown_run *j, int top, int through_out_act, size_t n_tasks, cr_task_fn task,
                             void *ctx) {
    pass_setup(j, top, through_out_act);
    return cr_parallel_for(j->run[0].b->cx, n_tasks, task, ctx); /* at most j->workers workers, as crown_pass */
}

void cr_bound_crown_walk(cr_crown_run *j, int worker, size_t n, const double *g, const cr_bound_rowlines *rl,
                         double *rows_out, double *dx) {
    crown_run *c = &j->run[worker];
    c->rl = rl;
    c->r0 = 0;
    c->record = 0;
    crown_chunk(c, j->tape[worker], &j->view, j->top, j->through_out_act, n, g, rows_out, dx);
    c->rl = NULL;
}

void cr_bound_crown_lines(const cr_crown_run *j, int l, const double **sl, const double **tl,
                          const double **su, const double **tu) {
    *sl = j->run[0].sl[l], *tl = j->run[0].tl[l], *su = j->run[0].su[l], *tu = j->run[0].tu[l];
}

static void job_free(crown_job *j) {
    for (int w = 0; w < j->workers; w++) {
        free(j->run[w].cst);
        free(j->dx[w]);
        cr_tape_free(j->tape[w]);
    }
}

/* Per worker: cst, abs_sum, slack (CR_BOUND_CROWN_ROWS), gr (CR_BOUND_CROWN_ROWS x maxdim), v, ml
   (maxdim), dx (CR_BOUND_CROWN_ROWS x D) and a tape of CR_BOUND_CROWN_ROWS rows. */
static cr_status job_init(crown_job *j, const crown_run *proto, const cr_net *view) {
    const size_t md = proto->b->maxdim, D = view->dims[0], R = CR_BOUND_CROWN_ROWS;
    j->workers = cr_parallel_workers(proto->b->cx, CR_MAX_WORKERS);
    for (int w = 0; w < j->workers; w++) {
        crown_run *r = &j->run[w];
        *r = *proto;
        double *p = malloc((3 * R + R * md + 2 * md) * sizeof(double));
        j->dx[w] = malloc(R * D * sizeof(double));
        j->tape[w] = NULL;
        r->cst = p;
        if (!p || !j->dx[w] || cr_tape_create(view, R, &j->tape[w]) != CR_OK) {
            j->workers = w + 1;
            job_free(j);
            return CR_FAIL(CR_ERR_NOMEM);
        }
        r->abs_sum = p + R;
        r->slack = p + 2 * R;
        r->gr = p + 3 * R;
        r->v = r->gr + R * md;
        r->ml = r->v + md;
    }
    return CR_OK;
}

/* Branch and bound's pass (bound.h, cr_bound_split): the spec rows [C; −C] (gc, 2m rows) with CROWN's lines, their
   minimising corners of the raw box and the split scores Σ_{i<m} max(−λ_ij, 0)·t_up,j from the cotangents λ on each
   hidden activation's output (kept by the pass, so the scores are summed here, one thread, in a fixed order).
   out: 2m values, or NULL when only the corners and scores are wanted. */
static cr_status split_pass(cr_bound_ctx *b, crown_job *job, size_t m, size_t ms, const double *gc, double *out) {
    const cr_net *net = b->net;
    const int L = net->n_layers;
    const size_t D = net->dims[0];
    cr_bound_split *sp = b->split;
    cr_bound_rowlines rl = {0};
    size_t need = ms + ms * D;
    for (int l = 0; l + 1 < L; l++)
        if (sp->score[l]) need += ms * net->dims[l + 1];
    double *mem = malloc(need * sizeof(double)), *p = mem;
    if (!mem) return CR_FAIL(CR_ERR_NOMEM);
    double *rows = out ? out : p, *dx = p + ms;
    p += ms + ms * D;
    for (int l = 0; l + 1 < L; l++)
        if (sp->score[l]) rl.keep[l] = p, p += ms * net->dims[l + 1];
    const cr_status st = cr_bound_crown_pass(job, L - 1, net->has_out_act, ms, gc, &rl, rows, dx);
    for (size_t i = 0; st == CR_OK && sp->corner && i < m * D; i++)
        sp->corner[i] = dx[i] >= 0 ? b->xlo[i % D] : b->xhi[i % D];
    for (int l = 0; st == CR_OK && l + 1 < L; l++) {
        if (!sp->score[l]) continue;
        const size_t w = net->dims[l + 1];
        const double *tu = job->run[0].tu[l];
        for (size_t j = 0; j < w; j++) sp->score[l][j] = 0;
        if (net->act[l] != CR_ACT_RELU && net->act[l] != CR_ACT_LEAKY_RELU) {
            /* a smooth unit: |λ| times its relaxation band's width (the larger at the interval's ends) */
            const double *sl = job->run[0].sl[l], *tl = job->run[0].tl[l], *su = job->run[0].su[l];
            for (size_t j = 0; j < w; j++) {
                const double ds = su[j] - sl[j], dt = tu[j] - tl[j];
                const double band = fmax(ds * b->zl[l + 1][j] + dt, ds * b->zu[l + 1][j] + dt);
                double sum = 0;
                for (size_t i = 0; i < m; i++) sum += fabs(rl.keep[l][i * w + j]);
                sp->score[l][j] = isfinite(band) && band > 0 ? sum * band : 0;
            }
            continue;
        }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < w; j++) {
                const double g = rl.keep[l][i * w + j];
                if (g < 0) sp->score[l][j] -= g * tu[j];
            }
    }
    free(mem);
    return st;
}

cr_status cr_bound_crown_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub) {
    const cr_net *net = b->net;
    const int L = net->n_layers;
    const size_t K = net->dims[L];
    cr_status st;
    if ((unsigned)b->method < 4) cr_bound_test_runs[b->method]++;
    /* IBP first: CROWN-IBP's intermediates, and a second valid bound for CROWN's */
    const int last_relaxed = net->has_out_act ? L - 1 : L - 2;
    if (last_relaxed >= 0) {
        st = cr_bound_ibp_layers(b, last_relaxed);
        if (st != CR_OK || (b->split && b->split->empty)) return st;
    }
    for (int l = 0; l <= last_relaxed; l++) {
        const cr_activation act = l < L - 1 ? net->act[l] : net->out_act;
        if (!cr_bound_act_supported(act)) return CR_FAIL(CR_ERR_ARG);
    }
    size_t wmax = 0; /* the widest relaxed layer: its ±I rows are the most of an intermediate pass */
    for (int l = 1; l <= last_relaxed; l++) wmax = net->dims[l + 1] > wmax ? net->dims[l + 1] : wmax;
    const size_t rows = 2 * (m > wmax ? m : wmax);
    crown_run proto = {.b = b, .rec = cr_bound_recorder};
    size_t need = rows + 2 * wmax * wmax + 2 * m * K;
    for (int l = 0; l < L; l++) need += net->dims[l + 1]; /* vl */
    for (int l = 0; l <= last_relaxed; l++) need += 5 * net->dims[l + 1];
    double *mem = malloc(need * sizeof(double));
    if (!mem) return CR_FAIL(CR_ERR_NOMEM);
    double *p = mem;
    double *out = p;
    p += rows;
    double *gi = p; /* the ±I rows of an intermediate pass */
    p += 2 * wmax * wmax;
    double *gc = p; /* the spec rows [C; −C] */
    p += 2 * m * K;
    for (int l = 0; l < L; l++) proto.vl[l] = p, p += net->dims[l + 1];
    for (int l = 0; l <= last_relaxed; l++) {
        const size_t w = net->dims[l + 1];
        proto.sl[l] = p, p += w;
        proto.tl[l] = p, p += w;
        proto.su[l] = p, p += w;
        proto.tu[l] = p, p += w;
        proto.mz[l] = p, p += w;
    }
    cr_net view = *net;
    view.link_form[0] = CR_AFFINE_NONE;
    crown_job *job = calloc(1, sizeof *job);
    if (!job || (st = job_init(job, &proto, &view)) != CR_OK) {
        free(job);
        free(mem);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    /* intermediates and relaxations, layer by layer */
    for (int l = 0; l <= last_relaxed && st == CR_OK; l++) {
        const size_t w = net->dims[l + 1];
        layer_weights(&job->run[0], l, job->run[0].ml); /* z_l's bounds (what layer l reads) are final */
        if ((b->method == CR_BOUND_CROWN || b->method == CR_BOUND_ALPHA) && l > 0 &&
            !(b->split && b->split->reuse)) { /* rows ±I on z_l */
            if (cr_bound_late(b)) break; /* the deadline (bound.h): no bound */
            memset(gi, 0, 2 * w * w * sizeof(double));
            for (size_t j = 0; j < w; j++) {
                gi[j * w + j] = 1;
                gi[(w + j) * w + j] = -1;
            }
            if (b->method == CR_BOUND_ALPHA && b->opt.alpha_intermediate >= 0)
                st = cr_bound_alpha_rows(b, job, l, 0, 2 * w, gi, out);
            else
                st = crown_pass(job, l, 0, 2 * w, gi, out);
            if (st != CR_OK || b->timed_out) break; /* an interrupted α search: its rows are void */
            for (size_t j = 0; j < w; j++) {
                const double lo = out[j], hi = -out[w + j];
                if (b->no_intersect || (isfinite(lo) && lo > b->zl[l + 1][j])) b->zl[l + 1][j] = lo;
                if (b->no_intersect || (isfinite(hi) && hi < b->zu[l + 1][j])) b->zu[l + 1][j] = hi;
            }
            if (!cr_bound_finite(b->zl[l + 1], w) || !cr_bound_finite(b->zu[l + 1], w)) {
                st = CR_ERR_NONFINITE;
                break;
            }
            if (cr_bound_clamp(b, l)) break; /* an empty subdomain (bound.h) */
        }
        const cr_activation act = l < L - 1 ? net->act[l] : net->out_act;
        const struct cr_act_relax *rx = cr_act_running(act)->relax; /* the row's relaxation */
        for (size_t j = 0; j < w; j++) {
            rx->lines(&b->mode, b->zl[l + 1][j], b->zu[l + 1][j], &proto.sl[l][j], &proto.tl[l][j],
                      &proto.su[l][j], &proto.tu[l][j]);
            proto.mz[l][j] = fmax(fabs(b->zl[l + 1][j]), fabs(b->zu[l + 1][j]));
        }
        cr_bound_explanation *e = proto.rec;
        if (e && l < e->n_relaxed) { /* explain: activation l's interval and lines */
            memcpy(e->zl[l + 1], b->zl[l + 1], w * sizeof(double));
            memcpy(e->zu[l + 1], b->zu[l + 1], w * sizeof(double));
            memcpy(e->sl[l], proto.sl[l], w * sizeof(double));
            memcpy(e->tl[l], proto.tl[l], w * sizeof(double));
            memcpy(e->su[l], proto.su[l], w * sizeof(double));
            memcpy(e->tu[l], proto.tu[l], w * sizeof(double));
        }
    }
    if (st == CR_OK && !(b->split && b->split->empty) && !cr_bound_late(b)) { /* the spec rows: [C; −C] on o */
        for (int l = last_relaxed + 1; l < L; l++) layer_weights(&job->run[0], l, job->run[0].ml);
        /* the spec pass's rows: [C; −C], or C alone (no upper bound wanted) */
        const size_t ms = b->no_ub || (b->split && b->split->lower_only) ? m : 2 * m;
        for (size_t i = 0; i < m * K; i++) {
            gc[i] = c[i];
            gc[m * K + i] = -c[i];
        }
        if (proto.rec && b->method == CR_BOUND_CROWN && proto.rec->m == m) { /* explain: record the rows */
            memcpy(proto.rec->zl[0], b->zl[0], net->dims[0] * sizeof(double));
            memcpy(proto.rec->zu[0], b->zu[0], net->dims[0] * sizeof(double));
            job->record = m;
            proto.rec->recorded = 1;
        }
        for (size_t i = ms; i < 2 * m; i++) out[i] = -INFINITY; /* no upper bound asked: ub = +inf */
        int split_rows = b->split && b->split->corner; /* the corners and scores wanted too */
        for (int l = 0; b->split && l < CR_MAX_LAYERS; l++) split_rows |= b->split->score[l] != NULL;
        if (b->method == CR_BOUND_ALPHA)
            st = cr_bound_alpha_rows(b, job, L - 1, net->has_out_act, ms, gc, out);
        else if (!split_rows)
            st = crown_pass(job, L - 1, net->has_out_act, ms, gc, out);
        if (st == CR_OK && split_rows && !b->timed_out) /* CROWN's own pass, or one more after α's */
            st = split_pass(b, job, m, ms, gc, b->method == CR_BOUND_ALPHA ? NULL : out);
        job->record = 0;
        if (st == CR_OK)
            for (size_t i = 0; i < m; i++) {
                lb[i] = out[i];
                ub[i] = b->no_ub ? INFINITY : -out[m + i];
            }
    }
    job_free(job);
    free(job);
    free(mem);
    return st;
}
