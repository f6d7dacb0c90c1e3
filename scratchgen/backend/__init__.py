"""Choose the implementation that scratchgen's array kernels run on.

A backend is an object with a ``name``, the array module ``xp`` that ops allocate with, and
one method per kernel (`Backend` lists them). Ops never import a kernel module themselves:
they call ``backend.current().<kernel>(...)``, so this package is the only place that
knows which implementations exist.

Two backends exist today:

``"numpy"``
    Plain NumPy (`NumpyBackend`): the readable reference, always available.
``"cython"``
    `CythonBackend`: compiled kernels from `scratchgen._kernels`, NumPy's semantics.
    Available when those kernels were built and import.

The default is chosen once, at import: ``"cython"`` if the compiled kernels import, else
``"numpy"`` with one warning that says why. Environment switches:

``SCRATCHGEN_BACKEND=numpy|cython``
    Start with this backend instead; asking for ``cython`` when it cannot be had is an
    ImportError.
``SCRATCHGEN_REQUIRE_EXT=1``
    A failed import of the compiled kernels is an ImportError instead of a warning.

Thread safety: `set_backend` changes the process-wide default, which every thread sees.
`use` overrides it only in the calling thread (or asyncio task), through a
`contextvars.ContextVar`, so one thread's ``with use("numpy"):`` never changes what another
thread computes with.
"""

import contextlib
import contextvars
import os
import warnings
from types import ModuleType
from typing import Protocol

import numpy as np

from .numpy_backend import NumpyBackend

__all__ = [
    "Backend", "available", "current", "get", "kernels_build_info", "kernels_import_error",
    "set_backend", "use",
]

_KNOWN_NAMES = ("numpy", "cython")


