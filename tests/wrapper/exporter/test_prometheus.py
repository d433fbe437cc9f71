"""A real Prometheus (2.x, /usr/bin/prometheus) scrapes the exporter serving FakeStudio.

The values Prometheus stored are compared with ``ei-usage check --format json``, exactly.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ei_usage.testing import FakeStudio

from .conftest import PROMETHEUS, ROOT, Served, check_json

pytestmark = pytest.mark.skipif(
    not PROMETHEUS.exists(),
    reason="the prometheus binary is not installed (Debian's prometheus package; .ci/run "
    "installs it with apt-get)",
)

RULES = ROOT / "deploy" / "prometheus" / "ei-usage-rules.yml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


class Prometheus:
    """A Prometheus server started on loopback with a temporary config and data directory."""

    def __init__(self, directory: Path, target: str) -> None:
        self.port = _free_port()
        shutil.copy(RULES, directory / "rules.yml")
        (directory / "prometheus.yml").write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "rule_files: [rules.yml]\n"
            "scrape_configs:\n"
            "  - job_name: ei-usage\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        self.log = (directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )

    def query(self, expr: str) -> list[dict[str, object]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        answer = _get(url)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]  # type: ignore[index,no-any-return]

    def wait_for(self, expr: str, count: int, timeout: float = 60) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "prometheus exited"
            try:
                result = self.query(expr)
            except OSError as error:  # not listening yet
                last = error
            else:
                if len(result) == count:
                    return result
                last = result
            time.sleep(0.2)
        raise AssertionError(f"{expr}: {last}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def prometheus(served: Served, tmp_path: Path) -> Iterator[Prometheus]:
    served.exporter.refresh()
    target = served.url.removeprefix("http://").removesuffix("/metrics")
    server = Prometheus(tmp_path, target)
    try:
        yield server
    finally:
        server.stop()


def _by_inner(result: list[dict[str, object]]) -> dict[int, float]:
    values = {}
    for item in result:
        metric: dict[str, str] = item["metric"]  # type: ignore[assignment]
        assert metric["organization"] == "1"
        values[int(metric["inner_organization"])] = float(item["value"][1])  # type: ignore[index]
    return values


def test_prometheus_stores_exactly_what_check_says(
    prometheus: Prometheus, served: Served, studio: FakeStudio
) -> None:
    check = check_json(studio)
    rows = {row["inner_organization_id"]: row for row in check["rows"]}  # type: ignore[attr-defined]
    ratio = _by_inner(prometheus.wait_for("ei_usage_contract_compute_used_ratio", 6))
    limited = {i: r for i, r in rows.items() if r["compute_used_fraction"] is not None}
    assert len(limited) == 6
    for inner, row in limited.items():
        expected = row["compute_used_fraction"]
        expected = math.inf if expected == "infinite" else expected
        assert ratio[inner] == expected, inner  # exact, through Prometheus' float64 and JSON
    compute = _by_inner(prometheus.wait_for("ei_usage_contract_compute_used_seconds", len(rows)))
    assert compute == {i: r["compute"] for i, r in rows.items()}
    cpu = _by_inner(prometheus.query("ei_usage_contract_cpu_used_seconds"))
    gpu = _by_inner(prometheus.query("ei_usage_contract_gpu_used_seconds"))
    assert cpu == {i: r["cpu"] for i, r in rows.items()}
    assert gpu == {i: r["gpu"] for i, r in rows.items()}
    limits = _by_inner(prometheus.query("ei_usage_contract_compute_limit_seconds"))
    assert limits == {
        i: r["entitlements"]["compute_time_per_year"]
        for i, r in rows.items()
        if r["entitlements"]["compute_time_per_year"] is not None
    }
    up = prometheus.query('up{job="ei-usage"}')
    assert [float(item["value"][1]) for item in up] == [1.0]  # type: ignore[index]
    # The shipped rules load and evaluate: the organizations over their compute entitlement
    # are pending (the rules wait 15 minutes before firing).
    over = {i for i, r in limited.items() if r["status"] == "over"}
    assert over
    deadline = time.monotonic() + 30
    pending: set[int] = set()
    while time.monotonic() < deadline:
        alerts = _get(f"http://127.0.0.1:{prometheus.port}/api/v1/alerts")["data"]["alerts"]  # type: ignore[index]
        pending = {
            int(a["labels"]["inner_organization"])
            for a in alerts
            if a["labels"]["alertname"] == "EiUsageComputeOverLimit"
        }
        if pending:
            break
        time.sleep(0.2)
    assert pending == over


def test_scrapes_by_prometheus_cost_no_api_request(prometheus: Prometheus, served: Served) -> None:
    before = served.studio.request_count
    prometheus.wait_for("ei_usage_contract_compute_used_ratio", 6)
    # Several more scrapes (every second) happen while we wait for the count of scrapes to grow.
    deadline = time.monotonic() + 30
    scrapes = 0.0
    while time.monotonic() < deadline:
        result = prometheus.query('count_over_time(up{job="ei-usage"}[1m])')
        scrapes = float(result[0]["value"][1]) if result else 0.0  # type: ignore[index]
        if scrapes >= 4:
            break
        time.sleep(0.2)
    assert scrapes >= 4
    assert served.studio.request_count == before
