/*
 * The affine op's test hook (private to the core library and its tests): a
 * mutation test installs a planted VJP of the affine link with
 * cr_affine_replace_vjp_f32/_f64, and every caller of cr_affine_vjp (the
 * reverse walk's link 0 step, the closed Jacobian, gradcheck's op check) then
 * runs it, as cr_act_replace does for an activation's row; NULL puts back the
 * op file's own VJP. Call it while no other thread is inside the library.
 */
#ifndef CR_OPS_AFFINE_H
#define CR_OPS_AFFINE_H

#include "chainrule_typed.h"

typedef void (*cr_affine_vjp_fn_f32)(const cr_affine_f32 *a, size_t n, size_t d, const float *g,
                                     float *gx);
typedef void (*cr_affine_vjp_fn_f64)(const cr_affine_f64 *a, size_t n, size_t d, const double *g,
                                     double *gx);
void cr_affine_replace_vjp_f32(cr_affine_vjp_fn_f32 planted);
void cr_affine_replace_vjp_f64(cr_affine_vjp_fn_f64 planted);

#endif
