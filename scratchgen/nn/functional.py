"""Stateless neural-network functions, named and called as in ``torch.nn.functional``.

Convolution, pooling and the losses live with the other ops in ``scratchgen.ops`` and are
re-exported here; the layer functions below are composed from primitives, except linear and
batch_norm, each one fused op (``scratchgen.ops.linalg.Linear``,
``scratchgen.ops.normalization.BatchNorm``).
"""
import numpy as np

from ..autograd.tensor import Tensor
from ..ops.conv import conv2d, conv_transpose2d
from ..ops.linalg import Linear
from ..ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll,
    kl_normal_standard,
    l1_loss,
    mse_loss,
    nll_loss,
)
from ..ops.normalization import BatchNorm
from ..ops.pool import avg_pool2d, max_pool2d
from .init import as_generator


def linear(input, weight, bias=None):
    """y = x W^T + b with W of shape (out_features, in_features), as ``torch.nn.Linear``."""
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1]} features but weight expects "
                         f"{weight.shape[1]} (x.shape={input.shape}, w.shape={weight.shape})")
    if _linear_fuses(input, weight, bias):
        return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)
    out = input @ weight.T            # NumPy's rules, with dtype promotion
    return out if bias is None else out + bias


def _linear_fuses(input, weight, bias):
    """Whether `linear` is one op (``scratchgen.ops.linalg.Linear``): a 2-D weight, a bias of
    shape (out_features,) if any, and one dtype for all."""
    if weight.ndim != 2 or input.dtype != weight.dtype:
        return False
    return bias is None or (bias.shape == (weight.shape[0],) and bias.dtype == weight.dtype)


def relu(input):
    return input.relu()


def leaky_relu(input, negative_slope=0.01):
    return input.leaky_relu(negative_slope)


def elu(input, alpha=1.0):
    return input.elu(alpha)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def softplus(input, beta=1.0):
    """log(1 + exp(beta x)) / beta."""
    return input.softplus() if beta == 1 else (input * beta).softplus() / beta


def dropout(input, p=0.5, training=True, rng=None):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), so the
    expected value is unchanged; the identity when not ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = as_generator(rng, "dropout").random(input.shape) >= p
    return input * (keep * (1.0 / (1.0 - p))).astype(input.dtype)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (axis 1) by its batch statistics (training) or its running
    statistics (evaluation), then scale and shift: y = (x - mean) / sqrt(var + eps) w + b.

    In training the running statistics (Tensors, updated in place) move towards the batch
    statistics: r = (1 - momentum) r + momentum s, with the unbiased variance as PyTorch does.
    One op, ``scratchgen.ops.normalization.BatchNorm``, with the math in its docstring.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {input.shape}")
    if training:
        if input.size // input.shape[1] < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                             f"input shape {input.shape}")
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: evaluation needs running statistics")
    channels = input.shape[1]
    # Without affine parameters: a constant scale of one and shift of zero.
    if weight is None:
        weight = Tensor._wrap(np.ones(channels, input.dtype))
    if bias is None:
        bias = Tensor._wrap(np.zeros(channels, input.dtype))
    return BatchNorm.apply(
        input, weight, bias, training=training, momentum=momentum, eps=eps,
        running_mean=None if running_mean is None else running_mean.data,
        running_var=None if running_var is None else running_var.data)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last ``len(normalized_shape)`` axes of each sample, then scale and
    shift elementwise."""
    normalized_shape = tuple(np.atleast_1d(normalized_shape))
    if input.shape[input.ndim - len(normalized_shape):] != normalized_shape:
        raise ValueError(f"layer_norm: input shape {input.shape} does not end with "
                         f"normalized_shape {normalized_shape}")
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(axis=axes, keepdims=True)
    var = input.var(axis=axes, keepdims=True)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(input, weight):
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` (any shape)."""
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise ValueError(f"embedding: indices must lie in [0, {weight.shape[0]}), got "
                         f"[{indices.min()}, {indices.max()}]")
    return weight[indices]


def upsample_nearest(input, scale_factor=2):
    """Repeat each pixel of (N, C, H, W) into a ``scale_factor`` x ``scale_factor`` block.

    A broadcast followed by a reshape, so the gradient sums each block back into its pixel.
    """
    if input.ndim != 4:
        raise ValueError(f"upsample_nearest: expected (N, C, H, W), got shape {input.shape}")
    sh, sw = (scale_factor, scale_factor) if np.isscalar(scale_factor) else scale_factor
    if int(sh) != sh or int(sw) != sw or sh < 1 or sw < 1:
        raise ValueError(f"upsample_nearest: scale_factor must be positive integers, got "
                         f"{scale_factor!r}")
    sh, sw = int(sh), int(sw)
    N, C, H, W = input.shape
    blocks = input.reshape(N, C, H, 1, W, 1).broadcast_to((N, C, H, sh, W, sw))
    return blocks.reshape(N, C, H * sh, W * sw)


def flatten(input, start_dim=1, end_dim=-1):
    return input.flatten(start_dim, end_dim)


__all__ = [
    "avg_pool2d", "batch_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "conv2d", "conv_transpose2d", "cross_entropy", "dropout", "elu", "embedding", "flatten",
    "gaussian_nll", "kl_normal_standard", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "max_pool2d", "mse_loss", "nll_loss", "relu", "sigmoid", "softplus", "tanh",
    "upsample_nearest",
]
