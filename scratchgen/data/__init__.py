"""Data loading: IDX files, MNIST-like data sets, mini-batch iteration and pixel transforms.

Everything works on plain NumPy arrays and reads only local files::

    >>> from scratchgen import data
    >>> images, labels = data.load_mnist("path/to/mnist", split="test")   # doctest: +SKIP
    >>> x = data.to_unit_interval(images)              # float32 in [0, 1], (N, 1, 28, 28)
    >>> for xb, yb in data.DataLoader((x, labels), batch_size=64, shuffle=True, seed=0):
    ...     pass
"""
from .datasets import FASHION_MNIST_DEBIAN_ROOT, load_digits, load_fashion_mnist, load_mnist
from .idx import load_idx
from .loader import DataLoader
from .transforms import binarize, to_symmetric_interval, to_unit_interval

__all__ = [
    "DataLoader", "FASHION_MNIST_DEBIAN_ROOT", "binarize", "load_digits",
    "load_fashion_mnist", "load_idx", "load_mnist", "to_symmetric_interval",
    "to_unit_interval",
]
