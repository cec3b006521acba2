/* net_handler.c - the network handler: records go to the central log server
 * without ever making the logging thread wait for the network.
 *
 * The logging thread copies its record into the bounded queue (net_queue.c)
 * under a mutex held for a few copies; that is all it does. Profiling showed
 * that encoding the JSON frame on the logging thread was most of a call's
 * cost, so the sender encodes. One sender thread runs its own libuv loop: it
 * connects, takes batches of queued records, encodes their frames into one
 * buffer and writes it, watches the connection for EOF, and on failure waits
 * with back-off (1 s doubling to 30 s by default) before it tries again,
 * keeping the queue. A full queue drops its oldest records; the sender reports
 * the number in one record placed where the gap is. Records are written at
 * most once: after a broken link only records of whose frame no byte reached
 * the socket are put back into the queue.
 *
 * Writes are started from a check handle (after the loop has polled for I/O),
 * so an EOF from a server that went away is seen before new frames are
 * written to the dead connection. A finished write runs in the loop's pending
 * phase, before the poll; it starts an idle handle so the poll does not block
 * and the check comes round at once. */
#include "log/frame.h"
#include "log/net_queue.h"
#include "log/record.h"

#include "dareplane/log.h"

#ifndef _WIN32
#include <pthread.h>
#include <signal.h>
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define DEFAULT_HOST        "127.0.0.1"
#define DEFAULT_PORT        9020
#define DEFAULT_MAX_RECORDS 10000
#define DEFAULT_MAX_BYTES   ((size_t)8 * 1024 * 1024)
#define CONNECT_TIMEOUT_MS  1000 /* Python's makeSocket(timeout=1) */
#define EXIT_WAIT_MS        1000
#define BATCH_MAX           256
#define OUT_KEEP            ((size_t)1024 * 1024) /* a larger batch buffer is not kept */

/* One connection attempt and its requests; freed when its handle closes. */
typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  struct sender *s;
} conn_t;

typedef enum { S_RESOLVING, S_CONNECTING, S_CONNECTED, S_WAITING } state_t;

/* Everything the sender thread owns (only it touches these after start). */
typedef struct sender {
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t timer; /* back-off wait, and connect timeout */
  uv_check_t check;
  uv_idle_t kick; /* while started, the loop polls without blocking */
  uv_getaddrinfo_t gai;
  struct addrinfo *addrs;     /* addresses of a host name, while trying them */
  struct addrinfo *next_addr; /* the one to try when the current one fails */
  conn_t *conn;               /* current connection, or NULL */
  state_t state;
  unsigned attempt; /* number of the connection attempt under way */
  unsigned backoff_ms;
  bool stopping;
  /* The write in flight: batch_n frames encoded one after the other into
   * `out`, frame i ending at end[i]; batch[i] is its record, NULL for the
   * loss report (which reported `reported` lost records). */
  dp_log_qrec_t *batch[BATCH_MAX + 1];
  size_t end[BATCH_MAX + 1];
  size_t batch_n;
  unsigned long long reported;
  dp_textbuf_t out;
  char host[256];
  int port;
} sender_t;

/* Shared between the logging threads and the sender; guarded by `lock`. */
static struct {
  uv_mutex_t lock;
  uv_cond_t changed; /* queue drained, a write finished, a connect failed */
  dp_log_queue_t queue;
  dp_log_net_stats_t stats; /* .dropped: besides queue.dropped */
  char host[256];
  int port;
  bool host_set, port_set;
  unsigned backoff_initial, backoff_max;
  sender_t *sender;         /* non-NULL while the thread runs */
  sender_t *parents_sender; /* after fork(): the parent's, kept (not ours to free) */
  uv_thread_t thread;
  bool stopping;
  bool retry_requested;
  unsigned retry_after; /* the latest attempt started when it was requested */
  bool warned;
  unsigned attempts;       /* connection attempts started so far */
  unsigned failed_attempt; /* number of the latest attempt that failed */
  size_t inflight;         /* frames in the write in flight */
  bool sender_idle;        /* connected with nothing to do: wake it for a new frame */
} q;

