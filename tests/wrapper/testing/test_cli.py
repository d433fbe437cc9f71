"""``python -m ei_usage.testing``: first line, serving, clean exit on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys

import httpx
import pytest

from ei_usage.testing import DEMO_API_KEY, FakeStudio
from ei_usage.testing.__main__ import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

METRICS = "/api/organizations/1/metrics"


def first_line(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError("no output from the CLI in time")
    return process.stdout.readline()


def launch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k != "EI_API_KEY"}
    environment.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "ei_usage.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def serve_and_stop(
    args: list[str], key: str, env: dict[str, str] | None = None, sig: int = signal.SIGINT
) -> tuple[int, str, str]:
    with launch(*args, env=env) as process:
        try:
            line = first_line(process)
            match = re.fullmatch(r"base_url=(http://127\.0\.0\.1:\d+/v1)\n", line)
            assert match, line
            with httpx.Client(
                base_url=match[1], transport=httpx.HTTPTransport(), trust_env=False, timeout=5
            ) as client:
                response = client.get(METRICS, headers={"x-api-key": key})
                assert response.status_code == 200, response.text
                assert response.json()["success"] is True
                wrong = client.get(METRICS, headers={"x-api-key": key + "-wrong"})
                assert wrong.status_code == 401
            process.send_signal(sig)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return process.returncode, line + stdout, stderr


def test_cli_serves_and_exits_cleanly_on_sigint() -> None:
    key = "cli-secret-key"
    code, stdout, stderr = serve_and_stop(["--port", "0", "--api-key", key, "--seed", "3"], key)
    assert code == 0, stderr
    assert stdout.count("\n") == 1  # exactly one line on stdout
    assert key not in stderr
    assert "Traceback" not in stderr


def test_cli_exits_cleanly_on_sigterm_with_latency() -> None:
    code, _, stderr = serve_and_stop(["--latency", "0.01"], DEMO_API_KEY, sig=signal.SIGTERM)
    assert code == 0, stderr


def test_cli_reads_the_key_from_the_environment() -> None:
    code, _, stderr = serve_and_stop([], "env-key", env={"EI_API_KEY": "env-key"})
    assert code == 0, stderr
    assert "env-key" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "non-loopback"),
        (["--host", ""], "non-loopback"),
        (["--port", "70000"], "--port"),
        (["--latency", "-1"], "--latency"),
        (["--latency", "nan"], "--latency"),
        (["--seed", "x"], "--seed"),
        (["--inner-organizations", "-1"], "--inner-organizations"),
        (["--inner-organizations", "10001"], "--inner-organizations"),
        (["--inner-organizations", "many"], "--inner-organizations"),
        (["--rate-limit", "0"], "--rate-limit"),
        (["--rate-limit", "-2"], "--rate-limit"),
        (["--rate-limit", "nan"], "--rate-limit"),
        (["--rate-limit", "inf"], "--rate-limit"),
        (["--rate-limit", "fast"], "--rate-limit"),
        (["--rate-limit", "2e9"], "rate_limit"),
        (["--burst", "3"], "--burst needs --rate-limit"),
        (["--rate-limit", "1", "--burst", "0.5"], "--burst"),
        (["--rate-limit", "1", "--burst", "nan"], "--burst"),
    ],
)
def test_cli_rejects_bad_arguments(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_cli_refuses_a_non_loopback_host_as_a_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ei_usage.testing", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "non-loopback" in result.stderr


def test_cli_white_label_size_daily_metrics_and_rate_limit() -> None:
    args = ["--inner-organizations", "3", "--daily-metrics", "--rate-limit", "0.01", "--burst", "2"]
    with launch(*args) as process:
        try:
            match = re.fullmatch(r"base_url=(http://127\.0\.0\.1:\d+/v1)\n", first_line(process))
            assert match
            with httpx.Client(
                base_url=match[1],
                headers={"x-api-key": DEMO_API_KEY},
                transport=httpx.HTTPTransport(),
                trust_env=False,
                timeout=5,
            ) as client:
                listing = client.get("/api/organizations/1/whitelabel/organizations")
                info = client.get("/api/organizations/1/whitelabel/organizations/2")
                limited = client.get(METRICS)
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert listing.status_code == 200, listing.text
    assert listing.json() == FakeStudio(inner_organizations=3).organizations_body(1)
    assert {item["id"] for item in listing.json()["organizations"]} <= {2, 3, 4}
    assert listing.headers["x-ratelimit-remaining"] == "1"
    assert info.status_code == 200, info.text
    assert len(info.json()["dailyMetrics"]) == 365
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-limit"] == "0.01"
    assert "after 3 requests, 1 of them answered 429" in stderr


def test_cli_usage_shapes() -> None:
    with launch("--inner-organizations", "7", "--usage-shapes") as process:
        try:
            match = re.fullmatch(r"base_url=(http://127\.0\.0\.1:\d+/v1)\n", first_line(process))
            assert match
            with httpx.Client(
                base_url=match[1],
                headers={"x-api-key": DEMO_API_KEY},
                transport=httpx.HTTPTransport(),
                trust_env=False,
                timeout=5,
            ) as client:
                info = client.get("/api/organizations/1/whitelabel/organizations/3")
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    shaped = FakeStudio(inner_organizations=7, usage_shapes=True)
    assert info.json() == shaped.organization_info_body(3)
    assert info.json() != FakeStudio(inner_organizations=7).organization_info_body(3)
