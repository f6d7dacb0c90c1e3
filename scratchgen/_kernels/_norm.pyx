"""Batch normalization in a few passes over memory: statistics, normalization, gradient.

The NumPy twin, ``scratchgen/backend/numpy_norm.py``, defines every kernel here and gives
the math (read it first). Arrays are (N, C, L); each channel is worked on start to finish
by one thread, so its statistics, its normalization and its gradient need no
synchronization, and a channel's values are read again while they are still in cache:
the training forward reads x three times (mean, variance, normalize), the backward reads g
and x twice (two sums, then dL/dx). Sums run in double precision.

Two loop orders, one per layout:

* L > 1 (BatchNorm2d): channel c of sample n is a plane of L contiguous values; the
  threads split the channels.
* L = 1 (BatchNorm1d on (N, C)): channel c of sample n is x[n, c]; the threads split the
  channels into blocks of BLOCK columns and walk every row of their block, accumulating
  per-column sums in the caller's `work` vectors, so the inner loops run along a row.

The caller (``scratchgen.backend.cython_backend``) guarantees C-contiguous, non-empty
arrays of one dtype whose shapes agree, and a float64 `work` array of shape (2, C); nothing
here checks that again.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

cdef enum:
    PARALLEL_MIN = 32768    # elements below which one thread does the whole pass
    BLOCK = 256             # channels per block in the L = 1 layout


# ----------------------------------------------------------------------- sums over a plane
# Each sum keeps 8 partial sums side by side, which the compiler turns into vector adds (one
# scalar running sum is a chain of dependent additions, several cycles each): a plane's
# statistics then cost about what reading it does.
cdef inline double _sum(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum x[0:n]."""
    cdef double part[8]
    cdef Py_ssize_t i = 0, q
    for q in range(8):
        part[q] = 0
    while i + 8 <= n:
        for q in range(8):
            part[q] += x[i + q]
        i += 8
    while i < n:
        part[0] += x[i]
        i += 1
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5])
                                                          + (part[6] + part[7]))


cdef inline double _sum_sq_dev(const floating* x, Py_ssize_t n, double m) noexcept nogil:
    """sum (x[0:n] - m)^2."""
    cdef double part[8]
    cdef double d
    cdef Py_ssize_t i = 0, q
    for q in range(8):
        part[q] = 0
    while i + 8 <= n:
        for q in range(8):
            d = x[i + q] - m
            part[q] += d * d
        i += 8
    while i < n:
        d = x[i] - m
        part[0] += d * d
        i += 1
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5])
                                                          + (part[6] + part[7]))


cdef inline double _dot_dev(const floating* g, const floating* x, Py_ssize_t n,
                            double m) noexcept nogil:
    """sum g[0:n] (x[0:n] - m)."""
    cdef double part[8]
    cdef Py_ssize_t i = 0, q
    for q in range(8):
        part[q] = 0
    while i + 8 <= n:
        for q in range(8):
            part[q] += g[i + q] * (x[i + q] - m)
        i += 8
    while i < n:
        part[0] += g[i] * (x[i] - m)
        i += 1
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5])
                                                          + (part[6] + part[7]))


