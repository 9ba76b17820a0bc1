"""Array backends of the simulation: numpy (the default and the reference), CuPy, torch and
``array-api-strict`` (the test that the code is namespace-generic), all through
``array-api-compat`` (docs/performance.md).

- :func:`namespace` turns a backend name into its array namespace (``xp``);
- :func:`asarray` moves a host numpy array to a backend (same dtype), :func:`to_numpy` brings
  a backend array back to the host;
- the numeric primitives of the kernels (:func:`matmul_nt`, :func:`matmul_tn`,
  :func:`matvec`, :func:`rmatvec`, :func:`multiply`, :func:`axpy`, :func:`sum_squares`,
  the block buffers of :func:`buffer` and :func:`chunk_rows`): each is one array-API
  expression, and on numpy the BLAS fast path of the reference (in-place
  ``gemm``/``gemv``/``axpy`` into reused buffers), so every kernel is written once;
- :func:`lambdify` evaluates a parsed activation (:func:`twostep.theory.parse_function`) and its
  derivatives in a backend's namespace: the sympy expression is printed with the backend's
  elementwise functions, not numpy lambdas. The array API standard has no ``erf``: it comes from
  the backend's special functions (scipy, cupyx, torch.special) and is refused, naming the
  function and the backend, where there are none (array-api-strict).

Draws stay on the host (:mod:`draws`, numpy Generators) and are moved to the backend with
:func:`asarray`; on numpy :func:`asarray`, :func:`rows` and :func:`to_numpy` are the identity,
so numpy runs are unchanged.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from types import ModuleType

import numpy as np
import sympy
from array_api_compat import (
    array_namespace,
    is_cupy_array,
    is_cupy_namespace,
    is_jax_namespace,
    is_numpy_namespace,
    is_torch_array,
    is_torch_namespace,
)
from array_api_compat import device as array_device
from scipy.linalg import blas
from sympy.printing.pycode import PythonCodePrinter

from twostep.theory import ConfigError, Function
from twostep.theory.functions import Z

from .options import BACKENDS

DEFAULT = "numpy"

_INSTALL = {
    "cupy": "the gpu extra: pip install 'twostep[gpu]'",
    "torch": "PyTorch: pip install torch",
    "array-api-strict": "the test extra: pip install 'twostep[test]'",
}

#: Functions outside the array API standard, taken from the backend's special functions.
SPECIAL = ("erf", "erfc")


def _import(name: str) -> ModuleType:
    if name == "numpy":
        import array_api_compat.numpy as xp
        return xp
    try:
        if name == "cupy":
            import array_api_compat.cupy as xp
            import cupy
            if cupy.cuda.runtime.getDeviceCount() < 1:  # pragma: no cover - needs CUDA
                raise ConfigError("backend 'cupy' found no CUDA device")
        elif name == "torch":
            import array_api_compat.torch as xp
        else:
            import array_api_strict as xp
    except ImportError:
        raise ConfigError(f"backend {name!r} needs {_INSTALL[name]}") from None
    except ConfigError:  # pragma: no cover - needs CUDA
        raise
    except Exception as exc:  # pragma: no cover - cupy without a working CUDA runtime
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"backend {name!r} cannot start: {first}") from None
    return xp


def namespace(backend: str | ModuleType | None = None) -> ModuleType:
    """The array namespace of ``backend`` (a name of :data:`BACKENDS`, None for numpy, or a
    namespace, returned as is); one-line ConfigError when it is unknown or not installed."""
    if backend is None:
        backend = DEFAULT
    if isinstance(backend, ModuleType):
        return backend
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    return _import(backend)


def name(xp: ModuleType) -> str:
    """The backend name of a namespace (its module name when it is none of :data:`BACKENDS`)."""
    if is_numpy_namespace(xp):
        return "numpy"
    if is_cupy_namespace(xp):
        return "cupy"
    if is_torch_namespace(xp):
        return "torch"
    if xp.__name__ == "array_api_strict":
        return "array-api-strict"
    return xp.__name__


def is_numpy(x: object) -> bool:
    """True for host numpy arrays (the fast path of the simulation)."""
    return isinstance(x, (np.ndarray, np.generic))


def dtype_name(dtype: object) -> str:
    """``"float32"``/``"float64"`` of a numpy, CuPy, torch or array-api-strict dtype."""
    text = str(dtype)
    return text.rsplit(".", 1)[-1].replace("'>", "").replace("<class '", "")


def itemsize(dtype: object) -> int:
    """Bytes of one element of a floating dtype of any backend."""
    return np.dtype(dtype_name(dtype)).itemsize


def asarray(x: object, xp: ModuleType, dtype: object | None = None):
    """``x`` (host numpy or already an ``xp`` array) as an ``xp`` array; ``dtype`` (a numpy
    dtype or name) casts, else the dtype is kept. Host arrays are copied to the backend (never
    aliased, even where the backend shares host memory); numpy arrays stay as they are."""
    if is_numpy_namespace(xp):
        return np.asarray(x, dtype=None if dtype is None else np.dtype(dtype_name(dtype)))
    try:
        same = array_namespace(x) is xp
    except TypeError:
        same = False
    if not same:  # a copy: the backend array never aliases the host one
        x = xp.asarray(np.asarray(x), copy=True)
    if dtype is not None:
        want = getattr(xp, dtype_name(dtype))
        if x.dtype != want:
            x = xp.astype(x, want)
    return x


def rows(x: object, start: int, stop: int, xp: ModuleType):
    """Rows ``start:stop`` of ``x`` as an ``xp`` array: a slice when ``x`` is already there, a
    block moved from the host when ``x`` is host numpy (the draws stay on the host and only
    one block at a time occupies the device)."""
    block = x[start:stop, ...]
    return block if is_numpy_namespace(xp) or not is_numpy(x) else asarray(block, xp)


def to_numpy(x: object) -> np.ndarray:
    """A backend array (or scalar) as a host numpy array: numpy arrays are returned as they
    are; CuPy and torch arrays are copied to the host; others (array-api-strict) go through
    DLPack (``np.from_dlpack``) and are copied, so the host array never aliases backend memory."""
    if is_numpy(x) or isinstance(x, numbers.Number):
        return np.asarray(x)
    if is_cupy_array(x):  # pragma: no cover - needs CUDA
        return x.get()
    if is_torch_array(x):  # pragma: no cover - torch is not installed in CI
        return x.detach().cpu().numpy()
    try:
        return np.array(np.from_dlpack(x), copy=True)
    except (TypeError, BufferError, RuntimeError, AttributeError):  # pragma: no cover
        return np.array(x, copy=True)


def scalar(x: object) -> float:
    """A 0-d backend array (or number) as a Python float (a device sync on GPUs)."""
    return float(to_numpy(x)) if not isinstance(x, numbers.Number) else float(x)


# -- numeric primitives: one array-API expression each, numpy's BLAS fast path inside --------
#
# The kernels (gd.gradient_step, terms.term_matrices, core.Core.update, terms.subtract_terms)
# are written once against the namespace; what numpy does for speed and memory lives here
# only: products written by scipy's BLAS into reused block buffers (Fortran views of C
# arrays, no copies), in-place ufuncs, elementwise work on cache-sized row chunks. All of a
# kernel's BLAS calls go to scipy's BLAS: numpy and scipy wheels ship two OpenBLAS copies,
# and alternating between their thread pools block by block makes their spinning workers
# compete for the cores. On every other namespace each primitive is the plain expression
# named in its docstring (the namespace allocates its results; no buffers, no BLAS handles).


def _blas(dtype: np.dtype, routine: str) -> Callable:
    """scipy's BLAS ``routine`` (``gemm``, ``gemv``, ``axpy``) of a float32/float64 dtype."""
    return getattr(blas, ("s" if dtype == np.float32 else "d") + routine)


