"""The backward pass: accumulation, deep and freed graphs, grad modes, ``grad``, higher order."""
import threading

import numpy as np
import pytest

import scratchgen as sg


def leaf(values, dtype=np.float64):
    return sg.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- accumulation
def test_tensor_used_twice_in_one_op_gets_both_gradients():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0, 6.0])


def test_x_plus_x_gives_gradient_two():
    x = leaf([1.0, 5.0])
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_diamond_graph_sums_both_paths():
    x = leaf(3.0)
    h = x * 2.0
    y = h * h + h.exp()  # dy/dx = 2 * (2h + e^h) with h = 2x
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 2.0 * (2.0 * 6.0 + np.exp(6.0)), rtol=1e-12)


def test_two_backward_calls_accumulate_into_grad():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0 + 2.0, 3.0 + 4.0])


def test_leaf_grad_has_the_leafs_dtype_and_shape():
    w = leaf(np.ones((3, 2)), dtype=np.float32)
    b = leaf([0.5], dtype=np.float32)
    x = sg.tensor(np.ones((4, 3)), dtype=np.float64)  # float64 data flows into float32 leaves
    ((x @ w) + b).sum().backward()
    assert w.grad.shape == (3, 2) and w.grad.dtype == np.float32
    assert b.grad.shape == (1,) and b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad.data, [8.0])


def test_backward_on_a_leaf_itself():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


def test_each_leaf_gets_its_own_writable_grad():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data[...] = 0.0  # e.g. an in-place zero_grad or gradient clipping
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_a_transposed_weights_grad_is_stored_c_contiguous():
    # x @ w.T hands w the transpose of a product; the fused optimizer kernels read .grad as
    # one C-contiguous pass, so the engine's copy of the first gradient is C-ordered.
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((5, 3)))
    w = leaf(rng.standard_normal((4, 3)))
    (x @ w.T).sum().backward()
    assert w.grad.data.flags.c_contiguous
    np.testing.assert_allclose(w.grad.data, np.tile(x.data.sum(axis=0), (4, 1)))


def test_backward_does_not_alias_the_callers_grad_array():
    x = leaf([1.0, 2.0])
    seed = np.ones(2)
    (x + 0.0).backward(grad=seed)
    seed[:] = 5.0
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_retain_grad_fills_grad_of_an_intermediate():
    x = leaf([1.0, 2.0])
    h = (x * 3.0).retain_grad()
    other = x * 4.0
    (h * h + other).sum().backward()
    np.testing.assert_array_equal(h.grad.data, 2.0 * h.data)
    assert other.grad is None
    np.testing.assert_array_equal(x.grad.data, 18.0 * x.data + 4.0)


# ---------------------------------------------------------------- deep graphs
def test_chain_of_ten_thousand_ops_backpropagates():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001**10_000, rtol=1e-9)


def test_chain_of_ten_thousand_additions():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(10_000):
        y = y + x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [10_001.0, 10_001.0])
    np.testing.assert_array_equal(y.data, [10_001.0, 20_002.0])


# ---------------------------------------------------------------- freed graphs, seeds
def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2.0 * first)


def test_backward_of_a_non_scalar_without_grad_raises():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"backward: .*one-element.*\(2,\).*grad="):
        y.backward()


def test_backward_of_a_non_scalar_with_grad():
    x = leaf([1.0, 2.0])
    (x * x).backward(grad=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 40.0])


def test_backward_with_a_tensor_grad():
    x = leaf([1.0, 2.0])
    (x * 3.0).backward(grad=sg.tensor([2.0, 1.0], dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data, [6.0, 3.0])


def test_backward_with_a_wrong_shape_grad_raises():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"backward: grad has shape \(3,\).*\(2,\)"):
        y.backward(grad=np.ones(3))


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (sg.tensor([1.0]) * 2.0).sum().backward()


# ---------------------------------------------------------------- grad modes
def test_no_grad_records_nothing():
    x = leaf([1.0])
    with sg.no_grad():
        y = x * 2.0
        assert not sg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert sg.is_grad_enabled()


def test_enable_grad_inside_no_grad_records():
    x = leaf([1.0])
    with sg.no_grad():
        with sg.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and not z.requires_grad


def test_nested_no_grad_restores_each_level():
    with sg.no_grad():
        with sg.no_grad():
            assert not sg.is_grad_enabled()
        assert not sg.is_grad_enabled()
        with sg.set_grad_enabled(True):
            assert sg.is_grad_enabled()
        assert not sg.is_grad_enabled()
    assert sg.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(KeyError):
        with sg.no_grad():
            raise KeyError("boom")
    assert sg.is_grad_enabled()


def test_no_grad_works_as_a_decorator():
    x = leaf([1.0])

    @sg.no_grad()
    def double(t):
        return t * 2.0

    assert not double(x).requires_grad
    assert (x * 2.0).requires_grad


