"""Generative adversarial networks: the alternating two-player update, written once.

A generator G maps noise z ~ N(0, I) to samples; a discriminator (critic) D scores samples.
Each training step updates D on a real batch and a fake batch, passed through D *separately*
(so its batch statistics never mix the two), then updates G to raise D's score of its fakes
(Goodfellow et al., 2014, "Generative Adversarial Nets", Algorithm 1). The objectives live in
``gan_losses``; the architectures in ``dcgan`` (images) and below (``MLPGAN``, flat data such
as the 2-D ring of Gaussians). Optionally an exponential moving average of G's weights is kept
for sampling (Yazici et al., 2019, "The Unusual Effectiveness of Averaging in GAN Training").
"""
import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad, set_grad_enabled
from ..autograd.tensor import Tensor
from .base import GenerativeModel, check_positive_int
from .gan_losses import LOSSES, discriminator_loss, generator_loss, gradient_penalty

__all__ = ["GAN", "MLPGAN"]


class GAN(GenerativeModel):
    """Base of the GANs: the step, the optimizers, the weight average and sampling.

    Subclasses define ``build_networks()`` returning ``(generator, discriminator)``; the
    generator maps ``(z, labels)`` to samples in [-1, 1] (``tanh``) or, with
    ``pixel_range=None``, in the data's own units; the discriminator maps
    ``(x, labels)`` to logits (N, 1). Unconditional networks ignore the labels.

    Parameters
    ----------
    image_shape : tuple of int
        Shape of one sample: (C, H, W) for images, (D,) for vectors.
    n_classes : int or None
        Number of labels (conditional GANs only).
    latent_dim : int
        Size of z.
    loss : {"minimax", "hinge", "wgan-gp"}
        The objective (see ``gan_losses``).
    lr_g, lr_d : float
        Adam's learning rates for G and D (different rates: Heusel et al.'s two time-scale rule).
    lr : float, optional
        One learning rate for both (``scratchgen train --lr``); overrides ``lr_g`` and ``lr_d``.
    betas : tuple of float
        Adam's (beta1, beta2) for both; (0.5, 0.999) is the DCGAN paper's choice.
    n_critic : int
        D updates per G update; with n_critic > 1 each D update takes its own batch.
    gp_weight : float
        lambda of the gradient penalty (``loss="wgan-gp"`` only).
    ema_decay : float or None
        If set, keep ``generator_ema``, an average of G's weights, w <- d w + (1 - d) w_G
        after each G update, and sample from it.
    seed : int
        Seed of the weights' initialization.
    architecture : dict, optional
        The subclass's own sizes (widths, depths), kept with the hyperparameters so that a
        checkpoint rebuilds the same networks; ``build_networks`` reads them from there.
    """

    #: How data in [0, 1] maps to the generator's output: "tanh" means [-1, 1].
    pixel_range = "tanh"
    loss_names = ("D loss", "G loss")

    def __init__(self, image_shape, n_classes=None, latent_dim=100, loss="minimax",
                 lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), n_critic=1, gp_weight=10.0,
                 ema_decay=None, seed=0, architecture=None, lr=None):
        super().__init__(image_shape, n_classes)
        if lr is not None:
            lr_g = lr_d = lr
        name = type(self).__name__
        if loss not in LOSSES:
            raise ValueError(f"{name}: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        latent_dim = check_positive_int(latent_dim, "latent_dim", name)
        n_critic = check_positive_int(n_critic, "n_critic", name)
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"{name}: ema_decay must be in [0, 1) or None, got {ema_decay!r}")
        self.latent_dim, self.loss, self.n_critic = int(latent_dim), loss, int(n_critic)
        self.gp_weight, self.ema_decay = float(gp_weight), ema_decay
        self.hyperparameters = {
            "latent_dim": self.latent_dim, "loss": loss, "lr_g": float(lr_g),
            "lr_d": float(lr_d), "betas": [float(b) for b in betas], "n_critic": self.n_critic,
            "gp_weight": self.gp_weight, "ema_decay": ema_decay, "seed": int(seed),
            **(architecture or {}),
        }
        rng = np.random.default_rng(seed)
        self.generator, self.discriminator = self.build_networks(rng)
        if ema_decay is not None:
            self.generator_ema = self.build_networks(rng)[0]
            self.generator_ema.load_state_dict(self.generator.state_dict())
            self.generator_ema.requires_grad_(False)

    def build_networks(self, rng):
        raise NotImplementedError(f"{type(self).__name__} does not define build_networks()")

    def configure_optimizers(self):
        hp = self.hyperparameters
        return {
            "discriminator": optim.Adam(self.discriminator.parameters(), lr=hp["lr_d"],
                                        betas=tuple(hp["betas"])),
            "generator": optim.Adam(self.generator.parameters(), lr=hp["lr_g"],
                                    betas=tuple(hp["betas"])),
        }

    def noise(self, n, rng):
        """z ~ N(0, I), a Tensor (n, latent_dim)."""
        return Tensor(rng.standard_normal((n, self.latent_dim)).astype(np.float32))

    def training_step(self, x, y, optimizers, rng, step):
        """One D update and, every ``n_critic`` steps, one G update; returns both losses."""
        real = Tensor(2.0 * x - 1.0 if self.pixel_range == "tanh" else x)
        labels = y if self.conditional else None
        opt_d, opt_g = optimizers["discriminator"], optimizers["generator"]

        # 1. Discriminator: real and fake batches go through D separately. The fakes keep
        #    their graph when G updates in this step, so G's update reuses them.
        updates_g = (step + 1) % self.n_critic == 0
        with set_grad_enabled(updates_g):
            fake = self.generator(self.noise(len(real), rng), labels)
        opt_d.zero_grad()
        d_real = self.discriminator(real, labels)
        d_fake = self.discriminator(fake.detach(), labels)
        loss_d = discriminator_loss(d_real, d_fake, self.loss)
        if self.loss == "wgan-gp":
            loss_d = loss_d + gradient_penalty(lambda v: self.discriminator(v, labels), real,
                                               fake.detach(), rng, self.gp_weight)
        loss_d.backward()
        opt_d.step()
        losses = {"D loss": loss_d.item()}
        if not updates_g:
            return losses

        # 2. Generator: raise D's score of the fakes. D's weights need no gradient here.
        opt_g.zero_grad()
        self.discriminator.requires_grad_(False)
        try:
            loss_g = generator_loss(self.discriminator(fake, labels), self.loss)
            loss_g.backward()
        finally:
            self.discriminator.requires_grad_(True)
        opt_g.step()
        self.update_ema()
        losses["G loss"] = loss_g.item()
        return losses

    def update_ema(self):
        """w_ema <- d w_ema + (1 - d) w for each weight of G; buffers are copied."""
        if self.ema_decay is None:
            return
        decay = self.ema_decay
        with no_grad():
            for (_, average), (_, weight) in zip(self.generator_ema.named_parameters(),
                                                 self.generator.named_parameters()):
                average.data *= decay
                average.data += (1.0 - decay) * weight.data
            for (_, copy), (_, buffer) in zip(self.generator_ema.named_buffers(),
                                              self.generator.named_buffers()):
                copy.data[...] = buffer.data

    def sampling_generator(self):
        """The network ``sample`` uses: the weight average if one is kept, else G."""
        return self.generator_ema if self.ema_decay is not None else self.generator

    def export_network(self):
        """What ``scratchgen export`` writes: the generator that ``sample`` uses."""
        return self.sampling_generator()

    def sample(self, n, rng, labels=None):
        """``n`` samples from G (in eval mode: BatchNorm uses its running statistics).

        Returns
        -------
        numpy.ndarray, shape (n, *image_shape)
            float32, in [0, 1] for image GANs, in the data's units with ``pixel_range=None``.
        """
        labels = self._check_sample_request(n, labels)
        generator = self.sampling_generator()
        was_training = generator.training
        generator.eval()
        try:
            with no_grad():
                out = generator(self.noise(n, rng), labels).data
        finally:
            generator.train(was_training)
        if self.pixel_range == "tanh":
            out = np.clip((out + 1.0) / 2.0, 0.0, 1.0)
        return out.astype(np.float32)


