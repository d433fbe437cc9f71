"""Prove that the wrapper works with the client generated from a new spec slice.

``make spec-diff`` (``vendor_spec.py --dry-run``) and ``make vendor-spec`` call :func:`prove` on a
new slice before they call it OK: the rules of ``spec_diff.py`` say *why* a change is breaking
and which wrapper fields it touches, but a list of rules cannot be complete; this proof catches
what they miss. In a temporary tree, never in the repository:

1. generate the client from the slice with the pinned generator (``generate.generate_into``);
   if it is byte for byte the committed ``generated/`` (headers aside), there is nothing more to
   prove: the repository's own tests run the wrapper against exactly that client;
2. import the wrapper against it, and describe a call of every vendored operation;
3. ``mypy --strict`` on ``wrapper/`` against it (the repository's mypy settings; errors inside
   the generated package are not the wrapper's, as in the repository, where it is installed);
4. the fast offline wrapper tests against it: :data:`PROOF_TESTS` (the parser, the prepared
   calls, the client on mocked transports, FakeStudio on loopback, the recorded cassettes).

Steps 3 and 4 run side by side. The first failure is the verdict: breaking, quoting the first
error (file:line and message). Each step is bounded by a timeout.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import generate

if TYPE_CHECKING:
    from collections.abc import Sequence

PROOF_TESTS = (
    "tests/wrapper/test_parse.py",
    "tests/wrapper/test_calls.py",
    "tests/wrapper/test_models.py",
    "tests/wrapper/test_client.py",
    "tests/wrapper/test_client_against_studio.py",
    "tests/recorded",
)
"""The fast offline wrapper tests a proof runs (about 1,300 tests, 15 s of CPU)."""

SMOKE_TESTS = (
    "tests/wrapper/test_parse.py",
    "tests/wrapper/test_calls.py",
    "tests/recorded",
)
"""A smaller set, for the proofs ``make test`` runs (tests/openapi): the parser, the calls and
the cassettes, which go through every vendored operation."""

# What the wrapper import step runs: every wrapper module that imports the generated client (the
# wrapper imports lazily), each from the temporary tree, and the compute-time route described.
_IMPORT_CHECK = """\
import importlib, pathlib, sys
root = pathlib.Path(sys.argv[1])
import edge_impulse_api_client
for path in sorted((root / "wrapper" / "ei_usage").rglob("*.py")):
    if "edge_impulse_api_client" in path.read_text(encoding="utf-8"):
        parts = path.relative_to(root / "wrapper").with_suffix("").parts
        module = importlib.import_module(".".join(p for p in parts if p != "__init__"))
        assert module.__file__.startswith(str(root)), f"{module.__name__} from {module.__file__}"
