"""Shared pieces of the kernel parity tests (test_conv_kernels.py, test_pool_kernels.py).

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
import os

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from scratchgen import backend
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


def conv_isas():
    """The micro-kernel ISAs this machine runs (every one is tested), e.g. ['avx2', 'generic'];
    empty without the kernels."""
    if "cython" not in backend.available():
        return []
    from scratchgen.backend import cython_conv
    return cython_conv.supported_isas()


@contextlib.contextmanager
def conv_path(isa, small_blocks):
    """Run the block's convolutions on one path of the conv kernels.

    `isa`: the micro-kernels' instruction set (None: as chosen at import). `small_blocks`:
    cache blocks of a few values (KC = 5, NC = 7 pixels, MC = 1 row, each rounded up to the
    register block), so that every loop over blocks runs several times and ends on a partial
    block; else the production sizes. The kept work buffer starts out full of NaN, so a kernel
    that read scratch space before writing it would fail the comparisons; with small blocks it
    starts out empty, so the first call gets a buffer of exactly the size the kernels asked
    for, past whose end AddressSanitizer sees any write.
    """
    from scratchgen._kernels import _conv
    from scratchgen.backend import cython_conv

    blocks = _conv.set_blocks(5, 7, 1) if small_blocks else None
    cython_conv._kept.buffer = (None if small_blocks else
                                np.full(2**23, 0xFF, np.uint8))  # NaN as float32 and float64
    try:
        with cython_conv.use_isa(isa or cython_conv.current_isa()):
            yield
    finally:
        if blocks is not None:
            _conv.set_blocks(*blocks)


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
    """(geometry, dtype, seed, layouts of the two inputs, (isa, small_blocks))."""
    groups = draw(st.integers(1, 3))
    C_in, C_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    transposed = draw(st.booleans())
    H, KH, sh, ph, dh, H_out = _axis(draw, transposed)
    W, KW, sw, pw, dw, W_out = _axis(draw, transposed)
    g = ConvGeometry(draw(st.integers(1, 5)), C_in, H, W, C_out, KH, KW, (sh, sw), (ph, pw),
                     (dh, dw), groups, H_out=H_out, W_out=W_out)
    layouts = (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS)))
    path = (draw(st.sampled_from(conv_isas() or [None])), draw(st.booleans()))
    return g, draw(st.sampled_from(DTYPES)), draw(st.integers(0, 2**32 - 1)), layouts, path


def window_is_padding(o, size, k, s, p, d):
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
        if any(window_is_padding(o, size, k, s, p, d)
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
