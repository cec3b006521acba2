/* proc_tree_linux.c - proc_tree.h on Linux: one supervisor process per
 * tree (a process worker's or a launched module's).
 *
 * Why a supervisor: a process group or session does not hold a tree (any
 * descendant may call setsid()), and nothing in the module survives SIGKILL
 * of the module to clean up. So the module forks a small supervisor that is
 * a child subreaper (PR_SET_CHILD_SUBREAPER): the program runs as its child,
 * and every descendant whose parent dies is re-parented to the supervisor,
 * never to the module or to init. The tree is therefore exactly "the
 * supervisor's descendants", found by following parent pids through /proc,
 * and it is empty when the supervisor has no child left. The supervisor
 * reaps everything (waitpid(-1) is safe there: all its children are the
 * tree's), and the module reaps only the supervisor — the module never waits
 * for pids it does not own, so system(), popen() or uv_spawn() elsewhere in
 * the module keep working.
 *
 * The module and the supervisor share a socket pair. The module writes one
 * byte to ask for a stop; the supervisor reports records (started, exited,
 * killed) and exits once the tree is empty, which the module sees as EOF.
 * When the module ends in any way, even by SIGKILL, the kernel closes its end:
 * the supervisor sees EOF and stops the tree the same way (SIGTERM, SIGKILL
 * after the grace period). The program gets PR_SET_PDEATHSIG(SIGKILL), so it
 * dies with a supervisor that is killed from outside.
 *
 * The supervisor is a fork of a multi-threaded process that never calls
 * exec: it uses only async-signal-safe calls (no malloc, no stdio, no
 * logging, no libuv), on memory prepared before the fork, and starts the
 * program with _Fork() (no atfork handlers: libuv's would close and reopen
 * fds of its own numbers, which by then are the supervisor's). */
#define _GNU_SOURCE
#include "proc_tree/proc_tree.h"

#include "common/error_internal.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHAN_FD      3    /* the supervisor's end of the socket pair */
#define MAX_TREE     1024 /* processes signalled per pass (more: later passes) */
#define KILL_PASS_MS 10   /* after SIGKILL: again every 10 ms until empty */

enum { REC_STARTED = 'P', REC_FAILED = 'F', REC_EXITED = 'X', REC_KILLED = 'K' };

typedef struct {
  int32_t kind, a, b;
} record_t;

struct dp_proc_tree {
  uv_pipe_t chan;
  int supervisor;
  const dp_proc_tree_events_t *ev;
  void *user;
  bool stop_sent;
  record_t rec;
  size_t have; /* bytes of rec received */
};

/* Everything the supervisor and the program need, prepared before fork. */
typedef struct {
  const char *path; /* argv[0] resolved through PATH */
  char *const *argv;
  char *const *envp;
  const char *cwd;
  long grace_ms;
  bool quiet; /* stdout and stderr to /dev/null */
} plan_t;

/* ---- the supervisor (async-signal-safe only) ------------------------------ */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(int kind, int a, int b) {
  record_t r = {kind, a, b};
  (void)!send(CHAN_FD, &r, sizeof r, MSG_NOSIGNAL); /* the module may be gone */
}

