/* chainrule eval: accuracy, mean loss and confusion matrix of a model on a dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_input.h"
#include "cli_train.h"

static const char *const eval_help =
    "usage: chainrule eval --model MODEL (--data SPEC | --inputs X.npy --labels y.npy) [options]\n"
    "\n"
    "Evaluates a model on labelled examples: accuracy, mean cross-entropy loss and\n"
    "the confusion matrix (rows: true class, columns: predicted class). Inputs are\n"
    "standardised with the model's statistics if it stores them.\n"
    "\n"
    "options:\n";

int cmd_eval(int argc, char **argv) {
    const char *threads = NULL;
    long batch = 1024;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_LONG("--batch", &batch, 1, 1L << 20, "N", "rows per forward pass (default 1024)"),
        CLI_STR("--threads", &threads, "N", "BLAS threads (default: the BLAS default)"),
        CLI_FLAG("--json", &json, "print one JSON object instead of text"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, eval_help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;

    cr_model model;
    cli_examples ex = {0};
    if (cli_load_model(me.model, &model) != CLI_OK) return CLI_USAGE;
    rc = CLI_USAGE;
    cr_net *net32 = NULL;
    cr_tape *tape = NULL;
    uint64_t *conf = NULL;
    int32_t *labels = NULL;
    const cr_net *net = model.net;
    size_t k = net->dims[net->n_layers];
    /* evaluation runs in float32 */
    if (cli_examples_load(&me.examples, net->dims[0], k, CR_F32, &ex) || cli_examples_standardize(&model, &ex))
        goto done;
    if (!ex.labels) {
        cli_error("eval: needs labels: give --labels y.npy with --inputs, or --data");
        goto done;
    }
    if (net->dtype != CR_F32) {
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
    for (size_t i = 0; i < ex.n; i++) labels[i] = (int32_t)ex.labels[i];
    const char *data = ex.source;
    double loss = 0;
    size_t correct = 0;
    cr_status st = cr_evaluate_f32(net, tape, ex.n, ex.x, labels, &loss, &correct, conf, NULL);
    if (st != CR_OK) {
        cli_error("eval: %s", cr_status_string(st));
        rc = CLI_FAIL;
        goto done;
    }
    double acc = (double)correct / (double)ex.n, mean_loss = loss / (double)ex.n;
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