assert edge_impulse_api_client.__file__.startswith(str(root)), edge_impulse_api_client.__file__
from ei_usage import _calls
_calls.compute_time_route(1, 2)
"""
_MYPY_ERROR = re.compile(r"^(?P<where>[^:\n]+:\d+): error: (?P<message>.*)$", re.MULTILINE)
_PYTEST_LINE = re.compile(r"^(?P<where>/[^:\n]+:\d+): (?P<message>.+)$", re.MULTILINE)
_FAILED = re.compile(r"^(?:FAILED|ERROR) (?P<test>\S+)(?: - (?P<message>.*))?$", re.MULTILINE)
_TRACEBACK_FILE = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.MULTILINE)
_MYPY_OVERRIDE = """
# Added by openapi/tools/proof.py: the generated package is checked as the wrapper's dependency
# (in the repository it is installed, and mypy reports no errors inside installed packages).
[[tool.mypy.overrides]]
module = ["edge_impulse_api_client", "edge_impulse_api_client.*"]
ignore_errors = true
"""


@dataclass(frozen=True)
class Proof:
    """What a proof found.

    Attributes:
        problem: None when every step passed, else the failed step and its first error.
        step: The step that failed (``generate``, ``import``, ``mypy``, ``tests``), or the last
            one run.
        seconds: How long the proof took.
        summary: What was proven, in words (for the report).
        client_changed: False when the regenerated client is the committed one (headers aside).

    """

    problem: str | None
    step: str
    seconds: float
    summary: str = ""
    client_changed: bool = True


class _StepFailedError(Exception):
    def __init__(self, step: str, problem: str) -> None:
        super().__init__(problem)
        self.step = step
        self.problem = problem


_COPIED = ("wrapper", "tests")
_COPIED_FILES = ("pyproject.toml", "generator-config.yaml", "openapi/wrapper-fields.yaml")
_IGNORED = shutil.ignore_patterns("__pycache__", ".hypothesis", ".mypy_cache", "*.pyc")


def _tree(root: Path, tree: Path, spec_text: str) -> None:
    """Lay out the temporary tree: the wrapper and tests copied, the new slice in place."""
    for name in _COPIED:
        shutil.copytree(root / name, tree / name, ignore=_IGNORED)
    for name in _COPIED_FILES:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, tree / name)
    (tree / generate.SPEC).write_text(spec_text, encoding="utf-8")
    with (tree / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(_MYPY_OVERRIDE)


def _same_as_committed(root: Path, fresh: Path) -> bool:
    """Whether a regenerated package equals the committed one but for the headers' sha256."""

    def files(tree: Path) -> dict[str, list[str]]:
        return {
            path.relative_to(tree).as_posix(): [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if not line.startswith(("# Spec:", "# Config:"))
            ]
            for path in sorted(tree.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }

    committed = root / generate.OUTPUT
    return committed.is_dir() and files(committed) == files(fresh)


def _environment(tree: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "EI_", "COV_"))
    }
    environment["PYTHONPATH"] = os.pathsep.join([str(tree / "wrapper"), str(tree / "generated")])
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    environment["MYPY_FORCE_COLOR"] = "0"
    environment["NO_COLOR"] = "1"
    return environment


def _clean(text: str, tree: Path) -> str:
    """Tool output with the temporary tree's paths made relative."""
    return text.replace(f"{tree}{os.sep}", "").replace(str(tree), ".")


def _first_import_error(output: str, tree: Path) -> str:
    text = _clean(output, tree)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    message = lines[-1].strip() if lines else "no output"
    places = _TRACEBACK_FILE.findall(text)
    if places:
        file, line = places[-1]
        return f"{file}:{line}: {message}"
    return message


def _first_mypy_error(output: str, tree: Path) -> str:
    text = _clean(output, tree)
    match = _MYPY_ERROR.search(text)
    if match:
        return f"{match['where']}: {match['message']}"
    return " | ".join(line for line in text.strip().splitlines()[-3:])


def _first_test_failure(output: str, tree: Path) -> str:
    raw = output
    failed = _FAILED.search(_clean(raw, tree))
    where = _PYTEST_LINE.search(raw)
    test = f"{failed['test']}: " if failed else ""
    if where:
        return f"{test}{_clean(where['where'], tree)}: {where['message'].strip()}"
    if failed and failed["message"]:
        return f"{test}{failed['message']}"
    tail = [line for line in _clean(raw, tree).strip().splitlines() if line.strip()][-3:]
    return test + " | ".join(tail)


def _run(
    command: Sequence[str], tree: Path, environment: dict[str, str], timeout_seconds: float
) -> tuple[int, str]:
    try:
        result = subprocess.run(
            list(command),
            cwd=tree,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_seconds,
        )
    except subprocess.TimeoutExpired:
        return -1, f"did not finish within {timeout_seconds:g} s"
    return result.returncode, result.stdout + result.stderr


