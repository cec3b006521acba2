/* workers.c - the book of the workers that commands start (Python's threads
 * and processes tables), and how STOP and shutdown end them.
 *
 * Thread workers get a stop signal and are joined once they return; one that
 * does not return within join_timeout_s of STOP is reported (and joined
 * whenever it does return). Process workers lead their own process group:
 * STOP sends SIGTERM to the group and SIGKILL after stop_grace_s, and the
 * entry leaves the book only when no process of the group is left. Because a
 * group member whose parent died is re-parented, the server makes itself a
 * child subreaper on Linux (there is no libuv equivalent) and reaps such
 * orphans of its groups itself, so neither orphans nor zombies remain even
 * when PID 1 does not reap. Everything here runs on the loop thread except
 * the thread workers' bodies. */
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <sys/types.h>
#include <sys/wait.h>
#endif
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define TICK_MS               10
#define GIVE_UP_AFTER_KILL_MS 3000

struct dp_stop {
  uv_mutex_t mu;
  uv_cond_t cv;
  bool set;
  void (*on_signal)(void *ctx); /* dp_stop_on_signal(): e.g. wakes an event loop */
  void *on_signal_ctx;
};

struct dp_worker {
  dp_worker_t *prev, *next;
  dp_server_t *srv;
  char label[96];
  bool is_process;
  bool stopping;
  uint64_t stop_at; /* loop time (ms) when STOP reached this worker */
  /* thread workers */
  uv_thread_t thread;
  dp_stop_t stop;
  atomic_bool ended;
  bool reported; /* did not end within join_timeout_s */
  dp_worker_fn fn;
  void *arg;
  void (*free_arg)(void *);
  /* process workers */
  uv_process_t proc;
  int pid;
  bool exited, killed;
  uint64_t kill_at;
};

bool dp_stop_requested(dp_stop_t *stop) {
  uv_mutex_lock(&stop->mu);
  bool set = stop->set;
  uv_mutex_unlock(&stop->mu);
  return set;
}

bool dp_stop_wait(dp_stop_t *stop, double seconds) {
  uint64_t deadline = uv_hrtime() + (uint64_t)(seconds > 0 ? seconds * 1e9 : 0);
  uv_mutex_lock(&stop->mu);
  while (!stop->set) {
    uint64_t now = uv_hrtime();
    if (now >= deadline) break;
    uv_cond_timedwait(&stop->cv, &stop->mu, deadline - now);
  }
  bool set = stop->set;
  uv_mutex_unlock(&stop->mu);
  return set;
}

void dp_stop_on_signal(dp_stop_t *stop, void (*fn)(void *ctx), void *ctx) {
  uv_mutex_lock(&stop->mu);
  stop->on_signal = fn;
  stop->on_signal_ctx = ctx;
  if (stop->set && fn != NULL) fn(ctx);
  uv_mutex_unlock(&stop->mu);
}

static void signal_stop(dp_stop_t *stop) {
  uv_mutex_lock(&stop->mu);
  stop->set = true;
  uv_cond_broadcast(&stop->cv);
  if (stop->on_signal != NULL) stop->on_signal(stop->on_signal_ctx);
  uv_mutex_unlock(&stop->mu);
}

/* ---- the book ------------------------------------------------------------- */

static dp_worker_t *new_worker(dp_request_t *req, bool is_process) {
  dp_server_t *srv = req->srv;
  if (srv == NULL || srv->closing) {
    dp_error_set(DP_ESTATE, "the server is shutting down; no new workers");
    return NULL;
  }
  dp_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL) {
    dp_error_set(DP_ENOMEM, "no memory for a worker");
    return NULL;
  }
  w->srv = srv;
  w->is_process = is_process;
  snprintf(w->label, sizeof w->label, "%s#%llu", req->cmd->name,
           (unsigned long long)srv->next_worker_id++);
  return w;
}

static void link_worker(dp_worker_t *w) {
  dp_server_t *srv = w->srv;
  w->next = srv->workers;
  if (srv->workers != NULL) srv->workers->prev = w;
  srv->workers = w;
}

static void unlink_worker(dp_worker_t *w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    w->srv->workers = w->next;
  if (w->next != NULL) w->next->prev = w->prev;
}

static void free_thread_worker(dp_worker_t *w) {
  uv_cond_destroy(&w->stop.cv);
  uv_mutex_destroy(&w->stop.mu);
  free(w);
}

static void process_closed(uv_handle_t *h) {
  free(h->data);
}

