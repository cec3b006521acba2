/* bench_relay.c - the floor of a closed-loop stage's CPU through liblsl: a
 * bare relay that does nothing but liblsl's own work, for
 * bench/suite_closedloop.py to run on the same input as the reference
 * modules:
 *
 *   bench-relay --in NAME --out NAME [--channel K]
 *
 * It opens an inlet on the float32 stream NAME as a StreamWatcher does
 * (recover flag, the same queue length), publishes a 1-channel float32
 * outlet (what dp-passthrough and dp-threshold-controller publish), and then,
 * until it is killed, reads and publishes as the modules do: a blocking pull
 * of one sample, one pull without waiting of whatever else is there (the
 * rest of a chunk), and one push of channel K (1-based) of the newest sample
 * with that sample's timestamp, sent at once. So it publishes one sample per
 * batch, like the modules, whether the input comes one sample per push or in
 * chunks. No server, no logging, no ring buffer, no clock reads, no
 * arithmetic: any CPU it uses is liblsl's (its receiving thread, the pull's
 * wait, the sending threads of the outlet). It reaches liblsl the way the
 * library does (dp_lsl_api(): liblsl loaded at run time). Prints "relaying"
 * once the outlet exists. */
#include <dareplane/dareplane.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsl/info.h"

#define MAX_CHANNELS 1024
#define MAX_BATCH    1024 /* samples taken by one pull without waiting */

int main(int argc, char **argv) {
  const char *in_name = NULL, *out_name = NULL;
  long channel = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--in") == 0)
      in_name = argv[i + 1];
    else if (strcmp(argv[i], "--out") == 0)
      out_name = argv[i + 1];
    else if (strcmp(argv[i], "--channel") == 0)
      channel = strtol(argv[i + 1], NULL, 10);
  }
  if (in_name == NULL || out_name == NULL || channel < 1 || channel > MAX_CHANNELS) {
    fprintf(stderr, "usage: bench-relay --in NAME --out NAME [--channel K (1..%d)]\n",
            MAX_CHANNELS);
    return 2;
  }
  const dp_lsl_api_t *lsl = dp_lsl_api();
  char pred[512];
  lsl_streaminfo found = NULL;
  if (lsl == NULL || dp_lsl_pred_term(pred, sizeof pred, 0, "name", in_name) == 0 ||
      dp_lsl_resolve_poll(lsl, pred, 1, 20.0, &found, 1) != 1) {
    fprintf(stderr, "bench-relay: cannot find '%s': %s\n", in_name, dp_error_detail());
    return 1;
  }
  int32_t n_ch = lsl->get_channel_count(found);
  double srate = lsl->get_nominal_srate(found);
  if (lsl->get_channel_format(found) != DP_FLOAT32 || n_ch < channel || n_ch > MAX_CHANNELS) {
    fprintf(stderr, "bench-relay: '%s' is not float32 with %ld..%d channels\n", in_name, channel,
            MAX_CHANNELS);
    lsl->destroy_streaminfo(found);
    return 1;
  }
  /* the queue the modules' StreamWatcher asks for: their buffer_s (0.5 s),
   * rounded up to whole seconds */
  lsl_inlet in = lsl->create_inlet(found, srate > 0 ? 1 : 100, 0, 1);
  lsl->destroy_streaminfo(found);
  int32_t ec = 0;
  lsl->open_stream(in, 10.0, &ec);
  lsl_streaminfo info = lsl->create_streaminfo(out_name, "relay", 1, 2000.0, DP_FLOAT32, out_name);
  lsl_outlet out = lsl->create_outlet(info, 0, 360);
  lsl->destroy_streaminfo(info);
  if (ec != 0 || out == NULL) {
    fprintf(stderr, "bench-relay: cannot open '%s' or publish '%s' (liblsl error %d)\n", in_name,
            out_name, (int)ec);
    return 1;
  }
  printf("relaying\n");
  fflush(stdout);
  float *batch = malloc((size_t)n_ch * MAX_BATCH * sizeof *batch);
  double times[MAX_BATCH];
  if (batch == NULL) return 1;
  unsigned long elems = (unsigned long)n_ch * MAX_BATCH;
  int32_t bytes = (int32_t)((size_t)n_ch * sizeof(float));
  for (;;) {
    times[0] = lsl->pull_sample_v(in, batch, bytes, DP_LSL_FOREVER, &ec);
    if (ec != 0) break;
    if (times[0] == 0.0) continue;
    /* the rest of the batch after the first sample, without waiting */
    unsigned long got = lsl->pull_chunk_f(in, batch + n_ch, times + 1, elems - (unsigned long)n_ch,
                                          MAX_BATCH - 1, 0.0, &ec);
    if (ec != 0) break;
    size_t newest = (size_t)(got / (unsigned long)n_ch);
    lsl->push_chunk_ftnp(out, &batch[newest * (size_t)n_ch + (size_t)channel - 1], 1,
                         &times[newest], 1);
  }
  fprintf(stderr, "bench-relay: pull failed (liblsl error %d)\n", (int)ec);
  free(batch);
  return 1;
}
