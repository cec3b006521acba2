/* sosfilt.c - a cascade of second-order sections over many channels, with
 * its state kept across chunks (see include/dareplane/filter.h).
 *
 * Each section runs in direct form II transposed with the operations in the
 * order scipy.signal.sosfilt uses, so our float64 output equals scipy's. The
 * state is laid out [section][0|1][channel]: the inner loop runs over
 * contiguous channels with no dependency between them, which the compiler
 * vectorises; the sample loop carries the dependency. Output rows are
 * computed in place in the caller's output, so nothing is allocated per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "dareplane/filter.h"
#include "filter_internal.h"

struct dp_sosfilt {
  size_t n_sections, n_channels;
  dp_zi_t init;
  int scale_pending; /* DP_ZI_STEP_SCALED: scale by the next first sample */
  double *sos;       /* n_sections x 6, a0 = 1 */
  double *zi;        /* n_sections x 2: steady state for a unit step */
  double *state;     /* n_sections x 2 x n_channels */
};

int dp_sosfilt_zi(const double *sos, size_t n_sections, double *zi) {
  if (sos == NULL || zi == NULL || n_sections == 0)
    return dp_error_set(DP_EINVAL, "sosfilt_zi needs sections and room for the state");
  double scale = 1.0;
  for (size_t s = 0; s < n_sections; s++) {
    const double *c = sos + 6 * s;
    if (c[3] == 0.0) return dp_error_set(DP_EINVAL, "section %zu has a0 == 0", s);
    double b0 = c[0] / c[3], b1 = c[1] / c[3], b2 = c[2] / c[3];
    double a1 = c[4] / c[3], a2 = c[5] / c[3];
    /* The state x with x = A x + B for a constant unit input: the 2 x 2
     * system [[1 + a1, -1], [a2, 1]] x = [b1 - a1 b0, b2 - a2 b0], solved by
     * elimination with partial pivoting. */
    double m00 = 1.0 + a1, m01 = -1.0, m10 = a2, m11 = 1.0;
    double r0 = b1 - a1 * b0, r1 = b2 - a2 * b0;
    int swap = fabs(m10) > fabs(m00);
    if (swap) {
      double t;
      t = m00, m00 = m10, m10 = t;
      t = m01, m01 = m11, m11 = t;
      t = r0, r0 = r1, r1 = t;
    }
    if (m00 == 0.0) return dp_error_set(DP_EINVAL, "section %zu has a pole at z = 1", s);
    double l = m10 * (1.0 / m00);
    double u11 = m11 - l * m01;
    if (u11 == 0.0) return dp_error_set(DP_EINVAL, "section %zu has a pole at z = 1", s);
    double x1 = (r1 - l * r0) / u11;
    double x0 = (r0 - m01 * x1) / m00;
    zi[2 * s] = scale * x0;
    zi[2 * s + 1] = scale * x1;
    scale *= (b0 + b1 + b2) / (1.0 + a1 + a2);
  }
  return 0;
}

static int check_section(const double *c, size_t s) {
  for (int i = 0; i < 6; i++)
    if (!isfinite(c[i]))
      return dp_error_set(DP_EINVAL, "section %zu: coefficient %d is not finite", s, i);
  if (c[3] == 0.0) return dp_error_set(DP_EINVAL, "section %zu has a0 == 0", s);
  double a1 = c[4] / c[3], a2 = c[5] / c[3];
  /* Both roots of z^2 + a1 z + a2 strictly inside the unit circle. */
  if (!(fabs(a2) < 1.0 && fabs(a1) < 1.0 + a2))
    return dp_error_set(DP_EINVAL, "section %zu is not stable (a1 = %g, a2 = %g)", s, a1, a2);
  return 0;
}

int dp_sosfilt_new(dp_sosfilt_t **out, const double *sos, size_t n_sections, size_t n_channels,
                   dp_zi_t init) {
  if (out == NULL) return dp_error_set(DP_EINVAL, "out is NULL");
  *out = NULL;
  if (sos == NULL || n_sections == 0 || n_sections > DP_SOSFILT_MAX_SECTIONS)
    return dp_error_set(DP_EINVAL, "a filter needs 1..%d sections, got %zu",
                        DP_SOSFILT_MAX_SECTIONS, sos == NULL ? 0 : n_sections);
  if (n_channels == 0 || n_channels > DP_SOSFILT_MAX_CHANNELS)
    return dp_error_set(DP_EINVAL, "a filter needs 1..%d channels, got %zu",
                        DP_SOSFILT_MAX_CHANNELS, n_channels);
  if (init != DP_ZI_ZEROS && init != DP_ZI_STEP_SCALED && init != DP_ZI_STEP)
    return dp_error_set(DP_EINVAL, "unknown initial state %d", (int)init);
  for (size_t s = 0; s < n_sections; s++) {
    int rc = check_section(sos + 6 * s, s);
    if (rc < 0) return rc;
  }
  dp_sosfilt_t *f = calloc(1, sizeof *f);
  if (f == NULL) return dp_error_set(DP_ENOMEM, NULL);
  f->n_sections = n_sections;
  f->n_channels = n_channels;
  f->init = init;
  f->sos = malloc(n_sections * 6 * sizeof *f->sos);
  f->zi = malloc(n_sections * 2 * sizeof *f->zi);
  f->state = malloc(n_sections * 2 * n_channels * sizeof *f->state);
  if (f->sos == NULL || f->zi == NULL || f->state == NULL) {
    dp_sosfilt_free(f);
    return dp_error_set(DP_ENOMEM, NULL);
  }
  for (size_t s = 0; s < n_sections; s++) {
    const double *c = sos + 6 * s;
    double *d = f->sos + 6 * s;
    if (c[3] == 1.0) {
      memcpy(d, c, 6 * sizeof *d);
    } else {
      for (int i = 0; i < 6; i++) d[i] = c[i] / c[3];
    }
  }
  int rc = dp_sosfilt_zi(f->sos, n_sections, f->zi);
  if (rc < 0) {
    dp_sosfilt_free(f);
    return rc;
  }
  dp_sosfilt_reset(f);
  *out = f;
  return 0;
}

