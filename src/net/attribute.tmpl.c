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
#include "core/fail.h"
#include "core/parallel.h"
#include "input_util.tmpl.h"

#define ATTR_ROWS 1024 /* rows per batched pass */

/* Scratch of one worker of the path methods: a tape and buffers for ATTR_ROWS rows. */
typedef struct {
    cr_tape *tape;
    real *g, *pts, *grad;
    int64_t *cls;
} FN(attr_work);

static void FN(attr_work_free)(FN(attr_work) *w) {
    cr_tape_free(w->tape);
    free(w->g);
    free(w->pts);
    free(w->grad);
    free(w->cls);
}

static cr_status FN(attr_work_init)(const cr_net *net, FN(attr_work) *w) {
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    w->g = malloc(ATTR_ROWS * k * sizeof(real));
    w->pts = malloc(ATTR_ROWS * d * sizeof(real));
    w->grad = malloc(ATTR_ROWS * d * sizeof(real));
    w->cls = malloc(ATTR_ROWS * sizeof(int64_t));
    if (!w->g || !w->pts || !w->grad || !w->cls)
        return cr_fail_nomem("cr_attribute: a worker's scratch", ATTR_ROWS * ((k + 2 * d) * sizeof(real) + sizeof(int64_t)));
    return cr_tape_create(net, ATTR_ROWS, &w->tape);
}

/*
 * A pass of a path method over the examples idx[0..cnt): p points per example,
 * their gradients accumulated with weights into the example's attribution row.
 *   integrated gradients  points b + α_j (x − b), weights of the quadrature,
 *                         the sum then multiplied by (x − b)
 *   SmoothGrad            points x + ε_j, ε_j ~ N(0, σ²) from the example's own
 *                         stream (the seed mixed with its index), weight 1/S
 * Tasks are runs of whole examples (at least ATTR_ROWS rows' worth) on the
 * workers; a task writes only its examples' rows, in its own order, so the
 * result does not depend on the number of workers.
 */
typedef struct {
    cr_ctx *cx;
    const cr_net *net;
    const real *x;
    const cr_label *cls;
    const cr_attr_options *opt;
    const size_t *idx;
    size_t cnt, steps, per_task; /* steps: IG steps or SmoothGrad samples; examples per task */
    real *attr;
    iu_packs pk;
    FN(attr_work) w[CR_MAX_WORKERS];
} FN(path_job);

static cr_status FN(path_task)(void *ctx, size_t t, int wi) {
    FN(path_job) *job = ctx;
    const cr_net *net = job->net;
    const cr_attr_options *o = job->opt;
    const size_t d = net->dims[0];
    const int ig = o->method == CR_ATTR_IG;
    const real *base = ig ? (const real *)o->baseline : NULL;
    const size_t steps = job->steps, p = ig && o->trapezoid ? steps + 1 : steps;
    const size_t e0 = t * job->per_task;
    const size_t ne = job->cnt - e0 < job->per_task ? job->cnt - e0 : job->per_task;
    FN(attr_work) *w = &job->w[wi];
    if (!w->tape) {
        cr_status st = FN(attr_work_init)(net, w);
        if (st != CR_OK) return st;
    }
    for (size_t e = 0; e < ne; e++) memset(job->attr + job->idx[e0 + e] * d, 0, d * sizeof(real));
    cr_rng rng;
    /* rows (e, j) in order, ATTR_ROWS at a time */
    for (size_t r0 = 0; r0 < ne * p; r0 += ATTR_ROWS) {
        const size_t m = ne * p - r0 < ATTR_ROWS ? ne * p - r0 : ATTR_ROWS;
        for (size_t r = 0; r < m; r++) {
            const size_t e = job->idx[e0 + (r0 + r) / p], j = (r0 + r) % p;
            const real *xe = job->x + e * d;
            real *pt = w->pts + r * d;
            if (ig) {
                const real a = (real)((double)(j + (o->trapezoid ? 0 : 1)) / (double)steps);
                for (size_t q = 0; q < d; q++) {
                    real b = base ? base[q] : 0;
                    pt[q] = b + a * (xe[q] - b);
                }
            } else {
                if (j == 0) cr_rng_seed(&rng, o->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(e + 1)));
                for (size_t q = 0; q < d; q++) pt[q] = xe[q] + (real)(o->noise * cr_rng_normal(&rng));
            }
            w->cls[r] = job->cls[e];
        }
        cr_status st = FN(iu_grad_rows)(net, w->tape, w->g, m, w->pts, w->cls, o->of_probs,
                                        w->grad, NULL, &job->pk);
        if (st != CR_OK) return st;
        for (size_t r = 0; r < m; r++) {
            const size_t e = job->idx[e0 + (r0 + r) / p], j = (r0 + r) % p;
            real *ae = job->attr + e * d;
            const real *gr = w->grad + r * d;
            if (ig) { /* Σ_j w_j ∂f/∂x: right Riemann 1/S, trapezoid halved at both ends */
                double wt = 1.0 / (double)steps;
                if (o->trapezoid && (j == 0 || j == steps)) wt *= 0.5;
                for (size_t q = 0; q < d; q++) ae[q] += (real)wt * gr[q];
            } else {
                for (size_t q = 0; q < d; q++)
                    ae[q] += (o->absolute && gr[q] < 0 ? -gr[q] : gr[q]) / (real)steps;
            }
        }
    }
    if (ig)
        for (size_t e = 0; e < ne; e++) {
            real *ae = job->attr + job->idx[e0 + e] * d;
            const real *xe = job->x + job->idx[e0 + e] * d;
            for (size_t q = 0; q < d; q++) ae[q] *= xe[q] - (base ? base[q] : 0);
        }
    return CR_OK;
}

