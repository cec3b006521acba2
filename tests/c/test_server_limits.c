/* test_server_limits.c - every bound on what clients can make the server
 * hold, pushed past while a well-behaved client is served: the connection
 * limit (the oldest silent client gives way, else the longest idle of those
 * that only polled UP; when all have sent a command that acts, the newcomer
 * is refused), the silent and idle timeouts, the per-client and
 * total output caps with clients that never read, and the log budget (on a
 * fake clock, and a flood of garbage through a real connection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "confine_logs.h"
#include "server_fixture.h"

#include "server/server_internal.h"

#include "common/error_internal.h"

/* Replies 64 KiB. */
static int big(dp_request_t *req, void *user) {
  (void)user;
  static char fill[64 * 1024];
  memset(fill, 'b', sizeof fill);
  return dp_request_reply(req, fill, sizeof fill);
}

/* "<clients> <bytes queued for all>" (runs on the loop thread). */
static int stats(dp_request_t *req, void *user) {
  (void)user;
  dp_server_t *srv = dp_request_server(req);
  return dp_request_replyf(req, "%zu %zu", srv->n_conns, srv->queued_total);
}

static void start(fixture_t *f, const dp_server_opts_t *o) {
  dp_server_t *srv = dp_server_new(o);
  assert_non_null(srv);
  assert_int_equal(dp_server_add(srv, "BIG", big, NULL, NULL), 0);
  assert_int_equal(dp_server_add(srv, "STATS", stats, NULL, NULL), 0);
  fixture_start(f, srv);
}

static dp_server_opts_t opts(void) {
  dp_server_opts_t o;
  dp_server_opts_init(&o);
  o.port = 0;
  o.name = "limits";
  return o;
}

static void read_greeting(test_socket_t fd) {
  char buf[256];
  assert_true(raw_read(fd, buf, sizeof buf, 5000) > 0);
  assert_string_equal(buf, "Connected to limits\n");
}

static void stats_of(dp_client_t *c, size_t *conns, size_t *queued) {
  char *reply;
  size_t len;
  assert_int_equal(dp_client_request(c, "STATS", &reply, &len, 5.0), 0);
  assert_int_equal(sscanf(reply, "%zu %zu", conns, queued), 2);
  free(reply);
}

/* Sends `cmd` on a raw client and reads its reply. */
static void raw_ask(test_socket_t fd, const char *cmd, const char *reply) {
  char buf[64];
  assert_int_equal(send(fd, cmd, (int)strlen(cmd), 0), (long)strlen(cmd));
  assert_true(raw_read(fd, buf, sizeof buf, 5000) > 0);
  assert_string_equal(buf, reply);
}

/* The oldest client that has sent no command gives way. */
static void connection_limit(void **state) {
  (void)state;
  fixture_t f;
  dp_server_opts_t o = opts();
  o.max_clients = 4;
  start(&f, &o);
  test_socket_t silent[4];
  for (int i = 0; i < 4; i++) {
    silent[i] = raw_connect(&f, 0);
    read_greeting(silent[i]);
  }
  /* a fifth client (the control room) is admitted; the oldest silent one goes */
  dp_client_t *room = connect_to(&f);
  assert_string_equal(dp_client_greeting(room), "Connected to limits");
  expect(room, "UP", "1");
  assert_true(raw_closed_within(silent[0], 5000));
  for (int i = 1; i < 4; i++) raw_ask(silent[i], "UP;", "1"); /* still served */
  for (int i = 0; i < 4; i++) test_socket_close(silent[i]);
  dp_client_close(room);
  fixture_stop(&f);
}

/* Clients that sent only UP cannot keep a newcomer out: the one idle
 * longest gives way, never one that has sent a command that acts; when all
 * have, the newcomer is refused. The control room is served throughout. */
