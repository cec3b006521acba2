/* filter.h - Butterworth design, a multichannel IIR filter in second-order
 * sections, and a filter bank like dareplane_utils' FilterBank.
 *
 * Design: dp_butter() returns the second-order sections (SOS) that
 * scipy.signal.butter(order, Wn, btype, output="sos", fs=fs) returns: the same
 * sections in the same order, coefficients equal to within about 1e-12
 * relative (an interop test compares them for every type and orders 1..32).
 * A section is 6 doubles b0 b1 b2 a0 a1 a2 (a0 = 1), as in scipy.
 *
 * Filtering: a dp_sosfilt_t runs any stable SOS cascade over samples x channels
 * data (row-major: one row per sample, channels contiguous) in direct form II
 * transposed, the same arithmetic as scipy.signal.sosfilt, in float64. The
 * state is kept per channel across calls, so filtering a signal in chunks of
 * any size gives bit-identical output to one call on the whole signal.
 *
 * Bad input (a NaN or infinite sample, a wrong size) is refused with a clear
 * error and changes no state; an empty chunk is a no-op. Processing allocates
 * nothing: all memory is taken when the object is created.
 *
 * Thread-safety: an object is used by one thread at a time (the caller
 * serialises); different objects are independent. Design functions are
 * thread-safe. Errors follow error.h (negative DP_E* codes, dp_error_detail()). */
#ifndef DAREPLANE_FILTER_H
#define DAREPLANE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- design ---------------------------------------------------------------- */

typedef enum {
  DP_LOWPASS = 0,
  DP_HIGHPASS = 1,
  DP_BANDPASS = 2,
  DP_BANDSTOP = 3,
} dp_btype_t;

/* Highest Butterworth order dp_butter() designs. */
#define DP_BUTTER_MAX_ORDER 32

/* Number of sections dp_butter() returns for `order` and `btype`:
 * (order + 1) / 2 for low/highpass, order for band filters; a negative DP_EINVAL
 * for an order outside 1..DP_BUTTER_MAX_ORDER or an unknown btype. */
DP_EXTERN int dp_butter_sections(int order, dp_btype_t btype);

/* Designs a digital Butterworth filter of `order` (1..DP_BUTTER_MAX_ORDER) with
 * cut-off `f1_hz` (low/highpass; f2_hz is ignored) or band edges f1_hz < f2_hz
 * (bandpass/bandstop), all in Hz for the sampling rate `fs_hz`, as
 * scipy.signal.butter(order, Wn, btype, output="sos", fs=fs_hz) does.
 * Writes dp_butter_sections() x 6 doubles to `sos` (room for `max_sections`).
 * Returns the number of sections, or DP_EINVAL (order out of range, an edge
 * not inside (0, fs/2), f1 >= f2, a non-finite value) or DP_ERANGE (sos too
 * small), with a detail sentence. */
DP_EXTERN int dp_butter(int order, double f1_hz, double f2_hz, dp_btype_t btype, double fs_hz,
                        double *sos, size_t max_sections);

/* Steady state of a SOS cascade for a unit step (scipy.signal.sosfilt_zi):
 * writes n_sections x 2 doubles to `zi`. Returns 0, or DP_EINVAL (NULL, no
 * sections, a0 == 0, or a section with a pole at z = 1). */
DP_EXTERN int dp_sosfilt_zi(const double *sos, size_t n_sections, double *zi);

/* ---- filter ---------------------------------------------------------------- */

typedef struct dp_sosfilt dp_sosfilt_t;

/* How a filter's state starts (and restarts after dp_sosfilt_reset()). */
typedef enum {
  DP_ZI_ZEROS = 0,       /* all zeros: the transient of a step from 0 (scipy's default) */
  DP_ZI_STEP_SCALED = 1, /* steady state for a step scaled by each channel's first
                            sample: no start-up transient (sosfilt_zi(sos) * x[0]) */
  DP_ZI_STEP = 2,        /* unscaled steady state (sosfilt_zi(sos)), what dareplane_utils'
                            FilterBank uses; reproduces a Python module's numbers */
} dp_zi_t;

