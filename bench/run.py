"""`make bench`: runs every benchmark suite (bench/suite_*.py) and prints one
table. Each row compares ours with the Python reference and with a physical
limit measured in the same run on this machine:

    suite      case                 ours     python    limit  unit  py/ours  ours/limit

A suite is a module with `run(ctx) -> list[Row]`. ctx gives the build's bin
and lib folders, the interop helpers (free ports, process cleanup), and the
Python of the venv. Lower is better unless a row says otherwise (rates)."""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
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


@dataclass
class Context:
    bin_dir: Path
    lib_dir: Path
    root: Path
    python: str
    helpers: object
    Row: type = Row


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


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.1f}x"


def print_table(rows: list[Row]):
    head = ["suite", "case", "ours", "python", "limit", "unit", "python/ours", "ours/limit"]
    lines = []
    for r in rows:
        if r.higher_is_better:  # rates: the gain is ours/python, the gap limit/ours
            gain, gap = ratio(r.ours, r.python), ratio(r.limit, r.ours)
        else:
            gain, gap = ratio(r.python, r.ours), ratio(r.ours, r.limit)
        lines.append([r.suite, r.case, fmt(r.ours), fmt(r.python), fmt(r.limit), r.unit, gain,
                      gap])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    out = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    print(out(head))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(out(line))
    print("\npython/ours: how many times better ours is than the Python reference "
          "(time: python/ours; rates: ours/python).\nours/limit: how far ours is from the "
          "physical limit measured in the same run (1.0x = at the limit).")


def main() -> int:
    bin_dir = Path(os.environ.get("DP_BIN_DIR", ROOT / "build-release" / "bin"))
    ctx = Context(bin_dir=bin_dir, lib_dir=bin_dir.parent / "lib", root=ROOT,
                  python=sys.executable, helpers=helpers)
    os.environ["DP_LIB_DIR"] = str(ctx.lib_dir)
    only = set(sys.argv[1:])
    rows: list[Row] = []
    failed = []
    for path in sorted((ROOT / "bench").glob("suite_*.py")):
        name = path.stem[len("suite_"):]
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            spec.loader.exec_module(mod)
            rows.extend(mod.run(ctx))
        except Exception:  # one broken suite must not hide the others
            traceback.print_exc()
            failed.append(name)
    print_table(rows)
    if failed:
        print(f"\nFAILED suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
