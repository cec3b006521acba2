/* proc_tree.h - a started program as one unit: the program and every
 * process it starts in turn, whichever session or process group they move
 * to. Stopping the unit ends all of them (SIGTERM, then SIGKILL after a grace
 * period), and so does the end of the process that started it, orderly or
 * not: no descendant and no zombie is left behind.
 *
 * Two users: the module server's process workers (server/workers.c) and the
 * launcher (launcher/launcher.c), which is why it is a component of its own.
 * Both use only this interface. proc_tree_linux.c implements it with one
 * supervisor process per tree, proc_tree_win.c with a Job Object per tree
 * (there, stopping ends the tree at once: Windows has no SIGTERM for a
 * program, so grace_s is not used and `killed` never comes; see
 * DP_PROC_TREE_ASKS_FIRST). Loop thread only. Not installed. */
#ifndef DP_PROC_TREE_H
#define DP_PROC_TREE_H

#include <stdbool.h>
#include <uv.h>

typedef struct dp_proc_tree dp_proc_tree_t;

/* 1 when dp_proc_tree_stop() first asks the tree to end (SIGTERM) and kills
 * only what is left after grace_s; 0 when it ends the tree at once
 * (Windows: TerminateJobObject, as there is no request a program must
 * honour). */
#ifdef _WIN32
#define DP_PROC_TREE_ASKS_FIRST 0
#else
#define DP_PROC_TREE_ASKS_FIRST 1
#endif

/* What the tree reports, on the loop thread, in this order. */
typedef struct {
  /* The program itself ended with exit `status` or signal `sig` (0: none);
   * rest_left: processes it started still run and are being stopped. */
  void (*exited)(void *user, int status, int sig, bool rest_left);
  /* The grace period ran out and `n` processes got SIGKILL. */
  void (*killed)(void *user, int n);
  /* No process of the tree is left (all reaped). The tree is freed after
   * this returns. */
  void (*gone)(void *user);
} dp_proc_tree_events_t;

typedef struct {
  const char *const *argv; /* argv[0] is looked up in PATH */
  const char *cwd;         /* NULL: the caller's */
  const char *const *env;  /* "K=V", NULL terminated; NULL: the caller's */
  double grace_s;          /* SIGTERM -> SIGKILL */
  bool quiet;              /* stdout/stderr to the null device, not the caller's */
  const dp_proc_tree_events_t *events;
  void *user;
} dp_proc_tree_spec_t;

/* Starts argv with stdin closed and stdout/stderr shared with the caller
 * (with `quiet`: the null device).
 * Returns once the program runs (or could not be started): 0 with *out and
 * *pid (the program's pid), DP_ESYS with the reason in dp_error_detail()
 * ("cannot start X: no such file or directory"), DP_ENOMEM. */
int dp_proc_tree_start(uv_loop_t *loop, const dp_proc_tree_spec_t *spec, dp_proc_tree_t **out,
                       int *pid);

/* Ends every process of the tree: SIGTERM now, SIGKILL to whatever is left
 * after grace_s. Calling it again changes nothing. */
void dp_proc_tree_stop(dp_proc_tree_t *t);

/* Last resort when a stopped tree never reports `gone` (its supervisor was
 * itself stopped from outside; Windows: TerminateJobObject again): SIGKILL to every process of the
 * tree and to the supervisor, at once. `gone` follows. */
void dp_proc_tree_kill(dp_proc_tree_t *t);

#endif
