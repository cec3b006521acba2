/* test_server.c - the server in-process (run on its own thread) driven with
 * the client library: greeting, built-ins, replies only to the asker,
 * callbacks from a worker thread to every client, handler errors with error
 * replies, a handler that registers handlers and fails, a NUL after a name,
 * a command split at every byte, thread and process workers through STOP
 * (including one that outlives the join timeout), a worker that ends by
 * itself, and CLOSE. Limits: test_server_limits.c. The process workers are
 * this program itself in a child mode (main), so that the test needs no
 * shell and runs on Windows as well. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "confine_logs.h"
#include "server_fixture.h"
#include <uv.h>

#include "common/error_internal.h"
#include "dareplane/client.h"
#include "dareplane/log.h"
#include "dareplane/server.h"

#include <jansson.h>

/* A path in the system's temporary folder for mkstemp()/uv_fs_mkdtemp(). */
static void temp_path(char *out, size_t size, const char *name) {
  char dir[900];
  size_t len = sizeof dir;
  assert_int_equal(uv_os_tmpdir(dir, &len), 0);
  snprintf(out, size, "%s/%s", dir, name);
}

static int echo(dp_request_t *req, void *user) {
  (void)user;
  const char *text = dp_request_string(req, "text", "");
  return dp_request_reply(req, text, strlen(text));
}

static int failing(dp_request_t *req, void *user) {
  (void)req;
  (void)user;
  return dp_error_set(DP_EINVAL, "nope");
}

/* Registers enough commands to move the handler table, then fails. */
static int add_then_fail(dp_request_t *req, void *user) {
  (void)user;
  dp_server_t *srv = dp_request_server(req);
  for (int i = 0; i < 64; i++) {
    char name[32];
    snprintf(name, sizeof name, "ADDED%zu", dp_server_count(srv));
    assert_int_equal(dp_server_add(srv, name, echo, NULL, NULL), 0);
  }
  return dp_error_set(DP_EINVAL, "added and failed");
}

static int nwork(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_replyf(req, "%zu", dp_server_worker_count(dp_request_server(req)));
}

static void waiter(dp_stop_t *stop, void *arg) {
  dp_server_broadcast(arg, "started", 7);
  while (!dp_stop_wait(stop, 60)) {
  }
}

static void stubborn(dp_stop_t *stop, void *arg) {
  (void)arg;
  while (!dp_stop_requested(stop)) dp_stop_wait(stop, 0.01);
  uv_sleep(300); /* longer than the join timeout */
}

typedef struct {
  dp_server_t *srv;
  uint64_t client;
} whisper_t;

static void whisperer(dp_stop_t *stop, void *arg) {
  (void)stop;
  whisper_t *w = arg;
  dp_server_send_to(w->srv, w->client, "psst", 4);
}

static void quick(dp_stop_t *stop, void *arg) {
  (void)stop;
  (void)arg;
}

/* This program, for process workers (see main). */
static char self[1024];

static int work(dp_request_t *req, void *user) {
  (void)user;
  const char *kind = dp_request_string(req, "kind", "wait");
  if (strcmp(kind, "stubborn") == 0) return dp_request_start_thread(req, stubborn, NULL, NULL);
  if (strcmp(kind, "quick") == 0) return dp_request_start_thread(req, quick, NULL, NULL);
  if (strcmp(kind, "sleep") == 0) {
    const char *argv[] = {self, "child-sleep", NULL};
    return dp_request_start_process(req, argv, NULL, NULL, NULL);
  }
  if (strcmp(kind, "whisper") == 0) {
    whisper_t *w = malloc(sizeof *w);
    w->srv = dp_request_server(req);
    w->client = dp_request_client(req);
    return dp_request_start_thread(req, whisperer, w, free);
  }
  if (strcmp(kind, "cwd") == 0) { /* cwd and env reach the process */
    const char *argv[] = {self, "child-marker", NULL};
    char var[600];
    snprintf(var, sizeof var, "MARK=%s", dp_request_string(req, "mark", ""));
    const char *env[] = {var, NULL};
    return dp_request_start_process(req, argv, dp_request_string(req, "dir", ""), env, NULL);
  }
  if (strcmp(kind, "missing") == 0) {
    const char *argv[] = {"/nonexistent/program", NULL};
    return dp_request_start_process(req, argv, NULL, NULL, NULL);
  }
  return dp_request_start_thread(req, waiter, dp_request_server(req), NULL);
}

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  dp_server_opts_t o;
  dp_server_opts_init(&o);
  o.port = 0;
  o.name = "test_module";
  o.error_replies = true;
  o.join_timeout_s = 0.1;
  o.stop_grace_s = 0.5;
  dp_server_t *srv = dp_server_new(&o);
  assert_non_null(srv);
  assert_int_equal(dp_server_add(srv, "ECHO", echo, NULL, "echo"), 0);
  assert_int_equal(dp_server_add(srv, "FAIL", failing, NULL, NULL), 0);
  assert_int_equal(dp_server_add(srv, "NWORK", nwork, NULL, NULL), 0);
  assert_int_equal(dp_server_add(srv, "WORK", work, NULL, NULL), 0);
  assert_int_equal(dp_server_add(srv, "ADDER", add_then_fail, NULL, NULL), 0);
  fixture_start(f, srv);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  fixture_stop(f);
  free(f);
  return 0;
}

