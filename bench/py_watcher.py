"""The Python reader for bench/suite_lsl.py, in a process of its own so that
its memory and CPU are its own: dareplane_utils' StreamWatcher (on pylsl's
StreamInlet) reading a stream as a module would. Prints one JSON line.

    py_watcher.py cost NAME SECONDS PERIOD_S BUFFER_S [RT_PRIORITY]
        update() every PERIOD_S: CPU of this thread inside update(), CPU of
        the process (pylsl's receiving threads too), samples, peak RSS
    py_watcher.py latency NAME SECONDS CHUNK BUFFER_S [RT_PRIORITY]
        update() every POLL_S (0.1 ms), new samples read with the module idiom
        unfold_buffer()[-n_new:]; for every chunk-final ramp sample after the
        first WARMUP_S, liblsl's clock when it became visible minus its
        push-time stamp: p50, p99
RT_PRIORITY > 0: the process under SCHED_FIFO at that priority before the
inlet exists (its liblsl threads inherit it), as bench-lsl --rt."""
import json
import os
import resource
import sys
import time

import numpy as np
import pylsl
from dareplane_utils.stream_watcher.lsl_stream_watcher import StreamWatcher

POLL_S = 0.0001  # as bench-lsl --poll-us 100: leaves the CPU to liblsl's threads
WARMUP_S = 0.25  # as bench-lsl --warmup: a new inlet's first chunks are not noted


def connect(name: str, buffer_s: float) -> StreamWatcher:
    sw = StreamWatcher(name, buffer_size_s=buffer_s)
    sw.connect_to_stream()
    sw.update()
    sw.n_new = 0
    return sw


def process_cpu_ns() -> int:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def cost(name: str, seconds: float, period_s: float, buffer_s: float) -> dict:
    sw = connect(name, buffer_s)
    cpu = updates = samples = 0
    start, p0 = time.monotonic(), process_cpu_ns()
    while time.monotonic() < start + seconds:
        c0 = time.thread_time_ns()
        sw.update()
        cpu += time.thread_time_ns() - c0
        samples += sw.n_new
        sw.n_new = 0
        updates += 1
        time.sleep(period_s)
    out = {"updates": updates, "samples": samples, "cpu_ns": cpu,
           "proc_cpu_ns": process_cpu_ns() - p0, "wall_ns": int((time.monotonic() - start) * 1e9),
           "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    sw.disconnect()
    return out


def latency(name: str, seconds: float, chunk: int, buffer_s: float) -> dict:
    sw = connect(name, buffer_s)
    delays = []
    samples = 0
    start = time.monotonic()
    while time.monotonic() < start + seconds:
        sw.update()
        if sw.n_new:
            now = pylsl.local_clock()
            n = min(sw.n_new, sw.ring_buffer.buffer.shape[0])
            vals, times = sw.unfold_buffer()[-n:, 0], sw.unfold_buffer_t()[-n:]
            if time.monotonic() >= start + WARMUP_S:
                delays.extend(now - times[vals.astype(np.int64) % chunk == chunk - 1])
            samples += sw.n_new
            sw.n_new = 0
        time.sleep(POLL_S)
    sw.disconnect()
    d = np.sort(np.array(delays)) if delays else np.array([-1.0])
    return {"n": len(delays), "p50_s": float(d[len(d) // 2]), "p99_s": float(d[len(d) * 99 // 100]),
            "samples": samples}


def main():
    mode, name, seconds, arg, buffer_s = sys.argv[1:6]
    rt = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    if rt > 0:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))
    if mode == "cost":
        out = cost(name, float(seconds), float(arg), float(buffer_s))
    else:
        out = latency(name, float(seconds), int(arg), float(buffer_s))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
