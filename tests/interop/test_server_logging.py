"""dp-example-module's log records reach the central log server like a Python
module's: commands received, invalid JSON and unknown commands as ERROR and
WARNING records, and the workers' own records, all in dp-logserver's file."""
import os

import helpers
import module_util as mu

LOGSERVER = helpers.BIN_DIR / "dp-logserver"


def test_errors_and_worker_records_reach_the_log_server(procs, port, tmp_path):
    log_port = helpers.free_port()
    logfile = tmp_path / "socket.log"
    procs.start([LOGSERVER, "--host", "127.0.0.1", "--port", log_port, "--logfile", logfile,
                 "--quiet"])
    helpers.wait_for_port(log_port)
    env = dict(os.environ, DP_LOG_HOST="127.0.0.1", DP_LOG_PORT=str(log_port))
    procs.start([mu.EXAMPLE, f"--port={port}", "--loglevel=INFO"], env=env)
    helpers.wait_for_port(port)
    c = mu.Client(port)
    c.send(b'ECHO|{"text": ;NOPE;COUNT|{"to": 2, "hz": 100};')
    assert c.request(b'ECHO|{"text": "logged"};', b"logged") == b"logged"
    expected = [
        "dareplane.server - INFO - dp-example-module listening on 127.0.0.1:",
        'dareplane.server - ERROR - ignoring command ECHO|{"text": : invalid JSON',
        "dareplane.server - WARNING - Unknown pcomm in NOPE",
        "dp-example-module - INFO - count 2/2",
        'dareplane.server - INFO - Received: ECHO|{"text": "logged"}',
    ]
    helpers.wait_until(lambda: all(e in logfile.read_text() for e in expected),
                       what="the module's records in dp-logserver's file")
