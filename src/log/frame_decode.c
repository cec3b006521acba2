/* frame_decode.c - reassembles log frames from a byte stream and decodes the
 * JSON records of C and Python producers into what the log server writes.
 *
 * Lives in the library (not in dp-logserver) so the fuzz target and the tests
 * drive exactly the code the server runs. Everything here treats its input as
 * hostile: sizes are checked before allocation, JSON and UTF-8 are validated,
 * and every field may have any JSON type.
 *
 * One pass per frame: json_scan.c validates the whole payload and finds the
 * ten fields the line needs, without building a tree; only a value that
 * must be formatted the Python way (args, a msg or name that is no string)
 * is handed to jansson, and only that value. Input the scanner does not
 * accept goes to jansson whole: its error is the one reported, and what it
 * accepts after all (an integer beyond int64, which it reads as a real) is
 * re-written by jansson and scanned again, so every record renders through
 * the same code. */
#include "log/frame.h"

#include "common/error_internal.h"
#include "dareplane/log.h"
#include "log/json_scan.h"
#include "log/pyformat.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

enum {
  F_NAME,
  F_LEVELNAME,
  F_LEVELNO,
  F_CREATED,
  F_MSECS,
  F_RELATIVE,
  F_MSG,
  F_ARGS,
  F_EXC_TEXT,
  F_STACK_INFO,
  N_FIELDS
};

static const char *const field_keys[N_FIELDS] = {
    "name", "levelname", "levelno",  "created",   "msecs", "relativeCreated",
    "msg",  "args",      "exc_text", "stack_info"};

/* One record's fields, found by the scanner. */
typedef struct record {
  dp_json_span_t f[N_FIELDS];
  const char *text[N_FIELDS]; /* strings: their text (len bytes; may hold NULs) */
  size_t len[N_FIELDS];
  dp_textbuf_t scratch; /* the text of strings with escapes */
  char storage[512];
  char *rewritten; /* jansson's re-writing of the payload, when it took that */
  bool failed;     /* out of memory */
  int levelno;
  bool has_level;
  double created, msecs;
} record_t;

static json_t *parse(const char *json, size_t len) {
  json_error_t err;
  json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &err);
  if (root == NULL && json_error_code(&err) == json_error_numeric_overflow)
    root = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
  if (root == NULL)
    dp_error_set(DP_EPARSE, "invalid JSON or UTF-8 at byte %d: %s", err.position, err.text);
  return root;
}

/* Scans the payload into r->f; what the scanner does not take goes to
 * jansson (see the top). */
static int scan(record_t *r, const char *json, size_t len) {
  if (dp_json_scan_object(json, len, field_keys, N_FIELDS, r->f)) return 0;
  json_t *root = parse(json, len);
  if (root == NULL) return DP_EPARSE;
  if (!json_is_object(root)) {
    json_decref(root);
    return dp_error_set(DP_EPARSE, "the record is JSON but not an object");
  }
  r->rewritten = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (r->rewritten == NULL) return dp_error_set(DP_ENOMEM, "no memory to decode a log record");
  if (!dp_json_scan_object(r->rewritten, strlen(r->rewritten), field_keys, N_FIELDS, r->f))
    return dp_error_set(DP_EPARSE, "the record could not be decoded");
  return 0;
}

/* The text of every string field (escapes decoded into r->scratch). */
static void find_texts(record_t *r) {
  size_t at[N_FIELDS];
  for (int i = 0; i < N_FIELDS; i++) {
    const dp_json_span_t *f = &r->f[i];
    if (f->kind != DP_JSON_STRING) continue;
    if (!f->escaped) {
      r->text[i] = f->raw + 1;
      r->len[i] = f->raw_len - 2;
      continue;
    }
    at[i] = r->scratch.len;
    dp_json_unescape(&r->scratch, f);
    r->len[i] = r->scratch.len - at[i];
  }
  r->failed |= dp_textbuf_failed(&r->scratch);
  for (int i = 0; i < N_FIELDS; i++)
    if (r->f[i].kind == DP_JSON_STRING && r->f[i].escaped)
      r->text[i] = r->failed ? "" : r->scratch.data + at[i];
}

