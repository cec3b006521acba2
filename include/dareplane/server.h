/* server.h - the module server: what makes a C program a Dareplane module.
 *
 * The control room drives a module over TCP with text commands (reference §1).
 * This server speaks that protocol byte for byte like dareplane_utils'
 * DefaultServer, but serves many clients at once on one libuv loop, frames
 * commands however TCP splits them, bounds what each client can make it
 * hold, and keeps the book of the workers that commands start.
 *
 *     static int echo(dp_request_t *req, void *user) {
 *       const char *text = dp_request_string(req, "text", "");
 *       return dp_request_reply(req, text, strlen(text));
 *     }
 *     dp_server_opts_t opts;
 *     dp_server_opts_init(&opts);
 *     opts.port = 8081;
 *     dp_server_t *srv = dp_server_new(&opts);
 *     dp_server_add(srv, "ECHO", echo, NULL, "reply the text");
 *     dp_server_listen(srv);
 *     dp_server_run(srv);            // until CLOSE
 *     dp_server_free(srv);
 *
 * Wire behaviour
 * - Each client gets the greeting "Connected to <name>\n" on connect.
 * - Framing: a command ends at ';' or at a newline, and nothing else ends
 *   it: bytes without a terminator wait for the rest of their command,
 *   however long it takes to arrive and however TCP splits it, so a command
 *   is never run in pieces. This is what dareplane_utils 0.0.24 requires of
 *   its clients (the control room sends "GET_PCOMMS;"); a client that sends
 *   "UP" without a terminator gets no answer. Bytes left without a terminator
 *   when the client closes the connection are logged and ignored. A ';' or
 *   newline inside a JSON string also ends the command (as in Python).
 * - A command is cleaned (every "\r\n" and 0xC2 byte removed) and split on
 *   '|': `PCOMM`, `PCOMM|{json}`, `PCOMM|arg1|...|argN|{json}`. The last
 *   piece, when non-empty, must be a JSON object (keyword arguments).
 * - Built-ins, in the forms "NAME" and "NAME|": STOP (stop every worker),
 *   CLOSE (stop everything and make dp_server_run() return), UP (reply "1"),
 *   GET_PCOMMS (reply the registered names in registration order and
 *   "STOP|CLOSE", joined by '|', no newline; with `list_builtins` also
 *   "GET_PCOMMS|UP" as dareplane_utils 0.0.24 does).
 * - Replies go to the client that asked. Invalid JSON, unknown commands and
 *   failing handlers are logged (logger "dareplane.server") and nothing is
 *   sent unless `error_replies` is set: then the client gets "ERROR <text>\n".
 * - A command longer than `max_command_len` bytes makes the server log an
 *   error and disconnect that client.
 *
 * Bounds on what clients can make the server hold (dp_server_opts_t; the
 * README lists them with their defaults), so that the control room stays
 * served whatever other clients do:
 * - At most `max_clients` connections (lowered to fit the process's limit of
 *   open files, leaving 64). At the limit a new client is admitted and one
 *   other is closed: the oldest that has not sent a valid command yet, else
 *   the one idle longest (since its last valid command) of those that have
 *   sent only UP and GET_PCOMMS. When every client has sent a command that
 *   acts (STOP or a registered one), the new client is refused (closed at
 *   once). A valid command is a built-in or a registered one, whatever its
 *   handler returns.
 * - Idle policy: a client that sends no valid command within
 *   `silent_timeout_s` of connecting is closed; a client that has sent one is
 *   closed after `idle_timeout_s` without a valid command (0: never).
 * - Replies a client does not read are queued up to `max_output_per_client`
 *   bytes, all clients' together up to `max_output_total`; past either, the
 *   client with the most bytes queued is disconnected. Each queued write
 *   counts with its bookkeeping (about 200 bytes).
 * - Back-pressure and fairness: a client with more than 256 KiB of replies
 *   queued is not read from until it has taken half of them (its commands
 *   wait in the kernel), and one read takes at most 16 KiB of a client's
 *   input before the other clients get their turn.
 * - Bytes of an unfinished command: up to `max_command_len` per client.
 * - Log lines one client's input causes ("Received: ...", unknown commands,
 *   invalid ones, failing handlers, wrong argument types): at most
 *   `log_lines_per_s` a second; the lines beyond are counted and one line a
 *   second per client says how many were suppressed, by level.
 * Every client closed or refused by a limit is logged with the reason.
 *
 * A program that uses the server without dp_module_main() should ignore
 * SIGPIPE, as dp_module_main() does: writing to a client that has just gone
 * may otherwise raise it.
 *
 * Threads: every function runs on the thread that calls dp_server_run()
 * unless it says it is thread-safe. Errors follow error.h. */
