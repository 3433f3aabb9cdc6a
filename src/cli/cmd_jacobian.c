/* chainrule jacobian: the full K x D Jacobian of every example (rev, fwd or closed form). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule jacobian --model MODEL (--inputs X.npy | --data SPEC) --out J.npy\n"
    "                          [--of probs|logits] [--mode auto|rev|fwd|closed] [--index A:B]\n"
    "                          [--dtype float32|float64] [--threads N] [--json]\n\n"
    "Writes J [N, K, D]: J[n, c, j] = d output_c / d x_j of example n (numerator layout;\n"
    "[N, K, 1, 28, 28] for inputs [N, 1, 28, 28]: each row in the shape of an input),\n"
    "with respect to the raw input (a model's input standardisation is part of the chain).\n\n"
    "options:\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --png: for each of the first 8 inputs a row: the input, then its K maps d f_k / d x (a
   colour image's channels summed; at most 16 maps). */
static int jacobian_png(const char *png, const cli_input *in, const void *jac, int probs) {
    const size_t n = in->n < 8 ? in->n : 8, d = in->d, k = in->k < 16 ? in->k : 16;
    const size_t hw = in->height * in->width, side = in->height > in->width ? in->height : in->width;
    float *v = malloc(n * (1 + k) * d * sizeof *v);
    cr_image_tile *tiles = calloc(n * (1 + k), sizeof *tiles);
    char (*lab)[48] = calloc(n * (1 + k), sizeof *lab);
    int rc = CLI_OK;
    if (!v || !tiles || !lab) rc = cli_error("%s: out of memory", png);
    const cr_dtype t = cr_net_dtype(in->net);
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        char b[24];
        float *xi = v + i * (1 + k) * d;
        for (size_t j = 0; j < d; j++) xi[j] = (float)cli_get(t, in->x, i * d + j);
        if (in->labels)
            snprintf(lab[i * (1 + k)], 48, "#%zu %s", in->first + i, cli_class_name(in, (size_t)in->labels[i], b));
        else snprintf(lab[i * (1 + k)], 48, "#%zu", in->first + i);
        tiles[i * (1 + k)] = (cr_image_tile){xi, in->height, in->width, CR_CMAP_GRAY, (float)in->lo, (float)in->hi,
                                             lab[i * (1 + k)], in->channels};
        for (size_t c = 0; c < k; c++) {
            float *m = xi + (1 + c) * d;
            for (size_t j = 0; j < d; j++) m[j] = (float)cli_get(t, jac, (i * in->k + c) * d + j);
            cli_sum_channels(m, in->channels, hw);
            snprintf(lab[i * (1 + k) + 1 + c], 48, "%s", cr_net_head(in->net) == CR_HEAD_SQUARED_ERROR
                                                              ? (snprintf(b, sizeof b, "o%zu", c), b)
                                                              : cli_class_name(in, c, b));
            tiles[i * (1 + k) + 1 + c] = (cr_image_tile){m, in->height, in->width, CR_CMAP_DIVERGING, 0, 0,
                                                         lab[i * (1 + k) + 1 + c], 0};
        }
    }
    char title[400];
    snprintf(title, sizeof title,
             "Jacobian rows: for each input (left), the gradient of each %s with respect to it%s\n"
             "red: raising the pixel raises it, blue: lowers it, white: no effect%s\n"
             "(each map scaled to its own largest absolute value)",
             probs ? "class probability" : cr_net_head(in->net) == CR_HEAD_SQUARED_ERROR ? "output" : "logit",
             k < in->k ? " (the first 16)" : "", in->channels == 3 ? " (R, G and B summed)" : "");
    if (rc == CLI_OK)
        rc = cli_write_grid_png(png, tiles, n * (1 + k), 1 + k, side >= 112 ? 1 : side >= 56 ? 2 : 3, title);
    free(v), free(tiles), free(lab);
    return rc;
}

