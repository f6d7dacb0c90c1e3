"""The collapsed variational bound of the Bayesian GP-LVM and its gradient in every parameter.

Titsias and Lawrence (2010), "Bayesian Gaussian Process Latent Variable Model", AISTATS. For data
Y (n, D), noise precision beta = 1 / s^2, q(X) = prod_n N(mu_n, diag(S_n)), p(X) = N(0, I) and m
inducing inputs Z, the optimal q(u) is integrated out ("collapsed") and the bound reads

    F = -nD/2 log(2 pi) + nD/2 log beta - D/2 log|B| - beta/2 |Y|^2 + beta^2/2 |c|^2
        - beta D/2 psi0 + beta D/2 tr(C) - KL(q(X) || p(X))

with L = chol(K_mm), C = L^-1 psi2 L^-T, B = I + beta C, c = chol(B)^-1 L^-1 psi1^T Y. It is the
sparse GP's bound (``sparse_bound``) with K_nm and K_mn K_nm replaced by their expectations psi1
and psi2 under q(X) (``psi_statistics``). Its adjoints, with P = K_mm + beta psi2 = L B L^T and
V = P^-1 psi1^T Y (m, D):

    dF/dpsi0 = -beta D / 2
    dF/dpsi1 = beta^2 Y V^T
    dF/dpsi2 = beta D/2 (K_mm^-1 - P^-1) - beta^3/2 V V^T
    dF/dK_mm = D/2 (K_mm^-1 - P^-1) - beta^2/2 V V^T - beta D/2 K_mm^-1 psi2 K_mm^-1
    dF/dbeta = nD/(2 beta) - D/2 tr(B^-1 C) - |Y|^2/2 + beta |c|^2 - beta^2/2 tr(V^T psi2 V)
               - D/2 psi0 + D/2 tr(C)

and the inverses only ever appear whitened: K_mm^-1 - P^-1 = L^-T (I - B^-1) L^-1. The same
dF/dpsi1 and dF/dpsi2 are the gradient of the bound of a new row y* at the fitted q(u), which
``transform`` uses. One evaluation costs O(n m^2 Q) for psi2 and O(n m D + m^3) for the rest.
"""
import math

import numpy as np
from scipy import linalg

from . import kernels
from .kernels_base import fold_upper
from .linalg import cholesky_with_jitter, frobenius_dot, matmul
from .psi_statistics import psi_statistics

__all__ = ["CollapsedLVMBound", "PsiKernel"]

_LOG_2PI = math.log(2.0 * math.pi)
_JITTER = 1e-6      # added to the diagonal of K_mm, relative to the kernel variance


class PsiKernel:
    """Reads a kernel whose psi statistics are known: ``[c *] RBF`` or ``[c *] DotProduct``.

    Attributes
    ----------
    family : {"rbf", "linear"}
    """

    def __init__(self, kernel, latent_dim, caller):
        scale, base = None, kernel
        if isinstance(kernel, kernels.Product):
            pair = (kernel.k1, kernel.k2)
            constants = [k for k in pair if isinstance(k, kernels.ConstantKernel)]
            if len(constants) == 1:
                scale = constants[0]
                base = pair[1] if pair[0] is scale else pair[0]
        if isinstance(base, kernels.RBF):
            self.family = "rbf"
        elif isinstance(base, kernels.DotProduct) and not isinstance(base, kernels.Polynomial):
            self.family = "linear"
        else:
            raise ValueError(f"{caller}: the psi statistics are known in closed form for "
                             f"RBF, DotProduct (linear) and a constant times either; got "
                             f"{kernel!r}")
        base._check_features(latent_dim)
        self.kernel, self.scale, self.base = kernel, scale, base
        # where each free hyperparameter's gradient comes from, in theta order
        self.roles = [("variance" if h.name.endswith("constant_value") else "param",
                       h.n_elements) for h in kernel._hyper() if not h.fixed]

    def params(self):
        """(variance, length scales or sigma_0) at the kernel's current theta."""
        variance = 1.0 if self.scale is None else self.scale.constant_value
        if self.family == "rbf":
            return variance, self.base.length_scale
        return variance, self.base.sigma_0

    def theta_gradient(self, g_log_variance, g_log_param):
        """Map psi gradients in (log variance, log param) to the kernel's theta order."""
        parts = []
        for role, size in self.roles:
            if role == "variance":
                parts.append([g_log_variance])
            else:       # an ARD vector, or one length scale shared by all Q: their sum
                parts.append(g_log_param if size == g_log_param.size else [g_log_param.sum()])
        return np.concatenate(parts) if parts else np.zeros(0)


