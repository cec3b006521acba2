/* bench_logging.c - the logging benchmarks' C side (driven by
 * bench/suite_logging.py, which prints the table):
 *
 *   bench-logging call UP_PORT DOWN_PORT
 *       ns per dp_log_info() call with the network handler on, with a log
 *       server at UP_PORT and with none at DOWN_PORT; the limit is formatting
 *       the same message and copying it to the heap (what any hand-off to
 *       another thread needs). One JSON line per case.
 *   bench-logging load PORT CLIENTS N
 *       load generator: CLIENTS connections each send N pre-encoded record
 *       frames as fast as TCP takes them. The connections are made one after
 *       another first (the Python server's listen backlog is 5: more at once
 *       would lose some), then all send at once. Prints {"start_ns": ...}:
 *       the monotonic clock (CLOCK_MONOTONIC, as Python's time.monotonic)
 *       once the frames are built, when the first connection is made; the
 *       servers' rates count from there.
 *   bench-logging sink CLIENTS N
 *       the limit: a process that only counts the bytes of that load (raw
 *       loopback TCP, the ceiling for any log server), fed by `load` in its
 *       own process exactly as a server is. Prints {"port": ...} once it
 *       listens, then {"done_ns": ...} (the same clock) when every byte of
 *       CLIENTS x N frames has arrived, and exits. */
#include "log/frame.h"

#include <dareplane/dareplane.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { BATCH = 200, BATCHES = 60 };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median ns per call of BATCHES batches of BATCH log calls; the queue is
 * drained between batches when a server is up (not timed). */
static double log_call_ns(dp_logger_t *lg, bool drain) {
  double per[BATCHES];
  int n = 0;
  for (int b = 0; b < BATCHES; b++) {
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < BATCH; i++) dp_log_info(lg, "record %d of batch %d", i, b);
    per[b] = (double)(uv_hrtime() - t0) / BATCH;
    if (drain) dp_log_flush(5000);
    n++;
  }
  qsort(per, (size_t)n, sizeof per[0], cmp_double);
  return per[n / 2];
}

static double copy_limit_ns(void) {
  double per[BATCHES];
  char buf[256];
  volatile size_t sink = 0;
  for (int b = 0; b < BATCHES; b++) {
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < BATCH; i++) {
      int n = snprintf(buf, sizeof buf, "record %d of batch %d", i, b);
      char *copy = malloc((size_t)n + 1);
      memcpy(copy, buf, (size_t)n + 1);
      sink += (size_t)copy[0];
      free(copy);
    }
    per[b] = (double)(uv_hrtime() - t0) / BATCH;
  }
  (void)sink;
  qsort(per, BATCHES, sizeof per[0], cmp_double);
  return per[BATCHES / 2];
}

static int bench_calls(int up, int down) {
  dp_logger_t *lg = dp_log_get("bench.call");
  dp_logger_set_level(lg, DP_LOG_INFO);
  double limit = copy_limit_ns();
  dp_log_set_server("127.0.0.1", up);
  for (int i = 0; i < 1000; i++) dp_log_info(lg, "warm-up %d", i);
  if (dp_log_flush(5000) != 0) fprintf(stderr, "bench-logging: no server at %d\n", up);
  printf("{\"case\": \"up\", \"ns\": %.1f, \"limit_ns\": %.1f}\n", log_call_ns(lg, true), limit);
  dp_log_shutdown(5000);
  dp_log_set_server("127.0.0.1", down);
  for (int i = 0; i < 1000; i++) dp_log_info(lg, "warm-up %d", i);
  printf("{\"case\": \"down\", \"ns\": %.1f, \"limit_ns\": %.1f}\n", log_call_ns(lg, false), limit);
  dp_log_set_network_handler(false); /* nothing to wait for at exit */
  dp_log_shutdown(0);
  return 0;
}

/* ---- load generator and sink ---------------------------------------------- */

typedef struct gen {
  uv_loop_t *loop;
  uv_tcp_t listener; /* sink only */
  char *payload;     /* every client's N frames */
  size_t payload_len;
  size_t expected, received; /* sink only: bytes */
  uint64_t done_at;          /* sink only: when the last byte arrived */
  int port, to_connect;      /* clients still to connect, one at a time */
  struct client *connected;  /* connected clients, waiting for the others */
} gen_t;

typedef struct client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_shutdown_t shutdown;
  gen_t *g;
  struct client *next_connected;
} client_t;

static void build_payload(gen_t *g, int k, int n) {
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  char name[32], msg[32];
  snprintf(name, sizeof name, "bench.c%d", k);
  for (int i = 0; i < n; i++) {
    int len = snprintf(msg, sizeof msg, "record %d", i);
    dp_log_record_t rec = {.name = name,
                           .level = DP_LOG_INFO,
                           .msg = msg,
                           .msg_len = (size_t)len,
                           .pathname = "bench/bench_logging.c",
                           .lineno = 1,
                           .func = "load",
                           .created = 1795461145.25,
                           .relative_ms = 1.0,
                           .thread = 1,
                           .thread_name = "MainThread",
                           .process_name = "MainProcess",
                           .process = 1};
    dp_log_frame_encode(&rec, &b);
  }
  g->payload_len = b.len;
  g->payload = dp_textbuf_take(&b);
}

