/* example_control_room.c - `make demo`: a tiny control room in C. It starts
 * the log server (dp-logserver) and dp-example-module the way the Dareplane
 * control room does (own process group, --port flags, the module's records
 * sent to the log server), then drives the module through every command with
 * the client library, printing each command and reply while the log server
 * prints the module's log records, and finally closes everything and exits 0.
 *
 * Ports are picked free on 127.0.0.1 (never the real 9020). When
 * dp-logserver is not next to this program, the module logs to the console
 * instead. Any failure ends the demo with status 1. */
#include <dareplane/dareplane.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

typedef struct {
  uv_process_t proc;
  const char *name;
  bool running;
} child_t;

static char bin_dir[1024];

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  child_t *c = p->data;
  c->running = false;
  printf("   [%s exited: status %lld, signal %d]\n", c->name, (long long)status, sig);
  uv_close((uv_handle_t *)p, NULL);
}

/* A port nothing listens on right now. */
static int start(child_t *c, const char *name, char **args, char **env, bool show_stderr) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", bin_dir, name);
  args[0] = path;
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = UV_INHERIT_FD, .data.fd = 1},
      {.flags = show_stderr ? UV_INHERIT_FD : UV_IGNORE, .data.fd = 2}};
  uv_process_options_t o = {.exit_cb = on_exit_cb,
                            .file = path,
                            .args = args,
                            .env = env,
                            .flags = UV_PROCESS_DETACHED,
                            .stdio_count = 3,
                            .stdio = stdio};
  c->name = name;
  c->proc.data = c;
  int rc = uv_spawn(uv_default_loop(), &c->proc, &o);
  if (rc != 0) {
    fprintf(stderr, "demo: cannot start %s: %s\n", path, uv_strerror(rc));
    uv_close((uv_handle_t *)&c->proc, NULL);
    return -1;
  }
  c->running = true;
  return 0;
}

static void timeout_cb(uv_timer_t *t) {
  *(bool *)t->data = true;
}

/* Runs the default loop until the child ended or `seconds` passed. */
static bool wait_exit(child_t *c, double seconds) {
  bool timed_out = false;
  uv_timer_t t;
  uv_timer_init(uv_default_loop(), &t);
  t.data = &timed_out;
  uv_timer_start(&t, timeout_cb, (uint64_t)(seconds * 1000), 0);
  while (c->running && !timed_out) uv_run(uv_default_loop(), UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(uv_default_loop(), UV_RUN_NOWAIT);
  return !c->running;
}

/* One control-room step: send, print the reply (or that there was none). */
static int step(dp_client_t *cl, const char *cmd, double wait_s) {
  printf("control room > %s\n", cmd);
  fflush(stdout);
  char *reply;
  size_t len;
  int rc = dp_client_request(cl, cmd, &reply, &len, wait_s);
  if (rc == 0)
    printf("      module < %s\n", reply);
  else if (rc == DP_ETIMEDOUT)
    printf("      module   (no reply within %.1f s, as expected)\n", wait_s);
  else if (rc == DP_ECLOSED && strcmp(cmd, "CLOSE") == 0)
    printf("      module   (closed)\n");
  else {
    fprintf(stderr, "demo: %s: %s\n", cmd, dp_error_detail());
    return -1;
  }
  fflush(stdout);
  free(reply);
  return 0;
}

static int drive(int port) {
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.port = port;
  o.attempts = 50;
  o.retry_delay_s = 0.1;
  dp_client_t *cl = dp_client_connect(&o);
  if (cl == NULL) {
    fprintf(stderr, "demo: %s\n", dp_error_detail());
    return -1;
  }
  printf("      module < %s\n", dp_client_greeting(cl));
  char **names;
  size_t n;
  int rc = dp_client_get_pcomms(cl, &names, &n, 2.0);
  if (rc == 0) {
    printf("control room > GET_PCOMMS\n      module < %zu commands:", n);
    for (size_t i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    dp_client_free_list(names, n);
  }
  printf("control room > UP\n      module < %s\n", dp_client_up(cl, 2.0) == 1 ? "1 (up)" : "down");
  const char *steps[] = {
      "ECHO|{\"text\": \"hello from the control room\"}",
      "COUNT|{\"to\": 5, \"hz\": 10}",
      "SPAWN|{\"seconds\": 30}",
      "CALLBACK|{\"target\": \"other_module\", \"pcomm\": \"START\", \"payload\": \"{}\"}",
      "STOP",
      "UP",
      "CLOSE",
  };
  for (size_t i = 0; rc == 0 && i < sizeof steps / sizeof steps[0]; i++)
    rc = step(cl, steps[i], strncmp(steps[i], "COUNT", 5) == 0 ? 0.8 : 0.5);
  dp_client_close(cl);
  return rc;
}

/* How many lines of the log file came from the module's loggers. */
static int count_module_records(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f) != NULL)
    n += strstr(line, " - dareplane.server - ") != NULL ||
         strstr(line, " - dp-example-module - ") != NULL;
  fclose(f);
  return n;
}

