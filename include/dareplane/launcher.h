/* launcher.h - the control room's side of a module: start its executable,
 * connect to it, drive it, and stop it with nothing left behind (the C
 * counterpart of dareplane_utils.module_handling: ExeLauncher,
 * SocketCommunicator and ModuleConnection), on Linux and Windows.
 *
 *     const char *args[] = {"--port=8083", NULL};
 *     dp_launcher_opts_t o;
 *     dp_launcher_opts_init(&o);
 *     o.name = "passthrough";
 *     o.path = "build/bin/dp-passthrough";
 *     o.args = args;
 *     o.port = 8083;
 *     dp_launcher_t *m;
 *     if (dp_launcher_start(&m, &o) < 0) fprintf(stderr, "%s\n", dp_error_detail());
 *     dp_launcher_request(m, "START", &reply, &len, 0.5);
 *     ...
 *     dp_launcher_stop(m);   // CLOSE, then the whole process tree ends
 *     dp_launcher_free(m);
 *
 * What it does differently from the Python reference (reference §4):
 * - The executable runs as one process tree with everything it starts, at
 *   any depth, whichever session or process group they move to (the same
 *   mechanism as the module server's process workers): on Linux under a
 *   small supervisor process that is a child subreaper, in a session and
 *   process group of its own; on Windows inside a Job Object of its own
 *   (created suspended, no breaking away, killed when the job's last handle
 *   closes). Stopping ends the whole tree and waits until no process of it
 *   is left and every one is reaped: no orphan, no zombie. The tree also
 *   ends when the launching process ends in any way, even killed, and the
 *   rest of the tree is ended when the program itself exits.
 * - Stop on Linux: CLOSE, then (after `close_grace_s`) SIGTERM to every
 *   process of the tree, then (after `term_grace_s`) SIGKILL. On Windows
 *   there is no request to end that a program must honour (console control
 *   events reach only programs sharing a console and group), so after CLOSE
 *   and `close_grace_s` the job is terminated at once (TerminateJobObject,
 *   exit code 1): `term_grace_s` is not used, and a program that does not
 *   end on CLOSE gets no chance to clean up.
 * - Start waits for the port with a deadline (`start_timeout_s`), trying every
 *   20 ms, and notices at once when the process exits before its port opens
 *   (the error says how it ended). The greeting is read as soon as it arrives
 *   (no fixed 1 s wait); GET_PCOMMS and UP are answered within
 *   `reply_timeout_s` or start fails.
 * - A launcher can be started once; stop and free are safe to call again.
 *
 * Threads: a launcher is used by one thread at a time. Several launchers may
 * live in one process (each has its own event loop). Programs that send to
 * modules should ignore SIGPIPE (see client.h). Errors follow error.h; on
 * failure dp_error_detail() says what happened. */
#ifndef DAREPLANE_LAUNCHER_H
#define DAREPLANE_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "client.h"
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A launched module (opaque; dp_launcher_start() makes one). */
typedef struct dp_launcher dp_launcher_t;

/* How to start and reach a module (dp_launcher_opts_init() fills the
 * defaults). */
typedef struct {
  const char *name;        /* for messages and logs; default "module" */
  const char *path;        /* executable; NULL: connect only (kind "conn_only") */
  const char *const *args; /* arguments after the program name, NULL-ended; may be NULL */
  const char *cwd;         /* working directory; NULL: ours */
  const char *const *env;  /* "K=V" strings, NULL-ended; NULL: our environment */
  const char *host;        /* where to connect; default "127.0.0.1" */
  int port;                /* the module's port (1..65535); 0: a program without
                              one (e.g. a stream source): start it, nothing else */
  bool plain_port;         /* the port is not a module's (e.g. dp-logserver): wait
                              until it accepts, then close that connection; no
                              greeting, GET_PCOMMS or UP; default false */
  double start_timeout_s;  /* for the port to open and greet; default 10 */
  double reply_timeout_s;  /* for GET_PCOMMS and UP at start; default 1 */
  double close_grace_s;    /* CLOSE -> SIGTERM to the tree (Windows: terminate
                              the job); default 2 */
  double term_grace_s;     /* SIGTERM -> SIGKILL; default 2; Windows: unused */
  bool quiet;              /* the module's stdout/stderr to /dev/null; default false */
} dp_launcher_opts_t;

/* A TCP port on 127.0.0.1 that nothing is bound to right now (the kernel
 * picks it), for a module or log server about to be launched. Another
 * process may take it before the program binds it; dp_launcher_start() then
 * fails (DP_ECLOSED or DP_ETIMEDOUT) and the caller can pick again.
 * Thread-safe (it uses a loop of its own). Returns the port (1..65535), or
 * DP_ESYS when no socket can be bound (the detail says why). */
