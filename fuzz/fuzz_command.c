/* fuzz_command.c - libFuzzer target for the module server's command parser
 * and its framing rule: any bytes must parse or be rejected cleanly, never
 * crash, leak or read out of bounds; a parsed command must be consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/command.h"

#include "dareplane/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known(const char *name, size_t len, void *user) {
  (void)user;
  return len == 2 && memcmp(name, "UP", 2) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  dp_command_t cmd;
  int rc = dp_command_parse(text, size, &cmd);
  if (rc == 0) {
    if (cmd.name == NULL || cmd.name[0] == '\0') abort();
    for (size_t i = 0; i < cmd.nargs; i++)
      if (cmd.args[i] == NULL) abort();
    if (cmd.kwargs != NULL && !json_is_object(cmd.kwargs)) abort();
    dp_command_clear(&cmd);
  } else if (rc != DP_EEMPTY && rc != DP_EPARSE && rc != DP_ENOMEM) {
    abort();
  }
  (void)dp_command_is_complete(text, size, size % 2 == 0, known, NULL);
  char shown[64];
  dp_command_escape(text, size, shown, sizeof shown);
  if (strlen(shown) >= sizeof shown) abort();
  return 0;
}
