/*
 * The one forward walk and the one reverse walk over the layers (net.tmpl.c),
 * shared inside the core library but not public (one scalar type per
 * translation unit, see ops/real.h). Everything that runs a network goes
 * through them: the tape API (forward, backward, vjp), the input gradients,
 * the Jacobian modes, attacks, attributions and the training step, each
 * choosing what to keep with the options below.
 */
#ifndef CR_NET_PRIVATE_TMPL_H
#define CR_NET_PRIVATE_TMPL_H

#include "kernels/abt.h"

/*
 * The two halves of each layer (training's two workers). A walk runs in
 * phases, one per layer, ended by `barrier`; in each phase the layer is cut
 * into two halves, cr_walk_share(d) of half `worker`: the block [lo, hi) of d
 * rows or columns, rounded to 16 floats (a 64-byte line) so that two halves of
 * a row-major matrix never share a cache line. Both workers call the walk
 * with the same arguments.
 *
 * Who computes a half: without `claim`, worker w its own half w. With
 * `claim`, a worker computes every half it claims: its own first, then the
 * other's if the other worker has not claimed it (it may be off its core:
 * waiting for it would stall both on a loaded host). The halves, not the
 * workers, fix the arithmetic, so the results do not depend on who computed
 * what. claim(ctx, prev) returns the next half for this worker in the
 * current phase after `prev` (-1: the first), or -1; barrier(ctx) returns
 * once both halves of the phase are done and moves to the next phase.
 */
typedef struct {
    int worker, workers; /* the half (the worker's own without claim); 1 or 2 halves */
    void (*barrier)(void *ctx);
    int (*claim)(void *ctx, int prev); /* NULL: each worker its own half */
    void *ctx;
} cr_walk_split;

static inline void cr_walk_share(const cr_walk_split *s, size_t d, size_t *lo, size_t *hi) {
    if (!s || s->workers < 2) {
        *lo = 0;
        *hi = d;
        return;
    }
    size_t mid = d >= 32 ? (d / 2 + 8) / 16 * 16 : (d + 1) / 2;
    *lo = s->worker ? mid : 0;
    *hi = s->worker ? d : mid;
}

/* The next half this worker computes in the current phase, after the one in
   prev (prev->worker < 0: the first); ->worker < 0 when there is none. With
   no split (or one worker) the whole layer, once. Used as
       for (cr_walk_split h = cr_walk_next(split, NULL); h.worker >= 0;
            h = cr_walk_next(split, &h)) { ... the layer's share of half h ... } */
static inline cr_walk_split cr_walk_next(const cr_walk_split *s, const cr_walk_split *prev) {
    if (!s || s->workers < 2) return (cr_walk_split){prev ? -1 : 0, 1, NULL, NULL, NULL};
    cr_walk_split h = *s;
    if (s->claim) h.worker = s->claim(s->ctx, prev ? prev->worker : -1);
    else h.worker = prev ? -1 : s->worker;
    return h;
}

static inline void cr_walk_barrier(const cr_walk_split *s) {
    if (s && s->workers >= 2) s->barrier(s->ctx);
}

/*
 * The product of every VJP of a linear layer, G_in = G Wᵀ (G: n × dout, W:
 * din × dout, G_in: n × din, row stride ld_in), on the share [lo, hi) of the
 * inputs: G_in[:, lo:hi) <- G W[lo:hi, :]ᵀ. In float32, when w_packed holds W
 * packed (kernels/abt.h) and the share is whole, by one pass of the packed
 * kernel with n = n_ex · kr rows (and `derived` as cr_abt_gemm); otherwise
 * one gemm.
 */
void CR_TYPED(cr_linear_vjp_share_f32, cr_linear_vjp_share_f64)(
    size_t n_ex, size_t kr, size_t din, size_t dout, const real *w, const real *g, size_t lo,
    size_t hi, real *gin, size_t ld_in, const cr_abt_packed *w_packed, const size_t *derived);

/*
 * Options of the forward walk (zero-initialise, then set):
 *   w0t     float32: W_0ᵀ packed (kernels/abt.h), x W_0 by the kernel, or NULL.
 *   split   the worker's halves (cr_walk_next): columns of each hidden layer,
 *           then rows of the batch for the last layer, a barrier after each
 *           hidden layer; NULL: all.
 *   rows_done  with split, called for each half of the last layer right after
 *           its rows [i0, i1) (half `half`), in the same claim: the caller's
 *           work on those rows (training's loss and G). May be NULL.
 *   nz, nnz float32, one row (the per-example SGD path): each layer's nonzero
 *           inputs are found and kept (layer l's at nz + Σ_{j<l} dims[j], their
 *           count in nnz[l]) and r_l = b_l + Σ_{i: h_i ≠ 0} h_i W_l[i, :] by the
 *           sparse kernel of kernels/linear.c instead of a gemm.
 */
