/* dp-logserver.c - the central Dareplane log server, in C.
 *
 *   dp-logserver [--host 127.0.0.1] [--port 9020] [--logfile default_socket.log]
 *                [--max-frame 1048576] [--max-message 1048576] [--max-clients 256]
 *                [--frame-timeout 10] [--max-buffered 67108864] [--threads N] [--quiet]
 *
 * A drop-in for `python -m dareplane_utils.logging.server`: it accepts the
 * length-prefixed JSON log records of C and Python modules and writes each
 * one in the standard line format to the log file (append) and to the
 * console. Unlike the Python server it serves many clients on one libuv
 * loop, and bad input closes only the client that sent it, with the reason
 * written to the log file. SIGINT/SIGTERM: finish and exit 0.
 *
 * The loop thread only reads and cuts frames; decoding and rendering, most
 * of the work, is done by --threads decoder threads (default: one per core,
 * at most 4). Each client belongs to one decoder, which takes its frames in
 * order, so its lines keep their order and a bad record stops exactly what
 * follows it; a decoder writes whole lines, a batch at a time under a lock,
 * so lines of different clients never mix.
 *
 * Everything a peer can make it hold is bounded: a frame (--max-frame), the
 * rendered message of a record (--max-message), the number of clients
 * (--max-clients), how long a frame may stay unfinished (--frame-timeout),
 * and the bytes of unfinished frames of all clients together
 * (--max-buffered). A client idle between records is kept however long it is
 * quiet: modules may log rarely. */
#include "common/error_internal.h"
#include "log/frame.h"
#include "log/record.h"

#include <dareplane/dareplane.h>

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define FLUSH_AT    ((size_t)256 * 1024)  /* write gathered lines once they are this long */
#define QUEUE_MAX   ((size_t)1024 * 1024) /* a decoder's queue: the loop waits beyond */
#define THREADS_MAX 64

struct decoder;

typedef struct client {
  uv_tcp_t tcp;
  dp_log_frame_reader_t reader;
  struct client *prev, *next;
  struct server *srv;
  struct decoder *dec;      /* the one that decodes its frames */
  atomic_int refs;          /* the loop's handle, its decoder, a pending failure */
  bool closed;              /* loop: closed (no more items for its decoder) */
  bool failed;              /* decoder: a record was bad; what follows is dropped */
  struct client *fail_next; /* in srv->failures */
  uint64_t frame_start;     /* loop time (ms) the unfinished frame began; 0: none */
  unsigned long frames;     /* frames completed */
  char peer[64];
} client_t;

typedef struct limits {
  size_t max_frame;    /* largest frame payload */
  size_t max_message;  /* longest rendered message */
  size_t max_clients;  /* clients at once */
  uint64_t frame_ms;   /* how long a frame may stay unfinished */
  size_t max_buffered; /* bytes of unfinished frames of all clients */
} limits_t;

/* What the loop hands a decoder: items (item_t, then `len` bytes of text,
 * padded to item_t's alignment) in a byte array. */
typedef struct queue {
  char *data;
  size_t len, cap;
} queue_t;

enum { ITEM_FRAME, ITEM_LINE, ITEM_CLOSE };
typedef struct item {
  client_t *c;
  int kind;      /* ITEM_*: a frame to decode, a line of the server's about c, c closed */
  int level;     /* a line's level */
  size_t prefix; /* a line's prefix length */
  size_t len;    /* bytes of text that follow */
} item_t;

typedef struct decoder {
  struct server *srv;
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t wake;                       /* for the decoder: items queued, or stop */
  uv_cond_t taken;                      /* for the loop: the decoder took the queue */
  queue_t queue;                        /* filled by the loop under lock */
  bool waiting;                         /* the decoder waits for items */
  bool stop;                            /* no more items will come */
  dp_textbuf_t out;                     /* lines decoded, written in one go */
  dp_log_console_batch_t console_lines; /* and the same for the console */
} decoder_t;

typedef struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_signal_t sigint, sigterm;
  uv_timer_t sweep;  /* closes clients whose frame takes too long */
  uv_async_t failed; /* a decoder found a bad record: close its client */
  client_t *clients;
  size_t n_clients;
  size_t buffered;       /* allocated for unfinished frames, all clients */
  unsigned long refused; /* connections refused at max_clients, not yet reported */
  limits_t lim;
  decoder_t *decoders;
  size_t n_decoders, next_decoder;
  uv_mutex_t fail_lock;
  client_t *failures; /* reported by decoders, not yet closed by the loop */
  uv_mutex_t file_lock;
  FILE *file;
  const char *logfile;
  bool console;
  bool write_failed;
} server_t;