class CollapsedLVMBound:
    """F and its gradient for fixed data Y (centred, (n, D)); the parameters come with each call."""

    def __init__(self, Y, psi_kernel):
        self.Y = Y
        self.yy = frobenius_dot(Y, Y)
        self.psi_kernel = psi_kernel

    def evaluate(self, theta, noise, Z, mu, S, eval_gradient=False, keep_posterior=False):
        """F at log hyperparameters theta, noise variance s^2, Z (m, Q), mu and S (n, Q).

        Returns F and, with ``eval_gradient``, the tuple (dF/dtheta, dF/dlog s^2, dF/dZ,
        dF/dmu, dF/dS). ``keep_posterior`` stores what prediction needs (``posterior``).
        """
        pk, Y, yy = self.psi_kernel, self.Y, self.yy
        n, D = Y.shape
        m = Z.shape[0]
        beta = 1.0 / noise
        pk.kernel.theta = theta
        variance, param = pk.params()
        psi0, psi1, psi2, psi_vjp = psi_statistics(pk.family, variance, param, Z, mu, S)
        K_mm, K_vjp = pk.kernel._value_and_vjp(Z)
        L, _ = cholesky_with_jitter(K_mm, diagonal=_JITTER * variance,
                                        caller="BayesianGPLVM (K_mm)")
        L_inv = linalg.solve_triangular(L, np.eye(m), lower=True)
        C = matmul(L_inv, matmul(psi2, L_inv.T))
        B = np.eye(m) + beta * C
        L_B, _ = cholesky_with_jitter(B, max_tries=0, caller="BayesianGPLVM (B = I + beta C)")
        PY = matmul(psi1.T, Y)                                   # (m, D)
        c = linalg.solve_triangular(L_B, matmul(L_inv, PY), lower=True)
        kl = 0.5 * (frobenius_dot(mu, mu) + S.sum() - np.log(S).sum() - S.size)
        F = (-0.5 * n * D * (_LOG_2PI - math.log(beta)) - D * np.log(np.diag(L_B)).sum()
             - 0.5 * beta * yy + 0.5 * beta**2 * frobenius_dot(c, c)
             - 0.5 * beta * D * psi0 + 0.5 * beta * D * np.trace(C) - kl)
        if not (eval_gradient or keep_posterior):
            return F
        # V = P^-1 psi1^T Y = L^-T L_B^-T c
        V = matmul(L_inv.T, linalg.solve_triangular(L_B, c, lower=True, trans="T"))
        L_B_inv = linalg.solve_triangular(L_B, np.eye(m), lower=True)
        B_inv = matmul(L_B_inv.T, L_B_inv)
        K_inv_minus_P_inv = matmul(L_inv.T, matmul(np.eye(m) - B_inv, L_inv))
        VVt = matmul(V, V.T)
        G1 = beta**2 * matmul(Y, V.T)
        G2 = 0.5 * beta * D * K_inv_minus_P_inv - 0.5 * beta**3 * VVt
        G2 = 0.5 * (G2 + G2.T)
        if keep_posterior:
            self.posterior = {"L_inv": L_inv, "P_inv": matmul(L_inv.T, matmul(B_inv, L_inv)),
                              "mean_weights": beta * V, "G1_weights": beta**2 * V, "G2": G2,
                              "g0": -0.5 * beta * D}
        if not eval_gradient:
            return F
        G_mm = (0.5 * D * K_inv_minus_P_inv - 0.5 * beta**2 * VVt
                - 0.5 * beta * D * matmul(L_inv.T, matmul(C, L_inv)))
        G_mm = 0.5 * (G_mm + G_mm.T)
        g_beta = (0.5 * n * D / beta - 0.5 * D * frobenius_dot(B_inv, C) - 0.5 * yy
                  + beta * frobenius_dot(c, c) - 0.5 * beta**2 * frobenius_dot(V, matmul(psi2, V))
                  - 0.5 * D * psi0 + 0.5 * D * np.trace(C))
        g = psi_vjp(-0.5 * beta * D, G1, G2)
        # K_mm + jitter I: the jitter scales with the variance, so d/dlog var gains jitter tr(G)
        g_theta = K_vjp(fold_upper(G_mm)) + pk.theta_gradient(
            g.log_variance + _JITTER * variance * np.trace(G_mm),
            g.log_param)
        g_Z = g.Z + pk.kernel._input_vjp(G_mm + G_mm.T, Z)
        g_mu = g.mu - mu                                         # -dKL/dmu
        g_S = g.S - 0.5 * (1.0 - 1.0 / S)                        # -dKL/dS
        return F, (g_theta, -beta * g_beta, g_Z, g_mu, g_S)
