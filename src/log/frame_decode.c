/* frame_decode.c - reassembles log frames from a byte stream and decodes the
 * JSON records of C and Python producers into what the log server writes.
 *
 * Lives in the library (not in dp-logserver) so the fuzz target and the tests
 * drive exactly the code the server runs. Everything here treats its input as
 * hostile: sizes are checked before allocation, JSON and UTF-8 are validated
 * by jansson, and every field may have any JSON type. */
#include "log/frame.h"

#include "common/error_internal.h"
#include "dareplane/log.h"
#include "log/pyformat.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void dp_log_frame_reader_init(dp_log_frame_reader_t *r, size_t max_frame) {
  memset(r, 0, sizeof *r);
  r->max_frame = max_frame;
}

void dp_log_frame_reader_free(dp_log_frame_reader_t *r) {
  free(r->payload);
  dp_log_frame_reader_init(r, r->max_frame);
}

int dp_log_frame_reader_feed(dp_log_frame_reader_t *r, const char *data, size_t n,
                             dp_log_frame_cb cb, void *ctx) {
  while (n > 0) {
    if (r->head_len < 4) { /* still reading a length prefix */
      size_t k = 4 - r->head_len < n ? 4 - r->head_len : n;
      memcpy(r->head + r->head_len, data, k);
      r->head_len += k;
      data += k;
      n -= k;
      if (r->head_len < 4) break;
      r->need = (size_t)r->head[0] << 24 | (size_t)r->head[1] << 16 | (size_t)r->head[2] << 8 |
                (size_t)r->head[3];
      r->have = 0;
      if (r->need > r->max_frame)
        return dp_error_set(DP_ETOOBIG, "frame of %zu bytes exceeds the limit of %zu bytes",
                            r->need, r->max_frame);
      if (n >= r->need) { /* the whole payload is here: no copy */
        int rc = cb(ctx, data, r->need);
        data += r->need;
        n -= r->need;
        r->head_len = 0;
        if (rc < 0) return rc;
        continue;
      }
      if (n == 0) break;
    }
    size_t k = r->need - r->have < n ? r->need - r->have : n;
    if (r->have + k > r->cap) {
      size_t cap = r->cap < 4096 ? 4096 : r->cap;
      while (cap < r->have + k) cap *= 2;
      if (cap > r->need) cap = r->need;
      char *p = realloc(r->payload, cap);
      if (p == NULL) return dp_error_set(DP_ENOMEM, "no memory for a log frame");
      r->payload = p;
      r->cap = cap;
    }
    memcpy(r->payload + r->have, data, k);
    r->have += k;
    data += k;
    n -= k;
    if (r->have == r->need) {
      int rc = cb(ctx, r->payload, r->need);
      free(r->payload);
      r->payload = NULL;
      r->cap = 0;
      r->head_len = 0;
      if (rc < 0) return rc;
    }
  }
  return 0;
}

int dp_log_frame_reader_finish(const dp_log_frame_reader_t *r) {
  if (r->head_len == 0) return 0;
  if (r->head_len < 4)
    return dp_error_set(DP_EPARSE, "stream ended inside a length prefix (%zu of 4 bytes)",
                        r->head_len);
  return dp_error_set(DP_EPARSE, "stream ended inside a frame (%zu of %zu bytes)", r->have,
                      r->need);
}

/* ---- record decoding ----------------------------------------------------- */

void dp_log_decoded_free(dp_log_decoded_t *d) {
  free(d->name);
  free(d->levelname);
  free(d->msg);
  memset(d, 0, sizeof *d);
}

/* Room kept under a limit for the truncation note. */
#define NOTE_ROOM 64

/* A buffer for text of at most `max` bytes (NOTE_ROOM of it for the note). */
static void init_limited(dp_textbuf_t *b, size_t max) {
  dp_textbuf_init(b, NULL, 0);
  b->limit = max - NOTE_ROOM;
}

/* The buffer's text as a C string (heap) of at most `max` bytes: a NUL that
 * JSON carried inside a string ("\u0000") becomes U+FFFD, since lines are C
 * strings, and text cut at the limit ends with a note saying so. */
