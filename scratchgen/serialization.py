"""Checkpoints: save and load nested containers of NumPy arrays and scalars, without pickle.

``save(obj, path)`` writes, and ``load(path)`` returns, a tree made of

- ``dict`` with ``str`` or ``int`` keys (int keys come back as ints, as an optimizer's state
  dict needs; dict subclasses such as ``OrderedDict`` come back as plain, ordered dicts),
- ``list`` and ``tuple`` (each comes back as itself),
- ``numpy.ndarray`` of a bool, integer, float or complex dtype, any shape (0-d and empty too),
  and NumPy scalars of those dtypes (``np.float32(1.5)``),
- ``int``, ``float`` (nan and inf too), ``bool``, ``str`` and ``None``.

Nothing else is accepted, so no code ever runs while loading: a Tensor is saved through its
``.data`` array, a model through its state dict of arrays.

File format, version 1
----------------------
A checkpoint is a zip archive (the ``.npz`` layout, so ``np.load(path, allow_pickle=False)``
and any zip tool can look inside) with uncompressed members:

``checkpoint.json``
    ``{"format": "scratchgen-checkpoint", "version": 1, "tree": NODE}``. A NODE is a JSON
    object with a ``"type"``: ``{"type": "dict", "items": [[key, NODE], ...]}`` (a JSON string
    or integer key), ``{"type": "list" | "tuple", "items": [NODE, ...]}``,
    ``{"type": "array" | "numpy_scalar", "file": "arrays/0.npy"}``,
    ``{"type": "int" | "bool" | "str", "value": ...}``, ``{"type": "float", "value": repr}``
    (a string, exact, with ``"nan"``, ``"inf"``, ``"-inf"``) and ``{"type": "none"}``.
``arrays/<i>.npy``
    Array ``i`` in NumPy's ``.npy`` format, written and read with ``allow_pickle=False``.
the archive comment
    The file's last 71 bytes: ``sha256:`` then the hex SHA-256 of every byte before those 64
    digits. ``load`` checks it before reading anything else, so a truncated or altered file
    raises ``ValueError`` instead of loading garbage.

Writes are atomic: the file is written beside the target under a temporary name, flushed to
disk and renamed over the target, so a crash leaves either the old or the new checkpoint.
"""
import errno
import hashlib
import io
import json
import os
import secrets
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]

FORMAT_NAME = "scratchgen-checkpoint"
FORMAT_VERSION = 1

_HEADER = "checkpoint.json"
_DIGEST_PREFIX = b"sha256:"
_DIGEST_LEN = 64                            # hex digits of a SHA-256
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)          # fixed timestamps: equal trees give equal files
_ARRAY_KINDS = "biufc"                      # bool, int, uint, float, complex
_SUPPORTED = ("dict, list, tuple, numpy.ndarray or NumPy scalar of a bool/int/float/complex "
              "dtype, int, float, bool, str or None")


def save(obj, path):
    """Write ``obj`` to a checkpoint file at ``path``, atomically.

    Parameters
    ----------
    obj : dict, list, tuple, numpy.ndarray, scalar or None
        A tree of the types listed in this module's docstring, e.g.
        ``{"model": model_state, "optimizer": optimizer_state, "epoch": 3}``. The same array
        reached twice is stored twice.
    path : str or os.PathLike
        The file to write; its folder must exist. An existing file is replaced only once the
        new one is completely on disk.

    Raises
    ------
    TypeError
        If the tree holds an unsupported type, a dict key that is neither str nor int, or an
        array of an unsupported dtype; the message gives the key path (``model.layers.0``)
        and the type. Nothing is written then.
    ValueError
        If a container holds itself.
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    A process killed while saving can leave a ``.<name>.<random>.tmp`` file beside ``path``;
    it is never read and can be deleted. Later saves use fresh names and are unaffected.
    """
    path = Path(path)
    arrays = []
    tree = _encode(obj, (), arrays, set())       # every TypeError before touching the disk
    if not path.parent.is_dir():
        raise FileNotFoundError(f"scratchgen.save: cannot write {path}: the folder "
                                f"{path.parent} does not exist")
    header = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "tree": tree},
                        allow_nan=False).encode("utf-8")
    write_atomically(path, lambda f: _write_archive(f, header, arrays))


