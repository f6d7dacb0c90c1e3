/* The GEMM micro-kernels of the packed convolutions (_conv.pyx) and products (_matmul.pyx):
 * the only ISA-specific code.
 *
 * A micro-kernel multiplies one packed MR-row panel of A by one packed NR-column panel of B,
 * kc deep, and adds the (MR, NR) result into C (or stores it):
 *
 *     C[i, j] (+)= sum_p a[p * MR + i] * b[p * NR + j]        0 <= i < MR, 0 <= j < NR
 *
 * Both panels are laid out in the order they are read (the packing routines of _packed.pxd
 * and _conv.pyx put them there), so the loop over p streams through memory: per step one
 * column of A (MR scalars, each broadcast) and one row of B (NR values, NR / VLEN vectors),
 * MR * NR / VLEN fused multiply-adds into accumulators that stay in registers the whole
 * time. This is the BLIS design ("the micro-kernel is the only part written per
 * architecture"); the loops around the micro-kernel, the packing and the threads live in
 * _packed.pxd, _conv.pyx and _matmul.pyx.
 *
 * Three instruction sets, one source: each kernel below is the same C, written with GCC /
 * clang vector extensions and compiled for its ISA through a target attribute, so one build
 * contains all of them and the choice is made at run time (sg_select_isa):
 *
 *     avx512   AVX-512F, 16 floats / 8 doubles per vector   float 12 x 32, double 12 x 16
 *     avx2     AVX2 + FMA, 8 floats / 4 doubles             float  6 x 16, double  6 x  8
 *     generic  plain C loops (the compiler vectorises them   float  4 x  8, double  4 x  8
 *              for the baseline ISA); every machine runs it
 *
 * The register budget fixes MR x NR: avx2 has 16 vector registers, 6 x 2 accumulators + 2 B
 * vectors + 1 broadcast = 15; avx512 has 32, 12 x 2 + 2 + 1 = 27.
 */
#ifndef SG_MICROKERNEL_H
#define SG_MICROKERNEL_H

#include <stddef.h>
#include <string.h>

typedef void (*sg_ukernel_s_t)(ptrdiff_t kc, const float *a, const float *b, float *c,
                               ptrdiff_t ldc, int accumulate);
typedef void (*sg_ukernel_d_t)(ptrdiff_t kc, const double *a, const double *b, double *c,
                               ptrdiff_t ldc, int accumulate);
typedef void (*sg_pack_rows_s_t)(const float *src, ptrdiff_t rs, ptrdiff_t depth, int r,
                                 float *out);

/* One ISA's kernels and their register blocks, for float (s) and double (d). */
typedef struct {
    const char *name;
    int mr_s, nr_s, mr_d, nr_d;
    sg_ukernel_s_t ukernel_s;
    sg_ukernel_d_t ukernel_d;
    sg_pack_rows_s_t pack_rows_s;
} sg_isa_t;

/* The plain C kernel: the same loops as the vector ones, scalar accumulators. */
#define SG_GENERIC_UKERNEL(NAME, T, MR, NR)                                                  \
static void NAME(ptrdiff_t kc, const T *restrict a, const T *restrict b, T *restrict c,      \
                 ptrdiff_t ldc, int accumulate) {                                            \
    T acc[MR][NR];                                                                           \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++) acc[i][j] = 0;                                          \
    for (ptrdiff_t p = 0; p < kc; p++)                                                       \
        for (int i = 0; i < MR; i++)                                                         \
            for (int j = 0; j < NR; j++) acc[i][j] += a[p * MR + i] * b[p * NR + j];        \
    for (int i = 0; i < MR; i++)                                                             \
        for (int j = 0; j < NR; j++)                                                         \
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];            \
}

SG_GENERIC_UKERNEL(sg_ukernel_generic_s, float, 4, 8)
SG_GENERIC_UKERNEL(sg_ukernel_generic_d, double, 4, 8)

/* Packing a panel whose r rows are each contiguous along k (row i at src + i * rs) is a
 * transpose: out[k * r + i] = src[i * rs + k]. A row-major A, and B^T for x @ W^T, are packed
 * so. Element by element it costs about a nanosecond a value, as much as the micro-kernel
 * spends on a 128 x 784 x 400 product's panels; the vector version below moves 8 x 8 blocks
 * through registers. The plain version: */