def _written(result: np.ndarray, target: np.ndarray) -> np.ndarray:
    if not np.may_share_memory(result, target):  # pragma: no cover - layout bug
        raise RuntimeError("BLAS did not write in place (array layout changed)")
    return target


def contiguous(*arrays: object) -> bool:
    """True when the numpy arrays among ``arrays`` are C-contiguous (the layout the BLAS
    paths view without copies); other namespaces' arrays always pass."""
    return all(a.flags.c_contiguous for a in arrays if is_numpy(a))


def buffer(xp: ModuleType, shape: tuple[int, ...], dtype: object):
    """A block buffer that a kernel reuses for every block: uninitialised numpy memory on
    numpy; None elsewhere (the primitives then allocate their results)."""
    return np.empty(shape, dtype=dtype) if is_numpy_namespace(xp) else None


def head(buf, count: int):
    """The first ``count`` rows of a :func:`buffer` (None stays None)."""
    return None if buf is None else buf[:count]


def chunk_rows(xp: ModuleType, count: int, row_bytes: int, budget: int) -> int:
    """Rows of the chunks the elementwise work of a block of ``count`` rows runs on: about
    ``budget`` bytes on numpy (the activation's temporaries stay in cache and come from
    malloc's free lists), the whole block elsewhere (one kernel per operation on a GPU)."""
    if not is_numpy_namespace(xp):
        return max(1, count)
    return max(1, budget // max(row_bytes, 1))


def matmul_nt(A, B, out=None):
    """``A @ B.T`` (A: b x d, B: N x d; b x N), on numpy one ``gemm`` into ``out`` (a C
    b x N buffer, allocated when None) through Fortran views of A and B."""
    if not is_numpy(A):
        return A @ B.T
    if out is None:
        out = np.empty((A.shape[0], B.shape[0]), dtype=A.dtype)
    # out^T (N x b) = B (N x d) A^T: B.T and A.T are Fortran-contiguous views
    return _written(_blas(A.dtype, "gemm")(1.0, B.T, A.T, beta=0.0, c=out.T, trans_a=1,
                                           overwrite_c=1), out)


def matmul_tn(A, B, out=None, *, accumulate: bool = False):
    """``A.T @ B`` (A: b x N, B: b x d; N x d) written to ``out``, or added to it with
    ``accumulate`` (``out += A.T @ B``); a new array when ``out`` is None. On numpy one
    ``gemm`` on out's memory (``beta`` 0 or 1) through Fortran views."""
    if not is_numpy(A):
        product = A.T @ B
        if out is None:
            return product
        if accumulate:
            out += product
        else:
            out[...] = product
        return out
    if out is None:
        out = (np.zeros if accumulate else np.empty)((A.shape[1], B.shape[1]), dtype=A.dtype)
    # out^T (d x N) (+)= B^T (d x b) A (b x N)
    return _written(_blas(A.dtype, "gemm")(1.0, B.T, A.T, beta=1.0 if accumulate else 0.0,
                                           c=out.T, trans_b=1, overwrite_c=1), out)


def matvec(A, x, alpha: float = 1.0):
    """``alpha (A @ x)`` in A's dtype (A: b x N); numpy: one transposed ``gemv`` on A's
    C-contiguous rows (A made contiguous if it is not)."""
    if not is_numpy(A):
        product = A @ x
        return product if alpha == 1.0 else product * alpha
    return _blas(A.dtype, "gemv")(alpha, np.ascontiguousarray(A).T, x, trans=1)


def rmatvec(A, x, alpha: float = 1.0):
    """``alpha (A.T @ x)`` in A's dtype (A: b x d, C-contiguous on numpy); numpy: one
    ``gemv`` on the Fortran view ``A.T``."""
    if not is_numpy(A):
        product = A.T @ x
        return product if alpha == 1.0 else product * alpha
    return _blas(A.dtype, "gemv")(alpha, A.T, x)


def multiply(x, y, out=None):
    """``x * y``, on numpy written into ``out`` when given (``np.multiply(..., out=)``)."""
    if out is not None and is_numpy(out):
        return np.multiply(x, y, out=out)
    return x * y


def axpy(alpha: float, x, y) -> None:
    """``y += alpha x`` in place; numpy: one BLAS ``axpy`` on the flat (C-contiguous)
    arrays, no temporary."""
    if not is_numpy(y):
        y += alpha * x
        return
    flat = y.reshape(-1)
    _written(_blas(y.dtype, "axpy")(x.reshape(-1), flat, a=alpha), flat)


def sum_squares(x) -> float:
    """``sum(x * x)`` of a 2-D array as a Python float; numpy: ``einsum`` (no temporary)."""
    if is_numpy(x):
        return float(np.einsum("ij,ij->", x, x))
    return scalar(array_namespace(x).sum(x * x))


def _special(xp: ModuleType, func: str) -> Callable | None:
    """``erf``/``erfc`` of a backend, or None where it has none."""
    if is_numpy_namespace(xp):
        import scipy.special
        return getattr(scipy.special, func)
    if is_cupy_namespace(xp):  # pragma: no cover - needs CUDA
        import cupyx.scipy.special
        return getattr(cupyx.scipy.special, func)
    if is_torch_namespace(xp):  # pragma: no cover - torch is not installed in CI
        import torch
        return getattr(torch.special, func)
    if is_jax_namespace(xp):  # pragma: no cover
        import jax.scipy.special
        return getattr(jax.scipy.special, func)
    return None


def _mapping(xp: ModuleType, needed: set[str]) -> dict[str, object]:
    """Sympy function names -> functions of ``xp`` (math for Python numbers: sympy prints
    constants like ``sqrt(2)`` as calls on numbers)."""

    def unary(array_fn: Callable, number_fn: Callable) -> Callable:
        def call(x):
            return number_fn(x) if isinstance(x, numbers.Number) else array_fn(x)
        return call

    def like(value, x):
        return xp.asarray(value, dtype=x.dtype, device=array_device(x))

    def extremum(array_fn: Callable, number_fn: Callable) -> Callable:
        def call(*args):
            arrays = [v for v in args if not isinstance(v, numbers.Number)]
            numbers_ = [v for v in args if isinstance(v, numbers.Number)]
            if not arrays:
                return number_fn(*args)
            out = arrays[0]
            for v in arrays[1:]:
                out = array_fn(out, v)
            if numbers_:
                out = array_fn(out, like(number_fn(numbers_), out))
            return out
        return call

    def heaviside(x, h0=0.5):
        if isinstance(x, numbers.Number):
            return 1.0 if x > 0 else 0.0 if x < 0 else h0 if x == 0 else x
        step = xp.where(x > 0, like(1.0, x), xp.where(x < 0, like(0.0, x), like(h0, x)))
        return xp.where(xp.isnan(x), x, step)

    def sign(x):
        if isinstance(x, numbers.Number):
            return float((x > 0) - (x < 0))
        return xp.sign(x)

    mapping: dict[str, object] = {
        "exp": unary(xp.exp, math.exp), "log": unary(xp.log, math.log),
        "sqrt": unary(xp.sqrt, math.sqrt), "sin": unary(xp.sin, math.sin),
        "cos": unary(xp.cos, math.cos), "tan": unary(xp.tan, math.tan),
        "tanh": unary(xp.tanh, math.tanh), "sinh": unary(xp.sinh, math.sinh),
        "cosh": unary(xp.cosh, math.cosh), "Abs": unary(xp.abs, abs),
        "abs": unary(xp.abs, abs), "sign": sign, "Heaviside": heaviside,
        "Max": extremum(xp.maximum, max), "Min": extremum(xp.minimum, min),
        "pi": math.pi, "e": math.e, "E": math.e,
    }
    for func in SPECIAL:
        if func not in needed:
            continue
        special = _special(xp, func)
        if special is None:
            raise ConfigError(
                f"backend {name(xp)!r} has no {func} (the array API standard has none): "
                f"use an activation without {func}, or backend numpy, cupy or torch")
        mapping[func] = unary(special, getattr(math, func))
    return mapping


class _Printer(PythonCodePrinter):
    """Python code calling the mapping's names: sympy's Python printer writes ``sign``,
    ``Min`` and ``Max`` with Python scalars' ``copysign``/``min``/``max``, not elementwise."""

    def _call(self, func: str, expr: sympy.Expr) -> str:
        return f"{func}({', '.join(self._print(arg) for arg in expr.args)})"

    def _print_sign(self, expr: sympy.Expr) -> str:
        return self._call("sign", expr)

    def _print_Min(self, expr: sympy.Expr) -> str:
        return self._call("Min", expr)

    def _print_Max(self, expr: sympy.Expr) -> str:
        return self._call("Max", expr)


@functools.lru_cache(maxsize=256)
def _lambdify(expr: sympy.Expr, derivative: int, xp: ModuleType) -> Callable:
    target = sympy.diff(expr, Z, derivative) if derivative else expr
    needed = {str(f.func) for f in target.atoms(sympy.Function)}
    mapping = _mapping(xp, needed)
    unknown = sorted(f for f in needed if f not in mapping)
    if unknown:
        raise ConfigError(f"backend {name(xp)!r} cannot evaluate {', '.join(unknown)} "
                          f"(in {target}); use backend numpy")
    printer = _Printer({"fully_qualified_modules": False, "inline": True,
                        "allow_unknown_functions": True,
                        "user_functions": {key: key for key in mapping}})
    raw = sympy.lambdify(Z, target, modules=[mapping], printer=printer)

    def call(x):
        out = raw(x)
        if isinstance(out, numbers.Number):
            return xp.full(x.shape, float(out), dtype=x.dtype, device=array_device(x))
        if out.shape != x.shape:
            out = xp.broadcast_to(out, x.shape)
        return out if out.dtype == x.dtype else xp.astype(out, x.dtype)

    return call


def lambdify(function: Function, derivative: int = 0,
             xp: ModuleType | str | None = None) -> Callable:
    """The ``derivative``-th derivative of ``function`` as an elementwise callable on ``xp``
    arrays (result: the input's shape and dtype).

    On numpy it is ``function.numpy(derivative)`` itself (the reference). The refusals of
    :meth:`Function.numpy` (derivatives with a jump) apply to every backend; a function the
    backend lacks (``erf`` on array-api-strict) is a one-line ConfigError naming both.
    """
    xp = namespace(xp)
    reference = function.numpy(derivative)  # the same refusals on every backend
    if is_numpy_namespace(xp):
        return reference
    return _lambdify(function.expr, int(derivative), xp)
