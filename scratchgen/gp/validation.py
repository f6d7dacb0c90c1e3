"""The input checks every GP estimator runs at its boundary, and the error for an unfitted one.

Each check raises a ``ValueError`` that names the caller (``"GaussianProcessRegressor.fit"``),
what was expected and what came, so that the estimators themselves only compute.
"""
import numbers

import numpy as np

from ..autograd.tensor import Tensor

try:
    from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
except ImportError:                   # scikit-learn is optional: its two bases, by hand
    _NOT_FITTED_BASES = (ValueError, AttributeError)
else:
    _NOT_FITTED_BASES = (_SklearnNotFittedError,)

__all__ = ["NotFittedError", "check_fitted", "check_input", "check_n_features",
           "check_optimizer", "check_restarts", "check_targets"]


class NotFittedError(*_NOT_FITTED_BASES):
    """A method that needs ``fit`` was called first.

    A ``ValueError`` and an ``AttributeError``, as scikit-learn's NotFittedError; when
    scikit-learn is installed it is a subclass of ``sklearn.exceptions.NotFittedError``, so
    scikit-learn's tools recognize it.
    """


def check_fitted(estimator, attribute, caller):
    """Raise ``NotFittedError`` unless ``estimator`` has ``attribute`` (set by its ``fit``)."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"{caller}: this {type(estimator).__name__} is not fitted yet; "
                             f"call fit(X, y) first")


def check_input(X, caller, name="X"):
    """Return ``X`` as a C-contiguous float64 array of shape (n, d), n, d >= 1, all finite.

    Raises ``ValueError`` naming ``caller``, what was expected and what came.
    """
    if isinstance(X, Tensor):
        X = X.data
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{caller}: {name} must be a numeric array of shape "
                         f"(n_samples, n_features) ({err})") from None
    if X.ndim != 2:
        raise ValueError(f"{caller}: {name} must be a 2-D array of shape (n_samples, "
                         f"n_features), got shape {X.shape}; reshape 1-D data with "
                         f"{name}.reshape(-1, 1)")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{caller}: {name} must have at least one sample and one feature, "
                         f"got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{caller}: {name} must be finite, but {name}[{row}, {col}] = "
                         f"{X[row, col]}")
    return np.ascontiguousarray(X)


def check_n_features(X, n_features, caller, name="X"):
    """Check that the query ``X`` (n, d), already through ``check_input``, has the
    ``n_features`` columns the model was fitted on; return it."""
    if X.shape[1] != n_features:
        raise ValueError(f"{caller}: {name} has {X.shape[1]} features but the model was "
                         f"fitted on {n_features} (expected shape (m, {n_features}), got "
                         f"{X.shape})")
    return X


def check_targets(y, n_samples, caller, multi_output=True):
    """Return the targets ``y`` as finite float64, matched to ``n_samples`` inputs.

    Parameters
    ----------
    y : array_like, shape (n,) or (n, t)
    n_samples : int
        Rows of X.
    caller : str
    multi_output : bool
        True: accept (n,) or (n, t) and return (n, t). False: accept (n,) or (n, 1) and
        return (n,).

    Returns
    -------
    ndarray, shape (n, t) or (n,)
    """
    try:
        Y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{caller}: y must be a numeric array ({err})") from None
    if multi_output:
        if Y.ndim not in (1, 2):
            raise ValueError(f"{caller}: y must have shape (n_samples,) or (n_samples, "
                             f"n_targets), got shape {Y.shape}")
        if Y.shape[0] != n_samples:
            raise ValueError(f"{caller}: X has {n_samples} samples but y has {Y.shape[0]}")
    else:
        if Y.ndim == 2 and Y.shape[1] == 1:
            Y = Y[:, 0]
        if Y.ndim != 1 or Y.shape[0] != n_samples:
            raise ValueError(f"{caller}: expected y of shape ({n_samples},) to match X, got "
                             f"shape {Y.shape}")
    if not np.all(np.isfinite(Y)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(Y))[0])
        raise ValueError(f"{caller}: y must be finite, but y[{', '.join(map(str, index))}]"
                         f" = {Y[index]}")
    return Y.reshape(n_samples, -1) if multi_output else Y


def check_restarts(n_restarts, n_restarts_optimizer, caller):
    """The number of optimizer restarts, given under scratchgen's name or scikit-learn's.

    ``n_restarts_optimizer`` (scikit-learn's spelling) is None unless given; then it is the
    count, and ``n_restarts`` must be left at 0 or agree with it.
    """
    if n_restarts_optimizer is None:
        count, name = n_restarts, "n_restarts"
    elif n_restarts in (0, n_restarts_optimizer):
        count, name = n_restarts_optimizer, "n_restarts_optimizer"
    else:
        raise ValueError(f"{caller}: n_restarts and n_restarts_optimizer (its scikit-learn "
                         f"name) disagree, got n_restarts={n_restarts!r} and "
                         f"n_restarts_optimizer={n_restarts_optimizer!r}; give one of them")
    if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 0:
        raise ValueError(f"{caller}: {name} must be an integer >= 0, got {count!r}")
    return int(count)


def check_optimizer(optimizer, caller):
    """``"L-BFGS-B"`` (also spelled ``"fmin_l_bfgs_b"``, as scikit-learn), a callable, or None."""
    if optimizer is None or callable(optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer in ("L-BFGS-B", "fmin_l_bfgs_b"):
        return "L-BFGS-B"
    raise ValueError(f"{caller}: optimizer must be 'L-BFGS-B' (or 'fmin_l_bfgs_b'), a callable "
                     f"or None, got {optimizer!r}")
