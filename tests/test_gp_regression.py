"""GaussianProcessRegressor: agreement with scikit-learn, calibration, input gradients,
numerical hazards (duplicates, near-singular and indefinite kernels), persistence, errors."""
import warnings

import numpy as np
import pytest

from scratchgen.gp import GaussianProcessRegressor, NotFittedError, NotPositiveDefiniteError
from scratchgen.gp import cholesky_with_jitter, kernels
from scratchgen.gp.linalg import frobenius_dot, matmul
from scratchgen.gp.kernels_stationary import RBF


def data(n=40, d=2, seed=0, targets=None):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (n, d))
    f = np.sin(X).sum(axis=1)
    y = f + 0.1 * rng.standard_normal(n)
    if targets:
        y = np.stack([y * (t + 1) + t for t in range(targets)], axis=1)
    return X, y


# scratchgen and scikit-learn versions of the same kernel, as source over a namespace.
ORACLE_KERNELS = {
    "ard": ("Constant(1.7) * RBF([0.8, 1.9]) + White(0.05)",
            "ConstantKernel(1.7) * RBF([0.8, 1.9]) + WhiteKernel(0.05)"),
    "matern": ("Constant(0.7) * Matern(1.2, nu=2.5) + White(0.1)",
               "ConstantKernel(0.7) * Matern(1.2, nu=2.5) + WhiteKernel(0.1)"),
    "mixed": ("RationalQuadratic(0.9, 2.0) * ExpSineSquared(1.1, 3.0) + DotProduct(0.4)",
              "RationalQuadratic(0.9, 2.0) * ExpSineSquared(1.1, 3.0) + DotProduct(0.4)"),
    "noise_free": ("Constant(2.0) * Matern([1.0, 0.6], nu=1.5)",
                   "ConstantKernel(2.0) * Matern([1.0, 0.6], nu=1.5)"),
}


def oracle_pair(name):
    sk = pytest.importorskip("sklearn.gaussian_process.kernels")
    ours, theirs = ORACLE_KERNELS[name]
    ns_ours = {name: getattr(kernels, name) for name in kernels.__all__}
    ns_sk = {name: getattr(sk, name) for name in dir(sk) if not name.startswith("_")}
    return eval(ours, ns_ours), eval(theirs, ns_sk)


def assert_rel(actual, expected, rtol=1e-8):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.maximum(np.abs(expected), 1e-3 * max(np.abs(expected).max(), 1e-300))
    assert np.all(np.abs(actual - expected) <= rtol * scale), (actual, expected)


@pytest.mark.parametrize("name", ORACLE_KERNELS)
@pytest.mark.parametrize("normalize_y, targets, alpha", [(False, None, 1e-10),
                                                          (True, 3, 1e-6)])
def test_fixed_hyperparameters_match_scikit_learn(name, normalize_y, targets, alpha):
    from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
    ours_k, sk_k = oracle_pair(name)
    X, y = data(targets=targets)
    Xt, _ = data(n=15, seed=1)
    ours = GaussianProcessRegressor(ours_k, alpha=alpha, normalize_y=normalize_y,
                                    optimizer=None).fit(X, y)
    theirs = SkGPR(sk_k, alpha=alpha, normalize_y=normalize_y, optimizer=None).fit(X, y)
    assert_rel(ours.log_marginal_likelihood_value_, theirs.log_marginal_likelihood_value_)
    theta = ours.kernel_.theta + 0.1
    lml, grad = ours.log_marginal_likelihood(theta, eval_gradient=True)
    lml_sk, grad_sk = theirs.log_marginal_likelihood(theta, eval_gradient=True)
    assert_rel(lml, lml_sk)
    assert_rel(grad, grad_sk)
    for kwargs in ({"return_std": True}, {"return_cov": True}):
        for a, b in zip(ours.predict(Xt, **kwargs), theirs.predict(Xt, **kwargs)):
            assert a.shape == b.shape
            assert_rel(a, b)
    assert_rel(ours.alpha_, theirs.alpha_)
    assert_rel(ours.score(Xt, ours.predict(Xt) + 0.1), theirs.score(Xt, theirs.predict(Xt) + 0.1))


