"""Every layer of scratchgen.nn: gradients (first order for all, second order for a subset),
BatchNorm's and Dropout's two modes, state-dict round trips, initialization, ``nn.init``, and
PyTorch as an oracle (outputs and gradients of layers loaded from a torch state dict).

Gradient checks run in float64 with respect to the input and every parameter. ``gradcheck``
differentiates with respect to tensors it owns (it perturbs their data), so ``call_with``
swaps them in for the layer's parameters during the call, as ``torch.func.functional_call``
does."""
import math

import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn as nn
from scratchgen.testing import gradcheck, gradgradcheck

F64 = np.float64
RTOL, ATOL = 1e-5, 1e-8  # against PyTorch; both sides compute in float64


# ----------------------------------------------------------------------- the layer table
def seeded(cls, *args, **kwargs):
    """A layer with random initial parameters: ``rng=`` and ``dtype=``."""
    return lambda seed: cls(*args, rng=seed, dtype=F64, **kwargs)


def typed(cls, *args, **kwargs):
    """A layer with deterministic initial parameters (BatchNorm, LayerNorm): ``dtype=``."""
    return lambda seed: cls(*args, dtype=F64, **kwargs)


def plain(cls, *args, **kwargs):
    return lambda seed: cls(*args, **kwargs)


class Case:
    """One layer configuration: how to build it here and in PyTorch, and what to feed it.

    ``data``: "normal" (values at least 0.1 away from 0, the kink of relu and friends),
    "distinct" (no ties, for max pooling) or "indices" (integers, for Embedding).
    """

    def __init__(self, id, make, shape, torch, modes=("train",), data="normal"):
        self.id, self.make, self.shape, self.torch = id, make, shape, torch
        self.modes, self.data = modes, data

    def input(self, seed=0):
        rng = np.random.default_rng(seed)
        if self.data == "indices":
            return rng.integers(0, 7, self.shape)
        if self.data == "distinct":
            n = math.prod(self.shape)
            return (rng.permutation(n) * (4.0 / n) - 2.0).reshape(self.shape)
        x = rng.standard_normal(self.shape)
        return np.sign(x) * (0.1 + np.abs(x))


