/* test_launcher.c - the module launcher with real processes, on Linux and
 * Windows alike: a module started, driven and closed; a module that leaves a
 * process behind (one that ignores SIGTERM on Linux) and one that does not
 * end after CLOSE are killed, and nothing of their trees is left; a port
 * that never opens fails in time; a module that exits before its port
 * opens, or dies while running, is reported with how it ended; a missing
 * executable and bad options are refused; dp_launcher_free_port() gives a
 * port that can be bound.
 *
 * The modules are dp-example-module and this program in a child mode (main),
 * so no shell is needed. Where the platforms differ, only in how a tree is
 * ended after CLOSE: SIGTERM on Linux (stage 2; a program ended by it has
 * status -15), TerminateJobObject on Windows (stage 3; exit code 1). */
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
#include <uv.h>

#include "dareplane/error.h"
#include "dareplane/launcher.h"
#include "dareplane/module.h"

#ifdef _WIN32
#define EXE               ".exe"
#define ENDED_STAGE       3                /* no request to end: terminated */
#define ENDED_STATUS(sig) ((void)(sig), 1) /* TerminateJobObject's exit code */
#define KILLED_STATUS     1                /* uv_kill(SIGKILL) is TerminateProcess(1) */
#define KILLED_DETAIL     "exited with status 1"
#else
#define EXE               ""
#define ENDED_STAGE       2 /* SIGTERM was enough */
#define ENDED_STATUS(sig) (-(sig))
#define KILLED_STATUS     (-SIGKILL)
#define KILLED_DETAIL     "signal 9"
#endif

#define DEADLINE_S 20.0 /* generous: the machine may be loaded */

static char self[1024], bin_dir[1024], module_path[1100];

static double now_s(void) {
  return (double)uv_hrtime() / 1e9;
}

/* A fresh file name in the temporary folder. */
static void temp_name(char *out, size_t size, const char *what) {
  char dir[900];
  size_t len = sizeof dir;
  assert_int_equal(uv_os_tmpdir(dir, &len), 0);
  snprintf(out, size, "%s/dp_test_launcher_%s_%d_%llu", dir, what, (int)uv_os_getpid(),
           (unsigned long long)uv_hrtime());
}

static void opts_for(dp_launcher_opts_t *o, const char *path, const char *const *args, int port) {
  dp_launcher_opts_init(o);
  o->name = "test_module";
  o->path = path;
  o->args = args;
  o->port = port;
  o->start_timeout_s = DEADLINE_S;
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

/* Two free ports in a row are usable and, while the first is bound, the
 * second differs from it. */
static void test_free_port_bindable(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_tcp_t t;
  struct sockaddr_in a;
  int port = dp_launcher_free_port();
  assert_in_range(port, 1, 65535);
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uv_ip4_addr("127.0.0.1", port, &a), 0);
  assert_int_equal(uv_tcp_init(&loop, &t), 0);
  assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&t, 1, NULL), 0);
  int other = dp_launcher_free_port();
  assert_in_range(other, 1, 65535);
  assert_int_not_equal(other, port);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
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
  assert_int_equal(uv_kill(pid, 0), UV_ESRCH);
  assert_int_equal(dp_launcher_send(m, "UP"), DP_ECLOSED);
  assert_int_equal(dp_launcher_stop(m), 0); /* again: same result */
  dp_launcher_free(m);
}

/* The pid in `path`, once it is there (the writer renames it into place). */
static int read_pid(const char *path) {
  double deadline = now_s() + DEADLINE_S;
  for (;;) {
    int pid = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      if (fscanf(f, "%d", &pid) != 1) pid = 0;
      fclose(f);
    }
    if (pid > 0) {
      remove(path);
      return pid;
    }
    assert_true(now_s() < deadline);
    uv_sleep(5);
  }
}

/* The module exits on CLOSE but leaves a process of its own session or group
 * behind that ignores SIGTERM (Linux) or that nothing asks to end (Windows):
 * the launcher must kill it, and it must be gone (reaped). */
static void test_no_orphans(void **state) {
  (void)state;
  int port = test_free_port();
  char pidfile[1024], flag[32];
  temp_name(pidfile, sizeof pidfile, "pid");
  snprintf(flag, sizeof flag, "--port=%d", port);
  const char *args[] = {"child-leaves-stubborn", pidfile, flag, NULL};
  dp_launcher_opts_t o;
  opts_for(&o, self, args, port);
  o.term_grace_s = 0.3;
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  int child = read_pid(pidfile);
  assert_int_equal(uv_kill(child, 0), 0); /* running */
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 3); /* SIGTERM ignored: SIGKILL */
  int status = -1;
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, 0);                   /* the module itself ended on CLOSE */
  assert_int_equal(uv_kill(child, 0), UV_ESRCH); /* gone, and no zombie either */
  dp_launcher_free(m);
}

/* The module closes its port on CLOSE but its process does not end (and
 * ignores SIGTERM on Linux): it is killed. */
static void test_ignores_close(void **state) {
  (void)state;
  int port = test_free_port();
  char flag[32];
  snprintf(flag, sizeof flag, "--port=%d", port);
  const char *args[] = {"child-ignores-close", flag, NULL};
  dp_launcher_opts_t o;
  opts_for(&o, self, args, port);
  o.close_grace_s = 1; /* covers the module's own shutdown after CLOSE */
  o.term_grace_s = 0.3;
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  int pid = dp_launcher_pid(m);
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 3);
  int status = 0;
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, KILLED_STATUS);
  assert_int_equal(uv_kill(pid, 0), UV_ESRCH);
  dp_launcher_free(m);
}

