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

/* What every block of one α pass shares, read-only during the search. */
typedef struct {
    cr_bound_ctx *b;
    cr_crown_run *run;
    int top, thr, R;  /* R: the last relaxed activation */
    size_t width;     /* a row of g: dims[top + 1] */
    const struct cr_act_relax *rx[CR_MAX_LAYERS];
    size_t w[CR_MAX_LAYERS], off[CR_MAX_LAYERS + 1]; /* widths, parameter offsets (2 w per layer) */
    /* per unit: the ranges of the lower and upper line's parameter (min > max: none) and CROWN's parameter */
    double *rlo[CR_MAX_LAYERS], *rhi[CR_MAX_LAYERS], *pdef[CR_MAX_LAYERS]; /* 2 w: [lower's, upper's] */
    const double *sl[CR_MAX_LAYERS], *tl[CR_MAX_LAYERS], *su[CR_MAX_LAYERS], *tu[CR_MAX_LAYERS]; /* CROWN's lines */
    double *mem;
    /* the search */
    const double *g;
    double *rows_out;
    const double *tgt;  /* per row of the pass: done once its rigorous bound exceeds it (NaN: never), or NULL */
    const size_t *act;  /* the rows searched */
    size_t n_act, chunk;
    int have_first;     /* rows_out holds CROWN's rigorous bounds already */
    size_t iters;
    double lr, decay;
    struct cr_alpha_problem *blk[CR_MAX_WORKERS]; /* each worker's block, allocated by its first task */
    double deadline;                 /* the ctx's (0: none), checked by each block at every iteration */
    const double *warm_in;           /* cr_bound_split.warm_in / warm_out for rows < n_warm, or NULL */
    double *warm_out;
    size_t n_warm, wstride, hoff[CR_MAX_LAYERS]; /* hoff: hidden layer l's first unit in a row's β part */
    unsigned char late[CR_MAX_WORKERS]; /* worker w found it passed (each writes its own) */
} alpha_shared;

/* A block of rows: at most CR_BOUND_CROWN_ROWS searched together on one worker (one walk per evaluation), or every
   row of the pass for the check library's visit (worker −1: cr_bound_crown_pass's chunks). Row i of the block is
   row orig[i] of the pass. */
struct cr_alpha_problem {
    alpha_shared *s;
    int worker;
    size_t cap, n;
    double *g;                                     /* n x width */
    double *par[CR_MAX_LAYERS];                    /* n x 2w: each row's parameters */
    double *ds[CR_MAX_LAYERS], *dt[CR_MAX_LAYERS]; /* n x 2w: the lines' derivatives */
    double *grad[CR_MAX_LAYERS];                   /* n x 2w */
    double *m1[CR_MAX_LAYERS], *m2[CR_MAX_LAYERS]; /* Adam's moments, n x 2w */
    double *bpar[CR_MAX_LAYERS];                   /* n x 2w: each row's best parameters */
    cr_bound_rowlines rl;
    double *v, *r, *dx; /* n x maxdim, n x maxdim, n x D */
    double *val, *rig;  /* n: the latest evaluation, the latest rigorous one */
    double *best;       /* n: each row's best value in the search */
    double *res;        /* n: each row's result: the best rigorous bound met */
    double *tgt, *trig; /* n: the row's target (NaN: none), the search value that triggers a rigorous check */
    size_t *orig;
    unsigned char *imp; /* n: improved in the search */
    cr_relax_mode mode; /* the lines' mode: heuristic in the search, checked for a reported bound */
    cr_beta *beta;      /* β-CROWN's multipliers of a subdomain's split constraints (bound_beta.c), or NULL */
    double *mem;
};

static const struct cr_act_relax *relax_of(const cr_net *net, int l) {
    const cr_activation act = l < net->n_layers - 1 ? net->act[l] : net->out_act;
    return cr_act_running(act)->relax;
}

static void block_free(struct cr_alpha_problem *p);

size_t cr_bound_warm_stride(const cr_net *net) {
    const int L = net->n_layers, R = net->has_out_act ? L - 1 : L - 2;
    size_t n = 0;
    for (int l = 0; l <= R; l++) n += 2 * net->dims[l + 1];
    for (int l = 0; l + 1 < L; l++) n += net->dims[l + 1];
    return n;
}

