# The row-major GEMM of _blas.pyx, shared with the other kernels (``from ._blas cimport _gemm``),
# so that every matrix product in scratchgen goes through one function. (The GP's blocked
# Cholesky in _gp.pyx works in LAPACK's column-major layout and calls its routines directly.)
from cython cimport floating


cdef void _gemm(
    bint trans_a, bint trans_b, int m, int n, int k,
    floating alpha, const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil
