/* link.c - one connection of a StreamWatcher to an outlet: the inlet, the
 * stream's info and its channel metadata. Opening one waits on the network
 * (full info, open), so connect() does it on the caller's thread and the
 * recovery thread does it beside the hot path; update() only installs a
 * finished link, which swaps pointers and frees the old ones. */
#include <stdio.h>

#include "common/error_internal.h"
#include "lsl/info.h"
#include "stream_watcher/watcher_internal.h"

void dp_sw_link_free(const dp_lsl_api_t *lsl, dp_sw_link_t *link, size_t n_ch) {
  if (link->inlet != NULL) lsl->destroy_inlet(link->inlet);
  if (link->have_info) dp_lsl_info_clear(&link->info);
  dp_sw_free_metadata(&link->labels, &link->units, &link->types, n_ch);
  *link = (dp_sw_link_t){0};
}

int dp_sw_open_link(const dp_lsl_api_t *lsl, dp_logger_t *log, lsl_streaminfo found, size_t n_ch,
                    int32_t buflen, bool probe, dp_sw_link_t *link) {
  *link = (dp_sw_link_t){0};
  int32_t ec = 0;
  link->inlet = lsl->create_inlet(found, buflen, 0, probe ? 0 : 1);
  if (link->inlet == NULL)
    return dp_error_set(DP_ELSL, "liblsl could not create an inlet for '%s'", lsl->get_name(found));
  lsl_streaminfo full = lsl->get_fullinfo(link->inlet, DP_SW_OPEN_TIMEOUT, &ec);
  int rc = 0;
  if (full == NULL || ec != 0)
    rc = dp_error_set(DP_ELSL,
                      "stream '%s' was found but its full info could not be read "
                      "(liblsl error %d)",
                      lsl->get_name(found), (int)ec);
  else if ((rc = dp_lsl_info_from(lsl, full, &link->info)) == 0)
    link->have_info = true;
  if (rc == 0) rc = dp_sw_read_metadata(lsl, log, full, n_ch, link);
  if (full != NULL) lsl->destroy_streaminfo(full);
  if (rc == 0 && !probe) {
    lsl->open_stream(link->inlet, DP_SW_OPEN_TIMEOUT, &ec);
    if (ec != 0)
      rc = dp_error_set(DP_ELSL, "stream '%s' could not be opened (liblsl error %d)",
                        lsl->get_name(found), (int)ec);
  }
  if (rc == 0 && !probe) {
    /* Starts liblsl's clock-offset thread without waiting (the timeout error
     * is expected): once it has an offset, lsl_was_clock_reset() reports
     * every recovery liblsl does, which is how a restarted outlet is noticed. */
    lsl->time_correction(link->inlet, 0.0, &ec);
  }
  if (rc == 0 && probe) {
    lsl->destroy_inlet(link->inlet);
    link->inlet = NULL;
  }
  if (rc != 0) dp_sw_link_free(lsl, link, n_ch);
  return rc;
}

void dp_sw_install(dp_stream_watcher_t *sw, dp_sw_link_t *link) {
  dp_sw_link_t old = {.info = sw->info,
                      .have_info = sw->have_info,
                      .labels = sw->labels,
                      .units = sw->units,
                      .types = sw->types};
  if (link->inlet != NULL) {
    old.inlet = sw->inlet;
    sw->inlet = link->inlet;
    sw->lost = false;
    if (sw->postproc != 0 && sw->lsl->set_postprocessing(sw->inlet, sw->postproc) != 0)
      dp_log_error(sw->log, "liblsl refused post-processing flags 0x%x on the new inlet",
                   sw->postproc);
  }
  sw->info = link->info;
  sw->have_info = link->have_info;
  sw->labels = link->labels;
  sw->units = link->units;
  sw->types = link->types;
  *link = (dp_sw_link_t){0};
  dp_sw_link_free(sw->lsl, &old, sw->n_ch);
}
