"""2-D convolution as im2col plus one BLAS GEMM per chunk of images.

The NumPy twin, ``scratchgen/backend/numpy_conv.py``, defines every kernel here; read it
first. For one image, with k running over (c_in, i, j) and p over the L = H_out * W_out
output pixels:

    y[c_out, p] = sum_k  w[c_out, k] * cols[k, p]          (Y = W @ cols)

GEMMs of one image are small (L is 49 for a 7x7 output), so the batch is processed in chunks
of `chunk` images whose columns sit side by side in ONE buffer,

    cols: (K, chunk * L),   K = C_in * KH * KW,   column n * L + p = pixel p of image n,

and one GEMM covers the whole chunk. Each chunk goes through three steps:

    1. im2col, an OpenMP `prange` over the images of the chunk (each image owns its columns);
    2. the GEMM, called outside any `prange`: BLAS runs its own threads, and calling it from
       OpenMP threads would ask for threads * threads of them;
    3. a `prange` that moves the (C_out, chunk * L) product to or from NCHW, one (image,
       channel) row at a time (the bias is added here).

With groups, channel group q uses rows [q * K/G, (q+1) * K/G) of cols and rows
[q * C_out/G, (q+1) * C_out/G) of W and Y: one GEMM per group on those sub-blocks.

The caller (``scratchgen.backend.cython_conv``) guarantees C-contiguous, non-empty arrays of
one dtype whose shapes match the geometry, ``chunk * L`` and ``K`` below 2**31 (BLAS takes
32-bit ints) and ``1 <= chunk <= N``; nothing here checks that again.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ._blas cimport _gemm

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void sg_release_openmp_threads(void) { omp_pause_resource_all(omp_pause_soft); }
    #else
    static void sg_release_openmp_threads(void) { }
    #endif
    """
    void sg_release_openmp_threads() noexcept nogil

cdef bint RELEASE = False

def set_release(bint flag):
    global RELEASE
    RELEASE = flag

cdef inline void _release() noexcept nogil:
    if RELEASE:
        sg_release_openmp_threads()
from ._window cimport Geom, end_inside, first_inside, geom_from


# ---------------------------------------------------------------- one image <-> its columns

cdef void _im2col_image(const floating* x, floating* cols, Py_ssize_t ld,
                        const Geom* g) noexcept nogil:
    """Unfold one image x (C, H, W) into cols (C * KH * KW, L); rows are `ld` apart.

    Row (c * KH + i) * KW + j holds tap (i, j) of channel c for every output pixel (oh, ow),
    which reads x[c, oh * sh - ph + i * dh, ow * sw - pw + j * dw], or 0 in the padding.
    """
    cdef Py_ssize_t c, i, j, oh, ow, oh_first, oh_end, ow_first, ow_end, row_off, col_off
    cdef const floating* src
    cdef floating* dst
    for c in range(g.C):
        for i in range(g.KH):
            row_off = i * g.dh - g.ph                       # input row = oh * sh + row_off
            oh_first = first_inside(row_off, g.sh, g.H_out)
            oh_end = end_inside(row_off, g.sh, g.H, g.H_out)
            for j in range(g.KW):
                col_off = j * g.dw - g.pw                   # input column = ow * sw + col_off
                ow_first = first_inside(col_off, g.sw, g.W_out)
                ow_end = end_inside(col_off, g.sw, g.W, g.W_out)
                dst = cols + ((c * g.KH + i) * g.KW + j) * ld
                # Output rows whose tap falls in the top or bottom padding read zeros.
                memset(dst, 0, oh_first * g.W_out * sizeof(floating))
                memset(dst + oh_end * g.W_out, 0, (g.H_out - oh_end) * g.W_out * sizeof(floating))
                for oh in range(oh_first, oh_end):
                    src = x + (c * g.H + oh * g.sh + row_off) * g.W
                    for ow in range(ow_first):
                        dst[oh * g.W_out + ow] = 0
                    if g.sw == 1:   # the common case, a plain (vectorisable) copy
                        for ow in range(ow_first, ow_end):
                            dst[oh * g.W_out + ow] = src[ow + col_off]
                    else:
                        for ow in range(ow_first, ow_end):
                            dst[oh * g.W_out + ow] = src[ow * g.sw + col_off]
                    for ow in range(ow_end, g.W_out):
                        dst[oh * g.W_out + ow] = 0


