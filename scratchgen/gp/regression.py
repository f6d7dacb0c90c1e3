"""Exact Gaussian-process regression (Rasmussen & Williams, chapter 2 and Algorithm 2.1).

Model: f ~ GP(0, k_theta), y = f(x) + eps with eps ~ N(0, alpha) (plus any WhiteKernel in k).
Fitting maximizes the log marginal likelihood log p(y | X, theta) over the kernel's
hyperparameters (``likelihood.py``); prediction conditions the GP on the data:

    mean(x*) = k*^T K^-1 y = k*^T a,           var(x*) = k(x*, x*) - v^T v,  v = L \\ k*

with K = k(X, X) + alpha I = L L^T. The names follow scikit-learn's GaussianProcessRegressor.
"""
import numbers
import warnings

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from ..autograd.engine import grad
from ..autograd.tensor import Tensor
from ..estimator import BaseEstimator, RegressorMixin
from ..progress import progress_bar
from ..serialization import load as _load_checkpoint
from ..serialization import save as _save_checkpoint
from . import kernels
from .kernels_base import Kernel
from ..random_state import check_random_state
from .likelihood import log_marginal_likelihood, maximize_log_marginal_likelihood
from .linalg import cholesky_with_jitter, matmul
from .regression_io import from_checkpoint, to_checkpoint
# NotFittedError lives in validation; importing it here keeps scratchgen.gp.regression's name.
from .validation import (NotFittedError, check_fitted, check_input, check_n_features,
                         check_optimizer, check_restarts, check_targets)

__all__ = ["GaussianProcessRegressor", "NotFittedError"]

_FORMAT = "scratchgen.gp.GaussianProcessRegressor"
_GRADIENT_CHUNK = 256        # query rows per autograd pass in predict_gradient


def _default_kernel():
    return kernels.ConstantKernel(1.0, "fixed") * kernels.RBF(1.0, "fixed")


