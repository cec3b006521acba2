"""The client (dp-send and libdareplane's dp_client_* through ctypes) against
hostile peers written in Python: a peer that trickles bytes forever cannot
hold a call past its deadline, one that floods cannot grow the client past
max_reply_bytes (dp-send runs under an address-space limit), and
dp_client_up() counts
only an answer "1" — not "x1y", not a 1 inside a callback — while keeping
those bytes for later reads. A real module is up."""
from __future__ import annotations

import ctypes as C
import resource
import socket
import subprocess
import threading

import pytest

import helpers
import module_util as mu

DP_SEND = helpers.BIN_DIR / "dp-send"
MAX_REPLY_DEFAULT = 16 << 20


class HostilePeer:
    """A fake module on a free port: sends the greeting, waits for the first
    command, then runs `behave(sock, stop)` until the client goes away (or
    runs `before_command` at once instead)."""

    def __init__(self, behave, before_command=None):
        self.behave = behave
        self.before_command = before_command
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.listener.accept()
        with conn:
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle pauses
                conn.sendall(b"Connected to hostile\n")
                if self.before_command is not None:
                    self.before_command(conn, self.stop)
                elif conn.recv(4096):
                    self.behave(conn, self.stop)
            except OSError:
                pass  # the client closed: what a hostile peer gets in the end

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def trickle(conn, stop):
    while not stop.wait(0.001):
        conn.send(b"x")


def flood(conn, stop):
    chunk = b"y" * 65536
    sent = 0
    while not stop.is_set() and sent < (4 << 30):
        conn.sendall(chunk)
        sent += len(chunk)


