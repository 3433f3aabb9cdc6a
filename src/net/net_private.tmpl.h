/*
 * The one forward walk and the one reverse walk over the layers (net.tmpl.c),
 * shared inside the core library but not public (one scalar type per
 * translation unit, see ops/real.h). The tape API (forward, backward, vjp),
 * the input gradients, the reverse Jacobian, attacks, attributions and the
 * one-worker training step run them. Each link is an op's own step: the
 * linear op's running forms (ops/linear.tmpl.h) and the activation's row of
 * the op table (ops/act_table.h). Three owners run the same steps in loops of
 * their own, because their schedule is theirs: training's two workers
 * (train_pool.c: each layer cut into halves), the per-example SGD step
 * (train.c: one row, sparse backends) and the closed Jacobian (jacobian.tmpl.c:
 * K rows per example). docs/chain.md maps every link to the function that runs it.
 */
#ifndef CR_NET_PRIVATE_TMPL_H
#define CR_NET_PRIVATE_TMPL_H

#include "ops/linear.tmpl.h"

/*
 * The affine link after linear layer l (link l + 1 of cr_net: BatchNorm in
 * inference mode, src/ops/affine.tmpl.c): step LINK_FORWARD z_l <- link(r_l),
 * LINK_VJP G_r <- G_z ∘ a, LINK_JVP Ż <- Ṙ ∘ a, in place on rows [0, m) and
 * columns [c0, c1) of v (row stride d); nothing when layer l has no link. The
 * tape's pre[l] holds z_l, the activation's input. The link is exact and
 * linear: every client of the walk (a relaxation, a tangent) takes the same
 * step, so it is not the pluggable diagonal step.
 */
enum { LINK_FORWARD, LINK_VJP, LINK_JVP };
void CR_TYPED(cr_net_link_apply_f32, cr_net_link_apply_f64)(const cr_net *net, int l, int step,
                                                           size_t m, size_t d, size_t c0,
                                                           size_t c1, real *v);

/*
 * The diagonal link of the reverse walk: where the chain does G_r = G_h ∘ a'(r_l)
 * (the Jacobian of h_l = a(r_l) is diag(a'(r_l))), the walk calls
 * diag.fn(diag.ctx, &link) with:
 *   layer    l: the activation on r_l, 0 ≤ l < L−1 a hidden one (net->act[l]),
 *            l = L−1 the output activation (net->out_act; only when the net
 *            has one), on θ = r_{L−1} with o = h_{L−1}
 *   act      that activation
 *   n, width the rows of G and their width d_{l+1} (row stride width)
 *   lo, hi   the columns to do: [0, width) from the walk; training's two
 *            workers hand each half its share of the columns
 *   r, h     the tape's r_l and h_l (θ and o for the output), n × width
 *   g        in: G on h_l (∂/∂h_l), n × width, read only
 *   out      out: G on r_l, columns [lo, hi) of every row; may be g itself
 * The default (diag.fn NULL) is cr_net_diag_vjp: the table's VJP, out = g ∘ a'(r).
 * A client with another diagonal (sign-selected slopes of a relaxation, a
 * tangent-carrying second-order step) passes its own function: it may read
 * its own per-layer state (bounds instead of r and h) from ctx by link->layer,
 * and accumulate a constant term there (the row sums of G ∘ c before it
 * writes out). The walk calls it once per activation, from the top down,
 * before the linear VJP of the same layer, always with n rows of the walk.
 */
typedef struct {
    const cr_net *net;
    int layer;
    cr_activation act;
    size_t n, width, lo, hi;
    const real *r, *h;
    const real *g;
    real *out;
} FN(diag_link);

typedef struct {
    void (*fn)(void *ctx, const FN(diag_link) *link);
    void *ctx;
} FN(diag_step);

/* The default diagonal step: out = g ∘ a'(r) on the columns [lo, hi), by the
   activation's VJP in the op table (in one call over n·width values when the
   share is whole, else row by row). ctx is unused. */
void CR_TYPED(cr_net_diag_vjp_f32, cr_net_diag_vjp_f64)(void *ctx, const FN(diag_link) *link);

#ifdef CR_NET_INTERNAL_H /* the handles' fields: only for the net layer's own files */
/* A tape has the block for z (tape->input_z) exactly when its net has an input link
   (cr_tape_create decides from the net; a link set later needs a new tape). */
static inline int cr_tape_fits_links(const cr_net *net, const cr_tape *tape) {
    return (net->link_form[0] != CR_AFFINE_NONE) == (tape->input_z != NULL);
}

