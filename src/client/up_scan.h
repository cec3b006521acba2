/* up_scan.h - finding the answer to UP in what a module sends, byte by byte.
 *
 * The command protocol has no framing: after UP the module sends, glued
 * together in any way TCP likes, the answer "1" and callbacks
 * "<target>|<PCOMM>|<payload>" (server.h, dp_server_callback()). A callback
 * ends where its grammar says: target and PCOMM are names (printable ASCII
 * without blanks, '|' or ';'), the payload is a JSON object, which ends at
 * its matching '}', or empty (the control room forwards "<PCOMM>|<payload>"
 * to the target as a command, whose last piece is a JSON object or empty).
 * So the stream can be cut into messages exactly, whatever the pauses:
 * a "1" where a message begins is an answer; a callback whose target begins
 * with '1' cannot be told from an answer followed by a callback, and is read
 * as the latter. Anything else is not the protocol (an error), and so are
 * more answers than UPs were asked.
 * Pure (no I/O), for the client and its tests. Not installed. */
#ifndef DP_CLIENT_UP_SCAN_H
#define DP_CLIENT_UP_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  DP_UP_MORE,   /* the byte belongs to a message (or ends one) */
  DP_UP_ANSWER, /* the byte is an answer "1" */
  DP_UP_ERROR,  /* the byte cannot follow what came before */
} dp_up_event_t;

typedef struct {
  int state;
  size_t depth;       /* nesting inside the payload object */
  size_t callbacks;   /* complete callbacks since the last answer */
  size_t answers;     /* answers seen */
  size_t max_answers; /* more is an error */
} dp_up_scan_t;

/* At a message boundary, nothing seen, at most max_answers answers allowed. */
void dp_up_scan_init(dp_up_scan_t *s, size_t max_answers);

/* The next byte of the stream. After DP_UP_ERROR the scanner stays in error
 * (every byte gives DP_UP_ERROR) until dp_up_scan_init(). */
dp_up_event_t dp_up_scan_byte(dp_up_scan_t *s, unsigned char ch);

/* True when the bytes so far end where a message may end: at a boundary, or
 * after a callback's second '|' (an empty payload, unless a '{' follows). */
bool dp_up_scan_at_end(const dp_up_scan_t *s);

#endif
