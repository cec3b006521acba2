/* watcher.c - the StreamWatcher's life cycle (new, connect, disconnect, free)
 * and its accessors; see include/dareplane/stream_watcher.h. Pulling is in
 * pull.c, metadata in metadata.c, recovery in recover.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/error_internal.h"
#include "lsl/info.h"
#include "stream_watcher/watcher_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

int dp_stream_watcher_new(dp_stream_watcher_t **out, const char *name, double buffer_s) {
  if (out == NULL) return dp_error_set(DP_EINVAL, "stream watcher: NULL out");
  *out = NULL;
  if (!(buffer_s > 0) || !isfinite(buffer_s))
    return dp_error_set(DP_EINVAL, "stream watcher: buffer_s must be > 0, got %g", buffer_s);
  dp_stream_watcher_t *sw = calloc(1, sizeof *sw);
  if (sw == NULL || (sw->name = dup_str(name ? name : "")) == NULL) {
    free(sw);
    return dp_error_set(DP_ENOMEM, "stream watcher: out of memory");
  }
  sw->buffer_s = buffer_s;
  sw->stall_s = 1.0;
  sw->max_buffer_bytes = DP_STREAM_WATCHER_MAX_BUFFER_BYTES;
  sw->log = dp_log_get("dareplane.stream_watcher");
  *out = sw;
  return 0;
}

int dp_stream_watcher_set_predicate(dp_stream_watcher_t *sw, const char *predicate) {
  if (sw == NULL) return dp_error_set(DP_EINVAL, "stream watcher: NULL watcher");
  char *p = NULL;
  if (predicate != NULL && predicate[0] != '\0' && (p = dup_str(predicate)) == NULL)
    return dp_error_set(DP_ENOMEM, "stream watcher: out of memory");
  free(sw->predicate);
  sw->predicate = p;
  return 0;
}

int dp_stream_watcher_set_postprocessing(dp_stream_watcher_t *sw, unsigned flags) {
  if (sw == NULL || (flags & ~7u) != 0)
    return dp_error_set(DP_EINVAL, "stream watcher: unknown post-processing flags 0x%x", flags);
  sw->postproc = flags;
  if (sw->inlet != NULL && sw->lsl->set_postprocessing(sw->inlet, flags) != 0)
    return dp_error_set(DP_ELSL, "liblsl refused post-processing flags 0x%x", flags);
  return 0;
}

int dp_stream_watcher_set_stall_timeout(dp_stream_watcher_t *sw, double seconds) {
  if (sw == NULL || !(seconds > 0))
    return dp_error_set(DP_EINVAL, "stream watcher: stall timeout must be > 0");
  sw->stall_s = seconds;
  return 0;
}

int dp_stream_watcher_set_max_buffer_bytes(dp_stream_watcher_t *sw, size_t bytes) {
  if (sw == NULL || bytes == 0)
    return dp_error_set(DP_EINVAL, "stream watcher: the buffer limit must be > 0 bytes");
  sw->max_buffer_bytes = bytes;
  return 0;
}

int dp_stream_watcher_set_inlet_buffer(dp_stream_watcher_t *sw, size_t samples) {
  if (sw == NULL) return dp_error_set(DP_EINVAL, "stream watcher: NULL watcher");
  sw->inlet_buffer = samples;
  return 0;
}

static void drop_connection(dp_stream_watcher_t *sw) {
  dp_sw_recovery_stop(sw);
  if (sw->inlet != NULL) sw->lsl->destroy_inlet(sw->inlet);
  sw->inlet = NULL;
  sw->lost = false;
}

void dp_stream_watcher_disconnect(dp_stream_watcher_t *sw) {
  if (sw == NULL || sw->lsl == NULL) return;
  if (sw->inlet != NULL || sw->lost)
    dp_log_info(sw->log, "disconnecting from LSL stream '%s'", sw->info.name);
  drop_connection(sw);
}

/* Everything that belongs to one connected stream: buffer, chunk, metadata. */
static void free_stream_state(dp_stream_watcher_t *sw) {
  dp_ringbuffer_free(sw->rb);
  sw->rb = NULL;
  free(sw->chunk);
  free(sw->chunk_t);
  sw->chunk = NULL;
  sw->chunk_t = NULL;
  dp_sw_free_metadata(&sw->labels, &sw->units, &sw->types, sw->n_ch);
  sw->n_ch = 0;
  if (sw->have_info) dp_lsl_info_clear(&sw->info);
  sw->have_info = false;
  free(sw->recover_query);
  sw->recover_query = NULL;
}

