/* server.c - the module server's loop: listening, connections, framing of
 * the byte stream into commands, the built-in commands, dispatch to handlers,
 * output queued by other threads, and the orderly shutdown. The framing rule
 * and the wire behaviour are described in server.h; parsing of one command is
 * in command.c, the workers' book in workers.c. */
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dp_conn {
  uv_tcp_t tcp;
  uv_timer_t idle; /* runs an unterminated fragment after opts.idle_ms */
  dp_server_t *srv;
  dp_conn_t *prev, *next;
  uint64_t id;
  char *buf; /* bytes of a command that has no terminator yet */
  size_t len, cap;
  size_t writes_pending;
  size_t queued; /* bytes in pending writes (a client that never reads) */
  char *out;     /* replies gathered while a read is handled: one write per read */
  size_t out_len, out_cap;
  bool batching;
  int open_handles;
  bool closing;
};

typedef struct {
  uv_write_t req;
  dp_conn_t *conn;
  size_t len;
  char data[];
} write_req_t;

/* A client that reads none of its replies is cut off beyond this. */
#define MAX_QUEUED_BYTES ((size_t)16 << 20)
/* After CLOSE, connections get this long to take their last replies. */
#define LINGER_MS 2000

static const char *const builtin_names[] = {"STOP", "CLOSE", "GET_PCOMMS", "UP"};

static void begin_shutdown(dp_server_t *srv);
static void maybe_finish(dp_server_t *srv);

