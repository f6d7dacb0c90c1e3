"""The Cython conv kernels against their NumPy twins (scratchgen/backend/numpy_conv.py).

Every kernel runs through the backend methods on random geometries: batch sizes from 1 (fewer
images than threads) up, channels, groups, kernel sizes, stride, zero padding, dilation, and
the explicit (H_out, W_out) of the convolutions that conv_transpose2d reverses (with
output_padding some input rows are read by no window). Inputs come C-contiguous, strided,
transposed (also channels-last) and read-only. Every micro-kernel ISA this machine runs is
tested (plain C always; AVX2 and AVX-512 where the CPU has them), with the production cache
blocks and with blocks of a few values, so that no block divides the sizes.
Tolerances and skipping: see tests/_kernel_helpers.py.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchgen import backend
from scratchgen.backend import numpy_conv
from scratchgen.backend.conv_geometry import ConvGeometry

from tests._kernel_helpers import (
    assert_close, conv_cases, conv_isas, conv_path, cython, DTYPES, examples,
    needs_kernels, numpy, random, with_layout,
)


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


def assert_three_directions_match(g, x, w, b, grad_y):
    """conv2d, its input gradient and its weight gradient: cython against the NumPy twin."""
    x64, w64, gy64 = (np.abs(a.astype(np.float64)) for a in (x, w, grad_y))
    assert_close(cython().conv2d(x, w, b, g), numpy().conv2d(x, w, b, g),
                 numpy_conv.conv2d(x64, w64, np.abs(b.astype(np.float64)), g))
    assert_close(cython().conv2d_backward_data(grad_y, w, g),
                 numpy().conv2d_backward_data(grad_y, w, g),
                 numpy_conv.conv2d_backward_data(gy64, w64, g))
    assert_close(cython().conv2d_backward_weight(grad_y, x, g),
                 numpy().conv2d_backward_weight(grad_y, x, g),
                 numpy_conv.conv2d_backward_weight(gy64, x64, g))


# Every ISA path, also where the CPU has none of the vector ones (a skip then says so).
ISA_PARAMS = [pytest.param(isa, marks=pytest.mark.skipif(
    isa not in conv_isas(), reason=f"this CPU (or build) cannot run the {isa} micro-kernels"))
    for isa in ("avx512", "avx2", "generic")]


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("small_blocks", [True, False])
@pytest.mark.parametrize("isa", ISA_PARAMS)
@pytest.mark.parametrize(("C_in", "C_out", "H", "k", "s", "p", "groups", "H_out"), [
    (1, 64, 28, 4, 2, 1, 1, None),      # the layers of a DCGAN on 28x28 images
    (64, 128, 14, 4, 2, 1, 1, None),
    (64, 128, 14, 4, 2, 1, 1, 7),       # conv_transpose2d 128 -> 64 on 7x7 reverses this
    (64, 64, 32, 3, 1, 1, 1, None),
    (32, 48, 9, 3, 1, 1, 4, None),      # grouped
    (24, 16, 8, 1, 1, 0, 1, None),      # 1x1
])
def test_layer_sized_convolutions_match_numpy(dtype, small_blocks, isa, C_in, C_out, H, k, s,
                                              p, groups, H_out):
    g = ConvGeometry(3, C_in, H, H, C_out, k, k, (s, s), (p, p), (1, 1), groups, H_out=H_out,
                     W_out=H_out)
    rng = np.random.default_rng(7)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b, grad_y = random(rng, (C_out,), dtype), random(rng, g.y_shape, dtype)
    with conv_path(isa, small_blocks):
        assert_three_directions_match(g, x, w, b, grad_y)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISA_PARAMS)
@pytest.mark.parametrize(("groups", "H_out"), [
    (1, None),      # 1x1, stride 1, no padding: cols is the image itself
    (2, None),
    (1, 5),         # some input rows are read by no window (a conv_transpose2d with
])                  # dilation 2 and output_padding 1)
def test_pointwise_convolutions_match_numpy(dtype, isa, groups, H_out):
    g = ConvGeometry(5, 4, 6, 6, 6, 1, 1, (1, 1), (0, 0), (2, 2), groups, H_out=H_out,
                     W_out=H_out)
    rng = np.random.default_rng(11)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b, grad_y = random(rng, (g.C_out,), dtype), random(rng, g.y_shape, dtype)
    with conv_path(isa, True):
        assert_three_directions_match(g, x, w, b, grad_y)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISA_PARAMS)
@pytest.mark.parametrize(("N", "H", "groups"), [
    (10, 6, 1),     # 3x3 outputs: up to 28 images share a block of pixels, but each thread
    (11, 5, 2),     # keeps two tasks, so 2 or 3 per task here (the last run shorter)
    (40, 4, 3),     # 2x2 outputs, 10 images per task
])
def test_small_outputs_run_across_images(dtype, isa, N, H, groups):
    g = ConvGeometry(N, 3 * groups, H, H, 2 * groups, 3, 3, (2, 2), (1, 1), (1, 1), groups)
    rng = np.random.default_rng(N)
    x, w = random(rng, g.x_shape, dtype), random(rng, g.w_shape, dtype)
    b, grad_y = random(rng, (g.C_out,), dtype), random(rng, g.y_shape, dtype)
    with conv_path(isa, False):
        assert_three_directions_match(g, x, w, b, grad_y)


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
