/* chainrule convert: models between safetensors and ONNX; PyTorch state dicts in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli.h"

static const char *const convert_help =
    "usage: chainrule convert --model IN --out OUT [--activations LIST] [--to FORMAT]\n"
    "\n"
    "Reads a model of any kind chainrule knows (recognised by its content) and writes it\n"
    "as a chainrule model (safetensors), as ONNX or as JSON (a model to read and edit by\n"
    "hand: W [in][out], numbers that read back bit for bit). Weights are copied bit for bit.\n"
    "\n"
    "State dicts: the nn.Linear layers '<p>.weight' [out, in] and '<p>.bias' in the\n"
    "natural order of p (nn.Sequential's 0, 2, 4, ..., also after a leading Flatten;\n"
    "fc1, fc2, ...); a missing bias (bias=False) is zero. ONNX output: opset 13,\n"
    "Gemm per layer, [Sub, Div for the input standardisation], output 'logits'; a\n"
    "network with an output activation ends in it (its ONNX form:\n"
    "%s),\n"
    "and a regressor's head is kept in the metadata_props 'chainrule.head'.\n"
    "\n"
    "options:\n";

/* The ONNX ops the writer writes activations as: "Sigmoid, Tanh, Relu". */
static const char *onnx_act_ops(void) {
    static char buf[512];
    size_t n = 0;
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
        const char *op = in->onnx_pattern == CR_ACT_ONNX_SIGMOID_MUL ? "Sigmoid+Mul" : in->onnx_op;
        if (cr_onnx_supported((cr_activation)a) && n + strlen(op) + 3 < sizeof buf)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "", op);
    }
    return buf;
}

/* Splits "relu,tanh" into activations; returns the count or -1 (message printed). */
static int parse_act_list(const char *s, cr_activation *act) {
    int n = 0;
    char tok[32];
    for (const char *p = s;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (n == CR_MAX_LAYERS || len >= sizeof tok) {
            cli_error("convert: --activations: too many or too long entries in '%s'", s);
            return -1;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (cr_activation_parse(tok, &act[n]) != CR_OK) {
            cli_error("convert: --activations: '%s' is not %s", tok, cli_activation_names(" or "));
            return -1;
        }
        n++;
        if (!c) break;
        p = c + 1;
    }
    return n;
}

/* Loads IN: a state dict (with act) or any model file. */
static int load_any(const char *path, const char *acts, cr_model *model, const char **kind) {
    unsigned char *buf;
    size_t len;
    if (cr_read_file(path, SIZE_MAX, &buf, &len)) return cli_io_error();
    cr_model_file_kind k = cr_model_file_detect(buf, len);
    int rc = CLI_OK;
    cr_safetensors st = {0};
    int state_dict = 0;
    if (k == CR_MODEL_FILE_SAFETENSORS && cr_safetensors_parse(path, buf, len, &st) == 0)
        state_dict = cr_safetensors_meta(&st, "format") == NULL;
    if (state_dict) {
        cr_activation act[CR_MAX_LAYERS];
        int n_act = acts ? parse_act_list(acts, act) : 0;
        *kind = "PyTorch state dict";
        if (n_act < 0) rc = CLI_USAGE;
        else if (cr_model_from_state_dict(path, &st, n_act, act, model)) {
            if (!acts && strstr(cr_last_error(), "activation"))
                rc = cli_error("%s: a state dict without chainrule metadata: give the hidden "
                               "activations with --activations (e.g. relu, or relu,tanh)", path);
            else rc = cli_io_error();
        }
    } else if (acts) {
        rc = cli_error("convert: --activations is only for PyTorch state dicts; %s names its "
                       "own activations", path);
    } else {
        *kind = k == CR_MODEL_FILE_ONNX ? "ONNX" : k == CR_MODEL_FILE_JSON ? "JSON" : "chainrule safetensors";
        if (cr_model_parse_file(path, buf, len, model)) rc = cli_io_error();
    }
    cr_safetensors_free(&st);
    free(buf);
    return rc;
}

int cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *acts = NULL, *to = NULL, *head = NULL;
    const cli_opt opts[] = {
        CLI_FILE("--model", &in, "IN", 1, CLI_FILE_MODEL,
                 "the model, or a PyTorch state dict saved as safetensors\n"
                 "(safetensors.torch.save_file(model.state_dict(), IN))"),
        CLI_FILE("--out", &out, "OUT", 1, CLI_FILE_MODEL_OUT, "where to write"),
        CLI_STR("--to", &to, "onnx|safetensors|json", "the output format (default: from the name of OUT, any case)"),
        CLI_STR("--head", &head, "HEAD",
                "what the loss does with the output, stored in OUT:\n"
                "softmax-cross-entropy (default: a classifier; a final\n"
                "Softmax in ONNX) or squared-error (a regressor, which an\n"
                "ONNX graph cannot tell from logits)"),
        CLI_STR("--activations", &acts, "LIST",
                "for a state dict: the hidden activations, as init's\n"
                "--activation takes them (relu, or relu,tanh per layer);\n"
                "the last layer gives the logits"),
        CLI_END,
    };
    char help[2048];
    snprintf(help, sizeof help, convert_help, onnx_act_ops());
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    int onnx = cli_out_is_onnx(out), json = !onnx && cli_out_is_json(out);
    if (to) {
        onnx = !strcmp(to, "onnx"), json = !strcmp(to, "json");
        if (!onnx && !json && strcmp(to, "safetensors"))
            return cli_error("convert: --to: '%s' is not onnx, safetensors or json", to);
    }
    cr_model model;
    const char *kind = "";
    memset(&model, 0, sizeof model);
    cr_head h = CR_HEAD_SOFTMAX_CE;
    if (head && cr_head_parse(head, &h) != CR_OK)
        return cli_error("--head: '%s' is not softmax-cross-entropy or squared-error", head);
    rc = load_any(in, acts, &model, &kind);
    if (rc != CLI_OK) return rc;
    if (head) (void)cr_net_set_head(model.net, h); /* a parsed head: CR_OK */
    if (cr_net_head(model.net) == CR_HEAD_SOFTMAX_CE && cr_net_width(model.net, cr_net_n_layers(model.net)) < 2) {
        cr_model_free(&model);
        return cli_error("%s: the network has one output, whose softmax is always 1 (a regressor? "
                         "give --head squared-error)", in);
    }
    if (onnx ? cr_onnx_write(out, &model)
             : json ? cr_model_json_write(out, &model) : cr_model_save_full(out, &model))
        rc = cli_io_error();
    if (rc == CLI_OK) {
        const cr_net *net = model.net;
        printf("wrote %s (%s) from %s (%s): ", out,
               onnx ? "ONNX" : json ? "JSON" : "chainrule safetensors", in, kind);
        for (int l = 0; l <= cr_net_n_layers(net); l++) printf("%s%zu", l ? "," : "", cr_net_width(net, l));
        for (int l = 0; l + 1 < cr_net_n_layers(net); l++)
            printf("%s%s", l ? "," : ", hidden ", cr_activation_name(cr_net_activation(net, l)));
        printf(", %s%s", cr_dtype_name(cr_net_dtype(net)),
               model.input_mean.data ? ", input standardisation" : "");
        if (!cr_net_is_plain_classifier(net)) {
            char t[160];
            cli_output_text(net, t, sizeof t);
            printf("; %s", t);
        }
        printf("\n");
    }
    cr_model_free(&model);
    return rc;
}
