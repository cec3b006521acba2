/* lineedit.h - a small line editor for dp-send's interactive console, on
 * libuv's raw TTY mode (readline and libedit are not dependencies we allow):
 * left/right, Home/End (also Ctrl-A/Ctrl-E), backspace/delete, up/down
 * through the history, Enter; Ctrl-C, and Ctrl-D on an empty line, quit.
 * Text that arrives meanwhile is printed above the prompt. dp-send's own code
 * (built into dp-send only), not part of the library. */
#ifndef DP_SEND_LINEEDIT_H
#define DP_SEND_LINEEDIT_H

#include <stddef.h>
#include <uv.h>

typedef struct dp_lineedit dp_lineedit_t;

/* Called with each entered line (NUL-terminated, valid during the call), or
 * with NULL when the user quits. */
typedef void (*dp_lineedit_fn)(const char *line, void *user);

/* Puts the terminal on stdin into raw mode, shows the prompt (copied) and
 * reads keys on `loop`. Returns NULL when stdin is no terminal. */
dp_lineedit_t *dp_lineedit_start(uv_loop_t *loop, const char *prompt, dp_lineedit_fn fn,
                                 void *user);

/* Prints `len` bytes on their own line(s) above the prompt, then redraws it. */
void dp_lineedit_print(dp_lineedit_t *le, const char *text, size_t len);

/* Restores the terminal mode and closes the editor (freed by the loop). */
void dp_lineedit_stop(dp_lineedit_t *le);

/* The pure part, exposed for unit tests: feeds `len` key bytes; each
 * completed line is passed to the callback. Returns 1 after a quit key, else
 * 0. Does not draw when le has no terminal. */
int dp_lineedit_feed(dp_lineedit_t *le, const char *keys, size_t len);

/* An editor without a terminal, for dp_lineedit_feed() in tests; free it with
 * dp_lineedit_free(). */
dp_lineedit_t *dp_lineedit_new_detached(dp_lineedit_fn fn, void *user);
void dp_lineedit_free(dp_lineedit_t *le);

#endif