BOTH = ("train", "eval")
CASES = [
    Case("linear", seeded(nn.Linear, 5, 3), (4, 5), lambda t: t.nn.Linear(5, 3)),
    Case("linear_no_bias_3d_input", seeded(nn.Linear, 5, 3, bias=False), (2, 3, 5),
         lambda t: t.nn.Linear(5, 3, bias=False)),
    Case("conv2d", seeded(nn.Conv2d, 2, 3, 3), (2, 2, 5, 5), lambda t: t.nn.Conv2d(2, 3, 3)),
    Case("conv2d_stride_padding", seeded(nn.Conv2d, 2, 4, 3, stride=2, padding=1), (2, 2, 6, 6),
         lambda t: t.nn.Conv2d(2, 4, 3, stride=2, padding=1)),
    Case("conv2d_dilation", seeded(nn.Conv2d, 2, 2, 3, padding=2, dilation=2), (1, 2, 6, 6),
         lambda t: t.nn.Conv2d(2, 2, 3, padding=2, dilation=2)),
    Case("conv2d_groups_rect", seeded(nn.Conv2d, 4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                      groups=2, bias=False), (2, 4, 5, 5),
         lambda t: t.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2,
                               bias=False)),
    Case("conv2d_depthwise", seeded(nn.Conv2d, 3, 3, 3, padding=1, groups=3), (1, 3, 4, 4),
         lambda t: t.nn.Conv2d(3, 3, 3, padding=1, groups=3)),
    Case("conv_transpose2d", seeded(nn.ConvTranspose2d, 3, 2, 3), (2, 3, 4, 4),
         lambda t: t.nn.ConvTranspose2d(3, 2, 3)),
    Case("conv_transpose2d_output_padding",
         seeded(nn.ConvTranspose2d, 2, 3, 3, stride=2, padding=1, output_padding=1),
         (2, 2, 3, 3),
         lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)),
    Case("conv_transpose2d_groups_dilation",
         seeded(nn.ConvTranspose2d, 4, 2, 2, stride=2, output_padding=1, groups=2, dilation=2),
         (1, 4, 3, 3),
         lambda t: t.nn.ConvTranspose2d(4, 2, 2, stride=2, output_padding=1, groups=2,
                                        dilation=2)),
    Case("batchnorm1d_2d_input", typed(nn.BatchNorm1d, 3), (6, 3),
         lambda t: t.nn.BatchNorm1d(3), BOTH),
    Case("batchnorm1d_3d_input", typed(nn.BatchNorm1d, 3, momentum=0.3), (4, 3, 5),
         lambda t: t.nn.BatchNorm1d(3, momentum=0.3), BOTH),
    Case("batchnorm2d", typed(nn.BatchNorm2d, 3), (2, 3, 4, 4),
         lambda t: t.nn.BatchNorm2d(3), BOTH),
    Case("batchnorm2d_no_affine", typed(nn.BatchNorm2d, 3, affine=False), (2, 3, 3, 3),
         lambda t: t.nn.BatchNorm2d(3, affine=False), BOTH),
    Case("batchnorm2d_no_running_stats", typed(nn.BatchNorm2d, 3, track_running_stats=False),
         (2, 3, 3, 3), lambda t: t.nn.BatchNorm2d(3, track_running_stats=False), BOTH),
    Case("layernorm", typed(nn.LayerNorm, 5), (3, 5), lambda t: t.nn.LayerNorm(5)),
    Case("layernorm_2d_shape", typed(nn.LayerNorm, (3, 4)), (2, 3, 4),
         lambda t: t.nn.LayerNorm((3, 4))),
    Case("dropout", lambda seed: nn.Dropout(0.3, rng=seed), (4, 6),
         lambda t: t.nn.Dropout(0.3), ("eval",)),
    Case("embedding", seeded(nn.Embedding, 7, 3), (2, 5), lambda t: t.nn.Embedding(7, 3),
         data="indices"),
    Case("maxpool2d", plain(nn.MaxPool2d, 2), (2, 2, 4, 4), lambda t: t.nn.MaxPool2d(2),
         data="distinct"),
    Case("maxpool2d_stride_padding", plain(nn.MaxPool2d, 3, stride=2, padding=1), (1, 2, 5, 5),
         lambda t: t.nn.MaxPool2d(3, stride=2, padding=1), data="distinct"),
    Case("avgpool2d", plain(nn.AvgPool2d, 2), (2, 2, 4, 4), lambda t: t.nn.AvgPool2d(2)),
    Case("avgpool2d_padding_exclude", plain(nn.AvgPool2d, 3, stride=2, padding=1,
                                            count_include_pad=False), (1, 2, 5, 5),
         lambda t: t.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
    Case("avgpool2d_padding_include", plain(nn.AvgPool2d, 3, stride=2, padding=1), (1, 2, 5, 5),
         lambda t: t.nn.AvgPool2d(3, stride=2, padding=1)),
    Case("upsample", plain(nn.Upsample, scale_factor=2), (1, 2, 3, 3),
         lambda t: t.nn.Upsample(scale_factor=2, mode="nearest")),
    Case("flatten", plain(nn.Flatten), (2, 3, 2, 2), lambda t: t.nn.Flatten()),
    Case("flatten_middle", plain(nn.Flatten, 1, 2), (2, 3, 2, 2), lambda t: t.nn.Flatten(1, 2)),
    Case("unflatten", plain(nn.Unflatten, 1, (2, 3)), (2, 6), lambda t: t.nn.Unflatten(1, (2, 3))),
    Case("relu", plain(nn.ReLU), (3, 4), lambda t: t.nn.ReLU()),
    Case("leaky_relu", plain(nn.LeakyReLU, 0.2), (3, 4), lambda t: t.nn.LeakyReLU(0.2)),
    Case("elu", plain(nn.ELU, 0.7), (3, 4), lambda t: t.nn.ELU(0.7)),
    Case("tanh", plain(nn.Tanh), (3, 4), lambda t: t.nn.Tanh()),
    Case("sigmoid", plain(nn.Sigmoid), (3, 4), lambda t: t.nn.Sigmoid()),
    Case("softplus", plain(nn.Softplus), (3, 4), lambda t: t.nn.Softplus()),
    Case("softplus_beta", plain(nn.Softplus, beta=2.5), (3, 4), lambda t: t.nn.Softplus(2.5)),
]
BY_ID = {case.id: case for case in CASES}
MODE_CASES = [pytest.param(case, mode, id=f"{case.id}-{mode}")
              for case in CASES for mode in case.modes]


