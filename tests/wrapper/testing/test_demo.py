"""`make demo` runs offline against a FakeStudio and shows both commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ei_usage.testing.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EI_")}


def test_demo_offline() -> None:
    done = run_demo(clean_env())
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Against a FakeStudio on http://127.0.0.1:" in out
    assert "$ ei-usage compute-time --org 1 --inner-org 2 --inner-org 3 --inner-org 4" in out
    assert "CPU (hours)" in out
    for month in range(1, 13):
        assert f"2024-{month:02d}" in out
    assert out.count("│ total ") == 3
    overall = next(line for line in out.splitlines() if line.startswith("│       all │"))
    assert "│ 2024 " in overall
    assert "$ ei-usage metrics --org 1 --unit hours" in out
    assert "Metrics of organization 1" in out
    assert "$ ei-usage orgs --org 1 --unit hours" in out
    assert "Inner organizations of white label 1" in out
    assert "$ ei-usage check --org 1 --unit hours" in out
    assert "(exit status 5: some organization is over --fail-at)" in out
    assert "█" in out
    # The history store: a second sync asks nothing again for the closed months.
    syncs = re.findall(r"compute time: (\d+) fetched, (\d+) reused", out)
    assert len(syncs) == 2
    (first_fetched, first_reused), (second_fetched, second_reused) = map(
        lambda pair: tuple(map(int, pair)), syncs
    )
    assert first_reused == 0
    assert second_reused == first_fetched - second_fetched > 0
    assert second_fetched == 10  # the running month of each of the 10 organizations
    assert "Stored compute time of organization 1" in out
    assert "Forecast of white label 1" in out
    # The exporter served a scrape.
    assert re.search(r"^ei_usage_contract_compute_used_ratio\{", out, flags=re.MULTILINE)
    assert "ei_fake_studio_demo_key" not in out + done.stderr
    assert "Traceback" not in done.stderr


def test_demo_with_credentials_needs_the_organizations() -> None:
    env = clean_env() | {"EI_API_KEY": "live-key-SECRET"}
    done = run_demo(env)
    assert done.returncode == 2
    assert "EI_ORG_ID and EI_INNER_ORG_IDS" in done.stderr
    assert "SECRET" not in done.stdout + done.stderr