void dp_stream_watcher_free(dp_stream_watcher_t *sw) {
  if (sw == NULL) return;
  dp_stream_watcher_disconnect(sw);
  free_stream_state(sw);
  free(sw->name);
  free(sw->predicate);
  free(sw);
}

/* Finds the stream; on success *found is a liblsl info the caller destroys. */
static int resolve(dp_stream_watcher_t *sw, double timeout_s, lsl_streaminfo *found) {
  const dp_lsl_api_t *lsl = sw->lsl;
  lsl_streaminfo infos[16];
  const char *pred = sw->predicate;
  char by_name[1024];
  if (pred == NULL) {
    if (dp_lsl_pred_term(by_name, sizeof by_name, 0, "name", sw->name) == 0)
      return dp_error_set(DP_EINVAL, "stream name too long or holding both quote kinds: %s",
                          sw->name);
    pred = by_name;
  }
  int n = dp_lsl_resolve_poll(lsl, pred, 1, timeout_s < 0 ? DP_LSL_FOREVER : timeout_s, infos, 16);
  if (n < 0) return n;
  if (n == 0) {
    char visible[1536];
    dp_lsl_describe_visible(visible, sizeof visible, 1.0);
    return dp_error_set(DP_ETIMEDOUT, "no LSL stream %s '%s' appeared within %g s; %s",
                        sw->predicate ? "matching" : "named",
                        sw->predicate ? sw->predicate : sw->name, timeout_s, visible);
  }
  if (n > 1) dp_log_warning(sw->log, "%d LSL streams match '%s'; taking the first", n, pred);
  for (int i = 1; i < n; i++) lsl->destroy_streaminfo(infos[i]);
  *found = infos[0];
  return 0;
}

/* Checks the stream `found` before anything is opened: its format and
 * channel count, and its nominal rate, which sizes the buffer (Python:
 * int(srate * buffer_s), 1000 for irregular streams) within the buffer
 * limit. Sets dtype, n_ch, *capacity and the inlet's max_buflen. */
static int size_stream(dp_stream_watcher_t *sw, lsl_streaminfo found, size_t *capacity) {
  const dp_lsl_api_t *lsl = sw->lsl;
  const char *name = lsl->get_name(found);
  int format = (int)lsl->get_channel_format(found);
  int n_ch = (int)lsl->get_channel_count(found);
  double srate = lsl->get_nominal_srate(found);
  if (dp_dtype_size((dp_dtype_t)format) == 0 || n_ch <= 0)
    return dp_error_set(DP_ETYPE,
                        "stream '%s' has channel format %d and %d channels; cannot watch it", name,
                        format, n_ch);
  if (!isfinite(srate) || srate < 0)
    return dp_error_set(DP_ERANGE,
                        "stream '%s' declares a nominal rate of %g Hz; cannot size a buffer "
                        "from it (a finite rate >= 0 is needed; 0 means irregular)",
                        name, srate);
  double samples = srate > 0 ? floor(srate * sw->buffer_s) : 1000.0;
  if (samples < 1) samples = 1;
  double bytes = samples * ((double)n_ch * (double)dp_dtype_size((dp_dtype_t)format) + 8.0);
  if (bytes > (double)sw->max_buffer_bytes)
    return dp_error_set(DP_ETOOBIG,
                        "stream '%s' (%g Hz x %g s x %d ch %s) needs a buffer of %.0f samples "
                        "(%.0f bytes), over the limit of %zu bytes "
                        "(dp_stream_watcher_set_max_buffer_bytes)",
                        name, srate, sw->buffer_s, n_ch, dp_dtype_name((dp_dtype_t)format), samples,
                        bytes, sw->max_buffer_bytes);
  sw->dtype = (dp_dtype_t)format;
  sw->n_ch = (size_t)n_ch;
  *capacity = (size_t)samples;
  /* liblsl's inlet queue: seconds for a regular stream, hundreds of samples
   * for an irregular one; rounded up, at least 1 */
  double want = (double)(sw->inlet_buffer > 0 ? sw->inlet_buffer : *capacity);
  double buflen = ceil(srate > 0 ? want / srate : want / 100.0);
  sw->inlet_buflen = buflen < 1 ? 1 : buflen > INT32_MAX ? INT32_MAX : (int32_t)buflen;
  return 0;
}

