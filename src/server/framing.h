/* framing.h - the module server's framing: a client's byte stream cut into
 * commands. A command ends at ';' or at a newline and at nothing else, so a
 * command is never run before all of it has arrived, however TCP splits it
 * (see server.h). The bytes of a command that has no terminator yet are kept;
 * each byte is looked at and copied at most once (linear in the input, not in
 * the number of reads). No I/O here, so that it can be tested and fuzzed on
 * its own. Not installed. */
#ifndef DP_SERVER_FRAMING_H
#define DP_SERVER_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  char *buf; /* the unterminated tail of the stream */
  size_t len, cap;
  size_t max_len;   /* the longest command accepted, in bytes */
  uint64_t scanned; /* bytes examined for a terminator, ever (a work counter) */
  uint64_t copied;  /* bytes copied into buf, ever, regrowth included */
} dp_framer_t;

/* Called with each complete command (terminator excluded, never empty).
 * Returns false to stop: the rest of the input given to dp_framer_feed() is
 * dropped. */
typedef bool (*dp_framer_fn)(void *user, const char *cmd, size_t len);

/* An empty framer for commands of at most max_len bytes. */
void dp_framer_init(dp_framer_t *f, size_t max_len);

/* Takes the next `n` bytes of the stream and calls fn for every command they
 * complete, in order. Returns 0; DP_ETOOBIG when a command is longer than
 * max_len (the stream cannot be framed any further: drop the client); or
 * DP_ENOMEM. */
int dp_framer_feed(dp_framer_t *f, const char *data, size_t n, dp_framer_fn fn, void *user);

/* Releases the kept bytes. The framer can be fed again afterwards. */
void dp_framer_free(dp_framer_t *f);

#endif
