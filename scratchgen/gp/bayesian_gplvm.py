"""The Bayesian GP-LVM (Titsias and Lawrence, 2010): a variational posterior over the latent points.

Each latent point gets a Gaussian q(x_n) = N(mu_n, diag(S_n)) under the prior N(0, I), and the
GP mapping is sparse, with m inducing inputs Z. The bound of ``bgplvm_bound`` is maximized over
q(X), Z, the kernel's hyperparameters and the noise variance together by L-BFGS-B. With an ARD
kernel, the latent dimensions the data do not need get a large length scale (a small weight
1 / l_q^2): the model switches them off, and ``active_dims_`` reports the ones it kept.
"""
import numpy as np

from ..progress import progress_bar
from .bgplvm_bound import CollapsedLVMBound, PsiKernel
from .bgplvm_svi import StochasticLVMBound, fit_stochastic
from .lvm_base import (LatentVariableModel, check_kernel, check_observations,
                       check_positive_int, global_scale, minimize_lbfgs)
from .psi_statistics import psi_statistics
from .sparse import kmeans_plus_plus
from ..random_state import check_random_state
from .validation import check_input, check_n_features

__all__ = ["BayesianGPLVM"]

_ACTIVE_WEIGHT = 1e-2     # a dimension is kept when its ARD weight is above this share of the largest
_INITIAL_LATENT_VAR = 0.1     # S of q(X) at the start, in units of the (unit) PCA variance
# NOTE: L-BFGS-B sees the kernel's log hyperparameters and the log noise multiplied by n^(1/4)
# (``lvm_base.global_scale``). Their gradients sum over all n rows while a latent point's sums
# over its own row, and this evens out the curvature the optimizer meets: on the 1797 digits
# (Q = 5, m = 50) the bound after 300 iterations went from 43,800 to 47,400 nats, and after
# 1000 from 47,000 to 47,650.


