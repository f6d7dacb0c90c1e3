"""MCMC over GP hyperparameters and latent functions: samplers on known targets, the posterior
of one hyperparameter against a fine grid, the classifier's latent posterior against a grid,
priors, reproducibility and bad input."""
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from scratchgen.gp import (GaussianProcessClassifier, GaussianProcessRegressor,
                           NotFittedError, kernels, priors, sample_hyperparameters,
                           sample_latent)
from scratchgen.gp.mcmc import hmc, slice_sample
from scratchgen.gp.mcmc_latent import elliptical_slice
from scratchgen.gp.mcmc_diagnostics import effective_sample_size

MEAN = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 2.0]])
PRECISION = np.linalg.inv(COV)


def gaussian_log_density(x):
    return -0.5 * (x - MEAN) @ PRECISION @ (x - MEAN)


def gaussian_log_density_and_gradient(x):
    return gaussian_log_density(x), -PRECISION @ (x - MEAN)


def assert_moments(draws, mean, cov, n_sigma=4.0):
    """Sample mean and covariance within n_sigma Monte Carlo standard errors, the errors
    computed from effective sample sizes: of each coordinate for the mean, of each product
    (x_i - m_i)(x_j - m_j) for the covariance (Gaussian target: var = c_ij^2 + c_ii c_jj)."""
    ess = effective_sample_size(draws[None])
    mean_error = np.sqrt(np.diag(cov) / ess)
    assert np.all(np.abs(draws.mean(axis=0) - mean) < n_sigma * mean_error), (
        draws.mean(axis=0), mean, mean_error)
    centered = draws - draws.mean(axis=0)
    products = (centered[:, :, None] * centered[:, None, :]).reshape(len(draws), -1)
    ess_products = effective_sample_size(products[None]).reshape(cov.shape)
    cov_error = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / ess_products)
    assert np.all(np.abs(np.cov(draws.T) - cov) < n_sigma * cov_error), (np.cov(draws.T), cov)


# ---------------------------------------------------------------------- samplers
@pytest.mark.parametrize("directions", ["coordinate", "random"])
def test_slice_sample_recovers_a_correlated_gaussian(directions):
    chain = slice_sample(gaussian_log_density, [0.0, 0.0], 4000, n_warmup=100, width=2.0,
                         directions=directions, random_state=0)
    assert chain.samples.shape == (4000, 2) and chain.acceptance_rate == 1.0
    np.testing.assert_allclose(chain.log_density,
                               [gaussian_log_density(x) for x in chain.samples])
    assert_moments(chain.samples, MEAN, COV)


def test_hmc_recovers_a_correlated_gaussian_and_adapts_its_step():
    chain = hmc(gaussian_log_density_and_gradient, [0.0, 0.0], 3000, n_warmup=300,
                step_size=1.5, n_steps=8, target_acceptance=0.8, random_state=1)
    assert 0.6 < chain.acceptance_rate < 0.97
    assert chain.step_size < 1.5                  # 1.5 accepts almost nothing here
    assert chain.n_evaluations == 1 + 3300 * 8
    assert_moments(chain.samples, MEAN, COV)


def test_hmc_adapts_a_diagonal_mass_to_coordinates_of_different_scales():
    """Scales 0.1 and 10: one step size cannot suit both, a mass matrix M^-1 = diag(var)
    can. With it the draws are many times more effective."""
    scales = np.array([0.1, 10.0])

    def log_density_and_gradient(x):
        return -0.5 * np.sum((x / scales) ** 2), -x / scales**2

    chains = {adapt: hmc(log_density_and_gradient, [0.0, 0.0], 2000, n_warmup=400,
                         n_steps=5, adapt_mass=adapt, random_state=3)
              for adapt in (True, False)}
    adapted = chains[True]
    np.testing.assert_allclose(np.sqrt(adapted.inverse_mass), scales, rtol=0.5)
    np.testing.assert_array_equal(chains[False].inverse_mass, [1.0, 1.0])
    assert_moments(adapted.samples, np.zeros(2), np.diag(scales**2))
    ess = {adapt: effective_sample_size(chain.samples[None]).min()
           for adapt, chain in chains.items()}
    assert ess[True] > 10 * ess[False], ess


