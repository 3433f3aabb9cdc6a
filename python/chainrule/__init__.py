"""chainrule from Python: a ctypes binding over libchainrule.so that needs only numpy.

    import chainrule
    m = chainrule.load("model.safetensors")        # or an .onnx file (detected by content)
    probs = m.predict(X)                           # [N, K]
    dx = m.input_grad(X, y)                        # [N, D]: dJ_n/dx_n of each example's loss
    jac = m.jacobian(X, of="probs", mode="auto")   # [N, K, D]
    r = m.gradcheck(X, y)                          # r.passed, r.results (chainrule_check.h)

X is any float array [N, D] (or [N, ...] with D values per example), converted
to the model's dtype; y holds class indices [N] or one-hot / probability rows
[N, K]. Derivatives are with respect to the raw input: a model's input
standardisation (input.mean/std) is part of the chain. Errors of the library
raise chainrule.Error with the library's message.

The libraries are found, in this order, through the environment variable
CHAINRULE_LIBRARY (the path of libchainrule.so[.0], or the folder holding it;
libchainrule_io.so.0 is taken from the same folder), the build tree next to
this package (../build, for development), and the dynamic loader's search
path (an installed copy: ldconfig's cache, LD_LIBRARY_PATH).
"""
import ctypes
import os
from ctypes import POINTER, Structure, byref, c_char, c_char_p, c_double, c_int, c_size_t
from ctypes import c_uint64, c_void_p

import numpy as np

__all__ = ["load", "Model", "Error", "GradcheckResult", "CheckItem", "library_paths"]

# ------------------------------------------------------------------ the C structs
# Mirrors of the public structs of chainrule.h, chainrule_io.h and
# chainrule_check.h (only as far as this module reads them).
_MAX_LAYERS = 16  # CR_MAX_LAYERS
_ARRAY_MAX_DIMS = 8  # CR_ARRAY_MAX_DIMS
_STATUS = ["CR_OK", "CR_ERR_NOMEM", "CR_ERR_ARG", "CR_ERR_SHAPE", "CR_ERR_OVERFLOW",
           "CR_ERR_NONFINITE", "CR_ERR_DTYPE"]
_F32, _F64 = 0, 1  # cr_dtype
_HEADS = ["softmax-cross-entropy", "squared-error"]  # cr_head
_ARRAY_DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1, np.dtype(np.uint8): 2,
                 np.dtype(np.int32): 3, np.dtype(np.int64): 4}  # cr_array_dtype


class _Net(Structure):
    _fields_ = [("dtype", c_int), ("n_layers", c_int), ("dims", c_size_t * (_MAX_LAYERS + 1)),
                ("act", c_int * _MAX_LAYERS), ("w_offset", c_size_t * _MAX_LAYERS),
                ("b_offset", c_size_t * _MAX_LAYERS), ("n_params", c_size_t),
                ("params", c_void_p),
                # the output and the head (chainrule.h): o = out_act(θ) or θ; cr_head
                ("has_out_act", c_int), ("out_act", c_int), ("head", c_int),
                # the affine links (link 0: the input standardisation, applied by the
                # library in every walk, so derivatives are w.r.t. the raw input)
                ("link_form", c_int * (_MAX_LAYERS + 1)), ("link_eps", c_double * (_MAX_LAYERS + 1)),
                ("link_offset", c_size_t * (_MAX_LAYERS + 1)), ("link_params", c_void_p)]


class _Tape(Structure):
    _fields_ = [("dtype", c_int), ("max_batch", c_size_t), ("n", c_size_t), ("n_layers", c_int),
                ("dims", c_size_t * (_MAX_LAYERS + 1)), ("input", c_void_p),
                ("pre", c_void_p * _MAX_LAYERS), ("post", c_void_p * _MAX_LAYERS),
                ("grad_a", c_void_p), ("grad_b", c_void_p), ("loss", c_void_p),
                ("out", c_void_p), ("has_out_act", c_int), ("out_act", c_int), ("head", c_int),
                ("input_z", c_void_p)]


class _Array(Structure):
    _fields_ = [("dtype", c_int), ("ndim", c_int), ("shape", c_size_t * _ARRAY_MAX_DIMS),
                ("count", c_size_t), ("data", c_void_p)]


class _Model(Structure):
    # cr_model: net, input_mean, input_std, extra (cr_safetensors: 2 counts, 2 pointers).
    # The C library fills it; the spare bytes keep a struct that grows at its end
    # from writing past this buffer.
    _fields_ = [("net", POINTER(_Net)), ("input_mean", _Array), ("input_std", _Array),
                ("extra", c_size_t * 4), ("_spare", c_char * 256)]


