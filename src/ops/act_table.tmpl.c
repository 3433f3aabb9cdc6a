/*
 * The activation op files and the reference rows of the activation op table
 * for one scalar type: the op files' own functions, in the order of
 * CR_ACT_ROWS (act_table.h). Included by ops_f32.c / ops_f64.c after real.h;
 * the one list of activation op files.
 */
#include "act_table.h"

#include "sigmoid.tmpl.c"
#include "tanh.tmpl.c"
#include "relu.tmpl.c"
#include "gelu.tmpl.c"
#include "softplus.tmpl.c"
#include "leaky_relu.tmpl.c"
#include "silu.tmpl.c"

#if defined(CR_REAL_F32)
#define CR_ACT_REF_ROWS cr_act_reference_f32
#else
#define CR_ACT_REF_ROWS cr_act_reference_f64
#endif

#define CR_ACT_REF_ROW(e, name, ...)                                                           \
    [e] = {FN(name##_forward), FN(name##_deriv), FN(name##_vjp), FN(name##_jvp),             \
           FN(name##_jacobian), FN(name##_deriv2), "reference"},
const real_act_ops CR_ACT_REF_ROWS[CR_ACT_COUNT] = {CR_ACT_ROWS(CR_ACT_REF_ROW)};
#undef CR_ACT_REF_ROW
