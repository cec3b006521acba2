/* client.c - the blocking module client (client.h). Each client owns a
 * private libuv loop that it runs only inside its calls, until the awaited
 * condition holds or the call's deadline passes.
 *
 * The protocol has no reply framing, so replies are cut at pauses: a reply
 * (a "unit") is what arrives until the module has been quiet for quiet_ms.
 * Every call has one deadline for all it does (sending, the first byte, the
 * rest), and the bytes held are capped (max_reply_bytes): past the cap the
 * client stops reading, so a peer that floods meets TCP back-pressure instead
 * of growing our memory. The buffer grows geometrically up to the cap. */
#include "dareplane/client.h"

#include "client/up_scan.h"
#include "common/error_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define QUIET_MS_DEFAULT  5
#define MAX_REPLY_DEFAULT ((size_t)16 << 20)
#define FIRST_CAP         4096

struct dp_client {
  uv_loop_t loop;
  uv_tcp_t tcp;
  uv_timer_t timer;
  bool timed_out;
  bool tcp_open;
  bool reading;
  int connect_status; /* 1: pending */
  unsigned writes_pending;
  int write_error; /* the first failed write, sticky */
  bool eof;
  bool full; /* more than max arrived (or no memory): reading stopped */
  bool nomem;
  char *buf; /* received, not yet handed out (cap + 1 for the NUL) */
  size_t len, cap, max;
  uint64_t quiet_ms;     /* a pause this long ends a reply */
  uint64_t last_rx;      /* loop time (ms) of the last bytes */
  double timeout_s;      /* opts.timeout_s: connecting, the greeting, sending */
  size_t ups_unanswered; /* UPs sent whose answer was not taken by dp_client_up() */
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
  opts->max_reply_bytes = MAX_REPLY_DEFAULT;
  opts->quiet_ms = QUIET_MS_DEFAULT;
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

/* The loop's clock (ms), fresh. */
static uint64_t now_ms(dp_client_t *c) {
  uv_update_time(&c->loop);
  return uv_now(&c->loop);
}

static uint64_t left_ms(dp_client_t *c, uint64_t deadline) {
  uint64_t now = now_ms(c);
  return deadline > now ? deadline - now : 0;
}

/* Room for the next read: geometric growth, never past max + 1 bytes (one
 * more than allowed tells that the cap was passed). */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  dp_client_t *c = h->data;
  size_t room = c->max + 1 - c->len; /* >= 1: reading stops at max + 1 */
  size_t want = c->len + (suggested < room ? suggested : room);
  if (want > c->cap) {
    size_t cap = c->cap < FIRST_CAP ? FIRST_CAP : c->cap;
    while (cap < want) cap *= 2;
    if (cap > c->max + 1) cap = c->max + 1;
    char *nb = realloc(c->buf, cap + 1);
    if (nb == NULL) {
      *b = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
      return;
    }
    c->buf = nb;
    c->cap = cap;
  }
  *b = uv_buf_init(c->buf + c->len, (unsigned)(want - c->len));
}