void dp_server_opts_init(dp_server_opts_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->name = "default_server";
  opts->ip = "127.0.0.1";
  opts->port = 8080;
  opts->backlog = 511;
  opts->max_command_len = (size_t)64 * 1024;
  opts->idle_ms = 50;
  opts->stop_grace_s = 2.0;
  opts->join_timeout_s = 2.0;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

static void wake_cb(uv_async_t *handle);

dp_server_t *dp_server_new(const dp_server_opts_t *opts) {
  dp_server_opts_t defaults;
  if (opts == NULL) {
    dp_server_opts_init(&defaults);
    opts = &defaults;
  }
  if (opts->name == NULL || opts->ip == NULL || opts->port < 0 || opts->port > 65535 ||
      opts->max_command_len == 0 || opts->stop_grace_s < 0 || opts->join_timeout_s < 0) {
    dp_error_set(DP_EINVAL, "invalid server options (name, ip, port 0..65535, limits)");
    return NULL;
  }
  dp_server_t *srv = calloc(1, sizeof *srv);
  if (srv == NULL) goto nomem;
  srv->opts = *opts;
  srv->opts.name = dup_str(opts->name);
  srv->opts.ip = dup_str(opts->ip);
  if (srv->opts.name == NULL || srv->opts.ip == NULL) goto nomem;
  if (srv->opts.backlog <= 0) srv->opts.backlog = 511;
  if (uv_loop_init(&srv->loop) != 0) goto nomem;
  uv_async_init(&srv->loop, &srv->wake, wake_cb);
  uv_timer_init(&srv->loop, &srv->reaper);
  uv_timer_init(&srv->loop, &srv->linger);
  srv->wake.data = srv->reaper.data = srv->linger.data = srv;
  uv_mutex_init(&srv->out_lock);
  srv->out_tail = &srv->out_head;
  srv->next_conn_id = srv->next_worker_id = 1;
  srv->log = dp_log_get("dareplane.server");
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

static bool valid_name(const char *name) {
  if (name == NULL || name[0] == '\0') return false;
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
    if (*p <= ' ' || *p == 0x7F || *p == 0xC2 || *p == '|' || *p == ';') return false;
  return true;
}

static bool is_builtin(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
    if (strlen(builtin_names[i]) == len && memcmp(builtin_names[i], name, len) == 0) return true;
  return false;
}

static dp_handler_t *find_handler(const dp_server_t *srv, const char *name, size_t len) {
  for (size_t i = 0; i < srv->n_handlers; i++)
    if (strncmp(srv->handlers[i].name, name, len) == 0 && srv->handlers[i].name[len] == '\0')
      return &srv->handlers[i];
  return NULL;
}

int dp_server_add(dp_server_t *srv, const char *name, dp_handler_fn fn, void *user,
                  const char *help) {
  if (srv == NULL || fn == NULL || !valid_name(name))
    return dp_error_set(DP_EINVAL, "a command name must be non-empty printable ASCII without "
                                   "'|', ';' or blanks, and a handler is needed");
  if (is_builtin(name, strlen(name)))
    return dp_error_set(DP_EINVAL, "%s is a built-in command", name);
  if (find_handler(srv, name, strlen(name)) != NULL)
    return dp_error_set(DP_EEXIST, "command %s is already registered", name);
  dp_handler_t *h = realloc(srv->handlers, (srv->n_handlers + 1) * sizeof *h);
  if (h == NULL) return dp_error_set(DP_ENOMEM, "no memory for a handler");
  srv->handlers = h;
  h = &srv->handlers[srv->n_handlers];
  h->name = dup_str(name);
  h->help = dup_str(help != NULL ? help : "");
  if (h->name == NULL || h->help == NULL) {
    free(h->name);
    free(h->help);
    return dp_error_set(DP_ENOMEM, "no memory for a handler");
  }
  h->fn = fn;
  h->user = user;
  srv->n_handlers++;
  return 0;
}

size_t dp_server_count(const dp_server_t *srv) {
  return srv->n_handlers;
}

const char *dp_server_command_name(const dp_server_t *srv, size_t i) {
  return i < srv->n_handlers ? srv->handlers[i].name : NULL;
}

const char *dp_server_command_help(const dp_server_t *srv, size_t i) {
  return i < srv->n_handlers ? srv->handlers[i].help : NULL;
}

/* ---- connections -------------------------------------------------------- */

uint64_t dp_conn_id(const dp_conn_t *c) {
  return c->id;
}

static void conn_handle_closed(uv_handle_t *h) {
  dp_conn_t *c = h->data;
  if (--c->open_handles > 0) return;
  dp_server_t *srv = c->srv;
  free(c->buf);
  free(c->out);
  free(c);
  maybe_finish(srv);
}

/* Takes the connection out of the server and closes it; pending writes are
 * cancelled. */
static void conn_close(dp_conn_t *c) {
  if (c->closing) return;
  c->closing = true;
  dp_server_t *srv = c->srv;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    srv->conns = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  srv->n_conns--;
  uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
  uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
}

static void write_cb(uv_write_t *req, int status) {
  write_req_t *w = (write_req_t *)req;
  dp_conn_t *c = w->conn;
  c->queued -= w->len;
  free(w);
  c->writes_pending--;
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    dp_log_info(c->srv->log, "client %llu: write failed (%s), closing it",
                (unsigned long long)c->id, uv_strerror(status));
    conn_close(c);
  }
}

static void write_now(dp_conn_t *c, const char *data, size_t len);

void dp_conn_send(dp_conn_t *c, const char *data, size_t len) {
  if (c->closing || len == 0) return;
  if (c->batching) {
    if (c->out_len + len > c->out_cap) {
      size_t cap = (c->out_len + len) * 2;
      char *b = realloc(c->out, cap);
      if (b == NULL) { /* no room to gather: write what we have, then this */
        write_now(c, c->out, c->out_len);
        c->out_len = 0;
        write_now(c, data, len);
        return;
      }
      c->out = b;
      c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return;
  }
  write_now(c, data, len);
}

/* Ends a batch: writes what the handled read produced. */
static void flush(dp_conn_t *c) {
  c->batching = false;
  if (c->out_len > 0 && !c->closing) write_now(c, c->out, c->out_len);
  c->out_len = 0;
  if (c->out_cap > (size_t)64 * 1024) { /* do not keep a huge buffer around */
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
}

static void write_now(dp_conn_t *c, const char *data, size_t len) {
  size_t done = 0;
  if (c->writes_pending == 0) {
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n >= 0)
      done = (size_t)n;
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      dp_log_info(c->srv->log, "client %llu: send failed (%s), closing it",
                  (unsigned long long)c->id, uv_strerror(n));
      conn_close(c);
      return;
    }
  }
  if (done == len) return;
  if (c->queued + (len - done) > MAX_QUEUED_BYTES) {
    dp_log_error(c->srv->log,
                 "client %llu reads none of its replies (%zu bytes queued); "
                 "disconnecting it",
                 (unsigned long long)c->id, c->queued);
    conn_close(c);
    return;
  }
  write_req_t *w = malloc(sizeof *w + (len - done));
  if (w == NULL) {
    dp_log_error(c->srv->log, "client %llu: no memory to queue %zu bytes, closing it",
                 (unsigned long long)c->id, len - done);
    conn_close(c);
    return;
  }
  memcpy(w->data, data + done, len - done);
  w->conn = c;
  w->len = len - done;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(len - done));
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    free(w);
    conn_close(c);
    return;
  }
  c->writes_pending++;
  c->queued += w->len;
}

