/*
 * Test hook of training's two workers (src/net/train.c, private to the
 * library and its tests): which halves of each phase worker 1 claims. The
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

#endif
