"""The C filters against the real scipy and dareplane_utils: Butterworth
sections equal to scipy.signal.butter(output="sos"), filter output equal to
scipy.signal.sosfilt (bit for bit, in any chunking), the state options equal
to scipy's sosfilt_zi idioms, and the filter bank equal to FilterBank."""
import ctypes as C
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.signal as ss
from dareplane_utils.signal_processing.filtering import FilterBank

import helpers

BTYPE = {"lowpass": 0, "highpass": 1, "bandpass": 2, "bandstop": 3}
ZI = {"zeros": 0, "step_scaled": 1, "step": 2}
OUTPUT = {"signal": 0, "square": 1, "abs_ma": 2}
DBL = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
FLT = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
sz = C.c_size_t
vp = C.c_void_p


class Band(C.Structure):
    _fields_ = [("name", C.c_char_p), ("low_hz", C.c_double), ("high_hz", C.c_double)]


class FBOpts(C.Structure):
    _fields_ = [
        ("bands", C.POINTER(Band)),
        ("n_bands", sz),
        ("order", C.c_int),
        ("fs_hz", C.c_double),
        ("n_channels", sz),
        ("output", C.c_int),
        ("buffer_s", C.c_double),
        ("n_lookback", sz),
        ("init", C.c_int),
    ]


@pytest.fixture(scope="module")
def lib():
    lib_dir = Path(os.environ.get("DP_LIB_DIR", helpers.LIB_DIR))
    lib = C.CDLL(str(lib_dir / "libdareplane.so"))
    lib.dp_butter.argtypes = [C.c_int, C.c_double, C.c_double, C.c_int, C.c_double, DBL, sz]
    lib.dp_sosfilt_new.argtypes = [C.POINTER(vp), DBL, sz, sz, C.c_int]
    lib.dp_sosfilt_free.argtypes = [vp]
    lib.dp_sosfilt_process.argtypes = [vp, DBL, DBL, sz]
    lib.dp_sosfilt_process_f32.argtypes = [vp, FLT, DBL, sz]
    lib.dp_sosfilt_state.argtypes = [vp, DBL]
    lib.dp_sosfilt_zi.argtypes = [DBL, sz, DBL]
    lib.dp_filterbank_new.argtypes = [C.POINTER(vp), C.POINTER(FBOpts)]
    lib.dp_filterbank_free.argtypes = [vp]
    lib.dp_filterbank_filter.argtypes = [vp, DBL, DBL, sz]
    lib.dp_filterbank_filter_f32.argtypes = [vp, FLT, DBL, sz]
    lib.dp_filterbank_n_new.argtypes = [vp]
    lib.dp_filterbank_n_new.restype = sz
    lib.dp_filterbank_read_new.argtypes = [vp, FLT, DBL, sz, C.c_bool]
    lib.dp_filterbank_newest.argtypes = [vp, sz, FLT, vp]
    lib.dp_error_detail.restype = C.c_char_p
    return lib


def c_butter(lib, order, wn, btype, fs):
    out = np.zeros((2 * order + 2, 6))
    f1, f2 = (wn, 0.0) if np.isscalar(wn) else wn
    n = lib.dp_butter(order, f1, f2, BTYPE[btype], fs, out, out.shape[0])
    assert n > 0, lib.dp_error_detail()
    return out[:n]


# ---- design ------------------------------------------------------------------

RATES = [250.0, 1000.0, 10000.0, 22050.0]
# (btype, edges as fractions of fs): narrow, wide, near DC, near Nyquist and
# a band centred on fs/4 (mirror-image poles tie for the pairing order).
DESIGNS = [
    ("lowpass", 0.1),
    ("lowpass", 0.001),
    ("lowpass", 0.45),
    ("highpass", 0.2),
    ("highpass", 0.002),
    ("bandpass", (0.008, 0.012)),
    ("bandpass", (0.1, 0.4)),
    ("bandpass", (0.2, 0.3)),
    ("bandpass", (0.001, 0.49)),
    ("bandstop", (0.04, 0.06)),
    ("bandstop", (0.1, 0.4)),
    ("bandstop", (0.0005, 0.3)),
]


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("btype,frac", DESIGNS)
def test_butter_sections_equal_scipy(lib, fs, btype, frac):
    wn = fs * frac if np.isscalar(frac) else (fs * frac[0], fs * frac[1])
    for order in range(1, 11):
        ref = ss.butter(order, wn, btype, output="sos", fs=fs)
        got = c_butter(lib, order, wn, btype, fs)
        assert got.shape == ref.shape, (order, got.shape, ref.shape)
        # same sections in the same order: within 1e-12 of each coefficient
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15, err_msg=f"order {order}")


