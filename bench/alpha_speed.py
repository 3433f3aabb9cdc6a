#!/usr/bin/python3
"""
α-CROWN's time on the benchmark set's nets (bench/certify_set.py's output): per box the spec
rows e_label - e_j (j != label) bounded by cr_net_bound(method alpha) with 1 and 2 workers;
prints wall and CPU seconds per box, the CPU seconds of the calling thread (worker 0: on an idle
machine the wall time with 2 workers is about the larger of the two workers' CPU times, so this
shows the critical path even when the machine is shared) and the bounds' checksum (equal across
worker counts).

    PYTHONPATH=python CHAINRULE_LIBRARY=build/rel/libchainrule.so /usr/bin/python3 \
        bench/alpha_speed.py --set build/certify-set [--boxes 4] [--threads 1,2] [--spec-only] [--lb-only]
"""
import argparse
import os
import time

import numpy as np

import chainrule as cr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="build/certify-set")
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--nets", default="fmnist_sigmoid_6x200,fmnist_relu_9x200")
    ap.add_argument("--spec-only", action="store_true", help="alpha_intermediate = -1")
    ap.add_argument("--method", default="alpha")
    a = ap.parse_args()
    for name in a.nets.split(","):
        path = os.path.join(a.set, name + ".onnx")
        if not os.path.exists(path):
            continue
        bx = np.load(os.path.join(a.set, f"boxes_{name}.npz"))
        X, y, eps = bx["x"], bx["label"], float(bx["eps"])
        for t in [int(s) for s in a.threads.split(",")]:
            m = cr.load(path, threads=t)
            k = m.output_dim
            wall = cpu = main = 0.0
            sig = 0.0
            for i in range(a.boxes):
                x = X[i].reshape(-1).astype(np.float64)
                lo, hi = np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1)
                C = np.array([np.eye(k)[y[i]] - np.eye(k)[j] for j in range(k) if j != y[i]])
                t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
                lb, ub = m.bounds(lo, hi, C, method=a.method,
                                  _alpha_intermediate=-1 if a.spec_only else 0)
                wall += time.perf_counter() - t0
                cpu += time.process_time() - c0
                main += time.thread_time() - m0
                sig += float(np.sum(lb)) + float(np.sum(ub))
            print(f"{name} {a.method}{' spec-only' if a.spec_only else ''} threads {t}: "
                  f"{wall / a.boxes:.3f} s wall, {cpu / a.boxes:.3f} s cpu ({main / a.boxes:.3f} s on the "
                  f"calling thread) per box; sum of bounds {sig!r}",
                  flush=True)


if __name__ == "__main__":
    main()
