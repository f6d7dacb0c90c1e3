"""nn.Module and nn.Parameter: registration, the module tree, state dicts, modes, gradients."""
import re

import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn as nn


class Block(nn.Module):
    """A parameter of its own, a buffer and two sub-modules, in that order."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))
        self.register_buffer("count", np.zeros(()))
        self.encoder = nn.Linear(4, 3, rng=0)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(self.encoder(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(3, 2, bias=False, rng=1)

    def forward(self, x):
        return self.head(self.block(x))


def sgd_step(params, lr=0.1):
    """What an optimizer does: it holds the Parameter objects and updates their data in place."""
    for p in params:
        p.data -= lr * p.grad.data


# ----------------------------------------------------------------------- registration
def test_attributes_register_parameters_buffers_and_modules():
    block = Block()
    assert list(block._parameters) == ["scale"]
    assert list(block._buffers) == ["count"]
    assert list(block._modules) == ["encoder", "norm"]
    # Registered values are found through the attribute, not stored twice.
    assert "scale" not in block.__dict__ and "encoder" not in block.__dict__
    assert block.scale is block._parameters["scale"]
    assert isinstance(block.count, sg.Tensor) and not block.count.requires_grad


def test_plain_tensor_attribute_is_not_a_parameter():
    m = nn.Module()
    m.t = sg.ones(2, requires_grad=True)
    m.n = 3
    assert list(m.parameters()) == [] and m.t.shape == (2,) and m.n == 3


def test_deleting_unregisters():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2))
    m.sub = nn.Linear(2, 2)
    del m.w, m.sub
    m.w = "a plain attribute now"
    assert list(m.named_parameters()) == [] and list(m.children()) == []
    assert m.w == "a plain attribute now"
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub


def test_assigning_a_tensor_to_a_parameter_raises_and_changes_nothing():
    lin = nn.Linear(3, 2)
    weight = lin.weight
    message = ("Linear: cannot assign Tensor to parameter 'weight' (expected an nn.Parameter "
               "or None); wrap it as nn.Parameter(value)")
    with pytest.raises(TypeError, match=re.escape(message)):
        lin.weight = sg.tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match="cannot assign ndarray to parameter 'bias'"):
        lin.bias = np.zeros(2)
    with pytest.raises(TypeError, match="cannot assign ReLU to parameter 'bias'"):
        lin.bias = nn.ReLU()
    assert lin.weight is weight and list(lin.state_dict()) == ["weight", "bias"]
    assert len(list(lin.parameters())) == 2


def test_a_parameter_takes_a_new_parameter_or_none_in_its_place():
    lin = nn.Linear(3, 2)
    new = nn.Parameter(np.zeros((2, 3), np.float32))
    lin.weight = new
    assert lin.weight is new and list(lin.state_dict()) == ["weight", "bias"]
    lin.weight = None                     # as in PyTorch: still registered, as absent
    assert "weight" in lin._parameters and lin.weight is None
    assert list(lin.state_dict()) == ["bias"]


def test_assigning_a_non_module_to_a_sub_module_raises():
    net = Net()
    message = ("Net: cannot assign Tensor to sub-module 'head' (expected an nn.Module or "
               "None); assign a Module")
    with pytest.raises(TypeError, match=re.escape(message)):
        net.head = sg.ones(2)
    with pytest.raises(TypeError, match="Net: cannot assign int to sub-module 'block'"):
        net.block = 3
    net.head = nn.Linear(3, 4)            # a Module replaces it, in its place
    assert [name for name, _ in net.named_children()] == ["block", "head"]
    net.head = None
    assert list(net.children()) == [net.block] and "head" in net._modules


def test_a_buffer_takes_arrays_tensors_or_none_only():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(TypeError, match=r"BatchNorm1d: cannot assign list to buffer "
                                        r"'running_mean' \(expected a Tensor, a numpy array "
                                        r"or None\)"):
        bn.running_mean = [0.0, 0.0, 0.0]
    bn.running_mean = np.ones(3, np.float32)
    assert isinstance(bn.running_mean, sg.Tensor) and bn.running_mean.data.sum() == 3
    bn.running_mean = None
    assert "running_mean" not in bn.state_dict()


def test_assigning_to_a_buffer_updates_the_buffer():
    bn = nn.BatchNorm1d(3)
    bn.running_mean = sg.tensor(np.full(3, 2.0, np.float32))
    assert "running_mean" in bn.state_dict()
    np.testing.assert_array_equal(bn.state_dict()["running_mean"], [2.0, 2.0, 2.0])
    # The key keeps its place, so the state dict order stays PyTorch's.
    assert list(bn.state_dict())[:3] == ["weight", "bias", "running_mean"]


def test_register_parameter_accepts_none_and_rejects_tensors():
    m = nn.Module()
    m.register_parameter("bias", None)
    assert m.bias is None and list(m.parameters()) == [] and m.state_dict() == {}
    with pytest.raises(TypeError, match=r"register_parameter: 'w' must be a Parameter or None, "
                                        r"got Tensor"):
        m.register_parameter("w", sg.ones(2))


def test_assigning_before_super_init_is_an_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.linear = nn.Linear(2, 2)  # before super().__init__()
            super().__init__()

    with pytest.raises(AttributeError, match=r"Forgetful: call super\(\).__init__\(\) before "
                                             r"assigning attributes"):
        Forgetful()


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(sg.ones(1))


def test_parameter_defaults_and_repr():
    p = nn.Parameter(np.zeros(2))
    assert isinstance(p, sg.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


# ----------------------------------------------------------------------- walking the tree
def test_named_parameters_order_and_dotted_names():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["block.scale", "block.encoder.weight", "block.encoder.bias",
                     "block.norm.weight", "block.norm.bias", "head.weight"]
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]
    assert [name for name, _ in net.named_parameters(recurse=False)] == []
    assert [name for name, _ in net.block.named_parameters(recurse=False)] == ["scale"]


def test_named_buffers():
    names = [name for name, _ in Net().named_buffers()]
    assert names == ["block.count", "block.norm.running_mean", "block.norm.running_var",
                     "block.norm.num_batches_tracked"]


def test_tied_parameters_are_listed_once():
    encoder, decoder = nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False)
    decoder.weight = encoder.weight  # weight tying
    model = nn.Sequential(encoder, decoder)
    assert [name for name, _ in model.named_parameters()] == ["0.weight"]
    assert model.num_parameters() == 16
    # As in PyTorch the state dict names the array under both keys, and loads into both.
    assert list(model.state_dict()) == ["0.weight", "1.weight"]
    x = sg.randn(2, 4, rng=0)
    model(x).sum().backward()
    # Both uses of the tied weight contribute to its one gradient.
    w = encoder.weight.data
    expected = (np.ones((2, 4)) @ w).T @ x.data + np.ones((2, 4)).T @ (x.data @ w.T)
    # float32 sums of O(1) terms: an entry that cancels to near zero keeps only an absolute
    # accuracy (the weights are drawn afresh each run).
    np.testing.assert_allclose(encoder.weight.grad.data, expected, rtol=1e-5, atol=1e-6)


def test_shared_module_is_visited_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.modules())) == 3  # the Sequential, the Linear, the ReLU
    assert len(list(model.parameters())) == 2


def test_modules_and_children():
    net = Net()
    assert [name for name, _ in net.named_modules()] == [
        "", "block", "block.encoder", "block.norm", "head"]
    assert list(net.modules())[0] is net
    assert list(net.children()) == [net.block, net.head]
    assert [name for name, _ in net.named_children()] == ["block", "head"]
    assert list(net.head.children()) == []


def test_apply_visits_children_before_parents():
    order = []
    Net().apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "BatchNorm1d", "Linear", "Block", "Net"]


def test_apply_for_custom_init():
    net = Net()

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    assert net.apply(zero_linear) is net
    assert not net.head.weight.data.any() and not net.block.encoder.weight.data.any()


def test_num_parameters():
    net = Net()
    assert net.num_parameters() == 3 + (12 + 3) + (3 + 3) + 6
    net.head.requires_grad_(False)
    assert net.num_parameters(trainable_only=True) == 3 + 15 + 6


# ----------------------------------------------------------------------- state dicts
def test_state_dict_keys_values_and_buffers():
    net = Net()
    state = net.state_dict()
    assert list(state) == [
        "block.scale", "block.count", "block.encoder.weight", "block.encoder.bias",
        "block.norm.weight", "block.norm.bias", "block.norm.running_mean",
        "block.norm.running_var", "block.norm.num_batches_tracked", "head.weight"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    np.testing.assert_array_equal(state["head.weight"], net.head.weight.data)
    nbt = state["block.norm.num_batches_tracked"]
    assert nbt.shape == () and nbt.dtype == np.int64 and nbt == 0
    np.testing.assert_array_equal(state["block.norm.running_var"], np.ones(3))


def test_state_dict_holds_copies():
    net = Net()
    state = net.state_dict()
    state["head.weight"][...] = 123.0
    state["block.norm.running_mean"][...] = 7.0
    assert not (net.head.weight.data == 123.0).any()
    assert not (net.block.norm.running_mean.data == 7.0).any()
    # ...and later training does not change a saved state.
    saved = net.state_dict()
    net.head.weight.data += 1.0
    assert not np.array_equal(saved["head.weight"], net.head.weight.data)


def test_state_dict_follows_batchnorm_updates():
    net = Net()
    net(sg.randn(5, 4, rng=0))
    state = net.state_dict()
    assert state["block.norm.num_batches_tracked"] == 1
    assert not np.allclose(state["block.norm.running_mean"], 0.0)


def test_load_state_dict_round_trip():
    source, target = Net(), Net()
    source.head.weight.data += 1.0
    source(sg.randn(5, 4, rng=0))  # moves the running statistics
    assert target.load_state_dict(source.state_dict()) == ([], [])
    for (key, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    source.eval(), target.eval()
    x = sg.randn(3, 4, rng=1)
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_copies_into_existing_parameters():
    net = Net()
    params = list(net.parameters())  # as an optimizer holds them
    arrays = [p.data for p in params]
    state = Net().state_dict()
    state["head.weight"] = state["head.weight"] + 5.0
    net.load_state_dict(state)
    assert all(p is q for p, q in zip(params, net.parameters()))
    assert all(p.data is a for p, a in zip(params, arrays))
    np.testing.assert_array_equal(net.head.weight.data, state["head.weight"])
    # The loaded values are copies: changing the dict afterwards does not touch the model.
    state["head.weight"][...] = 0.0
    assert net.head.weight.data.any()
    # An "optimizer" holding the old Parameter objects still trains the model.
    before = net.head.weight.data.copy()
    (net(sg.randn(4, 4, rng=0)) ** 2).sum().backward()
    sgd_step(params)
    assert not np.array_equal(net.head.weight.data, before)
    np.testing.assert_allclose(net.head.weight.data, before - 0.1 * net.head.weight.grad.data)


def test_load_state_dict_casts_and_accepts_tensors():
    linear = nn.Linear(2, 2, dtype=np.float32)
    state = {"weight": sg.tensor(np.full((2, 2), 0.5)), "bias": [1, 2]}
    linear.load_state_dict(state)
    assert linear.weight.dtype == np.float32 and linear.bias.dtype == np.float32
    np.testing.assert_array_equal(linear.bias.data, [1.0, 2.0])
    np.testing.assert_array_equal(linear.weight.data, np.full((2, 2), 0.5))


def test_load_state_dict_missing_keys():
    state = Net().state_dict()
    del state["head.weight"], state["block.norm.running_var"]
    message = ("load_state_dict: 1 problem(s) loading into Net, nothing was loaded:\n"
               "  missing keys ['block.norm.running_var', 'head.weight']")
    with pytest.raises(RuntimeError, match=re.escape(message) + "$"):
        Net().load_state_dict(state)


def test_load_state_dict_unexpected_keys():
    state = Net().state_dict()
    state["head.bias"] = np.zeros(2)
    with pytest.raises(RuntimeError, match=r"Net, nothing was loaded:\n  unexpected keys "
                                           r"\['head.bias'\]$"):
        Net().load_state_dict(state)


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    state = Net().state_dict()
    state["head.weight"] = np.zeros((3, 2))
    message = "head.weight has shape (3, 2) in the state dict but (2, 3) in Net"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        Net().load_state_dict(state)
    with pytest.raises(RuntimeError, match=re.escape(message)):  # strict or not
        Net().load_state_dict(state, strict=False)


def test_load_state_dict_reports_every_problem_at_once_and_changes_nothing():
    target = Net()
    before = target.state_dict()
    state = Net().state_dict()
    state["head.weight"] = state["head.weight"] + 1.0       # fine: would be loaded
    del state["block.scale"]
    state["head.bias"] = np.zeros(2)
    state["block.encoder.weight"] = np.zeros((4, 3))
    state["block.norm.running_mean"] = np.zeros(4)
    with pytest.raises(RuntimeError) as info:
        target.load_state_dict(state)
    assert str(info.value).splitlines() == [
        "load_state_dict: 4 problem(s) loading into Net, nothing was loaded:",
        "  missing keys ['block.scale']",
        "  unexpected keys ['head.bias']",
        "  block.encoder.weight has shape (4, 3) in the state dict but (3, 4) in Net",
        "  block.norm.running_mean has shape (4,) in the state dict but (3,) in Net"]
    for key, value in target.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    # Without strict, only the shapes remain errors.
    with pytest.raises(RuntimeError, match=r"2 problem\(s\) .*\n  block.encoder.weight has "):
        target.load_state_dict(state, strict=False)


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    source, target = Net(), Net()
    source.head.weight.data += 1.0
    state = source.state_dict()
    del state["block.scale"]
    state["extra.weight"] = np.zeros(1)
    scale_before = target.block.scale.data.copy()
    result = target.load_state_dict(state, strict=False)
    assert result.missing_keys == ["block.scale"] and result.unexpected_keys == ["extra.weight"]
    missing, unexpected = result          # a named tuple, as PyTorch's _IncompatibleKeys
    assert (missing, unexpected) == (["block.scale"], ["extra.weight"])
    # Everything present was loaded; the missing entry was left alone.
    np.testing.assert_array_equal(target.head.weight.data, source.head.weight.data)
    np.testing.assert_array_equal(target.block.scale.data, scale_before)


def test_load_state_dict_into_read_only_data():
    linear = nn.Linear(2, 2)
    linear.weight.data = np.broadcast_to(np.float32(0.0), (2, 2))  # a read-only view
    linear.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    np.testing.assert_array_equal(linear.weight.data, np.eye(2))


# ----------------------------------------------------------------------- modes and gradients
def test_train_and_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert net.train() is net
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.block.norm.training
    net.block.train()  # a sub-tree only
    assert net.block.norm.training and not net.training and not net.head.training


def test_train_calls_each_childs_own_train():
    calls = []

    class FrozenCopy(nn.Module):
        """Keeps its EMA copy in evaluation mode whatever its parent asks."""

        def __init__(self):
            super().__init__()
            self.live, self.ema = nn.Linear(2, 2), nn.Dropout(0.5)

        def train(self, mode=True):
            calls.append(mode)
            super().train(mode)
            self.ema.train(False)
            return self

    model = nn.Sequential(nn.Sequential(FrozenCopy()), nn.ReLU())
    assert calls == []
    model.eval()
    assert calls == [False]
    model.train()
    assert calls == [False, True]
    inner = model[0][0]
    assert inner.training and inner.live.training and not inner.ema.training
    assert model.training and model[1].training


def test_zero_grad():
    net = Net()
    net(sg.randn(5, 4, rng=0)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    shapes = [p.shape for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    for p, shape in zip(net.parameters(), shapes):
        assert p.grad.shape == shape and not p.grad.data.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.zero_grad(set_to_none=False)  # no gradient yet: stays None
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_then_backward_gives_fresh_gradients():
    linear = nn.Linear(3, 1, rng=0)
    x = sg.randn(4, 3, rng=0)
    linear(x).sum().backward()
    first = linear.weight.grad.data.copy()
    linear(x).sum().backward()
    np.testing.assert_allclose(linear.weight.grad.data, 2 * first, rtol=1e-6)  # accumulates
    linear.zero_grad(set_to_none=False)
    linear(x).sum().backward()
    np.testing.assert_allclose(linear.weight.grad.data, first, rtol=1e-6)


def test_requires_grad_freezes_and_unfreezes():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    x = sg.randn(5, 4, rng=0, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None  # gradients still flow through a frozen model to its input
    assert all(p.grad is None for p in net.parameters())
    net.head.requires_grad_()
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["head.weight"]