/* The ring buffer (and, for strings, the chunk) for the connected stream. */
static int make_buffers(dp_stream_watcher_t *sw, size_t capacity) {
  int rc = dp_ringbuffer_new(&sw->rb, sw->dtype, capacity, &sw->n_ch, 1);
  if (rc != 0)
    return dp_error_set(rc, "stream watcher: cannot make a buffer of %zu x %zu %s", capacity,
                        sw->n_ch, dp_dtype_name(sw->dtype));
  if (sw->dtype == DP_STRING) {
    sw->chunk = calloc(DP_SW_STRING_CHUNK * sw->n_ch, sizeof(char *));
    sw->chunk_t = calloc(DP_SW_STRING_CHUNK, sizeof(double));
    if (sw->chunk == NULL || sw->chunk_t == NULL)
      return dp_error_set(DP_ENOMEM, "stream watcher: out of memory for a string chunk");
  } else {
    /* Write every page now (calloc maps them lazily), so that update() never
     * takes a page fault: measured at ~2x the cost of an update otherwise. */
    dp_ringbuffer_reset(sw->rb);
  }
  return 0;
}

int dp_sw_connect_with(dp_stream_watcher_t *sw, const dp_lsl_api_t *lsl, double timeout_s) {
  if (sw == NULL) return dp_error_set(DP_EINVAL, "stream watcher: NULL watcher");
  if (sw->predicate == NULL && sw->name[0] == '\0')
    return dp_error_set(DP_EINVAL, "stream watcher: neither a name nor a predicate to look for");
  if (lsl == NULL) return DP_ENOLSL;
  dp_stream_watcher_disconnect(sw);
  free_stream_state(sw);
  sw->lsl = lsl;
  sw->n_new = 0;
  sw->got_any = false;

  lsl_streaminfo found = NULL;
  int rc = resolve(sw, timeout_s, &found);
  if (rc != 0) return rc;
  size_t capacity = 0;
  dp_sw_link_t link = {0};
  rc = size_stream(sw, found, &capacity);
  if (rc == 0) rc = dp_sw_open_link(lsl, sw->log, found, sw->n_ch, sw->inlet_buflen, false, &link);
  lsl->destroy_streaminfo(found);
  if (rc == 0) {
    dp_sw_install(sw, &link);
    rc = make_buffers(sw, capacity);
  }
  if (rc == 0) rc = dp_sw_build_recover_query(sw);
  if (rc == 0) rc = dp_sw_recovery_start(sw);
  if (rc != 0) {
    drop_connection(sw);
    free_stream_state(sw);
    return rc;
  }
  char desc[512];
  dp_lsl_stream_describe(&sw->info, desc, sizeof desc);
  dp_log_info(sw->log, "connected to %s, buffer %zu samples", desc, dp_ringbuffer_capacity(sw->rb));
  rc = dp_stream_watcher_update(sw);
  return rc < 0 ? rc : 0;
}

int dp_stream_watcher_connect(dp_stream_watcher_t *sw, double timeout_s) {
  if (sw == NULL) return dp_error_set(DP_EINVAL, "stream watcher: NULL watcher");
  return dp_sw_connect_with(sw, dp_lsl_api(), timeout_s);
}

/* ---- accessors ------------------------------------------------------------ */

bool dp_stream_watcher_connected(const dp_stream_watcher_t *sw) {
  return sw != NULL && (sw->inlet != NULL || sw->lost);
}

