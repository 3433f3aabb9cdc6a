/*
 * The training step and loop (float32): a minibatch step through the gemms,
 * the per-example SGD path, an epoch with a seeded shuffle, and evaluation.
 * Everything works in a workspace allocated once (cr_train_ws): nothing in
 * here allocates.
 *
 * Backward for one step, layer l from the top (G = dJ/dr_l, N x dout, of the
 * SUMMED loss; the mean's gradient is G / N):
 *     G_in  = G W_lᵀ ∘ act'(r_(l-1))       (before W_l changes)
 *     W_l  <- (1 - lr wd) W_l - (lr/N) H_(l-1)ᵀ G     (plain SGD, one gemm)
 *     or  dW_l = (1/N) H_(l-1)ᵀ G, db_l = (1/N) Σ G   (then cr_optim_step_f32)
 *
 * With two workers (cr_train_ws_set_threads) the same steps are split between
 * the calling thread (worker 0) and a persistent second thread (worker 1):
 * train_pool.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "core/fail.h"
#include "chainrule_typed.h"
#include "core/parallel.h"
#include "kernels/elementwise.h"
#include "kernels/sparse_xtg.h"
#include "train_pool.h"
/* the forward and reverse walks and the linear op's steps, float32 (net_private.tmpl.h) */
#define CR_REAL_F32
#include "ops/real.h"
#include "net_private.tmpl.h"

static float *wptr(cr_net *net, int l) { return (float *)net->params + net->w_offset[l]; }
static float *bptr(cr_net *net, int l) { return (float *)net->params + net->b_offset[l]; }

static size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

cr_status cr_train_ws_create(const cr_net *net, size_t max_batch, size_t n_examples,
                             cr_train_ws **out) {
    *out = NULL;
    if (!net || max_batch == 0 || !cr_net_is_plain_classifier(net)) return CR_FAIL(CR_ERR_ARG);
    for (int l = 0; l < net->n_layers; l++) /* BatchNorm links: not trained (docs/batchnorm.md) */
        if (net->link_form[l + 1] != CR_AFFINE_NONE) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F32) return CR_FAIL(CR_ERR_DTYPE);
    if (n_examples > UINT32_MAX) return CR_FAIL(CR_ERR_OVERFLOW);
    size_t d = net->dims[0], xb, gb, yb, pb, zb, maxdim = 0; /* maxdim: Σ input widths */
    for (int l = 0; l < net->n_layers; l++) maxdim += net->dims[l];
    if (cr_mul_size(max_batch, d, &xb) != CR_OK || cr_mul_size(xb, sizeof(float), &xb) != CR_OK ||
        cr_mul_size(net->n_params, sizeof(float), &gb) != CR_OK ||
        cr_mul_size(max_batch, sizeof(cr_label), &yb) != CR_OK ||
        cr_mul_size(n_examples, sizeof(uint32_t), &pb) != CR_OK ||
        cr_mul_size(maxdim, sizeof(uint32_t), &zb) != CR_OK)
        return CR_FAIL(CR_ERR_OVERFLOW);
    size_t header = align64(sizeof(cr_train_ws));
    xb = align64(xb);
    gb = align64(gb);
    yb = align64(yb);
    pb = align64(pb);
    zb = align64(zb);
    if (xb > SIZE_MAX / 8 || gb > SIZE_MAX / 8 || pb > SIZE_MAX / 8 || zb > SIZE_MAX / 8)
        return CR_FAIL(CR_ERR_OVERFLOW);
    size_t total = header + xb + gb + yb + pb + zb;
    char *mem = aligned_alloc(64, total);
    if (!mem) return CR_FAIL(CR_ERR_NOMEM);
    memset(mem, 0, total);
    cr_train_ws *ws = (cr_train_ws *)mem;
    ws->max_batch = max_batch;
    ws->n_examples = n_examples;
    ws->grads = (float *)(mem + header);
    ws->xb = (float *)(mem + header + gb);
    ws->yb = (cr_label *)(mem + header + gb + xb);
    ws->perm = (uint32_t *)(mem + header + gb + xb + yb);
    ws->nz = (uint32_t *)(mem + header + gb + xb + yb + pb);
    ws->workers = 1;
    cr_status st = cr_tape_create(net, max_batch, &ws->tape);
    if (st != CR_OK) {
        free(mem);
        return st;
    }
    *out = ws;
    return CR_OK;
}

