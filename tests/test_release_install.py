"""A release consumed the way internal tools consume it: pinned, from an index, and nothing else.

The real wheel (``built_dist``) and the wheels of its pinned runtime dependencies
(``requirements/runtime.lock``, downloaded into ``.venv/wheelhouse`` by ``make venv``) are uploaded
with twine to a real index server (pypiserver) on 127.0.0.1. A fresh virtual environment then
``pip install ei-usage==VERSION`` with that index as its only source: no machine or user pip
configuration, no find-links, no fallback to a public index. In that environment ei_usage talks to
a FakeStudio, and the answer must be the simulator's exact truth.

Select it alone with ``make pytest PYTEST_ARGS="-m release"``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name, parse_wheel_filename

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock"
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
    pins: dict[str, str] = {}
    for line in RUNTIME_LOCK.read_text().splitlines():
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
    missing = {
        name: version for name, version in _runtime_pins().items() if present.get(name) != version
    }
    assert not missing, f"{WHEELHOUSE} does not match requirements/runtime.lock: run `make venv`"
    return wheels


def test_a_tool_installs_the_pinned_release_from_the_index_alone(
    built_dist: Path, wheelhouse: list[Path], tmp_path: Path
) -> None:
    version = _version()
    (wheel,) = built_dist.glob(f"ei_usage-{version}-py3-none-any.whl")
    env = _clean_env()
    packages = tmp_path / "index"
    packages.mkdir()

    with index_server(packages, tmp_path / "pypiserver.log", env) as url:
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
            cwd=tmp_path,
        )
        with httpx.Client(trust_env=False, timeout=10) as client:
            listing = client.get(f"{url}/simple/ei-usage/")
        assert listing.status_code == 200
        assert wheel.name in listing.text

        venv = tmp_path / "tool-venv"
        _run(sys.executable, "-m", "venv", venv, env=env, cwd=tmp_path)
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
            f"ei-usage=={version}",
            env=env,
            cwd=tmp_path,
        )
        assert f"Looking in indexes: {url}/simple/" in out
        assert "Looking in links" not in out

    installed = json.loads(
        _run(
            python,
            "-I",
            "-c",
            "import importlib.metadata as m, json;"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
            env=env,
            cwd=tmp_path,
        )
    )
    seeded = {"pip", "setuptools"}  # what `python -m venv` puts in every environment
    assert {canonicalize_name(name): v for name, v in installed.items() if name not in seeded} == {
        "ei-usage": version,
        **_runtime_pins(),
    }

    result = json.loads(_run(python, "-I", "-c", CONSUMER, env=env, cwd=tmp_path))
    assert result["version"] == version
    assert all(str(venv) in path for path in result["files"])  # the installed copy, not the tree
    assert result["typed"] == [True, True]
    assert result["period"] == "2024-05"
    assert result["got"] == result["truth"]
    assert min(result["truth"]) > 0  # organization 4 uses CPU and GPU: both are compared