@pytest.mark.parametrize("btype,frac", DESIGNS)
def test_high_orders_equal_scipy_too(lib, btype, frac):
    fs = 1000.0
    wn = fs * frac if np.isscalar(frac) else (fs * frac[0], fs * frac[1])
    for order in range(11, 33):  # up to DP_BUTTER_MAX_ORDER
        ref = ss.butter(order, wn, btype, output="sos", fs=fs)
        np.testing.assert_allclose(c_butter(lib, order, wn, btype, fs), ref, rtol=1e-12,
                                   atol=1e-15, err_msg=f"order {order}")


@pytest.mark.parametrize(
    "args",
    [
        (0, 10.0, 0.0, "lowpass", 1000.0),  # order 0
        (33, 10.0, 0.0, "lowpass", 1000.0),  # order too high
        (4, 0.0, 0.0, "lowpass", 1000.0),  # edge at 0
        (4, 500.0, 0.0, "highpass", 1000.0),  # edge at fs/2
        (4, 30.0, 20.0, "bandpass", 1000.0),  # low >= high
        (4, 20.0, 600.0, "bandstop", 1000.0),  # high beyond fs/2
        (4, float("nan"), 0.0, "lowpass", 1000.0),
    ],
)
def test_bad_design_is_refused_with_a_reason(lib, args):
    order, f1, f2, btype, fs = args
    out = np.zeros((80, 6))
    assert lib.dp_butter(order, f1, f2, BTYPE[btype], fs, out, 80) == -1  # DP_EINVAL
    assert lib.dp_error_detail()
    assert not out.any()


# ---- filtering ---------------------------------------------------------------


class CFilter:
    def __init__(self, lib, sos, n_ch, init):
        self.lib = lib
        self.h = vp()
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        assert lib.dp_sosfilt_new(C.byref(self.h), self.sos, len(sos), n_ch, ZI[init]) == 0
        self.n_ch = n_ch

    def __call__(self, x):
        x = np.ascontiguousarray(x)
        out = np.empty(x.shape, dtype=np.float64)
        if x.dtype == np.float32:
            rc = self.lib.dp_sosfilt_process_f32(self.h, x, out, x.shape[0])
        else:
            rc = self.lib.dp_sosfilt_process(self.h, x, out, x.shape[0])
        assert rc == 0
        return out

    def close(self):
        self.lib.dp_sosfilt_free(self.h)


def chunks(n, size, rng):
    """Chunk boundaries: fixed size, or random sizes when size is None."""
    i = 0
    while i < n:
        k = size if size else int(rng.integers(0, 50))
        yield i, min(n, i + k)
        i += k


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, None])
@pytest.mark.parametrize("init", ["zeros", "step_scaled", "step"])
def test_sosfilt_equals_scipy_in_any_chunking(lib, chunk, init):
    rng = np.random.default_rng(7)
    n, n_ch = 3000, 5
    x = rng.standard_normal((n, n_ch)) * 10 + 3
    sos = ss.butter(8, (8, 12), "bandpass", output="sos", fs=1000.0)
    zi = ss.sosfilt_zi(sos)  # (sections, 2)
    if init == "zeros":
        ref = ss.sosfilt(sos, x, axis=0)
    elif init == "step_scaled":
        ref, _ = ss.sosfilt(sos, x, axis=0, zi=zi[:, :, None] * x[0][None, None, :])
    else:
        ref, _ = ss.sosfilt(sos, x, axis=0, zi=np.repeat(zi[:, :, None], n_ch, axis=2))
    f = CFilter(lib, sos, n_ch, init)
    try:
        got = np.vstack([f(x[a:b]) for a, b in chunks(n, chunk, rng)])
    finally:
        f.close()
    if init == "zeros":
        assert np.array_equal(got, ref)  # same arithmetic, bit for bit
    else:
        # the steady state comes from a 2x2 solve: equal to within rounding
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-11)
    # and one call on the whole signal gives the chunked result bit for bit
    f = CFilter(lib, sos, n_ch, init)
    try:
        assert np.array_equal(f(x), got)
    finally:
        f.close()


