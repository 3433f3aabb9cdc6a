/*
 * cr_certify: falsification first, then bounds, then a verdict that is never wrong (the certify note, §2.8, §5.7).
 *
 *   1. For each part, the margin PGD (net/spec_attack.c) over the inward box; each candidate (an iterate that
 *      violates a clause by the net's own evaluation) goes to cr_witness_check, the independent plain-loop
 *      evaluator with its error bound (check_interval.c). sat only with a witness it accepts; a candidate within
 *      noise is rejected and the search goes on.
 *   2. Sound lower bounds of every row over the outward box by cr_net_bound: IBP first, then opt->bound.method on
 *      the clauses IBP left. A clause is refuted when some row has lb(c·o) > rhs (strictly); unsat iff all are.
 *      CROWN runs once: α-CROWN starts from its intermediates (as clamps) and its rows are intersected with CROWN's
 *      here; cr_certify_linf hands over what its cheap bounds computed (chk_certify_prior_run, certify_prior.h).
 *   3. With opt->bab, branch and bound (bab.c) on each part's clauses the bounds left, its root clamped by the last
 *      method's intermediates: sat with a checked witness, unsat when every subdomain is closed (proved_by "bab").
 *   4. Else unknown; timeout whenever opt->timeout_s has passed at a check point: every attack step, before each
 *      bound method, before each subdomain of branch and bound, and inside every bound (cr_bound_split.deadline:
 *      between intermediate layers and at every α/β iteration; an interrupted bound is discarded).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_certify.h"
#include "check_internal.h"
#include "core/fail.h"
#include "check_interval.h"
#include "bab.h"
#include "certify_prior.h"
#include "net/bound.h"
#include "net/spec_attack.h"

static double now_s(void) { return chk_now_s(); }

static cr_status widen(const cr_net *net, cr_net **net64, int *owned) {
    *owned = 0;
    if (net->dtype == CR_F64) {
        *net64 = (cr_net *)net;
        return CR_OK;
    }
    *owned = 1;
    return cr_net_convert(net, CR_F64, net64); /* float32 values are exact in double */
}

static int part_ok(const cr_spec_part *p, size_t d, size_t k) {
    if (p->d != d || p->k != k || p->n_clauses == 0 || !p->lo || !p->hi || !p->lo_in || !p->hi_in || !p->c ||
        !p->rhs || !p->clause || p->clause[0] != 0 || p->clause[p->n_clauses] != p->n_rows)
        return 0;
    for (size_t q = 0; q < p->n_clauses; q++)
        if (p->clause[q + 1] <= p->clause[q]) return 0; /* an empty clause: unsafe everywhere, not a spec */
    for (size_t j = 0; j < d; j++)
        if (!(p->lo[j] <= p->hi[j]) || !isfinite(p->lo[j]) || !isfinite(p->hi[j]) || !(p->lo_in[j] >= p->lo[j]) ||
            !(p->hi_in[j] <= p->hi[j])) /* lo_in > hi_in is allowed: no double in the real interval */
            return 0;
    for (size_t r = 0; r < p->n_rows; r++) {
        if (!isfinite(p->rhs[r]) || (p->rhs_in && !isfinite(p->rhs_in[r]))) return 0;
        for (size_t j = 0; j < k; j++)
            if (!isfinite(p->c[r * k + j])) return 0;
    }
    return 1;
}

/* An order row on probabilities: a e_i − a e_j with a > 0, i != j, rhs 0. */
static int order_row(size_t k, const double *c, double rhs) {
    size_t pos = k, neg = k;
    for (size_t j = 0; j < k; j++) {
        if (c[j] > 0) {
            if (pos < k) return 0;
            pos = j;
        } else if (c[j] < 0) {
            if (neg < k) return 0;
            neg = j;
        }
    }
    return rhs == 0 && pos < k && neg < k && c[pos] == -c[neg];
}

