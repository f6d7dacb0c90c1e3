"""The psi statistics of the Bayesian GP-LVM: kernel expectations under q(X), in closed form.

With q(x_n) = N(mu_n, diag(S_n)) and inducing inputs z_1..z_m, the bound of Titsias and Lawrence
(2010) needs the kernel only through

    psi0 = sum_n E[k(x_n, x_n)]                                     a number
    psi1 = E[k(x_n, z_m)]                                           (n, m)
    psi2 = sum_n E[k(z_m, x_n) k(x_n, z_m')]                        (m, m)

For the RBF with variance s2 and ARD precisions a_q = 1 / l_q^2 (Titsias and Lawrence, eq. 14):

    psi1_nm = s2 prod_q (a_q S_nq + 1)^-1/2 exp(-u_nq (mu_nq - z_mq)^2 / 2),
              u_nq = a_q / (a_q S_nq + 1)
    psi2^n_mm' = s2^2 prod_q (2 a_q S_nq + 1)^-1/2
                 exp(-a_q (z_mq - z_m'q)^2 / 4 - w_nq (mu_nq - zbar_q)^2),
              w_nq = a_q / (2 a_q S_nq + 1),  zbar = (z_m + z_m') / 2

and for the linear kernel c (b + x . x'), b = sigma_0^2, with A_nm = b + mu_n . z_m:

    psi0 = c sum_n (b + |mu_n|^2 + sum_q S_nq),  psi1 = c A,
    psi2 = c^2 (A^T A + Z diag(sum_n S_n) Z^T).

Every quadratic form (mu - z)^2 is expanded into mu^2 - 2 mu z + z^2, so that the sums over n,
m (and pairs m <= m') are matrix products with an inner dimension of Q or 2Q; the only pass
that is not a product is the exponential. ``psi_statistics`` returns the three and a function
that maps their adjoints dF/dpsi to the gradients in the log variance, the log length scales
(or log sigma_0), Z, mu and S. psi2's work, O(n m^2 Q), is four matrix products and one
exponential over (n, m(m+1)/2) arrays, in row chunks of at most 32 MiB; the exponentials are
kept for the gradient when they fit in 128 MiB.
"""
from typing import NamedTuple

import numpy as np

from .linalg import matmul

__all__ = ["PsiGradients", "psi_statistics"]


class PsiGradients(NamedTuple):
    """Gradient of F(psi0, psi1, psi2) in each input of the psi statistics."""

    log_variance: float      # d/dlog s2 (RBF) or d/dlog c (linear)
    log_param: np.ndarray    # d/dlog l_q (Q,) for the RBF, d/dlog sigma_0 (1,) for linear
    Z: np.ndarray            # (m, Q)
    mu: np.ndarray           # (n, Q)
    S: np.ndarray            # (n, Q)


def psi_statistics(family, variance, param, Z, mu, S):
    """psi0, psi1, psi2 of ``family`` and the vector-Jacobian product of the three.

    Parameters
    ----------
    family : {"rbf", "linear"}
    variance : float
        s2 of the RBF, or the scale c of the linear kernel.
    param : ndarray (Q,) or float
        The length scales l (RBF) or sigma_0 (linear).
    Z : ndarray (m, Q)
    mu, S : ndarray (n, Q)
        Means and variances of q(X).

    Returns
    -------
    psi0 : float
    psi1 : ndarray (n, m)
    psi2 : ndarray (m, m)
    vjp : callable (g0, G1, G2) -> PsiGradients
        G2 must be symmetric.
    """
    if family == "rbf":
        return _rbf(variance, np.broadcast_to(param, (Z.shape[1],)), Z, mu, S)
    return _linear(variance, float(param), Z, mu, S)