def test_hmc_rejects_trajectories_that_leave_the_support():
    """A half-normal on x > 0: steps into x <= 0 (log p = -inf) are rejected, so no draw
    is negative and the mean is sqrt(2 / pi)."""
    def half_normal(x):
        return (-0.5 * x @ x, -x) if x[0] > 0 else (-np.inf, np.zeros(1))
    chain = hmc(half_normal, [1.0], 4000, n_warmup=200, step_size=0.5, n_steps=5,
                random_state=2)
    assert np.all(chain.samples > 0) and chain.n_divergent > 0
    ess = effective_sample_size(chain.samples[None])[0]
    assert abs(chain.samples.mean() - np.sqrt(2 / np.pi)) < 4 * 0.6 / np.sqrt(ess)


def test_elliptical_slice_matches_the_conjugate_gaussian_posterior():
    """Prior f ~ N(0, K), likelihood y ~ N(f, s^2 I): posterior N(S y / s^2, S),
    S = (K^-1 + I / s^2)^-1 (R&W eq. 2.7)."""
    x = np.linspace(0, 3, 4)[:, None]
    K = kernels.RBF(1.0)(x) + 1e-8 * np.eye(4)
    noise, y = 0.5, np.array([0.5, 1.5, -0.3, 0.8])
    S = np.linalg.inv(np.linalg.inv(K) + np.eye(4) / noise)
    rng = np.random.default_rng(3)
    L = np.linalg.cholesky(K)

    def log_likelihood(f):
        return -0.5 * np.sum((y - f) ** 2) / noise

    f, log_l, draws = np.zeros(4), None, []
    for it in range(4200):
        f, log_l, _ = elliptical_slice(f, log_likelihood, L, rng, log_l)
        if it >= 200:
            draws.append(f)
    assert_moments(np.array(draws), S @ y / noise, S)


# ---------------------------------------------------------------------- one hyperparameter
@pytest.fixture(scope="module")
def one_hyperparameter():
    """RBF length scale the only free hyperparameter (unit variance, fixed noise 0.1), a
    LogNormal(0, 1) prior on it, and its posterior on a fine grid of theta = log(scale)."""
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(0, 5, 6))[:, None]
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(6)
    gp = GaussianProcessRegressor(kernels.RBF(1.0), alpha=0.1).fit(X, y)
    grid = np.linspace(-5.0, 5.0, 1001)
    log_post = np.array([gp.log_marginal_likelihood(np.array([t])) for t in grid])
    log_post += stats.norm.logpdf(grid)                   # LogNormal(0, 1): N(0, 1) in theta
    density = np.exp(log_post - log_post.max())
    density /= integrate.trapezoid(density, grid)
    cdf = integrate.cumulative_trapezoid(density, grid, initial=0.0)
    # Grid-integrated predictive mean: int m_theta(x*) p(theta | y) dtheta, and its spread.
    X_test = np.array([[-0.5], [1.3], [2.9], [6.0]])
    coarse = slice(None, None, 5)
    means = np.array([GaussianProcessRegressor(kernels.RBF(np.exp(t)), alpha=0.1,
                                               optimizer=None).fit(X, y).predict(X_test)
                      for t in grid[coarse]])
    weights = density[coarse] / integrate.trapezoid(density[coarse], grid[coarse])
    mean = integrate.trapezoid(weights[:, None] * means, grid[coarse], axis=0)
    sd = np.sqrt(integrate.trapezoid(weights[:, None] * (means - mean) ** 2, grid[coarse],
                                     axis=0))
    return gp, grid, cdf, X_test, mean, sd


# Slice sampling draws are nearly independent in one dimension (ESS about 0.85 per draw),
# HMC's are cheaper (two gradient evaluations a draw, against five or so for slice sampling).
# HMC aims at a low acceptance rate: long leapfrog steps, whose error only the Metropolis
# correction removes.
@pytest.mark.parametrize("method, options", [("slice", {"n_samples": 800, "thin": 2}),
                                             ("hmc", {"n_samples": 1200, "thin": 3,
                                                      "n_steps": 2,
                                                      "target_acceptance": 0.6})])
