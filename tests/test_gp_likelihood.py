"""The exact GP's likelihood machinery (gp/likelihood.py, gp/linalg.py): tiny entries flushed
before LAPACK, the factorization in place, the sample order of the optimizer, and the
ownership rule of ``Kernel._value_and_vjp``."""

import numpy as np
import pytest
from scipy.linalg import lapack

from scratchgen.gp import GaussianProcessRegressor, cholesky_with_jitter, kernels
from scratchgen.gp.kernels_base import fold_upper
from scratchgen.gp.likelihood import log_marginal_likelihood, maximize_log_marginal_likelihood
from scratchgen.gp.linalg import flush_tiny_lower

TINY_NORMAL = np.finfo(np.float64).tiny


def dense_reference(kernel, X, y, noise):
    """log p(y) and its gradient with an explicit inverse (R&W eq. 5.8, 5.9): the slow way."""
    K, dK = kernel(X, eval_gradient=True)
    K = K + noise * np.eye(len(X))
    K_inv = np.linalg.inv(K)
    a = K_inv @ y
    value = -0.5 * y @ a - 0.5 * np.linalg.slogdet(K)[1] - 0.5 * len(X) * np.log(2 * np.pi)
    gradient = 0.5 * np.einsum("ij,ijp->p", np.outer(a, a) - K_inv, dK)
    return value, gradient