static int parse_pid(const char *s) {
  int v = 0;
  if (*s == '\0') return -1;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9' || v > 100000000) return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

/* The parent pid of a live process named by its /proc entry; -1 when it is
 * gone or a zombie (a zombie has no children and needs no signal). */
static int live_ppid(const char *name) {
  char path[64] = "/proc/", buf[512];
  size_t n = strlen(path), l = strlen(name);
  if (l > 20) return -1;
  memcpy(path + n, name, l + 1);
  memcpy(path + n + l, "/stat", sizeof "/stat");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (got <= 0) return -1;
  buf[got] = '\0';
  char *end = strrchr(buf, ')'); /* the command name may hold anything */
  if (end == NULL || end[1] != ' ' || end[2] == '\0' || end[2] == 'Z' || end[3] != ' ') return -1;
  int ppid = 0;
  for (const char *p = end + 4; *p >= '0' && *p <= '9'; p++) ppid = ppid * 10 + (*p - '0');
  return ppid;
}

static bool member(const int *set, int n, int pid) {
  for (int i = 0; i < n; i++)
    if (set[i] == pid) return true;
  return false;
}

/* Collects the live descendants of `root` (at most `max`) by following
 * parent pids through /proc; passes repeat until one finds nothing new. */
static int descendants(int root, int *set, int max) {
  int n = 0;
  for (bool grew = true; grew;) {
    grew = false;
    int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return n;
    char buf[4096];
    ssize_t got;
    while ((got = getdents64(dir, buf, sizeof buf)) > 0) {
      for (ssize_t off = 0; off < got;) {
        const struct dirent64 *d = (const struct dirent64 *)(buf + off);
        off += d->d_reclen;
        int pid = parse_pid(d->d_name);
        if (pid <= 0 || pid == root || n >= max || member(set, n, pid)) continue;
        int ppid = live_ppid(d->d_name);
        if (ppid > 0 && (ppid == root || member(set, n, ppid))) {
          set[n++] = pid;
          grew = true;
        }
      }
    }
    close(dir);
  }
  return n;
}

/* Sends `sig` to every live descendant of `root`; returns how many. */
static int signal_tree(int root, int sig) {
  int set[MAX_TREE];
  int n = descendants(root, set, MAX_TREE);
  for (int i = 0; i < n; i++) kill(set[i], sig);
  return n;
}

static void noop(int sig) {
  (void)sig;
}

/* Every signal back to its default action (as exec would leave handled
 * ones), then the given ones ignored. */
static void reset_signals(const int *ignore, size_t n) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &sa, NULL); /* KILL, STOP: EINVAL */
  sa.sa_handler = SIG_IGN;
  for (size_t i = 0; i < n; i++) sigaction(ignore[i], &sa, NULL);
}

/* The program, between fork and exec. Writes errno to `err` on failure. */
static _Noreturn void program_main(const plan_t *plan, int supervisor, int err) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != supervisor) _exit(127); /* the supervisor died meanwhile */
  reset_signals(NULL, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    if (null != 0) dup2(null, 0);
    if (plan->quiet) {
      dup2(null, 1);
      dup2(null, 2);
    }
    if (null > 2) close(null);
  }
  if (plan->cwd == NULL || chdir(plan->cwd) == 0) execve(plan->path, plan->argv, plan->envp);
  int e = errno;
  (void)!write(err, &e, sizeof e);
  _exit(127);
}

