"""Batch normalization in plain NumPy: the reference definition of the BatchNorm kernels.

Every function takes its input as (N, C, L): N samples, C channels and L values per channel
and sample (H * W for BatchNorm2d, L for a (N, C, L) BatchNorm1d input, 1 for (N, C)); the
statistics of channel c are taken over its M = N * L values x[:, c, :]. With
xhat = (x - mean_c) * invstd_c, invstd_c = 1 / sqrt(var_c + eps) and an upstream gradient g:

    y       = xhat * w_c + b_c
    dL/db_c = sum g,   dL/dw_c = sum g xhat                           (sums over N and L)
    dL/dx   = w_c invstd_c g                                          (evaluation: constants)
    dL/dx   = w_c invstd_c (g - dL/db_c / M - xhat dL/dw_c / M)       (training)

The training form is the chain rule through mean_c and var_c, which depend on x
(Ioffe and Szegedy 2015, section 3). The Cython kernels in ``scratchgen/_kernels/_norm.pyx``
compute the same in three passes over x for the forward and two for the backward; these
functions make one pass per NumPy call (about a dozen).
"""
import numpy as np


def _per_channel(v):
    """A (C,) vector as a (1, C, 1) array that broadcasts against (N, C, L)."""
    return v.reshape(1, -1, 1)


def batch_norm_train(x, weight, bias, eps):
    """Normalize x (N, C, L) by its batch statistics; return (y, mean, var).

    `mean` and `var` are each channel's mean and biased variance (divided by M), shape (C,);
    `weight` and `bias` are (C,) arrays; everything has x's dtype.
    """
    mean = x.mean(axis=(0, 2))
    var = np.square(x - _per_channel(mean)).mean(axis=(0, 2))
    invstd = 1.0 / np.sqrt(var + x.dtype.type(eps))
    return batch_norm_eval(x, weight, bias, mean, invstd), mean, var


def batch_norm_eval(x, weight, bias, mean, invstd):
    """y = (x - mean_c) * (invstd_c w_c) + b_c for given (C,) statistics: shape (N, C, L)."""
    scale = invstd * weight
    return (x - _per_channel(mean)) * _per_channel(scale) + _per_channel(bias)


def batch_norm_backward(grad_y, x, weight, mean, invstd, training):
    """(dL/dx (N, C, L), dL/dw (C,), dL/db (C,)) of y = batch_norm(x) (see the module's
    docstring); `training` says whether mean and invstd were x's own batch statistics."""
    xhat = (x - _per_channel(mean)) * _per_channel(invstd)
    grad_b = grad_y.sum(axis=(0, 2))
    grad_w = (grad_y * xhat).sum(axis=(0, 2))
    scale = _per_channel(invstd * weight)
    if not training:
        return grad_y * scale, grad_w, grad_b
    count = x.shape[0] * x.shape[2]
    grad_x = scale * (grad_y - _per_channel(grad_b / count) - xhat * _per_channel(grad_w / count))
    return grad_x, grad_w, grad_b
