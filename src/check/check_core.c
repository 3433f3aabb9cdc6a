/*
 * The verification library's core: results, options, the one comparison of
 * an analytic derivative with its reference (and its tolerance), the
 * combination of central differences at two steps, and the plain-loop
 * float64 oracle of the chain used by every finite difference.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "check_internal.h"
#include "ops/act_table.h"

const char *cr_check_kind_name(cr_check_kind kind) {
    static const char *const names[CR_CHECK_KIND_COUNT] = {
        "Jacobian", "VJP", "JVP", "adjoint", "unfused head", "input gradient",
        "backward dx", "input Jacobian", "parameter gradient", "network adjoint",
        "Jacobian product", "closed form"};
    return (unsigned)kind < CR_CHECK_KIND_COUNT ? names[kind] : "?";
}

void cr_check_report_init(cr_check_report *rep) { memset(rep, 0, sizeof *rep); }

void cr_check_report_free(cr_check_report *rep) {
    if (!rep) return;
    free(rep->items);
    memset(rep, 0, sizeof *rep);
}

const cr_check_result *cr_check_report_first_failure(const cr_check_report *rep) {
    for (size_t i = 0; rep && i < rep->n; i++)
        if (!rep->items[i].pass) return &rep->items[i];
    return NULL;
}

cr_check_options cr_check_options_default(void) {
    cr_check_options o = {0};
    o.seed = 1;
    o.samples = 256;
    o.jac_examples = 4;
    o.safety = 4;
    return o;
}

cr_check_options chk_opts(const cr_check_options *opt) {
    cr_check_options o = opt ? *opt : cr_check_options_default();
    if (!(o.safety > 0)) o.safety = 4;
    return o;
}

static cr_check_result *add(cr_check_report *rep, const chk_id *id) {
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? 2 * rep->cap : 32;
        cr_check_result *p = realloc(rep->items, cap * sizeof *p);
        if (!p) return NULL;
        rep->items = p;
        rep->cap = cap;
    }
    cr_check_result *r = &rep->items[rep->n++];
    memset(r, 0, sizeof *r);
    r->kind = id->kind;
    r->layer = id->layer;
    strncpy(r->op, id->op ? id->op : "network", sizeof r->op - 1);
    strncpy(r->what, id->what ? id->what : cr_check_kind_name(id->kind), sizeof r->what - 1);
    return r;
}

double chk_gamma_eps(const cr_net *net, cr_dtype dtype) {
    size_t widths = 16;
    for (int l = 0; l <= net->n_layers; l++) widths += net->dims[l];
    return 4.0 * (double)widths * (dtype == CR_F32 ? (double)FLT_EPSILON : DBL_EPSILON);
}

double chk_step(double x) {
    double h = CHK_STEP * fmax(1.0, fabs(x));
    volatile double xp = x + h; /* the step as represented */
    return xp - x;
}

