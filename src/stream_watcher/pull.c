/* pull.c - dp_stream_watcher_update() and _update_wait(), the hot path: take
 * what the recovery thread may have found (one atomic load when nothing),
 * then pull everything available straight into the ring buffer's storage:
 * one pull into the span up to the end of the storage and, when that fills,
 * one more from its start (the wrap). Nothing is copied twice and nothing
 * allocated. String streams go through a small chunk instead: liblsl hands
 * out strings it allocated, which the ring buffer copies and which are freed
 * right after. Nothing here waits on the network: a lost stream is handed to
 * the recovery thread (recover.c).
 *
 * update_wait() blocks for the first sample only: liblsl's chunk pulls with
 * a timeout wait until the whole chunk is full, so it waits in a one-sample
 * pull (liblsl sleeps on a condition variable until its data thread queues a
 * sample) and then drains the rest without waiting. liblsl reports "no
 * sample" as timestamp 0.0, so a sample stamped exactly 0.0 reads as none,
 * as in liblsl's own chunk pulls. */
#include <math.h>

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

/* Copies n string samples from the chunk into the buffer and gives every
 * string liblsl allocated back: a successful pull fills every slot it was
 * given (empty ones too); the others stay NULL. Returns 0 or DP_ENOMEM. */
static int add_strings(dp_stream_watcher_t *sw, size_t n) {
  int added = n > 0 ? dp_ringbuffer_add(sw->rb, sw->chunk, sw->chunk_t, n) : 0;
  for (size_t i = 0; i < DP_SW_STRING_CHUNK * sw->n_ch; i++) {
    sw->lsl->destroy_string(sw->chunk[i]);
    sw->chunk[i] = NULL;
  }
  if (added == DP_ENOMEM)
    return dp_error_set(DP_ENOMEM, "stream watcher: out of memory copying strings");
  return 0;
}

/* One pull into the buffer; returns samples and how many were asked for
 * (*asked), or < 0. */
static int pull_step(dp_stream_watcher_t *sw, size_t *asked, int32_t *ec) {
  if (sw->dtype == DP_STRING) {
    *asked = DP_SW_STRING_CHUNK;
    size_t n = pull_once(sw, sw->chunk, sw->chunk_t, DP_SW_STRING_CHUNK, ec);
    if (*ec != 0) return 0;
    int rc = add_strings(sw, n);
    return rc < 0 ? rc : (int)n;
  }
  void *data;
  double *times;
  *asked = (size_t)dp_ringbuffer_write_span(sw->rb, &data, &times);
  size_t n = pull_once(sw, data, times, *asked, ec);
  if (n > 0) dp_ringbuffer_commit(sw->rb, n);
  return (int)n;
}

/* A pull failed with liblsl's error `ec`: a lost stream goes to the recovery
 * thread (not an error: 0); anything else is DP_ELSL. */
static int pull_failed(dp_stream_watcher_t *sw, int32_t ec) {
  if (ec != DP_LSL_LOST_ERROR)
    return dp_error_set(DP_ELSL, "liblsl failed to pull from '%s' (error %d)", sw->info.name,
                        (int)ec);
  dp_log_warning(sw->log, "LSL stream '%s' was lost; looking for it again (%s)", sw->info.name,
                 sw->recover_query);
  dp_sw_recovery_request(sw, DP_SW_REQ_LOST, sw->inlet);
  sw->inlet = NULL;
  sw->lost = true;
  return 0;
}

