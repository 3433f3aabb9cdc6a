"""Helpers shared by the Python tests (tests/torch_*.py, tests/python_*.py), so that
each is written once:

- check(ok, what) records a check, and a failure by name (printed "FAIL: what"),
  counted in this module's `checks` and `failures` (one tally for every test module
  that imports it); report() prints the tally and exits 1 on any failure;
- relerr(a, b): the largest |a - b| relative to the largest |b|;
- raises(exc, fn, *words): fn() raises exc with every word in its message (counted
  as a check); the exception is returned;
- write_model(...): a chainrule safetensors model from numpy weights.

Imports numpy only (not torch).
"""
import json
import struct
import sys

import numpy as np

checks = 0
failures = []


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def report(prefix=""):
    """Prints "[prefix]N passed, M failed" and exits (1 on any failure)."""
    print(f"{prefix}{checks - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


def relerr(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def raises(exc, fn, *words):
    global checks
    try:
        fn()
    except exc as e:
        for w in words:
            assert w in str(e), f"{exc.__name__} message {str(e)!r} lacks {w!r}"
        checks += 1
        return e
    raise AssertionError(f"no {exc.__name__} raised (expected {words})")


def write_model(path, weights, biases, acts, dtype=np.float64, mean=None, std=None, last="softmax", head=None):
    """A chainrule safetensors model: fc{i}.weight [out, in], fc{i}.bias [out]; mean, std: the
    input standardisation; last: the output activation ("softmax": none, a classifier) and
    head the metadata "head"."""
    tensors = {}
    for i, (w, b) in enumerate(zip(weights, biases), start=1):
        tensors[f"fc{i}.weight"], tensors[f"fc{i}.bias"] = w, b
    if mean is not None:
        tensors["input.mean"], tensors["input.std"] = mean, std
    code = {np.float32: "F32", np.float64: "F64"}[dtype]
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        raw = np.ascontiguousarray(v, dtype=dtype).tobytes()
        header[k] = {"dtype": code, "shape": list(v.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    dims = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    header["__metadata__"] = {"format": "chainrule/1", "activations": ",".join(acts + [last]),
                              "layers": ",".join(map(str, dims))}
    if head:
        header["__metadata__"]["head"] = head
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
