/* server.c - the module server's loop: listening, the connections and their
 * output, output queued by other threads, and the orderly shutdown. A read
 * goes through framing.c (byte stream -> commands) to dispatch.c (what a
 * command does); the bounds on what clients can hold are in conn_limits.c,
 * the workers' book in workers.c. The wire behaviour is described in
 * server.h. */
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uv_write_t req;
  dp_conn_t *conn;
  size_t cost; /* what it counts against the output caps: bytes and overhead */
  char data[];
} write_req_t;

/* After CLOSE, connections get this long to take their last replies. */
#define LINGER_MS 2000
/* Back-pressure: a client with more than this queued is not read from (its
 * commands wait in the kernel) until it has taken half of it. */
#define PAUSE_READING_AT ((size_t)256 * 1024)
/* One read takes at most this much of a client's input: with the yield
 * after a full read, the most work one client can put between two turns of
 * the loop (and so before the control room's UP). */
#define READ_SIZE (16 * 1024)

static void maybe_finish(dp_server_t *srv);

void dp_server_opts_init(dp_server_opts_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->name = "default_server";
  opts->ip = "127.0.0.1";
  opts->port = 8080;
  opts->backlog = 511;
  opts->max_command_len = (size_t)64 * 1024;
  opts->stop_grace_s = 2.0;
  opts->join_timeout_s = 2.0;
  opts->max_clients = 512;
  opts->silent_timeout_s = 60.0;
  opts->idle_timeout_s = 0.0;
  opts->max_output_per_client = (size_t)16 << 20;
  opts->max_output_total = (size_t)64 << 20;
  opts->log_lines_per_s = 50;
}

static bool valid_seconds(double s) {
  return isfinite(s) && s >= 0 && s < 1e9;
}

static void wake_cb(uv_async_t *handle);

dp_server_t *dp_server_new(const dp_server_opts_t *opts) {
  dp_server_opts_t defaults;
  if (opts == NULL) {
    dp_server_opts_init(&defaults);
    opts = &defaults;
  }
  if (opts->name == NULL || opts->ip == NULL || opts->port < 0 || opts->port > 65535 ||
      opts->max_command_len == 0 || opts->max_clients == 0 || opts->max_output_per_client == 0 ||
      opts->max_output_total == 0 || !valid_seconds(opts->stop_grace_s) ||
      !valid_seconds(opts->join_timeout_s) || !valid_seconds(opts->silent_timeout_s) ||
      !valid_seconds(opts->idle_timeout_s)) {
    dp_error_set(DP_EINVAL, "invalid server options (name, ip, port 0..65535, limits > 0, "
                            "times in seconds >= 0)");
    return NULL;
  }
  dp_server_t *srv = calloc(1, sizeof *srv);
  if (srv == NULL) goto nomem;
  srv->opts = *opts;
  srv->opts.name = strdup(opts->name);
  srv->opts.ip = strdup(opts->ip);
  if (srv->opts.name == NULL || srv->opts.ip == NULL) goto nomem;
  if (srv->opts.backlog <= 0) srv->opts.backlog = 511;
  if (uv_loop_init(&srv->loop) != 0) goto nomem;
  uv_async_init(&srv->loop, &srv->wake, wake_cb);
  uv_timer_init(&srv->loop, &srv->reaper);
  uv_timer_init(&srv->loop, &srv->linger);
  uv_timer_init(&srv->loop, &srv->sweep);
  uv_idle_init(&srv->loop, &srv->resume);
  srv->wake.data = srv->reaper.data = srv->linger.data = srv->sweep.data = srv;
  srv->resume.data = srv;
  uv_mutex_init(&srv->out_lock);
  srv->out_tail = &srv->out_head;
  srv->next_conn_id = srv->next_worker_id = 1;
  srv->log = dp_log_get("dareplane.server");
  dp_limits_init(srv);
  atomic_init(&srv->close_requested, false);
  atomic_init(&srv->finished, false);
  return srv;
nomem:
  if (srv != NULL) {
    free((char *)srv->opts.name);
    free((char *)srv->opts.ip);
    free(srv);
  }
  dp_error_set(DP_ENOMEM, "no memory for a server");
  return NULL;
}

