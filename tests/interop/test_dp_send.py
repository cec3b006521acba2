"""dp-send against dp-example-module: commands on the command line, plain
lines on a non-terminal stdin, and the interactive console on a
pseudo-terminal (line editing, history, callbacks shown as they arrive,
Ctrl-D to quit)."""
import os
import pty
import select
import subprocess
import time

import pytest

import helpers
import module_util as mu

DP_SEND = helpers.BIN_DIR / "dp-send"


def test_commands_on_the_command_line(procs, port):
    mu.start_example(procs, port)
    out = subprocess.run([DP_SEND, "--port", str(port), "UP", "GET_PCOMMS",
                          'ECHO|{"text": "hi there"}', "STOP"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0
    assert out.stdout == "1\nECHO|COUNT|SPAWN|CALLBACK|STOP|CLOSE\nhi there\n"
    assert "STOP: no reply within" in out.stderr


@pytest.mark.parametrize("equals", [False, True])
def test_no_module_is_a_clear_error(equals):
    port = str(helpers.free_port())
    argv = [f"--port={port}"] if equals else ["--port", port]
    out = subprocess.run([DP_SEND, *argv, "UP"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "cannot connect" in out.stderr


def test_usage_errors():
    out = subprocess.run([DP_SEND, "--bogus"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "usage" in out.stderr
    out = subprocess.run([DP_SEND], capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    for argv, says in ((["--port=0", "UP"], "--port must be 1..65535, got 0"),
                       (["--timeout", "x", "UP"], "--timeout takes a finite number, not 'x'"),
                       (["--host"], "--host needs a value")):
        out = subprocess.run([DP_SEND, *argv], capture_output=True, text=True, timeout=20)
        assert out.returncode == 2 and f"dp-send: {says}" in out.stderr, argv


def test_interactive_reads_plain_lines_without_a_terminal(procs, port):
    p = mu.start_example(procs, port)
    out = subprocess.run([DP_SEND, "--port", str(port), "--interactive", "--timeout", "0.5"],
                         input='UP\n\nECHO|{"text": "line"}\nCLOSE\n', capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0
    assert out.stdout == "1\nline\n"
    assert "Connected to dp-example-module" in out.stderr
    assert p.wait(timeout=10) == 0


class Pty:
    def __init__(self, argv):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([str(a) for a in argv], stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True)
        os.close(slave)
        self.out = b""

    def type(self, keys: bytes):
        os.write(self.master, keys)

    def expect(self, text: bytes, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r} in {self.out!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    break
        assert text in self.out
        idx = self.out.index(text) + len(text)
        self.out = self.out[idx:]

    def close(self):
        os.close(self.master)


def test_interactive_console_on_a_terminal(procs, port):
    mu.start_example(procs, port)
    con = Pty([DP_SEND, "--port", port, "--interactive"])
    procs.procs.append(con.proc)
    try:
        con.expect(b"Connected to dp-example-module")
        con.expect(b"dp:%d> " % port)
        # a whole line in one write (a paste) is shown as sent, then its reply
        con.type(b'ECHO|{"text": "typed"}\r')
        con.expect(b'dp:%d> ECHO|{"text": "typed"}\x1b[K\r\n' % port)
        con.expect(b"typed\r\n")
        # edit: type "UX", backspace, "P" -> "UP"
        con.type(b"UX\x7fP\r")
        con.expect(b"\x1b[K1\r\n")
        # history: up twice gives the ECHO again; change the text with cursor keys
        con.type(b"\x1b[A\x1b[A\x1b[D\x1b[D\x1b[D!\r")
        con.expect(b"type!d\r\n")
        # a callback shows up while the console waits for input
        con.type(b'CALLBACK|{"target": "m", "pcomm": "GO", "payload": "now"}\r')
        con.expect(b"m|GO|now")
        con.type(b"\x04")  # Ctrl-D on an empty line quits
        assert con.proc.wait(timeout=10) == 0
    finally:
        con.close()
