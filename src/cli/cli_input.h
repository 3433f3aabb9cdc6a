/*
 * Helpers of the input-derivative subcommands (jacobian, jvp, attribute,
 * attack): a model whose input standardisation is its net's link 0 (so every
 * derivative is with respect to the raw input), inputs from .npy or
 * a dataset with an index range, class names, and labelled PNG grids.
 */
#ifndef CR_CLI_INPUT_H
#define CR_CLI_INPUT_H

#include "chainrule_data.h"
#include "cli.h"

/* ------------------------------------------------------------ choosing examples */
/*
 * Every command that takes examples chooses them the same way:
 *   --inputs X.npy [--labels y.npy]   or   --data SPEC
 * (SPEC as train/eval take it: fashion-mnist[:train|:test], an IDX folder,
 * FILE.csv, X.npy,y.npy), then --index A:B (also A, A: or :B; 0-based, B
 * exclusive) selects some of them. An index beyond the data is an error (exit
 * 2), never clamped. --limit N is the same as --index :N. The CSV options
 * --label-column, --header and --classes apply to --data.
 */
typedef struct {
    const char *inputs, *labels, *data, *index, *limit;
    const char *label_column, *header, *classes;
} cli_examples_opts;

/* The shape of one example as its source has it: the dims after N of an --inputs file
   ([D] for [N, D], [1, 28, 28] for [N, 1, 28, 28]; single: the file was one example [D],
   no N axis), [H, W] for an image dataset, [D] otherwise (ndim 0 reads as [D]). */
typedef struct {
    int ndim;
    size_t dims[CR_ARRAY_MAX_DIMS];
    int single;
} cli_shape;

/* The shape of a result with one entry per input value: [N, (K,) one example's shape]
   (k = 0: an array like the inputs (a gradient, x_adv, attribution maps); k > 0: K rows
   like an input (a Jacobian)), without N for a one-example [D] file; [N, (K,) D] when
   that would exceed CR_ARRAY_MAX_DIMS. Returns the number of dims written to out
   (CR_ARRAY_MAX_DIMS entries). */
int cli_shape_result(const cli_shape *s, size_t n, size_t d, size_t k, size_t *out);

/* The examples chosen, in the model's dtype. */
typedef struct {
    size_t n, d, k;       /* examples chosen, features, classes */
    cr_dtype dtype;
    void *x;              /* n x d inputs (uint8 pixels scaled to [0, 1]), owned */
    void *y;              /* n x k targets (one-hot, or the rows of a float label file), or
                             NULL without labels; owned */
    cr_label *labels;     /* n class labels (argmax of y), or NULL; owned */
    size_t first, total;  /* index of the first chosen example; examples in the source */
    size_t height, width; /* image shape, or 0 */
    size_t channels;      /* 3: colour images [N, 3, H, W] (planes R, G, B); else 0 or 1 */
    double lo, hi;        /* range of the data (images: 0, 1) */
    int fashion;          /* Fashion-MNIST class names apply */
    const char *source;   /* the file or spec they came from (borrowed from the options) */
    cli_shape shape;      /* one example's shape in the source (results take it) */
} cli_examples;

/* Number of table entries cli_examples_table fills (including CLI_END). */
#define CLI_EXAMPLES_TABLE_SIZE 9
/* Fills an option table for o (to CLI_INCLUDE in a command's table). */
void cli_examples_table(cli_examples_opts *o, cli_opt table[CLI_EXAMPLES_TABLE_SIZE]);

/*
 * --model PATH (required), --head HEAD, then the options choosing examples: how the option
 * table of every command that runs a model on examples begins.
 *     cli_model_examples me;
 *     cli_model_examples_table(&me);
 *     const cli_opt opts[] = {CLI_INCLUDE(me.table), ...the command's own..., CLI_END};
 * The table points into me: do not copy me.
 */
typedef struct {
    const char *model;          /* --model (borrowed from argv), NULL until parsed */
    const char *head;           /* --head (CLI_HEAD_OPT), NULL: the model file's head */
    cli_examples_opts examples; /* --inputs, --labels, --data, --index, --limit, ... */
    cli_opt table[2 + CLI_EXAMPLES_TABLE_SIZE];
} cli_model_examples;
void cli_model_examples_table(cli_model_examples *me);
/*
 * Loads the examples o chooses for a model with d features and k classes, in
 * dtype. On error prints one line and returns CLI_USAGE, leaving *ex empty.
 * Free with cli_examples_free.
 */
