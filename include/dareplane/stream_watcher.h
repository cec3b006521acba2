/* stream_watcher.h - the StreamWatcher: an LSL inlet feeding a ring buffer,
 * the C counterpart of dareplane_utils' StreamWatcher (reference §3).
 *
 *     dp_stream_watcher_t *sw;
 *     dp_stream_watcher_new(&sw, "mock_EEG_stream", 2.0);
 *     if (dp_stream_watcher_connect(sw, 5.0) < 0) puts(dp_error_detail());
 *     while (running) {                             // e.g. !dp_stop_requested(stop)
 *       dp_stream_watcher_update_wait(sw, 0.1);    // sleeps until data, <= 0.1 s
 *       dp_ringbuffer_view_t v;                    // what arrived since the last look
 *       dp_stream_watcher_peek_new(sw, &v);        // v.count == 0: nothing new
 *       process(v.data[0], v.times[0], v.n[0]);    // zero-copy, oldest first,
 *       process(v.data[1], v.times[1], v.n[1]);    // at most two spans
 *       dp_stream_watcher_consume(sw, v.count);
 *     }
 *     dp_stream_watcher_free(sw);
 *
 * Behaviour, as in Python unless said otherwise:
 * - The stream is found by name (first match wins when several share it), or
 *   by any liblsl predicate (dp_stream_watcher_set_predicate), with a timeout
 *   (Python waits forever); on timeout the error lists the visible streams.
 * - The buffer holds int(nominal_srate * buffer_s) samples (1000 for an
 *   irregular stream) x channel_count, of the stream's element type
 *   (dp_dtype_t value = LSL channel format). A stream whose nominal rate is
 *   NaN, infinite or negative is refused (DP_ERANGE), and so is one whose
 *   buffer would exceed the limit (DP_ETOOBIG; default
 *   DP_STREAM_WATCHER_MAX_BUFFER_BYTES, 1 GiB, counting samples and
 *   timestamps; dp_stream_watcher_set_max_buffer_bytes).
 * - liblsl's own queue for the inlet is sized from the buffer: it holds as
 *   much as the ring buffer (rounded up to whole seconds; hundreds of
 *   samples for irregular streams) instead of liblsl's default of 6 minutes
 *   (dp_stream_watcher_set_inlet_buffer).
 * - update() pulls everything available (at least 32768 samples a call when
 *   that many are waiting) straight into the ring buffer's storage and adds
 *   the count to n_new. Strings are copied into the buffer (owned by it).
 *   update_wait() does the same but, when nothing is waiting, sleeps until a
 *   sample arrives (reacting to it at once, without polling) or a timeout
 *   passes; Python polls with update() and a sleep instead.
 * - Reading: the Python way (n_new, newest, unfold, clear_new), or the
 *   read-new functions (peek_new, consume, read_new), which give exactly the
 *   samples that arrived since the last consume, nothing when nothing is
 *   new, and an overrun count when more arrived than the buffer holds. The
 *   two are independent: consuming does not clear n_new, nor the reverse.
 * - Channel labels come from the stream's metadata (desc/channels/channel/
 *   label, also unit and type), defaulting to ch_1..ch_N; they are read again
 *   on every (re)connection.
 * - Faults: an outlet that goes away and comes back is picked up again without
 *   the caller doing anything: liblsl's own recovery for streams with a
 *   source_id (the watcher notices it and re-reads the metadata when the
 *   outlet is a new one); for streams without one liblsl gives up, and the
 *   watcher's recovery thread then looks for a stream of the same name,
 *   type, channel count and format and opens it. All waiting on the network
 *   happens on that thread; update() only takes over the opened inlet and
 *   new metadata (a pointer swap), so it never blocks. The buffer and its
 *   data are kept across a recovery.
 *   is_flowing()/seconds_since_last() tell whether data arrives.
 * - Clock synchronisation and dejitter (liblsl post-processing) are off by
 *   default, as in Python.
 * - Real-time: a loop that needs a short, steady push -> visible latency on a
 *   busy machine calls dp_thread_set_realtime() (time.h) before connect():
 *   liblsl's receiving thread (created with the inlet) and the recovery
 *   thread (and the inlets it opens) then inherit SCHED_FIFO on Linux.
 *
 * Thread-safety: a watcher is not locked; call its functions from one thread
 * at a time (several watchers may live on several threads). Each connected
 * watcher runs one recovery thread of its own, which touches only its own
 * state; it is stopped by disconnect/free. Errors follow
 * error.h; on failure dp_error_detail() says what happened. Every LSL call
 * fails with DP_ENOLSL when liblsl cannot be loaded (see lsl.h). */
#ifndef DAREPLANE_STREAM_WATCHER_H
#define DAREPLANE_STREAM_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "error.h"
#include "lsl.h"
#include "ringbuffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A StreamWatcher (opaque; dp_stream_watcher_new() makes one). */
typedef struct dp_stream_watcher dp_stream_watcher_t;

/* Default limit on the size of a watcher's buffer, in bytes (samples and
 * timestamps). */
