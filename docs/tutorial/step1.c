/* step1.c - tutorial step 1: a module the control room can drive.
 *
 * One command, PING, and one flag, --stream (used from step 2 on). The rest
 * (UP, GET_PCOMMS, STOP, CLOSE, --port, --loglevel, --help, signals) comes
 * with dp_module_main(). docs/tutorial.md explains it line by line. */
#include <dareplane/dareplane.h>

static int ping(dp_request_t *req, void *user) {
  (void)user;
  return dp_request_replyf(req, "pong");
}

static int setup(dp_server_t *srv, const dp_module_t *mod, void *user) {
  (void)mod;
  (void)user;
  return dp_server_add(srv, "PING", ping, NULL, "reply pong");
}

int main(int argc, char **argv) {
  static const dp_module_flag_t flags[] = {
      {"stream", "mock_EEG_stream", "the LSL stream to watch"},
      {NULL, NULL, NULL},
  };
  dp_module_def_t def = {
      .name = "power",
      .summary = "The tutorial module: RMS power of an LSL stream.",
      .flags = flags,
      .setup = setup,
  };
  return dp_module_main(&def, argc, argv);
}