#ifndef DAREPLANE_SERVER_H
#define DAREPLANE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles: a server, a request being handled, a worker's stop signal. */
typedef struct dp_server dp_server_t;
typedef struct dp_request dp_request_t;
typedef struct dp_stop dp_stop_t;

/* Options of dp_server_new(); dp_server_opts_init() sets the defaults. */
typedef struct {
  const char *name;       /* greeting name (copied); default "default_server" */
  const char *ip;         /* bind address (copied); default "127.0.0.1" */
  int port;               /* default 8080; 0 picks a free port */
  int backlog;            /* listen backlog; default 511 */
  size_t max_command_len; /* default 65536 bytes */
  bool error_replies;     /* send "ERROR <text>\n" on errors; default false */
  bool list_builtins;     /* GET_PCOMMS also lists GET_PCOMMS|UP; default false */
  double stop_grace_s;    /* SIGTERM -> SIGKILL for process workers; default 2 (Linux) */
  double join_timeout_s;  /* wait for a stopped thread worker; default 2 */
  /* bounds on what clients can make the server hold (see above) */
  size_t max_clients;           /* connections; default 512 */
  double silent_timeout_s;      /* no valid command since connecting; default 60; 0: never */
  double idle_timeout_s;        /* no valid command for this long; default 0: never */
  size_t max_output_per_client; /* bytes queued for one client; default 16 MiB */
  size_t max_output_total;      /* bytes queued for all clients; default 64 MiB */
  unsigned log_lines_per_s;     /* log lines one client's input causes; default 50; 0: no limit */
} dp_server_opts_t;

/* Fills *opts with the defaults above. */
DP_EXTERN void dp_server_opts_init(dp_server_opts_t *opts);

/* A command handler. Runs on the loop thread; must not block for long (start
 * a worker for long work). Returns 0, or a negative DP_E* code, which the
 * server logs (with dp_error_detail() when the handler set one). */
typedef int (*dp_handler_fn)(dp_request_t *req, void *user);

/* Creates a server (opts NULL: defaults). Nothing listens until
 * dp_server_listen(). Returns NULL (DP_ENOMEM, DP_EINVAL) on failure. */
DP_EXTERN dp_server_t *dp_server_new(const dp_server_opts_t *opts);

/* Registers a handler for the primary command `name` (copied; non-empty, no
 * '|', ';', whitespace or control bytes, not a built-in). `help` (copied, may
 * be NULL) is a one-line description for usage texts. `user` is passed to fn.
 * Returns 0, DP_EINVAL, DP_EEXIST or DP_ENOMEM. */
DP_EXTERN int dp_server_add(dp_server_t *srv, const char *name, dp_handler_fn fn, void *user,
                            const char *help);

/* Number of registered handlers, and the name / help of the i-th (in
 * registration order; NULL when i is out of range; help "" when none). */
DP_EXTERN size_t dp_server_count(const dp_server_t *srv);
DP_EXTERN const char *dp_server_command_name(const dp_server_t *srv, size_t i);
DP_EXTERN const char *dp_server_command_help(const dp_server_t *srv, size_t i);

