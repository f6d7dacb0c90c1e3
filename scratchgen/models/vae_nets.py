"""The VAEs' encoders and decoders: an MLP pair and a convolutional pair, optionally
conditioned on a class label.

Each encoder maps images (N, C, H, W) [and labels (N,)] to the parameters of the diagonal
Gaussian q(z|x) = N(mu, diag(exp(logvar))): ``(mu, logvar)``, each (N, latent_dim), where
``logvar`` is the log of the *variance*. Each decoder maps z (N, latent_dim) [and labels] to
one number per pixel, (N, C, H, W): Bernoulli logits, or a Gaussian mean (``vae.py`` decides
which, the networks do not care). The objective lives in ``vae.py``.

    MLP  (Kingma and Welling, 2014, Appendix C; 784-400-20 for MNIST):
        encoder  x -> Flatten -> Linear(D, hidden) -> ReLU -> Linear(hidden, 2 latent)
        decoder  z -> Linear(latent, hidden) -> ReLU -> Linear(hidden, D) -> (C, H, W)
    Conv (k = width; H and W divisible by 4, h = H / 4, w = W / 4):
        encoder  x -> Conv(C, k, 4, 2, 1) -> ReLU -> Conv(k, 2k, 4, 2, 1) -> ReLU    # (2k, h, w)
                   -> Flatten -> Linear(2k h w, 2 latent)
        decoder  z -> Linear(latent, 2k h w) -> ReLU -> Unflatten(2k, h, w)
                   -> ConvT(2k, k, 4, 2, 1) -> ReLU -> ConvT(k, C, 4, 2, 1)           # (C, H, W)

A conditional network (``n_classes`` set) concatenates the label's one-hot vector to the
encoder's flattened input (MLP) or features (conv) and to z (Sohn, Lee and Yan, 2015,
"Learning Structured Output Representation using Deep Conditional Generative Models").
"""
import numpy as np

from .. import nn
from ..autograd.tensor import Tensor
from ..ops.movement import concatenate
from .base import check_divisible_by_4, check_image_shape

__all__ = ["ConvDecoder", "ConvEncoder", "MLPDecoder", "MLPEncoder", "one_hot"]


def one_hot(labels, n_classes, dtype=np.float32):
    """Labels (N,) -> a constant Tensor (N, n_classes) with a 1 in each label's column."""
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], n_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return Tensor(out)


def _with_label(h, labels, n_classes, caller):
    """Append the labels' one-hot columns to the features h (N, F) of a conditional net."""
    if n_classes is None:
        return h
    if labels is None:
        raise ValueError(f"{caller}: this network is conditional and needs labels (N,)")
    return concatenate([h, one_hot(labels, n_classes, h.dtype)], axis=1)


def _split_mu_logvar(h, latent_dim):
    """The encoder's last layer (N, 2 latent) -> (mu, logvar), each (N, latent)."""
    return h[:, :latent_dim], h[:, latent_dim:]


class MLPEncoder(nn.Module):
    """Images (N, C, H, W) [and labels (N,)] -> (mu, logvar), each (N, latent_dim)."""

    def __init__(self, image_shape, latent_dim=20, hidden=400, n_classes=None, rng=None):
        super().__init__()
        dim = int(np.prod(check_image_shape(image_shape, "MLPEncoder")))
        self.latent_dim, self.n_classes = latent_dim, n_classes
        extra = n_classes or 0
        self.flatten = nn.Flatten()
        self.hidden = nn.Sequential(nn.Linear(dim + extra, hidden, rng=rng), nn.ReLU())
        self.out = nn.Linear(hidden, 2 * latent_dim, rng=rng)

    def forward(self, x, labels=None):
        h = _with_label(self.flatten(x), labels, self.n_classes, "MLPEncoder")   # (N, D [+K])
        return _split_mu_logvar(self.out(self.hidden(h)), self.latent_dim)


class MLPDecoder(nn.Module):
    """z (N, latent_dim) [and labels (N,)] -> one value per pixel (N, C, H, W)."""

    def __init__(self, image_shape, latent_dim=20, hidden=400, n_classes=None, rng=None):
        super().__init__()
        shape = check_image_shape(image_shape, "MLPDecoder")
        self.n_classes = n_classes
        self.net = nn.Sequential(
            nn.Linear(latent_dim + (n_classes or 0), hidden, rng=rng), nn.ReLU(),
            nn.Linear(hidden, int(np.prod(shape)), rng=rng),
            nn.Unflatten(1, shape),                                            # (N, C, H, W)
        )

    def forward(self, z, labels=None):
        return self.net(_with_label(z, labels, self.n_classes, "MLPDecoder"))


class ConvEncoder(nn.Module):
    """Images (N, C, H, W) [and labels (N,)] -> (mu, logvar), each (N, latent_dim)."""

    def __init__(self, image_shape, latent_dim=20, width=32, n_classes=None, rng=None):
        super().__init__()
        c, height, width_px = check_divisible_by_4(image_shape, "ConvEncoder")
        h, w, k = height // 4, width_px // 4, width
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.features = nn.Sequential(
            nn.Conv2d(c, k, 4, stride=2, padding=1, rng=rng), nn.ReLU(),         # (N, k, 2h, 2w)
            nn.Conv2d(k, 2 * k, 4, stride=2, padding=1, rng=rng), nn.ReLU(),     # (N, 2k, h, w)
            nn.Flatten(),                                                        # (N, 2k h w)
        )
        self.out = nn.Linear(2 * k * h * w + (n_classes or 0), 2 * latent_dim, rng=rng)

    def forward(self, x, labels=None):
        h = _with_label(self.features(x), labels, self.n_classes, "ConvEncoder")
        return _split_mu_logvar(self.out(h), self.latent_dim)


class ConvDecoder(nn.Module):
    """z (N, latent_dim) [and labels (N,)] -> one value per pixel (N, C, H, W)."""

    def __init__(self, image_shape, latent_dim=20, width=32, n_classes=None, rng=None):
        super().__init__()
        c, height, width_px = check_divisible_by_4(image_shape, "ConvDecoder")
        h, w, k = height // 4, width_px // 4, width
        self.n_classes = n_classes
        self.net = nn.Sequential(
            nn.Linear(latent_dim + (n_classes or 0), 2 * k * h * w, rng=rng), nn.ReLU(),
            nn.Unflatten(1, (2 * k, h, w)),                                     # (N, 2k, h, w)
            nn.ConvTranspose2d(2 * k, k, 4, stride=2, padding=1, rng=rng), nn.ReLU(),
            nn.ConvTranspose2d(k, c, 4, stride=2, padding=1, rng=rng),         # (N, C, H, W)
        )

    def forward(self, z, labels=None):
        return self.net(_with_label(z, labels, self.n_classes, "ConvDecoder"))
