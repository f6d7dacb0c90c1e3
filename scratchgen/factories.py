"""Functions that create new leaf tensors: zeros, ones, full, arange, randn, rand, ``*_like``.

Random factories take ``rng``: a ``numpy.random.Generator`` (or an int seed) so every run can be
reproduced; without one they draw from a fresh, unseeded generator. The seed rule is
``scratchgen.random_state.check_random_state``, the same as everywhere else.
"""
import numpy as np

from .autograd.tensor import Tensor
from .random_state import check_random_state


def _shape(shape, caller):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"{caller}: shape must be non-negative integers, got {shape}")
    return tuple(int(n) for n in shape)


def _generator(rng, caller):
    """``check_random_state(rng, caller, name="rng")``; kept for modules that import it here."""
    return check_random_state(rng, caller, name="rng")


def zeros(*shape, dtype=np.float32, requires_grad=False):
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape(shape, "zeros"), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape, "ones"), dtype=dtype), requires_grad=requires_grad)


def full(shape, fill_value, dtype=np.float32, requires_grad=False):
    """A tensor of ``shape`` filled with ``fill_value``."""
    return Tensor(np.full(_shape((shape,), "full"), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    """Evenly spaced values in ``[start, stop)``, like ``numpy.arange``.

    Integer arguments give int64 unless ``dtype`` says otherwise; floats give float32.
    """
    values = np.arange(start, stop, step)
    if dtype is None and values.dtype == np.float64:
        dtype = np.float32
    return Tensor(values if dtype is None else values.astype(dtype), requires_grad=requires_grad)


def randn(*shape, rng=None, dtype=np.float32, requires_grad=False):
    """Standard normal samples; ``rng`` is a ``numpy.random.Generator`` or a seed."""
    values = check_random_state(rng, "randn", name="rng").standard_normal(_shape(shape, "randn"))
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def rand(*shape, rng=None, dtype=np.float32, requires_grad=False):
    """Uniform samples in ``[0, 1)``; ``rng`` is a ``numpy.random.Generator`` or a seed."""
    values = check_random_state(rng, "rand", name="rng").random(_shape(shape, "rand"))
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def zeros_like(x, dtype=None, requires_grad=False):
    """Zeros with the shape (and, by default, the dtype) of ``x``."""
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    """Ones with the shape (and, by default, the dtype) of ``x``."""
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    """``fill_value`` everywhere, with the shape (and, by default, the dtype) of ``x``."""
    return full(x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad)


def randn_like(x, rng=None, dtype=None, requires_grad=False):
    """Standard normal samples with the shape (and, by default, the dtype) of ``x``."""
    return randn(x.shape, rng=rng, dtype=dtype or x.dtype, requires_grad=requires_grad)


def rand_like(x, rng=None, dtype=None, requires_grad=False):
    """Uniform samples in ``[0, 1)`` with the shape (and, by default, the dtype) of ``x``."""
    return rand(x.shape, rng=rng, dtype=dtype or x.dtype, requires_grad=requires_grad)
