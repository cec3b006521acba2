/* client.h - talking to a Dareplane module the way the control room does:
 * connect with retries, read the greeting, send commands, read replies with a
 * timeout, list the commands (GET_PCOMMS), check liveness (UP).
 *
 *     dp_client_opts_t o;
 *     dp_client_opts_init(&o);
 *     o.port = 8081;
 *     dp_client_t *c = dp_client_connect(&o);
 *     char *reply; size_t len;
 *     if (dp_client_request(c, "ECHO|{\"text\": \"hi\"}", &reply, &len, 1.0) == 0) ...
 *     free(reply);
 *     dp_client_close(c);
 *
 * The protocol has no reply framing: a reply is what arrives after a command
 * until the module has been quiet for quiet_ms (default 5 ms). Callbacks the
 * module pushes arrive on the same socket and are read like replies (only
 * dp_client_up() tells them from its answer, by their grammar).
 *
 * Limits: every call ends by its own deadline (timeout_s from the call's
 * start covers sending, the first byte and the rest), and a client holds at
 * most max_reply_bytes (default 16 MiB) of unread bytes: past that it stops
 * reading (the module's sends block) and the call fails with DP_ETOOBIG,
 * dropping those bytes. A peer that trickles or floods cannot hold a call
 * past its deadline or grow the client's memory past the cap.
 *
 * Ignore SIGPIPE in programs that use it (dp-send does): sending to a module
 * that has just closed the connection may raise it.
 *
 * Blocking calls; a client is used by one thread at a time (each has its own
 * private event loop). Errors follow error.h.
 *
 * Event-driven use (an interactive console, say): run the client's own libuv
 * loop, dp_client_loop(), with other handles of yours on it; take the bytes
 * as they arrive with dp_client_on_data() and send with dp_client_queue(). */
#ifndef DAREPLANE_CLIENT_H
#define DAREPLANE_CLIENT_H

#include <stddef.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuv's loop (uv_loop_t in <uv.h>), named here so that only programs that
 * run it need libuv's header. */
struct uv_loop_s;

/* A connection to one module (opaque; dp_client_connect() makes one). */
typedef struct dp_client dp_client_t;

/* Options of dp_client_connect(); dp_client_opts_init() sets the defaults. */
typedef struct {
  const char *host;       /* name or address; default "127.0.0.1" */
  int port;               /* default 8080 */
  int attempts;           /* connection attempts when refused; default 3 */
  double retry_delay_s;   /* between attempts; default 1 */
  double timeout_s;       /* connecting, the greeting, dp_client_send(); default 1 */
  size_t max_reply_bytes; /* unread bytes held at most (0: default 16 MiB) */
  int quiet_ms;           /* a pause this long ends a reply (0: default 5) */
} dp_client_opts_t;

/* Fills *opts with the defaults above (the control room's). */
DP_EXTERN void dp_client_opts_init(dp_client_opts_t *opts);

/* Connects (retrying refused connections) and reads the greeting line.
 * Returns NULL with DP_ECONN (refused after every attempt, unknown host),
 * DP_ETIMEDOUT, DP_ETOOBIG (no newline in the first max_reply_bytes) or
 * DP_ENOMEM (see dp_error_detail()). A module that sends no greeting within
 * timeout_s is still connected (greeting ""). */
DP_EXTERN dp_client_t *dp_client_connect(const dp_client_opts_t *opts);

/* The greeting without its newline, e.g. "Connected to my_module". Owned by
 * the client. */
DP_EXTERN const char *dp_client_greeting(const dp_client_t *c);

/* Sends one command, adding the ';' terminator unless it ends in ';' or a
 * newline, waiting at most the client's timeout_s for the module to take it.
 * Returns 0, DP_ECLOSED, DP_EIO, DP_ETIMEDOUT (the module does not read;
 * the bytes stay queued and go out if it does). */
DP_EXTERN int dp_client_send(dp_client_t *c, const char *cmd);

/* Sends `len` bytes exactly as given; as dp_client_send(). */
DP_EXTERN int dp_client_send_raw(dp_client_t *c, const char *data, size_t len);

