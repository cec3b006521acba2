/* error.c - the library-wide error convention: code -> message, and a
 * per-thread record of the last failure with a detail sentence (see error.h). */
#include "common/error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DP_DETAIL_MAX 1024

static _Thread_local int last_code;
static _Thread_local char last_detail[DP_DETAIL_MAX];

const char *dp_strerror(int code) {
  if (code == 0) return "success";
#define DP_STRERROR_CASE(name, value, msg)                                                         \
  case value: return msg;
  switch (code) { DP_ERRNO_MAP(DP_STRERROR_CASE) default : break; }
#undef DP_STRERROR_CASE
  return "unknown error";
}

const char *dp_err_name(int code) {
  if (code == 0) return "DP_OK";
#define DP_ERRNAME_CASE(name, value, msg)                                                          \
  case value: return #name;
  switch (code) { DP_ERRNO_MAP(DP_ERRNAME_CASE) default : break; }
#undef DP_ERRNAME_CASE
  return "DP_E?";
}

int dp_error_set(int code, const char *fmt, ...) {
  last_code = code;
  if (fmt == NULL) {
    last_detail[0] = '\0';
    return code;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_detail, sizeof last_detail, fmt, ap);
  va_end(ap);
  return code;
}

const char *dp_error_detail(void) {
  return last_detail[0] != '\0' ? last_detail : dp_strerror(last_code);
}

int dp_error_last(void) {
  return last_code;
}
