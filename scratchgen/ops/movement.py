"""Ops that move, select or copy values without arithmetic: reshape, permute, broadcast_to,
getitem, concatenate, pad, cast, and the composites built from them.

Their backward passes move the gradient back the same way: a reshape is undone by a reshape, a
permutation by the inverse permutation, a broadcast by a sum (``unbroadcast``), a selection by
a scatter-add into zeros.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it gets ``shape``.

    This is the one place where broadcasting is undone: if ``x`` of shape ``shape`` was
    broadcast to ``grad.shape`` in forward, each element of ``x`` fed every element along the
    broadcast axes, so its gradient is the sum over them.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    leading = grad.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, n in enumerate(shape) if n == 1 and grad.shape[leading + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


class Reshape(Function):
    """y = x viewed with another shape.  dL/dx = reshape(dL/dy, x.shape)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) "
                f"into shape {shape}"
            ) from None

    def backward(self, grad_out):
        return grad_out.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered: y.shape[i] = x.shape[axes[i]].

    dL/dx = permute(dL/dy, inverse(axes)).
    """

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad_out):
        return grad_out.permute(*np.argsort(self.axes))


class BroadcastTo(Function):
    """y = x repeated along broadcast axes.  dL/dx = unbroadcast(dL/dy, x.shape)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None

    def backward(self, grad_out):
        return unbroadcast(grad_out, self.in_shape)


class Cast(Function):
    """y = x converted to another dtype.  dL/dx = dL/dy converted back."""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad_out):
        return grad_out.astype(self.in_dtype)


def _is_basic(index):
    """True for indices made only of ints, slices, None and Ellipsis (a view, no repeats)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts
    )


class GetItem(Function):
    """y = x[index] for slices, integer arrays and boolean masks.

    dL/dx is zero except at the selected positions, where dL/dy is scatter-added (an integer
    array may select the same element twice, so its gradients must add up).
    """

    def forward(self, x, index):
        self.in_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad_out):
        return ScatterAdd.apply(grad_out, shape=self.in_shape, index=self.index)


class ScatterAdd(Function):
    """y = zeros(shape); y[index] += x.  The adjoint of ``GetItem``: dL/dx = (dL/dy)[index]."""

    def forward(self, x, shape, index):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype)
        if _is_basic(index):
            out[index] = x  # basic indices never repeat an element: plain assignment
        else:
            np.add.at(out, index, x)
        return out

    def backward(self, grad_out):
        return GetItem.apply(grad_out, index=self.index)


def getitem(x, index):
    """``x[index]``: Tensors and lists inside ``index`` become arrays first."""
    def as_index(part):
        if isinstance(part, Tensor):
            return part.data
        if isinstance(part, list):
            return np.asarray(part)
        return part

    index = tuple(as_index(p) for p in index) if isinstance(index, tuple) else as_index(index)
    return GetItem.apply(x, index=index)


class Concatenate(Function):
    """y = [x_0, x_1, ...] joined along ``axis``.  dL/dx_i = the slice of dL/dy that x_i filled."""

    def forward(self, *xs, axis):
        try:
            out = np.concatenate(xs, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(x.shape) for x in xs)
            raise ValueError(
                f"concatenate: tensors must have the same number of dimensions and equal sizes "
                f"except along axis {axis}, got shapes {shapes}"
            ) from None
        self.axis = axis % out.ndim
        self.sizes = [x.shape[self.axis] for x in xs]
        return out

    def backward(self, grad_out):
        return tuple(_split_by_sizes(grad_out, self.sizes, self.axis))


def _split_by_sizes(x, sizes, axis):
    """Slices of ``x`` along ``axis`` with the given sizes (they sum to ``x.shape[axis]``)."""
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(x[index])
        start += size
    return pieces


def concatenate(tensors, axis=0):
    """Join a sequence of tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: expected at least one tensor, got an empty sequence")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    """Join tensors of equal shape along a new axis (a concatenate of unsqueezed tensors)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected at least one tensor, got an empty sequence")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    axis = _axis(axis, tensors[0].ndim + 1, "stack")
    return concatenate([t.unsqueeze(axis) for t in tensors], axis=axis)


