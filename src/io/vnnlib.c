/*
 * vnnlib.c: the VNN-LIB reader (into a cr_spec) and the VNN-COMP result writer.
 *
 * The subset of VNN-COMP's files that alpha-beta-CROWN's read_vnnlib.py (Stanley Bak's parser) reads, parsed
 * as S-expressions by a small recursive descent:
 *   ; comments to the end of the line, statements across lines, any whitespace
 *   (declare-const X_i Real)  (declare-const Y_j Real)   every X_0..X_{d-1} and Y_0..Y_{k-1} of the model, once,
 *                                                        before use
 *   (assert CMP)  (assert (and CMP+))                    a conjunction, added to every disjunct
 *   (assert (or CL+))  CL = (and CMP+) or CMP            a disjunction: each disjunct so far times each clause
 *   CMP = (<= A B) | (>= A B)  A, B each X_i, Y_j or a decimal number; an X compares with a number only
 * Strict < and > are read as <= and >= (as read_vnnlib.py does): the unsafe region read is then a superset of the
 * written one's closure, sound for unsat; a sat witness is checked against the rows as read (docs/certification.md).
 * Linear combinations ((+ ...), (* ...)) are refused, as read_vnnlib.py does.
 *
 * The disjuncts (each a box and a conjunction of rows c·y <= rhs) are grouped by their box into the spec's parts,
 * in order of first appearance: a part's clauses are its disjuncts' conjunctions.
 *
 * Numbers: a decimal is read twice with strtod, rounding down and rounding up (fesetround); they are equal when
 * the decimal is a double. Bounds and rhs keep the outward one (lo: down, hi and rhs: up) and the inward one
 * (lo_in: up, hi_in and rhs_in: down). A C library whose strtod ignores the rounding mode (checked once) gets
 * one ulp each way instead. Hex, inf and nan are refused.
 *
 * Bounded: tokens at most VN_MAX_TOKEN characters, nesting at most VN_MAX_DEPTH, at most VN_MAX_DISJUNCTS
 * disjuncts, VN_MAX_ROWS rows in all, and nothing allocated from a number in the file: d and k are the model's
 * and must each be at most len / 16 (a file declaring d variables has at least 24 d bytes).
 */
#include <errno.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_io.h"
#include "io_internal.h"

#define VN_MAX_BYTES ((size_t)256 << 20)
#define VN_MAX_TOKEN 256
#define VN_MAX_DEPTH 8
#define VN_MAX_DISJUNCTS 4096
#define VN_MAX_ROWS ((size_t)1 << 20)
#define VN_MAX_DOUBLES ((size_t)1 << 22) /* boxes and rows of all disjuncts together (32 MB) */
#define VN_NONE SIZE_MAX

/* ------------------------------------------------------------------ S-expressions */

typedef struct {
    int list;          /* 1: a list, 0: an atom */
    const char *s;     /* atom text */
    size_t len;        /* atom length */
    size_t line;       /* where it starts */
    size_t first, next; /* first child (lists), next sibling; VN_NONE when none */
} vn_node;

typedef struct {
    const char *name;
    const char *text;
    size_t len, pos, line;
    vn_node *nodes;
    size_t n_nodes, cap_nodes;
} vn_parser;

static void vn_skip(vn_parser *p) {
    while (p->pos < p->len) {
        char c = p->text[p->pos];
        if (c == '\n') {
            p->line++;
            p->pos++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            p->pos++;
        } else if (c == ';') {
            while (p->pos < p->len && p->text[p->pos] != '\n') p->pos++;
        } else {
            break;
        }
    }
}

static size_t vn_new_node(vn_parser *p) {
    if (p->n_nodes == p->cap_nodes) {
        size_t cap = p->cap_nodes ? 2 * p->cap_nodes : 64;
        vn_node *n = realloc(p->nodes, cap * sizeof *n);
        if (!n) {
            cr_fail(CR_ERR_NOMEM, "%s: out of memory", p->name);
            return VN_NONE;
        }
        p->nodes = n;
        p->cap_nodes = cap;
    }
    vn_node *n = &p->nodes[p->n_nodes];
    memset(n, 0, sizeof *n);
    n->first = n->next = VN_NONE;
    n->line = p->line;
    return p->n_nodes++;
}