static void remove_process(dp_worker_t *w) {
  unlink_worker(w);
  uv_close((uv_handle_t *)&w->proc, process_closed);
  dp_server_check_finish(w->srv);
}

size_t dp_server_worker_count(const dp_server_t *srv) {
  size_t n = 0;
  for (const dp_worker_t *w = srv->workers; w != NULL; w = w->next) n++;
  return n;
}

bool dp_workers_idle(const dp_server_t *srv) {
  for (const dp_worker_t *w = srv->workers; w != NULL; w = w->next)
    if (w->is_process || !w->reported || atomic_load(&w->ended)) return false;
  return true;
}

static void tick(uv_timer_t *t);

static void ensure_ticking(dp_server_t *srv) {
  if (!atomic_load(&srv->finished) && !uv_is_active((uv_handle_t *)&srv->reaper))
    uv_timer_start(&srv->reaper, tick, TICK_MS, TICK_MS);
}

/* ---- thread workers ------------------------------------------------------- */

static void thread_main(void *p) {
  dp_worker_t *w = p;
  dp_log_set_thread_name(w->label);
  w->fn(&w->stop, w->arg);
  if (w->free_arg != NULL) w->free_arg(w->arg);
  atomic_store(&w->ended, true);
  dp_server_wake(w->srv);
}

int dp_request_start_thread(dp_request_t *req, dp_worker_fn fn, void *arg,
                            void (*free_arg)(void *)) {
  dp_worker_t *w = fn != NULL ? new_worker(req, false) : NULL;
  if (w == NULL) {
    int rc = fn == NULL ? dp_error_set(DP_EINVAL, "no worker function") : dp_error_last();
    if (free_arg != NULL) free_arg(arg);
    return rc;
  }
  w->fn = fn;
  w->arg = arg;
  w->free_arg = free_arg;
  atomic_init(&w->ended, false);
  uv_mutex_init(&w->stop.mu);
  uv_cond_init(&w->stop.cv);
  int rc = uv_thread_create(&w->thread, thread_main, w);
  if (rc != 0) {
    free_thread_worker(w);
    if (free_arg != NULL) free_arg(arg);
    return dp_error_set(DP_ESYS, "cannot start a thread: %s", uv_strerror(rc));
  }
  link_worker(w);
  dp_log_debug(w->srv->log, "started thread worker %s", w->label);
  return 0;
}

void dp_workers_sweep(dp_server_t *srv) {
  bool removed = false;
  for (dp_worker_t *w = srv->workers, *next; w != NULL; w = next) {
    next = w->next;
    if (w->is_process || !atomic_load(&w->ended)) continue;
    uv_thread_join(&w->thread);
    unlink_worker(w);
    dp_log_info(srv->log, "thread worker %s ended%s", w->label,
                w->reported   ? " (late)"
                : w->stopping ? " after STOP"
                              : "");
    free_thread_worker(w);
    removed = true;
  }
  if (removed) dp_server_check_finish(srv);
}

/* ---- process workers ------------------------------------------------------ */

static void signal_group(dp_worker_t *w, int sig) {
  int rc = uv_kill(-w->pid, sig);
  if (rc != 0 && rc != UV_ESRCH)
    dp_log_error(w->srv->log, "cannot signal process group %d: %s", w->pid, uv_strerror(rc));
}

/* Reaps members of the group that were re-parented to us; true when no
 * process of the group is left. Only after the leader was reaped by libuv. */
static bool group_gone(dp_worker_t *w) {
#ifndef _WIN32
  if (w->srv->subreaper)
    while (waitpid(-w->pid, NULL, WNOHANG) > 0) {
    }
#endif
  return uv_kill(-w->pid, 0) == UV_ESRCH;
}

static void begin_process_stop(dp_worker_t *w) {
  w->stopping = true;
  uv_update_time(&w->srv->loop);
  w->stop_at = uv_now(&w->srv->loop);
  signal_group(w, SIGTERM);
  ensure_ticking(w->srv);
}

static void process_exit(uv_process_t *p, int64_t status, int sig) {
  dp_worker_t *w = p->data;
  w->exited = true;
  dp_log_info(w->srv->log, "process worker %s (pid %d) exited (status %lld, signal %d)", w->label,
              w->pid, (long long)status, sig);
  if (group_gone(w)) {
    remove_process(w);
  } else if (!w->stopping) {
    dp_log_info(w->srv->log, "stopping what is left of the process group of %s", w->label);
    begin_process_stop(w);
  }
}

