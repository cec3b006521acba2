/* launcher.c - starting a module's executable, connecting to it and stopping
 * its whole process tree (dareplane/launcher.h), on every platform.
 *
 * The process side is the process-tree layer (proc_tree/proc_tree.h), the
 * same one the module server's process workers use: on Linux a supervisor
 * that is a child subreaper, on Windows a Job Object the program is created
 * in, suspended. Whatever the program starts, at any depth and in any session
 * or group, belongs to the tree, and the tree ends with this process in any
 * case. Only what "ask it to end" means differs (DP_PROC_TREE_ASKS_FIRST:
 * SIGTERM on Linux; Windows has no request a program must honour, so there
 * the tree is terminated); this file holds the rest.
 *
 * Each launcher has a private libuv loop that owns the tree, so the
 * program's exit is noticed whenever the loop runs: while waiting for the
 * port, between commands (dp_launcher_poll) and while stopping. Waits are a
 * 10 to 20 ms timer on that loop, which also wakes at once when the tree
 * reports. The connection itself is a dp_client_t (client.h, public API
 * only). */
#include "dareplane/launcher.h"

#include "common/error_internal.h"
#include "dareplane/log.h"
#include "proc_tree/proc_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PORT_RETRY_MS   20 /* between connection attempts while the port is closed */
#define STOP_TICK_MS    10 /* between checks while a tree ends */
#define KILL_WAIT_S     5.0
#define DEFAULT_START_S 10.0
#define DEFAULT_REPLY_S 1.0
#define DEFAULT_GRACE_S 2.0
#define MAX_ARGS        256

/* What stopping does after CLOSE, in words for the log. */
#if DP_PROC_TREE_ASKS_FIRST
#define ASK_WORDS  "SIGTERM to"
#define KILL_WORDS "SIGKILL"
#else
#define ASK_WORDS  "terminating"
#define KILL_WORDS "TerminateJobObject"
#endif

struct dp_launcher {
  char *name;
  uv_loop_t loop;
  uv_timer_t timer;
  dp_proc_tree_t *tree; /* NULL before start and once the tree is gone */
  bool exited;          /* the program ended */
  bool rest_left;       /* ... leaving processes that the tree is ending */
  int status;           /* exit code, or -signal */
  int pid;              /* the program's; 0 for connect-only */
  dp_client_t *client;
  char **pcomms;
  size_t npcomms;
  double close_grace_s, term_grace_s;
  bool stopped;
  int stop_rc, stage;
  dp_logger_t *log;
};

void dp_launcher_opts_init(dp_launcher_opts_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->name = "module";
  opts->host = "127.0.0.1";
  opts->start_timeout_s = DEFAULT_START_S;
  opts->reply_timeout_s = DEFAULT_REPLY_S;
  opts->close_grace_s = DEFAULT_GRACE_S;
  opts->term_grace_s = DEFAULT_GRACE_S;
}

