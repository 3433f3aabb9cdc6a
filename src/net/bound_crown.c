/* CROWN and CROWN-IBP for cr_net_bound (bound.h): not yet. */
#include "net/bound.h"

cr_status cr_bound_crown_rows(cr_bound_ctx *b, size_t m, const double *c, double *lb, double *ub) {
    (void)b;
    (void)m;
    (void)c;
    (void)lb;
    (void)ub;
    return CR_ERR_ARG;
}