# ----------------------------------------------------------------------- gradient checks
def call_with(module, params, x):
    """``module(x)`` with its parameters replaced by ``params`` ({dotted name: Tensor})."""
    def owner_of(name):
        *path, leaf = name.split(".")
        owner = module
        for step in path:
            owner = owner._modules[step]
        return owner, leaf

    saved = {}
    for name, value in params.items():
        owner, leaf = owner_of(name)
        saved[name], owner._parameters[leaf] = owner._parameters[leaf], value
    try:
        return module(x)
    finally:
        for name, value in saved.items():
            owner, leaf = owner_of(name)
            owner._parameters[leaf] = value


def checked_function(module):
    """(fn, parameter tensors) for gradcheck: fn(x, *params) = module(x) with those params.

    Dropout is reseeded at every call: gradcheck evaluates fn many times and needs the same
    mask every time.
    """
    names = [name for name, _ in module.named_parameters()]

    def fn(x, *params):
        for m in module.modules():
            if isinstance(m, nn.Dropout):
                m.rng = np.random.default_rng(0)
        return call_with(module, dict(zip(names, params)), x)

    params = [sg.tensor(np.array(p.data), requires_grad=True) for p in module.parameters()]
    return fn, params


def layer_inputs(case, module):
    fn, params = checked_function(module)
    data = case.input()
    x = sg.tensor(data, requires_grad=data.dtype.kind == "f")
    return fn, [x] + params


@pytest.mark.parametrize("case, mode", MODE_CASES)
def test_gradcheck(case, mode):
    module = case.make(0).train(mode == "train")
    fn, inputs = layer_inputs(case, module)
    assert gradcheck(fn, inputs)


def test_gradcheck_dropout_in_training():
    module = nn.Dropout(0.4, rng=0)
    fn, inputs = layer_inputs(BY_ID["dropout"], module)
    out = fn(*inputs)
    assert 0 < (out.data == 0).sum() < out.size  # the check covers kept and dropped elements
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("case_id, mode, shape", [
    ("linear", "train", (3, 5)),
    ("conv2d_stride_padding", "train", (1, 2, 4, 4)),
    ("conv_transpose2d_output_padding", "train", (1, 2, 2, 2)),
    ("batchnorm2d", "train", (2, 3, 2, 2)),
    ("layernorm", "train", (2, 5)),
    ("softplus_beta", "train", (3, 4)),
])
def test_gradgradcheck(case_id, mode, shape):
    case = BY_ID[case_id]
    small = Case(case.id, case.make, shape, case.torch)
    module = small.make(0).train(mode == "train")
    fn, inputs = layer_inputs(small, module)
    assert gradgradcheck(fn, inputs, rng=0)


# ----------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_round_trip(case):
    source = case.make(0)
    rng = np.random.default_rng(1)
    for p in source.parameters():  # move away from deterministic initial values
        p.data += rng.standard_normal(p.shape)
    x = sg.tensor(case.input())
    source.train()(x)  # BatchNorm's running statistics move
    fresh = case.make(1)
    assert fresh.load_state_dict(source.state_dict()) == ([], [])
    assert list(fresh.state_dict()) == list(source.state_dict())
    for (key, a), b in zip(source.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    source.eval(), fresh.eval()
    np.testing.assert_array_equal(source(x).data, fresh(x).data)


# ----------------------------------------------------------------------- BatchNorm
def test_batchnorm_train_uses_batch_statistics():
    bn = nn.BatchNorm2d(3, dtype=F64)
    rng = np.random.default_rng(0)
    bn.weight.data[...] = rng.standard_normal(3)
    bn.bias.data[...] = rng.standard_normal(3)
    x = rng.standard_normal((4, 3, 5, 5)) * 3.0 + 2.0
    out = bn(sg.tensor(x)).data
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    w, b = bn.weight.data.reshape(1, 3, 1, 1), bn.bias.data.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5) * w + b, rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_batchnorm_running_statistics_follow_momentum_with_unbiased_variance(momentum):
    bn = nn.BatchNorm1d(2, momentum=momentum, dtype=F64)
    rng = np.random.default_rng(0)
    running_mean, running_var = np.zeros(2), np.ones(2)
    for step in range(1, 4):
        x = rng.standard_normal((5, 2, 3)) + step
        bn(sg.tensor(x))
        batch_mean = x.mean(axis=(0, 2))
        batch_var = x.var(axis=(0, 2), ddof=1)  # unbiased: 15 values, divided by 14
        running_mean = (1 - momentum) * running_mean + momentum * batch_mean
        running_var = (1 - momentum) * running_var + momentum * batch_var
        np.testing.assert_allclose(bn.running_mean.data, running_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, running_var, rtol=1e-12)
        assert bn.num_batches_tracked.data == step
    bn.eval()(sg.tensor(x))  # evaluation changes nothing
    np.testing.assert_allclose(bn.running_mean.data, running_mean, rtol=1e-12)
    assert bn.num_batches_tracked.data == 3


