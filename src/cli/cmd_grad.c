/* chainrule grad: dJ/dx per example, or the parameter gradients of the mean loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const grad_help =
    "usage: chainrule grad --model MODEL (--inputs X.npy --labels y.npy | --data SPEC)\n"
    "                      --out OUT [--wrt input|params] [--index A:B]\n"
    "\n"
    "Gradients of the softmax + cross-entropy loss, computed as the chain of\n"
    "vector-Jacobian products from dJ/dtheta = yhat - y back through the network.\n"
    "A regressor (the squared-error head, from the model or --head squared-error)\n"
    "differentiates J_n = 1/2 |o_n - t_n|^2 instead, from dJ/do = o - t, with the\n"
    "targets t of --targets T.npy [N, K] in place of labels.\n"
    "\n"
    "  --wrt input   (default) OUT.npy holds dJ_n/dx_n for every example n: row n is\n"
    "                the gradient of example n's OWN loss with respect to its input\n"
    "                (equivalently: the gradient of the SUMMED loss). In the shape of\n"
    "                --inputs ([N, D], [N, 1, 28, 28], ...), in the model's dtype. If the model standardises its "
    "inputs, the\n"
    "                gradient is with respect to the raw input you passed.\n"
    "  --wrt params  OUT.safetensors holds the gradient of the MEAN batch loss\n"
    "                (1/N) sum_n J_n with respect to every parameter, under the model's\n"
    "                names and layout (fc{i}.weight [out, in], fc{i}.bias [out]).\n"
    "\n"
    "options:\n";

/* Element i of a buffer of the net's dtype is finite. */
static int elem_finite(cr_dtype dt, const void *p, size_t i) {
    double v = dt == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
    return v - v == 0; /* false for NaN and +-Inf */
}

/* Finite inputs and weights can still overflow the dtype (|x| ~ 1e30 times
   weights ~ 1e10 in float32). Then the gradient is meaningless: refuse to write
   it and name the first layer and example where the numbers stopped being
   finite. Returns CLI_OK, or the error status after printing one line. */
static int check_finite_pass(const char *model_path, const char *inputs, const cr_net *net,
                             const cr_tape *tape, size_t n, const void *result, size_t count) {
    const cr_dtype dt = cr_net_dtype(net);
    for (int l = 0; l < cr_net_n_layers(net); l++) {
        size_t w = cr_net_width(net, l + 1);
        for (int post = 0; post < 2; post++) {
            const void *buf = post ? cr_tape_post(tape, l) : cr_tape_pre(tape, l);
            for (size_t i = 0; i < n * w; i++)
                if (!elem_finite(dt, buf, i))
                    return cli_error("%s: layer %d %s is not finite for example %zu of %s "
                                     "(%s overflow: the weights or inputs are too large)",
                                     model_path, l + 1, post ? "(activation)" : "(linear)", i / w,
                                     inputs, cr_dtype_name(cr_net_dtype(net)));
        }
    }
    for (size_t i = 0; i < count; i++)
        if (!elem_finite(dt, result, i))
            return cli_error("%s: the gradient is not finite (entry %zu) on %s (%s overflow in "
                             "the backward pass: the weights or inputs are too large)",
                             model_path, i, inputs, cr_dtype_name(cr_net_dtype(net)));
    return CLI_OK;
}

/* Does path end with ext? */
/* "[N, 1, 28, 28]": an array's shape as the messages print it */
typedef struct {
    char s[CR_ARRAY_MAX_DIMS * 22 + 3];
} shape_str;
static shape_str shape_text(const size_t *shape, int nd) {
    shape_str t = {"["};
    size_t at = 1;
    for (int i = 0; i < nd; i++)
        at += (size_t)snprintf(t.s + at, sizeof t.s - at, i ? ", %zu" : "%zu", shape[i]);
    snprintf(t.s + at, sizeof t.s - at, "]");
    return t;
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcmp(path + n - e, ext);
}

/* --png: each input beside its map dJ/dx (a colour image's channels summed), the first 16
   examples, two per row pair. */