static uv_once_t q_once = UV_ONCE_INIT;
static atomic_bool handler_on = true;

static void at_exit(void) {
  dp_log_shutdown(EXIT_WAIT_MS);
}

#ifndef _WIN32
/* fork() while another thread holds q.lock would leave it locked forever in
 * the child: hold it across the fork. */
static void q_init(void);

static void before_fork(void) {
  uv_once(&q_once, q_init); /* done already: see console_queue.c */
  uv_mutex_lock(&q.lock);
}

static void after_fork_parent(void) {
  uv_mutex_unlock(&q.lock);
}

/* In a child made by fork() the sender thread does not exist: forget the
 * parent's sender (its memory, and the records of its write in flight, are
 * the parent's copy, left alone) and drop the parent's queued records, so
 * that the child starts its own. Runs in the child, holding q.lock. */
static void forget_after_fork(void) {
  if (q.sender == NULL) return;
  q.parents_sender = q.sender;
  q.sender = NULL;
  dp_log_queue_clear(&q.queue);
  q.queue.lost = 0;
  q.inflight = 0;
  q.stopping = q.sender_idle = false;
  q.stats.connected = false;
}

static void after_fork_child(void) {
  forget_after_fork();
  uv_mutex_unlock(&q.lock);
}
#endif

static void q_init(void) {
  dp_log_console_prepare(); /* here, not first in the sender thread */
  uv_mutex_init(&q.lock);
#ifndef _WIN32
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
#endif
  uv_cond_init(&q.changed);
  dp_log_queue_init(&q.queue, DEFAULT_MAX_RECORDS, DEFAULT_MAX_BYTES);
  q.backoff_initial = 1000;
  q.backoff_max = 30000;
  snprintf(q.host, sizeof q.host, "%s", DEFAULT_HOST);
  q.port = DEFAULT_PORT;
  atexit(at_exit);
}

/* ---- the sender thread --------------------------------------------------- */

static void start_connect(sender_t *s);

static void on_retry_timer(uv_timer_t *t) {
  start_connect(t->data);
}

static void on_conn_closed(uv_handle_t *h) {
  free(h->data);
}

static void close_conn(sender_t *s) {
  if (s->conn == NULL) return;
  uv_close((uv_handle_t *)&s->conn->tcp, on_conn_closed);
  s->conn = NULL;
}

/* A line on stderr from logger "dareplane.log", whether or not the console
 * handler is on, through the console queue: a stderr nobody reads must
 * never hold up the sender. */
static void stderr_line(int level, const char *msg) {
  char prefix[128];
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  size_t n = dp_log_format_line(prefix, sizeof prefix, (double)tv.tv_sec + (double)tv.tv_usec / 1e6,
                                "dareplane.log", level, "");
  dp_log_console_line(level, prefix, n < sizeof prefix ? n : sizeof prefix - 1, msg);
}

/* The one warning on stderr per outage. */
static void warn_unreachable(const sender_t *s, const char *why, size_t max_records) {
  char msg[512];
  snprintf(msg, sizeof msg,
           "cannot reach the log server at %s:%d (%s); records are queued (at most %zu) "
           "and sent when it is back",
           s->host, s->port, why, max_records);
  stderr_line(DP_LOG_WARNING, msg);
}

/* A connection attempt failed: wait, then try again. */
static void fail(sender_t *s, const char *why) {
  close_conn(s);
  s->state = S_WAITING;
  uv_mutex_lock(&q.lock);
  q.sender_idle = false;
  q.failed_attempt = s->attempt;
  q.stats.connected = false;
  /* A retry asked for while this attempt was under way gets its own attempt
   * now rather than after the back-off; one asked for before it started was
   * served by it (else a flush that saw this attempt fail would leave a
   * retry behind that connects after it returned). */
  bool retry = q.retry_requested && q.retry_after >= s->attempt && !q.stopping;
  q.retry_requested = false;
  bool warn = !q.warned;
  q.warned = true;
  size_t max_records = q.queue.max_records;
  uv_cond_broadcast(&q.changed);
  unsigned max = q.backoff_max;
  uv_mutex_unlock(&q.lock);
  if (warn) warn_unreachable(s, why, max_records);
  if (retry) {
    start_connect(s);
    return;
  }
  uv_timer_start(&s->timer, on_retry_timer, s->backoff_ms, 0);
  s->backoff_ms = s->backoff_ms > max / 2 ? max : s->backoff_ms * 2;
}

