/* command.h - the command parser of the module server, kept apart from all
 * I/O so that it can be unit-tested on its own.
 *
 * One command is the text between two terminators (see server.h for the
 * framing). It is cleaned as the Python server does (every "\r\n" pair and
 * every 0xC2 byte removed; a trailing '\r' from a telnet line is dropped too)
 * and split on '|': piece 0 is the primary command, a non-empty last piece
 * (when there are two or more) is a JSON object of keyword arguments, and the
 * pieces in between are positional string arguments. Not installed. */
#ifndef DP_SERVER_COMMAND_H
#define DP_SERVER_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

typedef struct {
  char *name;  /* the primary command, NUL-terminated (inside storage) */
  char **args; /* nargs positional arguments (inside storage) */
  size_t nargs;
  json_t *kwargs; /* a JSON object, or NULL when the command carried none */
  bool bare;      /* "NAME" or "NAME|": the only form the built-ins accept */
  char *storage;  /* owns the text that name and args point into */
} dp_command_t;

/* Parses one command of `len` bytes (not NUL-terminated). On success fills
 * *cmd, which the caller releases with dp_command_clear(), and returns 0.
 * Returns DP_EEMPTY for a piece that is empty or only whitespace after
 * cleaning (to be ignored silently), DP_EPARSE (with a detail sentence) for an
 * empty name, a NUL byte, invalid JSON or JSON that is not an object, and
 * DP_ENOMEM. On failure *cmd holds nothing to release. Pure; thread-safe. */
int dp_command_parse(const char *msg, size_t len, dp_command_t *cmd);

/* Releases what dp_command_parse() put in *cmd and zeroes it. */
void dp_command_clear(dp_command_t *cmd);

/* Writes `len` bytes of possibly binary text into out (size > 0, always
 * NUL-terminated) for a log line: printable ASCII as is, everything else as
 * \xNN, cut with "..." when it does not fit. Returns out. */
char *dp_command_escape(const char *in, size_t len, char *out, size_t size);

#endif