/* Binds and listens (address reuse on). Returns 0, or DP_ECONN with a detail
 * sentence (address in use, bad address). */
DP_EXTERN int dp_server_listen(dp_server_t *srv);

/* The port listened on (useful with port 0), or 0 before dp_server_listen(). */
DP_EXTERN int dp_server_port(const dp_server_t *srv);

/* Serves until CLOSE or dp_server_close(); then stops every worker (as STOP
 * does, waiting for them), closes every connection and returns 0. Call once. */
DP_EXTERN int dp_server_run(dp_server_t *srv);

/* Asks the server to shut down as CLOSE does. Thread-safe and
 * async-signal-safe; returns at once. */
DP_EXTERN void dp_server_close(dp_server_t *srv);

/* Stops every worker as STOP does (without waiting). Loop thread only. */
DP_EXTERN void dp_server_stop_workers(dp_server_t *srv);

/* Number of workers in the book (running or being stopped). Loop thread. */
DP_EXTERN size_t dp_server_worker_count(const dp_server_t *srv);

/* Frees the server. After dp_server_run() returned (or if it never ran).
 * Thread workers that never ended are left running and reported. */
DP_EXTERN void dp_server_free(dp_server_t *srv);

/* ---- sending from any thread --------------------------------------------- */

/* Queues `len` bytes (copied) for every connected client / for the client
 * `client` (see dp_request_client()). Thread-safe: for workers and other
 * threads; the bytes are written by the loop thread soon after. Returns 0,
 * DP_ESTATE once the server has finished running, DP_ENOMEM. Bytes for a
 * client that is gone are dropped. */
DP_EXTERN int dp_server_broadcast(dp_server_t *srv, const char *data, size_t len);
DP_EXTERN int dp_server_send_to(dp_server_t *srv, uint64_t client, const char *data, size_t len);

/* Sends the callback "<target>|<pcomm>|<payload>" to every client (the
 * control room routes it to module `target` as "<pcomm>|<payload>").
 * Thread-safe. Returns as dp_server_broadcast(), or DP_EINVAL when target or
 * pcomm is empty or contains '|'. */
DP_EXTERN int dp_server_callback(dp_server_t *srv, const char *target, const char *pcomm,
                                 const char *payload);

/* ---- inside a handler: the request ---------------------------------------- */
/* A request lives for the duration of the handler call; strings it returns
 * are owned by it and valid until the handler returns. */

/* The primary command of the request (piece 0, e.g. "START"). */
DP_EXTERN const char *dp_request_command(const dp_request_t *req);
/* The server the request came to (to reach its loop or send callbacks). */
DP_EXTERN dp_server_t *dp_request_server(const dp_request_t *req);
/* The asking client's id, for dp_server_send_to() from another thread. */
DP_EXTERN uint64_t dp_request_client(const dp_request_t *req);

/* Positional arguments: count and the i-th (NULL when out of range). */
DP_EXTERN size_t dp_request_nargs(const dp_request_t *req);
DP_EXTERN const char *dp_request_arg(const dp_request_t *req, size_t i);

/* Keyword arguments (the JSON object). Each getter returns `def` when the key
 * is absent or its value has another type (and logs a warning then):
 * int takes JSON integers and integral reals; double takes any number; bool
 * takes true/false; string takes strings. */
DP_EXTERN bool dp_request_has(const dp_request_t *req, const char *key);
DP_EXTERN int64_t dp_request_int(const dp_request_t *req, const char *key, int64_t def);
DP_EXTERN double dp_request_double(const dp_request_t *req, const char *key, double def);
DP_EXTERN bool dp_request_bool(const dp_request_t *req, const char *key, bool def);
DP_EXTERN const char *dp_request_string(const dp_request_t *req, const char *key, const char *def);
/* The value of `key` as compact JSON text (any type), or `def` when absent.
 * The text is valid until the next dp_request_json() call or the handler's
 * return. */
