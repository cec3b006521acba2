/* server_internal.h - the server's state, shared by its files: server.c
 * (the loop, connections, output, shutdown), framing.c (byte stream ->
 * commands), dispatch.c (handlers and built-ins), conn_limits.c (bounds on
 * what peers can hold), request.c (the handler's view of a command),
 * workers.c (the book of thread and process workers) and the module helper.
 * Not installed. */
#ifndef DP_SERVER_INTERNAL_H
#define DP_SERVER_INTERNAL_H

#include "server/command.h"
#include "server/conn_limits.h"
#include "server/framing.h"

#include "dareplane/log.h"
#include "dareplane/server.h"

#include <stdatomic.h>
#include <uv.h>

/* Replies to one read are gathered into one write up to this size. */
#define BATCH_MAX ((size_t)64 * 1024)

typedef struct dp_conn dp_conn_t;
typedef struct dp_worker dp_worker_t;

typedef struct {
  char *name;
  size_t name_len;
  char *help;
  dp_handler_fn fn;
  void *user;
} dp_handler_t;

/* Bytes queued by any thread for the loop to write (client 0: everyone). */
typedef struct dp_outmsg {
  struct dp_outmsg *next;
  uint64_t client;
  size_t len;
  char data[];
} dp_outmsg_t;

/* One client. A TCP connection, or (tests, fuzzer) any stream socket given
 * to dp_server_adopt(). */
struct dp_conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } io;
  dp_server_t *srv;
  dp_conn_t *prev, *next; /* in order of arrival: srv->conns is the oldest */
  uint64_t id;
  dp_framer_t framer;
  uint64_t active_ms; /* loop time of its connection or its last valid command */
  bool proven;        /* it has sent a valid command (built-in or registered) */
  bool acted;         /* ... and one that is not UP or GET_PCOMMS (STOP, a registered one) */
  dp_rate_t log_rate; /* log lines its input caused */
  size_t writes_pending;
  size_t queued; /* bytes (and per-write overhead) in pending writes */
  bool batching; /* its replies go to srv->batch (while one read of it is handled) */
  bool paused;   /* not read from until it takes its replies (back-pressure) */
  bool yielded;  /* not read from until the loop's next turn (fairness) */
  bool closing;
};

struct dp_server {
  dp_server_opts_t opts; /* name and ip point at owned copies */
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wake;   /* other threads: queued output, ended workers, close */
  uv_timer_t reaper; /* ticks while workers are being stopped */
  uv_timer_t linger; /* bounds how long shutdown waits for slow readers */
  uv_timer_t sweep;  /* ticks while clients are connected: idle policy, log summaries */
  uv_idle_t resume;  /* clients that yielded after a full read read again */
  bool listening;
  bool running;
  bool closing; /* shutdown has begun (loop thread) */
  atomic_bool close_requested;
  atomic_bool finished; /* run() returned: senders get DP_ESTATE */
  int port;

  dp_handler_t *handlers;
  size_t n_handlers;

  dp_conn_t *conns, *conns_tail;
  uint64_t next_conn_id;
  size_t n_conns;
  size_t max_clients;  /* opts.max_clients, lowered to fit the descriptor limit */
  size_t queued_total; /* the queued bytes of every open connection */
  dp_rate_t log_rate;  /* log lines about limits (accepts, evictions, caps) */

  /* Replies to the read being handled, gathered into one write (one client
   * at a time: reads are handled one after the other). */
  char batch[BATCH_MAX];
  size_t batch_len;

  uv_mutex_t out_lock;
  dp_outmsg_t *out_head, **out_tail;

  dp_worker_t *workers;
  uint64_t next_worker_id;

  dp_logger_t *log;
};

struct dp_request {
  dp_server_t *srv;
  dp_conn_t *conn; /* NULL when not from a connection (tests) */
  const dp_command_t *cmd;
  char *scratch; /* dp_request_json()'s last text */
};

/* server.c */
void dp_conn_send(dp_conn_t *c, const char *data, size_t len);
/* Takes the connection out of the server and closes it; pending writes are
 * cancelled. */
void dp_conn_close(dp_conn_t *c);
/* Makes the loop thread sweep the workers' book soon. Thread-safe. */
void dp_server_wake(dp_server_t *srv);
/* Ends the loop once shutdown has begun and nothing is left to wait for. */
void dp_server_check_finish(dp_server_t *srv);
/* Serves a connected stream socket `fd` (taken over) as a client, as if it
 * had connected: greeting, commands, limits. Loop thread. Returns 0 or
 * DP_ESYS / DP_ENOMEM / DP_ESTATE. For tests and the fuzzer. */
int dp_server_adopt(dp_server_t *srv, int fd);
/* Begins the orderly shutdown (as CLOSE does). */
void dp_server_begin_shutdown(dp_server_t *srv);

/* dispatch.c: runs one command of a client (the bytes between two
 * terminators). Returns false when the client or the server is closing (the
 * rest of its input is dropped): a dp_framer_fn. */
bool dp_dispatch(void *conn, const char *msg, size_t len);

/* conn_limits.c */
/* Logs a line about a client's input unless its budget is spent (then the
 * line is counted and summarised later). */
void dp_conn_log(dp_conn_t *c, int level, const char *fmt, ...) DP_PRINTF(3, 4);
/* Whether dp_conn_log() would emit a line of `level` now (to skip the work of
 * formatting it). Counts it as suppressed when the budget is spent. */
bool dp_conn_log_allowed(dp_conn_t *c, int level);
/* Logs a line about the limits themselves, with a server-wide budget. */
void dp_limits_log(dp_server_t *srv, int level, const char *fmt, ...) DP_PRINTF(3, 4);
/* Sets srv->max_clients from the options and the descriptor limit. */
void dp_limits_init(dp_server_t *srv);
/* A client has just been added; at the connection limit this closes the
 * oldest client that has sent no valid command yet, else the longest idle
 * of those that have sent only UP and GET_PCOMMS, else (every other client
 * has sent a command that acts) the new one. Returns false when the new one
 * was closed. */
bool dp_limits_admit(dp_server_t *srv, dp_conn_t *c);
/* Before `n` more bytes are queued for c: makes room under the per-client
 * and total output caps by disconnecting the client that reads least (the
 * one with most bytes queued). Returns false when that was c itself. */
bool dp_limits_make_room(dp_conn_t *c, size_t n);
/* Starts the sweep timer if it is not running: it closes idle connections
 * and writes the log summaries. */
void dp_limits_start_sweep(dp_server_t *srv);
/* At close: writes the connection's pending log summary. */
void dp_limits_conn_closing(dp_conn_t *c);

/* request.c: releases what the request allocated while the handler ran. */
void dp_request_release(dp_request_t *req);

/* workers.c */
void dp_workers_sweep(dp_server_t *srv);      /* joins ended threads (loop) */
bool dp_workers_idle(const dp_server_t *srv); /* nothing left to wait for */
/* At free: joins what ended, reports thread workers that never ended and
 * returns true when some still run (the server must then not be freed). */
bool dp_workers_abandon(dp_server_t *srv);

#endif
