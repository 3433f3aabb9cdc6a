/*
 * Per-op checks at an operating point: an op's explicit Jacobian, VJP and JVP
 * against central finite differences (two steps, Richardson) of its float64
 * forward, and the adjoint identity <JVP(u), v> = <u, VJP(v)>. The chain's
 * ops are built from the code the chain runs: the linear op's functions (and,
 * in float32, layer 1's products by the packed kernel where the input
 * derivatives use it), the activation backend the chain selected
 * (check_act.c) and the fused softmax + cross-entropy head; the unfused head
 * is compared with the fused.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "check_internal.h"
#include "kernels/abt.h"

/* Finite-difference Jacobian (dout x din) of op->forward64 at in, and its error. */
static cr_status fd_jacobian(const cr_check_op *op, const double *in, double *jac, double *err) {
    size_t din = op->din, dout = op->dout;
    double *xp = malloc(din * sizeof *xp), *f = malloc(4 * dout * sizeof *f);
    double *d = malloc(2 * dout * sizeof *d);
    if (!xp || !f || !d) {
        free(xp), free(f), free(d);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    memcpy(xp, in, din * sizeof *xp);
    double inmax = 0;
    for (size_t j = 0; j < din; j++) inmax = fmax(inmax, fabs(in[j]));
    for (size_t j = 0; j < din; j++) {
        double h = chk_step(in[j]);
        const double steps[4] = {h, -h, 2 * h, -2 * h};
        for (int s = 0; s < 4; s++) {
            xp[j] = in[j] + steps[s];
            op->forward64(op->ctx, xp, f + s * dout);
        }
        xp[j] = in[j];
        /* rounding of f: of the size of its inputs or outputs (a log-sum-exp minus a
           logit cancels terms of the size of the logits) */
        double fs = inmax;
        for (size_t i = 0; i < dout; i++) fs = fmax(fs, fabs(f[i]));
        chk_fd_combine(dout, h, f, f + dout, f + 2 * dout, f + 3 * dout, fs, d, d + dout);
        for (size_t i = 0; i < dout; i++) jac[i * din + j] = d[i], err[i * din + j] = d[dout + i];
    }
    free(xp), free(f), free(d);
    return CR_OK;
}

/* The testing aid of cr_check_options: v[i] += 1% of max |v| on every third entry. */
/* The reference for a product of the finite-difference Jacobian Jfd (dout x din,
   row-major) with v: ref_r = Σ_c M_rc v_c with M_rc = jfd[r rs + c cs] (rs = 1,
   cs = din: v Jfd, r over the inputs; rs = din, cs = 1: Jfd v), its error
   Σ_c err_rc |v_c| and the scale of its terms Σ_c |M_rc v_c|. */
static void fd_product(const double *jfd, const double *jerr, const double *v, size_t rows,
                       size_t cols, size_t rs, size_t cs, double *ref, double *rerr, double *scl) {
    for (size_t r = 0; r < rows; r++) {
        double s = 0, e = 0, a = 0;
        for (size_t c = 0; c < cols; c++) {
            const size_t k = r * rs + c * cs;
            s += jfd[k] * v[c];
            e += jerr[k] * fabs(v[c]);
            a += fabs(jfd[k] * v[c]);
        }
        ref[r] = s, rerr[r] = e, scl[r] = a;
    }
}

static void inject(const cr_check_options *o, const cr_check_op *op, cr_check_kind kind, double *v,
                   size_t n) {
    if (o->inject_layer == 0 || o->inject_layer != op->layer || o->inject_kind != kind) return;
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    for (size_t i = 0; i < n; i += 3) v[i] += 0.01 * m;
}

cr_status cr_check_op_run(const cr_check_op *op, const double *in, const cr_check_options *opt,
                          cr_check_report *rep) {
    if (!op || !in || !rep || !op->forward64 || !op->din || !op->dout) return CR_FAIL(CR_ERR_ARG);
    cr_check_options o = chk_opts(opt);
    const cr_dtype t = op->dtype;
    const size_t din = op->din, dout = op->dout, es = cr_dtype_size(t), mx = din > dout ? din : dout;
    /* the analytic side's allowance: its rounding in dtype over a chain of its widths */
    const double geps = 4.0 * (double)(din + dout + 16) * (t == CR_F32 ? 1.1920929e-07 : 2.220446049250313e-16);
    double *jfd = malloc(din * dout * sizeof *jfd), *jerr = malloc(din * dout * sizeof *jerr);
    double *jan = malloc(din * dout * sizeof *jan), *g = malloc(dout * sizeof *g);
    double *u = malloc(din * sizeof *u), *ref = malloc(mx * sizeof *ref), *rerr = malloc(mx * sizeof *rerr);
    double *scl = malloc(mx * sizeof *scl), *va = malloc(mx * sizeof *va), *vjp = malloc(din * sizeof *vjp);
    void *tin = chk_to_dtype(t, in, din), *tjac = malloc(din * dout * es), *tv = malloc(mx * es);
    void *tr = malloc(mx * es);
    cr_status st = CR_OK;
    if (!jfd || !jerr || !jan || !g || !u || !ref || !rerr || !scl || !va || !vjp || !tin || !tjac ||
        !tv || !tr) {
        st = cr_fail_nomem("cr_check_op_run", (3 * din * dout + dout + 2 * din + 4 * mx) * sizeof(double) +
                                                  (din + din * dout + 2 * mx) * es);
        goto done;
    }
    if ((st = fd_jacobian(op, in, jfd, jerr)) != CR_OK) goto done;
    cr_rng rng;
    cr_rng_seed(&rng, o.seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(op->layer + 1)));
    for (size_t i = 0; i < dout; i++) g[i] = 2 * cr_rng_uniform(&rng) - 1;
    for (size_t j = 0; j < din; j++) u[j] = 2 * cr_rng_uniform(&rng) - 1;
    char what[96];
    chk_id id = {CR_CHECK_JACOBIAN, op->layer, op->name, what};
    if (op->jacobian) {
        op->jacobian(op->ctx, tin, tjac);
        for (size_t i = 0; i < din * dout; i++) jan[i] = chk_get(t, tjac, i);
        inject(&o, op, CR_CHECK_JACOBIAN, jan, din * dout);
        snprintf(what, sizeof what, "Jacobian (%zux%zu)", dout, din);
        if ((st = chk_compare(rep, &id, 1, din * dout, jan, jfd, jerr, NULL, op->floor_abs, geps, &o, 0)))
            goto done;
    }
    /* VJP: g J, reference g Jfd with error Σ_i |g_i| err_ij, terms Σ_i |g_i J_ij| */
    int have_vjp = 0;
    if (op->vjp) {
        fd_product(jfd, jerr, g, din, dout, 1, din, ref, rerr, scl);
        for (size_t i = 0; i < dout; i++) chk_set(t, tv, i, g[i]);
        op->vjp(op->ctx, tin, tv, tr);
        for (size_t j = 0; j < din; j++) vjp[j] = chk_get(t, tr, j);
        inject(&o, op, CR_CHECK_VJP, vjp, din);
        id.kind = CR_CHECK_VJP;
        snprintf(what, sizeof what, "VJP");
        double gmax = 0;
        for (size_t i = 0; i < dout; i++) gmax = fmax(gmax, fabs(g[i]));
        if ((st = chk_compare(rep, &id, 1, din, vjp, ref, rerr, scl, op->floor_abs * gmax, geps, &o, 0)))
            goto done;
        have_vjp = 1;
    }
    if (op->jvp) {
        fd_product(jfd, jerr, u, dout, din, din, 1, ref, rerr, scl);
        for (size_t j = 0; j < din; j++) chk_set(t, tv, j, u[j]);
        op->jvp(op->ctx, tin, tv, tr);
        for (size_t i = 0; i < dout; i++) va[i] = chk_get(t, tr, i);
        inject(&o, op, CR_CHECK_JVP, va, dout);
        id.kind = CR_CHECK_JVP;
        snprintf(what, sizeof what, "JVP");
        double umax = 0;
        for (size_t j = 0; j < din; j++) umax = fmax(umax, fabs(u[j]));
        if ((st = chk_compare(rep, &id, 1, dout, va, ref, rerr, scl, op->floor_abs * umax * (double)din,
                              geps, &o, 0)))
            goto done;
        if (have_vjp) {
            /* <JVP(u), g> = <u, VJP(g)>, both analytic: no finite differences */
            double lhs = 0, rhs = 0, sc = 0;
            for (size_t i = 0; i < dout; i++) lhs += va[i] * g[i], sc += fabs(va[i] * g[i]);
            for (size_t j = 0; j < din; j++) rhs += u[j] * vjp[j], sc += fabs(u[j] * vjp[j]);
            id.kind = CR_CHECK_ADJOINT;
            snprintf(what, sizeof what, "adjoint <JVP(u),v> = <u,VJP(v)>");
            if ((st = chk_identity(rep, &id, lhs, rhs, sc, geps, &o))) goto done;
        }
    }
    st = CR_OK;
done:
    free(jfd), free(jerr), free(jan), free(g), free(u), free(ref), free(rerr), free(scl), free(va);
    free(vjp), free(tin), free(tjac), free(tv), free(tr);
    return st;
}