static void error_reply(dp_conn_t *c, const char *fmt, ...) DP_PRINTF(2, 3);
static void error_reply(dp_conn_t *c, const char *fmt, ...) {
  if (c == NULL || !c->srv->opts.error_replies) return;
  char text[1024];
  int n = snprintf(text, sizeof text, "ERROR ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(text + n, sizeof text - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if ((size_t)n > sizeof text - 2) n = (int)sizeof text - 2;
  text[n++] = '\n';
  dp_conn_send(c, text, (size_t)n);
}

static void reply_pcomms(dp_conn_t *c) {
  dp_server_t *srv = c->srv;
  size_t size = 64;
  for (size_t i = 0; i < srv->n_handlers; i++) size += strlen(srv->handlers[i].name) + 1;
  char *text = malloc(size);
  if (text == NULL) return;
  size_t n = 0;
  for (size_t i = 0; i < srv->n_handlers; i++) {
    size_t l = strlen(srv->handlers[i].name);
    memcpy(text + n, srv->handlers[i].name, l);
    n += l;
    text[n++] = '|';
  }
  n += (size_t)snprintf(text + n, size - n, "STOP|CLOSE%s",
                        srv->opts.list_builtins ? "|GET_PCOMMS|UP" : "");
  dp_conn_send(c, text, n);
  free(text);
}

static void run_handler(dp_conn_t *c, dp_handler_t *h, const dp_command_t *cmd, const char *shown) {
  dp_request_t req = {.srv = c->srv, .conn = c, .cmd = cmd};
  dp_error_set(DP_OK, NULL);
  int rc = h->fn(&req, h->user);
  dp_request_release(&req);
  if (rc < 0) {
    const char *detail = dp_error_last() == rc ? dp_error_detail() : dp_strerror(rc);
    dp_log_error(c->srv->log, "command %s failed: %s (%s)", shown, detail, dp_err_name(rc));
    error_reply(c, "%s failed: %s", h->name, detail);
  }
}

/* Runs one command (the bytes between two terminators). */
static void handle(dp_conn_t *c, const char *msg, size_t len) {
  dp_server_t *srv = c->srv;
  dp_command_t cmd;
  int rc = dp_command_parse(msg, len, &cmd);
  if (rc == DP_EEMPTY) return;
  char shown[256];
  bool is_up = rc == 0 && cmd.bare && strcmp(cmd.name, "UP") == 0;
  if (!is_up && dp_logger_enabled(srv->log, DP_LOG_INFO))
    dp_log_info(srv->log, "Received: %s", dp_command_escape(msg, len, shown, sizeof shown));
  if (rc < 0) {
    dp_command_escape(msg, len, shown, sizeof shown);
    dp_log_error(srv->log, "ignoring command %s: %s", shown, dp_error_detail());
    error_reply(c, "%s", dp_error_detail());
    return;
  }
  if (is_up) {
    dp_conn_send(c, "1", 1);
  } else if (strcmp(cmd.name, "GET_PCOMMS") == 0) {
    reply_pcomms(c);
  } else if (cmd.bare && strcmp(cmd.name, "STOP") == 0) {
    dp_server_stop_workers(srv);
  } else if (cmd.bare && strcmp(cmd.name, "CLOSE") == 0) {
    begin_shutdown(srv);
  } else {
    dp_handler_t *h = is_builtin(cmd.name, strlen(cmd.name))
                          ? NULL
                          : find_handler(srv, cmd.name, strlen(cmd.name));
    if (h != NULL) {
      run_handler(c, h, &cmd, dp_command_escape(msg, len, shown, sizeof shown));
    } else {
      dp_command_escape(msg, len, shown, sizeof shown);
      dp_log_warning(srv->log, "Unknown pcomm in %s", shown);
      error_reply(c, "unknown command %s", shown);
    }
  }
  dp_command_clear(&cmd);
}

static bool known_name(const char *name, size_t len, void *user) {
  return is_builtin(name, len) || find_handler(user, name, len) != NULL;
}

static void too_long(dp_conn_t *c, size_t len) {
  dp_log_error(c->srv->log,
               "client %llu sent a command of %zu bytes or more (limit %zu); disconnecting it",
               (unsigned long long)c->id, len, c->srv->opts.max_command_len);
  conn_close(c);
}

static int keep_remainder(dp_conn_t *c, const char *p, size_t n) {
  if (c->buf != NULL && p >= c->buf && p < c->buf + c->cap) {
    memmove(c->buf, p, n); /* the fragment already lives in c->buf */
  } else {
    if (n > c->cap || c->buf == NULL) {
      char *b = realloc(c->buf, n);
      if (b == NULL) return DP_ENOMEM;
      c->buf = b;
      c->cap = n;
    }
    memcpy(c->buf, p, n);
  }
  c->len = n;
  return 0;
}

static void idle_cb(uv_timer_t *t) {
  dp_conn_t *c = t->data;
  size_t n = c->len;
  c->len = 0;
  c->batching = true;
  if (n > 0) handle(c, c->buf, n);
  flush(c);
}

/* Appends `n` fresh bytes to the connection's stream and runs every command
 * they complete (framing rule: server.h). */
static void feed(dp_conn_t *c, const char *data, size_t n) {
  dp_server_t *srv = c->srv;
  const char *p = data;
  size_t len = n, fresh_from = 0;
  if (c->len > 0) { /* continue a pending fragment */
    if (c->len + n > c->cap) {
      size_t cap = c->len + n;
      char *b = realloc(c->buf, cap);
      if (b == NULL) {
        too_long(c, c->len + n);
        return;
      }
      c->buf = b;
      c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    fresh_from = c->len;
    p = c->buf;
    len = c->len + n;
    c->len = 0;
  }
  size_t start = 0;
  for (size_t i = 0; i < len && !srv->closing && !c->closing; i++) {
    if (p[i] != ';' && p[i] != '\n') continue;
    if (i - start > srv->opts.max_command_len) {
      too_long(c, i - start);
      return;
    }
    handle(c, p + start, i - start);
    start = i + 1;
  }
  if (srv->closing || c->closing) return;
  size_t rest = len - start;
  if (rest > srv->opts.max_command_len) {
    too_long(c, rest);
    return;
  }
  if (rest > 0 && dp_command_is_complete(p + start, rest, start >= fresh_from, known_name, srv)) {
    handle(c, p + start, rest);
    rest = 0;
  }
  if (rest == 0) {
    uv_timer_stop(&c->idle);
    return;
  }
  if (keep_remainder(c, p + start, rest) < 0) {
    too_long(c, rest);
    return;
  }
  uv_timer_start(&c->idle, idle_cb, srv->opts.idle_ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  static _Thread_local char chunk[64 * 1024]; /* reads are handled before the next */
  (void)h;
  *buf = uv_buf_init(chunk, sizeof chunk);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  dp_conn_t *c = s->data;
  if (nread > 0) {
    c->batching = true;
    feed(c, buf->base, (size_t)nread);
    flush(c);
  } else if (nread < 0) {
    if (nread != UV_EOF)
      dp_log_info(c->srv->log, "client %llu: %s", (unsigned long long)c->id,
                  uv_strerror((int)nread));
    else
      dp_log_info(c->srv->log, "Client disconnected");
    conn_close(c);
  }
}

static void on_connection(uv_stream_t *listener, int status) {
  dp_server_t *srv = listener->data;
  if (status < 0) {
    dp_log_error(srv->log, "accept failed: %s", uv_strerror(status));
    return;
  }
  dp_conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    dp_log_error(srv->log, "no memory for a new connection");
    return;
  }
  c->srv = srv;
  uv_tcp_init(&srv->loop, &c->tcp);
  uv_timer_init(&srv->loop, &c->idle);
  c->tcp.data = c->idle.data = c;
  c->open_handles = 2;
  c->id = srv->next_conn_id++;
  c->next = srv->conns;
  if (srv->conns != NULL) srv->conns->prev = c;
  srv->conns = c;
  srv->n_conns++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  char greeting[512];
  int n = snprintf(greeting, sizeof greeting, "Connected to %s\n", srv->opts.name);
  if (n >= (int)sizeof greeting) n = (int)sizeof greeting - 1;
  dp_conn_send(c, greeting, (size_t)n);
  if (!c->closing) uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
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
  conn_close(c);
}

/* Connections still waiting for their last replies to drain are cut. */
static void linger_cb(uv_timer_t *t) {
  dp_server_t *srv = t->data;
  while (srv->conns != NULL) conn_close(srv->conns);
}

static void begin_shutdown(dp_server_t *srv) {
  if (srv->closing) return;
  srv->closing = true;
  dp_log_info(srv->log, "Shutting down %s", srv->opts.name);
  if (srv->listening) {
    uv_close((uv_handle_t *)&srv->listener, NULL);
    srv->listening = false;
  }
  dp_server_stop_workers(srv);
  /* Let every reply already queued reach its client, then close. */
  for (dp_conn_t *c = srv->conns, *next; c != NULL; c = next) {
    next = c->next;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->idle);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req != NULL) req->data = c;
    if (req == NULL || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
      free(req);
      conn_close(c);
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
  if (atomic_load(&srv->close_requested)) begin_shutdown(srv);
  maybe_finish(srv);
}

int dp_server_run(dp_server_t *srv) {
  if (srv->running || atomic_load(&srv->finished))
    return dp_error_set(DP_ESTATE, "dp_server_run() runs once");
  srv->running = true;
  if (atomic_load(&srv->close_requested)) begin_shutdown(srv);
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
    begin_shutdown(srv);
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
  size_t n = strlen(target) + strlen(pcomm) + strlen(payload) + 3;
  char *text = malloc(n);
  if (text == NULL) return dp_error_set(DP_ENOMEM, "no memory for a callback");
  int len = snprintf(text, n, "%s|%s|%s", target, pcomm, payload);
  int rc = dp_server_broadcast(srv, text, (size_t)len);
  free(text);
  return rc;
}