def test_sosfilt_zi_equals_scipy(lib):
    for fs, band in [(1000.0, (8, 12)), (250.0, (1, 40)), (10000.0, (300, 3000))]:
        for order in (1, 4, 8, 10):
            sos = ss.butter(order, band, "bandpass", output="sos", fs=fs)
            zi = np.zeros((len(sos), 2))
            assert lib.dp_sosfilt_zi(np.ascontiguousarray(sos), len(sos), zi) == 0
            np.testing.assert_allclose(zi, ss.sosfilt_zi(sos), rtol=1e-10, atol=1e-13)


def test_float32_input_and_user_sections(lib):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 3)).astype(np.float32)
    # a user's own design (elliptic lowpass), not ours
    sos = ss.ellip(6, 0.5, 60, 0.2, output="sos")
    f = CFilter(lib, sos, 3, "zeros")
    try:
        got = f(x)
    finally:
        f.close()
    assert np.array_equal(got, ss.sosfilt(sos, x.astype(np.float64), axis=0))


def test_nan_chunk_is_refused_and_changes_no_state(lib):
    sos = ss.butter(4, 10, "lowpass", output="sos", fs=1000.0)
    x = np.random.default_rng(1).standard_normal((200, 2))
    f = CFilter(lib, sos, 2, "zeros")
    try:
        first = f(x[:100])
        before = np.zeros((len(sos), 2, 2))
        lib.dp_sosfilt_state(f.h, before)
        bad = x[100:].copy()
        bad[50, 1] = np.nan
        out = np.zeros_like(bad)
        assert lib.dp_sosfilt_process(f.h, bad, out, len(bad)) == -1
        assert b"NaN" in lib.dp_error_detail()
        after = np.zeros_like(before)
        lib.dp_sosfilt_state(f.h, after)
        assert np.array_equal(before, after)
        assert lib.dp_sosfilt_process(f.h, x[100:], out, 0) == 0  # empty chunk: no-op
        rest = f(x[100:])
    finally:
        f.close()
    assert np.array_equal(np.vstack([first, rest]), ss.sosfilt(sos, x, axis=0))


def test_unstable_sections_are_refused(lib):
    h = vp()
    sos = np.array([[1.0, 0.0, 0.0, 1.0, -2.5, 1.2]])
    assert lib.dp_sosfilt_new(C.byref(h), sos, 1, 1, 0) == -1
    assert b"stable" in lib.dp_error_detail()


# ---- filter bank -------------------------------------------------------------


class CFilterBank:
    def __init__(self, lib, bands, order, fs, n_ch, output, buffer_s, n_lookback):
        self.lib = lib
        self.arr = (Band * len(bands))(
            *[Band(k.encode(), float(v[0]), float(v[1])) for k, v in bands.items()]
        )
        o = FBOpts(self.arr, len(bands), order, fs, n_ch, OUTPUT[output], buffer_s, n_lookback, 2)
        self.h = vp()
        rc = lib.dp_filterbank_new(C.byref(self.h), C.byref(o))
        assert rc == 0, lib.dp_error_detail()
        self.shape = (n_ch, len(bands))

    def filter(self, x, t):
        x = np.ascontiguousarray(x)
        t = np.ascontiguousarray(t, dtype=np.float64)
        fn = self.lib.dp_filterbank_filter_f32 if x.dtype == np.float32 else self.lib.dp_filterbank_filter
        assert fn(self.h, x, t, x.shape[0]) == 0

    def read_new(self, consume=True):
        n = self.lib.dp_filterbank_n_new(self.h)
        out = np.zeros((max(n, 1), *self.shape), dtype=np.float32)
        times = np.zeros(max(n, 1))
        got = self.lib.dp_filterbank_read_new(self.h, out, times, n, consume)
        assert got == n
        return out[:n], times[:n]

    def close(self):
        self.lib.dp_filterbank_free(self.h)