/* One pass over idx[0..cnt) with `steps` (IG) or samples (SmoothGrad). */
static cr_status FN(path_pass)(FN(path_job) *job, const size_t *idx, size_t cnt, size_t steps) {
    const size_t p = job->opt->method == CR_ATTR_IG && job->opt->trapezoid ? steps + 1 : steps;
    job->idx = idx;
    job->cnt = cnt;
    job->steps = steps;
    job->per_task = p >= ATTR_ROWS ? 1 : ATTR_ROWS / p;
    const size_t tasks = (cnt + job->per_task - 1) / job->per_task;
    return cr_parallel_for(job->cx, tasks, FN(path_task), job);
}

cr_status CR_TYPED(cr_attribute_f32, cr_attribute_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const cr_label *cls, const cr_attr_options *opt,
    real *attr, cr_attr_report *report) {
    if (!net || !x || !cls || !opt || !attr || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    for (size_t i = 0; i < n; i++)
        if (cr_check_labels("cr_attribute", "cls", 1, cls + i, k) != CR_OK)
            return cr_fail(CR_ERR_ARG, "cr_attribute: cls[%zu] = %lld is not in [0, %zu)", i, (long long)cls[i], k);
    cr_attr_report none = {0};
    if (!report) report = &none;
    const int probs = opt->of_probs;

    /* f(x) for every method, and the plain gradient for saliency / input × gradient */
    real *score = malloc(n * sizeof(real));
    if (!score) return CR_FAIL(CR_ERR_NOMEM);
    cr_status st = FN(net_class_grad)(cx, net, n, x, cls, probs, attr, score);
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
        return CR_FAIL(CR_ERR_ARG);
    }

    size_t *idx = malloc(n * sizeof(size_t));
    real *score_b = malloc(n * sizeof(real)), *bx = NULL;
    double *gap = malloc(n * sizeof(double));
    FN(path_job) *job = calloc(1, sizeof *job);
    if (!idx || !score_b || !gap || !job) {
        st = cr_fail_nomem("cr_attribute", n * (sizeof(size_t) + sizeof(real) + sizeof(double)) + sizeof *job);
        goto done;
    }
    job->cx = cx;
    job->net = net;
    job->x = x;
    job->cls = cls;
    job->opt = opt;
    job->attr = attr;
    if ((st = FN(iu_pack)(net, NULL, &job->pk)) != CR_OK) goto done;
    for (size_t i = 0; i < n; i++) idx[i] = i;

    if (opt->method == CR_ATTR_SMOOTHGRAD) {
        st = FN(path_pass)(job, idx, n, opt->samples ? opt->samples : 50);
        goto done;
    }

    /* integrated gradients: f(b), then passes with doubling steps while a gap > tol */
    {
        const real *base = opt->baseline;
        bx = malloc(n * d * sizeof(real));
        if (!bx) {
            st = cr_fail_nomem("cr_attribute: the baselines", n * d * sizeof(real));
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t q = 0; q < d; q++) bx[i * d + q] = base ? base[q] : 0;
        /* the gradient at the baseline is not needed: attr serves as its scratch */
        st = FN(net_class_grad)(cx, net, n, bx, cls, probs, attr, score_b);
        if (st != CR_OK) goto done;
        size_t steps = opt->steps ? opt->steps : 50;
        size_t max_steps = opt->max_steps ? opt->max_steps : 8192;
        if (steps > max_steps) max_steps = steps;
        size_t cnt = n;
        for (;;) {
            if ((st = FN(path_pass)(job, idx, cnt, steps)) != CR_OK) goto done;
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
    if (job) {
        for (int w = 0; w < CR_MAX_WORKERS; w++) FN(attr_work_free)(&job->w[w]);
        iu_packs_free(&job->pk);
    }
    free(job);
    free(score);
    free(idx);
    free(score_b);
    free(gap);
    free(bx);
    return st;
}
