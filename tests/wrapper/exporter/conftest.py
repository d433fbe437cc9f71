"""Fixtures for the exporter tests: a FakeStudio, an exporter serving it, and a scrape parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ei_usage.exporter import Exporter, ExporterClient
from ei_usage.testing import FakeStudio

SECRET = "ei_SECRET_exporter_7d2e91c4ab"
"""The API key the studio accepts; it must never show in /metrics, logs or a process title."""

ROOT = Path(__file__).resolve().parents[3]
PROMTOOL = Path("/usr/bin/promtool")
PROMETHEUS = Path("/usr/bin/prometheus")

Key = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Key, float]:
    """Return every sample of an exposition by (sample name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def by_inner(samples: dict[Key, float], name: str) -> dict[int, float]:
    """Return one metric's values by inner organization id."""
    return {
        int(dict(labels)["inner_organization"]): value
        for (sample, labels), value in samples.items()
        if sample == name
    }


def health(samples: dict[Key, float], name: str, **labels: str) -> float | None:
    """Return one health sample (organization 1), or None when absent."""
    wanted = frozenset({"organization": "1", **labels}.items())
    return samples.get(("ei_usage_exporter_" + name, wanted))


def scrape(url: str) -> str:
    """GET an exposition."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return str(answer.read().decode())


@dataclass
class Served:
    """An exporter serving a studio's white label on a loopback port."""

    studio: FakeStudio
    client: ExporterClient
    exporter: Exporter
    url: str

    def scrape(self) -> str:
        return scrape(self.url)

    def samples(self) -> dict[Key, float]:
        return parse(self.scrape())


@pytest.fixture
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=SECRET) as running:
        yield running


@pytest.fixture
def served(studio: FakeStudio) -> Iterator[Served]:
    client = ExporterClient(SECRET, base_url=studio.base_url, max_retries=1)
    exporter = Exporter(client, 1)
    host, port = exporter.serve("127.0.0.1", 0)
    try:
        yield Served(studio, client, exporter, f"http://{host}:{port}/metrics")
    finally:
        exporter.stop()
        client.close()


CHECK_ARGS = ("check", "--org", "1", "--format", "json", "--unit", "seconds")


def check_json(studio: FakeStudio) -> dict[str, object]:
    """Run ``ei-usage check --format json --unit seconds`` against ``studio``; return its JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EI_")}
    env.update(EI_API_KEY=SECRET, EI_BASE_URL=studio.base_url)
    done = subprocess.run(
        [sys.executable, "-m", "ei_usage.cli", *CHECK_ARGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 4, 5), done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result
