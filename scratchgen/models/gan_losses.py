"""The adversarial objectives, each computed from the discriminator's logits.

With ``d_real = D(x)`` and ``d_fake = D(G(z))`` the raw scores (logits) of a batch:

minimax (Goodfellow et al., 2014), with the non-saturating generator loss
    L_D = -[log sigmoid(d_real) + log(1 - sigmoid(d_fake))] = softplus(-d_real) + softplus(d_fake)
    L_G = -log sigmoid(d_fake) = softplus(-d_fake)
    Written through binary cross entropy with logits, so no sigmoid is ever rounded to 0 or 1:
    the losses and their gradients are finite at any logit.
hinge (Lim & Ye, 2017; Miyato et al., 2018)
    L_D = mean(relu(1 - d_real)) + mean(relu(1 + d_fake)),   L_G = -mean(d_fake)
wgan-gp (Gulrajani et al., 2017): D is a critic, its score is not a probability
    L_D = mean(d_fake) - mean(d_real) + lambda * mean((||grad_x D(x_hat)||_2 - 1)^2)
    L_G = -mean(d_fake)
    with x_hat = eps x + (1 - eps) G(z), eps ~ U(0, 1) per sample: the gradient penalty, whose
    own gradient needs the double backward (``create_graph=True``).
"""
import numpy as np

from ..autograd.engine import grad
from ..autograd.tensor import Tensor
from ..ops.losses import binary_cross_entropy_with_logits

__all__ = ["LOSSES", "discriminator_loss", "generator_loss", "gradient_penalty"]

#: The objectives ``discriminator_loss`` and ``generator_loss`` know.
LOSSES = ("minimax", "hinge", "wgan-gp")


def _check_loss(loss, caller):
    if loss not in LOSSES:
        raise ValueError(f"{caller}: unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


def discriminator_loss(d_real, d_fake, loss="minimax"):
    """The discriminator's (critic's) loss from its logits on a real and a fake batch.

    Parameters
    ----------
    d_real, d_fake : Tensor, shape (N, 1) or (N,)
        Logits of real and generated samples (the batches may differ in size).
    loss : {"minimax", "hinge", "wgan-gp"}
        The objective; for "wgan-gp" the gradient penalty is added separately
        (:func:`gradient_penalty`).

    Returns
    -------
    Tensor, shape ()
    """
    _check_loss(loss, "discriminator_loss")
    if loss == "minimax":
        # -log D(x) - log(1 - D(G(z))): cross entropy with targets 1 (real) and 0 (fake).
        ones = np.ones(d_real.shape, dtype=d_real.dtype)
        zeros = np.zeros(d_fake.shape, dtype=d_fake.dtype)
        return (binary_cross_entropy_with_logits(d_real, ones)
                + binary_cross_entropy_with_logits(d_fake, zeros))
    if loss == "hinge":
        return (1.0 - d_real).relu().mean() + (1.0 + d_fake).relu().mean()
    return d_fake.mean() - d_real.mean()


def generator_loss(d_fake, loss="minimax"):
    """The generator's loss from the discriminator's logits on generated samples.

    "minimax" uses the non-saturating form -log D(G(z)), whose gradient stays strong while
    the discriminator still rejects the fakes; "hinge" and "wgan-gp" use -mean(D(G(z))).
    """
    _check_loss(loss, "generator_loss")
    if loss == "minimax":
        ones = np.ones(d_fake.shape, dtype=d_fake.dtype)
        return binary_cross_entropy_with_logits(d_fake, ones)
    return -d_fake.mean()


def gradient_penalty(critic, real, fake, rng, weight=10.0):
    """lambda * mean((||grad_x critic(x_hat)||_2 - 1)^2) at points between real and fake.

    Parameters
    ----------
    critic : callable
        Maps a batch (N, ...) to scores (N, 1); it must not use batch statistics (no
        BatchNorm), since the penalty is per sample.
    real, fake : Tensor, shape (N, ...)
        A real and a generated batch of the same shape; neither needs a graph.
    rng : numpy.random.Generator
        Draws the interpolation weights eps ~ U(0, 1), one per sample.
    weight : float
        lambda, 10 in the paper.

    Returns
    -------
    Tensor, shape ()
        Differentiable with respect to the critic's parameters (through double backward).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {real.shape} and fake {fake.shape} batches "
                         "must have the same shape")
    n = real.shape[0]
    eps = rng.uniform(size=(n,) + (1,) * (real.ndim - 1)).astype(real.dtype)
    x_hat = Tensor(eps * real.data + (1.0 - eps) * fake.data, requires_grad=True)
    (grad_x,) = grad(critic(x_hat).sum(), x_hat, create_graph=True)
    # ||grad||_2 per sample; the 1e-12 keeps the square root differentiable at zero.
    norms = ((grad_x * grad_x).sum(axis=tuple(range(1, real.ndim))) + 1e-12).sqrt()
    return weight * ((norms - 1.0) ** 2).mean()
