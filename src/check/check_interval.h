/*
 * Centred-interval evaluation of a float64 net by plain loops with rigorous rounding bounds (check_interval.c):
 * the witness checker of certify, and the fallback IBP.
 */
#ifndef CR_CHECK_INTERVAL_H
#define CR_CHECK_INTERVAL_H

#include <stddef.h>

#include "chainrule.h"

/* 1 when act has a monotone evaluation with a known error bound here (ReLU, leaky ReLU, sigmoid, tanh, softplus). */
int chk_interval_supported(cr_activation act);

/* For every input x with |x − mid| <= rad (D each), the real-arithmetic output o(x) of net64 (a float64 net; link 0,
   BatchNorm links and the output activation included, no head) lies within o_mid ± o_rad (K each). rad = 0: the
   evaluation of one point with its error bound. CR_ERR_ARG for an activation it cannot bound (GELU),
   CR_ERR_NONFINITE for a non-finite input or result. */
cr_status chk_interval_forward64(const cr_net *net64, const double *mid, const double *rad, double *o_mid,
                                 double *o_rad);

/* Bounds of c·o − rhs over o within o_mid ± o_rad (c: k values), the sum's rounding included. */
void chk_interval_row(size_t k, const double *c, double rhs, const double *o_mid, const double *o_rad, double *lb,
                      double *ub);

#endif
