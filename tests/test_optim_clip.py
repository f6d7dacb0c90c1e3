"""Gradient clipping: clip_grad_norm_ and clip_grad_value_, by hand and against torch."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
import scratchgen.optim as optim
from tests._optim_helpers import ATOL, RTOL, SEED, leaf


def with_grads(*grads):
    params = []
    for g in grads:
        p = leaf(np.zeros(np.shape(g)))
        p.grad = None if g is None else sg.tensor(g, dtype=np.float64)
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
def test_clip_grad_norm_scales_all_gradients_together(norm_type):
    g1, g2 = np.array([[3.0, -4.0]]), np.array([1.0, -2.0, 2.0])
    params = with_grads(g1, g2, None)
    arrays = [p.grad.data for p in params[:2]]
    flat = np.concatenate([g1.ravel(), g2])
    expected = np.max(np.abs(flat)) if norm_type == math.inf else np.sum(
        np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = optim.clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, float) and total == pytest.approx(expected, rel=1e-12)
    coef = 1.0 / (expected + 1e-6)
    for p, g, array in zip(params, (g1, g2), arrays):
        assert p.grad.data is array  # in place
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
    assert params[2].grad is None


def test_clip_grad_norm_leaves_small_gradients_alone():
    (p,) = with_grads(np.array([0.3, 0.4]))
    assert optim.clip_grad_norm_(p, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad.data, [0.3, 0.4])
    assert optim.clip_grad_norm_(with_grads(None), max_norm=1.0) == 0.0


def test_clip_grad_norm_nonfinite():
    params = with_grads(np.array([1.0, np.inf]), np.array([2.0]))
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: .* is inf"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.data, [2.0])  # untouched by the failed call
    # Without the check, scaling by 1/inf zeroes the finite entries (inf * 0 is NaN), as torch.
    with np.errstate(invalid="ignore"):
        assert optim.clip_grad_norm_(params, 1.0) == math.inf
    np.testing.assert_array_equal(params[1].grad.data, [0.0])
    assert np.isnan(params[0].grad.data[1])
    nan_params = with_grads(np.array([np.nan, 1.0]))
    assert math.isnan(optim.clip_grad_norm_(nan_params, 1.0, norm_type=math.inf))


def test_clip_grad_norm_scales_a_shared_gradient_once():
    a, b = leaf(np.ones(2)), leaf(np.ones(2))
    ga, gb = sg.grad((a + b).sum() * 4.0, [a, b], create_graph=True)
    a.grad, b.grad = ga, gb
    total = optim.clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(8.0)
    np.testing.assert_allclose(a.grad.data, 4.0 / (8.0 + 1e-6))
    np.testing.assert_allclose(b.grad.data, 4.0 / (8.0 + 1e-6))


def test_clip_grad_value():
    params = with_grads(np.array([-3.0, 0.5, 2.0]), None)
    array = params[0].grad.data
    optim.clip_grad_value_(params, 1.0)
    assert params[0].grad.data is array
    np.testing.assert_array_equal(array, [-1.0, 0.5, 1.0])


def test_clip_errors():
    (p,) = with_grads(np.ones(2))
    with pytest.raises(ValueError, match=r"clip_grad_norm_: max_norm must be >= 0, got -1.0"):
        optim.clip_grad_norm_(p, -1.0)
    with pytest.raises(ValueError, match=r"clip_grad_norm_: norm_type must be > 0 or inf, got 0"):
        optim.clip_grad_norm_(p, 1.0, norm_type=0)
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be >= 0, got -2"):
        optim.clip_grad_value_(p, -2)
    with pytest.raises(TypeError, match=r"parameter 0 should be a Tensor, got ndarray"):
        optim.clip_grad_norm_([np.ones(2)], 1.0)


# ---------------------------------------------------------------- PyTorch as the oracle
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@given(seed=SEED, max_norm=st.floats(0.0, 10.0))
def test_clip_grad_norm_agrees_with_torch(norm_type, seed, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s) for s in [(3, 2), (5,)]]
    params = with_grads(*grads)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for q, g in zip(theirs, grads):
        q.grad = torch.tensor(g)
    total = optim.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(torch_total.item(), rel=RTOL)
    for p, q in zip(params, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=RTOL, atol=ATOL)