/* The value of the n bytes at s when they are a plain decimal -?D+(.D+)?
 * whose digits, read as one integer m, give m <= 2^53: then m and 10^k are
 * exact doubles and their quotient is rounded once, which is exactly what
 * strtod returns. Most numbers of a record are such (created, msecs,
 * relativeCreated, levelno); strtod's general path costs several times
 * more. False for anything else (the caller asks strtod). */
static bool exact_decimal(const char *s, size_t n, double *out) {
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  size_t i = s[0] == '-' ? 1 : 0, digits = 0, point = 0;
  uint64_t m = 0;
  for (; i < n; i++) {
    if (s[i] == '.' && point == 0 && digits > 0) {
      point = digits;
      continue;
    }
    if (s[i] < '0' || s[i] > '9' || ++digits > 16) return false;
    m = m * 10 + (uint64_t)(s[i] - '0');
  }
  size_t k = point > 0 ? digits - point : 0;
  if (digits == 0 || (point > 0 && k == 0) || m > ((uint64_t)1 << 53)) return false;
  double x = (double)m / pow10[k];
  *out = s[0] == '-' ? -x : x;
  return true;
}

/* A field that must be a number, or a string holding one (Dash/waitress),
 * within [lo, hi]. Returns 1 and sets *out, 0 when absent, or DP_EPARSE with
 * a detail naming the field. */
static int field_number(const record_t *r, int i, double lo, double hi, double *out) {
  const dp_json_span_t *f = &r->f[i];
  if (f->kind == DP_JSON_ABSENT) return 0;
  double x = NAN;
  bool is_string = f->kind == DP_JSON_STRING;
  const char *s = is_string ? r->text[i] : f->raw;
  size_t n = is_string ? r->len[i] : f->raw_len;
  if ((f->kind == DP_JSON_NUMBER || is_string) && !(n > 0 && exact_decimal(s, n, &x))) {
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (copy == NULL) return dp_error_set(DP_ENOMEM, "no memory to decode a log record");
    memcpy(copy, s, n);
    copy[n] = '\0';
    char *end;
    x = strtod(copy, &end); /* a JSON number: as jansson reads it */
    if (is_string && (end == copy || *end != '\0')) x = NAN;
    if (copy != small) free(copy);
  }
  if (!isfinite(x)) return dp_error_set(DP_EPARSE, "%s is not a number", field_keys[i]);
  if (x < lo || x > hi)
    return dp_error_set(DP_EPARSE, "%s %g is out of range [%g, %g]", field_keys[i], x, lo, hi);
  *out = x;
  return 1;
}

/* The numbers of the record (see frame.h for their ranges). */
static int read_numbers(record_t *r) {
  double levelno = 0, created = 0, msecs = -1, relative;
  int has_level = field_number(r, F_LEVELNO, -DP_LOG_LEVELNO_MAX, DP_LOG_LEVELNO_MAX, &levelno);
  int has_created = field_number(r, F_CREATED, -DP_LOG_CREATED_MAX, DP_LOG_CREATED_MAX, &created);
  int has_msecs = field_number(r, F_MSECS, -HUGE_VAL, HUGE_VAL, &msecs);
  int has_relative = field_number(r, F_RELATIVE, -HUGE_VAL, HUGE_VAL, &relative);
  if (has_level < 0 || has_created < 0 || has_msecs < 0 || has_relative < 0) return DP_EPARSE;
  if (has_created == 0) {
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    created = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  }
  if (!(msecs >= 0.0 && msecs < 1000.0)) msecs = (created - floor(created)) * 1000.0;
  r->levelno = (int)levelno;
  r->has_level = has_level > 0;
  r->created = created;
  r->msecs = msecs;
  return 0;
}

static void record_close(record_t *r) {
  dp_textbuf_free(&r->scratch);
  free(r->rewritten);
}

/* Finds the fields of a payload and reads its numbers. Close r after. */
static int record_open(record_t *r, const char *json, size_t len) {
  /* r->f is set by the scan; r->text and r->len only for strings, the only
   * fields they are read for */
  dp_textbuf_init(&r->scratch, r->storage, sizeof r->storage);
  r->rewritten = NULL;
  r->failed = false;
  int rc = scan(r, json, len);
  if (rc < 0) return rc;
  find_texts(r);
  if (r->failed) return dp_error_set(DP_ENOMEM, "no memory to decode a log record");
  return read_numbers(r);
}

