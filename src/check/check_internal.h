/*
 * Private helpers of the verification library (src/check): the one
 * comparison with its tolerance, the finite-difference combination, a plain
 * float64 forward of the chain's tail (the finite differences' oracle,
 * independent of the library's walks), and the activation the chain runs.
 */
#ifndef CR_CHECK_INTERNAL_H
#define CR_CHECK_INTERNAL_H

#include <stddef.h>

#include "net/net_internal.h"
#include "chainrule.h"
#include "chainrule_check.h"

/* Base step of every central difference: h = CHK_STEP * max(1, |x|); the
   second step is 2h (see docs/verification.md). */
#define CHK_STEP 1e-5

/* γ ε_dtype: the rounding allowed to an analytic result computed in dtype by
   a chain of the net's widths. */
double chk_gamma_eps(const cr_net *net, cr_dtype dtype);

/*
 * Derivatives from values at x ± h and x ± 2h (m outputs each): the
 * Richardson value (4 D(h) − D(2h)) / 3 into deriv and its error estimate
 * |D(h) − D(2h)| + 4 ε (1 + |f|) / h into err (either may alias nothing).
 * `fscale` is the size of f (its rounding ~ε fscale), or 0 to take |f(x±h)|.
 */
void chk_fd_combine(size_t m, double h, const double *fp1, const double *fm1, const double *fp2,
                    const double *fm2, double fscale, double *deriv, double *err);

/* A step h for x and the exact difference (x + h) − x as represented. */
double chk_step(double x);

/*
 * Compares analytic a with reference r, rows x cols row-major. fd_err (rows x
 * cols, may be NULL) is the reference's estimated error per entry; scale (rows
 * x cols, may be NULL) the size of the terms the analytic side summed;
 * floor_abs an absolute rounding floor of the analytic side (in units of
 * scale); gamma_eps its relative rounding allowance. Appends one result.
 */
typedef struct {
    cr_check_kind kind;
    int layer;
    const char *op;
    const char *what;
} chk_id;

cr_status chk_compare(cr_check_report *rep, const chk_id *id, size_t rows, size_t cols,
                      const double *a, const double *r, const double *fd_err, const double *scale,
                      double floor_abs, double gamma_eps, const cr_check_options *opt,
                      size_t total);
/* A scalar identity lhs = rhs (adjoint tests) with allowance gamma_eps · scale. */
cr_status chk_identity(cr_check_report *rep, const chk_id *id, double lhs, double rhs,
                       double scale, double gamma_eps, const cr_check_options *opt);

/* The option defaults filled in where opt is NULL. */
cr_check_options chk_opts(const cr_check_options *opt);

/*
 * The chain's tail in float64 with plain loops: from the pre-activation r of
 * linear layer l (dims[l+1] values) of one example through the remaining
 * layers of net64 (a float64 net), its output activation and its head; writes
 * the head's prediction (K, may be NULL: the probabilities S(o), or the
 * outputs o for squared error) and returns J (−Σ y log ŷ, or ½‖o − y‖²) when
 * y != NULL (else 0). work: 2 * max width.
 */
double chk_tail64(const cr_net *net64, int l, const double *r, const double *y, double *probs,
                  double *work);
/* The affine link `link` of net64 (a float64 net) on feature j, written out from its
   form independently of ops/affine.tmpl.c (x itself without a link), and its
   derivative a_j. */
double chk_link64(const cr_net *net64, int link, size_t j, double x);
double chk_link_deriv64(const cr_net *net64, int link, size_t j);
/* Plain-loop forward of one example of net64 (link 0 first) up to the pre-activation
   of layer l: writes in (the input of layer l, dims[l]) and r (dims[l+1]). work: 2 * max width. */
void chk_forward_to64(const cr_net *net64, int l, const double *x, double *in, double *r,
                      double *work);
/* The affine link after linear layer l of net64 (link l + 1: BatchNorm in inference
   mode, z = (r − μ) / √(v + ε) · γ + β) by chk_link64, in place on r (dims[l+1]);
   nothing when layer l has no link. chk_layer_link_diag64 writes its diagonal
   ∂z/∂r (1s without a link) and returns whether there is one. */
void chk_layer_link64(const cr_net *net64, int l, double *r);
int chk_layer_link_diag64(const cr_net *net64, int l, double *diag);
/* Plain-loop element-wise activation and its derivative, float64 (the oracle):
   the row's independent formula (act_table.h), NaN for a row without one. */
double chk_act64(cr_activation act, double r);
/* 1 when act's row has an independent formula (0: its checks fail, reported). */
int chk_act_has_oracle(cr_activation act);
/* Its derivative a'(r) (ReLU: 0 at the kink, as the op file). */
double chk_act_deriv64(cr_activation act, double r);
/* The same formula with h = a(r) given (the tape's), for a formula in h. */
double chk_act_deriv64_at(cr_activation act, double r, double h);

/* The activation the chain runs (its selected backend) in dtype; buffers of dtype. */
const char *chk_act_backend(cr_dtype t, cr_activation act);
void chk_act_forward(cr_dtype t, cr_activation act, size_t n, const void *r, void *h);
void chk_act_vjp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *g, void *gr);
void chk_act_jvp(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                 const void *rd, void *hd);
void chk_act_jacobian(cr_dtype t, cr_activation act, size_t n, const void *r, const void *h,
                      void *jac);

/* Scalar i of a real buffer as double, and back. */
static inline double chk_get(cr_dtype t, const void *p, size_t i) {
    return t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static inline void chk_set(cr_dtype t, void *p, size_t i, double v) {
    if (t == CR_F64) ((double *)p)[i] = v;
    else ((float *)p)[i] = (float)v;
}
/* malloc'd copy of n doubles in dtype t (NULL on failure). */
void *chk_to_dtype(cr_dtype t, const double *src, size_t n);
/* malloc'd float64 copy of n scalars of dtype t. */
double *chk_to_f64(cr_dtype t, const void *src, size_t n);

/* A float64 copy of the net, the oracle's per-layer activations of every
   example, and the size of the terms of each reverse step (the abs chain). */
typedef struct {
    const cr_net *net;
    cr_net *net64;
    size_t n, maxw;
    double *x, *y;              /* n x D, n x K float64 */
    double *in[CR_MAX_LAYERS];  /* n x dims[l]: input of linear layer l */
    double *pre[CR_MAX_LAYERS]; /* n x dims[l+1]: r_l */
    double *abs[CR_MAX_LAYERS + 1]; /* n x dims[l+1]: Σ|terms| of dJ/dr_l; abs[L]... abs of dJ/dx at [CR_MAX_LAYERS] */
    double *loss;               /* n */
    double *work;               /* 2 * maxw */
} chk_oracle;

/* Builds the oracle for x (n x D) and y (n x K, may be NULL) of net's dtype. */
cr_status chk_oracle_make(chk_oracle *o, const cr_net *net, size_t n, const void *x, const void *y);
void chk_oracle_free(chk_oracle *o);
/* dJ_i/dx_i (g, gerr: D) and/or the K x D probability Jacobian (jac, jerr) of
   example i by finite differences of the oracle along each raw x_j (through the
   net's input link, if any). */
cr_status chk_fd_input(const chk_oracle *o, size_t i, double *g,
                       double *gerr, double *jac, double *jerr);

#endif
