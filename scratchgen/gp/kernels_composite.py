"""Sums and products of kernels: ``k1 + k2``, ``k1 * k2``, and a number in place of a kernel.

theta of a composite is theta of ``k1`` followed by theta of ``k2``; hyperparameter names get
the prefixes ``k1__`` and ``k2__`` (scikit-learn's names). The derivative rules:

- sum:     d(K1 + K2)/dtheta1 = dK1/dtheta1
- product: d(K1 * K2)/dtheta1 = dK1/dtheta1 * K2   (elementwise)

and the same for the inputs X (``input_vjp``).

so for the vector-Jacobian product, a product hands ``W * K2`` to ``k1`` and ``W * K1`` to
``k2``: sum_ij W_ij (dK1_ij K2_ij) = sum_ij (W * K2)_ij dK1_ij.
"""
import numbers

import numpy as np

from .kernels_base import Hyperparameter, Kernel
from .kernels_constant import ConstantKernel, WhiteKernel
from .linalg import frobenius_dot

__all__ = ["Product", "Sum", "as_kernel"]


def as_kernel(other):
    """A kernel as is; a positive number as ``ConstantKernel(number)``; else None."""
    if isinstance(other, Kernel):
        return other
    if isinstance(other, numbers.Real) and not isinstance(other, bool):
        return ConstantKernel(float(other))
    return None


class _Operator(Kernel):
    """A binary combination of two kernels."""

    _symbol = "?"

    def __init__(self, k1, k2):
        for name, k in (("k1", k1), ("k2", k2)):
            if not isinstance(k, Kernel):
                raise TypeError(f"{type(self).__name__}: {name} must be a Kernel, got "
                                f"{type(k).__name__}")
        self.k1, self.k2 = k1, k2

    def _hyper(self):
        return ([Hyperparameter("k1__" + h.name, h.n_elements, h.bounds) for h in self.k1._hyper()]
                + [Hyperparameter("k2__" + h.name, h.n_elements, h.bounds)
                   for h in self.k2._hyper()])

    @property
    def theta(self):
        return np.concatenate([self.k1.theta, self.k2.theta])

    @theta.setter
    def theta(self, theta):
        theta = self._check_theta(theta)
        n1 = self.k1.n_dims
        self.k1.theta = theta[:n1]
        self.k2.theta = theta[n1:]

    @property
    def bounds(self):
        return np.vstack([self.k1.bounds, self.k2.bounds])

    def _copy(self):
        return type(self)(self.k1._copy(), self.k2._copy())

    def get_params(self, deep=True):
        params = {"k1": self.k1, "k2": self.k2}
        if deep:
            for name, k in (("k1", self.k1), ("k2", self.k2)):
                params.update((f"{name}__{key}", value) for key, value in k.get_params().items())
        return params

    def to_config(self):
        return {"class": type(self).__name__, "k1": self.k1.to_config(),
                "k2": self.k2.to_config()}

    def is_stationary(self):
        return self.k1.is_stationary() and self.k2.is_stationary()

    def _check_features(self, n_features):
        self.k1._check_features(n_features)
        self.k2._check_features(n_features)

    def _combine(self, a, b):
        raise NotImplementedError

    def _value(self, X, Y):
        return self._combine(self.k1._value(X, Y), self.k2._value(X, Y))

    def _diag(self, X):
        return self._combine(self.k1._diag(X), self.k2._diag(X))

    def _tensor(self, X, Y, theta):
        n1 = self.k1.n_dims
        return self._combine(self.k1._tensor(X, Y, theta[:n1]),
                             self.k2._tensor(X, Y, theta[n1:]))

    def _tensor_diag(self, X, theta):
        n1 = self.k1.n_dims
        return self._combine(self.k1._tensor_diag(X, theta[:n1]),
                             self.k2._tensor_diag(X, theta[n1:]))

    def _operand_repr(self, k):
        return repr(k)

    def __repr__(self):
        return (f"{self._operand_repr(self.k1)} {self._symbol} "
                f"{self._operand_repr(self.k2)}")