def flood_queued(conn, stop):
    """Floods from the greeting on, through a large send buffer: what the
    kernel already holds reaches the client without this thread running, so
    no scheduling stall makes a 5 ms pause within the first few MiB."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    flood(conn, stop)


def run_limited(argv, address_space, stdout, timeout=60):
    """Runs argv to its end (killed after `timeout` s) with its address space
    limited (RLIMIT_AS) and stdout to the file `stdout`; returns (exit status,
    stderr). A client whose memory grew with the flood fails under the limit.
    (Peak RSS cannot be measured from here: ru_maxrss of a child of this
    process includes this process's own pages from before the exec.)"""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    with open(stdout, "wb") as f:
        out = subprocess.run([str(a) for a in argv], stdout=f, stderr=subprocess.PIPE,
                             preexec_fn=limit, timeout=timeout)
    return out.returncode, out.stderr.decode(errors="replace")


def test_trickling_peer_cannot_hold_a_request():
    """A byte a millisecond, forever: each request ends at its deadline with
    the error. (--quiet-ms 500: a scheduling stall of this test's thread on a
    loaded machine must not count as the pause that ends a reply.)"""
    peer = HostilePeer(trickle)
    try:
        out = subprocess.run([DP_SEND, "--port", str(peer.port), "--timeout", "0.5",
                              "--quiet-ms", "500", "HI", "HI"],
                             capture_output=True, text=True, timeout=60)
    finally:
        peer.close()
    assert out.returncode == 0
    assert out.stdout == ""
    assert out.stderr.count("HI: the reply did not end within 0.500 s") == 2


def test_flooding_peer_memory_is_bounded(tmp_path):
    """Gigabytes without an intended pause: the call ends, and dp-send runs
    within a 64 MiB address space with the default cap (16 MiB). A stall of
    this thread may end a reply early (then dp-send prints that piece, at
    most the cap); without one the call fails with the cap's error."""
    peer = HostilePeer(flood)
    out = tmp_path / "stdout"
    try:
        status, err = run_limited([DP_SEND, "--port", peer.port, "--timeout", "30", "HI"],
                                  64 << 20, out)
    finally:
        peer.close()
    assert "no memory" not in err
    if status == 0:
        assert 0 < out.stat().st_size <= MAX_REPLY_DEFAULT + 1
    else:
        assert status == 1
        assert f"more than {MAX_REPLY_DEFAULT} bytes (max_reply_bytes)" in err


def test_flood_past_the_cap_is_an_error(tmp_path):
    peer = HostilePeer(None, before_command=flood_queued)
    try:
        status, err = run_limited([DP_SEND, "--port", peer.port, "--max-reply", 256 << 10,
                                   "--quiet-ms", 500, "HI"], 32 << 20, tmp_path / "stdout")
    finally:
        peer.close()
    assert status == 1
    assert "more than 262144 bytes (max_reply_bytes)" in err


# ---- dp_client_up through ctypes ---------------------------------------------


class Opts(C.Structure):
    _fields_ = [("host", C.c_char_p), ("port", C.c_int), ("attempts", C.c_int),
                ("retry_delay_s", C.c_double), ("timeout_s", C.c_double),
                ("max_reply_bytes", C.c_size_t), ("quiet_ms", C.c_int)]


@pytest.fixture(scope="module")
def lib():
    lib = C.CDLL(str(helpers.LIB_DIR / "libdareplane.so"))
    lib.dp_client_opts_init.argtypes = [C.POINTER(Opts)]
    lib.dp_client_connect.argtypes = [C.POINTER(Opts)]
    lib.dp_client_connect.restype = C.c_void_p
    lib.dp_client_up.argtypes = [C.c_void_p, C.c_double]
    lib.dp_client_up.restype = C.c_int
    lib.dp_client_recv.argtypes = [C.c_void_p, C.POINTER(C.POINTER(C.c_char)),
                                   C.POINTER(C.c_size_t), C.c_double]
    lib.dp_client_recv.restype = C.c_int
    lib.dp_client_close.argtypes = [C.c_void_p]
    return lib


class CClient:
    def __init__(self, lib, port):
        self.lib = lib
        o = Opts()
        lib.dp_client_opts_init(C.byref(o))
        o.port = port
        o.timeout_s = 5.0
        self.c = lib.dp_client_connect(C.byref(o))
        assert self.c

    def up(self, timeout):
        return self.lib.dp_client_up(self.c, timeout)

    def recv(self, timeout) -> bytes:
        out, n = C.POINTER(C.c_char)(), C.c_size_t()
        rc = self.lib.dp_client_recv(self.c, C.byref(out), C.byref(n), timeout)
        assert rc == 0, f"dp_client_recv: {rc}"
        data = C.string_at(out, n.value)
        C.CDLL(None).free(out)
        return data

    def close(self):
        self.lib.dp_client_close(self.c)


def answers(text: bytes):
    def behave(conn, stop):
        conn.sendall(text)
        stop.wait(10)
    return behave


@pytest.mark.parametrize("answer", [b"x1y", b'other|SET|{"v": 1}', b"11", b"1\n"])
def test_up_needs_exactly_one(lib, answer):
    peer = HostilePeer(answers(answer))
    c = CClient(lib, peer.port)
    try:
        assert c.up(0.3) == 0
        assert c.recv(1.0) == answer  # kept for later reads, not lost
    finally:
        c.close()
        peer.close()


def test_real_module_is_up_and_callbacks_are_kept(lib, procs, port):
    mu.start_example(procs, port)
    c = CClient(lib, port)
    other = mu.Client(port)
    try:
        assert c.up(5.0) == 1
        # a callback holding a 1 reaches both clients; once `other` also has
        # the reply to a later command, the server has written it to c too,
        # before c sends UP
        other.send(b'CALLBACK|{"target": "t", "pcomm": "P", "payload": "1"};')
        assert other.read_exactly(5) == b"t|P|1"
        assert other.request(b'ECHO|{"text": "z"};', b"z") == b"z"
        assert c.up(5.0) == 1
        assert c.recv(1.0) == b"t|P|1"
    finally:
        c.close()
        other.close()


def test_real_module_is_up_in_a_storm_of_callbacks(lib, procs, port):
    """Another client makes the module send callbacks without a pause; the
    answers to UP arrive glued to them and are still found."""
    mu.start_example(procs, port)
    c = CClient(lib, port)
    other = mu.Client(port)
    other.sock.settimeout(None)
    stop = threading.Event()
    batch = b'CALLBACK|{"target": "t", "pcomm": "P", "payload": "{\\"v\\": 1}"};' * 200

    def spam():
        try:
            while not stop.is_set():
                other.send(batch)
        except OSError:
            pass

    def drain():  # `other` gets the callbacks too
        try:
            while other.sock.recv(1 << 16):
                pass
        except OSError:
            pass

    threads = [threading.Thread(target=spam), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    try:
        for _ in range(5):
            assert c.up(5.0) == 1
    finally:
        stop.set()
        other.sock.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join()
        c.close()
        other.close()
