/*
 * cr_net_bound (include/chainrule_certify.h): sound bounds of rows C·o of a
 * network's output over a box of raw inputs, by IBP (interval bound
 * propagation). docs/certification.md states the soundness argument; this
 * file implements it:
 *
 *   - the network is its weights read as reals (a float32 net is widened to
 *     float64 exactly, cr_net_convert), evaluated exactly;
 *   - link 0 (the input standardisation) and BatchNorm links are monotone per
 *     feature: the image of [l, u] is [min, max] of the two ends, each end
 *     evaluated in the form the file states and widened by a bound on its
 *     rounding (link_interval);
 *   - a linear layer maps [m − ρ, m + ρ] to m' = mW + b, ρ' = ρ|W|, widened
 *     by the slack γ_{n+1}((|m| + ρ)|W| + |b|) (Higham (3.13), any summation
 *     order) times 1 + 4(n + 8)ε for the slack's own rounding, plus the
 *     underflow term; the end points are then rounded outward (one ulp);
 *   - monotone activations map [l, u] to [a(l), a(u)], widened by 32ε|a| + η
 *     (libm's exp and tanh are within a few ulp, glibc manual §19.7): the row's
 *     relaxation (ops/relax.h) gives these bounds; an activation without one
 *     (gelu, silu) is refused with CR_ERR_ARG;
 *   - margins are bounded directly: without an output activation or a link
 *     after the last layer, C is multiplied into the last layer (W' = W Cᵀ,
 *     b' = b Cᵀ, with the slack of that product too).
 * Every bound is finite or the call returns CR_ERR_NONFINITE.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_typed.h"
#include "net_internal.h"
#include "core/fail.h"
#include "chainrule_certify.h"
#include "net/bound.h"
#include "ops/act_table.h"
#include "ops/relax.h"

#define EPS (DBL_EPSILON / 2)       /* unit roundoff 2^-53 */
#define ETA (DBL_TRUE_MIN)          /* underflow: 2^-1074 */

double cr_bound_gamma(size_t n) {
    const double ne = (double)n * EPS;
    return ne / (1 - ne);
}

/* The factor 1 + 4(n + 8)ε for a slack sum's own rounding (its n terms and the γ). */
static double slack_factor(size_t n) { return 1 + 4 * ((double)n + 8) * EPS; }

static double down(const cr_bound_ctx *b, double x) { return b->no_slack ? x : nextafter(x, -INFINITY); }
static double up(const cr_bound_ctx *b, double x) { return b->no_slack ? x : nextafter(x, INFINITY); }

/* z = link(x) in the form the file states, and a bound e on |z − z_exact|. */
static double link_at(const cr_bound_link *k, size_t j, double x, double *e) {
    double z, t3;
    switch (k->form) {
    case CR_AFFINE_SUB_DIV:
        z = (x - k->p[j]) / k->q[j];
        *e = 4 * EPS * fabs(z) + 2 * ETA;
        return z;
    case CR_AFFINE_SUB_MUL:
        z = (x - k->p[j]) * k->q[j];
        *e = 4 * EPS * fabs(z) + 2 * ETA;
        return z;
    case CR_AFFINE_MUL_ADD:
        t3 = x * k->p[j];
        z = t3 + k->q[j];
        *e = 4 * EPS * (fabs(t3) + fabs(z)) + 2 * ETA;
        return z;
    case CR_AFFINE_BATCHNORM:
        t3 = (x - k->p[j]) / sqrt(k->q[j] + k->eps) * k->s[j];
        z = t3 + k->t[j];
        *e = 16 * EPS * fabs(t3) + 4 * EPS * fabs(z) + 4 * ETA;
        return z;
    default:
        *e = 0;
        return x;
    }
}

