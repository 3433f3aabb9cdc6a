/*
 * Whole-network checks on data: dJ_n/dx_n of every example (from
 * cr_net_input_grad, what `grad` runs, and from cr_net_backward), the input
 * Jacobian in every mode, every parameter tensor of the training step's
 * gradient, and the adjoint identity between forward and reverse mode.
 *
 * The reference is a central difference at two steps (Richardson) of a
 * plain-loop float64 forward (check_core.c). Perturbing x_j (or one weight of
 * layer l) moves only r_0 by step·W_1[j,:] (or one column of r_l), so each
 * difference re-runs the chain's tail from that layer, exactly the function
 * J(x) along the step, at a fraction of the cost of a whole forward pass.
 */
#include "core/fail.h"
#include "chainrule_typed.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "check_internal.h"

void chk_oracle_free(chk_oracle *o) {
    cr_net_free(o->net64);
    free(o->x), free(o->y), free(o->loss), free(o->work);
    for (int l = 0; l < CR_MAX_LAYERS; l++) free(o->in[l]), free(o->pre[l]), free(o->abs[l]);
    free(o->abs[CR_MAX_LAYERS]);
}

cr_status chk_oracle_make(chk_oracle *o, const cr_net *net, size_t n, const void *x, const void *y) {
    memset(o, 0, sizeof *o);
    const int L = net->n_layers;
    const size_t D = net->dims[0], K = net->dims[L];
    o->net = net;
    o->n = n;
    for (int l = 0; l <= L; l++) o->maxw = net->dims[l] > o->maxw ? net->dims[l] : o->maxw;
    if (cr_net_convert(net, CR_F64, &o->net64) != CR_OK) return CR_FAIL(CR_ERR_NOMEM);
    o->x = chk_to_f64(net->dtype, x, n * D);
    o->y = y ? chk_to_f64(net->dtype, y, n * K) : NULL;
    o->loss = malloc(n * sizeof *o->loss);
    o->work = malloc(2 * o->maxw * sizeof *o->work);
    if (!o->x || (y && !o->y) || !o->loss || !o->work) return CR_FAIL(CR_ERR_NOMEM);
    for (int l = 0; l < L; l++) {
        o->in[l] = malloc(n * net->dims[l] * sizeof(double));
        o->pre[l] = malloc(n * net->dims[l + 1] * sizeof(double));
        o->abs[l] = malloc(n * net->dims[l + 1] * sizeof(double));
        if (!o->in[l] || !o->pre[l] || !o->abs[l]) return CR_FAIL(CR_ERR_NOMEM);
    }
    o->abs[CR_MAX_LAYERS] = malloc(n * D * sizeof(double));
    if (!o->abs[CR_MAX_LAYERS]) return CR_FAIL(CR_ERR_NOMEM);
    const double *P = o->net64->params;
    double *a = malloc(o->maxw * sizeof *a), *b = malloc(o->maxw * sizeof *b);
    double *z = malloc(o->maxw * sizeof *z); /* a link's output z = link(r) (BatchNorm) */
    if (!a || !b || !z) {
        free(a), free(b), free(z);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    for (size_t i = 0; i < n; i++) {
        for (int l = 0; l < L; l++) {
            chk_forward_to64(o->net64, l, o->x + i * D, o->in[l] + i * net->dims[l],
                             o->pre[l] + i * net->dims[l + 1], o->work);
        }
        o->loss[i] = o->y ? chk_tail64(o->net64, L - 1, o->pre[L - 1] + i * K, o->y + i * K, NULL, o->work) : 0;
        /* the abs chain: |ŷ| + |y| <= 2 at the outputs (|o| + |t| for squared error),
           ∘ |a_out'(θ)| to the logits, then |·| |W_l|ᵀ ∘ |a'(r)| */
        const double *yi = o->y ? o->y + i * K : NULL, *th = z;
        memcpy(z, o->pre[L - 1] + i * K, K * sizeof *z);
        chk_layer_link64(o->net64, L - 1, z);
        for (size_t k = 0; k < K; k++) {
            double ok = net->has_out_act ? chk_act64(net->out_act, th[k]) : th[k];
            a[k] = net->head == CR_HEAD_SQUARED_ERROR ? fabs(ok) + (yi ? fabs(yi[k]) : 0) : 2;
            if (net->has_out_act)
                a[k] *= net->out_act == CR_ACT_RELU && th[k] == 0 ? 1 : fabs(chk_act_deriv64(net->out_act, th[k]));
        }
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l], dout = net->dims[l + 1];
            if (chk_layer_link_diag64(o->net64, l, z)) /* ∘ |diag| of the link after layer l */
                for (size_t q = 0; q < dout; q++) a[q] *= fabs(z[q]);
            memcpy(o->abs[l] + i * dout, a, dout * sizeof *a);
            const double *w = P + o->net64->w_offset[l];
            for (size_t p = 0; p < din; p++) {
                double s = 0;
                for (size_t q = 0; q < dout; q++) s += a[q] * fabs(w[p * dout + q]);
                b[p] = s;
            }
            if (l > 0) {
                const double *r = z; /* the activation's input z_{l−1} = link(r_{l−1}) */
                memcpy(z, o->pre[l - 1] + i * din, din * sizeof *z);
                chk_layer_link64(o->net64, l - 1, z);
                for (size_t p = 0; p < din; p++) {
                    /* at a ReLU kink either side: take the larger, 1 */
                    double d = net->act[l - 1] == CR_ACT_RELU && r[p] == 0 ? 1 : chk_act_deriv64(net->act[l - 1], r[p]);
                    b[p] *= fabs(d);
                }
            } else { /* ∘ |a| of link 0 */
                for (size_t p = 0; p < D; p++) b[p] *= fabs(chk_link_deriv64(o->net64, 0, p));
                memcpy(o->abs[CR_MAX_LAYERS] + i * D, b, D * sizeof *b);
            }
            memcpy(a, b, din * sizeof *a);
        }
    }
    free(a), free(b), free(z);
    return CR_OK;
}

