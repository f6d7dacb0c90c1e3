"""Exact-in-the-limit GP classification: elliptical slice sampling of the latent function.

The Laplace approximation (``classification.py``) replaces the posterior of the latent values
f = f(X) at the training inputs,

    p(f | X, y)  proportional to  N(f; 0, K) prod_i sigma(y_i f_i),     y_i in {-1, +1},

by a Gaussian. Here it is sampled instead, by elliptical slice sampling (Murray, Adams and
MacKay 2010; ``elliptical_slice`` below), with the kernel's hyperparameters held at the
fitted values. Predictions average over the draws f_s: given f_s, the latent value at a new
x* is Gaussian (R&W eq. 2.19 without noise),

    f* | f_s ~ N(k*^T K^-1 f_s, k(x*, x*) - k*^T K^-1 k*),

and p(y* = 1 | x*) = 1/S sum_s E[sigma(f*) | f_s], each expectation by Gauss-Hermite
quadrature.
"""
import math

import numpy as np
from scipy.linalg import cho_solve
from scipy.special import expit

from ..progress import progress_bar
from ..random_state import check_random_state
from .classification import GaussianProcessClassifier
from .linalg import cholesky_with_jitter, matmul
from .mcmc import _MAX_SHRINK, _check_count
from .mcmc_diagnostics import effective_sample_size, format_summary, split_rhat, summary
from .validation import check_fitted, check_input, check_n_features

__all__ = ["LatentPosterior", "elliptical_slice", "sample_latent"]

_HERMITE_X, _HERMITE_W = np.polynomial.hermite.hermgauss(32)
_PREDICT_CHUNK = 256       # draws per block in predict_proba: (chunk, m, 32) floats at once


def sample_latent(gpc, n_samples=1000, *, n_warmup=200, n_chains=2, thin=1,
                  random_state=None, verbose=False):
    """Sample the latent function of a fitted binary GP classifier at its training inputs.

    Parameters
    ----------
    gpc : GaussianProcessClassifier
        Fitted; its kernel (hyperparameters fixed at the fitted values) gives the prior
        N(0, K) and its labels the logistic likelihood.
    n_samples : int
        Draws kept per chain (before thinning).
    n_warmup : int
        Draws discarded at the start of each chain.
    n_chains : int
        Independent chains, each started from its own prior draw (spread out, so that split
        R-hat can tell whether they meet).
    thin : int
        Keep every ``thin``-th draw.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
    verbose : bool
        Show a progress bar, then print the summary of the least converged latent values.

    Returns
    -------
    LatentPosterior
    """
    caller = "sample_latent"
    if not isinstance(gpc, GaussianProcessClassifier):
        raise TypeError(f"{caller}: gpc must be a fitted GaussianProcessClassifier, got "
                        f"{type(gpc).__name__}")
    check_fitted(gpc, "_L", caller)
    n_samples = _check_count(n_samples, "n_samples", caller, 1)
    n_warmup = _check_count(n_warmup, "n_warmup", caller, 0)
    n_chains = _check_count(n_chains, "n_chains", caller, 1)
    thin = _check_count(thin, "thin", caller, 1)
    if thin > n_samples:
        raise ValueError(f"{caller}: thin must be at most n_samples ({n_samples}) to keep a "
                         f"draw, got thin={thin}")
    rng = check_random_state(random_state, caller)
    L, _ = cholesky_with_jitter(gpc.kernel_(gpc.X_train_), kernel=gpc.kernel_, caller=caller)
    signs = 2.0 * gpc.y_train_ - 1.0                             # labels as -1 / +1

    def log_likelihood(f):
        return -np.logaddexp(0.0, -signs * f).sum()              # sum_i log sigma(y_i f_i)

    n = len(signs)
    samples = np.empty((n_chains, n_samples, n))
    n_evaluations = np.zeros(n_chains, dtype=int)
    with progress_bar(total=n_chains * (n_warmup + n_samples), desc=caller,
                      enabled=bool(verbose), unit=" draws") as bar:
        for c, chain_rng in enumerate(rng.spawn(n_chains)):
            f = matmul(L, chain_rng.standard_normal(n))           # a prior draw
            log_l = log_likelihood(f)
            for it in range(n_warmup + n_samples):
                f, log_l, count = elliptical_slice(f, log_likelihood, L, chain_rng, log_l)
                n_evaluations[c] += count
                if it >= n_warmup:
                    samples[c, it - n_warmup] = f
                bar.update()
    posterior = LatentPosterior(gpc, samples[:, thin - 1::thin], L, n_evaluations)
    if verbose:
        posterior.summary()
    return posterior