class _Error(Structure):
    _fields_ = [("msg", c_char * 512)]


class _CheckResult(Structure):
    _fields_ = [("kind", c_int), ("layer", c_int), ("op", c_char * 32), ("what", c_char * 96),
                ("max_err", c_double), ("ref_max", c_double), ("tol", c_double),
                ("rel_err", c_double), ("checked", c_size_t), ("total", c_size_t),
                ("worst", c_size_t), ("passed", c_int), ("trivial", c_int)]


class _CheckReport(Structure):
    _fields_ = [("items", POINTER(_CheckResult)), ("n", c_size_t), ("cap", c_size_t),
                ("failures", c_int)]


class _CheckOptions(Structure):
    _fields_ = [("seed", c_uint64), ("samples", c_size_t), ("op_example", c_size_t),
                ("jac_examples", c_size_t), ("safety", c_double), ("tol_override", c_double),
                ("inject_layer", c_int), ("inject_kind", c_int)]


# ------------------------------------------------------------------ loading the libraries
def library_paths():
    """The (core, io) library paths or names this module loads."""
    env = os.environ.get("CHAINRULE_LIBRARY")
    if env:
        core = os.path.join(env, "libchainrule.so.0") if os.path.isdir(env) else env
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        dev = os.path.join(here, "..", "..", "build", "libchainrule.so.0")
        core = os.path.normpath(dev) if os.path.exists(dev) else "libchainrule.so.0"
    folder = os.path.dirname(core)
    io = os.path.join(folder, "libchainrule_io.so.0") if folder else "libchainrule_io.so.0"
    return core, io


def _load_libraries():
    core_path, io_path = library_paths()
    try:
        # the core first, by path: the io library's NEEDED libchainrule.so.0 is then
        # this very object (the dynamic loader matches it by SONAME)
        core = ctypes.CDLL(core_path)
        io = ctypes.CDLL(io_path)
    except OSError as e:
        raise ImportError(f"chainrule: cannot load the library ({e}); set CHAINRULE_LIBRARY "
                          "to the path of libchainrule.so.0, or install chainrule") from None
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
_activation_name = _proto(_core, "cr_activation_name", c_char_p, c_int)
_jac_mode_parse = _proto(_core, "cr_jac_mode_parse", c_int, c_char_p, POINTER(c_int))
_tape_create = _proto(_core, "cr_tape_create", c_int, POINTER(_Net), c_size_t, POINTER(_P))
_tape_free = _proto(_core, "cr_tape_free", None, _P)
_model_load_full = _proto(_io, "cr_model_load_full", c_int, c_char_p, POINTER(_Model),
                          POINTER(_Error))
_model_free = _proto(_io, "cr_model_free", None, POINTER(_Model))
_labels_to_targets = _proto(_io, "cr_labels_to_targets", c_int, c_char_p, POINTER(_Array),
                            c_size_t, c_size_t, c_int, POINTER(_P), POINTER(_Error))
_typed = {}
for _s in ("f32", "f64"):
    _typed[_s] = {
        "forward": _proto(_core, f"cr_net_forward_{_s}", c_int, POINTER(_Net), _P, c_size_t, _P),
        "input_grad": _proto(_core, f"cr_net_input_grad_{_s}", c_int, POINTER(_Net), c_size_t,
                             _P, _P, _P, _P),
        "input_jacobian": _proto(_core, f"cr_net_input_jacobian_{_s}", c_int, POINTER(_Net),
                                 c_size_t, _P, c_int, c_int, _P),
    }
try:  # the verification library (chainrule_check.h), part of libchainrule
    _check_options_default = _proto(_core, "cr_check_options_default", _CheckOptions)
    _check_net = _proto(_core, "cr_check_net", c_int, POINTER(_Net), c_size_t, _P, _P,
                        POINTER(_CheckOptions), POINTER(_CheckReport))
    _check_report_init = _proto(_core, "cr_check_report_init", None, POINTER(_CheckReport))
    _check_report_free = _proto(_core, "cr_check_report_free", None, POINTER(_CheckReport))
    _check_kind_name = _proto(_core, "cr_check_kind_name", c_char_p, c_int)
except AttributeError:  # a library older than chainrule_check.h
    _check_net = None



class _BoundOptions(Structure):  # chainrule_certify.h: cr_bound_options
    _fields_ = [("method", c_int), ("no_slack", c_int), ("no_intersect", c_int),
                ("alpha_iters", c_size_t), ("alpha_lr", c_double), ("alpha_lr_decay", c_double),
                ("alpha_intermediate", c_int)]


