"""The pieces under the GP latent variable models: kernels' input gradients, the psi statistics
against Monte Carlo, the Bayesian GP-LVM bound's gradient and its exact-GP limit, and the
mini-batch bound against the collapsed one.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchgen.autograd.engine import grad
from scratchgen.autograd.tensor import Tensor
from scratchgen.gp import GaussianProcessRegressor, kernels
from scratchgen.gp.bgplvm_bound import CollapsedLVMBound, PsiKernel
from scratchgen.gp.bgplvm_svi import RowAdam, StochasticLVMBound
from scratchgen.gp.gplvm import log_likelihood
from scratchgen.gp.psi_statistics import psi_statistics

INPUT_KERNELS = {
    "rbf_ard": lambda: kernels.RBF([0.5, 1.0, 2.0]),
    "matern12": lambda: kernels.Matern(0.7, nu=0.5),
    "matern32": lambda: kernels.Matern(0.7, nu=1.5),
    "matern52_ard": lambda: kernels.Matern([1.0, 2.0, 0.5], nu=2.5),
    "rq": lambda: kernels.RationalQuadratic(0.8, alpha=2.0),
    "periodic": lambda: kernels.ExpSineSquared(1.1, 2.3),
    "dot": lambda: kernels.DotProduct(0.5),
    "poly3": lambda: kernels.Polynomial(3, 0.7),
    "const*rbf+white": lambda: 2.0 * kernels.RBF(1.3) + kernels.WhiteKernel(0.1),
    "rbf*dot": lambda: kernels.RBF(1.0) * kernels.DotProduct(1.0),
    "constant": lambda: kernels.ConstantKernel(2.0),
}


def numeric_gradient(f, x, eps=1e-6):
    """Central differences of the scalar f at every entry of the array x."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        g[idx] = (f(up) - f(down)) / (2 * eps)
    return g


@pytest.mark.parametrize("name", sorted(INPUT_KERNELS))
@given(seed=st.integers(0, 2**31 - 1))
def test_input_gradient_matches_finite_differences(name, seed):
    kernel = INPUT_KERNELS[name]()
    rng = np.random.default_rng(seed)
    X, W = rng.normal(size=(6, 3)), rng.normal(size=(6, 6))
    numeric = numeric_gradient(lambda Xp: np.sum(W * kernel(Xp)), X)
    np.testing.assert_allclose(kernel.input_vjp(X, W), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["rbf_ard", "matern52_ard", "rq", "dot", "rbf*dot"])
def test_input_gradient_matches_autograd(name):
    kernel = INPUT_KERNELS[name]()
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(5, 3)), rng.normal(size=(5, 5))
    Xt = Tensor(X, requires_grad=True)
    (g,) = grad((kernel.tensor(Xt) * Tensor(W)).sum(), Xt)
    np.testing.assert_allclose(kernel.input_vjp(X, W), g.data, rtol=1e-10, atol=1e-12)


def test_input_vjp_rejects_a_weight_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"RBF.input_vjp: W must have the shape .*\(4, 4\)"):
        kernels.RBF(1.0).input_vjp(np.zeros((4, 2)), np.zeros((3, 3)))


# ---------------------------------------------------------------- psi statistics
PSI_CASES = {
    "rbf": (1.7, np.array([0.8, 1.3, 2.0]), lambda: 1.7 * kernels.RBF([0.8, 1.3, 2.0])),
    "linear": (1.3, 0.6, lambda: 1.3 * kernels.DotProduct(0.6)),
}


def small_q(seed, n=5, m=4, Q=3):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(m, Q)), rng.normal(size=(n, Q)), rng.uniform(0.1, 0.8, (n, Q)))


@pytest.mark.parametrize("family", sorted(PSI_CASES))
def test_psi_statistics_match_monte_carlo(family):
    variance, param, make_kernel = PSI_CASES[family]
    kernel = make_kernel()
    Z, mu, S = small_q(1)
    psi0, psi1, psi2, _ = psi_statistics(family, variance, param, Z, mu, S)
    rng = np.random.default_rng(2)
    draws = 40000
    mc0, mc1, mc2 = 0.0, [], np.zeros_like(psi2)
    for n in range(mu.shape[0]):
        Xn = mu[n] + np.sqrt(S[n]) * rng.standard_normal((draws, mu.shape[1]))
        Kn = kernel(Xn, Z)
        mc0 += kernel.diag(Xn).mean()
        mc1.append(Kn.mean(axis=0))
        mc2 += Kn.T @ Kn / draws
    # Monte Carlo error ~ 1/sqrt(40000) = 0.5% of the spread: 3% is a loose, honest margin
    scale = np.abs(psi2).max()
    assert abs(psi0 - mc0) < 0.03 * abs(psi0)
    np.testing.assert_allclose(psi1, np.array(mc1), atol=0.03 * np.abs(psi1).max())
    np.testing.assert_allclose(psi2, mc2, atol=0.03 * scale)