class GaussianProcessRegressor(RegressorMixin, BaseEstimator):
    """Gaussian-process regression with hyperparameters fitted by marginal likelihood.

    A scikit-learn estimator (``scratchgen.estimator``): ``clone``, ``cross_val_score``,
    ``GridSearchCV`` and ``Pipeline`` accept it, and scikit-learn's parameter names
    ``n_restarts_optimizer`` and ``optimizer="fmin_l_bfgs_b"`` work as well as ours.

    Parameters
    ----------
    kernel : Kernel, optional
        Prior covariance; its hyperparameters are the starting point of the fit. ``None``
        means ``ConstantKernel(1.0, "fixed") * RBF(1.0, "fixed")``.
    alpha : float or ndarray of shape (n,)
        Added to the diagonal of K when fitting: the noise variance, or a small number that
        keeps K numerically positive definite (noise is better modelled by a WhiteKernel).
    n_restarts : int
        Extra optimizer runs from log-uniform draws within the bounds.
    n_restarts_optimizer : int, optional
        scikit-learn's name for ``n_restarts``; when given, it is the count (and
        ``n_restarts`` must be 0 or equal).
    normalize_y : bool
        Subtract the mean of y and divide by its standard deviation before fitting (undone in
        predictions).
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Draws the restart points, by ``scratchgen.random_state.check_random_state``: an int
        seeds ``np.random.default_rng`` (so the restart points differ from scikit-learn's,
        which draws them from a legacy ``RandomState``).
    optimizer : "L-BFGS-B", "fmin_l_bfgs_b", callable or None
        SciPy's L-BFGS-B (under either name: the second is scikit-learn's); ``None`` keeps
        the kernel's hyperparameters. A callable is called as
        ``optimizer(objective, theta0, bounds)`` -> ``(theta, objective_value)``.
    verbose : bool
        Show a progress bar (tqdm, on standard error) over the optimizer's evaluations of
        the log marginal likelihood, with the current value. Quiet by default.

    Attributes
    ----------
    kernel_ : Kernel
        The fitted kernel.
    log_marginal_likelihood_value_ : float
    X_train_ : ndarray, shape (n, d)
    y_train_ : ndarray, shape (n,) or (n, t)
        The training targets, normalized when ``normalize_y``.
    alpha_ : ndarray, shape (n,) or (n, t)
        K^-1 y_train_.
    L_ : ndarray, shape (n, n)
        Lower Cholesky factor of K = k(X, X) + alpha I (+ jitter_ I).
    jitter_ : float
        Jitter that the factorization needed (0.0 normally; a warning says when it is not).
    """

    def __init__(self, kernel=None, alpha=1e-10, n_restarts=0, normalize_y=False,
                 random_state=None, optimizer="L-BFGS-B", n_restarts_optimizer=None,
                 verbose=False):
        # NOTE: scikit-learn's clone needs every argument stored unchanged under its own name;
        # fit() validates and interprets them.
        self.kernel = kernel
        self.alpha = alpha
        self.n_restarts = n_restarts
        self.normalize_y = normalize_y
        self.random_state = random_state
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit the hyperparameters by maximizing the log marginal likelihood, then condition.

        Parameters
        ----------
        X : array_like, shape (n, d)
        y : array_like, shape (n,) or (n, t)

        Returns
        -------
        self
        """
        caller = "GaussianProcessRegressor.fit"
        n_restarts, optimizer = self._check_params(caller)
        X = check_input(X, caller)
        Y = check_targets(y, X.shape[0], caller)
        single_target = np.ndim(y) == 1 or Y.shape[1] == 1
        noise = self._check_alpha(X.shape[0], caller)
        kernel = _default_kernel() if self.kernel is None else self.kernel
        kernel = kernel.clone_with_theta(kernel.theta)
        kernel._check_features(X.shape[1])

        if self.normalize_y:
            y_mean, y_std = Y.mean(axis=0), Y.std(axis=0)
            y_std = np.where(y_std < 10 * np.finfo(np.float64).eps, 1.0, y_std)
            Y = (Y - y_mean) / y_std
        else:
            y_mean, y_std = np.zeros(Y.shape[1]), np.ones(Y.shape[1])

        if optimizer is not None and kernel.n_dims > 0:
            rng = check_random_state(self.random_state, caller)
            with progress_bar(desc=caller, enabled=bool(self.verbose),
                              unit=" evaluations") as bar:
                maximize_log_marginal_likelihood(kernel, X, Y, noise, n_restarts, rng,
                                                 optimizer, caller, progress=bar)
        # Algorithm 2.1, lines 2-3 at the chosen theta: L = cholesky(K), a = K^-1 y.
        terms = log_marginal_likelihood(kernel, X, Y, noise, caller=caller)
        if terms.jitter > 0:
            warnings.warn(f"{caller}: k(X, X) + alpha I was not numerically positive definite "
                          f"(repeated inputs or too little noise); added {terms.jitter:.3g} to "
                          "its diagonal. A WhiteKernel or a larger alpha avoids this.",
                          RuntimeWarning, stacklevel=2)
        self.kernel_ = kernel
        self.X_train_ = np.array(X, copy=True)        # later edits of the caller's X don't leak in
        self.y_train_ = Y[:, 0] if single_target else Y
        self.alpha_ = terms.alpha[:, 0] if single_target else terms.alpha
        self.L_ = terms.L
        self.jitter_ = terms.jitter
        self.log_marginal_likelihood_value_ = terms.value
        self._noise, self._y_mean, self._y_std = noise, y_mean, y_std
        self._single_target = single_target
        return self

    def log_marginal_likelihood(self, theta=None, eval_gradient=False, clone_kernel=True):
        """log p(y | X, theta) on the training data, and optionally its gradient in theta.

        Parameters
        ----------
        theta : array_like, shape (n_dims,), optional
            Log hyperparameters; ``None`` returns ``log_marginal_likelihood_value_``.
        eval_gradient : bool
            Also return d/dtheta (needs ``theta``).
        clone_kernel : bool
            False sets ``theta`` on ``kernel_`` itself (faster, but changes the model).

        Returns
        -------
        float, or (float, ndarray of shape (n_dims,))

        Raises
        ------
        NotPositiveDefiniteError
            When k(X, X) + alpha I cannot be factored at ``theta``, even with jitter (where
            scikit-learn returns -inf).
        """
        caller = "GaussianProcessRegressor.log_marginal_likelihood"
        self._check_fitted(caller)
        if theta is None:
            if eval_gradient:
                raise ValueError(f"{caller}: eval_gradient=True needs theta")
            return self.log_marginal_likelihood_value_
        if clone_kernel:
            kernel = self.kernel_.clone_with_theta(theta)
        else:
            kernel = self.kernel_
            kernel.theta = theta
        Y = self.y_train_.reshape(len(self.X_train_), -1)
        terms = log_marginal_likelihood(kernel, self.X_train_, Y, self._noise, eval_gradient,
                                        caller)
        return (terms.value, terms.gradient) if eval_gradient else terms.value

    # ------------------------------------------------------------------ prediction
    def predict(self, X, return_std=False, return_cov=False):
        """Posterior (or, before ``fit``, prior) predictive distribution at ``X``.

        Parameters
        ----------
        X : array_like, shape (m, d)
        return_std, return_cov : bool
            At most one: also return the standard deviation or the full covariance.

        Returns
        -------
        mean : ndarray, shape (m,) or (m, t)
        std : ndarray, shape (m,) or (m, t), if ``return_std``
        cov : ndarray, shape (m, m) or (m, m, t), if ``return_cov``
        """
        caller = "GaussianProcessRegressor.predict"
        if return_std and return_cov:
            raise ValueError(f"{caller}: ask for at most one of return_std and return_cov")
        X = self._check_query(X, caller)
        if not hasattr(self, "X_train_"):
            kernel = _default_kernel() if self.kernel is None else self.kernel
            mean = np.zeros(X.shape[0])
            if return_cov:
                return mean, kernel(X)
            return (mean, np.sqrt(kernel.diag(X))) if return_std else mean
        K_star = self.kernel_(X, self.X_train_)                  # (m, n)
        mean = self._unnormalize_mean(matmul(K_star, self.alpha_))
        if not (return_std or return_cov):
            return mean
        V = solve_triangular(self.L_, K_star.T, lower=True, check_finite=False)  # L \ k*
        if return_cov:
            cov = self.kernel_(X) - matmul(V.T, V)
            return mean, self._scale_variance(cov)
        var = self.kernel_.diag(X) - np.einsum("ij,ij->j", V, V)
        if np.any(var < 0):
            warnings.warn(f"{caller}: {np.sum(var < 0)} predicted variances were slightly "
                          f"negative (rounding; smallest {var.min():.3g}) and are set to 0",
                          RuntimeWarning, stacklevel=2)
            var = np.maximum(var, 0.0)
        return mean, np.sqrt(self._scale_variance(var))

    def sample_y(self, X, n_samples=1, random_state=None, *, rng=None):
        """Draw functions from the posterior (or, before ``fit``, the prior) at ``X``.

        The covariance is factored by ``cholesky_with_jitter``: a jitter of up to 1e-5 times
        its mean diagonal is added when it is only positive semi-definite (repeated query
        points, query points on noise-free training data).

        Parameters
        ----------
        X : array_like, shape (m, d)
        n_samples : int
        random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
            Draws the samples (scikit-learn's name; read by ``check_random_state``).
        rng : optional
            The former name of ``random_state``; deprecated.

        Returns
        -------
        ndarray, shape (m, n_samples) or (m, t, n_samples)
        """
        caller = "GaussianProcessRegressor.sample_y"
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"{caller}: n_samples must be a positive integer, got "
                             f"{n_samples!r}")
        if rng is not None:
            if random_state is not None:
                raise TypeError(f"{caller}: pass random_state only (rng is its deprecated "
                                f"name), got both random_state={random_state!r} and "
                                f"rng={rng!r}")
            warnings.warn(f"{caller}: rng is deprecated, pass random_state (scikit-learn's "
                          f"name) instead", DeprecationWarning, stacklevel=2)
            random_state = rng
        rng = check_random_state(random_state, caller)
        mean, cov = self.predict(X, return_cov=True)
        if mean.ndim == 1:
            mean, cov = mean[:, None], cov[:, :, None]
        samples = np.empty((mean.shape[0], mean.shape[1], n_samples))
        for target in range(mean.shape[1]):
            L, _ = cholesky_with_jitter(cov[:, :, target], caller=caller,
                                        kernel=getattr(self, "kernel_", self.kernel))
            z = rng.standard_normal((mean.shape[0], n_samples))
            samples[:, target, :] = mean[:, target, None] + matmul(L, z)
        return samples[:, 0, :] if samples.shape[1] == 1 else samples

    def predict_gradient(self, X):
        """Gradients of the predictive mean and variance with respect to the inputs.

        Uses scratchgen's autograd through ``kernel.tensor``. Each query row is independent,
        so the gradient of the summed means gives every row's gradient at once. For the
        variance k(x, x) - k*^T K^-1 k*, the derivative is dk(x, x) - 2 (K^-1 k*)^T dk*:
        the rows B = k*^T K^-1 come from the Cholesky factor and are held constant.

        Parameters
        ----------
        X : array_like, shape (m, d)

        Returns
        -------
        mean_gradient : ndarray, shape (m, d) or (m, d, t)
            d mean_i / d x_i.
        var_gradient : ndarray, shape (m, d) or (m, d, t)
            d var_i / d x_i (the variance of ``predict``, std squared).
        """
        caller = "GaussianProcessRegressor.predict_gradient"
        X = self._check_query(X, caller)
        fitted = hasattr(self, "X_train_")
        kernel = self.kernel_ if fitted else (_default_kernel() if self.kernel is None
                                              else self.kernel)
        n_targets = self.alpha_.reshape(len(self.X_train_), -1).shape[1] if fitted else 1
        d_mean = np.zeros((X.shape[0], X.shape[1], n_targets))
        d_var = np.zeros((X.shape[0], X.shape[1]))
        for start in range(0, X.shape[0], _GRADIENT_CHUNK):
            rows = slice(start, start + _GRADIENT_CHUNK)
            Xs = Tensor(X[rows], requires_grad=True)
            surrogate = kernel.tensor_diag(Xs).sum()
            if fitted:
                K_star = kernel.tensor(Xs, self.X_train_)                 # (b, n)
                B = cho_solve((self.L_, True), K_star.data.T, check_finite=False).T
                surrogate = surrogate - 2.0 * (K_star * Tensor(B)).sum()
                alpha = self.alpha_.reshape(len(self.X_train_), -1)
                for target in range(n_targets):
                    d_mean[rows, :, target] = _input_gradient(
                        (K_star @ Tensor(alpha[:, target])).sum(), Xs)
            d_var[rows] = _input_gradient(surrogate, Xs)
        if fitted:
            d_mean *= self._y_std
            d_var = d_var[:, :, None] * self._y_std**2
        else:
            d_var = d_var[:, :, None]
        if n_targets == 1:
            return d_mean[:, :, 0], d_var[:, :, 0]
        return d_mean, d_var

    def score(self, X, y):
        """Coefficient of determination R^2 of ``predict(X)`` (averaged over targets)."""
        caller = "GaussianProcessRegressor.score"
        X = self._check_query(X, caller)
        Y = check_targets(y, X.shape[0], caller)
        pred = self.predict(X).reshape(Y.shape)
        residual = ((Y - pred) ** 2).sum(axis=0)
        total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        # A constant target scores 1 when predicted exactly, else 0 (scikit-learn's rule).
        r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
        return float(r2.mean())

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the model (parameters, fitted kernel and factors) with ``scratchgen.save``."""
        _save_checkpoint(to_checkpoint(self, _FORMAT), path)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``."""
        return from_checkpoint(cls, _load_checkpoint(path), _FORMAT, path)

    # ------------------------------------------------------------------ helpers
    def _check_params(self, caller):
        """Validate the settings; return the number of restarts and the optimizer."""
        if self.kernel is not None and not isinstance(self.kernel, Kernel):
            raise TypeError(f"{caller}: kernel must be a scratchgen.gp.kernels.Kernel or None, "
                            f"got {type(self.kernel).__name__}")
        return (check_restarts(self.n_restarts, self.n_restarts_optimizer, caller),
                check_optimizer(self.optimizer, caller))

    def __sklearn_tags__(self):
        # Called by scikit-learn only, so only on top of its BaseEstimator.
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _check_alpha(self, n_samples, caller):
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if alpha.ndim > 1 or (alpha.ndim == 1 and alpha.shape[0] not in (1, n_samples)):
            raise ValueError(f"{caller}: alpha must be a number or an array of shape "
                             f"({n_samples},), got shape {alpha.shape}")
        if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
            raise ValueError(f"{caller}: alpha must be finite and >= 0, got {self.alpha!r}")
        return float(alpha.reshape(-1)[0]) if alpha.size == 1 else alpha

    def _check_fitted(self, caller):
        check_fitted(self, "X_train_", caller)

    def _check_query(self, X, caller):
        """Checked query inputs; after ``fit``, with the training data's number of features."""
        X = check_input(X, caller)
        if hasattr(self, "X_train_"):
            check_n_features(X, self.X_train_.shape[1], caller)
        return X

    def _unnormalize_mean(self, mean):
        mean = self._y_std * mean.reshape(mean.shape[0], -1) + self._y_mean
        return mean[:, 0] if self._single_target else mean

    def _scale_variance(self, var):
        """Undo normalize_y on a variance (m,) or covariance (m, m): one copy per target."""
        scaled = var[..., None] * self._y_std**2
        return scaled[..., 0] if self._single_target else scaled


def _input_gradient(output, X):
    """d(output)/dX as an array; zeros when the output does not depend on X."""
    if not output.requires_grad:
        return np.zeros(X.shape)
    (g,) = grad(output, X, retain_graph=True, allow_unused=True)
    return np.zeros(X.shape) if g is None else g.data

