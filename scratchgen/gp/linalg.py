"""Cholesky factorization with a jitter ladder: the one way scratchgen.gp factors a covariance.

Every solve in ``scratchgen.gp`` goes through the lower Cholesky factor L of K = L L^T
(Rasmussen & Williams, Algorithm 2.1): ``scipy.linalg.cho_solve`` for K^-1 y,
``solve_triangular`` for L^-1 k_*. Nothing forms an inverse with ``inv``; the one place that
needs entries of K^-1 (the likelihood gradient, ``likelihood.py``) gets them from L with
LAPACK's ``dtrtri`` and ``dlauum``.

A covariance matrix is positive semi-definite in exact arithmetic but can fail to factor in
floating point (repeated inputs, very smooth kernels, little noise). Adding a small multiple of
the identity, the "jitter", is the standard remedy; the ladder adds as little as works.

Tiny entries. When a length scale is short against the spread of the inputs, the entries of K
fall off as exp(-d^2 / 2 l^2) through every magnitude down to zero, and so do those of its
Cholesky factor and of the factor's inverse. Products of two such numbers land below 2.2e-308,
in the subnormal range, where x86 processors do arithmetic about a hundred times slower: one
likelihood evaluation at n = 2000 took 1.3 s instead of 0.09 s. None of those entries matters.
So before each LAPACK step the matrix's off-diagonal entries below ``TINY`` (1e-150) times
their natural scale (for K: sqrt(K_ii K_jj), a correlation of 1e-150; for L: the norm of
their row) become exact zeros.
That changes the matrix some 10^134 times less than rounding already does, and every product
of two entries that stay is at least about 1e-300 times their scales, a normal number for
matrices of ordinary scale.
"""
import numpy as np
from scipy.linalg import blas

from .. import backend

__all__ = ["NotPositiveDefiniteError", "TINY", "cholesky_with_jitter", "flush_tiny_lower",
           "frobenius_dot", "matmul"]

TINY = 1e-150

# NOTE: NumPy and SciPy each ship their own OpenBLAS, with its own thread pool, whose idle
# threads spin for a while after every call. scratchgen.gp calls SciPy's LAPACK and
# triangular solves; where it also called NumPy's BLAS (np.vdot, @), the two pools took turns
# spinning on the cores the other needed, at 2 threads: bench_gp's n=2000, d=1 fit took 6.0 s
# against 4.4 s, a sparse GP on 30,000 points 11.4 s against 3.2 s, the classifier on 1,000
# points 13.3 s against 5.8 s. So its products go through SciPy's BLAS too: ``frobenius_dot``
# and ``matmul`` below (the backend's matmul, whose compiled kernels call SciPy's BLAS).


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
    """A @ B for a 2-D A and a 1-D or 2-D B, by the backend's BLAS (see the NOTE above)."""
    if A.ndim != 2 or B.ndim not in (1, 2) or A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul: expected a matrix (n, k) and a vector (k,) or matrix (k, d), "
                         f"got shapes {A.shape} and {B.shape}")
    if B.ndim == 1:
        return backend.current().matmul(A, B[:, None])[:, 0]
    return backend.current().matmul(A, B)


def flush_tiny_lower(A, row_scale, col_scale, clear_upper=False):
    """Set A[i, j] = 0 for i > j where |A[i, j]| < row_scale[i] * col_scale[j], in place.

    ``A`` is a Fortran-ordered (n, n) float64 matrix, as LAPACK writes them; its diagonal is
    left alone, and so is its upper triangle unless ``clear_upper`` sets it to zero. Returns
    the number of entries of the lower triangle set to zero.
    """
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.dtype != np.float64:
        raise ValueError(f"flush_tiny_lower: expected a square float64 matrix, got shape "
                         f"{A.shape} and dtype {A.dtype}")
    # A^T is C-ordered, and A's strict lower triangle is the strict upper triangle of A^T.
    return backend.current().flush_tiny_upper(A.T, col_scale, row_scale, clear_upper)


