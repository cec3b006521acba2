"""Draws the closed loop that `make demo` ran, from dp-latency's JSON:
the source signal with its bursts, the decoder output (band power), the
stimulation state, and histograms of the per-hop delays and of the time
from a burst's first sample to stimulation on.

    .venv/bin/python scripts/plot_closed_loop.py closed_loop.json docs/img/closed_loop.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(src, dst):
    with open(src) as f:
        d = json.load(f)
    streams = d["streams"]
    t0 = streams[0]["t"][0] if streams[0]["t"] else 0.0
    fig = plt.figure(figsize=(11, 8), constrained_layout=True)
    grid = fig.add_gridspec(4, 2, width_ratios=[3, 1.3])
    labels = ["source signal (ch 1)", "decoder output (band power)", "control signal"]
    axes = []
    for row, (s, label) in enumerate(zip(streams[:3], labels)):
        ax = fig.add_subplot(grid[row, 0], sharex=axes[0] if axes else None)
        ax.plot(np.array(s["t"]) - t0, s["v"], lw=0.6)
        ax.set_ylabel(label, fontsize=8)
        axes.append(ax)
    stim = d.get("stim")
    ax = fig.add_subplot(grid[3, 0], sharex=axes[0])
    if stim and stim["t"]:
        t = np.array(stim["t"]) - t0
        ax.step(np.r_[0, t], np.r_[0, stim["v"]], where="post")
    ax.set_ylabel("stimulation on", fontsize=8)
    ax.set_yticks([0, 1], ["off", "on"])
    ax.set_xlabel("seconds (LSL time of the source sample)")
    bursts = d.get("bursts")
    for b in (bursts["t"] if bursts else []):
        for a in axes + [ax]:
            a.axvline(b - t0, color="tab:red", lw=0.8, ls=":")
    axes[0].set_title("closed loop: bursts (red) detected and answered by the stimulator",
                      fontsize=10)
    h = fig.add_subplot(grid[0:2, 1])
    for s_prev, s in zip(streams, streams[1:]):
        if s["hop_ms"]:
            h.hist(s["hop_ms"], bins=60, histtype="step",
                   label=f"hop to {s['name'].split('_')[1]}")
    h.set_xlabel("per-hop delay (ms)")
    h.set_yscale("log")
    h.legend(fontsize=7)
    b = fig.add_subplot(grid[2:4, 1])
    if d.get("burst_on_ms"):
        b.hist(d["burst_on_ms"], bins=20)
    b.set_xlabel("burst first sample -> stimulation on (ms)")
    fig.savefig(dst, dpi=90)
    print(f"plot_closed_loop: wrote {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_closed_loop.py IN.json OUT.png")
    main(sys.argv[1], sys.argv[2])