static void shared_free(alpha_shared *s) {
    for (int w = 0; w < CR_MAX_WORKERS; w++) block_free(s->blk[w]);
    free(s->mem);
}

/* The ranges and CROWN's parameters and lines. */
static cr_status shared_init(cr_bound_ctx *b, cr_crown_run *run, int top, int thr, alpha_shared *s) {
    const cr_net *net = b->net;
    memset(s, 0, sizeof *s);
    s->b = b, s->run = run, s->top = top, s->thr = thr;
    s->R = thr ? top : top - 1;
    s->width = net->dims[top + 1];
    size_t need = 0;
    s->off[0] = 0;
    for (int l = 0; l <= s->R; l++) {
        s->rx[l] = relax_of(net, l);
        s->w[l] = net->dims[l + 1];
        s->off[l + 1] = s->off[l] + 2 * s->w[l];
        need += 6 * s->w[l];
    }
    s->mem = malloc((need ? need : 1) * sizeof(double));
    if (!s->mem) return CR_FAIL(CR_ERR_NOMEM);
    double *q = s->mem;
    for (int l = 0; l <= s->R; l++) {
        const size_t w = s->w[l];
        s->rlo[l] = q, q += 2 * w;
        s->rhi[l] = q, q += 2 * w;
        s->pdef[l] = q, q += 2 * w;
        cr_bound_crown_lines(run, l, &s->sl[l], &s->tl[l], &s->su[l], &s->tu[l]);
        const double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
        for (size_t j = 0; j < w; j++)
            for (int side = 0; side < 2; side++) {
                double a = 1, c = 0, def = 0;
                if (s->rx[l]->param_range)
                    s->rx[l]->param_range(&b->mode, zl[j], zu[j], side ? 1 : -1, &a, &c, &def);
                s->rlo[l][side * w + j] = a;
                s->rhi[l][side * w + j] = c;
                s->pdef[l][side * w + j] = def;
            }
    }
    return CR_OK;
}

