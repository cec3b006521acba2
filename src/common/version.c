/* version.c - the running library's version, built from the DP_VERSION_*
 * macros of common.h (the one place the version is written down). */
#include "dareplane/common.h"

#define DP_STR_(x) #x
#define DP_STR(x)  DP_STR_(x)

const char *dp_version_string(void) {
  return DP_STR(DP_VERSION_MAJOR) "." DP_STR(DP_VERSION_MINOR) "." DP_STR(DP_VERSION_PATCH);
}
