/* frame.h - the log record frame on the wire (internal): encoding a record
 * for the network handler, and reassembling and decoding frames for the log
 * server (src/log_server/) and the fuzz target.
 *
 * A frame is a 4-byte unsigned big-endian length followed by that many bytes
 * of UTF-8 JSON: one object with the attributes of a Python LogRecord
 * (reference §2), which is what dareplane_utils' UJsonSocketHandler sends. */
#ifndef DP_LOG_FRAME_H
#define DP_LOG_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "log/record.h"
#include "log/textbuf.h"

/* The largest payload dp-logserver accepts by default (1 MiB). */
#define DP_LOG_FRAME_MAX_DEFAULT ((size_t)1024 * 1024)

/* The longest message the encoder puts into a frame; longer ones are cut and
 * marked, so that every frame we send fits the default server limit. */
#define DP_LOG_MSG_MAX ((size_t)256 * 1024)

/* ---- encoding ------------------------------------------------------------ */

/* Appends the whole frame (length prefix + JSON) for `rec` to `b`. The JSON
 * has exactly the fields, order and JSON types of a frame from Python 3.12+:
 * name, msg, args ([]), levelname, levelno, pathname, filename, module,
 * exc_info, exc_text, stack_info (null), lineno, funcName, created, msecs,
 * relativeCreated (floats), thread, threadName, processName, process,
 * taskName (null). Invalid UTF-8 in any string becomes U+FFFD. Out of memory
 * shows as dp_textbuf_failed(b). */
void dp_log_frame_encode(const dp_log_record_t *rec, dp_textbuf_t *b);

/* ---- reassembly ---------------------------------------------------------- */

typedef struct dp_log_frame_reader {
  size_t max_frame;      /* largest payload accepted */
  unsigned char head[4]; /* length prefix being read */
  size_t head_len;       /* bytes of it read so far */
  char *payload;         /* payload being collected (heap), grown as bytes
                            arrive so an announced size costs nothing */
  size_t cap;            /* its allocated size */
  size_t need;           /* its announced length */
  size_t have;           /* bytes of it collected */
} dp_log_frame_reader_t;

/* Called once per complete frame with its JSON payload (not NUL-terminated,
 * valid only during the call). A negative return stops the feed and is
 * returned by dp_log_frame_reader_feed. */
typedef int (*dp_log_frame_cb)(void *ctx, const char *json, size_t len);

void dp_log_frame_reader_init(dp_log_frame_reader_t *r, size_t max_frame);
void dp_log_frame_reader_free(dp_log_frame_reader_t *r);

/* Feeds `n` bytes of the stream. Calls `cb` for each frame completed, in
 * order. Returns 0, DP_ETOOBIG when a frame announces more than max_frame
 * bytes (with a detail sentence; the stream cannot continue), DP_ENOMEM, or
 * the first negative value `cb` returned. */
int dp_log_frame_reader_feed(dp_log_frame_reader_t *r, const char *data, size_t n,
                             dp_log_frame_cb cb, void *ctx);

/* The stream ended: 0 when it ended between frames, DP_EPARSE (with a detail
 * sentence saying how much was missing) when it ended inside one. */
int dp_log_frame_reader_finish(const dp_log_frame_reader_t *r);

/* ---- decoding ------------------------------------------------------------ */

/* The longest message dp-logserver renders by default (1 MiB), the least
 * that may be asked for, and the longest name and levelname. Longer text is
 * cut and ends with "... [truncated: longer than N bytes]". */
#define DP_LOG_RENDER_MAX_DEFAULT ((size_t)1024 * 1024)
#define DP_LOG_RENDER_MIN         ((size_t)256)
#define DP_LOG_FIELD_MAX          ((size_t)4096)

/* The ranges of the numbers taken from a frame: |levelno| and |created|
 * (seconds since the epoch, about year 33658) at most these. */
#define DP_LOG_LEVELNO_MAX 1e9
#define DP_LOG_CREATED_MAX 1e12

/* What the log server needs from one record. Strings are owned (heap). */
typedef struct dp_log_decoded {
  char *name;      /* str(record.name) */
  char *levelname; /* record.levelname, or the name of levelno */
  int levelno;
  char *msg;      /* the message as Python's getMessage() renders it, with
                     exc_text and stack_info appended when present */
  double created; /* seconds since the epoch */
  double msecs;   /* milliseconds part used in asctime */
} dp_log_decoded_t;

/* Decodes one JSON payload. Accepts what C and Python producers send,
 * including the Dash/waitress quirks: created, msecs, relativeCreated as
 * strings, args as the string "()", everything but ints stringified; a msg
 * with %-conversions is formatted with args like Python's getMessage().
 *
 * Bounds: the rendered message (with exc_text and stack_info) is at most
 * `max_msg` bytes (at least DP_LOG_RENDER_MIN), name and levelname at most
 * DP_LOG_FIELD_MAX; rendering stops at the bound, so neither time nor memory
 * grows beyond it whatever the format asks for. Numbers: levelno, created,
 * msecs and relativeCreated (the only ones read) must be finite numbers (or
 * strings holding one); levelno and created must lie within the ranges
 * above; a msecs outside [0, 1000) is replaced by the fraction of created;
 * a missing created is the time of decoding.
 *
 * Returns 0 and fills *out (free with dp_log_decoded_free), or DP_EPARSE with
 * a detail sentence: invalid JSON or UTF-8, not an object, or a field that
 * cannot be used (e.g. created that is no number or out of range). */
int dp_log_frame_decode(const char *json, size_t len, size_t max_msg, dp_log_decoded_t *out);
void dp_log_decoded_free(dp_log_decoded_t *d);

/* Appends the standard line (no newline) for a decoded record to `b`;
 * returns the length of its prefix "<asctime> - <name> - <LEVEL> - ". */
size_t dp_log_decoded_line(const dp_log_decoded_t *d, dp_textbuf_t *b);

/* What dp-logserver does with each frame: decodes the payload (message
 * bound `max_msg`) and appends its standard line to `line`. Returns 0 and
 * sets *level (levelno) and *prefix (the prefix length), or a negative code
 * as dp_log_frame_decode, or DP_ENOMEM. The line is at most
 * max(max_msg, DP_LOG_RENDER_MIN) + 2 * DP_LOG_FIELD_MAX + 32 bytes. */
int dp_log_frame_line(const char *json, size_t len, size_t max_msg, dp_textbuf_t *line, int *level,
                      size_t *prefix);

#endif
