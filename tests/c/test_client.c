/* test_client.c - the client against hostile fake modules (a thread with a
 * plain socket): a peer that trickles bytes forever or floods cannot hold a
 * call past its deadline or past max_reply_bytes, dp_client_up() counts
 * only an exact "1" while keeping every other piece for dp_client_recv(),
 * and a peer that sends no greeting gives an empty one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "dareplane/client.h"
#include "test_platform.h"

typedef enum { TRICKLE, FLOOD, X1Y, CALLBACK_THEN_ONE, CALLBACK_WITH_ONE, SILENT } behaviour_t;

typedef struct {
  behaviour_t how;
  test_socket_t listener, conn;
  int port;
  atomic_bool stop;
  uv_thread_t thread;
} peer_t;

static bool put(peer_t *p, const char *data, size_t len) {
  return send(p->conn, data, (int)len, MSG_NOSIGNAL) == (int)len;
}

/* Waits for one command from the client (any bytes). */
static bool got_command(peer_t *p) {
  char buf[256];
  return recv(p->conn, buf, sizeof buf, 0) > 0;
}

static void peer_main(void *arg) {
  peer_t *p = arg;
  p->conn = accept(p->listener, NULL, NULL);
  if (p->conn == TEST_NO_SOCKET || (p->how != SILENT && !put(p, "Connected to fake\n", 18)) ||
      !got_command(p))
    return;
  static char chunk[65536];
  switch (p->how) {
  case TRICKLE: /* one byte a millisecond, never stopping */
    while (!atomic_load(&p->stop) && put(p, "x", 1)) uv_sleep(1);
    break;
  case FLOOD:
    memset(chunk, 'y', sizeof chunk);
    while (!atomic_load(&p->stop) && put(p, chunk, sizeof chunk)) {
    }
    break;
  case X1Y: put(p, "x1y", 3); break;
  case CALLBACK_THEN_ONE: /* a callback, a pause, then the answer */
    put(p, "other|SET|{\"v\": 1}", 18);
    uv_sleep(100);
    put(p, "1", 1);
    break;
  case CALLBACK_WITH_ONE: put(p, "other|SET|1", 11); break;
  case SILENT: put(p, "pong", 4); break; /* no greeting, but an answer */
  }
}

