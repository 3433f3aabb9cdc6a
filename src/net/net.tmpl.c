/*
 * The chain of a network, for one scalar type (instantiated by net_f32.c and
 * net_f64.c). For the seed network (L = 2, sigmoid) this is
 *
 *   forward    r = xW1 + b1,  h = σ(r),  θ = hW2 + b2,  ŷ = S(θ),  J = −Σ y log ŷ
 *
 *   backward   ∂J/∂θ = ŷ − y                           fused softmax + CE     (N×K)
 *              ∂J/∂h = (ŷ − y) W2ᵀ                      VJP of linear 2        (N×H)
 *              ∂J/∂r = (ŷ − y) W2ᵀ ∘ h∘(1−h)            VJP of sigmoid         (N×H)
 *              ∂J/∂x = ((ŷ − y) W2ᵀ ∘ h∘(1−h)) W1ᵀ      VJP of linear 1        (N×D)
 *
 * and the same loop for any depth. Every step is a row gradient times the op's
 * Jacobian; "∘" is what that product becomes when the Jacobian is diagonal.
 */
#include <stdlib.h>
#include <string.h>

#include "net_private.tmpl.h"

static const real *FN(net_w)(const cr_net *net, int l) {
    return (const real *)net->params + net->w_offset[l];
}
static const real *FN(net_b)(const cr_net *net, int l) {
    return (const real *)net->params + net->b_offset[l];
}

/* A tape fits a net made with the same dtype and widths (else buffers would overflow):
   CR_ERR_ARG for NULL or a tape of other widths, CR_ERR_DTYPE when the net or the
   tape is not of this function's dtype (an _f32 call on a float64 net). */
static cr_status FN(tape_check)(const cr_net *net, const cr_tape *tape) {
    if (!net || !tape) return CR_ERR_ARG;
    if (net->dtype != R_DTYPE || tape->dtype != R_DTYPE) return CR_ERR_DTYPE;
    if (tape->n_layers != net->n_layers) return CR_ERR_ARG;
    for (int l = 0; l <= net->n_layers; l++)
        if (tape->dims[l] != net->dims[l]) return CR_ERR_ARG;
    return CR_OK;
}

cr_status FN(net_forward_packed)(const cr_net *net, cr_tape *tape, size_t n, const real *x,
                                 const cr_abt_packed *w0t) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!x || n == 0) return CR_ERR_ARG;
    if (n > tape->max_batch) return CR_ERR_SHAPE;
    const int L = net->n_layers;
    const real *in = x;
    for (int l = 0; l < L; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        real *r = tape->pre[l], *h = tape->post[l];
#if defined(CR_REAL_F32)
        if (l == 0 && w0t && w0t->data) { /* r_0 <- x W_0 + b_0, x W_0 by the packed kernel */
            cr_abt_gemm(n, 1, x, din, NULL, w0t, r, dout);
            const real *b = FN(net_b)(net, 0);
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < dout; j++) r[i * dout + j] += b[j];
        } else
#else
        (void)w0t;
#endif
            FN(linear_forward)(n, din, dout, in, FN(net_w)(net, l), FN(net_b)(net, l), r);
        if (l + 1 < L)
            R_ACT(net->act[l])->forward(n * dout, r, h); /* h_l = act(r_l) */
        else
            FN(softmax_forward)(n, dout, r, h); /* ŷ = S(θ) */
        in = h;
    }
    tape->n = n;
    tape->input = x;
    return CR_OK;
}

cr_status FN(net_forward)(const cr_net *net, cr_tape *tape, size_t n, const real *x) {
    return FN(net_forward_packed)(net, tape, n, x, NULL);
}

real FN(net_loss)(const cr_net *net, cr_tape *tape, const real *y) {
    if (FN(tape_check)(net, tape) != CR_OK || !y || tape->n == 0) return (real)NAN; /* no forward pass */
    const int L = net->n_layers;
    size_t n = tape->n, k = net->dims[L];
    real *loss = tape->loss;
    FN(softmax_ce_forward)(n, k, tape->pre[L - 1], y, NULL, loss);
    double sum = 0; /* accumulate in double: the mean of 60000 float losses */
    for (size_t i = 0; i < n; i++) sum += loss[i];
    return (real)(sum / (double)n);
}

/*
 * The reverse chain shared by backward and vjp. On entry g (= tape->grad_a)
 * holds G_θ (N×K); walks the layers down to the input, writing dx (N×D) if
 * not NULL and accumulating scale · (parameter gradients) into grads if not NULL.
 */
static void FN(chain_backward)(const cr_net *net, cr_tape *tape, real *dx, real *grads,
                               real scale) {
    const int L = net->n_layers;
    const size_t n = tape->n;
    real *g = tape->grad_a, *g_next = tape->grad_b;
    for (int l = L - 1; l >= 0; l--) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        const real *in = l > 0 ? (const real *)tape->post[l - 1] : (const real *)tape->input;
        if (grads) /* G_W += scale · Xᵀ G,  G_b += scale · Σ_n G_n */
            FN(linear_param_grads)(n, din, dout, in, g, scale, grads + net->w_offset[l],
                                   grads + net->b_offset[l]);
        if (l == 0 && !dx) break;
        real *gin = l > 0 ? g_next : dx;
        /* G_in <- G Wᵀ */
        FN(linear_vjp)(n, din, dout, FN(net_w)(net, l), g, gin);
        if (l > 0) /* G_r <- G_h ∘ act'(r): a diagonal Jacobian, so element-wise */
            R_ACT(net->act[l - 1])->vjp(n * din, tape->pre[l - 1], tape->post[l - 1], gin, gin);
        real *t = g;
        g = g_next;
        g_next = t;
    }
}