int dp_request_start_process(dp_request_t *req, const char *const *argv, const char *cwd,
                             const char *const *env, int *pid_out) {
  if (argv == NULL || argv[0] == NULL) return dp_error_set(DP_EINVAL, "empty argv");
  dp_worker_t *w = new_worker(req, true);
  if (w == NULL) return dp_error_last();
  dp_server_t *srv = w->srv;
#ifdef __linux__
  if (!srv->subreaper) srv->subreaper = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
#endif
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE},
      {.flags = UV_INHERIT_FD, .data.fd = 1},
      {.flags = UV_INHERIT_FD, .data.fd = 2},
  };
  uv_process_options_t o = {
      .exit_cb = process_exit,
      .file = argv[0],
      .args = (char **)argv,
      .env = (char **)env,
      .cwd = cwd,
      .flags = UV_PROCESS_DETACHED,
      .stdio_count = 3,
      .stdio = stdio,
  };
  int rc = uv_spawn(&srv->loop, &w->proc, &o);
  if (rc != 0) {
    /* uv_spawn initialised the handle even on failure: close it */
    w->proc.data = w;
    uv_close((uv_handle_t *)&w->proc, process_closed);
    return dp_error_set(DP_ESYS, "cannot start %s: %s", argv[0], uv_strerror(rc));
  }
  w->proc.data = w;
  w->pid = w->proc.pid;
  link_worker(w);
  if (pid_out != NULL) *pid_out = w->pid;
  dp_log_info(srv->log, "started process worker %s: %s (pid %d)", w->label, argv[0], w->pid);
  return 0;
}

/* ---- STOP and shutdown ---------------------------------------------------- */

void dp_server_stop_workers(dp_server_t *srv) {
  uv_update_time(&srv->loop);
  uint64_t now = uv_now(&srv->loop);
  for (dp_worker_t *w = srv->workers; w != NULL; w = w->next) {
    if (w->stopping) continue;
    if (w->is_process) {
      dp_log_info(srv->log, "Closing process group %d of %s", w->pid, w->label);
      begin_process_stop(w);
    } else {
      dp_log_info(srv->log, "Stopping thread worker %s", w->label);
      w->stopping = true;
      w->stop_at = now;
      signal_stop(&w->stop);
    }
  }
  if (srv->workers != NULL) ensure_ticking(srv);
}

static void tick(uv_timer_t *t) {
  dp_server_t *srv = t->data;
  uint64_t now = uv_now(&srv->loop);
  uint64_t grace = (uint64_t)(srv->opts.stop_grace_s * 1000.0);
  uint64_t join = (uint64_t)(srv->opts.join_timeout_s * 1000.0);
  bool busy = false;
  for (dp_worker_t *w = srv->workers, *next; w != NULL; w = next) {
    next = w->next;
    if (!w->stopping) continue;
    if (!w->is_process) {
      if (!w->reported && !atomic_load(&w->ended) && now - w->stop_at >= join) {
        w->reported = true;
        dp_log_error(srv->log, "thread worker %s did not end within %.1f s of STOP", w->label,
                     srv->opts.join_timeout_s);
      }
      busy |= !w->reported;
      continue;
    }
    if (!w->killed && now - w->stop_at >= grace) {
      dp_log_warning(srv->log, "process group %d of %s outlived SIGTERM by %.1f s: SIGKILL", w->pid,
                     w->label, srv->opts.stop_grace_s);
      signal_group(w, SIGKILL);
      w->killed = true;
      w->kill_at = now;
    }
    if (w->exited && group_gone(w)) {
      remove_process(w);
      continue;
    }
    if (w->exited && w->killed && now - w->kill_at >= GIVE_UP_AFTER_KILL_MS) {
      dp_log_error(srv->log, "process group %d of %s still not empty after SIGKILL; giving up",
                   w->pid, w->label);
      remove_process(w);
      continue;
    }
    busy = true;
  }
  if (!busy) uv_timer_stop(t);
  dp_server_check_finish(srv);
}

bool dp_workers_abandon(dp_server_t *srv) {
  bool running = false;
  dp_workers_sweep(srv);
  for (dp_worker_t *w = srv->workers; w != NULL; w = w->next) {
    if (w->is_process) continue; /* cannot happen: shutdown waits for them */
    dp_log_critical(srv->log, "thread worker %s never ended; leaving it running", w->label);
    running = true;
  }
  return running;
}
