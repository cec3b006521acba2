"""ctypes access to the built libdareplane for tests and benchmarks: the C
ring buffer driven from Python so it can be compared with the Python one on
the same inputs."""
from __future__ import annotations

import ctypes as C
import os
from pathlib import Path

import numpy as np

import helpers

DTYPES = {  # dp_dtype_t value -> numpy dtype
    1: np.float32,
    2: np.float64,
    4: np.int32,
    5: np.int16,
    6: np.int8,
    7: np.int64,
}
CODE_OF = {np.dtype(v): k for k, v in DTYPES.items()}


def load(lib_dir: Path | None = None) -> C.CDLL:
    lib_dir = Path(lib_dir or os.environ.get("DP_LIB_DIR", helpers.LIB_DIR))
    lib = C.CDLL(str(lib_dir / "libdareplane.so"))
    sz = C.c_size_t
    lib.dp_ringbuffer_new.argtypes = [C.POINTER(C.c_void_p), C.c_int, sz, C.POINTER(sz), sz]
    lib.dp_ringbuffer_new.restype = C.c_int
    lib.dp_ringbuffer_free.argtypes = [C.c_void_p]
    lib.dp_ringbuffer_add.argtypes = [C.c_void_p, C.c_void_p, C.c_void_p, sz]
    lib.dp_ringbuffer_add.restype = C.c_int
    lib.dp_ringbuffer_unfold.argtypes = [C.c_void_p, C.c_void_p, C.c_void_p]
    lib.dp_ringbuffer_newest.argtypes = [C.c_void_p, sz, C.c_void_p, C.c_void_p]
    lib.dp_ringbuffer_write_index.argtypes = [C.c_void_p]
    lib.dp_ringbuffer_write_index.restype = sz
    lib.dp_ringbuffer_last_time.argtypes = [C.c_void_p]
    lib.dp_ringbuffer_last_time.restype = C.c_double
    lib.dp_strerror.argtypes = [C.c_int]
    lib.dp_strerror.restype = C.c_char_p
    lib.dp_ringbuffer_read_new.argtypes = [C.c_void_p, C.c_void_p, C.c_void_p, sz,
                                           C.POINTER(C.c_uint64)]
    lib.dp_ringbuffer_read_new.restype = C.c_int
    return lib


class CRingBuffer:
    """The C ring buffer with the Python RingBuffer's shape and dtype."""

    def __init__(self, lib: C.CDLL, shape: tuple[int, ...], dtype=np.float32):
        self.lib = lib
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        dims = (C.c_size_t * (len(shape) - 1))(*shape[1:])
        self.ptr = C.c_void_p()
        rc = lib.dp_ringbuffer_new(C.byref(self.ptr), CODE_OF[self.dtype], shape[0], dims,
                                   len(shape) - 1)
        if rc != 0:
            raise ValueError(lib.dp_strerror(rc).decode())

    def close(self):
        if self.ptr:
            self.lib.dp_ringbuffer_free(self.ptr)
            self.ptr = C.c_void_p()

    def add_samples(self, samples: np.ndarray, times: np.ndarray) -> int:
        samples = np.ascontiguousarray(samples, dtype=self.dtype)
        times = np.ascontiguousarray(times, dtype=np.float64)
        return self.lib.dp_ringbuffer_add(self.ptr, samples.ctypes.data, times.ctypes.data,
                                          len(samples))

    def unfold_buffer(self) -> np.ndarray:
        out = np.empty(self.shape, dtype=self.dtype)
        self.lib.dp_ringbuffer_unfold(self.ptr, out.ctypes.data, None)
        return out

    def unfold_buffer_t(self) -> np.ndarray:
        out = np.empty(self.shape[0], dtype=np.float64)
        self.lib.dp_ringbuffer_unfold(self.ptr, None, out.ctypes.data)
        return out

    def read_new(self):
        """What was added since the last read_new: data, times, overrun."""
        data = np.empty(self.shape, dtype=self.dtype)
        times = np.empty(self.shape[0], dtype=np.float64)
        over = C.c_uint64()
        got = self.lib.dp_ringbuffer_read_new(self.ptr, data.ctypes.data, times.ctypes.data,
                                              self.shape[0], C.byref(over))
        assert got >= 0
        return data[:got], times[:got], over.value

    @property
    def curr_i(self) -> int:
        return self.lib.dp_ringbuffer_write_index(self.ptr)

    @property
    def last_t(self) -> float:
        return self.lib.dp_ringbuffer_last_time(self.ptr)


# ---- LSL: the C StreamWatcher and stream listing through ctypes -------------

DTYPE_NAMES = {1: "float32", 2: "double64", 3: "string", 4: "int32", 5: "int16", 6: "int8",
               7: "int64"}


