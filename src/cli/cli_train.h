/*
 * Helpers shared by the training-related subcommands (train, eval, predict):
 * dataset options and loading, standardisation with a model's statistics,
 * and the checkpoint state stored in a model file's extra tensors/metadata.
 */
#ifndef CR_CLI_TRAIN_H
#define CR_CLI_TRAIN_H

#include <stdio.h>

#include "chainrule_data.h"
#include "cli.h"

typedef struct {
    const char *label_column; /* NULL = default */
    const char *header;       /* "yes" / "no" / "auto" */
    const char *limit;
    const char *classes;
} cli_data_opts;

/* Recognises --label-column, --header, --limit, --classes; 1 if consumed. */
int cli_data_option(cli_args *a, cli_data_opts *o);
/* Help text for those options. */
extern const char *const cli_data_help;
/* Loads spec with the options; prints the error and returns CLI_USAGE on failure. */
int cli_load_dataset(const char *spec, const cli_data_opts *o, cr_dataset *out);
/* The test split that goes with a training spec ("fashion-mnist" ->
   "fashion-mnist:test", "DIR[:train]" -> "DIR:test"), or NULL (CSV, .npy). */
const char *cli_default_test_spec(const char *spec, char *buf, size_t size);
/* Applies the model's input.mean/input.std (if any) to a float32 dataset;
   CLI_USAGE if the widths do not fit. */
int cli_standardize_dataset(const cr_model *model, cr_dataset *ds);
/* Writes s as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);
/* 1 if f is a terminal. */
int cli_isatty(FILE *f);
/* Monotonic seconds. */
double cli_now(void);

#endif
