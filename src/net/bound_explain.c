/*
 * cr_bound_explain: one CROWN bound's pieces as cr_net_bound computes them, for `chainrule explain --certify`.
 * It runs cr_net_bound itself with a recorder set (this thread only): bound_crown.c copies its intervals, lines
 * and the spec rows' backward substitution as it goes, so what is shown is what was computed, not a re-derivation.
 */
#include <stdlib.h>
#include <string.h>

#include "net/bound.h"

void cr_bound_record(double **dst, const double *src, size_t n) {
    free(*dst);
    *dst = malloc((n ? n : 1) * sizeof **dst);
    if (*dst && n) memcpy(*dst, src, n * sizeof **dst);
}

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

cr_status cr_bound_explain(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                           cr_bound_explanation *out) {
    if (!out) return CR_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (!net || m == 0) return CR_ERR_ARG;
    out->m = m;
    out->lb = malloc(m * sizeof *out->lb);
    if (!out->lb) return CR_ERR_NOMEM;
    const cr_bound_options o = {.method = CR_BOUND_CROWN};
    cr_bound_recorder = out;
    cr_status st = cr_net_bound(net, lo, hi, m, c, &o, out->lb, NULL);
    cr_bound_recorder = NULL;
    const int L = net->n_layers;
    int complete = out->zl[0] && out->zu[0] && out->dx && out->box && out->slack && out->crown &&
                   (net->has_out_act || out->cst[L - 1]);
    for (int l = 0; l < out->n_relaxed; l++)
        complete &= out->zl[l + 1] && out->zu[l + 1] && out->sl[l] && out->tl[l] && out->su[l] && out->tu[l] &&
                    out->a[l] && out->g[l] && out->icpt[l] && out->cst[l];
    if (st == CR_OK && !complete) st = CR_ERR_NOMEM;
    if (st != CR_OK) cr_bound_explanation_free(out);
    return st;
}
