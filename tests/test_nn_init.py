"""Parameter initialization: the layers' defaults and every function of nn.init."""
import math

import numpy as np
import pytest

import scratchgen.nn as nn

F64 = np.float64


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
    with pytest.raises(TypeError, match=r"uniform_: rng must be None, an int or a numpy "
                                        r"Generator \(or SeedSequence\), got 'seed' \(str\)"):
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
