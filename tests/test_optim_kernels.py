"""The fused optimizer update kernels (_kernels/_optim.pyx) against their NumPy twins
(scratchgen/backend/numpy_optim.py): the parameter and every state array after a few steps.

Sizes on both sides of the length from which the kernels split the work over threads;
Adam's amsgrad and AdamW's decoupled decay, SGD's momentum, dampening and Nesterov,
RMSprop's centering and momentum, weight decay, maximize; both dtypes; arrays the kernels
do not take (non-contiguous, mixed dtypes) go to the twin. Tolerances: the kernel contracts
a * b + c into one rounding, so results may differ from the twin's by a few units of it.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._kernel_helpers import DTYPES, cython, examples, needs_kernels, numpy

RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def run_steps(backend, shape, dtype, amsgrad, decoupled, maximize, weight_decay, steps, seed,
              layout=lambda a: a):
    rng = np.random.default_rng(seed)
    x = layout(rng.standard_normal(shape).astype(dtype))
    m, v = np.zeros_like(x), np.zeros_like(x)
    v_max = np.zeros_like(x) if amsgrad else None
    for step in range(1, steps + 1):
        grad = layout(rng.standard_normal(shape).astype(dtype))
        backend.adam_step(x, grad, m, v, v_max, 1e-2, 0.9, 0.999, 1e-8, weight_decay,
                          decoupled, maximize, step)
    return [a for a in (x, m, v, v_max) if a is not None]


def assert_steps_match(*args, **kwargs):
    got, want = run_steps(cython(), *args, **kwargs), run_steps(numpy(), *args, **kwargs)
    for name, g, w in zip(("x", "m", "v", "v_max"), got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=RTOL[g.dtype], atol=RTOL[g.dtype], err_msg=name)


@needs_kernels
@examples
@given(st.sampled_from([(1,), (7, 3), (65536 + 5,), (300, 301)]), st.sampled_from(DTYPES),
       st.booleans(), st.booleans(), st.booleans(), st.sampled_from([0.0, 0.1]),
       st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_adam_step_matches_numpy(shape, dtype, amsgrad, decoupled, maximize, weight_decay,
                                 steps, seed):
    assert_steps_match(shape, dtype, amsgrad, decoupled, maximize, weight_decay, steps, seed)


def sgd_steps(backend, shape, dtype, momentum, dampening, nesterov, maximize, weight_decay,
              steps, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    buf = np.full_like(x, np.nan) if momentum else None     # the first step overwrites it
    for step in range(1, steps + 1):
        grad = rng.standard_normal(shape).astype(dtype)
        backend.sgd_step(x, grad, buf, 1e-2, momentum, dampening, weight_decay, nesterov,
                         maximize, step == 1)
    return [a for a in (x, buf) if a is not None]


def rmsprop_steps(backend, shape, dtype, centered, momentum, maximize, weight_decay, steps,
                  seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    v = np.zeros_like(x)
    g_avg = np.zeros_like(x) if centered else None
    buf = np.zeros_like(x) if momentum else None
    for _ in range(steps):
        grad = rng.standard_normal(shape).astype(dtype)
        backend.rmsprop_step(x, grad, v, g_avg, buf, 1e-2, 0.99, 1e-8, weight_decay, momentum,
                             maximize)
    return [a for a in (x, v, g_avg, buf) if a is not None]


def assert_same(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=RTOL[g.dtype], atol=RTOL[g.dtype],
                                   err_msg=f"array {i}")


@needs_kernels
@examples
@given(st.sampled_from([(1,), (7, 3), (65536 + 5,)]), st.sampled_from(DTYPES),
       st.sampled_from([0.0, 0.9]), st.sampled_from([0.0, 0.5]), st.booleans(),
       st.booleans(), st.sampled_from([0.0, 0.1]), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_sgd_step_matches_numpy(shape, dtype, momentum, dampening, nesterov, maximize,
                                weight_decay, steps, seed):
    nesterov = nesterov and momentum > 0 and dampening == 0
    args = (shape, dtype, momentum, dampening, nesterov, maximize, weight_decay, steps, seed)
    assert_same(sgd_steps(cython(), *args), sgd_steps(numpy(), *args))


@needs_kernels
@examples
@given(st.sampled_from([(1,), (7, 3), (65536 + 5,)]), st.sampled_from(DTYPES), st.booleans(),
       st.sampled_from([0.0, 0.9]), st.booleans(), st.sampled_from([0.0, 0.1]),
       st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_rmsprop_step_matches_numpy(shape, dtype, centered, momentum, maximize, weight_decay,
                                    steps, seed):
    args = (shape, dtype, centered, momentum, maximize, weight_decay, steps, seed)
    assert_same(rmsprop_steps(cython(), *args), rmsprop_steps(numpy(), *args))


@needs_kernels
@pytest.mark.parametrize("layout", [lambda a: a.T, lambda a: np.asfortranarray(a)],
                         ids=["transposed", "fortran"])
def test_adam_step_on_other_layouts_defers_to_numpy(layout):
    assert_steps_match((5, 8), np.float32, True, False, False, 0.1, 3, 0, layout=layout)


@needs_kernels
def test_contiguous_parameters_take_the_kernel(monkeypatch):
    from scratchgen.backend import numpy_optim

    def twin_called(*args):
        raise AssertionError("the cython backend fell back to the NumPy twin")

    for name in ("adam_step", "sgd_step", "rmsprop_step"):
        monkeypatch.setattr(numpy_optim, name, twin_called)
    run_steps(cython(), (4, 5), np.float32, True, True, True, 0.1, 2, 0)
    sgd_steps(cython(), (4, 5), np.float32, 0.9, 0.0, True, False, 0.1, 2, 0)
    rmsprop_steps(cython(), (4, 5), np.float64, True, 0.9, False, 0.1, 2, 0)