def split(x, sections, axis=0):
    """Split into pieces along ``axis``, as in PyTorch.

    ``sections`` is either the size of every piece (an int; the last may be smaller) or the
    list of piece sizes, which must add up to ``x.shape[axis]``.
    """
    axis = _axis(axis, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(sections, (int, np.integer)):
        if sections <= 0:
            raise ValueError(f"split: piece size must be positive, got {sections}")
        sizes = [min(sections, length - start) for start in range(0, length, sections)]
    else:
        sizes = [int(s) for s in sections]
        if sum(sizes) != length or any(s < 0 for s in sizes):
            raise ValueError(
                f"split: sizes {sizes} must be non-negative and add up to {length} "
                f"(axis {axis} of shape {x.shape})"
            )
    return _split_by_sizes(x, sizes, axis)


class Pad(Function):
    """y = x surrounded by ``value``.  dL/dx = the centre of dL/dy.

    ``pad_width`` follows ``numpy.pad``: an int, a ``(before, after)`` pair, or one pair per
    axis.
    """

    def forward(self, x, pad_width, value):
        try:
            widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
        except ValueError:
            raise ValueError(
                f"pad: pad_width must be an int, a (before, after) pair or one pair per axis "
                f"of a tensor of shape {x.shape}, got {pad_width!r}"
            ) from None
        if (widths < 0).any():
            raise ValueError(f"pad: pad widths must be non-negative, got {pad_width!r}")
        self.centre = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
        return np.pad(x, widths, mode="constant", constant_values=value)

    def backward(self, grad_out):
        return grad_out[self.centre]


def _axis(axis, ndim, caller):
    """Check ``axis`` against a tensor with ``ndim`` axes; return it as a non-negative int."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"{caller}: axis {axis} is out of range for a tensor with {ndim} dims")
    return int(axis) % ndim


def _axis_tuple(axes):
    """Accept axes given either as separate ints or as one tuple/list."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return tuple(int(a) for a in axes)


def reshape(x, *shape):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one entry may be -1."""
    return Reshape.apply(x, shape=_axis_tuple(shape))


def permute(x, *axes):
    """Reorder the axes; ``axes`` must be a permutation of ``range(x.ndim)``."""
    axes = _axis_tuple(axes)
    if len(axes) != x.ndim:
        raise ValueError(f"permute: axes {axes} are not a permutation of the {x.ndim} axes")
    axes = tuple(_axis(a, x.ndim, "permute") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: axes {axes} are not a permutation of the {x.ndim} axes")
    return Permute.apply(x, axes=axes)


def transpose(x, *axes):
    """Transpose, accepting both NumPy's and PyTorch's spelling.

    No axes reverses them (``x.T``); a full permutation permutes (NumPy); two axes of a tensor
    with other than two dimensions are swapped (PyTorch's ``transpose(dim0, dim1)``). For a
    2-D tensor the two readings agree.
    """
    axes = _axis_tuple(axes)
    if not axes:
        return permute(x, *reversed(range(x.ndim)))
    if len(axes) == 2 and x.ndim != 2:
        return swapaxes(x, *axes)
    return permute(x, *axes)


def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    axis1, axis2 = _axis(axis1, x.ndim, "swapaxes"), _axis(axis2, x.ndim, "swapaxes")
    order = list(range(x.ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return permute(x, *order)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` (inclusive) into one, as ``torch.flatten``."""
    if x.ndim == 0:
        return x.reshape(1)
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


def unsqueeze(x, axis):
    """Insert an axis of length one at ``axis``."""
    axis = _axis(axis, x.ndim + 1, "unsqueeze")
    return x.reshape(x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    """Remove axes of length one (all of them, or just ``axis``)."""
    if axis is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    axis = _axis(axis, x.ndim, "squeeze")
    if x.shape[axis] != 1:
        raise ValueError(f"squeeze: axis {axis} has length {x.shape[axis]}, not 1")
    return x.reshape(x.shape[:axis] + x.shape[axis + 1:])
