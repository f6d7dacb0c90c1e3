"""GANs: the objectives from logits, the gradient penalty, the architectures sized from the
image shape, the two-optimizer step, the weight average, conditioning and the 2-D ring."""
import numpy as np
import pytest

import scratchgen as sg
from scratchgen import nn
from scratchgen.models import (
    DCGAN,
    MLPGAN,
    WGANGP,
    ConditionalGAN,
    DCGANDiscriminator,
    DCGANGenerator,
    build_model,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)


def _digits(n=256):
    pytest.importorskip("sklearn")
    (x, y), _ = sg.data.load_train_test("digits")
    return x[:n], y[:n]


def _softplus(v):
    return np.logaddexp(0.0, v)


# ----------------------------------------------------------------- objectives
@pytest.mark.parametrize("loss", ["minimax", "hinge", "wgan-gp"])
def test_losses_match_their_formulas(loss):
    a = np.array([[-2.0], [0.5], [3.0]])
    b = np.array([[1.0], [-0.25]])
    d_loss = discriminator_loss(sg.tensor(a), sg.tensor(b), loss).item()
    g_loss = generator_loss(sg.tensor(b), loss).item()
    if loss == "minimax":
        want_d = _softplus(-a).mean() + _softplus(b).mean()    # -log s(a) - log(1 - s(b))
        want_g = _softplus(-b).mean()                          # -log s(b)
    elif loss == "hinge":
        want_d = np.maximum(0, 1 - a).mean() + np.maximum(0, 1 + b).mean()
        want_g = -b.mean()
    else:
        want_d, want_g = b.mean() - a.mean(), -b.mean()
    np.testing.assert_allclose(d_loss, want_d, rtol=1e-12)
    np.testing.assert_allclose(g_loss, want_g, rtol=1e-12)


def test_minimax_losses_are_finite_with_correct_gradients_at_extreme_logits():
    logits = np.array([[-1000.0], [1000.0], [-40.0], [40.0]])
    real = sg.tensor(logits, requires_grad=True)
    fake = sg.tensor(logits.copy(), requires_grad=True)
    loss = discriminator_loss(real, fake, "minimax") + generator_loss(fake, "minimax")
    loss.backward()
    assert np.isfinite(loss.item())
    sigmoid = 1 / (1 + np.exp(-np.clip(logits, -500, 500)))
    n = len(logits)
    # d/da softplus(-a) = sigmoid(a) - 1; d/db [softplus(b) + softplus(-b)] = 2 sigmoid(b) - 1
    np.testing.assert_allclose(real.grad.data, (sigmoid - 1) / n, atol=1e-15)
    np.testing.assert_allclose(fake.grad.data, (2 * sigmoid - 1) / n, atol=1e-15)
    # Far on the wrong side the loss grows linearly, not to inf: -log s(-1000) = 1000.
    assert discriminator_loss(sg.tensor([[-1000.0]]), sg.tensor([[-1000.0]])).item() \
        == pytest.approx(1000.0)


def test_unknown_loss_is_rejected_by_name():
    with pytest.raises(ValueError, match="discriminator_loss: unknown loss 'bce'"):
        discriminator_loss(sg.tensor([1.0]), sg.tensor([1.0]), "bce")
    with pytest.raises(ValueError, match="DCGAN: unknown loss 'lsgan'"):
        DCGAN((1, 8, 8), loss="lsgan")


class _Critic(nn.Module):
    """A smooth float64 critic: x -> tanh(x W1) . w2, per sample, no batch statistics."""

    def __init__(self, rng):
        super().__init__()
        self.w1 = nn.Parameter(rng.standard_normal((6, 5)))
        self.w2 = nn.Parameter(rng.standard_normal((5, 1)))

    def forward(self, x):
        return (x.reshape(x.shape[0], 6) @ self.w1).tanh() @ self.w2


