"""The NumPy backend: every kernel in plain NumPy, the reference all other backends match."""

import numpy as np

from . import numpy_activation, numpy_conv, numpy_gp, numpy_norm, numpy_optim


class NumpyBackend:
    """Reference implementation of the backend contract (see `scratchgen.backend.Backend`).

    Each method is the readable specification of a kernel: a faster backend must return
    what this one returns (up to floating-point rounding), and it defers here for any input
    its own kernels do not handle. It is also the fallback when the compiled kernels are
    not installed.
    """

    name = "numpy"
    xp = np

    def matmul(self, a, b):
        """Matrix product with exactly the semantics of `numpy.matmul`.

        Parameters
        ----------
        a : ndarray, shape (..., m, k)
        b : ndarray, shape (..., k, n)
            The leading (batch) dimensions broadcast against each other. A 1-D operand is
            a vector, as in `numpy.matmul`.

        Returns
        -------
        ndarray, shape (..., m, n)
            A new C-contiguous array.
        """
        return np.matmul(a, b)

    # Convolution and pooling: x (N, C, H, W), geometry a validated ConvGeometry. The
    # definitions, with the math, are in numpy_conv.py.
    def conv2d(self, x, w, b, geometry):
        """y = conv2d(x, w) + b (b may be None): (N, C_out, H_out, W_out)."""
        return numpy_conv.conv2d(x, w, b, geometry)

    def conv2d_backward_data(self, grad_y, w, geometry):
        """dL/dx of conv2d, which is also conv_transpose2d's forward: (N, C_in, H, W)."""
        return numpy_conv.conv2d_backward_data(grad_y, w, geometry)

    def conv2d_backward_weight(self, grad_y, x, geometry):
        """dL/dw of conv2d: (C_out, C_in // groups, KH, KW)."""
        return numpy_conv.conv2d_backward_weight(grad_y, x, geometry)

    def max_pool2d(self, x, geometry):
        """(y, argmax): window maxima and the flat h * W + w index of each winner."""
        return numpy_conv.max_pool2d(x, geometry)

    def max_pool2d_backward(self, grad_y, argmax, geometry):
        """grad_y scattered (added) to the winners: (N, C, H, W)."""
        return numpy_conv.max_pool2d_backward(grad_y, argmax, geometry)

    def avg_pool2d(self, x, geometry, count_include_pad):
        """Window means: (N, C, H_out, W_out)."""
        return numpy_conv.avg_pool2d(x, geometry, count_include_pad)

    def avg_pool2d_backward(self, grad_y, geometry, count_include_pad):
        """grad_y / count spread over each window: (N, C, H, W)."""
        return numpy_conv.avg_pool2d_backward(grad_y, geometry, count_include_pad)

    # Activations, elementwise; the definitions, with the math, are in numpy_activation.py.
    def leaky_relu(self, x, negative_slope):
        """y = x where x > 0, negative_slope * x elsewhere."""
        return numpy_activation.leaky_relu(x, negative_slope)

    def leaky_relu_backward(self, grad_y, x, negative_slope):
        """dL/dx = grad_y where x > 0, negative_slope * grad_y elsewhere."""
        return numpy_activation.leaky_relu_backward(grad_y, x, negative_slope)

    def bce_with_logits(self, x, y):
        """Binary cross entropy of sigmoid(x) against y, per value (numpy_activation.py)."""
        return numpy_activation.bce_with_logits(x, y)

    def bce_with_logits_backward(self, grad_loss, x, y):
        """dL/dx = grad_loss * (sigmoid(x) - y)."""
        return numpy_activation.bce_with_logits_backward(grad_loss, x, y)

    # Batch normalization of x viewed as (N, C, L), with (C,) weight, bias and statistics;
    # the definitions, with the math, are in numpy_norm.py.
    def batch_norm_train(self, x, weight, bias, eps):
        """(y, mean, var): x normalized by its batch statistics, and those statistics."""
        return numpy_norm.batch_norm_train(x, weight, bias, eps)

    def batch_norm_eval(self, x, weight, bias, mean, invstd):
        """y = (x - mean_c) * (invstd_c w_c) + b_c: (N, C, L)."""
        return numpy_norm.batch_norm_eval(x, weight, bias, mean, invstd)

    def batch_norm_backward(self, grad_y, x, weight, mean, invstd, training, need_x=True):
        """(grad_x or None without `need_x`, grad_w, grad_b) of batch normalization."""
        grad_x, grad_w, grad_b = numpy_norm.batch_norm_backward(grad_y, x, weight, mean, invstd,
                                                                training)
        return (grad_x if need_x else None), grad_w, grad_b

    # Gaussian processes: squared distances, the Cholesky factorization of a Fortran-ordered
    # float64 matrix, and in-place and reducing passes over the strict upper triangle of a
    # square one; the math is in numpy_gp.py.
    def sqdist(self, x, y):
        """Squared Euclidean distances between the rows of x (n, d) and y (m, d): (n, m)."""
        return numpy_gp.sqdist(x, y)

    def cholesky_lower(self, a):
        """a = L L^T, L in place of a's lower triangle; returns LAPACK's info (0: success)."""
        return numpy_gp.cholesky_lower(a)

    def flush_tiny_upper(self, m, row_scale, col_scale, clear_lower=False):
        """Zero m[i, j], j > i, where |m[i, j]| < row_scale[i] * col_scale[j] (and with
        ``clear_lower`` the whole strict lower triangle); return the count flushed."""
        return numpy_gp.flush_tiny_upper(m, row_scale, col_scale, clear_lower)

    def sqdist_contraction_upper(self, w, h, z):
        """sum_{i<j} w_ij h_ij (z_ik - z_jk)^2 for each column k of z: shape (d,)."""
        return numpy_gp.sqdist_contraction_upper(w, h, z)

    # Optimizer updates, in place: the definitions, with the math, are in numpy_optim.py.
    def adam_step(self, x, grad, m, v, v_max, lr, beta1, beta2, eps, weight_decay, decoupled,
                  maximize, step):
        """One Adam (AdamW with `decoupled`) step of parameter x and its state, in place."""
        numpy_optim.adam_step(x, grad, m, v, v_max, lr, beta1, beta2, eps, weight_decay,
                              decoupled, maximize, step)

    def sgd_step(self, x, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                 maximize, first):
        """One SGD step of parameter x and its momentum buffer (or None), in place."""
        numpy_optim.sgd_step(x, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                             maximize, first)

    def rmsprop_step(self, x, grad, v, g_avg, buf, lr, alpha, eps, weight_decay, momentum,
                     maximize):
        """One RMSprop step of parameter x and its state (g_avg, buf may be None), in place."""
        numpy_optim.rmsprop_step(x, grad, v, g_avg, buf, lr, alpha, eps, weight_decay,
                                 momentum, maximize)

    def __repr__(self):
        return f"<scratchgen backend {self.name!r}>"
