/*
 * explain's derivation, sections 1-4, one function per section and each for
 * both formats (text with Unicode, markdown with LaTeX), the symbols from the
 * notation table (explain_notation.c):
 *   title      the network, the conventions (and the standardisation link)
 *   1          the forward pass with every shape
 *   2          ∂J/∂x as a product of named Jacobians; each one's formula and
 *              structure (diagonal means element-wise ∘); σ′ derived, ⊘ defined
 *   3          the order of evaluation: the VJP steps, the closed form, precedence
 *   4          the same in the gradient (column) convention
 * Sections 5-6 (the numbers, the checks) are in explain_render_numbers.c.
 */
#include <stdio.h>
#include <string.h>

#include "chainrule_typed.h"
#include "explain_notation.h"
#include "explain_sections.h"

/* "1×K", "D×D": a shape as text. */
static const char *shape(char *buf, size_t size, size_t rows, size_t cols) {
    if (rows == 1) snprintf(buf, size, "1×%zu", cols);
    else snprintf(buf, size, "%zu×%zu", rows, cols);
    return buf;
}

void explain_section_title(const explain_format *f, const explain_example *ex) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    if (f->md)
        explain_out("# ∂J/∂x, explained\n\n");
    else
        explain_out("chainrule explain: the gradient of the loss with respect to the input\n"
                "======================================================================\n");
    char arch[256];
    size_t len = 0;
    for (int l = 0; l <= L && len < sizeof arch - 16; l++)
        len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", cr_net_width(net, l));
    /* the seed question's network: one sigmoid hidden layer, 4-5-3 (explain's default: every
       width distinct, so every shape can be told apart), 4-3-3 or 784-128-10 */
    int seed_shape = L == 2 && cr_net_activation(net, 0) == CR_ACT_SIGMOID && cr_net_head(net) == CR_HEAD_SOFTMAX_CE &&
        ((D == 4 && (cr_net_width(net, 1) == 5 || cr_net_width(net, 1) == 3) && K == 3) ||
         (D == 784 && cr_net_width(net, 1) == 128 && K == 10));
    char acts[160];
    size_t al = 0;
    acts[0] = '\0';
    for (int l = 0; l + 1 < L && al < sizeof acts - 16; l++)
        al += (size_t)snprintf(acts + al, sizeof acts - al, "%s%s", l ? ", " : "",
                               cr_activation_name(cr_net_activation(net, l)));
    char desc[200];
    if (seed_shape) snprintf(desc, sizeof desc, "the seed network: one sigmoid hidden layer");
    else if (L == 1) snprintf(desc, sizeof desc, "no hidden layer");
    else snprintf(desc, sizeof desc, "%d hidden layer%s: %s", L - 1, L == 2 ? "" : "s", acts);
    if (cr_net_head(net) == CR_HEAD_SQUARED_ERROR) { /* a regressor: its output and loss */
        size_t dl = strlen(desc);
        if (cr_net_output_activation(net, NULL))
            snprintf(desc + dl, sizeof desc - dl, "; a regressor: output o = %s(θ), squared error",
                     explain_act_symbol(&(explain_format){0, 0}, cr_net_activation(net, cr_net_n_layers(net) - 1)));
        else
            snprintf(desc + dl, sizeof desc - dl, "; a regressor: output o = θ, squared error");
    }
    explain_out("%sNetwork %s (%s), one example, computed in float64.%s\n", f->md ? "" : "\n", arch, desc,
            ex->from_model ? " Weights from the model file." : " Random weights (seeded).");
    if (ex->sd) {
        explain_out("%s",
                    EXPLAIN_TM(f,
                               "The model standardises its input: z = (x − μ) ⊘ s (⊘: element-wise division) is the\n"
                               "first link of the chain, with the diagonal Jacobian ∂z/∂x = diag(1/s).\n",
                               "The model standardises its input: $z = (x - \\mu) \\oslash s$ ($\\oslash$: "
                               "element-wise division) is the first link of the chain, with the diagonal Jacobian "
                               "$\\partial z/\\partial x = \\mathrm{diag}(1/s)$.\n\n"));
        const cr_affine_form form = cr_net_affine_form(net, 0);
        if (form == CR_AFFINE_SUB_MUL)
            explain_out("%s",
                        EXPLAIN_TM(f,
                                   "The file states this link as z = (x − p) ∘ q (Sub, then Mul): the same map with "
                                   "μ = p and\n"
                                   "s = 1 ⊘ q, rounded; section 5 prints the μ and s shown here, the checks run "
                                   "the file's form.\n",
                                   "The file states this link as $z = (x - p) \\circ q$ (Sub, then Mul): the same map "
                                   "with $\\mu = p$ and $s = 1 \\oslash q$, rounded; section 5 prints the $\\mu$ and "
                                   "$s$ shown here, the checks run the file's form.\n\n"));
        else if (form == CR_AFFINE_MUL_ADD)
            explain_out("%s",
                        EXPLAIN_TM(f,
                                   "The file states this link as z = x ∘ p + q (Mul, then Add): the same map with "
                                   "μ = −q ⊘ p and\n"
                                   "s = 1 ⊘ p, rounded; section 5 prints the μ and s shown here, the checks run "
                                   "the file's form.\n",
                                   "The file states this link as $z = x \\circ p + q$ (Mul, then Add): the same map "
                                   "with $\\mu = -q \\oslash p$ and $s = 1 \\oslash p$, rounded; section 5 prints the "
                                   "$\\mu$ and $s$ shown here, the checks run the file's form.\n\n"));
    }
    for (int l = 0; l < L; l++)
        if (cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM) {
            double eps = 0;
            cr_net_get_affine(net, l + 1, NULL, NULL, NULL, NULL, NULL, &eps);
            if (f->md)
                explain_out("A BatchNorm (inference mode) follows linear layer %d: $\\mu_{%d}, v_{%d}$ are its running "
                            "mean and variance, "
                            "$\\gamma_{%d}, \\beta_{%d}$ its weight and bias, $\\varepsilon_{%d} = %.9g$; its own link "
                            "of the chain, "
                            "with the diagonal Jacobian $\\mathrm{diag}(\\gamma_{%d} \\oslash \\sqrt{v_{%d} + "
                            "\\varepsilon_{%d}})$.\n\n",
                            l + 1, l + 1, l + 1, l + 1, l + 1, l + 1, eps, l + 1, l + 1, l + 1);
            else
                explain_out("A BatchNorm (inference mode) follows linear layer %d: μ%d, v%d are its running mean and "
                            "variance,\n"
                            "γ%d, β%d its weight and bias, ε%d = %.9g; its own link of the chain, with the diagonal\n"
                            "Jacobian diag(γ%d ⊘ √(v%d + ε%d)).\n",
                            l + 1, l + 1, l + 1, l + 1, l + 1, l + 1, eps, l + 1, l + 1, l + 1);
        }
    explain_out("Row vectors throughout (x is 1×%zu), Jacobians in numerator layout (one row per output).\n", D);
}

