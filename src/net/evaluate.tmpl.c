/*
 * Evaluation of a classifier (softmax + CE head) over a labelled set, for one
 * scalar type (ops/real.h): in batches of the tape's max_batch, the summed loss
 * Σ_n (max θ + log Σ_j exp(θ_j − max θ) − θ_label) in double, the correct count
 * (the first largest θ_j is the prediction), the K x K confusion matrix
 * [true][predicted] accumulated, and the probabilities ŷ = S(θ) (n x K).
 *
 * Instantiated for float32 (evaluate_f32.c) and float64 (evaluate_f64.c).
 */
#include <math.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "core/parallel.h"

/* Adds row theta's loss at label (in double, the log-sum-exp from the largest
   θ_j) and whether its first largest θ_j is label. */
static void FN(eval_row)(size_t k, const real *theta, cr_label label, double *loss_sum, size_t *correct) {
    real m = theta[0];
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (theta[j] > m) {
            m = theta[j];
            am = j;
        }
    double s = 0;
    for (size_t j = 0; j < k; j++) s += exp((double)theta[j] - (double)m);
    const double loss = (double)m + log(s) - (double)theta[label];
    if (loss_sum) *loss_sum += loss;
    if (correct && am == (size_t)label) (*correct)++;
}

static cr_status FN(eval_rows)(const cr_net *net, cr_tape *tape, size_t n, const real *x, const cr_label *labels,
                               double *loss_sum, size_t *correct, uint64_t *confusion, real *probs) {
    if (!net || !tape || !x || net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE || tape->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    if (labels && cr_check_labels("cr_evaluate", "labels", n, labels, k) != CR_OK) return CR_ERR_ARG;
    for (size_t start = 0; start < n; start += tape->max_batch) {
        const size_t nb = n - start < tape->max_batch ? n - start : tape->max_batch;
        cr_status st = FN(net_forward)(net, tape, nb, x + start * d);
        if (st != CR_OK) return st;
        const real *theta = tape->out; /* o: θ, or a_out(θ) with an output activation */
        if (probs) memcpy(probs + start * k, tape->post[L - 1], nb * k * sizeof(real));
        if (!labels) continue;
        for (size_t i = 0; i < nb; i++) {
            const real *t = theta + i * k;
            size_t am = 0;
            for (size_t j = 1; j < k; j++)
                if (t[j] > t[am]) am = j;
            FN(eval_row)(k, t, labels[start + i], loss_sum, correct);
            if (confusion) confusion[(size_t)labels[start + i] * k + am]++;
        }
    }
    return CR_OK;
}

cr_status CR_TYPED(cr_evaluate_f32, cr_evaluate_f64)(cr_ctx *ctx, const cr_net *net, cr_tape *tape, size_t n,
                                                     const real *x, const cr_label *labels, double *loss_sum,
                                                     size_t *correct, uint64_t *confusion, real *probs) {
    const int hold = cr_blas_enter(ctx);
    const cr_status st = FN(eval_rows)(net, tape, n, x, labels, loss_sum, correct, confusion, probs);
    cr_blas_leave(hold);
    return st;
}
