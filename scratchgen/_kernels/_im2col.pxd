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


# ------------------------------------------------- through a zero-padded copy of the input
#
# The frame of a plane is the plane with `ph` rows of zeros above it, `pw` columns of zeros
# left of it, and zeros below and right of it far enough that every window of every output
# pixel lies inside. In the frames, tap r = (c, i, j) of output pixel f reads
#
#     frames[pixel_offset(f) + tap_offset(r)],
#     pixel_offset(f) = image(f) * frame image + oh * sh * Wp + ow * sw,
#     tap_offset(r)   = c * frame plane + i * dh * Wp + j * dw,
#
# one indexed load, with no test for the padding: the packing loops of the forward and the
# weight gradient (the bulk of a stride-2 layer's time outside the micro-kernel, where
# `gather_tap` handles 7-pixel output rows one by one) become a table look-up and a copy.

cdef struct Frame:
    Py_ssize_t Hp, Wp, plane, image    # rows, columns, values per plane and per image


cdef inline Frame frame_of(const Geom* g) noexcept nogil:
    """The frame of the input planes of geometry g."""
    cdef Frame fr
    fr.Hp = max(g.H + 2 * g.ph, (g.H_out - 1) * g.sh + (g.KH - 1) * g.dh + 1)
    fr.Wp = max(g.W + 2 * g.pw, (g.W_out - 1) * g.sw + (g.KW - 1) * g.dw + 1)
    fr.plane = fr.Hp * fr.Wp
    fr.image = g.C * fr.plane
    return fr


cdef inline bint frame_is_plane(const Geom* g, const Frame* fr) noexcept nogil:
    """Whether the frame is the plane itself (no padding, every window inside): the input
    can then be read in place."""
    return fr.Hp == g.H and fr.Wp == g.W


cdef inline void frame_plane(const floating* src, const Geom* g, const Frame* fr,
                             floating* dst) noexcept nogil:
    """Copy one (H, W) plane into its frame at dst, zeros around it."""
    cdef Py_ssize_t row, col, H = g.H, W = g.W, ph = g.ph, pw = g.pw, Wp = fr.Wp
    cdef floating* out
    cdef const floating* line
    for row in range(fr.Hp):
        out = dst + row * Wp
        if row < ph or row >= ph + H:
            for col in range(Wp):
                out[col] = 0
            continue
        line = src + (row - ph) * W
        for col in range(pw):
            out[col] = 0
        for col in range(W):
            out[pw + col] = line[col]
        for col in range(pw + W, Wp):
            out[col] = 0


cdef inline Py_ssize_t tap_offset(const Geom* g, const Frame* fr, Py_ssize_t r) noexcept nogil:
    """Where tap r = (c * KH + i) * KW + j reads, relative to an output pixel's offset."""
    return (r // (g.KH * g.KW) * fr.plane + r // g.KW % g.KH * g.dh * fr.Wp
            + r % g.KW * g.dw)


cdef inline void pixel_offsets(const Geom* g, const Frame* fr, Py_ssize_t first,
                               Py_ssize_t count, Py_ssize_t* offsets) noexcept nogil:
    """offsets[t]: where output pixel first + t of a run of images reads its window in the
    frames (pixel f is pixel f % L of image f // L)."""
    cdef Py_ssize_t t, f, p, L = g.H_out * g.W_out
    for t in range(count):
        f = first + t
        p = f % L
        offsets[t] = f // L * fr.image + p // g.W_out * g.sh * fr.Wp + p % g.W_out * g.sw