void cr_train_ws_free(cr_train_ws *ws) {
    if (!ws) return;
    cr_train_ws_set_threads(ws, 1);
    cr_tape_free(ws->tape);
    free(ws);
}

/* Per-row loss lse(θ) − θ_label (in double: finite for every finite θ) and
   argmax of θ; returns 0 if the loss is not finite. */
static int row_loss(size_t k, const float *theta, cr_label label, double *loss_sum,
                    size_t *correct) {
    float m = theta[0];
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (theta[j] > m) {
            m = theta[j];
            am = j;
        }
    double s = 0;
    for (size_t j = 0; j < k; j++) s += exp((double)theta[j] - (double)m);
    double loss = (double)m + log(s) - (double)theta[label];
    if (loss_sum) *loss_sum += loss;
    if (correct && am == (size_t)label) (*correct)++;
    return isfinite(loss) != 0;
}

/* The training loss of a row from the softmax already computed: −log ŷ_label
   (float, one log); when ŷ_label is tiny or not finite, the exact form above. */
static int row_loss_fast(size_t k, const float *theta, const float *probs, cr_label label,
                         double *loss_sum, size_t *correct) {
    float p = probs[label];
    if (!(p > 1e-30f)) return row_loss(k, theta, label, loss_sum, correct);
    size_t am = 0;
    for (size_t j = 1; j < k; j++)
        if (theta[j] > theta[am]) am = j;
    if (loss_sum) *loss_sum += -(double)logf(p);
    if (correct && am == (size_t)label) (*correct)++;
    return 1;
}

/* The first layer (1-based) whose outputs r_l (n rows) hold NaN/Inf, else L. */
static int first_bad_output(const cr_net *net, const cr_tape *tape, size_t n) {
    for (int l = 0; l < net->n_layers; l++)
        if (!cr_all_finite_f32(n * net->dims[l + 1], tape->pre[l])) return l + 1;
    return net->n_layers;
}

/* After an update: 0 if every parameter is finite, else the first bad layer (1-based). */
static int first_bad_params(cr_net *net) {
    if (cr_all_finite_f32(net->n_params, net->params)) return 0;
    for (int l = 0; l < net->n_layers; l++)
        if (!cr_all_finite_f32(net->dims[l] * net->dims[l + 1], wptr(net, l)) ||
            !cr_all_finite_f32(net->dims[l + 1], bptr(net, l)))
            return l + 1;
    return net->n_layers;
}

/* The loss rows of a forward pass (train_pool.h). */
int cr_train_forward_loss_f32(const cr_net *net, cr_tape *tape, size_t i0, size_t i1,
                              const cr_label *labels, double *loss_sum, size_t *correct) {
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    /* NaN/Inf anywhere in the forward pass, including parameters that the
       previous update made non-finite: every weight and bias of a layer feeds
       every row of its output r_l (0 · inf = NaN), so checking the small r_l
       replaces a pass over the whole parameter block */
    for (int l = 0; l < L; l++) {
        size_t dl = net->dims[l + 1];
        if (!cr_all_finite_f32((i1 - i0) * dl, (const float *)tape->pre[l] + i0 * dl))
            return l + 1;
    }
    const float *theta = tape->pre[L - 1], *probs = tape->post[L - 1];
    float *g = tape->grad_a;
    int finite = 1;
    for (size_t i = i0; i < i1; i++) {
        finite &= row_loss_fast(k, theta + i * k, probs + i * k, labels[i], loss_sum, correct);
        memcpy(g + i * k, probs + i * k, k * sizeof(float));
        g[i * k + (size_t)labels[i]] -= 1.0f;
    }
    return finite ? 0 : L;
}

void cr_train_forward0_f32(size_t n, size_t din, size_t dout, const float *x, const float *w,
                           const float *b, size_t c0, size_t c1, float *r) {
    cr_linear_forward_share_f32(n, din, dout, x, w, b, c0, c1, r, NULL);
}

int cr_train_step0_sparse(size_t n) { return cr_sparse_xtg_pays() && n <= CR_SPARSE_XTG_MAX_ROWS; }

