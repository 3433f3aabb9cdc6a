/* chainrule eval: accuracy, mean loss and confusion matrix of a model on a dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_train.h"

static const char *const eval_help =
    "usage: chainrule eval --model MODEL --data SPEC [options]\n"
    "\n"
    "Evaluates a model on a labelled dataset: accuracy, mean cross-entropy loss and\n"
    "the confusion matrix (rows: true class, columns: predicted class). Inputs are\n"
    "standardised with the model's statistics if it stores them.\n"
    "\n"
    "  --model PATH          the model (safetensors; required)\n"
    "  --data SPEC           fashion-mnist:test, DIR:test, FILE.csv, X.npy,Y.npy\n"
    "                        (required)\n"
    "%s"
    "  --batch N             rows per forward pass (default 1024)\n"
    "  --threads N           BLAS threads (default: the BLAS default)\n"
    "  --json                print one JSON object instead of text\n";

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *data = NULL, *batch_s = NULL, *threads = NULL;
    int json = 0;
    cli_data_opts dopt;
    memset(&dopt, 0, sizeof dopt);
    cli_args a = cli_args_start(argc, argv);
    while (cli_args_next(&a)) {
        if (cli_flag(&a, "--json")) json = 1;
        else if (cli_value(&a, "--model", &model_path) || cli_value(&a, "--data", &data) ||
                 cli_value(&a, "--batch", &batch_s) || cli_value(&a, "--threads", &threads) ||
                 cli_data_option(&a, &dopt))
            continue;
        else return cli_args_unknown(&a);
    }
    if (a.help) return printf(eval_help, cli_data_help), CLI_OK;
    if (a.failed) return CLI_USAGE;
    if (!model_path || !data) return cli_error("eval: --model and --data are required (see --help)");
    long batch = 1024;
    if (batch_s && !cli_parse_long("--batch", batch_s, 1, 1L << 20, &batch)) return CLI_USAGE;
    if (cli_set_threads(threads)) return CLI_USAGE;

    cr_model model;
    cr_dataset ds;
    memset(&ds, 0, sizeof ds);
    if (cli_load_model(model_path, &model) != CLI_OK) return CLI_USAGE;
    int rc = CLI_USAGE;
    cr_net *net32 = NULL;
    cr_tape *tape = NULL;
    uint64_t *conf = NULL;
    if (cli_load_dataset(data, &dopt, &ds) != CLI_OK) goto done;
    const cr_net *net = model.net;
    size_t k = net->dims[net->n_layers];
    if (ds.d != net->dims[0]) {
        cli_error("%s: %zu features per example but the model %s takes %zu", data, ds.d,
                  model_path, net->dims[0]);
        goto done;
    }
    if (ds.k > k) {
        cli_error("%s: labels go up to %zu but the model %s has %zu classes", data, ds.k - 1,
                  model_path, k);
        goto done;
    }
    if (cli_standardize_dataset(&model, &ds) != CLI_OK) goto done;
    if (net->dtype != CR_F32) { /* evaluation runs in float32 */
        if (cr_net_convert(net, CR_F32, &net32) != CR_OK) {
            cli_error("out of memory");
            goto done;
        }
        net = net32;
    }
    conf = calloc(k * k, sizeof *conf);
    if (!conf || cr_tape_create(net, (size_t)batch, &tape) != CR_OK) {
        cli_error("out of memory");
        goto done;
    }
    double loss = 0;
    size_t correct = 0;
    cr_status st = cr_evaluate_f32(net, tape, ds.n, ds.x, ds.labels, &loss, &correct, conf, NULL);
    if (st != CR_OK) {
        cli_error("eval: %s", cr_status_string(st));
        rc = CLI_FAIL;
        goto done;
    }
    double acc = (double)correct / (double)ds.n, mean_loss = loss / (double)ds.n;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, model_path);
        printf(", \"data\": ");
        cli_json_string(stdout, data);
        printf(", \"n\": %zu, \"correct\": %zu, \"accuracy\": %.6f, \"loss\": %.6f, "
               "\"confusion\": [",
               ds.n, correct, acc, mean_loss);
        for (size_t i = 0; i < k; i++) {
            printf(i ? ", [" : "[");
            for (size_t j = 0; j < k; j++) printf(j ? ", %llu" : "%llu", (unsigned long long)conf[i * k + j]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("%s on %s: %zu examples\n", model_path, data, ds.n);
        printf("accuracy  %.4f  (%zu/%zu)\n", acc, correct, ds.n);
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
    cr_tape_free(tape);
    cr_net_free(net32);
    cr_dataset_free(&ds);
    cr_model_free(&model);
    return rc;
}
