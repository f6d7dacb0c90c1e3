"""Bayesian GP regression: MCMC over the kernel's log hyperparameters instead of one best fit.

``fit`` picks the single theta that maximizes log p(y | X, theta). Here theta gets a prior
p(theta) (``priors.py``) and is sampled from its posterior

    log p(theta | y) = log p(y | X, theta) + log p(theta) + const

(Rasmussen & Williams, section 5.2), by slice sampling or Hamiltonian Monte Carlo
(``mcmc.py``; HMC uses the analytic gradient of ``likelihood.py``). Predictions average the
GP's predictive distribution over the draws theta_s, s = 1..S: a mixture of Gaussians with

    mean(x*) = 1/S sum_s m_s(x*),     var(x*) = 1/S sum_s (v_s(x*) + m_s(x*)^2) - mean(x*)^2,

where m_s, v_s are the predictive mean and variance at theta_s (the law of total variance:
the spread across hyperparameters adds to each GP's own variance).

>>> import numpy as np
>>> from scratchgen.gp import GaussianProcessRegressor, kernels, sample_hyperparameters
>>> X = np.linspace(0, 5, 12)[:, None]
>>> gp = GaussianProcessRegressor(kernels.RBF(1.0) + kernels.WhiteKernel(0.1)).fit(
...     X, np.sin(X[:, 0]))
>>> posterior = sample_hyperparameters(gp, n_samples=200, n_warmup=100, random_state=0)
>>> mean, std = posterior.predict(X, return_std=True)
"""
import copy
import warnings

import numpy as np

from ..progress import progress_bar
from ..random_state import check_random_state
from .likelihood import _theta_names, log_marginal_likelihood
from .linalg import NotPositiveDefiniteError
from .mcmc import _check_count, hmc, slice_sample
from .mcmc_diagnostics import effective_sample_size, format_summary, split_rhat, summary
from .priors import kernel_prior
from .regression import GaussianProcessRegressor
from .validation import check_fitted

__all__ = ["HyperparameterPosterior", "sample_hyperparameters"]

_RHAT_WARNING = 1.1        # BDA3's rule of thumb for "not converged"
_MAX_ABS_THETA = 700.0     # exp(+-700) is about 1e+-304, near the ends of float64


def sample_hyperparameters(gp, method="slice", n_samples=1000, *, n_warmup=500, n_chains=4,
                           priors=None, thin=1, width=1.0, step_size=0.1, n_steps=10,
                           target_acceptance=0.8, random_state=None, verbose=False):
    """Sample the posterior of a fitted regressor's log hyperparameters theta by MCMC.

    Parameters
    ----------
    gp : GaussianProcessRegressor
        Fitted; its training data, ``alpha`` and ``normalize_y`` define the likelihood, and
        its fitted theta is where the chains start (plus a little jitter).
    method : {"slice", "hmc"}
        Slice sampling along coordinates (``width``) or HMC (``n_steps`` leapfrog steps; the
        step size, from ``step_size``, and a diagonal mass matrix adapted during warm-up).
    n_samples : int
        Draws kept per chain (before thinning).
    n_warmup : int
        Draws discarded at the start of each chain.
    n_chains : int
        Independent chains, each with its own stream spawned from ``random_state``.
    priors : dict, optional
        {hyperparameter name: Prior} with the kernel's names (``gp.kernel_.hyperparameters``,
        e.g. ``"k1__constant_value"``, ``"k2__length_scale"``; a WhiteKernel's
        ``noise_level`` is the noise). Free hyperparameters not named get ``LogUniform()``
        over their bounds. ``alpha`` is a fixed noise, not sampled.
    thin : int
        Keep every ``thin``-th draw.
    width, step_size, n_steps, target_acceptance :
        Settings of ``slice_sample`` and ``hmc`` (``mcmc.py``); each method reads its own.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
    verbose : bool
        Show a progress bar over all iterations, then print the summary table.

    Returns
    -------
    HyperparameterPosterior
    """
    caller = "sample_hyperparameters"
    if not isinstance(gp, GaussianProcessRegressor):
        raise TypeError(f"{caller}: gp must be a fitted GaussianProcessRegressor, got "
                        f"{type(gp).__name__}")
    check_fitted(gp, "X_train_", caller)
    if method not in ("slice", "hmc"):
        raise ValueError(f"{caller}: method must be 'slice' or 'hmc', got {method!r}")
    n_samples = _check_count(n_samples, "n_samples", caller, 1)
    n_warmup = _check_count(n_warmup, "n_warmup", caller, 0)
    n_chains = _check_count(n_chains, "n_chains", caller, 1)
    thin = _check_count(thin, "thin", caller, 1)
    if thin > n_samples:
        raise ValueError(f"{caller}: thin must be at most n_samples ({n_samples}) to keep a "
                         f"draw, got thin={thin}")
    if gp.kernel_.n_dims == 0:
        raise ValueError(f"{caller}: the kernel has no free hyperparameters to sample (all "
                         f"are fixed): {gp.kernel_!r}")
    target = _LogPosterior(gp, kernel_prior(gp.kernel_, priors, caller), caller)
    starts = _starting_points(target, gp.kernel_.theta, n_chains,
                              check_random_state(random_state, caller), caller)

    chains = []
    with progress_bar(total=n_chains * (n_warmup + n_samples), desc=caller,
                      enabled=bool(verbose), unit=" draws") as bar:
        for x0, seed in starts:
            if method == "slice":
                chain = slice_sample(target, x0, n_samples, n_warmup=n_warmup, width=width,
                                     random_state=seed, progress=bar)
            else:
                chain = hmc(target.with_gradient, x0, n_samples, n_warmup=n_warmup,
                            step_size=step_size, n_steps=n_steps,
                            target_acceptance=target_acceptance, random_state=seed,
                            progress=bar)
            chains.append(chain)
    posterior = HyperparameterPosterior(gp, chains, target.names, target.prior, method, thin)
    if verbose:
        posterior.summary()
    rhat = posterior.diagnostics_["rhat"]
    if np.any(rhat > _RHAT_WARNING):
        worst = int(np.nanargmax(rhat))
        warnings.warn(f"{caller}: the chains disagree (split R-hat {rhat[worst]:.3f} > "
                      f"{_RHAT_WARNING} for {target.names[worst]}); run them longer (more "
                      "n_warmup and n_samples) before trusting the draws", RuntimeWarning,
                      stacklevel=2)
    return posterior