_BOUND_METHODS = {"ibp": 0, "crown-ibp": 1, "crown": 2, "alpha": 3}  # cr_bound_method
try:  # the bounds (chainrule_certify.h), part of libchainrule
    _net_bound = _proto(_core, "cr_net_bound", c_int, POINTER(_Net), _P, _P, c_size_t, _P,
                        POINTER(_BoundOptions), _P, _P)
except AttributeError:  # a library older than chainrule_certify.h
    _net_bound = None

# cr_check_kind values that gradcheck's inject_fault names (chainrule_check.h)
_INJECT_KINDS = {"jacobian": 0, "vjp": 1, "jvp": 2}


# ------------------------------------------------------------------ errors
class Error(RuntimeError):
    """An error reported by the chainrule library.

    str(e) is the library's message; e.status is the cr_status name
    ("CR_ERR_DTYPE", ...) for errors of the core, None for the io layer's
    one-line messages (which name the file and the problem)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def _check(st, what):
    if st != 0:
        name = _STATUS[st] if 0 <= st < len(_STATUS) else f"status {st}"
        raise Error(f"{what}: {_status_string(st).decode()} ({name})", name)


def _ptr(a):
    return a.ctypes.data_as(c_void_p)


# ------------------------------------------------------------------ results of gradcheck
class CheckItem:
    """One comparison of chainrule_check.h's report (cr_check_result)."""
    __slots__ = ("kind", "layer", "op", "what", "max_err", "ref_max", "tol", "rel_err",
                 "checked", "total", "worst", "passed", "trivial")

    def __init__(self, r):
        self.kind = _check_kind_name(r.kind).decode()
        self.layer, self.op, self.what = r.layer, r.op.decode(), r.what.decode()
        self.max_err, self.ref_max, self.tol, self.rel_err = r.max_err, r.ref_max, r.tol, r.rel_err
        self.checked, self.total, self.worst = r.checked, r.total, r.worst
        self.passed, self.trivial = bool(r.passed), bool(r.trivial)

    def __repr__(self):
        where = f"layer {self.layer} ({self.op})" if self.layer else self.op
        what = self.what if self.what.startswith(self.kind) else f"{self.kind} {self.what}"
        return (f"<{'PASS' if self.passed else 'FAIL'} {where}: {what}, "
                f"max error {self.max_err:.3g} <= {self.tol:.3g}>")


class GradcheckResult:
    """passed, failures and the list of CheckItem results of one gradcheck."""

    def __init__(self, items, failures):
        self.results = items
        self.failures = failures
        self.passed = failures == 0 and len(items) > 0

    def first_failure(self):
        return next((r for r in self.results if not r.passed), None)

    def __repr__(self):
        return (f"<GradcheckResult {'PASS' if self.passed else 'FAIL'}: {len(self.results)} "
                f"checks, {self.failures} failed>")


