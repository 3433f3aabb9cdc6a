/*
 * Adversarial examples by the input gradient of the loss. The attack loss is
 * J = CE(label) (untargeted, to be increased) or J = CE(target) (targeted, to
 * be decreased), always computed through the fused softmax + cross-entropy on
 * the logits: ∂J/∂θ = ŷ − y never passes through log ŷ, so a saturated softmax
 * cannot mask the gradient. ∂J/∂x is the per-example VJP chain from ŷ − y
 * (iu_vjp_input), as cr_net_backward's dx.
 *
 *   FGSM   x' = clip(x ± ε sign(∂J/∂x))             L∞
 *          x' = clip(x ± ε ∂J/∂x / ‖∂J/∂x‖₂)        L2
 *   PGD    x_{t+1} = clip(P_ε(x_t ± α step(∂J/∂x_t))),  P_ε the projection onto
 *          the ε-ball around x (clamp for L∞, rescale for L2), clip to [lo, hi];
 *          optional uniform random start in the ball; keeps per example the best
 *          iterate seen (a successful one first, then the best loss).
 *
 * Clipping a point of the ball into the box only moves each coordinate toward
 * x (x itself lies in the box), so the clipped point stays in the ball.
 *
 * The random start of chunk t draws from its own stream (the seed mixed with
 * t), so the result does not depend on how many workers ran the chunks.
 *
 * A regressor (the squared-error head, cr_attack_regress_*): J = ½‖o − t‖² with
 * the example's targets t, to be increased; ∂J/∂o = o − t (net_head_vjp, through
 * the output activation's diagonal), the same steps. There is no class to flip:
 * PGD keeps the iterate with the largest J, and the stats hold no accuracy.
 */
#include "core/fail.h"
#include "core/parallel.h"
#include "input_util.tmpl.h"

/* Examples per task: the chunks are spread over the workers (core/parallel.h),
   and a chunk's PGD iterations all run on one worker's tape. */
enum { ATTACK_ROWS = 512 };

/* Projects xa onto the ε-ball around x, then clips to [lo, hi]. */
static void FN(project)(const cr_attack_options *o, size_t d, const real *x, real *xa) {
    const real eps = (real)o->eps, lo = (real)o->lo, hi = (real)o->hi;
    if (o->norm == CR_NORM_LINF) { /* the clamp and the clip in one branch-free pass */
        for (size_t q = 0; q < d; q++) {
            real v = xa[q], up = x[q] + eps, down = x[q] - eps;
            v = v > up ? up : v; /* then v < down is false: down <= up */
            v = v < down ? down : v;
            v = v < lo ? lo : v;
            v = v > hi ? hi : v; /* lo < hi */
            xa[q] = v;
        }
        return;
    } else {
        double s = 0;
        for (size_t q = 0; q < d; q++) s += ((double)xa[q] - x[q]) * ((double)xa[q] - x[q]);
        s = sqrt(s);
        if (s > o->eps) {
            real f = (real)(o->eps / s);
            for (size_t q = 0; q < d; q++) xa[q] = x[q] + f * (xa[q] - x[q]);
        }
    }
    for (size_t q = 0; q < d; q++) {
        real v = xa[q] < lo ? lo : xa[q];
        xa[q] = v > hi ? hi : v; /* lo < hi */
    }
}

/* Rows whose serial sums run interleaved (independent chains: each row's sum keeps its
   own order, the rows only overlap in time). */
enum { SUM_ROWS = 4 };

/* |v| without a branch. Where the sums below used v < 0 ? −v : v, this differs only for
   v = −0 (+0 instead): added to a sum that starts at +0, or compared with a maximum that
   starts at +0, it gives the same bits. */
#if defined(CR_REAL_F32)
#define ATK_ABS(v) fabsf(v)
#else
#define ATK_ABS(v) fabs(v)
#endif

/* xa <- clip(x + step(g)) over m rows of d, step = s·sign(g) (0 where g is 0 or NaN),
   the clip to [lo, hi]: element-wise, without branches (vectorised). */
static void FN(fgsm_linf_step)(size_t m, size_t d, const real *x,
                               const real *g, real s, real lo, real hi,
                               real *xa) {
    const size_t nd = m * d;
    for (size_t q = 0; q < nd; q++) {
        real gq = g[q], st = gq > 0 ? s : 0;
        st = gq < 0 ? -s : st;
        real v = x[q] + st;
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        xa[q] = v;
    }
}