static void stop_reading(dp_client_t *c) {
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void start_reading(dp_client_t *c) {
  if (!c->reading && c->tcp_open && !c->eof)
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  dp_client_t *c = s->data;
  (void)b;
  if (n > 0) {
    c->last_rx = uv_now(&c->loop);
    if (c->on_data != NULL) {
      c->on_data(c->buf + c->len, (size_t)n, c->on_data_user);
      return;
    }
    c->len += (size_t)n;
    if (c->len > c->max) {
      c->full = true;
      stop_reading(c);
    }
  } else if (n == UV_ENOBUFS) {
    c->full = c->nomem = true; /* no memory for more: treated like the cap */
    stop_reading(c);
  } else if (n < 0) {
    c->eof = true;
    stop_reading(c);
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

static void close_tcp(dp_client_t *c) {
  if (!c->tcp_open) return;
  uv_close((uv_handle_t *)&c->tcp, NULL);
  uv_run(&c->loop, UV_RUN_NOWAIT);
  c->tcp_open = false;
  c->reading = false;
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

/* Runs the loop until bytes beyond the current ones arrive, the connection
 * ends, the buffer is over the cap, or `wait` ms pass. */
static void wait_for_bytes(dp_client_t *c, uint64_t wait) {
  size_t mark = c->len;
  c->timed_out = false;
  uv_timer_start(&c->timer, timer_cb, wait, 0);
  while (c->len == mark && !c->eof && !c->full && !c->timed_out) uv_run(&c->loop, UV_RUN_ONCE);
  uv_timer_stop(&c->timer);
}

typedef enum {
  UNIT,    /* bytes after `from`, followed by a pause (or the end) */
  NOTHING, /* the deadline passed and nothing came after `from` */
  ENDLESS, /* the deadline passed while bytes were still arriving */
  FULL,    /* more than max bytes held */
  CLOSED,  /* the connection ended and nothing came after `from` */
} gather_t;

/* Waits, until loop time `deadline`, for bytes after buf[from] and then for
 * the pause that ends them. */
static gather_t gather(dp_client_t *c, size_t from, uint64_t deadline) {
  for (;;) {
    uint64_t now = now_ms(c);
    if (c->full) return FULL;
    bool started = c->len > from;
    if (started && (c->eof || now - c->last_rx >= c->quiet_ms)) return UNIT;
    if (!started && c->eof) return CLOSED;
    if (now >= deadline) return started ? ENDLESS : NOTHING;
    uint64_t wait = deadline - now;
    if (started && c->quiet_ms - (now - c->last_rx) < wait) wait = c->quiet_ms - (now - c->last_rx);
    wait_for_bytes(c, wait);
  }
}

/* The error for a gather that did not give a unit; drops the bytes of a
 * FULL buffer (reading resumes) and keeps the others for the next call. */
static int gather_error(dp_client_t *c, gather_t g, double timeout_s) {
  switch (g) {
  case FULL: {
    size_t held = c->len;
    bool nomem = c->nomem;
    c->len = 0;
    c->full = c->nomem = false;
    start_reading(c);
    if (nomem)
      return dp_error_set(DP_ENOMEM, "no memory for more than %zu bytes of reply; dropped", held);
    return dp_error_set(DP_ETOOBIG,
                        "more than %zu bytes (max_reply_bytes) arrived without a pause; "
                        "%zu bytes dropped",
                        c->max, held);
  }
  case ENDLESS:
    return dp_error_set(DP_ETIMEDOUT,
                        "the reply did not end within %.3f s: %zu bytes arrived and the module "
                        "never paused for %llu ms",
                        timeout_s, c->len, (unsigned long long)c->quiet_ms);
  case CLOSED: return dp_error_set(DP_ECLOSED, "the module closed the connection");
  default: return dp_error_set(DP_ETIMEDOUT, "no reply within %.3f s", timeout_s);
  }
}

/* Reads the greeting line (at most max bytes) until `deadline`. */
static int read_greeting(dp_client_t *c, uint64_t deadline) {
  char *nl = NULL;
  for (size_t scanned = 0;;) {
    nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
    if (nl != NULL || c->eof || c->full || now_ms(c) >= deadline) break;
    scanned = c->len;
    wait_for_bytes(c, left_ms(c, deadline));
  }
  if (nl == NULL && c->full)
    return dp_error_set(DP_ETOOBIG, "no greeting line in the first %zu bytes (max_reply_bytes)",
                        c->max);
  size_t glen = nl != NULL ? (size_t)(nl - c->buf) : 0;
  c->greeting = malloc(glen + 1);
  if (c->greeting == NULL) return dp_error_set(DP_ENOMEM, "no memory for the greeting");
  if (glen > 0) memcpy(c->greeting, c->buf, glen); /* buf is NULL when nothing came */
  c->greeting[glen] = '\0';
  if (nl != NULL) {
    c->len -= glen + 1;
    memmove(c->buf, nl + 1, c->len);
  }
  return 0;
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
  c->max = opts->max_reply_bytes > 0 ? opts->max_reply_bytes : MAX_REPLY_DEFAULT;
  c->timeout_s = opts->timeout_s;
  c->quiet_ms = opts->quiet_ms > 0 ? (uint64_t)opts->quiet_ms : QUIET_MS_DEFAULT;
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
  start_reading(c);
  if (read_greeting(c, now_ms(c) + ms(opts->timeout_s)) < 0) return fail(c);
  return c;
}

const char *dp_client_greeting(const dp_client_t *c) {
  return c->greeting;
}

typedef struct {
  uv_write_t req;
  dp_client_t *client;
  char data[];
} queued_t;

static void queued_cb(uv_write_t *req, int status) {
  queued_t *q = req->data;
  q->client->writes_pending--;
  if (status < 0 && q->client->write_error == 0) q->client->write_error = status;
  free(q);
}

int dp_client_queue(dp_client_t *c, const char *data, size_t len) {
  if (!c->tcp_open || c->eof) return dp_error_set(DP_ECLOSED, "the module closed the connection");
  queued_t *q = malloc(sizeof *q + len);
  if (q == NULL) return dp_error_set(DP_ENOMEM, "no memory for %zu bytes", len);
  q->req.data = q;
  q->client = c;
  memcpy(q->data, data, len);
  uv_buf_t b = uv_buf_init(q->data, (unsigned)len);
  int rc = uv_write(&q->req, (uv_stream_t *)&c->tcp, &b, 1, queued_cb);
  if (rc != 0) {
    free(q);
    return dp_error_set(DP_ECLOSED, "send failed: %s", uv_strerror(rc));
  }
  c->writes_pending++;
  return 0;
}

static bool writes_done(dp_client_t *c) {
  return c->writes_pending == 0;
}

/* Sends `len` bytes, waiting until loop time `deadline` for the module to
 * take them. A write still pending at the deadline stays queued. */
static int send_until(dp_client_t *c, const char *data, size_t len, uint64_t deadline,
                      double timeout_s) {
  if (!c->tcp_open || c->eof) return dp_error_set(DP_ECLOSED, "the module closed the connection");
  size_t done = 0;
  if (c->writes_pending == 0) { /* nothing queued before: write directly */
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) return dp_error_set(DP_EIO, "send failed: %s", uv_strerror(n));
    done = n > 0 ? (size_t)n : 0;
  }
  if (done < len) {
    int rc = dp_client_queue(c, data + done, len - done);
    if (rc < 0) return rc;
  }
  if (!run_until(c, writes_done, left_ms(c, deadline)))
    return dp_error_set(DP_ETIMEDOUT, "the module did not take the command within %.3f s",
                        timeout_s);
  return c->write_error == 0 ? 0
                             : dp_error_set(DP_EIO, "send failed: %s", uv_strerror(c->write_error));
}

static int send_command(dp_client_t *c, const char *cmd, uint64_t deadline, double timeout_s) {
  size_t n = strlen(cmd);
  if (n > 0 && (cmd[n - 1] == ';' || cmd[n - 1] == '\n'))
    return send_until(c, cmd, n, deadline, timeout_s);
  char *msg = malloc(n + 2);
  if (msg == NULL) return dp_error_set(DP_ENOMEM, "no memory for a command");
  memcpy(msg, cmd, n);
  msg[n] = ';';
  msg[n + 1] = '\0';
  int rc = send_until(c, msg, n + 1, deadline, timeout_s);
  free(msg);
  return rc;
}

int dp_client_send_raw(dp_client_t *c, const char *data, size_t len) {
  return send_until(c, data, len, now_ms(c) + ms(c->timeout_s), c->timeout_s);
}

int dp_client_send(dp_client_t *c, const char *cmd) {
  return send_command(c, cmd, now_ms(c) + ms(c->timeout_s), c->timeout_s);
}

static int recv_until(dp_client_t *c, char **out, size_t *len, uint64_t deadline,
                      double timeout_s) {
  gather_t g = gather(c, 0, deadline);
  if (g != UNIT) return gather_error(c, g, timeout_s);
  /* hand the buffer itself out (it has room for the NUL) */
  c->buf[c->len] = '\0';
  *out = c->buf;
  *len = c->len;
  c->buf = NULL;
  c->len = c->cap = 0;
  return 0;
}

int dp_client_recv(dp_client_t *c, char **out, size_t *len, double timeout_s) {
  *out = NULL;
  *len = 0;
  return recv_until(c, out, len, now_ms(c) + ms(timeout_s), timeout_s);
}

int dp_client_request(dp_client_t *c, const char *cmd, char **reply, size_t *len,
                      double timeout_s) {
  *reply = NULL;
  *len = 0;
  uint64_t deadline = now_ms(c) + ms(timeout_s);
  int rc = send_command(c, cmd, deadline, timeout_s);
  return rc < 0 ? rc : recv_until(c, reply, len, deadline, timeout_s);
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

/* The answers found by dp_client_up() in the bytes it scans. */
typedef struct {
  dp_up_scan_t scan;
  size_t scanned; /* buf offset up to which bytes were scanned */
  size_t *at;     /* offsets of the answers since the last error */
  size_t n, cap;
} up_state_t;

static int up_note_answer(up_state_t *u, size_t offset) {
  if (u->n == u->cap) {
    size_t cap = u->cap == 0 ? 4 : u->cap * 2;
    size_t *at = realloc(u->at, cap * sizeof *at);
    if (at == NULL) return dp_error_set(DP_ENOMEM, "no memory while reading the answer to UP");
    u->at = at;
    u->cap = cap;
  }
  u->at[u->n++] = offset;
  return 0;
}

/* Starts the scan afresh at the bytes not scanned yet. */
static void up_restart(dp_client_t *c, up_state_t *u) {
  dp_up_scan_init(&u->scan, c->ups_unanswered);
  u->n = 0;
}

/* Scans the bytes that arrived since the last call. */
static int up_scan_new(dp_client_t *c, up_state_t *u) {
  for (; u->scanned < c->len; u->scanned++) {
    dp_up_event_t e = dp_up_scan_byte(&u->scan, (unsigned char)c->buf[u->scanned]);
    if (e == DP_UP_ANSWER && up_note_answer(u, u->scanned) < 0) return DP_ENOMEM;
  }
  return 0;
}

/* Takes the answers out of the buffer: the other bytes stay held. */
static void up_consume(dp_client_t *c, up_state_t *u) {
  size_t to = u->at[0];
  for (size_t i = 0; i < u->n; i++) {
    size_t end = i + 1 < u->n ? u->at[i + 1] : c->len;
    memmove(c->buf + to, c->buf + u->at[i] + 1, end - u->at[i] - 1);
    to += end - u->at[i] - 1;
  }
  c->len = to;
  c->ups_unanswered -= u->n;
}

int dp_client_up(dp_client_t *c, double timeout_s) {
  uint64_t deadline = now_ms(c) + ms(timeout_s);
  uv_run(&c->loop, UV_RUN_NOWAIT); /* what already waits came before UP */
  int rc = send_command(c, "UP", deadline, timeout_s);
  c->ups_unanswered++; /* sent or queued: its answer may come later */
  if (rc < 0) return rc == DP_ETIMEDOUT ? 0 : rc;
  /* The bytes after UP, cut into answers and callbacks by their grammar
   * (up_scan.h), however they are split or glued. An answer counts once
   * what follows it is known to be the protocol too: a whole callback, or a
   * pause (or the end of the connection) where a message may end. A pause
   * anywhere else, or a byte out of place, means the bytes before it are
   * not the protocol (the tail of an earlier reply, say): the scan starts
   * again after it. */
  up_state_t u = {.scanned = c->len};
  up_restart(c, &u);
  for (;;) {
    if (up_scan_new(c, &u) < 0) break;
    uint64_t now = now_ms(c);
    bool quiet = c->eof || now - c->last_rx >= c->quiet_ms;
    bool ended = quiet && dp_up_scan_at_end(&u.scan);
    if (u.n > 0 && (ended || u.scan.callbacks > 0)) {
      up_consume(c, &u);
      free(u.at);
      return 1;
    }
    if (c->full) {
      free(u.at);
      return gather_error(c, FULL, timeout_s);
    }
    if (c->eof) {
      free(u.at);
      return dp_error_set(DP_ECLOSED, "the module closed the connection without answering UP");
    }
    if (quiet && !dp_up_scan_at_end(&u.scan)) up_restart(c, &u);
    if (now >= deadline) {
      free(u.at);
      return 0;
    }
    uint64_t wait = deadline - now;
    if (!quiet && c->quiet_ms - (now - c->last_rx) < wait) wait = c->quiet_ms - (now - c->last_rx);
    wait_for_bytes(c, wait);
  }
  free(u.at);
  return DP_ENOMEM;
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
  if (fn != NULL && c->full) { /* nothing is held now: read again */
    c->full = false;
    start_reading(c);
  }
}
