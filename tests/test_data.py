"""Tests for scratchgen.data: the IDX reader, the data sets, DataLoader and the transforms.

The real MNIST test set is read from ``shared/data/mnist`` beside the repository and
Fashion-MNIST from where Debian's ``dataset-fashion-mnist`` package installs it; each test
that needs them skips when they are absent. Everything else runs on files the tests write.
"""
import collections
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchgen import data
from scratchgen.data import datasets

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MNIST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TEST_IMAGES_MD5 = "2646ac647ad5339dbf082846283269ea"    # of the decompressed file
needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
                                 reason=f"the MNIST test set is not in {MNIST_DIR}")
needs_fashion = pytest.mark.skipif(
    not (datasets.FASHION_MNIST_DEBIAN_ROOT / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")

TYPE_CODES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32,
              0x0D: np.float32, 0x0E: np.float64}


def idx_bytes(array, type_code):
    """Build an IDX file by hand from the format's definition (independent of load_idx)."""
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.dtype(TYPE_CODES[type_code]).newbyteorder(">")).tobytes()


def random_values(dtype, shape, rng):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return (rng.standard_normal(shape) * 1e3).astype(dtype)


# --- load_idx ---------------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("type_code", sorted(TYPE_CODES), ids=lambda c: f"0x{c:02X}")
def test_load_idx_round_trips_every_type_and_dimension_count(tmp_path, type_code, compressed):
    rng = np.random.default_rng(type_code)
    dtype = TYPE_CODES[type_code]
    for shape in [(), (7,), (3, 5), (2, 3, 4), (2, 1, 3, 2), (0, 28, 28)]:
        expected = random_values(dtype, shape, rng)
        raw = idx_bytes(expected, type_code)
        path = tmp_path / f"file-{len(shape)}-{sum(shape)}"      # no suffix: sniffed by magic
        path.write_bytes(gzip.compress(raw) if compressed else raw)
        got = data.load_idx(path)
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative
        assert got.shape == shape
        np.testing.assert_array_equal(got, expected)
        assert got.flags.writeable and got.flags.c_contiguous


def test_load_idx_detects_gzip_by_content_not_by_name(tmp_path):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4)
    misnamed_raw = tmp_path / "raw.gz"
    misnamed_raw.write_bytes(idx_bytes(values, 0x08))
    misnamed_gzip = tmp_path / "compressed-idx1-ubyte"
    misnamed_gzip.write_bytes(gzip.compress(idx_bytes(values, 0x08)))
    np.testing.assert_array_equal(data.load_idx(misnamed_raw), values)
    np.testing.assert_array_equal(data.load_idx(str(misnamed_gzip)), values)


GOOD = idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4), 0x0B)   # 16-byte header


@pytest.mark.parametrize("content, message", [
    (b"\x01\x00" + GOOD[2:], r"bad magic number: expected it to start with bytes 00 00, "
                             r"found 01 00 0b 03"),
    (GOOD[:2] + b"\x0a" + GOOD[3:], r"unknown type code 0x0A .* expected one of 0x08, 0x09, "
                                    r"0x0B, 0x0C, 0x0D, 0x0E"),
    (GOOD[:-1], r"truncated: shape \(2, 3, 4\) of int16 needs 48 payload bytes, found 47"),
    (GOOD + b"\x00\x00\x07", r"3 trailing bytes: .* needs 48 payload bytes, found 51"),
    (GOOD[:10], r"truncated header: 3 dimensions need 16 header bytes, found 10"),
    (b"\x00\x00", r"too short for an IDX magic number: expected at least 4 bytes, found 2"),
    (gzip.compress(GOOD)[:-12], r"truncated gzip stream"),
    (gzip.compress(GOOD)[:-8] + b"\xff\xff\xff\xff" + gzip.compress(GOOD)[-4:],
     r"corrupt gzip stream"),
], ids=["bad-magic", "type-code", "short-payload", "trailing-bytes", "short-header",
        "tiny-file", "truncated-gzip", "bad-gzip-crc"])
def test_load_idx_rejects_damaged_files_naming_file_and_problem(tmp_path, content, message):
    path = tmp_path / "damaged-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"load_idx: .*damaged-idx3-ubyte") as info:
        data.load_idx(path)
    assert info.match(message)


def test_load_idx_gzip_of_truncated_idx_is_reported_as_truncated_payload(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD[:-2]))
    with pytest.raises(ValueError, match="needs 48 payload bytes, found 46"):
        data.load_idx(path)


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.load_idx(tmp_path / "nope")


# --- MNIST and Fashion-MNIST ------------------------------------------------------------


