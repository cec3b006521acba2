/* confine_logs.h - for C tests that log warnings or errors: points the
 * network log handler at a port on which nothing listens, so that no test
 * ever sends records to a real log server on 9020. Call first in main().
 * test_free_port() gives such a port for other uses too. */
#ifndef DP_TEST_CONFINE_LOGS_H
#define DP_TEST_CONFINE_LOGS_H

#include <stdio.h>
#include <stdlib.h>
#include <dareplane/launcher.h>

#include "test_platform.h"

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static inline int test_free_port(void) {
  int port = dp_launcher_free_port();
  if (port < 0) {
    fprintf(stderr, "%s\n", dp_error_detail());
    abort();
  }
  return port;
}

static inline void confine_network_logs(void) {
  char port[16];
  snprintf(port, sizeof port, "%d", test_free_port());
  test_setenv("DP_LOG_HOST", "127.0.0.1");
  test_setenv("DP_LOG_PORT", port);
}

#endif