int dp_sw_pull(dp_stream_watcher_t *sw) {
  size_t cap = dp_ringbuffer_capacity(sw->rb);
  size_t total = 0, limit = cap > DP_SW_MAX_PULL ? cap : DP_SW_MAX_PULL;
  int rc = 0;
  for (;;) {
    int32_t ec;
    size_t asked;
    int n = pull_step(sw, &asked, &ec);
    if (ec != 0) {
      rc = pull_failed(sw, ec);
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

/* Waits up to `timeout` s for one sample and adds it to the buffer (and to
 * n_new): a numeric one straight into the ring's storage (liblsl's untyped
 * pull: the stream's own format, the sample's exact size), a string one
 * through the chunk. Returns 1, 0 when none came, or < 0; *ec = liblsl's
 * error code. */
static int pull_one(dp_stream_watcher_t *sw, double timeout, int32_t *ec) {
  const dp_lsl_api_t *lsl = sw->lsl;
  double t;
  *ec = 0;
  if (sw->dtype == DP_STRING) {
    t = lsl->pull_sample_str(sw->inlet, sw->chunk, (int32_t)sw->n_ch, timeout, ec);
    if (*ec != 0) return 0;
    sw->chunk_t[0] = t;
    int rc = add_strings(sw, t != 0.0 ? 1 : 0);
    if (rc < 0) return rc;
  } else {
    void *data;
    double *times;
    dp_ringbuffer_write_span(sw->rb, &data, &times);
    int32_t bytes = (int32_t)(sw->n_ch * dp_dtype_size(sw->dtype));
    t = lsl->pull_sample_v(sw->inlet, data, bytes, timeout, ec);
    if (*ec != 0 || t == 0.0) return 0;
    times[0] = t;
    dp_ringbuffer_commit(sw->rb, 1);
  }
  if (t == 0.0) return 0;
  sw->n_new++;
  return 1;
}

/* After an update that got samples: the flow clock, and liblsl's silent
 * recovery of streams with a source_id, noticed by the clock reset it
 * reports or by samples resuming after a stall. */
static void note_arrival(dp_stream_watcher_t *sw) {
  uint64_t now = uv_hrtime();
  bool resumed = sw->got_any && (double)(now - sw->last_rx_ns) / 1e9 >= sw->stall_s;
  sw->last_rx_ns = now;
  sw->got_any = true;
  if (sw->inlet != NULL && sw->info.source_id[0] != '\0' &&
      (sw->lsl->was_clock_reset(sw->inlet) || resumed))
    dp_sw_recovery_request(sw, DP_SW_REQ_CHECK, NULL);
}

int dp_stream_watcher_update(dp_stream_watcher_t *sw) {
  if (sw == NULL || !dp_stream_watcher_connected(sw))
    return dp_error_set(DP_ESTATE, "stream watcher: not connected");
  dp_sw_recovery_take(sw);
  if (sw->inlet == NULL) return 0; /* lost: the recovery thread is looking */
  int n = dp_sw_pull(sw);
  if (n > 0) note_arrival(sw);
  return n;
}

int dp_stream_watcher_update_wait(dp_stream_watcher_t *sw, double timeout_s) {
  if (sw == NULL || !dp_stream_watcher_connected(sw))
    return dp_error_set(DP_ESTATE, "stream watcher: not connected");
  if (!(timeout_s >= 0) || !isfinite(timeout_s))
    return dp_error_set(DP_EINVAL, "stream watcher: a wait needs a finite timeout >= 0, got %g",
                        timeout_s);
  if (timeout_s > DP_STREAM_WATCHER_MAX_WAIT) timeout_s = DP_STREAM_WATCHER_MAX_WAIT;
  uint64_t deadline = uv_hrtime() + (uint64_t)(timeout_s * 1e9);
  for (;;) {
    uint64_t now = uv_hrtime();
    double left = now < deadline ? (double)(deadline - now) / 1e9 : 0.0;
    double slice = left < DP_SW_WAIT_SLICE ? left : DP_SW_WAIT_SLICE;
    dp_sw_recovery_take(sw);
    if (sw->inlet == NULL) {
      dp_sw_recovery_wait(sw, slice); /* lost: until the recovery thread has it */
    } else {
      int32_t ec;
      int n = pull_one(sw, slice, &ec);
      if (ec != 0) n = pull_failed(sw, ec);
      if (n < 0) return n;
      if (n == 1) {
        int rest = sw->inlet != NULL ? dp_sw_pull(sw) : 0;
        if (rest < 0) return rest;
        note_arrival(sw);
        return 1 + rest;
      }
    }
    if (left <= 0.0) return 0;
  }
}
