/* test_log_frame.c - the log frame: encoding a record (fields, JSON types,
 * invalid UTF-8), reassembling frames from a stream cut anywhere, decoding C
 * and Python/Dash records, Python %-formatting of args, and every kind of bad
 * input the log server must reject. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

#include "dareplane/log.h"
#include "log/frame.h"

static dp_log_record_t sample_record(const char *msg, size_t len) {
  dp_log_record_t rec = {
      .name = "mod.area1",
      .level = DP_LOG_INFO,
      .msg = msg,
      .msg_len = len,
      .pathname = "/src/mod/decoder.c",
      .lineno = 42,
      .func = "decode",
      .created = 1795461145.3227584,
      .relative_ms = 12.5,
      .thread = 139706147388288u,
      .thread_name = "MainThread",
      .process = 9263,
      .process_name = "MainProcess",
      .network = true,
  };
  return rec;
}

/* Encodes rec and returns the parsed JSON payload after checking the prefix. */
static json_t *encode_parse(const dp_log_record_t *rec) {
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_log_frame_encode(rec, &b);
  assert_false(dp_textbuf_failed(&b));
  assert_true(b.len > 4);
  const unsigned char *h = (const unsigned char *)b.data;
  size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
  assert_int_equal(n, b.len - 4);
  json_error_t err;
  json_t *root = json_loadb(b.data + 4, n, 0, &err);
  assert_non_null(root);
  dp_textbuf_free(&b);
  return root;
}

static void encode_has_python_fields_and_types(void **state) {
  (void)state;
  dp_log_record_t rec = sample_record("hello \"x\"\n", 10);
  json_t *o = encode_parse(&rec);
  static const struct {
    const char *key;
    json_type type;
  } fields[] = {
      {"name", JSON_STRING},          {"msg", JSON_STRING},      {"args", JSON_ARRAY},
      {"levelname", JSON_STRING},     {"levelno", JSON_INTEGER}, {"pathname", JSON_STRING},
      {"filename", JSON_STRING},      {"module", JSON_STRING},   {"exc_info", JSON_NULL},
      {"exc_text", JSON_NULL},        {"stack_info", JSON_NULL}, {"lineno", JSON_INTEGER},
      {"funcName", JSON_STRING},      {"created", JSON_REAL},    {"msecs", JSON_REAL},
      {"relativeCreated", JSON_REAL}, {"thread", JSON_INTEGER},  {"threadName", JSON_STRING},
      {"processName", JSON_STRING},   {"process", JSON_INTEGER}, {"taskName", JSON_NULL},
  };
  assert_int_equal(json_object_size(o), sizeof fields / sizeof fields[0]);
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    json_t *v = json_object_get(o, fields[i].key);
    assert_non_null(v);
    assert_int_equal(json_typeof(v), fields[i].type);
  }
  assert_string_equal(json_string_value(json_object_get(o, "msg")), "hello \"x\"\n");
  assert_string_equal(json_string_value(json_object_get(o, "levelname")), "INFO");
  assert_string_equal(json_string_value(json_object_get(o, "filename")), "decoder.c");
  assert_string_equal(json_string_value(json_object_get(o, "module")), "decoder");
  assert_int_equal(json_integer_value(json_object_get(o, "thread")), 139706147388288);
  assert_true(fabs(json_real_value(json_object_get(o, "created")) - 1795461145.3227584) < 1e-6);
  assert_true(json_real_value(json_object_get(o, "msecs")) == 322.0);
  json_decref(o);
}

