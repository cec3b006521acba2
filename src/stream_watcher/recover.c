/* recover.c - keeping a StreamWatcher on its stream when the outlet goes away
 * and comes back.
 *
 * Inlets are created with liblsl's recover flag. liblsl then reconnects by
 * itself to a restarted outlet of a stream that has a source_id, silently;
 * when liblsl reports a recovery (a clock reset) or samples flow again after a
 * stall, the watcher looks for a few seconds, without blocking, whether the
 * stream now comes from a new outlet (new uid), and then re-reads its
 * metadata. For a stream
 * without a source_id liblsl declares the stream lost instead; the watcher
 * then runs a liblsl continuous resolver (background, never blocking update())
 * for the same query liblsl would use and opens a new inlet when it matches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/error_internal.h"
#include "lsl/info.h"
#include "stream_watcher/watcher_internal.h"

/* How long liblsl's continuous resolver keeps a stream no longer seen. */
#define DP_SW_FORGET_AFTER 5.0
/* How long the restart check looks for a new outlet (it starts when liblsl
 * reported a recovery or samples resumed after a stall), and the wait for the
 * new outlet's full info. */
#define DP_SW_CHECK_S      3.0
#define DP_SW_CHECK_INFO_S 1.0

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

void dp_sw_on_lost(dp_stream_watcher_t *sw) {
  if (sw->resolver != NULL) sw->lsl->destroy_continuous_resolver(sw->resolver); /* a check */
  dp_log_warning(sw->log, "LSL stream '%s' was lost; looking for it again (%s)", sw->info.name,
                 sw->recover_query);
  sw->lsl->destroy_inlet(sw->inlet);
  sw->inlet = NULL;
  sw->lost = true;
  sw->resolver = sw->lsl->create_continuous_resolver_bypred(sw->recover_query, DP_SW_FORGET_AFTER);
  if (sw->resolver == NULL)
    dp_log_error(sw->log, "liblsl could not start a resolver for '%s'", sw->recover_query);
}

void dp_sw_try_reconnect(dp_stream_watcher_t *sw) {
  const dp_lsl_api_t *lsl = sw->lsl;
  if (sw->resolver == NULL) { /* could not be created earlier: try once more */
    sw->resolver = lsl->create_continuous_resolver_bypred(sw->recover_query, DP_SW_FORGET_AFTER);
    if (sw->resolver == NULL) return;
  }
  lsl_streaminfo infos[8];
  int32_t n = lsl->resolver_results(sw->resolver, infos, 8);
  int32_t pick = -1;
  for (int32_t i = 0; i < n; i++) /* the old outlet, if still listed, is not it */
    if (pick < 0 && strcmp(lsl->get_uid(infos[i]), sw->info.uid) != 0) pick = i;
  if (pick >= 0) {
    char old_uid[128];
    snprintf(old_uid, sizeof old_uid, "%s", sw->info.uid);
    if (dp_sw_open(sw, infos[pick]) == 0) { /* replaces inlet and info, ends the resolver */
      sw->recoveries++;
      dp_log_warning(sw->log, "LSL stream '%s' is back (outlet %s, was %s); metadata re-read",
                     sw->info.name, sw->info.uid, old_uid);
    } else {
      dp_log_warning(sw->log, "LSL stream '%s' reappeared but could not be opened: %s",
                     sw->info.name, dp_error_detail());
    }
  }
  for (int i = 0; i < n; i++) lsl->destroy_streaminfo(infos[i]);
}

void dp_sw_start_restart_check(dp_stream_watcher_t *sw) {
  if (sw->resolver == NULL)
    sw->resolver =
        sw->lsl->create_continuous_resolver_bypred(sw->recover_query, DP_SW_FORGET_AFTER);
  sw->check_until_ns = uv_hrtime() + (uint64_t)(DP_SW_CHECK_S * 1e9);
}

/* Reads the new outlet's full info with a short-lived inlet (the data keeps
 * coming through the inlet liblsl recovered) and takes over its metadata. */
static void take_new_outlet(dp_stream_watcher_t *sw, lsl_streaminfo found) {
  const dp_lsl_api_t *lsl = sw->lsl;
  int32_t ec = 0;
  lsl_inlet probe = lsl->create_inlet(found, DP_SW_INLET_BUFLEN, 0, 0);
  lsl_streaminfo full = probe ? lsl->get_fullinfo(probe, DP_SW_CHECK_INFO_S, &ec) : NULL;
  dp_lsl_stream_info_t info;
  if (full != NULL && ec == 0 && dp_lsl_info_from(lsl, full, &info) == 0) {
    if (dp_sw_read_metadata(sw, full) == 0) {
      dp_lsl_info_clear(&sw->info);
      sw->info = info;
      sw->recoveries++;
      dp_log_warning(sw->log,
                     "LSL stream '%s' resumed from a restarted outlet (%s); metadata re-read",
                     sw->info.name, sw->info.uid);
    } else {
      dp_lsl_info_clear(&info);
    }
  } else {
    dp_log_warning(sw->log, "LSL stream '%s' restarted, but its new metadata could not be read",
                   sw->info.name);
  }
  if (full != NULL) lsl->destroy_streaminfo(full);
  if (probe != NULL) lsl->destroy_inlet(probe);
}

void dp_sw_poll_restart_check(dp_stream_watcher_t *sw) {
  const dp_lsl_api_t *lsl = sw->lsl;
  lsl_streaminfo infos[8];
  int32_t n = sw->resolver != NULL ? lsl->resolver_results(sw->resolver, infos, 8) : 0;
  int32_t pick = -1;
  for (int32_t i = 0; i < n; i++)
    if (pick < 0 && strcmp(lsl->get_uid(infos[i]), sw->info.uid) != 0) pick = i;
  if (pick >= 0) take_new_outlet(sw, infos[pick]);
  for (int32_t i = 0; i < n; i++) lsl->destroy_streaminfo(infos[i]);
  if (pick >= 0 || sw->resolver == NULL || uv_hrtime() >= sw->check_until_ns) {
    if (sw->resolver != NULL) lsl->destroy_continuous_resolver(sw->resolver);
    sw->resolver = NULL;
  }
}
