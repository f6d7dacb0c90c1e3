"""The Gaussian-process kernels of the backends (``_kernels/_gp.pyx`` against
``backend/numpy_gp.py``): flushing tiny entries of a triangle, and the squared-distance
contraction of the length-scale gradient. Skipping: see tests/_kernel_helpers.py."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchgen import backend
from tests._kernel_helpers import cython, examples, needs_kernels, numpy

sizes = st.integers(1, 40)
seeds = st.integers(0, 2**16)


def spread_matrix(rng, n):
    """Entries of random sign whose magnitudes spread over 10^-320 ... 10^0, with zeros."""
    M = rng.standard_normal((n, n)) * 10.0 ** rng.uniform(-320, 0, (n, n))
    M[rng.random((n, n)) < 0.1] = 0.0
    return M


def flush_case(n, seed):
    """A spread matrix and row and column scales whose products fall inside its spread."""
    rng = np.random.default_rng(seed)
    row, col = 10.0 ** rng.uniform(-200, -50, (2, n))
    return spread_matrix(rng, n), row, col


@examples
@given(n=sizes, seed=seeds)
def test_numpy_flush_zeroes_exactly_the_tiny_upper_entries(n, seed):
    M, row, col = flush_case(n, seed)
    before = M.copy()
    flushed = numpy().flush_tiny_upper(M, row, col)
    i, j = np.indices((n, n))
    tiny = (j > i) & (np.abs(before) < np.outer(row, col)) & (before != 0)
    assert flushed == np.count_nonzero(tiny)
    np.testing.assert_array_equal(M, np.where(tiny, 0.0, before))


@needs_kernels
@examples
@given(n=sizes, seed=seeds)
def test_flush_matches_numpy(n, seed):
    M, row, col = flush_case(n, seed)
    want = M.copy()
    want_flushed = numpy().flush_tiny_upper(want, row, col)
    assert cython().flush_tiny_upper(M, row, col) == want_flushed
    np.testing.assert_array_equal(M, want)


@needs_kernels
@pytest.mark.parametrize("layout", ["c", "fortran"])   # Fortran order: the twin runs
def test_flush_broadcasts_scalar_scales(layout):
    rng = np.random.default_rng(0)
    M = spread_matrix(rng, 9)
    row = 10.0 ** rng.uniform(-200, -100, 9)
    i, j = np.indices(M.shape)
    tiny = (j > i) & (np.abs(M) < row[:, None] * 1e-50) & (M != 0)
    assert np.any(tiny)
    want = np.where(tiny, 0.0, M)
    for row_scale, col_scale in ((row, 1e-50), (row * 1e-50, 1.0)):
        got = M.copy(order="F" if layout == "fortran" else "C")
        assert cython().flush_tiny_upper(got, row_scale, col_scale) == np.count_nonzero(tiny)
        np.testing.assert_array_equal(got, want)


@examples
@given(n=sizes, m=sizes, d=st.integers(1, 6), seed=seeds)
def test_sqdist_matches_its_definition(n, m, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 1e3                   # far from the origin
    Y = rng.standard_normal((m, d)) + 1e3
    want = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=2)
    for name in backend.available():
        got = backend.get(name).sqdist(X, Y)
        assert got.shape == (n, m)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
        S = backend.get(name).sqdist(X, X)
        np.testing.assert_array_equal(S, S.T)               # exactly symmetric, 0 diagonal
        np.testing.assert_array_equal(np.diag(S), 0.0)


def reference_contraction(W, H, Z):
    """sum_{i<j} W_ij H_ij (Z_ik - Z_jk)^2, term by term."""
    D = (Z[:, None, :] - Z[None, :, :]) ** 2              # (n, n, d)
    return np.einsum("ij,ijk->k", np.triu(W * H, 1), D)


@examples
@given(n=sizes, d=st.integers(1, 4), seed=seeds)
def test_contraction_matches_its_definition(n, d, seed):
    rng = np.random.default_rng(seed)
    W, H = rng.standard_normal((n, n)), rng.random((n, n))
    Z = rng.standard_normal((n, d)) + 100.0 * rng.standard_normal(d)   # off the origin
    want = reference_contraction(W, H, Z)
    scale = np.einsum("ij,ijk->k", np.abs(np.triu(W * H, 1)),
                      (Z[:, None, :] - Z[None, :, :]) ** 2) + 1e-300
    for name in backend.available():
        got = backend.get(name).sqdist_contraction_upper(W, H, Z)
        assert got.shape == (d,)
        np.testing.assert_array_less(np.abs(got - want), 1e-9 * scale)


@needs_kernels
@examples
@given(n=sizes, d=st.integers(1, 4), seed=seeds)
def test_contraction_matches_numpy(n, d, seed):
    rng = np.random.default_rng(seed)
    W, H = np.triu(rng.standard_normal((n, n))), rng.random((n, n))
    Z = np.asfortranarray(rng.random((n, d)))           # any layout: the kernel takes Z^T
    got = cython().sqdist_contraction_upper(W, H, Z)
    want = numpy().sqdist_contraction_upper(W, H, Z)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * n * n)


@needs_kernels
@examples
@given(n=sizes, seed=seeds)
def test_flush_clears_the_lower_triangle_like_numpy(n, seed):
    rng = np.random.default_rng(seed)
    M = spread_matrix(rng, n)
    want = M.copy()
    count = numpy().flush_tiny_upper(want, 1e-100, np.ones(n), clear_lower=True)
    assert np.all(np.tril(want, -1) == 0)
    assert cython().flush_tiny_upper(M, np.full(n, 1e-100), 1.0, clear_lower=True) == count
    np.testing.assert_array_equal(M, want)


def spd_matrix(rng, n):
    B = rng.standard_normal((n, n))
    return np.asfortranarray(B @ B.T / n + 0.5 * np.eye(n))


@examples
@given(n=st.integers(1, 300), seed=seeds)
def test_cholesky_lower_factors_in_place(n, seed):
    # Up to 300 columns: more than two of the Cython kernel's 128-column blocks.
    A = spd_matrix(np.random.default_rng(seed), n)
    want = np.linalg.cholesky(A)
    for name in backend.available():
        F = A.copy(order="F")
        assert backend.get(name).cholesky_lower(F) == 0
        np.testing.assert_allclose(np.tril(F), want, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(np.triu(F, 1), np.triu(A, 1))    # not touched


@examples
@given(n=st.integers(2, 300), seed=seeds, data=st.data())
def test_cholesky_lower_reports_the_first_indefinite_minor(n, seed, data):
    A = spd_matrix(np.random.default_rng(seed), n)
    j = data.draw(st.integers(0, n - 1))
    A[j, j] = -1.0                          # leading minors of order j + 1 and up: indefinite
    for name in backend.available():
        F = A.copy(order="F")
        assert backend.get(name).cholesky_lower(F) == j + 1
        # The strict upper triangle is still A's: the jitter ladder rebuilds A from it.
        np.testing.assert_array_equal(np.triu(F, 1), np.triu(A, 1))


def test_cholesky_lower_rejects_what_it_cannot_factor_in_place():
    A = spd_matrix(np.random.default_rng(0), 5)
    read_only = A.copy(order="F")
    read_only.flags.writeable = False
    buffer = np.zeros(8 * 25 + 1, dtype=np.uint8)
    unaligned = buffer[1:].view(np.float64).reshape(5, 5, order="F")
    unaligned[...] = A
    assert not unaligned.flags.aligned and unaligned.flags.f_contiguous
    for name in backend.available():
        for bad in (np.ascontiguousarray(A), A.astype(np.float32), A[:, :4], read_only,
                    unaligned, A.tolist()):
            with pytest.raises(ValueError, match="cholesky_lower: expected a writeable, "
                                                 "aligned, Fortran-ordered float64 square"):
                backend.get(name).cholesky_lower(bad)
