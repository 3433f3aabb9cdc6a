#!/usr/bin/python3
"""chainrule against its peers in one run: Debian's PyTorch 1.13, PyTorch 2 and JAX (jit, CPU)
from the benchmark venv, on the same model, weights and data; called by bench/run.sh (training)
and bench/run_jacobian.sh (input derivatives). Standard library only.

  compare.py --task train|jacobian|all --build DIR --model TRAINED.safetensors
             --init INIT.safetensors [--rounds 3] [--runs 3] [--isa native|avx2]
             [--venv-python PATH] [--markdown OUT.md]

Every round runs each implementation once, as its own process, at 1 and at 2 threads
(chainrule: workers; PyTorch: torch.set_num_threads; JAX: one process per count), in an order
rotated from round to round so that a busy moment of the shared machine does not fall on one
peer only. Each process prints the median of its --runs; a figure is the median over the
rounds at its faster thread count, shown with the spread (min-max) of the rounds.

--isa avx2 runs everything on the AVX2 code paths of an AVX-512 machine:
  CHAINRULE_ISA=avx2            chainrule's own kernels (checked with `chainrule --version`)
  OPENBLAS_CORETYPE=Haswell     OpenBLAS: chainrule's gemms, the sgemm peak, PyTorch 1.13's BLAS
  ATEN_CPU_CAPABILITY=avx2      PyTorch's own kernels and torch.compile's generated code
  ONEDNN_MAX_CPU_ISA=AVX2, MKL_ENABLE_INSTRUCTIONS=AVX2   PyTorch's oneDNN and MKL
  XLA_FLAGS=--xla_cpu_max_isa=AVX2                        JAX's XLA code generation
The sgemm peak is OpenBLAS's sgemm 2048^3 at 2 threads, measured by chainrule's bench
programs in every round; each figure's GFLOP/s counts the useful FLOPs of
bench/peer_common.py's `flops` (the same for every implementation).
"""
import argparse
import ctypes
import datetime
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peer_common import flops, load_model  # noqa: E402

AVX2_ENV = {
    "CHAINRULE_ISA": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
}

# figure -> (title, unit scale to seconds, FLOPs of one unit (D, H, K), examples per unit)
FIGURES = {
    "epoch": ("one epoch of plain SGD, batch 64 (s)", 1.0, flops.train_example, 60000),
    "sgd1": ("per-example SGD (µs per example)", 1e-6, flops.train_example, 1),
    "grad10k": ("∂J/∂x of the 10,000 test images (ms)", 1e-3, flops.input_grad, 10000),
    "jac": ("10×784 Jacobian of the probabilities, per image (µs)", 1e-6, flops.jacobian, 1),
    "fgsm": ("FGSM over the 10,000 test images, with the evaluation (ms)", 1e-3,
             lambda d, h, k: flops.input_grad(d, h, k) + 2 * (d * h + h * k), 10000),
}