def _restore_lower(A, A_diagonal):
    """Undo a failed dpotrf on A (Fortran order): its lower triangle from its upper one."""
    for j in range(A.shape[0] - 1):
        A[j + 1:, j] = A[j, j + 1:]
    A[np.diag_indices_from(A)] = A_diagonal


class NotPositiveDefiniteError(np.linalg.LinAlgError, ValueError):
    """K is not numerically positive definite, even with the largest jitter of the ladder.

    A subclass of both ``numpy.linalg.LinAlgError`` (what a failed Cholesky raises elsewhere)
    and ``ValueError`` (what scratchgen raises for input a user can fix).
    """


def cholesky_with_jitter(K, initial=1e-10, max_tries=6, diagonal=0.0, kernel=None,
                         caller="cholesky_with_jitter", overwrite_k=False):
    """Lower Cholesky factor of ``K``, adding jitter to the diagonal only when it is needed.

    Factors A = K + diag(``diagonal``) as it is first; when LAPACK reports that A is not
    positive definite, tries A + j * mean(diag A) * I for j = ``initial``, 10 * ``initial``,
    ..., ``initial * 10**(max_tries - 1)`` (1e-10 ... 1e-5 with the defaults). A diagonal
    that averages to zero or less takes 1 as its scale instead.

    Parameters
    ----------
    K : ndarray, shape (n, n)
        Symmetric matrix. Not modified, unless ``overwrite_k``.
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
    overwrite_k : bool
        Allow the factor to take K's place (when K is a writeable C-contiguous float64
        array), saving a copy of an n x n matrix; K's content is then lost.

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
    # K^T is K, and K^T in Fortran order is K's own buffer: LAPACK can factor a C-contiguous K
    # in place, and any other K after one copy. dpotrf writes only the lower triangle, so the
    # strict upper one keeps K for another try with more jitter.
    in_place = overwrite_k and K.flags.c_contiguous and K.flags.aligned and K.flags.writeable
    A = K.T if in_place else K.T.copy(order="F")
    A_diagonal = np.diag(A) + diagonal
    for attempt, jitter in enumerate(jitters):
        if attempt:
            _restore_lower(A, A_diagonal)
        A[np.diag_indices(n)] = A_diagonal + jitter
        # Off-diagonal entries below a correlation of TINY (module docstring).
        root = np.sqrt(TINY * np.maximum(A_diagonal + jitter, 0.0))
        flush_tiny_lower(A, root, root)
        info = backend.current().cholesky_lower(A)
        # NOTE: LAPACK's dpotrf lets NaN through with info = 0. A NaN or inf anywhere in the
        # triangle it reads reaches a later diagonal entry of L, so checking that diagonal
        # (n numbers) catches it.
        if info == 0 and np.all(np.isfinite(np.diag(A))):
            # In one pass: L's entries below TINY times their row's norm sqrt(A_ii) become
            # zeros (module docstring), and so does what is left of K above the diagonal.
            flush_tiny_lower(A, TINY * np.sqrt(A_diagonal + jitter), np.ones(n),
                             clear_upper=True)
            return A, jitter
        if attempt == 0 and not (np.all(np.isfinite(A_diagonal))
                                 and np.all(np.isfinite(np.triu(A, 1)))):
            # (dpotrf read only the lower triangle; the strict upper one is still K's)
            raise ValueError(f"{caller}: the kernel matrix holds NaN or infinite values"
                             + (f" (kernel: {kernel!r})" if kernel is not None else "")
                             + "; check the hyperparameters and the inputs")
    where = f" of kernel {kernel!r}" if kernel is not None else ""
    tried = (f", even after adding jitter {jitters[-1]:.3g} ({initial * 10.0**(max_tries - 1):.0e}"
             f" times the mean diagonal {scale:.3g}) to its diagonal" if max_tries else "")
    raise NotPositiveDefiniteError(
        f"{caller}: the {n}x{n} kernel matrix{where} is not positive definite{tried}; add noise "
        "(a WhiteKernel or a larger alpha) or remove duplicated inputs")

