/* Helpers of jacobian / jvp / attribute / attack, see cli_input.h. */
#include "chainrule_typed.h"
#include "cli_input.h"
#include "cli_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fashion_names[10] = {"tshirt", "trouser", "pullover", "dress", "coat",
                                              "sandal", "shirt",   "sneaker",  "bag",   "boot"};

const char *cli_class_name(const cli_input *in, size_t c, char *buf) {
    if (in->fashion && in->k == 10 && c < 10) return fashion_names[c];
    snprintf(buf, 24, "%zu", c);
    return buf;
}

int cli_input_model(const char *path, const char *dtype_opt, cli_input *in) {
    return cli_input_model_head(path, dtype_opt, NULL, in);
}

int cli_input_model_head(const char *path, const char *dtype_opt, const char *head, cli_input *in) {
    memset(in, 0, sizeof *in);
    int rc = cli_load_model_head(path, head, &in->model);
    if (rc) return rc;
    cr_dtype t = cr_net_dtype(in->model.net);
    if (dtype_opt && !cli_parse_dtype("--dtype", dtype_opt, &t)) return CLI_USAGE;
    if (cr_net_convert(in->model.net, t, &in->net) != CR_OK)
        return cli_error("%s: out of memory", path);
    in->d = cr_net_width(in->net, 0);
    in->k = cr_net_width(in->net, cr_net_n_layers(in->net));
    /* a standardisation is the net's link 0: every derivative is w.r.t. the raw input */
    return CLI_OK;
}

/* ------------------------------------------------------------ choosing examples */

void cli_examples_table(cli_examples_opts *o, cli_opt t[CLI_EXAMPLES_TABLE_SIZE]) {
    const cli_opt tab[CLI_EXAMPLES_TABLE_SIZE] = {
        CLI_STR("--inputs", &o->inputs, "X.npy",
                "inputs [N, ...] with D values per example ([N, D], [N, 1, 28, 28]) or one [D]; uint8\n"
                "pixels are scaled to [0, 1]; results per input take this shape"),
        CLI_STR("--labels", &o->labels, "y.npy",
                "labels of --inputs: class indices [N] or one-hot rows [N, K]"),
        CLI_STR("--data", &o->data, "SPEC",
                "or a labelled dataset: fashion-mnist[:train|:test], an IDX folder\n"
                "[DIR:train|DIR:test], FILE.csv, or X.npy,y.npy"),
        CLI_STR("--index", &o->index, "A:B",
                "examples A..B-1 (0-based; also A, A: or :B; default all);\n"
                "an index beyond the data is an error"),
        CLI_STR("--limit", &o->limit, "N", "the same as --index :N"),
        CLI_CSV_LABEL_COLUMN(&o->label_column),
        CLI_CSV_HEADER(&o->header),
        CLI_STR("--classes", &o->classes, "K", "number of classes of --data (default the model's)"),
        CLI_END,
    };
    memcpy(t, tab, sizeof tab);
}

void cli_model_examples_table(cli_model_examples *me) {
    memset(me, 0, sizeof *me);
    me->table[0] = (cli_opt)CLI_MODEL(&me->model, 1, "the model");
    me->table[1] = (cli_opt)CLI_HEAD_OPT(&me->head);
    cli_examples_table(&me->examples, me->table + 2);
}

/* Parses a non-negative index; 0 if s is not one. */
static int parse_size(const char *s, const char *end, size_t *out) {
    if (s == end || *s < '0' || *s > '9') return 0;
    char *stop;
    unsigned long long v = strtoull(s, &stop, 10);
    if (stop != end || v > (unsigned long long)SIZE_MAX / 2) return 0;
    *out = (size_t)v;
    return 1;
}

