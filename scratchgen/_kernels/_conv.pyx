"""2-D convolution as an implicit GEMM on scratchgen's own packed micro-kernel (BLIS style).

The NumPy twin, ``scratchgen/backend/numpy_conv.py``, defines every kernel here; read it
first. For one image and one group, with k over the K = C_in/G * KH * KW taps (c, i, j) and
p over the L = H_out * W_out output pixels, the three products are

    forward         Y (C_out/G, L)  = W (C_out/G, K) @ cols (K, L)
    data gradient   dcols (K, L)    = W^T (K, C_out/G) @ G (C_out/G, L), then col2im
    weight grad     dW (C_out/G, K) = sum over images of G (C_out/G, L) @ cols^T (L, K)

and none of them builds the column matrix: the routine that packs a panel of cols (for the
forward) or of cols^T (for the weight gradient) reads the image itself, through a copy of
it with the padding filled in (its frames, _im2col.pxd), where each value of cols is one
load at a pixel's offset plus a tap's; the data gradient's dcols exist only as one
cache-sized tile at a time, folded into grad_x (`scatter_pixels`, col2im's arithmetic) as
soon as it is computed.

GEMM in the BLIS way (Goto and van de Geijn 2008; Van Zee and van de Geijn 2015):

    * A is packed in panels of MR rows, B in panels of NR columns, each panel kc deep and laid
      out in the order the micro-kernel reads it (`pack` in _packed.pxd, the frames);
    * the micro-kernel (sg_microkernel.h, the one piece written per instruction set) adds
      one MR x NR block of C from one A panel and one B panel, in registers;
    * `macro_kernel` walks the panels of a (m, kc) x (kc, n) block: B's panel (kc x NR) stays in
      L1 while the A panels stream from L2; blocks of kc <= KC keep both there.

Threads: ONE OpenMP loop per call over independent tiles (a block of the batch's pixels, a
run of images, a chunk of the summed pixels; sized so that every thread gets as many, see
_conv_layout.pxd), and every thread runs the single-threaded micro-kernel on its own tiles
with its own packing buffers. No BLAS is called, so no second thread pool competes for the
cores. The weight gradient sums over the batch: each thread adds into its own copy of
dW (static schedule, so the sum's order is fixed for a given thread count), and the copies
are added at the end.

The caller (``scratchgen.backend.cython_conv``) guarantees C-contiguous, non-empty arrays of
one dtype whose shapes match the geometry, a work buffer of ``work_size(...)`` values and
``threads`` at least OpenMP's thread count of the loops (``omp_get_max_threads()``).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.string cimport memcpy, memset

from ._conv_layout cimport Blocks, Layout, dcols_rows, work_layout
from ._im2col cimport (
    Frame, frame_is_plane, frame_of, frame_plane, gather_row, pixel_offsets, scatter_pixels,
    scatter_row, tap_offset,
)
from ._packed cimport (
    SG_MAX_NR, macro_kernel, pack, register_block, round_up, sg_isa_named, sg_isa_supported,
    sg_isa_t,
)
from ._window cimport Geom, geom_from

# Cache blocking (`set_blocks` changes it; the tests shrink it so that every edge is crossed).
# A (KC, NR) panel of B, 16 KB of float32 for AVX2, stays in the 32-64 KB L1 while the
# micro-kernel sweeps the A panels; the (C_out/G, KC) A block and (KC, NC) B block share L2.
cdef Py_ssize_t KC = 256        # depth of a packed block (the summed axis)
cdef Py_ssize_t NC_MAX = 256    # output pixels per task of the forward and the data gradient
cdef Py_ssize_t MC_ROWS = 192   # rows of the data gradient's dcols tile (rounded down to MR)

ISAS = ("avx512", "avx2", "generic")
cdef const sg_isa_t* _isa = sg_isa_named(b"generic")


def isa_supported(str name):
    """Whether this build has micro-kernels for ISA `name` and this CPU runs them."""
    return sg_isa_named(name.encode()) != NULL and sg_isa_supported(name.encode()) == 1


def set_isa(str name):
    """Run the micro-kernels of ISA `name` (one of ISAS) from now on; the caller checked
    `isa_supported(name)`."""
    global _isa
    _isa = sg_isa_named(name.encode())


def isa():
    """The name of the ISA whose micro-kernels run."""
    return _isa.name.decode()


def set_blocks(Py_ssize_t kc, Py_ssize_t nc, Py_ssize_t mc):
    """Set the cache blocks (KC, NC_MAX, MC_ROWS), each >= 1; returns the previous ones."""
    global KC, NC_MAX, MC_ROWS
    previous = (KC, NC_MAX, MC_ROWS)
    KC, NC_MAX, MC_ROWS = kc, nc, mc
    return previous


cdef inline Blocks _blocks() noexcept nogil:
    """The current cache blocks."""
    cdef Blocks b
    b.kc, b.nc_max, b.mc_rows = KC, NC_MAX, MC_ROWS
    return b


cdef inline Layout _layout(int direction, const Geom* g, Py_ssize_t N, Py_ssize_t C_out,
                           Py_ssize_t groups, int mr, int nr, int threads) noexcept nogil:
    """`work_layout` (_conv_layout.pxd) with the current cache blocks."""
    cdef Blocks b = _blocks()
    return work_layout(&b, direction, g, N, C_out, groups, mr, nr, threads)


def register_blocks(str dtype):
    """(MR, NR) of the running micro-kernel for 'float32' or 'float64'."""
    return (_isa.mr_s, _isa.nr_s) if dtype == "float32" else (_isa.mr_d, _isa.nr_d)


def work_size(int direction, geometry, int threads, str dtype):
    """Values of work buffer `direction` (0 forward, 1 data, 2 weight gradient) needs."""
    cdef Geom g = geom_from(geometry, geometry.C_in)
    mr, nr = register_blocks(dtype)
    cdef Layout lay = _layout(direction, &g, geometry.N, geometry.C_out, geometry.groups, mr,
                              nr, threads)
    return lay.shared + threads * lay.per_thread


# ------------------------------------------------------------------ the three convolutions

cdef void _conv2d(const sg_isa_t* isa, const floating* x, const floating* w,
                  const floating* bias, floating* y, Py_ssize_t N, Py_ssize_t C_out,
                  Py_ssize_t groups, const Geom* g, floating* work, int threads) noexcept nogil:
    """y = conv2d(x, w) + bias: per task (group q, a block of the batch's pixels, which may
    run across images), Y = W @ cols, cols read from the input's frames (_im2col.pxd)."""
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(0, g, N, C_out, groups, mr, nr, threads)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, nc = lay.nc
    cdef Py_ssize_t blocks = (N * L + nc - 1) // nc, a_group = round_up(Cg, mr) * Kg
    cdef Py_ssize_t task, q, f0, count, kb, k0, kc, k, t, c, pb, panel, f, seg, plane
    cdef Frame fr = frame_of(g)
    cdef bint framed = not frame_is_plane(g, &fr)
    cdef floating* copy = work + round_up(groups * a_group, 16)
    cdef const floating* frames = x          # read in place, or ...
    cdef const floating* src
    cdef floating* dst
    cdef Py_ssize_t* offsets
    cdef floating* bpack
    cdef floating* tile
    cdef floating* out
    cdef floating shift
    if framed:
        frames = copy                           # ... in its frames, filled in below
    for q in range(groups):     # W_q (C_out/G, K/G) in MR-row panels, Kg deep
        pack(isa, w + q * Cg * Kg, Kg, 1, Cg, Kg, mr, work + q * a_group, Kg * mr)
    with parallel(num_threads=threads):
        if framed:
            for plane in prange(N * g.C, schedule="static"):
                frame_plane(x + plane * g.H * g.W, g, &fr, copy + plane * fr.plane)
        offsets = <Py_ssize_t*> (work + lay.shared + threadid() * lay.per_thread)
        bpack = work + lay.shared + threadid() * lay.per_thread + 2 * nc
        tile = bpack + min(KC, Kg) * nc
        for task in prange(groups * blocks, schedule="dynamic"):
            q, f0 = task // blocks, task % blocks * nc
            count = min(nc, N * L - f0)
            # A block inside one image is written in place, else into the tile.
            out = tile if f0 // L != (f0 + count - 1) // L else (
                y + (f0 // L * C_out + q * Cg) * L + f0 % L)
            pixel_offsets(g, &fr, f0, count, offsets)
            for kb in range((Kg + KC - 1) // KC):
                k0 = kb * KC
                kc = min(KC, Kg - k0)
                # Pack cols[k0:k0+kc, f0:f0+count] in NR-column panels: value (k, t) is
                # frames[offsets[t] + tap_offset(k)].
                for k in range(kc):
                    src = frames + q * Cin_g * fr.plane + tap_offset(g, &fr, k0 + k)
                    for pb in range((count + nr - 1) // nr):
                        panel = pb * nr
                        dst = bpack + panel * kc + k * nr
                        for t in range(min(nr, count - panel)):
                            dst[t] = src[offsets[panel + t]]
                        for t in range(min(nr, count - panel), nr):
                            dst[t] = 0
                # Y[:, block] (+)= W[:, k0:k0+kc] @ cols[k0:k0+kc, block]
                macro_kernel(isa, Cg, count, kc, work + q * a_group + k0 * mr, Kg * mr,
                             bpack, kc * nr, out, nc if out == tile else L, k0 > 0)
            # The bias; and a tile's image segments copied to y.
            f = f0
            while f < f0 + count:
                seg = min(f0 + count - f, L - f % L)
                for c in range(Cg):
                    shift = bias[q * Cg + c] if bias != NULL else 0
                    if out == tile:
                        for t in range(seg):
                            y[(f // L * C_out + q * Cg + c) * L + f % L + t] = (
                                tile[c * nc + f - f0 + t] + shift)
                    elif bias != NULL:
                        for t in range(seg):
                            out[c * L + t] += shift
                f = f + seg


cdef void _conv2d_backward_data(const sg_isa_t* isa, const floating* grad_y,
                                const floating* w, floating* grad_x, Py_ssize_t N,
                                Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                                floating* work, int threads) noexcept nogil:
    """grad_x = col2im(W^T @ G): per task (group q, a run of images), tile by tile of dcols.

    Windows overlap, also across pixel blocks: one task folds all of its images' group q."""
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(1, g, N, C_out, groups, mr, nr, threads)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, plane = g.H * g.W, image = g.C * plane, nc = lay.nc
    cdef Py_ssize_t runs = (N + lay.images - 1) // lay.images
    cdef Blocks b = _blocks()
    cdef Py_ssize_t a_group = round_up(Kg, mr) * Cg, mc = dcols_rows(&b, Kg, mr)
    cdef Py_ssize_t task, n, n0, q, pixels, fb, f0, f, seg, count, mb, m0, rows, kb, k0, kc, r, c
    cdef floating* gblock
    cdef floating* bpack
    cdef floating* tile
    cdef floating* images
    for q in range(groups):     # W_q^T (K/G, C_out/G) in MR-row panels, C_out/G deep
        pack(isa, w + q * Cg * Kg, 1, Kg, Kg, Cg, mr, work + q * a_group, Cg * mr)
    with parallel(num_threads=threads):
        gblock = work + lay.shared + threadid() * lay.per_thread
        bpack = gblock + Cg * nc
        tile = bpack + Cg * nc
        for task in prange(groups * runs, schedule="dynamic"):
            q, n0 = task // runs, task % runs * lay.images
            pixels = min(lay.images, N - n0) * L
            images = grad_x + n0 * image + q * Cin_g * plane          # grad_x[n0, q*Cin_g:]
            for n in range(pixels // L):
                memset(images + n * image, 0, Cin_g * plane * sizeof(floating))
            for fb in range((pixels + nc - 1) // nc):
                f0 = fb * nc
                count = min(nc, pixels - f0)
                # G[:, block] (C_out/G, count), gathered image segment by segment, then
                # packed in NR-column panels, C_out/G deep.
                f = f0
                while f < f0 + count:
                    seg = min(f0 + count - f, L - f % L)
                    for c in range(Cg):
                        memcpy(gblock + c * nc + f - f0,
                               grad_y + ((n0 + f // L) * C_out + q * Cg + c) * L + f % L,
                               seg * sizeof(floating))
                    f = f + seg
                pack(isa, gblock, 1, nc, count, Cg, nr, bpack, Cg * nr)
                for mb in range((Kg + mc - 1) // mc):
                    m0 = mb * mc
                    rows = min(mc, Kg - m0)
                    # tile = dcols[m0:m0+rows, block] = W^T[m0:m0+rows, :] @ G[:, block]
                    for kb in range((Cg + KC - 1) // KC):
                        k0 = kb * KC
                        kc = min(KC, Cg - k0)
                        macro_kernel(isa, rows, count, kc, work + q * a_group + m0 * Cg + k0 * mr,
                                     Cg * mr, bpack + k0 * nr, Cg * nr, tile, nc, k0 > 0)
                    for r in range(rows):
                        scatter_pixels(tile + r * nc, g, m0 + r, f0, count, images, image)


cdef void _conv2d_backward_weight(const sg_isa_t* isa, const floating* grad_y,
                                  const floating* x, floating* grad_w, Py_ssize_t N,
                                  Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                                  floating* work, int threads) noexcept nogil:
    """dW = sum over images of G @ cols^T, the batch's pixels summed in chunks of up to KC.

    Two ways to split it over the threads (`work_layout` picks):

    * by columns, when dW's column blocks (times the groups) come out even over the threads:
      a task is (group q, a block of dW's columns), and sums every chunk into that block
      of grad_w itself, which stays in cache (64 -> 128 channels, 4x4 taps: 4 blocks of
      256 columns on two threads);
    * by pixels otherwise (few columns, as for one input channel): a task is (group q, a
      chunk), added into the thread's own copy of dW (static schedule, so the order of the
      sum is fixed for a thread count); the copies are added at the end.
    """
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(2, g, N, C_out, groups, mr, nr, threads)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, plane = g.H * g.W, size = C_out * Kg
    cdef Py_ssize_t ncw = lay.ncw, depth = lay.depth, chunks = (N * L + depth - 1) // depth
    cdef Py_ssize_t blocks = (Kg + ncw - 1) // ncw
    # tasks = groups x slabs x parts: a slab is a run of column blocks, a part of chunks
    cdef Py_ssize_t slabs = blocks if lay.by_columns else 1
    cdef Py_ssize_t parts = 1 if lay.by_columns else chunks
    cdef Py_ssize_t task, q, slab, part, chunk, first, kc, k, n, p, seg, j0, jb, cols, pb, r0
    cdef Py_ssize_t r, i, th, valid, plane_no
    cdef Frame fr = frame_of(g)
    cdef bint framed = not frame_is_plane(g, &fr)
    cdef floating* copy = work
    cdef const floating* frames = x          # read in place, or ...
    cdef const floating* src
    cdef floating* dst
    cdef Py_ssize_t* offsets
    cdef Py_ssize_t* taps
    cdef floating* dw
    cdef floating* apack
    cdef floating* bpack
    cdef floating total
    if framed:
        frames = copy                           # ... in its frames, filled in below
    if not lay.by_columns:
        memset(work + lay.shared, 0, threads * lay.per_thread * sizeof(floating))
    with parallel(num_threads=threads):
        if framed:
            for plane_no in prange(N * g.C, schedule="static"):
                frame_plane(x + plane_no * plane, g, &fr, copy + plane_no * fr.plane)
        offsets = <Py_ssize_t*> (work + lay.shared + threadid() * lay.per_thread)
        taps = offsets + KC
        apack = work + lay.shared + threadid() * lay.per_thread + 2 * (KC + SG_MAX_NR)
        bpack = apack + round_up(Cg, mr) * KC
        dw = grad_w if lay.by_columns else bpack + KC * ncw           # where dW adds up
        for task in prange(groups * slabs * parts, schedule="static"):
            q, slab, part = task // (slabs * parts), task // parts % slabs, task % parts
            for chunk in range(part, part + 1 if parts > 1 else chunks):
                first = chunk * depth                                 # pixels [first, +kc)
                kc = min(depth, N * L - first)
                # A: G[:, q*Cg:, pixels] in MR-row panels, one segment per image crossed.
                k = 0
                while k < kc:
                    n, p = (first + k) // L, (first + k) % L
                    seg = min(kc - k, L - p)
                    pack(isa, grad_y + (n * C_out + q * Cg) * L + p, L, 1, Cg, seg, mr,
                         apack + k * mr, kc * mr)
                    k = k + seg      # (not +=: in a prange body that would be a reduction)
                pixel_offsets(g, &fr, first, kc, offsets)
                for jb in range(slab if slabs > 1 else 0, slab + 1 if slabs > 1 else blocks):
                    j0 = jb * ncw
                    cols = min(ncw, Kg - j0)
                    # B: cols^T[pixels, j0:j0+cols] in NR-column panels, from the frames:
                    # value (pixel i, column r0 + r) is frames[offsets[i] + taps[r]], and a
                    # panel's NR taps of one pixel (a channel's window, for 4x4 taps) are
                    # read from a few short runs of memory.
                    for pb in range((cols + nr - 1) // nr):
                        r0 = pb * nr
                        valid = min(nr, cols - r0)
                        for r in range(valid):
                            taps[r] = tap_offset(g, &fr, j0 + r0 + r)
                        for i in range(kc):
                            src = frames + q * Cin_g * fr.plane + offsets[i]
                            dst = bpack + r0 * kc + i * nr
                            for r in range(valid):
                                dst[r] = src[taps[r]]
                            for r in range(valid, nr):
                                dst[r] = 0
                    # dW_q[:, j0:j0+cols] (+)= G[:, pixels] @ cols^T[pixels, j0:j0+cols]
                    macro_kernel(isa, Cg, cols, kc, apack, kc * mr, bpack, kc * nr,
                                 dw + q * Cg * Kg + j0, Kg, not lay.by_columns or chunk > 0)
    if lay.by_columns:
        return
    # grad_w = the threads' dW added up, in thread order
    for i in prange(size, num_threads=threads, schedule="static"):
        total = 0
        for th in range(threads):
            total = total + work[lay.shared + th * lay.per_thread + 2 * (KC + SG_MAX_NR)
                                 + round_up(Cg, mr) * KC + KC * ncw + i]
        grad_w[i] = total


# ---------------------------------------------------------------------------- entry points

def im2col(const floating[:, :, :, ::1] x, floating[:, :, ::1] cols, geometry):
    """Unfold x (N, C, H, W) into cols (N, C * KH * KW, H_out * W_out), as numpy_conv.im2col,
    row by row through `gather_row` (the conv kernels' packing reads x the same way)."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t task, rows = cols.shape[1], L = cols.shape[2]
    with nogil:
        for task in prange(cols.shape[0] * rows, schedule="static"):
            gather_row(&x[task // rows, 0, 0, 0], &g, task % rows, 0, L,
                       &cols[task // rows, task % rows, 0], 1)


def col2im(const floating[:, :, ::1] cols, floating[:, :, :, ::1] x, geometry):
    """Fold cols (N, C * KH * KW, H_out * W_out) into x (N, C, H, W), as numpy_conv.col2im,
    through `scatter_row`; one thread per image, as its windows overlap."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t n, r, L = cols.shape[2]
    with nogil:
        for n in prange(x.shape[0], schedule="static"):
            memset(&x[n, 0, 0, 0], 0, x.shape[1] * x.shape[2] * x.shape[3] * sizeof(floating))
            for r in range(cols.shape[1]):
                scatter_row(&cols[n, r, 0], &g, r, 0, L, &x[n, 0, 0, 0])


def conv2d(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] w,
           const floating[::1] bias, floating[:, :, :, ::1] y, geometry, int threads,
           floating[::1] work):
    """y (N, C_out, H_out, W_out) = conv2d(x, w) + bias; `bias` (C_out,) may be None.

    `work` (at least work_size(0, geometry, threads, dtype) values; 1 and 2 for the two
    below) is scratch space; its contents on entry do not matter.
    """
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef const floating* b = NULL
    cdef const sg_isa_t* isa = _isa
    if bias is not None:
        b = &bias[0]
    with nogil:
        _conv2d(isa, &x[0, 0, 0, 0], &w[0, 0, 0, 0], b, &y[0, 0, 0, 0], x.shape[0],
                w.shape[0], groups, &g, &work[0], threads)


def conv2d_backward_data(const floating[:, :, :, ::1] grad_y, const floating[:, :, :, ::1] w,
                         floating[:, :, :, ::1] grad_x, geometry, int threads,
                         floating[::1] work):
    """grad_x (N, C_in, H, W) = dL/dx of conv2d, also conv_transpose2d's forward."""
    cdef Geom g = geom_from(geometry, grad_x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef const sg_isa_t* isa = _isa
    with nogil:
        _conv2d_backward_data(isa, &grad_y[0, 0, 0, 0], &w[0, 0, 0, 0], &grad_x[0, 0, 0, 0],
                              grad_y.shape[0], w.shape[0], groups, &g, &work[0], threads)


def conv2d_backward_weight(const floating[:, :, :, ::1] grad_y,
                           const floating[:, :, :, ::1] x, floating[:, :, :, ::1] grad_w,
                           geometry, int threads, floating[::1] work):
    """grad_w (C_out, C_in // groups, KH, KW) = dL/dw of conv2d, summed over the batch."""
    cdef Geom g = geom_from(geometry, x.shape[1])
    cdef Py_ssize_t groups = geometry.groups
    cdef const sg_isa_t* isa = _isa
    with nogil:
        _conv2d_backward_weight(isa, &grad_y[0, 0, 0, 0], &x[0, 0, 0, 0], &grad_w[0, 0, 0, 0],
                                x.shape[0], grad_w.shape[0], groups, &g, &work[0], threads)
