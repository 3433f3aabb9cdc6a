/* chainrule attack: FGSM / PGD adversarial examples and robust accuracy against eps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule attack --model MODEL (--data SPEC | --inputs X.npy [--labels Y.npy])\n"
    "                        --method fgsm|pgd --eps E[,E2,...] [options] [--out ADV.npy] [--png ADV.png]\n\n"
    "Adversarial examples from the input gradient of the cross-entropy, computed on the logits\n"
    "through the fused softmax + cross-entropy. Untargeted attacks raise the loss of the true\n"
    "label (the model's own prediction without labels); --target C lowers the loss of class C.\n"
    "A regressor (the squared-error head): the attacks raise J = 1/2 |o - t|^2 with the targets\n"
    "t of --targets T.npy [N, K] (required: at t = o(x) the gradient is zero).\n\n"
    "options:\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define MAX_EPS 64

/* The command's options. */
typedef struct {
    const char *threads, *out, *method_s, *norm_s, *eps_s, *target_s, *clip_s, *png, *targets_s, *curve;
    long steps, batch, grid, cols, scale;
    double step_size;
    uint64_t seed;
    int json, random_start;
    cli_model_examples me;
} attack_args;

/* A run: the options, the inputs, the labels attacked and the results. */
typedef struct {
    const attack_args *a;
    cr_attack_options o;
    double eps[MAX_EPS];
    size_t n_eps;
    cli_input in;
    int regress;                     /* the squared-error head: J = ½‖o − t‖² with the targets treg */
    void *treg;                      /* n x k regression targets, or NULL */
    int64_t *labels, *target, *pred; /* n each; target NULL when untargeted */
    void *xadv;                      /* n x d, the last eps's adversarial examples */
    const char *label_kind;
    cr_attack_stats last;            /* the last eps's totals */
    double acc[MAX_EPS], loss[MAX_EPS]; /* per eps: accuracy under attack, mean J (--png-curve) */
} attack_run;

/* --method, --norm, --eps and the pgd options into r->o and r->eps. */
static int parse_attack(attack_run *r) {
    const attack_args *a = r->a;
    cr_attack_options *o = &r->o;
    if (!strcmp(a->method_s, "fgsm")) o->method = CR_ATTACK_FGSM;
    else if (!strcmp(a->method_s, "pgd")) o->method = CR_ATTACK_PGD;
    else return cli_error("attack: --method: '%s' is not fgsm or pgd", a->method_s);
    if (!strcmp(a->norm_s, "linf") || !strcmp(a->norm_s, "inf")) o->norm = CR_NORM_LINF;
    else if (!strcmp(a->norm_s, "l2")) o->norm = CR_NORM_L2;
    else return cli_error("attack: --norm: '%s' is not linf or l2", a->norm_s);
    char buf[1024];
    if (strlen(a->eps_s) >= sizeof buf) return cli_error("--eps: too long");
    strcpy(buf, a->eps_s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (r->n_eps == MAX_EPS) return cli_error("--eps: at most %d values", MAX_EPS);
        if (!cli_parse_double("--eps", tok, 0, 1e6, &r->eps[r->n_eps])) return CLI_USAGE;
        r->n_eps++;
    }
    if (!r->n_eps) return cli_error("--eps: no value");
    o->steps = (size_t)a->steps;
    o->step_size = a->step_size;
    o->random_start = a->random_start;
    o->seed = a->seed;
    return CLI_OK;
}