/* --index / --limit as a range [*a, *b) with *b = SIZE_MAX for "to the end". */
static int parse_selection(const cli_examples_opts *o, size_t *a, size_t *b) {
    *a = 0;
    *b = SIZE_MAX;
    if (o->index && o->limit) return cli_error("give --index or --limit, not both"), 0;
    if (o->limit) {
        if (!parse_size(o->limit, o->limit + strlen(o->limit), b) || *b == 0)
            return cli_error("--limit: '%s' is not a positive integer", o->limit), 0;
        return 1;
    }
    const char *s = o->index;
    if (!s) return 1;
    const char *colon = strchr(s, ':'), *end = s + strlen(s);
    int good;
    if (!colon) {
        good = parse_size(s, end, a);
        *b = *a + 1;
    } else {
        good = (colon == s || parse_size(s, colon, a)) && (!colon[1] || parse_size(colon + 1, end, b));
    }
    if (!good) return cli_error("--index: '%s' is not A:B, A, A: or :B (0-based, B exclusive)", s), 0;
    if (*a >= *b) return cli_error("--index: '%s' selects no example (A must be below B)", s), 0;
    return 1;
}

/* The chosen range must lie within the total examples of the source. */
static int check_selection(const cli_examples_opts *o, const char *source, size_t total, size_t a,
                           size_t *b) {
    const char *opt = o->limit ? "--limit" : "--index";
    const char *val = o->limit ? o->limit : o->index;
    if (a >= total || (*b != SIZE_MAX && *b > total))
        return cli_error("%s %s is out of range: %s has %zu examples (0..%zu)", opt, val, source,
                         total, total - 1),
               0;
    if (*b == SIZE_MAX) *b = total;
    return 1;
}

