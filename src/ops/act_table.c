/*
 * The rows of the activation op table that the chain runs (act_table.h):
 * each activation's reference row from its op file, with the fast kernels
 * that are backends of their op put in place of the reference functions they
 * implement. Today that is the float32 sigmoid, whose forward and VJP run the
 * vectorised kernels of src/kernels/elementwise.c (exp by a polynomial within
 * 2 ulp of expf; the VJP is the op's expression g ∘ h ∘ (1 − h)). Those
 * kernels choose their AVX-512, AVX2 or portable variant for the CPU at the
 * first call; the VJP has no portable kernel: under the portable set the row
 * runs the op's own cr_sigmoid_vjp_f32. The other functions of the row stay
 * the op file's.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include "act_table.h"
#include "ops/relax.h"

#include <stdio.h>

#include "kernels/elementwise.h"

#define CR_ACT_ONE(e, ...) +1
_Static_assert(0 CR_ACT_ROWS(CR_ACT_ONE) == CR_ACT_COUNT,
               "every cr_activation needs a row in CR_ACT_ROWS (src/ops/act_table.h)");
#undef CR_ACT_ONE

/* The sigmoid VJP: the vector kernel of the set in use (avx2, avx512), else
   (the portable set) the op's own reference function. The kernel computes the
   op's expression (g h)(1 − h) in the op's order: the same bits either way. */
static void sigmoid_vjp_fast(size_t count, const float *r, const float *h, const float *g,
                             float *gr) {
    if (!cr_sigmoid_vjp_simd_f32(count, h, g, gr)) cr_sigmoid_vjp_f32(count, r, h, g, gr);
}

static const cr_act_ops_f32 sigmoid_fast_f32 = {
    cr_sigmoid_fast_f32,       cr_sigmoid_deriv_f32,    sigmoid_vjp_fast, cr_sigmoid_jvp_f32,
    cr_sigmoid_jacobian_f32,   cr_sigmoid_deriv2_f32,   "vectorised forward and VJP (kernels/elementwise.c)"};

/* The backend selected for each row: the fast kernel where there is one (it
   dispatches to the CPU's variant inside), else the op file's reference. */
#define CR_ACT_SELECTED_F32(e) ((e) == CR_ACT_SIGMOID ? &sigmoid_fast_f32 : &cr_act_reference_f32[e])
#define CR_ACT_SELECTED_F64(e) (&cr_act_reference_f64[e])

/* The bound relaxation of each row (ops/relax.h; defined in the op files), NULL for an
   activation without one (gelu, silu: neither monotone nor S-shaped). */
#define CR_ACT_RELAX(e)                                                                            \
    ((e) == CR_ACT_RELU         ? &cr_relu_relax                                                   \
     : (e) == CR_ACT_SIGMOID    ? &cr_sigmoid_relax                                                \
     : (e) == CR_ACT_TANH       ? &cr_tanh_relax                                                   \
     : (e) == CR_ACT_SOFTPLUS   ? &cr_softplus_relax                                               \
     : (e) == CR_ACT_LEAKY_RELU ? &cr_leaky_relu_relax                                             \
                                : NULL)

/* What a user sees of a row (chainrule_typed.h's cr_activation_info), from its X(...). */
#define CR_ACT_INFO(name, init, op, opset, alpha, pattern, st, sm, dt, dm) \
    {name, init, op, opset, alpha, pattern, st, sm, dt, dm}
#define CR_ACT_RUN_ROW(e, fn, name, init, op, opset, alpha, pattern, st, sm, dt, dm, oh, od) \
    [e] = {e, name, init, CR_ACT_SELECTED_F32(e), CR_ACT_SELECTED_F64(e),              \
           CR_ACT_INFO(name, init, op, opset, alpha, pattern, st, sm, dt, dm), CR_ACT_RELAX(e)},
#define CR_ACT_PLAIN_ROW(e, fn, name, init, op, opset, alpha, pattern, st, sm, dt, dm, oh, od) \
    [e] = {e, name, init, &cr_act_reference_f32[e], &cr_act_reference_f64[e],           \
           CR_ACT_INFO(name, init, op, opset, alpha, pattern, st, sm, dt, dm), CR_ACT_RELAX(e)},
/* Constant initialisers: no thread can see a row half-made. */
cr_act_entry cr_act_table[CR_ACT_COUNT] = {CR_ACT_ROWS(CR_ACT_RUN_ROW)};
static const cr_act_entry selected[CR_ACT_COUNT] = {CR_ACT_ROWS(CR_ACT_RUN_ROW)};
static const cr_act_entry reference[CR_ACT_COUNT] = {CR_ACT_ROWS(CR_ACT_PLAIN_ROW)};
#undef CR_ACT_RUN_ROW
#undef CR_ACT_PLAIN_ROW
#undef CR_ACT_INFO