def short_scale_problem(n=300, seed=0):
    """1-D inputs with a length scale much shorter than their spread, and little noise: K's
    entries fall through the subnormal range, as at bench_gp's second evaluation."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, 1))
    y = np.sin(2 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    kernel = kernels.Constant(2.7) * kernels.RBF(0.02) + kernels.White(1e-5)
    return kernel, X, y


@pytest.mark.parametrize("order", ["random", "sorted"])
def test_short_length_scale_likelihood_matches_the_dense_reference(order):
    kernel, X, y = short_scale_problem()
    if order == "sorted":
        idx = np.argsort(X[:, 0])
        X, y = X[idx], y[idx]
    assert np.any((kernel(X) > 0) & (kernel(X) < TINY_NORMAL))       # the hard case
    terms = log_marginal_likelihood(kernel, X, y[:, None], 1e-10, eval_gradient=True)
    value, gradient = dense_reference(kernel, X, y, 1e-10)
    assert terms.value == pytest.approx(value, rel=1e-9)
    np.testing.assert_allclose(terms.gradient, gradient, rtol=1e-7, atol=1e-7)


def test_sorted_short_scale_factor_has_no_subnormal_entries():
    kernel, X, _ = short_scale_problem()
    X = X[np.argsort(X[:, 0])]
    K = kernel(X)
    L, _ = cholesky_with_jitter(K, diagonal=1e-10)
    assert not np.any((L != 0) & (np.abs(L) < TINY_NORMAL))
    # Without the flush, the same factorization makes them.
    L_raw, info = lapack.dpotrf(K + 1e-10 * np.eye(len(X)), lower=1, clean=1)
    assert info == 0 and np.any((L_raw != 0) & (np.abs(L_raw) < TINY_NORMAL))
    np.testing.assert_allclose(L, L_raw, rtol=1e-9, atol=1e-140)


def ard_kernel():
    return kernels.Constant(1.0) * kernels.RBF([1.0, 1.0]) + kernels.White(1.0)


def test_fit_does_not_depend_on_the_order_of_the_samples():
    rng = np.random.default_rng(1)
    X = rng.uniform(-3, 3, (80, 2))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.standard_normal(80)
    perm = rng.permutation(80)
    a = GaussianProcessRegressor(ard_kernel(), random_state=0).fit(X, y)
    b = GaussianProcessRegressor(ard_kernel(), random_state=0).fit(X[perm], y[perm])
    np.testing.assert_allclose(a.kernel_.theta, b.kernel_.theta, rtol=1e-6, atol=1e-8)
    assert a.log_marginal_likelihood_value_ == pytest.approx(b.log_marginal_likelihood_value_,
                                                             rel=1e-10)
    np.testing.assert_allclose(a.predict(X[:5]), b.predict(X[:5]), rtol=1e-8, atol=1e-10)


def test_optimizer_sorts_targets_and_per_sample_noise_with_the_inputs():
    # The objective the optimizer sees (on samples it reorders) is the likelihood of the
    # data as given, per-sample noise included.
    rng = np.random.default_rng(5)
    X = rng.uniform(-3, 3, (40, 2))
    Y = (np.sin(X).sum(axis=1) + 0.1 * rng.standard_normal(40))[:, None]
    noise = rng.uniform(0.01, 0.5, 40)
    kernel = ard_kernel()
    thetas = [kernel.theta, kernel.theta + 0.3]
    seen = []

    def optimizer(objective, theta0, bounds):
        seen.extend(objective(theta) for theta in thetas)
        return theta0, seen[0][0]
    maximize_log_marginal_likelihood(kernel, X, Y, noise, optimizer=optimizer)
    for theta, (value, gradient) in zip(thetas, seen):
        kernel.theta = theta
        terms = log_marginal_likelihood(kernel, X, Y, noise, eval_gradient=True)
        assert -value == pytest.approx(terms.value, rel=1e-12)
        np.testing.assert_allclose(-gradient, terms.gradient, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", [40, 300])       # 300: several blocks of the Cython Cholesky
@pytest.mark.parametrize("needs_jitter", [False, True])
def test_factorization_in_place_matches_the_copy(needs_jitter, n):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, 2))
    if needs_jitter:
        X[n // 2:] = X[:n // 2]              # duplicated rows: K is singular
    K = kernels.RBF(1.5)(X)
    L_copy, jitter_copy = cholesky_with_jitter(K, diagonal=0.0 if needs_jitter else 0.1)
    assert (jitter_copy > 0) == needs_jitter
    K_before = K.copy()
    # Without overwrite_k, or for a read-only K, K is left alone.
    cholesky_with_jitter(K, diagonal=0.1)
    np.testing.assert_array_equal(K, K_before)
    K.flags.writeable = False
    cholesky_with_jitter(K, diagonal=0.1, overwrite_k=True)
    np.testing.assert_array_equal(K, K_before)
    K = K_before.copy()
    L, jitter = cholesky_with_jitter(K, diagonal=0.0 if needs_jitter else 0.1, overwrite_k=True)
    assert np.shares_memory(L, K) and jitter == jitter_copy
    np.testing.assert_array_equal(L, L_copy)
    assert np.all(np.triu(L, 1) == 0)


def test_indefinite_without_a_ladder_claims_no_jitter():
    with pytest.raises(ValueError, match=r"matrix is not positive definite; add noise"):
        cholesky_with_jitter(-np.eye(3), max_tries=0)


@pytest.mark.parametrize("max_tries", [0, 6])
@pytest.mark.parametrize("overwrite_k", [False, True])
def test_nan_is_reported_as_such(max_tries, overwrite_k):
    for bad in (np.nan, np.inf):
        for where in ((1, 2), (2, 2)):
            K = np.eye(4)
            K[where] = K[where[::-1]] = bad
            with pytest.raises(ValueError, match="NaN or infinite"):
                cholesky_with_jitter(K, max_tries=max_tries, overwrite_k=overwrite_k)


def test_value_and_vjp_ownership():
    X = np.random.default_rng(3).standard_normal((12, 2))
    rbf = kernels.RBF([0.7, 1.4])
    K, vjp = rbf._value_and_vjp(X)
    assert not K.flags.writeable                      # its vjp still reads it
    composite = kernels.Constant(2.0) * rbf + kernels.White(0.3)
    K, vjp = composite._value_and_vjp(X)
    assert K.flags.writeable                          # a new array, the caller's
    np.testing.assert_allclose(K, composite(X), rtol=1e-14)
    W = np.triu(np.random.default_rng(4).standard_normal(K.shape))
    g = vjp(W)
    K[:] = np.nan                                     # overwriting K ...
    np.testing.assert_array_equal(vjp(W), g)          # ... changes nothing the vjp reads


def test_value_and_vjp_checks_the_shape_of_w():
    _, vjp = kernels.RBF().value_and_vjp(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"RBF.value_and_vjp: W must have the shape of K, "
                                         r"\(3, 3\), got \(3, 2\)"):
        vjp(np.zeros((3, 2)))


def test_triangle_helpers_reject_what_is_not_a_square_matrix():
    with pytest.raises(ValueError, match=r"flush_tiny_lower: expected a square float64 "
                                         r"matrix, got shape \(3, 2\)"):
        flush_tiny_lower(np.zeros((3, 2), order="F"), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"fold_upper: W must be a square matrix, got shape "
                                         r"\(3, 2\)"):
        fold_upper(np.zeros((3, 2)))
