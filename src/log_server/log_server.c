/* log_server.c - the log server's public API (dareplane/log_server.h):
 * checking the options, starting (log file, listening socket, decoder
 * threads, the loop thread) and stopping.
 *
 * The server runs on a libuv loop of its own in a thread of its own, so a
 * program (dp-logserver) or a test can start it, go on with its work, and
 * stop it from any thread. Stopping wakes the loop through an async handle;
 * the loop thread then closes the listener and every client, lets the
 * decoders finish what was queued, fsyncs and closes the log file and ends;
 * dp_log_server_stop() joins it, so when it returns every line is written. */
#include "common/error_internal.h"
#include "log_server/log_server_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DP_LOG_SERVER_MESSAGE_MIN == DP_LOG_RENDER_MIN,
               "the public bound is the decoder's least message bound");

#define THREADS_DEFAULT_MAX 4 /* the default: one decoder per core, at most this */

void dp_log_server_opts_init(dp_log_server_opts_t *opts) {
  *opts = (dp_log_server_opts_t){.host = "127.0.0.1",
                                 .port = 9020,
                                 .logfile = "default_socket.log",
                                 .max_frame = DP_LOG_FRAME_MAX_DEFAULT,
                                 .max_message = DP_LOG_RENDER_MAX_DEFAULT,
                                 .max_clients = 256,
                                 .frame_timeout_s = 10.0,
                                 .max_buffered = (size_t)64 * 1024 * 1024,
                                 .threads = 0,
                                 .console = true};
}

static int check_opts(const dp_log_server_opts_t *o) {
  if (o->host == NULL || o->logfile == NULL)
    return dp_error_set(DP_EINVAL, "the log server needs a host and a log file");
  if (o->port < 0 || o->port > 65535)
    return dp_error_set(DP_EINVAL, "port must be 0 to 65535, got %d", o->port);
  if (o->max_frame == 0 || o->max_buffered == 0)
    return dp_error_set(DP_EINVAL, "max_frame and max_buffered must be at least 1 byte");
  if (o->max_message < DP_LOG_SERVER_MESSAGE_MIN)
    return dp_error_set(DP_EINVAL, "max_message must be at least %d bytes, got %zu",
                        DP_LOG_SERVER_MESSAGE_MIN, o->max_message);
  if (o->max_clients < 1 || o->max_clients > DP_LOG_SERVER_CLIENTS_MAX)
    return dp_error_set(DP_EINVAL, "max_clients must be 1 to %d, got %zu",
                        DP_LOG_SERVER_CLIENTS_MAX, o->max_clients);
  if (!(o->frame_timeout_s >= 0.01 && o->frame_timeout_s <= 86400.0))
    return dp_error_set(DP_EINVAL, "the frame timeout must be 0.01 to 86400 seconds, got %g",
                        o->frame_timeout_s);
  if (o->threads > DP_LOG_SERVER_THREADS_MAX)
    return dp_error_set(DP_EINVAL, "threads must be 0 (one per core) to %d, got %u",
                        DP_LOG_SERVER_THREADS_MAX, o->threads);
  return 0;
}

/* Binds and listens on host:port (IPv4 first, as Python's server does) and
 * records the port bound. */
