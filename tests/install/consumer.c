/* consumer.c - a tiny program built against an *installed* libdareplane, to
 * prove that the headers, the libraries, dareplane.pc and the CMake package
 * work for a user. */
#include <dareplane/dareplane.h>
#include <stdio.h>

int main(void) {
  dp_ringbuffer_t *rb = NULL;
  size_t channels = 2;
  if (dp_ringbuffer_new(&rb, DP_FLOAT32, 4, &channels, 1) != 0) return 1;
  float v[2] = {1.0f, 2.0f};
  double t = 0.5;
  int rc = dp_ringbuffer_add(rb, v, &t, 1);
  uint64_t total = dp_ringbuffer_total(rb);
  dp_ringbuffer_free(rb);
  printf("libdareplane %s: add=%d total=%llu\n", dp_version_string(), rc,
         (unsigned long long)total);
  return rc == 0 && total == 1 ? 0 : 1;
}