/* ------------------------------------------------------------ the chain's ops */

int cr_check_net_op_count(const cr_net *net) {
    if (!net) return 0;
    int links = net->link_form[0] != CR_AFFINE_NONE; /* link 0, and links after layers (BatchNorm) */
    for (int l = 0; l < net->n_layers; l++) links += net->link_form[l + 1] != CR_AFFINE_NONE;
    return 2 * net->n_layers + links + (net->has_out_act ? 1 : 0);
}

typedef struct {
    const cr_net *net, *net64;
    int l;             /* linear layer, or the layer whose activation */
    cr_activation act;
    const double *y;   /* head: targets (K, float64) */
    const void *ty;    /* head: targets in dtype */
    void *scratch;     /* 2 x the widest layer, in dtype: the callbacks' h, ŷ and rows (they
                          return nothing, so they must not allocate: a failure would go unseen) */
} op_ctx;

static const void *wptr(const cr_net *net, int l) {
    return (const char *)net->params + net->w_offset[l] * cr_dtype_size(net->dtype);
}

static void linear_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    const double *p = o->net64->params;
    cr_linear_forward_f64(1, o->net64->dims[o->l], o->net64->dims[o->l + 1], in,
                          p + o->net64->w_offset[o->l], p + o->net64->b_offset[o->l], out);
}
static void linear_jac(const void *c, const void *in, void *jac) {
    const op_ctx *o = c;
    (void)in;
    size_t d = o->net->dims[o->l], h = o->net->dims[o->l + 1];
    if (o->net->dtype == CR_F32) cr_linear_jacobian_f32(d, h, wptr(o->net, o->l), jac);
    else cr_linear_jacobian_f64(d, h, wptr(o->net, o->l), jac);
}
static void linear_vjp(const void *c, const void *in, const void *g, void *gin) {
    const op_ctx *o = c;
    (void)in;
    size_t d = o->net->dims[o->l], h = o->net->dims[o->l + 1];
    if (o->net->dtype == CR_F32) cr_linear_vjp_f32(1, d, h, wptr(o->net, o->l), g, gin);
    else cr_linear_vjp_f64(1, d, h, wptr(o->net, o->l), g, gin);
}
static void linear_jvp(const void *c, const void *in, const void *u, void *out) {
    const op_ctx *o = c;
    (void)in;
    size_t d = o->net->dims[o->l], h = o->net->dims[o->l + 1];
    if (o->net->dtype == CR_F32) cr_linear_jvp_f32(1, d, h, wptr(o->net, o->l), u, out);
    else cr_linear_jvp_f64(1, d, h, wptr(o->net, o->l), u, out);
}

