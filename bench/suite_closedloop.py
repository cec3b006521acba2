"""The Dareplane paper's benchtop chain, C vs Python on the same input: a
source (dp-mock-stream, 4 channels at 1 kHz, a known burst every 0.25 s) ->
passthrough (median of channel 3) -> threshold controller (150 above 2, else
10). "ours" is dp-passthrough and dp-threshold-controller; "python" the same
modules written the ecosystem's way on dareplane-utils
(tests/interop/peers/chain_module.py: StreamWatcher polling, n_new, sleep_s
pacing, f_out 2000 Hz). The chains run one after the other, each alone on
the machine, watched by the same probe (dp-latency, polling every 0.1 ms):
for every burst, the time from its first sample's arrival at the probe to
the arrival of the first decoder sample above the threshold (hop 1) and of
the first control sample at 150 (end-to-end, two hops); hop 2 is their
difference. CPU per module is the process's CPU time over the measured
window (psutil) / wall time.

Two input shapes, each with all three chains: one sample per push (the
source's --chunk 1, the hardest case for a stage that reacts to every
input), and 10 samples per push every 10 ms (--chunk 10), the shape of an
amplifier's input: the paper's passthrough read a 22 kHz amplifier stream
(realtime-reference.md, section 5), and amplifier LSL apps push the blocks
of samples the device hands them, not single samples. dp-mock-stream
pushes whole blocks (samples [10k, 10k + 10)) and a burst starts at sample
150 of every 250, so every burst begins a block, in both chains: both
decoders take the median of the new samples, which crosses the threshold in
a burst's first block only when more than half of it is burst, so a burst
starting anywhere else in a block would add a block period to either chain
or not, by its phase alone (docs/closed-loop.md).

The limit column of the latency rows is what the same probe measures for
bare LSL hops: samples stamped at the moment of the push by a pylsl
publisher in another process (the benchmark's lsl_publisher.py), arrival -
stamp, once per hop. The limit of the CPU rows is a third chain on the same
input, watched by the same probe: two bare C relays in the modules' places
(bench/bench_relay.c: a blocking pull of one sample, a pull without waiting
of the rest of the batch, one push of the batch's newest value, nothing
else), whose CPU is what liblsl itself costs a stage with these consumers:
the floor for any module that reads and publishes through liblsl."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psutil

SECONDS = 8.0
THRESHOLD = 2.0
SRATE, BURST_EVERY, BURST_LENGTH = 1000, 0.25, 0.1  # a burst from sample 150 of every 250


def start_module(ctx, procs, argv, port):
    env = dict(os.environ, DP_LOG_PORT=str(ctx.helpers.free_port()))
    p = procs.start([*argv, f"--port={port}"], env=env, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    ctx.helpers.wait_for_port(port, 30)
    return p


def start_relay(ctx, procs, src, dst, channel):
    """bench-relay from src to dst; returns once its outlet exists."""
    p = procs.start([ctx.bin_dir / "bench-relay", "--in", src, "--out", dst, "--channel",
                     channel], stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    if not line.startswith(b"relaying"):
        raise RuntimeError(f"bench-relay did not start: {line!r}")
    return p


def send(port, cmd):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.recv(256)  # greeting
        s.sendall(cmd.encode() + b";")


def run_chain(ctx, kind: str, chunk: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    src, dec, ctl = f"cl-src-{tag}", f"cl-dec-{tag}", f"cl-ctl-{tag}"
    peer = ctx.root / "tests" / "interop" / "peers" / "chain_module.py"
    procs = ctx.helpers.Processes()
    out = Path(tempfile.mkdtemp()) / "probe.json"
    try:
        start = round((BURST_EVERY - BURST_LENGTH) * SRATE)
        if start % chunk or round(BURST_EVERY * SRATE) % chunk:
            raise ValueError(f"a burst must begin a block of {chunk} samples")
        procs.start([ctx.bin_dir / "dp-mock-stream", "--name", src, "--channels", 4,
                     "--srate", SRATE, "--chunk", chunk, "--burst-every", BURST_EVERY,
                     "--burst-length", BURST_LENGTH, "--burst-amplitude", 5],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kind == "relay":
            mods = [start_relay(ctx, procs, src, dec, 3), start_relay(ctx, procs, dec, ctl, 1)]
        else:
            ports = [ctx.helpers.free_port(), ctx.helpers.free_port()]
            if kind == "ours":
                argv = [[ctx.bin_dir / "dp-passthrough", f"--in_stream={src}",
                         f"--out_stream={dec}", "--channel=3"],
                        [ctx.bin_dir / "dp-threshold-controller", f"--in_stream={dec}",
                         f"--out_stream={ctl}", f"--threshold={THRESHOLD}"]]
            else:
                argv = [[ctx.python, peer, "passthrough", f"--in_stream={src}",
                         f"--out_stream={dec}", "--channel=3"],
                        [ctx.python, peer, "controller", f"--in_stream={dec}",
                         f"--out_stream={ctl}", f"--threshold={THRESHOLD}"]]
            mods = [start_module(ctx, procs, a, p) for a, p in zip(argv, ports)]
            for p in ports:
                send(p, "START")
        watcher = subprocess.Popen([str(ctx.bin_dir / "dp-latency"), "--stream", src,
                                  "--stream", f"{dec}@{THRESHOLD}", "--stream", f"{ctl}@80",
                                  "--bursts", f"{src}_bursts", "--seconds", str(SECONDS),
                                  "--json", str(out), "--timeout", "20"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        ps = [psutil.Process(m.pid) for m in mods]
        # the probe has connected once it says so; CPU is measured from there
        line = watcher.stdout.readline()
        if "watching" not in line:
            raise RuntimeError(f"dp-latency did not start: {line!r}")
        c0, t0 = [sum(p.cpu_times()[:2]) for p in ps], time.monotonic()
        watcher.communicate(timeout=SECONDS + 60)
        wall = time.monotonic() - t0
        cpu = [(sum(p.cpu_times()[:2]) - c) / wall * 100 for p, c in zip(ps, c0)]
        if watcher.returncode != 0:
            raise RuntimeError("dp-latency failed")
    finally:
        procs.cleanup()
    if kind == "relay":  # its control stream never reaches 150: CPU only
        return {"cpu": cpu}
    d = json.loads(out.read_text())
    hop1 = np.array(d["streams"][1]["onset_ms"], dtype=float)
    e2e = np.array(d["streams"][2]["onset_ms"], dtype=float)
    seen = np.array(d["burst_seen_ms"], dtype=float)
    n = min(len(hop1), len(e2e), len(seen))
    hop1, e2e, seen = hop1[:n], e2e[:n], seen[:n]
    ok = (hop1 >= 0) & (e2e >= 0) & (seen >= 0)
    # from the burst's first sample reaching the probe: the source's own
    # pacing (dp-mock-stream's timer) is not the chain's
    return {"hop1": (hop1 - seen)[ok], "e2e": (e2e - seen)[ok], "hop2": (e2e - hop1)[ok],
            "cpu": cpu, "missed": int(n - ok.sum())}


def probe(ctx, streams, seconds, extra=()):
    """Runs dp-latency on `streams`; its JSON."""
    out = Path(tempfile.mkdtemp()) / "probe.json"
    args = [str(ctx.bin_dir / "dp-latency"), "--seconds", str(seconds), "--json", str(out),
            "--timeout", "20", *map(str, extra)]
    for s in streams:
        args += ["--stream", s]
    subprocess.run(args, check=True, capture_output=True, timeout=seconds + 60)
    return json.loads(out.read_text())


def lsl_hop(ctx) -> np.ndarray:
    """push -> arrival at the probe for samples stamped at their push (ms)."""
    name = f"cl-hop-{uuid.uuid4().hex[:8]}"
    procs = ctx.helpers.Processes()
    try:
        procs.start([ctx.python, ctx.root / "bench" / "lsl_publisher.py", name, 1, 1000, 1],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return np.array(probe(ctx, [name], 4.0)["streams"][0]["age_ms"])
    finally:
        procs.cleanup()


def latency_rows(ctx, ours, py, hop, shape, keys):
    """p50/p99 rows of the latencies `keys` of two chains on one input shape."""
    what = {"e2e": ("burst sample -> control 150 (2 hops)", 2),
            "hop1": ("burst sample -> decoder above threshold (hop 1)", 1),
            "hop2": ("decoder -> control (hop 2)", 1)}
    if len(ours["e2e"]) < 10 or len(py["e2e"]) < 10:
        raise RuntimeError(f"too few bursts seen ({shape}): {len(ours['e2e'])} / "
                           f"{len(py['e2e'])}")
    rows = []
    for key in keys:
        name, hops = what[key]
        for q in (50, 99):
            rows.append(ctx.Row("closedloop", f"{name}{shape} p{q}",
                                float(np.percentile(ours[key], q)),
                                float(np.percentile(py[key], q)),
                                hops * float(np.percentile(hop, q)), "ms",
                                samples={"ours": ours[key].tolist(), "python": py[key].tolist()}
                                if key == "e2e" and q == 50 else {}))
    return rows


def cpu_rows(ctx, ours, py, relay, shape):
    return [ctx.Row("closedloop", f"CPU {name} (1 kHz input, {shape})", ours["cpu"][i],
                    py["cpu"][i], relay["cpu"][i], "% of a core")
            for i, name in enumerate(("passthrough", "threshold controller"))]


def run(ctx):
    # one sample per push (dp-mock-stream --chunk 1), then amplifier-like
    # chunks of 10 samples per push (every 10 ms)
    chains = {chunk: {kind: run_chain(ctx, kind, chunk) for kind in ("ours", "python", "relay")}
              for chunk in (1, 10)}
    hop = lsl_hop(ctx)
    one, ten = chains[1], chains[10]
    return [*latency_rows(ctx, one["ours"], one["python"], hop, "", ("e2e", "hop1", "hop2")),
            *cpu_rows(ctx, one["ours"], one["python"], one["relay"], "1 sample/push"),
            *latency_rows(ctx, ten["ours"], ten["python"], hop, ", 10 samples/push", ("e2e",)),
            *cpu_rows(ctx, ten["ours"], ten["python"], ten["relay"], "10 samples/push")]


if __name__ == "__main__":  # a quick look without bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as runner  # noqa: E402

    ctx = runner.Context(bin_dir=runner.helpers.BIN_DIR, lib_dir=runner.helpers.LIB_DIR,
                         root=runner.ROOT, python=sys.executable, helpers=runner.helpers)
    for r in run(ctx):
        limit = f"{r.limit:9.3f}" if r.limit is not None else "        -"
        print(f"{r.case:55s} ours {r.ours:9.3f}  python {r.python:9.3f}  limit {limit}  {r.unit}")
