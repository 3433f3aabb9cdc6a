/* Shared helpers of the subcommands: errors, options, loading and writing data. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli.h"
#include "cli_input.h"

static int out_of_memory; /* an error said "out of memory" (cli_exit_status) */

int cli_error(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "chainrule: %s\n", buf);
    if (strstr(buf, "out of memory")) out_of_memory = 1;
    return CLI_USAGE;
}

int cli_exit_status(int rc) { return rc == CLI_USAGE && out_of_memory ? CLI_FAIL : rc; }

int cli_io_error(void) { return cli_error("%s", cr_last_error()); }

/* ------------------------------------------------------------ numbers */

int cli_parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s: '%s' is not a number in [%g, %g]", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int cli_threads;   /* --threads, 0: the cores available */
static cr_ctx *cli_context; /* made by cli_ctx */

int cli_set_threads(const char *value) {
    long v;
    if (!value) return CLI_OK;
    if (!cli_parse_long("--threads", value, 1, 1024, &v)) return CLI_USAGE;
    cli_threads = (int)v;
    return CLI_OK;
}

static void cli_ctx_free(void) { cr_ctx_free(cli_context); }

cr_ctx *cli_ctx(void) {
    if (!cli_context && cr_ctx_create(&cli_context, cli_threads) == CR_OK) atexit(cli_ctx_free);
    return cli_context;
}

int cli_parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        cli_error("%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0') {
        cli_error("%s: '%s' is not a non-negative integer", opt, s);
        return 0;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE) {
        cli_error("%s: '%s' is not a non-negative integer", opt, s);
        return 0;
    }
    *out = (uint64_t)v;
    return 1;
}

int cli_parse_layers(const char *opt, const char *s, size_t *dims, int *n_layers) {
    int count = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end != ',' && *end != '\0') || errno == ERANGE || v < 1 || v > 1000000) {
            cli_error("%s: '%s' is not a list of layer widths like 784,128,10 (each 1..1000000)",
                      opt, s);
            return 0;
        }
        if (count > CR_MAX_LAYERS) {
            cli_error("%s: at most %d layers", opt, CR_MAX_LAYERS);
            return 0;
        }
        dims[count++] = (size_t)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && *p == '\0') {
            cli_error("%s: '%s' ends with a comma", opt, s);
            return 0;
        }
    }
    if (count < 2) {
        cli_error("%s: '%s' needs at least an input and an output width, like 4,3", opt, s);
        return 0;
    }
    if (dims[count - 1] < 2) {
        cli_error("%s: the output layer needs at least 2 classes for softmax", opt);
        return 0;
    }
    *n_layers = count - 1;
    return 1;
}

const char *cli_activation_names(const char *last_sep) {
    static char buf[4][256];
    static int next;
    char *b = buf[next++ % 4];
    cr_activation_list_names(b, sizeof buf[0], ", ", last_sep);
    return b;
}

const char *cli_activation_names_init(int init) {
    static char buf[2][256];
    static int next;
    char *b = buf[next++ % 2];
    size_t n = 0;
    b[0] = 0;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
        if (in->init == init && n + strlen(in->name) + 2 < sizeof buf[0])
            n += (size_t)sprintf(b + n, "%s%s", n ? "/" : "", in->name);
    }
    return b;
}

int cli_parse_activations(const char *opt, const char *s, int n_hidden, cr_activation *act) {
    char buf[256];
    if (strlen(s) >= sizeof buf) {
        cli_error("%s: value too long", opt);
        return 0;
    }
    strcpy(buf, s);
    int count = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (count >= CR_MAX_LAYERS || cr_activation_parse(tok, &act[count]) != CR_OK) {
            cli_error("%s: '%s' is not an activation (%s)", opt, tok, cli_activation_names(", "));
            return 0;
        }
        count++;
    }
    if (count == 1)
        for (int i = 1; i < n_hidden; i++) act[i] = act[0];
    else if (count != n_hidden) {
        cli_error("%s: %d activations given for %d hidden layers", opt, count, n_hidden);
        return 0;
    }
    return 1;
}

int cli_parse_of(const char *cmd, const char *s, int *of_probs) {
    if (!strcmp(s, "probs") || !strcmp(s, "probabilities")) *of_probs = 1;
    else if (!strcmp(s, "logits") || !strcmp(s, "outputs")) *of_probs = 0;
    else {
        cli_error("%s: --of: '%s' is not probs, logits or outputs", cmd, s);
        return 0;
    }
    return 1;
}

