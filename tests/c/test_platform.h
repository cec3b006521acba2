/* test_platform.h - the few calls C tests make that differ between Linux and
 * Windows, named once: environment variables (on Windows the C runtime's
 * getenv() sees only _putenv_s(), not SetEnvironmentVariable(), so libuv's
 * uv_os_setenv() would not reach the library), raw sockets for fake peers,
 * reading a file from its start, and a fresh name for a temporary file. */
#ifndef DP_TEST_PLATFORM_H
#define DP_TEST_PLATFORM_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <winsock2.h>
typedef SOCKET test_socket_t;
#define TEST_NO_SOCKET INVALID_SOCKET
#define MSG_NOSIGNAL   0 /* Windows raises no signal on a closed socket */
#define poll           WSAPoll
typedef int socklen_t;
static inline void test_socket_close(test_socket_t s) {
  closesocket(s);
}
static inline void test_sockets_init(void) {
  WSADATA wsa;
  WSAStartup(MAKEWORD(2, 2), &wsa);
}
/* The last socket call failed because the peer reset the connection. */
static inline bool test_socket_was_reset(void) {
  return WSAGetLastError() == WSAECONNRESET;
}
static inline void test_setenv(const char *name, const char *value) {
  _putenv_s(name, value);
}
static inline void test_unsetenv(const char *name) {
  _putenv_s(name, ""); /* an empty value removes it */
}
static inline int test_pipe(int fds[2]) {
  return _pipe(fds, 65536, _O_BINARY);
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
typedef int test_socket_t;
#define TEST_NO_SOCKET (-1)
static inline void test_socket_close(test_socket_t s) {
  close(s);
}
static inline void test_sockets_init(void) {}
static inline bool test_socket_was_reset(void) {
  return errno == ECONNRESET;
}
static inline void test_setenv(const char *name, const char *value) {
  setenv(name, value, 1);
}
static inline void test_unsetenv(const char *name) {
  unsetenv(name);
}
static inline int test_pipe(int fds[2]) {
  return pipe(fds);
}
#endif

/* A fresh name "dp_test_<what>_<pid>_<ns>" in the system's temporary folder. */
static inline void test_temp_name(char *out, size_t size, const char *what) {
  char dir[900];
  size_t len = sizeof dir;
  if (uv_os_tmpdir(dir, &len) != 0) abort();
  snprintf(out, size, "%s/dp_test_%s_%d_%llu", dir, what, (int)uv_os_getpid(),
           (unsigned long long)uv_hrtime());
}

/* Up to size-1 bytes of the file open as `fd`, from its start, as a string. */
static inline long test_read_from_start(int fd, char *text, size_t size) {
  long got = lseek(fd, 0, SEEK_SET) == 0 ? (long)read(fd, text, (unsigned)(size - 1)) : -1;
  text[got > 0 ? got : 0] = '\0';
  return got;
}

#endif