/* Maximum number of sections and of channels of one filter. */
#define DP_SOSFILT_MAX_SECTIONS 256
#define DP_SOSFILT_MAX_CHANNELS 65536

/* Creates a filter for `n_channels` channels from `n_sections` sections of 6
 * doubles each (copied; sections with a0 != 1 are normalised by a0). Each
 * section must be stable (poles strictly inside the unit circle) and finite.
 * Returns 0 and the filter in *out (free it with dp_sosfilt_free()), or
 * DP_EINVAL (NULL, zero or too many sections/channels, a0 == 0, an unstable
 * or non-finite section, unknown init) or DP_ENOMEM, with *out NULL. */
DP_EXTERN int dp_sosfilt_new(dp_sosfilt_t **out, const double *sos, size_t n_sections,
                             size_t n_channels, dp_zi_t init);

/* Frees the filter. NULL is a no-op. */
DP_EXTERN void dp_sosfilt_free(dp_sosfilt_t *f);

/* Filters `n_samples` rows of n_channels doubles from `in` to `out` (both
 * samples x channels, row-major; out may equal in), carrying the state.
 * Returns 0; 0 with nothing done for n_samples == 0; DP_EINVAL for NULL
 * pointers or a NaN/infinite input value (nothing is written and the state
 * is unchanged; the detail names the sample and channel). */
DP_EXTERN int dp_sosfilt_process(dp_sosfilt_t *f, const double *in, double *out, size_t n_samples);

/* The same for float32 input (converted exactly to float64). */
DP_EXTERN int dp_sosfilt_process_f32(dp_sosfilt_t *f, const float *in, double *out,
                                     size_t n_samples);

/* Puts the state back to its initial value (for DP_ZI_STEP_SCALED: scaled by
 * the first sample of the next call). */
DP_EXTERN void dp_sosfilt_reset(dp_sosfilt_t *f);

/* Copies the current state, n_sections x 2 x n_channels doubles in the order
 * [section][0 or 1][channel], to `zi`; or, with dp_sosfilt_set_state(), sets
 * it (every value must be finite, else DP_EINVAL and no change). */
DP_EXTERN int dp_sosfilt_state(const dp_sosfilt_t *f, double *zi);
DP_EXTERN int dp_sosfilt_set_state(dp_sosfilt_t *f, const double *zi);

DP_EXTERN size_t dp_sosfilt_channels(const dp_sosfilt_t *f);
DP_EXTERN size_t dp_sosfilt_n_sections(const dp_sosfilt_t *f);

/* ---- filter bank ---------------------------------------------------------- */

/* dareplane_utils' FilterBank in C: one Butterworth bandpass of `order` per
 * named band applied to every input channel, results (float32) kept in a ring
 * buffer of samples x channels x bands, read newest first with an output
 * transform. Differences from the Python class, on purpose: with nothing new
 * a read returns nothing (Python returns the whole buffer); n_lookback = 1
 * works (Python returns an empty array); a read can consume what it read. */

typedef struct dp_filterbank dp_filterbank_t;

typedef struct {
  const char *name; /* copied */
  double low_hz;    /* band edges, 0 < low < high < fs/2 */
  double high_hz;
} dp_band_t;

typedef enum {
  DP_FB_SIGNAL = 0, /* the filtered signal */
  DP_FB_SQUARE = 1, /* its square */
  DP_FB_ABS_MA = 2, /* trailing mean of |x| over n_lookback samples; rows before the
                       first written one count as 0, as in Python */
} dp_fb_output_t;

#define DP_FILTERBANK_MAX_BANDS 64

