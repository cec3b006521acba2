/* workers.c - the book of the workers that commands start (Python's threads
 * and processes tables), and how STOP and shutdown end them.
 *
 * Thread workers get a stop signal and are joined once they return; one that
 * does not return within join_timeout_s of STOP is reported (and joined
 * whenever it does return). A process worker is a whole process tree
 * (proc_tree.h): the program and everything it starts, whichever session or
 * group they move to. STOP sends SIGTERM to every process of the tree and
 * SIGKILL after stop_grace_s, and the entry leaves the book only when no
 * process of the tree is left, all reaped. The tree also ends when the module
 * ends in any way, even killed. Everything here runs on the loop thread
 * except the thread workers' bodies. */
#include "proc_tree/proc_tree.h"
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS               10
#define GIVE_UP_AFTER_KILL_MS 3000 /* after the grace period, for a tree to report gone */

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
  dp_proc_tree_t *tree;
  int pid;
  bool abandoned; /* its tree did not report gone in time: killed outright */
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

static void begin_process_stop(dp_worker_t *w) {
  w->stopping = true;
  uv_update_time(&w->srv->loop);
  w->stop_at = uv_now(&w->srv->loop);
  dp_proc_tree_stop(w->tree);
  ensure_ticking(w->srv);
}

static void tree_exited(void *user, int status, int sig, bool rest_left) {
  dp_worker_t *w = user;
  dp_log_info(w->srv->log, "process worker %s (pid %d) exited (status %d, signal %d)", w->label,
              w->pid, status, sig);
  if (rest_left && !w->stopping) {
    dp_log_info(w->srv->log, "stopping what is left of the process tree of %s", w->label);
    begin_process_stop(w);
  }
}

static void tree_killed(void *user, int n) {
  dp_worker_t *w = user;
  dp_log_warning(w->srv->log, "process tree of %s outlived SIGTERM by %.1f s: SIGKILL to %d %s",
                 w->label, w->srv->opts.stop_grace_s, n, n == 1 ? "process" : "processes");
}

static void tree_gone(void *user) {
  dp_worker_t *w = user;
  dp_server_t *srv = w->srv;
  dp_log_info(srv->log, "process tree of %s is gone", w->label);
  unlink_worker(w);
  free(w);
  dp_server_check_finish(srv);
}

static const dp_proc_tree_events_t tree_events = {tree_exited, tree_killed, tree_gone};

int dp_request_start_process(dp_request_t *req, const char *const *argv, const char *cwd,
                             const char *const *env, int *pid_out) {
  if (argv == NULL || argv[0] == NULL) return dp_error_set(DP_EINVAL, "empty argv");
  dp_worker_t *w = new_worker(req, true);
  if (w == NULL) return dp_error_last();
  dp_server_t *srv = w->srv;
  dp_proc_tree_spec_t spec = {
      .argv = argv,
      .cwd = cwd,
      .env = env,
      .grace_s = srv->opts.stop_grace_s,
      .events = &tree_events,
      .user = w,
  };
  int rc = dp_proc_tree_start(&srv->loop, &spec, &w->tree, &w->pid);
  if (rc < 0) {
    free(w);
    return rc;
  }
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
      dp_log_info(srv->log, "Closing process tree of %s (pid %d)", w->label, w->pid);
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
  uint64_t give_up = (uint64_t)(srv->opts.stop_grace_s * 1000.0) + GIVE_UP_AFTER_KILL_MS;
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
    if (!w->abandoned && now - w->stop_at >= give_up) {
      dp_log_error(srv->log, "process tree of %s still not gone %.1f s after SIGKILL; killing it",
                   w->label, GIVE_UP_AFTER_KILL_MS / 1000.0);
      dp_proc_tree_kill(w->tree);
      w->abandoned = true;
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
