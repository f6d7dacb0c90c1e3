"""The table of every differentiable op, with the inputs it is checked on.

Each ``OpSpec`` names an op, how scratchgen calls it, the hypothesis strategy that draws its
inputs (float64 arrays inside the op's domain plus non-differentiable parameters), and the same
call in PyTorch, used as an oracle when torch is installed. The gradcheck tests and the PyTorch
oracle tests both run over this one table, so adding an op means adding one row here.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..autograd.tensor import Tensor
from ..nn import functional as F
from ..ops import elementwise, movement
from . import strategies as S


@dataclass(frozen=True)
class Case:
    """One drawn example: the arrays (each becomes a Tensor) and keyword parameters."""

    arrays: tuple
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """One row of the table.

    ``fn(*tensors, **params)`` calls scratchgen; ``torch_fn(torch, *tensors, **params)`` calls
    PyTorch the same way (or is None when PyTorch has no counterpart).
    """

    name: str
    fn: Callable
    inputs: st.SearchStrategy
    torch_fn: Callable = None


# ------------------------------------------------------------------ input strategies
@st.composite
def unary(draw, low=-2.0, high=2.0, avoid=(), params=None):
    shape = draw(S.shapes())
    return Case((draw(S.arrays(shape, low, high, avoid)),), draw(params) if params is not None else {})


@st.composite
def binary(draw, a_domain=(-2.0, 2.0), b_domain=(-2.0, 2.0), b_avoid=()):
    shape_a, shape_b = draw(S.broadcastable_shapes(2))
    return Case((draw(S.arrays(shape_a, *a_domain)), draw(S.arrays(shape_b, *b_domain, b_avoid))))


@st.composite
def separated_pair(draw):
    """Two broadcastable arrays at least 0.5 apart everywhere (no ties for maximum/minimum):
    ``a`` lies in [2i, 2i + 0.5] and ``b`` in [2j + 1, 2j + 1.5] for integers i, j."""
    shape_a, shape_b = draw(S.broadcastable_shapes(2))
    lattice = st.integers(-1, 1)
    a = 2.0 * draw(hnp.arrays(np.int64, shape_a, elements=lattice)) + draw(S.arrays(shape_a, 0.0, 0.5))
    b = 2.0 * draw(hnp.arrays(np.int64, shape_b, elements=lattice)) + draw(S.arrays(shape_b, 1.0, 1.5))
    return Case((a, b))


@st.composite
def reduction(draw, distinct=False, with_ddof=False):
    shape = draw(S.shapes(min_dims=1, max_side=3))
    params = {"axis": draw(S.axes(len(shape))), "keepdims": draw(st.booleans())}
    if with_ddof:
        params["ddof"] = draw(st.sampled_from([0, 1]))
        axis = params["axis"]
        reduced = range(len(shape)) if axis is None else np.atleast_1d(axis)
        if np.prod([shape[a] for a in reduced]) <= params["ddof"]:
            params["ddof"] = 0  # var with ddof=1 over a single element divides by zero
    return Case((draw(S.arrays(shape, distinct=distinct)),), params)


@st.composite
def along_axis(draw, min_dims=1):
    shape = draw(S.shapes(min_dims=min_dims))
    return Case((draw(S.arrays(shape)),), {"axis": draw(st.integers(-len(shape), len(shape) - 1))})


@st.composite
def matmul_inputs(draw):
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(S.broadcastable_shapes(2, max_dims=2, max_side=3))
    return Case((draw(S.arrays(batch_a + (m, k))), draw(S.arrays(batch_b + (k, n)))))


@st.composite
def linear_inputs(draw):
    """x (..., in) with up to two batch axes (none: one vector), weight (out, in), and a
    bias (out,) or none."""
    fan_in, fan_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(S.shapes(min_dims=0, max_dims=2, max_side=3))
    arrays = (draw(S.arrays(batch + (fan_in,))), draw(S.arrays((fan_out, fan_in))))
    if draw(st.booleans()):
        arrays += (draw(S.arrays((fan_out,))),)
    return Case(arrays)


@st.composite
def reshape_inputs(draw):
    shape = draw(S.shapes(min_dims=1))
    size = int(np.prod(shape))
    new = [d for d in range(1, size + 1) if size % d == 0]
    first = draw(st.sampled_from(new))
    target = draw(st.sampled_from([(size,), (first, -1), (-1, first, 1)]))
    return Case((draw(S.arrays(shape)),), {"shape": target})


@st.composite
def permute_inputs(draw):
    shape = draw(S.shapes(min_dims=1))
    axes = tuple(draw(st.permutations(range(len(shape)))))
    return Case((draw(S.arrays(shape)),), {"axes": axes})


@st.composite
def swapaxes_inputs(draw):
    shape = draw(S.shapes(min_dims=1))
    pick = st.integers(-len(shape), len(shape) - 1)
    return Case((draw(S.arrays(shape)),), {"axis1": draw(pick), "axis2": draw(pick)})


@st.composite
def broadcast_to_inputs(draw):
    shape = draw(S.shapes(max_dims=2, max_side=3))
    target = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 1)))) + tuple(
        draw(st.integers(1, 3)) if n == 1 else n for n in shape
    )
    return Case((draw(S.arrays(shape)),), {"shape": target})


@st.composite
def getitem_inputs(draw, steps=(1, 2, 3)):
    shape = draw(S.shapes(min_dims=1))
    kind = draw(st.sampled_from(["slice", "int_array", "mask", "mixed"]))
    first = shape[0]
    if kind == "slice":
        start = draw(st.integers(-first, first - 1))
        step = draw(st.sampled_from(steps))
        index = (slice(start, None, step),) + (slice(None),) * (len(shape) - 1)
    elif kind == "int_array":  # may repeat an index: gradients must add up
        index = np.array(draw(st.lists(st.integers(-first, first - 1), min_size=1, max_size=5)))
    elif kind == "mask":
        index = np.array(draw(st.lists(st.booleans(), min_size=first, max_size=first)))
    else:
        index = (Ellipsis, draw(st.integers(0, shape[-1] - 1)))
    return Case((draw(S.arrays(shape)),), {"index": index})


@st.composite
def joined_inputs(draw, same_shape=False):
    base = draw(S.shapes(min_dims=1, max_side=3))
    axis = draw(st.integers(0, len(base) - 1))
    count = draw(st.integers(1, 3))
    shapes = [base if same_shape else base[:axis] + (draw(st.integers(1, 3)),) + base[axis + 1:]
              for _ in range(count)]
    return Case(tuple(draw(S.arrays(s)) for s in shapes), {"axis": axis})


@st.composite
def split_inputs(draw):
    shape = draw(S.shapes(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))
    length = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.integers(1, length))
    else:
        cut = sorted(draw(st.lists(st.integers(0, length), max_size=2)))
        bounds = [0] + cut + [length]
        sections = [b - a for a, b in zip(bounds, bounds[1:])]
    return Case((draw(S.arrays(shape)),), {"sections": sections, "axis": axis})


@st.composite
def pad_inputs(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3, max_side=3))
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return Case((draw(S.arrays(shape)),), {"pad_width": widths, "value": draw(st.sampled_from([0.0, 1.5]))})


@st.composite
def flatten_inputs(draw):
    shape = draw(S.shapes(min_dims=1))
    start = draw(st.integers(0, len(shape) - 1))
    end = draw(st.integers(start, len(shape) - 1))
    return Case((draw(S.arrays(shape)),), {"start_dim": start, "end_dim": end})


@st.composite
def where_inputs(draw):
    shape_c, shape_a, shape_b = draw(S.broadcastable_shapes(3))
    condition = draw(S.arrays(shape_c)) > 0
    return Case((draw(S.arrays(shape_a)), draw(S.arrays(shape_b))), {"condition": condition})


@st.composite
def conv_inputs(draw, transpose=False):
    """x, w, b and the settings of a small (transposed) convolution with a valid geometry."""
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    params = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    n = draw(st.integers(1, 2))
    if transpose:
        h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        params["output_padding"] = tuple(
            draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + params["output_padding"][0] + 1
        out_w = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + params["output_padding"][1] + 1
        assume(out_h >= 1 and out_w >= 1)
        weight_shape, bias_size = (c_in, c_out // groups, kh, kw), c_out
    else:
        h = draw(st.integers(dilation[0] * (kh - 1) + 1 - 2 * padding[0], 5).filter(lambda v: v >= 1))
        w = draw(st.integers(dilation[1] * (kw - 1) + 1 - 2 * padding[1], 5).filter(lambda v: v >= 1))
        weight_shape, bias_size = (c_out, c_in // groups, kh, kw), c_out
    arrays = (draw(S.arrays((n, c_in, h, w))), draw(S.arrays(weight_shape)),
              draw(S.arrays((bias_size,))))
    return Case(arrays, params)


@st.composite
def pool_inputs(draw, distinct=False, dilation=False):
    """A small pooling geometry; with ``dilation``, also dilations of 1 or 2 (max pooling).

    A dilated input is at least as tall and wide as the dilated window, which (with padding
    at most half the kernel) leaves every window at least one real input: a window of
    padding alone has output -inf, which finite differences cannot check.
    """
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h = draw(st.integers(max(1, kh - 2 * padding[0] if dh == 1 else dh * (kh - 1) + 1), 5))
    w = draw(st.integers(max(1, kw - 2 * padding[1] if dw == 1 else dw * (kw - 1) + 1), 5))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    params = {"kernel_size": (kh, kw), "stride": stride, "padding": padding}
    if dilation:
        params["dilation"] = (dh, dw)
    return Case((draw(S.arrays(shape, distinct=distinct)),), params)


@st.composite
def batch_norm_inputs(draw, training):
    """x (N, C, ...) with 1-D or 2-D spatial axes (or none), weight and bias (C,); for
    evaluation also running statistics (variances in [0.5, 2]).

    Each channel's values are a ramp from -2 to 2 plus a perturbation of at most 0.5, so
    its standard deviation stays near 1 or above: finite differences of 1 / sqrt(var + eps)
    are accurate there, and a near-constant channel (a legitimate but ill-conditioned input)
    is not what this table tests.
    """
    n, c = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    shape = (n, c) + draw(st.sampled_from([(), (3,), (2, 3)]))
    x = draw(S.arrays(shape, -0.5, 0.5))
    per_channel = x.size // c
    ramp = np.linspace(-2.0, 2.0, per_channel).reshape((n, 1) + shape[2:])
    x = x + ramp
    params = {}
    if not training:
        params = {"running_mean": draw(S.arrays((c,))),
                  "running_var": draw(S.arrays((c,), 0.5, 2.0))}
    return Case((x, draw(S.arrays((c,))), draw(S.arrays((c,)))), params)


# ------------------------------------------------------------------ torch helpers
def _dims(x, axis):
    """PyTorch spelling of a NumPy ``axis`` argument (None means every axis)."""
    return tuple(range(x.ndim)) if axis is None else axis


def _torch_index(torch, index):
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    if isinstance(index, tuple):
        return tuple(_torch_index(torch, i) for i in index)
    return index


def _torch_pad(torch, x, pad_width, value):
    flat = [w for pair in reversed(pad_width) for w in pair]
    return torch.nn.functional.pad(x, flat, value=value)


def _torch_reduce(name):
    def call(torch, x, axis, keepdims, **extra):
        dims = _dims(x, axis)
        if x.ndim == 0:
            return getattr(torch, name)(x, **extra)
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims, **extra)
    return call


OPS = [
    OpSpec("add", lambda a, b: a + b, binary(), lambda t, a, b: a + b),
    OpSpec("sub", lambda a, b: a - b, binary(), lambda t, a, b: a - b),
    OpSpec("rsub_scalar", lambda a: 2.0 - a, unary(), lambda t, a: 2.0 - a),
    OpSpec("mul", lambda a, b: a * b, binary(), lambda t, a, b: a * b),
    OpSpec("div", lambda a, b: a / b, binary(b_domain=(0.5, 2.0)), lambda t, a, b: a / b),
    OpSpec("rdiv_scalar", lambda a: 1.0 / a, unary(0.5, 2.0), lambda t, a: 1.0 / a),
    OpSpec("neg", lambda a: -a, unary(), lambda t, a: -a),
    # PyTorch masks d(a**b)/da to 0 where b == 0, which also zeroes its derivative in b there
    # (mathematically a**-1); keep b away from 0 so the oracle compares the smooth function.
    OpSpec("pow_tensor", lambda a, b: a ** b, binary((0.5, 2.0), b_avoid=(0.0,)),
           lambda t, a, b: a ** b),
    OpSpec("pow_scalar", lambda a, p: a ** p,
           unary(0.5, 2.0, params=st.fixed_dictionaries({"p": st.sampled_from([2, 3, -1, 0.5, -1.5])})),
           lambda t, a, p: a ** p),
    OpSpec("rpow_scalar", lambda a: 2.0 ** a, unary(), lambda t, a: 2.0 ** a),
    OpSpec("exp", lambda a: a.exp(), unary(), lambda t, a: a.exp()),
    OpSpec("log", lambda a: a.log(), unary(0.5, 3.0), lambda t, a: a.log()),
    OpSpec("log1p", lambda a: a.log1p(), unary(-0.5, 3.0), lambda t, a: a.log1p()),
    OpSpec("sqrt", lambda a: a.sqrt(), unary(0.5, 3.0), lambda t, a: a.sqrt()),
    OpSpec("abs", lambda a: a.abs(), unary(avoid=(0.0,)), lambda t, a: a.abs()),
    OpSpec("tanh", lambda a: a.tanh(), unary(), lambda t, a: a.tanh()),
    OpSpec("sin", lambda a: a.sin(), unary(), lambda t, a: a.sin()),
    OpSpec("cos", lambda a: a.cos(), unary(), lambda t, a: a.cos()),
    OpSpec("sigmoid", lambda a: a.sigmoid(), unary(-6.0, 6.0), lambda t, a: a.sigmoid()),
    OpSpec("relu", lambda a: a.relu(), unary(avoid=(0.0,)), lambda t, a: t.relu(a)),
    OpSpec("leaky_relu", lambda a: a.leaky_relu(0.1), unary(avoid=(0.0,)),
           lambda t, a: t.nn.functional.leaky_relu(a, 0.1)),
    OpSpec("elu", lambda a: a.elu(0.7), unary(avoid=(0.0,)),
           lambda t, a: t.nn.functional.elu(a, 0.7)),
    OpSpec("softplus", lambda a: a.softplus(), unary(-6.0, 6.0),
           lambda t, a: t.nn.functional.softplus(a)),
    OpSpec("clip", lambda a: a.clip(-0.5, 0.8), unary(avoid=(-0.5, 0.8)),
           lambda t, a: a.clamp(-0.5, 0.8)),
    OpSpec("maximum", lambda a, b: elementwise.maximum(a, b), separated_pair(),
           lambda t, a, b: t.maximum(a, b)),
    OpSpec("minimum", lambda a, b: elementwise.minimum(a, b), separated_pair(),
           lambda t, a, b: t.minimum(a, b)),
    OpSpec("where", lambda a, b, condition: elementwise.where(condition, a, b), where_inputs(),
           lambda t, a, b, condition: t.where(t.as_tensor(condition), a, b)),
    OpSpec("sum", lambda a, axis, keepdims: a.sum(axis, keepdims), reduction(),
           _torch_reduce("sum")),
    OpSpec("mean", lambda a, axis, keepdims: a.mean(axis, keepdims), reduction(),
           _torch_reduce("mean")),
    OpSpec("var", lambda a, axis, keepdims, ddof: a.var(axis, keepdims, ddof),
           reduction(with_ddof=True),
           lambda t, a, axis, keepdims, ddof: t.var(a, dim=_dims(a, axis), keepdim=keepdims,
                                                    correction=ddof)),
    OpSpec("max", lambda a, axis, keepdims: a.max(axis, keepdims), reduction(distinct=True),
           _torch_reduce("amax")),
    OpSpec("min", lambda a, axis, keepdims: a.min(axis, keepdims), reduction(distinct=True),
           _torch_reduce("amin")),
    OpSpec("logsumexp", lambda a, axis, keepdims: a.logsumexp(axis, keepdims), reduction(),
           _torch_reduce("logsumexp")),
    OpSpec("softmax", lambda a, axis: a.softmax(axis), along_axis(),
           lambda t, a, axis: t.softmax(a, dim=axis)),
    OpSpec("log_softmax", lambda a, axis: a.log_softmax(axis), along_axis(),
           lambda t, a, axis: t.log_softmax(a, dim=axis)),
    OpSpec("matmul", lambda a, b: a @ b, matmul_inputs(), lambda t, a, b: a @ b),
    OpSpec("linear", lambda x, w, b=None: F.linear(x, w, b), linear_inputs(),
           lambda t, x, w, b=None: t.nn.functional.linear(x, w, b)),
    OpSpec("reshape", lambda a, shape: a.reshape(shape), reshape_inputs(),
           lambda t, a, shape: a.reshape(shape)),
    OpSpec("permute", lambda a, axes: a.permute(*axes), permute_inputs(),
           lambda t, a, axes: a.permute(*axes)),
    OpSpec("transpose", lambda a: a.T, unary(), lambda t, a: a.permute(tuple(reversed(range(a.ndim))))),
    OpSpec("swapaxes", lambda a, axis1, axis2: a.swapaxes(axis1, axis2), swapaxes_inputs(),
           lambda t, a, axis1, axis2: t.swapaxes(a, axis1, axis2)),
    OpSpec("broadcast_to", lambda a, shape: a.broadcast_to(shape), broadcast_to_inputs(),
           lambda t, a, shape: t.broadcast_to(a, shape)),
    OpSpec("getitem", lambda a, index: a[index], getitem_inputs(),
           lambda t, a, index: a[_torch_index(t, index)]),
    # PyTorch has no negative slice steps, so this row has no oracle.
    OpSpec("getitem_negative_step", lambda a, index: a[index], getitem_inputs(steps=(-1, -2))),
    OpSpec("concatenate", lambda *xs, axis: movement.concatenate(xs, axis), joined_inputs(),
           lambda t, *xs, axis: t.cat(xs, dim=axis)),
    OpSpec("stack", lambda *xs, axis: movement.stack(xs, axis), joined_inputs(same_shape=True),
           lambda t, *xs, axis: t.stack(xs, dim=axis)),
    OpSpec("split", lambda a, sections, axis: tuple(a.split(sections, axis)), split_inputs(),
           lambda t, a, sections, axis: t.split(a, sections, dim=axis)),
    OpSpec("pad", lambda a, pad_width, value: a.pad(pad_width, value), pad_inputs(),
           lambda t, a, pad_width, value: _torch_pad(t, a, pad_width, value)),
    OpSpec("flatten", lambda a, start_dim, end_dim: a.flatten(start_dim, end_dim),
           flatten_inputs(), lambda t, a, start_dim, end_dim: t.flatten(a, start_dim, end_dim)),
    OpSpec("conv2d", lambda x, w, b, **kw: F.conv2d(x, w, b, **kw), conv_inputs(),
           lambda t, x, w, b, **kw: t.nn.functional.conv2d(x, w, b, **kw)),
    OpSpec("conv_transpose2d", lambda x, w, b, **kw: F.conv_transpose2d(x, w, b, **kw),
           conv_inputs(transpose=True),
           lambda t, x, w, b, **kw: t.nn.functional.conv_transpose2d(x, w, b, **kw)),
    OpSpec("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           batch_norm_inputs(training=True),
           lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True)),
    OpSpec("batch_norm_eval",
           lambda x, w, b, running_mean, running_var: F.batch_norm(
               x, Tensor(running_mean), Tensor(running_var), w, b, training=False),
           batch_norm_inputs(training=False),
           lambda t, x, w, b, running_mean, running_var: t.nn.functional.batch_norm(
               x, t.from_numpy(running_mean), t.from_numpy(running_var), w, b,
               training=False)),
    OpSpec("max_pool2d", lambda x, **kw: F.max_pool2d(x, **kw),
           pool_inputs(distinct=True, dilation=True),
           lambda t, x, **kw: t.nn.functional.max_pool2d(x, **kw)),
    OpSpec("avg_pool2d", lambda x, **kw: F.avg_pool2d(x, **kw), pool_inputs(),
           lambda t, x, **kw: t.nn.functional.avg_pool2d(x, **kw)),
    OpSpec("avg_pool2d_exclude_pad",
           lambda x, **kw: F.avg_pool2d(x, count_include_pad=False, **kw), pool_inputs(),
           lambda t, x, **kw: t.nn.functional.avg_pool2d(x, count_include_pad=False, **kw)),
]
