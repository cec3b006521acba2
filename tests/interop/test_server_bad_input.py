"""Bad input never breaks dp-example-module: invalid JSON, unknown commands,
a 1 MiB line, binary garbage, 500 concurrent clients, a client that
vanishes mid-command, one that never reads; the server keeps serving
everyone else and logs. More abuse: test_abuse_server.py."""
import random
import socket
import struct

import helpers
import module_util as mu


def start(procs, port, tmp_path, *extra):
    log = open(tmp_path / "module.log", "wb")
    p = mu.start_example(procs, port, *extra, stderr=log)
    return p, tmp_path / "module.log"


def logged(path, text):
    return helpers.wait_until(lambda: text in path.read_text(errors="replace"),
                              what=f"log line {text!r}")


def test_invalid_json_and_unknown_command_are_logged_not_answered(procs, port, tmp_path):
    p, log = start(procs, port, tmp_path)
    c = mu.Client(port)
    c.send(b'ECHO|{"text": ;NOPE;ECHO|[1,2];')
    assert c.silent_for(0.2)  # nothing unsolicited on the socket by default
    assert c.request(b"UP;", b"1") == b"1"  # still connected and served
    logged(log, "ERROR - ignoring command ECHO|{\"text\": : invalid JSON")
    logged(log, "WARNING - Unknown pcomm in NOPE")
    logged(log, "is no object of keyword arguments")


def test_error_replies_option(procs, port, tmp_path):
    start(procs, port, tmp_path, "--error_replies")
    c = mu.Client(port)
    c.send(b"NOPE;")
    assert c.read_until(b"\n") == b"ERROR unknown command NOPE\n"
    c.send(b'COUNT|{"to": 0};')
    assert c.read_until(b"\n") == b"ERROR COUNT failed: invalid argument\n"


def test_one_mib_line_disconnects_only_that_client(procs, port, tmp_path):
    p, log = start(procs, port, tmp_path)
    good = mu.Client(port)
    bad = mu.Client(port)
    try:
        bad.send(b"A" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may cut us off while we are still sending
    assert bad.closed_by_peer()
    logged(log, "disconnecting it")
    assert good.request(b"UP;", b"1") == b"1"
    assert mu.Client(port).request(b"UP;", b"1") == b"1"
    assert p.poll() is None


def test_long_but_allowed_command(procs, port, tmp_path):
    start(procs, port, tmp_path)
    c = mu.Client(port)
    text = "x" * 60000
    cmd = f'ECHO|{{"text": "{text}"}};'.encode()
    assert c.request(cmd, text.encode()) == text.encode()


def test_binary_garbage(procs, port, tmp_path):
    p, _ = start(procs, port, tmp_path)
    rng = random.Random(1234)
    for _ in range(20):
        c = mu.Client(port)
        try:
            c.send(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000))))
        except OSError:
            pass
        c.close()
    c = mu.Client(port)
    c.send(bytes(range(256)) * 4 + b";")
    assert c.request(b"UP;", b"1") == b"1"
    assert p.poll() is None


def test_500_concurrent_clients(procs, port, tmp_path):
    start(procs, port, tmp_path)
    clients = [mu.Client(port) for _ in range(500)]
    try:
        assert all(c.greeting == b"Connected to dp-example-module\n" for c in clients)
        for i, c in enumerate(clients):
            c.send(f'UP;ECHO|{{"text": "{i}"}};'.encode())
        for i, c in enumerate(clients):
            expected = b"1" + str(i).encode()
            assert c.read_exactly(len(expected)) == expected
    finally:
        for c in clients:
            c.close()


def test_client_vanishing_mid_command(procs, port, tmp_path):
    p, _ = start(procs, port, tmp_path)
    for abort in (False, True):
        c = mu.Client(port)
        c.send(b'ECHO|{"text": "half')
        if abort:  # RST instead of FIN
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    c = mu.Client(port, read_greeting=False)  # vanish before reading the greeting
    c.close()
    other = mu.Client(port)
    assert other.request(b'ECHO|{"text": "still here"};', b"still here") == b"still here"
    assert p.poll() is None


def test_client_that_never_reads_its_replies_is_not_read_from(procs, port, tmp_path):
    """Back-pressure: the module stops reading a client whose replies pile up,
    so its sends stall instead of the module's memory growing."""
    p, log = start(procs, port, tmp_path)
    greedy = mu.Client(port)
    greedy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cmd = ('ECHO|{"text": "%s"};' % ("z" * 60000)).encode()
    greedy.sock.settimeout(2)
    stalled = False
    try:
        for _ in range(600):  # 36 MB of replies that are never read
            greedy.send(cmd)
    except TimeoutError:
        stalled = True
    assert stalled
    assert mu.Client(port).request(b"UP;", b"1") == b"1"
    assert p.poll() is None
