"""Gaussian-process kernels in NumPy and LAPACK: the reference twins of ``_kernels/_gp.pyx``.

The stationary kernels start from ``sqdist``. A likelihood evaluation of ``scratchgen.gp``
factors its kernel matrix with
``cholesky_lower``, and between the LAPACK calls makes passes over the strict upper triangle
(j > i) of its n x n matrices: ``flush_tiny_upper`` on the kernel matrix, its Cholesky factor
and the factor's inverse, and ``sqdist_contraction_upper`` for the length-scale gradient of
the stationary kernels.
"""

import numpy as np
from scipy.linalg import lapack
from scipy.spatial.distance import cdist


def sqdist(X, Y):
    """Squared Euclidean distances, (n, m): out[i, j] = sum_k (X[i, k] - Y[j, k])^2.

    ``cdist(X, X)`` is exactly symmetric with a zero diagonal: it sums squared differences
    rather than expanding |x|^2 + |y|^2 - 2 x.y, which cancels for nearby points.
    """
    return cdist(X, Y, "sqeuclidean")


def cholesky_lower(A):
    """A = L L^T in place: L overwrites A's lower triangle; the strict upper one is not read
    or written.

    Parameters
    ----------
    A : ndarray, shape (n, n)
        Writeable, aligned, Fortran-ordered float64 (LAPACK then works on A itself, not on
        a copy); symmetric positive definite (its lower triangle is read).

    Returns
    -------
    int
        LAPACK's ``info``: 0, or j > 0 when the leading j x j block is not positive definite
        (A is then partly overwritten).
    """
    if not (isinstance(A, np.ndarray) and A.dtype == np.float64 and A.ndim == 2
            and A.shape[0] == A.shape[1] and A.flags.f_contiguous and A.flags.aligned
            and A.flags.writeable):
        raise ValueError(f"cholesky_lower: expected a writeable, aligned, Fortran-ordered "
                         f"float64 square matrix, got {type(A).__name__} of shape "
                         f"{np.shape(A)}, dtype {getattr(A, 'dtype', None)}")
    _, info = lapack.dpotrf(A, lower=1, clean=0, overwrite_a=1)   # in place: A fits as it is
    if info < 0:
        raise ValueError(f"cholesky_lower: LAPACK dpotrf rejected argument {-info}")
    return info


def flush_tiny_upper(M, row_scale, col_scale, clear_lower=False):
    """Set M[i, j] = 0 for j > i where |M[i, j]| < row_scale[i] * col_scale[j], in place;
    with ``clear_lower``, also every M[i, j] with j < i.

    Parameters
    ----------
    M : ndarray, shape (n, n)
        float64; its diagonal is neither read nor changed, nor (unless ``clear_lower``) its
        lower triangle.
    row_scale, col_scale : float or ndarray of shape (n,)
    clear_lower : bool

    Returns
    -------
    int
        The number of entries of the upper triangle that were nonzero and are now zero.
    """
    n = M.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    threshold = np.broadcast_to(row_scale, (n,))[:, None] * np.broadcast_to(col_scale, (n,))
    tiny = upper & (M != 0.0) & (np.abs(M) < threshold)
    M[tiny] = 0.0
    if clear_lower:
        M[upper.T] = 0.0
    return int(np.count_nonzero(tiny))


def sqdist_contraction_upper(W, H, Z):
    """sum_{i<j} W_ij H_ij (Z_ik - Z_jk)^2 for each column k of Z, shape (d,).

    Parameters
    ----------
    W, H : ndarray, shape (n, n)
        float64; only their strict upper triangles are read (W's lower triangle is taken
        to be zero).
    Z : ndarray, shape (n, d)

    Returns
    -------
    ndarray, shape (d,)

    This is sum_ij M_ij (Z_ik - Z_jk)^2 with M = triu(W * H, 1), one input dimension at a
    time. (Expanding the square into row sums and z^T M z would save the (n, n) differences,
    but cancels badly when the inputs are far apart next to the length scale.)
    """
    M = np.triu(W * H, 1)
    return np.array([np.vdot(M, np.subtract.outer(z, z) ** 2) for z in Z.T])