static void test_port_never_opens(void **state) {
  (void)state;
  const char *args[] = {"child-sleep", NULL};
  dp_launcher_opts_t o;
  opts_for(&o, self, args, test_free_port());
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
  const char *args[] = {"child-exit-3", NULL};
  dp_launcher_opts_t o;
  opts_for(&o, self, args, test_free_port());
  dp_launcher_t *m;
  assert_int_equal(dp_launcher_start(&m, &o), DP_ECLOSED);
  assert_non_null(strstr(dp_error_detail(), "exited with status 3 before its port opened"));
}

static void test_dies_while_running(void **state) {
  (void)state;
  dp_launcher_t *m = start_example();
  assert_int_equal(uv_kill(dp_launcher_pid(m), SIGKILL), 0);
  int status = 0;
  double deadline = now_s() + DEADLINE_S;
  while (dp_launcher_poll(m, &status) == 1 && now_s() < deadline) uv_sleep(5);
  assert_int_equal(status, KILLED_STATUS);
  assert_int_equal(dp_launcher_send(m, "UP"), DP_ECLOSED);
  assert_non_null(strstr(dp_error_detail(), KILLED_DETAIL));
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), 1); /* it had ended */
  dp_launcher_free(m);
}

/* dp-logserver has a port but is no module; a sleep has no port at all. */
static void test_programs_that_are_not_modules(void **state) {
  (void)state;
  char path[1100], flag[32], logfile[1024];
  temp_name(logfile, sizeof logfile, "log");
  snprintf(path, sizeof path, "%s/dp-logserver" EXE, bin_dir);
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
  assert_int_equal(dp_launcher_stop_stage(m), ENDED_STAGE); /* no CLOSE for it */
  int status = -1;
  assert_int_equal(dp_launcher_poll(m, &status), 0);
#ifdef _WIN32
  assert_int_equal(status, 1);
#else
  assert_int_equal(status, 0); /* dp-logserver exits 0 on SIGTERM */
#endif
  dp_launcher_free(m);
  remove(logfile);

  const char *sleep_args[] = {"child-sleep", NULL};
  opts_for(&o, self, sleep_args, 0);
  assert_int_equal(dp_launcher_start(&m, &o), 0);
  assert_int_equal(dp_launcher_poll(m, NULL), 1);
  assert_int_equal(dp_launcher_stop(m), 0);
  assert_int_equal(dp_launcher_stop_stage(m), ENDED_STAGE);
  assert_int_equal(dp_launcher_poll(m, &status), 0);
  assert_int_equal(status, ENDED_STATUS(SIGTERM));
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

/* ---- this program as the launched one ------------------------------------ */

/* SIGTERM ignored from here on (Linux; Windows has none to ignore). */
static void ignore_sigterm(void) {
#ifndef _WIN32
  signal(SIGTERM, SIG_IGN);
#endif
}

/* A module named "child" on the command line's --port, serving until CLOSE. */
static int serve(int argc, char **argv) {
  dp_module_def_t def = {.name = "child"};
  return dp_module_main(&def, argc, argv);
}

/* child-leaves-stubborn PIDFILE --port=P: starts child-stubborn detached (its
 * own session on Linux, its own group without console on Windows), writes
 * its pid into PIDFILE (under another name first), then serves until CLOSE
 * and exits 0, leaving it behind. */
static int leave_stubborn(int argc, char **argv) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *gargv[] = {self, "child-stubborn", NULL};
  uv_process_options_t po = {.file = self, .args = gargv, .flags = UV_PROCESS_DETACHED};
  uv_process_t proc;
  if (argc < 4 || uv_spawn(&loop, &proc, &po) != 0) return 2;
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
  FILE *f = fopen(tmp, "w");
  if (f == NULL || fprintf(f, "%d\n", proc.pid) < 0 || fclose(f) != 0 || rename(tmp, argv[2]) != 0)
    return 2;
  uv_close((uv_handle_t *)&proc, NULL); /* it runs on, unwatched */
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return serve(argc - 2, argv + 2);
}

static int child_main(int argc, char **argv) {
  if (strcmp(argv[1], "child-exit-3") == 0) return 3;
  if (strcmp(argv[1], "child-sleep") == 0 || strcmp(argv[1], "child-stubborn") == 0) {
    if (strcmp(argv[1], "child-stubborn") == 0) ignore_sigterm();
    uv_sleep(300000);
    return 0;
  }
  if (strcmp(argv[1], "child-leaves-stubborn") == 0) return leave_stubborn(argc, argv);
  if (strcmp(argv[1], "child-ignores-close") == 0) {
    serve(argc - 1, argv + 1);
    ignore_sigterm();
    uv_sleep(300000);
    return 0;
  }
  return 2;
}

int main(int argc, char **argv) {
  size_t size = sizeof self;
  if (uv_exepath(self, &size) != 0) return 1;
  if (argc > 1) return child_main(argc, argv);
  confine_network_logs();
#ifndef _WIN32
  signal(SIGPIPE, SIG_IGN);
#endif
  snprintf(bin_dir, sizeof bin_dir, "%s", self);
  char *slash = strrchr(bin_dir, '/'), *back = strrchr(bin_dir, '\\');
  if (back != NULL && (slash == NULL || back > slash)) slash = back;
  if (slash != NULL) *slash = '\0';
  snprintf(module_path, sizeof module_path, "%s/dp-example-module" EXE, bin_dir);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_port_bindable),
      cmocka_unit_test(test_start_drive_close),
      cmocka_unit_test(test_no_orphans),
      cmocka_unit_test(test_ignores_close),
      cmocka_unit_test(test_port_never_opens),
      cmocka_unit_test(test_exits_before_port),
      cmocka_unit_test(test_dies_while_running),
      cmocka_unit_test(test_bad_start),
      cmocka_unit_test(test_programs_that_are_not_modules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
