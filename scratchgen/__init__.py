"""scratchgen: generative models from first principles.

A reverse-mode autograd over NumPy (with higher-order gradients), with matmul and convolution
on Cython kernels. Start with ``scratchgen.tensor`` and ``Tensor.backward``::

    >>> import scratchgen as sg
    >>> x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
"""
from ._version import __version__
from .autograd.anomaly import AnomalyError, detect_anomaly
from .autograd.dot import to_dot
from .autograd.engine import grad
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.tensor import Tensor, tensor
from .factories import (
    arange,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from .ops.elementwise import maximum, minimum, where
from .ops.linalg import matmul
from .ops.movement import concatenate, split, stack
from . import backend, data, nn, optim
from .serialization import load, save
from ._config import show_config

__all__ = [
    "AnomalyError", "Tensor", "__version__", "arange", "concatenate", "detect_anomaly",
    "enable_grad", "full", "full_like", "grad", "is_grad_enabled", "load", "matmul", "maximum",
    "minimum", "no_grad", "ones", "ones_like", "rand", "rand_like", "randn", "randn_like",
    "save", "set_grad_enabled", "show_config", "split", "stack", "tensor", "to_dot", "where", "zeros",
    "zeros_like",
    # subpackages
    "backend", "data", "nn", "optim",
]
