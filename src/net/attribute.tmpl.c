/*
 * Attribution maps: which input features move the score f of a class.
 * f is logit c (default) or probability c; its gradient is the pullback of
 * the cotangent e_c on the logits (cr_net_vjp), or of e_c (diag(ŷ) − ŷᵀŷ)
 * for the probability. Every method is a weighted sum of such gradients at
 * some points, so all of them run as batched forward + VJP passes over
 * (example, point) rows:
 *
 *   saliency            ∂f/∂x                       (|∂f/∂x| with absolute)
 *   input × gradient    x ∘ ∂f/∂x
 *   integrated grads    (x − b) ∘ Σ_j w_j ∂f/∂x (b + α_j (x − b)),
 *                       right Riemann α_j = j/S (j = 1..S, w = 1/S) or
 *                       trapezoid (j = 0..S, w = 1/S, halved at both ends).
 *                       Completeness: Σ attr = f(x) − f(b) up to the
 *                       quadrature error; the gap is reported.
 *   SmoothGrad          mean over samples of ∂f/∂x (x + ε), ε ~ N(0, σ²)
 */
#include "input_util.tmpl.h"

#define ATTR_ROWS 1024 /* rows per batched pass */

/* Scratch of the path methods: a tape and buffers for ATTR_ROWS rows. */
typedef struct {
    cr_tape *tape;
    size_t rows;
    real *g, *pts, *grad, *score;
    int64_t *cls;
} FN(attr_work);

static void FN(attr_work_free)(FN(attr_work) *w) {
    cr_tape_free(w->tape);
    free(w->g);
    free(w->pts);
    free(w->grad);
    free(w->score);
    free(w->cls);
}

static cr_status FN(attr_work_init)(const cr_net *net, size_t rows, FN(attr_work) *w) {
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    memset(w, 0, sizeof *w);
    w->rows = rows;
    w->g = malloc(rows * k * sizeof(real));
    w->pts = malloc(rows * d * sizeof(real));
    w->grad = malloc(rows * d * sizeof(real));
    w->score = malloc(rows * sizeof(real));
    w->cls = malloc(rows * sizeof(int64_t));
    if (!w->g || !w->pts || !w->grad || !w->score || !w->cls ||
        cr_tape_create(net, rows, &w->tape) != CR_OK) {
        FN(attr_work_free)(w);
        return CR_ERR_NOMEM;
    }
    return CR_OK;
}

/* Integrated gradients of the examples idx[0..cnt) with `steps` steps:
   attr rows of those examples are overwritten. */
static cr_status FN(ig_pass)(const cr_net *net, FN(attr_work) *w, const real *x,
                             const int64_t *cls, const real *base, const size_t *idx,
                             size_t cnt, size_t steps, int trapezoid, int of_probs,
                             real *attr) {
    const size_t d = net->dims[0];
    const size_t p = trapezoid ? steps + 1 : steps; /* points per example */
    for (size_t e = 0; e < cnt; e++) memset(attr + idx[e] * d, 0, d * sizeof(real));
    /* accumulate Σ_j w_j ∂f/∂x in attr, then multiply by (x − b) */
    for (size_t r0 = 0; r0 < cnt * p; r0 += w->rows) {
        size_t m = cnt * p - r0 < w->rows ? cnt * p - r0 : w->rows;
        for (size_t r = 0; r < m; r++) {
            size_t e = idx[(r0 + r) / p], j = (r0 + r) % p + (trapezoid ? 0 : 1);
            real a = (real)((double)j / (double)steps);
            const real *xe = x + e * d;
            real *pt = w->pts + r * d;
            for (size_t q = 0; q < d; q++) {
                real b = base ? base[q] : 0;
                pt[q] = b + a * (xe[q] - b);
            }
            w->cls[r] = cls[e];
        }
        cr_status st = FN(iu_grad_rows)(net, w->tape, w->g, m, w->pts, w->cls, of_probs, w->grad,
                                        NULL, NULL);
        if (st != CR_OK) return st;
        for (size_t r = 0; r < m; r++) {
            size_t e = idx[(r0 + r) / p], j = (r0 + r) % p + (trapezoid ? 0 : 1);
            double wt = 1.0 / (double)steps;
            if (trapezoid && (j == 0 || j == steps)) wt *= 0.5;
            real *ae = attr + e * d;
            const real *gr = w->grad + r * d;
            for (size_t q = 0; q < d; q++) ae[q] += (real)wt * gr[q];
        }
    }
    for (size_t e = 0; e < cnt; e++) {
        real *ae = attr + idx[e] * d;
        const real *xe = x + idx[e] * d;
        for (size_t q = 0; q < d; q++) ae[q] *= xe[q] - (base ? base[q] : 0);
    }
    return CR_OK;
}