/* l1[j] = Σ_q |g_jq| and gd[j] = Σ_q g_jq (xa_jq − x_jq) in float, q in order, for the
   mr ≤ SUM_ROWS rows: the sums of the fused loop they replace, bit for bit. */
static void FN(fgsm_linf_sums)(size_t mr, size_t d, const real *g, const real *x,
                               const real *xa, real *l1, real *gd) {
    if (mr == SUM_ROWS) {
        real a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        const real *g1 = g + d, *g2 = g + 2 * d, *g3 = g + 3 * d;
        const real *x1 = x + d, *x2 = x + 2 * d, *x3 = x + 3 * d;
        const real *v1 = xa + d, *v2 = xa + 2 * d, *v3 = xa + 3 * d;
        for (size_t q = 0; q < d; q++) {
            a0 += ATK_ABS(g[q]);
            a1 += ATK_ABS(g1[q]);
            a2 += ATK_ABS(g2[q]);
            a3 += ATK_ABS(g3[q]);
            b0 += g[q] * (xa[q] - x[q]);
            b1 += g1[q] * (v1[q] - x1[q]);
            b2 += g2[q] * (v2[q] - x2[q]);
            b3 += g3[q] * (v3[q] - x3[q]);
        }
        l1[0] = a0, l1[1] = a1, l1[2] = a2, l1[3] = a3;
        gd[0] = b0, gd[1] = b1, gd[2] = b2, gd[3] = b3;
        return;
    }
    for (size_t j = 0; j < mr; j++) {
        const real *gj = g + j * d, *xj = x + j * d, *vj = xa + j * d;
        real a = 0, b = 0;
        for (size_t q = 0; q < d; q++) {
            a += ATK_ABS(gj[q]);
            b += gj[q] * (vj[q] - xj[q]);
        }
        l1[j] = a, gd[j] = b;
    }
}

/* The first element of v (n of them) that compares equal to 0: the value a scan in order
   keeps when the extremum it finds is a zero (−0 and +0 compare equal; the first stays). */
static real FN(first_zero)(size_t n, const real *v) {
    for (size_t q = 0; q < n; q++)
        if (v[q] == 0) return v[q];
    return 0; /* not reached: the caller saw a zero */
}

enum { RANGE_LANES = 8 };

/* The range of xa (d values) and max_q |xa_q − x_q| or, with l2, Σ_q (xa_q − x_q)² in float,
   q in order: the bits of the scan in order
       mn = xa_0; mn = v < mn ? v : mn   (mx alike; a NaN is never taken, but stays if first)
       e = 0; e = |dv| > e ? |dv| : e.
   The extremes are taken over RANGE_LANES interleaved lanes (vectorised), then over the
   lanes: every value but a zero is one set of bits, a NaN is never taken unless xa_0 is one
   (then every lane starts from it and keeps it), |dv| is never −0; a zero extremum is the
   first zero of xa, as the scan keeps it. */
static void FN(adv_range)(size_t d, const real *x, const real *xa, int l2, real *mn_out,
                          real *mx_out, real *dist_out) {
    real mn[RANGE_LANES], mx[RANGE_LANES], e[RANGE_LANES];
    for (int l = 0; l < RANGE_LANES; l++) mn[l] = mx[l] = xa[0], e[l] = 0;
    size_t q = 0;
    for (; q + RANGE_LANES <= d; q += RANGE_LANES)
        for (int l = 0; l < RANGE_LANES; l++) {
            real v = xa[q + l], dv = ATK_ABS(v - x[q + l]);
            mn[l] = v < mn[l] ? v : mn[l];
            mx[l] = v > mx[l] ? v : mx[l];
            e[l] = dv > e[l] ? dv : e[l];
        }
    for (; q < d; q++) {
        real v = xa[q], dv = ATK_ABS(v - x[q]);
        mn[0] = v < mn[0] ? v : mn[0];
        mx[0] = v > mx[0] ? v : mx[0];
        e[0] = dv > e[0] ? dv : e[0];
    }
    for (int l = 1; l < RANGE_LANES; l++) {
        mn[0] = mn[l] < mn[0] ? mn[l] : mn[0];
        mx[0] = mx[l] > mx[0] ? mx[l] : mx[0];
        e[0] = e[l] > e[0] ? e[l] : e[0];
    }
    *mn_out = mn[0] == 0 ? FN(first_zero)(d, xa) : mn[0];
    *mx_out = mx[0] == 0 ? FN(first_zero)(d, xa) : mx[0];
    if (l2) {
        real s = 0;
        for (q = 0; q < d; q++) {
            real dv = xa[q] - x[q];
            s += dv * dv;
        }
        *dist_out = s;
    } else {
        *dist_out = e[0];
    }
}