typedef struct {
  const dp_band_t *bands; /* n_bands bands (1..DP_FILTERBANK_MAX_BANDS), in output order */
  size_t n_bands;
  int order;             /* Butterworth order; default 8 */
  double fs_hz;          /* sampling rate; default 1000 */
  size_t n_channels;     /* input channels; default 1 */
  dp_fb_output_t output; /* default DP_FB_SIGNAL */
  double buffer_s;       /* ring buffer length, int(fs * buffer_s) samples; default 1 */
  size_t n_lookback;     /* for DP_FB_ABS_MA (>= 1); default 5 */
  dp_zi_t init;          /* initial filter state; default DP_ZI_STEP (as Python) */
} dp_filterbank_opts_t;

/* Fills *opts with the defaults above (no bands). */
DP_EXTERN void dp_filterbank_opts_init(dp_filterbank_opts_t *opts);

/* Creates a filter bank. Returns 0 and *out (free with dp_filterbank_free()),
 * or DP_EINVAL (no/too many bands, a bad band edge or order, a buffer shorter
 * than n_lookback + 1 samples, zero channels) or DP_ENOMEM, with a detail. */
DP_EXTERN int dp_filterbank_new(dp_filterbank_t **out, const dp_filterbank_opts_t *opts);

DP_EXTERN void dp_filterbank_free(dp_filterbank_t *fb);

/* Filters `n` samples x n_channels (row-major) of float32 or float64 data
 * with timestamps `times` (n doubles; NULL stores 0) and adds the results to
 * the ring buffer; n_new grows by n. Returns 0 (n == 0: nothing done),
 * DP_EINVAL for NULL data or a NaN/infinite value (no state changes). */
DP_EXTERN int dp_filterbank_filter(dp_filterbank_t *fb, const double *data, const double *times,
                                   size_t n);
DP_EXTERN int dp_filterbank_filter_f32(dp_filterbank_t *fb, const float *data, const double *times,
                                       size_t n);

/* Samples added since the last consuming read (capped at what the ring
 * buffer can give, dp_filterbank_max_read()). */
DP_EXTERN size_t dp_filterbank_n_new(const dp_filterbank_t *fb);

/* Largest n a read gives: capacity, minus n_lookback - 1 for DP_FB_ABS_MA. */
DP_EXTERN size_t dp_filterbank_max_read(const dp_filterbank_t *fb);

/* Copies the newest `n` rows after the output transform, oldest first, into
 * `out` (n x channels x bands float32) and their timestamps into `times`
 * (n doubles, may be NULL). Returns 0, DP_ERANGE when n > max_read. Does not
 * change n_new. */
DP_EXTERN int dp_filterbank_newest(const dp_filterbank_t *fb, size_t n, float *out, double *times);

/* Reads what is new (at most max_n rows, the newest) as dp_filterbank_newest()
 * does and, when `consume` is true, sets n_new to 0. Returns the number of
 * rows written (0 when nothing is new), or DP_EINVAL for NULL out. */
DP_EXTERN int dp_filterbank_read_new(dp_filterbank_t *fb, float *out, double *times, size_t max_n,
                                     bool consume);

/* Shape and design: channels, bands, ring buffer capacity (samples), the name
 * of band i (NULL out of range), the SOS of band i (order x 6 doubles, NULL
 * out of range; owned by the bank). */
DP_EXTERN size_t dp_filterbank_channels(const dp_filterbank_t *fb);
DP_EXTERN size_t dp_filterbank_bands(const dp_filterbank_t *fb);
DP_EXTERN size_t dp_filterbank_capacity(const dp_filterbank_t *fb);
DP_EXTERN const char *dp_filterbank_band_name(const dp_filterbank_t *fb, size_t i);
DP_EXTERN const double *dp_filterbank_sos(const dp_filterbank_t *fb, size_t i);

/* Zeroes the buffer and n_new and puts every filter back to its initial state. */
DP_EXTERN void dp_filterbank_reset(dp_filterbank_t *fb);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_FILTER_H */
