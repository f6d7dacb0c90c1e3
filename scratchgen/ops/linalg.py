"""Matrix multiplication, the op that reaches the backend's GEMM kernel.

``MatMul`` follows ``numpy.matmul``: 2-D operands multiply as matrices; larger ones are stacks of
matrices in the last two axes whose leading (batch) axes broadcast.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from .movement import unbroadcast


class MatMul(Function):
    """Y = A @ B.  dL/dA = G @ B^T,  dL/dB = A^T @ G  (each unbroadcast over batch axes)."""

    def forward(self, a, b):
        return self.backend.matmul(a, b)

    def backward(self, grad_out):
        a, b = self.inputs
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = unbroadcast(grad_out @ b.swapaxes(-1, -2), a.shape)
        if self.needs_input_grad[1]:
            grad_b = unbroadcast(a.swapaxes(-1, -2) @ grad_out, b.shape)
        return grad_a, grad_b


def matmul(a, b):
    """Matrix product with NumPy's rules, after checking the shapes.

    1-D operands are promoted to a row (left) or a column (right) and the added axis is removed
    from the result, as ``numpy.matmul`` does.
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}"
        )
    k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: inner dimensions do not match: a.shape={a.shape}, b.shape={b.shape} "
            f"({k_a} != {k_b})"
        )
    if a.ndim == 1 or b.ndim == 1:
        out = matmul(a.reshape(1, -1) if a.ndim == 1 else a, b.reshape(-1, 1) if b.ndim == 1 else b)
        if a.ndim == 1:
            out = out.squeeze(-2)
        return out.squeeze(-1) if b.ndim == 1 else out
    if a.dtype != b.dtype:
        # NOTE: the GEMM kernels take one dtype; promote like NumPy (float32 @ float64 -> float64).
        common = np.result_type(a.dtype, b.dtype)
        a = a if a.dtype == common else a.astype(common)
        b = b if b.dtype == common else b.astype(common)
    return MatMul.apply(a, b)


class Linear(Function):
    """y = x W^T + b as one op, as PyTorch's addmm: x (..., in), W (out, in), b (out,) or absent.

    The forward is one GEMM that reads W through its transpose, the bias added in place; the
    backward is dL/dx = G W, dL/dW = G^T x (computed in W's own layout) and dL/db = the sums
    of G over its rows. Written as ``x @ W.T + b``, a layer was five ops each way (the
    transpose, the product, the broadcast, the sum, the unbroadcast), each a Python call and
    most an array. Under ``create_graph`` the backward is recorded as Tensor ops, so that it
    can be differentiated again.
    """

    def forward(self, x, w, b=None):
        y = self.backend.matmul(x.reshape(-1, x.shape[-1]), w.T)         # (rows, out)
        if b is not None:
            y += b
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, grad_out):
        x, w = self.inputs[:2]
        needs = self.needs_input_grad
        grad_x = grad_w = grad_b = None
        if is_grad_enabled():
            g = grad_out.reshape(-1, w.shape[0])
            if needs[0]:
                grad_x = grad_out @ w
            if needs[1]:
                grad_w = g.T @ x.reshape(-1, w.shape[1])
            if len(needs) > 2 and needs[2]:
                grad_b = g.sum(axis=0)
            return grad_x, grad_w, grad_b
        g = grad_out.data.reshape(-1, w.shape[0])                            # (rows, out)
        if needs[0]:
            grad_x = Tensor._wrap(self.backend.matmul(g, w.data).reshape(x.shape))
        if needs[1]:
            grad_w = Tensor._wrap(self.backend.matmul(g.T, x.data.reshape(-1, w.shape[1])))
        if len(needs) > 2 and needs[2]:
            grad_b = Tensor._wrap(g.sum(axis=0))
        return grad_x, grad_w, grad_b
