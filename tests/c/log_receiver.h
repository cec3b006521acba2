/* log_receiver.h - an in-process log server for the network handler tests:
 * a libuv loop on its own thread that accepts clients on 127.0.0.1, decodes
 * their frames with the library's decoder and keeps every message in arrival
 * order. Header-only so that each test program that needs it includes it. */
#ifndef TEST_LOG_RECEIVER_H
#define TEST_LOG_RECEIVER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dareplane/log.h"
#include "log/frame.h"

typedef struct receiver {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_async_t stop;
  uv_thread_t thread;
  uv_mutex_t lock;
  char **msgs; /* every decoded message (or "!BAD ..." for a bad frame) */
  size_t n, cap;
  char *last_json; /* the payload of the last frame */
  int port;
} receiver_t;

typedef struct receiver_client {
  uv_tcp_t tcp;
  dp_log_frame_reader_t reader;
  receiver_t *r;
} receiver_client_t;

static inline void receiver_add(receiver_t *r, const char *msg) {
  uv_mutex_lock(&r->lock);
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 1024;
    r->msgs = realloc(r->msgs, r->cap * sizeof *r->msgs);
  }
  r->msgs[r->n++] = strdup(msg);
  uv_mutex_unlock(&r->lock);
}

static inline int receiver_on_frame(void *ctx, const char *json, size_t len) {
  receiver_t *r = ctx;
  uv_mutex_lock(&r->lock);
  free(r->last_json);
  r->last_json = malloc(len + 1); /* not strndup: Windows has none */
  if (r->last_json != NULL) {
    memcpy(r->last_json, json, len);
    r->last_json[len] = '\0';
  }
  uv_mutex_unlock(&r->lock);
  dp_log_decoded_t d;
  if (dp_log_frame_decode(json, len, DP_LOG_RENDER_MAX_DEFAULT, &d) < 0) {
    receiver_add(ctx, "!BAD frame");
    return -1;
  }
  receiver_add(ctx, d.msg);
  dp_log_decoded_free(&d);
  return 0;
}

static inline void receiver_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  *buf = uv_buf_init(malloc(size), (unsigned)size);
}

static inline void receiver_client_closed(uv_handle_t *h) {
  receiver_client_t *c = h->data;
  dp_log_frame_reader_free(&c->reader);
  free(c);
}

static inline void receiver_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  receiver_client_t *c = s->data;
  if (n > 0 &&
      dp_log_frame_reader_feed(&c->reader, buf->base, (size_t)n, receiver_on_frame, c->r) < 0)
    n = UV_EOF;
  if (n < 0) uv_close((uv_handle_t *)s, receiver_client_closed);
  free(buf->base);
}

static inline void receiver_accept(uv_stream_t *l, int status) {
  if (status < 0) return;
  receiver_t *r = l->data;
  receiver_client_t *c = calloc(1, sizeof *c);
  c->r = r;
  dp_log_frame_reader_init(&c->reader, DP_LOG_FRAME_MAX_DEFAULT);
  uv_tcp_init(&r->loop, &c->tcp);
  c->tcp.data = c;
  uv_accept(l, (uv_stream_t *)&c->tcp);
  uv_read_start((uv_stream_t *)&c->tcp, receiver_alloc, receiver_read);
}

static inline void receiver_close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  uv_close(h,
           h->type == UV_TCP && h->data != arg && h->data != NULL ? receiver_client_closed : NULL);
}

static inline void receiver_on_stop(uv_async_t *a) {
  receiver_t *r = a->data;
  uv_walk(&r->loop, receiver_close_all, r);
}

static inline void receiver_main(void *arg) {
  receiver_t *r = arg;
  uv_run(&r->loop, UV_RUN_DEFAULT);
}

/* Starts listening on `port` (0: any free port; r->port tells which). */
static inline int receiver_start(receiver_t *r, int port) {
  memset(r, 0, sizeof *r);
  uv_mutex_init(&r->lock);
  uv_loop_init(&r->loop);
  uv_tcp_init(&r->loop, &r->listener);
  r->listener.data = r;
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  int rc = uv_tcp_bind(&r->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&r->listener, 64, receiver_accept);
  if (rc < 0) return rc;
  struct sockaddr_in bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&r->listener, (struct sockaddr *)&bound, &len);
  r->port = ntohs(bound.sin_port);
  uv_async_init(&r->loop, &r->stop, receiver_on_stop);
  r->stop.data = r;
  return uv_thread_create(&r->thread, receiver_main, r);
}

/* Closes the listener and every client (their sockets close at once), joins
 * the thread. The messages stay readable until receiver_free. */
static inline void receiver_stop(receiver_t *r) {
  uv_async_send(&r->stop);
  uv_thread_join(&r->thread);
  uv_loop_close(&r->loop);
}

static inline void receiver_free(receiver_t *r) {
  for (size_t i = 0; i < r->n; i++) free(r->msgs[i]);
  free(r->msgs);
  free(r->last_json);
  uv_mutex_destroy(&r->lock);
  free(r);
}

static inline size_t receiver_count(receiver_t *r) {
  uv_mutex_lock(&r->lock);
  size_t n = r->n;
  uv_mutex_unlock(&r->lock);
  return n;
}

/* A started receiver on the heap (asserts on failure); receiver_free frees it. */
static inline receiver_t *receiver_new(int port) {
  receiver_t *r = malloc(sizeof *r);
  assert_non_null(r);
  assert_int_equal(receiver_start(r, port), 0);
  return r;
}

/* cmocka setup and teardown of a test of the network handler: reconnects
 * only by dp_log_retry_now() (the back-off is far beyond a test's length),
 * default queue bounds; the handler stopped afterwards. */
static inline int receiver_setup(void **state) {
  (void)state;
  dp_log_set_backoff(600000, 600000);
  dp_log_set_queue_limits(10000, 8u << 20);
  return 0;
}

static inline int receiver_teardown(void **state) {
  (void)state;
  dp_log_shutdown(2000);
  return 0;
}

/* A logger that lets every level through. */
static inline dp_logger_t *receiver_test_logger(const char *name) {
  dp_logger_t *lg = dp_log_get(name);
  dp_logger_set_level(lg, DP_LOG_DEBUG);
  return lg;
}

/* A port nothing listens on right now. */
static inline int receiver_closed_port(void) {
  receiver_t *r = receiver_new(0);
  int port = r->port;
  receiver_stop(r);
  receiver_free(r);
  return port;
}

/* Polls until at least `n` messages arrived or 60 s passed (valgrind is
 * slow); returns the count. */
static inline size_t receiver_wait(receiver_t *r, size_t n) {
  uint64_t deadline = uv_hrtime() + (uint64_t)60 * 1000000000u;
  size_t got;
  while ((got = receiver_count(r)) < n && uv_hrtime() < deadline) uv_sleep(2);
  return got;
}

#endif