cr_status cr_witness_check(const cr_net *net, const cr_spec_part *p, const double *x, double *out, double *worst,
                           int *accepted) {
    if (accepted) *accepted = 0;
    if (!net || !p || !x || !accepted) return cr_fail(CR_ERR_ARG, "cr_witness_check: a NULL argument");
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    if (!part_ok(p, d, k)) return cr_fail(CR_ERR_ARG, "cr_witness_check: the spec part does not fit the net");
    cr_net *net64;
    int owned;
    cr_status st = widen(net, &net64, &owned);
    if (st != CR_OK) return st;
    double *buf = malloc((d + 2 * k) * sizeof *buf);
    if (!buf) {
        st = cr_fail(CR_ERR_NOMEM, "cr_witness_check: out of memory");
        goto done;
    }
    double *rad = buf, *om = buf + d, *orad = buf + d + k;
    for (size_t j = 0; j < d; j++) rad[j] = 0;
    st = chk_interval_forward64(net64, x, rad, om, orad);
    if (st != CR_OK) {
        cr_fail(st, "cr_witness_check: the net cannot be evaluated with an error bound at x (%s)",
                cr_status_string(st));
        goto done;
    }
    if (out) memcpy(out, om, k * sizeof *out);
    double best = INFINITY;
    for (size_t q = 0; q < p->n_clauses; q++) {
        double clause_ub = -INFINITY;
        for (size_t r = p->clause[q]; r < p->clause[q + 1]; r++) {
            double ub;
            chk_interval_row(k, p->c + r * k, p->rhs_in ? p->rhs_in[r] : p->rhs[r], om, orad, NULL, &ub);
            clause_ub = ub > clause_ub ? ub : clause_ub;
        }
        if (clause_ub < best) best = clause_ub;
    }
    for (size_t j = 0; j < d; j++) /* inside the inward box, or no witness */
        if (!(x[j] >= p->lo_in[j] && x[j] <= p->hi_in[j])) best = fabs(best) + 1; /* rejected */
    if (worst) *worst = best;
    *accepted = best < 0;
done:
    free(buf);
    if (owned) cr_net_free(net64);
    return st;
}

typedef struct {
    const cr_net *net64;
    const cr_spec_part *part;
    double deadline; /* 0: none */
    int timed_out, found;
    double worst;
    double *out; /* K */
} attack_ctx;

static int on_candidate(void *vctx, const double *x) {
    attack_ctx *c = vctx;
    if (!x) {
        if (c->deadline > 0 && now_s() > c->deadline) c->timed_out = 1;
        return c->timed_out;
    }
    double worst;
    int accepted = 0;
    if (cr_witness_check(c->net64, c->part, x, c->out, &worst, &accepted) == CR_OK && accepted) {
        c->found = 1;
        c->worst = worst;
        return 1;
    }
    return 0;
}

cr_status cr_certify(cr_ctx *cx, const cr_net *net, const cr_spec *spec, const cr_certify_options *opt_in,
                     cr_certify_result *res) {
    return chk_certify_prior_run(cx, net, spec, opt_in, res, NULL);
}

