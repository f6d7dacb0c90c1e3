"""Stochastic variational inference for the Bayesian GP-LVM, for data sets too large for one pass.

Hensman, Fusi and Lawrence (2013), "Gaussian Processes for Big Data", UAI. The collapsed bound
(``bgplvm_bound``) needs psi2 summed over all n rows in every evaluation. Keeping q(u) =
N(M, S_u) explicit (M (m, D), one S_u (m, m) shared by the D outputs) makes the bound a sum over
rows, so a mini-batch B of b rows gives an unbiased estimate of it (c = n / b):

    F_B = c sum_{i in B} [ E_q(x_i) E_q(u) log p(y_i | u, x_i) - KL(q(x_i) || N(0, I)) ]
          - KL(q(u) || p(u)),     p(u) = N(0, K_mm)

With A = K_mm^-1 the data term is once more linear in the batch's psi statistics,

    g0 = -beta D / 2,   G1 = beta Y_B M^T A,   G2 = -beta/2 [D (A S_u A - A) + A M M^T A],

so ``psi_statistics`` gives the gradients in q(x_i), Z and the kernel as in the collapsed
bound. q(u) moves by a natural-gradient step (Hensman et al., section 3.3): its natural
parameters (S_u^-1, S_u^-1 M) step towards the batch's optimum

    S~^-1 = A + c beta A psi2_B A,     S~^-1 M~ = c beta A psi1_B^T Y_B,

(a step of length 1 would jump to it). The kernel, the noise and Z take Adam steps on F_B, and
each row's mu_i and log S_i an Adam step when its row is in the batch (their Adam state
advances only then). Cost per step: O(b m^2 Q) for psi2, O(b m D + m^2 D + m^3) for the rest;
memory O(n Q + m D + b m^2), so the 60,000 MNIST digits fit with room to spare.
"""
import math

import numpy as np
from scipy import linalg

from .kernels_base import fold_upper
from .linalg import cholesky_with_jitter, frobenius_dot, matmul
from .psi_statistics import psi_statistics

__all__ = ["NATURAL_STEP", "RowAdam", "StochasticLVMBound", "fit_stochastic"]

_LOG_2PI = math.log(2.0 * math.pi)
_JITTER = 1e-6


class StochasticLVMBound:
    """F_B and its gradients for one mini-batch, at explicit q(u) = N(M, S_u)."""

    def __init__(self, psi_kernel, n_rows):
        self.psi_kernel = psi_kernel
        self.n_rows = n_rows

    def evaluate(self, theta, noise, Z, M, S_u, mu, S, Y):
        """F_B at the batch's q(x) (mu, S (b, Q)) and rows Y (b, D).

        Returns
        -------
        F : float
            The unbiased estimate of the whole data's bound.
        grads : tuple
            (dF/dtheta, dF/dlog s^2, dF/dZ, dF/dmu, dF/dS) for the Adam steps.
        natural : tuple
            (S~^-1, S~^-1 M~): the batch's optimal q(u) in natural parameters.
        """
        pk = self.psi_kernel
        b, D = Y.shape
        m = Z.shape[0]
        c = self.n_rows / b
        beta = 1.0 / noise
        pk.kernel.theta = theta
        variance, param = pk.params()
        psi0, psi1, psi2, psi_vjp = psi_statistics(pk.family, variance, param, Z, mu, S)
        K_mm, K_vjp = pk.kernel._value_and_vjp(Z)
        L, _ = cholesky_with_jitter(K_mm, diagonal=_JITTER * variance,
                                    caller="BayesianGPLVM (K_mm)")
        L_inv = linalg.solve_triangular(L, np.eye(m), lower=True)
        A = matmul(L_inv.T, L_inv)
        AM = matmul(A, M)                                              # (m, D)
        ASA = matmul(A, matmul(S_u, A))
        g0 = -0.5 * beta * D
        G1 = beta * matmul(Y, AM.T)
        G2 = -0.5 * beta * (D * (ASA - A) + matmul(AM, AM.T))
        linear = g0 * psi0 + frobenius_dot(G1, psi1) + frobenius_dot(G2, psi2)
        yy = frobenius_dot(Y, Y)
        kl_x = 0.5 * (frobenius_dot(mu, mu) + S.sum() - np.log(S).sum() - S.size)
        L_S, _ = cholesky_with_jitter(S_u, max_tries=0, caller="BayesianGPLVM (S_u)")
        kl_u = 0.5 * (D * frobenius_dot(A, S_u) + frobenius_dot(M, AM) - D * m
                      + 2.0 * D * (np.log(np.diag(L)).sum() - np.log(np.diag(L_S)).sum()))
        F = c * (-0.5 * b * D * (_LOG_2PI - math.log(beta)) - 0.5 * beta * yy + linear
                 - kl_x) - kl_u

        # dF/dA (then dF/dK_mm = -A dF/dA A), from the data term and from KL(q(u) || p(u))
        P2 = matmul(psi2, A)                                           # psi2 A
        MYp = matmul(M, matmul(Y.T, psi1))                             # M Y^T psi1
        MMt = matmul(M, M.T)
        dA = c * (beta * MYp - 0.5 * beta * (D * (matmul(P2, S_u) + matmul(S_u, P2.T))
                                             - D * psi2 + matmul(P2, MMt) + matmul(MMt, P2.T)))
        dA -= 0.5 * (D * S_u + MMt)
        dA = 0.5 * (dA + dA.T)
        G_mm = -matmul(A, matmul(dA, A)) - 0.5 * D * A
        G_mm = 0.5 * (G_mm + G_mm.T)
        g = psi_vjp(c * g0, c * G1, c * G2)
        g_theta = K_vjp(fold_upper(G_mm)) + pk.theta_gradient(
            g.log_variance + _JITTER * variance * np.trace(G_mm), g.log_param)
        g_Z = g.Z + pk.kernel._input_vjp(G_mm + G_mm.T, Z)
        g_beta = c * (0.5 * b * D / beta - 0.5 * yy + linear / beta)
        g_mu = g.mu - c * mu
        g_S = g.S - 0.5 * c * (1.0 - 1.0 / S)
        precision = A + c * beta * matmul(P2.T, A)                     # A + c beta A psi2 A
        precision = 0.5 * (precision + precision.T)
        shift = c * beta * matmul(A, matmul(psi1.T, Y))
        return F, (g_theta, -beta * g_beta, g_Z, g_mu, g_S), (precision, shift)


