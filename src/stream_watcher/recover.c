/* recover.c - keeping a StreamWatcher on its stream when the outlet goes away
 * and comes back, on a thread of its own beside the hot path.
 *
 * Inlets are created with liblsl's recover flag. liblsl then reconnects by
 * itself to a restarted outlet of a stream that has a source_id, silently;
 * when update() sees liblsl report a recovery (a clock reset) or samples flow
 * again after a stall, it asks this thread to look for a few seconds whether
 * the stream now comes from a new outlet (new uid), whose metadata the thread
 * then reads. For a stream without a source_id liblsl declares the stream
 * lost instead; update() hands the dead inlet over, and this thread runs a
 * liblsl continuous resolver for the query liblsl would use and opens a new
 * inlet when it matches. Everything that waits on the network (resolving,
 * the full info, opening, destroying an inlet) happens here; update() asks
 * and takes the result without ever waiting (dp_sw_recovery_take: one atomic
 * load when there is nothing); update_wait() may sleep until a result is
 * published (dp_sw_recovery_wait), never on the network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "lsl/info.h"
#include "stream_watcher/watcher_internal.h"

/* How long liblsl's continuous resolver keeps a stream no longer seen. */
#define DP_SW_FORGET_AFTER 5.0
/* How long the restart check looks for a new outlet. */
#define DP_SW_CHECK_S 3.0
/* How often the thread looks at the resolver's results (ms). */
#define DP_SW_POLL_MS 20

int dp_sw_build_recover_query(dp_stream_watcher_t *sw) {
  const dp_lsl_stream_info_t *in = &sw->info;
  size_t size = strlen(in->name) + strlen(in->type) + strlen(in->source_id) + 160;
  char *q = malloc(size), count[24];
  if (q == NULL) return dp_error_set(DP_ENOMEM, "stream watcher: out of memory");
  snprintf(count, sizeof count, "%d", in->channel_count);
  size_t len = dp_lsl_pred_term(q, size, 0, "channel_count", count);
  if (in->name[0]) len = dp_lsl_pred_term(q, size, len, "name", in->name);
  if (in->type[0]) len = dp_lsl_pred_term(q, size, len, "type", in->type);
  if (in->source_id[0]) len = dp_lsl_pred_term(q, size, len, "source_id", in->source_id);
  dp_lsl_pred_term(q, size, len, "channel_format", dp_dtype_name(sw->dtype));
  free(sw->recover_query);
  sw->recover_query = q;
  return 0;
}

/* ---- the recovery thread ----------------------------------------------------- */

/* Waits up to `ms` for a stop or a new request (under rec->mu). True when
 * the current work should end: stop, or a request other than `current`. */
static bool interrupted(struct dp_sw_recovery *rec, dp_sw_request_t current, unsigned ms) {
  uv_mutex_lock(&rec->mu);
  if (!rec->stop && (rec->req == DP_SW_REQ_NONE || rec->req == current) && ms > 0)
    uv_cond_timedwait(&rec->cond, &rec->mu, (uint64_t)ms * 1000000u);
  bool end = rec->stop || (rec->req != DP_SW_REQ_NONE && rec->req != current);
  uv_mutex_unlock(&rec->mu);
  return end;
}

/* Hands a finished link to update(). */
static void publish(dp_stream_watcher_t *sw, dp_sw_link_t *link) {
  struct dp_sw_recovery *rec = &sw->rec;
  uv_mutex_lock(&rec->mu);
  if (atomic_load(&sw->recovered)) dp_sw_link_free(sw->lsl, &rec->result, sw->n_ch); /* not taken */
  rec->result = *link;
  atomic_store_explicit(&sw->recovered, true, memory_order_release);
  uv_cond_signal(&rec->found);
  uv_mutex_unlock(&rec->mu);
  *link = (dp_sw_link_t){0};
}

/* Looks for an outlet other than `old_uid` until one is found and opened
 * (lost) or the check runs out (restart check), or the work is interrupted. */
static void look(dp_stream_watcher_t *sw, dp_sw_request_t what, const char *old_uid) {
  struct dp_sw_recovery *rec = &sw->rec;
  const dp_lsl_api_t *lsl = sw->lsl;
  bool lost = what == DP_SW_REQ_LOST;
  lsl_continuous_resolver r = NULL;
  uint64_t until = uv_hrtime() + (uint64_t)(DP_SW_CHECK_S * 1e9);
  bool done = false;
  while (!done && (lost || uv_hrtime() < until)) {
    if (r == NULL &&
        (r = lsl->create_continuous_resolver_bypred(sw->recover_query, DP_SW_FORGET_AFTER)) == NULL)
      dp_log_error(sw->log, "liblsl could not start a resolver for '%s'", sw->recover_query);
    lsl_streaminfo infos[8];
    int32_t n = r != NULL ? lsl->resolver_results(r, infos, 8) : 0;
    for (int32_t i = 0; i < n; i++) {
      if (!done && strcmp(lsl->get_uid(infos[i]), old_uid) != 0) {
        dp_sw_link_t link;
        if (dp_sw_open_link(lsl, sw->log, infos[i], sw->n_ch, sw->inlet_buflen, !lost, &link) ==
            0) {
          dp_log_warning(sw->log, "LSL stream '%s' %s (outlet %s, was %s); metadata re-read",
                         rec->name, lost ? "is back" : "resumed from a restarted outlet",
                         link.info.uid, old_uid);
          publish(sw, &link);
          done = true;
        } else {
          dp_log_warning(sw->log, "LSL stream '%s' reappeared but could not be %s: %s", rec->name,
                         lost ? "opened" : "read", dp_error_detail());
        }
      }
      lsl->destroy_streaminfo(infos[i]);
    }
    if (!done && interrupted(rec, what, DP_SW_POLL_MS)) break;
  }
  if (r != NULL) lsl->destroy_continuous_resolver(r);
}

