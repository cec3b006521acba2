/* net_queue.h - the bounded record queue between the logging threads and the
 * network sender (internal).
 *
 * A log call only copies its record into the queue; the sender thread
 * encodes the JSON frame later. Records are carved from recycled 64 KiB
 * chunks, so a call allocates nothing once the queue has been in use, and
 * while the sender keeps up they stay in the same few cache-hot bytes. The
 * queue itself is a ring of pointers: taking a batch or putting one back
 * copies pointers, never walks records.
 *
 * Not thread-safe: every call must be serialised by the caller (the network
 * handler holds its lock around each one). */
#ifndef DP_LOG_NET_QUEUE_H
#define DP_LOG_NET_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "log/record.h"

/* Records are carved one after the other out of chunks; a chunk is reused
 * once every record in it has been sent or dropped (records leave the queue
 * in about the order they came, so chunks empty in order). A record too big
 * for a shared chunk gets a chunk of its own. */
typedef struct dp_log_qchunk {
  struct dp_log_qchunk *next; /* spare list / chain of chunks to free */
  size_t size;                /* bytes of data[] */
  size_t used;                /* bytes of data[] handed out */
  size_t live;                /* records in it not yet released */
  _Alignas(8) char data[];
} dp_log_qchunk_t;

/* One queued record: what the frame needs, strings copied. */
typedef struct dp_log_qrec {
  dp_log_qchunk_t *chunk;
  size_t size;      /* bytes it takes (counts against max_bytes) */
  const char *name; /* logger name (loggers are never freed) */
  double created;
  uint64_t thread;
  int64_t process;
  int level;
  int lineno;
  uint32_t path_len, func_len, thread_name_len;
  size_t msg_len; /* the message's length; at most DP_LOG_MSG_MAX bytes of it
                     are kept (frame.h: the frame carries no more) */
  char text[];    /* pathname, func, thread name, msg: each NUL-terminated */
} dp_log_qrec_t;

/* Bytes of a shared chunk; a record needing more than DP_LOG_QREC_BIG gets
 * a chunk of its own. */
#define DP_LOG_QCHUNK_SIZE ((size_t)64 * 1024)
#define DP_LOG_QREC_BIG    (DP_LOG_QCHUNK_SIZE / 4)

/* At most this many empty shared chunks are kept for reuse. */
#define DP_LOG_QUEUE_SPARE_MAX ((size_t)8)

typedef struct dp_log_queue_slot {
  dp_log_qrec_t *rec;
  size_t size;
} dp_log_queue_slot_t;

typedef struct dp_log_queue {
  dp_log_queue_slot_t *ring; /* cap slots, grown by doubling */
  size_t cap, head, count;
  size_t bytes; /* sum of the sizes of the queued records */
  size_t max_records, max_bytes;
  unsigned long long lost;    /* dropped since dp_log_queue_take last reported */
  unsigned long long dropped; /* dropped in all */
  dp_log_qchunk_t *current;   /* the chunk records are carved from */
  dp_log_qchunk_t *spare;     /* empty shared chunks */
  size_t n_spare;
} dp_log_queue_t;

void dp_log_queue_init(dp_log_queue_t *qu, size_t max_records, size_t max_bytes);

/* Frees the queued records, the spare chunks and the ring; the queue is
 * empty and usable again. Chunks holding records taken and not given back
 * are left alone (after fork(), the parent's sender had them). */
void dp_log_queue_clear(dp_log_queue_t *qu);

/* Bytes a copy of `rec` takes. */
size_t dp_log_qrec_need(const dp_log_record_t *rec);

/* Room for a record of `need` bytes, carved from the current chunk (a spare
 * or new chunk when it is full), or NULL when it needs a chunk of its own
 * (dp_log_qrec_new, preferably without holding the caller's lock) or memory
 * ran out. Chunks to free are chained onto *to_free. */
dp_log_qrec_t *dp_log_queue_alloc(dp_log_queue_t *qu, size_t need, dp_log_qchunk_t **to_free);

/* A record of `need` bytes in a chunk of its own, or NULL. */
dp_log_qrec_t *dp_log_qrec_new(size_t need);

/* Copies `rec` into `r` (room of dp_log_qrec_need(rec) bytes). */
void dp_log_qrec_fill(dp_log_qrec_t *r, const dp_log_record_t *rec);

/* The borrowed view of `r` that the frame encoder takes. Of a message longer
 * than DP_LOG_MSG_MAX, msg holds only that much while msg_len is its full
 * length, which the encoder's "bytes cut" note needs. */
dp_log_record_t dp_log_qrec_view(const dp_log_qrec_t *r);

/* Appends `r` to the queue, then drops the oldest records beyond the bounds
 * (counted in lost and dropped). Chunks to free are chained onto *to_free
 * (free them with dp_log_qchunk_free_chain, preferably after unlocking).
 * Returns 0, or DP_ENOMEM when the ring could not grow (then `r` is dropped
 * and counted as lost). */
int dp_log_queue_push(dp_log_queue_t *qu, dp_log_qrec_t *r, dp_log_qchunk_t **to_free);

/* Counts one record as lost that never made it into the queue. */
void dp_log_queue_count_lost(dp_log_queue_t *qu, unsigned long long n);

/* Takes up to `max` of the oldest records into out[], oldest first, and
 * returns how many. *lost receives the number of records lost just before
 * the first one taken (and is reset in the queue). */
size_t dp_log_queue_take(dp_log_queue_t *qu, dp_log_qrec_t **out, size_t max,
                         unsigned long long *lost);

/* Puts taken records back at the front, in their order (a write that did not
 * happen), and adds `lost` (a loss count that was taken but not reported)
 * back to the lost count; then applies the bounds like push. DP_ENOMEM when
 * the ring could not grow: those records are dropped and counted as lost. */
int dp_log_queue_unget(dp_log_queue_t *qu, dp_log_qrec_t **recs, size_t n, unsigned long long lost,
                       dp_log_qchunk_t **to_free);

/* Releases `n` taken records that are done with (sent or lost). */
void dp_log_queue_release(dp_log_queue_t *qu, dp_log_qrec_t **recs, size_t n,
                          dp_log_qchunk_t **to_free);

/* Sets the bounds (0 keeps one) and drops the oldest records beyond them. */
void dp_log_queue_set_limits(dp_log_queue_t *qu, size_t max_records, size_t max_bytes,
                             dp_log_qchunk_t **to_free);

/* Frees every chunk of a chain linked by next. */
void dp_log_qchunk_free_chain(dp_log_qchunk_t *chain);

#endif