/* dJ_i/dx_i (and, with jac, the K x D probability Jacobian) of example i by
   finite differences of the oracle along each x_j. */
cr_status chk_fd_input(const chk_oracle *o, size_t i, double *g, double *gerr, double *jac,
                          double *jerr) {
    const cr_net *n64 = o->net64;
    const size_t D = n64->dims[0], H = n64->dims[1], K = n64->dims[n64->n_layers];
    const double *W = (const double *)n64->params + n64->w_offset[0];
    const double *r0 = o->pre[0] + i * H, *x = o->x + i * D, *y = o->y ? o->y + i * K : NULL;
    double *r = malloc(H * sizeof *r), *work = malloc(2 * o->maxw * sizeof *work);
    double *pr = malloc(4 * K * sizeof *pr), *tmp = malloc(2 * K * sizeof *tmp);
    if (!r || !work || !pr || !tmp) {
        free(r), free(work), free(pr), free(tmp);
        return CR_FAIL(CR_ERR_NOMEM);
    }
    for (size_t j = 0; j < D; j++) {
        double h = chk_step(x[j]), f[4];
        const double steps[4] = {h, -h, 2 * h, -2 * h};
        for (int s = 0; s < 4; s++) {
            /* r_0(x + s e_j) = r_0(x) + (z_j(x_j + s) − z_j(x_j)) W_1[j, :], z = link 0 (x) */
            double dz = chk_link64(n64, 0, j, x[j] + steps[s]) - chk_link64(n64, 0, j, x[j]);
            for (size_t k = 0; k < H; k++) r[k] = r0[k] + dz * W[j * H + k];
            f[s] = chk_tail64(n64, 0, r, y, jac ? pr + s * K : NULL, work);
        }
        if (g) chk_fd_combine(1, h, &f[0], &f[1], &f[2], &f[3], 0, g + j, gerr + j);
        if (jac) {
            chk_fd_combine(K, h, pr, pr + K, pr + 2 * K, pr + 3 * K, 1.0, tmp, tmp + K);
            for (size_t k = 0; k < K; k++) jac[k * D + j] = tmp[k], jerr[k * D + j] = tmp[K + k];
        }
    }
    free(r), free(work), free(pr), free(tmp);
    return CR_OK;
}

