/* dp-logserver.c - the central Dareplane log server, in C.
 *
 *   dp-logserver [--host 127.0.0.1] [--port 9020] [--logfile default_socket.log]
 *                [--max-frame 1048576] [--max-message 1048576] [--max-clients 256]
 *                [--frame-timeout 10] [--max-buffered 67108864] [--quiet]
 *
 * A drop-in for `python -m dareplane_utils.logging.server`: it accepts the
 * length-prefixed JSON log records of C and Python modules and writes each
 * one in the standard line format to the log file (append) and to the
 * console. Unlike the Python server it serves many clients on one libuv
 * loop, and bad input closes only the client that sent it, with the reason
 * written to the log file. SIGINT/SIGTERM: finish and exit 0.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define FLUSH_AT ((size_t)256 * 1024) /* write gathered lines once they are this long */

typedef struct client {
  uv_tcp_t tcp;
  dp_log_frame_reader_t reader;
  struct client *prev, *next;
  struct server *srv;
  uint64_t frame_start; /* loop time (ms) the unfinished frame began; 0: none */
  unsigned long frames; /* frames completed */
  char peer[64];
} client_t;

typedef struct limits {
  size_t max_frame;    /* largest frame payload */
  size_t max_message;  /* longest rendered message */
  size_t max_clients;  /* clients at once */
  uint64_t frame_ms;   /* how long a frame may stay unfinished */
  size_t max_buffered; /* bytes of unfinished frames of all clients */
} limits_t;

typedef struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_signal_t sigint, sigterm;
  uv_timer_t sweep; /* closes clients whose frame takes too long */
  client_t *clients;
  size_t n_clients;
  size_t buffered;       /* allocated for unfinished frames, all clients */
  unsigned long refused; /* connections refused at max_clients, not yet reported */
  FILE *file;
  const char *logfile;
  bool console;
  limits_t lim;
  dp_textbuf_t out;                     /* lines of the current read, written in one go */
  dp_log_console_batch_t console_lines; /* and the same for the console */
  bool write_failed;
} server_t;

/* ---- output -------------------------------------------------------------- */

/* Writes the lines gathered in srv->out to the file, flushed, and queues
 * their console lines. */
static void flush_lines(server_t *srv) {
  if (srv->console) dp_log_console_batch_send(&srv->console_lines);
  if (srv->out.len == 0) return;
  if (fwrite(srv->out.data, 1, srv->out.len, srv->file) != srv->out.len || fflush(srv->file) != 0) {
    if (!srv->write_failed) perror("dp-logserver: writing the log file");
    srv->write_failed = true;
  }
  srv->out.len = 0;
  if (dp_textbuf_failed(&srv->out)) dp_textbuf_free(&srv->out); /* out of memory: start afresh */
}

/* The line that ends srv->out (from `start`, without newline) is complete:
 * ends it and gathers it for the console (a queue that never blocks; see
 * dp_log_set_console). */
static void end_line(server_t *srv, int level, size_t start, size_t prefix) {
  if (srv->console)
    dp_log_console_batch_add(&srv->console_lines, level, srv->out.data + start, prefix,
                             srv->out.data + start + prefix, srv->out.len - start - prefix);
  dp_textbuf_putc(&srv->out, '\n');
  if (srv->out.len >= FLUSH_AT) flush_lines(srv);
}

