"""Filter bank: microseconds per chunk for 64 channels x 4 bands x order 8 at
10 kHz (filter the chunk, read what is new), ours vs dareplane_utils'
FilterBank; the limit is our bare SOS filters (no ring buffer). A second row
compares our bare filters with bare scipy.signal.sosfilt (4 bands)."""
import json
import subprocess
import timeit

import numpy as np
import scipy.signal as ss
from dareplane_utils.signal_processing.filtering import FilterBank

BANDS = {"theta": [4, 8], "alpha": [8, 12], "beta": [13, 30], "gamma": [30, 80]}
CH, FS = 64, 10000


def best_us(fn):
    timer = timeit.Timer(fn)
    iters, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=iters)) / iters * 1e6


def python(n):
    x = (np.arange(n * CH).reshape(n, CH) % 1000 / 1000).astype(np.float32)
    t = np.arange(n, dtype=np.float64)
    fb = FilterBank(BANDS, order=8, sfreq=FS, n_in_channels=CH, filter_buffer_s=1)

    def step():
        fb.filter(x, t)
        fb.get_data()
        fb.n_new = 0

    soss = [ss.butter(8, v, "bandpass", output="sos", fs=FS) for v in BANDS.values()]
    zis = [np.repeat(ss.sosfilt_zi(s)[:, None, :], CH, axis=1) for s in soss]
    xt = x.T.astype(np.float64)

    def bare():
        for i, s in enumerate(soss):
            _, zis[i] = ss.sosfilt(s, xt, zi=zis[i])

    return best_us(step), best_us(bare)


def run(ctx):
    rows = []
    for n in (1, 10, 100, 1000):
        out = subprocess.run([str(ctx.bin_dir / "bench-filter"), str(n)], check=True,
                             capture_output=True, text=True).stdout
        c = json.loads(out)
        py_bank, py_bare = python(n)
        rows.append(ctx.Row("filter", f"bank 64ch x4 o8, chunk {n:>4}", c["bank_us"], py_bank,
                            c["bare_us"], "us/chunk"))
        rows.append(ctx.Row("filter", f"bare sosfilt x4, chunk {n:>4}", c["bare_us"], py_bare,
                            None, "us/chunk"))
    return rows