def write_mnist_like(folder, split, n, compressed, rng):
    prefix = {"train": "train", "test": "t10k"}[split]
    suffix = ".gz" if compressed else ""
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    for name, array, code in ((f"{prefix}-images-idx3-ubyte", images, 0x08),
                              (f"{prefix}-labels-idx1-ubyte", labels, 0x08)):
        raw = idx_bytes(array, code)
        (folder / (name + suffix)).write_bytes(gzip.compress(raw) if compressed else raw)
    return images, labels


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_mnist_reads_standard_names(tmp_path, split, compressed):
    images, labels = write_mnist_like(tmp_path, split, 5, compressed,
                                      np.random.default_rng(0))
    got_images, got_labels = data.load_mnist(tmp_path, split=split)
    assert got_images.shape == (5, 1, 28, 28) and got_images.dtype == np.uint8
    assert got_labels.shape == (5,) and got_labels.dtype == np.int64
    np.testing.assert_array_equal(got_images[:, 0], images)
    np.testing.assert_array_equal(got_labels, labels)


def test_load_mnist_missing_files_lists_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_mnist: no train images in .* looked for "
                       r"train-images-idx3-ubyte or train-images-idx3-ubyte\.gz"):
        data.load_mnist(tmp_path, split="train")
    write_mnist_like(tmp_path, "test", 3, False, np.random.default_rng(0))
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"no test labels .* t10k-labels-idx1-ubyte\.gz"):
        data.load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_mnist(tmp_path / "absent")


def test_load_mnist_rejects_bad_split_and_mismatched_files(tmp_path):
    with pytest.raises(ValueError, match=r"split must be 'train' or 'test', got 'val'"):
        data.load_mnist(tmp_path, split="val")
    write_mnist_like(tmp_path, "test", 4, False, np.random.default_rng(0))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(ValueError, match="has 4 images but .* has 3 labels"):
        data.load_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(
        idx_bytes(np.zeros((3, 8, 8), np.uint8), 0x08))
    with pytest.raises(ValueError, match=r"uint8 images of shape \(N, 28, 28\), found uint8 "
                                         r"of shape \(3, 8, 8\)"):
        data.load_mnist(tmp_path)


@needs_mnist
def test_real_mnist_test_set():
    images, labels = data.load_mnist(MNIST_DIR, split="test")
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == MNIST_LABEL_COUNTS
    # The published checksum covers the decompressed file: the header, then the pixels.
    payload = gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert len(payload) == 7_840_016
    assert hashlib.md5(payload).hexdigest() == MNIST_TEST_IMAGES_MD5
    rebuilt = struct.pack(">4I", 0x803, 10000, 28, 28) + images.tobytes()
    assert hashlib.md5(rebuilt).hexdigest() == MNIST_TEST_IMAGES_MD5
    with pytest.raises(FileNotFoundError, match="no train images"):
        data.load_mnist(MNIST_DIR, split="train")


@needs_fashion
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_fashion_mnist_from_the_debian_package(split, n):
    images, labels = data.load_fashion_mnist(split=split)
    assert images.shape == (n, 1, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [n // 10] * 10
    assert 0 < images.mean() < 255


def test_load_fashion_mnist_default_folder_missing_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DEBIAN_ROOT", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist package or pass root="):
        data.load_fashion_mnist()
    write_mnist_like(tmp_path, "train", 2, True, np.random.default_rng(1))
    images, labels = data.load_fashion_mnist(tmp_path)
    assert images.shape == (2, 1, 28, 28) and labels.shape == (2,)


# --- load_digits ------------------------------------------------------------------------


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)    # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'scratchgen\[demo\]'"):
        data.load_digits()


def rows(images):
    return collections.Counter(image.tobytes() for image in images)


def test_load_digits_full_and_split():
    pytest.importorskip("sklearn")
    images, labels = data.load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16

    train_x, train_y = data.load_digits("train")
    test_x, test_y = data.load_digits("test", test_fraction=0.2, seed=0)
    assert len(train_y) + len(test_y) == 1797
    # Disjoint and complete: the two sides together hold each (image, label) exactly once.
    both = rows(np.concatenate([train_x, test_x]).reshape(-1, 64).astype(np.int64) * 10
                + np.concatenate([train_y, test_y])[:, None])
    assert both == rows(images.reshape(-1, 64).astype(np.int64) * 10 + labels[:, None])
    # Stratified: each class contributes round(0.2 * its count) test images.
    counts = np.bincount(labels)
    assert np.bincount(test_y).tolist() == [round(0.2 * c) for c in counts]
    assert (np.bincount(train_y) == counts - np.bincount(test_y)).all()


def test_load_digits_split_is_deterministic_per_seed():
    pytest.importorskip("sklearn")
    a_x, a_y = data.load_digits("test", seed=3)
    b_x, b_y = data.load_digits("test", seed=3)
    c_x, _ = data.load_digits("test", seed=4)
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    assert not np.array_equal(a_x, c_x)
    assert len(data.load_digits("test", test_fraction=0.5)[1]) > len(a_y)


def test_load_digits_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split must be None, 'train' or 'test', got 'all'"):
        data.load_digits("all")
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.0"):
        data.load_digits("test", test_fraction=1.0)


# --- DataLoader -------------------------------------------------------------------------