static void encode_repairs_invalid_utf8(void **state) {
  (void)state;
  const char bad[] = "a\xff"
                     "b\xc3"
                     "c\xed\xa0\x80"
                     "d\xc3\xa9";
  dp_log_record_t rec = sample_record(bad, sizeof bad - 1);
  json_t *o = encode_parse(&rec); /* jansson validates UTF-8 */
  assert_string_equal(json_string_value(json_object_get(o, "msg")),
                      "a\xEF\xBF\xBD"
                      "b\xEF\xBF\xBD"
                      "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                      "d\xc3\xa9");
  json_decref(o);
}

static void encode_cuts_huge_messages(void **state) {
  (void)state;
  size_t n = DP_LOG_MSG_MAX * 2;
  char *msg = malloc(n);
  assert_non_null(msg);
  memset(msg, 'x', n);
  dp_log_record_t rec = sample_record(msg, n);
  json_t *o = encode_parse(&rec);
  const char *got = json_string_value(json_object_get(o, "msg"));
  assert_true(strlen(got) < DP_LOG_FRAME_MAX_DEFAULT);
  assert_non_null(strstr(got, "more bytes cut]"));
  json_decref(o);
  /* control characters grow 6x when escaped: still within the server limit */
  memset(msg, '\x01', n);
  rec = sample_record(msg, n);
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_log_frame_encode(&rec, &b);
  assert_true(b.len - 4 <= DP_LOG_FRAME_MAX_DEFAULT);
  assert_true(b.len - 4 > DP_LOG_FRAME_MAX_DEFAULT / 4);
  json_error_t err;
  o = json_loadb(b.data + 4, b.len - 4, 0, &err);
  assert_non_null(o);
  assert_non_null(strstr(json_string_value(json_object_get(o, "msg")), "more bytes cut]"));
  json_decref(o);
  dp_textbuf_free(&b);
  free(msg);
}

/* ---- reassembly ---------------------------------------------------------- */

typedef struct collected {
  int frames;
  char text[4096];
} collected_t;

static int collect(void *ctx, const char *json, size_t len) {
  collected_t *c = ctx;
  strncat(c->text, json, len);
  strcat(c->text, "|");
  c->frames++;
  return 0;
}

static size_t put_frame(char *out, const char *payload) {
  size_t n = strlen(payload);
  out[0] = (char)(n >> 24), out[1] = (char)(n >> 16), out[2] = (char)(n >> 8), out[3] = (char)n;
  memcpy(out + 4, payload, n);
  return n + 4;
}

static void reader_reassembles_any_split(void **state) {
  (void)state;
  char stream[256];
  size_t len = put_frame(stream, "{\"a\":1}");
  len += put_frame(stream + len, "");
  len += put_frame(stream + len, "[2]");
  for (size_t step = 1; step <= len; step++) {
    dp_log_frame_reader_t r;
    dp_log_frame_reader_init(&r, 64);
    collected_t c = {0};
    for (size_t i = 0; i < len; i += step)
      assert_int_equal(
          dp_log_frame_reader_feed(&r, stream + i, len - i < step ? len - i : step, collect, &c),
          0);
    assert_int_equal(dp_log_frame_reader_finish(&r), 0);
    assert_int_equal(c.frames, 3);
    assert_string_equal(c.text, "{\"a\":1}||[2]|");
    dp_log_frame_reader_free(&r);
  }
}

static void reader_rejects_oversize_and_truncation(void **state) {
  (void)state;
  dp_log_frame_reader_t r;
  dp_log_frame_reader_init(&r, 16);
  collected_t c = {0};
  char stream[64];
  size_t len = put_frame(stream, "{\"ok\":true}");
  len += put_frame(stream + len, "{\"this one\":\"is too long\"}");
  assert_int_equal(dp_log_frame_reader_feed(&r, stream, len, collect, &c), DP_ETOOBIG);
  assert_int_equal(c.frames, 1); /* the frame before the bad one was delivered */
  assert_non_null(strstr(dp_error_detail(), "exceeds the limit of 16 bytes"));
  dp_log_frame_reader_free(&r);

  /* an announced size is not allocated up front: memory follows the bytes */
  dp_log_frame_reader_init(&r, DP_LOG_FRAME_MAX_DEFAULT);
  const char big[] = {0x00, 0x10, 0x00, 0x00, '{', '"'};
  assert_int_equal(dp_log_frame_reader_feed(&r, big, 4, collect, &c), 0);
  assert_null(r.payload);
  assert_int_equal(dp_log_frame_reader_feed(&r, big + 4, 2, collect, &c), 0);
  assert_true(r.cap <= 4096);
  assert_int_equal(dp_log_frame_reader_finish(&r), DP_EPARSE);
  dp_log_frame_reader_free(&r);

  dp_log_frame_reader_init(&r, 16);
  assert_int_equal(dp_log_frame_reader_feed(&r, stream, 2, collect, &c), 0);
  assert_int_equal(dp_log_frame_reader_finish(&r), DP_EPARSE);
  assert_non_null(strstr(dp_error_detail(), "length prefix (2 of 4 bytes)"));
  assert_int_equal(dp_log_frame_reader_feed(&r, stream + 2, 8, collect, &c), 0);
  assert_int_equal(dp_log_frame_reader_finish(&r), DP_EPARSE);
  assert_non_null(strstr(dp_error_detail(), "inside a frame (6 of 11 bytes)"));
  dp_log_frame_reader_free(&r);
}

/* ---- decoding ------------------------------------------------------------ */

static char *decode_msg(const char *json) {
  dp_log_decoded_t d;
  int rc = dp_log_frame_decode(json, strlen(json), DP_LOG_RENDER_MAX_DEFAULT, &d);
  if (rc < 0) return NULL;
  char *msg = strdup(d.msg);
  dp_log_decoded_free(&d);
  return msg;
}

static void assert_msg(const char *json, const char *want) {
  char *got = decode_msg(json);
  if (got == NULL) fail_msg("decode failed: %s (%s)", dp_error_detail(), json);
  if (strcmp(got, want) != 0) fail_msg("got '%s', want '%s' for %s", got, want, json);
  free(got);
}

static void decode_c_record_round_trip(void **state) {
  (void)state;
  dp_log_record_t rec = sample_record("value=1", 7);
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_log_frame_encode(&rec, &b);
  dp_log_decoded_t d;
  assert_int_equal(dp_log_frame_decode(b.data + 4, b.len - 4, DP_LOG_RENDER_MAX_DEFAULT, &d), 0);
  assert_string_equal(d.name, "mod.area1");
  assert_string_equal(d.levelname, "INFO");
  assert_int_equal(d.levelno, DP_LOG_INFO);
  assert_string_equal(d.msg, "value=1");
  assert_true(fabs(d.created - rec.created) < 1e-6);
  dp_textbuf_t line;
  dp_textbuf_init(&line, NULL, 0);
  size_t prefix = dp_log_decoded_line(&d, &line);
  char want[256];
  dp_log_format_line(want, sizeof want, rec.created, "mod.area1", DP_LOG_INFO, "value=1");
  assert_string_equal(line.data, want);
  assert_string_equal(line.data + prefix, "value=1");
  dp_textbuf_free(&line);
  dp_log_decoded_free(&d);
  dp_textbuf_free(&b);
}

static void decode_python_and_dash_quirks(void **state) {
  (void)state;
  /* A real frame of dareplane_utils' UJsonSocketHandler (Python 3.11). */
  assert_msg("{\"name\":\"cap.test\",\"msg\":\"hello %s\\/\\u00e9\",\"args\":[\"x\"],"
             "\"levelname\":\"INFO\",\"levelno\":20,\"created\":1795461145.3227584,"
             "\"msecs\":322.0,\"relativeCreated\":9.03,\"exc_info\":null,\"exc_text\":null}",
             "hello x/\xc3\xa9");
  /* Dash/waitress: everything but ints stringified, args "()". */
  const char *dash =
      "{\"name\":\"control_room.gui.app\",\"msg\":\"Exception on /_dash-update-component "
      "[POST]\",\"args\":\"()\",\"levelname\":\"ERROR\",\"levelno\":40,\"exc_info\":\"(<class "
      "'KeyError'>,)\",\"exc_text\":\"None\",\"stack_info\":\"None\",\"created\":"
      "\"1713889360.199748\",\"msecs\":\"199.0\",\"relativeCreated\":\"20730.786085128784\","
      "\"thread\":6158839808,\"threadName\":\"waitress-0\",\"taskName\":\"None\"}";
  dp_log_decoded_t d;
  assert_int_equal(dp_log_frame_decode(dash, strlen(dash), DP_LOG_RENDER_MAX_DEFAULT, &d), 0);
  assert_string_equal(d.msg, "Exception on /_dash-update-component [POST]");
  assert_string_equal(d.levelname, "ERROR");
  assert_true(d.created == 1713889360.199748);
  assert_true(d.msecs == 199.0);
  dp_log_decoded_free(&d);
  /* exc_text from a Python producer whose console formatted the traceback */
  assert_msg("{\"msg\":\"boom\",\"args\":[],\"exc_text\":\"Traceback...\\nKeyError\"}",
             "boom\nTraceback...\nKeyError");
  /* msg that is not a string, name missing */
  assert_msg("{\"msg\":12.5,\"args\":[]}", "12.5");
  assert_msg("{\"msg\":null}", "None");
  assert_msg("{\"msg\":\"a\\u0000b\"}", "a\xEF\xBF\xBD"
                                        "b");
}

static void decode_formats_args_like_python(void **state) {
  (void)state;
  assert_msg("{\"msg\":\"%s and %r\",\"args\":[\"a\",\"b\"]}", "a and 'b'");
  assert_msg("{\"msg\":\"%d|%5.2f|%x|%-4s|%03d\",\"args\":[7.9,3.14159,255,\"ab\",5]}",
             "7| 3.14|ff|ab  |005");
  assert_msg("{\"msg\":\"%(who)s got %(n)d\",\"args\":{\"who\":\"eeg\",\"n\":3}}", "eeg got 3");
  assert_msg("{\"msg\":\"100%% of %s\",\"args\":[[1,\"x\",null,true,{\"k\":0.5}]]}",
             "100% of [1, 'x', None, True, {'k': 0.5}]");
  assert_msg("{\"msg\":\"%s\",\"args\":[1e-05]}", "1e-05");
  assert_msg("{\"msg\":\"%s\",\"args\":[2.0]}", "2.0");
  assert_msg("{\"msg\":\"50%\",\"args\":[]}", "50%"); /* no args: not formatted */
  /* Python would raise and lose the record; we keep it, marked. */
  assert_msg("{\"msg\":\"%s %s\",\"args\":[1]}",
             "%s %s [args not applied (not enough arguments for format string): [1]]");
  assert_msg("{\"msg\":\"%d\",\"args\":[\"x\"]}",
             "%d [args not applied (%d format: a number is required): ['x']]");
  assert_msg("{\"msg\":\"x\",\"args\":[1]}",
             "x [args not applied (not all arguments converted during string formatting): [1]]");
}

static void decode_rejects_bad_input(void **state) {
  (void)state;
  static const char *bad[] = {
      "",                            /* empty */
      "{\"msg\":",                   /* truncated JSON */
      "[1,2]",                       /* not an object */
      "\"text\"",                    /* not an object */
      "{\"msg\":\"\xff\"}",          /* invalid UTF-8 */
      "{\"created\":\"yesterday\"}", /* created that is no number */
      "{\"levelno\":[10]}",          /* levelno that is no number */
      "{\"msecs\":{}}",              /* msecs that is no number */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dp_log_decoded_t d;
    assert_int_equal(dp_log_frame_decode(bad[i], strlen(bad[i]), DP_LOG_RENDER_MAX_DEFAULT, &d),
                     DP_EPARSE);
    assert_true(strlen(dp_error_detail()) > 10);
  }
}

/* ---- bounds: the format bomb and numbers from the network (issue 9) ------- */

/* A JSON record whose msg is `rep` copies of `unit` and whose args are
 * {"a": <n_value bytes of value_char>}. */
static char *bomb_json(const char *unit, size_t rep, const char *value_unit, size_t value_rep) {
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_textbuf_puts(&b, "{\"msg\":\"");
  for (size_t i = 0; i < rep; i++) dp_textbuf_puts(&b, unit);
  dp_textbuf_puts(&b, "\",\"args\":{\"a\":\"");
  for (size_t i = 0; i < value_rep; i++) dp_textbuf_puts(&b, value_unit);
  dp_textbuf_puts(&b, "\"}}");
  return dp_textbuf_take(&b);
}

/* Every byte of s belongs to a valid UTF-8 sequence. */
static bool valid_utf8(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = dp_utf8_sequence((const unsigned char *)s + i, n - i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

static void textbuf_never_grows_beyond_its_limit(void **state) {
  (void)state;
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  b.limit = 1000;
  char chunk[300];
  memset(chunk, 'x', sizeof chunk);
  for (int i = 0; i < 100; i++) dp_textbuf_put(&b, chunk, sizeof chunk);
  dp_textbuf_printf(&b, "%0500d", 1);
  assert_int_equal(b.len, 1000);
  assert_true(b.cap <= 1001);
  assert_true(b.truncated);
  dp_textbuf_free(&b);
  /* a cut inside a character is trimmed back to its start */
  dp_textbuf_init(&b, NULL, 0);
  b.limit = 4;
  dp_textbuf_puts(&b, "ab\xE2\x82\xAC"); /* "ab" + euro sign: cut after 2 of its 3 bytes */
  dp_textbuf_trim_utf8(&b);
  assert_int_equal(b.len, 2);
  dp_textbuf_free(&b);
}

/* %(a)s repeated with a big value asks for about 80 MB; the message stops at
 * the bound, says so, and the rest of the format is never worked through. */
static void format_bomb_is_capped(void **state) {
  (void)state;
  char *json = bomb_json("%(a)s", 20000, "x", 4000);
  size_t caps[] = {DP_LOG_RENDER_MIN, 65536, DP_LOG_RENDER_MAX_DEFAULT};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    dp_log_decoded_t d;
    assert_int_equal(dp_log_frame_decode(json, strlen(json), caps[i], &d), 0);
    size_t len = strlen(d.msg);
    assert_true(len <= caps[i]);
    assert_true(len > caps[i] - 100);
    char note[80];
    snprintf(note, sizeof note, "... [truncated: longer than %zu bytes]", caps[i]);
    assert_string_equal(d.msg + len - strlen(note), note);
    assert_true(strspn(d.msg, "x") == len - strlen(note));
    dp_log_decoded_free(&d);
  }
  free(json);
  /* the same with padding, with repr, with multi-byte characters, with a
   * non-string msg: each stays within the bound and valid UTF-8 */
  const char *units[][2] = {{"%(a)4096s", "y"}, {"%(a)r", "\\u0001"}, {"%(a)s", "\\u00e9"}};
  for (size_t i = 0; i < 3; i++) {
    json = bomb_json(units[i][0], 5000, units[i][1], 3001);
    dp_log_decoded_t d;
    assert_int_equal(dp_log_frame_decode(json, strlen(json), 10001, &d), 0);
    assert_true(strlen(d.msg) <= 10001);
    assert_non_null(strstr(d.msg, "... [truncated: longer than 10001 bytes]"));
    assert_true(valid_utf8(d.msg));
    dp_log_decoded_free(&d);
    free(json);
  }
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_textbuf_puts(&b, "{\"name\":[");
  for (int i = 0; i < 3000; i++) dp_textbuf_puts(&b, i > 0 ? ",\"\\n\"" : "\"\\n\"");
  dp_textbuf_puts(&b, "],\"msg\":[");
  for (int i = 0; i < 3000; i++) dp_textbuf_puts(&b, i > 0 ? ",[1,2]" : "[1,2]");
  dp_textbuf_puts(&b, "]}");
  dp_log_decoded_t d;
  assert_int_equal(dp_log_frame_decode(b.data, b.len, 1000, &d), 0);
  assert_true(strlen(d.msg) <= 1000 && strlen(d.name) <= DP_LOG_FIELD_MAX);
  assert_non_null(strstr(d.name, "... [truncated: longer than 4096 bytes]"));
  dp_log_decoded_free(&d);
  dp_textbuf_free(&b);
}

static void decode_line(const char *json, dp_log_decoded_t *d, char *line, size_t size) {
  assert_int_equal(dp_log_frame_decode(json, strlen(json), DP_LOG_RENDER_MAX_DEFAULT, d), 0);
  dp_textbuf_t b;
  dp_textbuf_init(&b, NULL, 0);
  dp_log_decoded_line(d, &b);
  snprintf(line, size, "%s", b.data);
  dp_textbuf_free(&b);
}

/* Numbers from a frame: out-of-range msecs falls back to the fraction of
 * created, created and levelno out of range are refused with a reason, and
 * nothing is converted outside its type's range (UBSan checks). */
static void numbers_are_range_checked(void **state) {
  (void)state;
  dp_log_decoded_t d;
  char line[256], want[256];
  const char *msecs_bad[] = {"1e300", "-1e300", "-5", "1000", "\"1e300\""};
  for (size_t i = 0; i < sizeof msecs_bad / sizeof msecs_bad[0]; i++) {
    char json[160];
    snprintf(json, sizeof json,
             "{\"msg\":\"m\",\"levelno\":20,\"created\":1795461145.25,\"msecs\":%s}", msecs_bad[i]);
    decode_line(json, &d, line, sizeof line);
    dp_log_format_line(want, sizeof want, 1795461145.25, "None", DP_LOG_INFO, "m");
    assert_string_equal(line, want); /* ,250 from created */
    dp_log_decoded_free(&d);
  }
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"{\"created\":1e300}", "created 1e+300 is out of range"},
      {"{\"created\":-1e13}", "created -1e+13 is out of range"},
      {"{\"created\":\"1e300\"}", "created 1e+300 is out of range"},
      {"{\"levelno\":1e300}", "levelno 1e+300 is out of range"},
      {"{\"levelno\":-9223372036854775808}", "levelno -9.22337e+18 is out of range"},
      {"{\"levelno\":99999999999999999999999}", "levelno 1e+23 is out of range"},
      {"{\"msecs\":\"nan\"}", "msecs is not a number"},
      {"{\"relativeCreated\":\"inf\"}", "relativeCreated is not a number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(
        dp_log_frame_decode(bad[i].json, strlen(bad[i].json), DP_LOG_RENDER_MAX_DEFAULT, &d),
        DP_EPARSE);
    if (strstr(dp_error_detail(), bad[i].why) == NULL)
      fail_msg("%s: got '%s', want '%s'", bad[i].json, dp_error_detail(), bad[i].why);
  }
  /* the limits themselves are accepted */
  decode_line("{\"msg\":\"m\",\"levelno\":1e9,\"created\":-1e12,\"msecs\":999.9}", &d, line,
              sizeof line);
  assert_int_equal(d.levelno, 1000000000);
  assert_non_null(strstr(line, ",999 - None - Level 1000000000 - m"));
  dp_log_decoded_free(&d);
  /* %x of the smallest integer (its negation overflows) and a wide %f */
  assert_msg("{\"msg\":\"%x %o\",\"args\":[-9223372036854775808,-9223372036854775808]}",
             "-8000000000000000 -1000000000000000000000");
  char *wide = decode_msg("{\"msg\":\"%.4096f\",\"args\":[1e308]}");
  assert_non_null(wide);
  assert_int_equal(strlen(wide), 309 + 1 + 4096);
  free(wide);
  /* asctime itself is defined for any double */
  char stamp[48];
  dp_log_format_asctime(stamp, sizeof stamp, 1e300, NAN);
  dp_log_format_asctime(stamp, sizeof stamp, NAN, 1e300);
  assert_string_equal(stamp + 19, ",999");
}

