"""Elementwise maximum and minimum at ties: each operand gets half of the gradient, as
torch.maximum / torch.minimum give it (the gradient tests draw inputs without ties)."""
import numpy as np
import pytest

import scratchgen as sg


def grads(op, a, b):
    ta = sg.tensor(a, requires_grad=True, dtype=np.float64)
    tb = sg.tensor(b, requires_grad=True, dtype=np.float64)
    op(ta, tb).sum().backward()
    return ta.grad.data, tb.grad.data


@pytest.mark.parametrize("op, a, b, grad_a, grad_b", [
    (sg.maximum, [1.0, 2.0], [1.0, 0.0], [0.5, 1.0], [0.5, 0.0]),
    (sg.minimum, [1.0, 2.0], [1.0, 0.0], [0.5, 0.0], [0.5, 1.0]),
    (sg.maximum, [3.0, 3.0, 1.0], 3.0, [0.5, 0.5, 0.0], 2.0),     # broadcast: halves add up
    (sg.minimum, [[0.0, 2.0]], [[0.0], [2.0]], [[1.5, 0.5]], [[1.5], [0.5]]),
])
def test_a_tie_splits_the_gradient_half_and_half(op, a, b, grad_a, grad_b):
    got_a, got_b = grads(op, a, b)
    np.testing.assert_array_equal(got_a, grad_a)
    np.testing.assert_array_equal(got_b, grad_b)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_ties_match_torch(name):
    torch = pytest.importorskip("torch")
    a, b = [1.0, 2.0, -1.0, 0.0], [1.0, 0.0, -1.0, 3.0]
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    getattr(torch, name)(ta, tb).sum().backward()
    got_a, got_b = grads(getattr(sg, name), a, b)
    np.testing.assert_array_equal(got_a, ta.grad.numpy())
    np.testing.assert_array_equal(got_b, tb.grad.numpy())
