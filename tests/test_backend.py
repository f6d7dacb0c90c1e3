"""Tests for scratchgen.backend: choosing backends, and the Cython matmul against NumPy's.

Cython-specific tests skip when the compiled kernels are not installed, unless
SCRATCHGEN_REQUIRE_EXT=1 says they must be, in which case they fail.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchgen import backend

DTYPES = [np.float32, np.float64]
LAYOUTS = ["c", "transposed", "strided", "readonly"]


KERNELS_REQUIRED = os.environ.get("SCRATCHGEN_REQUIRE_EXT") == "1"
# Without the kernels these tests skip, unless the run requires them: then they run, and
# fail at backend.get("cython") with the original import error.
needs_kernels = pytest.mark.skipif(
    "cython" not in backend.available() and not KERNELS_REQUIRED,
    reason=f"compiled kernels not built ({backend.kernels_import_error()})",
)


def assert_matmul_close(got, a, b):
    """Check `got` against np.matmul(a, b) within the rounding error of a dot product.

    Each of two computed products of length k is within gamma_k * (|a| @ |b|) of the exact
    one, gamma_k ~ k * eps / 2 (Higham, Accuracy and Stability of Numerical Algorithms,
    section 3.5, whatever the summation order or blocking); so they differ by at most
    k * eps * (|a| @ |b|), here with a factor 2 of slack. Results in the subnormal range
    also carry an absolute error of up to half the smallest subnormal per operation
    (Higham's model with underflow, section 2.1): k of them per product, doubled likewise.
    """
    want = np.matmul(a, b)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    assert got.flags.c_contiguous and got.flags.writeable
    k = a.shape[-1]
    eps = np.finfo(a.dtype).eps
    bound = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    tol = 2 * k * eps * bound + 2 * k * float(np.finfo(a.dtype).smallest_subnormal)
    assert np.all(err <= tol), f"max error {err.max()} exceeds tolerance (k={k})"


def with_layout(x, layout):
    """The values of `x` (last two axes (r, c)) in memory of the given layout."""
    if layout == "c":
        return x
    if layout == "transposed":
        # A transpose of a C-contiguous array; 2-D: F-contiguous.
        return np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    if layout == "strided":
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)
        wide[..., ::2] = x
        return wide[..., ::2]
    if layout == "readonly":
        x = x.copy()
        x.flags.writeable = False
        return x
    raise AssertionError(layout)


def float_arrays(dtype, shape):
    width = np.finfo(dtype).bits
    return hnp.arrays(dtype, shape, elements=st.floats(-4, 4, width=width))


@st.composite
def matmul_operands(draw, batch_shapes):
    """Two operands ``a (..., m, k)`` and ``b (..., k, n)`` of one dtype, in any layouts."""
    dtype = draw(st.sampled_from(DTYPES))
    m, k, n = (draw(st.integers(1, 9)) for _ in range(3))
    a_batch, b_batch = draw(batch_shapes)
    a = draw(float_arrays(dtype, a_batch + (m, k)))
    b = draw(float_arrays(dtype, b_batch + (k, n)))
    a_layout, b_layout = draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))
    return with_layout(a, a_layout), with_layout(b, b_layout)


no_batch = st.just(((), ()))
broadcast_batches = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3
).map(lambda shapes: shapes.input_shapes).filter(lambda shapes: shapes != ((), ()))


# ---------------------------------------------------------------- choosing a backend


def test_numpy_backend_is_always_available():
    assert "numpy" in backend.available()
    assert backend.current().name in backend.available()
    numpy_backend = backend.get("numpy")
    assert numpy_backend.name == "numpy"
    assert numpy_backend.xp is np


def test_default_backend_prefers_the_compiled_kernels():
    if os.environ.get("SCRATCHGEN_BACKEND"):
        pytest.skip("SCRATCHGEN_BACKEND chooses the backend of this run")
    expected = "cython" if "cython" in backend.available() else "numpy"
    assert backend.current().name == expected


def test_use_switches_and_restores():
    before = backend.current()
    with backend.use("numpy") as inside:
        assert inside is backend.current()
        assert inside.name == "numpy"
    assert backend.current() is before


def test_use_nests_and_restores_after_an_exception():
    before = backend.current()
    name = backend.available()[-1]
    with pytest.raises(KeyError):
        with backend.use("numpy"):
            with backend.use(name):
                assert backend.current().name == name
                raise KeyError("inside the block")
    assert backend.current() is before


def test_use_is_local_to_the_thread():
    seen = []
    with backend.use("numpy"):
        other = threading.Thread(target=lambda: seen.append(backend.current()))
        other.start()
        other.join()
    assert seen == [backend.current()]  # the default, not the override


def test_set_backend_changes_the_default():
    before = backend.current().name
    try:
        backend.set_backend("numpy")
        assert backend.current().name == "numpy"
    finally:
        backend.set_backend(before)
    assert backend.current().name == before


def test_unknown_backend_names_the_choices():
    choices = r"unknown backend 'torch'; expected one of \['numpy', 'cython'\]"
    with pytest.raises(ValueError, match=choices):
        backend.get("torch")
    with pytest.raises(ValueError, match=choices):
        backend.set_backend("torch")
    with pytest.raises(ValueError, match=choices):
        with backend.use("torch"):
            pass


def test_backend_name_must_be_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        backend.get(None)


def test_kernels_import_error_matches_availability():
    error = backend.kernels_import_error()
    assert (error is None) == ("cython" in backend.available())
    assert (backend.kernels_build_info() is None) == (error is not None)


# -------------------------------------------- choosing at import (fresh interpreters)

# Run in a fresh interpreter outside the repository, so that `python` imports the installed
# scratchgen. BLOCK_KERNELS makes the compiled kernels fail to import, as when they are not
# built.
IMPORT_PROBE = textwrap.dedent("""
    import importlib.abc, json, sys, warnings

    class BlockKernels(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "scratchgen._kernels._blas":
                raise ImportError("kernels blocked by the test")

    if sys.argv[1] == "block":
        sys.meta_path.insert(0, BlockKernels())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from scratchgen import backend
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
            raise SystemExit(0)
    print(json.dumps({
        "backend": backend.current().name,
        "available": backend.available(),
        "import_error": backend.kernels_import_error(),
        "warnings": [str(w.message) for w in caught if "scratchgen" in str(w.message)],
    }))
""")


def import_in_fresh_python(tmp_path, block_kernels, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCRATCHGEN_")}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, "block" if block_kernels else "keep"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_missing_kernels_fall_back_to_numpy_with_one_warning(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=True)
    assert report["backend"] == "numpy"
    assert report["available"] == ["numpy"]
    assert "kernels blocked by the test" in report["import_error"]
    assert len(report["warnings"]) == 1
    assert "kernels blocked by the test" in report["warnings"][0]


def test_missing_kernels_are_an_error_when_required(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=True, SCRATCHGEN_REQUIRE_EXT="1")
    assert report["error"].startswith("ImportError: ")
    assert "SCRATCHGEN_REQUIRE_EXT=1" in report["error"]
    assert "kernels blocked by the test" in report["error"]


def test_asking_for_cython_without_kernels_is_an_error(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=True, SCRATCHGEN_BACKEND="cython")
    assert report["error"].startswith("ImportError: ")
    assert "kernels blocked by the test" in report["error"]


def test_choosing_numpy_explicitly_does_not_warn(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=True, SCRATCHGEN_BACKEND="numpy")
    assert report["backend"] == "numpy"
    assert report["warnings"] == []


def test_bad_backend_variable_is_an_error(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=False, SCRATCHGEN_BACKEND="gpu")
    assert report["error"].startswith("ValueError: ")
    assert "SCRATCHGEN_BACKEND" in report["error"] and "'gpu'" in report["error"]


def test_backend_variable_overrides_the_default(tmp_path):
    report = import_in_fresh_python(tmp_path, block_kernels=False, SCRATCHGEN_BACKEND="numpy")
    assert report["backend"] == "numpy"
    assert report["available"] == backend.available()


# ------------------------------------------------------- Cython matmul against NumPy


@needs_kernels
@given(matmul_operands(no_batch))
def test_cython_matmul_2d_matches_numpy(operands):
    a, b = operands
    assert_matmul_close(backend.get("cython").matmul(a, b), a, b)


@needs_kernels
@given(matmul_operands(broadcast_batches))
def test_cython_matmul_batched_matches_numpy(operands):
    a, b = operands
    assert_matmul_close(backend.get("cython").matmul(a, b), a, b)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((257, 129), (129, 65)),          # sizes past BLAS's block sizes
    ((6, 40, 33), (33, 17)),          # linear layer: batch folded into one GEMM
    ((6, 40, 33), (1, 33, 17)),
    ((2, 1, 30, 20), (3, 20, 10)),    # broadcast batch dims on both sides
])
def test_cython_matmul_larger_shapes(dtype, a_shape, b_shape):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    cy = backend.get("cython")
    assert_matmul_close(cy.matmul(a, b), a, b)
    assert_matmul_close(cy.matmul(a.swapaxes(-1, -2).copy().swapaxes(-1, -2), b), a, b)


@needs_kernels
@pytest.mark.parametrize(("a", "b"), [
    (np.ones((3, 4), np.float32), np.ones(4, np.float32)),       # 1-D operands
    (np.ones(3, np.float64), np.ones((3, 4), np.float64)),
    (np.ones((3, 4), np.float32), np.ones((4, 2), np.float64)),  # mixed dtypes
    (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64)),      # other dtypes
    (np.ones((3, 4), np.float16), np.ones((4, 2), np.float16)),
    (np.ones((3, 4), np.complex128), np.ones((4, 2), np.complex128)),
    (np.ones((3, 4), ">f8"), np.ones((4, 2), ">f8")),            # non-native byte order
    (np.ones((0, 4)), np.ones((4, 2))),                          # empty operands
    (np.ones((3, 0)), np.ones((0, 2))),
    (np.ones((0, 3, 4)), np.ones((4, 2))),
])
def test_cython_matmul_defers_to_numpy(a, b):
    got = backend.get("cython").matmul(a, b)
    want = np.matmul(a, b)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@needs_kernels
@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((3, 4), (5, 2)),            # inner sizes differ
    ((2, 3, 4), (3, 4, 2)),      # batch dims do not broadcast
])
def test_cython_matmul_shape_errors_match_numpy(a_shape, b_shape):
    a, b = np.ones(a_shape), np.ones(b_shape)
    with pytest.raises(ValueError) as numpy_error:
        np.matmul(a, b)
    with pytest.raises(ValueError) as cython_error:
        backend.get("cython").matmul(a, b)
    assert str(cython_error.value) == str(numpy_error.value)


@needs_kernels
def test_cython_matmul_propagates_nan():
    a = np.ones((4, 3))
    a[1, 2] = np.nan
    got = backend.get("cython").matmul(a, np.ones((3, 5)))
    assert np.isnan(got[1]).all()
    assert not np.isnan(np.delete(got, 1, axis=0)).any()


@needs_kernels
def test_transposed_operand_is_not_copied():
    from scratchgen.backend.cython_backend import _gemm_operand

    w = np.ones((5, 3))
    w_c, trans = _gemm_operand(w.T)
    assert trans and np.shares_memory(w_c, w) and w_c.flags.c_contiguous
    batch = np.ones((2, 5, 3))
    batch_c, trans = _gemm_operand(batch.swapaxes(-1, -2))
    assert trans and np.shares_memory(batch_c, batch)


@needs_kernels
def test_cython_matmul_from_many_threads():
    cy = backend.get("cython")
    rng = np.random.default_rng(1)
    pairs = [(rng.standard_normal((64, 48)), rng.standard_normal((48, 32))) for _ in range(8)]
    results = [None] * len(pairs)

    def work(i):
        for _ in range(20):
            results[i] = cy.matmul(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pairs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (a, b), got in zip(pairs, results):
        assert_matmul_close(got, a, b)


# ------------------------------------------------------------------ the kernels directly


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_kernel_with_alpha_beta_and_transposes(dtype, trans_a, trans_b):
    from scratchgen._kernels import _blas

    rng = np.random.default_rng(2)
    m, k, n = 7, 5, 3
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    op_a, op_b = (a.T if trans_a else a), (b.T if trans_b else b)
    want = 2.0 * op_a @ op_b + 0.5 * c
    _blas.gemm(a, b, c, trans_a, trans_b, alpha=2.0, beta=0.5)
    np.testing.assert_allclose(c, want, rtol=50 * np.finfo(dtype).eps, atol=0)


@needs_kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_batched_gemm_kernel(dtype, trans_a, trans_b):
    from scratchgen._kernels import _blas

    rng = np.random.default_rng(3)
    batch, m, k, n = 4, 6, 5, 2
    a = rng.standard_normal((batch, k, m) if trans_a else (batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, n, k) if trans_b else (batch, k, n)).astype(dtype)
    c = rng.standard_normal((batch, m, n)).astype(dtype)
    op_a = a.swapaxes(1, 2) if trans_a else a
    op_b = b.swapaxes(1, 2) if trans_b else b
    want = -1.0 * op_a @ op_b + 1.0 * c
    _blas.batched_gemm(a, b, c, trans_a, trans_b, alpha=-1.0, beta=1.0)
    np.testing.assert_allclose(c, want, rtol=50 * np.finfo(dtype).eps, atol=1e-6)


@needs_kernels
def test_kernel_build_info():
    info = backend.kernels_build_info()
    assert set(info) == {"openmp", "openmp_max_threads", "cython_debug", "address_sanitizer",
                         "conv_isa", "conv_isas_supported"}
    assert all(isinstance(info[key], bool)
               for key in ("openmp", "cython_debug", "address_sanitizer"))
    assert info["openmp_max_threads"] >= 1
    assert info["conv_isa"] in info["conv_isas_supported"]
    assert info["conv_isas_supported"][-1] == "generic"
    if not info["openmp"]:
        assert info["openmp_max_threads"] == 1


@needs_kernels
def test_cython_matmul_reads_misaligned_operands():
    raw = bytearray(8 * 12 + 1)
    a = np.frombuffer(raw, dtype=np.float64, offset=1).reshape(3, 4)  # misaligned view
    assert not a.flags.aligned
    b = np.arange(8.0).reshape(4, 2)
    assert_matmul_close(backend.get("cython").matmul(a, b), a, b)
