"""The C ring buffer and dareplane_utils' Python RingBuffer, fed the same random
sequences, hold identical data, timestamps, write index and last timestamp; and
read_new gives what the module idiom unfold_buffer()[-n_new:] gives."""
import numpy as np
import pytest
from dareplane_utils.general.ringbuffer import RingBuffer

import dp_lib


@pytest.fixture(scope="module")
def lib():
    return dp_lib.load()


@pytest.mark.parametrize(
    "shape,dtype",
    [
        ((10, 1), np.float32),
        ((64, 8), np.float32),
        ((97, 3), np.float64),
        ((50, 4, 3), np.float32),  # samples x channels x bands
        ((33, 2), np.int16),
        ((20, 5), np.int64),
        ((7, 2), np.int8),
        ((1, 4), np.int32),
    ],
)
def test_same_random_sequences_same_contents(lib, shape, dtype):
    rng = np.random.default_rng(sum(shape))
    py = RingBuffer(shape=shape, dtype=dtype)
    c = dp_lib.CRingBuffer(lib, shape, dtype)
    try:
        t0 = 0.0
        for step in range(400):
            n = int(rng.integers(1, int(shape[0] * 2.5) + 2))
            if np.issubdtype(np.dtype(dtype), np.integer):
                info = np.iinfo(dtype)
                samples = rng.integers(info.min, info.max, size=(n, *shape[1:]), dtype=dtype)
            else:
                samples = rng.standard_normal((n, *shape[1:])).astype(dtype)
            times = t0 + np.arange(n) * 0.001
            t0 = times[-1] + 0.001
            py.add_samples(samples, times)
            rc = c.add_samples(samples, times)
            assert rc == max(0, n - shape[0])
            np.testing.assert_array_equal(c.unfold_buffer(), py.unfold_buffer())
            np.testing.assert_array_equal(c.unfold_buffer_t(), py.unfold_buffer_t())
            assert c.curr_i == py.curr_i
            assert c.last_t == py.last_t
    finally:
        c.close()


def test_worked_example_matches_python(lib):
    py = RingBuffer(shape=(10, 1))
    c = dp_lib.CRingBuffer(lib, (10, 1))
    try:
        for n in (5, 8):
            s = np.arange(n, dtype=np.float32).reshape(n, 1)
            py.add_samples(s, list(range(n)))
            c.add_samples(s, np.arange(n))
        assert py.unfold_buffer_t().tolist() == [3, 4, 0, 1, 2, 3, 4, 5, 6, 7]
        np.testing.assert_array_equal(c.unfold_buffer_t(), py.unfold_buffer_t())
        assert c.curr_i == py.curr_i == 3
    finally:
        c.close()


def test_read_new_equals_the_module_idiom(lib):
    """Random adds, sometimes several between reads: read_new equals
    unfold_buffer()[-n_new:] while n_new fits, the whole buffer plus the
    overrun count past it, and nothing (not the whole buffer) when n_new is 0."""
    shape = (50, 3)
    rng = np.random.default_rng(5)
    py = RingBuffer(shape=shape, dtype=np.float32)
    c = dp_lib.CRingBuffer(lib, shape, np.float32)
    try:
        t0, n_new = 0.0, 0
        for step in range(500):
            for _ in range(int(rng.integers(0, 3))):
                n = int(rng.integers(1, 40))
                samples = rng.standard_normal((n, 3)).astype(np.float32)
                times = t0 + np.arange(n) * 0.001
                t0 = times[-1] + 0.001
                py.add_samples(samples, times)
                c.add_samples(samples, times)
                n_new += n
            data, times, overrun = c.read_new()
            if n_new == 0:
                assert len(data) == 0 and overrun == 0
                assert len(py.unfold_buffer()[-n_new:]) == shape[0]  # the idiom: everything
                continue
            np.testing.assert_array_equal(data, py.unfold_buffer()[-n_new:])
            np.testing.assert_array_equal(times, py.unfold_buffer_t()[-n_new:])
            assert overrun == max(0, n_new - shape[0])
            n_new = 0
    finally:
        c.close()
