/* example_loop.c - an event loop at 10 ms: a periodic callback, a delayed
 * one that fires at its own deadline, and one that stops the loop. */
#include <dareplane/loop.h>
#include <stdio.h>

static int tick(dp_loop_t *loop, void *ctx) {
  (void)loop;
  (*(int *)ctx)++;
  return 0;
}

static int hello(dp_loop_t *loop, void *ctx) {
  (void)ctx;
  printf("delayed callback at %.4f s after the start\n", dp_now() - dp_loop_t0(loop));
  return 0;
}

static int stop(dp_loop_t *loop, void *ctx) {
  (void)ctx;
  dp_loop_stop(loop);
  return 0;
}

int main(void) {
  dp_loop_opts_t o;
  dp_loop_opts_init(&o, 0.01);
  dp_loop_t *loop;
  if (dp_loop_new(&loop, &o) < 0) {
    fprintf(stderr, "%s\n", dp_error_detail());
    return 1;
  }
  int ticks = 0;
  dp_loop_add(loop, tick, &ticks, NULL);
  dp_loop_add_delayed(loop, 0.123, hello, NULL, NULL);
  dp_loop_add_delayed(loop, 0.2, stop, NULL, NULL);
  dp_loop_run(loop); /* returns after stop() */
  printf("%d ticks in 0.2 s, %llu overruns\n", ticks, (unsigned long long)dp_loop_overruns(loop));
  dp_loop_free(loop);
  return 0;
}
