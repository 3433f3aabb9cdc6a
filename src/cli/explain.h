/*
 * chainrule explain, below the command: the numbers of one example
 * (explain_example.c: the verification library's checks and the forward pass,
 * computed by the library) and their rendering as a derivation in text or
 * markdown, or as JSON (explain_render.c: sections 1-4, the derivation;
 * explain_render_numbers.c: sections 5-6 and JSON; explain_notation.c: the
 * notation both formats share). cmd_explain.c parses, loads and calls.
 */
#ifndef CR_CLI_EXPLAIN_H
#define CR_CLI_EXPLAIN_H

#include <stddef.h>

#include "chainrule.h"
#include "chainrule_check.h"

/* How the derivation is written. */
typedef struct {
    int md;           /* markdown with LaTeX, else plain text with Unicode */
    size_t max_print; /* matrices larger than this are described, not printed */
} explain_format;

/*
 * One example of a float64 net, with everything the renderers print.
 * net, x, y, mean, sd are borrowed (they must outlive the example); the
 * buffers, the report and the tape are owned (explain_example_free).
 */
typedef struct {
    const cr_net *net;        /* float64 */
    const double *x, *y;      /* the raw example (D) and its label (K) */
    const double *mean, *sd;  /* the model's input standardisation, or both NULL */
    int from_model;           /* weights from a model file, else random (seeded) */
    cr_check_explain_out ways; /* the four ways to ∂J/∂x and the head (owned buffers) */
    cr_check_report rep;      /* jacobian product, finite differences, closed form, head */
    cr_tape *tape;            /* the forward pass on z = (x − μ) ⊘ s (or x) */
    double loss;              /* J at the example */
    const double *yhat;       /* K: the probabilities (in tape); a regressor's outputs o */
    int regress;              /* the squared-error head: y holds the targets t, J = ½‖o − t‖² */
    int label;                /* the class of a one-hot y, else -1 */
    double *dJ_dyhat;         /* K: −(y ⊘ ŷ) (a regressor: o − t) */
    double *dyhat_dtheta;     /* K×K: diag(ŷ) − ŷᵀŷ (a regressor: ∂o/∂θ = diag(a′(θ)) or I) */
    int pass;                 /* every check passed */
    int nonzero;              /* ∂J/∂x is not zero within the checks' tolerance */
    int gradient_is_zero;     /* every entry of the VJP chain's ∂J/∂x is exactly 0 */
    size_t relu_units, relu_off, relu_kink; /* ReLU units; those with r < 0 and r = 0 */
} explain_example;

/* Runs the checks (cr_check_explain) and the forward pass for x, y on net.
   CR_OK, or the library's status (the example is then freed). */
cr_status explain_example_compute(const cr_net *net, const double *x, const double *y,
                                  const double *mean, const double *sd, int from_model,
                                  explain_example *ex);
void explain_example_free(explain_example *ex);

/* Prints the derivation of ex in f's format (sections 1-6) to stdout.
   CR_ERR_NOMEM when a matrix of section 5 cannot be allocated. */
cr_status explain_render(const explain_format *f, const explain_example *ex);
/* Prints the numbers and the checks of ex as JSON to stdout. */
void explain_render_json(const explain_example *ex);

/* explain --certify --eps E (explain_certify.c): the proof that no input within eps of x changes its label, from
   cr_bound_explain's record of the CROWN bound. y: the one-hot label, or NULL for the class the net predicts at x.
   standardized: the net has an input standardisation (link 0). */
int explain_certify(const explain_format *f, const cr_net *net, const double *x, const double *y,
                    int standardized, int from_model, double eps);

#endif
