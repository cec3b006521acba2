/* conn_limits.c - the bounds on what the module server's peers can make it
 * hold or do, so that a control room stays served whatever other clients do:
 *
 * - Connections: at most max_clients (lowered to fit the process's descriptor
 *   limit). A client that connects at the limit is admitted and another
 *   gives way: the oldest that has not sent one valid command yet; else the
 *   longest idle (since its last valid command) of those that have sent
 *   only UP and GET_PCOMMS; when every client has sent a command that acts
 *   (STOP, a registered one), the newcomer is refused. Cheap connections
 *   that polled UP once cannot keep a control room out; a control room that
 *   has sent a command is never the one that gives way, and one that has only
 *   polled gives way only if every other such client polled more recently.
 * - Idle policy: a client that sends no valid command within
 *   silent_timeout_s of connecting is closed; one that has sent some is
 *   closed after idle_timeout_s without a valid command (0: never, the
 *   default: a control room may be quiet for hours and does not reconnect).
 * - Output: replies a client does not read are queued up to
 *   max_output_per_client, and all clients' together up to max_output_total;
 *   past either, the client with the most bytes queued is disconnected.
 * - Log lines caused by one client's input (received commands, unknown or
 *   invalid ones, failures): at most log_lines_per_s a second; the rest are
 *   counted and summed up in one line per client and second.
 * Every decision is logged with its reason (with a budget of its own). */
#include "server/server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef _WIN32
#include <sys/resource.h>
#endif

#define WINDOW_MS 1000
/* Descriptors left for everything else (log socket, workers, files). */
#define FD_RESERVE ((size_t)64)

static int slot(int level) {
  return level >= DP_LOG_ERROR ? 2 : level >= DP_LOG_WARNING ? 1 : 0;
}

bool dp_rate_allow(dp_rate_t *r, uint64_t now_ms, unsigned limit, int level) {
  if (limit == 0) return true;
  if (now_ms < r->window_ms || now_ms - r->window_ms >= WINDOW_MS) {
    r->window_ms = now_ms;
    r->used = 0;
  }
  if (r->used < limit) {
    r->used++;
    return true;
  }
  r->suppressed[slot(level)]++;
  return false;
}

uint64_t dp_rate_take(dp_rate_t *r, char *out, size_t size) {
  static const char *const names[3] = {"INFO", "WARNING", "ERROR"};
  uint64_t total = 0;
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < 3; i++) {
    if (r->suppressed[i] == 0) continue;
    int w = snprintf(out + n, size - n, "%s%llu %s", total > 0 ? ", " : "",
                     (unsigned long long)r->suppressed[i], names[i]);
    if (w > 0 && (size_t)w < size - n) n += (size_t)w;
    total += r->suppressed[i];
    r->suppressed[i] = 0;
  }
  return total;
}

bool dp_conn_log_allowed(dp_conn_t *c, int level) {
  dp_server_t *srv = c->srv;
  return dp_logger_enabled(srv->log, level) &&
         dp_rate_allow(&c->log_rate, uv_now(&srv->loop), srv->opts.log_lines_per_s, level);
}

void dp_conn_log(dp_conn_t *c, int level, const char *fmt, ...) {
  if (!dp_conn_log_allowed(c, level)) return;
  va_list ap;
  va_start(ap, fmt);
  dp_log_vwrite(c->srv->log, level, __FILE__, __LINE__, __func__, fmt, ap);
  va_end(ap);
}

void dp_limits_log(dp_server_t *srv, int level, const char *fmt, ...) {
  if (!dp_logger_enabled(srv->log, level) ||
      !dp_rate_allow(&srv->log_rate, uv_now(&srv->loop), srv->opts.log_lines_per_s, level))
    return;
  va_list ap;
  va_start(ap, fmt);
  dp_log_vwrite(srv->log, level, __FILE__, __LINE__, __func__, fmt, ap);
  va_end(ap);
}

void dp_limits_init(dp_server_t *srv) {
  srv->max_clients = srv->opts.max_clients;
#ifndef _WIN32
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  size_t fds = (size_t)rl.rlim_cur;
  size_t room = fds > 2 * FD_RESERVE ? fds - FD_RESERVE : fds / 2;
  if (room >= srv->max_clients) return;
  dp_log_warning(srv->log,
                 "connection limit lowered from %zu to %zu to fit the limit of %zu open files",
                 srv->max_clients, room, fds);
  srv->max_clients = room;
#endif
}

static double age_s(const dp_conn_t *c) {
  return (double)(uv_now(&c->srv->loop) - c->active_ms) / 1000.0;
}

/* The client that gives way to a newcomer (c): the oldest that has sent no
 * valid command, else the longest idle of those that only polled; NULL when
 * every other client has acted. */
