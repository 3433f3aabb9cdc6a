"""What every peer script of bench/ shares (numpy and the standard library only, so that
Debian's /usr/bin/python3 and the benchmark venv both import it):

  load_model(path)      a chainrule safetensors model as numpy arrays (README, "Files"):
                        fc{i}.weight [out, in], fc{i}.bias [out], activations from
                        __metadata__, and input.mean / input.std when the model was trained
                        with --standardize (the peers then standardise their inputs the
                        same way chainrule does: (x - mean) / std)
  load_fashion(split)   Fashion-MNIST from the IDX files, pixels / 255, float32 [N, 784]
  timed(fn, runs)       the median and all wall-clock times of `runs` calls after a warm-up,
                        and the process's CPU time / wall time over them (how many cores it kept busy)
  flops                 the useful floating-point operations each figure is counted with
  emit(key, threads, v) one "key@threads value" line, the format bench/compare.py reads
  report(key, threads, scale, timing)  emit the median of timed()'s result times scale, and an
                        "info" line with every run and the cores kept busy
"""
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

DATA_DIR = os.environ.get("CR_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load_model(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    dt = {"F32": np.float32, "F64": np.float64}
    t = {}
    for k, v in header.items():
        lo, hi = v["data_offsets"]
        t[k] = np.frombuffer(data[lo:hi], dtype=dt[v["dtype"]]).reshape(v["shape"]).astype(np.float32)
    acts = meta["activations"].split(",")
    layers = [(t[f"fc{i}.weight"], t[f"fc{i}.bias"]) for i in range(1, len(acts) + 1)]
    mean, std = t.get("input.mean"), t.get("input.std")
    return {"layers": layers, "acts": acts, "mean": mean, "std": std}


def standardize(model, x):
    """chainrule's input standardisation, when the model stores it."""
    if model["mean"] is None:
        return x
    return ((x - model["mean"]) / model["std"]).astype(np.float32)


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(split):
    p = "train" if split == "train" else "t10k"
    x = _idx(f"{DATA_DIR}/{p}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = _idx(f"{DATA_DIR}/{p}-labels-idx1-ubyte.gz").astype(np.int64)
    return np.ascontiguousarray(x), y


def timed(fn, runs, warmup=1):
    """Median of `runs` timed calls (after `warmup` untimed ones), the list of times (s), and
    CPU time / wall time over the timed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    c0 = cpu_seconds()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), ts, (cpu_seconds() - c0) / sum(ts)


class flops:
    """Useful FLOPs (a multiply-add counts 2) of one example of a 784-H-10 network; the same
    counts serve chainrule and every peer, whatever each actually executes."""

    @staticmethod
    def train_example(d, h, k):  # forward, parameter gradients, input gradient of layer 2
        return 2 * 2 * (d * h + h * k) + 2 * h * k

    @staticmethod
    def input_grad(d, h, k):  # forward and the VJP chain down to x
        return 2 * 2 * (d * h + h * k)

    @staticmethod
    def jacobian(d, h, k):  # forward, then the K x H block times W2^T and (K x H) times W1^T
        return 2 * (d * h + h * k) + 2 * k * k * h + 2 * k * h * d


def emit(key, threads, value, fmt="{:.4f}"):
    print(f"{key}@{threads} {fmt.format(value)}", flush=True)


def report(key, threads, scale, timing):
    median, ts, util = timing
    emit(key, threads, median * scale)
    info(f"{key}@{threads}", f"cores busy {util:.2f}, runs {' '.join(f'{t * scale:.4g}' for t in ts)}")


def info(key, value):
    print(f"info {key} {value}", flush=True)


def cpu_seconds():
    """User + system CPU time of this process so far (all its threads)."""
    t = os.times()
    return t.user + t.system


def threads_arg(argv, default="1,2"):
    """--threads 1,2 -> [1, 2]."""
    s = argv[argv.index("--threads") + 1] if "--threads" in argv else default
    return [int(v) for v in s.split(",")]


def die(msg):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(2)
