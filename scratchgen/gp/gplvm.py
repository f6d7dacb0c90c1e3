"""The GP latent variable model (Lawrence, 2005): latent points placed by maximum likelihood.

The D columns of Y (n, D) are independent GPs of the latent points X (n, Q) with one shared
kernel, so

    log p(Y | X, theta, s^2) = sum_d log N(y_d | 0, K + s^2 I),     K = k(X, X),

the regressor's log marginal likelihood with D targets (``likelihood``). X starts at the PCA
solution (the maximum of this objective for the linear kernel, Lawrence 2005, section 3) and is
optimized with theta and s^2 by L-BFGS-B. The gradient in X comes from the same weight matrix
as the gradient in theta, W = K^-1 Y Y^T K^-1 - D K^-1:

    dlog p / dx_i = 1/2 sum_j (W + W^T)_ij dk(x_i, x_j)/dx_i           (``Kernel.input_vjp``)

One evaluation costs a Cholesky and an inverse of the n x n K, O(n^3).
"""
import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from ..autograd.engine import grad
from ..autograd.tensor import Tensor
from .likelihood import log_marginal_likelihood
from .bayesian_gplvm import _check_trained_here
from .lvm_base import (LatentVariableModel, check_kernel, check_observations,
                       check_positive_int, global_scale, minimize_lbfgs)
from .validation import check_input, check_n_features

__all__ = ["GPLVM", "log_likelihood"]


def log_likelihood(kernel, X, Y, noise, prior=False, caller="gplvm.log_likelihood"):
    """The GP-LVM objective and its gradients in X, theta and log s^2.

    Parameters
    ----------
    kernel : Kernel
        At the theta to evaluate.
    X : ndarray (n, Q)
    Y : ndarray (n, D)
        Centred data.
    noise : float
        s^2.
    prior : bool
        Add sum_n log N(x_n | 0, I) up to its constant, -|X|^2 / 2.

    Returns
    -------
    value : float
    (grad_X (n, Q), grad_theta (n_dims,), grad_log_noise)
    """
    terms = log_marginal_likelihood(kernel, X, Y, noise, eval_gradient=True, caller=caller)
    # dvalue/dK = G = (T + T^T) / 4 with T = tril(weight) (see LikelihoodTerms), and the
    # leaves' _input_vjp take G + G^T
    T = np.tril(terms.weight)
    g_X = 0.5 * kernel._input_vjp(T + T.T, X)
    value = terms.value
    if prior:
        value -= 0.5 * np.sum(X**2)
        g_X -= X
    return value, (g_X, terms.gradient, 0.5 * noise * np.trace(T))