# (figure, peer, key, how) rows; the first row of a peer is not special: its best row counts
ROWS = [
    ("epoch", "chainrule", "epoch_s", "cr_train_epoch_f32 (workers)"),
    ("epoch", "PyTorch 1.13", "epoch_s", "nn.Module + optim.SGD"),
    ("epoch", "PyTorch 2", "epoch_s", "nn.Module + optim.SGD, eager"),
    ("epoch", "PyTorch 2", "epoch_compile_s", "torch.compile(model) + compiled optimizer step"),
    ("epoch", "JAX", "epoch_s", "jit(lax.scan over the batches of grad + update)"),
    ("sgd1", "chainrule", "sgd1_us", "cr_train_sgd1_f32"),
    ("sgd1", "PyTorch 1.13", "sgd1_us", "nn.Module + optim.SGD, one example a step"),
    ("sgd1", "PyTorch 2", "sgd1_us", "the same, eager"),
    ("sgd1", "PyTorch 2", "sgd1_compile_us", "torch.compile(model) + compiled optimizer step"),
    ("sgd1", "JAX", "sgd1_us", "jit(lax.scan over the examples)"),
    ("sgd1", "JAX", "sgd1_call_us", "a jitted step called per example"),
    ("grad10k", "chainrule", "grad10k_ms", "cr_net_input_grad_f32 (workers)"),
    ("grad10k", "chainrule", "grad10k_tape_ms", "tape forward + backward, one batch"),
    ("grad10k", "PyTorch 1.13", "grad10k_ms", "batched autograd.grad"),
    ("grad10k", "PyTorch 1.13", "grad10k_func_ms", "functorch vmap(grad)"),
    ("grad10k", "PyTorch 2", "grad10k_ms", "batched autograd.grad"),
    ("grad10k", "PyTorch 2", "grad10k_func_ms", "torch.func vmap(grad)"),
    ("grad10k", "PyTorch 2", "grad10k_compile_ms", "torch.compile(vmap(grad))"),
    ("grad10k", "JAX", "grad10k_ms", "jit(vmap(grad))"),
    ("jac", "chainrule", "jac_closed_us", "closed form (--mode closed)"),
    ("jac", "chainrule", "jac_rev_us", "K batched VJPs (--mode rev)"),
    ("jac", "PyTorch 1.13", "jac_vmap_us", "functorch vmap(jacrev)"),
    ("jac", "PyTorch 1.13", "jac_af_vec_us", "autograd.functional.jacobian(vectorize=True)"),
    ("jac", "PyTorch 2", "jac_vmap_us", "torch.func vmap(jacrev)"),
    ("jac", "PyTorch 2", "jac_compile_us", "torch.compile(vmap(jacrev))"),
    ("jac", "PyTorch 2", "jac_af_vec_us", "autograd.functional.jacobian(vectorize=True)"),
    ("jac", "JAX", "jac_us", "jit(vmap(jacrev))"),
    ("fgsm", "chainrule", "fgsm10k_ms", "cr_attack_f32"),
    ("fgsm", "PyTorch 1.13", "fgsm10k_ms", "autograd.grad + sign"),
    ("fgsm", "PyTorch 2", "fgsm10k_ms", "autograd.grad + sign"),
]
PEERS = ["chainrule", "PyTorch 1.13", "PyTorch 2", "JAX"]
TRAIN_FIGS, JAC_FIGS = ("epoch", "sgd1"), ("grad10k", "jac", "fgsm")


def sh(cmd, env=None):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_isa():
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if "avx512f" in flags:
        best = "AVX-512 (" + " ".join(sorted(f for f in flags if f.startswith("avx512"))) + ")"
    elif "avx2" in flags:
        best = "AVX2"
    else:
        best = "SSE/AVX only"
    return best + (", FMA" if "fma" in flags else "")


def openblas_core(env):
    code = ("import ctypes; l = ctypes.CDLL('libopenblas.so.0'); l.openblas_get_corename.restype = "
            "ctypes.c_char_p; print(l.openblas_get_corename().decode())")
    return sh([sys.executable, "-c", code], env=env) or "?"