static int vn_atom_char(unsigned char c) { return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != ';'; }

/* One expression at p->pos (after whitespace) into the node array; its index, or VN_NONE (error set). */
static size_t vn_parse_expr(vn_parser *p, int depth) {
    vn_skip(p);
    if (p->pos >= p->len) {
        cr_fail(CR_ERR_FORMAT, "%s:%zu: unexpected end of file", p->name, p->line);
        return VN_NONE;
    }
    unsigned char c = (unsigned char)p->text[p->pos];
    if (c == ')') {
        cr_fail(CR_ERR_FORMAT, "%s:%zu: unbalanced ')'", p->name, p->line);
        return VN_NONE;
    }
    if (c == '(') {
        if (depth >= VN_MAX_DEPTH) {
            cr_fail(CR_ERR_FORMAT, "%s:%zu: expressions nested deeper than %d", p->name, p->line, VN_MAX_DEPTH);
            return VN_NONE;
        }
        size_t open_line = p->line;
        size_t id = vn_new_node(p);
        if (id == VN_NONE) return VN_NONE;
        p->nodes[id].list = 1;
        p->pos++;
        size_t last = VN_NONE;
        for (;;) {
            vn_skip(p);
            if (p->pos >= p->len) {
                cr_fail(CR_ERR_FORMAT, "%s:%zu: unbalanced parentheses: the '(' of line %zu is not closed", p->name,
                             p->line, open_line);
                return VN_NONE;
            }
            if (p->text[p->pos] == ')') {
                p->pos++;
                return id;
            }
            size_t child = vn_parse_expr(p, depth + 1);
            if (child == VN_NONE) return VN_NONE;
            if (last == VN_NONE) p->nodes[id].first = child;
            else p->nodes[last].next = child;
            last = child;
        }
    }
    if (!vn_atom_char(c)) {
        cr_fail(CR_ERR_FORMAT, "%s:%zu: unexpected byte 0x%02x", p->name, p->line, c);
        return VN_NONE;
    }
    size_t start = p->pos;
    while (p->pos < p->len && vn_atom_char((unsigned char)p->text[p->pos])) {
        if (p->pos - start >= VN_MAX_TOKEN) {
            cr_fail(CR_ERR_FORMAT, "%s:%zu: a token longer than %d characters", p->name, p->line, VN_MAX_TOKEN);
            return VN_NONE;
        }
        p->pos++;
    }
    if (p->pos < p->len) {
        unsigned char e = (unsigned char)p->text[p->pos];
        if (!vn_atom_char(e) && e != '(' && e != ')' && e != ';' && e != ' ' && e != '\t' && e != '\n' &&
            e != '\r' && e != '\f' && e != '\v') {
            cr_fail(CR_ERR_FORMAT, "%s:%zu: unexpected byte 0x%02x", p->name, p->line, e);
            return VN_NONE;
        }
    }
    size_t id = vn_new_node(p);
    if (id == VN_NONE) return VN_NONE;
    p->nodes[id].s = p->text + start;
    p->nodes[id].len = p->pos - start;
    return id;
}

/* ------------------------------------------------------------------ numbers */

static int vn_strtod_rounds = -1; /* 1: strtod honours the rounding mode (checked once) */

static double vn_strtod_mode(const char *s, int mode) {
    double v;
#if defined(FE_DOWNWARD) && defined(FE_UPWARD)
    int old = fegetround();
    fesetround(mode);
    v = strtod(s, NULL);
    fesetround(old);
#else
    (void)mode;
    v = strtod(s, NULL);
#endif
    return v;
}

static int vn_check_strtod(void) {
#if defined(FE_DOWNWARD) && defined(FE_UPWARD)
    volatile char tenth[] = "0.1";
    char buf[4];
    for (int i = 0; i < 4; i++) buf[i] = tenth[i];
    double lo = vn_strtod_mode(buf, FE_DOWNWARD), hi = vn_strtod_mode(buf, FE_UPWARD);
    return lo < hi && nextafter(lo, 1.0) == hi;
#else
    return 0;
#endif
}

/* A decimal [+-]?(digits[.digits?]|.digits)([eE][+-]?digits)? */
static int vn_is_decimal(const char *s, size_t n) {
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    if (digits == 0) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++, e++;
        if (e == 0) return 0;
    }
    return i == n;
}

