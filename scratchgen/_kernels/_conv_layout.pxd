# How the conv kernels (_conv.pyx) cut their work: the sizes of their tasks and of the work
# buffer each carves into shared and per-thread parts. Integer arithmetic only, kept apart
# from the kernels that follow it.
from ._packed cimport SG_MAX_NR, round_up
from ._im2col cimport Frame, frame_is_plane, frame_of
from ._window cimport Geom


cdef struct Blocks:
    # The cache blocks (_conv.set_blocks changes them; the tests shrink them so that every
    # edge is crossed): depth of a packed block, most output pixels per task of the forward
    # and the data gradient, rows of the data gradient's dcols tile (rounded down to MR).
    Py_ssize_t kc, nc_max, mc_rows


cdef inline Py_ssize_t pixel_block(const Blocks* b, Py_ssize_t L, int nr) noexcept nogil:
    """Pixels per block: L split evenly into blocks of at most about nc_max, rounded up to
    whole NR panels."""
    cdef Py_ssize_t blocks = (L + b.nc_max - 1) // b.nc_max
    return min(round_up((L + blocks - 1) // blocks, nr), round_up(L, nr))


cdef inline Py_ssize_t balanced(Py_ssize_t total, Py_ssize_t most, Py_ssize_t step,
                                Py_ssize_t groups, int threads) noexcept nogil:
    """Size of the pieces `total` is cut into: at most about `most`, a multiple of `step`,
    and as many pieces (times the groups) as a multiple of the threads where `total`
    allows, so that no thread is left with one piece more than the others. (3136 pixels
    in blocks of up to 256 are 14 blocks of 224 on two threads, not 12 of 256 and one of
    64: 7 blocks each, not 7 and 6.)"""
    cdef Py_ssize_t pieces = (total + most - 1) // most
    while (groups * pieces) % threads != 0 and pieces * step < total:
        pieces += 1
    return round_up((total + pieces - 1) // pieces, step)


cdef inline Py_ssize_t images_per_task(const Blocks* b, Py_ssize_t N, Py_ssize_t L,
                                       Py_ssize_t groups, int nr,
                                       int threads) noexcept nogil:
    """Images per task of the data gradient, whose tasks own whole images (windows overlap
    across pixel blocks): small outputs (a 7x7 image has L = 49 pixels, 3 panels of 16 and
    one of 1) are joined into runs of up to nc_max pixels that run across images, so that
    few panels are partial. Of those run lengths, the one whose busiest thread computes the
    fewest pixels, partial panels counted in full (64 images of 7x7 on two threads: runs of
    4, 8 per thread of 208 pixels, not runs of 5, 7 and 6 of 256)."""
    cdef Py_ssize_t images, tasks, cost, best = 1, best_cost = -1
    if L >= b.nc_max:
        return 1
    for images in range(1, min(N, b.nc_max // L) + 1):
        tasks = groups * ((N + images - 1) // images)
        cost = (tasks + threads - 1) // threads * round_up(images * L, nr)
        if best_cost < 0 or cost <= best_cost:
            best, best_cost = images, cost
    return best


cdef inline Py_ssize_t dcols_rows(const Blocks* b, Py_ssize_t Kg, int mr) noexcept nogil:
    """Rows of the data gradient's dcols tile: mc_rows rounded down to MR (at least MR), at
    most K/G's."""
    return min(max(b.mc_rows // mr, 1) * mr, round_up(Kg, mr))


# --------------------------------------------------------------- work buffer layouts
#
# Each driver carves its buffers from `work`: first what all threads share (the packed
# weights), then one equal slice per thread (its packing buffers, its tile). The sizes come
# from `work_layout` alone, which `work_size` also reports to the caller.

cdef struct Layout:
    Py_ssize_t shared, per_thread    # values
    Py_ssize_t images, nc            # images per task, pixels per block (forward and data)
    Py_ssize_t ncw, depth            # weight gradient: columns of dW per block, pixels summed
    bint by_columns                  # per chunk, and whether its tasks split dW's columns


cdef inline Layout work_layout(const Blocks* b, int direction, const Geom* g, Py_ssize_t N,
                               Py_ssize_t C_out, Py_ssize_t groups, int mr, int nr,
                               int threads) noexcept nogil:
    """Work buffer of direction 0 (forward), 1 (data gradient), 2 (weight gradient)."""
    cdef Py_ssize_t Kg = g.C * g.KH * g.KW // groups, Cg = C_out // groups
    cdef Py_ssize_t L = g.H_out * g.W_out
    cdef Layout out
    cdef Frame fr
    out.images = out.nc = out.ncw = out.depth = 0   # (each direction sets its own)
    out.by_columns = False
    if direction == 0:
        # The forward's blocks run over the whole batch's pixels.
        out.images = N
        out.nc = balanced(N * L, b.nc_max, nr, groups, threads)
        # W packed in MR-row panels and the input's frames (unless it is read in place); per
        # thread the pixel offsets of a block (2 values hold a Py_ssize_t), a (kc, nc) block
        # of cols and a (C_out/G, nc) tile of Y (for blocks that run across images).
        fr = frame_of(g)
        out.shared = round_up(groups * round_up(Cg, mr) * Kg, 16)
        if not frame_is_plane(g, &fr):
            out.shared += round_up(N * fr.image, 16)
        out.per_thread = round_up((2 + min(b.kc, Kg) + Cg) * out.nc, 16)
    elif direction == 1:
        out.images = images_per_task(b, N, L, groups, nr, threads)
        out.nc = pixel_block(b, out.images * L, nr)
        # W^T packed; per thread a (C_out/G, nc) block of G, the same packed, and a (MC, nc)
        # tile of dcols.
        out.shared = groups * round_up(Kg, mr) * Cg
        out.per_thread = (2 * Cg + dcols_rows(b, Kg, mr)) * out.nc
    else:
        # Per thread a (C_out/G, kc) block of G and a (kc, ncw) of cols^T; split by pixels,
        # also its own dW (C_out, K/G).
        out.ncw = balanced(Kg, b.nc_max, nr, groups, threads)
        out.depth = balanced(N * L, b.kc, 1, groups, threads)
        out.by_columns = groups * ((Kg + out.ncw - 1) // out.ncw) % threads == 0
        # The input's frames (unless it is read in place); per thread the pixel offsets of a
        # chunk and the tap offsets of a panel (2 values hold a Py_ssize_t), a block of G
        # packed, one of cols^T, and for the split by pixels its own dW.
        fr = frame_of(g)
        out.shared = 0 if frame_is_plane(g, &fr) else round_up(N * fr.image, 16)
        out.per_thread = 2 * (b.kc + SG_MAX_NR) + round_up(Cg, mr) * b.kc + b.kc * out.ncw
        if not out.by_columns:
            out.per_thread += C_out * Kg
        out.per_thread = round_up(out.per_thread, 16)
    return out