static void wait_workers(dp_client_t *c, const char *count) {
  uint64_t deadline = uv_hrtime() + 10 * (uint64_t)1000000000;
  for (;;) {
    char *reply;
    size_t len;
    assert_int_equal(dp_client_request(c, "NWORK", &reply, &len, 5.0), 0);
    bool done = strcmp(reply, count) == 0;
    free(reply);
    if (done) return;
    assert_true(uv_hrtime() < deadline);
    uv_sleep(10);
  }
}

static void registration_rules(void **state) {
  fixture_t *f = *state;
  assert_int_equal(dp_server_add(f->srv, "UP", echo, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_server_add(f->srv, "A|B", echo, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_server_add(f->srv, "A B", echo, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_server_add(f->srv, "", echo, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_server_add(f->srv, "X", NULL, NULL, NULL), DP_EINVAL);
  assert_int_equal(dp_server_count(f->srv), 5);
  assert_string_equal(dp_server_command_name(f->srv, 0), "ECHO");
  assert_string_equal(dp_server_command_help(f->srv, 1), "");
  assert_null(dp_server_command_name(f->srv, 5));
}

static void builtins_and_replies(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f), *b = connect_to(f);
  assert_string_equal(dp_client_greeting(a), "Connected to test_module");
  assert_int_equal(dp_client_up(a, 5.0), 1);
  char **names;
  size_t n;
  assert_int_equal(dp_client_get_pcomms(b, &names, &n, 5.0), 0);
  const char *want[] = {"ECHO", "FAIL", "NWORK", "WORK", "ADDER", "STOP", "CLOSE"};
  assert_int_equal(n, 7);
  for (size_t i = 0; i < n; i++) assert_string_equal(names[i], want[i]);
  dp_client_free_list(names, n);
  expect(a, "ECHO|{\"text\": \"to a\"}", "to a");
  char *reply;
  size_t len;
  assert_int_equal(dp_client_recv(b, &reply, &len, 0.1), DP_ETIMEDOUT); /* not b's */
  expect(a, "FAIL", "ERROR FAIL failed: nope\n");
  expect(a, "NOPE|{}", "ERROR unknown command NOPE|{}\n");
  assert_int_equal(dp_client_request(a, "ECHO|{bad", &reply, &len, 5.0), 0);
  assert_non_null(strstr(reply, "ERROR invalid JSON in the last piece of ECHO: "));
  assert_true(reply[len - 1] == '\n');
  free(reply);
  /* a fragment continued by a read that ends one command and starts a longer
   * one (the kept remainder overlaps the bytes before it in the buffer); each
   * reply proves the server has handled the read before the next is sent */
  char tail[61];
  memset(tail, 'c', 60);
  tail[60] = '\0';
  char chunk[160];
  snprintf(chunk, sizeof chunk, "P;UP;ECHO|{\"text\": \"%s", tail);
  const char *const steps[][2] = {{"UP;U", "1"}, {chunk, "11"}, {"\"};", tail}};
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(dp_client_send_raw(a, steps[i][0], strlen(steps[i][0])), 0);
    assert_int_equal(dp_client_recv(a, &reply, &len, 5.0), 0);
    assert_string_equal(reply, steps[i][1]);
    free(reply);
  }
  dp_client_close(a);
  dp_client_close(b);
}

/* A handler may register commands (from the loop thread) and then fail: the
 * error reply once read the handler table that registering had moved. */
static void handler_that_registers_and_fails(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f);
  expect(a, "ADDER", "ERROR ADDER failed: added and failed\n");
  expect(a, "ADDED68|{\"text\": \"new\"}", "new");
  dp_client_close(a);
}

/* "ECHO\0A" without terminator once made the name lookup read past the
 * stored name; a NUL inside a command is invalid input. */
static void nul_after_a_name(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f);
  char *reply;
  size_t len;
  assert_int_equal(dp_client_send_raw(a, "ECHO\0A", 6), 0);
  assert_int_equal(dp_client_recv(a, &reply, &len, 0.1), DP_ETIMEDOUT); /* waits for ';' */
  expect(a, ";", "ERROR command contains a NUL byte\n");
  expect(a, "UP", "1");
  dp_client_close(a);
}

