#!/usr/bin/python3
"""`chainrule info` against the PyTorch modules the files were exported from.

PyTorch MLPs (torch.onnx.export, opset 13, eval mode), each with an input
standardisation ((x - mean) / std as constants before the first Linear) or
none, BatchNorm1d after some Linear layers, different activations, and a final
Softmax or none; and the same nets written by chainrule as safetensors and
JSON (convert). `info --json` must give what the module has: the widths of
every Linear, the activation after each hidden one, which Linear a BatchNorm
follows and its eps, the input link, the output (Softmax or not) and the
parameter count (weights and biases of the Linear layers; BatchNorm's four
vectors per feature are links, not parameters). The text output names the same
widths and counts. A file chainrule cannot read is refused with one line, exit 2.

Run as:  /usr/bin/python3 tests/torch_info.py path/to/chainrule
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError:
    print("torch or numpy not installed: skipped")
    sys.exit(77)

CR = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchutil  # noqa: E402  (check and the tally, shared)
from torchutil import check  # noqa: E402


class Standardise(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        g = torch.Generator().manual_seed(d)
        self.mean = torch.rand(d, generator=g)
        self.std = 0.5 + torch.rand(d, generator=g)

    def forward(self, x):
        return (x - self.mean) / self.std


ACTS = {torch.nn.ReLU: "relu", torch.nn.Sigmoid: "sigmoid", torch.nn.Tanh: "tanh"}


def expected(mods):
    """What info must say, read off the module list."""
    layers, params, link, softmax = [], 0, None, False
    for m in mods:
        if isinstance(m, Standardise):
            link = "sub-div"
        elif isinstance(m, torch.nn.Linear):
            layers.append({"in": m.in_features, "out": m.out_features, "link": None, "activation": None})
            params += m.weight.numel() + m.bias.numel()
        elif isinstance(m, torch.nn.BatchNorm1d):
            layers[-1]["link"] = "batchnorm"
            layers[-1]["eps"] = m.eps
        elif type(m) in ACTS:
            layers[-1]["activation"] = ACTS[type(m)]
        elif isinstance(m, torch.nn.Softmax):
            softmax = True
    return layers, params, link, softmax


def info(path, *extra):
    p = subprocess.run([CR, "info", path, *extra], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def bn(n, seed):
    b = torch.nn.BatchNorm1d(n, eps=1e-3 * (seed + 1))
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        b.running_mean.copy_(torch.rand(n, generator=g))
        b.running_var.copy_(0.5 + torch.rand(n, generator=g))
        b.weight.copy_(0.5 + torch.rand(n, generator=g))
        b.bias.copy_(torch.rand(n, generator=g))
    return b


def nets():
    L = torch.nn.Linear
    yield "plain relu", [L(10, 8), torch.nn.ReLU(), L(8, 4)]
    yield "standardised, BatchNorm, sigmoid, softmax", [Standardise(12), L(12, 9), bn(9, 0), torch.nn.Sigmoid(),
                                                        L(9, 7), torch.nn.Tanh(), L(7, 3), torch.nn.Softmax(dim=1)]
    yield "two BatchNorms, deep", [L(6, 11), bn(11, 1), torch.nn.ReLU(), L(11, 5), bn(5, 2), torch.nn.Tanh(),
                                   L(5, 5), torch.nn.Sigmoid(), L(5, 2)]


def test_net(d, name, mods):
    torch.manual_seed(len(name))
    net = torch.nn.Sequential(*mods).eval()
    layers, params, link, softmax = expected(mods)
    path = os.path.join(d, name.replace(" ", "_").replace(",", "") + ".onnx")
    torch.onnx.export(net, torch.zeros(2, layers[0]["in"]), path, opset_version=13)
    rc, out, err = info(path, "--json")
    check(rc == 0, f"{name}: info exits 0 ({err.strip()})")
    if rc:
        return
    j = json.loads(out)
    got = [{k: v for k, v in lay.items()} for lay in j["layers"]]
    for g, w in zip(got, layers):  # eps: float32 in the graph
        if "eps" in w:
            check(abs(g.get("eps", -1) - w["eps"]) <= 1e-7 * w["eps"], f"{name}: BatchNorm eps {g.get('eps')} vs {w['eps']}")
            g.pop("eps", None), w.pop("eps")
    check(got == layers, f"{name}: layers {got} vs the module's {layers}")
    check(j["format"] == "ONNX" and j["dtype"] == "float32", f"{name}: format/dtype {j['format']} {j['dtype']}")
    check(j["input"] == layers[0]["in"] and j["outputs"] == layers[-1]["out"], f"{name}: input/outputs")
    check(j["input_link"] == link, f"{name}: input link {j['input_link']} vs {link}")
    check(j["parameters"] == params, f"{name}: parameters {j['parameters']} vs torch's {params}")
    check(j["graph_output"] == ("Softmax(o)" if softmax else "o"), f"{name}: graph output {j['graph_output']}")
    check(j["head"] == "softmax-cross-entropy" and j["output_activation"] is None, f"{name}: head")
    n_bn = sum(isinstance(m, torch.nn.BatchNorm1d) for m in mods)
    want_links = sum(4 * m.num_features for m in mods if isinstance(m, torch.nn.BatchNorm1d)) + \
        (2 * layers[0]["in"] if link else 0)
    check(j["link_values"] == want_links, f"{name}: link values {j['link_values']} vs {want_links}")
    # the text says the same
    rc, text, _ = info(path)
    check(rc == 0 and text.count("BatchNorm (eps") == n_bn and f"parameters  {params} " in text
          and all(f"linear {w['in']} -> {w['out']} " in text for w in layers)
          and (("input standardisation" in text) == bool(link)), f"{name}: text output:\n{text}")
    # chainrule's own files of the same net say the same (safetensors; JSON when it is written)
    for ext in ("safetensors", "json"):
        other = path[:-5] + "." + ext
        p = subprocess.run([CR, "convert", "--model", path, "--out", other], capture_output=True, text=True)
        if ext == "json" and p.returncode != 0:
            continue  # a build without JSON models
        check(p.returncode == 0, f"{name}: convert to {ext}: {p.stderr.strip()}")
        rc, out2, _ = info(other, "--json")
        if rc == 0:
            j2 = json.loads(out2)
            for key in ("layers", "input", "input_link", "parameters", "link_values", "head", "outputs"):
                check(j2[key] == j[key], f"{name}: {ext}: {key} {j2[key]} vs ONNX's {j[key]}")
        else:
            check(False, f"{name}: info on the {ext} file exits {rc}")


def test_refusals(d):
    bad = os.path.join(d, "bad.onnx")
    with open(bad, "wb") as f:
        f.write(b"\x08\x07garbage that is no model")
    p = subprocess.run([CR, "info", bad], capture_output=True, text=True)
    check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and bad in p.stderr and not p.stdout,
          f"a file that is no model: exit {p.returncode}, {p.stderr!r}")
    p = subprocess.run([CR, "info"], capture_output=True, text=True)
    check(p.returncode == 2 and "--model is required" in p.stderr, f"info without a model: {p.stderr!r}")


def main():
    with tempfile.TemporaryDirectory() as d:
        n = 0
        for name, mods in nets():
            test_net(d, name, mods)
            n += 1
        test_refusals(d)
    check(n == 3 and torchutil.checks > 30, f"only {torchutil.checks} checks")
    torchutil.report("torch_info: ")


if __name__ == "__main__":
    main()
