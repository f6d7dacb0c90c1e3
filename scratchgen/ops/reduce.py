"""Reductions: sum, max, min and logsumexp as primitives; mean, var, softmax and log_softmax
composed from them.

A reduction's backward spreads ``grad_out`` back over the reduced axes: reshape it to the
``keepdims`` shape, broadcast it to the input shape, and (for max/min) keep it only where the
extreme value was.
"""
import math

import numpy as np

from ..autograd.function import Function


def _axes(axis, ndim, caller):
    """Normalize ``axis`` (None, an int or a tuple) to a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{caller}: axis {a} is out of range for a tensor with {ndim} dims")
    return tuple(sorted({int(a) % max(ndim, 1) for a in axes}))


def _kept_shape(shape, axes):
    """The shape the reduction has with ``keepdims=True``."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axis``.  dL/dx = dL/dy broadcast back over the summed axes."""

    def forward(self, x, axis, keepdims):
        self.in_shape = x.shape
        self.kept = _kept_shape(x.shape, _axes(axis, x.ndim, "sum"))
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, grad_out):
        return grad_out.reshape(self.kept).broadcast_to(self.in_shape)


class _Extreme(Function):
    """Shared forward/backward of Max and Min: the gradient goes to the extreme entries,
    split equally among ties (as PyTorch's amax/amin do)."""

    reduce = None  # np.max or np.min

    def forward(self, x, axis, keepdims):
        axes = _axes(axis, x.ndim, type(self).__name__.lower())
        if x.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}: cannot reduce an empty tensor")
        kept = self.reduce(x, axis=axes, keepdims=True)
        mask = x == kept
        self.share = (mask / mask.sum(axis=axes, keepdims=True)).astype(x.dtype)
        self.in_shape, self.kept = x.shape, kept.shape
        return kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad_out):
        return grad_out.reshape(self.kept).broadcast_to(self.in_shape) * self.share


class Max(_Extreme):
    """y = max of x over ``axis``.  dL/dx = dL/dy at the maximal entries, 0 elsewhere."""

    reduce = staticmethod(np.max)


class Min(_Extreme):
    """y = min of x over ``axis``.  dL/dx = dL/dy at the minimal entries, 0 elsewhere."""

    reduce = staticmethod(np.min)


class LogSumExp(Function):
    """y = log(sum(exp(x))) over ``axis``.  dL/dx = dL/dy * exp(x - y) (the softmax).

    Fused for stability: forward subtracts the maximum first, so exp never overflows.
    """

    def forward(self, x, axis, keepdims):
        axes = _axes(axis, x.ndim, "logsumexp")
        self.kept = _kept_shape(x.shape, axes)
        shift = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros(self.kept, x.dtype)
        shift = np.where(np.isfinite(shift), shift, 0)  # all -inf: log(0) = -inf, no NaN
        with np.errstate(divide="ignore"):
            out = shift + np.log(np.sum(np.exp(x - shift), axis=axes, keepdims=True))
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad_out):
        (x,) = self.inputs
        softmax = (x - self.output.reshape(self.kept)).exp()
        return grad_out.reshape(self.kept) * softmax


def _count(shape, axis, caller):
    return math.prod(shape[a] for a in _axes(axis, len(shape), caller))


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``: sum / count."""
    return x.sum(axis=axis, keepdims=keepdims) / _count(x.shape, axis, "mean")


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis``: sum((x - mean)^2) / (count - ddof).

    ``ddof=0`` (the default, as NumPy) is the biased estimator used by batch normalization;
    ``ddof=1`` is PyTorch's default unbiased estimator.
    """
    centred = x - x.mean(axis=axis, keepdims=True)
    return (centred * centred).sum(axis=axis, keepdims=keepdims) / (
        _count(x.shape, axis, "var") - ddof
    )


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, computed as exp(x - logsumexp(x)) for stability."""
    return (x - x.logsumexp(axis=axis, keepdims=True)).exp()


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``: stable because logsumexp is."""
    return x - x.logsumexp(axis=axis, keepdims=True)