static void sg_pack_rows_generic_s(const float *restrict src, ptrdiff_t rs, ptrdiff_t depth,
                                   int r, float *restrict out) {
    for (ptrdiff_t k = 0; k < depth; k++)
        for (int i = 0; i < r; i++) out[k * r + i] = src[i * rs + k];
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SG_HAVE_X86_KERNELS 1

/* A vector kernel: NV vectors of VLEN values make the NR = NV * VLEN columns. Loads and
 * stores go through memcpy (no alignment assumed; compilers emit one unaligned vector move).
 * `acc += av * bv` becomes a fused multiply-add (GCC and clang contract it by default outside
 * strict ISO mode; setup.py passes -ffp-contract=fast to make sure). */
#define SG_VECTOR_UKERNEL(NAME, TARGET, T, VLEN, MR, NV)                                     \
typedef T NAME##_v __attribute__((vector_size(VLEN * sizeof(T))));                          \
__attribute__((target(TARGET))) static void                                                  \
NAME(ptrdiff_t kc, const T *restrict a, const T *restrict b, T *restrict c, ptrdiff_t ldc,  \
     int accumulate) {                                                                       \
    NAME##_v acc[MR][NV], bv[NV], av, cv;                                                    \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                    \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] = (NAME##_v){0};      \
    _Pragma("GCC unroll 4") for (ptrdiff_t p = 0; p < kc; p++) {                            \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                 \
            memcpy(&bv[v], b + p * (NV * VLEN) + v * VLEN, sizeof(bv[v]));                   \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                              \
            av = a[p * MR + i] - (NAME##_v){0};   /* broadcast; x - 0 is x, even -0 */   \
            _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] += av * bv[v];   \
        }                                                                                    \
    }                                                                                        \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                    \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                               \
            T *dst = c + i * ldc + v * VLEN;                                                 \
            if (accumulate) {                                                                \
                memcpy(&cv, dst, sizeof(cv));                                                \
                acc[i][v] += cv;                                                             \
            }                                                                                \
            memcpy(dst, &acc[i][v], sizeof(cv));                                             \
        }                                                                                    \
}

SG_VECTOR_UKERNEL(sg_ukernel_avx2_s, "avx2,fma", float, 8, 6, 2)
SG_VECTOR_UKERNEL(sg_ukernel_avx2_d, "avx2,fma", double, 4, 6, 2)
SG_VECTOR_UKERNEL(sg_ukernel_avx512_s, "avx512f,fma", float, 16, 12, 2)
SG_VECTOR_UKERNEL(sg_ukernel_avx512_d, "avx512f,fma", double, 8, 12, 2)

#include <immintrin.h>

/* v[0..7] (8 rows of 8) := their transpose, in three rounds of shuffles: pairs of rows
 * interleaved, then pairs of pairs, then the 128-bit halves swapped. */
__attribute__((target("avx2"))) static inline void sg_transpose8_avx2(__m256 v[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The transposing pack, 8 rows by 8 values of k at a time. A block of fewer than 8 rows
 * (r = 6 or 12: an MR) loads its last row again in the missing places and stores only its
 * own lanes. (avx512 machines run it too: they all have AVX2.) */
__attribute__((target("avx2"))) static void
sg_pack_rows_avx2_s(const float *restrict src, ptrdiff_t rs, ptrdiff_t depth, int r,
                    float *restrict out) {
    for (int i0 = 0; i0 < r; i0 += 8) {
        int rows = r - i0 < 8 ? r - i0 : 8;
        const float *row[8];
        for (int i = 0; i < 8; i++) row[i] = src + (i0 + (i < rows ? i : rows - 1)) * rs;
        ptrdiff_t k = 0;
        for (; k + 8 <= depth; k += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(row[i] + k);
            sg_transpose8_avx2(v);       /* v[j]: the rows' values of k + j */
            for (int j = 0; j < 8; j++) {
                float *dst = out + (k + j) * r + i0;
                if (rows == 8) {
                    _mm256_storeu_ps(dst, v[j]);
                } else if (rows >= 4) {
                    float high[4];
                    _mm_storeu_ps(dst, _mm256_castps256_ps128(v[j]));
                    _mm_storeu_ps(high, _mm256_extractf128_ps(v[j], 1));
                    for (int i = 4; i < rows; i++) dst[i] = high[i - 4];
                } else {
                    float all[8];
                    _mm256_storeu_ps(all, v[j]);
                    for (int i = 0; i < rows; i++) dst[i] = all[i];
                }
            }
        }
        for (; k < depth; k++)
            for (int i = 0; i < rows; i++) out[k * r + i0 + i] = row[i][k];
    }
}
#else
#define SG_HAVE_X86_KERNELS 0
#endif

static const sg_isa_t SG_ISA_GENERIC = {"generic", 4, 8, 4, 8,
                                        sg_ukernel_generic_s, sg_ukernel_generic_d,
                                        sg_pack_rows_generic_s};
#if SG_HAVE_X86_KERNELS
static const sg_isa_t SG_ISA_AVX2 = {"avx2", 6, 16, 6, 8,
                                     sg_ukernel_avx2_s, sg_ukernel_avx2_d,
                                     sg_pack_rows_avx2_s};
static const sg_isa_t SG_ISA_AVX512 = {"avx512", 12, 32, 12, 16,
                                       sg_ukernel_avx512_s, sg_ukernel_avx512_d,
                                       sg_pack_rows_avx2_s};
#endif

/* The largest MR * NR of any ISA (the size of an edge tile, see _packed.pxd) and NR. */
#define SG_MAX_TILE 384
#define SG_MAX_NR 32

/* Whether this CPU (and its operating system, which must save the wider registers) runs
 * the ISA called `name`: "generic", "avx2" or "avx512". */
static int sg_isa_supported(const char *name) {
    if (strcmp(name, "generic") == 0) return 1;
#if SG_HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    return 0;
}

/* The ISA called `name`, or NULL if this build has none of that name. */
static const sg_isa_t *sg_isa_named(const char *name) {
    if (strcmp(name, "generic") == 0) return &SG_ISA_GENERIC;
#if SG_HAVE_X86_KERNELS
    if (strcmp(name, "avx2") == 0) return &SG_ISA_AVX2;
    if (strcmp(name, "avx512") == 0) return &SG_ISA_AVX512;
#endif
    return NULL;
}

#endif
