/*
 * Branch and bound for cr_certify (bab.c; docs/certification.md "Branch and bound"). Private to the check layer.
 */
#ifndef CR_CHECK_BAB_H
#define CR_CHECK_BAB_H

#include <stddef.h>

#include "chainrule.h"
#include "chainrule_certify.h"

typedef struct {
    cr_ctx *cx;             /* the bounds' workers (NULL: one) */
    cr_bound_options bound; /* the bound of every subdomain (CROWN or stronger) */
    double deadline;        /* CLOCK_MONOTONIC seconds (chk_now_s), 0: none */
    cr_bab_split split;     /* CR_BAB_SPLIT_RELU or CR_BAB_SPLIT_INPUT (resolved, not AUTO) */
    size_t max_domains;     /* subdomains bounded at most (then unknown) */
} chk_bab_opts;

typedef struct {
    cr_verdict verdict; /* unsat, sat (witness checked), unknown (budget or an unresolved leaf), timeout */
    double margin;      /* unsat: the smallest proved gap lb − rhs over the leaves */
    size_t domains;     /* subdomains bounded */
} chk_bab_result;

/*
 * Branch and bound over one spec part of a float64 net: the clauses with refuted[q] = 0 (the root's bounds left
 * them) are refuted subdomain by subdomain. witness (D) and wout (K) receive the counterexample when sat.
 */
cr_status chk_bab_part(const cr_net *net64, const cr_spec_part *p, const char *refuted, const chk_bab_opts *o,
                       double *witness, double *wout, chk_bab_result *res);

double chk_now_s(void); /* CLOCK_MONOTONIC in seconds */

/* Test hook: a planted fault (0: none). SAME_SIDE: a ReLU split's inactive child is clamped like the active one
   (its half of the subdomain never bounded); DROP_GAP: an input split's upper child starts a quarter past the
   midpoint (a slab never bounded). */
enum { CHK_BAB_FAULT_SAME_SIDE = 1, CHK_BAB_FAULT_DROP_GAP = 2 };
extern int chk_bab_test_fault;
extern int chk_bab_test_score; /* 1 (default): split by the score; 0: by the intercept alone */

#endif