int dp_launcher_free_port(void) {
  uv_loop_t loop;
  uv_tcp_t t;
  struct sockaddr_in a, b;
  int len = sizeof b;
  int rc = uv_loop_init(&loop);
  if (rc != 0) return dp_error_set(DP_ESYS, "no free port: %s", uv_strerror(rc));
  uv_ip4_addr("127.0.0.1", 0, &a);
  rc = uv_tcp_init(&loop, &t);
  if (rc == 0) {
    rc = uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    if (rc == 0) rc = uv_tcp_getsockname(&t, (struct sockaddr *)&b, &len);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
  if (rc != 0) return dp_error_set(DP_ESYS, "no free port on 127.0.0.1: %s", uv_strerror(rc));
  return ntohs(b.sin_port);
}

static double now_s(void) {
  return (double)uv_hrtime() / 1e9;
}

static void tree_exited(void *user, int status, int sig, bool rest_left) {
  dp_launcher_t *l = user;
  l->exited = true;
  l->rest_left = rest_left;
  l->status = sig != 0 ? -sig : status;
}

static void tree_killed(void *user, int n) {
  dp_launcher_t *l = user;
  l->stage = 3;
  dp_log_warning(l->log, "process tree of %s (pid %d) outlived SIGTERM by %.1f s: SIGKILL to %d",
                 l->name, l->pid, l->term_grace_s, n);
}

static void tree_gone(void *user) {
  dp_launcher_t *l = user;
  l->tree = NULL;
}

static void on_timer(uv_timer_t *t) {
  (void)t;
}

/* Runs the loop for at most `ms` milliseconds (less when the tree reports). */
static void wait_ms(dp_launcher_t *l, unsigned ms) {
  uv_update_time(&l->loop); /* else the timer is due at once after a while without the loop */
  uv_timer_start(&l->timer, on_timer, ms, 0);
  uv_run(&l->loop, UV_RUN_ONCE);
  uv_timer_stop(&l->timer);
}

/* "exited with status 3" / "was ended by signal 9" */
static const char *how_it_ended(const dp_launcher_t *l, char *buf, size_t size) {
  if (l->status >= 0)
    snprintf(buf, size, "exited with status %d", l->status);
  else
    snprintf(buf, size, "was ended by signal %d", -l->status);
  return buf;
}

static int gone_error(dp_launcher_t *l, const char *when) {
  char how[96];
  return dp_error_set(DP_ECLOSED, "module %s (pid %d) %s%s", l->name, l->pid,
                      how_it_ended(l, how, sizeof how), when);
}

int dp_launcher_poll(dp_launcher_t *l, int *status) {
  if (l == NULL) return dp_error_set(DP_EINVAL, "NULL launcher");
  if (l->pid == 0) return dp_error_set(DP_ESTATE, "module %s was not launched", l->name);
  uv_run(&l->loop, UV_RUN_NOWAIT);
  if (l->exited && status != NULL) *status = l->status;
  return l->exited ? 0 : 1;
}

/* Runs the loop until the whole tree is gone; false at the deadline. */
static bool wait_gone(dp_launcher_t *l, double seconds) {
  double deadline = now_s() + seconds;
  uv_run(&l->loop, UV_RUN_NOWAIT);
  while (l->tree != NULL && now_s() < deadline) wait_ms(l, STOP_TICK_MS);
  return l->tree == NULL;
}

static int spawn(dp_launcher_t *l, const dp_launcher_opts_t *o) {
  static const dp_proc_tree_events_t events = {tree_exited, tree_killed, tree_gone};
  const char *argv[MAX_ARGS + 2];
  size_t n = 0;
  argv[n++] = o->path;
  for (size_t i = 0; o->args != NULL && o->args[i] != NULL; i++) {
    if (n > MAX_ARGS) return dp_error_set(DP_EINVAL, "more than %d arguments", MAX_ARGS);
    argv[n++] = o->args[i];
  }
  argv[n] = NULL;
  dp_proc_tree_spec_t spec = {
      .argv = argv,
      .cwd = o->cwd,
      .env = o->env,
      .grace_s = o->term_grace_s,
      .quiet = o->quiet,
      .events = &events,
      .user = l,
  };
  int rc = dp_proc_tree_start(&l->loop, &spec, &l->tree, &l->pid);
  if (rc < 0) return rc; /* the detail names the path */
  dp_log_info(l->log, "started %s: %s (pid %d)", l->name, o->path, l->pid);
  return 0;
}

static void on_connect(uv_connect_t *req, int status) {
  *(int *)req->data = status;
}

/* One plain TCP connection attempt on our loop (for a port that is not a
 * module's: nothing is read). Returns 0 when it was accepted, DP_ECONN or
 * DP_ETIMEDOUT otherwise. */
static int port_accepts(dp_launcher_t *l, const char *host, int port) {
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  uv_getaddrinfo_t gai;
  int rc = uv_getaddrinfo(&l->loop, &gai, NULL, host, service, &hints);
  if (rc != 0) return dp_error_set(DP_ECONN, "cannot resolve %s: %s", host, uv_strerror(rc));
  uv_tcp_t tcp;
  uv_connect_t req;
  int status = 1;
  req.data = &status;
  uv_tcp_init(&l->loop, &tcp);
  rc = uv_tcp_connect(&req, &tcp, gai.addrinfo->ai_addr, on_connect);
  uv_freeaddrinfo(gai.addrinfo);
  double deadline = now_s() + 1.0;
  while (rc == 0 && status == 1 && now_s() < deadline) wait_ms(l, STOP_TICK_MS);
  uv_close((uv_handle_t *)&tcp, NULL); /* cancels a pending connect */
  while (rc == 0 && status == 1) uv_run(&l->loop, UV_RUN_ONCE);
  uv_run(&l->loop, UV_RUN_NOWAIT);
  if (rc == 0) rc = status;
  if (rc == 0) return 0;
  return dp_error_set(rc == 1 ? DP_ETIMEDOUT : DP_ECONN, "cannot connect to %s:%d: %s", host, port,
                      uv_strerror(rc));
}

/* Connects once the port is open: a refused connection is tried again every
 * PORT_RETRY_MS until the deadline, unless the process has ended. */
static int connect_when_open(dp_launcher_t *l, const dp_launcher_opts_t *o) {
  double deadline = now_s() + o->start_timeout_s;
  dp_client_opts_t co;
  dp_client_opts_init(&co);
  co.host = o->host;
  co.port = o->port;
  co.attempts = 1;
  for (;;) {
    if (l->pid != 0 && dp_launcher_poll(l, NULL) == 0)
      return gone_error(l, " before its port opened");
    double left = deadline - now_s();
    co.timeout_s = left < o->reply_timeout_s ? (left > 0.01 ? left : 0.01) : o->reply_timeout_s;
    int err = 0;
    if (o->plain_port) {
      if ((err = port_accepts(l, o->host, o->port)) == 0) return 0;
    } else {
      if ((l->client = dp_client_connect(&co)) != NULL) return 0;
      err = dp_error_last();
    }
    if (err != DP_ECONN && err != DP_ETIMEDOUT) return err;
    if (now_s() >= deadline)
      return dp_error_set(DP_ETIMEDOUT, "module %s: port %s:%d did not open within %.1f s", l->name,
                          o->host, o->port, o->start_timeout_s);
    if (l->pid != 0)
      wait_ms(l, PORT_RETRY_MS);
    else
      uv_sleep(PORT_RETRY_MS);
  }
}

static int handshake(dp_launcher_t *l, const dp_launcher_opts_t *o) {
  if (dp_client_greeting(l->client)[0] == '\0')
    return dp_error_set(DP_ETIMEDOUT, "module %s: no greeting within %.1f s", l->name,
                        o->reply_timeout_s);
  int rc = dp_client_get_pcomms(l->client, &l->pcomms, &l->npcomms, o->reply_timeout_s);
  if (rc < 0) {
    l->pcomms = NULL;
    l->npcomms = 0;
    return dp_error_set(rc, "module %s: no GET_PCOMMS reply within %.1f s (%s)", l->name,
                        o->reply_timeout_s, dp_strerror(rc));
  }
  rc = dp_client_up(l->client, o->reply_timeout_s);
  if (rc != 1)
    return dp_error_set(rc < 0 ? rc : DP_ETIMEDOUT, "module %s: UP not answered by 1 within %.1f s",
                        l->name, o->reply_timeout_s);
  return 0;
}

static int check_opts(const dp_launcher_opts_t *o) {
  if (o == NULL) return dp_error_set(DP_EINVAL, "NULL options");
  if (o->port < 0 || o->port > 65535 || (o->port == 0 && o->path == NULL))
    return dp_error_set(DP_EINVAL, "port must be 1..65535 (0 only with a path), got %d", o->port);
  if (!(o->start_timeout_s > 0) || !(o->reply_timeout_s > 0) || !(o->close_grace_s >= 0) ||
      !(o->term_grace_s >= 0))
    return dp_error_set(DP_EINVAL, "timeouts must be > 0 and graces >= 0");
  if (o->path != NULL && o->path[0] == '\0') return dp_error_set(DP_EINVAL, "empty path");
  return 0;
}

int dp_launcher_start(dp_launcher_t **out, const dp_launcher_opts_t *opts) {
  if (out == NULL) return dp_error_set(DP_EINVAL, "NULL out");
  *out = NULL;
  int rc = check_opts(opts);
  if (rc < 0) return rc;
  dp_launcher_t *l = calloc(1, sizeof *l);
  if (l == NULL) return dp_error_set(DP_ENOMEM, "no memory for a launcher");
  l->name = strdup(opts->name != NULL ? opts->name : "module");
  if (l->name == NULL || uv_loop_init(&l->loop) != 0) {
    free(l->name);
    free(l);
    return dp_error_set(DP_ENOMEM, "no memory for a launcher");
  }
  uv_timer_init(&l->loop, &l->timer);
  l->close_grace_s = opts->close_grace_s;
  l->term_grace_s = opts->term_grace_s;
  l->log = dp_log_get("dareplane.launcher");
  dp_launcher_opts_t o = *opts;
  if (o.host == NULL) o.host = "127.0.0.1";
  rc = o.path != NULL ? spawn(l, &o) : 0;
  if (rc == 0 && o.port != 0) rc = connect_when_open(l, &o);
  if (rc == 0 && o.port != 0 && !o.plain_port) rc = handshake(l, &o);
  if (rc < 0) {
    /* keep the reason: stopping may set its own detail */
    char why[512];
    snprintf(why, sizeof why, "%s", dp_error_detail());
    dp_log_error(l->log, "%s", why);
    dp_launcher_free(l);
    return dp_error_set(rc, "%s", why);
  }
  *out = l;
  return 0;
}

dp_client_t *dp_launcher_client(dp_launcher_t *l) {
  return l != NULL ? l->client : NULL;
}

size_t dp_launcher_pcomm_count(const dp_launcher_t *l) {
  return l != NULL ? l->npcomms : 0;
}

const char *dp_launcher_pcomm(const dp_launcher_t *l, size_t i) {
  return l != NULL && i < l->npcomms ? l->pcomms[i] : NULL;
}

bool dp_launcher_has_pcomm(const dp_launcher_t *l, const char *name) {
  for (size_t i = 0; l != NULL && name != NULL && i < l->npcomms; i++)
    if (strcmp(l->pcomms[i], name) == 0) return true;
  return false;
}

int dp_launcher_pid(const dp_launcher_t *l) {
  return l != NULL ? l->pid : 0;
}

/* DP_ECLOSED when the module is stopped or its process has ended. */
static int check_running(dp_launcher_t *l) {
  if (l == NULL) return dp_error_set(DP_EINVAL, "NULL launcher");
  if (l->stopped) return dp_error_set(DP_ECLOSED, "module %s was stopped", l->name);
  if (l->client == NULL) return dp_error_set(DP_ESTATE, "%s is not a connected module", l->name);
  if (l->pid != 0 && dp_launcher_poll(l, NULL) == 0) return gone_error(l, "");
  return 0;
}

int dp_launcher_request(dp_launcher_t *l, const char *cmd, char **reply, size_t *len,
                        double timeout_s) {
  int rc = check_running(l);
  return rc < 0 ? rc : dp_client_request(l->client, cmd, reply, len, timeout_s);
}

int dp_launcher_send(dp_launcher_t *l, const char *cmd) {
  int rc = check_running(l);
  return rc < 0 ? rc : dp_client_send(l->client, cmd);
}

int dp_launcher_stop_stage(const dp_launcher_t *l) {
  return l != NULL ? l->stage : 0;
}

int dp_launcher_stop(dp_launcher_t *l) {
  if (l == NULL) return dp_error_set(DP_EINVAL, "NULL launcher");
  if (l->stopped) return l->stop_rc;
  l->stopped = true;
  l->stage = 1;
  if (l->client != NULL) (void)dp_client_send(l->client, "CLOSE");
  if (l->client != NULL && l->tree != NULL) {
    double deadline = now_s() + l->close_grace_s;
    while (l->tree != NULL && !l->exited && now_s() < deadline) wait_ms(l, STOP_TICK_MS);
  }
  dp_client_close(l->client);
  l->client = NULL;
  if (l->pid == 0) return l->stop_rc = 0;
  /* A program that ended alone leaves a tree that ends by itself; one that
   * still runs, or left processes behind, is ended. */
  uv_run(&l->loop, UV_RUN_NOWAIT);
  if (l->tree != NULL && (!l->exited || l->rest_left)) {
    l->stage = DP_PROC_TREE_ASKS_FIRST ? 2 : 3;
    dp_log_info(l->log, ASK_WORDS " the process tree of %s (pid %d)", l->name, l->pid);
    dp_proc_tree_stop(l->tree);
  }
  if (!wait_gone(l, l->term_grace_s + KILL_WAIT_S)) {
    dp_log_error(l->log,
                 "process tree of %s (pid %d) still there %.1f s after " KILL_WORDS
                 ": killing it again",
                 l->name, l->pid, KILL_WAIT_S);
    dp_proc_tree_kill(l->tree);
    if (!wait_gone(l, KILL_WAIT_S))
      return l->stop_rc = dp_error_set(
                 DP_ETIMEDOUT, "process tree of %s (pid %d) survived " KILL_WORDS, l->name, l->pid);
  }
  char how[96];
  dp_log_info(l->log, "%s (pid %d) %s; its process tree is gone", l->name, l->pid,
              how_it_ended(l, how, sizeof how));
  return l->stop_rc = 0;
}

void dp_launcher_free(dp_launcher_t *l) {
  if (l == NULL) return;
  if (l->pid != 0 || l->client != NULL) (void)dp_launcher_stop(l);
  uv_close((uv_handle_t *)&l->timer, NULL);
  uv_run(&l->loop, UV_RUN_DEFAULT); /* returns once a tree that survived stop is gone */
  uv_loop_close(&l->loop);
  dp_client_free_list(l->pcomms, l->npcomms);
  free(l->name);
  free(l);
}
