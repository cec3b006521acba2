/* test_launcher.c - the module launcher with real processes: a module
 * started, driven and closed; a group member that ignores SIGTERM is killed
 * and nothing of the group is left; a port that never opens fails in time; a
 * module that exits before its port opens, or dies while running, is
 * reported with how it ended; a missing executable and bad options are
 * refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "confine_logs.h"
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include "dareplane/error.h"
#include "dareplane/launcher.h"

static char module_path[1024];

static double now_s(void) {
  return (double)uv_hrtime() / 1e9;
}

static void opts_for(dp_launcher_opts_t *o, const char *path, const char *const *args, int port) {
  dp_launcher_opts_init(o);
  o->name = "test_module";
  o->path = path;
  o->args = args;
  o->port = port;
  o->start_timeout_s = 20; /* generous: the machine may be loaded */
  o->reply_timeout_s = 5;
  o->quiet = true;
}

/* dp-example-module on a free port, up and connected. */
static dp_launcher_t *start_example(void) {
  int port = test_free_port();
  char flag[32];
  snprintf(flag, sizeof flag, "--port=%d", port);
  const char *args[] = {flag, NULL};
  dp_launcher_opts_t o;
  opts_for(&o, module_path, args, port);
  dp_launcher_t *m = NULL;
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  return m;
}

static void test_start_drive_close(void **state) {
  (void)state;
  dp_launcher_t *m = start_example();
  assert_true(dp_launcher_pid(m) > 0);
  assert_true(dp_launcher_has_pcomm(m, "ECHO"));
  assert_true(dp_launcher_has_pcomm(m, "CLOSE"));
  assert_false(dp_launcher_has_pcomm(m, "NOPE"));
  char *reply;
  size_t len;
  assert_int_equal(dp_launcher_request(m, "ECHO|{\"text\": \"hi\"}", &reply, &len, 5), 0);
  assert_string_equal(reply, "hi");
  free(reply);
  int pid = dp_launcher_pid(m);
  assert_int_equal(dp_launcher_poll(m, NULL), 1);
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 1); /* CLOSE was enough */
  int status = -1;
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, 0);
  assert_int_equal(kill(pid, 0), -1);
  assert_int_equal(dp_launcher_send(m, "UP"), DP_ECLOSED);
  assert_int_equal(dp_launcher_stop(m), 0); /* again: same result */
  dp_launcher_free(m);
}

static int read_pid(const char *path) {
  int pid = 0;
  FILE *f = fopen(path, "r");
  if (f != NULL) {
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
  }
  return pid;
}

/* The module exits on CLOSE but leaves a child in its group that ignores
 * SIGTERM: the launcher must kill it, and it must be gone (reaped). */
static void test_no_orphans(void **state) {
  (void)state;
  int port = test_free_port();
  char pidfile[] = "/tmp/dp_launcher_XXXXXX";
  int fd = mkstemp(pidfile);
  assert_true(fd >= 0);
  close(fd);
  char script[2400];
  snprintf(script, sizeof script, "trap '' TERM; sleep 300 & echo $! > %s; exec '%s' --port=%d",
           pidfile, module_path, port);
  const char *args[] = {"-c", script, NULL};
  dp_launcher_opts_t o;
  opts_for(&o, "/bin/sh", args, port);
  o.term_grace_s = 0.3;
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  int child = read_pid(pidfile);
  assert_true(child > 0);
  assert_int_equal(kill(child, 0), 0); /* running */
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 3); /* SIGTERM ignored: SIGKILL */
  assert_int_equal(kill(child, 0), -1);           /* gone, and no zombie either */
  assert_int_equal(kill(-dp_launcher_pid(m), 0), -1);
  dp_launcher_free(m);
  unlink(pidfile);
}

static void test_port_never_opens(void **state) {
  (void)state;
  const char *args[] = {"30", NULL};
  dp_launcher_opts_t o;
  opts_for(&o, "/bin/sleep", args, test_free_port());
  o.start_timeout_s = 0.5;
  o.term_grace_s = 0.5;
  dp_launcher_t *m = (dp_launcher_t *)1;
  double t0 = now_s();
  assert_int_equal(dp_launcher_start(&m, &o), DP_ETIMEDOUT);
  double took = now_s() - t0;
  assert_null(m);
  assert_non_null(strstr(dp_error_detail(), "did not open within 0.5 s"));
  assert_true(took >= 0.5);
  assert_true(took < 10); /* the deadline, plus stopping the sleep */
}

