/*
 * The notation of explain's derivation, shared by the text and markdown
 * formats (explain_notation.h): the symbol table, the chain's names, the
 * activations' derivatives and the printing primitives.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chainrule_typed.h"
#include "explain_notation.h"

const explain_notation explain_notation_table[EXPLAIN_SYM_COUNT] = {
    [SYM_THETA] = {"θ", "\\theta"},
    [SYM_DJ_DYHAT] = {"∂J/∂ŷ", "\\partial J/\\partial \\hat{y}"},
    [SYM_DYHAT_DTHETA] = {"∂ŷ/∂θ", "\\partial \\hat{y}/\\partial \\theta"},
    [SYM_DZ_DX] = {"∂z/∂x", "\\partial z/\\partial x"},
    [SYM_CE_JACOBIAN] = {"−(y ⊘ ŷ)", "-(y \\oslash \\hat{y})"},
    [SYM_SOFTMAX_JACOBIAN] = {"diag(ŷ) − ŷᵀŷ", "\\mathrm{diag}(\\hat{y}) - \\hat{y}^\\top \\hat{y}"},
    [SYM_YHAT_MINUS_Y] = {"ŷ − y", "\\hat{y} - y"},
    [SYM_G_THETA] = {"g_θ", "g_\\theta"},
    [SYM_STD_JACOBIAN] = {"diag(1/s)", "\\mathrm{diag}(1/s)"},
    [SYM_G_OSLASH_SIGMA] = {"g_z ⊘ s", "g_z \\oslash s"},
    [SYM_W_T] = {"Wᵀ", "W^\\top"},
    [SYM_G_W_T] = {"g Wᵀ", "g W^\\top"},
    [SYM_ACT_JACOBIAN] = {"diag(a′(r))", "\\mathrm{diag}(a'(r))"},
    [SYM_G_CIRC_ACT] = {"g ∘ a′(r)", "g \\circ a'(r)"},
    [SYM_PARTIAL] = {"∂%s/∂%s", "\\partial %s/\\partial %s"},
    [SYM_GRAD] = {"g_%s", "g_{%s}"},
    [SYM_WEIGHT] = {"W%d", "W_{%d}"},
    [SYM_BIAS] = {"b%d", "b_{%d}"},
};

/* One of 8 rotating static buffers, so that a few results can be used in one printf. */
static char *scratch(void) {
    static char bufs[8][512];
    static int next;
    return bufs[next++ & 7];
}

const char *explain_sym(const explain_format *f, explain_symbol s) {
    return f->md ? explain_notation_table[s].md : explain_notation_table[s].text;
}

const char *explain_sym_inline(const explain_format *f, explain_symbol s) {
    if (!f->md) return explain_notation_table[s].text;
    char *b = scratch();
    snprintf(b, 512, "$%s$", explain_notation_table[s].md);
    return b;
}

/* ------------------------------------------------------------ names */

void explain_names_make(explain_names *nm, int L, int standardized) {
    nm->L = L;
    for (int l = 0; l < L; l++) {
        if (l == L - 1) {
            strcpy(nm->pre_t[l], "θ"), strcpy(nm->pre_m[l], "\\theta");
            strcpy(nm->post_t[l], "ŷ"), strcpy(nm->post_m[l], "\\hat{y}");
        } else if (L == 2) {
            strcpy(nm->pre_t[l], "r"), strcpy(nm->pre_m[l], "r");
            strcpy(nm->post_t[l], "h"), strcpy(nm->post_m[l], "h");
        } else {
            snprintf(nm->pre_t[l], 16, "r%d", l + 1), snprintf(nm->pre_m[l], 24, "r_{%d}", l + 1);
            snprintf(nm->post_t[l], 16, "h%d", l + 1), snprintf(nm->post_m[l], 24, "h_{%d}", l + 1);
        }
        if (l == 0)
            strcpy(nm->in_t[l], "x"), strcpy(nm->in_m[l], "x");
        else
            strcpy(nm->in_t[l], nm->post_t[l - 1]), strcpy(nm->in_m[l], nm->post_m[l - 1]);
    }
    if (standardized) strcpy(nm->in_t[0], "z"), strcpy(nm->in_m[0], "z"); /* z = (x − μ) ⊘ s feeds layer 1 */
    for (int l = 0; l < L; l++) {
        nm->bn[l] = 0;
        strcpy(nm->lin_t[l], nm->pre_t[l]), strcpy(nm->lin_m[l], nm->pre_m[l]);
    }
}

