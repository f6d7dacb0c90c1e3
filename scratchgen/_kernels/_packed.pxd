# The packed GEMM of the conv kernels (_conv.pyx), BLIS style: the micro-kernels of
# sg_microkernel.h (the only ISA-specific code), the packing of a matrix into the panels they
# read, and the loop over panels around them (`macro_kernel`).
#
# Panels: A (m, k) is packed in panels of MR rows, each k deep with its MR values of one k
# side by side (panel[k * MR + i]); B (k, n) in panels of NR columns (panel[k * NR + j]).
# Rows or columns past the matrix's edge are zeros. A micro-kernel call then streams one A
# panel and one B panel and adds their (MR, NR) product into C in registers.
from cython cimport floating
from libc.stddef cimport ptrdiff_t

cdef extern from "sg_microkernel.h" nogil:
    ctypedef void (*sg_ukernel_s_t)(ptrdiff_t, const float*, const float*, float*, ptrdiff_t,
                                    int) noexcept nogil
    ctypedef void (*sg_ukernel_d_t)(ptrdiff_t, const double*, const double*, double*,
                                    ptrdiff_t, int) noexcept nogil
    ctypedef void (*sg_pack_rows_s_t)(const float*, ptrdiff_t, ptrdiff_t, int,
                                      float*) noexcept nogil
    ctypedef struct sg_isa_t:
        const char* name
        int mr_s, nr_s, mr_d, nr_d
        sg_ukernel_s_t ukernel_s
        sg_ukernel_d_t ukernel_d
        sg_pack_rows_s_t pack_rows_s
    int sg_isa_supported(const char* name)
    const sg_isa_t* sg_isa_named(const char* name)
    enum: SG_MAX_TILE
    enum: SG_MAX_NR


cdef inline void register_block(const sg_isa_t* isa, floating* dtype_of, int* mr,
                                int* nr) noexcept nogil:
    """The register block (MR, NR) of `isa`'s micro-kernel for the dtype of `dtype_of`."""
    if floating is float:
        mr[0], nr[0] = isa.mr_s, isa.nr_s
    else:
        mr[0], nr[0] = isa.mr_d, isa.nr_d


cdef inline Py_ssize_t round_up(Py_ssize_t n, Py_ssize_t step) noexcept nogil:
    """n rounded up to a multiple of step."""
    return (n + step - 1) // step * step


cdef inline void micro_kernel(const sg_isa_t* isa, Py_ssize_t kc, const floating* a,
                              const floating* b, floating* c, Py_ssize_t ldc,
                              bint accumulate) noexcept nogil:
    """C (MR, NR), rows `ldc` apart, (+)= one A panel @ one B panel, kc deep."""
    if floating is float:
        isa.ukernel_s(kc, a, b, c, ldc, accumulate)
    else:
        isa.ukernel_d(kc, a, b, c, ldc, accumulate)


cdef inline void macro_kernel(const sg_isa_t* isa, Py_ssize_t m, Py_ssize_t n, Py_ssize_t kc,
                              const floating* a, Py_ssize_t a_stride, const floating* b,
                              Py_ssize_t b_stride, floating* c, Py_ssize_t ldc,
                              bint accumulate) noexcept nogil:
    """C (m, n) (+)= A (m, kc) @ B (kc, n), A packed in MR-row panels `a_stride` values apart,
    B in NR-column panels `b_stride` apart (padding rows and columns hold zeros).

    Full MR x NR blocks go straight to C; blocks at the edges are computed into a small tile
    and only their valid part is copied.
    """
    cdef int mr, nr
    register_block(isa, c, &mr, &nr)
    cdef double edge_store[SG_MAX_TILE]
    cdef floating* edge = <floating*> edge_store
    cdef Py_ssize_t ip, jp, ib, jb, i, j, rows, cols
    cdef floating* dst
    cdef const floating* b_panel
    for jb in range((n + nr - 1) // nr):
        jp = jb * nr
        cols = min(nr, n - jp)
        b_panel = b + jp // nr * b_stride
        for ib in range((m + mr - 1) // mr):
            ip = ib * mr
            rows = min(mr, m - ip)
            dst = c + ip * ldc + jp
            if rows == mr and cols == nr:
                micro_kernel(isa, kc, a + ip // mr * a_stride, b_panel, dst, ldc, accumulate)
                continue
            micro_kernel(isa, kc, a + ip // mr * a_stride, b_panel, edge, nr, False)
            for i in range(rows):
                for j in range(cols):
                    if accumulate:
                        dst[i * ldc + j] += edge[i * nr + j]
                    else:
                        dst[i * ldc + j] = edge[i * nr + j]


cdef inline void pack(const sg_isa_t* isa, const floating* src, Py_ssize_t rs, Py_ssize_t cs,
                      Py_ssize_t rows, Py_ssize_t depth, int r, floating* dst,
                      Py_ssize_t panel_stride) noexcept nogil:
    """Pack a (rows, depth) matrix, element (i, k) at src[i * rs + k * cs], into panels of r
    rows: dst[panel * panel_stride + k * r + i'] holds row panel * r + i' (0 past `rows`).

    Panel by panel, k by k, the r values of one k written side by side. Two layouts get a
    loop of their own, since the general one's index arithmetic keeps the compiler from
    vectorizing: when the matrix's values of one k are adjacent in memory (rs == 1, as for
    the column panels of a row-major B) it is read line by line; a full panel whose
    rows are contiguous (cs == 1) is a transpose, done for float32 by `isa`'s vector code
    (sg_microkernel.h), for float64 through one pointer per row, so the compiler keeps the r
    read streams in registers instead of recomputing (base + i) * rs + k * cs.
    """
    cdef Py_ssize_t panel, i, k, base, valid
    cdef floating* out
    cdef const floating* row[SG_MAX_NR]
    cdef const floating* line
    if rs == 1:
        # Line k of the matrix is contiguous: read it once, front to back (a stride the
        # hardware prefetcher follows), handing r values to each panel. (A loop, not memcpy:
        # for a few dozen bytes the call costs more than the copy.)
        for k in range(depth):
            line = src + k * cs
            for panel in range((rows + r - 1) // r):
                base = panel * r
                valid = min(r, rows - base)
                out = dst + panel * panel_stride + k * r
                for i in range(valid):
                    out[i] = line[base + i]
                for i in range(valid, r):
                    out[i] = 0
        return
    for panel in range((rows + r - 1) // r):
        base = panel * r
        valid = min(r, rows - base)
        out = dst + panel * panel_stride
        if cs == 1 and valid == r and r <= SG_MAX_NR:
            if floating is float:
                isa.pack_rows_s(src + base * rs, rs, depth, r, out)
            else:
                for i in range(r):
                    row[i] = src + (base + i) * rs
                for k in range(depth):
                    for i in range(r):
                        out[k * r + i] = row[i][k]
            continue
        for k in range(depth):
            for i in range(valid):
                out[k * r + i] = src[(base + i) * rs + k * cs]
            for i in range(valid, r):
                out[k * r + i] = 0
