/*
 * The activations in ONNX, from their rows of the op table (cr_activation_info:
 * onnx_op, onnx_opset, onnx_alpha, onnx_pattern): what the writer can write.
 */
#include "chainrule_io.h"

int cr_onnx_supported(cr_activation act) {
    const cr_activation_info *in = cr_activation_info_get(act);
    if (!in) return 0;
    if (in->onnx_op && in->onnx_opset <= CR_ONNX_OPSET) return 1;
    return in->onnx_pattern == CR_ACT_ONNX_SIGMOID_MUL;
}
