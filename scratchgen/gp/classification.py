"""Binary GP classification with the Laplace approximation (Rasmussen & Williams, 2006, ch. 3).

A latent f ~ GP(0, k) passes through the logistic sigmoid: p(y = 1 | f) = sigma(f). The
posterior p(f | X, y) is replaced by a Gaussian at its mode f^ (Newton's method, R&W
Algorithm 3.1), which gives predictions (Algorithm 3.2) and an approximate log marginal
likelihood with an analytic gradient (Algorithm 5.1) for fitting the kernel by L-BFGS-B.
All solves go through the Cholesky factor of B = I + W^1/2 K W^1/2, whose eigenvalues are
at least 1.
"""
import numbers
import warnings

import numpy as np
from scipy import linalg, optimize
from scipy.special import erf, expit

from . import kernels
from .linalg import cholesky_with_jitter, matmul
from ..estimator import BaseEstimator, ClassifierMixin
from ..progress import progress_bar
from ..random_state import check_random_state
from .validation import (check_fitted, check_input, check_n_features, check_optimizer,
                         check_restarts)

# sigma(z) ~ sum_i c_i (1 + erf(lambda_i z)) / 2: each erf averages over a Gaussian in closed
# form (R&W eq. 3.25 without quadrature). These lambdas and the points where the fit is exact
# (least squares) are scikit-learn's choice, kept so that probabilities agree with it.
_ERF_LAMBDAS = np.array([0.41, 0.4, 0.37, 0.44, 0.39])
_ERF_FIT_AT = np.array([0.0, 0.6, 2.0, 3.5, 4.5, np.inf])
_ERF_COEFS = np.linalg.lstsq((1.0 + erf(np.outer(_ERF_FIT_AT, _ERF_LAMBDAS))) / 2.0,
                             expit(_ERF_FIT_AT), rcond=None)[0]
_HERMITE_X, _HERMITE_W = np.polynomial.hermite.hermgauss(64)


