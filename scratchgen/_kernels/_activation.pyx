"""Activations and losses in one pass over memory: LeakyReLU forward and backward, and binary
cross entropy on logits with its gradient.

The NumPy twin, ``scratchgen/backend/numpy_activation.py``, defines every kernel here (read
it first); it makes several passes (a mask, a table look-up, a product; for the loss an
exponential, a log1p and three sums), these kernels one. The float32 exponential and log1p
are vectorizable polynomials (sg_math.h), float64 uses libm's.
Long arrays are split over the OpenMP threads (static schedule); short ones run on the
calling thread.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty 1-D
views of one dtype and one length; nothing here checks that again.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stddef cimport ptrdiff_t

cdef extern from "sg_math.h" nogil:
    double sg_bce_logits_d(double x, double y)
    double sg_sigmoid_d(double x)
    void sg_bce_logits_loop_generic(const float*, const float*, float*, ptrdiff_t)
    void sg_bce_logits_loop_avx2(const float*, const float*, float*, ptrdiff_t)
    void sg_bce_logits_backward_loop_generic(const float*, const float*, const float*,
                                             float*, ptrdiff_t)
    void sg_bce_logits_backward_loop_avx2(const float*, const float*, const float*, float*,
                                          ptrdiff_t)
    enum: SG_HAVE_AVX2_LOOPS

ctypedef void (*bce_loop_t)(const float*, const float*, float*, ptrdiff_t) noexcept nogil
ctypedef void (*bce_backward_loop_t)(const float*, const float*, const float*, float*,
                                     ptrdiff_t) noexcept nogil

# The float32 loops in use: the plain ones, or the AVX2 ones (`set_isa`).
cdef bce_loop_t _bce_loop = sg_bce_logits_loop_generic
cdef bce_backward_loop_t _bce_backward_loop = sg_bce_logits_backward_loop_generic


def set_isa(str name):
    """Run the float32 loss loops compiled for the micro-kernels' ISA `name` ('avx512' and
    'avx2': AVX2 + FMA; 'generic': the baseline). The caller (cython_conv.use_isa) checks
    that this CPU runs it."""
    global _bce_loop, _bce_backward_loop
    if name in ("avx2", "avx512") and SG_HAVE_AVX2_LOOPS:
        _bce_loop, _bce_backward_loop = (sg_bce_logits_loop_avx2,
                                         sg_bce_logits_backward_loop_avx2)
    else:
        _bce_loop, _bce_backward_loop = (sg_bce_logits_loop_generic,
                                         sg_bce_logits_backward_loop_generic)

cdef enum:
    PARALLEL_MIN = 65536    # elements below which one thread does the whole pass
    CHUNK = 8192            # elements per task of the parallel loop


# NOTE: the select `x if x > 0 else a * x` vectorizes into compares and blends only because
# setup.py passes -fno-trapping-math: otherwise the compiler may not compute a * x where the
# branch would not (it could raise an FP exception), keeps a branch per element, and the sign
# of random values mispredicts it half the time (7 ms for 800,000 values). The twin's
# two-entry table, indexed by x > 0, gives the same values (NaN stays NaN, -0 stays -0), but
# here it compiled to scalar loads: 0.45 ms for those values, against 0.1 for the select.
# Each pass runs in a cdef function over one chunk, outside the OpenMP region.
cdef void _leaky_relu(const floating* x, floating* y, floating a,
                      Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating zero = 0                  # (typed: a bare 0 is a C double)
    for i in range(n):
        y[i] = x[i] if x[i] > zero else a * x[i]


cdef void _leaky_relu_backward(const floating* g, const floating* x, floating* gx, floating a,
                               Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating zero = 0
    for i in range(n):
        gx[i] = g[i] if x[i] > zero else a * g[i]


def leaky_relu(const floating[::1] x, floating[::1] y, double negative_slope, int threads):
    """y = x where x > 0, negative_slope * x elsewhere (NaN stays NaN)."""
    cdef Py_ssize_t chunk, size = x.shape[0], chunks = (size + CHUNK - 1) // CHUNK
    for chunk in prange(chunks, nogil=True, schedule="static",
                        num_threads=threads if size >= PARALLEL_MIN else 1):
        _leaky_relu(&x[chunk * CHUNK], &y[chunk * CHUNK], <floating>negative_slope,
                    min(CHUNK, size - chunk * CHUNK))


def leaky_relu_backward(const floating[::1] grad_y, const floating[::1] x,
                        floating[::1] grad_x, double negative_slope, int threads):
    """dL/dx = grad_y where x > 0, negative_slope * grad_y elsewhere."""
    cdef Py_ssize_t chunk, size = x.shape[0], chunks = (size + CHUNK - 1) // CHUNK
    for chunk in prange(chunks, nogil=True, schedule="static",
                        num_threads=threads if size >= PARALLEL_MIN else 1):
        _leaky_relu_backward(&grad_y[chunk * CHUNK], &x[chunk * CHUNK],
                             &grad_x[chunk * CHUNK], <floating>negative_slope,
                             min(CHUNK, size - chunk * CHUNK))


cdef void _bce_with_logits(const floating* x, const floating* y, floating* loss,
                           Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        _bce_loop(x, y, loss, n)
    else:
        for i in range(n):
            loss[i] = sg_bce_logits_d(x[i], y[i])


cdef void _bce_with_logits_backward(const floating* g, const floating* x, const floating* y,
                                    floating* gx, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        _bce_backward_loop(g, x, y, gx, n)
    else:
        for i in range(n):
            gx[i] = g[i] * (sg_sigmoid_d(x[i]) - y[i])


def bce_with_logits(const floating[::1] x, const floating[::1] y, floating[::1] loss,
                    int threads):
    """loss = max(x, 0) - x y + log(1 + exp(-|x|)): binary cross entropy of sigmoid(x)
    against y, per value."""
    cdef Py_ssize_t chunk, size = x.shape[0], chunks = (size + CHUNK - 1) // CHUNK
    for chunk in prange(chunks, nogil=True, schedule="static",
                        num_threads=threads if size >= PARALLEL_MIN else 1):
        _bce_with_logits(&x[chunk * CHUNK], &y[chunk * CHUNK], &loss[chunk * CHUNK],
                         min(CHUNK, size - chunk * CHUNK))


def bce_with_logits_backward(const floating[::1] grad_loss, const floating[::1] x,
                             const floating[::1] y, floating[::1] grad_x, int threads):
    """dL/dx = grad_loss * (sigmoid(x) - y)."""
    cdef Py_ssize_t chunk, size = x.shape[0], chunks = (size + CHUNK - 1) // CHUNK
    for chunk in prange(chunks, nogil=True, schedule="static",
                        num_threads=threads if size >= PARALLEL_MIN else 1):
        _bce_with_logits_backward(&grad_loss[chunk * CHUNK], &x[chunk * CHUNK],
                                  &y[chunk * CHUNK], &grad_x[chunk * CHUNK],
                                  min(CHUNK, size - chunk * CHUNK))
