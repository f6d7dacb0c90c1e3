"""Sparse GP regression (SGPR, Titsias 2009): the bound against the exact marginal likelihood,
its analytic gradient against finite differences, predictions against the exact GP, errors.

The n = 100,000 timing is in benchmarks/bench_sgpr.py, not here.
"""
import numpy as np
import pytest

from scratchgen.gp import GaussianProcessRegressor, NotFittedError, kernels
from scratchgen.gp.sparse import SparseGPRegressor, kmeans_plus_plus
from scratchgen.gp.sparse_bound import CollapsedBound, kernel_terms

KERNELS = {
    "const*rbf_ard": lambda: kernels.ConstantKernel(1.5) * kernels.RBF([0.7, 1.3]),
    "const*matern52_ard": lambda: kernels.ConstantKernel(1.5) * kernels.Matern([0.7, 1.3], nu=2.5),
    "matern32+const*rbf": lambda: (kernels.Matern(0.8, nu=1.5)
                                   + kernels.ConstantKernel(0.3) * kernels.RBF(2.0)),
    "rbf*const": lambda: kernels.RBF(0.9) * kernels.ConstantKernel(2.0),
    "rbf+const": lambda: kernels.RBF(0.9) + kernels.ConstantKernel(0.5),
    "matern12": lambda: kernels.Matern(0.9, nu=0.5),
    "const*fixed_rbf": lambda: kernels.ConstantKernel(1.5) * kernels.RBF(0.8, "fixed"),
}


def toy_data(n, d=2, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, d))
    f = np.sin(2 * X[:, 0]) + (0.5 * X[:, 1] if d > 1 else 0.0)
    return X, f + noise * rng.normal(size=n), f


def exact_lml(kernel, X, y, noise):
    """log N(y | 0, K + noise I) from the exact regressor at fixed hyperparameters."""
    gp = GaussianProcessRegressor(kernel, alpha=noise, optimizer=None).fit(X, y)
    return gp.log_marginal_likelihood_value_


def unfitted_bound(kernel, X, y):
    terms, _ = kernel_terms(kernel, X.shape[1])
    return CollapsedBound(X, y, terms)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_bound_is_below_the_exact_log_marginal_likelihood(name):
    kernel = KERNELS[name]()
    X, y, _ = toy_data(80)
    rng = np.random.default_rng(1)
    bound = unfitted_bound(kernel, X, y)
    exact = exact_lml(kernel, X, y, 0.05)
    for m in (3, 10, 30):
        Z = rng.uniform(-2, 2, size=(m, 2)) - bound.offset
        assert bound.evaluate(kernel.theta, 0.05, Z) < exact


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_bound_reaches_the_exact_value_when_Z_is_X(name):
    kernel = KERNELS[name]()
    X, y, _ = toy_data(60, seed=2)
    bound = unfitted_bound(kernel, X, y)
    F = bound.evaluate(kernel.theta, 0.05, X - bound.offset)
    exact = exact_lml(kernel, X, y, 0.05)
    # Only the jitter (1e-6 of the prior variance on K_mm) separates the two.
    assert F <= exact + 1e-8
    assert exact - F < 1e-3