cdef void _col2im_image(const floating* cols, Py_ssize_t ld, floating* x,
                        const Geom* g) noexcept nogil:
    """Adjoint of `_im2col_image`: x (C, H, W) = the sum of every column over its window.

    Windows overlap, so entries of x receive several columns: this runs in one thread per
    image and accumulates with +=; padding taps are dropped.
    """
    cdef Py_ssize_t c, i, j, oh, ow, oh_first, oh_end, ow_first, ow_end, row_off, col_off
    cdef const floating* src
    cdef floating* dst
    memset(x, 0, g.C * g.H * g.W * sizeof(floating))
    for c in range(g.C):
        for i in range(g.KH):
            row_off = i * g.dh - g.ph
            oh_first = first_inside(row_off, g.sh, g.H_out)
            oh_end = end_inside(row_off, g.sh, g.H, g.H_out)
            for j in range(g.KW):
                col_off = j * g.dw - g.pw
                ow_first = first_inside(col_off, g.sw, g.W_out)
                ow_end = end_inside(col_off, g.sw, g.W, g.W_out)
                src = cols + ((c * g.KH + i) * g.KW + j) * ld
                for oh in range(oh_first, oh_end):
                    dst = x + (c * g.H + oh * g.sh + row_off) * g.W
                    if g.sw == 1:
                        for ow in range(ow_first, ow_end):
                            dst[ow + col_off] += src[oh * g.W_out + ow]
                    else:
                        for ow in range(ow_first, ow_end):
                            dst[ow * g.sw + col_off] += src[oh * g.W_out + ow]


# ------------------------------------------------------- chunk product <-> NCHW, one row

cdef enum:
    TILE = 16   # output pixels per task of `_tile_to_nchw`: a (TILE, C) block of the product


