"""Recorded-cassette tests: where requests go, and how recordings are scrubbed.

Three ways to run the tests in this folder:

* replay (CI, ``make test``): ``--record-mode=none`` (the default) with the network blocked. The
  client talks to ``https://studio.edgeimpulse.com/v1`` and every answer comes from a cassette; a
  request that is not in one fails the test.
* ``make record``: ``--record-mode=rewrite`` against a local :class:`FakeStudio`.
* ``make record-live``: ``--record-mode=rewrite`` with ``EI_RECORD_LIVE=1`` against the real
  Studio, given ``EI_API_KEY``, ``EI_BASE_URL``, ``EI_ORG_ID`` and ``EI_INNER_ORG_ID``. Tests that
  need faults only the simulator can produce skip themselves and keep their simulator cassettes.

Recordings are canonical whichever way they were made: the URL's scheme and host become
``https://studio.edgeimpulse.com/v1``, the organization ids in URLs become 1 (white label) and 2
(inner), and credentials and cookies become ``<REDACTED>``; compressed bodies are stored decoded.
A live listing of the white label's organizations keeps their ids but not their names, logos,
domains or readmes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from ei_usage.testing import FakeStudio

CANONICAL_BASE_URL = "https://studio.edgeimpulse.com/v1"
CANONICAL_ORG = 1
CANONICAL_INNER = 2
REDACTED = "<REDACTED>"
SECRET_REQUEST_HEADERS = ("x-api-key", "x-jwt-token", "authorization", "cookie")
SECRET_RESPONSE_HEADERS = ("set-cookie", "x-api-key", "x-jwt-token", "authorization")
VOLATILE_RESPONSE_HEADERS = ("date", "x-request-id", "etag", "cf-ray", "age")


@attrs.frozen
class Target:
    """Where the tests send their requests in this run."""

    mode: str  # "replay", "simulator" or "live"
    base_url: str
    api_key: str
    organization_id: int
    inner_organization_id: int
    studio: FakeStudio | None = None

    def simulator_only(self) -> None:
        """Skip when recording live: the test needs something only the simulator provides."""
        if self.mode == "live":
            pytest.skip("simulator-only: the real Studio cannot be made to produce this")

    def inject(self, *args: Any, **kwargs: Any) -> None:
        """Inject a simulator fault when recording; nothing when replaying (simulator-only)."""
        self.simulator_only()
        if self.studio is not None:
            self.studio.inject(*args, **kwargs)


def _record_mode(config: pytest.Config) -> str:
    return config.getoption("--record-mode") or "none"


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The server this run talks to (none when replaying)."""
    if _record_mode(request.config) == "none":
        yield Target("replay", CANONICAL_BASE_URL, "replayed-key", CANONICAL_ORG, CANONICAL_INNER)
        return
    if os.environ.get("EI_RECORD_LIVE") == "1":
        missing = [
            name
            for name in ("EI_API_KEY", "EI_BASE_URL", "EI_ORG_ID", "EI_INNER_ORG_ID")
            if not os.environ.get(name)
        ]
        if missing:
            pytest.fail(f"make record-live needs {', '.join(missing)}")
        yield Target(
            "live",
            os.environ["EI_BASE_URL"].rstrip("/"),
            os.environ["EI_API_KEY"],
            int(os.environ["EI_ORG_ID"]),
            int(os.environ["EI_INNER_ORG_ID"]),
        )
        return
    key = "recording-" + os.urandom(8).hex()
    with FakeStudio(api_key=key) as studio:
        yield Target("simulator", studio.base_url, key, CANONICAL_ORG, CANONICAL_INNER, studio)


def _canonical_uri(target: Target) -> Callable[[Any], Any]:
    org = re.compile(rf"/organizations/{target.organization_id}(?=/)")
    # The inner id is followed by /usage/... (compute time) or ends the path (organization info).
    inner = re.compile(rf"/whitelabel/organizations/{target.inner_organization_id}(?=[/?]|$)")

    def rewrite(request: Any) -> Any:
        uri: str = request.uri
        if uri.startswith(target.base_url + "/"):
            uri = CANONICAL_BASE_URL + uri[len(target.base_url) :]
        if target.mode == "live":
            uri = inner.sub(f"/whitelabel/organizations/{CANONICAL_INNER}", uri, count=1)
            uri = org.sub(f"/organizations/{CANONICAL_ORG}", uri, count=1)
        request.uri = uri
        if "host" in request.headers:
            request.headers["host"] = urlsplit(CANONICAL_BASE_URL).netloc
        return request

    return rewrite


# What a live listing says about real customers, beyond ids: not kept in a cassette.
_CUSTOMER_FIELDS = ("logo", "readme", "domain", "experiments")


def _scrub_listing(body: bytes) -> bytes:
    """Rename the organizations of a live listing and drop what describes them."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict) or not isinstance(data.get("organizations"), list):
        return body
    for index, item in enumerate(data["organizations"]):
        if isinstance(item, dict):
            item["name"] = f"Inner organization {index + 1}"
            for field in _CUSTOMER_FIELDS:
                item.pop(field, None)
    return json.dumps(data).encode()


def _scrubber(target: Target) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def scrub(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in SECRET_RESPONSE_HEADERS:
                headers[name] = [REDACTED]
            elif name.lower() in VOLATILE_RESPONSE_HEADERS:
                del headers[name]  # changes on every recording: noise in review
        body = response.get("body", {})
        if target.mode == "live" and isinstance(body.get("string"), bytes):
            body["string"] = _scrub_listing(body["string"])
        return response

    return scrub


@pytest.fixture
def vcr_config(target: Target) -> dict[str, Any]:
    """Scrub and canonicalize every recording; match on the full URL including the query."""
    return {
        "filter_headers": [(name, REDACTED) for name in SECRET_REQUEST_HEADERS],
        "decode_compressed_response": True,
        "before_record_request": _canonical_uri(target),
        "before_record_response": _scrubber(target),
        "match_on": ("method", "scheme", "host", "port", "path", "query"),
    }


@pytest.fixture(autouse=True)
def _no_retry_sleep(monkeypatch: pytest.MonkeyPatch, target: Target) -> None:
    # Replayed retries need no waiting; against the real Studio we keep the real backoff.
    if target.mode == "live":
        return

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr("ei_usage._client._sleep", lambda seconds, stop=None: None)
    monkeypatch.setattr("ei_usage._client._async_sleep", no_wait)
