"""`make bench`: runs every benchmark suite (bench/suite_*.py) several times
and prints one table. Each row compares ours with the Python reference and
with a physical limit measured in the same run on this machine:

    suite  case  ours  ±  python  ±  limit  unit  python/ours  ours/limit

A suite is a module with `run(ctx) -> list[Row]`. ctx gives the build's bin
and lib folders, the interop helpers (free ports, process cleanup), and the
Python of the venv. Lower is better unless a row says otherwise (rates).

Hygiene, the same for every suite:
- order: the suites run in name order, and the repeats are interleaved
  (a, b, c, a, b, c, ...) so that a passing disturbance of the machine touches
  one repeat of several suites rather than every repeat of one;
- warm-up: every suite warms up inside (a discarded first stretch of work)
  before it measures; ours, Python and the limit are measured the same way,
  pinned alike where the suite pins;
- repeats: each suite runs `--repeats` times (default 3); the table gives the
  median of the repeats and the spread, (max - min) / median in percent;
- transients: a repeat that raises is run once more; only a suite that fails
  twice in a row is reported as failed (exit 1), and the others still print.

The machine (CPU model, cores, memory, kernel, load when the run began) is
printed above the table. With `--report FILE` the table, the machine and the
plots (`--plots DIR`, PNG) are also written as Markdown: `make bench` writes
docs/benchmarks.md, which is where the README's figures come from."""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))  # helpers, dp_lib

import helpers  # noqa: E402


@dataclass
class Row:
    suite: str
    case: str
    ours: float
    python: float | None
    limit: float | None
    unit: str
    higher_is_better: bool = False
    # optional raw distributions for the report's histograms: {"ours": [...], "python": [...]}
    samples: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Context:
    bin_dir: Path
    lib_dir: Path
    root: Path
    python: str
    helpers: object
    Row: type = Row


@dataclass
class Result:
    """One (suite, case) over all repeats."""
    suite: str
    case: str
    unit: str
    higher_is_better: bool
    runs: dict[str, list[float]]
    samples: dict[str, list[float]]

    def median(self, who: str) -> float | None:
        vals = self.runs[who]
        return statistics.median(vals) if vals else None

    def spread(self, who: str) -> float | None:
        vals, med = self.runs[who], self.median(who)
        if len(vals) < 2 or not med:
            return None
        return (max(vals) - min(vals)) / abs(med) * 100


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def fmt_spread(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}%"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.1f}x"


HEAD = ["suite", "case", "ours", "±", "python", "±", "limit", "unit", "python/ours",
        "ours/limit"]
LEGEND = ("python/ours: how many times better ours is than the Python reference "
          "(time: python/ours; rates: ours/python). ours/limit: how far ours is from the "
          "physical limit measured in the same run (1.0x = at the limit). "
          "±: spread of the repeats, (max - min) / median.")


def cells(r: Result) -> list[str]:
    ours, py, lim = r.median("ours"), r.median("python"), r.median("limit")
    if r.higher_is_better:  # rates: the gain is ours/python, the gap limit/ours
        gain, gap = ratio(ours, py), ratio(lim, ours)
    else:
        gain, gap = ratio(py, ours), ratio(ours, lim)
    return [r.suite, r.case, fmt(ours), fmt_spread(r.spread("ours")), fmt(py),
            fmt_spread(r.spread("python")), fmt(lim), r.unit, gain, gap]


def print_table(results: list[Result]):
    lines = [cells(r) for r in results]
    widths = [max(len(x) for x in col) for col in zip(HEAD, *lines)]

    def out(row):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))

    print(out(HEAD))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(out(line))
    print("\n" + LEGEND)


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "CPU": model,
        "cores": f"{os.cpu_count()} (usable here: {len(os.sched_getaffinity(0))})",
        "memory": mem,
        "kernel": f"{platform.system()} {platform.release()}",
        "load at start (1 min)": f"{os.getloadavg()[0]:.2f}",
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "commit": commit,
    }


def load_suites(only: set[str]):
    suites = []
    for path in sorted((ROOT / "bench").glob("suite_*.py")):
        name = path.stem[len("suite_"):]
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        suites.append((name, mod))
    return suites


def run_once(name: str, mod, ctx: Context, rep: int) -> list[Row] | None:
    """One repeat of one suite; a failure is tried once more (a transient)."""
    for attempt in (1, 2):
        print(f"running {name} (repeat {rep}, attempt {attempt}) ...", file=sys.stderr,
              flush=True)
        try:
            return mod.run(ctx)
        except Exception:  # one broken suite must not hide the others
            traceback.print_exc()
    return None


def collect(rows_by_rep: list[list[Row]]) -> list[Result]:
    results: dict[tuple[str, str], Result] = {}
    for rows in rows_by_rep:
        for r in rows:
            res = results.setdefault((r.suite, r.case), Result(
                r.suite, r.case, r.unit, r.higher_is_better,
                {"ours": [], "python": [], "limit": []}, {}))
            for who in ("ours", "python", "limit"):
                v = getattr(r, who)
                if v is not None:
                    res.runs[who].append(v)
            for who, vals in r.samples.items():
                res.samples.setdefault(who, []).extend(vals)
    return list(results.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("suites", nargs="*", help="only these suites (default: all)")
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("DP_BENCH_REPEATS", 3)))
    ap.add_argument("--report", type=Path, help="also write the table as Markdown here")
    ap.add_argument("--plots", type=Path, help="folder for the report's PNG plots")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    bin_dir = Path(os.environ.get("DP_BIN_DIR", ROOT / "build-release" / "bin"))
    ctx = Context(bin_dir=bin_dir, lib_dir=bin_dir.parent / "lib", root=ROOT,
                  python=sys.executable, helpers=helpers)
    os.environ["DP_LIB_DIR"] = str(ctx.lib_dir)
    mach = machine()
    for k, v in mach.items():
        print(f"{k}: {v}")
    print()

    suites = load_suites(set(args.suites))
    rows: dict[str, list[list[Row]]] = {name: [] for name, _ in suites}
    failed = []
    for rep in range(1, args.repeats + 1):
        for name, mod in suites:
            if name in failed:
                continue
            got = run_once(name, mod, ctx, rep)
            if got is None:
                failed.append(name)
            else:
                rows[name].append(got)
    results = [res for name, _ in suites for res in collect(rows[name])]
    print(f"median of {args.repeats} repeat(s)")
    print_table(results)
    if args.report:
        import report  # matplotlib is imported only when a report is asked for

        report.write(args.report, args.plots or args.report.parent / "img", mach, results,
                     args.repeats, HEAD, [cells(r) for r in results], LEGEND)
        print(f"\nreport: {args.report}")
    if failed:
        print(f"\nFAILED suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