/* The real value of a decimal atom rounded down and up; 0, or -1 (error set) when out of range. */
static int vn_number(vn_parser *p, const vn_node *a, double *down, double *up) {
    char buf[VN_MAX_TOKEN + 1];
    memcpy(buf, a->s, a->len);
    buf[a->len] = '\0';
    if (vn_strtod_rounds < 0) vn_strtod_rounds = vn_check_strtod();
    if (vn_strtod_rounds) {
#if defined(FE_DOWNWARD) && defined(FE_UPWARD)
        *down = vn_strtod_mode(buf, FE_DOWNWARD);
        *up = vn_strtod_mode(buf, FE_UPWARD);
#endif
    } else {
        double v = strtod(buf, NULL);
        *down = nextafter(v, -INFINITY);
        *up = nextafter(v, INFINITY);
    }
    if (!isfinite(*down) || !isfinite(*up) || !(*down <= *up))
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: number %s out of range", p->name, a->line, buf);
    return 0;
}

/* ------------------------------------------------------------------ terms and disjuncts */

typedef struct {
    int kind; /* 'X', 'Y' or 'N' */
    size_t index;
    double down, up;
} vn_term;

typedef struct {
    double *box; /* 4 d: lo, hi, lo_in, hi_in */
    double *c, *rhs, *rhs_in;
    size_t n_rows, cap_rows;
    uint64_t hash;
} vn_disjunct;

typedef struct {
    vn_parser p;
    size_t d, k;
    unsigned char *x_decl, *y_decl;
    size_t n_x, n_y;
    vn_disjunct *dis;
    size_t n_dis;
    size_t total_rows;
    int have_y; /* an output constraint was read */
} vn_reader;

static int vn_atom_is(const vn_node *n, const char *s) {
    return !n->list && n->len == strlen(s) && memcmp(n->s, s, n->len) == 0;
}

/* X_i / Y_j: 1, with *kind and *index; 0 when the atom is no variable name (other names checked by the caller). */
static int vn_var_name(const vn_node *n, int *kind, size_t *index) {
    if (n->list || n->len < 3 || (n->s[0] != 'X' && n->s[0] != 'Y') || n->s[1] != '_') return 0;
    size_t v = 0;
    if (n->len - 2 > 9 || (n->s[2] == '0' && n->len > 3)) return 0;
    for (size_t i = 2; i < n->len; i++) {
        if (n->s[i] < '0' || n->s[i] > '9') return 0;
        v = 10 * v + (size_t)(n->s[i] - '0');
    }
    *kind = n->s[0];
    *index = v;
    return 1;
}

static int vn_term_of(vn_reader *r, const vn_node *n, vn_term *t) {
    vn_parser *p = &r->p;
    if (n->list)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: an expression where a variable or a number belongs "
                                    "(linear combinations are not supported)", p->name, n->line);
    int kind;
    size_t index;
    if (vn_var_name(n, &kind, &index)) {
        const unsigned char *decl = kind == 'X' ? r->x_decl : r->y_decl;
        size_t lim = kind == 'X' ? r->d : r->k;
        if (index >= lim || !decl[index])
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: undeclared variable %.*s", p->name, n->line, (int)n->len, n->s);
        t->kind = kind;
        t->index = index;
        return 0;
    }
    if (vn_is_decimal(n->s, n->len)) {
        t->kind = 'N';
        return vn_number(p, n, &t->down, &t->up);
    }
    return cr_fail(CR_ERR_FORMAT, "%s:%zu: '%.*s' is neither a declared variable nor a decimal number", p->name,
                        n->line, (int)n->len, n->s);
}

