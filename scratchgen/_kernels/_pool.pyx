"""Max and average pooling over (KH, KW) windows, forward and backward.

The NumPy twins are ``max_pool2d``, ``avg_pool2d`` and their backward functions in
``scratchgen/backend/numpy_conv.py``. Every (image, channel) plane is pooled on its own, so
each kernel is an OpenMP `prange` over the N * C planes; within a plane one thread walks the
outputs in order. Backward passes scatter-add into their plane of grad_x, which overlapping
windows make unsafe to split between threads, and which no other plane touches.

Window taps outside the input are padding: they are skipped, never read (so padding never
wins a max, and counts only as zeros in an average).

The caller (``scratchgen.backend.cython_conv``) guarantees C-contiguous, non-empty arrays of
one float dtype with shapes matching the geometry, argmax entries in [-1, H * W), and padding
at most half the window; nothing here checks that again.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int64_t
from libc.string cimport memset

from ._window cimport Geom, end_inside, first_inside, geom_from


cdef void _max_plane(const floating* x, floating* y, int64_t* argmax,
                     const Geom* g) noexcept nogil:
    """Max over each window of one plane x (H, W), and its flat index h * W + w.

    Taps are visited in window order (i, then j) and only a strictly larger value takes
    over, so ties go to the first tap. NaN wins, and the first NaN stays (as numpy.argmax).
    NOTE: with dilation a window can fall entirely into the padding: its max is -inf and its
    argmax -1, which the backward pass skips (no input receives its gradient).
    """
    cdef Py_ssize_t oh, ow, i, j, row_off, col_off, i_first, i_end, j_first, j_end, idx, best_idx
    cdef floating v, best
    for oh in range(g.H_out):
        row_off = oh * g.sh - g.ph                      # input row = row_off + i * dh
        i_first = first_inside(row_off, g.dh, g.KH)
        i_end = end_inside(row_off, g.dh, g.H, g.KH)
        for ow in range(g.W_out):
            col_off = ow * g.sw - g.pw
            j_first = first_inside(col_off, g.dw, g.KW)
            j_end = end_inside(col_off, g.dw, g.W, g.KW)
            best_idx = -1
            best = -INFINITY
            for i in range(i_first, i_end):
                for j in range(j_first, j_end):
                    idx = (row_off + i * g.dh) * g.W + col_off + j * g.dw
                    v = x[idx]
                    if best_idx < 0 or v > best or (v != v and best == best):
                        best = v
                        best_idx = idx
            y[oh * g.W_out + ow] = best
            argmax[oh * g.W_out + ow] = best_idx


cdef void _avg_plane(const floating* x, floating* y, bint count_include_pad,
                     const Geom* g) noexcept nogil:
    """Mean over each window of one plane x (H, W); the divisor is KH * KW with
    `count_include_pad`, else the number of taps inside the input."""
    cdef Py_ssize_t oh, ow, i, j, row_off, col_off, i_first, i_end, j_first, j_end
    cdef floating total
    for oh in range(g.H_out):
        row_off = oh * g.sh - g.ph
        i_first = first_inside(row_off, g.dh, g.KH)
        i_end = end_inside(row_off, g.dh, g.H, g.KH)
        for ow in range(g.W_out):
            col_off = ow * g.sw - g.pw
            j_first = first_inside(col_off, g.dw, g.KW)
            j_end = end_inside(col_off, g.dw, g.W, g.KW)
            total = 0
            for i in range(i_first, i_end):
                for j in range(j_first, j_end):
                    total = total + x[(row_off + i * g.dh) * g.W + col_off + j * g.dw]
            if count_include_pad:
                y[oh * g.W_out + ow] = total / (g.KH * g.KW)
            else:
                y[oh * g.W_out + ow] = total / ((i_end - i_first) * (j_end - j_first))


cdef void _avg_plane_backward(const floating* grad_y, floating* grad_x,
                              bint count_include_pad, const Geom* g) noexcept nogil:
    """grad_x (H, W) of one plane: each output's gradient / its divisor, added to every tap
    of its window inside the input."""
    cdef Py_ssize_t oh, ow, i, j, row_off, col_off, i_first, i_end, j_first, j_end
    cdef floating share
    memset(grad_x, 0, g.H * g.W * sizeof(floating))
    for oh in range(g.H_out):
        row_off = oh * g.sh - g.ph
        i_first = first_inside(row_off, g.dh, g.KH)
        i_end = end_inside(row_off, g.dh, g.H, g.KH)
        for ow in range(g.W_out):
            col_off = ow * g.sw - g.pw
            j_first = first_inside(col_off, g.dw, g.KW)
            j_end = end_inside(col_off, g.dw, g.W, g.KW)
            if count_include_pad:
                share = grad_y[oh * g.W_out + ow] / (g.KH * g.KW)
            else:
                share = grad_y[oh * g.W_out + ow] / ((i_end - i_first) * (j_end - j_first))
            for i in range(i_first, i_end):
                for j in range(j_first, j_end):
                    grad_x[(row_off + i * g.dh) * g.W + col_off + j * g.dw] += share


# ---------------------------------------------------------------------------- entry points

def max_pool2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
               int64_t[:, :, :, ::1] argmax, geometry):
    """Fill y (N, C, H_out, W_out) with window maxima and argmax (same shape, int64) with the
    flat index h * W + w of each winner in its plane."""
    cdef Geom g = geom_from(geometry, 1)
    cdef Py_ssize_t plane, C = x.shape[1]
    with nogil:
        for plane in prange(x.shape[0] * C, schedule="static"):
            _max_plane(&x[plane // C, plane % C, 0, 0], &y[plane // C, plane % C, 0, 0],
                       &argmax[plane // C, plane % C, 0, 0], &g)


def max_pool2d_backward(const floating[:, :, :, ::1] grad_y,
                        const int64_t[:, :, :, ::1] argmax, floating[:, :, :, ::1] grad_x):
    """grad_x (N, C, H, W) = grad_y (N, C, H_out, W_out) added up at the argmax positions
    (entries -1, windows of padding alone, add nothing)."""
    cdef Py_ssize_t plane, p, C = grad_y.shape[1]
    cdef Py_ssize_t L = grad_y.shape[2] * grad_y.shape[3], HW = grad_x.shape[2] * grad_x.shape[3]
    cdef const floating* gy
    cdef const int64_t* where
    cdef floating* gx
    with nogil:
        for plane in prange(grad_y.shape[0] * C, schedule="static"):
            gy = &grad_y[plane // C, plane % C, 0, 0]
            where = &argmax[plane // C, plane % C, 0, 0]
            gx = &grad_x[plane // C, plane % C, 0, 0]
            memset(gx, 0, HW * sizeof(floating))
            for p in range(L):
                if where[p] >= 0:   # -1: a window of padding alone
                    gx[where[p]] += gy[p]


def avg_pool2d(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y, geometry,
               bint count_include_pad):
    """Fill y (N, C, H_out, W_out) with the window means of x (N, C, H, W)."""
    cdef Geom g = geom_from(geometry, 1)
    cdef Py_ssize_t plane, C = x.shape[1]
    with nogil:
        for plane in prange(x.shape[0] * C, schedule="static"):
            _avg_plane(&x[plane // C, plane % C, 0, 0], &y[plane // C, plane % C, 0, 0],
                       count_include_pad, &g)


def avg_pool2d_backward(const floating[:, :, :, ::1] grad_y, floating[:, :, :, ::1] grad_x,
                        geometry, bint count_include_pad):
    """grad_x (N, C, H, W) = each gradient of grad_y / its divisor, spread over its window."""
    cdef Geom g = geom_from(geometry, 1)
    cdef Py_ssize_t plane, C = grad_y.shape[1]
    with nogil:
        for plane in prange(grad_y.shape[0] * C, schedule="static"):
            _avg_plane_backward(&grad_y[plane // C, plane % C, 0, 0],
                                &grad_x[plane // C, plane % C, 0, 0], count_include_pad, &g)
