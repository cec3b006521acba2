"""Publisher for the push-to-visible benchmark (bench/suite_lsl.py): a pylsl
outlet in its own process that pushes a ramp in chunks and lets liblsl stamp
each chunk at the moment of the push (the last sample gets "now", the others
are spaced 1/srate before it), so that a reader can tell how long after its
push a chunk became visible. Each chunk is built before its deadline, so
that nothing but the push lies between the wake-up and the stamp.
Usage: lsl_publisher.py NAME CHANNELS SRATE CHUNK [RT_PRIORITY]
RT_PRIORITY > 0: the process under SCHED_FIFO at that priority before the
outlet exists (its liblsl threads inherit it)."""
import os
import sys
import time

import numpy as np
import pylsl


def main():
    name, channels, srate, chunk = sys.argv[1], *map(int, sys.argv[2:5])
    rt = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    if rt > 0:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", channels, srate,
                                                 pylsl.cf_float32, name))
    i, start = 0, time.monotonic()
    while True:
        ramp = (np.arange(i, i + chunk) % (1 << 24)).astype(np.float32)
        data = np.repeat(ramp[:, None], channels, axis=1)
        i += chunk
        time.sleep(max(0.0, start + i / srate - time.monotonic()))
        outlet.push_chunk(data)  # stamped now


if __name__ == "__main__":
    main()
