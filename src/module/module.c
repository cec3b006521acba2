/* module.c - dp_module_main(): a module's command line (fire-style flags),
 * logging set-up, signal handling and the server's lifetime, so that every C
 * module starts and ends the way the control room expects (see module.h). */
#include "server/server_internal.h"

#include "common/error_internal.h"
#include "dareplane/args.h"
#include "dareplane/module.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generic flags every module has; their values are kept in values[]
 * after the module's own. */
enum {
  G_IP,
  G_PORT,
  G_LOGLEVEL,
  G_NAME,
  G_ERROR_REPLIES,
  G_LIST_BUILTINS,
  G_MAX_CLIENTS,
  G_SILENT_TIMEOUT,
  G_IDLE_TIMEOUT,
  G_COUNT
};
static const dp_module_flag_t generic[G_COUNT] = {
    {"ip", "127.0.0.1", "address to listen on"},
    {"port", NULL, "TCP port to listen on (default 8080)"},
    {"loglevel", NULL, "log level, number or name (default: DP_LOG_LEVEL or WARNING)"},
    {"name", NULL, "name sent in the greeting"},
    {"error_replies", "False", "reply \"ERROR <text>\\n\" to bad input (interactive use)"},
    {"list_builtins", "False", "GET_PCOMMS also lists GET_PCOMMS|UP (dareplane_utils 0.0.24)"},
    {"max_clients", NULL, "most clients at once (default 512; the oldest silent one gives way)"},
    {"silent_timeout", NULL,
     "close a client that sends no command this many seconds after "
     "connecting (default 60; 0: never)"},
    {"idle_timeout", NULL,
     "close a client after this many seconds without a command "
     "(default 0: never)"},
};

struct dp_module {
  const dp_module_def_t *def;
  size_t n_own;
  const char **values; /* n_own + G_COUNT; NULL: not given */
  int port;
  const char *name;
  /* the server options given as flags (else the server's defaults) */
  long max_clients;
  double silent_timeout_s, idle_timeout_s;
  bool have[G_COUNT];
};

static const dp_module_flag_t *flag_at(const dp_module_t *m, size_t i) {
  return i < m->n_own ? &m->def->flags[i] : &generic[i - m->n_own];
}

static long find_flag(const dp_module_t *m, const char *key, size_t len) {
  for (size_t i = 0; i < m->n_own + G_COUNT; i++)
    if (dp_args_key_equal(key, len, flag_at(m, i)->key)) return (long)i;
  return -1;
}

const char *dp_module_get(const dp_module_t *mod, const char *key) {
  long i = find_flag(mod, key, strlen(key));
  if (i < 0) return NULL;
  return mod->values[i] != NULL ? mod->values[i] : flag_at(mod, (size_t)i)->def;
}

const char *dp_module_name(const dp_module_t *mod) {
  return mod->name;
}

int dp_module_port(const dp_module_t *mod) {
  return mod->port;
}

static bool truthy(const char *v) {
  return v != NULL && (strcmp(v, "True") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
                       strcmp(v, "yes") == 0);
}

static void usage(const dp_module_t *m, const char *prog, dp_server_t *srv, FILE *out) {
  const dp_module_def_t *def = m->def;
  fprintf(out, "usage: %s [--ip=ADDR] [--port=N] [--loglevel=LEVEL] [--name=NAME]", prog);
  for (size_t i = 0; i < m->n_own; i++) fprintf(out, " [--%s=VALUE]", def->flags[i].key);
  fprintf(out, "\n%s%s", def->summary != NULL ? def->summary : "",
          def->summary != NULL ? "\n" : "");
  fprintf(out, "\noptions (--key=value or --key value; '-' and '_' are the same):\n");
  for (size_t i = 0; i < m->n_own + G_COUNT; i++) {
    const dp_module_flag_t *f = flag_at(m, i);
    fprintf(out, "  --%-20s %s", f->key, f->help != NULL ? f->help : "");
    if (f->def != NULL) fprintf(out, " (default: %s)", f->def);
    fputc('\n', out);
  }
  fprintf(out, "  --%-20s %s\n", "help", "show this text");
  if (srv != NULL) {
    fprintf(out, "\ncommands (send PCOMM or PCOMM|{json kwargs}, ended by ';' or newline):\n");
    for (size_t i = 0; i < dp_server_count(srv); i++)
      fprintf(out, "  %-22s %s\n", dp_server_command_name(srv, i), dp_server_command_help(srv, i));
    fprintf(out, "  %-22s %s\n", "STOP", "stop every worker the commands started");
    fprintf(out, "  %-22s %s\n", "CLOSE", "stop everything and end the module");
    fprintf(out, "  %-22s %s\n", "GET_PCOMMS", "list the commands");
    fprintf(out, "  %-22s %s\n", "UP", "reply 1 (liveness)");
  }
}

/* Parses argv into m->values (fire-style: a bare flag is "True") and the
 * port into m->port. Returns 0, 1 for --help, or -1 (message printed) for a
 * usage error. */
