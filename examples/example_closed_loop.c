/* example_closed_loop.c - `make demo`: a live closed loop run by a small
 * control room in C with the launcher (dareplane/launcher.h).
 *
 * It starts dp-logserver, dp-mock-stream with a known burst every 2 s, the
 * chain dp-bandpower (13-30 Hz) -> dp-threshold-controller -> dp-stimulator,
 * and dp-latency watching every stream; sends START; shows one live status
 * line (samples per stage, stimulation switches, input age so far) for
 * --seconds; prints each module's CPU use and the latency table (dp-latency
 * watches for the same --seconds and then writes it), then stops everything
 * (CLOSE, then the whole process trees: SIGTERM and SIGKILL on Linux,
 * TerminateJobObject on Windows), and leaves the samples in --json for
 * scripts/plot_closed_loop.py. Ctrl-C ends the run early and cleans up the
 * same way; nothing keeps running afterwards. The same on Linux and Windows.
 *
 *   example-closed-loop [--seconds 10] [--json closed_loop.json] [--logfile F]
 *
 * Ports are free ones on 127.0.0.1; stream names carry the process id, so two
 * demos do not meet. The programs are looked up next to this one. */
#include <dareplane/dareplane.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { LOGSERVER, MOCK, DECODER, CONTROLLER, STIMULATOR, PROBE, N_PROCS };

static const char *const prog_names[N_PROCS] = {"dp-logserver",  "dp-mock-stream",
                                                "dp-bandpower",  "dp-threshold-controller",
                                                "dp-stimulator", "dp-latency"};
static dp_launcher_t *procs[N_PROCS];
static char bin_dir[1024];
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

/* Starts program `which` with args (NULL-ended) on `port` (0: none). */
static int launch(int which, const char *const *args, int port, bool plain, bool show_output) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", bin_dir, prog_names[which]);
  dp_launcher_opts_t o;
  dp_launcher_opts_init(&o);
  o.name = prog_names[which];
  o.path = path;
  o.args = args;
  o.port = port;
  o.plain_port = plain;
  o.quiet = !show_output;
  o.start_timeout_s = 20;
  o.reply_timeout_s = 5;
  o.term_grace_s = which == PROBE ? 10 : 2; /* after Ctrl-C, it writes its table at SIGTERM */
  if (dp_launcher_start(&procs[which], &o) < 0) {
    fprintf(stderr, "demo: %s\n", dp_error_detail());
    return -1;
  }
  return 0;
}

/* The number after "key": in a STATS reply (NAN when absent). */
static double field(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = json != NULL ? strstr(json, pat) : NULL;
  return p != NULL ? strtod(p + strlen(pat), NULL) : NAN;
}

static char *stats(int which) {
  char *reply = NULL;
  size_t len;
  if (dp_launcher_request(procs[which], "STATS", &reply, &len, 2.0) < 0) return NULL;
  return reply;
}

static void status_line(double elapsed) {
  char *d = stats(DECODER), *c = stats(CONTROLLER), *s = stats(STIMULATOR);
  const char *age = strstr(s != NULL ? s : "", "\"age_ms\"");
  printf("\r  %4.1f s | band power %6.0f in %5.0f out | controller %5.0f out | "
         "stimulator %3.0f switches | age at stimulator p50 %.2f ms   ",
         elapsed, field(d, "in"), field(d, "out"), field(c, "out"), field(s, "out"),
         field(age, "p50"));
  fflush(stdout);
  free(d);
  free(c);
  free(s);
}

static void print_cpu(void) {
  printf("\nCPU use since START (process CPU time / wall time):\n");
  for (int i = DECODER; i <= STIMULATOR; i++) {
    char *r = stats(i);
    if (r != NULL)
      printf("  %-24s %6.2f %%  (%.3f s in %.1f s, %.0f batches)\n", prog_names[i],
             field(r, "cpu_pct"), field(r, "cpu_s"), field(r, "wall_s"), field(r, "batches"));
    free(r);
  }
}

