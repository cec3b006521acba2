/* dp-send - send commands to a Dareplane module and print its replies; the
 * module author's replacement for telnet.
 *
 *   dp-send [--host 127.0.0.1] [--port 8080] [--timeout S] [--max-reply B] [--quiet-ms MS]
 *           CMD [CMD ...]
 *   dp-send [--host ...] [--port ...] --interactive
 *
 * Each CMD is sent (with ';' added) and whatever the module replies within
 * the timeout is printed on its own line. --interactive is a console with
 * line editing and history on a terminal (replies and callbacks appear as
 * they arrive); when stdin is not a terminal it reads plain lines. */
#include "dp-send/lineedit.h"
#include <dareplane/args.h>
#include <dareplane/client.h>

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* --max-reply: 1 TiB, or what a long holds (2 GiB on Windows) */
#define MAX_REPLY_CAP (LONG_MAX / 1024 > (1L << 30) ? (1L << 30) * 1024 : LONG_MAX)

typedef struct {
  dp_client_t *client;
  dp_lineedit_t *editor;
  uv_loop_t *loop;
} console_t;

static void usage(FILE *f) {
  fprintf(f, "usage: dp-send [--host HOST] [--port PORT] [--timeout SECONDS] [--attempts N]\n"
             "               [--max-reply BYTES] [--quiet-ms MS] (CMD [CMD ...] | --interactive)\n"
             "Sends each CMD (e.g. UP, GET_PCOMMS, 'ECHO|{\"text\": \"hi\"}') to a Dareplane\n"
             "module and prints each reply. --interactive opens a console.\n"
             "defaults: --host 127.0.0.1 --port 8080 --timeout 1 --attempts 1\n"
             "          --max-reply 16777216 (bytes a reply may hold)\n"
             "          --quiet-ms 5 (a pause this long ends a reply)\n");
}

static void print_reply(const char *reply, size_t len) {
  fwrite(reply, 1, len, stdout);
  if (len == 0 || reply[len - 1] != '\n') fputc('\n', stdout);
  fflush(stdout);
}

static int run_commands(dp_client_t *c, char **cmds, int n, double timeout) {
  for (int i = 0; i < n; i++) {
    char *reply;
    size_t len;
    int rc = dp_client_request(c, cmds[i], &reply, &len, timeout);
    if (rc == 0)
      print_reply(reply, len);
    else if (rc == DP_ETIMEDOUT) /* no reply, or one that did not end */
      fprintf(stderr, "dp-send: %s: %s\n", cmds[i], dp_error_detail());
    else if (rc == DP_ECLOSED && strncmp(cmds[i], "CLOSE", 5) == 0)
      return 0; /* as asked */
    else {
      fprintf(stderr, "dp-send: %s\n", dp_error_detail());
      return 1;
    }
    free(reply);
  }
  return 0;
}

/* The longest input line: the module server's default command limit. */
enum { MAX_LINE = 65536 };

/* stdin is not a terminal: one command per line (at most MAX_LINE bytes). */
static int run_lines(dp_client_t *c, double timeout) {
  char *line = malloc(MAX_LINE + 2);
  if (line == NULL) return -1;
  int status = 0;
  while (status == 0 && fgets(line, MAX_LINE + 2, stdin) != NULL) {
    size_t n = strlen(line);
    if (n > MAX_LINE && line[n - 1] != '\n') {
      fprintf(stderr, "dp-send: an input line is longer than %d bytes\n", MAX_LINE);
      status = -1;
      break;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n > 0) status = run_commands(c, &line, 1, timeout);
  }
  free(line);
  return status;
}

static void quit(console_t *con) {
  if (con->editor != NULL) dp_lineedit_stop(con->editor);
  con->editor = NULL;
  dp_client_on_data(con->client, NULL, NULL);
  uv_stop(con->loop);
}

static void on_line(const char *line, void *user) {
  console_t *con = user;
  if (line == NULL) {
    quit(con);
    return;
  }
  if (line[0] == '\0') return;
  size_t n = strlen(line);
  bool terminated = line[n - 1] == ';';
  if (dp_client_queue(con->client, line, n) < 0 ||
      (!terminated && dp_client_queue(con->client, ";", 1) < 0)) {
    dp_lineedit_print(con->editor, "(connection closed)", 19);
    quit(con);
  }
}

static void on_data(const char *data, size_t len, void *user) {
  console_t *con = user;
  if (data == NULL) {
    dp_lineedit_print(con->editor, "(the module closed the connection)", 34);
    quit(con);
    return;
  }
  dp_lineedit_print(con->editor, data, len);
}

static int run_console(dp_client_t *c, int port) {
  console_t con = {.client = c, .loop = dp_client_loop(c)};
  char prompt[64];
  snprintf(prompt, sizeof prompt, "dp:%d> ", port);
  con.editor = dp_lineedit_start(con.loop, prompt, on_line, &con);
  if (con.editor == NULL) return -1;
  dp_client_on_data(c, on_data, &con);
  uv_run(con.loop, UV_RUN_DEFAULT);
  return 0;
}

int main(int argc, char **argv) {
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a closed module is an error message, not death */
#endif
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.attempts = 1;
  double timeout = 1.0;
  long port = o.port, attempts = 1, max_reply = (long)o.max_reply_bytes, quiet = o.quiet_ms;
  bool interactive = false;
  const char *bad = NULL; /* dp-send's own complaint about a flag */
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, true);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "help") || dp_args_is(&a, "h")) {
      usage(stdout);
      return 0;
    } else if (dp_args_is(&a, "interactive") || dp_args_is(&a, "i")) {
      interactive = true;
    } else if (dp_args_is(&a, "host")) {
      rc = dp_args_value(&a);
      o.host = a.value;
    } else if (dp_args_is(&a, "port")) {
      rc = dp_args_long(&a, 1, 65535, &port);
    } else if (dp_args_is(&a, "timeout")) {
      rc = dp_args_double(&a, &timeout);
      if (rc == 0 && !(timeout > 0)) {
        bad = "--timeout must be > 0";
        rc = DP_ERANGE;
      }
    } else if (dp_args_is(&a, "attempts")) {
      rc = dp_args_long(&a, 1, 1000, &attempts);
    } else if (dp_args_is(&a, "max-reply")) {
      rc = dp_args_long(&a, 1, MAX_REPLY_CAP, &max_reply);
    } else if (dp_args_is(&a, "quiet-ms")) {
      rc = dp_args_long(&a, 1, 60000, &quiet);
    } else {
      rc = dp_args_unknown(&a);
    }
    if (rc < 0) break;
  }
  if (rc < 0) fprintf(stderr, "dp-send: %s\n", bad != NULL ? bad : dp_error_detail());
  if (rc < 0 || (!interactive && rc != DP_ARGS_POSITIONAL)) {
    usage(stderr);
    return 2;
  }
  o.port = (int)port;
  o.attempts = (int)attempts;
  o.max_reply_bytes = (size_t)max_reply;
  o.quiet_ms = (int)quiet;
  int first_cmd = a.index; /* argc when there are no commands */
  dp_client_t *c = dp_client_connect(&o);
  if (c == NULL) {
    fprintf(stderr, "dp-send: %s\n", dp_error_detail());
    return 1;
  }
  int status = run_commands(c, argv + first_cmd, argc - first_cmd, timeout);
  if (status == 0 && interactive) {
    fprintf(stderr, "%s\n", dp_client_greeting(c));
    if (run_console(c, o.port) < 0) status = run_lines(c, timeout);
  }
  dp_client_close(c);
  return status;
}
