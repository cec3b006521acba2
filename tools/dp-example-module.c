/* dp-example-module - a small Dareplane module that shows the server API:
 * a command that replies, a thread worker, a process worker with a child and
 * a grandchild, and a callback. The control room launches it as an "exe"
 * module; the tests and `make demo` drive it.
 *
 *   ECHO|{"text": "hi"}                 replies the text (after --echo_prefix)
 *   COUNT|{"to": 10, "hz": 5}           thread worker: logs a count until done or STOP
 *   SPAWN|{"seconds": 30}               process worker: sh -> subshell -> sleep
 *         {"ignore_term": true}         ... with SIGTERM ignored by the whole tree
 *         {"detach": true}              ... and one more sleep that left for a
 *                                       session of its own (setsid), orphaned
 *                                       (Windows has no sh: this program
 *                                       --spawn-tree S -> --spawn-sleep S, both
 *                                       detached processes; no SIGTERM there)
 *   CALLBACK|{"target": "m", "pcomm": "START", "payload": "{}"}
 *                                       sends "m|START|{}" to every client */
#include <dareplane/log.h>
#include <dareplane/module.h>
#include <dareplane/server.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static dp_logger_t *lg;
static char self[1024]; /* this program, for the Windows SPAWN tree */

static int echo(dp_request_t *req, void *user) {
  const char *prefix = user; /* the module flag --echo_prefix */
  return dp_request_replyf(req, "%s%s", prefix, dp_request_string(req, "text", ""));
}

typedef struct {
  int64_t to;
  double hz;
} count_args_t;

static void count_worker(dp_stop_t *stop, void *arg) {
  const count_args_t *a = arg;
  int64_t i = 1;
  for (; i <= a->to; i++) {
    dp_log_info(lg, "count %" PRId64 "/%" PRId64, i, a->to);
    if (i < a->to && dp_stop_wait(stop, 1.0 / a->hz)) break;
  }
  if (i > a->to)
    dp_log_info(lg, "count done at %" PRId64, a->to);
  else
    dp_log_info(lg, "count stopped at %" PRId64, i);
}

static int count(dp_request_t *req, void *user) {
  (void)user;
  count_args_t *a = malloc(sizeof *a);
  if (a == NULL) return DP_ENOMEM;
  a->to = dp_request_int(req, "to", 10);
  a->hz = dp_request_double(req, "hz", 10.0);
  if (a->to < 1 || !(a->hz > 0)) {
    free(a);
    dp_log_error(lg, "COUNT needs to >= 1 and hz > 0");
    return DP_EINVAL;
  }
  return dp_request_start_thread(req, count_worker, a, free);
}

static int spawn(dp_request_t *req, void *user) {
  (void)user;
  double seconds = dp_request_double(req, "seconds", 30.0);
  bool ignore_term = dp_request_bool(req, "ignore_term", false);
  bool detach = dp_request_bool(req, "detach", false);
  if (!(seconds >= 0 && seconds < 1e6)) seconds = 0;
  char script[200], detached[80] = "";
  /* detach: a subshell starts `setsid sleep` (a new session, out of the
   * worker's process group) and exits at once, orphaning it */
  if (detach) snprintf(detached, sizeof detached, "(setsid sleep %.3f &); ", seconds);
  /* the leader shell forks a subshell (child) that runs sleep (grandchild) */
  snprintf(script, sizeof script, "%s%s(sleep %.3f; true) & wait",
           ignore_term ? "trap '' TERM; " : "", detached, seconds);
#ifdef _WIN32
  (void)script;
  char secs[32];
  snprintf(secs, sizeof secs, "%.3f", seconds);
  const char *argv[] = {self, "--spawn-tree", secs, detach ? "detach" : "stay", NULL};
#else
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
#endif
  int pid = 0;
  int rc = dp_request_start_process(req, argv, NULL, NULL, &pid);
  if (rc == 0) dp_log_info(lg, "SPAWN started process %d", pid);
  return rc;
}

static int callback(dp_request_t *req, void *user) {
  (void)user;
  return dp_server_callback(dp_request_server(req), dp_request_string(req, "target", ""),
                            dp_request_string(req, "pcomm", ""),
                            dp_request_string(req, "payload", ""));
}

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  lg = dp_log_get(dp_module_name(mod));
  int rc = dp_server_add(srv, "ECHO", echo, (void *)dp_module_get(mod, "echo_prefix"),
                         "reply {\"text\": ...}");
  if (rc == 0)
    rc = dp_server_add(srv, "COUNT", count, NULL, "log a count {\"to\": N, \"hz\": F} in a thread");
  if (rc == 0)
    rc = dp_server_add(srv, "SPAWN", spawn, NULL,
                       "start sh -> subshell -> sleep {\"seconds\": S, \"ignore_term\": B, "
                       "\"detach\": B}");
  if (rc == 0)
    rc = dp_server_add(srv, "CALLBACK", callback, NULL,
                       "send {\"target\", \"pcomm\", \"payload\"} as a callback");
  return rc;
}

/* --spawn-sleep S: sleeps S seconds. --spawn-tree S detach|stay: starts
 * --spawn-sleep S (and one more it does not wait for, with detach) and
 * waits for it. Both are detached processes (own group, no console), which
 * on Windows does not take them out of the worker's Job Object. */
static int spawn_mode(int argc, char **argv) {
  double seconds = argc > 2 ? strtod(argv[2], NULL) : 0;
  if (strcmp(argv[1], "--spawn-sleep") == 0) {
    uv_sleep((unsigned)(seconds * 1000.0));
    return 0;
  }
  char *sleep_argv[] = {self, "--spawn-sleep", argc > 2 ? argv[2] : "0", NULL};
  uv_process_options_t o = {.file = self, .args = sleep_argv, .flags = UV_PROCESS_DETACHED};
  uv_process_t child, orphan;
  if (argc > 3 && strcmp(argv[3], "detach") == 0 && uv_spawn(uv_default_loop(), &orphan, &o) == 0)
    uv_unref((uv_handle_t *)&orphan);
  if (uv_spawn(uv_default_loop(), &child, &o) != 0) return 1;
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT) == 0 ? 0 : 1; /* until the child ends */
}

int main(int argc, char **argv) {
  size_t size = sizeof self;
  if (uv_exepath(self, &size) != 0) self[0] = '\0';
  if (argc > 1 && strncmp(argv[1], "--spawn-", 8) == 0) return spawn_mode(argc, argv);
  static const dp_module_flag_t flags[] = {
      {"echo_prefix", "", "text put before every ECHO reply"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def = {
      .name = "dp-example-module",
      .flags = flags,
      .summary = "A Dareplane module in C that shows the libdareplane server API.",
      .setup = setup,
  };
  return dp_module_main(&def, argc, argv);
}
