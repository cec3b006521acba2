/* zpk2sos.c - pairs digital zeros and poles into second-order sections the
 * way scipy.signal.zpk2sos does with pairing "nearest", so that dp_butter()
 * returns scipy's sections in scipy's order.
 *
 * The documented rules: pad to equal numbers of zeros and poles (and to an
 * even number, with one extra zero and pole at the origin); keep one root of
 * each complex-conjugate pair; then, from the last section to the first,
 * take the pole closest to the unit circle, pair it with its conjugate (or
 * with the next real pole closest to the circle) and with the nearest zeros;
 * the overall gain goes into the first section. Ties and the order of the
 * remaining roots follow the reference's sorting (by real part, then size of
 * the imaginary part), since they decide which root is taken first. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "zpk.h"

#define TOL (100 * DBL_EPSILON)

/* Stable insertion sort of v[0..n) by (re, |im|), or by |im| only. */
static void sort_roots(dp_cplx_t *v, size_t n, int by_real) {
  for (size_t i = 1; i < n; i++) {
    dp_cplx_t x = v[i];
    size_t j = i;
    while (j > 0) {
      dp_cplx_t y = v[j - 1];
      int greater = by_real && y.re != x.re ? y.re > x.re : fabs(y.im) > fabs(x.im);
      if (!greater) break;
      v[j] = y;
      j--;
    }
    v[j] = x;
  }
}

/* Keeps the upper root of each conjugate pair (averaged with its partner),
 * followed by the real roots, each group in the sorted order. */
static size_t conj_real_split(dp_cplx_t *v, size_t n) {
  dp_cplx_t pos[DP_ZPK_MAX], neg[DP_ZPK_MAX], real[DP_ZPK_MAX];
  size_t npos = 0, nneg = 0, nreal = 0;
  sort_roots(v, n, 1);
  for (size_t i = 0; i < n; i++) {
    if (fabs(v[i].im) <= TOL * dp_cabs(v[i]))
      real[nreal++] = dp_c(v[i].re, 0.0);
    else if (v[i].im > 0)
      pos[npos++] = v[i];
    else
      neg[nneg++] = v[i];
  }
  /* Runs of (nearly) equal real parts are ordered by |im| instead. */
  size_t i = 0;
  while (i + 1 < npos) {
    size_t j = i;
    while (j + 1 < npos && pos[j + 1].re - pos[j].re <= TOL * dp_cabs(pos[j])) j++;
    if (j > i) {
      sort_roots(pos + i, j - i + 1, 0);
      sort_roots(neg + i, j - i + 1, 0);
    }
    i = j + 1;
  }
  size_t m = 0;
  for (size_t k = 0; k < npos && k < nneg; k++)
    v[m++] = dp_c((pos[k].re + neg[k].re) / 2, (pos[k].im - neg[k].im) / 2);
  for (size_t k = 0; k < nreal; k++) v[m++] = real[k];
  return m;
}

static void remove_at(dp_cplx_t *v, size_t *n, size_t i) {
  for (size_t k = i + 1; k < *n; k++) v[k - 1] = v[k];
  (*n)--;
}

static int is_real(dp_cplx_t c) {
  return c.im == 0.0;
}

/* Index of the pole closest to the unit circle (the first on ties), among
 * the real ones only when real_only. */
static size_t worst_pole(const dp_cplx_t *p, size_t n, int real_only) {
  size_t best = n;
  double best_d = 0;
  for (size_t i = 0; i < n; i++) {
    if (real_only && !is_real(p[i])) continue;
    double d = fabs(1.0 - dp_cabs(p[i]));
    if (best == n || d < best_d) best = i, best_d = d;
  }
  return best;
}

enum { ANY, REAL, COMPLEX };

/* Index of the zero nearest to `to` among all, the real or the complex ones. */
static size_t nearest_zero(const dp_cplx_t *z, size_t n, dp_cplx_t to, int which) {
  size_t best = n;
  double best_d = 0;
  for (size_t i = 0; i < n; i++) {
    if ((which == REAL && !is_real(z[i])) || (which == COMPLEX && is_real(z[i]))) continue;
    double d = dp_cabs(dp_csub(z[i], to));
    if (best == n || d < best_d) best = i, best_d = d;
  }
  return best;
}

