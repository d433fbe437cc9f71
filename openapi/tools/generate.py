"""Regenerate the low-level client, or check that ``generated/`` is what the generator makes.

``make generate`` runs this script; ``make check-generated`` runs it with ``--check``.

The pipeline is the same for both, so the check proves exactly what a regeneration would do:

1. ``openapi-python-client generate`` (the exact version pinned in ``requirements/dev.lock``) reads
   ``openapi/edge-impulse.yaml`` and ``generator-config.yaml`` and writes into a fresh temporary
   directory, with ``--meta none --fail-on-warning``.
2. ``py.typed`` is added (the generator only writes it for full projects, not ``--meta none``).
3. Every file gets a header: generated, do not edit, the command, the generator version and the
   sha256 of the spec and config it came from. For the spec slice that is the sha256 of its
   *content*: its bytes after the leading comment block. That block is provenance written by
   ``make vendor-spec`` (the sha256 of the upstream file it was sliced from), which changes
   whenever Edge Impulse changes anything in their spec, however far from our operations; it is
   not input to the generator (YAML comments carry no data), so it must not rewrite the header of
   every generated file. The remaining bytes are hashed as they are, not a canonical dump of the
   parsed YAML: that keeps the fingerprint exactly what the generator read, independent of how
   some YAML library would re-serialize it.
4. The pinned ruff from this virtual environment (never one from PATH, and ``--isolated`` so no
   ``pyproject.toml`` around the output changes the result) sorts imports and formats. A missing
   ruff is an error: the generator's own post hooks would silently skip it.

Then ``generate`` replaces ``generated/edge_impulse_api_client`` wholesale (so files of removed
operations disappear), while ``--check`` compares the fresh output with it and prints a diff.
``make spec-diff`` runs the same pipeline on a new slice in a temporary directory
(:func:`check_spec`, each tool bounded by a timeout) before it calls the slice OK.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

PACKAGE = "edge_impulse_api_client"
SPEC = Path("openapi/edge-impulse.yaml")
CONFIG = Path("generator-config.yaml")
OUTPUT = Path("generated") / PACKAGE
GENERATOR_ARGS = ("--meta", "none", "--fail-on-warning")
# Fixed here rather than read from pyproject.toml: the output must not depend on where it is made.
RUFF_ARGS = ("--isolated", "--no-cache", "--target-version", "py311", "--line-length", "100")
IGNORED = {"__pycache__"}


class GenerationError(Exception):
    """Generation failed; the message says why."""


def _tool(name: str) -> Path:
    """Find a console script of this interpreter's environment, never one from PATH."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise GenerationError(
            f"{name} not found next to {sys.executable}; "
            "run `make venv` to install the pinned tools"
        )
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def content_sha256(path: Path) -> str:
    """Return the sha256 of a YAML file's bytes after its leading comment block.

    The block is the leading lines that are blank or start with ``#``.
    """
    data = path.read_bytes()
    offset = 0
    for line in data.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith(b"#"):
            break
        offset += len(line)
    return hashlib.sha256(data[offset:]).hexdigest()


def header(root: Path) -> str:
    """Return the comment block that starts every generated file."""
    command = " ".join(
        [
            "openapi-python-client generate",
            f"--path {SPEC.as_posix()}",
            f"--config {CONFIG.as_posix()}",
            *GENERATOR_ARGS,
        ]
    )
    return (
        "# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run\n"
        "# `make generate` (openapi/tools/generate.py), which ran:\n"
        f"#   {command}\n"
        f"# Generator: openapi-python-client {version('openapi-python-client')}, "
        f"formatted by ruff {version('ruff')}\n"
        f"# Spec:   {SPEC.as_posix()} content sha256 {content_sha256(root / SPEC)}\n"
        f"# Config: {CONFIG.as_posix()} sha256 {_sha256(root / CONFIG)}\n"
    )