def test_one_hyperparameter_posterior_matches_the_grid(one_hyperparameter, method, options):
    gp, grid, cdf, X_test, grid_mean, grid_sd = one_hyperparameter
    posterior = sample_hyperparameters(
        gp, method, n_warmup=100, n_chains=2, random_state=0,
        priors={"length_scale": priors.LogNormal(0.0, 1.0)}, **options)
    draws = posterior.samples_[:, :, 0]
    assert draws.shape == (2, 400)
    # The Kolmogorov-Smirnov test assumes independent draws: the thinned ones nearly are.
    # (It fails, with the predictive check below, for an HMC without its Metropolis
    # correction and a slice sampler that skips the slice test or shrinks the wrong end.)
    (ess,) = posterior.diagnostics_["ess"]
    assert ess > 0.5 * draws.size
    result = stats.kstest(draws.ravel(), lambda t: np.interp(t, grid, cdf))
    assert result.pvalue > 0.01, result
    # Averaged predictive mean vs the grid's, within 4 Monte Carlo standard errors.
    mean = posterior.predict(X_test)
    assert np.all(np.abs(mean - grid_mean) < 4 * grid_sd / np.sqrt(ess) + 1e-6), (
        mean, grid_mean, grid_sd)


@pytest.mark.filterwarnings("ignore:sample_hyperparameters. the chains disagree")
def test_predictions_mix_the_draws():
    """predict averages the conditioned GPs: the mean is their mean and the variance adds
    the spread of their means to their own variances (checked against a direct loop)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 5, (8, 1))
    y = np.cos(X[:, 0])
    gp = GaussianProcessRegressor(kernels.ConstantKernel(1.0) * kernels.RBF(1.0),
                                  alpha=0.05, normalize_y=True).fit(X, y)
    posterior = sample_hyperparameters(gp, n_samples=20, n_warmup=10, n_chains=2,
                                       random_state=3)
    X_test = np.linspace(-1, 6, 5)[:, None]
    mean, std = posterior.predict(X_test, return_std=True)
    ms, vs = [], []
    for theta in posterior.samples_.reshape(-1, 2):
        fixed = GaussianProcessRegressor(gp.kernel_.clone_with_theta(theta), alpha=0.05,
                                         normalize_y=True, optimizer=None).fit(X, y)
        m, s = fixed.predict(X_test, return_std=True)
        ms.append(m)
        vs.append(s**2)
    ms, vs = np.array(ms), np.array(vs)
    np.testing.assert_allclose(mean, ms.mean(axis=0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(std**2, vs.mean(axis=0) + ms.var(axis=0), rtol=1e-6,
                               atol=1e-12)
    np.testing.assert_allclose(posterior.predict(X_test), mean)


def test_log_posterior_gradient_matches_finite_differences():
    """HMC's gradient: likelihood plus prior, for a Gamma and a LogNormal and a LogUniform."""
    from scratchgen.gp.mcmc_hyperparameters import _LogPosterior
    from scratchgen.gp.priors import kernel_prior
    rng = np.random.default_rng(2)
    X, y = rng.uniform(0, 4, (10, 2)), rng.standard_normal(10)
    kernel = kernels.ConstantKernel(1.0) * kernels.RBF([1.0, 2.0]) + kernels.WhiteKernel(0.1)
    gp = GaussianProcessRegressor(kernel).fit(X, y)
    prior = kernel_prior(gp.kernel_, {"k1__k1__constant_value": priors.Gamma(2.0, 1.0),
                                      "k1__k2__length_scale": priors.LogNormal(0.5, 0.7)},
                         "test")
    target = _LogPosterior(gp, prior, "test")
    assert target.names == ["k1__k1__constant_value", "k1__k2__length_scale[0]",
                            "k1__k2__length_scale[1]", "k2__noise_level"]
    theta = np.array([0.2, -0.1, 0.4, -2.0])
    _, gradient = target.with_gradient(theta)
    eps = 1e-6
    numeric = [(target(theta + eps * e) - target(theta - eps * e)) / (2 * eps)
               for e in np.eye(4)]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- the classifier
