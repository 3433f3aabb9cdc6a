/*
 * Branch and bound (the certify note, §2.6, §2.7; docs/certification.md "Branch and bound").
 *
 * A subdomain is a box [lo, hi] inside the part's outward box and per-unit clamps [zlo, zhi] of the hidden
 * pre-activations z_l: the set of x in the box whose z_l lie in the clamps. Its rows are bounded by
 * cr_net_bound_split (net/bound.h), which intersects every intermediate interval with the clamps as soon as it is
 * computed: sound for every point of the subdomain. A clause is refuted in a subdomain when one of its rows has
 * lb > rhs; a subdomain whose clauses are all refuted, or whose clamps leave an interval empty (no point), is
 * closed. Otherwise the minimising corners of CROWN's rows are tried as witnesses (cr_witness_check: sat only
 * with a checked one) and the subdomain is split in two whose union is it:
 *   ReLU split: the unstable unit (l < 0 < u) whose upper-line intercept costs the spec rows' bounds most,
 *     Σ max(−λ, 0)·t_up (BaBSR's intercept score, cr_bound_split.score), else the largest intercept −l·u/(u − l);
 *     children z ≤ 0 (zhi = 0) and z ≥ 0 (zlo = 0), where the relaxation is exact;
 *   input split: the dimension widest relative to the part's box, bisected (both halves closed).
 * A ReLU-split subdomain with no unstable unit left (its margin is linear there, but bounded over the box, not over
 * the polytope the clamps cut out) goes on with input splits. Children inherit their parent's intermediates as
 * clamps (the child is a subset). Depth first. unsat when every subdomain is closed; unknown when a leaf cannot be
 * split further (no double strictly between a dimension's ends) or the budget ends first; timeout at the deadline,
 * checked before each subdomain and inside its bound (cr_bound_split.deadline: an interrupted bound is discarded).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net_internal.h"
#include "core/fail.h"
#include "bab.h"
#include "net/bound.h"

int chk_bab_test_fault = 0;
int chk_bab_test_score = 1;
int chk_bab_reuse = 1;
int chk_bab_warm = 1;

double chk_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    size_t d, k, h, nq, block; /* a domain: lo, hi (d), zlo, zhi (h), alive (nq), relu_child (1), warm (nw·ws) */
    size_t nw, ws;              /* warm start: rows (the part's, 0: none) and values per row (cr_bound_warm_stride) */
    size_t off[CR_MAX_LAYERS];  /* offset of layer l's units among the h hidden ones */
    double *stack;
    size_t n, cap;
} dstack;

static cr_status push(dstack *s, const double *dom) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *p = realloc(s->stack, cap * s->block * sizeof *p);
        if (!p) return CR_FAIL(CR_ERR_NOMEM);
        s->stack = p;
        s->cap = cap;
    }
    memcpy(s->stack + s->n * s->block, dom, s->block * sizeof *dom);
    s->n++;
    return CR_OK;
}

static int splittable(cr_activation a) { return a == CR_ACT_RELU || a == CR_ACT_LEAKY_RELU; }

/* Where a smooth unit (sigmoid, tanh, softplus) on [lo, hi] is split: at 0 when the interval crosses it (each
   child on one side of the curvature change, where the relaxation is tighter), else at its midpoint; NAN when no
   double lies strictly inside. */
static double smooth_point(double lo, double hi) {
    const double m = lo < 0 && hi > 0 ? 0 : 0.5 * lo + 0.5 * hi;
    return m > lo && m < hi ? m : NAN;
}

/* The unstable unit with the largest score (what its intercept costs the bound, bound.h), or when every score is
   zero the largest intercept −l·u/(u − l), as its index among the hidden units; h if none is unstable. */
