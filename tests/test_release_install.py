"""A release consumed the way internal tools consume it: pinned, from an index or git, nothing else.

The real wheel (``built_dist``) and the wheels of its pinned runtime dependencies
(``requirements/runtime.lock``, downloaded into ``.venv/wheelhouse`` by ``make venv``) are uploaded
with twine to a real index server (pypiserver) on 127.0.0.1. A fresh virtual environment then
``pip install ei-usage==VERSION`` with that index as its only source: no machine or user pip
configuration, no find-links, no fallback to a public index. In that environment ei_usage talks to
a FakeStudio, and the answer must be the simulator's exact truth. Another installs
``ei-usage[cli]==VERSION`` the same way: click and rich come from the wheelhouse too
(``requirements/cli.lock``), and the command runs.

The git pin is tested the same way: a throwaway clone of this repository's committed ``HEAD``
(a bare repository stands in for the git host) gets a release commit, ``make dist``'s build and
``tools/release.py tag``; the tag is pushed as that step prints, and a fresh environment installs
the README's exact ``ei-usage @ git+...@vX.Y.Z`` pin (a ``file://`` URL for the host), building
the wheel in pip's isolated build environment from the wheelhouse alone (``--no-index``).

Select it alone with ``make pytest PYTEST_ARGS="-m release"``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name, parse_wheel_filename

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
CLI_LOCK = ROOT / "requirements" / "cli.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"
README = ROOT / "README.md"
# README.md, "Pinning a version": the git pin as a user types it, with the example host.
GIT_PIN = re.compile(
    r"pip install '(?P<requirement>ei-usage @ git\+(?P<url>https://git\.example\.internal/\S+?)"
    r"@v(?P<version>[0-9.]+))'"
)
STARTUP_SECONDS = 30  # a bound, not a measurement: the server is usually up in well under one
ATTEMPTS = 3  # the free port can be taken between choosing it and the server binding it
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}

# Runs inside the fresh environment: the installed package against its own simulator.
CONSUMER = """
import importlib.resources, json
from datetime import timedelta
import ei_usage, edge_impulse_api_client
from ei_usage import Client
from ei_usage.testing import FakeStudio

with FakeStudio(api_key="release-test-key") as studio:
    with Client("release-test-key", base_url=studio.base_url) as client:
        usage = client.compute_time(1, 4, "2024-05")
    cpu_us, gpu_us = studio.usage(4, usage.period.start, usage.period.end)