class BayesianGPLVM(LatentVariableModel):
    _fitted_arrays = ("y_mean_", "latent_mean_", "latent_var_", "inducing_inputs_",
                      "ard_weights_")
    _fitted_numbers = ("noise_", "elbo_")

    r"""Bayesian GP latent variable model, fitted by the collapsed variational bound.

    Maximizes (Titsias and Lawrence, 2010)

    .. math::

        F = E_{q(X)}[\log p(Y \mid X)]_{\text{sparse GP bound}} - KL(q(X) \,\|\, N(0, I))

    over q(X), the inducing inputs, the kernel and the noise. One evaluation of F and its
    gradient costs O(n m^2 Q) for the psi statistics plus O(n m D + m^3); for the 1797 8x8
    digits with Q = 5 and m = 50, about 30 ms on two cores.

    Parameters
    ----------
    latent_dim : int
        Q, the number of latent dimensions.
    n_inducing : int
        m, the number of inducing inputs (at most the number of rows).
    kernel : Kernel, optional
        ``RBF`` or ``DotProduct`` (linear), optionally times a ``ConstantKernel``: the kernels
        whose psi statistics are known in closed form. Default: ``Constant * RBF`` with one
        length scale per latent dimension (ARD), started from the PCA variances.
    noise : float, optional
        Initial noise variance; default 1/10 of the data's mean column variance.
    batch_size : int, optional
        Fit by stochastic variational inference on mini-batches of this many rows
        (``bgplvm_svi``, Hensman et al. 2013): for data sets too large for one pass per
        evaluation. Default: the collapsed bound on all rows, by L-BFGS-B.
    max_iter : int
        Most L-BFGS-B iterations, and most evaluations of the bound (an iteration takes one or
        more; the first limit reached stops), or, with ``batch_size``, the number of
        mini-batch steps.
    learning_rate : float
        Adam's step size with ``batch_size`` (q(u) takes natural-gradient steps of 0.1).
    random_state : int, Generator, SeedSequence or None
        Seeds the k-means start of the inducing inputs and ``sample``'s default draws.
    verbose : bool
        Show a progress bar over the evaluations of the bound.

    Attributes
    ----------
    latent_mean_, latent_var_ : ndarray (n, Q)
        mu and S of q(X).
    inducing_inputs_ : ndarray (m, Q)
    kernel_ : Kernel
    noise_ : float
    elbo_ : float
        The bound at the optimum, in nats, for the whole data set (the collapsed bound, also
        after a mini-batch fit: q(u) at its optimum for the fitted q(X), kernel and Z).
    ard_weights_ : ndarray (Q,)
        variance / l_q^2 of each latent dimension (RBF), the relevance the kernel gives it.
    active_dims_ : ndarray of int
        Latent dimensions whose weight is above 1/100 of the largest.
    y_mean_ : ndarray (D,)
        The column means taken out before fitting, added back by ``decode`` and ``sample``.
    n_iter_, n_fev_ : int
        L-BFGS-B iterations and evaluations (mini-batch steps, with ``batch_size``).
    history_ : list of float
        The bound after each L-BFGS-B iteration, or each mini-batch's estimate of it.
    decoder_ : dict
        What ``decode`` reads (see ``lvm_base.LatentVariableModel``).
    """

    def __init__(self, latent_dim=2, n_inducing=50, kernel=None, noise=None, batch_size=None,
                 max_iter=1000, learning_rate=0.01, random_state=None, verbose=False):
        self.latent_dim = latent_dim
        self.n_inducing = n_inducing
        self.kernel = kernel
        self.noise = noise
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, Y):
        """Fit q(X), the inducing inputs, the kernel and the noise to the rows of Y (n, D)."""
        caller = "BayesianGPLVM.fit"
        Q = check_positive_int(self.latent_dim, "latent_dim", caller)
        m = check_positive_int(self.n_inducing, "n_inducing", caller)
        max_iter = check_positive_int(self.max_iter, "max_iter", caller, low=0)
        check_kernel(self.kernel, caller)
        Y = check_observations(Y, Q, caller)
        n, D = Y.shape
        if m > n:
            raise ValueError(f"{caller}: n_inducing={m} is larger than the {n} rows of Y")
        if self.batch_size is not None:
            check_positive_int(self.batch_size, "batch_size", caller)
            if self.batch_size > n:
                raise ValueError(f"{caller}: batch_size={self.batch_size} is larger than the "
                                 f"{n} rows of Y")
        rng = check_random_state(self.random_state, caller)
        Y, signal, noise, mu, kernel = self._start(Y, Q, caller)
        psi_kernel = PsiKernel(kernel, Q, caller)
        S = np.full((n, Q), _INITIAL_LATENT_VAR)
        Z = kmeans_plus_plus(mu, m, rng)
        bound = CollapsedLVMBound(Y, psi_kernel)

        # optimizer coordinates: mu, log S, Z, theta, log s^2
        n_theta = kernel.n_dims
        sizes = np.cumsum([mu.size, S.size, Z.size, n_theta])

        def unpack(x):
            parts = np.split(x, sizes)
            return (parts[3], float(np.exp(parts[4][0])), parts[2].reshape(m, Q),
                    parts[0].reshape(n, Q), np.exp(parts[1]).reshape(n, Q))

        def objective(x):
            theta, s2, Zx, mux, Sx = unpack(x)
            F, (g_theta, g_log_s2, g_Z, g_mu, g_S) = bound.evaluate(theta, s2, Zx, mux, Sx,
                                                                    eval_gradient=True)
            grad = np.concatenate([g_mu.ravel(), (g_S * Sx).ravel(), g_Z.ravel(), g_theta,
                                   [g_log_s2]])
            return -F, -grad

        x0 = np.concatenate([mu.ravel(), np.log(S).ravel(), Z.ravel(), kernel.theta,
                             [np.log(noise)]])
        bounds = ([(None, None)] * mu.size + [(np.log(1e-8), np.log(1e2))] * S.size
                  + [(None, None)] * Z.size + [tuple(b) for b in kernel.bounds]
                  + [(np.log(1e-6 * signal), np.log(1e2 * signal))])
        self.n_iter_, self.n_fev_, self.history_ = 0, 0, []
        if max_iter > 0 and self.batch_size is not None:
            with progress_bar(desc=caller, enabled=bool(self.verbose), unit=" steps",
                              total=max_iter) as bar:
                mu, S, Z, theta, noise = fit_stochastic(
                    StochasticLVMBound(psi_kernel, n), Y, mu, S, Z, kernel.theta, noise,
                    np.array(bounds[-n_theta - 1:]), self.batch_size, max_iter,
                    self.learning_rate, rng, self.history_, bar)
            x0 = np.concatenate([mu.ravel(), np.log(S).ravel(), Z.ravel(), theta,
                                 [np.log(noise)]])
            self.n_iter_ = self.n_fev_ = max_iter
        elif max_iter > 0:
            result = minimize_lbfgs(objective, x0, bounds, max_iter, caller, self.verbose,
                                    self.history_,
                                    global_scale(mu.size + S.size + Z.size, n_theta + 1, n))
            x0, self.n_iter_, self.n_fev_ = result.x, result.nit, result.nfev
        theta, s2, Z, mu, S = unpack(x0)
        self.elbo_ = float(bound.evaluate(theta, s2, Z, mu, S, keep_posterior=True))
        kernel.theta = theta
        self.kernel_, self.noise_ = kernel, s2
        self.latent_mean_, self.latent_var_, self.inducing_inputs_ = mu, S, Z
        self._bound, self._psi_kernel = bound, psi_kernel
        post = bound.posterior
        self.decoder_ = {"anchors": Z, "weights": post["mean_weights"], "A": post["L_inv"].T,
                         "B": post["P_inv"]}
        self.ard_weights_ = self._ard_weights()
        self.active_dims_ = np.flatnonzero(self.ard_weights_ >= _ACTIVE_WEIGHT
                                           * self.ard_weights_.max())
        return self

    def _ard_weights(self):
        variance, param = self._psi_kernel.params()
        if self._psi_kernel.family == "rbf":
            return variance / np.broadcast_to(param, (self.latent_dim,)) ** 2
        # linear kernel c (b + x . x'): every dimension has weight c
        return np.full(self.latent_dim, variance)

    # ------------------------------------------------------------------ generation
    def _draw_latent(self, n, rng):
        """The prior N(0, I): what the model was fitted to make q(X) agree with."""
        return rng.standard_normal((n, self.latent_dim))

    def transform(self, Y, max_iter=200):
        """Latent means of new rows: q(x*) fitted with the model held at its optimum.

        Each row's bound at the fitted q(u) is linear in its psi statistics, with the same
        adjoints as in training (``bgplvm_bound``), so all rows are fitted at once by
        L-BFGS-B, starting from the latent mean of the nearest training row.

        Returns
        -------
        ndarray (n*, latent_dim)
        """
        caller = "BayesianGPLVM.transform"
        self._check_fitted(caller)
        _check_trained_here(self, "_bound", caller)
        Y = check_n_features(check_input(Y, caller, "Y"), self.y_mean_.size, caller, "Y")
        Yc = Y - self.y_mean_
        post, Q = self._bound.posterior, self.latent_dim
        variance, param = self._psi_kernel.params()
        train = self._bound.Y
        # nearest training row, by |y - y_n|^2 up to |y|^2
        nearest = np.argmin((train**2).sum(axis=1) - 2.0 * Yc @ train.T, axis=1)
        mu0, S0 = self.latent_mean_[nearest], self.latent_var_[nearest]
        G1 = Yc @ post["G1_weights"].T
        n = Y.shape[0]

        def objective(x):
            mu, S = x[:n * Q].reshape(n, Q), np.exp(x[n * Q:]).reshape(n, Q)
            psi0, psi1, psi2, vjp = psi_statistics(self._psi_kernel.family, variance, param,
                                                   self.inducing_inputs_, mu, S)
            value = (post["g0"] * psi0 + np.sum(G1 * psi1) + np.sum(post["G2"] * psi2)
                     - 0.5 * (np.sum(mu**2) + S.sum() - np.log(S).sum()))
            g = vjp(post["g0"], G1, post["G2"])
            g_mu, g_S = g.mu - mu, g.S - 0.5 * (1.0 - 1.0 / S)
            return -value, -np.concatenate([g_mu.ravel(), (g_S * S).ravel()])

        x0 = np.concatenate([mu0.ravel(), np.log(S0).ravel()])
        bounds = [(None, None)] * (n * Q) + [(np.log(1e-8), np.log(1e2))] * (n * Q)
        result = minimize_lbfgs(objective, x0, bounds, max_iter, caller, False)
        return result.x[:n * Q].reshape(n, Q)


def _check_trained_here(model, attribute, caller):
    """transform needs the training data, which ``fitted_state`` does not keep."""
    if not hasattr(model, attribute):
        raise ValueError(f"{caller}: this {type(model).__name__} was restored from its "
                         f"fitted state, which keeps what generating needs but not the "
                         f"training data that transform starts from; refit it")
