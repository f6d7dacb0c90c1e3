"""Tensor: construction and dtype rules, attributes, repr, Python operators, factories."""
import operator
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen import Tensor

BINARY_OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]
COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]
SHAPES = st.lists(st.integers(0, 4), max_size=3).map(tuple)

# Positive values so that every operator (including pow and division) is finite.
A = np.array([[0.5, 1.0, 2.0], [3.0, 1.5, 0.25]], dtype=np.float32)
B = np.array([[2.0, 0.5, 1.0], [1.0, 4.0, 2.0]], dtype=np.float32)


# ---------------------------------------------------------------- construction and dtypes
def test_python_floats_become_float32():
    assert sg.tensor([1.0, 2.0]).dtype == np.float32
    assert sg.tensor(3.0).dtype == np.float32
    assert Tensor([[1.5]]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_float_arrays_keep_their_dtype(dtype):
    assert sg.tensor(np.ones(3, dtype=dtype)).dtype == dtype
    assert Tensor(np.ones(3, dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32, np.int64])
def test_dtype_argument_is_honoured(dtype):
    assert sg.tensor([1.0, 2.0], dtype=dtype).dtype == dtype
    assert sg.tensor(np.ones(2, dtype=np.float32), dtype=dtype).dtype == dtype
    assert Tensor([1, 2], dtype=dtype).dtype == dtype


def test_python_ints_stay_integer():
    t = sg.tensor([1, 2, 3])
    assert t.dtype.kind == "i"
    assert t.tolist() == [1, 2, 3]


def test_python_bools_stay_bool():
    assert sg.tensor([True, False]).dtype == np.bool_


def test_mixed_ints_and_floats_become_float32():
    assert sg.tensor([1, 2.5]).dtype == np.float32


def test_tensor_copies_its_input():
    source = np.array([1.0, 2.0], dtype=np.float32)
    t = sg.tensor(source)
    source[0] = 99.0
    assert t.data[0] == 1.0
    assert not np.shares_memory(t.data, source)


def test_tensor_of_a_tensor_is_a_new_leaf_with_its_own_data():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = sg.tensor(x)
    assert y is not x and y.is_leaf and not y.requires_grad
    assert not np.shares_memory(x.data, y.data)


def test_Tensor_constructor_shares_an_array_of_matching_dtype():
    source = np.zeros(3, dtype=np.float32)
    t = Tensor(source)
    source[1] = 7.0
    assert t.data[1] == 7.0


def test_np_array_of_a_tensor_is_a_copy():
    t = sg.tensor([1.0, 2.0])
    copied = np.array(t)
    copied[0] = 99.0
    assert t.data[0] == 1.0


def test_np_asarray_of_a_tensor_gives_its_values():
    t = sg.tensor([[1.0, 2.0]])
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 2.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


# ---------------------------------------------------------------- attributes
def test_attributes_of_a_leaf():
    x = sg.tensor(A, requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    assert x.grad is None and x.grad_fn is None
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.dtype == np.float32
    assert x.requires_grad and x.is_leaf


def test_attributes_of_an_op_output():
    x = sg.tensor(A, requires_grad=True)
    y = x * 2.0
    assert y.requires_grad and not y.is_leaf
    assert type(y.grad_fn).__name__ == "Mul"
    assert y.grad is None


def test_ops_on_constants_record_nothing():
    y = sg.tensor(A) * sg.tensor(B)
    assert not y.requires_grad and y.is_leaf and y.grad_fn is None


def test_requires_grad_can_be_set_and_requires_grad_returns_self():
    x = sg.tensor([1.0])
    x.requires_grad = True
    assert x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_detach_shares_data_and_leaves_the_graph():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    d = y.detach()
    assert d.is_leaf and d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.data, y.data)
    np.testing.assert_array_equal(d.data, [3.0, 6.0])


def test_numpy_returns_the_underlying_array():
    x = sg.tensor([1.0, 2.0])
    assert x.numpy() is x.data


def test_item_returns_a_python_number():
    assert sg.tensor([[2.5]]).item() == 2.5
    assert isinstance(sg.tensor(2.5).item(), float)
    assert isinstance(sg.tensor(3).item(), int)


@pytest.mark.parametrize("shape", [(2,), (0,), (1, 2)])
def test_item_raises_unless_exactly_one_element(shape):
    with pytest.raises(ValueError, match=r"item: .*one element.*" + re.escape(str(shape))):
        sg.zeros(shape).item()


# ---------------------------------------------------------------- repr
def test_repr_of_a_float32_constant_is_plain():
    assert repr(sg.tensor([1.0, 2.0])) == "tensor([1., 2.])"


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool"])
def test_repr_shows_dtype_when_not_float32(dtype):
    assert f"dtype={dtype}" in repr(sg.tensor([1, 0], dtype=dtype))


def test_repr_shows_requires_grad_of_a_leaf():
    assert repr(sg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"


def test_repr_shows_grad_fn_of_an_op_output():
    text = repr(sg.tensor([1.0], requires_grad=True) + 1.0)
    assert "grad_fn=<Add>" in text and "requires_grad" not in text


# ---------------------------------------------------------------- operators
@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
def test_binary_operator_between_tensors_matches_numpy(op):
    out = op(sg.tensor(A), sg.tensor(B))
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, op(A, B), rtol=1e-6)


@pytest.mark.parametrize("scalar", [2, 2.0])
@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
def test_binary_operator_with_a_scalar_on_the_right(op, scalar):
    out = op(sg.tensor(A), scalar)
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, op(A, np.float32(scalar)), rtol=1e-6)


