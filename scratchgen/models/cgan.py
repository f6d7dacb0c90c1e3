"""The conditional GAN (Mirza and Osindero, 2014, "Conditional Generative Adversarial Nets"):
G(z, y) and D(x, y) both see the label, so ``sample(n, labels=3)`` draws a chosen digit.

The generator concatenates a learned embedding of y to z; the discriminator takes y through a
projection (Miyato and Koyama, 2018): logit = psi(phi(x)) + <embed(y), phi(x)>. The
architecture is otherwise DCGAN's (``dcgan.DCGANGenerator``, ``dcgan.DCGANDiscriminator``),
and the step is ``GAN``'s, with real and fake batches conditioned on the batch's labels.
"""
from .dcgan import DCGAN

__all__ = ["ConditionalGAN"]


class ConditionalGAN(DCGAN):
    """DCGAN conditioned on a class label; ``n_classes`` is required (10 for digits)."""

    kind = "cgan"
    conditional = True

    def __init__(self, image_shape=(1, 28, 28), n_classes=10, **dcgan_options):
        super().__init__(image_shape, n_classes, **dcgan_options)
