/* filterbank.c - dareplane_utils' FilterBank in C (see include/dareplane/filter.h).
 *
 * One dp_sosfilt_t per band over all channels. A chunk is processed in
 * blocks of BLOCK samples through scratch memory taken at creation, so a
 * chunk of any length allocates nothing: each block is converted to float64
 * once, filtered per band, interleaved into samples x channels x bands
 * float32 rows and added to the ring buffer. The output transform runs at
 * read time over what the ring buffer holds, like the Python class. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "dareplane/filter.h"
#include "dareplane/ringbuffer.h"
#include "filter_internal.h"

#define BLOCK 256

struct dp_filterbank {
  size_t n_channels, n_bands, order, n_lookback, capacity, n_new;
  dp_fb_output_t output;
  char **names;
  double *sos;         /* n_bands x order x 6 */
  dp_sosfilt_t **filt; /* n_bands */
  dp_ringbuffer_t *rb; /* capacity x channels x bands float32 */
  double *in;          /* BLOCK x channels: the block in float64 */
  double *band;        /* BLOCK x channels: one band's output */
  float *rows;         /* BLOCK x channels x bands */
  double *zeros;       /* BLOCK timestamps for a NULL `times` */
  float *hist;         /* capacity x channels x bands: read scratch */
};

void dp_filterbank_opts_init(dp_filterbank_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->order = 8;
  o->fs_hz = 1000.0;
  o->n_channels = 1;
  o->output = DP_FB_SIGNAL;
  o->buffer_s = 1.0;
  o->n_lookback = 5;
  o->init = DP_ZI_STEP;
}

static int check_opts(const dp_filterbank_opts_t *o, size_t *capacity) {
  if (o->bands == NULL || o->n_bands == 0 || o->n_bands > DP_FILTERBANK_MAX_BANDS)
    return dp_error_set(DP_EINVAL, "a filter bank needs 1..%d bands, got %zu",
                        DP_FILTERBANK_MAX_BANDS, o->bands == NULL ? 0 : o->n_bands);
  if (o->n_channels == 0 || o->n_channels > DP_SOSFILT_MAX_CHANNELS)
    return dp_error_set(DP_EINVAL, "a filter bank needs 1..%d channels, got %zu",
                        DP_SOSFILT_MAX_CHANNELS, o->n_channels);
  if (o->output != DP_FB_SIGNAL && o->output != DP_FB_SQUARE && o->output != DP_FB_ABS_MA)
    return dp_error_set(DP_EINVAL, "unknown output transform %d", (int)o->output);
  if (o->n_lookback == 0) return dp_error_set(DP_EINVAL, "n_lookback must be >= 1");
  double cap = floor(o->fs_hz * o->buffer_s);
  if (!isfinite(cap) || cap < (double)o->n_lookback + 1 || cap > 1e9)
    return dp_error_set(DP_EINVAL,
                        "buffer of int(fs * buffer_s) = %g samples must hold n_lookback + 1 = %zu "
                        "and at most 1e9 samples",
                        cap, o->n_lookback + 1);
  *capacity = (size_t)cap;
  for (size_t b = 0; b < o->n_bands; b++)
    if (o->bands[b].name == NULL) return dp_error_set(DP_EINVAL, "band %zu has no name", b);
  return 0;
}