/* Layer 1's products as the float32 input derivatives and Jacobians run them
   (cr_abt_pays): the VJP g W_1ᵀ and the JVP u W_1 (the forward product x W_1)
   by the packed kernel, W_1 packed both ways as input_util.tmpl.h packs it.
   A planted fault in that kernel (cr_abt_replace) is named by this op. */
typedef struct {
    op_ctx base;
    cr_abt_packed w, wt; /* B = W_1 (D × H) and B = W_1ᵀ (H × D), owned */
} packed_ctx;

static void packed_vjp(const void *c, const void *in, const void *g, void *gin) {
    const packed_ctx *p = c;
    (void)in;
    cr_abt_gemm(1, 1, g, p->w.k, NULL, &p->w, gin, p->w.n);
}
static void packed_jvp(const void *c, const void *in, const void *u, void *out) {
    const packed_ctx *p = c;
    (void)in;
    cr_abt_gemm(1, 1, u, p->wt.k, NULL, &p->wt, out, p->wt.n);
}

/* Link 0, the input's affine link (ops/affine.tmpl.c): the float64 forward written
   out independently (chk_link64), the Jacobian, VJP and JVP the running op's. */
static void link_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    for (size_t j = 0; j < o->net64->dims[0]; j++) out[j] = chk_link64(o->net64, 0, j, in[j]);
}
#define LINK_CALL(CALL32, CALL64)                                                    \
    const op_ctx *o = c;                                                             \
    const size_t d = o->net->dims[0];                                                \
    if (o->net->dtype == CR_F32) {                                                   \
        cr_affine_f32 a;                                                             \
        cr_net_affine_f32(o->net, 0, &a);                                            \
        CALL32;                                                                      \
    } else {                                                                         \
        cr_affine_f64 a;                                                             \
        cr_net_affine_f64(o->net, 0, &a);                                            \
        CALL64;                                                                      \
    }