def test_latent_posterior_matches_a_grid_on_two_points():
    """Two training points: p(f | y) on a 2-D grid gives E[f] and p(y* = 1 | x*) exactly."""
    X, y = np.array([[-1.0], [1.0]]), np.array([0, 1])
    kernel = kernels.ConstantKernel(4.0, "fixed") * kernels.RBF(1.5, "fixed")
    gpc = GaussianProcessClassifier(kernel, optimizer=None).fit(X, y)
    posterior = sample_latent(gpc, 3000, n_warmup=200, n_chains=2, random_state=4)

    K = kernel(X)
    axis = np.linspace(-12, 12, 401)
    F = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    log_p = (-0.5 * np.einsum("ij,jk,ik->i", F, np.linalg.inv(K), F)
             + np.log(expit(-F[:, 0])) + np.log(expit(F[:, 1])))
    w = np.exp(log_p - log_p.max())
    w /= w.sum()
    X_test = np.array([[0.0], [0.7], [3.0]])
    k_star = kernel(X, X_test)
    A = np.linalg.solve(K, k_star)
    var = kernel.diag(X_test) - np.einsum("ij,ij->j", k_star, A)
    nodes, node_w = np.polynomial.hermite.hermgauss(40)
    p_given_f = expit((F @ A)[:, :, None] + np.sqrt(2 * var)[:, None] * nodes) @ node_w
    p_given_f /= np.sqrt(np.pi)                                          # (grid, m)
    exact_p = w @ p_given_f
    sd_p = np.sqrt(w @ (p_given_f - exact_p) ** 2)

    ess = posterior.diagnostics_["ess"]
    exact_f = w @ F
    sd_f = np.sqrt(w @ (F - exact_f) ** 2)
    draws = posterior.samples_.reshape(-1, 2)
    assert np.all(np.abs(draws.mean(axis=0) - exact_f) < 4 * sd_f / np.sqrt(ess))
    p = posterior.predict_proba(X_test)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all(np.abs(p[:, 1] - exact_p) < 4 * sd_p / np.sqrt(ess.min()) + 1e-4), (
        p[:, 1], exact_p)
    # x* = 0 lies halfway between the two labels (p = 1/2 by symmetry): no class to predict
    assert abs(exact_p[0] - 0.5) < 1e-9
    assert list(posterior.predict(X_test[1:])) == [int(q > 0.5) for q in exact_p[1:]]


def test_sample_latent_diagnostics_and_summary(capsys):
    rng = np.random.default_rng(5)
    X = rng.uniform(-3, 3, (30, 1))
    y = np.where(np.sin(X[:, 0]) + 0.3 * rng.standard_normal(30) > 0, "b", "a")
    kernel = kernels.ConstantKernel(4.0, "fixed") * kernels.RBF(1.0, "fixed")
    gpc = GaussianProcessClassifier(kernel, optimizer=None).fit(X, y)
    posterior = sample_latent(gpc, 400, n_warmup=100, n_chains=3, thin=2, random_state=6,
                              verbose=True)
    assert posterior.samples_.shape == (3, 200, 30)
    d = posterior.diagnostics_
    assert d["ess"].shape == d["rhat"].shape == (30,) and np.all(d["rhat"] < 1.1)
    out = capsys.readouterr().out
    assert "elliptical slice" in out and "R-hat" in out and "f[" in out
    # The sampled latent posterior and the Laplace approximation agree roughly on this easy
    # problem (they are not the same distribution).
    X_test = np.linspace(-3, 3, 9)[:, None]
    np.testing.assert_allclose(posterior.predict_proba(X_test), gpc.predict_proba(X_test),
                               atol=0.1)
    assert set(posterior.predict(X_test)) <= {"a", "b"}


# ---------------------------------------------------------------------- priors
@pytest.mark.parametrize("prior", [priors.LogNormal(0.3, 0.8), priors.Gamma(2.5, 3.0),
                                   priors.LogUniform(0.1, 10.0), priors.Uniform(0.5, 4.0)])
def test_priors_are_normalized_densities_of_theta_with_their_gradient(prior):
    low, high = prior.support()
    low, high = max(low, -30.0), min(high, 30.0)
    total, _ = integrate.quad(lambda t: np.exp(prior.log_pdf(t)), low, high, limit=200)
    assert abs(total - 1.0) < 1e-6
    theta = np.linspace(low + 0.1, high - 0.1, 7) if np.isfinite(low + high) else \
        np.linspace(-2, 2, 7)
    eps = 1e-6
    numeric = (prior.log_pdf(theta + eps) - prior.log_pdf(theta - eps)) / (2 * eps)
    np.testing.assert_allclose(prior.grad_log_pdf(theta), numeric, rtol=1e-5, atol=1e-6)