/* One entry of the symbol list: name and meaning, in text or as a markdown bullet. */
static void symbol(const explain_format *f, const char *name_t, const char *def_t, const char *name_m,
                   const char *def_m) {
    if (f->md) explain_out("- %s: %s\n", name_m, def_m);
    else explain_out("    %s %s\n", explain_pad(name_t, 9), def_t);
}

/* The definition of an activation's symbol (and of what its derivative uses). */
static void act_symbols(const explain_format *f, cr_activation act, int *sigma_done) {
    switch (act) {
    case CR_ACT_SIGMOID:
        symbol(f, "σ(r)", "= 1/(1 + e^−r), the sigmoid, applied to each entry", "$\\sigma(r)$",
               "$1/(1 + e^{-r})$, the sigmoid, applied to each entry");
        *sigma_done = 1;
        break;
    case CR_ACT_TANH:
        symbol(f, "tanh(r)", "= (e^r − e^−r)/(e^r + e^−r), applied to each entry", "$\\tanh(r)$",
               "$(e^r - e^{-r})/(e^r + e^{-r})$, applied to each entry");
        break;
    case CR_ACT_RELU:
        symbol(f, "relu(r)", "= max(0, r), applied to each entry; 1[c] is 1 where c holds, else 0",
               "$\\mathrm{relu}(r)$",
               "$\\max(0, r)$, applied to each entry; $\\mathbb{1}[c]$ is 1 where $c$ holds, else 0");
        break;
    case CR_ACT_LEAKY_RELU:
        symbol(f, "lrelu(r)", "= r where r > 0, else 0.01 r (leaky ReLU); 1[c] is 1 where c holds, else 0",
               "$\\mathrm{lrelu}(r)$",
               "$r$ where $r > 0$, else $0.01\\,r$ (leaky ReLU); $\\mathbb{1}[c]$ is 1 where $c$ holds, else 0");
        break;
    case CR_ACT_GELU:
        symbol(f, "gelu(r)", "= r Φ(r), applied to each entry, where", "$\\mathrm{gelu}(r)$",
               "$r\\,\\Phi(r)$, applied to each entry, where");
        symbol(f, "Φ(r)", "= ½(1 + erf(r/√2)), the standard normal distribution function", "$\\Phi(r)$",
               "$\\tfrac12\\left(1 + \\mathrm{erf}(r/\\sqrt{2})\\right)$, the standard normal distribution function");
        symbol(f, "erf(u)", "= (2/√π) ∫₀^u e^(−t²) dt, the error function, and", "$\\mathrm{erf}(u)$",
               "$\\frac{2}{\\sqrt{\\pi}} \\int_0^u e^{-t^2}\\,dt$, the error function, and");
        symbol(f, "φ(r)", "= Φ′(r) = e^(−r²/2)/√(2π), its density", "$\\varphi(r)$",
               "$\\Phi'(r) = e^{-r^2/2}/\\sqrt{2\\pi}$, its density");
        break;
    case CR_ACT_SOFTPLUS:
        symbol(f, "softplus(r)", "= ln(1 + e^r), applied to each entry", "$\\mathrm{softplus}(r)$",
               "$\\ln(1 + e^r)$, applied to each entry");
        break;
    case CR_ACT_SILU:
        symbol(f, "silu(r)", "= r σ(r), applied to each entry", "$\\mathrm{silu}(r)$",
               "$r\\,\\sigma(r)$, applied to each entry");
        break;
    default: {
        char t[64], m[64];
        snprintf(t, sizeof t, "%s(r)", explain_act_symbol(&(explain_format){0, 0}, act));
        snprintf(m, sizeof m, "$%s(r)$", explain_act_symbol(&(explain_format){1, 0}, act));
        symbol(f, t, "the activation, applied to each entry", m, "the activation, applied to each entry");
    }
    }
    if ((act == CR_ACT_SOFTPLUS || act == CR_ACT_SILU) && !*sigma_done) {
        symbol(f, "σ(r)", "= 1/(1 + e^−r), the sigmoid", "$\\sigma(r)$", "$1/(1 + e^{-r})$, the sigmoid");
        *sigma_done = 1;
    }
}

