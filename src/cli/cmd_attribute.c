/* chainrule attribute: saliency, input x gradient, integrated gradients, SmoothGrad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_input.h"

static const char *const help =
    "usage: chainrule attribute --model MODEL (--data SPEC | --inputs X.npy [--labels Y.npy])\n"
    "                           --method METHOD --out ATTR.npy [--png ATTR.png] [options]\n\n"
    "Attribution maps (in the inputs' shape) of the score f of one class per example, with respect to the raw\n"
    "input.\n\n"
    "options:\n";

int cmd_attribute(int argc, char **argv) {
    const char *threads = NULL, *out = NULL, *method_s = NULL, *target_s = NULL,
               *class_s = NULL, *of = "logits", *rule = "riemann", *baseline_s = NULL, *png = NULL;
    long steps = 0, max_steps = 0, samples = 0, cols_l = 4, scale_l = 4, grid_l = 16;
    double tol = 0, noise_frac = 0.15;
    uint64_t seed = 1;
    int json = 0, absolute = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--method", &method_s, "METHOD",
                    "saliency: df/dx (signed; --abs for |df/dx|)\n"
                    "input-x-gradient: x * df/dx\n"
                    "integrated-gradients: (x - b) * average of df/dx on the straight\n"
                    "path from b to x; reports the completeness gap |sum attr - (f(x) - f(b))|\n"
                    "smoothgrad: average of df/dx at x + gaussian noise (--abs: of |df/dx|)"),
        CLI_STR("--out", &out, "ATTR.npy", "the maps, in the shape of --inputs"),
        CLI_STR("--target", &target_s, "label|pred",
                "class to explain: the true label (default when labels are known)\n"
                "or the predicted class"),
        CLI_STR("--class", &class_s, "C", "explain class C for every example"),
        CLI_STR("--of", &of, "logits|probs", "f = the class logit (default) or its softmax probability"),
        CLI_FLAG("--abs", &absolute, "absolute values (saliency, smoothgrad)"),
        CLI_LONG("--steps", &steps, 1, 1000000, "S", "integrated gradients: path steps (default 50)"),
        CLI_STR("--rule", &rule, "riemann|trapezoid",
                "quadrature (default riemann: right sum, points j/S, j=1..S)"),
        CLI_DOUBLE("--tol", &tol, 0, 1e300, "T",
                   "integrated gradients: double the steps of an example until its\n"
                   "gap is at most T (up to --max-steps, default 8192)"),
        CLI_LONG("--max-steps", &max_steps, 1, 10000000, "S", "the most steps --tol may use"),
        CLI_STR("--baseline", &baseline_s, "zero|B.npy",
                "integrated gradients baseline (default zero = black image)"),
        CLI_LONG("--samples", &samples, 1, 1000000, "S", "smoothgrad samples (default 50)"),
        CLI_DOUBLE("--noise", &noise_frac, 0, 100, "F",
                   "smoothgrad noise sd as a fraction of the data range (default 0.15)"),
        CLI_U64("--seed", &seed, "N", "smoothgrad noise seed (default 1)"),
        CLI_STR("--png", &png, "FILE",
                "picture: each input beside its map (red raises f, blue lowers it);\n"
                "image inputs only"),
        CLI_LONG("--grid", &grid_l, 1, 100000, "N", "examples in the picture (default min(N, 16))"),
        CLI_LONG("--cols", &cols_l, 1, 1000, "C", "examples per row of the picture (default 4)"),
        CLI_LONG("--scale", &scale_l, 1, 64, "S", "pixels per input pixel in the picture (default 4)"),
        CLI_THREADS(&threads),
        CLI_FLAG("--json", &json, "a JSON summary on stdout"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;
    if (!out && !png) return cli_error("attribute: give --out and/or --png (see --help)");
    cr_attr_options o = {0};
    if (!cr_attr_method_parse(method_s, &o.method))
        return cli_error("attribute: --method: '%s' is not saliency, input-x-gradient, "
                         "integrated-gradients or smoothgrad", method_s);
    if (!cli_parse_of("attribute", of, &o.of_probs)) return CLI_USAGE;
    if (!strcmp(rule, "trapezoid")) o.trapezoid = 1;
    else if (strcmp(rule, "riemann")) return cli_error("attribute: --rule: '%s' is not riemann or trapezoid", rule);
    o.absolute = absolute;
    o.steps = (size_t)steps;
    o.max_steps = (size_t)max_steps;
    o.tol = tol;
    o.samples = (size_t)samples;
    o.seed = seed;
    const size_t cols = (size_t)cols_l, scale = (size_t)scale_l, grid = (size_t)grid_l;
    long v;

    cli_input in;
    if ((rc = cli_input_load(&me, NULL, png, &in))) return rc;
    if ((rc = cli_require_plain("attribute", me.model, in.net))) {
        cli_input_free(&in);
        return rc;
    }
    const cr_dtype t = in.net->dtype;
    const size_t n = in.n, d = in.d, es = cr_dtype_size(t);
    o.noise = noise_frac * (in.hi - in.lo);
    int64_t *pred = malloc(n * sizeof(int64_t)), *cls = malloc(n * sizeof(int64_t));
    void *attr = malloc(n * d * es), *base = NULL;
    double *score = malloc(n * sizeof(double)), *score_b = malloc(n * sizeof(double)),
           *gap = malloc(n * sizeof(double));
    size_t *used = malloc(n * sizeof(size_t));
    float *tiles_x = NULL, *tiles_a = NULL;
    cr_image_tile *tiles = NULL;
    char (*labels)[48] = NULL;
    if (!pred || !cls || !attr || !score || !score_b || !gap || !used) {
        rc = cli_error("attribute: out of memory");
        goto done;
    }
    if ((rc = cli_predict(&in, in.x, n, pred))) goto done;
    const char *what;
    if (class_s) {
        if (!cli_parse_long("--class", class_s, 0, (long)in.k - 1, &v)) {
            rc = CLI_USAGE;
            goto done;
        }
        for (size_t i = 0; i < n; i++) cls[i] = v;
        what = "the given class";
    } else if ((target_s && !strcmp(target_s, "pred")) || (!target_s && !in.labels)) {
        memcpy(cls, pred, n * sizeof(int64_t));
        what = "the predicted class";
    } else if (!target_s || !strcmp(target_s, "label")) {
        if (!in.labels) {
            rc = cli_error("attribute: --target label needs labels (--data, or --labels with --inputs)");
            goto done;
        }
        memcpy(cls, in.labels, n * sizeof(int64_t));
        what = "the true class";
    } else {
        rc = cli_error("attribute: --target: '%s' is not label or pred", target_s);
        goto done;
    }
    if (baseline_s && strcmp(baseline_s, "zero")) {
        cr_array ba;
        cr_error err;
        if (cr_npy_read(baseline_s, &ba, &err) != 0) {
            rc = cli_io_error(&err);
            goto done;
        }
        int okb = ba.count == d, pixels = ba.dtype == CR_ARRAY_U8;
        if (okb && cr_array_to_real(baseline_s, &ba, t, &base, &err) != 0) {
            cr_array_free(&ba);
            rc = cli_io_error(&err);
            goto done;
        }
        cr_array_free(&ba);
        if (!okb) {
            rc = cli_error("%s: the baseline must have %zu values (one input)", baseline_s, d);
            goto done;
        }
        if (pixels)
            for (size_t j = 0; j < d; j++) cli_set(t, base, j, cli_get(t, base, j) / 255.0);
    }
    o.baseline = base;
    cr_attr_report rep = {score, score_b, gap, used};
    cr_status st = t == CR_F64 ? cr_attribute_f64(in.net, n, in.x, cls, &o, attr, &rep)
                               : cr_attribute_f32(in.net, n, in.x, cls, &o, attr, &rep);
    if (st != CR_OK) {
        rc = cli_error("attribute: %s", cr_status_string(st));
        goto done;
    }
    int ig = o.method == CR_ATTR_IG;
    if (out) {
        size_t shape[CR_ARRAY_MAX_DIMS]; /* --inputs' shape */
        if ((rc = cli_write_real_npy(out, t, cli_shape_result(&in.shape, n, d, 0, shape), shape, attr))) goto done;
    }
    double max_gap = 0, sum_gap = 0;
    size_t max_used = 0;
    if (ig)
        for (size_t i = 0; i < n; i++) {
            max_gap = gap[i] > max_gap ? gap[i] : max_gap;
            sum_gap += gap[i];
            max_used = used[i] > max_used ? used[i] : max_used;
        }
    if (json) {
        printf("{\"method\": \"%s\", \"examples\": %zu, \"of\": \"%s\", \"target\": \"%s\"",
               cr_attr_method_name(o.method), n, o.of_probs ? "probs" : "logits", what);
        if (ig)
            printf(", \"steps\": %zu, \"rule\": \"%s\", \"max_gap\": %.6g, \"mean_gap\": %.6g, "
                   "\"max_steps_used\": %zu",
                   o.steps ? o.steps : 50, o.trapezoid ? "trapezoid" : "riemann", max_gap,
                   sum_gap / (double)n, max_used);
        printf(", \"out\": \"%s\", \"png\": \"%s\"}\n", out ? out : "", png ? png : "");
    } else {
        printf("attribute: %s of the %s of %s, %zu examples\n", cr_attr_method_name(o.method),
               o.of_probs ? "probability" : "logit", what, n);
        size_t show = n < 10 ? n : 10;
        printf("  %7s %-9s %-9s %-9s %10s", "example", "label", "predicted", "explained", "f(x)");
        if (ig) printf(" %10s %10s %10s %6s", "f(x)-f(b)", "sum attr", "gap", "steps");
        printf("\n");
        for (size_t i = 0; i < show; i++) {
            char b1[24], b2[24], b3[24];
            double sum = 0;
            for (size_t j = 0; j < d; j++) sum += cli_get(t, attr, i * d + j);
            printf("  %7zu %-9s %-9s %-9s %10.4f", in.first + i,
                   in.labels ? cli_class_name(&in, (size_t)in.labels[i], b1) : "-",
                   cli_class_name(&in, (size_t)pred[i], b2), cli_class_name(&in, (size_t)cls[i], b3),
                   score[i]);
            if (ig)
                printf(" %10.4f %10.4f %10.2e %6zu", score[i] - score_b[i], sum, gap[i], used[i]);
            printf("\n");
        }
        if (show < n) printf("  ... (%zu more)\n", n - show);
        if (ig)
            printf("  completeness gap |sum attr - (f(x) - f(baseline))|: max %.3e, mean %.3e "
                   "(%s rule, steps up to %zu)%s\n",
                   max_gap, sum_gap / (double)n, o.trapezoid ? "trapezoid" : "riemann", max_used,
                   o.tol > 0 && max_gap > o.tol ? "  -- above --tol: raise --max-steps" : "");
        if (out) printf("  -> %s\n", out);
    }

    if (png) {
        size_t g = n < grid ? n : grid;
        tiles_x = malloc(g * d * sizeof(float));
        tiles_a = malloc(g * d * sizeof(float));
        tiles = calloc(2 * g, sizeof(cr_image_tile));
        labels = calloc(2 * g, sizeof *labels);
        if (!tiles_x || !tiles_a || !tiles || !labels) {
            rc = cli_error("%s: out of memory", png);
            goto done;
        }
        int signed_map = !(o.absolute && (o.method == CR_ATTR_SALIENCY || o.method == CR_ATTR_SMOOTHGRAD));
        for (size_t i = 0; i < g; i++) {
            char b1[24], b2[24];
            for (size_t j = 0; j < d; j++) {
                tiles_x[i * d + j] = (float)cli_get(t, in.x, i * d + j);
                tiles_a[i * d + j] = (float)cli_get(t, attr, i * d + j);
            }
            if (in.labels)
                snprintf(labels[2 * i], 48, "#%zu %s", in.first + i, cli_class_name(&in, (size_t)in.labels[i], b1));
            else
                snprintf(labels[2 * i], 48, "#%zu", in.first + i);
            snprintf(labels[2 * i + 1], 48, "%s %s",
                     in.labels && pred[i] != in.labels[i] ? "wrong:" : "pred",
                     cli_class_name(&in, (size_t)pred[i], b2));
            tiles[2 * i] = (cr_image_tile){tiles_x + i * d, in.height, in.width, CR_CMAP_GRAY,
                                           (float)in.lo, (float)in.hi, labels[2 * i]};
            tiles[2 * i + 1] = (cr_image_tile){tiles_a + i * d, in.height, in.width,
                                               signed_map ? CR_CMAP_DIVERGING : CR_CMAP_HOT, 0, 0,
                                               labels[2 * i + 1]};
        }
        char title[512];
        const char *mname = o.method == CR_ATTR_SALIENCY     ? "saliency (gradient)"
                            : o.method == CR_ATTR_INPUT_X_GRAD ? "input x gradient"
                            : o.method == CR_ATTR_IG           ? "integrated gradients"
                                                               : "smoothgrad";
        snprintf(title, sizeof title,
                 "%s of the %s of %s. left: input with its true class; right: map, predicted class\n"
                 "%s",
                 mname, o.of_probs ? "probability" : "logit", what,
                 signed_map ? "red: raising this pixel raises the score, blue: lowers it, white: "
                              "no effect (each map scaled to its own max)"
                            : "bright: pixels the score is most sensitive to (each map scaled to "
                              "its own max)");
        if ((rc = cli_write_grid_png(png, tiles, 2 * g, 2 * cols, scale, title))) goto done;
        if (!json) printf("  picture of %zu examples -> %s\n", g, png);
    }
    rc = CLI_OK;
done:
    free(pred);
    free(cls);
    free(attr);
    free(base);
    free(score);
    free(score_b);
    free(gap);
    free(used);
    free(tiles_x);
    free(tiles_a);
    free(tiles);
    free(labels);
    cli_input_free(&in);
    return rc;
}