def test_dataloader_batches_in_order_with_len():
    x = np.arange(10 * 3).reshape(10, 3)
    y = np.arange(10)
    loader = data.DataLoader((x, y), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(isinstance(b, tuple) and b[0].shape == (len(b[1]), 3) for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)


def test_dataloader_single_array_yields_arrays_and_drop_last():
    x = np.arange(10)
    loader = data.DataLoader(x, batch_size=3, drop_last=True)
    assert len(loader) == 3
    batches = list(loader)
    assert all(isinstance(b, np.ndarray) for b in batches)
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(data.DataLoader(x, batch_size=5, drop_last=True)) == 2
    assert len(data.DataLoader(x, batch_size=11)) == 1
    assert len(data.DataLoader(x, batch_size=11, drop_last=True)) == 0
    assert list(data.DataLoader(x[:0], batch_size=2)) == []


def epoch_orders(loader, epochs):
    return [np.concatenate([y for _, y in loader]).tolist() for _ in range(epochs)]


def test_dataloader_shuffle_is_reproducible_and_reshuffles_each_epoch():
    x, y = np.zeros((50, 2)), np.arange(50)
    first = epoch_orders(data.DataLoader((x, y), batch_size=8, shuffle=True, seed=7), 3)
    again = epoch_orders(data.DataLoader((x, y), batch_size=8, shuffle=True, seed=7), 3)
    other = epoch_orders(data.DataLoader((x, y), batch_size=8, shuffle=True, seed=8), 3)
    assert first == again
    assert first != other
    assert first[0] != first[1] != first[2]                    # a new order every epoch
    assert all(sorted(order) == list(range(50)) for order in first)   # each sample once
    assert first[0] != list(range(50))


def test_dataloader_shuffled_batches_keep_arrays_aligned():
    x = np.arange(20) * 10
    y = np.arange(20)
    for xb, yb in data.DataLoader((x, y), batch_size=6, shuffle=True, seed=0):
        np.testing.assert_array_equal(xb, yb * 10)


def test_dataloader_drop_last_with_shuffle():
    loader = data.DataLoader(np.arange(10), batch_size=4, shuffle=True, drop_last=True, seed=0)
    sizes = [len(b) for b in loader]
    assert sizes == [4, 4]


def test_dataloader_rejects_bad_input():
    with pytest.raises(ValueError, match=r"same length along axis 0, got lengths \[5, 4\]"):
        data.DataLoader((np.zeros(5), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        data.DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an int, got float"):
        data.DataLoader(np.zeros(5), batch_size=2.0)
    with pytest.raises(TypeError, match=r"arrays\[1\] must be a numpy.ndarray, got list"):
        data.DataLoader((np.zeros(5), [1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match="at least one dimension"):
        data.DataLoader(np.zeros(()))
    with pytest.raises(ValueError, match="at least one array"):
        data.DataLoader(())


# --- transforms -------------------------------------------------------------------------


def test_to_unit_and_symmetric_interval_ranges():
    images = np.array([[0, 1, 127, 128, 254, 255]], dtype=np.uint8)
    unit = data.to_unit_interval(images)
    symmetric = data.to_symmetric_interval(images)
    assert unit.dtype == symmetric.dtype == np.float32
    assert unit.min() == 0 and unit.max() == 1
    assert symmetric.min() == -1 and symmetric.max() == 1
    np.testing.assert_allclose(unit, images / 255, rtol=1e-6)
    np.testing.assert_allclose(symmetric, images / 127.5 - 1, atol=1e-6)
    digits = np.arange(17, dtype=np.float32)
    assert data.to_unit_interval(digits, max_value=16).max() == 1
    odd = data.to_unit_interval(np.array([0.0, 0.05, 0.1]), max_value=0.1)
    assert odd.max() <= 1 and odd[-1] == 1


def test_transforms_leave_input_alone_and_reject_out_of_range():
    images = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    data.to_unit_interval(images, max_value=1.0)
    np.testing.assert_array_equal(images, [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"to_unit_interval: expected values in \[0, 255\], "
                                         r"found values in \[-1, 300\]"):
        data.to_unit_interval(np.array([-1, 300]))
    with pytest.raises(ValueError, match="max_value must be positive"):
        data.to_symmetric_interval(images, max_value=0)
    with pytest.raises(TypeError, match="expected an integer, float or bool array"):
        data.to_unit_interval(np.array(["a"]))


def test_binarize_threshold_and_stochastic():
    x = np.array([0.0, 0.2, 0.5, 0.51, 1.0], dtype=np.float32)
    assert data.binarize(x).tolist() == [0, 0, 0, 1, 1]
    assert data.binarize(x, threshold=0.1).dtype == np.float32

    probs = np.full(200_000, 0.3)
    draws = data.binarize(probs, rng=np.random.default_rng(0))
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert abs(draws.mean() - 0.3) < 0.005                      # ~5 standard errors
    np.testing.assert_array_equal(draws, data.binarize(probs, rng=0))   # int seed
    ends = data.binarize(np.array([0.0, 1.0] * 1000), rng=1)
    assert ends.tolist() == [0.0, 1.0] * 1000                   # p=0 never, p=1 always
    with pytest.raises(ValueError, match=r"expected values in \[0.0, 1.0\]"):
        data.binarize(np.array([0, 255]), rng=0)
    with pytest.raises(TypeError, match="binarize: rng must be None, an int or a numpy Generator"):
        data.binarize(x, rng="seed")
