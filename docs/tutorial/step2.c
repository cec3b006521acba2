/* step2.c - tutorial step 2: START watches an LSL stream in a worker thread
 * and logs what arrives to the log server; STOP ends the worker.
 * docs/tutorial.md explains it. */
#include <dareplane/dareplane.h>

#include <stdlib.h>
#include <string.h>

static dp_logger_t *lg;

/* What the worker needs, owned by the worker (freed after it returns). */
typedef struct {
  char stream[256];
} job_t;

static void watch_worker(dp_stop_t *stop, void *arg) {
  const job_t *job = arg;
  dp_stream_watcher_t *sw = NULL;
  if (dp_stream_watcher_new(&sw, job->stream, 2.0) < 0 || dp_stream_watcher_connect(sw, 5.0) < 0) {
    dp_log_error(lg, "cannot watch %s: %s", job->stream, dp_error_detail());
    dp_stream_watcher_free(sw);
    return;
  }
  dp_log_info(lg, "watching %s: %zu channels at %g Hz", job->stream,
              dp_stream_watcher_channel_count(sw), dp_stream_watcher_info(sw)->nominal_srate);
  while (!dp_stop_wait(stop, 1.0)) { /* once a second, until STOP */
    dp_stream_watcher_update(sw);
    dp_log_info(lg, "%llu new samples", (unsigned long long)dp_stream_watcher_n_new(sw));
    dp_stream_watcher_clear_new(sw);
  }
  dp_log_info(lg, "stopped watching %s", job->stream);
  dp_stream_watcher_free(sw);
}

static int start(dp_request_t *req, void *user) {
  const char *stream = user;
  if (dp_server_worker_count(dp_request_server(req)) > 0) {
    dp_log_warning(lg, "START: already running (STOP first)");
    return DP_ESTATE;
  }
  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) return DP_ENOMEM;
  strncpy(job->stream, stream, sizeof job->stream - 1);
  return dp_request_start_thread(req, watch_worker, job, free);
}

static int ping(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_replyf(req, "pong");
}

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)user;
  lg = dp_log_get("power");
  int rc = dp_server_add(srv, "PING", ping, NULL, "reply pong");
  if (rc == 0)
    rc = dp_server_add(srv, "START", start, (void *)dp_module_get(mod, "stream"),
                       "watch the stream until STOP");
  return rc;
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      {"stream", "mock_EEG_stream", "the LSL stream to watch"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def = {
      .name = "power",
      .summary = "The tutorial module: RMS power of an LSL stream.",
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def, argc, argv);
}
