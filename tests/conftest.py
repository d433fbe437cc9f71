"""Fixtures shared across the test tree: the real release artifacts, built once per run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Make Ctrl-C deliverable: the Ctrl-C tests send real SIGINTs, in process and to children.

    A shell starts a background job (``make test &`` in a script, some CI runners) with SIGINT
    ignored, and Python then installs no handler: an in-process SIGINT would be lost (the report
    under test runs on, and a test waiting for the interruption hangs), and children would inherit
    the ignored signal. The tests need the terminal's usual disposition, so they restore it.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def built_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist and, from it, the wheel, exactly as ``make dist`` does; return the folder.

    ``--no-isolation`` uses the hatchling pinned in requirements/dev.lock and installed in this
    environment: an isolated build would download the backend, and tests never touch the network.
    """
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(autouse=True)
def virtual_pacing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the clients' rate schedule on virtual time: a pacing wait moves a clock, not the test.

    After a 429 the client paces every request (ei_usage._ratelimit); without this, a test that
    answers 429 would really wait for its Retry-After. Tests that measure real pacing against a
    rate-limited server opt out with ``@pytest.mark.real_pacing``.
    """
    if request.node.get_closest_marker("real_pacing") is not None:
        return
    import asyncio
    import time

    import ei_usage._client as client_module

    offset = [0.0]

    def pace(seconds: float, stop: object = None) -> None:
        offset[0] += seconds

    async def async_pace(seconds: float) -> None:
        offset[0] += seconds
        await asyncio.sleep(0)

    monkeypatch.setattr(client_module, "_pace", pace)
    monkeypatch.setattr(client_module, "_async_pace", async_pace)
    monkeypatch.setattr(client_module, "_clock", lambda: time.monotonic() + offset[0])
