"""Tests for scratchgen.models.gsn: the corruptions, the walkback loss, the Markov chain, and
a short seeded run on scikit-learn's 8x8 digits whose chain lands near the data."""
import time

import numpy as np
import pytest

import scratchgen.nn.functional as F
from scratchgen import no_grad
from scratchgen.models.gsn import GSN

pytest.importorskip("sklearn")


def small(**options):
    # Small networks learn faster at 3e-3 than at the default 1e-3 (meant for 28x28 MNIST).
    return GSN(image_shape=(1, 8, 8), **{"hidden": 64, "burn_in": 20, "lr": 3e-3, **options})


@pytest.fixture(scope="module")
def digits():
    from scratchgen.data import load_train_test

    return load_train_test("digits")


def train(model, digits, steps, batch_size=64, seed=0):
    (x, y), _ = digits
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(seed)
    return [model.training_step(x[rows], y[rows], optimizers, rng, step)["loss"]
            for step, rows in enumerate(rng.choice(len(x), batch_size, replace=False)
                                        for _ in range(steps))]


@pytest.fixture(scope="module")
def trained(digits):
    """A GSN after 200 steps of 64 images, with its losses and the seconds they took.

    NOTE: on the grey 8x8 digits the chain's binary states are much noisier than the data,
    so the later walkback steps learn slowly; two steps leave the mean image sooner than
    three (samples about 0.79 of its distance to the data here, against about 0.85).
    """
    model = small(walkback=2, lr=5e-3, seed=0)
    start = time.perf_counter()
    losses = train(model, digits, 200)
    return model, losses, time.perf_counter() - start


def nearest_training_distance(images, x_train):
    """Mean over ``images`` of the mean squared pixel distance to the nearest training image."""
    a, b = images.reshape(len(images), -1), x_train.reshape(len(x_train), -1)
    return (((a[:, None] - b[None]) ** 2).mean(axis=2).min(axis=1)).mean()


def test_walkback_training_lowers_the_loss_in_seconds(trained, digits):
    model, losses, seconds = trained
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.8 * first, f"loss {first:.2f} -> {last:.2f}"
    # About 1 s on an idle core; the bound only catches an order-of-magnitude slowdown (a
    # shared, oversubscribed machine can make the threaded BLAS calls ten times slower).
    assert seconds < 60, f"took {seconds:.1f} s"
    _, (x_test, y_test) = digits
    untrained = small(seed=0).evaluate(x_test, y_test, np.random.default_rng(0))
    scores = model.evaluate(x_test, y_test, np.random.default_rng(0))
    assert set(scores) == {"test_walkback_loss", "test_denoising_loss"}
    assert scores["test_walkback_loss"] < 0.8 * untrained["test_walkback_loss"]


def test_chain_samples_are_closer_to_the_data_than_noise(trained, digits):
    """Nearer the training images than uniform noise, and than the mean image (a model that
    ignored its input would draw that), and varied rather than one picture."""
    model, _, _ = trained
    (x, _), _ = digits
    rng = np.random.default_rng(1)
    samples = model.sample(100, rng)
    distance = nearest_training_distance(samples, x)
    noise = rng.random(samples.shape).astype(np.float32)
    assert distance < 0.5 * nearest_training_distance(noise, x)
    assert distance < 0.9 * nearest_training_distance(x.mean(axis=0, keepdims=True), x)
    assert samples.reshape(100, -1).std(axis=0).mean() > 0.25 * x.reshape(len(x), -1).std(
        axis=0).mean()


def test_chain_shapes_ranges_and_seeding(trained):
    model, _, _ = trained
    states = model.chain(6, np.random.default_rng(0), n=5)
    assert states.shape == (6, 5, 1, 8, 8) and states.dtype == np.float32
    assert states.min() >= 0.0 and states.max() <= 1.0
    np.testing.assert_array_equal(states, model.chain(6, np.random.default_rng(0), n=5))
    assert not np.array_equal(states, model.chain(6, np.random.default_rng(1), n=5))
    binary = model.chain(3, np.random.default_rng(0), n=5, means=False)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    # sample() is the last mean of a burn_in-step chain from uniform noise.
    np.testing.assert_array_equal(model.sample(5, np.random.default_rng(2)),
                                  model.chain(model.burn_in, np.random.default_rng(2), n=5)[-1])
    assert model.training                                    # the chain restores train mode


def test_chain_from_a_start(trained, digits):
    model, _, _ = trained
    (x, _), _ = digits
    states = model.chain(2, np.random.default_rng(0), start=x[:4])
    assert states.shape == (2, 4, 1, 8, 8)
    with pytest.raises(ValueError, match=r"GSN.chain: n=3 but start holds 4 states"):
        model.chain(2, np.random.default_rng(0), start=x[:4], n=3)
    with pytest.raises(ValueError, match=r"start must have shape \(n, 1, 8, 8\), got \(4, 64\)"):
        model.chain(2, np.random.default_rng(0), start=x[:4].reshape(4, 64))
    with pytest.raises(ValueError, match="GSN.chain: n must be a positive int, got None"):
        model.chain(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="GSN.chain: n_steps must be a positive int"):
        model.chain(0, np.random.default_rng(0), n=2)


