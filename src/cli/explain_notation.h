/*
 * The notation of explain's derivation, one table for both formats: every
 * symbol and formula as plain text with Unicode (∂J/∂ŷ) and as LaTeX for
 * markdown (\partial J/\partial \hat{y}), the names of the chain's vectors,
 * the activations' symbols and derivatives, and the primitives that print
 * headings, display equations and matrices. Used by explain_render*.c only.
 */
#ifndef CR_CLI_EXPLAIN_NOTATION_H
#define CR_CLI_EXPLAIN_NOTATION_H

#include <stddef.h>

#include "chainrule.h"
#include "explain.h"

/* A symbol or formula in both formats. */
typedef struct {
    const char *text; /* Unicode, for the text format */
    const char *md;   /* LaTeX (without $), for markdown */
} explain_notation;

typedef enum {
    SYM_THETA,           /* θ */
    SYM_DJ_DYHAT,        /* ∂J/∂ŷ */
    SYM_DYHAT_DTHETA,    /* ∂ŷ/∂θ */
    SYM_DZ_DX,           /* ∂z/∂x */
    SYM_CE_JACOBIAN,     /* −(y ⊘ ŷ) */
    SYM_SOFTMAX_JACOBIAN, /* diag(ŷ) − ŷᵀŷ */
    SYM_YHAT_MINUS_Y,    /* ŷ − y */
    SYM_G_THETA,         /* g_θ */
    SYM_STD_JACOBIAN,    /* diag(1/s) */
    SYM_G_OSLASH_SIGMA,  /* g_z ⊘ s */
    SYM_W_T,             /* Wᵀ */
    SYM_G_W_T,           /* g Wᵀ */
    SYM_ACT_JACOBIAN,    /* diag(a′(r)) */
    SYM_G_CIRC_ACT,      /* g ∘ a′(r) */
    /* printf formats */
    SYM_PARTIAL,         /* ∂%s/∂%s */
    SYM_GRAD,            /* g_%s */
    SYM_WEIGHT,          /* W%d */
    SYM_BIAS,            /* b%d */
    EXPLAIN_SYM_COUNT
} explain_symbol;

extern const explain_notation explain_notation_table[EXPLAIN_SYM_COUNT];

/* The symbol in f's format. */
const char *explain_sym(const explain_format *f, explain_symbol s);
/* A formula in running text: as is in text, between $ in markdown.
   (Rotating static buffers, like explain_pad.) */
const char *explain_sym_inline(const explain_format *f, explain_symbol s);

/* The names of the chain's vectors, in both formats. */
typedef struct {
    int L;
    char pre_t[CR_MAX_LAYERS][16], pre_m[CR_MAX_LAYERS][24];   /* r, r1, θ */
    char post_t[CR_MAX_LAYERS][16], post_m[CR_MAX_LAYERS][24]; /* h, h1, ŷ */
    char in_t[CR_MAX_LAYERS][16], in_m[CR_MAX_LAYERS][24];     /* input of layer l: x (z), h1, ... */
    /* A BatchNorm after linear layer l (bn[l]): the layer's output is lin (r, r1, r3 for
       the last), and pre names the BatchNorm's output, the activation's input (n, n1;
       θ for the last). Without one lin is pre. */
    int bn[CR_MAX_LAYERS];
    char lin_t[CR_MAX_LAYERS][16], lin_m[CR_MAX_LAYERS][24];
    /* The head (explain_names_head): a classifier's ŷ = softmax(θ) with cross-entropy, or a
       regressor's o = a(θ) (or o = θ) with J = ½‖o − t‖² (regress; post[L−1] is then o).
       Each in text (_t) and LaTeX (_m): dJ "∂J/∂ŷ", dy "∂ŷ/∂θ", row "−(y ⊘ ŷ)" (∂J/∂ŷ's
       formula), jac "diag(ŷ) − ŷᵀŷ" (∂ŷ/∂θ's), g "ŷ − y" (∂J/∂θ, the walk's first row). */
    int regress;
    char dJ_t[32], dJ_m[48], dy_t[32], dy_m[64], row_t[32], row_m[48];
    char jac_t[128], jac_m[160], g_t[160], g_m[200];
} explain_names;

/* r, h for one hidden layer, r1, h1, r2, ... for more; θ, ŷ for the last.
   standardized: layer 1's input is z = (x − μ) ⊘ s. */
void explain_names_make(explain_names *nm, int L, int standardized);

/* The head of net (explain_names_make first): the strings above, o for a regressor. */
void explain_names_head(explain_names *nm, const cr_net *net);
/* The BatchNorm links of net (explain_names_make first): bn, lin, and pre renamed. */
void explain_names_links(explain_names *nm, const cr_net *net);
/* The diagonal of the BatchNorm after layer l, γl ⊘ √(vl + εl), in f's format. */
void explain_bn_diag(const explain_format *f, int l, char *buf, size_t size);

/* The activation's symbol (σ, tanh, ...: its row's, cr_activation_info). */
const char *explain_act_symbol(const explain_format *f, cr_activation act);
/* The diagonal of hidden layer l's activation Jacobian, as a formula in its
   h (or r), from the activation's row: h∘(1−h), (1−h∘h), 1[r>0], ...; a row
   without a formula gives SYMBOL′(r). */
void explain_act_diag(const explain_format *f, cr_activation act, const explain_names *nm, int l,
                  char *buf, size_t size);
/* The closed form of ∂J/∂x, ((ŷ − y) W2ᵀ ∘ h∘(1−h)) W1ᵀ (then ⊘ s when
   standardized), in text (t) and markdown (m); too long a nesting is cut. */
void explain_closed_form(const cr_net *net, const explain_names *nm, int standardized, char *t,
                     char *m, size_t size);

/* ------------------------------------------------------------ printing */

void explain_out(const char *s, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Picks the text or the markdown variant. */
#define EXPLAIN_TM(f_, text_, md_) ((f_)->md ? (md_) : (text_))
/* A section heading: "## title" in markdown, underlined in text. */
void explain_heading(const explain_format *f, const char *title);
/* A display equation: text is printed indented, md between $$ ... $$. */
void explain_display(const explain_format *f, const char *text, const char *md);
/* A matrix in full while it has at most f->max_print entries, else its formula and shape. */
void explain_matrix(const explain_format *f, const char *name, const double *m, size_t rows,
                size_t cols, const char *formula);
/* s padded with spaces to `width` characters (UTF-8 aware: printf's %-Ns counts
   bytes, which misaligns ∂, θ, ŷ). Rotates over 8 static buffers. */
const char *explain_pad(const char *s, int width);

#endif
