"""Row-major matrix products on SciPy's BLAS (``scipy.linalg.cython_blas``).

All of scratchgen's BLAS calls go through this module. BLAS is column-major, NumPy is
row-major, and the two meet with one observation: the buffer of a row-major (r, c) matrix X
*is* the column-major (c, r) matrix X^T. So to compute the row-major product

    C = alpha * op(A) @ op(B) + beta * C                  C: (m, n)

we ask BLAS for the column-major product of the transposes, which lives in the same buffer,

    C^T = alpha * op(B)^T @ op(A)^T + beta * C^T          C^T: (n, m)

that is, B is passed where BLAS expects its first operand, A where it expects its second,
and m and n trade places. op(X) is X or X^T: a transposed operand is read through BLAS's
transpose flag, never copied.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty arrays
of one dtype with matching shapes, all sizes below 2**31 (BLAS takes 32-bit ints); nothing
here checks that again.
"""

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

# What the compiler was told. -fopenmp defines the standard _OPENMP macro (so <omp.h> is only
# included where it exists); setup.py defines SCRATCHGEN_CYTHON_DEBUG in a debug build; gcc
# and clang announce AddressSanitizer in their own ways.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SG_BUILT_WITH_OPENMP 1
    static int sg_openmp_max_threads(void) { return omp_get_max_threads(); }
    #else
    #define SG_BUILT_WITH_OPENMP 0
    static int sg_openmp_max_threads(void) { return 1; }
    #endif

    #ifdef SCRATCHGEN_CYTHON_DEBUG
    #define SG_BUILT_FOR_DEBUG 1
    #else
    #define SG_BUILT_FOR_DEBUG 0
    #endif

    #if defined(__SANITIZE_ADDRESS__)
    #define SG_BUILT_WITH_ASAN 1
    #elif defined(__has_feature)
    #if __has_feature(address_sanitizer)
    #define SG_BUILT_WITH_ASAN 1
    #endif
    #endif
    #ifndef SG_BUILT_WITH_ASAN
    #define SG_BUILT_WITH_ASAN 0
    #endif
    """
    const int SG_BUILT_WITH_OPENMP
    const int SG_BUILT_FOR_DEBUG
    const int SG_BUILT_WITH_ASAN
    int sg_openmp_max_threads() noexcept nogil


cdef void _gemm(
    bint trans_a, bint trans_b, int m, int n, int k,
    floating alpha, const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil:
    """Row-major C = alpha * op(A) @ op(B) + beta * C; lda, ldb, ldc are the row lengths."""
    # Column-major BLAS computes C^T = alpha * op(B)^T @ op(A)^T + beta * C^T: the buffer of
    # B already is B^T, so op(B)^T needs BLAS's transpose exactly when op(B) = B^T.
    cdef char blas_trans_b = b'T' if trans_b else b'N'
    cdef char blas_trans_a = b'T' if trans_a else b'N'
    # NOTE: BLAS does not write through its input pointers; the casts only drop `const`.
    if floating is float:
        sgemm(&blas_trans_b, &blas_trans_a, &n, &m, &k, &alpha, <float*> b, &ldb,
              <float*> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&blas_trans_b, &blas_trans_a, &n, &m, &k, &alpha, <double*> b, &ldb,
              <double*> a, &lda, &beta, c, &ldc)


def gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
         bint trans_a=False, bint trans_b=False, double alpha=1.0, double beta=0.0):
    """Compute ``C = alpha * op(A) @ op(B) + beta * C`` in place, with the GIL released.

    Parameters
    ----------
    a : ndarray, shape (m, k), or (k, m) when `trans_a`
        C-contiguous, same dtype as `c` (float32 or float64).
    b : ndarray, shape (k, n), or (n, k) when `trans_b`
        C-contiguous, same dtype as `c`.
    c : ndarray, shape (m, n)
        C-contiguous and writable; overwritten with the result. With ``beta == 0`` its
        previous contents are never read (so it may come from ``np.empty``).
    trans_a, trans_b : bool
        Use the transpose of `a` (of `b`): op(X) = X^T instead of X.
    alpha, beta : float
        Scale factors, rounded to the dtype of `c`.
    """
    cdef int m = c.shape[0]
    cdef int n = c.shape[1]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    with nogil:
        _gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[0, 0], a.shape[1],
              &b[0, 0], b.shape[1], <floating> beta, &c[0, 0], n)


def batched_gemm(const floating[:, :, ::1] a, const floating[:, :, ::1] b,
                 floating[:, :, ::1] c, bint trans_a=False, bint trans_b=False,
                 double alpha=1.0, double beta=0.0):
    """Compute ``C[i] = alpha * op(A[i]) @ op(B[i]) + beta * C[i]`` for every i, GIL released.

    Parameters
    ----------
    a : ndarray, shape (batch, m, k), or (batch, k, m) when `trans_a`
        C-contiguous, same dtype as `c` (float32 or float64).
    b : ndarray, shape (batch, k, n), or (batch, n, k) when `trans_b`
        C-contiguous, same dtype as `c`.
    c : ndarray, shape (batch, m, n)
        C-contiguous and writable; overwritten with the results.
    trans_a, trans_b, alpha, beta
        As in `gemm`, for every product of the batch.
    """
    cdef Py_ssize_t i
    cdef Py_ssize_t batch = c.shape[0]
    cdef int m = c.shape[1]
    cdef int n = c.shape[2]
    cdef int k = a.shape[1] if trans_a else a.shape[2]
    # One BLAS call per product: BLAS threads each call itself, so the loop stays serial.
    with nogil:
        for i in range(batch):
            _gemm(trans_a, trans_b, m, n, k, <floating> alpha, &a[i, 0, 0], a.shape[2],
                  &b[i, 0, 0], b.shape[2], <floating> beta, &c[i, 0, 0], n)


def openmp_info():
    """Return ``(built_with_openmp, max_threads)``.

    `max_threads` is what OpenMP loops in scratchgen's kernels would use now
    (``omp_get_max_threads()``, which honours ``OMP_NUM_THREADS``); 1 without OpenMP.
    """
    return bool(SG_BUILT_WITH_OPENMP), sg_openmp_max_threads()


def build_info():
    """Return how this module was compiled: ``{"openmp", "cython_debug", "address_sanitizer"}``.

    Each value is a bool; ``cython_debug`` means bounds and wraparound checks are on
    (``SCRATCHGEN_CYTHON_DEBUG=1`` at build time).
    """
    return {
        "openmp": bool(SG_BUILT_WITH_OPENMP),
        "cython_debug": bool(SG_BUILT_FOR_DEBUG),
        "address_sanitizer": bool(SG_BUILT_WITH_ASAN),
    }