BANKS = [
    # bands, order, fs, channels, output, buffer_s, n_lookback
    ({"alpha": [8, 12], "beta": [12, 30], "gamma": [30, 80]}, 8, 1000, 4, "signal", 2, 5),
    ({"alpha": [8, 12], "beta": [12, 30]}, 4, 500.0, 3, "square", 1, 5),
    ({"theta": [4, 8], "beta": [13, 30]}, 8, 1000, 2, "abs_ma", 2, 100),
    ({"hi": [100, 1000], "lo": [1, 40], "mid": [40, 100], "x": [2000, 4000]}, 8, 10000, 8, "abs_ma", 0.5, 7),
    ({"b": [10, 20]}, 6, 1000.5, 1, "abs_ma", 1, 2),
]


@pytest.mark.parametrize("bank", BANKS, ids=lambda b: f"{b[4]}-{b[2]}Hz-{b[3]}ch")
@pytest.mark.parametrize("chunk", [1, 10, 64, 333, None])
def test_filterbank_equals_dareplane_utils(lib, bank, chunk):
    bands, order, fs, n_ch, output, buffer_s, n_lookback = bank
    rng = np.random.default_rng(hash((chunk or 0, n_ch)) % 2**32)
    n = 1500 if chunk != 1 else 400
    x = (rng.standard_normal((n, n_ch)) * 50).astype(np.float32)
    t = np.arange(n) / fs + 100.0
    py = FilterBank(bands, order=order, sfreq=fs, output=output, n_in_channels=n_ch,
                    filter_buffer_s=buffer_s, n_lookback=n_lookback)
    c = CFilterBank(lib, bands, order, fs, n_ch, output, buffer_s, n_lookback)
    try:
        for a, b in chunks(n, chunk, rng):
            if a == b:
                continue
            py.filter(x[a:b], t[a:b])
            c.filter(x[a:b], t[a:b])
            # Python returns n_new rows (we never let n_new exceed what the
            # buffer can give; stay below it here) and does not consume them.
            if py.n_new + n_lookback > py.ring_buffer.buffer.shape[0] - 1:
                py.n_new = 0
                c.read_new()
                continue
            want = py.get_data()
            got, times = c.read_new()
            py.n_new = 0
            assert got.shape == want.shape
            if output == "abs_ma":
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6 * np.abs(want).max())
            else:
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-30)
            assert np.array_equal(times, t[a:b])
        if output == "signal":  # the whole buffer, as the Python one holds it
            cap = py.ring_buffer.buffer.shape[0]
            whole = np.zeros((cap, n_ch, len(bands)), dtype=np.float32)
            assert lib.dp_filterbank_newest(c.h, cap, whole, None) == 0
            np.testing.assert_allclose(whole, py.ring_buffer.unfold_buffer(), rtol=1e-6, atol=1e-30)
    finally:
        c.close()


def test_filterbank_fixes_python_bugs(lib):
    bands = {"a": [8, 12]}
    c = CFilterBank(lib, bands, 4, 1000, 2, "abs_ma", 1, 1)  # n_lookback = 1 works
    try:
        got, _ = c.read_new()
        assert got.shape == (0, 2, 1)  # nothing new: nothing (Python: the whole buffer)
        x = np.random.default_rng(0).standard_normal((10, 2)).astype(np.float32)
        c.filter(x, np.arange(10.0))
        got, _ = c.read_new(consume=True)
        assert got.shape == (10, 2, 1)
        sos = ss.butter(4, (8, 12), "bandpass", output="sos", fs=1000)
        zi = np.repeat(ss.sosfilt_zi(sos)[:, :, None], 2, axis=2)
        ref = np.abs(ss.sosfilt(sos, x.astype(np.float64), axis=0, zi=zi)[0])
        np.testing.assert_allclose(got[:, :, 0], ref.astype(np.float32), rtol=1e-5, atol=1e-6)
        assert c.read_new()[0].shape[0] == 0  # consumed
    finally:
        c.close()