void cr_bound_link_interval(const cr_bound_ctx *b, const cr_bound_link *k, size_t d, double *l,
                            double *u) {
    if (k->form == CR_AFFINE_NONE) return;
    for (size_t j = 0; j < d; j++) {
        double el, eu;
        const double zl = link_at(k, j, l[j], &el), zu = link_at(k, j, u[j], &eu);
        if (b->no_slack) el = eu = 0;
        const double lo1 = down(b, zl - el), lo2 = down(b, zu - eu);
        const double hi1 = up(b, zl + el), hi2 = up(b, zu + eu);
        l[j] = lo1 < lo2 ? lo1 : lo2;
        u[j] = hi1 > hi2 ? hi1 : hi2;
    }
}

/* Lower and upper bounds of the exact a(x) (the row's relaxation, ops/relax.h: libm's
   error covered). */
double cr_bound_act_lo(const cr_bound_ctx *b, cr_activation act, double x) {
    return cr_act_running(act)->relax->lo(&b->mode, x);
}

double cr_bound_act_hi(const cr_bound_ctx *b, cr_activation act, double x) {
    return cr_act_running(act)->relax->hi(&b->mode, x);
}

int cr_bound_act_supported(cr_activation act) {
    const cr_act_entry *e = cr_act_running(act);
    return e && e->relax;
}

int cr_activation_has_relaxation(cr_activation act) {
    return (unsigned)act < CR_ACT_COUNT && cr_bound_act_supported(act);
}

/* One linear layer in interval form: [l, u] (din) -> [lo, hi] (dout) of h W + b,
   with W din x dout, b dout (b may be NULL: zero). */
void cr_bound_ibp_linear(const cr_bound_ctx *b, size_t din, size_t dout, const double *w,
                         const double *bias, const double *l, const double *u, double *lo,
                         double *hi, double *scratch /* 2 din */) {
    double *m = scratch, *rho = scratch + din;
    for (size_t i = 0; i < din; i++) {
        m[i] = 0.5 * l[i] + 0.5 * u[i];
        const double a = u[i] - m[i], c = m[i] - l[i];
        rho[i] = up(b, a > c ? a : c);
    }
    const double g = cr_bound_gamma(din + 1) * slack_factor(din);
    for (size_t j = 0; j < dout; j++) {
        double mj = bias ? bias[j] : 0, rj = 0, sj = bias ? fabs(bias[j]) : 0;
        for (size_t i = 0; i < din; i++) {
            const double wij = w[i * dout + j];
            mj += m[i] * wij;
            rj += rho[i] * fabs(wij);
            sj += (fabs(m[i]) + rho[i]) * fabs(wij);
        }
        const double s = b->no_slack ? 0 : g * sj + (double)(2 * din + 2) * ETA;
        lo[j] = down(b, down(b, mj - rj) - s);
        hi[j] = up(b, up(b, mj + rj) + s);
    }
}

/* Rows C·o of an interval [ol, oh] of o (K): lb_i = Σ_k min(C_ik ol_k, C_ik oh_k), with slack. */
void cr_bound_rows_of_interval(const cr_bound_ctx *b, size_t m, size_t k, const double *c,
                               const double *ol, const double *oh, double *lb, double *ub) {
    const double g = cr_bound_gamma(k) * slack_factor(k);
    for (size_t i = 0; i < m; i++) {
        double lo = 0, hi = 0, s = 0;
        for (size_t q = 0; q < k; q++) {
            const double cq = c[i * k + q];
            lo += cq >= 0 ? cq * ol[q] : cq * oh[q];
            hi += cq >= 0 ? cq * oh[q] : cq * ol[q];
            s += fabs(cq) * fmax(fabs(ol[q]), fabs(oh[q]));
        }
        const double sl = b->no_slack ? 0 : g * s + (double)(2 * k) * ETA;
        lb[i] = down(b, lo - sl);
        ub[i] = up(b, hi + sl);
    }
}

