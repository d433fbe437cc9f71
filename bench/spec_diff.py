"""How long ``make spec-diff`` takes: on the unchanged full spec, and proving a changed one.

Usage::

    .venv/bin/python bench/spec_diff.py [--spec PATH] [--runs N]   # make bench-spec-diff

The full Edge Impulse spec comes from ``--spec``, else ``EI_FULL_SPEC``, else
``../shared/specs/edge-impulse-openapi.yml``. Each run is a fresh
``openapi/tools/vendor_spec.py --from SPEC --dry-run`` process (as ``make spec-diff`` runs it),
comparing with the committed slice and writing nothing:

- the unchanged full spec: the slice would not change, so nothing is regenerated (target < 10 s);
- a changed full spec (``additionalProperties: false`` on ``EntitlementLimits``): the OK verdict
  is proven (regenerate, import the wrapper, mypy --strict, the fast wrapper tests in a temporary
  tree; target < 90 s on a 2-core machine);
- the same with ``--no-generate``: the fast path, labelled unproven (informational).

Prints one table row per case (median, min, max of the runs) and the load average around them;
``bench/RESULTS.md`` keeps the rows under their own heading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "openapi" / "tools" / "vendor_spec.py"
TARGETS = {"unchanged": 10.0, "proven": 90.0}


def full_spec(argument: str | None) -> Path:
    """The full spec's path, from the argument, EI_FULL_SPEC or ../shared."""
    chosen = argument or os.environ.get("EI_FULL_SPEC")
    path = Path(chosen) if chosen else ROOT.parent / "shared" / "specs" / "edge-impulse-openapi.yml"
    if not path.is_file():
        sys.exit(f"bench/spec_diff.py: no full spec at {path}: pass --spec or set EI_FULL_SPEC")
    return path


def changed_spec(source: Path, directory: Path) -> Path:
    """The full spec with ``additionalProperties: false`` on ``EntitlementLimits``."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(source.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    document["components"]["schemas"]["EntitlementLimits"]["additionalProperties"] = False
    path = directory / "openapi-changed.yml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(document, Dumper=dumper, sort_keys=False), encoding="utf-8")
    return path


def run(spec: Path, *extra: str) -> tuple[float, str]:
    """One spec-diff process: its wall time and the last lines it printed."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--from", str(spec), "--dry-run", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"spec-diff exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return elapsed, " / ".join(result.stdout.strip().splitlines()[-2:])


def row(subject: str, times: list[float], target: float | None, note: str) -> str:
    """One table row: median, min and max of the runs against the target."""
    median = statistics.median(times)
    verdict = "—" if target is None else ("yes" if median < target else "no")
    goal = "informational" if target is None else f"< {target:g} s"
    return (
        f"| spec-diff | {subject} | {median:.1f} s | {min(times):.1f} s | {max(times):.1f} s "
        f"| {note} | {goal} | {verdict} |"
    )


def main() -> int:
    """Measure and print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", help="the full Edge Impulse spec")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args()
    source = full_spec(args.spec)
    start_load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ei-bench-spec-diff-") as tmp:
        changed = changed_spec(source, Path(tmp))
        cases = [
            ("unchanged full spec (nothing to regenerate)", source, (), TARGETS["unchanged"]),
            ("changed full spec, proven", changed, (), TARGETS["proven"]),
            ("changed full spec, --no-generate (unproven)", changed, ("--no-generate",), None),
        ]
        for subject, spec, extra, target in cases:
            times, said = [], ""
            for _ in range(args.runs):
                elapsed, said = run(spec, *extra)
                times.append(elapsed)
            rows.append(row(subject, times, target, said.replace("|", "/")[:160]))
    end_load = os.getloadavg()
    print("| benchmark | subject | median | min | max | spec-diff said | target | met? |")
    print("|---|---|--:|--:|--:|---|---|---|")
    print("\n".join(rows))
    loads = " / ".join(f"{value:.2f}" for value in start_load)
    print(f"\nload average (1/5/15 min) {loads} at the start, ", end="")
    print(" / ".join(f"{value:.2f}" for value in end_load) + " at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