static char *take_text(dp_textbuf_t *b, size_t max) {
  for (size_t i = 0; i < b->len && !dp_textbuf_failed(b); i++) {
    if (b->data[i] != '\0') continue;
    dp_textbuf_t fixed;
    init_limited(&fixed, max);
    for (size_t j = 0; j < b->len && !fixed.truncated; j++) {
      if (b->data[j] == '\0')
        dp_textbuf_puts(&fixed, "\xEF\xBF\xBD");
      else
        dp_textbuf_putc(&fixed, b->data[j]);
    }
    fixed.truncated |= b->truncated;
    dp_textbuf_free(b);
    *b = fixed;
    break;
  }
  if (b->truncated) {
    dp_textbuf_trim_utf8(b);
    b->limit = max;
    dp_textbuf_printf(b, "... [truncated: longer than %zu bytes]", max);
  }
  return dp_textbuf_take(b);
}

/* str(value) of a field as a heap string of at most DP_LOG_FIELD_MAX bytes;
 * `missing` when absent. */
static char *field_str(const json_t *obj, const char *key, const char *missing) {
  const json_t *v = json_object_get(obj, key);
  dp_textbuf_t b;
  init_limited(&b, DP_LOG_FIELD_MAX);
  if (v == NULL)
    dp_textbuf_puts(&b, missing);
  else
    dp_py_str(&b, v);
  return take_text(&b, DP_LOG_FIELD_MAX);
}

/* A field that must be a number, or a string holding one (Dash/waitress),
 * within [lo, hi]. Returns 1 and sets *out, 0 when absent, or DP_EPARSE with
 * a detail naming the field. */
static int field_number(const json_t *obj, const char *key, double lo, double hi, double *out) {
  const json_t *v = json_object_get(obj, key);
  if (v == NULL) return 0;
  const char *s = json_string_value(v);
  char *end = NULL;
  double x = NAN;
  if (json_is_number(v)) {
    x = json_number_value(v);
  } else if (s != NULL) {
    x = strtod(s, &end);
    if (end == s || *end != '\0') x = NAN;
  }
  if (!isfinite(x)) return dp_error_set(DP_EPARSE, "%s is not a number", key);
  if (x < lo || x > hi)
    return dp_error_set(DP_EPARSE, "%s %g is out of range [%g, %g]", key, x, lo, hi);
  *out = x;
  return 1;
}

/* True for a string field that carries text (not empty, not "None"). */
static const char *field_text(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s != NULL && s[0] != '\0' && strcmp(s, "None") != 0 ? s : NULL;
}

/* The message as getMessage() renders it, plus exc_text and stack_info, in
 * at most `max` bytes. */
static char *render_msg(const json_t *obj, size_t max) {
  const json_t *msg = json_object_get(obj, "msg");
  const json_t *args = json_object_get(obj, "args");
  dp_textbuf_t b;
  init_limited(&b, max);
  bool no_args = args == NULL || json_is_null(args) ||
                 (json_is_array(args) && json_array_size(args) == 0) ||
                 (json_is_object(args) && json_object_size(args) == 0) ||
                 (json_is_string(args) &&
                  (strcmp(json_string_value(args), "()") == 0 || json_string_length(args) == 0));
  if (msg == NULL) {
    /* Python's makeLogRecord default: an empty message */
  } else if (!json_is_string(msg) || no_args) {
    dp_py_str(&b, msg);
  } else {
    const char *why = NULL;
    if (dp_py_percent(&b, json_string_value(msg), json_string_length(msg), args, &why) < 0) {
      /* Python would print a logging error and lose the record; keep it. */
      b.len = 0;
      b.truncated = false;
      dp_py_str(&b, msg);
      dp_textbuf_printf(&b, " [args not applied (%s): ", why);
      dp_py_repr(&b, args);
      dp_textbuf_putc(&b, ']');
    }
  }
  const char *extra[2] = {field_text(obj, "exc_text"), field_text(obj, "stack_info")};
  for (int i = 0; i < 2; i++) {
    if (extra[i] == NULL) continue;
    dp_textbuf_putc(&b, '\n');
    dp_textbuf_puts(&b, extra[i]);
  }
  return take_text(&b, max);
}

