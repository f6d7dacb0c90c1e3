"""Data loading: IDX files, MNIST-like data sets, mini-batch iteration and pixel transforms.

Everything works on plain NumPy arrays and reads only local files::

    >>> from scratchgen import data
    >>> images, labels = data.load_mnist()       # the bundled MNIST test set   # doctest: +SKIP
    >>> x = data.to_unit_interval(images)              # float32 in [0, 1], (N, 1, 28, 28)
    >>> for xb, yb in data.DataLoader((x, labels), batch_size=64, shuffle=True, seed=0):
    ...     pass
"""
from .datasets import (
    BUNDLED_MNIST_ROOT,
    DATASETS,
    FASHION_MNIST_DEBIAN_ROOT,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_train_test,
)
from .idx import load_idx
from .loader import DataLoader
from .transforms import binarize, to_symmetric_interval, to_unit_interval

__all__ = [
    "BUNDLED_MNIST_ROOT", "DATASETS", "DataLoader", "FASHION_MNIST_DEBIAN_ROOT", "binarize",
    "load_digits", "load_fashion_mnist", "load_idx", "load_mnist", "load_train_test",
    "to_symmetric_interval",
    "to_unit_interval",
]
