# Window arithmetic shared by the conv and pool kernels (_conv.pyx, _pool.pyx).
#
# Output pixel o along one axis reads the taps t = 0 .. taps-1 of its window at input position
#
#     pos = o * stride - padding + t * dilation
#
# and positions outside [0, size) are zero padding. Kernels never test each position: for a
# fixed tap they ask which outputs land inside (a range of o), for a fixed output which taps
# land inside (a range of t); both are the same question, answered by `first_inside` and
# `end_inside` below with an offset and a step.


cdef struct Geom:
    # One ConvGeometry, as plain C integers (see scratchgen/backend/conv_geometry.py).
    Py_ssize_t C, H, W              # channels and size of one input image
    Py_ssize_t KH, KW               # window taps
    Py_ssize_t sh, sw, ph, pw, dh, dw  # stride, zero padding, dilation
    Py_ssize_t H_out, W_out


cdef inline Geom geom_from(object geometry, Py_ssize_t channels):
    """Copy a ConvGeometry into a Geom; `channels` is the channel count of the image read."""
    cdef Geom g
    g.C, g.H, g.W = channels, geometry.H, geometry.W
    g.KH, g.KW = geometry.KH, geometry.KW
    g.sh, g.sw = geometry.stride
    g.ph, g.pw = geometry.padding
    g.dh, g.dw = geometry.dilation
    g.H_out, g.W_out = geometry.H_out, geometry.W_out
    return g


cdef inline Py_ssize_t first_inside(Py_ssize_t offset, Py_ssize_t step,
                                    Py_ssize_t count) noexcept nogil:
    """The smallest t in [0, count] with offset + t * step >= 0 (step >= 1)."""
    if offset >= 0:
        return 0
    cdef Py_ssize_t t = (step - 1 - offset) // step    # ceil(-offset / step); both positive
    return t if t < count else count


cdef inline Py_ssize_t end_inside(Py_ssize_t offset, Py_ssize_t step, Py_ssize_t size,
                                  Py_ssize_t count) noexcept nogil:
    """The smallest t in [first_inside, count] with offset + t * step >= size.

    So exactly the t in [first_inside(offset, step, count), end_inside(...)) land in [0, size).
    """
    cdef Py_ssize_t first = first_inside(offset, step, count)
    if offset >= size:
        return first
    cdef Py_ssize_t t = (size - offset + step - 1) // step  # ceil((size - offset) / step)
    if t > count:
        t = count
    return t if t > first else first
