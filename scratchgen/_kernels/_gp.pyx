"""Gaussian-process kernels: the Cholesky factorization of a likelihood evaluation, and the
passes over n x n matrices that it makes besides LAPACK's.

The twins, with the math spelled out, are in ``scratchgen/backend/numpy_gp.py``.

``cholesky_lower`` factors a Fortran-ordered matrix in LAPACK's own column-major layout, so
it calls SciPy's dpotrf, dtrsm and dsyrk directly (``_blas`` is for row-major products).

``sqdist`` is a `prange` over the rows of its (n, m) result. The other two passes read the
strict upper triangle of a C-contiguous square matrix (j > i), which is where a symmetric
matrix, or a lower-triangular LAPACK result seen through its transpose, keeps everything off
the diagonal; their rows shrink from n - 1 entries to 0, hence the guided schedule. Every
row is one thread's, so results do not depend on the number of threads. Passes of fewer
than PARALLEL_MIN operations (the 50 x 50 matrices of a sparse GP's inducing points) stay on
the calling thread: waking a second one would cost more than it saves, and the woken thread
would then spin on the core that BLAS's threads need next.

The caller (``scratchgen.backend.cython_backend``) guarantees contiguous, aligned, non-empty
float64 arrays with matching sizes below 2**31; nothing here checks that again.
"""

from cython.parallel cimport prange
from libc.math cimport fabs
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dsyrk, dtrsm
from scipy.linalg.cython_lapack cimport dpotrf

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int sg_gp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int sg_gp_max_threads(void) { return 1; }
    #endif
    """
    int sg_gp_max_threads() noexcept nogil

cdef enum:
    PARALLEL_MIN = 65536    # operations below which one thread does the whole pass


cdef inline int _threads(Py_ssize_t operations) noexcept nogil:
    return sg_gp_max_threads() if operations >= PARALLEL_MIN else 1


def cholesky_lower(double[::1, :] A, int block):
    """A = L L^T in place: L overwrites A's lower triangle; the strict upper one is not read
    or written.

    The right-looking blocked algorithm, one LAPACK or BLAS call per step. For each block
    of ``block`` columns starting at k, with A11 the diagonal block, A21 the rows below it
    and A22 the trailing matrix:

        L11 = cholesky(A11)            dpotrf
        L21 = A21 L11^-T               dtrsm
        A22 = A22 - L21 L21^T          dsyrk (lower triangle)

    Nearly all flops are in the dsyrk updates, which OpenBLAS runs on all its threads at
    close to GEMM speed: 25 ms for n = 2000 on 2 cores, against 31 ms for its own dpotrf
    (4 against 10 ms at n = 1000).

    Returns LAPACK's ``info``: 0, or j > 0 when the leading j x j block is not positive
    definite (A is then partly overwritten).
    """
    cdef int info
    with nogil:
        info = _cholesky_lower(&A[0, 0], A.shape[0], block)
    return info


cdef int _cholesky_lower(double* A, int n, int block) noexcept nogil:
    """The blocked factorization of the column-major n x n matrix A (leading dimension n)."""
    cdef int k = 0, b, m, info = 0
    cdef double one = 1.0, minus_one = -1.0
    cdef char lower = b'L', right = b'R', trans = b'T', no_trans = b'N'
    while k < n:
        b = min(block, n - k)
        dpotrf(&lower, &b, &A[k + k * n], &n, &info)                          # L11
        if info != 0:
            return info + k
        m = n - k - b
        if m > 0:
            dtrsm(&right, &lower, &trans, &no_trans, &m, &b, &one, &A[k + k * n], &n,
                  &A[k + b + k * n], &n)                                       # L21
            dsyrk(&lower, &no_trans, &m, &b, &minus_one, &A[k + b + k * n], &n, &one,
                  &A[k + b + (k + b) * n], &n)                                 # A22
        k += b
    return 0


def sqdist(const double[:, ::1] XT, const double[:, ::1] YT, double[:, ::1] out):
    """out[i, j] = sum_k (XT[k, i] - YT[k, j])^2: squared distances between the columns of
    XT (d, n) and of YT (d, m), as the differences (not the expansion |x|^2 + |y|^2 - 2 x.y,
    which cancels for nearby points)."""
    with nogil:
        _sqdist(XT, YT, out)


cdef void _sqdist(const double[:, ::1] XT, const double[:, ::1] YT,
                  double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t n = XT.shape[1], m = YT.shape[1], d = XT.shape[0], i, j, k
    cdef double x, diff
    for i in prange(n, schedule="static", num_threads=_threads(n * m * d)):
        for k in range(d):
            x = XT[k, i]
            if k == 0:
                for j in range(m):
                    diff = x - YT[k, j]
                    out[i, j] = diff * diff
            else:
                for j in range(m):
                    diff = x - YT[k, j]
                    out[i, j] += diff * diff


def flush_tiny_upper(double[:, ::1] M, const double[::1] row_scale,
                     const double[::1] col_scale, bint clear_lower):
    """Set M[i, j] = 0 for j > i where |M[i, j]| < row_scale[i] * col_scale[j], in place;
    with ``clear_lower``, also every M[i, j] with j < i.

    Returns the number of entries of the upper triangle that were nonzero and are now zero.
    """
    cdef Py_ssize_t flushed
    with nogil:
        flushed = _flush_tiny_upper(M, row_scale, col_scale, clear_lower)
    return flushed


cdef Py_ssize_t _flush_tiny_upper(double[:, ::1] M, const double[::1] row_scale,
                                  const double[::1] col_scale,
                                  bint clear_lower) noexcept nogil:
    cdef Py_ssize_t n = M.shape[0], i, j
    cdef Py_ssize_t flushed = 0
    cdef double a, r
    for i in prange(n, schedule="guided", num_threads=_threads(n * n)):
        if clear_lower:
            memset(&M[i, 0], 0, i * sizeof(double))
        r = row_scale[i]
        for j in range(i + 1, n):
            a = M[i, j]
            # Entries are written only when flushed: most are not, and a matrix of smooth
            # kernel values makes the branch predictable.
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
    with nogil:
        _sqdist_contraction_upper(W, H, ZT, row_sums)


cdef void _sqdist_contraction_upper(const double[:, ::1] W, const double[:, ::1] H,
                                    const double[:, ::1] ZT,
                                    double[:, ::1] row_sums) noexcept nogil:
    cdef Py_ssize_t n = W.shape[0], d = ZT.shape[0], i, j, k
    cdef double acc, z, diff
    for i in prange(n, schedule="guided", num_threads=_threads(n * n * d)):
        for k in range(d):
            z = ZT[k, i]
            acc = 0.0
            for j in range(i + 1, n):
                diff = ZT[k, j] - z
                # (acc = acc + ..., not +=: an in-place sum here would make acc a reduction
                # variable of the prange)
                acc = acc + W[i, j] * H[i, j] * diff * diff
            row_sums[i, k] = acc