static void recovery_main(void *arg) {
  dp_stream_watcher_t *sw = arg;
  struct dp_sw_recovery *rec = &sw->rec;
  for (;;) {
    uv_mutex_lock(&rec->mu);
    while (!rec->stop && rec->req == DP_SW_REQ_NONE && rec->dead == NULL)
      uv_cond_wait(&rec->cond, &rec->mu);
    if (rec->stop) {
      uv_mutex_unlock(&rec->mu);
      return;
    }
    dp_sw_request_t what = rec->req;
    lsl_inlet dead = rec->dead;
    char uid[sizeof rec->uid];
    memcpy(uid, rec->uid, sizeof uid);
    rec->req = DP_SW_REQ_NONE;
    rec->dead = NULL;
    uv_mutex_unlock(&rec->mu);
    if (dead != NULL) sw->lsl->destroy_inlet(dead);
    if (what != DP_SW_REQ_NONE) look(sw, what, uid);
  }
}

/* ---- the caller's side --------------------------------------------------------- */

int dp_sw_recovery_start(dp_stream_watcher_t *sw) {
  struct dp_sw_recovery *rec = &sw->rec;
  size_t len = strlen(sw->info.name) + 1;
  if ((rec->name = malloc(len)) == NULL)
    return dp_error_set(DP_ENOMEM, "stream watcher: out of memory");
  memcpy(rec->name, sw->info.name, len);
  rec->stop = false;
  rec->req = DP_SW_REQ_NONE;
  rec->dead = NULL;
  atomic_init(&sw->recovered, false);
  if (uv_mutex_init(&rec->mu) != 0) goto fail_mutex;
  if (uv_cond_init(&rec->cond) != 0) goto fail_cond;
  if (uv_cond_init(&rec->found) != 0) goto fail_found;
  if (uv_thread_create(&rec->thread, recovery_main, sw) != 0) goto fail_thread;
  rec->running = true;
  return 0;
fail_thread:
  uv_cond_destroy(&rec->found);
fail_found:
  uv_cond_destroy(&rec->cond);
fail_cond:
  uv_mutex_destroy(&rec->mu);
fail_mutex:
  free(rec->name);
  rec->name = NULL;
  return dp_error_set(DP_ESYS, "stream watcher: cannot start the recovery thread");
}

void dp_sw_recovery_stop(dp_stream_watcher_t *sw) {
  struct dp_sw_recovery *rec = &sw->rec;
  if (!rec->running) return;
  uv_mutex_lock(&rec->mu);
  rec->stop = true;
  uv_cond_signal(&rec->cond);
  uv_mutex_unlock(&rec->mu);
  uv_thread_join(&rec->thread);
  rec->running = false;
  if (rec->dead != NULL) sw->lsl->destroy_inlet(rec->dead);
  rec->dead = NULL;
  if (atomic_load(&sw->recovered)) dp_sw_link_free(sw->lsl, &rec->result, sw->n_ch);
  atomic_store(&sw->recovered, false);
  uv_cond_destroy(&rec->found);
  uv_cond_destroy(&rec->cond);
  uv_mutex_destroy(&rec->mu);
  free(rec->name);
  rec->name = NULL;
}

void dp_sw_recovery_request(dp_stream_watcher_t *sw, dp_sw_request_t req, lsl_inlet dead) {
  struct dp_sw_recovery *rec = &sw->rec;
  uv_mutex_lock(&rec->mu);
  if (rec->req != DP_SW_REQ_LOST) rec->req = req; /* a lost stream outranks a check */
  if (dead != NULL) rec->dead = dead;
  snprintf(rec->uid, sizeof rec->uid, "%s", sw->info.uid);
  uv_cond_signal(&rec->cond);
  uv_mutex_unlock(&rec->mu);
}

void dp_sw_recovery_take(dp_stream_watcher_t *sw) {
  struct dp_sw_recovery *rec = &sw->rec;
  if (!atomic_load_explicit(&sw->recovered, memory_order_acquire)) return;
  uv_mutex_lock(&rec->mu);
  dp_sw_link_t link = rec->result;
  rec->result = (dp_sw_link_t){0};
  atomic_store(&sw->recovered, false);
  uv_mutex_unlock(&rec->mu);
  dp_sw_install(sw, &link);
  sw->recoveries++;
}

void dp_sw_recovery_wait(dp_stream_watcher_t *sw, double seconds) {
  struct dp_sw_recovery *rec = &sw->rec;
  uint64_t deadline = uv_hrtime() + (uint64_t)(seconds * 1e9), now;
  uv_mutex_lock(&rec->mu);
  while (!atomic_load(&sw->recovered) && (now = uv_hrtime()) < deadline)
    (void)uv_cond_timedwait(&rec->found, &rec->mu, deadline - now);
  uv_mutex_unlock(&rec->mu);
}
