"""Frechet distance between two sets of feature vectors, each summarized as a Gaussian.

The Frechet (2-Wasserstein) distance between N(mu_a, S_a) and N(mu_b, S_b) is

    d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}).

Computed on a classifier's features of real and generated images it is the FID of Heusel
et al. (2017), "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium"; the closed form for Gaussians is Dowson & Landau (1982).

How the trace of the matrix square root is computed
---------------------------------------------------
The reference FID code calls ``scipy.linalg.sqrtm(S_a @ S_b)``. That product is not
symmetric, so ``sqrtm`` goes through a complex Schur decomposition: it returns small imaginary
parts that must be thrown away, and for near-singular covariances (fewer samples than features,
dead ReLU units) it can return inf or nan, patched by adding ``eps * I`` to both covariances
and trying again. We use an equivalent form built from symmetric steps instead. With
A = S_a^{1/2} and B = S_b^{1/2} (each from ``numpy.linalg.eigh``, always real),

    S_a S_b = A A B B  has the eigenvalues of  A B B A = (AB)(AB)^T,

which are the squared singular values of AB, so

    Tr((S_a S_b)^{1/2}) = sum_i sigma_i(A B),   the nuclear norm of S_a^{1/2} S_b^{1/2}.

Every step is real and well defined for singular covariances (they only give zero
eigenvalues, and rounding's tiny negative ones are clipped to zero): no eps, no retry, no
complex numbers. Taking singular values of AB, rather than square roots of the eigenvalues of
(AB)(AB)^T = A S_b A, also avoids squaring the condition number: for S_a = S_b with
eigenvalues from 1 down to 1e-9, the eigenvalue route loses the small ones to rounding and errs
by about 1e-8 (the square root of machine epsilon), the singular values by about 1e-15. The
tests check the result against ``sqrtm`` and against closed forms.
"""
import numpy as np

__all__ = ["frechet_distance", "gaussian_frechet_distance"]


def frechet_distance(features_a, features_b):
    """Frechet distance between the Gaussians fitted to two sets of feature vectors.

    Each set is summarized by its mean and its (unbiased, ``N - 1``) covariance, in float64;
    see :func:`gaussian_frechet_distance` for the formula.

    Parameters
    ----------
    features_a : array_like, shape (N_a, F)
    features_b : array_like, shape (N_b, F)
        Real, finite features, one row per sample, at least 2 rows each (a covariance needs
        two). The two sets may differ in size but not in F.

    Returns
    -------
    float
        The squared Frechet distance d^2 >= 0 (called "FID" when the features are a
        classifier's). Zero for identical sets; it grows with the difference in means and in
        covariances.

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If an input is not 2-D, has fewer than 2 rows or non-finite values, or the two
        have different numbers of features.

    Notes
    -----
    The estimate is biased upwards for small N (Chong & Forsyth, 2020): compare distances
    computed with the same numbers of samples. With fewer samples than features the
    covariances are singular; the result is still defined, but noisy.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1000, 3))
    >>> round(frechet_distance(x, x), 6)
    0.0
    >>> round(frechet_distance(x, x + [1.0, 2.0, 2.0]), 6)      # ||delta||^2
    9.0
    """
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: features_a and features_b must have the same "
                         f"number of features F, got shapes {a.shape} and {b.shape}")
    mean_a, cov_a = _mean_and_covariance(a)
    mean_b, cov_b = _mean_and_covariance(b)
    return gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b)


def gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """Squared Frechet distance between N(mean_a, cov_a) and N(mean_b, cov_b), in float64.

    d^2 = ||mean_a - mean_b||^2 + Tr(cov_a) + Tr(cov_b) - 2 Tr((cov_a cov_b)^{1/2}).

    Parameters
    ----------
    mean_a, mean_b : array_like, shape (F,)
    cov_a, cov_b : array_like, shape (F, F)
        Symmetric positive semi-definite covariances (singular ones are fine).

    Returns
    -------
    float
        d^2, clipped at 0 (rounding can otherwise leave a tiny negative number when the two
        Gaussians are equal).

    Raises
    ------
    ValueError
        If the shapes do not match (F,), (F, F) for one F, or a value is not finite.
    """
    caller = "gaussian_frechet_distance"
    mean_a, mean_b = _as_float64(mean_a, "mean_a", caller), _as_float64(mean_b, "mean_b", caller)
    cov_a, cov_b = _as_float64(cov_a, "cov_a", caller), _as_float64(cov_b, "cov_b", caller)
    f = mean_a.shape[0] if mean_a.ndim == 1 else -1
    if not (mean_a.ndim == 1 and mean_b.shape == (f,) and cov_a.shape == (f, f)
            and cov_b.shape == (f, f)):
        raise ValueError(f"gaussian_frechet_distance: expected means of shape (F,) and "
                         f"covariances of shape (F, F), got mean_a {mean_a.shape}, cov_a "
                         f"{cov_a.shape}, mean_b {mean_b.shape}, cov_b {cov_b.shape}")
    diff = mean_a - mean_b
    trace_sqrt = _trace_sqrt_product(cov_a, cov_b)
    distance = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return max(float(distance), 0.0)


def _mean_and_covariance(features):
    """Mean (F,) and unbiased covariance (F, F) of (N, F) features (np.cov gives a 0-d
    array for F = 1)."""
    mean = features.mean(axis=0)
    centered = features - mean                                  # (N, F)
    return mean, centered.T @ centered / (len(features) - 1)


def _trace_sqrt_product(cov_a, cov_b):
    """Tr((cov_a cov_b)^{1/2}) = sum of the singular values of cov_a^{1/2} cov_b^{1/2}."""
    singular_values = np.linalg.svd(_psd_sqrt(cov_a) @ _psd_sqrt(cov_b), compute_uv=False)
    return singular_values.sum()


def _psd_sqrt(cov):
    """The symmetric square root V diag(sqrt(w)) V^T of cov = V diag(w) V^T (w < 0 only by
    rounding, so clipped to 0)."""
    w, v = np.linalg.eigh(_symmetrize(cov))
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _symmetrize(matrix):
    """(M + M^T) / 2: removes the rounding asymmetry that eigh would otherwise ignore."""
    return 0.5 * (matrix + matrix.T)


def _as_float64(values, name, caller):
    """``values`` as a finite float64 array, or a TypeError/ValueError naming both names."""
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: {name} must hold real numbers, got dtype "
                        f"{array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{caller}: {name} holds nan or inf values")
    return array


def _check_features(features, name):
    """A (N, F) float64 array with N >= 2 and F >= 1, or an error naming ``name``."""
    array = _as_float64(features, name, "frechet_distance")
    if array.ndim != 2:
        raise ValueError(f"frechet_distance: {name} must be 2-D (N, F), one feature vector per "
                         f"row, got shape {array.shape}")
    if array.shape[0] < 2 or array.shape[1] < 1:
        raise ValueError(f"frechet_distance: {name} needs at least 2 rows (to estimate a "
                         f"covariance) and 1 feature, got shape {array.shape}")
    return array