/* A comparison node (op A B), parsed: *le_a <= *le_b after swapping >=. */
static int vn_comparison(vn_reader *r, const vn_node *n, vn_term *a, vn_term *b) {
    vn_parser *p = &r->p;
    if (!n->list || n->first == VN_NONE)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: expected a comparison (<= A B) or (>= A B)", p->name, n->line);
    const vn_node *op = &p->nodes[n->first];
    int ge;
    if (vn_atom_is(op, "<=") || vn_atom_is(op, "<")) ge = 0;
    else if (vn_atom_is(op, ">=") || vn_atom_is(op, ">")) ge = 1;
    else if (op->list)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: expected a comparison (<= A B) or (>= A B)", p->name, n->line);
    else
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: unsupported operator '%.*s' (expected <= or >=)", p->name, op->line,
                            (int)op->len, op->s);
    size_t ia = op->next, ib = ia == VN_NONE ? VN_NONE : p->nodes[ia].next;
    if (ia == VN_NONE || ib == VN_NONE || p->nodes[ib].next != VN_NONE)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: a comparison takes two operands", p->name, n->line);
    vn_term ta, tb;
    if (vn_term_of(r, &p->nodes[ia], &ta) || vn_term_of(r, &p->nodes[ib], &tb)) return -1;
    *a = ge ? tb : ta;
    *b = ge ? ta : tb;
    int xs = (a->kind == 'X') + (b->kind == 'X'), ys = (a->kind == 'Y') + (b->kind == 'Y');
    if (xs && (xs == 2 || ys))
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: an input may only be compared with a number (input constraints "
                                    "are a box)", p->name, n->line);
    if (!xs && !ys) return cr_fail(CR_ERR_FORMAT, "%s:%zu: a comparison of two numbers", p->name, n->line);
    if (ys) r->have_y = 1;
    return 0;
}

static int vn_apply(vn_reader *r, vn_disjunct *q, const vn_term *a, const vn_term *b) {
    size_t d = r->d, k = r->k;
    double *lo = q->box, *hi = q->box + d, *lo_in = q->box + 2 * d, *hi_in = q->box + 3 * d;
    if (a->kind == 'X') { /* X <= number */
        hi[a->index] = fmin(hi[a->index], b->up);
        hi_in[a->index] = fmin(hi_in[a->index], b->down);
        return 0;
    }
    if (b->kind == 'X') { /* number <= X */
        lo[b->index] = fmax(lo[b->index], a->down);
        lo_in[b->index] = fmax(lo_in[b->index], a->up);
        return 0;
    }
    if (r->total_rows >= VN_MAX_ROWS || (r->total_rows + 1) * (k + 2) + r->n_dis * 4 * d > VN_MAX_DOUBLES)
        return cr_fail(CR_ERR_FORMAT, "%s: more output constraints than %zu", r->p.name,
                            VN_MAX_DOUBLES / (k + 2) < VN_MAX_ROWS ? VN_MAX_DOUBLES / (k + 2) : VN_MAX_ROWS);
    if (q->n_rows == q->cap_rows) {
        size_t cap = q->cap_rows ? 2 * q->cap_rows : 4;
        double *c = realloc(q->c, cap * k * sizeof(double));
        if (c) q->c = c;
        double *rhs = realloc(q->rhs, cap * sizeof(double));
        if (rhs) q->rhs = rhs;
        double *rhs_in = realloc(q->rhs_in, cap * sizeof(double));
        if (rhs_in) q->rhs_in = rhs_in;
        if (!c || !rhs || !rhs_in) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", r->p.name);
        q->cap_rows = cap;
    }
    double *row = q->c + q->n_rows * k;
    memset(row, 0, k * sizeof(double));
    double rhs = 0, rhs_in = 0;
    if (a->kind == 'Y') row[a->index] += 1.0;
    else { /* number <= Y: −Y <= −number */
        rhs = -a->down;
        rhs_in = -a->up;
    }
    if (b->kind == 'Y') row[b->index] -= 1.0;
    else {
        rhs = b->up;
        rhs_in = b->down;
    }
    q->rhs[q->n_rows] = rhs;
    q->rhs_in[q->n_rows] = rhs_in;
    q->n_rows++;
    r->total_rows++;
    return 0;
}

static void vn_disjunct_free(vn_disjunct *q) {
    free(q->box);
    free(q->c);
    free(q->rhs);
    free(q->rhs_in);
    memset(q, 0, sizeof *q);
}