int dp_filterbank_new(dp_filterbank_t **out, const dp_filterbank_opts_t *o) {
  if (out == NULL || o == NULL) return dp_error_set(DP_EINVAL, "NULL argument");
  *out = NULL;
  size_t capacity = 0;
  int rc = check_opts(o, &capacity);
  if (rc < 0) return rc;
  int n_sec = dp_butter_sections(o->order, DP_BANDPASS);
  if (n_sec < 0) return n_sec;
  dp_filterbank_t *fb = calloc(1, sizeof *fb);
  if (fb == NULL) return dp_error_set(DP_ENOMEM, NULL);
  size_t nc = o->n_channels, nb = o->n_bands, frame = nc * nb;
  fb->n_channels = nc;
  fb->n_bands = nb;
  fb->order = (size_t)n_sec;
  fb->n_lookback = o->n_lookback;
  fb->capacity = capacity;
  fb->output = o->output;
  fb->names = calloc(nb, sizeof *fb->names);
  fb->sos = malloc(nb * (size_t)n_sec * 6 * sizeof *fb->sos);
  fb->filt = calloc(nb, sizeof(dp_sosfilt_t *));
  fb->in = malloc(BLOCK * nc * sizeof *fb->in);
  fb->band = malloc(BLOCK * nc * sizeof *fb->band);
  fb->rows = malloc(BLOCK * frame * sizeof *fb->rows);
  fb->zeros = calloc(BLOCK, sizeof *fb->zeros);
  fb->hist = malloc((capacity > 0 ? capacity : 1) * frame * sizeof *fb->hist);
  size_t dims[2] = {nc, nb};
  if (fb->names == NULL || fb->sos == NULL || fb->filt == NULL || fb->in == NULL ||
      fb->band == NULL || fb->rows == NULL || fb->zeros == NULL || fb->hist == NULL ||
      (rc = dp_ringbuffer_new(&fb->rb, DP_FLOAT32, capacity, dims, 2)) < 0) {
    dp_filterbank_free(fb);
    return dp_error_set(DP_ENOMEM, NULL);
  }
  for (size_t b = 0; b < nb && rc >= 0; b++) {
    const dp_band_t *band = &o->bands[b];
    double *sos = fb->sos + b * (size_t)n_sec * 6;
    rc =
        dp_butter(o->order, band->low_hz, band->high_hz, DP_BANDPASS, o->fs_hz, sos, (size_t)n_sec);
    if (rc < 0) {
      /* Name the band in the detail; dp_error_detail() is ours until we return. */
      char why[256];
      snprintf(why, sizeof why, "%s", dp_error_detail());
      rc = dp_error_set(rc, "band \"%s\": %s", band->name, why);
      break;
    }
    rc = dp_sosfilt_new(&fb->filt[b], sos, (size_t)n_sec, nc, o->init);
    if (rc < 0) break;
    fb->names[b] = strdup(band->name);
    if (fb->names[b] == NULL) rc = dp_error_set(DP_ENOMEM, NULL);
  }
  if (rc < 0) {
    dp_filterbank_free(fb);
    return rc;
  }
  *out = fb;
  return 0;
}

void dp_filterbank_free(dp_filterbank_t *fb) {
  if (fb == NULL) return;
  for (size_t b = 0; b < fb->n_bands; b++) {
    if (fb->names) free(fb->names[b]);
    if (fb->filt) dp_sosfilt_free(fb->filt[b]);
  }
  free(fb->names);
  free(fb->filt);
  free(fb->sos);
  free(fb->in);
  free(fb->band);
  free(fb->rows);
  free(fb->zeros);
  free(fb->hist);
  dp_ringbuffer_free(fb->rb);
  free(fb);
}

/* Filters rows already converted into fb->in and adds them. */
static void filter_block(dp_filterbank_t *fb, size_t m, const double *times) {
  size_t nc = fb->n_channels, nb = fb->n_bands;
  for (size_t b = 0; b < nb; b++) {
    memcpy(fb->band, fb->in, m * nc * sizeof *fb->band);
    dp_sosfilt_run(fb->filt[b], fb->band, m);
    for (size_t t = 0; t < m; t++) {
      float *row = fb->rows + t * nc * nb + b;
      const double *src = fb->band + t * nc;
      for (size_t c = 0; c < nc; c++) row[c * nb] = (float)src[c];
    }
  }
  dp_ringbuffer_add(fb->rb, fb->rows, times ? times : fb->zeros, m);
  fb->n_new += m;
  if (fb->n_new > dp_filterbank_max_read(fb)) fb->n_new = dp_filterbank_max_read(fb);
}

static int filter_any(dp_filterbank_t *fb, const double *d64, const float *d32, const double *times,
                      size_t n) {
  if (fb == NULL || (n > 0 && d64 == NULL && d32 == NULL))
    return dp_error_set(DP_EINVAL, "NULL filter bank or data");
  size_t nc = fb->n_channels;
  int rc = dp_filter_check_finite(d64, d32, n, nc);
  if (rc < 0) return rc;
  for (size_t done = 0; done < n;) {
    size_t m = n - done < BLOCK ? n - done : BLOCK;
    size_t off = done * nc;
    for (size_t i = 0; i < m * nc; i++) fb->in[i] = d64 ? d64[off + i] : (double)d32[off + i];
    filter_block(fb, m, times ? times + done : NULL);
    done += m;
  }
  return 0;
}

