"""Matrix multiplication, the op that reaches the backend's GEMM kernel.

``MatMul`` follows ``numpy.matmul``: 2-D operands multiply as matrices; larger ones are stacks of
matrices in the last two axes whose leading (batch) axes broadcast.
"""
import numpy as np

from ..autograd.function import Function
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
