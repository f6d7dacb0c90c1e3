"""The Cython conv and pool kernels against their NumPy twins (scratchgen/backend/numpy_conv.py).

Every kernel runs through the backend methods on random geometries: batch sizes from 1 (fewer
images than threads) up, channels, groups, kernel sizes, stride, zero padding, dilation, and
the explicit (H_out, W_out) of the convolutions that conv_transpose2d reverses (with
output_padding some input rows are read by no window). Inputs come C-contiguous, strided,
transposed (also channels-last) and read-only. Both paths of the conv kernels run: the batch
split into several chunks or processed in one, multiplied chunk by chunk or image by image.

Tolerances. Both sides round differently (BLAS blocks its sums), so a result may differ by
a few units of rounding of the sum it computes. Each check bounds |cython - numpy| elementwise
by ``RTOL[dtype] * magnitude``, where the magnitude is the same kernel applied to the
absolute values of its inputs (in float64): the size of the terms summed, so that
cancellation to a small result is not mistaken for an error. RTOL is 1e-4 for float32 and
1e-10 for float64 (rounding is 6e-8 and 1e-16; sums here have at most a few hundred terms).
Max pooling selects, so its values and argmax must match exactly.

Cython-specific tests skip when the compiled kernels are not built, unless
SCRATCHGEN_REQUIRE_EXT=1 says they must be, in which case they fail. ``CI=true`` runs 200
examples of each property; a local run, a few dozen.
"""
import contextlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchgen import backend
from scratchgen.backend import numpy_conv
from scratchgen.backend.conv_geometry import (
    ConvGeometry, conv_output_size, conv_transpose_output_size,
)

KERNELS_REQUIRED = os.environ.get("SCRATCHGEN_REQUIRE_EXT") == "1"
needs_kernels = pytest.mark.skipif(
    "cython" not in backend.available() and not KERNELS_REQUIRED,
    reason=f"compiled kernels not built ({backend.kernels_import_error()})",
)
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
examples = settings(max_examples=200 if ON_CI else 50)

DTYPES = [np.float32, np.float64]
RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
LAYOUTS = ["c", "strided", "transposed", "channels_last", "readonly"]


def cython():
    return backend.get("cython")


def numpy():
    return backend.get("numpy")


@contextlib.contextmanager
def conv_path(small_chunks, direct):
    """Run the block on one path of the conv kernels.

    `small_chunks`: a chunk budget of 1 byte, so one image per thread per chunk and any batch
    larger than the thread count takes several chunks (else 4 MB: the random geometries here
    take one chunk). `direct`: GEMMs image by image on the NCHW arrays, or one per chunk
    (None: as the backend chooses). The kept work buffer starts out full of NaN, so a kernel
    that read scratch space before writing it would fail the comparisons.
    """
    from scratchgen.backend import cython_conv

    before = cython_conv.CHUNK_BYTES, cython_conv.DIRECT
    cython_conv.CHUNK_BYTES = 1 if small_chunks else 2**22
    cython_conv.DIRECT = direct
    cython_conv._kept.buffer = np.full(2**23, 0xFF, np.uint8)   # NaN as float32 and float64
    try:
        yield
    finally:
        cython_conv.CHUNK_BYTES, cython_conv.DIRECT = before


def with_layout(x, layout):
    """The values of the 4-D array `x` in memory of the given layout."""
    if layout == "c":
        return x
    if layout == "strided":  # a slice with a step
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    if layout == "transposed":  # the transpose of a C-contiguous array
        return np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2)
    if layout == "channels_last":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "readonly":
        x = x.copy()
        x.setflags(write=False)
        return x
    raise AssertionError(layout)


