"""Linear, convolution, embedding and shape layers: output shapes, lookups and input errors."""
import numpy as np
import pytest

import scratchgen as sg
import scratchgen.nn as nn


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


def test_linear_is_one_op_and_promotes_mixed_dtypes_like_numpy():
    import scratchgen.nn.functional as F

    layer = nn.Linear(5, 2, rng=0)
    x = sg.tensor(np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32),
                  requires_grad=True)
    y = layer(x)
    assert type(y._fn).__name__ == "Linear"          # the product and the bias, one node
    np.testing.assert_allclose(y.data, x.data @ layer.weight.data.T + layer.bias.data,
                               rtol=1e-5, atol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, np.full(2, 12.0))
    np.testing.assert_allclose(layer.weight.grad.data,
                               np.tile(x.data.reshape(-1, 5).sum(axis=0), (2, 1)), rtol=1e-5)
    y64 = F.linear(sg.tensor(x.data.astype(np.float64)), layer.weight, layer.bias)
    assert y64.dtype == np.float64 and type(y64._fn).__name__ != "Linear"
