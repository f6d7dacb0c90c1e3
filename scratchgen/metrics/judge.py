"""DigitJudge: a small CNN classifier that scores generated images against real ones.

A generator is judged through the eyes of a classifier trained on real images of the same
kind (MNIST, Fashion-MNIST, the 8x8 digits):

- the Frechet distance between the classifier's penultimate features of generated and of
  held-out real images (the FID of Heusel et al., 2017, with a small in-house network in
  place of Inception; numbers are comparable only between runs scored by the same judge);
- which classes it recognizes in the samples and how evenly (a collapsed generator draws few
  classes, in the spirit of the Inception Score's class-diversity term, Salimans et al., 2016);
- for a conditional generator, how often a sample is classified as the class it was asked for.

The network, for a (C, H, W) input::

    Conv2d(C, 16, 3, padding=1) - ReLU - MaxPool2d(2)          # (N, 16, H//2, W//2)
    Conv2d(16, 32, 3, padding=1) - ReLU - MaxPool2d(2)         # (N, 32, H//4, W//4)
    Flatten - Linear(32 * (H//4) * (W//4), 64) - ReLU          # (N, 64): the features
    Linear(64, n_classes)                                      # (N, n_classes): the logits
"""
import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..data.loader import DataLoader
from ..factories import _generator
from ..nn import functional as F
from .frechet import frechet_distance

__all__ = ["DigitJudge"]

#: Number of features the judge gives per image (its penultimate layer's width).
FEATURE_DIM = 64

#: Pixels may stray this far outside [0, 1] (rounding in a generator's output) and still pass.
PIXEL_TOLERANCE = 1e-3