class Proc:
    """One benchmark process: its peer, thread counts, command; keys its lines as key@threads."""

    def __init__(self, peer, threads, cmd, figs):
        self.peer, self.threads, self.cmd, self.figs = peer, threads, cmd, figs

    def run(self, env, log):
        r = subprocess.run(self.cmd, capture_output=True, text=True, env=env)
        log.write(f"$ {' '.join(self.cmd)}\n{r.stdout}{r.stderr}\n")
        log.flush()
        vals, info = {}, {}
        if r.returncode != 0:
            tail = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
            return None, {"error": f"exit {r.returncode}: {tail}"}
        for line in r.stdout.splitlines():
            p = line.split()
            if len(p) >= 3 and p[0] == "info":
                info[p[1]] = " ".join(p[2:])
            elif len(p) == 2:
                key = p[0] if "@" in p[0] else f"{p[0]}@{self.threads}"
                try:
                    vals[key] = float(p[1])
                except ValueError:
                    pass
        return vals, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=["train", "jacobian", "all"], default="all")
    ap.add_argument("--build", required=True)
    ap.add_argument("--model", help="trained model for the input derivatives (--task jacobian, all)")
    ap.add_argument("--init", help="initial weights for the training figures (--task train, all)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--isa", default="native", help="native, avx2, or both: native,avx2 (interleaved)")
    ap.add_argument("--budget-minutes", type=float, default=0,
                    help="start no round that would end after this (0: run all --rounds)")
    ap.add_argument("--venv-python", default=os.path.join(HERE, ".venv", "bin", "python"))
    ap.add_argument("--torch113-python", default="/usr/bin/python3")
    ap.add_argument("--markdown", default=None, help="also write the tables to this file")
    ap.add_argument("--log", default=None, help="every process's output (default BUILD/compare.log)")
    a = ap.parse_args()

    if (a.task != "train" and not a.model) or (a.task != "jacobian" and not a.init):
        ap.error("--task jacobian needs --model, --task train needs --init")
    isas = a.isa.split(",")
    if any(i not in ("native", "avx2") for i in isas):
        ap.error("--isa: native, avx2 or native,avx2")
    envs = {}
    for isa in isas:
        env = envs[isa] = dict(os.environ)
        if isa == "avx2":
            for k, v in AVX2_ENV.items():
                env[k] = (env.get(k, "") + " " + v).strip() if k == "XLA_FLAGS" else v
    B, R = a.build, str(a.runs)
    out = []
    say = out.append
    head = sh(["git", "-C", HERE, "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M"])
    say(f"taken {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} at commit {head or '?'}")
    model_name = next((ln.split(":", 1)[1].strip() for ln in sh(["lscpu"]).splitlines()
                       if ln.startswith("Model name:")), "?")
    say(f"CPU: {model_name}, {os.cpu_count()} cores; instruction set: {cpu_isa()}")
    heads = {}
    for isa in isas:
        env, h = envs[isa], []
        version = sh([os.path.join(B, "chainrule"), "--version"], env=env)
        kernels = version.split("kernels: ")[1].rstrip(")") if "kernels: " in version else None
        forced = " ".join(f"{k}={v}" for k, v in AVX2_ENV.items()) if isa == "avx2" else "none"
        h.append(f"forced: {forced}")
        if kernels:
            h.append(f"chainrule: {version} (kernel set in use)")
            if isa == "avx2" and kernels != "avx2":
                sys.exit(f"compare.py: CHAINRULE_ISA=avx2 but `chainrule --version` says {kernels}")
        else:
            h.append(f"chainrule: {version} (this build has no CHAINRULE_ISA: its own kernels follow "
                     "/proc/cpuinfo whatever is forced)")
        h.append(f"OpenBLAS core: {openblas_core(env)}")
        heads[isa] = h
    say(f"load average before: {open('/proc/loadavg').read().split()[:3]}")

    procs = []
    tasks = ["train", "jacobian"] if a.task == "all" else [a.task]
    have_venv = os.path.exists(a.venv_python)
    have_113 = sh([a.torch113_python, "-c", "import torch; print(torch.__version__)"]) != ""
    for task in tasks:
        figs = TRAIN_FIGS if task == "train" else JAC_FIGS
        for t in (1, 2):
            if task == "train":
                cmd = [os.path.join(B, "bench_train"), "--runs", R, "--threads", str(t), "--workers", str(t),
                       "--init", a.init, "--sgd1-examples", "20000", "--skip-sgemm", "0" if t == 2 else "1"]
            else:
                cmd = [os.path.join(B, "bench_jacobian"), a.model, "--runs", R, "--threads", str(t)]
            procs.append(Proc("chainrule", t, cmd, figs))
        for peer, py, ok in (("PyTorch 1.13", a.torch113_python, have_113), ("PyTorch 2", a.venv_python, have_venv)):
            if not ok:
                say(f"{peer}: not available ({py}), left out")
                continue
            if task == "train":
                cmd = [py, os.path.join(HERE, "torch_train.py"), "--mode", "time", "--runs", R,
                       "--threads", "1,2", "--init", a.init, "--sgd1-examples", "1000"]
            else:
                cmd = [py, os.path.join(HERE, "torch_jacobian.py"), a.model, "--runs", R, "--threads", "1,2"]
            procs.append(Proc(peer, None, cmd, figs))
        if have_venv:
            for t in (1, 2):
                cmd = [a.venv_python, os.path.join(HERE, "jax_peer.py"), task,
                       a.init if task == "train" else a.model, "--runs", R, "--threads", str(t),
                       "--sgd1-examples", "5000"]
                procs.append(Proc("JAX", t, cmd, figs))

    log = open(a.log or os.path.join(B, "compare.log"), "w")
    res = {isa: ({}, {}, {}) for isa in isas}  # samples (peer, key@t) -> [per round], infos, errors
    jobs = [(isa, p) for p in procs for isa in isas]  # the ISAs of one process side by side
    t_start, done = time.monotonic(), 0
    for r in range(a.rounds):
        spent = time.monotonic() - t_start
        if r and a.budget_minutes and spent / r * (r + 1) > 60 * a.budget_minutes:
            break
        for isa, p in jobs[r * 3 % len(jobs):] + jobs[:r * 3 % len(jobs)]:
            print(f"round {r + 1}/{a.rounds} ({isa}): {p.peer} "
                  f"{' '.join(os.path.basename(c) for c in p.cmd[:2])} "
                  f"{'threads ' + str(p.threads) if p.threads else ''}", file=sys.stderr, flush=True)
            samples, infos, errors = res[isa]
            vals, info = p.run(envs[isa], log)
            if vals is None:
                errors[(p.peer, tuple(p.cmd))] = info["error"]
                continue
            for k, v in vals.items():
                samples.setdefault((p.peer, k), []).append(v)
            infos.setdefault(p.peer, {}).update(info)
        done = r + 1
    say(f"load average after: {open('/proc/loadavg').read().split()[:3]}; {done} rounds in "
        f"{(time.monotonic() - t_start) / 60:.0f} min")
    m = load_model(a.model or a.init)  # the network's widths, for the FLOP counts
    dims = (m["layers"][0][0].shape[1], m["layers"][0][0].shape[0], m["layers"][-1][0].shape[0])
    for isa in isas:
        say("")
        say(f"### {isa}")
        for line in heads[isa]:
            say(line)
        report(isa, *res[isa], tasks, dims, done, a.runs, say)
    text = "\n".join(out)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")


