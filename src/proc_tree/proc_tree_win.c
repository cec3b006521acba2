/* proc_tree_win.c - proc_tree.h on Windows: one Job Object per tree (a
 * process worker's or a launched module's).
 *
 * Why a Job Object: Windows keeps no parent links that hold a tree (a
 * process whose parent ended is nobody's child), but a process created by a
 * member of a job is a member too, and cannot leave it unless the job allows
 * breaking away (this one does not). So the program is created suspended,
 * put into a job of its own and only then resumed: everything it starts, at
 * any depth, is in the job. TerminateJobObject() ends them all at once, and
 * the job is made with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so when the module
 * ends in any way (even killed) Windows closes its handle and ends the tree.
 *
 * Not uv_spawn(): it resumes the program before it returns, so a program
 * could start processes outside the job before being assigned to it, and
 * it puts the program into libuv's own job, whose children may silently
 * break away.
 *
 * Windows has no SIGTERM for a console program it did not start in a group
 * of its own; Python's Popen.terminate() is TerminateProcess() there. STOP
 * therefore ends the tree at once (exit code 1): grace_s is not used and
 * `killed` is never reported. The program's exit is seen by a wait on its
 * handle (a thread pool wait, handed to the loop through a uv_async_t); the
 * rest of the tree by the job's count of active processes, polled every
 * 10 ms only while a terminated tree is ending. */
#include "proc_tree/proc_tree.h"

#include "common/error_internal.h"

#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define POLL_MS 10 /* while a terminated tree is ending */

struct dp_proc_tree {
  HANDLE job, process, wait;
  uv_async_t exited;  /* from the thread pool wait on the process */
  uv_timer_t poll;    /* until the job is empty */
  int open_handles;   /* uv handles not yet closed */
  bool program_ended; /* `exited` reported */
  bool terminated;
  const dp_proc_tree_events_t *ev;
  void *user;
};

/* ---- strings for CreateProcessW ------------------------------------------- */

/* UTF-8 to a new UTF-16 string (free() it); NULL when out of memory or not
 * UTF-8. */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
  if (w != NULL) MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  return w;
}

/* Appends one argument quoted so that the C runtime's parser (and
 * CommandLineToArgvW) gives it back unchanged: backslashes count only in
 * front of a quote. `out` is NULL to count. Returns the new length. */
static size_t quote_arg(char *out, size_t at, const char *arg) {
  if (*arg != '\0' && strpbrk(arg, " \t\n\v\"") == NULL) {
    size_t n = strlen(arg);
    if (out != NULL) memcpy(out + at, arg, n);
    return at + n;
  }
  if (out != NULL) out[at] = '"';
  at++;
  for (const char *p = arg;; p++) {
    size_t slashes = 0;
    while (*p == '\\') {
      slashes++;
      p++;
    }
    /* before a quote or the closing quote, every backslash is doubled */
    size_t copies = *p == '"' ? slashes * 2 + 1 : *p == '\0' ? slashes * 2 : slashes;
    for (size_t i = 0; i < copies; i++)
      if (out != NULL) out[at + i] = '\\';
    at += copies;
    if (*p == '\0') break;
    if (out != NULL) out[at] = *p;
    at++;
  }
  if (out != NULL) out[at] = '"';
  return at + 1;
}

/* argv as one command line, UTF-16. */
static wchar_t *command_line(const char *const *argv) {
  size_t len = 0;
  for (size_t i = 0; argv[i] != NULL; i++) len = quote_arg(NULL, len + (i > 0), argv[i]);
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  size_t at = 0;
  for (size_t i = 0; argv[i] != NULL; i++) {
    if (i > 0) s[at++] = ' ';
    at = quote_arg(s, at, argv[i]);
  }
  s[at] = '\0';
  wchar_t *w = wide(s);
  free(s);
  return w;
}

/* "K=V" strings as an environment block: UTF-16, each ended by a zero, the
 * block by one more. */