cr_status cr_check_net_input(const cr_net *net, size_t n, const void *x, const void *y,
                             const cr_check_options *opt, cr_check_report *rep) {
    if (!net || !x || !y || !rep || n == 0) return CR_FAIL(CR_ERR_ARG);
    cr_check_options op = chk_opts(opt);
    const cr_dtype t = net->dtype;
    const size_t D = net->dims[0], K = net->dims[net->n_layers], es = cr_dtype_size(t);
    const double geps = chk_gamma_eps(net, t);
    chk_oracle o;
    cr_status st = chk_oracle_make(&o, net, n, x, y);
    double *fd = malloc(n * D * sizeof *fd), *err = malloc(n * D * sizeof *err);
    double *an = NULL, *jfd = NULL, *jerr = NULL, *jan = NULL;
    void *dx = malloc(n * D * es), *jac = NULL;
    cr_tape *tape = NULL;
    char what[96];
    if (st || !fd || !err || !dx) goto nomem;
    for (size_t i = 0; i < n; i++)
        if ((st = chk_fd_input(&o, i, fd + i * D, err + i * D, NULL, NULL))) goto done;
    /* 1. cr_net_input_grad: what `grad`, attacks and attributions run */
    st = t == CR_F32 ? cr_net_input_grad_targets_f32(NULL, net, n, x, y, dx, NULL) :
                       cr_net_input_grad_targets_f64(NULL, net, n, x, y, dx, NULL);
    if (st) goto done;
    if (!(an = chk_to_f64(t, dx, n * D))) goto nomem;
    snprintf(what, sizeof what, "dJ/dx [%zu, %zu] (cr_net_input_grad)", n, D);
    chk_id id = {CR_CHECK_INPUT_GRAD, 0, "network", what};
    if ((st = chk_compare(rep, &id, n, D, an, fd, err, o.abs[CR_MAX_LAYERS], 0, geps, &op, 0))) goto done;
    /* 2. cr_net_backward's dx */
    if ((st = cr_tape_create(net, n, &tape))) goto done;
    st = t == CR_F32 ? cr_net_forward_f32(net, tape, n, x) : cr_net_forward_f64(net, tape, n, x);
    if (!st)
        st = t == CR_F32 ? cr_net_backward_f32(net, tape, y, dx, NULL) : cr_net_backward_f64(net, tape, y, dx, NULL);
    if (st) goto done;
    for (size_t i = 0; i < n * D; i++) an[i] = chk_get(t, dx, i);
    snprintf(what, sizeof what, "dJ/dx [%zu, %zu] (cr_net_backward)", n, D);
    id.kind = CR_CHECK_BACKWARD_DX;
    if ((st = chk_compare(rep, &id, n, D, an, fd, err, o.abs[CR_MAX_LAYERS], 0, geps, &op, 0))) goto done;
    /* 3. the input Jacobian of the probabilities (of the outputs o for squared error), every mode */
    const int of_probs = net->head == CR_HEAD_SOFTMAX_CE;
    size_t m = op.jac_examples < n ? op.jac_examples : n;
    if (m) {
        jfd = malloc(m * K * D * sizeof *jfd), jerr = malloc(m * K * D * sizeof *jerr);
        jan = malloc(m * K * D * sizeof *jan), jac = malloc(m * K * D * es);
        if (!jfd || !jerr || !jan || !jac) goto nomem;
        double floor = 0;
        for (size_t i = 0; i < m; i++) {
            if ((st = chk_fd_input(&o, i, NULL, NULL, jfd + i * K * D, jerr + i * K * D))) goto done;
            for (size_t j = 0; j < D; j++) floor = fmax(floor, o.abs[CR_MAX_LAYERS][i * D + j]);
        }
        static const cr_jac_mode modes[3] = {CR_JAC_REV, CR_JAC_FWD, CR_JAC_CLOSED};
        for (int md = 0; md < 3; md++) {
            st = t == CR_F32 ? cr_net_input_jacobian_f32(NULL, net, m, x, of_probs, modes[md], jac)
                             : cr_net_input_jacobian_f64(NULL, net, m, x, of_probs, modes[md], jac);
            if (st) goto done;
            for (size_t i = 0; i < m * K * D; i++) jan[i] = chk_get(t, jac, i);
            snprintf(what, sizeof what, "%s [%zu, %zu, %zu] (cr_net_input_jacobian, %s)",
                     of_probs ? "d(yhat)/dx" : "do/dx", m, K, D, cr_jac_mode_name(modes[md]));
            id.kind = CR_CHECK_INPUT_JACOBIAN;
            if ((st = chk_compare(rep, &id, m, K * D, jan, jfd, jerr, NULL, floor, geps, &op, 0))) goto done;
        }
    }
    st = CR_OK;
    goto done;
nomem: /* st: chk_oracle_make's failure (its own line), else CR_OK */
    if (st == CR_OK) st = cr_fail_nomem(__func__, 0);
done:
    chk_oracle_free(&o);
    cr_tape_free(tape);
    free(fd), free(err), free(an), free(dx), free(jfd), free(jerr), free(jan), free(jac);
    return st;
}

