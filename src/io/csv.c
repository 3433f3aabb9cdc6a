/*
 * csv.c — strict CSV reader for labelled numeric datasets.
 *
 * One example per line, fields separated by ',', optionally enclosed in
 * double quotes, spaces/tabs around fields ignored, "\n" or "\r\n" line ends,
 * blank lines skipped. Every row has the same number of fields as the first;
 * features must be finite numbers representable as float32; the label must be
 * a non-negative integer. Errors name the line (1-based, physical lines) and
 * the column (1-based).
 */
#include "chainrule_typed.h"
#include "chainrule_data.h"
#include "io_internal.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CSV_MAX_BYTES ((size_t)1 << 31)
#define CSV_NUM_MAX 256 /* longest field parsed as a number */

typedef struct {
    const char *s; /* field text, trimmed, without quotes */
    size_t len;
} csv_field;

typedef struct {
    const char *name;
    const char *buf;
    size_t len, pos;
    size_t line_no;             /* line number of the current line */
    csv_field *fields;
    size_t n_fields, cap_fields;
} csv_state;

static int is_blank_char(char c) { return c == ' ' || c == '\t'; }

/* Next non-blank line into [*ls, *le) (without the line end); 0 at end of input. */
static int csv_next_line(csv_state *st, const char **ls, const char **le) {
    while (st->pos < st->len) {
        const char *s = st->buf + st->pos;
        const char *nl = memchr(s, '\n', st->len - st->pos);
        const char *e = nl ? nl : st->buf + st->len;
        st->pos = nl ? (size_t)(nl - st->buf) + 1 : st->len;
        st->line_no++;
        if (e > s && e[-1] == '\r') e--;
        const char *p = s;
        while (p < e && (is_blank_char(*p) || *p == '\r')) p++;
        if (p == e) continue; /* blank line */
        *ls = s;
        *le = e;
        return 1;
    }
    return 0;
}

static int csv_push_field(csv_state *st, const char *s, size_t len) {
    if (st->n_fields == st->cap_fields) {
        size_t ncap = st->cap_fields ? st->cap_fields * 2 : 64;
        csv_field *nf = realloc(st->fields, ncap * sizeof *nf);
        if (!nf) return cr_fail(CR_ERR_NOMEM, "%s:%zu: out of memory", st->name, st->line_no);
        st->fields = nf;
        st->cap_fields = ncap;
    }
    st->fields[st->n_fields].s = s;
    st->fields[st->n_fields].len = len;
    st->n_fields++;
    return 0;
}

/* Splits [s, e) into st->fields. */
static int csv_split(csv_state *st, const char *s, const char *e) {
    st->n_fields = 0;
    const char *p = s;
    for (;;) {
        size_t col = st->n_fields + 1;
        while (p < e && is_blank_char(*p)) p++;
        const char *fs, *fe;
        if (p < e && *p == '"') {
            fs = ++p;
            for (;;) {
                if (p >= e)
                    return cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: unterminated quote", st->name,
                                        st->line_no, col);
                if (*p == '"') {
                    if (p + 1 < e && p[1] == '"') {
                        p += 2;
                        continue;
                    }
                    break;
                }
                p++;
            }
            fe = p++;
            while (p < e && is_blank_char(*p)) p++;
            if (p < e && *p != ',')
                return cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: unexpected text after a closing quote",
                                    st->name, st->line_no, col);
        } else {
            fs = p;
            while (p < e && *p != ',') p++;
            fe = p;
            while (fe > fs && is_blank_char(fe[-1])) fe--;
        }
        if (csv_push_field(st, fs, (size_t)(fe - fs))) return -1;
        if (p >= e) break;
        p++; /* the comma */
    }
    return 0;
}

/* Quotes a field for a message: at most 40 characters. */
static void field_repr(const csv_field *f, char *out, size_t cap) {
    size_t n = f->len < 40 ? f->len : 40;
    snprintf(out, cap, "%.*s%s", (int)n, f->s, f->len > 40 ? "..." : "");
}

