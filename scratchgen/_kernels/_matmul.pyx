"""Row-major matrix products on scratchgen's own packed micro-kernel (BLIS style).

The same GEMM as the conv kernels' (``_packed.pxd``, ``sg_microkernel.h``), for plain
matrices: C (m, n) = op(A) @ op(B). op(X) is X or X^T; a transposed operand costs nothing,
as the packing routine reads it through strides. The NumPy twin is ``numpy.matmul``.

Why a second GEMM next to SciPy's BLAS (``_blas.pyx``): BLAS runs its own thread pool, and in
a training step its products alternate with the OpenMP loops of the conv and pooling kernels;
the idle threads of one pool spin on the cores the other needs. Products small enough that
this hand-over costs more than BLAS's faster large-matrix code saves run here, on the one
OpenMP pool (``scratchgen.backend.cython_backend`` chooses, by size).

Loops: ONE OpenMP loop over column blocks of C (of equal width, at most NC; or over (MC,
width) tiles when there are fewer column blocks than threads). A task packs its (KC, width)
block of B once per KC and walks the MC-row blocks of A under it, each packed into the
thread's own buffer.

The caller guarantees C-contiguous, non-empty operands of one dtype with matching shapes,
a work buffer of ``work_size(...)`` values and ``threads`` at least OpenMP's thread count.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid

from ._packed cimport macro_kernel, pack, register_block, round_up, sg_isa_named, sg_isa_t

cdef enum:
    KC = 256        # most depth of a packed block (k is split into equal blocks up to this)
    MC = 132        # rows of A per tile (a multiple of every MR: 4, 6, 12; a batch of 128
                    # is one tile)
    NC = 256        # columns of B per tile (a multiple of every NR: 8, 16, 32)
    SHARED_A_MAX = 1048576   # most values of op(A) packed once for all tasks (4 MB of float32)

cdef const sg_isa_t* _isa = sg_isa_named(b"generic")


def set_isa(str name):
    """Run the micro-kernels of ISA `name` from now on (as _conv.set_isa)."""
    global _isa
    _isa = sg_isa_named(name.encode())




def work_size(Py_ssize_t threads, Py_ssize_t m=0, Py_ssize_t k=0):
    """Values of work buffer `gemm` needs for an (m, k) op(A): per thread an (MC, KC) and a
    (KC, NC) block, and room for all of op(A) packed, up to SHARED_A_MAX values (12 is the
    largest MR)."""
    return threads * (MC + NC) * KC + min(round_up(m, 12) * k, <Py_ssize_t> SHARED_A_MAX)


cdef void _gemm(const sg_isa_t* isa, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                const floating* a, Py_ssize_t a_rs, Py_ssize_t a_cs, const floating* b,
                Py_ssize_t b_rs, Py_ssize_t b_cs, floating* c, floating* work,
                int threads) noexcept nogil:
    """C (m, n) = A @ B, element (i, p) of A at a[i * a_rs + p * a_cs], (p, j) of B at
    b[p * b_rs + j * b_cs]."""
    cdef int mr, nr
    register_block(isa, c, &mr, &nr)
    # Column blocks of equal width (whole NR panels, at most NC), at least one per thread
    # where n allows: 400 columns on 2 threads are 208 + 192, not 256 + 144.
    cdef Py_ssize_t col_tiles = max((n + NC - 1) // NC, min(threads, (n + nr - 1) // nr))
    cdef Py_ssize_t width = round_up((n + col_tiles - 1) // col_tiles, nr)
    col_tiles = (n + width - 1) // width
    cdef Py_ssize_t row_tiles = (m + MC - 1) // MC
    # Tasks of whole columns of C, unless that leaves threads idle.
    cdef Py_ssize_t rows_per_task = row_tiles if col_tiles >= threads else 1
    cdef Py_ssize_t tasks = col_tiles * (row_tiles // rows_per_task)
    # k in equal blocks of at most KC (784 = 4 x 196, not 3 x 256 + 16)
    cdef Py_ssize_t k_blocks = (k + KC - 1) // KC, k_step = (k + k_blocks - 1) // k_blocks
    cdef Py_ssize_t task, it, i0, j0, rows, cols, kb, k0, kc, piece, panel
    cdef Py_ssize_t m_pad = round_up(m, mr), a_panels = m_pad // mr
    cdef floating* apack
    cdef floating* bpack
    cdef floating* panels
    # op(A) is packed once, its panels shared out among the threads, into `shared`, which
    # every task then reads (else each task would pack all of it again for its own columns:
    # both threads all 128 x 784 values of a linear layer's input), when it fits.
    cdef floating* shared = work + threads * (MC + NC) * KC
    cdef bint one_tile = m_pad * k <= SHARED_A_MAX
    with parallel(num_threads=threads):
        apack = work + threadid() * (MC + NC) * KC
        bpack = apack + MC * KC
        if one_tile:
            for piece in prange(k_blocks * a_panels, schedule="static"):
                kb, panel = piece // a_panels, piece % a_panels
                k0 = kb * k_step
                kc = min(k_step, k - k0)
                pack(isa, a + panel * mr * a_rs + k0 * a_cs, a_rs, a_cs,
                     min(mr, m - panel * mr), kc, mr, shared + k0 * m_pad + panel * kc * mr,
                     kc * mr)
        for task in prange(tasks, schedule="dynamic"):
            j0 = task % col_tiles * width
            cols = min(width, n - j0)
            for kb in range(k_blocks):
                k0 = kb * k_step
                kc = min(k_step, k - k0)
                # B[k0:k0+kc, j0:j0+cols] in NR-column panels (B's columns are the packed
                # rows, its k the depth).
                pack(isa, b + k0 * b_rs + j0 * b_cs, b_cs, b_rs, cols, kc, nr, bpack, kc * nr)
                for it in range(rows_per_task):
                    i0 = (task // col_tiles * rows_per_task + it) * MC
                    rows = min(MC, m - i0)
                    if one_tile:      # (its panels for rows i0.. start at i0 * kc)
                        panels = shared + k0 * m_pad + i0 * kc
                    else:             # A[i0:i0+rows, k0:k0+kc] in MR-row panels
                        pack(isa, a + i0 * a_rs + k0 * a_cs, a_rs, a_cs, rows, kc, mr, apack,
                             kc * mr)
                        panels = apack
                    # C[i0:, j0:] (+)= A[i0:, k0:k0+kc] @ B[k0:k0+kc, j0:]
                    macro_kernel(isa, rows, cols, kc, panels, kc * mr, bpack, kc * nr,
                                 c + i0 * n + j0, n, k0 > 0)


def gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
         bint trans_a, bint trans_b, int threads, floating[::1] work):
    """C = op(A) @ op(B), overwriting c (m, n); a is (m, k), or (k, m) when `trans_a`; b is
    (k, n), or (n, k) when `trans_b`. `work`: at least work_size(threads, k) values."""
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1], k = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t lda = a.shape[1], ldb = b.shape[1]
    cdef const sg_isa_t* isa = _isa
    with nogil:
        # op(A)[i, p] is a[i, p] (strides lda, 1) or a[p, i] (1, lda); likewise for B.
        _gemm(isa, m, n, k, &a[0, 0], 1 if trans_a else lda, lda if trans_a else 1,
              &b[0, 0], 1 if trans_b else ldb, ldb if trans_b else 1, &c[0, 0], &work[0],
              threads)


# ------------------------------------------------------------------------- thin products

cdef void _thin(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const floating* a, Py_ssize_t a_rs,
                Py_ssize_t a_cs, const floating* b, Py_ssize_t b_rs, Py_ssize_t b_cs,
                floating* c) noexcept nogil:
    """C (m, n) = A @ B (strides as in `_gemm`) by plain loops, the innermost along memory
    that is contiguous, for the layout at hand:

    * B's rows contiguous (b_cs == 1, n > 1): each row of C is a sum of rows of B,
      C[i, :] += A[i, p] B[p, :] (an outer product, a layer's input gradient to one output);
    * A's columns contiguous (a_rs == 1): each column of C a sum of columns of A,
      C[:, j] += B[p, j] A[:, p] (a weight gradient of a layer to one output);
    * otherwise dot products along p, in 8 partial sums the compiler keeps in one vector
      (a matrix times a vector).
    """
    cdef Py_ssize_t i, j, p, q
    cdef floating s
    cdef floating part[8]
    cdef floating* row
    cdef const floating* src
    if b_cs == 1 and n > 1:
        for i in range(m):
            row = c + i * n
            for j in range(n):
                row[j] = 0
            for p in range(k):
                s = a[i * a_rs + p * a_cs]
                src = b + p * b_rs
                for j in range(n):
                    row[j] += s * src[j]
    elif a_rs == 1:
        for i in range(m * n):
            c[i] = 0
        for j in range(n):
            for p in range(k):
                s = b[p * b_rs + j * b_cs]
                src = a + p * a_cs
                if n == 1:          # (a contiguous column of C: the loop vectorizes)
                    for i in range(m):
                        c[i] += s * src[i]
                else:
                    for i in range(m):
                        c[i * n + j] += s * src[i]
    else:
        for i in range(m):
            for j in range(n):
                for q in range(8):
                    part[q] = 0
                p = 0
                if a_cs == 1 and b_rs == 1:     # (both contiguous along p: vectorizes)
                    row, src = <floating*> (a + i * a_rs), b + j * b_cs
                    while p + 8 <= k:
                        for q in range(8):
                            part[q] += row[p + q] * src[p + q]
                        p += 8
                while p + 8 <= k:
                    for q in range(8):
                        part[q] += a[i * a_rs + (p + q) * a_cs] * b[(p + q) * b_rs + j * b_cs]
                    p += 8
                s = ((part[0] + part[1]) + (part[2] + part[3])) + (
                    (part[4] + part[5]) + (part[6] + part[7]))
                while p < k:
                    s += a[i * a_rs + p * a_cs] * b[p * b_rs + j * b_cs]
                    p += 1
                c[i * n + j] = s


def thin_gemm(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
              bint trans_a, bint trans_b):
    """C = op(A) @ op(B) as `gemm`, on the calling thread, without packing: for products
    with a side too thin for the micro-kernel's panels (below MR or NR), which would be
    mostly padding there."""
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1], k = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t lda = a.shape[1], ldb = b.shape[1]
    with nogil:
        _thin(m, n, k, &a[0, 0], 1 if trans_a else lda, lda if trans_a else 1,
              &b[0, 0], 1 if trans_b else ldb, ldb if trans_b else 1, &c[0, 0])