@pytest.mark.parametrize("scalar", [2, 2.0])
@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
def test_reflected_operator_with_a_scalar_on_the_left(op, scalar):
    out = op(scalar, sg.tensor(A))
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, op(np.float32(scalar), A), rtol=1e-6)


@pytest.mark.parametrize("op", BINARY_OPS + [operator.matmul], ids=lambda op: op.__name__)
def test_ndarray_on_the_left_returns_a_tensor(op):
    right = B if op is not operator.matmul else B.T
    out = op(A, sg.tensor(right))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, op(A, right), rtol=1e-6)


def test_matmul_operator_matches_numpy():
    out = sg.tensor(A) @ sg.tensor(B.T)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out.data, A @ B.T, rtol=1e-6)
    np.testing.assert_allclose((sg.tensor(A) @ B.T).data, A @ B.T, rtol=1e-6)


def test_negation():
    x = sg.tensor(A, requires_grad=True)
    y = -x
    np.testing.assert_array_equal(y.data, -A)
    assert type(y.grad_fn).__name__ == "Neg"


def test_unary_plus_and_abs_builtins():
    x = sg.tensor([-1.5, 2.0])
    np.testing.assert_array_equal((+x).data, [-1.5, 2.0])
    np.testing.assert_array_equal(abs(x).data, [1.5, 2.0])


def test_reflected_operators_are_differentiable():
    x = sg.tensor([0.5, 2.0], dtype=np.float64, requires_grad=True)
    ((2 - x) + (1 / x) + (2 ** x) + x ** 2).sum().backward()
    v = x.data
    expected = -1.0 - 1.0 / v**2 + 2.0**v * np.log(2.0) + 2.0 * v
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
def test_python_scalar_operands_keep_float32(op):
    x = sg.tensor(A, requires_grad=True)
    for scalar in (3, 0.5, np.float64(0.5)):
        assert op(x, scalar).dtype == np.float32
        assert op(scalar, x).dtype == np.float32


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda op: op.__name__)
def test_python_scalar_operands_keep_float64(op):
    x = sg.tensor(A, dtype=np.float64)
    assert op(x, 0.5).dtype == np.float64 and op(0.5, x).dtype == np.float64


# ---------------------------------------------------------------- comparisons
@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
def test_comparison_with_a_scalar_gives_a_bool_tensor_without_grad(op):
    x = sg.tensor(A, requires_grad=True)
    out = op(x, 1.0)
    assert isinstance(out, Tensor) and out.dtype == np.bool_
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.data, op(A, 1.0))


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
def test_comparison_between_tensors(op):
    out = op(sg.tensor(A, requires_grad=True), sg.tensor(B, requires_grad=True))
    assert out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.data, op(A, B))


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
def test_comparison_with_an_ndarray_on_the_left(op):
    out = op(A, sg.tensor(B))
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, op(A, B))


def test_tensors_stay_hashable():
    x = sg.tensor([1.0])
    assert {x: 1}[x] == 1


def test_astype_to_an_integer_dtype_gives_a_tensor_without_grad():
    x = sg.tensor([1.5, 2.5], requires_grad=True)
    y = x.astype(np.int64)
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(y.data, [1, 2])


# ---------------------------------------------------------------- factories
@given(SHAPES)
def test_zeros_and_ones_accept_separate_ints_or_a_tuple(shape):
    for factory, value in ((sg.zeros, 0.0), (sg.ones, 1.0)):
        for t in (factory(*shape), factory(shape), factory(list(shape))):
            assert t.shape == shape and t.dtype == np.float32
            assert np.all(t.data == value)


def test_factories_honour_dtype_and_requires_grad():
    for t in (sg.zeros(2, dtype=np.float64, requires_grad=True),
              sg.ones(2, dtype=np.float64, requires_grad=True),
              sg.full((2,), 3.0, dtype=np.float64, requires_grad=True),
              sg.randn(2, dtype=np.float64, requires_grad=True),
              sg.rand(2, dtype=np.float64, requires_grad=True)):
        assert t.dtype == np.float64 and t.requires_grad and t.is_leaf


