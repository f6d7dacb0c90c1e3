"""scratchgen's own packed GEMM (_kernels/_matmul.pyx) against numpy.matmul.

Every micro-kernel ISA this machine runs, both dtypes, both transposes of each operand, and
sizes that cross the cache blocks (MC = 132 rows, NC = 256 columns, KC = 256 deep) with a
partial block at each end; also through the backend's matmul, which sends float32 products
of medium size here. Tolerances: see tests/_kernel_helpers.py.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._kernel_helpers import DTYPES, assert_close, conv_isas, cython, examples, needs_kernels

ISA_PARAMS = [pytest.param(isa, marks=pytest.mark.skipif(
    isa not in conv_isas(), reason=f"this CPU (or build) cannot run the {isa} micro-kernels"))
    for isa in ("avx512", "avx2", "generic")]


def own_gemm(a, b, trans_a, trans_b, isa):
    from scratchgen._kernels import _blas, _matmul
    from scratchgen.backend import cython_conv

    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    threads = _blas.openmp_info()[1]
    c = np.empty((m, n), a.dtype)
    # The work buffer starts out NaN: a kernel that read it before writing would show.
    k = a.shape[0] if trans_a else a.shape[1]
    work = np.full(_matmul.work_size(threads, m, k), np.nan, a.dtype)
    with cython_conv.use_isa(isa):
        _matmul.gemm(a, b, c, trans_a, trans_b, threads, work)
    return c


def check(m, k, n, trans_a, trans_b, dtype, isa, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    magnitude = np.abs(op_a.astype(np.float64)) @ np.abs(op_b.astype(np.float64))
    assert_close(own_gemm(a, b, trans_a, trans_b, isa), op_a @ op_b, magnitude)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ISA_PARAMS)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize(("m", "k", "n"), [
    (64, 100, 6272),        # a DCGAN generator's linear layer
    (197, 513, 300),        # every block partial at the end, several blocks on each side
    (1, 1, 1),
    (7, 3, 530),            # one row tile, columns in 3 tasks
])
def test_own_gemm_matches_numpy(dtype, isa, trans_a, trans_b, m, k, n):
    check(m, k, n, trans_a, trans_b, dtype, isa)


@needs_kernels
@examples
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 300), st.booleans(),
       st.booleans(), st.sampled_from(DTYPES), st.sampled_from(conv_isas() or ["generic"]),
       st.integers(0, 2**32 - 1))
def test_own_gemm_matches_numpy_on_odd_shapes(m, k, n, trans_a, trans_b, dtype, isa, seed):
    check(m, k, n, trans_a, trans_b, dtype, isa, seed)


@needs_kernels
@pytest.mark.parametrize("shape", [(128, 784, 400), (64, 20, 16), (1024, 1024, 1024),
                                   (64, 6272, 1)])
def test_backend_matmul_agrees_on_both_gemms(shape):
    """Medium float32 products take the own GEMM, the others BLAS: both are right."""
    m, k, n = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k)).astype(np.float32).T          # a transposed view
    magnitude = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    assert_close(cython().matmul(a, b), a @ b, magnitude)
    stacked = a.reshape(2, m // 2, k) if m % 2 == 0 else a[None]  # (..., m, k) @ (k, n)
    assert_close(cython().matmul(stacked, b), stacked @ b,
                 magnitude.reshape(stacked.shape[:-1] + (n,)))


@needs_kernels
@pytest.mark.parametrize(("m", "k", "n"), [(128, 400, 40), (128, 784, 400), (300, 70, 20)])
def test_own_gemm_is_the_same_on_one_thread_and_on_all(m, k, n):
    """The backend runs small products on one thread (OWN_GEMM_PARALLEL_MACS): the split
    over threads changes which thread computes a block, never the order of its sums."""
    from scratchgen._kernels import _blas, _matmul

    rng = np.random.default_rng(2)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    results = []
    for threads in (1, max(2, _blas.openmp_info()[1])):
        c = np.empty((m, n), np.float32)
        _matmul.gemm(a, b, c, False, False, threads,
                     np.empty(_matmul.work_size(threads, m, k), np.float32))
        results.append(c)
    np.testing.assert_array_equal(results[0], results[1])


@needs_kernels
@examples
@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 40), st.booleans(),
       st.booleans(), st.sampled_from(DTYPES), st.integers(0, 2**32 - 1))
def test_thin_gemm_matches_numpy(m, k, n, trans_a, trans_b, dtype, seed):
    """The plain-loop product for thin sides: each of its three loop orders (rows of B,
    columns of A, dot products) against numpy, every transpose, sums of up to 70 terms
    (the dot form's 8 partial sums and its tail)."""
    from scratchgen._kernels import _matmul

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    c = np.full((m, n), np.nan, dtype)
    _matmul.thin_gemm(a, b, c, trans_a, trans_b)
    magnitude = np.abs(op_a.astype(np.float64)) @ np.abs(op_b.astype(np.float64))
    assert_close(c, op_a @ op_b, magnitude)
