"""Tests for scratchgen.serialization: round trips, refusals, integrity and atomic writes."""
import collections
import errno
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from scratchgen.serialization import load, save

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ARRAY_DTYPES = ["?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8",
                "c16", ">f4", ">i8"]


def every_type_tree():
    """A nested tree holding each supported type at least once."""
    rng = np.random.default_rng(0)
    arrays = {dtype: (rng.standard_normal((2, 3)) * 50).astype(dtype) for dtype in ARRAY_DTYPES}
    return {
        "model": {
            "layers": [{"weight": rng.standard_normal((3, 4)).astype(np.float32),
                        "bias": np.zeros(3, np.float32)},
                       {"weight": np.asfortranarray(rng.standard_normal((2, 5)))}],
            "dtypes": arrays,
            "zero_d": np.array(3.5),
            "empty": np.zeros((0, 4), np.int64),
            "strided": np.arange(20.0)[::3],
            "numpy_scalars": [np.float32(1.25), np.int64(-3), np.bool_(True), np.complex64(1j)],
        },
        "optimizer": {"state": {0: {"step": 12, "exp_avg": np.ones(3)}, 1: {"step": 12}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "0": "string key '0' beside int key 0",
        0: "int key 0",
        -7: None,
        "scalars": [0, -1, 2**100, 0.1, -0.0, float("inf"), float("-inf"), 1e-310, True, False,
                    "", "ünïcödé ✓", None],
        "nan": float("nan"),
        "empties": [{}, [], ()],
        "nested_tuple": ((1, (2, [3])),),
    }


def assert_same(got, expected, where="top"):
    """Equal, with exact types, dtypes (byte order included), shapes and nan positions."""
    assert type(got) is type(expected), f"{where}: {type(got)} != {type(expected)}"
    if isinstance(expected, dict):
        assert list(got) == list(expected), f"{where}: keys {list(got)} != {list(expected)}"
        assert [type(k) for k in got] == [type(k) for k in expected], f"{where}: key types"
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}.{i}")
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert got.dtype == expected.dtype and got.shape == expected.shape, where
        np.testing.assert_array_equal(got, expected, err_msg=where)
    elif isinstance(expected, float):
        assert (got == expected and np.signbit(got) == np.signbit(expected)) or \
            (np.isnan(got) and np.isnan(expected)), where
    else:
        assert got == expected, where


def test_round_trip_of_every_supported_type(tmp_path):
    tree = every_type_tree()
    path = tmp_path / "all.ckpt"
    save(tree, path)
    assert_same(load(path), tree)
    assert_same(load(str(path)), tree)
    assert load(path)["model"]["layers"][1]["weight"].flags.f_contiguous


@pytest.mark.parametrize("obj", [None, 3, 2.5, float("nan"), "x", True, np.zeros(()),
                                 np.zeros((0,)), [], {}, ()], ids=repr)
def test_round_trip_of_a_bare_value(tmp_path, obj):
    save(obj, tmp_path / "one.ckpt")
    assert_same(load(tmp_path / "one.ckpt"), obj)


def test_int_keys_stay_ints_and_ordered_dict_loads_as_dict(tmp_path):
    state = collections.OrderedDict([(2, "b"), (0, "a"), ("2", "c")])
    save({"state": state}, tmp_path / "o.ckpt")
    got = load(tmp_path / "o.ckpt")["state"]
    assert type(got) is dict
    assert list(got.items()) == [(2, "b"), (0, "a"), ("2", "c")]


def test_saves_are_byte_for_byte_reproducible_and_readable_by_numpy(tmp_path):
    tree = every_type_tree()
    save(tree, tmp_path / "a.ckpt")
    save(tree, tmp_path / "b.ckpt")
    assert (tmp_path / "a.ckpt").read_bytes() == (tmp_path / "b.ckpt").read_bytes()
    with np.load(tmp_path / "a.ckpt", allow_pickle=False) as archive:
        assert "checkpoint.json" in archive.files
        assert all(archive[name].dtype != object for name in archive.files
                   if name.startswith("arrays/"))


class FakeTensor:
    def __init__(self):
        self.data = np.zeros(3)


@pytest.mark.parametrize("tree, where, what", [
    ({"model": {"layers": [{"weight": FakeTensor()}]}}, "'model.layers.0.weight'",
     r"FakeTensor at .*; save its .data array instead"),
    ({"a": {1, 2}}, "'a'", "builtins.set"),
    ({"a": [b"bytes"]}, "'a.0'", "builtins.bytes"),
    ({"a": 1 + 2j}, "'a'", "builtins.complex"),
    ({"a": np.array([object()], dtype=object)}, "'a'", "unsupported dtype object"),
    ({"a": np.array(["text"])}, "'a'", "unsupported dtype <U4"),
    ({"a": np.ma.masked_array([1, 2])}, "'a'", "MaskedArray"),
    ({"x": {(1, 2): 3}}, "'x'", r"dict key \(1, 2\) .* has type tuple; keys must be str or int"),
    ({"x": {True: 3}}, "'x'", "dict key True .* has type bool"),
    ({"x": {1.5: 3}}, "'x'", "dict key 1.5 .* has type float"),
    (collections.namedtuple("Pair", "a b")(1, 2), "the top level", "Pair"),
], ids=["tensor", "set", "bytes", "complex", "object-array", "str-array", "masked",
        "tuple-key", "bool-key", "float-key", "namedtuple"])
def test_unsupported_types_name_the_key_path_and_write_nothing(tmp_path, tree, where, what):
    path = tmp_path / "bad.ckpt"
    with pytest.raises(TypeError, match=r"scratchgen\.save: ") as info:
        save(tree, path)
    assert where in str(info.value)
    assert info.match(what)
    assert list(tmp_path.iterdir()) == []


def test_a_container_holding_itself_is_refused(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(ValueError, match="'a.0' contains itself"):
        save(loop, tmp_path / "loop.ckpt")
    shared = np.ones(2)
    save([shared, shared], tmp_path / "shared.ckpt")         # shared, but not a cycle
    assert len(load(tmp_path / "shared.ckpt")) == 2


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder .*absent does not exist"):
        save({}, tmp_path / "absent" / "x.ckpt")


# --- integrity --------------------------------------------------------------------------


@pytest.fixture
def small_checkpoint(tmp_path):
    path = tmp_path / "small.ckpt"
    save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), 0: {"step": 3}, "name": "x"}, path)
    return path


