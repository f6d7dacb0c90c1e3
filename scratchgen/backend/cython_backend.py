"""The Cython backend: NumPy's semantics, float32/float64 products on compiled GEMMs.

Each method checks whether its input fits the compiled kernel (dtype, layout, sizes) and
otherwise defers to the NumPy twin it inherits, so results never depend on which path ran.
The conv and pool methods hand their kernels (``_kernels/_conv.pyx``, ``_kernels/_pool.pyx``)
C-contiguous, non-empty arrays whose shapes match the geometry; see `cython_conv`.
"""

import math
import threading

import numpy as np

from .._kernels import _activation, _blas, _gp, _matmul, _norm, _optim
from . import cython_conv
from .numpy_backend import NumpyBackend

_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# scipy.linalg.cython_blas takes sizes and leading dimensions as 32-bit C ints.
_BLAS_INT_MAX = 2**31 - 1
# Float32 products of at most OWN_GEMM_MAX_MACS multiply-adds whose three sides are all at
# least OWN_GEMM_MIN_SIDE run on scratchgen's own packed GEMM (_kernels/_matmul.pyx), on the
# same OpenMP threads as the conv kernels; the rest on SciPy's BLAS.
# NOTE: BLAS keeps a thread pool of its own, and in a training step whose products alternate
# with OpenMP loops the two pools' idle threads spin on each other's cores (a DCGAN step spent
# 13% of its time in OpenBLAS's idle loop). One thread of the own GEMM ran within 0-20% of
# OpenBLAS's from 256^3 to 1024^3 and on the MLP's and DCGAN's products; past 512^3 BLAS's
# larger blocking pulls ahead, and products with a side below 16 (matrix-vector) pack more
# than they compute. Float64 stays on BLAS: the Gaussian processes compute in float64
# between LAPACK calls, on OpenBLAS's one pool.
# Thin products (a side below OWN_GEMM_MIN_SIDE) of at most OWN_GEMM_THIN_MACS run on plain
# loops (`_matmul.thin_gemm`), on one thread: a DCGAN's last layer (6272 -> 1) then wakes no
# BLAS pool in the step (0.6 ms a call that way), and packs no panels that are 15/16 zeros.
# Products of fewer than OWN_GEMM_PARALLEL_MACS run on one thread: waking a sleeping OpenMP
# thread costs 10-100 microseconds (the upper end on virtual machines), the time one thread
# takes for about 2 M multiply-adds; a VAE step has six such products.
OWN_GEMM_MAX_MACS = 2**27
OWN_GEMM_MIN_SIDE = 16
OWN_GEMM_THIN_MACS = 2**20
OWN_GEMM_PARALLEL_MACS = 2**22
_kept = threading.local()   # each thread's work buffer for the own GEMM