static void set_range(cli_examples *ex) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < ex->n * ex->d; i++) {
        double v = cli_get(ex->dtype, ex->x, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* image-like data in [0, 1] keeps [0, 1] as its valid range */
    int unit = ex->height || (lo >= 0 && hi <= 1);
    ex->lo = unit ? 0 : lo;
    ex->hi = unit ? 1 : hi;
    if (!(ex->lo < ex->hi)) ex->hi = ex->lo + 1;
}

/* labels = argmax of each row of the targets. */
static int set_labels(cli_examples *ex) {
    ex->labels = malloc((ex->n ? ex->n : 1) * sizeof(int64_t));
    if (!ex->labels) return 0;
    for (size_t i = 0; i < ex->n; i++) {
        size_t best = 0;
        for (size_t c = 1; c < ex->k; c++)
            if (cli_get(ex->dtype, ex->y, i * ex->k + c) > cli_get(ex->dtype, ex->y, i * ex->k + best))
                best = c;
        ex->labels[i] = (int64_t)best;
    }
    return 1;
}

static int load_dataset(const cli_examples_opts *o, size_t a, size_t b, cli_examples *ex) {
    cr_dataset_options opt = cr_dataset_options_default();
    cli_data_opts dopt = {o->label_column, o->header, NULL, o->classes};
    if (cli_data_options_parse(&dopt, &opt)) return CLI_USAGE;
    if (opt.k && opt.k != ex->k) return cli_error("--classes %s: the model has %zu classes", o->classes, ex->k);
    opt.k = ex->k;
    if (b != SIZE_MAX) opt.limit = b; /* read no further than needed */
    cr_dataset ds;
    if (cr_dataset_load(o->data, &ds, &opt) != 0) return cli_io_error();
    int rc = CLI_USAGE;
    const size_t d = ex->d, k = ex->k;
    if (ds.d != d) {
        cli_error("%s: examples have %zu features but the model takes %zu", o->data, ds.d, d);
        goto done;
    }
    if (!check_selection(o, o->data, ds.n, a, &b)) goto done;
    ex->n = b - a;
    ex->total = ds.n;
    ex->x = malloc(ex->n * d * cr_dtype_size(ex->dtype));
    ex->y = calloc(ex->n * k, cr_dtype_size(ex->dtype));
    ex->labels = malloc(ex->n * sizeof(int64_t));
    if (!ex->x || !ex->y || !ex->labels) {
        cli_error("%s: out of memory", o->data);
        goto done;
    }
    for (size_t i = 0; i < ex->n; i++) {
        for (size_t j = 0; j < d; j++) cli_set(ex->dtype, ex->x, i * d + j, ds.x[(a + i) * d + j]);
        ex->labels[i] = ds.labels[a + i]; /* < k: the loader checked it against opt.k */
        cli_set(ex->dtype, ex->y, i * k + (size_t)ex->labels[i], 1.0);
    }
    ex->height = ds.height;
    ex->width = ds.width;
    if (ds.height && ds.width && ds.height * ds.width == ex->d) {
        ex->shape.ndim = 2;
        ex->shape.dims[0] = ds.height;
        ex->shape.dims[1] = ds.width;
    }
    ex->fashion = !strncmp(o->data, "fashion-mnist", 13);
    ex->source = o->data;
    rc = CLI_OK;
done:
    cr_dataset_free(&ds);
    return rc;
}

static int load_npy(const cli_examples_opts *o, size_t a, size_t b, cli_examples *ex) {
    cr_array arr;
    const size_t d = ex->d, es = cr_dtype_size(ex->dtype);
    if (cr_npy_read(o->inputs, &arr) != 0) return cli_io_error();
    size_t rows;
    if (arr.ndim == 1 && arr.shape[0] == d)
        rows = 1;
    else if (arr.ndim >= 2 && arr.shape[0] > 0 && arr.count / arr.shape[0] == d)
        rows = arr.shape[0];
    else {
        char shp[160];
        size_t len = 0;
        shp[0] = '\0';
        for (int i = 0; i < arr.ndim && len < sizeof shp - 24; i++)
            len += (size_t)snprintf(shp + len, sizeof shp - len, i ? ", %zu" : "%zu", arr.shape[i]);
        cli_error("%s: inputs have shape [%s] but the model takes %zu features per example "
                  "(expected [N, %zu], or [N, H, W] with H W = %zu)",
                  o->inputs, shp, d, d, d);
        cr_array_free(&arr);
        return CLI_USAGE;
    }
    ex->shape.single = arr.ndim == 1;
    ex->shape.ndim = arr.ndim == 1 ? 1 : arr.ndim - 1;
    for (int i = 0; i < ex->shape.ndim; i++) ex->shape.dims[i] = arr.ndim == 1 ? d : arr.shape[i + 1];
    if (arr.ndim == 3) {
        ex->height = arr.shape[1];
        ex->width = arr.shape[2];
    } else if (arr.ndim == 4 && (arr.shape[1] == 1 || arr.shape[1] == 3)) { /* [N, C, H, W] */
        ex->height = arr.shape[2];
        ex->width = arr.shape[3];
        ex->channels = arr.shape[1];
    } else if (d == 784) {
        ex->height = ex->width = 28;
    }
    int pixels = arr.dtype == CR_ARRAY_U8;
    void *buf;
    int rc = cr_array_to_real(o->inputs, &arr, ex->dtype, &buf);
    cr_array_free(&arr);
    if (rc != 0) return cli_io_error();
    if (!check_selection(o, o->inputs, rows, a, &b)) {
        free(buf);
        return CLI_USAGE;
    }
    ex->n = b - a;
    ex->total = rows;
    memmove(buf, (char *)buf + a * d * es, ex->n * d * es);
    ex->x = buf;
    if (pixels)
        for (size_t i = 0; i < ex->n * d; i++) cli_set(ex->dtype, buf, i, cli_get(ex->dtype, buf, i) / 255.0);
    ex->source = o->inputs;
    if (o->labels) {
        cr_array la;
        void *y;
        if (cr_npy_read(o->labels, &la) != 0) return cli_io_error();
        rc = cr_labels_to_targets(o->labels, &la, rows, ex->k, ex->dtype, &y);
        cr_array_free(&la);
        if (rc != 0) return cli_io_error();
        memmove(y, (char *)y + a * ex->k * es, ex->n * ex->k * es);
        ex->y = y;
        if (!set_labels(ex)) return cli_error("%s: out of memory", o->labels);
    }
    return CLI_OK;
}

int cli_shape_result(const cli_shape *s, size_t n, size_t d, size_t k, size_t *out) {
    int nd = 0;
    const int whole = s->ndim > 0 && 1 + (k > 0) + s->ndim <= CR_ARRAY_MAX_DIMS;
    if (!(s->single && n == 1)) out[nd++] = n;
    if (k) out[nd++] = k;
    if (whole)
        for (int i = 0; i < s->ndim; i++) out[nd++] = s->dims[i];
    else
        out[nd++] = d;
    return nd;
}

int cli_examples_load(const cli_examples_opts *o, size_t d, size_t k, cr_dtype dtype,
                      cli_examples *ex) {
    memset(ex, 0, sizeof *ex);
    ex->d = d;
    ex->k = k;
    ex->dtype = dtype;
    if (!!o->inputs == !!o->data) return cli_error("give one of --inputs X.npy and --data SPEC");
    if (o->labels && !o->inputs) return cli_error("--labels goes with --inputs (--data has its labels)");
    if (o->inputs && (o->label_column || o->header || o->classes))
        return cli_error("--label-column, --header and --classes apply to --data, not --inputs");
    size_t a, b;
    if (!parse_selection(o, &a, &b)) return CLI_USAGE;
    int rc = o->data ? load_dataset(o, a, b, ex) : load_npy(o, a, b, ex);
    if (rc) {
        cli_examples_free(ex);
        return rc;
    }
    ex->first = a;
    set_range(ex);
    return CLI_OK;
}

void cli_examples_free(cli_examples *ex) {
    free(ex->x);
    free(ex->y);
    free(ex->labels);
    memset(ex, 0, sizeof *ex);
}

/* ------------------------------------------------------------ input-derivative commands */

int cli_input_data(cli_input *in, const cli_examples_opts *o) {
    cli_examples ex;
    int rc = cli_examples_load(o, in->d, in->k, cr_net_dtype(in->net), &ex);
    if (rc) return rc;
    in->n = ex.n;
    in->x = ex.x;
    in->labels = ex.labels;
    in->height = ex.height;
    in->width = ex.width;
    in->channels = ex.channels;
    in->lo = ex.lo;
    in->hi = ex.hi;
    in->first = ex.first;
    in->fashion = ex.fashion;
    in->source = ex.source;
    in->shape = ex.shape;
    free(ex.y);
    return CLI_OK;
}

int cli_input_load(const cli_model_examples *me, const char *dtype_opt, const char *png,
                   cli_input *in) {
    int rc = cli_input_model_head(me->model, dtype_opt, me->head, in);
    if (!rc) rc = cli_input_data(in, &me->examples);
    if (!rc && png && (!in->height || !in->width))
        rc = cli_error("%s: a picture needs image inputs ([N, H, W], [N, C, H, W] with C = 1 or 3, a dataset of "
                       "images, or 784 "
                       "features), but %s has %zu features per example",
                       png, in->source, in->d);
    if (rc) cli_input_free(in);
    return rc;
}

void cli_input_free(cli_input *in) {
    cr_model_free(&in->model);
    cr_net_free(in->net);
    free(in->x);
    free(in->labels);
    memset(in, 0, sizeof *in);
}

int cli_predict(const cli_input *in, const void *x, size_t n, int64_t *pred) {
    cr_tape *tape;
    size_t rows = n < 1024 ? n : 1024;
    if (cr_tape_create(in->net, rows, &tape) != CR_OK) return cli_error("out of memory");
    const int L = cr_net_n_layers(in->net);
    const size_t es = cr_dtype_size(cr_net_dtype(in->net)), d = in->d, k = in->k;
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t m = n - i0 < rows ? n - i0 : rows;
        cli_net_forward(in->net, tape, m, (const char *)x + i0 * d * es);
        for (size_t i = 0; i < m; i++) {
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (cli_get(cr_net_dtype(in->net), cr_tape_pre(tape, L - 1), i * k + c) >
                    cli_get(cr_net_dtype(in->net), cr_tape_pre(tape, L - 1), i * k + best))
                    best = c;
            pred[i0 + i] = (int64_t)best;
        }
    }
    cr_tape_free(tape);
    return CLI_OK;
}