/* ---- connections -------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h) {
  dp_conn_t *c = h->data;
  dp_server_t *srv = c->srv;
  dp_framer_free(&c->framer);
  free(c);
  maybe_finish(srv);
}

void dp_conn_close(dp_conn_t *c) {
  if (c->closing) return;
  c->closing = true;
  dp_server_t *srv = c->srv;
  dp_limits_conn_closing(c);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  else
    srv->conns_tail = c->prev;
  srv->n_conns--;
  srv->queued_total -= c->queued; /* its writes are cancelled */
  uv_close(&c->io.handle, conn_handle_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void write_cb(uv_write_t *req, int status) {
  write_req_t *w = (write_req_t *)req;
  dp_conn_t *c = w->conn;
  c->queued -= w->cost;
  if (!c->closing) c->srv->queued_total -= w->cost;
  free(w);
  c->writes_pending--;
  if (c->paused && c->queued <= PAUSE_READING_AT / 2 && !c->closing && !c->srv->closing) {
    c->paused = false;
    if (!c->yielded) uv_read_start(&c->io.stream, alloc_cb, read_cb);
  }
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    dp_log_info(c->srv->log, "client %llu: write failed (%s), closing it",
                (unsigned long long)c->id, uv_strerror(status));
    dp_conn_close(c);
  }
}

static void write_now(dp_conn_t *c, const char *data, size_t len);

void dp_conn_send(dp_conn_t *c, const char *data, size_t len) {
  if (c->closing || len == 0) return;
  dp_server_t *srv = c->srv;
  if (c->batching && srv->batch_len + len <= BATCH_MAX) {
    memcpy(srv->batch + srv->batch_len, data, len);
    srv->batch_len += len;
    return;
  }
  if (c->batching && srv->batch_len > 0) { /* what was gathered goes first */
    size_t n = srv->batch_len;
    srv->batch_len = 0;
    write_now(c, srv->batch, n);
  }
  write_now(c, data, len);
}

/* Ends a batch: writes what the handled read produced. */
static void flush(dp_conn_t *c) {
  c->batching = false;
  size_t n = c->srv->batch_len;
  c->srv->batch_len = 0;
  if (n > 0) write_now(c, c->srv->batch, n);
}

static void write_now(dp_conn_t *c, const char *data, size_t len) {
  size_t done = 0;
  if (c->closing) return;
  if (c->writes_pending == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(&c->io.stream, &b, 1);
    if (n >= 0)
      done = (size_t)n;
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      dp_log_info(c->srv->log, "client %llu: send failed (%s), closing it",
                  (unsigned long long)c->id, uv_strerror(n));
      dp_conn_close(c);
      return;
    }
  }
  if (done == len) return;
  size_t rest = len - done, cost = sizeof(write_req_t) + rest;
  if (!dp_limits_make_room(c, cost)) return;
  write_req_t *w = malloc(cost);
  if (w == NULL) {
    dp_log_error(c->srv->log, "client %llu: no memory to queue %zu bytes, closing it",
                 (unsigned long long)c->id, rest);
    dp_conn_close(c);
    return;
  }
  memcpy(w->data, data + done, rest);
  w->conn = c;
  w->cost = cost;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)rest);
  if (uv_write(&w->req, &c->io.stream, &b, 1, write_cb) != 0) {
    free(w);
    dp_conn_close(c);
    return;
  }
  c->writes_pending++;
  c->queued += cost;
  c->srv->queued_total += cost;
  if (c->queued > PAUSE_READING_AT && !c->paused) {
    c->paused = true;
    uv_read_stop(&c->io.stream);
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  static _Thread_local char chunk[READ_SIZE]; /* reads are handled before the next */
  (void)h;
  *buf = uv_buf_init(chunk, sizeof chunk);
}

/* Fairness: after a full read a client yields until the next turn of the
 * loop (libuv would read it again at once), so that one client sending a
 * lot delays the others by one read at most. Its reading restarts in an
 * idle callback, before the loop polls: an active idle handle also makes
 * that poll return at once. (A check callback, which runs after the poll,
 * made every yield wait for the next timer on Windows, about 1 s: there
 * libuv runs read callbacks before the poll, and a restarted read whose data
 * is there already completes without any event that would end the poll.) */
