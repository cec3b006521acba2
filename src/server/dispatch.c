/* dispatch.c - what a command does: the table of registered handlers, the
 * built-in commands (UP, GET_PCOMMS, STOP, CLOSE), running a handler, and
 * how bad commands are logged and (optionally) answered. It gets one framed
 * command at a time from framing.c through the connection (server.c). */
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const builtin_names[] = {"STOP", "CLOSE", "GET_PCOMMS", "UP"};

static bool valid_name(const char *name) {
  if (name == NULL || name[0] == '\0') return false;
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
    if (*p <= ' ' || *p == 0x7F || *p == 0xC2 || *p == '|' || *p == ';') return false;
  return true;
}

static bool is_builtin(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
    if (strlen(builtin_names[i]) == len && memcmp(builtin_names[i], name, len) == 0) return true;
  return false;
}

/* `name` is `len` bytes and may hold anything, a NUL included: only an equal
 * length and equal bytes match. */
static dp_handler_t *find_handler(const dp_server_t *srv, const char *name, size_t len) {
  for (size_t i = 0; i < srv->n_handlers; i++)
    if (srv->handlers[i].name_len == len && memcmp(srv->handlers[i].name, name, len) == 0)
      return &srv->handlers[i];
  return NULL;
}

int dp_server_add(dp_server_t *srv, const char *name, dp_handler_fn fn, void *user,
                  const char *help) {
  if (srv == NULL || fn == NULL || !valid_name(name))
    return dp_error_set(DP_EINVAL, "a command name must be non-empty printable ASCII without "
                                   "'|', ';' or blanks, and a handler is needed");
  size_t len = strlen(name);
  if (is_builtin(name, len)) return dp_error_set(DP_EINVAL, "%s is a built-in command", name);
  if (find_handler(srv, name, len) != NULL)
    return dp_error_set(DP_EEXIST, "command %s is already registered", name);
  dp_handler_t *h = realloc(srv->handlers, (srv->n_handlers + 1) * sizeof *h);
  if (h == NULL) return dp_error_set(DP_ENOMEM, "no memory for a handler");
  srv->handlers = h;
  h = &srv->handlers[srv->n_handlers];
  h->name = strdup(name);
  h->name_len = len;
  h->help = strdup(help != NULL ? help : "");
  if (h->name == NULL || h->help == NULL) {
    free(h->name);
    free(h->help);
    return dp_error_set(DP_ENOMEM, "no memory for a handler");
  }
  h->fn = fn;
  h->user = user;
  srv->n_handlers++;
  return 0;
}

size_t dp_server_count(const dp_server_t *srv) {
  return srv->n_handlers;
}

const char *dp_server_command_name(const dp_server_t *srv, size_t i) {
  return i < srv->n_handlers ? srv->handlers[i].name : NULL;
}

const char *dp_server_command_help(const dp_server_t *srv, size_t i) {
  return i < srv->n_handlers ? srv->handlers[i].help : NULL;
}

