/* fuzz_log_frame.c - libFuzzer target for what dp-logserver runs on
 * untrusted input: the stream reassembler (input cut into two reads at a
 * point the input chooses), then for each frame dp_log_frame_line(), the
 * decoder with Python %-formatting and the line writer, under a small
 * message bound (4 KiB) so that format bombs and huge numbers reach the
 * bounds; a line longer than its documented bound aborts. Also checks one
 * property of the encoder: whatever bytes a message holds, the frame it
 * makes is valid JSON. And the decoder's scanner against jansson: it accepts
 * a payload exactly when jansson parses it without an integer overflow, and
 * the line of an accepted payload is the line of jansson's re-writing of it
 * (the path a payload the scanner refuses takes); and the scanner's SIMD
 * path against its portable one: the same verdict and the same spans. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/frame.h"
#include "log/json_scan.h"

#define MAX_FRAME ((size_t)64 * 1024)
#define MAX_MSG   ((size_t)4096)

static int on_frame(void *ctx, const char *json, size_t len) {
  (void)ctx;
  char storage[512];
  dp_textbuf_t line;
  dp_textbuf_init(&line, storage, sizeof storage);
  int level;
  size_t prefix;
  int rc = dp_log_frame_line(json, len, MAX_MSG, &line, &level, &prefix);
  if (rc == 0 && (line.len > MAX_MSG + 2 * DP_LOG_FIELD_MAX + 32 || prefix > line.len))
    abort(); /* the documented bound of a line does not hold */
  dp_textbuf_free(&line);
  return rc;
}

static void encoder_makes_valid_json(const uint8_t *data, size_t size) {
  dp_log_record_t rec = {.name = "fuzz",
                         .level = 20,
                         .msg = (const char *)data,
                         .msg_len = size,
                         .pathname = "",
                         .func = "",
                         .thread_name = "T",
                         .process_name = "P"};
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_log_frame_encode(&rec, &b);
  json_error_t err;
  json_t *root =
      dp_textbuf_failed(&b) ? NULL : json_loadb(b.data + 4, b.len - 4, JSON_ALLOW_NUL, &err);
  if (!dp_textbuf_failed(&b) && root == NULL) abort(); /* the encoder made invalid JSON */
  json_decref(root);
  dp_textbuf_free(&b);
}

/* The line of a payload, or NULL when it is refused. */
static char *line_of(const char *json, size_t len) {
  dp_textbuf_t line;
  dp_textbuf_init(&line, NULL, 0);
  int level;
  size_t prefix;
  if (dp_log_frame_line(json, len, MAX_MSG, &line, &level, &prefix) < 0) {
    dp_textbuf_free(&line);
    return NULL;
  }
  return dp_textbuf_take(&line);
}

static void scanner_agrees_with_jansson(const char *json, size_t len) {
  static const char *const keys[] = {"created", "msg"};
  dp_json_span_t spans[2];
  bool scanned = dp_json_scan_object(json, len, keys, 2, spans);
  dp_json_span_t portable[2];
  if (dp_json_scan_object_portable(json, len, keys, 2, portable) != scanned) abort();
  for (int i = 0; scanned && i < 2; i++)
    if (portable[i].kind != spans[i].kind || portable[i].raw != spans[i].raw ||
        portable[i].raw_len != spans[i].raw_len || portable[i].escaped != spans[i].escaped)
      abort();
  json_error_t err;
  json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &err);
  bool overflow = root == NULL && json_error_code(&err) == json_error_numeric_overflow;
  if (scanned != (root != NULL && json_is_object(root)) && !overflow) abort();
  /* the same line either way (a record without created takes the time of
   * decoding, which may differ between the two) */
  if (scanned && spans[0].kind != DP_JSON_ABSENT) {
    char *dump = json_dumps(root, JSON_COMPACT);
    char *a = line_of(json, len), *b = dump != NULL ? line_of(dump, strlen(dump)) : NULL;
    if (dump != NULL && (a == NULL) != (b == NULL)) abort();
    if (a != NULL && b != NULL && strcmp(a, b) != 0) abort();
    free(a);
    free(b);
    free(dump);
  }
  json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  dp_log_frame_reader_t r;
  dp_log_frame_reader_init(&r, MAX_FRAME);
  if (dp_log_frame_reader_feed(&r, p, cut, on_frame, NULL) == 0 &&
      dp_log_frame_reader_feed(&r, p + cut, size - cut, on_frame, NULL) == 0)
    dp_log_frame_reader_finish(&r);
  dp_log_frame_reader_free(&r);
  on_frame(NULL, p, size); /* the whole input as one payload */
  encoder_makes_valid_json(data, size);
  scanner_agrees_with_jansson(p, size);
  return 0;
}