cr_status cr_bound_prepare(const cr_net *net, const double *lo, const double *hi, size_t m,
                           const double *c, const cr_bound_options *opt, cr_bound_ctx *b) {
    memset(b, 0, sizeof *b);
    if (!net || !lo || !hi || !c || m == 0) return CR_FAIL(CR_ERR_ARG);
    const cr_bound_method method = opt ? opt->method : CR_BOUND_IBP;
    if (method != CR_BOUND_IBP && method != CR_BOUND_CROWN_IBP && method != CR_BOUND_CROWN &&
        method != CR_BOUND_ALPHA)
        return CR_FAIL(CR_ERR_ARG);
    const int L = net->n_layers;
    for (int l = 0; l <= L - 1; l++) {
        const cr_activation act = l + 1 < L ? net->act[l] : net->out_act;
        if ((l + 1 < L || net->has_out_act) && !cr_bound_act_supported(act))
            return cr_fail(CR_ERR_ARG, "cr_net_bound: layer %d's activation %s has no relaxation yet: "
                           "its output cannot be bounded", l + 1, cr_activation_name(act));
    }
    const size_t d = net->dims[0], k = net->dims[L];
    for (size_t j = 0; j < d; j++) {
        if (!isfinite(lo[j]) || !isfinite(hi[j])) return CR_FAIL(CR_ERR_NONFINITE);
        if (lo[j] > hi[j]) return CR_FAIL(CR_ERR_ARG);
    }
    for (size_t i = 0; i < m * k; i++)
        if (!isfinite(c[i])) return CR_FAIL(CR_ERR_NONFINITE);
    b->no_slack = opt ? opt->no_slack : 0;
    b->mode = (cr_relax_mode){b->no_slack, net->dtype, 0};
    b->no_intersect = opt ? opt->no_intersect : 0;
    b->method = method;
    if (opt) b->opt = *opt;
    cr_status st;
    if (net->dtype == CR_F64) {
        b->net = net;
    } else {
        st = cr_net_convert(net, CR_F64, &b->owned);
        if (st != CR_OK) return st;
        b->net = b->owned;
    }
    size_t total = 0;
    for (int l = 0; l <= L; l++) total += net->dims[l];
    b->maxdim = 0;
    for (int l = 0; l <= L; l++) b->maxdim = net->dims[l] > b->maxdim ? net->dims[l] : b->maxdim;
    /* bounds of z_0 (the link's output, what layer 0 reads) and of every z_l (the
       activation's input), then 4 vectors of links' p, q, s, t per link */
    size_t link_total = 0;
    for (int l = 0; l <= L; l++)
        if (net->link_form[l] != CR_AFFINE_NONE) link_total += 4 * net->dims[l];
    b->mem = malloc((2 * total + link_total) * sizeof(double));
    if (!b->mem) {
        cr_bound_release(b);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    double *p = b->mem;
    for (int l = 0; l <= L; l++) {
        b->zl[l] = p;
        b->zu[l] = p + net->dims[l];
        p += 2 * net->dims[l];
    }
    for (int l = 0; l <= L; l++) {
        cr_bound_link *k2 = &b->link[l];
        k2->form = net->link_form[l];
        if (k2->form == CR_AFFINE_NONE) continue;
        const size_t w = net->dims[l];
        k2->p = p;
        k2->q = p + w;
        k2->s = p + 2 * w;
        k2->t = p + 3 * w;
        p += 4 * w;
        st = cr_net_get_affine(net, l, &k2->form, (double *)k2->p, (double *)k2->q,
                               (double *)k2->s, (double *)k2->t, &k2->eps);
        if (st != CR_OK) {
            cr_bound_release(b);
            return st;
        }
    }
    b->xlo = lo;
    b->xhi = hi;
    /* z_0 = link_0([lo, hi]) */
    memcpy(b->zl[0], lo, d * sizeof(double));
    memcpy(b->zu[0], hi, d * sizeof(double));
    cr_bound_link_interval(b, &b->link[0], d, b->zl[0], b->zu[0]);
    return CR_OK;
}

void cr_bound_release(cr_bound_ctx *b) {
    free(b->mem);
    cr_net_free(b->owned);
    b->mem = NULL;
    b->owned = NULL;
}

const double *cr_bound_w(const cr_bound_ctx *b, int l) {
    return (const double *)b->net->params + b->net->w_offset[l];
}
const double *cr_bound_b(const cr_bound_ctx *b, int l) {
    return (const double *)b->net->params + b->net->b_offset[l];
}

int cr_bound_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

/* IBP through layers 0 .. upto (inclusive): zl/zu[l + 1] hold the bounds of z_l
   (after link l + 1, the activation's input), for l ≤ upto. */
cr_status cr_bound_ibp_layers(cr_bound_ctx *b, int upto) {
    const cr_net *net = b->net;
    double *scratch = malloc(4 * b->maxdim * sizeof(double));
    if (!scratch) return CR_FAIL(CR_ERR_NOMEM);
    double *hl = scratch + 2 * b->maxdim, *hu = hl + b->maxdim;
    for (int l = 0; l <= upto; l++) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        if (l == 0) {
            memcpy(hl, b->zl[0], din * sizeof(double));
            memcpy(hu, b->zu[0], din * sizeof(double));
        } else {
            cr_activation act = net->act[l - 1];
            for (size_t i = 0; i < din; i++) {
                hl[i] = cr_bound_act_lo(b, act, b->zl[l][i]);
                hu[i] = cr_bound_act_hi(b, act, b->zu[l][i]);
            }
        }
        cr_bound_ibp_linear(b, din, dout, cr_bound_w(b, l), cr_bound_b(b, l), hl, hu, b->zl[l + 1],
                            b->zu[l + 1], scratch);
        cr_bound_link_interval(b, &b->link[l + 1], dout, b->zl[l + 1], b->zu[l + 1]);
        if (!cr_bound_finite(b->zl[l + 1], dout) || !cr_bound_finite(b->zu[l + 1], dout)) {
            free(scratch);
            return CR_FAIL(CR_ERR_NONFINITE);
        }
        if (cr_bound_clamp(b, l)) break; /* an empty subdomain: nothing further to bound */
    }
    free(scratch);
    return CR_OK;
}