def test_batchnorm_eval_uses_running_statistics():
    bn = nn.BatchNorm1d(3, dtype=F64).eval()
    bn.running_mean.data[...] = [1.0, -2.0, 0.5]
    bn.running_var.data[...] = [4.0, 0.25, 1.0]
    bn.weight.data[...] = [2.0, 1.0, -1.0]
    bn.bias.data[...] = [0.0, 1.0, 3.0]
    x = np.random.default_rng(0).standard_normal((6, 3))
    expected = ((x - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5)
                * bn.weight.data + bn.bias.data)
    np.testing.assert_allclose(bn(sg.tensor(x)).data, expected, rtol=1e-12)
    # Each sample is normalized on its own: a batch of one gives its row of the batch output.
    np.testing.assert_allclose(bn(sg.tensor(x[2:3])).data, expected[2:3], rtol=1e-12)
    assert bn.num_batches_tracked.data == 0


def test_batchnorm_without_affine():
    bn = nn.BatchNorm2d(2, affine=False, dtype=F64)
    assert bn.weight is None and bn.bias is None and list(bn.parameters()) == []
    assert list(bn.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2))
    out = bn(sg.tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, rtol=1e-3)


def test_batchnorm_without_running_statistics_always_uses_the_batch():
    bn = nn.BatchNorm1d(3, track_running_stats=False, dtype=F64)
    assert list(bn.state_dict()) == ["weight", "bias"]
    assert list(bn.buffers()) == []
    x = sg.tensor(np.random.default_rng(0).standard_normal((8, 3)) * 5.0)
    train_out = bn(x).data
    np.testing.assert_array_equal(bn.eval()(x).data, train_out)
    np.testing.assert_allclose(train_out.mean(axis=0), 0.0, atol=1e-12)


def test_batchnorm_float32_by_default():
    bn = nn.BatchNorm2d(2)
    assert bn.weight.dtype == bn.running_var.dtype == np.float32
    assert bn(sg.randn(2, 2, 3, 3, rng=0)).dtype == np.float32


@pytest.mark.parametrize("layer, shape", [
    (nn.BatchNorm2d(3), (2, 3, 4)), (nn.BatchNorm1d(3), (2, 3, 4, 4)), (nn.BatchNorm1d(3), (2, 4)),
])
def test_batchnorm_rejects_wrong_rank_or_channels(layer, shape):
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}: expected input of rank .* "
                                         rf"with 3 channels on axis 1, got shape"):
        layer(sg.randn(*shape, rng=0))


def test_batchnorm_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="batch_norm: training needs more than one value"):
        nn.BatchNorm1d(3)(sg.randn(1, 3, rng=0))


# ----------------------------------------------------------------------- Dropout
def test_dropout_eval_is_the_identity():
    x = sg.randn(5, 5, rng=0)
    drop = nn.Dropout(0.9, rng=0).eval()
    np.testing.assert_array_equal(drop(x).data, x.data)


def test_dropout_train_zeroes_p_and_scales_the_rest():
    p = 0.3
    x = sg.ones(1000, 1000, dtype=F64)
    out = nn.Dropout(p, rng=0)(x).data
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.003  # 6 standard deviations of the fraction
    np.testing.assert_allclose(out[~dropped], 1.0 / (1.0 - p), rtol=1e-15)
    assert abs(out.mean() - 1.0) < 0.005  # the expected value is preserved


