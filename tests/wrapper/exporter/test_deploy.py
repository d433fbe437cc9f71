"""deploy/ checked with the real tools: promtool on the exposition and the rules, the dashboard."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from prometheus_client import generate_latest

from ei_usage.exporter import Exporter, ExporterClient
from ei_usage.testing import FakeStudio

from .conftest import PROMTOOL, ROOT, SECRET

RULES = ROOT / "deploy" / "prometheus" / "ei-usage-rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ei-usage-dashboard.json"
RULE_TESTS = ROOT / "tests" / "wrapper" / "exporter" / "rules_test.yml"

needs_promtool = pytest.mark.skipif(
    not PROMTOOL.exists(),
    reason="promtool not installed (Debian's prometheus package; .ci/run installs it)",
)


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROMTOOL), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def _exposition(studio: FakeStudio, *, forecast: bool = False) -> str:
    with ExporterClient(SECRET, base_url=studio.base_url) as client:
        exporter = Exporter(client, 1)
        exporter.refresh()
        return generate_latest(exporter.registry).decode()


@needs_promtool
def test_promtool_check_metrics_accepts_the_exposition(studio: FakeStudio) -> None:
    text = _exposition(studio)
    done = _promtool("check", "metrics", stdin=text)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""  # not even a lint warning
    assert done.stderr.strip() == ""


@needs_promtool
def test_promtool_check_metrics_would_catch_a_bad_name() -> None:
    # The check above can fail: promtool flags a counter without _total.
    bad = "# HELP x_seconds A.\n# TYPE x_seconds counter\nx_seconds 1\n"
    done = _promtool("check", "metrics", stdin=bad)
    assert done.returncode != 0


@needs_promtool
def test_promtool_check_rules() -> None:
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


@needs_promtool
def test_promtool_test_rules_fires_each_alert_and_stays_silent_below() -> None:
    done = _promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text()))
    shipped = set(re.findall(r"- alert: (\w+)", RULES.read_text()))
    assert tested == shipped


def _served_names(studio: FakeStudio) -> set[str]:
    """Every metric name the exporter serves (forecast included, via a stand-in model)."""
    import sys
    import types
    from datetime import UTC, datetime, timedelta

    module = types.ModuleType("ei_usage.forecast")
    crossing = datetime.now(UTC) + timedelta(days=1)
    at = types.SimpleNamespace(at=crossing)
    compute = types.SimpleNamespace(ratio=1.0, warn=at, fail=at)
    module.forecast_usage = lambda *a, **k: types.SimpleNamespace(  # type: ignore[attr-defined]
        compute=compute
    )
    # Put back what was there: deleting the real module would make the next import build new
    # classes, and isinstance checks elsewhere in the run would fail.
    previous = sys.modules.get("ei_usage.forecast")
    sys.modules["ei_usage.forecast"] = module
    try:
        text = _exposition(studio)
    finally:
        if previous is None:
            del sys.modules["ei_usage.forecast"]
        else:
            sys.modules["ei_usage.forecast"] = previous
    return set(re.findall(r"^(ei_usage_\w+?)(?:\{| )", text, flags=re.MULTILINE))


def test_dashboard_is_valid_and_queries_only_served_metrics(studio: FakeStudio) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    served = _served_names(studio)
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in re.findall(r"\bei_usage_\w+", expr)}
    assert used, "the dashboard queries no exporter metric"
    assert used <= served, f"not served: {sorted(used - served)}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_rules_query_only_served_metrics(studio: FakeStudio) -> None:
    served = _served_names(studio)
    used = set(re.findall(r"\bei_usage_\w+", RULES.read_text()))
    assert used <= served, f"not served: {sorted(used - served)}"
