"""Tests for scratchgen.models.vae: the reparameterization against the analytic KL, the IWAE
bound against the ELBO, the likelihoods' constants, and short seeded runs of the three VAEs on
scikit-learn's 8x8 digits (a few seconds each on a shared core)."""
import math
import time

import numpy as np
import pytest
import scipy.stats

import scratchgen.nn.functional as F
from scratchgen import Tensor, no_grad
from scratchgen.models.vae import ConditionalVAE, ConvVAE, VAE

pytest.importorskip("sklearn")

# Small networks learn faster at 3e-3 than at the default 1e-3 (meant for 28x28 MNIST).
SMALL = {"image_shape": (1, 8, 8), "latent_dim": 4, "lr": 3e-3}
KINDS = {
    "vae": lambda **kw: VAE(hidden=64, **SMALL, **kw),
    "conv-vae": lambda **kw: ConvVAE(width=8, **SMALL, **kw),
    "cvae": lambda **kw: ConditionalVAE(hidden=64, n_classes=10, **SMALL, **kw),
}


@pytest.fixture(scope="module")
def digits():
    from scratchgen.data import load_train_test

    return load_train_test("digits")


def train(model, digits, steps, batch_size=64, seed=0):
    """``steps`` training steps as the trainer takes them; returns the list of loss dicts."""
    (x, y), _ = digits
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(seed)
    history = []
    for step in range(steps):
        rows = rng.choice(len(x), batch_size, replace=False)
        history.append(model.training_step(x[rows], y[rows], optimizers, rng, step))
    return history


@pytest.fixture(scope="module")
def trained(digits):
    """An MLP VAE after 200 steps, with its loss history."""
    model = KINDS["vae"](seed=1)
    return model, train(model, digits, 200)


def mean_loss(history, part, name="loss"):
    return float(np.mean([h[name] for h in history[part]]))


# -- the reparameterization and the KL -----------------------------------------------------
def monte_carlo_kl(sampler, mu, logvar, draws, seed=0):
    """Per row: the mean over ``draws`` samples z = sampler(mu, logvar) of
    log q(z) - log p(z), with q = N(mu, exp(logvar)) as the analytic KL defines it, and the
    standard error of that mean."""
    rows = mu.shape[0]
    mu_rep = Tensor(np.tile(mu, (draws, 1)))
    logvar_rep = Tensor(np.tile(logvar, (draws, 1)))
    z = sampler(mu_rep, logvar_rep, np.random.default_rng(seed)).data.astype(np.float64)
    mu_rep, logvar_rep = mu_rep.data.astype(np.float64), logvar_rep.data.astype(np.float64)
    log_q = -0.5 * (np.log(2 * np.pi) + logvar_rep
                    + (z - mu_rep) ** 2 / np.exp(logvar_rep)).sum(axis=1)
    log_p = -0.5 * (np.log(2 * np.pi) + z ** 2).sum(axis=1)
    diff = (log_q - log_p).reshape(draws, rows)
    return diff.mean(axis=0), diff.std(axis=0) / math.sqrt(draws)


def test_reparameterized_samples_match_the_analytic_kl():
    model = KINDS["vae"]()
    rng = np.random.default_rng(5)
    # Log-variances far from 0, where exp(logvar) and exp(logvar / 2) differ a lot.
    mu = rng.normal(size=(5, 3)).astype(np.float32)
    logvar = np.array([[-3.0, -1.0, 2.0], [1.5, 0.5, -2.0], [0.0, 0.0, 0.0],
                       [-4.0, 3.0, 1.0], [2.5, -0.5, -1.5]], dtype=np.float32)
    analytic = F.kl_normal_standard(Tensor(mu), Tensor(logvar), reduction="none").data
    estimate, stderr = monte_carlo_kl(model.reparameterize, mu, logvar, draws=20000)
    np.testing.assert_array_less(np.abs(estimate - analytic), 5 * stderr + 1e-3)

    # The same check rejects the classic bug: std = exp(logvar) with the KL's variance.
    def wrong_std(mu_t, logvar_t, rng_):
        return mu_t + logvar_t.exp() * Tensor(rng_.standard_normal(mu_t.shape).astype(np.float32))

    wrong, wrong_err = monte_carlo_kl(wrong_std, mu, logvar, draws=20000)
    assert np.any(np.abs(wrong - analytic) > 20 * wrong_err + 1.0)


