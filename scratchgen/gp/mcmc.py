"""Markov chain Monte Carlo samplers for a density known up to a constant: slice sampling, HMC.

Each sampler leaves a target density p(x) invariant; neither needs its normalizing constant.

- ``slice_sample``: Neal (2003), "Slice sampling", Annals of Statistics 31(3). Univariate
  updates along coordinates or random directions, with stepping out and shrinkage. No step
  size to tune beyond a rough width; every update moves.
- ``hmc``: Hamiltonian Monte Carlo with the leapfrog integrator and a Metropolis correction
  (Neal 2011, "MCMC using Hamiltonian dynamics", Handbook of MCMC, ch. 5); during warm-up
  the step size is adapted by dual averaging (Hoffman and Gelman 2014, "The No-U-Turn
  Sampler", section 3.2) and a diagonal mass matrix by the draws' variance. Needs the
  gradient of log p.

Both run one chain and return a ``Chain``; ``sample_hyperparameters``
(``mcmc_hyperparameters.py``) runs several and judges them with ``mcmc_diagnostics.py``.
The third sampler, elliptical slice sampling for a Gaussian prior times a likelihood, is
with its one user, the classifier's latent function (``mcmc_latent.py``).
"""
import math
import numbers

import numpy as np

from ..random_state import check_random_state

__all__ = ["Chain", "hmc", "slice_sample"]

_MAX_SHRINK = 200          # a slice that shrinks this often means log p is not a function
                           # of x (it returns different values for the same x)


class Chain:
    """One chain's draws after warm-up.

    Attributes
    ----------
    samples : ndarray, shape (n_samples, d)
    log_density : ndarray, shape (n_samples,)
        log p at each draw.
    acceptance_rate : float
        Accepted proposals over proposals after warm-up (1.0 for slice sampling, which
        always moves).
    n_evaluations : int
        Evaluations of log p (with its gradient, for HMC), warm-up included.
    step_size : float or None
        HMC's step size after warm-up (None for slice sampling).
    n_divergent : int
        HMC trajectories after warm-up abandoned because log p became non-finite on the way
        (an infinite energy error; at a hard boundary of the prior's support, for example).
    inverse_mass : ndarray of shape (d,) or None
        The diagonal of HMC's M^-1 after warm-up (None for slice sampling).
    """

    def __init__(self, samples, log_density, acceptance_rate, n_evaluations, step_size=None,
                 n_divergent=0, inverse_mass=None):
        self.samples, self.log_density = samples, log_density
        self.acceptance_rate, self.n_evaluations = acceptance_rate, n_evaluations
        self.step_size, self.n_divergent = step_size, n_divergent
        self.inverse_mass = inverse_mass


def _check_start(x0, caller):
    """x0 as a finite 1-D float array (a copy), else a ValueError."""
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"{caller}: x0 must be a finite 1-D array with at least one entry, "
                         f"got {x0!r} (shape {x.shape})")
    return x


def _check_start_density(x0, log_p0, caller):
    if not np.isfinite(log_p0):
        raise ValueError(f"{caller}: the log density at x0 must be finite (start inside the "
                         f"support of the target), got {log_p0} at x0={x0}")


