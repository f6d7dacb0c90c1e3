"""Every layer of scratchgen.nn from one table: gradient checks, state dicts, torch as oracle."""
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
# Gradient checks run in float64 with respect to the input and every parameter. ``gradcheck``
# differentiates with respect to tensors it owns (it perturbs their data), so ``call_with``
# swaps them in for the layer's parameters during the call, as ``torch.func.functional_call``
# does.
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
