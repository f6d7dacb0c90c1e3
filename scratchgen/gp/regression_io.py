"""A GaussianProcessRegressor as a checkpoint tree, and back (for ``save`` / ``load``).

The tree holds only what ``scratchgen.save`` accepts (dicts, arrays, numbers, strings, None):
the constructor parameters, kernels as ``kernel.to_config()`` dicts, and after ``fit`` the
training data and the factors that prediction needs, so a loaded model predicts without
refitting. No pickle is involved anywhere.
"""
import numbers
import warnings

import numpy as np

from . import kernels
from .validation import check_restarts

__all__ = ["from_checkpoint", "to_checkpoint"]

_VERSION = 1
_FITTED = ("X_train_", "y_train_", "alpha_", "L_")


def to_checkpoint(gp, format_name):
    """The tree that ``scratchgen.save`` writes for ``gp``."""
    if callable(gp.optimizer):
        raise ValueError("GaussianProcessRegressor.save: a callable optimizer cannot be saved; "
                         "set optimizer to 'L-BFGS-B' or None first")
    random_state = gp.random_state
    if random_state is not None and not (isinstance(random_state, numbers.Integral)
                                         and not isinstance(random_state, bool)):
        warnings.warn("GaussianProcessRegressor.save: random_state is a generator object, which "
                      "a checkpoint cannot hold; it is saved as None", RuntimeWarning,
                      stacklevel=3)
        random_state = None
    alpha = gp.alpha
    params = {
        "kernel": None if gp.kernel is None else gp.kernel.to_config(),
        "alpha": np.asarray(alpha, dtype=np.float64) if np.ndim(alpha) else float(alpha),
        # scikit-learn's spelling n_restarts_optimizer is saved as the count it gives.
        "n_restarts": check_restarts(gp.n_restarts, gp.n_restarts_optimizer,
                                     "GaussianProcessRegressor.save"),
        "normalize_y": bool(gp.normalize_y),
        "random_state": None if random_state is None else int(random_state),
        "optimizer": gp.optimizer,
    }
    fitted = None
    if hasattr(gp, "X_train_"):
        fitted = {name: np.asarray(getattr(gp, name)) for name in _FITTED}
        fitted.update({
            "kernel_": gp.kernel_.to_config(),
            "log_marginal_likelihood_value_": float(gp.log_marginal_likelihood_value_),
            "jitter_": float(gp.jitter_),
            "noise": np.asarray(gp._noise, dtype=np.float64),
            "y_mean": gp._y_mean, "y_std": gp._y_std,
            "single_target": bool(gp._single_target),
        })
    return {"format": format_name, "version": _VERSION, "params": params, "fitted": fitted}


def from_checkpoint(cls, tree, format_name, path):
    """A ``cls`` instance rebuilt from a tree read by ``scratchgen.load``."""
    where = f"GaussianProcessRegressor.load: {path}"
    if not isinstance(tree, dict) or tree.get("format") != format_name:
        found = tree.get("format") if isinstance(tree, dict) else type(tree).__name__
        raise ValueError(f"{where} does not hold a GaussianProcessRegressor (expected format "
                         f"{format_name!r}, found {found!r})")
    if tree.get("version") != _VERSION:
        raise ValueError(f"{where} has version {tree.get('version')!r}; this scratchgen reads "
                         f"version {_VERSION}")
    params = dict(tree["params"])
    if params["kernel"] is not None:
        params["kernel"] = kernels.from_config(params["kernel"])
    gp = cls(**params)
    fitted = tree.get("fitted")
    if fitted is None:
        return gp
    missing = [name for name in _FITTED + ("kernel_", "y_mean", "y_std") if name not in fitted]
    if missing:
        raise ValueError(f"{where} lacks the fitted entries {missing}")
    for name in _FITTED:
        setattr(gp, name, np.asarray(fitted[name], dtype=np.float64))
    gp.kernel_ = kernels.from_config(fitted["kernel_"])
    gp.log_marginal_likelihood_value_ = float(fitted["log_marginal_likelihood_value_"])
    gp.jitter_ = float(fitted["jitter_"])
    noise = np.asarray(fitted["noise"], dtype=np.float64)
    gp._noise = float(noise) if noise.ndim == 0 else noise
    gp._y_mean = np.asarray(fitted["y_mean"], dtype=np.float64)
    gp._y_std = np.asarray(fitted["y_std"], dtype=np.float64)
    gp._single_target = bool(fitted["single_target"])
    return gp
