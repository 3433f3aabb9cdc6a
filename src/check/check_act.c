/* The running activation, dispatched on the dtype (check_act.tmpl.c). */
#include "check_internal.h"

void cr_chk_act_forward_f32(cr_activation, size_t, const float *, float *);
void cr_chk_act_forward_f64(cr_activation, size_t, const double *, double *);
void cr_chk_act_vjp_f32(cr_activation, size_t, const float *, const float *, const float *, float *);
void cr_chk_act_vjp_f64(cr_activation, size_t, const double *, const double *, const double *,
                        double *);
void cr_chk_act_jvp_f32(cr_activation, size_t, const float *, const float *, const float *, float *);
void cr_chk_act_jvp_f64(cr_activation, size_t, const double *, const double *, const double *,
                        double *);
void cr_chk_act_jacobian_f32(cr_activation, size_t, const float *, const float *, float *);
void cr_chk_act_jacobian_f64(cr_activation, size_t, const double *, const double *, double *);

void chk_act_forward(cr_dtype t, cr_activation act, size_t n, const void *r, void *h) {
    if (t == CR_F32) cr_chk_act_forward_f32(act, n, r, h);
    else cr_chk_act_forward_f64(act, n, r, h);
}
void chk_act_vjp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *g, void *gr) {
    if (t == CR_F32) cr_chk_act_vjp_f32(act, n, r, h, g, gr);
    else cr_chk_act_vjp_f64(act, n, r, h, g, gr);
}
void chk_act_jvp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *rd, void *hd) {
    if (t == CR_F32) cr_chk_act_jvp_f32(act, n, r, h, rd, hd);
    else cr_chk_act_jvp_f64(act, n, r, h, rd, hd);
}
void chk_act_jacobian(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                      void *jac) {
    if (t == CR_F32) cr_chk_act_jacobian_f32(act, n, r, h, jac);
    else cr_chk_act_jacobian_f64(act, n, r, h, jac);
}
