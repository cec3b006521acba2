"""LSL StreamWatcher, ours (bench-lsl) against dareplane_utils' StreamWatcher on
pylsl's StreamInlet (bench/py_watcher.py, a process of its own), with liblsl's
bare lsl_pull_chunk_f into a preallocated buffer as the limit:

- 64 ch float32 at 10 kHz (dp-mock-stream in another process), a module's
  100 Hz loop: CPU of the reading thread per update and per sample;
- 1024 ch float32 at 30 kHz in 1 ms chunks, 2 s buffer (a research
  amplifier; BRAND reports < 600 us per hop at this load): CPU of the whole
  reading process per second of data, its peak RSS (limit: the ring buffer
  itself), and whether Python keeps up;
- push -> visible in the buffer, p50 and p99, from a publisher that stamps
  each chunk as it pushes it (bench/lsl_publisher.py), at both loads: ours
  waits with update_wait() (sleeps until a sample arrives) and reads new
  samples with peek_new; Python polls update() every 0.1 ms (it has no wait)
  and reads with unfold_buffer()[-n_new:]; the limit is a bare liblsl inlet
  doing a blocking lsl_pull_chunk_f of one chunk into a preallocated buffer
  (no ring, no watcher), stamped the same way, on the same publisher,
  alternating with ours in 2 s stretches: what liblsl and the machine
  take by themselves. Each stretch (and Python's run) notes nothing in its
  first 0.25 s (a new inlet's first chunks); p50 and p99 are over the
  chunks of all stretches pooled (p99 of 7000 chunks at 1024 ch, not the
  median of per-stretch p99s of a few hundred).
- the same latency at 1024 ch with the publisher and every reader under
  real-time scheduling (SCHED_FIFO 50, set before their inlet or outlet
  exists, so liblsl's threads inherit it): what a lab that needs < 600 us
  per hop runs. Left out, with a note saying why, where the machine does not
  permit it.
A Python figure is left out ("-") when Python did not keep up (< 90 % of
the samples)."""
import json
import subprocess
import sys
import uuid

import dp_lib

SMALL = (64, 10000, 100)  # channels, srate, chunk
LARGE = (1024, 30000, 30)  # 1 ms chunks
SECONDS, PERIOD_S, BUFFER_S = 4.0, 0.01, 2.0
STRETCHES, STRETCH_S = 4, 2.0  # latency: ours and the limit alternate
WARMUP_S = 0.25  # of every latency run: a new inlet's first chunks
RT_PRIORITY = 50  # SCHED_FIFO priority of the real-time latency rows


