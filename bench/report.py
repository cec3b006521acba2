"""Writes the benchmark report that `make bench` leaves in docs/benchmarks.md:
the machine, the table of bench/run.py as Markdown, and plots beside it (one
bar chart per suite, ours / Python / limit on a log scale, and a histogram for
every row whose suite handed over raw samples, e.g. round-trip latencies).
Every figure in the report is one that run.py printed in the same run."""
from __future__ import annotations

import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"ours": "#1f77b4", "python": "#ff7f0e", "limit": "#7f7f7f"}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def suite_bars(path: Path, suite: str, results) -> None:
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * len(results)))
    labels = [f"{r.case} [{r.unit}]" for r in results]
    height = 0.26
    for i, who in enumerate(("ours", "python", "limit")):
        ys = [k + (i - 1) * height for k in range(len(results))]
        vals = [r.median(who) or 0 for r in results]
        ax.barh(ys, vals, height, label=who, color=COLOURS[who])
    ax.set_yticks(range(len(results)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_title(f"{suite}: median of the repeats (log scale; see the table for units)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def histogram(path: Path, r) -> None:
    fig, ax = plt.subplots(figsize=(7, 3))
    everything = sorted(v for vals in r.samples.values() for v in vals)
    # the slowest 0.5 % would stretch the axis over empty bins: the table has the tail
    lo, hi = everything[0], everything[int(len(everything) * 0.995) - 1]
    bins = 60 if hi > lo else 1
    for who, vals in r.samples.items():
        ax.hist(vals, bins=bins, range=(lo, hi), alpha=0.6, label=f"{who} (n={len(vals)})",
                color=COLOURS.get(who))
    ax.set_yscale("log")
    ax.set_xlabel(f"{r.unit} (up to the 99.5th percentile)")
    ax.set_ylabel("count")
    ax.set_title(f"{r.suite}: the distribution behind '{r.case}'", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(report: Path, plots: Path, machine: dict, results, repeats: int, head, rows,
          legend: str) -> None:
    plots.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(plots, report.parent))
    lines = ["# Benchmarks", "",
             "Written by `make bench` (bench/run.py); do not edit by hand. Every figure in "
             "the README and the docs comes from a run like this one.", "",
             "## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in machine.items()]
    lines += ["", f"## Results (median of {repeats} repeats)", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    lines += ["", legend, "", "## Plots", ""]
    suites: dict[str, list] = {}
    for r in results:
        suites.setdefault(r.suite, []).append(r)
    for suite, rs in suites.items():
        name = f"bench-{slug(suite)}.png"
        suite_bars(plots / name, suite, rs)
        lines += [f"![{suite}]({rel / name})", ""]
        for r in rs:
            if r.samples:
                hname = f"hist-{slug(suite)}-{slug(r.case)}.png"
                histogram(plots / hname, r)
                lines += [f"![{suite}: {r.case}]({rel / hname})", ""]
    report.write_text("\n".join(lines))
