"""The log marginal likelihood of an exact GP, its gradient, and its maximization over theta.

For targets Y (n, t) with independent columns and covariance K = k(X, X) + noise I,

    log p(Y | X, theta) = sum_t [ -1/2 y_t^T K^-1 y_t - 1/2 log|K| - n/2 log 2 pi ]

computed as in Rasmussen & Williams, Algorithm 2.1: L = cholesky(K), a = L^T \\ (L \\ y),
log|K| = 2 sum_i log L_ii. Its gradient (R&W eq. 5.9, summed over targets) is

    d/dtheta_p = 1/2 tr(W dK/dtheta_p),     W = a a^T - t K^-1.

Cost per evaluation: one Cholesky (n^3 / 3 flops) and, for the gradient, K^-1 from the
factor by LAPACK ``dtrtri`` and ``dlauum`` (2 n^3 / 3) plus a few passes over n x n arrays;
the kernel's ``value_and_vjp`` forms tr(W dK_p) without the (n, n, n_params) tensor.
"""
import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy.linalg import blas, cho_solve, lapack
from scipy.optimize import minimize

from .linalg import (TINY, NotPositiveDefiniteError, cholesky_with_jitter, flush_tiny_lower,
                     frobenius_dot)

__all__ = ["LikelihoodTerms", "log_marginal_likelihood", "maximize_log_marginal_likelihood"]


class LikelihoodTerms(NamedTuple):
    """What one evaluation produces.

    value : float
    gradient : ndarray (n_dims,) or None
    L : ndarray (n, n) or None
        Lower Cholesky factor of K (None when the gradient was computed: the inversion
        overwrites it).
    alpha : ndarray (n, t)
        K^-1 Y.
    jitter : float
        Added to the diagonal beyond the noise (see ``cholesky_with_jitter``).
    weight : ndarray (n, n) or None
        With the gradient: W = alpha alpha^T - t K^-1 folded into its lower triangle (the
        off-diagonal entries doubled; NOTE: what lies above it is left over from the
        factorization, read ``np.tril(weight)``), so that d/dK_ij of the value is
        (T + T^T)_ij / 4 with T = tril(weight), which the GP-LVM carries to the inputs.
    """

    value: float
    gradient: object
    L: object
    alpha: np.ndarray
    jitter: float
    weight: object = None


def log_marginal_likelihood(kernel, X, Y, noise, eval_gradient=False,
                            caller="log_marginal_likelihood"):
    """log p(Y | X, theta) at the kernel's current theta, and optionally its gradient.

    Parameters
    ----------
    kernel : Kernel
    X : ndarray, shape (n, d)
        Checked float64 inputs.
    Y : ndarray, shape (n, t)
        Targets, one column per output.
    noise : float or ndarray of shape (n,)
        Added to the diagonal of K (the regressor's ``alpha``).
    eval_gradient : bool

    Returns
    -------
    LikelihoodTerms

    Raises
    ------
    NotPositiveDefiniteError
        When K + noise I cannot be factored even with the largest jitter.
    """
    if eval_gradient:
        K, vjp = kernel._value_and_vjp(X)
    else:
        K = kernel._value(X, None)
    K_diagonal = np.diag(K) + noise
    # A writeable K is no longer needed (see Kernel._value_and_vjp): L takes its place.
    L, jitter = cholesky_with_jitter(K, diagonal=noise, kernel=kernel, caller=caller,
                                     overwrite_k=K.flags.writeable)
    del K
    row_norms = np.sqrt(np.maximum(K_diagonal + jitter, 0.0))    # of L: sqrt(diag(L L^T))
    alpha = cho_solve((L, True), Y, check_finite=False)        # a = L^T \ (L \ y)
    n, t = Y.shape
    value = (-0.5 * frobenius_dot(Y, alpha) - t * np.log(np.diag(L)).sum()
             - 0.5 * n * t * math.log(2.0 * math.pi))
    if not eval_gradient:
        return LikelihoodTerms(float(value), None, L, alpha, jitter)
    W_lower = _lml_weight_lower(L, alpha, row_norms)
    # W_lower is lower triangular; its transpose is C-ordered, which the kernels read faster.
    gradient = 0.5 * vjp(W_lower.T)
    return LikelihoodTerms(float(value), gradient, None, alpha, jitter, W_lower)


def _lml_weight_lower(L, alpha, row_norms):
    """W = alpha alpha^T - t K^-1, folded into its lower triangle.  L is overwritten.

    Every dK/dtheta is symmetric, so sum_ij W_ij dK_ij only needs the lower triangle of W
    with the off-diagonal entries counted twice. That is exactly what LAPACK gives (lower
    triangle of K^-1, zeros above) and ``dsyrk`` adds (lower triangle of alpha alpha^T), so
    K^-1 is never mirrored into a full matrix.

    K^-1 = L^-T L^-1 comes in LAPACK ``dpotri``'s two steps, ``dtrtri`` (L^-1) and ``dlauum``
    (L^-T L^-1), with the tiny entries of L^-1 flushed to zero in between, as
    ``cholesky_with_jitter`` flushed L's (see ``linalg``). Their scale: column j of L^-1 has
    norm at least 1 / sqrt(K_jj) = 1 / ``row_norms[j]`` (K with its noise and jitter), since
    (K^-1)_jj >= 1 / K_jj.
    """
    t = alpha.shape[1]
    ones = np.ones_like(row_norms)
    L_inv, info = lapack.dtrtri(L, lower=1, overwrite_c=1)
    if info == 0:
        with np.errstate(divide="ignore"):
            flush_tiny_lower(L_inv, ones, TINY / row_norms)
        K_inv_lower, info = lapack.dlauum(L_inv, lower=1, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"log_marginal_likelihood: LAPACK could not invert the "
                                    f"Cholesky factor (info={info})")
    # 2 a a^T - 2 t K^-1 in one pass of dsyrk (lower triangle; 0 above stays 0)
    W = blas.dsyrk(2.0, alpha, beta=-2.0 * t, c=K_inv_lower, lower=1, overwrite_c=1)
    W[np.diag_indices_from(W)] *= 0.5                   # the diagonal counts once
    return W


