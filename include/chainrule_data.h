/*
 * chainrule_data.h — datasets and pictures, part of the io layer:
 * IDX (MNIST / Fashion-MNIST, raw or gzip) and CSV readers, a labelled
 * dataset type with split and standardisation, PNG writing/reading and a
 * small image-grid renderer with colormaps and a built-in 5x7 font.
 *
 * Same conventions as chainrule_io.h: functions return 0 on success and -1 on
 * failure with ONE line in *err that names the file and the problem; on
 * failure no output object is left allocated and no output file is left.
 * Readers check every size claimed by a header against overflow and against
 * the data that is actually present before allocating it.
 */
#ifndef CHAINRULE_DATA_H
#define CHAINRULE_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule_io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported by the shared library, like everything chainrule.h declares. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---------------------------------------------------------------- IDX */

/* Largest IDX payload (decompressed data after the header) accepted: 2 GiB. */
#define CR_IDX_MAX_BYTES ((size_t)1 << 31)

/*
 * Reads an IDX file (the MNIST format: bytes 0 0 TYPE NDIM, NDIM big-endian
 * u32 dimensions, then the data in C order, big-endian), raw or gzip
 * (detected by the magic bytes 1f 8b). Element types and the resulting array:
 *   0x08 unsigned byte -> CR_ARRAY_U8     0x09 signed byte -> CR_ARRAY_I32
 *   0x0B int16         -> CR_ARRAY_I32    0x0C int32       -> CR_ARRAY_I32
 *   0x0D float32       -> CR_ARRAY_F32    0x0E float64     -> CR_ARRAY_F64
 * Strict: 1 <= NDIM <= CR_ARRAY_MAX_DIMS, the product of the dimensions must
 * not overflow, and the data must be exactly as long as the header says
 * (truncation and trailing bytes are errors). A gzip stream is decompressed
 * incrementally; memory grows only with data that actually arrives and never
 * beyond CR_IDX_MAX_BYTES.
 */
cr_status cr_idx_read(const char *path, cr_array *out);
/* Parses an in-memory raw (not gzip) IDX image; `name` is used in messages. */
cr_status cr_idx_parse(const char *name, const unsigned char *buf, size_t len, cr_array *out);

/* ---------------------------------------------------------------- datasets */

/*
 * A labelled dataset in memory: n examples of d float features (row-major
 * n x d) and n class labels in [0, k). Images loaded from uint8 data (IDX or
 * .npy) are scaled to [0, 1] (pixel / 255) and keep their height and width
 * (d = height * width); other inputs are taken as they are. Free with
 * cr_dataset_free.
 */
typedef struct {
    size_t n, d, k;
    float *x;          /* n x d, owned */
    cr_label *labels;  /* n, owned, each in [0, k) */
    size_t height;     /* image rows, or 0 if the examples are not images */
    size_t width;      /* image columns, or 0 */
} cr_dataset;

typedef struct {
    /* CSV: column of the label, 0-based; negative counts from the end
       (-1 = last column). Default 0. */
    int label_column;
    /* CSV: 1 = the first row is a header, 0 = it is not, -1 = auto-detect
       (a header if none of the fields of the first row parses as a number;
       "nan" or "inf" parse, and are then rejected as data; a first row of
       numbers with an empty field or a typo is data, so its error names the
       line and column). Default -1.
       NOTE: a zeroed struct means "no header"; start from
       cr_dataset_options_default() or CR_DATASET_OPTIONS_INIT. */
    int has_header;
    /* Keep only the first `limit` examples (0 = all). A CSV file is then only
       read up to that row. */
    size_t limit;
    /* Number of classes; 0 = max label + 1. A label >= k is an error. */
    size_t k;
} cr_dataset_options;

#define CR_DATASET_OPTIONS_INIT {0, -1, 0, 0}
cr_dataset_options cr_dataset_options_default(void);

/* Default folder of spec "fashion-mnist" (Debian's dataset-fashion-mnist);
   the environment variable CR_FASHION_MNIST_DIR overrides it. */
#define CR_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/*
 * Loads a dataset named by spec (opt may be NULL for the defaults):
 *   "fashion-mnist", "fashion-mnist:train", "fashion-mnist:test"
 *        Fashion-MNIST from CR_FASHION_MNIST_DIR (train: 60000, test: 10000).
 *   "DIR", "DIR:train", "DIR:test"
 *        a folder holding the four MNIST-style IDX files
 *        {train,t10k}-{images-idx3,labels-idx1}-ubyte, each raw or with .gz
 *        (the "images.idx3-ubyte" spelling is accepted too). "mnist" is a
 *        folder named mnist, else /usr/share/datasets/mnist.
 *   "FILE.csv"  a CSV file, see cr_csv_read.
 *   "X,Y"       inputs X and labels Y, each a .npy file (by extension) or an
 *        IDX file (anything else, raw or gzip). X has shape [n, ...] (d = the
 *        product of the rest; [n, h, w] sets height and width). Y is an
 *        integer vector [n] (uint8/int32/int64, or a float vector of integral
 *        values) or a one-hot matrix [n, k].
 */
