/*
 * The margin attack of certify (docs: the certify note, §2.8): a PGD over a box, not an ε-ball, on a margin, not a
 * loss. For clause q (rows c·o <= rhs), m_q(x) = max over its rows of c·o − rhs; the clause is violated where
 * m_q(x) <= 0. Each (restart, clause) pair is one row of a batch: forward, the cotangent c of its worst row on o,
 * the net's VJP to ∂m_q/∂x, a sign step and the clip. The iterate lives in the unit cube u (x = lo + u ∘ (hi − lo))
 * so one step size serves boxes of any widths: the step is take_step's L∞ step on ∂m/∂u = ∂m/∂x ∘ (hi − lo).
 */
#define CR_REAL_F64
#include "core/fail.h"
#include "chainrule_typed.h"
#include "ops/real.h"

#include <string.h>

#include "input_util.tmpl.h"
#include "spec_attack.h"

enum { SPEC_ATTACK_ROWS = 256 }; /* batch rows per pass */

static void map_point(size_t d, const double *lo, const double *hi, const double *u, double *x) {
    for (size_t q = 0; q < d; q++) {
        double v = lo[q] + u[q] * (hi[q] - lo[q]);
        x[q] = v < lo[q] ? lo[q] : v > hi[q] ? hi[q] : v; /* rounding never leaves the box */
    }
}

/* Worst row of clause q at output o: its index into *row, its value returned. */
static double clause_value(const cr_spec_part *p, size_t qc, const double *o, size_t *row) {
    double worst = -INFINITY;
    for (size_t r = p->clause[qc]; r < p->clause[qc + 1]; r++) {
        double v = -p->rhs[r];
        for (size_t j = 0; j < p->k; j++) v += p->c[r * p->k + j] * o[j];
        if (!(v <= worst)) { /* NaN counts as worst: never a candidate */
            worst = v;
            *row = r;
        }
    }
    return worst;
}

cr_status cr_spec_attack_f64(const cr_net *net, const cr_spec_part *p, size_t restarts, size_t steps,
                             uint64_t seed, cr_spec_attack_cb cb, void *ctx, double *best_x, double *best,
                             int *stopped) {
    if (!net || !p || !best_x || !best || !stopped || p->n_clauses == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F64) return CR_FAIL(CR_ERR_DTYPE);
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    if (p->d != d || p->k != k) return CR_FAIL(CR_ERR_SHAPE);
    if (!restarts) restarts = 10;
    if (!steps) steps = 50;
    const size_t nc = p->n_clauses;
    size_t per = SPEC_ATTACK_ROWS / nc; /* restarts per batch */
    if (per == 0) per = 1;
    const size_t cap = per * nc;
    *stopped = 0;
    *best = INFINITY;
    for (size_t q = 0; q < d; q++) best_x[q] = 0.5 * (p->lo_in[q] + p->hi_in[q]);
    cr_tape *tape = NULL;
    double *u = malloc(cap * d * sizeof *u), *x = malloc(cap * d * sizeof *x);
    double *g = malloc(cap * k * sizeof *g), *gx = malloc(cap * d * sizeof *gx);
    double *w = malloc(d * sizeof *w);
    cr_status st = !u || !x || !g || !gx || !w
                       ? cr_fail_nomem("cr_certify: the attack", (cap * (3 * d + k) + d) * sizeof(double))
                       : cr_tape_create(net, cap, &tape);
    if (st != CR_OK) goto done;
    for (size_t q = 0; q < d; q++) w[q] = p->hi_in[q] - p->lo_in[q];
    for (size_t r0 = 0; r0 < restarts && !*stopped; r0 += per) {
        const size_t nr = restarts - r0 < per ? restarts - r0 : per, m = nr * nc;
        for (size_t i = 0; i < nr; i++) {
            cr_rng rng;
            cr_rng_seed(&rng, seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(r0 + i + 1)));
            for (size_t qc = 0; qc < nc; qc++) {
                double *ui = u + (i * nc + qc) * d;
                for (size_t q = 0; q < d; q++) ui[q] = r0 + i == 0 ? 0.5 : cr_rng_uniform(&rng);
            }
        }
        double alpha = 0.25;
        for (size_t t = 0; t <= steps && !*stopped; t++, alpha *= 0.94) {
            for (size_t i = 0; i < m; i++) map_point(d, p->lo_in, p->hi_in, u + i * d, x + i * d);
            if ((st = cr_net_forward_f64(net, tape, m, x)) != CR_OK) goto done;
            const double *o = tape->out;
            for (size_t i = 0; i < m; i++) {
                size_t row = p->clause[i % nc];
                double v = clause_value(p, i % nc, o + i * k, &row);
                if (v < *best) {
                    *best = v;
                    memcpy(best_x, x + i * d, d * sizeof *x);
                }
                if (v <= 0 && cb && cb(ctx, x + i * d)) {
                    memcpy(best_x, x + i * d, d * sizeof *x);
                    *best = v;
                    *stopped = 1;
                    break;
                }
                memcpy(g + i * k, p->c + row * k, k * sizeof *g); /* ∂(c·o − rhs)/∂o */
            }
            if (*stopped || (cb && cb(ctx, NULL))) {
                *stopped = 1;
                break;
            }
            if (t == steps) break;
            if ((st = cr_net_vjp_f64(net, tape, g, gx)) != CR_OK) goto done;
            for (size_t i = 0; i < m; i++) {
                double *ui = u + i * d, *gi = gx + i * d;
                for (size_t q = 0; q < d; q++) gi[q] *= w[q]; /* ∂m/∂u */
                cr_take_step_f64(CR_NORM_LINF, d, ui, gi, alpha, -1.0); /* descend the margin */
                for (size_t q = 0; q < d; q++) ui[q] = ui[q] < 0 ? 0 : ui[q] > 1 ? 1 : ui[q];
            }
        }
    }
    st = CR_OK;
done:
    cr_tape_free(tape);
    free(u);
    free(x);
    free(g);
    free(gx);
    free(w);
    return st;
}
