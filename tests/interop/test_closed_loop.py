"""The reference modules against the Python chain written the ecosystem's way
(peers/chain_module.py): on the same recorded input, fed one chunk at a
time, dp-passthrough computes the same medians and dp-threshold-controller
the same decisions as the Python modules; every output keeps the timestamp
of the input sample it came from; the hysteresis rule; and bad flags and bad
payloads are refused with a clear error while the module keeps running."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest

import helpers
from helpers import BIN_DIR, wait_until
from module_util import Client, module_env

PEER = Path(__file__).resolve().parent / "peers" / "chain_module.py"
PASS, CTRL, STIM = (BIN_DIR / n for n in ("dp-passthrough", "dp-threshold-controller",
                                            "dp-stimulator"))


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start(procs, argv):
    port = helpers.free_port()
    procs.start([*argv, f"--port={port}"], env=module_env())
    helpers.wait_for_port(port, 20)
    return port


def send(port, cmd, expect=b""):
    """Sends one command on a new connection; reads the expected reply."""
    c = Client(port)
    c.send(cmd.encode() + b";")
    out = c.read_exactly(len(expect)) if expect else b""
    c.close()
    return out


def inlet(name):
    streams = wait_until(lambda: pylsl.resolve_byprop("name", name, 1, 0.5), 20,
                         what=f"stream {name}")
    i = pylsl.StreamInlet(streams[0], max_buflen=60)
    i.open_stream(10)
    return i


def pull(i):
    data, ts = i.pull_chunk(timeout=0.0)
    return [d[0] for d in data], list(ts)


def groups(seq, tol):
    """seq with each run of values within tol of the run's first collapsed to
    that value (the Python modules push each value many times)."""
    out = []
    for v in seq:
        if not out or abs(v - out[-1]) > tol:
            out.append(v)
    return out


def chunk_levels(rng, n):
    """Per-chunk levels of channel 3: away from the threshold 0 and at least
    0.3 from the previous one, so that a chunk's median is known to within
    the noise however a reader splits chunks."""
    levels = []
    while len(levels) < n:
        v = rng.choice([-1, 1]) * rng.uniform(0.2, 2.0)
        if not levels or abs(v - levels[-1]) >= 0.3:
            levels.append(v)
    return np.array(levels)


class Collector:
    def __init__(self, name):
        self.inlet = inlet(name)
        self.values, self.times = [], []

    def poll(self):
        v, t = pull(self.inlet)
        self.values += v
        self.times += t
        return len(self.values)


def test_same_values_and_decisions_as_the_python_chain(procs):
    rng = np.random.default_rng(11)
    n_chunks, size, threshold, noise = 40, 20, 0.0, 0.01
    data = rng.normal(0, 1, (n_chunks + 1, size, 4)).astype(np.float32)
    levels = chunk_levels(rng, n_chunks + 1)
    data[:, :, 2] = (levels[:, None] + rng.uniform(-noise, noise, (n_chunks + 1, size)))
    names = {k: unique(k) for k in ("in", "cdec", "cctl", "pdec", "pctl")}
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(names["in"], "EEG", 4, 1000, "float32",
                                                 names["in"]))
    py = [sys.executable, PEER]
    cp = start(procs, [PASS, f"--in_stream={names['in']}", f"--out_stream={names['cdec']}",
                       "--channel=3"])
    pp = start(procs, [*py, "passthrough", f"--in_stream={names['in']}",
                       f"--out_stream={names['pdec']}", "--channel=3"])
    for p in (cp, pp):
        send(p, "START")
    cdec, pdec = Collector(names["cdec"]), Collector(names["pdec"])
    cc = start(procs, [CTRL, f"--in_stream={names['cdec']}", f"--out_stream={names['cctl']}",
                       f"--threshold={threshold}"])
    pc = start(procs, [*py, "controller", f"--in_stream={names['pdec']}",
                       f"--out_stream={names['pctl']}", f"--threshold={threshold}"])
    for p in (cc, pc):
        send(p, "START")
    cctl, pctl = Collector(names["cctl"]), Collector(names["pctl"])
    outs = (cdec, pdec, cctl, pctl)

    t0 = pylsl.local_clock()
    last_times = []
    for k in range(n_chunks + 1):  # chunk 0 warms every inlet up and is not compared
        times = [t0 + (k * size + i) / 1000 for i in range(size)]
        last_times.append(times[-1])
        before = [o.poll() for o in outs]
        outlet.push_chunk(data[k].tolist(), times)
        wait_until(lambda: all(o.poll() > b for o, b in zip(outs, before))
                   and times[-1] in cctl.times, 30, what=f"every output for chunk {k}")
        if k == 0:
            marks = [len(o.values) for o in outs]

    # C: one output per batch, stamped with the batch's newest input sample.
    # liblsl may deliver a chunk in two batches (often, under load); a chunk
    # that came as one batch must give numpy's median exactly.
    c_by_time = dict(zip(cdec.times, cdec.values))
    c_vals = [c_by_time[t] for t in last_times[1:]]
    single = [k for k in range(1, n_chunks + 1)
              if sum(1 for t in cdec.times if last_times[k - 1] < t <= last_times[k]) == 1]
    assert single, "no chunk came as one batch"
    for k in single:
        assert c_by_time[last_times[k]] == float(np.float32(np.median(data[k][:, 2])))
    # Python and C see the same values and take the same decisions.
    tol = 2 * noise
    py_vals = groups(pdec.values[marks[1]:], tol)
    if abs(py_vals[0] - levels[0]) <= tol:  # late copies of the warm-up chunk's value
        py_vals = py_vals[1:]
    np.testing.assert_allclose(py_vals, groups(c_vals, tol), atol=tol)
    np.testing.assert_allclose(c_vals, levels[1:], atol=noise)
    decisions = [150.0 if v > threshold else 10.0 for v in levels[1:]]
    c_ctl = dict(zip(cctl.times, cctl.values))
    assert [c_ctl[t] for t in last_times[1:]] == decisions
    warm = 150.0 if levels[0] > threshold else 10.0
    py_dec = groups(pctl.values[marks[3]:], 0)
    if py_dec[0] == warm and groups(decisions, 0)[0] != warm:
        py_dec = py_dec[1:]
    assert py_dec == groups(decisions, 0)
    assert len(groups(decisions, 0)) > 5  # the input makes the decision change often


def test_hysteresis_and_stimulator_markers(procs):
    names = {k: unique(k) for k in ("dec", "ctl", "stim")}
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(names["dec"], "decoder_output", 1, 2000,
                                                 "float32", names["dec"]))
    cc = start(procs, [CTRL, f"--in_stream={names['dec']}", f"--out_stream={names['ctl']}",
                       "--threshold=0.7", "--hysteresis=0.5"])
    sp = start(procs, [STIM, f"--in_stream={names['ctl']}", f"--out_stream={names['stim']}"])
    send(cc, "START")
    ctl = Collector(names["ctl"])
    send(sp, "START")
    stim = Collector(names["stim"])
    wait_until(lambda: outlet.have_consumers(), 20, what="the controller's inlet")
    values = [0.0, 1.0, 0.5, 0.1, 0.5, 0.9, 0.3]
    expected = [10, 150, 150, 10, 10, 150, 150]
    t0 = pylsl.local_clock()
    for k, v in enumerate(values):
        outlet.push_sample([v], t0 + k * 0.001)
        wait_until(lambda: ctl.poll() and ctl.times[-1] == t0 + k * 0.001, 20,
                   what=f"the decision for {v}")
    assert ctl.values[-len(values):] == expected
    wait_until(lambda: stim.poll() >= 3, 20, what="the stimulator's markers")
    marks = list(zip(stim.values, stim.times))
    assert marks == [("on", t0 + 0.001), ("off", t0 + 0.003), ("on", t0 + 0.005)]
    assert send(sp, "STATE", b"on") == b"on"


@pytest.mark.parametrize("prog,flag,why", [
    (PASS, "--channel=abc", "--channel must be a number"),
    (PASS, "--channel=0", "--channel must be a number in [1, 65536]"),
    (PASS, "--channel=2.5", "--channel must be a whole number"),
    (PASS, "--buffer_s=-1", "--buffer_s must be a number"),
    (CTRL, "--threshold=nan", "--threshold must be a number"),
    (CTRL, "--hysteresis=-1", "--hysteresis must be a number in [0,"),
    (STIM, "--wait_ms=0", "--wait_ms must be a number in [1, 10000]"),
    (STIM, "--in_stream=", "--in_stream and --out_stream must not be empty"),
])
def test_bad_flags_are_refused(prog, flag, why):
    r = subprocess.run([str(prog), flag, f"--port={helpers.free_port()}"], capture_output=True,
                       text=True, timeout=30, env=module_env())
    assert r.returncode == 1
    assert why in r.stderr


def test_bad_payloads_are_refused_and_the_module_keeps_running(procs):
    p = start(procs, [CTRL, "--in_stream=" + unique("none"), "--error_replies",
                      "--connect_timeout_s=60"])
    c = Client(p)
    bad = ['SET_THRESHOLD|{"threshold": "x"}', "SET_THRESHOLD|{}",
           'SET_THRESHOLD|{"threshold": 1, "hysteresis": -1}', "SET_THRESHOLD|[1]",
           'SET_THRESHOLD|{"threshold": 1e999}']
    for cmd in bad:
        c.send(cmd.encode() + b";")
        assert c.read_until(b"\n").startswith(b"ERROR"), cmd
    c.send(b"START;")   # waits for its input in a worker
    c.send(b"START;")   # a second START while running is refused
    assert c.read_until(b"\n").startswith(b"ERROR")
    reply = b"threshold 2.5, hysteresis 0.5"
    assert c.request(b'SET_THRESHOLD|{"threshold": 2.5, "hysteresis": 0.5};', reply) == reply
    assert c.request(b"UP;", b"1") == b"1"
    q = start(procs, [PASS, "--in_stream=" + unique("none"), "--error_replies"])
    d = Client(q)
    for cmd in ['SET_CHANNEL|{"channel": 0}', 'SET_CHANNEL|{"channel": 1.5}',
                'SET_CHANNEL|{"channel": "3"}']:
        d.send(cmd.encode() + b";")
        assert d.read_until(b"\n").startswith(b"ERROR"), cmd
    assert d.request(b"UP;", b"1") == b"1"


def test_bursts_and_the_latency_probe(procs, tmp_path):
    """dp-mock-stream marks each burst on its first sample; dp-latency times
    the C chain from those bursts to the stimulator's "on", per hop and per
    stream, and writes what it saw as JSON."""
    src, dec, ctl, stim = (unique(k) for k in ("src", "dec", "ctl", "stim"))
    procs.start([BIN_DIR / "dp-mock-stream", "--name", src, "--channels", "4", "--chunk", "1",
                 "--burst-every", "0.5", "--burst-length", "0.2", "--burst-amplitude", "5"])
    slow = "--connect_timeout_s=60"  # the machine may be loaded
    stages = [([PASS, f"--in_stream={src}", f"--out_stream={dec}", "--channel=1", slow], dec),
              ([CTRL, f"--in_stream={dec}", f"--out_stream={ctl}", "--threshold=2", slow], ctl),
              ([STIM, f"--in_stream={ctl}", f"--out_stream={stim}", slow], stim)]
    for argv, output in stages:  # each stage's output exists before the next starts
        send(start(procs, argv), "START")
        wait_until(lambda: pylsl.resolve_byprop("name", output, 1, 0.5), 60,
                   what=f"stream {output}")
    out = tmp_path / "probe.json"
    r = subprocess.run([str(BIN_DIR / "dp-latency"), "--stream", src, "--stream", f"{dec}@2",
                        "--stream", ctl, "--bursts", f"{src}_bursts", "--stim", stim,
                        "--seconds", "3", "--json", str(out), "--timeout", "60"],
                       capture_output=True, text=True, timeout=90, env=module_env())
    assert r.returncode == 0, r.stderr
    assert "burst first sample -> stimulation on" in r.stdout
    d = json.loads(out.read_text())
    s_src, s_dec, s_ctl = d["streams"]
    # each burst marker is stamped with the first sample of a burst: the signal
    # jumps there by about the amplitude
    v = dict(zip(s_src["t"], s_src["v"]))
    times = sorted(v)
    checked = 0
    for b in d["bursts"]["t"]:
        if b in v and times.index(b) > 0:
            before = v[times[times.index(b) - 1]]
            assert v[b] - before > 3, (b, v[b], before)
            checked += 1
    assert checked >= 3
    # the stimulator switched on once per burst, some ms after the burst began
    assert len(d["burst_on_ms"]) >= 3
    assert all(0 < ms < 1000 for ms in d["burst_on_ms"])
    # hops are matched by the kept source timestamps; ages grow along the chain
    assert len(s_dec["hop_ms"]) > 100 and len(s_ctl["hop_ms"]) > 100
    assert all(h >= 0 for h in s_dec["hop_ms"] + s_ctl["hop_ms"])
    assert np.median(s_ctl["age_ms"]) >= np.median(s_src["age_ms"])
    assert sum(1 for o in s_dec["onset_ms"] if o >= 0) >= 3


def test_latency_probe_matches_a_result_that_arrives_before_its_burst_marker(tmp_path):
    """A burst marker travels on its own connection and can reach dp-latency
    after the first result of its burst (a fast chain's): the onset is still
    that result's arrival, not the next result's."""
    dec, bursts = unique("dec"), unique("bursts")
    out_dec = pylsl.StreamOutlet(pylsl.StreamInfo(dec, "decoder_output", 1, 0, "float32",
                                                  f"{dec}-id"))
    out_b = pylsl.StreamOutlet(pylsl.StreamInfo(bursts, "Markers", 1, 0, "string",
                                                f"{bursts}-id"))
    out = tmp_path / "probe.json"
    probe = subprocess.Popen([str(BIN_DIR / "dp-latency"), "--stream", f"{dec}@2", "--bursts",
                              bursts, "--seconds", "3", "--json", str(out), "--timeout", "60"],
                             stdout=subprocess.PIPE, text=True, env=module_env())
    try:
        assert "watching" in probe.stdout.readline()
        mine = inlet(dec)  # a second consumer: the result is on the wire once it has it
        t0 = pylsl.local_clock()
        out_dec.push_sample([5.0], t0 + 0.001)  # the burst's first result
        got = []
        wait_until(lambda: got.extend(pull(mine)[1]) or got, 20, what="the first result")
        out_b.push_sample(["burst"], t0)  # its marker, late
        out_dec.push_sample([6.0], t0 + 0.002)  # the next result
        probe.communicate(timeout=60)
        assert probe.returncode == 0
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.communicate()
    d = json.loads(out.read_text())
    s = d["streams"][0]
    assert d["bursts"]["t"] == [t0] and s["t"][:1] == [t0 + 0.001] and s["v"][:1] == [5.0]
    assert s["onset_ms"] == pytest.approx([1e3 * (s["arrival"][0] - t0)])
