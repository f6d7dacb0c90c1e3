"""Priors over a kernel's log hyperparameters theta = log(value), for MCMC over them.

Each prior is stated on the hyperparameter's value v > 0 (the way a modeller thinks of a length
scale) and evaluated as a density of theta = log v, the coordinates the samplers move in. The
change of variables adds the log-Jacobian log |dv/dtheta| = theta:

    log p(theta) = log p_v(exp(theta)) + theta.

=================  ===============================  =======================================
prior              on the value v                   log p(theta), up to its constant
=================  ===============================  =======================================
``LogNormal``      log v ~ N(mu, sigma^2)           -(theta - mu)^2 / (2 sigma^2)
``Gamma``          v ~ Gamma(shape, rate)           shape theta - rate exp(theta)
``LogUniform``     log v uniform on [log a, log b]  0 on [log a, log b]
``Uniform``        v uniform on [a, b]              theta on [log a, log b]
=================  ===============================  =======================================

``LogUniform()`` without bounds takes the kernel's bounds of the hyperparameter: the default
prior of ``sample_hyperparameters``, the box the optimizer of ``fit`` searches. A vector
hyperparameter (ARD length scales) gets the prior on each of its entries independently.
"""
import math
import numbers

import numpy as np

__all__ = ["Gamma", "KernelPrior", "LogNormal", "LogUniform", "Prior", "Uniform",
           "kernel_prior"]


def _positive(value, caller, name):
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{caller}: {name} must be a positive finite number, got {value!r}")
    return float(value)


class Prior:
    """A prior density on the value of a positive hyperparameter, evaluated at theta = log v.

    Subclasses implement ``log_pdf`` and ``grad_log_pdf`` (elementwise over an array of theta,
    normalized as densities of theta) and ``support`` (the interval of theta, ends included).
    """

    def log_pdf(self, theta):
        raise NotImplementedError

    def grad_log_pdf(self, theta):
        raise NotImplementedError

    def support(self):
        return (-np.inf, np.inf)

    def _bind(self, log_bounds):
        """This prior, with any bounds it left open taken from the kernel's (log) bounds."""
        return self

    def _outside(self, theta):
        low, high = self.support()
        return (theta < low) | (theta > high)


class LogNormal(Prior):
    """log v ~ N(mu, sigma^2): theta = log v is normal, so log p(theta) is a parabola.

    Parameters
    ----------
    mu : float
        Mean of log v (the prior median of v is exp(mu)).
    sigma : float
        Standard deviation of log v.
    """

    def __init__(self, mu=0.0, sigma=1.0):
        if not isinstance(mu, numbers.Real) or not math.isfinite(mu):
            raise ValueError(f"LogNormal: mu must be a finite number, got {mu!r}")
        self.mu, self.sigma = float(mu), _positive(sigma, "LogNormal", "sigma")

    def log_pdf(self, theta):
        z = (np.asarray(theta, dtype=np.float64) - self.mu) / self.sigma
        return -0.5 * z**2 - math.log(self.sigma) - 0.5 * math.log(2 * math.pi)

    def grad_log_pdf(self, theta):
        return -(np.asarray(theta, dtype=np.float64) - self.mu) / self.sigma**2

    def __repr__(self):
        return f"LogNormal(mu={self.mu:g}, sigma={self.sigma:g})"


class Gamma(Prior):
    """v ~ Gamma(shape, rate), density rate^shape v^(shape-1) exp(-rate v) / Gamma(shape).

    With the Jacobian v = exp(theta): log p(theta) = shape theta - rate exp(theta)
    + shape log(rate) - log Gamma(shape), a proper density for every shape > 0.
    """

    def __init__(self, shape=2.0, rate=1.0):
        self.shape = _positive(shape, "Gamma", "shape")
        self.rate = _positive(rate, "Gamma", "rate")

    def log_pdf(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        return (self.shape * theta - self.rate * np.exp(theta)
                + self.shape * math.log(self.rate) - math.lgamma(self.shape))

    def grad_log_pdf(self, theta):
        return self.shape - self.rate * np.exp(np.asarray(theta, dtype=np.float64))

    def __repr__(self):
        return f"Gamma(shape={self.shape:g}, rate={self.rate:g})"


class _Bounded(Prior):
    """A prior on [low, high] (values); None leaves a bound to the kernel's."""

    def __init__(self, low=None, high=None):
        name = type(self).__name__
        self.low = None if low is None else _positive(low, name, "low")
        self.high = None if high is None else _positive(high, name, "high")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"{name}: low must be below high, got low={low!r}, high={high!r}")

    def _bind(self, log_bounds):
        low = math.exp(log_bounds[0]) if self.low is None else self.low
        high = math.exp(log_bounds[1]) if self.high is None else self.high
        if not low < high:
            raise ValueError(f"{type(self).__name__}: needs low < high, got low={low:g}, "
                             f"high={high:g} (from the kernel's bounds where not given)")
        return type(self)(low, high)

    def support(self):
        if self.low is None or self.high is None:
            raise ValueError(f"{type(self).__name__}: bounds not set; give low and high or "
                             "use the prior through sample_hyperparameters, which takes them "
                             "from the kernel")
        return (math.log(self.low), math.log(self.high))

    def __repr__(self):
        low = "None" if self.low is None else f"{self.low:.4g}"
        high = "None" if self.high is None else f"{self.high:.4g}"
        return f"{type(self).__name__}(low={low}, high={high})"