static int listen_on(dp_log_server_t *srv, const char *host, int port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  uv_getaddrinfo_t gai;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  int rc = uv_getaddrinfo(&srv->loop, &gai, NULL, host, service, &hints);
  if (rc < 0 || gai.addrinfo == NULL) {
    if (rc == 0) uv_freeaddrinfo(gai.addrinfo);
    return dp_error_set(DP_ENOTFOUND, "cannot resolve %s: %s", host,
                        rc < 0 ? uv_strerror(rc) : "no address");
  }
  const struct addrinfo *use = gai.addrinfo;
  for (const struct addrinfo *a = gai.addrinfo; a != NULL; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      use = a;
      break;
    }
  rc = uv_tcp_bind(&srv->listener, use->ai_addr, 0);
  uv_freeaddrinfo(gai.addrinfo);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 128, dp_logsrv_on_connection);
  if (rc < 0)
    return dp_error_set(DP_ECONN, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
  srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

/* Stop: no more clients, no more sweeps; the loop ends once every client's
 * handle has closed (the failed async stays, unreferenced, until the
 * decoders are done). */
static void on_stop(uv_async_t *h) {
  dp_log_server_t *srv = h->data;
  uv_unref((uv_handle_t *)&srv->failed);
  uv_close((uv_handle_t *)&srv->listener, NULL);
  uv_close((uv_handle_t *)&srv->sweep, NULL);
  uv_close((uv_handle_t *)&srv->stop, NULL);
  dp_logsrv_close_clients(srv);
}

static void close_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* After the loop (or a failed start): the decoders write what was queued,
 * their failures are taken (the clients are closed already), the rest of
 * the handles close, and the log file goes to disk. */
static void finish(dp_log_server_t *srv) {
  dp_logsrv_stop_decoders(srv);
  dp_logsrv_on_failed(&srv->failed);
  uv_walk(&srv->loop, close_handle, NULL);
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  uv_loop_close(&srv->loop);
  uv_fs_t req;
  uv_fs_fsync(NULL, &req, fileno(srv->file), NULL);
  uv_fs_req_cleanup(&req);
  fclose(srv->file);
  srv->file = NULL;
}

static void loop_main(void *arg) {
  dp_log_server_t *srv = arg;
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  finish(srv);
}

static void free_server(dp_log_server_t *srv) {
  uv_mutex_destroy(&srv->stop_lock);
  uv_mutex_destroy(&srv->file_lock);
  uv_mutex_destroy(&srv->fail_lock);
  free(srv->chunk);
  free(srv->logfile);
  free(srv->host);
  free(srv);
}

/* The decoder threads asked for, or one per core, at most
 * THREADS_DEFAULT_MAX. */
static size_t decoder_count(unsigned asked) {
  if (asked > 0) return asked;
  unsigned cores = uv_available_parallelism();
  return cores < 1 ? 1 : cores > THREADS_DEFAULT_MAX ? THREADS_DEFAULT_MAX : cores;
}

/* The loop, its handles, the socket and the threads of a server whose log
 * file is open; on failure everything made is undone (the file is closed
 * once the loop was made). */
static int run(dp_log_server_t *srv, const dp_log_server_opts_t *opts) {
  int rc = uv_loop_init(&srv->loop);
  if (rc < 0)
    return dp_error_set(DP_ESYS, "cannot make the log server's loop: %s", uv_strerror(rc));
  uv_tcp_init(&srv->loop, &srv->listener);
  uv_timer_init(&srv->loop, &srv->sweep);
  uv_async_init(&srv->loop, &srv->failed, dp_logsrv_on_failed);
  uv_async_init(&srv->loop, &srv->stop, on_stop);
  srv->listener.data = srv->sweep.data = srv->failed.data = srv->stop.data = srv;
  rc = listen_on(srv, opts->host, opts->port);
  if (rc == 0) rc = dp_logsrv_start_decoders(srv, decoder_count(opts->threads));
  if (rc == 0) {
    uint64_t every = srv->frame_ms / 4;
    every = every < 10 ? 10 : every > 1000 ? 1000 : every;
    uv_timer_start(&srv->sweep, dp_logsrv_on_sweep, every, every);
    int trc = uv_thread_create(&srv->thread, loop_main, srv);
    if (trc != 0)
      rc = dp_error_set(DP_ESYS, "cannot start the log server's thread: %s", uv_strerror(trc));
  }
  if (rc < 0) finish(srv);
  return rc;
}

int dp_log_server_start(dp_log_server_t **out, const dp_log_server_opts_t *opts) {
  if (out == NULL || opts == NULL)
    return dp_error_set(DP_EINVAL, "dp_log_server_start needs out and opts");
  int rc = check_opts(opts);
  if (rc < 0) return rc;
  dp_log_server_t *srv = calloc(1, sizeof *srv);
  if (srv == NULL) return dp_error_set(DP_ENOMEM, "no memory for the log server");
  uv_mutex_init(&srv->fail_lock);
  uv_mutex_init(&srv->file_lock);
  uv_mutex_init(&srv->stop_lock);
  srv->host = strdup(opts->host);
  srv->logfile = strdup(opts->logfile);
  srv->chunk = malloc(DP_LOGSRV_CHUNK);
  if (srv->host == NULL || srv->logfile == NULL || srv->chunk == NULL) {
    free_server(srv);
    return dp_error_set(DP_ENOMEM, "no memory for the log server");
  }
  srv->max_frame = opts->max_frame;
  srv->max_message = opts->max_message;
  srv->max_clients = opts->max_clients;
  srv->frame_ms = (uint64_t)(opts->frame_timeout_s * 1000.0);
  srv->max_buffered = opts->max_buffered;
  srv->console = opts->console;
  srv->file = fopen(srv->logfile, "a");
  if (srv->file == NULL) {
    rc = dp_error_set(DP_EIO, "cannot open %s: %s", srv->logfile, strerror(errno));
    free_server(srv);
    return rc;
  }
  rc = run(srv, opts);
  if (rc < 0) {
    if (srv->file != NULL) fclose(srv->file); /* the loop never ran */
    free_server(srv);
    return rc;
  }
  srv->running = true;
  *out = srv;
  return 0;
}

int dp_log_server_port(const dp_log_server_t *srv) {
  return srv->port;
}

int dp_log_server_stop(dp_log_server_t *srv) {
  if (srv == NULL) return dp_error_set(DP_EINVAL, "dp_log_server_stop needs a server");
  uv_mutex_lock(&srv->stop_lock);
  if (srv->running) {
    uv_async_send(&srv->stop);
    uv_thread_join(&srv->thread);
    srv->running = false;
  }
  uv_mutex_unlock(&srv->stop_lock);
  if (srv->write_failed) return dp_error_set(DP_EIO, "%s", srv->write_error);
  return 0;
}

void dp_log_server_free(dp_log_server_t *srv) {
  if (srv == NULL) return;
  dp_log_server_stop(srv);
  free_server(srv);
}
