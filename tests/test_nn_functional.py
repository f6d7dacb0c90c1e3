"""scratchgen.nn.functional's conv and pooling ops: shapes, errors at the Python boundary, and
a gradient penalty (double backward through convolutions) against PyTorch when available.

Gradients to first and second order are checked for every op in test_ops_gradcheck.py (the
op table has rows for conv2d, conv_transpose2d, max_pool2d and avg_pool2d)."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn.functional as F


def rand(*shape, dtype=np.float32, seed=0, requires_grad=False):
    return sg.randn(*shape, rng=seed, dtype=dtype, requires_grad=requires_grad)


@pytest.mark.parametrize("stride, padding, dilation, expected", [
    (1, 0, 1, (2, 4, 6, 6)), (2, 1, 1, (2, 4, 4, 4)), ((1, 2), (0, 1), (2, 1), (2, 4, 4, 4)),
])
def test_conv2d_output_shape(stride, padding, dilation, expected):
    y = F.conv2d(rand(2, 3, 8, 8), rand(4, 3, 3, 3), stride=stride, padding=padding,
                 dilation=dilation)
    assert y.shape == expected


def test_conv_transpose2d_inverts_the_conv_shape():
    x = rand(2, 3, 28, 28)
    w = rand(8, 3, 4, 4)
    y = F.conv2d(x, w, stride=2, padding=1)
    assert y.shape == (2, 8, 14, 14)
    assert F.conv_transpose2d(y, w, stride=2, padding=1).shape == x.shape


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv(x, w), y> == <x, conv_transpose(y, w)> for every x, y: the defining identity.
    x, y, w = rand(2, 4, 9, 7, dtype=np.float64), rand(2, 6, 5, 4, dtype=np.float64, seed=1), \
        rand(6, 2, 3, 2, dtype=np.float64, seed=2)
    settings = dict(stride=2, padding=(1, 1), dilation=(1, 2), groups=2)
    lhs = (F.conv2d(x, w, **settings) * y).sum().item()
    rhs = (x * F.conv_transpose2d(y, w, **settings)).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_wrong_channel_count_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 1 "
                                         r"\(x.shape=\(1, 3, 5, 5\), w.shape=\(2, 1, 3, 3\)"):
        F.conv2d(rand(1, 3, 5, 5), rand(2, 1, 3, 3))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"conv2d: kernel \(5, 5\).*larger than the padded "
                                         r"input \(4, 4\)"):
        F.conv2d(rand(1, 1, 4, 4), rand(1, 1, 5, 5))
    with pytest.raises(ValueError, match="max_pool2d: kernel"):
        F.max_pool2d(rand(1, 1, 2, 2), 3, padding=0)


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(rand(3, 5, 5), rand(2, 3, 3, 3)),
    lambda: F.conv_transpose2d(rand(3, 5, 5), rand(3, 2, 3, 3)),
    lambda: F.max_pool2d(rand(5, 5), 2),
    lambda: F.avg_pool2d(rand(1, 2, 5), 2),
])
def test_non_4d_input(call):
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, C, H, W\)"):
        call()


def test_mismatched_dtypes():
    with pytest.raises(ValueError, match="conv2d: input and weight must share.*float32 and "
                                         "float64"):
        F.conv2d(rand(1, 1, 5, 5), rand(1, 1, 3, 3, dtype=np.float64))


@pytest.mark.parametrize("kwargs, message", [
    ({"stride": 0}, "stride must be"), ({"padding": -1}, "padding must be"),
    ({"dilation": (1, 0)}, "dilation must be"), ({"groups": 4}, "groups must be"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(rand(1, 2, 5, 5), rand(2, 2, 3, 3), **kwargs)


def test_bad_bias_and_output_padding():
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(2,\)"):
        F.conv2d(rand(1, 1, 5, 5), rand(2, 1, 3, 3), rand(3))
    with pytest.raises(ValueError, match="output_padding .* must be smaller"):
        F.conv_transpose2d(rand(1, 1, 5, 5), rand(1, 1, 3, 3), stride=2, output_padding=2)


def test_pool_padding_limited_to_half_kernel():
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.avg_pool2d(rand(1, 1, 6, 6), 2, padding=2)


def test_gradient_penalty_through_convolutions_matches_torch():
    """WGAN-GP's penalty: (||d critic(x) / dx|| - 1)^2, differentiated in the weights."""
    torch = pytest.importorskip("torch")
    x = rand(2, 1, 8, 8, dtype=np.float64, requires_grad=True)
    w1 = rand(4, 1, 4, 4, dtype=np.float64, seed=1, requires_grad=True)
    w2 = rand(1, 4, 4, 4, dtype=np.float64, seed=2, requires_grad=True)

    def penalty(lib, x, w1, w2):
        conv = lib.nn.functional.conv2d if lib is torch else F.conv2d
        h = conv(x, w1, stride=2, padding=1)
        score = conv(h * (h > 0), w2, stride=2, padding=1).sum()  # relu via a mask
        (g,) = (torch.autograd.grad if lib is torch else sg.grad)(score, x, create_graph=True)
        return ((g * g).sum() ** 0.5 - 1.0) ** 2

    ours = penalty(sg, x, w1, w2)
    ours.backward()
    tx, tw1, tw2 = (torch.tensor(t.data, requires_grad=True) for t in (x, w1, w2))
    theirs = penalty(torch, tx, tw1, tw2)
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)
    for mine, ref in ((w1, tw1), (w2, tw2), (x, tx)):
        # The critic is piecewise linear in x, so the penalty does not reach x: no gradient
        # (None) on either side counts as zeros.
        ours = np.zeros(mine.shape) if mine.grad is None else mine.grad.data
        expected = np.zeros(mine.shape) if ref.grad is None else ref.grad.numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    assert np.abs(w1.grad.data).sum() > 0


@pytest.mark.parametrize("backend_name", ["numpy", "cython"])
def test_max_pool2d_window_of_padding_has_no_gradient(backend_name):
    # Dilation 2 over a 1-row input padded by one row: the one output row reads rows -1 and
    # 1, neither of which exists, so its max is -inf and no input receives its gradient,
    # nor, in the double backward, does its gradient receive anything.
    if backend_name not in sg.backend.available():
        pytest.skip("compiled kernels not built")
    with sg.backend.use(backend_name):
        x = sg.tensor(np.array([[[[3.0, -4.0]]]]), requires_grad=True)
        y = F.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1))
        assert y.shape == (1, 1, 1, 2) and np.all(y.data == -np.inf)
        g = sg.tensor(np.ones(y.shape), requires_grad=True)
        (grad_x,) = sg.grad(y, x, grad_outputs=g, create_graph=True)
        np.testing.assert_array_equal(grad_x.data, 0.0)
        (grad_g,) = sg.grad((grad_x * sg.tensor(np.array([[[[5.0, 7.0]]]]))).sum(), g)
        np.testing.assert_array_equal(grad_g.data, 0.0)
