"""``ei-usage exporter`` as a real process: serving, signals, and where the key never shows."""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ei_usage.testing import FakeStudio

from .conftest import SECRET, health, parse, scrape

STOP_WITHIN_SECONDS = 1.0  # the promise for SIGTERM and SIGINT


@dataclass
class Process:
    """A running ``ei-usage exporter``, its stderr collected by a thread."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(r"serving (http://\S+/metrics)", line)
                if found:
                    return found.group(1)
            assert self.process.poll() is None, "".join(self.lines)
            time.sleep(0.05)
        raise AssertionError(f"no serving line: {self.lines}")

    def stderr(self) -> str:
        if self.reader is not None:
            self.reader.join(10)
        return "".join(self.lines)


def _read(stream: object, into: list[str]) -> None:
    into.extend(
        raw.decode(errors="replace")
        for raw in iter(stream.readline, b"")  # type: ignore[attr-defined]
    )


@pytest.fixture
def start(studio: FakeStudio) -> Iterator[object]:
    started: list[Process] = []

    def run(*args: str) -> Process:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EI_")}
        env.update(EI_API_KEY=SECRET, EI_BASE_URL=studio.base_url)
        process = subprocess.Popen(
            [sys.executable, "-m", "ei_usage.cli", "exporter", "--org", "1", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        running = Process(process)
        running.reader = threading.Thread(
            target=_read, args=(process.stderr, running.lines), daemon=True
        )
        running.reader.start()
        started.append(running)
        return running

    yield run
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait(10)
        for stream in (running.process.stdout, running.process.stderr):
            if stream is not None:
                stream.close()


def _wait_for_refresh(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = scrape(url)
        if health(parse(text), "last_refresh_complete") == 1.0:
            return text
        time.sleep(0.05)
    raise AssertionError("no complete refresh")


def _stopped_within(process: subprocess.Popen[bytes], sent: float) -> float:
    process.wait(30)
    return time.monotonic() - sent


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_then_stops_on_a_signal_within_a_second(start: object, signum: int) -> None:
    running: Process = start("--listen", "127.0.0.1:0", "--refresh", "1h")  # type: ignore[operator]
    url = running.url()
    assert url.startswith("http://127.0.0.1:")
    text = _wait_for_refresh(url)
    assert SECRET not in text
    with open(f"/proc/{running.process.pid}/cmdline", "rb") as cmdline:
        assert SECRET.encode() not in cmdline.read()
    sent = time.monotonic()
    running.process.send_signal(signum)
    took = _stopped_within(running.process, sent)
    print(f"stopped in {took:.3f}s")
    assert took < STOP_WITHIN_SECONDS, f"took {took:.2f}s"
    assert running.process.returncode == (0 if signum == signal.SIGTERM else 130)
    stderr = running.stderr()
    assert SECRET not in stderr
    assert "Traceback" not in stderr
    assert "stopped" in stderr


def test_a_signal_interrupts_a_refresh_in_flight(start: object, studio: FakeStudio) -> None:
    studio.latency = 5.0  # every answer takes 5 s: the first refresh is in flight for long
    running: Process = start("--listen", "127.0.0.1:0", "--verbose")  # type: ignore[operator]
    url = running.url()
    deadline = time.monotonic() + 30
    while studio.request_count == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert studio.request_count > 0
    # Scrapes are answered while the refresh waits on the API.
    assert health(parse(scrape(url)), "refreshes_total") == 0
    sent = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    took = _stopped_within(running.process, sent)
    print(f"stopped in {took:.3f}s")
    assert took < STOP_WITHIN_SECONDS, f"took {took:.2f}s"
    stderr = running.stderr()
    assert SECRET not in stderr
    assert "Traceback" not in stderr


def test_the_default_listen_address_is_loopback() -> None:
    from click.testing import CliRunner

    from ei_usage.cli._app import cli

    result = CliRunner().invoke(cli, ["exporter", "--help"])
    assert result.exit_code == 0
    assert "[default: 127.0.0.1:9877]" in " ".join(result.stdout.split())


def test_a_bad_listen_or_refresh_is_a_usage_error(start: object) -> None:
    for args in (["--listen", "9877"], ["--refresh", "soon"], ["--refresh", "0s"]):
        running: Process = start(*args)  # type: ignore[operator]
        assert running.process.wait(30) == 2
        assert "Traceback" not in running.stderr()


def test_a_port_in_use_is_one_line(start: object) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        running: Process = start("--listen", f"127.0.0.1:{port}")  # type: ignore[operator]
        assert running.process.wait(30) == 1
    stderr = running.stderr()
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr


def test_the_demo_prints_a_scrape(capfd: pytest.CaptureFixture[str]) -> None:
    from ei_usage.exporter import demo

    assert demo.main(1.0) == 0
    out = capfd.readouterr().out
    assert "$ ei-usage exporter --org 1" in out
    assert 'ei_usage_contract_compute_used_ratio{inner_organization="2"' in out
    assert 'ei_usage_exporter_last_refresh_complete{organization="1"} 1.0' in out


def test_db_without_the_store_installed_is_a_usage_error(
    studio: FakeStudio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from ei_usage.cli._app import cli

    # Imported first, as by any earlier test: the package then has a `store` attribute, which
    # `from ei_usage import store` would take (an exporter serving forever, in the test's cwd).
    importlib.import_module("ei_usage.store")
    monkeypatch.setitem(sys.modules, "ei_usage.store", None)  # importing it fails
    env = {"EI_API_KEY": SECRET, "EI_BASE_URL": studio.base_url}
    db = str(tmp_path / "h.sqlite3")
    result = CliRunner().invoke(cli, ["exporter", "--org", "1", "--db", db], env=env)
    assert result.exit_code == 2
    assert "--db needs the history store" in result.stderr
    assert "pip install 'ei-usage[store]'" in result.stderr
    assert studio.request_count == 0