def _run(cmd: list[str], cwd: Path, timeout_seconds: float | None = None) -> None:
    try:
        result = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout_seconds
        )
    except subprocess.TimeoutExpired as error:
        raise GenerationError(
            f"`{Path(cmd[0]).name} {cmd[1]}` did not finish within {timeout_seconds:g} s"
        ) from error
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise GenerationError(f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n{output}")


def generate_into(root: Path, dest: Path, timeout_seconds: float | None = None) -> None:
    """Generate the client package for the spec under ``root`` into ``dest`` (must not exist).

    Args:
        root: A directory holding the spec slice and the generator config at their usual places.
        dest: Where the package goes.
        timeout_seconds: How long each tool may run; None for no limit.

    Raises:
        GenerationError: A tool is missing, fails, or runs out of time.

    """
    generator = _tool("openapi-python-client")
    ruff = _tool("ruff")
    for required in (SPEC, CONFIG):
        if not (root / required).is_file():
            raise GenerationError(f"{root / required} is missing")
    _run(
        [
            str(generator),
            "generate",
            "--path",
            str(root / SPEC),
            "--config",
            str(root / CONFIG),
            *GENERATOR_ARGS,
            "--output-path",
            str(dest),
        ],
        cwd=root,
        timeout_seconds=timeout_seconds,
    )
    (dest / "py.typed").write_text("")
    text = header(root)
    for path in sorted(dest.rglob("*")):
        if path.is_file():
            path.write_text(text + path.read_text(encoding="utf-8"), encoding="utf-8")
    fix = [str(ruff), "check", *RUFF_ARGS, "--fix-only", "--extend-select", "I", "-q", "."]
    _run(fix, dest, timeout_seconds)
    _run([str(ruff), "format", *RUFF_ARGS, "-q", "."], dest, timeout_seconds)


_checked: dict[str, str | None] = {}


def check_spec(spec_text: str, config: Path, timeout_seconds: float) -> str | None:
    """Run the whole generation on a spec slice in a temporary directory, writing nothing else.

    ``make spec-diff`` calls this so that it never calls a spec fine that ``make generate`` then
    fails on (a ``$ref`` cycle, say). Each distinct slice is generated once per process.

    Args:
        spec_text: The slice, as ``make vendor-spec`` would write it.
        config: The generator config to use (``generator-config.yaml``).
        timeout_seconds: How long each tool may run.

    Returns:
        None if generation succeeds, else why it failed (the generator's own message).

    """
    key = hashlib.sha256(spec_text.encode("utf-8") + b"\0" + config.read_bytes()).hexdigest()
    if key in _checked:
        return _checked[key]
    with tempfile.TemporaryDirectory(prefix="ei-spec-diff-") as tmp:
        root = Path(tmp)
        (root / SPEC).parent.mkdir(parents=True)
        (root / SPEC).write_text(spec_text, encoding="utf-8")
        shutil.copyfile(config, root / CONFIG)
        try:
            generate_into(root, root / "out" / PACKAGE, timeout_seconds)
        except GenerationError as error:
            # Paths of the temporary directory and the tools say nothing to the reader.
            tools = f"{Path(sys.executable).parent}/"
            problem: str | None = str(error).replace(tmp, "<tmp>").replace(tools, "")
        else:
            problem = None
    _checked[key] = problem
    return problem


def _files(tree: Path) -> dict[str, Path]:
    return {
        path.relative_to(tree).as_posix(): path
        for path in sorted(tree.rglob("*"))
        if path.is_file() and not IGNORED.intersection(path.relative_to(tree).parts)
    }


def diff_trees(expected: Path, actual: Path, label: str) -> list[str]:
    """Describe every difference between the fresh output and the committed tree.

    Args:
        expected: the freshly generated package.
        actual: the committed package (may be missing).
        label: how to name the committed tree in messages.

    Returns:
        Human-readable lines; empty when the trees are identical byte for byte.
    """
    fresh = _files(expected)
    committed = _files(actual) if actual.is_dir() else {}
    lines: list[str] = []
    for name in sorted(fresh.keys() | committed.keys()):
        if name not in committed:
            lines.append(f"missing from {label}: {name} (the generator makes it)")
        elif name not in fresh:
            lines.append(f"extra in {label}: {name} (the generator does not make it)")
        else:
            old, new = committed[name].read_bytes(), fresh[name].read_bytes()
            if old != new:
                lines.extend(
                    difflib.unified_diff(
                        old.decode("utf-8", "replace").splitlines(),
                        new.decode("utf-8", "replace").splitlines(),
                        f"{label}/{name} (committed)",
                        f"{label}/{name} (generated)",
                        lineterm="",
                    )
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parents[2],
        help="repository root (default: this checkout)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    target = root / OUTPUT
    try:
        with tempfile.TemporaryDirectory(prefix="ei-generate-") as tmp:
            fresh = Path(tmp) / PACKAGE
            generate_into(root, fresh)
            if args.check:
                lines = diff_trees(fresh, target, OUTPUT.as_posix())
                if lines:
                    print("\n".join(lines))
                    print(
                        f"\ncheck-generated: {OUTPUT.as_posix()} differs from what the generator "
                        "makes from the vendored spec. Never edit it by hand: run `make generate`.",
                        file=sys.stderr,
                    )
                    return 1
                print(f"check-generated: {OUTPUT.as_posix()} is up to date")
                return 0
            # Replace wholesale so that files of removed operations disappear.
            staging = target.with_name(f".{PACKAGE}.new")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(fresh, staging)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
            print(f"generate: wrote {OUTPUT.as_posix()} ({len(_files(target))} files)")
            return 0
    except GenerationError as error:
        print(f"generate: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
