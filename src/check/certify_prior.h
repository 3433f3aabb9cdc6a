/*
 * What cr_certify_linf's cheap bounds computed for its one-part spec, handed to cr_certify so that its escalation
 * (IBP -> CROWN -> α-CROWN -> branch and bound) does not compute it again (certify.c, certify_linf.c). Private to the
 * check layer.
 */
#ifndef CR_CHECK_CERTIFY_PRIOR_H
#define CR_CHECK_CERTIFY_PRIOR_H

#include "chainrule.h"
#include "chainrule_certify.h"

typedef struct {
    int n_methods;       /* the first methods of cr_certify's sequence that ran: 1 (IBP) or 2 (IBP, then `method`) */
    int used;            /* the strongest of them that bounded (index, as cr_certify's) */
    cr_bound_method method;
    char *refuted;       /* n_clauses: refuted by them */
    double margin;       /* the smallest refuting gap (INFINITY: none) */
    double *lb;          /* n_rows: each row's lower bound by `method` (NAN where it did not bound the row) */
    double *zl, *zu;     /* the hidden intermediates `method` computed (Σ dims[l + 1], l + 1 < L), or NULL */
} chk_certify_prior;

/* cr_certify with prior (NULL: none) standing for its first methods on part 0. */
cr_status chk_certify_prior_run(cr_ctx *cx, const cr_net *net, const cr_spec *spec, const cr_certify_options *opt,
                                cr_certify_result *res, const chk_certify_prior *prior);

#endif
