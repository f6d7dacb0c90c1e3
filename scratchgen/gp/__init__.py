"""Gaussian processes: composable kernels and exact regression fitted by marginal likelihood.

>>> import numpy as np
>>> from scratchgen.gp import GaussianProcessRegressor, kernels
>>> X = np.linspace(0, 5, 30)[:, None]
>>> gp = GaussianProcessRegressor(kernels.parse("constant * rbf + white")).fit(X, np.sin(X[:, 0]))
>>> mean, std = gp.predict(X, return_std=True)

``kernels`` holds the covariance functions (RBF, Matern, RationalQuadratic, ExpSineSquared,
DotProduct, Polynomial, Constant, White, sums and products); ``GaussianProcessRegressor``
follows Rasmussen & Williams, Algorithm 2.1; ``SparseGPRegressor`` is Titsias' (2009)
variational sparse GP for large n; ``GaussianProcessClassifier`` is the Laplace approximation
(Rasmussen & Williams, Algorithms 3.1 and 3.2); ``GPLVM`` (Lawrence, 2005) and ``BayesianGPLVM``
(Titsias & Lawrence, 2010) are the GP latent variable models that generate data;
``linalg.cholesky_with_jitter`` is the one factorization everything uses.

MCMC instead of point estimates: ``sample_hyperparameters`` draws a fitted regressor's log
hyperparameters from their posterior (slice sampling or HMC, with ``priors`` per
hyperparameter) and predicts with the average over the draws; ``sample_latent`` draws a
fitted classifier's latent function by elliptical slice sampling. The samplers are in
``mcmc`` and ``mcmc_latent``, the diagnostics (effective sample size, split R-hat) in
``mcmc_diagnostics``.
"""
from . import kernels, priors
from .linalg import NotPositiveDefiniteError, cholesky_with_jitter
from .bayesian_gplvm import BayesianGPLVM
from .classification import GaussianProcessClassifier
from .gplvm import GPLVM
from .mcmc_hyperparameters import HyperparameterPosterior, sample_hyperparameters
from .mcmc_latent import LatentPosterior, sample_latent
from .regression import GaussianProcessRegressor
from .sparse import SparseGPRegressor
from .validation import NotFittedError

__all__ = ["BayesianGPLVM", "GPLVM", "GaussianProcessClassifier", "GaussianProcessRegressor",
           "HyperparameterPosterior", "LatentPosterior", "NotFittedError",
           "NotPositiveDefiniteError", "SparseGPRegressor", "cholesky_with_jitter", "kernels",
           "priors", "sample_hyperparameters", "sample_latent"]