def test_gradient_penalty_matches_finite_differences():
    rng = np.random.default_rng(0)
    critic = _Critic(rng)
    real = sg.tensor(rng.standard_normal((4, 1, 2, 3)))
    fake = sg.tensor(rng.standard_normal((4, 1, 2, 3)))
    penalty = gradient_penalty(critic, real, fake, np.random.default_rng(5), weight=10.0)

    # The same interpolation points, and grad_x D by central differences.
    eps = np.random.default_rng(5).uniform(size=(4, 1, 1, 1))
    x_hat = eps * real.data + (1 - eps) * fake.data

    def critic_np(x):
        with sg.no_grad():
            return critic(sg.tensor(x)).data[:, 0]

    h = 1e-6
    grads = np.zeros_like(x_hat)
    for index in np.ndindex(x_hat.shape[1:]):
        step = np.zeros_like(x_hat)
        step[(slice(None),) + index] = h
        grads[(slice(None),) + index] = (critic_np(x_hat + step) - critic_np(x_hat - step)) / (2 * h)
    norms = np.sqrt((grads ** 2).reshape(4, -1).sum(axis=1))
    np.testing.assert_allclose(penalty.item(), 10.0 * np.mean((norms - 1) ** 2), rtol=1e-6)

    # And its gradient with respect to the critic's weights (double backward) by differences.
    penalty.backward()
    analytic = critic.w2.grad.data.copy()
    numeric = np.zeros_like(analytic)
    for i in range(analytic.shape[0]):
        values = []
        for sign in (1, -1):
            critic.w2.data[i, 0] += sign * h
            values.append(gradient_penalty(critic, real, fake, np.random.default_rng(5)).item())
            critic.w2.data[i, 0] -= sign * h
        numeric[i, 0] = (values[0] - values[1]) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_gradient_penalty_rejects_batches_of_different_shapes():
    with pytest.raises(ValueError, match=r"gradient_penalty: real \(2, 3\) and fake \(3, 3\)"):
        gradient_penalty(lambda v: v, sg.zeros(2, 3), sg.zeros(3, 3), np.random.default_rng())


# ----------------------------------------------------------------- architectures
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_dcgan_networks_are_sized_from_the_image_shape(shape):
    rng = np.random.default_rng(0)
    generator = DCGANGenerator(shape, latent_dim=16, width=8, rng=rng)
    discriminator = DCGANDiscriminator(shape, width=8, rng=rng)
    with sg.no_grad():
        images = generator(sg.randn(5, 16, rng=rng))
        logits = discriminator(images)
    assert images.shape == (5,) + shape
    assert np.all(np.abs(images.data) <= 1.0)                 # tanh
    assert logits.shape == (5, 1)


def test_dcgan_rejects_sizes_that_two_stride_2_layers_cannot_reach():
    with pytest.raises(ValueError, match=r"divisible by 4.*\(1, 30, 30\)"):
        DCGAN((1, 30, 30))
    with pytest.raises(ValueError, match=r"image_shape must be \(C, H, W\)"):
        DCGAN((28, 28))


def test_dcgan_initialization_is_the_papers():
    model = DCGAN((1, 28, 28), seed=0)
    weights = model.generator.net[4].weight.data                # ConvTranspose2d
    assert abs(weights.mean()) < 2e-3 and weights.std() == pytest.approx(0.02, rel=0.05)
    bn_scale = model.generator.net[1].weight.data
    assert bn_scale.mean() == pytest.approx(1.0, abs=2e-3)
    assert bn_scale.std() == pytest.approx(0.02, rel=0.1)


def test_wgan_gp_critic_has_no_batch_norm_and_uses_the_papers_settings():
    model = WGANGP((1, 8, 8), width=8)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    opt = model.configure_optimizers()["discriminator"]
    assert opt.param_groups[0]["lr"] == 1e-4 and tuple(opt.param_groups[0]["betas"]) == (0.0, 0.9)
    assert model.n_critic == 5
    with pytest.raises(ValueError, match="cannot use BatchNorm"):
        WGANGP((1, 8, 8), batch_norm=True)


# ----------------------------------------------------------------- the training step
def test_real_and_fake_batches_go_through_the_discriminator_separately():
    x, y = _digits(32)
    model = DCGAN((1, 8, 8), width=8, seed=0)
    seen = []
    forward = model.discriminator.forward

    def spy(inputs, labels=None):
        seen.append(np.array(inputs.data))
        return forward(inputs, labels)

    object.__setattr__(model.discriminator, "forward", spy)
    model.training_step(x, y, model.configure_optimizers(), np.random.default_rng(0), 0)
    assert [len(batch) for batch in seen] == [32, 32, 32]       # real, fake (D), fake (G)
    np.testing.assert_array_equal(seen[0], 2 * x - 1)           # real, alone, in [-1, 1]
    np.testing.assert_array_equal(seen[1], seen[2])             # G's step reuses the fakes


