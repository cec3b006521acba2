"""Sleep: lateness p50/p99/max (us) and CPU (fraction of the sleep) of
dp_sleep_s vs dareplane_utils' sleep_s, for 0.2 ms to 1.5 s. The limit for
lateness is a pure spin to the same deadline (measured in the same run);
for CPU it is 0."""
import json
import subprocess
import time

from dareplane_utils.general.time import sleep_s

# (length s, samples): the shortest sleep gets enough samples (0.4 s)
# for a p99 that is not set by the three or four worst moments of the run
CASES = [(0.0002, 2000), (0.001, 200), (0.005, 60), (0.02, 25), (0.1, 8), (1.5, 3)]


def pct(v, p):
    v = sorted(v)
    return v[int(p * (len(v) - 1) + 0.5)]


def python(s, n):
    for _ in range(200):  # warm-up (100 ms), discarded (as on the C side)
        sleep_s(0.0005)
    late, cpu = [], 0.0
    for _ in range(n):
        c0, t0 = time.thread_time(), time.perf_counter()
        sleep_s(s)
        t1 = time.perf_counter()
        cpu += time.thread_time() - c0
        late.append((t1 - (t0 + s)) * 1e6)
    return {"p50": pct(late, 0.5), "p99": pct(late, 0.99), "max": max(late), "cpu": cpu / (n * s)}


def run(ctx):
    rows = []
    for s, n in CASES:
        out = subprocess.run([str(ctx.bin_dir / "bench-time"), repr(s), str(n)], check=True,
                             capture_output=True, text=True).stdout
        c = json.loads(out)
        py = python(s, n)
        name = f"sleep {s * 1000:g} ms"
        spin = s < 0.5
        for key in ("p50", "p99", "max"):
            rows.append(ctx.Row("time", f"{name} late {key}", c[key], py[key],
                                c["spin_" + key] if spin else None, "us"))
        rows.append(ctx.Row("time", f"{name} CPU", c["cpu"], py["cpu"], None, "frac"))
    return rows
