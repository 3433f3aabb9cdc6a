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

/* ------------------------------------------------------------ checkpoints (cli_checkpoint.c) */

/* The state of a training run that a checkpoint stores besides the network. */
typedef struct {
    cr_optim_config cfg;
    uint64_t seed;
    long epochs, epoch, batch;
    double val;
    int standardize;
    char data[600], test[600], init[16], label_column[32], header[8], limit[32], classes[32];
    cr_rng rng;
} cli_run_state;

/* Writes net, the standardisation of stats, the optimiser state and rs to path
   (atomically); 0 or -1 with *err set. */
int cli_checkpoint_save(const char *path, const cr_net *net, const cr_model *stats,
                        const cr_optim *opt, const cli_run_state *rs, cr_error *err);
/* Restores rs (hyperparameters, data options, counters, RNG) from a checkpoint's
   metadata; 0 after printing the error. */
int cli_checkpoint_load_state(const cr_model *m, const char *path, cli_run_state *rs);
/* Copies the stored optimiser state into opt and sets its step; 0 after printing. */
int cli_checkpoint_restore_optim(const cr_model *m, const char *path, cr_optim *opt, uint64_t step);
/* Metadata key as a non-negative integer; 0 after printing. */
int cli_checkpoint_meta_u64(const cr_model *m, const char *path, const char *key, uint64_t *out);

#endif
