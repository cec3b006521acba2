"""dp-logserver under abuse (issue 9 items 11-13): a format bomb, numbers
out of every range, hundreds of clients that park unfinished frames, a full
house of clients, and a flood. Each test asserts that a good client's
records still land in the log file and that the server's memory stays under
its documented bounds (docs/logging.md, "dp-logserver")."""
from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading

import psutil

import helpers

LOGSERVER = helpers.BIN_DIR / "dp-logserver"
MiB = 1024 * 1024


def frame(obj) -> bytes:
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack(">L", len(data)) + data


def record(name: str, msg: str, **extra) -> dict:
    return {"name": name, "msg": msg, "args": [], "levelname": "INFO", "levelno": 20,
            "created": 1795461145.25, **extra}


def start(procs, port, logfile, *flags, quiet=True):
    argv = [LOGSERVER, f"--port={port}", "--logfile", logfile, *flags]
    if quiet:
        argv.append("--quiet")
    # stderr: a pipe nobody reads (the console must not block the server)
    p = procs.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    helpers.wait_for_port(port)
    return p


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_quietly(s: socket.socket, data: bytes) -> bool:
    """sendall that reports a connection the server closed instead of raising."""
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def lines(logfile) -> list[str]:
    return logfile.read_text(encoding="utf-8").splitlines() if logfile.exists() else []


def good_client_is_served(port: int, logfile, name: str, n: int = 50, timeout: float = 30):
    """A well-behaved client logs n records; all of them land, in order."""
    with connect(port) as s:
        s.sendall(b"".join(frame(record(name, f"good {i}")) for i in range(n)))
        want = [f"good {i}" for i in range(n)]
        helpers.wait_until(
            lambda: [ln.rsplit(" - ", 1)[1] for ln in lines(logfile) if f" - {name} - " in ln]
            == want, timeout=timeout, what=f"the {n} records of {name}")


def rss(p) -> int:
    return psutil.Process(p.pid).memory_info().rss


def closed_by_server(s: socket.socket, timeout: float = 30) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def test_format_bomb_is_cut_at_the_message_bound(procs, port, tmp_path):
    logfile = tmp_path / "bomb.log"
    p = start(procs, port, logfile)
    # 85 KB that would render to 255 MB: one key repeated
    bomb = {"name": "bomb", "msg": "%(a)s" * 17000, "args": {"a": "x" * 15000},
            "levelno": 40, "created": 1795461145.25}
    with connect(port) as s:
        s.sendall(frame(bomb))
        note = "... [truncated: longer than 1048576 bytes]"
        helpers.wait_until(lambda: any(ln.endswith(note) for ln in lines(logfile)), timeout=60,
                           what="the cut bomb line")
    line = next(ln for ln in lines(logfile) if " - bomb - " in ln)
    msg = line.split(" - ERROR - ", 1)[1]
    assert len(msg.encode()) <= MiB and msg.startswith("x" * 1000)
    good_client_is_served(port, logfile, "after.bomb")
    assert rss(p) < 64 * MiB  # the render bound (1 MiB) plus the parse of one frame
    # the bound is a flag
    logfile2 = tmp_path / "bomb2.log"
    port2 = helpers.free_port()
    start(procs, port2, logfile2, "--max-message=4096")
    with connect(port2) as s:
        s.sendall(frame(bomb))
        helpers.wait_until(lambda: any(ln.endswith("longer than 4096 bytes]")
                                       for ln in lines(logfile2)), what="the 4 KiB line")


def test_numbers_out_of_range(procs, port, tmp_path):
    logfile = tmp_path / "numbers.log"
    start(procs, port, logfile)
    # msecs that no int holds: the milliseconds of created are used instead
    with connect(port) as s:
        s.sendall(frame(record("num.msecs", "huge msecs", msecs=1e300)) +
                  frame(record("num.msecs", "string msecs", msecs="-1e300")))
        helpers.wait_until(lambda: sum(" - num.msecs - " in ln for ln in lines(logfile)) == 2,
                           what="both msecs records")
    assert all(",250 - num.msecs - INFO - " in ln for ln in lines(logfile) if "num.msecs" in ln)
    # created and levelno out of range: that client is closed, with the reason
    for field, value, why in [("created", 1e300, "created 1e+300 is out of range"),
                              ("levelno", -1e300, "levelno -1e+300 is out of range"),
                              ("levelno", "1e400", "levelno is not a number")]:
        with connect(port) as s:
            s.sendall(frame(record("num.ok", f"before {field}")) +
                      frame(record("num.bad", "bad", **{field: value})))
            assert closed_by_server(s)
        helpers.wait_until(lambda: any(why in ln for ln in lines(logfile)), what=why)
        assert any(ln.endswith(f"num.ok - INFO - before {field}") for ln in lines(logfile))
    assert not any(" - num.bad - " in ln for ln in lines(logfile))
    good_client_is_served(port, logfile, "after.numbers")