class Sum(_Operator):
    """k(x, x') = k1(x, x') + k2(x, x')."""

    _symbol = "+"

    def _combine(self, a, b):
        return a + b

    def _value(self, X, Y):
        if Y is None and isinstance(self.k2, WhiteKernel) and not isinstance(self.k1, WhiteKernel):
            K = self.k1._value(X, None)   # a new array (Kernel._value)
            K[np.diag_indices_from(K)] += self.k2.noise_level
            return K
        return super()._value(X, Y)

    def _input_vjp(self, W_sym, X):
        return self.k1._input_vjp(W_sym, X) + self.k2._input_vjp(W_sym, X)

    def _value_and_gradient(self, X):
        K1, dK1 = self.k1._value_and_gradient(X)
        K2, dK2 = self.k2._value_and_gradient(X)
        return K1 + K2, np.concatenate([dK1, dK2], axis=2)

    def _value_and_vjp(self, X):
        if isinstance(self.k2, WhiteKernel) and not isinstance(self.k1, WhiteKernel):
            return self._plus_white(X)
        K1, vjp1 = self.k1._value_and_vjp(X)
        K2, vjp2 = self.k2._value_and_vjp(X)

        def vjp(W):
            return np.concatenate([vjp1(W), vjp2(W)])
        # A new array: vjp1 or vjp2 may still read K1 or K2.
        return K1 + K2, vjp

    def _plus_white(self, X):
        """k1 + White: add the noise to the diagonal instead of adding an n x n s * I."""
        K1, vjp1 = self.k1._value_and_vjp(X)
        # A read-only K1 is still read by vjp1; a writeable one (c * K2, say) is ours.
        K = K1 if K1.flags.writeable else K1.copy()
        K[np.diag_indices_from(K)] += self.k2.noise_level
        s = self.k2.noise_level

        def vjp(W):
            # sum_ij W_ij * s * I_ij = s * tr(W)
            return np.concatenate([vjp1(W), [s * np.trace(W)] if self.k2.n_dims else []])
        return K, vjp


class Product(_Operator):
    """k(x, x') = k1(x, x') * k2(x, x')."""

    _symbol = "*"

    def _combine(self, a, b):
        return a * b

    def _operand_repr(self, k):
        # scikit-learn prints (a + b) * c as "a + b * c"; the parentheses keep it readable.
        return f"({k!r})" if isinstance(k, Sum) else repr(k)

    def _value(self, X, Y):
        # A constant factor scales the other kernel's matrix, without an n x n matrix of c's.
        if isinstance(self.k1, ConstantKernel):
            K = self.k2._value(X, Y)
            K *= self.k1.constant_value
            return K
        if isinstance(self.k2, ConstantKernel):
            K = self.k1._value(X, Y)
            K *= self.k2.constant_value
            return K
        return super()._value(X, Y)

    def _input_vjp(self, W_sym, X):
        if isinstance(self.k1, ConstantKernel):
            return self.k1.constant_value * self.k2._input_vjp(W_sym, X)
        if isinstance(self.k2, ConstantKernel):
            return self.k2.constant_value * self.k1._input_vjp(W_sym, X)
        K1, K2 = self.k1._value(X, None), self.k2._value(X, None)
        return self.k1._input_vjp(W_sym * K2, X) + self.k2._input_vjp(W_sym * K1, X)

    def _value_and_gradient(self, X):
        K1, dK1 = self.k1._value_and_gradient(X)
        K2, dK2 = self.k2._value_and_gradient(X)
        return K1 * K2, np.concatenate([dK1 * K2[:, :, None], dK2 * K1[:, :, None]], axis=2)

    def _value_and_vjp(self, X):
        if isinstance(self.k1, ConstantKernel):
            return self._constant_times(X)
        K1, vjp1 = self.k1._value_and_vjp(X)
        K2, vjp2 = self.k2._value_and_vjp(X)

        def vjp(W):
            # Skip the n x n product for a side without free hyperparameters.
            g1 = vjp1(W * K2) if self.k1.n_dims else np.zeros(0)
            g2 = vjp2(W * K1) if self.k2.n_dims else np.zeros(0)
            return np.concatenate([g1, g2])
        return K1 * K2, vjp

    def _constant_times(self, X):
        """c * k2 without an n x n matrix of c's.

        The vjp is linear in W, so vjp2(W * c) = c * vjp2(W), and the constant's own entry is
        sum_ij W_ij dK_ij/dlog c = sum_ij W_ij c K2_ij.
        """
        c = self.k1.constant_value
        K2, vjp2 = self.k2._value_and_vjp(X)

        def vjp(W):
            g1 = [c * frobenius_dot(W, K2)] if self.k1.n_dims else []
            return np.concatenate([g1, c * vjp2(W)])
        return c * K2, vjp
