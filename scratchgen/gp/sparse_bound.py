"""The collapsed bound of the sparse GP (``sparse.py``) and its gradient, kernel part included.

``CollapsedBound.evaluate`` computes F and its adjoints dF/dK_nm, dF/dK_mm and dF/ds^2 through
the Cholesky factors; the rest of this module carries dF/dK to the hyperparameters and the
inducing inputs Z. The kernel objects give dK/dtheta only for a square K(X, X), so the
rectangular K(X, Z) and its derivative in Z are computed here, for sums of products of
``Constant``, ``RBF`` and ``Matern`` (nu = 1/2, 3/2, 5/2) with at most one RBF/Matern factor
per product, scalar or per-dimension (ARD) length scales. Such a kernel is a sum of terms
``var * k(r^2)``, k a unit-variance profile of the scaled squared distance

    r^2 = sum_d (x_d - z_d)^2 / l_d^2,

so one chain rule serves every term. With G = dF/dK(X, Z) and H = var * G o dk/dr^2 (rows, m):

    dF/dlog var = var * sum(G o k)
    dF/dz_jd    = 2 / l_d * sum_i H_ij (z_jd - x_id) / l_d
    dF/dlog l_d = -2 sum_ij H_ij (x_id - z_jd)^2 / l_d^2

each a few matrix-vector products, O(rows * m * d).

NOTE: every product here goes through ``linalg.matmul``, SciPy's BLAS, the library that also
runs the triangular solves and products, never NumPy's ``@`` (see the NOTE in linalg.py).
"""
import numpy as np
from scipy import linalg
from scipy.linalg import blas

from . import kernels
from .linalg import cholesky_with_jitter, frobenius_dot, matmul

_LOG_2PI = np.log(2.0 * np.pi)
_JITTER = 1e-6      # added to the diagonal of K_mm, relative to the prior variance

_MATERN = {0.5: "matern12", 1.5: "matern32", 2.5: "matern52"}
_SQRT3, _SQRT5 = np.sqrt(3.0), np.sqrt(5.0)


class Term:
    """One product of the expanded kernel: ``var * k(r^2)``.

    Attributes
    ----------
    family : {"constant", "rbf", "matern12", "matern32", "matern52"}
    var_index : list of int
        Positions in theta of the free Constant factors (their logs add up to log var).
    var_fixed : float
        Product of the fixed Constant factors.
    ls_index : ndarray of int, (0,), (1,) or (d,)
        Positions in theta of the log length scales; empty when they are fixed.
    ls_fixed : ndarray (d,) or None
        The fixed length scales.
    """

    def __init__(self, family="constant", var_index=(), var_fixed=1.0, ls_index=None,
                 ls_fixed=None):
        self.family = family
        self.var_index = list(var_index)
        self.var_fixed = var_fixed
        self.ls_index = np.zeros(0, dtype=int) if ls_index is None else ls_index
        self.ls_fixed = ls_fixed

    def times(self, other):
        """The term of the product of two terms (at most one may be stationary)."""
        if self.family != "constant" and other.family != "constant":
            raise ValueError("SparseGPRegressor: a product of two RBF/Matern kernels is not "
                             "supported; use one stationary factor per product")
        stat = self if self.family != "constant" else other
        return Term(stat.family, self.var_index + other.var_index,
                    self.var_fixed * other.var_fixed, stat.ls_index, stat.ls_fixed)


def kernel_terms(kernel, d, offset=0):
    """Expand ``kernel`` into a list of ``Term`` (a sum of products).

    Parameters
    ----------
    kernel : kernel object
        ``Constant``, ``RBF`` and ``Matern`` combined by ``+`` and ``*``.
    d : int
        Input dimension.
    offset : int
        Position of ``kernel.theta[0]`` in the full theta.

    Returns
    -------
    terms : list of Term
    n_theta : int
        ``len(kernel.theta)``.
    """
    n_theta = len(kernel.theta)
    if isinstance(kernel, (kernels.Sum, kernels.Product)):
        left, n_left = kernel_terms(kernel.k1, d, offset)
        right, n_right = kernel_terms(kernel.k2, d, offset + n_left)
        if isinstance(kernel, kernels.Sum):
            return left + right, n_theta
        return [a.times(b) for a in left for b in right], n_theta
    if isinstance(kernel, kernels.ConstantKernel):
        if n_theta:
            return [Term(var_index=[offset])], n_theta
        return [Term(var_fixed=float(kernel.constant_value))], n_theta
    if isinstance(kernel, (kernels.RBF, kernels.Matern)):
        family = _MATERN[kernel.nu] if isinstance(kernel, kernels.Matern) else "rbf"
        if n_theta == 0:
            ls = np.broadcast_to(np.asarray(kernel.length_scale, dtype=float), (d,)).copy()
            return [Term(family, ls_fixed=ls)], 0
        if n_theta not in (1, d):
            raise ValueError(f"SparseGPRegressor: {kernel!r} has {n_theta} length scales but "
                             f"X has {d} columns")
        return [Term(family, ls_index=np.arange(offset, offset + n_theta))], n_theta
    hint = (" (the Gaussian noise is the separate `noise` parameter)"
            if isinstance(kernel, kernels.WhiteKernel) else "")
    raise TypeError(f"SparseGPRegressor: expected a kernel built from Constant, RBF and Matern "
                    f"by + and *, got {kernel!r}{hint}")


