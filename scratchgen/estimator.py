"""Base classes that make scratchgen's estimators work inside scikit-learn's tools.

With scikit-learn installed, ``BaseEstimator``, ``RegressorMixin`` and ``ClassifierMixin`` are
scikit-learn's own (``sklearn.base``), so ``clone``, ``cross_val_score``, ``GridSearchCV`` and
``Pipeline`` accept the GP estimators, tags included. Without it (scikit-learn is not a
dependency) they are the small stand-ins below, which give the same ``get_params``,
``set_params`` and ``score``. ``SKLEARN_BASE`` says which are in use.

Either way an estimator follows scikit-learn's contract: ``__init__`` stores each argument
unchanged under its own name and does nothing else (``clone`` rebuilds an estimator from
``get_params()`` and checks this), arguments are validated in ``fit``, and what ``fit``
learns is stored in attributes whose names end with ``_``.
"""
import inspect

import numpy as np

__all__ = ["SKLEARN_BASE", "BaseEstimator", "ClassifierMixin", "RegressorMixin"]


class LocalBaseEstimator:
    """``get_params`` / ``set_params`` read from the ``__init__`` signature, as scikit-learn's."""

    @classmethod
    def _get_param_names(cls):
        """The names of ``__init__``'s parameters, sorted (scikit-learn's order)."""
        if cls.__init__ is object.__init__:
            return []
        names = []
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise RuntimeError(f"{cls.__name__}: an estimator's __init__ must name every "
                                   f"parameter (no *args or **kwargs), got {p}")
            if p.name != "self":
                names.append(p.name)
        return sorted(names)

    def get_params(self, deep=True):
        """The constructor parameters as a dict (with ``deep``, nested ones as ``a__b``)."""
        params = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{key}", v) for key, v in value.get_params().items())
            params[name] = value
        return params

    def set_params(self, **params):
        """Set constructor parameters (``a__b`` reaches into a nested estimator); return self."""
        valid = self._get_param_names()
        for key, value in params.items():
            name, _, nested = key.partition("__")
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: invalid parameter "
                                 f"{name!r}; valid parameters are {valid}")
            if nested:
                getattr(self, name).set_params(**{nested: value})
            else:
                setattr(self, name, value)
        return self


class LocalRegressorMixin:
    """``score``: the coefficient of determination R^2 of ``predict(X)`` (averaged over
    targets)."""

    _estimator_type = "regressor"

    def score(self, X, y):
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        residual = ((y - np.asarray(self.predict(X)).reshape(y.shape)) ** 2).sum(axis=0)
        total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        # A constant target scores 1 when predicted exactly, else 0 (scikit-learn's rule).
        r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
        return float(r2.mean())


class LocalClassifierMixin:
    """``score``: the accuracy of ``predict(X)``."""

    _estimator_type = "classifier"

    def score(self, X, y):
        return float(np.mean(np.asarray(self.predict(X)) == np.asarray(y)))


try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
except ImportError:
    BaseEstimator = LocalBaseEstimator
    RegressorMixin = LocalRegressorMixin
    ClassifierMixin = LocalClassifierMixin
    SKLEARN_BASE = False
else:
    SKLEARN_BASE = True
