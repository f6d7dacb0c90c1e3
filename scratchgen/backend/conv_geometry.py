"""The geometry of a 2-D convolution or pooling window: sizes, strides, padding, dilation.

Every output size in scratchgen comes from the two functions here (integer arithmetic, never
float division), and every conv kernel receives one validated ``ConvGeometry``, so kernels
never re-derive or re-check shapes.
"""
from dataclasses import dataclass


def conv_output_size(size, kernel, stride, padding, dilation):
    """Output length of a convolution along one axis.

    A window of ``kernel`` taps spaced ``dilation`` apart spans ``dilation * (kernel - 1) + 1``
    inputs; it fits ``(size + 2 * padding - span) // stride + 1`` times.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size, kernel, stride, padding, dilation, output_padding):
    """Output length of a transposed convolution: the input length of the convolution it is
    the adjoint of (``output_padding`` picks among the lengths that share one output size)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes of one convolution y = conv2d(x, w), in NCHW layout.

    x: (N, C_in, H, W);  w: (C_out, C_in // groups, KH, KW);  y: (N, C_out, H_out, W_out).
    ``H_out`` and ``W_out`` default to ``conv_output_size``. A transposed convolution is
    described by the geometry of the convolution it reverses; with ``output_padding`` that
    convolution's input may have rows no output window reaches, so it passes H_out and W_out.
    """

    N: int
    C_in: int
    H: int
    W: int
    C_out: int
    KH: int
    KW: int
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int = 1
    H_out: int = None
    W_out: int = None

    def __post_init__(self):
        if self.H_out is None:
            object.__setattr__(self, "H_out", conv_output_size(
                self.H, self.KH, self.stride[0], self.padding[0], self.dilation[0]))
        if self.W_out is None:
            object.__setattr__(self, "W_out", conv_output_size(
                self.W, self.KW, self.stride[1], self.padding[1], self.dilation[1]))

    @property
    def x_shape(self):
        return (self.N, self.C_in, self.H, self.W)

    @property
    def w_shape(self):
        return (self.C_out, self.C_in // self.groups, self.KH, self.KW)

    @property
    def y_shape(self):
        return (self.N, self.C_out, self.H_out, self.W_out)