def _checks(
    tree: Path, tests: Sequence[str], environment: dict[str, str], timeout_seconds: float
) -> str:
    """Run mypy and the tests side by side; return what passed, or raise the first failure."""
    python = sys.executable
    mypy = [str(generate._tool("mypy")), "--strict", "--cache-dir", str(tree / ".mypy_cache")]
    pytest = [python, "-m", "pytest", "-q", "-x", "--tb=line", "-p", "no:cacheprovider"]
    started = {
        "mypy": subprocess.Popen(
            [*mypy, "wrapper"],
            cwd=tree,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        "tests": subprocess.Popen(
            [*pytest, *tests],
            cwd=tree,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    }
    first_error = {"mypy": _first_mypy_error, "tests": _first_test_failure}
    what = {"mypy": "mypy --strict wrapper/", "tests": "wrapper tests"}
    deadline = time.monotonic() + timeout_seconds
    output = ""
    try:
        # mypy finishes first: when it fails, the tests are stopped, not waited for.
        for step, process in started.items():
            try:
                output, _ = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                message = f"{what[step]}: did not finish within {timeout_seconds:g} s"
                raise _StepFailedError(step, message) from None
            if process.returncode != 0:
                raise _StepFailedError(step, f"{what[step]}: {first_error[step](output, tree)}")
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    counts = re.findall(r"(\d+) passed", output)
    passed = f"{counts[-1]} " if counts else ""
    return f"mypy --strict on wrapper/ and {passed}fast wrapper tests passed"


def prove(
    spec_text: str,
    *,
    root: Path,
    timeout_seconds: float,
    tests: Sequence[str] | None = None,
) -> Proof:
    """Regenerate the client from a slice and check the wrapper against it, in a temporary tree.

    Args:
        spec_text: The new slice, as ``make vendor-spec`` would write it.
        root: The repository: where the wrapper, its tests and the generator config are.
        timeout_seconds: How long each step may run.
        tests: The test paths to run, relative to ``root``; None for :data:`PROOF_TESTS`.

    Returns:
        What the proof found; ``problem`` is None when the wrapper works with the new client.

    """
    chosen = PROOF_TESTS if tests is None else tests
    key = (hashlib.sha256(spec_text.encode("utf-8")).hexdigest(), str(root), tuple(chosen))
    if key not in _proven:
        _proven[key] = _prove(spec_text, root, timeout_seconds, chosen)
    return _proven[key]


# Each distinct slice is proven once per process (a report is printed as text and as JSON).
_proven: dict[tuple[str, str, tuple[str, ...]], Proof] = {}


def _prove(spec_text: str, root: Path, timeout_seconds: float, tests: Sequence[str]) -> Proof:
    started = time.monotonic()
    step = "generate"
    with tempfile.TemporaryDirectory(prefix="ei-spec-proof-") as tmp:
        tree = Path(tmp)
        try:
            _tree(root, tree, spec_text)
            package = tree / "generated" / generate.PACKAGE
            try:
                generate.generate_into(tree, package, timeout_seconds)
            except generate.GenerationError as error:
                tools = f"{Path(sys.executable).parent}/"
                message = str(error).replace(tmp, "<tmp>").replace(tools, "")
                raise _StepFailedError("generate", message) from None
            if _same_as_committed(root, package):
                summary = "the regenerated client is the committed one (headers aside)"
                return Proof(None, step, time.monotonic() - started, summary, False)
            environment = _environment(tree)
            step = "import"
            status, output = _run(
                [sys.executable, "-c", _IMPORT_CHECK, str(tree)],
                tree,
                environment,
                timeout_seconds,
            )
            if status != 0:
                raise _StepFailedError(step, f"import: {_first_import_error(output, tree)}")
            step = "tests"
            summary = _checks(tree, tests, environment, timeout_seconds)
        except _StepFailedError as failure:
            return Proof(failure.problem, failure.step, time.monotonic() - started)
    summary = f"regenerated the client; the wrapper imports; {summary}"
    return Proof(None, step, time.monotonic() - started, summary)