cr_status cr_dataset_load(const char *spec, cr_dataset *out, const cr_dataset_options *opt);

/*
 * Reads a CSV file of numbers: one example per line, fields separated by ',',
 * optionally enclosed in double quotes, surrounding spaces allowed, "\n" or
 * "\r\n" line ends, the last line may lack its newline, blank lines are
 * skipped. Every row must have the same number of fields (at least 2). The
 * label column must hold a non-negative integer; every other field is a
 * feature parsed with strtod (the whole field; NaN, Inf and values outside
 * float32 are rejected) and taken as is, without scaling. Errors name the
 * line and the 1-based column, e.g.
 *   "train.csv:17: column 3: 'abc' is not a number"
 *   "train.csv:5: expected 5 fields, found 4"
 * Numbers use the C locale's decimal point.
 */
cr_status cr_csv_read(const char *path, const cr_dataset_options *opt, cr_dataset *out);
cr_status cr_csv_parse(const char *name, const char *buf, size_t len,
                 const cr_dataset_options *opt, cr_dataset *out);

/* Builds a dataset from arrays (as cr_dataset_load does for "X,Y"); x_name
   and y_name name them in messages. x and labels are borrowed. */
cr_status cr_dataset_from_arrays(const char *x_name, const cr_array *x, const char *y_name,
                           const cr_array *labels, const cr_dataset_options *opt,
                           cr_dataset *out);

void cr_dataset_free(cr_dataset *ds); /* frees and zeroes; NULL-safe */

/*
 * Splits `all` into train and validation sets: a seeded random permutation
 * (cr_rng, reproducible on every platform) picks n_val = round(val_fraction
 * * n) examples (at least 1 if val_fraction > 0) for val, the rest go to
 * train; both keep the original order of their examples. 0 <= val_fraction
 * < 1 and train must not be empty. val_fraction = 0 gives an empty val
 * (n = 0, x = labels = NULL). `all` is not modified; train and val are new
 * datasets with the same d, k, height and width.
 */
cr_status cr_dataset_split(const cr_dataset *all, double val_fraction, uint64_t seed,
                     cr_dataset *train, cr_dataset *val);

/* Standardisation floor: a feature whose standard deviation is below this
   (e.g. a constant border pixel) gets std = 1, so it is centred, not blown up. */
#define CR_STD_FLOOR 1e-6

/*
 * Per-feature mean and population standard deviation over the n examples
 * (accumulated in double), mean and std of length d. CR_OK, CR_ERR_ARG if the
 * dataset is empty, CR_ERR_NOMEM.
 */
cr_status cr_dataset_standardize_stats(const cr_dataset *ds, float *mean, float *std);
/* x <- (x - mean) / std, feature by feature (std must be nonzero). */
void cr_dataset_apply_standardize(cr_dataset *ds, const float *mean, const float *std);

/* ---------------------------------------------------------------- PNG */

/* Largest width or height read or written. */
#define CR_PNG_MAX_SIDE 100000u

/* Writes 8-bit grayscale (1 byte per pixel) or RGB (3 bytes per pixel,
   row-major, rows top to bottom) atomically. */
cr_status cr_png_write_gray(const char *path, const uint8_t *pixels, size_t width, size_t height);
cr_status cr_png_write_rgb(const char *path, const uint8_t *pixels, size_t width, size_t height);
/*
 * Reads a PNG into a newly malloc'd 8-bit buffer (*pixels, caller frees) with
 * *channels = 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), as stored in the
 * file (palette images become RGB/RGBA, 16-bit samples become 8-bit).
 */
cr_status cr_png_read(const char *path, uint8_t **pixels, size_t *width, size_t *height,
                int *channels);

/* ---------------------------------------------------------------- image grids */

typedef enum {
    CR_CMAP_GRAY = 0,      /* black -> white */
    CR_CMAP_DIVERGING = 1, /* blue -> white (at the middle) -> red */
    CR_CMAP_HOT = 2        /* black -> red -> yellow -> white */
} cr_colormap;

/* Colour of t in [0, 1] (clipped) under cmap; NaN gives magenta. */
void cr_colormap_rgb(cr_colormap cmap, float t, uint8_t rgb[3]);

/* One tile of a grid: a height x width float image shown through a colormap. */
typedef struct {
    const float *values; /* height x width, row-major, borrowed */
    size_t height, width;
    cr_colormap cmap;
    /* Value range mapped onto the colormap (values outside are clipped).
       If lo < hi it is used as given (to share one scale across tiles);
       otherwise it is taken from the tile itself:
         GRAY:      [min, max]
         DIVERGING: [-m, m] with m = max |value|, so 0 is white (signed
                    attributions)
         HOT:       [0, max] (nonnegative maps; negatives clip to black)
       Non-finite values are drawn magenta. */
    float lo, hi;
    const char *label; /* text above the tile, or NULL */
    /* 0 or 1: one value per pixel through cmap; 3: a colour image, values holding the
       planes R, G, B (3 x height x width, as a [C, H, W] tensor), each mapped from
       [lo, hi] (or the min and max over the three planes) onto 0..255; cmap unused. */
    size_t channels;
} cr_image_tile;

