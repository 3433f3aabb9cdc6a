/*
 * Model files: which format a file is (cr_model_file_detect), parsing it by
 * its content (safetensors through model.c, ONNX through onnx_import.c, JSON
 * through model_json.c;
 * PyTorch pickles are refused with the way out), and loading it from a path.
 * The model object, its safetensors form and saving are in model.c.
 */
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

cr_model_file_kind cr_model_file_detect(const unsigned char *buf, size_t len) {
    if (!buf) return CR_MODEL_FILE_UNKNOWN;
    if (len >= 4 && !memcmp(buf, "PK\3\4", 4)) return CR_MODEL_FILE_TORCH_ZIP;
    /* safetensors before pickles: a header of 0x280 + k·0x100 bytes (k < 4) starts with the
       bytes of a pickle's protocol mark (0x80, 2..5); its '{' at byte 8 and a length that fits
       the file tell it apart (a torch pickle's byte 8 is its magic number's 0xf9) */
    uint64_t hl = 0;
    for (int b = 7; len >= 9 && b >= 0; b--) hl = hl << 8 | buf[b];
    if (len >= 9 && buf[8] == '{' && hl <= len - 8) return CR_MODEL_FILE_SAFETENSORS;
    if (len >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5) return CR_MODEL_FILE_PICKLE;
    if (cr_model_json_looks_like(buf, len)) return CR_MODEL_FILE_JSON;
    if (len >= 9 && buf[8] == '{') return CR_MODEL_FILE_SAFETENSORS;
    if (cr_onnx_looks_like(buf, len)) return CR_MODEL_FILE_ONNX;
    return CR_MODEL_FILE_UNKNOWN;
}

/* from_file: name is the path of the file whose bytes buf holds (an ONNX model's
   external data is then read from its folder). */
static int model_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out,
                       int keep_extra, int from_file) {
    memset(out, 0, sizeof *out);
    switch (cr_model_file_detect(buf, len)) {
    case CR_MODEL_FILE_TORCH_ZIP:
    case CR_MODEL_FILE_PICKLE:
        return cr_fail(CR_ERR_FORMAT, "%s: a PyTorch pickle (torch.save); chainrule does not read "
                                 "pickles: export the model with torch.onnx.export(model, x, "
                                 "\"model.onnx\"), or save its state dict with "
                                 "safetensors.torch.save_file(model.state_dict(), "
                                 "\"sd.safetensors\") and run chainrule convert", name);
    case CR_MODEL_FILE_JSON: return cr_model_json_parse(name, buf, len, out);
    case CR_MODEL_FILE_ONNX:
        return from_file ? cr_onnx_parse_file(name, buf, len, out)
                         : cr_onnx_parse(name, buf, len, out);
    default: break; /* safetensors, or the safetensors reader names what is wrong */
    }
    cr_safetensors st;
    if (cr_safetensors_parse(name, buf, len, &st)) return -1;
    int rc = cr_io_model_build(name, &st, out, keep_extra);
    cr_safetensors_free(&st);
    return rc;
}

cr_status cr_model_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out) {
    if (!name) name = "(model)";
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    return cr_io_status(model_parse(name, buf, len, out, 1, 0));
}

cr_status cr_model_parse_file(const char *path, const unsigned char *buf, size_t len, cr_model *out) {
    if (!path) return cr_io_status(cr_model_parse(NULL, buf, len, out));
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path);
    return cr_io_status(model_parse(path, buf, len, out, 1, 1));
}

static int model_read(const char *path, cr_model *out, int keep_extra) {
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (cr_read_file(path, SIZE_MAX, &buf, &len)) return -1;
    int rc = model_parse(path, buf, len, out, keep_extra, 1);
    free(buf);
    return rc;
}

cr_status cr_model_load_full(const char *path, cr_model *out) {
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    return cr_io_status(model_read(path, out, 1));
}

cr_status cr_model_load(const char *path, cr_net **out) {
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    *out = NULL;
    cr_model m;
    if (model_read(path, &m, 0)) return cr_io_status(-1);
    *out = m.net; /* input.mean/input.std are its link 0 */
    m.net = NULL;
    cr_model_free(&m);
    return CR_OK;
}
