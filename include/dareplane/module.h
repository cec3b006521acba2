/* module.h - the main() of a Dareplane module in one call.
 *
 * dp_module_main() parses the command line as the control room and Python
 * modules (the `fire` package) do, sets up logging, builds the server, lets
 * the module register its commands, and serves until CLOSE, SIGINT or
 * SIGTERM (on Windows also Ctrl-Break), each of which is a graceful shutdown
 * (workers stopped, clients closed):
 *
 *     static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
 *       return dp_server_add(srv, "START", start, NULL, "start the paradigm");
 *     }
 *     int main(int argc, char **argv) {
 *       static const dp_module_flag_t flags[] = {{"stream", "mockup", "LSL stream"}, {0}};
 *       dp_module_def_t def = {.name = "my_module", .flags = flags, .setup = setup};
 *       return dp_module_main(&def, argc, argv);
 *     }
 *
 * Flags: `--key=value` and `--key value`; `-` and `_` are the same in keys;
 * a flag with no value (followed by another flag or nothing) means "True".
 * SIGPIPE is ignored (a vanished client must not end the module).
 * Every module has --ip (default 127.0.0.1), --port (default 8080),
 * --loglevel (number or name; else DP_LOG_LEVEL; default WARNING), --name
 * (greeting name), --error_replies (send "ERROR <text>\n" on bad input),
 * --list_builtins (GET_PCOMMS also lists GET_PCOMMS|UP, as dareplane_utils
 * 0.0.24 does), the client bounds --max_clients, --silent_timeout and
 * --idle_timeout (seconds; see dp_server_opts_t), and --help. Unknown flags and positional
 * arguments are usage errors. */
#ifndef DAREPLANE_MODULE_H
#define DAREPLANE_MODULE_H

#include "common.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One module-specific flag. */
typedef struct {
  const char *key;  /* e.g. "stream_name": --stream_name / --stream-name */
  const char *def;  /* default text, or NULL (then dp_module_get() gives NULL) */
  const char *help; /* one line for --help */
} dp_module_flag_t;

/* The parsed command line, valid during setup and until dp_module_main()
 * returns. */
typedef struct dp_module dp_module_t;

/* Called once the server exists and before it listens: register commands
 * here. Return 0, or a negative DP_E* code to end dp_module_main() with 1. */
typedef int (*dp_module_setup_fn)(dp_server_t *srv, const dp_module_t *mod, void *user);

/* What dp_module_main() runs: the module's name, flags and setup. */
typedef struct {
  const char *name;              /* default greeting name, e.g. "my_module" */
  const char *summary;           /* one line for --help (may be NULL) */
  int default_port;              /* 0 means 8080 */
  const dp_module_flag_t *flags; /* module flags, ended by an entry with key NULL */
  dp_module_setup_fn setup;      /* registers the commands; may be NULL */
  void *user;                    /* passed to setup */
} dp_module_def_t;

/* Runs the module; returns the process exit status: 0 after a graceful end,
 * 2 after a usage error (message and usage on stderr; 0 for --help, usage on
 * stdout), 1 when setting up or listening failed (logged). Call from main(),
 * once. */
DP_EXTERN int dp_module_main(const dp_module_def_t *def, int argc, char **argv);

/* The value of the module flag `key` as given on the command line, else its
 * default (NULL when neither). */
DP_EXTERN const char *dp_module_get(const dp_module_t *mod, const char *key);

/* The generic settings the module runs with (after parsing). */
DP_EXTERN const char *dp_module_name(const dp_module_t *mod);
DP_EXTERN int dp_module_port(const dp_module_t *mod);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_MODULE_H */