/* acc's range of x' and largest distance, over m rows in order (adv_range per row). */
static void FN(fold_ranges)(cr_attack_stats *acc, int l2, size_t m, size_t d, const real *x,
                            const real *xa) {
    for (size_t i = 0; i < m; i++) {
        real mn, mx, dist;
        FN(adv_range)(d, x + i * d, xa + i * d, l2, &mn, &mx, &dist);
        acc->min_value = mn < acc->min_value ? mn : acc->min_value;
        acc->max_value = mx > acc->max_value ? mx : acc->max_value;
        double dd = l2 ? sqrt((double)dist) : (double)dist;
        acc->max_dist = dd > acc->max_dist ? dd : acc->max_dist;
    }
}

/* One worker's scratch, allocated by its first task. */
typedef struct {
    cr_tape *tape;
    real *y, *g, *best; /* attack targets (rows x K), ∂J/∂x, best iterate (rows x D) */
    real *g_theta;      /* ∂J/∂θ (rows x K) */
    double *best_key;
    int *best_ok;
    size_t *best_pred; /* PGD: the best iterate's prediction and loss, from the forward */
    real *best_loss;   /* pass that evaluated it (no pass of its own at the end) */
} FN(attack_scratch);

typedef struct {
    const cr_net *net;
    size_t n, chunk; /* chunk: examples per task (cr_even_chunk of n, at most ATTACK_ROWS) */
    const real *x;
    const cr_label *labels, *target;
    const real *treg; /* a regressor's targets (n x K), else NULL */
    const cr_attack_options *opt;
    real *x_adv;
    cr_attack_stats *chunk_stats; /* one per task, summed in order at the end */
    iu_packs pk;                  /* W_0 packed for the kernel (iu_pack) */
    FN(attack_scratch) s[CR_MAX_WORKERS];
} FN(attack_job);

static void FN(attack_scratch_free)(FN(attack_scratch) *s) {
    cr_tape_free(s->tape);
    free(s->y);
    free(s->g);
    free(s->best);
    free(s->best_key);
    free(s->best_ok);
    free(s->g_theta);
    free(s->best_pred);
    free(s->best_loss);
}

static cr_status FN(attack_scratch_init)(const cr_net *net, FN(attack_scratch) *s) {
    const size_t d = net->dims[0], k = net->dims[net->n_layers], rows = ATTACK_ROWS;
    s->y = malloc(rows * k * sizeof(real));
    s->g = malloc(rows * d * sizeof(real));
    s->best = malloc(rows * d * sizeof(real));
    s->best_key = malloc(rows * sizeof(double));
    s->best_ok = malloc(rows * sizeof(int));
    s->g_theta = malloc(rows * k * sizeof(real));
    s->best_pred = malloc(rows * sizeof(size_t));
    s->best_loss = malloc(rows * sizeof(real));
    if (!s->y || !s->g || !s->best || !s->best_key || !s->best_ok || !s->g_theta ||
        !s->best_pred || !s->best_loss)
        return CR_FAIL(CR_ERR_NOMEM);
    return cr_tape_create(net, rows, &s->tape);
}

/* g <- ∂J_i/∂x_i of the m rows of the tape's last forward pass, J = CE(y):
   the fused softmax + CE VJP ŷ − y, then the VJP chain to the input. */
static cr_status FN(attack_grad)(const FN(attack_job) *job, FN(attack_scratch) *sc, size_t m) {
    const cr_net *net = job->net;
    FN(net_head_vjp)(net, sc->tape, m, sc->y, sc->g_theta);
    return FN(iu_vjp_input)(net, sc->tape, sc->g_theta, sc->g, &job->pk);
}

/* acc's clean loss and accuracy from the tape's last forward pass of m rows (its loss
   computed); labels NULL for a regressor (no class). */
static void FN(attack_clean_stats)(cr_attack_stats *acc, const cr_tape *tape, size_t m, size_t k,
                                   const int64_t *labels) {
    for (size_t i = 0; i < m; i++) {
        acc->loss_clean += ((const real *)tape->loss)[i];
        if (labels)
            acc->correct_clean +=
                FN(iu_argmax)(k, (const real *)tape->out + i * k) == (size_t)labels[i];
    }
}