/* Waits for bytes from the module, then gathers until it is quiet for
 * quiet_ms, all within timeout_s of the call. *out (NUL-terminated, free() it) and
 * *len get every byte held (including ones kept by dp_client_up()).
 * Returns 0, DP_ETIMEDOUT (nothing came, or bytes were still arriving at the
 * deadline: they stay held for the next call), DP_ETOOBIG (more than
 * max_reply_bytes without a pause: dropped), DP_ECLOSED (the module closed
 * the connection and nothing is left), DP_ENOMEM (dropped likewise). */
DP_EXTERN int dp_client_recv(dp_client_t *c, char **out, size_t *len, double timeout_s);

/* dp_client_send() then dp_client_recv(), both within timeout_s of the
 * call. Commands that reply nothing give DP_ETIMEDOUT after timeout_s. */
DP_EXTERN int dp_client_request(dp_client_t *c, const char *cmd, char **reply, size_t *len,
                                double timeout_s);

/* GET_PCOMMS as a list: *names (n strings; free with dp_client_free_list).
 * Returns as dp_client_request(). */
DP_EXTERN int dp_client_get_pcomms(dp_client_t *c, char ***names, size_t *n, double timeout_s);
DP_EXTERN void dp_client_free_list(char **names, size_t n);

/* Sends UP and returns 1 when the answer arrives within timeout_s, 0 when
 * it does not, or a negative DP_E* code (DP_ECLOSED: the connection ended
 * without an answer; DP_ETOOBIG, DP_ENOMEM as dp_client_recv()).
 * The answer is the byte '1' where a message begins: the bytes after UP are
 * cut into answers and callbacks "<target>|<PCOMM>|<payload>" by their
 * grammar (target and PCOMM printable ASCII without blanks, '|' or ';'; the
 * payload a JSON object, which ends at its matching '}', or empty), however
 * they are glued or split and however long the module sends without a pause.
 * A '1' inside a callback, "x1y", "1\n", or more answers than there are UPs
 * unanswered (sent by dp_client_up(), this call's included) do not count;
 * the answer counts once a whole callback or a pause of quiet_ms follows
 * it. A pause where no message can end, or a byte out of place, starts the
 * scan again after it (the tail of an earlier reply does not hide the
 * answer). A callback whose target begins with '1' right after a message is
 * read as an answer and a callback. The answer is consumed; every other
 * byte, and the bytes that were waiting before UP was sent, stay held for
 * dp_client_recv(). */
DP_EXTERN int dp_client_up(dp_client_t *c, double timeout_s);

/* Called with each chunk of bytes the module sends, as it is read (data not
 * NUL-terminated, valid during the call only), and once with data NULL and
 * len 0 when the connection has ended (closed by the module, or a read
 * error). Runs on the thread running the client's loop. */
typedef void (*dp_client_data_fn)(const char *data, size_t len, void *user);

/* The client's own libuv loop (owned by the client, closed by
 * dp_client_close()), for running the client event-driven: add handles of
 * your own to it and run it with uv_run(); uv_close() them before
 * dp_client_close(), which runs the loop until it is idle. The blocking
 * functions above run this loop themselves: call them only while it is not
 * running (not from its callbacks; uv_stop() it first). Used by the
 * client's one thread, like the client. Never fails (c not NULL). */
DP_EXTERN struct uv_loop_s *dp_client_loop(dp_client_t *c);

/* Sets the data callback (fn NULL: clears it, bytes are then held for
 * dp_client_recv() again). Bytes already held are handed to fn at once,
 * before this returns. While it is set, each read is passed to fn as it
 * comes, while the loop runs, and nothing is held (max_reply_bytes does not
 * apply); dp_client_recv() and dp_client_up() then find nothing to read.
 * `user` is passed to fn and stays the caller's. Same thread as the client.
 * No errors. */
DP_EXTERN void dp_client_on_data(dp_client_t *c, dp_client_data_fn fn, void *user);

/* Queues `len` bytes (copied: data stays the caller's) to be sent, exactly
 * as given, without running the loop: for use in callbacks of handles on
 * dp_client_loop() (the bytes go out as the loop runs). Same thread as the
 * client. Returns 0, DP_ECLOSED (the connection has ended or the write
 * could not start) or DP_ENOMEM; a write that fails later makes the next
 * dp_client_send() fail with DP_EIO. */
DP_EXTERN int dp_client_queue(dp_client_t *c, const char *data, size_t len);

/* Closes the connection and frees the client. NULL is fine. */
DP_EXTERN void dp_client_close(dp_client_t *c);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_CLIENT_H */
