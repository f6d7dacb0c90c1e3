"""Optimizer updates in one pass over each parameter and its state.

The NumPy twin, ``scratchgen/backend/numpy_optim.py``, defines every kernel here (read it
first); it makes a pass over memory per NumPy call, these kernels one: each element of the
parameter, its gradient and its state is read and written once, and the arithmetic stays in
registers. Long arrays are split over the OpenMP threads (static schedule: each thread one
contiguous stretch); short ones run on the calling thread, which is cheaper than waking
the others.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty 1-D
views of one dtype and one length; nothing here checks that again.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf

cdef enum:
    PARALLEL_MIN = 65536    # elements below which one thread does the whole update
    CHUNK = 8192            # elements per task of a parallel loop


cdef inline floating _sqrt(floating v) noexcept nogil:
    """sqrt in the arrays' precision (float32's sqrtf vectorizes twice as wide)."""
    if floating is float:
        return sqrtf(v)
    return sqrt(v)


cdef void _adam_chunk(floating* x, const floating* grad, floating* m, floating* v,
                      floating* vm, Py_ssize_t n, floating shrink, floating sign,
                      floating wd, floating b1, floating b2, floating one_b1,
                      floating one_b2, floating bias2, floating epsilon,
                      floating step_size) noexcept nogil:
    """Adam on n elements. NOTE: without amsgrad and weight decay (the common case) the
    loop has no branch, so the compiler vectorizes it; x * 1 (no decoupled decay) and
    -1 * g (maximize) are exact, as in the twin."""
    cdef Py_ssize_t i
    cdef floating xi, gi, mi, vi
    if vm == NULL and wd == 0:
        for i in range(n):
            gi = sign * grad[i]
            mi = b1 * m[i] + one_b1 * gi                # m_t = beta1 m + (1 - beta1) g
            vi = b2 * v[i] + one_b2 * (gi * gi)         # v_t = beta2 v + (1 - beta2) g^2
            m[i] = mi
            v[i] = vi
            x[i] = x[i] * shrink - step_size * (mi / (_sqrt(vi) / bias2 + epsilon))
        return
    for i in range(n):
        xi = x[i] * shrink
        gi = sign * grad[i]
        if wd != 0:                                 # (0 * x would turn an infinite x to NaN)
            gi = gi + wd * xi
        mi = b1 * m[i] + one_b1 * gi
        vi = b2 * v[i] + one_b2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        if vm != NULL:
            if vm[i] > vi:
                vi = vm[i]
            vm[i] = vi
        # theta_t = theta - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
        x[i] = xi - step_size * (mi / (_sqrt(vi) / bias2 + epsilon))


def adam_step(floating[::1] x, const floating[::1] grad, floating[::1] m, floating[::1] v,
              floating[::1] v_max, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled, bint maximize, double step, int threads):
    """One Adam / AdamW step in place, as numpy_optim.adam_step; `v_max` is None without
    amsgrad. Scalars are rounded to the arrays' dtype first, as NumPy does with them."""
    cdef Py_ssize_t chunk, size = x.shape[0], chunks = (size + CHUNK - 1) // CHUNK
    cdef floating* vm = &v_max[0] if v_max is not None else NULL
    cdef floating shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    cdef floating sign = -1.0 if maximize else 1.0
    cdef floating wd = 0.0 if decoupled else weight_decay
    cdef floating bias2 = sqrt(1.0 - beta2 ** step)
    cdef floating step_size = lr / (1.0 - beta1 ** step)
    for chunk in prange(chunks, nogil=True, schedule="static",
                        num_threads=threads if size >= PARALLEL_MIN else 1):
        _adam_chunk(&x[chunk * CHUNK], &grad[chunk * CHUNK], &m[chunk * CHUNK],
                    &v[chunk * CHUNK], vm + chunk * CHUNK if vm != NULL else NULL,
                    min(CHUNK, size - chunk * CHUNK), shrink, sign, wd, beta1, beta2,
                    1.0 - beta1, 1.0 - beta2, bias2, eps, step_size)


def sgd_step(floating[::1] x, const floating[::1] grad, floating[::1] buf, double lr,
             double momentum, double dampening, double weight_decay, bint nesterov,
             bint maximize, bint first, int threads):
    """One SGD step in place, as numpy_optim.sgd_step; `buf` is None without momentum."""
    cdef Py_ssize_t i, size = x.shape[0]
    cdef bint has_buf = buf is not None
    cdef floating* b = &buf[0] if has_buf else NULL
    cdef floating rate = lr, mu = momentum, one_tau = 1.0 - dampening, wd = weight_decay
    cdef floating gi, bi, di
    for i in prange(size, nogil=True, schedule="static",
                    num_threads=threads if size >= PARALLEL_MIN else 1):
        gi = -grad[i] if maximize else grad[i]
        if wd != 0:
            gi = gi + wd * x[i]
        di = gi
        if has_buf:
            if first:
                bi = gi                                 # b_1 = g_1
            else:
                bi = mu * b[i] + one_tau * gi           # b_t = mu b + (1 - tau) g
            b[i] = bi
            di = gi + mu * bi if nesterov else bi       # d_t
        x[i] = x[i] - rate * di                         # theta_t = theta - lr d_t


def rmsprop_step(floating[::1] x, const floating[::1] grad, floating[::1] v,
                 floating[::1] g_avg, floating[::1] buf, double lr, double alpha, double eps,
                 double weight_decay, double momentum, bint maximize, int threads):
    """One RMSprop step in place, as numpy_optim.rmsprop_step; `g_avg` and `buf` may be
    None."""
    cdef Py_ssize_t i, size = x.shape[0]
    cdef bint centered = g_avg is not None, has_buf = buf is not None
    cdef floating* ga = &g_avg[0] if centered else NULL
    cdef floating* b = &buf[0] if has_buf else NULL
    cdef floating rate = lr, a = alpha, one_a = 1.0 - alpha, epsilon = eps
    cdef floating wd = weight_decay, mu = momentum
    cdef floating gi, vi, gai, di
    for i in prange(size, nogil=True, schedule="static",
                    num_threads=threads if size >= PARALLEL_MIN else 1):
        gi = -grad[i] if maximize else grad[i]
        if wd != 0:
            gi = gi + wd * x[i]
        vi = a * v[i] + one_a * (gi * gi)              # v_t = alpha v + (1 - alpha) g^2
        v[i] = vi
        if centered:
            gai = a * ga[i] + one_a * gi                # gbar_t = alpha gbar + (1 - alpha) g
            ga[i] = gai
            vi = vi - gai * gai
        di = gi / (sqrt(vi) + epsilon)                  # g_t / a_t
        if has_buf:
            di = mu * b[i] + di                         # b_t = mu b + g_t / a_t
            b[i] = di
        x[i] = x[i] - rate * di
