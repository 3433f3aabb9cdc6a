/*
 * Test hooks of the walks (planted faults, tests/test_batchnorm.c), not public.
 *
 * cr_net_link_vjp_replace_*: from now on the reverse walk's step of an affine
 * link after a linear layer (BatchNorm in inference mode), G_r <- G_z ∘ a, runs
 * `step` instead of the op file's cr_affine_vjp (src/ops/affine.tmpl.c); NULL
 * puts the op file's back. Not thread-safe: call it with no walk running.
 */
#ifndef CR_NET_HOOKS_H
#define CR_NET_HOOKS_H

#include <stddef.h>

#include "chainrule.h"

typedef void (*cr_link_step_fn_f32)(const cr_affine_f32 *a, size_t n, size_t d, const float *g,
                                    float *out);
typedef void (*cr_link_step_fn_f64)(const cr_affine_f64 *a, size_t n, size_t d, const double *g,
                                    double *out);
void cr_net_link_vjp_replace_f32(cr_link_step_fn_f32 step);
void cr_net_link_vjp_replace_f64(cr_link_step_fn_f64 step);

#endif
