"""Variational autoencoders: train by maximizing the evidence lower bound (ELBO).

Kingma and Welling, 2014, "Auto-Encoding Variational Bayes". An encoder gives a diagonal
Gaussian q(z|x) = N(mu(x), diag(exp(logvar(x)))) over the latent z, a decoder gives
p(x|z), and the prior is p(z) = N(0, I). For every image,

    log p(x) >= ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)),

and the loss is the negative bound, averaged over the batch, in nats per image:

    loss = reconstruction + beta * KL,    reconstruction = -log p(x|z),  z ~ q(z|x),
    KL   = 0.5 sum_j (exp(logvar_j) + mu_j^2 - 1 - logvar_j)     (analytic, Appendix B).

``logvar`` is the log of the *variance*, so the reparameterized sample is

    z = mu + exp(logvar / 2) * eps,    eps ~ N(0, I)

(standard deviation exp(logvar / 2), not exp(logvar): the KL above assumes exactly this). With
beta = 1 the loss is -ELBO; beta != 1 is the beta-VAE (Higgins et al., 2017).

Two decoders (``decoder=``):

``"bernoulli"``
    p(x|z) = prod_i Bernoulli(x_i; sigmoid(logit_i)); -log p(x|z) = sum of BCE-with-logits over
    pixels. MNIST's intensities are in [0, 1], not binary; as is usual (Kingma and Welling's
    MNIST numbers, PyTorch's ``vae`` example), the grey values are used as soft targets of the
    same cross entropy, without the continuous Bernoulli's normalizer (Loaiza-Ganem and
    Cunningham, 2019). The numbers are then comparable to that literature.
``"gaussian"``
    p(x|z) = N(x; mean(z), sigma^2 I), with the full density in nats:
    -log p(x|z) = sum_i 0.5 [(x_i - mean_i)^2 / sigma^2 + log(2 pi sigma^2)]. sigma^2 is fixed
    (``gaussian_variance=0.1`` by default: about the per-pixel variance of MNIST, 0.31^2, i.e.
    the maximum-likelihood variance of a decoder that knows nothing, so what the latent explains
    shows up as a gain; smaller values weight reconstruction more against the KL, like a beta
    below 1) or ``"learned"``: one global log-variance, trained with the rest. (One variance
    per pixel would collapse to zero on MNIST's always-black border and make the likelihood
    unbounded.) A Gaussian density is not a probability: its nats are not comparable with the
    Bernoulli decoder's.

``evaluate`` reports the held-out -ELBO and the importance-weighted estimate of -log p(x)
(Burda, Grosse and Salakhutdinov, 2016, "Importance Weighted Autoencoders"). The networks are
in ``vae_nets.py``.
"""
import math
import numbers

import numpy as np
from scipy.special import logsumexp, ndtri

from .. import optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import Parameter
from ..nn import functional as F
from .base import GenerativeModel, check_divisible_by_4, check_labels, check_positive_int
from .vae_nets import ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder

__all__ = ["ConditionalVAE", "ConvVAE", "VAE", "VariationalAutoencoder"]

LOG_2PI = math.log(2.0 * math.pi)
DECODERS = ("bernoulli", "gaussian")


