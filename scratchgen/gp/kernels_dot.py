"""Dot-product kernels: DotProduct (alias Linear) and Polynomial. Not stationary.

DotProduct:  k(x, x') = sigma_0^2 + x . x'              dk/dlog sigma_0 = 2 sigma_0^2
                                                         dk/dx = x'
Polynomial:  k(x, x') = (sigma_0^2 + x . x')^degree
             dk/dlog sigma_0 = degree (sigma_0^2 + x . x')^(degree - 1) 2 sigma_0^2
             dk/dx = degree (sigma_0^2 + x . x')^(degree - 1) x'

A GP with the DotProduct kernel is Bayesian linear regression with a N(0, 1) prior on each
weight and N(0, sigma_0^2) on the bias (R&W section 4.2.2).
"""
import numbers

import numpy as np

from .kernels_base import Kernel, bounds_value, positive_value
from .linalg import frobenius_dot

__all__ = ["DotProduct", "Polynomial"]


class DotProduct(Kernel):
    """k(x, x') = sigma_0^2 + x . x'.

    Parameters
    ----------
    sigma_0 : float
        Standard deviation of the bias, > 0.
    sigma_0_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("sigma_0",)

    def __init__(self, sigma_0=1.0, sigma_0_bounds=(1e-5, 1e5)):
        name = type(self).__name__
        self.sigma_0 = positive_value(sigma_0, name, "sigma_0")
        if isinstance(self.sigma_0, np.ndarray):
            raise ValueError(f"{name}: sigma_0 must be a scalar, got {sigma_0!r}")
        self.sigma_0_bounds = bounds_value(sigma_0_bounds, name, "sigma_0")

    def _base(self, X, Y):
        """sigma_0^2 + X Y^T, shape (n, m)."""
        base = X @ (X if Y is None else Y).T
        base += self.sigma_0**2
        return base

    def _forward(self, X, Y):
        return self._base(X, Y), None

    def _dK(self, name, X, K, cache):
        return np.full((X.shape[0], X.shape[0], 1), 2.0 * self.sigma_0**2)

    def _vjp(self, name, W, X, K, cache):
        return 2.0 * self.sigma_0**2 * W.sum()

    def _input_vjp(self, W_sym, X):
        return W_sym @ X

    def _diag(self, X):
        return np.einsum("ij,ij->i", X, X) + self.sigma_0**2

    def _tensor_base(self, X, Y, theta):
        sigma_0 = self._tensor_params(theta)["sigma_0"]
        return sigma_0 * sigma_0 + X @ (X if Y is None else Y).T

    def _tensor(self, X, Y, theta):
        return self._tensor_base(X, Y, theta)

    def _tensor_diag(self, X, theta):
        sigma_0 = self._tensor_params(theta)["sigma_0"]
        return sigma_0 * sigma_0 + (X * X).sum(axis=1)

    def __repr__(self):
        return f"{type(self).__name__}(sigma_0={self.sigma_0:.3g})"


class Polynomial(DotProduct):
    """k(x, x') = (sigma_0^2 + x . x')^degree.

    Parameters
    ----------
    degree : int
        The fixed integer power, >= 1 (not a hyperparameter).
    sigma_0 : float
        > 0; sigma_0^2 is the inhomogeneous offset.
    sigma_0_bounds : (float, float) or "fixed"
    """

    _extra_params = ("degree",)

    def __init__(self, degree=2, sigma_0=1.0, sigma_0_bounds=(1e-5, 1e5)):
        if not isinstance(degree, numbers.Integral) or isinstance(degree, bool) or degree < 1:
            raise ValueError(f"Polynomial: degree must be an integer >= 1, got {degree!r}")
        self.degree = int(degree)
        super().__init__(sigma_0, sigma_0_bounds)

    def _forward(self, X, Y):
        base = self._base(X, Y)
        return base**self.degree, base

    def _dK(self, name, X, K, base):
        grad = self.degree * base ** (self.degree - 1) * (2.0 * self.sigma_0**2)
        return grad[:, :, None]

    def _vjp(self, name, W, X, K, base):
        return frobenius_dot(W, self._dK(name, X, K, base)[:, :, 0])

    def _input_vjp(self, W_sym, X):
        base = self._base(X, None)
        return (W_sym * (self.degree * base ** (self.degree - 1))) @ X

    def _diag(self, X):
        return super()._diag(X) ** self.degree

    def _tensor(self, X, Y, theta):
        return self._tensor_base(X, Y, theta) ** self.degree

    def _tensor_diag(self, X, theta):
        return super()._tensor_diag(X, theta) ** self.degree

    def __repr__(self):
        return f"Polynomial(degree={self.degree}, sigma_0={self.sigma_0:.3g})"
