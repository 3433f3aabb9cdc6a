/*
 * The kernels of elementwise.c for one instruction set, included once with
 * CR_SIMD_AVX2 and once with CR_SIMD_AVX512 (simd_begin.tmpl.h): the same
 * operations per element, in the same order, as the portable references
 * (elementwise.c for σ and the finiteness scan; the sigmoid op's own VJP,
 * src/ops/sigmoid.tmpl.c, for the VJP).
 */
#include "simd_begin.tmpl.h"

TARGET static void S(sigmoid)(size_t count, const float *r, float *h) {
    const VF lo = VSET1(-87.0f), magic = VSET1(12582912.0f), one = VSET1(1.0f);
    const VU sign = (VU)VSET1(-0.0f), bias = (VU)VSET1(0.0f) + 127u;
    for (size_t i = 0; i < count; i += VL) {
        const size_t lanes = count - i < VL ? count - i : VL;
        const VMASK m = lanes < VL ? VMASK_N(lanes) : VMASK_NONE;
        const VF rv = lanes < VL ? VLOAD_M(r + i, m) : VLOAD(r + i);
        const VF x = VMAX(lo, (VF)((VU)rv | sign)); /* −|r|, clamped; NaN stays NaN */
        const VF t = x * 1.44269504088896341f + magic;
        const VU n = (VU)t - (VU)magic;
        const VF nf = t - magic;
        const VF f = x - nf * 0.693359375f + nf * 2.12194440e-4f, f2 = f * f;
        VF p = 1.9875691500e-4f * f + 1.3981999507e-3f;
        p = p * f + 8.3334519073e-3f;
        p = p * f + 4.1665795894e-2f;
        p = p * f + 1.6666665459e-1f;
        p = p * f + 5.0000001201e-1f;
        p = p * f2 + f + one;
        const VF e = p * (VF)((n + bias) << 23);
        const VF out = VSELECT_SIGN(rv, one / (one + e), e / (one + e));
        if (lanes < VL)
            VSTORE_M(h + i, m, out);
        else
            VSTORE(h + i, out);
    }
}

TARGET static void S(sigmoid_vjp)(size_t count, const float *hh, const float *g, float *gr) {
    const VF one = VSET1(1.0f);
#define CR_BODY(i, LD, ST)                                                                     \
    const VF hv = LD(hh + i);                                                                  \
    ST(gr + i, LD(g + i) * hv * (one - hv));
    CR_SIMD_ELEMENTWISE(count, CR_BODY);
#undef CR_BODY
}

TARGET static int S(finite)(size_t count, const float *x) {
    VF a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
    const VF zero = VZERO();
    size_t i = 0;
    for (; i + 4 * VL <= count; i += 4 * VL) { /* x * 0 is NaN for NaN and ±inf, else ±0 */
        a0 = a0 + VLOAD(x + i) * zero;
        a1 = a1 + VLOAD(x + i + VL) * zero;
        a2 = a2 + VLOAD(x + i + 2 * VL) * zero;
        a3 = a3 + VLOAD(x + i + 3 * VL) * zero;
    }
#define CR_BODY(j, LD, ST) a0 = a0 + LD(x + i + j) * zero;
    CR_SIMD_ELEMENTWISE(count - i, CR_BODY);
#undef CR_BODY
    return VALL_ZERO(a0 + a1 + a2 + a3);
}

#include "simd_end.tmpl.h"
