/*
 * spec.c: output specifications (chainrule_certify.h): the L∞ robustness spec of a classifier and freeing.
 *
 * Every array of a cr_spec is its own malloc block (parts, and each part's lo, hi, lo_in, hi_in, c, rhs, rhs_in,
 * clause), so that cr_spec_free releases a spec built here or by the VNN-LIB reader (src/io/vnnlib.c) alike.
 *
 * Rounding of x ± eps: s = fl(x ± eps) and its exact error e (Knuth's TwoSum, exact in round-to-nearest when s is
 * finite): the real value is s + e. The outward lower end is s when e >= 0, else nextafter(s, −inf); the inward
 * lower end is s when e <= 0, else nextafter(s, +inf); the same mirrored for the upper end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "chainrule_certify.h"

void cr_spec_free(cr_spec *spec) {
    if (!spec) return;
    for (size_t p = 0; spec->parts && p < spec->n_parts; p++) {
        cr_spec_part *q = &spec->parts[p];
        free(q->lo);
        free(q->hi);
        free(q->lo_in);
        free(q->hi_in);
        free(q->c);
        free(q->rhs);
        free(q->rhs_in);
        free(q->clause);
    }
    free(spec->parts);
    memset(spec, 0, sizeof *spec);
}

/* s = fl(a + b) and the rounding error: a + b = s + *err exactly (TwoSum; s finite). */
static double two_sum(double a, double b, double *err) {
    double s = a + b;
    double bb = s - a;
    *err = (a - (s - bb)) + (b - bb);
    return s;
}

/* The real a + b rounded down (dir < 0) or up (dir > 0) to a double. */
static double sum_rounded(double a, double b, int dir) {
    double e;
    double s = two_sum(a, b, &e);
    if (!isfinite(s)) return s;
    if (dir < 0 && e < 0) return nextafter(s, -INFINITY);
    if (dir > 0 && e > 0) return nextafter(s, INFINITY);
    return s;
}

cr_status cr_spec_linf(size_t d, size_t k, const double *x, double eps, double lo, double hi, cr_label label,
                       cr_spec *out) {
    if (!out) return CR_FAIL(CR_ERR_ARG);
    memset(out, 0, sizeof *out);
    if (!x || d == 0 || k < 2) return cr_fail(CR_ERR_ARG, "cr_spec_linf: x NULL, d = %zu or k = %zu < 2", d, k);
    if (cr_check_labels("cr_spec_linf", "label", 1, &label, k) != CR_OK) return CR_ERR_ARG;
    if (!isfinite(eps) || isnan(lo) || isnan(hi))
        return cr_fail(CR_ERR_NONFINITE,
                       "cr_spec_linf: eps = %g, lo = %g, hi = %g (eps must be finite, lo and hi not NaN)", eps, lo, hi);
    if (eps < 0 || lo > hi)
        return cr_fail(CR_ERR_ARG, "cr_spec_linf: eps = %g < 0 or lo = %g > hi = %g", eps, lo, hi);
    for (size_t i = 0; i < d; i++)
        if (!isfinite(x[i])) return cr_fail(CR_ERR_NONFINITE, "cr_spec_linf: x[%zu] = %g is not finite", i, x[i]);
    if (d > SIZE_MAX / sizeof(double) / k) return CR_FAIL(CR_ERR_OVERFLOW);

    cr_spec_part *p = calloc(1, sizeof *p);
    if (!p) return CR_FAIL(CR_ERR_NOMEM);
    out->parts = p;
    out->n_parts = 1;
    size_t m = k - 1;
    p->d = d;
    p->k = k;
    p->n_rows = m;
    p->n_clauses = m;
    p->lo = malloc(d * sizeof(double));
    p->hi = malloc(d * sizeof(double));
    p->lo_in = malloc(d * sizeof(double));
    p->hi_in = malloc(d * sizeof(double));
    p->c = calloc(m * k, sizeof(double));
    p->rhs = calloc(m, sizeof(double));
    p->rhs_in = calloc(m, sizeof(double));
    p->clause = malloc((m + 1) * sizeof(size_t));
    if (!p->lo || !p->hi || !p->lo_in || !p->hi_in || !p->c || !p->rhs || !p->rhs_in || !p->clause) {
        cr_spec_free(out);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    cr_status st = CR_OK;
    for (size_t i = 0; i < d && st == CR_OK; i++) {
        double a = fmax(sum_rounded(x[i], -eps, -1), lo), b = fmin(sum_rounded(x[i], eps, 1), hi);
        double a_in = fmax(sum_rounded(x[i], -eps, 1), lo), b_in = fmin(sum_rounded(x[i], eps, -1), hi);
        if (!isfinite(a) || !isfinite(b)) st = CR_ERR_NONFINITE;
        else if (a > b) st = CR_ERR_ARG; /* x outside [lo, hi] by more than eps */
        p->lo[i] = a;
        p->hi[i] = b;
        p->lo_in[i] = a_in;
        p->hi_in[i] = b_in;
    }
    if (st != CR_OK) {
        cr_spec_free(out);
        return st;
    }
    size_t r = 0;
    for (size_t j = 0; j < k; j++) {
        if ((int64_t)j == label) continue;
        p->c[r * k + (size_t)label] = 1.0;
        p->c[r * k + j] = -1.0;
        p->clause[r] = r;
        r++;
    }
    p->clause[m] = m;
    return CR_OK;
}

const char *cr_verdict_name(cr_verdict v) {
    switch (v) {
    case CR_VERDICT_UNSAT: return "unsat";
    case CR_VERDICT_SAT: return "sat";
    case CR_VERDICT_UNKNOWN: return "unknown";
    case CR_VERDICT_TIMEOUT: return "timeout";
    }
    return "unknown";
}