static size_t frame_len(const sender_t *s, size_t i) {
  return s->end[i] - (i > 0 ? s->end[i - 1] : 0);
}

/* Settles the write in flight when it finished or the link broke with
 * `unsent_bytes` of it not written: records of whose frame no byte left go
 * back to the front of the queue (in order), one cut in the middle is lost,
 * the rest counts as sent and their room is reused. */
static void settle_batch(sender_t *s, size_t unsent_bytes) {
  size_t keep = s->batch_n; /* frames keep.. go back to the queue */
  size_t tail_bytes = 0;
  while (keep > 0 && tail_bytes + frame_len(s, keep - 1) <= unsent_bytes)
    tail_bytes += frame_len(s, --keep);
  bool cut = tail_bytes < unsent_bytes && keep > 0;
  /* The loss report is frame 0 when there is one: back in the queue it
   * becomes the lost count again, cut or not. */
  bool report = s->batch_n > 0 && s->batch[0] == NULL;
  bool report_back = report && (keep == 0 || (keep == 1 && cut));
  size_t first = report ? 1 : 0; /* first frame with a record */
  size_t back_from = keep > first ? keep : first;
  dp_log_qchunk_t *to_free = NULL;
  uv_mutex_lock(&q.lock);
  dp_log_queue_unget(&q.queue, s->batch + back_from, s->batch_n - back_from,
                     report_back ? s->reported : 0, &to_free);
  q.stats.sent += keep - (cut ? 1 : 0);
  if (cut && !(report && keep == 1)) dp_log_queue_count_lost(&q.queue, 1);
  if (back_from > first)
    dp_log_queue_release(&q.queue, s->batch + first, back_from - first, &to_free);
  q.inflight = 0;
  uv_cond_broadcast(&q.changed);
  uv_mutex_unlock(&q.lock);
  s->batch_n = 0;
  dp_log_qchunk_free_chain(to_free);
}

/* The established link broke: keep what was not sent and reconnect now (a
 * restarted server is usually back; if not, the back-off starts). */
