/*
 * The optimiser updates of optim.c for one instruction set, included once
 * with CR_SIMD_AVX2 and once with CR_SIMD_AVX512 (simd_begin.tmpl.h): the
 * same operations per element, in the same order, as the portable loops.
 */
#include "simd_begin.tmpl.h"

TARGET static void S(opt_sgd)(size_t n, float lr, float wd, float *p, const float *g) {
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i);                                                                   \
    ST(p + i, pv - lr * (LD(g + i) + wd * pv));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

TARGET static void S(opt_momentum)(size_t n, float lr, float wd, float mu, int nesterov, float *p,
                                   const float *g, float *m) {
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i), gv = LD(g + i) + wd * pv, mv = mu * LD(m + i) + gv;               \
    ST(m + i, mv);                                                                             \
    ST(p + i, pv - lr * (nesterov ? (VF)(gv + mu * mv) : mv));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

TARGET static void S(opt_adam)(size_t n, float step_size, float wd, float b1, float b2, float sbc2,
                               float eps, float *p, const float *g, float *m, float *v) {
    const float c1 = 1 - b1, c2 = 1 - b2;
#define CR_BODY(i, LD, ST)                                                                     \
    const VF pv = LD(p + i), gv = LD(g + i) + wd * pv;                                         \
    const VF mv = b1 * LD(m + i) + c1 * gv, vv = b2 * LD(v + i) + c2 * gv * gv;                \
    ST(m + i, mv);                                                                             \
    ST(v + i, vv);                                                                             \
    ST(p + i, pv - step_size * mv / (VSQRT(vv) / sbc2 + eps));
    CR_SIMD_ELEMENTWISE(n, CR_BODY);
#undef CR_BODY
}

#include "simd_end.tmpl.h"
