"""The Python side of the Cython conv and pool kernels: checks, layout, empty shapes, the ISA.

`CythonBackend`'s conv and pool methods call these functions when `conv_fits` or `pool_fits`
says the kernels can compute the result, and the NumPy twin (``numpy_conv.py``) otherwise.
Each function makes its inputs C-contiguous (copying only when they are not), checks their
shapes against the geometry, answers empty shapes itself (the kernels take ``&a[0, 0, 0, 0]``,
which an empty array does not have), allocates the output and calls the kernel in
``scratchgen/_kernels/_conv.pyx`` or ``_pool.pyx``.

The conv kernels run on a micro-kernel written for one instruction set: the widest this CPU
runs (AVX-512, AVX2 + FMA, or plain C), chosen once at import, or the one that the switch
``SCRATCHGEN_ISA=avx512|avx2|generic`` names.
"""

import contextlib
import os
import threading

import numpy as np

from .._kernels import _activation, _blas, _conv, _matmul, _pool

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Each thread keeps the conv kernels' work buffer (packed weights, packing buffers, the weight
# gradient's per-thread sums) between calls, up to this size (it goes when the thread ends).
# NOTE: a fresh buffer of several MB comes from mmap, and touching its pages for the first
# time costs more than the packing that fills them. Larger buffers are freed after the call.
KEEP_WORK_BYTES = 64 * 2**20
_kept = threading.local()


# ------------------------------------------------------------------ the micro-kernels' ISA

def _choose_isa():
    """The ISA the conv kernels run on: SCRATCHGEN_ISA when set, else the widest this CPU has.

    An ISA the CPU lacks would stop the process with an illegal instruction, so asking for
    one is an error, raised here at import.
    """
    requested = os.environ.get("SCRATCHGEN_ISA", "")
    if requested not in ("",) + _conv.ISAS:
        raise ValueError(f"scratchgen: SCRATCHGEN_ISA must be one of {list(_conv.ISAS)} or "
                         f"unset, got {requested!r}")
    if requested and not _conv.isa_supported(requested):
        raise ValueError(f"scratchgen: SCRATCHGEN_ISA={requested!r}, but this CPU (or this "
                         f"build) cannot run it; it can run {supported_isas()}")
    return requested or supported_isas()[0]


def supported_isas():
    """The ISAs whose micro-kernels this build has and this CPU runs, widest first."""
    return [name for name in _conv.ISAS if _conv.isa_supported(name)]


def current_isa():
    """The ISA the conv kernels' micro-kernels run on now: 'avx512', 'avx2' or 'generic'."""
    return _conv.isa()


@contextlib.contextmanager
def use_isa(name):
    """Run the block's convolutions and own-GEMM products on the micro-kernels of ISA `name`
    (process-wide: every thread's switch; meant for tests and benchmarks)."""
    if name not in supported_isas():
        raise ValueError(f"use_isa: {name!r} is not one of the ISAs this machine runs, "
                         f"{supported_isas()}")
    before = current_isa()
    _set_isa(name)
    try:
        yield
    finally:
        _set_isa(before)


def _set_isa(name):
    # (The conv kernels and the own GEMM of matmul share the micro-kernels; the fused loss
    # has loops compiled for the same ISAs.)
    _conv.set_isa(name)
    _matmul.set_isa(name)
    _activation.set_isa(name)


_set_isa(_choose_isa())


def _one_float_dtype(arrays):
    """Whether every array is an ndarray of one dtype, float32 or float64 (native order)."""
    if not all(isinstance(a, np.ndarray) for a in arrays):
        return False
    dtype = arrays[0].dtype
    return dtype in _KERNEL_DTYPES and all(a.dtype == dtype for a in arrays)


def conv_fits(g, *arrays):
    """Whether the conv kernels can compute an op of geometry `g` on `arrays` (None skipped)."""
    # (The kernels index with 64-bit Py_ssize_t and call no BLAS: no size limit of their own.)
    return _one_float_dtype([a for a in arrays if a is not None])