def test_full_fills_with_the_value():
    t = sg.full((2, 3), 7.5)
    assert t.shape == (2, 3) and t.dtype == np.float32 and np.all(t.data == 7.5)
    assert sg.full(4, 1.0).shape == (4,)


def test_arange_of_ints_gives_integers():
    t = sg.arange(5)
    assert t.dtype.kind == "i" and t.tolist() == [0, 1, 2, 3, 4]
    assert sg.arange(2, 10, 3).tolist() == [2, 5, 8]


def test_arange_of_floats_gives_float32():
    t = sg.arange(0.0, 1.0, 0.25)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, [0.0, 0.25, 0.5, 0.75])


def test_arange_honours_dtype():
    assert sg.arange(3, dtype=np.float64).dtype == np.float64


def test_arange_with_only_stop_honours_step():
    assert sg.arange(10, step=2).tolist() == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("factory", [sg.randn, sg.rand], ids=["randn", "rand"])
def test_random_factories_are_reproducible_with_a_generator(factory):
    a = factory(3, 4, rng=np.random.default_rng(0))
    b = factory((3, 4), rng=np.random.default_rng(0))
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("factory", [sg.randn, sg.rand], ids=["randn", "rand"])
def test_random_factories_are_reproducible_with_an_int_seed(factory):
    np.testing.assert_array_equal(factory(5, rng=3).data, factory(5, rng=3).data)
    assert not np.array_equal(factory(5, rng=3).data, factory(5, rng=4).data)


def test_randn_draws_standard_normal_samples_from_the_generator():
    expected = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(sg.randn(2, 3, rng=np.random.default_rng(0)).data, expected)


def test_a_shared_generator_advances_between_calls():
    rng = np.random.default_rng(0)
    assert not np.array_equal(sg.randn(4, rng=rng).data, sg.randn(4, rng=rng).data)


def test_rand_lies_in_the_unit_interval():
    t = sg.rand(1000, rng=0)
    assert t.data.min() >= 0.0 and t.data.max() < 1.0


@pytest.mark.parametrize("rng", ["0", 0.5, np.random.RandomState(0)],
                         ids=["str", "float", "RandomState"])
@pytest.mark.parametrize("factory", [sg.randn, sg.rand], ids=["randn", "rand"])
def test_bad_rng_raises_type_error(factory, rng):
    with pytest.raises(TypeError, match=f"{factory.__name__}: rng must be"):
        factory(2, rng=rng)


@pytest.mark.parametrize("shape", [(-1,), (2.5,), ("3",), (2, -3)])
@pytest.mark.parametrize("factory", [sg.zeros, sg.ones, sg.randn, sg.rand],
                         ids=["zeros", "ones", "randn", "rand"])
def test_bad_shape_raises_value_error_naming_the_factory(factory, shape):
    with pytest.raises(ValueError, match=f"{factory.__name__}: shape must be non-negative"):
        factory(*shape)


def test_full_with_a_bad_shape_raises():
    with pytest.raises(ValueError, match="full: shape"):
        sg.full((2, -1), 0.0)


@pytest.mark.parametrize("factory", [sg.zeros_like, sg.ones_like, sg.randn_like, sg.rand_like],
                         ids=["zeros_like", "ones_like", "randn_like", "rand_like"])
def test_like_factories_copy_shape_and_dtype(factory):
    x = sg.tensor(np.zeros((2, 3)), requires_grad=True)
    t = factory(x)
    assert t.shape == (2, 3) and t.dtype == np.float64
    assert t.is_leaf and not t.requires_grad
    assert not np.shares_memory(t.data, x.data)


@pytest.mark.parametrize("factory", [sg.zeros_like, sg.ones_like, sg.randn_like, sg.rand_like],
                         ids=["zeros_like", "ones_like", "randn_like", "rand_like"])
def test_like_factories_honour_dtype_and_requires_grad(factory):
    t = factory(sg.zeros(2, 3), dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad


def test_zeros_ones_and_full_like_values():
    x = sg.tensor(A)
    assert np.all(sg.zeros_like(x).data == 0) and np.all(sg.ones_like(x).data == 1)
    t = sg.full_like(x, 3.0)
    assert t.shape == x.shape and t.dtype == np.float32 and np.all(t.data == 3.0)


@pytest.mark.parametrize("factory", [sg.randn_like, sg.rand_like], ids=["randn_like", "rand_like"])
def test_random_like_factories_are_reproducible(factory):
    x = sg.zeros(3, 2)
    a = factory(x, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.data, factory(x, rng=1).data)