void cr_train_step0_f32(size_t n, size_t din, size_t dout, const float *x, const float *g,
                        float alpha, float beta, float *w, float *b, size_t r0, size_t r1,
                        size_t c0, size_t c1) {
    if (c1 <= c0) return;
    if (cr_train_step0_sparse(n) &&
        cr_sparse_xtg_f32(n, r0, r1, c0, c1, x, din, g, dout, alpha, beta, w, dout)) {
        if (b) cr_linear_param_step_f32(n, din, dout, x, g, alpha, beta, w, b, 0, 0, c0, c1);
        return;
    }
    cr_linear_param_step_f32(n, din, dout, x, g, alpha, beta, w, b, r0, r1, c0, c1);
}

/* The reverse walk's step0 (net_private.tmpl.h): the whole of layer 0. */
static void step0_walk(size_t n, size_t din, size_t dout, const float *x, const float *g,
                       float alpha, float beta, float *w, float *b) {
    cr_train_step0_f32(n, din, dout, x, g, alpha, beta, w, b, 0, din, 0, dout);
}

static cr_status step_args(const cr_net *net, const cr_optim *opt, const cr_train_ws *ws,
                           size_t n, const float *x, const cr_label *labels) {
    if (!net || !opt || !ws || !x || !labels || n == 0)
        return cr_fail(CR_ERR_ARG, "cr_train_step: %s", n == 0 ? "n = 0 rows" : "a NULL argument");
    if (net->dtype != CR_F32 || opt->dtype != CR_F32)
        return cr_fail(CR_ERR_DTYPE, "cr_train_step: training needs a float32 net and optimiser");
    if (opt->n_params != net->n_params || ws->tape->n_layers != net->n_layers ||
        !cr_net_is_plain_classifier(net) || !cr_tape_fits_links(net, ws->tape))
        return cr_fail(CR_ERR_ARG, "cr_train_step: the optimiser or workspace was made for another net, or the "
                                   "net is not a plain classifier (softmax + cross-entropy, no links)");
    if (n > ws->max_batch)
        return cr_fail(CR_ERR_SHAPE, "cr_train_step: n = %zu rows exceed the workspace's max_batch %zu", n,
                       ws->max_batch);
    return cr_check_labels("cr_train_step", "labels", n, labels, net->dims[net->n_layers]);
}

/* The BLAS hold of a training call: serial for the workspace's two workers, else the context's. */
static int train_hold(cr_ctx *ctx, const cr_train_ws *ws) {
    if (ws->pool) {
        cr_blas_serial_enter();
        return -1;
    }
    return cr_blas_enter(ctx);
}

static void train_release(int token) {
    if (token < 0) cr_blas_serial_leave();
    else cr_blas_leave(token);
}

/* cr_train_step_f32 on one worker, its checks done, under the caller's hold */
static cr_status step1(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const float *x,
                       const cr_label *labels, double *loss_sum, size_t *correct) {
    cr_tape *tape = ws->tape;
    cr_net_forward_walk_f32(net, tape, n, x, NULL);
    tape->n = n;
    tape->input = x;
    ws->fault_layer = 0;
    if ((ws->fault_layer = cr_train_forward_loss_f32(net, tape, 0, n, labels, loss_sum, correct)) != 0)
        return cr_fail(CR_ERR_NONFINITE, "cr_train_step: a NaN or Inf in layer %d's forward pass", ws->fault_layer);
    /* backward, with the update fused into the gemms for plain SGD:
         W <- (1 − lr wd) W − (lr/N) Hᵀ G,  b <- (1 − lr wd) b − (lr/N) Σ G
       else the mean loss's gradients into ws->grads for the optimiser */
    const cr_optim_config *c = &opt->cfg;
    const int fused = c->kind == CR_OPT_SGD;
    const float lr = (float)cr_optim_lr(c, opt->step);
    const float inv_n = 1.0f / (float)n;
    cr_net_reverse_walk_f32(
        net, tape, n, tape->grad_a,
        &(cr_reverse_opts_f32){.step = {fused ? (float *)net->params : ws->grads,
                                        fused ? -lr * inv_n : inv_n,
                                        fused ? 1.0f - lr * (float)c->weight_decay : 0.0f},
                                .step0 = step0_walk});
    if (fused) {
        opt->step++;
    } else {
        cr_status st = cr_optim_step_f32(opt, net->params, ws->grads);
        if (st != CR_OK) return st;
    }
    /* parameters this update made non-finite are caught by the next forward
       pass (above) or by cr_train_epoch_f32's check at the end of the epoch */
    return CR_OK;
}