static int stop_all(void) {
  int rc = 0;
  /* the probe first (its table), then the chain downstream first, then sources */
  static const int order[] = {PROBE, STIMULATOR, CONTROLLER, DECODER, MOCK, LOGSERVER};
  for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
    dp_launcher_t *l = procs[order[i]];
    if (l == NULL) continue;
    if (dp_launcher_stop(l) < 0) {
      fprintf(stderr, "demo: %s\n", dp_error_detail());
      rc = -1;
    }
    dp_launcher_free(l);
    procs[order[i]] = NULL;
  }
  return rc;
}

static int run(double seconds, const char *json, const char *logfile) {
  int ports[N_PROCS] = {0};
  for (int i = 0; i < N_PROCS; i++) {
    if (i == MOCK || i == PROBE) continue;
    ports[i] = dp_launcher_free_port();
    if (ports[i] < 0) {
      fprintf(stderr, "demo: %s\n", dp_error_detail());
      return 1;
    }
  }
  char p[N_PROCS][32], src[64], bursts[80], dec[64], ctl[64], stim[64], logport[16];
  for (int i = 0; i < N_PROCS; i++) snprintf(p[i], sizeof p[i], "--port=%d", ports[i]);
  int pid = (int)uv_os_getpid();
  snprintf(src, sizeof src, "demo_eeg_%d", pid);
  snprintf(bursts, sizeof bursts, "%s_bursts", src);
  snprintf(dec, sizeof dec, "demo_decoder_%d", pid);
  snprintf(ctl, sizeof ctl, "demo_control_%d", pid);
  snprintf(stim, sizeof stim, "demo_stim_%d", pid);
  snprintf(logport, sizeof logport, "%d", ports[LOGSERVER]);
  /* every module logs to our dp-logserver (the environment they inherit) */
  uv_os_setenv("DP_LOG_HOST", "127.0.0.1");
  uv_os_setenv("DP_LOG_PORT", logport);

  char in_src[96], out_dec[96], in_dec[96], out_ctl[96], in_ctl[96], out_stim[96];
  snprintf(in_src, sizeof in_src, "--in_stream=%s", src);
  snprintf(out_dec, sizeof out_dec, "--out_stream=%s", dec);
  snprintf(in_dec, sizeof in_dec, "--in_stream=%s", dec);
  snprintf(out_ctl, sizeof out_ctl, "--out_stream=%s", ctl);
  snprintf(in_ctl, sizeof in_ctl, "--in_stream=%s", ctl);
  snprintf(out_stim, sizeof out_stim, "--out_stream=%s", stim);
  const char *log_args[] = {p[LOGSERVER], "--quiet", "--logfile", logfile, NULL};
  const char *mock_args[] = {
      "--name",        src, "--channels",     "4",   "--srate",           "1000", "--chunk", "1",
      "--burst-every", "2", "--burst-length", "0.5", "--burst-amplitude", "4",    NULL};
  const char *dec_args[] = {p[DECODER],
                            in_src,
                            out_dec,
                            "--low=13",
                            "--high=30",
                            "--window_s=0.05",
                            "--connect_timeout_s=30",
                            "--loglevel=INFO",
                            NULL};
  const char *ctl_args[] = {p[CONTROLLER],
                            in_dec,
                            out_ctl,
                            "--threshold=0.5",
                            "--hysteresis=0.2",
                            "--connect_timeout_s=30",
                            "--loglevel=INFO",
                            NULL};
  const char *stim_args[] = {p[STIMULATOR],     in_ctl, out_stim, "--connect_timeout_s=30",
                             "--loglevel=INFO", NULL};
  char secs[32];
  snprintf(secs, sizeof secs, "%g", seconds);
  const char *probe_args[] = {"--stream",  src,        "--stream", dec,      "--stream",
                              ctl,         "--bursts", bursts,     "--stim", stim,
                              "--seconds", secs,       "--json",   json,     NULL};

  printf("closed loop: %s -> dp-bandpower (13-30 Hz) -> dp-threshold-controller -> "
         "dp-stimulator\n",
         src);
  printf("starting dp-logserver (log file %s), the mock stream (a burst every 2 s) and the "
         "chain...\n",
         logfile);
  fflush(stdout);
  if (launch(LOGSERVER, log_args, ports[LOGSERVER], true, false) < 0 ||
      launch(MOCK, mock_args, 0, false, false) < 0 ||
      launch(DECODER, dec_args, ports[DECODER], false, false) < 0 ||
      launch(CONTROLLER, ctl_args, ports[CONTROLLER], false, false) < 0 ||
      launch(STIMULATOR, stim_args, ports[STIMULATOR], false, false) < 0)
    return -1;
  for (int i = DECODER; i <= STIMULATOR && !interrupted; i++) {
    if (dp_launcher_send(procs[i], "START") < 0) {
      fprintf(stderr, "demo: %s\n", dp_error_detail());
      return -1;
    }
    printf("  %s: START\n", prog_names[i]);
  }
  if (!interrupted && launch(PROBE, probe_args, 0, false, true) < 0) return -1;
  uint64_t t0 = uv_hrtime();
  double elapsed = 0;
  while (!interrupted && elapsed < seconds) {
    uv_sleep(250);
    elapsed = (double)(uv_hrtime() - t0) / 1e9;
    for (int i = LOGSERVER; i < PROBE; i++) { /* the probe ends by itself */
      int st = 0;
      if (dp_launcher_poll(procs[i], &st) == 0) {
        fprintf(stderr, "\ndemo: %s ended unexpectedly (status %d)\n", prog_names[i], st);
        return -1;
      }
    }
    status_line(elapsed);
  }
  printf("\n%s; stopping everything...\n", interrupted ? "interrupted" : "done");
  print_cpu();
  fflush(stdout);
  /* the probe's table (after its streams resolved and --seconds) */
  double deadline = (double)uv_hrtime() / 1e9 + 30;
  while (!interrupted && dp_launcher_poll(procs[PROBE], NULL) == 1 &&
         (double)uv_hrtime() / 1e9 < deadline)
    uv_sleep(50);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = 10;
  const char *json = "closed_loop.json", *logfile = "closed_loop.log";
  dp_args_t a;
  int rc;
  dp_args_init(&a, argc, argv, false);
  while ((rc = dp_args_next(&a)) == DP_ARGS_FLAG) {
    if (dp_args_is(&a, "seconds"))
      rc = dp_args_double(&a, &seconds);
    else if (dp_args_is(&a, "json") && (rc = dp_args_value(&a)) == 0)
      json = a.value;
    else if (dp_args_is(&a, "logfile") && (rc = dp_args_value(&a)) == 0)
      logfile = a.value;
    else if (!dp_args_is(&a, "json") && !dp_args_is(&a, "logfile"))
      rc = dp_args_unknown(&a);
    if (rc < 0) break;
  }
  if (rc < 0 || !(seconds > 0)) {
    fprintf(stderr,
            "demo: %s\nusage: example-closed-loop [--seconds 10] [--json F] "
            "[--logfile F]\n",
            rc < 0 ? dp_error_detail() : "--seconds must be > 0");
    return 2;
  }
  size_t size = sizeof bin_dir;
  if (uv_exepath(bin_dir, &size) != 0) bin_dir[0] = '\0';
  char *cut = strrchr(bin_dir, '/'), *back = strrchr(bin_dir, '\\');
  if (back != NULL && (cut == NULL || back > cut)) cut = back;
  if (cut != NULL)
    *cut = '\0';
  else
    snprintf(bin_dir, sizeof bin_dir, ".");
  signal(SIGINT, on_signal); /* the loop's sleeps are short: it notices within 250 ms */
  signal(SIGTERM, on_signal);
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN);
#endif
  dp_log_configure_level(NULL);
  int status = run(seconds, json, logfile) == 0 && !interrupted ? 0 : 1;
  if (stop_all() < 0) status = 1;
  printf("everything stopped; samples and latencies in %s, module log in %s\n", json, logfile);
  return status;
}
