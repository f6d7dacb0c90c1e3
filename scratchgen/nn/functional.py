"""Stateless neural-network functions, named and called as in ``torch.nn.functional``."""
from ..ops.conv import conv2d, conv_transpose2d
from ..ops.pool import avg_pool2d, max_pool2d

__all__ = ["avg_pool2d", "conv2d", "conv_transpose2d", "max_pool2d"]