def test_dropout_gradient_is_the_scaled_mask():
    x = sg.randn(50, 40, rng=0, dtype=F64, requires_grad=True)
    out = nn.Dropout(0.5, rng=1)(x)
    out.sum().backward()
    kept = out.data != 0
    np.testing.assert_array_equal(x.grad.data, kept * 2.0)
    np.testing.assert_allclose(out.data, x.data * kept * 2.0, rtol=1e-15)


def test_dropout_reproducible_with_a_seed():
    x = sg.ones(20, 30)
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    first = a(x).data
    np.testing.assert_array_equal(first, b(x).data)
    assert not np.array_equal(first, a(x).data)  # the stream moves on
    assert not np.array_equal(first, nn.Dropout(0.5, rng=8)(x).data)
    assert first.dtype == np.float32


def test_dropout_extremes_and_bad_p():
    x = sg.randn(4, 4, rng=0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x.data)
    assert not nn.Dropout(1.0)(x).data.any()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"Dropout: p must be in \[0, 1\], got {p}"):
            nn.Dropout(p)


# ----------------------------------------------------------------------- other layers
def test_shapes_and_errors_of_shape_layers():
    x = sg.randn(2, 12, rng=0)
    assert nn.Unflatten(1, (3, 4))(x).shape == (2, 3, 4)
    assert nn.Unflatten(-1, (2, 2, 3))(x).shape == (2, 2, 2, 3)
    with pytest.raises(ValueError, match=r"Unflatten: cannot split axis 1 of length 12 into "
                                         r"\(5, 2\)"):
        nn.Unflatten(1, (5, 2))(x)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Identity()(x) is x
    assert nn.Upsample(scale_factor=3)(sg.randn(1, 1, 2, 2)).shape == (1, 1, 6, 6)
    with pytest.raises(ValueError, match="Upsample: only mode='nearest'"):
        nn.Upsample(mode="bilinear")


def test_conv_output_shapes_and_errors():
    assert nn.Conv2d(3, 4, 3, stride=2, padding=1)(sg.randn(2, 3, 9, 9)).shape == (2, 4, 5, 5)
    up = nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1)
    assert up(sg.randn(2, 4, 7, 7)).shape == (2, 3, 14, 14)
    up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)
    assert up(sg.randn(2, 4, 7, 7)).shape == (2, 3, 14, 14)
    with pytest.raises(ValueError, match="Conv2d: groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose2d: groups=3 must divide"):
        nn.ConvTranspose2d(3, 4, 3, groups=3)
    with pytest.raises(ValueError, match="linear: input has 4 features but weight expects 5"):
        nn.Linear(5, 2)(sg.randn(3, 4))


def test_embedding_lookup_and_errors():
    emb = nn.Embedding(7, 3, rng=0)
    idx = np.array([[0, 6, 6], [2, 0, 1]])
    np.testing.assert_array_equal(emb(idx).data, emb.weight.data[idx])
    np.testing.assert_array_equal(emb(sg.tensor(idx)).data, emb.weight.data[idx])
    with pytest.raises(TypeError, match="embedding: indices must be integers, got float"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"embedding: indices must lie in \[0, 7\), got \[0, 7\]"):
        emb(np.array([0, 7]))


# ----------------------------------------------------------------------- initialization
@pytest.mark.parametrize("make, fan_in", [
    (lambda rng: nn.Linear(200, 300, rng=rng), 200),
    (lambda rng: nn.Conv2d(6, 40, (3, 5), groups=2, rng=rng), 3 * 15),
    # ConvTranspose2d's weight is (C_in, C_out // groups, KH, KW): fan_in counts axis 1.
    (lambda rng: nn.ConvTranspose2d(40, 6, 3, groups=2, rng=rng), 3 * 9),
])
def test_default_init_is_reproducible_with_pytorch_bounds(make, fan_in):
    a, b = make(0), make(np.random.default_rng(0))
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    assert not np.array_equal(a.weight.data, make(1).weight.data)
    bound = 1.0 / math.sqrt(fan_in)
    for p in (a.weight, a.bias):
        assert np.abs(p.data).max() <= bound
    w = a.weight.data
    assert np.abs(w).max() > 0.98 * bound  # the whole interval is used...
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # ...uniformly
    assert abs(w.mean()) < 0.05 * bound


