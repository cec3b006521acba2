/* client.c - the blocking module client (client.h). Each client owns a
 * private libuv loop that it runs only inside its calls, until the awaited
 * condition holds or a timer fires. */
#include "client/client_internal.h"

#include "common/error_internal.h"

#include <stdlib.h>
#include <string.h>

#define QUIET_MS 5

struct dp_client {
  uv_loop_t loop;
  uv_tcp_t tcp;
  uv_timer_t timer;
  bool timed_out;
  bool tcp_open;
  int connect_status; /* 1: pending */
  int write_status;   /* 1: pending */
  bool eof;
  char *buf; /* received, not yet handed out */
  size_t len, cap;
  char *greeting;
  dp_client_data_fn on_data;
  void *on_data_user;
};

void dp_client_opts_init(dp_client_opts_t *opts) {
  opts->host = "127.0.0.1";
  opts->port = 8080;
  opts->attempts = 3;
  opts->retry_delay_s = 1.0;
  opts->timeout_s = 1.0;
}

static void timer_cb(uv_timer_t *t) {
  dp_client_t *c = t->data;
  c->timed_out = true;
}

/* Runs the loop until done(c) or timeout_ms passed; true when done. */
static bool run_until(dp_client_t *c, bool (*done)(dp_client_t *), uint64_t timeout_ms) {
  if (done(c)) return true;
  c->timed_out = false;
  uv_timer_start(&c->timer, timer_cb, timeout_ms, 0);
  while (!done(c) && !c->timed_out) uv_run(&c->loop, UV_RUN_ONCE);
  uv_timer_stop(&c->timer);
  return done(c);
}

static uint64_t ms(double s) {
  return s > 0 ? (uint64_t)(s * 1000.0 + 0.5) : 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  dp_client_t *c = h->data;
  if (c->cap - c->len < suggested) {
    size_t cap = c->len + suggested;
    char *nb = realloc(c->buf, cap + 1);
    if (nb == NULL) {
      *b = uv_buf_init(NULL, 0);
      return;
    }
    c->buf = nb;
    c->cap = cap;
  }
  *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  dp_client_t *c = s->data;
  (void)b;
  if (n > 0) {
    if (c->on_data != NULL)
      c->on_data(c->buf + c->len, (size_t)n, c->on_data_user);
    else
      c->len += (size_t)n;
  } else if (n < 0) {
    c->eof = true;
    uv_read_stop(s);
    if (c->on_data != NULL) c->on_data(NULL, 0, c->on_data_user);
  }
}

static void connect_cb(uv_connect_t *req, int status) {
  dp_client_t *c = req->data;
  c->connect_status = status;
}

static bool connect_done(dp_client_t *c) {
  return c->connect_status != 1;
}

static bool has_line(dp_client_t *c) {
  return c->eof || (c->len > 0 && memchr(c->buf, '\n', c->len) != NULL);
}

static void close_tcp(dp_client_t *c) {
  if (!c->tcp_open) return;
  uv_close((uv_handle_t *)&c->tcp, NULL);
  uv_run(&c->loop, UV_RUN_NOWAIT);
  c->tcp_open = false;
}

