/* bench_server.c - the module server's speed as the control room sees it:
 * UP round-trip latency (p50, p99) and pipelined UP commands per second on
 * one connection. Run against any module (--port P), or with --raw against a
 * minimal blocking loopback server on a thread that answers '1' to every ';'
 * (the physical limit of this machine's loopback). --count N sets how many
 * commands the pipelined run sends (default 1000000). Prints one JSON line
 * (with every round trip, sorted, for the report's histogram).
 * Plain POSIX sockets: this measures, it is not library code. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define ROUND_TRIPS 3000
#define WARMUP      300

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Reads until a byte equal to `end` arrived (greeting: '\n'; UP: '1'). */
static void read_until(int fd, char end) {
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n <= 0) die("read");
    if (c == end) return;
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double t[ROUND_TRIPS]; /* the round trips of the last run, sorted */

static void round_trips(int fd, double *p50, double *p99) {
  for (int i = 0; i < WARMUP + ROUND_TRIPS; i++) {
    double t0 = now_us();
    if (write(fd, "UP;", 3) != 3) die("write");
    read_until(fd, '1');
    if (i >= WARMUP) t[i - WARMUP] = now_us() - t0;
  }
  qsort(t, ROUND_TRIPS, sizeof t[0], cmp_double);
  *p50 = t[ROUND_TRIPS / 2];
  *p99 = t[ROUND_TRIPS * 99 / 100];
}

/* Writes `count` "UP;" while reading the '1's, never waiting for a reply
 * before sending more (bounded by the socket buffers). */
static double pipelined(int fd, size_t count) {
  static char out[3 * 1024];
  for (size_t i = 0; i < sizeof out; i += 3) memcpy(out + i, "UP;", 3);
  size_t to_send = count * 3, sent = 0, acks = 0;
  char in[65536];
  double t0 = now_us();
  while (acks < count) {
    struct pollfd p = {.fd = fd, .events = POLLIN | (sent < to_send ? POLLOUT : 0)};
    if (poll(&p, 1, 10000) <= 0) die("poll (no progress for 10 s)");
    if (p.revents & POLLOUT) {
      size_t chunk = to_send - sent < sizeof out ? to_send - sent : sizeof out;
      ssize_t n = send(fd, out, chunk, MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN) die("send");
      /* keep whole commands: a partial command is completed next round */
      if (n > 0) sent += (size_t)n;
      if (n > 0 && sent % 3 != 0 && sent < to_send) {
        size_t rest = 3 - sent % 3;
        if (send(fd, out, rest, 0) != (ssize_t)rest) die("send");
        sent += rest;
      }
    }
    if (p.revents & POLLIN) {
      ssize_t n = recv(fd, in, sizeof in, MSG_DONTWAIT);
      if (n == 0) die("closed");
      for (ssize_t i = 0; i < n; i++) acks += in[i] == '1';
    }
  }
  return (double)count / ((now_us() - t0) / 1e6);
}

/* The limit: a blocking loopback server that answers '1' to each ';'. */
static void *raw_server(void *arg) {
  int lfd = *(int *)arg;
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) return NULL;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (write(fd, "Connected to raw\n", 17) != 17) return NULL;
  char in[65536], out[65536];
  ssize_t n;
  while ((n = read(fd, in, sizeof in)) > 0) {
    size_t k = 0;
    for (ssize_t i = 0; i < n; i++)
      if (in[i] == ';') out[k++] = '1';
    if (k > 0 && write(fd, out, k) != (ssize_t)k) break;
  }
  close(fd);
  return NULL;
}

static int start_raw(pthread_t *th, int *lfd) {
  *lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(*lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(*lfd, 1) != 0 ||
      getsockname(*lfd, (struct sockaddr *)&a, &len) != 0)
    die("raw server");
  pthread_create(th, NULL, raw_server, lfd);
  return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
  int port = 0;
  long count = 1000000;
  bool raw = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--raw") == 0)
      raw = true;
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = (int)strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
      count = strtol(argv[++i], NULL, 10);
  }
  pthread_t th;
  int lfd = -1;
  if (raw) port = start_raw(&th, &lfd);
  if (port <= 0 || count <= 0) {
    fprintf(stderr, "usage: bench-server (--port P | --raw) [--count N]\n");
    return 2;
  }
  int fd = connect_to(port);
  read_until(fd, '\n');
  double p50, p99;
  round_trips(fd, &p50, &p99);
  double rate = pipelined(fd, (size_t)count);
  close(fd);
  if (raw) {
    pthread_join(th, NULL);
    close(lfd);
  }
  printf("{\"p50_us\": %.2f, \"p99_us\": %.2f, \"pipelined_per_s\": %.0f, \"rtt_us\": [", p50, p99,
         rate);
  for (int i = 0; i < ROUND_TRIPS; i++) printf("%s%.2f", i ? ", " : "", t[i]);
  printf("]}\n");
  return 0;
}