def load(path):
    """Read a checkpoint written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    object
        The saved tree, with arrays of the saved dtype (byte order included) and shape.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a checkpoint, is truncated or altered (SHA-256 mismatch), has an
        unknown format version, or holds an array that would need pickle (object dtype) or
        another unsupported dtype. The message names the file.
    """
    path = Path(path)
    data = path.read_bytes()
    _verify_digest(data, path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ValueError(f"scratchgen.load: {path} is not a valid zip archive ({err})") from err
    with archive:
        header = _read_header(archive, path)
        reader = _ArrayReader(archive, path)
        tree = _decode(header["tree"], (), reader)
        unused = set(archive.namelist()) - {_HEADER} - reader.used
        if unused:
            raise ValueError(f"scratchgen.load: {path} has members the structure does not "
                             f"use: {sorted(unused)}")
    return tree


# --- writing ----------------------------------------------------------------------------


def _encode(obj, where, arrays, active):
    """Turn ``obj`` into a JSON node; arrays go to ``arrays`` and are named by position."""
    kind = type(obj)
    # Exact types: a subclass (an IntEnum, a masked array) would not come back as itself.
    if obj is None:
        return {"type": "none"}
    if kind is bool:
        return {"type": "bool", "value": obj}
    if kind is int:
        return {"type": "int", "value": obj}
    if kind is float:
        return {"type": "float", "value": repr(obj)}     # repr round-trips every float exactly
    if kind is str:
        return {"type": "str", "value": obj}
    if kind is np.ndarray or isinstance(obj, np.generic):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"scratchgen.save: unsupported dtype {obj.dtype} at "
                            f"{_show(where)}; expected a bool, integer, float or complex dtype")
        arrays.append(np.asarray(obj))
        node_type = "array" if kind is np.ndarray else "numpy_scalar"
        return {"type": node_type, "file": f"arrays/{len(arrays) - 1}.npy"}
    if isinstance(obj, dict) or kind in (list, tuple):
        if id(obj) in active:
            raise ValueError(f"scratchgen.save: {_show(where)} contains itself; a checkpoint "
                             "must be a tree")
        active.add(id(obj))
        if isinstance(obj, dict):
            items = [[_check_key(key, where), _encode(value, where + (key,), arrays, active)]
                     for key, value in obj.items()]
            node = {"type": "dict", "items": items}
        else:
            node = {"type": kind.__name__,
                    "items": [_encode(item, where + (i,), arrays, active)
                              for i, item in enumerate(obj)]}
        active.discard(id(obj))
        return node
    hint = ""
    if isinstance(getattr(obj, "data", None), np.ndarray):
        hint = "; save its .data array instead"
    raise TypeError(f"scratchgen.save: unsupported type {kind.__module__}.{kind.__qualname__} "
                    f"at {_show(where)}{hint}; supported: {_SUPPORTED}")


def _check_key(key, where):
    if type(key) not in (str, int):
        raise TypeError(f"scratchgen.save: dict key {key!r} at {_show(where)} has type "
                        f"{type(key).__name__}; keys must be str or int")
    return key


def _show(where):
    """A key path for messages: ``'model.layers.0.weight'``, or ``the top level``."""
    return "'" + ".".join(str(k) for k in where) + "'" if where else "the top level"


def _member(name):
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16           # unix permissions, for zip tools
    return info


