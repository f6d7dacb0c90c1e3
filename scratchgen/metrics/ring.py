"""The 2-D ring of Gaussians, a toy target for seeing mode collapse, and its coverage score.

The target is an equal mixture of ``modes`` isotropic Gaussians with standard deviation
``std`` whose means sit evenly on a circle of radius ``radius``; with the defaults (8 modes,
radius 2, std 0.02) it is the "8 Gaussians" of Metz et al. (2017), "Unrolled generative
adversarial networks". A generator that collapses puts its samples on a few of the modes.

The score follows Srivastava et al. (2017), "VEEGAN": a sample is *high quality* when it lies
within 3 standard deviations of its nearest mode; a mode is *covered* when enough high-quality
samples land on it. For a perfect sampler the high-quality share is the probability that a
2-D standard normal falls within radius 3, 1 - exp(-9/2) = 0.989.
"""
import numpy as np

from ..factories import _generator

__all__ = ["mode_coverage", "ring_centers", "ring_of_gaussians"]

#: How many standard deviations from a mode a high-quality sample may lie.
QUALITY_RADIUS_IN_STD = 3.0


def ring_centers(modes=8, radius=2.0):
    """The means of the ring's Gaussians, evenly spaced on a circle around the origin.

    Parameters
    ----------
    modes : int
        Number of Gaussians, at least 1.
    radius : float
        Radius of the circle, positive.

    Returns
    -------
    numpy.ndarray of float64, shape (modes, 2)
        Row k is ``radius * (cos(2 pi k / modes), sin(2 pi k / modes))``; mode 0 is on the
        positive x axis.
    """
    _check_ring(modes, radius, 1.0, "ring_centers")
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(n, modes=8, radius=2.0, std=0.02, rng=None):
    """Draw samples from the equal mixture of Gaussians on a ring.

    Parameters
    ----------
    n : int
        Number of samples, at least 0.
    modes : int
        Number of Gaussians, at least 1.
    radius : float
        Radius of the circle of means, positive.
    std : float
        Standard deviation of each Gaussian along each axis, positive.
    rng : None, int or numpy.random.Generator
        Source of randomness: a Generator is used as is, an int seeds a new one, None seeds
        from the operating system.

    Returns
    -------
    numpy.ndarray of float32, shape (n, 2)
        Each sample picks a mode uniformly at random, then adds N(0, std^2 I) to its mean.

    Examples
    --------
    >>> ring_of_gaussians(4, rng=0).shape
    (4, 2)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"ring_of_gaussians: n must be a non-negative int, got {n!r}")
    _check_ring(modes, radius, std, "ring_of_gaussians")
    rng = _generator(rng, "ring_of_gaussians")
    centers = ring_centers(modes, radius)
    which = rng.integers(modes, size=n)
    samples = centers[which] + std * rng.standard_normal((n, 2))
    return samples.astype(np.float32)


def mode_coverage(samples, modes=8, radius=2.0, std=0.02, min_share=0.01):
    """How many of the ring's modes a set of samples covers, and how many samples are good.

    Each sample is assigned to its nearest mode; it is high quality when its distance to
    that mode is at most 3 ``std``.

    Parameters
    ----------
    samples : array_like, shape (N, 2)
        Points to score, e.g. a generator's output; N >= 1, finite.
    modes, radius, std : int, float, float
        The ring the samples should come from (see :func:`ring_of_gaussians`).
    min_share : float
        A mode is covered when at least this share of *all* N samples are high-quality
        samples of it. The default, 1%, is less than a tenth of the 12.5% a perfect sampler
        gives each of 8 modes: it ignores a handful of stray samples but counts any mode the
        generator really produces. Use 0 to count a mode with a single sample.

    Returns
    -------
    dict
        ``modes_covered`` : int, 0..modes.
        ``high_quality_share`` : float in [0, 1], the share of samples within 3 std of their
        nearest mode (0.989 for the true distribution).
        ``mode_histogram`` : list of ``modes`` ints, the number of high-quality samples
        assigned to each mode, in the order of :func:`ring_centers`.

    Raises
    ------
    TypeError
        If ``samples`` is not numeric.
    ValueError
        If ``samples`` is not (N, 2) with N >= 1 and finite values, or a ring setting or
        ``min_share`` is out of range.

    Examples
    --------
    >>> x = ring_of_gaussians(5000, rng=0)
    >>> mode_coverage(x)["modes_covered"]
    8
    """
    _check_ring(modes, radius, std, "mode_coverage")
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"mode_coverage: min_share must be in [0, 1], got {min_share}")
    points = np.asarray(samples)
    if points.dtype.kind not in "biuf":
        raise TypeError(f"mode_coverage: samples must hold real numbers, got dtype "
                        f"{points.dtype}")
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"mode_coverage: samples must have shape (N, 2) with N >= 1, got "
                         f"shape {points.shape}")
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError("mode_coverage: samples hold nan or inf values")

    centers = ring_centers(modes, radius)                       # (modes, 2)
    # (N, modes) distances from every sample to every mode.
    distances = np.linalg.norm(points[:, None, :] - centers[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)                          # (N,)
    good = distances[np.arange(len(points)), nearest] <= QUALITY_RADIUS_IN_STD * std
    histogram = np.bincount(nearest[good], minlength=modes)     # (modes,)
    # ">=" with min_share=0 would count empty modes, so a covered mode needs a sample too.
    covered = (histogram >= min_share * len(points)) & (histogram > 0)
    return {
        "modes_covered": int(covered.sum()),
        "high_quality_share": float(good.mean()),
        "mode_histogram": histogram.tolist(),
    }


def _check_ring(modes, radius, std, caller):
    """Raise a ValueError naming ``caller`` unless modes >= 1 and radius, std > 0."""
    if isinstance(modes, bool) or not isinstance(modes, (int, np.integer)) or modes < 1:
        raise ValueError(f"{caller}: modes must be an int >= 1, got {modes!r}")
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"{caller}: radius must be positive and finite, got {radius!r}")
    if not (np.isfinite(std) and std > 0):
        raise ValueError(f"{caller}: std must be positive and finite, got {std!r}")

