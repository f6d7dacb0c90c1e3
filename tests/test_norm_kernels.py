"""The batch-norm kernels (_kernels/_norm.pyx) against their NumPy twins
(scratchgen/backend/numpy_norm.py): statistics, normalization and gradients.

Shapes (N, C, L) on both loop orders (L = 1: rows, blocks of 256 channels, one block cut
short; L > 1: planes), on both sides of the size from which the kernels use every thread;
training and evaluation; both dtypes; inputs the kernels copy first (non-contiguous) or do
not take (mixed dtypes). Tolerances as in _kernel_helpers: RTOL times the size of the terms
each result sums, so that cancellation is not mistaken for an error.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen import backend, nn
from tests._kernel_helpers import DTYPES, RTOL, cython, examples, needs_kernels, numpy

SHAPES = st.sampled_from([
    (1, 1, 2), (2, 3, 1), (5, 7, 3), (4, 300, 1), (3, 513, 1), (2, 5, 49), (7, 2, 13),
    (64, 600, 1), (16, 8, 300),        # 38400 values: past the one-thread limit (32768)
])


def draw_problem(shape, dtype, seed):
    """x with channels of different means and spreads, weight, bias and an upstream g."""
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 3.0, (1, C, 1))
         + rng.uniform(-2.0, 2.0, (1, C, 1))).astype(dtype)
    weight, bias = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    return x, weight, bias, rng.standard_normal(shape).astype(dtype)


def assert_close(got, want, magnitude, what):
    assert got.dtype == want.dtype and got.shape == want.shape, what
    bound = RTOL[want.dtype] * magnitude + np.finfo(want.dtype).tiny
    worst = np.max(np.abs(got.astype(np.float64) - want) - bound)
    assert worst <= 0, f"{what}: |cython - numpy| exceeds its bound by {worst:.3g}"


def per_channel(v):
    return np.asarray(v, np.float64).reshape(1, -1, 1)


@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), st.integers(0, 2**32 - 1))
def test_batch_norm_train_matches_numpy(shape, dtype, seed):
    x, weight, bias, _ = draw_problem(shape, dtype, seed)
    y, mean, var = cython().batch_norm_train(x, weight, bias, 1e-5)
    y_ref, mean_ref, var_ref = numpy().batch_norm_train(x, weight, bias, 1e-5)
    a = np.abs(x.astype(np.float64))
    assert_close(mean, mean_ref, a.mean(axis=(0, 2)), "mean")
    assert_close(var, var_ref, (a * a).mean(axis=(0, 2)), "var")
    scale = np.abs(weight) / np.sqrt(var_ref.astype(np.float64) + 1e-5)
    magnitude = (a + per_channel(np.abs(mean_ref))) * per_channel(scale) + per_channel(abs(bias))
    assert_close(y, y_ref, magnitude, "y")


@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), st.integers(0, 2**32 - 1))
def test_batch_norm_eval_matches_numpy(shape, dtype, seed):
    x, weight, bias, _ = draw_problem(shape, dtype, seed)
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(shape[1]).astype(dtype)
    invstd = rng.uniform(0.2, 3.0, shape[1]).astype(dtype)
    y = cython().batch_norm_eval(x, weight, bias, mean, invstd)
    magnitude = ((np.abs(x) + per_channel(np.abs(mean))) * per_channel(np.abs(invstd * weight))
                 + per_channel(np.abs(bias)))
    assert_close(y, numpy().batch_norm_eval(x, weight, bias, mean, invstd), magnitude, "y")


@needs_kernels
@examples
@given(SHAPES, st.sampled_from(DTYPES), st.booleans(), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_batch_norm_backward_matches_numpy(shape, dtype, training, need_x, seed):
    x, weight, _, g = draw_problem(shape, dtype, seed)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    invstd = (1.0 / np.sqrt(var + 1e-5)).astype(dtype)
    got = cython().batch_norm_backward(g, x, weight, mean, invstd, training, need_x)
    want = numpy().batch_norm_backward(g, x, weight, mean, invstd, training, need_x)
    # the terms each result sums: |g|, |g xhat| and, for dL/dx, their means times the scale
    abs_g = np.abs(g.astype(np.float64))
    abs_gxhat = abs_g * np.abs(x - per_channel(mean)) * per_channel(invstd)
    assert_close(got[2], want[2], abs_g.sum(axis=(0, 2)), "grad_b")
    assert_close(got[1], want[1], abs_gxhat.sum(axis=(0, 2)), "grad_w")
    if not need_x:
        assert got[0] is None and want[0] is None
        return
    count = shape[0] * shape[2]
    xhat = np.abs(x - per_channel(mean)) * per_channel(invstd)
    magnitude = per_channel(np.abs(invstd * weight)) * (
        abs_g + per_channel(abs_g.sum(axis=(0, 2)) / count)
        + xhat * per_channel(abs_gxhat.sum(axis=(0, 2)) / count))
    assert_close(got[0], want[0], magnitude, "grad_x")


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_inputs_are_copied_for_the_kernel(dtype):
    x, weight, bias, g = draw_problem((6, 4, 5), dtype, 0)
    x_t = np.ascontiguousarray(x.transpose(2, 1, 0)).transpose(2, 1, 0)   # same values
    assert not x_t.flags.c_contiguous
    for got, want in zip(cython().batch_norm_train(x_t, weight, bias, 1e-5),
                         numpy().batch_norm_train(x, weight, bias, 1e-5)):
        np.testing.assert_allclose(got, want, rtol=RTOL[np.dtype(dtype)],
                                   atol=RTOL[np.dtype(dtype)])


@needs_kernels
def test_a_training_step_of_the_layer_takes_the_kernels(monkeypatch):
    from scratchgen.backend import numpy_norm

    def twin_called(*args):
        raise AssertionError("the cython backend fell back to the NumPy twin")

    for name in ("batch_norm_train", "batch_norm_eval", "batch_norm_backward"):
        monkeypatch.setattr(numpy_norm, name, twin_called)
    with backend.use("cython"):
        for layer, shape in [(nn.BatchNorm1d(5), (4, 5)), (nn.BatchNorm2d(3), (2, 3, 4, 4))]:
            layer(sg.randn(*shape, rng=0, requires_grad=True)).sum().backward()
            layer.eval()(sg.randn(*shape, rng=1))


@needs_kernels
def test_mixed_dtypes_go_to_the_twin():
    x, weight, bias, _ = draw_problem((3, 2, 4), np.float32, 0)
    got = cython().batch_norm_train(x, weight.astype(np.float64), bias, 1e-5)
    want = numpy().batch_norm_train(x, weight.astype(np.float64), bias, 1e-5)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("name", backend.available())
@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d, (8, 5)),
                                          (nn.BatchNorm1d, (4, 3, 6)),
                                          (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_layer_matches_the_textbook_formulas_on_each_backend(name, layer, shape):
    """Two training steps and one evaluation in float64: outputs, gradients and running
    statistics against the formulas written out with NumPy."""
    rng = np.random.default_rng(0)
    C, axes = shape[1], (0,) + tuple(range(2, len(shape)))
    bn = layer(C, momentum=0.2, dtype=np.float64)
    bn.weight.data[...] = rng.standard_normal(C)
    bn.bias.data[...] = rng.standard_normal(C)
    view = (1, C) + (1,) * (len(shape) - 2)
    running_mean, running_var = np.zeros(C), np.ones(C)
    with backend.use(name):
        for _ in range(2):
            x_data = rng.standard_normal(shape) * 2.0 + 1.0
            g = rng.standard_normal(shape)
            x = sg.tensor(x_data, requires_grad=True)
            bn.weight.grad = bn.bias.grad = None
            (bn(x) * sg.tensor(g)).sum().backward()
            mean, var = x_data.mean(axis=axes), x_data.var(axis=axes)
            xhat = (x_data - mean.reshape(view)) / np.sqrt(var.reshape(view) + 1e-5)
            gxhat = g * bn.weight.data.reshape(view)
            grad_x = (gxhat - gxhat.mean(axis=axes, keepdims=True)
                      - xhat * (gxhat * xhat).mean(axis=axes, keepdims=True)
                      ) / np.sqrt(var.reshape(view) + 1e-5)
            np.testing.assert_allclose(x.grad.data, grad_x, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(bn.weight.grad.data, (g * xhat).sum(axis=axes), rtol=1e-9)
            np.testing.assert_allclose(bn.bias.grad.data, g.sum(axis=axes), rtol=1e-9)
            count = x_data.size // C
            running_mean = 0.8 * running_mean + 0.2 * mean
            running_var = 0.8 * running_var + 0.2 * var * count / (count - 1)
            np.testing.assert_allclose(bn.running_mean.data, running_mean, rtol=1e-12)
            np.testing.assert_allclose(bn.running_var.data, running_var, rtol=1e-12)
        y = bn.eval()(sg.tensor(x_data)).data
    expected = ((x_data - running_mean.reshape(view)) / np.sqrt(running_var.reshape(view) + 1e-5)
                * bn.weight.data.reshape(view) + bn.bias.data.reshape(view))
    np.testing.assert_allclose(y, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", backend.available())
def test_double_backward_through_batch_norm_matches_finite_differences(name):
    """d/dx of |dL/dx|^2 (a gradient penalty through the layer), in training mode."""
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((4, 2, 3)) * 1.5
    w = sg.tensor(rng.standard_normal(2), requires_grad=True)
    b = sg.tensor(rng.standard_normal(2), requires_grad=True)
    g = sg.tensor(rng.standard_normal((4, 2, 3)))

    def penalty(x_array, create_graph):
        x = sg.tensor(x_array, requires_grad=True)
        out = (nn.functional.batch_norm(x, None, None, w, b, training=True) * g).sum()
        (grad_x,) = sg.grad(out, x, create_graph=create_graph)
        return x, (grad_x * grad_x).sum()

    with backend.use(name):
        x, p = penalty(x0, create_graph=True)
        p.backward()
        direction = rng.standard_normal(x0.shape)
        h = 1e-6
        numeric = (penalty(x0 + h * direction, False)[1].item()
                   - penalty(x0 - h * direction, False)[1].item()) / (2 * h)
    assert np.isclose(np.sum(x.grad.data * direction), numeric, rtol=1e-5, atol=1e-8)
