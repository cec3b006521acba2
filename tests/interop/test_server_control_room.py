"""The control room's own client classes (dareplane_utils' ExeLauncher,
SocketCommunicator, ModuleConnection) launch dp-example-module, read the
greeting, list the commands, run each one, poll UP, STOP the workers, CLOSE
and terminate it. The same script runs against the Python twin
(peers/example_module.py, a DefaultCallbackServer with the same commands) and
both must give identical replies."""
import logging
import sys
import time

import pytest
from dareplane_utils.module_handling.communication import SocketCommunicator
from dareplane_utils.module_handling.launcher import ExeLauncher
from dareplane_utils.module_handling.module_connection import ModuleConnection

import helpers
import module_util as mu


def read_reply(conn: ModuleConnection, quiet: float = 0.1, timeout: float = 5.0) -> bytes:
    """What the module sends after a command (waiting up to `timeout` for the
    first byte), until it is quiet for `quiet` seconds."""
    sock = conn.communicator.socket_c
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(quiet if buf else deadline - time.monotonic())
        try:
            chunk = conn.receive_message(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def drive(exe, args, port: int, env) -> dict:
    """The control room's sequence; returns every reply by step."""
    log = logging.getLogger(f"control_room.{port}")
    comm = SocketCommunicator(ip="127.0.0.1", port=port, name="example", retry_after_s=0.2,
                              max_connect_retries=50, logger=log)
    conn = ModuleConnection(name="example", launcher=ExeLauncher(exe, args=args),
                            communicator=comm)
    replies = {}
    module_pid = None
    tree = []
    try:
        conn.launch_module(env=env)
        module_pid = conn.launcher.process.pid
        # SocketCommunicator.connect() reads the greeting but keeps it to
        # itself: look at it on a connection of our own first (Python serves
        # one client at a time, so close it before the control room connects).
        helpers.wait_for_port(port)
        probe = mu.Client(port)
        replies["greeting"] = probe.greeting
        probe.close()
        conn.connect_to_module()

        def step(name, msg, reply=True):
            conn.send_message(msg)
            replies[name] = read_reply(conn) if reply else read_reply(conn, timeout=0.3)

        step("GET_PCOMMS", b"GET_PCOMMS")
        step("UP", b"UP")
        step("ECHO", b'ECHO|{"text": "hello control room"}')
        step("COUNT", b'COUNT|{"to": 1000, "hz": 50}', reply=False)
        step("SPAWN", b'SPAWN|{"seconds": 20}', reply=False)
        tree = mu.wait_tree(module_pid, 3)  # sh -> subshell -> sleep
        step("CALLBACK", b'CALLBACK|{"target": "other", "pcomm": "START", "payload": "p"}')
        step("UP again", b"UP")
        step("STOP", b"STOP", reply=False)
        step("UP after STOP", b"UP")
        step("CLOSE", b"CLOSE", reply=False)
    finally:
        conn.stop()  # disconnect, then terminate the process and its children
        leftovers = [p for p in tree if not mu.gone(p)]
        mu.kill_leftovers(leftovers)
    replies["process ended"] = conn.launcher.process is None
    replies["tree left after STOP"] = len(leftovers)
    return replies


EXPECTED = {
    "GET_PCOMMS": b"ECHO|COUNT|SPAWN|CALLBACK|STOP|CLOSE|GET_PCOMMS|UP",
    "UP": b"1",
    "ECHO": b"hello control room",
    "COUNT": b"",
    "SPAWN": b"",
    "CALLBACK": b"other|START|p",
    "UP again": b"1",
    "STOP": b"",
    "UP after STOP": b"1",
    "CLOSE": b"",
}


def test_c_module_answers_the_control_room_like_the_python_module():
    env = mu.module_env()
    port_c, port_py = helpers.free_port(), helpers.free_port()
    ours = drive(mu.EXAMPLE, [f"--port={port_c}", "--ip=127.0.0.1", "--list_builtins"], port_c,
                 env)
    python = drive(sys.executable, [str(mu.PEER), f"--port={port_py}", "--ip=127.0.0.1"],
                   port_py, env)
    assert ours["greeting"] == b"Connected to dp-example-module\n"
    assert python["greeting"] == b"Connected to py-example-module\n"
    for step, expected in EXPECTED.items():
        assert ours[step] == expected, step
        assert python[step] == expected, step
    assert ours["process ended"] and python["process ended"]
    # The C module ends whole process trees on STOP; Python's stop_process
    # only signals direct children, which leaves the grandchild behind.
    assert ours["tree left after STOP"] == 0
    assert python["tree left after STOP"] >= 1


def test_default_get_pcomms_follows_the_reference(procs, port):
    mu.start_example(procs, port)
    c = mu.Client(port)
    assert c.greeting == b"Connected to dp-example-module\n"
    assert c.request(b"GET_PCOMMS;", b"ECHO|COUNT|SPAWN|CALLBACK|STOP|CLOSE") == \
        b"ECHO|COUNT|SPAWN|CALLBACK|STOP|CLOSE"
    assert c.silent_for(0.1)  # no trailing newline or anything else


@pytest.mark.parametrize("argv_style", [["--port", "{port}", "--name", "custom",
                                         "--echo-prefix", ">> "],
                                        ["--port={port}", "--name=custom", "--echo_prefix=>> "]])
def test_fire_style_flags(procs, port, argv_style):
    p = procs.start([mu.EXAMPLE, *[a.format(port=port) for a in argv_style]],
                    env=mu.module_env())
    helpers.wait_for_port(port)
    c = mu.Client(port)
    assert c.greeting == b"Connected to custom\n"
    assert c.request(b'ECHO|{"text": "flag"};', b">> flag") == b">> flag"  # module's own flag
    assert p.poll() is None


def test_help_and_usage_errors():
    import subprocess
    out = subprocess.run([mu.EXAMPLE, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for word in ("--port", "--loglevel", "--echo_prefix", "ECHO", "COUNT", "SPAWN", "CALLBACK",
                 "STOP", "CLOSE"):
        assert word in out.stdout
    bad = subprocess.run([mu.EXAMPLE, "--bogus=1"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "unknown flag --bogus" in bad.stderr
    bad = subprocess.run([mu.EXAMPLE, "--port=x"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "--port" in bad.stderr
