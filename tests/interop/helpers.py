"""Shared helpers for the interop tests: where the build is, free ports,
waiting on a condition with a deadline, and processes that are always cleaned
up. Tests import this module; fixtures built on it are in conftest.py."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("DP_BIN_DIR", ROOT / "build" / "bin"))
LIB_DIR = BIN_DIR.parent / "lib"
PYTHON = sys.executable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Polls cond() until it returns a truthy value, which is returned; raises
    AssertionError after `timeout` seconds. The only way tests wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_for_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1"):
    def connectable():
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_until(connectable, timeout, what=f"a listener on {host}:{port}")


class Processes:
    """Starts processes in their own process group and ends every one of them
    (and its group) at cleanup: SIGTERM, then SIGKILL after a grace period."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, argv, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        p = subprocess.Popen([str(a) for a in argv], start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen, sig=signal.SIGTERM, grace: float = 5.0) -> int:
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # anything left in its group
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait()
        for stream in (p.stdout, p.stderr, p.stdin):
            if stream:
                stream.close()
        return p.returncode

    def cleanup(self):
        for p in reversed(self.procs):
            self.stop(p, grace=2.0)
        self.procs.clear()
