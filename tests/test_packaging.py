"""The built artifacts hold both packages, typed, and publish only what users should see.

Editable installs read straight from the work tree and hide packaging mistakes (a package left out
of the wheel, a missing ``py.typed``), so these check the real artifacts (built once per run by the
``built_dist`` fixture in ``tests/conftest.py``). Installing the wheel the way a tool does, from an
index, is ``tests/test_release_install.py``.
"""

from __future__ import annotations

import re
import tarfile
import tomllib
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
VERSION_FILE = ROOT / "wrapper" / "ei_usage" / "_version.py"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)", re.MULTILINE)


def _version() -> str:
    namespace: dict[str, str] = {}
    exec(VERSION_FILE.read_text(), namespace)  # the one place the version is written
    return namespace["__version__"]


def test_wheel_contents(built_dist: Path) -> None:
    (wheel,) = built_dist.glob("*.whl")
    assert wheel.name == f"ei_usage-{_version()}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "ei_usage/py.typed" in names
    assert "edge_impulse_api_client/py.typed" in names
    assert "ei_usage/_client.py" in names
    # The store's migrations are code the store runs when it opens a file.
    assert "ei_usage/store/migrations/versions/0001_initial.py" in names
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


def test_sdist_has_the_sources_to_regenerate(built_dist: Path) -> None:
    (sdist,) = built_dist.glob("*.tar.gz")
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
        "requirements/runtime.lock",
        "tools/release.py",  # the sdist ships the tests, and tests/tools tests this
        "deploy/prometheus/ei-usage-rules.yml",  # and tests/wrapper/exporter checks deploy/
    ):
        assert needed in names


def _metadata(dist: Path) -> Message:
    (wheel,) = dist.glob("*.whl")
    raw = zipfile.ZipFile(wheel).read(f"ei_usage-{_version()}.dist-info/METADATA").decode()
    return HeaderParser().parsestr(raw)


def _extras(requirement: Requirement) -> str:
    return f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""


def _by_extra(requirements: list[Requirement]) -> dict[str | None, list[Requirement]]:
    """Group requirements by the extra that brings them in (None: always installed)."""
    groups: dict[str | None, list[Requirement]] = {}
    for requirement in requirements:
        extra = None
        if requirement.marker is not None:
            found = re.search(r'extra == "([^"]+)"', str(requirement.marker))
            extra = found.group(1) if found else None
        groups.setdefault(extra, []).append(requirement)
    return groups


EXTRAS = ("cli", "store", "postgres", "exporter")


def test_wheel_metadata_publishes_ranges_and_the_declared_extras(built_dist: Path) -> None:
    metadata = _metadata(built_dist)
    assert sorted(metadata.get_all("Provides-Extra") or []) == sorted(EXTRAS)
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]
    groups = _by_extra(requirements)
    assert set(groups) == {None, *EXTRAS}

    def declared(lines: list[str]) -> set[str]:
        return {str(Requirement(line)) for line in lines}

    published = {
        extra: {str(Requirement(f"{r.name}{_extras(r)}{r.specifier}")) for r in reqs}
        for extra, reqs in groups.items()
    }
    assert published[None] == declared(PYPROJECT["project"]["dependencies"])
    for extra in EXTRAS:
        assert published[extra] == declared(PYPROJECT["project"]["optional-dependencies"][extra])


def test_wheel_metadata_has_no_pins_and_no_duplicates(built_dist: Path) -> None:
    requirements = [
        Requirement(line) for line in _metadata(built_dist).get_all("Requires-Dist") or []
    ]
    assert requirements
    for requirement in requirements:
        # A user's resolver must be free to choose: no exact pins, only ranges.
        assert all(spec.operator not in {"==", "==="} for spec in requirement.specifier), (
            requirement
        )
        assert not requirement.url, requirement
    for extra, reqs in _by_extra(requirements).items():
        names = [canonicalize_name(r.name) for r in reqs]
        assert len(names) == len(set(names)), f"duplicate requirement in {extra or 'base'}: {names}"
        assert "ei-usage" not in names  # no self-references such as ei-usage[cli]
    development = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["dependency-groups"]["dev"]
    }
    published = {canonicalize_name(r.name) for r in requirements}
    # The extras' own dependencies are pinned in the dev group for tests; every other dev tool
    # stays out.
    extras = {
        canonicalize_name(Requirement(line).name)
        for extra in EXTRAS
        for line in PYPROJECT["project"]["optional-dependencies"][extra]
    }
    assert development & published == extras


def _lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Read a uv-compiled lock: package name -> (version, its sha256 hashes)."""
    text = (ROOT / "requirements" / name).read_text()
    entries: dict[str, tuple[str, frozenset[str]]] = {}
    blocks = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.MULTILINE)
    for block in blocks:
        match = LOCK_ENTRY.match(block)
        if match:
            hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
            entries[canonicalize_name(match["name"])] = (match["version"], hashes)
    return entries


def test_runtime_lock_is_the_dev_lock_restricted_to_runtime_dependencies() -> None:
    runtime, dev = _lock("runtime.lock"), _lock("dev.lock")
    for name in ("httpx", "attrs", "python-dateutil", "httpcore", "h11", "idna", "certifi"):
        assert name in runtime
    for name, (version, hashes) in runtime.items():
        assert hashes, f"{name} has no hash in runtime.lock"
        assert dev.get(name) == (version, hashes), f"{name} differs between the locks"
    assert not {"click", "rich", "pytest", "pypiserver", "twine"} & set(runtime)


def test_the_build_backend_is_pinned_alike_for_isolated_and_offline_builds() -> None:
    (backend,) = PYPROJECT["build-system"]["requires"]
    assert backend in PYPROJECT["dependency-groups"]["dev"]
    name, version = backend.split("==")
    assert _lock("dev.lock")[name][0] == version
