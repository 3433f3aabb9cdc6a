/* chainrule eval: accuracy, mean loss and confusion matrix of a model on a dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli_input.h"
#include "cli_train.h"

static const char *const eval_help =
    "usage: chainrule eval --model MODEL (--data SPEC | --inputs X.npy --labels y.npy) [options]\n"
    "\n"
    "Evaluates a model on labelled examples: accuracy, mean cross-entropy loss and\n"
    "the confusion matrix (rows: true class, columns: predicted class). Inputs are\n"
    "standardised with the model's statistics if it stores them. A regressor\n"
    "(the squared-error head) is evaluated on --inputs X.npy --targets T.npy\n"
    "instead: mean squared error per output and the mean loss 1/2 |o - t|^2.\n"
    "\n"
    "options:\n";

/* A regressor: o for every row (float32, like the classifier's evaluation), then the
   mean loss (1/N) Σ ½‖o_n − t_n‖² and the mean squared error (1/(N K)) Σ (o − t)². */
static int eval_regression(const char *model_path, const cr_model *model, const cli_examples *ex,
                           const char *targets, long batch, int json) {
    const cr_net *net = model->net;
    const size_t k = cr_net_width(net, cr_net_n_layers(net)), d = cr_net_width(net, 0);
    void *t = NULL;
    cr_tape *tape = NULL;
    int rc = cli_load_regression_targets(targets, ex->n, ex->first, ex->total, k, CR_F32, &t);
    if (rc) return rc;
    if (cr_tape_create(net, (size_t)batch, &tape) != CR_OK) {
        free(t);
        return cli_error("out of memory");
    }
    double loss = 0, sq = 0;
    for (size_t start = 0; start < ex->n && rc == CLI_OK; start += (size_t)batch) {
        size_t nb = ex->n - start < (size_t)batch ? ex->n - start : (size_t)batch;
        cr_status st = cli_net_forward(net, tape, nb, (const float *)ex->x + start * d);
        if (st != CR_OK) {
            rc = cli_error("eval: %s", cr_status_string(st));
            break;
        }
        double l = cr_net_loss_f32(net, tape, (const float *)t + start * k);
        loss += l * (double)nb;
        for (size_t i = 0; i < nb * k; i++) {
            double e = (double)((const float *)cr_tape_output(tape))[i] - (double)((const float *)t)[start * k + i];
            sq += e * e;
        }
    }
    cr_tape_free(tape);
    free(t);
    if (rc) return rc;
    double mse = sq / (double)(ex->n * k), mean_loss = loss / (double)ex->n;
    if (!isfinite(mse)) return cli_error("%s: the outputs are not finite on %s (float32 overflow)",
                                          model_path, ex->source);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, model_path);
        printf(", \"data\": ");
        cli_json_string(stdout, ex->source);
        printf(", \"n\": %zu, \"head\": \"squared-error\", \"mse\": %.9g, \"loss\": %.9g}\n",
               ex->n, mse, mean_loss);
    } else {
        printf("%s on %s: %zu examples, %zu outputs\n", model_path, ex->source, ex->n, k);
        printf("mean squared error %.6g  (mean over examples and outputs of (o - t)^2)\n", mse);
        printf("mean loss          %.6g  (mean over examples of 1/2 |o - t|^2)\n", mean_loss);
    }
    return CLI_OK;
}

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/* The confusion matrix as a heatmap (src/io/plot.c): rows the true class, columns the
   predicted one, each row coloured by its share (the diagonal is the recall). */
