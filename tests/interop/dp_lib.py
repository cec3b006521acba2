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

    @property
    def curr_i(self) -> int:
        return self.lib.dp_ringbuffer_write_index(self.ptr)

    @property
    def last_t(self) -> float:
        return self.lib.dp_ringbuffer_last_time(self.ptr)