def pool_fits(g, x):
    """Whether the pool kernels can compute a pooling of geometry `g` on `x`.

    Windows must reach the input (padding at most half the window, as the pooling ops
    require); an input without rows or columns whose output has some is left to the twin.
    """
    if not _one_float_dtype([x]):
        return False
    if g.padding[0] > g.KH // 2 or g.padding[1] > g.KW // 2:
        return False
    return not (x.size == 0 and 0 not in g.y_shape)


def _contiguous(x):
    """`x` if it is C-contiguous and aligned, else such a copy of it."""
    return np.require(x, requirements=["C", "A"])


def _check(op, g, pooling=False, **arrays):
    """Raise ValueError unless each array has the shape `g` gives it and `g` is well formed."""
    if min(g.stride + g.dilation) < 1 or min(g.padding) < 0:
        raise ValueError(f"{op}: stride and dilation must be >= 1 and padding >= 0, got "
                         f"stride={g.stride}, dilation={g.dilation}, padding={g.padding}")
    # (A pooling geometry has groups = C, one per plane, which the kernels do not read.)
    if not pooling and (g.groups < 1 or g.C_in % g.groups or g.C_out % g.groups):
        raise ValueError(f"{op}: groups={g.groups} must divide C_in={g.C_in} and "
                         f"C_out={g.C_out}")
    expected = {"x": g.x_shape, "w": g.w_shape, "grad_y": g.y_shape, "argmax": g.y_shape,
                "b": (g.C_out,)}
    for name, array in arrays.items():
        if array is not None and array.shape != expected[name]:
            raise ValueError(f"{op}: {name} has shape {array.shape} but the geometry expects "
                             f"{expected[name]}")


def _work(direction, g, dtype):
    """A work buffer for conv kernel `direction` (0 forward, 1 data, 2 weight gradient) and
    the OpenMP thread count it is sized for: this thread's kept buffer when it is large
    enough (its contents are garbage; the kernels overwrite what they read)."""
    threads = _blas.openmp_info()[1]
    # (The kernels write into it unchecked: its size comes from the kernels' own formula.)
    nbytes = _conv.work_size(direction, g, threads, dtype.name) * dtype.itemsize
    if nbytes > KEEP_WORK_BYTES:
        return threads, np.empty(nbytes, np.uint8).view(dtype)
    kept = getattr(_kept, "buffer", None)
    if kept is None or kept.nbytes < nbytes:
        kept = _kept.buffer = np.empty(nbytes, np.uint8)
    return threads, kept[:nbytes].view(dtype)


# ------------------------------------------------------------------------------ convolution

def conv2d(x, w, b, g):
    """y = conv2d(x, w) + b: (N, C_out, H_out, W_out)."""
    _check("conv2d", g, x=x, w=w, b=b)
    if 0 in g.y_shape or x.size == 0 or w.size == 0:
        # No output, or one made of padding or of empty sums alone: it is the bias.
        y = np.zeros(g.y_shape, dtype=x.dtype)
        if b is not None and y.size:
            y += b.reshape(1, -1, 1, 1)
        return y
    y = np.empty(g.y_shape, dtype=x.dtype)                           # (N, C_out, H_out, W_out)
    threads, work = _work(0, g, x.dtype)
    _conv.conv2d(_contiguous(x), _contiguous(w), None if b is None else _contiguous(b), y, g,
                 threads, work)
    return y


def conv2d_backward_data(grad_y, w, g):
    """dL/dx of y = conv2d(x, w), also conv_transpose2d's forward: (N, C_in, H, W)."""
    _check("conv2d_backward_data", g, grad_y=grad_y, w=w)
    if grad_y.size == 0 or w.size == 0 or 0 in g.x_shape:
        return np.zeros(g.x_shape, dtype=grad_y.dtype)
    grad_x = np.empty(g.x_shape, dtype=grad_y.dtype)                 # (N, C_in, H, W)
    threads, work = _work(1, g, grad_y.dtype)
    _conv.conv2d_backward_data(_contiguous(grad_y), _contiguous(w), grad_x, g, threads, work)
    return grad_x