def maximize_log_marginal_likelihood(kernel, X, Y, noise, n_restarts=0, rng=None,
                                     optimizer="L-BFGS-B", caller="fit", progress=None):
    """Set ``kernel.theta`` to the best of 1 + ``n_restarts`` local maximizations.

    The first run starts from the kernel's theta (clipped into the bounds), the others from
    theta drawn uniformly within the log bounds (log-uniform values) with ``rng.uniform``.

    Parameters
    ----------
    kernel : Kernel
        Modified in place.
    X, Y, noise :
        As for ``log_marginal_likelihood``.
    n_restarts : int
    rng : numpy.random.Generator
        Draws the restart points (needed when ``n_restarts > 0``).
    optimizer : "L-BFGS-B" or callable
        A callable is called as ``optimizer(objective, theta0, bounds)`` and returns
        ``(theta, objective_value)``; the objective returns (-lml, -gradient).
    progress : progress bar, optional
        From ``scratchgen.progress.progress_bar``: advanced once per evaluation, with the
        log marginal likelihood just computed as its postfix.

    Returns
    -------
    float
        The log marginal likelihood at the chosen theta.
    """
    bounds = kernel.bounds
    theta0 = kernel.theta
    outside = (theta0 < bounds[:, 0]) | (theta0 > bounds[:, 1])
    if np.any(outside):
        names = [name for name, out in zip(_theta_names(kernel), outside) if out]
        warnings.warn(f"{caller}: the initial value of {', '.join(names)} lies outside its "
                      "bounds; the optimizer starts from the nearest bound", RuntimeWarning,
                      stacklevel=3)
        theta0 = np.clip(theta0, bounds[:, 0], bounds[:, 1])

    # The likelihood does not depend on the order of the samples. Sorted along the first
    # input dimension, a K whose tiny entries are flushed (see linalg) is banded in one
    # dimension, and so is its Cholesky factor: no fill-in outside the band, so no cascade of
    # ever smaller entries into the subnormal range. (bench_gp, n = 2000, d = 1: the
    # evaluation at length scale 0.004 took 1.3 s unsorted, 0.1 s sorted.) In more
    # dimensions the order costs nothing.
    order = np.argsort(X[:, 0], kind="stable")
    X, Y = X[order], Y[order]
    if np.ndim(noise):
        noise = noise[order]

    def objective(theta):
        kernel.theta = theta
        try:
            terms = log_marginal_likelihood(kernel, X, Y, noise, eval_gradient=True,
                                            caller=caller)
        except NotPositiveDefiniteError:
            # As scikit-learn: an infinitely bad value makes the line search step back.
            terms = None
        if progress is not None:
            progress.update()
            progress.set_postfix(lml="not PD" if terms is None else f"{terms.value:.6g}",
                                 refresh=False)
        if terms is None:
            return np.inf, np.zeros_like(theta)
        return -terms.value, -terms.gradient

    starts = [theta0] + [rng.uniform(bounds[:, 0], bounds[:, 1]) for _ in range(n_restarts)]
    best_theta, best_value = None, np.inf
    for start in starts:
        if callable(optimizer):
            theta, value = optimizer(objective, start, bounds)
        else:
            result = minimize(objective, start, method="L-BFGS-B", jac=True, bounds=bounds)
            if not result.success:
                warnings.warn(f"{caller}: L-BFGS-B stopped without converging from one start "
                              f"({result.message}); the best point found is used",
                              RuntimeWarning, stacklevel=3)
            theta, value = result.x, result.fun
        if value < best_value:
            best_theta, best_value = np.asarray(theta, dtype=np.float64), float(value)
    if best_theta is None:
        kernel.theta = theta0
        raise NotPositiveDefiniteError(
            f"{caller}: the kernel matrix was not positive definite at any point the optimizer "
            f"tried ({len(starts)} start(s)); kernel {kernel!r}. Add noise (a WhiteKernel or "
            "a larger alpha) or narrow the hyperparameter bounds")
    kernel.theta = best_theta
    return -best_value


def _theta_names(kernel):
    """One name per entry of theta: ``length_scale[2]`` for ARD entries."""
    names = []
    for h in kernel._hyper():
        if not h.fixed:
            names += [h.name] if h.n_elements == 1 else [f"{h.name}[{i}]"
                                                         for i in range(h.n_elements)]
    return names