const cr_act_entry *cr_act_running(cr_activation act) {
    return (unsigned)act < CR_ACT_COUNT ? &cr_act_table[act] : NULL;
}

const cr_act_entry *cr_act_reference(cr_activation act) {
    return (unsigned)act < CR_ACT_COUNT ? &reference[act] : NULL;
}

const cr_activation_info *cr_activation_info_get(cr_activation act) {
    return (unsigned)act < CR_ACT_COUNT ? &reference[act].info : NULL;
}

size_t cr_activation_list_names(char *buf, size_t size, const char *sep, const char *last_sep) {
    size_t len = 0;
    if (buf && size) buf[0] = 0;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const char *before = a == 0 ? "" : a == CR_ACT_COUNT - 1 ? last_sep : sep;
        int n = snprintf(buf && len < size ? buf + len : NULL, buf && len < size ? size - len : 0, "%s%s",
                         before ? before : "", reference[a].name);
        if (n > 0) len += (size_t)n;
    }
    return len;
}

cr_status cr_act_replace(cr_activation act, cr_dtype dtype, const void *ops) {
    if ((unsigned)act >= CR_ACT_COUNT || !ops) return CR_FAIL(CR_ERR_ARG);
    if (dtype == CR_F32) {
        const cr_act_ops_f32 *o = ops;
        if (!o->forward || !o->deriv || !o->vjp || !o->jvp || !o->jacobian || !o->deriv2)
            return CR_FAIL(CR_ERR_ARG);
        cr_act_table[act].f32 = o;
    } else if (dtype == CR_F64) {
        const cr_act_ops_f64 *o = ops;
        if (!o->forward || !o->deriv || !o->vjp || !o->jvp || !o->jacobian || !o->deriv2)
            return CR_FAIL(CR_ERR_ARG);
        cr_act_table[act].f64 = o;
    } else {
        return CR_FAIL(CR_ERR_ARG);
    }
    return CR_OK;
}

void cr_act_restore(cr_activation act, cr_dtype dtype) {
    if ((unsigned)act >= CR_ACT_COUNT) return;
    if (dtype == CR_F32) cr_act_table[act].f32 = selected[act].f32;
    if (dtype == CR_F64) cr_act_table[act].f64 = selected[act].f64;
}

/* The public element-wise activation functions (chainrule_typed.h): the running rows. */
void cr_activation_forward_f32(cr_activation act, size_t count, const float *r, float *h) {
    cr_act_f32(act)->forward(count, r, h);
}
void cr_activation_deriv_f32(cr_activation act, size_t count, const float *r, const float *h,
                             float *d) {
    cr_act_f32(act)->deriv(count, r, h, d);
}
void cr_activation_vjp_f32(cr_activation act, size_t count, const float *r, const float *h,
                           const float *g, float *gr) {
    cr_act_f32(act)->vjp(count, r, h, g, gr);
}
void cr_activation_jvp_f32(cr_activation act, size_t count, const float *r, const float *h,
                           const float *rd, float *hd) {
    cr_act_f32(act)->jvp(count, r, h, rd, hd);
}
void cr_activation_jacobian_f32(cr_activation act, size_t d, const float *r, const float *h,
                                float *jac) {
    cr_act_f32(act)->jacobian(d, r, h, jac);
}
void cr_activation_forward_f64(cr_activation act, size_t count, const double *r, double *h) {
    cr_act_f64(act)->forward(count, r, h);
}
void cr_activation_deriv_f64(cr_activation act, size_t count, const double *r, const double *h,
                             double *d) {
    cr_act_f64(act)->deriv(count, r, h, d);
}
void cr_activation_vjp_f64(cr_activation act, size_t count, const double *r, const double *h,
                           const double *g, double *gr) {
    cr_act_f64(act)->vjp(count, r, h, g, gr);
}
void cr_activation_jvp_f64(cr_activation act, size_t count, const double *r, const double *h,
                           const double *rd, double *hd) {
    cr_act_f64(act)->jvp(count, r, h, rd, hd);
}
void cr_activation_jacobian_f64(cr_activation act, size_t d, const double *r, const double *h,
                                double *jac) {
    cr_act_f64(act)->jacobian(d, r, h, jac);
}

cr_status cr_act_replace_relax(cr_activation act, const struct cr_act_relax *relax) {
    if ((unsigned)act >= CR_ACT_COUNT || !relax) return CR_FAIL(CR_ERR_ARG);
    cr_act_table[act].relax = relax;
    return CR_OK;
}

void cr_act_restore_relax(cr_activation act) {
    if ((unsigned)act < CR_ACT_COUNT) cr_act_table[act].relax = selected[act].relax;
}
