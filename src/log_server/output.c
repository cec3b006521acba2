/* output.c - where the log server's lines go: the log file (whole batches of
 * lines under one lock, flushed at once, so lines of different decoders
 * never mix and a reader of the file sees each batch as soon as it is
 * decoded) and the console (the library's console queue, which never blocks
 * on stderr). Also the server's own lines, e.g. why a client was closed. */
#include "log_server/log_server_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_AT ((size_t)256 * 1024) /* write gathered lines once they are this long */

/* The first failed write: kept for dp_log_server_stop() and said once on
 * stderr (through the console queue, whether or not the console is on: a
 * stderr nobody reads must not hold up a decoder). File lock held. */
static void write_failed(dp_log_server_t *srv, int err) {
  if (srv->write_failed) return;
  srv->write_failed = true;
  snprintf(srv->write_error, sizeof srv->write_error, "writing the log file %s failed: %s",
           srv->logfile, strerror(err));
  char prefix[128];
  size_t prefix_len;
  dp_logsrv_own_line(prefix, sizeof prefix, DP_LOG_ERROR, "", &prefix_len);
  dp_log_console_line(DP_LOG_ERROR, prefix, prefix_len, srv->write_error);
}

void dp_logsrv_write_lines(dp_log_server_t *srv, dp_textbuf_t *out,
                           dp_log_console_batch_t *console) {
  if (srv->console) dp_log_console_batch_send(console);
  if (out->len == 0) return;
  uv_mutex_lock(&srv->file_lock);
  errno = 0;
  if (fwrite(out->data, 1, out->len, srv->file) != out->len || fflush(srv->file) != 0)
    write_failed(srv, errno != 0 ? errno : EIO);
  uv_mutex_unlock(&srv->file_lock);
  out->len = 0;
  if (dp_textbuf_failed(out)) dp_textbuf_free(out); /* out of memory: start afresh */
}

void dp_logsrv_end_line(dp_logsrv_decoder_t *d, int level, size_t start, size_t prefix) {
  if (d->srv->console)
    dp_log_console_batch_add(&d->console_lines, level, d->out.data + start, prefix,
                             d->out.data + start + prefix, d->out.len - start - prefix);
  dp_textbuf_putc(&d->out, '\n');
  if (d->out.len >= FLUSH_AT) dp_logsrv_write_lines(d->srv, &d->out, &d->console_lines);
}

size_t dp_logsrv_own_line(char *line, size_t size, int level, const char *msg, size_t *prefix) {
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  double now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
  *prefix = dp_log_format_line(line, size, now, DP_LOGSRV_NAME, level, "");
  size_t len = dp_log_format_line(line, size, now, DP_LOGSRV_NAME, level, msg);
  return len < size ? len : size - 1;
}

void dp_logsrv_line(dp_log_server_t *srv, dp_logsrv_client_t *c, int level, const char *fmt, ...) {
  char msg[512], line[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t prefix, len = dp_logsrv_own_line(line, sizeof line, level, msg, &prefix);
  if (c != NULL) {
    dp_logsrv_decoder_lock(c->dec);
    /* out of memory: not written */
    dp_logsrv_enqueue(c->dec, c, DP_LOGSRV_LINE, level, prefix, line, len);
    dp_logsrv_decoder_unlock(c->dec);
    return;
  }
  dp_textbuf_t out;
  char storage[sizeof line + 1];
  dp_textbuf_init(&out, storage, sizeof storage);
  dp_textbuf_put(&out, line, len);
  dp_textbuf_putc(&out, '\n');
  dp_log_console_batch_t console_lines = {0};
  if (srv->console)
    dp_log_console_batch_add(&console_lines, level, line, prefix, line + prefix, len - prefix);
  dp_logsrv_write_lines(srv, &out, &console_lines);
}