void explain_section_symbols(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    char t[256], m[256], nt[64], nm[96];
    explain_out("%s", EXPLAIN_TM(f, "\nSymbols:\n", "\n**Symbols.**\n\n"));
    if (N->regress) {
        snprintf(t, sizeof t, "the input (1×%zu); t its target (1×K, K = %zu outputs), the values o should take", D, K);
        snprintf(m, sizeof m,
                 "the input ($1\\times %zu$); $t$ its target ($1\\times K$, $K = %zu$ outputs), the values $o$ should "
                 "take",
                 D, K);
    } else {
        snprintf(t, sizeof t,
                 "the input (1×%zu); y its label (1×K, K = %zu classes), one-hot: y_k = 1 for the true class k, else 0",
                 D, K);
        snprintf(m, sizeof m,
                 "the input ($1\\times %zu$); $y$ its label ($1\\times K$, $K = %zu$ classes), one-hot: $y_k = 1$ for "
                 "the true class $k$, else 0",
                 D, K);
    }
    symbol(f, "x", t, "$x$", m);
    if (ex->sd)
        symbol(f, "μ, s", "the input's stored mean and standard deviation (vectors)",
               "$\\mu, s$", "the input's stored mean and standard deviation (vectors)");
    snprintf(t, sizeof t, "layer 1's weights (%zu×%zu) and biases (1×%zu): W1[i,j] joins input i to unit j%s", D,
             cr_net_width(net, 1), cr_net_width(net, 1), L > 1 ? "; W2, b2, ... likewise" : "");
    snprintf(m, sizeof m,
             "layer 1's weights ($%zu\\times %zu$) and biases ($1\\times %zu$): $W_1[i,j]$ joins input $i$ to unit "
             "$j$%s",
             D, cr_net_width(net, 1), cr_net_width(net, 1), L > 1 ? "; $W_2, b_2, \\ldots$ likewise" : "");
    symbol(f, "W1, b1", t, "$W_1, b_1$", m);
    if (L > 1) {
        snprintf(nt, sizeof nt, "%s, %s%s", N->lin_t[0], N->post_t[0], L > 2 ? ", ..." : "");
        snprintf(nm, sizeof nm, "$%s, %s%s$", N->lin_m[0], N->post_m[0], L > 2 ? ", \\ldots" : "");
        symbol(f, nt,
               L > 2 ? "each hidden layer's pre-activations r_l and activations h_l" :
                       "the hidden layer's pre-activations and activations",
               nm,
               L > 2 ? "each hidden layer's pre-activations $r_l$ and activations $h_l$" :
                       "the hidden layer's pre-activations and activations");
    }
    if (N->regress) {
        char ot[160], om[160];
        if (cr_net_output_activation(net, NULL)) {
            snprintf(ot, sizeof ot, "the output layer's pre-activations and the network's output o = %s(θ)",
                     explain_act_symbol(&(explain_format){0, 0}, cr_net_activation(net, cr_net_n_layers(net) - 1)));
            snprintf(om, sizeof om, "the output layer's pre-activations and the network's output $o = %s(\\theta)$",
                     explain_act_symbol(&(explain_format){1, 0}, cr_net_activation(net, cr_net_n_layers(net) - 1)));
        } else {
            snprintf(ot, sizeof ot, "the output layer's values and the network's output o = θ");
            snprintf(om, sizeof om, "the output layer's values and the network's output $o = \\theta$");
        }
        symbol(f, "θ, o", ot, "$\\theta, o$", om);
        symbol(f, "J", "the loss ½‖o − t‖² = ½ Σ_i (o_i − t_i)² (squared error), a scalar", "$J$",
               "the loss $\\tfrac12 \\lVert o - t\\rVert^2 = \\tfrac12 \\sum_i (o_i - t_i)^2$ (squared error), a "
               "scalar");
    } else {
        symbol(f, "θ, ŷ", "the output scores (logits) and the predicted probabilities", "$\\theta, \\hat{y}$",
               "the output scores (logits) and the predicted probabilities");
        symbol(f, "J", "the loss, a scalar", "$J$", "the loss, a scalar");
    }
    int used[CR_ACT_COUNT] = {0}, sigma_done = 0;
    for (int l = 0; l < L; l++) {
        const int hidden = l + 1 < L, out = !hidden && N->regress && cr_net_output_activation(net, NULL);
        const cr_activation a = hidden ? cr_net_activation(net, l) : cr_net_activation(net, cr_net_n_layers(net) - 1);
        if ((hidden || out) && (unsigned)a < CR_ACT_COUNT && !used[a]) {
            used[a] = 1;
            act_symbols(f, a, &sigma_done);
        }
    }
    if (N->regress)
        symbol(f, "Σ_i", "the sum over i (here over the K outputs)", "$\\sum_i$",
               "the sum over $i$ (here over the $K$ outputs)");
    else
        symbol(f, "e^v, log", "the exponential and the natural logarithm; Σ_j sums over j (here the K outputs)",
           "$e^v, \\log$", "the exponential and the natural logarithm; $\\sum_j$ sums over $j$ (here the $K$ outputs)");
    symbol(f, "g_v", "the row ∂J/∂v that reverse mode carries back (section 3)", "$g_v$",
           "the row $\\partial J/\\partial v$ that reverse mode carries back (section 3)");
    symbol(f, "a ∘ b", "element-wise product: (a ∘ b)_i = a_i b_i", "$a \\circ b$",
           "element-wise product: $(a \\circ b)_i = a_i b_i$");
    symbol(f, "a ⊘ b", "element-wise division: (a ⊘ b)_i = a_i / b_i", "$a \\oslash b$",
           "element-wise division: $(a \\oslash b)_i = a_i / b_i$");
    symbol(f, "diag(d)", "the square matrix with d on its diagonal and zeros elsewhere", "$\\mathrm{diag}(d)$",
           "the square matrix with $d$ on its diagonal and zeros elsewhere");
    symbol(f, "Aᵀ", "the transpose: Aᵀ[i,j] = A[j,i] (A[i,j]: row i, column j)", "$A^\\top$",
           "the transpose: $A^\\top[i,j] = A[j,i]$ ($A[i,j]$: row $i$, column $j$)");
    symbol(f, "∂a/∂b", "the Jacobian: the matrix whose entry (i, j) is ∂a_i/∂b_j", "$\\partial a/\\partial b$",
           "the Jacobian: the matrix whose entry $(i, j)$ is $\\partial a_i/\\partial b_j$");
}