def assert_close(got, want, magnitude):
    """|got - want| <= RTOL * magnitude, elementwise; same shape and dtype, a fresh array."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.flags.c_contiguous and got.flags.writeable
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    tol = RTOL[got.dtype] * magnitude
    worst = np.unravel_index(np.argmax(err - tol), err.shape) if err.size else None
    assert np.all(err <= tol), (f"error {err[worst]} > tolerance {tol[worst]} at {worst} "
                                f"(max error {err.max()})")


# ------------------------------------------------------------------------------- strategies

def _axis(draw, transposed):
    """(size, kernel, stride, padding, dilation, out_size or None) of one spatial axis."""
    k, s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if not transposed:
        p = draw(st.integers(0, 3))
        smallest = max(1, d * (k - 1) + 1 - 2 * p)             # so that H_out >= 1
        return draw(st.integers(smallest, smallest + 7)), k, s, p, d, None
    # The convolution conv_transpose2d reverses: its output (the transposed conv's input)
    # has out_size pixels, its input conv_transpose_output_size(...) >= 1 of them.
    out_size = draw(st.integers(1, 6))
    output_padding = draw(st.integers(0, max(s, d) - 1))
    p = draw(st.integers(0, min(3, ((out_size - 1) * s + d * (k - 1) + output_padding) // 2)))
    size = conv_transpose_output_size(out_size, k, s, p, d, output_padding)
    return size, k, s, p, d, out_size


@st.composite
def conv_cases(draw):
    """(geometry, dtype, seed, layouts of the two inputs, (small_chunks, direct))."""
    groups = draw(st.integers(1, 3))
    C_in, C_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    transposed = draw(st.booleans())
    H, KH, sh, ph, dh, H_out = _axis(draw, transposed)
    W, KW, sw, pw, dw, W_out = _axis(draw, transposed)
    g = ConvGeometry(draw(st.integers(1, 5)), C_in, H, W, C_out, KH, KW, (sh, sw), (ph, pw),
                     (dh, dw), groups, H_out=H_out, W_out=W_out)
    layouts = (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS)))
    path = (draw(st.booleans()), draw(st.sampled_from([None, False, True])))
    return g, draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)), layouts, path


def _window_is_padding(o, size, k, s, p, d):
    """Whether window o along one axis has no tap inside the input (its taps o*s - p + t*d)."""
    return not any(0 <= o * s - p + t * d < size for t in range(k))


@st.composite
def pool_cases(draw, dilation=True):
    """(geometry, dtype, seed, layout, ties): pooling windows with padding <= kernel // 2."""
    sizes = []
    for _ in range(2):
        k, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        d = draw(st.integers(1, 3)) if dilation else 1
        p = draw(st.integers(0, k // 2))
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        size = draw(st.integers(smallest, smallest + 7))
        if any(_window_is_padding(o, size, k, s, p, d)
               for o in range(conv_output_size(size, k, s, p, d))):
            d = 1  # (then every window holds an input: test_max_pool2d_window_of_padding)
        sizes.append((size, k, s, p, d))
    (H, KH, sh, ph, dh), (W, KW, sw, pw, dw) = sizes
    C = draw(st.integers(1, 4))
    g = ConvGeometry(draw(st.integers(1, 4)), C, H, W, C, KH, KW, (sh, sw), (ph, pw),
                     (dh, dw), groups=C)
    return (g, draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)),
            draw(st.sampled_from(LAYOUTS)), draw(st.booleans()))


def random(rng, shape, dtype, ties=False):
    """Standard normal values, or small integers (so that windows have tied maxima)."""
    if ties:
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------ convolution

@needs_kernels
@examples
@given(conv_cases(), st.booleans())
def test_conv2d_matches_numpy(case, with_bias):
    g, dtype, seed, (x_layout, w_layout), path = case
    rng = np.random.default_rng(seed)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b = random(rng, (g.C_out,), dtype) if with_bias else None
    with conv_path(*path):
        got = cython().conv2d(with_layout(x, x_layout), with_layout(w, w_layout), b, g)
    magnitude = numpy_conv.conv2d(np.abs(x.astype(np.float64)), np.abs(w.astype(np.float64)),
                                  None if b is None else np.abs(b.astype(np.float64)), g)
    assert_close(got, numpy().conv2d(x, w, b, g), magnitude)


@needs_kernels
@examples
@given(conv_cases())
def test_conv2d_backward_data_matches_numpy(case):
    g, dtype, seed, (gy_layout, w_layout), path = case
    rng = np.random.default_rng(seed)
    grad_y, w = random(rng, g.y_shape, dtype), random(rng, g.w_shape, dtype)
    with conv_path(*path):
        got = cython().conv2d_backward_data(with_layout(grad_y, gy_layout),
                                            with_layout(w, w_layout), g)
    magnitude = numpy_conv.conv2d_backward_data(np.abs(grad_y.astype(np.float64)),
                                                np.abs(w.astype(np.float64)), g)
    assert_close(got, numpy().conv2d_backward_data(grad_y, w, g), magnitude)


