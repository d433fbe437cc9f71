"""Fixtures for the FakeStudio tests: running studios and httpx clients for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ei_usage.testing import FakeStudio

API_KEY = "test-api-key-0123456789"

MakeClient = Callable[..., httpx.Client]


def _client(**kwargs: Any) -> httpx.Client:
    # An explicit plain transport skips loading CA certificates (slow, and never needed here);
    # trust_env=False keeps proxy settings from the environment away from 127.0.0.1.
    kwargs.setdefault("timeout", 5.0)
    return httpx.Client(transport=httpx.HTTPTransport(), trust_env=False, **kwargs)


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def studio() -> Iterator[FakeStudio]:
    before = set(threading.enumerate())
    with FakeStudio(api_key=API_KEY) as running:
        yield running
    leaked = [thread for thread in threading.enumerate() if thread not in before]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Return a factory of httpx clients (``make_client(studio, headers=...)``), closed after."""
    made: list[httpx.Client] = []

    def make(studio: FakeStudio | None = None, **kwargs: Any) -> httpx.Client:
        if studio is not None:
            kwargs.setdefault("base_url", studio.base_url)
        made.append(_client(**kwargs))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(studio: FakeStudio, make_client: MakeClient) -> httpx.Client:
    return make_client(studio, headers={"x-api-key": API_KEY})


@pytest.fixture
def http(make_client: MakeClient) -> httpx.Client:
    """A client without base URL or credentials, for one-off requests."""
    return make_client()
