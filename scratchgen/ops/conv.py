"""Convolution ops: conv2d, conv_transpose2d, and the weight gradient, three bilinear maps
whose backward passes are each other.

For y = conv(x, w) and an upstream gradient G:

    dL/dx = conv_transpose(G, w)          (the adjoint of conv in x)
    dL/dw = conv_weight(G, x)             (the adjoint of conv in w)

and each of those is again bilinear, so their own backward passes are convolutions too. That
is what makes double backward through a convolution work (WGAN-GP's gradient penalty). All
three take the ``ConvGeometry`` of the forward convolution; the kernels run on the backend.
Argument names, defaults and weight layouts follow ``torch.nn.functional``.
"""
import numpy as np

from ..autograd.function import Function
from ..backend.conv_geometry import ConvGeometry, conv_transpose_output_size


class Conv2d(Function):
    """y = conv2d(x, w) + b.  dL/dx = conv_transpose2d(G, w), dL/dw = conv_weight(G, x),
    dL/db = G summed over N, H_out, W_out.  The bias is added inside the kernel."""

    def forward(self, x, w, *bias, geometry):
        self.geometry = geometry
        return self.backend.conv2d(x, w, bias[0] if bias else None, geometry)

    def backward(self, grad_out):
        x, w = self.inputs[:2]
        g, needs = self.geometry, self.needs_input_grad
        grad_x = ConvTranspose2d.apply(grad_out, w, geometry=g) if needs[0] else None
        grad_w = Conv2dWeight.apply(grad_out, x, geometry=g) if needs[1] else None
        if len(self.inputs) == 2:
            return grad_x, grad_w
        grad_b = grad_out.sum(axis=(0, 2, 3)) if needs[2] else None
        return grad_x, grad_w, grad_b