def elliptical_slice(f, log_likelihood, prior_chol, random_state=None, log_likelihood_f=None):
    """One elliptical slice sampling update of f ~ N(0, Sigma) times a likelihood L(f).

    Murray, Adams and MacKay (2010), Figure 2. With nu ~ N(0, Sigma), every point of the
    ellipse f' = f cos(a) + nu sin(a) is again a draw from the prior, so only the likelihood
    decides:

    1. the slice: log y = log L(f) - E, E ~ Exp(1);
    2. draw nu = chol(Sigma) z, z ~ N(0, I), and an angle a ~ U[0, 2 pi), the bracket
       [a - 2 pi, a] (which contains a = 0, the current f);
    3. if log L(f cos a + nu sin a) > log y, that point is the new f; otherwise shrink the
       bracket towards 0 (a becomes its end on its side of 0), draw a uniformly from it, and
       try again. Shrinking always ends, since a = 0 is on the slice.

    Parameters
    ----------
    f : ndarray, shape (n,)
        The current state.
    log_likelihood : callable
        f (n,) -> log L(f), a float.
    prior_chol : ndarray, shape (n, n)
        Lower Cholesky factor of Sigma, the prior covariance.
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
        Pass one Generator for a whole chain (an int seeds the same draw every time).
    log_likelihood_f : float, optional
        log L(f), when known (saves one evaluation).

    Returns
    -------
    f_new : ndarray, shape (n,)
    log_likelihood_new : float
    n_evaluations : int
        Evaluations of ``log_likelihood`` in this update.
    """
    caller = "elliptical_slice"
    rng = check_random_state(random_state, caller)
    f = np.asarray(f, dtype=np.float64)
    prior_chol = np.asarray(prior_chol, dtype=np.float64)
    if f.ndim != 1 or prior_chol.shape != (f.size, f.size):
        raise ValueError(f"{caller}: expected f of shape (n,) and prior_chol of shape (n, n), "
                         f"got {f.shape} and {prior_chol.shape}")
    n_evaluations = 0
    if log_likelihood_f is None:
        log_likelihood_f = float(log_likelihood(f))
        n_evaluations += 1
    if not np.isfinite(log_likelihood_f):
        raise ValueError(f"{caller}: log_likelihood(f) must be finite at the current f, got "
                         f"{log_likelihood_f}")
    nu = matmul(prior_chol, rng.standard_normal(f.size))                  # nu ~ N(0, Sigma)
    log_y = log_likelihood_f - rng.exponential()
    angle = rng.uniform(0.0, 2.0 * math.pi)
    low, high = angle - 2.0 * math.pi, angle
    for _ in range(_MAX_SHRINK):
        proposal = f * math.cos(angle) + nu * math.sin(angle)
        log_l = float(log_likelihood(proposal))
        n_evaluations += 1
        if log_l > log_y:
            return proposal, log_l, n_evaluations
        if angle < 0.0:
            low = angle
        else:
            high = angle
        angle = rng.uniform(low, high)
    raise RuntimeError(f"{caller}: the bracket shrank {_MAX_SHRINK} times without finding a "
                       "point; is log_likelihood deterministic?")


