"""Import cost: fresh interpreters importing ei_usage, httpx, edgeimpulse_api, or nothing.

Each probe is a new ``python -c CODE`` process, timed with perf_counter around spawn and exit;
its CPU time comes from ``os.wait4`` (this child's own rusage), its peak RSS from its own
``VmHWM``, printed as its last act (``_common.PEAK_RSS_CODE`` says why not ``ru_maxrss``). The
probes run in rounds, each round every subject once (A B C ... A B C ...), so load on the
machine hits them alike; the cost of an import net of starting Python is the probe minus the
``pass`` probe of the same venv in the same round. Byte code is cached (``PYTHONPYCACHEPREFIX``)
and warmed first, as an installed package's would be.

``python bench/import_probe.py [--runs N]`` prints the raw measurements as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from _common import (
    BENCH,
    OFFICIAL_PYTHON,
    PEAK_RSS_CODE,
    PROJECT_PYTHON,
    ROOT,
    measure,
    parse_peak_rss,
)

if TYPE_CHECKING:
    from pathlib import Path

# A venv with ei-usage's wheel and its runtime dependencies alone, as a tool installs it: in the
# project venv `import httpx` also loads click and rich (httpx's optional command line), which
# would make the httpx baseline heavier than a user's.
CLEAN_VENV = BENCH / ".venv-clean"
CLEAN_PYTHON = CLEAN_VENV / "bin" / "python"
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def make_clean_venv() -> Path:
    """Build the wheel and install it, with the runtime lock's wheels only, into a fresh venv.

    Offline: the wheels come from the wheelhouse `make venv` fills (requirements/runtime.lock).
    """
    dist = BENCH / ".cache" / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    shutil.rmtree(CLEAN_VENV, ignore_errors=True)
    subprocess.run(
        [PROJECT_PYTHON, "-m", "build", "--no-isolation", "--wheel", "--outdir", dist, ROOT],
        check=True,
        capture_output=True,
    )
    subprocess.run([PROJECT_PYTHON, "-m", "venv", CLEAN_VENV], check=True)
    (wheel,) = dist.glob("ei_usage-*.whl")
    subprocess.run(
        [
            CLEAN_PYTHON,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            WHEELHOUSE,
            wheel,
        ],
        check=True,
    )
    return CLEAN_PYTHON


# name: (interpreter, code, official venv?)
SUBJECTS: dict[str, tuple[Path, str, bool]] = {
    "pass": (PROJECT_PYTHON, "pass", False),
    "httpx": (PROJECT_PYTHON, "import httpx", False),
    "ei_usage": (PROJECT_PYTHON, "import ei_usage", False),
    "ei_usage_client": (PROJECT_PYTHON, "from ei_usage import Client", False),
    "clean_pass": (CLEAN_PYTHON, "pass", False),
    "clean_httpx": (CLEAN_PYTHON, "import httpx", False),
    "clean_client": (CLEAN_PYTHON, "from ei_usage import Client, DateRange", False),
    "official_pass": (OFFICIAL_PYTHON, "pass", True),
    "edgeimpulse_api": (OFFICIAL_PYTHON, "import edgeimpulse_api", True),
}


def run(runs: int, official_runs: int) -> dict[str, list[dict[str, float]]]:
    """Measure every subject ``runs`` times (the official venv's ``official_runs`` times).

    Returns:
        Per subject, one ``{"wall": s, "rss": peak KiB, "cpu": s}`` per round, rounds aligned (the
        official subjects' lists are the first ``official_runs`` rounds).
    """
    make_clean_venv()
    for python, code, official in SUBJECTS.values():  # warm the byte-code cache
        if not official or official_runs:
            measure([python, "-c", code])
    results: dict[str, list[dict[str, float]]] = {name: [] for name in SUBJECTS}
    for i in range(runs):
        for name, (python, code, official) in SUBJECTS.items():
            if official and i >= official_runs:
                continue
            m = measure([python, "-c", f"{code}\n{PEAK_RSS_CODE}"], capture=True)
            results[name].append({"wall": m.wall, "rss": parse_peak_rss(m.stdout), "cpu": m.cpu})
    return results


def main() -> None:
    """Print the raw measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--official-runs", type=int, default=None)
    args = parser.parse_args()
    official_runs = args.runs if args.official_runs is None else args.official_runs
    result: Any = run(args.runs, official_runs)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
