"""The tutorial cannot rot: docs/tutorial.md shows exactly the files of
docs/tutorial/, and each step, built by CMake as tutorial-step<N>, does what
the text says when a control room drives it: answers the built-ins, watches a
stream, logs to dp-logserver, publishes the RMS on LSL, obeys STOP and CLOSE."""
from __future__ import annotations

import math
import os
import re
import uuid

import pylsl
import pytest

import helpers
import module_util as mu

DOCS = helpers.ROOT / "docs"
LOGSERVER = helpers.BIN_DIR / "dp-logserver"
MOCK = helpers.BIN_DIR / "dp-mock-stream"


def step(n: int):
    return helpers.BIN_DIR / f"tutorial-step{n}"


def test_tutorial_text_shows_the_files_exactly():
    text = (DOCS / "tutorial.md").read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```\n", text, re.S)
    shown = {name for name, _ in blocks}
    assert {"tutorial/step1.c", "tutorial/step2.c", "tutorial/step3.c",
            "tutorial/CMakeLists.txt"} <= shown
    for name, body in blocks:
        assert body == (DOCS / name).read_text(), (
            f"docs/tutorial.md shows an old {name}: run docs/tutorial_sync.py")


def start_step(procs, n: int, port: int, log_port: int, *extra):
    env = dict(os.environ, DP_LOG_HOST="127.0.0.1", DP_LOG_PORT=str(log_port))
    p = procs.start([step(n), f"--port={port}", "--loglevel=INFO", *extra], env=env)
    helpers.wait_for_port(port)
    return p


@pytest.fixture
def logserver(procs, tmp_path):
    """dp-logserver on a free port; returns (port, path of its log file)."""
    log_port = helpers.free_port()
    logfile = tmp_path / "session.log"
    procs.start([LOGSERVER, "--port", log_port, "--logfile", logfile, "--quiet"])
    helpers.wait_for_port(log_port)
    return log_port, logfile


@pytest.fixture
def mock_stream(procs):
    """A 4-channel 250 Hz sine stream (channel c at c+1 Hz, amplitude 1)."""
    name = f"tutorial_{uuid.uuid4().hex[:8]}"
    procs.start([MOCK, "--name", name, "--channels", "4", "--srate", "250", "--signal", "sine"])
    assert pylsl.resolve_byprop("name", name, 1, 20.0), "dp-mock-stream did not appear"
    return name


def wait_in_log(logfile, *lines):
    helpers.wait_until(lambda: logfile.exists() and all(s in logfile.read_text() for s in lines),
                       timeout=30.0, what=f"{lines} in the log server's file")


def close_and_wait(procs, p, client):
    client.send(b"CLOSE;")
    assert p.wait(30) == 0


def test_step1_answers_the_control_room(procs, port, logserver):
    p = start_step(procs, 1, port, logserver[0])
    c = mu.Client(port)
    assert c.greeting == b"Connected to power\n"
    assert c.request(b"GET_PCOMMS;", b"PING|STOP|CLOSE") == b"PING|STOP|CLOSE"
    assert c.request(b"UP;", b"1") == b"1"
    assert c.request(b"PING;", b"pong") == b"pong"
    close_and_wait(procs, p, c)


def test_step2_watches_the_stream_and_logs_to_the_log_server(procs, port, logserver,
                                                              mock_stream):
    log_port, logfile = logserver
    p = start_step(procs, 2, port, log_port, "--stream", mock_stream)
    c = mu.Client(port)
    c.send(b"START;")
    wait_in_log(logfile, f"power - INFO - watching {mock_stream}: 4 channels at 250 Hz")
    helpers.wait_until(lambda: re.search(r"power - INFO - [1-9]\d* new samples",
                                         logfile.read_text()),
                       timeout=30.0, what="a count of new samples in the log")
    c.send(b"STOP;")
    wait_in_log(logfile, f"power - INFO - stopped watching {mock_stream}")
    close_and_wait(procs, p, c)


def test_step3_publishes_the_rms_of_each_channel(procs, port, logserver, mock_stream):
    log_port, logfile = logserver
    p = start_step(procs, 3, port, log_port, f"--stream={mock_stream}")
    c = mu.Client(port)
    c.send(b'START|{"window_s": 1.0};')
    infos = pylsl.resolve_byprop("name", f"{mock_stream}_power", 1, 30.0)
    assert infos, "the power outlet did not appear"
    inlet = pylsl.StreamInlet(infos[0])
    info = inlet.info(10.0)
    assert info.channel_count() == 4 and info.type() == "Power"
    ch = info.desc().child("channels").child("channel")
    labels = []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    assert labels == ["ch1", "ch2", "ch3", "ch4"]  # dp-mock-stream's labels, carried over

    # A full second of a unit sine holds whole periods: its RMS is 1/sqrt(2).
    def settled():
        sample, _ = inlet.pull_sample(timeout=1.0)
        return sample is not None and all(abs(v - 1 / math.sqrt(2)) < 0.01 for v in sample)

    helpers.wait_until(settled, timeout=30.0, what="RMS values of 1/sqrt(2)")
    wait_in_log(logfile, f"publishing {mock_stream}_power: RMS of 4 channels over 250 samples")
    c.send(b"STOP;")
    wait_in_log(logfile, f"power - INFO - stopped publishing {mock_stream}_power")
    inlet.close_stream()
    close_and_wait(procs, p, c)


def test_step3_refuses_a_second_start_and_a_bad_window(procs, port, logserver, mock_stream):
    log_port, logfile = logserver
    p = start_step(procs, 3, port, log_port, f"--stream={mock_stream}")
    c = mu.Client(port)
    c.send(b'START|{"window_s": 0};')
    wait_in_log(logfile, "power - ERROR - START: window_s must be in (0, 60]")
    c.send(b"START;START;")
    wait_in_log(logfile, "power - WARNING - START: already running (STOP first)")
    close_and_wait(procs, p, c)