static void resume_cb(uv_idle_t *h) {
  dp_server_t *srv = h->data;
  uv_idle_stop(h);
  for (dp_conn_t *c = srv->conns; c != NULL; c = c->next) {
    if (!c->yielded) continue;
    c->yielded = false;
    if (!c->paused && !srv->closing) uv_read_start(&c->io.stream, alloc_cb, read_cb);
  }
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  dp_conn_t *c = s->data;
  if (nread > 0) {
    c->batching = true;
    int rc = dp_framer_feed(&c->framer, buf->base, (size_t)nread, dp_dispatch, c);
    flush(c);
    if (rc < 0 && !c->closing) {
      dp_conn_log(c, DP_LOG_ERROR, "client %llu sent %s; disconnecting it",
                  (unsigned long long)c->id, dp_error_detail());
      dp_conn_close(c);
    }
    if ((size_t)nread == buf->len && !c->closing && !c->paused && !c->srv->closing) {
      c->yielded = true;
      uv_read_stop(&c->io.stream);
      uv_idle_start(&c->srv->resume, resume_cb);
    }
  } else if (nread < 0) {
    if (nread != UV_EOF)
      dp_log_info(c->srv->log, "client %llu: %s", (unsigned long long)c->id,
                  uv_strerror((int)nread));
    else
      dp_log_info(c->srv->log, "Client disconnected");
    if (c->framer.len > 0)
      dp_conn_log(c, DP_LOG_WARNING,
                  "client %llu left %zu bytes of a command without its terminator (ignored: "
                  "a command ends at ';' or a newline)",
                  (unsigned long long)c->id, c->framer.len);
    dp_conn_close(c);
  }
}

/* A new client: in the book, under the limits, not reading yet. */
static dp_conn_t *conn_new(dp_server_t *srv) {
  dp_conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    dp_limits_log(srv, DP_LOG_ERROR, "no memory for a new connection");
    return NULL;
  }
  c->srv = srv;
  c->id = srv->next_conn_id++;
  c->active_ms = uv_now(&srv->loop);
  dp_framer_init(&c->framer, srv->opts.max_command_len);
  return c;
}

/* Links c (its handle initialised) and greets it; closes it on failure. */
static void conn_start(dp_conn_t *c, int accept_rc) {
  dp_server_t *srv = c->srv;
  c->io.handle.data = c;
  c->prev = srv->conns_tail;
  if (srv->conns_tail != NULL)
    srv->conns_tail->next = c;
  else
    srv->conns = c;
  srv->conns_tail = c;
  srv->n_conns++;
  if (accept_rc != 0) {
    dp_limits_log(srv, DP_LOG_ERROR, "cannot take a client: %s", uv_strerror(accept_rc));
    dp_conn_close(c);
    return;
  }
  if (!dp_limits_admit(srv, c)) return;
  dp_limits_start_sweep(srv);
  char greeting[512];
  int n = snprintf(greeting, sizeof greeting, "Connected to %s\n", srv->opts.name);
  if (n >= (int)sizeof greeting) n = (int)sizeof greeting - 1;
  dp_conn_send(c, greeting, (size_t)n);
  if (!c->closing) uv_read_start(&c->io.stream, alloc_cb, read_cb);
}

static void on_connection(uv_stream_t *listener, int status) {
  dp_server_t *srv = listener->data;
  if (status < 0) {
    dp_limits_log(srv, DP_LOG_ERROR, "accept failed: %s", uv_strerror(status));
    return;
  }
  dp_conn_t *c = conn_new(srv);
  if (c == NULL) return;
  uv_tcp_init(&srv->loop, &c->io.tcp);
  int rc = uv_accept(listener, &c->io.stream);
  if (rc == 0) uv_tcp_nodelay(&c->io.tcp, 1);
  conn_start(c, rc);
}

int dp_server_adopt(dp_server_t *srv, int fd) {
  if (srv->closing) return dp_error_set(DP_ESTATE, "the server is shutting down");
  dp_conn_t *c = conn_new(srv);
  if (c == NULL) return dp_error_set(DP_ENOMEM, "no memory for a connection");
  uv_pipe_init(&srv->loop, &c->io.pipe, 0);
  int rc = uv_pipe_open(&c->io.pipe, fd);
  conn_start(c, rc);
  return rc == 0 ? 0 : dp_error_set(DP_ESYS, "cannot use descriptor %d: %s", fd, uv_strerror(rc));
}

