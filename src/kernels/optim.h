/*
 * Float32 optimiser updates over n parameters (see chainrule.h for the
 * formulas; wd is the L2 coefficient), which src/net/optim.c runs. Each
 * exists in every kernel set (chainrule_typed.h, cr_isa): the portable C reference
 * (optim.c) and its AVX2 and AVX-512 instantiations (optim_simd.tmpl.h),
 * which give the same bits as the reference; the set in use is
 * cr_isa_current(). Private to the library (src/kernels, below src/ops).
 */
#ifndef CR_KERNELS_OPTIM_H
#define CR_KERNELS_OPTIM_H

#include <stddef.h>

void cr_opt_sgd_f32(size_t n, float lr, float wd, float *p, const float *g);
void cr_opt_momentum_f32(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                         const float *g, float *m);
void cr_opt_adam_f32(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                     float eps, float *p, const float *g, float *m, float *v);

#endif
