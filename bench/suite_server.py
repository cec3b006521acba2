"""Module server: UP round-trip latency (p50, p99) and pipelined UP commands
per second on one connection - dp-example-module (ours) vs the Python twin, a
dareplane_utils DefaultCallbackServer with the same commands
(tests/interop/peers/example_module.py), with a minimal blocking C loopback
server as the limit (bench-server --raw), all measured by bench-server in the
same run."""
import json
import os
import subprocess
import sys

PEER = "tests/interop/peers/example_module.py"


REPEATS = 3  # this machine is shared: report the best of a few runs of each


def measure(ctx, *args) -> dict:
    runs = [json.loads(subprocess.run([str(ctx.bin_dir / "bench-server"), *args], check=True,
                                      capture_output=True, text=True, timeout=300).stdout)
            for _ in range(REPEATS)]
    return {"p50_us": min(r["p50_us"] for r in runs), "p99_us": min(r["p99_us"] for r in runs),
            "pipelined_per_s": max(r["pipelined_per_s"] for r in runs)}


def against(ctx, argv, port, *bench_args) -> dict:
    env = dict(os.environ, DP_LOG_HOST="127.0.0.1",
               DP_LOG_PORT=str(ctx.helpers.free_port()))
    procs = ctx.helpers.Processes()
    try:
        procs.start(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx.helpers.wait_for_port(port)
        return measure(ctx, "--port", str(port), *bench_args)
    finally:
        procs.cleanup()


def run(ctx):
    port = ctx.helpers.free_port()
    ours = against(ctx, [ctx.bin_dir / "dp-example-module", f"--port={port}"], port)
    port = ctx.helpers.free_port()
    # fewer pipelined commands for Python (about 300k/s) keep its run short
    python = against(ctx, [sys.executable, ctx.root / PEER, f"--port={port}"], port,
                     "--count", "200000")
    limit = measure(ctx, "--raw")
    return [
        ctx.Row("server", "UP round trip p50", ours["p50_us"], python["p50_us"], limit["p50_us"],
                "us"),
        ctx.Row("server", "UP round trip p99", ours["p99_us"], python["p99_us"], limit["p99_us"],
                "us"),
        ctx.Row("server", "pipelined UP, 1 connection", ours["pipelined_per_s"],
                python["pipelined_per_s"], limit["pipelined_per_s"], "cmd/s",
                higher_is_better=True),
    ]
