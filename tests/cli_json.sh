#!/usr/bin/env bash
# JSON models typed by hand (src/io/model_json.c) through the real commands:
# the forward pass of every layout (W [in][out], PyTorch's weight [out][in],
# float32, input standardisation, a regressor and a classifier) against NumPy,
# the same network as a .safetensors file giving the same bytes, and a corpus
# of malformed files, each refused with exit 2 and one stderr line naming the
# file and the problem (syntax errors with their line, unknown keys, shapes that
# do not chain, non-finite numbers, nesting and size limits, ...).
# usage: tests/cli_json.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

/usr/bin/python3 - "$T" <<'PY' || { echo "cli_json: cannot write the cases (python3 + numpy)"; exit 1; }
import json, os, sys
import numpy as np
t = sys.argv[1]
rng = np.random.default_rng(3)
def w(name, text):
    with open(os.path.join(t, name), "w" if isinstance(text, str) else "wb") as f: f.write(text)
D, H, K, N = 4, 5, 3, 6
W1 = rng.standard_normal((D, H)); b1 = rng.standard_normal(H)
W2 = rng.standard_normal((H, K)); b2 = rng.standard_normal(K)
x = rng.standard_normal((N, D))
np.save(os.path.join(t, "x.npy"), x)
sig = lambda z: 1 / (1 + np.exp(-z))
def softmax(z): e = np.exp(z - z.max(1, keepdims=True)); return e / e.sum(1, keepdims=True)
# a regressor: sigmoid hidden layer, sigmoid output, squared error (the default head)
w("reg.json", json.dumps({"layers": [
    {"W": W1.tolist(), "b": b1.tolist(), "activation": "sigmoid"},
    {"W": W2.tolist(), "b": b2.tolist(), "activation": "sigmoid"}]}, indent=1))
np.save(os.path.join(t, "reg_ref.npy"), sig(sig(x @ W1 + b1) @ W2 + b2))
# a classifier in PyTorch's layout with input standardisation; its output is the softmax
mean, std = rng.standard_normal(D), rng.uniform(0.5, 2, D)
w("cls.json", json.dumps({"layers": [
    {"weight": W1.T.tolist(), "bias": b1.tolist(), "activation": "tanh"},
    {"weight": W2.T.tolist(), "activation": "softmax"}],
    "input": {"mean": mean.tolist(), "std": std.tolist()}}))
np.save(os.path.join(t, "cls_ref.npy"), softmax(np.tanh(((x - mean) / std) @ W1 + b1) @ W2))
# float32
w("f32.json", json.dumps({"dtype": "float32", "layers": [
    {"W": W1.tolist(), "b": b1.tolist(), "activation": "relu"},
    {"W": W2.tolist(), "b": b2.tolist(), "activation": "none"}], "head": "squared-error"}))