static void connection_limit_with_pollers(void **state) {
  (void)state;
  fixture_t f;
  dp_server_opts_t o = opts();
  o.max_clients = 4;
  start(&f, &o);
  dp_client_t *room = connect_to(&f);
  size_t conns, queued;
  stats_of(room, &conns, &queued); /* the room has acted */
  test_socket_t poller[3];
  for (int i = 0; i < 3; i++) {
    poller[i] = raw_connect(&f, 0);
    read_greeting(poller[i]);
    raw_ask(poller[i], "UP;", "1");
  }
  /* poller[1] becomes the one idle longest (the server's clock counts ms:
   * the pause is what is tested, not a wait for something) */
  uv_sleep(20);
  raw_ask(poller[0], "GET_PCOMMS;", "BIG|STATS|STOP|CLOSE");
  expect(room, "UP", "1");
  /* at the limit a newcomer is admitted and poller[1] gives way */
  test_socket_t late = raw_connect(&f, 0);
  read_greeting(late);
  assert_true(raw_closed_within(poller[1], 5000));
  raw_ask(late, "STATS;", "4 0");
  raw_ask(poller[0], "UP;", "1");
  raw_ask(poller[2], "STATS;", "4 0");
  /* poller[0] is the only one that has not acted: it gives way next */
  test_socket_t later = raw_connect(&f, 0);
  read_greeting(later);
  assert_true(raw_closed_within(poller[0], 5000));
  raw_ask(later, "STOP;UP;", "1");
  /* every client has acted: a newcomer is refused, without a greeting */
  test_socket_t refused = raw_connect(&f, 0);
  assert_true(raw_closed_within(refused, 5000));
  expect(room, "UP", "1");
  raw_ask(poller[2], "UP;", "1");
  raw_ask(late, "UP;", "1");
  raw_ask(later, "UP;", "1");
  for (int i = 0; i < 3; i++) test_socket_close(poller[i]);
  test_socket_close(late);
  test_socket_close(later);
  test_socket_close(refused);
  dp_client_close(room);
  fixture_stop(&f);
}

static void silent_and_idle_timeouts(void **state) {
  (void)state;
  fixture_t f;
  dp_server_opts_t o = opts();
  o.silent_timeout_s = 0.3;
  o.idle_timeout_s = 0.6;
  start(&f, &o);
  dp_client_t *room = connect_to(&f);
  test_socket_t silent = raw_connect(&f, 0);
  test_socket_t idle = raw_connect(&f, 0);
  read_greeting(silent);
  read_greeting(idle);
  char buf[64];
  assert_int_equal(send(idle, "UP;", 3, 0), 3);
  assert_true(raw_read(idle, buf, sizeof buf, 5000) > 0);
  /* the room polls UP while the silent client, then the idle one, are closed */
  bool silent_gone = false, idle_gone = false;
  uint64_t deadline = uv_hrtime() + 20 * (uint64_t)1000000000;
  while (!(silent_gone && idle_gone)) {
    assert_true(uv_hrtime() < deadline);
    expect(room, "UP", "1");
    silent_gone = silent_gone || raw_closed_within(silent, 20);
    bool was = idle_gone;
    idle_gone = idle_gone || raw_closed_within(idle, 20);
    assert_true(!idle_gone || was || silent_gone); /* idle: the later deadline */
  }
  size_t conns, queued;
  stats_of(room, &conns, &queued);
  assert_int_equal(conns, 1);
  test_socket_close(silent);
  test_socket_close(idle);
  dp_client_close(room);
  fixture_stop(&f);
}

/* Clients that never read ask for far more than the caps; the server stays
 * under them and the reading client gets every byte. */
static void output_caps(size_t per_client, size_t total) {
  fixture_t f;
  dp_server_opts_t o = opts();
  o.max_output_per_client = per_client;
  o.max_output_total = total;
  start(&f, &o);
  dp_client_t *room = connect_to(&f);
  enum { HOGS = 4 };
  test_socket_t hog[HOGS];
  char asks[4 * 64];
  for (size_t i = 0; i < sizeof asks; i += 4) memcpy(asks + i, "BIG;", 4);
  for (int i = 0; i < HOGS; i++) {
    hog[i] = raw_connect(&f, 4096);
    read_greeting(hog[i]);
  }
  size_t conns = HOGS + 1, queued;
  uint64_t deadline = uv_hrtime() + 30 * (uint64_t)1000000000;
  while (conns > 1) { /* ~1 MiB asked each round per hog, until all are cut */
    assert_true(uv_hrtime() < deadline);
    for (int i = 0; i < HOGS; i++) (void)send(hog[i], asks, sizeof asks, MSG_NOSIGNAL);
    char *reply;
    size_t len;
    assert_int_equal(dp_client_request(room, "BIG", &reply, &len, 5.0), 0);
    assert_int_equal(len, 64 * 1024);
    free(reply);
    stats_of(room, &conns, &queued);
    assert_true(queued <= total);
  }
  for (int i = 0; i < HOGS; i++) test_socket_close(hog[i]);
  expect(room, "UP", "1");
  dp_client_close(room);
  fixture_stop(&f);
}

