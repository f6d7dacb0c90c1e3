"""Pixel transforms: pure functions from image arrays to float32 arrays.

The range a model expects follows from its output layer: a sigmoid decoder (VAE) wants
[0, 1] or binary pixels, a tanh generator (DCGAN) wants [-1, 1].
"""
import numpy as np

from ..random_state import check_random_state

__all__ = ["binarize", "to_symmetric_interval", "to_unit_interval"]


def to_unit_interval(images, max_value=255):
    """Scale pixel values from [0, max_value] to float32 in [0, 1].

    Parameters
    ----------
    images : array_like, any shape, e.g. (N, C, H, W)
        Values in [0, max_value], e.g. uint8 MNIST pixels.
    max_value : float
        The value that maps to 1: 255 for 8-bit images, 16 for the 8x8 digits.

    Returns
    -------
    numpy.ndarray of float32, the shape of ``images``
        ``images / max_value``.

    Raises
    ------
    ValueError
        If ``max_value`` is not positive or a value lies outside [0, max_value].
    """
    return _unit(images, max_value, "to_unit_interval")


def to_symmetric_interval(images, max_value=255):
    """Scale pixel values from [0, max_value] to float32 in [-1, 1].

    Parameters
    ----------
    images : array_like, any shape, e.g. (N, C, H, W)
        Values in [0, max_value].
    max_value : float
        The value that maps to 1; 0 maps to -1.

    Returns
    -------
    numpy.ndarray of float32, the shape of ``images``
        ``2 * images / max_value - 1``, the range of a tanh output.

    Raises
    ------
    ValueError
        If ``max_value`` is not positive or a value lies outside [0, max_value].
    """
    u = _unit(images, max_value, "to_symmetric_interval")
    # 2 * u - 1 is exact at both ends of [0, 1], so no value leaves [-1, 1].
    return u * np.float32(2) - np.float32(1)


def binarize(images, threshold=0.5, rng=None):
    """Turn intensities into 0/1 pixels, by a fixed threshold or by sampling.

    Parameters
    ----------
    images : array_like, any shape, e.g. (N, C, H, W)
        Intensities, usually in [0, 1] (see :func:`to_unit_interval`).
    threshold : float
        Without ``rng``: a pixel becomes 1 where its value is greater than ``threshold``, else
        0. Not used when ``rng`` is given.
    rng : numpy.random.Generator or int, optional
        With a generator (or an int seed for one): stochastic binarization, each pixel an
        independent Bernoulli draw with probability equal to its value, which must lie in
        [0, 1]. Redrawing every epoch is the usual way to binarize MNIST for VAEs, since a
        fixed threshold lets the model overfit the thresholding.

    Returns
    -------
    numpy.ndarray of float32, the shape of ``images``
        Zeros and ones.

    Raises
    ------
    TypeError
        If ``rng`` is neither None, an int nor a numpy.random.Generator.
    ValueError
        If ``rng`` is given and a value lies outside [0, 1].
    """
    x = np.asarray(images)
    if rng is None:
        return np.asarray(x > threshold, dtype=np.float32)
    rng = check_random_state(rng, "binarize", name="rng")
    _check_range(x, 0.0, 1.0, "binarize (with rng)")
    # P(u < p) = p for u uniform on [0, 1): p = 0 never fires and p = 1 always does.
    return np.asarray(rng.random(x.shape) < x, dtype=np.float32)


def _unit(images, max_value, caller):
    """Validate, then map [0, max_value] to float32 [0, 1]."""
    if not max_value > 0:
        raise ValueError(f"{caller}: max_value must be positive, got {max_value}")
    x = np.asarray(images)
    _check_range(x, 0, max_value, caller)
    u = x.astype(np.float32)          # a copy, so the caller's array is left alone
    u /= np.float32(max_value)
    # NOTE: when max_value has no exact float32 form (0.1, say) the rounded divisor can push
    # the top values a hair past 1; the inputs were range-checked, so clipping only removes
    # that rounding.
    return np.clip(u, 0, 1, out=u)


def _check_range(x, low, high, caller):
    if x.dtype != np.bool_ and not (np.issubdtype(x.dtype, np.integer)
                                    or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"{caller}: expected an integer, float or bool array, "
                        f"got dtype {x.dtype}")
    if x.size == 0:
        return
    found_min, found_max = x.min(), x.max()
    if found_min < low or found_max > high:
        raise ValueError(f"{caller}: expected values in [{low}, {high}], found values in "
                         f"[{found_min}, {found_max}]")
