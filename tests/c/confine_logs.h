/* confine_logs.h - for C tests that log warnings or errors: points the
 * network log handler at a port on which nothing listens, so that no test
 * ever sends records to a real log server on 9020. Call first in main().
 * test_free_port() gives such a port for other uses too. */
#ifndef DP_TEST_CONFINE_LOGS_H
#define DP_TEST_CONFINE_LOGS_H

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "test_platform.h"

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
static inline int test_free_port(void) {
  uv_loop_t loop;
  uv_tcp_t t;
  struct sockaddr_in a, b;
  int len = sizeof b;
  uv_loop_init(&loop);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&loop, &t);
  uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
  uv_tcp_getsockname(&t, (struct sockaddr *)&b, &len);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return ntohs(b.sin_port);
}

static inline void confine_network_logs(void) {
  char port[16];
  snprintf(port, sizeof port, "%d", test_free_port());
  test_setenv("DP_LOG_HOST", "127.0.0.1");
  test_setenv("DP_LOG_PORT", port);
}

#endif