static size_t pick_unit(const cr_net *net, const dstack *s, const double *zl, const double *zu, const double *sc) {
    if (sc) {
        size_t best = s->h;
        double top = 0;
        for (int l = 0; l + 1 < net->n_layers; l++) {
            const int relu = splittable(net->act[l]);
            for (size_t j = 0; j < net->dims[l + 1]; j++) {
                const size_t i = s->off[l] + j;
                const int open = relu ? zl[i] < 0 && zu[i] > 0 : !isnan(smooth_point(zl[i], zu[i]));
                if (open && sc[i] > top) {
                    top = sc[i];
                    best = i;
                }
            }
        }
        if (best < s->h) return best;
    }
    size_t best = s->h;
    double score = 0;
    for (int l = 0; l + 1 < net->n_layers; l++) {
        if (!splittable(net->act[l])) continue;
        for (size_t j = 0; j < net->dims[l + 1]; j++) {
            const size_t i = s->off[l] + j;
            const double lo = zl[i], hi = zu[i];
            if (!(lo < 0 && hi > 0)) continue;
            const double v = -lo * hi / (hi - lo);
            if (v > score || best == s->h) {
                score = v;
                best = i;
            }
        }
    }
    return best;
}

/* The input dimension widest relative to the part's box, or d when no double lies strictly inside any. */
static size_t pick_dim(const cr_spec_part *p, const double *lo, const double *hi) {
    size_t best = p->d;
    double score = 0;
    for (size_t q = 0; q < p->d; q++) {
        const double w = p->hi[q] - p->lo[q], mid = 0.5 * lo[q] + 0.5 * hi[q];
        if (!(w > 0) || !(mid > lo[q] && mid < hi[q])) continue;
        const double v = (hi[q] - lo[q]) / w;
        if (v > score) {
            score = v;
            best = q;
        }
    }
    return best;
}

/* Tries x clipped to the part's inward box as a witness; 1 when accepted (witness, wout filled). */
static int try_witness(const cr_net *net, const cr_spec_part *p, double *x, double *witness, double *wout,
                       double *worst) {
    for (size_t q = 0; q < p->d; q++) {
        if (!(p->lo_in[q] <= p->hi_in[q])) return 0; /* no double in the real interval */
        x[q] = x[q] < p->lo_in[q] ? p->lo_in[q] : x[q] > p->hi_in[q] ? p->hi_in[q] : x[q];
    }
    int accepted = 0;
    if (cr_witness_check(net, p, x, wout, worst, &accepted) != CR_OK || !accepted) return 0;
    memcpy(witness, x, p->d * sizeof *x);
    return 1;
}