static void output_cap_per_client(void **state) {
  (void)state;
  output_caps(256 * 1024, 64 << 20);
}

static void output_cap_total(void **state) {
  (void)state;
  output_caps(64 << 20, 512 * 1024); /* only the total can cut them */
}

static void log_budget_on_a_fake_clock(void **state) {
  (void)state;
  dp_rate_t r = {0};
  uint64_t t0 = 5000;
  for (int i = 0; i < 3; i++) assert_true(dp_rate_allow(&r, t0, 3, DP_LOG_INFO));
  assert_false(dp_rate_allow(&r, t0, 3, DP_LOG_INFO));
  assert_false(dp_rate_allow(&r, t0 + 999, 3, DP_LOG_WARNING));
  assert_false(dp_rate_allow(&r, t0 + 999, 3, DP_LOG_ERROR));
  char counts[96];
  assert_int_equal(dp_rate_take(&r, counts, sizeof counts), 3);
  assert_string_equal(counts, "1 INFO, 1 WARNING, 1 ERROR");
  assert_int_equal(dp_rate_take(&r, counts, sizeof counts), 0);
  assert_string_equal(counts, "");
  assert_true(dp_rate_allow(&r, t0 + 1000, 3, DP_LOG_INFO)); /* a new second */
  assert_true(dp_rate_allow(&r, t0 + 1000, 0, DP_LOG_INFO)); /* 0: no limit */
}

/* 1 MiB of "x;" (a WARNING and an INFO line each, once) gives a bounded
 * number of lines, says how many were suppressed, and the room is served.
 * On Windows this also checks that a client that yields after each full read
 * is read again at once (it used to wait for the next timer, 1 s a read:
 * server.c, resume_cb). */
static void garbage_flood_logs_little(void **state) {
  (void)state;
  console_capture_t cap;
  capture_console(&cap);
  fixture_t f;
  dp_server_opts_t o = opts();
  start(&f, &o);
  dp_client_t *room = connect_to(&f);
  test_socket_t flood = raw_connect(&f, 0);
  read_greeting(flood);
  enum { MIB = 1 << 20 };
  char *garbage = malloc(MIB);
  for (size_t i = 0; i < MIB; i += 2) memcpy(garbage + i, "x;", 2);
  size_t sent = 0;
  while (sent < MIB) {
    long n = send(flood, garbage + sent, (int)(MIB - sent), 0);
    assert_true(n > 0);
    sent += (size_t)n;
    expect(room, "UP", "1");
  }
  /* handled: a command after the flood on the same connection is answered */
  char buf[64];
  assert_int_equal(send(flood, "UP;", 3, 0), 3);
  assert_true(raw_read(flood, buf, sizeof buf, 10000) > 0);
  assert_string_equal(buf, "1");
  test_socket_close(flood);
  expect(room, "UP", "1");
  dp_client_close(room);
  fixture_stop(&f);
  FILE *log = release_console(&cap);
  size_t lines = 0, unknown = 0, summaries = 0;
  char line[1024];
  while (fgets(line, sizeof line, log) != NULL) {
    lines++;
    unknown += strstr(line, "Unknown pcomm in x") != NULL;
    summaries += strstr(line, "more log lines about its input suppressed") != NULL;
  }
  fclose(log);
  free(garbage);
  assert_true(unknown > 0);
  assert_true(summaries > 0);
  print_message("%lu log lines for 1 MiB of garbage\n", (unsigned long)lines);
  assert_true(lines < 2000); /* instead of 1 048 576 */
}

int main(void) {
  confine_network_logs();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connection_limit),          cmocka_unit_test(connection_limit_with_pollers),
      cmocka_unit_test(silent_and_idle_timeouts),  cmocka_unit_test(output_cap_per_client),
      cmocka_unit_test(output_cap_total),          cmocka_unit_test(log_budget_on_a_fake_clock),
      cmocka_unit_test(garbage_flood_logs_little),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