def test_fit_reaches_scikit_learns_optimum_with_the_same_restarts():
    from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
    ours_k, sk_k = oracle_pair("ard")
    X, y = data(n=60)
    ours = GaussianProcessRegressor(ours_k, n_restarts=2, random_state=3).fit(X, y)
    theirs = SkGPR(sk_k, n_restarts_optimizer=2, random_state=3).fit(X, y)
    assert ours.log_marginal_likelihood_value_ >= theirs.log_marginal_likelihood_value_ - 1e-6
    np.testing.assert_allclose(ours.kernel_.theta, theirs.kernel_.theta, rtol=1e-4, atol=1e-4)
    # The fitted value is the likelihood at the fitted theta, and the gradient vanishes there.
    lml, grad = ours.log_marginal_likelihood(ours.kernel_.theta, eval_gradient=True)
    assert lml == pytest.approx(ours.log_marginal_likelihood_value_, rel=1e-10)
    assert np.abs(grad).max() < 1e-2
    assert repr(ours.kernel) == repr(ours_k)          # the given kernel is left unchanged


def test_default_kernel_is_fixed_constant_times_rbf():
    X, y = data()
    gp = GaussianProcessRegressor().fit(X, y)
    assert repr(gp.kernel_) == "1**2 * RBF(length_scale=1)"
    assert gp.kernel_.n_dims == 0


