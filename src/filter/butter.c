/* butter.c - digital Butterworth design in zeros, poles and gain, the path
 * scipy.signal.butter(..., output="sos", fs=fs) documents: the analog
 * prototype (no zeros, poles on the left unit half circle), the band edges
 * pre-warped for the bilinear transform, the low/high/band-pass/stop
 * frequency transform, the bilinear transform at fs = 2, and the pairing into
 * second-order sections (zpk2sos.c). Each step keeps the order in which the
 * reference lists roots, because the pairing depends on it. */
#include <complex.h>
#include <math.h>

#include "common/error_internal.h"
#include "zpk.h"

#ifndef CMPLX /* MinGW's complex.h has none */
#define CMPLX(x, y) __builtin_complex((double)(x), (double)(y))
#endif

static const double DP_PI = 3.14159265358979323846;

dp_cplx_t dp_cdiv(dp_cplx_t a, dp_cplx_t b) {
  /* Smith's method: scale by the larger part of the divisor. */
  double ar = fabs(b.re), ai = fabs(b.im);
  if (ar >= ai) {
    if (ar == 0.0) return dp_c(a.re / ar, a.im / ai);
    double r = b.im / b.re, s = 1.0 / (b.re + b.im * r);
    return dp_c((a.re + a.im * r) * s, (a.im - a.re * r) * s);
  }
  double r = b.re / b.im, s = 1.0 / (b.im + b.re * r);
  return dp_c((a.re * r + a.im) * s, (a.im * r - a.re) * s);
}

dp_cplx_t dp_csqrt(dp_cplx_t a) {
  /* The C library's principal square root, as numpy uses it. */
  double complex r = csqrt(CMPLX(a.re, a.im));
  return dp_c(creal(r), cimag(r));
}

/* |a| as numpy's vectorised absolute value computes it (the pairing compares
 * such sizes, and a tie between mirror-image poles is decided by their last
 * bit): larger * sqrt(ratio^2 + 1), the multiply-add fused where numpy's
 * dispatch would use FMA (x86-64 with AVX2 and FMA). */
static int fused_multiply_add(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  static int cached = -1;
  if (cached < 0) cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return cached;
#else
  return 0;
#endif
}

double dp_cabs(dp_cplx_t a) {
  double re = fabs(a.re), im = fabs(a.im);
  if (isinf(re) || isinf(im)) return INFINITY;
  if (isnan(re) || isnan(im)) return NAN;
  double larger = re > im ? re : im, smaller = re > im ? im : re;
  if (larger == 0.0) return 0.0;
  double ratio = smaller / larger;
  double sq = fused_multiply_add() ? fma(ratio, ratio, 1.0) : ratio * ratio + 1.0;
  return sqrt(sq) * larger;
}

/* a * a as numpy squares a complex array: with the multiply-adds fused
 * where its dispatch uses FMA (see fused_multiply_add()). */
static dp_cplx_t csquare(dp_cplx_t a) {
  if (!fused_multiply_add()) return dp_cmul(a, a);
  return dp_c(fma(a.re, a.re, -(a.im * a.im)), fma(a.re, a.im, a.im * a.re));
}

static dp_cplx_t cneg(dp_cplx_t a) {
  return dp_c(-a.re, -a.im);
}

static dp_cplx_t cprod_neg(const dp_cplx_t *v, size_t n) {
  dp_cplx_t acc = dp_c(1.0, 0.0);
  for (size_t i = 0; i < n; i++) acc = dp_cmul(acc, cneg(v[i]));
  return acc;
}

/* Analog prototype of order n: poles -exp(i*pi*m/(2n)), m = -n+1, -n+3, ..., n-1. */
static void buttap(dp_zpk_t *f, int n) {
  f->nz = 0;
  f->np = (size_t)n;
  f->k = 1.0;
  for (int i = 0; i < n; i++) {
    double m = (double)(-n + 1 + 2 * i);
    /* pi*m times the reciprocal of 2n: numpy divides a complex array by a
     * real scalar that way, and the angle's last bit decides ties later. */
    double theta = (DP_PI * m) * (1.0 / (2.0 * n));
    f->p[i] = dp_c(-cos(theta), -sin(theta));
  }
}

/* Each of the roots r becomes the pair c + sqrt(c^2 - wo^2), c - sqrt(...)
 * with c = num / r (inverse) or c = r * num / 2 (direct): all "+" roots first,
 * then all "-" roots, as the reference lists them. */
static size_t band_roots(dp_cplx_t *r, size_t n, double num, double wo, int inverse) {
  dp_cplx_t c[DP_ZPK_MAX], s[DP_ZPK_MAX];
  for (size_t i = 0; i < n; i++) {
    c[i] = inverse ? dp_cdiv(dp_c(num, 0.0), r[i]) : dp_c(r[i].re * num / 2, r[i].im * num / 2);
    s[i] = dp_csqrt(dp_csub(csquare(c[i]), dp_c(wo * wo, 0.0)));
  }
  for (size_t i = 0; i < n; i++) {
    r[i] = dp_cadd(c[i], s[i]);
    r[n + i] = dp_csub(c[i], s[i]);
  }
  return 2 * n;
}

static void lp2lp(dp_zpk_t *f, double wo) {
  for (size_t i = 0; i < f->nz; i++) f->z[i] = dp_c(f->z[i].re * wo, f->z[i].im * wo);
  for (size_t i = 0; i < f->np; i++) f->p[i] = dp_c(f->p[i].re * wo, f->p[i].im * wo);
  f->k *= pow(wo, (double)(f->np - f->nz));
}

