/* log_server.h - the central Dareplane log server as a library component
 * (what dp-logserver runs), a drop-in for
 * `python -m dareplane_utils.logging.server`.
 *
 *     dp_log_server_opts_t opts;
 *     dp_log_server_opts_init(&opts);
 *     opts.port = 0;                    // any free port
 *     opts.logfile = "session.log";
 *     dp_log_server_t *srv;
 *     if (dp_log_server_start(&srv, &opts) < 0) fail(dp_error_detail());
 *     ... dp_log_server_port(srv) ...
 *     int rc = dp_log_server_stop(srv); // drains, flushes; DP_EIO: a write failed
 *     dp_log_server_free(srv);
 *
 * It accepts the length-prefixed JSON log records of C and Python modules
 * (log.h's network handler, dareplane_utils' UJsonSocketHandler) and writes
 * each in the standard line format `<asctime> - <name> - <LEVEL> - <msg>` to
 * the log file (appended; written and flushed as each batch of records is
 * decoded, fsync at stop) and, when `console` is on, to stderr through the
 * library's console queue (log.h, dp_log_set_console()). No level filtering.
 *
 * Threads: one libuv loop thread reads and cuts frames; `threads` decoder
 * threads decode and write them. Each client belongs to one decoder, so its
 * lines keep their arrival order; lines of different clients never mix
 * within a line.
 *
 * Bad input (a frame over max_frame, invalid JSON or UTF-8, JSON that is no
 * object, a number out of range, a stream that ends inside a frame) closes
 * only the client that sent it; the reason is written to the log file as an
 * ERROR line from logger "dp-logserver", and everything received before it is
 * kept. Everything a peer can make the server hold is bounded by the options
 * below (docs/logging.md has the table). A client quiet between records is
 * kept however long.
 *
 * Errors: negative DP_E* codes (error.h) with dp_error_detail(). */
#ifndef DAREPLANE_LOG_SERVER_H
#define DAREPLANE_LOG_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The least max_message, the most max_clients and the most threads that
 * dp_log_server_start() accepts. */
#define DP_LOG_SERVER_MESSAGE_MIN 256
#define DP_LOG_SERVER_CLIENTS_MAX 1000000
#define DP_LOG_SERVER_THREADS_MAX 64

/* A running log server (opaque; dp_log_server_start(), dp_log_server_free()). */
typedef struct dp_log_server dp_log_server_t;

/* Options of dp_log_server_start(); dp_log_server_opts_init() sets the
 * defaults. Strings are copied by start. */
typedef struct {
  const char *host;       /* address to listen on; default "127.0.0.1" (IPv4 is
                             preferred when a name resolves to both) */
  int port;               /* 0..65535; default 9020; 0: any free port */
  const char *logfile;    /* appended to, created if missing; default
                             "default_socket.log" */
  size_t max_frame;       /* largest frame payload, bytes; a bigger one closes
                             its client; default 1 MiB */
  size_t max_message;     /* longest rendered message (msg % args, exc_text,
                             stack_info), bytes, cut and marked beyond; default
                             1 MiB, at least DP_LOG_SERVER_MESSAGE_MIN */
  size_t max_clients;     /* clients at once, 1..DP_LOG_SERVER_CLIENTS_MAX;
                             default 256. When full, the client whose frame has
                             been unfinished longest is closed to make room; if
                             none, the newcomer is refused (a periodic ERROR
                             line counts them) */
  double frame_timeout_s; /* seconds a begun frame may stay unfinished before
                             its client is closed, 0.01..86400; default 10 */
  size_t max_buffered;    /* bytes of unfinished frames of all clients together;
                             beyond, the clients with the oldest unfinished
                             frames are closed; default 64 MiB */
  unsigned threads;       /* decoder threads, 0..DP_LOG_SERVER_THREADS_MAX;
                             default 0: one per core, at most 4 */
  bool console;           /* also write each line to stderr; default true */
} dp_log_server_opts_t;

/* Fills *opts with the defaults above. Cannot fail; thread-safe. */
DP_EXTERN void dp_log_server_opts_init(dp_log_server_opts_t *opts);

/* Opens the log file, binds and listens, starts the loop thread and the
 * decoder threads, and returns once the server accepts connections: 0 and
 * *out (stop and free it with dp_log_server_stop() and
 * dp_log_server_free()). Any thread; the options are copied. Errors (with a
 * detail sentence): DP_EINVAL (NULL out or opts, NULL host or logfile, an
 * option outside its range above), DP_EIO (the log file cannot be opened),
 * DP_ENOTFOUND (host does not resolve), DP_ECONN (cannot listen there, e.g.
 * the port is in use), DP_ESYS or DP_ENOMEM (threads, memory). On failure
 * nothing is left running and *out is not set. */
DP_EXTERN int dp_log_server_start(dp_log_server_t **out, const dp_log_server_opts_t *opts);

/* The port the server listens on (the one chosen when opts.port was 0).
 * Any thread, also after stop. */
DP_EXTERN int dp_log_server_port(const dp_log_server_t *srv);

/* Stops the server: stops listening, closes every client (the whole frames
 * read from it are written, an unfinished frame is dropped), waits for the
 * decoders to write every line, fsyncs and closes the log file, and ends the
 * threads. Returns when all that is done: 0, DP_EIO when some line could not
 * be written to the log file (the detail names the file and the reason), or
 * DP_EINVAL for a NULL srv. Any thread, but not from a signal handler;
 * concurrent and repeated calls are safe: each returns the same result once
 * the server has stopped. */
DP_EXTERN int dp_log_server_stop(dp_log_server_t *srv);

/* Stops the server if it still runs (as dp_log_server_stop(), result
 * dropped) and frees it. NULL is a no-op. Call it once, when no other thread
 * uses srv any more. */
DP_EXTERN void dp_log_server_free(dp_log_server_t *srv);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LOG_SERVER_H */
