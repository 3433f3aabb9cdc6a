/* Helpers of jacobian / jvp / attribute / attack, see cli_input.h. */
#include "cli_input.h"

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

/* r = ((x − μ)/σ) W1 + b1 = x (diag(1/σ) W1) + (b1 − (μ/σ) W1): the same function of
   the raw input, so that every derivative below is with respect to raw pixels. */
static int fold_standardization(cli_input *in) {
    const cr_model *m = &in->model;
    if (!m->input_mean.data || !m->input_std.data) return CLI_OK;
    cr_net *net = in->net;
    size_t d = net->dims[0], h = net->dims[1];
    if (m->input_mean.count != d || m->input_std.count != d)
        return cli_error("model: input.mean/input.std have %zu values but the model takes %zu",
                         m->input_mean.count, d);
    cr_dtype st = m->input_std.dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32;
    cr_dtype t = net->dtype;
    for (size_t q = 0; q < h; q++) {
        double b = cli_get(t, net->params, net->b_offset[0] + q);
        for (size_t j = 0; j < d; j++) {
            size_t wi = net->w_offset[0] + j * h + q;
            double w = cli_get(t, net->params, wi) / cli_get(st, m->input_std.data, j);
            b -= cli_get(st, m->input_mean.data, j) * w;
            cli_set(t, net->params, wi, w);
        }
        cli_set(t, net->params, net->b_offset[0] + q, b);
    }
    return CLI_OK;
}

int cli_input_model(const char *path, const char *dtype_opt, cli_input *in) {
    memset(in, 0, sizeof *in);
    int rc = cli_load_model(path, &in->model);
    if (rc) return rc;
    cr_dtype t = in->model.net->dtype;
    if (dtype_opt && !cli_parse_dtype("--dtype", dtype_opt, &t)) return CLI_USAGE;
    if (cr_net_convert(in->model.net, t, &in->net) != CR_OK)
        return cli_error("%s: out of memory", path);
    in->d = in->net->dims[0];
    in->k = in->net->dims[in->net->n_layers];
    return fold_standardization(in);
}

static int parse_index(const char *s, size_t total, size_t *a, size_t *b) {
    *a = 0;
    *b = total;
    if (!s) return 1;
    const char *colon = strchr(s, ':');
    char *end;
    if (!colon) {
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || *end || *s == '-') goto bad;
        *a = (size_t)v;
        *b = *a + 1;
    } else {
        if (colon != s) {
            unsigned long long v = strtoull(s, &end, 10);
            if (end != colon || *s == '-') goto bad;
            *a = (size_t)v;
        }
        if (colon[1]) {
            unsigned long long v = strtoull(colon + 1, &end, 10);
            if (*end || colon[1] == '-') goto bad;
            *b = (size_t)v;
        }
    }
    if (*b > total) *b = total;
    if (*a >= *b) {
        cli_error("--index: '%s' selects no example of %zu", s, total);
        return 0;
    }
    return 1;
bad:
    cli_error("--index: '%s' is not A:B, A or :B (0-based, B exclusive)", s);
    return 0;
}

