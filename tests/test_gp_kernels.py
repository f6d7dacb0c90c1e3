"""Kernels of scratchgen.gp: values, diagonals and hyperparameter gradients against finite
differences, scratchgen's autograd (through ``tensor``) and scikit-learn; composition, repr,
parse, configs and input validation."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen.gp import kernels
from scratchgen.testing import gradcheck

# name -> (scratchgen kernel, scikit-learn kernel or None), built from hyperparameters u in
# (0.3, 3) and the input dimension d. ARD length scales use the first d entries of u.
CASES = {
    "rbf": lambda u, d: (kernels.RBF(u[0]), "RBF(u[0])"),
    "rbf_ard": lambda u, d: (kernels.RBF(u[:d]), "RBF(u[:d])"),
    "matern12": lambda u, d: (kernels.Matern(u[:d], nu=0.5), "Matern(u[:d], nu=0.5)"),
    "matern32": lambda u, d: (kernels.Matern(u[0], nu=1.5), "Matern(u[0], nu=1.5)"),
    "matern52_ard": lambda u, d: (kernels.Matern(u[:d], nu=2.5), "Matern(u[:d], nu=2.5)"),
    "rq": lambda u, d: (kernels.RationalQuadratic(u[0], u[1]), "RationalQuadratic(u[0], u[1])"),
    "rq_ard": lambda u, d: (kernels.RationalQuadratic(u[:d], u[4]), None),
    "periodic": lambda u, d: (kernels.ExpSineSquared(u[0], u[1]), "ExpSineSquared(u[0], u[1])"),
    "dot": lambda u, d: (kernels.DotProduct(u[0]), "DotProduct(u[0])"),
    "poly3": lambda u, d: (kernels.Polynomial(3, u[0]), "DotProduct(u[0]) ** 3"),
    "constant": lambda u, d: (kernels.Constant(u[0]), "ConstantKernel(u[0])"),
    "white": lambda u, d: (kernels.White(u[0]), "WhiteKernel(u[0])"),
    "scaled_rbf_white": lambda u, d: (kernels.Constant(u[0]) * kernels.RBF(u[:d])
                                      + kernels.White(u[1]),
                                      "ConstantKernel(u[0]) * RBF(u[:d]) + WhiteKernel(u[1])"),
    "sum_of_products": lambda u, d: (kernels.RBF(u[1]) * kernels.ExpSineSquared(u[2], u[3])
                                     + kernels.Matern(u[0], nu=1.5) * kernels.DotProduct(u[4]),
                                     "RBF(u[1]) * ExpSineSquared(u[2], u[3]) "
                                     "+ Matern(u[0], nu=1.5) * DotProduct(u[4])"),
    "white_first": lambda u, d: (kernels.White(u[0]) + 2.0 * kernels.RationalQuadratic(u[1]),
                                 "WhiteKernel(u[0]) + 2.0 * RationalQuadratic(u[1])"),
    "fixed_parts": lambda u, d: (kernels.Constant(u[0], "fixed") * kernels.RBF(u[:d])
                                 + kernels.White(u[1], "fixed"),
                                 "ConstantKernel(u[0], 'fixed') * RBF(u[:d]) "
                                 "+ WhiteKernel(u[1], 'fixed')"),
}

shapes = st.tuples(st.integers(1, 7), st.integers(1, 4))
hyper = st.lists(st.floats(0.3, 3.0), min_size=5, max_size=5).map(np.array)


def make(name, u, d):
    k, sk_source = CASES[name](u, d)
    return k, sk_source


def sklearn_kernel(source, u, d):
    sk = pytest.importorskip("sklearn.gaussian_process.kernels")
    namespace = {name: getattr(sk, name) for name in dir(sk) if not name.startswith("_")}
    return eval(source, namespace, {"u": u, "d": d})


def inputs(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-2, 2, shape)


def finite_difference_dK(k, X, eps=1e-6):
    theta = k.theta
    columns = []
    for p in range(len(theta)):
        step = np.zeros_like(theta)
        step[p] = eps
        columns.append((k.clone_with_theta(theta + step)(X) - k.clone_with_theta(theta - step)(X))
                       / (2 * eps))
    return np.stack(columns, axis=2) if columns else np.zeros(X.shape[:1] * 2 + (0,))


@pytest.mark.parametrize("name", CASES)
@given(shape=shapes, u=hyper, seed=st.integers(0, 2**16))
def test_matches_scikit_learn(name, shape, u, seed):
    k, source = make(name, u, shape[1])
    if source is None:
        return
    sk = sklearn_kernel(source, u, shape[1])
    X, Y = inputs(shape, seed), inputs((3, shape[1]), seed + 1)
    K, dK = k(X, eval_gradient=True)
    K_sk, dK_sk = sk(X, eval_gradient=True)
    np.testing.assert_allclose(K, K_sk, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dK, dK_sk, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k(X, Y), sk(X, Y), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k.diag(X), sk.diag(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k.theta, sk.theta, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(k.bounds, sk.bounds, rtol=1e-12)
    assert k.is_stationary() == sk.is_stationary()
    # (scikit-learn writes the polynomial as Exponentiation(DotProduct), prefixing "kernel__")
    assert k.hyperparameters == [h.name.replace("kernel__", "") for h in sk.hyperparameters]


@pytest.mark.parametrize("name", CASES)
@given(shape=shapes, u=hyper, seed=st.integers(0, 2**16))
def test_gradient_matches_finite_differences(name, shape, u, seed):
    k, _ = make(name, u, shape[1])
    X = inputs(shape, seed)
    K, dK = k(X, eval_gradient=True)
    assert dK.shape == K.shape + (k.n_dims,)
    np.testing.assert_allclose(dK, finite_difference_dK(k, X), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(k.diag(X), np.diag(K), rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
@given(shape=shapes, u=hyper, seed=st.integers(0, 2**16))
def test_vjp_and_autograd_agree_with_dK(name, shape, u, seed):
    k, _ = make(name, u, shape[1])
    X = inputs(shape, seed)
    K, dK = k(X, eval_gradient=True)
    W = np.random.default_rng(seed).standard_normal(K.shape)       # need not be symmetric
    expected = np.einsum("ij,ijp->p", W, dK)
    K_vjp, vjp = k.value_and_vjp(X)
    np.testing.assert_allclose(K_vjp, K, rtol=1e-13)
    np.testing.assert_allclose(vjp(W), expected, rtol=1e-9, atol=1e-9)

    theta = sg.tensor(k.theta, requires_grad=True)
    K_tensor = k.tensor(X, theta=theta)
    np.testing.assert_allclose(K_tensor.data, K, rtol=1e-12, atol=1e-14)
    if k.n_dims:
        (grad_theta,) = sg.grad((K_tensor * sg.tensor(W)).sum(), theta)
        np.testing.assert_allclose(grad_theta.data, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_tensor_cross_covariance_and_diag(name):
    u, d = np.array([0.7, 1.3, 0.9, 2.1, 0.5]), 3
    k, _ = make(name, u, d)
    X, Y = inputs((5, d), 0), inputs((4, d), 1)
    np.testing.assert_allclose(k.tensor(X, Y).data, k(X, Y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(k.tensor_diag(X).data, k.diag(X), rtol=1e-12)


@pytest.mark.parametrize("name", ["rbf_ard", "matern12", "matern32", "matern52_ard", "rq",
                                  "periodic", "dot", "poly3", "sum_of_products"])
def test_tensor_input_gradients_match_finite_differences(name):
    u, d = np.array([0.8, 1.3, 0.9, 2.1, 0.6]), 2
    k, _ = make(name, u, d)
    Y = sg.tensor(inputs((4, d), 1))
    X = sg.tensor(inputs((3, d), 0), requires_grad=True)
    assert gradcheck(lambda x: k.tensor(x, Y), [X], atol=1e-6, rtol=1e-5)
    assert gradcheck(lambda x: k.tensor_diag(x), [X], atol=1e-6, rtol=1e-5)


def test_matern_and_periodic_gradients_at_coinciding_points_are_finite():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [0.5, -1.0]])
    for k in (kernels.Matern([0.5, 2.0], nu=0.5), kernels.ExpSineSquared(0.7, 1.1)):
        x = sg.tensor(X, requires_grad=True)
        (g,) = sg.grad(k.tensor(x).sum(), x)
        assert np.all(np.isfinite(g.data))
        theta = sg.tensor(k.theta, requires_grad=True)
        (g_theta,) = sg.grad(k.tensor(X, theta=theta).sum(), theta)
        np.testing.assert_allclose(g_theta.data, k(X, eval_gradient=True)[1].sum(axis=(0, 1)))


def test_pairwise_contraction_is_exact_for_large_offsets():
    # The ARD vjp sums W_ij h_ij (z_ik - z_jk)^2 (the NumPy twin one input dimension at a
    # time); inputs far from the origin must not lose accuracy.
    rng = np.random.default_rng(0)
    X = 1e3 + rng.uniform(0, 1, (30, 3))
    k = kernels.RBF([0.3, 0.5, 0.8])
    K, dK = k(X, eval_gradient=True)
    W = rng.standard_normal(K.shape)
    np.testing.assert_allclose(k.value_and_vjp(X)[1](W), np.einsum("ij,ijp->p", W, dK),
                               rtol=1e-8)


# ----------------------------------------------------------------------------- composition
def test_constant_factor_and_white_noise_shortcuts_follow_the_general_rules():
    # Product and Sum evaluate c * k and k + White without n x n matrices of c's or an
    # identity; the values must be those of the elementwise rules.
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((7, 2)), rng.standard_normal((5, 2))
    rbf, white = kernels.RBF([0.6, 1.7]), kernels.White(0.3)
    for k in (kernels.Constant(2.5) * rbf, rbf * kernels.Constant(2.5)):
        np.testing.assert_allclose(k(X), 2.5 * rbf(X), rtol=1e-15)
        np.testing.assert_allclose(k(X, Y), 2.5 * rbf(X, Y), rtol=1e-15)
        np.testing.assert_allclose((k + white)(X), 2.5 * rbf(X) + 0.3 * np.eye(7), rtol=1e-15)
        np.testing.assert_allclose((k + white)(X, Y), 2.5 * rbf(X, Y), rtol=1e-15)
    np.testing.assert_allclose((white + white)(X), 0.6 * np.eye(7), rtol=1e-15)


def test_numbers_combine_like_constant_kernels():
    rbf = kernels.RBF(0.5)
    assert repr(2.0 * rbf) == repr(kernels.Constant(2.0) * rbf) == "1.41**2 * RBF(length_scale=0.5)"
    assert repr(rbf * 2.0) == "RBF(length_scale=0.5) * 1.41**2"
    assert repr(rbf + 1) == "RBF(length_scale=0.5) + 1**2"
    assert repr(3 + rbf) == "1.73**2 + RBF(length_scale=0.5)"
    assert isinstance(rbf + rbf, kernels.Sum) and isinstance(rbf * rbf, kernels.Product)
    with pytest.raises(TypeError):
        rbf + "white"


def test_theta_order_names_bounds_and_clone():
    k = kernels.Constant(2.0) * kernels.RBF([0.5, 2.0]) + kernels.White(0.1, "fixed")
    assert k.hyperparameters == ["k1__k1__constant_value", "k1__k2__length_scale",
                                 "k2__noise_level"]
    np.testing.assert_allclose(k.theta, np.log([2.0, 0.5, 2.0]))
    np.testing.assert_allclose(k.bounds, np.log([[1e-5, 1e5]] * 3))
    clone = k.clone_with_theta(np.log([3.0, 1.0, 4.0]))
    np.testing.assert_allclose(k.theta, np.log([2.0, 0.5, 2.0]))      # original unchanged
    assert repr(clone) == "1.73**2 * RBF(length_scale=[1, 4]) + WhiteKernel(noise_level=0.1)"
    k.theta = np.log([5.0, 1.5, 2.5])
    np.testing.assert_allclose(k.k1.k2.length_scale, [1.5, 2.5])
    assert k.get_params()["k1__k2__length_scale"].tolist() == [1.5, 2.5]
    with pytest.raises(ValueError, match="theta must be a finite 1-D array of 3"):
        k.theta = np.zeros(2)


def test_repr_matches_scikit_learn():
    sk = pytest.importorskip("sklearn.gaussian_process.kernels")
    pairs = [
        (kernels.Constant(1.44) * kernels.RBF(0.5) + kernels.White(0.01),
         sk.ConstantKernel(1.44) * sk.RBF(0.5) + sk.WhiteKernel(0.01)),
        (kernels.Matern([1.0, 2.5], nu=2.5), sk.Matern([1.0, 2.5], nu=2.5)),
        (kernels.RationalQuadratic(0.3, 2.0), sk.RationalQuadratic(0.3, 2.0)),
        (kernels.Periodic(1.0, 3.0), sk.ExpSineSquared(1.0, 3.0)),
        (kernels.Linear(0.2), sk.DotProduct(0.2)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    # Parentheses where scikit-learn's repr would be ambiguous.
    assert repr((kernels.RBF() + kernels.White()) * kernels.Constant(4.0)) == \
        "(RBF(length_scale=1) + WhiteKernel(noise_level=1)) * 2**2"


def test_aliases():
    assert kernels.Periodic is kernels.ExpSineSquared and kernels.Linear is kernels.DotProduct
    assert kernels.Constant is kernels.ConstantKernel and kernels.White is kernels.WhiteKernel


# ----------------------------------------------------------------------------- parse, config
@pytest.mark.parametrize("spec, expected", [
    ("rbf + white", "RBF(length_scale=1) + WhiteKernel(noise_level=1)"),
    ("constant * matern52 + white",
     "1**2 * Matern(length_scale=1, nu=2.5) + WhiteKernel(noise_level=1)"),
    ("rbf * periodic", "RBF(length_scale=1) * ExpSineSquared(length_scale=1, periodicity=1)"),
    ("RBF*(matern12+Matern32)", "RBF(length_scale=1) * (Matern(length_scale=1, nu=0.5) + "
                                "Matern(length_scale=1, nu=1.5))"),
    ("2.25 * rq + linear * polynomial", "1.5**2 * RationalQuadratic(alpha=1, length_scale=1) + "
                                        "DotProduct(sigma_0=1) * Polynomial(degree=2, sigma_0=1)"),
    ("((white))", "WhiteKernel(noise_level=1)"),
])
def test_parse(spec, expected):
    assert repr(kernels.parse(spec)) == expected


@pytest.mark.parametrize("spec, message", [
    ("rbf + gauss", "unknown kernel 'gauss' at position 6"),
    ("rbf +", "found the end"),
    ("(rbf + white", "missing '\\)'"),
    ("rbf white", "unexpected 'white' at position 4"),
    ("rbf - white", "unexpected character '-' at position 4"),
    ("", "empty kernel formula"),
])
def test_parse_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        kernels.parse(spec)


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip_through_json(name):
    k, _ = make(name, np.array([0.7, 1.3, 0.9, 2.1, 0.5]), 3)
    config = json.loads(json.dumps(k.to_config()))
    back = kernels.from_config(config)
    assert type(back) is type(k) and repr(back) == repr(k)
    np.testing.assert_array_equal(back.theta, k.theta)
    np.testing.assert_array_equal(back.bounds, k.bounds)
    X = inputs((4, 3), 0)
    np.testing.assert_array_equal(back(X), k(X))


def test_from_config_errors():
    with pytest.raises(ValueError, match="unknown kernel class 'Gauss'"):
        kernels.from_config({"class": "Gauss", "params": {}})
    with pytest.raises(ValueError, match="needs 'k1' and 'k2'"):
        kernels.from_config({"class": "Sum", "k1": kernels.RBF().to_config()})
    with pytest.raises(ValueError, match="bad parameters for RBF"):
        kernels.from_config({"class": "RBF", "params": {"scale": 1.0}})


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("X, message", [
    (np.ones(4), "RBF: X must be a 2-D array of shape \\(n_samples, n_features\\), got shape"),
    (np.array([[0.0, np.nan]]), "RBF: X must be finite, but X\\[0, 1\\] = nan"),
    (np.array([[np.inf]]), "X must be finite"),
    (np.zeros((0, 2)), "at least one sample"),
    ([["a", "b"]], "numeric array"),
])
def test_bad_inputs(X, message):
    with pytest.raises(ValueError, match=message):
        kernels.RBF()(X)


def test_ard_length_scales_must_match_features():
    k = kernels.Constant() * kernels.Matern([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Matern: length_scale has 3 entries .* X has 2"):
        k(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="length_scale has 3 entries"):
        k.tensor(np.zeros((4, 2)))


def test_other_call_errors():
    k = kernels.RBF()
    with pytest.raises(ValueError, match="eval_gradient=True needs Y=None"):
        k(np.zeros((2, 1)), np.zeros((2, 1)), eval_gradient=True)
    with pytest.raises(ValueError, match="X has 1 features but Y has 2"):
        k(np.zeros((2, 1)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="theta must have shape \\(1,\\)"):
        k.tensor(np.zeros((2, 1)), theta=sg.tensor(np.zeros(2)))


@pytest.mark.parametrize("make_kernel, message", [
    (lambda: kernels.Matern(nu=1.0), "Matern: nu must be 0.5, 1.5 or 2.5"),
    (lambda: kernels.RBF(-1.0), "RBF: length_scale must be positive"),
    (lambda: kernels.RBF(1.0, (2.0, 1.0)), "length_scale_bounds must be a \\(low, high\\)"),
    (lambda: kernels.RBF(1.0, "free"), "must be 'fixed' or a \\(low, high\\) pair"),
    (lambda: kernels.Polynomial(degree=1.5), "Polynomial: degree must be an integer >= 1"),
    (lambda: kernels.White([0.1, 0.2]), "WhiteKernel: noise_level must be a scalar"),
    (lambda: kernels.ExpSineSquared([1.0, 2.0]), "ExpSineSquared: length_scale must be a scalar"),
    (lambda: kernels.Constant(np.nan), "must be positive and finite"),
])
def test_bad_hyperparameters(make_kernel, message):
    with pytest.raises(ValueError, match=message):
        make_kernel()


def test_fixed_hyperparameters_have_no_theta():
    k = kernels.RBF([1.0, 2.0], "fixed")
    assert k.n_dims == 0 and k.theta.shape == (0,) and k.bounds.shape == (0, 2)
    K, dK = k(np.zeros((3, 2)), eval_gradient=True)
    assert dK.shape == (3, 3, 0)
    assert k.hyperparameters == ["length_scale"]