void explain_section_forward(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    char buf[1024], bufm[1024];
    explain_heading(f, "1. Forward pass");
    for (int l = 0; l < L; l++) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        char rhs[128];
        snprintf(rhs, sizeof rhs, "%s W%d + b%d", N->in_t[l], l + 1, l + 1);
        snprintf(buf, sizeof buf, "%s = %s %s: 1×%zu   W%d: %zu×%zu   b%d: 1×%zu", explain_pad(N->lin_t[l], 3),
                 explain_pad(rhs, 16), N->lin_t[l], dout, l + 1, din, dout, l + 1, dout);
        snprintf(bufm, sizeof bufm,
                 "%s = %s W_{%d} + b_{%d} \\qquad %s \\in \\mathbb{R}^{1\\times %zu},\\ W_{%d} \\in "
                 "\\mathbb{R}^{%zu\\times %zu}",
                 N->lin_m[l], N->in_m[l], l + 1, l + 1, N->lin_m[l], dout, l + 1, din, dout);
        explain_display(f, buf, bufm);
        if (N->bn[l]) { /* the BatchNorm link, as the file states it */
            int k = l + 1;
            snprintf(rhs, sizeof rhs, "(%s − μ%d) ⊘ √(v%d + ε%d) ∘ γ%d + β%d", N->lin_t[l], k, k, k, k, k);
            snprintf(buf, sizeof buf, "%s = %s   %s: 1×%zu   μ%d v%d γ%d β%d: 1×%zu (BatchNorm)",
                     explain_pad(N->pre_t[l], 3), rhs, N->pre_t[l], dout, k, k, k, k, dout);
            snprintf(bufm, sizeof bufm,
                     "%s = (%s - \\mu_{%d}) \\oslash \\sqrt{v_{%d} + \\varepsilon_{%d}} \\circ \\gamma_{%d} + "
                     "\\beta_{%d} \\quad \\text{(BatchNorm, element-wise)}",
                     N->pre_m[l], N->lin_m[l], k, k, k, k, k);
            explain_display(f, buf, bufm);
        }
        if (l + 1 < L) {
            snprintf(rhs, sizeof rhs, "%s(%s)", explain_act_symbol(f, cr_net_activation(net, l)), N->pre_t[l]);
            snprintf(buf, sizeof buf, "%s = %s %s: 1×%zu   (element-wise)", explain_pad(N->post_t[l], 3),
                     explain_pad(rhs, 16), N->post_t[l], dout);
            snprintf(bufm, sizeof bufm, "%s = %s(%s) \\quad \\text{(element-wise)}", N->post_m[l],
                     explain_act_symbol(f, cr_net_activation(net, l)), N->pre_m[l]);
        } else if (N->regress && cr_net_output_activation(net, NULL)) {
            snprintf(rhs, sizeof rhs, "%s(θ)", explain_act_symbol(f, cr_net_activation(net, cr_net_n_layers(net) - 1)));
            snprintf(buf, sizeof buf, "o   = %s o: 1×%zu   (element-wise)", explain_pad(rhs, 16), dout);
            snprintf(bufm, sizeof bufm, "o = %s(\\theta) \\quad \\text{(element-wise)}",
                     explain_act_symbol(f, cr_net_activation(net, cr_net_n_layers(net) - 1)));
        } else if (N->regress) {
            snprintf(buf, sizeof buf, "o   = θ                o: 1×%zu   (no output activation)", dout);
            snprintf(bufm, sizeof bufm, "o = \\theta \\quad \\text{(no output activation)}");
        } else {
            snprintf(buf, sizeof buf, "ŷ   = softmax(θ)       ŷ: 1×%zu   ŷ_i = e^θ_i / Σ_j e^θ_j", dout);
            snprintf(bufm, sizeof bufm,
                     "\\hat{y} = \\mathrm{softmax}(\\theta), \\quad \\hat{y}_i = \\frac{e^{\\theta_i}}{\\sum_j "
                     "e^{\\theta_j}}");
        }
        explain_display(f, buf, bufm);
    }
    if (N->regress)
        explain_display(f, "J   = ½ Σ_i (o_i − t_i)²  t: 1×K, the target; J: a scalar",
                        "J = \\tfrac12 \\sum_i (o_i - t_i)^2 \\qquad t \\text{ the target},\\ J \\in \\mathbb{R}");
    else
        explain_display(f, "J   = −Σ_i y_i log ŷ_i  y: 1×K, one-hot; J: a scalar",
                        "J = -\\sum_i y_i \\log \\hat{y}_i \\qquad y \\text{ one-hot},\\ J \\in \\mathbb{R}");
}

/* The factors of the product of section 2: in text, names and shapes to be
   aligned in two lines; in markdown, one equation with the shapes under braces. */
typedef struct {
    char tok[2 * CR_MAX_LAYERS + 2][48], shp[2 * CR_MAX_LAYERS + 2][48];
    int n;
    char md[4096];
    size_t md_len;
} chain_factors;

/* Appends ∂a/∂b, rows×cols (a_t, b_t: text names; a_m, b_m: LaTeX). */
static void add_factor(chain_factors *c, size_t rows, size_t cols, const char *a_t, const char *b_t,
                       const char *a_m, const char *b_m) {
    const explain_format text = {0, 0};
    snprintf(c->tok[c->n], sizeof c->tok[0], explain_sym(&text, SYM_PARTIAL), a_t, b_t);
    snprintf(c->shp[c->n++], sizeof c->shp[0], "(%zu×%zu)", rows, cols);
    if (c->md_len < sizeof c->md)
        c->md_len += (size_t)snprintf(c->md + c->md_len, sizeof c->md - c->md_len,
                                      "%s\\underbrace{\\frac{\\partial %s}{\\partial %s}}_{%zu\\times %zu}",
                                      c->md_len ? " " : "\\frac{\\partial J}{\\partial x} = ", a_m, b_m, rows, cols);
}

/* ∂J/∂x = ∂J/∂ŷ · ∂ŷ/∂θ · ∂θ/∂h · ∂h/∂r · ... · ∂r1/∂x (· ∂z/∂x), with the shapes. */
static void chain_product(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    chain_factors c;
    c.n = 0, c.md_len = 0;
    const char *out_t = N->post_t[L - 1], *out_m = N->post_m[L - 1]; /* ŷ, or a regressor's o */
    add_factor(&c, 1, K, "J", out_t, "J", out_m);
    add_factor(&c, K, K, out_t, "θ", out_m, "\\theta");
    for (int l = L - 1; l >= 0; l--) {
        if (N->bn[l]) /* the BatchNorm link after layer l */
            add_factor(&c, cr_net_width(net, l + 1), cr_net_width(net, l + 1), N->pre_t[l], N->lin_t[l], N->pre_m[l],
                       N->lin_m[l]);
        add_factor(&c, cr_net_width(net, l + 1), cr_net_width(net, l), N->lin_t[l], N->in_t[l], N->lin_m[l],
                   N->in_m[l]);
        if (l > 0)
            add_factor(&c, cr_net_width(net, l), cr_net_width(net, l), N->post_t[l - 1], N->pre_t[l - 1],
                       N->post_m[l - 1], N->pre_m[l - 1]);
    }
    if (ex->sd) add_factor(&c, D, D, "z", "x", "z", "x"); /* the standardisation: the first link */
    if (f->md) {
        if (c.md_len < sizeof c.md)
            snprintf(c.md + c.md_len, sizeof c.md - c.md_len, " \\;\\in\\; \\mathbb{R}^{1\\times %zu}", D);
        explain_display(f, "", c.md);
        return;
    }
    explain_out("    ∂J/∂x = ");
    for (int i = 0; i < c.n; i++) {
        int w = (int)strlen(c.shp[i]) > 7 ? (int)strlen(c.shp[i]) : 7;
        explain_out("%s%s", i ? " · " : "", explain_pad(c.tok[i], w));
    }
    explain_out("\n            ");
    for (int i = 0; i < c.n; i++) {
        int w = (int)strlen(c.shp[i]) > 7 ? (int)strlen(c.shp[i]) : 7;
        explain_out("%s%s", i ? "   " : "", explain_pad(c.shp[i], w));
    }
    explain_out("  = 1×%zu\n", D);
}

/* One row of the table of Jacobians: name = formula, shape, structure -> kind of link. */
static void jacobian_row(const explain_format *f, const char *name, const char *formula, const char *shp,
                         const char *structure_t, const char *structure_m, const char *link_m) {
    if (f->md)
        explain_out("| $%s$ | $%s$ | %s | %s | %s |\n", name, formula, shp, structure_m, link_m);
    else
        explain_out("    %s = %s %s %s\n", explain_pad(name, 9), explain_pad(formula, 22), explain_pad(shp, 10),
                    structure_t);
}