/* Numbers are read as strtod reads them, to the bit, on the decoder's own
 * short path for plain decimals (up to 16 digits, within 2^53) and beside
 * it: edges of that path, many fraction digits, exponents, strings. */
static void numbers_read_exactly_as_strtod(void **state) {
  (void)state;
  static const char *const fixed[] = {"0",
                                      "-0",
                                      "0.0",
                                      "-0.0",
                                      "1795461145.25",
                                      "1795461145.322758",
                                      "9007199254740992",
                                      "9007199254740993",
                                      "9007199254740991.5",
                                      "8999999999999999",
                                      "0.1",
                                      "0.3",
                                      "123.4567890123456",
                                      "1234567890123456.7",
                                      "0.0000000000000001",
                                      "1e3",
                                      "12.5e-1",
                                      "00012.5",
                                      "1.",
                                      ".5",
                                      "2.2250738585072014e-308"};
  char text[64], json[256];
  uint64_t seed = 0x9E3779B97F4A7C15u;
  for (size_t i = 0; i < 20000 + sizeof fixed / sizeof fixed[0]; i++) {
    if (i < sizeof fixed / sizeof fixed[0]) {
      snprintf(text, sizeof text, "%s", fixed[i]);
    } else { /* random digits with the point anywhere */
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      int digits = 1 + (int)(seed >> 60), point = (int)(seed >> 55 & 15);
      size_t n = 0;
      for (int d = 0; d < digits; d++) {
        if (d == point && d > 0) text[n++] = '.';
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        text[n++] = (char)('0' + (seed >> 33) % 10);
      }
      text[n] = '\0';
    }
    double want = strtod(text, NULL);
    bool json_number = text[0] != '.' && text[strlen(text) - 1] != '.' &&
                       !(text[0] == '0' && text[1] >= '0' && text[1] <= '9');
    for (int quoted = json_number ? 0 : 1; quoted < 2; quoted++) {
      const char *q = quoted ? "\"" : "";
      snprintf(json, sizeof json, "{\"levelno\":0,\"created\":%s%s%s,\"msecs\":%s%s%s}", q, text, q,
               q, text, q);
      dp_log_decoded_t d;
      int rc = dp_log_frame_decode(json, strlen(json), DP_LOG_RENDER_MAX_DEFAULT, &d);
      if (want > DP_LOG_CREATED_MAX) {
        assert_int_equal(rc, DP_EPARSE);
        continue;
      }
      assert_int_equal(rc, 0);
      if (memcmp(&d.created, &want, sizeof want) != 0)
        fail_msg("%s: read as %.17g, strtod gives %.17g", json, d.created, want);
      if (want >= 0 && want < 1000 && memcmp(&d.msecs, &want, sizeof want) != 0)
        fail_msg("%s: msecs read as %.17g, strtod gives %.17g", json, d.msecs, want);
      dp_log_decoded_free(&d);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_has_python_fields_and_types),
      cmocka_unit_test(encode_repairs_invalid_utf8),
      cmocka_unit_test(encode_cuts_huge_messages),
      cmocka_unit_test(reader_reassembles_any_split),
      cmocka_unit_test(reader_rejects_oversize_and_truncation),
      cmocka_unit_test(decode_c_record_round_trip),
      cmocka_unit_test(decode_python_and_dash_quirks),
      cmocka_unit_test(decode_formats_args_like_python),
      cmocka_unit_test(decode_rejects_bad_input),
      cmocka_unit_test(textbuf_never_grows_beyond_its_limit),
      cmocka_unit_test(format_bomb_is_capped),
      cmocka_unit_test(numbers_are_range_checked),
      cmocka_unit_test(numbers_read_exactly_as_strtod),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
