/*
 * The margin attack of certify (spec_attack.c): a PGD over a specification part's inward box that looks for a
 * point satisfying every row c·o <= rhs of some clause (a counterexample of the property). Float64 nets only (the
 * certify driver widens float32 nets exactly, cr_net_convert).
 */
#ifndef CR_SPEC_ATTACK_H
#define CR_SPEC_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule.h"
#include "chainrule_certify.h"

/* Called with a candidate x (D values: an iterate whose worst row of some clause is <= 0 by the net's own double
   evaluation) or with NULL once per step (a chance to stop on a deadline). Nonzero stops the attack. */
typedef int (*cr_spec_attack_cb)(void *ctx, const double *x);

/*
 * Minimises, for each clause q, m_q(x) = max over q's rows of (c·o(x) − rhs) over lo_in <= x <= hi_in: restarts
 * random starts (start 0: the box's centre; each restart's stream is seed mixed with its index, so the result is
 * deterministic), steps signed-gradient steps each (the cotangent of the worst row pulled back by the net's VJP,
 * step sizes on the box's width decaying geometrically, each iterate clipped to the inward box), the best iterate
 * kept. best_x (D) and *best (the smallest m_q seen) receive the best iterate. *stopped: 1 when cb stopped it.
 * restarts, steps: 0 take the defaults (10, 50).
 */
cr_status cr_spec_attack_f64(const cr_net *net, const cr_spec_part *part, size_t restarts, size_t steps,
                             uint64_t seed, cr_spec_attack_cb cb, void *ctx, double *best_x, double *best,
                             int *stopped);

#endif