cr_status cr_train_step_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                            const float *x, const cr_label *labels, double *loss_sum,
                            size_t *correct) {
    cr_status st = step_args(net, opt, ws, n, x, labels);
    if (st != CR_OK) return st;
    const int hold = train_hold(ctx, ws);
    if (ws->pool)
        st = cr_train_step2_f32(net, opt, ws, n, x, labels, loss_sum, correct, NULL, NULL, NULL, 0);
    else
        st = step1(net, opt, ws, n, x, labels, loss_sum, correct);
    train_release(hold);
    return st;
}

cr_status cr_train_sgd1_f32(cr_net *net, cr_optim *opt, cr_train_ws *ws, const float *x,
                            cr_label label, double *loss_sum, size_t *correct) {
    if (!net || !opt || !ws || !x) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F32 || opt->dtype != CR_F32) return CR_FAIL(CR_ERR_DTYPE);
    if (opt->cfg.kind != CR_OPT_SGD || opt->cfg.weight_decay != 0 ||
        ws->tape->n_layers != net->n_layers || !cr_net_is_plain_classifier(net) ||
        !cr_tape_fits_links(net, ws->tape))
        return CR_FAIL(CR_ERR_ARG);
    const int L = net->n_layers;
    const size_t k = net->dims[L];
    if (cr_check_labels("cr_train_sgd1", "label", 1, &label, k) != CR_OK) return CR_ERR_ARG;
    cr_tape *tape = ws->tape;

    /* forward: r = b + Σ_{i: h_i ≠ 0} h_i W[i,:] (skips zero pixels / dead units), the
       linear op's sparse backend; the nonzero inputs of each layer are kept (layer l's
       at nz + Σ_{j<l} dims[j]) for its update in the backward pass */
    size_t nnz[CR_MAX_LAYERS], nz_off[CR_MAX_LAYERS], off = 0;
    const float *in = cr_net_input_link_f32(net, tape, 0, 1, x); /* link 0 */
    const float *z = in;
    for (int l = 0; l < L; l++) {
        const size_t dout = net->dims[l + 1];
        nz_off[l] = off;
        off += net->dims[l];
        nnz[l] = cr_linear_forward_sparse_f32(net->dims[l], dout, in, wptr(net, l), bptr(net, l),
                                              tape->pre[l], ws->nz + nz_off[l]);
        if (l + 1 < L) cr_act_f32(net->act[l])->forward(dout, tape->pre[l], tape->post[l]);
        in = tape->post[l];
    }
    cr_net_output_rows_f32(net, tape, 0, 1);
    tape->n = 1;
    tape->input = x;
    ws->fault_layer = 0;
    if (!row_loss_fast(k, tape->pre[L - 1], tape->post[L - 1], label, loss_sum, correct)) {
        ws->fault_layer = first_bad_output(net, tape, 1);
        return CR_FAIL(CR_ERR_NONFINITE);
    }
    float *g = tape->grad_a;
    memcpy(g, tape->post[L - 1], k * sizeof(float));
    g[label] -= 1.0f;
    /* backward, the reverse walk's steps on one row: G_h = W_l g (old W, the gemv), ∘ a';
       W_l -= lr hᵀ g on the rows of the nonzero inputs, b_l -= lr g (the sparse update,
       which checks the values it wrote: a NaN can hide from the loss) */
    const float lr = (float)cr_optim_lr(&opt->cfg, opt->step);
    float *gh = tape->grad_b;
    for (int l = L - 1; l >= 0; l--) {
        const size_t din = net->dims[l], dout = net->dims[l + 1];
        const float *hin = l > 0 ? (const float *)tape->post[l - 1] : z;
        if (l > 0) {
            cr_linear_vjp_row_f32(din, dout, wptr(net, l), g, gh);
            cr_net_diag_vjp_f32(NULL, &(cr_diag_link_f32){net, l - 1, net->act[l - 1], 1, din, 0,
                                                          din, tape->pre[l - 1], tape->post[l - 1],
                                                          gh, gh});
        }
        if (!cr_linear_param_step_sparse_f32(nnz[l], ws->nz + nz_off[l], dout, -lr, hin, g,
                                             wptr(net, l), bptr(net, l)) &&
            !ws->fault_layer)
            ws->fault_layer = l + 1;
        float *t = g;
        g = gh;
        gh = t;
    }
    if (ws->fault_layer) return CR_FAIL(CR_ERR_NONFINITE); /* not counted, as above */
    opt->step++;
    return CR_OK;
}