int main(void) {
  size_t size = sizeof bin_dir;
  if (uv_exepath(bin_dir, &size) != 0) return 1;
  char *slash = strrchr(bin_dir, '/');
  if (slash != NULL) *slash = '\0';

  char logserver_path[1200];
  snprintf(logserver_path, sizeof logserver_path, "%s/dp-logserver", bin_dir);
  uv_fs_t req;
  bool have_logserver = uv_fs_access(NULL, &req, logserver_path, X_OK, NULL) == 0;
  uv_fs_req_cleanup(&req);

  int log_port = dp_launcher_free_port(), module_port = dp_launcher_free_port();
  if (log_port < 0 || module_port < 0 || log_port == module_port) {
    fprintf(stderr, "demo: no free ports on 127.0.0.1\n");
    return 1;
  }
  char lp[16], mp[32], logfile[1100];
  snprintf(lp, sizeof lp, "%d", log_port);
  snprintf(mp, sizeof mp, "--port=%d", module_port);
  snprintf(logfile, sizeof logfile, "%s/demo_socket.log", bin_dir);

  /* the module's environment: ours plus where the log server is */
  size_t n_env = 0;
  while (environ[n_env] != NULL) n_env++;
  char **env = calloc(n_env + 3, sizeof *env);
  char host_var[] = "DP_LOG_HOST=127.0.0.1", port_var[32];
  snprintf(port_var, sizeof port_var, "DP_LOG_PORT=%d", log_port);
  size_t k = 0;
  for (size_t i = 0; i < n_env; i++)
    if (strncmp(environ[i], "DP_LOG_HOST=", 12) != 0 &&
        strncmp(environ[i], "DP_LOG_PORT=", 12) != 0)
      env[k++] = environ[i];
  env[k++] = host_var;
  env[k++] = port_var;

  child_t logserver = {0}, module = {0};
  int status = 1;
  printf("== libdareplane demo: a control room in C drives dp-example-module ==\n");
  if (have_logserver) {
    char *args[] = {NULL, "--host", "127.0.0.1", "--port", lp, "--logfile", logfile, NULL};
    printf("starting dp-logserver on 127.0.0.1:%d (log file %s)\n"
           "(the timestamped lines are the module's records as dp-logserver prints them)\n",
           log_port, logfile);
    fflush(stdout);
    remove(logfile); /* dp-logserver appends: start the demo's file afresh */
    if (start(&logserver, "dp-logserver", args, NULL, true) != 0) goto out;
    dp_client_opts_t o; /* wait until it listens */
    dp_client_opts_init(&o);
    o.port = log_port;
    o.attempts = 50;
    o.retry_delay_s = 0.1;
    o.timeout_s = 0.01;
    dp_client_close(dp_client_connect(&o));
  } else {
    printf("(dp-logserver not built: the module logs to its console instead)\n");
  }
  char *margs[] = {NULL, mp, "--loglevel=INFO", NULL};
  printf("starting dp-example-module on 127.0.0.1:%d\n", module_port);
  fflush(stdout);
  if (start(&module, "dp-example-module", margs, env, !have_logserver) != 0) goto out;

  if (drive(module_port) == 0 && wait_exit(&module, 10.0))
    status = 0;
  else
    fprintf(stderr, "demo: the module did not end after CLOSE\n");

out:
  if (module.running) {
    uv_process_kill(&module.proc, SIGKILL);
    wait_exit(&module, 5.0);
  }
  if (logserver.running) {
    uv_process_kill(&logserver.proc, SIGTERM);
    if (!wait_exit(&logserver, 5.0)) {
      uv_process_kill(&logserver.proc, SIGKILL);
      wait_exit(&logserver, 5.0);
    }
  }
  if (status == 0 && have_logserver) {
    int n = count_module_records(logfile);
    printf("%d records of the module reached dp-logserver and its log file\n", n);
    if (n == 0) status = 1;
  }
  free(env);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  uv_loop_close(uv_default_loop());
  printf("== demo %s ==\n", status == 0 ? "done" : "FAILED");
  return status;
}
