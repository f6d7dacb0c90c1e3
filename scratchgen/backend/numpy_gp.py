"""Gaussian-process kernels in NumPy: the reference twins of ``_kernels/_gp.pyx``.

Both act on the strict upper triangle (j > i) of a square float64 matrix. A likelihood
evaluation of ``scratchgen.gp`` calls them on its n x n matrices between the LAPACK calls:
``flush_tiny_upper`` on the kernel matrix, its Cholesky factor and the factor's inverse, and
``sqdist_contraction_upper`` for the length-scale gradient of the stationary kernels.
"""

import numpy as np


def flush_tiny_upper(M, row_scale, col_scale):
    """Set M[i, j] = 0 for j > i where |M[i, j]| < row_scale[i] * col_scale[j], in place.

    Parameters
    ----------
    M : ndarray, shape (n, n)
        float64; its diagonal and lower triangle are neither read nor changed.
    row_scale, col_scale : ndarray, shape (n,)

    Returns
    -------
    int
        The number of entries that were nonzero and are now zero.
    """
    n = M.shape[0]
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    tiny = upper & (M != 0.0) & (np.abs(M) < np.multiply.outer(row_scale, col_scale))
    M[tiny] = 0.0
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
