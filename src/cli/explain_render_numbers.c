/*
 * explain's numbers, for both formats: section 5 (the example, the weights,
 * the activations, each Jacobian and each VJP step at this point, asked of
 * the op functions the chain runs) and section 6 (the verification library's
 * checks and the verdict); and the same numbers as JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "explain_sections.h"

/* Each layer's Jacobians at the example, from the ops (right to left). */
static cr_status print_jacobians(const explain_format *f, const explain_example *ex, const explain_names *N,
                                 size_t maxdim) {
    const cr_net *net = ex->net;
    const double *P = cr_net_params_const(net);
    char name[96], formula[160];
    double *jm = malloc(maxdim * maxdim * sizeof(double));
    if (!jm) return CR_ERR_NOMEM;
    for (int l = cr_net_n_layers(net) - 1; l >= 0; l--) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        cr_affine_f64 a;
        if (N->bn[l] && cr_net_affine_f64(net, l + 1, &a) == CR_OK) { /* the op file's diag(a) */
            char diag[96];
            cr_affine_jacobian_f64(&a, dout, jm);
            snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->pre_t[l], N->pre_m[l]),
                     EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]));
            explain_bn_diag(f, l, diag, sizeof diag);
            snprintf(formula, sizeof formula, EXPLAIN_TM(f, "diag(%s)", "$\\mathrm{diag}(%s)$"), diag);
            explain_matrix(f, name, jm, dout, dout, formula);
        }
        cr_linear_jacobian_f64(din, dout, P + cr_net_weight_offset(net, l), jm);
        snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]),
                 EXPLAIN_TM(f, N->in_t[l], N->in_m[l]));
        explain_matrix(f, name, jm, dout, din, explain_sym_inline(f, SYM_W_T));
        if (l > 0) {
            const double *r = cr_tape_pre(ex->tape, l - 1), *h = cr_tape_post(ex->tape, l - 1);
            cr_activation_jacobian_f64(cr_net_activation(net, l - 1), din, r, h, jm); /* the op table's row */
            snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->post_t[l - 1], N->post_m[l - 1]),
                     EXPLAIN_TM(f, N->pre_t[l - 1], N->pre_m[l - 1]));
            snprintf(formula, sizeof formula, "%s (diagonal)", explain_sym_inline(f, SYM_ACT_JACOBIAN));
            explain_matrix(f, name, jm, din, din, formula);
        }
    }
    free(jm);
    return CR_OK;
}

/* The row vector carried back, after each op (the ops' VJPs). */
static cr_status print_vjp_steps(const explain_format *f, const explain_example *ex, const explain_names *N,
                                 size_t maxdim) {
    const cr_net *net = ex->net;
    const size_t K = cr_net_width(net, cr_net_n_layers(net));
    const double *P = cr_net_params_const(net);
    char name[320];
    double *g = malloc(maxdim * sizeof(double)), *gn = malloc(maxdim * sizeof(double));
    if (!g || !gn) {
        free(g), free(gn);
        return CR_ERR_NOMEM;
    }
    if (ex->regress) { /* g_θ = (o − t) ∘ a′(θ) by the output activation's VJP, or o − t */
        for (size_t j = 0; j < K; j++) g[j] = ex->yhat[j] - ex->y[j];
        if (cr_net_output_activation(net, NULL))
            cr_activation_vjp_f64(cr_net_activation(net, cr_net_n_layers(net) - 1), K, cr_tape_logits(ex->tape),
                                  ex->yhat, g, g);
        char formula[256];
        snprintf(name, sizeof name, "%s = %s", explain_sym(f, SYM_G_THETA), EXPLAIN_TM(f, N->g_t, N->g_m));
        snprintf(formula, sizeof formula, EXPLAIN_TM(f, "%s", "$%s$"), EXPLAIN_TM(f, N->g_t, N->g_m));
        explain_matrix(f, name, g, 1, K, formula);
    } else {
        cr_softmax_ce_vjp_f64(1, K, ex->yhat, ex->y, NULL, g);
        snprintf(name, sizeof name, "%s = %s", explain_sym(f, SYM_G_THETA), explain_sym(f, SYM_YHAT_MINUS_Y));
        explain_matrix(f, name, g, 1, K, explain_sym_inline(f, SYM_YHAT_MINUS_Y));
    }
    for (int l = cr_net_n_layers(net) - 1; l >= 0; l--) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        cr_affine_f64 a;
        if (N->bn[l] && cr_net_affine_f64(net, l + 1, &a) == CR_OK) { /* g_r = g_n ∘ γ ⊘ √(v + ε) */
            char diag[96], formula[160];
            cr_affine_vjp_f64(&a, 1, dout, g, gn);
            snprintf(name, sizeof name, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]));
            explain_bn_diag(f, l, diag, sizeof diag);
            snprintf(formula, sizeof formula, EXPLAIN_TM(f, "g ∘ %s", "$g \\circ %s$"), diag);
            explain_matrix(f, name, gn, 1, dout, formula);
            memcpy(g, gn, dout * sizeof(double));
        }
        cr_linear_vjp_f64(1, din, dout, P + cr_net_weight_offset(net, l), g, gn);
        snprintf(name, sizeof name, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->in_t[l], N->in_m[l]));
        explain_matrix(f, name, gn, 1, din, explain_sym_inline(f, SYM_G_W_T));
        memcpy(g, gn, din * sizeof(double));
        if (l > 0) {
            const double *r = cr_tape_pre(ex->tape, l - 1), *h = cr_tape_post(ex->tape, l - 1);
            cr_activation_vjp_f64(cr_net_activation(net, l - 1), din, r, h, g, gn);
            snprintf(name, sizeof name, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->pre_t[l - 1], N->pre_m[l - 1]));
            explain_matrix(f, name, gn, 1, din, explain_sym_inline(f, SYM_G_CIRC_ACT));
            memcpy(g, gn, din * sizeof(double));
        }
    }
    free(g), free(gn);
    return CR_OK;
}