def _row_chunks(n, width):
    """Row slices of about 2^22 entries of a (n, width) array (32 MiB: few, large BLAS calls)."""
    step = max(1, (1 << 22) // width)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _rbf(s2, length_scale, Z, mu, S):
    n, Q = mu.shape
    m = Z.shape[0]
    a = 1.0 / length_scale**2
    # psi1: log psi1 = log s2 - 1/2 sum_q log(a S + 1) - 1/2 sum_q u (mu - z)^2
    u = a / (a * S + 1.0)
    quad1 = _quadratic_forms(u, mu, Z)                                  # (n, m), >= 0
    log_c1 = -0.5 * np.log(a * S + 1.0).sum(axis=1)
    psi1 = s2 * np.exp(log_c1[:, None] - 0.5 * quad1)
    # psi2 over the pairs m <= m' only (it is symmetric)
    first, second = np.triu_indices(m)
    zbar = 0.5 * (Z[first] + Z[second])                                 # (P, Q)
    delta = Z[first] - Z[second]
    pair_log = -0.25 * (delta**2) @ a                                   # (P,)
    w = a / (2.0 * a * S + 1.0)
    log_c2 = -0.5 * np.log(2.0 * a * S + 1.0).sum(axis=1)
    P = first.size
    # the exponent of psi2^n as one product: [-w mu, -w, log c2 - sum w mu^2, 1] against
    # [-2 zbar, zbar^2, 1, pair_log]
    left = np.hstack([-w * mu, -w, (log_c2 - (w * mu**2).sum(axis=1))[:, None],
                      np.ones((n, 1))])
    right = np.hstack([-2.0 * zbar, zbar**2, np.ones((P, 1)), pair_log[:, None]])
    chunks = _row_chunks(n, P)
    # NOTE: the vjp reuses the exponentials when they fit in 128 MiB, else recomputes them.
    kept = [] if n * P <= 1 << 24 else None
    pair_sums = np.zeros(P)
    for rows in chunks:
        E = _exp_product(left[rows], right)
        pair_sums += _column_sums(E)
        if kept is not None:
            kept.append(E)
    psi2 = np.empty((m, m))
    psi2[first, second] = psi2[second, first] = s2 * s2 * pair_sums
    psi0 = n * s2

    def vjp(g0, G1, G2):
        # ---- psi0 = n s2
        g_log_s2 = g0 * psi0
        # ---- psi1, with T1 = G1 o psi1 and t1 its row sums
        T1 = G1 * psi1
        t1 = T1.sum(axis=1)
        g_log_s2 += t1.sum()
        TZ = matmul(T1, np.hstack([Z, Z**2]))                           # (n, 2Q)
        sq1 = mu**2 * t1[:, None] - 2.0 * mu * TZ[:, :Q] + TZ[:, Q:]    # sum_m T1 (mu - z)^2
        g_mu = -u * (mu * t1[:, None] - TZ[:, :Q])
        g_S = 0.5 * (u**2 * sq1 - u * t1[:, None])
        TtU = matmul(T1.T, np.hstack([u * mu, u]))                      # (m, 2Q)
        g_Z = TtU[:, :Q] - Z * TtU[:, Q:]
        v1 = 1.0 / (a * S + 1.0)
        g_a = -0.5 * (t1 @ (S * v1)) - 0.5 * ((v1**2) * sq1).sum(axis=0)
        # ---- psi2, with T2 = g o psi2^n over pairs, g = G2 counted twice off the diagonal
        g_pair = np.where(first == second, 1.0, 2.0) * G2[first, second] * s2 * s2
        # T2 = g o psi2^n is never formed: g scales the columns of zbar_cols, and the row
        # sums t2 and column sums col2 ride along as columns of ones in the two products.
        zbar_cols = g_pair[:, None] * np.hstack([zbar, zbar**2, np.ones((P, 1))])  # (P, 2Q+1)
        g_zbar, col2 = np.zeros((P, Q)), np.zeros(P)
        for i, rows in enumerate(chunks):
            E = kept[i] if kept is not None else _exp_product(left[rows], right)
            wr, mr = w[rows], mu[rows]
            Tz = matmul(E, zbar_cols)                                   # (rows, 2Q+1)
            t2 = Tz[:, 2 * Q]
            sq2 = mr**2 * t2[:, None] - 2.0 * mr * Tz[:, :Q] + Tz[:, Q:2 * Q]  # sum_p T2 (mu - zbar)^2
            g_mu[rows] += -2.0 * wr * (mr * t2[:, None] - Tz[:, :Q])
            g_S[rows] += 2.0 * wr**2 * sq2 - wr * t2[:, None]
            v2 = 1.0 / (2.0 * a * S[rows] + 1.0)
            g_a += -(t2 @ (S[rows] * v2)) - ((v2**2) * sq2).sum(axis=0)
            Tw = matmul(E.T, np.hstack([wr * mr, wr, np.ones((wr.shape[0], 1))]))  # (P, 2Q+1)
            g_zbar += 2.0 * (Tw[:, :Q] - zbar * Tw[:, Q:2 * Q])
            col2 += Tw[:, 2 * Q]
        g_zbar *= g_pair[:, None]
        col2 *= g_pair
        g_log_s2 += 2.0 * col2.sum()
        g_a += -0.25 * col2 @ delta**2
        g_delta = -0.5 * a * delta * col2[:, None]
        # z_m enters zbar with weight 1/2 and delta with +1 (first) or -1 (second)
        np.add.at(g_Z, first, 0.5 * g_zbar + g_delta)
        np.add.at(g_Z, second, 0.5 * g_zbar - g_delta)
        return PsiGradients(float(g_log_s2), -2.0 * a * g_a, g_Z, g_mu, g_S)

    return psi0, psi1, psi2, vjp


def _quadratic_forms(u, mu, Z):
    """sum_q u_nq (mu_nq - z_mq)^2 for all n, m as one product; clipped at 0 (rounding)."""
    left = np.hstack([u * mu, u, (u * mu**2).sum(axis=1, keepdims=True)])      # (n, 2Q+1)
    right = np.hstack([-2.0 * Z, Z**2, np.ones((Z.shape[0], 1))])               # (m, 2Q+1)
    return np.maximum(matmul(left, right.T), 0.0)


def _exp_product(left, right):
    """exp(left right^T): psi2^n / s2^2 for a chunk of rows over all pairs, (rows, P)."""
    E = matmul(left, right.T)
    return np.exp(E, out=E)


def _column_sums(E):
    return matmul(E.T, np.ones(E.shape[0]))


def _linear(c, sigma_0, Z, mu, S):
    b = sigma_0**2
    A = b + matmul(mu, Z.T)                                             # (n, m)
    s_sum = S.sum(axis=0)
    psi0 = c * (mu.shape[0] * b + (mu**2).sum() + s_sum.sum())
    psi1 = c * A
    psi2 = c * c * (matmul(A.T, A) + matmul(Z * s_sum, Z.T))

    def vjp(g0, G1, G2):
        AG = matmul(A, G2)                                              # (n, m)
        g_log_c = g0 * psi0 + (G1 * psi1).sum() + 2.0 * (G2 * psi2).sum()
        g_b = c * (g0 * mu.shape[0] + G1.sum()) + 2.0 * c * c * AG.sum()
        g_mu = 2.0 * c * g0 * mu + c * matmul(G1, Z) + 2.0 * c * c * matmul(AG, Z)
        g_S = np.broadcast_to(c * g0 + c * c * np.einsum("mq,mk,kq->q", Z, G2, Z),
                              mu.shape).copy()
        g_Z = c * matmul(G1.T, mu) + 2.0 * c * c * (matmul(AG.T, mu) + matmul(G2, Z) * s_sum)
        return PsiGradients(float(g_log_c), np.array([2.0 * b * g_b]), g_Z, g_mu, g_S)

    return psi0, psi1, psi2, vjp