void cli_sum_channels(float *v, size_t channels, size_t hw) {
    for (size_t c = 1; c < channels; c++)
        for (size_t j = 0; j < hw; j++) v[j] += v[c * hw + j];
}

int cli_tiles_alloc(cli_tiles *t, size_t n_tiles, size_t d, const char *png) {
    t->n_tiles = n_tiles, t->d = d;
    t->px = calloc(n_tiles * d, sizeof *t->px);
    t->tiles = calloc(n_tiles, sizeof *t->tiles);
    t->labels = calloc(n_tiles, sizeof *t->labels);
    if (t->px && t->tiles && t->labels) return CLI_OK;
    cli_tiles_free(t);
    return cli_error("%s: out of memory", png);
}

void cli_tiles_free(cli_tiles *t) {
    free(t->px), free(t->tiles), free(t->labels);
    t->px = NULL, t->tiles = NULL, t->labels = NULL;
}

float *cli_tile_values(cli_tiles *t, size_t k, cr_dtype dt, const void *x, size_t i) {
    float *v = t->px + k * t->d;
    for (size_t j = 0; j < t->d; j++) v[j] = (float)cli_get(dt, x, i * t->d + j);
    return v;
}

void cli_tile_set(cli_tiles *t, size_t k, const cli_input *in, const float *v, cr_colormap cmap, float lo, float hi,
                  size_t channels) {
    t->tiles[k] = (cr_image_tile){v, in->height, in->width, cmap, lo, hi, t->labels[k], channels};
}

