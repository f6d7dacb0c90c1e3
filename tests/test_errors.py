"""User mistakes raise clear errors that name the function, what was expected and what came."""
import operator
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg

SHAPES = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@st.composite
def incompatible_shapes(draw):
    """Two shapes with one trailing axis of unequal lengths, neither of them 1."""
    a, b = draw(SHAPES), draw(SHAPES)
    k = draw(st.integers(1, min(len(a), len(b))))
    a[-k] = draw(st.integers(2, 4))
    b[-k] = draw(st.integers(2, 4).filter(lambda n: n != a[-k]))
    return tuple(a), tuple(b)


def shape_pattern(*shapes):
    """A regex that matches when every shape appears, in order."""
    return ".*".join(re.escape(str(s)) for s in shapes)


# ---------------------------------------------------------------- matmul
def test_matmul_inner_dimension_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        sg.ones(2, 3) @ sg.ones(4, 5)
    message = str(info.value)
    assert "matmul" in message and "(2, 3)" in message and "(4, 5)" in message


def test_matmul_function_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: .*" + shape_pattern((2, 3), (4, 5))):
        sg.matmul(sg.ones(2, 3), sg.ones(4, 5))


def test_matmul_of_vectors_names_the_shapes_the_user_passed():
    with pytest.raises(ValueError, match=r"matmul: .*" + shape_pattern((3,), (4,))):
        sg.ones(3) @ sg.ones(4)


def test_matmul_with_a_scalar_raises():
    with pytest.raises(ValueError, match=r"matmul: .*at least one dimension"):
        sg.matmul(sg.tensor(2.0), sg.ones(2))


def test_matmul_batch_axes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"matmul: .*" + shape_pattern((2, 3, 4), (5, 4, 6))):
        sg.ones(2, 3, 4) @ sg.ones(5, 4, 6)


# ---------------------------------------------------------------- broadcasting
@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.sub, "sub"),
                                      (operator.mul, "mul"), (operator.truediv, "div"),
                                      (operator.pow, "pow")])
def test_non_broadcastable_binary_op_names_op_and_shapes(op, name):
    with pytest.raises(ValueError, match=f"{name}: .*broadcast.*" + shape_pattern((2, 3), (4,))):
        op(sg.ones(2, 3, requires_grad=True), sg.ones(4))


@given(incompatible_shapes())
def test_any_non_broadcastable_pair_raises_value_error(shapes):
    shape_a, shape_b = shapes
    with pytest.raises(ValueError, match="add: .*" + shape_pattern(shape_a, shape_b)):
        sg.ones(shape_a) + sg.ones(shape_b)


def test_broadcast_to_an_incompatible_shape():
    with pytest.raises(ValueError, match=r"broadcast_to: .*" + shape_pattern((3,), (2, 4))):
        sg.ones(3).broadcast_to((2, 4))


# ---------------------------------------------------------------- movement
def test_reshape_to_a_wrong_size_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape: .*" + shape_pattern((2, 3)) + r".*6 elements.*"
                       + shape_pattern((4, 2))):
        sg.ones(2, 3).reshape(4, 2)


def test_reshape_with_two_unknown_sizes():
    with pytest.raises(ValueError, match="reshape: "):
        sg.ones(2, 3).reshape(-1, -1)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (1, 1, 1)])
def test_permute_with_axes_that_are_not_a_permutation(axes):
    with pytest.raises(ValueError, match=r"permute: axes .* not a permutation"):
        sg.ones(2, 3, 4).permute(*axes)


@pytest.mark.parametrize("call, name", [
    (lambda: sg.ones(1, 1).permute(0, 5), "permute"),
    (lambda: sg.ones(1, 1).permute(0, -3), "permute"),
    (lambda: sg.ones(1, 1).swapaxes(0, 5), "swapaxes"),
    (lambda: sg.ones(1, 1, 1).transpose(0, 5), "swapaxes"),
    (lambda: sg.ones(1, 1).unsqueeze(5), "unsqueeze"),
    (lambda: sg.ones(1, 1).squeeze(5), "squeeze"),
    (lambda: sg.ones(1, 1).split(1, axis=2), "split"),
    (lambda: sg.ones(1, 1).flatten(0, 4), "flatten"),
], ids=["permute", "permute-negative", "swapaxes", "transpose", "unsqueeze", "squeeze",
        "split", "flatten"])
def test_out_of_range_axis_raises_value_error_naming_the_function(call, name):
    with pytest.raises(ValueError, match=f"{name}: "):
        call()


def test_concatenate_of_mismatched_shapes_names_them():
    pattern = r"concatenate: .*axis 0.*" + shape_pattern((2, 3), (2, 4))
    with pytest.raises(ValueError, match=pattern):
        sg.concatenate([sg.ones(2, 3), sg.ones(2, 4)], axis=0)


def test_concatenate_of_different_ranks():
    with pytest.raises(ValueError, match=r"concatenate: .*" + shape_pattern((2, 3), (3,))):
        sg.concatenate([sg.ones(2, 3), sg.ones(3)])


@pytest.mark.parametrize("join", [sg.concatenate, sg.stack], ids=["concatenate", "stack"])
def test_joining_nothing_raises(join):
    with pytest.raises(ValueError, match=f"{join.__name__}: expected at least one tensor"):
        join([])


def test_stack_of_unequal_shapes_names_them():
    with pytest.raises(ValueError, match=r"stack: .*same shape.*" + shape_pattern((2,), (3,))):
        sg.stack([sg.ones(2), sg.ones(3)])


@pytest.mark.parametrize("sizes", [[1, 1], [2, 2], [4, -1]])
def test_split_sizes_that_do_not_add_up(sizes):
    with pytest.raises(ValueError, match=r"split: sizes .* add up to 3"):
        sg.split(sg.ones(3, 2), sizes)


def test_split_with_a_non_positive_piece_size():
    with pytest.raises(ValueError, match="split: piece size must be positive, got 0"):
        sg.ones(3).split(0)


def test_pad_with_negative_widths():
    with pytest.raises(ValueError, match=r"pad: pad widths must be non-negative.*-1"):
        sg.ones(2, 2).pad(((0, -1), (1, 1)))


def test_pad_with_the_wrong_number_of_pairs():
    with pytest.raises(ValueError, match=r"pad: pad_width .*" + shape_pattern((2, 2))):
        sg.ones(2, 2).pad(((0, 1), (1, 1), (2, 2)))


def test_squeeze_of_an_axis_longer_than_one():
    with pytest.raises(ValueError, match="squeeze: axis 1 has length 3, not 1"):
        sg.ones(1, 3).squeeze(1)


def test_flatten_with_start_after_end():
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        sg.ones(2, 3).flatten(1, 0)


# ---------------------------------------------------------------- elementwise and reductions
def test_where_without_a_tensor_raises_type_error():
    with pytest.raises(TypeError, match="where: at least one of x and y must be a Tensor"):
        sg.where(np.array([True, False]), 1.0, 2.0)


@pytest.mark.parametrize("reduction", ["max", "min"])
def test_max_and_min_of_an_empty_tensor(reduction):
    with pytest.raises(ValueError, match=f"{reduction}: cannot reduce an empty tensor"):
        getattr(sg.zeros(0), reduction)()


@pytest.mark.parametrize("reduction", ["sum", "max", "min", "logsumexp", "mean", "var"])
def test_reduction_over_an_out_of_range_axis(reduction):
    with pytest.raises(ValueError, match=r"axis 2 is out of range for a tensor with 2 dims"):
        getattr(sg.ones(2, 3), reduction)(axis=2)