int dp_filterbank_filter(dp_filterbank_t *fb, const double *data, const double *times, size_t n) {
  return filter_any(fb, data, NULL, times, n);
}

int dp_filterbank_filter_f32(dp_filterbank_t *fb, const float *data, const double *times,
                             size_t n) {
  if (n > 0 && data == NULL) return dp_error_set(DP_EINVAL, "NULL data");
  return filter_any(fb, NULL, data, times, n);
}

size_t dp_filterbank_n_new(const dp_filterbank_t *fb) {
  return fb ? fb->n_new : 0;
}

size_t dp_filterbank_max_read(const dp_filterbank_t *fb) {
  if (fb == NULL) return 0;
  return fb->output == DP_FB_ABS_MA ? fb->capacity - (fb->n_lookback - 1) : fb->capacity;
}

int dp_filterbank_newest(const dp_filterbank_t *fb, size_t n, float *out, double *times) {
  if (fb == NULL || (n > 0 && out == NULL)) return dp_error_set(DP_EINVAL, "NULL argument");
  if (n > dp_filterbank_max_read(fb))
    return dp_error_set(DP_ERANGE, "can read at most %zu rows, asked for %zu",
                        dp_filterbank_max_read(fb), n);
  if (n == 0) return 0;
  size_t frame = fb->n_channels * fb->n_bands;
  if (fb->output != DP_FB_ABS_MA) {
    dp_ringbuffer_newest(fb->rb, n, out, times);
    if (fb->output == DP_FB_SQUARE)
      for (size_t i = 0; i < n * frame; i++) out[i] = out[i] * out[i];
    return 0;
  }
  /* Trailing mean of |x| over L rows: row t uses rows t-L+1..t of the
   * history read just before it. */
  size_t L = fb->n_lookback, h = n + L - 1;
  dp_ringbuffer_newest(fb->rb, h, fb->hist, NULL);
  if (times) dp_ringbuffer_newest(fb->rb, n, NULL, times);
  double w = 1.0 / (double)L;
  for (size_t t = 0; t < n; t++) {
    for (size_t e = 0; e < frame; e++) {
      double acc = 0.0;
      for (size_t j = 0; j < L; j++) acc += w * fabs((double)fb->hist[(t + j) * frame + e]);
      out[t * frame + e] = (float)acc;
    }
  }
  return 0;
}

int dp_filterbank_read_new(dp_filterbank_t *fb, float *out, double *times, size_t max_n,
                           bool consume) {
  if (fb == NULL || out == NULL) return dp_error_set(DP_EINVAL, "NULL argument");
  size_t n = fb->n_new < max_n ? fb->n_new : max_n;
  int rc = dp_filterbank_newest(fb, n, out, times);
  if (rc < 0) return rc;
  if (consume) fb->n_new = 0;
  return (int)n;
}

size_t dp_filterbank_channels(const dp_filterbank_t *fb) {
  return fb ? fb->n_channels : 0;
}
size_t dp_filterbank_bands(const dp_filterbank_t *fb) {
  return fb ? fb->n_bands : 0;
}
size_t dp_filterbank_capacity(const dp_filterbank_t *fb) {
  return fb ? fb->capacity : 0;
}

const char *dp_filterbank_band_name(const dp_filterbank_t *fb, size_t i) {
  return fb && i < fb->n_bands ? fb->names[i] : NULL;
}

const double *dp_filterbank_sos(const dp_filterbank_t *fb, size_t i) {
  return fb && i < fb->n_bands ? fb->sos + i * fb->order * 6 : NULL;
}

void dp_filterbank_reset(dp_filterbank_t *fb) {
  if (fb == NULL) return;
  dp_ringbuffer_reset(fb->rb);
  fb->n_new = 0;
  for (size_t b = 0; b < fb->n_bands; b++) dp_sosfilt_reset(fb->filt[b]);
}
