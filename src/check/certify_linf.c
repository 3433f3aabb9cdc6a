/*
 * Dataset mode's per-example work (the CLI's `certify --eps/--radius` and Python's Model.certify): the L∞ ball of one
 * labelled example, cheapest evidence first.
 *
 *   1. the centre: a misclassified example is its own counterexample (cr_witness_check, the independent evaluator);
 *   2. cheap bounds: IBP, then opt->bound.method (CROWN for a method beyond CROWN), on the spec's outward box, with
 *      cr_certify's rule (a clause is refuted when a row has lb(c·o) > rhs strictly);
 *   3. only then cr_certify: the margin attack, then the bounds from where step 2 ended (its IBP and CROWN are not
 *      run again: chk_certify_prior_run).
 *
 * The verdicts are cr_certify's: a proof excludes every witness, so an example proved in step 2 is one the attack
 * could not have broken, and the rest go through cr_certify with the same options and seed. Step 1 accepts only a
 * witness cr_certify would accept. The attack (the dominant cost) runs only on the examples not proved.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net_internal.h"
#include "core/fail.h"
#include "certify_prior.h"
#include "chainrule_certify.h"
#include "net/bound.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The cheap method after IBP: the requested one when it is a bound method this file knows to be cheap, else
   CROWN (a future optimised or branching method runs inside cr_certify, after the attack). */
static cr_bound_method cheap_method(cr_bound_method m) {
    return m == CR_BOUND_IBP || m == CR_BOUND_CROWN_IBP || m == CR_BOUND_CROWN ? m : CR_BOUND_CROWN;
}

/* 1 when the bounds refute every clause of the one-part spec (margin: the smallest refuting gap), 0 when not,
   -1 on an error (*st), -2 when the deadline (cr_bound_now_s() seconds, 0: none) passed inside a bound. pr (or NULL; its refuted, lb and zl/zu buffers the caller's) receives what they computed,
   for cr_certify (certify_prior.h). */
static int bounds_prove(cr_ctx *cx, const cr_net *net, const cr_spec_part *p, const cr_bound_options *bo_in, int cheap,
                        double deadline, double *margin, const char **by, cr_status *st, chk_certify_prior *pr) {
    const size_t k = p->k, m = p->n_rows;
    double *lb = malloc(2 * m * sizeof *lb), *c = malloc(m * k * sizeof *c), *tg = lb + m;
    char *refuted = pr ? pr->refuted : calloc(p->n_clauses, 1);
    if (pr) {
        memset(refuted, 0, p->n_clauses);
        for (size_t r = 0; r < m; r++) pr->lb[r] = NAN;
        pr->used = 0;
    }
    size_t *idx = malloc(m * sizeof *idx);
    int proved = -1;
    *st = CR_ERR_NOMEM;
    if (!lb || !c || !refuted || !idx) {
        *st = cr_fail_nomem("cr_certify_linf: the bounds", 0);
        goto done;
    }
    *st = CR_OK;
    double gap_min = INFINITY;
    const cr_bound_method methods[2] = {CR_BOUND_IBP, cheap ? cheap_method(bo_in->method) : bo_in->method};
    const int n_methods = methods[1] == CR_BOUND_IBP ? 1 : 2;
    proved = 0;
    for (int mi = 0; mi < n_methods && !proved; mi++) {
        size_t rows = 0;
        for (size_t q = 0; q < p->n_clauses; q++)
            if (!refuted[q])
                for (size_t r = p->clause[q]; r < p->clause[q + 1]; r++) {
                    idx[rows] = r;
                    tg[rows] = p->rhs[r]; /* α stops optimising a row once it is proved */
                    memcpy(c + rows * k, p->c + r * k, k * sizeof *c);
                    rows++;
                }
        cr_bound_options bo = *bo_in;
        bo.method = methods[mi];
        cr_bound_split stop = {.target = tg, .deadline = deadline};
        size_t h = 0;
        for (int l = 0; pr && pr->zl && mi == 1 && l + 1 < net->n_layers; l++) {
            stop.zl_out[l] = pr->zl + h, stop.zu_out[l] = pr->zu + h;
            h += net->dims[l + 1];
        }
        cr_status s = cr_net_bound_split(cx, net, p->lo, p->hi, rows, c, &bo, &stop, lb, NULL);
        if (s == CR_ERR_NONFINITE) continue; /* no proof from this method */
        if (s != CR_OK) {
            *st = s;
            proved = -1;
            goto done;
        }
        if (stop.timed_out) { /* a void bound: nothing of it is used or handed over */
            proved = -2;
            goto done;
        }
        if (pr) {
            pr->used = mi;
            for (size_t a = 0; mi == 1 && a < rows; a++) pr->lb[idx[a]] = lb[a];
        }
        for (size_t a = 0; a < rows; a++) {
            size_t r = idx[a], q = 0;
            while (r >= p->clause[q + 1]) q++;
            const double gap = lb[a] - p->rhs[r];
            if (gap > 0) {
                if (!refuted[q]) gap_min = gap < gap_min ? gap : gap_min;
                refuted[q] = 1;
            }
        }
        proved = 1;
        for (size_t q = 0; q < p->n_clauses; q++) proved &= refuted[q];
        if (proved)
            *by = mi == 0                              ? "ibp"
                  : methods[1] == CR_BOUND_CROWN_IBP   ? "crown-ibp"
                  : methods[1] == CR_BOUND_CROWN       ? "crown"
                                                       : "alpha";
    }
    *margin = gap_min;
    if (pr) {
        pr->n_methods = n_methods;
        pr->method = methods[1];
        pr->margin = gap_min;
    }
done:
    free(lb);
    free(c);
    if (!pr) free(refuted);
    free(idx);
    return proved;
}