static wchar_t *environment_block(const char *const *env) {
  size_t total = 1;
  for (size_t i = 0; env[i] != NULL; i++) {
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, env[i], -1, NULL, 0);
    if (n <= 0) return NULL;
    total += (size_t)n;
  }
  wchar_t *block = malloc(total * sizeof *block), *at = block;
  if (block == NULL) return NULL;
  for (size_t i = 0; env[i] != NULL; i++)
    at += MultiByteToWideChar(CP_UTF8, 0, env[i], -1, at, (int)(total - (size_t)(at - block)));
  *at = L'\0';
  return block;
}

/* ---- the tree on the loop --------------------------------------------------- */

static DWORD active_processes(HANDLE job) {
  JOBOBJECT_BASIC_ACCOUNTING_INFORMATION info;
  if (!QueryInformationJobObject(job, JobObjectBasicAccountingInformation, &info, sizeof info,
                                 NULL))
    return 0; /* cannot be asked: nothing left to wait for */
  return info.ActiveProcesses;
}

static void handle_closed(uv_handle_t *h) {
  dp_proc_tree_t *t = h->data;
  if (--t->open_handles > 0) return;
  CloseHandle(t->process);
  CloseHandle(t->job); /* empty by now, or when start failed: ends it */
  if (t->ev != NULL) t->ev->gone(t->user);
  free(t);
}

/* The job is empty: the tree is gone once the loop's handles are closed. */
static void finish(dp_proc_tree_t *t) {
  uv_close((uv_handle_t *)&t->exited, handle_closed);
  uv_close((uv_handle_t *)&t->poll, handle_closed);
}

static void poll_tick(uv_timer_t *h) {
  dp_proc_tree_t *t = h->data;
  if (t->program_ended && active_processes(t->job) == 0) finish(t);
}

static void terminate(dp_proc_tree_t *t) {
  if (!t->terminated) TerminateJobObject(t->job, 1);
  t->terminated = true;
  if (!uv_is_active((uv_handle_t *)&t->poll)) uv_timer_start(&t->poll, poll_tick, POLL_MS, POLL_MS);
}

static void program_exited(uv_async_t *h) {
  dp_proc_tree_t *t = h->data;
  if (t->program_ended) return;
  t->program_ended = true;
  UnregisterWaitEx(t->wait, INVALID_HANDLE_VALUE); /* its callback has run */
  DWORD code = 1;
  GetExitCodeProcess(t->process, &code);
  DWORD rest = active_processes(t->job);
  t->ev->exited(t->user, (int)code, 0, rest > 0);
  if (rest == 0)
    finish(t);
  else
    terminate(t); /* as on Linux, the rest of a tree whose program ended is stopped */
}

/* On a thread pool thread: only hand over to the loop. */
static void CALLBACK on_process_signalled(void *arg, BOOLEAN timed_out) {
  (void)timed_out;
  uv_async_send(arg);
}

/* The job: no breaking away, the tree dies with the last handle to it. */
static HANDLE new_job(void) {
  HANDLE job = CreateJobObjectW(NULL, NULL);
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  memset(&limits, 0, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (job != NULL &&
      !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
    CloseHandle(job);
    job = NULL;
  }
  return job;
}

/* An inheritable copy of the caller's standard handle `which` (NULL when it
 * has none), or the NUL device for stdin and, when `quiet`, for the others. */
static HANDLE child_std(DWORD which, bool quiet) {
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  if (which == STD_INPUT_HANDLE || quiet)
    return CreateFileW(L"NUL", which == STD_INPUT_HANDLE ? GENERIC_READ : GENERIC_WRITE,
                       FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING, 0, NULL);
  HANDLE h = GetStdHandle(which), copy = NULL;
  if (h != NULL && h != INVALID_HANDLE_VALUE)
    DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &copy, 0, TRUE,
                    DUPLICATE_SAME_ACCESS);
  return copy;
}

/* Creates the program suspended inside `job`, then resumes it. Returns 0 or
 * a Windows error code. */
