"""Sample-quality metrics for generative models: how close, how varied, how on-target.

Images, scored through a classifier trained on real images (:class:`DigitJudge`)::

    from scratchgen import data, metrics
    x_train, y_train = data.load_digits(split="train")
    x_test, _ = data.load_digits(split="test")
    judge = metrics.DigitJudge((1, 8, 8), rng=0).fit(x_train / 16, y_train, epochs=10, lr=3e-3)
    real_features = judge.features(x_test / 16)       # once, reused for every evaluation
    judge.evaluate_samples(samples, real_features)    # samples: (N, 1, 8, 8) in [0, 1]
    # {'frechet_distance': ..., 'classes_recognized': 10, 'class_balance': 0.99, ...}

- ``frechet_distance`` (:func:`frechet_distance`): the Frechet distance between Gaussians fitted
  to the judge's features of generated and of real images; lower is closer. Heusel et al.
  (2017), "GANs trained by a two time-scale update rule converge to a local Nash equilibrium"
  (FID), here with a small CNN in place of Inception, so values compare only under one judge.
- ``classes_recognized``, ``class_balance``, ``class_histogram``: which classes the judge
  sees in the samples and how evenly (normalized entropy, 1 = all classes equally often); a
  mode-collapsed generator draws few classes. After the class-diversity term of the
  Inception Score, Salimans et al. (2016), "Improved techniques for training GANs".
- ``conditional_accuracy``: for a conditional generator (Mirza & Osindero, 2014), the share
  of samples the judge classifies as the requested class, as the "Inception accuracy" of
  Odena et al. (2017), "Conditional image synthesis with auxiliary classifier GANs".

Points, on the 2-D ring of Gaussians (:func:`ring_of_gaussians`, :func:`mode_coverage`):

- ``modes_covered``: how many of the ring's modes (8 by default) receive samples, and
  ``high_quality_share``: the share of samples within 3 standard deviations of a mode. The
  ring is the mode-collapse test of Metz et al. (2017), "Unrolled generative adversarial
  networks"; the two scores are those of Srivastava et al. (2017), "VEEGAN".
"""
from .frechet import frechet_distance, gaussian_frechet_distance
from .judge import DigitJudge
from .ring import mode_coverage, ring_centers, ring_of_gaussians

__all__ = [
    "DigitJudge", "frechet_distance", "gaussian_frechet_distance", "mode_coverage",
    "ring_centers", "ring_of_gaussians",
]
