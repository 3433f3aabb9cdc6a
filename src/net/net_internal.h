/*
 * The definitions of the library's three handles, cr_net, cr_tape and
 * cr_train_ws, which the public headers declare as incomplete types
 * (include/chainrule.h: `typedef struct cr_net cr_net;`). Only the net and check
 * layers of libchainrule include this header; io, cli, the tests, the benchmarks
 * and the Python binding go through the accessors (src/net/net_access.c), so a
 * field added here changes no public layout. tests/opaque_handles.sh checks that
 * nothing outside src/net and src/check reaches this file.
 */
#ifndef CR_NET_INTERNAL_H
#define CR_NET_INTERNAL_H

#include "chainrule.h"

struct cr_train_pool;

/*
 * A network: L linear layers, dims[0] = D (input) ... dims[L] = K (outputs),
 * activation act[l] after linear layer l for l < L-1; after the last,
 * θ = h W_L + b_L, the output o = out_act(θ) (or θ itself) and the head on o:
 *
 *     x -> ... -> θ = h W_L + b_L -> o = a_out(θ) -> head (softmax + CE, or ½‖o − t‖²)
 *
 * All parameters live in one flat block `params` (dtype `dtype`) so that
 * zeroing, optimiser steps, saving and finite-difference sweeps are single
 * loops. Layer l's views: W_l at params + w_offset[l] (dims[l] x dims[l+1],
 * row-major), b_l at params + b_offset[l] (dims[l+1]); offsets in scalars.
 * One allocation holds the struct and the parameters (free with cr_net_free).
 */
struct cr_net {
    cr_dtype dtype;
    int n_layers;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation act[CR_MAX_LAYERS];
    size_t w_offset[CR_MAX_LAYERS];
    size_t b_offset[CR_MAX_LAYERS];
    size_t n_params;
    void *params; /* points into the same allocation */
    /* The output and the head (zero: today's classifier, o = θ and softmax + CE).
       Set them with cr_net_set_output; cr_net_create leaves them zero. */
    int has_out_act;      /* 1: o = out_act(θ); 0: o = θ */
    cr_activation out_act; /* the output activation when has_out_act */
    cr_head head;          /* what the loss does with o */
    /* The affine links (src/ops/affine.tmpl.c), set with cr_net_set_affine; all
       CR_AFFINE_NONE from cr_net_create. Link 0 acts on the input x before linear
       layer 0 (the input standardisation: derivatives are w.r.t. the raw x);
       link l + 1 on r_l, after linear layer l and before its activation (BatchNorm
       in inference mode). Link k's vectors p, q, s, t (dtype `dtype`, width
       cr_net_link_width) are at link_params + link_offset[k] + {0, 1, 2, 3}·width,
       in the same allocation. They are not parameters: not in params / n_params,
       so training, optimisers and gradient blocks leave them fixed. */
    cr_affine_form link_form[CR_MAX_LAYERS + 1];
    double link_eps[CR_MAX_LAYERS + 1];
    size_t link_offset[CR_MAX_LAYERS + 1];
    void *link_params;
};

/*
 * Tape: the activations of one forward pass and scratch for backward, sized
 * for batches of up to max_batch rows. One allocation; create once, reuse:
 * forward/backward never allocate.
 *   pre[l]  = r_l  (N x dims[l+1]) pre-activation of layer l (pre[L-1] = θ, the logits)
 *   post[l] = h_l  (N x dims[l+1]) activation; post[L-1] = the head's prediction:
 *             softmax(o) for the softmax head (the probabilities), o for squared error
 *   out     = o    (N x K) the network's output a_out(θ): pre[L-1] when there is no
 *             output activation and the head is softmax, post[L-1] for squared error,
 *             else a block of its own
 */
struct cr_tape {
    cr_dtype dtype;
    size_t max_batch;
    size_t n; /* rows of the last forward pass */
    int n_layers;
    size_t dims[CR_MAX_LAYERS + 1]; /* the widths of the net it was made for */
    const void *input; /* borrowed X of the last forward pass */
    void *pre[CR_MAX_LAYERS];
    void *post[CR_MAX_LAYERS];
    void *grad_a; /* scratch N x max(dims) */
    void *grad_b; /* scratch N x max(dims) */
    void *loss;   /* N per-example losses of the last cr_net_loss */
    void *out;    /* N x K: the output o (see above) */
    int has_out_act; /* the output of the net it was made for */
    cr_activation out_act;
    cr_head head;
    /* N x D: z = link 0 applied to the input of the last forward pass, when the net it
       was made for has an input link (net->link_form[0] != CR_AFFINE_NONE), else NULL */
    void *input_z;
};

/*
 * Training workspace: the tape, the gradient block, the gathered batch and
 * the permutation, allocated once; the training loop never allocates.
 */
struct cr_train_ws {
    size_t max_batch;
    size_t n_examples;
    cr_tape *tape;
    float *grads;     /* n_params */
    float *xb;        /* max_batch x D gathered inputs */
    cr_label *yb;     /* max_batch gathered labels */
    uint32_t *perm;   /* n_examples */
    uint32_t *nz;     /* Σ_l dims[l], l < L: indices of each layer's nonzero inputs */
    /* After CR_ERR_NONFINITE: the 1-based layer where NaN/Inf appeared first
       (in its outputs r_l or in its parameters after the update), else 0. */
    int fault_layer;
    int workers;                 /* 1, or 2 after cr_train_ws_set_threads(ws, 2) */
    struct cr_train_pool *pool;  /* private: the second worker */
};

#endif
