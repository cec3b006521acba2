/* pull.c - dp_stream_watcher_update(), the hot path: take what the recovery
 * thread may have found (one atomic load when nothing), then pull everything
 * available straight into the ring buffer's storage: one pull into the span
 * up to the end of the storage and, when that fills, one more from its
 * start (the wrap). Nothing is copied twice and nothing allocated. String
 * streams go through a small chunk instead: liblsl hands out strings it
 * allocated, which the ring buffer copies and which are freed right after.
 * Nothing here waits on the network: a lost stream is handed to the recovery
 * thread (recover.c). */
#include "common/error_internal.h"
#include "stream_watcher/watcher_internal.h"

/* One pull of at most max samples into data/times; returns samples, *ec =
 * liblsl's error code. */
static size_t pull_once(dp_stream_watcher_t *sw, void *data, double *times, size_t max,
                        int32_t *ec) {
  const dp_lsl_api_t *lsl = sw->lsl;
  unsigned long elems = (unsigned long)(max * sw->n_ch), ts = (unsigned long)max, got = 0;
  *ec = 0;
  switch (sw->dtype) {
  case DP_FLOAT32: got = lsl->pull_chunk_f(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_DOUBLE64: got = lsl->pull_chunk_d(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_INT32: got = lsl->pull_chunk_i(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_INT16: got = lsl->pull_chunk_s(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_INT8: got = lsl->pull_chunk_c(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_INT64: got = lsl->pull_chunk_l(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  case DP_STRING: got = lsl->pull_chunk_str(sw->inlet, data, times, elems, ts, 0.0, ec); break;
  }
  return *ec != 0 ? 0 : (size_t)(got / sw->n_ch);
}

/* liblsl fills every slot of a string pull with a malloc'ed string (empty
 * ones too) when the pull succeeds; give them all back. */
static void release_strings(dp_stream_watcher_t *sw) {
  for (size_t i = 0; i < DP_SW_STRING_CHUNK * sw->n_ch; i++) {
    sw->lsl->destroy_string(sw->chunk[i]);
    sw->chunk[i] = NULL;
  }
}

/* One pull into the buffer; returns samples and how many were asked for
 * (*asked), or < 0. */
static int pull_step(dp_stream_watcher_t *sw, size_t *asked, int32_t *ec) {
  if (sw->dtype == DP_STRING) {
    *asked = DP_SW_STRING_CHUNK;
    size_t n = pull_once(sw, sw->chunk, sw->chunk_t, DP_SW_STRING_CHUNK, ec);
    int added = n > 0 ? dp_ringbuffer_add(sw->rb, sw->chunk, sw->chunk_t, n) : 0;
    if (*ec == 0) release_strings(sw);
    if (added == DP_ENOMEM)
      return dp_error_set(DP_ENOMEM, "stream watcher: out of memory copying strings");
    return (int)n;
  }
  void *data;
  double *times;
  *asked = (size_t)dp_ringbuffer_write_span(sw->rb, &data, &times);
  size_t n = pull_once(sw, data, times, *asked, ec);
  if (n > 0) dp_ringbuffer_commit(sw->rb, n);
  return (int)n;
}

int dp_sw_pull(dp_stream_watcher_t *sw) {
  size_t cap = dp_ringbuffer_capacity(sw->rb);
  size_t total = 0, limit = cap > DP_SW_MAX_PULL ? cap : DP_SW_MAX_PULL;
  int rc = 0;
  for (;;) {
    int32_t ec;
    size_t asked;
    int n = pull_step(sw, &asked, &ec);
    if (ec == DP_LSL_LOST_ERROR) {
      dp_log_warning(sw->log, "LSL stream '%s' was lost; looking for it again (%s)", sw->info.name,
                     sw->recover_query);
      dp_sw_recovery_request(sw, DP_SW_REQ_LOST, sw->inlet);
      sw->inlet = NULL;
      sw->lost = true;
      break;
    }
    if (ec != 0) {
      rc = dp_error_set(DP_ELSL, "liblsl failed to pull from '%s' (error %d)", sw->info.name,
                        (int)ec);
      break;
    }
    if (n < 0) {
      rc = n;
      break;
    }
    total += (size_t)n;
    if ((size_t)n < asked || total >= limit) break;
  }
  sw->n_new += total;
  return rc != 0 ? rc : (int)total;
}

int dp_stream_watcher_update(dp_stream_watcher_t *sw) {
  if (sw == NULL || !dp_stream_watcher_connected(sw))
    return dp_error_set(DP_ESTATE, "stream watcher: not connected");
  dp_sw_recovery_take(sw);
  if (sw->inlet == NULL) return 0; /* lost: the recovery thread is looking */
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
      dp_sw_recovery_request(sw, DP_SW_REQ_CHECK, NULL);
  }
  return n;
}
