/* chainrule: the command. Dispatches to one subcommand per file (cmd_*.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli.h"

static const cli_command commands[] = {
    {"explain", "derive dJ/dx for a network and prove it numerically four ways", cmd_explain},
    {"init", "write a randomly initialised model (safetensors, ONNX or JSON by its name)", cmd_init},
    {"convert", "models between safetensors and ONNX; PyTorch state dicts in", cmd_convert},
    {"grad", "dJ/dx per example, or the parameter gradients, of a model on data", cmd_grad},
    {"gradcheck", "finite-difference check of every gradient, layer by layer", cmd_gradcheck},
    {"train", "train a network on a dataset (checkpoints, --resume)", cmd_train},
    {"eval", "accuracy, mean loss and confusion matrix of a model on a dataset", cmd_eval},
    {"predict", "class probabilities (.npy) and top labels of a model for inputs", cmd_predict},
    {"jacobian", "full K x D input Jacobian per example (rev, fwd or closed form)", cmd_jacobian},
    {"jvp", "directional derivative J v of the outputs (forward mode)", cmd_jvp},
    {"attribute", "attribution maps: saliency, input x gradient, integrated gradients, smoothgrad", cmd_attribute},
    {"attack", "FGSM / PGD adversarial examples, robust accuracy against eps", cmd_attack},
    {"info", "what chainrule reads from a model file: layers, links, head, parameters", cmd_info},
    {"certify", "proofs over regions: VNN-COMP verdicts, certified accuracy against eps", cmd_certify},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

static void usage(FILE *out) {
    fprintf(out,
            "chainrule %s: compute, explain and verify derivatives of neural networks\n\n"
            "usage: chainrule COMMAND [OPTIONS]    (chainrule COMMAND --help for its options)\n\n"
            "commands:\n",
            CR_VERSION_STRING);
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "help", "this text");
    fprintf(out, "\nchainrule --list-activations: the activations, one a line (name, ONNX form)\n");
    fprintf(out, "\nexit status: 0 success, 1 a check or run failed (also out of memory), 2 bad usage\n"
                 "or bad input\n");
}

/* CHAINRULE_ISA: the kernel set the library will use (chainrule.h); a name it
   does not know, or a set this CPU cannot run, is refused. */
static int select_isa(void) {
    const char *env = getenv("CHAINRULE_ISA");
    if (!env || !*env) return CLI_OK;
    cr_isa isa;
    if (cr_isa_from_name(env, &isa) != CR_OK)
        return cli_error("CHAINRULE_ISA=%s: unknown kernel set (portable, avx2 or avx512)", env);
    if (cr_isa_select(isa) != CR_OK)
        return cli_error("CHAINRULE_ISA=%s: this CPU cannot run that kernel set (best here: %s)", env,
                         cr_isa_name(cr_isa_best()));
    return CLI_OK;
}

int main(int argc, char **argv) {
    if (select_isa() != CLI_OK) return CLI_USAGE;
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2) { /* chainrule help CMD == chainrule CMD --help */
            for (size_t i = 0; i < n_commands; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return cli_exit_status(commands[i].run(2, help_argv));
                }
            return cli_error("help: unknown command '%s'", argv[2]);
        }
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("chainrule %s (gemm: %s; kernels: %s)\n", CR_VERSION_STRING,
               cr_have_cblas() ? "CBLAS" : "portable C", cr_isa_name(cr_isa_current()));
        return CLI_OK;
    }
    if (!strcmp(name, "--list-activations")) { /* from the op table: NAME ONNX-FORM WRITTEN */
        for (int a = 0; a < CR_ACT_COUNT; a++) {
            const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
            const char *form = in->onnx_pattern == CR_ACT_ONNX_SIGMOID_MUL ? "Sigmoid+Mul"
                               : in->onnx_op                             ? in->onnx_op
                                                                         : "-";
            printf("%s %s", in->name, form);
            if (!isnan(in->onnx_alpha)) printf(":alpha=%g", in->onnx_alpha); /* LeakyRelu's */
            printf(" %s\n", cr_onnx_supported((cr_activation)a) ? "export" : "import-only");
        }
        return CLI_OK;
    }
    for (size_t i = 0; i < n_commands; i++)
        if (!strcmp(name, commands[i].name)) return cli_exit_status(commands[i].run(argc - 1, argv + 1));
    cli_error("unknown command '%s' (chainrule help lists them)", name);
    return CLI_USAGE;
}