DP_EXTERN const char *dp_request_json(const dp_request_t *req, const char *key, const char *def);
/* Number of keys, and the i-th key in the order they were sent (NULL when out
 * of range). */
DP_EXTERN size_t dp_request_nkeys(const dp_request_t *req);
DP_EXTERN const char *dp_request_key(const dp_request_t *req, size_t i);

/* Sends `len` bytes to the asking client, as they are (no newline added).
 * Returns 0, DP_ECLOSED when the client is gone, DP_ENOMEM. */
DP_EXTERN int dp_request_reply(dp_request_t *req, const char *data, size_t len);
DP_EXTERN int dp_request_replyf(dp_request_t *req, const char *fmt, ...) DP_PRINTF(2, 3);

/* ---- workers ---------------------------------------------------------------- */

/* A thread worker's body. Runs on its own thread; must return soon after
 * `stop` is signalled (poll dp_stop_requested() or sleep in dp_stop_wait()).
 * `arg` belongs to the worker: free_arg (if not NULL) is called on it after
 * fn returned. */
typedef void (*dp_worker_fn)(dp_stop_t *stop, void *arg);

/* True once STOP (or shutdown) asked this worker to end. Thread-safe. */
DP_EXTERN bool dp_stop_requested(dp_stop_t *stop);

/* Sleeps up to `seconds` or until the stop signal; returns true when the
 * worker should stop. Thread-safe. */
DP_EXTERN bool dp_stop_wait(dp_stop_t *stop, double seconds);

/* Registers fn(ctx) to be called when the stop signal is raised (at once,
 * on this thread, when it already is), so that a worker waiting on
 * something else than dp_stop_wait() (an event loop, dareplane/loop.h) wakes
 * at once. One callback per stop; fn NULL removes it, after which it is no
 * longer called. fn runs with the stop's lock held: it must be short and
 * must not call dp_stop_* on the same stop. Thread-safe. */
DP_EXTERN void dp_stop_on_signal(dp_stop_t *stop, void (*fn)(void *ctx), void *ctx);

/* Starts a thread worker and puts it in the book under the request's
 * command. STOP signals it and joins it (waiting up to join_timeout_s; one
 * that does not end is reported as an error and joined when it ends). A
 * worker that returns by itself leaves the book. On failure free_arg(arg) is
 * called. Returns 0, DP_ENOMEM, DP_ESYS, DP_ESTATE (server shutting down). */
DP_EXTERN int dp_request_start_thread(dp_request_t *req, dp_worker_fn fn, void *arg,
                                      void (*free_arg)(void *));

/* Starts a process worker: argv[0] (looked up in PATH) with argv (NULL
 * terminated), in `cwd` (NULL: the module's), with environment `env` ("K=V"
 * strings, NULL terminated; NULL: the module's), stdin closed and
 * stdout/stderr shared with the module. The worker is the whole process tree:
 * the program and every process it starts, even one that moves to a session
 * or process group of its own (Linux: a small supervisor process per worker,
 * a child subreaper, holds the tree). STOP sends SIGTERM to every process of
 * the tree and SIGKILL after stop_grace_s; every one is reaped (no orphan, no
 * zombie). When the program ends by itself, what is left of its tree is
 * stopped the same way and the worker leaves the book. When the module ends
 * in any way, even by SIGKILL, its trees are stopped the same way. The
 * module reaps only its supervisors, never other children of its own.
 * Windows: the tree is a Job Object that nothing in it can leave and that
 * ends with the module; STOP ends the tree at once (no SIGTERM there, so no
 * grace period); argv[0] is searched as CreateProcess does.
 * *pid_out (if not NULL) gets the program's pid.
 * Returns 0, DP_EINVAL, DP_ESYS (with the reason), DP_ESTATE. */
DP_EXTERN int dp_request_start_process(dp_request_t *req, const char *const *argv, const char *cwd,
                                       const char *const *env, int *pid_out);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_SERVER_H */
