/* chainrule attack: FGSM / PGD adversarial examples and robust accuracy against eps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_input.h"

static const char *const help =
    "usage: chainrule attack --model MODEL (--data SPEC | --inputs X.npy [--labels Y.npy])\n"
    "                        --method fgsm|pgd --eps E[,E2,...] [options] [--out ADV.npy] [--png ADV.png]\n\n"
    "Adversarial examples from the input gradient of the cross-entropy, computed on the logits\n"
    "through the fused softmax + cross-entropy. Untargeted attacks raise the loss of the true\n"
    "label (the model's own prediction without labels); --target C lowers the loss of class C.\n\n"
    "options:\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define MAX_EPS 64

int cmd_attack(int argc, char **argv) {
    const char *threads = NULL, *out = NULL, *method_s = NULL, *norm_s = "linf",
               *eps_s = NULL, *target_s = NULL, *clip_s = NULL, *png = NULL;
    long steps = 0, batch_l = 1000, grid_l = 12, cols_l = 3, scale_l = 4;
    double step_size = 0;
    uint64_t seed = 1;
    int json = 0, random_start = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--method", &method_s, "fgsm|pgd",
                    "fgsm: one step of size eps: sign of the gradient (linf) or the\n"
                    "gradient divided by its L2 norm (l2)\n"
                    "pgd: --steps steps of --step-size, each projected back onto the\n"
                    "eps-ball around x and clipped to the valid range; keeps the best iterate"),
        CLI_STR("--norm", &norm_s, "linf|l2", "the ball (default linf)"),
        CLI_REQ_STR("--eps", &eps_s, "E[,E2,...]",
                    "radius; several values print robust accuracy for each\n"
                    "(--out/--png then show the last one)"),
        CLI_LONG("--steps", &steps, 1, 1000000, "S", "pgd steps (default 20)"),
        CLI_DOUBLE("--step-size", &step_size, 0, 1e6, "A", "pgd step (default 2.5 eps / steps)"),
        CLI_FLAG("--random-start", &random_start, "pgd: start from a uniform random point of the ball"),
        CLI_STR("--target", &target_s, "C", "targeted attack toward class C"),
        CLI_STR("--clip", &clip_s, "LO,HI", "valid input range (default the data's: [0,1] for images)"),
        CLI_U64("--seed", &seed, "N", "random start seed (default 1)"),
        CLI_LONG("--batch", &batch_l, 1, 1000000, "B",
                 "examples per batch (default 1000); fgsm prints per batch the\n"
                 "first-order prediction of the loss change beside the realised one"),
        CLI_STR("--out", &out, "ADV.npy", "the adversarial examples, in the shape of --inputs"),
        CLI_STR("--png", &png, "FILE",
                "picture: original, adversarial and perturbation of --grid examples\n"
                "(image inputs only)"),
        CLI_LONG("--grid", &grid_l, 1, 100000, "N", "examples in the picture (default 12)"),
        CLI_LONG("--cols", &cols_l, 1, 1000, "C", "examples per row of the picture (default 3)"),
        CLI_LONG("--scale", &scale_l, 1, 64, "S", "pixels per input pixel in the picture (default 4)"),
        CLI_THREADS(&threads),
        CLI_FLAG("--json", &json,
                 "JSON summary on stdout (predicted_dloss, the first-order\n"
                 "prediction, is null for pgd)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;
    cr_attack_options o = {0};
    if (!strcmp(method_s, "fgsm")) o.method = CR_ATTACK_FGSM;
    else if (!strcmp(method_s, "pgd")) o.method = CR_ATTACK_PGD;
    else return cli_error("attack: --method: '%s' is not fgsm or pgd", method_s);
    if (!strcmp(norm_s, "linf") || !strcmp(norm_s, "inf")) o.norm = CR_NORM_LINF;
    else if (!strcmp(norm_s, "l2")) o.norm = CR_NORM_L2;
    else return cli_error("attack: --norm: '%s' is not linf or l2", norm_s);
    double eps[MAX_EPS];
    size_t n_eps = 0;
    {
        char buf[1024];
        if (strlen(eps_s) >= sizeof buf) return cli_error("--eps: too long");
        strcpy(buf, eps_s);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (n_eps == MAX_EPS) return cli_error("--eps: at most %d values", MAX_EPS);
            if (!cli_parse_double("--eps", tok, 0, 1e6, &eps[n_eps])) return CLI_USAGE;
            n_eps++;
        }
        if (!n_eps) return cli_error("--eps: no value");
    }
    long v;
    o.steps = (size_t)steps;
    o.step_size = step_size;
    o.random_start = random_start;
    o.seed = seed;
    const size_t batch = (size_t)batch_l, grid = (size_t)grid_l, cols = (size_t)cols_l,
                 scale = (size_t)scale_l;

    cli_input in;
    if ((rc = cli_input_load(&me, NULL, png, &in))) return rc;
    if ((rc = cli_require_plain("attack", me.model, in.net))) {
        cli_input_free(&in);
        return rc;
    }
    o.lo = in.lo;
    o.hi = in.hi;
    if (clip_s) {
        char *end;
        o.lo = strtod(clip_s, &end);
        if (end == clip_s || *end != ',' || (o.hi = strtod(end + 1, &end), *end) || !(o.lo < o.hi)) {
            cli_input_free(&in);
            return cli_error("--clip: '%s' is not LO,HI with LO < HI", clip_s);
        }
    }
    const cr_dtype t = in.net->dtype;
    const size_t n = in.n, d = in.d, es = cr_dtype_size(t);
    int64_t *labels = malloc(n * sizeof(int64_t)), *target = NULL, *pred = malloc(n * sizeof(int64_t));
    void *xadv = malloc(n * d * es);
    float *tx = NULL;
    cr_image_tile *tiles = NULL;
    char (*tl)[48] = NULL;
    if (!labels || !pred || !xadv) {
        rc = cli_error("attack: out of memory");
        goto done;
    }
    const char *label_kind = "true labels";
    if (in.labels)
        memcpy(labels, in.labels, n * sizeof(int64_t));
    else {
        if ((rc = cli_predict(&in, in.x, n, labels))) goto done;
        label_kind = "the model's own predictions (no labels given)";
    }
    if (target_s) {
        if (!cli_parse_long("--target", target_s, 0, (long)in.k - 1, &v)) {
            rc = CLI_USAGE;
            goto done;
        }
        target = malloc(n * sizeof(int64_t));
        if (!target) {
            rc = cli_error("attack: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++) target[i] = v;
    }
    const char *nname = o.norm == CR_NORM_LINF ? "linf" : "l2";
    const char *dual = o.norm == CR_NORM_LINF ? "eps*|g|_1" : "eps*|g|_2";
    if (!json)
        printf("attack: %s %s%s on %zu examples of %s against %s, valid range [%g, %g]%s\n",
               o.method == CR_ATTACK_FGSM ? "FGSM" : "PGD", nname,
               target ? " targeted" : " untargeted", n, in.source, label_kind, o.lo, o.hi,
               o.method == CR_ATTACK_PGD ? "" : "");
    if (!json && o.method == CR_ATTACK_PGD)
        printf("  pgd: %zu steps of %s%s\n", o.steps ? o.steps : 20,
               o.step_size > 0 ? "the given size" : "2.5 eps / steps",
               o.random_start ? ", random start" : "");
    if (json)
        printf("{\"method\": \"%s\", \"norm\": \"%s\", \"targeted\": %s, \"examples\": %zu, "
               "\"clip\": [%g, %g], \"results\": [",
               method_s, nname, target ? "true" : "false", n, o.lo, o.hi);
    if (!json && n_eps > 1)
        printf("  %8s %10s%s %12s %12s %12s %9s\n", "eps", "accuracy", target ? " hit target" : "",
               "mean J", "pred dJ", "real dJ", "seconds");
    cr_attack_stats last = {0};
    for (size_t e = 0; e < n_eps; e++) {
        o.eps = eps[e];
        cr_attack_stats tot = {0};
        tot.min_value = INFINITY;
        tot.max_value = -INFINITY;
        double t0 = now_s();
        for (size_t i0 = 0, b = 0; i0 < n; i0 += batch, b++) {
            size_t m = n - i0 < batch ? n - i0 : batch;
            cr_attack_stats s;
            const void *xb = (const char *)in.x + i0 * d * es;
            void *ab = (char *)xadv + i0 * d * es;
            cr_status st = t == CR_F64 ? cr_attack_f64(in.net, m, xb, labels + i0, target ? target + i0 : NULL, &o, ab, &s)
                                       : cr_attack_f32(in.net, m, xb, labels + i0, target ? target + i0 : NULL, &o, ab, &s);
            if (st != CR_OK) {
                rc = cli_error("attack: %s", cr_status_string(st));
                goto done;
            }
            if (!json && n_eps == 1 && o.method == CR_ATTACK_FGSM)
                printf("  batch %3zu (%4zu examples): mean J %.4f -> %.4f, realised dJ %+.4f, "
                       "first-order %s = %+.4f (after the clip g.(x'-x) = %+.4f)\n",
                       b, m, s.loss_clean / (double)m, s.loss_adv / (double)m,
                       (s.loss_adv - s.loss_clean) / (double)m, dual, s.pred_dloss / (double)m,
                       s.pred_dloss_clip / (double)m);
            tot.n += s.n;
            tot.correct_clean += s.correct_clean;
            tot.correct_adv += s.correct_adv;
            tot.hit_target += s.hit_target;
            tot.loss_clean += s.loss_clean;
            tot.loss_adv += s.loss_adv;
            tot.pred_dloss += s.pred_dloss;
            tot.pred_dloss_clip += s.pred_dloss_clip;
            tot.max_dist = s.max_dist > tot.max_dist ? s.max_dist : tot.max_dist;
            tot.min_value = s.min_value < tot.min_value ? s.min_value : tot.min_value;
            tot.max_value = s.max_value > tot.max_value ? s.max_value : tot.max_value;
        }
        double secs = now_s() - t0, dn = (double)n;
        last = tot;
        if (json) {
            /* the first-order prediction exists for FGSM's single step only: null for PGD */
            char pred_s[32] = "null";
            if (o.method == CR_ATTACK_FGSM && isfinite(tot.pred_dloss / dn))
                snprintf(pred_s, sizeof pred_s, "%.6f", tot.pred_dloss / dn);
            printf("%s{\"eps\": %g, \"clean_accuracy\": %.6f, \"accuracy\": %.6f, \"hit_target\": %.6f, "
                   "\"loss_clean\": %.6f, \"loss_adv\": %.6f, \"predicted_dloss\": %s, "
                   "\"max_dist\": %.6g, \"seconds\": %.4f}",
                   e ? ", " : "", o.eps, tot.correct_clean / dn, tot.correct_adv / dn,
                   tot.hit_target / dn, tot.loss_clean / dn, tot.loss_adv / dn, pred_s,
                   tot.max_dist, secs);
        } else if (n_eps > 1) {
            char hit[24] = "";
            if (target) snprintf(hit, sizeof hit, " %10.2f%%", 100.0 * tot.hit_target / dn);
            char pred_s[24] = "-";
            if (o.method == CR_ATTACK_FGSM) snprintf(pred_s, sizeof pred_s, "%+.4f", tot.pred_dloss / dn);
            printf("  %8g %9.2f%%%s %12.4f %12s %+12.4f %9.3f\n", o.eps, 100.0 * tot.correct_adv / dn,
                   hit, tot.loss_adv / dn, pred_s, (tot.loss_adv - tot.loss_clean) / dn, secs);
        } else {
            printf("  clean accuracy %.2f%%, under attack (eps %g) %.2f%%", 100.0 * tot.correct_clean / dn,
                   o.eps, 100.0 * tot.correct_adv / dn);
            if (target) printf(", reached target %s: %.2f%%", target_s, 100.0 * tot.hit_target / dn);
            printf("\n  mean J %.4f -> %.4f; largest |x'-x|_%s = %.4g (eps %g); x' in [%g, %g]; %.3f s\n",
                   tot.loss_clean / dn, tot.loss_adv / dn, o.norm == CR_NORM_LINF ? "inf" : "2",
                   tot.max_dist, o.eps, tot.min_value, tot.max_value, secs);
        }
    }
    if (json) printf("]}\n");
    else if (n_eps > 1)
        printf("  clean accuracy %.2f%%; J = cross-entropy of the %s, pred dJ = first-order %s\n",
               100.0 * last.correct_clean / (double)n, target ? "target" : "label", dual);

    if (out) {
        size_t shape[CR_ARRAY_MAX_DIMS]; /* --inputs' shape */
        if ((rc = cli_write_real_npy(out, t, cli_shape_result(&in.shape, n, d, 0, shape), shape, xadv))) goto done;
        if (!json) printf("  adversarial examples (eps %g) -> %s\n", o.eps, out);
    }
    if (png) {
        if ((rc = cli_predict(&in, xadv, n, pred))) goto done;
        size_t g = n < grid ? n : grid;
        tx = malloc(3 * g * d * sizeof(float));
        tiles = calloc(3 * g, sizeof *tiles);
        tl = calloc(3 * g, sizeof *tl);
        int64_t *clean = malloc(g * sizeof(int64_t));
        if (!tx || !tiles || !tl || !clean || cli_predict(&in, in.x, g, clean)) {
            free(clean);
            rc = cli_error("%s: out of memory", png);
            goto done;
        }
        float pmax = (float)(o.norm == CR_NORM_LINF ? o.eps : 0);
        for (size_t i = 0; i < g; i++) {
            char b1[24], b2[24];
            float *xo = tx + 3 * i * d, *xa = xo + d, *dl = xa + d;
            for (size_t j = 0; j < d; j++) {
                xo[j] = (float)cli_get(t, in.x, i * d + j);
                xa[j] = (float)cli_get(t, xadv, i * d + j);
                dl[j] = xa[j] - xo[j];
            }
            snprintf(tl[3 * i], 48, "#%zu %s%s", in.first + i, cli_class_name(&in, (size_t)labels[i], b1),
                     clean[i] == labels[i] ? "" : " (missed)");
            snprintf(tl[3 * i + 1], 48, "%s %s", pred[i] == labels[i] ? "still" : "now",
                     cli_class_name(&in, (size_t)pred[i], b2));
            snprintf(tl[3 * i + 2], 48, "change");
            tiles[3 * i] = (cr_image_tile){xo, in.height, in.width, CR_CMAP_GRAY, (float)o.lo, (float)o.hi, tl[3 * i]};
            tiles[3 * i + 1] = (cr_image_tile){xa, in.height, in.width, CR_CMAP_GRAY, (float)o.lo, (float)o.hi, tl[3 * i + 1]};
            tiles[3 * i + 2] = (cr_image_tile){dl, in.height, in.width, CR_CMAP_DIVERGING,
                                               pmax > 0 ? -pmax : 0, pmax, tl[3 * i + 2]};
        }
        free(clean);
        char title[600];
        snprintf(title, sizeof title,
                 "%s %s attack, eps %g%s: accuracy of the model drops from %.1f%% to %.1f%% (%zu images)\n"
                 "each triple: original (true class) / adversarial image (what the model now says) /\n"
                 "change made (red brighter, blue darker, white unchanged%s)",
                 o.method == CR_ATTACK_FGSM ? "FGSM" : "PGD", o.norm == CR_NORM_LINF ? "L-inf" : "L2",
                 o.eps, target ? " targeted" : "", 100.0 * last.correct_clean / (double)n,
                 100.0 * last.correct_adv / (double)n, n,
                 o.norm == CR_NORM_LINF ? "; full color = eps" : "; each scaled to its max");
        if ((rc = cli_write_grid_png(png, tiles, 3 * g, 3 * cols, scale, title))) goto done;
        if (!json) printf("  picture of %zu examples -> %s\n", g, png);
    }
    rc = CLI_OK;
done:
    free(labels);
    free(target);
    free(pred);
    free(xadv);
    free(tx);
    free(tiles);
    free(tl);
    cli_input_free(&in);
    return rc;
}