static int grad_png(const char *png, const cli_examples *ex, cr_dtype t, const void *g, int regress) {
    const size_t n = ex->n < 16 ? ex->n : 16, d = ex->d, hw = ex->height * ex->width;
    const size_t side = ex->height > ex->width ? ex->height : ex->width;
    float *v = malloc(2 * n * d * sizeof *v);
    cr_image_tile *tiles = calloc(2 * n, sizeof *tiles);
    char (*lab)[48] = calloc(2 * n, sizeof *lab);
    int rc = CLI_OK;
    if (!v || !tiles || !lab) rc = cli_error("%s: out of memory", png);
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        float *xi = v + 2 * i * d, *gi = xi + d;
        for (size_t j = 0; j < d; j++)
            xi[j] = (float)cli_get(t, ex->x, i * d + j), gi[j] = (float)cli_get(t, g, i * d + j);
        cli_sum_channels(gi, ex->channels, hw);
        if (ex->labels) snprintf(lab[2 * i], 48, "#%zu class %lld", ex->first + i, (long long)ex->labels[i]);
        else snprintf(lab[2 * i], 48, "#%zu", ex->first + i);
        snprintf(lab[2 * i + 1], 48, "dJ/dx");
        tiles[2 * i] = (cr_image_tile){xi,         ex->height,  ex->width, CR_CMAP_GRAY, (float)ex->lo, (float)ex->hi,
                                       lab[2 * i], ex->channels};
        tiles[2 * i + 1] = (cr_image_tile){gi, ex->height, ex->width, CR_CMAP_DIVERGING, 0, 0, lab[2 * i + 1], 0};
    }
    char title[400];
    snprintf(title, sizeof title,
             "dJ/dx: the gradient of the loss of each example (%s) with respect to its input\n"
             "red: raising the pixel raises the loss, blue: lowers it, white: no effect%s\n"
             "(each map scaled to its own largest absolute value)",
             regress ? "squared error" : "cross-entropy of its label",
             ex->channels == 3 ? " (R, G and B summed)" : "");
    if (rc == CLI_OK)
        rc = cli_write_grid_png(png, tiles, 2 * n, 8, side >= 112 ? 1 : side >= 56 ? 2 : 4, title);
    free(v), free(tiles), free(lab);
    return rc;
}

