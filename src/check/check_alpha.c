/*
 * α-CROWN's gradient against finite differences (chainrule_check.h:
 * cr_check_alpha_gradient). The bound of each row is a function of that row's
 * parameters (bound_alpha.c's problem view); its closed-form gradient is compared
 * with Richardson's central differences (check_core.c) at random interior
 * parameters. Pairs whose two difference quotients disagree lie within 2h of a kink
 * (a coefficient changing sign, a minimising corner switching) and are not compared.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "chainrule_certify.h"
#include "check_internal.h"
#include "net/bound.h"

typedef struct {
    size_t samples;
    uint64_t rng;
    cr_check_alpha_report *rep;
} alpha_check;

static double rnd(uint64_t *s) { /* [0, 1) */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) * 0x1.0p-53;
}

static cr_status visit(void *ctx, cr_alpha_problem *p) {
    alpha_check *ac = ctx;
    const size_t n = cr_alpha_problem_rows(p), P = cr_alpha_problem_params(p);
    if (P == 0) return CR_OK;
    double *mem = malloc((3 * n * P + 5 * n) * sizeof(double));
    if (!mem) return CR_FAIL(CR_ERR_NOMEM);
    double *alpha = mem, *grad = alpha + n * P, *pert = grad + n * P, *lb = pert + n * P;
    double *f[4] = {lb + n, lb + 2 * n, lb + 3 * n, lb + 4 * n};
    size_t *ks = calloc(P, sizeof(size_t)), nk = 0;
    if (!ks) {
        free(mem);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    cr_alpha_problem_default(p, alpha);
    for (size_t k = 0; k < P; k++) {
        double a, b;
        cr_alpha_problem_range(p, k, &a, &b);
        if (!(a < b)) continue;
        ks[nk++] = k;
        for (size_t i = 0; i < n; i++) alpha[i * P + k] = a + (b - a) * (0.1 + 0.8 * rnd(&ac->rng));
    }
    cr_status st = nk ? cr_alpha_problem_eval(p, alpha, lb, grad) : CR_OK;
    for (size_t s = 0; s < ac->samples && nk && st == CR_OK; s++) {
        const size_t i = (size_t)(rnd(&ac->rng) * (double)n) % n, k = ks[(size_t)(rnd(&ac->rng) * (double)nk) % nk];
        double a, b;
        cr_alpha_problem_range(p, k, &a, &b);
        const double x = alpha[i * P + k];
        double h = chk_step(x);
        const double room = fmin(x - a, b - x) / 2; /* x ± 2h stays inside the range */
        if (2 * h > room) h = room / 2;
        if (!(h > 0)) continue;
        const double steps[4] = {h, -h, 2 * h, -2 * h};
        memcpy(pert, alpha, n * P * sizeof(double));
        for (int q = 0; q < 4 && st == CR_OK; q++) {
            pert[i * P + k] = x + steps[q];
            st = cr_alpha_problem_eval(p, pert, f[q], NULL);
        }
        if (st != CR_OK) break;
        double fd, err;
        chk_fd_combine(1, h, f[0] + i, f[1] + i, f[2] + i, f[3] + i, 0, &fd, &err);
        if (!isfinite(fd) || err > 1e-4 * (1 + fabs(fd))) { /* a kink within 2h */
            ac->rep->nonsmooth++;
            continue;
        }
        const double g = grad[i * P + k], e = fabs(g - fd);
        ac->rep->checked++;
        if (g != 0) ac->rep->nonzero++;
        if (e / (1 + fabs(fd)) > ac->rep->max_err) ac->rep->max_err = e / (1 + fabs(fd));
        if (e > 1e-6 * (1 + fabs(fd)) + 4 * err) ac->rep->failed++;
    }
    free(ks);
    free(mem);
    return st;
}

cr_status cr_check_alpha_gradient(const cr_net *net, const double *lo, const double *hi, size_t m,
                                  const double *c, size_t samples, uint64_t seed,
                                  cr_check_alpha_report *rep) {
    if (!rep) return CR_FAIL(CR_ERR_ARG);
    memset(rep, 0, sizeof *rep);
    alpha_check ac = {samples, seed ? seed : 0x9e3779b97f4a7c15ULL, rep};
    const cr_bound_options o = {.method = CR_BOUND_ALPHA, .no_slack = 1};
    return cr_alpha_problem_visit(net, lo, hi, m, c, &o, visit, &ac);
}
