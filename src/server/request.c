/* request.c - a handler's view of one command: the positional and keyword
 * arguments (jansson stays behind these accessors) and replies to the client
 * that asked. */
#include "server/server_internal.h"

#include "common/error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dp_request_command(const dp_request_t *req) {
  return req->cmd->name;
}

dp_server_t *dp_request_server(const dp_request_t *req) {
  return req->srv;
}

uint64_t dp_request_client(const dp_request_t *req) {
  return req->conn != NULL ? req->conn->id : 0;
}

size_t dp_request_nargs(const dp_request_t *req) {
  return req->cmd->nargs;
}

const char *dp_request_arg(const dp_request_t *req, size_t i) {
  return i < req->cmd->nargs ? req->cmd->args[i] : NULL;
}

static json_t *value(const dp_request_t *req, const char *key) {
  return req->cmd->kwargs != NULL && key != NULL ? json_object_get(req->cmd->kwargs, key) : NULL;
}

static void wrong_type(const dp_request_t *req, const char *key, const char *wanted) {
  static const char fmt[] = "%s: keyword argument %s is not %s; using the default";
  if (req->conn != NULL) /* within the client's log budget */
    dp_conn_log(req->conn, DP_LOG_WARNING, fmt, req->cmd->name, key, wanted);
  else
    dp_log_warning(dp_log_get("dareplane.server"), fmt, req->cmd->name, key, wanted);
}

bool dp_request_has(const dp_request_t *req, const char *key) {
  return value(req, key) != NULL;
}

int64_t dp_request_int(const dp_request_t *req, const char *key, int64_t def) {
  json_t *v = value(req, key);
  if (v == NULL) return def;
  if (json_is_integer(v)) return (int64_t)json_integer_value(v);
  if (json_is_real(v)) { /* an integral real such as 4.0 (no libm needed) */
    double d = json_real_value(v);
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d) return (int64_t)d;
  }
  wrong_type(req, key, "an integer");
  return def;
}

double dp_request_double(const dp_request_t *req, const char *key, double def) {
  json_t *v = value(req, key);
  if (v == NULL) return def;
  if (json_is_number(v)) return json_number_value(v);
  wrong_type(req, key, "a number");
  return def;
}

bool dp_request_bool(const dp_request_t *req, const char *key, bool def) {
  json_t *v = value(req, key);
  if (v == NULL) return def;
  if (json_is_boolean(v)) return json_is_true(v);
  wrong_type(req, key, "true or false");
  return def;
}

const char *dp_request_string(const dp_request_t *req, const char *key, const char *def) {
  json_t *v = value(req, key);
  if (v == NULL) return def;
  if (json_is_string(v)) return json_string_value(v);
  wrong_type(req, key, "a string");
  return def;
}

const char *dp_request_json(const dp_request_t *req, const char *key, const char *def) {
  json_t *v = value(req, key);
  if (v == NULL) return def;
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == NULL) return def;
  free(req->scratch); /* the previous text: documented as valid until the next call */
  ((dp_request_t *)req)->scratch = text;
  return text;
}

size_t dp_request_nkeys(const dp_request_t *req) {
  return req->cmd->kwargs != NULL ? json_object_size(req->cmd->kwargs) : 0;
}

const char *dp_request_key(const dp_request_t *req, size_t i) {
  if (req->cmd->kwargs == NULL) return NULL;
  const char *key;
  json_t *v;
  size_t k = 0;
  json_object_foreach(req->cmd->kwargs, key, v) {
    if (k++ == i) return key;
  }
  return NULL;
}

int dp_request_reply(dp_request_t *req, const char *data, size_t len) {
  if (req->conn == NULL) return dp_error_set(DP_ECLOSED, "the request has no client");
  dp_conn_send(req->conn, data, len);
  return 0;
}

int dp_request_replyf(dp_request_t *req, const char *fmt, ...) {
  char small[512];
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  int rc;
  if (n < 0) {
    rc = dp_error_set(DP_EINVAL, "bad reply format %s", fmt);
  } else if ((size_t)n < sizeof small) {
    rc = dp_request_reply(req, small, (size_t)n);
  } else {
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
      rc = dp_error_set(DP_ENOMEM, "no memory for a reply of %d bytes", n);
    } else {
      vsnprintf(big, (size_t)n + 1, fmt, ap2);
      rc = dp_request_reply(req, big, (size_t)n);
      free(big);
    }
  }
  va_end(ap2);
  return rc;
}

void dp_request_release(dp_request_t *req) {
  free(req->scratch);
  req->scratch = NULL;
}