/* The model and inputs, the valid range, the labels attacked and the targets. */
static int load_run(attack_run *r) {
    const attack_args *a = r->a;
    int rc;
    if ((rc = cli_input_load(&a->me, NULL, a->png, &r->in))) return rc;
    cli_input *in = &r->in;
    const int regress = r->regress = cr_net_head(in->net) == CR_HEAD_SQUARED_ERROR;
    if (regress && a->target_s)
        return cli_error("attack: %s is a regressor (squared-error head): it has no class to "
                         "target; the attack raises its squared error", a->me.model);
    if (!regress && a->targets_s)
        return cli_error("attack: --targets is for regressors (squared-error head); %s is a "
                         "classifier: give --labels", a->me.model);
    if (!regress && (rc = cli_require_plain("attack", a->me.model, in->net))) return rc;
    r->o.lo = in->lo;
    r->o.hi = in->hi;
    if (a->clip_s) {
        char *end;
        r->o.lo = strtod(a->clip_s, &end);
        if (end == a->clip_s || *end != ',' || (r->o.hi = strtod(end + 1, &end), *end) || !(r->o.lo < r->o.hi))
            return cli_error("--clip: '%s' is not LO,HI with LO < HI", a->clip_s);
    }
    const size_t n = in->n, es = cr_dtype_size(cr_net_dtype(in->net));
    r->labels = malloc(n * sizeof(int64_t));
    r->pred = malloc(n * sizeof(int64_t));
    r->xadv = malloc(n * in->d * es);
    if (!r->labels || !r->pred || !r->xadv) return cli_error("attack: out of memory");
    r->label_kind = "true labels";
    if (regress && a->targets_s) { /* J = ½‖o − t‖² with the given targets */
        if ((rc = cli_load_regression_targets(a->targets_s, n, in->first, n, in->k, cr_net_dtype(in->net), &r->treg)))
            return rc;
        r->label_kind = "the given targets";
    } else if (regress) { /* t = o(x) would start at J's minimum, where ∂J/∂x = 0 */
        return cli_error("attack: %s is a regressor: the attack raises J = ½‖o − t‖²; give the "
                         "targets with --targets T.npy [N, %zu]", a->me.model, in->k);
    } else if (in->labels) {
        memcpy(r->labels, in->labels, n * sizeof(int64_t));
    } else {
        if ((rc = cli_predict(in, in->x, n, r->labels))) return rc;
        r->label_kind = "the model's own predictions (no labels given)";
    }
    if (a->target_s) {
        long v;
        if (!cli_parse_long("--target", a->target_s, 0, (long)in->k - 1, &v)) return CLI_USAGE;
        if (!(r->target = malloc(n * sizeof(int64_t)))) return cli_error("attack: out of memory");
        for (size_t i = 0; i < n; i++) r->target[i] = v;
    }
    return CLI_OK;
}

static const char *dual_norm(const cr_attack_options *o) {
    return o->norm == CR_NORM_LINF ? "eps*|g|_1" : "eps*|g|_2";
}

/* What is attacked, before the results. */
static void print_start(const attack_run *r) {
    const cr_attack_options *o = &r->o;
    const char *nname = o->norm == CR_NORM_LINF ? "linf" : "l2";
    const size_t n = r->in.n;
    if (r->a->json) {
        printf("{\"method\": \"%s\", \"norm\": \"%s\", \"targeted\": %s, \"examples\": %zu, "
               "\"clip\": [%g, %g], \"results\": [",
               r->a->method_s, nname, r->target ? "true" : "false", n, o->lo, o->hi);
        return;
    }
    printf("attack: %s %s%s on %zu examples of %s against %s, valid range [%g, %g]%s\n",
           o->method == CR_ATTACK_FGSM ? "FGSM" : "PGD", nname,
           r->target ? " targeted" : " untargeted", n, r->in.source, r->label_kind, o->lo, o->hi,
           o->method == CR_ATTACK_PGD ? "" : "");
    if (o->method == CR_ATTACK_PGD)
        printf("  pgd: %zu steps of %s%s\n", o->steps ? o->steps : 20,
               o->step_size > 0 ? "the given size" : "2.5 eps / steps",
               o->random_start ? ", random start" : "");
    if (r->n_eps > 1)
        printf("  %8s %10s%s %12s %12s %12s %9s\n", "eps", r->regress ? "" : "accuracy",
               r->target ? " hit target" : "", "mean J", "pred dJ", "real dJ", "seconds");
}

static void add_stats(cr_attack_stats *tot, const cr_attack_stats *s) {
    tot->n += s->n;
    tot->correct_clean += s->correct_clean;
    tot->correct_adv += s->correct_adv;
    tot->hit_target += s->hit_target;
    tot->loss_clean += s->loss_clean;
    tot->loss_adv += s->loss_adv;
    tot->pred_dloss += s->pred_dloss;
    tot->pred_dloss_clip += s->pred_dloss_clip;
    tot->max_dist = s->max_dist > tot->max_dist ? s->max_dist : tot->max_dist;
    tot->min_value = s->min_value < tot->min_value ? s->min_value : tot->min_value;
    tot->max_value = s->max_value > tot->max_value ? s->max_value : tot->max_value;
}

/* The attack at r->o.eps over every batch; tot the totals. FGSM at one eps prints
   each batch's first-order prediction beside the realised loss change. */
