/* Helpers for train / eval / predict, see cli_train.h. */
#include "chainrule_typed.h"
#include "cli_train.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cli_data_table(cli_data_opts *o, cli_opt t[CLI_DATA_TABLE_SIZE]) {
    const cli_opt tab[CLI_DATA_TABLE_SIZE] = {
        CLI_CSV_LABEL_COLUMN(&o->label_column),
        CLI_CSV_HEADER(&o->header),
        CLI_STR("--limit", &o->limit, "N", "use only the first N examples (default all)"),
        CLI_STR("--classes", &o->classes, "K", "number of classes (default: largest label + 1)"),
        CLI_END,
    };
    memcpy(t, tab, sizeof tab);
}

int cli_data_options_parse(const cli_data_opts *o, cr_dataset_options *opt) {
    long v;
    if (o->label_column) {
        if (!cli_parse_long("--label-column", o->label_column, -100000, 100000, &v))
            return CLI_USAGE;
        opt->label_column = (int)v;
    }
    if (o->header) {
        if (!strcmp(o->header, "yes")) opt->has_header = 1;
        else if (!strcmp(o->header, "no")) opt->has_header = 0;
        else if (!strcmp(o->header, "auto")) opt->has_header = -1;
        else return cli_error("--header: '%s' is not yes, no or auto", o->header);
    }
    if (o->limit) {
        if (!cli_parse_long("--limit", o->limit, 1, 2000000000L, &v)) return CLI_USAGE;
        opt->limit = (size_t)v;
    }
    if (o->classes) {
        if (!cli_parse_long("--classes", o->classes, 2, 1000000, &v)) return CLI_USAGE;
        opt->k = (size_t)v;
    }
    return CLI_OK;
}

int cli_load_dataset(const char *spec, const cli_data_opts *o, cr_dataset *out) {
    cr_dataset_options opt = cr_dataset_options_default();
    if (cli_data_options_parse(o, &opt)) return CLI_USAGE;
    if (cr_dataset_load(spec, out, &opt) != 0) return cli_io_error();
    return CLI_OK;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_default_test_spec(const char *spec, char *buf, size_t size) {
    size_t len = strlen(spec);
    if (len >= 6 && !strcmp(spec + len - 6, ":train")) {
        if (len - 6 + 6 >= size) return NULL;
        memcpy(buf, spec, len - 6);
        strcpy(buf + len - 6, ":test");
        return buf;
    }
    if (len >= 5 && !strcmp(spec + len - 5, ":test")) return NULL;
    if (!strcmp(spec, "fashion-mnist") || !strcmp(spec, "mnist") || is_dir(spec)) {
        if (len + 6 >= size) return NULL;
        snprintf(buf, size, "%s:test", spec);
        return buf;
    }
    return NULL;
}

int cli_set_input_link(cr_model *model) {
    const cr_array *m = &model->input_mean, *s = &model->input_std;
    if (!m->data || !s->data || cr_net_affine_form(model->net, 0) != CR_AFFINE_NONE) return CLI_OK;
    const size_t d = cr_net_width(model->net, 0);
    if (m->count != d || s->count != d)
        return cli_error("the model's standardisation has %zu features but the network takes %zu",
                         m->count, d);
    double *mean = malloc(d * sizeof *mean), *sd = malloc(d * sizeof *sd);
    if (!mean || !sd) {
        free(mean);
        free(sd);
        return cli_error("out of memory");
    }
    cr_dtype t = m->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32;
    cr_dtype u = s->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32;
    for (size_t j = 0; j < d; j++) {
        mean[j] = cli_get(t, m->data, j);
        sd[j] = cli_get(u, s->data, j);
    }
    cr_status st = cr_net_set_input_affine(model->net, CR_AFFINE_SUB_DIV, mean, sd);
    free(mean);
    free(sd);
    return st == CR_OK ? CLI_OK : cli_error("the model's standardisation: %s", cr_status_string(st));
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cli_isatty(FILE *f) { return isatty(fileno(f)); }

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