int cli_parse_dtype(const char *opt, const char *s, cr_dtype *out) {
    if (!strcmp(s, "float32") || !strcmp(s, "f32")) *out = CR_F32;
    else if (!strcmp(s, "float64") || !strcmp(s, "f64")) *out = CR_F64;
    else {
        cli_error("%s: '%s' is not a dtype (float32, float64)", opt, s);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ data */

int cli_load_model(const char *path, cr_model *model) {
    return cli_load_model_head(path, NULL, model);
}

int cli_load_model_head(const char *path, const char *head, cr_model *model) {
    cr_head h;
    if (head && cr_head_parse(head, &h) != CR_OK)
        return cli_error("--head: '%s' is not softmax-cross-entropy or squared-error", head);
    if (cr_model_load_full(path, model) != 0) return cli_io_error();
    cr_net *net = model->net;
    if (head) (void)cr_net_set_head(net, h); /* a parsed head: CR_OK */
    if (cr_net_head(net) == CR_HEAD_SOFTMAX_CE && cr_net_width(net, cr_net_n_layers(net)) < 2) {
        cr_model_free(model);
        return cli_error("%s: the network has one output, whose softmax is always 1 (a regressor? "
                         "give --head squared-error)", path);
    }
    return CLI_OK;
}

/* 1 when path ends in ext (".onnx"), any case. */
static int ends_in(const char *path, const char *ext) {
    size_t n = strlen(path), m = strlen(ext);
    if (n < m) return 0;
    const char *e = path + n - m;
    for (size_t i = 0; i < m; i++)
        if (tolower((unsigned char)e[i]) != ext[i]) return 0;
    return 1;
}

int cli_out_is_onnx(const char *path) { return ends_in(path, ".onnx"); }

int cli_out_is_json(const char *path) { return ends_in(path, ".json"); }

cr_status cli_model_write(const char *path, const cr_model *model) {
    return cli_out_is_onnx(path)   ? cr_onnx_write(path, model)
           : cli_out_is_json(path) ? cr_model_json_write(path, model)
                                   : cr_model_save_full(path, model);
}

void cli_output_text(const cr_net *net, char *buf, size_t size) {
    char o[48];
    if (cr_net_output_activation(net, NULL))
        snprintf(o, sizeof o, "%s(θ)", cr_activation_name(cr_net_activation(net, cr_net_n_layers(net) - 1)));
    else snprintf(o, sizeof o, "θ");
    if (cr_net_head(net) == CR_HEAD_SQUARED_ERROR)
        snprintf(buf, size, "output o = %s; loss ½‖o − t‖² (squared error), the prediction is o", o);
    else
        snprintf(buf, size, "output o = %s; loss: softmax + cross-entropy on o", o);
}

void cli_say_output(const char *cmd, const cr_net *net) {
    if (cr_net_is_plain_classifier(net)) return; /* today's classifier: nothing new to say */
    char t[160];
    cli_output_text(net, t, sizeof t);
    fprintf(stderr, "chainrule %s: %s\n", cmd, t);
}

int cli_require_plain(const char *cmd, const char *path, const cr_net *net) {
    if (cr_net_is_plain_classifier(net)) return CLI_OK;
    char t[160];
    cli_output_text(net, t, sizeof t);
    return cli_error("%s: %s does not support this model (%s): it takes classifiers whose "
                     "output is the logits θ with softmax + cross-entropy on top", path, cmd, t);
}

int cli_load_regression_targets(const char *path, size_t n, size_t first, size_t total, size_t k,
                                cr_dtype dtype, void **t) {
    cr_array a;
    *t = NULL;
    if (cr_npy_read(path, &a) != 0) return cli_io_error();
    size_t rows = a.ndim >= 1 ? a.shape[0] : 0, skip = rows == n ? 0 : first;
    int ok = (a.dtype == CR_ARRAY_F32 || a.dtype == CR_ARRAY_F64) && (rows == n || rows == total) &&
             ((a.ndim == 2 && a.shape[1] == k) || (a.ndim == 1 && k == 1));
    if (!ok) {
        cr_array_free(&a);
        return cli_error("%s: targets must be a float32/float64 array [%zu, %zu]%s, one row per "
                         "example (the model has %zu outputs)", path, n, k, k == 1 ? " or [N]" : "", k);
    }
    void *buf = malloc(n * k * cr_dtype_size(dtype));
    if (!buf) {
        cr_array_free(&a);
        return cli_error("%s: out of memory", path);
    }
    for (size_t i = 0; i < n * k; i++) {
        size_t j = skip * k + i;
        double v = a.dtype == CR_ARRAY_F64 ? ((const double *)a.data)[j] : ((const float *)a.data)[j];
        if (!isfinite(v)) {
            cr_array_free(&a);
            free(buf);
            return cli_error("%s: target %zu (row %zu) is not finite", path, i, i / k);
        }
        cli_set(dtype, buf, i, v);
    }
    cr_array_free(&a);
    *t = buf;
    return CLI_OK;
}

int cli_write_real_npy(const char *path, cr_dtype dtype, int ndim, const size_t *shape,
                       const void *data) {
    cr_array a = {0};
    a.dtype = dtype == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
    a.ndim = ndim;
    a.count = 1;
    for (int i = 0; i < ndim; i++) {
        a.shape[i] = shape[i];
        a.count *= shape[i];
    }
    a.data = (void *)data; /* borrowed: not freed here */
    if (cr_npy_write(path, &a) != 0) return cli_io_error();
    return CLI_OK;
}

/* The main header's forward and backward under the BLAS hold of the command's context
   (--threads: the BLAS's threads for these gemms, which take no context). */
cr_status cli_net_forward(const cr_net *net, cr_tape *tape, size_t n, const void *x) {
    const int hold = cr_ctx_blas_begin(cli_ctx());
    const cr_status st = cr_net_forward(net, tape, n, x);
    cr_ctx_blas_end(hold);
    return st;
}

cr_status cli_net_backward(const cr_net *net, cr_tape *tape, const void *y, void *dx,
                           void *grads) {
    const int hold = cr_ctx_blas_begin(cli_ctx());
    const cr_status st = cr_net_backward(net, tape, y, dx, grads);
    cr_ctx_blas_end(hold);
    return st;
}

void cli_random_data(cr_dtype dtype, size_t n, size_t d, size_t k, uint64_t seed, void *x,
                     void *y) {
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n * d; i++) cli_set(dtype, x, i, 2.0 * cr_rng_uniform(&rng) - 1.0);
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)cr_rng_below(&rng, k);
        for (size_t j = 0; j < k; j++) cli_set(dtype, y, i * k + j, j == c ? 1.0 : 0.0);
    }
}

