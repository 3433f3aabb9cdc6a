/*
 * Helpers shared by the training-related subcommands (train, eval, predict):
 * dataset options and loading, standardisation with a model's statistics.
 * (The checkpoint format is the io library's: cr_checkpoint_* in chainrule_io.h.)
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

/* The CSV options' table entries, also in the options choosing examples (cli_input.h). */
#define CLI_CSV_LABEL_COLUMN(dest)                                                               \
    CLI_STR("--label-column", dest, "N",                                                         \
            "CSV: column of the label, 0-based, negative from the end (default 0)")
#define CLI_CSV_HEADER(dest)                                                                     \
    CLI_STR("--header", dest, "yes|no|auto",                                                     \
            "CSV: is the first row a header? (default auto: a header if none of\n"               \
            "its fields is a number)")

/* Number of entries cli_data_table fills (including CLI_END). */
#define CLI_DATA_TABLE_SIZE 5
/* Fills an option table for --label-column, --header, --limit, --classes. */
void cli_data_table(cli_data_opts *o, cli_opt table[CLI_DATA_TABLE_SIZE]);
/* The options as cr_dataset_options (fields not given keep their defaults);
   prints the error and returns CLI_USAGE for a bad value. */
int cli_data_options_parse(const cli_data_opts *o, cr_dataset_options *opt);
/* Loads spec with the options; prints the error and returns CLI_USAGE on failure. */
int cli_load_dataset(const char *spec, const cli_data_opts *o, cr_dataset *out);
/* The test split that goes with a training spec ("fashion-mnist" ->
   "fashion-mnist:test", "DIR[:train]" -> "DIR:test"), or NULL (CSV, .npy). */
const char *cli_default_test_spec(const char *spec, char *buf, size_t size);
/* Makes the model's input.mean/input.std (if any) its net's link 0, unless the net
   has one already (a loaded model); an error if the widths do not fit. */
int cli_set_input_link(cr_model *model);
/* Writes s as a JSON string literal. */
void cli_json_string(FILE *f, const char *s);
/* 1 if f is a terminal. */
int cli_isatty(FILE *f);
/* Monotonic seconds. */
double cli_now(void);

#endif
