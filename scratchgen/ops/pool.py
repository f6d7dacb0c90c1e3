"""Pooling ops: max_pool2d and avg_pool2d, with backward passes that are ops of their own.

Both poolings are linear in the gradient: max pooling's backward scatters each output
gradient to the input that won its window, and the backward of that scatter is a gather at
the same positions; average pooling's backward spreads each gradient over its window, and the
backward of that spreading is average pooling again. So double backward works.
"""
import numpy as np

from ..autograd.function import Function
from ..backend.conv_geometry import ConvGeometry
from .conv import pair


class MaxPool2d(Function):
    """y = max over each window.  dL/dx = G scattered to each window's maximum."""

    def forward(self, x, geometry):
        self.geometry = geometry
        y, self.argmax = self.backend.max_pool2d(x, geometry)
        return y

    def backward(self, grad_out):
        return MaxPool2dBackward.apply(grad_out, argmax=self.argmax, geometry=self.geometry)


class MaxPool2dBackward(Function):
    """dx = G scattered (added) to the positions ``argmax``.  Its adjoint gathers:
    dL/dG = ggx at the positions ``argmax``."""

    def forward(self, grad_y, argmax, geometry):
        self.argmax, self.geometry = argmax, geometry
        return self.backend.max_pool2d_backward(grad_y, argmax, geometry)

    def backward(self, grad_out):
        N, C, H_out, W_out = self.argmax.shape
        planes = grad_out.reshape(N * C, -1)                     # (N*C, H*W)
        rows = np.arange(N * C)[:, None]
        index = self.argmax.reshape(N * C, -1)
        won = index >= 0            # -1: a window of padding alone, which received nothing
        if won.all():
            return planes[rows, index].reshape(N, C, H_out, W_out)
        gathered = planes[rows, np.where(won, index, 0)] * won.astype(grad_out.data.dtype)
        return gathered.reshape(N, C, H_out, W_out)


class AvgPool2d(Function):
    """y = mean over each window.  dL/dx = G / count spread over each window."""

    def forward(self, x, geometry, count_include_pad):
        self.geometry, self.count_include_pad = geometry, count_include_pad
        return self.backend.avg_pool2d(x, geometry, count_include_pad)

    def backward(self, grad_out):
        return AvgPool2dBackward.apply(grad_out, geometry=self.geometry,
                                       count_include_pad=self.count_include_pad)


class AvgPool2dBackward(Function):
    """dx = G / count spread over each window.  Its adjoint is average pooling itself."""

    def forward(self, grad_y, geometry, count_include_pad):
        self.geometry, self.count_include_pad = geometry, count_include_pad
        return self.backend.avg_pool2d_backward(grad_y, geometry, count_include_pad)

    def backward(self, grad_out):
        return AvgPool2d.apply(grad_out, geometry=self.geometry,
                               count_include_pad=self.count_include_pad)


def _pool_geometry(x, kernel_size, stride, padding, dilation, caller):
    if x.ndim != 4:
        raise ValueError(f"{caller}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{caller}: expected float32 or float64 input, got {x.dtype}")
    KH, KW = pair(kernel_size, "kernel_size", caller, 1)
    stride = (KH, KW) if stride is None else pair(stride, "stride", caller, 1)
    padding = pair(padding, "padding", caller, 0)
    dilation = pair(dilation, "dilation", caller, 1)
    if padding[0] > KH // 2 or padding[1] > KW // 2:
        raise ValueError(f"{caller}: padding {padding} must be at most half the kernel size "
                         f"({KH}, {KW})")
    N, C, H, W = x.shape
    g = ConvGeometry(N, C, H, W, C, KH, KW, stride, padding, dilation, groups=C)
    if g.H_out < 1 or g.W_out < 1:
        raise ValueError(f"{caller}: kernel ({KH}, {KW}) is larger than the padded input "
                         f"({H + 2 * padding[0]}, {W + 2 * padding[1]}) (x.shape={x.shape})")
    return g


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1):
    """Max pooling over (KH, KW) windows; ``stride`` defaults to the kernel size.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
        Padding (at most half the kernel) never wins a window.

    Returns
    -------
    Tensor, shape (N, C, H_out, W_out)
    """
    g = _pool_geometry(input, kernel_size, stride, padding, dilation, "max_pool2d")
    return MaxPool2d.apply(input, geometry=g)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Average pooling over (KH, KW) windows; ``stride`` defaults to the kernel size.

    ``count_include_pad`` (PyTorch's default) divides by KH * KW everywhere; otherwise each
    window divides by the number of real inputs it covers.
    """
    g = _pool_geometry(input, kernel_size, stride, padding, 1, "avg_pool2d")
    return AvgPool2d.apply(input, geometry=g, count_include_pad=bool(count_include_pad))