static int vn_disjunct_copy(vn_reader *r, vn_disjunct *dst, const vn_disjunct *src) {
    memset(dst, 0, sizeof *dst);
    size_t d = r->d, k = r->k, m = src->n_rows;
    dst->box = malloc(4 * d * sizeof(double));
    if (m) {
        dst->c = malloc(m * k * sizeof(double));
        dst->rhs = malloc(m * sizeof(double));
        dst->rhs_in = malloc(m * sizeof(double));
    }
    if (!dst->box || (m && (!dst->c || !dst->rhs || !dst->rhs_in))) {
        vn_disjunct_free(dst);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", r->p.name);
    }
    memcpy(dst->box, src->box, 4 * d * sizeof(double));
    if (m) {
        memcpy(dst->c, src->c, m * k * sizeof(double));
        memcpy(dst->rhs, src->rhs, m * sizeof(double));
        memcpy(dst->rhs_in, src->rhs_in, m * sizeof(double));
    }
    dst->n_rows = dst->cap_rows = m;
    r->total_rows += m;
    return 0;
}

/* Applies a conjunction node's comparisons: the node itself (cmp) or each child after "and". */
static int vn_apply_conj(vn_reader *r, vn_disjunct *q, const vn_node *n) {
    vn_parser *p = &r->p;
    vn_term a, b;
    if (n->list && n->first != VN_NONE && vn_atom_is(&p->nodes[n->first], "and")) {
        size_t c = p->nodes[n->first].next;
        if (c == VN_NONE) return cr_fail(CR_ERR_FORMAT, "%s:%zu: an empty (and)", p->name, n->line);
        for (; c != VN_NONE; c = p->nodes[c].next)
            if (vn_comparison(r, &p->nodes[c], &a, &b) || vn_apply(r, q, &a, &b)) return -1;
        return 0;
    }
    if (vn_comparison(r, n, &a, &b)) return -1;
    return vn_apply(r, q, &a, &b);
}

/* (assert (or CL+)): every disjunct so far times every clause. */
static int vn_assert_or(vn_reader *r, const vn_node *orn) {
    vn_parser *p = &r->p;
    size_t n_cl = 0;
    for (size_t c = p->nodes[orn->first].next; c != VN_NONE; c = p->nodes[c].next) n_cl++;
    if (n_cl == 0) return cr_fail(CR_ERR_FORMAT, "%s:%zu: an empty (or)", p->name, orn->line);
    if (n_cl > VN_MAX_DISJUNCTS || r->n_dis > VN_MAX_DISJUNCTS / n_cl)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: more than %d disjuncts", p->name, orn->line, VN_MAX_DISJUNCTS);
    size_t n_new = r->n_dis * n_cl;
    size_t rows_new = 0;
    for (size_t i = 0; i < r->n_dis; i++) rows_new += r->dis[i].n_rows * n_cl;
    if (n_new * 4 * r->d + rows_new * (r->k + 2) > VN_MAX_DOUBLES)
        return cr_fail(CR_ERR_FORMAT, "%s:%zu: the disjunction needs more than %zu numbers", p->name, orn->line,
                            VN_MAX_DOUBLES);
    vn_disjunct *nd = calloc(n_new, sizeof *nd);
    if (!nd) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", p->name);
    size_t done = 0;
    int rc = 0;
    for (size_t i = 0; i < r->n_dis && !rc; i++)
        for (size_t c = p->nodes[orn->first].next; c != VN_NONE && !rc; c = p->nodes[c].next) {
            rc = vn_disjunct_copy(r, &nd[done], &r->dis[i]);
            if (!rc) done++;
            if (!rc) rc = vn_apply_conj(r, &nd[done - 1], &p->nodes[c]);
        }
    for (size_t i = 0; i < r->n_dis; i++) {
        r->total_rows -= r->dis[i].n_rows;
        vn_disjunct_free(&r->dis[i]);
    }
    free(r->dis);
    r->dis = nd;
    r->n_dis = done; /* on failure, what was built is freed with the reader */
    return rc;
}