static void link_lost(sender_t *s, const char *why) {
  (void)why;
  if (s->batch_n > 0) settle_batch(s, uv_stream_get_write_queue_size((uv_stream_t *)&s->conn->tcp));
  close_conn(s);
  uv_mutex_lock(&q.lock);
  q.stats.connected = false;
  q.sender_idle = false;
  s->backoff_ms = q.backoff_initial;
  uv_mutex_unlock(&q.lock);
  start_connect(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char sink[256]; /* the server never sends anything we use */
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(sink, sizeof sink);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  conn_t *c = stream->data;
  if (nread < 0 && c == c->s->conn) link_lost(c->s, uv_strerror((int)nread));
}

static void on_kick(uv_idle_t *h);

static void on_write(uv_write_t *req, int status) {
  conn_t *c = req->data;
  sender_t *s = c->s;
  if (c != s->conn || s->batch_n == 0) return; /* settled when the link broke */
  if (status < 0) {
    /* No way to know how much of the batch got out: count it lost (and
     * report again what its loss report said). */
    size_t first = s->batch[0] == NULL ? 1 : 0;
    dp_log_qchunk_t *to_free = NULL;
    uv_mutex_lock(&q.lock);
    dp_log_queue_unget(&q.queue, NULL, 0, first ? s->reported : 0, &to_free);
    dp_log_queue_count_lost(&q.queue, s->batch_n - first);
    dp_log_queue_release(&q.queue, s->batch + first, s->batch_n - first, &to_free);
    q.inflight = 0;
    uv_mutex_unlock(&q.lock);
    dp_log_qchunk_free_chain(to_free);
    s->batch_n = 0;
    link_lost(s, uv_strerror(status));
    return;
  }
  settle_batch(s, 0);
  uv_idle_start(&s->kick, on_kick);
}

/* Appends the frame of the record "N records were lost", made by the sender
 * itself, to `b`. */
static void encode_loss_report(dp_textbuf_t *b, unsigned long long lost) {
  char msg[160];
  snprintf(msg, sizeof msg, "%llu log record%s lost before this one (queue full or link broken)",
           lost, lost == 1 ? " was" : "s were");
  dp_log_record_t rec = {
      .name = "dareplane.log",
      .level = DP_LOG_WARNING,
      .msg = msg,
      .msg_len = strlen(msg),
      .pathname = __FILE__,
      .lineno = __LINE__,
      .func = __func__,
      .thread = (uint64_t)uv_thread_self(),
      .thread_name = "dareplane-log-sender",
      .process = (int64_t)uv_os_getpid(),
      .process_name = "MainProcess",
  };
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  rec.created = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  rec.relative_ms = dp_log_relative_ms(rec.created);
  dp_log_frame_encode(&rec, b);
}

/* Appends one frame to s->out as frame s->batch_n. False when out of memory:
 * then s->out is as it was before. */
static bool add_frame(sender_t *s, dp_log_qrec_t *r, unsigned long long lost) {
  size_t start = s->out.len;
  if (r != NULL) {
    dp_log_record_t rec = dp_log_qrec_view(r);
    dp_log_frame_encode(&rec, &s->out);
  } else {
    encode_loss_report(&s->out, lost);
  }
  if (dp_textbuf_failed(&s->out)) { /* the bytes before start are intact */
    s->out.failed = false;
    s->out.len = start;
    return false;
  }
  s->batch[s->batch_n] = r;
  s->end[s->batch_n++] = s->out.len;
  return true;
}

static void on_kick(uv_idle_t *h) {
  (void)h; /* its only job is to keep the next poll from blocking */
}

/* After each poll: while connected and idle, write the next batch. */
static void on_check(uv_check_t *h) {
  sender_t *s = h->data;
  uv_idle_stop(&s->kick);
  if (s->state != S_CONNECTED || s->batch_n > 0) return;
  /* The loss count and the records after the gap are taken together, so the
   * loss record lands exactly where the records are missing. */
  dp_log_qrec_t *recs[BATCH_MAX];
  unsigned long long lost;
  uv_mutex_lock(&q.lock);
  size_t n = dp_log_queue_take(&q.queue, recs, BATCH_MAX, &lost);
  size_t frames = n + (lost > 0 ? 1 : 0);
  q.sender_idle = frames == 0;
  q.inflight = frames;
  uv_mutex_unlock(&q.lock);
  if (frames == 0) return;

  /* Encoding happens here, off the logging threads. Out of memory loses the
   * report (the records are not lost) or a record (counted as lost). */
  if (s->out.cap > OUT_KEEP) dp_textbuf_free(&s->out); /* after a burst of huge records */
  s->out.len = 0;
  s->reported = lost;
  if (lost > 0) add_frame(s, NULL, lost);
  dp_log_qrec_t *failed[BATCH_MAX];
  size_t n_failed = 0;
  for (size_t i = 0; i < n; i++)
    if (!add_frame(s, recs[i], 0)) failed[n_failed++] = recs[i];
  if (n_failed > 0 || s->batch_n == 0) {
    dp_log_qchunk_t *to_free = NULL;
    uv_mutex_lock(&q.lock);
    dp_log_queue_count_lost(&q.queue, n_failed);
    dp_log_queue_release(&q.queue, failed, n_failed, &to_free);
    if (s->batch_n == 0) {
      q.inflight = 0;
      uv_cond_broadcast(&q.changed);
    }
    uv_mutex_unlock(&q.lock);
    dp_log_qchunk_free_chain(to_free);
    if (s->batch_n == 0) return;
  }
  uv_buf_t buf = uv_buf_init(s->out.data, (unsigned)s->out.len);
  s->conn->write_req.data = s->conn;
  int rc = uv_write(&s->conn->write_req, (uv_stream_t *)&s->conn->tcp, &buf, 1, on_write);
  if (rc < 0) {
    settle_batch(s, SIZE_MAX); /* nothing left: all of it goes back */
    link_lost(s, uv_strerror(rc));
  }
}

static void forget_addrs(sender_t *s) {
  uv_freeaddrinfo(s->addrs); /* accepts NULL */
  s->addrs = s->next_addr = NULL;
}

static void connect_to(sender_t *s, const struct sockaddr *addr);

/* The current address did not answer: try the host's next one (as Python's
 * create_connection does), or wait and start over. */
static void attempt_failed(sender_t *s, const char *why) {
  struct addrinfo *next = s->next_addr;
  if (next == NULL) {
    forget_addrs(s);
    fail(s, why);
    return;
  }
  close_conn(s);
  s->next_addr = next->ai_next;
  connect_to(s, next->ai_addr);
}

static void on_connect(uv_connect_t *req, int status) {
  conn_t *c = req->data;
  sender_t *s = c->s;
  if (c != s->conn || s->state != S_CONNECTING) return; /* timed out meanwhile */
  uv_timer_stop(&s->timer);
  if (status < 0) {
    attempt_failed(s, uv_strerror(status));
    return;
  }
  forget_addrs(s);
  s->state = S_CONNECTED;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  uv_mutex_lock(&q.lock);
  s->backoff_ms = q.backoff_initial;
  q.stats.connected = true;
  q.stats.connects++;
  q.warned = false; /* warn again should it go away later */
  uv_mutex_unlock(&q.lock);
}

static void on_connect_timeout(uv_timer_t *t) {
  attempt_failed(t->data, "connection timed out");
}

static void connect_to(sender_t *s, const struct sockaddr *addr) {
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) {
    fail(s, "out of memory");
    return;
  }
  c->s = s;
  c->connect_req.data = c;
  uv_tcp_init(&s->loop, &c->tcp);
  c->tcp.data = c;
  s->conn = c;
  s->state = S_CONNECTING;
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
  if (rc < 0) {
    attempt_failed(s, uv_strerror(rc));
    return;
  }
  uv_timer_start(&s->timer, on_connect_timeout, CONNECT_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  sender_t *s = req->data;
  if (s->stopping || status < 0 || res == NULL) {
    uv_freeaddrinfo(res);
    if (!s->stopping) fail(s, status < 0 ? uv_strerror(status) : "no address");
    return;
  }
  s->addrs = res;
  s->next_addr = res->ai_next;
  connect_to(s, res->ai_addr);
}

static void start_connect(sender_t *s) {
  uv_timer_stop(&s->timer);
  forget_addrs(s);
  uv_mutex_lock(&q.lock);
  snprintf(s->host, sizeof s->host, "%s", q.host);
  s->port = q.port;
  s->attempt = ++q.attempts;
  uv_mutex_unlock(&q.lock);
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } addr;
  if (uv_ip4_addr(s->host, s->port, &addr.in4) == 0 ||
      uv_ip6_addr(s->host, s->port, &addr.in6) == 0) {
    connect_to(s, &addr.sa);
    return;
  }
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  s->gai.data = s;
  s->state = S_RESOLVING;
  int rc = uv_getaddrinfo(&s->loop, &s->gai, on_resolved, s->host, port, &hints);
  if (rc < 0) fail(s, uv_strerror(rc));
}

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void on_wake(uv_async_t *h) {
  sender_t *s = h->data;
  uv_mutex_lock(&q.lock);
  /* While an attempt is under way the request stays: fail() honours it. */
  bool under_way = s->state == S_RESOLVING || s->state == S_CONNECTING;
  bool stop = q.stopping, retry = q.retry_requested && s->state == S_WAITING;
  if (!under_way) q.retry_requested = false;
  uv_mutex_unlock(&q.lock);
  if (stop) {
    s->stopping = true;
    if (s->batch_n > 0 && s->conn != NULL)
      settle_batch(s, uv_stream_get_write_queue_size((uv_stream_t *)&s->conn->tcp));
    close_conn(s);
    uv_walk(&s->loop, close_handle, NULL);
    return;
  }
  if (retry && s->state == S_WAITING) start_connect(s);
}

