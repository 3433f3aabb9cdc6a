/*
 * Helpers of the input-derivative subcommands (jacobian, jvp, attribute,
 * attack): a model whose input standardisation is folded into its first layer
 * (so every derivative is with respect to the raw input), inputs from .npy or
 * a dataset with an index range, class names, and labelled PNG grids.
 */
#ifndef CR_CLI_INPUT_H
#define CR_CLI_INPUT_H

#include "chainrule_data.h"
#include "cli.h"

typedef struct {
    cr_model model;
    cr_net *net;          /* raw-input network (standardisation folded), owned */
    size_t n, d, k;       /* examples, features, classes */
    void *x;              /* n x d raw inputs in net->dtype, owned */
    int64_t *labels;      /* n labels, or NULL */
    size_t height, width; /* image shape, or 0 */
    double lo, hi;        /* range of the data (images: 0, 1) */
    size_t first;         /* index of the first selected example */
    int fashion;          /* Fashion-MNIST class names apply */
    const char *source;   /* file or spec the inputs came from */
} cli_input;

/* Loads the model (dtype_opt: NULL keeps the file's, else "float32"/"float64"). */
int cli_input_model(const char *path, const char *dtype_opt, cli_input *in);
/* Loads inputs from --inputs FILE.npy or --data SPEC, selecting --index A:B
   (or A, or :B), with optional --labels FILE.npy for .npy inputs. */
int cli_input_data(cli_input *in, const char *inputs, const char *data, const char *index,
                   const char *labels);
void cli_input_free(cli_input *in);
/* "coat" for Fashion-MNIST, else the number. buf >= 24 bytes. */
const char *cli_class_name(const cli_input *in, size_t c, char *buf);
/* argmax of the logits of each input row (n). */
int cli_predict(const cli_input *in, const void *x, size_t n, int64_t *pred);

/* A grid of tiles with a title (lines separated by '\n') above it, written as PNG. */
int cli_write_grid_png(const char *path, const cr_image_tile *tiles, size_t n_tiles,
                       size_t cols, size_t scale, const char *title);

#endif
