"""JAX's side of bench/compare.py, on XLA's CPU backend with jit, in float32, the same model and
data as chainrule (bench/peer_common.py). Run with the benchmark venv's python (bench/venv.sh).

  jax_peer.py jacobian MODEL [--runs 5] [--threads 1|2]
      grad10k_ms   dJ_n/dx_n of the 10,000 test images: jit(vmap(grad(J)))
      jac_us       the 10x784 Jacobian of the probabilities per image, 1,000 images:
                   jit(vmap(jacrev(softmax o f)))
  jax_peer.py train INIT_MODEL [--runs 5] [--threads 1|2] [--sgd1-examples 20000]
      epoch_s      one epoch of plain SGD (lr 0.1, batch 64, mean cross-entropy), starting
                   from INIT_MODEL's weights: one jitted lax.scan over the shuffled batches
                   (the gather of each batch inside it) plus the last, partial batch
      sgd1_us      per-example SGD, one jitted lax.scan over the examples
      sgd1_call_us the same with one call of a jitted step per example (Python dispatch)
      test_acc     accuracy after the timed epochs (a check that every peer trains the same)

XLA sizes its thread pools when jax is imported, so one process measures one thread count:
--threads 1 sets XLA_FLAGS=--xla_cpu_multi_thread_eigen=false and pins the process to one
core (os.sched_setaffinity, which XLA reads for its pool sizes); --threads 2 leaves both.
Lines: "key@threads value"; "info key value" for what was run.
"""
import os
import sys

from peer_common import (die, emit, info, load_fashion, load_model, report, standardize, timed,
                         threads_arg)

args = sys.argv[1:]
if len(args) < 2 or args[0] not in ("jacobian", "train"):
    die("usage: jax_peer.py jacobian|train MODEL [--runs N] [--threads 1|2] [--sgd1-examples N]")
TASK, MODEL = args[0], args[1]
RUNS = int(args[args.index("--runs") + 1]) if "--runs" in args else 5
THREADS = threads_arg(args, default="2")
if len(THREADS) != 1:
    die("one thread count per process (XLA sizes its pools at import)")
THREADS = THREADS[0]
if THREADS == 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import grad, jacrev, jit, lax, vmap  # noqa: E402

jax.config.update("jax_platforms", "cpu")
ACT = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu}

model = load_model(MODEL)
acts = model["acts"]
params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in model["layers"]]
dims = [params[0][0].shape[1]] + [w.shape[0] for w, _ in params]
if len(dims) != 3:
    die(f"{MODEL}: the benchmark's FLOP counts assume one hidden layer, the model has {len(dims) - 2}")
D, H, K = dims
info("jax", f"{jax.__version__} (jaxlib {jax.lib.__version__}), devices {jax.devices()}")
info("xla_flags", os.environ.get("XLA_FLAGS", "(none)"))
info("affinity", sorted(os.sched_getaffinity(0)))


def logits(p, x):
    h = x
    for (w, b), act in zip(p, acts):
        h = h @ w.T + b
        if act != "softmax":
            h = ACT[act](h)
    return h


def loss1(p, x, y):  # one example's cross-entropy
    return -jax.nn.log_softmax(logits(p, x))[y]


def loss_batch(p, x, y):  # mean over the batch, as chainrule and torch's CrossEntropyLoss
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits(p, x)), y[:, None], axis=1))


def jacobian_task():
    xt, yt = load_fashion("test")
    xt = standardize(model, xt)
    X, Y = jnp.asarray(xt), jnp.asarray(yt.astype(np.int32))
    gx = jit(vmap(grad(loss1, argnums=1), in_axes=(None, 0, 0)))
    run = lambda: gx(params, X, Y).block_until_ready()  # noqa: E731
    report("grad10k_ms", THREADS, 1e3, timed(run, RUNS))
    info("grad10k_abs_sum", f"{float(np.abs(np.asarray(run(), dtype=np.float64)).sum()):.9e}")

    probs = lambda p, x: jax.nn.softmax(logits(p, x))  # noqa: E731
    jac = jit(vmap(jacrev(probs, argnums=1), in_axes=(None, 0)))
    X1k = X[:1000]
    run = lambda: jac(params, X1k).block_until_ready()  # noqa: E731
    report("jac_us", THREADS, 1e6 / 1000, timed(run, RUNS))
    info("jac_abs_sum", f"{float(np.abs(np.asarray(run(), dtype=np.float64)).sum()):.9e}")


def sgd_step(p, x, y, lr=0.1):
    g = grad(loss_batch)(p, x, y)
    return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g)


def train_task():
    x, y = load_fashion("train")
    xt, yt = load_fashion("test")
    X, Y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
    n, batch = X.shape[0], 64
    nb = n // batch

    @jit
    def epoch_full(p, X, Y, idx):  # idx: [nb, batch] rows of the shuffled full batches
        def body(p, rows):
            return sgd_step(p, X[rows], Y[rows]), None
        p, _ = lax.scan(body, p, idx)
        return p

    step = jit(sgd_step)
    rng = np.random.default_rng(1)
    state = {"p": params}

    def epoch():
        perm = rng.permutation(n).astype(np.int32)
        p = epoch_full(state["p"], X, Y, jnp.asarray(perm[:nb * batch].reshape(nb, batch)))
        if n % batch:
            tail = jnp.asarray(perm[nb * batch:])
            p = step(p, X[tail], Y[tail])
        state["p"] = jax.block_until_ready(p)

    report("epoch_s", THREADS, 1, timed(epoch, RUNS))
    info("epochs_before_test_acc", RUNS + 1)
    acc = float(jnp.mean(jnp.argmax(logits(state["p"], jnp.asarray(xt)), axis=1) == jnp.asarray(yt)))
    emit("test_acc", THREADS, acc)

    m = int(args[args.index("--sgd1-examples") + 1]) if "--sgd1-examples" in args else 20000
    m = min(m, n)

    @jit
    def sgd1_scan(p, X, Y):
        def body(p, xy):
            return sgd_step(p, xy[0][None], xy[1][None]), None
        p, _ = lax.scan(body, p, (X, Y))
        return p

    Xm, Ym = X[:m], Y[:m]
    report("sgd1_us", THREADS, 1e6 / m, timed(lambda: jax.block_until_ready(sgd1_scan(params, Xm, Ym)), RUNS))

    mc = min(m, 1000)
    rows = [(jnp.asarray(x[i:i + 1]), jnp.asarray(y[i:i + 1].astype(np.int32))) for i in range(mc)]

    def per_call():
        p = params
        for xb, yb in rows:
            p = step(p, xb, yb)
        jax.block_until_ready(p)

    report("sgd1_call_us", THREADS, 1e6 / mc, timed(per_call, max(1, RUNS // 2)))


jacobian_task() if TASK == "jacobian" else train_task()