cr_status FN(net_backward)(const cr_net *net, cr_tape *tape, const real *y, real *dx,
                           real *grads) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!y || tape->n == 0) return CR_ERR_ARG;
    const int L = net->n_layers;
    /* G_θ <- ŷ − y : the fused softmax + cross-entropy VJP, one row per example (∂J_n/∂θ_n) */
    FN(softmax_ce_vjp)(tape->n, net->dims[L], tape->post[L - 1], y, NULL, tape->grad_a);
    if (grads) memset(grads, 0, net->n_params * sizeof(real));
    /* parameters of the MEAN loss: scale 1/N */
    FN(chain_backward)(net, tape, dx, grads, (real)1 / (real)tape->n);
    return CR_OK;
}

cr_status FN(net_vjp)(const cr_net *net, cr_tape *tape, const real *g_logits, real *dx) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!g_logits || !dx || tape->n == 0) return CR_ERR_ARG;
    memcpy(tape->grad_a, g_logits, tape->n * net->dims[net->n_layers] * sizeof(real));
    FN(chain_backward)(net, tape, dx, NULL, 0);
    return CR_OK;
}

cr_status FN(net_jvp)(const cr_net *net, cr_tape *tape, const real *xd, real *logits_dot,
                      real *probs_dot) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!xd || tape->n == 0) return CR_ERR_ARG;
    const int L = net->n_layers;
    const size_t n = tape->n, k = net->dims[L];
    const real *t = xd;
    real *out = tape->grad_a, *spare = tape->grad_b;
    for (int l = 0; l < L; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        /* Ṙ <- Ṫ W */
        FN(linear_jvp)(n, din, dout, FN(net_w)(net, l), t, out);
        if (l + 1 < L) /* Ḣ <- Ṙ ∘ act'(r) */
            R_ACT(net->act[l])->jvp(n * dout, tape->pre[l], tape->post[l], out, out);
        t = out;
        real *s = out;
        out = spare;
        spare = s;
    }
    /* t now holds θ̇ (N×K) */
    if (logits_dot) memcpy(logits_dot, t, n * k * sizeof(real));
    if (probs_dot) FN(softmax_jvp)(n, k, tape->post[L - 1], t, probs_dot);
    return CR_OK;
}

cr_status FN(net_input_jacobian_chain)(const cr_net *net, const cr_tape *tape, size_t i,
                                       int of_probs, real *jac) {
    cr_status st = FN(tape_check)(net, tape);
    if (st != CR_OK) return st;
    if (!jac) return CR_ERR_ARG;
    if (i >= tape->n) return CR_ERR_SHAPE;
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    size_t maxdim = 0;
    for (int l = 0; l <= L; l++) maxdim = net->dims[l] > maxdim ? net->dims[l] : maxdim;

    /* M (K × d_l) is the product of the Jacobians from the output down to layer l. */
    real *m = malloc(k * maxdim * sizeof(real)), *m_next = malloc(k * maxdim * sizeof(real));
    real *op_jac = malloc(maxdim * maxdim * sizeof(real));
    if (!m || !m_next || !op_jac) {
        free(m);
        free(m_next);
        free(op_jac);
        return CR_ERR_NOMEM;
    }
    /* M <- ∂ŷ/∂θ = diag(ŷ) − ŷᵀŷ, or the identity for the logits */
    const real *yhat = (const real *)tape->post[L - 1] + i * k;
    if (of_probs) {
        FN(softmax_jacobian)(k, yhat, m);
    } else {
        for (size_t a = 0; a < k * k; a++) m[a] = 0;
        for (size_t a = 0; a < k; a++) m[a * k + a] = 1;
    }
    size_t cols = k;
    for (int l = L - 1; l >= 0; l--) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        /* M <- M · ∂r_l/∂h_(l−1) = M · W_lᵀ      (K×dout)(dout×din) */
        FN(linear_jacobian)(din, dout, FN(net_w)(net, l), op_jac);
        GEMM(0, 0, k, din, dout, 1, m, cols, op_jac, din, 0, m_next, din);
        real *s = m;
        m = m_next;
        m_next = s;
        cols = din;
        if (l > 0) {
            /* M <- M · ∂h/∂r = M · diag(act'(r)), multiplied as a full matrix on purpose */
            const real *r = (const real *)tape->pre[l - 1] + i * din;
            const real *h = (const real *)tape->post[l - 1] + i * din;
            R_ACT(net->act[l - 1])->jacobian(din, r, h, op_jac);
            GEMM(0, 0, k, din, din, 1, m, din, op_jac, din, 0, m_next, din);
            s = m;
            m = m_next;
            m_next = s;
        }
    }
    memcpy(jac, m, k * net->dims[0] * sizeof(real));
    free(m);
    free(m_next);
    free(op_jac);
    return CR_OK;
}

cr_status FN(onehot)(size_t n, size_t k, const int64_t *labels, real *y) {
    for (size_t i = 0; i < n; i++) {
        if (labels[i] < 0 || (uint64_t)labels[i] >= k) return CR_ERR_ARG;
        for (size_t j = 0; j < k; j++) y[i * k + j] = 0;
        y[i * k + (size_t)labels[i]] = 1;
    }
    return CR_OK;
}