int cmd_grad(int argc, char **argv) {
    const char *out = NULL, *wrt = "input", *threads = NULL, *targets = NULL, *png = NULL;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--out", &out, "OUT", "OUT.npy for --wrt input, OUT.safetensors for --wrt params"),
        CLI_STR("--wrt", &wrt, "input|params", "what to differentiate with respect to (default input)"),
        CLI_STR("--targets", &targets, "T.npy", "regression targets [N, K] (float) for the squared-error head"),
        CLI_FLAG("--json", &json, "print a JSON summary instead of text"),
        CLI_STR("--png", &png, "FILE",
                "picture: the first 16 inputs, each beside its map dJ/dx\n"
                "(--wrt input; image inputs: [N, H, W], [N, C, H, W], 784 features)"),
        CLI_THREADS(&threads),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, grad_help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;
    int want_params = 0;
    if (!strcmp(wrt, "params")) want_params = 1;
    else if (strcmp(wrt, "input") != 0) return cli_error("grad: --wrt must be input or params, not '%s'", wrt);
    /* the file written is what its name says */
    if (want_params && !has_ext(out, ".safetensors"))
        return cli_error("%s: --wrt params writes safetensors (one tensor per parameter): name the "
                         "output NAME.safetensors", out);
    if (!want_params && !has_ext(out, ".npy"))
        return cli_error("%s: --wrt input writes a .npy array (the inputs' shape): name the output NAME.npy", out);

    cr_model model = {0};
    cli_examples ex = {0};
    void *result = NULL, *t = NULL;
    cr_tape *tape = NULL;
    size_t shape[CR_ARRAY_MAX_DIMS]; /* --wrt input: the file's, the inputs' shape */
    int nd = 0;
    rc = cli_load_model_head(me.model, me.head, &model);
    if (rc) return rc;
    const cr_net *net = model.net;
    const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    size_t d = cr_net_width(net, 0), k = cr_net_width(net, cr_net_n_layers(net)), es = cr_dtype_size(cr_net_dtype(net));
    cli_say_output("grad", net);
    if (regress && (me.examples.labels || me.examples.data)) {
        rc = cli_error("grad: %s is a regressor (squared-error head): give its targets with "
                       "--targets T.npy and the inputs with --inputs, not labels", me.model);
        goto done;
    }
    if (!regress && targets) {
        rc = cli_error("grad: --targets is for the squared-error head; %s is a classifier: give "
                       "--labels", me.model);
        goto done;
    }
    if ((rc = cli_examples_load(&me.examples, d, k, cr_net_dtype(net), &ex)))
        goto done;
    if (png && (want_params || !ex.height)) {
        rc = want_params ? cli_error("grad: --png draws input gradients (--wrt input)")
                         : cli_error("%s: a picture needs image inputs ([N, H, W], [N, C, H, W] with C = 1 "
                                     "or 3, a dataset of images, or 784 features), but %s has %zu "
                                     "features per example", png, ex.source, d);
        goto done;
    }
    if (regress && !targets) {
        rc = cli_error("grad: the squared-error loss needs targets: give --targets T.npy [N, %zu]", k);
        goto done;
    }
    if (regress && (rc = cli_load_regression_targets(targets, ex.n, ex.first, ex.total, k, cr_net_dtype(net), &t)))
        goto done;
    if (!regress && !ex.y) {
        rc = cli_error("grad: the loss needs labels: give --labels y.npy with --inputs, or --data");
        goto done;
    }
    const size_t n = ex.n;
    const void *x = ex.x, *y = regress ? t : ex.y;
    const char *inputs = ex.source;
    size_t count = want_params ? cr_net_n_params(net) : n * d;
    cr_status st = (result = malloc(count * es)) ? CR_OK : CR_ERR_NOMEM;
    double loss = 0;
    int finite = 0;
    if (st == CR_OK && !want_params) {
        /* dJ_n/dx_n by chunks on the workers (cr_net_input_grad), with the losses */
        void *losses = malloc(n * es);
        st = losses ? CR_OK : CR_ERR_NOMEM;
        if (st == CR_OK)
            st = cr_net_input_grad_targets(cli_ctx(), net, n, x, y, result, losses);
        if (st == CR_OK) {
            finite = 1;
            const cr_dtype dt = cr_net_dtype(net);
            for (size_t i = 0; i < n; i++) {
                double v = dt == CR_F64 ? ((double *)losses)[i] : ((float *)losses)[i];
                loss += v / (double)n;
                finite &= v - v == 0;
            }
            for (size_t i = 0; finite && i < count; i++) finite &= elem_finite(dt, result, i);
        }
        free(losses);
    }
    if (st == CR_OK && !finite) {
        /* the parameter gradients, or a pass that overflowed: on one tape, which also
           lets check_finite_pass name the layer and example where it stopped being finite */
        st = cr_tape_create(net, n, &tape);
        if (st == CR_OK) st = cli_net_forward(net, tape, n, x);
        if (st == CR_OK) st = cr_net_loss(net, tape, y, &loss);
        if (st == CR_OK)
            st = cli_net_backward(net, tape, y, want_params ? NULL : result, want_params ? result : NULL);
    }
    if (st != CR_OK) {
        rc = cli_error("grad: %s", cr_status_string(st));
        goto done;
    }
    if (tape && (rc = check_finite_pass(me.model, inputs, net, tape, n, result, count)))
        goto done;
    if (want_params) {
        cr_net *grads_net = NULL; /* the net's layout and links, the gradient block as parameters */
        if (cr_net_convert(net, cr_net_dtype(net), &grads_net) != CR_OK) {
            rc = cli_error("grad: out of memory");
            goto done;
        }
        memcpy(cr_net_params(grads_net), result, cr_net_n_params(net) * cr_dtype_size(cr_net_dtype(net)));
        cr_model gm = {0};
        gm.net = grads_net;
        if (cr_safetensors_set_meta(&gm.extra, "content", "gradient of the mean batch loss") != 0 ||
            cr_model_save_full(out, &gm) != 0)
            rc = cli_io_error();
        cr_safetensors_free(&gm.extra);
        cr_net_free(grads_net);
    } else {
        nd = cli_shape_result(&ex.shape, n, d, 0, shape);
        rc = cli_write_real_npy(out, cr_net_dtype(net), nd, shape, result);
        if (rc == CLI_OK && png) rc = grad_png(png, &ex, cr_net_dtype(net), result, regress);
    }
    if (rc == CLI_OK) {
        if (json)
            printf("{\"wrt\": \"%s\", \"n\": %zu, \"mean_loss\": %.17g, \"out\": \"%s\", \"dtype\": \"%s\"}\n",
                   want_params ? "params" : "input", n, loss, out, cr_dtype_name(cr_net_dtype(net)));
        else if (want_params)
            printf("wrote %s: gradient of the mean loss (%.6g over %zu examples) w.r.t. %zu parameters\n",
                   out, loss, n, cr_net_n_params(net));
        else
            printf("wrote %s: dJ_n/dx_n, shape %s %s (mean loss %.6g)\n%s%s%s", out, shape_text(shape, nd).s,
                   cr_dtype_name(cr_net_dtype(net)), loss, png ? "picture -> " : "", png ? png : "", png ? "\n" : "");
    }
done:
    cli_examples_free(&ex);
    free(result);
    free(t);
    cr_tape_free(tape);
    cr_model_free(&model);
    return rc;
}
