/* test_lsl.c - the parts of the LSL components that need no liblsl: where
 * liblsl is looked for, why a candidate is refused, predicate quoting, stream
 * descriptions, and argument checks of the StreamWatcher and the outlet that
 * fail before liblsl is loaded. (Everything that talks to liblsl is tested
 * against real outlets in tests/interop/test_lsl_*.py; liblsl stays out of
 * the ASan and valgrind runs.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dareplane/lsl_outlet.h"
#include "dareplane/stream_watcher.h"
#include "lsl/info.h"
#include "test_platform.h"

static void search_order_env_then_system(void **state) {
  (void)state;
  const char *paths[8], *origins[8];
  test_setenv("DP_LSL_LIB", "/opt/a/liblsl.so");
  test_setenv("PYLSL_LIB", "/opt/b/liblsl.so");
  size_t n = dp_lsl_search_list(paths, origins, 8);
  assert_true(n >= 3);
  assert_string_equal(paths[0], "/opt/a/liblsl.so");
  assert_string_equal(origins[0], "DP_LSL_LIB");
  assert_string_equal(paths[1], "/opt/b/liblsl.so");
  assert_string_equal(origins[1], "PYLSL_LIB");
  assert_string_equal(origins[2], "system");
#if defined(__linux__)
  assert_int_equal(n, 4);
  assert_string_equal(paths[2], "liblsl.so.2");
  assert_string_equal(paths[3], "liblsl.so");
#endif
  test_setenv("DP_LSL_LIB", ""); /* empty counts as unset */
  test_unsetenv("PYLSL_LIB");
  n = dp_lsl_search_list(paths, origins, 8);
  assert_string_equal(origins[0], "system");
  assert_int_equal(dp_lsl_search_list(paths, origins, 1), 1); /* never more than asked */
  test_unsetenv("DP_LSL_LIB");
}

static void missing_file_is_refused_with_the_reason(void **state) {
  (void)state;
  dp_lsl_api_t api;
  char why[512];
  assert_int_equal(dp_lsl_try_load("/nonexistent/dir/liblsl.so.2", &api, why, sizeof why),
                   DP_ENOLSL);
  assert_non_null(strstr(why, "/nonexistent/dir/liblsl.so.2"));
}

#if defined(__linux__)
static void a_library_that_is_not_liblsl_is_refused(void **state) {
  (void)state;
  dp_lsl_api_t api;
  char why[512];
  assert_int_equal(dp_lsl_try_load("libm.so.6", &api, why, sizeof why), DP_ENOLSL);
  assert_non_null(strstr(why, "has no lsl_library_version"));
}
#endif

static void predicate_terms_are_quoted(void **state) {
  (void)state;
  char buf[128];
  size_t len = dp_lsl_pred_term(buf, sizeof buf, 0, "name", "eeg");
  assert_string_equal(buf, "name='eeg'");
  len = dp_lsl_pred_term(buf, sizeof buf, len, "type", "it's");
  assert_string_equal(buf, "name='eeg' and type=\"it's\"");
  size_t before = len;
  len = dp_lsl_pred_term(buf, sizeof buf, len, "source_id", "both ' and \"");
  assert_int_equal(len, before); /* cannot be written in XPath 1.0: left out */
  assert_string_equal(buf, "name='eeg' and type=\"it's\"");
  char tiny[8];
  assert_true(dp_lsl_pred_term(tiny, sizeof tiny, 0, "name", "long-name") >= sizeof tiny);
}

static void streams_are_described_in_one_line(void **state) {
  (void)state;
  dp_lsl_stream_info_t info = {.name = "eeg",
                               .type = "EEG",
                               .source_id = "amp1",
                               .hostname = "lab",
                               .uid = "u",
                               .channel_count = 8,
                               .nominal_srate = 1000,
                               .channel_format = DP_FLOAT32};
  char buf[256];
  dp_lsl_stream_describe(&info, buf, sizeof buf);
  assert_string_equal(buf, "'eeg' (EEG, 8 ch float32 @ 1000 Hz, source_id 'amp1', host lab)");
  info.type = "";
  info.nominal_srate = 0;
  info.channel_format = 0;
  dp_lsl_stream_describe(&info, buf, sizeof buf);
  assert_string_equal(buf, "'eeg' (8 ch undefined @ irregular, source_id 'amp1', host lab)");
}