static int confusion_png(const char *path, const char *model, const char *data, const uint64_t *conf,
                         size_t k, size_t correct, size_t n) {
    double *v = malloc(k * k * sizeof *v);
    char (*nb)[24] = malloc(k * sizeof *nb);
    const char **names = malloc(k * sizeof *names);
    if (!v || !nb || !names) {
        free(v), free(nb), free(names);
        return cli_error("%s: out of memory", path);
    }
    const int fashion = k == 10 && !strncmp(data, "fashion-mnist", 13);
    for (size_t i = 0; i < k; i++) {
        snprintf(nb[i], sizeof nb[i], "%zu", i);
        names[i] = fashion ? fashion_names[i] : nb[i];
    }
    for (size_t i = 0; i < k * k; i++) v[i] = (double)conf[i];
    char title[512];
    const char *base = strrchr(model, '/');
    snprintf(title, sizeof title, "confusion matrix: %.60s on %.60s\naccuracy %.2f%% (%zu of %zu)",
             base ? base + 1 : model, data, 100.0 * (double)correct / (double)n, correct, n);
    cr_heatmap h = {v, k, k, names, names, title, "true class", "predicted class",
                    "colour: share of the examples of the true class (diagonal = recall); numbers: counts", 1, 1};
    cr_image img;
    int rc = cr_plot_heatmap(&h, &img) || cr_image_write_png(path, &img) ? cli_io_error() : CLI_OK;
    cr_image_free(&img);
    free(v), free(nb), free(names);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    const char *threads = NULL, *targets = NULL, *png = NULL;
    long batch = 1024;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_STR("--targets", &targets, "T.npy", "regression targets [N, K] (float) for the squared-error head"),
        CLI_LONG("--batch", &batch, 1, 1L << 20, "N", "rows per forward pass (default 1024)"),
        CLI_STR("--threads", &threads, "N", "BLAS threads (default: the BLAS default)"),
        CLI_FLAG("--json", &json, "print one JSON object instead of text"),
        CLI_STR("--png", &png, "FILE", "the confusion matrix as a heatmap (a classifier)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, eval_help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;

    cr_model model;
    cli_examples ex = {0};
    if (cli_load_model_head(me.model, me.head, &model) != CLI_OK) return CLI_USAGE;
    rc = CLI_USAGE;
    cr_net *net32 = NULL;
    cr_tape *tape = NULL;
    uint64_t *conf = NULL;
    cr_label *labels = NULL;
    const cr_net *net = model.net;
    size_t k = cr_net_width(net, cr_net_n_layers(net));
    /* evaluation runs in float32 */
    const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    if (regress && png) {
        cli_error("eval: --png draws a classifier's confusion matrix; %s is a regressor", me.model);
        goto done;
    }
    cli_say_output("eval", net);
    if (regress && (me.examples.labels || me.examples.data || !targets)) {
        cli_error("eval: %s is a regressor (squared-error head): give --inputs X.npy and --targets "
                  "T.npy [N, %zu]", me.model, k);
        goto done;
    }
    if (!regress && targets) {
        cli_error("eval: --targets is for the squared-error head; %s is a classifier: give --labels",
                  me.model);
        goto done;
    }
    if (cli_examples_load(&me.examples, cr_net_width(net, 0), k, CR_F32, &ex))
        goto done;
    if (regress) { /* in float32, like the classifier's evaluation */
        if (cr_net_dtype(net) != CR_F32 && cr_net_convert(net, CR_F32, &net32) != CR_OK) {
            cli_error("out of memory");
            goto done;
        }
        cr_model m32 = model;
        m32.net = net32 ? net32 : model.net;
        rc = eval_regression(me.model, &m32, &ex, targets, batch, json);
        goto done;
    }
    if (!ex.labels) {
        cli_error("eval: needs labels: give --labels y.npy with --inputs, or --data");
        goto done;
    }
    if (cr_net_dtype(net) != CR_F32) {
        if (cr_net_convert(net, CR_F32, &net32) != CR_OK) {
            cli_error("out of memory");
            goto done;
        }
        net = net32;
    }
    conf = calloc(k * k, sizeof *conf);
    labels = malloc(ex.n * sizeof *labels);
    if (!conf || !labels || cr_tape_create(net, (size_t)batch, &tape) != CR_OK) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < ex.n; i++) labels[i] = ex.labels[i];
    const char *data = ex.source;
    double loss = 0;
    size_t correct = 0;
    cr_status st = cr_evaluate_f32(cli_ctx(), net, tape, ex.n, ex.x, labels, &loss, &correct, conf, NULL);
    if (st != CR_OK) {
        cli_error("eval: %s", cr_status_string(st));
        rc = CLI_FAIL;
        goto done;
    }
    double acc = (double)correct / (double)ex.n, mean_loss = loss / (double)ex.n;
    if (png && (rc = confusion_png(png, me.model, data, conf, k, correct, ex.n)) != CLI_OK) goto done;
    rc = CLI_USAGE;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, me.model);
        printf(", \"data\": ");
        cli_json_string(stdout, data);
        printf(", \"n\": %zu, \"correct\": %zu, \"accuracy\": %.6f, \"loss\": %.6f, "
               "\"confusion\": [",
               ex.n, correct, acc, mean_loss);
        for (size_t i = 0; i < k; i++) {
            printf(i ? ", [" : "[");
            for (size_t j = 0; j < k; j++) printf(j ? ", %llu" : "%llu", (unsigned long long)conf[i * k + j]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("%s on %s: %zu examples\n", me.model, data, ex.n);
        printf("accuracy  %.4f  (%zu/%zu)\n", acc, correct, ex.n);
        printf("mean loss %.4f\n", mean_loss);
        printf("confusion matrix (rows: true class, columns: predicted)\n      ");
        for (size_t j = 0; j < k; j++) printf(" %6zu", j);
        printf("  recall\n");
        for (size_t i = 0; i < k; i++) {
            uint64_t row = 0;
            printf("%5zu ", i);
            for (size_t j = 0; j < k; j++) {
                printf(" %6llu", (unsigned long long)conf[i * k + j]);
                row += conf[i * k + j];
            }
            if (row)
                printf("  %.3f\n", (double)conf[i * k + i] / (double)row);
            else
                printf("  -\n");
        }
    }
    if (png && !json) printf("confusion matrix -> %s\n", png);
    rc = CLI_OK;
done:
    free(conf);
    free(labels);
    cr_tape_free(tape);
    cr_net_free(net32);
    cli_examples_free(&ex);
    cr_model_free(&model);
    return rc;
}
