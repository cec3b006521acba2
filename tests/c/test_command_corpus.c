/* test_command_corpus.c - every input of fuzz/corpus/command/ replayed
 * through the command fuzzer's harness (fuzz/fuzz_command.c, included here):
 * a real server with real handlers fed the bytes through a socket in the
 * segmentation the input chooses. Among them are the inputs that found bugs:
 * a registered name followed by a NUL without terminator (the name lookup
 * read past the stored name) and a handler that registers a handler and then
 * fails (the error reply read the freed handler table); under ASan and
 * valgrind they fail the test if the bug comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "../../fuzz/fuzz_command.c"
#include "confine_logs.h"

/* The corpus folder, found from this file's path (CMake compiles it by its
 * absolute path). */
static void corpus_dir(char *out, size_t size) {
  const char *self = __FILE__;
  const char *tail = strstr(self, "tests/c/test_command_corpus.c");
  assert_non_null(tail);
  snprintf(out, size, "%.*sfuzz/corpus/command", (int)(tail - self), self);
}

static size_t replay(const char *dir, const char *name) {
  char path[4096];
  int len = snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_true(len > 0 && (size_t)len < sizeof path);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static uint8_t buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  assert_int_equal(LLVMFuzzerTestOneInput(buf, n), 0);
  return n;
}

static void bug_inputs(void **state) {
  (void)state;
  char dir[4096];
  corpus_dir(dir, sizeof dir);
  assert_true(replay(dir, "bug_nul_after_name") > 0);
  assert_true(replay(dir, "bug_add_then_fail") > 0);
}

static void whole_corpus(void **state) {
  (void)state;
  char dir[4096];
  corpus_dir(dir, sizeof dir);
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t files = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    replay(dir, e->d_name);
    files++;
  }
  closedir(d);
  assert_true(files >= 10);
}

int main(void) {
  confine_network_logs();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bug_inputs),
      cmocka_unit_test(whole_corpus),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