static void lp2hp(dp_zpk_t *f, double wo) {
  size_t degree = f->np - f->nz;
  double k = dp_cdiv(cprod_neg(f->z, f->nz), cprod_neg(f->p, f->np)).re;
  for (size_t i = 0; i < f->nz; i++) f->z[i] = dp_cdiv(dp_c(wo, 0.0), f->z[i]);
  for (size_t i = 0; i < f->np; i++) f->p[i] = dp_cdiv(dp_c(wo, 0.0), f->p[i]);
  for (size_t i = 0; i < degree; i++) f->z[f->nz++] = dp_c(0.0, 0.0);
  f->k *= k;
}

static void lp2bp(dp_zpk_t *f, double wo, double bw) {
  size_t degree = f->np - f->nz;
  f->nz = band_roots(f->z, f->nz, bw, wo, 0);
  f->np = band_roots(f->p, f->np, bw, wo, 0);
  for (size_t i = 0; i < degree; i++) f->z[f->nz++] = dp_c(0.0, 0.0);
  f->k *= pow(bw, (double)degree);
}

static void lp2bs(dp_zpk_t *f, double wo, double bw) {
  size_t degree = f->np - f->nz;
  double k = dp_cdiv(cprod_neg(f->z, f->nz), cprod_neg(f->p, f->np)).re;
  f->nz = band_roots(f->z, f->nz, bw / 2, wo, 1);
  f->np = band_roots(f->p, f->np, bw / 2, wo, 1);
  for (size_t i = 0; i < degree; i++) f->z[f->nz++] = dp_c(0.0, wo);
  for (size_t i = 0; i < degree; i++) f->z[f->nz++] = dp_c(0.0, -wo);
  f->k *= k;
}

/* Bilinear transform at sampling rate fs (zeros at infinity go to z = -1). */
static void bilinear(dp_zpk_t *f, double fs) {
  double fs2 = 2.0 * fs;
  size_t degree = f->np - f->nz;
  dp_cplx_t num = dp_c(1.0, 0.0), den = dp_c(1.0, 0.0);
  for (size_t i = 0; i < f->nz; i++) num = dp_cmul(num, dp_csub(dp_c(fs2, 0.0), f->z[i]));
  for (size_t i = 0; i < f->np; i++) den = dp_cmul(den, dp_csub(dp_c(fs2, 0.0), f->p[i]));
  for (size_t i = 0; i < f->nz; i++)
    f->z[i] = dp_cdiv(dp_cadd(dp_c(fs2, 0.0), f->z[i]), dp_csub(dp_c(fs2, 0.0), f->z[i]));
  for (size_t i = 0; i < f->np; i++)
    f->p[i] = dp_cdiv(dp_cadd(dp_c(fs2, 0.0), f->p[i]), dp_csub(dp_c(fs2, 0.0), f->p[i]));
  for (size_t i = 0; i < degree; i++) f->z[f->nz++] = dp_c(-1.0, 0.0);
  f->k *= dp_cdiv(num, den).re;
}

int dp_butter_sections(int order, dp_btype_t btype) {
  if (order < 1 || order > DP_BUTTER_MAX_ORDER)
    return dp_error_set(DP_EINVAL, "filter order must be 1..%d, got %d", DP_BUTTER_MAX_ORDER,
                        order);
  switch (btype) {
  case DP_LOWPASS:
  case DP_HIGHPASS: return (order + 1) / 2;
  case DP_BANDPASS:
  case DP_BANDSTOP: return order;
  }
  return dp_error_set(DP_EINVAL, "unknown filter type %d", (int)btype);
}

static int check_edge(double f, double fs, const char *what) {
  if (!isfinite(f) || !(f > 0.0) || !(f < fs / 2))
    return dp_error_set(DP_EINVAL, "%s %g Hz must be inside (0, fs/2) = (0, %g) Hz", what, f,
                        fs / 2);
  return 0;
}

int dp_butter(int order, double f1_hz, double f2_hz, dp_btype_t btype, double fs_hz, double *sos,
              size_t max_sections) {
  int n_sections = dp_butter_sections(order, btype);
  if (n_sections < 0) return n_sections;
  if (sos == NULL) return dp_error_set(DP_EINVAL, "sos is NULL");
  if (!isfinite(fs_hz) || !(fs_hz > 0))
    return dp_error_set(DP_EINVAL, "sampling rate must be positive and finite, got %g", fs_hz);
  int band = btype == DP_BANDPASS || btype == DP_BANDSTOP;
  int rc = check_edge(f1_hz, fs_hz, band ? "low edge" : "cut-off");
  if (rc == 0 && band) rc = check_edge(f2_hz, fs_hz, "high edge");
  if (rc < 0) return rc;
  if (band && !(f1_hz < f2_hz))
    return dp_error_set(DP_EINVAL, "low edge %g Hz must be below high edge %g Hz", f1_hz, f2_hz);
  if ((size_t)n_sections > max_sections)
    return dp_error_set(DP_ERANGE, "%d sections need room, sos has %zu", n_sections, max_sections);

  /* Normalised to Nyquist, then pre-warped for the bilinear transform at fs = 2. */
  double w1 = 4.0 * tan(DP_PI * (f1_hz / (fs_hz / 2)) / 2.0);
  double w2 = band ? 4.0 * tan(DP_PI * (f2_hz / (fs_hz / 2)) / 2.0) : 0.0;
  dp_zpk_t zpk;
  buttap(&zpk, order);
  switch (btype) {
  case DP_LOWPASS: lp2lp(&zpk, w1); break;
  case DP_HIGHPASS: lp2hp(&zpk, w1); break;
  case DP_BANDPASS: lp2bp(&zpk, sqrt(w1 * w2), w2 - w1); break;
  case DP_BANDSTOP: lp2bs(&zpk, sqrt(w1 * w2), w2 - w1); break;
  }
  bilinear(&zpk, 2.0);
  return dp_zpk_to_sos(&zpk, sos);
}