static int attack_batches(attack_run *r, cr_attack_stats *tot) {
    const cli_input *in = &r->in;
    const cr_dtype t = cr_net_dtype(in->net);
    const size_t n = in->n, d = in->d, es = cr_dtype_size(t), batch = (size_t)r->a->batch;
    const int show = !r->a->json && r->n_eps == 1 && r->o.method == CR_ATTACK_FGSM;
    for (size_t i0 = 0, b = 0; i0 < n; i0 += batch, b++) {
        size_t m = n - i0 < batch ? n - i0 : batch;
        cr_attack_stats s;
        const void *xb = (const char *)in->x + i0 * d * es;
        void *ab = (char *)r->xadv + i0 * d * es;
        const int64_t *tg = r->target ? r->target + i0 : NULL;
        const void *tb = r->regress ? (const char *)r->treg + i0 * in->k * es : NULL;
        cr_status st = r->regress ? cr_attack_regress(cli_ctx(), in->net, m, xb, tb, &r->o, ab, &s)
                                  : cr_attack(cli_ctx(), in->net, m, xb, r->labels + i0, tg, &r->o, ab, &s);
        if (st != CR_OK) return cli_error("attack: %s", cr_status_string(st));
        if (show)
            printf("  batch %3zu (%4zu examples): mean J %.4f -> %.4f, realised dJ %+.4f, "
                   "first-order %s = %+.4f (after the clip g.(x'-x) = %+.4f)\n",
                   b, m, s.loss_clean / (double)m, s.loss_adv / (double)m,
                   (s.loss_adv - s.loss_clean) / (double)m, dual_norm(&r->o), s.pred_dloss / (double)m,
                   s.pred_dloss_clip / (double)m);
        add_stats(tot, &s);
    }
    return CLI_OK;
}

/* One eps's results: a JSON object, a table row (several eps) or two lines. */
static void print_eps(const attack_run *r, size_t e, const cr_attack_stats *tot, double secs) {
    const cr_attack_options *o = &r->o;
    const double dn = (double)r->in.n;
    if (r->a->json) {
        /* the first-order prediction exists for FGSM's single step only: null for PGD */
        char pred_s[32] = "null";
        if (o->method == CR_ATTACK_FGSM && isfinite(tot->pred_dloss / dn))
            snprintf(pred_s, sizeof pred_s, "%.6f", tot->pred_dloss / dn);
        if (r->regress) /* no accuracy: the losses (mean squared error / 2) */
            printf("%s{\"eps\": %g, \"loss_clean\": %.6f, \"loss_adv\": %.6f, \"predicted_dloss\": %s, "
                   "\"max_dist\": %.6g, \"seconds\": %.4f}",
                   e ? ", " : "", o->eps, tot->loss_clean / dn, tot->loss_adv / dn, pred_s, tot->max_dist, secs);
        else
            printf("%s{\"eps\": %g, \"clean_accuracy\": %.6f, \"accuracy\": %.6f, \"hit_target\": %.6f, "
                   "\"loss_clean\": %.6f, \"loss_adv\": %.6f, \"predicted_dloss\": %s, "
                   "\"max_dist\": %.6g, \"seconds\": %.4f}",
                   e ? ", " : "", o->eps, tot->correct_clean / dn, tot->correct_adv / dn,
                   tot->hit_target / dn, tot->loss_clean / dn, tot->loss_adv / dn, pred_s,
                   tot->max_dist, secs);
    } else if (r->n_eps > 1) {
        char hit[24] = "";
        if (r->target) snprintf(hit, sizeof hit, " %10.2f%%", 100.0 * tot->hit_target / dn);
        char pred_s[24] = "-";
        if (o->method == CR_ATTACK_FGSM) snprintf(pred_s, sizeof pred_s, "%+.4f", tot->pred_dloss / dn);
        char acc_s[24] = "";
        if (!r->regress) snprintf(acc_s, sizeof acc_s, "%9.2f%%", 100.0 * tot->correct_adv / dn);
        printf("  %8g %10s%s %12.4f %12s %+12.4f %9.3f\n", o->eps, acc_s, hit, tot->loss_adv / dn,
               pred_s, (tot->loss_adv - tot->loss_clean) / dn, secs);
    } else if (r->regress) {
        printf("  mean J = ½‖o − t‖² %.6g -> %.6g under attack (eps %g); largest |x'-x|_%s = %.4g; "
               "x' in [%g, %g]; %.3f s\n",
               tot->loss_clean / dn, tot->loss_adv / dn, o->eps, o->norm == CR_NORM_LINF ? "inf" : "2",
               tot->max_dist, tot->min_value, tot->max_value, secs);
    } else {
        printf("  clean accuracy %.2f%%, under attack (eps %g) %.2f%%", 100.0 * tot->correct_clean / dn,
               o->eps, 100.0 * tot->correct_adv / dn);
        if (r->target) printf(", reached target %s: %.2f%%", r->a->target_s, 100.0 * tot->hit_target / dn);
        printf("\n  mean J %.4f -> %.4f; largest |x'-x|_%s = %.4g (eps %g); x' in [%g, %g]; %.3f s\n",
               tot->loss_clean / dn, tot->loss_adv / dn, o->norm == CR_NORM_LINF ? "inf" : "2",
               tot->max_dist, o->eps, tot->min_value, tot->max_value, secs);
    }
}

