"""The constant kernel (a signal variance when multiplied in) and the white-noise kernel.

ConstantKernel:  k(x, x') = c                        dk/dlog c = c
WhiteKernel:     k(x, x') = s * [x is x']            dk/dlog s = s * I

"x is x'" means: on K(X, X) the diagonal, on K(X, Y) with Y given nothing at all, even when
rows of X and Y coincide (scikit-learn's convention). So in a regressor the white noise enters
the training covariance and the predictive variance of ``diag`` but not the cross-covariance.
"""
import numpy as np

from ..autograd.tensor import Tensor
from .kernels_base import Kernel, bounds_value, positive_value

__all__ = ["ConstantKernel", "WhiteKernel"]


class ConstantKernel(Kernel):
    """k(x, x') = constant_value.

    Parameters
    ----------
    constant_value : float
        The constant c > 0. ``c * k`` scales a kernel's variance; its repr is ``sqrt(c)**2``.
    constant_value_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("constant_value",)

    def __init__(self, constant_value=1.0, constant_value_bounds=(1e-5, 1e5)):
        self.constant_value = positive_value(constant_value, "ConstantKernel", "constant_value")
        if isinstance(self.constant_value, np.ndarray):
            raise ValueError("ConstantKernel: constant_value must be a scalar, got "
                             f"{constant_value!r}")
        self.constant_value_bounds = bounds_value(constant_value_bounds, "ConstantKernel",
                                                  "constant_value")

    def is_stationary(self):
        return True

    def _forward(self, X, Y):
        m = X.shape[0] if Y is None else Y.shape[0]
        return np.full((X.shape[0], m), self.constant_value), None

    def _dK(self, name, X, K, cache):
        return np.full((X.shape[0], X.shape[0], 1), self.constant_value)

    def _vjp(self, name, W, X, K, cache):
        # sum_ij W_ij * c
        return self.constant_value * W.sum()

    def _input_vjp(self, W_sym, X):
        return np.zeros(X.shape)

    def _diag(self, X):
        return np.full(X.shape[0], self.constant_value)

    def _tensor(self, X, Y, theta):
        c = self._tensor_params(theta)["constant_value"]
        m = X.shape[0] if Y is None else Y.shape[0]
        return c * Tensor(np.ones((X.shape[0], m)))

    def _tensor_diag(self, X, theta):
        return self._tensor_params(theta)["constant_value"] * Tensor(np.ones(X.shape[0]))

    def __repr__(self):
        return f"{np.sqrt(self.constant_value):.3g}**2"


class WhiteKernel(Kernel):
    """k(x, x') = noise_level if x is x' else 0: independent Gaussian noise of that variance.

    Parameters
    ----------
    noise_level : float
        The noise variance s > 0.
    noise_level_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("noise_level",)

    def __init__(self, noise_level=1.0, noise_level_bounds=(1e-5, 1e5)):
        self.noise_level = positive_value(noise_level, "WhiteKernel", "noise_level")
        if isinstance(self.noise_level, np.ndarray):
            raise ValueError(f"WhiteKernel: noise_level must be a scalar, got {noise_level!r}")
        self.noise_level_bounds = bounds_value(noise_level_bounds, "WhiteKernel", "noise_level")

    def is_stationary(self):
        return True

    def _forward(self, X, Y):
        if Y is None:
            return self.noise_level * np.eye(X.shape[0]), None
        return np.zeros((X.shape[0], Y.shape[0])), None

    def _dK(self, name, X, K, cache):
        return (self.noise_level * np.eye(X.shape[0]))[:, :, None]

    def _vjp(self, name, W, X, K, cache):
        # sum_ij W_ij * s * I_ij = s * tr(W)
        return self.noise_level * np.trace(W)

    def _input_vjp(self, W_sym, X):
        return np.zeros(X.shape)          # s * I does not move with the inputs

    def _diag(self, X):
        return np.full(X.shape[0], self.noise_level)

    def _tensor(self, X, Y, theta):
        s = self._tensor_params(theta)["noise_level"]
        if Y is None:
            return s * Tensor(np.eye(X.shape[0]))
        return s * Tensor(np.zeros((X.shape[0], Y.shape[0])))

    def _tensor_diag(self, X, theta):
        return self._tensor_params(theta)["noise_level"] * Tensor(np.ones(X.shape[0]))

    def __repr__(self):
        return f"WhiteKernel(noise_level={self.noise_level:.3g})"
