"""Logging: the cost of one log call with the network handler on (server up,
server down), ours (bench-logging call) vs dareplane_utils' get_logger in the
same run, with formatting + copying the message as the limit; and a log
server's ingest rate from 8 and from 16 clients under one load generator
(bench-logging load), dp-logserver vs the Python log server
(LogRecordSocketReceiver), with raw loopback TCP into a byte-counting sink
as the limit. All three are measured alike: the same generator process sends
the same frames to a server process (none pinned), from the moment its frames
are built until the last record is in the log file (the last byte in the
sink); the limit runs right after ours, with as many records (Python's
server gets a fifth of them). dp-logserver runs with its console on (stderr to /dev/null), as a
control room starts it."""
from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Records per client: ours and the limit take long enough at this count for
# the scheduler's noise on a shared machine to even out (a run of 10000 was
# ~15 ms at the limit); Python's server is slow enough at the smaller one.
INGEST_CLIENTS, PER_CLIENT, PER_CLIENT_PY = (8, 16), 50000, 10000

PY_CALL = r"""
import logging, statistics, sys, time
from dareplane_utils.logging import logger as dp_logger
dp_logger.default_dareplane_config["handlers"]["socket"]["port"] = int(sys.argv[1])
log = dp_logger.get_logger("bench.call")
log.setLevel(logging.INFO)
for i in range(1000):
    log.info("warm-up %d", i)
per = []
for b in range(60):
    t0 = time.perf_counter_ns()
    for i in range(200):
        log.info("record %d of batch %d", i, b)
    per.append((time.perf_counter_ns() - t0) / 200)
print(statistics.median(per))
"""


def python_call_ns(ctx, port: int) -> float:
    out = subprocess.run([ctx.python, "-c", PY_CALL, str(port)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


def load(ctx, port: int, clients: int, n: int) -> float:
    """Runs the load generator (n records per client) against `port`; returns
    when it started sending (time.monotonic(): the same clock)."""
    out = subprocess.run([str(ctx.bin_dir / "bench-logging"), "load", str(port), str(clients),
                          str(n)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["start_ns"] / 1e9


def count_lines_until(path: Path, total: int, timeout: float) -> float:
    """Polls the log file until it has `total` lines; returns when that was."""
    seen, offset = 0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
            offset += len(data)
            seen += data.count(b"\n")
            if seen >= total:
                return time.monotonic()
        time.sleep(0.001)
    raise RuntimeError(f"{path.name}: only {seen} of {total} lines after {timeout}s")


def ingest_rate(ctx, procs, argv, port: int, logfile: Path, clients: int, n: int) -> float:
    procs.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.helpers.wait_for_port(port)
    total = clients * n
    t0 = load(ctx, port, clients, n)
    t1 = count_lines_until(logfile, total, timeout=300)
    return total / (t1 - t0)


def limit_rate(ctx, clients: int) -> float:
    """Records/s of the same load into the byte-counting sink process."""
    sink = subprocess.Popen([str(ctx.bin_dir / "bench-logging"), "sink", str(clients),
                             str(PER_CLIENT)], stdout=subprocess.PIPE, text=True)
    try:
        port = json.loads(sink.stdout.readline())["port"]
        t0 = load(ctx, port, clients, PER_CLIENT)
        if not select.select([sink.stdout], [], [], 120)[0]:
            raise RuntimeError("bench-logging sink: not all bytes arrived within 120 s")
        done = json.loads(sink.stdout.readline())["done_ns"] / 1e9
        if sink.wait(timeout=60) != 0:
            raise RuntimeError("bench-logging sink failed")
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
        sink.stdout.close()
    return clients * PER_CLIENT / (done - t0)


def ingest_row(ctx, procs, tmp: Path, clients: int):
    """Ours, the raw loopback limit right after it, and Python's server for
    `clients` clients."""
    h = ctx.helpers
    rates = {}
    for name, argv in (("ours", [ctx.bin_dir / "dp-logserver"]),
                       ("py", [ctx.python, h.ROOT / "tests" / "interop" / "py_log_server.py"])):
        port, logfile = h.free_port(), tmp / f"{name}{clients}.log"
        if name == "ours":
            argv = argv + [f"--port={port}", "--logfile", logfile]
        else:
            argv = argv + [port, logfile]
        n = PER_CLIENT if name == "ours" else PER_CLIENT_PY
        rates[name] = ingest_rate(ctx, procs, argv, port, logfile, clients, n)
        procs.cleanup()
        if name == "ours":
            rates["limit"] = limit_rate(ctx, clients)
    return ctx.Row("logging", f"server ingest, {clients} clients", rates["ours"], rates["py"],
                   rates["limit"], "records/s", higher_is_better=True)


def run(ctx):
    h = ctx.helpers
    procs = h.Processes()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        try:
            up, down = h.free_port(), h.free_port()
            procs.start([ctx.bin_dir / "dp-logserver", f"--port={up}", "--logfile",
                         tmp / "calls.log", "--quiet"], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
            h.wait_for_port(up)
            out = subprocess.run([str(ctx.bin_dir / "bench-logging"), "call", str(up),
                                  str(down)], check=True, capture_output=True, text=True).stdout
            ours = {r["case"]: r for r in map(json.loads, out.splitlines())}
            for case, port, label in (("up", up, "server up"), ("down", down, "server down")):
                rows.append(ctx.Row("logging", f"log call, {label}", ours[case]["ns"],
                                    python_call_ns(ctx, port), ours[case]["limit_ns"],
                                    "ns/call"))
            procs.cleanup()

            for clients in INGEST_CLIENTS:
                rows.append(ingest_row(ctx, procs, tmp, clients))
        finally:
            procs.cleanup()
    return rows


if __name__ == "__main__":
    sys.exit("run through bench/run.py (make bench)")
