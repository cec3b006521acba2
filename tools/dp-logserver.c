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
 * The server is the library's (dareplane/log_server.h, which describes its
 * threads and bounds; docs/logging.md has the table): this program maps the
 * flags onto its options, starts it, waits for SIGINT or SIGTERM and stops
 * it, which writes everything received. Exit status: 0, 1 when the server
 * cannot start or a line could not be written to the log file, 2 for a bad
 * flag. */
#include <dareplane/dareplane.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <uv.h>

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

/* SIGINT or SIGTERM: the wait is over. */
static void on_signal(uv_signal_t *h, int signum) {
  uv_signal_t *both = h->data;
  (void)signum;
  uv_close((uv_handle_t *)&both[0], NULL);
  uv_close((uv_handle_t *)&both[1], NULL);
}

/* Parses the flags into *o: 0, 1 (--help) or a negative code. */
static int parse(int argc, char **argv, dp_log_server_opts_t *o) {
  long port = o->port, max_frame = (long)o->max_frame, max_message = (long)o->max_message;
  long max_clients = (long)o->max_clients, max_buffered = (long)o->max_buffered, threads = 0;
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "host")) {
      rc = dp_args_value(&a);
      o->host = a.value;
    } else if (dp_args_is(&a, "logfile")) {
      rc = dp_args_value(&a);
      o->logfile = a.value;
    } else if (dp_args_is(&a, "port")) {
      rc = dp_args_long(&a, 0, 65535, &port);
    } else if (dp_args_is(&a, "max-frame")) {
      rc = dp_args_long(&a, 1, LONG_MAX, &max_frame);
    } else if (dp_args_is(&a, "max-message")) {
      rc = dp_args_long(&a, DP_LOG_SERVER_MESSAGE_MIN, LONG_MAX, &max_message);
    } else if (dp_args_is(&a, "max-clients")) {
      rc = dp_args_long(&a, 1, DP_LOG_SERVER_CLIENTS_MAX, &max_clients);
    } else if (dp_args_is(&a, "max-buffered")) {
      rc = dp_args_long(&a, 1, LONG_MAX, &max_buffered);
    } else if (dp_args_is(&a, "frame-timeout")) {
      rc = dp_args_double(&a, &o->frame_timeout_s); /* its range: dp_log_server_start() */
    } else if (dp_args_is(&a, "threads")) {
      rc = dp_args_long(&a, 1, DP_LOG_SERVER_THREADS_MAX, &threads);
    } else if (dp_args_is(&a, "quiet")) {
      o->console = false;
    } else if (dp_args_is(&a, "help") || dp_args_is(&a, "h")) {
      return 1;
    } else {
      rc = dp_args_unknown(&a);
    }
    if (rc < 0) return rc;
  }
  if (rc < 0) return rc;
  o->port = (int)port;
  o->max_frame = (size_t)max_frame;
  o->max_message = (size_t)max_message;
  o->max_clients = (size_t)max_clients;
  o->max_buffered = (size_t)max_buffered;
  o->threads = (unsigned)threads;
  return 0;
}

/* A bad flag: why, and the usage; exit status 2. */
static int bad_flag(void) {
  fprintf(stderr, "dp-logserver: %s\n", dp_error_detail());
  usage(stderr);
  return 2;
}

int main(int argc, char **argv) {
  dp_log_server_opts_t opts;
  dp_log_server_opts_init(&opts);
  int rc = parse(argc, argv, &opts);
  if (rc == 1) {
    usage(stdout);
    return 0;
  }
  if (rc < 0) return bad_flag();
  /* the signals are caught before the port opens: whoever sees it open may
   * send one at once */
  uv_loop_t *loop = uv_default_loop();
  uv_signal_t sig[2];
  for (int i = 0; i < 2; i++) {
    uv_signal_init(loop, &sig[i]);
    sig[i].data = sig;
    uv_signal_start(&sig[i], on_signal, i == 0 ? SIGINT : SIGTERM);
  }
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a console that went away must not end the server */
#endif
  dp_log_server_t *srv;
  rc = dp_log_server_start(&srv, &opts);
  if (rc == DP_EINVAL) return bad_flag(); /* --frame-timeout out of range */
  if (rc < 0) {
    fprintf(stderr, "dp-logserver: %s\n", dp_error_detail());
    return 1;
  }
  printf("dp-logserver listening on %s:%d, writing to %s\n", opts.host, dp_log_server_port(srv),
         opts.logfile);
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);

  rc = dp_log_server_stop(srv);
  if (rc < 0) fprintf(stderr, "dp-logserver: %s\n", dp_error_detail());
  dp_log_server_free(srv);
  return rc < 0 ? 1 : 0;
}