uint64_t dp_stream_watcher_n_new(const dp_stream_watcher_t *sw) {
  return sw->n_new;
}

void dp_stream_watcher_clear_new(dp_stream_watcher_t *sw) {
  sw->n_new = 0;
}

const dp_ringbuffer_t *dp_stream_watcher_buffer(const dp_stream_watcher_t *sw) {
  return sw->rb;
}

int dp_stream_watcher_unfold(const dp_stream_watcher_t *sw, void *data, double *times) {
  if (sw == NULL || sw->rb == NULL)
    return dp_error_set(DP_ESTATE, "stream watcher: not connected yet");
  return dp_ringbuffer_unfold(sw->rb, data, times);
}

int dp_stream_watcher_newest(const dp_stream_watcher_t *sw, size_t n, void *data, double *times) {
  if (sw == NULL || sw->rb == NULL)
    return dp_error_set(DP_ESTATE, "stream watcher: not connected yet");
  int rc = dp_ringbuffer_newest(sw->rb, n, data, times);
  if (rc != 0)
    return dp_error_set(rc,
                        "stream watcher: asked for the newest %zu samples of a %zu-sample buffer",
                        n, dp_ringbuffer_capacity(sw->rb));
  return 0;
}

int dp_stream_watcher_peek_new(const dp_stream_watcher_t *sw, dp_ringbuffer_view_t *view) {
  if (sw == NULL || sw->rb == NULL)
    return dp_error_set(DP_ESTATE, "stream watcher: not connected yet");
  return dp_ringbuffer_peek_new(sw->rb, view);
}

int dp_stream_watcher_consume(dp_stream_watcher_t *sw, size_t n) {
  if (sw == NULL || sw->rb == NULL)
    return dp_error_set(DP_ESTATE, "stream watcher: not connected yet");
  return dp_ringbuffer_consume(sw->rb, n);
}

int dp_stream_watcher_read_new(dp_stream_watcher_t *sw, void *data, double *times, size_t max_n,
                               uint64_t *overrun) {
  if (sw == NULL || sw->rb == NULL)
    return dp_error_set(DP_ESTATE, "stream watcher: not connected yet");
  return dp_ringbuffer_read_new(sw->rb, data, times, max_n, overrun);
}

double dp_stream_watcher_last_time(const dp_stream_watcher_t *sw) {
  return sw->rb != NULL ? dp_ringbuffer_last_time(sw->rb) : 0.0;
}

const dp_lsl_stream_info_t *dp_stream_watcher_info(const dp_stream_watcher_t *sw) {
  return sw->have_info ? &sw->info : NULL;
}

size_t dp_stream_watcher_channel_count(const dp_stream_watcher_t *sw) {
  return sw->n_ch;
}

dp_dtype_t dp_stream_watcher_dtype(const dp_stream_watcher_t *sw) {
  return sw->dtype;
}

const char *dp_stream_watcher_label(const dp_stream_watcher_t *sw, size_t i) {
  return sw->labels != NULL && i < sw->n_ch ? sw->labels[i] : NULL;
}

const char *dp_stream_watcher_unit(const dp_stream_watcher_t *sw, size_t i) {
  return sw->units != NULL && i < sw->n_ch ? sw->units[i] : NULL;
}

const char *dp_stream_watcher_channel_type(const dp_stream_watcher_t *sw, size_t i) {
  return sw->types != NULL && i < sw->n_ch ? sw->types[i] : NULL;
}

double dp_stream_watcher_seconds_since_last(const dp_stream_watcher_t *sw) {
  if (!sw->got_any) return -1.0;
  return (double)(uv_hrtime() - sw->last_rx_ns) / 1e9;
}

bool dp_stream_watcher_is_flowing(const dp_stream_watcher_t *sw) {
  if (sw->inlet == NULL) return false; /* disconnected or lost */
  if (sw->info.nominal_srate <= 0) return true;
  double since = dp_stream_watcher_seconds_since_last(sw);
  return since >= 0 && since < sw->stall_s;
}

unsigned dp_stream_watcher_recoveries(const dp_stream_watcher_t *sw) {
  return sw->recoveries;
}
