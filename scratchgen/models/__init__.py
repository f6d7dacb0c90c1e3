"""Generative models of images: GANs, VAEs, a generative stochastic network and GP-LVMs.

Each model is a ``GenerativeModel`` (``base.py``): a Module that owns its networks, its
objective (with the paper in its module docstring) and one ``training_step``; the loop around
it is ``scratchgen.train.Trainer``. ``MODELS`` maps the names ``scratchgen train`` takes to
the classes, and ``build_model`` rebuilds one from a checkpoint's configuration.
"""
from .base import GenerativeModel
from .cgan import ConditionalGAN
from .dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator
from .gan import GAN, MLPGAN
from .gan_losses import discriminator_loss, generator_loss, gradient_penalty
from .gplvm import BayesianGPLVMModel, GPLVMModel
from .gsn import GSN
from .vae import VAE, ConditionalVAE, ConvVAE, VariationalAutoencoder
from .wgan_gp import WGANGP

#: Every model a checkpoint can hold, by name.
MODELS = {cls.kind: cls for cls in (DCGAN, WGANGP, ConditionalGAN, VAE, ConvVAE,
                                    ConditionalVAE, GSN, MLPGAN, GPLVMModel, BayesianGPLVMModel)}
#: The models ``scratchgen train`` trains on images (MLPGAN is for 2-D toy data).
IMAGE_MODELS = ("dcgan", "wgan-gp", "cgan", "vae", "conv-vae", "cvae", "gsn", "gplvm", "bgplvm")
#: Those of them fitted at once by L-BFGS-B (``fit``), not by the trainer's mini-batch steps.
GP_MODELS = ("gplvm", "bgplvm")


def build_model(kind, **config):
    """A new model of ``kind`` ("dcgan", "vae", ...) built from ``config`` (as returned by
    ``GenerativeModel.config()``: image_shape, n_classes and the hyperparameters)."""
    if kind not in MODELS:
        raise ValueError(f"build_model: unknown model {kind!r}; choose one of "
                         f"{', '.join(MODELS)}")
    return MODELS[kind](**config)


__all__ = [
    "BayesianGPLVMModel", "GP_MODELS", "GPLVMModel", "ConditionalGAN", "ConditionalVAE", "ConvVAE", "DCGAN", "DCGANDiscriminator",
    "DCGANGenerator", "GAN", "GSN", "GenerativeModel", "IMAGE_MODELS", "MLPGAN", "MODELS", "VAE",
    "VariationalAutoencoder", "WGANGP", "build_model", "discriminator_loss", "generator_loss",
    "gradient_penalty",
]
