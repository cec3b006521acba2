/* watcher_internal.h - the StreamWatcher's state, shared by its files:
 * watcher.c (life cycle, accessors), pull.c (update: the hot path), link.c
 * (opening an outlet: inlet, info, metadata), metadata.c (labels), recover.c
 * (the recovery thread beside the hot path). Not installed.
 *
 * Threads: everything in struct dp_stream_watcher belongs to the caller's
 * thread except `rec`, which it shares with the recovery thread through
 * rec.mu and the atomic `recovered`. The recovery thread reads only what is
 * fixed between connect and disconnect (lsl, log, n_ch, inlet_buflen,
 * recover_query) and its own copies. */
#ifndef DP_WATCHER_INTERNAL_H
#define DP_WATCHER_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dareplane/log.h"
#include "dareplane/stream_watcher.h"
#include "lsl/lsl_api.h"

/* seconds to wait for the full info and the stream to open once resolved */
#define DP_SW_OPEN_TIMEOUT 5.0
/* samples per pull for string streams (liblsl allocates every slot per pull) */
#define DP_SW_STRING_CHUNK 64
/* Python's upper bound of samples per pull; update() pulls at least this many
 * when they are waiting */
#define DP_SW_MAX_PULL 32768
/* the longest single wait of update_wait() (s): it looks again this often
 * whether the stream was lost (liblsl wakes a waiting pull only for data) */
#define DP_SW_WAIT_SLICE 0.25

/* One connection to an outlet: what connect() and the recovery thread open
 * and update() installs. */
typedef struct {
  lsl_inlet inlet;           /* NULL: new metadata only (liblsl kept the data flowing) */
  dp_lsl_stream_info_t info; /* owned */
  bool have_info;
  char **labels, **units, **types; /* n_ch owned strings each, or NULL */
} dp_sw_link_t;

typedef enum {
  DP_SW_REQ_NONE,
  DP_SW_REQ_CHECK, /* liblsl recovered the stream: is it a new outlet? */
  DP_SW_REQ_LOST   /* the inlet reported the stream lost: find it again */
} dp_sw_request_t;

struct dp_sw_recovery {
  bool running; /* owner only */
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cond;  /* wakes the thread: a request or stop */
  uv_cond_t found; /* wakes the caller waiting in update_wait(): a result */
  /* under mu */
  bool stop;
  dp_sw_request_t req;
  lsl_inlet dead;      /* a lost inlet for the thread to destroy */
  char uid[128];       /* the uid of the outlet we have (a new one must differ) */
  dp_sw_link_t result; /* what the thread found, until update() takes it
                          (sw->recovered says whether it holds something) */
  /* the thread's own */
  char *name; /* for log lines */
};

struct dp_stream_watcher {
  /* what every update() touches first, together (it runs on cold caches) */
  const dp_lsl_api_t *lsl; /* set by connect */
  lsl_inlet inlet;         /* NULL when disconnected or lost */
  dp_ringbuffer_t *rb;
  size_t n_ch;
  dp_dtype_t dtype;
  bool lost;    /* connected, but the outlet is gone */
  bool got_any; /* a sample arrived since connect */
  uint64_t n_new;
  uint64_t last_rx_ns; /* uv_hrtime() of the last update that got samples */
  double stall_s;
  atomic_bool recovered; /* rec.result holds something: update() looks at
                            this only */

  char *name;      /* lookup by name (may be empty when a predicate is set) */
  char *predicate; /* lookup by predicate when not NULL */
  double buffer_s;
  size_t max_buffer_bytes;
  size_t inlet_buffer; /* samples; 0: the ring's capacity */
  unsigned postproc;
  dp_logger_t *log;

  int32_t inlet_buflen;      /* lsl_create_inlet's max_buflen, fixed at connect */
  char *recover_query;       /* predicate matching a restarted outlet */
  dp_lsl_stream_info_t info; /* the stream as connected */
  bool have_info;

  char **chunk;                    /* string streams: DP_SW_STRING_CHUNK x n_ch pointers */
  double *chunk_t;                 /* and their timestamps */
  char **labels, **units, **types; /* n_ch owned strings each */
  unsigned recoveries;
  struct dp_sw_recovery rec;
};

/* pull.c: pulls from the inlet until it is drained; returns samples or < 0. */
int dp_sw_pull(dp_stream_watcher_t *sw);

/* metadata.c: reads labels/units/types of n_ch channels from a full info
 * into `link`. Returns 0 or DP_ENOMEM (link unchanged). */
int dp_sw_read_metadata(const dp_lsl_api_t *lsl, dp_logger_t *log, lsl_streaminfo full, size_t n_ch,
                        dp_sw_link_t *link);
void dp_sw_free_metadata(char ***labels, char ***units, char ***types, size_t n_ch);

/* link.c */
/* Opens `found` (an inlet of buflen, recovering), reads its full info and
 * metadata and opens the stream, waiting at most DP_SW_OPEN_TIMEOUT s for
 * each. With `probe`, only reads the info and metadata (no inlet is kept).
 * `found` stays the caller's. Returns 0 with *link filled, or < 0. Any
 * thread. */
int dp_sw_open_link(const dp_lsl_api_t *lsl, dp_logger_t *log, lsl_streaminfo found, size_t n_ch,
                    int32_t buflen, bool probe, dp_sw_link_t *link);
/* Frees what a link holds (destroying its inlet) and zeroes it. */
void dp_sw_link_free(const dp_lsl_api_t *lsl, dp_sw_link_t *link, size_t n_ch);
/* Caller's thread: makes `link` the watcher's connection (its inlet, when it
 * has one, replaces the watcher's; info and metadata always), frees what it
 * replaced and empties `link`. */
void dp_sw_install(dp_stream_watcher_t *sw, dp_sw_link_t *link);

/* recover.c */
/* Builds sw->recover_query from sw->info (name, type, channel count and
 * format, source_id), as liblsl does for its own recovery. 0 or DP_ENOMEM. */
int dp_sw_build_recover_query(dp_stream_watcher_t *sw);
/* Starts / stops the recovery thread (connect / disconnect). Stopping waits
 * for an open in progress (at most DP_SW_OPEN_TIMEOUT s) and frees whatever
 * was found but not taken. Start returns 0 or DP_ESYS/DP_ENOMEM. */
int dp_sw_recovery_start(dp_stream_watcher_t *sw);
void dp_sw_recovery_stop(dp_stream_watcher_t *sw);
/* Caller's thread, never blocking: asks the recovery thread to look for the
 * stream (`dead`, the lost inlet, is handed over to be destroyed) or to
 * check whether liblsl's recovery brought a new outlet. */
void dp_sw_recovery_request(dp_stream_watcher_t *sw, dp_sw_request_t req, lsl_inlet dead);
/* Caller's thread: installs what the recovery thread found, if anything
 * (one atomic load when nothing). */
void dp_sw_recovery_take(dp_stream_watcher_t *sw);
/* Caller's thread: sleeps until the recovery thread has found something to
 * take, or `seconds` (0 .. DP_SW_WAIT_SLICE) pass. Waits on no network. */
void dp_sw_recovery_wait(dp_stream_watcher_t *sw, double seconds);

/* watcher.c: connect() with a given liblsl table (tests inject a fake). */
int dp_sw_connect_with(dp_stream_watcher_t *sw, const dp_lsl_api_t *lsl, double timeout_s);

#endif /* DP_WATCHER_INTERNAL_H */