void chk_fd_combine(size_t m, double h, const double *fp1, const double *fm1, const double *fp2,
                    const double *fm2, double fscale, double *deriv, double *err) {
    for (size_t i = 0; i < m; i++) {
        double d1 = (fp1[i] - fm1[i]) / (2 * h), d2 = (fp2[i] - fm2[i]) / (4 * h);
        double f = fscale > 0 ? fscale : fmax(fabs(fp1[i]), fabs(fm1[i]));
        if (deriv) deriv[i] = (4 * d1 - d2) / 3;
        if (err) err[i] = fabs(d1 - d2) + 4 * DBL_EPSILON * (1 + f) / h;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (n > 0), using tmp (n). */
static double median(const double *v, size_t n, double *tmp) {
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return tmp[n / 2];
}

cr_status chk_compare(cr_check_report *rep, const chk_id *id, size_t rows, size_t cols,
                      const double *a, const double *r, const double *fd_err, const double *scale,
                      double floor_abs, double gamma_eps, const cr_check_options *opt,
                      size_t total) {
    cr_check_options o = chk_opts(opt);
    double *tmp = fd_err ? malloc((cols ? cols : 1) * sizeof *tmp) : NULL;
    cr_check_result *res = (fd_err && !tmp) ? NULL : add(rep, id);
    if (!res) {
        free(tmp);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    res->checked = rows * cols;
    res->total = total ? total : rows * cols;
    res->pass = 1;
    res->trivial = 1;
    double worst_ratio = -1;
    for (size_t i = 0; i < rows; i++) {
        const double *ai = a + i * cols, *ri = r + i * cols;
        /* the row's typical finite-difference error: a single entry whose two
           steps straddle a kink, or whose rounding happened to cancel, is held to
           at least the median of its row */
        double fd_med = fd_err ? median(fd_err + i * cols, cols, tmp) : 0;
        double err = 0, rmax = 0, smax = floor_abs, ratio = 0, tol_row = 0;
        for (size_t j = 0; j < cols; j++) {
            rmax = fmax(rmax, fabs(ri[j]));
            smax = fmax(smax, fmax(fabs(ri[j]), scale ? scale[i * cols + j] : 0));
        }
        double an_tol = gamma_eps * smax;
        for (size_t j = 0; j < cols; j++) {
            double d = fabs(ai[j] - ri[j]);
            if (isnan(d)) d = INFINITY;
            double t = o.tol_override > 0 ? o.tol_override * rmax
                                          : o.safety * (fd_err ? fmax(fd_err[i * cols + j], fd_med) : 0) + an_tol;
            double q = d > 0 ? (t > 0 ? d / t : INFINITY) : 0;
            if (q > ratio || j == 0) ratio = q, tol_row = t;
            err = fmax(err, d);
            if (d > t) res->pass = 0;
        }
        if (!(rmax > tol_row)) { /* within its tolerance of zero */
        } else
            res->trivial = 0;
        if (ratio > worst_ratio) {
            worst_ratio = ratio;
            res->worst = i;
            res->max_err = err;
            res->ref_max = rmax;
            res->tol = tol_row;
        }
    }
    res->rel_err = res->ref_max > 0 ? res->max_err / res->ref_max : (res->max_err > 0 ? INFINITY : 0);
    if (!res->pass) rep->failures++;
    free(tmp);
    return CR_OK;
}

cr_status chk_identity(cr_check_report *rep, const chk_id *id, double lhs, double rhs,
                       double scale, double gamma_eps, const cr_check_options *opt) {
    cr_check_options o = chk_opts(opt);
    cr_check_result *res = add(rep, id);
    if (!res) return CR_FAIL(CR_ERR_NOMEM);
    double d = fabs(lhs - rhs), m = fmax(fabs(lhs), fabs(rhs));
    if (isnan(d)) d = INFINITY;
    res->max_err = d;
    res->ref_max = m;
    res->tol = o.tol_override > 0 ? o.tol_override * m : gamma_eps * fmax(scale, m);
    res->rel_err = m > 0 ? d / m : (d > 0 ? INFINITY : 0);
    res->checked = res->total = 1;
    res->pass = d <= res->tol;
    res->trivial = !(m > res->tol);
    if (!res->pass) rep->failures++;
    return CR_OK;
}

void *chk_to_dtype(cr_dtype t, const double *src, size_t n) {
    void *p = malloc((n ? n : 1) * cr_dtype_size(t));
    if (p)
        for (size_t i = 0; i < n; i++) chk_set(t, p, i, src[i]);
    return p;
}

double *chk_to_f64(cr_dtype t, const void *src, size_t n) {
    double *p = malloc((n ? n : 1) * sizeof *p);
    if (p)
        for (size_t i = 0; i < n; i++) p[i] = chk_get(t, src, i);
    return p;
}

/* ------------------------------------------------------------ the oracle */

/* The independent float64 formulas of the rows (act_table.h: oracle_h and
   oracle_d, expressions in r and h), never the op files' code. A row without
   one has (NAN): its checks fail and say so (chk_act_has_oracle). */
static double oracle_h(cr_activation act, double r) {
#define CR_ACT_ORACLE_H(e, fn, name, init, op, opset, alpha, pattern, st, sm, dt, dm, oh, od) \
    case e: return (oh);
    switch (act) {
        CR_ACT_ROWS(CR_ACT_ORACLE_H)
    default: return NAN;
    }
#undef CR_ACT_ORACLE_H
}

static double oracle_d(cr_activation act, double r, double h) {
    (void)h;
#define CR_ACT_ORACLE_D(e, fn, name, init, op, opset, alpha, pattern, st, sm, dt, dm, oh, od) \
    case e: return (od);
    switch (act) {
        CR_ACT_ROWS(CR_ACT_ORACLE_D)
    default: return NAN;
    }
#undef CR_ACT_ORACLE_D
}

int chk_act_has_oracle(cr_activation act) {
    return !isnan(oracle_h(act, 0.5)) && !isnan(oracle_d(act, 0.5, oracle_h(act, 0.5)));
}

double chk_act64(cr_activation act, double r) { return oracle_h(act, r); }

double chk_act_deriv64(cr_activation act, double r) { return oracle_d(act, r, oracle_h(act, r)); }

double chk_act_deriv64_at(cr_activation act, double r, double h) { return oracle_d(act, r, h); }

/* out (dout) = in (din) W + b, plain loops in float64. */
static void linear64(const cr_net *net64, int l, const double *in, double *out) {
    const double *p = net64->params, *w = p + net64->w_offset[l], *b = p + net64->b_offset[l];
    size_t din = net64->dims[l], dout = net64->dims[l + 1];
    for (size_t k = 0; k < dout; k++) out[k] = b[k];
    for (size_t i = 0; i < din; i++) {
        double v = in[i];
        if (v == 0) continue;
        const double *wi = w + i * dout;
        for (size_t k = 0; k < dout; k++) out[k] += v * wi[k];
    }
}

double chk_link64(const cr_net *net64, int link, size_t j, double x) {
    const size_t d = net64->dims[link];
    const double *v = (const double *)net64->link_params + net64->link_offset[link];
    const double p = v[j], q = v[d + j], s = v[2 * d + j], t = v[3 * d + j];
    switch (net64->link_form[link]) {
    case CR_AFFINE_SUB_DIV: return (x - p) / q;
    case CR_AFFINE_SUB_MUL: return (x - p) * q;
    case CR_AFFINE_MUL_ADD: return x * p + q;
    case CR_AFFINE_BATCHNORM: return (x - p) / sqrt(q + net64->link_eps[link]) * s + t;
    default: return x;
    }
}

double chk_link_deriv64(const cr_net *net64, int link, size_t j) {
    const size_t d = net64->dims[link];
    const double *v = (const double *)net64->link_params + net64->link_offset[link];
    switch (net64->link_form[link]) {
    case CR_AFFINE_SUB_DIV: return 1 / v[d + j];
    case CR_AFFINE_SUB_MUL: return v[d + j];
    case CR_AFFINE_MUL_ADD: return v[j];
    case CR_AFFINE_BATCHNORM: return v[2 * d + j] / sqrt(v[d + j] + net64->link_eps[link]);
    default: return 1;
    }
}

void chk_layer_link64(const cr_net *net64, int l, double *r) {
    if (net64->link_form[l + 1] == CR_AFFINE_NONE) return;
    for (size_t k = 0; k < net64->dims[l + 1]; k++) r[k] = chk_link64(net64, l + 1, k, r[k]);
}

int chk_layer_link_diag64(const cr_net *net64, int l, double *diag) {
    for (size_t k = 0; k < net64->dims[l + 1]; k++) diag[k] = chk_link_deriv64(net64, l + 1, k);
    return net64->link_form[l + 1] != CR_AFFINE_NONE;
}

void chk_forward_to64(const cr_net *net64, int l, const double *x, double *in, double *r,
                      double *work) {
    size_t maxw = 0;
    for (int i = 0; i <= net64->n_layers; i++) maxw = net64->dims[i] > maxw ? net64->dims[i] : maxw;
    double *a = work, *b = work + maxw;
    for (size_t j = 0; j < net64->dims[0]; j++) a[j] = chk_link64(net64, 0, j, x[j]); /* link 0 */
    for (int i = 0; i < l; i++) {
        linear64(net64, i, a, b);
        chk_layer_link64(net64, i, b);
        for (size_t k = 0; k < net64->dims[i + 1]; k++) a[k] = chk_act64(net64->act[i], b[k]);
    }
    memcpy(in, a, net64->dims[l] * sizeof *in);
    linear64(net64, l, a, r);
}

double chk_tail64(const cr_net *net64, int l, const double *r, const double *y, double *probs,
                  double *work) {
    const int L = net64->n_layers;
    size_t maxw = 0;
    for (int i = 0; i <= L; i++) maxw = net64->dims[i] > maxw ? net64->dims[i] : maxw;
    double *a = work, *b = work + maxw;
    memcpy(b, r, net64->dims[l + 1] * sizeof *b);
    chk_layer_link64(net64, l, b);
    for (int i = l + 1; i < L; i++) {
        for (size_t k = 0; k < net64->dims[i]; k++) a[k] = chk_act64(net64->act[i - 1], b[k]);
        linear64(net64, i, a, b);
        chk_layer_link64(net64, i, b);
    }
    size_t K = net64->dims[L];
    if (net64->has_out_act) /* o = a_out(θ) */
        for (size_t k = 0; k < K; k++) b[k] = chk_act64(net64->out_act, b[k]);
    if (net64->head == CR_HEAD_SQUARED_ERROR) { /* the outputs, J = ½‖o − t‖² */
        double J = 0;
        if (probs) memcpy(probs, b, K * sizeof *probs);
        if (y)
            for (size_t k = 0; k < K; k++) J += 0.5 * (b[k] - y[k]) * (b[k] - y[k]);
        return J;
    }
    /* b = logits: log-sum-exp with the max subtracted */
    double m = -INFINITY, s = 0;
    for (size_t k = 0; k < K; k++) m = fmax(m, b[k]);
    for (size_t k = 0; k < K; k++) s += exp(b[k] - m);
    double lse = m + log(s), J = 0;
    if (probs)
        for (size_t k = 0; k < K; k++) probs[k] = exp(b[k] - lse);
    if (y)
        for (size_t k = 0; k < K; k++)
            if (y[k] != 0) J += y[k] * (lse - b[k]);
    return J;
}
