/*
 * Training's two workers (src/net/train_pool.c), private to the library. The
 * test hook, for the library and its tests: which halves of each phase worker 1 claims. The
 * halves, not the workers, fix the arithmetic, so the model's bits must be
 * the same in every mode (tests/test_train.c checks it):
 *   CR_POOL_OWN_FIRST  the default: each worker its own half first, then the
 *                      other's if that is still unclaimed;
 *   CR_POOL_ONE_IDLE   worker 1 claims nothing: worker 0 computes every half,
 *                      as when the host keeps worker 1 off its core;
 *   CR_POOL_SWAPPED    each worker tries the other's half first.
 * Call it between steps, on a workspace with two workers (else CR_ERR_ARG).
 */
#ifndef CR_TRAIN_POOL_H
#define CR_TRAIN_POOL_H

#include <stdint.h>

#include "chainrule.h"

typedef enum { CR_POOL_OWN_FIRST = 0, CR_POOL_ONE_IDLE, CR_POOL_SWAPPED } cr_pool_mode;

cr_status cr_train_ws_pool_mode(cr_train_ws *ws, cr_pool_mode mode);
/* The halves each worker has computed since the second worker started
   (halves[0]: the caller's, halves[1]: the thread's); CR_ERR_ARG without one. */
cr_status cr_train_ws_pool_halves(const cr_train_ws *ws, uint64_t halves[2]);

/* Between train.c and train_pool.c (private to the library). */

/* The step on two workers (train_pool.c), after cr_train_step_f32's checks.
   With src, x is ws->xb and the workers first gather its rows src[idx[i]]
   (and prefetch the next batch's next_idx[0..next_n)). */
cr_status cr_train_step2_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const cr_label *labels, double *loss_sum,
                             size_t *correct, const float *src, const uint32_t *idx,
                             const uint32_t *next_idx, size_t next_n);

/* After the forward pass, for its rows [i0, i1) (train.c): the finiteness
   check, the loss, accuracy and G_θ = ŷ − y (of the summed loss) into
   tape->grad_a. Returns 0, or the 1-based layer where NaN/Inf appeared first
   (see cr_train_ws.fault_layer). */
int cr_train_forward_loss_f32(const cr_net *net, cr_tape *tape, size_t i0, size_t i1,
                              const cr_label *labels, double *loss_sum, size_t *correct);

/* Layer 0's forward product on its columns [c0, c1) for the two workers (train.c):
   r[:, c0:c1) <- b[c0:c1) + X W[:, c0:c1) (cr_linear_forward_share). The one place to put
   a faster x W_1 for training's two workers; the one worker's step runs the forward walk
   (cr_net_forward_walk_f32 in step1, train.c), whose layer 0 takes cr_linear_forward_share. */
void cr_train_forward0_f32(size_t n, size_t din, size_t dout, const float *x, const float *w,
                           const float *b, size_t c0, size_t c1, float *r);

/* Layer 0's parameter step on the block rows [r0, r1) x columns [c0, c1) of W (train.c):
       W[r0:r1, c0:c1) <- β W + α X[:, r0:r1)ᵀ G[:, c0:c1),  b[c0:c1) likewise from Σ G
   (b NULL: not stepped); X: n × din, G: n × dout. The product skips the zero inputs
   (kernels/sparse_xtg.h) when cr_train_step0_sparse(n), else it is cr_linear_param_step's
   gemm; the two give the same bits where OpenBLAS's AVX-512 sgemm runs its main kernels
   (the native set on Zen 4; its small-matrix path rounds differently: docs/kernels.md). */
void cr_train_step0_f32(size_t n, size_t din, size_t dout, const float *x, const float *g,
                        float alpha, float beta, float *w, float *b, size_t r0, size_t r1,
                        size_t c0, size_t c1);
/* 1 if cr_train_step0_f32 takes the sparse step for n rows (the kernel set has a fast one) */
int cr_train_step0_sparse(size_t n);

/* Asks for a row of d floats to be brought into the cache. */
static inline void cr_train_prefetch_row(const float *row, size_t d) {
#if defined(__GNUC__)
    const char *p = (const char *)row, *end = (const char *)(row + d);
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 1);
#else
    (void)row;
    (void)d;
#endif
}

#endif
