/*
 * The sections of explain's derivation, each for both formats (f->md):
 * 1-4 in explain_render.c, 5-6 in explain_render_numbers.c; explain_render()
 * prints them in order. Used by those two files only.
 */
#ifndef CR_CLI_EXPLAIN_SECTIONS_H
#define CR_CLI_EXPLAIN_SECTIONS_H

#include "explain.h"
#include "explain_notation.h"

/* The title: the network, its description, the conventions. */
void explain_section_title(const explain_format *f, const explain_example *ex);
/* The symbols the derivation uses, each defined (after the title). */
void explain_section_symbols(const explain_format *f, const explain_example *ex, const explain_names *N);
/* 1. The forward pass, every shape. */
void explain_section_forward(const explain_format *f, const explain_example *ex, const explain_names *N);
/* 2. ∂J/∂x as a product of named Jacobians; each Jacobian's formula and structure. */
void explain_section_chain(const explain_format *f, const explain_example *ex, const explain_names *N);
/* 3. The order of the VJPs and the closed form (closed_t: text, closed_m: LaTeX). */
void explain_section_order(const explain_format *f, const explain_example *ex, const explain_names *N,
                           const char *closed_t, const char *closed_m);
/* 4. The same in the gradient (column) convention. */
void explain_section_columns(const explain_format *f, const explain_example *ex, const explain_names *N);
/* 5. The numbers at the example: inputs, weights, activations, Jacobians, the VJP steps.
   CR_ERR_NOMEM when a matrix cannot be allocated. */
cr_status explain_section_numbers(const explain_format *f, const explain_example *ex, const explain_names *N);
/* 6. The checks and the verdict. */
void explain_section_checks(const explain_format *f, const explain_example *ex, const char *closed_t,
                            const char *closed_m);

#endif