/* ---- listening, running, shutdown ---------------------------------------- */

int dp_server_listen(dp_server_t *srv) {
  if (srv->listening) return dp_error_set(DP_ESTATE, "the server listens already");
  struct sockaddr_storage addr;
  int rc = strchr(srv->opts.ip, ':') != NULL
               ? uv_ip6_addr(srv->opts.ip, srv->opts.port, (struct sockaddr_in6 *)&addr)
               : uv_ip4_addr(srv->opts.ip, srv->opts.port, (struct sockaddr_in *)&addr);
  if (rc != 0) return dp_error_set(DP_EINVAL, "invalid bind address %s", srv->opts.ip);
  uv_tcp_init(&srv->loop, &srv->listener);
  srv->listener.data = srv;
  srv->listening = true;
  rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, srv->opts.backlog, on_connection);
  if (rc != 0) {
    uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listening = false;
    uv_run(&srv->loop, UV_RUN_NOWAIT);
    return dp_error_set(DP_ECONN, "cannot listen on %s:%d: %s", srv->opts.ip, srv->opts.port,
                        uv_strerror(rc));
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
  srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
  dp_log_info(srv->log, "%s listening on %s:%d", srv->opts.name, srv->opts.ip, srv->port);
  return 0;
}

int dp_server_port(const dp_server_t *srv) {
  return srv->listening ? srv->port : 0;
}

void dp_server_wake(dp_server_t *srv) {
  uv_mutex_lock(&srv->out_lock);
  if (!atomic_load(&srv->finished)) uv_async_send(&srv->wake);
  uv_mutex_unlock(&srv->out_lock);
}

void dp_server_close(dp_server_t *srv) {
  atomic_store(&srv->close_requested, true);
  /* No lock here (async-signal-safe): uv_async_send is, and the handle stays
   * open until run() finishes, after which close requests do nothing. */
  if (!atomic_load(&srv->finished)) uv_async_send(&srv->wake);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  (void)status;
  dp_conn_t *c = req->data;
  free(req);
  dp_conn_close(c);
}

/* Connections still waiting for their last replies to drain are cut. */
static void linger_cb(uv_timer_t *t) {
  dp_server_t *srv = t->data;
  while (srv->conns != NULL) dp_conn_close(srv->conns);
}

void dp_server_begin_shutdown(dp_server_t *srv) {
  if (srv->closing) return;
  srv->closing = true;
  dp_log_info(srv->log, "Shutting down %s", srv->opts.name);
  if (srv->listening) {
    uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listening = false;
  }
  uv_timer_stop(&srv->sweep);
  dp_server_stop_workers(srv);
  /* Let every reply already queued reach its client, then close. */
  for (dp_conn_t *c = srv->conns, *next; c != NULL; c = next) {
    next = c->next;
    uv_read_stop(&c->io.stream);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req != NULL) req->data = c;
    if (req == NULL || uv_shutdown(req, &c->io.stream, shutdown_cb) != 0) {
      free(req);
      dp_conn_close(c);
    }
  }
  if (srv->conns != NULL) uv_timer_start(&srv->linger, linger_cb, LINGER_MS, 0);
  maybe_finish(srv);
}

static void maybe_finish(dp_server_t *srv) {
  if (!srv->closing || srv->n_conns > 0 || !dp_workers_idle(srv) || atomic_load(&srv->finished))
    return;
  uv_mutex_lock(&srv->out_lock);
  atomic_store(&srv->finished, true);
  uv_mutex_unlock(&srv->out_lock);
  uv_close((uv_handle_t *)&srv->wake, NULL);
  uv_close((uv_handle_t *)&srv->reaper, NULL);
  uv_close((uv_handle_t *)&srv->linger, NULL);
  uv_close((uv_handle_t *)&srv->sweep, NULL);
  uv_close((uv_handle_t *)&srv->resume, NULL);
}

void dp_server_check_finish(dp_server_t *srv) {
  maybe_finish(srv);
}