class _Unconditional(nn.Module):
    """Wrap a network of one input so that it accepts (and ignores) labels."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, labels=None):
        return self.net(x)


class MLPGAN(GAN):
    """A GAN of two small MLPs for flat data (N, D), e.g. the 2-D ring of Gaussians.

    G: z -> [Linear -> ReLU] x depth -> Linear (no squashing: samples are in the data's units);
    D: x -> [Linear -> LeakyReLU(0.2)] x depth -> Linear -> one logit.
    """

    kind = "mlp-gan"
    pixel_range = None

    def __init__(self, image_shape=(2,), n_classes=None, latent_dim=8, hidden=128, depth=3,
                 lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.9), ema_decay=0.99, **gan_options):
        # Measured on the ring: at these rates the weight average covers all 8 modes after
        # 1,000 steps of 256, with 2/3 of its samples within 3 std of a mode by 1,500 steps.
        super().__init__(image_shape, n_classes, latent_dim=latent_dim, lr_g=lr_g, lr_d=lr_d,
                         betas=betas, ema_decay=ema_decay,
                         architecture={"hidden": int(hidden), "depth": int(depth)},
                         **gan_options)

    def build_networks(self, rng):
        (dim,) = self.image_shape
        hidden, depth = self.hyperparameters["hidden"], self.hyperparameters["depth"]
        g_layers, width = [], self.latent_dim
        for _ in range(depth):
            g_layers += [nn.Linear(width, hidden, rng=rng), nn.ReLU()]
            width = hidden
        g_layers.append(nn.Linear(width, dim, rng=rng))
        d_layers, width = [], dim
        for _ in range(depth):
            d_layers += [nn.Linear(width, hidden, rng=rng), nn.LeakyReLU(0.2)]
            width = hidden
        d_layers.append(nn.Linear(width, 1, rng=rng))
        return (_Unconditional(nn.Sequential(*g_layers)),
                _Unconditional(nn.Sequential(*d_layers)))
