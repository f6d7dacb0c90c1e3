"""The periodic kernel ExpSineSquared (alias Periodic).

    k(x, x') = exp(-2 sin^2(pi d / p) / l^2),     d = |x - x'|  (Euclidean),

(MacKay's periodic kernel, R&W eq. 4.31). With a = pi d / p:

    dK/dlog l = 4 sin^2(a) / l^2 * K
    dK/dlog p = 4 a sin(a) cos(a) / l^2 * K
    dK/dx     = -4 sin(a) cos(a) pi / (p l^2) * K * (x - x') / d    (0 at d = 0)
"""
import numpy as np
from scipy.spatial.distance import cdist

from ..autograd.tensor import Tensor
from .kernels_base import Kernel, bounds_value, positive_value, safe_sqrt
from .linalg import frobenius_dot

__all__ = ["ExpSineSquared"]


class ExpSineSquared(Kernel):
    """Periodic kernel exp(-2 sin^2(pi |x - x'| / p) / l^2).

    Parameters
    ----------
    length_scale : float
        l > 0, the length scale within one period.
    periodicity : float
        p > 0, the period.
    length_scale_bounds, periodicity_bounds : (float, float) or "fixed"
    """

    _hyperparameter_names = ("length_scale", "periodicity")

    def __init__(self, length_scale=1.0, periodicity=1.0, length_scale_bounds=(1e-5, 1e5),
                 periodicity_bounds=(1e-5, 1e5)):
        for name, value, bounds in (("length_scale", length_scale, length_scale_bounds),
                                    ("periodicity", periodicity, periodicity_bounds)):
            value = positive_value(value, "ExpSineSquared", name)
            if isinstance(value, np.ndarray):
                raise ValueError(f"ExpSineSquared: {name} must be a scalar (the kernel "
                                 f"depends on the Euclidean distance only), got {value!r}")
            setattr(self, name, value)
            setattr(self, name + "_bounds", bounds_value(bounds, "ExpSineSquared", name))

    def is_stationary(self):
        return True

    def _forward(self, X, Y):
        d = cdist(X, X if Y is None else Y, "euclidean")
        a = (np.pi / self.periodicity) * d
        sin_a = np.sin(a)
        K = np.exp((-2.0 / self.length_scale**2) * sin_a**2)
        return K, (a, sin_a)

    def _dK(self, name, X, K, cache):
        a, sin_a = cache
        if name == "length_scale":
            return ((4.0 / self.length_scale**2) * sin_a**2 * K)[:, :, None]
        return ((4.0 / self.length_scale**2) * a * sin_a * np.cos(a) * K)[:, :, None]

    def _vjp(self, name, W, X, K, cache):
        return frobenius_dot(W, self._dK(name, X, K, cache)[:, :, 0])

    def _input_vjp(self, W_sym, X):
        K, (a, sin_a) = self._forward(X, None)
        d = a * (self.periodicity / np.pi)
        dk_dd = (-4.0 * np.pi / (self.periodicity * self.length_scale**2)) * sin_a * np.cos(a) * K
        M = np.zeros_like(d)
        np.divide(W_sym * dk_dd, d, out=M, where=d > 0)
        return M.sum(axis=1)[:, None] * X - M @ X

    def _diag(self, X):
        return np.ones(X.shape[0])

    def _tensor(self, X, Y, theta):
        params = self._tensor_params(theta)
        n, dim = X.shape
        Yt = X if Y is None else Y
        diff = X.reshape(n, 1, dim) - Yt.reshape(1, Yt.shape[0], dim)
        d = safe_sqrt((diff * diff).sum(axis=2))          # |x - x'|
        s = (np.pi * d / params["periodicity"]).sin()
        return (-2.0 * s * s / (params["length_scale"] * params["length_scale"])).exp()

    def _tensor_diag(self, X, theta):
        return Tensor(np.ones(X.shape[0]))

    def __repr__(self):
        return (f"ExpSineSquared(length_scale={self.length_scale:.3g}, "
                f"periodicity={self.periodicity:.3g})")