def test_every_flipped_byte_is_detected(small_checkpoint, tmp_path):
    content = small_checkpoint.read_bytes()
    bad = tmp_path / "bad.ckpt"
    for i in range(len(content)):
        tampered = bytearray(content)
        tampered[i] ^= 0x01
        bad.write_bytes(bytes(tampered))
        with pytest.raises(ValueError, match=r"scratchgen\.load: .*bad\.ckpt"):
            load(bad)


def test_a_changed_value_reports_the_digest_mismatch(small_checkpoint):
    content = small_checkpoint.read_bytes()
    at = content.index(b'"int", "value": 3}') + len(b'"int", "value": ')
    small_checkpoint.write_bytes(content[:at] + b"4" + content[at + 1:])
    with pytest.raises(ValueError, match="corrupted or was modified: its recorded SHA-256 is "):
        load(small_checkpoint)


def test_every_truncation_is_detected(small_checkpoint, tmp_path):
    content = small_checkpoint.read_bytes()
    cut = tmp_path / "cut.ckpt"
    for n in range(len(content)):
        cut.write_bytes(content[:n])
        with pytest.raises(ValueError, match=r"cut\.ckpt (is not a scratchgen checkpoint or is "
                                             r"truncated|is corrupted)"):
            load(cut)


def test_foreign_files_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    (tmp_path / "empty").write_bytes(b"")
    for name in ["plain.npz", "empty"]:
        with pytest.raises(ValueError, match="is not a scratchgen checkpoint"):
            load(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "absent.ckpt")


