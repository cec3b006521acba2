/* example_time.c - pacing a loop with dp_sleep_until(): 20 iterations at
 * 100 Hz on an absolute schedule (no drift), printing how late each wake-up
 * was. dp_now() is on the clock of LSL timestamps. */
#include <dareplane/time.h>
#include <stdio.h>

int main(void) {
  const double dt = 0.01;
  double t = dp_now(), worst = 0;
  for (int k = 1; k <= 20; k++) {
    t += dt; /* the k-th deadline: t0 + k * dt */
    dp_sleep_until(t);
    double late = dp_now() - t;
    if (late > worst) worst = late;
  }
  printf("20 ticks at 100 Hz, worst lateness %.1f us (spin window %.0f us)\n", worst * 1e6,
         dp_sleep_spin() * 1e6);
  return 0;
}