W1f, b1f, W2f, b2f = (a.astype(np.float32).astype(np.float64) for a in (W1, b1, W2, b2))
np.save(os.path.join(t, "f32_ref.npy"), np.maximum(x @ W1f + b1f, 0) @ W2f + b2f)
# the same regressor as safetensors (fc{i}.weight [out, in]) for the byte comparison
import struct
def st(tensors, meta):
    h, data = {"__metadata__": meta}, b""
    for name, a in tensors:
        b = np.ascontiguousarray(a, "<f8").tobytes()
        h[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    j = json.dumps(h).encode(); j += b" " * ((8 - len(j) % 8) % 8)
    return struct.pack("<Q", len(j)) + j + data
w("reg.safetensors", st([("fc1.weight", W1.T), ("fc1.bias", b1), ("fc2.weight", W2.T), ("fc2.bias", b2)],
                        {"format": "chainrule/1", "activations": "sigmoid,sigmoid", "head": "squared-error"}))

good = lambda **kw: json.dumps({"layers": [{"W": [[1, 2], [3, 4]], "b": [0, 0], "activation": "sigmoid"},
                                           {"W": [[1], [1]], "activation": "none"}], **kw})
cases = {
    "syntax": '{"layers": [\n  {"W": [[1, 2]],\n   "b": [0 0]}\n]}',
    "trailing": good() + "\n}",
    "top_array": '  {"layers": 3}',
    "unknown_key": good(weights=[1]),
    "layer_key": '{"layers": [{"W": [[1]], "bias": [0], "activaton": "relu"}]}',
    "no_activation": '{"layers": [{"W": [[1]], "b": [0]}]}',
    "both_w": '{"layers": [{"W": [[1]], "weight": [[1]], "activation": "none"}]}',
    "chain": '{"layers": [{"W": [[1, 2], [3, 4]], "activation": "relu"}, {"W": [[1], [2], [3]], "activation": "none"}]}',
    "bias_len": '{"layers": [{"W": [[1, 2]], "b": [0, 0, 0], "activation": "none"}]}',
    "ragged": '{"layers": [{"W": [[1, 2], [3]], "activation": "none"}]}',
    "empty_row": '{"layers": [{"W": [[]], "activation": "none"}]}',
    "string_num": '{"layers": [{"W": [[1, "2"]], "activation": "none"}]}',
    "inf": '{"layers": [{"W": [[1, 1e999]], "activation": "none"}]}',
    "f32_range": '{"dtype": "float32", "layers": [{"W": [[1, 1e39]], "activation": "none"}]}',
    "dtype": '{"dtype": "float16", "layers": [{"W": [[1]], "activation": "none"}]}',
    "no_layers": '{"layers": []}',
    "hidden_softmax": '{"layers": [{"W": [[1]], "activation": "softmax"}, {"W": [[1]], "activation": "none"}]}',
    "bad_act": '{"layers": [{"W": [[1]], "activation": "sigmoid\\nX"}]}',
    "head": good(head="mse"),
    "softmax_mse": '{"layers": [{"W": [[1, 2]], "activation": "softmax"}], "head": "squared-error"}',
    "head_loss": good(head="squared-error", loss="squared-error"),
    "std": good(input={"mean": [0, 0], "std": [1, 0]}),
    "mean_len": good(input={"mean": [0], "std": [1, 1]}),
    "input_half": good(input={"mean": [0, 0]}),
    "deep": '{"layers": [[[[[[[[[1]]]]]]]]]}',
    "too_many": json.dumps({"layers": [{"W": [[1]], "activation": "relu"}] * 70}),
    "nul": b'{"layers": \x00 []}',
}
for k, v in cases.items(): w("bad_" + k + ".json", v)
w("bad_huge.json", '{"layers": [{"W": [[' + "0," * (9 << 20) + '0]], "activation": "none"}]}')
PY

# the forward pass against NumPy, and the safetensors twin
for m in reg cls f32; do
  expect 0 "predict $m.json" -- "$CR" predict --model "$T/$m.json" --inputs "$T/x.npy" --out "$T/$m.npy"
  /usr/bin/python3 - "$T" "$m" <<'PY' && ok || bad "predict $m.json differs from NumPy"
import sys, numpy as np
t, m = sys.argv[1:]
got, ref = np.load(f"{t}/{m}.npy"), np.load(f"{t}/{m}_ref.npy")
tol = 1e-6 if m == "f32" else 1e-13
err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
if got.shape != ref.shape or err > tol: print(m, got.shape, ref.shape, err); sys.exit(1)
PY
done
expect 0 "grad reg.json" -- "$CR" grad --model "$T/reg.json" --inputs "$T/x.npy" --targets "$T/reg_ref.npy" --out "$T/gj.npy"
expect 0 "grad reg.safetensors" -- "$CR" grad --model "$T/reg.safetensors" --inputs "$T/x.npy" --targets "$T/reg_ref.npy" --out "$T/gs.npy"
cmp -s "$T/gj.npy" "$T/gs.npy" && ok || bad "grad: the JSON model and its safetensors twin differ"
expect 0 "predict reg.safetensors" -- "$CR" predict --model "$T/reg.safetensors" --inputs "$T/x.npy" --out "$T/rs.npy"
cmp -s "$T/rs.npy" "$T/reg.npy" && ok || bad "predict: the JSON model and its safetensors twin differ"

# writing JSON: convert and init write it for a name ending in .json; safetensors -> JSON ->
# safetensors gives the same bytes (float64 and float32, with an input standardisation)
expect 0 "convert (chainrule's own header)" -- "$CR" convert --model "$T/reg.safetensors" --out "$T/reg1.safetensors"
expect 0 "convert to JSON" -- "$CR" convert --model "$T/reg1.safetensors" --out "$T/reg2.json"
expect 0 "convert JSON back" -- "$CR" convert --model "$T/reg2.json" --out "$T/reg2.safetensors"
cmp -s "$T/reg1.safetensors" "$T/reg2.safetensors" && ok || bad "safetensors -> JSON -> safetensors changed the file (float64)"
expect 0 "init float32 as JSON" -- "$CR" init --layers 5,4,3 --dtype float32 --seed 3 --out "$T/i.json"
expect 0 "init float32" -- "$CR" init --layers 5,4,3 --dtype float32 --seed 3 --out "$T/i.safetensors"
expect 0 "JSON to safetensors" -- "$CR" convert --model "$T/i.json" --out "$T/i2.safetensors"
cmp -s "$T/i.safetensors" "$T/i2.safetensors" && ok || bad "init --out X.json does not read back to init's safetensors (float32)"
expect 0 "cls.json round trip" -- "$CR" convert --model "$T/cls.json" --out "$T/cls.safetensors"
expect 0 "cls.json round trip 2" -- "$CR" convert --model "$T/cls.safetensors" --to json --out "$T/cls2.txt"
expect 0 "cls.json round trip 3" -- "$CR" convert --model "$T/cls2.txt" --out "$T/cls3.safetensors"
cmp -s "$T/cls.safetensors" "$T/cls3.safetensors" && ok || bad "standardised classifier: safetensors -> JSON -> safetensors changed the file"
expect 0 "predict --help" -- "$CR" predict --help
grep -A3 "^  --model " "$T/out" | grep -q "JSON" && ok || bad "predict --help: --model does not say JSON"

# malformed: exit 2, one line naming the file and the problem, nothing written
bad_case() { # NAME TEXT
  expect 2 "$1" -- "$CR" predict --model "$T/bad_$1.json" --inputs "$T/x.npy" --out "$T/o_$1.npy"
  one_line_error "bad_$1.json: $2" "$1"
  no_file "$T/o_$1.npy" "$1"
}
bad_case syntax "line 3: JSON syntax error"
bad_case trailing "line 2: text after the JSON object"
bad_case top_array "\"layers\" must be a non-empty array"
bad_case unknown_key "the model: unknown key \"weights\" (expected layers, head (or loss), dtype, input)"
bad_case layer_key "layers[0]: unknown key \"activaton\""
bad_case no_activation "layers[0] needs \"activation\""
bad_case both_w "layers[0] needs one of \"W\""
bad_case chain "layers[1].W has 3 rows (inputs) but layers[0] has 2 outputs"
bad_case bias_len "layers[0].b has 3 values but the layer has 2 outputs"
bad_case ragged "layers[0].W[1] must be a row of 2 numbers"
bad_case empty_row "layers[0].W[0] is empty"
bad_case string_num "layers[0].W[0][1] is not a number"
bad_case inf "layers[0].W[0][1] is not a finite number"
bad_case f32_range "layers[0].W[0][1] = 1e+39 is out of float32's range"
bad_case dtype "\"dtype\" must be \"float64\""
bad_case no_layers "\"layers\" must be a non-empty array"
bad_case hidden_softmax "layers[0].activation \"softmax\" is not a hidden layer's activation"
bad_case bad_act "layers[0].activation \"sigmoid?X\" is not an output activation"
bad_case head "\"head\" must be \"squared-error\" or \"softmax-cross-entropy\""
bad_case softmax_mse "the last activation \"softmax\" makes a classifier"
bad_case head_loss "both \"head\" and \"loss\""
bad_case std "input.std[1] is 0; a standard deviation must be > 0"
bad_case mean_len "input.mean has 1 values but the model has 2 inputs"
bad_case input_half "\"input\" needs both \"mean\" and \"std\""
bad_case deep "line 1: JSON nested deeper than 8 levels"
bad_case too_many "70 layers (at most"
bad_case nul "line 1: a NUL byte"
bad_case huge "a JSON model of 18874416 bytes (at most 16777216"

echo "cli_json: $pass passed, $fail failed"
[ "$fail" = 0 ]