class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, w) + b: the adjoint of the convolution described by
    ``geometry`` (whose *output* is x).  dL/dx = conv2d(G, w), dL/dw = conv_weight(x, G)."""

    def forward(self, x, w, *bias, geometry):
        self.geometry = geometry
        y = self.backend.conv2d_backward_data(x, w, geometry)
        if bias:
            y += bias[0].reshape(1, -1, 1, 1)
        return y

    def backward(self, grad_out):
        x, w = self.inputs[:2]
        g, needs = self.geometry, self.needs_input_grad
        grad_x = Conv2d.apply(grad_out, w, geometry=g) if needs[0] else None
        grad_w = Conv2dWeight.apply(x, grad_out, geometry=g) if needs[1] else None
        if len(self.inputs) == 2:
            return grad_x, grad_w
        grad_b = grad_out.sum(axis=(0, 2, 3)) if needs[2] else None
        return grad_x, grad_w, grad_b


class Conv2dWeight(Function):
    """gw = conv_weight(G, x), the gradient of <G, conv2d(x, w)> in w.

    Since <ggw, gw> = <G, conv2d(x, ggw)>:  dL/dG = conv2d(x, ggw), dL/dx =
    conv_transpose2d(G, ggw).
    """

    def forward(self, grad_y, x, geometry):
        self.geometry = geometry
        return self.backend.conv2d_backward_weight(grad_y, x, geometry)

    def backward(self, grad_out):
        grad_y, x = self.inputs
        g, needs = self.geometry, self.needs_input_grad
        grad_grad_y = Conv2d.apply(x, grad_out, geometry=g) if needs[0] else None
        grad_x = ConvTranspose2d.apply(grad_y, grad_out, geometry=g) if needs[1] else None
        return grad_grad_y, grad_x


# ------------------------------------------------------------------ validation at the boundary
def pair(value, name, caller, minimum):
    """An int or a pair of ints -> a pair, each at least ``minimum``."""
    values = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) for v in values) or min(
        values
    ) < minimum:
        raise ValueError(f"{caller}: {name} must be an int or a pair of ints >= {minimum}, "
                         f"got {value!r}")
    return tuple(int(v) for v in values)


def check_input(x, w, caller):
    """Shapes and dtypes shared by conv2d and conv_transpose2d."""
    if x.ndim != 4:
        raise ValueError(f"{caller}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"{caller}: expected a 4-D weight, got shape {w.shape}")
    if x.dtype != w.dtype or x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{caller}: input and weight must share a float32 or float64 dtype, "
                         f"got {x.dtype} and {w.dtype}")


def check_bias(bias, channels, dtype, caller):
    if bias is not None and (bias.shape != (channels,) or bias.dtype != dtype):
        raise ValueError(f"{caller}: bias must have shape ({channels},) and dtype {dtype}, "
                         f"got shape {bias.shape} and dtype {bias.dtype}")


def check_output(g, caller, x, w):
    if g.H_out < 1 or g.W_out < 1:
        raise ValueError(
            f"{caller}: kernel ({g.KH}, {g.KW}) with dilation {g.dilation} is larger than the "
            f"padded input ({g.H + 2 * g.padding[0]}, {g.W + 2 * g.padding[1]}) "
            f"(x.shape={x.shape}, w.shape={w.shape}, padding={g.padding})"
        )


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Parameters
    ----------
    input : Tensor, shape (N, C_in, H, W)
    weight : Tensor, shape (C_out, C_in // groups, KH, KW)
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
        Zero padding on both sides of each spatial axis.
    groups : int
        Split the channels into ``groups`` independent convolutions.

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out)
        ``H_out = (H + 2 padding - dilation (KH - 1) - 1) // stride + 1``, likewise W_out.
    """
    check_input(input, weight, "conv2d")
    C_out, C_in_per_group, KH, KW = weight.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1 or C_out % groups:
        raise ValueError(f"conv2d: groups must be a positive divisor of C_out={C_out}, "
                         f"got {groups!r}")
    if input.shape[1] != C_in_per_group * groups:
        raise ValueError(
            f"conv2d: input has {input.shape[1]} channels but weight expects "
            f"{C_in_per_group * groups} (x.shape={input.shape}, w.shape={weight.shape}, "
            f"groups={groups})"
        )
    check_bias(bias, C_out, input.dtype, "conv2d")
    g = ConvGeometry(input.shape[0], input.shape[1], input.shape[2], input.shape[3], C_out, KH,
                     KW, pair(stride, "stride", "conv2d", 1),
                     pair(padding, "padding", "conv2d", 0),
                     pair(dilation, "dilation", "conv2d", 1), int(groups))
    check_output(g, "conv2d", input, weight)
    operands = (input, weight) if bias is None else (input, weight, bias)
    return Conv2d.apply(*operands, geometry=g)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution: the adjoint (gradient) of ``conv2d`` with the same settings.

    Parameters
    ----------
    input : Tensor, shape (N, C_in, H, W)
    weight : Tensor, shape (C_in, C_out // groups, KH, KW)   (PyTorch's layout)
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
    output_padding : int or (int, int)
        Extra rows/columns on one side of the output, smaller than stride or dilation.
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1``.
    """
    check_input(input, weight, "conv_transpose2d")
    C_in, C_out_per_group, KH, KW = weight.shape
    if not isinstance(groups, (int, np.integer)) or groups < 1 or C_in % groups:
        raise ValueError(f"conv_transpose2d: groups must be a positive divisor of C_in={C_in}, "
                         f"got {groups!r}")
    if input.shape[1] != C_in:
        raise ValueError(
            f"conv_transpose2d: input has {input.shape[1]} channels but weight expects {C_in} "
            f"(x.shape={input.shape}, w.shape={weight.shape})"
        )
    stride = pair(stride, "stride", "conv_transpose2d", 1)
    padding = pair(padding, "padding", "conv_transpose2d", 0)
    dilation = pair(dilation, "dilation", "conv_transpose2d", 1)
    output_padding = pair(output_padding, "output_padding", "conv_transpose2d", 0)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be "
                             f"smaller than stride {stride} or dilation {dilation}")
    C_out = C_out_per_group * groups
    check_bias(bias, C_out, input.dtype, "conv_transpose2d")
    H, W = (conv_transpose_output_size(n, k, s, p, d, op) for n, k, s, p, d, op in
            zip(input.shape[2:], (KH, KW), stride, padding, dilation, output_padding))
    if H < 1 or W < 1:
        raise ValueError(f"conv_transpose2d: the output would be empty ({H}, {W}) "
                         f"(x.shape={input.shape}, w.shape={weight.shape}, padding={padding})")
    # The convolution this reverses maps (N, C_out, H, W) to the input's shape.
    g = ConvGeometry(input.shape[0], C_out, H, W, C_in, KH, KW, stride, padding, dilation,
                     int(groups), H_out=input.shape[2], W_out=input.shape[3])
    operands = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose2d.apply(*operands, geometry=g)