/* Section 2's notes under the table: ⊘ (a classifier), σ′ derived where a sigmoid is. */
static void sigmoid_notes(const explain_format *f, const cr_net *net, const explain_names *N) {
    const int L = cr_net_n_layers(net);
    int has_sigmoid = 0;
    const int out_sigmoid = N->regress && cr_net_output_activation(net, NULL) &&
        cr_net_activation(net, cr_net_n_layers(net) - 1) == CR_ACT_SIGMOID;
    for (int l = 0; l + 1 < L; l++) has_sigmoid |= cr_net_activation(net, l) == CR_ACT_SIGMOID;
    if (!N->regress)
        explain_out("%s",
                    EXPLAIN_TM(f, "\n    ⊘ is element-wise division: (y ⊘ ŷ)_i = y_i / ŷ_i.\n",
                               "\n$\\oslash$ is element-wise division: $(y \\oslash \\hat{y})_i = y_i / "
                               "\\hat{y}_i$.\n"));
    else if (out_sigmoid && !has_sigmoid) /* the textbook regressor's output: σ′ derived for o */
        explain_out("%s",
                    EXPLAIN_TM(f,
                               "\n    The sigmoid's derivative: σ(θ) = 1/(1 + e^−θ), so σ′(θ) = e^−θ/(1 + e^−θ)² = "
                               "σ(θ) · (1 − σ(θ)),\n"
                               "    because 1 − σ(θ) = e^−θ/(1 + e^−θ). With o = σ(θ): ∂o_i/∂θ_i = o_i (1 − o_i), i.e. "
                               "diag(o∘(1−o)).\n",
                               "\nThe sigmoid's derivative: $\\sigma(\\theta) = 1/(1 + e^{-\\theta})$, so "
                               "$\\sigma'(\\theta) = e^{-\\theta}/(1 + e^{-\\theta})^2 = \\sigma(\\theta)\\,(1 - "
                               "\\sigma(\\theta))$, "
                               "because $1 - \\sigma(\\theta) = e^{-\\theta}/(1 + e^{-\\theta})$. With $o = "
                               "\\sigma(\\theta)$: $\\partial o_i/\\partial \\theta_i = o_i (1 - o_i)$, i.e. "
                               "$\\mathrm{diag}(o \\circ (1 - o))$.\n"));
    else
        explain_out("\n");
    if (has_sigmoid)
        explain_out("%s",
                    EXPLAIN_TM(f,
                               "    The sigmoid's derivative: σ(r) = 1/(1 + e^−r), so σ′(r) = e^−r/(1 + e^−r)² = σ(r) "
                               "· (1 − σ(r)),\n"
                               "    because 1 − σ(r) = e^−r/(1 + e^−r). With h = σ(r): ∂h_i/∂r_i = h_i (1 − h_i), i.e. "
                               "diag(h∘(1−h)).\n",
                               "\nThe sigmoid's derivative: $\\sigma(r) = 1/(1 + e^{-r})$, so $\\sigma'(r) = e^{-r}/(1 "
                               "+ e^{-r})^2 = \\sigma(r)\\,(1 - \\sigma(r))$, "
                               "because $1 - \\sigma(r) = e^{-r}/(1 + e^{-r})$. With $h = \\sigma(r)$: $\\partial "
                               "h_i/\\partial r_i = h_i (1 - h_i)$, i.e. $\\mathrm{diag}(h \\circ (1 - h))$.\n"));
    if (has_sigmoid && out_sigmoid)
        explain_out("%s",
                    EXPLAIN_TM(f,
                               "    Likewise at the output: with o = σ(θ), ∂o_i/∂θ_i = o_i (1 − o_i), i.e. ∂o/∂θ = "
                               "diag(o∘(1−o)).\n",
                               "Likewise at the output: with $o = \\sigma(\\theta)$, $\\partial o_i/\\partial "
                               "\\theta_i = o_i (1 - o_i)$, i.e. $\\partial o/\\partial \\theta = \\mathrm{diag}(o "
                               "\\circ (1 - o))$.\n"));
}

