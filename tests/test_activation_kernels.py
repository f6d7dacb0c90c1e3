"""The activation and loss kernels (_kernels/_activation.pyx) against their NumPy twins
(scratchgen/backend/numpy_activation.py).

LeakyReLU: both compute x or slope * x (and g or slope * g) with one rounding, so they must
agree exactly, NaN, infinities and signed zeros included. Binary cross entropy on logits:
float64 runs libm's exp and log1p as the twin does; float32 runs sg_math.h's polynomials, in
the loops of every ISA this machine runs; both are held to their dtype's rounding error in
every term (the cancellation in max(x, 0) - x y and in sigmoid(x) - y is the twin's too),
and to the twin's NaN and infinities. Sizes on both sides of the length from which the
kernels split the work over threads; both dtypes; non-contiguous inputs, which the kernels
copy first; mixed dtypes, which go to the twin.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen import backend
from tests._kernel_helpers import DTYPES, conv_isas, cython, examples, needs_kernels, numpy

SHAPES = st.sampled_from([(1,), (7,), (3, 5), (2, 3, 4, 5), (65536 + 3,), (64, 64, 4, 4)])
SLOPES = st.sampled_from([0.2, 0.01, 0.0, -0.5, 1.5])
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0]


def draw_array(shape, dtype, seed, special=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if special:
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, min(flat.size, 5))] = SPECIAL[:min(flat.size, 5)]
    return x


def forbid_twin(monkeypatch, *names):
    """Make the NumPy twins `names` fail if called: the cython backend must not fall back."""
    from scratchgen.backend import numpy_activation

    def twin_called(*args):
        raise AssertionError("the cython backend fell back to the NumPy twin")

    for name in names:
        monkeypatch.setattr(numpy_activation, name, twin_called)


# (the twin warns where it multiplies an infinity by a slope of 0; the kernel does not)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), SLOPES, st.integers(0, 2**32 - 1))
def test_leaky_relu_matches_numpy_exactly(shape, dtype, slope, seed):
    x = draw_array(shape, dtype, seed)
    y = cython().leaky_relu(x, slope)
    assert y.dtype == x.dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, numpy().leaky_relu(x, slope))
    np.testing.assert_array_equal(np.signbit(y), np.signbit(numpy().leaky_relu(x, slope)))


# (the twin warns where it multiplies an infinity by a slope of 0; the kernel does not)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), SLOPES, st.integers(0, 2**32 - 1))
def test_leaky_relu_backward_matches_numpy_exactly(shape, dtype, slope, seed):
    x, g = draw_array(shape, dtype, seed), draw_array(shape, dtype, seed + 1)
    got = cython().leaky_relu_backward(g, x, slope)
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, numpy().leaky_relu_backward(g, x, slope))


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_are_copied_for_the_kernel(dtype):
    x, g = draw_array((6, 5), dtype, 0).T, draw_array((5, 6), dtype, 1)
    np.testing.assert_array_equal(cython().leaky_relu(x, 0.2), numpy().leaky_relu(x, 0.2))
    np.testing.assert_array_equal(cython().leaky_relu_backward(g, x, 0.2),
                                  numpy().leaky_relu_backward(g, x, 0.2))


@needs_kernels
def test_mixed_dtypes_go_to_the_twin():
    x, g = draw_array((4, 3), np.float32, 0), draw_array((4, 3), np.float64, 1)
    got = cython().leaky_relu_backward(g, x, 0.2)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, numpy().leaky_relu_backward(g, x, 0.2))


@needs_kernels
def test_the_layer_takes_the_kernels(monkeypatch):
    forbid_twin(monkeypatch, "leaky_relu", "leaky_relu_backward")
    with backend.use("cython"):
        x = sg.randn(3, 4, rng=0, requires_grad=True)
        x.leaky_relu(0.2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.where(x.data > 0, 1.0, 0.2).astype(x.dtype))


@pytest.mark.parametrize("name", backend.available())
def test_double_backward_of_leaky_relu_is_zero_in_x_and_linear_in_g(name):
    rng = np.random.default_rng(0)
    with backend.use(name):
        x = sg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
        g = sg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
        (grad_x,) = sg.grad(x.leaky_relu(0.3), x, grad_outputs=g, create_graph=True)
        grad_g, grad_xx = sg.grad((grad_x * grad_x).sum(), [g, x], allow_unused=True)
    factor = np.where(x.data > 0, 1.0, 0.3)
    np.testing.assert_allclose(grad_g.data, 2 * g.data * factor ** 2, rtol=1e-12)
    assert grad_xx is None or not np.any(grad_xx.data)


def bce_reference(x, y):
    """The loss in float64 from the same inputs, and a bound on the rounding error of the
    dtype's arithmetic (a few ulps of every term of max(x, 0) - x y + log1p(e^-|x|))."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    loss = np.maximum(x64, 0) - x64 * y64 + np.log1p(np.exp(-np.abs(x64)))
    terms = np.maximum(x64, 0) + np.abs(x64 * y64) + np.log1p(np.exp(-np.abs(x64)))
    return loss, 4 * np.finfo(x.dtype).eps * terms