cr_status FN(attribute)(const cr_net *net, size_t n, const real *x, const int64_t *cls,
                        const cr_attr_options *opt, real *attr, cr_attr_report *report) {
    if (!net || !x || !cls || !opt || !attr || net->dtype != R_DTYPE) return CR_ERR_ARG;
    if (n == 0) return CR_ERR_SHAPE;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    for (size_t i = 0; i < n; i++)
        if (cls[i] < 0 || (uint64_t)cls[i] >= k) return CR_ERR_ARG;
    cr_attr_report none = {0};
    if (!report) report = &none;
    const int probs = opt->of_probs;

    /* f(x) for every method, and the plain gradient for saliency / input × gradient */
    real *score = malloc(n * sizeof(real));
    if (!score) return CR_ERR_NOMEM;
    cr_status st = FN(net_class_grad)(net, n, x, cls, probs, attr, score);
    if (st != CR_OK) {
        free(score);
        return st;
    }
    if (report->score)
        for (size_t i = 0; i < n; i++) report->score[i] = score[i];

    if (opt->method == CR_ATTR_SALIENCY || opt->method == CR_ATTR_INPUT_X_GRAD) {
        for (size_t i = 0; i < n * d; i++) {
            if (opt->method == CR_ATTR_INPUT_X_GRAD)
                attr[i] *= x[i];
            else if (opt->absolute)
                attr[i] = attr[i] < 0 ? -attr[i] : attr[i];
        }
        free(score);
        return CR_OK;
    }
    if (opt->method != CR_ATTR_IG && opt->method != CR_ATTR_SMOOTHGRAD) {
        free(score);
        return CR_ERR_ARG;
    }

    FN(attr_work) w;
    size_t *idx = malloc(n * sizeof(size_t));
    real *score_b = malloc(n * sizeof(real)), *bx = NULL;
    double *gap = malloc(n * sizeof(double));
    st = CR_ERR_NOMEM;
    if (!idx || !score_b || !gap || FN(attr_work_init)(net, ATTR_ROWS, &w) != CR_OK) {
        free(score);
        free(idx);
        free(score_b);
        free(gap);
        return CR_ERR_NOMEM;
    }

    if (opt->method == CR_ATTR_SMOOTHGRAD) {
        size_t s = opt->samples ? opt->samples : 50;
        cr_rng rng;
        cr_rng_seed(&rng, opt->seed);
        memset(attr, 0, n * d * sizeof(real));
        for (size_t r0 = 0; r0 < n * s; r0 += w.rows) {
            size_t m = n * s - r0 < w.rows ? n * s - r0 : w.rows;
            for (size_t r = 0; r < m; r++) { /* noise drawn in (example, sample) order */
                size_t e = (r0 + r) / s;
                for (size_t q = 0; q < d; q++)
                    w.pts[r * d + q] = x[e * d + q] + (real)(opt->noise * cr_rng_normal(&rng));
                w.cls[r] = cls[e];
            }
            st = FN(iu_grad_rows)(net, w.tape, w.g, m, w.pts, w.cls, probs, w.grad, NULL, NULL);
            if (st != CR_OK) goto done;
            for (size_t r = 0; r < m; r++) {
                real *ae = attr + (r0 + r) / s * d;
                const real *gr = w.grad + r * d;
                for (size_t q = 0; q < d; q++)
                    ae[q] += (opt->absolute && gr[q] < 0 ? -gr[q] : gr[q]) / (real)s;
            }
        }
        st = CR_OK;
        goto done;
    }

    /* integrated gradients: f(b), then passes with doubling steps while a gap > tol */
    {
        const real *base = opt->baseline;
        bx = malloc(n * d * sizeof(real));
        if (!bx) {
            st = CR_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t q = 0; q < d; q++) bx[i * d + q] = base ? base[q] : 0;
        /* the gradient at the baseline lands in w.grad-sized chunks: reuse attr as scratch */
        st = FN(net_class_grad)(net, n, bx, cls, probs, attr, score_b);
        if (st != CR_OK) goto done;
        size_t steps = opt->steps ? opt->steps : 50;
        size_t max_steps = opt->max_steps ? opt->max_steps : 8192;
        if (steps > max_steps) max_steps = steps;
        size_t cnt = n;
        for (size_t i = 0; i < n; i++) idx[i] = i;
        for (;;) {
            st = FN(ig_pass)(net, &w, x, cls, base, idx, cnt, steps, opt->trapezoid, probs, attr);
            if (st != CR_OK) goto done;
            size_t left = 0;
            for (size_t e = 0; e < cnt; e++) {
                size_t i = idx[e];
                double sum = 0;
                for (size_t q = 0; q < d; q++) sum += attr[i * d + q];
                double gp = sum - ((double)score[i] - (double)score_b[i]);
                gap[i] = gp < 0 ? -gp : gp;
                if (report->steps_used) report->steps_used[i] = steps;
                if (opt->tol > 0 && !(gap[i] <= opt->tol)) idx[left++] = i;
            }
            cnt = left;
            if (cnt == 0 || steps * 2 > max_steps) break;
            steps *= 2;
        }
        if (report->gap)
            for (size_t i = 0; i < n; i++) report->gap[i] = gap[i];
        if (report->score_base)
            for (size_t i = 0; i < n; i++) report->score_base[i] = score_b[i];
        st = CR_OK;
    }
done:
    FN(attr_work_free)(&w);
    free(score);
    free(idx);
    free(score_b);
    free(gap);
    free(bx);
    return st;
}
