"""The C StreamWatcher against real pylsl outlets (same liblsl as the venv's
pylsl), driven through ctypes: formats, labels, buffer sizes, markers,
recovery, timeouts, and the Python StreamWatcher reading the same stream."""
from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pylsl
import pytest
from dareplane_utils.stream_watcher.lsl_stream_watcher import StreamWatcher

import dp_lib
from helpers import wait_until

FORMATS = {  # our dtype code -> (pylsl format, numpy dtype or None for strings)
    1: (pylsl.cf_float32, np.float32),
    2: (pylsl.cf_double64, np.float64),
    3: (pylsl.cf_string, None),
    4: (pylsl.cf_int32, np.int32),
    5: (pylsl.cf_int16, np.int16),
    6: (pylsl.cf_int8, np.int8),
    7: (pylsl.cf_int64, np.int64),
}


@pytest.fixture(scope="module")
def lib():
    return dp_lib.load_lsl(dp_lib.load())


@pytest.fixture
def watchers(lib):
    made = []

    def make(name, buffer_size_s=2.0):
        w = dp_lib.CStreamWatcher(lib, name, buffer_size_s)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def unique(prefix="dp-test"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_outlet(name, n_ch=3, srate=100.0, fmt=pylsl.cf_float32, source_id="", labels=None,
                units=None, types=None, stype="EEG"):
    info = pylsl.StreamInfo(name, stype, n_ch, srate, fmt, source_id)
    if labels or units or types:
        chans = info.desc().append_child("channels")
        for i in range(n_ch):
            ch = chans.append_child("channel")
            if labels:
                ch.append_child_value("label", labels[i])
            if units:
                ch.append_child_value("unit", units[i])
            if types:
                ch.append_child_value("type", types[i])
    return pylsl.StreamOutlet(info)


def drain(w, n_expected, timeout=10.0):
    """Updates until the watcher has received n_expected samples in total."""
    got = [0]

    def enough():
        rc = w.update()
        assert rc >= 0, w.error()
        got[0] += rc
        return got[0] >= n_expected

    wait_until(enough, timeout, what=f"{n_expected} samples")
    return got[0]


def sample_values(code, n, n_ch, seed=0):
    rng = np.random.default_rng(seed)
    if code == 3:
        return [[f"s{i}-{c}-{rng.integers(1e6)}" for c in range(n_ch)] for i in range(n)]
    dtype = FORMATS[code][1]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        vals = rng.integers(info.min, info.max, size=(n, n_ch), dtype=dtype, endpoint=True)
        vals[0, :] = info.min  # the extremes travel too
        vals[1, :] = info.max
        return vals
    return rng.standard_normal((n, n_ch)).astype(dtype) * dtype(1e3)


@pytest.mark.parametrize("code", sorted(FORMATS), ids=lambda c: dp_lib.DTYPE_NAMES[c])
def test_every_format_round_trips_exactly(watchers, code):
    name, n, n_ch = unique(), 150, 3
    outlet = make_outlet(name, n_ch, 100.0, FORMATS[code][0], source_id=name)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.dtype_code == code and w.n_channels == n_ch
    assert outlet.wait_for_consumers(5.0)
    values = sample_values(code, n, n_ch)
    stamps = 1000.0 + np.arange(n) / 100.0 + 1e-7 * np.arange(n) ** 1.5  # irregular decimals
    outlet.push_chunk(values if code == 3 else np.ascontiguousarray(values), stamps.tolist())
    assert drain(w, n) == n
    data, times = w.newest(n)
    np.testing.assert_array_equal(times, stamps)  # bit-exact doubles
    if code == 3:
        assert data.tolist() == values
    else:
        assert data.dtype == FORMATS[code][1]
        np.testing.assert_array_equal(data, values)
    assert w.n_new == n and w.last_t == stamps[-1]


@pytest.mark.parametrize("n_ch", [1, 7])
def test_labels_units_and_types_from_metadata(watchers, n_ch):
    name = unique()
    labels = [f"Fp{i}" for i in range(n_ch)]
    units = ["microvolts"] * n_ch
    types = ["EEG"] * (n_ch - 1) + ["EOG"]
    _outlet = make_outlet(name, n_ch, labels=labels, units=units, types=types)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.channel_names == labels
    assert w.units == units
    assert w.channel_types == types


def test_default_labels_without_metadata(watchers):
    name = unique()
    _outlet = make_outlet(name, 4)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.channel_names == ["ch_1", "ch_2", "ch_3", "ch_4"]
    assert w.units == [""] * 4


@pytest.mark.parametrize("srate,buffer_s,expected", [(100.0, 2.5, 250), (512.0, 2.0, 1024),
                                                     (10.0, 0.33, 3), (0.0, 2.0, 1000)])
def test_buffer_length_from_rate_and_seconds(watchers, srate, buffer_s, expected):
    name = unique()
    _outlet = make_outlet(name, 2, srate)
    w = watchers(name, buffer_s)
    assert w.connect(10.0) == 0, w.error()
    assert w.capacity == expected == (int(srate * buffer_s) if srate else 1000)


def test_string_markers_arrive_in_order(watchers):
    name = unique()
    outlet = make_outlet(name, 1, 0.0, pylsl.cf_string, stype="Markers")
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert outlet.wait_for_consumers(5.0)
    markers = [f"marker {i} \u00e9\u4e2d" for i in range(200)]  # UTF-8 passes through
    for i, m in enumerate(markers):
        outlet.push_sample([m], 500.0 + i)
    assert drain(w, len(markers)) == len(markers)
    data, times = w.newest(len(markers))
    assert data[:, 0].tolist() == markers
    assert times.tolist() == [500.0 + i for i in range(len(markers))]


def test_python_and_ours_hold_identical_data(watchers):
    name, n_ch, srate = unique(), 8, 1000.0
    outlet = make_outlet(name, n_ch, srate, source_id=name)
    py = StreamWatcher(name, buffer_size_s=2)
    py.connect_to_stream()
    py.inlet.open_stream(5.0)  # so that no sample is missed before its first update
    ours = watchers(name, 2.0)
    assert ours.connect(10.0) == 0, ours.error()
    rng = np.random.default_rng(7)
    n_total = 3500  # more than the 2000-sample buffer: both wrap around
    t = 2000.0 + np.arange(n_total) / srate
    for start in range(0, n_total, 250):
        outlet.push_chunk(rng.standard_normal((250, n_ch)).astype(np.float32),
                          t[start:start + 250].tolist())
    py_seen = [0]

    def both_done():
        py.update()
        py_seen[0] += py.n_new
        py.n_new = 0
        ours.update()
        # liblsl queues at most a buffer's worth for ours (the rest would be
        # overwritten in the ring anyway), so ours counts only what it kept
        return py_seen[0] >= n_total and ours.last_t == t[-1]

    wait_until(both_done, 15.0, what="both watchers to see the last sample")
    assert ours.capacity <= ours.n_new <= n_total
    assert ours.capacity == py.ring_buffer.buffer.shape[0] == 2000
    np.testing.assert_array_equal(ours.unfold_buffer(), py.unfold_buffer())
    np.testing.assert_array_equal(ours.unfold_buffer_t(), py.unfold_buffer_t())
    assert ours.channel_names == py.channel_names
    py.disconnect()


def test_ramp_stays_continuous_across_updates_and_wraps(watchers, procs):
    name, srate = unique(), 5000
    bin_dir = dp_lib.helpers.BIN_DIR
    procs.start([bin_dir / "dp-mock-stream", "--name", name, "--channels", "2", "--srate",
                 srate, "--chunk", "25", "--signal", "ramp", "--format", "int32"])
    w = watchers(name, 0.1)  # 500 samples: wraps every 0.1 s
    assert w.connect(10.0) == 0, w.error()
    assert w.capacity == 500
    prev_v, prev_t, updates, seen = None, None, 0, 0
    w.clear_new()

    def step():
        nonlocal prev_v, prev_t, updates, seen
        assert w.update() >= 0, w.error()
        n = w.n_new
        if n == 0:
            return False
        # A poll later than 0.1 s (a loaded machine) finds more than the ring
        # holds: the ring keeps the newest `capacity`, and the ramp tells
        # exactly how many were overwritten.
        kept = min(n, w.capacity)
        data, times = w.newest(kept)
        w.clear_new()
        vals = data[:, 0].astype(np.int64)
        assert (data[:, 1] == data[:, 0]).all()
        assert (np.diff(vals) == 1).all(), "ramp broken"
        np.testing.assert_allclose(np.diff(times), 1 / srate, rtol=1e-6)
        if prev_v is not None:
            assert vals[0] == prev_v + 1 + (n - kept), "ramp broken across updates"
            np.testing.assert_allclose(times[0] - prev_t, (1 + n - kept) / srate, rtol=1e-6)
        prev_v, prev_t = int(vals[-1]), float(times[-1])
        updates += 1
        seen += n
        return updates >= 300 and seen > 10 * w.capacity

    wait_until(step, 30.0, interval=0.002, what="300 updates over 10 wrap-arounds")


def _restart_test(watchers, source_id: str):
    name = unique()
    outlet = make_outlet(name, 2, 100.0, source_id=source_id, labels=["a1", "a2"])
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.lib.dp_stream_watcher_set_stall_timeout(w.ptr, 0.3) == 0
    assert outlet.wait_for_consumers(5.0)
    outlet.push_chunk([[1.0, 1.0]] * 10, (10.0 + np.arange(10) / 100).tolist())
    drain(w, 10)
    old_uid = w.info["uid"]
    assert w.channel_names == ["a1", "a2"]
    del outlet
    gc.collect()  # the outlet is gone: its process would have died here
    wait_until(lambda: w.update() >= 0 and not w.is_flowing, 10.0, what="not flowing")
    outlet = make_outlet(name, 2, 100.0, source_id=source_id, labels=["b1", "b2"])
    stamps = 20.0 + np.arange(10) / 100

    def recovered():
        assert w.update() >= 0, w.error()
        if outlet.have_consumers():
            outlet.push_chunk([[2.0, 2.0]] * 10, stamps.tolist())
            return True
        return False

    wait_until(recovered, 20.0, interval=0.05, what="the watcher to reconnect")
    wait_until(lambda: w.update() >= 0 and w.last_t == stamps[-1], 10.0, what="new samples")
    data, times = w.newest(20)
    assert data[-10:].tolist() == [[2.0, 2.0]] * 10  # the old data stays before it
    assert data[:10].tolist() == [[1.0, 1.0]] * 10
    assert w.is_flowing
    wait_until(lambda: w.update() >= 0 and w.channel_names == ["b1", "b2"], 10.0,
               what="labels re-read from the new outlet")
    assert w.info["uid"] != old_uid and w.recoveries >= 1


def test_outlet_restarted_under_same_source_id_is_recovered(watchers):
    """liblsl's own recovery (the stream has a source_id)."""
    _restart_test(watchers, unique("src"))


def test_outlet_without_source_id_is_recovered_by_the_watcher(watchers):
    """liblsl gives such a stream up as lost; the watcher finds it again."""
    _restart_test(watchers, "")


def test_flowing_and_seconds_since_last_sample(watchers):
    name = unique()
    outlet = make_outlet(name, 1, 100.0, source_id=name)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.lib.dp_stream_watcher_set_stall_timeout(w.ptr, 0.3) == 0
    assert not w.is_flowing and w.seconds_since_last < 0  # nothing yet
    assert outlet.wait_for_consumers(5.0)
    outlet.push_sample([1.0])
    wait_until(lambda: w.update() > 0, 10.0, what="a sample")
    assert w.is_flowing and 0 <= w.seconds_since_last < 0.3
    wait_until(lambda: w.update() == 0 and not w.is_flowing, 10.0, what="the stall")
    assert w.seconds_since_last >= 0.3
    outlet.push_sample([2.0])
    wait_until(lambda: w.update() > 0, 10.0, what="the next sample")
    assert w.is_flowing and w.recoveries == 0  # a pause is no restart


def _wait_in_thread(w, timeout: float) -> dict:
    """Starts update_wait(timeout) on a thread; the dict gets its return value,
    its wall time and the thread's CPU time once it returns."""
    res: dict = {"started": threading.Event()}

    def run():
        t0, c0 = time.monotonic(), time.thread_time()
        res["started"].set()
        res["rc"] = w.update_wait(timeout)
        res["wall"], res["cpu"] = time.monotonic() - t0, time.thread_time() - c0

    res["thread"] = threading.Thread(target=run, daemon=True)
    res["thread"].start()
    return res


@pytest.mark.parametrize("code", sorted(FORMATS), ids=lambda c: dp_lib.DTYPE_NAMES[c])
def test_wait_wakes_on_a_pushed_sample_of_every_format(watchers, code):
    """A sample pushed while update_wait sleeps ends the wait long before its
    30 s timeout, and arrives exactly; the next wait takes a whole chunk."""
    name, n_ch = unique(), 3
    outlet = make_outlet(name, n_ch, 100.0, FORMATS[code][0], source_id=name)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert outlet.wait_for_consumers(5.0)
    values = sample_values(code, 40, n_ch)
    waiting = _wait_in_thread(w, 30.0)
    assert waiting["started"].wait(10.0)
    outlet.push_sample(values[0] if code == 3 else values[0].tolist(), 700.5)
    waiting["thread"].join(25.0)
    assert not waiting["thread"].is_alive(), "the pushed sample did not end the wait"
    assert waiting["rc"] == 1 and waiting["wall"] < 25.0
    data, times = w.newest(1)
    assert times.tolist() == [700.5]
    assert data.tolist() == [list(values[0]) if code == 3 else values[0].tolist()]
    outlet.push_chunk(values[1:] if code == 3 else np.ascontiguousarray(values[1:]),
                      (701.0 + np.arange(39) / 100).tolist())
    got = [0]

    def all_there():
        rc = w.update_wait(5.0)
        assert rc > 0, w.error() if rc < 0 else "no sample within 5 s"
        got[0] += rc
        return got[0] >= 39

    wait_until(all_there, 20.0, what="the chunk")
    assert got[0] == 39
    data, _ = w.newest(40)
    if code == 3:
        assert data.tolist() == values
    else:
        np.testing.assert_array_equal(data, values)


def test_wait_returns_after_its_timeout_when_nothing_comes(watchers):
    """No sample: update_wait returns 0 once its timeout has passed, having
    slept (its thread used next to no CPU), and refuses a bad timeout."""
    name = unique()
    outlet = make_outlet(name, 1, 100.0)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert outlet.wait_for_consumers(5.0)
    waiting = _wait_in_thread(w, 1.0)
    waiting["thread"].join(20.0)
    assert waiting["rc"] == 0
    assert 1.0 <= waiting["wall"] < 20.0
    assert waiting["cpu"] < 0.05, f"the wait burned {waiting['cpu']:.3f} s of CPU"
    for bad in (-1.0, float("nan"), float("inf")):
        assert w.update_wait(bad) == -1  # DP_EINVAL


def test_wait_during_a_recovery_honours_its_timeout_then_gets_the_new_outlet(watchers):
    """The outlet (no source_id) dies: waits return after their timeout while
    the watcher looks for it; a new outlet's samples end a wait."""
    name = unique()
    outlet = make_outlet(name, 1, 100.0)
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert outlet.wait_for_consumers(5.0)
    outlet.push_sample([1.0], 30.0)
    assert w.update_wait(10.0) == 1
    del outlet
    gc.collect()
    for _ in range(3):  # the loss is noticed within one of these
        t0 = time.monotonic()
        assert w.update_wait(0.4) == 0, w.error()
        assert 0.4 <= time.monotonic() - t0 < 20.0
    outlet = make_outlet(name, 1, 100.0)
    wait_until(lambda: w.update_wait(0.05) >= 0 and outlet.have_consumers(), 20.0,
               what="the watcher to reopen the stream")
    outlet.push_sample([2.0], 31.0)
    assert w.update_wait(20.0) == 1, w.error()
    assert w.last_t == 31.0 and w.recoveries >= 1


def test_missing_stream_times_out_listing_visible_streams(watchers):
    visible = unique("visible")
    _outlet = make_outlet(visible, 2)
    w = watchers(unique("missing"))
    t0 = time.monotonic()
    rc = w.connect(0.5)
    assert rc == -10  # DP_ETIMEDOUT
    assert time.monotonic() - t0 < 5
    msg = w.error()
    assert "missing" in msg and "0.5 s" in msg and "visible streams" in msg
    assert f"'{visible}' (EEG, 2 ch float32 @ 100 Hz" in msg
    assert w.update() == -14  # DP_ESTATE: never connected


def test_connect_by_predicate(watchers):
    name, sid, stype = unique(), unique("sid"), unique("type")
    _outlet = make_outlet(name, 3, source_id=sid, stype=stype)
    for pred in (f"source_id='{sid}'", f"type='{stype}'", f"name='{name}' and channel_count=3"):
        w = watchers(None)
        assert w.connect(10.0, predicate=pred) == 0, w.error()
        assert w.info["name"] == name and w.info["source_id"] == sid


def test_stream_listing_has_every_field(lib):
    name, sid = unique(), unique("sid")
    _outlet = make_outlet(name, 5, 250.0, pylsl.cf_int16, source_id=sid, stype="EMG")
    listed = [s for s in dp_lib.list_streams(lib, 1.0) if s["name"] == name]
    assert len(listed) == 1
    s = listed[0]
    assert (s["type"], s["channel_count"], s["nominal_srate"], s["channel_format"],
            s["source_id"]) == ("EMG", 5, 250.0, 5, sid)
    assert s["hostname"] == socket.gethostname()
    assert len(s["uid"]) > 0


def test_dejitter_is_off_by_default_and_smooths_when_on(watchers):
    name, n = unique(), 400
    outlet = make_outlet(name, 1, 100.0)
    plain, smooth = watchers(name, 5.0), watchers(name, 5.0)
    assert plain.connect(10.0) == 0 and smooth.connect(10.0) == 0
    assert plain.lib.dp_stream_watcher_set_postprocessing(smooth.ptr, 2) == 0  # DP_LSL_DEJITTER
    assert outlet.wait_for_consumers(5.0)
    rng = np.random.default_rng(3)
    stamps = 100.0 + np.arange(n) / 100.0 + rng.uniform(-0.004, 0.004, n)
    for i in range(0, n, 20):
        outlet.push_chunk([[float(k)] for k in range(i, i + 20)], stamps[i:i + 20].tolist())
    drain(plain, n)
    drain(smooth, n)
    _, t_plain = plain.newest(n)
    _, t_smooth = smooth.newest(n)
    np.testing.assert_array_equal(t_plain, stamps)  # off by default: untouched
    assert np.std(np.diff(t_smooth[n // 2:])) < np.std(np.diff(stamps[n // 2:])) / 2


def test_library_path_and_version(lib):
    assert lib.dp_lsl_load() == 0
    assert lib.dp_lsl_library_version() >= 114
    assert lib.dp_lsl_library_version() == pylsl.library_version()
    assert lib.dp_lsl_library_path().decode().endswith("liblsl.so.2")
    assert abs(lib.dp_lsl_local_clock() - pylsl.local_clock()) < 1.0


def test_clock_sync_applies_liblsls_offset(watchers):
    name, n = unique(), 50
    outlet = make_outlet(name, 1, 100.0)
    w = watchers(name)
    assert w.lib.dp_stream_watcher_set_postprocessing(w.ptr, 1) == 0  # DP_LSL_CLOCKSYNC
    assert w.connect(10.0) == 0, w.error()
    assert outlet.wait_for_consumers(5.0)
    stamps = 300.0 + np.arange(n) / 100.0
    outlet.push_chunk([[float(i)] for i in range(n)], stamps.tolist())
    drain(w, n)
    _, t = w.newest(n)
    shift = t - stamps
    # one machine: the offset liblsl estimates is tiny, but it is applied to every sample
    assert np.all(np.abs(shift) < 0.01) and np.ptp(shift) < 1e-6
    assert shift[0] != 0.0


def test_incomplete_channel_metadata_falls_back_per_channel(watchers):
    name = unique()
    info = pylsl.StreamInfo(name, "EEG", 4, 100.0, pylsl.cf_float32, "")
    chans = info.desc().append_child("channels")
    chans.append_child("channel").append_child_value("label", "Cz")
    chans.append_child("channel").append_child_value("unit", "uV")  # no label
    chans.append_child("channel").append_child_value("label", "Pz")
    _outlet = pylsl.StreamOutlet(info)  # 3 of 4 channels described
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert w.channel_names == ["Cz", "ch_2", "Pz", "ch_4"]
    assert w.units == ["", "uV", "", ""]


def test_connecting_again_takes_the_new_stream_and_rereads_labels(watchers):
    name = unique()
    first = make_outlet(name, 2, 100.0, labels=["a", "b"])
    w = watchers(name)
    assert w.connect(10.0) == 0, w.error()
    assert (w.channel_names, w.capacity) == (["a", "b"], 200)
    del first
    gc.collect()
    _second = make_outlet(name, 3, 50.0, pylsl.cf_int16, labels=["x", "y", "z"])
    wait_until(lambda: w.connect(0.5) == 0, 15.0, what="the second outlet")
    assert (w.channel_names, w.capacity, w.dtype_code) == (["x", "y", "z"], 100, 5)
    w.lib.dp_stream_watcher_set_predicate(w.ptr, f"name='{unique('gone')}'".encode())
    assert w.connect(0.2) == -10  # a failed connect leaves it disconnected
    assert not w.lib.dp_stream_watcher_connected(w.ptr) and w.update() == -14


def test_absurd_rate_is_refused_while_a_good_stream_is_served(watchers):
    """An outlet declaring 1 GHz would need a 2e9-sample buffer: refused with
    the reason (DP_ETOOBIG), nothing allocated; a watcher on a sane stream
    next to it is served. (NaN, infinite and negative rates never reach a
    reader through liblsl, which reads them as 0 or refuses the outlet; they
    are tested against a fake liblsl in tests/c/test_stream_watcher.c.)"""
    bad, good = unique("huge"), unique("good")
    _bad_outlet = make_outlet(bad, 2, 1e9)
    good_outlet = make_outlet(good, 2, 100.0, source_id=good)
    w_bad, w_good = watchers(bad), watchers(good)
    assert w_good.connect(10.0) == 0, w_good.error()
    assert w_bad.connect(10.0) == -6  # DP_ETOOBIG
    msg = w_bad.error()
    assert bad in msg and "1e+09 Hz" in msg and "over the limit of 1073741824 bytes" in msg
    assert not w_bad.lib.dp_stream_watcher_connected(w_bad.ptr)
    assert w_bad.lib.dp_stream_watcher_set_max_buffer_bytes(w_bad.ptr, 1 << 20) == 0
    assert good_outlet.wait_for_consumers(5.0)
    good_outlet.push_chunk([[1.0, 2.0]] * 5, (50.0 + np.arange(5) / 100).tolist())
    assert drain(w_good, 5) == 5


def test_read_new_gives_what_the_python_idiom_gives(watchers):
    """Per round: ours read_new() == Python's unfold_buffer()[-n_new:] on the
    same stream; when nothing is new ours gives nothing where the idiom gives
    the whole buffer; past the buffer ours reports the overrun."""
    name, n_ch, srate = unique(), 4, 1000.0
    outlet = make_outlet(name, n_ch, srate, source_id=name)
    py = StreamWatcher(name, buffer_size_s=0.5)
    py.connect_to_stream()
    py.inlet.open_stream(5.0)
    ours = watchers(name, 0.5)
    assert ours.connect(10.0) == 0, ours.error()
    assert outlet.wait_for_consumers(5.0)
    rng = np.random.default_rng(11)
    t0 = 3000.0
    for size in (1, 120, 499, 37, 500):
        stamps = t0 + np.arange(size) / srate
        t0 += size / srate
        outlet.push_chunk(rng.standard_normal((size, n_ch)).astype(np.float32), stamps.tolist())

        def both_have_it():
            py.update()
            ours.update()
            return py.n_new >= size and ours.last_t == stamps[-1]

        wait_until(both_have_it, 10.0, what=f"a round of {size}")
        idiom, idiom_t = py.unfold_buffer()[-py.n_new:], py.unfold_buffer_t()[-py.n_new:]
        py.n_new = 0
        data, times, overrun = ours.read_new()
        assert overrun == 0
        np.testing.assert_array_equal(data, idiom)
        np.testing.assert_array_equal(times, idiom_t)
        assert ours.read_new()[0].shape == (0, n_ch)  # nothing new: nothing
        assert py.unfold_buffer()[-py.n_new:].shape == (500, n_ch)  # the idiom: everything
    py.disconnect()
    ours.clear_new()  # n_new counts the rounds above: each wait below needs 500 new ones
    for _ in range(3):  # 1500 samples into a 500-sample buffer, read once
        outlet.push_chunk(rng.standard_normal((500, n_ch)).astype(np.float32))
        wait_until(lambda: ours.update() >= 0 and ours.n_new >= 500, 10.0, what="500 more")
        ours.clear_new()
    data, times, overrun = ours.read_new()
    assert len(data) == 500 and overrun == 1000


RESERVE_PROBE = """
import sys
sys.path.insert(0, sys.argv[2])
import dp_lib
lib = dp_lib.load_lsl(dp_lib.load())
def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
before = rss_kb()
w = dp_lib.CStreamWatcher(lib, sys.argv[1], 0.1)
assert w.connect(10.0) == 0, w.error()
print(rss_kb() - before)
w.close()
"""


@pytest.mark.parametrize("user_reserve_ms", [None, 5000])
def test_inlet_reserve_is_lowered_unless_the_config_sets_it(tmp_path, user_reserve_ms):
    """liblsl reserves InletBufferReserveMs of samples for every inlet it opens
    (5000 ms by default: 50,000 x 1 KiB here, whatever the inlet's queue). The
    library lowers it to 500 ms when it loads liblsl, unless liblsl's
    configuration file sets it. Measured in a process of its own, which opens
    a watcher with a 1 MB ring on a declared 256 ch x 10 kHz stream."""
    name = unique()
    _outlet = make_outlet(name, 256, 10000.0)  # liblsl reserves at open, data or not
    cfg = tmp_path / "lsl_api.cfg"
    cfg.write_text((dp_lib.helpers.ROOT / "tests" / "lsl_api.cfg").read_text() +
                   (f"\n[tuning]\nInletBufferReserveMs = {user_reserve_ms}\n"
                    if user_reserve_ms else ""))
    env = dict(os.environ, LSLAPICFG=str(cfg))
    out = subprocess.run([sys.executable, "-c", RESERVE_PROBE, name,
                          str(dp_lib.helpers.ROOT / "tests" / "interop")],
                         env=env, capture_output=True, text=True, timeout=60, check=True)
    grown_mb = int(out.stdout.strip().splitlines()[-1]) / 1024
    if user_reserve_ms is None:
        assert grown_mb < 25  # ring 1 MB + 5,000 reserved samples + liblsl itself
    else:
        assert grown_mb > 45  # the user's 5 s: 50,000 samples
