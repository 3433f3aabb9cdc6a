/*
 * chainrule explain --certify --eps E: the proof that no input within ε of x changes the class, for a concrete
 * network, written like the gradient's chain. Every number comes from the library: cr_bound_explain records the
 * intervals, the relaxation lines and the rows' backward substitution as cr_net_bound (CROWN) computes them; this
 * file only prints them. Independent of the network's widths (any depth, any width; long vectors are summarised).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "chainrule_certify.h"
#include "cli.h"
#include "explain.h"

/* a row vector: in full up to max_print entries, else its size, range and first entries */
static void vec(const explain_format *f, const char *name, const double *v, size_t n) {
    printf("    %s (1×%zu) = [", name, n);
    const size_t shown = n <= f->max_print ? n : 6;
    for (size_t i = 0; i < shown; i++) printf(" %9.5f", v[i]);
    if (shown < n) {
        double lo = v[0], hi = v[0];
        for (size_t i = 1; i < n; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
        printf(" … ]   (%zu values in [%.5g, %.5g])\n", n, lo, hi);
    } else {
        printf(" ]\n");
    }
}

static void heading(const explain_format *f, const char *title) {
    if (f->md) printf("\n## %s\n\n", title);
    else {
        printf("\n%s\n", title);
        for (size_t i = 0, n = strlen(title); i < n; i++) putchar('-');
        printf("\n");
    }
}

static void block(const explain_format *f, int open) {
    if (f->md) printf(open ? "```text\n" : "```\n");
}

/* each hidden unit's interval and lines (long layers: the first units and a count) */
static void print_units(const explain_format *f, const cr_net *net, const cr_bound_explanation *e) {
    for (int l = 0; l < e->n_relaxed; l++) {
        const size_t w = cr_net_width(net, l + 1);
        const char *act =
            cr_activation_name(l < cr_net_n_layers(net) - 1 ? cr_net_activation(net, l) :
                                                              cr_net_activation(net, cr_net_n_layers(net) - 1));
        char in[16] = "z0";
        if (l) snprintf(in, sizeof in, "h%d", l);
        printf("%sLayer %d: r%d = %s W%d + b%d, then h%d = %s(r%d)%s\n", f->md ? "**" : "", l + 1, l + 1, in, l + 1,
               l + 1, l + 1, act, l + 1, f->md ? "**" : "");
        block(f, 1);
        size_t unstable = 0;
        for (size_t j = 0; j < w; j++) unstable += e->zl[l + 1][j] < 0 && e->zu[l + 1][j] > 0;
        const size_t shown = w <= f->max_print / 4 + 1 ? w : 8;
        for (size_t j = 0; j < shown; j++) {
            const double lo = e->zl[l + 1][j], hi = e->zu[l + 1][j];
            printf("    unit %-3zu r ∈ [%9.5f, %9.5f]   %9.5f·r %+9.5f  ≤  %s(r)  ≤  %9.5f·r %+9.5f\n", j + 1, lo,
                   hi, e->sl[l][j], e->tl[l][j], act, e->su[l][j], e->tu[l][j]);
        }
        if (shown < w) printf("    … %zu units in all\n", w);
        printf("    (%zu of %zu units straddle 0)\n", unstable, w);
        block(f, 0);
    }
}

/* one row's substitution, from the output back to the input */
static void print_row(const explain_format *f, const cr_net *net, const cr_bound_explanation *e, size_t i,
                      int label, int j, const double *c) {
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    char name[64];
    printf("%sMargin m = θ%d − θ%d%s (the label %d against class %d): c = e%d − e%d\n", f->md ? "**" : "", label,
           j, f->md ? "**" : "", label, j, label, j);
    block(f, 1);
    vec(f, "c", c, K);
    printf("    step 1  m = c·θ = (c W%dᵀ)·h%d + c·b%d            constant = %.6g\n", L, L - 1, L,
           e->cst[L - 1][i]);
    for (int l = L - 2; l >= 0; l--) {
        const size_t w = cr_net_width(net, l + 1);
        const int s = 2 * (L - 1 - l);
        snprintf(name, sizeof name, "a_h%d", l + 1);
        char src[32] = "c";
        if (l < L - 2) snprintf(src, sizeof src, "g_r%d", l + 2);
        printf("    step %d  %s = %s W%dᵀ\n", s, name, src, l + 2);
        vec(f, name, e->a[l] + i * w, w);
        snprintf(name, sizeof name, "g_r%d", l + 1);
        printf("    step %d  %s = a_h%d ∘ s,  s_j = (a_j ≥ 0 ? lower slope : upper slope)    "
               "[gradient: ∘ h∘(1−h), here the sign-selected slopes]\n",
               s + 1, name, l + 1);
        vec(f, name, e->g[l] + i * w, w);
        const double bias = e->cst[l][i] - e->cst[l + 1][i] - e->icpt[l][i];
        printf("            constant += Σ_j a_j·(a_j ≥ 0 ? lower intercept : upper intercept) = %.6g\n",
               e->icpt[l][i]);
        printf("            constant += g_r%d·b%d = %.6g        constant = %.6g\n", l + 1, l + 1, bias,
               e->cst[l][i]);
    }
    printf("    step %d  a_z0 = %s W1ᵀ\n", 2 * L, L > 1 ? "g_r1" : "c");
    vec(f, "a_z0", e->dx + i * D, D);
    printf("    min over the box of a_z0·z0 = Σ_q a_q·(a_q ≥ 0 ? lo_q : hi_q) = %.6g\n", e->box[i]);
    printf("    m ≥ constant + box − rounding slack = %.6g %+.6g − %.3g = %.17g   (CROWN)\n", e->cst[0][i],
           e->box[i], e->slack[i], e->crown[i]);
    if (e->lb[i] != e->crown[i]) printf("    IBP's bound of this row is tighter: %.17g\n", e->lb[i]);
    printf("    lower bound of m over the ball: %.17g   %s\n", e->lb[i],
           e->lb[i] > 0 ? "> 0: proved" : "≤ 0: not proved");
    block(f, 0);
}

int explain_certify(const explain_format *f, const cr_net *net, const double *x, const double *y,
                    int standardized, int from_model, double eps) {
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    if (cr_net_output_activation(net, NULL))
        return cli_error("explain: --certify explains nets without an output activation");
    for (int l = 0; l + 1 < L; l++)
        if (!cr_activation_has_relaxation(cr_net_activation(net, l)))
            return cli_error("explain: --certify: activation %s (layer %d) has no bound relaxation yet",
                             cr_activation_name(cr_net_activation(net, l)), l + 1);
    int label = 0; /* the example's label, or without one the class the net predicts at x */
    double *theta = NULL;
    if (!y) {
        cr_tape *tape = NULL;
        cr_status s0 = cr_tape_create(net, 1, &tape);
        if (s0 == CR_OK) s0 = cr_net_forward_f64(net, tape, 1, x);
        if (s0 == CR_OK && (theta = malloc(K * sizeof *theta))) memcpy(theta, cr_tape_output(tape), K * sizeof *theta);
        cr_tape_free(tape);
        if (!theta) return cli_error("explain: %s", s0 == CR_OK ? "out of memory" : cr_status_string(s0));
        y = theta;
    }
    for (size_t j = 1; j < K; j++) label = y[j] > y[label] ? (int)j : label;
    free(theta);
    cr_spec spec; /* the ball x ± ε rounded outward (rows e_label − e_j, j != label, in order) */
    cr_status st = cr_spec_linf(D, K, x, eps, -INFINITY, INFINITY, label, &spec);
    if (st != CR_OK) return cli_error("explain: --certify --eps %g: %s", eps, cr_status_string(st));
    const double *c = spec.parts[0].c;
    cr_bound_explanation e;
    st = cr_bound_explain(net, spec.parts[0].lo, spec.parts[0].hi, K - 1, c, &e);
    if (st != CR_OK) {
        cr_spec_free(&spec);
        return cli_error("explain: --certify: %s", st == CR_ERR_ARG ? "this network's activation has no bound "
                                                                      "relaxation"
                                                                    : cr_status_string(st));
    }
    if (f->md) printf("# chainrule explain --certify: a proof over a ball\n\n");
    else printf("chainrule explain --certify: a proof over a ball, for a concrete network\n"
                "==========================================================================\n\n");
    printf("Network ");
    for (int l = 0; l <= L; l++) printf("%zu%s", cr_net_width(net, l), l < L ? "-" : "");
    printf(" (%s, %s weights), one example x with %s %d, the L-inf ball |x' − x|∞ ≤ ε = %g (not clipped).\n"
           "Claim: every x' in the ball keeps the label: each margin θ_label − θ_j (j ≠ label) stays > 0.\n"
           "The bounds are cr_net_bound's (CROWN, float64 with its rounding slack); this page prints what it "
           "computed.\n",
           L > 1 ? cr_activation_name(cr_net_activation(net, 0)) : "linear",
           from_model ? "the model's" : "random (seeded)", theta ? "the predicted class" : "label", label, eps);
    heading(f, "1. The box");
    block(f, 1);
    vec(f, "x", x, D);
    if (standardized) printf("    z0 = (x − μ) ⊘ s, the chain's first link: its box, feature by feature:\n");
    else printf("    z0 = x: the box x ± ε (rounded outward)\n");
    vec(f, "lo(z0)", e.zl[0], D);
    vec(f, "hi(z0)", e.zu[0], D);
    block(f, 0);
    heading(f, "2. Each hidden unit's interval and its relaxation lines");
    printf("Interval bound propagation through the layers, tightened by CROWN's own rows (the tighter of the two),\n"
           "gives each pre-activation r an interval [l, u]; on it the activation lies between two lines:\n"
           "lower slope·r + intercept ≤ a(r) ≤ upper slope·r + intercept.\n\n");
    print_units(f, net, &e);
    heading(f, "3. The backward substitution: the gradient's chain with bounds");
    printf("The gradient walks back g_h = g W2ᵀ, g_r = g_h ∘ h∘(1−h), g_x = g_r W1ᵀ. The bound of a margin\n"
           "m = c·θ walks back the same products, with diag(h∘(1−h)) replaced by a diagonal of slopes chosen\n"
           "by the sign of each coefficient (a coefficient ≥ 0 takes the lower line, < 0 the upper one: both\n"
           "make m smaller), plus a constant collecting the lines' intercepts and the biases. At the input the\n"
           "linear function a_z0·z0 + constant is minimised over the box, coordinate by coordinate.\n\n");
    char form[512] = "c", grad[512] = "(ŷ − y)";
    for (int l = L; l >= 2; l--) {
        char t[512];
        snprintf(t, sizeof t, "(%.400s W%dᵀ ∘ s%d)", form, l, l - 1);
        memcpy(form, t, sizeof form);
        snprintf(t, sizeof t, "(%.400s W%dᵀ ∘ a′(r%d))", grad, l, l - 1);
        memcpy(grad, t, sizeof grad);
    }
    printf("Put together (s_l: the sign-selected slope diagonal of layer l, depending on the row):\n");
    block(f, 1);
    printf("    m ≥ min over the box of (%s W1ᵀ)·z0 + constant − rounding slack\n", form);
    printf("    the gradient, for comparison: ∂J/∂x = %s W1ᵀ   (sigmoid: a′(r) = h∘(1−h))\n", grad);
    block(f, 0);
    printf("\n");
    double proved = INFINITY;
    for (size_t i = 0, j = 0; j < K; j++) {
        if ((int)j == label) continue;
        print_row(f, net, &e, i, label, (int)j, c + i * K);
        proved = e.lb[i] < proved ? e.lb[i] : proved;
        i++;
    }
    heading(f, "4. Verdict");
    printf("proved margin: %.17g\n", proved);
    printf("%s\n", proved > 0 ? "Every margin's lower bound is > 0: no input within ε of x changes the class "
                                "(proved)."
                              : "Some margin's lower bound is ≤ 0: not proved at this ε (an attack or a tighter "
                                "method may decide: chainrule certify).");
    cr_bound_explanation_free(&e);
    cr_spec_free(&spec);
    return CLI_OK;
}