def on_isa(isa, fn, *args):
    """fn(*args) with the kernels' loops of ISA `isa` (the float32 loss has one pair per ISA,
    sg_math.h)."""
    from scratchgen.backend import cython_conv

    with cython_conv.use_isa(isa):
        return fn(*args)


@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), st.sampled_from([0.1, 3.0, 40.0]),
       st.sampled_from(conv_isas() or ["generic"]), st.integers(0, 2**32 - 1))
def test_bce_with_logits_matches_numpy(shape, dtype, scale, isa, seed):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    loss = on_isa(isa, cython().bce_with_logits, x, y)
    grad = on_isa(isa, cython().bce_with_logits_backward, g, x, y)
    assert loss.dtype == grad.dtype == x.dtype and loss.shape == grad.shape == x.shape
    if dtype == np.float64:     # libm's exp and log1p, as the twin: the same to rounding
        np.testing.assert_allclose(loss, numpy().bce_with_logits(x, y), rtol=1e-14, atol=0)
    exact, bound = bce_reference(x, y)
    assert np.all(np.abs(loss - exact) <= bound), np.max(np.abs(loss - exact) / bound)
    sigmoid = 1 / (1 + np.exp(-x.astype(np.float64)))
    exact_grad = g * (sigmoid - y)
    grad_bound = 4 * np.finfo(dtype).eps * np.abs(g) * (sigmoid + np.abs(y))
    assert np.all(np.abs(grad - exact_grad) <= grad_bound)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@needs_kernels
@pytest.mark.parametrize("isa", conv_isas() or ["generic"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_special_values_match_numpy(dtype, isa):
    """NaN stays NaN, infinite logits give what the twin gives, tiny and huge logits stay
    exact (log1p(e^-|x|) keeps the digits of a tiny e^-|x|, no exp overflows)."""
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 30.0, -30.0, 80.0,
                  -80.0, 1e4, -1e4, 0.5], dtype)
    y = np.array([0.5, 0.0, 0.0, 1.0, 0.0, 0.3, 0.3, 0.0, 0.0, 1.0, 1.0, 0.2, 0.2, 0.0], dtype)
    g = np.ones_like(x)
    for got, want in ((on_isa(isa, cython().bce_with_logits, x, y),
                       numpy().bce_with_logits(x, y)),
                      (on_isa(isa, cython().bce_with_logits_backward, g, x, y),
                       numpy().bce_with_logits_backward(g, x, y))):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps, atol=0)


@needs_kernels
def test_bce_loss_takes_the_kernels_and_keeps_its_double_backward(monkeypatch):
    import scratchgen.nn.functional as F

    forbid_twin(monkeypatch, "bce_with_logits", "bce_with_logits_backward")
    rng = np.random.default_rng(3)
    y = sg.tensor(rng.uniform(0, 1, (6, 5)))
    with backend.use("cython"):
        x = sg.tensor(rng.standard_normal((6, 5)), requires_grad=True)
        F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
        s = 1 / (1 + np.exp(-x.data))
        np.testing.assert_allclose(x.grad.data, s - y.data, rtol=1e-12)
        # Under create_graph the backward is Tensor ops: d/dx of sum(dl/dx) = s (1 - s).
        (grad_x,) = sg.grad(F.binary_cross_entropy_with_logits(x, y, reduction="sum"), x,
                            create_graph=True)
        (second,) = sg.grad(grad_x.sum(), x)
    np.testing.assert_allclose(second.data, s * (1 - s), rtol=1e-10)
