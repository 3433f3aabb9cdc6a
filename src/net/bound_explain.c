/*
 * cr_bound_explain: one CROWN bound's pieces as cr_net_bound computes them, for `chainrule explain --certify`.
 * It allocates the record, then runs cr_net_bound itself with the recorder set (this thread; bound_crown.c hands
 * it to its workers): the intervals, lines and the spec rows' backward substitution are copied as they are
 * computed, so what is shown is what was computed, not a re-derivation.
 */
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "net/bound.h"

void cr_bound_explanation_free(cr_bound_explanation *e) {
    if (!e) return;
    for (int l = 0; l <= CR_MAX_LAYERS; l++) {
        free(e->zl[l]);
        free(e->zu[l]);
        if (l == CR_MAX_LAYERS) break;
        free(e->sl[l]), free(e->tl[l]), free(e->su[l]), free(e->tu[l]);
        free(e->a[l]), free(e->g[l]), free(e->icpt[l]), free(e->cst[l]);
    }
    free(e->dx), free(e->box), free(e->slack), free(e->crown), free(e->lb);
    memset(e, 0, sizeof *e);
}

/* *p <- n doubles (one when n is 0); *want counts the doubles asked for. */
static int alloc(double **p, size_t n, int ok, size_t *want) {
    *want += n ? n : 1;
    *p = malloc((n ? n : 1) * sizeof **p);
    return ok && *p;
}

cr_status cr_bound_explain(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                           cr_bound_explanation *out) {
    if (!out) return CR_FAIL(CR_ERR_ARG);
    memset(out, 0, sizeof *out);
    if (!net || m == 0 || m > ((size_t)1 << 24)) return CR_FAIL(CR_ERR_ARG);
    const int L = net->n_layers;
    const size_t D = net->dims[0];
    out->m = m;
    out->n_relaxed = net->has_out_act ? L : L - 1;
    size_t want = 0;
    int ok = alloc(&out->zl[0], D, 1, &want);
    ok = alloc(&out->zu[0], D, ok, &want);
    for (int l = 0; l < L; l++) {
        const size_t w = net->dims[l + 1];
        ok = alloc(&out->cst[l], m, ok, &want);
        if (l >= out->n_relaxed) continue;
        ok = alloc(&out->zl[l + 1], w, ok, &want), ok = alloc(&out->zu[l + 1], w, ok, &want);
        ok = alloc(&out->sl[l], w, ok, &want), ok = alloc(&out->tl[l], w, ok, &want);
        ok = alloc(&out->su[l], w, ok, &want), ok = alloc(&out->tu[l], w, ok, &want);
        ok = alloc(&out->a[l], m * w, ok, &want), ok = alloc(&out->g[l], m * w, ok, &want);
        ok = alloc(&out->icpt[l], m, ok, &want);
    }
    ok = alloc(&out->dx, m * D, ok, &want);
    ok = alloc(&out->box, m, ok, &want), ok = alloc(&out->slack, m, ok, &want);
    ok = alloc(&out->crown, m, ok, &want), ok = alloc(&out->lb, m, ok, &want);
    cr_status st = ok ? CR_OK : cr_fail_nomem("cr_bound_explain", want * sizeof(double));
    if (ok) {
        const cr_bound_options o = {.method = CR_BOUND_CROWN};
        cr_bound_recorder = out;
        st = cr_net_bound(NULL, net, lo, hi, m, c, &o, out->lb, NULL);
        cr_bound_recorder = NULL;
        if (st == CR_OK && !out->recorded) st = CR_ERR_ARG; /* not the pass this records */
    }
    if (st != CR_OK) cr_bound_explanation_free(out);
    return st;
}
