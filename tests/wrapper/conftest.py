"""Fixtures of the client tests: retry and pacing waits recorded instead of slept."""

from __future__ import annotations

import time

import pytest

import ei_usage._client as client_module


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every retry wait (sync and async) instead of sleeping."""
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: waits.append(seconds))
    monkeypatch.setattr(client_module, "_async_sleep", async_sleep)
    return waits


@pytest.fixture
def paces(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every wait for the rate schedule (after a 429) on a virtual clock.

    The clock moves only by the waits, never by real time: on a loaded machine the real time
    between a 429 and the next request would otherwise shorten the wait the test adds up.
    """
    waits: list[float] = []
    offset = [0.0]
    start = time.monotonic()

    def pace(seconds: float, stop: object = None) -> None:
        waits.append(seconds)
        offset[0] += seconds

    async def async_pace(seconds: float) -> None:
        pace(seconds)

    monkeypatch.setattr(client_module, "_pace", pace)
    monkeypatch.setattr(client_module, "_async_pace", async_pace)
    monkeypatch.setattr(client_module, "_clock", lambda: start + offset[0])
    return waits