@needs_kernels
@examples
@given(conv_cases())
def test_conv2d_backward_weight_matches_numpy(case):
    g, dtype, seed, (gy_layout, x_layout), path = case
    rng = np.random.default_rng(seed)
    grad_y, x = random(rng, g.y_shape, dtype), random(rng, g.x_shape, dtype)
    with conv_path(*path):
        got = cython().conv2d_backward_weight(with_layout(grad_y, gy_layout),
                                              with_layout(x, x_layout), g)
    magnitude = numpy_conv.conv2d_backward_weight(np.abs(grad_y.astype(np.float64)),
                                                  np.abs(x.astype(np.float64)), g)
    assert_close(got, numpy().conv2d_backward_weight(grad_y, x, g), magnitude)


@needs_kernels
@examples
@given(conv_cases())
def test_im2col_and_col2im_kernels_match_numpy(case):
    from scratchgen._kernels import _conv

    g, dtype, seed, _, _ = case
    x = random(np.random.default_rng(seed), g.x_shape, dtype)
    K, L = g.C_in * g.KH * g.KW, g.H_out * g.W_out
    cols = np.empty((g.N, K, L), dtype=dtype)
    _conv.im2col(x, cols, g)
    np.testing.assert_array_equal(cols, numpy_conv.im2col(x, g))   # a copy: exact
    cols = random(np.random.default_rng(seed + 1), (g.N, K, L), dtype)
    folded = np.empty(g.x_shape, dtype=dtype)
    _conv.col2im(cols, folded, g)
    magnitude = numpy_conv.col2im(np.abs(cols.astype(np.float64)), g, g.C_in)
    assert_close(folded, numpy_conv.col2im(cols, g, g.C_in).copy(), magnitude)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("small_chunks", [True, False])