static DWORD create_in_job(const dp_proc_tree_spec_t *spec, HANDLE job, PROCESS_INFORMATION *pi) {
  wchar_t *cmd = command_line(spec->argv);
  wchar_t *cwd = spec->cwd != NULL ? wide(spec->cwd) : NULL;
  wchar_t *env = spec->env != NULL ? environment_block(spec->env) : NULL;
  DWORD err = 0;
  if (cmd == NULL || (spec->cwd != NULL && cwd == NULL) || (spec->env != NULL && env == NULL))
    err = ERROR_NOT_ENOUGH_MEMORY;
  STARTUPINFOW si;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = child_std(STD_INPUT_HANDLE, false);
  si.hStdOutput = child_std(STD_OUTPUT_HANDLE, spec->quiet);
  si.hStdError = child_std(STD_ERROR_HANDLE, spec->quiet);
  /* lpApplicationName NULL: argv[0] is searched as Windows does (the
   * module's folder, the current one, the system folders, then PATH) */
  if (err == 0 && !CreateProcessW(NULL, cmd, NULL, NULL, TRUE,
                                  CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT, env, cwd, &si, pi))
    err = GetLastError();
  if (err == 0 &&
      (!AssignProcessToJobObject(job, pi->hProcess) || ResumeThread(pi->hThread) == (DWORD)-1)) {
    err = GetLastError();
    TerminateProcess(pi->hProcess, 1);
    CloseHandle(pi->hThread);
    CloseHandle(pi->hProcess);
  } else if (err == 0) {
    CloseHandle(pi->hThread);
  }
  HANDLE std[] = {si.hStdInput, si.hStdOutput, si.hStdError};
  for (size_t i = 0; i < 3; i++)
    if (std[i] != NULL && std[i] != INVALID_HANDLE_VALUE) CloseHandle(std[i]);
  free(cmd);
  free(cwd);
  free(env);
  return err;
}

int dp_proc_tree_start(uv_loop_t *loop, const dp_proc_tree_spec_t *spec, dp_proc_tree_t **out,
                       int *pid) {
  const char *name = spec->argv[0];
  dp_proc_tree_t *t = calloc(1, sizeof *t);
  if (t == NULL) return dp_error_set(DP_ENOMEM, "cannot start %s: out of memory", name);
  t->job = new_job();
  PROCESS_INFORMATION pi;
  DWORD err = t->job != NULL ? create_in_job(spec, t->job, &pi) : GetLastError();
  if (err != 0) {
    if (t->job != NULL) CloseHandle(t->job);
    free(t);
    return dp_error_set(err == ERROR_NOT_ENOUGH_MEMORY ? DP_ENOMEM : DP_ESYS, "cannot start %s: %s",
                        name, uv_strerror(uv_translate_sys_error((int)err)));
  }
  t->process = pi.hProcess;
  t->ev = spec->events;
  t->user = spec->user;
  uv_async_init(loop, &t->exited, program_exited);
  uv_timer_init(loop, &t->poll);
  t->exited.data = t->poll.data = t;
  t->open_handles = 2;
  /* after uv_async_init: the wait fires at once if the program has ended */
  if (!RegisterWaitForSingleObject(&t->wait, pi.hProcess, on_process_signalled, &t->exited,
                                   INFINITE, WT_EXECUTEONLYONCE)) {
    /* the tree ends unseen; its handles close on the loop without `gone` */
    err = GetLastError();
    TerminateJobObject(t->job, 1);
    t->ev = NULL;
    uv_close((uv_handle_t *)&t->exited, handle_closed);
    uv_close((uv_handle_t *)&t->poll, handle_closed);
    return dp_error_set(DP_ESYS, "cannot watch %s: %s", name,
                        uv_strerror(uv_translate_sys_error((int)err)));
  }
  *pid = (int)pi.dwProcessId;
  *out = t;
  return 0;
}

void dp_proc_tree_stop(dp_proc_tree_t *t) {
  if (!uv_is_closing((uv_handle_t *)&t->poll)) terminate(t);
}

void dp_proc_tree_kill(dp_proc_tree_t *t) {
  if (!uv_is_closing((uv_handle_t *)&t->poll)) TerminateJobObject(t->job, 1);
}
