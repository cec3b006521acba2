/* frame_encode.c - turns a log record into the frame that dareplane_utils'
 * UJsonSocketHandler would send for the same record, so the Python log server
 * (and ours) renders a C record exactly like a Python one.
 *
 * Written by hand rather than through jansson: it runs on the logging thread,
 * and one pass over a stack buffer is much cheaper than building a tree. */
#include "log/frame.h"

#include "dareplane/log.h"

#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers and fixed-point numbers are written by hand: printf's float
 * path costs more than the whole rest of a record. */
static void put_uint(dp_textbuf_t *b, uint64_t v) {
  char tmp[24];
  size_t i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  dp_textbuf_put(b, tmp + i, sizeof tmp - i);
}

static void put_int(dp_textbuf_t *b, int64_t v) {
  if (v < 0) dp_textbuf_putc(b, '-');
  put_uint(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* v with exactly 6 decimals (microseconds of a time in seconds, or
 * nanoseconds of one in milliseconds): a JSON number Python reads as a
 * float. Values JSON cannot carry, or beyond +-9e12, become 0.0. */
static void put_fixed6(dp_textbuf_t *b, double v) {
  if (!isfinite(v) || v > 9e12 || v < -9e12) v = 0.0;
  if (v < 0) {
    dp_textbuf_putc(b, '-');
    v = -v;
  }
  uint64_t micro = (uint64_t)(v * 1e6 + 0.5);
  put_uint(b, micro / 1000000u);
  char frac[8];
  uint64_t f = micro % 1000000u;
  frac[0] = '.';
  for (int i = 6; i >= 1; i--, f /= 10) frac[i] = (char)('0' + f % 10);
  dp_textbuf_put(b, frac, 7);
}

static void put_key(dp_textbuf_t *b, const char *key_with_punctuation) {
  dp_textbuf_puts(b, key_with_punctuation);
}

static void put_str_field(dp_textbuf_t *b, const char *key, const char *s, size_t n) {
  put_key(b, key);
  dp_textbuf_put_json_string(b, s, n);
}

/* The message as a JSON string, its first `keep` bytes only when shorter
 * than `len`, then marked as cut. */
static void put_msg(dp_textbuf_t *b, const char *msg, size_t len, size_t keep) {
  if (keep >= len) {
    dp_textbuf_put_json_string(b, msg, len);
    return;
  }
  dp_textbuf_t cut;
  dp_textbuf_init(&cut, NULL, 0);
  dp_textbuf_put(&cut, msg, keep);
  dp_textbuf_printf(&cut, " [... %zu more bytes cut]", len - keep);
  dp_textbuf_put_json_string(b, cut.data, cut.len);
  if (dp_textbuf_failed(&cut)) b->failed = true;
  dp_textbuf_free(&cut);
}

static void encode(const dp_log_record_t *rec, size_t keep, dp_textbuf_t *b);

void dp_log_frame_encode(const dp_log_record_t *rec, dp_textbuf_t *b) {
  size_t start = b->len;
  size_t keep = rec->msg_len < DP_LOG_MSG_MAX ? rec->msg_len : DP_LOG_MSG_MAX;
  /* Escaping can make a message up to 6 times longer: cut more until the
   * frame fits the server's default limit. */
  for (;;) {
    encode(rec, keep, b);
    if (dp_textbuf_failed(b) || b->len - start - 4 <= DP_LOG_FRAME_MAX_DEFAULT || keep == 0) break;
    b->len = start;
    keep /= 2;
  }
  if (dp_textbuf_failed(b)) return;
  size_t n = b->len - start - 4;
  unsigned char *h = (unsigned char *)b->data + start;
  h[0] = (unsigned char)(n >> 24);
  h[1] = (unsigned char)(n >> 16);
  h[2] = (unsigned char)(n >> 8);
  h[3] = (unsigned char)n;
}

/* One attempt: the length prefix (zero for now) and the JSON object. */
static void encode(const dp_log_record_t *rec, size_t keep, dp_textbuf_t *b) {
  dp_textbuf_put(b, "\0\0\0\0", 4);

  const char *path = rec->pathname;
  const char *file = strrchr(path, '/');
  file = file != NULL ? file + 1 : path;
  const char *dot = strrchr(file, '.');
  size_t module_len = dot != NULL && dot != file ? (size_t)(dot - file) : strlen(file);
  const char *levelname = dp_log_level_name(rec->level);
  char unnamed[24];
  if (levelname == NULL) {
    snprintf(unnamed, sizeof unnamed, "Level %d", rec->level);
    levelname = unnamed;
  }

  dp_textbuf_puts(b, "{\"name\":");
  dp_textbuf_put_json_string(b, rec->name, strlen(rec->name));
  put_key(b, ",\"msg\":");
  put_msg(b, rec->msg, rec->msg_len, keep);
  dp_textbuf_puts(b, ",\"args\":[]");
  put_str_field(b, ",\"levelname\":", levelname, strlen(levelname));
  put_key(b, ",\"levelno\":");
  put_int(b, rec->level);
  put_str_field(b, ",\"pathname\":", path, strlen(path));
  put_str_field(b, ",\"filename\":", file, strlen(file));
  put_str_field(b, ",\"module\":", file, module_len);
  dp_textbuf_puts(b, ",\"exc_info\":null,\"exc_text\":null,\"stack_info\":null");
  put_key(b, ",\"lineno\":");
  put_int(b, rec->lineno);
  put_str_field(b, ",\"funcName\":", rec->func, strlen(rec->func));
  put_key(b, ",\"created\":");
  put_fixed6(b, rec->created);
  put_key(b, ",\"msecs\":");
  double msecs =
      isfinite(rec->created) ? floor((rec->created - floor(rec->created)) * 1000.0) : 0.0;
  put_int(b, (int64_t)msecs);
  dp_textbuf_puts(b, ".0");
  put_key(b, ",\"relativeCreated\":");
  put_fixed6(b, rec->relative_ms);
  put_key(b, ",\"thread\":");
  put_uint(b, rec->thread);
  put_str_field(b, ",\"threadName\":", rec->thread_name, strlen(rec->thread_name));
  put_str_field(b, ",\"processName\":", rec->process_name, strlen(rec->process_name));
  put_key(b, ",\"process\":");
  put_int(b, rec->process);
  dp_textbuf_puts(b, ",\"taskName\":null}");
}