class LogUniform(_Bounded):
    """log v uniform on [log low, log high]: flat in theta. Bounds default to the kernel's."""

    def log_pdf(self, theta):
        low, high = self.support()
        theta = np.asarray(theta, dtype=np.float64)
        return np.where(self._outside(theta), -np.inf, -math.log(high - low))

    def grad_log_pdf(self, theta):
        return np.zeros(np.shape(theta))


class Uniform(_Bounded):
    """v uniform on [low, high]: log p(theta) = theta - log(high - low) there.

    Bounds default to the kernel's.
    """

    def log_pdf(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        return np.where(self._outside(theta), -np.inf, theta - math.log(self.high - self.low))

    def grad_log_pdf(self, theta):
        return np.ones(np.shape(theta))


class KernelPrior:
    """The joint prior of a kernel's theta: one ``Prior`` per free hyperparameter, independent.

    Built by ``kernel_prior``. ``log_pdf(theta)`` and ``grad_log_pdf(theta)`` take the whole
    theta (n_dims,); ``low`` and ``high`` (n_dims,) bound its support.
    """

    def __init__(self, parts, n_dims):
        self.parts = parts                          # [(name, slice of theta, Prior)]
        self.low, self.high = np.full(n_dims, -np.inf), np.full(n_dims, np.inf)
        for _, where, prior in parts:
            self.low[where], self.high[where] = prior.support()

    def log_pdf(self, theta):
        return float(sum(np.sum(prior.log_pdf(theta[where])) for _, where, prior in self.parts))

    def grad_log_pdf(self, theta):
        gradient = np.zeros(len(theta))
        for _, where, prior in self.parts:
            gradient[where] = prior.grad_log_pdf(theta[where])
        return gradient

    def __repr__(self):
        return "{" + ", ".join(f"{name!r}: {prior!r}" for name, _, prior in self.parts) + "}"


def kernel_prior(kernel, priors, caller):
    """Match ``priors`` ({hyperparameter name: Prior}) to the kernel's free hyperparameters.

    Names are the kernel's (``kernel.hyperparameters``: ``"k1__constant_value"``,
    ``"k2__length_scale"`` in a composite); any free one left out gets ``LogUniform()`` over
    its bounds.

    Returns
    -------
    KernelPrior
    """
    if priors is None:
        priors = {}
    if not isinstance(priors, dict):
        raise TypeError(f"{caller}: priors must be a dict {{hyperparameter name: Prior}} or "
                        f"None, got {type(priors).__name__}")
    records = kernel._hyper()
    free = [h.name for h in records if not h.fixed]
    fixed = [h.name for h in records if h.fixed]
    for name, prior in priors.items():
        if name in fixed:
            raise ValueError(f"{caller}: hyperparameter {name!r} is fixed in the kernel (its "
                             f"bounds are 'fixed'), so it has no prior; free ones: {free}")
        if name not in free:
            raise ValueError(f"{caller}: unknown hyperparameter {name!r} in priors; the "
                             f"kernel's free hyperparameters are {free}")
        if not isinstance(prior, Prior):
            raise TypeError(f"{caller}: priors[{name!r}] must be a scratchgen.gp.priors.Prior "
                            f"(LogNormal, Gamma, LogUniform, Uniform), got "
                            f"{type(prior).__name__}")
    parts, start, log_bounds = [], 0, kernel.bounds
    for h in records:
        if h.fixed:
            continue
        where = slice(start, start + h.n_elements)
        prior = priors.get(h.name, LogUniform())._bind(log_bounds[start])
        parts.append((h.name, where, prior))
        start += h.n_elements
    return KernelPrior(parts, start)