class CythonBackend(NumpyBackend):
    """Backend whose kernels are compiled Cython in `scratchgen._kernels`.

    Methods it does not override are the NumPy reference implementations.
    """

    name = "cython"

    def matmul(self, a, b):
        """Matrix product with exactly the semantics of `numpy.matmul`.

        Float32 or float64 operands of one dtype, at least 2-D and non-empty, go to a GEMM
        (scratchgen's own for small and medium products, SciPy's BLAS for the others, see
        OWN_GEMM_MAX_MACS); everything else (other or mixed dtypes, 1-D or empty operands, ndarray
        subclasses, mismatched shapes, which NumPy then reports) is computed by NumPy.

        Parameters
        ----------
        a : ndarray, shape (..., m, k)
        b : ndarray, shape (..., k, n)
            The batch dimensions broadcast against each other.

        Returns
        -------
        ndarray, shape (..., m, n)
            A new C-contiguous array of the operands' dtype.
        """
        batch = _blas_batch_shape(a, b)
        if batch is None:
            return super().matmul(a, b)
        if a.ndim == 2 and b.ndim == 2:
            return _matmul_2d(a, b)
        return _matmul_batched(a, b, batch)

    # Convolution and pooling. Float32 or float64 arrays of one dtype run on the compiled
    # kernels; anything else (other or mixed dtypes, sizes past BLAS's 32-bit ints) on the
    # NumPy twin, whose docstrings and math are in numpy_conv.py.
    def conv2d(self, x, w, b, geometry):
        """y = conv2d(x, w) + b (b may be None): (N, C_out, H_out, W_out)."""
        if not cython_conv.conv_fits(geometry, x, w, b):
            return super().conv2d(x, w, b, geometry)
        return cython_conv.conv2d(x, w, b, geometry)

    def conv2d_backward_data(self, grad_y, w, geometry):
        """dL/dx of conv2d, which is also conv_transpose2d's forward: (N, C_in, H, W)."""
        if not cython_conv.conv_fits(geometry, grad_y, w):
            return super().conv2d_backward_data(grad_y, w, geometry)
        return cython_conv.conv2d_backward_data(grad_y, w, geometry)

    def conv2d_backward_weight(self, grad_y, x, geometry):
        """dL/dw of conv2d: (C_out, C_in // groups, KH, KW)."""
        if not cython_conv.conv_fits(geometry, grad_y, x):
            return super().conv2d_backward_weight(grad_y, x, geometry)
        return cython_conv.conv2d_backward_weight(grad_y, x, geometry)

    def max_pool2d(self, x, geometry):
        """(y, argmax): window maxima and the flat h * W + w index of each winner."""
        if not cython_conv.pool_fits(geometry, x):
            return super().max_pool2d(x, geometry)
        return cython_conv.max_pool2d(x, geometry)

    def max_pool2d_backward(self, grad_y, argmax, geometry):
        """grad_y scattered (added) to the winners: (N, C, H, W)."""
        if not cython_conv.pool_fits(geometry, grad_y):
            return super().max_pool2d_backward(grad_y, argmax, geometry)
        return cython_conv.max_pool2d_backward(grad_y, argmax, geometry)

    def avg_pool2d(self, x, geometry, count_include_pad):
        """Window means: (N, C, H_out, W_out)."""
        if not cython_conv.pool_fits(geometry, x):
            return super().avg_pool2d(x, geometry, count_include_pad)
        return cython_conv.avg_pool2d(x, geometry, count_include_pad)

    def avg_pool2d_backward(self, grad_y, geometry, count_include_pad):
        """grad_y / count spread over each window: (N, C, H, W)."""
        if not cython_conv.pool_fits(geometry, grad_y):
            return super().avg_pool2d_backward(grad_y, geometry, count_include_pad)
        return cython_conv.avg_pool2d_backward(grad_y, geometry, count_include_pad)

    # Optimizer updates: one pass over a parameter and its state when they are all
    # C-contiguous, non-empty and of one float dtype; else the twin (numpy_optim.py).
    def adam_step(self, x, grad, m, v, v_max, lr, beta1, beta2, eps, weight_decay, decoupled,
                  maximize, step):
        """One Adam (AdamW with `decoupled`) step of parameter x and its state, in place."""
        if not _optim_fits(x, grad, m, v, v_max):
            return super().adam_step(x, grad, m, v, v_max, lr, beta1, beta2, eps,
                                     weight_decay, decoupled, maximize, step)
        _optim.adam_step(*_flat(x, grad, m, v, v_max), lr, beta1, beta2, eps, weight_decay,
                         decoupled, maximize, float(step), _blas.openmp_info()[1])

    def sgd_step(self, x, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                 maximize, first):
        """One SGD step of parameter x and its momentum buffer (or None), in place."""
        if not _optim_fits(x, grad, buf):
            return super().sgd_step(x, grad, buf, lr, momentum, dampening, weight_decay,
                                    nesterov, maximize, first)
        _optim.sgd_step(*_flat(x, grad, buf), lr, momentum, dampening, weight_decay, nesterov,
                        maximize, first, _blas.openmp_info()[1])

    def rmsprop_step(self, x, grad, v, g_avg, buf, lr, alpha, eps, weight_decay, momentum,
                     maximize):
        """One RMSprop step of parameter x and its state (g_avg, buf may be None), in place."""
        if not _optim_fits(x, grad, v, g_avg, buf):
            return super().rmsprop_step(x, grad, v, g_avg, buf, lr, alpha, eps, weight_decay,
                                        momentum, maximize)
        _optim.rmsprop_step(*_flat(x, grad, v, g_avg, buf), lr, alpha, eps, weight_decay,
                            momentum, maximize, _blas.openmp_info()[1])

    # Activations: float32 or float64 arrays of one dtype and shape, made C-contiguous, in one
    # pass on _kernels/_activation.pyx; anything else on the twin (numpy_activation.py).
    def leaky_relu(self, x, negative_slope):
        """y = x where x > 0, negative_slope * x elsewhere."""
        if not _elementwise_fits(x):
            return super().leaky_relu(x, negative_slope)
        x = _c_contiguous(x)
        y = np.empty_like(x)
        _activation.leaky_relu(x.reshape(-1), y.reshape(-1), negative_slope,
                               _blas.openmp_info()[1])
        return y

    def leaky_relu_backward(self, grad_y, x, negative_slope):
        """dL/dx = grad_y where x > 0, negative_slope * grad_y elsewhere."""
        if not _elementwise_fits(x, grad_y):
            return super().leaky_relu_backward(grad_y, x, negative_slope)
        grad_y, x = _c_contiguous(grad_y), _c_contiguous(x)
        grad_x = np.empty_like(x)
        _activation.leaky_relu_backward(grad_y.reshape(-1), x.reshape(-1), grad_x.reshape(-1),
                                        negative_slope, _blas.openmp_info()[1])
        return grad_x

    def bce_with_logits(self, x, y):
        """Binary cross entropy of sigmoid(x) against y, per value, in one pass."""
        if not _elementwise_fits(x, y):
            return super().bce_with_logits(x, y)
        x, y = _c_contiguous(x), _c_contiguous(y)
        loss = np.empty_like(x)
        _activation.bce_with_logits(x.reshape(-1), y.reshape(-1), loss.reshape(-1),
                                    _blas.openmp_info()[1])
        return loss

    def bce_with_logits_backward(self, grad_loss, x, y):
        """dL/dx = grad_loss * (sigmoid(x) - y), in one pass."""
        if not _elementwise_fits(x, y, grad_loss):
            return super().bce_with_logits_backward(grad_loss, x, y)
        grad_loss, x, y = _c_contiguous(grad_loss), _c_contiguous(x), _c_contiguous(y)
        grad_x = np.empty_like(x)
        _activation.bce_with_logits_backward(grad_loss.reshape(-1), x.reshape(-1),
                                             y.reshape(-1), grad_x.reshape(-1),
                                             _blas.openmp_info()[1])
        return grad_x

    # Batch normalization: float32 or float64 inputs of one dtype, made C-contiguous, on
    # _kernels/_norm.pyx; anything else (other dtypes, empty arrays) on the twin
    # (numpy_norm.py).
    def batch_norm_train(self, x, weight, bias, eps):
        """(y, mean, var): x normalized by its batch statistics, and those statistics."""
        if not _norm_fits(x, weight, bias):
            return super().batch_norm_train(x, weight, bias, eps)
        x, weight, bias = _c_contiguous(x), _c_contiguous(weight), _c_contiguous(bias)
        C = x.shape[1]
        y = np.empty_like(x)                                     # (N, C, L)
        mean, var = np.empty(C, x.dtype), np.empty(C, x.dtype)
        _norm.batch_norm_train(x, weight, bias, eps, y, mean, var, np.empty((2, C)),
                               _blas.openmp_info()[1])
        return y, mean, var

    def batch_norm_eval(self, x, weight, bias, mean, invstd):
        """y = (x - mean_c) * (invstd_c w_c) + b_c: (N, C, L)."""
        if not _norm_fits(x, weight, bias, mean, invstd):
            return super().batch_norm_eval(x, weight, bias, mean, invstd)
        x = _c_contiguous(x)
        y = np.empty_like(x)                                     # (N, C, L)
        _norm.batch_norm_eval(x, *map(_c_contiguous, (weight, bias, mean, invstd)), y,
                              _blas.openmp_info()[1])
        return y

    def batch_norm_backward(self, grad_y, x, weight, mean, invstd, training, need_x=True):
        """(grad_x or None without `need_x`, grad_w, grad_b) of batch normalization."""
        if not (_norm_fits(x, weight, mean, invstd) and grad_y.dtype == x.dtype
                and grad_y.shape == x.shape):
            return super().batch_norm_backward(grad_y, x, weight, mean, invstd, training,
                                               need_x)
        grad_y, x = _c_contiguous(grad_y), _c_contiguous(x)
        C = x.shape[1]
        grad_x = np.empty_like(x) if need_x else None            # (N, C, L)
        grad_w, grad_b = np.empty(C, x.dtype), np.empty(C, x.dtype)
        _norm.batch_norm_backward(grad_y, x, *map(_c_contiguous, (weight, mean, invstd)),
                                  training, grad_x, grad_w, grad_b, np.empty((2, C)),
                                  _blas.openmp_info()[1])
        return grad_x, grad_w, grad_b

    # Gaussian processes. Non-empty matrices (the factorization's Fortran-ordered, the
    # passes' C-contiguous, float64 and square; other operands are made to fit) run on
    # _kernels/_gp.pyx; anything else on the twin.
    def sqdist(self, x, y):
        """Squared Euclidean distances between the rows of x (n, d) and y (m, d): (n, m)."""
        if not (type(x) is np.ndarray and type(y) is np.ndarray and x.ndim == y.ndim == 2
                and x.shape[1] == y.shape[1] and x.size and y.size):
            return super().sqdist(x, y)
        xt = np.ascontiguousarray(x.T, dtype=np.float64)    # (d, n): one row per dimension
        yt = xt if y is x else np.ascontiguousarray(y.T, dtype=np.float64)
        out = np.empty((x.shape[0], y.shape[0]))            # (n, m)
        _gp.sqdist(xt, yt, out)
        return out

    def cholesky_lower(self, a):
        """a = L L^T, L in place of a's lower triangle; returns LAPACK's info (0: success)."""
        if not (type(a) is np.ndarray and _gp_square_fits(a.T) and a.flags.writeable
                and a.shape[0] <= _BLAS_INT_MAX):
            return super().cholesky_lower(a)
        # Blocks of 128 columns: 64 is as fast up to n = 2000, 128 faster at 4000.
        return _gp.cholesky_lower(a, 128)

    def flush_tiny_upper(self, m, row_scale, col_scale, clear_lower=False):
        """Zero m[i, j], j > i, where |m[i, j]| < row_scale[i] * col_scale[j] (and with
        ``clear_lower`` the whole strict lower triangle); return the count flushed."""
        if not _gp_square_fits(m) or not m.flags.writeable:
            return super().flush_tiny_upper(m, row_scale, col_scale, clear_lower)
        return _gp.flush_tiny_upper(m, _gp_vector(row_scale, m), _gp_vector(col_scale, m),
                                    clear_lower)

    def sqdist_contraction_upper(self, w, h, z):
        """sum_{i<j} w_ij h_ij (z_ik - z_jk)^2 for each column k of z: shape (d,)."""
        if not (_gp_square_fits(w) and _gp_square_fits(h) and h.shape == w.shape
                and z.ndim == 2 and z.shape[0] == w.shape[0] and z.shape[1] > 0):
            return super().sqdist_contraction_upper(w, h, z)
        zt = np.ascontiguousarray(z.T, dtype=np.float64)   # (d, n)
        row_sums = np.empty((w.shape[0], zt.shape[0]))      # (n, d)
        _gp.sqdist_contraction_upper(w, h, zt, row_sums)
        return row_sums.sum(axis=0)