typedef struct {
    const cr_abt_packed *w0t;
    const cr_walk_split *split;
    void (*rows_done)(void *ctx, int half, size_t i0, size_t i1);
    void *rows_ctx;
    uint32_t *nz;
    size_t *nnz;
} FN(forward_opts);

/*
 * The forward walk over rows [0, n) of the tape: r_l = h_{l−1} W_l + b_l,
 * h_l = act(r_l) through the op table, and for the last layer θ, the output
 * o = a_out(θ) (tape->out) and the head's prediction (post[L−1]: ŷ = S(o), or
 * o for squared error); no checks, tape->n and tape->input untouched (the
 * callers do that once). opts may be NULL.
 */
void CR_TYPED(cr_net_forward_walk_f32, cr_net_forward_walk_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const FN(forward_opts) *opts);

/* The head link on rows [0, n) of the tape's last forward pass, with targets y
   (N x K: labels for softmax + CE, targets t for squared error): the per-row
   losses J_n, and the cotangent G_o = ∂J_n/∂o_n (ŷ − y, or o − t) into g (n x K). */
void CR_TYPED(cr_net_head_loss_f32, cr_net_head_loss_f64)(const cr_net *net, const cr_tape *tape,
                                                         size_t n, const real *y, real *loss);
void CR_TYPED(cr_net_head_vjp_f32, cr_net_head_vjp_f64)(const cr_net *net, const cr_tape *tape,
                                                        size_t n, const real *y, real *g);

/* cr_net_forward with layer 0's product x W_0 by the packed kernel when w0t
   holds W_0ᵀ packed (float32, kernels/abt.h); w0t NULL or without data: the
   same as cr_net_forward. */
cr_status CR_TYPED(cr_net_forward_packed_f32, cr_net_forward_packed_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_abt_packed *w0t);

/*
 * What the reverse walk keeps. Zero-initialise, then set:
 *   dx              ∂/∂x (n·reps × D, row stride D), or NULL: stop before
 *                   layer 0's product.
 *   w0, derived     float32: W_0 packed (kernels/abt.h) for the last product
 *                   G W_0ᵀ; derived as cr_abt_gemm (may be NULL).
 *   pdst            parameter step for every layer, or NULL for none:
 *                     W_l <- beta W_l + alpha H_{l−1}ᵀ G,  b_l <- beta b_l + alpha Σ_n G_n
 *                   in the flat layout of net->params. pdst may be a gradient
 *                   block (alpha 1/N, beta 0: the mean loss's gradients) or
 *                   net->params itself (the fused SGD update, alpha −lr/N,
 *                   beta 1 − lr·wd): each layer's G Wᵀ is taken first, with
 *                   the old W.
 *   reps            rows of G per row of the tape (0 = 1). With reps > 1 (the
 *                   closed-form Jacobian: K rows per example) the activation
 *                   step scales each example's rows by its a'(r) from the
 *                   table's deriv, into deriv_scratch (n × widest hidden
 *                   layer); with 1, the table's VJP. No parameter step then.
 *   skip_top        1: G is already on h_{L−2} (the caller applied the output
 *                   activation and the last layer's product itself), 0: G is
 *                   ∂/∂o on the output.
 *   buf0, buf1      two scratch blocks of n·reps × widest layer for the
 *                   cotangents (NULL: the tape's grad_a and grad_b).
 *   split           the worker's share (training's two workers), or NULL.
 *   nz, nnz, fault  float32, one row (the per-example SGD path), with the
 *                   forward walk's nz, nnz: each product G Wᵀ is the gemv
 *                   kernel, and the parameter step (beta must be 1) the sparse
 *                   rank-one update of the rows of the nonzero inputs only; the
 *                   first layer (1-based) whose update is not finite goes to
 *                   *fault if *fault is 0.
 */
typedef struct {
    real *dx;
    const cr_abt_packed *w0;
    const size_t *derived;
    real *pdst;
    real alpha, beta;
    size_t reps;
    int skip_top;
    real *buf0, *buf1;
    real *deriv_scratch;
    const cr_walk_split *split;
    const uint32_t *nz;
    const size_t *nnz;
    int *fault;
} FN(reverse_opts);

/*
 * The reverse walk (the chain rule of the seed question, for any depth): from
 * the cotangent g on the output o (n·reps × K; read only unless it is buf0),
 * first G_θ = g ∘ a_out'(θ) when the net has an output activation (not with
 * skip_top; not split: training takes plain classifiers only), then for
 * l = L−1, ..., 0
 *     G_h   = G W_lᵀ                        (linear_vjp_share)
 *     G     = G_h ∘ a'(r_{l−1})              (the activation's VJP, table row)
 *     W_l, b_l <- parameter step from G and H_{l−1}   (if opts->pdst)
 * over the n rows of the tape's last forward pass.
 */
void CR_TYPED(cr_net_reverse_walk_f32, cr_net_reverse_walk_f64)(
    const cr_net *net, const cr_tape *tape, size_t n, const real *g, const FN(reverse_opts) *opts);

#endif
