"""The kernel interface: hyperparameters in log space and evaluation entry points.

A kernel k(x, x') is a covariance function. Its hyperparameters (length scales, variances)
are positive, so the optimizer works with theta = log(value) of the *free* ones (those whose
bounds are not ``"fixed"``), in the order scikit-learn uses: alphabetical by name, a vector
hyperparameter (ARD length scales) taking one entry per element. Gradients are with respect
to theta, so dK/dtheta = value * dK/dvalue.

Every kernel answers these questions about a 2-D input ``X`` of shape (n, d):

``k(X, Y)``, ``k.diag(X)``    K, shape (n, m), and its diagonal, shape (n,)
``k(X, eval_gradient=True)``  (K, dK), dK of shape (n, n, n_free) as scikit-learn returns it
``k.value_and_vjp(X)``        K and a function W -> [sum_ij W_ij dK_ij/dtheta_p]_p: what the
                              log marginal likelihood needs (R&W eq. 5.9), without the
                              (n, n, n_free) tensor. Inside, W travels folded into its
                              upper triangle (``fold_upper``): dK is symmetric, so half of
                              W says it all, and the likelihood makes it that way directly
``k.input_vjp(X, W)``         sum_ij W_ij dK_ij/dX, shape (n, d): the gradient of <W, K> in
                              the inputs, which moves the latent points of a GP-LVM
``k.tensor(X, Y, theta)``     K built from scratchgen Tensor ops, so autograd can
                              differentiate it with respect to theta or to the inputs

A leaf kernel implements ``_forward`` (K plus what its gradients reuse), ``_dK`` and ``_vjp``
for each hyperparameter name, ``_diag``, ``_input_vjp`` and ``_tensor``; this class does the
bookkeeping.
NOTE: ``_forward`` must return a new K that the kernel does not keep: the composites scale and
add to it in place, and the likelihood factors it in place.
"""
from typing import NamedTuple

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.elementwise import where
from .validation import check_input

__all__ = ["Hyperparameter", "Kernel", "check_input", "fold_upper"]


class Hyperparameter(NamedTuple):
    """One named hyperparameter of a kernel.

    ``bounds`` is ``"fixed"`` or a ``(low, high)`` pair of positive values (not logs);
    ``n_elements`` is 1, or d for a per-dimension (ARD) length scale.
    """

    name: str
    n_elements: int
    bounds: object

    @property
    def fixed(self):
        return isinstance(self.bounds, str)


