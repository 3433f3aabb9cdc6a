#!/usr/bin/python3
"""The Python module's verbs (issue 17) against PyTorch, on image-shaped inputs.

A 784-12-10 tanh classifier (float64, seeded weights, non-zero biases) is written as a
chainrule model and rebuilt in PyTorch from the same arrays; inputs are torch tensors
[N, 1, 28, 28] (anything with __array__ is taken). Each verb must equal PyTorch's
autograd and keep the inputs' shape: input_grad, class_grad (logit and probability),
jvp, jacobian ([N, K, 1, 28, 28]), attribute (saliency, input-x-gradient, integrated
gradients by the right Riemann sum), attack (FGSM in L-inf and L2, as PyTorch computes
it), robust_accuracy (the accuracy of PyTorch's model on PyTorch's FGSM examples, per
eps), eval (mean cross-entropy, accuracy, confusion matrix), save/load (safetensors and
ONNX give the same predictions), train and explain (the program), gradcheck; a
regressor's attack (raising ½‖o − t‖²) and attribution (of o_0) against autograd too.
Refusals are chainrule.Error with the program's words: a one-output softmax head (never
probabilities of 1.0), a regressor's probabilities, target class or missing targets. The
module defines no ctypes.Structure (it mirrors no C struct).

    /usr/bin/python3 tests/python_verbs.py
(with PYTHONPATH=python and CHAINRULE_LIBRARY=the built library, or from an installed
wheel with neither; exit 77 without torch)
"""
import ctypes
import json
import os
import struct
import sys
import tempfile

import numpy as np

try:
    import torch
except ImportError:
    print("python_verbs: skipped: no torch in this Python")
    sys.exit(77)

import chainrule

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torchutil import raises, write_model  # noqa: E402
import torchutil  # noqa: E402

torch.set_num_threads(1)
checks = 0


def expect(name, got, ref, tol=1e-11):
    global checks
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}"
    scale = float(np.max(np.abs(ref)))
    assert scale > 1e-8, f"{name}: the reference is (almost) zero: the comparison proves nothing"
    e = float(np.max(np.abs(got - ref))) / scale
    assert e <= tol, f"{name}: relative error {e:.3g} > {tol:g}"
    checks += 1