static void test_exits_before_port(void **state) {
  (void)state;
  const char *args[] = {"-c", "exit 3", NULL};
  dp_launcher_opts_t o;
  opts_for(&o, "/bin/sh", args, test_free_port());
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), DP_ECLOSED);
  assert_non_null(strstr(dp_error_detail(), "exited with status 3 before its port opened"));
}

static void test_dies_while_running(void **state) {
  (void)state;
  dp_launcher_t *m = start_example();
  assert_int_equal(kill(dp_launcher_pid(m), SIGKILL), 0);
  int status = 0;
  double deadline = now_s() + 20;
  while (dp_launcher_poll(m, &status) == 1 && now_s() < deadline) uv_sleep(5);
  assert_int_equal(status, -SIGKILL);
  assert_int_equal(dp_launcher_send(m, "UP"), DP_ECLOSED);
  assert_non_null(strstr(dp_error_detail(), "signal 9"));
  assert_int_equal(dp_launcher_stop(m), 0);
  dp_launcher_free(m);
}

/* dp-logserver has a port but is no module; a sleep has no port at all. */
static void test_programs_that_are_not_modules(void **state) {
  (void)state;
  char path[1100], flag[32], logfile[] = "/tmp/dp_launcher_log_XXXXXX";
  int fd = mkstemp(logfile);
  assert_true(fd >= 0);
  close(fd);
  snprintf(path, sizeof path, "%s", module_path);
  char *slash = strrchr(path, '/');
  snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "dp-logserver");
  int port = test_free_port();
  snprintf(flag, sizeof flag, "--port=%d", port);
  const char *args[] = {flag, "--quiet", "--logfile", logfile, NULL};
  dp_launcher_opts_t o;
  opts_for(&o, path, args, port);
  o.plain_port = true;
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  assert_null(dp_launcher_client(m));
  assert_int_equal(dp_launcher_send(m, "UP"), DP_ESTATE);
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 2); /* no CLOSE for it: SIGTERM */
  int status = -1;
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, 0); /* dp-logserver exits 0 on SIGTERM */
  dp_launcher_free(m);
  unlink(logfile);

  const char *sleep_args[] = {"30", NULL};
  opts_for(&o, "/bin/sleep", sleep_args, 0);
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  assert_int_equal(dp_launcher_poll(m, NULL), 1);
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 2);
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, -SIGTERM);
  dp_launcher_free(m);
}

static void test_bad_start(void **state) {
  (void)state;
  dp_launcher_opts_t o;
  dp_launcher_t *m;
  opts_for(&o, "/nonexistent/dp-module", NULL, test_free_port());
  assert_int_equal(dp_launcher_start(&m, &o), DP_ESYS);
  assert_non_null(strstr(dp_error_detail(), "/nonexistent/dp-module"));
  opts_for(&o, module_path, NULL, -1);
  assert_int_equal(dp_launcher_start(&m, &o), DP_EINVAL);
  opts_for(&o, NULL, NULL, 0); /* connect-only needs a port */
  assert_int_equal(dp_launcher_start(&m, &o), DP_EINVAL);
  opts_for(&o, module_path, NULL, 8080);
  o.start_timeout_s = 0;
  assert_int_equal(dp_launcher_start(&m, &o), DP_EINVAL);
  dp_launcher_free(NULL);
}

int main(void) {
  confine_network_logs();
  signal(SIGPIPE, SIG_IGN);
  const char *bin = getenv("DP_BIN_DIR");
  snprintf(module_path, sizeof module_path, "%s/dp-example-module", bin != NULL ? bin : "bin");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_start_drive_close),
      cmocka_unit_test(test_no_orphans),
      cmocka_unit_test(test_port_never_opens),
      cmocka_unit_test(test_exits_before_port),
      cmocka_unit_test(test_dies_while_running),
      cmocka_unit_test(test_bad_start),
      cmocka_unit_test(test_programs_that_are_not_modules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
