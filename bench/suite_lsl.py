"""LSL StreamWatcher: a 64-channel float32 stream at 10 kHz published by
dp-mock-stream in another process. CPU time of the reading thread per update
(a module's 100 Hz loop) and per sample: ours (bench-lsl) vs dareplane_utils'
StreamWatcher, with liblsl's bare lsl_pull_chunk_f into a preallocated buffer
as the limit; and the delay from push to visible in the buffer (median, with
update() polled in a tight loop, from a publisher that stamps each chunk as
it pushes it: bench/lsl_publisher.py)."""
import json
import subprocess
import time
import uuid

import numpy as np
import pylsl
from dareplane_utils.stream_watcher.lsl_stream_watcher import StreamWatcher

import dp_lib

CHANNELS, SRATE, CHUNK = 64, 10000, 100
SECONDS, PERIOD_S = 4.0, 0.01


def python_cost(name: str) -> dict:
    sw = StreamWatcher(name, buffer_size_s=2)
    sw.connect_to_stream()
    cpu = updates = samples = 0
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        c0 = time.thread_time_ns()
        sw.update()
        cpu += time.thread_time_ns() - c0
        samples += sw.n_new
        sw.n_new = 0
        updates += 1
        time.sleep(PERIOD_S)
    sw.disconnect()
    return {"updates": updates, "samples": samples, "cpu_ns": cpu}


def python_latency(name: str, seconds: float = 2.0) -> float:
    sw = StreamWatcher(name, buffer_size_s=2)
    sw.connect_to_stream()
    delays = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sw.update()
        if sw.n_new:
            now = pylsl.local_clock()
            n = min(sw.n_new, sw.ring_buffer.buffer.shape[0])
            vals, times = sw.unfold_buffer()[-n:, 0], sw.unfold_buffer_t()[-n:]
            delays.extend(now - times[vals.astype(np.int64) % CHUNK == CHUNK - 1])
            sw.n_new = 0
    sw.disconnect()
    return float(np.median(delays))


def bench(ctx, name: str, mode: str, seconds: float) -> dict:
    out = subprocess.run([str(ctx.bin_dir / "bench-lsl"), "--name", name, "--mode", mode,
                          "--seconds", str(seconds), "--period-ms", str(int(PERIOD_S * 1000)),
                          "--chunk", str(CHUNK)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(ctx):
    name = f"dp-bench-{uuid.uuid4().hex[:10]}"
    lib = dp_lib.load_lsl(dp_lib.load())
    procs = ctx.helpers.Processes()
    try:
        procs.start([ctx.bin_dir / "dp-mock-stream", "--name", name, "--channels", CHANNELS,
                     "--srate", SRATE, "--chunk", CHUNK, "--signal", "ramp"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx.helpers.wait_until(lambda: dp_lib.find_streams(lib, f"name='{name}'", 1, 2.0), 30,
                               what="the benchmark stream")
        ours = bench(ctx, name, "ours", SECONDS)
        raw = bench(ctx, name, "raw", SECONDS)
        py = python_cost(name)
        procs.cleanup()
        # push -> visible: a publisher that stamps each chunk when it pushes it
        name = f"dp-bench-{uuid.uuid4().hex[:10]}"
        procs.start([ctx.python, ctx.root / "bench" / "lsl_publisher.py", name, CHANNELS, SRATE,
                     CHUNK], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx.helpers.wait_until(lambda: dp_lib.find_streams(lib, f"name='{name}'", 1, 2.0), 30,
                               what="the latency stream")
        lat_ours = bench(ctx, name, "latency", 2.0)["median_s"]
        lat_py = python_latency(name)
    finally:
        procs.cleanup()
    per_update = {k: v["cpu_ns"] / v["updates"] / 1000 for k, v in
                  (("ours", ours), ("raw", raw), ("py", py))}
    per_sample = {k: v["cpu_ns"] / max(v["samples"], 1) for k, v in
                  (("ours", ours), ("raw", raw), ("py", py))}
    case = f"{CHANNELS}ch f32 @ {SRATE // 1000} kHz"
    return [
        ctx.Row("lsl", f"update, {case}, 100 Hz loop", per_update["ours"], per_update["py"],
                per_update["raw"], "us CPU/update"),
        ctx.Row("lsl", f"per sample, {case}", per_sample["ours"], per_sample["py"],
                per_sample["raw"], "ns CPU/sample"),
        ctx.Row("lsl", "push -> visible in buffer (median)", lat_ours * 1000, lat_py * 1000, None,
                "ms"),
    ]
