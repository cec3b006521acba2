/* server_internal.h - the server's state, shared by its files: server.c
 * (connections, framing, built-ins), request.c (the handler's view of a
 * command), workers.c (the book of thread and process workers) and the module
 * helper. Not installed. */
#ifndef DP_SERVER_INTERNAL_H
#define DP_SERVER_INTERNAL_H

#include "server/command.h"

#include "dareplane/log.h"
#include "dareplane/server.h"

#include <stdatomic.h>
#include <uv.h>

typedef struct dp_conn dp_conn_t;
typedef struct dp_worker dp_worker_t;

typedef struct {
  char *name;
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

struct dp_server {
  dp_server_opts_t opts; /* name and ip point at owned copies */
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t wake;   /* other threads: queued output, ended workers, close */
  uv_timer_t reaper; /* ticks while workers are being stopped */
  uv_timer_t linger; /* bounds how long shutdown waits for slow readers */
  bool listening;
  bool running;
  bool closing; /* shutdown has begun (loop thread) */
  atomic_bool close_requested;
  atomic_bool finished; /* run() returned: senders get DP_ESTATE */
  int port;

  dp_handler_t *handlers;
  size_t n_handlers;

  dp_conn_t *conns;
  uint64_t next_conn_id;
  size_t n_conns;

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
uint64_t dp_conn_id(const dp_conn_t *c);
/* Makes the loop thread sweep the workers' book soon. Thread-safe. */
void dp_server_wake(dp_server_t *srv);
/* Ends the loop once shutdown has begun and nothing is left to wait for. */
void dp_server_check_finish(dp_server_t *srv);

/* request.c: releases what the request allocated while the handler ran. */
void dp_request_release(dp_request_t *req);

/* workers.c */
void dp_workers_sweep(dp_server_t *srv);      /* joins ended threads (loop) */
bool dp_workers_idle(const dp_server_t *srv); /* nothing left to wait for */
/* At free: joins what ended, reports thread workers that never ended and
 * returns true when some still run (the server must then not be freed). */
bool dp_workers_abandon(dp_server_t *srv);

#endif
