"""Neural-network building blocks with PyTorch's names, shapes and state-dict keys.

``Module`` and ``Parameter`` hold state; the layers below compose ``scratchgen.nn.functional``;
``scratchgen.nn.init`` initializes parameters reproducibly.
"""
from . import functional, init, utils
from .activation import ELU, Dropout, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .containers import ModuleList, Sequential
from .conv import AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d, Upsample
from .linear import Embedding, Flatten, Identity, Linear, Unflatten
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm

__all__ = [
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Dropout", "ELU",
    "Embedding", "Flatten", "Identity", "LayerNorm", "LeakyReLU", "Linear", "MaxPool2d",
    "Module", "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softplus", "Tanh",
    "Unflatten", "Upsample", "functional", "init", "utils",
]