@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize(("C_in", "C_out", "H", "k", "s", "p", "groups", "H_out"), [
    (1, 64, 28, 4, 2, 1, 1, None),      # the layers of a DCGAN on 28x28 images
    (64, 128, 14, 4, 2, 1, 1, None),
    (64, 128, 14, 4, 2, 1, 1, 7),       # conv_transpose2d 128 -> 64 on 7x7 reverses this
    (64, 64, 32, 3, 1, 1, 1, None),
    (32, 48, 9, 3, 1, 1, 4, None),      # grouped
    (24, 16, 8, 1, 1, 0, 1, None),      # 1x1
])
def test_layer_sized_convolutions_match_numpy(dtype, small_chunks, direct, C_in, C_out, H, k,
                                              s, p, groups, H_out):
    g = ConvGeometry(3, C_in, H, H, C_out, k, k, (s, s), (p, p), (1, 1), groups, H_out=H_out,
                     W_out=H_out)
    rng = np.random.default_rng(7)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b, grad_y = random(rng, (C_out,), dtype), random(rng, g.y_shape, dtype)
    x64, w64, gy64 = (np.abs(a.astype(np.float64)) for a in (x, w, grad_y))
    with conv_path(small_chunks, direct):
        assert_close(cython().conv2d(x, w, b, g), numpy().conv2d(x, w, b, g),
                     numpy_conv.conv2d(x64, w64, np.abs(b.astype(np.float64)), g))
        assert_close(cython().conv2d_backward_data(grad_y, w, g),
                     numpy().conv2d_backward_data(grad_y, w, g),
                     numpy_conv.conv2d_backward_data(gy64, w64, g))
        assert_close(cython().conv2d_backward_weight(grad_y, x, g),
                     numpy().conv2d_backward_weight(grad_y, x, g),
                     numpy_conv.conv2d_backward_weight(gy64, x64, g))


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize(("groups", "H_out"), [
    (1, None),      # 1x1, stride 1, no padding: direct GEMMs read x itself, no unfolding
    (2, None),
    (1, 5),         # ... unless some input rows are read by no window (a conv_transpose2d
])                  # with dilation 2 and output_padding 1): then it unfolds
def test_pointwise_convolutions_match_numpy(dtype, direct, groups, H_out):
    g = ConvGeometry(5, 4, 6, 6, 6, 1, 1, (1, 1), (0, 0), (2, 2), groups, H_out=H_out,
                     W_out=H_out)
    rng = np.random.default_rng(11)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b, grad_y = random(rng, (g.C_out,), dtype), random(rng, g.y_shape, dtype)
    x64, w64, gy64 = (np.abs(a.astype(np.float64)) for a in (x, w, grad_y))
    with conv_path(True, direct):
        assert_close(cython().conv2d(x, w, b, g), numpy().conv2d(x, w, b, g),
                     numpy_conv.conv2d(x64, w64, np.abs(b.astype(np.float64)), g))
        assert_close(cython().conv2d_backward_data(grad_y, w, g),
                     numpy().conv2d_backward_data(grad_y, w, g),
                     numpy_conv.conv2d_backward_data(gy64, w64, g))
        assert_close(cython().conv2d_backward_weight(grad_y, x, g),
                     numpy().conv2d_backward_weight(grad_y, x, g),
                     numpy_conv.conv2d_backward_weight(gy64, x64, g))


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
    assert g.H_out == 1 and _window_is_padding(0, 1, 2, 1, 1, 2)
    x = np.array([[[[3.0, -4.0]]]], dtype=dtype)
    y, argmax = cython().max_pool2d(x, g)
    np.testing.assert_array_equal(y, numpy().max_pool2d(x, g)[0])    # -inf, as the twin
    np.testing.assert_array_equal(argmax, -1)
    np.testing.assert_array_equal(numpy().max_pool2d(x, g)[1], -1)
    for backend in (cython(), numpy()):
        grad_x = backend.max_pool2d_backward(np.ones(g.y_shape, dtype), argmax, g)
        np.testing.assert_array_equal(grad_x, 0)                     # nothing to receive it


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_minus_infinity_beats_padding(dtype):
    # Every input is -inf, as is the padding: the first tap inside the input wins the tie.
    g = ConvGeometry(1, 1, 2, 3, 1, 3, 3, (1, 1), (1, 1), (1, 1), groups=1)
    x = np.full((1, 1, 2, 3), -np.inf, dtype=dtype)
    for backend in (cython(), numpy()):
        y, argmax = backend.max_pool2d(x, g)
        assert np.all(y == -np.inf)
        np.testing.assert_array_equal(argmax[0, 0], [[0, 0, 1], [0, 0, 1]])


# ------------------------------------------------------------ empty shapes, other inputs

def _geometry(N=2, C_in=2, H=5, W=5, C_out=2, KH=3, KW=3, padding=1, groups=1, **out):
    return ConvGeometry(N, C_in, H, W, C_out, KH, KW, (1, 1), (padding, padding), (1, 1),
                        groups, **out)


EMPTY_CONVS = [
    _geometry(N=0),                     # no images
    _geometry(C_out=0),                 # no output channels
    _geometry(C_in=0),                  # empty sums: y is the bias
    _geometry(H=0, KH=1, padding=1),    # windows of padding alone: y is the bias
    _geometry(H_out=0, W_out=3),        # no output pixels
    _geometry(KH=0),                    # no taps
]


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("g", EMPTY_CONVS, ids=lambda g: f"{g.x_shape}->{g.y_shape}")
def test_empty_convolutions(dtype, g):
    x, w, grad_y = (np.ones(shape, dtype) for shape in (g.x_shape, g.w_shape, g.y_shape))
    b = np.arange(g.C_out, dtype=dtype)
    cy = cython()
    y = cy.conv2d(x, w, b, g)
    assert y.shape == g.y_shape and y.dtype == dtype
    np.testing.assert_array_equal(y, np.broadcast_to(b.reshape(-1, 1, 1), g.y_shape))
    for got, shape in [(cy.conv2d(x, w, None, g), g.y_shape),
                       (cy.conv2d_backward_data(grad_y, w, g), g.x_shape),
                       (cy.conv2d_backward_weight(grad_y, x, g), g.w_shape)]:
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_array_equal(got, 0)


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


