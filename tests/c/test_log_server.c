/* test_log_server.c - the log server as a library component
 * (dareplane/log_server.h): started on a free port with a temporary log
 * file, it writes the library's own logger's records and raw frames as
 * standard lines, in order; a bad frame, an over-long frame and a stalled
 * frame each close only the client that sent it while a good client goes on;
 * stop is safe twice and from two threads at once; bad options are refused.
 * Every wait is a condition on the log file's content with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "confine_logs.h"
#include "dareplane/log.h"
#include "dareplane/log_server.h"
#include "test_platform.h"

#define DEADLINE_NS ((uint64_t)20 * 1000000000u)

/* The whole file as text (free it); "" when it does not exist. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "r"); /* text: a line ends in "\n" on Windows too */
  size_t cap = 65536, len = 0;
  char *text = malloc(cap);
  assert_non_null(text);
  while (f != NULL) {
    if (cap - len < 4096) {
      cap *= 2;
      text = realloc(text, cap);
      assert_non_null(text);
    }
    size_t n = fread(text + len, 1, cap - len - 1, f);
    if (n == 0) break;
    len += n;
  }
  if (f != NULL) fclose(f);
  text[len] = '\0';
  return text;
}

static size_t count(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

/* Waits until the file holds `needle` at least n times; returns its text. */
static char *wait_for(const char *path, const char *needle, size_t n) {
  uint64_t deadline = uv_hrtime() + DEADLINE_NS;
  for (;;) {
    char *text = slurp(path);
    if (count(text, needle) >= n) return text;
    if (uv_hrtime() > deadline)
      fail_msg("'%s' not %zu times in the log file:\n%s", needle, n, text);
    free(text);
    uv_sleep(2);
  }
}

/* A server on a free port writing to a fresh file, console off. */
typedef struct {
  char path[1024];
  dp_log_server_opts_t opts;
  dp_log_server_t *srv;
  int port;
} fixture_t;

/* The options (defaults but the above) for fixture_start(), to be changed. */
static void fixture_init(fixture_t *f) {
  test_temp_name(f->path, sizeof f->path, "log_server");
  dp_log_server_opts_init(&f->opts);
  f->opts.port = 0;
  f->opts.logfile = f->path;
  f->opts.console = false;
}

static void fixture_start(fixture_t *f) {
  f->srv = NULL;
  if (dp_log_server_start(&f->srv, &f->opts) != 0) fail_msg("start: %s", dp_error_detail());
  f->port = dp_log_server_port(f->srv);
  assert_true(f->port > 0);
}

static void fixture_stop(fixture_t *f) {
  assert_int_equal(dp_log_server_stop(f->srv), 0);
  assert_int_equal(dp_log_server_stop(f->srv), 0); /* twice is safe */
  dp_log_server_free(f->srv);
  remove(f->path);
}

static test_socket_t connect_to(int port) {
  test_socket_t s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s != TEST_NO_SOCKET);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                          .sin_port = htons((unsigned short)port)};
  assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
  return s;
}

static void send_bytes(test_socket_t s, const void *data, size_t len) {
  assert_int_equal(send(s, data, (int)len, MSG_NOSIGNAL), (int)len);
}

/* One frame: the 4-byte big-endian length, then the payload. */
static void send_frame(test_socket_t s, const char *json) {
  size_t len = strlen(json);
  unsigned char head[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                           (unsigned char)(len >> 8), (unsigned char)len};
  send_bytes(s, head, 4);
  send_bytes(s, json, len);
}

static void send_record(test_socket_t s, const char *name, const char *msg) {
  char json[512];
  snprintf(json, sizeof json,
           "{\"name\": \"%s\", \"msg\": \"%s\", \"levelname\": \"INFO\", \"levelno\": 20}", name,
           msg);
  send_frame(s, json);
}

/* The server closed s: a read ends (EOF or reset) before the deadline. */
static void assert_closed_by_server(test_socket_t s) {
  struct pollfd p = {.fd = s, .events = POLLIN};
  assert_int_equal(poll(&p, 1, (int)(DEADLINE_NS / 1000000u)), 1);
  char buf[64];
  assert_true(recv(s, buf, sizeof buf, 0) <= 0);
}

/* "YYYY-MM-DD HH:MM:SS,mmm - " at the start of `line`. */
static void assert_asctime(const char *line) {
  static const char shape[] = "dddd-dd-dd dd:dd:dd,ddd - ";
  for (size_t i = 0; shape[i] != '\0'; i++)
    if (shape[i] == 'd' ? !(line[i] >= '0' && line[i] <= '9') : line[i] != shape[i])
      fail_msg("not a standard line: %.60s", line);
}

static void logger_records_become_lines_in_order(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  f.opts.threads = 2;
  fixture_start(&f);
  assert_int_equal(dp_log_set_server("127.0.0.1", f.port), 0);
  dp_logger_t *lg = dp_log_get("srv.logger");
  dp_logger_set_level(lg, DP_LOG_INFO);
  enum { N = 300 };
  for (int i = 0; i < N; i++) dp_log_info(lg, "rec %d", i);
  dp_log_warning(lg, "last");
  assert_int_equal(dp_log_flush(10000), 0);
  char *text = wait_for(f.path, " - srv.logger - WARNING - last\n", 1);
  char *line = text;
  for (int i = 0; i < N; i++) {
    assert_asctime(line);
    char want[64];
    int n = snprintf(want, sizeof want, "srv.logger - INFO - rec %d\n", i);
    if (strncmp(line + 26, want, (size_t)n) != 0) fail_msg("line %d: %.80s", i, line);
    line += 26 + n;
  }
  assert_asctime(line);
  free(text);
  dp_log_shutdown(1000); /* no reconnect attempts to the stopped server */
  fixture_stop(&f);
}

