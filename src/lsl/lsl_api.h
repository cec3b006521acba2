/* lsl_api.h - our own declarations of the part of liblsl's C API that the
 * library uses, written from liblsl's documentation (no liblsl header is
 * copied or needed at build time), and the table of function pointers that
 * load.c fills at run time with uv_dlopen/uv_dlsym.
 *
 * Library code gets the table with dp_lsl_api(); every LSL call goes through
 * it, so the library builds and works without liblsl until LSL is used.
 * Not installed. */
#ifndef DP_LSL_API_H
#define DP_LSL_API_H

#include <stddef.h>
#include <stdint.h>

/* Opaque liblsl handles. */
typedef struct lsl_streaminfo_struct_ *lsl_streaminfo;
typedef struct lsl_inlet_struct_ *lsl_inlet;
typedef struct lsl_outlet_struct_ *lsl_outlet;
typedef struct lsl_xml_ptr_struct_ *lsl_xml_ptr;
typedef struct lsl_continuous_resolver_ *lsl_continuous_resolver;

/* liblsl error codes (the int32_t *ec out-parameters). */
enum {
  DP_LSL_NO_ERROR = 0,
  DP_LSL_TIMEOUT_ERROR = -1,
  DP_LSL_LOST_ERROR = -2,
  DP_LSL_ARGUMENT_ERROR = -3,
  DP_LSL_INTERNAL_ERROR = -4
};

/* liblsl's "wait forever" timeout. */
#define DP_LSL_FOREVER 32000000.0

/* Oldest liblsl we accept: 1.14 (lsl_library_version() = major * 100 + minor). */
#define DP_LSL_MIN_VERSION 114

/* X-macro over every liblsl function we call: return type, name, parameters.
 * The table member of each is the function's name without the "lsl_" prefix. */
#define DP_LSL_FUNCS(XX)                                                                           \
  XX(int32_t, library_version, (void))                                                             \
  XX(double, local_clock, (void))                                                                  \
  XX(void, destroy_string, (char *))                                                               \
  XX(lsl_streaminfo, create_streaminfo,                                                            \
     (const char *, const char *, int32_t, double, int32_t, const char *))                         \
  XX(void, destroy_streaminfo, (lsl_streaminfo))                                                   \
  XX(const char *, get_name, (lsl_streaminfo))                                                     \
  XX(const char *, get_type, (lsl_streaminfo))                                                     \
  XX(int32_t, get_channel_count, (lsl_streaminfo))                                                 \
  XX(double, get_nominal_srate, (lsl_streaminfo))                                                  \
  XX(int32_t, get_channel_format, (lsl_streaminfo))                                                \
  XX(const char *, get_source_id, (lsl_streaminfo))                                                \
  XX(const char *, get_uid, (lsl_streaminfo))                                                      \
  XX(const char *, get_hostname, (lsl_streaminfo))                                                 \
  XX(double, get_created_at, (lsl_streaminfo))                                                     \
  XX(lsl_xml_ptr, get_desc, (lsl_streaminfo))                                                      \
  XX(lsl_xml_ptr, child, (lsl_xml_ptr, const char *))                                              \
  XX(lsl_xml_ptr, next_sibling_n, (lsl_xml_ptr, const char *))                                     \
  XX(int32_t, empty, (lsl_xml_ptr))                                                                \
  XX(const char *, child_value_n, (lsl_xml_ptr, const char *))                                     \
  XX(lsl_xml_ptr, append_child, (lsl_xml_ptr, const char *))                                       \
  XX(lsl_xml_ptr, append_child_value, (lsl_xml_ptr, const char *, const char *))                   \
  XX(lsl_continuous_resolver, create_continuous_resolver, (double))                                \
  XX(lsl_continuous_resolver, create_continuous_resolver_bypred, (const char *, double))           \
  XX(int32_t, resolver_results, (lsl_continuous_resolver, lsl_streaminfo *, uint32_t))             \
  XX(void, destroy_continuous_resolver, (lsl_continuous_resolver))                                 \
  XX(lsl_inlet, create_inlet, (lsl_streaminfo, int32_t, int32_t, int32_t))                         \
  XX(void, destroy_inlet, (lsl_inlet))                                                             \
  XX(lsl_streaminfo, get_fullinfo, (lsl_inlet, double, int32_t *))                                 \
  XX(void, open_stream, (lsl_inlet, double, int32_t *))                                            \
  XX(int32_t, set_postprocessing, (lsl_inlet, uint32_t))                                           \
  XX(double, time_correction, (lsl_inlet, double, int32_t *))                                      \
  XX(uint32_t, was_clock_reset, (lsl_inlet))                                                       \
  XX(double, pull_sample_v, (lsl_inlet, void *, int32_t, double, int32_t *))                       \
  XX(double, pull_sample_str, (lsl_inlet, char **, int32_t, double, int32_t *))                    \
  XX(unsigned long, pull_chunk_f,                                                                  \
     (lsl_inlet, float *, double *, unsigned long, unsigned long, double, int32_t *))              \
  XX(unsigned long, pull_chunk_d,                                                                  \
     (lsl_inlet, double *, double *, unsigned long, unsigned long, double, int32_t *))             \
  XX(unsigned long, pull_chunk_i,                                                                  \
     (lsl_inlet, int32_t *, double *, unsigned long, unsigned long, double, int32_t *))            \
  XX(unsigned long, pull_chunk_s,                                                                  \
     (lsl_inlet, int16_t *, double *, unsigned long, unsigned long, double, int32_t *))            \
  XX(unsigned long, pull_chunk_c,                                                                  \
     (lsl_inlet, char *, double *, unsigned long, unsigned long, double, int32_t *))               \
  XX(unsigned long, pull_chunk_l,                                                                  \
     (lsl_inlet, int64_t *, double *, unsigned long, unsigned long, double, int32_t *))            \
  XX(unsigned long, pull_chunk_str,                                                                \
     (lsl_inlet, char **, double *, unsigned long, unsigned long, double, int32_t *))              \
  XX(lsl_outlet, create_outlet, (lsl_streaminfo, int32_t, int32_t))                                \
  XX(void, destroy_outlet, (lsl_outlet))                                                           \
  XX(int32_t, have_consumers, (lsl_outlet))                                                        \
  XX(int32_t, wait_for_consumers, (lsl_outlet, double))                                            \
  XX(int32_t, push_chunk_ftnp,                                                                     \
     (lsl_outlet, const float *, unsigned long, const double *, int32_t))                          \
  XX(int32_t, push_chunk_dtnp,                                                                     \
     (lsl_outlet, const double *, unsigned long, const double *, int32_t))                         \
  XX(int32_t, push_chunk_itnp,                                                                     \
     (lsl_outlet, const int32_t *, unsigned long, const double *, int32_t))                        \
  XX(int32_t, push_chunk_stnp,                                                                     \
     (lsl_outlet, const int16_t *, unsigned long, const double *, int32_t))                        \
  XX(int32_t, push_chunk_ctnp, (lsl_outlet, const char *, unsigned long, const double *, int32_t)) \
  XX(int32_t, push_chunk_ltnp,                                                                     \
     (lsl_outlet, const int64_t *, unsigned long, const double *, int32_t))                        \
  XX(int32_t, push_chunk_strtnp,                                                                   \
     (lsl_outlet, const char **, unsigned long, const double *, int32_t))                          \
  XX(int32_t, push_chunk_ftp, (lsl_outlet, const float *, unsigned long, double, int32_t))         \
  XX(int32_t, push_chunk_dtp, (lsl_outlet, const double *, unsigned long, double, int32_t))        \
  XX(int32_t, push_chunk_itp, (lsl_outlet, const int32_t *, unsigned long, double, int32_t))       \
  XX(int32_t, push_chunk_stp, (lsl_outlet, const int16_t *, unsigned long, double, int32_t))       \
  XX(int32_t, push_chunk_ctp, (lsl_outlet, const char *, unsigned long, double, int32_t))          \
  XX(int32_t, push_chunk_ltp, (lsl_outlet, const int64_t *, unsigned long, double, int32_t))       \
  XX(int32_t, push_chunk_strtp, (lsl_outlet, const char **, unsigned long, double, int32_t))

