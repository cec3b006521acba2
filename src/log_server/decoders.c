/* decoders.c - the log server's decoder threads: decoding and rendering, most
 * of the server's work, away from the loop thread.
 *
 * The loop appends what it read to one decoder's queue (a byte array of
 * items: frames, lines of the server's own, "client closed") under that
 * decoder's lock; the decoder swaps the whole queue for its empty spare, so
 * each side holds the lock only for a swap or an append. A queue is bounded
 * (QUEUE_MAX): beyond it the loop waits for its decoder, which pushes back on
 * the clients through TCP and loses nothing. A bad record found here marks its
 * client failed (what follows from it is dropped) and asks the loop, through
 * an async handle, to close it. */
#include "common/error_internal.h"
#include "log_server/log_server_internal.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX ((size_t)1024 * 1024) /* a decoder's queue: the loop waits beyond */

/* The bytes an item with `len` bytes of text takes in a queue. */
static size_t item_size(size_t len) {
  const size_t unit = sizeof(dp_logsrv_item_t);
  return unit + (len + unit - 1) / unit * unit;
}

void dp_logsrv_release(dp_logsrv_client_t *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) free(c);
}

int dp_logsrv_enqueue(dp_logsrv_decoder_t *d, dp_logsrv_client_t *c, int kind, int level,
                      size_t prefix, const char *text, size_t len) {
  dp_logsrv_queue_t *q = &d->queue;
  size_t size = item_size(len);
  if (q->cap - q->len < size) {
    size_t cap = q->cap < 65536 ? 65536 : q->cap;
    while (cap - q->len < size) cap *= 2;
    char *p = realloc(q->data, cap);
    if (p == NULL) return dp_error_set(DP_ENOMEM, "no memory to queue a log frame");
    q->data = p;
    q->cap = cap;
  }
  dp_logsrv_item_t *it = (dp_logsrv_item_t *)(q->data + q->len);
  *it = (dp_logsrv_item_t){.c = c, .kind = kind, .level = level, .prefix = prefix, .len = len};
  if (len > 0) memcpy(it + 1, text, len);
  q->len += size;
  return 0;
}

void dp_logsrv_decoder_lock(dp_logsrv_decoder_t *d) {
  uv_mutex_lock(&d->lock);
  while (d->queue.len >= QUEUE_MAX) uv_cond_wait(&d->taken, &d->lock);
}

void dp_logsrv_decoder_unlock(dp_logsrv_decoder_t *d) {
  if (d->waiting && d->queue.len > 0) {
    d->waiting = false;
    uv_cond_signal(&d->wake);
  }
  uv_mutex_unlock(&d->lock);
}

/* A decoder found a bad record of c: the loop closes c (a reference is held
 * until it has). */
static void report_failure(dp_logsrv_client_t *c) {
  dp_log_server_t *srv = c->srv;
  atomic_fetch_add(&c->refs, 1);
  uv_mutex_lock(&srv->fail_lock);
  c->fail_next = srv->failures;
  srv->failures = c;
  uv_mutex_unlock(&srv->fail_lock);
  uv_async_send(&srv->failed);
}

static void decode_frame(dp_logsrv_decoder_t *d, dp_logsrv_client_t *c, const char *json,
                         size_t len) {
  int level;
  size_t prefix, start = d->out.len;
  int rc = dp_log_frame_line(json, len, d->srv->max_message, &d->out, &level, &prefix);
  if (rc == 0) {
    dp_logsrv_end_line(d, level, start, prefix);
    return;
  }
  d->out.len = start; /* nothing of a bad record */
  c->failed = true;
  char msg[512], line[700];
  snprintf(msg, sizeof msg, "closing client %s: %s", c->peer, dp_error_detail());
  dp_textbuf_put(&d->out, line, dp_logsrv_own_line(line, sizeof line, DP_LOG_ERROR, msg, &prefix));
  dp_logsrv_end_line(d, DP_LOG_ERROR, start, prefix);
  report_failure(c);
}

/* Decodes and writes the items the loop queued. */
static void decode_items(dp_logsrv_decoder_t *d, const dp_logsrv_queue_t *q) {
  for (size_t at = 0; at < q->len;) {
    const dp_logsrv_item_t *it = (const dp_logsrv_item_t *)(q->data + at);
    const char *text = (const char *)(it + 1);
    dp_logsrv_client_t *c = it->c;
    at += item_size(it->len);
    if (it->kind == DP_LOGSRV_CLOSE) {
      dp_logsrv_release(c);
    } else if (c->failed) {
      /* after its bad record: dropped, as the loop would have had it closed */
    } else if (it->kind == DP_LOGSRV_FRAME) {
      decode_frame(d, c, text, it->len);
    } else {
      size_t start = d->out.len;
      dp_textbuf_put(&d->out, text, it->len);
      dp_logsrv_end_line(d, it->level, start, it->prefix);
    }
  }
  dp_logsrv_write_lines(d->srv, &d->out, &d->console_lines);
}

static void decoder_main(void *arg) {
  dp_logsrv_decoder_t *d = arg;
  dp_logsrv_queue_t work = {0};
  uv_mutex_lock(&d->lock);
  for (;;) {
    while (d->queue.len == 0 && !d->stop) {
      d->waiting = true;
      uv_cond_wait(&d->wake, &d->lock);
    }
    if (d->queue.len == 0) break; /* stopped, and all done */
    dp_logsrv_queue_t full = d->queue;
    d->queue = work;
    uv_cond_signal(&d->taken);
    uv_mutex_unlock(&d->lock);
    decode_items(d, &full);
    work = full;
    work.len = 0;
    uv_mutex_lock(&d->lock);
  }
  uv_mutex_unlock(&d->lock);
  free(work.data);
}

int dp_logsrv_start_decoders(dp_log_server_t *srv, size_t n) {
  srv->decoders = calloc(n, sizeof *srv->decoders);
  if (srv->decoders == NULL) return dp_error_set(DP_ENOMEM, "no memory for the log server");
  for (size_t i = 0; i < n; i++) {
    dp_logsrv_decoder_t *d = &srv->decoders[i];
    d->srv = srv;
    dp_textbuf_init(&d->out, NULL, 0);
    uv_mutex_init(&d->lock);
    uv_cond_init(&d->wake);
    uv_cond_init(&d->taken);
    int rc = uv_thread_create(&d->thread, decoder_main, d);
    if (rc != 0) {
      uv_cond_destroy(&d->taken);
      uv_cond_destroy(&d->wake);
      uv_mutex_destroy(&d->lock);
      return dp_error_set(DP_ESYS, "cannot start %zu decoder threads: %s", n, uv_strerror(rc));
    }
    srv->n_decoders++;
  }
  return 0;
}

void dp_logsrv_stop_decoders(dp_log_server_t *srv) {
  for (size_t i = 0; i < srv->n_decoders; i++) {
    dp_logsrv_decoder_t *d = &srv->decoders[i];
    uv_mutex_lock(&d->lock);
    d->stop = true;
    uv_cond_signal(&d->wake);
    uv_mutex_unlock(&d->lock);
  }
  for (size_t i = 0; i < srv->n_decoders; i++) {
    dp_logsrv_decoder_t *d = &srv->decoders[i];
    uv_thread_join(&d->thread);
    uv_cond_destroy(&d->taken);
    uv_cond_destroy(&d->wake);
    uv_mutex_destroy(&d->lock);
    free(d->queue.data);
    dp_textbuf_free(&d->out);
  }
  free(srv->decoders);
  srv->decoders = NULL;
  srv->n_decoders = 0;
}