/* One connection attempt; 0 or a libuv error. */
static int try_connect(dp_client_t *c, const struct sockaddr *addr, double timeout_s) {
  uv_tcp_init(&c->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = true;
  uv_connect_t req;
  req.data = c;
  c->connect_status = 1;
  int rc = uv_tcp_connect(&req, &c->tcp, addr, connect_cb);
  if (rc == 0 && !run_until(c, connect_done, ms(timeout_s))) {
    close_tcp(c); /* cancels the request; its callback runs in close */
    return UV_ETIMEDOUT;
  }
  if (rc == 0) rc = c->connect_status;
  if (rc != 0) close_tcp(c);
  return rc;
}

static dp_client_t *fail(dp_client_t *c) {
  dp_client_close(c);
  return NULL;
}

dp_client_t *dp_client_connect(const dp_client_opts_t *opts) {
  dp_client_opts_t d;
  if (opts == NULL) {
    dp_client_opts_init(&d);
    opts = &d;
  }
  dp_client_t *c = calloc(1, sizeof *c);
  if (c == NULL || uv_loop_init(&c->loop) != 0) {
    free(c);
    dp_error_set(DP_ENOMEM, "no memory for a client");
    return NULL;
  }
  uv_timer_init(&c->loop, &c->timer);
  c->timer.data = c;
  const char *host = opts->host != NULL ? opts->host : "127.0.0.1";
  char port[16];
  snprintf(port, sizeof port, "%d", opts->port);
  uv_getaddrinfo_t gai;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(&c->loop, &gai, NULL, host, port, &hints);
  if (rc != 0) {
    dp_error_set(DP_ECONN, "cannot resolve %s: %s", host, uv_strerror(rc));
    return fail(c);
  }
  int attempts = opts->attempts > 0 ? opts->attempts : 1;
  for (int i = 0; i < attempts; i++) {
    rc = try_connect(c, gai.addrinfo->ai_addr, opts->timeout_s);
    if (rc != UV_ECONNREFUSED || i + 1 == attempts) break;
    c->timed_out = false;
    uv_timer_start(&c->timer, timer_cb, ms(opts->retry_delay_s), 0);
    while (!c->timed_out) uv_run(&c->loop, UV_RUN_ONCE);
  }
  uv_freeaddrinfo(gai.addrinfo);
  if (rc != 0) {
    dp_error_set(rc == UV_ETIMEDOUT ? DP_ETIMEDOUT : DP_ECONN, "cannot connect to %s:%d: %s", host,
                 opts->port, uv_strerror(rc));
    return fail(c);
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
  run_until(c, has_line, ms(opts->timeout_s));
  char *nl = c->len > 0 ? memchr(c->buf, '\n', c->len) : NULL;
  size_t glen = nl != NULL ? (size_t)(nl - c->buf) : 0;
  c->greeting = malloc(glen + 1);
  if (c->greeting == NULL) {
    dp_error_set(DP_ENOMEM, "no memory for the greeting");
    return fail(c);
  }
  memcpy(c->greeting, c->buf, glen);
  c->greeting[glen] = '\0';
  if (nl != NULL) {
    c->len -= glen + 1;
    memmove(c->buf, nl + 1, c->len);
  }
  return c;
}

const char *dp_client_greeting(const dp_client_t *c) {
  return c->greeting;
}

static void write_cb(uv_write_t *req, int status) {
  dp_client_t *c = req->data;
  c->write_status = status;
}

static bool write_done(dp_client_t *c) {
  return c->write_status != 1;
}

int dp_client_send_raw(dp_client_t *c, const char *data, size_t len) {
  if (!c->tcp_open || c->eof) return dp_error_set(DP_ECLOSED, "the module closed the connection");
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n == (int)len) return 0;
  if (n < 0 && n != UV_EAGAIN) return dp_error_set(DP_EIO, "send failed: %s", uv_strerror(n));
  if (n > 0) b = uv_buf_init((char *)data + n, (unsigned)(len - (size_t)n));
  uv_write_t req;
  req.data = c;
  c->write_status = 1;
  int rc = uv_write(&req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
  if (rc == 0) {
    while (!write_done(c)) uv_run(&c->loop, UV_RUN_ONCE);
    rc = c->write_status;
  }
  return rc == 0 ? 0 : dp_error_set(DP_EIO, "send failed: %s", uv_strerror(rc));
}

int dp_client_send(dp_client_t *c, const char *cmd) {
  size_t n = strlen(cmd);
  if (n > 0 && (cmd[n - 1] == ';' || cmd[n - 1] == '\n')) return dp_client_send_raw(c, cmd, n);
  char *msg = malloc(n + 2);
  if (msg == NULL) return dp_error_set(DP_ENOMEM, "no memory for a command");
  memcpy(msg, cmd, n);
  msg[n] = ';';
  msg[n + 1] = '\0';
  int rc = dp_client_send_raw(c, msg, n + 1);
  free(msg);
  return rc;
}

static bool has_data(dp_client_t *c) {
  return c->len > 0 || c->eof;
}

int dp_client_recv(dp_client_t *c, char **out, size_t *len, double timeout_s) {
  *out = NULL;
  *len = 0;
  if (!run_until(c, has_data, ms(timeout_s)))
    return dp_error_set(DP_ETIMEDOUT, "no reply within %.3f s", timeout_s);
  /* gather until quiet */
  size_t before;
  do {
    before = c->len;
    c->timed_out = false;
    uv_timer_start(&c->timer, timer_cb, QUIET_MS, 0);
    while (c->len == before && !c->eof && !c->timed_out) uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->timer);
  } while (c->len != before && !c->eof);
  if (c->len == 0) return dp_error_set(DP_ECLOSED, "the module closed the connection");
  *out = malloc(c->len + 1);
  if (*out == NULL) return dp_error_set(DP_ENOMEM, "no memory for a reply");
  memcpy(*out, c->buf, c->len);
  (*out)[c->len] = '\0';
  *len = c->len;
  c->len = 0;
  return 0;
}

int dp_client_request(dp_client_t *c, const char *cmd, char **reply, size_t *len,
                      double timeout_s) {
  *reply = NULL;
  *len = 0;
  int rc = dp_client_send(c, cmd);
  return rc < 0 ? rc : dp_client_recv(c, reply, len, timeout_s);
}

void dp_client_free_list(char **names, size_t n) {
  for (size_t i = 0; names != NULL && i < n; i++) free(names[i]);
  free(names);
}

int dp_client_get_pcomms(dp_client_t *c, char ***names, size_t *n, double timeout_s) {
  *names = NULL;
  *n = 0;
  char *reply;
  size_t len;
  int rc = dp_client_request(c, "GET_PCOMMS", &reply, &len, timeout_s);
  if (rc < 0) return rc;
  if (reply == NULL) return dp_error_set(DP_EIO, "no reply");
  size_t count = 1;
  for (size_t i = 0; i < len; i++) count += reply[i] == '|';
  char **list = calloc(count, sizeof *list);
  if (list == NULL) {
    free(reply);
    return dp_error_set(DP_ENOMEM, "no memory for %zu names", count);
  }
  char *p = reply;
  for (size_t i = 0; i < count; i++) {
    char *bar = strchr(p, '|');
    size_t l = bar != NULL ? (size_t)(bar - p) : strlen(p);
    list[i] = malloc(l + 1);
    if (list[i] == NULL) {
      dp_client_free_list(list, i);
      free(reply);
      return dp_error_set(DP_ENOMEM, "no memory for a name");
    }
    memcpy(list[i], p, l);
    list[i][l] = '\0';
    p += l + 1;
  }
  free(reply);
  *names = list;
  *n = count;
  return 0;
}

static bool has_one(dp_client_t *c) {
  return c->eof || (c->len > 0 && memchr(c->buf, '1', c->len) != NULL);
}

int dp_client_up(dp_client_t *c, double timeout_s) {
  int rc = dp_client_send(c, "UP");
  if (rc < 0) return rc;
  bool up =
      run_until(c, has_one, ms(timeout_s)) && c->len > 0 && memchr(c->buf, '1', c->len) != NULL;
  if (up) { /* consume up to and including the acknowledgement */
    char *one = memchr(c->buf, '1', c->len);
    c->len -= (size_t)(one - c->buf) + 1;
    memmove(c->buf, one + 1, c->len);
    return 1;
  }
  return c->eof ? dp_error_set(DP_ECLOSED, "the module closed the connection") : 0;
}

void dp_client_close(dp_client_t *c) {
  if (c == NULL) return;
  close_tcp(c);
  uv_close((uv_handle_t *)&c->timer, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  uv_loop_close(&c->loop);
  free(c->buf);
  free(c->greeting);
  free(c);
}

uv_loop_t *dp_client_loop(dp_client_t *c) {
  return &c->loop;
}

void dp_client_on_data(dp_client_t *c, dp_client_data_fn fn, void *user) {
  c->on_data = fn;
  c->on_data_user = user;
  if (fn != NULL && c->len > 0) { /* hand over what is buffered */
    fn(c->buf, c->len, user);
    c->len = 0;
  }
}

typedef struct {
  uv_write_t req;
  char data[];
} queued_t;

static void queued_cb(uv_write_t *req, int status) {
  (void)status; /* a failed write shows up as EOF on the read side */
  free(req);
}

int dp_client_queue(dp_client_t *c, const char *data, size_t len) {
  if (!c->tcp_open || c->eof) return dp_error_set(DP_ECLOSED, "the module closed the connection");
  queued_t *q = malloc(sizeof *q + len);
  if (q == NULL) return dp_error_set(DP_ENOMEM, "no memory for %zu bytes", len);
  memcpy(q->data, data, len);
  uv_buf_t b = uv_buf_init(q->data, (unsigned)len);
  int rc = uv_write(&q->req, (uv_stream_t *)&c->tcp, &b, 1, queued_cb);
  if (rc != 0) {
    free(q);
    return dp_error_set(DP_ECLOSED, "send failed: %s", uv_strerror(rc));
  }
  return 0;
}
