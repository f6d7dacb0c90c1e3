"""Sparse GP regression for large n: Titsias's (2009) collapsed variational bound, O(n m^2).

With m inducing inputs Z (m << n) the exact GP's (n, n) Cholesky is replaced by the bound

    F = log N(y | 0, Q_nn + s^2 I) - tr(K_nn - Q_nn) / (2 s^2),   Q_nn = K_nm K_mm^-1 K_mn,

a lower bound on the exact log marginal likelihood, maximized jointly over the kernel
hyperparameters, the noise variance s^2 and Z (M. Titsias, "Variational Learning of Inducing
Variables in Sparse Gaussian Processes", AISTATS 2009). Everything goes through Cholesky factors:

    L = chol(K_mm),  A = L^-1 K_mn / s,  B = I + A A^T,  L_B = chol(B),  c = L_B^-1 A y / s
    F = -n/2 log(2 pi s^2) - sum(log diag L_B) - y^T y / (2 s^2) + c^T c / 2
        - tr(K_nn) / (2 s^2) + tr(A A^T) / 2

The gradient is derived by hand (``sparse_bound``), so one evaluation is two passes over
row chunks of X and holds nothing larger than K_nm.
"""
import numbers

import numpy as np
from scipy import linalg, optimize

from . import kernels
from .linalg import matmul
from ..estimator import BaseEstimator, RegressorMixin
from ..progress import progress_bar
from ..random_state import check_random_state
from .sparse_bound import CollapsedBound, chunks, kernel_terms, term_params
from .validation import check_fitted, check_input, check_n_features, check_targets


