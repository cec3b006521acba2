"""A control room that captures a module's output and never reads it: stderr
is a pipe nobody drains. The module's console must never block its threads
(issue 9 item 5): it keeps answering UP while it logs thousands of lines, its
records still reach the log server, and once stderr is read again the
console says how many lines it dropped."""
import os
import re
import select
import subprocess
import time

import helpers
import module_util as mu

LOGSERVER = helpers.BIN_DIR / "dp-logserver"
COUNT = 20000  # lines of about 70 bytes: more than the console queue (1 MiB) holds


def read_stderr_until(p, pattern: re.Pattern, timeout: float = 30.0) -> str:
    """Drains the module's stderr until `pattern` shows up."""
    text = b""
    deadline = time.monotonic() + timeout
    fd = p.stderr.fileno()
    while not pattern.search(text.decode("utf-8", "replace")):
        left = deadline - time.monotonic()
        assert left > 0, f"no {pattern.pattern!r} on stderr; tail: {text[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            assert chunk, "stderr closed"
            text += chunk
    return text.decode("utf-8", "replace")


def test_undrained_stderr_never_stops_the_module(procs, port, tmp_path):
    log_port = helpers.free_port()
    logfile = tmp_path / "socket.log"
    procs.start([LOGSERVER, "--port", log_port, "--logfile", logfile, "--quiet"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    helpers.wait_for_port(log_port)
    env = dict(os.environ, DP_LOG_HOST="127.0.0.1", DP_LOG_PORT=str(log_port))
    # stderr: a pipe that this test does not read until the end
    p = procs.start([mu.EXAMPLE, f"--port={port}", "--loglevel=INFO"], env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    helpers.wait_for_port(port)
    c = mu.Client(port)
    # A worker logs COUNT lines (far more than a pipe holds) ...
    c.send(b'COUNT|{"to": %d, "hz": 5000};' % COUNT)
    helpers.wait_until(lambda: f"count done at {COUNT}" in logfile.read_text(), timeout=60,
                       what="the worker's last record in the log server's file")
    # ... and the loop thread logs "Received: ..." for each of these: every
    # one is answered.
    n = 2000
    assert c.request(b'ECHO|{"text": "e"};' * n, b"e" * n) == b"e" * n
    fresh = mu.Client(port)
    assert fresh.greeting == b"Connected to dp-example-module\n"
    assert fresh.request(b"UP;", b"1") == b"1"
    # The network handler lost nothing meanwhile.
    text = logfile.read_text()
    assert all(f"count {i}/{COUNT}" in text for i in (1, COUNT // 2, COUNT))
    # Read again, the console reports the lines it had to drop.
    out = read_stderr_until(p, re.compile(r"dareplane\.log - WARNING - (\d+) console lines? "
                                          r"dropped here: stderr was not being read"))
    assert "dp-example-module - INFO - count 1/" in out
    fresh.close()
    c.close()
