"""Batch normalization as one op, its forward and backward side by side on the backend's kernels.

Fused for speed: written from primitives (mean, var, sub, div, mul, add and their backward
passes) batch normalization makes about twenty passes over its input in a training step;
the kernels make three forward and two backward (see ``scratchgen/backend/numpy_norm.py``
for the math and ``scratchgen/_kernels/_norm.pyx`` for the loops).
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor


class BatchNorm(Function):
    r"""y = (x - mean_c) invstd_c w_c + b_c over channel axis 1 of x (N, C, ...).

    With invstd_c = 1 / sqrt(var_c + eps), xhat = (x - mean_c) invstd_c, an upstream gradient
    g, and sums over the M = x.size / C values of each channel:

    * training: mean_c and var_c (biased) are the batch's statistics, so they depend on x:
      dL/dx = w_c invstd_c (g - sum(g) / M - xhat sum(g xhat) / M);
    * evaluation: mean_c and var_c are the running statistics, constants:
      dL/dx = w_c invstd_c g;
    * both: dL/dw_c = sum g xhat, dL/db_c = sum g.

    In training the running statistics (arrays, updated in place when given) move towards
    the batch's: r = (1 - momentum) r + momentum s, with the unbiased variance
    var_c M / (M - 1) as PyTorch does.

    The backward is differentiable: under ``create_graph`` it is written with Tensor ops
    (double backward, gradient penalties); otherwise the backend's kernel computes it.
    """

    def forward(self, x, weight, bias, running_mean, running_var, training, momentum, eps):
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, -1)                                  # (N, C, L)
        if training:
            y3, mean, var = self.backend.batch_norm_train(x3, weight, bias, eps)
            if running_mean is not None:
                count = x3.shape[0] * x3.shape[2]
                running_mean *= 1.0 - momentum
                running_mean += momentum * mean
                running_var *= 1.0 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        invstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
        if not training:
            y3 = self.backend.batch_norm_eval(x3, weight, bias, mean, invstd)
        self.mean, self.invstd, self.training, self.eps = mean, invstd, training, eps
        return y3.reshape(x.shape)

    def backward(self, grad_out):
        x, weight, _ = self.inputs
        needs = self.needs_input_grad
        if is_grad_enabled():
            grad_x, grad_w, grad_b = self._differentiable_backward(grad_out)
        else:
            N, C = x.shape[:2]
            grad_x3, grad_w, grad_b = self.backend.batch_norm_backward(
                grad_out.data.reshape(N, C, -1), x.data.reshape(N, C, -1), weight.data,
                self.mean, self.invstd, self.training, need_x=needs[0])  # (N, C, L)
            grad_x = Tensor._wrap(grad_x3.reshape(x.shape)) if needs[0] else None
            grad_w, grad_b = Tensor._wrap(grad_w), Tensor._wrap(grad_b)
        return (grad_x if needs[0] else None, grad_w if needs[1] else None,
                grad_b if needs[2] else None)

    def _differentiable_backward(self, grad_out):
        """The backward's formulas with Tensor ops, recorded for a second derivative.

        NOTE: in training mean_c and invstd_c are functions of x, and a second derivative
        must see that; the arrays saved by forward are constants to the graph, so this path
        (and only this one) recomputes them from x with Tensor ops.
        """
        x, weight, _ = self.inputs
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training:
            mean = x.mean(axis=axes, keepdims=True)
            invstd = 1.0 / (x.var(axis=axes, keepdims=True) + self.eps).sqrt()
        else:
            mean = Tensor._wrap(self.mean.reshape(shape))
            invstd = Tensor._wrap(self.invstd.reshape(shape))
        xhat = (x - mean) * invstd
        grad_b = grad_out.sum(axis=axes)
        grad_w = (grad_out * xhat).sum(axis=axes)
        scale = weight.reshape(shape) * invstd
        if not self.training:
            return scale * grad_out, grad_w, grad_b
        count = x.data.size // x.shape[1]
        centered = grad_out - grad_b.reshape(shape) / count - xhat * grad_w.reshape(shape) / count
        return scale * centered, grad_w, grad_b
