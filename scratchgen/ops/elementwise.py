"""Elementwise ops: arithmetic with NumPy broadcasting, and the activation functions.

Each backward multiplies ``grad_out`` by the local derivative, written with Tensor ops so it can
be differentiated again. Binary ops reduce each gradient to its input's shape with
``unbroadcast``. Where the derivative is a constant mask (relu, clip, abs), the mask is a plain
array: its own derivative is zero almost everywhere.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from .movement import unbroadcast


def where(condition, x, y):
    """Elementwise ``x if condition else y``, differentiable in ``x`` and ``y``.

    ``condition`` is a boolean array or Tensor (not differentiated); ``x`` and ``y`` may be
    Tensors or scalars. All three broadcast together.
    """
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, bool)
    like = x if isinstance(x, Tensor) else y
    if not isinstance(like, Tensor):
        raise TypeError("where: at least one of x and y must be a Tensor")
    return Where.apply(like._operand(x), like._operand(y), condition=condition)


def maximum(x, y):
    """Elementwise maximum of two tensors (ties share the gradient equally)."""
    return x.maximum(y)


def minimum(x, y):
    """Elementwise minimum of two tensors (ties share the gradient equally)."""
    return x.minimum(y)


class Add(Function):
    """y = a + b.  dL/da = g, dL/db = g (each unbroadcast)."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad_out):
        return unbroadcast(grad_out, self.shapes[0]), unbroadcast(grad_out, self.shapes[1])


class Sub(Function):
    """y = a - b.  dL/da = g, dL/db = -g."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad_out):
        return unbroadcast(grad_out, self.shapes[0]), unbroadcast(-grad_out, self.shapes[1])


class Mul(Function):
    """y = a * b.  dL/da = g * b, dL/db = g * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, grad_out):
        a, b = self.inputs
        grad_a = unbroadcast(grad_out * b, a.shape) if self.needs_input_grad[0] else None
        grad_b = unbroadcast(grad_out * a, b.shape) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """y = a / b.  dL/da = g / b, dL/db = -g * y / b."""

    def forward(self, a, b):
        return a / b

    def backward(self, grad_out):
        a, b = self.inputs
        grad_a = unbroadcast(grad_out / b, a.shape) if self.needs_input_grad[0] else None
        grad_b = (
            unbroadcast(-grad_out * self.output / b, b.shape) if self.needs_input_grad[1] else None
        )
        return grad_a, grad_b


class Neg(Function):
    """y = -x.  dL/dx = -g."""

    def forward(self, x):
        return -x

    def backward(self, grad_out):
        return -grad_out


class PowScalar(Function):
    """y = x ** p for a Python number p.  dL/dx = g * p * x ** (p - 1)."""

    def forward(self, x, exponent):
        self.exponent = exponent
        return x ** np.asarray(exponent, dtype=x.dtype) if x.dtype.kind == "f" else x ** exponent

    def backward(self, grad_out):
        (x,) = self.inputs
        p = self.exponent
        if p == 0:
            return grad_out * 0.0
        if p == 1:
            return grad_out
        if p == 2:
            return grad_out * (2.0 * x)
        return grad_out * (p * x ** (p - 1))


class Pow(Function):
    """y = a ** b for tensors.  dL/da = g * b * a ** (b - 1),  dL/db = g * y * log(a).

    log(a) is taken only where a > 0 (where a == 0, y * log(a) has limit 0 for b > 0, and the
    derivative in b does not exist for a < 0); the double ``where`` keeps NaNs out of the graph.
    """

    def forward(self, a, b):
        return a ** b

    def backward(self, grad_out):
        a, b = self.inputs
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = unbroadcast(grad_out * b * a ** (b - 1.0), a.shape)
        if self.needs_input_grad[1]:
            positive = a.data > 0
            log_a = where(positive, where(positive, a, 1.0).log(), 0.0)
            grad_b = unbroadcast(grad_out * self.output * log_a, b.shape)
        return grad_a, grad_b


class Exp(Function):
    """y = exp(x).  dL/dx = g * y."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad_out):
        return grad_out * self.output


class Log(Function):
    """y = log(x).  dL/dx = g / x."""

    def forward(self, x):
        return np.log(x)

    def backward(self, grad_out):
        return grad_out / self.inputs[0]


class Log1p(Function):
    """y = log(1 + x), accurate for small x.  dL/dx = g / (1 + x)."""

    def forward(self, x):
        return np.log1p(x)

    def backward(self, grad_out):
        return grad_out / (1.0 + self.inputs[0])


class Sqrt(Function):
    """y = sqrt(x).  dL/dx = g / (2 y)."""

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad_out):
        return grad_out / (2.0 * self.output)


class Abs(Function):
    """y = |x|.  dL/dx = g * sign(x) (0 at x = 0)."""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, grad_out):
        return grad_out * self.sign


class Tanh(Function):
    """y = tanh(x).  dL/dx = g * (1 - y^2)."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad_out):
        y = self.output
        return grad_out * (1.0 - y * y)


