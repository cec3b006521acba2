/* clients.c - the log server's loop side: accepting clients, reading their
 * bytes and cutting them into frames for their decoder, and the bounds on
 * what clients can make the server hold.
 *
 * Everything a peer can make the server hold is bounded: a frame
 * (max_frame, checked by the frame reader), the number of clients
 * (max_clients), how long a frame may stay unfinished (frame timeout, by a
 * sweep timer), and the bytes of unfinished frames of all clients together
 * (max_buffered). When a bound is hit, the clients with the oldest
 * unfinished frames go first (they are likely stalled); a client idle
 * between records is kept however long it is quiet: modules may log rarely.
 * Runs on the loop thread only. */
#include "log_server/log_server_internal.h"

#include <stdlib.h>

static void on_client_closed(uv_handle_t *h) {
  dp_logsrv_client_t *c = h->data;
  dp_log_frame_reader_free(&c->reader);
  dp_logsrv_release(c);
}

/* Closes c; its decoder finishes what was queued for it first. */
static void close_client(dp_logsrv_client_t *c) {
  dp_log_server_t *srv = c->srv;
  c->closed = true;
  dp_logsrv_decoder_lock(c->dec);
  dp_logsrv_enqueue(c->dec, c, DP_LOGSRV_CLOSE, 0, 0, NULL, 0); /* out of memory: never freed */
  dp_logsrv_decoder_unlock(c->dec);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    srv->clients = c->next;
  if (c->next != NULL) c->next->prev = c->prev;
  srv->n_clients--;
  srv->buffered -= c->reader.cap;
  c->reader.cap = 0; /* no longer counted; freed when the handle closes */
  uv_close((uv_handle_t *)&c->tcp, on_client_closed);
}

void dp_logsrv_close_clients(dp_log_server_t *srv) {
  while (srv->clients != NULL) close_client(srv->clients);
}

/* The client whose unfinished frame began first, or NULL. */
static dp_logsrv_client_t *oldest_unfinished(const dp_log_server_t *srv) {
  dp_logsrv_client_t *oldest = NULL;
  for (dp_logsrv_client_t *c = srv->clients; c != NULL; c = c->next)
    if (c->frame_start != 0 && (oldest == NULL || c->frame_start < oldest->frame_start)) oldest = c;
  return oldest;
}

static void close_stalled(dp_logsrv_client_t *c, const char *why) {
  dp_log_server_t *srv = c->srv;
  double secs = (double)(uv_now(&srv->loop) - c->frame_start) / 1000.0;
  char state[96];
  if (c->reader.head_len < 4)
    snprintf(state, sizeof state, "%zu of 4 bytes of a length prefix", c->reader.head_len);
  else
    snprintf(state, sizeof state, "%zu of %zu bytes of a frame", c->reader.have, c->reader.need);
  dp_logsrv_line(srv, c, DP_LOG_ERROR, "closing client %s: %s (%s after %.1f s)", c->peer, why,
                 state, secs);
  close_client(c);
}

/* A frame of c: queued for its decoder (whose lock is held). */
static int on_frame(void *ctx, const char *json, size_t len) {
  dp_logsrv_client_t *c = ctx;
  c->frames++;
  return dp_logsrv_enqueue(c->dec, c, DP_LOGSRV_FRAME, 0, 0, json, len);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  dp_logsrv_client_t *c = h->data;
  (void)suggested;
  /* one read at a time on this loop; big reads: few syscalls */
  *buf = uv_buf_init(c->srv->chunk, DP_LOGSRV_CHUNK);
}

/* After a read: when the client's unfinished frame began, and the bytes held
 * for unfinished frames of all clients, which must stay under max_buffered
 * (the clients with the oldest unfinished frames go first). */