/* A line of the server's own (why a client was closed, ...). */
static void server_line(server_t *srv, int level, const char *fmt, ...) DP_PRINTF(3, 4);
static void server_line(server_t *srv, int level, const char *fmt, ...) {
  char msg[512], line[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  double now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  size_t prefix = dp_log_format_line(line, sizeof line, now, "dp-logserver", level, "");
  size_t len = dp_log_format_line(line, sizeof line, now, "dp-logserver", level, msg);
  if (len >= sizeof line) len = sizeof line - 1;
  size_t start = srv->out.len;
  dp_textbuf_put(&srv->out, line, len);
  end_line(srv, level, start, prefix);
  flush_lines(srv);
}

/* ---- clients ------------------------------------------------------------- */

static void on_client_closed(uv_handle_t *h) {
  client_t *c = h->data;
  dp_log_frame_reader_free(&c->reader);
  free(c);
}

static void close_client(client_t *c) {
  server_t *srv = c->srv;
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
  server_line(srv, DP_LOG_ERROR, "closing client %s: %s (%s after %.1f s)", c->peer, why, state,
              secs);
  close_client(c);
}

static int on_frame(void *ctx, const char *json, size_t len) {
  client_t *c = ctx;
  server_t *srv = c->srv;
  c->frames++;
  int level;
  size_t prefix, start = srv->out.len;
  int rc = dp_log_frame_line(json, len, srv->lim.max_message, &srv->out, &level, &prefix);
  if (rc < 0) {
    srv->out.len = start; /* nothing of a bad record */
    return rc;
  }
  end_line(srv, level, start, prefix);
  return 0;
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
    int rc = dp_log_frame_reader_feed(&c->reader, buf->base, (size_t)nread, on_frame, c);
    flush_lines(srv); /* everything decoded before a bad frame is kept */
    if (rc < 0) {
      srv->buffered += c->reader.cap - cap;
      server_line(srv, DP_LOG_ERROR, "closing client %s: %s", c->peer, dp_error_detail());
      close_client(c);
      return;
    }
    account(c, cap, frames);
    return;
  }
  if (nread == 0) return;
  if (nread == UV_EOF) {
    if (dp_log_frame_reader_finish(&c->reader) < 0)
      server_line(srv, DP_LOG_ERROR, "client %s: %s", c->peer, dp_error_detail());
  } else {
    server_line(srv, DP_LOG_WARNING, "client %s: read failed: %s", c->peer,
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
    server_line(srv, DP_LOG_ERROR, "refused %lu connection%s: --max-clients (%zu) reached",
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
    server_line(srv, DP_LOG_WARNING, "accept failed: %s", uv_strerror(status));
    return;
  }
  client_t *c = calloc(1, sizeof *c);
  if (c == NULL) return; /* the connection stays pending in the backlog */
  c->srv = srv;
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
  c->next = srv->clients;
  if (c->next != NULL) c->next->prev = c;
  srv->clients = c;
  srv->n_clients++;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- start and stop ------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum) {
  server_t *srv = h->data;
  (void)signum;
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
          "                    [--frame-timeout SECONDS] [--max-buffered BYTES] [--quiet]\n"
          "  --max-frame      largest record frame; a bigger one closes its client (1048576)\n"
          "  --max-message    longest rendered message, cut and marked beyond (1048576)\n"
          "  --max-clients    clients at once; more are refused (256)\n"
          "  --frame-timeout  seconds a frame may stay unfinished before its client is\n"
          "                   closed (10)\n"
          "  --max-buffered   bytes of unfinished frames of all clients together (67108864)\n"
          "  --quiet          no console output\n"
          "Options also take the --key=value form.\n");
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *logfile = "default_socket.log";
  long port = 9020, max_frame = (long)DP_LOG_FRAME_MAX_DEFAULT;
  long max_message = (long)DP_LOG_RENDER_MAX_DEFAULT, max_clients = 256;
  long max_buffered = 64L * 1024 * 1024;
  double frame_timeout = 10.0;
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
  dp_textbuf_init(&srv.out, NULL, 0);
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

  uv_run(srv.loop, UV_RUN_DEFAULT);

  flush_lines(&srv);
  uv_fs_t req;
  uv_fs_fsync(NULL, &req, fileno(srv.file), NULL);
  uv_fs_req_cleanup(&req);
  fclose(srv.file);
  dp_textbuf_free(&srv.out);
  uv_loop_close(srv.loop);
  return srv.write_failed ? 1 : 0;
}
