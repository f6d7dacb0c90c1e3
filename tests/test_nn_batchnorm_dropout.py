"""BatchNorm and Dropout, the layers that train and evaluate differently."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn as nn

F64 = np.float64


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
