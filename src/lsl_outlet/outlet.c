/* outlet.c - LSL outlets: stream info with channel labels, then pushes of
 * whole chunks (one liblsl call per push, sent at once); see
 * include/dareplane/lsl_outlet.h. */
#include "dareplane/lsl_outlet.h"

#include <math.h>
#include <stdlib.h>

#include "common/error_internal.h"
#include "lsl/lsl_api.h"

struct dp_lsl_outlet {
  const dp_lsl_api_t *lsl;
  lsl_outlet outlet;
  size_t channels;
  dp_dtype_t format;
};

static void describe_channels(const dp_lsl_api_t *lsl, lsl_streaminfo info,
                              const dp_lsl_outlet_config_t *cfg) {
  if (cfg->labels == NULL && cfg->units == NULL) return;
  lsl_xml_ptr chans = lsl->append_child(lsl->get_desc(info), "channels");
  for (size_t i = 0; i < cfg->channels; i++) {
    lsl_xml_ptr ch = lsl->append_child(chans, "channel");
    if (cfg->labels != NULL && cfg->labels[i] != NULL)
      lsl->append_child_value(ch, "label", cfg->labels[i]);
    if (cfg->units != NULL && cfg->units[i] != NULL)
      lsl->append_child_value(ch, "unit", cfg->units[i]);
  }
}

int dp_lsl_outlet_new(dp_lsl_outlet_t **out, const dp_lsl_outlet_config_t *cfg) {
  if (out == NULL || cfg == NULL) return dp_error_set(DP_EINVAL, "outlet: NULL argument");
  *out = NULL;
  if (cfg->name == NULL || cfg->name[0] == '\0' || cfg->channels == 0 ||
      cfg->channels > INT32_MAX || !(cfg->srate >= 0) || !isfinite(cfg->srate) ||
      dp_dtype_size(cfg->format) == 0 || cfg->chunk_size < 0 || cfg->max_buffered_s < 0)
    return dp_error_set(DP_EINVAL,
                        "outlet: needs a name, 1+ channels, a rate >= 0 and a "
                        "known format (got name '%s', %zu channels, %g Hz, format %d)",
                        cfg->name ? cfg->name : "(null)", cfg->channels, cfg->srate,
                        (int)cfg->format);
  const dp_lsl_api_t *lsl = dp_lsl_api();
  if (lsl == NULL) return DP_ENOLSL;
  dp_lsl_outlet_t *o = calloc(1, sizeof *o);
  if (o == NULL) return dp_error_set(DP_ENOMEM, "outlet: out of memory");
  lsl_streaminfo info = lsl->create_streaminfo(
      cfg->name, cfg->type ? cfg->type : "", (int32_t)cfg->channels, cfg->srate,
      (int32_t)cfg->format, cfg->source_id ? cfg->source_id : "");
  if (info == NULL) {
    free(o);
    return dp_error_set(DP_ELSL, "liblsl could not create the stream info for '%s'", cfg->name);
  }
  describe_channels(lsl, info, cfg);
  o->outlet =
      lsl->create_outlet(info, cfg->chunk_size, cfg->max_buffered_s ? cfg->max_buffered_s : 360);
  lsl->destroy_streaminfo(info); /* the outlet keeps its own copy */
  if (o->outlet == NULL) {
    free(o);
    return dp_error_set(DP_ELSL, "liblsl could not create the outlet '%s'", cfg->name);
  }
  o->lsl = lsl;
  o->channels = cfg->channels;
  o->format = cfg->format;
  *out = o;
  return 0;
}

/* With explicit timestamps (tnp) or stamped now (tp, timestamp 0.0). */
static int32_t push(const dp_lsl_outlet_t *o, const void *s, unsigned long k, const double *t) {
  const dp_lsl_api_t *l = o->lsl;
  lsl_outlet out = o->outlet;
  switch (o->format) {
  case DP_FLOAT32:
    return t ? l->push_chunk_ftnp(out, s, k, t, 1) : l->push_chunk_ftp(out, s, k, 0.0, 1);
  case DP_DOUBLE64:
    return t ? l->push_chunk_dtnp(out, s, k, t, 1) : l->push_chunk_dtp(out, s, k, 0.0, 1);
  case DP_INT32:
    return t ? l->push_chunk_itnp(out, s, k, t, 1) : l->push_chunk_itp(out, s, k, 0.0, 1);
  case DP_INT16:
    return t ? l->push_chunk_stnp(out, s, k, t, 1) : l->push_chunk_stp(out, s, k, 0.0, 1);
  case DP_INT8:
    return t ? l->push_chunk_ctnp(out, s, k, t, 1) : l->push_chunk_ctp(out, s, k, 0.0, 1);
  case DP_INT64:
    return t ? l->push_chunk_ltnp(out, s, k, t, 1) : l->push_chunk_ltp(out, s, k, 0.0, 1);
  case DP_STRING: {
    const char **strs = (const char **)s; /* liblsl's prototype lacks the inner const */
    return t ? l->push_chunk_strtnp(out, strs, k, t, 1) : l->push_chunk_strtp(out, strs, k, 0.0, 1);
  }
  }
  return DP_LSL_ARGUMENT_ERROR;
}

int dp_lsl_outlet_push(dp_lsl_outlet_t *out, const void *samples, size_t n, const double *times) {
  if (out == NULL || (n > 0 && samples == NULL))
    return dp_error_set(DP_EINVAL, "outlet push: NULL outlet or samples");
  if (n == 0) return 0;
  int32_t ec = push(out, samples, (unsigned long)(n * out->channels), times);
  if (ec != 0)
    return dp_error_set(DP_ELSL, "liblsl failed to push %zu samples (error %d)", n, (int)ec);
  return 0;
}

int dp_lsl_outlet_have_consumers(const dp_lsl_outlet_t *out) {
  return out->lsl->have_consumers(out->outlet) ? 1 : 0;
}

int dp_lsl_outlet_wait_for_consumers(const dp_lsl_outlet_t *out, double timeout_s) {
  return out->lsl->wait_for_consumers(out->outlet, timeout_s) ? 1 : 0;
}

size_t dp_lsl_outlet_channels(const dp_lsl_outlet_t *out) {
  return out->channels;
}

dp_dtype_t dp_lsl_outlet_format(const dp_lsl_outlet_t *out) {
  return out->format;
}

void dp_lsl_outlet_free(dp_lsl_outlet_t *out) {
  if (out == NULL) return;
  out->lsl->destroy_outlet(out->outlet);
  free(out);
}