class _LogPosterior:
    """theta -> log p(y | X, theta) + log p(theta), -inf where K cannot be factored."""

    def __init__(self, gp, prior, caller):
        self.kernel = gp.kernel_.clone_with_theta(gp.kernel_.theta)   # set in place below
        self.X, self.noise = gp.X_train_, gp._noise
        self.Y = gp.y_train_.reshape(len(gp.X_train_), -1)
        self.prior, self.caller = prior, caller
        self.names = _theta_names(self.kernel)          # "length_scale[1]" for ARD entries

    def __call__(self, theta):
        return self.with_gradient(theta, eval_gradient=False)[0]

    def with_gradient(self, theta, eval_gradient=True):
        log_prior = self.prior.log_pdf(theta)
        # exp(theta) beyond the range of floats (a wild trajectory) has no kernel matrix
        if not np.isfinite(log_prior) or np.any(np.abs(theta) > _MAX_ABS_THETA):
            return -np.inf, np.zeros(len(theta))
        self.kernel.theta = theta
        try:
            terms = log_marginal_likelihood(self.kernel, self.X, self.Y, self.noise,
                                            eval_gradient, self.caller)
        except (NotPositiveDefiniteError, np.linalg.LinAlgError):
            return -np.inf, np.zeros(len(theta))
        value = terms.value + log_prior
        gradient = (terms.gradient + self.prior.grad_log_pdf(theta) if eval_gradient
                    else np.zeros(len(theta)))
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return -np.inf, np.zeros(len(theta))
        return value, (gradient if eval_gradient else None)


def _starting_points(target, theta_hat, n_chains, rng, caller):
    """(theta0, generator) per chain: the fitted theta moved into the prior's support and
    jittered by N(0, 0.1^2) per entry (a jittered point outside the support is redrawn)."""
    low, high = target.prior.low, target.prior.high
    margin = np.where(np.isfinite(high - low), 1e-3 * (high - low), 0.0)
    center = np.clip(theta_hat, low + margin, high - margin)
    if not np.isfinite(target(center)):
        raise ValueError(f"{caller}: the log posterior is not finite at the fitted theta "
                         f"{center} (moved into the priors' support); check the priors "
                         f"{target.prior!r}")
    starts = []
    for seed in rng.spawn(n_chains):
        theta0 = center
        for _ in range(20):
            trial = center + 0.1 * seed.standard_normal(center.size)
            if np.all((trial >= low) & (trial <= high)) and np.isfinite(target(trial)):
                theta0 = trial
                break
        starts.append((theta0, seed))
    return starts


