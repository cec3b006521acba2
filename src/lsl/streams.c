/* streams.c - what is visible on the network: stream listing and search
 * (dp_lsl_list_streams, dp_lsl_find_streams) and the owned-copy form of a
 * liblsl stream info that the rest of the library hands out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/error_internal.h"
#include "dareplane/ringbuffer.h"
#include "lsl/info.h"

#define DP_LSL_MAX_LISTED 1024

static char *dup_or_empty(const char *s) {
  if (s == NULL) s = "";
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}

void dp_lsl_info_clear(dp_lsl_stream_info_t *info) {
  free(info->name);
  free(info->type);
  free(info->source_id);
  free(info->hostname);
  free(info->uid);
  memset(info, 0, sizeof *info);
}

int dp_lsl_info_from(const dp_lsl_api_t *lsl, lsl_streaminfo src, dp_lsl_stream_info_t *out) {
  memset(out, 0, sizeof *out);
  out->name = dup_or_empty(lsl->get_name(src));
  out->type = dup_or_empty(lsl->get_type(src));
  out->source_id = dup_or_empty(lsl->get_source_id(src));
  out->hostname = dup_or_empty(lsl->get_hostname(src));
  out->uid = dup_or_empty(lsl->get_uid(src));
  if (!out->name || !out->type || !out->source_id || !out->hostname || !out->uid) {
    dp_lsl_info_clear(out);
    return dp_error_set(DP_ENOMEM, "out of memory copying a stream info");
  }
  out->channel_count = (int)lsl->get_channel_count(src);
  out->nominal_srate = lsl->get_nominal_srate(src);
  out->channel_format = (int)lsl->get_channel_format(src);
  out->created_at = lsl->get_created_at(src);
  return 0;
}

int dp_lsl_info_list(const dp_lsl_api_t *lsl, lsl_streaminfo *infos, size_t n,
                     dp_lsl_stream_info_t **out, size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  dp_lsl_stream_info_t *list = NULL;
  size_t done = 0;
  int rc = 0;
  if (n > 0 && (list = calloc(n, sizeof *list)) == NULL)
    rc = dp_error_set(DP_ENOMEM, "out of memory listing streams");
  for (size_t i = 0; i < n; i++) {
    if (list != NULL && rc == 0) {
      rc = dp_lsl_info_from(lsl, infos[i], &list[done]);
      if (rc == 0) done++;
    }
    lsl->destroy_streaminfo(infos[i]);
  }
  if (rc != 0) {
    dp_lsl_stream_list_free(list, done);
    return rc;
  }
  *out = list;
  *out_n = done;
  return 0;
}

void dp_lsl_stream_list_free(dp_lsl_stream_info_t *list, size_t n) {
  if (list == NULL) return;
  for (size_t i = 0; i < n; i++) dp_lsl_info_clear(&list[i]);
  free(list);
}

size_t dp_lsl_pred_term(char *buf, size_t size, size_t len, const char *key, const char *value) {
  if (len >= size) return len;
  char q = strchr(value, '\'') == NULL ? '\'' : '"';
  if (strchr(value, q) != NULL) return len;
  int w = snprintf(buf + len, size - len, "%s%s=%c%s%c", len ? " and " : "", key, q, value, q);
  return w < 0 ? len : len + (size_t)w;
}

int dp_lsl_resolve_poll(const dp_lsl_api_t *lsl, const char *predicate, int minimum, double wait_s,
                        lsl_streaminfo *infos, int max) {
  lsl_continuous_resolver r = predicate != NULL
                                  ? lsl->create_continuous_resolver_bypred(predicate, 5.0)
                                  : lsl->create_continuous_resolver(5.0);
  if (r == NULL)
    return dp_error_set(DP_ELSL, "liblsl could not start a resolver%s%s", predicate ? " for " : "",
                        predicate ? predicate : "");
  uint64_t deadline = uv_hrtime() + (uint64_t)(wait_s * 1e9);
  int32_t n = 0;
  for (;;) {
    if (minimum > 0 && (n = lsl->resolver_results(r, infos, (uint32_t)max)) >= minimum) break;
    if (n > 0) { /* not enough yet: take them again on the next round */
      for (int32_t i = 0; i < n; i++) lsl->destroy_streaminfo(infos[i]);
      n = 0;
    }
    if (wait_s < DP_LSL_FOREVER && uv_hrtime() >= deadline) {
      n = lsl->resolver_results(r, infos, (uint32_t)max);
      break;
    }
    uv_sleep(5);
  }
  lsl->destroy_continuous_resolver(r);
  return n < 0 ? 0 : (int)n;
}