def _optim_fits(x, grad, *state):
    """Whether the fused update kernels take parameter x, its gradient and its state arrays
    (None skipped): non-empty, C-contiguous, aligned ndarrays of x's float dtype and shape,
    all but the gradient writable."""
    arrays = [x, grad] + [a for a in state if a is not None]
    return (x.size > 0 and x.dtype in _GEMM_DTYPES
            and all(type(a) is np.ndarray and a.dtype == x.dtype and a.shape == x.shape
                    and a.flags.c_contiguous and a.flags.aligned for a in arrays)
            and all(a.flags.writeable for a in arrays if a is not grad))


def _elementwise_fits(x, *others):
    """Whether an elementwise kernel takes x and `others`: non-empty ndarrays of x's float
    dtype and shape (the kernels get C-contiguous copies where needed)."""
    return (type(x) is np.ndarray and x.size > 0 and x.dtype in _GEMM_DTYPES
            and all(type(a) is np.ndarray and a.dtype == x.dtype and a.shape == x.shape
                    for a in others))


def _norm_fits(x, *vectors):
    """Whether the batch-norm kernels take x (N, C, L) and its (C,) vectors: non-empty
    ndarrays of one float dtype (the kernels get C-contiguous copies where needed)."""
    return (type(x) is np.ndarray and x.ndim == 3 and x.size > 0 and x.dtype in _GEMM_DTYPES
            and all(type(v) is np.ndarray and v.dtype == x.dtype and v.shape == (x.shape[1],)
                    for v in vectors))