/* A field's value as jansson's tree (only for what Python formats), or NULL
 * (out of memory: r->failed). Free with json_decref. */
static json_t *field_json(record_t *r, int i) {
  json_t *v = json_loadb(r->f[i].raw, r->f[i].raw_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (v == NULL) r->failed = true;
  return v;
}

/* Appends str(value) of a field; `missing` when absent. */
static void put_str(dp_textbuf_t *b, record_t *r, int i, const char *missing) {
  if (r->f[i].kind == DP_JSON_ABSENT) {
    dp_textbuf_puts(b, missing);
  } else if (r->f[i].kind == DP_JSON_STRING) {
    dp_textbuf_put(b, r->text[i], r->len[i]);
  } else {
    json_t *v = field_json(r, i);
    if (v != NULL) dp_py_str(b, v);
    json_decref(v);
  }
}

/* Starts a text of at most `max` bytes at the end of b; returns its start. */
static size_t text_begin(dp_textbuf_t *b, size_t max) {
  b->limit = b->len + max - NOTE_ROOM;
  b->truncated = false;
  return b->len;
}

/* Ends the text begun at `start`: a NUL that JSON carried inside a string
 * ("\u0000") becomes U+FFFD, since lines are C strings, and text cut at the
 * limit ends with a note saying so. b has no limit after. */
static void text_end(dp_textbuf_t *b, size_t start, size_t max) {
  size_t n = b->len - start;
  if (n > 0 && !dp_textbuf_failed(b) && memchr(b->data + start, '\0', n) != NULL) {
    char *copy = malloc(n);
    if (copy == NULL) {
      b->failed = true;
    } else {
      memcpy(copy, b->data + start, n);
      bool cut = b->truncated;
      b->len = start;
      b->truncated = false;
      for (size_t j = 0; j < n && !b->truncated; j++) {
        if (copy[j] == '\0')
          dp_textbuf_puts(b, "\xEF\xBF\xBD");
        else
          dp_textbuf_putc(b, copy[j]);
      }
      b->truncated |= cut;
      free(copy);
    }
  }
  if (b->truncated) {
    dp_textbuf_trim_utf8(b);
    b->limit = start + max;
    dp_textbuf_printf(b, "... [truncated: longer than %zu bytes]", max);
  }
  b->limit = 0;
  b->truncated = false;
}

/* The text of a string field that carries some (not empty, not "None"), up
 * to a NUL in it; NULL otherwise. */
static const char *field_text(const record_t *r, int i, size_t *n) {
  if (r->f[i].kind != DP_JSON_STRING) return NULL;
  *n = strnlen(r->text[i], r->len[i]);
  return *n > 0 && !(*n == 4 && memcmp(r->text[i], "None", 4) == 0) ? r->text[i] : NULL;
}

/* args that mean "no arguments": absent, null, [], {}, "()" or "". */
static bool no_args(const record_t *r) {
  const dp_json_span_t *a = &r->f[F_ARGS];
  if (a->kind == DP_JSON_ABSENT) return true;
  if (a->kind == DP_JSON_STRING)
    return r->len[F_ARGS] == 0 ||
           (strnlen(r->text[F_ARGS], r->len[F_ARGS]) == 2 && memcmp(r->text[F_ARGS], "()", 2) == 0);
  if (a->kind != DP_JSON_OTHER) return false;
  if (a->raw[0] == 'n') return true; /* null */
  if (a->raw[0] != '[' && a->raw[0] != '{') return false;
  for (size_t i = 1; i + 1 < a->raw_len; i++)
    if (a->raw[i] != ' ' && a->raw[i] != '\t' && a->raw[i] != '\n' && a->raw[i] != '\r')
      return false;
  return true;
}

/* Appends the message as getMessage() renders it, plus exc_text and
 * stack_info, in at most `max` bytes. */
static void put_msg(dp_textbuf_t *b, record_t *r, size_t max) {
  size_t start = text_begin(b, max);
  if (r->f[F_MSG].kind == DP_JSON_ABSENT) {
    /* Python's makeLogRecord default: an empty message */
  } else if (r->f[F_MSG].kind != DP_JSON_STRING || no_args(r)) {
    put_str(b, r, F_MSG, "");
  } else {
    json_t *args = field_json(r, F_ARGS);
    const char *why = NULL;
    if (args != NULL && dp_py_percent(b, r->text[F_MSG], r->len[F_MSG], args, &why) < 0) {
      /* Python would print a logging error and lose the record; keep it. */
      b->len = start;
      b->truncated = false;
      dp_textbuf_put(b, r->text[F_MSG], r->len[F_MSG]);
      dp_textbuf_printf(b, " [args not applied (%s): ", why);
      dp_py_repr(b, args);
      dp_textbuf_putc(b, ']');
    }
    json_decref(args);
  }
  const int extra[2] = {F_EXC_TEXT, F_STACK_INFO};
  for (int i = 0; i < 2; i++) {
    size_t n;
    const char *s = field_text(r, extra[i], &n);
    if (s == NULL) continue;
    dp_textbuf_putc(b, '\n');
    dp_textbuf_put(b, s, n);
  }
  text_end(b, start, max);
}

/* Appends str(name) or str(levelname) in at most DP_LOG_FIELD_MAX bytes. */
static void put_field(dp_textbuf_t *b, record_t *r, int i) {
  size_t start = text_begin(b, DP_LOG_FIELD_MAX);
  if (i == F_NAME) {
    put_str(b, r, i, "None");
  } else if (!r->has_level) {
    put_str(b, r, i, "Level None");
  } else {
    const char *std = dp_log_level_name(r->levelno);
    char unnamed[32];
    if (std == NULL) {
      snprintf(unnamed, sizeof unnamed, "Level %d", r->levelno);
      std = unnamed;
    }
    put_str(b, r, i, std);
  }
  text_end(b, start, DP_LOG_FIELD_MAX);
}

static size_t msg_bound(size_t max_msg) {
  return max_msg < DP_LOG_RENDER_MIN ? DP_LOG_RENDER_MIN : max_msg;
}

/* One text of the record as a heap string: the name (F_NAME), the levelname
 * (F_LEVELNAME) or the message (F_MSG); NULL when out of memory. */
static char *take(record_t *r, int i, size_t max_msg) {
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  if (i == F_MSG)
    put_msg(&b, r, msg_bound(max_msg));
  else
    put_field(&b, r, i);
  if (r->failed) dp_textbuf_free(&b);
  return r->failed ? NULL : dp_textbuf_take(&b);
}

int dp_log_frame_decode(const char *json, size_t len, size_t max_msg, dp_log_decoded_t *out) {
  memset(out, 0, sizeof *out);
  record_t r;
  int rc = record_open(&r, json, len);
  if (rc == 0) {
    out->levelno = r.levelno;
    out->created = r.created;
    out->msecs = r.msecs;
    out->name = take(&r, F_NAME, max_msg);
    out->levelname = take(&r, F_LEVELNAME, max_msg);
    out->msg = take(&r, F_MSG, max_msg);
    if (out->name == NULL || out->levelname == NULL || out->msg == NULL) {
      dp_log_decoded_free(out);
      rc = dp_error_set(DP_ENOMEM, "no memory to decode a log record");
    }
  }
  record_close(&r);
  return rc;
}

/* Appends "<asctime> - <name> - <levelname> - "; returns its length. */
static size_t put_prefix(dp_textbuf_t *b, double created, double msecs) {
  size_t start = b->len;
  char stamp[48];
  dp_log_format_asctime(stamp, sizeof stamp, created, msecs);
  dp_textbuf_puts(b, stamp);
  dp_textbuf_puts(b, " - ");
  return b->len - start;
}

size_t dp_log_decoded_line(const dp_log_decoded_t *d, dp_textbuf_t *b) {
  size_t start = b->len;
  put_prefix(b, d->created, d->msecs);
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
  record_t r;
  int rc = record_open(&r, json, len);
  if (rc == 0) {
    size_t start = line->len;
    put_prefix(line, r.created, r.msecs);
    put_field(line, &r, F_NAME);
    dp_textbuf_puts(line, " - ");
    put_field(line, &r, F_LEVELNAME);
    dp_textbuf_puts(line, " - ");
    *prefix = line->len - start;
    *level = r.levelno;
    put_msg(line, &r, msg_bound(max_msg));
    if (r.failed || dp_textbuf_failed(line))
      rc = dp_error_set(DP_ENOMEM, "no memory for a log line");
  }
  record_close(&r);
  return rc;
}