static int vn_statement(vn_reader *r, const vn_node *n) {
    vn_parser *p = &r->p;
    if (!n->list) return cr_fail(CR_ERR_FORMAT, "%s:%zu: expected '(' to start a statement", p->name, n->line);
    if (n->first == VN_NONE) return cr_fail(CR_ERR_FORMAT, "%s:%zu: an empty statement ()", p->name, n->line);
    const vn_node *head = &p->nodes[n->first];
    if (vn_atom_is(head, "declare-const")) {
        size_t iv = head->next, it = iv == VN_NONE ? VN_NONE : p->nodes[iv].next;
        if (iv == VN_NONE || it == VN_NONE || p->nodes[it].next != VN_NONE || !vn_atom_is(&p->nodes[it], "Real"))
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: expected (declare-const NAME Real)", p->name, n->line);
        const vn_node *v = &p->nodes[iv];
        int kind;
        size_t index;
        if (!vn_var_name(v, &kind, &index)) {
            if (v->list) return cr_fail(CR_ERR_FORMAT, "%s:%zu: expected (declare-const NAME Real)", p->name, n->line);
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: unsupported variable name '%.*s' (expected X_i or Y_j)", p->name,
                                v->line, (int)v->len, v->s);
        }
        size_t lim = kind == 'X' ? r->d : r->k;
        if (index >= lim)
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: %.*s is out of range: the model has %zu %s", p->name, v->line,
                                (int)v->len, v->s, lim, kind == 'X' ? "inputs" : "outputs");
        unsigned char *decl = kind == 'X' ? r->x_decl : r->y_decl;
        if (decl[index])
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: %.*s declared twice", p->name, v->line, (int)v->len, v->s);
        decl[index] = 1;
        if (kind == 'X') r->n_x++;
        else r->n_y++;
        return 0;
    }
    if (vn_atom_is(head, "assert")) {
        size_t ie = head->next;
        if (ie == VN_NONE || p->nodes[ie].next != VN_NONE)
            return cr_fail(CR_ERR_FORMAT, "%s:%zu: assert takes one expression", p->name, n->line);
        const vn_node *e = &p->nodes[ie];
        if (e->list && e->first != VN_NONE && vn_atom_is(&p->nodes[e->first], "or")) return vn_assert_or(r, e);
        for (size_t i = 0; i < r->n_dis; i++)
            if (vn_apply_conj(r, &r->dis[i], e)) return -1;
        return 0;
    }
    if (head->list) return cr_fail(CR_ERR_FORMAT, "%s:%zu: a statement must start with a keyword", p->name, n->line);
    return cr_fail(CR_ERR_FORMAT, "%s:%zu: unsupported statement '%.*s' (expected declare-const or assert)", p->name,
                        head->line, (int)head->len, head->s);
}

static uint64_t vn_hash(const double *v, size_t n) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)v;
    for (size_t i = 0; i < n * sizeof(double); i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* The disjuncts grouped by box into out's parts (r's disjuncts are left for the caller to free). */