static void deliver(dp_server_t *srv, dp_outmsg_t *m) {
  for (dp_conn_t *c = srv->conns, *next; c != NULL; c = next) {
    next = c->next; /* a failing send removes c */
    if (m->client == 0 || m->client == c->id) dp_conn_send(c, m->data, m->len);
  }
}

static void wake_cb(uv_async_t *handle) {
  dp_server_t *srv = handle->data;
  uv_mutex_lock(&srv->out_lock);
  dp_outmsg_t *m = srv->out_head;
  srv->out_head = NULL;
  srv->out_tail = &srv->out_head;
  uv_mutex_unlock(&srv->out_lock);
  while (m != NULL) {
    dp_outmsg_t *next = m->next;
    if (!srv->closing) deliver(srv, m);
    free(m);
    m = next;
  }
  dp_workers_sweep(srv);
  if (atomic_load(&srv->close_requested)) dp_server_begin_shutdown(srv);
  maybe_finish(srv);
}

int dp_server_run(dp_server_t *srv) {
  if (srv->running || atomic_load(&srv->finished))
    return dp_error_set(DP_ESTATE, "dp_server_run() runs once");
  srv->running = true;
  if (atomic_load(&srv->close_requested)) dp_server_begin_shutdown(srv);
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  srv->running = false;
  return 0;
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void dp_server_free(dp_server_t *srv) {
  if (srv == NULL) return;
  if (!atomic_load(&srv->finished)) { /* never ran: shut down here */
    atomic_store(&srv->close_requested, true);
    dp_server_begin_shutdown(srv);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
  }
  if (dp_workers_abandon(srv)) return; /* a running thread still uses srv: leak it */
  uv_walk(&srv->loop, close_any, NULL);
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  uv_loop_close(&srv->loop);
  for (dp_outmsg_t *m = srv->out_head, *next; m != NULL; m = next) {
    next = m->next;
    free(m);
  }
  for (size_t i = 0; i < srv->n_handlers; i++) {
    free(srv->handlers[i].name);
    free(srv->handlers[i].help);
  }
  free(srv->handlers);
  uv_mutex_destroy(&srv->out_lock);
  free((char *)srv->opts.name);
  free((char *)srv->opts.ip);
  free(srv);
}

/* ---- output from any thread ---------------------------------------------- */

int dp_server_send_to(dp_server_t *srv, uint64_t client, const char *data, size_t len) {
  if (srv == NULL || (data == NULL && len > 0)) return dp_error_set(DP_EINVAL, "no data");
  dp_outmsg_t *m = malloc(sizeof *m + len);
  if (m == NULL) return dp_error_set(DP_ENOMEM, "no memory for %zu bytes", len);
  m->next = NULL;
  m->client = client;
  m->len = len;
  if (len > 0) memcpy(m->data, data, len);
  uv_mutex_lock(&srv->out_lock);
  if (atomic_load(&srv->finished)) {
    uv_mutex_unlock(&srv->out_lock);
    free(m);
    return dp_error_set(DP_ESTATE, "the server has stopped");
  }
  *srv->out_tail = m;
  srv->out_tail = &m->next;
  uv_async_send(&srv->wake);
  uv_mutex_unlock(&srv->out_lock);
  return 0;
}

int dp_server_broadcast(dp_server_t *srv, const char *data, size_t len) {
  return dp_server_send_to(srv, 0, data, len);
}

int dp_server_callback(dp_server_t *srv, const char *target, const char *pcomm,
                       const char *payload) {
  if (target == NULL || pcomm == NULL || target[0] == '\0' || pcomm[0] == '\0' ||
      strchr(target, '|') != NULL || strchr(pcomm, '|') != NULL)
    return dp_error_set(DP_EINVAL, "a callback needs a target and a pcomm without '|'");
  if (payload == NULL) payload = "";
  size_t n = strlen(target) + strlen(payload) + strlen(pcomm) + 3;
  char *text = malloc(n);
  if (text == NULL) return dp_error_set(DP_ENOMEM, "no memory for a callback");
  int len = snprintf(text, n, "%s|%s|%s", target, pcomm, payload);
  int rc = dp_server_broadcast(srv, text, (size_t)len);
  free(text);
  return rc;
}
