"""Real image data sets read from local files: MNIST, Fashion-MNIST and the 8x8 digits.

Nothing here downloads anything. The MNIST test set (10,000 digits) ships inside this package;
the full MNIST and Fashion-MNIST are read from a folder you give (Fashion-MNIST also from where
Debian's ``dataset-fashion-mnist`` package installs it); the 8x8 digits come with scikit-learn.
"""
from pathlib import Path

import numpy as np

from ..random_state import check_random_state
from .idx import load_idx

__all__ = ["BUNDLED_MNIST_ROOT", "DATASETS", "FASHION_MNIST_DEBIAN_ROOT", "load_digits", "load_fashion_mnist",
           "load_mnist", "load_train_test"]

#: The MNIST test set (gzip IDX files) that ships inside the package; see its README.md.
BUNDLED_MNIST_ROOT = Path(__file__).resolve().parent / "mnist"

#: Where Debian's ``dataset-fashion-mnist`` package puts the four gzip IDX files.
FASHION_MNIST_DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")

# The standard file-name prefix of each split, shared by MNIST and Fashion-MNIST.
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


def load_mnist(root=None, split="test"):
    """Load MNIST handwritten digits from IDX files in ``root``, or the bundled test set.

    Parameters
    ----------
    root : str or os.PathLike, optional
        ``None`` reads the MNIST test set that ships with scratchgen
        (:data:`BUNDLED_MNIST_ROOT`; only ``split="test"`` is there). Otherwise a folder with
        the standard files, raw or gzip-compressed:
        ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]`` for
        ``split="train"``, ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``
        for ``split="test"``. Where both forms exist the uncompressed one is read.
    split : {"test", "train"}
        Which half: 10,000 test or 60,000 training images.

    Returns
    -------
    images : numpy.ndarray of uint8, shape (N, 1, 28, 28)
        Pixel values 0..255, one channel.
    labels : numpy.ndarray of int64, shape (N,)
        The digit, 0..9.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message lists the names looked for and the folder.
    ValueError
        If ``split`` is unknown or a file is not a valid 28x28 image / label IDX file.

    Notes
    -----
    MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0).
    """
    hint = ""
    if root is None:
        root = BUNDLED_MNIST_ROOT
        hint = ("; scratchgen ships only the 10,000 test images: pass root= a folder with the "
                "training files")
    return _load_idx_pair(root, split, "load_mnist", hint=hint)


def load_fashion_mnist(root=None, split="train"):
    """Load Fashion-MNIST (Zalando's 28x28 clothing images) from IDX files.

    Parameters
    ----------
    root : str or os.PathLike, optional
        A folder with the standard file names (see :func:`load_mnist`). By default,
        :data:`FASHION_MNIST_DEBIAN_ROOT`, where ``apt-get install dataset-fashion-mnist``
        puts the four gzip files.
    split : {"train", "test"}
        60,000 training or 10,000 test images.

    Returns
    -------
    images : numpy.ndarray of uint8, shape (N, 1, 28, 28)
    labels : numpy.ndarray of int64, shape (N,)
        The class, 0..9: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt,
        Sneaker, Bag, Ankle boot.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message lists the names looked for and the folder.
    ValueError
        If ``split`` is unknown or a file is not a valid 28x28 image / label IDX file.

    Notes
    -----
    Fashion-MNIST is by Zalando SE (MIT licence).
    """
    hint = ""
    if root is None:
        root = FASHION_MNIST_DEBIAN_ROOT
        hint = ("; install Debian's dataset-fashion-mnist package or pass root= a folder "
                "with the IDX files")
    return _load_idx_pair(root, split, "load_fashion_mnist", hint=hint)