/* The attack on the examples [t·chunk, ...), on worker w. */
static cr_status FN(attack_task)(void *ctx, size_t t, int w) {
    FN(attack_job) *job = ctx;
    const cr_net *net = job->net;
    const cr_attack_options *opt = job->opt;
    const cr_label *labels = job->labels, *target = job->target;
    FN(attack_scratch) *sc = &job->s[w];
    if (!sc->tape) {
        cr_status st = FN(attack_scratch_init)(net, sc);
        if (st != CR_OK) return st;
    }
    const int L = net->n_layers;
    const size_t d = net->dims[0], k = net->dims[L];
    const double sgn = target ? -1.0 : 1.0; /* targeted attacks descend CE(target) */
    const size_t steps = opt->steps ? opt->steps : 20;
    const double alpha = opt->step_size > 0 ? opt->step_size : 2.5 * opt->eps / (double)steps;
    cr_attack_stats acc = {0};
    acc.min_value = INFINITY;
    acc.max_value = -INFINITY;
    cr_rng rng;
    cr_rng_seed(&rng, opt->seed ^ (0xd1b54a32d192ed03ULL * (uint64_t)(t + 1)));
    cr_tape *tape = sc->tape;
    real *y = sc->y, *g = sc->g, *best = sc->best;
    double *best_key = sc->best_key;
    int *best_ok = sc->best_ok;
    cr_status st;
    int ranges_done = 0; /* acc's range of x' and distances */

    const size_t i0 = t * job->chunk, m = job->n - i0 < job->chunk ? job->n - i0 : job->chunk;
    const real *xc = job->x + i0 * d;
    real *xa = job->x_adv + i0 * d;
    const real *loss = tape->loss;
    const real *treg = job->treg;
    if (treg) memcpy(y, treg + i0 * k, m * k * sizeof(real)); /* J = ½‖o − t‖² */
    else if ((st = FN(onehot)(m, k, target ? target + i0 : labels + i0, y)) != CR_OK) return st;

    /* The clean pass: attack loss and accuracy at x, and for FGSM ∂J/∂x at x from the same
       forward. PGD without a random start starts at x: its first forward is the clean pass
       (the same rows, the same bits), so it is not run twice; PGD needs no ∂J/∂x at x
       otherwise (its first step starts from the random point). */
    const int pgd = opt->method == CR_ATTACK_PGD;
    const int pgd_at_x = pgd && !(opt->random_start && opt->eps > 0);
    if (!pgd_at_x) {
        if ((st = FN(iu_forward)(net, tape, m, xc, &job->pk)) != CR_OK) return st;
        FN(net_loss)(net, tape, y);
        FN(attack_clean_stats)(&acc, tape, m, k, treg ? NULL : labels + i0);
        if (!pgd && (st = FN(attack_grad)(job, sc, m)) != CR_OK) return st;
    }
    if (pgd || opt->norm == CR_NORM_L2) /* the starting point */
        memcpy(xa, xc, m * d * sizeof(real));

    if (opt->method == CR_ATTACK_FGSM) {
        if (opt->norm == CR_NORM_LINF) {
            /* the sign step (|δ| = ε: already in the ball) and the clip in one branch-free
               pass; then ε‖g‖₁ (the dual norm) and g·δ, each row's sums in its own order */
            for (size_t i0r = 0; i0r < m; i0r += SUM_ROWS) { /* a few rows at a time, in L1 */
                const size_t mr = m - i0r < SUM_ROWS ? m - i0r : SUM_ROWS, o = i0r * d;
                real l1[SUM_ROWS], gd[SUM_ROWS];
                FN(fgsm_linf_step)(mr, d, xc + o, g + o, (real)(sgn * opt->eps), (real)opt->lo,
                                   (real)opt->hi, xa + o);
                FN(fgsm_linf_sums)(mr, d, g + o, xc + o, xa + o, l1, gd);
                for (size_t j = 0; j < mr; j++) {
                    acc.pred_dloss += sgn * opt->eps * (double)l1[j];
                    acc.pred_dloss_clip += (double)gd[j];
                }
                FN(fold_ranges)(&acc, 0, mr, d, xc + o, xa + o); /* x' is final */
            }
            ranges_done = 1;
        } else {
            for (size_t i = 0; i < m; i++) {
                const real *gi = g + i * d, *xi = xc + i * d;
                real *ai = xa + i * d;
                double lin = 0;
                acc.pred_dloss += sgn * opt->eps * FN(norm_of)(CR_NORM_L2, d, gi);
                FN(take_step)(opt->norm, d, ai, gi, opt->eps, sgn);
                FN(project)(opt, d, xi, ai);
                for (size_t q = 0; q < d; q++) lin += (double)gi[q] * ((double)ai[q] - xi[q]);
                acc.pred_dloss_clip += lin;
            }
        }
    } else {
        if (opt->random_start && opt->eps > 0) {
            for (size_t i = 0; i < m; i++) {
                real *ai = xa + i * d;
                if (opt->norm == CR_NORM_LINF) {
                    for (size_t q = 0; q < d; q++)
                        ai[q] += (real)(opt->eps * (2 * cr_rng_uniform(&rng) - 1));
                } else { /* uniform in the L2 ball: gaussian direction, radius ε u^(1/D) */
                    double s = 0;
                    real *dir = g + i * d; /* scratch; g is recomputed below */
                    for (size_t q = 0; q < d; q++) {
                        dir[q] = (real)cr_rng_normal(&rng);
                        s += (double)dir[q] * dir[q];
                    }
                    double rad = opt->eps * pow(cr_rng_uniform(&rng), 1.0 / (double)d);
                    for (size_t q = 0; q < d; q++) ai[q] += (real)(rad * dir[q] / sqrt(s));
                }
                FN(project)(opt, d, xc + i * d, ai);
            }
        }
        for (size_t i = 0; i < m; i++) best_ok[i] = -1; /* nothing recorded yet */
        for (size_t t = 0; t <= steps; t++) {
            if ((st = FN(iu_forward)(net, tape, m, xa, &job->pk)) != CR_OK) return st;
            FN(net_loss)(net, tape, y);
            if (t == 0 && pgd_at_x) FN(attack_clean_stats)(&acc, tape, m, k, treg ? NULL : labels + i0);
            for (size_t i = 0; i < m; i++) { /* keep the best iterate seen */
                size_t pred = FN(iu_argmax)(k, (const real *)tape->out + i * k);
                int ok = treg     ? 0 /* no class: the largest J */
                         : target ? pred == (size_t)target[i0 + i]
                                  : pred != (size_t)labels[i0 + i];
                double key = sgn * loss[i];
                if (best_ok[i] < 0 || ok > best_ok[i] || (ok == best_ok[i] && key > best_key[i])) {
                    best_ok[i] = ok;
                    best_key[i] = key;
                    sc->best_pred[i] = pred;
                    sc->best_loss[i] = loss[i];
                    memcpy(best + i * d, xa + i * d, d * sizeof(real));
                }
            }
            if (t == steps) break;
            if ((st = FN(attack_grad)(job, sc, m)) != CR_OK) return st;
            for (size_t i = 0; i < m; i++) {
                FN(take_step)(opt->norm, d, xa + i * d, g + i * d, alpha, sgn);
                FN(project)(opt, d, xc + i * d, xa + i * d);
            }
        }
        memcpy(xa, best, m * d * sizeof(real));
    }

    /* The adversarial pass: accuracy and loss at x'. PGD's x' is an iterate that one of its
       forward passes evaluated (the same m rows, the same bits): its prediction and loss were
       kept with it. FGSM's x' gets the one forward pass it needs. */
    if (!pgd) {
        if ((st = FN(iu_forward)(net, tape, m, xa, &job->pk)) != CR_OK) return st;
        FN(net_loss)(net, tape, y);
    }
    for (size_t i = 0; i < m; i++) {
        size_t pred = pgd ? sc->best_pred[i] : FN(iu_argmax)(k, (const real *)tape->out + i * k);
        if (!treg) acc.correct_adv += pred == (size_t)labels[i0 + i];
        if (target) acc.hit_target += pred == (size_t)target[i0 + i];
        acc.loss_adv += pgd ? sc->best_loss[i] : loss[i];
    }
    if (!ranges_done) FN(fold_ranges)(&acc, opt->norm == CR_NORM_L2, m, d, xc, xa);
    job->chunk_stats[t] = acc;
    return CR_OK;
}