class GPLVM(LatentVariableModel):
    _fitted_arrays = ("y_mean_", "latent_")
    _fitted_numbers = ("noise_", "log_marginal_likelihood_value_")

    """Gaussian process latent variable model fitted by maximum likelihood (MAP with ``prior``).

    Parameters
    ----------
    latent_dim : int
        Q, the number of latent dimensions.
    kernel : Kernel, optional
        Any kernel with input gradients; default ``Constant * RBF`` with one length scale per
        latent dimension (ARD), started from the PCA variances.
    noise : float, optional
        Initial noise variance s^2; default 1/10 of the data's mean column variance.
    prior : bool
        Add the log density of a N(0, I) prior on each latent point (MAP instead of ML).
    max_iter : int
        Most L-BFGS-B iterations, and most evaluations (the first limit reached stops).
    random_state : int, Generator, SeedSequence or None
        Seeds ``sample``'s default draws.
    verbose : bool
        Show a progress bar over the evaluations.

    Attributes
    ----------
    latent_ : ndarray (n, Q)
    kernel_ : Kernel
    noise_ : float
    log_marginal_likelihood_value_ : float
        log p(Y | X, theta, s^2) at the optimum (without the prior), in nats.
    y_mean_ : ndarray (D,)
    n_iter_, n_fev_ : int
        L-BFGS-B iterations and evaluations.
    history_ : list of float
        The log likelihood (plus the log prior) after each L-BFGS-B iteration.
    decoder_ : dict
        What ``decode`` reads (see ``lvm_base.LatentVariableModel``).
    """

    def __init__(self, latent_dim=2, kernel=None, noise=None, prior=False, max_iter=1000,
                 random_state=None, verbose=False):
        self.latent_dim = latent_dim
        self.kernel = kernel
        self.noise = noise
        self.prior = prior
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, Y):
        """Fit the latent points, the kernel and the noise to the rows of Y (n, D)."""
        caller = "GPLVM.fit"
        Q = check_positive_int(self.latent_dim, "latent_dim", caller)
        max_iter = check_positive_int(self.max_iter, "max_iter", caller, low=0)
        check_kernel(self.kernel, caller)
        Y = check_observations(Y, Q, caller)
        n, D = Y.shape
        Y, signal, noise, X, kernel = self._start(Y, Q, caller)
        kernel._check_features(Q)
        n_theta = kernel.n_dims
        if self.max_iter and not _has_input_gradient(kernel, Q):
            raise ValueError(f"{caller}: {kernel!r} has no gradient in its inputs, which the "
                             f"latent points need")

        def objective(x):
            Xx, s2 = x[:n * Q].reshape(n, Q), float(np.exp(x[-1]))
            kernel.theta = x[n * Q:-1]
            value, (g_X, g_theta, g_log_s2) = log_likelihood(kernel, Xx, Y, s2, self.prior,
                                                             caller)
            return -value, -np.concatenate([g_X.ravel(), g_theta, [g_log_s2]])

        x0 = np.concatenate([X.ravel(), kernel.theta, [np.log(noise)]])
        bounds = ([(None, None)] * X.size + [tuple(b) for b in kernel.bounds]
                  + [(np.log(1e-6 * signal), np.log(1e2 * signal))])
        self.n_iter_, self.n_fev_, self.history_ = 0, 0, []
        if max_iter > 0:
            result = minimize_lbfgs(objective, x0, bounds, max_iter, caller, self.verbose,
                                    self.history_, global_scale(X.size, n_theta + 1, n))
            x0, self.n_iter_, self.n_fev_ = result.x, result.nit, result.nfev
        self.latent_ = x0[:n * Q].reshape(n, Q)
        kernel.theta = x0[n * Q:n * Q + n_theta]
        self.noise_ = float(np.exp(x0[-1]))
        terms = log_marginal_likelihood(kernel, self.latent_, Y, self.noise_, caller=caller)
        self.log_marginal_likelihood_value_ = terms.value
        self.kernel_ = kernel
        self._L, self._alpha, self._Y = terms.L, terms.alpha, Y
        self.decoder_ = {"anchors": self.latent_, "weights": terms.alpha,
                         "A": solve_triangular(terms.L, np.eye(n), lower=True).T, "B": None}
        return self

    # ------------------------------------------------------------------ generation
    def _draw_latent(self, n, rng):
        """The fitted latent distribution: a Gaussian kernel density over the latent points.

        A training point's latent position plus N(0, h^2 Cov(X)) noise, with Scott's
        bandwidth h = n^(-1 / (Q + 4)).
        """
        X = self.latent_
        h = X.shape[0] ** (-1.0 / (self.latent_dim + 4))
        cov = np.atleast_2d(np.cov(X, rowvar=False)) * h * h
        centers = X[rng.integers(X.shape[0], size=n)]
        return centers + rng.multivariate_normal(np.zeros(self.latent_dim), cov, size=n)

    def transform(self, Y, max_iter=200):
        """Latent points of new rows: the x* that maximizes each row's predictive density.

        log N(y* | mean(x*), (var(x*) + s^2) I) with the GP's predictive mean and variance at
        x*, fitted for all rows at once by L-BFGS-B (gradients by autograd through
        ``Kernel.tensor``), starting from the latent point of the nearest training row.

        Returns
        -------
        ndarray (n*, latent_dim)
        """
        caller = "GPLVM.transform"
        self._check_fitted(caller)
        _check_trained_here(self, "_L", caller)
        Y = check_n_features(check_input(Y, caller, "Y"), self.y_mean_.size, caller, "Y")
        Yc = Y - self.y_mean_
        train, Xtrain, Q = self._Y, self.latent_, self.latent_dim
        nearest = np.argmin((train**2).sum(axis=1) - 2.0 * Yc @ train.T, axis=1)
        K_inv = cho_solve((self._L, True), np.eye(train.shape[0]))
        n, D = Yc.shape

        def objective(x):
            Xs = Tensor(x.reshape(n, Q), requires_grad=True)
            K = self.kernel_.tensor(Xs, Xtrain)                           # (n*, n)
            mean = K @ Tensor(self._alpha)
            var = (self.kernel_.tensor_diag(Xs) - ((K @ Tensor(K_inv)) * K).sum(axis=1)
                   + self.noise_)
            resid = Tensor(Yc) - mean
            nll = 0.5 * (D * var.log().sum() + ((resid * resid).sum(axis=1) / var).sum())
            (g,) = grad(nll, Xs)
            return float(nll.data), g.data.ravel()

        result = minimize_lbfgs(objective, Xtrain[nearest].ravel(), None, max_iter, caller,
                                False)
        return result.x.reshape(n, Q)


def _has_input_gradient(kernel, Q):
    try:
        kernel._input_vjp(np.zeros((1, 1)), np.zeros((1, Q)))
    except NotImplementedError:
        return False
    return True