def _write_archive(f, header, arrays):
    """Write the zip archive to the open file ``f``, then seal it with its SHA-256."""
    with zipfile.ZipFile(f, "w") as archive:
        # A placeholder the final digest overwrites in place; the comment is the file's end.
        archive.comment = _DIGEST_PREFIX + b"0" * _DIGEST_LEN
        archive.writestr(_member(_HEADER), header)
        for i, array in enumerate(arrays):
            with archive.open(_member(f"arrays/{i}.npy"), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    # ZipFile leaves a file object it was given open: hash all but the placeholder digits.
    size = f.seek(0, os.SEEK_END)
    digest = hashlib.sha256()
    f.seek(0)
    remaining = size - _DIGEST_LEN
    while remaining > 0:
        chunk = f.read(min(remaining, 1 << 20))
        if not chunk:
            raise OSError(f"scratchgen.save: {f.name} shrank while it was being hashed")
        digest.update(chunk)
        remaining -= len(chunk)
    f.seek(size - _DIGEST_LEN)
    f.write(digest.hexdigest().encode("ascii"))


def write_atomically(path, write):
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it onto
    ``path``: readers (and a crash) see the old file or the new one, never half of one. Used
    for every file scratchgen writes (checkpoints, metrics, plots)."""
    path = Path(path)
    # A random name per attempt: a temporary left by a killed process is never reused.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        with open(tmp, "x+b") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())               # the data is on disk before the rename
        os.replace(tmp, path)                  # atomic: readers see the old or the new file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)              # and the rename itself survives a crash


def _fsync_directory(folder):
    # NOTE: Windows cannot open a folder for fsync (its file system journals the rename), so
    # this step is POSIX-only; a file system that refuses it is reported, not hidden.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
        warnings.warn(f"scratchgen.save: this file system cannot fsync the folder {folder} "
                      f"({err}); the checkpoint is written but its rename may not survive a "
                      "power loss", RuntimeWarning, stacklevel=3)
    finally:
        os.close(fd)


# --- reading ----------------------------------------------------------------------------


def _verify_digest(data, path):
    tail = len(_DIGEST_PREFIX) + _DIGEST_LEN
    if len(data) < tail or data[-tail:-_DIGEST_LEN] != _DIGEST_PREFIX:
        raise ValueError(f"scratchgen.load: {path} is not a scratchgen checkpoint or is "
                         f"truncated: expected the file to end with 'sha256:' and "
                         f"{_DIGEST_LEN} hex digits, found {data[-tail:]!r}")
    stored = data[-_DIGEST_LEN:]
    actual = hashlib.sha256(data[:-_DIGEST_LEN]).hexdigest().encode("ascii")
    if stored != actual:
        raise ValueError(f"scratchgen.load: {path} is corrupted or was modified: its recorded "
                         f"SHA-256 is {stored.decode('ascii', 'replace')} but its content "
                         f"hashes to {actual.decode('ascii')}")


def _read_member(archive, name, path):
    """The bytes of one member. The digest matched, so failures here mean a crafted file."""
    try:
        return archive.read(name)
    except KeyError as err:
        raise ValueError(f"scratchgen.load: {path} has no member {name!r}") from err
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            OSError) as err:
        raise ValueError(f"scratchgen.load: {path}: cannot read member {name!r} ({err})"
                         ) from err


def _read_header(archive, path):
    raw = _read_member(archive, _HEADER, path)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"scratchgen.load: {path}: {_HEADER} is not valid JSON ({err})"
                         ) from err
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        found = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise ValueError(f"scratchgen.load: {path}: expected format {FORMAT_NAME!r}, "
                         f"found {found!r}")
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(f"scratchgen.load: {path} has format version "
                         f"{header.get('version')!r}; this scratchgen reads version "
                         f"{FORMAT_VERSION} (a newer scratchgen may read it)")
    if "tree" not in header:
        raise ValueError(f"scratchgen.load: {path}: {_HEADER} has no 'tree'")
    return header


class _ArrayReader:
    """Reads ``.npy`` members without pickle, each at most once."""

    def __init__(self, archive, path):
        self.archive, self.path, self.used = archive, path, set()

    def read(self, name, where):
        if not isinstance(name, str) or name in self.used or name == _HEADER:
            raise _malformed(self.path, where, f"bad or repeated array member {name!r}")
        self.used.add(name)
        buffer = io.BytesIO(_read_member(self.archive, name, self.path))
        try:
            array = np.lib.format.read_array(buffer, allow_pickle=False)
        except ValueError as err:
            # Object arrays land here: they would need pickle, which is never used.
            raise ValueError(f"scratchgen.load: {self.path}: refusing array {name!r} at "
                             f"{_show(where)} ({err})") from err
        if array.dtype.kind not in _ARRAY_KINDS:
            raise ValueError(f"scratchgen.load: {self.path}: array {name!r} at {_show(where)} "
                             f"has unsupported dtype {array.dtype}")
        if buffer.tell() != len(buffer.getbuffer()):
            raise ValueError(f"scratchgen.load: {self.path}: array {name!r} has trailing bytes")
        return array


def _malformed(path, where, what):
    return ValueError(f"scratchgen.load: {path}: malformed structure at {_show(where)}: {what}")


def _decode(node, where, reader):
    """Rebuild the object a JSON node describes, checking every field of a crafted file."""
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        raise _malformed(reader.path, where, f"expected a node object, found {node!r:.80}")
    node_type, value = node["type"], node.get("value")
    if node_type == "none":
        return None
    if node_type in ("bool", "int", "str"):
        if type(value).__name__ != node_type:
            raise _malformed(reader.path, where, f"{node_type} node holds {value!r:.80}")
        return value
    if node_type == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _malformed(reader.path, where, f"float node holds {value!r:.80}") from None
    if node_type in ("array", "numpy_scalar"):
        array = reader.read(node.get("file"), where)
        if node_type == "array":
            return array
        if array.ndim != 0:
            raise _malformed(reader.path, where, f"NumPy scalar of shape {array.shape}")
        return array[()]
    items = node.get("items")
    if node_type in ("list", "tuple") and isinstance(items, list):
        decoded = [_decode(item, where + (i,), reader) for i, item in enumerate(items)]
        return decoded if node_type == "list" else tuple(decoded)
    if node_type == "dict" and isinstance(items, list):
        result = {}
        for item in items:
            if (not isinstance(item, list) or len(item) != 2
                    or type(item[0]) not in (str, int) or item[0] in result):
                raise _malformed(reader.path, where, f"bad dict item {item!r:.80}")
            result[item[0]] = _decode(item[1], where + (item[0],), reader)
        return result
    raise _malformed(reader.path, where, f"unknown node type {node_type!r} or missing items")