static peer_t *start_peer(behaviour_t how) {
  peer_t *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->how = how;
  p->conn = TEST_NO_SOCKET;
  test_sockets_init();
  p->listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  assert_int_equal(bind(p->listener, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(p->listener, 1), 0);
  assert_int_equal(getsockname(p->listener, (struct sockaddr *)&a, &alen), 0);
  p->port = ntohs(a.sin_port);
  assert_int_equal(uv_thread_create(&p->thread, peer_main, p), 0);
  return p;
}

static void stop_peer(peer_t *p, dp_client_t *c) {
  atomic_store(&p->stop, true);
  dp_client_close(c); /* a blocked send fails */
  uv_thread_join(&p->thread);
  if (p->conn != TEST_NO_SOCKET) test_socket_close(p->conn);
  test_socket_close(p->listener);
  free(p);
}

static dp_client_t *connect_to(peer_t *p, size_t max_reply, int quiet_ms) {
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.port = p->port;
  o.timeout_s = 5.0;
  o.max_reply_bytes = max_reply;
  o.quiet_ms = quiet_ms;
  dp_client_t *c = dp_client_connect(&o);
  assert_non_null(c);
  assert_string_equal(dp_client_greeting(c), "Connected to fake");
  return c;
}

static void options_have_defaults(void **state) {
  (void)state;
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  assert_int_equal(o.max_reply_bytes, 16u << 20);
  assert_int_equal(o.quiet_ms, 5);
  assert_true(o.timeout_s == 1.0);
}

static void trickle_ends_at_the_deadline(void **state) {
  (void)state;
  peer_t *p = start_peer(TRICKLE);
  dp_client_t *c = connect_to(p, 0, 500); /* a stall of the peer is no pause */
  char *reply = NULL;
  size_t len = 0;
  uint64_t t0 = uv_hrtime();
  assert_int_equal(dp_client_request(c, "HI", &reply, &len, 0.3), DP_ETIMEDOUT);
  /* without a deadline over the whole call this never returns; the bound
   * is generous for a loaded machine */
  assert_true(uv_hrtime() - t0 < 5000000000u);
  assert_null(reply);
  assert_non_null(strstr(dp_error_detail(), "did not end within 0.300 s"));
  assert_non_null(strstr(dp_error_detail(), "never paused for 500 ms"));
  /* the bytes stay held; a second call has its own deadline too */
  assert_int_equal(dp_client_recv(c, &reply, &len, 0.1), DP_ETIMEDOUT);
  stop_peer(p, c);
}

static void flood_is_capped(void **state) {
  (void)state;
  peer_t *p = start_peer(FLOOD);
  dp_client_t *c = connect_to(p, 256 * 1024, 500); /* a stall of the peer is no pause */
  char *reply = NULL;
  size_t len = 0;
  assert_int_equal(dp_client_request(c, "HI", &reply, &len, 10.0), DP_ETOOBIG);
  assert_null(reply);
  assert_non_null(strstr(dp_error_detail(), "more than 262144 bytes (max_reply_bytes)"));
  /* the bytes were dropped and reading resumes: the next call fails the
   * same way, again bounded */
  assert_int_equal(dp_client_recv(c, &reply, &len, 10.0), DP_ETOOBIG);
  stop_peer(p, c);
}

/* UP against a peer that behaves `how`: dp_client_up() gives `up`, and the
 * bytes that were not the answer are kept for dp_client_recv(). */
static void check_up(behaviour_t how, double timeout_s, int up, const char *kept) {
  peer_t *p = start_peer(how);
  dp_client_t *c = connect_to(p, 0, 0);
  assert_int_equal(dp_client_up(c, timeout_s), up);
  char *reply = NULL;
  size_t len = 0;
  assert_int_equal(dp_client_recv(c, &reply, &len, 1.0), 0);
  assert_string_equal(reply, kept);
  free(reply);
  stop_peer(p, c);
}

static void up_needs_an_exact_one(void **state) {
  (void)state;
  check_up(X1Y, 0.3, 0, "x1y");
}

static void callback_holding_one_is_not_up(void **state) {
  (void)state;
  check_up(CALLBACK_WITH_ONE, 0.3, 0, "other|SET|1");
}

static void callback_before_the_answer_is_kept(void **state) {
  (void)state;
  check_up(CALLBACK_THEN_ONE, 5.0, 1, "other|SET|{\"v\": 1}"); /* without the "1" */
}

/* A module that sends no greeting: connect gives up on it after its timeout
 * and the greeting is "" (nothing was received: copying it must not touch
 * the empty buffer, which UBSan caught); commands work as usual. */
static void no_greeting_is_an_empty_one(void **state) {
  (void)state;
  peer_t *p = start_peer(SILENT);
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.port = p->port;
  o.timeout_s = 0.2;
  dp_client_t *c = dp_client_connect(&o);
  assert_non_null(c);
  assert_string_equal(dp_client_greeting(c), "");
  char *reply = NULL;
  size_t len = 0;
  assert_int_equal(dp_client_request(c, "PING", &reply, &len, 10.0), 0);
  assert_string_equal(reply, "pong");
  free(reply);
  stop_peer(p, c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(options_have_defaults),
      cmocka_unit_test(trickle_ends_at_the_deadline),
      cmocka_unit_test(flood_is_capped),
      cmocka_unit_test(up_needs_an_exact_one),
      cmocka_unit_test(callback_holding_one_is_not_up),
      cmocka_unit_test(callback_before_the_answer_is_kept),
      cmocka_unit_test(no_greeting_is_an_empty_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
