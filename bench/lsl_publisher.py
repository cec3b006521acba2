"""Publisher for the push-to-visible benchmark (bench/suite_lsl.py): a pylsl
outlet in its own process that pushes a ramp in chunks and lets liblsl stamp
each chunk at the moment of the push (the last sample gets "now", the others
are spaced 1/srate before it), so that a reader can tell how long after its
push a chunk became visible. Usage: lsl_publisher.py NAME CHANNELS SRATE CHUNK"""
import sys
import time

import numpy as np
import pylsl


def main():
    name, channels, srate, chunk = sys.argv[1], *map(int, sys.argv[2:5])
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "EEG", channels, srate,
                                                 pylsl.cf_float32, name))
    period, i, start = chunk / srate, 0, time.monotonic()
    while True:
        ramp = (np.arange(i, i + chunk) % (1 << 24)).astype(np.float32)
        outlet.push_chunk(np.repeat(ramp[:, None], channels, axis=1))  # stamped now
        i += chunk
        time.sleep(max(0.0, start + i / srate - time.monotonic()))


if __name__ == "__main__":
    main()