@pytest.mark.parametrize("family", sorted(PSI_CASES))
def test_psi_statistics_gradient_matches_finite_differences(family):
    variance, param, _ = PSI_CASES[family]
    Z, mu, S = small_q(3)
    rng = np.random.default_rng(4)
    g0, G1 = rng.normal(), rng.normal(size=(mu.shape[0], Z.shape[0]))
    G2 = rng.normal(size=(Z.shape[0],) * 2)
    G2 = G2 + G2.T

    def F(variance=variance, param=param, Z=Z, mu=mu, S=S):
        psi0, psi1, psi2, _ = psi_statistics(family, variance, param, Z, mu, S)
        return g0 * psi0 + np.sum(G1 * psi1) + np.sum(G2 * psi2)

    g = psi_statistics(family, variance, param, Z, mu, S)[3](g0, G1, G2)
    eps = 1e-6
    assert g.log_variance == pytest.approx(
        (F(variance=variance * np.exp(eps)) - F(variance=variance * np.exp(-eps))) / (2 * eps),
        rel=1e-6)
    log_param = np.log(np.atleast_1d(param))
    numeric = numeric_gradient(
        lambda lp: F(param=np.exp(lp) if family == "rbf" else float(np.exp(lp[0]))), log_param)
    np.testing.assert_allclose(g.log_param, numeric, rtol=1e-6)
    for name, value, analytic in (("Z", Z, g.Z), ("mu", mu, g.mu), ("S", S, g.S)):
        numeric = numeric_gradient(lambda v, name=name: F(**{name: v}), value)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- the collapsed bound
BOUND_KERNELS = {
    "const*rbf_ard": lambda: 1.5 * kernels.RBF([0.9, 1.4]),
    "rbf": lambda: kernels.RBF(1.1),
    "const*linear": lambda: kernels.ConstantKernel(1.2) * kernels.DotProduct(0.7),
}


@pytest.mark.parametrize("name", sorted(BOUND_KERNELS))
def test_bound_gradient_matches_finite_differences(name):
    kernel = BOUND_KERNELS[name]()
    rng = np.random.default_rng(0)
    n, D, Q, m = 9, 4, 2, 5
    bound = CollapsedLVMBound(rng.normal(size=(n, D)), PsiKernel(kernel, Q, "test"))
    theta, noise = kernel.theta.copy(), 0.3
    Z, mu, S = rng.normal(size=(m, Q)), rng.normal(size=(n, Q)), rng.uniform(0.1, 0.9, (n, Q))

    def F(theta=theta, noise=noise, Z=Z, mu=mu, S=S):
        return bound.evaluate(theta, noise, Z, mu, S)

    _, (g_theta, g_log_noise, g_Z, g_mu, g_S) = bound.evaluate(theta, noise, Z, mu, S,
                                                               eval_gradient=True)
    np.testing.assert_allclose(g_theta, numeric_gradient(lambda t: F(theta=t), theta),
                               rtol=1e-6, atol=1e-6)
    assert g_log_noise == pytest.approx(
        numeric_gradient(lambda ln: F(noise=float(np.exp(ln[0]))), np.log([noise]))[0],
        rel=1e-6)
    for key, value, analytic in (("Z", Z, g_Z), ("mu", mu, g_mu), ("S", S, g_S)):
        numeric = numeric_gradient(lambda v, key=key: F(**{key: v}), value)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=key)


def test_bound_data_term_approaches_the_exact_gp_from_below():
    """q(X) shrinking to points at the inducing inputs: the bound plus the KL (its data term)
    tends to the exact log marginal likelihood at X = the means, and never exceeds it."""
    rng = np.random.default_rng(5)
    n, D, Q = 12, 3, 2
    mu, Y = rng.normal(size=(n, Q)), rng.normal(size=(n, D))
    kernel = 1.3 * kernels.RBF([0.8, 1.5])
    noise = 0.2
    exact = GaussianProcessRegressor(kernel, alpha=noise, optimizer=None).fit(
        mu, Y).log_marginal_likelihood_value_
    bound = CollapsedLVMBound(Y, PsiKernel(kernel, Q, "test"))
    gaps = []
    for s in (1e-1, 1e-3, 1e-5, 1e-7):
        S = np.full((n, Q), s)
        kl = 0.5 * np.sum(mu**2 + S - np.log(S) - 1.0)
        data_term = bound.evaluate(kernel.theta, noise, mu, mu, S) + kl
        assert data_term <= exact + 1e-6
        gaps.append(exact - data_term)
    assert np.all(np.diff(gaps) < 0) and gaps[-1] < 1e-3 * abs(exact)