def report(isa, samples, infos, errors, tasks, dims, rounds, runs, say):
    """One instruction set's tables and checks."""
    D, H, K = dims
    for (peer, cmd), e in errors.items():
        say(f"FAILED: {peer}: {' '.join(cmd)}: {e}")
    for peer, inf in infos.items():
        for k, v in inf.items():
            if k.endswith("_error"):
                say(f"{peer}: {k[:-6]} failed: {v}")

    peak = samples.get(("chainrule", "sgemm_2048_gflops@2"))
    peak_med = statistics.median(peak) if peak else float("nan")
    if peak:
        say(f"sgemm 2048³ (OpenBLAS, 2 threads): {peak_med:.0f} GFLOP/s, rounds {min(peak):.0f}–{max(peak):.0f}")

    def best(peer, key):
        """(median, min, max, threads) at the faster thread count, or None."""
        cands = []
        for t in (1, 2):
            v = samples.get((peer, f"{key}@{t}"))
            if v:
                cands.append((statistics.median(v), min(v), max(v), t, len(v)))
        return min(cands) if cands else None

    SUMS = {"grad10k_ms": "grad10k_abs_sum", "grad10k_func_ms": "grad10k_func_abs_sum",
            "grad10k_compile_ms": "grad10k_compile_abs_sum", "jac_vmap_us": "jac_abs_sum",
            "jac_us": "jac_abs_sum", "jac_compile_us": "jac_compile_abs_sum"}

    def off(peer, key):
        """How far a peer's Σ|result| is from chainrule's (relative), if both are known."""
        name = SUMS.get(key)
        ref = samples.get(("chainrule", f"{name.replace('_func', '').replace('_compile', '')}@2")) if name else None
        got = infos.get(peer, {}).get(name) if name else None
        return abs(float(got) - ref[0]) / abs(ref[0]) if ref and got else 0.0

    figs = [f for f in FIGURES if f in sum((TRAIN_FIGS if t == "train" else JAC_FIGS for t in tasks), ())]
    summary = []
    for fig in figs:
        title, unit, fl, n = FIGURES[fig]
        rows = [(peer, key, how, best(peer, key)) for f, peer, key, how in ROWS if f == fig]
        rows = [r for r in rows if r[3]]
        if not rows:
            continue
        peer_best = {}
        for peer, key, how, b in rows:
            if off(peer, key) > 1e-4:
                continue  # a wrong result does not count, however fast
            if peer not in peer_best or b[0] < peer_best[peer][0]:
                peer_best[peer] = b
        ours = peer_best.get("chainrule")
        cells = []
        for peer in PEERS:
            b = peer_best.get(peer)
            if not b:
                cells.append("–")
                continue
            how = next(h for p_, k_, h, b_ in rows if b_ is b)
            gf = fl(D, H, K) * n / (b[0] * unit) / 1e9
            cell = f"{b[0]:.3g} ({b[1]:.3g}–{b[2]:.3g}), {b[3]} thr, {100 * gf / peak_med:.0f}% of peak"
            if peer != "chainrule" and ours:
                cell += f"; **{ours[0] / b[0]:.2f}×** ({how})"
            cells.append(cell)
        summary.append(f"| {title} | " + " | ".join(cells) + " |")
        say("")
        say(f"**{title}** ({isa}; medians of {rounds} rounds × {runs} runs; spread = min–max of the rounds)")
        say("")
        say("| implementation | method | time | spread | threads | GFLOP/s | % of sgemm peak | chainrule / this |")
        say("|---|---|---|---|---|---|---|---|")
        for peer, key, how, b in rows:
            med, lo, hi, t, _ = b
            gf = fl(D, H, K) * n / (med * unit) / 1e9
            ratio = f"{ours[0] / med:.2f}" if ours else "–"
            mark = " **(best)**" if peer_best.get(peer) is b and peer != "chainrule" else ""
            if off(peer, key) > 1e-4:
                mark = f" **WRONG RESULT** (Σ|·| off by {off(peer, key):.1e}, not counted)"
            say(f"| {peer}{mark} | {how} | {med:.4g} | {lo:.4g}–{hi:.4g} | {t} | {gf:.1f} | "
                f"{100 * gf / peak_med:.0f}% | {ratio} |")
    say("")
    say(f"**Summary** ({isa}): each peer's fastest method and thread count; median (min–max of the "
        f"rounds); % of the sgemm peak; **chainrule's time / the peer's**")
    say("")
    say("| figure | " + " | ".join(PEERS) + " |")
    say("|---|" + "---|" * len(PEERS))
    for line in summary:
        say(line)
    # checks: everyone computed the same derivatives and trained the same network
    say("")
    for key in ("grad10k_abs_sum", "jac_abs_sum"):
        got = {}
        for (peer, k), v in samples.items():
            if k.startswith(key + "@"):
                got[peer] = v[0]
        for peer, inf in infos.items():
            for k, v in inf.items():
                if k.startswith(key.replace("_abs_sum", "")) and k.endswith("abs_sum"):
                    got[f"{peer} {k}"] = float(v)
        if len(got) > 1:
            ref = got.get("chainrule", next(iter(got.values())))
            worst, who = max((abs(v - ref) / abs(ref), name) for name, v in got.items())
            say(f"check: Σ|{key[:-8]}| of {len(got)} implementations agree to {worst:.1e} (relative; "
                f"farthest: {who})")
    accs = {peer: statistics.median(v) for (peer, k), v in samples.items() if k.startswith("test_acc@")}
    if accs:
        say("check: test accuracy after the timed epochs from the same weights: " +
            ", ".join(f"{p} {v:.4f}" for p, v in accs.items()) + f" (JAX: one epoch more, its warm-up)")
    mem = {p: f"{statistics.median(v):.0f}" for (p, k), v in samples.items() if k == "peak_rss_mb@2"}
    mem.update({p: f"{float(inf['peak_rss_mb']):.0f}" for p, inf in infos.items() if "peak_rss_mb" in inf})
    if mem:
        say("peak memory of the training processes (MB, getrusage; the data set is 209 MB as float32): " +
            ", ".join(f"{p} {v}" for p, v in mem.items()))


if __name__ == "__main__":
    main()