static void release(client_t *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1) free(c);
}

/* ---- output -------------------------------------------------------------- */

/* Writes the lines gathered in `out` to the file, flushed, and queues their
 * console lines. Any thread. */
static void write_lines(server_t *srv, dp_textbuf_t *out, dp_log_console_batch_t *console) {
  if (srv->console) dp_log_console_batch_send(console);
  if (out->len == 0) return;
  uv_mutex_lock(&srv->file_lock);
  if (fwrite(out->data, 1, out->len, srv->file) != out->len || fflush(srv->file) != 0) {
    if (!srv->write_failed) perror("dp-logserver: writing the log file");
    srv->write_failed = true;
  }
  uv_mutex_unlock(&srv->file_lock);
  out->len = 0;
  if (dp_textbuf_failed(out)) dp_textbuf_free(out); /* out of memory: start afresh */
}

/* The line that ends d->out (from `start`, without newline) is complete:
 * ends it and gathers it for the console (a queue that never blocks; see
 * dp_log_set_console). */
static void end_line(decoder_t *d, int level, size_t start, size_t prefix) {
  if (d->srv->console)
    dp_log_console_batch_add(&d->console_lines, level, d->out.data + start, prefix,
                             d->out.data + start + prefix, d->out.len - start - prefix);
  dp_textbuf_putc(&d->out, '\n');
  if (d->out.len >= FLUSH_AT) write_lines(d->srv, &d->out, &d->console_lines);
}

/* A line of the server's own with message `msg` in `line` (size bytes);
 * returns its length and sets *prefix to the length of its prefix. */
static size_t own_line(char *line, size_t size, int level, const char *msg, size_t *prefix) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  double now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  *prefix = dp_log_format_line(line, size, now, "dp-logserver", level, "");
  size_t len = dp_log_format_line(line, size, now, "dp-logserver", level, msg);
  return len < size ? len : size - 1;
}

/* ---- decoders ------------------------------------------------------------ */

/* Appends an item to d's queue (lock held). */
static int enqueue(decoder_t *d, client_t *c, int kind, int level, size_t prefix, const char *text,
                   size_t len) {
  queue_t *q = &d->queue;
  size_t size = sizeof(item_t) + (len + sizeof(item_t) - 1) / sizeof(item_t) * sizeof(item_t);
  if (q->cap - q->len < size) {
    size_t cap = q->cap < 65536 ? 65536 : q->cap;
    while (cap - q->len < size) cap *= 2;
    char *p = realloc(q->data, cap);
    if (p == NULL) return dp_error_set(DP_ENOMEM, "no memory to queue a log frame");
    q->data = p;
    q->cap = cap;
  }
  item_t *it = (item_t *)(q->data + q->len);
  *it = (item_t){.c = c, .kind = kind, .level = level, .prefix = prefix, .len = len};
  if (len > 0) memcpy(it + 1, text, len);
  q->len += size;
  return 0;
}

/* Takes d's lock once its queue has room. */
static void decoder_lock(decoder_t *d) {
  uv_mutex_lock(&d->lock);
  while (d->queue.len >= QUEUE_MAX) uv_cond_wait(&d->taken, &d->lock);
}

static void decoder_unlock(decoder_t *d) {
  if (d->waiting && d->queue.len > 0) {
    d->waiting = false;
    uv_cond_signal(&d->wake);
  }
  uv_mutex_unlock(&d->lock);
}

/* A decoder found a bad record of c: the loop closes c (a reference is held
 * until it has). */
static void report_failure(client_t *c) {
  server_t *srv = c->srv;
  atomic_fetch_add(&c->refs, 1);
  uv_mutex_lock(&srv->fail_lock);
  c->fail_next = srv->failures;
  srv->failures = c;
  uv_mutex_unlock(&srv->fail_lock);
  uv_async_send(&srv->failed);
}

static void decode_frame(decoder_t *d, client_t *c, const char *json, size_t len) {
  int level;
  size_t prefix, start = d->out.len;
  int rc = dp_log_frame_line(json, len, d->srv->lim.max_message, &d->out, &level, &prefix);
  if (rc == 0) {
    end_line(d, level, start, prefix);
    return;
  }
  d->out.len = start; /* nothing of a bad record */
  c->failed = true;
  char msg[512], line[700];
  snprintf(msg, sizeof msg, "closing client %s: %s", c->peer, dp_error_detail());
  dp_textbuf_put(&d->out, line, own_line(line, sizeof line, DP_LOG_ERROR, msg, &prefix));
  end_line(d, DP_LOG_ERROR, start, prefix);
  report_failure(c);
}