static void account(dp_logsrv_client_t *c, size_t cap_before, unsigned long frames_before) {
  dp_log_server_t *srv = c->srv;
  srv->buffered += c->reader.cap - cap_before;
  if (c->reader.head_len == 0)
    c->frame_start = 0;
  else if (c->frame_start == 0 || c->frames != frames_before)
    c->frame_start = uv_now(&srv->loop);
  while (srv->buffered > srv->max_buffered) {
    dp_logsrv_client_t *oldest = oldest_unfinished(srv);
    if (oldest == NULL) break;
    close_stalled(oldest, "unfinished frames of all clients exceed --max-buffered");
  }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  dp_logsrv_client_t *c = stream->data;
  dp_log_server_t *srv = c->srv;
  if (nread > 0) {
    size_t cap = c->reader.cap;
    unsigned long frames = c->frames;
    dp_logsrv_decoder_lock(c->dec);
    int rc = dp_log_frame_reader_feed(&c->reader, buf->base, (size_t)nread, on_frame, c);
    dp_logsrv_decoder_unlock(c->dec);
    if (rc < 0) { /* everything queued before a bad frame is kept */
      srv->buffered += c->reader.cap - cap;
      dp_logsrv_line(srv, c, DP_LOG_ERROR, "closing client %s: %s", c->peer, dp_error_detail());
      close_client(c);
      return;
    }
    account(c, cap, frames);
    return;
  }
  if (nread == 0) return;
  if (nread == UV_EOF) {
    if (dp_log_frame_reader_finish(&c->reader) < 0)
      dp_logsrv_line(srv, c, DP_LOG_ERROR, "client %s: %s", c->peer, dp_error_detail());
  } else {
    dp_logsrv_line(srv, c, DP_LOG_WARNING, "client %s: read failed: %s", c->peer,
                   uv_strerror((int)nread));
  }
  close_client(c);
}

void dp_logsrv_on_sweep(uv_timer_t *t) {
  dp_log_server_t *srv = t->data;
  uint64_t now = uv_now(&srv->loop);
  dp_logsrv_client_t *next;
  for (dp_logsrv_client_t *c = srv->clients; c != NULL; c = next) {
    next = c->next;
    if (c->frame_start != 0 && now - c->frame_start >= srv->frame_ms)
      close_stalled(c, "frame not finished within --frame-timeout");
  }
  if (srv->refused > 0) {
    dp_logsrv_line(srv, NULL, DP_LOG_ERROR, "refused %lu connection%s: --max-clients (%zu) reached",
                   srv->refused, srv->refused == 1 ? "" : "s", srv->max_clients);
    srv->refused = 0;
  }
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t size) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[48] = "?";
  int port = 0;
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  snprintf(out, size, "%s:%d", ip, port);
}

void dp_logsrv_on_connection(uv_stream_t *listener, int status) {
  dp_log_server_t *srv = listener->data;
  if (status < 0) {
    dp_logsrv_line(srv, NULL, DP_LOG_WARNING, "accept failed: %s", uv_strerror(status));
    return;
  }
  dp_logsrv_client_t *c = calloc(1, sizeof *c);
  if (c == NULL) return; /* the connection stays pending in the backlog */
  c->srv = srv;
  c->dec = &srv->decoders[srv->next_decoder++ % srv->n_decoders];
  atomic_init(&c->refs, 1); /* the handle's */
  dp_log_frame_reader_init(&c->reader, srv->max_frame);
  uv_tcp_init(&srv->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    return;
  }
  peer_name(&c->tcp, c->peer, sizeof c->peer);
  if (srv->n_clients >= srv->max_clients) {
    /* Full: make room by closing the client whose frame has been unfinished
     * longest (likely stalled); clients between records are never closed. */
    dp_logsrv_client_t *oldest = oldest_unfinished(srv);
    if (oldest == NULL) {
      srv->refused++;
      uv_close((uv_handle_t *)&c->tcp, on_client_closed);
      return;
    }
    close_stalled(oldest, "--max-clients reached and its frame is the oldest unfinished one");
  }
  atomic_store(&c->refs, 2); /* and its decoder's, given back at DP_LOGSRV_CLOSE */
  c->next = srv->clients;
  if (c->next != NULL) c->next->prev = c;
  srv->clients = c;
  srv->n_clients++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void dp_logsrv_on_failed(uv_async_t *h) {
  dp_log_server_t *srv = h->data;
  uv_mutex_lock(&srv->fail_lock);
  dp_logsrv_client_t *c = srv->failures;
  srv->failures = NULL;
  uv_mutex_unlock(&srv->fail_lock);
  while (c != NULL) {
    dp_logsrv_client_t *next = c->fail_next;
    if (!c->closed) close_client(c);
    dp_logsrv_release(c);
    c = next;
  }
}