def test_hundreds_of_stalled_clients_stay_under_max_buffered(procs, port, tmp_path):
    logfile = tmp_path / "stalled.log"
    p = start(procs, port, logfile)  # defaults: 256 clients, 64 MiB buffered, 10 s per frame
    stalled = []
    for _ in range(250):  # each parks 900 KB of an announced 1,000,000-byte frame
        s = connect(port)
        send_quietly(s, struct.pack(">L", 1_000_000) + b"x" * 900_000)
        stalled.append(s)
    good_client_is_served(port, logfile, "among.stalled")
    # 250 x 900 KB would be 225 MB; the unfinished frames of all clients are
    # bounded by --max-buffered (64 MiB, plus one frame) and the oldest went
    assert rss(p) < 64 * MiB + 48 * MiB
    assert any("exceed --max-buffered" in ln for ln in lines(logfile))
    for s in stalled:
        s.close()


def test_stalled_frames_time_out(procs, port, tmp_path):
    logfile = tmp_path / "timeout.log"
    start(procs, port, logfile, "--frame-timeout=1")
    stalled = [connect(port) for _ in range(20)]
    for i, s in enumerate(stalled):  # half in a length prefix, half in a payload
        s.sendall(b"\0\0" if i % 2 else struct.pack(">L", 1000) + b"{")
    good_client_is_served(port, logfile, "during.timeout")
    for s in stalled:
        assert closed_by_server(s)
        s.close()
    helpers.wait_until(lambda: sum("frame not finished within --frame-timeout" in ln
                                   for ln in lines(logfile)) == 20, what="20 timeout lines")
    # a client quiet between records is kept
    with connect(port) as idle:
        idle.sendall(frame(record("idle", "first")))
        helpers.wait_until(lambda: any(" - idle - " in ln for ln in lines(logfile)),
                           what="the idle client's first record")
        idle.settimeout(2.5)  # longer than the frame timeout: nothing happens
        try:
            assert idle.recv(1) != b""
        except TimeoutError:
            pass
        idle.sendall(frame(record("idle", "second")))
        helpers.wait_until(lambda: any(ln.endswith(" - idle - INFO - second")
                                       for ln in lines(logfile)), what="the idle client's second")


def test_client_limit(procs, port, tmp_path):
    logfile = tmp_path / "limit.log"
    start(procs, port, logfile, "--max-clients=10")
    idle = []
    for i in range(10):  # one after the other (the server is sure to have seen
        idle.append(connect(port))  # the end of wait_for_port's probe)
        idle[-1].sendall(frame(record("limit.idle", f"hello {i}")))
        helpers.wait_until(lambda: sum(" - limit.idle - " in ln for ln in lines(logfile)) == i + 1,
                           what=f"client {i} in")
    extra = connect(port)
    assert closed_by_server(extra)  # full, and every client is between records
    extra.close()
    helpers.wait_until(lambda: any("refused 1 connection: --max-clients (10) reached" in ln
                                   for ln in lines(logfile)), what="the refusal line")
    # one of them stalls inside a frame: a newcomer takes its place
    idle[0].sendall(struct.pack(">L", 100) + b"{")
    good_client_is_served(port, logfile, "limit.newcomer")
    assert closed_by_server(idle[0])
    assert any("--max-clients reached and its frame is the oldest unfinished one" in ln
               for ln in lines(logfile))
    for s in idle:
        s.close()


def test_flood_does_not_starve_a_good_client(procs, port, tmp_path):
    logfile = tmp_path / "flood.log"
    # console on, into a pipe nobody reads: the server must not block on it
    p = start(procs, port, logfile, quiet=False)
    batch = b"".join(frame(record("flood", "y" * 200 + f" {i}")) for i in range(1000))
    stop = threading.Event()

    def flood():
        with connect(port) as s:
            while not stop.is_set() and send_quietly(s, batch):
                pass

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        helpers.wait_until(lambda: sum(1 for _ in open(logfile, "rb")) > 20000
                           if logfile.exists() else False, timeout=60, what="the flood arriving")
        good_client_is_served(port, logfile, "beside.flood", timeout=60)
        assert rss(p) < 64 * MiB
    finally:
        stop.set()
        for t in threads:
            t.join(30)
