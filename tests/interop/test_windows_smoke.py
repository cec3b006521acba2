"""The Windows programs (cross-built with mingw-w64) under Wine, driven by the
real Linux-side Python peers over loopback: the control room's client class
gets GET_PCOMMS and UP answers from dp-example-module.exe, whose records reach
the Python log server; STOP ends a worker tree (the program and a detached
grandchild, checked in the process list: Wine's processes are Linux
processes); killing the module ends its tree too (the Job Object is closed
with the module); dp-watch.exe's StreamWatcher receives a pylsl outlet's
samples.

Run by `make test-windows`, which sets DP_WIN_BIN_DIR (the .exe files),
DP_WIN_LSL_LIB (lsl.dll of pylsl's Windows wheel) and the Wine prefix;
skipped otherwise."""
from __future__ import annotations

import logging
import os
import random
import re
import signal
import threading
import uuid
from pathlib import Path

import psutil
import pylsl
import pytest
from dareplane_utils.module_handling.communication import SocketCommunicator

import helpers

WIN_BIN = os.environ.get("DP_WIN_BIN_DIR", "")
pytestmark = pytest.mark.skipif(not WIN_BIN, reason="DP_WIN_BIN_DIR is not set (make test-windows)")

# Wine's first start in a fresh prefix takes a while
START_S = 60.0
WINE_CFG = helpers.ROOT / "tests" / "lsl_api_wine.cfg"


def win_path(p) -> str:
    """A Linux path as the Windows programs see it (Wine's drive Z: is /)."""
    return "Z:" + str(Path(p).resolve()).replace("/", "\\")


def wine(procs, exe: str, *args, env_extra=None, **kw):
    env = dict(os.environ, LSLAPICFG=win_path(WINE_CFG),
               DP_LSL_LIB=win_path(os.environ.get("DP_WIN_LSL_LIB", "lsl.dll")), NO_COLOR="1")
    env.update(env_extra or {})
    return procs.start(["wine", Path(WIN_BIN) / exe, *args], env=env, **kw)


def processes_with(token: str) -> list[psutil.Process]:
    """Every live process whose command line holds `token`."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and token in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.fixture
def leftovers():
    """Tokens of worker trees; whatever still runs with one is killed at the
    end, whatever the test did."""
    tokens = []
    yield tokens
    for t in tokens:
        for p in processes_with(t):
            p.kill()


def start_module(procs, port: int, log_port: int):
    m = wine(procs, "dp-example-module.exe", f"--port={port}", "--loglevel=INFO",
             env_extra={"DP_LOG_HOST": "127.0.0.1", "DP_LOG_PORT": str(log_port)})
    helpers.wait_for_port(port, timeout=START_S)
    return m


def control_room(port: int) -> SocketCommunicator:
    """The control room's connection (it ends every command with ';', as
    ModuleConnection.send_message does)."""
    comm = SocketCommunicator(ip="127.0.0.1", port=port, name="win-example", retry_after_s=0.2,
                              max_connect_retries=50, logger=logging.getLogger("control_room"))
    comm.connect()
    return comm


def reply(comm: SocketCommunicator, until: bytes, timeout: float = 10.0) -> bytes:
    """What the module sends, until it holds `until` (each read waits at
    most `timeout`)."""
    buf = b""
    comm.socket_c.settimeout(timeout)
    while until not in buf:
        chunk = comm.receive(4096)
        assert chunk, f"connection closed, got {buf!r}"
        buf += chunk
    return buf


def spawn_tree(comm: SocketCommunicator, leftovers: list) -> str:
    """SPAWN with a unique duration (the token in the tree's command lines);
    waits for the program and its grandchild."""
    seconds = f"{random.randint(300, 899)}.{random.randint(100, 999)}"
    leftovers.append(seconds)
    comm.send(f'SPAWN|{{"seconds": {seconds}}};'.encode())
    helpers.wait_until(lambda: len(processes_with(seconds)) == 2, START_S,
                       what="--spawn-tree and --spawn-sleep under Wine")
    return seconds


def test_control_room_log_server_and_stop(procs, tmp_path, leftovers):
    port, log_port = helpers.free_port(), helpers.free_port()
    logfile = tmp_path / "socket.log"
    procs.start([helpers.PYTHON, helpers.ROOT / "tests" / "interop" / "py_log_server.py", log_port,
                 logfile])
    helpers.wait_for_port(log_port)
    module = start_module(procs, port, log_port)
    comm = control_room(port)
    comm.send(b"GET_PCOMMS;")
    pcomms = reply(comm, b"CLOSE")
    for name in (b"ECHO", b"COUNT", b"SPAWN", b"CALLBACK", b"STOP", b"CLOSE"):
        assert name in pcomms
    comm.send(b"UP;")
    assert reply(comm, b"1") == b"1"

    token = spawn_tree(comm, leftovers)
    comm.send(b"STOP;")
    helpers.wait_until(lambda: not processes_with(token), 20.0,
                       what="the worker tree (and its detached grandchild) to end after STOP")

    helpers.wait_until(lambda: logfile.exists() and all(
        e in logfile.read_text() for e in (
            "dareplane.server - INFO - Received: SPAWN",
            "dp-example-module - INFO - SPAWN started process",
            "dareplane.server - INFO - Closing process tree of SPAWN",
            "is gone",
        )), 20.0, what="the Windows module's records in the Python log server's file")
    comm.send(b"CLOSE;")
    assert module.wait(30) == 0
    comm.disconnect()


def test_killed_module_takes_its_worker_tree_along(procs, leftovers):
    port = helpers.free_port()
    module = start_module(procs, port, helpers.free_port())
    comm = control_room(port)
    token = spawn_tree(comm, leftovers)
    comm.disconnect()
    # SIGKILL to the module's Wine process: Windows closes its handles, the
    # last one to the worker's Job Object among them
    module_proc = [p for p in processes_with("dp-example-module.exe")
                   if f"--port={port}" in " ".join(p.cmdline())]
    assert module_proc
    for p in module_proc:
        p.send_signal(signal.SIGKILL)
    helpers.wait_until(lambda: not processes_with(token), 20.0,
                       what="the worker tree to end with its killed module")


def test_stream_watcher_receives_a_pylsl_outlet(procs):
    name = f"dp-win-{uuid.uuid4().hex[:12]}"
    info = pylsl.StreamInfo(name, "EEG", 2, 200.0, pylsl.cf_float32, name)
    outlet = pylsl.StreamOutlet(info)
    stop = threading.Event()

    def push():
        i = 0
        while not stop.wait(0.01):
            outlet.push_chunk([[float(i + k), -float(i + k)] for k in range(2)])
            i += 2

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    try:
        w = wine(procs, "dp-watch.exe", "--name", name, "--samples", "400", "--seconds", "120",
                 "--timeout", str(START_S))
        assert w.wait(START_S + 120) == 0, w.stderr.read().decode(errors="replace")
        out = w.stdout.read().decode(errors="replace")
        assert f"connected to '{name}'" in out
        m = re.search(r"(\d+) samples in", out)
        assert m and int(m.group(1)) >= 400, out
    finally:
        stop.set()
        pusher.join()
