/* command.c - cleaning and splitting one command of the Dareplane wire
 * protocol (reference §1). No I/O here: see command.h. */
#include "server/command.h"

#include "common/error_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies msg into out without "\r\n" pairs and 0xC2 bytes (as Python does)
 * and without a trailing '\r'; returns the new length. out has len + 1 bytes. */
static size_t clean(const char *msg, size_t len, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)msg[i];
    if (c == 0xC2) continue;
    if (c == '\r' && i + 1 < len && msg[i + 1] == '\n') {
      i++;
      continue;
    }
    out[n++] = (char)c;
  }
  while (n > 0 && out[n - 1] == '\r') n--;
  out[n] = '\0';
  return n;
}

static bool blank(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\v' && s[i] != '\f')
      return false;
  return true;
}

static int fail(dp_command_t *cmd, int code) {
  dp_command_clear(cmd);
  return code;
}

int dp_command_parse(const char *msg, size_t len, dp_command_t *cmd) {
  memset(cmd, 0, sizeof *cmd);
  cmd->storage = malloc(len + 1);
  if (cmd->storage == NULL) return dp_error_set(DP_ENOMEM, "no memory for a command");
  char *s = cmd->storage;
  size_t n = clean(msg, len, s);
  if (blank(s, n)) return fail(cmd, DP_EEMPTY);
  if (memchr(s, '\0', n) != NULL) {
    dp_error_set(DP_EPARSE, "command contains a NUL byte");
    return fail(cmd, DP_EPARSE);
  }

  size_t pieces = 1;
  for (size_t i = 0; i < n; i++) pieces += s[i] == '|';
  char *last = NULL;
  size_t last_len = 0;
  if (pieces > 1) {
    last = strrchr(s, '|') + 1;
    last_len = n - (size_t)(last - s);
    cmd->nargs = pieces - 2;
  }
  if (cmd->nargs > 0) {
    cmd->args = malloc(cmd->nargs * sizeof *cmd->args);
    if (cmd->args == NULL) {
      dp_error_set(DP_ENOMEM, "no memory for %zu arguments", cmd->nargs);
      return fail(cmd, DP_ENOMEM);
    }
  }
  /* Cut at every '|': name, positional arguments, then the last piece. */
  cmd->name = s;
  char *p = strchr(s, '|');
  for (size_t i = 0; p != NULL && i < cmd->nargs; i++) {
    *p = '\0';
    cmd->args[i] = p + 1;
    p = strchr(p + 1, '|');
  }
  if (p != NULL) *p = '\0';
  if (cmd->name[0] == '\0') {
    dp_error_set(DP_EPARSE, "command has an empty name");
    return fail(cmd, DP_EPARSE);
  }
  cmd->bare = pieces == 1 || (pieces == 2 && last_len == 0);
  if (last != NULL && last_len > 0) {
    json_error_t jerr;
    cmd->kwargs = json_loadb(last, last_len, 0, &jerr);
    if (cmd->kwargs == NULL) {
      dp_error_set(DP_EPARSE, "invalid JSON in the last piece of %s: %s (column %d)", cmd->name,
                   jerr.text, jerr.column);
      return fail(cmd, DP_EPARSE);
    }
    if (!json_is_object(cmd->kwargs)) {
      dp_error_set(DP_EPARSE, "the JSON of %s is no object of keyword arguments", cmd->name);
      return fail(cmd, DP_EPARSE);
    }
  }
  return 0;
}

void dp_command_clear(dp_command_t *cmd) {
  json_decref(cmd->kwargs);
  free(cmd->args);
  free(cmd->storage);
  memset(cmd, 0, sizeof *cmd);
}

char *dp_command_escape(const char *in, size_t len, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    char tmp[5];
    size_t w;
    if (c >= 0x20 && c < 0x7F) {
      tmp[0] = (char)c;
      w = 1;
    } else {
      snprintf(tmp, sizeof tmp, "\\x%02X", c);
      w = 4;
    }
    if (o + w + 4 > size) { /* keep room for "..." and the NUL */
      if (size >= 4)
        memcpy(out + o, "...", 4);
      else if (size > 0)
        out[0] = '\0';
      return out;
    }
    memcpy(out + o, tmp, w);
    o += w;
  }
  if (size > 0) out[o] = '\0';
  return out;
}