def kmeans_plus_plus(X, m, rng, n_iter=10, max_points=10000):
    """Initial inducing inputs: k-means++ seeding, then Lloyd iterations, on a subsample.

    Seeding picks each new center with probability proportional to the squared distance to the
    nearest center chosen so far (Arthur & Vassilvitskii, 2007).

    Parameters
    ----------
    X : ndarray (n, d)
    m : int
        Number of centers, m <= n.
    rng : numpy.random.Generator
    n_iter : int
        Lloyd iterations after seeding.
    max_points : int
        Run on a random subsample of at most ``max(max_points, m)`` rows (speed).

    Returns
    -------
    ndarray (m, d)
    """
    n = X.shape[0]
    if n > max(max_points, m):
        X = X[rng.choice(n, size=max(max_points, m), replace=False)]
        n = X.shape[0]
    offset = X.mean(axis=0)                # centred, the expanded distances cancel less
    X = X - offset
    sq_norms = np.einsum("ij,ij->i", X, X)
    centers = np.empty((m, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    nearest = np.maximum(sq_norms - 2 * X @ centers[0] + centers[0] @ centers[0], 0.0)
    for j in range(1, m):
        total = nearest.sum()
        # NOTE: when every point already sits on a center (duplicates), draw uniformly.
        p = nearest / total if total > 0 else None
        centers[j] = X[rng.choice(n, p=p)]
        d2 = np.maximum(sq_norms - 2 * X @ centers[j] + centers[j] @ centers[j], 0.0)
        np.minimum(nearest, d2, out=nearest)
    for _ in range(n_iter):
        # ||x - c||^2 up to the constant ||x||^2, which does not change the argmin
        labels = np.argmin(np.einsum("ij,ij->i", centers, centers) - 2 * X @ centers.T, axis=1)
        counts = np.bincount(labels, minlength=m)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, X)
        filled = counts > 0                # an empty cluster keeps its old center
        centers[filled] = sums[filled] / counts[filled, None]
    return centers + offset


class SparseGPRegressor(RegressorMixin, BaseEstimator):
    r"""Sparse GP regression by the collapsed variational bound of Titsias (2009) (SGPR).

    Maximizes the lower bound on the log marginal likelihood

    .. math::

        F = \log N(y \mid 0, Q_{nn} + s^2 I) - \frac{1}{2 s^2} \operatorname{tr}(K_{nn} - Q_{nn}),
        \qquad Q_{nn} = K_{nm} K_{mm}^{-1} K_{mn},

    jointly over the kernel's log hyperparameters, log s^2 and the inducing inputs Z (k-means
    initialized) by L-BFGS-B with the analytic gradient; one evaluation costs O(n m^2) time and
    O(n m) memory. A scikit-learn estimator (``scratchgen.estimator``); ``score`` is R^2.
    The latent f at x* is then Gaussian with (P = K_mm + K_mn K_nm / s^2)

        mean  k_*m P^-1 K_mn y / s^2,      var  k_** - k_*m K_mm^-1 k_m* + k_*m P^-1 k_m*.

    Parameters
    ----------
    kernel : Kernel, optional
        Sums of products of ``Constant``, ``RBF`` and ``Matern``, at most one RBF/Matern per
        product (see ``sparse_bound``). Default ``Constant(1.0) * RBF(1.0)``, both fitted.
        The Gaussian noise is not part of the kernel (no ``WhiteKernel``).
    n_inducing : int
        Number m of inducing points (all distinct training inputs when there are fewer).
    noise : float
        Initial Gaussian noise variance s^2 > 0.
    noise_bounds : (float, float) or "fixed"
        Bounds on s^2 while fitting, or "fixed" to keep ``noise``.
    optimize_inducing : bool
        Optimize Z with the hyperparameters (otherwise Z stays at the k-means centers).
    max_iter : int
        Most L-BFGS-B iterations (0: evaluate the bound at the initial values only). An
        iteration costs one or two evaluations of F and its gradient, O(n m^2): about a second
        for n = 100,000 and m = 256 on two cores. Small problems can afford more.
    normalize_y : bool
        Fit to (y - mean) / std, undone in predictions. ``kernel_``, ``noise_`` and ``elbo_``
        then refer to the normalized targets.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Seeds the k-means initialization (read by
        ``scratchgen.random_state.check_random_state``).
    verbose : bool
        Show a progress bar (tqdm, on standard error) over the evaluations of the bound,
        with its current value. Quiet by default.

    Attributes
    ----------
    kernel_ : Kernel
        The fitted kernel.
    noise_ : float
        The fitted noise variance s^2.
    inducing_points_ : ndarray (m, d)
        The fitted inducing inputs Z.
    elbo_ : float
        The bound F reached: at most the exact log marginal likelihood at these hyperparameters.
    n_iter_ : int
        L-BFGS-B iterations run.

    Examples
    --------
    >>> gp = SparseGPRegressor(n_inducing=64, random_state=0).fit(X, y)    # doctest: +SKIP
    >>> mean, std = gp.predict(X_test, return_std=True)                    # doctest: +SKIP
    """

    def __init__(self, kernel=None, n_inducing=256, noise=1.0, noise_bounds=(1e-6, 1e3),
                 optimize_inducing=True, max_iter=40, normalize_y=False, random_state=None,
                 verbose=False):
        self.kernel = kernel
        self.n_inducing = n_inducing
        self.noise = noise
        self.noise_bounds = noise_bounds
        self.optimize_inducing = optimize_inducing
        self.max_iter = max_iter
        self.normalize_y = normalize_y
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, inducing_points=None):
        """Fit the hyperparameters, the noise variance and the inducing points to (X, y).

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,)
        inducing_points : array_like (m, d), optional
            Initial Z instead of k-means centers (``n_inducing`` is then ignored).

        Returns
        -------
        self
        """
        caller = "SparseGPRegressor.fit"
        fit_noise = self._check_params(caller)
        X = check_input(X, caller)
        y = check_targets(y, X.shape[0], caller, multi_output=False)
        n, d = X.shape
        kernel = self.kernel if self.kernel is not None else (
            kernels.ConstantKernel(1.0) * kernels.RBF(1.0))
        kernel._check_features(d)
        terms, n_theta = kernel_terms(kernel, d)
        self._y_mean, self._y_std = 0.0, 1.0
        if self.normalize_y:
            self._y_mean, std = y.mean(), y.std()
            self._y_std = std if std > 10 * np.finfo(float).eps else 1.0
        y = (y - self._y_mean) / self._y_std
        if inducing_points is not None:
            Z = check_input(inducing_points, caller, "inducing_points")
            if Z.shape[1] != d:
                raise ValueError(f"{caller}: inducing_points has {Z.shape[1]} features but X "
                                 f"has {d} (expected shape (m, {d}), got {Z.shape})")
        elif self.n_inducing >= n:
            Z = np.unique(X, axis=0)
        else:
            Z = kmeans_plus_plus(X, self.n_inducing, check_random_state(self.random_state, caller))
        bound = CollapsedBound(X, y, terms)
        _check_kernel_reading(kernel, bound, Z, caller)

        # Optimizer coordinates: theta, log s^2 (unless fixed), and Z centred and divided by
        # the data's standard deviation, so that its steps compare with those in log space.
        scale = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        x0 = [np.asarray(kernel.theta, dtype=float)]
        bounds = [tuple(b) for b in kernel.bounds]
        if fit_noise:
            x0.append([np.log(self.noise)])
            bounds.append(tuple(np.log(self.noise_bounds)))
        if self.optimize_inducing:
            x0.append(((Z - bound.offset) / scale).ravel())
            bounds += [(None, None)] * Z.size
        x0 = np.concatenate(x0)

        def unpack(x):
            noise = np.exp(x[n_theta]) if fit_noise else self.noise
            Zc = (x[n_theta + fit_noise:].reshape(-1, d) * scale if self.optimize_inducing
                  else Z - bound.offset)
            return x[:n_theta], noise, Zc

        def objective(x):                   # -F / n and its gradient
            F, (g_theta, g_log_noise, g_Z) = bound.evaluate(*unpack(x), eval_gradient=True)
            bar.update()
            bar.set_postfix(elbo=f"{F:.6g}", refresh=False)
            grad = [g_theta, [g_log_noise] if fit_noise else [],
                    (g_Z * scale).ravel() if self.optimize_inducing else []]
            return -F / n, -np.concatenate(grad) / n

        self.n_iter_ = 0
        if self.max_iter > 0 and x0.size:
            with progress_bar(desc=caller, enabled=bool(self.verbose),
                              unit=" evaluations") as bar:
                result = optimize.minimize(objective, x0, jac=True, method="L-BFGS-B",
                                           bounds=bounds, options={"maxiter": self.max_iter})
            x0, self.n_iter_ = result.x, result.nit
        theta, noise, Zc = unpack(x0)
        self.elbo_ = float(bound.evaluate(theta, noise, Zc, keep_posterior=True))
        self.kernel_ = kernel.clone_with_theta(theta)
        self.noise_ = float(noise)
        self.inducing_points_ = Zc + bound.offset
        self._bound, self._theta = bound, theta
        return self

    def elbo(self, theta=None, noise=None, inducing_points=None, eval_gradient=False):
        """The bound F on the training data at given parameters (default: the fitted ones).

        Parameters
        ----------
        theta : array_like (n_theta,), optional
            Log hyperparameters of the kernel.
        noise : float, optional
            Noise variance s^2.
        inducing_points : array_like (m, d), optional
        eval_gradient : bool

        Returns
        -------
        F : float
        (grad_theta (n_theta,), grad_log_noise, grad_Z (m, d))
            With ``eval_gradient``: dF/dtheta, dF/dlog s^2 and dF/dZ.
        """
        caller = "SparseGPRegressor.elbo"
        self._check_fitted(caller)
        theta = self._theta if theta is None else np.asarray(theta, dtype=float)
        if theta.shape != self._theta.shape:
            raise ValueError(f"{caller}: expected theta of shape {self._theta.shape}, got "
                             f"{theta.shape}")
        noise = self.noise_ if noise is None else float(noise)
        Z = self.inducing_points_ if inducing_points is None else self._check_query(
            inducing_points, caller, "inducing_points")
        return self._bound.evaluate(theta, noise, Z - self._bound.offset, eval_gradient)

    def predict(self, X, return_std=False, include_noise=False):
        """Predictive mean and standard deviation of the latent f (or of y, with the noise).

        Parameters
        ----------
        X : array_like (n*, d)
        return_std : bool
        include_noise : bool
            Add the noise variance s^2 to the predictive variance (predict y rather than f).

        Returns
        -------
        mean : ndarray (n*,)
        std : ndarray (n*,)
            Only with ``return_std``.
        """
        caller = "SparseGPRegressor.predict"
        self._check_fitted(caller)
        bound = self._bound
        X = self._check_query(X, caller, "X") - bound.offset
        Z = self.inducing_points_ - bound.offset
        params = [term_params(t, self._theta) for t in bound.terms]
        mean, var = np.empty(X.shape[0]), np.empty(X.shape[0])
        for rows in chunks(X.shape[0], Z.shape[0]):
            K, K_scale, _ = bound.cross(params, X[rows], Z)                 # (rows, m)
            mean[rows] = matmul(K, K_scale * bound.v)
            if return_std:
                a = linalg.solve_triangular(bound.L / K_scale, K.T, lower=True)  # L^-1 k_m*
                b = linalg.solve_triangular(bound.L_B, a, lower=True)        # L_B^-1 L^-1 k_m*
                var[rows] = (sum(var_t for var_t, _ in params)
                             - np.einsum("ij,ij->j", a, a) + np.einsum("ij,ij->j", b, b))
        mean = mean * self._y_std + self._y_mean
        if not return_std:
            return mean
        np.maximum(var, 0.0, out=var)       # rounding can take a variance just below zero
        if include_noise:
            var += self.noise_
        return mean, np.sqrt(var) * self._y_std

    def _check_params(self, caller):
        """Validate the settings; return whether the noise is fitted."""
        if self.kernel is not None and not isinstance(self.kernel, kernels.Kernel):
            raise TypeError(f"{caller}: kernel must be a scratchgen.gp.kernels.Kernel or None, "
                            f"got {type(self.kernel).__name__}")
        for name in ("n_inducing", "max_iter"):
            value, low = getattr(self, name), 1 if name == "n_inducing" else 0
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
                raise ValueError(f"{caller}: {name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.noise, numbers.Real) and np.isfinite(self.noise)
                and self.noise > 0):
            raise ValueError(f"{caller}: noise must be a positive variance, got {self.noise!r}")
        if isinstance(self.noise_bounds, str) and self.noise_bounds == "fixed":
            return False
        pair = np.asarray(self.noise_bounds, dtype=float) if not isinstance(
            self.noise_bounds, str) else np.zeros(0)
        if pair.shape != (2,) or not 0 < pair[0] <= self.noise <= pair[1] < np.inf:
            raise ValueError(f"{caller}: noise_bounds must be 'fixed' or a pair (low, high) "
                             f"with 0 < low <= noise <= high, got noise_bounds="
                             f"{self.noise_bounds!r} with noise={self.noise!r}")
        return True

    def _check_fitted(self, caller):
        check_fitted(self, "_bound", caller)

    def _check_query(self, X, caller, name):
        return check_n_features(check_input(X, caller, name), self._bound.X.shape[1], caller,
                                name)


def _check_kernel_reading(kernel, bound, Z, caller):
    """Guard against misreading the kernel: K(X, Z) from theta must equal the kernel's own."""
    X, Z = bound.X[:8] + bound.offset, Z[:8]
    theirs = kernel(X, Z)
    params = [term_params(t, np.asarray(kernel.theta, dtype=float)) for t in bound.terms]
    K, K_scale, _ = bound.cross(params, X - bound.offset, Z - bound.offset)
    if not np.allclose(K_scale * K, theirs, rtol=1e-8, atol=1e-12 * np.abs(theirs).max()):
        raise ValueError(f"{caller}: K(X, Z) rebuilt from the hyperparameters of {kernel!r} "
                         f"differs from the kernel's own by up to "
                         f"{np.abs(K_scale * K - theirs).max():.3g}; this kernel is not supported")
