/* example_logging.c - how a module logs: a named logger, the level from
 * --loglevel or DP_LOG_LEVEL, the console switched on, and every record also
 * sent to the central log server (dp-logserver or the Python one) at
 * DP_LOG_HOST:DP_LOG_PORT (default 127.0.0.1:9020).
 *
 *   example-logging                      log a few records and exit
 *   example-logging --count 1000         log "record 0" .. "record 999"
 *   some-program | example-logging --stdin
 *                                        log each input line (INFO); a line
 *                                        "!flush" waits until everything is
 *                                        sent, "!retry" reconnects now
 *   options: --name NAME (logger, default example.logging), --loglevel L,
 *            --queue N (queue bound: N records, N KiB), --quiet (no console)
 *
 * The log call never waits for the network. At exit the library waits up to
 * 1 s for queued records to go out; after --count or --stdin this example
 * waits up to 30 s itself (dp_log_shutdown). */
#include <dareplane/dareplane.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *arg_value(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return NULL;
  if (argv[*i][n] == '=') return argv[*i] + n + 1;
  if (argv[*i][n] == '\0' && *i + 1 < argc && argv[*i + 1] != NULL) return argv[++*i];
  return NULL;
}

/* Logs each line of stdin; "!flush" and "!retry" are commands, answered on
 * stdout so a script can follow. */
static void log_stdin(dp_logger_t *log) {
  char line[4096];
  while (fgets(line, sizeof line, stdin) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, "!flush") == 0) {
      int rc = dp_log_flush(5000);
      printf("flush %s\n", rc == 0 ? "ok" : dp_strerror(rc));
      fflush(stdout);
    } else if (strcmp(line, "!retry") == 0) {
      dp_log_retry_now();
    } else {
      dp_log_info(log, "%s", line);
    }
  }
}

int main(int argc, char **argv) {
  const char *name = "example.logging", *level = NULL, *v;
  long count = -1, queue = 0;
  int use_stdin = 0, quiet = 0;
  for (int i = 1; i < argc; i++) {
    if ((v = arg_value(argc, argv, &i, "--name")) != NULL)
      name = v;
    else if ((v = arg_value(argc, argv, &i, "--loglevel")) != NULL)
      level = v;
    else if ((v = arg_value(argc, argv, &i, "--count")) != NULL)
      count = strtol(v, NULL, 10);
    else if ((v = arg_value(argc, argv, &i, "--queue")) != NULL)
      queue = strtol(v, NULL, 10);
    else if (strcmp(argv[i], "--stdin") == 0)
      use_stdin = 1;
    else if (strcmp(argv[i], "--quiet") == 0)
      quiet = 1;
    else {
      fprintf(stderr, "unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  dp_log_set_default_level(DP_LOG_INFO); /* this example's default */
  if (dp_log_configure_level(level) < 0) {
    fprintf(stderr, "bad --loglevel / DP_LOG_LEVEL\n");
    return 2;
  }
  if (queue > 0) dp_log_set_queue_limits((size_t)queue, (size_t)queue * 1024);
  dp_log_set_console(!quiet);
  dp_logger_t *log = dp_log_get(name);

  if (use_stdin) {
    log_stdin(log);
  } else if (count >= 0) {
    for (long i = 0; i < count; i++) dp_log_info(log, "record %ld", i);
  } else {
    dp_log_debug(log, "shown with --loglevel DEBUG only");
    dp_log_info(log, "module %s started", name);
    dp_log_warning(log, "a warning with a number: %.3f", 2.5);
    dp_log_error(log, "an error, e.g. a stream that went away");
    return 0; /* the library's exit handler sends what is queued (up to 1 s) */
  }
  dp_log_shutdown(30000); /* many records, maybe a busy server: up to 30 s */
  return 0;
}