void dp_sosfilt_free(dp_sosfilt_t *f) {
  if (f == NULL) return;
  free(f->sos);
  free(f->zi);
  free(f->state);
  free(f);
}

/* Sets the state to zi * scale[c] per channel (scale NULL: 1). */
static void fill_state(dp_sosfilt_t *f, const double *scale) {
  size_t nc = f->n_channels;
  for (size_t j = 0; j < 2 * f->n_sections; j++) {
    double *st = f->state + j * nc;
    for (size_t c = 0; c < nc; c++) st[c] = scale ? f->zi[j] * scale[c] : f->zi[j];
  }
}

void dp_sosfilt_reset(dp_sosfilt_t *f) {
  if (f == NULL) return;
  f->scale_pending = 0;
  if (f->init == DP_ZI_ZEROS)
    memset(f->state, 0, f->n_sections * 2 * f->n_channels * sizeof *f->state);
  else if (f->init == DP_ZI_STEP)
    fill_state(f, NULL);
  else
    f->scale_pending = 1;
}

/* Runs the cascade over rows already copied (as float64) into out. */
void dp_sosfilt_run(dp_sosfilt_t *f, double *out, size_t n) {
  size_t nc = f->n_channels;
  if (f->scale_pending) {
    fill_state(f, out);
    f->scale_pending = 0;
  }
  for (size_t t = 0; t < n; t++) {
    double *restrict x = out + t * nc;
    for (size_t s = 0; s < f->n_sections; s++) {
      const double *c = f->sos + 6 * s;
      const double b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[4], a2 = c[5];
      double *restrict z0 = f->state + 2 * s * nc;
      double *restrict z1 = z0 + nc;
      for (size_t ch = 0; ch < nc; ch++) {
        double xc = x[ch];
        double y = b0 * xc + z0[ch];
        z0[ch] = b1 * xc - a1 * y + z1[ch];
        z1[ch] = b2 * xc - a2 * y;
        x[ch] = y;
      }
    }
  }
}

int dp_filter_check_finite(const double *d64, const float *d32, size_t n, size_t nc) {
  size_t total = n * nc;
  for (size_t i = 0; i < total; i++)
    if (!isfinite(d64 ? d64[i] : (double)d32[i]))
      return dp_error_set(DP_EINVAL,
                          "input sample %zu channel %zu is NaN or infinite; chunk refused, "
                          "nothing changed",
                          i / nc, i % nc);
  return 0;
}

/* Checks, converts to float64 into out, and filters in place. */
static int process(dp_sosfilt_t *f, const double *d64, const float *d32, double *out, size_t n) {
  if (f == NULL || (n > 0 && ((d64 == NULL && d32 == NULL) || out == NULL)))
    return dp_error_set(DP_EINVAL, "NULL filter or buffer");
  if (n == 0) return 0;
  int rc = dp_filter_check_finite(d64, d32, n, f->n_channels);
  if (rc < 0) return rc;
  size_t total = n * f->n_channels;
  if (d64 != NULL && out != d64) memcpy(out, d64, total * sizeof *out);
  if (d64 == NULL)
    for (size_t i = 0; i < total; i++) out[i] = (double)d32[i];
  dp_sosfilt_run(f, out, n);
  return 0;
}

int dp_sosfilt_process(dp_sosfilt_t *f, const double *in, double *out, size_t n_samples) {
  if (n_samples > 0 && in == NULL) return dp_error_set(DP_EINVAL, "NULL input");
  return process(f, in, NULL, out, n_samples);
}

int dp_sosfilt_process_f32(dp_sosfilt_t *f, const float *in, double *out, size_t n_samples) {
  if (n_samples > 0 && in == NULL) return dp_error_set(DP_EINVAL, "NULL input");
  return process(f, NULL, in, out, n_samples);
}

int dp_sosfilt_state(const dp_sosfilt_t *f, double *zi) {
  if (f == NULL || zi == NULL) return dp_error_set(DP_EINVAL, "NULL filter or buffer");
  memcpy(zi, f->state, f->n_sections * 2 * f->n_channels * sizeof *zi);
  return 0;
}

int dp_sosfilt_set_state(dp_sosfilt_t *f, const double *zi) {
  if (f == NULL || zi == NULL) return dp_error_set(DP_EINVAL, "NULL filter or buffer");
  size_t total = f->n_sections * 2 * f->n_channels;
  for (size_t i = 0; i < total; i++)
    if (!isfinite(zi[i])) return dp_error_set(DP_EINVAL, "state value %zu is not finite", i);
  memcpy(f->state, zi, total * sizeof *zi);
  f->scale_pending = 0;
  return 0;
}

size_t dp_sosfilt_channels(const dp_sosfilt_t *f) {
  return f ? f->n_channels : 0;
}
size_t dp_sosfilt_n_sections(const dp_sosfilt_t *f) {
  return f ? f->n_sections : 0;
}
