/*
 * The activation the chain runs, for the checks: the row of the op table the
 * walks call (src/ops/act_table.h: cr_act_f32 / cr_act_f64, the backend
 * selected for this CPU, or whatever a test installed with cr_act_replace),
 * so that a check of "the sigmoid VJP" checks the code that runs.
 */
#include "check_internal.h"
#include "ops/act_table.h"

void chk_act_forward(cr_dtype t, cr_activation act, size_t n, const void *r, void *h) {
    if (t == CR_F32) cr_act_f32(act)->forward(n, r, h);
    else cr_act_f64(act)->forward(n, r, h);
}
void chk_act_vjp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *g, void *gr) {
    if (t == CR_F32) cr_act_f32(act)->vjp(n, r, h, g, gr);
    else cr_act_f64(act)->vjp(n, r, h, g, gr);
}
void chk_act_jvp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *rd, void *hd) {
    if (t == CR_F32) cr_act_f32(act)->jvp(n, r, h, rd, hd);
    else cr_act_f64(act)->jvp(n, r, h, rd, hd);
}
void chk_act_jacobian(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                      void *jac) {
    if (t == CR_F32) cr_act_f32(act)->jacobian(n, r, h, jac);
    else cr_act_f64(act)->jacobian(n, r, h, jac);
}
const char *chk_act_backend(cr_dtype t, cr_activation act) {
    return t == CR_F32 ? cr_act_f32(act)->backend : cr_act_f64(act)->backend;
}