def test_no_grad_in_one_thread_does_not_affect_another():
    entered, release = threading.Event(), threading.Event()

    def worker():
        with sg.no_grad():
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(5)
        assert sg.is_grad_enabled()
        assert (leaf([1.0]) * 2.0).requires_grad
    finally:
        release.set()
        thread.join()


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with sg.no_grad():
        thread = threading.Thread(target=lambda: seen.append(sg.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_requires_grad_on_a_non_float_tensor_raises_type_error(dtype):
    with pytest.raises(TypeError, match=f"requires_grad: .*{np.dtype(dtype).name}"):
        sg.tensor([1, 0], dtype=dtype, requires_grad=True)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        sg.tensor([1, 0], dtype=dtype).requires_grad_()


# ---------------------------------------------------------------- scratchgen.grad
def test_grad_with_several_inputs():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gy = sg.grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    np.testing.assert_array_equal(gy.data, [1.0, 2.0])


def test_grad_with_several_outputs_sums_them():
    x = leaf([1.0, 2.0])
    (g,) = sg.grad([(x * x).sum(), (3.0 * x).sum()], [x])
    np.testing.assert_array_equal(g.data, [2.0 + 3.0, 4.0 + 3.0])


def test_grad_with_a_single_input_returns_a_one_tuple():
    x = leaf(2.0)
    result = sg.grad(x * x, x)
    assert isinstance(result, tuple) and len(result) == 1
    assert result[0].item() == 4.0


def test_grad_outputs_weight_each_output():
    x = leaf([1.0, 2.0])
    a, b = x * 2.0, x * x
    (g,) = sg.grad([a, b], x, grad_outputs=[np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    np.testing.assert_array_equal(g.data, [2.0, 4.0])


def test_grad_outputs_count_must_match_outputs():
    x = leaf([1.0])
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        sg.grad(x * 2.0, x, grad_outputs=[np.ones(1), np.ones(1)])


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    (g,) = sg.grad((h * h).sum(), h)
    np.testing.assert_array_equal(g.data, 2.0 * h.data)


def test_grad_does_not_touch_dot_grad():
    x = leaf([1.0, 2.0])
    h = (x * 2.0).retain_grad()
    sg.grad((h * x).sum(), [x])
    assert x.grad is None and h.grad is None


def test_grad_leaves_an_existing_dot_grad_unchanged():
    x = leaf([1.0, 2.0])
    (x * 5.0).sum().backward()
    sg.grad((x * x).sum(), x)
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])


def test_grad_of_an_unused_input_raises_clearly():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match=r"grad: input 1 .*not used.*allow_unused=True"):
        sg.grad((x * 2.0).sum(), [x, unused])


def test_allow_unused_returns_none():
    x, unused = leaf([1.0]), leaf([2.0])
    gx, gu = sg.grad((x * 2.0).sum(), [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_array_equal(gx.data, [2.0])


def test_grad_of_an_input_without_requires_grad_raises():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="grad: input 1 .*does not require grad"):
        sg.grad((x * 2.0).sum(), [x, sg.tensor([1.0])])


def test_grad_of_an_output_without_requires_grad_raises():
    with pytest.raises(RuntimeError, match="grad: output 0 .*does not require grad"):
        sg.grad(sg.tensor([1.0]).sum(), leaf([1.0]))


def test_grad_of_a_non_scalar_output_needs_grad_outputs():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"grad: .*one-element"):
        sg.grad(x * 2.0, x)


# ---------------------------------------------------------------- higher order
def test_grad_without_create_graph_records_no_graph():
    x = leaf([1.0, 2.0])
    (g,) = sg.grad((x**3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_backward_without_create_graph_records_no_graph():
    x = leaf([1.0, 2.0])
    (x**3).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


def test_create_graph_gives_a_gradient_that_requires_grad():
    x = leaf([1.0, 2.0])
    (g,) = sg.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_array_equal(g.data, 3.0 * x.data**2)


def test_backward_with_create_graph_makes_grad_differentiable():
    x = leaf([1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (second,) = sg.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(second.data, 6.0 * x.data)


def test_hessian_vector_product_of_a_cubic():
    # f(x) = 1/2 x^T A x + sum(x^3):  H = A + diag(6x),  so  H v = A v + 6 x v.
    rng = np.random.default_rng(0)
    m = rng.standard_normal((4, 4))
    a = m + m.T
    x, v = leaf(rng.standard_normal(4)), rng.standard_normal(4)
    f = 0.5 * (x @ sg.tensor(a) @ x) + (x**3).sum()
    (g,) = sg.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, a @ x.data + 3.0 * x.data**2, rtol=1e-12)
    (hv,) = sg.grad((g * sg.tensor(v)).sum(), x)
    np.testing.assert_allclose(hv.data, a @ v + 6.0 * x.data * v, rtol=1e-12)


def test_third_derivative_of_x_to_the_fourth_is_24x():
    x = leaf([-1.5, 0.5, 2.0])
    (d1,) = sg.grad((x**4).sum(), x, create_graph=True)
    (d2,) = sg.grad(d1.sum(), x, create_graph=True)
    (d3,) = sg.grad(d2.sum(), x)
    np.testing.assert_allclose(d1.data, 4.0 * x.data**3)
    np.testing.assert_allclose(d2.data, 12.0 * x.data**2)
    np.testing.assert_allclose(d3.data, 24.0 * x.data)


def test_second_derivative_through_exp_and_division():
    # f(x) = exp(x) / x:  f'' = exp(x) (x^2 - 2x + 2) / x^3.
    x = leaf([0.5, 2.0])
    (d1,) = sg.grad((x.exp() / x).sum(), x, create_graph=True)
    (d2,) = sg.grad(d1.sum(), x)
    v = x.data
    np.testing.assert_allclose(d2.data, np.exp(v) * (v**2 - 2 * v + 2) / v**3, rtol=1e-12)
