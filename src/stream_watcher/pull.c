/* pull.c - dp_stream_watcher_update(): drains the inlet into the chunk buffer
 * allocated at connect time and from there into the ring buffer. Numeric
 * formats allocate nothing here; strings come from liblsl as malloc'ed copies
 * that the ring buffer copies and that are freed right after. */
#include <uv.h>

#include "common/error_internal.h"
#include "stream_watcher/watcher_internal.h"

/* One pull of at most chunk_samples; returns samples (>= 0), *ec = liblsl's. */
static size_t pull_once(dp_stream_watcher_t *sw, int32_t *ec) {
  const dp_lsl_api_t *lsl = sw->lsl;
  unsigned long elems = (unsigned long)(sw->chunk_samples * sw->n_ch);
  unsigned long ts = (unsigned long)sw->chunk_samples;
  unsigned long got = 0;
  *ec = 0;
  switch (sw->dtype) {
  case DP_FLOAT32:
    got = lsl->pull_chunk_f(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_DOUBLE64:
    got = lsl->pull_chunk_d(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_INT32:
    got = lsl->pull_chunk_i(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_INT16:
    got = lsl->pull_chunk_s(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_INT8:
    got = lsl->pull_chunk_c(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_INT64:
    got = lsl->pull_chunk_l(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  case DP_STRING:
    got = lsl->pull_chunk_str(sw->inlet, sw->chunk, sw->chunk_t, elems, ts, 0.0, ec);
    break;
  }
  return *ec != 0 ? 0 : (size_t)(got / sw->n_ch);
}

/* liblsl fills every slot of a string pull with a malloc'ed string (empty
 * ones too) when the pull succeeds; give them all back. */
static void release_strings(dp_stream_watcher_t *sw) {
  char **s = sw->chunk;
  for (size_t i = 0; i < sw->chunk_samples * sw->n_ch; i++) {
    sw->lsl->destroy_string(s[i]);
    s[i] = NULL;
  }
}

int dp_sw_pull(dp_stream_watcher_t *sw) {
  size_t total = 0, limit = sw->chunk_samples > DP_SW_MAX_PULL ? sw->chunk_samples : DP_SW_MAX_PULL;
  int rc = 0;
  for (;;) {
    int32_t ec;
    size_t n = pull_once(sw, &ec);
    if (ec == DP_LSL_LOST_ERROR) {
      dp_sw_on_lost(sw);
      break;
    }
    if (ec != 0) {
      rc = dp_error_set(DP_ELSL, "liblsl failed to pull from '%s' (error %d)", sw->info.name,
                        (int)ec);
      break;
    }
    int added = n > 0 ? dp_ringbuffer_add(sw->rb, sw->chunk, sw->chunk_t, n) : 0;
    if (sw->dtype == DP_STRING) release_strings(sw);
    if (added == DP_ENOMEM) {
      rc = dp_error_set(DP_ENOMEM, "stream watcher: out of memory copying strings");
      break;
    }
    total += n;
    if (n < sw->chunk_samples || total >= limit) break;
  }
  sw->n_new += total;
  return rc != 0 ? rc : (int)total;
}

int dp_stream_watcher_update(dp_stream_watcher_t *sw) {
  if (sw == NULL || !dp_stream_watcher_connected(sw))
    return dp_error_set(DP_ESTATE, "stream watcher: not connected");
  if (sw->lost) {
    dp_sw_try_reconnect(sw);
    if (sw->lost) return 0;
  }
  int n = dp_sw_pull(sw);
  if (n > 0) {
    uint64_t now = uv_hrtime();
    bool resumed = sw->got_any && (double)(now - sw->last_rx_ns) / 1e9 >= sw->stall_s;
    sw->last_rx_ns = now;
    sw->got_any = true;
    /* liblsl recovers streams with a source_id silently: notice it by the
     * clock reset it reports, or by samples resuming after a stall. */
    if (sw->inlet != NULL && sw->info.source_id[0] != '\0' &&
        (sw->lsl->was_clock_reset(sw->inlet) || resumed))
      dp_sw_start_restart_check(sw);
  }
  if (!sw->lost && sw->resolver != NULL) dp_sw_poll_restart_check(sw);
  return n;
}
