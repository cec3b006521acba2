/* client_internal.h - what dp-send's interactive console needs beyond
 * client.h: the client's loop, to run a terminal on it too, and a callback
 * for bytes as they arrive. Not installed. */
#ifndef DP_CLIENT_INTERNAL_H
#define DP_CLIENT_INTERNAL_H

#include "dareplane/client.h"

#include <stdbool.h>
#include <uv.h>

/* Called with each chunk the module sends (data NULL, len 0: connection
 * closed). While set, bytes are not buffered for dp_client_recv(). */
typedef void (*dp_client_data_fn)(const char *data, size_t len, void *user);

uv_loop_t *dp_client_loop(dp_client_t *c);

/* Sets (fn NULL: clears) the data callback; bytes already buffered are handed
 * to it at once. The callback gets each read as it comes (no cap applies). */
void dp_client_on_data(dp_client_t *c, dp_client_data_fn fn, void *user);

/* Queues `len` bytes (copied) for sending without running the loop, for use
 * inside callbacks of dp_client_loop(). Returns 0, DP_ECLOSED, DP_ENOMEM. */
int dp_client_queue(dp_client_t *c, const char *data, size_t len);

#endif