void explain_names_head(explain_names *nm, const cr_net *net) {
    const int L = nm->L;
    nm->regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    if (!nm->regress) {
        snprintf(nm->dJ_t, sizeof nm->dJ_t, "∂J/∂ŷ"),
            snprintf(nm->dJ_m, sizeof nm->dJ_m, "\\partial J/\\partial \\hat{y}");
        snprintf(nm->dy_t, sizeof nm->dy_t, "∂ŷ/∂θ"),
            snprintf(nm->dy_m, sizeof nm->dy_m, "\\partial \\hat{y}/\\partial \\theta");
        snprintf(nm->row_t, sizeof nm->row_t, "−(y ⊘ ŷ)"),
            snprintf(nm->row_m, sizeof nm->row_m, "-(y \\oslash \\hat{y})");
        snprintf(nm->jac_t, sizeof nm->jac_t, "diag(ŷ) − ŷᵀŷ");
        snprintf(nm->jac_m, sizeof nm->jac_m, "\\mathrm{diag}(\\hat{y}) - \\hat{y}^\\top \\hat{y}");
        snprintf(nm->g_t, sizeof nm->g_t, "ŷ − y"), snprintf(nm->g_m, sizeof nm->g_m, "\\hat{y} - y");
        return;
    }
    strcpy(nm->post_t[L - 1], "o"), strcpy(nm->post_m[L - 1], "o");
    snprintf(nm->dJ_t, sizeof nm->dJ_t, "∂J/∂o"), snprintf(nm->dJ_m, sizeof nm->dJ_m, "\\partial J/\\partial o");
    snprintf(nm->dy_t, sizeof nm->dy_t, "∂o/∂θ"), snprintf(nm->dy_m, sizeof nm->dy_m, "\\partial o/\\partial \\theta");
    snprintf(nm->row_t, sizeof nm->row_t, "o − t"), snprintf(nm->row_m, sizeof nm->row_m, "o - t");
    if (cr_net_output_activation(net, NULL)) { /* the output's diagonal link: ∂o/∂θ = diag(a′(θ)) */
        const explain_format text = {0, 0}, md = {1, 0};
        char dt[96], dm[128];
        explain_act_diag(&text, cr_net_activation(net, cr_net_n_layers(net) - 1), nm, L - 1, dt, sizeof dt);
        explain_act_diag(&md, cr_net_activation(net, cr_net_n_layers(net) - 1), nm, L - 1, dm, sizeof dm);
        snprintf(nm->jac_t, sizeof nm->jac_t, "diag(%s)", dt);
        snprintf(nm->jac_m, sizeof nm->jac_m, "\\mathrm{diag}(%s)", dm);
        snprintf(nm->g_t, sizeof nm->g_t, "(o − t) ∘ %s", dt);
        snprintf(nm->g_m, sizeof nm->g_m, "(o - t) \\circ %s", dm);
    } else { /* o = θ */
        snprintf(nm->jac_t, sizeof nm->jac_t, "I");
        snprintf(nm->jac_m, sizeof nm->jac_m, "I");
        snprintf(nm->g_t, sizeof nm->g_t, "o − t"), snprintf(nm->g_m, sizeof nm->g_m, "o - t");
    }
}

void explain_names_links(explain_names *nm, const cr_net *net) {
    for (int l = 0; l < nm->L; l++) {
        if (cr_net_affine_form(net, l + 1) != CR_AFFINE_BATCHNORM) continue;
        nm->bn[l] = 1;
        if (l == nm->L - 1) { /* r_L = h W_L + b_L, then θ = BN(r_L) */
            snprintf(nm->lin_t[l], 16, "r%d", l + 1), snprintf(nm->lin_m[l], 24, "r_{%d}", l + 1);
        } else if (nm->L == 2) { /* r = x W1 + b1, n = BN(r), h = a(n) */
            strcpy(nm->pre_t[l], "n"), strcpy(nm->pre_m[l], "n");
        } else {
            snprintf(nm->pre_t[l], 16, "n%d", l + 1), snprintf(nm->pre_m[l], 24, "n_{%d}", l + 1);
        }
    }
}