def term_params(term, theta):
    """(var, length scales (d,) or None) of ``term`` at log hyperparameters ``theta``."""
    var = term.var_fixed * np.exp(theta[term.var_index].sum())
    if term.family == "constant":
        return var, None
    if term.ls_index.size:
        return var, np.exp(theta[term.ls_index])
    return var, term.ls_fixed


def stationary(family, X, Z, ls, same=False, need_derivative=False):
    """Unit-variance profile k(r^2) on X (rows, d) x Z (m, d) and, if asked, dk/dr^2.

    ``same`` says X is Z (the diagonal of r^2 is then set to exactly 0). For "rbf" the
    derivative is -k / 2 and is not built (None).

    Returns
    -------
    k : ndarray (rows, m)
    dk : ndarray (rows, m) or None
    """
    if family == "constant":
        return np.ones((X.shape[0], Z.shape[0])), (np.zeros((X.shape[0], Z.shape[0]))
                                                   if need_derivative else None)
    # -r^2 / 2 = xs.zs - |xs|^2 / 2 - |zs|^2 / 2 as one product of augmented matrices:
    # [xs, 1, -|xs|^2 / 2] . [zs, -|zs|^2 / 2, 1], so no pass over (rows, m) adds the norms.
    Xs, Zs = X / ls, Z / ls
    half_x = -0.5 * np.einsum("ij,ij->i", Xs, Xs)[:, None]
    half_z = -0.5 * np.einsum("ij,ij->i", Zs, Zs)[:, None]
    ones_x, ones_z = np.ones_like(half_x), np.ones_like(half_z)
    P = matmul(np.hstack([Xs, ones_x, half_x]), np.hstack([Zs, half_z, ones_z]).T)  # -r^2 / 2
    np.minimum(P, 0.0, out=P)                   # r^2 >= 0 (rounding can make it negative)
    if same:
        np.fill_diagonal(P, 0.0)
    if family == "rbf":                         # k = exp(-r^2 / 2)
        return np.exp(P, out=P), None
    r2 = P
    r2 *= -2.0
    r = np.sqrt(r2)
    if family == "matern12":                    # k = exp(-r), dk/dr^2 = -exp(-r) / (2 r)
        k = np.exp(-r)
        if not need_derivative:
            return k, None
        # NOTE: the kernel has a kink at r = 0; use the zero subgradient there.
        with np.errstate(divide="ignore", invalid="ignore"):
            dk = np.where(r > 1e-8, -0.5 * k / r, 0.0)
        return k, dk
    if family == "matern32":                    # k = (1 + sqrt3 r) e, e = exp(-sqrt3 r)
        r *= _SQRT3
        e = np.exp(-r)
        k = (1.0 + r) * e
        return k, (-1.5 * e if need_derivative else None)         # dk/dr^2 = -3/2 e
    r *= _SQRT5                                 # k = (1 + sqrt5 r + 5/3 r^2) e, e = exp(-sqrt5 r)
    e = np.exp(-r)
    poly = 1.0 + r
    k = (poly + r2 * (5.0 / 3.0)) * e
    if not need_derivative:
        return k, None
    poly *= e
    poly *= -5.0 / 6.0                          # dk/dr^2 = -5/6 (1 + sqrt5 r) e
    return k, poly