/* A command split at every byte, with a pause after the first part, runs
 * once and whole: nothing runs before the terminator. */
static void split_at_every_byte(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f);
  const char cmd[] = "ECHO|{\"text\": \"whole\"};";
  for (size_t k = 1; k < sizeof cmd - 1; k++) {
    char *reply;
    size_t len;
    assert_int_equal(dp_client_send_raw(a, cmd, k), 0);
    /* the pause (longer than the 50 ms after which bytes used to run) */
    assert_int_equal(dp_client_recv(a, &reply, &len, 0.06), DP_ETIMEDOUT);
    assert_int_equal(dp_client_send_raw(a, cmd + k, sizeof cmd - 1 - k), 0);
    assert_int_equal(dp_client_recv(a, &reply, &len, 5.0), 0);
    assert_string_equal(reply, "whole");
    free(reply);
  }
  dp_client_close(a);
}

static void workers_and_callbacks(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f), *b = connect_to(f);
  expect(a, "WORK", "started");
  char *reply;
  size_t len;
  assert_int_equal(dp_client_recv(b, &reply, &len, 5.0), 0); /* broadcast: b too */
  assert_string_equal(reply, "started");
  free(reply);
  assert_int_equal(dp_client_send(a, "WORK|{\"kind\": \"sleep\"}"), 0);
  assert_int_equal(dp_client_send(a, "WORK|{\"kind\": \"stubborn\"}"), 0);
  wait_workers(a, "3");
  /* the server's console log goes to a file for the STOP */
  console_capture_t cap;
  capture_console(&cap);
  assert_int_equal(dp_client_send(a, "STOP"), 0);
  wait_workers(a, "0");
  FILE *log = release_console(&cap);
  char text[8192] = "";
  size_t got = fread(text, 1, sizeof text - 1, log);
  fclose(log);
  assert_true(got > 0);
  assert_non_null(strstr(text, "did not end within 0.1 s of STOP")); /* the stubborn one */
  assert_non_null(strstr(text, "ended (late)"));
  assert_non_null(strstr(text, "Closing process tree of WORK"));

  assert_int_equal(dp_client_send(a, "WORK|{\"kind\": \"quick\"}"), 0);
  wait_workers(a, "0");                              /* left the book by itself */
  expect(b, "WORK|{\"kind\": \"whisper\"}", "psst"); /* from a thread, to b only */
  assert_int_equal(dp_client_recv(a, &reply, &len, 0.1), DP_ETIMEDOUT);

  char dir[1024], out[1100];
  temp_path(dir, sizeof dir, "dp_test_server_XXXXXX");
  uv_fs_t mk;
  assert_int_equal(uv_fs_mkdtemp(NULL, &mk, dir, NULL), 0);
  snprintf(dir, sizeof dir, "%s", mk.path);
  uv_fs_req_cleanup(&mk);
  snprintf(out, sizeof out, "%s/cwd_marker", dir);
  json_t *cmd_json = json_pack("{s:s, s:s, s:s}", "kind", "cwd", "dir", dir, "mark", "here");
  char *args = json_dumps(cmd_json, JSON_COMPACT), cmd[1300];
  snprintf(cmd, sizeof cmd, "WORK|%s", args);
  free(args);
  json_decref(cmd_json);
  assert_int_equal(dp_client_send(a, cmd), 0);
  FILE *file = NULL;
  for (uint64_t deadline = uv_hrtime() + 10000000000u; file == NULL; uv_sleep(10)) {
    file = fopen(out, "r");
    assert_true(file != NULL || uv_hrtime() < deadline);
  }
  char mark[64] = "";
  assert_non_null(fgets(mark, sizeof mark, file));
  fclose(file);
  remove(out);
  uv_fs_t rm;
  assert_int_equal(uv_fs_rmdir(NULL, &rm, dir, NULL), 0);
  uv_fs_req_cleanup(&rm);
  assert_string_equal(mark, "here");
  wait_workers(a, "0");
  expect(a, "WORK|{\"kind\": \"missing\"}",
         "ERROR WORK failed: cannot start /nonexistent/program: no such file or directory\n");
  dp_client_close(a);
  dp_client_close(b);
}