void explain_bn_diag(const explain_format *f, int l, char *buf, size_t size) {
    snprintf(buf, size, f->md ? "\\gamma_{%d} \\oslash \\sqrt{v_{%d} + \\varepsilon_{%d}}" : "γ%d ⊘ √(v%d + ε%d)",
             l + 1, l + 1, l + 1);
}

const char *explain_act_symbol(const explain_format *f, cr_activation act) {
    const cr_activation_info *in = cr_activation_info_get(act);
    if (!in) return "a";
    return EXPLAIN_TM(f, in->symbol_text, in->symbol_tex);
}

void explain_act_diag(const explain_format *f, cr_activation act, const explain_names *nm, int l,
                  char *buf, size_t size) {
    const char *h = f->md ? nm->post_m[l] : nm->post_t[l], *r = f->md ? nm->pre_m[l] : nm->pre_t[l];
    const cr_activation_info *in = cr_activation_info_get(act);
    const char *form = in ? EXPLAIN_TM(f, in->deriv_text, in->deriv_tex) : NULL;
    size_t n = 0;
    if (!size) return;
    buf[0] = 0;
    if (!form) { /* a row without a formula: its symbol's derivative, never another row's */
        snprintf(buf, size, f->md ? "%s'(%s)" : "%s′(%s)", explain_act_symbol(f, act), r);
        return;
    }
    /* the row's a'(r) with {r} and {h} replaced by this layer's names; cut, never overflowed */
    for (const char *p = form; *p && n + 1 < size;) {
        const char *sub = !strncmp(p, "{r}", 3) ? r : !strncmp(p, "{h}", 3) ? h : NULL;
        if (sub) {
            for (; *sub && n + 1 < size; sub++) buf[n++] = *sub;
            p += 3;
        } else {
            buf[n++] = *p++;
        }
    }
    buf[n] = 0;
}

void explain_closed_form(const cr_net *net, const explain_names *nm, int standardized, char *ct,
                     char *cm, size_t size) {
    const explain_format text = {0, 0}, md = {1, 0};
    char diag_t[256], diag_m[256];
    snprintf(ct, size, "(%s)", nm->g_t); /* (ŷ − y), or a regressor's ((o − t) ∘ a′(θ)) */
    snprintf(cm, size, "(%s)", nm->g_m);
    for (int l = cr_net_n_layers(net) - 1; l >= 0; l--) {
        char t2[1024], m2[1024];
        int nt, nmd; /* a too-long nesting is cut, never overflowed */
        if (l == cr_net_n_layers(net) - 1 && nm->bn[l]) { /* ∘ γ_L ⊘ √(v_L + ε_L) first */
            char bt[64], bm[96];
            explain_bn_diag(&text, l, bt, sizeof bt);
            explain_bn_diag(&md, l, bm, sizeof bm);
            snprintf(t2, sizeof t2, "(%.900s ∘ %s)", ct, bt);
            snprintf(m2, sizeof m2, "\\left(%.900s \\circ %s\\right)", cm, bm);
            snprintf(ct, size, "%s", t2);
            snprintf(cm, size, "%s", m2);
        }
        if (l > 0) {
            explain_act_diag(&text, cr_net_activation(net, l - 1), nm, l - 1, diag_t, sizeof diag_t);
            explain_act_diag(&md, cr_net_activation(net, l - 1), nm, l - 1, diag_m, sizeof diag_m);
            if (nm->bn[l - 1]) { /* the activation's diagonal, then the BatchNorm's */
                char bt[64], bm[96];
                explain_bn_diag(&text, l - 1, bt, sizeof bt);
                explain_bn_diag(&md, l - 1, bm, sizeof bm);
                size_t a = strlen(diag_t), b = strlen(diag_m);
                snprintf(diag_t + a, sizeof diag_t - a, " ∘ %s", bt);
                snprintf(diag_m + b, sizeof diag_m - b, " \\circ %s", bm);
            }
            if (nm->bn[l - 1]) { /* a longer diagonal */
                nt = snprintf(t2, sizeof t2, "(%.780s W%dᵀ ∘ %.200s)", ct, l + 1, diag_t);
                nmd = snprintf(m2, sizeof m2, "\\left(%.750s W_{%d}^\\top \\circ %.200s\\right)", cm, l + 1, diag_m);
            } else {
                nt = snprintf(t2, sizeof t2, "(%.880s W%dᵀ ∘ %.100s)", ct, l + 1, diag_t);
                nmd = snprintf(m2, sizeof m2, "\\left(%.850s W_{%d}^\\top \\circ %.100s\\right)", cm, l + 1, diag_m);
            }
        } else {
            nt = snprintf(t2, sizeof t2, "%.1000s W%dᵀ", ct, l + 1);
            nmd = snprintf(m2, sizeof m2, "%.1000s W_{%d}^\\top", cm, l + 1);
        }
        if (nt < 0 || nmd < 0) break;
        snprintf(ct, size, "%s", t2);
        snprintf(cm, size, "%s", m2);
    }
    if (standardized) {
        char t2[1024], m2[1024];
        snprintf(t2, sizeof t2, "(%.1000s) ⊘ s", ct);
        snprintf(m2, sizeof m2, "\\left(%.990s\\right) \\oslash s", cm);
        snprintf(ct, size, "%s", t2);
        snprintf(cm, size, "%s", m2);
    }
}