/* Parses a feature; 0 on success, otherwise -1 (not a number at all) or -2
   (a number, but NaN/Inf/outside float32) with *why set. */
static int parse_number(const csv_field *f, float *out, const char **why) {
    char tmp[CSV_NUM_MAX + 1];
    *why = "is not a number";
    if (f->len == 0) {
        *why = "empty field";
        return -1;
    }
    if (f->len > CSV_NUM_MAX) return -1;
    memcpy(tmp, f->s, f->len);
    tmp[f->len] = 0;
    if (memchr(tmp, 0, f->len)) return -1; /* embedded NUL */
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end == tmp || *end != 0) return -1;
    if (!isfinite(v)) {
        *why = "is not a finite number";
        return -2;
    }
    if (fabs(v) > FLT_MAX) {
        *why = "is out of float32 range";
        return -2;
    }
    *out = (float)v;
    return 0;
}

static int parse_label(const csv_field *f, cr_label *out) {
    size_t i = 0;
    if (f->len > 0 && f->s[0] == '+') i = 1;
    if (i == f->len) return -1;
    int64_t v = 0;
    for (; i < f->len; i++) {
        char c = f->s[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
        if (v > INT32_MAX) return -1;
    }
    *out = (cr_label)v;
    return 0;
}

cr_status cr_csv_parse(const char *name, const char *buf, size_t len, const cr_dataset_options *opt,
                 cr_dataset *out) {
    memset(out, 0, sizeof *out);
    cr_dataset_options defaults = cr_dataset_options_default();
    if (!opt) opt = &defaults;
    csv_state st = {.name = name, .buf = buf, .len = len};
    const char *ls, *le;
    int rc = -1;
    int mixed_first_row = 0; /* --header auto found numbers and text in the first row */
    size_t first_line = 0;

    if (!csv_next_line(&st, &ls, &le)) {
        cr_fail(CR_ERR_FORMAT, "%s: empty file", name);
        goto done;
    }
    if (csv_split(&st, ls, le)) goto done;
    size_t ncols = st.n_fields;
    if (ncols < 2) {
        cr_fail(CR_ERR_FORMAT, "%s:%zu: need at least 2 columns (a label and a feature), found 1", name,
                     st.line_no);
        goto done;
    }
    long lc = opt->label_column;
    if (lc < 0) lc += (long)ncols;
    if (lc < 0 || (size_t)lc >= ncols) {
        cr_fail(CR_ERR_FORMAT, "%s: label column %d is out of range for %zu columns", name,
                     opt->label_column, ncols);
        goto done;
    }
    size_t label_col = (size_t)lc;

    int header = opt->has_header > 0;
    if (opt->has_header < 0) {
        /* auto-detect: the first row is a header if none of its fields is a
           number ("nan", "inf" or "1e999" count as numbers, rejected as data
           later). A row of numbers with an empty field or a typo is data, and
           its error names the line and column: it is never dropped as a header. */
        size_t numbers = 0;
        for (size_t c = 0; c < ncols; c++) {
            float v;
            const char *why;
            if (parse_number(&st.fields[c], &v, &why) != -1) numbers++;
        }
        header = numbers == 0;
        mixed_first_row = numbers > 0 && numbers < ncols;
    }
    first_line = st.line_no;

    /* count the data rows (bounded by the input size) */
    size_t n = header ? 0 : 1;
    {
        csv_state cnt = st;
        cnt.fields = NULL;
        const char *a, *b;
        while ((opt->limit == 0 || n < opt->limit) && csv_next_line(&cnt, &a, &b)) n++;
    }
    if (opt->limit && n > opt->limit) n = opt->limit;
    if (n == 0) {
        cr_fail(CR_ERR_FORMAT, "%s: no data rows after the header", name);
        goto done;
    }
    size_t d = ncols - 1, nd;
    if (cr_mul_size(n, d, &nd) != CR_OK || nd > SIZE_MAX / sizeof(float)) {
        cr_fail(CR_ERR_FORMAT, "%s: too large", name);
        goto done;
    }
    /* Memory grows with the rows actually parsed, not with the row count times
       the width of the first line: a wide first line followed by many short
       lines would otherwise claim n x d floats that the file does not hold. */
    size_t cap_rows = d < 4096 ? 4096 / d : 1;
    if (cap_rows > n) cap_rows = n;
    out->x = malloc(cap_rows * d * sizeof(float));
    out->labels = malloc(cap_rows * sizeof(cr_label));
    if (!out->x || !out->labels) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory for %zu x %zu values", name, cap_rows, d);
        goto done;
    }
    out->n = n;
    out->d = d;

    cr_label max_label = 0;
    size_t row = 0;
    int have_row = !header; /* the first line's fields are still in st.fields */
    while (row < n) {
        if (!have_row) {
            if (!csv_next_line(&st, &ls, &le)) break; /* cannot happen: rows were counted */
            if (csv_split(&st, ls, le)) goto done;
        }
        have_row = 0;
        if (st.n_fields != ncols) {
            cr_fail(CR_ERR_FORMAT, "%s:%zu: expected %zu fields, found %zu", name, st.line_no, ncols,
                         st.n_fields);
            goto done;
        }
        if (row == cap_rows) { /* cap_rows * d fits: cap_rows < n and n * d was checked */
            size_t ncap = cap_rows > n / 2 ? n : 2 * cap_rows;
            float *nx = realloc(out->x, ncap * d * sizeof(float));
            if (nx) out->x = nx;
            cr_label *nl = nx ? realloc(out->labels, ncap * sizeof(cr_label)) : NULL;
            if (nl) out->labels = nl;
            if (!nx || !nl) {
                cr_fail(CR_ERR_NOMEM, "%s:%zu: out of memory for %zu x %zu values", name, st.line_no,
                             ncap, d);
                goto done;
            }
            cap_rows = ncap;
        }
        float *xr = out->x + row * d;
        for (size_t c = 0, j = 0; c < ncols; c++) {
            const csv_field *f = &st.fields[c];
            char repr[64];
            if (c == label_col) {
                cr_label lab;
                if (parse_label(f, &lab)) {
                    field_repr(f, repr, sizeof repr);
                    cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: label '%s' is not a non-negative integer",
                                 name, st.line_no, c + 1, repr);
                    goto done;
                }
                if (opt->k && (size_t)lab >= opt->k) {
                    cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: label %d is out of range for k = %zu",
                                 name, st.line_no, c + 1, (int)lab, opt->k);
                    goto done;
                }
                if (lab > max_label) max_label = lab;
                out->labels[row] = lab;
            } else {
                const char *why;
                if (parse_number(f, &xr[j], &why)) {
                    if (f->len == 0)
                        cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: empty field", name, st.line_no,
                                     c + 1);
                    else {
                        field_repr(f, repr, sizeof repr);
                        cr_fail(CR_ERR_FORMAT, "%s:%zu: column %zu: '%s' %s", name, st.line_no, c + 1,
                                     repr, why);
                    }
                    goto done;
                }
                j++;
            }
        }
        row++;
    }
    out->n = row;
    out->k = opt->k ? opt->k : (size_t)max_label + 1;
    rc = 0;
done:
    free(st.fields);
    if (rc && mixed_first_row && st.line_no == first_line) {
        /* say why the first row was read as data */
        cr_fail(cr_last_status(),
                "%s (--header auto reads a first row with numbers in it as data; give --header "
                "yes if it is a header)", cr_last_error());
    }
    if (rc) cr_dataset_free(out);
    return cr_io_status(rc);
}

cr_status cr_csv_read(const char *path, const cr_dataset_options *opt, cr_dataset *out) {
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cr_fail(CR_ERR_IO, "%s: is a directory, not a CSV file", path);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (cr_read_file(path, CSV_MAX_BYTES, &buf, &len)) return cr_io_status(-1);
    int rc = cr_csv_parse(path, (const char *)buf, len, opt, out);
    free(buf);
    return cr_io_status(rc);
}