cr_status explain_section_numbers(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    const double *P = cr_net_params_const(net);
    explain_heading(f, "5. The numbers for this example");
    explain_matrix(f, "x", ex->x, 1, D, ex->sd ? "the raw input (before standardisation)" : "the input");
    if (ex->sd) { /* link 0's μ and s, as the text's z = (x − μ) ⊘ s uses them */
        explain_matrix(f, f->md ? "\\mu" : "μ", ex->mean, 1, D, "the input's stored mean");
        explain_matrix(f, "s", ex->sd, 1, D, "the input's stored standard deviation");
    }
    explain_matrix(f, ex->regress ? "t" : "y", ex->y, 1, K, ex->regress ? "the target" : "the label");
    for (int l = 0; l < L; l++) {
        char name[48];
        snprintf(name, sizeof name, explain_sym(f, SYM_WEIGHT), l + 1);
        explain_matrix(f, name, P + cr_net_weight_offset(net, l), cr_net_width(net, l), cr_net_width(net, l + 1),
                       "weights");
        snprintf(name, sizeof name, explain_sym(f, SYM_BIAS), l + 1);
        explain_matrix(f, name, P + cr_net_bias_offset(net, l), 1, cr_net_width(net, l + 1), "bias");
        cr_affine_f64 a;
        if (N->bn[l] && cr_net_affine_f64(net, l + 1, &a) == CR_OK) {
            /* the linear layer's output r (the tape keeps the BatchNorm's output), then μ v γ β */
            const size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
            const double *in =
                l ? (const double *)cr_tape_post(ex->tape, l - 1) : (const double *)cr_tape_input(ex->tape);
            double *r = malloc(dout * sizeof *r);
            if (!r) return CR_ERR_NOMEM;
            cr_linear_forward_f64(1, din, dout, in, P + cr_net_weight_offset(net, l), P + cr_net_bias_offset(net, l),
                                  r);
            explain_matrix(f, EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]), r, 1, dout, "the linear layer's output");
            free(r);
            static const char *const vt[4] = {"μ%d", "v%d", "γ%d", "β%d"},
                                     *const vm[4] = {"\\mu_{%d}", "v_{%d}", "\\gamma_{%d}", "\\beta_{%d}"};
            static const char *const what[4] = {"running mean", "running variance", "BatchNorm weight",
                                                "BatchNorm bias"};
            const double *vec[4] = {a.p, a.q, a.s, a.t};
            for (int k = 0; k < 4; k++) {
                snprintf(name, sizeof name, f->md ? vm[k] : vt[k], l + 1);
                explain_matrix(f, name, vec[k], 1, dout, what[k]);
            }
            explain_matrix(f, EXPLAIN_TM(f, N->pre_t[l], N->pre_m[l]), cr_tape_pre(ex->tape, l), 1, dout,
                           l + 1 < L ? "BatchNorm output, the activation's input" : "BatchNorm output, the logits");
        } else
            explain_matrix(f, EXPLAIN_TM(f, N->pre_t[l], N->pre_m[l]), cr_tape_pre(ex->tape, l), 1,
                           cr_net_width(net, l + 1), "pre-activation");
        explain_matrix(f, EXPLAIN_TM(f, N->post_t[l], N->post_m[l]), cr_tape_post(ex->tape, l), 1,
                       cr_net_width(net, l + 1),
                       l + 1 < L       ? "activation" :
                           ex->regress ? "the output o" :
                                         "probabilities");
    }
    if (ex->regress && f->md) explain_out("\nLoss: $J = \\tfrac12 \\lVert o - t\\rVert^2 = %.10g$\n\n", ex->loss);
    else if (ex->regress) explain_out("    J = ½‖o − t‖² = %.10g\n", ex->loss);
    else if (f->md) explain_out("\nLoss: $J = %.10g$%s\n\n", ex->loss, ex->label >= 0 ? "" : " (soft label)");
    else explain_out("    J = %.10g   (label: class %d)\n", ex->loss, ex->label);
    explain_out("%s", EXPLAIN_TM(f, "\nJacobians at this point:\n", "Jacobians at this point:\n\n"));
    if (ex->regress) {
        char row[96], jac[224];
        snprintf(row, sizeof row, EXPLAIN_TM(f, "%s", "$%s$"), EXPLAIN_TM(f, N->row_t, N->row_m));
        snprintf(jac, sizeof jac, EXPLAIN_TM(f, "%s", "$%s$"), EXPLAIN_TM(f, N->jac_t, N->jac_m));
        explain_matrix(f, EXPLAIN_TM(f, N->dJ_t, N->dJ_m), ex->dJ_dyhat, 1, K, row);
        explain_matrix(f, EXPLAIN_TM(f, N->dy_t, N->dy_m), ex->dyhat_dtheta, K, K, jac);
    } else {
        explain_matrix(f, explain_sym(f, SYM_DJ_DYHAT), ex->dJ_dyhat, 1, K, explain_sym_inline(f, SYM_CE_JACOBIAN));
        explain_matrix(f, explain_sym(f, SYM_DYHAT_DTHETA), ex->dyhat_dtheta, K, K,
                       explain_sym_inline(f, SYM_SOFTMAX_JACOBIAN));
    }
    size_t maxdim = 0;
    for (int l = 0; l <= L; l++) maxdim = cr_net_width(net, l) > maxdim ? cr_net_width(net, l) : maxdim;
    cr_status st = print_jacobians(f, ex, N, maxdim);
    if (st != CR_OK) return st;
    explain_out("%s", EXPLAIN_TM(f, "\nThe VJP chain, step by step:\n", "\nThe VJP chain, step by step:\n\n"));
    return print_vjp_steps(f, ex, N, maxdim);
}

