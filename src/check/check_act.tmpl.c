/*
 * The activation the chain runs, for the checks: exactly the functions the
 * forward and reverse walks call (src/net/act_dispatch.tmpl.h: in float32 the
 * sigmoid's forward and VJP are the vectorised kernels of train_kernels.c),
 * so that a check of "the sigmoid VJP" checks the code that runs.
 * Included by check_act_f32.c / check_act_f64.c after ops/real.h.
 */
#include "net/act_dispatch.tmpl.h"

void FN(chk_act_forward)(cr_activation act, size_t n, const real *r, real *h);
void FN(chk_act_vjp)(cr_activation act, size_t n, const real *r, const real *h, const real *g,
                     real *gr);
void FN(chk_act_jvp)(cr_activation act, size_t n, const real *r, const real *h, const real *rd,
                     real *hd);
void FN(chk_act_jacobian)(cr_activation act, size_t n, const real *r, const real *h, real *jac);

void FN(chk_act_forward)(cr_activation act, size_t n, const real *r, real *h) {
    FN(act_forward)(act, n, r, h);
}
void FN(chk_act_vjp)(cr_activation act, size_t n, const real *r, const real *h, const real *g,
                     real *gr) {
    FN(act_vjp)(act, n, r, h, g, gr);
}
void FN(chk_act_jvp)(cr_activation act, size_t n, const real *r, const real *h, const real *rd,
                     real *hd) {
    FN(act_jvp)(act, n, r, h, rd, hd);
}
void FN(chk_act_jacobian)(cr_activation act, size_t n, const real *r, const real *h, real *jac) {
    FN(act_jacobian)(act, n, r, h, jac);
}