cr_status cr_certify_linf(cr_ctx *cx, const cr_net *net, const double *x, double eps, double lo, double hi, cr_label label,
                          const cr_certify_options *opt_in, cr_certify_result *res) {
    const double t0 = now_s();
    if (!net || !x || !res) return CR_FAIL(CR_ERR_ARG);
    const cr_certify_options opt = opt_in ? *opt_in : (cr_certify_options){0};
    if (opt.outputs_are_probs) return CR_FAIL(CR_ERR_ARG); /* dataset mode reads rows on o */
    /* one deadline for the whole example: the cheap bounds, the attack and the bounds after it */
    const double deadline = opt.timeout_s > 0 ? cr_bound_now_s() + opt.timeout_s : 0;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    cr_spec spec;
    cr_status st = cr_spec_linf(d, k, x, eps, lo, hi, label, &spec);
    if (st != CR_OK) return st;
    const cr_spec_part *p = &spec.parts[0];
    double *out = malloc(k * sizeof *out), worst, *pbuf = NULL;
    chk_certify_prior prior;
    int have_prior = 0;
    if (!out) {
        st = cr_fail_nomem("cr_certify_linf", k * sizeof *out);
        goto done;
    }
    /* 1. the centre (inside the inward box: x lies in [x - eps, x + eps] ∩ [lo, hi] exactly) */
    int accepted = 0;
    const int centre = cr_witness_check(net, p, x, out, &worst, &accepted) != CR_OK ? -1 : accepted;
    if (centre == 1) {
        res->verdict = CR_VERDICT_SAT;
        res->best_margin = worst;
        res->proved_by = "centre";
        if (res->witness) memcpy(res->witness, x, d * sizeof *x);
        if (res->witness_out) memcpy(res->witness_out, out, k * sizeof *out);
        goto done;
    }
    /* 2. cheap bounds (a net the evaluator cannot bound, centre == -1, goes to cr_certify for its error); what they
       computed goes to cr_certify, which then runs them no more (CROWN once) */
    size_t h = 0;
    for (int l = 0; l + 1 < net->n_layers; l++) h += net->dims[l + 1];
    pbuf = malloc((p->n_rows + 2 * h) * sizeof *pbuf + p->n_clauses + 1);
    if (!pbuf) {
        st = cr_fail_nomem("cr_certify_linf", (p->n_rows + 2 * h) * sizeof *pbuf + p->n_clauses + 1);
        goto done;
    }
    prior = (chk_certify_prior){.lb = pbuf, .zl = h ? pbuf + p->n_rows : NULL, .zu = h ? pbuf + p->n_rows + h : NULL,
                                .refuted = (char *)(pbuf + p->n_rows + 2 * h)};
    if (centre == 0) {
        double margin;
        const char *by = NULL;
        const int proved = bounds_prove(cx, net, p, &opt.bound, 1, deadline, &margin, &by, &st, &prior);
        have_prior = proved == 0;
        if (proved == -2) {
            res->verdict = CR_VERDICT_TIMEOUT;
            res->proved_by = NULL;
            res->domains = 0;
            goto done;
        }
        if (proved < 0) {
            if (st == CR_ERR_ARG) st = CR_OK; /* e.g. no relaxation: cr_certify answers as it always did */
            else goto done;
        } else if (proved) {
            res->verdict = CR_VERDICT_UNSAT;
            res->best_margin = margin;
            res->proved_by = by;
            goto done;
        }
    }
    /* 3. the attack, then the bounds (from where step 2 ended), within what is left of the one timeout */
    cr_certify_options rest = opt;
    if (deadline > 0) {
        rest.timeout_s = deadline - cr_bound_now_s();
        if (!(rest.timeout_s > 0)) {
            res->verdict = CR_VERDICT_TIMEOUT;
            res->proved_by = NULL;
            res->domains = 0;
            goto done;
        }
    }
    st = chk_certify_prior_run(cx, net, &spec, &rest, res, have_prior ? &prior : NULL);
done:
    free(pbuf);
    free(out);
    cr_spec_free(&spec);
    res->seconds = now_s() - t0;
    return st;
}

