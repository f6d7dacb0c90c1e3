"""Gaussian-process kernels: the passes over an n x n matrix that a likelihood evaluation
makes besides LAPACK's.

The NumPy twins, with the same docstrings, are in ``scratchgen/backend/numpy_gp.py``. Both
kernels read the strict upper triangle of a C-contiguous square matrix (j > i), which is where
a symmetric matrix, or a lower-triangular LAPACK result seen through its transpose, keeps
everything that is not on the diagonal. Rows are independent, so each kernel is a `prange`
over the rows; their lengths shrink from n - 1 to 0, hence the guided schedule.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty float64
arrays with matching sizes; nothing here checks that again.
"""

from cython.parallel cimport prange
from libc.math cimport fabs


def flush_tiny_upper(double[:, ::1] M, const double[::1] row_scale,
                     const double[::1] col_scale):
    """Set M[i, j] = 0 for j > i where |M[i, j]| < row_scale[i] * col_scale[j], in place.

    Returns the number of entries that were nonzero and are now zero.
    """
    cdef Py_ssize_t n = M.shape[0], i, j
    cdef Py_ssize_t flushed = 0
    cdef double a, r
    with nogil:
        for i in prange(n, schedule="guided"):
            r = row_scale[i]
            for j in range(i + 1, n):
                a = M[i, j]
                # Entries are written only when flushed: most are not, and a matrix of
                # smooth kernel values makes the branch predictable.
                if fabs(a) < r * col_scale[j] and a != 0.0:
                    M[i, j] = 0.0
                    flushed += 1
    return flushed


def sqdist_contraction_upper(const double[:, ::1] W, const double[:, ::1] H,
                             const double[:, ::1] ZT, double[:, ::1] row_sums):
    """row_sums[i, k] = sum_{j > i} W[i, j] H[i, j] (ZT[k, i] - ZT[k, j])^2.

    ZT is (d, n): one contiguous row per input dimension. The caller adds up the rows, so
    the result does not depend on how the rows were split between threads.
    """
    cdef Py_ssize_t n = W.shape[0], d = ZT.shape[0], i, j, k
    cdef double acc, z, diff
    with nogil:
        for i in prange(n, schedule="guided"):
            for k in range(d):
                z = ZT[k, i]
                acc = 0.0
                for j in range(i + 1, n):
                    diff = ZT[k, j] - z
                    # (acc = acc + ..., not +=: an in-place sum here would make acc a
                    # reduction variable of the prange)
                    acc = acc + W[i, j] * H[i, j] * diff * diff
                row_sums[i, k] = acc