def test_gamma_prior_is_the_gamma_distribution_of_the_value():
    prior = priors.Gamma(2.5, 3.0)
    v = np.array([0.1, 0.7, 2.0])
    # p(theta) = p_v(e^theta) e^theta
    np.testing.assert_allclose(prior.log_pdf(np.log(v)),
                               stats.gamma.logpdf(v, 2.5, scale=1 / 3.0) + np.log(v))


@pytest.mark.filterwarnings("ignore:sample_hyperparameters. the chains disagree")
def test_default_prior_is_log_uniform_over_the_kernel_bounds():
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 5, (6, 1))
    gp = GaussianProcessRegressor(kernels.RBF(1.0, (0.1, 20.0)), alpha=0.1).fit(
        X, np.sin(X[:, 0]))
    posterior = sample_hyperparameters(gp, n_samples=100, n_warmup=20, n_chains=2,
                                       random_state=8)
    (name, _, prior), = posterior.prior_.parts
    assert name == "length_scale" and isinstance(prior, priors.LogUniform)
    np.testing.assert_allclose(prior.support(), np.log([0.1, 20.0]))
    assert np.all((posterior.values_ >= 0.1) & (posterior.values_ <= 20.0))


# ---------------------------------------------------------------------- seeds and output
def small_gp():
    rng = np.random.default_rng(9)
    X = rng.uniform(0, 5, (8, 1))
    kernel = kernels.ConstantKernel(1.0) * kernels.RBF(1.0) + kernels.WhiteKernel(0.1)
    return GaussianProcessRegressor(kernel).fit(X, np.sin(X[:, 0]))


@pytest.mark.filterwarnings("ignore:sample_hyperparameters. the chains disagree")
@pytest.mark.parametrize("method", ["slice", "hmc"])
def test_chains_are_reproducible_and_independent(method):
    gp = small_gp()
    a = sample_hyperparameters(gp, method, n_samples=8, n_warmup=2, n_chains=3,
                               n_steps=3, random_state=10)
    b = sample_hyperparameters(gp, method, n_samples=8, n_warmup=2, n_chains=3,
                               n_steps=3, random_state=10)
    np.testing.assert_array_equal(a.samples_, b.samples_)
    assert a.samples_.shape == (3, 8, 3)
    assert not np.allclose(a.samples_[0], a.samples_[1])
    d = a.diagnostics_
    assert d["acceptance_rate"].shape == d["n_evaluations"].shape == (3,)
    assert d["ess"].shape == d["rhat"].shape == (3,)


@pytest.mark.filterwarnings("ignore:sample_hyperparameters. the chains disagree")
def test_quiet_by_default_and_verbose_shows_a_bar_and_the_summary(capsys):
    gp = small_gp()
    capsys.readouterr()
    sample_hyperparameters(gp, n_samples=10, n_warmup=2, n_chains=2, random_state=11)
    assert capsys.readouterr() == ("", "")
    posterior = sample_hyperparameters(gp, n_samples=10, n_warmup=2, n_chains=2,
                                       random_state=11, verbose=True)
    out, err = capsys.readouterr()
    assert "sample_hyperparameters" in err and "24/24" in err            # the tqdm bar
    assert "slice sampling" in out and "log k1__k2__length_scale" in out and "R-hat" in out
    result = posterior.summary(print_table=False)
    assert result["names"][1] == "log k1__k2__length_scale"
    np.testing.assert_allclose(result["mean"], posterior.samples_.reshape(-1, 3).mean(axis=0))