typedef struct {
    size_t cols;       /* tiles per row; 0 = all tiles in one row */
    size_t scale;      /* each value becomes scale x scale pixels; 0 means 1 */
    size_t pad;        /* background pixels around and between cells */
    size_t text_scale; /* font magnification; 0 means 1 */
} cr_grid_options;

#define CR_GRID_OPTIONS_INIT {0, 4, 4, 1}

/* An RGB picture: width * height * 3 bytes, rows top to bottom. */
typedef struct {
    size_t width, height;
    uint8_t *rgb; /* owned; free with cr_image_free */
} cr_image;

/* Width and height in pixels of text drawn at text_scale (5x7 glyphs with one
   column of spacing: width = 6 * len - 1, height = 7, times text_scale). */
size_t cr_text_width(const char *text, size_t text_scale);
#define CR_FONT_HEIGHT 7

/*
 * Draws text at (x, y) (top-left) into img in colour rgb; pixels outside the
 * image are skipped. The font has digits, letters (lowercase drawn as
 * capitals), space and . , : ; - + = > < / \ ( ) _ % # ! ?; anything else is
 * drawn as '?'.
 */
void cr_image_draw_text(cr_image *img, size_t x, size_t y, const char *text,
                        size_t text_scale, const uint8_t rgb[3]);

/*
 * Composes tiles into a white RGB canvas: cells in a grid of `cols` columns,
 * filled row by row. Every cell is cell_w x cell_h with
 *   cell_w  = max over tiles of max(width * scale, cr_text_width(label))
 *   cell_h  = max over tiles of height * scale
 *   label_h = (any label non-empty) ? (CR_FONT_HEIGHT + 2) * text_scale : 0
 * and the canvas is
 *   width  = cols * cell_w + (cols + 1) * pad
 *   height = rows * (label_h + cell_h) + (rows + 1) * pad,  rows = ceil(n / cols).
 * Labels are drawn in black above their tiles; tiles are left-aligned in
 * their cells. opt may be NULL for CR_GRID_OPTIONS_INIT.
 */
cr_status cr_image_grid(const cr_image_tile *tiles, size_t n_tiles, const cr_grid_options *opt,
                  cr_image *out);
cr_status cr_image_write_png(const char *path, const cr_image *img);
void cr_image_free(cr_image *img); /* frees and zeroes; NULL-safe */

/* ---------------------------------------------------------------- charts (src/io/plot.c) */

/* One line of a chart: n points (x[i], y[i]); non-finite points break the line. */
typedef struct {
    const char *name; /* in the legend (shown when a panel has two series or more) */
    const double *x, *y;
    size_t n;
} cr_plot_series;

/* One panel: axes with ticks and values, axis titles, the series, a legend. A range
   with min < max is used as given, else the data's. */
typedef struct {
    const char *title, *xlabel, *ylabel;
    const cr_plot_series *series;
    size_t n_series;
    double xmin, xmax, ymin, ymax;
    int integer_x;     /* x ticks at whole numbers (epochs) */
    int legend_bottom; /* the legend bottom right instead of top right */
} cr_plot_panel;

/* 1 to 8 panels side by side (420 x 300 pixels each) under a title ('\n' separates its
   lines), into *out (free with cr_image_free). */
cr_status cr_plot_panels(const cr_plot_panel *panels, size_t n_panels, const char *title, cr_image *out);

/* A heatmap of rows x cols values (row-major; at most 1000 a side): white -> dark blue,
   each row scaled to its sum (row_normalised: a confusion matrix's rows become the
   share of each true class) or all to the largest value; each cell's value written in
   it while cells are large enough (integer: as a whole number); row names on the left,
   column names written upwards on top, axis titles, a legend line under it. */
typedef struct {
    const double *values;
    size_t rows, cols;
    const char *const *row_names, *const *col_names; /* may be NULL */
    const char *title, *row_axis, *col_axis, *legend; /* may be NULL */
    int row_normalised, integer;
} cr_heatmap;
cr_status cr_plot_heatmap(const cr_heatmap *h, cr_image *out);
/* ---------------------------------------------------------------- band plots */

/* Two curves against x (n points, x nondecreasing, y fractions in [0, 1] drawn as 0..100 %) with the band between
   them shaded (where upper > lower), a title, axis labels and a legend (names may be NULL: not listed). */
typedef struct {
    size_t n;
    const double *x, *upper, *lower;
    const char *title, *xlabel, *ylabel;
    const char *upper_name, *lower_name, *band_name;
    uint8_t upper_rgb[3], lower_rgb[3];
} cr_plot_band;

/* Renders p (720 x 460 pixels) and writes it as PNG atomically. Errors: no points, a point not plottable. */
cr_status cr_plot_band_png(const char *path, const cr_plot_band *p);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* CHAINRULE_DATA_H */
