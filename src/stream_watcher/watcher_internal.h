/* watcher_internal.h - the StreamWatcher's state, shared by its files:
 * watcher.c (life cycle, accessors), pull.c (update), metadata.c (labels),
 * recover.c (finding a restarted outlet again). Not installed. */
#ifndef DP_WATCHER_INTERNAL_H
#define DP_WATCHER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "dareplane/log.h"
#include "dareplane/stream_watcher.h"
#include "lsl/lsl_api.h"

/* inlet buffer in seconds (liblsl's and pylsl's default) */
#define DP_SW_INLET_BUFLEN 360
/* seconds to wait for the full info and the stream to open once resolved */
#define DP_SW_OPEN_TIMEOUT 5.0
/* samples per pull for string streams (liblsl allocates every slot per pull) */
#define DP_SW_STRING_CHUNK 64
/* Python's upper bound of samples per pull; update() pulls at least this many
 * when they are waiting */
#define DP_SW_MAX_PULL 32768

struct dp_stream_watcher {
  char *name;      /* lookup by name (may be empty when a predicate is set) */
  char *predicate; /* lookup by predicate when not NULL */
  double buffer_s;
  double stall_s;
  unsigned postproc;
  const dp_lsl_api_t *lsl; /* set by the first connect */
  dp_logger_t *log;

  lsl_inlet inlet;                  /* NULL when disconnected or lost */
  bool lost;                        /* connected, but the outlet is gone */
  lsl_continuous_resolver resolver; /* looking for the outlet while lost, or
                                       for a new outlet during a restart check */
  uint64_t check_until_ns;          /* end of the restart check */
  char *recover_query;              /* predicate matching a restarted outlet */
  dp_lsl_stream_info_t info;        /* the stream as connected */
  bool have_info;

  dp_ringbuffer_t *rb;
  dp_dtype_t dtype;
  size_t n_ch;
  void *chunk;     /* chunk_samples x n_ch elements, allocated at connect */
  double *chunk_t; /* chunk_samples timestamps */
  size_t chunk_samples;
  char **labels, **units, **types; /* n_ch owned strings each */

  uint64_t n_new;
  uint64_t last_rx_ns; /* uv_hrtime() of the last update that got samples */
  bool got_any;
  unsigned recoveries;
};

/* pull.c: pulls from the inlet until it is drained; returns samples or < 0. */
int dp_sw_pull(dp_stream_watcher_t *sw);

/* metadata.c: reads labels/units/types of sw->n_ch channels from a full
 * info, replacing the old ones. Returns 0 or DP_ENOMEM (old ones kept). */
int dp_sw_read_metadata(dp_stream_watcher_t *sw, lsl_streaminfo full);
void dp_sw_free_metadata(dp_stream_watcher_t *sw);

/* watcher.c: opens an inlet on `found`, reads its full info and metadata,
 * applies post-processing and opens the stream; on success the inlet and
 * info of sw are replaced. `found` stays the caller's. Returns 0 or < 0. */
int dp_sw_open(dp_stream_watcher_t *sw, lsl_streaminfo found);

/* recover.c */
/* Builds sw->recover_query from sw->info (name, type, channel count and
 * format, source_id), as liblsl does for its own recovery. 0 or DP_ENOMEM. */
int dp_sw_build_recover_query(dp_stream_watcher_t *sw);
/* The inlet reported the stream lost: drop it and start looking. */
void dp_sw_on_lost(dp_stream_watcher_t *sw);
/* While lost: reconnect if the stream is visible again. Never blocks on the
 * network (the resolver runs in liblsl's background). */
void dp_sw_try_reconnect(dp_stream_watcher_t *sw);
/* liblsl recovered the stream (or samples resumed after a stall): start
 * looking, in the background, whether it comes from a new outlet now. */
void dp_sw_start_restart_check(dp_stream_watcher_t *sw);
/* During a restart check: when a new outlet (new uid) is visible, re-read its
 * metadata (one short wait for its full info) and end the check; the check
 * also ends after a few seconds. Otherwise never blocks. */
void dp_sw_poll_restart_check(dp_stream_watcher_t *sw);

#endif /* DP_WATCHER_INTERNAL_H */