void explain_section_chain(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    explain_heading(f, "2. The chain rule: one Jacobian per link");
    chain_product(f, ex, N);
    /* why a linear layer's Jacobian is Wᵀ: one line of index algebra */
    {
        const char *r = N->lin_t[0], *x = N->in_t[0], *rm = N->lin_m[0], *xm = N->in_m[0];
        char rb[32];
        snprintf(rb, sizeof rb, strchr(rm, '_') ? "{%s}" : "%s", rm);
        if (f->md)
            explain_out("\nWhy $\\partial %s/\\partial %s = W_1^\\top$: entry by entry, $%s_j = \\sum_i %s_i W_1[i,j] "
                        "+ b_{1,j}$, "
                        "so $\\partial %s_j/\\partial %s_i = W_1[i,j]$; that is entry $(j, i)$ of $\\partial "
                        "%s/\\partial %s$ (row $j$: output $%s_j$), "
                        "and $W_1[i,j] = W_1^\\top[j,i]$, so $\\partial %s/\\partial %s = W_1^\\top$ ($%zu\\times "
                        "%zu$).%s\n",
                        rm, xm, rb, xm, rb, xm, rm, xm, rb, rm, xm, cr_net_width(net, 1), D,
                        L > 1 ? " Every linear layer gives its $W^\\top$ the same way." : "");
        else
            explain_out("\nWhy ∂%s/∂%s = W1ᵀ: entry by entry, %s_j = Σ_i %s_i W1[i,j] + b1_j, so ∂%s_j/∂%s_i = "
                        "W1[i,j];\n"
                        "that is entry (j, i) of ∂%s/∂%s (row j: output %s_j), and W1[i,j] = W1ᵀ[j,i], so ∂%s/∂%s = "
                        "W1ᵀ (%zu×%zu).\n%s",
                        r, x, r, x, r, x, r, x, r, r, x, cr_net_width(net, 1), D,
                        L > 1 ? "Every linear layer gives its Wᵀ the same way.\n" : "");
    }
    explain_out("%sEvery link is an ordinary matrix product of the row gradient so far with the next\n"
            "Jacobian. Which links look \"element-wise\" depends only on which Jacobians are diagonal:\n\n",
            f->md ? "\n" : "\n");

    /* the table of Jacobians */
    char sh[48], name[96], formula[192], diag[128], structure[192];
    if (f->md) explain_out("| Jacobian | formula | shape | structure | so the link is |\n|---|---|---|---|---|\n");
    jacobian_row(f, EXPLAIN_TM(f, N->dJ_t, N->dJ_m), EXPLAIN_TM(f, N->row_t, N->row_m), shape(sh, sizeof sh, 1, K),
                 "a row (J is a scalar)", "a row (J is a scalar)", "the starting row");
    if (!N->regress)
        jacobian_row(f, explain_sym(f, SYM_DYHAT_DTHETA), explain_sym(f, SYM_SOFTMAX_JACOBIAN),
                     shape(sh, sizeof sh, K, K), "FULL: every ŷ_i depends on every θ_j -> matrix product",
                     "**full**: every $\\hat{y}_i$ depends on every $\\theta_j$", "a matrix product");
    else if (cr_net_output_activation(net, NULL))
        jacobian_row(f, EXPLAIN_TM(f, N->dy_t, N->dy_m), EXPLAIN_TM(f, N->jac_t, N->jac_m), shape(sh, sizeof sh, K, K),
                     "DIAGONAL: o_i depends only on θ_i -> element-wise ∘",
                     "**diagonal**: $o_i$ depends only on $\\theta_i$", "element-wise: $\\circ$");
    else
        jacobian_row(f, EXPLAIN_TM(f, N->dy_t, N->dy_m), "I", shape(sh, sizeof sh, K, K),
                     "the identity (o = θ) -> nothing to do", "the identity ($o = \\theta$)", "nothing to do");
    for (int l = L - 1; l >= 0; l--) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1);
        if (N->bn[l]) {
            explain_bn_diag(f, l, diag, sizeof diag);
            snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->pre_t[l], N->pre_m[l]),
                     EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]));
            snprintf(formula, sizeof formula, EXPLAIN_TM(f, "diag(%s)", "\\mathrm{diag}(%s)"), diag);
            if (f->md) {
                char pb[32], lb[32];
                snprintf(pb, sizeof pb, strchr(N->pre_m[l], '_') ? "{%s}" : "%s", N->pre_m[l]);
                snprintf(lb, sizeof lb, strchr(N->lin_m[l], '_') ? "{%s}" : "%s", N->lin_m[l]);
                snprintf(structure, sizeof structure, "**diagonal**: $%s_i$ depends only on $%s_i$ (BatchNorm)", pb,
                         lb);
            } else
                snprintf(structure, sizeof structure, "DIAGONAL: %s_i depends only on %s_i -> element-wise ∘",
                         N->pre_t[l], N->lin_t[l]);
            jacobian_row(f, name, formula, shape(sh, sizeof sh, dout, dout), structure, structure,
                         "element-wise: $\\circ$");
        }
        snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]),
                 EXPLAIN_TM(f, N->in_t[l], N->in_m[l]));
        snprintf(formula, sizeof formula, EXPLAIN_TM(f, "W%dᵀ", "W_{%d}^\\top"), l + 1);
        jacobian_row(f, name, formula, shape(sh, sizeof sh, dout, din), "FULL -> matrix product", "**full**",
                     "a matrix product");
        if (l > 0) {
            explain_act_diag(f, cr_net_activation(net, l - 1), N, l - 1, diag, sizeof diag);
            snprintf(name, sizeof name, explain_sym(f, SYM_PARTIAL), EXPLAIN_TM(f, N->post_t[l - 1], N->post_m[l - 1]),
                     EXPLAIN_TM(f, N->pre_t[l - 1], N->pre_m[l - 1]));
            snprintf(formula, sizeof formula, EXPLAIN_TM(f, "diag(%s)", "\\mathrm{diag}(%s)"), diag);
            if (f->md) {
                /* h_{2} indexed is {h_{2}}_i: a second subscript needs braces in TeX */
                char hb[32], rb[32];
                snprintf(hb, sizeof hb, strchr(N->post_m[l - 1], '_') ? "{%s}" : "%s", N->post_m[l - 1]);
                snprintf(rb, sizeof rb, strchr(N->pre_m[l - 1], '_') ? "{%s}" : "%s", N->pre_m[l - 1]);
                snprintf(structure, sizeof structure, "**diagonal**: $%s_i$ depends only on $%s_i$", hb, rb);
            } else
                snprintf(structure, sizeof structure, "DIAGONAL: %s_i depends only on %s_i -> element-wise ∘",
                         N->post_t[l - 1], N->pre_t[l - 1]);
            jacobian_row(f, name, formula, shape(sh, sizeof sh, din, din), structure, structure,
                         "element-wise: $\\circ$");
        }
    }
    if (ex->sd)
        jacobian_row(f, explain_sym(f, SYM_DZ_DX), explain_sym(f, SYM_STD_JACOBIAN), shape(sh, sizeof sh, D, D),
                     "DIAGONAL: z_i = (x_i − μ_i)/s_i -> element-wise ⊘ s",
                     "**diagonal**: $z_i = (x_i - \\mu_i)/s_i$", "element-wise: $\\oslash\\, s$");

    sigmoid_notes(f, net, N);
    if (N->regress) { /* the squared error's row, and the output's diagonal link */
        char bt[512], bm[600];
        explain_out("\n%s\n",
                    EXPLAIN_TM(f,
                               "A row g times a diagonal matrix diag(d) is the element-wise product g ∘ d: that, and "
                               "only\n"
                               "that, is where \"∘\" comes from. The squared error J = ½ Σ_i (o_i − t_i)² has\n"
                               "∂J/∂o_i = o_i − t_i: its row is o − t, and the output's link makes it:",
                               "A row $g$ times a diagonal matrix $\\mathrm{diag}(d)$ is the element-wise product $g "
                               "\\circ d$: that, and only that, is where $\\circ$ comes from. "
                               "The squared error $J = \\tfrac12 \\sum_i (o_i - t_i)^2$ has $\\partial J/\\partial o_i "
                               "= o_i - t_i$: its row is $o - t$, and the output's link makes it:"));
        if (f->md) explain_out("\n");
        snprintf(bt, sizeof bt, "∂J/∂θ = (o − t) %s = %s", cr_net_output_activation(net, NULL) ? N->jac_t : "I",
                 N->g_t);
        snprintf(bm, sizeof bm, "\\frac{\\partial J}{\\partial \\theta} = (o - t)\\, %s = %s",
                 cr_net_output_activation(net, NULL) ? N->jac_m : "I", N->g_m);
        explain_display(f, bt, bm);
        return;
    }
    explain_out("\n%s\n",
                EXPLAIN_TM(f,
                           "A row g times a diagonal matrix diag(d) is the element-wise product g ∘ d: that, and only\n"
                           "that, is where \"∘\" comes from. Softmax's Jacobian is not diagonal, but fused with the\n"
                           "cross-entropy the first two links collapse:",
                           "A row $g$ times a diagonal matrix $\\mathrm{diag}(d)$ is the element-wise product $g "
                           "\\circ d$: that, and only that, is where $\\circ$ comes from. Softmax's Jacobian is not "
                           "diagonal, but fused with the cross-entropy the first two links collapse:"));
    if (f->md) explain_out("\n");
    explain_display(f, "∂J/∂θ = −(y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) = −y + (Σ_i y_i) ŷ = ŷ − y     (Σ_i y_i = 1)",
                    "\\frac{\\partial J}{\\partial \\theta} = -(y \\oslash \\hat{y})\\left(\\mathrm{diag}(\\hat{y}) - "
                    "\\hat{y}^\\top \\hat{y}\\right) = -y + \\Big(\\sum_i y_i\\Big) \\hat{y} = \\hat{y} - y");
}

