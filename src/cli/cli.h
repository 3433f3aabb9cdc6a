/*
 * The chainrule command line: shared helpers for the subcommands.
 * The library returns errors; this layer decides what to print. Every error
 * is one line on stderr, "chainrule: <file>: <problem>", and an exit status:
 * 0 success, 1 a check or run failed (also out of memory), 2 bad usage or bad input.
 */
#ifndef CR_CLI_H
#define CR_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chainrule.h"
#include "chainrule_io.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* One subcommand: name, one-line summary, entry point (argv[0] is the name). */
typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* Prints "chainrule: " + message + newline to stderr; returns CLI_USAGE. A
   message saying "out of memory" (the CLI's, the library's status string, an io
   error's) makes the command's exit status 1 instead (cli_exit_status): the run
   failed, the input was not bad. */
int cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints an io-layer error; returns CLI_USAGE. */
int cli_io_error(void);
/* A command's status as the process exits with it: CLI_FAIL for CLI_USAGE after an
   out-of-memory error, else rc. */
int cli_exit_status(int rc);

/* ------------------------------------------------------------ option tables */
/*
 * A command's options are one table: name, kind, destination, value name and
 * help text. cli_parse reads argv with it and --help prints from it, so the
 * two cannot drift apart. Usage:
 *
 *     const char *model = NULL; long steps = 20; int json = 0;
 *     const cli_opt opts[] = {
 *         CLI_MODEL(&model, 1, "the model"),
 *         CLI_LONG("--steps", &steps, 1, 1000000, "S", "steps (default 20)"),
 *         CLI_FLAG("--json", &json, "print JSON"),
 *         CLI_END,
 *     };
 *     int rc;
 *     if (!cli_parse(argc, argv, opts, usage_text, &rc)) return rc;
 *
 * --help prints, per option, its help text and then what the table knows:
 * "(safetensors, ONNX or JSON; required)" from `file` and `required`, so a help
 * text never states either itself.
 * Values are "--name value" or "--name=value"; a repeated option keeps the
 * last value. Numbers are checked against [lo, hi] when they are parsed and
 * left at their default when the option is absent. A STR destination stays
 * NULL when absent, so "was it given" is `dest != NULL`.
 */
typedef enum {
    CLI_OPT_END = 0,  /* ends a table */
    CLI_OPT_FLAG,     /* int *: set to 1 */
    CLI_OPT_STR,      /* const char **: the value (borrowed from argv) */
    CLI_OPT_LONG,     /* long *, in [lo, hi] */
    CLI_OPT_DOUBLE,   /* double *, finite, in [lo, hi] */
    CLI_OPT_U64,      /* uint64_t * */
    CLI_OPT_HEADING,  /* no option: a line of --help (help), e.g. a section title */
    CLI_OPT_INCLUDE   /* no option: the entries of another table (dest: const cli_opt *) */
} cli_opt_kind;

/* The files an option names, so that --help says which formats are read or
   written from one place (cli_file_text) and cannot drift from the loaders. */
typedef enum {
    CLI_FILE_NONE = 0,
    CLI_FILE_MODEL,     /* a model any command reads (cr_model_load_full: by content) */
    CLI_FILE_MODEL_OUT, /* a model written by its name (cli_model_write) */
    CLI_FILE_CHECKPOINT /* a training checkpoint (cr_checkpoint_*: safetensors) */
} cli_file_kind;
/* "safetensors, ONNX or JSON", ...; NULL for CLI_FILE_NONE. */
const char *cli_file_text(cli_file_kind kind);

typedef struct cli_opt {
    const char *name; /* "--model" */
    cli_opt_kind kind;
    void *dest;       /* see the kinds; not owned */
    const char *arg;  /* the value's name in --help ("PATH"), NULL for flags */
    const char *help; /* one line or several separated by '\n' */
    double lo, hi;    /* range of LONG / DOUBLE */
    int required;     /* cli_parse fails when the option is absent; --help says "required" */
    cli_file_kind file; /* what the value names; --help says its formats */
} cli_opt;

#define CLI_FLAG(name, dest, help) {name, CLI_OPT_FLAG, dest, NULL, help, 0, 0, 0, CLI_FILE_NONE}
#define CLI_STR(name, dest, arg, help) {name, CLI_OPT_STR, dest, arg, help, 0, 0, 0, CLI_FILE_NONE}
#define CLI_REQ_STR(name, dest, arg, help) {name, CLI_OPT_STR, dest, arg, help, 0, 0, 1, CLI_FILE_NONE}
/* A file option: required (0/1), what it names (cli_file_kind). */
#define CLI_FILE(name, dest, arg, required, file, help) {name, CLI_OPT_STR, dest, arg, help, 0, 0, required, file}
/* --model MODEL: the model read (required or not). */
#define CLI_MODEL(dest, required, help) CLI_FILE("--model", dest, "MODEL", required, CLI_FILE_MODEL, help)
#define CLI_LONG(name, dest, lo, hi, arg, help) {name, CLI_OPT_LONG, dest, arg, help, lo, hi, 0, CLI_FILE_NONE}
#define CLI_DOUBLE(name, dest, lo, hi, arg, help) {name, CLI_OPT_DOUBLE, dest, arg, help, lo, hi, 0, CLI_FILE_NONE}
#define CLI_U64(name, dest, arg, help) {name, CLI_OPT_U64, dest, arg, help, 0, 0, 0, CLI_FILE_NONE}
#define CLI_HEADING(text) {NULL, CLI_OPT_HEADING, NULL, NULL, text, 0, 0, 0, CLI_FILE_NONE}
#define CLI_INCLUDE(table) {NULL, CLI_OPT_INCLUDE, (void *)(table), NULL, NULL, 0, 0, 0, CLI_FILE_NONE}
#define CLI_END {NULL, CLI_OPT_END, NULL, NULL, NULL, 0, 0, 0, CLI_FILE_NONE}
/* --threads N, as every command that splits examples over workers takes it. */
#define CLI_THREADS(dest)                                                                                              \
    CLI_STR("--threads", dest, "N", "workers the examples are split over (default: the number of cores)")

/*
 * Parses argv[1..] (argv[0] is the command's name) with the table. Returns 1
 * when the command should go on; 0 when it should return *status: CLI_OK after
 * printing --help (usage, then the options from the table) to stdout, or
 * CLI_USAGE after one line on stderr (unknown option, missing value, a number
 * out of range, a required option absent).
 */
int cli_parse(int argc, char **argv, const cli_opt *table, const char *usage, int *status);
/* Prints the options of a table as --help does. */
void cli_print_options(FILE *out, const cli_opt *table);

/* Strict number parsing (whole string, finite, in range); on failure print
   "chainrule: CMD: OPTION: 'text' is not ..." and return 0. */
int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out);
int cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out);
/* --threads N (1..1024): the threads of the command's context (cli_ctx); NULL leaves the
   default, the cores available to the process. CLI_OK or CLI_USAGE. */
