"""DataLoader: iterate over NumPy arrays in (optionally shuffled) mini-batches."""
import numpy as np

from ..random_state import check_random_state

__all__ = ["DataLoader"]


class DataLoader:
    """Mini-batches over one array or several arrays that share their first dimension.

    Parameters
    ----------
    arrays : numpy.ndarray or tuple of numpy.ndarray
        The samples along axis 0, e.g. ``(images, labels)`` with shapes (N, C, H, W) and (N,).
        Every array needs at least one dimension and the same length N.
    batch_size : int
        Samples per batch, at least 1. The last batch is smaller when ``batch_size`` does not
        divide N, unless ``drop_last``.
    shuffle : bool
        Visit the samples in a new random order each epoch (each ``iter()``).
    drop_last : bool
        Skip the last batch when it would be smaller than ``batch_size``.
    seed : int, numpy.random.Generator or None
        Seed of the generator behind ``shuffle``: ``np.random.default_rng(seed)`` is created
        once (by ``scratchgen.random_state.check_random_state``), so the sequence of epoch
        orders is the same for the same seed. ``None`` seeds from the operating system; a
        Generator is used as it is.

    Yields
    ------
    tuple of numpy.ndarray, or numpy.ndarray
        One batch: a tuple with one array per input array, or a single array when
        ``arrays`` was a single array. Without ``shuffle`` the batches are views of the
        inputs; with it they are copies.

    Examples
    --------
    >>> images, labels = np.zeros((10, 1, 28, 28)), np.arange(10)
    >>> loader = DataLoader((images, labels), batch_size=4, shuffle=True, seed=0)
    >>> len(loader)
    3
    >>> [y.shape for x, y in loader]
    [(4,), (4,), (2,)]
    """

    def __init__(self, arrays, batch_size=1, shuffle=False, drop_last=False, seed=None):
        self._single = isinstance(arrays, np.ndarray)
        self.arrays = (arrays,) if self._single else _check_arrays(arrays)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, "
                            f"got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if self._single and self.arrays[0].ndim == 0:
            raise ValueError("DataLoader: the array needs at least one dimension to batch "
                             "along, got a 0-d array")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = check_random_state(seed, "DataLoader", name="seed")

    @property
    def num_samples(self):
        """N, the length of the arrays along axis 0."""
        return len(self.arrays[0])

    def __len__(self):
        """The number of batches one epoch yields."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)          # ceil without floats

    def __iter__(self):
        # NOTE: a generator function runs nothing until the first next(), so the epoch's
        # permutation is drawn when iteration starts, once per epoch.
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        for b in range(len(self)):
            start, stop = b * self.batch_size, (b + 1) * self.batch_size
            if order is None:
                batch = tuple(a[start:stop] for a in self.arrays)
            else:
                rows = order[start:stop]
                batch = tuple(a[rows] for a in self.arrays)
            yield batch[0] if self._single else batch

    def __repr__(self):
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (f"DataLoader(arrays with shapes [{shapes}], batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")


def _check_arrays(arrays):
    """Validate a tuple (or list) of arrays of at least one dimension and equal length."""
    if not isinstance(arrays, (tuple, list)):
        raise TypeError(f"DataLoader: arrays must be a numpy.ndarray or a tuple of them, "
                        f"got {type(arrays).__name__}")
    if len(arrays) == 0:
        raise ValueError("DataLoader: arrays must hold at least one array, got an empty "
                         f"{type(arrays).__name__}")
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"DataLoader: arrays[{i}] must be a numpy.ndarray, "
                            f"got {type(a).__name__}")
        if a.ndim == 0:
            raise ValueError(f"DataLoader: arrays[{i}] needs at least one dimension to batch "
                             "along, got a 0-d array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise ValueError(f"DataLoader: all arrays must have the same length along axis 0, "
                         f"got lengths {lengths}")
    return tuple(arrays)