def write_sealed_archive(path, members):
    """Write a zip the way the format describes, digest included, around chosen members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.comment = b"sha256:" + b"0" * 64
        for name, content in members.items():
            archive.writestr(name, content)
    body = buffer.getvalue()[:-64]
    path.write_bytes(body + hashlib.sha256(body).hexdigest().encode("ascii"))


def header(tree, version=1):
    return json.dumps({"format": "scratchgen-checkpoint", "version": version, "tree": tree})


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def test_object_arrays_are_never_unpickled(tmp_path):
    # A plain .npz with a pickled object array: not a checkpoint at all.
    np.savez(tmp_path / "evil.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a scratchgen checkpoint"):
        load(tmp_path / "evil.npz")
    # A correctly sealed checkpoint whose array member holds a pickle: still refused.
    crafted = tmp_path / "crafted.ckpt"
    write_sealed_archive(crafted, {
        "checkpoint.json": header({"type": "array", "file": "arrays/0.npy"}),
        "arrays/0.npy": npy_bytes(np.array([{"x": 1}], dtype=object), allow_pickle=True)})
    with pytest.raises(ValueError, match=r"refusing array 'arrays/0.npy' .*allow_pickle"):
        load(crafted)


@pytest.mark.parametrize("members, message", [
    ({"checkpoint.json": header({"type": "none"}, version=2)},
     "format version 2; this scratchgen reads version 1"),
    ({"checkpoint.json": json.dumps({"format": "other", "version": 1})},
     "expected format 'scratchgen-checkpoint', found 'other'"),
    ({"checkpoint.json": "{not json"}, "checkpoint.json is not valid JSON"),
    ({"other.json": "{}"}, "has no member 'checkpoint.json'"),
    ({"checkpoint.json": header({"type": "pickle"})}, "unknown node type 'pickle'"),
    ({"checkpoint.json": header({"type": "int", "value": "1"})}, "int node holds '1'"),
    ({"checkpoint.json": header({"type": "dict", "items": [[1.5, {"type": "none"}]]})},
     "bad dict item"),
    ({"checkpoint.json": header({"type": "array", "file": "arrays/9.npy"})},
     "has no member 'arrays/9.npy'"),
    ({"checkpoint.json": header({"type": "none"}), "arrays/0.npy": npy_bytes(np.ones(2))},
     r"members the structure does not use: \['arrays/0.npy'\]"),
    ({"checkpoint.json": header({"type": "array", "file": "arrays/0.npy"}),
      "arrays/0.npy": npy_bytes(np.array(["text"]))}, "unsupported dtype <U4"),
    ({"checkpoint.json": header({"type": "list", "items": [
        {"type": "array", "file": "arrays/0.npy"}, {"type": "array", "file": "arrays/0.npy"}]}),
      "arrays/0.npy": npy_bytes(np.ones(2))}, "repeated array member"),
], ids=["version", "format", "json", "no-header", "node-type", "int-value", "dict-key",
        "missing-array", "extra-member", "str-array", "repeated-array"])
def test_crafted_but_sealed_files_are_refused_clearly(tmp_path, members, message):
    crafted = tmp_path / "crafted.ckpt"
    write_sealed_archive(crafted, members)
    with pytest.raises(ValueError, match=r"scratchgen\.load: .*crafted\.ckpt") as info:
        load(crafted)
    assert info.match(message)


# --- atomic writes ----------------------------------------------------------------------


def stray_files(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name != name)


def test_a_failed_save_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    save({"version": 1}, path)

    def broken_write_array(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", broken_write_array)
    with pytest.raises(OSError, match="No space left"):
        save({"version": 2, "w": np.ones(3)}, path)
    assert load(path) == {"version": 1}
    assert stray_files(tmp_path, "model.ckpt") == []


def test_an_unsupported_folder_fsync_warns_once_saved(tmp_path, monkeypatch):
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.warns(RuntimeWarning, match="cannot fsync the folder"):
        save({"a": 1}, tmp_path / "w.ckpt")
    assert load(tmp_path / "w.ckpt") == {"a": 1}


CHILD = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from scratchgen import serialization

    path, kill_at = sys.argv[1], sys.argv[2]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if kill_at == "mid-array":
        real_write_array, calls = np.lib.format.write_array, []
        def write_array(fp, array, **kwargs):
            calls.append(1)
            if len(calls) == 2:               # the first array is in, the second half-written
                fp.write(b"half an array")
                die()
            real_write_array(fp, array, **kwargs)
        np.lib.format.write_array = write_array
    elif kill_at == "before-fsync":
        os.fsync = die
    elif kill_at == "before-rename":
        os.replace = die
    serialization.save({"version": 2, "a": np.ones((256, 256)), "b": np.zeros(4096)}, path)
""")


def run_child(*args):
    # cwd outside the repository: "python -c" puts the working folder first on sys.path,
    # which must not shadow the installed package (with its compiled kernels).
    return subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=args[0].parent)


@posix_only
@pytest.mark.parametrize("kill_at", ["mid-array", "before-fsync", "before-rename"])
def test_a_save_killed_midway_leaves_the_previous_checkpoint(tmp_path, kill_at):
    path = tmp_path / "model.ckpt"
    save({"version": 1, "a": np.full((4, 4), 7.0)}, path)
    result = run_child(path, kill_at)
    assert result.returncode == -signal.SIGKILL, result.stderr
    old = load(path)
    assert old["version"] == 1 and (old["a"] == 7).all()
    # At most the killed save's own temporary is left; it is hidden and never reused.
    assert all(name.startswith(".model.ckpt.") and name.endswith(".tmp")
               for name in stray_files(tmp_path, "model.ckpt"))
    assert run_child(path, "nowhere").returncode == 0            # a later save still works
    assert load(path)["version"] == 2


@posix_only
def test_a_save_killed_from_outside_leaves_a_whole_checkpoint(tmp_path):
    path = tmp_path / "big.ckpt"
    looping = textwrap.dedent("""
        import sys
        import numpy as np
        from scratchgen import serialization
        big = np.arange(2_000_000, dtype=np.float64)      # 16 MB per save
        for i in range(10_000):
            serialization.save({"i": i, "w": big + i}, sys.argv[1])
            if i == 0:
                print("saved", flush=True)
    """)
    for delay in (0.05, 0.2):
        child = subprocess.Popen([sys.executable, "-c", looping, str(path)],
                                 stdout=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            assert child.stdout.readline().strip() == "saved"
            time.sleep(delay)
        finally:
            child.kill()                                          # SIGKILL, mid-save or not
            child.wait(timeout=60)
            child.stdout.close()
        checkpoint = load(path)
        assert checkpoint["w"][0] == checkpoint["i"] and checkpoint["w"].shape == (2_000_000,)
    for name in stray_files(tmp_path, "big.ckpt"):
        (tmp_path / name).unlink()                                # what a user may delete
    save({"i": -1}, path)
    assert load(path) == {"i": -1}