DP_EXTERN int dp_launcher_free_port(void);

/* Fills *opts with the defaults above. */
DP_EXTERN void dp_launcher_opts_init(dp_launcher_opts_t *opts);

/* Starts the executable (when opts->path is set), waits for its port, connects,
 * reads the greeting, asks GET_PCOMMS and checks UP (with `plain_port`: only
 * waits until the port accepts; with port 0: only starts the program). On success *out owns the
 * running module; free it with dp_launcher_free(). On failure every process
 * started is stopped as dp_launcher_stop() does and *out is NULL.
 * Returns 0; DP_EINVAL (bad options); DP_ESYS (cannot start: the detail names
 * the path); DP_ECLOSED (the process ended before it was up: the detail gives
 * its exit status or signal); DP_ETIMEDOUT (no port, no greeting, no
 * GET_PCOMMS reply or no "1" to UP in time); DP_ECONN; DP_ENOMEM. */
DP_EXTERN int dp_launcher_start(dp_launcher_t **out, const dp_launcher_opts_t *opts);

/* The connection to the module (borrowed, valid until dp_launcher_stop()):
 * send commands and read replies and callbacks with the functions of
 * client.h. NULL for a plain port or no port. */
DP_EXTERN dp_client_t *dp_launcher_client(dp_launcher_t *l);

/* The module's commands from GET_PCOMMS at start: count, and the i-th name
 * (borrowed; NULL when i is out of range). */
DP_EXTERN size_t dp_launcher_pcomm_count(const dp_launcher_t *l);
DP_EXTERN const char *dp_launcher_pcomm(const dp_launcher_t *l, size_t i);

/* True when GET_PCOMMS listed `name`. */
DP_EXTERN bool dp_launcher_has_pcomm(const dp_launcher_t *l, const char *name);

/* Sends a command and reads its reply within timeout_s; see
 * dp_client_request(). Before sending, a module that has exited is
 * reported: DP_ECLOSED with its exit status in the detail; DP_ESTATE when
 * there is no module connection (plain port, port 0). */
DP_EXTERN int dp_launcher_request(dp_launcher_t *l, const char *cmd, char **reply, size_t *len,
                                  double timeout_s);

/* Sends a command that replies nothing (START, STOP, ...). Returns 0,
 * DP_ECLOSED (module gone: detail says how it ended), DP_ESTATE, DP_EIO. */
DP_EXTERN int dp_launcher_send(dp_launcher_t *l, const char *cmd);

/* The launched program's process id, or 0 for a connect-only module. */
DP_EXTERN int dp_launcher_pid(const dp_launcher_t *l);

/* Whether the launched program still runs, without waiting: 1 running, 0
 * exited (then *status, if not NULL, gets the exit code, or minus the signal
 * number that ended it; on Windows a terminated program has exit code 1),
 * DP_ESTATE for a connect-only module. */
DP_EXTERN int dp_launcher_poll(dp_launcher_t *l, int *status);

/* Stops the module: sends CLOSE (modules only; other programs start at the
 * next step) and waits up to close_grace_s for the program to exit. If it
 * still runs, or left processes behind, the tree is ended: Linux: SIGTERM to
 * every process of it, SIGKILL to what is left after term_grace_s; Windows:
 * TerminateJobObject. Then it waits until every process of the tree is gone
 * and reaped (up to term_grace_s + 5 s, then once more after a second kill,
 * 5 s). Closes the connection. Returns 0 when the tree ended (how:
 * dp_launcher_stop_stage()), DP_ETIMEDOUT when it did not (the detail names
 * the program; dp_launcher_free() then waits until it is gone). Calling it
 * again returns the first result. */
DP_EXTERN int dp_launcher_stop(dp_launcher_t *l);

/* How the last stop ended the tree: 0 not stopped yet, 1 by itself
 * (CLOSE, or the program had ended), 2 SIGTERM was needed (Linux), 3 it was
 * killed (Linux: SIGKILL; Windows: the job was terminated). */
DP_EXTERN int dp_launcher_stop_stage(const dp_launcher_t *l);

/* Stops the module if still running (as dp_launcher_stop()) and frees
 * everything; if the stop failed, it first waits until the tree is gone.
 * NULL is a no-op. */
DP_EXTERN void dp_launcher_free(dp_launcher_t *l);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_LAUNCHER_H */
