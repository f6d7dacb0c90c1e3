"""Binary GP classification with the Laplace approximation: agreement with scikit-learn's
GaussianProcessClassifier (same approximation), the gradient of the approximate log marginal
likelihood against finite differences, predictive probabilities, labels and errors.
"""
import numpy as np
import pytest

from scratchgen.gp import NotFittedError, kernels
from scratchgen.gp.classification import GaussianProcessClassifier


def toy_data(n, seed=0):
    """Two classes separated by a curved boundary, with label noise near it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.5 * rng.normal(size=n) > 0.3).astype(int)
    return X, y


def sklearn_pair(kernel_factory):
    """The same kernel built from scratchgen's and from scikit-learn's kernel classes."""
    sk = pytest.importorskip("sklearn.gaussian_process.kernels")
    return kernel_factory(kernels), kernel_factory(sk)


KERNELS = {
    "const*rbf_ard": lambda k: k.ConstantKernel(2.0) * k.RBF([1.0, 1.5]),
    "const*matern52": lambda k: k.ConstantKernel(0.7) * k.Matern(0.8, nu=2.5),
    "rbf+const": lambda k: k.RBF(1.2) + k.ConstantKernel(0.5),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_fixed_hyperparameters_agree_with_sklearn(name):
    from sklearn.gaussian_process import GaussianProcessClassifier as SklearnGPC
    ours_kernel, their_kernel = sklearn_pair(KERNELS[name])
    X, y = toy_data(80)
    Xs = np.random.default_rng(1).normal(size=(50, 2))
    fixed = GaussianProcessClassifier(_fixed(ours_kernel)).fit(X, y)
    theirs = SklearnGPC(their_kernel, optimizer=None).fit(X, y)
    theta = ours_kernel.theta
    lml, grad = fixed.log_marginal_likelihood(theta, eval_gradient=True, kernel=ours_kernel)
    their_lml, their_grad = theirs.log_marginal_likelihood(theta, eval_gradient=True)
    assert lml == pytest.approx(their_lml, rel=1e-8)
    np.testing.assert_allclose(grad, their_grad, rtol=1e-6, atol=1e-8)
    assert fixed.log_marginal_likelihood_value_ == pytest.approx(
        theirs.log_marginal_likelihood_value_, rel=1e-8)
    np.testing.assert_allclose(fixed.predict_proba(Xs), theirs.predict_proba(Xs), atol=1e-6)
    np.testing.assert_array_equal(fixed.predict(Xs), theirs.predict(Xs))


def _fixed(kernel):
    """The same kernel with every hyperparameter fixed (nothing left to optimize)."""
    config = kernel.to_config()

    def freeze(cfg):
        if "k1" in cfg:
            return {**cfg, "k1": freeze(cfg["k1"]), "k2": freeze(cfg["k2"])}
        params = {key: ("fixed" if key.endswith("_bounds") else value)
                  for key, value in cfg["params"].items()}
        return {**cfg, "params": params}
    return kernels.from_config(freeze(config))


def test_fitted_model_agrees_with_sklearn():
    from sklearn.gaussian_process import GaussianProcessClassifier as SklearnGPC
    ours_kernel, their_kernel = sklearn_pair(KERNELS["const*rbf_ard"])
    X, y = toy_data(120, seed=2)
    Xs, ys = toy_data(400, seed=3)
    ours = GaussianProcessClassifier(ours_kernel).fit(X, y)
    theirs = SklearnGPC(their_kernel).fit(X, y)
    assert ours.log_marginal_likelihood_value_ >= theirs.log_marginal_likelihood_value_ - 1e-4
    assert ours.log_marginal_likelihood_value_ == pytest.approx(
        theirs.log_marginal_likelihood_value_, abs=1e-3)
    assert np.mean(ours.predict(Xs) == ys) >= 0.85
    assert np.mean(ours.predict(Xs) == theirs.predict(Xs)) >= 0.98
    assert ours_kernel.theta == pytest.approx(np.log([2.0, 1.0, 1.5]))       # untouched


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_gradient_matches_finite_differences(name):
    kernel = KERNELS[name](kernels)
    X, y = toy_data(60, seed=4)
    gp = GaussianProcessClassifier(_fixed(kernel)).fit(X, y)
    theta = kernel.theta + 0.3
    _, grad = gp.log_marginal_likelihood(theta, eval_gradient=True, kernel=kernel)
    eps = 1e-6
    for i in range(theta.size):
        e = eps * np.eye(theta.size)[i]
        numeric = (gp.log_marginal_likelihood(theta + e, kernel=kernel)
                   - gp.log_marginal_likelihood(theta - e, kernel=kernel)) / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6), f"theta[{i}]"


def test_restarts_never_end_lower():
    X, y = toy_data(60, seed=5)
    kernel = kernels.ConstantKernel(1.0, (1e-2, 1e2)) * kernels.RBF(1.0, (1e-2, 1e2))
    single = GaussianProcessClassifier(kernel).fit(X, y)
    restarted = GaussianProcessClassifier(kernel, n_restarts=2, random_state=0).fit(X, y)
    assert restarted.log_marginal_likelihood_value_ >= single.log_marginal_likelihood_value_ - 1e-6


def test_probabilities_and_labels():
    X, y = toy_data(80, seed=6)
    labels = np.where(y == 1, "dog", "cat")
    gp = GaussianProcessClassifier().fit(X, labels)
    Xs = np.random.default_rng(7).normal(size=(30, 2))
    assert list(gp.classes_) == ["cat", "dog"]
    proba = gp.predict_proba(Xs)
    assert proba.shape == (30, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(gp.predict(Xs), np.where(proba[:, 1] > 0.5, "dog", "cat"))
    # the erf mixture is a close approximation of the exact average (eq. 3.25, quadrature);
    # the probit approximation a rougher one
    exact = gp.predict_proba(Xs, method="quadrature")
    assert np.abs(proba - exact).max() < 1e-3
    assert np.abs(gp.predict_proba(Xs, method="probit") - exact).max() < 2e-2
    mean, var = gp.latent_mean_and_variance(Xs)
    assert mean.shape == var.shape == (30,) and np.all(var >= 0)


def test_far_from_the_data_the_prediction_returns_to_the_prior():
    X, y = toy_data(50, seed=8)
    gp = GaussianProcessClassifier(kernels.RBF(1.0, "fixed")).fit(X, y)
    mean, var = gp.latent_mean_and_variance(np.array([[50.0, 50.0]]))
    assert abs(mean[0]) < 1e-10 and var[0] == pytest.approx(1.0)
    assert gp.predict_proba(np.array([[50.0, 50.0]]))[0, 1] == pytest.approx(0.5)


def test_errors():
    X, y = toy_data(30)
    gp = GaussianProcessClassifier()
    with pytest.raises(ValueError, match=r"expected two classes .*got 3: \[0, 1, 2\]"):
        gp.fit(X, np.arange(30) % 3)
    with pytest.raises(ValueError, match=r"expected two classes .*got 1: \['a'\]"):
        gp.fit(X, np.full(30, "a"))
    with pytest.raises(ValueError, match=r"expected y of shape \(30,\)"):
        gp.fit(X, y[:-1])
    with pytest.raises(ValueError, match="GaussianProcessClassifier.fit: X must be finite"):
        gp.fit(np.where(X > 1.5, np.nan, X), y)
    with pytest.raises(NotFittedError, match="GaussianProcessClassifier.predict_proba"):
        gp.predict_proba(X)
    with pytest.raises(ValueError, match="max_iter_predict"):
        GaussianProcessClassifier(max_iter_predict=0).fit(X, y)
    with pytest.raises(TypeError, match="Kernel"):
        GaussianProcessClassifier(kernel="rbf").fit(X, y)
    gp.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features but the model was fitted on 2"):
        gp.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="method must be"):
        gp.predict_proba(X, method="mc")
    with pytest.raises(ValueError, match="expected theta of shape"):
        gp.log_marginal_likelihood(np.zeros(5))