/* The checks' names, in the order cr_check_explain reports them (a regressor's: [1] and [3]). */
static const char *const check_labels[4] = {
    "product of the explicit Jacobians ∂J/∂ŷ · ∂ŷ/∂θ · … · ∂r/∂x",
    "central finite differences (float64, steps h and 2h, Richardson)",
    "closed form, written out with plain loops",
    "head: unfused (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) vs fused ŷ − y (∂J/∂θ)"};
static const char *const check_labels_regress[4] = {
    "product of the explicit Jacobians ∂J/∂o · ∂o/∂θ · … · ∂r/∂x",
    "central finite differences (float64, steps h and 2h, Richardson)",
    "closed form, written out with plain loops",
    "head: unfused (o − t) · ∂o/∂θ vs (o − t) ∘ a′(θ) (∂J/∂θ)"};

/* Why a zero gradient proves little, and how to choose another example. */
static void zero_gradient_note(const explain_format *f, const explain_example *ex) {
    char why[200] = "";
    if (ex->relu_units && ex->relu_off + ex->relu_kink > 0)
        snprintf(why, sizeof why, " (%zu of %zu ReLU units have r < 0, inactive, and %zu sit at the kink r = 0, "
                 "where relu' is taken as 0)", ex->relu_off, ex->relu_units, ex->relu_kink);
    const char *how = ex->from_model ? "--index (or --inputs)" : "--seed (or a --model with --index)";
    explain_out(EXPLAIN_TM(f,
                           "    note: ∂J/∂x is zero within the checks' tolerance at this example%s,\n"
                           "    so agreement proves little here; choose another example with %s\n",
                           "Note: $\\partial J/\\partial x$ is zero within the checks' tolerance at this example%s, so "
                           "agreement proves little here; choose another example with `%s`.\n\n"),
                why, how);
}