def conv2d_backward_weight(grad_y, x, g):
    """dL/dw of y = conv2d(x, w), summed over the batch: (C_out, C_in // groups, KH, KW)."""
    _check("conv2d_backward_weight", g, grad_y=grad_y, x=x)
    if grad_y.size == 0 or x.size == 0 or 0 in g.w_shape:
        return np.zeros(g.w_shape, dtype=x.dtype)
    grad_w = np.empty(g.w_shape, dtype=x.dtype)                      # (C_out, C_in/G, KH, KW)
    threads, work = _work(2, g, x.dtype)
    _conv.conv2d_backward_weight(_contiguous(grad_y), _contiguous(x), grad_w, g, threads, work)
    return grad_w


# ---------------------------------------------------------------------------------- pooling

def max_pool2d(x, g):
    """(y, argmax), each (N, C, H_out, W_out); argmax int64 flat indices h * W + w.

    A window of padding alone (dilation can make one) has max -inf and argmax -1, as in
    the twin.
    """
    _check("max_pool2d", g, pooling=True, x=x)
    if 0 in g.y_shape:
        return np.zeros(g.y_shape, dtype=x.dtype), np.zeros(g.y_shape, dtype=np.int64)
    y = np.empty(g.y_shape, dtype=x.dtype)                           # (N, C, H_out, W_out)
    argmax = np.empty(g.y_shape, dtype=np.int64)
    _pool.max_pool2d(_contiguous(x), y, argmax, g)
    return y, argmax


def max_pool2d_backward(grad_y, argmax, g):
    """grad_y added up at the argmax positions of each plane: (N, C, H, W)."""
    _check("max_pool2d_backward", g, pooling=True, grad_y=grad_y, argmax=argmax)
    if argmax.dtype.kind not in "iu":
        raise TypeError(f"max_pool2d_backward: argmax must hold integers, got {argmax.dtype}")
    if grad_y.size == 0 or 0 in g.x_shape:
        return np.zeros(g.x_shape, dtype=grad_y.dtype)
    # The kernel writes at these positions unchecked: they must lie inside their plane, or
    # be -1, which max_pool2d returns for a window of padding alone (possible with dilation).
    if argmax.min() < -1 or argmax.max() >= g.H * g.W:
        raise ValueError(f"max_pool2d_backward: argmax entries must lie in [-1, H * W = "
                         f"{g.H * g.W}), got [{argmax.min()}, {argmax.max()}]")
    grad_x = np.empty(g.x_shape, dtype=grad_y.dtype)                 # (N, C, H, W)
    _pool.max_pool2d_backward(_contiguous(grad_y),
                              np.require(argmax, np.int64, requirements=["C", "A"]), grad_x)
    return grad_x


def avg_pool2d(x, g, count_include_pad):
    """Window means: (N, C, H_out, W_out)."""
    _check("avg_pool2d", g, pooling=True, x=x)
    if 0 in g.y_shape:
        return np.zeros(g.y_shape, dtype=x.dtype)
    y = np.empty(g.y_shape, dtype=x.dtype)                           # (N, C, H_out, W_out)
    _pool.avg_pool2d(_contiguous(x), y, g, bool(count_include_pad))
    return y


def avg_pool2d_backward(grad_y, g, count_include_pad):
    """Each gradient / its window's divisor, spread over the window: (N, C, H, W)."""
    _check("avg_pool2d_backward", g, pooling=True, grad_y=grad_y)
    grad_x = np.zeros(g.x_shape, dtype=grad_y.dtype)
    if grad_x.size and grad_y.size:
        _pool.avg_pool2d_backward(_contiguous(grad_y), grad_x, g, bool(count_include_pad))
    return grad_x
