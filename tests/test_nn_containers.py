"""Containers (Sequential, ModuleList) and the printed module tree with parameter counts."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn as nn


# ----------------------------------------------------------------------- printing
def test_repr_tree_with_parameter_counts():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=8, bias=True)  # 40 parameters\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=8, out_features=2, bias=True)  # 18 parameters\n"
        "  )  # 18 parameters\n"
        ")  # 58 parameters"
    )


def test_repr_uses_thousands_separators_and_extra_repr():
    assert repr(nn.Linear(100, 100)) == (
        "Linear(in_features=100, out_features=100, bias=True)  # 10,100 parameters")
    assert repr(nn.LayerNorm(4)) == "LayerNorm((4,), eps=1e-05)  # 8 parameters"
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


# ----------------------------------------------------------------------- containers
def test_sequential_forward_indexing_slicing_len_iteration():
    layers = [nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 2, rng=1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3
    assert model[0] is layers[0] and model[-1] is layers[2]
    assert list(model) == layers
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    x = sg.randn(5, 4, rng=0)
    expected = layers[2](layers[1](layers[0](x)))
    np.testing.assert_array_equal(model(x).data, expected.data)
    np.testing.assert_array_equal(head(model[0](x)).data, expected.data)
    with pytest.raises(IndexError):
        model[3]


def test_sequential_state_dict_keys_match_pytorch():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2))
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var",
        "2.num_batches_tracked", "3.weight", "3.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "2", "3"]


def test_sequential_append_and_type_check():
    model = nn.Sequential(nn.Linear(2, 2))
    assert model.append(nn.Tanh()) is model
    assert len(model) == 2 and isinstance(model[1], nn.Tanh)
    with pytest.raises(TypeError, match="Sequential: expected a Module, got function"):
        nn.Sequential(nn.Linear(2, 2), lambda x: x)


def test_sequential_nested_dotted_names():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.Linear(3, 1))
    assert list(model.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]


def test_module_list_registers_its_modules():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3, rng=i) for i in range(2)])
            self.layers.append(nn.Linear(3, 1, rng=2))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    tower = Tower()
    assert [name for name, _ in tower.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "layers.2.weight", "layers.2.bias"]
    assert len(tower.layers) == 3 and tower.layers[-1].out_features == 1
    assert isinstance(tower.layers[:2], nn.ModuleList) and len(tower.layers[:2]) == 2
    assert list(tower.layers)[1] is tower.layers[1]
    assert tower(sg.randn(4, 3, rng=0)).shape == (4, 1)
    tower.eval()
    assert not any(layer.training for layer in tower.layers)


def test_module_list_extend_type_check_and_no_forward():
    modules = nn.ModuleList()
    assert len(modules) == 0
    assert modules.extend([nn.ReLU(), nn.Tanh()]) is modules
    assert [type(m).__name__ for m in modules] == ["ReLU", "Tanh"]
    with pytest.raises(TypeError, match="ModuleList: expected a Module, got int"):
        modules.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList does not define forward"):
        modules(sg.ones(1))