static int parse(dp_module_t *m, int argc, char **argv) {
  dp_args_t a;
  int rc;
  long port = m->def->default_port != 0 ? m->def->default_port : 8080;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "help") || dp_args_is(&a, "h")) return 1;
    long idx = find_flag(m, a.key, a.key_len);
    if (idx < 0) {
      rc = dp_args_unknown(&a);
      break;
    }
    const char *v = dp_args_optional(&a);
    m->values[idx] = v != NULL ? v : "True";
    long g = idx - (long)m->n_own;
    if (g >= 0) m->have[g] = true;
    if (g == G_PORT)
      rc = dp_args_long(&a, 0, 65535, &port);
    else if (g == G_MAX_CLIENTS)
      rc = dp_args_long(&a, 1, 1000000, &m->max_clients);
    else if (g == G_SILENT_TIMEOUT)
      rc = dp_args_double(&a, &m->silent_timeout_s);
    else if (g == G_IDLE_TIMEOUT)
      rc = dp_args_double(&a, &m->idle_timeout_s);
    if (rc < 0) break;
  }
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", argv[0], dp_error_detail());
    return -1;
  }
  m->port = (int)port;
  return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
  dp_server_t *srv = h->data;
  dp_log_info(srv->log, "received signal %d: shutting down", signum);
  dp_server_close(srv);
}

/* Graceful shutdown: Ctrl-C, kill's default, and on Windows Ctrl-Break
 * (libuv delivers Windows' console events as these signals). */
#ifdef SIGBREAK
#define N_SIGNALS 3
static const int shutdown_signals[N_SIGNALS] = {SIGINT, SIGTERM, SIGBREAK};
#else
#define N_SIGNALS 2
static const int shutdown_signals[N_SIGNALS] = {SIGINT, SIGTERM};
#endif

static int serve(dp_module_t *m, dp_server_t *srv) {
  uv_signal_t sigs[N_SIGNALS];
  for (int i = 0; i < N_SIGNALS; i++) {
    uv_signal_init(&srv->loop, &sigs[i]);
    sigs[i].data = srv;
    uv_signal_start(&sigs[i], on_signal, shutdown_signals[i]);
    uv_unref((uv_handle_t *)&sigs[i]); /* the server's own handles decide when to end */
  }
  if (dp_server_listen(srv) != 0) {
    dp_log_critical(dp_log_get(m->name), "%s", dp_error_detail());
    return 1;
  }
  dp_server_run(srv);
  for (int i = 0; i < N_SIGNALS; i++) uv_close((uv_handle_t *)&sigs[i], NULL);
  uv_run(&srv->loop, UV_RUN_NOWAIT);
  return 0;
}

int dp_module_main(const dp_module_def_t *def, int argc, char **argv) {
  dp_module_t m = {.def = def};
  while (def->flags != NULL && def->flags[m.n_own].key != NULL) m.n_own++;
  m.values = calloc(m.n_own + G_COUNT, sizeof *m.values);
  if (m.values == NULL) return 1;
  const char *prog = argc > 0 ? argv[0] : "module";
  int status = 1, rc = parse(&m, argc, argv);
  bool help = rc == 1;
  dp_server_t *srv = NULL;
  if (rc < 0) {
    usage(&m, prog, NULL, stderr);
    status = 2;
    goto out;
  }
  if (dp_log_configure_level(m.values[m.n_own + G_LOGLEVEL]) != 0) {
    fprintf(stderr, "%s: --loglevel must be a number or a level name\n", prog);
    status = 2;
    goto out;
  }
  dp_log_set_console(true);
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a client that vanishes is an error return, not death */
#endif
  m.name = dp_module_get(&m, "name");
  if (m.name == NULL) m.name = def->name != NULL ? def->name : "default_server";

  dp_server_opts_t opts;
  dp_server_opts_init(&opts);
  opts.name = m.name;
  opts.ip = dp_module_get(&m, "ip");
  opts.port = m.port;
  opts.error_replies = truthy(dp_module_get(&m, "error_replies"));
  opts.list_builtins = truthy(dp_module_get(&m, "list_builtins"));
  if (m.have[G_MAX_CLIENTS]) opts.max_clients = (size_t)m.max_clients;
  if (m.have[G_SILENT_TIMEOUT]) opts.silent_timeout_s = m.silent_timeout_s;
  if (m.have[G_IDLE_TIMEOUT]) opts.idle_timeout_s = m.idle_timeout_s;
  srv = dp_server_new(&opts);
  if (srv == NULL) {
    fprintf(stderr, "%s: %s\n", prog, dp_error_detail());
    goto out;
  }
  if (def->setup != NULL && def->setup(srv, &m, def->user) < 0) {
    dp_log_critical(dp_log_get(m.name), "module set-up failed: %s", dp_error_detail());
    goto out;
  }
  if (help) {
    usage(&m, prog, srv, stdout);
    status = 0;
    goto out;
  }
  status = serve(&m, srv);
out:
  dp_server_free(srv);
  free(m.values);
  return status;
}