class RowAdam:
    """Adam (Kingma and Ba, 2015) ascending a gradient, for arrays whose rows may update alone.

    ``step(name, value, grad, rows)`` updates ``value[rows]`` in place from ``grad`` (the
    gradient of those rows only); each row keeps its own step count, so a row that is seldom
    in a batch gets Adam's bias correction for the steps it actually took ("lazy" Adam).
    """

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state = {}

    def step(self, name, value, grad, rows=None):
        b1, b2 = self.betas
        if name not in self.state:
            self.state[name] = (np.zeros_like(value), np.zeros_like(value),
                                np.zeros(value.shape[0] if value.ndim else 1))
        m1, m2, t = self.state[name]
        rows = slice(None) if rows is None else rows
        t[rows] += 1
        m1[rows] = b1 * m1[rows] + (1 - b1) * grad
        m2[rows] = b2 * m2[rows] + (1 - b2) * grad * grad
        steps = t[rows].reshape((-1,) + (1,) * (value.ndim - 1)) if value.ndim else t
        m_hat = m1[rows] / (1 - b1**steps)
        v_hat = m2[rows] / (1 - b2**steps)
        value[rows] += self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


#: The natural-gradient step of q(u): its natural parameters move this far to a batch's optimum.
NATURAL_STEP = 0.1


def fit_stochastic(bound, Y, mu, S, Z, theta, noise, bounds, batch_size, n_steps, lr, rng,
                   history, progress):
    """Run ``n_steps`` mini-batch steps; return the updated (mu, S, Z, theta, noise).

    ``mu``, ``S`` (n, Q) are updated in place. ``bounds`` holds the (low, high) limits of theta
    and of log noise, as rows. ``history`` receives F_B after each step; ``progress`` is a
    progress bar (or a stand-in) updated once per step.
    """
    n = Y.shape[0]
    adam = RowAdam(lr)
    log_S, log_noise = np.log(S), np.array([math.log(noise)])
    theta = theta.copy()
    order, position = rng.permutation(n), 0
    natural = None
    for step in range(n_steps):
        if position + batch_size > n:
            order, position = rng.permutation(n), 0
        rows = np.sort(order[position:position + batch_size])
        position += batch_size
        batch = (mu[rows], np.exp(log_S[rows]), Y[rows])
        if natural is None:     # q(u) starts at the first batch's optimum (any q(u) finds it)
            m, D = Z.shape[0], Y.shape[1]
            natural = bound.evaluate(theta, float(np.exp(log_noise[0])), Z, np.zeros((m, D)),
                                     np.eye(m), *batch)[2]
        S_u = _inverse_spd(natural[0])
        M = matmul(S_u, natural[1])
        F, grads, target = bound.evaluate(theta, float(np.exp(log_noise[0])), Z, M, S_u,
                                          *batch)
        g_theta, g_log_noise, g_Z, g_mu, g_S = grads
        natural = tuple((1.0 - NATURAL_STEP) * old + NATURAL_STEP * new
                        for old, new in zip(natural, target))
        adam.step("theta", theta, g_theta)
        adam.step("log_noise", log_noise, np.array([g_log_noise]))
        adam.step("Z", Z, g_Z)
        adam.step("mu", mu, g_mu, rows)
        adam.step("log_S", log_S, g_S * np.exp(log_S[rows]), rows)
        np.clip(theta, bounds[:-1, 0], bounds[:-1, 1], out=theta)
        np.clip(log_noise, bounds[-1, 0], bounds[-1, 1], out=log_noise)
        np.clip(log_S, math.log(1e-8), math.log(1e2), out=log_S)
        history.append(float(F))
        progress.update()
        progress.set_postfix(bound=f"{F:.6g}", refresh=False)
    S[...] = np.exp(log_S)
    return mu, S, Z, theta, float(np.exp(log_noise[0]))


def _inverse_spd(P):
    """P^-1 of a symmetric positive definite P, through its Cholesky factor."""
    L, _ = cholesky_with_jitter(P, max_tries=2, caller="BayesianGPLVM (q(u) precision)")
    L_inv = linalg.solve_triangular(L, np.eye(P.shape[0]), lower=True)
    return matmul(L_inv.T, L_inv)