@needs_kernels
@pytest.mark.parametrize("x_dtype, w_dtype", [
    (np.float32, np.float64),           # mixed
    (np.float16, np.float16),           # not a kernel dtype
    (">f8", ">f8"),                     # non-native byte order
])
def test_other_dtypes_defer_to_numpy(x_dtype, w_dtype):
    g = _geometry(groups=2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(g.x_shape).astype(x_dtype)
    w = rng.standard_normal(g.w_shape).astype(w_dtype)
    grad_y = rng.standard_normal(g.y_shape)
    gy_x, gy_w = grad_y.astype(x_dtype), grad_y.astype(w_dtype)   # mixed with w, with x
    cy, ref = cython(), numpy()
    np.testing.assert_array_equal(cy.conv2d(x, w, None, g), ref.conv2d(x, w, None, g))
    np.testing.assert_array_equal(cy.conv2d_backward_data(gy_x, w, g),
                                  ref.conv2d_backward_data(gy_x, w, g))
    np.testing.assert_array_equal(cy.conv2d_backward_weight(gy_w, x, g),
                                  ref.conv2d_backward_weight(gy_w, x, g))
    if np.dtype(x_dtype) in (np.float32, np.float64):
        return  # pooling has one input, of a kernel dtype here
    pool = ConvGeometry(2, 2, 5, 5, 2, 2, 2, (2, 2), (1, 1), (1, 1), groups=2)
    np.testing.assert_array_equal(cy.avg_pool2d(x, pool, False), ref.avg_pool2d(x, pool, False))
    for got, want in zip(cy.max_pool2d(x, pool), ref.max_pool2d(x, pool)):
        np.testing.assert_array_equal(got, want)


@needs_kernels
def test_shapes_that_contradict_the_geometry_are_errors():
    g = _geometry()
    x, w = np.ones(g.x_shape), np.ones(g.w_shape)
    with pytest.raises(ValueError, match=r"conv2d: x has shape \(2, 2, 5, 4\) but the geometry "
                                         r"expects \(2, 2, 5, 5\)"):
        cython().conv2d(x[..., :4], w, None, g)
    with pytest.raises(ValueError, match=r"conv2d_backward_data: w has shape"):
        cython().conv2d_backward_data(np.ones(g.y_shape), w[:1], g)
    pool = ConvGeometry(1, 1, 4, 4, 1, 2, 2, (2, 2), (0, 0), (1, 1), groups=1)
    grad_y = np.ones(pool.y_shape)
    with pytest.raises(ValueError, match=r"max_pool2d_backward: argmax entries must lie in "
                                         r"\[-1, H \* W = 16\)"):
        cython().max_pool2d_backward(grad_y, np.full(pool.y_shape, 16), pool)
    with pytest.raises(TypeError, match="max_pool2d_backward: argmax must hold integers"):
        cython().max_pool2d_backward(grad_y, np.zeros(pool.y_shape), pool)


# The kernels in a fresh interpreter with a given OMP_NUM_THREADS, against the twin.
THREADS_PROBE = textwrap.dedent("""
    import json
    import numpy as np
    from scratchgen import backend
    from scratchgen.backend.conv_geometry import ConvGeometry

    g = ConvGeometry(5, 6, 9, 8, 4, 3, 2, (2, 1), (1, 1), (1, 2), 2, H_out=4, W_out=6)
    rng = np.random.default_rng(0)
    x, w, gy = (rng.standard_normal(s) for s in (g.x_shape, g.w_shape, g.y_shape))
    cy, ref = backend.get("cython"), backend.get("numpy")
    errors = [
        np.abs(cy.conv2d(x, w, None, g) - ref.conv2d(x, w, None, g)).max(),
        np.abs(cy.conv2d_backward_data(gy, w, g) - ref.conv2d_backward_data(gy, w, g)).max(),
        np.abs(cy.conv2d_backward_weight(gy, x, g) - ref.conv2d_backward_weight(gy, x, g)).max(),
    ]
    print(json.dumps({"threads": backend.kernels_build_info()["openmp_max_threads"],
                      "max_error": float(max(errors))}))
""")


@needs_kernels
@pytest.mark.parametrize("threads", [1, 3])
def test_kernels_agree_with_numpy_at_any_thread_count(tmp_path, threads):
    environ = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", THREADS_PROBE], cwd=tmp_path, env=environ,
                            capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if backend.kernels_build_info()["openmp"]:
        assert report["threads"] == threads
    assert report["max_error"] < 1e-12