def test_init_dtypes_and_deterministic_layers():
    assert nn.Linear(3, 2).weight.dtype == np.float32
    assert nn.Conv2d(1, 1, 3, dtype=F64).bias.dtype == np.float64
    ln = nn.LayerNorm((2, 3))
    np.testing.assert_array_equal(ln.weight.data, np.ones((2, 3)))
    np.testing.assert_array_equal(ln.bias.data, np.zeros((2, 3)))
    emb = nn.Embedding(500, 100, rng=0)  # N(0, 1), as in PyTorch
    assert abs(emb.weight.data.mean()) < 0.01 and abs(emb.weight.data.std() - 1.0) < 0.01
    np.testing.assert_array_equal(emb.weight.data, nn.Embedding(500, 100, rng=0).weight.data)


@pytest.mark.parametrize("shape, fans", [
    ((30, 20), (20, 30)),
    ((8, 4, 3, 5), (4 * 15, 8 * 15)),
    ((4, 8, 3, 3), (8 * 9, 4 * 9)),  # a ConvTranspose2d weight (C_in, C_out, KH, KW)
])
def test_fan_in_and_fan_out(shape, fans):
    assert nn.init.calculate_fan_in_and_fan_out(shape) == fans


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match=r"calculate_fan_in_and_fan_out: needs at least 2 dims"):
        nn.init.calculate_fan_in_and_fan_out((5,))


def big(*shape):
    return nn.Parameter(np.zeros(shape))


@pytest.mark.parametrize("fill, std, bound", [
    (lambda t, rng: nn.init.xavier_uniform_(t, rng=rng), math.sqrt(2 / 800), math.sqrt(6 / 800)),
    (lambda t, rng: nn.init.xavier_uniform_(t, gain=2.0, rng=rng), 2 * math.sqrt(2 / 800),
     2 * math.sqrt(6 / 800)),
    (lambda t, rng: nn.init.xavier_normal_(t, rng=rng), math.sqrt(2 / 800), None),
    (lambda t, rng: nn.init.kaiming_uniform_(t, nonlinearity="relu", rng=rng),
     math.sqrt(2 / 300), math.sqrt(6 / 300)),
    (lambda t, rng: nn.init.kaiming_uniform_(t, rng=rng),  # leaky_relu with a=0: relu's gain
     math.sqrt(2 / 300), math.sqrt(6 / 300)),
    (lambda t, rng: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", rng=rng),
     math.sqrt(2 / 500), None),
    (lambda t, rng: nn.init.kaiming_normal_(t, a=0.2, rng=rng),
     math.sqrt(2 / (1 + 0.04) / 300), None),
])
def test_fan_based_init_statistics(fill, std, bound):
    t = big(500, 300)  # fan_in 300, fan_out 500
    assert fill(t, 0) is t
    w = t.data
    assert abs(w.mean()) < 0.05 * std and abs(w.std() / std - 1.0) < 0.01
    if bound is not None:
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    np.testing.assert_array_equal(w, fill(big(500, 300), 0).data)  # reproducible
    assert not np.array_equal(w, fill(big(500, 300), 1).data)


def test_kaiming_on_conv_shapes_uses_receptive_field():
    t = big(64, 32, 3, 3)  # fan_in 288, fan_out 576
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", rng=0)
    assert abs(t.data.std() / math.sqrt(2 / 576) - 1.0) < 0.02
    nn.init.kaiming_uniform_(t, nonlinearity="relu", rng=0)
    assert np.abs(t.data).max() <= math.sqrt(6 / 288)
    with pytest.raises(ValueError, match="kaiming: mode must be 'fan_in' or 'fan_out'"):
        nn.init.kaiming_normal_(t, mode="fan_avg")


