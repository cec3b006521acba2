/* common.h - what every public header of libdareplane shares: the export
 * macro and the library version. Included by the other headers; a user never
 * needs to include it directly. */
#ifndef DAREPLANE_COMMON_H
#define DAREPLANE_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a function as part of the public ABI of the shared library (the
 * library is built with hidden visibility by default). */
#if defined(_WIN32) && defined(DP_BUILDING_LIBRARY)
#define DP_EXTERN __declspec(dllexport)
#elif defined(__GNUC__)
#define DP_EXTERN __attribute__((visibility("default")))
#else
#define DP_EXTERN
#endif

/* printf-style format checking where the compiler supports it. */
#if defined(__MINGW32__)
#define DP_PRINTF(fmt_idx, args_idx) __attribute__((format(gnu_printf, fmt_idx, args_idx)))
#elif defined(__GNUC__)
#define DP_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#else
#define DP_PRINTF(fmt_idx, args_idx)
#endif

/* The version of these headers (dp_version_string() gives the running one). */
#define DP_VERSION_MAJOR 0
#define DP_VERSION_MINOR 1
#define DP_VERSION_PATCH 0

/* Returns the version of the library that is running, "MAJOR.MINOR.PATCH".
 * The string is static; never free it. Thread-safe. */
DP_EXTERN const char *dp_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* DAREPLANE_COMMON_H */
