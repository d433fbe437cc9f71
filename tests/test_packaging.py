"""The built wheel installs on its own and ships both packages, typed.

Editable installs read straight from the work tree and hide packaging mistakes (a package left out
of the wheel, a missing ``py.typed``), so this builds the real artifacts and installs the wheel into
a fresh virtual environment.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VERSION_FILE = ROOT / "wrapper" / "ei_usage" / "_version.py"


def _run(*cmd: str | Path, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", out, ROOT)
    return out


def _version() -> str:
    namespace: dict[str, str] = {}
    exec(VERSION_FILE.read_text(), namespace)  # the one place the version is written
    return namespace["__version__"]


def test_wheel_contents(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"ei_usage-{_version()}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "ei_usage/py.typed" in names
    assert "edge_impulse_api_client/py.typed" in names
    assert "ei_usage/_client.py" in names
    assert "edge_impulse_api_client/api/organizations/get_organization_metrics.py" in names
    top = {name.split("/")[0] for name in names}
    assert top == {"ei_usage", "edge_impulse_api_client", f"ei_usage-{_version()}.dist-info"}

    metadata = zipfile.ZipFile(wheel).read(f"ei_usage-{_version()}.dist-info/METADATA").decode()
    requires = sorted(
        line.split(":", 1)[1].split(";")[0].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    )
    assert [r.split(">")[0].split("<")[0] for r in requires] == [
        "attrs",
        "httpx",
        "python-dateutil",
    ]
    assert any("httpx" in r and "<0.29" in r for r in requires)
    assert "Requires-Python: >=3.11" in metadata


def test_sdist_has_the_sources_to_regenerate(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "openapi/edge-impulse.yaml",
        "openapi/operations.txt",
        "generator-config.yaml",
        "generated/edge_impulse_api_client/py.typed",
        "wrapper/ei_usage/py.typed",
        "Makefile",
        "requirements/dev.lock",
    ):
        assert needed in names


def test_wheel_installs_and_imports_in_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run(BIN / "uv", "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    # The lock as constraints: the same dependency versions as CI, from uv's cache.
    _run(
        BIN / "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        python,
        "--constraint",
        ROOT / "requirements" / "dev.lock",
        wheel,
    )
    out = _run(
        python,
        "-I",
        "-c",
        "import importlib.resources as r, ei_usage, edge_impulse_api_client;"
        "from ei_usage import Client, DateRange;"
        "print(ei_usage.__version__);"
        "print(ei_usage.__file__);"
        "print(r.files('ei_usage').joinpath('py.typed').is_file(),"
        " r.files('edge_impulse_api_client').joinpath('py.typed').is_file())",
        cwd=tmp_path,
    )
    version, location, typed = out.splitlines()
    assert version == _version()
    assert str(venv) in location  # the installed copy, not the work tree
    assert typed == "True True"
