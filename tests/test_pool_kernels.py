"""The Cython pooling kernels against their NumPy twins: max (values, argmax, NaN, ties,
windows without input) and average pooling, forward and backward, on random geometries with
dilation and padding; empty shapes. Tolerances and skipping: see tests/_kernel_helpers.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchgen.backend import numpy_conv
from scratchgen.backend.conv_geometry import ConvGeometry

from tests._kernel_helpers import (
    window_is_padding, assert_close, cython, DTYPES, examples,
    LAYOUTS, needs_kernels, numpy, pool_cases, random, with_layout,
)


# ---------------------------------------------------------------------------------- pooling

@needs_kernels
@examples
@given(pool_cases())
def test_max_pool2d_matches_numpy(case):
    g, dtype, seed, layout, ties = case
    x = random(np.random.default_rng(seed), g.x_shape, dtype, ties)
    y, argmax = cython().max_pool2d(with_layout(x, layout), g)
    want_y, want_argmax = numpy().max_pool2d(x, g)
    assert y.dtype == x.dtype and argmax.dtype == np.int64
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_argmax)   # ties: the first window position


@needs_kernels
@examples
@given(pool_cases(), st.sampled_from(LAYOUTS))
def test_max_pool2d_backward_matches_numpy(case, argmax_layout):
    g, dtype, seed, layout, ties = case
    rng = np.random.default_rng(seed)
    _, argmax = numpy().max_pool2d(random(rng, g.x_shape, dtype, ties), g)
    grad_y = random(rng, g.y_shape, dtype)
    got = cython().max_pool2d_backward(with_layout(grad_y, layout),
                                       with_layout(argmax, argmax_layout), g)
    magnitude = numpy_conv.max_pool2d_backward(np.abs(grad_y.astype(np.float64)), argmax, g)
    assert_close(got, numpy().max_pool2d_backward(grad_y, argmax, g), magnitude)


@needs_kernels
@pytest.mark.parametrize("count_include_pad", [True, False])
@examples
@given(pool_cases(dilation=False))
def test_avg_pool2d_matches_numpy(count_include_pad, case):
    g, dtype, seed, layout, _ = case
    x = random(np.random.default_rng(seed), g.x_shape, dtype)
    got = cython().avg_pool2d(with_layout(x, layout), g, count_include_pad)
    magnitude = numpy_conv.avg_pool2d(np.abs(x.astype(np.float64)), g, count_include_pad)
    assert_close(got, numpy().avg_pool2d(x, g, count_include_pad), magnitude)


@needs_kernels
@pytest.mark.parametrize("count_include_pad", [True, False])
@examples
@given(pool_cases(dilation=False))
def test_avg_pool2d_backward_matches_numpy(count_include_pad, case):
    g, dtype, seed, layout, _ = case
    grad_y = random(np.random.default_rng(seed), g.y_shape, dtype)
    got = cython().avg_pool2d_backward(with_layout(grad_y, layout), g, count_include_pad)
    magnitude = numpy_conv.avg_pool2d_backward(np.abs(grad_y.astype(np.float64)), g,
                                               count_include_pad)
    assert_close(got, numpy().avg_pool2d_backward(grad_y, g, count_include_pad), magnitude)


@needs_kernels
def test_max_pool2d_lets_nan_win_like_numpy():
    g = ConvGeometry(1, 1, 4, 4, 1, 2, 2, (2, 2), (0, 0), (1, 1), groups=1)
    x = np.arange(16.0).reshape(g.x_shape)
    x[0, 0, 1, 0] = x[0, 0, 1, 1] = x[0, 0, 3, 3] = np.nan
    y, argmax = cython().max_pool2d(x, g)
    want_y, want_argmax = numpy().max_pool2d(x, g)
    np.testing.assert_array_equal(y, want_y)              # NaN positions compare equal
    np.testing.assert_array_equal(argmax, want_argmax)    # the first NaN of each window


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_window_of_padding(dtype):
    # Two taps two rows apart over a 1-row input padded by one row: the windows read rows -1
    # and 1, neither of which exists. Valid for the pooling ops (padding <= kernel // 2).
    g = ConvGeometry(1, 1, 1, 2, 1, 2, 1, (1, 1), (1, 0), (2, 1), groups=1)
    assert g.H_out == 1 and window_is_padding(0, 1, 2, 1, 1, 2)
    x = np.array([[[[3.0, -4.0]]]], dtype=dtype)
    y, argmax = cython().max_pool2d(x, g)
    np.testing.assert_array_equal(y, numpy().max_pool2d(x, g)[0])    # -inf, as the twin
    np.testing.assert_array_equal(argmax, -1)
    np.testing.assert_array_equal(numpy().max_pool2d(x, g)[1], -1)
    for kernels in (cython(), numpy()):
        grad_x = kernels.max_pool2d_backward(np.ones(g.y_shape, dtype), argmax, g)
        np.testing.assert_array_equal(grad_x, 0)                     # nothing to receive it


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_minus_infinity_beats_padding(dtype):
    # Every input is -inf, as is the padding: the first tap inside the input wins the tie.
    g = ConvGeometry(1, 1, 2, 3, 1, 3, 3, (1, 1), (1, 1), (1, 1), groups=1)
    x = np.full((1, 1, 2, 3), -np.inf, dtype=dtype)
    for kernels in (cython(), numpy()):
        y, argmax = kernels.max_pool2d(x, g)
        assert np.all(y == -np.inf)
        np.testing.assert_array_equal(argmax[0, 0], [[0, 0, 1], [0, 0, 1]])


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, C", [(0, 3), (2, 0)])
def test_empty_poolings(dtype, N, C):
    g = ConvGeometry(N, C, 6, 6, C, 2, 2, (2, 2), (1, 1), (1, 1), groups=max(C, 1))
    x, grad_y = np.ones(g.x_shape, dtype), np.ones(g.y_shape, dtype)
    cy = cython()
    y, argmax = cy.max_pool2d(x, g)
    assert y.shape == argmax.shape == g.y_shape
    assert y.dtype == dtype and argmax.dtype == np.int64
    results = [(cy.max_pool2d_backward(grad_y, argmax, g), g.x_shape)]
    for count_include_pad in (True, False):
        results += [(cy.avg_pool2d(x, g, count_include_pad), g.y_shape),
                    (cy.avg_pool2d_backward(grad_y, g, count_include_pad), g.x_shape)]
    for got, shape in results:
        assert got.shape == shape and got.dtype == dtype