def test_gplvm_objective_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    n, D, Q = 8, 4, 2
    X, Y = rng.normal(size=(n, Q)), rng.normal(size=(n, D))
    kernel = 1.2 * kernels.RBF([0.7, 1.6])
    theta, noise = kernel.theta.copy(), 0.25

    def value(X=X, theta=theta, noise=noise):
        kernel.theta = theta
        return log_likelihood(kernel, X, Y, noise, prior=True)[0]

    _, (g_X, g_theta, g_log_noise) = log_likelihood(kernel, X, Y, noise, prior=True)
    np.testing.assert_allclose(g_X, numeric_gradient(lambda v: value(X=v), X), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(g_theta, numeric_gradient(lambda t: value(theta=t), theta),
                               rtol=1e-5)
    assert g_log_noise == pytest.approx(
        numeric_gradient(lambda ln: value(noise=float(np.exp(ln[0]))), np.log([noise]))[0],
        rel=1e-5)


# ---------------------------------------------------------------- the mini-batch bound
def svi_case(seed=0, n=9, D=4, Q=2, m=5):
    rng = np.random.default_rng(seed)
    kernel = 1.5 * kernels.RBF([0.9, 1.4])
    R = rng.normal(size=(m, m))
    return (kernel, rng.normal(size=(n, D)), rng.normal(size=(m, Q)), rng.normal(size=(n, Q)),
            rng.uniform(0.1, 0.9, (n, Q)), rng.normal(size=(m, D)), R @ R.T + np.eye(m))


def test_minibatch_bound_gradient_matches_finite_differences():
    kernel, Y, Z, mu, S, M, S_u = svi_case()
    bound = StochasticLVMBound(PsiKernel(kernel, 2, "test"), n_rows=30)   # c = 30 / 9
    theta, noise = kernel.theta.copy(), 0.3

    def F(theta=theta, noise=noise, Z=Z, mu=mu, S=S):
        return bound.evaluate(theta, noise, Z, M, S_u, mu, S, Y)[0]

    _, (g_theta, g_log_noise, g_Z, g_mu, g_S), _ = bound.evaluate(theta, noise, Z, M, S_u,
                                                                  mu, S, Y)
    np.testing.assert_allclose(g_theta, numeric_gradient(lambda t: F(theta=t), theta),
                               rtol=1e-6)
    assert g_log_noise == pytest.approx(
        numeric_gradient(lambda ln: F(noise=float(np.exp(ln[0]))), np.log([noise]))[0],
        rel=1e-6)
    for key, value, analytic in (("Z", Z, g_Z), ("mu", mu, g_mu), ("S", S, g_S)):
        numeric = numeric_gradient(lambda v, key=key: F(**{key: v}), value)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6, err_msg=key)


def test_minibatch_bound_at_the_optimal_q_u_is_the_collapsed_bound():
    """One batch of all rows, q(u) at the natural-gradient target: the same value and the
    same gradients as the collapsed bound (q(u) optimal, so it moves nothing else)."""
    kernel, Y, Z, mu, S, M, S_u = svi_case(seed=1)
    psi_kernel = PsiKernel(kernel, 2, "test")
    theta, noise = kernel.theta.copy(), 0.3
    stochastic = StochasticLVMBound(psi_kernel, n_rows=Y.shape[0])
    precision, shift = stochastic.evaluate(theta, noise, Z, M, S_u, mu, S, Y)[2]
    S_opt = np.linalg.inv(precision)
    F, grads, _ = stochastic.evaluate(theta, noise, Z, S_opt @ shift, S_opt, mu, S, Y)
    F_c, grads_c = CollapsedLVMBound(Y, psi_kernel).evaluate(theta, noise, Z, mu, S,
                                                             eval_gradient=True)
    assert F == pytest.approx(F_c, rel=1e-10)
    for mine, theirs in zip(grads, grads_c):
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10)
    # any other q(u) gives less
    assert stochastic.evaluate(theta, noise, Z, M, S_u, mu, S, Y)[0] < F


def test_row_adam_moves_only_the_rows_of_the_batch():
    adam = RowAdam(lr=0.1)
    value = np.zeros((4, 2))
    adam.step("x", value, np.ones((2, 2)), rows=np.array([1, 3]))
    np.testing.assert_allclose(value[[1, 3]], 0.1)            # Adam's first step is lr * sign
    np.testing.assert_array_equal(value[[0, 2]], 0.0)
    adam.step("x", value, np.ones((1, 2)), rows=np.array([0]))
    np.testing.assert_allclose(value[0], 0.1)                 # its own first step