cr_status chk_bab_part(const cr_net *net, const cr_spec_part *p, const char *refuted, const chk_bab_opts *o,
                       const double *root_zl, const double *root_zu, double *witness, double *wout,
                       chk_bab_result *res) {
    const int L = net->n_layers;
    dstack s = {.d = p->d, .k = p->k, .nq = p->n_clauses};
    for (int l = 0; l + 1 < L; l++) {
        s.off[l] = s.h;
        s.h += net->dims[l + 1];
    }
    /* α/β warm start: each subdomain carries its parent's optimised values per spec row (NaN: none) */
    if (chk_bab_warm && o->bound.method == CR_BOUND_ALPHA) s.nw = p->n_rows, s.ws = cr_bound_warm_stride(net);
    const size_t wbase = 2 * s.d + 2 * s.h + s.nq + 1; /* the warm values' offset in a block */
    s.block = wbase + s.nw * s.ws; /* wbase − 1: 1 for a child of a ReLU split */
    const size_t d = s.d, h = s.h, k = s.k, mrows = p->n_rows;
    double *mem = malloc((2 * s.block + mrows * (k + 2 + d) + 3 * h + d + 2 * s.nw * s.ws) * sizeof *mem);
    size_t *idx = malloc((mrows + 1) * sizeof *idx);
    cr_status st = CR_OK;
    res->verdict = CR_VERDICT_UNKNOWN;
    res->margin = INFINITY;
    res->domains = 0;
    if (!mem || !idx) {
        st = cr_fail_nomem("cr_certify: branch and bound", 0);
        goto done;
    }
    double *cur = mem, *child = cur + s.block, *c = child + s.block, *lb = c + mrows * k, *corner = lb + mrows,
           *nzl = corner + mrows * d, *nzu = nzl + h, *x = nzu + h, *score = x + d, *tg = score + h,
           *win = tg + mrows, *wnext = win + s.nw * s.ws; /* the m rows' warm values in and out */
    /* the root */
    memcpy(cur, p->lo, d * sizeof *cur);
    memcpy(cur + d, p->hi, d * sizeof *cur);
    for (size_t i = 0; i < h; i++) { /* the caller's intermediates of the part's box, or none */
        cur[2 * d + i] = root_zl ? root_zl[i] : -INFINITY;
        cur[2 * d + h + i] = root_zu ? root_zu[i] : INFINITY;
    }
    for (size_t q = 0; q < s.nq; q++) cur[2 * d + 2 * h + q] = refuted[q] ? 0 : 1;
    cur[2 * d + 2 * h + s.nq] = 0;
    for (size_t i = 0; i < s.nw * s.ws; i++) cur[wbase + i] = NAN; /* the root: CROWN's start */
    int incomplete = 0;
    if ((st = push(&s, cur)) != CR_OK) goto done;
    while (s.n > 0) {
        if (o->deadline > 0 && chk_now_s() > o->deadline) {
            res->verdict = CR_VERDICT_TIMEOUT;
            goto done;
        }
        if (res->domains >= o->max_domains) {
            incomplete = 1;
            break;
        }
        s.n--;
        memcpy(cur, s.stack + s.n * s.block, s.block * sizeof *cur);
        res->domains++;
        double *lo = cur, *hi = cur + d, *zlo = cur + 2 * d, *zhi = zlo + h, *alive = zhi + h, *relu_child = alive + s.nq,
               *warm = cur + wbase;
        size_t m = 0; /* the rows of the clauses alive here */
        for (size_t q = 0; q < s.nq; q++)
            if (alive[q] != 0)
                for (size_t r = p->clause[q]; r < p->clause[q + 1]; r++) {
                    idx[m] = r;
                    tg[m] = p->rhs[r]; /* α stops optimising a row once it is proved */
                    memcpy(c + m * k, p->c + r * k, k * sizeof *c);
                    m++;
                }
        if (m == 0) continue;
        for (size_t a = 0; a < m && s.nw; a++) { /* row a is the part's row idx[a] */
            memcpy(win + a * s.ws, warm + idx[a] * s.ws, s.ws * sizeof *win);
            wnext[a * s.ws] = NAN; /* not written: a row CROWN proves is not searched */
        }
        /* a child of a ReLU split bounded by α with β: its clamps are its parent's final intermediates, kept as they
           are (β-CROWN: the split constraints enter through β, no intermediate pass per subdomain). Not after a split
           of a smooth unit: on the sigmoid 6x200 net, recomputed intermediates closed 104 of 300 subdomains against
           11, for 3.5x the time */
        cr_bound_split sp = {.corner = corner, .target = tg, .lower_only = 1,
                             .reuse = chk_bab_reuse && *relu_child != 0 && o->bound.method == CR_BOUND_ALPHA &&
                                      cr_bound_beta_on,
                             .deadline = o->deadline,
                             .warm_in = s.nw ? win : NULL,
                             .warm_out = s.nw ? wnext : NULL};
        for (int l = 0; l + 1 < L; l++) {
            sp.zlo[l] = zlo + s.off[l];
            sp.zhi[l] = zhi + s.off[l];
            sp.zl_out[l] = nzl + s.off[l];
            sp.zu_out[l] = nzu + s.off[l];
            sp.score[l] = chk_bab_test_score ? score + s.off[l] : NULL;
        }
        st = cr_net_bound_split(o->cx, net, lo, hi, m, c, &o->bound, &sp, lb, NULL);
        if (st == CR_OK && sp.timed_out) { /* interrupted inside the bound: void, the answer is timeout */
            res->verdict = CR_VERDICT_TIMEOUT;
            goto done;
        }
        int bounded = st == CR_OK;
        if (st == CR_ERR_NONFINITE) st = CR_OK; /* no proof here; an input split may still help */
        if (st != CR_OK) goto done;
        if (bounded && sp.empty) continue; /* the clamps leave no point */
        for (size_t a = 0; bounded && a < m && s.nw; a++) /* the children start where this search ended */
            if (!isnan(wnext[a * s.ws])) memcpy(warm + idx[a] * s.ws, wnext + a * s.ws, s.ws * sizeof *warm);
        if (bounded) {
            double gap_min = INFINITY;
            for (size_t a = 0; a < m; a++) {
                size_t r = idx[a], q = 0;
                while (r >= p->clause[q + 1]) q++;
                const double gap = lb[a] - p->rhs[r];
                if (gap > 0 && alive[q] != 0) {
                    alive[q] = 0;
                    gap_min = gap < gap_min ? gap : gap_min;
                }
            }
            int any = 0;
            for (size_t q = 0; q < s.nq; q++) any |= alive[q] != 0;
            if (!any) {
                res->margin = gap_min < res->margin ? gap_min : res->margin;
                continue;
            }
            if (gap_min < res->margin) res->margin = gap_min;
            /* the candidate: the corner of the least refuted row of the alive clause whose bound is lowest (one
               independent check per subdomain: with many clauses, one each cost more than the bound) */
            size_t pick = m;
            double pick_gap = INFINITY;
            for (size_t q = 0; q < s.nq; q++) {
                if (alive[q] == 0) continue;
                size_t best = m;
                for (size_t a = 0; a < m; a++)
                    if (idx[a] >= p->clause[q] && idx[a] < p->clause[q + 1] &&
                        (best == m || lb[a] - p->rhs[idx[a]] > lb[best] - p->rhs[idx[best]]))
                        best = a;
                if (best < m && lb[best] - p->rhs[idx[best]] < pick_gap) {
                    pick = best;
                    pick_gap = lb[best] - p->rhs[idx[best]];
                }
            }
            if (pick < m) {
                const size_t best = pick;
                memcpy(x, corner + best * d, d * sizeof *x);
                double worst;
                if (try_witness(net, p, x, witness, wout, &worst)) {
                    res->verdict = CR_VERDICT_SAT;
                    res->margin = worst;
                    goto done;
                }
            }
        }
        const size_t j = o->split == CR_BAB_SPLIT_RELU && bounded ? pick_unit(net, &s, nzl, nzu, chk_bab_test_score ? score : NULL) : h;
        if (j == h) { /* input splits, or no unstable unit left: bisect the box (the clamps still prune) */
            for (size_t q = 0; q < d; q++) x[q] = 0.5 * lo[q] + 0.5 * hi[q];
            double worst;
            if (try_witness(net, p, x, witness, wout, &worst)) {
                res->verdict = CR_VERDICT_SAT;
                res->margin = worst;
                goto done;
            }
            const size_t q = pick_dim(p, lo, hi);
            if (q == d) {
                incomplete = 1;
                continue;
            }
            const double mid = 0.5 * lo[q] + 0.5 * hi[q];
            memcpy(child, cur, s.block * sizeof *child);
            child[wbase - 1] = 0;
            if (bounded) { /* the parent's intermediates: valid on each half */
                memcpy(child + 2 * d, nzl, h * sizeof *child);
                memcpy(child + 2 * d + h, nzu, h * sizeof *child);
            }
            child[d + q] = mid; /* [lo, mid] */
            if ((st = push(&s, child)) != CR_OK) goto done;
            child[d + q] = hi[q];
            child[q] = chk_bab_test_fault == CHK_BAB_FAULT_DROP_GAP ? mid + 0.25 * (hi[q] - lo[q]) : mid;
            if ((st = push(&s, child)) != CR_OK) goto done; /* [mid, hi] */
        } else {
            memcpy(child, cur, s.block * sizeof *child);
            memcpy(child + 2 * d, nzl, h * sizeof *child);
            memcpy(child + 2 * d + h, nzu, h * sizeof *child);
            int lj = 0;
            while (lj + 2 < L && j >= s.off[lj + 1]) lj++;
            const double at = splittable(net->act[lj]) ? 0 : smooth_point(nzl[j], nzu[j]); /* a double inside */
            child[wbase - 1] = splittable(net->act[lj]);
            child[2 * d + h + j] = at; /* z <= at */
            if (chk_bab_test_fault == CHK_BAB_FAULT_SAME_SIDE) {
                child[2 * d + h + j] = nzu[j];
                child[2 * d + j] = at;
            }
            if ((st = push(&s, child)) != CR_OK) goto done;
            child[2 * d + h + j] = nzu[j];
            child[2 * d + j] = at; /* z >= at */
            if ((st = push(&s, child)) != CR_OK) goto done;
        }
    }
    res->verdict = incomplete || s.n > 0 ? CR_VERDICT_UNKNOWN : CR_VERDICT_UNSAT;
done:
    if (res->verdict != CR_VERDICT_UNSAT && res->verdict != CR_VERDICT_SAT) res->margin = NAN;
    free(s.stack);
    free(mem);
    free(idx);
    return st;
}
