"""2-D convolution as an implicit GEMM on scratchgen's own packed micro-kernel (BLIS style).

The NumPy twin, ``scratchgen/backend/numpy_conv.py``, defines every kernel here; read it
first. For one image and one group, with k over the K = C_in/G * KH * KW taps (c, i, j) and
p over the L = H_out * W_out output pixels, the three products are

    forward         Y (C_out/G, L)  = W (C_out/G, K) @ cols (K, L)
    data gradient   dcols (K, L)    = W^T (K, C_out/G) @ G (C_out/G, L), then col2im
    weight grad     dW (C_out/G, K) = sum over images of G (C_out/G, L) @ cols^T (L, K)

and none of them builds the column matrix: the routine that packs a panel of cols (for the
forward) or of cols^T (for the weight gradient) reads the image itself through im2col's
index arithmetic (`gather_row`, _im2col.pxd), and the data gradient's dcols exist only as
one cache-sized tile at a time, folded into grad_x (`scatter_row`, col2im's arithmetic) as
soon as it is computed.

GEMM in the BLIS way (Goto and van de Geijn 2008; Van Zee and van de Geijn 2015):

    * A is packed in panels of MR rows, B in panels of NR columns, each panel kc deep and laid
      out in the order the micro-kernel reads it (`pack` in _packed.pxd, `gather_row`);
    * the micro-kernel (sg_microkernel.h, the one piece written per instruction set) adds
      one MR x NR block of C from one A panel and one B panel, in registers;
    * `macro_kernel` walks the panels of a (m, kc) x (kc, n) block: B's panel (kc x NR) stays in
      L1 while the A panels stream from L2; blocks of kc <= KC keep both there.

Threads: ONE OpenMP loop per call over independent tiles (an image's pixel block, an image,
a chunk of the summed pixels), and every thread runs the single-threaded micro-kernel on its
own tiles with its own packing buffers. No BLAS is called, so no second thread pool competes
for the cores. The weight gradient sums over the batch: each thread adds into its own copy of
dW (static schedule, so the sum's order is fixed for a given thread count), and the copies
are added at the end.

The caller (``scratchgen.backend.cython_conv``) guarantees C-contiguous, non-empty arrays of
one dtype whose shapes match the geometry, a work buffer of ``work_size(...)`` values and
``threads`` at least OpenMP's thread count of the loops (``omp_get_max_threads()``).
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.string cimport memcpy, memset

from ._im2col cimport gather_row, scatter_row
from ._packed cimport (
    macro_kernel, pack, register_block, round_up, sg_isa_named, sg_isa_supported, sg_isa_t,
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


def register_blocks(str dtype):
    """(MR, NR) of the running micro-kernel for 'float32' or 'float64'."""
    return (_isa.mr_s, _isa.nr_s) if dtype == "float32" else (_isa.mr_d, _isa.nr_d)


cdef inline Py_ssize_t _pixel_block(Py_ssize_t L, int nr) noexcept nogil:
    """Output pixels per task: L split evenly into blocks of at most about NC_MAX, rounded
    up to whole NR panels."""
    cdef Py_ssize_t blocks = (L + NC_MAX - 1) // NC_MAX
    return min(round_up((L + blocks - 1) // blocks, nr), round_up(L, nr))


# --------------------------------------------------------------- work buffer layouts
#
# Each driver carves its buffers from `work`: first what all threads share (the packed
# weights), then one equal slice per thread (its packing buffers, its tile). The sizes come
# from these functions alone, which `work_size` also reports to the caller.

cdef struct Layout:
    Py_ssize_t shared, per_thread    # values


cdef Layout _layout(int direction, const Geom* g, Py_ssize_t C_out, Py_ssize_t groups,
                    int mr, int nr) noexcept nogil:
    """Work buffer of direction 0 (forward), 1 (data gradient), 2 (weight gradient)."""
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, nc = _pixel_block(L, nr)
    cdef Layout out
    if direction == 0:
        # W packed in MR-row panels; per thread a (kc, nc) block of cols and one line of it.
        out.shared = groups * round_up(Cg, mr) * Kg
        out.per_thread = min(KC, Kg) * nc + nc
    elif direction == 1:
        # W^T packed; per thread the (C_out/G, nc) block of G and a (MC, nc) tile of dcols.
        out.shared = groups * round_up(Kg, mr) * Cg
        out.per_thread = Cg * nc + _mc(Kg, mr) * nc
    else:
        # Per thread its dW (C_out, K/G), a (C_out/G, KC) block of G and a (KC, NC) of cols^T.
        out.shared = 0
        out.per_thread = C_out * Kg + round_up(Cg, mr) * KC + KC * round_up(min(Kg, NC_MAX), nr)
    return out


cdef inline Py_ssize_t _mc(Py_ssize_t Kg, int mr) noexcept nogil:
    """Rows of the data gradient's dcols tile: MC_ROWS rounded down to MR (at least MR), at
    most K/G's."""
    return min(max(MC_ROWS // mr, 1) * mr, round_up(Kg, mr))


def work_size(int direction, geometry, Py_ssize_t threads, str dtype):
    """Values of work buffer `direction` (0 forward, 1 data, 2 weight gradient) needs."""
    cdef Geom g = geom_from(geometry, geometry.C_in)
    mr, nr = register_blocks(dtype)
    cdef Layout lay = _layout(direction, &g, geometry.C_out, geometry.groups, mr, nr)
    return lay.shared + threads * lay.per_thread


# ------------------------------------------------------------------ the three convolutions

cdef void _conv2d(const sg_isa_t* isa, const floating* x, const floating* w,
                  const floating* bias, floating* y, Py_ssize_t N, Py_ssize_t C_out,
                  Py_ssize_t groups, const Geom* g, floating* work, int threads) noexcept nogil:
    """y = conv2d(x, w) + bias: per task (image n, group q, pixel block), Y = W @ cols."""
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(0, g, C_out, groups, mr, nr)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, plane = g.H * g.W, nc = _pixel_block(L, nr)
    cdef Py_ssize_t blocks = (L + nc - 1) // nc, a_group = round_up(Cg, mr) * Kg
    cdef Py_ssize_t task, n, q, p0, count, kb, k0, kc, k, t, c, panel, pb
    cdef floating* bpack
    cdef floating* line
    cdef floating* out
    cdef const floating* image
    for q in range(groups):     # W_q (C_out/G, K/G) in MR-row panels, Kg deep
        pack(w + q * Cg * Kg, Kg, 1, Cg, Kg, mr, work + q * a_group, Kg * mr)
    with parallel(num_threads=threads):
        bpack = work + lay.shared + threadid() * lay.per_thread
        line = bpack + min(KC, Kg) * nc
        for task in prange(N * groups * blocks, schedule="dynamic"):
            n, q, p0 = task // (groups * blocks), task // blocks % groups, task % blocks * nc
            count = min(nc, L - p0)
            image = x + (n * g.C + q * Cin_g) * plane
            out = y + (n * C_out + q * Cg) * L + p0                 # y[n, q*Cg:, p0:]
            for kb in range((Kg + KC - 1) // KC):
                k0 = kb * KC
                kc = min(KC, Kg - k0)
                # Pack cols[k0:k0+kc, p0:p0+count] in NR-column panels, straight from x.
                for k in range(kc):
                    gather_row(image, g, k0 + k, p0, count, line, 1)
                    for pb in range((count + nr - 1) // nr):
                        panel = pb * nr
                        t = min(nr, count - panel)
                        memcpy(bpack + panel * kc + k * nr, line + panel, t * sizeof(floating))
                        if t < nr:
                            memset(bpack + panel * kc + k * nr + t, 0, (nr - t) * sizeof(floating))
                # Y[:, p0:p0+count] (+)= W[:, k0:k0+kc] @ cols[k0:k0+kc, p0:p0+count]
                macro_kernel(isa, Cg, count, kc, work + q * a_group + k0 * mr, Kg * mr, bpack,
                       kc * nr, out, L, k0 > 0)
            if bias != NULL:
                for c in range(Cg):
                    for t in range(count):
                        out[c * L + t] += bias[q * Cg + c]


cdef void _conv2d_backward_data(const sg_isa_t* isa, const floating* grad_y,
                                const floating* w, floating* grad_x, Py_ssize_t N,
                                Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                                floating* work, int threads) noexcept nogil:
    """grad_x = col2im(W^T @ G): per task (image n, group q), tile by tile of dcols."""
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(1, g, C_out, groups, mr, nr)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, plane = g.H * g.W, nc = _pixel_block(L, nr)
    cdef Py_ssize_t a_group = round_up(Kg, mr) * Cg, mc = _mc(Kg, mr)
    cdef Py_ssize_t task, n, q, p0, count, m0, rows, kb, k0, kc, r, pb, mb
    cdef floating* bpack
    cdef floating* tile
    cdef floating* image
    cdef const floating* gy
    for q in range(groups):     # W_q^T (K/G, C_out/G) in MR-row panels, C_out/G deep
        pack(w + q * Cg * Kg, 1, Kg, Kg, Cg, mr, work + q * a_group, Cg * mr)
    with parallel(num_threads=threads):
        bpack = work + lay.shared + threadid() * lay.per_thread
        tile = bpack + Cg * nc
        for task in prange(N * groups, schedule="dynamic"):
            n, q = task // groups, task % groups
            image = grad_x + (n * g.C + q * Cin_g) * plane
            gy = grad_y + (n * C_out + q * Cg) * L                  # G[n, q*Cg:]
            memset(image, 0, Cin_g * plane * sizeof(floating))
            for pb in range((L + nc - 1) // nc):
                p0 = pb * nc
                count = min(nc, L - p0)
                # G[:, p0:p0+count] in NR-column panels, C_out/G deep.
                pack(gy + p0, 1, L, count, Cg, nr, bpack, Cg * nr)
                for mb in range((Kg + mc - 1) // mc):
                    m0 = mb * mc
                    rows = min(mc, Kg - m0)
                    # tile = dcols[m0:m0+rows, p0:p0+count] = W^T[m0:, :] @ G[:, p0:]
                    for kb in range((Cg + KC - 1) // KC):
                        k0 = kb * KC
                        kc = min(KC, Cg - k0)
                        macro_kernel(isa, rows, count, kc, work + q * a_group + m0 * Cg + k0 * mr,
                               Cg * mr, bpack + k0 * nr, Cg * nr, tile, nc, k0 > 0)
                    for r in range(rows):
                        scatter_row(tile + r * nc, g, m0 + r, p0, count, image)


cdef void _conv2d_backward_weight(const sg_isa_t* isa, const floating* grad_y,
                                  const floating* x, floating* grad_w, Py_ssize_t N,
                                  Py_ssize_t C_out, Py_ssize_t groups, const Geom* g,
                                  floating* work, int threads) noexcept nogil:
    """dW = sum over images of G @ cols^T: per task (group q, KC of the batch's pixels)."""
    cdef int mr, nr
    register_block(isa, work, &mr, &nr)
    cdef Layout lay = _layout(2, g, C_out, groups, mr, nr)
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups, Cin_g = g.C // groups
    cdef Py_ssize_t L = g.H_out * g.W_out, plane = g.H * g.W, size = C_out * Kg
    cdef Py_ssize_t ncw = round_up(min(Kg, NC_MAX), nr), chunks = (N * L + KC - 1) // KC
    cdef Py_ssize_t task, q, first, kc, k, n, p, seg, j0, jb, cols, r, i, th
    cdef floating* dw
    cdef floating* apack
    cdef floating* bpack
    cdef floating total
    memset(work, 0, threads * lay.per_thread * sizeof(floating))
    with parallel(num_threads=threads):
        dw = work + threadid() * lay.per_thread                    # this thread's dW
        apack = dw + size
        bpack = apack + round_up(Cg, mr) * KC
        for task in prange(groups * chunks, schedule="static"):
            q, first = task // chunks, task % chunks * KC            # pixels [first, +kc)
            kc = min(KC, N * L - first)
            # A: G[:, q*Cg:, pixels] in MR-row panels, one segment per image crossed.
            k = 0
            while k < kc:
                n, p = (first + k) // L, (first + k) % L
                seg = min(kc - k, L - p)
                pack(grad_y + (n * C_out + q * Cg) * L + p, L, 1, Cg, seg, mr,
                      apack + k * mr, kc * mr)
                k = k + seg      # (not +=: in a prange body that would be a reduction)
            for jb in range((Kg + ncw - 1) // ncw):
                j0 = jb * ncw
                cols = min(ncw, Kg - j0)
                # B: cols^T[pixels, j0:j0+cols] in NR-column panels, from x directly.
                for r in range(round_up(cols, nr)):
                    k = 0
                    while k < kc:
                        n, p = (first + k) // L, (first + k) % L
                        seg = min(kc - k, L - p)
                        if r < cols:
                            gather_row(x + (n * g.C + q * Cin_g) * plane, g, j0 + r, p, seg,
                                        bpack + r // nr * kc * nr + k * nr + r % nr, nr)
                        else:
                            for i in range(seg):
                                bpack[r // nr * kc * nr + (k + i) * nr + r % nr] = 0
                        k = k + seg
                # dW_q[:, j0:j0+cols] += G[:, pixels] @ cols^T[pixels, j0:j0+cols]
                macro_kernel(isa, Cg, cols, kc, apack, kc * mr, bpack, kc * nr,
                       dw + q * Cg * Kg + j0, Kg, True)
    # grad_w = the threads' dW added up, in thread order
    for i in prange(size, num_threads=threads, schedule="static"):
        total = 0
        for th in range(threads):
            total = total + work[th * lay.per_thread + i]
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