static cr_status FN(attack_run)(cr_ctx *cx, const cr_net *net, size_t n, const real *x, const cr_label *labels,
                                const cr_label *target, const real *treg,
                                const cr_attack_options *opt, real *x_adv, cr_attack_stats *stats) {
    const char *who = treg ? "cr_attack_regress" : "cr_attack";
    if (!(opt->eps >= 0)) return cr_fail(CR_ERR_ARG, "%s: opt->eps = %g is not >= 0", who, opt->eps);
    if (!(opt->lo < opt->hi))
        return cr_fail(CR_ERR_ARG, "%s: opt->lo = %g is not below opt->hi = %g", who, opt->lo, opt->hi);
    if (!(opt->step_size >= 0))
        return cr_fail(CR_ERR_ARG, "%s: opt->step_size = %g is not >= 0", who, opt->step_size);
    if (opt->norm != CR_NORM_LINF && opt->norm != CR_NORM_L2)
        return cr_fail(CR_ERR_ARG, "%s: opt->norm = %d is not CR_NORM_LINF or CR_NORM_L2", who, (int)opt->norm);
    if (opt->method != CR_ATTACK_FGSM && opt->method != CR_ATTACK_PGD)
        return cr_fail(CR_ERR_ARG, "%s: opt->method = %d is not CR_ATTACK_FGSM or CR_ATTACK_PGD", who,
                       (int)opt->method);
    const size_t k = net->dims[net->n_layers];
    /* all labels first: no task starts on bad input */
    if (!treg && (cr_check_labels(who, "labels", n, labels, k) != CR_OK ||
                  (target && cr_check_labels(who, "target", n, target, k) != CR_OK)))
        return CR_ERR_ARG;
    const size_t chunk = cr_even_chunk(n, ATTACK_ROWS);
    const size_t tasks = (n + chunk - 1) / chunk;
    FN(attack_job) *job = calloc(1, sizeof *job);
    cr_attack_stats *cs = calloc(tasks, sizeof *cs);
    cr_status st = job && cs ? CR_OK : cr_fail_nomem(who, sizeof *job + tasks * sizeof *cs);
    if (job && cs) {
        job->net = net;
        job->n = n;
        job->chunk = chunk;
        job->x = x;
        job->labels = labels;
        job->target = target;
        job->treg = treg;
        job->opt = opt;
        job->x_adv = x_adv;
        job->chunk_stats = cs;
        st = FN(iu_pack)(net, NULL, &job->pk); /* g is worker scratch: no alignment to match */
        if (st == CR_OK) st = cr_parallel_for(cx, tasks, FN(attack_task), job);
        for (int w = 0; w < CR_MAX_WORKERS; w++) FN(attack_scratch_free)(&job->s[w]);
        iu_packs_free(&job->pk);
    }
    if (st == CR_OK && stats) { /* the chunks' sums, in chunk order */
        cr_attack_stats acc = {0};
        acc.min_value = INFINITY;
        acc.max_value = -INFINITY;
        for (size_t t = 0; t < tasks; t++) {
            const cr_attack_stats *c = &cs[t];
            acc.correct_clean += c->correct_clean;
            acc.correct_adv += c->correct_adv;
            acc.hit_target += c->hit_target;
            acc.loss_clean += c->loss_clean;
            acc.loss_adv += c->loss_adv;
            acc.pred_dloss += c->pred_dloss;
            acc.pred_dloss_clip += c->pred_dloss_clip;
            acc.max_dist = c->max_dist > acc.max_dist ? c->max_dist : acc.max_dist;
            acc.min_value = c->min_value < acc.min_value ? c->min_value : acc.min_value;
            acc.max_value = c->max_value > acc.max_value ? c->max_value : acc.max_value;
        }
        acc.n = n;
        *stats = acc;
    }
    free(cs);
    free(job);
    return st;
}

cr_status CR_TYPED(cr_attack_f32, cr_attack_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const cr_label *labels, const cr_label *target,
    const cr_attack_options *opt, real *x_adv, cr_attack_stats *stats) {
    if (!net || !x || !labels || !opt || !x_adv || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (net->head != CR_HEAD_SOFTMAX_CE) return CR_FAIL(CR_ERR_ARG); /* the attack loss is CE */
    return FN(attack_run)(cx, net, n, x, labels, target, NULL, opt, x_adv, stats);
}

cr_status CR_TYPED(cr_attack_regress_f32, cr_attack_regress_f64)(
    cr_ctx *cx, const cr_net *net, size_t n, const real *x, const real *t, const cr_attack_options *opt,
    real *x_adv, cr_attack_stats *stats) {
    if (!net || !x || !t || !opt || !x_adv || n == 0) return CR_FAIL(CR_ERR_ARG);
    if (net->dtype != R_DTYPE) return CR_FAIL(CR_ERR_DTYPE);
    if (net->head != CR_HEAD_SQUARED_ERROR) return CR_FAIL(CR_ERR_ARG); /* the attack loss is ½‖o − t‖² */
    return FN(attack_run)(cx, net, n, x, NULL, NULL, t, opt, x_adv, stats);
}
