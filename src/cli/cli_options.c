/* Table-driven option parsing and --help, see cli.h ("option tables"). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The state of one walk over argv: argv[i] is the current argument. */
typedef struct {
    int argc;
    char **argv;
    int i;
    const char *cmd;
    int failed;
    int help;
} cli_args;

static cli_args cli_args_start(int argc, char **argv) {
    cli_args a = {argc, argv, 0, argv[0], 0, 0};
    return a;
}

/* 0 at the end, or after --help / an error. */
static int cli_args_next(cli_args *a) {
    if (a->failed || a->help) return 0;
    a->i++;
    if (a->i >= a->argc) return 0;
    const char *s = a->argv[a->i];
    if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
        a->help = 1;
        return 0;
    }
    return 1;
}

/* The error for the current argument; CLI_USAGE. */
static int cli_args_unknown(cli_args *a) {
    a->failed = 1;
    return cli_error("%s: unknown option '%s' (see chainrule %s --help)", a->cmd, a->argv[a->i],
                     a->cmd);
}

/* The entry of the table (or of a table it includes) named `arg` ("--name" or
   "--name=value"), or NULL. *len is the length of the name part. */
static const cli_opt *find_option(const cli_opt *t, const char *arg, size_t *len) {
    for (; t->kind != CLI_OPT_END; t++) {
        if (t->kind == CLI_OPT_INCLUDE) {
            const cli_opt *hit = find_option((const cli_opt *)t->dest, arg, len);
            if (hit) return hit;
            continue;
        }
        if (!t->name) continue;
        size_t n = strlen(t->name);
        if (!strncmp(arg, t->name, n) && (arg[n] == '\0' || (arg[n] == '=' && t->kind != CLI_OPT_FLAG))) {
            *len = n;
            return t;
        }
    }
    return NULL;
}

/* Stores the value of option o; 0 after printing the error. */
static int store(const char *cmd, const cli_opt *o, const char *value) {
    char opt[96];
    snprintf(opt, sizeof opt, "%s: %s", cmd, o->name);
    switch (o->kind) {
    case CLI_OPT_FLAG: *(int *)o->dest = 1; return 1;
    case CLI_OPT_STR: *(const char **)o->dest = value; return 1;
    case CLI_OPT_LONG: return cli_parse_long(opt, value, (long)o->lo, (long)o->hi, (long *)o->dest);
    case CLI_OPT_DOUBLE: return cli_parse_double(opt, value, o->lo, o->hi, (double *)o->dest);
    case CLI_OPT_U64: return cli_parse_u64(opt, value, (uint64_t *)o->dest);
    default: return 0;
    }
}

/* Consumes the current argument if the table names it (parsing its value);
   1 if it did. */
static int cli_table_option(cli_args *a, const cli_opt *table) {
    if (a->failed) return 0;
    const char *arg = a->argv[a->i];
    size_t len;
    const cli_opt *o = find_option(table, arg, &len);
    if (!o) return 0;
    const char *value = NULL;
    if (o->kind != CLI_OPT_FLAG) {
        if (arg[len] == '=') value = arg + len + 1;
        else if (a->i + 1 < a->argc) value = a->argv[++a->i];
        else {
            cli_error("%s: option %s needs a value", a->cmd, o->name);
            a->failed = 1;
            return 1;
        }
    }
    if (!store(a->cmd, o, value)) a->failed = 1;
    return 1;
}

/* The first required option of the table that is still unset, or NULL. Only
   STR options can be required (their absence is visible as NULL). */
static const cli_opt *missing_required(const cli_opt *t) {
    for (; t->kind != CLI_OPT_END; t++) {
        if (t->kind == CLI_OPT_INCLUDE) {
            const cli_opt *m = missing_required((const cli_opt *)t->dest);
            if (m) return m;
        } else if (t->required && t->kind == CLI_OPT_STR && !*(const char **)t->dest)
            return t;
    }
    return NULL;
}

int cli_parse(int argc, char **argv, const cli_opt *table, const char *usage, int *status) {
    cli_args a = cli_args_start(argc, argv);
    while (cli_args_next(&a))
        if (!cli_table_option(&a, table)) {
            *status = cli_args_unknown(&a);
            return 0;
        }
    if (a.help) {
        fputs(usage, stdout);
        cli_print_options(stdout, table);
        *status = CLI_OK;
        return 0;
    }
    if (a.failed) {
        *status = CLI_USAGE;
        return 0;
    }
    const cli_opt *m = missing_required(table);
    if (m) {
        *status = cli_error("%s: %s is required (see chainrule %s --help)", a.cmd, m->name, a.cmd);
        return 0;
    }
    return 1;
}

const char *cli_file_text(cli_file_kind kind) {
    switch (kind) {
    case CLI_FILE_MODEL: return "safetensors, ONNX or JSON"; /* every loader: cr_model_load_full */
    case CLI_FILE_MODEL_OUT:
        return "ONNX for a name ending in .onnx, JSON for .json, else safetensors"; /* cli_model_write */
    case CLI_FILE_CHECKPOINT: return "a chainrule checkpoint (safetensors)";
    default: return NULL;
    }
}

/* What the table knows of an option beyond its help text: "(safetensors or
   ONNX; required)", "(required)" or "". */
static void option_facts(const cli_opt *t, char *buf, size_t size) {
    const char *file = cli_file_text(t->file);
    if (file && t->required) snprintf(buf, size, " (%s; required)", file);
    else if (file) snprintf(buf, size, " (%s)", file);
    else if (t->required) snprintf(buf, size, " (required)");
    else buf[0] = '\0';
}

/* "  --name ARG" padded to the help column, then the help lines, the last one
   followed by option_facts (on a line of its own when the line would pass
   WIDTH columns). */
void cli_print_options(FILE *out, const cli_opt *t) {
    enum { COL = 24, WIDTH = 92 };
    for (; t->kind != CLI_OPT_END; t++) {
        if (t->kind == CLI_OPT_INCLUDE) {
            cli_print_options(out, (const cli_opt *)t->dest);
            continue;
        }
        if (t->kind == CLI_OPT_HEADING) {
            fprintf(out, "%s\n", t->help);
            continue;
        }
        char left[96], facts[128];
        int w = snprintf(left, sizeof left, "  %s%s%s", t->name, t->arg ? " " : "", t->arg ? t->arg : "");
        fputs(left, out);
        option_facts(t, facts, sizeof facts);
        const char *h = t->help ? t->help : "";
        if (w >= COL - 1) fprintf(out, "\n%*s", COL, "");
        else fprintf(out, "%*s", COL - w, "");
        size_t line = 0; /* characters of the current help line */
        for (; *h; h++) {
            fputc(*h, out);
            line = *h == '\n' ? 0 : line + 1;
            if (*h == '\n' && h[1]) fprintf(out, "%*s", COL, "");
        }
        if (facts[0] && COL + line + strlen(facts) > WIDTH) fprintf(out, "\n%*s%s", COL, "", facts + 1);
        else fputs(facts, out);
        fputc('\n', out);
    }
}