def central_difference(fun, x, eps=1e-6):
    return (fun(x + eps) - fun(x - eps)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_gradient_matches_finite_differences(name):
    kernel = KERNELS[name]()
    X, y, _ = toy_data(70, seed=3)
    rng = np.random.default_rng(4)
    bound = unfitted_bound(kernel, X, y)
    theta, s2 = kernel.theta, 0.2
    Z = rng.uniform(-2, 2, size=(12, 2)) - bound.offset
    F, (g_theta, g_log_s2, g_Z) = bound.evaluate(theta, s2, Z, eval_gradient=True)
    assert F == pytest.approx(bound.evaluate(theta, s2, Z), rel=1e-12)
    for i in range(theta.size):
        e = np.eye(theta.size)[i]
        numeric = central_difference(lambda h: bound.evaluate(theta + h * e, s2, Z), 0.0)
        assert g_theta[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5), f"theta[{i}]"
    numeric = central_difference(lambda h: bound.evaluate(theta, s2 * np.exp(h), Z), 0.0)
    assert g_log_s2 == pytest.approx(numeric, rel=1e-5, abs=1e-5)
    # Z along random directions: <dF/dZ, U> against (F(Z + hU) - F(Z - hU)) / 2h
    for _ in range(3):
        U = rng.normal(size=Z.shape)
        numeric = central_difference(lambda h: bound.evaluate(theta, s2, Z + h * U), 0.0)
        assert np.vdot(g_Z, U) == pytest.approx(numeric, rel=1e-5, abs=1e-5)


def test_elbo_method_gives_the_fitted_value_and_gradient():
    X, y, _ = toy_data(100, seed=5)
    gp = SparseGPRegressor(n_inducing=10, noise=0.1, max_iter=5, random_state=0).fit(X, y)
    assert gp.elbo() == pytest.approx(gp.elbo_, rel=1e-12)
    F, (g_theta, g_log_noise, g_Z) = gp.elbo(eval_gradient=True)
    assert g_theta.shape == gp.kernel_.theta.shape and g_Z.shape == (10, 2)
    shifted = gp.elbo(noise=gp.noise_ * np.exp(1e-6))
    assert g_log_noise == pytest.approx((shifted - F) / 1e-6, rel=1e-3, abs=1e-3)


def test_fitting_increases_the_bound_and_finds_the_noise():
    X, y, f = toy_data(1500, d=1, seed=6, noise=0.1)
    kernel = kernels.ConstantKernel(1.0) * kernels.RBF(1.0)
    start = SparseGPRegressor(kernel, n_inducing=20, max_iter=0, random_state=0).fit(X, y)
    gp = SparseGPRegressor(kernel, n_inducing=20, max_iter=100, random_state=0).fit(X, y)
    assert gp.elbo_ > start.elbo_ + 100
    assert gp.noise_ == pytest.approx(0.01, rel=0.2)
    assert np.sqrt(np.mean((gp.predict(X) - f) ** 2)) < 0.02
    assert gp.kernel_.theta.shape == kernel.theta.shape and kernel.theta[0] == 0.0  # untouched
    assert gp.inducing_points_.shape == (20, 1)


def test_predictions_equal_the_exact_gp_when_Z_is_X():
    X, y, _ = toy_data(150, seed=7)
    Xs = np.random.default_rng(8).uniform(-2.5, 2.5, size=(40, 2))
    kernel = kernels.ConstantKernel(1.3) * kernels.RBF([0.8, 1.5])
    exact = GaussianProcessRegressor(kernel, alpha=0.04, optimizer=None).fit(X, y)
    sparse = SparseGPRegressor(kernel, noise=0.04, max_iter=0).fit(X, y, inducing_points=X)
    mean, std = exact.predict(Xs, return_std=True)
    s_mean, s_std = sparse.predict(Xs, return_std=True)
    # equal up to the jitter on K_mm (1e-6 of the prior variance), which a near-singular
    # K_mm = K(X, X) turns into ~1e-4 here
    np.testing.assert_allclose(s_mean, mean, atol=1e-3)
    np.testing.assert_allclose(s_std, std, atol=1e-3)
    _, s_std_y = sparse.predict(Xs, return_std=True, include_noise=True)
    np.testing.assert_allclose(s_std_y ** 2, s_std ** 2 + 0.04, rtol=1e-10)


def test_fitted_sparse_gp_is_close_to_the_exact_gp():
    X, y, _ = toy_data(300, seed=9)
    Xs, _, fs = toy_data(300, seed=10)
    sparse = SparseGPRegressor(kernels.ConstantKernel(1.0) * kernels.RBF([1.0, 1.0]),
                               n_inducing=30, noise=0.1, max_iter=60, random_state=0).fit(X, y)
    # the exact GP at the hyperparameters the sparse fit found
    exact = GaussianProcessRegressor(sparse.kernel_, alpha=sparse.noise_, optimizer=None)
    exact.fit(X, y)
    assert sparse.elbo_ <= exact.log_marginal_likelihood_value_
    assert exact.log_marginal_likelihood_value_ - sparse.elbo_ < 2.0
    rmse_exact = np.sqrt(np.mean((exact.predict(Xs) - fs) ** 2))
    rmse_sparse = np.sqrt(np.mean((sparse.predict(Xs) - fs) ** 2))
    assert rmse_sparse < 1.1 * rmse_exact + 0.002
    mean, std = sparse.predict(Xs, return_std=True)
    exact_mean, exact_std = exact.predict(Xs, return_std=True)
    assert np.abs(mean - exact_mean).max() < 0.02
    assert np.abs(std - exact_std).max() < 0.02


def test_smoke_twenty_thousand_points_in_1d():
    X, y, f = toy_data(20000, d=1, seed=11, noise=0.2)
    gp = SparseGPRegressor(n_inducing=20, noise=0.1, max_iter=15, random_state=0).fit(X, y)
    assert np.sqrt(np.mean((gp.predict(X[:2000]) - f[:2000]) ** 2)) < 0.03
    assert gp.noise_ == pytest.approx(0.04, rel=0.1)


def test_normalize_y_maps_predictions_back():
    X, y, _ = toy_data(300, d=1, seed=12)
    Xs = np.linspace(-2, 2, 7)[:, None]
    plain = SparseGPRegressor(n_inducing=15, noise=0.01, max_iter=30, random_state=0).fit(X, y)
    scaled = SparseGPRegressor(n_inducing=15, noise=0.01, max_iter=30, normalize_y=True,
                               random_state=0).fit(X, 1000 * y + 5)
    np.testing.assert_allclose((scaled.predict(Xs) - 5) / 1000, plain.predict(Xs), atol=2e-2)


def test_fixed_everything_evaluates_without_optimizing():
    X, y, _ = toy_data(50, seed=13)
    kernel = kernels.ConstantKernel(1.0, "fixed") * kernels.RBF(1.0, "fixed")
    gp = SparseGPRegressor(kernel, n_inducing=5, noise=0.1, noise_bounds="fixed",
                           optimize_inducing=False, random_state=0).fit(X, y)
    assert gp.n_iter_ == 0 and gp.noise_ == 0.1
    assert np.isfinite(gp.elbo_)


def test_kmeans_plus_plus_finds_separated_clusters():
    rng = np.random.default_rng(14)
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    X = np.concatenate([c + 0.1 * rng.normal(size=(200, 2)) for c in centers])
    found = kmeans_plus_plus(X, 4, rng)
    distance = np.linalg.norm(found[:, None] - centers[None], axis=2)
    assert sorted(distance.argmin(axis=1)) == [0, 1, 2, 3]
    assert distance.min(axis=1).max() < 0.1


def test_more_inducing_points_than_distinct_inputs_uses_the_inputs():
    X = np.repeat(np.linspace(0, 1, 10)[:, None], 3, axis=0)
    y = np.sin(X[:, 0])
    gp = SparseGPRegressor(n_inducing=50, noise=0.01, max_iter=5).fit(X, y)
    assert gp.inducing_points_.shape == (10, 1)


@pytest.mark.parametrize("kernel, match", [
    (kernels.RBF(1.0) + kernels.WhiteKernel(0.1), "noise"),
    (kernels.RationalQuadratic(), "Constant, RBF and Matern"),
    (kernels.RBF(1.0) * kernels.Matern(1.0), "product of two"),
])
def test_unsupported_kernels_are_refused(kernel, match):
    X, y, _ = toy_data(20)
    with pytest.raises((TypeError, ValueError), match=match):
        SparseGPRegressor(kernel, n_inducing=5).fit(X, y)


@pytest.mark.parametrize("settings, match", [
    ({"n_inducing": 0}, "n_inducing"),
    ({"max_iter": -1}, "max_iter"),
    ({"noise": 0.0}, "noise"),
    ({"noise": 1e4}, "noise_bounds"),
    ({"noise_bounds": "free"}, "noise_bounds"),
    ({"kernel": "rbf"}, "Kernel"),
])
def test_bad_settings_are_refused(settings, match):
    X, y, _ = toy_data(20)
    with pytest.raises((TypeError, ValueError), match=match):
        SparseGPRegressor(**settings).fit(X, y)


def test_bad_data_is_refused():
    X, y, _ = toy_data(20)
    gp = SparseGPRegressor(n_inducing=5, max_iter=2)
    with pytest.raises(NotFittedError, match="SparseGPRegressor.predict: .*not fitted"):
        gp.predict(X)
    with pytest.raises(ValueError, match="SparseGPRegressor.fit: X must be finite"):
        gp.fit(np.where(np.arange(40).reshape(20, 2) == 3, np.nan, X), y)
    with pytest.raises(ValueError, match=r"SparseGPRegressor.fit: y must be finite, but y\[4\]"):
        gp.fit(X, np.where(np.arange(20) == 4, np.inf, y))
    with pytest.raises(ValueError, match=r"expected y of shape \(20,\)"):
        gp.fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-D array"):
        gp.fit(X[:, 0], y)
    with pytest.raises(ValueError, match="inducing_points has 3 features"):
        gp.fit(X, y, inducing_points=np.zeros((4, 3)))
    gp.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features but the model was fitted on 2"):
        gp.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected theta of shape"):
        gp.elbo(theta=np.zeros(7))