@pytest.mark.parametrize("level", [0.2, 0.6])
def test_salt_and_pepper_replaces_the_expected_fraction(level):
    model = small(noise_level=level)
    grey = np.full((200, 1, 8, 8), 0.5, dtype=np.float32)
    noisy = model.corrupt(grey, np.random.default_rng(0))
    assert set(np.unique(noisy)) == {0.0, 0.5, 1.0}
    assert abs((noisy != 0.5).mean() - level) < 0.02
    assert abs((noisy == 1.0).mean() - level / 2) < 0.02


def test_gaussian_corruption_has_the_given_std():
    model = small(noise="gaussian", noise_level=0.3)
    x = np.random.default_rng(0).random((200, 1, 8, 8)).astype(np.float32)
    noise = model.corrupt(x, np.random.default_rng(1)) - x
    assert abs(noise.std() - 0.3) < 0.01 and abs(noise.mean()) < 0.01


def test_walkback_scores_every_step_against_the_original(digits):
    """Step 0 is the plain denoising loss; later steps start from the chain's own samples."""
    (x, _), _ = digits
    model, xb = small(walkback=3), x[:32]
    with no_grad():
        losses = model.walkback_losses(xb, np.random.default_rng(4))
        rng = np.random.default_rng(4)
        logits = model.reconstruction_logits(model.corrupt(xb, rng))
        first = F.binary_cross_entropy_with_logits(logits, xb, reduction="none")
        # x_1 ~ Bernoulli(sigmoid(logits)), corrupted again, scored against x_0 = xb.
        state = (rng.random(xb.shape) < 1 / (1 + np.exp(-logits.data))).astype(np.float32)
        second = F.binary_cross_entropy_with_logits(
            model.reconstruction_logits(model.corrupt(state, rng)), xb, reduction="none")
    assert len(losses) == 3 and all(loss.shape == (32,) for loss in losses)
    np.testing.assert_allclose(losses[0].data, first.data.sum(axis=(1, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(losses[1].data, second.data.sum(axis=(1, 2, 3)), rtol=1e-6)
    # The training loss averages the steps.
    model_opt = model.configure_optimizers()
    reported = model.training_step(xb, None, model_opt, np.random.default_rng(4), 0)["loss"]
    assert reported == pytest.approx(float(sum(loss.data.mean() for loss in losses) / 3),
                                     rel=1e-5)


@pytest.mark.parametrize("options", [{"noise": "gaussian", "noise_level": 0.5},
                                     {"activation": "tanh"}])
def test_other_variants_train(options, digits):
    losses = train(small(**options), digits, 60)
    assert np.isfinite(losses).all() and np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])


def test_config_round_trip_rebuilds_the_same_model(trained):
    model, _, _ = trained
    config = model.config()
    assert model.kind == "gsn" and config["walkback"] == 2 and config["hidden"] == 64
    other = GSN(**{**config, "seed": 7})
    assert not np.array_equal(other.sample(4, np.random.default_rng(0)),
                              model.sample(4, np.random.default_rng(0)))
    rebuilt = GSN(**config)
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config() == config
    np.testing.assert_array_equal(rebuilt.sample(4, np.random.default_rng(0)),
                                  model.sample(4, np.random.default_rng(0)))


@pytest.mark.parametrize("options, message", [
    ({"noise": "dropout"}, "noise must be one of salt-and-pepper, gaussian"),
    ({"noise_level": 1.5}, r"noise_level for salt-and-pepper noise must be in \(0, 1\]"),
    ({"noise": "gaussian", "noise_level": 0.0}, "must be in \\(0, inf\\)"),
    ({"walkback": 0}, "walkback must be a positive int, got 0"),
    ({"activation": "sigmoid"}, "activation must be one of relu, tanh, got 'sigmoid'"),
    ({"burn_in": 2.5}, "burn_in must be a positive int"),
    ({"lr": -1.0}, "lr must be a positive float"),
])
def test_constructor_errors_name_the_class_and_the_value(options, message):
    with pytest.raises(ValueError, match=message):
        small(**options)


def test_sample_rejects_bad_requests(trained):
    model, _, _ = trained
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="not conditional"):
        model.sample(2, np.random.default_rng(0), labels=[1, 2])
    with pytest.raises(ValueError, match=r"GSN.evaluate: expected images of shape"):
        model.evaluate(np.zeros((3, 64)), None, np.random.default_rng(0))


def test_pictures_show_consecutive_chain_states(trained, digits):
    model, _, _ = trained
    _, (x_test, y_test) = digits
    images, nrow = model.pictures(x_test, y_test, np.random.default_rng(3))["chain"]
    assert images.shape == (200, 1, 8, 8) and nrow == 20
    states = model.chain(20, np.random.default_rng(3), n=10)
    np.testing.assert_array_equal(images[:20], states[:, 0])          # row 0: chain 0 in time