int cli_input_data(cli_input *in, const char *inputs, const char *data, const char *index,
                   const char *labels) {
    cr_error err;
    const size_t d = in->d;
    const cr_dtype t = in->net->dtype;
    size_t a, b;
    if (!!inputs == !!data) return cli_error("give exactly one of --inputs FILE.npy and --data SPEC");
    if (data) {
        cr_dataset ds;
        cr_dataset_options opt = cr_dataset_options_default();
        if (cr_dataset_load(data, &ds, &opt, &err) != 0) return cli_io_error(&err);
        if (ds.d != d) {
            cli_error("%s: examples have %zu features but the model takes %zu", data, ds.d, d);
            cr_dataset_free(&ds);
            return CLI_USAGE;
        }
        if (!parse_index(index, ds.n, &a, &b)) {
            cr_dataset_free(&ds);
            return CLI_USAGE;
        }
        in->n = b - a;
        in->x = malloc(in->n * d * cr_dtype_size(t));
        in->labels = malloc(in->n * sizeof(int64_t));
        if (!in->x || !in->labels) {
            cr_dataset_free(&ds);
            return cli_error("%s: out of memory", data);
        }
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < in->n; i++) {
            for (size_t j = 0; j < d; j++) {
                double v = ds.x[(a + i) * d + j];
                cli_set(t, in->x, i * d + j, v);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            in->labels[i] = ds.labels[a + i];
            if ((size_t)in->labels[i] >= in->k) {
                cli_error("%s: label %d of example %zu is not a class of the model (K = %zu)",
                          data, (int)in->labels[i], a + i, in->k);
                cr_dataset_free(&ds);
                return CLI_USAGE;
            }
        }
        in->height = ds.height;
        in->width = ds.width;
        in->lo = ds.height ? 0 : lo;
        in->hi = ds.height ? 1 : hi;
        in->fashion = !strncmp(data, "fashion-mnist", 13);
        in->source = data;
        cr_dataset_free(&ds);
    } else {
        cr_array arr;
        if (cr_npy_read(inputs, &arr, &err) != 0) return cli_io_error(&err);
        size_t rows;
        if (arr.ndim == 1 && arr.shape[0] == d)
            rows = 1;
        else if (arr.ndim >= 2 && arr.shape[0] > 0 && arr.count / arr.shape[0] == d)
            rows = arr.shape[0];
        else {
            cr_array_free(&arr);
            return cli_error("%s: inputs do not have %zu features per example (expected [N, %zu] "
                             "or [N, H, W] with H W = %zu)",
                             inputs, d, d, d);
        }
        if (arr.ndim == 3) {
            in->height = arr.shape[1];
            in->width = arr.shape[2];
        } else if (d == 784) {
            in->height = in->width = 28;
        }
        void *buf;
        int pixels = arr.dtype == CR_ARRAY_U8;
        if (cr_array_to_real(inputs, &arr, t, &buf, &err) != 0) {
            cr_array_free(&arr);
            return cli_io_error(&err);
        }
        cr_array_free(&arr);
        if (!parse_index(index, rows, &a, &b)) {
            free(buf);
            return CLI_USAGE;
        }
        in->n = b - a;
        size_t es = cr_dtype_size(t);
        memmove(buf, (char *)buf + a * d * es, in->n * d * es);
        in->x = buf;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < in->n * d; i++) {
            double v = cli_get(t, buf, i);
            if (pixels) cli_set(t, buf, i, v /= 255.0);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* image-like data in [0, 1] keeps [0, 1] as its valid range */
        in->lo = lo >= 0 && hi <= 1 ? 0 : lo;
        in->hi = lo >= 0 && hi <= 1 ? 1 : hi;
        if (!(in->lo < in->hi)) in->hi = in->lo + 1;
        in->source = inputs;
        if (labels) {
            void *y;
            int rc = cli_load_targets(labels, rows, in->k, CR_F64, &y);
            if (rc) return rc;
            in->labels = malloc(in->n * sizeof(int64_t));
            if (!in->labels) {
                free(y);
                return cli_error("%s: out of memory", labels);
            }
            for (size_t i = 0; i < in->n; i++) {
                const double *yi = (const double *)y + (a + i) * in->k;
                size_t best = 0;
                for (size_t c = 1; c < in->k; c++) best = yi[c] > yi[best] ? c : best;
                in->labels[i] = (int64_t)best;
            }
            free(y);
        }
    }
    in->first = a;
    return CLI_OK;
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
    const int L = in->net->n_layers;
    const size_t es = cr_dtype_size(in->net->dtype), d = in->d, k = in->k;
    for (size_t i0 = 0; i0 < n; i0 += rows) {
        size_t m = n - i0 < rows ? n - i0 : rows;
        cli_net_forward(in->net, tape, m, (const char *)x + i0 * d * es);
        for (size_t i = 0; i < m; i++) {
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (cli_get(in->net->dtype, tape->pre[L - 1], i * k + c) >
                    cli_get(in->net->dtype, tape->pre[L - 1], i * k + best))
                    best = c;
            pred[i0 + i] = (int64_t)best;
        }
    }
    cr_tape_free(tape);
    return CLI_OK;
}

int cli_write_grid_png(const char *path, const cr_image_tile *tiles, size_t n_tiles,
                       size_t cols, size_t scale, const char *title) {
    cr_error err;
    cr_grid_options go = CR_GRID_OPTIONS_INIT;
    go.cols = cols;
    go.scale = scale;
    cr_image grid;
    if (cr_image_grid(tiles, n_tiles, &go, &grid, &err) != 0) return cli_io_error(&err);
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
    int rc = cr_image_write_png(path, &img, &err);
    cr_image_free(&grid);
    free(img.rgb);
    return rc ? cli_io_error(&err) : CLI_OK;
}