def test_training_loss_draws_z_through_reparameterize(digits):
    """loss_terms decodes z = mu + exp(logvar / 2) eps with eps from the caller's rng."""
    (x, _), _ = digits
    model, xb = KINDS["vae"](), x[:16]
    with no_grad():
        reconstruction, kl = model.loss_terms(xb, None, np.random.default_rng(9))
        mu, logvar = model.encode(xb)
        eps = np.random.default_rng(9).standard_normal(mu.shape).astype(np.float32)
        z = mu.data + np.exp(0.5 * logvar.data) * eps
        expected = F.binary_cross_entropy_with_logits(model.decode(z), xb, reduction="none")
    np.testing.assert_allclose(reconstruction.data, expected.data.sum(axis=(1, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(kl.data, F.kl_normal_standard(mu, logvar, "none").data)


# -- likelihoods with their constants ------------------------------------------------------
def test_bernoulli_log_likelihood_is_the_soft_target_cross_entropy(digits):
    (x, _), _ = digits
    model = KINDS["vae"]()
    logits = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = (x[:4] * np.log(p) + (1 - x[:4]) * np.log(1 - p)).sum(axis=(1, 2, 3))
    got = model.log_likelihood(x[:4], Tensor(logits)).data
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("variance", [0.1, 0.02, "learned"])
def test_gaussian_log_likelihood_is_the_full_density(digits, variance):
    (x, _), _ = digits
    model = KINDS["vae"](decoder="gaussian", gaussian_variance=variance)
    if variance == "learned":
        model.decoder_logvar.data[:] = math.log(0.3)
    sigma2 = 0.3 if variance == "learned" else variance
    mean = np.random.default_rng(0).uniform(size=(4, 1, 8, 8)).astype(np.float32)
    expected = scipy.stats.norm.logpdf(x[:4], mean, math.sqrt(sigma2)).sum(axis=(1, 2, 3))
    got = model.log_likelihood(x[:4], Tensor(mean)).data
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_learned_variance_moves_towards_the_mean_squared_residual(digits):
    """d(-log p(x|z))/d(log sigma^2) = 0.5 D (1 - mean residual^2 / sigma^2) per image."""
    (x, _), _ = digits
    model = KINDS["vae"](decoder="gaussian", gaussian_variance="learned")
    mu, logvar = model.encode(x[:32])
    out = model.decode(model.reparameterize(mu, logvar, np.random.default_rng(0)))
    (-model.log_likelihood(x[:32], out)).mean().backward()
    mean_square = ((out.data - x[:32]) ** 2).mean()
    expected = 0.5 * 64 * (1.0 - mean_square / 0.1)
    np.testing.assert_allclose(model.decoder_logvar.grad.data, [expected], rtol=1e-4)


# -- the IWAE bound ------------------------------------------------------------------------
def test_iwae_is_tighter_than_the_elbo_and_equals_it_at_k_1(trained, digits):
    model, _ = trained
    _, (x_test, y_test) = digits
    k20 = model.evaluate(x_test, y_test, np.random.default_rng(0), k=20)
    assert k20["test_nll_iwae"] < k20["test_neg_elbo"] - 0.05
    assert k20["test_neg_elbo"] == pytest.approx(k20["test_reconstruction"] + k20["test_KL"])
    # k = 1: log w = log p(x|z) + log p(z) - log q(z|x) is an unbiased estimate of the ELBO.
    many = np.repeat(x_test, 10, axis=0)
    k1 = model.evaluate(many, None, np.random.default_rng(1), k=1)
    assert abs(k1["test_nll_iwae"] - k1["test_neg_elbo"]) < 0.1
    assert k1["test_nll_iwae"] > k20["test_nll_iwae"] + 0.05


def test_evaluate_is_seeded_and_does_not_depend_on_batching(trained, digits):
    model, _ = trained
    _, (x_test, y_test) = digits
    a = model.evaluate(x_test[:50], y_test[:50], np.random.default_rng(3), k=8)
    b = model.evaluate(x_test[:50], y_test[:50], np.random.default_rng(3), k=8)
    assert a == b
    one_by_one = model.evaluate(x_test[:50], y_test[:50], np.random.default_rng(3), k=8,
                                rows_per_batch=8)
    assert one_by_one["test_nll_iwae"] != a["test_nll_iwae"]      # other draw order ...
    assert one_by_one["test_nll_iwae"] == pytest.approx(a["test_nll_iwae"], abs=1.0)  # same bound


# -- training ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_learns_the_digits_in_seconds(kind, digits):
    model = KINDS[kind](seed=0)
    start = time.perf_counter()
    history = train(model, digits, 40)
    seconds = time.perf_counter() - start
    first, last = mean_loss(history, slice(0, 5)), mean_loss(history, slice(-5, None))
    assert last < 0.85 * first, f"{kind}: loss {first:.2f} -> {last:.2f}"
    assert all(h["loss"] == pytest.approx(h["reconstruction"] + h["KL"]) for h in history)
    # 0.3-1 s on an idle core; the bound only catches an order-of-magnitude slowdown (a
    # shared, oversubscribed machine can make the threaded kernels ten times slower).
    assert seconds < 60, f"{kind}: took {seconds:.1f} s"
    _, (x_test, y_test) = digits
    scores = model.evaluate(x_test[:60], y_test[:60], np.random.default_rng(0), k=4)
    assert all(np.isfinite(v) for v in scores.values())


@pytest.mark.parametrize("variance", [0.1, "learned"])
def test_gaussian_decoders_train_and_report_finite_numbers(variance, digits):
    model = KINDS["vae"](decoder="gaussian", gaussian_variance=variance)
    history = train(model, digits, 40)
    assert mean_loss(history, slice(-5, None)) < 0.7 * mean_loss(history, slice(0, 5))
    _, (x_test, y_test) = digits
    scores = model.evaluate(x_test[:60], y_test[:60], np.random.default_rng(0), k=4)
    assert all(np.isfinite(v) for v in scores.values())
    if variance == "learned":    # trained with the rest
        assert abs(model.decoder_logvar.data[0] - math.log(0.1)) > 0.02
    samples = model.sample(6, np.random.default_rng(0))
    assert samples.min() >= 0.0 and samples.max() <= 1.0


def test_beta_weights_the_kl_term(digits):
    (x, y), _ = digits
    first = {}
    for beta in (0.0, 1.0, 4.0):
        model = KINDS["vae"](beta=beta)
        first[beta] = model.training_step(x[:64], y[:64], model.configure_optimizers(),
                                          np.random.default_rng(0), 0)
        assert first[beta]["loss"] == pytest.approx(
            first[beta]["reconstruction"] + beta * first[beta]["KL"], rel=1e-6)
    assert first[0.0]["KL"] == first[4.0]["KL"] > 0       # the same terms, weighted differently
    kl = {beta: mean_loss(train(KINDS["vae"](beta=beta), digits, 60), slice(-10, None), "KL")
          for beta in (0.5, 4.0)}
    assert kl[4.0] < 0.7 * kl[0.5]


# -- sampling, reconstruction, the latent grid ---------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_samples_are_images_in_the_unit_interval(kind):
    model = KINDS[kind]()
    samples = model.sample(7, np.random.default_rng(0))
    assert samples.shape == (7, 1, 8, 8) and samples.dtype == np.float32
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    np.testing.assert_array_equal(samples, model.sample(7, np.random.default_rng(0)))
    assert not np.array_equal(samples, model.sample(7, np.random.default_rng(1)))


def test_conditional_samples_follow_their_labels(digits):
    """After training, samples of label d lie nearer the mean training image of d than the
    mean image of the other digits."""
    (x, y), _ = digits
    model = KINDS["cvae"]()
    train(model, digits, 150)
    centers = np.stack([x[y == d].mean(axis=0) for d in range(10)]).reshape(10, -1)
    hits = 0
    for digit in range(10):
        samples = model.sample(20, np.random.default_rng(digit), labels=digit)
        distance = ((samples.reshape(20, 1, -1) - centers[None]) ** 2).sum(axis=2)
        hits += (distance.argmin(axis=1) == digit).sum()
    assert hits >= 0.7 * 200, f"{hits} of 200 samples nearest their own digit"
    with_array = model.sample(3, np.random.default_rng(0), labels=np.array([1, 2, 3]))
    assert with_array.shape == (3, 1, 8, 8)


def test_sample_rejects_bad_requests():
    vae, cvae = KINDS["vae"](), KINDS["cvae"]()
    rng = np.random.default_rng(0)
    for n in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="n must be a positive int"):
            vae.sample(n, rng)
    with pytest.raises(ValueError, match="not conditional"):
        vae.sample(3, rng, labels=1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        cvae.sample(2, rng, labels=[3, 10])
    with pytest.raises(ValueError, match="expected 3 labels"):
        cvae.sample(3, rng, labels=[1, 2])
    with pytest.raises(ValueError, match="labels must be integers"):
        cvae.sample(2, rng, labels=[0.5, 1.0])


def test_reconstruct_is_deterministic_and_closer_than_samples(trained, digits):
    model, _ = trained
    _, (x_test, _) = digits
    recon = model.reconstruct(x_test[:100])
    assert recon.shape == (100, 1, 8, 8) and recon.dtype == np.float32
    np.testing.assert_array_equal(recon, model.reconstruct(x_test[:100]))
    samples = model.sample(100, np.random.default_rng(0))
    assert ((recon - x_test[:100]) ** 2).mean() < 0.8 * ((samples - x_test[:100]) ** 2).mean()
    with pytest.raises(ValueError, match=r"VAE.reconstruct: expected images of shape "
                                         r"\(N, 1, 8, 8\), got \(3, 64\)"):
        model.reconstruct(np.zeros((3, 64)))
    with pytest.raises(ValueError, match="needs the images' labels"):
        KINDS["cvae"]().reconstruct(x_test[:3])


def test_latent_grid_decodes_gaussian_quantiles():
    model = VAE(image_shape=(1, 8, 8), hidden=32, latent_dim=2)
    grid = model.decode_latent_grid(steps=5)
    assert grid.shape == (25, 1, 8, 8) and 0.0 <= grid.min() and grid.max() <= 1.0
    # Top-left: z1 at the 5% quantile, z2 at the 95% one; bottom-right the reverse.
    low, high = scipy.stats.norm.ppf([0.05, 0.95])
    with no_grad():
        corners = model.mean_image(model.decode(np.array([[low, high], [high, low]],
                                                         dtype=np.float32)))
    np.testing.assert_allclose(grid[[0, 24]], corners, atol=1e-6)
    with pytest.raises(ValueError, match="needs a 2-D latent space, but latent_dim=4"):
        KINDS["vae"]().decode_latent_grid()
    cgrid = ConditionalVAE(image_shape=(1, 8, 8), hidden=32, latent_dim=2).decode_latent_grid(
        steps=3, label=7)
    assert cgrid.shape == (9, 1, 8, 8)


# -- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize("kind, options", [("vae", {}), ("conv-vae", {}), ("cvae", {}),
                                           ("vae", {"decoder": "gaussian",
                                                    "gaussian_variance": "learned"})])
def test_config_round_trip_rebuilds_the_same_model(kind, options, digits):
    model = KINDS[kind](seed=4, beta=2.0, **options)
    train(model, digits, 3)
    assert model.kind == kind
    config = model.config()
    rebuilt = type(model)(**{**config, "seed": 99})
    assert not np.array_equal(rebuilt.sample(4, np.random.default_rng(0)),
                              model.sample(4, np.random.default_rng(0)))
    rebuilt = type(model)(**config)
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config() == config
    np.testing.assert_array_equal(rebuilt.sample(4, np.random.default_rng(0)),
                                  model.sample(4, np.random.default_rng(0)))


@pytest.mark.parametrize("build, message", [
    (lambda: VAE(decoder="poisson"), "decoder must be one of bernoulli, gaussian"),
    (lambda: VAE(decoder="gaussian", gaussian_variance=-1.0), "gaussian_variance must be"),
    (lambda: VAE(gaussian_variance="fixed"), "gaussian_variance must be"),
    (lambda: VAE(latent_dim=0), "latent_dim must be a positive int, got 0"),
    (lambda: VAE(beta=-1.0), "beta must be a float >= 0"),
    (lambda: VAE(lr=0.0), "lr must be a positive float"),
    (lambda: ConvVAE(image_shape=(1, 10, 10)), "divisible by 4"),
    (lambda: ConditionalVAE(n_classes=None), "needs n_classes >= 2"),
])
def test_constructor_errors_name_the_class_and_the_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_pictures_pair_inputs_with_reconstructions(trained, digits):
    model, _ = trained
    _, (x_test, y_test) = digits
    pictures = model.pictures(x_test, y_test, np.random.default_rng(0))
    images, nrow = pictures["reconstructions"]
    assert set(pictures) == {"reconstructions"} and nrow == 8 and images.shape == (64, 1, 8, 8)
    np.testing.assert_array_equal(images[16:24], x_test[8:16])          # row 3: inputs 8..15
    np.testing.assert_allclose(images[24:32], model.reconstruct(x_test[8:16]), atol=1e-6)
    plane = VAE(image_shape=(1, 8, 8), hidden=32, latent_dim=2).pictures(
        x_test, y_test, np.random.default_rng(0))["latent_plane"]
    assert plane[0].shape == (225, 1, 8, 8) and plane[1] == 15
    conditional = KINDS["cvae"]().pictures(x_test[:5], y_test[:5], np.random.default_rng(0))
    assert conditional["reconstructions"][0].shape == (10, 1, 8, 8)
