/* frame_encode.c - turns a log record into the frame that dareplane_utils'
 * UJsonSocketHandler would send for the same record, so the Python log server
 * (and ours) renders a C record exactly like a Python one.
 *
 * Written by hand rather than through jansson: it runs on the logging thread,
 * and one pass over a stack buffer is much cheaper than building a tree. */
#include "log/frame.h"

#include "dareplane/log.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float as a JSON number that Python reads back as a float: the shortest
 * of %.15g..%.17g that round-trips, always with a '.' or an exponent. */
static void put_float(dp_textbuf_t *b, double v) {
  if (!isfinite(v)) v = 0.0; /* JSON has no inf/nan */
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (prec == 17 || strtod(tmp, NULL) == v) break;
  }
  dp_textbuf_puts(b, tmp);
  if (strpbrk(tmp, ".eE") == NULL) dp_textbuf_puts(b, ".0");
}

static void put_key(dp_textbuf_t *b, const char *key) {
  dp_textbuf_printf(b, ",\"%s\":", key);
}

static void put_str_field(dp_textbuf_t *b, const char *key, const char *s, size_t n) {
  put_key(b, key);
  dp_textbuf_put_json_string(b, s, n);
}

void dp_log_frame_encode(const dp_log_record_t *rec, dp_textbuf_t *b) {
  size_t start = b->len;
  dp_textbuf_put(b, "\0\0\0\0", 4); /* length, patched below */

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
  put_key(b, "msg");
  if (rec->msg_len > DP_LOG_MSG_MAX) {
    dp_textbuf_t cut;
    dp_textbuf_init(&cut, NULL, 0);
    dp_textbuf_put(&cut, rec->msg, DP_LOG_MSG_MAX);
    dp_textbuf_printf(&cut, " [... %zu more bytes cut]", rec->msg_len - DP_LOG_MSG_MAX);
    dp_textbuf_put_json_string(b, cut.data, cut.len);
    if (dp_textbuf_failed(&cut)) b->failed = true;
    dp_textbuf_free(&cut);
  } else {
    dp_textbuf_put_json_string(b, rec->msg, rec->msg_len);
  }
  dp_textbuf_puts(b, ",\"args\":[]");
  put_str_field(b, "levelname", levelname, strlen(levelname));
  dp_textbuf_printf(b, ",\"levelno\":%d", rec->level);
  put_str_field(b, "pathname", path, strlen(path));
  put_str_field(b, "filename", file, strlen(file));
  put_str_field(b, "module", file, module_len);
  dp_textbuf_puts(b, ",\"exc_info\":null,\"exc_text\":null,\"stack_info\":null");
  dp_textbuf_printf(b, ",\"lineno\":%d", rec->lineno);
  put_str_field(b, "funcName", rec->func, strlen(rec->func));
  put_key(b, "created");
  put_float(b, rec->created);
  put_key(b, "msecs");
  put_float(b, floor((rec->created - floor(rec->created)) * 1000.0));
  put_key(b, "relativeCreated");
  put_float(b, rec->relative_ms);
  dp_textbuf_printf(b, ",\"thread\":%" PRIu64, rec->thread);
  put_str_field(b, "threadName", rec->thread_name, strlen(rec->thread_name));
  put_str_field(b, "processName", rec->process_name, strlen(rec->process_name));
  dp_textbuf_printf(b, ",\"process\":%" PRId64 ",\"taskName\":null}", rec->process);

  if (dp_textbuf_failed(b)) return;
  size_t n = b->len - start - 4;
  unsigned char *h = (unsigned char *)b->data + start;
  h[0] = (unsigned char)(n >> 24);
  h[1] = (unsigned char)(n >> 16);
  h[2] = (unsigned char)(n >> 8);
  h[3] = (unsigned char)n;
}