def _flat(*arrays):
    """Each array as a 1-D view (None stays None)."""
    return [None if a is None else a.reshape(-1) for a in arrays]


def _gp_square_fits(m):
    """Whether `m` is a matrix the GP kernels take as it is."""
    return (type(m) is np.ndarray and m.dtype == np.float64 and m.ndim == 2
            and m.shape[0] == m.shape[1] and m.shape[0] > 0 and m.flags.c_contiguous
            and m.flags.aligned)


def _gp_vector(v, m):
    """`v` as a contiguous float64 vector of m's size (broadcasting a scalar)."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(v, dtype=np.float64),
                                                (m.shape[0],)))


def _blas_batch_shape(a, b):
    """Return the broadcast batch shape of ``a @ b`` if BLAS can compute it, else None."""
    if not (type(a) is np.ndarray and type(b) is np.ndarray):
        return None
    if a.dtype not in _GEMM_DTYPES or b.dtype != a.dtype:
        return None
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        return None
    # Empty operands never reach a kernel (and the product of an empty k is all zeros).
    if a.size == 0 or b.size == 0:
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if max(m, k, n) > _BLAS_INT_MAX:
        return None
    if a.ndim == 2 and b.ndim == 2:
        return ()  # the common case, without broadcast_shapes' microseconds
    try:
        return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return None  # numpy.matmul raises the error the caller expects


def _gemm_operand(x):
    """Return ``(x_c, trans)`` with `x_c` C-contiguous and ``x == (x_c^T if trans else x_c)``.

    Transposition is over the last two axes. An operand that is the transpose of a
    C-contiguous array (a 2-D F-contiguous array, like ``w.T``) is handed to BLAS with its
    transpose flag; only an operand that is neither gets copied.
    """
    if x.flags.c_contiguous and x.flags.aligned:
        return x, False
    x_t = np.swapaxes(x, -1, -2)
    if x_t.flags.c_contiguous and x_t.flags.aligned:
        return x_t, True
    # NOTE: misaligned data is copied too: BLAS may assume naturally aligned elements.
    return _c_contiguous(x), False


def _c_contiguous(x):
    """Return `x` if it is C-contiguous and aligned, else such a copy of it."""
    return np.require(x, requirements=["C", "A"])


def _gemm(a_c, b_c, out, trans_a, trans_b):
    """out = op(a_c) @ op(b_c): on the own packed GEMM or BLAS (see OWN_GEMM_MAX_MACS)."""
    m, n = out.shape
    k = a_c.shape[0] if trans_a else a_c.shape[1]
    macs = m * n * k
    if out.dtype == np.float32 and min(m, n, k) < OWN_GEMM_MIN_SIDE:
        if macs <= OWN_GEMM_THIN_MACS:
            _matmul.thin_gemm(a_c, b_c, out, trans_a, trans_b)
        else:
            _blas.gemm(a_c, b_c, out, trans_a, trans_b)
        return
    if out.dtype == np.float32 and macs <= OWN_GEMM_MAX_MACS:
        threads = _blas.openmp_info()[1] if macs >= OWN_GEMM_PARALLEL_MACS else 1
        _matmul.gemm(a_c, b_c, out, trans_a, trans_b, threads, _work(threads, out.dtype, m, k))
    else:
        _blas.gemm(a_c, b_c, out, trans_a, trans_b)


def _work(threads, dtype, m, k):
    """This thread's kept work buffer for the own GEMM with an (m, k) op(A) (its contents
    are garbage)."""
    nbytes = _matmul.work_size(threads, m, k) * dtype.itemsize
    kept = getattr(_kept, "buffer", None)
    if kept is None or kept.nbytes < nbytes:
        kept = _kept.buffer = np.empty(nbytes, np.uint8)
    return kept[:nbytes].view(dtype)


def _matmul_2d(a, b):
    a_c, trans_a = _gemm_operand(a)
    b_c, trans_b = _gemm_operand(b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)  # (m, n)
    _gemm(a_c, b_c, out, trans_a, trans_b)
    return out


def _matmul_batched(a, b, batch):
    m, k = a.shape[-2:]
    n = b.shape[-1]
    out = np.empty(batch + (m, n), dtype=a.dtype)  # (..., m, n)
    rows = math.prod(batch) * m
    if math.prod(b.shape[:-2]) == 1 and rows <= _BLAS_INT_MAX:
        # (..., m, k) @ (k, n), as in a linear layer: stacking the batch into the rows of
        # one (rows, k) @ (k, n) GEMM beats many small products (and copies of b).
        a_rows = _c_contiguous(a).reshape(rows, k)
        b_c, trans_b = _gemm_operand(b.reshape(k, n))
        _gemm(a_rows, b_c, out.reshape(rows, n), False, trans_b)
        return out
    # General case: broadcast both operands to the full batch (copying only if broadcasting
    # was needed, or a layout BLAS cannot read) and run one GEMM per product.
    a_c, trans_a = _gemm_operand(_flatten_batch(a, batch))  # (prod(batch), m, k)
    b_c, trans_b = _gemm_operand(_flatten_batch(b, batch))  # (prod(batch), k, n)
    _blas.batched_gemm(a_c, b_c, out.reshape(-1, m, n), trans_a, trans_b)
    return out


def _flatten_batch(x, batch):
    """Broadcast `x` to the batch shape, then merge its batch axes into one."""
    x = np.broadcast_to(x, batch + x.shape[-2:])
    return x.reshape((-1,) + x.shape[-2:])