us = timedelta(microseconds=1)
print(json.dumps({
    "version": ei_usage.__version__,
    "files": [ei_usage.__file__, edge_impulse_api_client.__file__],
    "typed": [
        importlib.resources.files(name).joinpath("py.typed").is_file()
        for name in ("ei_usage", "edge_impulse_api_client")
    ],
    "period": str(usage.period),
    "got": [usage.cpu // us, usage.gpu // us],
    "truth": [cpu_us, gpu_us],
}))
"""


def _version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "wrapper" / "ei_usage" / "_version.py").read_text(), namespace)
    return namespace["__version__"]


def _runtime_pins() -> dict[str, str]:
    """Return the runtime lock's packages that apply to this interpreter: name -> version."""
    return _pins(RUNTIME_LOCK)


def _pins(lock: Path) -> dict[str, str]:
    """Return a lock's packages that apply to this interpreter: name -> version."""
    pins: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        if not line[:1].isalnum():
            continue  # hashes, comments and "via" notes
        requirement, _, marker = line.rstrip(" \\").partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, version = requirement.strip().split("==")
        pins[canonicalize_name(name)] = version
    return pins


def _clean_env() -> dict[str, str]:
    """Return an environment in which pip and twine see nothing of this machine's configuration.

    ``PIP_CONFIG_FILE=/dev/null`` makes pip skip every configuration file (global ones such as
    /etc/pip.conf and /etc/xdg/pip/pip.conf, user ones too); PIP_* variables (find-links, extra
    indexes) are dropped, and so are proxies, so loopback requests go straight to the server.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "TWINE_", "PYTHON", "VIRTUAL_ENV"))
        and key.lower() not in PROXY_VARIABLES
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",  # twine: no desktop keyring
        NO_PROXY="127.0.0.1,localhost,::1",
    )
    return env


def _run(*cmd: str | Path, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [str(part) for part in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_until_serving(process: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False


@contextmanager
def index_server(packages: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    """Run pypiserver on a free loopback port; yield its base URL; always stop it."""
    for _attempt in range(ATTEMPTS):
        url = f"http://127.0.0.1:{_free_port()}"
        with log.open("ab") as output:
            # -a . -P . : no authentication (uploads included): the index lives for one test.
            # --disable-fallback: a package missing here is a 404, never a redirect to PyPI.
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pypiserver",
                    "run",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    url.rsplit(":", 1)[1],
                    "--authenticate",
                    ".",
                    "--passwords",
                    ".",
                    "--disable-fallback",
                    "--server",
                    "wsgiref",
                    "--backend",
                    "simple-dir",
                    str(packages),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            if _wait_until_serving(process, url):
                yield url
                return
        finally:
            _stop(process)
    pytest.fail(f"pypiserver did not start in {ATTEMPTS} attempts:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def wheelhouse() -> list[Path]:
    """The runtime dependency wheels ``make venv`` downloaded, checked against the lock."""
    if not WHEELHOUSE.is_dir():
        pytest.fail(f"{WHEELHOUSE} is missing: run `make venv` (make test does)")
    wheels = sorted(WHEELHOUSE.glob("*.whl"))
    present = {
        canonicalize_name(name): str(version)
        for name, version, _build, _tags in (parse_wheel_filename(w.name) for w in wheels)
    }
    for lock in (RUNTIME_LOCK, CLI_LOCK, BUILD_LOCK):
        missing = {
            name: version for name, version in _pins(lock).items() if present.get(name) != version
        }
        assert not missing, f"{WHEELHOUSE} does not match {lock.name}: run `make venv`"
    return wheels


@pytest.fixture(scope="module")
def index_url(
    built_dist: Path, wheelhouse: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Yield the URL of a loopback index holding the release's wheel and the whole wheelhouse."""
    version = _version()
    (wheel,) = built_dist.glob(f"ei_usage-{version}-py3-none-any.whl")
    env = _clean_env()
    home = tmp_path_factory.mktemp("index")
    packages = home / "packages"
    packages.mkdir()

    with index_server(packages, home / "pypiserver.log", env) as url:
        # Published through the server, as a release upload is.
        _run(
            BIN / "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            f"{url}/",
            "--username",
            "release-test",
            "--password",
            "unused",
            wheel,
            *wheelhouse,
            env=env,
            cwd=home,
        )
        with httpx.Client(trust_env=False, timeout=10) as client:
            listing = client.get(f"{url}/simple/ei-usage/")
        assert listing.status_code == 200
        assert wheel.name in listing.text
        yield url


def _install_from_index(url: str, requirement: str, venv: Path, env: dict[str, str]) -> Path:
    """Install ``requirement`` into a new environment ``venv`` from the index alone; its python."""
    _run(sys.executable, "-m", "venv", venv, env=env, cwd=venv.parent)
    python = venv / "bin" / "python"
    out = _run(
        python,
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--only-binary=:all:",
        "--index-url",
        f"{url}/simple/",
        requirement,
        env=env,
        cwd=venv.parent,
    )
    assert f"Looking in indexes: {url}/simple/" in out
    assert "Looking in links" not in out
    return python


def _installed(python: Path, env: dict[str, str]) -> dict[str, str]:
    """Return what an environment holds besides what ``python -m venv`` seeds: name -> version."""
    installed = json.loads(
        _run(
            python,
            "-I",
            "-c",
            "import importlib.metadata as m, json;"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
            env=env,
            cwd=python.parent,
        )
    )
    seeded = {"pip", "setuptools"}  # what `python -m venv` puts in every environment
    return {canonicalize_name(name): v for name, v in installed.items() if name not in seeded}


def test_a_tool_installs_the_pinned_release_from_the_index_alone(
    index_url: str, tmp_path: Path
) -> None:
    version = _version()
    env = _clean_env()
    venv = tmp_path / "tool-venv"
    python = _install_from_index(index_url, f"ei-usage=={version}", venv, env)
    assert _installed(python, env) == {"ei-usage": version, **_runtime_pins()}

    result = json.loads(_run(python, "-I", "-c", CONSUMER, env=env, cwd=tmp_path))
    assert result["version"] == version
    assert all(str(venv) in path for path in result["files"])  # the installed copy, not the tree
    assert result["typed"] == [True, True]
    assert result["period"] == "2024-05"
    assert result["got"] == result["truth"]
    assert min(result["truth"]) > 0  # organization 4 uses CPU and GPU: both are compared


def test_the_command_line_installs_from_an_index_that_does_not_mirror_pypi(
    index_url: str, tmp_path: Path
) -> None:
    # The index holds only what the README says to mirror: the release and the wheelhouse.
    version = _version()
    env = _clean_env()
    venv = tmp_path / "cli-venv"
    python = _install_from_index(index_url, f"ei-usage[cli]=={version}", venv, env)
    assert _installed(python, env) == {"ei-usage": version, **_pins(CLI_LOCK)}

    command = venv / "bin" / "ei-usage"
    assert _run(command, "--version", env=env, cwd=tmp_path).strip() == (
        f"ei-usage, version {version}"
    )
    usage = _run(command, "--help", env=env, cwd=tmp_path)
    assert usage.startswith("Usage: ei-usage ")
    assert all(name in usage for name in ("compute-time", "metrics", "orgs", "check"))


# The git pin -------------------------------------------------------------------------------------


def _release_tool(root: Path) -> ModuleType:
    """Load ``tools/release.py`` of the checkout at ``root``: the rules the release commit meets."""
    spec = importlib.util.spec_from_file_location("ei_release_of_clone", root / "tools/release.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def _git_env(env: dict[str, str]) -> dict[str, str]:
    """Return ``env`` for git: no machine or user configuration (hooks, signing), a fixed author."""
    env = {key: value for key, value in env.items() if not key.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    for kind in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{kind}_NAME"] = "Release Test"
        env[f"GIT_{kind}_EMAIL"] = "release-test@ei-usage.invalid"
    return env


def _make_release_commit(work: Path, env: dict[str, str]) -> str:
    """Commit, in the clone ``work``, the next patch release as README "Releasing" describes it.

    The version goes one patch above both ``_version.py`` and the newest CHANGELOG section, so the
    tag is new whatever state ``HEAD`` is in; ``[Unreleased]``'s entries (or one line, if there are
    none) become its section, dated today (UTC). Returns the new version.
    """
    tool = _release_tool(work)
    version_file = work / "wrapper" / "ei_usage" / "_version.py"
    changelog_file = work / "CHANGELOG.md"
    current = tool.read_version(version_file.read_text())
    text = changelog_file.read_text()
    changelog = tool.parse_changelog(text)
    newest = max([current, *(release.version for release in changelog.releases)])
    version = str(tool.Version(newest.major, newest.minor, newest.patch + 1))
    version_file.write_text(
        re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', version_file.read_text())
    )
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.rstrip() == "## [Unreleased]") + 1
    end = next(
        (i for i, line in enumerate(lines[start:], start) if line.startswith("## [")), len(lines)
    )
    pending = "".join(lines[start:end]).strip("\n")
    if not tool.has_entries(pending):
        pending = "### Fixed\n- The release test's release."
    today = datetime.now(UTC).date().isoformat()
    section = f"\n## [{version}] - {today}\n\n{pending}\n\n"
    text = "".join([*lines[:start], section, *lines[end:]])
    if changelog.link_labels:
        text += f"[{version}]: file:///release-test/v{version}\n"
    changelog_file.write_text(text)
    _run("git", "commit", "--quiet", "--all", "--message", f"Release {version}", env=env, cwd=work)
    return version


def test_the_readme_git_pin_installs_a_tag_that_make_release_created_and_pushed(
    tmp_path: Path,
) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked sdist): there is nothing to clone")
    (match,) = GIT_PIN.finditer(README.read_text())
    env = _git_env(_clean_env())

    # The git host: a bare repository holding this checkout's HEAD as main, and its tags.
    origin = tmp_path / "origin.git"
    _run("git", "init", "--quiet", "--bare", "--initial-branch=main", origin, env=env, cwd=tmp_path)
    _run("git", "fetch", "--quiet", ROOT, "+HEAD:refs/heads/main", env=env, cwd=origin)
    _run("git", "fetch", "--quiet", ROOT, "+refs/tags/*:refs/tags/*", env=env, cwd=origin)
    work = tmp_path / "work"
    _run("git", "clone", "--quiet", origin, work, env=env, cwd=tmp_path)

    version = _make_release_commit(work, env)
    tag = f"v{version}"
    # `make release` after its checks and tests: `make dist`'s build, then the tag step.
    _run(
        sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", ".", env=env, cwd=work
    )
    out = _run(sys.executable, "tools/release.py", "tag", env=env, cwd=work)
    head = _run("git", "rev-parse", "HEAD", env=env, cwd=work).strip()
    assert _run("git", "cat-file", "-t", tag, env=env, cwd=work).strip() == "tag"  # annotated
    assert _run("git", "rev-parse", f"{tag}^{{commit}}", env=env, cwd=work).strip() == head
    pushes = [line.strip() for line in out.splitlines() if line.strip().startswith("git push ")]
    assert pushes == ["git push origin main", f"git push origin {tag}"]

    # file://localhost/...: the pip that `python -m venv` seeds (23.x) wants a host in a VCS URL.
    url = f"file://localhost{origin.as_posix()}"
    requirement = match["requirement"].replace(match["url"], url)
    requirement = requirement.removesuffix(f"@v{match['version']}") + f"@{tag}"
    venv = tmp_path / "tool-venv"
    _run(sys.executable, "-m", "venv", venv, env=env, cwd=tmp_path)
    python = venv / "bin" / "python"
    install = [
        python,
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--no-index",  # the public index is off: hatchling and the dependencies are local wheels
        "--find-links",
        WHEELHOUSE,
        requirement,
    ]

    # Not pushed yet: the host does not know the tag, and the pin fails.
    refused = subprocess.run(
        [str(part) for part in install],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, said
    assert f"Did not find branch or tag '{tag}'" in said, said

    for push in pushes:
        _run(*shlex.split(push), env=env, cwd=work)
    _run(*install, env=env, cwd=tmp_path)

    installed = json.loads(
        _run(
            python,
            "-I",
            "-c",
            "import importlib.metadata as m, json, ei_usage, edge_impulse_api_client;"
            "d = m.distribution('ei-usage');"
            "print(json.dumps({'version': ei_usage.__version__, 'metadata': d.version,"
            " 'origin': json.loads(d.read_text('direct_url.json')),"
            " 'files': [ei_usage.__file__, edge_impulse_api_client.__file__]}))",
            env=env,
            cwd=tmp_path,
        )
    )
    assert installed["version"] == installed["metadata"] == version
    assert installed["origin"]["url"] == url
    assert installed["origin"]["vcs_info"]["requested_revision"] == tag
    assert installed["origin"]["vcs_info"]["commit_id"] == head
    assert all(str(venv) in path for path in installed["files"])