/* Every eps in turn, then the closing line. */
static int attack_all(attack_run *r) {
    print_start(r);
    for (size_t e = 0; e < r->n_eps; e++) {
        r->o.eps = r->eps[e];
        cr_attack_stats tot = {0};
        tot.min_value = INFINITY;
        tot.max_value = -INFINITY;
        double t0 = now_s();
        int rc = attack_batches(r, &tot);
        if (rc) return rc;
        r->last = tot;
        r->acc[e] = 100.0 * (double)tot.correct_adv / (double)r->in.n;
        r->loss[e] = tot.loss_adv / (double)r->in.n;
        print_eps(r, e, &tot, now_s() - t0);
    }
    if (r->a->json) printf("]}\n");
    else if (r->n_eps > 1 && r->regress)
        printf("  clean mean J %.6g; J = ½‖o − t‖² (squared error), pred dJ = first-order %s\n",
               r->last.loss_clean / (double)r->in.n, dual_norm(&r->o));
    else if (r->n_eps > 1)
        printf("  clean accuracy %.2f%%; J = cross-entropy of the %s, pred dJ = first-order %s\n",
               100.0 * r->last.correct_clean / (double)r->in.n, r->target ? "target" : "label",
               dual_norm(&r->o));
    return CLI_OK;
}

/* The tiles of example i: original, adversarial, change (tiles 3i, 3i + 1, 3i + 2). */
static void png_triple(const attack_run *r, size_t i, int64_t clean, cli_tiles *t) {
    const cli_input *in = &r->in;
    const cr_attack_options *o = &r->o;
    const size_t d = in->d, k = 3 * i;
    const cr_dtype dt = cr_net_dtype(in->net);
    char b1[24], b2[24], (*tl)[48] = t->labels + k;
    float *xo = cli_tile_values(t, k, dt, in->x, i), *xa = cli_tile_values(t, k + 1, dt, r->xadv, i);
    float *dl = t->px + (k + 2) * d;
    for (size_t j = 0; j < d; j++) dl[j] = xa[j] - xo[j];
    const cr_label *labels = r->labels, *pred = r->pred;
    if (r->regress) {
        snprintf(tl[0], 48, "#%zu", in->first + i);
        snprintf(tl[1], 48, "adversarial");
    } else {
        snprintf(tl[0], 48, "#%zu %s%s", in->first + i, cli_class_name(in, (size_t)labels[i], b1),
                 clean == labels[i] ? "" : " (missed)");
        snprintf(tl[1], 48, "%s %s", pred[i] == labels[i] ? "still" : "now",
                 cli_class_name(in, (size_t)pred[i], b2));
    }
    snprintf(tl[2], 48, "change");
    float pmax = (float)(o->norm == CR_NORM_LINF ? o->eps : 0);
    cli_sum_channels(dl, in->channels, in->height * in->width); /* a colour image: the change summed */
    cli_tile_set(t, k, in, xo, CR_CMAP_GRAY, (float)o->lo, (float)o->hi, in->channels);
    cli_tile_set(t, k + 1, in, xa, CR_CMAP_GRAY, (float)o->lo, (float)o->hi, in->channels);
    cli_tile_set(t, k + 2, in, dl, CR_CMAP_DIVERGING, pmax > 0 ? -pmax : 0, pmax, 0);
}

