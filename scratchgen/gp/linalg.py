"""Cholesky factorization with a jitter ladder: the one way scratchgen.gp factors a covariance.

Every solve in ``scratchgen.gp`` goes through the lower Cholesky factor L of K = L L^T
(Rasmussen & Williams, Algorithm 2.1): ``scipy.linalg.cho_solve`` for K^-1 y,
``solve_triangular`` for L^-1 k_*. Nothing forms an inverse with ``inv``; the one place that
needs entries of K^-1 (the likelihood gradient, ``likelihood.py``) gets them from L with
LAPACK's ``dpotri``.

A covariance matrix is positive semi-definite in exact arithmetic but can fail to factor in
floating point (repeated inputs, very smooth kernels, little noise). Adding a small multiple of
the identity, the "jitter", is the standard remedy; the ladder adds as little as works.
"""
import numpy as np
from scipy.linalg import blas, lapack

__all__ = ["NotPositiveDefiniteError", "cholesky_with_jitter", "frobenius_dot", "matmul"]

# NOTE: NumPy and SciPy each ship their own OpenBLAS, with its own thread pool, whose idle
# threads spin for a while after every call. The likelihood loop calls SciPy's LAPACK; when
# its kernel gradients also called NumPy's BLAS (np.vdot, @), the two pools took turns
# spinning on the cores the other needed (bench_gp's n=2000, d=1 fit: 6.0 s, against 4.4 s
# without). So the n x n products of that loop go through SciPy's BLAS too, by the two
# helpers below.


def frobenius_dot(A, B):
    """sum_ij A_ij B_ij of two float64 arrays of one shape, by SciPy's BLAS when both are
    C-contiguous (else NumPy's vdot)."""
    if A.shape != B.shape:
        raise ValueError(f"frobenius_dot: the arrays must have one shape, got {A.shape} and "
                         f"{B.shape}")
    if A.dtype == B.dtype == np.float64 and A.flags.c_contiguous and B.flags.c_contiguous:
        return float(blas.ddot(A.reshape(-1), B.reshape(-1)))
    return float(np.vdot(A, B))


def matmul(A, B):
    """A @ B for a C-contiguous float64 matrix A (n, n) and B (n, d), by SciPy's BLAS.

    A's transpose is Fortran-ordered, which BLAS reads in place: dgemm computes
    (A^T)^T B without copying A.
    """
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul: expected matrices (n, k) and (k, d), got shapes {A.shape} "
                         f"and {B.shape}")
    if A.dtype != np.float64 or not A.flags.c_contiguous:
        return A @ B
    return blas.dgemm(1.0, A.T, B, trans_a=True)


class NotPositiveDefiniteError(np.linalg.LinAlgError, ValueError):
    """K is not numerically positive definite, even with the largest jitter of the ladder.

    A subclass of both ``numpy.linalg.LinAlgError`` (what a failed Cholesky raises elsewhere)
    and ``ValueError`` (what scratchgen raises for input a user can fix).
    """


def cholesky_with_jitter(K, initial=1e-10, max_tries=6, diagonal=0.0, kernel=None,
                         caller="cholesky_with_jitter"):
    """Lower Cholesky factor of ``K``, adding jitter to the diagonal only when it is needed.

    Factors A = K + diag(``diagonal``) as it is first; when LAPACK reports that A is not
    positive definite, tries A + j * mean(diag A) * I for j = ``initial``, 10 * ``initial``,
    ..., ``initial * 10**(max_tries - 1)`` (1e-10 ... 1e-5 with the defaults). A diagonal
    that averages to zero or less takes 1 as its scale instead.

    Parameters
    ----------
    K : ndarray, shape (n, n)
        Symmetric matrix (one triangle is read). Not modified.
    initial : float
        First relative jitter tried after the plain factorization fails.
    max_tries : int
        Number of jitters tried after the plain factorization.
    diagonal : float or ndarray of shape (n,)
        Added to the diagonal before factoring (a regressor's noise ``alpha``), so that the
        caller needs no copy of ``K`` of its own.
    kernel : object, optional
        The kernel that produced ``K``; its ``repr`` is named in the error.
    caller : str
        Name put at the start of the error message.

    Returns
    -------
    L : ndarray, shape (n, n)
        Lower triangular (Fortran order, zeros above the diagonal) with
        L L^T = K + diag(``diagonal``) + jitter I.
    jitter : float
        The absolute jitter added on top of ``diagonal`` (0.0 when none was needed).

    Raises
    ------
    ValueError
        If ``K`` is not a square 2-D array, or holds NaN or infinite values.
    NotPositiveDefiniteError
        If even the largest jitter leaves the matrix indefinite; the message names that
        jitter and the kernel.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"{caller}: expected a square 2-D matrix, got shape {K.shape}")
    n = K.shape[0]
    if n == 0:
        return np.zeros((0, 0), order="F"), 0.0
    scale = float(np.mean(np.diag(K) + diagonal))
    scale = scale if scale > 0 else 1.0
    jitters = [0.0] + [initial * 10.0**i * scale for i in range(max_tries)]
    for jitter in jitters:
        # K^T is K, so copying the transpose gives LAPACK its Fortran order at no extra cost.
        A = K.T.copy(order="F")
        A[np.diag_indices(n)] += diagonal + jitter
        L, info = lapack.dpotrf(A, lower=1, clean=1, overwrite_a=1)
        if info < 0:
            raise ValueError(f"{caller}: LAPACK dpotrf rejected argument {-info}")
        # NOTE: OpenBLAS's dpotrf lets NaN through with info = 0. A NaN or inf anywhere in the
        # triangle it reads reaches a later diagonal entry of L, so checking that diagonal
        # (n numbers) catches it.
        if info == 0 and np.all(np.isfinite(np.diag(L))):
            return L, jitter
        if jitter == 0.0 and not np.all(np.isfinite(K)):
            raise ValueError(f"{caller}: the kernel matrix holds NaN or infinite values"
                             + (f" (kernel: {kernel!r})" if kernel is not None else "")
                             + "; check the hyperparameters and the inputs")
    where = f" of kernel {kernel!r}" if kernel is not None else ""
    raise NotPositiveDefiniteError(
        f"{caller}: the {n}x{n} kernel matrix{where} is not positive definite, even after "
        f"adding jitter {jitters[-1]:.3g} ({initial * 10.0**(max_tries - 1):.0e} times the "
        f"mean diagonal {scale:.3g}) to its diagonal; add noise (a WhiteKernel or a larger "
        "alpha) or remove duplicated inputs")

