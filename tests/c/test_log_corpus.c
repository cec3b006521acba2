/* test_log_corpus.c - replays every input of fuzz/corpus/log_frame/ through
 * the log frame fuzz target itself (reassembly, decoding and rendering under
 * the size bounds, as dp-logserver runs them), so inputs that once found a
 * bug (format bombs, huge numbers, ...) stay regression tests in every build:
 * normal, ASan+UBSan, TSan and valgrind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "../../fuzz/fuzz_log_frame.c"

static void every_corpus_input_passes(void **state) {
  (void)state;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", __FILE__); /* <source>/tests/c/test_log_corpus.c */
  char *end = strstr(dir, "tests/c/test_log_corpus.c");
  assert_non_null(end);
  snprintf(end, sizeof dir - (size_t)(end - dir), "fuzz/corpus/log_frame");
  uv_fs_t req;
  int n = uv_fs_scandir(NULL, &req, dir, 0, NULL);
  assert_true(n >= 20); /* the seeds and the inputs that found bugs */
  uv_dirent_t ent;
  int replayed = 0;
  while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, ent.name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t data[1 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    assert_int_equal(LLVMFuzzerTestOneInput(data, len), 0); /* aborts on a broken bound */
    replayed++;
  }
  uv_fs_req_cleanup(&req);
  assert_int_equal(replayed, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_corpus_input_passes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