def test_prior_before_fit_and_far_from_data():
    k = kernels.Constant(2.0) * kernels.RBF(0.5) + kernels.White(0.1)
    gp = GaussianProcessRegressor(k)
    X = np.linspace(-2, 2, 6)[:, None]
    mean, cov = gp.predict(X, return_cov=True)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(cov, k(X))
    np.testing.assert_allclose(gp.predict(X, return_std=True)[1], np.sqrt(2.1))
    samples = gp.sample_y(X, 4000, random_state=0)
    assert samples.shape == (6, 4000)
    np.testing.assert_allclose(np.cov(samples), k(X), atol=0.15)
    # Conditioning on data far away leaves the prior unchanged.
    gp = GaussianProcessRegressor(k, optimizer=None).fit(X + 100.0, np.ones(6))
    mean, std = gp.predict(X, return_std=True)
    np.testing.assert_allclose(mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(std, np.sqrt(2.1), rtol=1e-12)


def test_predictive_intervals_cover_95_percent_of_prior_draws():
    # y = f + noise with f from the GP prior; the true kernel held fixed. 40 draws x 100
    # held-out points: the coverage has a standard error of about 0.3%.
    k = kernels.Constant(1.5) * kernels.Matern([0.7, 1.2], nu=2.5) + kernels.White(0.05)
    rng = np.random.default_rng(0)
    hits = total = 0
    for _ in range(40):
        X = rng.uniform(-3, 3, (130, 2))
        y = np.linalg.cholesky(k(X)) @ rng.standard_normal(130)
        gp = GaussianProcessRegressor(k, optimizer=None).fit(X[:30], y[:30])
        mean, std = gp.predict(X[30:], return_std=True)
        hits += np.sum(np.abs(y[30:] - mean) <= 1.959964 * std)
        total += 100
    assert 0.92 <= hits / total <= 0.98


def test_posterior_samples_have_the_predicted_moments():
    X, y = data(n=20, d=1)
    gp = GaussianProcessRegressor(kernels.RBF(1.0) + kernels.White(0.01)).fit(X, y)
    Xt = np.linspace(-3, 3, 5)[:, None]
    mean, cov = gp.predict(Xt, return_cov=True)
    samples = gp.sample_y(Xt, 20000, random_state=np.random.default_rng(1))
    np.testing.assert_allclose(samples.mean(axis=1), mean, atol=0.01)
    np.testing.assert_allclose(np.cov(samples), cov, atol=0.005)
    assert gp.sample_y(Xt, 2, random_state=5).shape == (5, 2)
    np.testing.assert_array_equal(gp.sample_y(Xt, 2, random_state=5),
                                  gp.sample_y(Xt, 2, random_state=5))


def test_sample_y_takes_rng_as_a_deprecated_name_of_random_state():
    X, y = data(n=10, d=1)
    gp = GaussianProcessRegressor(kernels.RBF(1.0) + kernels.White(0.01)).fit(X, y)
    with pytest.warns(DeprecationWarning, match="sample_y: rng is deprecated, pass random_state"):
        old = gp.sample_y(X[:3], 2, rng=4)
    np.testing.assert_array_equal(old, gp.sample_y(X[:3], 2, random_state=4))
    with pytest.raises(TypeError, match="sample_y: pass random_state only"):
        gp.sample_y(X[:3], 2, random_state=1, rng=1)
    with pytest.raises(TypeError, match="GaussianProcessRegressor.sample_y: random_state must be"):
        gp.sample_y(X[:3], 2, random_state="1")


def test_multiple_targets_shapes():
    X, y = data(targets=3)
    gp = GaussianProcessRegressor(kernels.RBF() + kernels.White(0.1), normalize_y=True).fit(X, y)
    Xt = X[:5]
    assert gp.predict(Xt).shape == (5, 3)
    assert gp.predict(Xt, return_std=True)[1].shape == (5, 3)
    assert gp.predict(Xt, return_cov=True)[1].shape == (5, 5, 3)
    assert gp.sample_y(Xt, 4).shape == (5, 3, 4)
    assert [g.shape for g in gp.predict_gradient(Xt)] == [(5, 2, 3), (5, 2, 3)]
    one = GaussianProcessRegressor(kernels.RBF()).fit(X, y[:, :1])
    assert one.predict(Xt).shape == (5,)


def finite_difference_moments(gp, X, eps=1e-6):
    d_mean, d_var = [], []
    for j in range(X.shape[1]):
        step = np.zeros_like(X)
        step[:, j] = eps
        m_plus, s_plus = gp.predict(X + step, return_std=True)
        m_minus, s_minus = gp.predict(X - step, return_std=True)
        d_mean.append((m_plus - m_minus) / (2 * eps))
        d_var.append((s_plus**2 - s_minus**2) / (2 * eps))
    return np.stack(d_mean, axis=1), np.stack(d_var, axis=1)


@pytest.mark.parametrize("spec", ["constant * rbf + white", "matern52 + white", "matern32",
                                  "periodic * rbf + white", "linear + polynomial + white",
                                  "rq + white"])
@pytest.mark.parametrize("normalize_y", [False, True])
def test_predict_gradient_matches_finite_differences(spec, normalize_y):
    X, y = data(n=25, d=2)
    gp = GaussianProcessRegressor(kernels.parse(spec), alpha=1e-6, normalize_y=normalize_y,
                                  optimizer=None).fit(X, y)
    Xt = np.random.default_rng(7).uniform(-3, 3, (6, 2))
    d_mean, d_var = gp.predict_gradient(Xt)
    fd_mean, fd_var = finite_difference_moments(gp, Xt)
    np.testing.assert_allclose(d_mean, fd_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d_var, fd_var, rtol=1e-5, atol=1e-6)


def test_predict_gradient_of_the_prior_and_in_chunks():
    gp = GaussianProcessRegressor(kernels.DotProduct(0.5))
    X = np.random.default_rng(0).standard_normal((600, 3))       # more rows than one chunk
    d_mean, d_var = gp.predict_gradient(X)
    np.testing.assert_array_equal(d_mean, 0.0)
    np.testing.assert_allclose(d_var, 2 * X)                     # d(s^2 + x.x)/dx
    stationary = GaussianProcessRegressor(kernels.RBF())
    np.testing.assert_array_equal(stationary.predict_gradient(X[:3])[1], 0.0)


def test_duplicate_inputs_still_work():
    X, y = data(n=30, d=1)
    X, y = np.vstack([X, X[:10]]), np.concatenate([y, y[:10] + 0.01])
    # With the default alpha = 1e-10 the repeated rows still factor...
    gp = GaussianProcessRegressor(kernels.RBF(1.0)).fit(X, y)
    assert np.all(np.isfinite(gp.predict(X, return_std=True)))
    # ... and without any, the jitter ladder steps in and says so.
    with pytest.warns(RuntimeWarning, match="added .* to its diagonal"):
        gp = GaussianProcessRegressor(kernels.RBF(1.0, "fixed"), alpha=0.0).fit(X, y)
    assert gp.jitter_ > 0
    mean, std = gp.predict(X, return_std=True)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noisy = GaussianProcessRegressor(kernels.RBF() + kernels.White(0.1)).fit(X, y)
    assert noisy.jitter_ == 0.0 and np.isfinite(noisy.log_marginal_likelihood_value_)


def test_near_singular_kernel_is_handled_with_jitter():
    X = np.linspace(0, 1, 200)[:, None]                 # very smooth kernel, dense inputs
    y = np.sin(3 * X[:, 0])
    with pytest.warns(RuntimeWarning, match="not numerically positive definite"):
        gp = GaussianProcessRegressor(kernels.RBF(5.0, "fixed"), alpha=0.0).fit(X, y)
    assert np.isfinite(gp.log_marginal_likelihood_value_)
    assert np.abs(gp.predict(X) - y).max() < 0.02


class IndefiniteKernel(RBF):
    """-RBF: not a valid covariance, for checking the error path."""

    def _f(self, S):
        K, extra = super()._f(S)
        return -K, extra


def test_indefinite_kernel_raises_a_clear_error():
    X, y = data(n=10)
    with pytest.raises(NotPositiveDefiniteError, match=r"not positive definite, even after "
                       r"adding jitter .* \(1e-05 times the mean diagonal"):
        GaussianProcessRegressor(IndefiniteKernel(), optimizer=None).fit(X, y)
    with pytest.raises(NotPositiveDefiniteError, match="at any point the optimizer tried"):
        GaussianProcessRegressor(IndefiniteKernel()).fit(X, y)


def test_cholesky_with_jitter():
    A = np.array([[2.0, 1.0], [1.0, 2.0]])
    L, jitter = cholesky_with_jitter(A)
    assert jitter == 0.0 and np.allclose(L @ L.T, A)
    ones = np.ones((3, 3))                              # rank one: needs jitter
    L, jitter = cholesky_with_jitter(ones)
    assert jitter == pytest.approx(1e-10)            # the first rung of the ladder
    np.testing.assert_allclose(L @ L.T, ones + jitter * np.eye(3))
    with pytest.raises(NotPositiveDefiniteError, match=r"kernel RBF\(length_scale=1\) is not "
                       r"positive definite, even after adding jitter 1e-05"):
        cholesky_with_jitter(-A, kernel=kernels.RBF())
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="NaN or infinite"):
            cholesky_with_jitter(np.array([[1.0, bad, 0.0], [bad, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="expected a square 2-D matrix"):
        cholesky_with_jitter(np.ones((2, 3)))


def test_save_load_round_trip(tmp_path):
    X, y = data(targets=2)
    gp = GaussianProcessRegressor(kernels.parse("constant * rbf + white"), alpha=1e-8,
                                  normalize_y=True, n_restarts=1, random_state=4).fit(X, y)
    gp.save(tmp_path / "gp.ckpt")
    back = GaussianProcessRegressor.load(tmp_path / "gp.ckpt")
    assert repr(back.kernel_) == repr(gp.kernel_) and repr(back.kernel) == repr(gp.kernel)
    assert (back.alpha, back.n_restarts, back.normalize_y, back.random_state) == (1e-8, 1, True, 4)
    Xt = X[:7] + 0.3
    for a, b in zip(back.predict(Xt, return_std=True), gp.predict(Xt, return_std=True)):
        np.testing.assert_array_equal(a, b)
    assert back.log_marginal_likelihood() == gp.log_marginal_likelihood()
    np.testing.assert_array_equal(back.predict_gradient(Xt)[0], gp.predict_gradient(Xt)[0])
    unfitted = GaussianProcessRegressor()
    unfitted.save(tmp_path / "prior.ckpt")
    back = GaussianProcessRegressor.load(tmp_path / "prior.ckpt")
    assert back.kernel is None and not hasattr(back, "X_train_")


def test_load_rejects_other_checkpoints(tmp_path):
    import scratchgen as sg
    sg.save({"format": "something else"}, tmp_path / "x.ckpt")
    with pytest.raises(ValueError, match="does not hold a GaussianProcessRegressor"):
        GaussianProcessRegressor.load(tmp_path / "x.ckpt")


@pytest.mark.parametrize("X, y, message", [
    (np.array([[0.0], [np.nan]]), [1.0, 2.0], r"fit: X must be finite, but X\[1, 0\] = nan"),
    (np.zeros((2, 1)), [1.0, np.inf], r"fit: y must be finite, but y\[1\] = inf"),
    (np.zeros((3, 1)), [1.0, 2.0], "fit: X has 3 samples but y has 2"),
    (np.zeros(3), [1.0, 2.0, 3.0], "fit: X must be a 2-D array"),
    (np.zeros((2, 1)), np.zeros((2, 1, 1)), r"y must have shape \(n_samples,\)"),
])
def test_bad_fit_inputs(X, y, message):
    with pytest.raises(ValueError, match=message):
        GaussianProcessRegressor().fit(X, y)


def test_bad_parameters_and_calls():
    X, y = data(n=5)
    with pytest.raises(ValueError, match=r"alpha must be a number or an array of shape \(5,\)"):
        GaussianProcessRegressor(alpha=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        GaussianProcessRegressor(alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="n_restarts must be an integer >= 0"):
        GaussianProcessRegressor(n_restarts=-1).fit(X, y)
    with pytest.raises(ValueError, match="optimizer must be 'L-BFGS-B'"):
        GaussianProcessRegressor(optimizer="adam").fit(X, y)
    with pytest.raises(TypeError, match="kernel must be a scratchgen.gp.kernels.Kernel"):
        GaussianProcessRegressor(kernel="rbf").fit(X, y)
    with pytest.raises(ValueError, match="length_scale has 3 entries .* X has 2"):
        GaussianProcessRegressor(kernels.RBF([1.0, 1.0, 1.0])).fit(X, y)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianProcessRegressor().log_marginal_likelihood()
    gp = GaussianProcessRegressor().fit(X, y)
    with pytest.raises(ValueError, match=r"predict: X has 3 features but the model was fitted "
                                         r"on 2 \(expected shape \(m, 2\), got \(4, 3\)\)"):
        gp.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="predict_gradient: X must be finite"):
        gp.predict_gradient(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="at most one of return_std and return_cov"):
        gp.predict(X, return_std=True, return_cov=True)
    with pytest.raises(ValueError, match="eval_gradient=True needs theta"):
        gp.log_marginal_likelihood(eval_gradient=True)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        gp.sample_y(X, 0)
    with pytest.raises(ValueError, match="score: X has 5 samples but y has 4"):
        gp.score(X, y[:4])


def test_initial_values_outside_the_bounds_are_reported():
    X, y = data(n=20)
    with pytest.warns(RuntimeWarning, match="noise_level lies outside its bounds"):
        GaussianProcessRegressor(kernels.RBF() + kernels.White(1e-7)).fit(X, y)


@pytest.mark.parametrize("layout", ["c", "fortran"])
def test_scipy_blas_product_matches_numpy(layout):
    # frobenius_dot (gp/linalg.py) takes SciPy's BLAS for C-contiguous float64 arrays and
    # NumPy otherwise; both ways give NumPy's number.
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((7, 7)), rng.standard_normal((7, 7))
    if layout == "fortran":
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    np.testing.assert_allclose(frobenius_dot(A, B), np.sum(A * B), rtol=1e-13)
    with pytest.raises(ValueError, match=r"frobenius_dot: .* \(7, 7\) and \(49,\)"):
        frobenius_dot(A, B.reshape(-1))
    # matmul (the backend's BLAS) is NumPy's @ for matrices and vectors, either layout.
    for b in (B, B[:, 0], B.T, B[:, :3]):
        np.testing.assert_allclose(matmul(A, b), A @ b, rtol=1e-13, atol=1e-14)
        assert matmul(A, b).shape == (A @ b).shape
    with pytest.raises(ValueError, match=r"matmul: .* got shapes \(7, 7\) and \(3, 7\)"):
        matmul(A, B[:3])


def test_not_fitted_error_is_one_class_importable_from_its_old_homes():
    from scratchgen.gp import regression, validation
    assert regression.NotFittedError is validation.NotFittedError is NotFittedError
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    sklearn_exceptions = pytest.importorskip("sklearn.exceptions")
    assert issubclass(NotFittedError, sklearn_exceptions.NotFittedError)


def test_the_estimators_share_one_query_feature_check():
    from scratchgen.gp import GaussianProcessClassifier, SparseGPRegressor
    X, y = data(n=20)
    fitted = [GaussianProcessRegressor(kernels.RBF(1.0), optimizer=None).fit(X, y),
              SparseGPRegressor(n_inducing=5, max_iter=0, random_state=0).fit(X, y),
              GaussianProcessClassifier(kernels.RBF(1.0, "fixed")).fit(X, y > 0)]
    needs_fit = {"GaussianProcessRegressor": "log_marginal_likelihood",
                 "SparseGPRegressor": "predict", "GaussianProcessClassifier": "predict"}
    for gp in fitted:
        name = type(gp).__name__
        with pytest.raises(ValueError, match=rf"^{name}.predict: X has 3 features but the model "
                                             r"was fitted on 2 \(expected shape \(m, 2\), got "
                                             r"\(4, 3\)\)$"):
            gp.predict(np.zeros((4, 3)))
        method = needs_fit[name]
        with pytest.raises(NotFittedError, match=rf"^{name}.{method}: this {name} is not "
                                                 r"fitted yet; call fit\(X, y\) first$"):
            getattr(type(gp)(), method)(X)