/* One VJP step: step n, vector = computed as, shape, kind. */
static void vjp_step(const explain_format *f, int *step, const char *vec, const char *rhs, size_t width,
                     const char *kind) {
    char sh[48];
    shape(sh, sizeof sh, 1, width);
    if (f->md)
        explain_out("| %d | $%s$ | $%s$ | %s | %s |\n", (*step)++, vec, rhs, sh, kind);
    else
        explain_out("    step %d  %s = %s %s %s\n", (*step)++, explain_pad(vec, 4), explain_pad(rhs, 30),
                    explain_pad(sh, 8), kind);
}

void explain_section_order(const explain_format *f, const explain_example *ex, const explain_names *N,
                           const char *closed_t, const char *closed_m) {
    const cr_net *net = ex->net;
    const int L = cr_net_n_layers(net);
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, L);
    char buf[1024], bufm[1024], diag[128], vec[64], rhs[192];
    explain_heading(f, "3. Evaluation order: vector-Jacobian products, starting from the loss");
    explain_out(EXPLAIN_TM(f,
                           "In the row convention the product of section 2 is evaluated left to right,\n"
                           "(((%s · %s) · ∂θ/∂h) · …) · ∂r/∂x: it starts at the loss and walks back through\n"
                           "the network, each step a row vector times the next Jacobian. (Right to left is the order\n"
                           "of the column convention of section 4.) Reverse mode never forms a Jacobian matrix;\n"
                           "it carries one row vector back:\n\n",
                           "In the row convention the product of section 2 is evaluated **left to right**, "
                           "$(((%s \\cdot %s) \\cdot \\ldots) \\cdot \\partial r/\\partial x)$: "
                           "it starts at the loss and walks back through the network, each step a row vector times the "
                           "next Jacobian "
                           "(right to left is the order of the column convention of section 4). "
                           "Reverse mode never forms a Jacobian matrix; it carries one row vector back:\n\n"),
                EXPLAIN_TM(f, N->dJ_t, N->dJ_m), EXPLAIN_TM(f, N->dy_t, N->dy_m));
    int step = 1;
    if (f->md) explain_out("| step | vector | computed as | shape | kind |\n|---|---|---|---|---|\n");
    vjp_step(f, &step, EXPLAIN_TM(f, "g_θ", "g_\\theta = \\partial J/\\partial \\theta"), EXPLAIN_TM(f, N->g_t, N->g_m),
             K,
             !N->regress                             ? "fused softmax + cross-entropy" :
                 cr_net_output_activation(net, NULL) ? "squared error, then the output's diagonal (element-wise)" :
                                                       "the squared error's row (o = θ)");
    const char *cur = explain_sym(f, SYM_THETA);
    for (int l = L - 1; l >= 0; l--) {
        size_t din = cr_net_width(net, l);
        if (N->bn[l]) { /* g_r = g_n ∘ γ ⊘ √(v + ε): the BatchNorm's diagonal */
            explain_bn_diag(f, l, diag, sizeof diag);
            snprintf(vec, sizeof vec, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]));
            snprintf(rhs, sizeof rhs, EXPLAIN_TM(f, "g_%s ∘ %s", "g_{%s} \\circ %s"), cur, diag);
            vjp_step(f, &step, vec, rhs, cr_net_width(net, l + 1), "element-wise (BatchNorm, diagonal)");
            cur = EXPLAIN_TM(f, N->lin_t[l], N->lin_m[l]);
        }
        snprintf(vec, sizeof vec, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->in_t[l], N->in_m[l]));
        snprintf(rhs, sizeof rhs, EXPLAIN_TM(f, "g_%s W%dᵀ", "g_{%s} W_{%d}^\\top"), cur, l + 1);
        vjp_step(f, &step, vec, rhs, din, "matrix product");
        if (l > 0) {
            explain_act_diag(f, cr_net_activation(net, l - 1), N, l - 1, diag, sizeof diag);
            snprintf(vec, sizeof vec, explain_sym(f, SYM_GRAD), EXPLAIN_TM(f, N->pre_t[l - 1], N->pre_m[l - 1]));
            snprintf(rhs, sizeof rhs, EXPLAIN_TM(f, "g_%s ∘ %s", "g_{%s} \\circ %s"),
                     EXPLAIN_TM(f, N->post_t[l - 1], N->post_m[l - 1]), diag);
            vjp_step(f, &step, vec, rhs, din, "element-wise (diagonal Jacobian)");
            cur = EXPLAIN_TM(f, N->pre_t[l - 1], N->pre_m[l - 1]);
        }
    }
    if (ex->sd) vjp_step(f, &step, "g_x", explain_sym(f, SYM_G_OSLASH_SIGMA), D, "element-wise (the standardisation)");

    explain_out("\n%s\n\n", "Put together, the closed form:");
    snprintf(buf, sizeof buf, "∂J/∂x = %.900s        (1×%zu)", closed_t, D);
    snprintf(bufm, sizeof bufm, "\\frac{\\partial J}{\\partial x} = %.900s \\;\\in\\; \\mathbb{R}^{1\\times %zu}",
             closed_m, D);
    explain_display(f, buf, bufm);
    if (L == 2 && cr_net_activation(net, 0) == CR_ACT_SIGMOID)
        explain_out("%s",
                    EXPLAIN_TM(f,
                               "\nPrecedence: a matrix product binds before ∘. Read (g W2ᵀ ∘ h∘(1−h)) W1ᵀ as\n"
                               "((g W2ᵀ) ∘ (h∘(1−h))) W1ᵀ: first the row g W2ᵀ, then the element-wise product with\n"
                               "h∘(1−h) (the diagonal of ∂h/∂r), then that row times W1ᵀ. Never g (W2ᵀ ∘ …).\n",
                               "\nPrecedence: a matrix product binds before $\\circ$. Read $(g W_2^\\top \\circ h "
                               "\\circ (1-h)) W_1^\\top$ as "
                               "$((g W_2^\\top) \\circ (h \\circ (1-h))) W_1^\\top$: first the row $g W_2^\\top$, then "
                               "the element-wise product "
                               "with the diagonal of $\\partial h/\\partial r$, then that row times $W_1^\\top$; never "
                               "$g\\,(W_2^\\top \\circ \\ldots)$.\n"));
    else if (L > 1)
        explain_out(
            "%s",
            EXPLAIN_TM(f,
                       "\nPrecedence: a matrix product binds before ∘: (g Wᵀ ∘ d) means ((g Wᵀ) ∘ d), the row g Wᵀ\n"
                       "first, then the element-wise product with the diagonal d of the activation's Jacobian.\n",
                       "\nPrecedence: a matrix product binds before $\\circ$: $(g W^\\top \\circ d)$ means $((g "
                       "W^\\top) \\circ d)$, the row $g W^\\top$ first, "
                       "then the element-wise product with the diagonal $d$ of the activation's Jacobian.\n"));
}

