"""Event loop: mean period error and period jitter p99 (us) of a dp_loop_t vs
dareplane_utils' EventLoop at dt = 1 ms and 10 ms, with a callback that
works 0, 40 or 80 % of dt. The limit is 0 (a perfect period). Our periods
are per schedule step (a tick skipped after an overrun is counted by the loop,
see bench_loop.c), so the period error shows drift; EventLoop never skips."""
import json
import subprocess
import threading
import time

import numpy as np
from dareplane_utils.general.event_loop import EventLoop

CASES = [(0.001, 0.0, 400), (0.001, 0.4, 400), (0.001, 0.8, 400),
         (0.01, 0.0, 80), (0.01, 0.4, 80), (0.01, 0.8, 80)]


def python(dt, load, n):
    stop = threading.Event()
    at = []

    def cb(ctx):
        t = time.perf_counter()
        at.append(t)
        while time.perf_counter() < t + load * dt:
            pass
        if len(at) == n:
            stop.set()

    loop = EventLoop(dt, stop_event=stop)
    loop.add_callback(cb)
    loop.run()
    periods = np.diff(at[10:])  # after 10 warm-up ticks, as on the C side
    mean = periods.mean()
    return {"period_error_us": (mean - dt) * 1e6,
            "jitter_p99_us": float(np.percentile(np.abs(periods - mean), 99)) * 1e6}


def run(ctx):
    rows = []
    for dt, load, n in CASES:
        out = subprocess.run([str(ctx.bin_dir / "bench-loop"), repr(dt), repr(load), str(n)],
                             check=True, capture_output=True, text=True).stdout
        c = json.loads(out)
        py = python(dt, load, n)
        name = f"dt {dt * 1000:g} ms load {load:.0%}"
        rows.append(ctx.Row("loop", f"{name} period error", abs(c["period_error_us"]),
                            abs(py["period_error_us"]), 0.0, "us"))
        rows.append(ctx.Row("loop", f"{name} jitter p99", c["jitter_p99_us"],
                            py["jitter_p99_us"], 0.0, "us"))
    return rows