static void watcher_arguments_are_checked(void **state) {
  (void)state;
  dp_stream_watcher_t *sw = (void *)1;
  assert_int_equal(dp_stream_watcher_new(NULL, "x", 2.0), DP_EINVAL);
  assert_int_equal(dp_stream_watcher_new(&sw, "x", 0.0), DP_EINVAL);
  assert_null(sw);
  assert_int_equal(dp_stream_watcher_new(&sw, "x", -1.0), DP_EINVAL);
  assert_int_equal(dp_stream_watcher_new(&sw, NULL, 2.0), 0);
  /* neither name nor predicate: refused before liblsl is needed */
  assert_int_equal(dp_stream_watcher_connect(sw, 0.1), DP_EINVAL);
  assert_int_equal(dp_stream_watcher_set_postprocessing(sw, 8), DP_EINVAL);
  assert_int_equal(dp_stream_watcher_set_postprocessing(sw, DP_LSL_CLOCKSYNC | DP_LSL_DEJITTER), 0);
  assert_int_equal(dp_stream_watcher_set_stall_timeout(sw, 0), DP_EINVAL);
  assert_int_equal(dp_stream_watcher_set_predicate(sw, "type='EEG'"), 0);
  assert_int_equal(dp_stream_watcher_set_predicate(sw, ""), 0);
  /* not connected: state errors, empty accessors */
  assert_int_equal(dp_stream_watcher_update(sw), DP_ESTATE);
  assert_int_equal(dp_stream_watcher_unfold(sw, NULL, NULL), DP_ESTATE);
  assert_int_equal(dp_stream_watcher_newest(sw, 1, NULL, NULL), DP_ESTATE);
  assert_false(dp_stream_watcher_connected(sw));
  assert_false(dp_stream_watcher_is_flowing(sw));
  assert_null(dp_stream_watcher_buffer(sw));
  assert_null(dp_stream_watcher_info(sw));
  assert_null(dp_stream_watcher_label(sw, 0));
  assert_true(dp_stream_watcher_seconds_since_last(sw) < 0);
  assert_int_equal(dp_stream_watcher_n_new(sw), 0);
  dp_stream_watcher_disconnect(sw);
  dp_stream_watcher_free(sw);
  dp_stream_watcher_free(NULL);
}

static void outlet_config_is_checked(void **state) {
  (void)state;
  dp_lsl_outlet_t *out = (void *)1;
  dp_lsl_outlet_config_t ok = {.name = "x", .channels = 2, .srate = 100, .format = DP_FLOAT32};
  dp_lsl_outlet_config_t bad[] = {ok, ok, ok, ok, ok};
  bad[0].name = "";
  bad[1].channels = 0;
  bad[2].srate = -1;
  bad[3].format = (dp_dtype_t)0;
  bad[4].chunk_size = -5;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(dp_lsl_outlet_new(&out, &bad[i]), DP_EINVAL);
    assert_null(out);
  }
  assert_int_equal(dp_lsl_outlet_new(&out, NULL), DP_EINVAL);
  assert_int_equal(dp_lsl_outlet_push(NULL, "", 1, NULL), DP_EINVAL);
  dp_lsl_outlet_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(search_order_env_then_system),
    cmocka_unit_test(missing_file_is_refused_with_the_reason),
#if defined(__linux__)
    cmocka_unit_test(a_library_that_is_not_liblsl_is_refused),
#endif
    cmocka_unit_test(predicate_terms_are_quoted),
    cmocka_unit_test(streams_are_described_in_one_line),
    cmocka_unit_test(watcher_arguments_are_checked),
    cmocka_unit_test(outlet_config_is_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