def test_disagreeing_chains_warn():
    """Three hyperparameters and two draws' warm-up: the chains have not met."""
    with pytest.warns(RuntimeWarning, match="sample_hyperparameters: the chains disagree"):
        sample_hyperparameters(small_gp(), "hmc", n_samples=6, n_warmup=0, n_chains=4,
                               step_size=1e-4, n_steps=1, random_state=12)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "nuts"}, ValueError, "method must be 'slice' or 'hmc', got 'nuts'"),
    ({"n_samples": 0}, ValueError, "n_samples must be an integer >= 1, got 0"),
    ({"n_chains": 1.5}, ValueError, "n_chains must be an integer >= 1, got 1.5"),
    ({"thin": 20, "n_samples": 10}, ValueError, "thin must be at most n_samples"),
    ({"priors": {"k1__k2__lengthscale": priors.LogNormal()}}, ValueError,
     "unknown hyperparameter 'k1__k2__lengthscale'.*'k1__k2__length_scale'"),
    ({"priors": [priors.LogNormal()]}, TypeError, "priors must be a dict"),
    ({"priors": {"k2__noise_level": 0.1}}, TypeError, r"priors\['k2__noise_level'\] must be"),
    ({"priors": {"k2__noise_level": priors.Uniform(5.0, 6.0)}, "method": "hmc",
      "step_size": -0.1}, ValueError, "hmc: step_size must be a positive finite number"),
    ({"method": "hmc", "n_steps": 0}, ValueError, "hmc: n_steps must be an integer >= 1"),
    ({"width": [1.0, 2.0]}, ValueError, r"slice_sample: width must be .* shape \(3,\)"),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        sample_hyperparameters(small_gp(), **{"n_samples": 10, "n_warmup": 0, **kwargs})


def test_prior_on_a_fixed_hyperparameter_is_refused():
    gp = GaussianProcessRegressor(kernels.ConstantKernel(1.0, "fixed") * kernels.RBF(1.0),
                                  alpha=0.1).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="'k1__constant_value' is fixed.*'k2__length_scale'"):
        sample_hyperparameters(gp, priors={"k1__constant_value": priors.LogNormal()})


def test_unfitted_models_and_wrong_types_are_refused():
    with pytest.raises(NotFittedError, match="sample_hyperparameters: .*not fitted"):
        sample_hyperparameters(GaussianProcessRegressor())
    with pytest.raises(NotFittedError, match="sample_latent: .*not fitted"):
        sample_latent(GaussianProcessClassifier())
    with pytest.raises(TypeError, match="sample_hyperparameters: gp must be a fitted "
                                        "GaussianProcessRegressor, got GaussianProcess"):
        sample_hyperparameters(GaussianProcessClassifier())
    with pytest.raises(TypeError, match="sample_latent: gpc must be .* got GaussianProcessR"):
        sample_latent(GaussianProcessRegressor())


@pytest.mark.filterwarnings("ignore:sample_hyperparameters. the chains disagree")
def test_all_fixed_kernel_and_bad_queries_are_refused():
    X = np.array([[0.0], [1.0], [2.0]])
    fixed = GaussianProcessRegressor(kernels.RBF(1.0, "fixed")).fit(X, [0.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="no free hyperparameters"):
        sample_hyperparameters(fixed)
    posterior = sample_hyperparameters(small_gp(), n_samples=5, n_warmup=0, n_chains=1,
                                       random_state=0)
    with pytest.raises(ValueError, match=r"HyperparameterPosterior.predict: X has 2 features "
                                         r"but the model was fitted on 1"):
        posterior.predict(np.zeros((3, 2)))


def test_prior_arguments_and_samplers_check_their_input():
    with pytest.raises(ValueError, match="LogNormal: sigma must be a positive finite number"):
        priors.LogNormal(0.0, 0.0)
    with pytest.raises(ValueError, match="Gamma: shape must be a positive"):
        priors.Gamma(-1.0, 1.0)
    with pytest.raises(ValueError, match="Uniform: low must be below high"):
        priors.Uniform(2.0, 1.0)
    with pytest.raises(ValueError, match="slice_sample: x0 must be a finite 1-D array"):
        slice_sample(gaussian_log_density, np.zeros((2, 1)), 10)
    with pytest.raises(ValueError, match="slice_sample: the log density at x0 must be finite"):
        slice_sample(lambda x: -np.inf, [0.0], 10)
    with pytest.raises(ValueError, match="slice_sample: directions must be"):
        slice_sample(gaussian_log_density, [0.0, 0.0], 10, directions="diagonal")
    with pytest.raises(ValueError, match="hmc: target_acceptance must be"):
        hmc(gaussian_log_density_and_gradient, [0.0, 0.0], 10, target_acceptance=1.0)
    with pytest.raises(ValueError, match=r"elliptical_slice: expected f of shape \(n,\) and "
                                         r"prior_chol of shape \(n, n\), got \(3,\) and "
                                         r"\(2, 2\)"):
        elliptical_slice(np.zeros(3), lambda f: 0.0, np.eye(2))