/* ------------------------------------------------------------ parameters */

/* The gradient of the mean loss the training step computes: float32 through
   cr_train_step_f32's gradient block (a momentum step on a copy, whose
   update is discarded), float64 through cr_net_backward. */
static cr_status analytic_param_grads(const cr_net *net, size_t n, const void *x, const void *y,
                                      double *grads) {
    const size_t K = net->dims[net->n_layers];
    cr_status st = CR_OK;
    if (net->dtype == CR_F32 && cr_net_is_plain_classifier(net)) { /* what training takes */
        cr_label *labels = malloc(n * sizeof *labels);
        cr_net *copy = NULL;
        cr_optim *opt = NULL;
        cr_train_ws *ws = NULL;
        cr_optim_config cfg = cr_optim_config_default();
        cfg.kind = CR_OPT_MOMENTUM; /* not the fused SGD path: the gradient block is written */
        cfg.lr = 1e-30;
        if (!labels) return CR_FAIL(CR_ERR_NOMEM);
        const float *yf = y;
        for (size_t i = 0; i < n; i++) {
            size_t c = 0;
            for (size_t k = 0; k < K; k++)
                if (yf[i * K + k] > yf[i * K + c]) c = k;
            labels[i] = (cr_label)c;
            for (size_t k = 0; k < K; k++)
                if (yf[i * K + k] != (k == c ? 1.0f : 0.0f)) st = CR_ERR_ARG; /* soft labels */
        }
        if (st == CR_OK) {
            if ((st = cr_net_convert(net, CR_F32, &copy)) == CR_OK &&
                (st = cr_optim_create(copy, &cfg, &opt)) == CR_OK &&
                (st = cr_train_ws_create(copy, n, n, &ws)) == CR_OK &&
                (st = cr_train_step_f32(NULL, copy, opt, ws, n, x, labels, NULL, NULL)) == CR_OK)
                for (size_t i = 0; i < net->n_params; i++) grads[i] = ws->grads[i];
        }
        cr_train_ws_free(ws);
        cr_optim_free(opt);
        cr_net_free(copy);
        free(labels);
        if (st != CR_ERR_ARG) return st;
        st = CR_OK; /* soft labels: the training step takes class labels; use backward */
    }
    cr_tape *tape = NULL;
    void *g = malloc(net->n_params * cr_dtype_size(net->dtype));
    if (!g || (st = cr_tape_create(net, n, &tape)) != CR_OK) {
        free(g);
        return st ? st : cr_fail_nomem("cr_check_net_params: the gradient block", net->n_params * cr_dtype_size(net->dtype));
    }
    if (net->dtype == CR_F32) {
        if (!(st = cr_net_forward_f32(net, tape, n, x))) st = cr_net_backward_f32(net, tape, y, NULL, g);
    } else {
        if (!(st = cr_net_forward_f64(net, tape, n, x))) st = cr_net_backward_f64(net, tape, y, NULL, g);
    }
    for (size_t i = 0; st == CR_OK && i < net->n_params; i++) grads[i] = chk_get(net->dtype, g, i);
    cr_tape_free(tape);
    free(g);
    return st;
}