class LatentPosterior:
    """Draws of a GP classifier's latent values at its training inputs, and averaged predictions.

    Attributes
    ----------
    samples_ : ndarray, shape (n_chains, n_samples // thin, n_train)
        Latent values f(X_train) per chain, warm-up dropped.
    diagnostics_ : dict
        ``acceptance_rate`` (1.0 per chain: elliptical slice sampling always moves),
        ``n_evaluations`` (likelihood evaluations per chain, warm-up included), ``ess`` and
        ``rhat`` (rank-normalized split R-hat), one per training point.
    gpc : GaussianProcessClassifier
    """

    def __init__(self, gpc, samples, L, n_evaluations):
        self.gpc, self.samples_, self._L = gpc, samples, L
        enough = samples.shape[1] >= 4
        nan = np.full(samples.shape[2], np.nan)
        self.diagnostics_ = {
            "acceptance_rate": np.ones(samples.shape[0]),
            "n_evaluations": n_evaluations,
            "ess": effective_sample_size(samples) if enough else nan,
            "rhat": split_rhat(samples) if enough else nan,
        }

    def latent_mean_and_variance(self, X):
        """Posterior mean and variance of f(x*) over the draws (the mixture's moments).

        Parameters
        ----------
        X : array_like, shape (m, d)

        Returns
        -------
        mean, var : ndarray, shape (m,)
        """
        means, var = self._conditional(X, "LatentPosterior.latent_mean_and_variance")
        return means.mean(axis=0), var + means.var(axis=0)

    def predict_proba(self, X):
        """Class probabilities averaged over the draws.

        Parameters
        ----------
        X : array_like, shape (m, d)

        Returns
        -------
        ndarray, shape (m, 2)
            Probabilities of ``gpc.classes_[0]`` and ``gpc.classes_[1]``.
        """
        means, var = self._conditional(X, "LatentPosterior.predict_proba")
        # E[sigma(f*)] for f* ~ N(mean, var): f* = mean + sqrt(2 var) x at the Hermite nodes x
        scale = np.sqrt(2.0 * var)[:, None] * _HERMITE_X                       # (m, 32)
        p1 = np.zeros(means.shape[1])
        for start in range(0, means.shape[0], _PREDICT_CHUNK):
            block = means[start:start + _PREDICT_CHUNK, :, None] + scale      # (s, m, 32)
            p1 += (expit(block) @ _HERMITE_W).sum(axis=0)
        p1 = np.clip(p1 / (math.sqrt(math.pi) * means.shape[0]), 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X):
        """The more probable class under ``predict_proba``, shape (m,)."""
        p1 = self.predict_proba(X)[:, 1]
        return np.where(p1 > 0.5, self.gpc.classes_[1], self.gpc.classes_[0])

    def _conditional(self, X, caller):
        """Means k*^T K^-1 f_s, shape (S, m), and the common variance of f* | f_s, (m,)."""
        X = check_n_features(check_input(X, caller), self.gpc.X_train_.shape[1], caller)
        K_star = self.gpc.kernel_(self.gpc.X_train_, X)                          # (n, m)
        A = cho_solve((self._L, True), K_star, check_finite=False)              # K^-1 k*
        flat = self.samples_.reshape(-1, self.samples_.shape[2])                # (S, n)
        var = self.gpc.kernel_.diag(X) - np.einsum("ij,ij->j", K_star, A)
        return matmul(flat, A), np.maximum(var, 0.0)

    def summary(self, file=None, max_rows=10, print_table=True):
        """Print the ``max_rows`` least converged latent values (largest R-hat); return all.

        Returns
        -------
        dict
            As ``mcmc_diagnostics.summary``, for every training point ``f[i]``.
        """
        if self.samples_.shape[1] < 4:
            raise ValueError(f"LatentPosterior.summary: needs at least 4 draws per chain, got "
                             f"{self.samples_.shape[1]}")
        names = [f"f[{i}]" for i in range(self.samples_.shape[2])]
        result = summary(self.samples_, names, self.diagnostics_["acceptance_rate"],
                         print_table=False)
        if print_table:
            print("elliptical slice sampling of the latent function at the training inputs",
                  file=file)
            print(format_summary(result, self.samples_.shape[:2], max_rows), file=file)
        return result

    def __repr__(self):
        n_chains, n_draws, n_train = self.samples_.shape
        return (f"LatentPosterior(n_chains={n_chains}, n_draws={n_draws}, "
                f"n_train={n_train})")