class VariationalAutoencoder(GenerativeModel):
    """The VAE objective, sampling and evaluation; subclasses build the networks.

    Subclasses define ``build_networks(rng)`` returning ``(encoder, decoder)`` (see
    ``vae_nets``). The training step draws every eps from the trainer's ``rng``.

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) of the images.
    n_classes : int or None
        Number of labels (the conditional VAE only).
    latent_dim : int
        Size of z.
    decoder : {"bernoulli", "gaussian"}
        The likelihood p(x|z) (see the module docstring).
    gaussian_variance : float or "learned"
        sigma^2 of the Gaussian decoder (ignored by the Bernoulli one).
    beta : float
        Weight of the KL term in the training loss (1 gives -ELBO).
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the weights' initialization.
    architecture : dict, optional
        The subclass's sizes, kept with the hyperparameters so a checkpoint rebuilds them.
    """

    #: loss = reconstruction + beta * KL (= -ELBO when beta = 1), all in nats per image.
    loss_names = ("loss", "reconstruction", "KL")
    default_batch_size = 128                  # as PyTorch's VAE example

    def __init__(self, image_shape, n_classes=None, latent_dim=20, decoder="bernoulli",
                 gaussian_variance=0.1, beta=1.0, lr=1e-3, seed=0, architecture=None):
        super().__init__(image_shape, n_classes)
        name = type(self).__name__
        self.latent_dim = check_positive_int(latent_dim, "latent_dim", name)
        if decoder not in DECODERS:
            raise ValueError(f"{name}: decoder must be one of {', '.join(DECODERS)}, got "
                             f"{decoder!r}")
        if gaussian_variance != "learned" and (isinstance(gaussian_variance, (bool, str))
                                               or not gaussian_variance > 0):
            raise ValueError(f"{name}: gaussian_variance must be a positive float or "
                             f"'learned', got {gaussian_variance!r}")
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(f"{name}: beta must be a float >= 0, got {beta!r}")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0:
            raise ValueError(f"{name}: lr must be a positive float, got {lr!r}")
        if gaussian_variance != "learned":
            gaussian_variance = float(gaussian_variance)
        self.decoder_kind, self.gaussian_variance = decoder, gaussian_variance
        self.beta = float(beta)
        self.hyperparameters = {
            "latent_dim": self.latent_dim, "decoder": decoder,
            "gaussian_variance": gaussian_variance, "beta": self.beta, "lr": float(lr),
            "seed": int(seed), **(architecture or {}),
        }
        self.encoder, self.decoder = self.build_networks(np.random.default_rng(seed))
        if decoder == "gaussian" and gaussian_variance == "learned":
            # log sigma^2, one for all pixels, starting at the fixed default 0.1.
            self.decoder_logvar = Parameter(np.full(1, math.log(0.1), dtype=np.float32))

    def build_networks(self, rng):
        raise NotImplementedError(f"{type(self).__name__} does not define build_networks()")

    def configure_optimizers(self):
        return {"model": optim.Adam(self.parameters(), lr=self.hyperparameters["lr"])}

    # -- the pieces of the bound ---------------------------------------------------------
    def encode(self, x, labels=None):
        """q(z|x): ``(mu, logvar)``, Tensors (N, latent_dim), logvar = log variance."""
        return self.encoder(x if isinstance(x, Tensor) else Tensor(x), labels)

    def reparameterize(self, mu, logvar, rng):
        """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from ``rng``: a sample of
        q(z|x) through which gradients reach mu and logvar."""
        eps = rng.standard_normal(mu.shape).astype(mu.dtype)
        return mu + (0.5 * logvar).exp() * Tensor(eps)

    def decode(self, z, labels=None):
        """The decoder's output (N, C, H, W): Bernoulli logits or the Gaussian mean."""
        return self.decoder(z if isinstance(z, Tensor) else Tensor(z), labels)

    def log_likelihood(self, x, out):
        """log p(x|z) of each image, summed over pixels with every constant: a Tensor (N,).

        ``x`` is (N, C, H, W) in [0, 1]; ``out`` is ``decode(z)``.
        """
        axes = tuple(range(1, out.ndim))
        if self.decoder_kind == "bernoulli":
            return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(axis=axes)
        diff = out - Tensor(np.asarray(x, dtype=out.dtype))
        if self.gaussian_variance == "learned":
            logvar = self.decoder_logvar
            per_pixel = diff * diff * (-logvar).exp() + logvar
        else:
            per_pixel = diff * diff * (1.0 / self.gaussian_variance) \
                + math.log(self.gaussian_variance)
        return -0.5 * (per_pixel.sum(axis=axes) + LOG_2PI * math.prod(out.shape[1:]))

    def mean_image(self, out):
        """The decoder's mean E[x|z] as float32 in [0, 1]: sigmoid of the logits, or the
        Gaussian mean clipped to [0, 1]."""
        out = out.data
        if self.decoder_kind == "bernoulli":
            return (0.5 * (1.0 + np.tanh(0.5 * out))).astype(np.float32)   # sigmoid, no overflow
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def loss_terms(self, x, labels, rng):
        """Per image: (reconstruction, KL), Tensors (N,), from one z ~ q(z|x) each."""
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar, rng)
        reconstruction = -self.log_likelihood(x, self.decode(z, labels))
        return reconstruction, F.kl_normal_standard(mu, logvar, reduction="none")

    # -- what the trainer calls ----------------------------------------------------------
    def training_step(self, x, y, optimizers, rng, step):
        """One Adam step on loss = mean over the batch of reconstruction + beta * KL."""
        opt = optimizers["model"]
        opt.zero_grad()
        reconstruction, kl = self.loss_terms(x, y if self.conditional else None, rng)
        reconstruction, kl = reconstruction.mean(), kl.mean()
        loss = reconstruction + self.beta * kl
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "reconstruction": reconstruction.item(), "KL": kl.item()}

    def sample(self, n, rng, labels=None):
        """Decode z ~ N(0, I) drawn from ``rng``.

        Returns
        -------
        numpy.ndarray of float32, shape (n, C, H, W)
            The decoder's mean images (not a draw of the pixel noise), in [0, 1].
        """
        labels = self._check_sample_request(n, labels)
        z = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        with no_grad():
            return self.mean_image(self.decode(z, labels))

    def reconstruct(self, x, y=None):
        """The mean reconstruction of images ``x`` (N, C, H, W), decoding z = mu(x) (the
        posterior mean, so no randomness); ``y`` (N,) labels for the conditional VAE.

        Returns float32 (N, C, H, W) in [0, 1].
        """
        x = self._check_images(x, "reconstruct")
        labels = self._check_labels(y, len(x), "reconstruct")
        with no_grad():
            mu, _ = self.encode(x, labels)
            return self.mean_image(self.decode(mu, labels))

    def decode_latent_grid(self, steps=15, quantiles=(0.05, 0.95), label=None):
        """Decode a grid over the 2-D latent plane (Kingma and Welling, 2014, Figure 4):
        evenly spaced quantiles in ``quantiles`` mapped through the Gaussian inverse CDF, so
        each cell covers the same prior mass.

        Parameters
        ----------
        steps : int
            Points per axis.
        quantiles : tuple of float
            The lowest and highest quantile, in (0, 1).
        label : int, optional
            The class to draw (the conditional VAE: its default is 0).

        Returns
        -------
        numpy.ndarray of float32, shape (steps * steps, C, H, W)
            Row-major: row r (top to bottom) has z2 from high to low, column c has z1 from
            low to high; ``viz.save_image_grid(images, path, nrow=steps)`` shows the plane.
        """
        name = f"{type(self).__name__}.decode_latent_grid"
        if self.latent_dim != 2:
            raise ValueError(f"{name}: needs a 2-D latent space, but latent_dim="
                             f"{self.latent_dim}")
        steps = check_positive_int(steps, "steps", name)
        low, high = quantiles
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"{name}: quantiles must satisfy 0 < low < high < 1, got "
                             f"{quantiles!r}")
        values = ndtri(np.linspace(low, high, steps))
        z1, z2 = np.meshgrid(values, values[::-1])                 # (steps, steps) each
        z = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)
        labels = None
        if self.conditional:
            labels = check_labels(0 if label is None else label, len(z), self.n_classes, name)
        elif label is not None:
            raise ValueError(f"{name}: this model is not conditional and takes no label")
        with no_grad():
            return self.mean_image(self.decode(z, labels))

    def evaluate(self, x, y, rng, k=100, rows_per_batch=4096):
        """Held-out bounds on -log p(x), in nats per image, averaged over ``x``.

        ``test_neg_elbo``: -ELBO = E_q[-log p(x|z)] + KL, the expectation estimated from the
        same k draws per image (beta is not applied: this is the bound itself).
        ``test_nll_iwae``: -log of the importance-weighted estimate (Burda et al., 2016)

            log p(x) ~ logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k,

        z_i ~ q(z|x), a tighter bound that approaches -log p(x) as k grows (k = 1 is the
        ELBO in expectation). All densities keep their normalizing constants.

        Parameters
        ----------
        x : numpy.ndarray, shape (N, C, H, W)
            Held-out images in [0, 1].
        y : numpy.ndarray of int, shape (N,)
            Their labels (used by the conditional VAE only).
        rng : numpy.random.Generator
            Source of the z draws.
        k : int
            Importance samples per image.
        rows_per_batch : int
            Decoder inputs per batch (images per batch = rows_per_batch // k, at least 1).

        Returns
        -------
        dict
            ``test_neg_elbo``, ``test_nll_iwae``, ``test_reconstruction``, ``test_KL`` (floats).
        """
        x = self._check_images(x, "evaluate")
        k = check_positive_int(k, "k", f"{type(self).__name__}.evaluate")
        labels = self._check_labels(y, len(x), "evaluate") if self.conditional else None
        per_batch = max(1, int(rows_per_batch) // k)
        totals = np.zeros(3)                                     # reconstruction, KL, IWAE
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for start in range(0, len(x), per_batch):
                    part = slice(start, start + per_batch)
                    totals += self._bounds(x[part], None if labels is None else labels[part],
                                           rng, k)
        finally:
            self.train(was_training)
        reconstruction, kl, nll = totals / len(x)
        return {"test_neg_elbo": float(reconstruction + kl), "test_nll_iwae": float(nll),
                "test_reconstruction": float(reconstruction), "test_KL": float(kl)}

    def _bounds(self, x, labels, rng, k):
        """Sums over a batch of (E_q[-log p(x|z)], KL, -IWAE bound) from k draws per image."""
        b = len(x)
        mu, logvar = self.encode(x, labels)
        mu, logvar = mu.data, logvar.data                         # (b, L)
        eps = rng.standard_normal((k, b, self.latent_dim)).astype(np.float32)
        z = mu + np.exp(0.5 * logvar) * eps                       # (k, b, L)
        tiled_x = np.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])
        tiled_labels = None if labels is None else np.tile(labels, k)
        out = self.decode(z.reshape(k * b, -1), tiled_labels)
        log_px = self.log_likelihood(tiled_x, out).data.astype(np.float64).reshape(k, b)
        log_pz = -0.5 * (np.square(z, dtype=np.float64) + LOG_2PI).sum(axis=2)
        log_qz = -0.5 * (np.square(eps, dtype=np.float64) + logvar + LOG_2PI).sum(axis=2)
        log_p_x = logsumexp(log_px + log_pz - log_qz, axis=0) - math.log(k)       # (b,)
        kl = 0.5 * (np.exp(logvar) + mu * mu - 1.0 - logvar).astype(np.float64).sum(axis=1)
        return np.array([-log_px.mean(axis=0).sum(), kl.sum(), -log_p_x.sum()])

    def pictures(self, x, y, rng, pairs=32):
        """The end-of-run pictures: ``reconstructions``, rows of 8 held-out images each above
        its mean reconstruction (as PyTorch's VAE example), and with a 2-D latent space the
        ``latent_plane`` (``decode_latent_grid``). ``{stem: (images, nrow)}``."""
        x = self._check_images(x, "pictures")[:pairs]
        y = None if y is None else np.asarray(y)[:pairs]
        recon = self.reconstruct(x, y)
        rows = [part for start in range(0, len(x), 8)
                for part in (x[start:start + 8], recon[start:start + 8])]
        pictures = {"reconstructions": (np.concatenate(rows), 8)}
        if self.latent_dim == 2:
            pictures["latent_plane"] = (self.decode_latent_grid(15), 15)
        return pictures

    # -- argument checks -----------------------------------------------------------------
    def _check_images(self, x, method):
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1 + len(self.image_shape) or x.shape[1:] != self.image_shape \
                or len(x) == 0:
            raise ValueError(f"{type(self).__name__}.{method}: expected images of shape "
                             f"(N, {', '.join(map(str, self.image_shape))}), got {x.shape}")
        return x

    def _check_labels(self, y, n, method):
        name = f"{type(self).__name__}.{method}"
        if not self.conditional:
            return None
        if y is None:
            raise ValueError(f"{name}: the conditional VAE needs the images' labels y")
        return check_labels(y, n, self.n_classes, name)