/* --png: original, adversarial and change of the first --grid examples. */
static int write_png(attack_run *r) {
    const attack_args *a = r->a;
    const cli_input *in = &r->in;
    const cr_attack_options *o = &r->o;
    const size_t n = in->n, d = in->d;
    int rc;
    if ((rc = cli_predict(in, r->xadv, n, r->pred))) return rc;
    size_t g = n < (size_t)a->grid ? n : (size_t)a->grid;
    cli_tiles t;
    if ((rc = cli_tiles_alloc(&t, 3 * g, d, a->png))) return rc;
    int64_t *clean = malloc(g * sizeof(int64_t));
    if (!clean || cli_predict(in, in->x, g, clean)) {
        rc = cli_error("%s: out of memory", a->png);
    } else {
        for (size_t i = 0; i < g; i++) png_triple(r, i, clean[i], &t);
        char title[600];
        if (r->regress)
            snprintf(title, sizeof title,
                     "%s %s attack on a regressor, eps %g: mean squared error / 2 rises from %.4g to %.4g (%zu "
                     "inputs)\n"
                     "each triple: original / adversarial input / change made (red brighter, blue darker%s)",
                     o->method == CR_ATTACK_FGSM ? "FGSM" : "PGD", o->norm == CR_NORM_LINF ? "L-inf" : "L2", o->eps,
                     r->last.loss_clean / (double)n, r->last.loss_adv / (double)n, n,
                     o->norm == CR_NORM_LINF ? "; full color = eps" : "; each scaled to its max");
        else
        snprintf(title, sizeof title,
                 "%s %s attack, eps %g%s: accuracy of the model drops from %.1f%% to %.1f%% (%zu images)\n"
                 "each triple: original (true class) / adversarial image (what the model now says) /\n"
                 "change made (red brighter, blue darker, white unchanged%s)",
                 o->method == CR_ATTACK_FGSM ? "FGSM" : "PGD", o->norm == CR_NORM_LINF ? "L-inf" : "L2",
                 o->eps, r->target ? " targeted" : "", 100.0 * r->last.correct_clean / (double)n,
                 100.0 * r->last.correct_adv / (double)n, n,
                 o->norm == CR_NORM_LINF ? "; full color = eps" : "; each scaled to its max");
        rc = cli_tiles_write(&t, a->png, 3 * (size_t)a->cols, (size_t)a->scale, title, g, a->json);
    }
    free(clean);
    cli_tiles_free(&t);
    return rc;
}

/* --png-curve: accuracy under attack (a classifier) and the mean attack loss against eps. */
static int write_curve(const attack_run *r) {
    const attack_args *a = r->a;
    const double dn = (double)r->in.n, clean = 100.0 * (double)r->last.correct_clean / dn;
    double eps[MAX_EPS + 1], acc[MAX_EPS + 1], loss[MAX_EPS + 1];
    size_t m = 0;
    if (r->eps[0] > 0) /* eps = 0: the clean model */
        eps[m] = 0, acc[m] = clean, loss[m++] = r->last.loss_clean / dn;
    for (size_t e = 0; e < r->n_eps; e++) eps[m] = r->eps[e], acc[m] = r->acc[e], loss[m++] = r->loss[e];
    const char *meth = r->o.method == CR_ATTACK_FGSM ? "FGSM" : "PGD",
               *norm = r->o.norm == CR_NORM_LINF ? "L-inf" : "L2";
    char name[64], xl[64];
    snprintf(name, sizeof name, "%s %s%s", meth, norm, r->target ? " targeted" : "");
    snprintf(xl, sizeof xl, "eps (%s radius)", norm);
    cr_plot_series sa = {name, eps, acc, m}, sl = {name, eps, loss, m};
    cr_plot_panel pn[2] = {{"accuracy under attack (%)", xl, "accuracy %", &sa, 1, 0, 0, 0, 100, 0, 0},
                           {r->regress    ? "mean J = 1/2 |o - t|^2" :
                                r->target ? "mean cross-entropy of the target" :
                                            "mean cross-entropy of the label",
                            xl, "mean J", &sl, 1, 0, 0, 0, 0, 0, 0}};
    char title[512];
    const char *base = strrchr(a->me.model, '/');
    if (r->regress)
        snprintf(title, sizeof title, "%s %s attack on %.60s: the squared error against eps\n%zu examples of %.60s",
                 meth, norm, base ? base + 1 : a->me.model, r->in.n, r->in.source);
    else
        snprintf(title, sizeof title,
                 "%s %s attack on %.60s: robust accuracy against eps\n%zu examples of %.60s, clean accuracy %.2f%%",
                 meth, norm, base ? base + 1 : a->me.model, r->in.n, r->in.source, clean);
    cr_image img;
    int rc = cr_plot_panels(r->regress ? pn + 1 : pn, r->regress ? 1 : 2, title, &img) ||
                     cr_image_write_png(a->curve, &img)
                 ? cli_io_error()
                 : CLI_OK;
    cr_image_free(&img);
    if (rc == CLI_OK && !a->json) printf("  curve -> %s\n", a->curve);
    return rc;
}

