/* fuzz_log_frame.c - libFuzzer target for the log frame code the log server
 * runs on untrusted input: the stream reassembler (input cut into two reads
 * at a point the input chooses), the record decoder with Python
 * %-formatting, and the line writer. Also checks one property of the encoder:
 * whatever bytes a message holds, the frame it makes is valid JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/frame.h"

static int on_frame(void *ctx, const char *json, size_t len) {
  (void)ctx;
  dp_log_decoded_t d;
  if (dp_log_frame_decode(json, len, &d) < 0) return -1;
  dp_textbuf_t line;
  dp_textbuf_init(&line, NULL, 0);
  dp_log_decoded_line(&d, &line);
  dp_textbuf_free(&line);
  dp_log_decoded_free(&d);
  return 0;
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
  dp_log_frame_reader_init(&r, 64 * 1024);
  if (dp_log_frame_reader_feed(&r, p, cut, on_frame, NULL) == 0 &&
      dp_log_frame_reader_feed(&r, p + cut, size - cut, on_frame, NULL) == 0)
    dp_log_frame_reader_finish(&r);
  dp_log_frame_reader_free(&r);
  on_frame(NULL, p, size); /* the whole input as one payload */
  encoder_makes_valid_json(data, size);
  return 0;
}