int cmd_jacobian(int argc, char **argv) {
    const char *threads = NULL, *out = NULL, *of = NULL, *mode_s = "auto",
               *dtype = NULL, *png = NULL;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--out", &out, "J.npy", "the Jacobians [N, K, D] (D: one input's shape)"),
        CLI_STR("--of", &of, "probs|logits|outputs",
                "differentiate the softmax probabilities (default) or the network's\n"
                "outputs o (logits: the same; a regressor's default)"),
        CLI_STR("--mode", &mode_s, "MODE",
                "rev: K vector-Jacobian products per example, batched into gemms\n"
                "fwd: D Jacobian-vector products per example (tangents = rows of I)\n"
                "closed: the product (diag(p) - p^T p) W2^T diag(a') W1^T, chunks of examples\n"
                "auto: rev when K < D, else fwd (default)"),
        CLI_STR("--dtype", &dtype, "float32|float64", "compute in this precision (default the model's)"),
        CLI_STR("--threads", &threads, "N",
                "workers the examples are split over (default: the number of\n"
                "cores); each calls the BLAS single-threaded"),
        CLI_FLAG("--json", &json, "a JSON summary on stdout"),
        CLI_STR("--png", &png, "FILE",
                "picture: the first 8 inputs, each followed by its K maps\n"
                "d f_k / d x (image inputs only)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;
    int probs = 1;
    if (of && !cli_parse_of("jacobian", of, &probs)) return CLI_USAGE;
    cr_jac_mode mode;
    if (cr_jac_mode_parse(mode_s, &mode) != CR_OK)
        return cli_error("jacobian: --mode: '%s' is not auto, rev, fwd or closed", mode_s);

    cli_input in;
    if ((rc = cli_input_load(&me, dtype, png, &in))) return rc;
    if (cr_net_head(in.net) == CR_HEAD_SQUARED_ERROR) { /* a regressor: of its outputs */
        if (of && probs) {
            cli_input_free(&in);
            return cli_error("jacobian: --of probs: %s is a regressor (squared-error head) and has no "
                             "probabilities; use --of outputs", me.model);
        }
        probs = 0;
    }
    cli_say_output("jacobian", in.net);
    size_t n = in.n, k = in.k, d = in.d, bytes;
    if (cr_mul_size(n * k, d, &bytes) != CR_OK ||
        cr_mul_size(bytes, cr_dtype_size(cr_net_dtype(in.net)), &bytes) != CR_OK) {
        cli_input_free(&in);
        return cli_error("%s: %zu examples x %zu x %zu is too large", out, n, k, d);
    }
    void *jac = malloc(bytes);
    if (!jac) {
        cli_input_free(&in);
        return cli_error("%s: cannot allocate %zu bytes for the Jacobians", out, bytes);
    }
    cr_jac_mode used = cr_jac_mode_resolve(mode, k, d);
    double t0 = now_s();
    cr_status st = cr_net_input_jacobian(cli_ctx(), in.net, n, in.x, probs, used, jac);
    double secs = now_s() - t0;
    if (st != CR_OK) {
        free(jac);
        cli_input_free(&in);
        return cli_error("jacobian: %s", cr_status_string(st));
    }
    size_t shape[CR_ARRAY_MAX_DIMS]; /* [N, K, one input's shape] */
    rc = cli_write_real_npy(out, cr_net_dtype(in.net), cli_shape_result(&in.shape, n, d, k, shape), shape, jac);
    if (!rc && png) rc = jacobian_png(png, &in, jac, probs);
    if (!rc) {
        if (json)
            printf("{\"examples\": %zu, \"outputs\": %zu, \"inputs\": %zu, \"of\": \"%s\", "
                   "\"mode\": \"%s\", \"dtype\": \"%s\", \"seconds\": %.6f, \"out\": \"%s\"}\n",
                   n, k, d,
                   probs                                  ? "probs" :
                       cr_net_is_plain_classifier(in.net) ? "logits" :
                                                            "outputs",
                   cr_jac_mode_name(used), cr_dtype_name(cr_net_dtype(in.net)), secs, out);
        else
            printf("jacobian: %zu examples, d %s / d x of shape %zu x %zu each, mode %s%s, "
                   "%s, %.2f ms (%.2f us per example) -> %s\n",
                   n,
                   probs                                  ? "probs" :
                       cr_net_is_plain_classifier(in.net) ? "logits" :
                                                            "outputs",
                   k, d, cr_jac_mode_name(used), mode == CR_JAC_AUTO ? " (auto)" : "",
                   cr_dtype_name(cr_net_dtype(in.net)), secs * 1e3, secs * 1e6 / (double)n, out);
        if (png && !json) printf("picture -> %s\n", png);
    }
    free(jac);
    cli_input_free(&in);
    return rc;
}