class Backend(Protocol):
    """What every backend provides (`NumpyBackend` is the reference implementation)."""

    name: str
    """``"numpy"`` or ``"cython"``."""
    xp: ModuleType
    """The array module of the backend's arrays (numpy here; cupy for a GPU backend)."""

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``numpy.matmul(a, b)``: shapes (..., m, k) @ (..., k, n) -> (..., m, n)."""


def _env_flag(name):
    value = os.environ.get(name, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"scratchgen.backend: {name} must be 0 or 1, got {value!r}")
    return value == "1"


_BACKENDS = {"numpy": NumpyBackend()}
_kernels_error = None  # the ImportError of the compiled kernels, if they failed to import

try:
    # (Absolute imports: an error names the missing module, e.g. scratchgen._kernels._blas.)
    import scratchgen._kernels._blas as _blas
    import scratchgen._kernels._activation  # noqa: F401  (CythonBackend's activations)
    import scratchgen._kernels._conv  # noqa: F401  (its conv kernels)
    import scratchgen._kernels._gp  # noqa: F401  (its Gaussian-process passes)
    import scratchgen._kernels._matmul  # noqa: F401  (its own packed GEMM)
    import scratchgen._kernels._norm  # noqa: F401  (its batch normalization)
    import scratchgen._kernels._optim  # noqa: F401  (its fused optimizer updates)
    import scratchgen._kernels._pool  # noqa: F401  (and its pooling kernels)
except ImportError as exc:
    _kernels_error = exc
else:
    from .cython_backend import CythonBackend

    _BACKENDS["cython"] = CythonBackend()


def kernels_import_error():
    """Return why the compiled kernels failed to import, or None if they imported.

    Returns
    -------
    str or None
        The original error as ``"ExceptionType: message"``.
    """
    if _kernels_error is None:
        return None
    return f"{type(_kernels_error).__name__}: {_kernels_error}"


def kernels_build_info():
    """Return how the compiled kernels were built, or None if they are not available.

    Returns
    -------
    dict or None
        ``openmp`` (bool, built with OpenMP), ``openmp_max_threads`` (int, threads an
        OpenMP loop would use now, honouring ``OMP_NUM_THREADS``; 1 without OpenMP),
        ``cython_debug`` (bool, bounds checks on), ``address_sanitizer`` (bool),
        ``conv_isa`` (the instruction set of the conv kernels' micro-kernels, 'avx512',
        'avx2' or 'generic') and ``conv_isas_supported`` (those this CPU runs, widest first).
    """
    if "cython" not in _BACKENDS:
        return None
    from . import cython_conv

    info = _blas.build_info()
    info["openmp_max_threads"] = _blas.openmp_info()[1]
    info["conv_isa"] = cython_conv.current_isa()
    info["conv_isas_supported"] = cython_conv.supported_isas()
    return info


def available():
    """Return the names of the backends that can be used here, e.g. ``["numpy", "cython"]``."""
    return list(_BACKENDS)


def get(name):
    """Return the backend called `name`.

    Raises
    ------
    ValueError
        If `name` is not a backend scratchgen knows.
    ImportError
        If `name` is ``"cython"`` but the compiled kernels did not import; the message
        includes the original import error.
    """
    if not isinstance(name, str):
        raise TypeError(f"scratchgen.backend: a backend name must be a str, got {name!r}")
    if name in _BACKENDS:
        return _BACKENDS[name]
    if name == "cython":
        raise ImportError(
            "scratchgen.backend: the 'cython' backend needs scratchgen's compiled kernels, "
            f"which failed to import ({kernels_import_error()}). Reinstall scratchgen where "
            "a C compiler is available and without SCRATCHGEN_PURE_PYTHON=1."
        ) from _kernels_error
    raise ValueError(
        f"scratchgen.backend: unknown backend {name!r}; expected one of {list(_KNOWN_NAMES)} "
        f"(available here: {available()})"
    )


def _initial_backend():
    """The default backend at import, from the environment and what imported."""
    requested = os.environ.get("SCRATCHGEN_BACKEND", "")
    if requested not in ("",) + _KNOWN_NAMES:
        raise ValueError(
            f"scratchgen.backend: SCRATCHGEN_BACKEND must be one of {list(_KNOWN_NAMES)} "
            f"or unset, got {requested!r}"
        )
    if _kernels_error is not None and _env_flag("SCRATCHGEN_REQUIRE_EXT"):
        raise ImportError(
            "scratchgen.backend: SCRATCHGEN_REQUIRE_EXT=1 but the compiled kernels failed "
            f"to import ({kernels_import_error()})"
        ) from _kernels_error
    if requested:
        return get(requested)
    if _kernels_error is not None:
        warnings.warn(
            f"scratchgen: compiled kernels unavailable ({kernels_import_error()}); using the "
            "slower pure-NumPy backend. Set SCRATCHGEN_BACKEND=numpy to choose it explicitly "
            "(and silence this warning).",
            RuntimeWarning,
            stacklevel=2,
        )
    return get("cython" if "cython" in _BACKENDS else "numpy")


_default = _initial_backend()
_override = contextvars.ContextVar("scratchgen_backend_override", default=None)


def current():
    """Return the backend in use in this thread: a `use` override, else the default."""
    override = _override.get()
    return _default if override is None else override


def set_backend(name):
    """Make `name` the process-wide default backend (every thread without a `use` block).

    Raises
    ------
    ValueError, ImportError
        As `get`.
    """
    global _default
    _default = get(name)


@contextlib.contextmanager
def use(name):
    """Run the ``with`` block on backend `name`, restoring the previous one afterwards.

    The switch holds only in the calling thread (or asyncio task); blocks nest.

    Yields
    ------
    Backend
        The backend now in use.

    Raises
    ------
    ValueError, ImportError
        As `get`, before the block runs.

    Examples
    --------
    >>> with use("numpy") as backend:
    ...     backend.name
    'numpy'
    """
    token = _override.set(get(name))
    try:
        yield current()
    finally:
        _override.reset(token)