static cr_status epoch(cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n, const float *x,
                       const cr_label *labels, size_t batch, cr_rng *rng, cr_train_stats *stats,
                       cr_train_progress_fn progress, size_t every, void *user) {
    memset(stats, 0, sizeof *stats);
    const size_t d = net->dims[0];
    uint32_t *perm = ws->perm;
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    cr_shuffle_u32(rng, n, perm);
    const int per_example =
        batch == 1 && opt->cfg.kind == CR_OPT_SGD && opt->cfg.weight_decay == 0;
    size_t steps = 0;
    for (size_t start = 0; start < n; start += batch) {
        size_t nb = n - start < batch ? n - start : batch;
        cr_status st;
        if (per_example) {
            size_t e = perm[start];
            st = cr_train_sgd1_f32(net, opt, ws, x + e * d, labels[e], &stats->loss_sum,
                                   &stats->correct);
        } else if (ws->pool) {
            /* two workers: they gather the rows themselves, half each */
            for (size_t i = 0; i < nb; i++) ws->yb[i] = labels[perm[start + i]];
            size_t next = start + nb, nn = n - next < batch ? n - next : batch;
            st = step_args(net, opt, ws, nb, ws->xb, ws->yb);
            if (st == CR_OK)
                st = cr_train_step2_f32(net, opt, ws, nb, ws->xb, ws->yb, &stats->loss_sum,
                             &stats->correct, x, perm + start, perm + next, nn);
        } else {
            for (size_t i = 0; i < nb; i++) {
                size_t e = perm[start + i];
                memcpy(ws->xb + i * d, x + e * d, d * sizeof(float));
                ws->yb[i] = labels[e];
            }
            /* the next batch's rows are scattered over the dataset: ask for them
               now, so that they arrive while this step's gemms run */
            size_t next = start + nb, nn = n - next < batch ? n - next : batch;
            for (size_t i = 0; i < nn; i++) cr_train_prefetch_row(x + (size_t)perm[next + i] * d, d);
            st = step_args(net, opt, ws, nb, ws->xb, ws->yb);
            if (st == CR_OK)
                st = step1(net, opt, ws, nb, ws->xb, ws->yb, &stats->loss_sum, &stats->correct);
        }
        if (st != CR_OK) return st;
        stats->seen += nb;
        steps++;
        if (progress && every && steps % every == 0 && stats->seen < n &&
            progress(user, stats, n))
            return CR_OK;
    }
    /* the last update of the epoch has no next forward pass to reveal it */
    if ((ws->fault_layer = first_bad_params(net)) != 0) {
        opt->step--; /* not counted: opt->step + 1 names the step */
        return CR_FAIL(CR_ERR_NONFINITE);
    }
    if (progress) progress(user, stats, n);
    return CR_OK;
}

cr_status cr_train_epoch_f32(cr_ctx *ctx, cr_net *net, cr_optim *opt, cr_train_ws *ws, size_t n,
                             const float *x, const cr_label *labels, size_t batch, cr_rng *rng,
                             cr_train_stats *stats, cr_train_progress_fn progress,
                             size_t every, void *user) {
    if (!net || !opt || !ws || !x || !labels || !rng || !stats || n == 0 || batch == 0)
        return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != CR_F32) return CR_FAIL(CR_ERR_DTYPE);
    if (n > ws->n_examples || batch > ws->max_batch)
        return cr_fail(CR_ERR_SHAPE, "cr_train_epoch: n = %zu examples or batch = %zu exceed the workspace (%zu, %zu)",
                       n, batch, ws->n_examples, ws->max_batch);
    if (cr_check_labels("cr_train_epoch", "labels", n, labels, net->dims[net->n_layers]) != CR_OK)
        return CR_ERR_ARG;
    const int hold = train_hold(ctx, ws);
    const cr_status st = epoch(net, opt, ws, n, x, labels, batch, rng, stats, progress, every, user);
    train_release(hold);
    return st;
}