static void on_client_closed(uv_handle_t *h) {
  free(h->data);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  uv_close((uv_handle_t *)req->handle, on_client_closed);
}

static void on_written(uv_write_t *req, int status) {
  client_t *c = req->data;
  if (status < 0) fprintf(stderr, "bench-logging: write: %s\n", uv_strerror(status));
  c->shutdown.data = c;
  uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown);
}

static void start_client(gen_t *g);

static void send_payload(client_t *c) {
  uv_buf_t buf = uv_buf_init(c->g->payload, (unsigned)c->g->payload_len);
  c->write.data = c;
  uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
}

static void on_connected(uv_connect_t *req, int status) {
  client_t *c = req->data;
  gen_t *g = c->g;
  if (status < 0) {
    fprintf(stderr, "bench-logging: connect: %s\n", uv_strerror(status));
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
  } else {
    c->next_connected = g->connected;
    g->connected = c;
  }
  if (g->to_connect > 0) {
    start_client(g);
    return;
  }
  for (client_t *k = g->connected; k != NULL; k = k->next_connected) send_payload(k);
  g->connected = NULL;
}

static void start_client(gen_t *g) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", g->port, &addr);
  client_t *c = calloc(1, sizeof *c);
  c->g = g;
  uv_tcp_init(g->loop, &c->tcp);
  c->tcp.data = c;
  c->connect.data = c;
  g->to_connect--;
  uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connected);
}

static void start_clients(gen_t *g, int port, int clients) {
  g->port = port;
  g->to_connect = clients;
  start_client(g);
}

static void sink_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  static char chunk[256 * 1024];
  (void)h;
  (void)size;
  *buf = uv_buf_init(chunk, sizeof chunk);
}

static void sink_closed(uv_handle_t *h) {
  free(h);
}

static void sink_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  gen_t *g = s->data;
  (void)buf;
  if (n > 0 && (g->received += (size_t)n) == g->expected) {
    g->done_at = uv_hrtime();
    uv_close((uv_handle_t *)&g->listener, NULL);
  }
  if (n < 0) uv_close((uv_handle_t *)s, sink_closed);
}

static void sink_accept(uv_stream_t *l, int status) {
  gen_t *g = l->data;
  if (status < 0) return;
  uv_tcp_t *t = malloc(sizeof *t);
  uv_tcp_init(g->loop, t);
  t->data = g;
  uv_accept(l, (uv_stream_t *)t);
  uv_read_start((uv_stream_t *)t, sink_alloc, sink_read);
}

static int bench_load(int port, int clients, int n) {
  gen_t g = {.loop = uv_default_loop()};
  build_payload(&g, 0, n);
  uint64_t t0 = uv_hrtime();
  start_clients(&g, port, clients);
  uv_run(g.loop, UV_RUN_DEFAULT);
  printf("{\"start_ns\": %llu}\n", (unsigned long long)t0);
  free(g.payload);
  uv_loop_close(g.loop);
  return 0;
}

static int bench_sink(int clients, int n) {
  gen_t g = {.loop = uv_default_loop()};
  build_payload(&g, 0, n); /* only for its length */
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(g.loop, &g.listener);
  g.listener.data = &g;
  uv_tcp_bind(&g.listener, (const struct sockaddr *)&addr, 0);
  uv_listen((uv_stream_t *)&g.listener, 128, sink_accept);
  int len = sizeof addr;
  uv_tcp_getsockname(&g.listener, (struct sockaddr *)&addr, &len);
  g.expected = g.payload_len * (size_t)clients;
  printf("{\"port\": %d}\n", ntohs(addr.sin_port));
  fflush(stdout);
  uv_run(g.loop, UV_RUN_DEFAULT);
  printf("{\"done_ns\": %llu}\n", (unsigned long long)g.done_at);
  free(g.payload);
  uv_loop_close(g.loop);
  return 0;
}

static int num(const char *s) {
  return (int)strtol(s, NULL, 10);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "call") == 0) return bench_calls(num(argv[2]), num(argv[3]));
  if (argc == 5 && strcmp(argv[1], "load") == 0)
    return bench_load(num(argv[2]), num(argv[3]), num(argv[4]));
  if (argc == 4 && strcmp(argv[1], "sink") == 0) return bench_sink(num(argv[2]), num(argv[3]));
  fprintf(stderr, "usage: bench-logging call UP DOWN | load PORT CLIENTS N | sink CLIENTS N\n");
  return 2;
}
