"""What the two GP latent variable models share: input checks, PCA start, sampling, optimizing.

A GP latent variable model explains each row y_n of Y (n, D) as a GP of a latent point x_n
(Q << D dimensions), one GP per column with a shared kernel. Fitting places the latent points;
generating draws new latent points and decodes them through the GP's predictive mean
(``decode``), with its predictive standard deviation when asked.
"""
import numbers

import numpy as np
from scipy import optimize

from ..estimator import BaseEstimator
from ..progress import progress_bar
from ..random_state import check_random_state
from . import kernels
from .kernels_base import Kernel
from .validation import check_fitted, check_input, check_n_features

__all__ = ["LatentVariableModel", "check_observations", "global_scale", "minimize_lbfgs",
           "pca_latent"]

# L-BFGS-B corrections kept (scipy's default is 10): with the preconditioning of global_scale,
# 20 reached a higher Bayesian GP-LVM bound in 1000 evaluations on the digits (47,777 against
# 47,653 nats, Q = 5) at a negligible cost per iteration.
MEMORY = 20


def check_observations(Y, latent_dim, caller, min_rows=2):
    """Y as a finite float64 (n, D) array with n >= ``min_rows`` and D >= ``latent_dim``."""
    Y = check_input(Y, caller, "Y")
    if Y.shape[0] < min_rows:
        raise ValueError(f"{caller}: Y needs at least {min_rows} rows, got shape {Y.shape}")
    if latent_dim > Y.shape[1]:
        raise ValueError(f"{caller}: latent_dim={latent_dim} is larger than the {Y.shape[1]} "
                         f"columns of Y; a latent space has fewer dimensions than the data")
    return Y