typedef struct dp_lsl_api {
/* NOLINTNEXTLINE(bugprone-macro-parentheses): a type and a parameter list */
#define DP_LSL_MEMBER(ret, name, params) ret(*name) params;
  DP_LSL_FUNCS(DP_LSL_MEMBER)
#undef DP_LSL_MEMBER
  /* optional: NULL in liblsl older than 1.16 */
  void (*set_config_content)(const char *);
} dp_lsl_api_t;

/* liblsl reserves InletBufferReserveMs of samples for every inlet when it
 * opens (its default: 5000 ms; at 1024 ch x 30 kHz float32 that is 600 MB,
 * whatever the inlet's max_buflen). Unless liblsl's configuration file sets
 * it, the library sets it to this when it loads liblsl (liblsl 1.16+). */
#define DP_LSL_INLET_RESERVE_MS 500

/* Loads liblsl on first use (once per process, thread-safe) and returns the
 * filled table, or NULL with DP_ENOLSL recorded (dp_error_set) and a detail
 * sentence naming every place tried and how to get liblsl. */
const dp_lsl_api_t *dp_lsl_api(void);

/* The loading step itself, without global state, for tests: tries `path`
 * (a file name or path given to uv_dlopen), checks the version and fills
 * `api`. On failure returns DP_ENOLSL and writes why into why[why_size]
 * (e.g. the dlopen error, the missing symbol, or the too-old version).
 * On success the library stays loaded for the life of the process. */
int dp_lsl_try_load(const char *path, dp_lsl_api_t *api, char *why, size_t why_size);

/* Builds the search list (DP_LSL_LIB, PYLSL_LIB from the environment, then the
 * platform's names) into `out` (at most `max` entries, pointers into the
 * environment or static strings) and returns the count. `origin[i]` receives
 * where entry i came from ("DP_LSL_LIB", "PYLSL_LIB" or "system"). */
size_t dp_lsl_search_list(const char **out, const char **origin, size_t max);

#endif /* DP_LSL_API_H */
