/* example_ringbuffer.c - the ring buffer at work, as a StreamWatcher uses it:
 * chunks of a 4-channel signal arrive, the buffer keeps the newest 2 seconds,
 * and the consumer reads the newest samples or the whole buffer in time order.
 * Also replays the worked example of the reference. Run: make demo */
#include <dareplane/dareplane.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { CHANNELS = 4, SRATE = 100, SECONDS = 2, CHUNK = 32 };

static void print_times(const char *label, const double *t, size_t n) {
  printf("  %-22s [", label);
  for (size_t i = 0; i < n; i++) printf("%s%g", i ? ", " : "", t[i]);
  printf("]\n");
}

static int worked_example(void) {
  printf("Worked example of the reference (capacity 10, add t=0..4 then t=0..7):\n");
  dp_ringbuffer_t *rb;
  size_t one = 1;
  int rc = dp_ringbuffer_new(&rb, DP_DOUBLE64, 10, &one, 1);
  if (rc < 0) return rc;
  double t[8] = {0, 1, 2, 3, 4, 5, 6, 7}, unfolded[10];
  dp_ringbuffer_add(rb, t, t, 5);
  dp_ringbuffer_add(rb, t, t, 8);
  print_times("raw buffer_t:", dp_ringbuffer_raw_times(rb), 10);
  dp_ringbuffer_unfold(rb, NULL, unfolded);
  print_times("unfolded (old -> new):", unfolded, 10);
  printf("  %-22s %zu\n\n", "write index (curr_i):", dp_ringbuffer_write_index(rb));
  dp_ringbuffer_free(rb);
  return 0;
}

int main(void) {
  printf("libdareplane %s - ring buffer demo\n\n", dp_version_string());
  if (worked_example() < 0) return 1;

  size_t channels = CHANNELS;
  dp_ringbuffer_t *rb;
  int rc = dp_ringbuffer_new(&rb, DP_FLOAT32, (size_t)SRATE * SECONDS, &channels, 1);
  if (rc < 0) {
    fprintf(stderr, "dp_ringbuffer_new: %s\n", dp_strerror(rc));
    return 1;
  }
  printf("A %d-channel float32 stream at %d Hz into a %d s buffer (%zu samples):\n", CHANNELS,
         SRATE, SECONDS, dp_ringbuffer_capacity(rb));

  float chunk[CHUNK][CHANNELS];
  double times[CHUNK];
  long sample = 0;
  for (int c = 0; c < 10; c++) {
    for (int i = 0; i < CHUNK; i++, sample++) {
      times[i] = (double)sample / SRATE;
      for (int ch = 0; ch < CHANNELS; ch++)
        chunk[i][ch] = (float)sin(2.0 * 3.14159265358979 * (ch + 1) * times[i]);
    }
    dp_ringbuffer_add(rb, chunk, times, CHUNK);
    printf("  chunk %2d: total %4llu samples, write index %3zu, newest t = %.2f s\n", c + 1,
           (unsigned long long)dp_ringbuffer_total(rb), dp_ringbuffer_write_index(rb),
           dp_ringbuffer_last_time(rb));
  }

  float newest[3][CHANNELS];
  double newest_t[3];
  dp_ringbuffer_newest(rb, 3, newest, newest_t);
  printf("\nThe newest 3 samples (read without unfolding the rest):\n");
  for (int i = 0; i < 3; i++)
    printf("  t=%.2f  %+.3f %+.3f %+.3f %+.3f\n", newest_t[i], newest[i][0], newest[i][1],
           newest[i][2], newest[i][3]);

  size_t cap = dp_ringbuffer_capacity(rb);
  double *all_t = malloc(cap * sizeof *all_t);
  if (all_t == NULL) return 1;
  dp_ringbuffer_unfold(rb, NULL, all_t);
  printf("\nUnfolded buffer spans t = %.2f .. %.2f s (oldest first, %zu samples)\n", all_t[0],
         all_t[cap - 1], cap);
  free(all_t);
  dp_ringbuffer_free(rb);
  return 0;
}
