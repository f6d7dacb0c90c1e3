"""Activations in one pass over memory: LeakyReLU forward and backward.

The NumPy twin, ``scratchgen/backend/numpy_activation.py``, defines every kernel here (read
it first); it makes three passes (a mask, a table look-up, a product), these kernels one.
Long arrays are split over the OpenMP threads (static schedule); short ones run on the
calling thread.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty 1-D
views of one dtype and one length; nothing here checks that again.
"""

from cython cimport floating
from cython.parallel cimport prange

cdef enum:
    PARALLEL_MIN = 65536    # elements below which one thread does the whole pass


def leaky_relu(const floating[::1] x, floating[::1] y, double negative_slope, int threads):
    """y = x where x > 0, negative_slope * x elsewhere (NaN stays NaN)."""
    cdef Py_ssize_t i, size = x.shape[0]
    cdef floating a = <floating>negative_slope, xi
    for i in prange(size, nogil=True, schedule="static",
                    num_threads=threads if size >= PARALLEL_MIN else 1):
        xi = x[i]
        y[i] = xi if xi > 0 else a * xi


def leaky_relu_backward(const floating[::1] grad_y, const floating[::1] x,
                        floating[::1] grad_x, double negative_slope, int threads):
    """dL/dx = grad_y where x > 0, negative_slope * grad_y elsewhere."""
    cdef Py_ssize_t i, size = x.shape[0]
    cdef floating a = <floating>negative_slope
    for i in prange(size, nogil=True, schedule="static",
                    num_threads=threads if size >= PARALLEL_MIN else 1):
        grad_x[i] = grad_y[i] if x[i] > 0 else a * grad_y[i]