class DigitJudge:
    """A CNN classifier for small images, with the sample-quality scores built on it.

    Parameters
    ----------
    image_shape : tuple of 3 ints
        (C, H, W) of the images, e.g. (1, 28, 28) for MNIST or (1, 8, 8) for the 8x8
        digits; H and W at least 4 (the network pools twice).
    n_classes : int
        Number of classes, at least 2.
    rng : None, int or numpy.random.Generator
        Randomness for the initial weights and, unless ``fit`` is given its own, the
        shuffling in ``fit``. An int makes the judge reproducible.

    Attributes
    ----------
    network : scratchgen.nn.Module
        ``network.features`` maps (N, C, H, W) images to (N, 64) features,
        ``network.classifier`` maps those to (N, n_classes) logits.
    train_accuracy_ : float
        Set by ``fit``: accuracy on the training batches during the last epoch.
    epoch_losses_ : list of float
        Set by ``fit``: mean cross-entropy of each epoch.

    Examples
    --------
    Train on real 8x8 digits, then score a generator's samples against held-out ones::

        x_train, y_train = data.load_digits(split="train")
        judge = DigitJudge((1, 8, 8), rng=0).fit(x_train / 16, y_train, epochs=10, lr=3e-3)
        real_features = judge.features(data.load_digits(split="test")[0] / 16)
        scores = judge.evaluate_samples(samples, real_features)
        scores["frechet_distance"], scores["classes_recognized"]
    """

    def __init__(self, image_shape=(1, 28, 28), n_classes=10, rng=None):
        shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
        if (shape is None or len(shape) != 3
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                           for s in shape)
                or shape[0] < 1 or shape[1] < 4 or shape[2] < 4):
            raise ValueError(f"DigitJudge: image_shape must be (C, H, W) ints with C >= 1 and "
                             f"H, W >= 4, got {image_shape!r}")
        _check_int(n_classes, "n_classes", "DigitJudge", minimum=2)
        self.image_shape = tuple(int(s) for s in shape)
        self.n_classes = int(n_classes)
        self._rng = _generator(rng, "DigitJudge")
        self.network = _JudgeNetwork(self.image_shape, self.n_classes, self._rng)
        self._trained = False

    # ----------------------------------------------------------------- training
    def fit(self, images, labels, epochs=3, batch_size=64, lr=1e-3, rng=None):
        """Train the classifier with Adam on softmax cross-entropy.

        Parameters
        ----------
        images : array_like, shape (N, C, H, W)
            Real images with values in [0, 1] (divide 8-bit pixels by 255, the 8x8 digits
            by 16).
        labels : array_like of int, shape (N,)
            Classes in 0..n_classes - 1.
        epochs, batch_size : int
            Passes over the data and images per Adam step.
        lr : float
            Adam's learning rate.
        rng : None, int or numpy.random.Generator
            Randomness for the shuffling; None uses the judge's own generator.

        Returns
        -------
        DigitJudge
            ``self``, trained, with ``train_accuracy_`` and ``epoch_losses_`` set.
        """
        x = self._check_images(images, "fit")
        if len(x) == 0:
            raise ValueError("DigitJudge.fit: need at least 1 image to train on, got 0")
        y = self._check_labels(labels, len(x), "fit", "labels")
        _check_int(epochs, "epochs", "DigitJudge.fit")
        _check_int(batch_size, "batch_size", "DigitJudge.fit")
        if not lr > 0:
            raise ValueError(f"DigitJudge.fit: lr must be positive, got {lr!r}")
        rng = self._rng if rng is None else _generator(rng, "DigitJudge.fit")
        # DataLoader shuffles with its own generator, seeded here from ours.
        loader = DataLoader((x, y), batch_size=batch_size, shuffle=True,
                            seed=int(rng.integers(2**63)))
        optimizer = optim.Adam(self.network.parameters(), lr=lr)

        self.network.train()
        self.epoch_losses_ = []
        for _ in range(epochs):
            loss_sum, correct = 0.0, 0
            for xb, yb in loader:
                optimizer.zero_grad()
                logits = self.network(Tensor(xb))
                loss = F.cross_entropy(logits, yb)
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.data) * len(yb)
                correct += int((logits.data.argmax(axis=1) == yb).sum())
            self.epoch_losses_.append(loss_sum / len(y))
        self.train_accuracy_ = correct / len(y)
        self.network.eval()
        self._trained = True
        return self

    # ----------------------------------------------------------------- inference
    def features(self, images, batch_size=500):
        """The network's penultimate activations, the space the Frechet distance works in.

        Parameters
        ----------
        images : array_like or Tensor, shape (N, C, H, W)
            Values in [0, 1].
        batch_size : int
            Images per forward pass: bounds memory; changes the result only by float32
            rounding.

        Returns
        -------
        numpy.ndarray of float64, shape (N, 64)
        """
        x = self._check_images(images, "features")
        return self._run(x, batch_size, "features")[0]

    def predict(self, images, batch_size=500):
        """The most likely class of each image.

        Parameters
        ----------
        images : array_like or Tensor, shape (N, C, H, W)
            Values in [0, 1].
        batch_size : int
            Images per forward pass.

        Returns
        -------
        numpy.ndarray of int64, shape (N,)
        """
        x = self._check_images(images, "predict")
        return self._run(x, batch_size, "predict")[1].argmax(axis=1)

    def score(self, images, labels):
        """Accuracy: the share of ``images`` (N, C, H, W) whose predicted class is ``labels``
        (N,). Returns a float in [0, 1]."""
        x = self._check_images(images, "score")
        y = self._check_labels(labels, len(x), "score", "labels")
        if len(x) == 0:
            raise ValueError("DigitJudge.score: need at least 1 image, got 0")
        return float((self._run(x, 500, "score")[1].argmax(axis=1) == y).mean())

    def _run(self, x, batch_size, method):
        """Features (N, 64) and logits (N, n_classes), float64, of float32 images ``x``,
        in eval mode and batches, without recording a graph."""
        if not self._trained:
            raise ValueError(f"DigitJudge.{method}: the judge is untrained; call fit() or "
                             f"load_state_dict() first")
        _check_int(batch_size, "batch_size", f"DigitJudge.{method}")
        self.network.eval()
        features = np.empty((len(x), FEATURE_DIM))
        logits = np.empty((len(x), self.n_classes))
        with no_grad():
            for start in range(0, len(x), batch_size):    # no pass at all when N = 0
                h = self.network.features(Tensor(x[start:start + batch_size]))
                features[start:start + batch_size] = h.data
                logits[start:start + batch_size] = self.network.classifier(h).data
        return features, logits

    # ----------------------------------------------------------------- scoring samples
    def evaluate_samples(self, samples, real_features, requested_labels=None, min_share=0.01):
        """Score generated images: Frechet distance to real features, classes, balance.

        Parameters
        ----------
        samples : array_like or Tensor, shape (N, C, H, W)
            Generated images with values in [0, 1] (within 1e-3); N >= 2. Rescale a tanh
            generator's [-1, 1] output with ``(x + 1) / 2`` first.
        real_features : array_like, shape (M, 64)
            ``self.features(real_images)`` of held-out real images (M >= 2), computed once
            and reused.
        requested_labels : array_like of int, shape (N,), optional
            For a conditional generator, the class each sample was asked to show.
        min_share : float
            A class counts as recognized when at least this share of the samples (default
            1%) are classified as it.

        Returns
        -------
        dict
            ``frechet_distance`` : float, between the samples' features and
            ``real_features`` (lower is better; see :func:`frechet_distance`).
            ``classes_recognized`` : int, how many classes hold at least ``min_share`` of
            the predictions (n_classes for a good generator, 1 for a collapsed one).
            ``class_balance`` : float in [0, 1], the entropy of the predicted-class
            histogram divided by log(n_classes): 1.0 when every class is predicted equally
            often, 0.0 when all samples fall in one class.
            ``class_histogram`` : list of n_classes ints, predictions per class.
            ``conditional_accuracy`` : float in [0, 1], only with ``requested_labels``: the
            share of samples classified as their requested class.
        """
        x = self._check_images(samples, "evaluate_samples", name="samples")
        if len(x) < 2:
            raise ValueError(f"DigitJudge.evaluate_samples: need at least 2 samples for a "
                             f"covariance, got {len(x)}")
        real = np.asarray(real_features)
        if real.ndim != 2 or real.shape[0] < 2 or real.shape[1] != FEATURE_DIM:
            raise ValueError(f"DigitJudge.evaluate_samples: real_features must have shape "
                             f"(M, {FEATURE_DIM}) with M >= 2, the output of "
                             f"DigitJudge.features, got shape {real.shape}")
        if not 0.0 <= min_share <= 1.0:
            raise ValueError(f"DigitJudge.evaluate_samples: min_share must be in [0, 1], got "
                             f"{min_share!r}")
        if requested_labels is not None:
            requested = self._check_labels(requested_labels, len(x), "evaluate_samples",
                                           "requested_labels")

        features, logits = self._run(x, 500, "evaluate_samples")
        predicted = logits.argmax(axis=1)
        histogram = np.bincount(predicted, minlength=self.n_classes)       # (n_classes,)
        shares = histogram / len(x)
        nonzero = shares[shares > 0]
        # Normalized entropy: sum p log(1/p) / log K, 1 for uniform, 0 for a single class.
        balance = float((nonzero * np.log(1.0 / nonzero)).sum() / np.log(self.n_classes))
        result = {
            "frechet_distance": frechet_distance(features, real),
            "classes_recognized": int(((shares >= min_share) & (histogram > 0)).sum()),
            "class_balance": min(balance, 1.0),           # rounding can pass 1 by 1e-16
            "class_histogram": histogram.tolist(),
        }
        if requested_labels is not None:
            result["conditional_accuracy"] = float((predicted == requested).mean())
        return result

    # ----------------------------------------------------------------- state
    def state_dict(self):
        """The network's weights, ``{name: ndarray}``; save with ``scratchgen.save``."""
        return self.network.state_dict()

    def load_state_dict(self, state_dict, strict=True):
        """Load weights saved by :meth:`state_dict` into a judge built with the same
        ``image_shape`` and ``n_classes``; the judge counts as trained afterwards."""
        result = self.network.load_state_dict(state_dict, strict=strict)
        self.network.eval()
        self._trained = True
        return result

    def __repr__(self):
        return (f"DigitJudge(image_shape={self.image_shape}, n_classes={self.n_classes}, "
                f"trained={self._trained})")

    # ----------------------------------------------------------------- validation
    def _check_images(self, images, method, name="images"):
        """``images`` as a C-contiguous float32 (N, C, H, W) array in [0, 1], or an error."""
        caller = f"DigitJudge.{method}"
        array = images.data if isinstance(images, Tensor) else np.asarray(images)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{caller}: {name} must hold real numbers, got dtype {array.dtype}")
        if array.ndim != 4 or array.shape[1:] != self.image_shape:
            c, h, w = self.image_shape
            raise ValueError(f"{caller}: {name} must have shape (N, {c}, {h}, {w}), got "
                             f"{array.shape}; reshape flat images with "
                             f"x.reshape(-1, {c}, {h}, {w})")
        if array.size:
            if not np.all(np.isfinite(array)):
                raise ValueError(f"{caller}: {name} hold nan or inf values")
            low, high = float(array.min()), float(array.max())
            if low < -PIXEL_TOLERANCE or high > 1 + PIXEL_TOLERANCE:
                raise ValueError(f"{caller}: {name} must have values in [0, 1], got values in "
                                 f"[{low:.4g}, {high:.4g}] (divide 8-bit pixels by 255, map "
                                 f"a tanh output with (x + 1) / 2)")
        return np.ascontiguousarray(array, dtype=np.float32)

    def _check_labels(self, labels, n, method, name):
        """``labels`` as an int64 (n,) array of classes 0..n_classes - 1, or an error."""
        array = np.asarray(labels)
        if array.dtype.kind not in "iu":
            raise TypeError(f"DigitJudge.{method}: {name} must be integers, got dtype "
                            f"{array.dtype}")
        if array.shape != (n,):
            raise ValueError(f"DigitJudge.{method}: {name} must have shape ({n},), one per "
                             f"image, got {array.shape}")
        if n and (array.min() < 0 or array.max() >= self.n_classes):
            raise ValueError(f"DigitJudge.{method}: {name} must lie in 0..{self.n_classes - 1}, "
                             f"got values in {array.min()}..{array.max()}")
        return array.astype(np.int64)


def _check_int(value, name, caller, minimum=1):
    """Raise a ValueError naming ``caller`` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}, got {value!r}")


class _JudgeNetwork(nn.Module):
    """The judge's CNN: ``features`` (N, C, H, W) -> (N, 64), ``classifier`` -> logits."""

    def __init__(self, image_shape, n_classes, rng):
        super().__init__()
        channels, height, width = image_shape
        flat = 32 * (height // 4) * (width // 4)        # two 2x2 max-pools, floor division
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(flat, FEATURE_DIM, rng=rng), nn.ReLU(),
        )
        self.classifier = nn.Linear(FEATURE_DIM, n_classes, rng=rng)

    def forward(self, x):
        return self.classifier(self.features(x))
