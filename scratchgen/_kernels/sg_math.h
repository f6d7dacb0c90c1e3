/* Elementwise math for the fused activation and loss kernels (_activation.pyx), written so
 * that a loop over an array of floats vectorizes: no calls, no branches, only arithmetic,
 * selects and integer bit moves.
 *
 * libm's expf and log1pf are calls the compiler cannot vectorize (NumPy's float32 log1p is
 * scalar too, 7.5 ns a value here), and binary cross entropy on logits needs both for every
 * value. The float versions below are accurate to a few units in the last place over the
 * ranges they are used on; the double versions are libm's.
 *
 *   sg_exp_nonpos_f(x)   e^x for x <= 0 (and NaN): e^x = 2^n e^r with n = round(x / ln 2),
 *                        r = x - n ln 2 in [-ln2 / 2, ln2 / 2] (ln 2 split in two parts
 *                        so that n ln 2 is exact), e^r by its Taylor series to r^7 (error
 *                        below 1e-8 relative), 2^n by writing n into a float's exponent.
 *                        Below x = -87 (e^x = 1.6e-38, near float's smallest normal) the
 *                        result is 0.
 *   sg_log1p_unit_f(e)   log(1 + e) for e in [0, 1]: with s = e / (2 + e) in [0, 1/3],
 *                        log(1 + e) = 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...), to s^16
 *                        (error below 1e-8 relative). No 1 + e is ever rounded, so a tiny
 *                        e keeps all its digits (log1p(e) = e to first order).
 */
#ifndef SG_MATH_H
#define SG_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float sg_exp_nonpos_f(float x) {
    const float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;
    const float round = 12582912.0f;            /* 1.5 * 2^23: adding it rounds to an int */
    float below = x < -87.0f ? 0.0f : 1.0f;     /* e^x under float's smallest normal: 0 */
    x = x < -87.0f ? -87.0f : x;
    float t = x * log2e + round;
    float n = t - round;                        /* round(x / ln 2), in [-126, 0] */
    float r = (x - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f + r * (1.0f / 7.0f);
    p = 1.0f + r * (1.0f / 6.0f) * p;
    p = 1.0f + r * (1.0f / 5.0f) * p;
    p = 1.0f + r * (1.0f / 4.0f) * p;
    p = 1.0f + r * (1.0f / 3.0f) * p;
    p = 1.0f + r * (1.0f / 2.0f) * p;
    p = 1.0f + r * p;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);             /* t's low mantissa bits hold n */
    int32_t scale_bits = (bits - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);  /* 2^n */
    return p * scale * below;
}

static inline float sg_log1p_unit_f(float e) {
    float s = e / (2.0f + e), s2 = s * s;
    float p = 1.0f / 17.0f;
    p = 1.0f / 15.0f + s2 * p;
    p = 1.0f / 13.0f + s2 * p;
    p = 1.0f / 11.0f + s2 * p;
    p = 1.0f / 9.0f + s2 * p;
    p = 1.0f / 7.0f + s2 * p;
    p = 1.0f / 5.0f + s2 * p;
    p = 1.0f / 3.0f + s2 * p;
    p = 1.0f + s2 * p;
    return 2.0f * s * p;
}

/* Binary cross entropy of sigmoid(x) against y, from the logit x:
 *     max(x, 0) - x y + log(1 + e^-|x|)
 * and its derivative in x, sigmoid(x) - y, with sigmoid(x) = 1 / (1 + e^-|x|) for x >= 0
 * and e^-|x| / (1 + e^-|x|) below (neither overflows). */
static inline float sg_bce_logits_f(float x, float y) {
    float e = sg_exp_nonpos_f(-fabsf(x));
    return (x > 0.0f ? x : 0.0f) - x * y + sg_log1p_unit_f(e);
}

static inline double sg_bce_logits_d(double x, double y) {
    return (x > 0.0 ? x : 0.0) - x * y + log1p(exp(-fabs(x)));
}

static inline float sg_sigmoid_f(float x) {
    float e = sg_exp_nonpos_f(-fabsf(x));
    float r = 1.0f / (1.0f + e), er = e * r;
    return x >= 0.0f ? r : er;
}

static inline double sg_sigmoid_d(double x) {
    double e = exp(-fabs(x));
    double r = 1.0 / (1.0 + e), er = e * r;
    return x >= 0.0 ? r : er;
}

/* The float32 loops over whole arrays, compiled twice: for the baseline ISA (4 values per
 * SSE2 vector on x86-64) and, on x86-64, for AVX2 + FMA (8 values per vector, the
 * polynomials' steps fused multiply-adds): 0.45 -> 0.15 ms for 100,000 values forward.
 * _activation.pyx runs the pair of the micro-kernels' ISA (SCRATCHGEN_ISA; avx512 machines
 * run the AVX2 pair). */
#define SG_BCE_LOOPS(SUFFIX, ATTRIBUTES)                                                     \
ATTRIBUTES static void sg_bce_logits_loop_##SUFFIX(                                          \
        const float *restrict x, const float *restrict y, float *restrict loss, ptrdiff_t n) { \
    for (ptrdiff_t i = 0; i < n; i++) loss[i] = sg_bce_logits_f(x[i], y[i]);                 \
}                                                                                            \
ATTRIBUTES static void sg_bce_logits_backward_loop_##SUFFIX(                                 \
        const float *restrict g, const float *restrict x, const float *restrict y,           \
        float *restrict gx, ptrdiff_t n) {                                                   \
    for (ptrdiff_t i = 0; i < n; i++) gx[i] = g[i] * (sg_sigmoid_f(x[i]) - y[i]);            \
}

SG_BCE_LOOPS(generic, )
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
SG_BCE_LOOPS(avx2, __attribute__((target("avx2,fma"))))
#define SG_HAVE_AVX2_LOOPS 1
#else
#define SG_HAVE_AVX2_LOOPS 0
#define sg_bce_logits_loop_avx2 sg_bce_logits_loop_generic
#define sg_bce_logits_backward_loop_avx2 sg_bce_logits_backward_loop_generic
#endif

#endif