class Sin(Function):
    """y = sin(x).  dL/dx = g * cos(x)."""

    def forward(self, x):
        return np.sin(x)

    def backward(self, grad_out):
        (x,) = self.inputs
        return grad_out * Cos.apply(x)


class Cos(Function):
    """y = cos(x).  dL/dx = -g * sin(x)."""

    def forward(self, x):
        return np.cos(x)

    def backward(self, grad_out):
        (x,) = self.inputs
        return -grad_out * Sin.apply(x)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).  dL/dx = g * y * (1 - y).

    Fused for stability: forward uses exp(-|x|), which never overflows.
    """

    def forward(self, x):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        y = self.output
        return grad_out * (y * (1.0 - y))


class Relu(Function):
    """y = max(x, 0).  dL/dx = g * [x > 0]."""

    def forward(self, x):
        self.mask = x > 0
        # NOTE: np.maximum, not np.where(mask, x, 0): ten times faster on float32 (where does
        # not vectorise with a scalar), and NaN stays NaN as in torch.relu.
        return np.maximum(x, x.dtype.type(0))

    def backward(self, grad_out):
        return grad_out * self.mask


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x.  dL/dx = g * (1 if x > 0 else slope).

    Fused for speed: each direction is one pass on the backend's kernel. Under
    ``create_graph`` the backward is g times a constant factor (its derivative is zero
    almost everywhere), recorded as a Tensor op.
    """

    def forward(self, x, negative_slope):
        self.negative_slope = negative_slope
        return self.backend.leaky_relu(x, negative_slope)

    def backward(self, grad_out):
        x = self.inputs[0].data
        if is_grad_enabled():
            factor = np.where(x > 0, 1, self.negative_slope).astype(x.dtype)
            return grad_out * factor
        return Tensor._wrap(self.backend.leaky_relu_backward(grad_out.data, x,
                                                             self.negative_slope))


class Elu(Function):
    """y = x if x > 0 else alpha (exp(x) - 1).  dL/dx = g if x > 0 else g (y + alpha)."""

    def forward(self, x, alpha):
        self.alpha, self.positive = alpha, x > 0
        return np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)

    def backward(self, grad_out):
        return where(self.positive, grad_out, grad_out * (self.output + self.alpha))


class Softplus(Function):
    """y = log(1 + exp(x)).  dL/dx = g * sigmoid(x).

    Fused for stability: ``logaddexp(0, x)`` neither overflows for large x nor loses digits
    for very negative x.
    """

    def forward(self, x):
        return np.logaddexp(0, x).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        return grad_out * self.inputs[0].sigmoid()


class Clip(Function):
    """y = min(max(x, low), high).  dL/dx = g where low <= x <= high, else 0."""

    def forward(self, x, low, high):
        self.inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return np.clip(x, low, high)

    def backward(self, grad_out):
        return grad_out * self.inside


class Maximum(Function):
    """y = max(a, b).  The larger operand gets g; on a tie each gets g / 2 (as in PyTorch)."""

    def forward(self, a, b):
        self.share_a = (a > b) + 0.5 * (a == b)
        return np.maximum(a, b)

    def backward(self, grad_out):
        a, b = self.inputs
        share_a = self.share_a.astype(grad_out.dtype)
        return unbroadcast(grad_out * share_a, a.shape), unbroadcast(grad_out * (1 - share_a), b.shape)


class Minimum(Function):
    """y = min(a, b).  The smaller operand gets g; on a tie each gets g / 2."""

    def forward(self, a, b):
        self.share_a = (a < b) + 0.5 * (a == b)
        return np.minimum(a, b)

    def backward(self, grad_out):
        a, b = self.inputs
        share_a = self.share_a.astype(grad_out.dtype)
        return unbroadcast(grad_out * share_a, a.shape), unbroadcast(grad_out * (1 - share_a), b.shape)


class Where(Function):
    """y = a where condition else b.  dL/da = g where condition, dL/db = g elsewhere."""

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad_out):
        a, b = self.inputs
        zero = np.zeros((), dtype=grad_out.dtype)
        grad_a = unbroadcast(where(self.condition, grad_out, zero), a.shape)
        grad_b = unbroadcast(where(self.condition, zero, grad_out), b.shape)
        return grad_a, grad_b
