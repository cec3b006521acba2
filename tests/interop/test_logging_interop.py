"""Logging against the real peers: the C network handler into the Python log
server, Python's get_logger into dp-logserver, both at once, restarts, bad
frames and many clients. Every process logs to a free port (DP_LOG_PORT),
never 9020."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
from pathlib import Path

import pytest

import helpers

HERE = Path(__file__).resolve().parent
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (\S+) - ([A-Z]+|Level \d+) - (.*)$")


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def records(path: Path, name: str | None = None) -> list[tuple[str, str, str]]:
    """(logger name, level name, message) of every standard line in a file."""
    out = []
    for line in lines(path):
        m = LINE.match(line)
        if m and (name is None or m.group(2) == name):
            out.append((m.group(2), m.group(3), m.group(4)))
    return out


def env_for(port: int) -> dict:
    return dict(os.environ, DP_LOG_HOST="127.0.0.1", DP_LOG_PORT=str(port))


def start_dp_logserver(procs, port: int, logfile: Path, *extra):
    p = procs.start([helpers.BIN_DIR / "dp-logserver", f"--port={port}", "--logfile", logfile,
                     "--quiet", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    helpers.wait_for_port(port)
    return p


def start_py_logserver(procs, port: int, logfile: Path):
    p = procs.start([helpers.PYTHON, HERE / "py_log_server.py", port, logfile],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    helpers.wait_for_port(port)
    return p


def c_logger(procs, port: int, *args, stdin=None):
    return procs.start([helpers.BIN_DIR / "example-logging", "--quiet", *args], env=env_for(port),
                       stdin=stdin, stdout=subprocess.PIPE if stdin else subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, text=True)


def py_logger(procs, port: int, name: str, count):
    return procs.start([helpers.PYTHON, HERE / "py_log_client.py", port, name, count],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def frame(obj) -> bytes:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack(">L", len(data)) + data


def test_c_logger_into_python_log_server(procs, port, tmp_path):
    logfile = tmp_path / "py.log"
    start_py_logserver(procs, port, logfile)
    p = c_logger(procs, port, "--name", "cmod.area1", "--count", "200")
    assert p.wait(20) == 0
    want = [("cmod.area1", "INFO", f"record {i}") for i in range(200)]
    helpers.wait_until(lambda: len(records(logfile, "cmod.area1")) >= 200, what="200 lines")
    assert records(logfile, "cmod.area1") == want


def test_python_get_logger_into_dp_logserver(procs, port, tmp_path):
    logfile = tmp_path / "dp.log"
    start_dp_logserver(procs, port, logfile)
    p = py_logger(procs, port, "pymod.area2", 200)
    assert p.wait(30) == 0
    want = [("pymod.area2", "INFO", f"record {i}") for i in range(200)]
    helpers.wait_until(lambda: len(records(logfile)) >= 200, what="200 lines")
    assert records(logfile) == want