static _Noreturn void supervisor_main(int chan, const plan_t *plan) {
  setsid(); /* a session of its own, no controlling terminal (as before) */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* only the module's socket commands it: signals sent to the module's
   * process group or by hand do not end it before its tree */
  static const int ignore[] = {SIGINT,  SIGTERM, SIGHUP,  SIGQUIT, SIGPIPE,
                               SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2};
  reset_signals(ignore, sizeof ignore / sizeof ignore[0]);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop; /* not SIG_IGN: that would reap without statuses */
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, waiting;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &waiting);
  sigdelset(&waiting, SIGCHLD);
  if (chan != CHAN_FD) {
    dup2(chan, CHAN_FD);
    close(chan);
  }
  fcntl(CHAN_FD, F_SETFD, FD_CLOEXEC);
  /* the module's listener and connections must not live on in here */
  if (close_range(CHAN_FD + 1, ~0U, 0) != 0)
    for (int fd = CHAN_FD + 1; fd < 65536; fd++) close(fd);

  int self = getpid(), err[2];
  if (pipe2(err, O_CLOEXEC) != 0) {
    report(REC_FAILED, errno, 0);
    _exit(0);
  }
  int pid = _Fork(); /* fork() would run atfork handlers, which may close fds */
  if (pid == 0) program_main(plan, self, err[1]);
  int e = errno;
  close(err[1]);
  if (pid > 0 && read(err[0], &e, sizeof e) == (ssize_t)sizeof e) {
    waitpid(pid, NULL, 0);
    pid = -1;
  }
  close(err[0]);
  if (pid < 0) {
    report(REC_FAILED, e, 0);
    _exit(0);
  }
  report(REC_STARTED, pid, 0);

  bool stopping = false, killed = false, chan_open = true;
  long kill_at = 0;
  for (;;) {
    int status, r, exit_status = -1;
    while ((r = waitpid(-1, &status, WNOHANG)) > 0)
      if (r == pid) exit_status = status;
    bool empty = r < 0 && errno == ECHILD;
    if (exit_status != -1) report(REC_EXITED, exit_status, !empty);
    if (empty) _exit(0);
    bool stop = exit_status != -1; /* the rest of a tree whose program ended */
    long now = now_ms();
    if (killed) {
      signal_tree(self, SIGKILL); /* orphans of killed processes came back to us */
    } else if (stopping && now >= kill_at) {
      int n = signal_tree(self, SIGKILL);
      if (n > 0) report(REC_KILLED, n, 0);
      killed = true;
    }
    long wait_ms = killed ? KILL_PASS_MS : stopping ? kill_at - now : -1;
    struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000};
    struct pollfd pfd = {.fd = chan_open ? CHAN_FD : -1, .events = POLLIN};
    if (!stop && ppoll(&pfd, 1, wait_ms >= 0 ? &ts : NULL, &waiting) > 0 && pfd.revents != 0) {
      char b[16];
      ssize_t got = read(CHAN_FD, b, sizeof b);
      chan_open = got > 0; /* SIGCHLD is blocked here: no EINTR */
      stop = true;         /* a request, or EOF: the module is gone */
    }
    if (stop && !stopping) {
      stopping = true;
      kill_at = now_ms() + plan->grace_ms;
      signal_tree(self, SIGTERM);
    }
  }
}

/* ---- the module's side ---------------------------------------------------- */

/* argv[0] through PATH as execvp() would, done before fork, into `full`
 * (on the caller's stack: nothing of it is left on the heap of the
 * supervisor, which never frees). False when the name does not fit. */
static bool resolve(const char *name, char *full, size_t size) {
  size_t nl = strlen(name);
  if (nl + 1 > size) return false;
  memcpy(full, name, nl + 1); /* as given: execve says why it cannot run */
  if (strchr(name, '/') != NULL) return true;
  const char *path = getenv("PATH");
  if (path == NULL || *path == '\0') path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path;; p++) {
    const char *colon = strchr(p, ':');
    size_t dl = colon != NULL ? (size_t)(colon - p) : strlen(p);
    const char *dir = dl > 0 ? p : "."; /* an empty entry is the current directory */
    size_t at = dl > 0 ? dl : 1;
    if (at + nl + 2 <= size) {
      char candidate[PATH_MAX];
      memcpy(candidate, dir, at);
      candidate[at] = '/';
      memcpy(candidate + at + 1, name, nl + 1);
      if (access(candidate, X_OK) == 0) {
        memcpy(full, candidate, at + nl + 2);
        return true;
      }
    }
    if (colon == NULL) return true;
    p = colon;
  }
}

static void chan_closed(uv_handle_t *h) {
  dp_proc_tree_t *t = h->data;
  /* EOF means the supervisor exited (it never closes its end otherwise) */
  while (waitpid(t->supervisor, NULL, 0) < 0 && errno == EINTR) {
  }
  t->ev->gone(t->user);
  free(t);
}

static void chan_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  dp_proc_tree_t *t = h->data;
  (void)suggested;
  *b = uv_buf_init((char *)&t->rec + t->have, (unsigned)(sizeof t->rec - t->have));
}