class GaussianProcessClassifier(ClassifierMixin, BaseEstimator):
    r"""Binary GP classifier with a logistic likelihood and the Laplace approximation.

    Fitting maximizes the approximate log marginal likelihood (R&W eq. 3.32)

    .. math::

        \log q(y \mid X, \theta) = -\tfrac12 \hat f^T K^{-1} \hat f + \log p(y \mid \hat f)
            - \tfrac12 \log |B|, \qquad B = I + W^{1/2} K W^{1/2},

    with :math:`\hat f` the posterior mode and :math:`W = -\nabla\nabla \log p(y \mid \hat f)`,
    over the kernel's log hyperparameters by L-BFGS-B with the gradient of R&W Algorithm 5.1.
    A scikit-learn estimator (``scratchgen.estimator``), which also takes scikit-learn's
    parameter names ``n_restarts_optimizer`` and ``optimizer="fmin_l_bfgs_b"``.

    Parameters
    ----------
    kernel : kernel object, optional
        Covariance of the latent function. Default ``Constant(1.0) * RBF(1.0)``, both fitted.
    n_restarts : int
        Extra optimizer runs from log-uniform draws inside the kernel's bounds.
    max_iter_predict : int
        Maximum Newton iterations when finding the mode.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Seed of the restarts (read by ``scratchgen.random_state.check_random_state``).
    optimizer : "L-BFGS-B", "fmin_l_bfgs_b", callable or None
        SciPy's L-BFGS-B (either name); ``None`` keeps the kernel's hyperparameters; a
        callable is called as ``optimizer(objective, theta0, bounds)`` and returns
        ``(theta, objective_value)``, the objective returning (-lml, -gradient).
    n_restarts_optimizer : int, optional
        scikit-learn's name for ``n_restarts``; when given, it is the count (and
        ``n_restarts`` must be 0 or equal).
    verbose : bool
        Show a progress bar (tqdm, on standard error) over the optimizer's evaluations of
        the approximate log marginal likelihood, with the current value. Quiet by default.

    Attributes
    ----------
    classes_ : ndarray (2,)
        The two labels; ``classes_[1]`` is the positive class (y = 1).
    kernel_ : kernel object
        The fitted kernel.
    log_marginal_likelihood_value_ : float
        log q(y | X, theta) at the fitted kernel.
    """

    def __init__(self, kernel=None, n_restarts=0, max_iter_predict=100, random_state=None,
                 optimizer="L-BFGS-B", n_restarts_optimizer=None, verbose=False):
        # NOTE: scikit-learn's clone needs every argument stored unchanged under its own name;
        # fit() validates and interprets them.
        self.kernel = kernel
        self.n_restarts = n_restarts
        self.max_iter_predict = max_iter_predict
        self.random_state = random_state
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.verbose = verbose

    def fit(self, X, y):
        """Fit the kernel's hyperparameters and the Laplace approximation.

        Parameters
        ----------
        X : array_like (n, d)
        y : array_like (n,)
            Labels of exactly two classes (any values ``numpy.unique`` can sort).

        Returns
        -------
        self
        """
        caller = "GaussianProcessClassifier.fit"
        if self.kernel is not None and not isinstance(self.kernel, kernels.Kernel):
            raise TypeError(f"{caller}: kernel must be a scratchgen.gp.kernels.Kernel or None, "
                            f"got {type(self.kernel).__name__}")
        value = self.max_iter_predict
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{caller}: max_iter_predict must be an integer >= 1, got "
                             f"{value!r}")
        n_restarts = check_restarts(self.n_restarts, self.n_restarts_optimizer, caller)
        optimizer = check_optimizer(self.optimizer, caller)
        X = check_input(X, caller)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"{caller}: expected y of shape ({X.shape[0]},) to match X, got "
                             f"shape {y.shape}")
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            shown = ", ".join(repr(c) for c in self.classes_[:10].tolist())
            more = ", ..." if self.classes_.size > 10 else ""
            raise ValueError(f"{caller}: expected two classes (binary classification), got "
                             f"{self.classes_.size}: [{shown}{more}]")
        self.X_train_ = X
        self.y_train_ = (y == self.classes_[1]).astype(float)          # t in {0, 1}
        kernel = self.kernel
        if kernel is None:
            kernel = kernels.ConstantKernel(1.0) * kernels.RBF(1.0)
        if optimizer is not None and np.size(kernel.theta):
            with progress_bar(desc=caller, enabled=bool(self.verbose),
                              unit=" evaluations") as bar:
                theta = self._optimize(kernel, n_restarts, optimizer, bar)
        else:
            theta = kernel.theta
        self.kernel_ = kernel.clone_with_theta(theta)
        K = self.kernel_(X)
        self.log_marginal_likelihood_value_, mode = self._laplace(K)
        _, self._pi, self._W_sr, self._L = mode
        return self

    def _optimize(self, kernel, n_restarts, optimizer, progress):
        """Best log hyperparameters over the initial run and ``n_restarts`` restarts."""
        bounds = np.asarray(kernel.bounds, dtype=float)

        def objective(theta):
            lml, grad = self._lml(kernel.clone_with_theta(theta), eval_gradient=True)
            progress.update()
            progress.set_postfix(lml=f"{lml:.6g}", refresh=False)
            return -lml, -grad

        starts = [np.asarray(kernel.theta, dtype=float)]
        if n_restarts > 0:
            if not np.all(np.isfinite(bounds)):
                raise ValueError(f"GaussianProcessClassifier: n_restarts > 0 needs finite "
                                 f"kernel bounds, got {bounds.tolist()}")
            rng = check_random_state(self.random_state, "GaussianProcessClassifier.fit")
            starts += [rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(n_restarts)]
        best_theta, best_value = None, np.inf
        for theta0 in starts:
            if callable(optimizer):
                theta, value = optimizer(objective, theta0, bounds)
            else:
                result = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                                           bounds=bounds)
                if not result.success:
                    warnings.warn(f"GaussianProcessClassifier: L-BFGS-B stopped without "
                                  f"converging ({result.message})", RuntimeWarning,
                                  stacklevel=3)
                theta, value = result.x, result.fun
            if best_theta is None or value < best_value:
                best_theta, best_value = np.asarray(theta, dtype=float), value
        return best_theta

    def log_marginal_likelihood(self, theta=None, eval_gradient=False, kernel=None):
        """Laplace approximation log q(y | X, theta) on the training data (R&W Algorithm 5.1).

        Parameters
        ----------
        theta : ndarray (n_theta,), optional
            Log hyperparameters; default: the fitted kernel's (then ``eval_gradient`` is not
            needed and the stored value is returned).
        eval_gradient : bool
            Also return the gradient with respect to theta.
        kernel : kernel object, optional
            Kernel whose ``clone_with_theta`` is used (default: the fitted one).

        Returns
        -------
        lml : float
        grad : ndarray (n_theta,)
            Only with ``eval_gradient``.
        """
        caller = "GaussianProcessClassifier.log_marginal_likelihood"
        check_fitted(self, "_L", caller)
        kernel = self.kernel_ if kernel is None else kernel
        if theta is None:
            if not eval_gradient:
                return self.log_marginal_likelihood_value_
            theta = kernel.theta
        theta = np.asarray(theta, dtype=float)
        if theta.shape != np.shape(kernel.theta):
            raise ValueError(f"{caller}: expected theta of shape {np.shape(kernel.theta)}, got "
                             f"{theta.shape}")
        return self._lml(kernel.clone_with_theta(theta), eval_gradient)

    def _lml(self, kernel, eval_gradient=False):
        """log q(y | X, theta) at ``kernel``'s theta, and with ``eval_gradient`` d/dtheta."""
        if not eval_gradient:
            return self._laplace(kernel(self.X_train_))[0]
        K, vjp = kernel.value_and_vjp(self.X_train_)       # vjp(U) = sum_ij U_ij dK_ij/dtheta
        lml, (a, pi, W_sr, L) = self._laplace(K)
        # Algorithm 5.1. With C_j = dK/dtheta_j and g = grad log p(y | f^) = t - pi:
        #   explicit part   s1_j = a^T C_j a / 2 - tr(R C_j) / 2                   (line 12)
        #   implicit part   s2^T s3_j = s2^T (I - K R) C_j g = u^T C_j g,  u = s2 - R K s2
        # so the whole gradient is one vector-Jacobian product with U = (a a^T - R) / 2 + u g^T.
        M = linalg.solve_triangular(L, np.diag(W_sr), lower=True)
        R = matmul(M.T, M)                                    # R = W^1/2 B^-1 W^1/2   (line 7)
        C = linalg.solve_triangular(L, W_sr[:, None] * K, lower=True)                # line 8
        # s2 = d(-1/2 log|B|)/df^ = 1/2 diag((K^-1 + W)^-1) d3, with (K^-1 + W)^-1 = K - C^T C
        # and d3 = d^3 log p / df^3 = -pi (1 - pi) (1 - 2 pi)                         (line 9)
        s2 = -0.5 * (np.diag(K) - np.einsum("ij,ij->j", C, C)) * (pi * (1 - pi) * (1 - 2 * pi))
        u = s2 - matmul(R, matmul(K, s2))
        U = 0.5 * (np.outer(a, a) - R) + np.outer(u, self.y_train_ - pi)
        return lml, vjp(U)

    def _laplace(self, K):
        """Posterior mode by Newton's method (R&W Algorithm 3.1) and log q(y | X, theta).

        Returns
        -------
        lml : float
        (a, pi, W_sr, L) : a = K^-1 f^ (n,), pi = sigma(f^), W^1/2 and chol(B), all at f^.
        """
        t = self.y_train_
        n = t.shape[0]
        f = np.zeros(n)
        objective = -np.inf
        for _ in range(self.max_iter_predict):
            pi = expit(f)
            W_sr = np.sqrt(pi * (1 - pi))                                        # line 4
            L = _cholesky_B(W_sr, K)                                             # line 5
            b = W_sr ** 2 * f + (t - pi)                                         # line 6
            a = b - W_sr * linalg.cho_solve((L, True), W_sr * matmul(K, b))     # line 7
            f = matmul(K, a)                                                     # line 8
            # Psi(f) = log p(y | f) - f^T K^-1 f / 2, the objective Newton ascends
            new_objective = -0.5 * a @ f - np.logaddexp(0.0, -(2 * t - 1) * f).sum()
            if new_objective - objective < 1e-10:
                break
            objective = new_objective
        else:
            warnings.warn(f"GaussianProcessClassifier: Newton's method did not settle on the "
                          f"posterior mode in max_iter_predict={self.max_iter_predict} "
                          f"iterations", RuntimeWarning, stacklevel=3)
        pi = expit(f)
        W_sr = np.sqrt(pi * (1 - pi))
        L = _cholesky_B(W_sr, K)
        lml = (-0.5 * a @ f - np.logaddexp(0.0, -(2 * t - 1) * f).sum()
               - np.log(np.diag(L)).sum())                                       # line 10
        return lml, (a, pi, W_sr, L)

    def latent_mean_and_variance(self, X):
        """Mean and variance of q(f* | X, y, x*) (R&W Algorithm 3.2, lines 4-6).

        Parameters
        ----------
        X : array_like (n*, d)

        Returns
        -------
        mean, var : ndarray (n*,)
        """
        return self._latent(X, "latent_mean_and_variance")

    def _latent(self, X, method):
        X = self._check_predict(X, method)
        K_star = self.kernel_(self.X_train_, X)                                # (n, n*)
        mean = matmul(K_star.T, self.y_train_ - self._pi)                      # line 4
        v = linalg.solve_triangular(self._L, self._W_sr[:, None] * K_star, lower=True)
        var = self.kernel_.diag(X) - np.einsum("ij,ij->j", v, v)              # line 6
        return mean, np.maximum(var, 0.0)

    def predict_proba(self, X, method="erf"):
        """Class probabilities averaged over the latent posterior (R&W eq. 3.25).

        Parameters
        ----------
        X : array_like (n*, d)
        method : {"erf", "probit", "quadrature"}
            How the average of sigma(f*) over N(mean, var) is computed: "erf" writes sigma as
            five error functions and averages each exactly (scikit-learn's approximation);
            "probit" is MacKay's sigma(mean / sqrt(1 + pi var / 8)); "quadrature" is 64-point
            Gauss-Hermite.

        Returns
        -------
        ndarray (n*, 2)
            Probabilities of ``classes_[0]`` and ``classes_[1]``.
        """
        if method not in ("erf", "probit", "quadrature"):
            raise ValueError(f"GaussianProcessClassifier.predict_proba: method must be 'erf', "
                             f"'probit' or 'quadrature', got {method!r}")
        mean, var = self._latent(X, "predict_proba")
        if method == "erf":
            # E[erf(lambda f)] = erf(lambda mean / sqrt(1 + 2 lambda^2 var)) for f ~ N(mean, var)
            lam = _ERF_LAMBDAS[:, None]
            averaged = erf(lam * mean / np.sqrt(1.0 + 2.0 * lam ** 2 * var))
            p1 = _ERF_COEFS @ (1.0 + averaged) / 2.0
        elif method == "probit":
            p1 = expit(mean / np.sqrt(1.0 + np.pi * var / 8.0))
        else:                               # f = mean + sqrt(2 var) x at the Hermite nodes x
            f = mean[:, None] + np.sqrt(2.0 * var)[:, None] * _HERMITE_X
            p1 = expit(f) @ _HERMITE_W / np.sqrt(np.pi)
        p1 = np.clip(p1, 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X):
        """Most probable class: ``classes_[1]`` where the latent mean is positive.

        (Averaging a sigmoid over a Gaussian keeps the side of 1/2 the mean is on.)

        Parameters
        ----------
        X : array_like (n*, d)

        Returns
        -------
        ndarray (n*,) of labels
        """
        mean, _ = self._latent(X, "predict")
        return np.where(mean > 0, self.classes_[1], self.classes_[0])

    def _check_predict(self, X, method):
        caller = f"GaussianProcessClassifier.{method}"
        check_fitted(self, "_L", caller)
        return check_n_features(check_input(X, caller), self.X_train_.shape[1], caller)


def _cholesky_B(W_sr, K):
    """chol(B), B = I + W^1/2 K W^1/2 (eigenvalues >= 1 when K is positive semi-definite)."""
    B = W_sr[:, None] * K * W_sr[None, :]
    B[np.diag_indices_from(B)] += 1.0
    return cholesky_with_jitter(B, max_tries=0, caller="GaussianProcessClassifier (B)")[0]