# ------------------------------------------------------------------------ one channel, L > 1
cdef void _train_plane(const floating* x, const floating* w, const floating* b, floating eps,
                       floating* y, floating* mean, floating* var, Py_ssize_t N,
                       Py_ssize_t C, Py_ssize_t L, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t n, l, at
    cdef double s = 0, ss = 0, m
    for n in range(N):
        s += _sum(x + (n * C + c) * L, L)
    m = s / (N * L)                                     # mean_c
    for n in range(N):
        ss += _sum_sq_dev(x + (n * C + c) * L, L, m)
    mean[c] = <floating>m
    var[c] = <floating>(ss / (N * L))                   # biased variance var_c
    # y = (x - mean_c) * (invstd_c w_c) + b_c
    cdef floating fm = mean[c], shift = b[c]
    cdef floating invstd = <floating>1 / <floating>sqrt(var[c] + eps)
    cdef floating scale = invstd * w[c]
    for n in range(N):
        at = (n * C + c) * L
        for l in range(L):
            y[at + l] = (x[at + l] - fm) * scale + shift


cdef void _eval_plane(const floating* x, const floating* w, const floating* b,
                      const floating* mean, const floating* invstd, floating* y, Py_ssize_t N,
                      Py_ssize_t C, Py_ssize_t L, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t n, l, at
    cdef floating fm = mean[c], shift = b[c], scale = invstd[c] * w[c]
    for n in range(N):
        at = (n * C + c) * L
        for l in range(L):
            y[at + l] = (x[at + l] - fm) * scale + shift


cdef void _backward_plane(const floating* g, const floating* x, const floating* w,
                          const floating* mean, const floating* invstd, bint training,
                          floating* gx, floating* gw, floating* gb, Py_ssize_t N,
                          Py_ssize_t C, Py_ssize_t L, Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t n, l, at
    cdef double sum_g = 0, sum_gx = 0, m = mean[c], count = N * L
    for n in range(N):
        at = (n * C + c) * L
        sum_g += _sum(g + at, L)
        sum_gx += _dot_dev(g + at, x + at, L, m)
    gb[c] = <floating>sum_g                             # dL/db_c = sum g
    gw[c] = <floating>(sum_gx * invstd[c])              # dL/dw_c = sum g xhat
    if gx == NULL:
        return
    # dL/dx = alpha g + beta (x - mean_c) + gamma, the twin's formula with xhat expanded
    cdef floating fm = mean[c], alpha = invstd[c] * w[c], beta = 0, gamma = 0
    if training:
        beta = <floating>(-alpha * invstd[c] * (sum_gx * invstd[c]) / count)
        gamma = <floating>(-alpha * sum_g / count)
    for n in range(N):
        at = (n * C + c) * L
        if training:
            for l in range(L):
                gx[at + l] = alpha * g[at + l] + beta * (x[at + l] - fm) + gamma
        else:
            for l in range(L):
                gx[at + l] = alpha * g[at + l]


# ------------------------------------------------------------ a block of channels, L = 1
cdef void _train_rows(const floating* x, const floating* w, const floating* b, floating eps,
                      floating* y, floating* mean, floating* var, double* s, double* ss,
                      Py_ssize_t N, Py_ssize_t C, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t n, c
    cdef const floating* row
    cdef double d
    for c in range(c0, c1):
        s[c] = 0
        ss[c] = 0
    for n in range(N):
        row = x + n * C
        for c in range(c0, c1):
            s[c] += row[c]
    for c in range(c0, c1):
        s[c] /= N                                       # mean_c
    for n in range(N):
        row = x + n * C
        for c in range(c0, c1):
            d = row[c] - s[c]
            ss[c] += d * d
    for c in range(c0, c1):
        mean[c] = <floating>s[c]
        var[c] = <floating>(ss[c] / N)
        # ss now holds the scale invstd_c w_c
        ss[c] = (<floating>1 / <floating>sqrt(var[c] + eps)) * w[c]
    for n in range(N):
        row = x + n * C
        for c in range(c0, c1):
            y[n * C + c] = (row[c] - mean[c]) * <floating>ss[c] + b[c]


cdef void _eval_row(const floating* x, const floating* w, const floating* b,
                    const floating* mean, const floating* invstd, floating* y,
                    Py_ssize_t C) noexcept nogil:
    cdef Py_ssize_t c
    for c in range(C):
        y[c] = (x[c] - mean[c]) * (invstd[c] * w[c]) + b[c]


cdef void _backward_rows(const floating* g, const floating* x, const floating* w,
                         const floating* mean, const floating* invstd, bint training,
                         floating* gx, floating* gw, floating* gb, double* s, double* sx,
                         Py_ssize_t N, Py_ssize_t C, Py_ssize_t c0,
                         Py_ssize_t c1) noexcept nogil:
    cdef Py_ssize_t n, c, at
    cdef floating alpha
    for c in range(c0, c1):
        s[c] = 0
        sx[c] = 0
    for n in range(N):
        at = n * C
        for c in range(c0, c1):
            s[c] += g[at + c]
            sx[c] += g[at + c] * (<double>x[at + c] - mean[c])
    for c in range(c0, c1):
        gb[c] = <floating>s[c]
        gw[c] = <floating>(sx[c] * invstd[c])
        # s, sx now hold gamma and beta of dL/dx = alpha g + beta (x - mean_c) + gamma
        if training:
            alpha = invstd[c] * w[c]
            sx[c] = <floating>(-alpha * invstd[c] * (sx[c] * invstd[c]) / N)
            s[c] = <floating>(-alpha * s[c] / N)
    if gx == NULL:
        return
    for n in range(N):
        at = n * C
        if training:
            for c in range(c0, c1):
                gx[at + c] = (invstd[c] * w[c] * g[at + c]
                              + <floating>sx[c] * (x[at + c] - mean[c]) + <floating>s[c])
        else:
            for c in range(c0, c1):
                gx[at + c] = invstd[c] * w[c] * g[at + c]


# ------------------------------------------------------------------------------ entry points
cdef inline int _threads(Py_ssize_t size, int threads) noexcept nogil:
    return threads if size >= PARALLEL_MIN else 1


def batch_norm_train(const floating[:, :, ::1] x, const floating[::1] weight,
                     const floating[::1] bias, double eps, floating[:, :, ::1] y,
                     floating[::1] mean, floating[::1] var, double[:, ::1] work, int threads):
    """numpy_norm.batch_norm_train into y, mean and var."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2], c, blk
    cdef int nt = _threads(N * C * L, threads)
    cdef floating e = <floating>eps
    if L > 1:
        for c in prange(C, nogil=True, schedule="static", num_threads=nt):
            _train_plane(&x[0, 0, 0], &weight[0], &bias[0], e, &y[0, 0, 0], &mean[0], &var[0],
                         N, C, L, c)
    else:
        for blk in prange((C + BLOCK - 1) // BLOCK, nogil=True, schedule="static",
                          num_threads=nt):
            _train_rows(&x[0, 0, 0], &weight[0], &bias[0], e, &y[0, 0, 0], &mean[0], &var[0],
                        &work[0, 0], &work[1, 0], N, C, blk * BLOCK, min(C, (blk + 1) * BLOCK))


def batch_norm_eval(const floating[:, :, ::1] x, const floating[::1] weight,
                    const floating[::1] bias, const floating[::1] mean,
                    const floating[::1] invstd, floating[:, :, ::1] y, int threads):
    """numpy_norm.batch_norm_eval into y."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2], c, n
    cdef int nt = _threads(N * C * L, threads)
    if L > 1:
        for c in prange(C, nogil=True, schedule="static", num_threads=nt):
            _eval_plane(&x[0, 0, 0], &weight[0], &bias[0], &mean[0], &invstd[0], &y[0, 0, 0],
                        N, C, L, c)
    else:
        # one sample per plane: a row of C values is N planes of one channel each
        for n in prange(N, nogil=True, schedule="static", num_threads=nt):
            _eval_row(&x[n, 0, 0], &weight[0], &bias[0], &mean[0], &invstd[0], &y[n, 0, 0], C)


def batch_norm_backward(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                        const floating[::1] weight, const floating[::1] mean,
                        const floating[::1] invstd, bint training, floating[:, :, ::1] grad_x,
                        floating[::1] grad_w, floating[::1] grad_b, double[:, ::1] work,
                        int threads):
    """numpy_norm.batch_norm_backward into grad_x (None: not needed), grad_w and grad_b."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2], c, blk
    cdef int nt = _threads(N * C * L, threads)
    cdef floating* gx = &grad_x[0, 0, 0] if grad_x is not None else NULL
    if L > 1:
        for c in prange(C, nogil=True, schedule="static", num_threads=nt):
            _backward_plane(&grad_y[0, 0, 0], &x[0, 0, 0], &weight[0], &mean[0], &invstd[0],
                            training, gx, &grad_w[0], &grad_b[0], N, C, L, c)
    else:
        for blk in prange((C + BLOCK - 1) // BLOCK, nogil=True, schedule="static",
                          num_threads=nt):
            _backward_rows(&grad_y[0, 0, 0], &x[0, 0, 0], &weight[0], &mean[0], &invstd[0],
                           training, gx, &grad_w[0], &grad_b[0], &work[0, 0], &work[1, 0],
                           N, C, blk * BLOCK, min(C, (blk + 1) * BLOCK))