#define DP_STREAM_WATCHER_MAX_BUFFER_BYTES ((size_t)1 << 30)

/* Longest wait of dp_stream_watcher_update_wait(), in seconds (about 11.6
 * days): a longer timeout counts as this. */
#define DP_STREAM_WATCHER_MAX_WAIT 1e6

/* liblsl post-processing flags (values equal liblsl's). */
enum {
  DP_LSL_CLOCKSYNC = 1, /* translate timestamps into the local liblsl clock */
  DP_LSL_DEJITTER = 2,  /* smooth timestamps of regular streams */
  DP_LSL_MONOTONIZE = 4 /* force timestamps to increase */
};

/* Creates a watcher for the stream called `name` (may be NULL or "" when a
 * predicate is set before connecting) with a buffer of `buffer_s` seconds
 * (> 0; Python's default is 2). Nothing is resolved yet. The caller owns the
 * watcher and frees it with dp_stream_watcher_free().
 * Returns 0; DP_EINVAL (NULL out, buffer_s <= 0 or not finite) or DP_ENOMEM. */
DP_EXTERN int dp_stream_watcher_new(dp_stream_watcher_t **out, const char *name, double buffer_s);

/* Makes the next connect look the stream up by an XPath predicate as liblsl
 * takes it ("type='EEG'", "source_id='amp-1'", "name='x' and hostname='h'")
 * instead of by name. NULL or "" returns to lookup by name. Copied.
 * Returns 0, DP_EINVAL or DP_ENOMEM. */
DP_EXTERN int dp_stream_watcher_set_predicate(dp_stream_watcher_t *sw, const char *predicate);

/* Sets liblsl post-processing (DP_LSL_CLOCKSYNC | DP_LSL_DEJITTER | ...; 0 =
 * none, the default). Applies at once when connected and on every later
 * connection. Returns 0, DP_EINVAL (unknown flag) or DP_ELSL. */
DP_EXTERN int dp_stream_watcher_set_postprocessing(dp_stream_watcher_t *sw, unsigned flags);

/* Seconds without a sample after which a regular stream counts as not flowing
 * (default 1.0; > 0). */
DP_EXTERN int dp_stream_watcher_set_stall_timeout(dp_stream_watcher_t *sw, double seconds);

/* Limit on the buffer a stream may ask for, in bytes of samples plus
 * timestamps (default DP_STREAM_WATCHER_MAX_BUFFER_BYTES, 1 GiB; > 0).
 * Applies at the next connect. Returns 0 or DP_EINVAL. */
DP_EXTERN int dp_stream_watcher_set_max_buffer_bytes(dp_stream_watcher_t *sw, size_t bytes);

/* How many samples liblsl may queue for this watcher between two updates
 * (older ones are dropped by liblsl, as the ring buffer would overwrite
 * them). 0, the default, means as many as the ring buffer holds. liblsl
 * takes whole seconds (regular streams) or hundreds of samples (irregular),
 * so the value is rounded up to those. Applies at the next connect.
 * Returns 0 or DP_EINVAL. */
DP_EXTERN int dp_stream_watcher_set_inlet_buffer(dp_stream_watcher_t *sw, size_t samples);

/* Resolves the stream (by name or predicate), opens an inlet, reads the
 * metadata and creates a new buffer; waits at most `timeout_s` seconds for the
 * stream to appear (< 0: forever, like Python). When connected already, the
 * old connection and buffer are dropped first. Like Python, it ends with one
 * update() so that the stream is open.
 * Returns 0; DP_ETIMEDOUT when no stream matched (the detail lists the
 * visible streams); DP_ETYPE for a stream of undefined channel format or
 * zero channels; DP_ERANGE for a nominal rate that is NaN, infinite or
 * negative; DP_ETOOBIG for a buffer over the limit; DP_ELSL when liblsl
 * fails; DP_ESYS when the recovery thread cannot start; DP_ENOLSL;
 * DP_ENOMEM. */
DP_EXTERN int dp_stream_watcher_connect(dp_stream_watcher_t *sw, double timeout_s);

/* Pulls all available samples into the buffer without waiting, ever: not
 * for new samples, and not for a restarted outlet (the recovery thread
 * opens it; update() takes it over when it is ready). Returns the number of
 * samples pulled (0 if none), adding it to n_new; DP_ESTATE when not
 * connected; DP_ELSL when liblsl fails; DP_ENOMEM if a string could not be
 * copied. A lost stream is not an error: update() returns 0 while the
 * recovery thread looks for the stream again. */
DP_EXTERN int dp_stream_watcher_update(dp_stream_watcher_t *sw);