cr_status cr_check_net_params(const cr_net *net, size_t n, const void *x, const void *y,
                              const cr_check_options *opt, cr_check_report *rep) {
    if (!net || !x || !y || !rep || n == 0) return CR_FAIL(CR_ERR_ARG);
    cr_check_options op = chk_opts(opt);
    const int L = net->n_layers;
    const size_t K = net->dims[L];
    chk_oracle o;
    cr_status st = chk_oracle_make(&o, net, n, x, y);
    double *grads = malloc(net->n_params * sizeof *grads), *r = malloc(o.maxw * sizeof *r);
    double *an = NULL, *fd = NULL, *err = NULL, *scl = NULL;
    size_t cap = 0;
    cr_rng rng;
    cr_rng_seed(&rng, op.seed ^ 0xc4ec);
    if (st || !grads || !r) goto nomem;
    if ((st = analytic_param_grads(net, n, x, y, grads))) goto done;
    const double geps = chk_gamma_eps(net, net->dtype) * 2;
    for (int l = 0; l < L; l++) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        for (int isb = 0; isb < 2; isb++) {
            size_t count = isb ? dout : din * dout, off = isb ? net->b_offset[l] : net->w_offset[l];
            size_t m = (op.samples == 0 || op.samples >= count) ? count : op.samples;
            if (m > cap) {
                free(an), free(fd), free(err), free(scl);
                an = malloc(m * sizeof *an), fd = malloc(m * sizeof *fd);
                err = malloc(m * sizeof *err), scl = malloc(m * sizeof *scl);
                cap = m;
                if (!an || !fd || !err || !scl) goto nomem;
            }
            for (size_t s = 0; s < m; s++) {
                size_t e = m == count ? s : (size_t)cr_rng_below(&rng, count);
                size_t pi = isb ? 0 : e / dout, k = isb ? e : e % dout;
                an[s] = grads[off + e];
                double p0 = ((const double *)o.net64->params)[off + e], h = chk_step(p0);
                double d = 0, de = 0, sc = 0;
                for (size_t i = 0; i < n; i++) {
                    double v = isb ? 1.0 : o.in[l][i * din + pi];
                    sc += fabs(v) * o.abs[l][i * dout + k];
                    if (v == 0) continue; /* J_i does not depend on this weight */
                    const double steps[4] = {h, -h, 2 * h, -2 * h};
                    double f[4], di, ei;
                    memcpy(r, o.pre[l] + i * dout, dout * sizeof *r);
                    for (int q = 0; q < 4; q++) {
                        r[k] = o.pre[l][i * dout + k] + steps[q] * v;
                        f[q] = chk_tail64(o.net64, l, r, o.y + i * K, NULL, o.work);
                    }
                    chk_fd_combine(1, h, &f[0], &f[1], &f[2], &f[3], 0, &di, &ei);
                    d += di, de += ei;
                }
                fd[s] = d / (double)n, err[s] = de / (double)n, scl[s] = sc / (double)n;
            }
            char what[96];
            if (isb) snprintf(what, sizeof what, "fc%d.bias [%zu]", l + 1, dout);
            else snprintf(what, sizeof what, "fc%d.weight [%zu, %zu]", l + 1, dout, din);
            chk_id id = {CR_CHECK_PARAM_GRAD, 2 * l + 1 + (net->link_form[0] != CR_AFFINE_NONE), "linear", what};
            if ((st = chk_compare(rep, &id, 1, m, an, fd, err, scl, 0, geps, &op, count))) goto done;
        }
    }
    st = CR_OK;
    goto done;
