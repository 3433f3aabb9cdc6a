"""chainrule from Python: a ctypes binding over libchainrule.so that needs only numpy.

    pip install .                                  # from a clone: builds the C library into the wheel
    import chainrule
    m = chainrule.load("model.safetensors")        # or an .onnx file (detected by content)
    probs = m.predict(X)                           # [N, K]
    dx = m.input_grad(X, y)                        # X's shape: dJ_n/dx_n of each example's loss
    g = m.class_grad(X, 3)                         # X's shape: d logit_3 / dx
    jac = m.jacobian(X, of="probs", mode="auto")   # [N, K, *X.shape[1:]]
    x_adv = m.attack(X, y, eps=0.1, method="pgd")  # X's shape
    curve = m.robust_accuracy(X, y, eps=[0, 0.05, 0.1])   # accuracy per eps
    maps = m.attribute(X, method="integrated-gradients")  # X's shape
    r = m.gradcheck(X, y)                          # r.passed, r.results (chainrule_check.h)
    print(m.explain(X, y))                         # the derivation, as text
    m2, summary = chainrule.train(X, y, layers=[784, 64, 10], epochs=3)
    m3 = chainrule.init([784, 32, 10], activation="relu", seed=2)  # random weights

X is anything np.asarray takes (NumPy, lists, torch tensors) of floats, [N, ...] with
D values per example, converted to the model's dtype; results per input come back in
X's shape. y holds class indices [N] or one-hot / probability rows [N, K] (a
regressor's targets [N, K]). Derivatives are with respect to the raw input: a model's
input standardisation (input.mean/std) is part of the chain. Errors of the library, and
the refusals the command-line program makes, raise chainrule.Error with the library's
message. The module mirrors no C struct: it calls the library's accessors.

The libraries are found, in this order, through the environment variable
CHAINRULE_LIBRARY (the path of libchainrule.so[.0.2], or the folder holding it;
libchainrule_io.so.0.2 is taken from the same folder), the copies installed with this
package (pip install), the build tree next to this package (../build, for
development), and the dynamic loader's search path (an installed copy). init, train and
explain run the command-line program (cli_path()).
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
from ctypes import POINTER, byref, c_char_p, c_double, c_int, c_size_t, c_void_p
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["load", "init", "train", "explain", "Model", "Error", "GradcheckResult", "CheckItem", "CertifyResult",
           "EvalResult", "AttackCurve", "library_paths", "cli_path"]

ArrayLike = Any  #: anything np.asarray takes: a NumPy array, a list, a torch tensor (__array__)

# ------------------------------------------------------------------ constants of the C headers
# Only enum values and names: the module mirrors no struct. Structs are reached through
# the library's accessors (cr_model_open, cr_net_width, cr_struct_new/set/get, ...), so a
# field added to one cannot break this binding.
_STATUS = ["CR_OK", "CR_ERR_NOMEM", "CR_ERR_ARG", "CR_ERR_SHAPE", "CR_ERR_OVERFLOW",
           "CR_ERR_NONFINITE", "CR_ERR_DTYPE", "CR_ERR_IO", "CR_ERR_FORMAT"]
_F32, _F64 = 0, 1  # cr_dtype
_HEADS = ["softmax-cross-entropy", "squared-error"]  # cr_head
_ARRAY_DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.uint8): 2,
                 np.dtype(np.int32): 3, np.dtype(np.int64): 4}  # cr_array_dtype
_ARRAY_MAX_DIMS = 8  # CR_ARRAY_MAX_DIMS


_HERE = os.path.dirname(os.path.abspath(__file__))
# the SONAMEs of the C libraries this module is written for (0.MINOR while the major
# version is 0: CMakeLists.txt, docs/api.md "ABI")
_CORE = "libchainrule.so.0.2"
_IO = "libchainrule_io.so.0.2"


def library_paths():
    """The (core, io) library paths or names this module loads: CHAINRULE_LIBRARY (a
    path or a folder), else the copies installed with this package (pip install), else
    a development build tree (../../build next to python/chainrule), else the names
    for the dynamic loader (an installed libchainrule.so.0.2)."""
    env = os.environ.get("CHAINRULE_LIBRARY")
    if env:
        core = os.path.join(env, _CORE) if os.path.isdir(env) else env
    else:
        core = _CORE
        for folder in (_HERE, os.path.join(_HERE, "..", "..", "build")):
            if os.path.exists(os.path.join(folder, _CORE)):
                core = os.path.normpath(os.path.join(folder, _CORE))
                break
    folder = os.path.dirname(core)
    io = os.path.join(folder, _IO) if folder else _IO
    return core, io


def cli_path():
    """The command-line program this module runs for train, eval and explain:
    CHAINRULE_CLI, else the one installed with this package (pip install), else the
    one beside the library (a build tree), else `chainrule` on the PATH."""
    env = os.environ.get("CHAINRULE_CLI")
    if env:
        return env
    for p in (os.path.join(_HERE, "bin", "chainrule"),
              os.path.join(os.path.dirname(library_paths()[0]) or ".", "chainrule")):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    import shutil
    found = shutil.which("chainrule")
    if found is None or os.path.dirname(os.path.abspath(found)) == os.path.dirname(sys.executable):
        # a pip-installed `chainrule` script runs this module: not the program itself
        raise Error("the chainrule program is not found: set CHAINRULE_CLI to its path")
    return found


def _load_libraries():
    core_path, io_path = library_paths()
    try:
        # the core first, by path: the io library's NEEDED libchainrule.so.0.2 is then
        # this very object (the dynamic loader matches it by SONAME)
        core = ctypes.CDLL(core_path)
        io = ctypes.CDLL(io_path)
    except OSError as e:
        raise ImportError(f"chainrule: cannot load the library ({e}); set CHAINRULE_LIBRARY "
                          "to the path of " + _CORE + ", or install chainrule") from None
    return core, io


_core, _io = _load_libraries()
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [c_void_p]
_libc.free.restype = None


def _proto(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_P = c_void_p
_status_string = _proto(_core, "cr_status_string", c_char_p, c_int)
_last_error = _proto(_core, "cr_last_error", c_char_p)
_activation_name = _proto(_core, "cr_activation_name", c_char_p, c_int)
_jac_mode_parse = _proto(_core, "cr_jac_mode_parse", c_int, c_char_p, POINTER(c_int))
_attr_method_parse = _proto(_core, "cr_attr_method_parse", c_int, c_char_p, POINTER(c_int))
# the network (chainrule.h, "accessors for bindings")
_net_dtype = _proto(_core, "cr_net_dtype", c_int, _P)
_net_n_layers = _proto(_core, "cr_net_n_layers", c_int, _P)
_net_width = _proto(_core, "cr_net_width", c_size_t, _P, c_int)
_net_hidden_activation = _proto(_core, "cr_net_hidden_activation", c_int, _P, c_int, POINTER(c_int))
_net_output_activation = _proto(_core, "cr_net_output_activation", c_int, _P, POINTER(c_int))
_net_head = _proto(_core, "cr_net_head", c_int, _P)
# the context: the workers of one Model (cr_ctx_create(&ctx, threads), 0 = the cores available)
_ctx_create = _proto(_core, "cr_ctx_create", c_int, POINTER(_P), c_int)
_ctx_free = _proto(_core, "cr_ctx_free", None, _P)
_ctx_threads = _proto(_core, "cr_ctx_threads", c_int, _P)
_net_predict = _proto(_core, "cr_net_predict", c_int, _P, _P, c_size_t, _P, c_int, _P)
_net_input_jvp = _proto(_core, "cr_net_input_jvp", c_int, _P, c_size_t, _P, _P, c_int, _P)
_net_is_plain_classifier = _proto(_core, "cr_net_is_plain_classifier", c_int, _P)
# option and statistics structs by name
_struct_new = _proto(_core, "cr_struct_new", _P, c_char_p)
_struct_free = _proto(_core, "cr_struct_free", None, c_char_p, _P)
_struct_set = _proto(_core, "cr_struct_set", c_int, c_char_p, _P, c_char_p, c_double)
_struct_get = _proto(_core, "cr_struct_get", c_int, c_char_p, _P, c_char_p, POINTER(c_double))
_struct_get_string = _proto(_core, "cr_struct_get_string", c_char_p, c_char_p, _P, c_char_p)
_attr_options_set_baseline = _proto(_core, "cr_attr_options_set_baseline", None, _P, _P)
# models, errors, labels (chainrule_io.h, "handles for bindings")
_model_open = _proto(_io, "cr_model_open", c_int, c_char_p, c_char_p, POINTER(_P))
_model_close = _proto(_io, "cr_model_close", None, _P)
_model_net = _proto(_io, "cr_model_net", _P, _P)
_model_standardization = _proto(_io, "cr_model_standardization", c_int, _P, _P, _P)
_model_save_full = _proto(_io, "cr_model_save_full", c_int, c_char_p, _P)
_onnx_write = _proto(_io, "cr_onnx_write", c_int, c_char_p, _P)
_labels_to_targets = _proto(_io, "cr_labels_to_targets_buffer", c_int, c_char_p, c_int, c_int,
                            POINTER(c_size_t), _P, c_size_t, c_size_t, c_int, POINTER(_P))
_typed = {}
for _s in ("f32", "f64"):
    _typed[_s] = {
        "input_grad": _proto(_core, f"cr_net_input_grad_{_s}", c_int, _P, _P, c_size_t, _P, _P, _P, _P),
        "class_grad": _proto(_core, f"cr_net_class_grad_{_s}", c_int, _P, _P, c_size_t, _P, _P, c_int,
                             _P, _P),
        "input_jacobian": _proto(_core, f"cr_net_input_jacobian_{_s}", c_int, _P, _P, c_size_t, _P,
                                 c_int, c_int, _P),
        "attribute": _proto(_core, f"cr_attribute_{_s}", c_int, _P, _P, c_size_t, _P, _P, _P, _P, _P),
        "attack": _proto(_core, f"cr_attack_{_s}", c_int, _P, _P, c_size_t, _P, _P, _P, _P, _P, _P),
        "attack_regress": _proto(_core, f"cr_attack_regress_{_s}", c_int, _P, _P, c_size_t, _P, _P, _P,
                                 _P, _P),
    }
# the verification library (chainrule_check.h) and the bounds (chainrule_certify.h)
_check_net = _proto(_core, "cr_check_net", c_int, _P, c_size_t, _P, _P, _P, _P)
_check_report_item = _proto(_core, "cr_check_report_item", _P, _P, c_size_t)
_check_kind_name = _proto(_core, "cr_check_kind_name", c_char_p, c_int)
_net_bound = _proto(_core, "cr_net_bound", c_int, _P, _P, _P, _P, c_size_t, _P, _P, _P, _P)

_BOUND_METHODS = {"ibp": 0, "crown-ibp": 1, "crown": 2, "alpha": 3}  # cr_bound_method
_certify_linf = _proto(_core, "cr_certify_linf", c_int, _P, _P, _P, c_double, c_double, c_double,
                       ctypes.c_int64, _P, _P)
# dataset mode's verdict codes (chainrule certify --out): proved, broken, unknown, timeout,
# misclassified (cr_verdict, with the example its own counterexample as 4)
CERTIFY_CODES = {0: "proved", 1: "broken", 2: "unknown", 3: "timeout", 4: "misclassified"}
# cr_check_kind values that gradcheck's inject_fault names (chainrule_check.h)
_INJECT_KINDS = {"jacobian": 0, "vjp": 1, "jvp": 2}
_ATTACK_METHODS = {"fgsm": 0, "pgd": 1}  # cr_attack_method
_NORMS = {"linf": 0, "l2": 1}  # cr_norm


# ------------------------------------------------------------------ errors
class Error(RuntimeError):
    """An error reported by the chainrule library or its program, or a refusal of the
    command-line program's (a regressor given to a classifier-only verb, say).

    str(e) is the library's message; e.status is the cr_status name ("CR_ERR_ARG",
    "CR_ERR_IO", ...) for errors of the library, None for the program's refusals;
    e.detail is the library's detail line (cr_last_error: which argument, which index,
    which file, e.g. "cr_attack: labels[5] = 12 is not in [0, 10)"), None when there
    is none. The io layer's message is its detail (it names the file and the problem);
    a core error's message is "what: status string (CR_ERR_...): detail"."""

    def __init__(self, message: str, status: Optional[str] = None, detail: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


def _status_name(st: int) -> str:
    return _STATUS[st] if 0 <= st < len(_STATUS) else f"status {st}"


def _detail() -> str:
    return (_last_error() or b"").decode(errors="replace")


def _check(st: int, what: str) -> None:
    if st != 0:
        name, detail = _status_name(st), _detail()
        msg = f"{what}: {_status_string(st).decode()} ({name})"
        raise Error(f"{msg}: {detail}" if detail else msg, name, detail or None)


def _check_io(st: int) -> None:
    """An io function's status: its detail (naming the file and the problem) is the message."""
    if st != 0:
        name, detail = _status_name(st), _detail()
        raise Error(detail or _status_string(st).decode(), name, detail or None)


def _ptr(a):
    return None if a is None else a.ctypes.data_as(c_void_p)


class _Struct:
    """One of the library's option or statistics structs by name (cr_struct_new), its
    fields set and read by their C names (cr_struct_set / cr_struct_get)."""

    def __init__(self, type_name: str, **fields):
        self.type = type_name.encode()
        self.p = _struct_new(self.type)
        if not self.p:
            raise Error(f"cr_struct_new({type_name}): unknown type or out of memory")
        try:
            for k, v in fields.items():
                self.set(k, v)
        except BaseException:
            self.free()
            raise

    def set(self, field: str, value) -> None:
        if _struct_set(self.type, self.p, field.encode(), float(value)) != 0:
            raise ValueError(f"{self.type.decode()}.{field}: {value!r} is not a valid value")

    def get(self, field: str) -> float:
        v = c_double()
        _check(_struct_get(self.type, self.p, field.encode(), byref(v)),
               f"{self.type.decode()}.{field}")
        return v.value

    def free(self) -> None:
        if self.p:
            _struct_free(self.type, self.p)
            self.p = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()


# ------------------------------------------------------------------ results
class CheckItem:
    """One comparison of chainrule_check.h's report (cr_check_result)."""
    __slots__ = ("kind", "layer", "op", "what", "max_err", "ref_max", "tol", "rel_err",
                 "checked", "total", "worst", "passed", "trivial")

    def __init__(self, p):
        t = b"cr_check_result"

        def num(f):
            v = c_double()
            _check(_struct_get(t, p, f.encode(), byref(v)), f"cr_check_result.{f}")
            return v.value

        def text(f):
            return (_struct_get_string(t, p, f.encode()) or b"").decode(errors="replace")

        self.kind = _check_kind_name(int(num("kind"))).decode()
        self.layer, self.op, self.what = int(num("layer")), text("op"), text("what")
        self.max_err, self.ref_max = num("max_err"), num("ref_max")
        self.tol, self.rel_err = num("tol"), num("rel_err")
        self.checked, self.total, self.worst = (int(num(f)) for f in ("checked", "total", "worst"))
        self.passed, self.trivial = bool(num("pass")), bool(num("trivial"))

    def __repr__(self):
        where = f"layer {self.layer} ({self.op})" if self.layer else self.op
        what = self.what if self.what.startswith(self.kind) else f"{self.kind} {self.what}"
        return (f"<{'PASS' if self.passed else 'FAIL'} {where}: {what}, "
                f"max error {self.max_err:.3g} <= {self.tol:.3g}>")


class GradcheckResult:
    """passed, failures and the list of CheckItem results of one gradcheck."""

    def __init__(self, items: List[CheckItem], failures: int):
        self.results = items
        self.failures = failures
        self.passed = failures == 0 and len(items) > 0

    def first_failure(self) -> Optional[CheckItem]:
        return next((r for r in self.results if not r.passed), None)

    def __repr__(self):
        return (f"<GradcheckResult {'PASS' if self.passed else 'FAIL'}: {len(self.results)} "
                f"checks, {self.failures} failed>")


class EvalResult:
    """What Model.eval measured: n examples, the mean loss (cross-entropy, or ½‖o − t‖²
    of a regressor), and for a classifier the accuracy, the predicted classes and the
    K x K confusion matrix [true][predicted]."""

    def __init__(self, n, loss, accuracy=None, predictions=None, confusion=None):
        self.n, self.loss, self.accuracy = n, loss, accuracy
        self.predictions, self.confusion = predictions, confusion

    def __repr__(self):
        acc = f", accuracy {100 * self.accuracy:.2f}%" if self.accuracy is not None else ""
        return f"<EvalResult {self.n} examples: mean loss {self.loss:.6g}{acc}>"


class AttackCurve:
    """Robust accuracy against ε (Model.robust_accuracy): eps [E], accuracy [E] (the
    fraction still classified correctly under the attack of radius eps[i]),
    clean_accuracy, hit_target [E] (targeted attacks), loss [E] (mean attack loss at
    x'), and the adversarial examples of the largest ε (x_adv, in the inputs' shape)."""

    def __init__(self, eps, accuracy, clean_accuracy, hit_target, loss, x_adv):
        self.eps, self.accuracy, self.clean_accuracy = eps, accuracy, clean_accuracy
        self.hit_target, self.loss, self.x_adv = hit_target, loss, x_adv

    def __repr__(self):
        rows = ", ".join(f"{e:g}: {100 * a:.1f}%" for e, a in zip(self.eps, self.accuracy))
        return f"<AttackCurve clean {100 * self.clean_accuracy:.1f}%; {rows}>"


class CertifyResult:
    """What Model.certify decided (the program's `certify --eps`): eps [E], clean_accuracy,
    certified_accuracy [E] (proved robust), attacked_accuracy [E] (not broken by the
    attack: an upper bound of the robust accuracy), unknown [E] (neither), seconds [E], and
    verdicts [N, E] uint8 per example and eps: 0 proved, 1 broken (a checked
    counterexample), 2 unknown, 3 timeout, 4 misclassified (CERTIFY_CODES)."""

    def __init__(self, eps, clean_accuracy, verdicts, seconds):
        self.eps, self.clean_accuracy, self.verdicts = eps, clean_accuracy, verdicts
        self.certified_accuracy = (verdicts == 0).mean(axis=0)
        self.attacked_accuracy = 1 - ((verdicts == 1) | (verdicts == 4)).mean(axis=0)
        self.unknown = ((verdicts == 2) | (verdicts == 3)).sum(axis=0)
        self.seconds = seconds

    def __repr__(self):
        rows = ", ".join(f"{e:g}: {100 * c:.1f}%-{100 * a:.1f}%" for e, c, a in
                         zip(self.eps, self.certified_accuracy, self.attacked_accuracy))
        return f"<CertifyResult clean {100 * self.clean_accuracy:.1f}%; certified-attacked {rows}>"


# ------------------------------------------------------------------ the command-line program
def _run_cli(args: Sequence[str], what: str) -> str:
    """Runs the program (cli_path()) with args; its stdout, or Error with its message."""
    r = subprocess.run([cli_path()] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"exit status {r.returncode}"
        for prefix in ("chainrule: error: ", "chainrule: "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        raise Error(f"{what}: {msg}" if not msg.startswith(what) else msg)
    return r.stdout


# ------------------------------------------------------------------ the model
class Model:
    """A network loaded by the chainrule library. Use chainrule.load(path).

    Every method takes inputs X as anything np.asarray accepts (NumPy arrays, lists,
    torch tensors: anything with __array__) of floats, [N, ...] with D values per
    example (or one example [D]); they are converted to the model's dtype. Per-input
    results (input_grad, class_grad, attribute, attack) have X's shape; jacobian is
    [N, K, *X.shape[1:]]; per-output results (predict, jvp) are [N, K]. Derivatives are
    with respect to the raw input: a model's input standardisation is part of the
    chain. Refusals of the library and of the program are chainrule.Error."""

    def __init__(self, path: Union[str, os.PathLike], head: Optional[str] = None,
                 threads: Optional[int] = None):
        if head is not None and head not in _HEADS:
            raise ValueError(f"head must be one of {_HEADS}, got {head!r}")
        if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
            raise ValueError(f"threads must be a whole number >= 1 or None, got {threads!r}")
        self._model = None
        self._ctx = None
        ctx = _P()
        _check(_ctx_create(byref(ctx), int(threads or 0)), "cr_ctx_create")
        self._ctx = ctx
        #: the workers of the input derivatives, attacks, bounds and certify (the
        #: results do not depend on it): threads=, or None for the cores available
        self.threads = int(_ctx_threads(ctx))
        m = c_void_p()
        _check_io(_model_open(os.fsencode(path), head.encode() if head else None, byref(m)))
        m = m.value
        self._model = m
        net = _model_net(m)
        self._netp = net
        #: "softmax-cross-entropy" (a classifier) or "squared-error" (a regressor)
        self.head = _HEADS[_net_head(net)]
        act = c_int()
        #: the output activation o = a(θ) ("relu", ...), or None for o = θ
        self.output_activation = (_activation_name(act.value).decode()
                                  if _net_output_activation(net, byref(act)) else None)
        self.path = str(path)
        f64 = _net_dtype(net) == _F64
        self.dtype = np.dtype(np.float64 if f64 else np.float32)
        self._s = "f64" if f64 else "f32"
        L = _net_n_layers(net)
        #: the widths D, H1, ..., K
        self.layers = [int(_net_width(net, i)) for i in range(L + 1)]
        self.activations = []
        for i in range(L - 1):
            _net_hidden_activation(net, i, byref(act))
            self.activations.append(_activation_name(act.value).decode())
        d = self.layers[0]
        mean, std = np.empty(d), np.empty(d)
        has = _model_standardization(m, _ptr(mean), _ptr(std))
        #: the file's input standardisation (x − mean) / std, [D] each, or None
        self.mean = mean.astype(self.dtype) if has else None
        self.std = std.astype(self.dtype) if has else None

    def close(self) -> None:
        """Frees the network now (also done when the object is collected)."""
        if getattr(self, "_model", None) is not None:
            _model_close(self._model)
            self._model = None
        if getattr(self, "_ctx", None) is not None:
            _ctx_free(self._ctx)
            self._ctx = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        std = ", standardised input" if self.mean is not None else ""
        out = f", output {self.output_activation}" if self.output_activation else ""
        return (f"<chainrule.Model {self.path}: {'-'.join(map(str, self.layers))} "
                f"{','.join(self.activations) or 'linear'}{out} {self.head} "
                f"{self.dtype.name}{std}>")

    @property
    def input_dim(self) -> int:
        return self.layers[0]

    @property
    def output_dim(self) -> int:
        return self.layers[-1]

    @property
    def is_classifier(self) -> bool:
        """True for a plain classifier (o = θ, softmax + cross-entropy): what attack, attribute,
        eval's accuracy and train take."""
        return bool(_net_is_plain_classifier(self._net()))

    # ---- arguments
    def _net(self):
        if self._model is None:
            raise ValueError("chainrule.Model: used after close()")
        return self._netp

    def _inputs(self, X) -> Tuple[np.ndarray, tuple]:
        """X as a C-contiguous [N, D] array of the model's dtype (raw: a standardisation is
        the net's link 0, applied by the library), and the shape results take (X's)."""
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"X must be a float array, got {X.dtype} (scale uint8 pixels "
                            "to [0, 1] first)")
        d = self.input_dim
        if X.ndim == 0 or (X.ndim == 1 and X.shape[0] != d):
            raise ValueError(f"X has shape {X.shape}; the model takes [N, {d}]")
        shape = X.shape
        X = X.reshape(1, d) if X.ndim == 1 else X.reshape(X.shape[0], int(np.prod(X.shape[1:])))
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} values per example; the model takes {d}")
        return np.ascontiguousarray(X, dtype=self.dtype), shape

    def _targets(self, y, n: int) -> np.ndarray:
        """N x K targets of the model's dtype: a regressor's float targets t as they are,
        a classifier's from class indices or rows, by the io layer."""
        y = np.asarray(y)
        k = self.output_dim
        if self.head == "squared-error":
            if not np.issubdtype(y.dtype, np.floating):
                raise TypeError(f"a regressor's targets must be floats [N, {k}], got {y.dtype}")
            if y.shape not in ((n, k),) + (((n,),) if k == 1 else ()):
                raise ValueError(f"targets have shape {y.shape}; the model needs [{n}, {k}]")
            return np.ascontiguousarray(y.reshape(n, k), dtype=self.dtype)
        self._require_softmax()
        if y.dtype not in _ARRAY_DTYPES:
            y = y.astype(np.float64 if np.issubdtype(y.dtype, np.floating) else np.int64)
        y = np.ascontiguousarray(y)
        if y.ndim > _ARRAY_MAX_DIMS:
            raise ValueError(f"y has {y.ndim} dimensions")
        shape = (c_size_t * max(1, y.ndim))(*y.shape)
        out = c_void_p()
        _check_io(_labels_to_targets(b"y", _ARRAY_DTYPES[y.dtype], y.ndim, shape, _ptr(y), n, k,
                                     _F64 if self._s == "f64" else _F32, byref(out)))
        try:
            buf = (ctypes.c_char * (n * k * self.dtype.itemsize)).from_address(out.value)
            return np.frombuffer(buf, dtype=self.dtype).reshape(n, k).copy()
        finally:
            _libc.free(out)

    def _classes(self, c, n: int, what: str) -> np.ndarray:
        """n class indices (int64) in [0, K) from c: one int for every example, or [N]."""
        k = self.output_dim
        c = np.asarray(c)
        if not np.issubdtype(c.dtype, np.integer):
            raise TypeError(f"{what} must be class indices (integers), got {c.dtype}")
        c = np.broadcast_to(c, (n,)) if c.ndim == 0 else c.reshape(-1)
        if c.shape != (n,):
            raise ValueError(f"{what} has {c.shape[0]} entries; the inputs have {n}")
        if n and (c.min() < 0 or c.max() >= k):
            raise Error(f"{what}: class {int(c.min() if c.min() < 0 else c.max())} is out of "
                        f"range [0, {k})")
        return np.ascontiguousarray(c, dtype=np.int64)

    def _labels(self, y, n: int, what: str = "y") -> np.ndarray:
        """n class indices from labels y ([N] indices or [N, K] one-hot/probability rows)."""
        y = np.asarray(y)
        if y.ndim == 2 and np.issubdtype(y.dtype, np.floating):
            if y.shape != (n, self.output_dim):
                raise ValueError(f"{what} has shape {y.shape}; [{n}, {self.output_dim}] rows or "
                                 f"[{n}] class indices are needed")
            y = y.argmax(1)
        elif np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        return self._classes(y, n, what)

    def _require_softmax(self) -> None:
        """The program's refusal of a softmax on one output (cli_load_model_head): its
        probability is always 1 and every derivative through it 0."""
        if self.head == "softmax-cross-entropy" and self.output_dim < 2:
            raise Error(f"{self.path}: the network has one output, whose softmax is always 1 "
                        "(a regressor? load it with head='squared-error')")

    def _require_classifier(self, verb: str) -> None:
        """The refusal of the program's classifier-only commands (cli_require_plain)."""
        if self.is_classifier:
            self._require_softmax()
            return
        o = f"{self.output_activation}(θ)" if self.output_activation else "θ"
        what = (f"output o = {o}; loss ½‖o − t‖² (squared error), the prediction is o"
                if self.head == "squared-error" else
                f"output o = {o}; loss: softmax + cross-entropy on o")
        raise Error(f"{self.path}: {verb} does not support this model ({what}): it takes "
                    "classifiers whose output is the logits θ with softmax + cross-entropy on top")

    # ---- the computations
    def _of(self, of: Optional[str]) -> bool:
        """of: "probs" (softmax of the output, classifiers only), "logits" or "outputs" (the
        network's output o, θ or a_out(θ)); None: probs for a classifier, outputs for a
        regressor. Returns True for probabilities."""
        if of is None:
            of = "outputs" if self.head == "squared-error" else "probs"
        if of not in ("probs", "logits", "outputs"):
            raise ValueError(f"of must be 'probs', 'logits' or 'outputs', got {of!r}")
        if of == "probs" and self.head == "squared-error":
            raise ValueError("a regressor (squared-error head) has no probabilities: of='outputs'")
        if of == "probs":
            self._require_softmax()
        return of == "probs"

    def predict(self, X: ArrayLike, of: Optional[str] = None) -> np.ndarray:
        """The network's probabilities (of="probs", softmax of its output, the default for a
        classifier) or its outputs o (of="outputs" or "logits": θ, or a_out(θ) with an output
        activation; a regressor's prediction), [N, K]."""
        probs = self._of(of)
        X, shape = self._inputs(X)
        out = np.empty((X.shape[0], self.output_dim), dtype=self.dtype)
        _check(_net_predict(self._ctx, self._net(), X.shape[0], _ptr(X), int(probs), _ptr(out)),
               "cr_net_predict")
        return out[0] if len(shape) == 1 else out

    def classify(self, X: ArrayLike) -> np.ndarray:
        """The predicted classes argmax_k o_k, [N] int64 (classifiers)."""
        if self.head == "squared-error":
            raise Error(f"{self.path}: a regressor (squared-error head) has no classes")
        return self.predict(X, of="logits").argmax(1).astype(np.int64)

    def input_grad(self, X: ArrayLike, y: ArrayLike, return_loss: bool = False):
        """dJ_n/dx_n of each example's loss, in X's shape: the cross-entropy
        J_n = CE(softmax(o_n), y_n) of a classifier (y: class indices [N] or one-hot /
        probability rows [N, K]), or J_n = ½‖o_n − t_n‖² of a regressor (y: the targets t
        [N, K]); with return_loss, also the N losses."""
        X, shape = self._inputs(X)
        n = X.shape[0]
        Y = self._targets(y, n)
        dx = np.empty_like(X)
        loss = np.empty(n, dtype=self.dtype)
        _check(_typed[self._s]["input_grad"](self._ctx, self._net(), n, _ptr(X), _ptr(Y), _ptr(dx),
                                             _ptr(loss)), f"cr_net_input_grad_{self._s}")
        dx = dx.reshape(shape)
        return (dx, loss) if return_loss else dx

    def class_grad(self, X: ArrayLike, classes: ArrayLike, of: str = "logits",
                   return_score: bool = False):
        """∂f/∂x of one score per example, in X's shape: f = the output (logit) o_c
        (of="logits"/"outputs") or the probability softmax(o)_c (of="probs") of class
        classes[n] (one int for all, or [N]); with return_score also the N scores f."""
        probs = self._of(of)
        X, shape = self._inputs(X)
        n = X.shape[0]
        c = self._classes(classes, n, "classes")
        g = np.empty_like(X)
        score = np.empty(n, dtype=self.dtype)
        _check(_typed[self._s]["class_grad"](self._ctx, self._net(), n, _ptr(X), _ptr(c), int(probs),
                                             _ptr(g), _ptr(score)), f"cr_net_class_grad_{self._s}")
        g = g.reshape(shape)
        return (g, score) if return_score else g

    def jvp(self, X: ArrayLike, V: ArrayLike, of: Optional[str] = None) -> np.ndarray:
        """The directional derivatives J(x_n) v_n, [N, K], of the probabilities or outputs
        (of, as in predict) at each example along V: X's shape (one direction per
        example) or one example's (the same direction for all)."""
        probs = self._of(of)
        X, shape = self._inputs(X)
        n, d = X.shape
        V = np.asarray(V)
        if not np.issubdtype(V.dtype, np.floating):
            raise TypeError(f"V must be a float array, got {V.dtype}")
        if V.size == d:
            V = np.broadcast_to(V.reshape(1, d), (n, d))
        elif V.size == n * d:
            V = V.reshape(n, d)
        else:
            raise ValueError(f"V has shape {V.shape}; the directions must be {shape} or [{d}]")
        V = np.ascontiguousarray(V, dtype=self.dtype)
        out = np.empty((n, self.output_dim), dtype=self.dtype)
        _check(_net_input_jvp(self._net(), n, _ptr(X), _ptr(V), int(probs), _ptr(out)),
               "cr_net_input_jvp")
        return out[0] if len(shape) == 1 else out

    def jacobian(self, X: ArrayLike, of: Optional[str] = None, mode: str = "auto") -> np.ndarray:
        """The input Jacobian of the probabilities or outputs (see predict) of every example,
        [N, K, *X.shape[1:]] (a row per output, in the shape of one input); mode "auto",
        "rev", "fwd" or "closed" (cr_jac_mode)."""
        probs = self._of(of)
        m = c_int()
        if _jac_mode_parse(str(mode).encode(), byref(m)) != 0:
            raise ValueError(f"mode must be auto, rev, fwd or closed, got {mode!r}")
        X, shape = self._inputs(X)
        n, k, d = X.shape[0], self.output_dim, self.input_dim
        jac = np.empty((n, k, d), dtype=self.dtype)
        _check(_typed[self._s]["input_jacobian"](self._ctx, self._net(), n, _ptr(X), int(probs), m.value,
                                                 _ptr(jac)), f"cr_net_input_jacobian_{self._s}")
        return jac.reshape((n, k) + tuple(shape[1:])) if len(shape) > 1 else jac.reshape(k, d)

    def attribute(self, X: ArrayLike, classes: Optional[ArrayLike] = None,
                  method: str = "saliency", of: str = "logits", absolute: bool = False,
                  steps: int = 50, trapezoid: bool = False, tol: float = 0.0,
                  baseline: Optional[ArrayLike] = None, samples: int = 50,
                  noise: float = 0.15, seed: int = 1) -> np.ndarray:
        """Attribution maps, in X's shape, of the score f (the logit, or the probability
        with of="probs") of classes[n] (one int, [N], or None: the predicted class; a
        regressor's: the output o_k to explain, classes=k, needed when K > 1) by
        method "saliency" (∂f/∂x; |∂f/∂x| with absolute), "input-x-gradient" (x ∘ ∂f/∂x),
        "integrated-gradients" (steps, trapezoid, tol; baseline: one input, default zeros)
        or "smoothgrad" (samples; noise: the sd as a fraction of X's range, as the
        program's --noise; seed). Refused as the program refuses: probabilities of a
        regressor, a classifier with an output activation."""
        regress = self.head == "squared-error"
        if regress and of == "probs":
            raise Error(f"attribute: {self.path} is a regressor (squared-error head): it has no "
                        "probabilities; choose the output with classes=K")
        if regress and classes is None and self.output_dim > 1:
            raise Error(f"attribute: {self.path} is a regressor with {self.output_dim} outputs: "
                        f"choose the one to explain with classes=K (0..{self.output_dim - 1})")
        if not regress:
            self._require_classifier("attribute")
        probs = False if regress else self._of(of)
        m = c_int()
        if _attr_method_parse(str(method).encode(), byref(m)) != 0:
            raise ValueError("method must be saliency, input-x-gradient, integrated-gradients "
                             f"or smoothgrad, got {method!r}")
        X, shape = self._inputs(X)
        n, d = X.shape
        if regress:
            c = self._classes(0 if classes is None else classes, n, "classes")
        else:
            c = self.classify(X) if classes is None else self._classes(classes, n, "classes")
        base = None
        if baseline is not None:
            base = np.ascontiguousarray(np.asarray(baseline, dtype=self.dtype).reshape(-1))
            if base.shape != (d,):
                raise ValueError(f"baseline must have {d} values (one input), got {base.size}")
        span = float(X.max() - X.min()) if X.size else 0.0
        out = np.empty_like(X)
        with _Struct("cr_attr_options", method=m.value, of_probs=int(probs),
                     absolute=int(bool(absolute)), steps=steps, trapezoid=int(bool(trapezoid)),
                     tol=tol, samples=samples, noise=noise * (span if span > 0 else 1.0),
                     seed=seed) as opt:
            _attr_options_set_baseline(opt.p, _ptr(base))
            _check(_typed[self._s]["attribute"](self._ctx, self._net(), n, _ptr(X), _ptr(c), opt.p,
                                                _ptr(out), None), f"cr_attribute_{self._s}")
        return out.reshape(shape)

    def _attack(self, X, labels, target, opt):
        n = X.shape[0]
        adv = np.empty_like(X)
        with _Struct("cr_attack_stats") as st:
            if self.head == "squared-error":  # labels: the targets t [N, K]
                _check(_typed[self._s]["attack_regress"](self._ctx, self._net(), n, _ptr(X), _ptr(labels),
                                                         opt.p, _ptr(adv), st.p),
                       f"cr_attack_regress_{self._s}")
            else:
                _check(_typed[self._s]["attack"](self._ctx, self._net(), n, _ptr(X), _ptr(labels),
                                                 _ptr(target), opt.p, _ptr(adv), st.p),
                       f"cr_attack_{self._s}")
            stats = {f: st.get(f) for f in ("correct_clean", "correct_adv", "hit_target",
                                            "loss_clean", "loss_adv", "max_dist")}
        return adv, stats

    def _attack_setup(self, X, y, target, method, norm, steps, step_size, random_start,
                      clip, seed):
        regress = self.head == "squared-error"
        if regress and target is not None:
            raise Error(f"attack: {self.path} is a regressor (squared-error head): it has no class "
                        "to target; the attack raises its squared error")
        if regress and y is None:
            raise Error(f"attack: {self.path} is a regressor: the attack raises J = ½‖o − t‖²; give "
                        f"the targets y [N, {self.output_dim}]")
        if not regress:
            self._require_classifier("attack")
        if method not in _ATTACK_METHODS:
            raise ValueError(f"method must be fgsm or pgd, got {method!r}")
        if norm not in _NORMS:
            raise ValueError(f"norm must be linf or l2, got {norm!r}")
        X, shape = self._inputs(X)
        n = X.shape[0]
        if regress:
            labels = self._targets(y, n)
        else:
            labels = self.classify(X) if y is None else self._labels(y, n)
        tgt = None if target is None else self._classes(target, n, "target")
        lo, hi = (0.0, 1.0) if clip is None else (float(clip[0]), float(clip[1]))
        if not lo < hi:
            raise ValueError(f"clip must be (lo, hi) with lo < hi, got {clip!r}")
        opt = _Struct("cr_attack_options", method=_ATTACK_METHODS[method], norm=_NORMS[norm],
                      steps=steps, step_size=step_size, random_start=int(bool(random_start)),
                      lo=lo, hi=hi, seed=seed)
        return X, shape, labels, tgt, opt

    def attack(self, X: ArrayLike, y: Optional[ArrayLike] = None, eps: float = 0.1,
               method: str = "fgsm", norm: str = "linf", steps: int = 0, step_size: float = 0.0,
               random_start: bool = False, target: Optional[ArrayLike] = None,
               clip: Optional[Tuple[float, float]] = (0.0, 1.0), seed: int = 1,
               return_stats: bool = False):
        """Adversarial examples x', in X's shape: FGSM or PGD (steps, default 20; step_size,
        default 2.5 eps / steps; random_start) in the eps-ball of norm "linf" or "l2"
        around each x, clipped to clip = (lo, hi). Untargeted: raise the loss of the label
        y[n] (class indices or one-hot rows; None: the model's own prediction); targeted
        (target: one class or [N]): lower the loss of the target. A regressor: raise
        J = ½‖o − t‖² with the targets y [N, K] (required). With return_stats also a dict:
        correct_clean, correct_adv, hit_target (counts; 0 for a regressor), loss_clean,
        loss_adv (summed attack losses), max_dist. Refused as the program refuses."""
        X, shape, labels, tgt, opt = self._attack_setup(X, y, target, method, norm, steps,
                                                        step_size, random_start, clip, seed)
        with opt:
            opt.set("eps", eps)
            adv, stats = self._attack(X, labels, tgt, opt)
        adv = adv.reshape(shape)
        return (adv, stats) if return_stats else adv

    def robust_accuracy(self, X: ArrayLike, y: Optional[ArrayLike] = None,
                        eps: Sequence[float] = (0.0, 0.05, 0.1, 0.2), method: str = "fgsm",
                        norm: str = "linf", steps: int = 0, step_size: float = 0.0,
                        random_start: bool = False, target: Optional[ArrayLike] = None,
                        clip: Optional[Tuple[float, float]] = (0.0, 1.0),
                        seed: int = 1) -> AttackCurve:
        """The accuracy under attack for each radius in eps (the program's
        `attack --eps E1,E2,...`): an AttackCurve with eps, accuracy, clean_accuracy,
        hit_target, loss and the largest ε's x_adv. Options as in attack."""
        if self.head == "squared-error":
            raise Error(f"{self.path}: a regressor (squared-error head) has no accuracy: use "
                        "attack(..., return_stats=True) for its squared error")
        eps = [float(e) for e in np.atleast_1d(np.asarray(eps, dtype=np.float64))]
        if not eps:
            raise ValueError("eps: no value")
        X, shape, labels, tgt, opt = self._attack_setup(X, y, target, method, norm, steps,
                                                        step_size, random_start, clip, seed)
        n = X.shape[0]
        acc, hit, loss, adv, clean = [], [], [], None, 0.0
        with opt:
            for e in eps:
                opt.set("eps", e)
                adv, s = self._attack(X, labels, tgt, opt)
                acc.append(s["correct_adv"] / n)
                hit.append(s["hit_target"] / n)
                loss.append(s["loss_adv"] / n)
                clean = s["correct_clean"] / n
        return AttackCurve(np.array(eps), np.array(acc), clean, np.array(hit), np.array(loss),
                           adv.reshape(shape))

    def eval(self, X: ArrayLike, y: ArrayLike) -> EvalResult:
        """The mean loss on (X, y) (the cross-entropy of a classifier with labels y, or
        ½‖o − t‖² of a regressor with targets y), and for a classifier the accuracy, the
        predicted classes and the confusion matrix [true][predicted]."""
        X, _ = self._inputs(X)
        n = X.shape[0]
        _, loss = self.input_grad(X, y, return_loss=True)
        if self.head == "squared-error":
            return EvalResult(n, float(np.mean(loss)))
        labels = self._labels(y, n)
        pred = self.classify(X)
        k = self.output_dim
        conf = np.zeros((k, k), dtype=np.int64)
        np.add.at(conf, (labels, pred), 1)
        return EvalResult(n, float(np.mean(loss)), float(np.mean(pred == labels)), pred, conf)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the model (with its standardisation) to path: ONNX when path ends in
        .onnx, else a chainrule safetensors file (written atomically)."""
        self._net()  # ValueError after close()
        m = self._model
        p = os.fsencode(path)
        f = _onnx_write if p.lower().endswith(b".onnx") else _model_save_full
        _check_io(f(p, m))

    def bounds(self, lo: ArrayLike, hi: ArrayLike, C: Optional[ArrayLike] = None,
               method: str = "crown", _no_intersect: bool = False, _alpha_intermediate: int = 0,
               _alpha_iters: int = 0, _alpha_lr: float = 0.0):
        """Sound lower and upper bounds (lb, ub), [M] each, of the rows C·o of the
        network's output o over the box lo <= x <= hi (raw inputs, [D] each or X's shape;
        the standardisation is applied inside) by cr_net_bound: method "ibp",
        "crown-ibp", "crown" or "alpha" (α-CROWN: optimised slopes, never looser than
        CROWN). C: [M, K] (default the identity: bounds of each output).
        The bounds hold for the network's weights read as reals, evaluated exactly,
        whatever the rounding of the computation (docs/certification.md)."""
        if method not in _BOUND_METHODS:
            raise ValueError(f"method must be one of {sorted(_BOUND_METHODS)}, got {method!r}")
        d, k = self.input_dim, self.output_dim
        lo = np.ascontiguousarray(np.asarray(lo, dtype=np.float64).reshape(-1))
        hi = np.ascontiguousarray(np.asarray(hi, dtype=np.float64).reshape(-1))
        if lo.shape != (d,) or hi.shape != (d,):
            raise ValueError(f"lo and hi must have {d} values each, got {lo.shape}, {hi.shape}")
        C = np.eye(k) if C is None else np.asarray(C, dtype=np.float64)
        C = np.ascontiguousarray(C.reshape(1, -1) if C.ndim == 1 else C)
        if C.ndim != 2 or C.shape[1] != k or C.shape[0] == 0:
            raise ValueError(f"C must be [M, {k}], got {C.shape}")
        m = C.shape[0]
        lb, ub = np.empty(m), np.empty(m)
        with _Struct("cr_bound_options", method=_BOUND_METHODS[method],
                     no_intersect=int(_no_intersect), alpha_intermediate=int(_alpha_intermediate),
                     alpha_iters=int(_alpha_iters), alpha_lr=float(_alpha_lr)) as opt:
            _check(_net_bound(self._ctx, self._net(), _ptr(lo), _ptr(hi), m, _ptr(C), opt.p, _ptr(lb),
                              _ptr(ub)), "cr_net_bound")
        return lb, ub

    def certify(self, X: ArrayLike, y: ArrayLike, eps, method: str = "auto", clip=None,
                restarts: int = 10, steps: int = 50, seed: int = 1, timeout: float = 0):
        """Certified and attacked accuracy of a classifier in L-inf balls of radius eps (a
        number or a list) around each example, as `chainrule certify --eps` computes them
        (cr_certify_linf per example and eps: the example itself when misclassified, then
        IBP and the method's bounds, the margin attack only on what they do not prove).
        method: "ibp", "crown-ibp", "crown", "alpha" or "auto" (= alpha, as the program). clip=(lo, hi): the valid
        input range the balls are clipped to (the program uses (0, 1) for images; None: no
        clipping). restarts, steps, seed: the attack's (example i uses seed ^ i, as the
        program does). Returns a CertifyResult with per-example verdicts [N, E]."""
        methods = dict(_BOUND_METHODS, auto=_BOUND_METHODS["alpha"])
        if method not in methods:
            raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}")
        if self.head != "softmax-cross-entropy":
            raise Error(f"{self.path}: certify needs a classifier (softmax head)")
        X, _ = self._inputs(X)
        n = X.shape[0]
        labels = self._labels(y, n)
        X64 = np.ascontiguousarray(X, dtype=np.float64)
        eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
        if eps.ndim != 1 or eps.size == 0 or not np.all(np.isfinite(eps)) or np.any(eps < 0):
            raise ValueError(f"eps must be finite radii >= 0, got {eps}")
        lo, hi = (-np.inf, np.inf) if clip is None else (float(clip[0]), float(clip[1]))
        if not lo < hi:
            raise ValueError(f"clip must be (lo, hi) with lo < hi, got {clip}")
        if n and (X64.min() < lo or X64.max() > hi):
            raise ValueError(f"an example lies outside clip [{lo:g}, {hi:g}]")
        pred = self.classify(X) if n else np.zeros(0, np.int64)
        codes = np.zeros((n, eps.size), dtype=np.uint8)
        seconds = np.zeros(eps.size)
        with _Struct("cr_certify_options", method=methods[method], attack_restarts=restarts,
                     attack_steps=steps, timeout_s=timeout) as opt, \
                _Struct("cr_certify_result") as res:
            for e, r in enumerate(eps):
                for i in range(n):
                    opt.set("seed", (int(seed) ^ i) & 0xFFFFFFFFFFFFFFFF)
                    _check(_certify_linf(self._ctx, self._net(), _ptr(X64[i]), float(r), lo, hi,
                                         int(labels[i]), opt.p, res.p),
                           f"cr_certify_linf (example {i}, eps {r:g})")
                    verdict = int(res.get("verdict"))
                    by = _struct_get_string(b"cr_certify_result", res.p, b"proved_by")
                    seconds[e] += res.get("seconds")
                    codes[i, e] = (0 if verdict == 0 else
                                   4 if by == b"centre" or pred[i] != labels[i] else
                                   1 if verdict == 1 else 3 if verdict == 3 else 2)
        clean = float(np.mean(pred == labels)) if n else 0.0
        return CertifyResult(eps, clean, codes, seconds)

    def gradcheck(self, X: ArrayLike, y: ArrayLike, samples: int = 256, seed: int = 1,
                  inject_fault: Optional[Tuple[int, str]] = None) -> GradcheckResult:
        """Every derivative of the network at (X, y) against finite differences in float64,
        by chainrule_check.h's cr_check_net: each op's Jacobian, VJP, JVP and adjoint
        identity, dJ_n/dx_n, the input Jacobian in every mode, the parameter gradients
        (samples entries per tensor, 0 = all) and the network adjoint test, on the
        network's raw input (the standardisation, link 0, is the chain's first op).
        inject_fault=(layer, "jacobian"|"vjp"|"jvp")
        perturbs one op's derivative to show how a fault is reported."""
        X, _ = self._inputs(X)
        n = X.shape[0]
        Y = self._targets(y, n)
        with _Struct("cr_check_options", samples=samples, seed=seed) as opt, \
                _Struct("cr_check_report") as rep:
            if inject_fault is not None:
                layer, kind = inject_fault
                if kind not in _INJECT_KINDS:
                    raise ValueError(f"inject_fault kind must be one of {sorted(_INJECT_KINDS)}")
                opt.set("inject_layer", int(layer))
                opt.set("inject_kind", _INJECT_KINDS[kind])
            _check(_check_net(self._net(), n, _ptr(X), _ptr(Y), opt.p, rep.p), "cr_check_net")
            items = [CheckItem(_check_report_item(rep.p, i)) for i in range(int(rep.get("n")))]
            return GradcheckResult(items, int(rep.get("failures")))

    def explain(self, X: Optional[ArrayLike] = None, y: Optional[ArrayLike] = None,
                index: int = 0, format: str = "text") -> str:
        """The program's `explain --model`: the derivation of dJ/dx for this network, with
        its numbers at the example X[index] (labels y; random when X is None), as text
        (format "text" or "markdown")."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.safetensors")  # this model as it is in memory
            self.save(path)
            args = ["explain", "--model", path, "--format", format]
            if X is not None:
                X, _ = self._inputs(X)
                xp = os.path.join(tmp, "x.npy")
                np.save(xp, X)
                args += ["--inputs", xp, "--index", str(int(index))]
                if y is not None:
                    yp = os.path.join(tmp, "y.npy")
                    np.save(yp, self._labels(y, X.shape[0]))
                    args += ["--labels", yp]
            return _run_cli(args, "explain")


def load(path: Union[str, os.PathLike], head: Optional[str] = None,
         threads: Optional[int] = None) -> Model:
    """A model from a file: a chainrule .safetensors model or an ONNX MLP (by content).
    head: "squared-error" (a regressor) or "softmax-cross-entropy" instead of the file's.
    A softmax head on one output (its probability always 1) is refused by every verb
    that would use it (predict's probabilities, input_grad, attack, ...) as the program
    refuses it: load such a regressor with head="squared-error". threads: the model's
    workers (its context; None: the cores available to the process); results do not
    depend on it."""
    return Model(path, head, threads)


def init(layers: Sequence[int], activation: Union[str, Sequence[str]] = "sigmoid",
         seed: int = 1, dtype: str = "float32", out: Optional[Union[str, os.PathLike]] = None
         ) -> Model:
    """A network with random weights (the program's `init`): layers D, H, ..., K,
    activation one name or one per hidden layer, Xavier or He by the activation, zero
    biases, reproducible from seed; written to out (ONNX for .onnx) when given."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.fspath(out) if out is not None else os.path.join(tmp, "model.safetensors")
        _run_cli(["init", "--layers", ",".join(str(int(w)) for w in layers), "--activation",
                  activation if isinstance(activation, str) else ",".join(activation),
                  "--seed", seed, "--dtype", dtype, "--out", path], "init")
        return Model(path)


def train(X: ArrayLike, y: ArrayLike, layers: Optional[Sequence[int]] = None,
          activation: Union[str, Sequence[str]] = "sigmoid", epochs: int = 10, batch: int = 64,
          optimizer: str = "adam", lr: Optional[float] = None, seed: int = 1,
          standardize: bool = False, out: Optional[Union[str, os.PathLike]] = None,
          **options: Any) -> Tuple[Model, Dict[str, Any]]:
    """Trains a classifier (softmax + cross-entropy) on inputs X [N, ...] and class labels
    y [N] with the program's `train` (its checkpoints, schedules and optimisers), and
    returns (the model, the program's JSON summary). layers: the widths D, H, ..., K
    (default D,128,K); activation: one name, or one per hidden layer; out: where the model
    and its checkpoint are written (default a temporary file, removed once loaded). Other program options by name:
    weight_decay=1e-4 gives --weight-decay 1e-4, a True value a bare flag."""
    import json
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"X must be a float array, got {X.dtype}")
    X = np.ascontiguousarray(X.reshape(X.shape[0], -1) if X.ndim > 1 else X, dtype=np.float32)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must be class indices (integers), got {y.dtype}")
    with tempfile.TemporaryDirectory() as tmp:
        xp, yp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(xp, X)
        np.save(yp, y.astype(np.int64).reshape(-1))
        path = os.fspath(out) if out is not None else os.path.join(tmp, "model.safetensors")
        args = ["train", "--data", f"{xp},{yp}", "--test", "none", "--epochs", epochs,
                "--batch", batch, "--optimizer", optimizer, "--seed", seed, "--out", path,
                "--json", "--quiet"]
        if layers is not None:
            args += ["--layers", ",".join(str(int(w)) for w in layers)]
        args += ["--activation", activation if isinstance(activation, str) else ",".join(activation)]
        if lr is not None:
            args += ["--lr", lr]
        if standardize:
            args.append("--standardize")
        for k, v in options.items():
            if v is True:
                args.append("--" + k.replace("_", "-"))
            elif v is not False and v is not None:
                args += ["--" + k.replace("_", "-"), v]
        text = _run_cli(args, "train")
        try:
            summary = json.loads(text.strip().splitlines()[-1]) if text.strip() else {}
        except ValueError:
            summary = {"output": text}
        return Model(path), summary


def explain(layers: Sequence[int] = (4, 3, 3), activation: str = "sigmoid", seed: int = 1,
            format: str = "text") -> str:
    """The program's `explain` of a small random network (layers, activation, seed): the
    derivation of dJ/dx through the chain rule with every Jacobian, as text."""
    return _run_cli(["explain", "--layers", ",".join(str(int(w)) for w in layers),
                     "--activation", activation, "--seed", seed, "--format", format], "explain")
