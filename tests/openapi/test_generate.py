"""The generated client is exactly what the pinned generator makes from the vendored spec."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "openapi" / "tools" / "generate.py"
PACKAGE = ROOT / "generated" / "edge_impulse_api_client"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ei_generate", SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A minimal copy of the repository: the spec, the config and the committed output."""
    (tmp_path / "openapi").mkdir()
    shutil.copy(ROOT / "openapi" / "edge-impulse.yaml", tmp_path / "openapi")
    shutil.copy(ROOT / "generator-config.yaml", tmp_path)
    shutil.copytree(
        PACKAGE,
        tmp_path / "generated" / "edge_impulse_api_client",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return tmp_path


def committed_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def test_committed_output_is_what_the_generator_makes(checkout: Path) -> None:
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_editing_one_byte_fails_the_check_with_a_diff(checkout: Path) -> None:
    target = (
        checkout / "generated/edge_impulse_api_client/models/organization_compute_time_usage.py"
    )
    data = bytearray(target.read_bytes())
    index = data.index(b"cpu_compute_time")
    data[index] = ord("C")
    target.write_bytes(bytes(data))

    result = run("--check", "--root", str(checkout))

    assert result.returncode == 1
    assert "models/organization_compute_time_usage.py (committed)" in result.stdout
    assert "-" + "C" in result.stdout or "Cpu_compute_time" in result.stdout
    assert "make generate" in result.stderr


def test_an_added_file_fails_the_check(checkout: Path) -> None:
    (checkout / "generated/edge_impulse_api_client/api/organizations/stale_op.py").write_text("")
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 1
    assert "extra in generated/edge_impulse_api_client: api/organizations/stale_op.py" in (
        result.stdout
    )


def test_a_removed_file_fails_the_check(checkout: Path) -> None:
    (checkout / "generated/edge_impulse_api_client/types.py").unlink()
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 1
    assert "missing from generated/edge_impulse_api_client: types.py" in result.stdout


def test_a_spec_change_fails_the_check(checkout: Path) -> None:
    spec = checkout / "openapi/edge-impulse.yaml"
    spec.write_text(spec.read_text().replace("Get general metrics", "Get all metrics"))
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 1
    assert "+     Get all metrics for this organization." in result.stdout


def test_generate_is_byte_identical_and_removes_stale_files(checkout: Path) -> None:
    package = checkout / "generated" / "edge_impulse_api_client"
    stale = package / "api" / "organizations" / "removed_operation.py"
    stale.write_text("# from an operation the spec no longer has\n")

    first = run("--root", str(checkout))
    assert first.returncode == 0, first.stderr
    assert not stale.exists()
    snapshot = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}

    second = run("--root", str(checkout))
    assert second.returncode == 0, second.stderr
    again = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    assert again == snapshot
    committed = {p.relative_to(PACKAGE): p.read_bytes() for p in committed_files()}
    assert snapshot == committed


def slice_content_sha256(path: Path) -> str:
    """The sha256 of the slice from its first line that is not a comment: its content."""
    text = path.read_text(encoding="utf-8")
    body = text[text.index("\nopenapi:") + 1 :]
    assert text.startswith("#")
    assert all(line.startswith("#") for line in text[: -len(body)].splitlines())
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_every_generated_file_has_the_header() -> None:
    spec_sha = slice_content_sha256(ROOT / "openapi/edge-impulse.yaml")
    files = committed_files()
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert text.startswith("# Generated code: DO NOT EDIT."), path
        head = "\n".join(text.splitlines()[:6])
        assert f"# Spec:   openapi/edge-impulse.yaml content sha256 {spec_sha}\n" in head + "\n"
        assert "openapi-python-client generate --path openapi/edge-impulse.yaml" in head, path
        assert "--meta none --fail-on-warning" in head, path
        assert "openapi-python-client 0.29.1" in head, path


def _with_source_sha(checkout: Path, sha: str) -> None:
    spec = checkout / "openapi/edge-impulse.yaml"
    text, count = re.subn(
        r"^# Source sha256: [0-9a-f]{64}$", f"# Source sha256: {sha}", spec.read_text(), flags=re.M
    )
    assert count == 1
    spec.write_text(text)


def test_header_ignores_the_slice_provenance_comment(checkout: Path, tmp_path: Path) -> None:
    # Edge Impulse changed something outside our operations: only the source sha256 differs.
    other = tmp_path / "other"
    shutil.copytree(checkout, other)
    _with_source_sha(checkout, "a" * 64)
    _with_source_sha(other, "b" * 64)
    assert (checkout / generate.SPEC).read_bytes() != (other / generate.SPEC).read_bytes()
    assert generate.header(checkout) == generate.header(other)
    # And the committed output still checks clean: no generated file changes.
    result = run("--check", "--root", str(other))
    assert result.returncode == 0, result.stdout + result.stderr


def test_header_follows_the_slice_content(checkout: Path) -> None:
    before = generate.header(checkout)
    spec = checkout / generate.SPEC
    text = spec.read_text()
    spec.write_text(text.replace("Organization ID\n", "Organization id\n"))
    assert spec.read_text() != text
    assert generate.header(checkout) != before


def test_content_sha256_skips_only_the_leading_comment_block(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"# one\n\n  # two\nopenapi: 3.0.0\n# inside\npaths: {}\n")
    expected = hashlib.sha256(b"openapi: 3.0.0\n# inside\npaths: {}\n").hexdigest()
    assert generate.content_sha256(path) == expected


def test_py_typed_does_not_declare_a_partial_package() -> None:
    # PEP 561: a py.typed containing "partial\n" would mean something else entirely.
    assert "partial\n" not in (PACKAGE / "py.typed").read_text()


def test_a_missing_tool_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(generate.GenerationError, match="no-such-ruff not found"):
        generate._tool("no-such-ruff")


def test_the_generator_failing_is_reported(checkout: Path) -> None:
    (checkout / "openapi/edge-impulse.yaml").write_text("openapi: 3.0.0\ninfo: {}\npaths: 7\n")
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 1
    assert "generate: error:" in result.stderr
    assert "Traceback" not in result.stderr
