"""Gaussian processes: composable kernels and exact regression fitted by marginal likelihood.

>>> import numpy as np
>>> from scratchgen.gp import GaussianProcessRegressor, kernels
>>> X = np.linspace(0, 5, 30)[:, None]
>>> gp = GaussianProcessRegressor(kernels.parse("constant * rbf + white")).fit(X, np.sin(X[:, 0]))
>>> mean, std = gp.predict(X, return_std=True)

``kernels`` holds the covariance functions (RBF, Matern, RationalQuadratic, ExpSineSquared,
DotProduct, Polynomial, Constant, White, sums and products); ``GaussianProcessRegressor``
follows Rasmussen & Williams, Algorithm 2.1; ``linalg.cholesky_with_jitter`` is the one
factorization everything uses.
"""
from . import kernels
from .linalg import NotPositiveDefiniteError, cholesky_with_jitter
from .regression import GaussianProcessRegressor, NotFittedError

__all__ = ["GaussianProcessRegressor", "NotFittedError", "NotPositiveDefiniteError",
           "cholesky_with_jitter", "kernels"]