static void sender_main(void *arg) {
  sender_t *s = arg;
#ifndef _WIN32
  /* A write to a server that died must fail with EPIPE here, not kill the
   * module with SIGPIPE (which a write raises in the writing thread). */
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
#endif
  start_connect(s);
  uv_run(&s->loop, UV_RUN_DEFAULT);
  forget_addrs(s);
}

/* Starts the sender (caller holds q.lock). Returns 0 or a negative code. */
static int start_sender(void) {
  sender_t *s = calloc(1, sizeof *s);
  if (s == NULL) return DP_ENOMEM;
  if (!q.host_set) {
    const char *h = getenv("DP_LOG_HOST");
    if (h != NULL && h[0] != '\0' && strlen(h) < sizeof q.host)
      snprintf(q.host, sizeof q.host, "%s", h);
  }
  if (!q.port_set) {
    const char *p = getenv("DP_LOG_PORT");
    long v = p != NULL ? strtol(p, NULL, 10) : 0;
    if (v > 0 && v <= 65535) q.port = (int)v;
  }
  s->backoff_ms = q.backoff_initial;
  dp_textbuf_init(&s->out, NULL, 0);
  uv_loop_init(&s->loop);
  uv_async_init(&s->loop, &s->wake, on_wake);
  uv_timer_init(&s->loop, &s->timer);
  uv_check_init(&s->loop, &s->check);
  uv_check_start(&s->check, on_check);
  uv_idle_init(&s->loop, &s->kick);
  s->wake.data = s->timer.data = s->check.data = s->kick.data = s;
  if (uv_thread_create(&q.thread, sender_main, s) != 0) {
    uv_walk(&s->loop, close_handle, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    free(s);
    return DP_ESYS;
  }
  q.sender = s;
  return 0;
}

/* ---- the logging side ---------------------------------------------------- */

void dp_log_net_emit(const dp_log_record_t *rec) {
  if (!atomic_load_explicit(&handler_on, memory_order_relaxed)) return;
  uv_once(&q_once, q_init);
  size_t need = dp_log_qrec_need(rec);
  dp_log_qrec_t *r = need > DP_LOG_QREC_BIG ? dp_log_qrec_new(need) : NULL;
  dp_log_qchunk_t *to_free = NULL;
  uv_mutex_lock(&q.lock);
  if (need <= DP_LOG_QREC_BIG) r = dp_log_queue_alloc(&q.queue, need, &to_free);
  if (r == NULL) { /* out of memory: counts as lost */
    dp_log_queue_count_lost(&q.queue, 1);
  } else if (q.stopping || (q.sender == NULL && start_sender() < 0)) {
    dp_log_queue_release(&q.queue, &r, 1, &to_free);
    q.stats.dropped++;
  } else {
    dp_log_qrec_fill(r, rec);
    dp_log_queue_push(&q.queue, r, &to_free);
    q.stats.queued++;
    if (q.sender_idle) { /* otherwise it is busy, or connecting, and will look */
      q.sender_idle = false;
      uv_async_send(&q.sender->wake);
    }
  }
  uv_mutex_unlock(&q.lock);
  dp_log_qchunk_free_chain(to_free);
}

void dp_log_set_network_handler(bool enabled) {
  atomic_store(&handler_on, enabled);
}

int dp_log_set_server(const char *host, int port) {
  if (port < 0 || port > 65535 || (host != NULL && (host[0] == '\0' || strlen(host) > 255)))
    return DP_EINVAL;
  uv_once(&q_once, q_init);
  uv_mutex_lock(&q.lock);
  if (host != NULL) {
    snprintf(q.host, sizeof q.host, "%s", host);
    q.host_set = true;
  }
  if (port != 0) {
    q.port = port;
    q.port_set = true;
  }
  uv_mutex_unlock(&q.lock);
  return 0;
}

void dp_log_set_queue_limits(size_t max_records, size_t max_bytes) {
  uv_once(&q_once, q_init);
  dp_log_qchunk_t *to_free = NULL;
  uv_mutex_lock(&q.lock);
  dp_log_queue_set_limits(&q.queue, max_records, max_bytes, &to_free);
  uv_mutex_unlock(&q.lock);
  dp_log_qchunk_free_chain(to_free);
}

void dp_log_set_backoff(unsigned initial_ms, unsigned max_ms) {
  uv_once(&q_once, q_init);
  uv_mutex_lock(&q.lock);
  if (initial_ms > 0) q.backoff_initial = initial_ms;
  if (max_ms > 0) q.backoff_max = max_ms;
  if (q.backoff_max < q.backoff_initial) q.backoff_max = q.backoff_initial;
  uv_mutex_unlock(&q.lock);
}

void dp_log_retry_now(void) {
  uv_once(&q_once, q_init);
  uv_mutex_lock(&q.lock);
  if (q.sender != NULL) {
    q.retry_requested = true;
    q.retry_after = q.attempts;
    uv_async_send(&q.sender->wake);
  }
  uv_mutex_unlock(&q.lock);
}

int dp_log_flush(unsigned timeout_ms) {
  uv_once(&q_once, q_init);
  int rc = 0;
  uv_mutex_lock(&q.lock);
  if (q.sender != NULL) {
    /* Only an attempt that starts after this call can say the server is
     * unreachable now; one already under way may have begun before it came up. */
    unsigned first_new = q.attempts + 1;
    q.retry_requested = true;
    q.retry_after = q.attempts;
    uv_async_send(&q.sender->wake);
    uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
    while (q.queue.count > 0 || q.inflight > 0 || q.queue.lost > 0) {
      if (q.failed_attempt >= first_new) {
        rc = DP_ECONN;
        break;
      }
      if ((rc = dp_log_wait_until(&q.changed, &q.lock, deadline)) < 0) break;
    }
  }
  uv_mutex_unlock(&q.lock);
  return rc;
}

void dp_log_shutdown(unsigned timeout_ms) {
  dp_log_flush(timeout_ms);
  uv_mutex_lock(&q.lock);
  sender_t *s = q.sender;
  if (s == NULL || q.stopping) {
    uv_mutex_unlock(&q.lock);
    return;
  }
  q.stopping = true;
  uv_async_send(&s->wake);
  uv_mutex_unlock(&q.lock);
  uv_thread_join(&q.thread);
  uv_loop_close(&s->loop);
  dp_textbuf_free(&s->out);
  free(s);

  uv_mutex_lock(&q.lock);
  size_t n = q.queue.count;
  q.stats.dropped += n;
  dp_log_queue_clear(&q.queue);
  q.queue.lost = 0;
  q.inflight = 0;
  q.sender = NULL;
  q.stopping = false;
  q.sender_idle = false;
  q.stats.connected = false;
  uv_mutex_unlock(&q.lock);
  if (n > 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "%zu log records could not be sent to the log server", n);
    stderr_line(DP_LOG_ERROR, msg);
    dp_log_console_flush(timeout_ms); /* often at exit: give it the time it has */
  }
}

void dp_log_net_stats(dp_log_net_stats_t *out) {
  uv_once(&q_once, q_init);
  uv_mutex_lock(&q.lock);
  *out = q.stats;
  out->dropped += q.queue.dropped;
  uv_mutex_unlock(&q.lock);
}