def term_grads(term, var, ls, G, k, dk, X, Z, n_theta, jitter=0.0, overwrite_G=False):
    """Gradient of sum(G o var * k(X, Z)) in theta (n_theta,) and in Z (m, d).

    Only the dependence through the second argument Z is taken; for K(Z, Z) the caller
    doubles the Z gradient (G symmetric). ``jitter`` (relative) adds ``var * jitter * I`` to
    the term, as the sparse bound does on K(Z, Z). ``overwrite_G`` lets G be used as scratch.
    """
    grad_theta = np.zeros(n_theta)
    # dF/dlog var = var * (sum(G o k) + jitter tr G)
    g_var = var * (frobenius_dot(G, k) + (jitter * np.trace(G) if jitter else 0.0))
    for i in term.var_index:
        grad_theta[i] += g_var
    if term.family == "constant":
        return grad_theta, np.zeros_like(Z)
    # H = var * G o dk/dr^2 = coef * H0, the scalar applied to the small sums below
    H0 = np.multiply(G, k if dk is None else dk, out=G if overwrite_G else None)
    coef = -0.5 * var if dk is None else var    # rbf: dk/dr^2 = -k / 2
    Xs, Zs = X / ls, Z / ls
    d = X.shape[1]
    # one pass over H0: its column sums and sum_i H0_ij xs_id, sum_i H0_ij xs_id^2
    sums = coef * matmul(H0.T, np.hstack([Xs, Xs * Xs, np.ones((X.shape[0], 1))]))  # (m, 2d+1)
    HX, HX2, col = sums[:, :d], sums[:, d:2 * d], sums[:, 2 * d]
    grad_Z = 2.0 / ls * (Zs * col[:, None] - HX)
    if term.ls_index.size:
        # sum_ij H_ij (xs_id - zs_jd)^2, expanded into three contractions
        sq = HX2.sum(axis=0) - 2.0 * np.einsum("jd,jd->d", Zs, HX) + matmul((Zs * Zs).T, col)
        g_ls = -2.0 * sq
        grad_theta[term.ls_index] += g_ls if term.ls_index.size > 1 else g_ls.sum()
    return grad_theta, grad_Z