nomem: /* st: chk_oracle_make's failure (its own line), else CR_OK */
    if (st == CR_OK) st = cr_fail_nomem(__func__, 0);
done:
    chk_oracle_free(&o);
    free(grads), free(r), free(an), free(fd), free(err), free(scl);
    return st;
}

/* ------------------------------------------------------------ adjoint */

cr_status cr_check_net_adjoint(const cr_net *net, size_t n, const void *x,
                               const cr_check_options *opt, cr_check_report *rep) {
    if (!net || !x || !rep || n == 0) return CR_FAIL(CR_ERR_ARG);
    cr_check_options op = chk_opts(opt);
    const cr_dtype t = net->dtype;
    const size_t D = net->dims[0], K = net->dims[net->n_layers], es = cr_dtype_size(t);
    void *u = malloc(n * D * es), *v = malloc(n * K * es), *ju = malloc(n * K * es), *jtv = malloc(n * D * es);
    cr_tape *tape = NULL;
    cr_status st = !u || !v || !ju || !jtv ? cr_fail_nomem("cr_check_net_adjoint", 2 * n * (D + K) * es)
                                           : cr_tape_create(net, n, &tape);
    if (st != CR_OK) goto done;
    cr_rng rng;
    cr_rng_seed(&rng, op.seed ^ 0xad70);
    for (size_t i = 0; i < n * D; i++) chk_set(t, u, i, 2 * cr_rng_uniform(&rng) - 1);
    for (size_t i = 0; i < n * K; i++) chk_set(t, v, i, 2 * cr_rng_uniform(&rng) - 1);
    if (t == CR_F32) {
        if (!(st = cr_net_forward_f32(net, tape, n, x)) && !(st = cr_net_jvp_f32(net, tape, u, ju, NULL)))
            st = cr_net_vjp_f32(net, tape, v, jtv);
    } else {
        if (!(st = cr_net_forward_f64(net, tape, n, x)) && !(st = cr_net_jvp_f64(net, tape, u, ju, NULL)))
            st = cr_net_vjp_f64(net, tape, v, jtv);
    }
    if (st) goto done;
    double lhs = 0, rhs = 0, sc = 0;
    for (size_t i = 0; i < n * K; i++) {
        double a = chk_get(t, ju, i) * chk_get(t, v, i);
        lhs += a, sc += fabs(a);
    }
    for (size_t i = 0; i < n * D; i++) {
        double a = chk_get(t, u, i) * chk_get(t, jtv, i);
        rhs += a, sc += fabs(a);
    }
    chk_id id = {CR_CHECK_NET_ADJOINT, 0, "network",
                 net->has_out_act ? "adjoint <J u, v> = <u, J^T v> (outputs)"
                                  : "adjoint <J u, v> = <u, J^T v> (logits)"};
    st = chk_identity(rep, &id, lhs, rhs, sc, chk_gamma_eps(net, t), &op);
done:
    cr_tape_free(tape);
    free(u), free(v), free(ju), free(jtv);
    return st;
}

cr_status cr_check_net(const cr_net *net, size_t n, const void *x, const void *y,
                       const cr_check_options *opt, cr_check_report *rep) {
    cr_status st = cr_check_net_ops(net, n, x, y, opt, rep);
    if (!st) st = cr_check_net_input(net, n, x, y, opt, rep);
    if (!st) st = cr_check_net_params(net, n, x, y, opt, rep);
    if (!st) st = cr_check_net_adjoint(net, n, x, opt, rep);
    return st;
}