cr_status chk_certify_prior_run(cr_ctx *cx, const cr_net *net, const cr_spec *spec, const cr_certify_options *opt_in,
                                cr_certify_result *res, const chk_certify_prior *prior) {
    const double t0 = now_s();
    if (!net || !spec || !res || spec->n_parts == 0 || !spec->parts) return CR_FAIL(CR_ERR_ARG);
    cr_certify_options opt = opt_in ? *opt_in : (cr_certify_options){0};
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    for (size_t i = 0; i < spec->n_parts; i++) {
        const cr_spec_part *p = &spec->parts[i];
        if (!part_ok(p, d, k)) return CR_FAIL(CR_ERR_ARG);
        if (opt.outputs_are_probs) {
            if (net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG);
            for (size_t r = 0; r < p->n_rows; r++)
                if (!order_row(k, p->c + r * k, p->rhs[r])) return CR_FAIL(CR_ERR_ARG); /* a probability threshold */
        }
    }
    const double deadline = opt.timeout_s > 0 ? t0 + opt.timeout_s : 0;
    res->domains = 0;
    cr_net *net64;
    int owned;
    cr_status st = widen(net, &net64, &owned);
    if (st != CR_OK) return st;
    double *out = malloc((k + d) * sizeof *out), *xbest = out + k;
    size_t max_rows = 0;
    for (size_t i = 0; i < spec->n_parts; i++)
        max_rows = spec->parts[i].n_rows > max_rows ? spec->parts[i].n_rows : max_rows;
    double *lb = malloc(2 * max_rows * sizeof *lb), *c = malloc(max_rows * k * sizeof *c), *tg = lb + max_rows;
    size_t *idx = malloc(max_rows * sizeof *idx);
    char *refuted = malloc(max_rows + 1);
    /* the escalation's reuse: each row's CROWN bound, and the hidden intermediates of the last method (CROWN's, then
       α's), for α's clamps and branch and bound's root */
    size_t h = 0, off[CR_MAX_LAYERS];
    for (int l = 0; l + 1 < net->n_layers; l++) off[l] = h, h += net->dims[l + 1];
    double *crown_lb = malloc((max_rows + 4 * h + 1) * sizeof *crown_lb), *zi = NULL, *zo = NULL;
    cr_verdict verdict = CR_VERDICT_UNKNOWN;
    const char *proved_by = NULL;
    double margin = INFINITY;
    if (!out || !lb || !c || !idx || !refuted || !crown_lb) {
        st = cr_fail_nomem("cr_certify", 0);
        goto done;
    }
    zi = crown_lb + max_rows, zo = zi + 2 * h;

    /* 1. falsification */
    for (size_t i = 0; i < spec->n_parts && verdict == CR_VERDICT_UNKNOWN; i++) {
        const cr_spec_part *p = &spec->parts[i];
        int empty = 0; /* an inward box without a double: no witness can come from this part */
        for (size_t j = 0; j < d; j++) empty |= !(p->lo_in[j] <= p->hi_in[j]);
        if (empty) continue;
        attack_ctx ac = {.net64 = net64, .part = p, .deadline = deadline, .out = out};
        double best;
        int stopped;
        uint64_t seed = opt.seed ^ (0xa0761d6478bd642fULL * (uint64_t)(i + 1));
        st = cr_spec_attack_f64(net64, p, opt.attack_restarts, opt.attack_steps, seed, on_candidate, &ac, xbest,
                                &best, &stopped);
        if (st != CR_OK) goto done;
        if (ac.found) {
            verdict = CR_VERDICT_SAT;
            margin = ac.worst;
            proved_by = "attack";
            if (res->witness) memcpy(res->witness, xbest, d * sizeof *xbest);
            if (res->witness_out) memcpy(res->witness_out, out, k * sizeof *out);
        } else if (ac.timed_out) {
            verdict = CR_VERDICT_TIMEOUT;
        }
    }

    /* 2. bounds: IBP, then the chosen method on what IBP left */
    if (verdict == CR_VERDICT_UNKNOWN) {
        int all = 1;
        int used = 0; /* the strongest method that ran (index into methods) */
        int used_bab = 0;
        chk_bab_opts bab = {.cx = cx, .bound = opt.bound, .deadline = deadline, .split = opt.bab_split,
                            .max_domains = opt.bab_max_domains};
        if (bab.bound.method == CR_BOUND_IBP || bab.bound.method == CR_BOUND_CROWN_IBP)
            bab.bound.method = CR_BOUND_CROWN; /* subdomains by CROWN at least (the corners come from it) */
        if (bab.bound.method == CR_BOUND_ALPHA) { /* α on the spec rows only, 5 steps: more proofs per second */
            bab.bound.alpha_intermediate = -1;
            bab.bound.alpha_iters = 5;
        }
        if (bab.split == CR_BAB_SPLIT_AUTO) bab.split = d <= 10 ? CR_BAB_SPLIT_INPUT : CR_BAB_SPLIT_RELU;
        if (bab.max_domains == 0) bab.max_domains = deadline > 0 ? SIZE_MAX : 100000;
        for (size_t i = 0; i < spec->n_parts && all; i++) {
            const cr_spec_part *p = &spec->parts[i];
            memset(refuted, 0, p->n_clauses);
            double part_margin = INFINITY;
            cr_bound_method methods[3] = {CR_BOUND_IBP, opt.bound.method, CR_BOUND_ALPHA};
            int n_methods = opt.bound.method == CR_BOUND_IBP ? 1 : 2;
            if (opt.bound.method == CR_BOUND_ALPHA) methods[1] = CR_BOUND_CROWN, n_methods = 3; /* α last */
            int first = 0, have_crown = 0, have_z = 0;
            if (prior && i == 0) { /* cr_certify_linf's cheap bounds ran the first methods (the same calls) */
                first = prior->n_methods;
                memcpy(refuted, prior->refuted, p->n_clauses);
                part_margin = prior->margin;
                if (prior->used > used) used = prior->used;
                /* used == 1: the second method ran and bounded; only then are lb and the intermediates written
                   (an IBP-only run, or CROWN failing on non-finite intervals, leaves them unset) */
                if (prior->used == 1 && prior->n_methods == 2 && prior->method == CR_BOUND_CROWN) {
                    memcpy(crown_lb, prior->lb, p->n_rows * sizeof *crown_lb);
                    have_crown = 1;
                }
                if (prior->used == 1 && prior->zl && prior->zu && h) {
                    memcpy(zi, prior->zl, h * sizeof *zi);
                    memcpy(zi + h, prior->zu, h * sizeof *zi);
                    have_z = 1;
                }
            }
            for (int mi = first; mi < n_methods; mi++) {
                if (deadline > 0 && now_s() > deadline) {
                    verdict = CR_VERDICT_TIMEOUT;
                    all = 0;
                    break;
                }
                size_t m = 0; /* the rows of the clauses not yet refuted */
                for (size_t q = 0; q < p->n_clauses; q++)
                    if (!refuted[q])
                        for (size_t r = p->clause[q]; r < p->clause[q + 1]; r++) {
                            idx[m] = r;
                            tg[m] = p->rhs[r]; /* α stops optimising a row once it is proved */
                            memcpy(c + m * k, p->c + r * k, k * sizeof *c);
                            m++;
                        }
                if (m == 0) break;
                cr_bound_options bo = opt.bound;
                bo.method = methods[mi];
                /* bounds of the caller's net, not of net64: a float32 net's semantics (its leaky-ReLU slope is
                   the float nearest 0.01) are its own dtype's, which cr_net_bound widens exactly */
                cr_bound_split stop = {.target = tg, .deadline = deadline};
                /* CROWN once: α starts from CROWN's intermediates (clamps: sound on this box, so α's are never
                   looser), and its rows are intersected with CROWN's here instead of by a second CROWN run */
                const int alpha = bo.method == CR_BOUND_ALPHA, keep_z = bo.method != CR_BOUND_IBP && h;
                for (int l = 0; l + 1 < net->n_layers; l++) {
                    if (alpha && have_z) stop.zlo[l] = zi + off[l], stop.zhi[l] = zi + h + off[l];
                    if (keep_z) stop.zl_out[l] = zo + off[l], stop.zu_out[l] = zo + h + off[l];
                }
                stop.crown_known = alpha && have_crown;
                st = cr_net_bound_split(cx, net, p->lo, p->hi, m, c, &bo, &stop, lb, NULL);
                if (st == CR_OK && stop.timed_out) { /* interrupted at the deadline: no bound, nothing kept */
                    verdict = CR_VERDICT_TIMEOUT;
                    all = 0;
                    break;
                }
                if (st == CR_OK && stop.empty) st = CR_ERR_NONFINITE; /* cannot be (the clamps hold on the box) */
                if (st == CR_ERR_NONFINITE) { /* a bound overflowed: no proof from this method */
                    st = CR_OK;
                    continue;
                }
                if (st != CR_OK) goto done;
                if (mi > used) used = mi;
                if (keep_z) { /* this method's intermediates: the next one's clamps */
                    double *t = zi;
                    zi = zo, zo = t;
                    have_z = 1;
                }
                for (size_t a = 0; a < m; a++) {
                    if (bo.method == CR_BOUND_CROWN) crown_lb[idx[a]] = lb[a];
                    else if (stop.crown_known && crown_lb[idx[a]] > lb[a]) lb[a] = crown_lb[idx[a]];
                }
                if (bo.method == CR_BOUND_CROWN) have_crown = 1;
                for (size_t a = 0; a < m; a++) {
                    size_t r = idx[a], q = 0;
                    while (r >= p->clause[q + 1]) q++;
                    double gap = lb[a] - p->rhs[r];
                    if (gap > 0) { /* lb(c·o) > rhs: this clause cannot hold anywhere in the box */
                        if (!refuted[q]) part_margin = part_margin < gap ? part_margin : gap;
                        refuted[q] = 1;
                    }
                }
            }
            int part_all = 1;
            for (size_t q = 0; q < p->n_clauses; q++)
                if (!refuted[q]) part_all = 0;
            if (!part_all && opt.bab && verdict != CR_VERDICT_TIMEOUT) { /* 3. branch and bound */
                chk_bab_result br;
                st = chk_bab_part(net, p, refuted, &bab, have_z ? zi : NULL, have_z ? zi + h : NULL, xbest, out,
                                  &br); /* the caller's net, as above; the root clamped by the last intermediates */
                if (st != CR_OK) goto done;
                res->domains += br.domains;
                if (br.verdict == CR_VERDICT_UNSAT) {
                    part_all = 1;
                    used_bab = 1;
                    part_margin = part_margin < br.margin ? part_margin : br.margin;
                } else if (br.verdict == CR_VERDICT_SAT) {
                    verdict = CR_VERDICT_SAT;
                    margin = br.margin;
                    proved_by = "bab";
                    if (res->witness) memcpy(res->witness, xbest, d * sizeof *xbest);
                    if (res->witness_out) memcpy(res->witness_out, out, k * sizeof *out);
                } else if (br.verdict == CR_VERDICT_TIMEOUT) {
                    verdict = CR_VERDICT_TIMEOUT;
                }
            }
            if (!part_all) all = 0;
            margin = margin < part_margin ? margin : part_margin;
        }
        if (verdict == CR_VERDICT_SAT) {
            /* branch and bound found a checked witness */
        } else if (all) {
            verdict = CR_VERDICT_UNSAT;
            const cr_bound_method pm = used == 0                            ? CR_BOUND_IBP
                                       : used == 2                            ? CR_BOUND_ALPHA
                                       : opt.bound.method == CR_BOUND_ALPHA ? CR_BOUND_CROWN
                                                                              : opt.bound.method;
            proved_by = used_bab                  ? "bab"
                        : pm == CR_BOUND_IBP       ? "ibp"
                        : pm == CR_BOUND_CROWN_IBP ? "crown-ibp"
                        : pm == CR_BOUND_CROWN     ? "crown"
                                                   : "alpha";
        } else if (verdict != CR_VERDICT_TIMEOUT) {
            verdict = deadline > 0 && now_s() > deadline ? CR_VERDICT_TIMEOUT : CR_VERDICT_UNKNOWN;
            margin = NAN;
        }
    }
    res->verdict = verdict;
    res->best_margin = margin;
    res->proved_by = proved_by;
done:
    res->seconds = now_s() - t0;
    free(out);
    free(lb);
    free(c);
    free(idx);
    free(refuted);
    free(crown_lb);
    if (owned) cr_net_free(net64);
    return st;
}
