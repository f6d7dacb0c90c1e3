# im2col and col2im one row of columns at a time, by index arithmetic: the packing routines
# of the conv kernels (_conv.pyx) read the image through these instead of a column matrix,
# one image at a time or across a run of consecutive images (gather_pixels, scatter_pixels).
#
# Row r = (c * KH + i) * KW + j of an image's columns holds tap (i, j) of channel c for every
# output pixel p = oh * W_out + ow, i.e. the input value at
#     (oh * sh - ph + i * dh, ow * sw - pw + j * dw)      (0 when that lies in the padding),
# exactly numpy_conv.im2col. For a fixed tap, the outputs whose position lies inside the input
# form one range per axis (first_inside / end_inside, _window.pxd).
from cython cimport floating

from ._window cimport Geom, end_inside, first_inside


cdef struct Tap:
    # Where tap r = (c, i, j) reads, the same for every image: output pixel (oh, ow) reads
    # input (oh * sh + row_off, ow * sw + col_off) of plane c, which lies inside the image
    # for oh in [oh_first, oh_end) and ow in [ow_first, ow_end).
    Py_ssize_t plane, row_off, col_off
    Py_ssize_t oh_first, oh_end, ow_first, ow_end


cdef inline Tap tap_of(const Geom* g, Py_ssize_t r) noexcept nogil:
    """The Tap of row r = (c * KH + i) * KW + j of the columns (the divisions of the
    im2col arithmetic, done once per row rather than once per image)."""
    cdef Tap t
    t.plane = r // (g.KH * g.KW) * g.H * g.W
    t.row_off = r // g.KW % g.KH * g.dh - g.ph
    t.col_off = r % g.KW * g.dw - g.pw
    t.oh_first = first_inside(t.row_off, g.sh, g.H_out)
    t.oh_end = end_inside(t.row_off, g.sh, g.H, g.H_out)
    t.ow_first = first_inside(t.col_off, g.sw, g.W_out)
    t.ow_end = end_inside(t.col_off, g.sw, g.W, g.W_out)
    return t


cdef inline void gather_tap(const floating* x, const Geom* g, const Tap* tap, Py_ssize_t p0,
                            Py_ssize_t count, floating* dst, Py_ssize_t stride) noexcept nogil:
    """dst[t * stride] = cols[r, p0 + t] for t < count, r the row of `tap`: its value of
    image x (its group's channels) at output pixel p0 + t, as numpy_conv.im2col, 0 in the
    padding.

    Output row by output row; one division finds the first. (The sizes are copied into
    locals: through `g` the compiler would reload them after every store to dst.)
    """
    cdef Py_ssize_t W_out = g.W_out, W = g.W, sh = g.sh, sw = g.sw
    cdef Py_ssize_t row_off = tap.row_off, col_off = tap.col_off
    cdef Py_ssize_t oh_first = tap.oh_first, oh_end = tap.oh_end
    cdef Py_ssize_t ow_first = tap.ow_first, ow_end = tap.ow_end
    cdef const floating* plane = x + tap.plane
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


cdef inline void gather_row(const floating* x, const Geom* g, Py_ssize_t r, Py_ssize_t p0,
                            Py_ssize_t count, floating* dst, Py_ssize_t stride) noexcept nogil:
    """dst[t * stride] = cols[r, p0 + t] for t < count (`gather_tap` of row r)."""
    cdef Tap tap = tap_of(g, r)
    gather_tap(x, g, &tap, p0, count, dst, stride)


cdef inline void scatter_tap(const floating* line, const Geom* g, const Tap* tap,
                             Py_ssize_t p0, Py_ssize_t count, floating* x) noexcept nogil:
    """The adjoint of `gather_tap` (stride 1): add line[t] = dcols[r, p0 + t] into the input
    position tap r reads at output pixel p0 + t; taps in the padding drop (col2im)."""
    cdef Py_ssize_t W_out = g.W_out, W = g.W, sh = g.sh, sw = g.sw
    cdef Py_ssize_t row_off = tap.row_off, col_off = tap.col_off
    cdef Py_ssize_t oh_first = tap.oh_first, oh_end = tap.oh_end
    cdef Py_ssize_t ow_first = tap.ow_first, ow_end = tap.ow_end
    cdef floating* plane = x + tap.plane
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


cdef inline void scatter_row(const floating* line, const Geom* g, Py_ssize_t r,
                             Py_ssize_t p0, Py_ssize_t count, floating* x) noexcept nogil:
    """`scatter_tap` of row r."""
    cdef Tap tap = tap_of(g, r)
    scatter_tap(line, g, &tap, p0, count, x)


# ------------------------------------------------------ across consecutive images
#
# Pixel f of a run of images is pixel f % L of image f // L; a block of pixels may cross
# from one image into the next, so it is read and written one image segment at a time.

cdef inline void gather_pixels(const floating* x, Py_ssize_t image, const Geom* g,
                               Py_ssize_t r, Py_ssize_t first, Py_ssize_t count,
                               floating* dst, Py_ssize_t stride) noexcept nogil:
    """gather_row over pixels [first, first + count) of the images at x, `image` apart."""
    cdef Py_ssize_t L = g.H_out * g.W_out, k = 0, seg
    cdef Tap tap = tap_of(g, r)
    while k < count:
        seg = min(count - k, L - (first + k) % L)
        gather_tap(x + (first + k) // L * image, g, &tap, (first + k) % L, seg,
                   dst + k * stride, stride)
        k += seg


cdef inline void scatter_pixels(const floating* line, const Geom* g, Py_ssize_t r,
                                Py_ssize_t first, Py_ssize_t count, floating* x,
                                Py_ssize_t image) noexcept nogil:
    """scatter_row over pixels [first, first + count) of the images at x, `image` apart."""
    cdef Py_ssize_t L = g.H_out * g.W_out, k = 0, seg
    cdef Tap tap = tap_of(g, r)
    while k < count:
        seg = min(count - k, L - (first + k) % L)
        scatter_tap(line + k, g, &tap, (first + k) % L, seg, x + (first + k) // L * image)
        k += seg
