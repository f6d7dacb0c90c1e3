"""Parameter initialization, in place, with a seedable generator for reproducible runs.

Every function takes ``rng``: a ``numpy.random.Generator``, an int seed, or None (fresh
entropy), read by ``scratchgen.random_state.check_random_state``. The fan-based schemes
follow Glorot & Bengio (2010) and He et al. (2015), with PyTorch's conventions for
fan_in/fan_out of convolution weights.
"""
import math

from ..random_state import check_random_state


def calculate_fan_in_and_fan_out(shape):
    """(fan_in, fan_out) of a weight: (out, in) for linear, (out, in, KH, KW) for conv.

    As in PyTorch, axis 1 counts as the inputs and axis 0 as the outputs, times the receptive
    field size (so a ConvTranspose2d weight (C_in, C_out, KH, KW) has fan_in C_out * KH * KW).
    """
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: needs at least 2 dims, got {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance stable through ``nonlinearity``."""
    if nonlinearity in ("linear", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fill(tensor, values):
    tensor.data[...] = values
    return tensor


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with U(a, b)."""
    rng = check_random_state(rng, "uniform_", name="rng")
    return _fill(tensor, rng.uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with N(mean, std^2)."""
    rng = check_random_state(rng, "normal_", name="rng")
    return _fill(tensor, rng.normal(mean, std, tensor.shape))


def constant_(tensor, value):
    return _fill(tensor, value)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor, gain=1.0, rng=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """U(-b, b) with b = gain * sqrt(3 / fan)  (He et al., 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """N(0, std^2) with std = gain / sqrt(fan)  (He et al., 2015)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), rng)


def default_layer_init_(weight, bias, rng=None):
    """PyTorch's default for Linear and conv layers: kaiming_uniform_(a=sqrt(5)) for the
    weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
    rng = check_random_state(rng, "default_layer_init_", name="rng")
    kaiming_uniform_(weight, a=math.sqrt(5.0), rng=rng)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight.shape)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, rng)


def as_generator(rng, caller="rng"):
    """``rng`` as a ``numpy.random.Generator`` (layers keep one for dropout and init), by the
    package's one seed rule (``scratchgen.random_state.check_random_state``)."""
    return check_random_state(rng, caller, name="rng")


__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "constant_", "kaiming_normal_",
    "kaiming_uniform_", "normal_", "ones_", "uniform_", "xavier_normal_", "xavier_uniform_",
    "zeros_",
]