def check_positive_int(value, name, caller, low=1):
    """``value`` as an int >= ``low``, or a ValueError naming it."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise ValueError(f"{caller}: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_kernel(kernel, caller):
    if kernel is not None and not isinstance(kernel, Kernel):
        raise TypeError(f"{caller}: kernel must be a scratchgen.gp.kernels.Kernel or None, got "
                        f"{type(kernel).__name__}")


def pca_latent(Y, latent_dim):
    """The first ``latent_dim`` principal components of Y with every column standardized
    (constant columns left at 0), each component scaled to unit variance.

    NOTE: standardized, as GPy starts its GP-LVMs. On the 8x8 digits (Q = 5, m = 50, 1000
    evaluations, seeds 0-4) the Bayesian GP-LVM's bound from this start was 47,674 nats on
    average against 47,554 from the PCA of the centred pixels, above GPy's on every seed,
    and the 1-NN accuracy of the latent means 0.970 against 0.967: the rarely inked edge
    pixels, which tell some digits apart, weigh as much in the start as the centre's.

    Returns
    -------
    X : ndarray (n, latent_dim)
    fractions : ndarray (latent_dim,)
        Each component's variance relative to the first one's (1 for the first).
    """
    Y = Y - Y.mean(axis=0)
    scale = Y.std(axis=0)
    Y = Y / np.where(scale > 0, scale, 1.0)
    U, s, _ = np.linalg.svd(Y, full_matrices=False)
    X = U[:, :latent_dim] * np.sqrt(Y.shape[0])         # unit variance per column
    variances = s[:latent_dim] ** 2
    fractions = variances / variances[0] if variances[0] > 0 else np.ones(latent_dim)
    return X, np.maximum(fractions, 1e-3)


def minimize_lbfgs(objective, x0, bounds, max_iter, caller, verbose, history=None, scale=None):
    """Minimize ``objective`` (value and gradient) by L-BFGS-B, at most ``max_iter`` iterations
    and as many evaluations, whichever limit comes first (GPy's ``max_iters`` means the same).

    Returns scipy's OptimizeResult (its ``x`` in the original coordinates); the progress bar
    (when ``verbose``) counts evaluations. ``history``, a list, receives -objective after each
    iteration (the model's objective). ``scale`` (like x0) makes the optimizer work on
    x * scale, a diagonal preconditioner (see the NOTE in ``bayesian_gplvm``).
    """
    scale = np.ones_like(x0) if scale is None else scale
    if bounds is not None:
        bounds = [(None if lo is None else lo * c, None if hi is None else hi * c)
                  for (lo, hi), c in zip(bounds, scale)]
    with progress_bar(desc=caller, enabled=bool(verbose), unit=" evaluations") as bar:
        def scaled(y):
            value, grad = objective(y / scale)
            bar.update()
            bar.set_postfix(objective=f"{-value:.6g}", refresh=False)
            return value, grad / scale

        def record(intermediate_result):     # scipy passes the iterate by this name
            if history is not None:
                history.append(-float(intermediate_result.fun))
        result = optimize.minimize(scaled, x0 * scale, jac=True, method="L-BFGS-B",
                                   bounds=bounds, callback=record,
                                   options={"maxiter": max_iter, "maxfun": max_iter,
                                            "maxcor": MEMORY})
    result.x = result.x / scale
    return result


def global_scale(n_local, n_global, n_rows):
    """The preconditioner of ``minimize_lbfgs`` for [local coordinates, global ones]: 1 for
    the per-row latent coordinates (and Z), n_rows^(1/4) for the kernel's log hyperparameters
    and the log noise, whose gradients sum over all rows (see the NOTE in bayesian_gplvm)."""
    return np.concatenate([np.ones(n_local), np.full(n_global, n_rows ** 0.25)])


class LatentVariableModel(BaseEstimator):
    """Base of GPLVM and BayesianGPLVM: ``sample``, ``decode`` and the fitted state.

    Both predict like a sparse GP: with anchors U (the inducing inputs, or all latent points)
    and K = k(X*, U),

        mean = K weights,      var = k(X*, X*) - |K A|^2_rows + rowsum((K B) o K)

    (B is None for the exact GP-LVM). ``fit`` stores these arrays in ``decoder_``, so that
    ``fitted_state`` and ``from_fitted_state`` save and restore a model as plain arrays and
    a JSON-ready dict. Subclasses implement ``_draw_latent(n, rng)``.
    """

    #: attributes, besides ``decoder_``, that hold the fitted model (arrays or numbers)
    _fitted_arrays = ("y_mean_",)
    _fitted_numbers = ("noise_",)

    def fitted_state(self):
        """``(config, arrays)``: JSON-ready settings and kernel, and the fitted arrays."""
        self._check_fitted(f"{type(self).__name__}.fitted_state")
        config = {"params": {k: v for k, v in self.get_params().items()
                             if k not in ("kernel", "random_state")},
                  "kernel": self.kernel_.to_config(),
                  "numbers": {name: float(getattr(self, name)) for name in self._fitted_numbers}}
        arrays = {name: np.asarray(getattr(self, name)) for name in self._fitted_arrays}
        arrays.update({f"decoder.{key}": value for key, value in self.decoder_.items()
                       if value is not None})
        return config, arrays

    @classmethod
    def from_fitted_state(cls, config, arrays):
        """A fitted model rebuilt from ``fitted_state``'s two parts (no refitting)."""
        from .kernels import from_config

        model = cls(**config["params"])
        model.kernel_ = from_config(config["kernel"])
        for name, value in config["numbers"].items():
            setattr(model, name, value)
        for name in cls._fitted_arrays:
            setattr(model, name, np.asarray(arrays[name], dtype=np.float64))
        model.decoder_ = {key: (np.asarray(arrays[f"decoder.{key}"], dtype=np.float64)
                                if f"decoder.{key}" in arrays else None)
                          for key in ("anchors", "weights", "A", "B")}
        return model

    def _start(self, Y, Q, caller):
        """Centre Y (keeping ``y_mean_``) and choose the starting noise, latent points and kernel.

        Returns (centred Y, its mean column variance, noise, PCA latent points (n, Q), kernel):
        the noise is 1/10 of that variance unless ``noise`` is set; the kernel is a copy of ``kernel``, or
        ``Constant * RBF`` with ARD length scales 1 / sqrt(PCA variance fraction).
        """
        self.y_mean_ = Y.mean(axis=0)
        Y = Y - self.y_mean_
        signal = float(np.mean(Y.var(axis=0))) or 1.0
        noise = 0.1 * signal if self.noise is None else float(self.noise)
        if not (np.isfinite(noise) and noise > 0):
            raise ValueError(f"{caller}: noise must be a positive variance, got {self.noise!r}")
        X, fractions = pca_latent(Y, Q)
        kernel = (self.kernel._copy() if self.kernel is not None else
                  kernels.ConstantKernel(signal) * kernels.RBF(1.0 / np.sqrt(fractions)))
        return Y, signal, noise, X, kernel

    def _predict_latent(self, X):
        """Predictive mean (n, D) of the centred data and variance (n,) of f at X."""
        dec = self.decoder_
        K = self.kernel_(X, dec["anchors"])
        KA = K @ dec["A"]
        var = self.kernel_.diag(X) - np.einsum("ij,ij->i", KA, KA)
        if dec["B"] is not None:
            var += np.einsum("ij,ij->i", K @ dec["B"], K)
        return K @ dec["weights"], var

    def decode(self, X, return_std=False):
        """Map latent points to data space through the GP's predictive mean.

        Parameters
        ----------
        X : array_like (n, latent_dim)
        return_std : bool
            Also return the predictive standard deviation of each output, (n, D). The kernel
            is shared by all D columns, so a row's D values are equal.

        Returns
        -------
        Y : ndarray (n, D)
        std : ndarray (n, D)
            Only with ``return_std``.
        """
        caller = f"{type(self).__name__}.decode"
        self._check_fitted(caller)
        X = check_n_features(check_input(X, caller), self.latent_dim, caller)
        mean, var = self._predict_latent(X)
        mean += self.y_mean_
        if not return_std:
            return mean
        std = np.sqrt(np.maximum(var, 0.0))
        return mean, np.repeat(std[:, None], mean.shape[1], axis=1)

    def sample(self, n, random_state=None, return_std=False):
        """Generate ``n`` rows: latent points from the model's latent distribution, decoded.

        Parameters
        ----------
        n : int
        random_state : int, numpy.random.Generator, SeedSequence or None
        return_std : bool
            Also return each generated value's predictive standard deviation.

        Returns
        -------
        Y : ndarray (n, D)
        std : ndarray (n, D)
            Only with ``return_std``.
        """
        caller = f"{type(self).__name__}.sample"
        self._check_fitted(caller)
        n = check_positive_int(n, "n", caller)
        X = self._draw_latent(n, check_random_state(random_state, caller))
        return self.decode(X, return_std=return_std)

    def _check_fitted(self, caller):
        check_fitted(self, "y_mean_", caller)