class StreamInfo(C.Structure):
    _fields_ = [("name", C.c_char_p), ("type", C.c_char_p), ("source_id", C.c_char_p),
                ("hostname", C.c_char_p), ("uid", C.c_char_p), ("channel_count", C.c_int),
                ("nominal_srate", C.c_double), ("channel_format", C.c_int),
                ("created_at", C.c_double)]

    def as_dict(self) -> dict:
        return {f: (v.decode() if isinstance(v, bytes) else v)
                for f, _ in self._fields_ for v in [getattr(self, f)]}


def load_lsl(lib: C.CDLL) -> C.CDLL:
    """Declares the LSL functions of the library on `lib` (from load())."""
    p, sz, u64 = C.c_void_p, C.c_size_t, C.c_uint64
    sigs = {
        "dp_lsl_load": ([], C.c_int),
        "dp_lsl_library_path": ([], C.c_char_p),
        "dp_lsl_library_version": ([], C.c_int),
        "dp_lsl_local_clock": ([], C.c_double),
        "dp_lsl_list_streams": ([C.POINTER(C.POINTER(StreamInfo)), C.POINTER(sz), C.c_double],
                                C.c_int),
        "dp_lsl_find_streams": ([C.c_char_p, C.c_int, C.c_double,
                                 C.POINTER(C.POINTER(StreamInfo)), C.POINTER(sz)], C.c_int),
        "dp_lsl_stream_list_free": ([C.POINTER(StreamInfo), sz], None),
        "dp_error_detail": ([], C.c_char_p),
        "dp_stream_watcher_new": ([C.POINTER(p), C.c_char_p, C.c_double], C.c_int),
        "dp_stream_watcher_set_predicate": ([p, C.c_char_p], C.c_int),
        "dp_stream_watcher_set_postprocessing": ([p, C.c_uint], C.c_int),
        "dp_stream_watcher_set_stall_timeout": ([p, C.c_double], C.c_int),
        "dp_stream_watcher_connect": ([p, C.c_double], C.c_int),
        "dp_stream_watcher_update": ([p], C.c_int),
        "dp_stream_watcher_update_wait": ([p, C.c_double], C.c_int),
        "dp_stream_watcher_disconnect": ([p], None),
        "dp_stream_watcher_free": ([p], None),
        "dp_stream_watcher_connected": ([p], C.c_bool),
        "dp_stream_watcher_n_new": ([p], u64),
        "dp_stream_watcher_clear_new": ([p], None),
        "dp_stream_watcher_buffer": ([p], p),
        "dp_stream_watcher_unfold": ([p, p, p], C.c_int),
        "dp_stream_watcher_newest": ([p, sz, p, p], C.c_int),
        "dp_stream_watcher_last_time": ([p], C.c_double),
        "dp_stream_watcher_info": ([p], C.POINTER(StreamInfo)),
        "dp_stream_watcher_channel_count": ([p], sz),
        "dp_stream_watcher_dtype": ([p], C.c_int),
        "dp_stream_watcher_label": ([p, sz], C.c_char_p),
        "dp_stream_watcher_unit": ([p, sz], C.c_char_p),
        "dp_stream_watcher_channel_type": ([p, sz], C.c_char_p),
        "dp_stream_watcher_is_flowing": ([p], C.c_bool),
        "dp_stream_watcher_seconds_since_last": ([p], C.c_double),
        "dp_stream_watcher_recoveries": ([p], C.c_uint),
        "dp_stream_watcher_read_new": ([p, p, p, sz, C.POINTER(u64)], C.c_int),
        "dp_stream_watcher_consume": ([p, sz], C.c_int),
        "dp_stream_watcher_set_max_buffer_bytes": ([p, sz], C.c_int),
        "dp_stream_watcher_set_inlet_buffer": ([p, sz], C.c_int),
        "dp_ringbuffer_capacity": ([p], sz),
        "dp_ringbuffer_count": ([p], sz),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


def list_streams(lib: C.CDLL, wait_s: float = 1.0) -> list[dict]:
    arr, n = C.POINTER(StreamInfo)(), C.c_size_t()
    rc = lib.dp_lsl_list_streams(C.byref(arr), C.byref(n), wait_s)
    if rc != 0:
        raise RuntimeError(lib.dp_error_detail().decode())
    out = [arr[i].as_dict() for i in range(n.value)]
    lib.dp_lsl_stream_list_free(arr, n)
    return out


def find_streams(lib: C.CDLL, predicate: str, minimum: int = 1, wait_s: float = 2.0
                 ) -> list[dict]:
    """Streams matching an LSL predicate; returns once `minimum` matched."""
    arr, n = C.POINTER(StreamInfo)(), C.c_size_t()
    rc = lib.dp_lsl_find_streams(predicate.encode(), minimum, wait_s, C.byref(arr), C.byref(n))
    if rc != 0:
        raise RuntimeError(lib.dp_error_detail().decode())
    out = [arr[i].as_dict() for i in range(n.value)]
    lib.dp_lsl_stream_list_free(arr, n)
    return out


class CStreamWatcher:
    """The C StreamWatcher with the Python one's vocabulary (n_new, unfold_buffer,
    unfold_buffer_t, channel_names) plus what only ours has."""

    def __init__(self, lib: C.CDLL, name: str | None, buffer_size_s: float = 2.0):
        self.lib = lib
        self.ptr = C.c_void_p()
        rc = lib.dp_stream_watcher_new(C.byref(self.ptr), name.encode() if name else None,
                                       buffer_size_s)
        if rc != 0:
            raise ValueError(lib.dp_error_detail().decode())

    def connect(self, timeout: float = 10.0, predicate: str | None = None) -> int:
        if predicate is not None:
            self.lib.dp_stream_watcher_set_predicate(self.ptr, predicate.encode())
        return self.lib.dp_stream_watcher_connect(self.ptr, timeout)

    def error(self) -> str:
        return self.lib.dp_error_detail().decode()

    def update(self) -> int:
        return self.lib.dp_stream_watcher_update(self.ptr)

    def update_wait(self, timeout: float) -> int:
        """update(), sleeping up to timeout s for a sample (ctypes lets the GIL go)."""
        return self.lib.dp_stream_watcher_update_wait(self.ptr, timeout)

    def close(self):
        if self.ptr:
            self.lib.dp_stream_watcher_free(self.ptr)
            self.ptr = C.c_void_p()

    @property
    def n_new(self) -> int:
        return self.lib.dp_stream_watcher_n_new(self.ptr)

    def clear_new(self):
        self.lib.dp_stream_watcher_clear_new(self.ptr)

    @property
    def n_channels(self) -> int:
        return self.lib.dp_stream_watcher_channel_count(self.ptr)

    @property
    def dtype_code(self) -> int:
        return self.lib.dp_stream_watcher_dtype(self.ptr)

    @property
    def capacity(self) -> int:
        return self.lib.dp_ringbuffer_capacity(self.lib.dp_stream_watcher_buffer(self.ptr))

    @property
    def count(self) -> int:
        return self.lib.dp_ringbuffer_count(self.lib.dp_stream_watcher_buffer(self.ptr))

    @property
    def channel_names(self) -> list[str]:
        return [self.lib.dp_stream_watcher_label(self.ptr, i).decode()
                for i in range(self.n_channels)]

    @property
    def units(self) -> list[str]:
        return [self.lib.dp_stream_watcher_unit(self.ptr, i).decode()
                for i in range(self.n_channels)]

    @property
    def channel_types(self) -> list[str]:
        return [self.lib.dp_stream_watcher_channel_type(self.ptr, i).decode()
                for i in range(self.n_channels)]

    @property
    def info(self) -> dict:
        return self.lib.dp_stream_watcher_info(self.ptr).contents.as_dict()

    @property
    def is_flowing(self) -> bool:
        return self.lib.dp_stream_watcher_is_flowing(self.ptr)

    @property
    def seconds_since_last(self) -> float:
        return self.lib.dp_stream_watcher_seconds_since_last(self.ptr)

    @property
    def recoveries(self) -> int:
        return self.lib.dp_stream_watcher_recoveries(self.ptr)

    @property
    def last_t(self) -> float:
        return self.lib.dp_stream_watcher_last_time(self.ptr)

    def _arrays(self, n: int):
        if self.dtype_code == 3:
            data = (C.c_char_p * (n * self.n_channels))()
        else:
            data = np.empty((n, self.n_channels), dtype=DTYPES[self.dtype_code])
        return data, np.empty(n, dtype=np.float64)

    def _result(self, data, n: int):
        if self.dtype_code == 3:
            return np.array([s.decode() for s in data], dtype=object).reshape(n, self.n_channels)
        return data

    def newest(self, n: int):
        """The newest n samples and their timestamps, oldest first."""
        data, times = self._arrays(n)
        ptr = C.cast(data, C.c_void_p) if self.dtype_code == 3 else data.ctypes.data
        rc = self.lib.dp_stream_watcher_newest(self.ptr, n, ptr, times.ctypes.data)
        if rc != 0:
            raise ValueError(self.error())
        return self._result(data, n), times

    def read_new(self, max_n: int | None = None):
        """What arrived since the last read (consumed): data, times, overrun."""
        n = self.capacity if max_n is None else max_n
        data, times = self._arrays(n)
        ptr = C.cast(data, C.c_void_p) if self.dtype_code == 3 else data.ctypes.data
        over = C.c_uint64()
        got = self.lib.dp_stream_watcher_read_new(self.ptr, ptr, times.ctypes.data, n,
                                                  C.byref(over))
        if got < 0:
            raise ValueError(self.error())
        return self._result(data, n)[:got], times[:got], over.value

    def unfold_buffer(self):
        return self.newest(self.capacity)[0]

    def unfold_buffer_t(self):
        return self.newest(self.capacity)[1]