static void link_jac(const void *c, const void *in, void *jac) {
    (void)in;
    LINK_CALL(cr_affine_jacobian_f32(&a, d, jac), cr_affine_jacobian_f64(&a, d, jac))
}
static void link_vjp(const void *c, const void *in, const void *g, void *gin) {
    (void)in;
    LINK_CALL(cr_affine_vjp_f32(&a, 1, d, g, gin), cr_affine_vjp_f64(&a, 1, d, g, gin))
}
static void link_jvp(const void *c, const void *in, const void *u, void *out) {
    (void)in;
    LINK_CALL(cr_affine_jvp_f32(&a, 1, d, u, out), cr_affine_jvp_f64(&a, 1, d, u, out))
}

/* The affine link after linear layer l (BatchNorm): forward by the plain float64
   formula of check_core.c, Jacobian, VJP and JVP by the op file (src/ops/affine.tmpl.c)
   on the net's stored vectors. */
static void layer_link_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    memcpy(out, in, o->net->dims[o->l + 1] * sizeof *out);
    chk_layer_link64(o->net64, o->l, out);
}
static void layer_link_jac(const void *c, const void *in, void *jac) {
    const op_ctx *o = c;
    (void)in;
    size_t d = o->net->dims[o->l + 1];
    cr_affine_f32 a32;
    cr_affine_f64 a64;
    if (o->net->dtype == CR_F32 && cr_net_affine_f32(o->net, o->l + 1, &a32) == CR_OK)
        cr_affine_jacobian_f32(&a32, d, jac);
    else if (o->net->dtype == CR_F64 && cr_net_affine_f64(o->net, o->l + 1, &a64) == CR_OK)
        cr_affine_jacobian_f64(&a64, d, jac);
}
#define LINK_WRAP(NAME, OP)                                                               \
    static void NAME(const void *c, const void *in, const void *v, void *out) {           \
        const op_ctx *o = c;                                                              \
        (void)in;                                                                         \
        size_t d = o->net->dims[o->l + 1];                                                \
        cr_affine_f32 a32;                                                                \
        cr_affine_f64 a64;                                                                \
        if (o->net->dtype == CR_F32 && cr_net_affine_f32(o->net, o->l + 1, &a32) == CR_OK) \
            cr_affine_##OP##_f32(&a32, 1, d, v, out);                                     \
        else if (o->net->dtype == CR_F64 && cr_net_affine_f64(o->net, o->l + 1, &a64) == CR_OK) \
            cr_affine_##OP##_f64(&a64, 1, d, v, out);                                     \
    }
LINK_WRAP(layer_link_vjp, vjp)
LINK_WRAP(layer_link_jvp, jvp)

