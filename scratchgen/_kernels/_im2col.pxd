# im2col and col2im one row of columns at a time, by index arithmetic: the packing routines
# of the conv kernels (_conv.pyx) read the image through these instead of a column matrix.
#
# Row r = (c * KH + i) * KW + j of an image's columns holds tap (i, j) of channel c for every
# output pixel p = oh * W_out + ow, i.e. the input value at
#     (oh * sh - ph + i * dh, ow * sw - pw + j * dw)      (0 when that lies in the padding),
# exactly numpy_conv.im2col. For a fixed tap, the outputs whose position lies inside the input
# form one range per axis (first_inside / end_inside, _window.pxd).
from cython cimport floating

from ._window cimport Geom, end_inside, first_inside


cdef inline void gather_row(const floating* x, const Geom* g, Py_ssize_t r, Py_ssize_t p0,
                            Py_ssize_t count, floating* dst, Py_ssize_t stride) noexcept nogil:
    """dst[t * stride] = cols[r, p0 + t] for t < count: tap r = (c, i, j) of image x (its
    group's channels) at output pixel p0 + t, as numpy_conv.im2col, 0 in the padding.

    Output row by output row; one division finds the first. (The sizes are copied into
    locals: through `g` the compiler would reload them after every store to dst.)
    """
    cdef Py_ssize_t W_out = g.W_out, W = g.W, sh = g.sh, sw = g.sw
    cdef Py_ssize_t i = r // g.KW % g.KH, j = r % g.KW
    cdef Py_ssize_t row_off = i * g.dh - g.ph, col_off = j * g.dw - g.pw
    cdef Py_ssize_t oh_first = first_inside(row_off, sh, g.H_out)
    cdef Py_ssize_t oh_end = end_inside(row_off, sh, g.H, g.H_out)
    cdef Py_ssize_t ow_first = first_inside(col_off, sw, W_out)
    cdef Py_ssize_t ow_end = end_inside(col_off, sw, W, W_out)
    cdef const floating* plane = x + r // (g.KH * g.KW) * g.H * W
    cdef const floating* src
    cdef Py_ssize_t t = 0, oh = p0 // W_out, ow, ow0 = p0 % W_out, ow1, base
    while t < count:
        ow1 = min(W_out, ow0 + count - t)          # this output row's pixels [ow0, ow1)
        base = t - ow0                               # dst[(base + ow) * stride]: pixel (oh, ow)
        if oh < oh_first or oh >= oh_end:
            for ow in range(ow0, ow1):
                dst[(base + ow) * stride] = 0
        else:
            src = plane + (oh * sh + row_off) * W + col_off
            for ow in range(ow0, min(ow1, ow_first)):
                dst[(base + ow) * stride] = 0
            if stride == 1 and sw == 1:
                for ow in range(max(ow0, ow_first), min(ow1, ow_end)):
                    dst[base + ow] = src[ow]
            else:
                for ow in range(max(ow0, ow_first), min(ow1, ow_end)):
                    dst[(base + ow) * stride] = src[ow * sw]
            for ow in range(max(ow0, ow_end), ow1):
                dst[(base + ow) * stride] = 0
        t += ow1 - ow0
        oh += 1
        ow0 = 0


cdef inline void scatter_row(const floating* line, const Geom* g, Py_ssize_t r,
                             Py_ssize_t p0, Py_ssize_t count, floating* x) noexcept nogil:
    """The adjoint of `gather_row` (stride 1): add line[t] = dcols[r, p0 + t] into the input
    position tap r reads at output pixel p0 + t; taps in the padding drop (col2im)."""
    cdef Py_ssize_t W_out = g.W_out, W = g.W, sh = g.sh, sw = g.sw
    cdef Py_ssize_t i = r // g.KW % g.KH, j = r % g.KW
    cdef Py_ssize_t row_off = i * g.dh - g.ph, col_off = j * g.dw - g.pw
    cdef Py_ssize_t oh_first = first_inside(row_off, sh, g.H_out)
    cdef Py_ssize_t oh_end = end_inside(row_off, sh, g.H, g.H_out)
    cdef Py_ssize_t ow_first = first_inside(col_off, sw, W_out)
    cdef Py_ssize_t ow_end = end_inside(col_off, sw, W, W_out)
    cdef floating* plane = x + r // (g.KH * g.KW) * g.H * W
    cdef floating* dst
    cdef Py_ssize_t t = 0, oh = p0 // W_out, ow, ow0 = p0 % W_out, ow1, base
    while t < count:
        ow1 = min(W_out, ow0 + count - t)
        base = t - ow0                               # line[base + ow]: pixel (oh, ow)
        if oh_first <= oh < oh_end:
            dst = plane + (oh * sh + row_off) * W + col_off
            if sw == 1:
                for ow in range(max(ow0, ow_first), min(ow1, ow_end)):
                    dst[ow] += line[base + ow]
            else:
                for ow in range(max(ow0, ow_first), min(ow1, ow_end)):
                    dst[ow * sw] += line[base + ow]
        t += ow1 - ow0
        oh += 1
        ow0 = 0
