/* test_client.c - the client against hostile fake modules (a thread with a
 * plain socket): a peer that trickles bytes forever or floods cannot hold a
 * call past its deadline or past max_reply_bytes; dp_client_up() finds the
 * answer "1" among callbacks however TCP glues or splits them (every split
 * point, byte by byte, a storm that never pauses) and nothing that is not an
 * answer, keeping every other byte for dp_client_recv(); a peer that
 * sends no greeting gives an empty one; and the client run event-driven on
 * its own loop (data callback, queued sends). */
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

typedef enum {
  TRICKLE,
  FLOOD,
  X1Y,
  CALLBACK_THEN_ONE,
  CALLBACK_WITH_ONE,
  SILENT,
  SCRIPT, /* per command, script[i] sent in two writes cut at split[i] (-1: byte by byte) */
  STORM,  /* callbacks without a pause, the answer glued among them */
  EVENTS, /* two callbacks, then "bye" and close once "ACK;" came */
} behaviour_t;

enum { MAX_ROUNDS = 512 };

typedef struct {
  behaviour_t how;
  const char *script[MAX_ROUNDS];
  int split[MAX_ROUNDS];
  size_t rounds;
  test_socket_t listener, conn;
  int port;
  atomic_bool stop;
  atomic_bool acked; /* EVENTS: "ACK;" arrived */
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

static void play_script(peer_t *p) {
  for (size_t i = 0; i < p->rounds; i++) {
    if (i > 0 && !got_command(p)) return;
    const char *text = p->script[i];
    size_t len = strlen(text);
    if (p->split[i] < 0) {
      for (size_t k = 0; k < len; k++)
        if (!put(p, text + k, 1)) return;
    } else if (!put(p, text, (size_t)p->split[i]) ||
               !put(p, text + p->split[i], len - (size_t)p->split[i])) {
      return;
    }
  }
}

#define STORM_CALLBACK "other|SET|{\"v\": 1}"

static void storm(peer_t *p) {
  for (unsigned i = 0; !atomic_load(&p->stop); i++)
    if (!put(p, STORM_CALLBACK, strlen(STORM_CALLBACK)) || (i == 1000 && !put(p, "1", 1))) return;
}

#define EVENT_CALLBACKS "a|X|{}b|Y|{\"n\": 2}"

/* Two callbacks in two writes; once the client sends "ACK;", "bye" and the
 * end of the connection. */
static void events(peer_t *p) {
  if (!put(p, "a|X|{}", 6) || !put(p, EVENT_CALLBACKS + 6, strlen(EVENT_CALLBACKS) - 6)) return;
  char got[16] = {0};
  size_t n = 0;
  while (n < 4) {
    int r = recv(p->conn, got + n, (int)(4 - n), 0);
    if (r <= 0) return;
    n += (size_t)r;
  }
  atomic_store(&p->acked, strcmp(got, "ACK;") == 0);
  put(p, "bye", 3);
  test_socket_close(p->conn);
  p->conn = TEST_NO_SOCKET;
}

static void peer_main(void *arg) {
  peer_t *p = arg;
  p->conn = accept(p->listener, NULL, NULL);
  if (p->conn == TEST_NO_SOCKET || (p->how != SILENT && !put(p, "Connected to fake\n", 18)) ||
      !got_command(p))
    return;
  int one = 1;
  setsockopt(p->conn, IPPROTO_TCP, TCP_NODELAY, (const void *)&one, sizeof one);
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
  case SCRIPT: play_script(p); break;
  case STORM: storm(p); break;
  case EVENTS: events(p); break;
  }
}

/* Starts a peer; a SCRIPT peer's rounds are filled in before (p from
 * new_peer()). */
static peer_t *new_peer(behaviour_t how) {
  peer_t *p = calloc(1, sizeof *p);
  assert_non_null(p);
  p->how = how;
  return p;
}