int cli_examples_load(const cli_examples_opts *o, size_t d, size_t k, cr_dtype dtype,
                      cli_examples *ex);
void cli_examples_free(cli_examples *ex);

/* ------------------------------------------------------------ input-derivative commands */

typedef struct {
    cr_model model;
    cr_net *net;          /* raw-input network (standardisation: its link 0), owned */
    size_t n, d, k;       /* examples, features, classes */
    void *x;              /* n x d raw inputs in net->dtype, owned */
    cr_label *labels;     /* n labels, or NULL */
    size_t height, width; /* image shape, or 0 */
    size_t channels;      /* 3: colour images [N, 3, H, W]; else 0 or 1 */
    double lo, hi;        /* range of the data (images: 0, 1) */
    size_t first;         /* index of the first selected example */
    int fashion;          /* Fashion-MNIST class names apply */
    const char *source;   /* file or spec the inputs came from */
    cli_shape shape;      /* one example's shape in the source (results take it) */
} cli_input;

/* Loads the model (dtype_opt: NULL keeps the file's, else "float32"/"float64"). */
int cli_input_model(const char *path, const char *dtype_opt, cli_input *in);
/* The same with --head (NULL: the file's head; see cli_load_model_head). */
int cli_input_model_head(const char *path, const char *dtype_opt, const char *head, cli_input *in);
/* Loads the examples o chooses (see cli_examples_load) as raw inputs. */
int cli_input_data(cli_input *in, const cli_examples_opts *o);
/* cli_input_model(me->model, dtype_opt) and cli_input_data(me->examples); when
   png is not NULL (a picture of the inputs is to be drawn there) they must be
   images, which is checked before anything is written. On error *in is freed. */
int cli_input_load(const cli_model_examples *me, const char *dtype_opt, const char *png,
                   cli_input *in);
void cli_input_free(cli_input *in);
/* "coat" for Fashion-MNIST, else the number. buf >= 24 bytes. */
const char *cli_class_name(const cli_input *in, size_t c, char *buf);
/* argmax of the logits of each input row (n). */
int cli_predict(const cli_input *in, const void *x, size_t n, int64_t *pred);

/* A colour map of hw pixels in channels planes (3: R, G, B) becomes one plane, their sum,
   in v's first hw values (a map per pixel, e.g. an attribution); channels <= 1: unchanged. */
void cli_sum_channels(float *v, size_t channels, size_t hw);

/* A grid of tiles with a title (lines separated by '\n') above it, written as PNG. */
int cli_write_grid_png(const char *path, const cr_image_tile *tiles, size_t n_tiles,
                       size_t cols, size_t scale, const char *title);

/* A picture's tiles (attack --png, attribute --png): n_tiles tiles of d values each, their
   value buffers (px, n_tiles x d floats) and their labels (48 bytes each). */
typedef struct {
    float *px;
    cr_image_tile *tiles;
    char (*labels)[48];
    size_t n_tiles, d;
} cli_tiles;
/* Allocates them (zeroed); CLI_OK, or an out-of-memory error naming png (printed, *t freed). */
int cli_tiles_alloc(cli_tiles *t, size_t n_tiles, size_t d, const char *png);
void cli_tiles_free(cli_tiles *t);
/* Tile k's buffer filled with example i of x (the net's dtype dt, d values a row); returns it. */
float *cli_tile_values(cli_tiles *t, size_t k, cr_dtype dt, const void *x, size_t i);
/* Tile k: values v of in's image shape through cmap over [lo, hi], with its label. */
void cli_tile_set(cli_tiles *t, size_t k, const cli_input *in, const float *v, cr_colormap cmap, float lo, float hi,
                  size_t channels);
/* The grid (cols tiles a row, scale pixels a value) with its title, written to png; then
   "  picture of N examples -> png" unless quiet. */
int cli_tiles_write(const cli_tiles *t, const char *png, size_t cols, size_t scale, const char *title,
                    size_t examples, int quiet);

#endif
