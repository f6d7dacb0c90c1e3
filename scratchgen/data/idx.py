"""Read IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file is a 4-byte magic number, then one big-endian uint32 per dimension, then the
items in C order, big-endian::

    byte 0, 1   0x00 0x00
    byte 2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte 3      number of dimensions, D
    4 * D       the sizes of the D dimensions, each a big-endian uint32
    the rest    prod(sizes) items of the type above, big-endian

The whole file may be gzip-compressed, as the published files are; compression is detected
from the gzip magic bytes ``1f 8b``, not from the file name.
"""
import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "load_idx"]

#: Type code (byte 2 of the magic number) -> big-endian NumPy dtype of the items.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def load_idx(path):
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file, e.g. ``t10k-images-idx3-ubyte.gz``. Whether it is gzip-compressed is read
        from its first two bytes, so any name works.

    Returns
    -------
    numpy.ndarray
        An array of the shape recorded in the file, e.g. (N, 28, 28) for MNIST images and
        (N,) for labels, with the dtype of its type code (uint8, int8, int16, int32, float32
        or float64) in native byte order. The array owns its memory and is writable.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a valid IDX file: a broken gzip stream, a bad magic number, an
        unknown type code, a truncated header, or a payload whose size differs from the
        product of the dimensions times the item size (truncated, or trailing bytes). The
        message names the file and gives what was expected and what was found.

    Examples
    --------
    >>> images = load_idx("t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    >>> images.shape, images.dtype                         # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    raw = path.read_bytes()
    data = _gunzip(raw, path) if raw[:2] == _GZIP_MAGIC else raw
    dtype, shape, offset = _parse_header(data, path)

    # Python ints: the product cannot overflow, however large the recorded sizes are.
    count = 1
    for size in shape:
        count *= size
    expected = count * dtype.itemsize
    found = len(data) - offset
    if found < expected:
        raise ValueError(f"load_idx: {path} is truncated: shape {shape} of {dtype.name} needs "
                         f"{expected} payload bytes, found {found}")
    if found > expected:
        raise ValueError(f"load_idx: {path} has {found - expected} trailing bytes: shape "
                         f"{shape} of {dtype.name} needs {expected} payload bytes, "
                         f"found {found}")

    # frombuffer reads the payload in place; astype converts to native byte order and gives
    # an array that owns writable memory (the bytes object underneath is read-only).
    items = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return items.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _gunzip(raw, path):
    """Decompress a whole gzip file, turning every kind of damage into a ValueError."""
    try:
        return gzip.decompress(raw)
    except EOFError as err:
        # gzip raises EOFError when the stream stops before its end-of-stream marker.
        raise ValueError(f"load_idx: {path} is a truncated gzip stream: expected the "
                         f"end-of-stream marker, found the end of the file after "
                         f"{len(raw)} bytes ({err})") from err
    except (gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"load_idx: {path} is a corrupt gzip stream ({err})") from err


def _parse_header(data, path):
    """Check the magic number and read the dimensions; return (dtype, shape, header size)."""
    if len(data) < 4:
        raise ValueError(f"load_idx: {path} is too short for an IDX magic number: expected "
                         f"at least 4 bytes, found {len(data)}")
    zero0, zero1, type_code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"load_idx: {path} has a bad magic number: expected it to start with "
                         f"bytes 00 00, found {data[:4].hex(' ')}; not an IDX file")
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise ValueError(f"load_idx: {path} has unknown type code 0x{type_code:02X} in its "
                         f"magic number; expected one of {known}")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"load_idx: {path} has a truncated header: {ndim} dimensions need "
                         f"{offset} header bytes, found {len(data)}")
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return IDX_DTYPES[type_code], shape, offset
