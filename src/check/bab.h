/*
 * Branch and bound for cr_certify (bab.c; docs/certification.md "Branch and bound"). Private to the check layer.
 */
#ifndef CR_CHECK_BAB_H
#define CR_CHECK_BAB_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule.h"
#include "chainrule_certify.h"
#include "chainrule_check.h"

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
 * them) are refuted subdomain by subdomain. root_zl, root_zu (the hidden units, layer after layer, or NULL): sound
 * intervals of the pre-activations over the part's box (cr_certify's last bounds), the root's clamps. witness (D) and
 * wout (K) receive the counterexample when sat.
 */
cr_status chk_bab_part(const cr_net *net64, const cr_spec_part *p, const char *refuted, const chk_bab_opts *o,
                       const double *root_zl, const double *root_zu, double *witness, double *wout,
                       chk_bab_result *res);

double chk_now_s(void); /* CLOCK_MONOTONIC in seconds */

/* β-CROWN's closed-form gradient against finite differences (check_alpha.c), as cr_check_alpha_gradient, on the
   subdomain of the box whose pre-activations lie in the clamps zlo[l], zhi[l] (dims[l + 1] values per hidden
   layer, or NULL): only the multipliers of its split constraints (clamps at 0) are compared; *n_beta receives
   their count per row (0: nothing compared). */
cr_status chk_beta_gradient(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                            const double *const *zlo, const double *const *zhi, size_t samples, uint64_t seed,
                            cr_check_alpha_report *rep, size_t *n_beta);

/* Test hook: a planted fault (0: none). SAME_SIDE: a ReLU split's inactive child is clamped like the active one
   (its half of the subdomain never bounded); DROP_GAP: an input split's upper child starts a quarter past the
   midpoint (a slab never bounded). */
enum { CHK_BAB_FAULT_SAME_SIDE = 1, CHK_BAB_FAULT_DROP_GAP = 2 };
extern int chk_bab_test_fault;
extern int chk_bab_test_score; /* 1 (default): split by the score; 0: by the intercept alone */
extern int chk_bab_reuse;      /* 1 (default): ReLU-split children under α with β keep their parent's intermediates
                                  (cr_bound_split.reuse); 0: recomputed in every subdomain */
extern int chk_bab_warm;       /* 1 (default): with α, a subdomain's α/β search starts from its parent's best values
                                  (cr_bound_split.warm_in); 0: from CROWN's and β = 0 in every subdomain */

#endif
