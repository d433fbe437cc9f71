"""The generated client is exactly what the pinned generator makes from the vendored spec."""

from __future__ import annotations

import hashlib
import importlib.util
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


def test_every_generated_file_has_the_header() -> None:
    spec_sha = hashlib.sha256((ROOT / "openapi/edge-impulse.yaml").read_bytes()).hexdigest()
    files = committed_files()
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert text.startswith("# Generated code: DO NOT EDIT."), path
        head = "\n".join(text.splitlines()[:6])
        assert f"sha256 {spec_sha}" in head, path
        assert "openapi-python-client generate --path openapi/edge-impulse.yaml" in head, path
        assert "--meta none --fail-on-warning" in head, path
        assert "openapi-python-client 0.29.1" in head, path


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
