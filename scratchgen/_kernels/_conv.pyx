"""2-D convolution as im2col plus one BLAS GEMM per chunk of images.

The NumPy twin, ``scratchgen/backend/numpy_conv.py``, defines every kernel here; read it
first. For one image, with k running over (c_in, i, j) and p over the L = H_out * W_out
output pixels, y[c_out, p] = sum_k w[c_out, k] * cols[k, p], i.e. Y = W @ cols.

GEMMs of one image are small (L is 49 for a 7x7 output), so the batch is processed in chunks
of `chunk` images whose columns sit side by side in ONE buffer, cols (K, chunk * L) with
K = C_in * KH * KW (column n * L + p is pixel p of image n), and one GEMM covers the chunk:

    1. im2col: an OpenMP `prange` over the (image, channel) planes of the chunk;
    2. the GEMM, called outside any `prange`: BLAS runs its own threads, and calling it from
       OpenMP threads would ask for threads * threads of them;
    3. a `prange` that moves the product between the chunk's layout and NCHW (adding the
       bias), or folds columns back into images (col2im, one channel plane per task).

Two products are computed transposed, as BLAS runs them faster when both operands are read
along the summed axis: the forward Y^T = cols^T @ W^T (chunk * L, C_out), turned back into
NCHW tile by tile, and the weight gradient dW^T = cols @ G^T, transposed once at the end.
With groups, group q uses rows [q * K/G, (q+1) * K/G) of cols and [q * C_out/G,
(q+1) * C_out/G) of W and G: one GEMM per group on those sub-blocks.

The buffers (columns, products, the transposed weight gradient) are carved from one `work`
array that the caller passes in and keeps between calls: allocating them afresh each call
costs page faults that took longer than filling them.

The caller (``scratchgen.backend.cython_conv``) guarantees C-contiguous, non-empty arrays of
one dtype whose shapes match the geometry, ``chunk * L`` and ``K`` below 2**31 (BLAS takes
32-bit ints), ``1 <= chunk <= N`` and a work buffer of ``work_size`` values; nothing here
checks that again.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.string cimport memset

from ._blas cimport _gemm
from ._window cimport Geom, end_inside, first_inside, geom_from


# -------------------------------------------------------------- one channel <-> its columns

cdef void _im2col_plane(const floating* x, floating* cols, Py_ssize_t ld,
                        const Geom* g) noexcept nogil:
    """Unfold one channel x (H, W) of an image into its KH * KW rows of cols, `ld` apart.

    Row i * KW + j holds tap (i, j) for every output pixel (oh, ow), which reads
    x[oh * sh - ph + i * dh, ow * sw - pw + j * dw], or 0 in the padding. (Channel c of an
    image owns rows [c * KH * KW, (c+1) * KH * KW) of the image's columns.)
    """
    cdef Py_ssize_t i, j, oh, ow, oh_first, oh_end, ow_first, ow_end, row_off, col_off
    cdef Py_ssize_t H_out = g.H_out, W_out = g.W_out, sw = g.sw
    cdef const floating* src
    cdef floating* dst
    for i in range(g.KH):
        row_off = i * g.dh - g.ph                           # input row = oh * sh + row_off
        oh_first = first_inside(row_off, g.sh, H_out)
        oh_end = end_inside(row_off, g.sh, g.H, H_out)
        for j in range(g.KW):
            col_off = j * g.dw - g.pw                       # input column = ow * sw + col_off
            ow_first = first_inside(col_off, sw, W_out)
            ow_end = end_inside(col_off, sw, g.W, W_out)
            dst = cols + (i * g.KW + j) * ld
            # Output rows whose tap falls in the top or bottom padding read zeros.
            if oh_first > 0:
                memset(dst, 0, oh_first * W_out * sizeof(floating))
            if oh_end < H_out:
                memset(dst + oh_end * W_out, 0, (H_out - oh_end) * W_out * sizeof(floating))
            for oh in range(oh_first, oh_end):
                src = x + (oh * g.sh + row_off) * g.W
                for ow in range(ow_first):
                    dst[oh * W_out + ow] = 0
                if sw == 1:     # the common case, a plain (vectorisable) copy
                    for ow in range(ow_first, ow_end):
                        dst[oh * W_out + ow] = src[ow + col_off]
                else:
                    for ow in range(ow_first, ow_end):
                        dst[oh * W_out + ow] = src[ow * sw + col_off]
                for ow in range(ow_end, W_out):
                    dst[oh * W_out + ow] = 0


cdef void _col2im_plane(const floating* cols, Py_ssize_t ld, floating* x,
                        const Geom* g) noexcept nogil:
    """Adjoint of `_im2col_plane`: channel x (H, W) = the sum of its KH * KW rows of columns,
    each added over its window.

    Windows overlap, so entries of x receive several columns: one thread folds the whole
    channel, accumulating with +=, taps in order (i, j) as in the twin; padding taps drop.
    """
    cdef Py_ssize_t i, j, oh, ow, oh_first, oh_end, ow_first, ow_end, row_off, col_off
    cdef Py_ssize_t W_out = g.W_out, sw = g.sw
    cdef const floating* src
    cdef floating* dst
    memset(x, 0, g.H * g.W * sizeof(floating))
    for i in range(g.KH):
        row_off = i * g.dh - g.ph
        oh_first = first_inside(row_off, g.sh, g.H_out)
        oh_end = end_inside(row_off, g.sh, g.H, g.H_out)
        for j in range(g.KW):
            col_off = j * g.dw - g.pw
            ow_first = first_inside(col_off, sw, W_out)
            ow_end = end_inside(col_off, sw, g.W, W_out)
            src = cols + (i * g.KW + j) * ld
            for oh in range(oh_first, oh_end):
                dst = x + (oh * g.sh + row_off) * g.W
                if sw == 1:
                    for ow in range(ow_first, ow_end):
                        dst[ow + col_off] += src[oh * W_out + ow]
                else:
                    for ow in range(ow_first, ow_end):
                        dst[ow * sw + col_off] += src[oh * W_out + ow]


cdef inline void _im2col_task(const floating* x, floating* cols, Py_ssize_t ld,
                              Py_ssize_t task, const Geom* g) noexcept nogil:
    """Task (n, c) = divmod(task, C): unfold channel c of image n of a chunk (`x` at the
    chunk's first image) into the chunk's columns (image n's start at column n * L)."""
    cdef Py_ssize_t n = task // g.C, c = task % g.C
    _im2col_plane(x + task * g.H * g.W, cols + n * g.H_out * g.W_out + c * g.KH * g.KW * ld,
                  ld, g)


cdef inline void _col2im_task(const floating* cols, Py_ssize_t ld, floating* x,
                              Py_ssize_t task, const Geom* g) noexcept nogil:
    """Task (n, c) = divmod(task, C): fold channel c of image n back, as `_im2col_task`."""
    cdef Py_ssize_t n = task // g.C, c = task % g.C
    _col2im_plane(cols + n * g.H_out * g.W_out + c * g.KH * g.KW * ld, ld,
                  x + task * g.H * g.W, g)


# ---------------------------------------------------------- chunk buffers <-> NCHW

cdef enum:
    TILE = 16   # pixels per task of `_tile_to_nchw`


cdef inline void _tile_to_nchw(const floating* prod, floating* out, const floating* bias,
                               Py_ssize_t task, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """out[n, :, p0:p0 + TILE] = prod[n*L + p0 : n*L + p0 + TILE, :]^T (+ bias), one tile of
    a chunk's (nb * L, C) product turned back into NCHW.

    Task (n, p0 / TILE) = divmod(task, ceil(L / TILE)); `out` starts at the chunk's first
    image. The (TILE, C) block read stays in cache while it is written out column by column.
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


cdef inline void _add_bias(floating* out, const floating* bias, Py_ssize_t row, Py_ssize_t C,
                           Py_ssize_t L) noexcept nogil:
    """out[n, c, :] += bias[c] for (n, c) = divmod(row, C)."""
    cdef Py_ssize_t p
    cdef floating shift = bias[row % C]
    for p in range(L):
        out[row * L + p] += shift


cdef inline void _row_from_nchw(const floating* src, floating* rows, Py_ssize_t row,
                                Py_ssize_t nb, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """The inverse move: rows[c, n*L:(n+1)*L] = src[n, c, :] for (n, c) = divmod(row, C)."""
    cdef Py_ssize_t p, n = row // C, c = row % C
    cdef floating* dst = rows + (c * nb + n) * L
    for p in range(L):
        dst[p] = src[row * L + p]


cdef inline bint _unfold_is_identity(const Geom* g) noexcept nogil:
    """Whether im2col copies each image unchanged (1x1 taps, stride 1, no padding): then the
    image itself is its (C, L) block of columns, and col2im is the identity too."""
    return (g.KH == 1 and g.KW == 1 and g.sh == 1 and g.sw == 1 and g.ph == 0 and g.pw == 0
            and g.H_out == g.H and g.W_out == g.W)


cdef inline floating* _image_block(floating* cols, Py_ssize_t ld, floating* image, bint unfold,
                                   Py_ssize_t q, Py_ssize_t n, Py_ssize_t Kg,
                                   Py_ssize_t L) noexcept nogil:
    """Where a direct GEMM finds image n's columns of group q: in the chunk's buffer (rows
    `ld` apart) or, for a 1x1 convolution that is not unfolded, in the image itself (rows L
    apart; `image` is image n's first value)."""
    return cols + q * Kg * ld + n * L if unfold else image + q * Kg * L


cdef inline Py_ssize_t _work_size(Py_ssize_t K, Py_ssize_t C_out, Py_ssize_t L,
                                  Py_ssize_t chunk) noexcept nogil:
    """Values of work buffer a driver needs: a chunk's columns (K, chunk * L), its product or
    gathered rows (chunk * L, C_out), and the weight gradient's transpose (K, C_out / G,
    at most K * C_out). Drivers that need less use a prefix."""
    return (K + C_out) * chunk * L + K * C_out


# ------------------------------------------------------------------ the three convolutions
#
# Each driver walks the batch in chunks of `chunk` images. Per chunk there is ONE OpenMP
# region, which also finishes the previous chunk (its product moved to NCHW, or its columns
# folded back by col2im), and one GEMM phase. Every switch between OpenMP's threads and
# BLAS's threads costs time, so there are as few as possible.
#
# With `direct`, the GEMMs read and write the NCHW arrays in place, one GEMM per image
# (y[n] = W @ cols_n, cols_n = W^T @ G[n], dW^T += cols_n @ G[n]^T): no copy to or from the
# chunk's layout, at the price of smaller GEMMs. That wins when the products are cheap next
# to moving them (few rows K); the caller picks. A direct 1x1 convolution (stride 1, no
# padding) does not unfold at all: its GEMMs read x, or write grad_x, where cols_n would be.

cdef void _conv2d(const floating* x, const floating* w, const floating* bias, floating* y,
                  Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                  Py_ssize_t chunk, bint direct, floating* work) noexcept nogil:
    """y = conv2d(x, w) + bias, chunk by chunk."""
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk, tiles = (L + TILE - 1) // TILE
    cdef Py_ssize_t step, n, task, row, q, first, nb, ld, done_first, done_nb
    cdef bint unfold = not (direct and _unfold_is_identity(g))
    cdef const floating* block        # cols_n,q: the columns of image n, group q
    # The chunk's columns (unused when a 1x1 conv reads x itself) and product (unless direct).
    cdef floating* cols = work
    cdef floating* prod = work + Kg * groups * chunk * L
    for step in range(steps + 1):
        first = step * chunk                      # the chunk to unfold (none after the last)
        nb = min(chunk, N - first) if step < steps else 0
        ld = nb * L
        done_first = first - chunk                # the chunk multiplied in the last step
        done_nb = min(chunk, N - done_first) if step > 0 else 0
        with parallel():
            # Finish the last chunk: its (nb * L, C_out) product into NCHW, or (direct) the
            # bias added in place. Then unfold this chunk.
            for task in prange(done_nb * tiles if not direct else 0, schedule="static"):
                _tile_to_nchw(prod, y + done_first * C_out * L, bias, task, C_out, L)
            for row in prange(done_nb * C_out if direct and bias != NULL else 0,
                              schedule="static"):
                _add_bias(y + done_first * C_out * L, bias, row, C_out, L)
            for task in prange(nb * g.C if unfold else 0, schedule="dynamic"):
                _im2col_task(x + first * image, cols, ld, task, g)
        for q in range(groups if nb else 0):
            if direct:
                # y[n]_q = W_q @ cols_n,q: (C_out/G, K/G) @ (K/G, L), for each image n
                for n in range(nb):
                    block = _image_block(cols, ld, <floating*> x + (first + n) * image, unfold,
                                         q, n, Kg, L)
                    _gemm(False, False, Cg, L, Kg, 1, w + q * Cg * Kg, Kg, block,
                          ld if unfold else L, 0, y + ((first + n) * C_out + q * Cg) * L, L)
            else:
                # Y_q^T = cols_q^T @ W_q^T: (nb * L, K/G) @ (K/G, C_out/G), into columns
                # [q * C_out/G, (q+1) * C_out/G) of the (nb * L, C_out) product. BLAS runs
                # this faster than Y_q = W_q @ cols_q (both operands are read along the
                # summed axis), by more than the transposition back to NCHW costs.
                _gemm(True, True, ld, Cg, Kg, 1, cols + q * Kg * ld, ld, w + q * Cg * Kg, Kg,
                      0, prod + q * Cg, C_out)


cdef void _conv2d_backward_data(const floating* grad_y, const floating* w, floating* grad_x,
                                Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups,
                                const Geom* g, Py_ssize_t chunk, bint direct,
                                floating* work) noexcept nogil:
    """grad_x = col2im(W^T @ G), chunk by chunk."""
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk
    cdef Py_ssize_t step, n, task, row, q, first, nb, ld, done_first, done_nb
    cdef bint unfold = not (direct and _unfold_is_identity(g))
    cdef floating* block              # dL/dcols_n,q, or (not unfold) grad_x[n]_q itself
    # The chunk's columns (unused when a 1x1 conv writes grad_x itself) and gathered G rows.
    cdef floating* cols = work
    cdef floating* rows = work + Kg * groups * chunk * L
    for step in range(steps + 1):
        first = step * chunk                      # the chunk to multiply (none after the last)
        nb = min(chunk, N - first) if step < steps else 0
        ld = nb * L
        done_first = first - chunk                # the chunk whose columns are ready
        done_nb = min(chunk, N - done_first) if step > 0 else 0
        with parallel():
            for task in prange(done_nb * g.C if unfold else 0, schedule="dynamic"):
                _col2im_task(cols, done_nb * L, grad_x + done_first * image, task, g)
            for row in prange(nb * C_out if not direct else 0, schedule="static"):
                _row_from_nchw(grad_y + first * C_out * L, rows, row, nb, C_out, L)
        for q in range(groups if nb else 0):
            if direct:
                # dL/dcols_n,q = W_q^T @ G[n]_q: (K/G, C_out/G) @ (C_out/G, L), for each image
                for n in range(nb):
                    block = _image_block(cols, ld, grad_x + (first + n) * image, unfold, q, n,
                                         Kg, L)
                    _gemm(True, False, Kg, L, Cg, 1, w + q * Cg * Kg, Kg,
                          grad_y + ((first + n) * C_out + q * Cg) * L, L, 0, block,
                          ld if unfold else L)
            else:
                # dL/dcols_q = W_q^T @ G_q: (K/G, C_out/G) @ (C_out/G, nb * L)
                _gemm(True, False, Kg, ld, Cg, 1, w + q * Cg * Kg, Kg, rows + q * Cg * ld, ld,
                      0, cols + q * Kg * ld, ld)


cdef void _conv2d_backward_weight(const floating* grad_y, const floating* x, floating* grad_w,
                                  Py_ssize_t N, Py_ssize_t C_out, Py_ssize_t groups,
                                  const Geom* g, Py_ssize_t chunk, bint direct,
                                  floating* work) noexcept nogil:
    """grad_w = sum over chunks of G @ cols^T.

    The sum is accumulated transposed, dW^T = cols @ G^T (K/G, C_out/G) per group, which BLAS
    runs faster, and transposed into grad_w once at the end.
    """
    cdef Py_ssize_t L = g.H_out * g.W_out, image = g.C * g.H * g.W
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t steps = (N + chunk - 1) // chunk
    cdef Py_ssize_t step, n, task, row, q, k, c, first, nb, ld
    cdef bint unfold = not (direct and _unfold_is_identity(g))
    cdef const floating* block        # cols_n,q: the columns of image n, group q
    cdef floating* cols = work
    cdef floating* rows = cols + Kg * groups * chunk * L
    cdef floating* grad_wt = rows + C_out * chunk * L   # dW^T group by group: (G, K/G, C_out/G)
    for step in range(steps):
        first = step * chunk
        nb = min(chunk, N - first)
        ld = nb * L
        with parallel():
            for task in prange(nb * g.C if unfold else 0, schedule="dynamic"):
                _im2col_task(x + first * image, cols, ld, task, g)
            for row in prange(nb * C_out if not direct else 0, schedule="static"):
                _row_from_nchw(grad_y + first * C_out * L, rows, row, nb, C_out, L)
        # dL/dW_q^T += cols_q @ G_q^T, over the chunk at once or image by image; the first
        # product overwrites (beta = 0), so the buffer needs no zeroing.
        for q in range(groups):
            if direct:
                for n in range(nb):     # (K/G, L) @ (L, C_out/G)
                    block = _image_block(cols, ld, <floating*> x + (first + n) * image, unfold,
                                         q, n, Kg, L)
                    _gemm(False, True, Kg, Cg, L, 1, block, ld if unfold else L,
                          grad_y + ((first + n) * C_out + q * Cg) * L, L,
                          0 if first + n == 0 else 1, grad_wt + q * Kg * Cg, Cg)
            else:                       # (K/G, nb * L) @ (nb * L, C_out/G)
                _gemm(False, True, Kg, Cg, ld, 1, cols + q * Kg * ld, ld, rows + q * Cg * ld, ld,
                      0 if step == 0 else 1, grad_wt + q * Kg * Cg, Cg)
    for q in range(groups):
        for c in range(Cg):
            for k in range(Kg):
                grad_w[(q * Cg + c) * Kg + k] = grad_wt[(q * Kg + k) * Cg + c]


# ---------------------------------------------------------------------------- entry points

def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, geometry):
    """Unfold x (N, C, H, W) into cols (N, C * KH * KW, H_out * W_out), as numpy_conv.im2col."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t task, L = cols.shape[2]
    with nogil:
        for task in prange(x.shape[0] * x.shape[1], schedule="dynamic"):
            # (Each image's columns are its own (K, L) block: as a chunk of one image.)
            _im2col_task(&x[task // g.C, 0, 0, 0], &cols[task // g.C, 0, 0], L, task % g.C, &g)


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] x, geometry):
    """Fold cols (N, C * KH * KW, H_out * W_out) into x (N, C, H, W), as numpy_conv.col2im."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t task, L = cols.shape[2]
    with nogil:
        for task in prange(x.shape[0] * x.shape[1], schedule="dynamic"):
            _col2im_task(&cols[task // g.C, 0, 0], L, &x[task // g.C, 0, 0, 0], task % g.C, &g)


def work_size(geometry, Py_ssize_t chunk):
    """How many values of work buffer the conv kernels below need for `geometry`, `chunk`."""
    return _work_size(geometry.C_in * geometry.KH * geometry.KW, geometry.C_out,
                      geometry.H_out * geometry.W_out, chunk)


def conv2d(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
           const floating[::1] bias, floating[:, :, :, ::1] y, geometry, Py_ssize_t chunk,
           bint direct, floating[::1] work):
    """y (N, C_out, H_out, W_out) = conv2d(x, w) + bias; `bias` (C_out,) may be None.

    `work` (at least work_size(geometry, chunk) values, as for the two below) is scratch
    space; its contents on entry do not matter.
    """
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef const floating* b = NULL
    if bias is not None:
        b = &bias[0]
    with nogil:
        _conv2d(&x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0], x.shape[0], w.shape[0],
                groups, &g, chunk, direct, &work[0])


def conv2d_backward_data(const floating[:, :, :, ::1] grad_y, const floating[:, :, :, ::1] w,
                         floating[:, :, :, ::1] grad_x, geometry, Py_ssize_t chunk,
                         bint direct, floating[::1] work):
    """grad_x (N, C_in, H, W) = dL/dx of conv2d, also conv_transpose2d's forward."""
    cdef Geom g = geom_from(geometry, grad_x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    with nogil:
        _conv2d_backward_data(&grad_y[0, 0, 0, 0], &w[0, 0, 0, 0], &grad_x[0, 0, 0, 0],
                              grad_y.shape[0], w.shape[0], groups, &g, chunk, direct, &work[0])


def conv2d_backward_weight(const floating[:, :, :, ::1] grad_y,
                           const floating[:, :, :, ::1] x, floating[:, :, :, ::1] grad_w,
                           geometry, Py_ssize_t chunk, bint direct, floating[::1] work):
    """grad_w (C_out, C_in // groups, KH, KW) = dL/dw of conv2d, summed over the batch."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    with nogil:
        _conv2d_backward_weight(&grad_y[0, 0, 0, 0], &x[0, 0, 0, 0], &grad_w[0, 0, 0, 0],
                                x.shape[0], grad_w.shape[0], groups, &g, chunk, direct,
                                &work[0])
