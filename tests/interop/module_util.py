"""Helpers for the module-server interop tests: starting dp-example-module
(or its Python twin) with logging confined to a free port, a raw socket
client that reads unframed replies, and process-tree checks with psutil."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psutil

import helpers

EXAMPLE = helpers.BIN_DIR / "dp-example-module"
PEER = Path(__file__).resolve().parent / "peers" / "example_module.py"


def module_env() -> dict:
    """The environment for anything that logs: the network handler goes to a
    free port on which nothing listens (never the real 9020)."""
    env = os.environ.copy()
    env["DP_LOG_HOST"] = "127.0.0.1"
    env["DP_LOG_PORT"] = str(helpers.free_port())
    return env


def start_example(procs, port: int, *extra, stderr=None, **kw):
    """Starts dp-example-module on `port` and waits until it listens (kw:
    more arguments for Popen)."""
    kw["env"] = module_env()
    if stderr is not None:
        kw["stderr"] = stderr
    p = procs.start([EXAMPLE, f"--port={port}", "--loglevel=INFO", *extra], **kw)
    helpers.wait_for_port(port)
    return p


class Client:
    """A raw TCP client: sends bytes, reads what arrives (the protocol has no
    reply framing)."""

    def __init__(self, port: int, read_greeting: bool = True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.greeting = self.read_until(b"\n") if read_greeting else b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def read_until(self, end: bytes, timeout: float = 5.0, anywhere: bool = False) -> bytes:
        """Reads until what arrived ends with `end` (or, with anywhere=True,
        contains it: for replies that may come glued to broadcast bytes)."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not (end in buf if anywhere else buf.endswith(end)):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {end!r}, got {buf!r}"
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed, got {buf!r}"
            buf += chunk
        return buf

    def read_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {n} bytes, got {buf!r}"
            self.sock.settimeout(left)
            chunk = self.sock.recv(n - len(buf))
            assert chunk, f"connection closed, got {buf!r}"
            buf += chunk
        return buf

    def request(self, data: bytes, expected: bytes) -> bytes:
        self.send(data)
        return self.read_exactly(len(expected))

    def silent_for(self, seconds: float) -> bool:
        """True when nothing arrives for `seconds` (a negative check)."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected bytes {data!r}")

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self):
        self.sock.close()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def gone(p: psutil.Process) -> bool:
    """Reaped: neither running nor a zombie."""
    try:
        return p.status() == psutil.STATUS_DEAD
    except psutil.NoSuchProcess:
        return True


def group_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_tree(pid: int, n: int) -> list[psutil.Process]:
    """Waits until `pid` has at least n descendants and returns them."""
    return helpers.wait_until(lambda: (lambda d: d if len(d) >= n else None)(descendants(pid)),
                              what=f"{n} descendants of {pid}")


def kill_leftovers(ps: list[psutil.Process]):
    for p in ps:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