/* The last step of IBP: rows C·o from the bounds of h_{L−2} (or z_0 for one layer). */
static cr_status ibp_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub) {
    const cr_net *net = b->net;
    const int L = net->n_layers;
    const size_t din = net->dims[L - 1], k = net->dims[L];
    cr_status st = CR_OK;
    if (net->has_out_act || b->link[L].form != CR_AFFINE_NONE) {
        /* o's interval, then the rows by sign */
        st = cr_bound_ibp_layers(b, L - 1);
        if (st != CR_OK || (b->split && b->split->empty)) return st;
        double *ol = malloc(2 * k * sizeof(double));
        if (!ol) return CR_FAIL(CR_ERR_NOMEM);
        double *oh = ol + k;
        for (size_t q = 0; q < k; q++) {
            ol[q] = net->has_out_act ? cr_bound_act_lo(b, net->out_act, b->zl[L][q]) : b->zl[L][q];
            oh[q] = net->has_out_act ? cr_bound_act_hi(b, net->out_act, b->zu[L][q]) : b->zu[L][q];
        }
        cr_bound_rows_of_interval(b, m, k, c, ol, oh, lb, ub);
        free(ol);
        return st;
    }
    if (L > 1) {
        st = cr_bound_ibp_layers(b, L - 2);
        if (st != CR_OK || (b->split && b->split->empty)) return st;
    }
    /* last-layer elision: W' = W Cᵀ (din x m), b' = b Cᵀ; the rounding of W' and b'
       charged as γ_K Σ_k |C_ik| (M |W|_{:,k} + |b_k|), M = max(|hl|, |hu|) */
    const double *w = cr_bound_w(b, L - 1), *bias = cr_bound_b(b, L - 1);
    double *wp = malloc((din * m + m + 4 * b->maxdim + 2 * din + k) * sizeof(double));
    if (!wp) return CR_FAIL(CR_ERR_NOMEM);
    double *bp = wp + din * m, *scratch = bp + m, *hl = scratch + 2 * b->maxdim, *hu = hl + din,
           *v = hu + din;
    for (size_t i = 0; i < din; i++) {
        hl[i] = L > 1 ? cr_bound_act_lo(b, net->act[L - 2], b->zl[L - 1][i]) : b->zl[0][i];
        hu[i] = L > 1 ? cr_bound_act_hi(b, net->act[L - 2], b->zu[L - 1][i]) : b->zu[0][i];
    }
    for (size_t i = 0; i < din; i++)
        for (size_t r = 0; r < m; r++) {
            double s = 0;
            for (size_t q = 0; q < k; q++) s += w[i * k + q] * c[r * k + q];
            wp[i * m + r] = s;
        }
    for (size_t r = 0; r < m; r++) {
        double s = 0;
        for (size_t q = 0; q < k; q++) s += bias[q] * c[r * k + q];
        bp[r] = s;
    }
    for (size_t q = 0; q < k; q++) {
        double s = fabs(bias[q]);
        for (size_t i = 0; i < din; i++) s += fmax(fabs(hl[i]), fabs(hu[i])) * fabs(w[i * k + q]);
        v[q] = s;
    }
    cr_bound_ibp_linear(b, din, m, wp, bp, hl, hu, lb, ub, scratch);
    if (!b->no_slack) {
        const double g = cr_bound_gamma(k) * slack_factor(din + k) * slack_factor(k);
        for (size_t r = 0; r < m; r++) {
            double s = 0;
            for (size_t q = 0; q < k; q++) s += fabs(c[r * k + q]) * v[q];
            s = g * s + (double)(2 * k * (din + 1)) * ETA;
            lb[r] = down(b, lb[r] - s);
            ub[r] = up(b, ub[r] + s);
        }
    }
    free(wp);
    return CR_OK;
}

