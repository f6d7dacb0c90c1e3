"""Reductions at the points random inputs never reach: ties in max/min (the gradient is
split evenly among the tied entries, as torch.amax and torch.max() without a dim do),
var with ddof against NumPy, logsumexp of an all -inf row."""
import numpy as np
import pytest

import scratchgen as sg


def grad_of(fn, values):
    x = sg.tensor(values, requires_grad=True, dtype=np.float64)
    fn(x).sum().backward()
    return x.grad.data


# torch 2.x: x.max() and x.amax(dim) give [0.5, 0.5, 0]; x.max(dim).values gives [1, 0, 0]
# (the gradient follows the returned index). scratchgen's max is amax: ties share evenly.
@pytest.mark.parametrize("fn, values, expected", [
    (lambda x: x.max(), [3.0, 3.0, 1.0], [0.5, 0.5, 0.0]),
    (lambda x: x.min(), [1.0, 1.0, 3.0], [0.5, 0.5, 0.0]),
    (lambda x: x.max(axis=0), [3.0, 3.0, 1.0], [0.5, 0.5, 0.0]),
    (lambda x: x.max(), [2.0, 2.0, 2.0], [1 / 3, 1 / 3, 1 / 3]),
    (lambda x: x.max(axis=1), [[1.0, 4.0, 4.0], [5.0, 0.0, 5.0]], [[0, 0.5, 0.5], [0.5, 0, 0.5]]),
    (lambda x: x.min(axis=0), [[1.0, 2.0], [1.0, 3.0]], [[0.5, 1.0], [0.5, 0.0]]),
    (lambda x: x.max(axis=(0, 1)), [[7.0, 1.0], [7.0, 7.0]], [[1 / 3, 0.0], [1 / 3, 1 / 3]]),
])
def test_max_and_min_split_a_tie_evenly(fn, values, expected):
    np.testing.assert_allclose(grad_of(fn, values), expected, rtol=1e-15)


def test_max_tie_matches_torch_amax():
    torch = pytest.importorskip("torch")
    values = [[1.0, 4.0, 4.0, 4.0], [5.0, 0.0, 5.0, -1.0]]
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    t.amax(dim=1).sum().backward()
    np.testing.assert_allclose(grad_of(lambda x: x.max(axis=1), values), t.grad.numpy())


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_var_divides_by_count_minus_ddof_as_numpy(axis, ddof):
    values = np.random.default_rng(0).standard_normal((4, 5))
    got = sg.tensor(values, dtype=np.float64).var(axis=axis, ddof=ddof).data
    np.testing.assert_allclose(got, np.var(values, axis=axis, ddof=ddof), rtol=1e-12)


def test_var_gradient_with_ddof():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    # d/dx_i sum((x - mean)^2) / (n - ddof) = 2 (x_i - mean) / (n - ddof)
    expected = 2 * (values - values.mean()) / (len(values) - 1)
    np.testing.assert_allclose(grad_of(lambda x: x.var(ddof=1), values), expected, rtol=1e-12)


def test_logsumexp_of_an_all_minus_infinity_row_is_minus_infinity():
    x = sg.tensor([[-np.inf, -np.inf, -np.inf], [0.0, np.log(3.0), -np.inf]], dtype=np.float64)
    with np.errstate(all="raise"):
        out = x.logsumexp(axis=1).data
    np.testing.assert_array_equal(out[0], -np.inf)
    np.testing.assert_allclose(out[1], np.log(4.0), rtol=1e-15)
    assert sg.tensor([-np.inf], dtype=np.float64).logsumexp().item() == -np.inf
    # Softmax of a row with one finite entry still has no NaN.
    np.testing.assert_allclose(
        sg.tensor([[0.0, -np.inf]], dtype=np.float64).softmax(axis=1).data, [[1.0, 0.0]])