def test_simple_init_functions():
    t = nn.Parameter(np.full((400, 500), 7.0, np.float32))
    array = t.data
    assert nn.init.zeros_(t) is t and not t.data.any()
    nn.init.ones_(t)
    assert (t.data == 1).all()
    nn.init.constant_(t, 0.25)
    assert (t.data == 0.25).all()
    nn.init.normal_(t, mean=2.0, std=3.0, rng=0)
    assert abs(t.data.mean() - 2.0) < 0.03 and abs(t.data.std() - 3.0) < 0.03
    nn.init.uniform_(t, -1.0, 3.0, rng=0)
    assert t.data.min() >= -1.0 and t.data.max() < 3.0 and abs(t.data.mean() - 1.0) < 0.01
    assert t.data is array and t.dtype == np.float32  # filled in place, dtype kept


def test_init_rng_reproducibility_and_type_check():
    gen = np.random.default_rng(0)
    a = nn.init.normal_(big(3, 4), rng=gen).data
    b = nn.init.normal_(big(3, 4), rng=gen).data
    assert not np.array_equal(a, b)  # one generator: a stream
    np.testing.assert_array_equal(a, nn.init.normal_(big(3, 4), rng=0).data)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, an int seed"):
        nn.init.uniform_(big(2, 2), rng="seed")


@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
])
def test_calculate_gain(nonlinearity, param, gain):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-12)


def test_calculate_gain_matches_torch_and_rejects_unknown():
    with pytest.raises(ValueError, match="calculate_gain: unknown nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", 0.3), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-12)


# ----------------------------------------------------------------------- PyTorch as an oracle
def torch_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def randomize_torch(module, torch):
    """Random parameters and running statistics, so that no value is a default by chance."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in module.state_dict().items():  # these share storage with the module
            if not t.is_floating_point():
                t.fill_(3)  # num_batches_tracked
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen, dtype=t.dtype) + 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen, dtype=t.dtype) * 0.5)


def assert_matches_torch(ours, theirs, torch, x, seed, what):
    """Same output, same gradients of <R, output> for the input and every parameter, and the
    same state afterwards (BatchNorm's running statistics)."""
    ours.zero_grad()
    theirs.zero_grad(set_to_none=True)
    differentiable = x.dtype.kind == "f"
    xs = sg.tensor(x, requires_grad=differentiable)
    xt = torch.tensor(x, requires_grad=differentiable)
    out, tout = ours(xs), theirs(xt)
    assert out.shape == tuple(tout.shape), what
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=RTOL, atol=ATOL,
                               err_msg=f"{what}: output")
    projection = np.random.default_rng(seed).standard_normal(out.shape)
    if out.requires_grad:
        (out * sg.tensor(projection)).sum().backward()
        (tout * torch.tensor(projection)).sum().backward()
    if differentiable:
        np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what}: input gradient")
    torch_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(torch_params), what
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, torch_params[name].grad.numpy(), rtol=RTOL,
                                   atol=ATOL, err_msg=f"{what}: gradient of {name}")
    expected_state = torch_state(theirs)
    assert list(ours.state_dict()) == list(expected_state), what
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value, expected_state[key], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what}: state {key}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_agrees_with_torch(case):
    torch = pytest.importorskip("torch")
    theirs = case.torch(torch).double()
    randomize_torch(theirs, torch)
    ours = case.make(1)
    assert ours.load_state_dict(torch_state(theirs)) == ([], [])
    for mode in case.modes:
        ours.train(mode == "train"), theirs.train(mode == "train")
        for seed in (0, 1):  # twice: BatchNorm's second step starts from updated statistics
            assert_matches_torch(ours, theirs, torch, case.input(seed), seed,
                                 f"{case.id} ({mode}, batch {seed})")


def test_small_cnn_loaded_from_torch_gives_the_same_logits():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(4 * 4 * 4, 10)).double()
    randomize_torch(theirs, torch)
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=5, dtype=F64), nn.BatchNorm2d(4, dtype=F64), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10, rng=6, dtype=F64))
    ours.load_state_dict(torch_state(theirs))
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8))
    for mode in ("eval", "train", "eval"):  # the last eval uses the updated statistics
        ours.train(mode == "train"), theirs.train(mode == "train")
        assert_matches_torch(ours, theirs, torch, x, 0, f"CNN ({mode})")
    with torch.no_grad():
        logits = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours(sg.tensor(x)).data, logits, rtol=RTOL, atol=ATOL)
