/* lsl_outlet.h - publishing an LSL stream: enough for a module that sends
 * markers or processed signals.
 *
 *     const char *labels[] = {"C3", "C4"};
 *     dp_lsl_outlet_config_t cfg = {.name = "decoded", .type = "EEG",
 *                                   .channels = 2, .srate = 100,
 *                                   .format = DP_FLOAT32, .labels = labels};
 *     dp_lsl_outlet_t *out;
 *     if (dp_lsl_outlet_new(&out, &cfg) < 0) puts(dp_error_detail());
 *     dp_lsl_outlet_push(out, samples, n, NULL);   // stamped "now"
 *     dp_lsl_outlet_free(out);
 *
 * Thread-safety: liblsl's outlets may be pushed to from several threads; the
 * handle itself must not be freed while another thread uses it. Errors follow
 * error.h; DP_ENOLSL when liblsl cannot be loaded (see lsl.h). */
#ifndef DAREPLANE_LSL_OUTLET_H
#define DAREPLANE_LSL_OUTLET_H

#include <stddef.h>

#include "common.h"
#include "error.h"
#include "ringbuffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An LSL outlet (opaque; dp_lsl_outlet_new() makes one). */
typedef struct dp_lsl_outlet dp_lsl_outlet_t;

/* What to publish. Strings are copied by dp_lsl_outlet_new(). */
typedef struct dp_lsl_outlet_config {
  const char *name;          /* required, non-empty */
  const char *type;          /* e.g. "EEG", "Markers"; NULL = "" */
  size_t channels;           /* >= 1 */
  double srate;              /* nominal rate in Hz; 0 = irregular (markers) */
  dp_dtype_t format;         /* element type = LSL channel format */
  const char *source_id;     /* recommended: lets inlets recover a restarted outlet; NULL = "" */
  const char *const *labels; /* NULL, or `channels` labels written to desc/channels */
  const char *const *units;  /* NULL, or `channels` units */
  int chunk_size;            /* 0 = liblsl's default (send as pushed) */
  int max_buffered_s;        /* 0 = liblsl's default (360 s) */
} dp_lsl_outlet_config_t;

/* Creates the outlet (visible on the network at once) and stores it in *out;
 * the caller frees it with dp_lsl_outlet_free().
 * Returns 0; DP_EINVAL (NULL/empty name, 0 channels, negative or non-finite
 * srate, unknown format), DP_ENOLSL, DP_ELSL, DP_ENOMEM. */
DP_EXTERN int dp_lsl_outlet_new(dp_lsl_outlet_t **out, const dp_lsl_outlet_config_t *cfg);

/* Pushes `n` samples (n x channels elements of the outlet's format,
 * sample-major; for DP_STRING `const char *` each, NUL-terminated) and sends
 * them at once. `times` holds n LSL timestamps (dp_lsl_local_clock() scale),
 * or is NULL: then the newest sample is stamped now and the earlier ones are
 * spaced by 1/srate before it (all now for an irregular stream), as liblsl
 * does. Returns 0; DP_EINVAL (NULL pointers) or DP_ELSL. n == 0 is a no-op. */
DP_EXTERN int dp_lsl_outlet_push(dp_lsl_outlet_t *out, const void *samples, size_t n,
                                 const double *times);

/* 1 when at least one inlet is connected, 0 when none. */
DP_EXTERN int dp_lsl_outlet_have_consumers(const dp_lsl_outlet_t *out);

/* Waits up to `timeout_s` for an inlet to connect. Returns 1 (one is there)
 * or 0 (timed out). */
DP_EXTERN int dp_lsl_outlet_wait_for_consumers(const dp_lsl_outlet_t *out, double timeout_s);

/* Channel count and format of the outlet. */
DP_EXTERN size_t dp_lsl_outlet_channels(const dp_lsl_outlet_t *out);
DP_EXTERN dp_dtype_t dp_lsl_outlet_format(const dp_lsl_outlet_t *out);

/* Destroys the outlet (it disappears from the network). NULL is a no-op. */
DP_EXTERN void dp_lsl_outlet_free(dp_lsl_outlet_t *out);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LSL_OUTLET_H */