class HyperparameterPosterior:
    """Posterior draws of a GP regressor's log hyperparameters, and predictions averaged over them.

    Attributes
    ----------
    samples_ : ndarray, shape (n_chains, n_samples // thin, n_dims)
        theta (log hyperparameter values), per chain, warm-up dropped.
    log_posterior_ : ndarray, shape (n_chains, n_samples // thin)
        log p(y | X, theta) + log p(theta) at each draw.
    names_ : list of str
        One name per entry of theta (``"k2__length_scale"``, ``"length_scale[1]"`` for ARD).
    prior_ : KernelPrior
        The priors used, one per free hyperparameter.
    diagnostics_ : dict
        ``acceptance_rate``, ``n_evaluations``, ``n_divergent``, ``step_size`` (one entry per
        chain), ``ess`` and ``rhat`` (rank-normalized split R-hat; one per dimension).
    method : str
    gp : GaussianProcessRegressor
        The fitted regressor the draws condition.
    """

    def __init__(self, gp, chains, names, prior, method, thin=1):
        self.gp, self.names_, self.prior_, self.method = gp, list(names), prior, method
        self.samples_ = np.stack([chain.samples[thin - 1::thin] for chain in chains])
        self.log_posterior_ = np.stack([chain.log_density[thin - 1::thin] for chain in chains])
        enough = self.samples_.shape[1] >= 4
        nan = np.full(self.samples_.shape[2], np.nan)
        self.diagnostics_ = {
            "acceptance_rate": np.array([chain.acceptance_rate for chain in chains]),
            "n_evaluations": np.array([chain.n_evaluations for chain in chains]),
            "n_divergent": np.array([chain.n_divergent for chain in chains]),
            "step_size": np.array([np.nan if chain.step_size is None else chain.step_size
                                   for chain in chains]),
            "ess": effective_sample_size(self.samples_) if enough else nan,
            "rhat": split_rhat(self.samples_) if enough else nan,
        }

    @property
    def values_(self):
        """exp(samples_): the hyperparameter values themselves."""
        return np.exp(self.samples_)

    def predict(self, X, return_std=False):
        """Predictive mean (and standard deviation) of the GP averaged over the draws.

        Costs one Cholesky factorization of the n x n training covariance per distinct draw;
        ``thin`` in ``sample_hyperparameters`` keeps that number down.

        Parameters
        ----------
        X : array_like, shape (m, d)
        return_std : bool
            Also return the mixture's standard deviation (within- plus between-draw).

        Returns
        -------
        mean : ndarray, shape (m,) or (m, t)
        std : ndarray, shape (m,) or (m, t), if ``return_std``
        """
        caller = "HyperparameterPosterior.predict"
        X = self.gp._check_query(X, caller)
        # Repeated draws (HMC rejections) are conditioned once and weighted by their count.
        thetas, counts = np.unique(self.samples_.reshape(-1, self.samples_.shape[2]), axis=0,
                                   return_counts=True)
        weights = counts / counts.sum()
        mean = second_moment = 0.0
        for theta, weight in zip(thetas, weights):
            gp = self._conditioned(theta, caller)
            if return_std:
                m, s = gp.predict(X, return_std=True)
                second_moment = second_moment + weight * (s**2 + m**2)
            else:
                m = gp.predict(X)
            mean = mean + weight * m
        if not return_std:
            return mean
        return mean, np.sqrt(np.maximum(second_moment - mean**2, 0.0))

    def _conditioned(self, theta, caller):
        """A shallow copy of the regressor conditioned at ``theta`` (R&W Algorithm 2.1)."""
        gp = copy.copy(self.gp)
        gp.kernel_ = self.gp.kernel_.clone_with_theta(theta)
        Y = gp.y_train_.reshape(len(gp.X_train_), -1)
        terms = log_marginal_likelihood(gp.kernel_, gp.X_train_, Y, gp._noise, caller=caller)
        gp.L_, gp.jitter_ = terms.L, terms.jitter
        gp.alpha_ = terms.alpha[:, 0] if gp.y_train_.ndim == 1 else terms.alpha
        gp.log_marginal_likelihood_value_ = terms.value
        return gp

    def summary(self, file=None, print_table=True):
        """Print (to ``file``, default standard output) and return the posterior summary.

        Returns
        -------
        dict
            As ``mcmc_diagnostics.summary``: ``names`` (``log <name>``), ``mean``, ``std``,
            ``q05``, ``q95`` of theta, ``ess``, ``rhat``, ``acceptance_rate``.
        """
        if self.samples_.shape[1] < 4:
            raise ValueError(f"HyperparameterPosterior.summary: needs at least 4 draws per "
                             f"chain, got {self.samples_.shape[1]}")
        result = summary(self.samples_, [f"log {name}" for name in self.names_],
                         self.diagnostics_["acceptance_rate"], print_table=False)
        if print_table:
            print(f"{self.method} sampling of theta = log hyperparameters; priors "
                  f"{self.prior_!r}", file=file)
            print(format_summary(result, self.samples_.shape[:2]), file=file)
        return result

    def __repr__(self):
        n_chains, n_draws, n_dims = self.samples_.shape
        return (f"HyperparameterPosterior(method={self.method!r}, n_chains={n_chains}, "
                f"n_draws={n_draws}, n_dims={n_dims})")