void explain_section_columns(const explain_format *f, const explain_example *ex, const explain_names *N) {
    const cr_net *net = ex->net;
    const size_t D = cr_net_width(net, 0);
    const explain_format text = {0, 0}, md = {1, 0};
    char buf[1024], bufm[1024], diag_t[128], diag_m[128];
    explain_heading(f, "4. The same in the gradient (column) convention");
    explain_out("%s",
                EXPLAIN_TM(f,
                           "With column gradients ∇ = (∂/∂)ᵀ every step is ∇_in J = (∂out/∂in)ᵀ ∇_out J: the same "
                           "numbers,\n"
                           "transposed, and the diagonal Jacobians are symmetric, so ∘ stays ∘.\n\n",
                           "With column gradients $\\nabla = (\\partial/\\partial)^\\top$ every step is $\\nabla_{in} "
                           "J = (\\partial\\, out/\\partial\\, in)^\\top \\nabla_{out} J$: the same numbers, "
                           "transposed; diagonal Jacobians are symmetric, so $\\circ$ stays $\\circ$.\n\n"));
    if (N->regress) {
        snprintf(buf, sizeof buf, "∇_θ J = (%s)ᵀ", N->g_t);
        snprintf(bufm, sizeof bufm, "\\nabla_\\theta J = \\left(%s\\right)^\\top", N->g_m);
        explain_display(f, buf, bufm);
    } else
        explain_display(f, "∇_θ J = ŷᵀ − yᵀ", "\\nabla_\\theta J = \\hat{y}^\\top - y^\\top");
    const char *cur_t = explain_sym(&text, SYM_THETA), *cur_m = explain_sym(&md, SYM_THETA);
    for (int l = cr_net_n_layers(net) - 1; l >= 0; l--) {
        if (N->bn[l]) {
            explain_bn_diag(&text, l, diag_t, sizeof diag_t);
            explain_bn_diag(&md, l, diag_m, sizeof diag_m);
            snprintf(buf, sizeof buf, "∇_%s J = diag(%s) ∇_%s J = %s ∘ ∇_%s J", N->lin_t[l], diag_t, cur_t,
                     diag_t, cur_t);
            snprintf(bufm, sizeof bufm,
                     "\\nabla_{%s} J = \\mathrm{diag}(%s)\\, \\nabla_{%s} J = %s \\circ \\nabla_{%s} J", N->lin_m[l],
                     diag_m, cur_m, diag_m, cur_m);
            explain_display(f, buf, bufm);
            cur_t = N->lin_t[l];
            cur_m = N->lin_m[l];
        }
        snprintf(buf, sizeof buf, "∇_%s J = W%d ∇_%s J          (%zu×%zu)(%zu×1)", N->in_t[l], l + 1, cur_t,
                 cr_net_width(net, l), cr_net_width(net, l + 1), cr_net_width(net, l + 1));
        snprintf(bufm, sizeof bufm, "\\nabla_{%s} J = W_{%d}\\, \\nabla_{%s} J", N->in_m[l], l + 1, cur_m);
        explain_display(f, buf, bufm);
        if (l > 0) {
            explain_act_diag(&text, cr_net_activation(net, l - 1), N, l - 1, diag_t, sizeof diag_t);
            explain_act_diag(&md, cr_net_activation(net, l - 1), N, l - 1, diag_m, sizeof diag_m);
            snprintf(buf, sizeof buf, "∇_%s J = diag(%s) ∇_%s J = %s ∘ ∇_%s J", N->pre_t[l - 1], diag_t,
                     N->post_t[l - 1], diag_t, N->post_t[l - 1]);
            snprintf(bufm, sizeof bufm,
                     "\\nabla_{%s} J = \\mathrm{diag}(%s)\\, \\nabla_{%s} J = %s \\circ \\nabla_{%s} J",
                     N->pre_m[l - 1], diag_m, N->post_m[l - 1], diag_m, N->post_m[l - 1]);
            explain_display(f, buf, bufm);
            cur_t = N->pre_t[l - 1];
            cur_m = N->pre_m[l - 1];
        }
    }
    snprintf(buf, sizeof buf, "∇_x J = (∂J/∂x)ᵀ   (%zu×1)", D);
    snprintf(bufm, sizeof bufm,
             "\\nabla_x J = \\left(\\frac{\\partial J}{\\partial x}\\right)^\\top \\in \\mathbb{R}^{%zu\\times 1}", D);
    explain_display(f, buf, bufm);
}

cr_status explain_render(const explain_format *f, const explain_example *ex) {
    explain_names N;
    char closed_t[1024], closed_m[1024]; /* the closed form of ∂J/∂x, sections 3 and 6 */
    explain_names_make(&N, cr_net_n_layers(ex->net), ex->sd != NULL);
    explain_names_links(&N, ex->net);
    explain_names_head(&N, ex->net);
    explain_closed_form(ex->net, &N, ex->sd != NULL, closed_t, closed_m, sizeof closed_t);
    explain_section_title(f, ex);
    explain_section_symbols(f, ex, &N);
    explain_section_forward(f, ex, &N);
    explain_section_chain(f, ex, &N);
    explain_section_order(f, ex, &N, closed_t, closed_m);
    explain_section_columns(f, ex, &N);
    cr_status st = explain_section_numbers(f, ex, &N);
    if (st == CR_OK) explain_section_checks(f, ex, closed_t, closed_m);
    return st;
}
