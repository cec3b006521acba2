/* fuzz_log_frame.c - libFuzzer target for what dp-logserver runs on
 * untrusted input: the stream reassembler (input cut into two reads at a
 * point the input chooses), then for each frame dp_log_frame_line(), the
 * decoder with Python %-formatting and the line writer, under a small
 * message bound (4 KiB) so that format bombs and huge numbers reach the
 * bounds; a line longer than its documented bound aborts. Also checks one
 * property of the encoder: whatever bytes a message holds, the frame it
 * makes is valid JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/frame.h"

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
  return 0;
}