cdef inline void _tile_to_nchw(const floating* prod, floating* out, const floating* bias,
                               Py_ssize_t task, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """Transpose one tile of a chunk's product into NCHW (+ bias).

    `prod` is (nb * L, C): row n * L + p holds the C channels of pixel p of image n. Task
    (n, t) = divmod(task, ceil(L / TILE)) writes out[n, :, t*TILE : (t+1)*TILE], where `out`
    starts at the chunk's first image; the (TILE, C) block it reads stays in cache.
    """
    cdef Py_ssize_t tiles = (L + TILE - 1) // TILE
    cdef Py_ssize_t n = task // tiles, p0 = task % tiles * TILE
    cdef Py_ssize_t p_end = min(p0 + TILE, L), c, p
    cdef floating shift
    cdef const floating* src = prod + n * L * C
    cdef floating* dst = out + n * C * L
    for c in range(C):
        shift = bias[c] if bias != NULL else 0
        for p in range(p0, p_end):
            dst[c * L + p] = src[p * C + c] + shift


cdef inline void _row_from_nchw(const floating* src, floating* rows, Py_ssize_t row,
                                Py_ssize_t nb, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """The inverse move: rows[c, n*L:(n+1)*L] = src[n, c, :] for (n, c) = divmod(row, C)."""
    cdef Py_ssize_t p, n = row // C, c = row % C
    cdef floating* dst = rows + (c * nb + n) * L
    for p in range(L):
        dst[p] = src[row * L + p]


# ------------------------------------------------------------------ the three convolutions
#
# Each driver walks the batch in chunks. Per chunk there is ONE OpenMP region, which also
# finishes the previous chunk (its product moved to NCHW, or folded back by col2im), and
# one GEMM phase. Every switch between OpenMP's threads and BLAS's threads costs time (the
# idle team waits for the next region while BLAS computes), so there are as few as possible.

cdef int _conv2d(const floating* x, const floating* w, const floating* bias, floating* y,
                 Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                 Py_ssize_t chunk) noexcept nogil:
    """y = conv2d(x, w) + bias, chunk by chunk. Returns 0, or -1 if memory ran out."""
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk
    cdef Py_ssize_t step, n, task, q, first, nb, done_first, done_nb
    cdef Py_ssize_t tiles = (L + TILE - 1) // TILE
    cdef floating* cols = <floating*> malloc(Kg * groups * chunk * L * sizeof(floating))
    cdef floating* prod = <floating*> malloc(C_out * chunk * L * sizeof(floating))
    if cols == NULL or prod == NULL:
        free(cols)
        free(prod)
        return -1
    for step in range(steps + 1):
        first = step * chunk                      # the chunk to unfold (none after the last)
        nb = min(chunk, N - first) if step < steps else 0
        done_first = first - chunk                # the chunk multiplied in the last step
        done_nb = min(chunk, N - done_first) if step > 0 else 0
        with parallel():
            for task in prange(done_nb * tiles, schedule="static"):
                _tile_to_nchw(prod, y + done_first * C_out * L, bias, task, C_out, L)
            for n in prange(nb, schedule="static"):
                _im2col_image(x + (first + n) * image, cols + n * L, nb * L, g)
        _release()
        for q in range(groups if nb else 0):
            # Y_q^T = cols_q^T @ W_q^T: (nb * L, K/G) @ (K/G, C_out/G), into columns
            # [q * C_out/G, (q+1) * C_out/G) of the (nb * L, C_out) product. (Computing the
            # transpose of Y_q = W_q @ cols_q suits BLAS better: both operands are read along
            # the summed axis K; the transposition back costs less than the time it saves.)
            _gemm(True, True, nb * L, Cg, Kg, 1, cols + q * Kg * nb * L, nb * L, w + q * Cg * Kg,
                  Kg, 0, prod + q * Cg, C_out)
    free(cols)
    free(prod)
    return 0


cdef int _conv2d_backward_data(const floating* grad_y, const floating* w, floating* grad_x,
                               Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups,
                               const Geom* g, Py_ssize_t chunk) noexcept nogil:
    """grad_x = col2im(W^T @ G), chunk by chunk. Returns 0, or -1 if memory ran out."""
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk
    cdef Py_ssize_t step, n, row, q, first, nb, done_first, done_nb
    cdef floating* cols = <floating*> malloc(Kg * groups * chunk * L * sizeof(floating))
    cdef floating* rows = <floating*> malloc(C_out * chunk * L * sizeof(floating))
    if cols == NULL or rows == NULL:
        free(cols)
        free(rows)
        return -1
    for step in range(steps + 1):
        first = step * chunk                      # the chunk to gather (none after the last)
        nb = min(chunk, N - first) if step < steps else 0
        done_first = first - chunk                # the chunk whose columns are ready
        done_nb = min(chunk, N - done_first) if step > 0 else 0
        with parallel():
            for n in prange(done_nb, schedule="static"):
                _col2im_image(cols + n * L, done_nb * L, grad_x + (done_first + n) * image, g)
            for row in prange(nb * C_out, schedule="static"):
                _row_from_nchw(grad_y + first * C_out * L, rows, row, nb, C_out, L)
        _release()
        for q in range(groups if nb else 0):
            # dL/dcols_q = W_q^T @ G_q: (K/G, C_out/G) @ (C_out/G, nb * L)
            _gemm(True, False, Kg, nb * L, Cg, 1, w + q * Cg * Kg, Kg, rows + q * Cg * nb * L,
                  nb * L, 0, cols + q * Kg * nb * L, nb * L)
    free(cols)
    free(rows)
    return 0


cdef int _conv2d_backward_weight(const floating* grad_y, const floating* x, floating* grad_w,
                                 Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups,
                                 const Geom* g, Py_ssize_t chunk) noexcept nogil:
    """grad_w = sum over chunks of G @ cols^T. Returns 0, or -1 if memory ran out."""
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk
    cdef Py_ssize_t step, n, row, q, first, nb
    cdef floating* cols = <floating*> malloc(Kg * groups * chunk * L * sizeof(floating))
    cdef floating* rows = <floating*> malloc(C_out * chunk * L * sizeof(floating))
    if cols == NULL or rows == NULL:
        free(cols)
        free(rows)
        return -1
    for step in range(steps):
        first = step * chunk
        nb = min(chunk, N - first)
        with parallel():
            for n in prange(nb, schedule="static"):
                _im2col_image(x + (first + n) * image, cols + n * L, nb * L, g)
            for row in prange(nb * C_out, schedule="static"):
                _row_from_nchw(grad_y + first * C_out * L, rows, row, nb, C_out, L)
        _release()
        for q in range(groups):
            # dL/dW_q += G_q @ cols_q^T: (C_out/G, nb * L) @ (nb * L, K/G); the first chunk
            # overwrites (beta = 0), so grad_w may start uninitialised.
            _gemm(False, True, Cg, Kg, nb * L, 1, rows + q * Cg * nb * L, nb * L,
                  cols + q * Kg * nb * L, nb * L, 0 if step == 0 else 1, grad_w + q * Cg * Kg, Kg)
    free(cols)
    free(rows)
    return 0


# ---------------------------------------------------------------------------- entry points

def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, geometry):
    """Unfold x (N, C, H, W) into cols (N, C * KH * KW, H_out * W_out), as numpy_conv.im2col."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t n, L = cols.shape[2]
    with nogil:
        for n in prange(x.shape[0], schedule="static"):
            _im2col_image(&x[n, 0, 0, 0], &cols[n, 0, 0], L, &g)


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] x, geometry):
    """Fold cols (N, C * KH * KW, H_out * W_out) into x (N, C, H, W), as numpy_conv.col2im."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t n, L = cols.shape[2]
    with nogil:
        for n in prange(x.shape[0], schedule="static"):
            _col2im_image(&cols[n, 0, 0], L, &x[n, 0, 0, 0], &g)


def conv2d(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
           const floating[::1] bias, floating[:, :, :, ::1] y, geometry, Py_ssize_t chunk):
    """y (N, C_out, H_out, W_out) = conv2d(x, w) + bias; `bias` (C_out,) may be None."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef const floating* b = NULL if bias is None else &bias[0]
    cdef int status
    with nogil:
        status = _conv2d(&x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0], x.shape[0],
                         w.shape[0], groups, &g, chunk)
    if status != 0:
        raise MemoryError("conv2d: could not allocate the column buffer")


def conv2d_backward_data(const floating[:, :, :, ::1] grad_y, const floating[:, :, :, ::1] w,
                         floating[:, :, :, ::1] grad_x, geometry, Py_ssize_t chunk):
    """grad_x (N, C_in, H, W) = dL/dx of conv2d, also conv_transpose2d's forward."""
    cdef Geom g = geom_from(geometry, grad_x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef int status
    with nogil:
        status = _conv2d_backward_data(&grad_y[0, 0, 0, 0], &w[0, 0, 0, 0],
                                       &grad_x[0, 0, 0, 0], grad_y.shape[0], w.shape[0],
                                       groups, &g, chunk)
    if status != 0:
        raise MemoryError("conv2d_backward_data: could not allocate the column buffer")


def conv2d_backward_weight(const floating[:, :, :, ::1] grad_y,
                           const floating[:, :, :, ::1] x, floating[:, :, :, ::1] grad_w,
                           geometry, Py_ssize_t chunk):
    """grad_w (C_out, C_in // groups, KH, KW) = dL/dw of conv2d, summed over the batch."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef int status
    with nogil:
        status = _conv2d_backward_weight(&grad_y[0, 0, 0, 0], &x[0, 0, 0, 0],
                                         &grad_w[0, 0, 0, 0], x.shape[0], grad_w.shape[0],
                                         groups, &g, chunk)
    if status != 0:
        raise MemoryError("conv2d_backward_weight: could not allocate the column buffer")