static void bad_frames_close_only_their_client(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  f.opts.max_frame = 4096;
  fixture_start(&f);
  test_socket_t good = connect_to(f.port), bad_json = connect_to(f.port),
                too_big = connect_to(f.port);
  send_record(good, "raw.good", "before");
  free(wait_for(f.path, " - raw.good - INFO - before\n", 1));
  send_frame(bad_json, "{not json");
  assert_closed_by_server(bad_json);
  unsigned char huge[4] = {0, 0, 0x10, 0x01}; /* 4097 bytes announced */
  send_bytes(too_big, huge, 4);
  assert_closed_by_server(too_big);
  send_record(good, "raw.good", "after");
  char *text = wait_for(f.path, " - raw.good - INFO - after\n", 1);
  assert_int_equal(count(text, " - dp-logserver - ERROR - closing client 127.0.0.1:"), 2);
  free(text);
  test_socket_close(bad_json);
  test_socket_close(too_big);
  test_socket_close(good);
  fixture_stop(&f);
}

static void a_stalled_frame_times_out(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  f.opts.frame_timeout_s = 0.05;
  fixture_start(&f);
  test_socket_t good = connect_to(f.port), stalled = connect_to(f.port);
  send_bytes(stalled, "\0\0", 2); /* half a length prefix, then nothing */
  assert_closed_by_server(stalled);
  send_record(good, "raw.good", "still served");
  char *text = wait_for(f.path, " - raw.good - INFO - still served\n", 1);
  assert_int_equal(count(text, "frame not finished within --frame-timeout (2 of 4 bytes"), 1);
  free(text);
  test_socket_close(stalled);
  test_socket_close(good);
  fixture_stop(&f);
}

static void stop_thread(void *arg) {
  assert_int_equal(dp_log_server_stop(arg), 0);
}

static void stop_appends_and_is_safe_from_two_threads(void **state) {
  (void)state;
  fixture_t f;
  fixture_init(&f);
  FILE *file = fopen(f.path, "w");
  assert_non_null(file);
  fputs("an earlier line\n", file);
  fclose(file);
  fixture_start(&f);
  test_socket_t c = connect_to(f.port);
  send_record(c, "raw.stop", "kept");
  free(wait_for(f.path, " - raw.stop - INFO - kept\n", 1));
  send_bytes(c, "\0\0\0\x40{", 5); /* an unfinished frame at stop is dropped */
  uv_thread_t other;
  assert_int_equal(uv_thread_create(&other, stop_thread, f.srv), 0);
  assert_int_equal(dp_log_server_stop(f.srv), 0);
  uv_thread_join(&other);
  assert_closed_by_server(c);
  test_socket_close(c);
  char *text = slurp(f.path);
  assert_true(strncmp(text, "an earlier line\n", 16) == 0); /* appended, not truncated */
  assert_int_equal(count(text, "\n"), 2);
  free(text);
  fixture_stop(&f);
}

static void options_are_checked(void **state) {
  (void)state;
  dp_log_server_opts_t d;
  dp_log_server_opts_init(&d);
  assert_string_equal(d.host, "127.0.0.1");
  assert_int_equal(d.port, 9020);
  assert_string_equal(d.logfile, "default_socket.log");
  assert_int_equal(d.max_frame, 1024 * 1024);
  assert_int_equal(d.max_message, 1024 * 1024);
  assert_int_equal(d.max_clients, 256);
  assert_true(d.frame_timeout_s == 10.0);
  assert_int_equal(d.max_buffered, 64 * 1024 * 1024);
  assert_int_equal(d.threads, 0);
  assert_true(d.console);

  fixture_t f;
  fixture_init(&f);
  dp_log_server_t *srv = NULL;
  for (int k = 0; k < 8; k++) {
    dp_log_server_opts_t o = f.opts;
    switch (k) {
    case 0: o.threads = DP_LOG_SERVER_THREADS_MAX + 1; break;
    case 1: o.frame_timeout_s = 0.001; break;
    case 2: o.max_message = DP_LOG_SERVER_MESSAGE_MIN - 1; break;
    case 3: o.max_clients = 0; break;
    case 4: o.port = 65536; break;
    case 5: o.host = NULL; break;
    case 6: o.max_frame = 0; break;
    default: o.frame_timeout_s = 86401; break;
    }
    assert_int_equal(dp_log_server_start(&srv, &o), DP_EINVAL);
    assert_null(srv);
  }
  assert_int_equal(dp_log_server_start(&srv, NULL), DP_EINVAL);

  char missing[1200];
  snprintf(missing, sizeof missing, "%s/no/such.log", f.path);
  dp_log_server_opts_t o = f.opts;
  o.logfile = missing;
  assert_int_equal(dp_log_server_start(&srv, &o), DP_EIO);
  assert_non_null(strstr(dp_error_detail(), "cannot open"));
  assert_null(srv);

  fixture_start(&f);
  o = f.opts;
  o.port = f.port; /* taken */
  assert_int_equal(dp_log_server_start(&srv, &o), DP_ECONN);
  assert_null(srv);
  fixture_stop(&f);
  dp_log_server_free(NULL);
}

int main(void) {
  confine_network_logs();
  test_sockets_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(logger_records_become_lines_in_order),
      cmocka_unit_test(bad_frames_close_only_their_client),
      cmocka_unit_test(a_stalled_frame_times_out),
      cmocka_unit_test(stop_appends_and_is_safe_from_two_threads),
      cmocka_unit_test(options_are_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