static void shutdown_with_live_workers(void **state) {
  fixture_t *f = *state;
  dp_client_t *a = connect_to(f);
  expect(a, "WORK", "started");
  assert_int_equal(dp_client_send(a, "WORK|{\"kind\": \"sleep\"}"), 0);
  wait_workers(a, "2");
  assert_int_equal(dp_client_send(a, "CLOSE"), 0);
  uv_thread_join(&f->thread); /* run() returns once both workers are gone */
  char *reply;
  size_t len;
  assert_int_equal(dp_client_recv(a, &reply, &len, 5.0), DP_ECLOSED);
  assert_int_equal(dp_server_broadcast(f->srv, "x", 1), DP_ESTATE);
  dp_client_close(a);
  dp_server_free(f->srv);
  f->srv = NULL;
}

static int teardown_closed(void **state) {
  free(*state);
  return 0;
}

static void unused_server_frees(void **state) {
  (void)state;
  dp_server_t *srv = dp_server_new(NULL);
  assert_non_null(srv);
  dp_server_free(srv);
  dp_server_opts_t o;
  dp_server_opts_init(&o);
  o.port = 70000;
  assert_null(dp_server_new(&o));
  assert_int_equal(dp_error_last(), DP_EINVAL);
  o.port = 0;
  o.ip = "not-an-ip";
  srv = dp_server_new(&o);
  assert_int_equal(dp_server_listen(srv), DP_EINVAL);
  dp_server_free(srv);
}

static void client_errors(void **state) {
  (void)state;
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.port = 1; /* nothing listens on port 1 */
  o.attempts = 2;
  o.retry_delay_s = 0.01;
  assert_null(dp_client_connect(&o));
  assert_int_equal(dp_error_last(), DP_ECONN);
}

/* The process workers' modes: sleep, or write $MARK into ./cwd_marker (under
 * another name first, so the test never reads half of it). */
static int child_main(const char *mode) {
  if (strcmp(mode, "child-sleep") == 0) {
    uv_sleep(30000);
    return 0;
  }
  FILE *f = fopen("cwd_marker.tmp", "w");
  const char *mark = getenv("MARK");
  if (f == NULL || fputs(mark != NULL ? mark : "", f) < 0 || fclose(f) != 0) return 1;
  return rename("cwd_marker.tmp", "cwd_marker") == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc > 1) return child_main(argv[1]);
  size_t size = sizeof self;
  if (uv_exepath(self, &size) != 0) return 1;
  confine_network_logs();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(registration_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(builtins_and_replies, setup, teardown),
      cmocka_unit_test_setup_teardown(handler_that_registers_and_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(nul_after_a_name, setup, teardown),
      cmocka_unit_test_setup_teardown(split_at_every_byte, setup, teardown),
      cmocka_unit_test_setup_teardown(workers_and_callbacks, setup, teardown),
      cmocka_unit_test_setup_teardown(shutdown_with_live_workers, setup, teardown_closed),
      cmocka_unit_test(unused_server_frees),
      cmocka_unit_test(client_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
