"""Kernels of the scaled squared distance: RBF, Matern (1/2, 3/2, 5/2), RationalQuadratic.

Each is K = f(S), a function of

    S_ij = sum_k (x_ik - y_jk)^2 / l_k^2            (one l for all k, or one per dimension: ARD)

(Rasmussen & Williams, section 4.2). Since dS_ij/dlog l_k = -2 D_ijk with D_ijk =
(x_ik - x_jk)^2 / l_k^2, every length-scale gradient has the same form

    dK_ij/dlog l_k = h(S_ij) D_ijk,     h(S) = -2 f'(S),

and only h differs between the kernels. For the log marginal likelihood we need
sum_ij W_ij dK_ij/dlog l_k = sum_{i<j} W_ij h(S_ij) (z_ik - z_jk)^2 with z = x / l (W arrives
folded into its upper triangle, see kernels_base), which the backend's
``sqdist_contraction_upper`` evaluates in one pass, without the (n, n, d) tensor.
"""
import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from .kernels_base import (Kernel, bounds_value, check_length_scale_features, format_value,
                           positive_value, safe_sqrt)
from .linalg import frobenius_dot

__all__ = ["Matern", "RBF", "RationalQuadratic"]


class _ScaledDistanceKernel(Kernel):
    """K = f(S), S the squared distance scaled by the length scale(s)."""

    def _init_length_scale(self, length_scale, length_scale_bounds):
        name = type(self).__name__
        self.length_scale = positive_value(length_scale, name, "length_scale")
        self.length_scale_bounds = bounds_value(length_scale_bounds, name, "length_scale")

    @property
    def anisotropic(self):
        """True when there is one length scale per input dimension (ARD)."""
        return isinstance(self.length_scale, np.ndarray)

    def is_stationary(self):
        return True

    def _check_features(self, n_features):
        check_length_scale_features(self, self.length_scale, n_features)

    def _diag(self, X):
        return np.ones(X.shape[0])        # f(0) = 1 for every kernel here

    def _tensor_diag(self, X, theta):
        return Tensor(np.ones(X.shape[0]))

    def _forward(self, X, Y):
        Z = X / self.length_scale
        S = backend.current().sqdist(Z, Z if Y is None else Y / self.length_scale)
        return self._f(S)                 # (K, what h needs); _f may overwrite S

    def _dK(self, name, X, K, cache):
        if name != "length_scale":
            return self._dK_other(name, K, cache)
        D = (X[:, None, :] - X[None, :, :]) ** 2 / self.length_scale**2   # (n, n, d)
        dK = self._h(K, cache)[:, :, None] * D
        return dK if self.anisotropic else dK.sum(axis=2, keepdims=True)

    def _vjp(self, name, W, X, K, cache):
        if name != "length_scale":
            return self._vjp_other(name, W, K, cache)
        # sum_{i<j} W_ij h_ij D_ijk for each k; one length scale for all k takes their sum.
        g = backend.current().sqdist_contraction_upper(W, self._h(K, cache),
                                                      X / self.length_scale)
        return g if self.anisotropic else g.sum()

    def _input_vjp(self, W_sym, X):
        # dk(x_i, x_j)/dx_i = f'(S_ij) dS_ij/dx_i = -h_ij (x_i - x_j) / l^2, so with
        # M = W_sym o h the sum over j is -(rowsum(M)_i x_i - (M X)_i) / l^2.
        K, cache = self._forward(X, None)
        M = W_sym * self._h(K, cache)
        return (M @ X - M.sum(axis=1)[:, None] * X) / self.length_scale**2

    def _tensor_sqdist(self, X, Y, length_scale):
        """S as a Tensor: (n, 1, d) - (1, m, d) differences, squared and summed over d."""
        Zx = X / length_scale
        Zy = Zx if Y is None else Y / length_scale
        n, d = X.shape
        diff = Zx.reshape(n, 1, d) - Zy.reshape(1, Zy.shape[0], d)
        return (diff * diff).sum(axis=2)

    def _length_scale_repr(self):
        return f"length_scale={format_value(self.length_scale)}"