cr_status cr_certify_radius_linf(cr_ctx *cx, const cr_net *net, const double *x, double lo, double hi, cr_label label,
                                 double eps_max, double tol, const cr_certify_options *opt_in, double *certified,
                                 double *attacked) {
    if (!net || !x || !certified || !attacked || !(eps_max > 0) || !isfinite(eps_max) || !(tol > 0)) return CR_FAIL(CR_ERR_ARG);
    cr_certify_options opt = opt_in ? *opt_in : (cr_certify_options){0};
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    cr_certify_result r = {0};
    /* ε = 0: a misclassified example is broken at once, nothing proved */
    cr_status st = cr_certify_linf(cx, net, x, 0, lo, hi, label, &opt, &r);
    if (st != CR_OK) return st;
    if (r.verdict == CR_VERDICT_SAT) {
        *certified = NAN;
        *attacked = 0;
        return CR_OK;
    }
    /* the proof bracket: proved at c (NaN when not even at 0), not proved at u */
    double c = r.verdict == CR_VERDICT_UNSAT ? 0 : NAN, u = eps_max;
    if (!isnan(c)) {
        cr_spec spec;
        for (int first = 1; first || u - c > tol; first = 0) {
            const double m = first ? eps_max : 0.5 * (c + u);
            if ((st = cr_spec_linf(d, k, x, m, lo, hi, label, &spec)) != CR_OK) return st;
            double margin;
            const char *by = NULL;
            const int proved = bounds_prove(cx, net, &spec.parts[0], &opt.bound, 0, 0, &margin, &by, &st, NULL);
            cr_spec_free(&spec);
            if (proved < 0 && st != CR_ERR_ARG) return st;
            if (proved > 0) c = m;
            else u = m;
            if (first && proved > 0) break; /* proved on the whole range */
        }
    }
    /* the attack bracket: not broken at a (proved at c: nothing breaks it there), broken at b */
    double a = isnan(c) ? 0 : c, b = eps_max;
    for (int first = 1; first || b - a > tol; first = 0) {
        const double m = first ? eps_max : 0.5 * (a + b);
        if ((st = cr_certify_linf(cx, net, x, m, lo, hi, label, &opt, &r)) != CR_OK) return st;
        if (r.verdict == CR_VERDICT_SAT) b = m;
        else a = m;
        if (first && r.verdict != CR_VERDICT_SAT) { /* not broken on the whole range */
            b = INFINITY;
            break;
        }
    }
    *certified = c;
    *attacked = b;
    return CR_OK;
}