def load_digits(split=None, test_fraction=0.2, seed=0):
    """Load scikit-learn's 1,797 real 8x8 handwritten digits.

    Parameters
    ----------
    split : {None, "train", "test"}
        ``None`` returns all images. ``"train"`` or ``"test"`` returns one side of a
        stratified split: each digit's images are shuffled with ``seed`` and the first
        ``round(test_fraction * count)`` of them go to the test side, so both sides keep the
        class proportions. Within a side the original order is kept. The two sides are
        disjoint and together hold every image.
    test_fraction : float
        Fraction of each class put on the test side, in (0, 1).
    seed : int
        Seed of the shuffle; the same seed always gives the same split.

    Returns
    -------
    images : numpy.ndarray of float32, shape (N, 1, 8, 8)
        Ink counts 0..16 (not yet scaled; see :func:`scratchgen.data.to_unit_interval`
        with ``max_value=16``).
    labels : numpy.ndarray of int64, shape (N,)
        The digit, 0..9.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (it is in the ``demo`` extra).
    ValueError
        If ``split`` or ``test_fraction`` is invalid.
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"load_digits: split must be None, 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must be in (0, 1), got {test_fraction}")
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as err:
        raise ImportError("load_digits: the 8x8 digits ship with scikit-learn, which is not "
                          "installed; install the demo extra: pip install 'scratchgen[demo]'"
                          ) from err

    bunch = sklearn_load_digits()
    images = bunch.images.astype(np.float32).reshape(-1, 1, 8, 8)   # (N, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    if split is None:
        return images, labels

    rng = check_random_state(seed, "load_digits", name="seed")
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):         # sorted, so the draws happen in a fixed order
        members = np.flatnonzero(labels == digit)
        n_test = round(test_fraction * len(members))
        is_test[rng.permutation(members)[:n_test]] = True
    keep = is_test if split == "test" else ~is_test
    return images[keep], labels[keep]


#: The data sets :func:`load_train_test` knows, by the name the command line uses.
DATASETS = ("mnist", "fashion-mnist", "digits")

#: How the bundled MNIST test set is split when it is all there is: the first 8,000 images
#: train, the last 2,000 are held out.
BUNDLED_MNIST_TRAIN = 8000


def load_train_test(name, root=None):
    """Load a data set's training and held-out images, scaled to [0, 1].

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
        The data set.
    root : str or os.PathLike, optional
        A folder with the four standard IDX files (``train-*`` for training, ``t10k-*`` held
        out), for MNIST and Fashion-MNIST. Without it, MNIST is the bundled test set split
        8,000 / 2,000 (first 8,000 for training) and Fashion-MNIST is read from
        :data:`FASHION_MNIST_DEBIAN_ROOT`. The 8x8 digits take no folder: they are
        scikit-learn's, split 80 / 20 per class by :func:`load_digits`.

    Returns
    -------
    (train_images, train_labels), (test_images, test_labels)
        float32 images of shape (N, 1, H, W) in [0, 1] and int64 labels of shape (N,).

    Raises
    ------
    ValueError
        If ``name`` is unknown, or ``root`` is given for the digits; the loaders' errors for
        missing or malformed files.
    """
    if name not in DATASETS:
        raise ValueError(f"load_train_test: unknown data set {name!r}; choose one of "
                         f"{', '.join(DATASETS)}")
    if name == "digits":
        if root is not None:
            raise ValueError("load_train_test: the 8x8 digits ship with scikit-learn and take "
                             f"no data folder, got root={str(root)!r}")
        (x_train, y_train), (x_test, y_test) = load_digits("train"), load_digits("test")
        return (x_train / 16.0, y_train), (x_test / 16.0, y_test)
    if name == "mnist" and root is None:
        images, labels = load_mnist()
        images = images.astype(np.float32) / 255.0
        cut = BUNDLED_MNIST_TRAIN
        return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])
    load = load_mnist if name == "mnist" else load_fashion_mnist
    splits = [load(root, split=split) for split in ("train", "test")]
    return tuple((images.astype(np.float32) / 255.0, labels) for images, labels in splits)


def _find(root, stem):
    """Return the first of ``stem`` and ``stem.gz`` in ``root`` that exists, and the names."""
    names = [stem, stem + ".gz"]
    for name in names:
        if (root / name).is_file():
            return root / name, names
    return None, names


def _load_idx_pair(root, split, caller, hint):
    """Find, read and check the image and label files of one split of an MNIST-like set."""
    if split not in _SPLIT_PREFIX:
        raise ValueError(f"{caller}: split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    prefix = _SPLIT_PREFIX[split]
    found = {}
    for part, stem in (("images", f"{prefix}-images-idx3-ubyte"),
                       ("labels", f"{prefix}-labels-idx1-ubyte")):
        path, names = _find(root, stem)
        if path is None:
            where = "folder" if root.is_dir() else "folder, which does not exist"
            raise FileNotFoundError(f"{caller}: no {split} {part} in {root} ({where}): looked "
                                    f"for {' or '.join(names)}{hint}")
        found[part] = path

    images = load_idx(found["images"])
    labels = load_idx(found["labels"])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{caller}: {found['images']} should hold uint8 images of shape "
                         f"(N, 28, 28), found {images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{caller}: {found['labels']} should hold uint8 labels of shape "
                         f"(N,), found {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{caller}: {found['images']} has {len(images)} images but "
                         f"{found['labels']} has {len(labels)} labels")
    return images[:, None], labels.astype(np.int64)             # (N, 1, 28, 28), (N,)