static int vn_build(vn_reader *r, cr_spec *out) {
    vn_parser *p = &r->p;
    size_t d = r->d, k = r->k;
    for (size_t i = 0; i < r->n_dis; i++) {
        vn_disjunct *q = &r->dis[i];
        const double *lo = q->box, *hi = q->box + d;
        for (size_t j = 0; j < d; j++) {
            if (lo[j] == -INFINITY)
                return cr_fail(CR_ERR_FORMAT, "%s: input X_%zu has no lower bound (every input must be bounded)",
                                    p->name, j);
            if (hi[j] == INFINITY)
                return cr_fail(CR_ERR_FORMAT, "%s: input X_%zu has no upper bound (every input must be bounded)",
                                    p->name, j);
            if (lo[j] > hi[j])
                return cr_fail(CR_ERR_FORMAT, "%s: input X_%zu has an empty range [%.17g, %.17g]", p->name, j, lo[j],
                                    hi[j]);
        }
        if (q->n_rows == 0)
            return cr_fail(CR_ERR_FORMAT, "%s: %s has no output constraint (assert on Y)", p->name,
                                r->n_dis > 1 ? "a disjunct" : "the file");
        for (size_t j = 0; j < 4 * d; j++) q->box[j] += 0.0; /* −0 as +0: equal boxes are equal bits */
        for (size_t j = 0; j < q->n_rows; j++) q->rhs[j] += 0.0, q->rhs_in[j] += 0.0;
        q->hash = vn_hash(q->box, 4 * d);
    }
    /* part of each disjunct: the first earlier one with the same box */
    size_t *part = malloc(r->n_dis * sizeof(size_t));
    size_t *first = malloc(r->n_dis * sizeof(size_t)); /* disjunct that opened part j */
    if (!part || !first) {
        free(part);
        free(first);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", p->name);
    }
    size_t n_parts = 0;
    for (size_t i = 0; i < r->n_dis; i++) {
        size_t j = 0;
        for (; j < n_parts; j++) {
            const vn_disjunct *f = &r->dis[first[j]];
            if (f->hash == r->dis[i].hash && !memcmp(f->box, r->dis[i].box, 4 * d * sizeof(double))) break;
        }
        if (j == n_parts) first[n_parts++] = i;
        part[i] = j;
    }
    int rc = 0;
    out->parts = calloc(n_parts, sizeof *out->parts);
    if (!out->parts) rc = cr_fail(CR_ERR_NOMEM, "%s: out of memory", p->name);
    else out->n_parts = n_parts;
    for (size_t j = 0; j < n_parts && !rc; j++) {
        cr_spec_part *sp = &out->parts[j];
        size_t rows = 0, cls = 0;
        for (size_t i = 0; i < r->n_dis; i++)
            if (part[i] == j) rows += r->dis[i].n_rows, cls++;
        sp->d = d;
        sp->k = k;
        sp->n_rows = rows;
        sp->n_clauses = cls;
        sp->lo = malloc(d * sizeof(double));
        sp->hi = malloc(d * sizeof(double));
        sp->lo_in = malloc(d * sizeof(double));
        sp->hi_in = malloc(d * sizeof(double));
        sp->c = malloc(rows * k * sizeof(double));
        sp->rhs = malloc(rows * sizeof(double));
        sp->rhs_in = malloc(rows * sizeof(double));
        sp->clause = malloc((cls + 1) * sizeof(size_t));
        if (!sp->lo || !sp->hi || !sp->lo_in || !sp->hi_in || !sp->c || !sp->rhs || !sp->rhs_in || !sp->clause) {
            rc = cr_fail(CR_ERR_NOMEM, "%s: out of memory", p->name);
            break;
        }
        const double *box = r->dis[first[j]].box;
        memcpy(sp->lo, box, d * sizeof(double));
        memcpy(sp->hi, box + d, d * sizeof(double));
        memcpy(sp->lo_in, box + 2 * d, d * sizeof(double));
        memcpy(sp->hi_in, box + 3 * d, d * sizeof(double));
        size_t row = 0, cl = 0;
        for (size_t i = 0; i < r->n_dis; i++) {
            if (part[i] != j) continue;
            const vn_disjunct *q = &r->dis[i];
            sp->clause[cl++] = row;
            memcpy(sp->c + row * k, q->c, q->n_rows * k * sizeof(double));
            memcpy(sp->rhs + row, q->rhs, q->n_rows * sizeof(double));
            memcpy(sp->rhs_in + row, q->rhs_in, q->n_rows * sizeof(double));
            row += q->n_rows;
        }
        sp->clause[cls] = row;
    }
    free(part);
    free(first);
    if (rc) cr_spec_free(out);
    return rc;
}

