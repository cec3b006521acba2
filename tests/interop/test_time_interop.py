"""dp_now() reads the clock of LSL timestamps: it agrees with pylsl.local_clock()
(liblsl's local_clock) within 1 ms, and the sleeps are never early."""
import ctypes as C
import os
from pathlib import Path

import pylsl

import helpers


def load():
    lib = C.CDLL(str(Path(os.environ.get("DP_LIB_DIR", helpers.LIB_DIR)) / "libdareplane.so"))
    lib.dp_now.restype = C.c_double
    lib.dp_sleep_until.argtypes = [C.c_double]
    return lib


def test_dp_now_agrees_with_pylsl_local_clock():
    lib = load()
    diffs = []
    for _ in range(200):
        a = pylsl.local_clock()
        ours = lib.dp_now()
        b = pylsl.local_clock()
        diffs.append(abs(ours - (a + b) / 2) - (b - a) / 2)
    # within 1 ms, allowing for the time between the calls
    assert min(diffs) < 1e-3
    assert sorted(diffs)[len(diffs) // 2] < 1e-3


def test_sleep_until_is_never_early():
    lib = load()
    for d in (0.0, 1e-5, 2e-4, 1e-3, 5e-3):
        t = lib.dp_now() + d
        lib.dp_sleep_until(t)
        assert lib.dp_now() >= t