static void chan_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  dp_proc_tree_t *t = s->data;
  (void)b;
  if (n < 0) {
    uv_close((uv_handle_t *)s, chan_closed);
    return;
  }
  t->have += (size_t)n;
  if (t->have < sizeof t->rec) return;
  t->have = 0;
  if (t->rec.kind == REC_EXITED) {
    int st = t->rec.a;
    t->ev->exited(t->user, WIFEXITED(st) ? WEXITSTATUS(st) : 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
                  t->rec.b != 0);
  } else if (t->rec.kind == REC_KILLED) {
    t->ev->killed(t->user, t->rec.a);
  }
}

/* Reads the first record (blocking: it comes as soon as the program has
 * been exec'd or has failed to). */
static bool first_record(int fd, record_t *r) {
  size_t have = 0;
  while (have < sizeof *r) {
    ssize_t n = read(fd, (char *)r + have, sizeof *r - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    have += (size_t)n;
  }
  return true;
}

int dp_proc_tree_start(uv_loop_t *loop, const dp_proc_tree_spec_t *spec, dp_proc_tree_t **out,
                       int *pid) {
  const char *name = spec->argv[0];
  char path[PATH_MAX];
  if (!resolve(name, path, sizeof path))
    return dp_error_set(DP_ESYS, "cannot start %s: %s", name, uv_strerror(UV_ENAMETOOLONG));
  plan_t plan = {
      .path = path,
      .argv = (char *const *)spec->argv,
      .envp = spec->env != NULL ? (char *const *)spec->env : environ,
      .cwd = spec->cwd,
      .grace_ms = spec->grace_s > 0 ? (long)(spec->grace_s * 1000.0) : 0,
      .quiet = spec->quiet,
  };
  int sv[2] = {-1, -1};
  int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0 ? 0 : -errno;
  int sup = rc == 0 ? fork() : -1;
  if (sup == 0) {
    close(sv[0]);
    supervisor_main(sv[1], &plan);
  }
  if (rc == 0 && sup < 0) rc = -errno;
  if (sv[1] >= 0) close(sv[1]);
  record_t r = {REC_FAILED, 0, 0};
  if (rc == 0 && !first_record(sv[0], &r)) r.a = ECHILD;
  if (rc == 0 && r.kind != REC_STARTED) rc = -(r.a != 0 ? r.a : ECHILD);
  /* allocated after fork: the supervisor's heap holds nothing of ours */
  dp_proc_tree_t *t = rc == 0 ? calloc(1, sizeof *t) : NULL;
  if (rc == 0 && t == NULL) {
    kill(sup, SIGKILL); /* its program follows (PR_SET_PDEATHSIG) */
    rc = UV_ENOMEM;
  }
  if (rc != 0) {
    if (sv[0] >= 0) close(sv[0]);
    if (sup > 0) waitpid(sup, NULL, 0);
    return dp_error_set(rc == UV_ENOMEM ? DP_ENOMEM : DP_ESYS, "cannot start %s: %s", name,
                        uv_strerror(rc));
  }
  t->supervisor = sup;
  t->ev = spec->events;
  t->user = spec->user;
  uv_pipe_init(loop, &t->chan, 0);
  t->chan.data = t;
  uv_pipe_open(&t->chan, sv[0]);
  uv_read_start((uv_stream_t *)&t->chan, chan_alloc, chan_read);
  *pid = r.a;
  *out = t;
  return 0;
}

void dp_proc_tree_stop(dp_proc_tree_t *t) {
  uv_os_fd_t fd;
  if (t->stop_sent || uv_fileno((uv_handle_t *)&t->chan, &fd) != 0) return; /* closing */
  /* no SIGPIPE when the supervisor has just gone (EOF not yet read) */
  t->stop_sent = send(fd, "S", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

void dp_proc_tree_kill(dp_proc_tree_t *t) {
  signal_tree(t->supervisor, SIGKILL);
  kill(t->supervisor, SIGKILL);
}
