"""Module server: UP round-trip latency (p50, p99) and pipelined UP commands
per second on one connection - dp-example-module (ours) vs the Python twin, a
dareplane_utils DefaultCallbackServer with the same commands
(tests/interop/peers/example_module.py), with a minimal blocking C loopback
server as the limit (bench-server --raw), all measured by bench-server in the
same run.

A loopback round trip between two CPUs is dominated by waking the idle one (on
this VM ~50 us instead of ~13 us), and which case a run gets is up to the
scheduler. So clients and servers all run pinned to one CPU: the numbers then
measure the servers' own path (syscalls, parsing, context switches), not the
hypervisor. The three servers are measured in turns (ours, Python, limit,
ours, ...) and each column reports the median of its runs."""
import json
import os
import statistics
import subprocess
import sys

PEER = "tests/interop/peers/example_module.py"
ROUNDS = 5


def measure(ctx, *args) -> dict:
    out = subprocess.run([str(ctx.bin_dir / "bench-server"), *args], check=True,
                         capture_output=True, text=True, timeout=300).stdout
    return json.loads(out)


def run(ctx):
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})  # inherited by every process started below
    try:
        return measure_all(ctx)
    finally:
        os.sched_setaffinity(0, cpus)


def measure_all(ctx):
    env = dict(os.environ, DP_LOG_HOST="127.0.0.1", DP_LOG_PORT=str(ctx.helpers.free_port()))
    procs = ctx.helpers.Processes()
    try:
        ours_port, py_port = ctx.helpers.free_port(), ctx.helpers.free_port()
        for argv, port in (([ctx.bin_dir / "dp-example-module", f"--port={ours_port}"], ours_port),
                           ([sys.executable, ctx.root / PEER, f"--port={py_port}"], py_port)):
            procs.start(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ctx.helpers.wait_for_port(port)
        runs = {"ours": [], "python": [], "limit": []}
        for _ in range(ROUNDS):
            runs["ours"].append(measure(ctx, "--port", str(ours_port)))
            # fewer pipelined commands for Python (about 300k/s) keep its run short
            runs["python"].append(measure(ctx, "--port", str(py_port), "--count", "200000"))
            runs["limit"].append(measure(ctx, "--raw"))
    finally:
        procs.cleanup()

    def med(who, key):
        return statistics.median(r[key] for r in runs[who])

    def row(case, key, unit, **kw):
        return ctx.Row("server", case, med("ours", key), med("python", key), med("limit", key),
                       unit, **kw)

    rtts = {who: [v for r in runs[who] for v in r["rtt_us"]] for who in runs}
    return [
        row("UP round trip p50", "p50_us", "us", samples=rtts),
        row("UP round trip p99", "p99_us", "us"),
        row("pipelined UP, 1 connection", "pipelined_per_s", "cmd/s", higher_is_better=True),
    ]