static json_t *parse(const char *json, size_t len) {
  json_error_t err;
  json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &err);
  if (root == NULL && json_error_code(&err) == json_error_numeric_overflow)
    root = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
  if (root == NULL)
    dp_error_set(DP_EPARSE, "invalid JSON or UTF-8 at byte %d: %s", err.position, err.text);
  return root;
}

int dp_log_frame_decode(const char *json, size_t len, size_t max_msg, dp_log_decoded_t *out) {
  memset(out, 0, sizeof *out);
  json_t *root = parse(json, len);
  if (root == NULL) return DP_EPARSE;
  int rc = 0;
  if (!json_is_object(root)) {
    rc = dp_error_set(DP_EPARSE, "the record is JSON but not an object");
    goto done;
  }
  /* Every number read from the frame, with its range (see frame.h). */
  double levelno = 0, created = 0, msecs = -1, relative;
  int has_level = field_number(root, "levelno", -DP_LOG_LEVELNO_MAX, DP_LOG_LEVELNO_MAX, &levelno);
  int has_created =
      field_number(root, "created", -DP_LOG_CREATED_MAX, DP_LOG_CREATED_MAX, &created);
  int has_msecs = field_number(root, "msecs", -HUGE_VAL, HUGE_VAL, &msecs);
  int has_relative = field_number(root, "relativeCreated", -HUGE_VAL, HUGE_VAL, &relative);
  if (has_level < 0 || has_created < 0 || has_msecs < 0 || has_relative < 0) {
    rc = DP_EPARSE;
    goto done;
  }
  if (has_created == 0) {
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    created = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  }
  if (!(msecs >= 0.0 && msecs < 1000.0)) msecs = (created - floor(created)) * 1000.0;
  out->levelno = (int)levelno;
  out->created = created;
  out->msecs = msecs;
  const char *std = dp_log_level_name(out->levelno);
  char unnamed[32];
  if (std == NULL) {
    snprintf(unnamed, sizeof unnamed, "Level %d", out->levelno);
    std = unnamed;
  }
  out->name = field_str(root, "name", "None");
  out->levelname = field_str(root, "levelname", has_level ? std : "Level None");
  out->msg = render_msg(root, max_msg < DP_LOG_RENDER_MIN ? DP_LOG_RENDER_MIN : max_msg);
  if (out->name == NULL || out->levelname == NULL || out->msg == NULL) {
    dp_log_decoded_free(out);
    rc = dp_error_set(DP_ENOMEM, "no memory to decode a log record");
  }
done:
  json_decref(root);
  return rc;
}

size_t dp_log_decoded_line(const dp_log_decoded_t *d, dp_textbuf_t *b) {
  size_t start = b->len;
  char stamp[48];
  dp_log_format_asctime(stamp, sizeof stamp, d->created, d->msecs);
  dp_textbuf_puts(b, stamp);
  dp_textbuf_puts(b, " - ");
  dp_textbuf_puts(b, d->name);
  dp_textbuf_puts(b, " - ");
  dp_textbuf_puts(b, d->levelname);
  dp_textbuf_puts(b, " - ");
  size_t prefix = b->len - start;
  dp_textbuf_puts(b, d->msg);
  return prefix;
}

int dp_log_frame_line(const char *json, size_t len, size_t max_msg, dp_textbuf_t *line, int *level,
                      size_t *prefix) {
  dp_log_decoded_t rec;
  int rc = dp_log_frame_decode(json, len, max_msg, &rec);
  if (rc < 0) return rc;
  *level = rec.levelno;
  *prefix = dp_log_decoded_line(&rec, line);
  dp_log_decoded_free(&rec);
  return dp_textbuf_failed(line) ? dp_error_set(DP_ENOMEM, "no memory for a log line") : 0;
}