/* A block for cap rows (own_g: with its own copy of their g rows). ds and dt start at 0 (a fixed line's stay 0). */
static cr_status block_alloc(alpha_shared *s, size_t cap, int own_g, int worker, cr_alpha_problem **out) {
    const cr_bound_ctx *b = s->b;
    cr_alpha_problem *p = calloc(1, sizeof *p);
    if (!p) return CR_FAIL(CR_ERR_NOMEM);
    p->s = s, p->cap = cap, p->worker = worker;
    size_t need = 2 * cap * b->maxdim + cap * b->net->dims[0] + 7 * cap + (own_g ? cap * s->width : 0);
    for (int l = 0; l <= s->R; l++) need += 7 * cap * 2 * s->w[l] + 5 * cap * s->w[l];
    p->mem = calloc(need, sizeof(double));
    if (!p->mem) {
        free(p);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    double *q = p->mem;
    p->v = q, q += cap * b->maxdim;
    p->r = q, q += cap * b->maxdim;
    p->dx = q, q += cap * b->net->dims[0];
    p->val = q, q += cap;
    p->rig = q, q += cap;
    p->best = q, q += cap;
    p->res = q, q += cap;
    p->tgt = q, q += cap;
    p->trig = q, q += cap;
    _Static_assert(sizeof(size_t) <= sizeof(double), "orig fits a double's slot");
    p->orig = (size_t *)q, q += cap;
    if (own_g) p->g = q, q += cap * s->width;
    for (int l = 0; l <= s->R; l++) {
        const size_t w = s->w[l], w2 = 2 * w;
        p->par[l] = q, q += cap * w2;
        p->ds[l] = q, q += cap * w2;
        p->dt[l] = q, q += cap * w2;
        p->grad[l] = q, q += cap * w2;
        p->m1[l] = q, q += cap * w2;
        p->m2[l] = q, q += cap * w2;
        p->bpar[l] = q, q += cap * w2;
        p->rl.sl[l] = q, q += cap * w;
        p->rl.tl[l] = q, q += cap * w;
        p->rl.su[l] = q, q += cap * w;
        p->rl.tu[l] = q, q += cap * w;
        p->rl.keep[l] = q, q += cap * w;
    }
    p->imp = malloc(cap ? cap : 1);
    if (!p->imp) {
        free(p->mem);
        free(p);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    p->mode = b->mode;
    if (s->top == b->net->n_layers - 1) { /* the spec rows of a subdomain: its split constraints' multipliers */
        const cr_status st = cr_beta_create(b, s->R, cap, &p->rl, &p->beta);
        if (st != CR_OK) {
            free(p->imp);
            free(p->mem);
            free(p);
            return st;
        }
    }
    *out = p;
    return CR_OK;
}

static void block_free(cr_alpha_problem *p) {
    if (!p) return;
    cr_beta_free(p->beta);
    free(p->imp);
    free(p->mem);
    free(p);
}

/* Row i of the block starts as pass row `row`: CROWN's parameters and lines, no moments. */
static void block_load_row(cr_alpha_problem *p, size_t i, size_t row) {
    const alpha_shared *s = p->s;
    p->orig[i] = row;
    p->imp[i] = 0;
    if (p->g != s->g) memcpy(p->g + i * s->width, s->g + row * s->width, s->width * sizeof(double));
    p->tgt[i] = s->tgt ? s->tgt[row] : NAN;
    p->trig[i] = p->tgt[i];
    p->res[i] = s->have_first ? s->rows_out[row] : -INFINITY;
    for (int l = 0; l <= s->R; l++) {
        const size_t w = s->w[l], w2 = 2 * w;
        memcpy(p->par[l] + i * w2, s->pdef[l], w2 * sizeof(double));
        memcpy(p->bpar[l] + i * w2, s->pdef[l], w2 * sizeof(double));
        memset(p->m1[l] + i * w2, 0, w2 * sizeof(double));
        memset(p->m2[l] + i * w2, 0, w2 * sizeof(double));
        memcpy(p->rl.sl[l] + i * w, s->sl[l], w * sizeof(double));
        memcpy(p->rl.tl[l] + i * w, s->tl[l], w * sizeof(double));
        memcpy(p->rl.su[l] + i * w, s->su[l], w * sizeof(double));
        memcpy(p->rl.tu[l] + i * w, s->tu[l], w * sizeof(double));
    }
    const double *wi = s->warm_in && row < s->n_warm ? s->warm_in + row * s->wstride : NULL;
    if (wi && !isnan(wi[0])) /* the parent's values, projected on this box's ranges (any value there is sound) */
        for (int l = 0; l <= s->R; l++) {
            const size_t w2 = 2 * s->w[l];
            for (size_t k = 0; k < w2; k++) {
                const double lo = s->rlo[l][k], hi = s->rhi[l][k], v = wi[s->off[l] + k];
                if (!(lo <= hi) || !isfinite(v)) continue;
                p->par[l][i * w2 + k] = p->bpar[l][i * w2 + k] = v < lo ? lo : v > hi ? hi : v;
            }
        }
}

/* Row i's warm start of β (after cr_beta_reset), and its best values out (cr_bound_split.warm_out). */
static void block_warm_beta(cr_alpha_problem *p, size_t i) {
    const alpha_shared *s = p->s;
    const size_t row = p->orig[i];
    const double *wi = s->warm_in && row < s->n_warm ? s->warm_in + row * s->wstride : NULL;
    if (p->beta && wi && !isnan(wi[0])) cr_beta_warm_in(p->beta, i, wi + s->off[s->R + 1], s->hoff);
}

static void block_warm_out(cr_alpha_problem *p, size_t i) {
    const alpha_shared *s = p->s;
    const size_t row = p->orig[i];
    if (!s->warm_out || row >= s->n_warm) return;
    double *wo = s->warm_out + row * s->wstride; /* this row's alone: no other block writes it */
    for (int l = 0; l <= s->R; l++)
        memcpy(wo + s->off[l], p->bpar[l] + i * 2 * s->w[l], 2 * s->w[l] * sizeof(double));
    double *bo = wo + s->off[s->R + 1];
    memset(bo, 0, (s->wstride - s->off[s->R + 1]) * sizeof(double));
    if (p->beta) cr_beta_warm_out(p->beta, i, bo, s->hoff);
}

/* Row src of the block moves to dst (a row that is done leaves the block): what the next iteration reads. */
static void block_move_row(cr_alpha_problem *p, size_t dst, size_t src) {
    const alpha_shared *s = p->s;
    p->orig[dst] = p->orig[src];
    p->imp[dst] = p->imp[src];
    memcpy(p->g + dst * s->width, p->g + src * s->width, s->width * sizeof(double));
    p->tgt[dst] = p->tgt[src], p->trig[dst] = p->trig[src];
    p->res[dst] = p->res[src], p->best[dst] = p->best[src];
    if (p->beta) cr_beta_move_row(p->beta, dst, src);
    for (int l = 0; l <= s->R; l++) {
        const size_t w = s->w[l], w2 = 2 * w;
        double *a2[] = {p->par[l], p->bpar[l], p->m1[l], p->m2[l], p->grad[l]};
        for (size_t k = 0; k < sizeof a2 / sizeof *a2; k++)
            memcpy(a2[k] + dst * w2, a2[k] + src * w2, w2 * sizeof(double));
        double *a1[] = {p->rl.sl[l], p->rl.tl[l], p->rl.su[l], p->rl.tu[l]};
        for (size_t k = 0; k < sizeof a1 / sizeof *a1; k++)
            memcpy(a1[k] + dst * w, a1[k] + src * w, w * sizeof(double));
    }
}

/* each row's lines at its parameters (only the units with a parameter change) */
static void build_lines(cr_alpha_problem *p) {
    const alpha_shared *s = p->s;
    const cr_bound_ctx *b = s->b;
    for (int l = 0; l <= s->R; l++) {
        const size_t w = s->w[l], w2 = 2 * w;
        const double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
        for (int side = 0; side < 2; side++) {
            double *S = side ? p->rl.su[l] : p->rl.sl[l], *T = side ? p->rl.tu[l] : p->rl.tl[l];
            for (size_t j = 0; j < w; j++) {
                const size_t k = side * w + j;
                if (!(s->rlo[l][k] <= s->rhi[l][k])) continue;
                for (size_t i = 0; i < p->n; i++)
                    s->rx[l]->param_line(&p->mode, zl[j], zu[j], side ? 1 : -1, p->par[l][i * w2 + k],
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
    const alpha_shared *s = p->s;
    const cr_bound_ctx *b = s->b;
    const cr_net *net = b->net;
    const size_t n = p->n, D = net->dims[0];
    double *v = p->v, *r = p->r;
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < D; q++) v[i * D + q] = p->dx[i * D + q] >= 0 ? b->zl[0][q] : b->zu[0][q];
    cr_blas_serial_enter(); /* the BLAS's path for n rows must not depend on its thread count */
    for (int l = 0; l <= s->R; l++) {
        const size_t din = net->dims[l], w = s->w[l], w2 = 2 * w;
        const double *bias = cr_bound_b(b, l);
        for (size_t i = 0; i < n; i++) memcpy(r + i * w, bias, w * sizeof(double));
        cr_gemm_f64(0, 0, n, w, din, 1, v, din, cr_bound_w(b, l), w, 1, r, w);
        cr_net_link_apply_f64(net, l, LINK_FORWARD, n, w, 0, w, r); /* ẑ_l */
        const double *A = p->rl.keep[l];
        if (p->beta) cr_beta_gradient(p->beta, l, r, A); /* −s·ẑ_l */
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
    if (p->beta) cr_beta_scaled(p->beta);
    cr_blas_serial_leave();
}

static cr_status evaluate(cr_alpha_problem *p, double *out, int want_grad) {
    const alpha_shared *s = p->s;
    build_lines(p);
    if (p->beta) {
        cr_beta_rows(p->beta, p->n);
        cr_beta_write(p->beta);
    }
    cr_status st = CR_OK;
    if (p->worker < 0)
        st = cr_bound_crown_pass(s->run, s->top, s->thr, p->n, p->g, &p->rl, out, p->dx);
    else
        cr_bound_crown_walk(s->run, p->worker, p->n, p->g, &p->rl, out, p->dx);
    if (st == CR_OK && want_grad) gradient(p);
    return st;
}

/* The rows whose result exceeds their target are done: their result goes out, the others close up. */
static void block_retire(cr_alpha_problem *p) {
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->res[i] > p->tgt[i]) { /* NaN (no target) never */
            p->s->rows_out[p->orig[i]] = p->res[i];
            block_warm_out(p, i);
            continue;
        }
        if (k != i) block_move_row(p, k, i);
        k++;
    }
    p->n = k;
}

/* One block's whole search (a task: rows act[t·chunk ...] on this worker). */
static cr_status search_task(void *ctx, size_t t, int worker) {
    alpha_shared *s = ctx;
    const size_t r0 = t * s->chunk, n = s->n_act - r0 < s->chunk ? s->n_act - r0 : s->chunk;
    cr_status st;
    if (!s->blk[worker] && (st = block_alloc(s, s->chunk, 1, worker, &s->blk[worker])) != CR_OK) return st;
    cr_alpha_problem *p = s->blk[worker];
    p->n = n;
    for (size_t i = 0; i < n; i++) block_load_row(p, i, s->act[r0 + i]);
    if (p->beta) cr_beta_reset(p->beta); /* β = 0: CROWN's (α's) bound */
    if (p->beta) {
        cr_beta_rows(p->beta, n);
        for (size_t i = 0; i < n; i++) block_warm_beta(p, i); /* or the parent's */
    }
    const size_t iters = s->iters;
    double lr = s->lr;
    if (s->deadline > 0 && cr_bound_now_s() > s->deadline) s->late[worker] = 1;
    if (s->late[worker]) return CR_OK; /* the pass's results are void (cr_bound_alpha_rows) */
    /* the first evaluation: CROWN's lines, rigorous (the result never goes below it) */
    p->mode.heuristic = 0;
    st = evaluate(p, p->val, iters > 0);
    if (st != CR_OK) return st;
    for (size_t i = 0; i < n; i++) {
        if (!s->have_first || p->val[i] > p->res[i]) p->res[i] = p->val[i];
        p->best[i] = p->val[i];
    }
    block_retire(p);
    p->mode.heuristic = 1; /* the search: tangents as computed, unchecked (fast) */
    const double b1 = 0.9, b2 = 0.999;
    double b1t = 1, b2t = 1;
    for (size_t it = 1; it <= iters && p->n > 0; it++) {
        if (s->deadline > 0 && cr_bound_now_s() > s->deadline) {
            s->late[worker] = 1;
            return CR_OK;
        }
        b1t *= b1, b2t *= b2;
        for (int l = 0; l <= s->R; l++) { /* Adam ascent, projected on each unit's range */
            const size_t w2 = 2 * s->w[l];
            for (size_t i = 0; i < p->n; i++) {
                const double *gr = p->grad[l] + i * w2;
                double *m1 = p->m1[l] + i * w2, *m2 = p->m2[l] + i * w2, *par = p->par[l] + i * w2;
                for (size_t k = 0; k < w2; k++) {
                    const double lo = s->rlo[l][k], hi = s->rhi[l][k], gk = gr[k];
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
        if (p->beta) {
            cr_beta_rows(p->beta, p->n);
            cr_beta_step(p->beta, b1, b2, b1t, b2t, lr);
        }
        lr *= s->decay;
        if ((st = evaluate(p, p->val, it < iters)) != CR_OK) return st;
        int check = 0;
        for (size_t i = 0; i < p->n; i++) {
            if (p->val[i] > p->best[i]) { /* NaN never kept */
                p->best[i] = p->val[i];
                p->imp[i] = 1;
                if (p->beta) cr_beta_keep(p->beta, i);
                for (int l = 0; l <= s->R; l++) {
                    const size_t w2 = 2 * s->w[l];
                    memcpy(p->bpar[l] + i * w2, p->par[l] + i * w2, w2 * sizeof(double));
                }
            }
            check |= p->val[i] > p->trig[i];
        }
        if (check && it < iters) { /* a row looks proved: the rigorous pass at these parameters decides */
            p->mode.heuristic = 0;
            st = evaluate(p, p->rig, 0); /* the gradient for the next step is already computed */
            p->mode.heuristic = 1;
            if (st != CR_OK) return st;
            for (size_t i = 0; i < p->n; i++) {
                if (p->rig[i] > p->res[i]) p->res[i] = p->rig[i];
                if (p->val[i] > p->trig[i]) p->trig[i] = p->val[i] + fabs(p->val[i] - p->rig[i]);
            }
            block_retire(p);
        }
    }
    int improved = 0;
    for (size_t i = 0; i < p->n; i++) improved |= p->imp[i];
    if (improved) { /* the bound at each row's best parameters, rigorous */
        p->mode.heuristic = 0;
        for (int l = 0; l <= s->R; l++) memcpy(p->par[l], p->bpar[l], p->n * 2 * s->w[l] * sizeof(double));
        if (p->beta) {
            cr_beta_rows(p->beta, p->n);
            cr_beta_use_best(p->beta);
        }
        if ((st = evaluate(p, p->val, 0)) != CR_OK) return st;
        for (size_t i = 0; i < p->n; i++)
            if (p->val[i] > p->res[i]) p->res[i] = p->val[i];
    }
    for (size_t i = 0; i < p->n; i++) {
        s->rows_out[p->orig[i]] = p->res[i];
        block_warm_out(p, i);
    }
    return CR_OK;
}

/* 1 when activation l's lines on a unit depend only on the sign of its interval once it does not cross 0 (ReLU,
   leaky ReLU): a bound of that unit beyond 0 changes no line. */
static int sign_only(const cr_net *net, int l) {
    const cr_activation act = l < net->n_layers - 1 ? net->act[l] : net->out_act;
    return act == CR_ACT_RELU || act == CR_ACT_LEAKY_RELU;
}

cr_status cr_bound_alpha_rows(cr_bound_ctx *b, cr_crown_run *run, int top, int through_out_act,
                              size_t n, const double *g, double *rows_out) {
    alpha_shared s;
    cr_status st = shared_init(b, run, top, through_out_act, &s);
    if (st != CR_OK) return st;
    s.g = g;
    s.rows_out = rows_out;
    if (b->alpha_visit && top == b->net->n_layers - 1) { /* the check library's visit */
        cr_alpha_problem *p;
        st = block_alloc(&s, n, 0, -1, &p);
        if (st == CR_OK) {
            p->g = (double *)g;
            p->n = n;
            for (size_t i = 0; i < n; i++) block_load_row(p, i, i);
            st = b->alpha_visit(b->alpha_visit_ctx, p);
            if (st == CR_OK) st = cr_bound_crown_pass(run, top, through_out_act, n, g, NULL, rows_out, p->dx);
            block_free(p);
        }
        shared_free(&s);
        return st;
    }
    const cr_bound_options *o = &b->opt;
    s.iters = o->alpha_iters ? o->alpha_iters : ALPHA_ITERS;
    s.lr = o->alpha_lr > 0 ? o->alpha_lr : ALPHA_LR;
    s.decay = o->alpha_lr_decay > 0 ? o->alpha_lr_decay : ALPHA_LR_DECAY;
    /* the rows' targets: the caller's (cr_bound_split.target) on the spec rows; 0 on an intermediate layer of
       ReLUs (a row above 0 makes the unit stable: its lines are final) */
    const int spec = top == b->net->n_layers - 1, relu_rows = !spec && sign_only(b->net, top);
    const int targets = relu_rows || (spec && b->target && b->n_target > 0);
    double *tgt = targets ? malloc(n * sizeof *tgt) : NULL;
    size_t *act = malloc((n ? n : 1) * sizeof *act);
    if (!act || (targets && !tgt)) {
        st = cr_fail_nomem("cr_net_bound: alpha-CROWN", 0);
        goto out;
    }
    for (size_t i = 0; tgt && i < n; i++) tgt[i] = relu_rows ? 0 : i < b->n_target ? b->target[i] : NAN;
    s.tgt = tgt;
    if (tgt) { /* CROWN's rigorous bounds first: the rows they prove are done */
        st = cr_bound_crown_pass(run, top, through_out_act, n, g, NULL, rows_out, NULL);
        if (st != CR_OK) goto out;
        s.have_first = 1;
        const size_t w = n / 2;
        for (size_t i = 0; i < n; i++) {
            const int done = relu_rows ? rows_out[i % w] > 0 || rows_out[w + i % w] > 0 : rows_out[i] > tgt[i];
            if (!done) act[s.n_act++] = i;
        }
    } else {
        for (size_t i = 0; i < n; i++) act[s.n_act++] = i;
    }
    if (s.n_act > 0) {
        s.act = act;
        s.chunk = cr_even_chunk(s.n_act, CR_BOUND_CROWN_ROWS);
        s.deadline = b->deadline;
        if (top == b->net->n_layers - 1 && b->n_warm && b->split) { /* α/β warm start (bound.h) */
            s.warm_in = b->split->warm_in;
            s.warm_out = b->split->warm_out;
            s.n_warm = b->n_warm;
            s.wstride = cr_bound_warm_stride(b->net);
            size_t h = 0;
            for (int l = 0; l + 1 < b->net->n_layers; l++) s.hoff[l] = h, h += b->net->dims[l + 1];
        }
        st = cr_bound_crown_for(run, top, through_out_act, (s.n_act + s.chunk - 1) / s.chunk, search_task, &s);
        int late = 0;
        for (int w = 0; w < CR_MAX_WORKERS; w++) late |= s.late[w];
        if (late) { /* a block stopped at the deadline: no row of this pass is a bound (bound.h) */
            b->timed_out = 1;
            for (size_t i = 0; i < n; i++) rows_out[i] = -INFINITY;
        }
    }
out:
    free(act);
    free(tgt);
    shared_free(&s);
    return st;
}

/* ------------------------------------------------------------ the check library's view */

size_t cr_alpha_problem_rows(const cr_alpha_problem *p) { return p->n; }
size_t cr_alpha_problem_params(const cr_alpha_problem *p) {
    return p->s->off[p->s->R + 1] + cr_beta_params(p->beta);
}

static void locate(const cr_alpha_problem *p, size_t k, int *l, size_t *kk) {
    int a = 0;
    while (a < p->s->R && k >= p->s->off[a + 1]) a++;
    *l = a;
    *kk = k - p->s->off[a];
}

void cr_alpha_problem_range(const cr_alpha_problem *p, size_t k, double *pmin, double *pmax) {
    int l;
    size_t kk;
    if (k >= p->s->off[p->s->R + 1]) { /* β */
        *pmin = 0;
        *pmax = INFINITY;
        return;
    }
    locate(p, k, &l, &kk);
    *pmin = p->s->rlo[l][kk];
    *pmax = p->s->rhi[l][kk];
}

void cr_alpha_problem_default(const cr_alpha_problem *p, double *alpha) {
    const size_t P = cr_alpha_problem_params(p);
    for (size_t i = 0; i < p->n; i++) {
        for (int l = 0; l <= p->s->R; l++)
            memcpy(alpha + i * P + p->s->off[l], p->par[l] + i * 2 * p->s->w[l], 2 * p->s->w[l] * sizeof(double));
        if (p->beta) cr_beta_get(p->beta, i, alpha + i * P + p->s->off[p->s->R + 1], NULL);
    }
}

cr_status cr_alpha_problem_eval(cr_alpha_problem *p, const double *alpha, double *lb, double *grad) {
    const size_t P = cr_alpha_problem_params(p);
    for (size_t i = 0; i < p->n; i++) {
        for (int l = 0; l <= p->s->R; l++)
            memcpy(p->par[l] + i * 2 * p->s->w[l], alpha + i * P + p->s->off[l], 2 * p->s->w[l] * sizeof(double));
        if (p->beta) cr_beta_set(p->beta, i, alpha + i * P + p->s->off[p->s->R + 1]);
    }
    const cr_status st = evaluate(p, lb, grad != NULL);
    if (st == CR_OK && grad)
        for (size_t i = 0; i < p->n; i++) {
            for (int l = 0; l <= p->s->R; l++)
                memcpy(grad + i * P + p->s->off[l], p->grad[l] + i * 2 * p->s->w[l], 2 * p->s->w[l] * sizeof(double));
            if (p->beta) cr_beta_get(p->beta, i, NULL, grad + i * P + p->s->off[p->s->R + 1]);
        }
    return st;
}

cr_status cr_alpha_problem_visit(const cr_net *net, const double *lo, const double *hi, size_t m,
                                 const double *c, const cr_bound_options *opt,
                                 cr_status (*fn)(void *ctx, cr_alpha_problem *p), void *ctx) {
    return cr_alpha_problem_visit_split(net, lo, hi, m, c, opt, NULL, fn, ctx);
}

cr_status cr_alpha_problem_visit_split(const cr_net *net, const double *lo, const double *hi, size_t m,
                                       const double *c, const cr_bound_options *opt, cr_bound_split *split,
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
    b.split = split;
    if (split) split->empty = 0;
    st = cr_bound_crown_rows(&b, m, c, tmp, tmp + m);
    free(tmp);
    cr_bound_release(&b);
    return st;
}