double cr_bound_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cr_bound_late(cr_bound_ctx *b) {
    if (b->timed_out) return 1;
    if (b->deadline > 0 && cr_bound_now_s() > b->deadline) b->timed_out = 1;
    return b->timed_out;
}

int cr_bound_clamp(cr_bound_ctx *b, int l) {
    cr_bound_split *sp = b->split;
    if (!sp || l + 1 >= b->net->n_layers) return 0;
    const size_t w = b->net->dims[l + 1];
    double *zl = b->zl[l + 1], *zu = b->zu[l + 1];
    const double *cl = sp->zlo[l], *cu = sp->zhi[l];
    for (size_t j = 0; j < w; j++) {
        if (cl && cl[j] > zl[j]) zl[j] = cl[j];
        if (cu && cu[j] < zu[j]) zu[j] = cu[j];
        if (zl[j] > zu[j]) sp->empty = 1;
    }
    return sp->empty;
}

cr_status cr_net_bound(cr_ctx *cx, const cr_net *net, const double *lo, const double *hi, size_t m,
                       const double *c, const cr_bound_options *opt, double *lb, double *ub) {
    return cr_net_bound_split(cx, net, lo, hi, m, c, opt, NULL, lb, ub);
}

cr_status cr_net_bound_split(cr_ctx *cx, const cr_net *net, const double *lo, const double *hi, size_t m,
                             const double *c, const cr_bound_options *opt, cr_bound_split *split, double *lb,
                             double *ub) {
    cr_bound_ctx b;
    cr_status st = cr_bound_prepare(net, lo, hi, m, c, opt, &b);
    if (st != CR_OK) return st;
    b.cx = cx;
    b.split = split;
    if (split) split->empty = 0, split->timed_out = 0;
    b.deadline = split ? split->deadline : 0;
    b.n_warm = split && (split->warm_in || split->warm_out) && split->lower_only ? m : 0;
    b.target = split ? split->target : NULL;
    b.n_target = b.target ? m : 0;
    b.no_ub = ub == NULL;
    double *tmp = malloc(4 * m * sizeof(double));
    if (!tmp) {
        cr_bound_release(&b);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    double *l = tmp, *u = tmp + m, *cl = tmp + 2 * m, *cu = tmp + 3 * m;
    st = ibp_rows(&b, m, c, l, u);
    if (split && split->empty) goto out; /* no point: no rows to bound */
    if (st == CR_OK && b.method != CR_BOUND_IBP && !cr_bound_late(&b)) {
        /* CROWN's rows, intersected with IBP's: both are sound, and CROWN alone can be
           looser on a row (a lower line α = 1 of a unit whose coefficient is negative) */
        st = cr_bound_crown_rows(&b, m, c, cl, cu);
        if (st == CR_OK && b.timed_out) goto late;
        if (split && split->empty) goto out;
        if (b.no_intersect) {
            memcpy(l, cl, m * sizeof(double));
            memcpy(u, cu, m * sizeof(double));
        }
        for (size_t i = 0; st == CR_OK && i < m; i++) {
            if (cl[i] > l[i]) l[i] = cl[i];
            if (cu[i] < u[i]) u[i] = cu[i];
        }
        if (st == CR_OK && b.method == CR_BOUND_ALPHA && b.opt.alpha_intermediate >= 0 && !b.no_intersect &&
            !b.alpha_visit && !(split && split->crown_known)) {
            /* α-CROWN's optimised intermediates relax the units differently from CROWN's, which
               can (rarely) loosen a row: intersect with CROWN's rows too (both sound) */
            cr_bound_options co = b.opt;
            co.method = CR_BOUND_CROWN;
            cr_bound_ctx b2;
            st = cr_bound_prepare(net, lo, hi, m, c, &co, &b2);
            b2.cx = cx;
            b2.no_ub = b.no_ub;
            b2.deadline = b.deadline;
            /* this pass only tightens: when the deadline comes before or inside it, α's rows (complete and
               sound, their corners and scores written) stand alone and the call is not void */
            int ran = 0;
            if (st == CR_OK && !(b.deadline > 0 && cr_bound_now_s() > b.deadline)) {
                st = cr_bound_crown_rows(&b2, m, c, cl, cu);
                ran = !b2.timed_out;
            }
            cr_bound_release(&b2);
            for (size_t i = 0; st == CR_OK && ran && i < m; i++) {
                if (cl[i] > l[i]) l[i] = cl[i];
                if (cu[i] < u[i]) u[i] = cu[i];
            }
        }
    }
    if (st == CR_OK && b.timed_out) goto late;
    if (st == CR_OK && (!cr_bound_finite(l, m) || (ub && !cr_bound_finite(u, m)))) st = CR_ERR_NONFINITE;
    if (st == CR_OK) {
        if (lb) memcpy(lb, l, m * sizeof(double));
        if (ub) memcpy(ub, u, m * sizeof(double));
    }
    for (int k = 0; st == CR_OK && split && k + 1 < net->n_layers; k++) {
        const size_t w = net->dims[k + 1] * sizeof(double);
        if (split->zl_out[k]) memcpy(split->zl_out[k], b.zl[k + 1], w);
        if (split->zu_out[k]) memcpy(split->zu_out[k], b.zu[k + 1], w);
    }
    goto out;
late: /* the deadline passed inside: no bound (bound.h), only the trivial one, never a verdict's */
    for (size_t i = 0; i < m; i++) {
        if (lb) lb[i] = -INFINITY;
        if (ub) ub[i] = INFINITY;
    }
    if (split) split->timed_out = 1;
out:
    free(tmp);
    cr_bound_release(&b);
    return st;
}
