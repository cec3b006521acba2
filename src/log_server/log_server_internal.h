/* log_server_internal.h - the log server's state, shared by its files:
 * log_server.c (the public API: start, the loop thread, stop), clients.c
 * (the loop side: connections, reading and cutting frames, the bounds on
 * what clients hold), decoders.c (the decoder threads and the queues that
 * feed them) and output.c (writing lines to the log file and the console).
 * Not installed.
 *
 * The loop thread only reads and cuts frames; decoding and rendering, most
 * of the work, is done by the decoder threads. Each client belongs to one
 * decoder, which takes its frames in order, so its lines keep their order
 * and a bad record stops exactly what follows it; a decoder writes whole
 * lines, a batch at a time under a lock, so lines of different clients never
 * mix. */
#ifndef DP_LOG_SERVER_INTERNAL_H
#define DP_LOG_SERVER_INTERNAL_H

#include "log/frame.h"
#include "log/record.h"
#include "log/textbuf.h"

#include "dareplane/log.h"
#include "dareplane/log_server.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

/* The name of the server's own lines (why a client was closed, ...). */
#define DP_LOGSRV_NAME "dp-logserver"

/* What one read may fill (one read at a time on the loop; big reads: few
 * system calls). */
#define DP_LOGSRV_CHUNK ((size_t)256 * 1024)

typedef struct dp_logsrv_decoder dp_logsrv_decoder_t;

typedef struct dp_logsrv_client {
  uv_tcp_t tcp;
  dp_log_frame_reader_t reader;
  struct dp_logsrv_client *prev, *next;
  dp_log_server_t *srv;
  dp_logsrv_decoder_t *dec;           /* the one that decodes its frames */
  atomic_int refs;                    /* the loop's handle, its decoder, a pending failure */
  bool closed;                        /* loop: closed (no more items for its decoder) */
  bool failed;                        /* decoder: a record was bad; what follows is dropped */
  struct dp_logsrv_client *fail_next; /* in srv->failures */
  uint64_t frame_start;               /* loop time (ms) the unfinished frame began; 0: none */
  unsigned long frames;               /* frames completed */
  char peer[64];
} dp_logsrv_client_t;

/* What the loop hands a decoder: items (dp_logsrv_item_t, then `len` bytes
 * of text, padded to the item's alignment) in a byte array. */
typedef struct dp_logsrv_queue {
  char *data;
  size_t len, cap;
} dp_logsrv_queue_t;

enum { DP_LOGSRV_FRAME, DP_LOGSRV_LINE, DP_LOGSRV_CLOSE };
typedef struct dp_logsrv_item {
  dp_logsrv_client_t *c;
  int kind;      /* DP_LOGSRV_*: a frame to decode, a line of the server's about c, c closed */
  int level;     /* a line's level */
  size_t prefix; /* a line's prefix length */
  size_t len;    /* bytes of text that follow */
} dp_logsrv_item_t;

struct dp_logsrv_decoder {
  dp_log_server_t *srv;
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t wake;                       /* for the decoder: items queued, or stop */
  uv_cond_t taken;                      /* for the loop: the decoder took the queue */
  dp_logsrv_queue_t queue;              /* filled by the loop under lock */
  bool waiting;                         /* the decoder waits for items */
  bool stop;                            /* no more items will come */
  dp_textbuf_t out;                     /* lines decoded, written in one go */
  dp_log_console_batch_t console_lines; /* and the same for the console */
};

struct dp_log_server {
  /* set by start, then read only */
  char *host, *logfile;
  int port;            /* bound */
  size_t max_frame;    /* largest frame payload */
  size_t max_message;  /* longest rendered message */
  size_t max_clients;  /* clients at once */
  uint64_t frame_ms;   /* how long a frame may stay unfinished */
  size_t max_buffered; /* bytes of unfinished frames of all clients */
  bool console;

  /* the loop thread's */
  uv_loop_t loop;
  uv_thread_t thread;
  uv_tcp_t listener;
  uv_timer_t sweep;  /* closes clients whose frame takes too long */
  uv_async_t stop;   /* dp_log_server_stop() */
  uv_async_t failed; /* a decoder found a bad record: close its client */
  char *chunk;       /* what one read fills */
  dp_logsrv_client_t *clients;
  size_t n_clients;
  size_t buffered;       /* allocated for unfinished frames, all clients */
  unsigned long refused; /* connections refused at max_clients, not yet reported */
  dp_logsrv_decoder_t *decoders;
  size_t n_decoders, next_decoder;

  uv_mutex_t fail_lock;
  dp_logsrv_client_t *failures; /* reported by decoders, not yet closed by the loop */

  uv_mutex_t file_lock;
  FILE *file;
  bool write_failed;     /* a line could not be written */
  char write_error[600]; /* why the first failed write failed */

  uv_mutex_t stop_lock; /* dp_log_server_stop(): one caller ends the threads */
  bool running;         /* the loop thread runs (not yet joined) */
};

/* ---- clients.c: the loop side ----------------------------------------- */

/* libuv callbacks of the listener, the sweep timer and the failed async. */
void dp_logsrv_on_connection(uv_stream_t *listener, int status);
void dp_logsrv_on_sweep(uv_timer_t *t);
void dp_logsrv_on_failed(uv_async_t *h);
/* Closes every client (stop). */
void dp_logsrv_close_clients(dp_log_server_t *srv);

/* ---- decoders.c ---------------------------------------------------------- */

/* Starts n decoder threads: 0, or DP_ESYS/DP_ENOMEM (those started stay in
 * srv->decoders for dp_logsrv_stop_decoders). */
int dp_logsrv_start_decoders(dp_log_server_t *srv, size_t n);
/* Once every client is closed: lets the decoders finish their queues, joins
 * and frees them. */
void dp_logsrv_stop_decoders(dp_log_server_t *srv);
/* Takes d's lock once its queue has room; unlocking wakes the decoder. */
void dp_logsrv_decoder_lock(dp_logsrv_decoder_t *d);
void dp_logsrv_decoder_unlock(dp_logsrv_decoder_t *d);
/* Appends an item to d's queue (lock held): 0 or DP_ENOMEM. */
int dp_logsrv_enqueue(dp_logsrv_decoder_t *d, dp_logsrv_client_t *c, int kind, int level,
                      size_t prefix, const char *text, size_t len);
/* Drops one reference to c; the last frees it. Any thread. */
void dp_logsrv_release(dp_logsrv_client_t *c);

/* ---- output.c ------------------------------------------------------------ */

/* Writes the lines gathered in `out` to the log file, flushed, and queues
 * their console lines. Any thread. */
void dp_logsrv_write_lines(dp_log_server_t *srv, dp_textbuf_t *out,
                           dp_log_console_batch_t *console);
/* The line that ends d->out (from `start`, without newline) is complete:
 * ends it, gathers it for the console, and writes d->out once it is long. */
void dp_logsrv_end_line(dp_logsrv_decoder_t *d, int level, size_t start, size_t prefix);
/* A line of the server's own with message `msg` in `line` (size bytes);
 * returns its length and sets *prefix to the length of its prefix. */
size_t dp_logsrv_own_line(char *line, size_t size, int level, const char *msg, size_t *prefix);
/* A line of the server's own (why a client was closed, ...); one about a
 * client (c not NULL) goes through its decoder, after the client's earlier
 * lines. Loop thread. */
void dp_logsrv_line(dp_log_server_t *srv, dp_logsrv_client_t *c, int level, const char *fmt, ...)
    DP_PRINTF(4, 5);

#endif