static void error_reply(dp_conn_t *c, const char *fmt, ...) DP_PRINTF(2, 3);
static void error_reply(dp_conn_t *c, const char *fmt, ...) {
  if (!c->srv->opts.error_replies) return;
  char text[1024];
  int n = snprintf(text, sizeof text, "ERROR ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(text + n, sizeof text - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if ((size_t)n > sizeof text - 2) n = (int)sizeof text - 2;
  text[n++] = '\n';
  dp_conn_send(c, text, (size_t)n);
}

static void reply_pcomms(dp_conn_t *c) {
  dp_server_t *srv = c->srv;
  size_t size = 64;
  for (size_t i = 0; i < srv->n_handlers; i++) size += srv->handlers[i].name_len + 1;
  char *text = malloc(size);
  if (text == NULL) return;
  size_t n = 0;
  for (size_t i = 0; i < srv->n_handlers; i++) {
    memcpy(text + n, srv->handlers[i].name, srv->handlers[i].name_len);
    n += srv->handlers[i].name_len;
    text[n++] = '|';
  }
  n += (size_t)snprintf(text + n, size - n, "STOP|CLOSE%s",
                        srv->opts.list_builtins ? "|GET_PCOMMS|UP" : "");
  dp_conn_send(c, text, n);
  free(text);
}

static void run_handler(dp_conn_t *c, const dp_handler_t *h, const dp_command_t *cmd,
                        const char *msg, size_t len) {
  /* The handler may register handlers (the table moves): keep what we need. */
  dp_handler_fn fn = h->fn;
  void *user = h->user;
  dp_request_t req = {.srv = c->srv, .conn = c, .cmd = cmd};
  dp_error_set(DP_OK, NULL);
  int rc = fn(&req, user);
  dp_request_release(&req);
  if (rc < 0) {
    const char *detail = dp_error_last() == rc ? dp_error_detail() : dp_strerror(rc);
    char shown[256];
    if (dp_conn_log_allowed(c, DP_LOG_ERROR))
      dp_log_error(c->srv->log, "command %s failed: %s (%s)",
                   dp_command_escape(msg, len, shown, sizeof shown), detail, dp_err_name(rc));
    error_reply(c, "%s failed: %s", cmd->name, detail);
  }
}

/* A valid command keeps its client from being taken for an idle one; one
 * that acts (not UP or GET_PCOMMS) keeps it from giving way to a newcomer. */
static void mark_active(dp_conn_t *c, bool acts) {
  c->proven = true;
  c->acted = c->acted || acts;
  c->active_ms = uv_now(&c->srv->loop);
}

bool dp_dispatch(void *conn, const char *msg, size_t len) {
  dp_conn_t *c = conn;
  dp_server_t *srv = c->srv;
  dp_command_t cmd;
  char shown[256];
  int rc = dp_command_parse(msg, len, &cmd);
  if (rc == DP_EEMPTY) return true;
  bool is_up = rc == 0 && cmd.bare && strcmp(cmd.name, "UP") == 0;
  if (!is_up && dp_conn_log_allowed(c, DP_LOG_INFO))
    dp_log_info(srv->log, "Received: %s", dp_command_escape(msg, len, shown, sizeof shown));
  if (rc < 0) {
    if (dp_conn_log_allowed(c, DP_LOG_ERROR))
      dp_log_error(srv->log, "ignoring command %s: %s",
                   dp_command_escape(msg, len, shown, sizeof shown), dp_error_detail());
    error_reply(c, "%s", dp_error_detail());
    return !srv->closing && !c->closing;
  }
  const dp_handler_t *h = NULL;
  if (is_up) {
    mark_active(c, false);
    dp_conn_send(c, "1", 1);
  } else if (strcmp(cmd.name, "GET_PCOMMS") == 0) {
    mark_active(c, false);
    reply_pcomms(c);
  } else if (cmd.bare && strcmp(cmd.name, "STOP") == 0) {
    mark_active(c, true);
    dp_server_stop_workers(srv);
  } else if (cmd.bare && strcmp(cmd.name, "CLOSE") == 0) {
    dp_server_begin_shutdown(srv);
  } else if (!is_builtin(cmd.name, strlen(cmd.name)) &&
             (h = find_handler(srv, cmd.name, strlen(cmd.name))) != NULL) {
    mark_active(c, true);
    run_handler(c, h, &cmd, msg, len);
  } else {
    bool logged = dp_conn_log_allowed(c, DP_LOG_WARNING);
    if (logged || srv->opts.error_replies) {
      dp_command_escape(msg, len, shown, sizeof shown);
      if (logged) dp_log_warning(srv->log, "Unknown pcomm in %s", shown);
      error_reply(c, "unknown command %s", shown);
    }
  }
  dp_command_clear(&cmd);
  return !srv->closing && !c->closing;
}