int cli_set_threads(const char *value);
/* The command's context (one per run, made at the first call with the --threads given before
   it, freed at exit); NULL (one thread) if it cannot be made. */
cr_ctx *cli_ctx(void);
int cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/* "784,128,10" -> dims, n_layers = count - 1 (at least 2 numbers). */
int cli_parse_layers(const char *opt, const char *s, size_t *dims, int *n_layers);
/* Every activation's name from the op table, for help and messages: "sigmoid,
   tanh, relu, gelu" (last_sep ", ") or "... relu or gelu" (last_sep " or ").
   Rotates over 4 static buffers. */
const char *cli_activation_names(const char *last_sep);
/* The activations whose CR_INIT_AUTO is init (a cr_init): "sigmoid/tanh". */
const char *cli_activation_names_init(int init);
/* "sigmoid" or "relu,tanh" (one per hidden layer; one name applies to all). */
int cli_parse_activations(const char *opt, const char *s, int n_hidden, cr_activation *act);
/* --of: "probs"/"probabilities" -> 1, "logits" or "outputs" (the network's output o) -> 0. */
int cli_parse_of(const char *cmd, const char *s, int *of_probs);
/* "float32"/"f32"/"float64"/"f64". */
int cli_parse_dtype(const char *opt, const char *s, cr_dtype *out);

