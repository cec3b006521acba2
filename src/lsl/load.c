/* load.c - finds and loads liblsl at run time (uv_dlopen), once per process,
 * the way pylsl and mne-lsl do, so that the library builds and everything but
 * LSL works without it. Search order: $DP_LSL_LIB (a path), $PYLSL_LIB, then
 * the platform's usual names. When nothing loads, every LSL call fails with
 * DP_ENOLSL and one sentence naming everything tried and how to get liblsl.
 * Once loaded, and before liblsl reads its configuration, the inlet
 * reserve is lowered (DP_LSL_INLET_RESERVE_MS) unless the configuration
 * file liblsl would read sets it. */
#include "lsl/lsl_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/error_internal.h"
#include "dareplane/lsl.h"

#define DP_LSL_WHY_MAX 2048

static uv_once_t load_once = UV_ONCE_INIT;
static dp_lsl_api_t api_table;
static int api_ok;
static char loaded_path[1024];
static char failure[DP_LSL_WHY_MAX]; /* the sentence every failing call repeats */

#if defined(_WIN32)
static const char *const system_names[] = {"lsl.dll", "liblsl.dll"};
#elif defined(__APPLE__)
static const char *const system_names[] = {"liblsl.dylib", "liblsl.2.dylib"};
#else
static const char *const system_names[] = {"liblsl.so.2", "liblsl.so"};
#endif
#define N_SYSTEM_NAMES (sizeof system_names / sizeof system_names[0])

size_t dp_lsl_search_list(const char **out, const char **origin, size_t max) {
  static const char *const vars[] = {"DP_LSL_LIB", "PYLSL_LIB"};
  size_t n = 0;
  for (size_t i = 0; i < 2 && n < max; i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0') {
      origin[n] = vars[i];
      out[n++] = v;
    }
  }
  for (size_t i = 0; i < N_SYSTEM_NAMES && n < max; i++) {
    origin[n] = "system";
    out[n++] = system_names[i];
  }
  return n;
}

int dp_lsl_try_load(const char *path, dp_lsl_api_t *api, char *why, size_t why_size) {
  uv_lib_t lib;
  if (uv_dlopen(path, &lib) != 0) {
    const char *err = uv_dlerror(&lib);
    /* dlerror() names the file, Windows' message does not */
    if (strstr(err, path) != NULL)
      snprintf(why, why_size, "%s", err);
    else
      snprintf(why, why_size, "%s: %s", path, err);
    uv_dlclose(&lib);
    return DP_ENOLSL;
  }
  dp_lsl_api_t t;
#define DP_LSL_SYM(ret, name, params)                                                              \
  if (uv_dlsym(&lib, "lsl_" #name, (void **)&t.name) != 0) {                                       \
    snprintf(why, why_size,                                                                        \
             "loaded, but it has no lsl_" #name " (not liblsl, or older "                          \
             "than 1.14)");                                                                        \
    uv_dlclose(&lib);                                                                              \
    return DP_ENOLSL;                                                                              \
  }
  DP_LSL_FUNCS(DP_LSL_SYM)
#undef DP_LSL_SYM
  if (uv_dlsym(&lib, "lsl_set_config_content", (void **)&t.set_config_content) != 0)
    t.set_config_content = NULL;
  int32_t version = t.library_version();
  if (version < DP_LSL_MIN_VERSION) {
    snprintf(why, why_size, "loaded, but it is liblsl %d.%d; 1.14 or newer is needed",
             (int)(version / 100), (int)(version % 100));
    uv_dlclose(&lib);
    return DP_ENOLSL;
  }
  *api = t; /* the library stays loaded: its functions are in use from now on */
  return 0;
}

/* Reads the configuration file liblsl would read (its search order:
 * $LSLAPICFG, ./lsl_api.cfg, ~/lsl_api/lsl_api.cfg, /etc/lsl_api/lsl_api.cfg)
 * into buf; returns its length, 0 when there is none, or -1 when it does
 * not fit. */
static long read_lsl_config(char *buf, size_t size) {
  char home[1024] = "";
  if (getenv("HOME") != NULL) snprintf(home, sizeof home, "%s/lsl_api/lsl_api.cfg", getenv("HOME"));
  const char *files[] = {getenv("LSLAPICFG"), "lsl_api.cfg", home, "/etc/lsl_api/lsl_api.cfg"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    FILE *f = files[i] != NULL && files[i][0] != '\0' ? fopen(files[i], "r") : NULL;
    if (f == NULL) continue;
    size_t n = fread(buf, 1, size, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more || n == size) return -1;
    buf[n] = '\0';
    return (long)n;
  }
  buf[0] = '\0';
  return 0;
}

/* Lowers liblsl's inlet reserve (see DP_LSL_INLET_RESERVE_MS) by handing
 * liblsl its own configuration plus that one key, unless the configuration
 * sets the key itself (or is too large to be copied whole). */
static void tune(const dp_lsl_api_t *lsl) {
  static char cfg[65536];
  static const char key[] = "InletBufferReserveMs";
  if (lsl->set_config_content == NULL) return;
  long n = read_lsl_config(cfg, sizeof cfg - 64);
  if (n < 0 || strstr(cfg, key) != NULL) return;
  snprintf(cfg + n, sizeof cfg - (size_t)n, "\n[tuning]\n%s = %d\n", key, DP_LSL_INLET_RESERVE_MS);
  lsl->set_config_content(cfg);
}

static void load(void) {
  const char *paths[8], *origins[8];
  size_t n = dp_lsl_search_list(paths, origins, 8);
  size_t len = (size_t)snprintf(failure, sizeof failure, "liblsl could not be loaded; tried:");
  char why[512];
  for (size_t i = 0; i < n; i++) {
    if (dp_lsl_try_load(paths[i], &api_table, why, sizeof why) == 0) {
      snprintf(loaded_path, sizeof loaded_path, "%s", paths[i]);
      tune(&api_table);
      api_ok = 1;
      return;
    }
    if (len < sizeof failure) {
      len += (size_t)snprintf(failure + len, sizeof failure - len, " %s%s%s (%s);",
                              strcmp(origins[i], "system") == 0 ? "" : origins[i],
                              strcmp(origins[i], "system") == 0 ? "" : "=", paths[i], why);
    }
  }
  if (len < sizeof failure) {
    snprintf(failure + len, sizeof failure - len,
             " DP_LSL_LIB and PYLSL_LIB were %s. Get liblsl with `pip install pylsl` and set "
             "DP_LSL_LIB to its pylsl/lib/liblsl.so.2 (or .dylib/.dll), or install liblsl "
             "1.14+ from your OS packages or https://github.com/sccn/liblsl/releases",
             (getenv("DP_LSL_LIB") || getenv("PYLSL_LIB")) ? "tried as shown" : "not set");
  }
}

const dp_lsl_api_t *dp_lsl_api(void) {
  uv_once(&load_once, load);
  if (!api_ok) {
    dp_error_set(DP_ENOLSL, "%s", failure);
    return NULL;
  }
  return &api_table;
}

int dp_lsl_load(void) {
  return dp_lsl_api() != NULL ? 0 : DP_ENOLSL;
}

const char *dp_lsl_library_path(void) {
  return dp_lsl_api() != NULL ? loaded_path : NULL;
}

int dp_lsl_library_version(void) {
  const dp_lsl_api_t *lsl = dp_lsl_api();
  return lsl != NULL ? (int)lsl->library_version() : DP_ENOLSL;
}

double dp_lsl_local_clock(void) {
  const dp_lsl_api_t *lsl = dp_lsl_api();
  return lsl != NULL ? lsl->local_clock() : 0.0;
}