/* Coefficients 1, c1, c2 of (x - r1)(x - r2) (real parts), right-aligned in
 * out[0..3) like a polynomial of the given degree (0, 1 or 2). */
static void poly(const dp_cplx_t *r, size_t degree, double *out) {
  out[0] = out[1] = out[2] = 0.0;
  if (degree == 0) {
    out[2] = 1.0;
  } else if (degree == 1) {
    out[1] = 1.0;
    out[2] = -r[0].re;
  } else {
    dp_cplx_t n0 = dp_c(-r[0].re, -r[0].im), n1 = dp_c(-r[1].re, -r[1].im);
    out[0] = 1.0;
    out[1] = (n1.re + n0.re);
    out[2] = dp_cmul(n0, n1).re;
  }
}

static void section(double *s, const dp_cplx_t *z, size_t nz, dp_cplx_t p1, dp_cplx_t p2) {
  dp_cplx_t p[2] = {p1, p2};
  poly(z, nz, s);
  poly(p, 2, s + 3);
}

static dp_cplx_t conjugate(dp_cplx_t c) {
  return dp_c(c.re, -c.im);
}

int dp_zpk_to_sos(dp_zpk_t *f, double *sos) {
  dp_cplx_t *z = f->z, *p = f->p;
  size_t nz = f->nz, np = f->np;
  if (nz == 0 && np == 0) {
    double one[6] = {f->k, 0, 0, 1, 0, 0};
    memcpy(sos, one, sizeof one);
    return 1;
  }
  while (np < nz) p[np++] = dp_c(0, 0);
  while (nz < np) z[nz++] = dp_c(0, 0);
  size_t n_sections = (np + 1) / 2;
  if (np % 2 == 1) {
    p[np++] = dp_c(0, 0);
    z[nz++] = dp_c(0, 0);
  }
  nz = conj_real_split(z, nz);
  np = conj_real_split(p, np);

  for (size_t si = n_sections; si-- > 0;) {
    double *s = sos + 6 * si;
    size_t i = worst_pole(p, np, 0);
    dp_cplx_t p1 = p[i];
    remove_at(p, &np, i);
    size_t real_left = 0, real_zeros = 0;
    for (size_t k = 0; k < np; k++) real_left += is_real(p[k]);
    for (size_t k = 0; k < nz; k++) real_zeros += is_real(z[k]);
    if (is_real(p1) && real_left == 0) {
      /* The last real pole: with the nearest real zero and a root at 0 each. */
      size_t j = nearest_zero(z, nz, p1, REAL);
      dp_cplx_t zz[2] = {z[j], dp_c(0, 0)};
      remove_at(z, &nz, j);
      section(s, zz, 2, p1, dp_c(0, 0));
    } else if (np + 1 == nz && !is_real(p1) && real_left == 1 && real_zeros == 1) {
      /* One real pole and one real zero left: this pair takes complex zeros. */
      size_t j = nearest_zero(z, nz, p1, COMPLEX);
      dp_cplx_t zz[2] = {z[j], conjugate(z[j])};
      remove_at(z, &nz, j);
      section(s, zz, 2, p1, conjugate(p1));
    } else {
      dp_cplx_t p2 = conjugate(p1);
      if (is_real(p1)) {
        size_t j = worst_pole(p, np, 1);
        p2 = p[j];
        remove_at(p, &np, j);
      }
      if (nz == 0) {
        section(s, NULL, 0, p1, p2);
        continue;
      }
      size_t j = nearest_zero(z, nz, p1, ANY);
      dp_cplx_t zz[2] = {z[j], conjugate(z[j])};
      remove_at(z, &nz, j);
      if (!is_real(zz[0])) {
        section(s, zz, 2, p1, p2);
      } else if (nz > 0) {
        size_t j2 = nearest_zero(z, nz, p1, REAL);
        zz[1] = z[j2];
        remove_at(z, &nz, j2);
        section(s, zz, 2, p1, p2);
      } else {
        section(s, zz, 1, p1, p2);
      }
    }
  }
  for (int c = 0; c < 3; c++) sos[c] *= f->k;
  return (int)n_sections;
}
