/*
 * Type-generic instantiation for the op and net templates (*.tmpl.c).
 * A translation unit defines CR_REAL_F32 or CR_REAL_F64 and includes this
 * header and then the templates; `real` is float or double. One source, two types.
 *
 * Names. A function with external linkage (every public one, and the chain's
 * shared internals) is defined, and declared in a template header, with both
 * of its full names, so that grep and ctags find the code that runs:
 *
 *     cr_status CR_TYPED(cr_net_input_grad_f32, cr_net_input_grad_f64)(const cr_net *net, ...) {
 *
 * CR_TYPED(name_f32, name_f64) is name_f32 in the float32 instance and name_f64
 * in the float64 one. Static helpers, calls and type names are written FN(name),
 * which becomes cr_name_f32 or cr_name_f64. tests/names_findable.sh checks that
 * every exported function is declared in include/ and defined in src/ by its
 * full name.
 */
#ifndef CR_REAL_H
#define CR_REAL_H

#include <math.h>
#include <stddef.h>

#include "chainrule_typed.h"
#include "ops/act_table.h"

#if defined(CR_REAL_F32)
typedef float real;
#define FN(name) cr_##name##_f32
#define CR_TYPED(name_f32, name_f64) name_f32
#define GEMM cr_gemm_f32
#define R_EXP expf
#define R_LOG logf
#define R_TANH tanhf
#define R_ERFC erfcf
#define R_SQRT sqrtf
#define R_ISFINITE(x) isfinite(x)
#define R_DTYPE CR_F32
#define R_ACT(act) cr_act_f32(act) /* the activation's row of the op table (act_table.h) */
typedef cr_act_ops_f32 real_act_ops;
#elif defined(CR_REAL_F64)
typedef double real;
#define FN(name) cr_##name##_f64
#define CR_TYPED(name_f32, name_f64) name_f64
#define GEMM cr_gemm_f64
#define R_EXP exp
#define R_LOG log
#define R_TANH tanh
#define R_ERFC erfc
#define R_SQRT sqrt
#define R_ISFINITE(x) isfinite(x)
#define R_DTYPE CR_F64
#define R_ACT(act) cr_act_f64(act)
typedef cr_act_ops_f64 real_act_ops;
#else
#error "define CR_REAL_F32 or CR_REAL_F64 before including real.h"
#endif

#endif