/* ------------------------------------------------------------ printing */

void explain_out(const char *s, ...) {
    va_list ap;
    va_start(ap, s);
    vprintf(s, ap);
    va_end(ap);
}

void explain_heading(const explain_format *f, const char *title) {
    if (f->md)
        explain_out("\n## %s\n\n", title);
    else {
        explain_out("\n%s\n", title);
        for (size_t i = 0; i < strlen(title); i++)
            if (((unsigned char)title[i] & 0xC0) != 0x80) explain_out("-"); /* one per character */
        explain_out("\n");
    }
}

void explain_display(const explain_format *f, const char *text, const char *md) {
    if (f->md)
        explain_out("$$\n%s\n$$\n\n", md);
    else
        explain_out("    %s\n", text);
}

void explain_matrix(const explain_format *f, const char *name, const double *m, size_t rows,
                size_t cols, const char *formula) {
    if (rows * cols > f->max_print) {
        if (f->md)
            explain_out("- $%s$ = %s: a %zu×%zu matrix (%zu entries, not printed)\n", name, formula, rows,
                    cols, rows * cols);
        else
            explain_out("    %s = %s: %zu×%zu (%zu entries, not printed)\n", name, formula, rows, cols,
                    rows * cols);
        return;
    }
    if (f->md) {
        explain_out("$$\n%s = \\begin{bmatrix}", name);
        for (size_t i = 0; i < rows; i++) {
            explain_out("%s", i ? " \\\\ " : " ");
            for (size_t j = 0; j < cols; j++) explain_out("%s%.4f", j ? " & " : "", m[i * cols + j]);
        }
        explain_out(" \\end{bmatrix}\n$$\n\n");
    } else {
        explain_out("    %s (%zu×%zu) =", name, rows, cols);
        for (size_t i = 0; i < rows; i++) {
            explain_out("%s", rows > 1 ? "\n        [" : " [");
            for (size_t j = 0; j < cols; j++) explain_out("%s%9.5f", j ? " " : "", m[i * cols + j]);
            explain_out(" ]");
        }
        explain_out("\n");
    }
}

const char *explain_pad(const char *s, int width) {
    char *b = scratch();
    const size_t cap = 512;
    int chars = 0;
    size_t len = strlen(s);
    if (len > cap - 64) len = cap - 64;
    memcpy(b, s, len);
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    while (chars < width && len < cap - 1) b[len++] = ' ', chars++;
    b[len] = '\0';
    return b;
}
