"""Sample quality after training: a judge classifier looks at the samples.

The judge (``scratchgen.metrics.DigitJudge``) is trained on the run's training images with a
seed of its own, so every model trained on the same data with the same seed is scored by the
same judge and the numbers compare across model families. Its features of held-out real
images are the reference for the Frechet distance; the distance between the training and the
held-out images themselves is reported beside it as the floor a perfect model would reach.
"""
import time

import numpy as np

from ..metrics import DigitJudge
from .trainer import stream

__all__ = ["JUDGE_EPOCHS", "quality_metrics", "train_judge"]

#: The judge trains for at least this many epochs and this many steps (of 64 images), at
#: this learning rate: 3 epochs on the bundled MNIST split, 18 on the small 8x8 digits.
JUDGE_EPOCHS = 3
JUDGE_STEPS = 400
JUDGE_LR = 2e-3


def train_judge(train, test, seed=0):
    """Train a DigitJudge on ``train``; return it, its held-out accuracy and the real
    reference features of ``test``."""
    (x_train, y_train), (x_test, y_test) = train, test
    epochs = max(JUDGE_EPOCHS, -(-JUDGE_STEPS * 64 // len(x_train)))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    judge = DigitJudge(x_train.shape[1:], n_classes, rng=stream(seed, "judge"))
    judge.fit(x_train, y_train, epochs=epochs, lr=JUDGE_LR)
    return judge, judge.score(x_test, y_test), judge.features(x_test)


def quality_metrics(model, train, test, seed=0, n_samples=None, judge=None):
    """Score ``model.sample`` with a judge; return a JSON-ready dict.

    Parameters
    ----------
    model : GenerativeModel
    train, test : tuple of numpy.ndarray
        ``(images, labels)`` the model trained on, and held out.
    seed : int
        Seed of the judge and of the samples.
    n_samples : int, optional
        How many samples to score (default: as many as held-out images, at most 2,000).
    judge : tuple, optional
        ``train_judge``'s result, to score several models with one judge.

    Returns
    -------
    dict
        ``frechet_distance``, ``classes_recognized``, ``class_balance``, ``class_histogram``
        (and ``conditional_accuracy`` for conditional models), with ``judge_test_accuracy``,
        ``real_frechet_distance`` (training vs held-out images, the floor) and
        ``n_samples``.
    """
    start = time.perf_counter()
    judge, accuracy, real_features = judge or train_judge(train, test, seed)
    n = n_samples or min(len(test[0]), 2000)
    rng = stream(seed, "quality")
    requested = (np.arange(n) % model.n_classes) if model.conditional else None
    samples = model.sample(n, rng, labels=requested)
    scores = judge.evaluate_samples(samples, real_features, requested_labels=requested)
    floor = judge.evaluate_samples(train[0][:n], real_features)["frechet_distance"]
    return {**scores, "judge_test_accuracy": accuracy, "real_frechet_distance": floor,
            "n_samples": n, "seconds": time.perf_counter() - start}
