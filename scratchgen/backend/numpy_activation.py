"""Activations in plain NumPy: the reference definition of the fused activation kernels.

LeakyReLU with slope a:

    y     = x       where x > 0,  a x  elsewhere (NaN stays NaN)
    dL/dx = g       where x > 0,  a g  elsewhere

Each is one multiplication by a factor of 1 or a, picked from a two-entry table by the mask
x > 0 (exact, and three times faster than ``np.where`` here): three passes over memory (the
mask, the pick, the product). The Cython kernels in ``scratchgen/_kernels/_activation.pyx``
make one.
"""
import numpy as np


def _factor(x, negative_slope):
    """1 where x > 0, negative_slope elsewhere, in x's dtype and shape."""
    return np.array([negative_slope, 1], dtype=x.dtype).take((x > 0).view(np.uint8))


def leaky_relu(x, negative_slope):
    """y = x where x > 0, negative_slope * x elsewhere: x's shape and dtype."""
    return x * _factor(x, negative_slope)


def leaky_relu_backward(grad_y, x, negative_slope):
    """dL/dx = grad_y where x > 0, negative_slope * grad_y elsewhere."""
    return grad_y * _factor(x, negative_slope)