def ours(ctx, name: str, mode: str, seconds: float, chunk: int, rt: int = 0) -> dict:
    out = subprocess.run([str(ctx.bin_dir / "bench-lsl"), "--name", name, "--mode", mode,
                          "--seconds", str(seconds), "--period-ms", str(int(PERIOD_S * 1000)),
                          "--chunk", str(chunk), "--buffer", str(BUFFER_S),
                          "--warmup", str(WARMUP_S), "--rt", str(rt)],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def python(ctx, name: str, mode: str, seconds: float, arg, rt: int = 0) -> dict:
    out = subprocess.run([ctx.python, str(ctx.root / "bench" / "py_watcher.py"), mode, name,
                          str(seconds), str(arg), str(BUFFER_S), str(rt)],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


def rt_refused(ctx) -> str | None:
    """None when this machine lets the benchmark run a process under
    SCHED_FIFO, otherwise why not."""
    r = subprocess.run([ctx.python, "-c", "import os; os.sched_setscheduler(0, os.SCHED_FIFO, "
                        f"os.sched_param({RT_PRIORITY}))"], capture_output=True, text=True)
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["refused"])[-1]


def percentiles(delays_us: list) -> dict:
    d = sorted(delays_us)
    return {"p50_s": d[len(d) // 2] / 1e6, "p99_s": d[len(d) * 99 // 100] / 1e6}


def publish(ctx, procs, lib, name: str, argv: list, what: str) -> None:
    procs.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.helpers.wait_until(lambda: dp_lib.find_streams(lib, f"name='{name}'", 1, 2.0), 30,
                           what=what)


def kept_up(r: dict, srate: int, seconds: float) -> bool:
    return r["samples"] >= 0.9 * srate * seconds


def latency_rows(ctx, procs, lib, load, rt: int = 0) -> tuple:
    ch, srate, chunk = load
    name = f"dp-bench-{uuid.uuid4().hex[:10]}"
    publish(ctx, procs, lib, name, [ctx.python, ctx.root / "bench" / "lsl_publisher.py", name, ch,
                              srate, chunk, rt], "the latency stream")
    # ours and the limit alternate in short stretches, so that a passing
    # disturbance of the machine touches both alike; the percentiles are
    # over the chunks of all stretches
    runs = {"latency": [], "latency-raw": []}
    for _ in range(STRETCHES):
        for mode, got in runs.items():
            got.extend(ours(ctx, name, mode, STRETCH_S, chunk, rt)["delays_us"])
    lat_ours, lat_raw = (percentiles(got) for got in runs.values())
    lat_py = python(ctx, name, "latency", 3.0, chunk, rt)
    procs.cleanup()
    py_ok = kept_up(lat_py, srate, 3.0) and lat_py["n"] > 0
    case = f"{ch}ch f32 @ {srate // 1000} kHz" + (f", SCHED_FIFO {rt}" if rt else "")
    return (
        ctx.Row("lsl", f"push -> visible p50, {case}", lat_ours["p50_s"] * 1000,
                lat_py["p50_s"] * 1000 if py_ok else None, lat_raw["p50_s"] * 1000, "ms"),
        ctx.Row("lsl", f"push -> visible p99, {case}", lat_ours["p99_s"] * 1000,
                lat_py["p99_s"] * 1000 if py_ok else None, lat_raw["p99_s"] * 1000, "ms"),
    )


def run(ctx):
    lib = dp_lib.load_lsl(dp_lib.load())
    procs = ctx.helpers.Processes()
    rows = []
    try:
        ch, srate, chunk = SMALL
        name = f"dp-bench-{uuid.uuid4().hex[:10]}"
        publish(ctx, procs, lib, name, [ctx.bin_dir / "dp-mock-stream", "--name", name, "--channels",
                                  ch, "--srate", srate, "--chunk", chunk, "--signal", "ramp"],
                "the benchmark stream")
        r = {"ours": ours(ctx, name, "ours", SECONDS, chunk),
             "raw": ours(ctx, name, "raw", SECONDS, chunk),
             "py": python(ctx, name, "cost", SECONDS, PERIOD_S)}
        procs.cleanup()
        per_update = {k: v["cpu_ns"] / v["updates"] / 1000 for k, v in r.items()}
        per_sample = {k: v["cpu_ns"] / max(v["samples"], 1) for k, v in r.items()}
        case = f"{ch}ch f32 @ {srate // 1000} kHz"
        rows += [
            ctx.Row("lsl", f"update, {case}, 100 Hz loop", per_update["ours"], per_update["py"],
                    per_update["raw"], "us CPU/update"),
            ctx.Row("lsl", f"per sample, {case}", per_sample["ours"], per_sample["py"],
                    per_sample["raw"], "ns CPU/sample"),
        ]
        rows += latency_rows(ctx, procs, lib, SMALL)

        ch, srate, chunk = LARGE
        name = f"dp-bench-{uuid.uuid4().hex[:10]}"
        publish(ctx, procs, lib, name, [ctx.python, ctx.root / "bench" / "lsl_publisher.py", name, ch,
                                  srate, chunk], "the 1024-channel stream")
        r = {"ours": ours(ctx, name, "ours", SECONDS, chunk),
             "raw": ours(ctx, name, "raw", SECONDS, chunk),
             "py": python(ctx, name, "cost", SECONDS, PERIOD_S)}
        procs.cleanup()
        py_ok = kept_up(r["py"], srate, SECONDS)
        # CPU of the reading process per second of data received
        cpu = {k: v["proc_cpu_ns"] / 1e6 / (v["samples"] / srate) for k, v in r.items()}
        case = f"{ch}ch f32 @ {srate // 1000} kHz, 2 s buffer"
        rows += [
            ctx.Row("lsl", f"CPU per s of data, {case}", cpu["ours"],
                    cpu["py"] if py_ok else None, cpu["raw"], "ms CPU/s"),
            ctx.Row("lsl", f"peak RSS, {case} (limit: the ring)", r["ours"]["rss_kb"] / 1024,
                    r["py"]["rss_kb"] / 1024 if py_ok else None,
                    r["ours"]["ring_bytes"] / 2**20, "MiB"),
        ]
        rows += latency_rows(ctx, procs, lib, LARGE)
        refused = rt_refused(ctx)
        if refused is None:
            rows += latency_rows(ctx, procs, lib, LARGE, RT_PRIORITY)
        else:
            print(f"lsl: real-time latency rows left out, SCHED_FIFO not permitted: {refused}",
                  file=sys.stderr)
    finally:
        procs.cleanup()
    return rows