/* update(), but when no sample is waiting it blocks until one arrives or
 * `timeout_s` seconds pass (finite, >= 0; 0 is update(); over
 * DP_STREAM_WATCHER_MAX_WAIT counts as that), then pulls everything that is
 * there. The caller's thread sleeps in liblsl (a condition variable its data
 * thread signals per sample): no spinning, no polling. It never waits on the
 * network beyond the timeout: while a lost stream is being recovered it
 * sleeps until the recovery thread has the stream back (then goes on
 * waiting for data on it) or the timeout passes; a stream lost during the
 * wait is noticed within 0.25 s. A sample stamped exactly 0.0 is taken for
 * "none" (liblsl's convention) and dropped.
 * Returns the number of samples pulled (>= 1), 0 when the timeout passed
 * without one; DP_EINVAL for a timeout that is negative, NaN or infinite;
 * otherwise as update().
 * Stopping a waiting thread: nothing but data or the timeout ends the wait,
 * so a worker waits with a short timeout (e.g. 0.1 s) and checks its stop
 * flag (dp_stop_requested()) between waits; stopping then takes at most that
 * timeout. */
DP_EXTERN int dp_stream_watcher_update_wait(dp_stream_watcher_t *sw, double timeout_s);

/* Closes the inlet and stops the recovery thread (the buffer and metadata
 * stay readable). Waits for a reopen in progress on that thread (at most 5 s
 * for each of liblsl's steps). No-op when not connected. */
DP_EXTERN void dp_stream_watcher_disconnect(dp_stream_watcher_t *sw);

/* Disconnects and frees everything. NULL is a no-op. */
DP_EXTERN void dp_stream_watcher_free(dp_stream_watcher_t *sw);

/* ---- state and data (valid after a successful connect) ------------------- */

/* True between a successful connect and disconnect (also while a lost outlet
 * is being recovered: the watcher stays connected to the stream by name). */
DP_EXTERN bool dp_stream_watcher_connected(const dp_stream_watcher_t *sw);

/* Samples pulled since the caller last cleared the count (Python's n_new;
 * may exceed the buffer's capacity). */
DP_EXTERN uint64_t dp_stream_watcher_n_new(const dp_stream_watcher_t *sw);
DP_EXTERN void dp_stream_watcher_clear_new(dp_stream_watcher_t *sw);

/* The ring buffer (borrowed; NULL before the first connect). Read it with the
 * functions of ringbuffer.h; it changes only in update() and connect(). */
DP_EXTERN const dp_ringbuffer_t *dp_stream_watcher_buffer(const dp_stream_watcher_t *sw);

/* What arrived since the last consume (see ringbuffer.h): views into the
 * buffer, valid until the next update(), connect() or free; copying with
 * read_new(). The read mark starts at connect (a new buffer) and survives
 * recoveries. DP_ESTATE before the first connect. */
DP_EXTERN int dp_stream_watcher_peek_new(const dp_stream_watcher_t *sw, dp_ringbuffer_view_t *view);
DP_EXTERN int dp_stream_watcher_consume(dp_stream_watcher_t *sw, size_t n);
DP_EXTERN int dp_stream_watcher_read_new(dp_stream_watcher_t *sw, void *data, double *times,
                                         size_t max_n, uint64_t *overrun);

/* Shortcuts onto the buffer: see dp_ringbuffer_unfold(), dp_ringbuffer_newest()
 * and dp_ringbuffer_last_time(). DP_ESTATE before the first connect. */
DP_EXTERN int dp_stream_watcher_unfold(const dp_stream_watcher_t *sw, void *data, double *times);
DP_EXTERN int dp_stream_watcher_newest(const dp_stream_watcher_t *sw, size_t n, void *data,
                                       double *times);
DP_EXTERN double dp_stream_watcher_last_time(const dp_stream_watcher_t *sw);

/* The connected stream as it was resolved (borrowed until the next update
 * or connect; NULL before the first connect). After a recovery it describes
 * the new outlet (new uid). */
DP_EXTERN const dp_lsl_stream_info_t *dp_stream_watcher_info(const dp_stream_watcher_t *sw);
DP_EXTERN size_t dp_stream_watcher_channel_count(const dp_stream_watcher_t *sw);
DP_EXTERN dp_dtype_t dp_stream_watcher_dtype(const dp_stream_watcher_t *sw);

/* Channel i's label (ch_<i+1> by default), unit and type ("" when the
 * metadata has none). Borrowed until the next connect or update; NULL for
 * an index out of range. */
DP_EXTERN const char *dp_stream_watcher_label(const dp_stream_watcher_t *sw, size_t i);
DP_EXTERN const char *dp_stream_watcher_unit(const dp_stream_watcher_t *sw, size_t i);
DP_EXTERN const char *dp_stream_watcher_channel_type(const dp_stream_watcher_t *sw, size_t i);

/* True when connected and a sample arrived within the stall timeout; for an
 * irregular stream (markers), true while the inlet is connected and not lost. */
DP_EXTERN bool dp_stream_watcher_is_flowing(const dp_stream_watcher_t *sw);

/* Seconds since an update() last received a sample (monotonic clock of this
 * process), or a negative value when none has arrived since connect. */
DP_EXTERN double dp_stream_watcher_seconds_since_last(const dp_stream_watcher_t *sw);

/* How often the stream came back from a new outlet (a restart): reconnections
 * by the watcher, and liblsl's recoveries onto a new outlet. */
DP_EXTERN unsigned dp_stream_watcher_recoveries(const dp_stream_watcher_t *sw);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_STREAM_WATCHER_H */