class RBF(_ScaledDistanceKernel):
    """Squared exponential: k(x, x') = exp(-S / 2), R&W eq. 4.9.  h(S) = K.

    Parameters
    ----------
    length_scale : float or array_like of shape (d,)
        One length scale, or one per input dimension (automatic relevance determination).
    length_scale_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("length_scale",)

    def __init__(self, length_scale=1.0, length_scale_bounds=(1e-5, 1e5)):
        self._init_length_scale(length_scale, length_scale_bounds)

    def _f(self, S):
        S *= -0.5
        return np.exp(S, out=S), None     # K takes the place of S

    def _h(self, K, extra):
        return K

    def _tensor(self, X, Y, theta):
        params = self._tensor_params(theta)
        return (self._tensor_sqdist(X, Y, params["length_scale"]) * -0.5).exp()

    def __repr__(self):
        return f"RBF({self._length_scale_repr()})"


class Matern(_ScaledDistanceKernel):
    """Matern kernel for nu = 1/2, 3/2, 5/2 (R&W eq. 4.17), with r = sqrt(S):

        nu = 1/2:  exp(-r)                               h = K / r  (0 at r = 0)
        nu = 3/2:  (1 + sqrt(3) r) exp(-sqrt(3) r)          h = 3 exp(-sqrt(3) r)
        nu = 5/2:  (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)
                                                         h = 5/3 (1 + sqrt(5) r) exp(-sqrt(5) r)

    Parameters
    ----------
    length_scale : float or array_like of shape (d,)
    length_scale_bounds : (float, float) or "fixed"
    nu : {0.5, 1.5, 2.5}
        Smoothness: sample paths are ceil(nu) - 1 times differentiable.
    """

    _hyperparameter_names = ("length_scale",)
    _extra_params = ("nu",)

    def __init__(self, length_scale=1.0, length_scale_bounds=(1e-5, 1e5), nu=1.5):
        self._init_length_scale(length_scale, length_scale_bounds)
        if nu not in (0.5, 1.5, 2.5):
            raise ValueError(f"Matern: nu must be 0.5, 1.5 or 2.5 (the closed forms "
                             f"implemented here; use RBF for nu = inf), got {nu!r}")
        self.nu = float(nu)

    def _f(self, S):
        r = np.sqrt(S, out=S)             # S is not needed after this
        if self.nu == 0.5:
            return np.exp(-r), r
        cr = (math.sqrt(3.0) if self.nu == 1.5 else math.sqrt(5.0)) * r
        e = np.exp(-cr)
        poly = 1.0 + cr if self.nu == 1.5 else 1.0 + cr + cr * cr / 3.0
        return poly * e, (r, e)

    def _h(self, K, extra):
        if self.nu == 0.5:
            r = extra
            h = np.zeros_like(K)
            np.divide(K, r, out=h, where=r > 0)
            return h
        r, e = extra
        if self.nu == 1.5:
            return 3.0 * e
        return (5.0 / 3.0) * (1.0 + math.sqrt(5.0) * r) * e

    def _tensor(self, X, Y, theta):
        S = self._tensor_sqdist(X, Y, self._tensor_params(theta)["length_scale"])
        r = safe_sqrt(S)
        if self.nu == 0.5:
            return (-r).exp()
        c = math.sqrt(3.0) if self.nu == 1.5 else math.sqrt(5.0)
        poly = 1.0 + c * r if self.nu == 1.5 else 1.0 + c * r + (5.0 / 3.0) * S
        return poly * (-c * r).exp()

    def __repr__(self):
        return f"Matern({self._length_scale_repr()}, nu={self.nu:.3g})"


class RationalQuadratic(_ScaledDistanceKernel):
    """k(x, x') = (1 + S / (2 alpha))^-alpha, R&W eq. 4.19: a scale mixture of RBFs.

    With b = 1 + S / (2 alpha):  h = K / b,  dK/dlog alpha = K (S / (2 b) - alpha log b).

    Parameters
    ----------
    length_scale : float or array_like of shape (d,)
    alpha : float
        Scale-mixture parameter > 0 (alpha -> inf gives the RBF).
    length_scale_bounds, alpha_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("alpha", "length_scale")

    def __init__(self, length_scale=1.0, alpha=1.0, length_scale_bounds=(1e-5, 1e5),
                 alpha_bounds=(1e-5, 1e5)):
        self._init_length_scale(length_scale, length_scale_bounds)
        self.alpha = positive_value(alpha, "RationalQuadratic", "alpha")
        if isinstance(self.alpha, np.ndarray):
            raise ValueError(f"RationalQuadratic: alpha must be a scalar, got {alpha!r}")
        self.alpha_bounds = bounds_value(alpha_bounds, "RationalQuadratic", "alpha")

    def _f(self, S):
        base = 1.0 + S / (2.0 * self.alpha)
        return base ** -self.alpha, (S, base)

    def _h(self, K, extra):
        return K / extra[1]

    def _dK_other(self, name, K, cache):
        S, base = cache
        return (K * (S / (2.0 * base) - self.alpha * np.log(base)))[:, :, None]

    def _vjp_other(self, name, W, K, cache):
        return frobenius_dot(W, self._dK_other(name, K, cache)[:, :, 0])

    def _tensor(self, X, Y, theta):
        params = self._tensor_params(theta)
        alpha = params["alpha"]
        base = 1.0 + self._tensor_sqdist(X, Y, params["length_scale"]) / (2.0 * alpha)
        return (-alpha * base.log()).exp()

    def __repr__(self):
        return (f"RationalQuadratic(alpha={self.alpha:.3g}, "
                f"{self._length_scale_repr()})")
