/* metadata.c - channel labels, units and types from a stream's XML metadata
 * (desc/channels/channel/{label,unit,type}, the layout LSL apps and pylsl
 * use). A channel without a label gets ch_<i> (1-based), as in Python; read
 * on every (re)connection (the Python seed reads it only once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error_internal.h"
#include "stream_watcher/watcher_internal.h"

static void free_list(char **list, size_t n) {
  if (list == NULL) return;
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

void dp_sw_free_metadata(char ***labels, char ***units, char ***types, size_t n_ch) {
  free_list(*labels, n_ch);
  free_list(*units, n_ch);
  free_list(*types, n_ch);
  *labels = *units = *types = NULL;
}

static char *copy(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

int dp_sw_read_metadata(const dp_lsl_api_t *lsl, dp_logger_t *log, lsl_streaminfo full, size_t n,
                        dp_sw_link_t *link) {
  char **labels = calloc(n, sizeof *labels), **units = calloc(n, sizeof *units),
       **types = calloc(n, sizeof *types);
  int ok = labels != NULL && units != NULL && types != NULL;
  lsl_xml_ptr ch = lsl->child(lsl->child(lsl->get_desc(full), "channels"), "channel");
  size_t described = 0;
  for (size_t i = 0; ok && i < n; i++) {
    const char *label = "", *unit = "", *type = "";
    if (!lsl->empty(ch)) {
      label = lsl->child_value_n(ch, "label");
      unit = lsl->child_value_n(ch, "unit");
      type = lsl->child_value_n(ch, "type");
      ch = lsl->next_sibling_n(ch, "channel");
      described++;
    }
    char fallback[32];
    if (label == NULL || label[0] == '\0') {
      snprintf(fallback, sizeof fallback, "ch_%zu", i + 1);
      label = fallback;
    }
    labels[i] = copy(label);
    units[i] = copy(unit ? unit : "");
    types[i] = copy(type ? type : "");
    ok = labels[i] != NULL && units[i] != NULL && types[i] != NULL;
  }
  if (!ok) {
    free_list(labels, n);
    free_list(units, n);
    free_list(types, n);
    return dp_error_set(DP_ENOMEM, "stream watcher: out of memory reading channel labels");
  }
  if (described > 0 && (described < n || !lsl->empty(ch)))
    dp_log_warning(log,
                   "stream '%s' describes %s channels than its %zu; labels of the "
                   "others are ch_<i>",
                   lsl->get_name(full), described < n ? "fewer" : "more", n);
  dp_sw_free_metadata(&link->labels, &link->units, &link->types, n);
  link->labels = labels;
  link->units = units;
  link->types = types;
  return 0;
}