def _check_count(value, name, caller, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(value, name, caller, shape=()):
    """A positive finite float array of shape () or ``shape``, else a ValueError."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if (array is None or isinstance(value, bool) or array.shape not in ((), shape)
            or not np.all(np.isfinite(array)) or np.any(array <= 0)):
        wanted = f" or an array of shape {shape}" if shape else ""
        raise ValueError(f"{caller}: {name} must be a positive finite number{wanted}, got "
                         f"{value!r}")
    return array


# ---------------------------------------------------------------------- slice sampling
def slice_sample(log_density, x0, n_samples, *, n_warmup=0, width=1.0,
                 directions="coordinate", max_steps_out=50, random_state=None, progress=None):
    """Draw from p(x) by univariate slice sampling with stepping out and shrinkage.

    One update along a line x + s d (d a coordinate axis times its width, or a random
    direction) is Neal's (2003) Figures 3 and 5:

    1. the slice: draw the height log y = log p(x) - E, E ~ Exp(1) (y ~ U(0, p(x)));
    2. stepping out: place an interval of width 1 in s at random around s = 0, then extend
       either end by 1 while it is still inside the slice (p > y), at most ``max_steps_out``
       steps in all, shared at random between the two ends (the random placement and split
       make the interval as likely from any point of the slice it covers: detailed balance);
    3. shrinkage: draw s uniformly from the interval; accept if p(x + s d) > y, otherwise make
       s the new end on its side of 0 and draw again. The current point never leaves the
       interval, so this ends.

    One iteration updates along d directions in turn: each coordinate (``"coordinate"``) or
    d random unit directions scaled by ``width`` (``"random"``).

    Parameters
    ----------
    log_density : callable
        x (d,) -> log p(x), a float (-inf outside the support).
    x0 : array_like, shape (d,)
        Start, inside the support.
    n_samples : int
        Iterations kept, after ``n_warmup`` discarded ones.
    n_warmup : int
    width : float or ndarray of shape (d,)
        Initial interval width along each coordinate: about the target's spread. Stepping
        out corrects a width too small, shrinkage one too large, at some cost in
        evaluations.
    directions : {"coordinate", "random"}
    max_steps_out : int
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
    progress : progress bar, optional
        Advanced once per iteration (``scratchgen.progress.progress_bar``).

    Returns
    -------
    Chain
    """
    caller = "slice_sample"
    rng = check_random_state(random_state, caller)
    n_samples = _check_count(n_samples, "n_samples", caller, 1)
    n_warmup = _check_count(n_warmup, "n_warmup", caller, 0)
    max_steps_out = _check_count(max_steps_out, "max_steps_out", caller, 0)
    if directions not in ("coordinate", "random"):
        raise ValueError(f"{caller}: directions must be 'coordinate' or 'random', got "
                         f"{directions!r}")
    x = _check_start(x0, caller)
    log_p = float(log_density(x))
    _check_start_density(x, log_p, caller)
    d = x.size
    width = np.broadcast_to(_check_positive(width, "width", caller, (d,)), (d,))
    counter = [1]

    def counted(point):
        counter[0] += 1
        return float(log_density(point))

    samples, log_ps = np.empty((n_samples, d)), np.empty(n_samples)
    for it in range(n_warmup + n_samples):
        for i in range(d):
            if directions == "coordinate":
                step = np.zeros(d)
                step[i] = width[i]
            else:
                u = rng.standard_normal(d)
                step = width * u / np.linalg.norm(u)
            x, log_p = _slice_along(counted, x, log_p, step, max_steps_out, rng)
        if it >= n_warmup:
            samples[it - n_warmup], log_ps[it - n_warmup] = x, log_p
        if progress is not None:
            progress.update()
    return Chain(samples, log_ps, 1.0, counter[0])


def _slice_along(log_density, x, log_p, step, max_steps_out, rng):
    """One slice-sampling update of x along the line x + s * step (Neal 2003, Figs. 3, 5)."""
    log_y = log_p - rng.exponential()                         # y ~ U(0, p(x))
    left = -rng.uniform()                                     # interval [left, left + 1]
    right = left + 1.0
    steps_left = int(rng.integers(0, max_steps_out + 1))
    steps_right = max_steps_out - steps_left
    while steps_left > 0 and log_density(x + left * step) > log_y:
        left -= 1.0
        steps_left -= 1
    while steps_right > 0 and log_density(x + right * step) > log_y:
        right += 1.0
        steps_right -= 1
    for _ in range(_MAX_SHRINK):
        s = rng.uniform(left, right)
        proposal = x + s * step
        log_p_new = log_density(proposal)
        if log_p_new > log_y:
            return proposal, log_p_new
        if s < 0.0:                                           # shrink towards the current x
            left = s
        else:
            right = s
    raise RuntimeError(f"slice_sample: the slice shrank {_MAX_SHRINK} times without finding "
                       f"a point; is log_density deterministic? (x={x}, log p(x)={log_p})")


# ---------------------------------------------------------------------- Hamiltonian MC
def hmc(log_density_and_gradient, x0, n_samples, *, n_warmup=0, step_size=0.1, n_steps=10,
        adapt_step_size=True, adapt_mass=True, target_acceptance=0.8, random_state=None,
        progress=None):
    """Draw from p(x) by Hamiltonian Monte Carlo with a leapfrog integrator.

    With a momentum r ~ N(0, M), M = diag(m), the Hamiltonian
    H(x, r) = -log p(x) + r^T M^-1 r / 2 is the energy of a particle; one iteration (Neal
    2011, sections 5.3.2 and 5.4.1):

    1. draw r ~ N(0, M);
    2. ``n_steps`` leapfrog steps of size eps from (x, r):
           r <- r + eps/2 grad log p(x);  x <- x + eps M^-1 r;  r <- r + eps/2 grad log p(x)
       (volume preserving and reversible, so the proposal is symmetric);
    3. Metropolis correction: accept (x', r') with probability min(1, exp(H(x, r) - H(x', r'))),
       else stay at x. It removes the integrator's error exactly; without it the chain drifts
       to the wrong distribution.

    Warm-up tunes the sampler, and the kept draws then come from one unchanging kernel:

    - with ``adapt_step_size``, dual averaging (Hoffman and Gelman 2014, Algorithm 5: gamma
      0.05, t0 10, kappa 0.75) moves log eps until the mean acceptance probability is
      ``target_acceptance``;
    - with ``adapt_mass`` (and ``n_warmup >= 20``), M^-1 becomes the variance of the draws
      in a window of warm-up (15-35%, then again 35-75% with the better M), shrunk towards
      1e-3 as Stan does, so that each coordinate moves on its own scale; step-size
      adaptation starts again after each window.

    Parameters
    ----------
    log_density_and_gradient : callable
        x (d,) -> (log p(x), grad log p(x) of shape (d,)); log p may be -inf outside the
        support (a trajectory that reaches it is rejected).
    x0 : array_like, shape (d,)
    n_samples, n_warmup : int
    step_size : float
        eps, or its starting value when adapted.
    n_steps : int
        Leapfrog steps per iteration (L); the trajectory's length is eps L.
    adapt_step_size, adapt_mass : bool
    target_acceptance : float in (0, 1)
    random_state : int, numpy.random.Generator, numpy.random.SeedSequence or None
    progress : progress bar, optional

    Returns
    -------
    Chain
        With ``inverse_mass`` (d,), the diagonal of M^-1 used for the kept draws.
    """
    caller = "hmc"
    rng = check_random_state(random_state, caller)
    n_samples = _check_count(n_samples, "n_samples", caller, 1)
    n_warmup = _check_count(n_warmup, "n_warmup", caller, 0)
    n_steps = _check_count(n_steps, "n_steps", caller, 1)
    step_size = float(_check_positive(step_size, "step_size", caller))
    if not (isinstance(target_acceptance, numbers.Real) and 0 < target_acceptance < 1):
        raise ValueError(f"{caller}: target_acceptance must be a number in (0, 1), got "
                         f"{target_acceptance!r}")
    x = _check_start(x0, caller)
    state = (x, *log_density_and_gradient(x))                        # (x, log p, gradient)
    _check_start_density(x, state[1], caller)
    inverse_mass = np.ones(x.size)
    # Two windows of warm-up estimate M^-1, the second (longer) with the first's estimate;
    # the first 15% and the last 25% of warm-up adapt the step size only (as Stan does).
    ends = ([int(0.15 * n_warmup), int(0.35 * n_warmup), int(0.75 * n_warmup)]
            if adapt_mass and n_warmup >= 20 else [])
    window_ends = set(end - 1 for end in ends[1:])
    adaptation = _DualAveraging(step_size, target_acceptance)
    n_evaluations, n_accepted, n_divergent = 1, 0, 0
    samples, log_ps, window_draws = np.empty((n_samples, x.size)), np.empty(n_samples), []
    for it in range(n_warmup + n_samples):
        warming_up = it < n_warmup
        eps = adaptation.step_size if (warming_up and adapt_step_size) else step_size
        state, accept_prob, accepted, n_leapfrog = _hmc_step(
            log_density_and_gradient, state, eps, n_steps, inverse_mass, rng)
        n_evaluations += n_leapfrog
        if warming_up:
            if ends and ends[0] <= it < ends[-1]:
                window_draws.append(state[0])
                if it in window_ends:
                    n = len(window_draws)
                    variance = np.var(window_draws, axis=0, ddof=1)
                    inverse_mass = n / (n + 5.0) * variance + 1e-3 * 5.0 / (n + 5.0)
                    adaptation = _DualAveraging(adaptation.step_size, target_acceptance)
                    window_draws = []
            if adapt_step_size:
                adaptation.update(accept_prob)
                if it == n_warmup - 1:
                    step_size = adaptation.final_step_size
        else:
            n_accepted += accepted
            n_divergent += n_leapfrog < n_steps
            samples[it - n_warmup], log_ps[it - n_warmup] = state[0], state[1]
        if progress is not None:
            progress.update()
    return Chain(samples, log_ps, n_accepted / n_samples, n_evaluations, step_size,
                 n_divergent, inverse_mass)


def _hmc_step(log_density_and_gradient, state, eps, n_steps, inverse_mass, rng):
    """One HMC iteration from state = (x, log p(x), grad log p(x)).

    Returns the new state, the acceptance probability, whether the proposal was accepted,
    and the number of leapfrog steps taken (fewer than ``n_steps`` when log p became
    non-finite on the way: a divergent trajectory, whose H' is infinite and which is accepted
    with probability 0).
    """
    x, log_p, gradient = state
    r = rng.standard_normal(x.size) / np.sqrt(inverse_mass)          # r ~ N(0, M)
    energy = -log_p + 0.5 * np.sum(inverse_mass * r**2)
    x_new, log_p_new, gradient_new = x, log_p, gradient
    r_new = r + 0.5 * eps * gradient_new
    for step in range(n_steps):
        x_new = x_new + eps * inverse_mass * r_new
        log_p_new, gradient_new = log_density_and_gradient(x_new)
        if not np.isfinite(log_p_new):
            return state, 0.0, False, step + 1
        r_new = r_new + (eps if step < n_steps - 1 else 0.5 * eps) * gradient_new
    energy_new = -log_p_new + 0.5 * np.sum(inverse_mass * r_new**2)
    # min(1, exp(H - H')); 0 when the momentum overflowed (H' infinite or NaN)
    accept_prob = math.exp(min(0.0, energy - energy_new)) if np.isfinite(energy_new) else 0.0
    if rng.uniform() < accept_prob:
        return (x_new, float(log_p_new), np.asarray(gradient_new)), accept_prob, True, n_steps
    return state, accept_prob, False, n_steps


class _DualAveraging:
    """Step-size adaptation by dual averaging (Hoffman and Gelman 2014, section 3.2.1).

    After m iterations with acceptance probabilities a_i:
        H_m = (1 - 1/(m + t0)) H_{m-1} + (delta - a_m) / (m + t0)
        log eps_m = mu - sqrt(m) / gamma * H_m,          mu = log(10 eps_0)
        log eps_bar_m = m^-kappa log eps_m + (1 - m^-kappa) log eps_bar_{m-1}
    eps_m is used while adapting, eps_bar (the average, which settles) afterwards.
    """

    def __init__(self, step_size, target, gamma=0.05, t0=10.0, kappa=0.75):
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.mu = math.log(10.0 * step_size)
        self.log_step, self.log_step_bar, self.h_bar, self.m = math.log(step_size), 0.0, 0.0, 0

    @property
    def step_size(self):
        return math.exp(self.log_step)

    @property
    def final_step_size(self):
        return math.exp(self.log_step_bar)

    def update(self, accept_prob):
        self.m += 1
        w = 1.0 / (self.m + self.t0)
        self.h_bar = (1.0 - w) * self.h_bar + w * (self.target - accept_prob)
        self.log_step = self.mu - math.sqrt(self.m) / self.gamma * self.h_bar
        eta = self.m ** -self.kappa
        self.log_step_bar = eta * self.log_step + (1.0 - eta) * self.log_step_bar
