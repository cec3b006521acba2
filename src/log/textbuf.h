/* textbuf.h - a growable byte buffer for building log frames and lines
 * (internal to the logger).
 *
 * Starts in caller-provided storage (usually on the stack) and moves to the
 * heap only when that is too small, so the common short record costs no
 * allocation. An allocation failure is sticky: later appends do nothing and
 * dp_textbuf_failed() reports it once at the end.
 *
 * A buffer may have a limit: it then never holds (nor allocates room for)
 * more than `limit` bytes; an append that does not fit is cut there and sets
 * `truncated`, which writers of big output check to stop early. */
#ifndef DP_LOG_TEXTBUF_H
#define DP_LOG_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "dareplane/common.h"

typedef struct dp_textbuf {
  char *data;
  size_t len;
  size_t cap;
  size_t limit;   /* most bytes it may hold; 0: no limit (may be changed any time) */
  bool heap;      /* data was allocated here and must be freed */
  bool failed;    /* an append ran out of memory */
  bool truncated; /* an append was cut at the limit */
} dp_textbuf_t;

/* Starts an empty buffer without a limit in `storage` (cap bytes; may be NULL
 * with cap 0). */
void dp_textbuf_init(dp_textbuf_t *b, char *storage, size_t cap);
/* Frees heap storage, if any. The buffer may be initialised again. */
void dp_textbuf_free(dp_textbuf_t *b);
/* Hands the contents over as a heap block of len bytes + NUL that the caller
 * frees, or NULL when out of memory. The buffer is left empty. */
char *dp_textbuf_take(dp_textbuf_t *b);

bool dp_textbuf_failed(const dp_textbuf_t *b);
/* Drops the end of the text so that it does not stop inside a UTF-8
 * sequence (after a cut at the limit). */
void dp_textbuf_trim_utf8(dp_textbuf_t *b);
void dp_textbuf_put(dp_textbuf_t *b, const void *bytes, size_t n);
void dp_textbuf_puts(dp_textbuf_t *b, const char *s);
void dp_textbuf_putc(dp_textbuf_t *b, char c);
void dp_textbuf_printf(dp_textbuf_t *b, const char *fmt, ...) DP_PRINTF(2, 3);

/* Appends `n` bytes of `s` as a JSON string literal (with quotes): control
 * characters, '"' and '\\' escaped, valid UTF-8 copied, and every byte that
 * is not part of valid UTF-8 replaced by U+FFFD, so the result is always
 * valid JSON whatever the input. */
void dp_textbuf_put_json_string(dp_textbuf_t *b, const char *s, size_t n);

/* Appends `n` bytes of `s` with every invalid UTF-8 byte replaced by U+FFFD
 * (no quoting, no escaping). */
void dp_textbuf_put_utf8(dp_textbuf_t *b, const char *s, size_t n);

/* Length of the valid UTF-8 sequence starting at s[0] (1..4), or 0 when the
 * bytes there are not valid UTF-8 (bad lead, bad continuation, overlong,
 * surrogate, above U+10FFFF, or cut off by n). */
size_t dp_utf8_sequence(const unsigned char *s, size_t n);

/* The largest length <= max (and <= n) at which s can be cut without
 * splitting a UTF-8 sequence. */
size_t dp_utf8_cut(const char *s, size_t n, size_t max);

#endif
