/* fuzz_command.c - libFuzzer target for the module server's whole command
 * path: a real server with real handlers gets the input through a connected
 * socket, cut into segments the input chooses, and frames, parses and
 * dispatches it exactly as it would bytes from the network (read callback,
 * framing, built-ins, handlers, error replies, output caps, log budget).
 *
 * Input: byte 0 seeds the segmentation (0: everything in one write), the
 * rest is the byte stream. The handlers include one that registers another
 * handler and then fails (the handler table moves under the dispatcher), one
 * that reads every argument accessor, and one that replies a lot under small
 * output caps. Besides "no crash, no leak, no out-of-bounds access" it
 * checks that framing does not depend on the segmentation: the same bytes
 * framed in one piece and in segments give the same commands.
 *
 * tests/c/test_command_corpus.c includes this file and replays the inputs
 * that found bugs, so they stay fixed in every build. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/server_internal.h"

#include "common/error_internal.h"

#include "dareplane/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COMMAND 2048

/* Replies the JSON text of "text" (any type). */
static int echo_json(dp_request_t *req, void *user) {
  (void)user;
  const char *text = dp_request_json(req, "text", "null");
  return dp_request_reply(req, text, strlen(text));
}

static int failing(dp_request_t *req, void *user) {
  (void)req;
  (void)user;
  return DP_EINVAL; /* no detail: the server words it */
}

/* Registers a command (named by "name", else ADDED<n>), then fails. */
static int add_then_fail(dp_request_t *req, void *user) {
  unsigned *n = user;
  char name[32];
  snprintf(name, sizeof name, "ADDED%u", (*n)++);
  dp_server_add(dp_request_server(req), dp_request_string(req, "name", name), echo_json, NULL,
                NULL);
  return DP_EINVAL;
}

static int args(dp_request_t *req, void *user) {
  (void)user;
  size_t total = strlen(dp_request_command(req));
  for (size_t i = 0; i < dp_request_nargs(req); i++) total += strlen(dp_request_arg(req, i));
  for (size_t i = 0; i < dp_request_nkeys(req); i++) {
    const char *k = dp_request_key(req, i);
    total += (size_t)dp_request_int(req, k, 0) + (size_t)dp_request_bool(req, k, false);
    total += (size_t)dp_request_double(req, k, 0) + strlen(dp_request_string(req, k, ""));
    total += strlen(dp_request_json(req, k, ""));
  }
  return dp_request_replyf(req, "%zu", total);
}

/* Replies n bytes (at most 256 KiB): fills the output caps. */
static int big(dp_request_t *req, void *user) {
  (void)user;
  int64_t n = dp_request_int(req, "n", 1000);
  static char fill[256 * 1024];
  if (n < 0 || n > (int64_t)sizeof fill) return dp_error_set(DP_ERANGE, "n out of range");
  memset(fill, 'b', (size_t)n);
  return dp_request_reply(req, fill, (size_t)n);
}

/* Framing checked against itself: a digest of the commands and the result. */
typedef struct {
  uint64_t digest;
  size_t count;
} frames_t;

static bool collect(void *user, const char *cmd, size_t len) {
  frames_t *f = user;
  for (size_t i = 0; i < len; i++) f->digest = (f->digest ^ (uint8_t)cmd[i]) * 1099511628211u;
  f->digest = (f->digest ^ 0x100u) * 1099511628211u; /* the boundary */
  f->count++;
  return true;
}

static uint32_t next_rand(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* The length of the next segment (seed 0: all of it). */
static size_t segment(uint32_t *s, size_t left) {
  if (*s == 0) return left;
  size_t n = 1 + next_rand(s) % (1u << (next_rand(s) % 12));
  return n < left ? n : left;
}

static void check_framing(const uint8_t seed, const char *in, size_t n) {
  frames_t whole = {0}, cut = {0};
  dp_framer_t f;
  dp_framer_init(&f, MAX_COMMAND);
  int rc_whole = dp_framer_feed(&f, in, n, collect, &whole);
  dp_framer_free(&f);
  dp_framer_init(&f, MAX_COMMAND);
  int rc_cut = 0;
  uint32_t s = seed;
  for (size_t at = 0, len; at < n && rc_cut == 0; at += len) {
    len = segment(&s, n - at);
    rc_cut = dp_framer_feed(&f, in + at, len, collect, &cut);
  }
  if (f.scanned > n || f.copied > 3 * (uint64_t)n) abort(); /* linear work */
  dp_framer_free(&f);
  if (rc_whole != rc_cut || whole.count != cut.count || whole.digest != cut.digest) abort();
}

static void drain(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool once;
  if (!once) {
    once = true;
    signal(SIGPIPE, SIG_IGN);
    dp_log_set_network_handler(false);
    dp_logger_set_level(dp_log_get("dareplane.server"), DP_LOG_DEBUG); /* format every line */
  }
  if (size == 0) return 0;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;
  check_framing(data[0], in, n);

  dp_server_opts_t o;
  dp_server_opts_init(&o);
  o.name = "fuzz";
  o.error_replies = data[0] % 2 == 1;
  o.max_command_len = MAX_COMMAND;
  o.max_output_per_client = 128 * 1024;
  o.max_output_total = 64 * 1024;
  o.log_lines_per_s = 5;
  dp_server_t *srv = dp_server_new(&o);
  unsigned added = 0;
  if (srv == NULL || dp_server_add(srv, "ECHO", echo_json, NULL, NULL) < 0 ||
      dp_server_add(srv, "FAIL", failing, NULL, NULL) < 0 ||
      dp_server_add(srv, "ADD", add_then_fail, &added, NULL) < 0 ||
      dp_server_add(srv, "ARGS", args, NULL, NULL) < 0 ||
      dp_server_add(srv, "BIG", big, NULL, NULL) < 0)
    abort();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) abort();
  if (dp_server_adopt(srv, sv[0]) != 0) abort();
  uint32_t s = data[0];
  for (size_t at = 0, len; at < n && !srv->closing && srv->n_conns > 0; at += len) {
    len = segment(&s, n - at);
    ssize_t w = send(sv[1], in + at, len, MSG_NOSIGNAL);
    if (w < 0) break;
    len = (size_t)w;
    uv_run(&srv->loop, UV_RUN_NOWAIT);  /* read and handle this segment */
    if (data[0] % 4 != 3) drain(sv[1]); /* else: a client that never reads */
    if (srv->queued_total > o.max_output_total) abort();
  }
  uv_run(&srv->loop, UV_RUN_NOWAIT);
  close(sv[1]);
  dp_server_free(srv);
  return 0;
}