int cli_tiles_write(const cli_tiles *t, const char *png, size_t cols, size_t scale, const char *title,
                    size_t examples, int quiet) {
    int rc = cli_write_grid_png(png, t->tiles, t->n_tiles, cols, scale, title);
    if (rc == CLI_OK && !quiet) printf("  picture of %zu examples -> %s\n", examples, png);
    return rc;
}

int cli_write_grid_png(const char *path, const cr_image_tile *tiles, size_t n_tiles,
                       size_t cols, size_t scale, const char *title) {
    cr_grid_options go = CR_GRID_OPTIONS_INIT;
    go.cols = cols;
    go.scale = scale;
    cr_image grid;
    if (cr_image_grid(tiles, n_tiles, &go, &grid) != 0) return cli_io_error();
    /* title lines above the grid, drawn with the same font */
    size_t lines = 0, widest = 0, len = 0;
    for (const char *p = title;; p++) {
        if (*p == '\n' || *p == '\0') {
            lines++;
            widest = len > widest ? len : widest;
            len = 0;
            if (!*p) break;
        } else
            len++;
    }
    const size_t line_h = CR_FONT_HEIGHT + 4, pad = go.pad;
    size_t tw = widest ? 6 * widest - 1 : 0;
    cr_image img;
    img.width = grid.width > tw + 2 * pad ? grid.width : tw + 2 * pad;
    img.height = grid.height + lines * line_h + pad;
    img.rgb = malloc(img.width * img.height * 3);
    if (!img.rgb) {
        cr_image_free(&grid);
        return cli_error("%s: out of memory", path);
    }
    memset(img.rgb, 255, img.width * img.height * 3);
    for (size_t y = 0; y < grid.height; y++)
        memcpy(img.rgb + ((y + lines * line_h + pad) * img.width) * 3, grid.rgb + y * grid.width * 3,
               grid.width * 3);
    const uint8_t ink[3] = {0, 0, 0};
    char line[512];
    size_t row = 0;
    for (const char *p = title; *p || row == 0;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= sizeof line) l = sizeof line - 1;
        memcpy(line, p, l);
        line[l] = '\0';
        cr_image_draw_text(&img, pad, pad + row * line_h, line, 1, ink);
        row++;
        if (!e) break;
        p = e + 1;
    }
    int rc = cr_image_write_png(path, &img);
    cr_image_free(&grid);
    free(img.rgb);
    return rc ? cli_io_error() : CLI_OK;
}
