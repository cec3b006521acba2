"""Ring buffer: add n samples x 64 float32 channels, then read, ours
(bench_ringbuffer) vs dareplane_utils' RingBuffer, with a plain memcpy of the
same bytes as the limit:
- unfold the whole buffer (2000 samples);
- read what is new: ours read_new (copy) and peek_new (zero-copy views) vs
  the Python idiom unfold_buffer()[-n_new:] (+ the timestamps)."""
import json
import subprocess
import timeit

import numpy as np
from dareplane_utils.general.ringbuffer import RingBuffer

CHANNELS, CAPACITY = 64, 2000


def python_ns(n: int, new_only: bool = False) -> float:
    rb = RingBuffer(shape=(CAPACITY, CHANNELS), dtype=np.float32)
    samples = np.arange(n * CHANNELS, dtype=np.float32).reshape(n, CHANNELS)
    state = {"t": 0.0}

    def step():
        times = state["t"] + np.arange(n, dtype=np.float64)
        state["t"] += n
        rb.add_samples(samples, times)
        if new_only:  # the module idiom: n_new is n here
            rb.unfold_buffer()[-n:]
            rb.unfold_buffer_t()[-n:]
        else:
            rb.unfold_buffer()
            rb.unfold_buffer_t()

    timer = timeit.Timer(step)
    iters, _ = timer.autorange()
    return min(timer.repeat(repeat=7, number=iters)) / iters * 1e9  # best, as the C side


def run(ctx):
    out = subprocess.run([str(ctx.bin_dir / "bench-ringbuffer")], check=True,
                         capture_output=True, text=True).stdout
    rows, new_rows = [], []
    for line in out.splitlines():
        r = json.loads(line)
        rows.append(ctx.Row("ringbuffer", f"add {r['n']:>4} x 64ch + unfold", r["ours_ns"] / 1000,
                            python_ns(r["n"]) / 1000, r["limit_ns"] / 1000, "us/step"))
        py_new = python_ns(r["n"], new_only=True) / 1000
        new_rows.append(ctx.Row("ringbuffer", f"add {r['n']:>4} x 64ch + read_new (copy)",
                                r["read_new_ns"] / 1000, py_new, r["limit_new_ns"] / 1000,
                                "us/step"))
        new_rows.append(ctx.Row("ringbuffer", f"add {r['n']:>4} x 64ch + peek_new (views)",
                                r["peek_new_ns"] / 1000, py_new, r["limit_new_ns"] / 1000,
                                "us/step"))
    return rows + new_rows
