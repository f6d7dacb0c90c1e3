"""Every op of the table in ``scratchgen.testing.op_table``, checked to first and second order
against central finite differences, in float64, with broadcasting, on hypothesis inputs."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchgen as sg
from scratchgen.testing import GradcheckError, gradcheck, gradgradcheck
from scratchgen.testing.op_table import OPS

REQUIRED = {
    "add", "sub", "mul", "div", "neg", "pow_tensor", "pow_scalar", "exp", "log", "log1p",
    "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus", "clip",
    "maximum", "minimum", "where", "sum", "mean", "var", "max", "min", "logsumexp", "softmax",
    "log_softmax", "matmul", "linear", "reshape", "permute", "transpose", "swapaxes", "broadcast_to",
    "getitem", "concatenate", "stack", "split", "pad", "flatten",
    "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
    "batch_norm_train", "batch_norm_eval",
}


def _tensors(case):
    return [sg.tensor(a, requires_grad=True, dtype=np.float64) for a in case.arrays]


def test_table_covers_every_op():
    assert REQUIRED <= {spec.name for spec in OPS}


@pytest.mark.parametrize("spec", OPS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_first_order(spec, data):
    case = data.draw(spec.inputs)
    assert gradcheck(lambda *xs: spec.fn(*xs, **case.params), _tensors(case))


@pytest.mark.parametrize("spec", OPS, ids=lambda spec: spec.name)
@given(data=st.data())
def test_second_order(spec, data):
    case = data.draw(spec.inputs)
    assert gradgradcheck(lambda *xs: spec.fn(*xs, **case.params), _tensors(case))


class WrongExp(sg.autograd.function.Function):
    """exp with a deliberately wrong derivative (exp(x) / 2)."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad_out):
        return grad_out * self.output * 0.5


def test_gradcheck_catches_a_wrong_derivative():
    x = sg.tensor([0.3, -0.2], requires_grad=True, dtype=np.float64)
    with pytest.raises(GradcheckError, match=r"output 0 .* input 0"):
        gradcheck(WrongExp.apply, [x])
    assert gradcheck(WrongExp.apply, [x], raise_exception=False) is False


def test_gradcheck_catches_a_wrong_derivative_in_direction_mode():
    x = sg.tensor(np.linspace(-1, 1, 400), requires_grad=True, dtype=np.float64)
    with pytest.raises(GradcheckError, match="directional derivative"):
        gradcheck(WrongExp.apply, [x])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FirstOrderOnlyTanh(sg.autograd.function.Function):
        """tanh whose backward uses the output as a constant: right first, wrong second."""

        def forward(self, x):
            self.y = np.tanh(x)
            return self.y

        def backward(self, grad_out):
            return grad_out * (1.0 - self.y * self.y)

    x = sg.tensor([0.3, -0.7], requires_grad=True, dtype=np.float64)
    assert gradcheck(FirstOrderOnlyTanh.apply, [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(FirstOrderOnlyTanh.apply, [x])


def test_gradcheck_warns_on_float32():
    x = sg.tensor([0.3, -0.2], requires_grad=True)
    with pytest.warns(UserWarning, match="float32"):
        gradcheck(lambda t: t * 2.0, [x], atol=1e-2, rtol=1e-2)


def test_gradcheck_leaves_the_inputs_untouched():
    values = np.array([0.5, 1.5])
    x = sg.tensor(values, requires_grad=True, dtype=np.float64)
    gradcheck(lambda t: t.log(), [x])
    np.testing.assert_array_equal(x.data, values)
    assert x.grad is None