/* Shared tail of the two listing functions. */
static int resolve(const char *predicate, int minimum, double wait_s, dp_lsl_stream_info_t **out,
                   size_t *n) {
  if (out == NULL || n == NULL || !(wait_s >= 0))
    return dp_error_set(DP_EINVAL, "streams: NULL output or negative wait time");
  *out = NULL;
  *n = 0;
  const dp_lsl_api_t *lsl = dp_lsl_api();
  if (lsl == NULL) return DP_ENOLSL;
  lsl_streaminfo *infos = calloc(DP_LSL_MAX_LISTED, sizeof(lsl_streaminfo));
  if (infos == NULL) return dp_error_set(DP_ENOMEM, "out of memory listing streams");
  int got = dp_lsl_resolve_poll(lsl, predicate, minimum, wait_s, infos, DP_LSL_MAX_LISTED);
  int rc = got < 0 ? got : dp_lsl_info_list(lsl, infos, (size_t)got, out, n);
  free(infos);
  return rc;
}

int dp_lsl_list_streams(dp_lsl_stream_info_t **out, size_t *n, double wait_s) {
  return resolve(NULL, 0, wait_s, out, n);
}

int dp_lsl_find_streams(const char *predicate, int minimum, double wait_s,
                        dp_lsl_stream_info_t **out, size_t *n) {
  if (predicate == NULL || predicate[0] == '\0')
    return dp_error_set(DP_EINVAL, "find streams: empty predicate");
  return resolve(predicate, minimum, wait_s, out, n);
}

size_t dp_lsl_stream_describe(const dp_lsl_stream_info_t *info, char *buf, size_t size) {
  const char *fmt = dp_dtype_name((dp_dtype_t)info->channel_format);
  char rate[32];
  if (info->nominal_srate > 0)
    snprintf(rate, sizeof rate, "%g Hz", info->nominal_srate);
  else
    snprintf(rate, sizeof rate, "irregular");
  int len = snprintf(buf, size, "'%s' (%s%s%d ch %s @ %s, source_id '%s', host %s)", info->name,
                     info->type, info->type[0] ? ", " : "", info->channel_count,
                     fmt ? fmt : "undefined", rate, info->source_id, info->hostname);
  return len < 0 ? 0 : (size_t)len;
}

void dp_lsl_describe_visible(char *buf, size_t size, double wait_s) {
  dp_lsl_stream_info_t *list = NULL;
  size_t n = 0;
  if (dp_lsl_list_streams(&list, &n, wait_s) != 0 || n == 0) {
    snprintf(buf, size,
             "no LSL streams are visible (is the outlet running, and on the same "
             "LSL scope? LSLAPICFG=%s)",
             getenv("LSLAPICFG") ? getenv("LSLAPICFG") : "(unset)");
    return;
  }
  size_t len = (size_t)snprintf(buf, size, "visible streams:");
  for (size_t i = 0; i < n && len < size; i++) {
    len += (size_t)snprintf(buf + len, size - len, i ? "; " : " ");
    if (len < size) len += dp_lsl_stream_describe(&list[i], buf + len, size - len);
  }
  dp_lsl_stream_list_free(list, n);
}