static peer_t *run_peer(peer_t *p) {
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

static peer_t *start_peer(behaviour_t how) {
  return run_peer(new_peer(how));
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

/* A callback's payload is a JSON object or empty (the control room forwards
 * it as the last piece of a command): "other|SET|1" is the callback
 * "other|SET|" and the answer. */
static void answer_after_an_empty_payload(void **state) {
  (void)state;
  check_up(CALLBACK_WITH_ONE, 5.0, 1, "other|SET|");
}

/* What the module sends after UP, with the answer, and what stays held. */
typedef struct {
  const char *sent, *kept;
} glued_t;

#define CB  "other|SET|{\"v\": 1}"
#define CB2 "b|GO|{\"s\": \"}|1\\\"{\", \"n\": {\"m\": [1, {\"k\": 1}]}}"

static const glued_t answered[] = {
    {"1", ""},
    {CB "1", CB},
    {"1" CB, CB},
    {CB "1" CB2, CB CB2},
    {CB2 CB "1" CB CB2, CB2 CB CB CB2},
    {"t|P|1", "t|P|"},
    {"1t|P|" CB, "t|P|" CB},
    {"t|P|1t|Q|", "t|P|t|Q|"},
};

/* Reads until `want` bytes are held (they may come in several pieces). */
static void recv_exactly(dp_client_t *c, const char *want) {
  size_t n = strlen(want), got = 0;
  char *all = calloc(1, n + 1);
  assert_non_null(all);
  while (got < n) {
    char *reply = NULL;
    size_t len = 0;
    assert_int_equal(dp_client_recv(c, &reply, &len, 5.0), 0);
    assert_true(got + len <= n);
    memcpy(all + got, reply, len);
    got += len;
    free(reply);
  }
  assert_string_equal(all, want);
  free(all);
}

/* Every answer in `answered`, cut in two at every byte, and byte by byte:
 * dp_client_up() gives 1 each time and exactly the other bytes stay held. */
static void answer_glued_any_way(void **state) {
  (void)state;
  peer_t *p = new_peer(SCRIPT);
  for (size_t i = 0; i < sizeof answered / sizeof answered[0]; i++) {
    size_t len = strlen(answered[i].sent);
    for (int k = -1; k <= (int)len; k++) {
      assert_true(p->rounds < MAX_ROUNDS);
      p->script[p->rounds] = answered[i].sent;
      p->split[p->rounds++] = k;
    }
  }
  run_peer(p);
  dp_client_t *c = connect_to(p, 0, 0);
  for (size_t r = 0; r < p->rounds; r++) {
    const glued_t *g = NULL;
    for (size_t i = 0; g == NULL; i++)
      if (answered[i].sent == p->script[r]) g = &answered[i];
    print_message("%s cut at %d\n", g->sent, p->split[r]);
    assert_int_equal(dp_client_up(c, 10.0), 1);
    recv_exactly(c, g->kept);
  }
  stop_peer(p, c);
}

/* Bytes that hold no answer: UP gives 0 and every byte stays held. */
static void no_answer_in(const char *sent) {
  peer_t *p = new_peer(SCRIPT);
  p->script[0] = sent;
  p->split[0] = (int)strlen(sent) / 2;
  p->rounds = 1;
  run_peer(p);
  dp_client_t *c = connect_to(p, 0, 0);
  print_message("%s\n", sent);
  assert_int_equal(dp_client_up(c, 0.3), 0);
  recv_exactly(c, sent);
  stop_peer(p, c);
}

static void not_an_answer(void **state) {
  (void)state;
  no_answer_in(CB);            /* a '1' inside a payload */
  no_answer_in(CB CB2);        /* ... glued to the next callback */
  no_answer_in("other|S1|{}"); /* inside a name */
  no_answer_in("1\n");         /* an answer followed by what is no message */
  no_answer_in("1x");          /* ... by a callback that never ends */
  no_answer_in("1|SET|{}");    /* ... by a stray '|' */
  no_answer_in(CB "}1");       /* after what is no message */
  no_answer_in("11");          /* two answers to one UP */
}

/* Callbacks without a pause for as long as UP waits, the answer glued in
 * the middle: the answer is found (cutting at pauses, it never was). */
static void answer_in_a_storm(void **state) {
  (void)state;
  peer_t *p = start_peer(STORM);
  dp_client_t *c = connect_to(p, 0, 0);
  assert_int_equal(dp_client_up(c, 10.0), 1);
  stop_peer(p, c);
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

/* What the event-driven test's callbacks saw. */
typedef struct {
  dp_client_t *client;
  char got[64];
  size_t len;
  int chunks_after_close; /* data after the end was signalled: must stay 0 */
  bool closed, acked, overflow;
} events_seen_t;

static void on_events(const char *data, size_t len, void *user) {
  events_seen_t *e = user;
  if (e->closed) e->chunks_after_close++;
  if (data == NULL) {
    e->closed = true;
    uv_stop(dp_client_loop(e->client));
    return;
  }
  if (e->len + len >= sizeof e->got) {
    e->overflow = true;
    return;
  }
  memcpy(e->got + e->len, data, len);
  e->len += len;
  /* both callbacks in: answer from inside the loop's callback */
  if (!e->acked && e->len >= strlen(EVENT_CALLBACKS)) {
    e->acked = true;
    assert_int_equal(dp_client_queue(e->client, "ACK;", 4), 0);
  }
}

static void events_deadline(uv_timer_t *t) {
  uv_stop(t->loop);
}

/* The client run event-driven: its loop, with a handle of ours on it (a
 * deadline), passes the module's bytes to the data callback in order (those
 * held before the callback was set first), sends what the callback queues,
 * and signals the end of the connection once. */
static void event_driven_use(void **state) {
  (void)state;
  peer_t *p = start_peer(EVENTS);
  dp_client_t *c = connect_to(p, 0, 0);
  assert_int_equal(dp_client_send(c, "HI"), 0);
  events_seen_t e = {.client = c};
  uv_loop_t *loop = dp_client_loop(c);
  assert_non_null(loop);
  uv_timer_t deadline;
  assert_int_equal(uv_timer_init(loop, &deadline), 0);
  assert_int_equal(uv_timer_start(&deadline, events_deadline, 30000, 0), 0);
  dp_client_on_data(c, on_events, &e);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  assert_true(e.closed);
  assert_false(e.overflow);
  assert_int_equal(e.chunks_after_close, 0);
  e.got[e.len] = '\0';
  assert_string_equal(e.got, EVENT_CALLBACKS "bye");
  assert_int_equal(dp_client_queue(c, "X;", 2), DP_ECLOSED);
  dp_client_on_data(c, NULL, NULL);
  assert_true(atomic_load(&p->acked)); /* what the callback queued was sent */
  stop_peer(p, c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(options_have_defaults),
      cmocka_unit_test(trickle_ends_at_the_deadline),
      cmocka_unit_test(flood_is_capped),
      cmocka_unit_test(up_needs_an_exact_one),
      cmocka_unit_test(answer_after_an_empty_payload),
      cmocka_unit_test(answer_glued_any_way),
      cmocka_unit_test(not_an_answer),
      cmocka_unit_test(answer_in_a_storm),
      cmocka_unit_test(callback_before_the_answer_is_kept),
      cmocka_unit_test(no_greeting_is_an_empty_one),
      cmocka_unit_test(event_driven_use),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