def chunks(n, m):
    """Row slices of about 2^18 kernel entries (n rows against m columns).

    Small enough that a chunk's (rows, m) arrays (2 MiB each) stay in cache between the
    elementwise passes and the matrix products that read them, large enough for BLAS.
    """
    step = max(1, (1 << 18) // m)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


class CollapsedBound:
    """F and its gradient for fixed data (X, y); the parameters come with each call.

    The inputs are centred: stationary kernels do not see the shift, and the squared distances
    |x|^2 + |z|^2 - 2 x.z lose less to cancellation. Coordinates of Z are centred as well.
    """

    def __init__(self, X, y, terms):
        self.offset = X.mean(axis=0)
        self.X = X - self.offset
        self.y = y
        self.terms = terms

    def cross(self, params, X, Z, need_derivative=False):
        """K(X, Z) = K_scale * K, and each term's (k, dk/dr^2), all (rows, m).

        With a single term K is that term's unit-variance k itself and K_scale its variance:
        the scalar then goes into m x m factors instead of a pass over (rows, m).
        """
        k_rows = [stationary(t.family, X, Z, ls, need_derivative=need_derivative)
                  for t, (_, ls) in zip(self.terms, params)]
        if len(k_rows) == 1:
            return k_rows[0][0], params[0][0], k_rows
        return sum(var * k for (var, _), (k, _) in zip(params, k_rows)), 1.0, k_rows

    def evaluate(self, theta, noise, Z, eval_gradient=False, keep_posterior=False):
        """F at log hyperparameters theta, noise variance s^2 and centred Z (m, d).

        Returns F and, with ``eval_gradient``, (dF/dtheta, dF/dlog s^2, dF/dZ (m, d)). With
        ``keep_posterior`` it stores the factors L, L_B and weights v that prediction uses.
        """
        X, y, s2 = self.X, self.y, noise
        n, m = X.shape[0], Z.shape[0]
        params = [term_params(t, theta) for t in self.terms]
        prior_var = sum(var for var, _ in params)
        k_mm = [stationary(t.family, Z, Z, ls, same=True, need_derivative=eval_gradient)
                for t, (_, ls) in zip(self.terms, params)]
        # K_mm + jitter I, the jitter (1e-6 of the prior variance, more if needed) being part
        # of the model: F and its gradient are those of the jittered K_mm.
        L, extra = cholesky_with_jitter(sum(var * k for (var, _), (k, _) in zip(params, k_mm)),
                                        diagonal=_JITTER * prior_var, caller="SparseGPRegressor")
        jitter = _JITTER + extra / prior_var
        eye = np.eye(m)
        # NOTE: A = L^-1 K_mn / s is applied as a triangular product (BLAS trmm) with the
        # inverse factor L^-1 (one m x m triangular solve): trmm runs several times faster
        # than a triangular solve with many right-hand sides, and for a triangular L its
        # forward error is of the same order, u cond(L) (Higham, Accuracy and Stability of
        # Numerical Algorithms, ch. 14).
        L_inv = linalg.solve_triangular(L, eye, lower=True)
        L_inv_f = np.asfortranarray(L_inv)

        AAT, Ay = np.zeros((m, m)), np.zeros(m)          # A A^T and A y, A = L^-1 K_mn / s
        pieces = []                         # per chunk, what the gradient pass reuses
        for rows in chunks(n, m):
            K, K_scale, k_rows = self.cross(params, X[rows], Z, eval_gradient)
            A = blas.dtrmm(K_scale / np.sqrt(s2), L_inv_f, K.T, lower=True)   # (m, rows)
            AAT += matmul(A, A.T)
            Ay += matmul(A, y[rows])
            if eval_gradient:
                pieces.append((rows, K, K_scale, k_rows))
        B = AAT + np.eye(m)
        L_B, _ = cholesky_with_jitter(B, max_tries=0, caller="SparseGPRegressor (B = I + A A^T)")
        c = linalg.solve_triangular(L_B, Ay, lower=True) / np.sqrt(s2)
        F = (-0.5 * n * (_LOG_2PI + np.log(s2)) - np.log(np.diag(L_B)).sum()
             - 0.5 * frobenius_dot(y, y) / s2 + 0.5 * (c @ c) - 0.5 * n * prior_var / s2
             + 0.5 * np.trace(AAT))
        # v = P^-1 K_mn y / s^2 = L^-T L_B^-T c, with P = K_mm + K_mn K_nm / s^2 = L B L^T
        v = linalg.solve_triangular(L, linalg.solve_triangular(L_B, c, lower=True, trans="T"),
                                    lower=True, trans="T")
        if keep_posterior:
            self.L, self.L_B, self.v = L, L_B, v
        if not eval_gradient:
            return F

        # Adjoints of F, with r = y - K_nm v the residual of the mean:
        #   dF/dK_nm = K_nm W + r v^T / s^2,   W = (K_mm^-1 - P^-1) / s^2
        #   dF/dK_mm = (K_mm^-1 - P^-1 - K_mm^-1 K_mn K_nm K_mm^-1 / s^2 - v v^T) / 2
        #   dF/ds^2  = [s^2 (m - tr B^-1) - n s^2 + |r|^2 + tr K_nn - s^2 tr(A A^T)] / (2 s^4)
        # and in the whitened basis K_mm^-1 - P^-1 = L^-T (I - B^-1) L^-1.
        L_B_inv = linalg.solve_triangular(L_B, eye, lower=True)
        B_inv = matmul(L_B_inv.T, L_B_inv)
        W = matmul(L_inv.T, matmul(eye - B_inv, L_inv)) / s2
        G_mm = 0.5 * (matmul(L_inv.T, matmul(eye - B_inv - AAT, L_inv)) - np.outer(v, v))
        G_mm = 0.5 * (G_mm + G_mm.T)
        grad_theta, grad_Z = np.zeros(theta.size), np.zeros_like(Z)
        for t, (var, ls), (k, dk) in zip(self.terms, params, k_mm):
            g_theta, g_Z = term_grads(t, var, ls, G_mm, k, dk, Z, Z, theta.size, jitter,
                                      overwrite_G=len(self.terms) == 1)
            grad_theta += g_theta
            grad_Z += 2.0 * g_Z             # K_mm depends on Z through both arguments
        r_sq = 0.0
        for rows, K, K_scale, k_rows in pieces:
            r = y[rows] - matmul(K, K_scale * v)
            r_sq += frobenius_dot(r, r)
            G = matmul(K, K_scale * W)      # (rows, m)
            # G += r v^T / s^2 by BLAS ger on the column-major view G^T (in place, no temporary)
            G = blas.dger(1.0, v / s2, r, a=G.T, overwrite_a=True).T
            for t, (var, ls), (k, dk) in zip(self.terms, params, k_rows):
                g_theta, g_Z = term_grads(t, var, ls, G, k, dk, X[rows], Z, theta.size,
                                          overwrite_G=len(self.terms) == 1)
                grad_theta += g_theta
                grad_Z += g_Z
        for t, (var, _) in zip(self.terms, params):
            grad_theta[t.var_index] -= 0.5 * n * var / s2      # from -tr(K_nn) / (2 s^2)
        grad_log_s2 = 0.5 * (s2 * (m - np.trace(B_inv)) - n * s2 + r_sq + n * prior_var
                             - s2 * np.trace(AAT)) / s2
        return F, (grad_theta, grad_log_s2, grad_Z)