/* ------------------------------------------------------------ data */

/* Loads a model; on error prints it and returns CLI_USAGE. A softmax head on a
   network with one output is refused (a regressor loaded without --head). */
int cli_load_model(const char *path, cr_model *model);
/* 1 when an output path names an ONNX file (ends in .onnx, any case). */
int cli_out_is_onnx(const char *path);
/* 1 when path ends in .json (any case): cli_model_write writes a JSON model. */
int cli_out_is_json(const char *path);
/* Writes a model by its output name: ONNX for a .onnx path (cr_onnx_write: the
   network and standardisation, not model->extra), chainrule safetensors
   (cr_model_save_full) for any other name. */
cr_status cli_model_write(const char *path, const cr_model *model);
/* The same with --head NAME (cr_head_parse; NULL keeps the file's head). */
int cli_load_model_head(const char *path, const char *head, cr_model *model);
/* The --head option of the commands that run a model's loss or output. */
#define CLI_HEAD_OPT(dest)                                                                    \
    CLI_STR("--head", dest, "HEAD",                                                           \
            "what the loss does with the network's output o, instead of the model's:\n"        \
            "softmax-cross-entropy (a classifier) or squared-error (a regressor:\n"           \
            "J = ½‖o − t‖², the prediction is o); an ONNX graph without a final\n"             \
            "Softmax cannot tell a regressor from logits")
/* "output o = relu(θ); loss: softmax + cross-entropy on o", ... */
void cli_output_text(const cr_net *net, char *buf, size_t size);
/* For a net that is not a plain classifier: one line on stderr saying what `cmd`
   does with its output (cli_output_text). */
void cli_say_output(const char *cmd, const cr_net *net);
/* CLI_OK for a plain classifier; else one line naming path and what `cmd` does
   not support, and CLI_USAGE. */
int cli_require_plain(const char *cmd, const char *path, const cr_net *net);
/* Regression targets t of n examples for a model with K outputs: a float .npy [n, K]
   (or [n] when K = 1), or [total, K] of which rows [first, first + n) are taken (the
   examples --index chose); finite; in dtype; *t malloc'd. */
int cli_load_regression_targets(const char *path, size_t n, size_t first, size_t total, size_t k,
                                cr_dtype dtype, void **t);
/* Writes an array of the given real dtype to .npy (atomic); prints errors. */
int cli_write_real_npy(const char *path, cr_dtype dtype, int ndim, const size_t *shape,
                       const void *data);
/* Random data for checks: x uniform in [-1, 1], labels uniform, as targets. */
void cli_random_data(cr_dtype dtype, size_t n, size_t d, size_t k, uint64_t seed, void *x,
                     void *y);

/* Reads scalar i of a real buffer of dtype as double / writes it. */
static inline double cli_get(cr_dtype t, const void *p, size_t i) {
    return t == CR_F64 ? ((const double *)p)[i] : (double)((const float *)p)[i];
}
static inline void cli_set(cr_dtype t, void *p, size_t i, double v) {
    if (t == CR_F64)
        ((double *)p)[i] = v;
    else
        ((float *)p)[i] = (float)v;
}


/* cr_net_forward / cr_net_backward under the BLAS hold of the command's context. */
cr_status cli_net_forward(const cr_net *net, cr_tape *tape, size_t n, const void *x);
cr_status cli_net_backward(const cr_net *net, cr_tape *tape, const void *y, void *dx,
                           void *grads);

/* ------------------------------------------------------------ subcommands */
int cmd_explain(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_grad(int argc, char **argv);
int cmd_gradcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_jacobian(int argc, char **argv);
int cmd_jvp(int argc, char **argv);
int cmd_attribute(int argc, char **argv);
int cmd_attack(int argc, char **argv);
int cmd_certify(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