static dp_conn_t *give_way(dp_server_t *srv, const dp_conn_t *c) {
  dp_conn_t *idlest = NULL;
  for (dp_conn_t *o = srv->conns; o != NULL; o = o->next) {
    if (o == c || o->acted) continue;
    if (!o->proven) return o; /* the list is in order of arrival */
    if (idlest == NULL || o->active_ms < idlest->active_ms) idlest = o;
  }
  return idlest;
}

bool dp_limits_admit(dp_server_t *srv, dp_conn_t *c) {
  if (srv->n_conns <= srv->max_clients) return true;
  dp_conn_t *o = give_way(srv, c);
  if (o != NULL) {
    dp_limits_log(srv, DP_LOG_WARNING,
                  "%zu clients connected (the limit): closing client %llu, which has sent %s "
                  "for %.1f s, to admit client %llu",
                  srv->max_clients, (unsigned long long)o->id,
                  o->proven ? "only UP and GET_PCOMMS, and none" : "no command since it connected",
                  age_s(o), (unsigned long long)c->id);
    dp_conn_close(o);
    return true;
  }
  dp_limits_log(srv, DP_LOG_ERROR,
                "%zu clients connected (the limit) and each has sent a command that acts: "
                "refusing client %llu",
                srv->max_clients, (unsigned long long)c->id);
  dp_conn_close(c);
  return false;
}

bool dp_limits_make_room(dp_conn_t *c, size_t n) {
  dp_server_t *srv = c->srv;
  if (c->queued + n > srv->opts.max_output_per_client) {
    dp_limits_log(srv, DP_LOG_ERROR,
                  "client %llu reads none of its replies (%zu bytes queued, limit %zu); "
                  "disconnecting it",
                  (unsigned long long)c->id, c->queued, srv->opts.max_output_per_client);
    dp_conn_close(c);
    return false;
  }
  while (srv->queued_total + n > srv->opts.max_output_total) {
    dp_conn_t *big = c;
    for (dp_conn_t *o = srv->conns; o != NULL; o = o->next)
      if (o->queued > big->queued) big = o;
    dp_limits_log(srv, DP_LOG_ERROR,
                  "%zu bytes queued for all clients (limit %zu): disconnecting client %llu, "
                  "which reads none of its replies (%zu bytes queued)",
                  srv->queued_total, srv->opts.max_output_total, (unsigned long long)big->id,
                  big->queued);
    dp_conn_close(big);
    if (big == c) return false;
  }
  return true;
}

static void summarise(dp_server_t *srv, dp_rate_t *r, const dp_conn_t *c) {
  char counts[96];
  uint64_t n = dp_rate_take(r, counts, sizeof counts);
  if (n == 0) return;
  if (c != NULL)
    dp_log_warning(srv->log,
                   "client %llu: %llu more log lines about its input suppressed (%s; at most "
                   "%u a second are logged per client)",
                   (unsigned long long)c->id, (unsigned long long)n, counts,
                   srv->opts.log_lines_per_s);
  else
    dp_log_warning(srv->log, "%llu more log lines about client limits suppressed (%s)",
                   (unsigned long long)n, counts);
}

void dp_limits_conn_closing(dp_conn_t *c) {
  summarise(c->srv, &c->log_rate, c);
}

static uint64_t ms(double s) {
  return (uint64_t)(s * 1000.0);
}

static void sweep_cb(uv_timer_t *t) {
  dp_server_t *srv = t->data;
  uint64_t now = uv_now(&srv->loop);
  for (dp_conn_t *c = srv->conns, *next; c != NULL; c = next) {
    next = c->next; /* closing c unlinks it */
    uint64_t limit = ms(c->proven ? srv->opts.idle_timeout_s : srv->opts.silent_timeout_s);
    if (limit > 0 && now - c->active_ms >= limit) {
      dp_limits_log(srv, DP_LOG_INFO, "closing client %llu: no command for %.1f s%s",
                    (unsigned long long)c->id, age_s(c), c->proven ? "" : " since it connected");
      dp_conn_close(c);
    } else {
      summarise(srv, &c->log_rate, c);
    }
  }
  summarise(srv, &srv->log_rate, NULL);
  if (srv->conns == NULL) uv_timer_stop(t);
}

void dp_limits_start_sweep(dp_server_t *srv) {
  if (uv_is_active((uv_handle_t *)&srv->sweep) || srv->closing) return;
  /* Once a second, or often enough for short timeouts (tests). */
  uint64_t every = 1000;
  double timeouts[2] = {srv->opts.silent_timeout_s, srv->opts.idle_timeout_s};
  for (int i = 0; i < 2; i++)
    if (timeouts[i] > 0 && ms(timeouts[i]) / 4 < every) every = ms(timeouts[i]) / 4;
  if (every < 10) every = 10;
  uv_timer_start(&srv->sweep, sweep_cb, every, every);
}