class VAE(VariationalAutoencoder):
    """The MLP VAE: 784-400-20 for MNIST (Kingma and Welling, 2014; PyTorch's example).

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W) (or (D,) for flat data); D = C H W inputs.
    hidden : int
        Width of the one hidden layer of the encoder and of the decoder.
    **options
        ``latent_dim`` (20), ``decoder``, ``gaussian_variance``, ``beta``, ``lr``, ``seed``:
        see ``VariationalAutoencoder``.
    """

    kind = "vae"

    def __init__(self, image_shape=(1, 28, 28), n_classes=None, hidden=400, **options):
        hidden = check_positive_int(hidden, "hidden", type(self).__name__)
        super().__init__(image_shape, n_classes, architecture={"hidden": hidden}, **options)

    def build_networks(self, rng):
        classes = self.n_classes if self.conditional else None
        hidden = self.hyperparameters["hidden"]
        return (MLPEncoder(self.image_shape, self.latent_dim, hidden, classes, rng),
                MLPDecoder(self.image_shape, self.latent_dim, hidden, classes, rng))


class ConvVAE(VariationalAutoencoder):
    """The convolutional VAE: two stride-2 convolutions down, two transposed ones up (see
    ``vae_nets``); H and W divisible by 4.

    Parameters
    ----------
    image_shape : tuple of int
        (C, H, W).
    width : int
        k: the channels of the first convolution (the second has 2k).
    **options
        ``latent_dim`` (20), ``decoder``, ``gaussian_variance``, ``beta``, ``lr``, ``seed``:
        see ``VariationalAutoencoder``.
    """

    kind = "conv-vae"

    def __init__(self, image_shape=(1, 28, 28), n_classes=None, width=32, **options):
        name = type(self).__name__
        check_divisible_by_4(image_shape, name)
        width = check_positive_int(width, "width", name)
        super().__init__(image_shape, n_classes, architecture={"width": width}, **options)

    def build_networks(self, rng):
        width = self.hyperparameters["width"]
        return (ConvEncoder(self.image_shape, self.latent_dim, width, None, rng),
                ConvDecoder(self.image_shape, self.latent_dim, width, None, rng))


class ConditionalVAE(VAE):
    """The MLP VAE conditioned on a class label (Sohn et al., 2015): q(z|x, y) and p(x|z, y)
    see the label's one-hot vector, so ``sample(n, rng, labels=3)`` draws chosen digits.
    ``n_classes`` is required (10 for digits); other options as ``VAE``.
    """

    kind = "cvae"
    conditional = True

    def __init__(self, image_shape=(1, 28, 28), n_classes=10, **options):
        super().__init__(image_shape, n_classes, **options)
