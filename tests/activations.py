"""The activations of chainrule's op table, for the PyTorch cross-checks.

The list comes from `chainrule --list-activations` (one row a line: name, ONNX
form, "export" or "import-only"), so a new row of the table is checked by every
test that loops over it. What PyTorch calls each row is below: a row without
its PyTorch form here fails the tests (never skipped).
"""
import subprocess

import torch

# chainrule name -> (functional form, nn.Module as torch.onnx.export writes it)
TORCH = {
    "sigmoid": (torch.sigmoid, torch.nn.Sigmoid),
    "tanh": (torch.tanh, torch.nn.Tanh),
    "relu": (torch.relu, torch.nn.ReLU),
    "gelu": (torch.nn.functional.gelu, torch.nn.GELU),
    "softplus": (torch.nn.functional.softplus, torch.nn.Softplus),
    "leaky-relu": (torch.nn.functional.leaky_relu, torch.nn.LeakyReLU),  # slope 0.01 by default
    "silu": (torch.nn.functional.silu, torch.nn.SiLU),
}


def chainrule_activations(cli):
    """[(name, onnx form, written by chainrule's ONNX writer)] in the table's order."""
    out = subprocess.run([cli, "--list-activations"], check=True, capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    assert len(rows) >= 4 and all(len(r) == 3 for r in rows), out.stdout
    return [(name, form, written == "export") for name, form, written in rows]


def torch_fn(name):
    if name not in TORCH:
        raise SystemExit(f"FAIL: chainrule's activation '{name}' has no PyTorch form in tests/activations.py")
    return TORCH[name][0]


def torch_module(name):
    torch_fn(name)
    return TORCH[name][1]