# ------------------------------------------------------------------ the model
class Model:
    """A network loaded by the chainrule library. Use chainrule.load(path)."""

    def __init__(self, path, head=None):
        if head is not None and head not in _HEADS:
            raise ValueError(f"head must be one of {_HEADS}, got {head!r}")
        self._model = _Model()
        err = _Error()
        if _model_load_full(os.fsencode(path), byref(self._model), byref(err)) != 0:
            self._model = None
            raise Error(err.msg.decode(errors="replace"))
        net = self._model.net.contents
        if head is not None:  # before any tape is made for the net
            net.head = _HEADS.index(head)
        #: "softmax-cross-entropy" (a classifier) or "squared-error" (a regressor)
        self.head = _HEADS[net.head]
        #: the output activation o = a(θ) ("relu", ...), or None for o = θ
        self.output_activation = _activation_name(net.out_act).decode() if net.has_out_act else None
        self.path = str(path)
        self.dtype = np.dtype(np.float64 if net.dtype == _F64 else np.float32)
        self.layers = [int(net.dims[i]) for i in range(net.n_layers + 1)]
        self.activations = [_activation_name(net.act[i]).decode()
                            for i in range(net.n_layers - 1)]
        self.mean = self._array(self._model.input_mean)
        self.std = self._array(self._model.input_std)
        self._s = "f64" if net.dtype == _F64 else "f32"

    def _array(self, a):
        """A copy of a [D] cr_array in the model's dtype, or None when absent."""
        if not a.data:
            return None
        dt = {0: np.float32, 1: np.float64}[a.dtype]
        buf = (c_char * (a.count * np.dtype(dt).itemsize)).from_address(a.data)
        return np.frombuffer(buf, dtype=dt).astype(self.dtype)

    def close(self):
        """Frees the network now (also done when the object is collected)."""
        if getattr(self, "_model", None) is not None:
            _model_free(byref(self._model))
            self._model = None

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
    def input_dim(self):
        return self.layers[0]

    @property
    def output_dim(self):
        return self.layers[-1]

    # ---- arguments
    def _net(self):
        if self._model is None:
            raise ValueError("chainrule.Model: used after close()")
        return self._model.net

    def _inputs(self, X):
        """X as a C-contiguous [N, D] array of the model's dtype, raw (a standardisation is
        the net's link 0: the library applies it)."""
        X = np.asarray(X)
        if not (np.issubdtype(X.dtype, np.floating)):
            raise TypeError(f"X must be a float array, got {X.dtype} (scale uint8 pixels "
                            "to [0, 1] first)")
        d = self.input_dim
        if X.ndim == 0 or (X.ndim == 1 and X.shape[0] != d):
            raise ValueError(f"X has shape {X.shape}; the model takes [N, {d}]")
        X = X.reshape(1, d) if X.ndim == 1 else X.reshape(X.shape[0], int(np.prod(X.shape[1:])))
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} values per example; the model takes {d}")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _targets(self, y, n):
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
        if y.dtype not in _ARRAY_DTYPES:
            y = y.astype(np.float64 if np.issubdtype(y.dtype, np.floating) else np.int64)
        y = np.ascontiguousarray(y)
        if y.ndim > _ARRAY_MAX_DIMS:
            raise ValueError(f"y has {y.ndim} dimensions")
        a = _Array(dtype=_ARRAY_DTYPES[y.dtype], ndim=y.ndim, count=y.size, data=_ptr(y))
        for i, s in enumerate(y.shape):
            a.shape[i] = s
        out, err = c_void_p(), _Error()
        k = self.output_dim
        if _labels_to_targets(b"y", byref(a), n, k, _F64 if self._s == "f64" else _F32,
                              byref(out), byref(err)) != 0:
            raise Error(err.msg.decode(errors="replace"))
        try:
            buf = (c_char * (n * k * self.dtype.itemsize)).from_address(out.value)
            return np.frombuffer(buf, dtype=self.dtype).reshape(n, k).copy()
        finally:
            _libc.free(out)

    # ---- the computations
    def _of(self, of):
        """of: "probs" (softmax of the output, classifiers only), "logits" or "outputs" (the
        network's output o, θ or a_out(θ)); None: probs for a classifier, outputs for a
        regressor. Returns True for probabilities."""
        if of is None:
            return self.head != "squared-error"
        if of not in ("probs", "logits", "outputs"):
            raise ValueError(f"of must be 'probs', 'logits' or 'outputs', got {of!r}")
        if of == "probs" and self.head == "squared-error":
            raise ValueError("a regressor (squared-error head) has no probabilities: of='outputs'")
        return of == "probs"

    def predict(self, X, of=None):
        """The network's probabilities (of="probs", softmax of its output, the default for a
        classifier) or its outputs o (of="outputs" or "logits": θ, or a_out(θ) with an output
        activation; a regressor's prediction), [N, K]."""
        probs = self._of(of)
        net, X = self._net(), self._inputs(X)
        n, k = X.shape[0], self.output_dim
        out = np.empty((n, k), dtype=self.dtype)
        tape = c_void_p()
        _check(_tape_create(net, max(1, min(n, 1024)), byref(tape)), "cr_tape_create")
        try:
            t = ctypes.cast(tape, POINTER(_Tape)).contents
            last = t.n_layers - 1
            fwd = _typed[self._s]["forward"]
            for a in range(0, max(n, 1), t.max_batch):
                rows = X[a:a + t.max_batch]
                _check(fwd(net, tape, rows.shape[0], _ptr(rows)), f"cr_net_forward_{self._s}")
                src = t.post[last] if probs else t.out
                buf = (c_char * (rows.shape[0] * k * self.dtype.itemsize)).from_address(src)
                out[a:a + rows.shape[0]] = np.frombuffer(buf, dtype=self.dtype).reshape(-1, k)
        finally:
            _tape_free(tape)
        return out

    def input_grad(self, X, y, return_loss=False):
        """dJ_n/dx_n, [N, D], of each example's loss: the cross-entropy J_n = CE(softmax(o_n),
        y_n) of a classifier, or J_n = 1/2 |o_n - t_n|^2 of a regressor (y: the targets t
        [N, K]); with return_loss, also the N losses."""
        net, X = self._net(), self._inputs(X)
        n = X.shape[0]
        Y = self._targets(y, n)
        dx = np.empty_like(X)
        loss = np.empty(n, dtype=self.dtype)
        _check(_typed[self._s]["input_grad"](net, n, _ptr(X), _ptr(Y), _ptr(dx), _ptr(loss)),
               f"cr_net_input_grad_{self._s}")
        return (dx, loss) if return_loss else dx

    def jacobian(self, X, of=None, mode="auto"):
        """The input Jacobian of the probabilities or outputs (see predict) of every example,
        [N, K, D]; mode "auto", "rev", "fwd" or "closed" (cr_jac_mode)."""
        probs = self._of(of)
        m = c_int()
        if not _jac_mode_parse(str(mode).encode(), byref(m)):
            raise ValueError(f"mode must be auto, rev, fwd or closed, got {mode!r}")
        net, X = self._net(), self._inputs(X)
        n, k, d = X.shape[0], self.output_dim, self.input_dim
        jac = np.empty((n, k, d), dtype=self.dtype)
        _check(_typed[self._s]["input_jacobian"](net, n, _ptr(X), int(probs), m.value,
                                                 _ptr(jac)), f"cr_net_input_jacobian_{self._s}")
        return jac

    def bounds(self, lo, hi, C=None, method="crown", _no_intersect=False, _alpha_intermediate=0,
               _alpha_iters=0, _alpha_lr=0.0):
        """Sound lower and upper bounds (lb, ub), [M] each, of the rows C·o of the
        network's output o over the box lo <= x <= hi (raw inputs, [D] each; the
        standardisation is applied inside) by cr_net_bound: method "ibp", "crown-ibp",
        "crown" or "alpha" (α-CROWN: optimised slopes, never looser than CROWN). C: [M, K] (default the identity: bounds of each output). The bounds
        hold for the network's weights read as reals, evaluated exactly, whatever the
        rounding of the computation (docs/certification.md)."""
        if _net_bound is None:
            raise Error(f"{library_paths()[0]}: this library has no cr_net_bound "
                        "(chainrule_certify.h)")
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
        opt = _BoundOptions(_BOUND_METHODS[method], 0, int(_no_intersect))
        opt.alpha_intermediate = int(_alpha_intermediate)
        opt.alpha_iters, opt.alpha_lr = int(_alpha_iters), float(_alpha_lr)
        _check(_net_bound(self._net(), _ptr(lo), _ptr(hi), m, _ptr(C), byref(opt), _ptr(lb),
                          _ptr(ub)), "cr_net_bound")
        return lb, ub

    def gradcheck(self, X, y, samples=256, seed=1, inject_fault=None):
        """Every derivative of the network at (X, y) against finite differences in float64,
        by chainrule_check.h's cr_check_net: each op's Jacobian, VJP, JVP and adjoint
        identity, dJ_n/dx_n, the input Jacobian in every mode, the parameter gradients
        (samples entries per tensor, 0 = all) and the network adjoint test, on the
        network's raw input (the standardisation, link 0, is the chain's first op).
        inject_fault=(layer, "jacobian"|"vjp"|"jvp")
        perturbs one op's derivative to show how a fault is reported."""
        if _check_net is None:
            raise Error(f"{library_paths()[0]}: this library has no cr_check_net "
                        "(chainrule_check.h)")
        net, X = self._net(), self._inputs(X)
        n = X.shape[0]
        Y = self._targets(y, n)
        opt = _check_options_default()
        opt.samples, opt.seed = samples, seed
        if inject_fault is not None:
            layer, kind = inject_fault
            if kind not in _INJECT_KINDS:
                raise ValueError(f"inject_fault kind must be one of {sorted(_INJECT_KINDS)}")
            opt.inject_layer, opt.inject_kind = int(layer), _INJECT_KINDS[kind]
        rep = _CheckReport()
        _check_report_init(byref(rep))
        try:
            _check(_check_net(net, n, _ptr(X), _ptr(Y), byref(opt), byref(rep)), "cr_check_net")
            items = [CheckItem(rep.items[i]) for i in range(rep.n)]
            return GradcheckResult(items, rep.failures)
        finally:
            _check_report_free(byref(rep))


def load(path, head=None):
    """A model from a file: a chainrule .safetensors model or an ONNX MLP (by content).
    head: "squared-error" (a regressor) or "softmax-cross-entropy" instead of the file's."""
    return Model(path, head)