/* The squared-error head as an op R^K -> R: J(o) = ½‖o − t‖², from cr_squared_error_*. */
static void sqerr_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    cr_squared_error_forward_f64(1, o->net->dims[o->net->n_layers], in, o->y, out);
}
static void sqerr_jac(const void *c, const void *in, void *jac) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    if (o->net->dtype == CR_F32) cr_squared_error_jacobian_f32(k, in, o->ty, jac);
    else cr_squared_error_jacobian_f64(k, in, o->ty, jac);
}
static void sqerr_vjp(const void *c, const void *in, const void *g, void *gin) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    if (o->net->dtype == CR_F32) cr_squared_error_vjp_f32(1, k, in, o->ty, g, gin);
    else cr_squared_error_vjp_f64(1, k, in, o->ty, g, gin);
}
static void sqerr_jvp(const void *c, const void *in, const void *u, void *out) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    if (o->net->dtype == CR_F32) cr_squared_error_jvp_f32(1, k, in, o->ty, u, out);
    else cr_squared_error_jvp_f64(1, k, in, o->ty, u, out);
}

static void act_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    for (size_t i = 0; i < o->net->dims[o->l + 1]; i++) out[i] = chk_act64(o->act, in[i]);
}
/* h = a(r) by the running backend, then its derivative; h in the context's scratch
   (the layer's width, at most the widest layer). */
#define ACT_WRAP(NAME, CALL)                                                         \
    static void NAME(const void *c, const void *in, const void *v, void *out) {      \
        const op_ctx *o = c;                                                         \
        size_t d = o->net->dims[o->l + 1];                                           \
        void *h = o->scratch;                                                        \
        chk_act_forward(o->net->dtype, o->act, d, in, h);                            \
        CALL;                                                                        \
    }
ACT_WRAP(act_vjp, chk_act_vjp(o->net->dtype, o->act, d, in, h, v, out))
ACT_WRAP(act_jvp, chk_act_jvp(o->net->dtype, o->act, d, in, h, v, out))
static void act_jac(const void *c, const void *in, void *jac) {
    const op_ctx *o = c;
    size_t d = o->net->dims[o->l + 1];
    void *h = o->scratch;
    chk_act_forward(o->net->dtype, o->act, d, in, h);
    chk_act_jacobian(o->net->dtype, o->act, d, in, h, jac);
}

/* The head as an op R^K -> R: J(θ) = softmax + cross-entropy, fused. */
static void head_fwd64(const void *c, const double *in, double *out) {
    const op_ctx *o = c;
    cr_softmax_ce_forward_f64(1, o->net->dims[o->net->n_layers], in, o->y, NULL, out);
}
static void head_vjp(const void *c, const void *in, const void *g, void *gin) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    void *yh = o->scratch; /* ŷ: the first K values */
    if (o->net->dtype == CR_F32) {
        float loss;
        cr_softmax_ce_forward_f32(1, k, in, o->ty, yh, &loss);
        cr_softmax_ce_vjp_f32(1, k, yh, o->ty, g, gin);
    } else {
        double loss;
        cr_softmax_ce_forward_f64(1, k, in, o->ty, yh, &loss);
        cr_softmax_ce_vjp_f64(1, k, yh, o->ty, g, gin);
    }
}
static void head_jac(const void *c, const void *in, void *jac) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    void *yh = o->scratch; /* ŷ: the first K values */
    if (o->net->dtype == CR_F32) {
        float loss;
        cr_softmax_ce_forward_f32(1, k, in, o->ty, yh, &loss);
        cr_softmax_ce_jacobian_f32(k, yh, o->ty, jac);
    } else {
        double loss;
        cr_softmax_ce_forward_f64(1, k, in, o->ty, yh, &loss);
        cr_softmax_ce_jacobian_f64(k, yh, o->ty, jac);
    }
}
/* JVP of the head: J'(θ) u = <ŷ − y, u>, from the Jacobian row */
static void head_jvp(const void *c, const void *in, const void *u, void *out) {
    const op_ctx *o = c;
    size_t k = o->net->dims[o->net->n_layers];
    cr_dtype t = o->net->dtype;
    void *row = (char *)o->scratch + k * cr_dtype_size(t); /* after head_jac's ŷ */
    head_jac(c, in, row);
    double s = 0;
    for (size_t i = 0; i < k; i++) s += chk_get(t, row, i) * chk_get(t, u, i);
    chk_set(t, out, 0, s);
}