cr_status cr_vnnlib_parse(const char *name, const char *text, size_t len, size_t d, size_t k, cr_spec *out) {
    if (!name) name = "(vnnlib)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!text && len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if (d == 0 || k == 0) return cr_fail(CR_ERR_FORMAT, "%s: the model has no %s", name, d == 0 ? "inputs" : "outputs");
    if (d > VN_MAX_DOUBLES / 4 || k > VN_MAX_DOUBLES / 4)
        return cr_fail(CR_ERR_FORMAT,
                       "%s: the model's %zu inputs and %zu outputs exceed the reader's limit of %zu each", name, d, k,
                       VN_MAX_DOUBLES / 4);
    if (d > len / 16 || k > len / 16)
        return cr_fail(CR_ERR_FORMAT, "%s: %zu bytes cannot declare the model's %zu inputs and %zu outputs", name, len,
                       d, k);
    vn_reader r;
    memset(&r, 0, sizeof r);
    r.p.name = name;
    r.p.text = text;
    r.p.len = len;
    r.p.line = 1;
    r.d = d;
    r.k = k;
    int rc = 0;
    r.x_decl = calloc(d, 1);
    r.y_decl = calloc(k, 1);
    r.dis = calloc(1, sizeof *r.dis);
    if (r.dis) r.dis[0].box = malloc(4 * d * sizeof(double));
    if (!r.x_decl || !r.y_decl || !r.dis || !r.dis[0].box) rc = cr_fail(CR_ERR_NOMEM, "%s: out of memory", name);
    else {
        r.n_dis = 1;
        for (size_t i = 0; i < d; i++) {
            r.dis[0].box[i] = r.dis[0].box[2 * d + i] = -INFINITY;
            r.dis[0].box[d + i] = r.dis[0].box[3 * d + i] = INFINITY;
        }
    }
    size_t n_statements = 0;
    while (!rc) {
        vn_skip(&r.p);
        if (r.p.pos >= r.p.len) break;
        r.p.n_nodes = 0; /* one statement's nodes at a time */
        size_t id = vn_parse_expr(&r.p, 0);
        if (id == VN_NONE) rc = -1;
        else rc = vn_statement(&r, &r.p.nodes[id]);
        n_statements++;
    }
    if (!rc && n_statements == 0) rc = cr_fail(CR_ERR_FORMAT, "%s: no statements", name);
    if (!rc && r.n_x != d)
        rc = cr_fail(CR_ERR_FORMAT, "%s: declares %zu inputs X_i, the model has %zu", name, r.n_x, d);
    if (!rc && r.n_y != k)
        rc = cr_fail(CR_ERR_FORMAT, "%s: declares %zu outputs Y_j, the model has %zu", name, r.n_y, k);
    if (!rc && !r.have_y) rc = cr_fail(CR_ERR_FORMAT, "%s: no output constraint (assert on Y)", name);
    if (!rc) rc = vn_build(&r, out);
    for (size_t i = 0; r.dis && i < r.n_dis; i++) vn_disjunct_free(&r.dis[i]);
    if (r.dis && r.n_dis == 0) free(r.dis[0].box);
    free(r.dis);
    free(r.x_decl);
    free(r.y_decl);
    free(r.p.nodes);
    if (rc) memset(out, 0, sizeof *out);
    return cr_io_status(rc ? -1 : 0);
}

cr_status cr_vnnlib_load(const char *path, size_t d, size_t k, cr_spec *out) {
    if (out) memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    if (cr_read_file(path, VN_MAX_BYTES, &buf, &len)) return cr_io_status(-1);
    int rc = cr_vnnlib_parse(path, (const char *)buf, len, d, k, out);
    free(buf);
    return cr_io_status(rc);
}

/* ------------------------------------------------------------------ results */

cr_status cr_vnnlib_print_result(FILE *f, const char *name, cr_verdict verdict, size_t d, const double *x, size_t k,
                           const double *y) {
    if (!name) name = "(result)";
    if (!f) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    if ((unsigned)verdict > CR_VERDICT_TIMEOUT)
        return cr_fail(CR_ERR_FORMAT, "%s: invalid verdict %d", name, (int)verdict);
    if (verdict == CR_VERDICT_SAT) {
        if (!x || !y || d == 0 || k == 0)
            return cr_fail(CR_ERR_FORMAT, "%s: a sat result needs the witness and its outputs", name);
        for (size_t i = 0; i < d; i++)
            if (!isfinite(x[i])) return cr_fail(CR_ERR_FORMAT, "%s: witness X_%zu is not finite", name, i);
        for (size_t j = 0; j < k; j++)
            if (!isfinite(y[j])) return cr_fail(CR_ERR_FORMAT, "%s: output Y_%zu is not finite", name, j);
    }
    int bad = fprintf(f, "%s\n", cr_verdict_name(verdict)) < 0;
    if (verdict == CR_VERDICT_SAT) {
        for (size_t i = 0; i < d && !bad; i++) bad = fprintf(f, "%s(X_%zu %.17g)\n", i ? "" : "(", i, x[i]) < 0;
        for (size_t j = 0; j < k && !bad; j++) bad = fprintf(f, "(Y_%zu %.17g)%s\n", j, y[j], j + 1 < k ? "" : ")") < 0;
    }
    if (bad || ferror(f)) return cr_fail(CR_ERR_IO, "%s: write failed: %s", name, strerror(errno));
    return CR_OK;
}

cr_status cr_vnnlib_write_result(const char *path, cr_verdict verdict, size_t d, const double *x, size_t k,
                           const double *y) {
    cr_atomic_file af;
    if (cr_atomic_open(&af, path)) return cr_io_status(-1);
    if (cr_vnnlib_print_result((FILE *)af.fp, path, verdict, d, x, k, y)) {
        cr_atomic_abort(&af);
        return cr_io_status(-1);
    }
    return cr_io_status(cr_atomic_commit(&af));
}