void explain_section_checks(const explain_format *f, const explain_example *ex, const char *closed_t,
                            const char *closed_m) {
    const size_t D = cr_net_width(ex->net, 0);
    const cr_check_report *rep = &ex->rep;
    const char *const *labels = ex->regress ? check_labels_regress : check_labels;
    explain_heading(f, "6. Checks: four ways to the same ∂J/∂x, and the head");
    explain_matrix(f, EXPLAIN_TM(f, "∂J/∂x (VJP chain)", "\\partial J/\\partial x"), ex->ways.vjp, 1, D,
                   "the VJP chain");
    if (!ex->nonzero) zero_gradient_note(f, ex);
    if (f->md)
        explain_out(
            "Each way is compared with the VJP chain (`cr_net_input_grad`, what `grad` runs); the head compares "
            "$\\partial J/\\partial \\theta$. Relative error = max |a − b| / max |b|; the tolerance allows the "
            "finite differences' truncation and rounding error and float64 rounding (docs/verification.md).\n\n"
            "| check | max relative error | tolerance | result |\n|---|---|---|---|\n");
    else
        explain_out(
            "\n    reference: the VJP chain (cr_net_input_grad, what `grad` runs); relative error = max|a − b| / "
            "max|b|;\n"
            "    the tolerance allows the finite differences' truncation and rounding error and float64 rounding\n\n");
    for (size_t i = 0; i < rep->n && i < 4; i++) {
        const cr_check_result *r = &rep->items[i];
        const char *verdict = !r->pass ? "FAIL" : r->trivial ? "PASS (zero within tolerance)" : "PASS";
        double rtol = r->ref_max > 0 ? r->tol / r->ref_max : r->tol;
        if (f->md) {
            explain_out("| ");
            for (const char *c = labels[i]; *c; c++) /* a | in a table cell is escaped */
                if (*c == '|') explain_out("\\|");
                else explain_out("%c", *c);
            explain_out(" | %.2e | %.1e | **%s** |\n", r->rel_err, rtol, verdict);
        } else
            explain_out("    %s %9.2e  (tol %.1e)  %s\n", explain_pad(labels[i], 66), r->rel_err, rtol, verdict);
    }
    if (ex->pass && f->md && !ex->nonzero)
        explain_out("\n**Result:** PASS, but only trivially: $\\partial J/\\partial x$ is zero at this example.\n");
    else if (ex->pass && f->md)
        explain_out("\n**Result:** all four ways agree, so for this network\n\n$$\n\\frac{\\partial J}{\\partial x} = "
                    "%s\n$$\n",
                    closed_m);
    else if (ex->pass && !ex->nonzero)
        explain_out("\nexplain: PASS, but only trivially: ∂J/∂x is zero at this example\n");
    else if (ex->pass)
        explain_out("\nexplain: PASS, all four ways agree: ∂J/∂x = %s\n", closed_t);
    else
        explain_out("\nexplain: FAIL: a check disagrees (see above)\n");
}

/* ------------------------------------------------------------ JSON */

static void json_vec(const char *key, const double *v, size_t n, int last) {
    printf("  \"%s\": [", key);
    for (size_t i = 0; i < n; i++) printf("%s%.17g", i ? ", " : "", v[i]);
    printf("]%s\n", last ? "" : ",");
}

void explain_render_json(const explain_example *ex) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    const cr_check_explain_out *w = &ex->ways;
    const cr_check_report *rep = &ex->rep;
    printf("{\n  \"layers\": [");
    for (int l = 0; l <= L; l++) printf("%s%zu", l ? ", " : "", cr_net_width(net, l));
    printf("],\n  \"activations\": [");
    for (int l = 0; l + 1 < L; l++) printf("%s\"%s\"", l ? ", " : "", cr_activation_name(cr_net_activation(net, l)));
    printf("],\n  \"head\": \"%s\",\n  \"loss\": %.17g,\n  \"label\": %d,\n", cr_head_name(cr_net_head(net)),
           ex->loss, ex->label);
    json_vec("x", ex->x, D, 0);
    json_vec("y", ex->y, K, 0);
    json_vec("yhat", ex->yhat, K, 0);
    json_vec("dJdx_vjp_chain", w->vjp, D, 0);
    json_vec("dJdx_jacobian_product", w->jac, D, 0);
    json_vec("dJdx_finite_differences", w->fd, D, 0);
    json_vec("dJdx_closed_form", w->closed, D, 0);
    json_vec("dJdtheta_fused", w->head_fused, K, 0);
    json_vec("dJdtheta_unfused", w->head_unfused, K, 0);
    printf("  \"standardized\": %s,\n  \"checks\": [", ex->sd ? "true" : "false");
    for (size_t i = 0; i < rep->n; i++)
        printf("%s\n    {\"what\": \"%s\", \"max_err\": %.6g, \"tol\": %.6g, \"max_rel_err\": %.6g, "
               "\"trivial\": %s, \"pass\": %s}",
               i ? "," : "", rep->items[i].what, rep->items[i].max_err, rep->items[i].tol,
               isfinite(rep->items[i].rel_err) ? rep->items[i].rel_err : -1.0,
               rep->items[i].trivial ? "true" : "false", rep->items[i].pass ? "true" : "false");
    printf("\n  ],\n  \"gradient_is_zero\": %s,\n  \"pass\": %s\n}\n", ex->gradient_is_zero ? "true" : "false",
           ex->pass ? "true" : "false");
}
