"""GPLVM and BayesianGPLVM as estimators: fitting separates clusters, generation, transform,
ARD, seeds and bad input.
"""
import numpy as np
import pytest

from scratchgen.gp import BayesianGPLVM, GPLVM, NotFittedError, kernels


def three_clusters(n_per=20, D=8, seed=0):
    """Three well separated clusters on a curved 1-D manifold in D dimensions, with labels."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-1.0, 1.0, size=3)
    t = np.concatenate([c + 0.05 * rng.standard_normal(n_per) for c in centers])
    freqs = rng.uniform(0.5, 2.0, size=D)
    Y = np.sin(np.outer(t, freqs) * 3.0) + 0.02 * rng.standard_normal((t.size, D))
    return Y, np.repeat(np.arange(3), n_per)


def separated(latent, labels):
    """Every point's nearest other point (in latent space) has its label."""
    d = ((latent[:, None, :] - latent[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d, np.inf)
    return np.mean(labels[np.argmin(d, axis=1)] == labels)


def test_gplvm_separates_three_clusters():
    Y, labels = three_clusters()
    model = GPLVM(latent_dim=2, max_iter=100, random_state=0).fit(Y)
    assert model.latent_.shape == (60, 2)
    assert separated(model.latent_, labels) == 1.0
    assert np.isfinite(model.log_marginal_likelihood_value_)


def test_bayesian_gplvm_separates_three_clusters_and_improves_its_bound():
    Y, labels = three_clusters(seed=1)
    start = BayesianGPLVM(latent_dim=2, n_inducing=10, max_iter=0, random_state=0).fit(Y)
    model = BayesianGPLVM(latent_dim=2, n_inducing=10, max_iter=150, random_state=0).fit(Y)
    assert model.elbo_ > start.elbo_
    assert separated(model.latent_mean_, labels) == 1.0
    assert model.latent_var_.shape == (60, 2) and np.all(model.latent_var_ > 0)
    assert model.inducing_inputs_.shape == (10, 2)


def test_minibatch_fit_separates_the_clusters_and_nears_the_collapsed_bound():
    Y, labels = three_clusters(seed=1)
    start = BayesianGPLVM(latent_dim=2, n_inducing=10, max_iter=0, random_state=0).fit(Y)
    full = BayesianGPLVM(latent_dim=2, n_inducing=10, max_iter=150, random_state=0).fit(Y)
    model = BayesianGPLVM(latent_dim=2, n_inducing=10, batch_size=15, max_iter=400,
                          learning_rate=0.03, random_state=0).fit(Y)
    assert len(model.history_) == 400
    assert separated(model.latent_mean_, labels) == 1.0
    assert model.elbo_ > start.elbo_ + 0.8 * (full.elbo_ - start.elbo_)


def test_ard_switches_off_a_latent_dimension_the_data_do_not_need():
    Y, _ = three_clusters(n_per=25, seed=2)             # a 1-D manifold
    model = BayesianGPLVM(latent_dim=3, n_inducing=12, max_iter=300, random_state=0).fit(Y)
    weights = np.sort(model.ard_weights_)[::-1]
    assert weights[-1] < 0.05 * weights[0]
    assert 1 <= model.active_dims_.size < 3


@pytest.mark.parametrize("make", [lambda: GPLVM(latent_dim=2, max_iter=60, random_state=0),
                                  lambda: BayesianGPLVM(latent_dim=2, n_inducing=10,
                                                        max_iter=60, random_state=0)])
def test_sample_decode_and_transform(make):
    Y, _ = three_clusters(seed=3)
    model = make().fit(Y)
    samples, std = model.sample(7, random_state=1, return_std=True)
    assert samples.shape == std.shape == (7, Y.shape[1])
    assert np.all(std > 0) and np.allclose(std, std[:, :1])
    np.testing.assert_array_equal(samples, model.sample(7, random_state=1))
    assert not np.array_equal(samples, model.sample(7, random_state=2))
    # generated rows look like the data: within its range, not at the mean
    assert np.all(np.abs(samples) <= np.abs(Y).max() + 0.5)
    latent = getattr(model, "latent_", None)
    latent = model.latent_mean_ if latent is None else latent
    recovered = model.transform(Y[:6])
    assert recovered.shape == (6, 2)
    spread = latent.std(axis=0).max()
    assert np.abs(recovered - latent[:6]).max() < 0.1 * spread
    # decoding a training row's latent point gives back (close to) the row
    error = np.abs(model.decode(latent[:6]) - Y[:6]).mean()
    assert error < 0.5 * np.abs(Y - Y.mean(axis=0)).mean()


def test_fit_is_reproducible_with_a_seed():
    Y, _ = three_clusters(seed=4)
    a = BayesianGPLVM(latent_dim=2, n_inducing=8, max_iter=20, random_state=3).fit(Y)
    b = BayesianGPLVM(latent_dim=2, n_inducing=8, max_iter=20, random_state=3).fit(Y)
    np.testing.assert_array_equal(a.latent_mean_, b.latent_mean_)
    assert a.elbo_ == b.elbo_


def test_linear_kernel_bayesian_gplvm_fits():
    Y, _ = three_clusters(seed=5)
    kernel = kernels.ConstantKernel(1.0) * kernels.DotProduct(1.0)
    start = BayesianGPLVM(latent_dim=2, n_inducing=3, kernel=kernel, max_iter=0).fit(Y)
    model = BayesianGPLVM(latent_dim=2, n_inducing=3, kernel=kernel, max_iter=50).fit(Y)
    assert model.elbo_ > start.elbo_


BAD = [
    (lambda: GPLVM(latent_dim=2), np.array([[1.0, np.nan, 0.0]] * 4), ValueError,
     r"GPLVM.fit: Y must be finite, but Y\[0, 1\] = nan"),
    (lambda: BayesianGPLVM(latent_dim=2), np.array([[1.0, 2.0, np.inf]] * 4), ValueError,
     r"BayesianGPLVM.fit: Y must be finite"),
    (lambda: GPLVM(latent_dim=5), np.ones((6, 3)), ValueError,
     r"GPLVM.fit: latent_dim=5 is larger than the 3 columns of Y"),
    (lambda: BayesianGPLVM(latent_dim=4), np.ones((6, 3)), ValueError,
     r"BayesianGPLVM.fit: latent_dim=4 is larger than the 3 columns"),
    (lambda: BayesianGPLVM(latent_dim=1, n_inducing=9), np.ones((6, 3)), ValueError,
     r"BayesianGPLVM.fit: n_inducing=9 is larger than the 6 rows of Y"),
    (lambda: BayesianGPLVM(latent_dim=1, n_inducing=3, kernel=kernels.Matern(1.0)),
     np.random.default_rng(0).normal(size=(6, 3)), ValueError,
     r"BayesianGPLVM.fit: the psi statistics are known in closed form for RBF, DotProduct"),
    (lambda: GPLVM(latent_dim=1, kernel="rbf"), np.ones((6, 3)), TypeError,
     r"GPLVM.fit: kernel must be a scratchgen.gp.kernels.Kernel or None, got str"),
    (lambda: BayesianGPLVM(latent_dim=1, n_inducing=3, batch_size=7), np.eye(6)[:, :3],
     ValueError, r"BayesianGPLVM.fit: batch_size=7 is larger than the 6 rows of Y"),
    (lambda: GPLVM(latent_dim=0), np.ones((6, 3)), ValueError,
     r"GPLVM.fit: latent_dim must be an integer >= 1, got 0"),
    (lambda: BayesianGPLVM(latent_dim=1, n_inducing=3, noise=-1.0), np.eye(6)[:, :3], ValueError,
     r"BayesianGPLVM.fit: noise must be a positive variance, got -1.0"),
]


@pytest.mark.parametrize("make, Y, error, message", BAD)
def test_bad_input_gets_a_clear_error(make, Y, error, message):
    with pytest.raises(error, match=message):
        make().fit(Y)


def test_unfitted_and_mismatched_queries():
    with pytest.raises(NotFittedError, match="BayesianGPLVM.sample: this BayesianGPLVM is not "
                                             "fitted yet"):
        BayesianGPLVM().sample(3)
    Y, _ = three_clusters(seed=6)
    model = GPLVM(latent_dim=2, max_iter=5).fit(Y)
    with pytest.raises(ValueError, match=r"GPLVM.transform: Y has 3 features but the model was "
                                         r"fitted on 8"):
        model.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"GPLVM.sample: n must be an integer >= 1, got 0"):
        model.sample(0)
    with pytest.raises(ValueError, match=r"GPLVM.decode: X has 3 features but the model was "
                                         r"fitted on 2"):
        model.decode(np.zeros((2, 3)))


@pytest.mark.parametrize("cls, options", [(GPLVM, {}), (BayesianGPLVM, {"n_inducing": 10})])
def test_fitted_state_round_trip_generates_the_same_rows(cls, options):
    Y, _ = three_clusters(seed=7)
    model = cls(latent_dim=2, max_iter=30, random_state=0, **options).fit(Y)
    config, arrays = model.fitted_state()
    assert all(isinstance(v, np.ndarray) for v in arrays.values())
    restored = cls.from_fitted_state(config, arrays)
    np.testing.assert_array_equal(restored.sample(5, random_state=3),
                                  model.sample(5, random_state=3))
    with pytest.raises(ValueError, match=f"{cls.__name__}.transform: this {cls.__name__} was "
                                         f"restored from its fitted state"):
        restored.transform(Y[:2])
    assert len(model.history_) == model.n_iter_