/* Decodes and writes the items the loop queued. */
static void decode_items(decoder_t *d, const queue_t *q) {
  for (size_t at = 0; at < q->len;) {
    const item_t *it = (const item_t *)(q->data + at);
    const char *text = (const char *)(it + 1);
    client_t *c = it->c;
    at += sizeof *it + (it->len + sizeof *it - 1) / sizeof *it * sizeof *it;
    if (it->kind == ITEM_CLOSE) {
      release(c);
    } else if (c->failed) {
      /* after its bad record: dropped, as the loop would have had it closed */
    } else if (it->kind == ITEM_FRAME) {
      decode_frame(d, c, text, it->len);
    } else {
      size_t start = d->out.len;
      dp_textbuf_put(&d->out, text, it->len);
      end_line(d, it->level, start, it->prefix);
    }
  }
  write_lines(d->srv, &d->out, &d->console_lines);
}

static void decoder_main(void *arg) {
  decoder_t *d = arg;
  queue_t work = {0};
  uv_mutex_lock(&d->lock);
  for (;;) {
    while (d->queue.len == 0 && !d->stop) {
      d->waiting = true;
      uv_cond_wait(&d->wake, &d->lock);
    }
    if (d->queue.len == 0) break; /* stopped, and all done */
    queue_t full = d->queue;
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

/* A line of the server's own (why a client was closed, ...); one about a
 * client goes through its decoder, after the client's earlier lines. */
static void server_line(server_t *srv, client_t *c, int level, const char *fmt, ...)
    DP_PRINTF(4, 5);
static void server_line(server_t *srv, client_t *c, int level, const char *fmt, ...) {
  char msg[512], line[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t prefix, len = own_line(line, sizeof line, level, msg, &prefix);
  if (c != NULL) {
    decoder_lock(c->dec);
    enqueue(c->dec, c, ITEM_LINE, level, prefix, line, len); /* out of memory: not written */
    decoder_unlock(c->dec);
    return;
  }
  dp_textbuf_t out;
  char storage[sizeof line + 1];
  dp_textbuf_init(&out, storage, sizeof storage);
  dp_textbuf_put(&out, line, len);
  dp_textbuf_putc(&out, '\n');
  dp_log_console_batch_t console_lines = {0};
  if (srv->console)
    dp_log_console_batch_add(&console_lines, level, line, prefix, line + prefix, len - prefix);
  write_lines(srv, &out, &console_lines);
}

/* ---- clients ------------------------------------------------------------- */

static void on_client_closed(uv_handle_t *h) {
  client_t *c = h->data;
  dp_log_frame_reader_free(&c->reader);
  release(c);
}

/* Closes c; its decoder finishes what was queued for it first. */
static void close_client(client_t *c) {
  server_t *srv = c->srv;
  c->closed = true;
  decoder_lock(c->dec);
  enqueue(c->dec, c, ITEM_CLOSE, 0, 0, NULL, 0); /* out of memory: c is never freed */
  decoder_unlock(c->dec);
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

/* The client whose unfinished frame began first, or NULL. */
static client_t *oldest_unfinished(const server_t *srv) {
  client_t *oldest = NULL;
  for (client_t *c = srv->clients; c != NULL; c = c->next)
    if (c->frame_start != 0 && (oldest == NULL || c->frame_start < oldest->frame_start)) oldest = c;
  return oldest;
}

static void close_stalled(client_t *c, const char *why) {
  server_t *srv = c->srv;
  double secs = (double)(uv_now(srv->loop) - c->frame_start) / 1000.0;
  char state[96];
  if (c->reader.head_len < 4)
    snprintf(state, sizeof state, "%zu of 4 bytes of a length prefix", c->reader.head_len);
  else
    snprintf(state, sizeof state, "%zu of %zu bytes of a frame", c->reader.have, c->reader.need);
  server_line(srv, c, DP_LOG_ERROR, "closing client %s: %s (%s after %.1f s)", c->peer, why, state,
              secs);
  close_client(c);
}

/* A frame of c: queued for its decoder (whose lock is held). */
static int on_frame(void *ctx, const char *json, size_t len) {
  client_t *c = ctx;
  c->frames++;
  return enqueue(c->dec, c, ITEM_FRAME, 0, 0, json, len);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[256 * 1024]; /* one read at a time on this loop; big reads: few syscalls */
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(chunk, sizeof chunk);
}

/* After a read: when the client's unfinished frame began, and the bytes held
 * for unfinished frames of all clients, which must stay under max_buffered
 * (the clients with the oldest unfinished frames go first). */
static void account(client_t *c, size_t cap_before, unsigned long frames_before) {
  server_t *srv = c->srv;
  srv->buffered += c->reader.cap - cap_before;
  if (c->reader.head_len == 0)
    c->frame_start = 0;
  else if (c->frame_start == 0 || c->frames != frames_before)
    c->frame_start = uv_now(srv->loop);
  while (srv->buffered > srv->lim.max_buffered) {
    client_t *oldest = oldest_unfinished(srv);
    if (oldest == NULL) break;
    close_stalled(oldest, "unfinished frames of all clients exceed --max-buffered");
  }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  client_t *c = stream->data;
  server_t *srv = c->srv;
  if (nread > 0) {
    size_t cap = c->reader.cap;
    unsigned long frames = c->frames;
    decoder_lock(c->dec);
    int rc = dp_log_frame_reader_feed(&c->reader, buf->base, (size_t)nread, on_frame, c);
    decoder_unlock(c->dec);
    if (rc < 0) { /* everything queued before a bad frame is kept */
      srv->buffered += c->reader.cap - cap;
      server_line(srv, c, DP_LOG_ERROR, "closing client %s: %s", c->peer, dp_error_detail());
      close_client(c);
      return;
    }
    account(c, cap, frames);
    return;
  }
  if (nread == 0) return;
  if (nread == UV_EOF) {
    if (dp_log_frame_reader_finish(&c->reader) < 0)
      server_line(srv, c, DP_LOG_ERROR, "client %s: %s", c->peer, dp_error_detail());
  } else {
    server_line(srv, c, DP_LOG_WARNING, "client %s: read failed: %s", c->peer,
                uv_strerror((int)nread));
  }
  close_client(c);
}

/* Every so often: close clients whose frame has been unfinished too long,
 * and report connections refused since the last report. */
static void on_sweep(uv_timer_t *t) {
  server_t *srv = t->data;
  uint64_t now = uv_now(srv->loop);
  client_t *next;
  for (client_t *c = srv->clients; c != NULL; c = next) {
    next = c->next;
    if (c->frame_start != 0 && now - c->frame_start >= srv->lim.frame_ms)
      close_stalled(c, "frame not finished within --frame-timeout");
  }
  if (srv->refused > 0) {
    server_line(srv, NULL, DP_LOG_ERROR, "refused %lu connection%s: --max-clients (%zu) reached",
                srv->refused, srv->refused == 1 ? "" : "s", srv->lim.max_clients);
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

static void on_connection(uv_stream_t *listener, int status) {
  server_t *srv = listener->data;
  if (status < 0) {
    server_line(srv, NULL, DP_LOG_WARNING, "accept failed: %s", uv_strerror(status));
    return;
  }
  client_t *c = calloc(1, sizeof *c);
  if (c == NULL) return; /* the connection stays pending in the backlog */
  c->srv = srv;
  c->dec = &srv->decoders[srv->next_decoder++ % srv->n_decoders];
  atomic_init(&c->refs, 1); /* the handle's */
  dp_log_frame_reader_init(&c->reader, srv->lim.max_frame);
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    uv_close((uv_handle_t *)&c->tcp, on_client_closed);
    return;
  }
  peer_name(&c->tcp, c->peer, sizeof c->peer);
  if (srv->n_clients >= srv->lim.max_clients) {
    /* Full: make room by closing the client whose frame has been unfinished
     * longest (likely stalled); clients between records are never closed. */
    client_t *oldest = oldest_unfinished(srv);
    if (oldest == NULL) {
      srv->refused++;
      uv_close((uv_handle_t *)&c->tcp, on_client_closed);
      return;
    }
    close_stalled(oldest, "--max-clients reached and its frame is the oldest unfinished one");
  }
  atomic_store(&c->refs, 2); /* and its decoder's, given back at ITEM_CLOSE */
  c->next = srv->clients;
  if (c->next != NULL) c->next->prev = c;
  srv->clients = c;
  srv->n_clients++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Clients in which a decoder found a bad record: closed (the decoder wrote
 * why). */
static void on_failed(uv_async_t *h) {
  server_t *srv = h->data;
  uv_mutex_lock(&srv->fail_lock);
  client_t *c = srv->failures;
  srv->failures = NULL;
  uv_mutex_unlock(&srv->fail_lock);
  while (c != NULL) {
    client_t *next = c->fail_next;
    if (!c->closed) close_client(c);
    release(c);
    c = next;
  }
}

/* ---- start and stop ------------------------------------------------------ */

static int start_decoders(server_t *srv, size_t n) {
  srv->decoders = calloc(n, sizeof *srv->decoders);
  if (srv->decoders == NULL) return DP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    decoder_t *d = &srv->decoders[i];
    d->srv = srv;
    dp_textbuf_init(&d->out, NULL, 0);
    uv_mutex_init(&d->lock);
    uv_cond_init(&d->wake);
    uv_cond_init(&d->taken);
    if (uv_thread_create(&d->thread, decoder_main, d) != 0) return DP_ENOMEM;
    srv->n_decoders++;
  }
  return 0;
}

/* Once every client is closed: lets the decoders finish their queues. */
static void stop_decoders(server_t *srv) {
  for (size_t i = 0; i < srv->n_decoders; i++) {
    decoder_t *d = &srv->decoders[i];
    uv_mutex_lock(&d->lock);
    d->stop = true;
    uv_cond_signal(&d->wake);
    uv_mutex_unlock(&d->lock);
  }
  for (size_t i = 0; i < srv->n_decoders; i++) {
    decoder_t *d = &srv->decoders[i];
    uv_thread_join(&d->thread);
    uv_cond_destroy(&d->taken);
    uv_cond_destroy(&d->wake);
    uv_mutex_destroy(&d->lock);
    free(d->queue.data);
    dp_textbuf_free(&d->out);
  }
  free(srv->decoders);
}

static void on_signal(uv_signal_t *h, int signum) {
  server_t *srv = h->data;
  (void)signum;
  uv_unref((uv_handle_t *)&srv->failed); /* closed once the decoders are done */
  uv_close((uv_handle_t *)&srv->listener, NULL);
  uv_close((uv_handle_t *)&srv->sigint, NULL);
  uv_close((uv_handle_t *)&srv->sigterm, NULL);
  uv_close((uv_handle_t *)&srv->sweep, NULL);
  while (srv->clients != NULL) close_client(srv->clients);
}

static int listen_on(server_t *srv, const char *host, int port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  uv_getaddrinfo_t gai;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  int rc = uv_getaddrinfo(srv->loop, &gai, NULL, host, service, &hints);
  if (rc < 0 || gai.addrinfo == NULL) {
    fprintf(stderr, "dp-logserver: cannot resolve %s: %s\n", host,
            rc < 0 ? uv_strerror(rc) : "no address");
    return 1;
  }
  uv_tcp_init(srv->loop, &srv->listener);
  srv->listener.data = srv;
  const struct addrinfo *use = gai.addrinfo; /* IPv4 first, as Python's server */
  for (const struct addrinfo *a = gai.addrinfo; a != NULL; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      use = a;
      break;
    }
  rc = uv_tcp_bind(&srv->listener, use->ai_addr, 0);
  uv_freeaddrinfo(gai.addrinfo);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
  if (rc < 0) {
    fprintf(stderr, "dp-logserver: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
    return 1;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
  int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  printf("dp-logserver listening on %s:%d, writing to %s\n", host, bound, srv->logfile);
  fflush(stdout);
  return 0;
}

static void usage(FILE *to) {
  fprintf(to,
          "usage: dp-logserver [--host 127.0.0.1] [--port 9020] [--logfile default_socket.log]\n"
          "                    [--max-frame BYTES] [--max-message BYTES] [--max-clients N]\n"
          "                    [--frame-timeout SECONDS] [--max-buffered BYTES] [--threads N]\n"
          "                    [--quiet]\n"
          "  --max-frame      largest record frame; a bigger one closes its client (1048576)\n"
          "  --max-message    longest rendered message, cut and marked beyond (1048576)\n"
          "  --max-clients    clients at once; more are refused (256)\n"
          "  --frame-timeout  seconds a frame may stay unfinished before its client is\n"
          "                   closed (10)\n"
          "  --max-buffered   bytes of unfinished frames of all clients together (67108864)\n"
          "  --threads        decoder threads (one per core, at most 4)\n"
          "  --quiet          no console output\n"
          "Options also take the --key=value form.\n");
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *logfile = "default_socket.log";
  long port = 9020, max_frame = (long)DP_LOG_FRAME_MAX_DEFAULT;
  long max_message = (long)DP_LOG_RENDER_MAX_DEFAULT, max_clients = 256;
  long max_buffered = 64L * 1024 * 1024;
  double frame_timeout = 10.0;
  long threads = (long)uv_available_parallelism();
  threads = threads < 1 ? 1 : threads > 4 ? 4 : threads;
  bool console = true;
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "host")) {
      rc = dp_args_value(&a);
      host = a.value;
    } else if (dp_args_is(&a, "logfile")) {
      rc = dp_args_value(&a);
      logfile = a.value;
    } else if (dp_args_is(&a, "port")) {
      rc = dp_args_long(&a, 0, 65535, &port);
    } else if (dp_args_is(&a, "max-frame")) {
      rc = dp_args_long(&a, 1, LONG_MAX, &max_frame);
    } else if (dp_args_is(&a, "max-message")) {
      rc = dp_args_long(&a, (long)DP_LOG_RENDER_MIN, LONG_MAX, &max_message);
    } else if (dp_args_is(&a, "max-clients")) {
      rc = dp_args_long(&a, 1, 1000000, &max_clients);
    } else if (dp_args_is(&a, "max-buffered")) {
      rc = dp_args_long(&a, 1, LONG_MAX, &max_buffered);
    } else if (dp_args_is(&a, "frame-timeout")) {
      rc = dp_args_double(&a, &frame_timeout);
      if (rc >= 0 && !(frame_timeout >= 0.01 && frame_timeout <= 86400.0))
        rc = dp_error_set(DP_EINVAL, "--frame-timeout must be 0.01 to 86400 seconds");
    } else if (dp_args_is(&a, "threads")) {
      rc = dp_args_long(&a, 1, THREADS_MAX, &threads);
    } else if (dp_args_is(&a, "quiet")) {
      console = false;
    } else if (dp_args_is(&a, "help") || dp_args_is(&a, "h")) {
      usage(stdout);
      return 0;
    } else {
      rc = dp_args_unknown(&a);
    }
    if (rc < 0) break;
  }
  if (rc < 0) {
    fprintf(stderr, "dp-logserver: %s\n", dp_error_detail());
    usage(stderr);
    return 2;
  }

#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a console that went away must not end the server */
#endif
  server_t srv = {.loop = uv_default_loop(),
                  .logfile = logfile,
                  .console = console,
                  .lim = {.max_frame = (size_t)max_frame,
                          .max_message = (size_t)max_message,
                          .max_clients = (size_t)max_clients,
                          .frame_ms = (uint64_t)(frame_timeout * 1000.0),
                          .max_buffered = (size_t)max_buffered}};
  uv_mutex_init(&srv.file_lock);
  uv_mutex_init(&srv.fail_lock);
  srv.file = fopen(logfile, "a");
  if (srv.file == NULL) {
    fprintf(stderr, "dp-logserver: cannot open %s: ", logfile);
    perror(NULL);
    return 1;
  }
  if (listen_on(&srv, host, (int)port) != 0) {
    fclose(srv.file);
    return 1;
  }
  uv_signal_init(srv.loop, &srv.sigint);
  uv_signal_init(srv.loop, &srv.sigterm);
  srv.sigint.data = srv.sigterm.data = &srv;
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_timer_init(srv.loop, &srv.sweep);
  srv.sweep.data = &srv;
  uint64_t every = srv.lim.frame_ms / 4;
  every = every < 10 ? 10 : every > 1000 ? 1000 : every;
  uv_timer_start(&srv.sweep, on_sweep, every, every);
  uv_async_init(srv.loop, &srv.failed, on_failed);
  srv.failed.data = &srv;
  if (start_decoders(&srv, (size_t)threads) < 0) {
    fprintf(stderr, "dp-logserver: cannot start %ld decoder threads\n", threads);
    stop_decoders(&srv);
    fclose(srv.file);
    return 1;
  }

  uv_run(srv.loop, UV_RUN_DEFAULT);

  stop_decoders(&srv);
  on_failed(&srv.failed); /* their clients are closed already */
  uv_close((uv_handle_t *)&srv.failed, NULL);
  uv_run(srv.loop, UV_RUN_NOWAIT);
  uv_fs_t req;
  uv_fs_fsync(NULL, &req, fileno(srv.file), NULL);
  uv_fs_req_cleanup(&req);
  fclose(srv.file);
  uv_mutex_destroy(&srv.fail_lock);
  uv_mutex_destroy(&srv.file_lock);
  uv_loop_close(srv.loop);
  return srv.write_failed ? 1 : 0;
}
