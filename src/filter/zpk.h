/* zpk.h - zeros, poles and gain of a filter in the course of its design, and
 * the complex arithmetic the design uses. Not installed.
 *
 * The arithmetic is spelled out (instead of C's complex type) so that each
 * step rounds like the reference design (numpy): products as
 * (ar*br - ai*bi, ar*bi + ai*br), quotients by Smith's method. That keeps our
 * coefficients within a few ulp of scipy's. */
#ifndef DP_FILTER_ZPK_H
#define DP_FILTER_ZPK_H

#include <stddef.h>

#include "dareplane/filter.h"

typedef struct {
  double re, im;
} dp_cplx_t;

/* Room for the zeros or poles of a band filter of the highest order, plus the
 * one extra pole/zero the pairing may add. */
#define DP_ZPK_MAX (2 * DP_BUTTER_MAX_ORDER + 2)

typedef struct {
  dp_cplx_t z[DP_ZPK_MAX], p[DP_ZPK_MAX];
  size_t nz, np;
  double k;
} dp_zpk_t;

static inline dp_cplx_t dp_c(double re, double im) {
  dp_cplx_t c = {re, im};
  return c;
}
static inline dp_cplx_t dp_cadd(dp_cplx_t a, dp_cplx_t b) {
  return dp_c(a.re + b.re, a.im + b.im);
}
static inline dp_cplx_t dp_csub(dp_cplx_t a, dp_cplx_t b) {
  return dp_c(a.re - b.re, a.im - b.im);
}
static inline dp_cplx_t dp_cmul(dp_cplx_t a, dp_cplx_t b) {
  return dp_c(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
dp_cplx_t dp_cdiv(dp_cplx_t a, dp_cplx_t b);
dp_cplx_t dp_csqrt(dp_cplx_t a);
double dp_cabs(dp_cplx_t a);

/* Turns digital zeros/poles/gain into sections (scipy's zpk2sos with pairing
 * "nearest"). `sos` has room for (max(nz, np) + 1) / 2 sections; returns
 * their number. The zpk is consumed. */
int dp_zpk_to_sos(dp_zpk_t *zpk, double *sos);

#endif
