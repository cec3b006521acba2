/* platform.h - the few POSIX calls the library uses that Windows lacks, in
 * one place, so that the code using them has no #ifdef: gathered writes
 * (writev), fork handlers (none on Windows: there is no fork), blocking
 * SIGPIPE in a thread (Windows raises none), and whether stderr's console
 * shows ANSI colour codes (on Windows only once VT mode is on, Windows 10
 * and later). Not installed. */
#ifndef DP_PLATFORM_H
#define DP_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#ifdef _WIN32
#include <io.h>
#include <sys/types.h>
#include <winsock2.h> /* before windows.h, as libuv's uv.h has it */
#include <windows.h>

struct iovec {
  void *iov_base;
  size_t iov_len;
};

/* The buffers written one after another; returns the bytes written (short
 * when one write was short) or -1 when nothing could be written. */
static inline ssize_t dp_writev(int fd, const struct iovec *v, int n) {
  ssize_t total = 0;
  for (int i = 0; i < n; i++) {
    size_t len = v[i].iov_len > 0x40000000 ? 0x40000000 : v[i].iov_len;
    int k = _write(fd, v[i].iov_base, (unsigned)len);
    if (k < 0) return total > 0 ? total : -1;
    total += k;
    if ((size_t)k < v[i].iov_len) break;
  }
  return total;
}
#define writev dp_writev

static inline void dp_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  (void)prepare;
  (void)parent;
  (void)child;
}

static inline void dp_block_sigpipe(void) {}

static inline bool dp_console_takes_colour(void) {
  HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
  DWORD mode;
  return GetConsoleMode(h, &mode) && ((mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) != 0 ||
                                      SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING));
}

#else
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>

static inline void dp_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
  pthread_atfork(prepare, parent, child);
}

/* In the calling thread, a write to a closed pipe gives EPIPE, not SIGPIPE. */
static inline void dp_block_sigpipe(void) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
}

static inline bool dp_console_takes_colour(void) {
  return true;
}
#endif

#endif
