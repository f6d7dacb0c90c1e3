"""``Tensor``: an array plus the record of how it was computed.

A Tensor holds ``data`` (a NumPy array), ``requires_grad``, and, when it was produced by an op
on tensors that require grad, ``grad_fn``: the ``Function`` node that made it. Every method
below is a one-line call of an op class in ``scratchgen.ops``, where forward and backward sit
side by side.
"""
import numpy as np

from . import engine

_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def _as_array(data, dtype):
    """Convert ``data`` to an array: float32 by default, an array's own dtype kept."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data)
    array = np.asarray(data)
    # Python floats become float32, the working precision of the library; float64 is kept
    # only when asked for (``dtype=``) or when it comes as a NumPy array.
    return array.astype(np.float32) if array.dtype == np.float64 else array


class Tensor:
    """A multi-dimensional array that can record operations for differentiation.

    Parameters
    ----------
    data : array_like
        Values. Python floats become float32; NumPy arrays keep their dtype.
    requires_grad : bool
        Record operations on this tensor so ``backward`` can reach it. Floating dtypes only.
    dtype : numpy dtype, optional
        Convert ``data`` to this dtype.
    """

    __slots__ = ("data", "grad", "_requires_grad", "_fn", "_retains_grad", "__weakref__")
    # Make ``ndarray + Tensor`` call ``Tensor.__radd__`` instead of NumPy's ufunc machinery.
    __array_ufunc__ = None
    __hash__ = object.__hash__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self._fn = None
        self._retains_grad = False
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array):
        """Wrap an array produced by an op without copying or converting it."""
        out = cls.__new__(cls)
        out.data, out.grad, out._fn = array, None, None
        out._retains_grad = out._requires_grad = False
        return out

    # ----------------------------------------------------------------- attributes
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self.data.dtype.type not in _FLOAT_DTYPES:
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, "
                f"got dtype {self.data.dtype} (convert with .astype(np.float32) first)"
            )
        self._requires_grad = bool(value)

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def grad_fn(self):
        """The ``Function`` node that produced this tensor, or None for a leaf."""
        return self._fn

    @property
    def is_leaf(self):
        """True for tensors created by the user rather than by a recorded op."""
        return self._fn is None

    @property
    def T(self):
        return self.transpose()

    # ----------------------------------------------------------------- autograd
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        grad : Tensor or array_like, optional
            dL/d(self). May be omitted only when ``self`` holds a single element.
        retain_graph : bool
            Keep the graph so backward can run through it again.
        create_graph : bool
            Record the backward pass, so the gradients can be differentiated again.
        """
        engine.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def retain_grad(self):
        """Also fill ``.grad`` of this non-leaf tensor during backward."""
        self._retains_grad = True
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    def detach(self):
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._wrap(self.data)

    def numpy(self):
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: tensor must have exactly one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        return bool(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype != np.float32:
            extras.append(f"dtype={self.dtype}")
        if self._fn is not None:
            extras.append(f"grad_fn=<{type(self._fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({', '.join([body] + extras)})"

    # ----------------------------------------------------------------- arithmetic
    def _operand(self, other):
        """Turn a Python or NumPy operand into a Tensor; Python scalars take our dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool, np.number)) and self.dtype.type in _FLOAT_DTYPES:
            return Tensor._wrap(np.asarray(other, dtype=self.dtype))
        return Tensor._wrap(np.asarray(other))

    def __add__(self, other):
        return _ew.Add.apply(self, self._operand(other))

    def __radd__(self, other):
        return _ew.Add.apply(self._operand(other), self)

    def __sub__(self, other):
        return _ew.Sub.apply(self, self._operand(other))

    def __rsub__(self, other):
        return _ew.Sub.apply(self._operand(other), self)

    def __mul__(self, other):
        return _ew.Mul.apply(self, self._operand(other))

    def __rmul__(self, other):
        return _ew.Mul.apply(self._operand(other), self)

    def __truediv__(self, other):
        return _ew.Div.apply(self, self._operand(other))

    def __rtruediv__(self, other):
        return _ew.Div.apply(self._operand(other), self)

    def __neg__(self):
        return _ew.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __pow__(self, exponent):
        return self.pow(exponent)

    def __rpow__(self, base):
        return _ew.Pow.apply(self._operand(base), self)

    def __matmul__(self, other):
        return _linalg.matmul(self, self._operand(other))

    def __rmatmul__(self, other):
        return _linalg.matmul(self._operand(other), self)

    def __getitem__(self, index):
        return _movement.getitem(self, index)

    # Comparisons give boolean tensors that are not differentiable.
    def __lt__(self, other):
        return Tensor._wrap(self.data < self._operand(other).data)

    def __le__(self, other):
        return Tensor._wrap(self.data <= self._operand(other).data)

    def __gt__(self, other):
        return Tensor._wrap(self.data > self._operand(other).data)

    def __ge__(self, other):
        return Tensor._wrap(self.data >= self._operand(other).data)

    def __eq__(self, other):
        return Tensor._wrap(self.data == self._operand(other).data)

    def __ne__(self, other):
        return Tensor._wrap(self.data != self._operand(other).data)

    # ----------------------------------------------------------------- elementwise
    def pow(self, exponent):
        """``self ** exponent``; a Python number exponent uses the cheaper scalar rule."""
        if isinstance(exponent, (int, float)):
            return _ew.PowScalar.apply(self, exponent=exponent)
        return _ew.Pow.apply(self, self._operand(exponent))

    def exp(self):
        return _ew.Exp.apply(self)

    def log(self):
        return _ew.Log.apply(self)

    def log1p(self):
        return _ew.Log1p.apply(self)

    def sqrt(self):
        return _ew.Sqrt.apply(self)

    def abs(self):
        return _ew.Abs.apply(self)

    def tanh(self):
        return _ew.Tanh.apply(self)

    def sin(self):
        return _ew.Sin.apply(self)

    def cos(self):
        return _ew.Cos.apply(self)

    def sigmoid(self):
        return _ew.Sigmoid.apply(self)

    def relu(self):
        return _ew.Relu.apply(self)

    def leaky_relu(self, negative_slope=0.01):
        return _ew.LeakyRelu.apply(self, negative_slope=negative_slope)

    def elu(self, alpha=1.0):
        return _ew.Elu.apply(self, alpha=alpha)

    def softplus(self):
        return _ew.Softplus.apply(self)

    def clip(self, min=None, max=None):
        return _ew.Clip.apply(self, low=min, high=max)

    def maximum(self, other):
        return _ew.Maximum.apply(self, self._operand(other))

    def minimum(self, other):
        return _ew.Minimum.apply(self, self._operand(other))

    def astype(self, dtype):
        """A copy converted to ``dtype``; differentiable between floating dtypes."""
        return _movement.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        return _reduce.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _reduce.mean(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return _reduce.var(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def max(self, axis=None, keepdims=False):
        return _reduce.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _reduce.Min.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        return _reduce.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis=-1):
        return _reduce.softmax(self, axis=axis)

    def log_softmax(self, axis=-1):
        return _reduce.log_softmax(self, axis=axis)

    # ----------------------------------------------------------------- linear algebra
    def matmul(self, other):
        return _linalg.matmul(self, self._operand(other))

    # ----------------------------------------------------------------- movement
    def reshape(self, *shape):
        return _movement.reshape(self, *shape)

    def transpose(self, *axes):
        return _movement.transpose(self, *axes)

    def permute(self, *axes):
        return _movement.permute(self, *axes)

    def swapaxes(self, axis1, axis2):
        return _movement.swapaxes(self, axis1, axis2)

    def broadcast_to(self, shape):
        return _movement.BroadcastTo.apply(self, shape=tuple(shape))

    def flatten(self, start_dim=0, end_dim=-1):
        return _movement.flatten(self, start_dim, end_dim)

    def unsqueeze(self, axis):
        return _movement.unsqueeze(self, axis)

    def squeeze(self, axis=None):
        return _movement.squeeze(self, axis)

    def pad(self, pad_width, value=0.0):
        return _movement.Pad.apply(self, pad_width=pad_width, value=value)

    def split(self, sections, axis=0):
        return _movement.split(self, sections, axis)

    def to_dot(self):
        """The graph that produced this tensor in Graphviz DOT format (see ``scratchgen.to_dot``)."""
        return _dot.to_dot(self)


def tensor(data, requires_grad=False, dtype=None):
    """Create a leaf Tensor (a copy of ``data``).

    Parameters
    ----------
    data : array_like
        Values. Python floats become float32; NumPy arrays keep their dtype.
    requires_grad : bool
        Track gradients with respect to this tensor (floating dtypes only).
    dtype : numpy dtype, optional
        Convert to this dtype, e.g. ``np.float64`` for gradient checks.
    """
    return Tensor(np.array(_as_array(data, dtype)), requires_grad=requires_grad)


# NOTE: imported last because the op modules themselves import ``Tensor`` from this module.
from ..ops import elementwise as _ew  # noqa: E402
from ..ops import linalg as _linalg  # noqa: E402
from ..ops import movement as _movement  # noqa: E402
from ..ops import reduce as _reduce  # noqa: E402
from . import dot as _dot  # noqa: E402