def test_wgan_gp_updates_the_generator_every_n_critic_steps():
    x, y = _digits(16)
    model = WGANGP((1, 8, 8), width=8, seed=0)
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(0)
    before = model.generator.state_dict()
    keys = [sorted(model.training_step(x, y, optimizers, rng, step)) for step in range(5)]
    assert keys[:4] == [["D loss"]] * 4 and keys[4] == ["D loss", "G loss"]
    after = model.generator.state_dict()
    assert any(not np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("cls, options, ratio", [
    (DCGAN, {}, 0.8), (ConditionalGAN, {"n_classes": 10}, 0.8),
    (WGANGP, {"lr": 1e-3}, 0.5),       # at the paper's 1e-4 the critic needs far more steps
])
def test_the_discriminator_loss_falls_in_a_few_seeded_steps(cls, options, ratio):
    """Seeded smoke test: 40 steps on 256 real 8x8 digits (a second or two)."""
    x, y = _digits(256)
    model = cls((1, 8, 8), width=16, seed=0, **options)
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(0)
    d_losses = []
    for step in range(40):
        rows = rng.permutation(256)[:64]
        losses = model.training_step(x[rows], y[rows], optimizers, rng, step)
        assert all(np.isfinite(v) for v in losses.values())
        d_losses.append(losses["D loss"])
    assert np.mean(d_losses[-5:]) < ratio * d_losses[0]


def test_generator_average_follows_its_formula():
    x, y = _digits(32)
    model = DCGAN((1, 8, 8), width=8, seed=0, ema_decay=0.9)
    before = {k: v for k, v in model.generator_ema.state_dict().items()}
    np.testing.assert_array_equal(before["net.0.weight"], model.generator.net[0].weight.data)
    model.training_step(x, y, model.configure_optimizers(), np.random.default_rng(0), 0)
    new = model.generator.net[0].weight.data
    np.testing.assert_allclose(model.generator_ema.net[0].weight.data,
                               0.9 * before["net.0.weight"] + 0.1 * new, rtol=1e-6)
    np.testing.assert_array_equal(model.generator_ema.net[1].running_mean.data,
                                  model.generator.net[1].running_mean.data)
    assert model.sampling_generator() is model.generator_ema
    assert not any(p.requires_grad for p in model.generator_ema.parameters())


# ----------------------------------------------------------------- sampling
def test_conditional_gan_draws_the_requested_class_and_checks_its_arguments():
    model = ConditionalGAN((1, 8, 8), n_classes=10, width=8, seed=0)
    images = model.sample(6, np.random.default_rng(0), labels=3)
    assert images.shape == (6, 1, 8, 8) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], got \[10, 10\]"):
        model.sample(2, np.random.default_rng(0), labels=10)
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        model.sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="not conditional"):
        DCGAN((1, 8, 8), width=8).sample(2, np.random.default_rng(0), labels=1)
    with pytest.raises(ValueError, match="needs n_classes >= 2"):
        ConditionalGAN((1, 8, 8), n_classes=None)


def test_the_same_label_changes_the_sample_only_through_the_label():
    model = ConditionalGAN((1, 8, 8), n_classes=10, width=8, seed=0)
    three = model.sample(4, np.random.default_rng(0), labels=3)
    seven = model.sample(4, np.random.default_rng(0), labels=7)
    assert not np.allclose(three, seven)
    np.testing.assert_array_equal(three, model.sample(4, np.random.default_rng(0), labels=3))


@pytest.mark.parametrize("kind", ["dcgan", "wgan-gp", "cgan"])
def test_config_rebuilds_the_same_model(kind):
    model = build_model(kind, image_shape=(1, 8, 8), n_classes=10 if kind == "cgan" else None,
                        width=8, seed=3, latent_dim=12)
    twin = build_model(kind, **model.config())
    twin.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(model.sample(5, np.random.default_rng(0)),
                                  twin.sample(5, np.random.default_rng(0)))
    assert twin.config() == model.config()


def test_gan_covers_the_modes_of_the_ring_of_gaussians():
    """The mode-collapse check: 1,200 seeded steps of 256 points (a few seconds)."""
    from scratchgen.metrics import mode_coverage, ring_of_gaussians

    model = MLPGAN(seed=0)
    optimizers = model.configure_optimizers()
    rng = np.random.default_rng(0)
    for step in range(1200):
        model.training_step(ring_of_gaussians(256, rng=rng), None, optimizers, rng, step)
    coverage = mode_coverage(model.sample(2000, np.random.default_rng(1)))
    assert coverage["modes_covered"] >= 7, coverage
    assert coverage["high_quality_share"] > 0.3, coverage
