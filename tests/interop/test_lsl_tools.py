"""dp-mock-stream and dp-watch as a user runs them: every format through the
CSV, markers, listing, Ctrl-C, a restarted publisher, and the messages for a
missing stream and a missing liblsl."""
from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import uuid

import numpy as np
import pytest

import dp_lib
from helpers import BIN_DIR, wait_until

MOCK, WATCH = BIN_DIR / "dp-mock-stream", BIN_DIR / "dp-watch"
WRAP = {"int8": 100, "int16": 30000}  # dp-mock-stream's ramp wraps here (else 2^24)


@pytest.fixture(scope="module")
def lib():
    return dp_lib.load_lsl(dp_lib.load())


def unique(prefix="dp-tool"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def visible(lib, name):
    return len(dp_lib.find_streams(lib, f"name='{name}'", 1, 2.0)) > 0


def start_mock(procs, lib, name, *args):
    p = procs.start([MOCK, "--name", name, *args])
    wait_until(lambda: visible(lib, name), 15.0, what=f"stream {name}")
    return p


def watch(args, timeout=30.0):
    return subprocess.run([str(WATCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.mark.parametrize("fmt", ["float32", "double64", "int32", "int16", "int8", "int64",
                                 "string"])
def test_ramp_of_every_format_through_dp_watch_csv(procs, lib, tmp_path, fmt):
    name, srate = unique(), 1000
    start_mock(procs, lib, name, "--channels", "3", "--srate", srate, "--format", fmt,
               "--signal", "ramp", "--chunk", "20")
    out = tmp_path / "w.csv"
    r = watch(["--name", name, "--samples", 600, "--seconds", 20, "--csv", out])
    assert r.returncode == 0, r.stderr
    m = re.search(r"'(.+)' (\d+) samples in .* buffer (\d+) x 3 (\w+), recoveries 0", r.stdout)
    assert m and m.group(1) == name and int(m.group(2)) >= 600, r.stdout
    assert int(m.group(3)) == 2 * srate and m.group(4) == fmt
    header, rows = read_csv(out)
    assert header == ["timestamp", "ch1", "ch2", "ch3"]  # labels from the outlet's metadata
    assert len(rows) == min(int(m.group(2)), 2 * srate)
    t = np.array([float(r[0]) for r in rows])
    v = np.array([[int(float(x)) for x in r[1:]] for r in rows])
    assert (v[:, 0] == v[:, 1]).all() and (v[:, 0] == v[:, 2]).all()
    steps = np.diff(v[:, 0]) % WRAP.get(fmt, 1 << 24)
    assert (steps == 1).all(), "the ramp must be continuous"
    np.testing.assert_allclose(np.diff(t), 1 / srate, rtol=1e-6)


def test_markers_stream_beside_the_signal(procs, lib, tmp_path):
    name = unique()
    start_mock(procs, lib, name, "--channels", "2", "--srate", "100", "--markers")
    wait_until(lambda: visible(lib, name + "_markers"), 15.0, what="the marker stream")
    out = tmp_path / "m.csv"
    r = watch(["--name", name + "_markers", "--samples", 2, "--seconds", 20, "--csv", out])
    assert r.returncode == 0, r.stderr
    header, rows = read_csv(out)
    assert header == ["timestamp", "ch_1"]  # no labels in its metadata: the default
    k = [int(row[1].split()[1]) for row in rows]
    assert all(row[1].startswith("marker ") for row in rows) and k == list(range(k[0], k[0] + 2))


def test_list_shows_every_field(procs, lib):
    name, sid = unique(), unique("sid")
    start_mock(procs, lib, name, "--type", "EMG", "--channels", "5", "--srate", "250",
               "--format", "int16", "--source-id", sid)
    r = watch(["--list", "--wait", "1"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["name", "type", "channels", "rate", "format",
                                                "source_id", "host"]
    line = next(line for line in r.stdout.splitlines() if line.startswith(name + " "))
    assert line.split()[:6] == [name, "EMG", "5", "250", "int16", sid]


def test_ctrl_c_stops_the_mock_stream_cleanly(procs, lib):
    name = unique()
    p = start_mock(procs, lib, name, "--srate", "500")
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 0
    assert "stopped after" in p.stderr.read().decode()
    assert f"publishing '{name}'" in p.stdout.read().decode()
    wait_until(lambda: not visible(lib, name), 15.0, what="the stream to disappear")


def test_dp_watch_follows_a_restarted_mock_stream(procs, lib):
    name = unique()
    first = start_mock(procs, lib, name, "--channels", "2", "--srate", "1000", "--duration", "2")
    w = procs.start([WATCH, "--name", name, "--samples", 3000, "--seconds", 60])
    assert w.stdout.readline().decode().startswith(f"dp-watch: connected to '{name}'")
    # The first outlet runs its 2 s and ends by itself, as a restarted device
    # would; the watcher must notice the new one. (An outlet that vanishes in the
    # first milliseconds after connecting, before liblsl's clock offset is known,
    # is reconnected too, but liblsl's silent recovery then goes uncounted.)
    assert first.wait(30) == 0  # at most 2000 samples came from it
    procs.start([MOCK, "--name", name, "--channels", "2", "--srate", "1000"])
    assert w.wait(60) == 0, w.stderr.read().decode()
    summary = w.stdout.read().decode()
    m = re.search(r"(\d+) samples in .* recoveries (\d+)", summary)
    assert m and int(m.group(1)) >= 3000 and int(m.group(2)) >= 1, summary


@pytest.mark.parametrize("equals", [False, True])
def test_missing_stream_times_out_with_a_clear_error(equals):
    name = unique("absent")
    argv = [f"--name={name}", "--timeout=0.5"] if equals else ["--name", name, "--timeout", "0.5"]
    r = watch(argv)
    assert r.returncode == 1
    assert f"no LSL stream named '{name}' appeared within 0.5 s" in r.stderr


def test_missing_liblsl_gives_the_clear_message(tmp_path):
    env = dict(os.environ, DP_LSL_LIB=str(tmp_path / "no" / "liblsl-a.so"),
               PYLSL_LIB=str(tmp_path / "no" / "liblsl-b.so"))
    for argv in ([WATCH, "--list"], [MOCK, "--name", unique()]):
        r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                           timeout=30)
        assert r.returncode == 1
        msg = r.stderr
        assert "liblsl could not be loaded" in msg
        for tried in (env["DP_LSL_LIB"], env["PYLSL_LIB"], "liblsl.so.2", "liblsl.so "):
            assert tried in msg, tried
        assert "pip install pylsl" in msg and "DP_LSL_LIB" in msg


def test_not_liblsl_is_refused(tmp_path):
    """A library that loads but is no liblsl: the missing symbol is named."""
    env = dict(os.environ, DP_LSL_LIB=str(dp_lib.helpers.LIB_DIR / "libdareplane.so"))
    env.pop("PYLSL_LIB", None)
    r = subprocess.run([str(WATCH), "--list"], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 1
    assert "has no lsl_library_version" in r.stderr


@pytest.mark.parametrize("argv", [["--format", "nope"], ["--signal", "square"], ["--srate", "x"],
                                  ["--srate=x"], ["--format=nope"], ["--channels=0"],
                                  ["--chunk"], ["--bogus"], ["stray"], []])
def test_mock_stream_rejects_bad_arguments(argv):
    r = subprocess.run([str(MOCK), *(["--name", "x"] if argv else []), *argv],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage:" in r.stderr
    assert r.stderr.startswith("dp-mock-stream: ")  # says what was wrong first


def test_mock_stream_takes_key_equals_value(procs, lib):
    name = unique()
    p = procs.start([MOCK, f"--name={name}", "--channels=2", "--srate=100", "--duration=30"])
    wait_until(lambda: visible(lib, name), 15.0, what=f"stream {name}")
    r = watch([f"--name={name}", "--samples=5", "--seconds=20"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"connected to '" + re.escape(name) + r"'.*2 ch", r.stdout), r.stdout
    assert p.poll() is None


def test_watch_rejects_bad_arguments():
    for argv in ([], ["--seconds", "abc", "--name", "x"], ["--seconds=abc", "--name=x"],
                 ["--bogus"], ["--name"], ["stray"]):
        r = subprocess.run([str(WATCH), *argv], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "usage:" in r.stderr