#endif

/* Link 0, the input's affine link (ops/affine.tmpl.c), on rows [i0, i1) of x:
   z = link_0(x) into the same rows of tape->input_z; returns z (all rows), or x
   itself without an input link (then nothing is written). The forward walk starts
   with it; training's own loops call it for their share of the rows. */
const real *CR_TYPED(cr_net_input_link_f32, cr_net_input_link_f64)(const cr_net *net,
                                                                   cr_tape *tape, size_t i0,
                                                                   size_t i1, const real *x);

#ifdef CR_NET_INTERNAL_H
/* What linear layer 0 reads: z = link_0(x) of the last forward pass with an input
   link, else x itself. */
static inline const real *FN(net_layer0_input)(const cr_net *net, const cr_tape *tape) {
    return net->link_form[0] != CR_AFFINE_NONE ? (const real *)tape->input_z
                                               : (const real *)tape->input;
}
#endif

/*
 * The forward walk over rows [0, n) of the tape: r_l = h_{l−1} W_l + b_l
 * (cr_linear_forward_share; layer 0 by the packed kernel when w0t holds W_0ᵀ
 * packed, float32, kernels/abt.h), h_l = act(r_l) through the op table, and for
 * the last layer θ, the output o = a_out(θ) (tape->out) and the head's
 * prediction (post[L−1]: ŷ = S(o), or o for squared error); no checks,
 * tape->n and tape->input untouched (the callers do that once). w0t may be NULL.
 */
void CR_TYPED(cr_net_forward_walk_f32, cr_net_forward_walk_f64)(
    const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_abt_packed *w0t);

/* The output link of the forward walk on rows [i0, i1): o = a_out(θ) into
   tape->out (o is θ itself without an output activation), then the head's
   prediction into post[L−1]: ŷ = S(o), or o (squared error). */
void CR_TYPED(cr_net_output_rows_f32, cr_net_output_rows_f64)(const cr_net *net, cr_tape *tape,
                                                             size_t i0, size_t i1);

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
 * What the reverse walk keeps and how it steps. Zero-initialise, then set:
 *   dx      ∂/∂x (n × D), or NULL: stop before layer 0's product.
 *   w0      float32: W_0 packed (kernels/abt.h) for the last product G W_0ᵀ, or NULL.
 *   step    .dst: the parameter step of every layer into the flat layout of
 *           net->params (cr_linear_param_step: W_l <- β W_l + α H_{l−1}ᵀ G,
 *           b_l <- β b_l + α Σ_n G_n), or NULL for none. dst may be a gradient
 *           block (α 1/N, β 0: the mean loss's gradients) or net->params itself
 *           (the fused SGD update, α −lr/N, β 1 − lr·wd): each layer's G Wᵀ is
 *           taken first, with the old W.
 *   diag    the diagonal step (see diag_link); .fn NULL: cr_net_diag_vjp.
 *   step0   layer 0's parameter step instead of cr_linear_param_step, or NULL.
 */
typedef struct {
    real *dx;
    const cr_abt_packed *w0;
    struct {
        real *dst;
        real alpha, beta;
    } step;
    FN(diag_step) diag;
    /* layer 0's parameter step in place of cr_linear_param_step on the whole of W_0
       (same arguments; training's sparse step, train.c), or NULL */
    void (*step0)(size_t n, size_t din, size_t dout, const real *x, const real *g, real alpha,
                  real beta, real *w, real *b);
} FN(reverse_opts);

/*
 * The reverse walk (the chain rule of the seed question, for any depth): from
 * the cotangent g on the output o (n × K; read only unless it is the tape's
 * grad_a), for l = L−1, ..., 0
 *     G   = G ∘ a'(r_l)                      diag step (the output activation for l = L−1, if any)
 *     G_h = G W_lᵀ                          cr_linear_vjp_share  (l > 0, or l = 0 into dx)
 *     W_l, b_l <- parameter step (G, h_{l−1})    cr_linear_param_step  (if step.dst)
 *     G   = G_h
 * over the n rows of the tape's last forward pass, in the tape's grad_a and
 * grad_b. The loop is net.tmpl.c's cr_net_reverse_walk, one screen.
 */
void CR_TYPED(cr_net_reverse_walk_f32, cr_net_reverse_walk_f64)(
    const cr_net *net, const cr_tape *tape, size_t n, const real *g, const FN(reverse_opts) *opts);

#endif