def main():
    global checks
    rng = np.random.default_rng(17)
    W1, b1 = rng.normal(0, 0.08, (12, 784)), rng.normal(0, 0.3, 12)
    W2, b2 = rng.normal(0, 0.6, (10, 12)), rng.normal(0, 0.3, 10)
    tW1, tb1, tW2, tb2 = (torch.tensor(a) for a in (W1, b1, W2, b2))

    def logits(x):  # x [N, 1, 28, 28]
        return torch.tanh(x.reshape(x.shape[0], -1) @ tW1.T + tb1) @ tW2.T + tb2

    n = 6
    X = torch.tensor(rng.uniform(0, 1, (n, 1, 28, 28)))
    y = np.array([0, 3, 5, 5, 9, 2])
    ty = torch.tensor(y)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.safetensors")
        write_model(path, [W1, W2], [b1, b2], ["tanh"])
        m = chainrule.load(path)
        assert m.layers == [784, 12, 10] and m.activations == ["tanh"] and m.is_classifier

        # predict, input_grad
        expect("predict", m.predict(X), torch.softmax(logits(X), 1).numpy())
        xt = X.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits(xt), ty, reduction="sum"), xt)
        expect("input_grad [N,1,28,28]", m.input_grad(X, y), g.numpy())
        expect("input_grad [N,784]", m.input_grad(X.reshape(n, 784), y), g.reshape(n, 784).numpy())
        expect("input_grad one example [784]", m.input_grad(X[0].reshape(784), y[:1]), g[0].reshape(784).numpy())

        # class_grad of a logit and of a probability
        for of, f in (("logits", logits), ("probs", lambda v: torch.softmax(logits(v), 1))):
            xt = X.clone().requires_grad_(True)
            (gc,) = torch.autograd.grad(f(xt)[:, 3].sum(), xt)
            expect(f"class_grad {of}", m.class_grad(X, 3, of=of), gc.numpy())
        xt = X.clone().requires_grad_(True)
        (gy,) = torch.autograd.grad(logits(xt).gather(1, ty[:, None]).sum(), xt)
        saliency = m.class_grad(X, y)
        expect("class_grad per example", saliency, gy.numpy())

        # jvp and jacobian
        V = torch.tensor(rng.normal(size=(n, 1, 28, 28)))
        _, jv = torch.autograd.functional.jvp(lambda v: torch.softmax(logits(v), 1), X, V)
        expect("jvp probs", m.jvp(X, V), jv.numpy())
        _, jv = torch.autograd.functional.jvp(logits, X, V[:1].expand(n, 1, 28, 28))
        expect("jvp logits, one shared direction", m.jvp(X, V[0], of="logits"), jv.numpy())
        J = torch.autograd.functional.jacobian(lambda v: torch.softmax(logits(v), 1).sum(0), X)
        J = J.permute(1, 0, 2, 3, 4)  # [N, K, 1, 28, 28]
        for mode in ("rev", "fwd", "closed"):
            expect(f"jacobian {mode} [N,K,1,28,28]", m.jacobian(X, mode=mode), J.numpy())

        # attribute
        expect("attribute saliency", m.attribute(X, y, method="saliency"), gy.numpy())
        expect("attribute input-x-gradient", m.attribute(X, y, method="input-x-gradient"),
               (X * gy).numpy())
        S = 16
        acc = torch.zeros_like(X)
        for j in range(1, S + 1):
            xt = (X * j / S).requires_grad_(True)
            (gj,) = torch.autograd.grad(logits(xt).gather(1, ty[:, None]).sum(), xt)
            acc += gj
        expect("attribute integrated-gradients (Riemann, zero baseline)",
               m.attribute(X, y, method="integrated-gradients", steps=S), (X * acc / S).numpy(), 1e-10)
        sg = m.attribute(X, y, method="smoothgrad", samples=8, noise=0.1)
        assert sg.shape == X.shape and np.all(np.isfinite(sg)) and np.abs(sg).max() > 0
        pred = logits(X).argmax(1).numpy()
        expect("attribute of the predicted class (classes=None)", m.attribute(X),
               m.class_grad(X, pred))

        # attack: FGSM as PyTorch computes it
        xt = X.clone().requires_grad_(True)
        (ga,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits(xt), ty, reduction="sum"), xt)
        for eps in (0.05, 0.2):
            ref = torch.clamp(X + eps * torch.sign(ga), 0, 1)
            adv = m.attack(X, y, eps=eps)
            assert adv.shape == X.shape
            expect(f"attack fgsm linf eps {eps}", adv, ref.numpy(), 1e-15)
        norms = ga.reshape(n, -1).norm(dim=1).reshape(n, 1, 1, 1)
        ref = torch.clamp(X + 0.5 * ga / norms, 0, 1)
        expect("attack fgsm l2", m.attack(X, y, eps=0.5, norm="l2"), ref.numpy(), 1e-12)
        adv = m.attack(X, y, eps=0.1, method="pgd", steps=5)
        assert adv.shape == X.shape and np.abs(adv - X.numpy()).max() <= 0.1 + 1e-12
        assert adv.min() >= 0 and adv.max() <= 1
        checks += 1
        # robust accuracy per eps: PyTorch's model on PyTorch's FGSM examples
        curve = m.robust_accuracy(X, y, eps=[0, 0.02, 0.1])
        for e, a in zip(curve.eps, curve.accuracy):
            ref = torch.clamp(X + e * torch.sign(ga), 0, 1)
            want = float((logits(ref).argmax(1) == ty).double().mean())
            assert abs(a - want) < 1e-12, f"robust accuracy at eps {e}: {a} != {want}"
            checks += 1
        clean = float((logits(X).argmax(1) == ty).double().mean())
        assert curve.clean_accuracy == clean and curve.accuracy[0] == clean
        assert curve.x_adv.shape == X.shape

        # eval
        r = m.eval(X, y)
        want = float(torch.nn.functional.cross_entropy(logits(X), ty))
        assert abs(r.loss - want) <= 1e-12 * want, (r.loss, want)
        assert r.accuracy == clean and r.confusion.sum() == n and np.trace(r.confusion) == round(clean * n)
        checks += 1

        # save / load: safetensors and ONNX
        for name in ("copy.safetensors", "copy.onnx"):
            p = os.path.join(tmp, name)
            m.save(p)
            with chainrule.load(p) as m2:
                expect(f"save/load {name}", m2.predict(X), m.predict(X), 1e-15)

        # gradcheck, explain, train
        assert m.gradcheck(X[:2], y[:2], samples=32).passed
        checks += 1
        small = os.path.join(tmp, "small.safetensors")
        write_model(small, [rng.normal(size=(3, 4)), rng.normal(size=(3, 3))],
                    [rng.normal(size=3), rng.normal(size=3)], ["sigmoid"])
        with chainrule.load(small) as ms:
            text = ms.explain(rng.uniform(0, 1, (2, 4)), [1, 2])
        assert "Network 4-3-3" in text and "agree" in text, text[:400]
        assert "the seed network" in chainrule.explain()
        checks += 1
        Xt = rng.uniform(0, 1, (40, 1, 28, 28)).astype(np.float32)
        yt = (Xt.reshape(40, -1)[:, :392].mean(1) > Xt.reshape(40, -1)[:, 392:].mean(1)).astype(np.int64)
        mt, summary = chainrule.train(Xt, yt, layers=[784, 8, 2], epochs=3, batch=8, lr=0.01)
        assert mt.layers == [784, 8, 2] and summary["epochs"] == 3, summary
        assert mt.predict(Xt).shape == (40, 2)
        checks += 1
        mi = chainrule.init([5, 4, 3], activation="relu", seed=2, dtype="float64")
        assert mi.layers == [5, 4, 3] and mi.activations == ["relu"] and mi.dtype == np.float64
        checks += 1

        # refusals: the program's words, as chainrule.Error
        one = os.path.join(tmp, "one.safetensors")
        write_model(one, [rng.normal(size=(3, 4)), rng.normal(size=(1, 3))],
                    [rng.normal(size=3), rng.normal(size=1)], ["tanh"])
        m1 = chainrule.load(one)
        x4 = rng.uniform(0, 1, (3, 4))
        for verb in (lambda: m1.predict(x4), lambda: m1.input_grad(x4, [0, 0, 0]),
                     lambda: m1.jacobian(x4), lambda: m1.attack(x4, eps=0.1),
                     lambda: m1.eval(x4, [0, 0, 0])):
            raises(chainrule.Error, verb, "one output, whose softmax is always 1")
        assert m1.predict(x4, of="outputs").shape == (3, 1)  # the output itself is fine
        reg = chainrule.load(one, head="squared-error")
        assert reg.predict(x4).shape == (3, 1)
        # a regressor: attack raises ½‖o − t‖² with given targets, attribute explains o_k
        raises(chainrule.Error, lambda: reg.attack(x4, eps=0.1), "give the targets")
        raises(chainrule.Error, lambda: reg.attack(x4, np.zeros((3, 1)), target=0), "no class")
        raises(chainrule.Error, lambda: reg.attribute(x4, of="probs"), "no probabilities")
        raises(chainrule.Error, lambda: reg.robust_accuracy(x4, np.zeros((3, 1))), "no accuracy")
        with open(one, "rb") as f:
            n8 = struct.unpack("<Q", f.read(8))[0]
            hdr = json.loads(f.read(n8))
            blob = f.read()
        t = {k: torch.tensor(np.frombuffer(blob[v["data_offsets"][0]:v["data_offsets"][1]],
                                           np.float64).reshape(v["shape"]))
             for k, v in hdr.items() if k != "__metadata__"}

        def out(v):
            return torch.tanh(v @ t["fc1.weight"].T + t["fc1.bias"]) @ t["fc2.weight"].T + t["fc2.bias"]
        T = rng.uniform(-1, 1, (3, 1))
        xt = torch.tensor(x4, requires_grad=True)
        (gr,) = torch.autograd.grad(0.5 * ((out(xt) - torch.tensor(T)) ** 2).sum(), xt)
        expect("regressor attack fgsm", reg.attack(x4, T, eps=0.05),
               torch.clamp(torch.tensor(x4) + 0.05 * torch.sign(gr), 0, 1).numpy(), 1e-15)
        xt = torch.tensor(x4, requires_grad=True)
        (go,) = torch.autograd.grad(out(xt)[:, 0].sum(), xt)
        expect("regressor attribute saliency of o_0", reg.attribute(x4), go.numpy())
        m1.close()
        raises(chainrule.Error, lambda: m.class_grad(X, 10), "out of range")
        raises(chainrule.Error, lambda: chainrule.train(Xt, yt, activation="nope"), "nope")
        raises(ValueError, lambda: m.attack(X, y, method="deepfool"), "fgsm or pgd")

        # no mirrored struct: the module defines no ctypes.Structure
        mirrors = [k for k, v in vars(chainrule).items()
                   if isinstance(v, type) and issubclass(v, ctypes.Structure)]
        assert not mirrors, f"the module mirrors C structs: {mirrors}"
        checks += 1
        m.close()
    print(f"python_verbs: {checks + torchutil.checks} comparisons and checks passed ({chainrule.__file__}, "
          f"{chainrule.library_paths()[0]})")


main()