def positive_value(value, kernel, name):
    """A hyperparameter value as a float, or as a 1-D float array when it has > 1 element."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or array.size == 0:
        raise ValueError(f"{kernel}: {name} must be a positive number or a 1-D array of "
                         f"them, got shape {array.shape}")
    if not (np.all(np.isfinite(array)) and np.all(array > 0)):
        raise ValueError(f"{kernel}: {name} must be positive and finite, got {value!r}")
    return float(array.reshape(-1)[0]) if array.size == 1 else array.copy()


def bounds_value(bounds, kernel, name):
    """``"fixed"`` or a ``(low, high)`` tuple of floats with 0 < low <= high."""
    if isinstance(bounds, str):
        if bounds != "fixed":
            raise ValueError(f"{kernel}: {name}_bounds must be 'fixed' or a (low, high) "
                             f"pair, got {bounds!r}")
        return "fixed"
    pair = np.asarray(bounds, dtype=np.float64)
    if pair.shape != (2,) or not np.all(np.isfinite(pair)) or not 0 < pair[0] <= pair[1]:
        raise ValueError(f"{kernel}: {name}_bounds must be a (low, high) pair with "
                         f"0 < low <= high, got {bounds!r}")
    return (float(pair[0]), float(pair[1]))


def as_tensor(X):
    """``X`` as a float64 Tensor (kept as is when it already is one)."""
    if isinstance(X, Tensor):
        return X if X.dtype == np.float64 else X.double()
    return Tensor(np.asarray(X, dtype=np.float64))


class Kernel:
    """Base class of all kernels; see the module docstring for the interface.

    Leaf subclasses set ``_hyperparameter_names`` (alphabetical) and store each value and
    its bounds as the attributes ``<name>`` and ``<name>_bounds``; ``_extra_params`` names
    constructor arguments that are not hyperparameters (``nu``, ``degree``).
    """

    _hyperparameter_names = ()
    _extra_params = ()

    # ------------------------------------------------------------------ hyperparameters
    def _hyper(self):
        """The Hyperparameter records, in theta order (composites override)."""
        return [Hyperparameter(name, np.size(getattr(self, name)),
                               getattr(self, name + "_bounds"))
                for name in self._hyperparameter_names]

    @property
    def hyperparameters(self):
        """Names of all hyperparameters (fixed ones too), in theta order."""
        return [h.name for h in self._hyper()]

    @property
    def n_dims(self):
        """Number of entries of ``theta``."""
        return sum(h.n_elements for h in self._hyper() if not h.fixed)

    @property
    def theta(self):
        """1-D array: the log of the free hyperparameter values, in order."""
        parts = [np.log(np.atleast_1d(getattr(self, h.name))) for h in self._hyper()
                 if not h.fixed]
        return np.concatenate(parts) if parts else np.zeros(0)

    @theta.setter
    def theta(self, theta):
        theta = self._check_theta(theta)
        start = 0
        for h in self._hyper():
            if h.fixed:
                continue
            chunk = np.exp(theta[start:start + h.n_elements])
            setattr(self, h.name, float(chunk[0]) if np.ndim(getattr(self, h.name)) == 0
                    else chunk)
            start += h.n_elements

    def _check_theta(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self.n_dims,) or not np.all(np.isfinite(theta)):
            raise ValueError(f"{type(self).__name__}: theta must be a finite 1-D array of "
                             f"{self.n_dims} log hyperparameters, got "
                             f"{theta.shape if theta.shape != (self.n_dims,) else theta}")
        return theta

    @property
    def bounds(self):
        """(n_dims, 2) array: log of the (low, high) bounds of each entry of theta."""
        rows = [np.log(np.tile(h.bounds, (h.n_elements, 1))) for h in self._hyper()
                if not h.fixed]
        return np.vstack(rows) if rows else np.zeros((0, 2))

    def clone_with_theta(self, theta):
        """A copy of this kernel with ``theta`` set (this kernel is left unchanged)."""
        clone = self._copy()
        clone.theta = theta
        return clone

    def _copy(self):
        return type(self)(**self.get_params(deep=False))

    def __sklearn_clone__(self):
        """What scikit-learn's ``clone`` returns for this kernel: an independent copy.

        (Its generic clone rebuilds an object from ``get_params`` and requires the
        constructor to keep each argument as it came; ours normalize them, e.g. a list of
        length scales becomes an array, so the kernel copies itself.)
        """
        return self._copy()

    def get_params(self, deep=True):
        """Constructor arguments by name (values, their bounds, and e.g. ``nu``)."""
        params = {}
        for name in self._hyperparameter_names:
            value = getattr(self, name)
            params[name] = value.copy() if isinstance(value, np.ndarray) else value
            params[name + "_bounds"] = getattr(self, name + "_bounds")
        for name in self._extra_params:
            params[name] = getattr(self, name)
        return params

    def to_config(self):
        """A JSON-compatible dict that ``kernels.from_config`` turns back into this kernel."""
        params = {}
        for key, value in self.get_params(deep=False).items():
            if isinstance(value, np.ndarray):
                value = value.tolist()
            elif isinstance(value, tuple):
                value = list(value)
            params[key] = value
        return {"class": type(self).__name__, "params": params}

    def is_stationary(self):
        """True when k(x, x') depends on x - x' only."""
        return False

    # ------------------------------------------------------------------ evaluation
    def __call__(self, X, Y=None, eval_gradient=False):
        """Evaluate the kernel.

        Parameters
        ----------
        X : array_like, shape (n, d)
        Y : array_like, shape (m, d), optional
            Defaults to ``X``, for which some kernels differ (WhiteKernel is zero off X).
        eval_gradient : bool
            Also return dK/dtheta; only with ``Y=None``.

        Returns
        -------
        K : ndarray, shape (n, m)
        dK : ndarray, shape (n, n, n_dims)
            Only with ``eval_gradient=True``: dK[i, j, p] = dK_ij / dtheta_p.
        """
        caller = type(self).__name__
        X = check_input(X, caller)
        self._check_features(X.shape[1])
        if Y is not None:
            if eval_gradient:
                raise ValueError(f"{caller}: eval_gradient=True needs Y=None (the gradient "
                                 "is defined for K(X, X))")
            Y = check_input(Y, caller, "Y")
            if Y.shape[1] != X.shape[1]:
                raise ValueError(f"{caller}: X has {X.shape[1]} features but Y has "
                                 f"{Y.shape[1]}")
        if eval_gradient:
            return self._value_and_gradient(X)
        return self._value(X, Y)

    def diag(self, X):
        """The diagonal of k(X, X), shape (n,), without forming the matrix."""
        X = check_input(X, type(self).__name__)
        self._check_features(X.shape[1])
        return self._diag(X)

    def value_and_vjp(self, X):
        """K(X, X) and the map W -> sum_ij W_ij dK_ij / dtheta, shape (n_dims,).

        The second result is the vector-Jacobian product of K with respect to theta: for
        W = alpha alpha^T - K^-1 it gives twice the gradient of the log marginal likelihood
        (R&W eq. 5.9) at the cost of a few passes over n x n arrays. ``W`` (n, n) need not
        be symmetric. K may be read-only: the map may still read it.
        """
        X = check_input(X, type(self).__name__)
        self._check_features(X.shape[1])
        K, vjp = self._value_and_vjp(X)
        n = X.shape[0]

        def folded_vjp(W):
            W = np.asarray(W, dtype=np.float64)
            if W.shape != (n, n):
                raise ValueError(f"{type(self).__name__}.value_and_vjp: W must have the shape "
                                 f"of K, {(n, n)}, got {W.shape}")
            return vjp(fold_upper(W))
        return K, folded_vjp

    def input_vjp(self, X, W):
        """The gradient in the inputs of <W, K(X, X)> = sum_ij W_ij k(x_i, x_j), shape (n, d).

        x_i appears in row i and column i of K. For a symmetric k the two add up to

            d<W, K>/dx_i = sum_j (W + W^T)_ij  dk(x_i, x_j)/dx_i

        (the derivative in the first argument), which the leaves compute from W + W^T.
        Coinciding points of a kernel with a kink there (Matern 1/2) get the zero subgradient.
        """
        caller = f"{type(self).__name__}.input_vjp"
        X = check_input(X, caller)
        self._check_features(X.shape[1])
        W = np.asarray(W, dtype=np.float64)
        n = X.shape[0]
        if W.shape != (n, n):
            raise ValueError(f"{caller}: W must have the shape of K(X, X), {(n, n)}, got "
                             f"{W.shape}")
        return self._input_vjp(W + W.T, X)

    def _input_vjp(self, W_sym, X):
        """sum_j W_sym_ij dk(x_i, x_j)/dx_i for a symmetric W_sym; (n, d)."""
        raise NotImplementedError(f"{type(self).__name__}: no gradient in the inputs")

    def _check_features(self, n_features):
        """Raise when the kernel's per-dimension hyperparameters do not fit ``n_features``."""

    def _value(self, X, Y):
        """K(X, Y), always a new array (which the composites add to and scale in place)."""
        return self._forward(X, Y)[0]

    def _value_and_gradient(self, X):
        K, cache = self._forward(X, None)
        blocks = [self._dK(h.name, X, K, cache) for h in self._hyper() if not h.fixed]
        n = X.shape[0]
        return K, (np.concatenate(blocks, axis=2) if blocks else np.empty((n, n, 0)))

    def _value_and_vjp(self, X):
        """K and the vjp of a W already folded into its upper triangle (``fold_upper``).

        NOTE: a leaf returns K read-only, since its vjp may read it; a writeable K (from a
        composite) is the caller's to overwrite: Sum adds White's noise to it in place, and
        the likelihood factors it in place.
        """
        K, cache = self._forward(X, None)
        free = [h.name for h in self._hyper() if not h.fixed]
        K.flags.writeable = False

        def vjp(W):
            parts = [np.atleast_1d(self._vjp(name, W, X, K, cache)) for name in free]
            return np.concatenate(parts) if parts else np.zeros(0)
        return K, vjp

    def _vjp(self, name, W, X, K, cache):
        """sum_ij W_ij dK_ij/dtheta for one hyperparameter; leaves override with cheaper sums."""
        return np.einsum("ij,ijp->p", W, self._dK(name, X, K, cache))

    # ------------------------------------------------------------------ autograd
    def tensor(self, X, Y=None, theta=None):
        """K(X, Y) built from scratchgen Tensor ops (differentiable in X, Y and theta).

        Parameters
        ----------
        X : Tensor or array_like, shape (n, d)
        Y : Tensor or array_like, shape (m, d), optional
            Defaults to ``X`` (with the same meaning as in ``__call__``).
        theta : Tensor, shape (n_dims,), optional
            Log hyperparameters; defaults to a constant Tensor of ``self.theta``. Pass one
            with ``requires_grad=True`` to get dK/dtheta from autograd.

        Returns
        -------
        Tensor, shape (n, m), float64
        """
        X, Y, theta = self._tensor_args(X, Y, theta)
        return self._tensor(X, Y, theta)

    def tensor_diag(self, X, theta=None):
        """The diagonal of ``tensor(X)``, shape (n,), as a Tensor."""
        X, _, theta = self._tensor_args(X, None, theta)
        return self._tensor_diag(X, theta)

    def _tensor_args(self, X, Y, theta):
        caller = f"{type(self).__name__}.tensor"
        X = as_tensor(X)
        check_input(X.data, caller)
        self._check_features(X.shape[1])
        if Y is not None:
            Y = as_tensor(Y)
            check_input(Y.data, caller, "Y")
            if Y.shape[1] != X.shape[1]:
                raise ValueError(f"{caller}: X has {X.shape[1]} features but Y has "
                                 f"{Y.shape[1]}")
        theta = Tensor(self.theta) if theta is None else as_tensor(theta)
        if theta.shape != (self.n_dims,):
            raise ValueError(f"{caller}: theta must have shape ({self.n_dims},), got "
                             f"{theta.shape}")
        return X, Y, theta

    def _tensor_params(self, theta):
        """{name: Tensor value}: exp of the theta slice for free ones, constants for fixed."""
        values, start = {}, 0
        for h in self._hyper():
            if h.fixed:
                values[h.name] = Tensor(np.asarray(getattr(self, h.name), dtype=np.float64))
                continue
            chunk = theta[start:start + h.n_elements]
            values[h.name] = (chunk.exp() if h.n_elements > 1
                              else chunk.exp().reshape(()))
            start += h.n_elements
        return values

    # ------------------------------------------------------------------ algebra
    def __add__(self, other):
        from .kernels_composite import Sum, as_kernel   # the two modules need each other
        other = as_kernel(other)
        return NotImplemented if other is None else Sum(self, other)

    def __radd__(self, other):
        from .kernels_composite import Sum, as_kernel
        other = as_kernel(other)
        return NotImplemented if other is None else Sum(other, self)

    def __mul__(self, other):
        from .kernels_composite import Product, as_kernel
        other = as_kernel(other)
        return NotImplemented if other is None else Product(self, other)

    def __rmul__(self, other):
        from .kernels_composite import Product, as_kernel
        other = as_kernel(other)
        return NotImplemented if other is None else Product(other, self)


def fold_upper(W):
    """W + W^T - diag(W) in the upper triangle, zeros below: (n, n), C-contiguous.

    Every dK/dtheta is symmetric, so sum_ij W_ij dK_ij = sum_{i<=j} U_ij dK_ij with U this
    fold of W. The vjps inside the kernels take W folded, and read half of it.
    """
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"fold_upper: W must be a square matrix, got shape {W.shape}")
    U = np.triu(W + W.T)
    U[np.diag_indices_from(U)] = np.diag(W)
    return U


def format_value(value):
    """``0.5`` or ``[0.5, 2]`` with three significant digits, as scikit-learn prints them."""
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(f"{v:.3g}" for v in value) + "]"
    return f"{value:.3g}"


def check_length_scale_features(kernel, length_scale, n_features):
    """ARD length scales must have one entry per feature of X."""
    if isinstance(length_scale, np.ndarray) and length_scale.shape[0] != n_features:
        raise ValueError(f"{type(kernel).__name__}: length_scale has {length_scale.shape[0]} "
                         f"entries (one per feature) but X has {n_features} features")


def safe_sqrt(S):
    """sqrt(S) of a Tensor, with gradient 0 rather than NaN where S = 0 (coinciding points)."""
    positive = S.data > 0
    return where(positive, where(positive, S, 1.0).sqrt(), 0.0)
