"""``GenerativeModel``: what every model the trainer trains provides.

A generative model here is a ``Module`` that owns its networks and its objective. The trainer
(``scratchgen.train``) knows nothing about GANs or VAEs: it shuffles the data, calls
``training_step`` on each mini-batch with the optimizers that ``configure_optimizers`` made,
and calls ``sample`` for the pictures. A new model family needs only these methods:

``configure_optimizers()``
    ``{name: Optimizer}``, e.g. ``{"generator": ..., "discriminator": ...}`` for a GAN.
``training_step(x, y, optimizers, rng, step)``
    One update on a batch ``x`` (N, C, H, W) in [0, 1] with labels ``y`` (N,); returns the
    losses as ``{name: float}``.
``sample(n, rng, labels=None)``
    ``n`` new images, a float array (n, C, H, W) in [0, 1].
``evaluate(x, y, rng)``
    Held-out numbers for ``metrics.json`` (a VAE's -ELBO, say); ``{}`` by default.
``pictures(x, y, rng)``
    Extra pictures of held-out images (a VAE's reconstructions); ``{}`` by default.

Every random draw comes from the ``rng`` the caller passes, so a run is reproducible from its
seed, and a run resumed from a checkpoint repeats the uninterrupted run exactly.
"""
import numpy as np

from .. import nn

__all__ = ["GenerativeModel", "check_divisible_by_4", "check_image_shape", "check_labels",
           "check_positive_int"]


class GenerativeModel(nn.Module):
    """Base class of the trainable generative models.

    Parameters
    ----------
    image_shape : tuple of int
        The shape of one sample: (C, H, W) for the images the model sees and draws, (D,)
        for vector data.
    n_classes : int or None
        Number of labels, for the conditional models; None for the others.

    Subclasses list their constructor's other keyword arguments in ``hyperparameters``, so
    that a checkpoint can rebuild the same architecture: ``type(model)(**model.config())``.
    """

    #: The name under which ``scratchgen train`` knows the model (set by subclasses).
    kind = None
    #: Whether ``sample`` takes ``labels`` (the conditional models).
    conditional = False
    #: The names of the losses ``training_step`` returns, in display order.
    loss_names = ()
    #: Images per step when the user does not say (``scratchgen train --batch-size``).
    default_batch_size = 64

    def __init__(self, image_shape, n_classes=None):
        super().__init__()
        self.image_shape = check_image_shape(image_shape, type(self).__name__)
        if self.conditional and (not isinstance(n_classes, (int, np.integer))
                                 or isinstance(n_classes, bool) or n_classes < 2):
            raise ValueError(f"{type(self).__name__}: a conditional model needs n_classes >= 2, "
                             f"got {n_classes!r}")
        self.n_classes = None if n_classes is None else int(n_classes)
        self.hyperparameters = {}

    def config(self):
        """Everything needed to rebuild this architecture: shape, classes, hyperparameters."""
        return {"image_shape": list(self.image_shape), "n_classes": self.n_classes,
                **self.hyperparameters}

    def configure_optimizers(self):
        raise NotImplementedError(f"{type(self).__name__} does not define configure_optimizers()")

    def training_step(self, x, y, optimizers, rng, step):
        raise NotImplementedError(f"{type(self).__name__} does not define training_step()")

    def sample(self, n, rng, labels=None):
        raise NotImplementedError(f"{type(self).__name__} does not define sample()")

    def evaluate(self, x, y, rng):
        """Held-out metrics of the model itself (none by default)."""
        return {}

    def pictures(self, x, y, rng):
        """Model-specific pictures for the end of a run, ``{file stem: (images, nrow)}``:
        a VAE's reconstructions, say. Images are (N, C, H, W) in [0, 1]; none by default."""
        return {}

    def export_network(self):
        """The network whose weights ``scratchgen export`` writes (the whole model by default;
        a GAN's generator)."""
        return self

    def _check_sample_request(self, n, labels):
        """Validate ``sample``'s arguments; return the labels as an int64 array or None."""
        name = f"{type(self).__name__}.sample"
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name}: n must be a positive int, got {n!r}")
        if labels is None:
            if self.conditional:
                # Cycle through the classes so a grid shows each one.
                return np.arange(n, dtype=np.int64) % self.n_classes
            return None
        if not self.conditional:
            raise ValueError(f"{name}: this model is not conditional and takes no labels")
        return check_labels(labels, n, self.n_classes, name)


def check_image_shape(image_shape, caller, rank=None):
    """``image_shape`` as a tuple of positive ints ((C, H, W) for images, (D,) for vectors),
    of length ``rank`` if given, or a ValueError naming ``caller``."""
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{caller}: image_shape must be a tuple of sizes such as (C, H, W), "
                         f"got {image_shape!r}") from None
    if not shape or min(shape) < 1 or (rank is not None and len(shape) != rank):
        wanted = "(C, H, W)" if rank == 3 else "positive sizes"
        raise ValueError(f"{caller}: image_shape must be {wanted}, got {image_shape!r}")
    return shape


def check_divisible_by_4(image_shape, caller):
    """(C, H, W) with H and W divisible by 4 (two stride-2 layers), or a ValueError."""
    shape = check_image_shape(image_shape, caller, rank=3)
    if shape[1] % 4 or shape[2] % 4:
        raise ValueError(f"{caller}: image height and width must be divisible by 4 (two "
                         f"stride-2 layers), got image_shape={shape}")
    return shape


def check_labels(labels, n, n_classes, caller):
    """Labels as an int64 array of length ``n`` (a scalar is repeated) in [0, n_classes)."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{caller}: labels must be integers, got dtype {labels.dtype}")
    if labels.ndim == 0:
        labels = np.full(n, labels, dtype=np.int64)
    if labels.shape != (n,):
        raise ValueError(f"{caller}: expected {n} labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{caller}: labels must lie in [0, {n_classes - 1}], got "
                         f"[{labels.min()}, {labels.max()}]")
    return labels.astype(np.int64)


def check_positive_int(value, name, caller):
    """``value`` as an int >= 1 (not a bool), or a ValueError naming ``caller`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{caller}: {name} must be a positive int, got {value!r}")
    return int(value)