cr_status cr_check_net_ops(const cr_net *net, size_t n, const void *x, const void *y,
                           const cr_check_options *opt, cr_check_report *rep) {
    if (!net || !x || !y || !rep || n == 0) return CR_FAIL(CR_ERR_ARG);
    cr_check_options o = chk_opts(opt);
    if (o.op_example >= n) return CR_FAIL(CR_ERR_ARG);
    const cr_dtype t = net->dtype;
    const int L = net->n_layers;
    const size_t D = net->dims[0], K = net->dims[L], e = o.op_example;
    size_t maxw = 0;
    for (int l = 0; l <= L; l++) maxw = net->dims[l] > maxw ? net->dims[l] : maxw;
    cr_net *net64 = NULL;
    double *x64 = chk_to_f64(t, (const char *)x + e * D * cr_dtype_size(t), D);
    double *y64 = chk_to_f64(t, (const char *)y + e * K * cr_dtype_size(t), K);
    double *in = malloc(maxw * sizeof *in), *r = malloc(maxw * sizeof *r);
    double *work = malloc(2 * maxw * sizeof *work);
    void *scratch = malloc(2 * maxw * cr_dtype_size(t)); /* the ops' callbacks' (op_ctx) */
    cr_status st = !x64 || !y64 || !in || !r || !work || !scratch
                       ? cr_fail_nomem("cr_check_net_ops", (D + K + 4 * maxw) * sizeof(double) +
                                                               2 * maxw * cr_dtype_size(t))
                       : cr_net_convert(net, CR_F64, &net64);
    if (st != CR_OK) goto done;
    const void *ty = (const char *)y + e * K * cr_dtype_size(t);
    int pos = 0;
    char name[32];
    if (net->link_form[0] != CR_AFFINE_NONE) { /* link 0 at the raw x */
        op_ctx c = {net, net64, 0, CR_ACT_SIGMOID, y64, ty, scratch};
        snprintf(name, sizeof name, "affine %s (input)", cr_affine_form_name(net->link_form[0]));
        cr_check_op op = {name, ++pos, t, D, D, &c, link_fwd64, link_jac, link_vjp, link_jvp, 0};
        if ((st = cr_check_op_run(&op, x64, &o, rep))) goto done;
    }
    for (int l = 0; l < L; l++) {
        /* the operating point of example e: the input of layer l and its r, float64 */
        chk_forward_to64(net64, l, x64, in, r, work);
        op_ctx c = {net, net64, l, CR_ACT_SIGMOID, y64, ty, scratch};
        cr_check_op op = {"linear", ++pos, t, net->dims[l], net->dims[l + 1], &c,
                          linear_fwd64, linear_jac, linear_vjp, linear_jvp, 0};
        if ((st = cr_check_op_run(&op, in, &o, rep))) goto done;
        if (l == 0 && t == CR_F32 && L >= 2 && cr_abt_pays(D, net->dims[1])) {
            const size_t H = net->dims[1];
            packed_ctx pc = {c, {0}, {0}};
            st = cr_abt_pack(D, H, wptr(net, 0), H, 0, 0, &pc.w);
            if (!st) st = cr_abt_pack(H, D, wptr(net, 0), H, 1, 0, &pc.wt);
            cr_check_op pk = {"linear, packed kernel", pos, t, D, H, &pc,
                              linear_fwd64, NULL, packed_vjp, packed_jvp, 0};
            if (!st) st = cr_check_op_run(&pk, in, &o, rep);
            cr_abt_free(&pc.w);
            cr_abt_free(&pc.wt);
            if (st) goto done;
        }
        if (net->link_form[l + 1] != CR_AFFINE_NONE) { /* the link after layer l, at r */
            snprintf(name, sizeof name, "%s", cr_affine_form_name(net->link_form[l + 1]));
            cr_check_op a = {name, ++pos, t, net->dims[l + 1], net->dims[l + 1], &c,
                             layer_link_fwd64, layer_link_jac, layer_link_vjp, layer_link_jvp, 0};
            if ((st = cr_check_op_run(&a, r, &o, rep))) goto done;
            chk_layer_link64(net64, l, r); /* r <- z, the activation's (or the head's) input */
        }
        if (l + 1 < L) {
            c.act = net->act[l];
            snprintf(name, sizeof name, "%s%s", cr_activation_name(net->act[l]),
                     chk_act_has_oracle(net->act[l]) ? "" : " (no oracle)");
            cr_check_op a = {name, ++pos, t, net->dims[l + 1], net->dims[l + 1], &c,
                             act_fwd64, act_jac, act_vjp, act_jvp, 0};
            if ((st = cr_check_op_run(&a, r, &o, rep))) goto done;
        } else {
            if (net->has_out_act) { /* the output activation o = a_out(θ), at θ */
                c.act = net->out_act;
                snprintf(name, sizeof name, "%s (output)%s", cr_activation_name(net->out_act),
                         chk_act_has_oracle(net->out_act) ? "" : " (no oracle)");
                cr_check_op a = {name, ++pos, t, K, K, &c, act_fwd64, act_jac, act_vjp, act_jvp, 0};
                if ((st = cr_check_op_run(&a, r, &o, rep))) goto done;
                for (size_t j = 0; j < K; j++) r[j] = chk_act64(net->out_act, r[j]); /* r <- o */
            }
            if (net->head == CR_HEAD_SQUARED_ERROR) { /* ½‖o − t‖² at o */
                double floor = 0; /* o − t is computed from terms of size |o| + |t| */
                for (size_t j = 0; j < K; j++) floor = fmax(floor, fabs(r[j]) + fabs(y64[j]));
                cr_check_op h = {"squared-error", ++pos, t, K, 1, &c,
                                 sqerr_fwd64, sqerr_jac, sqerr_vjp, sqerr_jvp, floor};
                if ((st = cr_check_op_run(&h, r, &o, rep))) goto done;
                continue;
            }
            cr_check_op h = {"softmax+cross-entropy", ++pos, t, K, 1, &c,
                             head_fwd64, head_jac, head_vjp, head_jvp, 1.0};
            if ((st = cr_check_op_run(&h, r, &o, rep))) goto done;
            /* the unfused head in float64: (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) vs ŷ − y */
            double *yh = work, *jsm = malloc(K * K * sizeof *jsm), *jce = malloc(K * sizeof *jce);
            double *un = malloc(K * sizeof *un), *fu = malloc(K * sizeof *fu);
            if (!jsm || !jce || !un || !fu) {
                free(jsm), free(jce), free(un), free(fu);
                st = cr_fail_nomem("cr_check_net_ops: the unfused head", (K * K + 3 * K) * sizeof(double));
                goto done;
            }
            cr_softmax_forward_f64(1, K, r, yh);
            cr_softmax_jacobian_f64(K, yh, jsm);
            cr_cross_entropy_jacobian_f64(K, yh, y64, jce);
            for (size_t j = 0; j < K; j++) {
                double s = 0;
                for (size_t i = 0; i < K; i++) s += jce[i] * jsm[i * K + j];
                un[j] = s;
            }
            cr_softmax_ce_jacobian_f64(K, yh, y64, fu);
            chk_id id = {CR_CHECK_HEAD_UNFUSED, pos, "softmax+cross-entropy",
                         "unfused (-y/yhat) J_softmax vs fused yhat - y"};
            /* terms: y_i/ŷ_i · ŷ_i(…) are of size (|y| + |ŷ|): floor 1 */
            st = chk_compare(rep, &id, 1, K, un, fu, NULL, NULL, 1.0, chk_gamma_eps(net, CR_F64), &o, 0);
            free(jsm), free(jce), free(un), free(fu);
            if (st) goto done;
        }
    }
    st = CR_OK;
done:
    cr_net_free(net64);
    free(x64), free(y64), free(in), free(r), free(work), free(scratch);
    return st;
}
