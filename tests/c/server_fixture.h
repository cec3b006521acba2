/* server_fixture.h - for C tests of the module server: a server on a free
 * port served on its own thread, clients of the client library, and raw
 * sockets for peers that misbehave. */
#ifndef DP_TEST_SERVER_FIXTURE_H
#define DP_TEST_SERVER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "dareplane/client.h"
#include "dareplane/log.h"
#include "dareplane/server.h"
#include "test_platform.h"

typedef struct {
  dp_server_t *srv;
  uv_thread_t thread;
  int port;
} fixture_t;

static inline void fixture_run(void *arg) {
  dp_server_run(arg);
}

/* Listens on a free port with `srv` (its commands registered) and serves it
 * on a thread of its own. */
static inline void fixture_start(fixture_t *f, dp_server_t *srv) {
  f->srv = srv;
  assert_non_null(f->srv);
  assert_int_equal(dp_server_listen(f->srv), 0);
  f->port = dp_server_port(f->srv);
  assert_true(f->port > 0);
  assert_int_equal(uv_thread_create(&f->thread, fixture_run, f->srv), 0);
}

/* CLOSE, join and free. */
static inline void fixture_stop(fixture_t *f) {
  dp_server_close(f->srv);
  uv_thread_join(&f->thread);
  dp_server_free(f->srv);
}

static inline dp_client_t *connect_to(const fixture_t *f) {
  dp_client_opts_t o;
  dp_client_opts_init(&o);
  o.port = f->port;
  dp_client_t *c = dp_client_connect(&o);
  assert_non_null(c);
  return c;
}

/* Sends cmd and checks the reply is exactly `expected`. */
static inline void expect(dp_client_t *c, const char *cmd, const char *expected) {
  char *reply;
  size_t len;
  assert_int_equal(dp_client_request(c, cmd, &reply, &len, 5.0), 0);
  assert_string_equal(reply, expected);
  free(reply);
}

/* A raw TCP connection to the fixture (rcvbuf > 0: that receive buffer). */
static inline test_socket_t raw_connect(const fixture_t *f, int rcvbuf) {
  test_sockets_init();
  test_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd != TEST_NO_SOCKET);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, (const void *)&rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* Reads what arrives within `ms`, up to size - 1 bytes (NUL-terminated);
 * returns the count, 0 at end of stream, -1 when nothing came. */
static inline long raw_read(test_socket_t fd, char *buf, size_t size, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) return -1;
  long n = recv(fd, buf, (int)(size - 1), 0);
  if (n < 0) n = test_socket_was_reset() ? 0 : -1;
  buf[n > 0 ? n : 0] = '\0';
  return n;
}

/* True once the server has closed fd (what it still sends is skipped),
 * false if it has not within `ms`. */
static inline bool raw_closed_within(test_socket_t fd, int ms) {
  char buf[65536];
  uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000u;
  while (uv_hrtime() < deadline)
    if (raw_read(fd, buf, sizeof buf, 10) == 0) return true;
  return false;
}

/* The server's log (logger dareplane.server at INFO) on the console, with
 * stderr sent to a temporary file, between capture_console() and
 * release_console(), which returns the file to read (fclose() it). */
typedef struct {
  char path[1024];
  int fd, saved;
} console_capture_t;

static inline void capture_console(console_capture_t *c) {
  char dir[900];
  size_t len = sizeof dir;
  assert_int_equal(uv_os_tmpdir(dir, &len), 0);
  snprintf(c->path, sizeof c->path, "%s/dp_test_console_XXXXXX", dir);
  c->fd = mkstemp(c->path);
  c->saved = dup(2);
  assert_true(c->fd >= 0 && c->saved >= 0);
  dup2(c->fd, 2);
  dp_logger_set_level(dp_log_get("dareplane.server"), DP_LOG_INFO);
  dp_log_set_console(true);
}

static inline FILE *release_console(console_capture_t *c) {
  dp_log_set_console(false);
  dp_logger_set_level(dp_log_get("dareplane.server"), DP_LOG_NOTSET);
  fflush(stderr);
  dup2(c->saved, 2);
  close(c->saved);
  remove(c->path);
  FILE *f = fdopen(c->fd, "r");
  assert_non_null(f);
  rewind(f);
  return f;
}

#endif
