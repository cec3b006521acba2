"""The tutorial cannot rot: docs/tutorial.md shows exactly the files of
docs/tutorial/, and each step, built by CMake as tutorial-step<N>, does what
the text says when a control room drives it: answers the built-ins, watches a
stream, logs to dp-logserver, publishes the RMS on LSL, filters the stream into
a band and publishes its power, obeys STOP and CLOSE."""
from __future__ import annotations

import math
import os
import re
import uuid

import numpy as np
import pylsl
import pytest
import scipy.signal

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
    steps = {f"tutorial/{p.name}" for p in (DOCS / "tutorial").glob("step*.c")}
    assert len(steps) == 4 and steps | {"tutorial/CMakeLists.txt"} <= shown
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


def start_mock(procs, channels: int) -> str:
    """A 250 Hz sine stream: channel c (from 0) is a unit sine at c+1 Hz."""
    name = f"tutorial_{uuid.uuid4().hex[:8]}"
    procs.start([MOCK, "--name", name, "--channels", channels, "--srate", "250",
                 "--signal", "sine"])
    assert pylsl.resolve_byprop("name", name, 1, 20.0), "dp-mock-stream did not appear"
    return name


@pytest.fixture
def mock_stream(procs):
    return start_mock(procs, 4)


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


def open_power_inlet(stream: str, channels: int) -> pylsl.StreamInlet:
    """An inlet on the module's outlet "<stream>_power", after checking that it
    has one channel per channel of the watched stream, with the same labels."""
    infos = pylsl.resolve_byprop("name", f"{stream}_power", 1, 30.0)
    assert infos, "the power outlet did not appear"
    inlet = pylsl.StreamInlet(infos[0])
    info = inlet.info(10.0)
    assert info.channel_count() == channels and info.type() == "Power"
    ch = info.desc().child("channels").child("channel")
    labels = []
    while not ch.empty():
        labels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    # dp-mock-stream's labels, carried over
    assert labels == [f"ch{i + 1}" for i in range(channels)]
    return inlet


def test_step3_publishes_the_rms_of_each_channel(procs, port, logserver, mock_stream):
    log_port, logfile = logserver
    p = start_step(procs, 3, port, log_port, f"--stream={mock_stream}")
    c = mu.Client(port)
    c.send(b'START|{"window_s": 1.0};')
    inlet = open_power_inlet(mock_stream, 4)

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


def test_step4_publishes_the_band_power_of_each_channel(procs, port, logserver):
    """Channel c of the mock stream is a unit sine at c+1 Hz (1..16 Hz). Through
    the 8-12 Hz Butterworth bandpass, the mean |x| over a second of channel c
    settles at 2/pi (the mean of a unit |sine|) times the filter's gain at c+1
    Hz, which scipy computes from its own design: about 0.64 inside the band,
    0.45 at its edges, below 0.001 from 6 Hz down and from 16 Hz up."""
    log_port, logfile = logserver
    stream = start_mock(procs, 16)
    p = start_step(procs, 4, port, log_port, f"--stream={stream}")
    c = mu.Client(port)
    c.send(b'START|{"low_hz": 8, "high_hz": 12, "window_s": 1.0};')
    inlet = open_power_inlet(stream, 16)
    wait_in_log(logfile, f"publishing {stream}_power: 8-12 Hz band power of 16 channels over 1 s")

    sos = scipy.signal.butter(8, [8, 12], "bandpass", fs=250, output="sos")
    _, h = scipy.signal.sosfreqz(sos, worN=np.arange(1, 17), fs=250)
    expected = np.abs(h) * 2 / np.pi
    assert (expected[8:11] > 0.63).all() and (expected[:6] < 1e-3).all() and expected[15] < 1e-3
    last = []

    def settled():
        sample, _ = inlet.pull_sample(timeout=1.0)
        if sample is not None:
            last[:] = sample
        return sample is not None and np.allclose(sample, expected, rtol=0, atol=0.01)

    try:
        helpers.wait_until(settled, timeout=60.0, what="the band power of every channel")
    except AssertionError:
        raise AssertionError(f"last sample {np.round(last, 4)}, expected {np.round(expected, 4)}")
    c.send(b"STOP;")
    helpers.wait_until(
        lambda: re.search(rf"power - INFO - stopped publishing {stream}_power after [1-9]\d* ticks, "
                          r"\d+ overruns", logfile.read_text()),
        timeout=30.0, what="the stop line with the loop's counters")
    inlet.close_stream()
    close_and_wait(procs, p, c)


@pytest.mark.parametrize("band, error", [
    (b'{"low_hz": 12, "high_hz": 8}', "low edge 12 Hz must be below high edge 8 Hz"),
    (b'{"low_hz": 8, "high_hz": 200}', "high edge 200 Hz must be inside (0, fs/2) = (0, 125) Hz"),
])
def test_step4_refuses_a_bad_band_with_the_reason(procs, port, logserver, mock_stream, band,
                                                 error):
    log_port, logfile = logserver
    p = start_step(procs, 4, port, log_port, f"--stream={mock_stream}")
    c = mu.Client(port)
    c.send(b"START|" + band + b";")
    wait_in_log(logfile, f"power - ERROR - cannot start on {mock_stream}: ", error)
    assert "publishing" not in logfile.read_text()
    close_and_wait(procs, p, c)
