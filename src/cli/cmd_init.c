/* chainrule init: write a randomly initialised model. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const init_help =
    "usage: chainrule init --layers D,H,...,K --out PATH [options]\n"
    "\n"
    "Writes a network with random weights (zero biases): as ONNX when PATH ends\n"
    "in .onnx, as a chainrule model (safetensors) for any other name.\n"
    "\n"
    "options:\n";

int cmd_init(int argc, char **argv) {
    const char *layers = NULL, *activation = "sigmoid", *init = "auto", *dtype_s = "float32";
    const char *out = NULL;
    uint64_t seed = 1;
    char act_help[512], auto_help[512]; /* the lists from the activation table */
    snprintf(act_help, sizeof act_help,
             "hidden activation (default sigmoid), one of\n%s;\nor one per hidden layer, e.g. relu,tanh",
             cli_activation_names(", "));
    snprintf(auto_help, sizeof auto_help, "auto (default): Xavier/Glorot for %s,\nHe for %s",
             cli_activation_names_init(CR_INIT_XAVIER), cli_activation_names_init(CR_INIT_HE));
    const cli_opt opts[] = {
        CLI_REQ_STR("--layers", &layers, "D,H,...,K", "layer widths, input first, classes last"),
        CLI_STR("--activation", &activation, "NAME", act_help),
        CLI_STR("--init", &init, "auto|xavier|he", auto_help),
        CLI_STR("--dtype", &dtype_s, "float32|float64", "parameter type (default float32)"),
        CLI_U64("--seed", &seed, "N", "random seed (default 1)"),
        CLI_FILE("--out", &out, "PATH", 1, CLI_FILE_MODEL_OUT, "where to write the model"),
        CLI_END,
    };
    int status;
    if (!cli_parse(argc, argv, opts, init_help, &status)) return status;

    size_t dims[CR_MAX_LAYERS + 1];
    int n_layers;
    cr_activation act[CR_MAX_LAYERS];
    cr_dtype dtype;
    cr_init scheme;
    if (!cli_parse_layers("--layers", layers, dims, &n_layers) ||
        !cli_parse_activations("--activation", activation, n_layers - 1, act) ||
        !cli_parse_dtype("--dtype", dtype_s, &dtype))
        return CLI_USAGE;
    if (!strcmp(init, "auto")) scheme = CR_INIT_AUTO;
    else if (!strcmp(init, "xavier")) scheme = CR_INIT_XAVIER;
    else if (!strcmp(init, "he")) scheme = CR_INIT_HE;
    else return cli_error("--init: '%s' is not auto, xavier or he", init);

    cr_net *net;
    cr_status st = cr_net_create(&net, dtype, n_layers, dims, act);
    if (st != CR_OK) return cli_error("init: cannot create the network: %s", cr_status_string(st));
    cr_net_init(net, scheme, seed);
    cr_model model;
    memset(&model, 0, sizeof model);
    model.net = net; /* borrowed */
    int rc = cli_model_write(out, &model) == 0 ? CLI_OK : cli_io_error();
    if (rc == CLI_OK)
        printf("wrote %s: %s, %zu parameters, %s\n", out, layers, cr_net_n_params(net),
               cr_dtype_name(dtype));
    cr_net_free(net);
    return rc;
}