/* --out, then --png. */
static int write_outputs(attack_run *r) {
    const attack_args *a = r->a;
    const cli_input *in = &r->in;
    int rc;
    if (a->out) {
        size_t shape[CR_ARRAY_MAX_DIMS]; /* --inputs' shape */
        int nd = cli_shape_result(&in->shape, in->n, in->d, 0, shape);
        if ((rc = cli_write_real_npy(a->out, cr_net_dtype(in->net), nd, shape, r->xadv))) return rc;
        if (!a->json) printf("  adversarial examples (eps %g) -> %s\n", r->o.eps, a->out);
    }
    if (a->curve && (rc = write_curve(r))) return rc;
    return a->png ? write_png(r) : CLI_OK;
}

int cmd_attack(int argc, char **argv) {
    attack_args a;
    memset(&a, 0, sizeof a);
    a.norm_s = "linf", a.batch = 1000, a.grid = 12, a.cols = 3, a.scale = 4, a.seed = 1;
    cli_model_examples_table(&a.me);
    const cli_opt opts[] = {
        CLI_INCLUDE(a.me.table),
        CLI_REQ_STR("--method", &a.method_s, "fgsm|pgd",
                    "fgsm: one step of size eps: sign of the gradient (linf) or the\n"
                    "gradient divided by its L2 norm (l2)\n"
                    "pgd: --steps steps of --step-size, each projected back onto the\n"
                    "eps-ball around x and clipped to the valid range; keeps the best iterate"),
        CLI_STR("--norm", &a.norm_s, "linf|l2", "the ball (default linf)"),
        CLI_REQ_STR("--eps", &a.eps_s, "E[,E2,...]",
                    "radius; several values print robust accuracy for each\n"
                    "(--out/--png then show the last one)"),
        CLI_LONG("--steps", &a.steps, 1, 1000000, "S", "pgd steps (default 20)"),
        CLI_DOUBLE("--step-size", &a.step_size, 0, 1e6, "A", "pgd step (default 2.5 eps / steps)"),
        CLI_FLAG("--random-start", &a.random_start, "pgd: start from a uniform random point of the ball"),
        CLI_STR("--target", &a.target_s, "C", "targeted attack toward class C"),
        CLI_STR("--targets", &a.targets_s, "T.npy",
                "a regressor's targets [N, K] (float; required for a regressor)"),
        CLI_STR("--clip", &a.clip_s, "LO,HI", "valid input range (default the data's: [0,1] for images)"),
        CLI_U64("--seed", &a.seed, "N", "random start seed (default 1)"),
        CLI_LONG("--batch", &a.batch, 1, 1000000, "B",
                 "examples per batch (default 1000); fgsm prints per batch the\n"
                 "first-order prediction of the loss change beside the realised one"),
        CLI_STR("--out", &a.out, "ADV.npy", "the adversarial examples, in the shape of --inputs"),
        CLI_STR("--png", &a.png, "FILE",
                "picture: original, adversarial and perturbation of --grid examples\n"
                "(image inputs only)"),
        CLI_STR("--png-curve", &a.curve, "FILE",
                "chart: accuracy under attack (and the mean attack loss) against eps,\n"
                "one point per --eps value and eps = 0"),
        CLI_LONG("--grid", &a.grid, 1, 100000, "N", "examples in the picture (default 12)"),
        CLI_LONG("--cols", &a.cols, 1, 1000, "C", "examples per row of the picture (default 3)"),
        CLI_LONG("--scale", &a.scale, 1, 64, "S", "pixels per input pixel in the picture (default 4)"),
        CLI_THREADS(&a.threads),
        CLI_FLAG("--json", &a.json,
                 "JSON summary on stdout (predicted_dloss, the first-order\n"
                 "prediction, is null for pgd)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(a.threads)) return CLI_USAGE;
    attack_run r;
    memset(&r, 0, sizeof r);
    r.a = &a;
    if ((rc = parse_attack(&r))) return rc;
    rc = load_run(&r);
    if (rc == CLI_OK) rc = attack_all(&r);
    if (rc == CLI_OK) rc = write_outputs(&r);
    free(r.labels);
    free(r.target);
    free(r.pred);
    free(r.xadv);
    free(r.treg);
    cli_input_free(&r.in);
    return rc;
}
